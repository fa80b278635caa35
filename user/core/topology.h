/* SPDX-License-Identifier: GPL-2.0 */
/*
 * topology.h - CPU topology read from sysfs: SMT cores, LLC domains, NUMA
 * nodes and packages, numbered densely for the BPF side; the nodes and
 * their distances from libnuma.
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
	unsigned char node_dist[WS_MAX_NODES][WS_MAX_NODES];	/* SLIT: 10 local, more farther */
};

#define WS_NODE_LOCAL_DIST	10
#define WS_NODE_REMOTE_DIST	20	/* between nodes whose distance is unknown */

/*
 * Read the topology under @sysfs: "/sys" is the live system, whose nodes
 * and distances come from libnuma; when it says NUMA is unavailable, and
 * in the fake trees tests pass, from the CPUs' node<N> links (node 0
 * without one) and node/nodeN/distance files.  Returns 0, or a negative
 * errno with a message in @err.
 */
int ws_topology_read(const char *sysfs, struct ws_topology *topo, char *err, size_t errlen);

/*
 * The other nodes with CPUs, nearest to @node first (ties by id), into
 * @order; returns their count.
 */
unsigned int ws_topology_node_order(const struct ws_topology *topo, unsigned int node,
				    unsigned char *order);

/*
 * The other LLCs in the order a CPU of @llc takes work from them: those of
 * its node, then each other node's, nearest first (ws_topology_node_order());
 * by id within a node.  Into @order; returns their count.
 */
unsigned int ws_topology_llc_order(const struct ws_topology *topo, unsigned int llc,
				   unsigned char *order);

#endif /* __WS_TOPOLOGY_H */
