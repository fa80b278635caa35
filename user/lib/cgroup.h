/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cgroup.h - cgroup v2 paths and ids.  Rules by cgroup (classes, device
 * affinity) are keyed by a cgroup's id, the inode number of its directory.
 */
#ifndef __WS_CGROUP_H
#define __WS_CGROUP_H

#include <stdbool.h>
#include <stddef.h>

#include "wattsched.h"

#define WS_CGROUP_ROOT		"/sys/fs/cgroup"

/* Is @path spelled as a cgroup path (absolute)?  If not, say why, prefixed by @what. */
bool ws_cgroup_path_ok(const char *what, const char *path);

/*
 * The id of cgroup v2 path @path ("/batch.slice", or a path under
 * /sys/fs/cgroup): 0, or -errno with err set (-EINVAL: not a cgroup path at
 * all, -ENOTDIR: not a cgroup v2 directory, another: the path's error).
 */
int ws_cgroup_id(const char *path, __u64 *id, char *err, size_t errlen);

/* The path of the cgroup with id @id from the cgroup2 root, NULL when it is gone. */
const char *ws_cgroup_path_of(__u64 id);

#endif /* __WS_CGROUP_H */
