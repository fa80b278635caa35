/* SPDX-License-Identifier: GPL-2.0 */
/*
 * loader.h - the BPF scheduler's lifecycle: open the object, fill its
 * rodata from the topology, load, pin the maps, attach; then detach and
 * say why it ended.  The shape of libbpf-bootstrap's main(), one step per
 * function, so that `run` reads as a straight line (cmd/cmd_run.c).
 */
#ifndef __WS_LOADER_H
#define __WS_LOADER_H

#include <stdbool.h>

#include "core/thermal.h"
#include "core/topology.h"
#include "daemon/maps.h"

struct wattsched_bpf;
struct bpf_link;

struct ws_loader {
	struct wattsched_bpf *skel;
	struct bpf_link *link;
	struct ws_maps maps;		/* the loaded object's maps */
	bool pinned;
};

/* One loader per host: this file holds the lock and the holder's pid. */
#define WS_LOCK_FILE		"/run/wattsched/loader.pid"

/*
 * Take the host's loader lock before anything is pinned or bound: its fd,
 * kept open for the process's life, or -1 after naming the pid that
 * holds it.
 */
int ws_loader_lock(void);

/*
 * Open, set rodata (topology, slice, thermal rules, the kernel's enums),
 * load.  0 or -errno, said.
 */
int ws_loader_load(struct ws_loader *ld, const struct ws_topology *topo,
		   unsigned long long slice_us, const struct ws_thermal_cfg *thermal);
/* Pin the maps under WS_PIN_DIR for status, bpftool and the CLI.  0 or -errno, said. */
int ws_loader_pin(struct ws_loader *ld);
/* Attach the struct_ops: the scheduler runs from here on.  0 or -errno, said. */
int ws_loader_attach(struct ws_loader *ld);
/* Has the kernel ended the scheduler (error, watchdog, sysrq-S, hotplug)? */
bool ws_loader_exited(const struct ws_loader *ld);
/*
 * Detach and report why it ended: 0 when we asked (or it never attached),
 * 1 when the kernel ended it, 2 when the kernel asks for a restart (CPU
 * hotplug).
 */
int ws_loader_detach(struct ws_loader *ld);
/* Unpin (when pinned) and free everything. */
void ws_loader_destroy(struct ws_loader *ld);

#endif /* __WS_LOADER_H */
