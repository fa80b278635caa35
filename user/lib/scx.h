/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx.h - what every command asks of the running system: is sched_ext
 * there, is wattsched the attached scheduler, and its pinned maps.
 * Reading only: the loader's daemon is the one writer of every map.
 */
#ifndef __WS_SCX_H
#define __WS_SCX_H

#include <stdbool.h>
#include <stddef.h>

#include "wattsched.h"

#define WS_SCX_STATE		"/sys/kernel/sched_ext/state"
#define WS_SCX_OPS		"/sys/kernel/sched_ext/root/ops"

/* Does this kernel have sched_ext? */
bool ws_scx_supported(void);
/* "enabled", "disabled", ...; "" when unknown. */
void ws_scx_state(char *buf, size_t len);
/* The attached scheduler's name; "" for none. */
void ws_scx_ops(char *buf, size_t len);

/*
 * Is wattsched the attached scheduler?  If not, say why (prefixed by
 * @what).  Pinned maps alone do not say so: a loader killed with SIGKILL
 * leaves its pins behind.
 */
bool ws_attached_or_explain(const char *what);

/* Open the pinned map @name of a running instance; -1 after printing why. */
int ws_open_pinned(const char *name);

/* Sum the per-CPU counters of map ws_stats (@fd) into @out[WS_NR_STATS]; 0 or -errno. */
int ws_stats_read(int fd, __u64 *out);

#endif /* __WS_SCX_H */
