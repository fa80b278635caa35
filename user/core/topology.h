/* SPDX-License-Identifier: GPL-2.0 */
/*
 * topology.h - CPU topology read from sysfs: SMT cores, LLC domains, NUMA
 * nodes and packages, numbered densely for the BPF side.
 */
#ifndef __WS_TOPOLOGY_H
#define __WS_TOPOLOGY_H

#include "wattsched.h"

struct ws_topology {
	unsigned int nr_cpus;		/* possible CPUs (highest id + 1) */
	unsigned int nr_online;
	unsigned int nr_cores, nr_llcs, nr_nodes, nr_pkgs;
	__u64 online[WS_CPU_WORDS];
	struct ws_cpu_topo cpu[WS_MAX_CPUS];
	unsigned int llc_node[WS_MAX_LLCS];
	unsigned int llc_first_cpu[WS_MAX_LLCS];	/* its sysfs identity */
};

/*
 * Read the topology under @sysfs (normally "/sys"; tests pass a fake tree).
 * Returns 0, or a negative errno with a message in @err.
 */
int ws_topology_read(const char *sysfs, struct ws_topology *topo, char *err, size_t errlen);

#endif /* __WS_TOPOLOGY_H */
