/* SPDX-License-Identifier: GPL-2.0 */
/* classes.h - priority classes by cgroup (the ws_cgrp_class map). */
#ifndef __WS_CLASSES_H
#define __WS_CLASSES_H

#include <stdbool.h>
#include <stddef.h>

#include "wattsched.h"

struct rack_host;

/* The cgroup id of cgroup v2 path @path, quietly: 0, or -errno with err set. */
int ws_cgroup_id(const char *path, __u64 *id, char *err, size_t errlen);
/* Is @path spelled as a cgroup path (absolute)?  If not, say why. */
bool ws_cgroup_path_ok(const char *what, const char *path);

/*
 * The cgroup id of cgroup v2 path @path ("/batch.slice", or a path under
 * /sys/fs/cgroup); 0, or a negative errno after printing why (-EINVAL:
 * not a cgroup path at all, -ENOTDIR: not a cgroup v2 directory).
 */
int ws_cgroup_resolve(const char *what, const char *path, __u64 *id);

/* The path of the cgroup with id @id from the cgroup2 root, NULL when it is gone. */
const char *ws_cgroup_path_of(__u64 id);

/*
 * Set (rule >= 0) or delete (rule < 0) the rule for cgroup @id in rule map
 * @fd (ws_cgrp_class, ws_dev_cgrp), then store a new change token.
 */
int ws_cgrp_rule_write(int fd, __u64 id, long long rule);

/*
 * Make a rack document's class rules the map's: the rules an earlier
 * document wrote (tagged WS_CGRP_FROM_RACK) go, @h's are written tagged
 * (NULL: none), then a new token.  A cgroup this host lacks is skipped with
 * a warning naming it.  Returns the number of rules written, or -errno
 * after printing why (the map is then part way; the next apply redoes it).
 * @what prefixes the messages.
 */
int ws_class_apply_rack(int fd, const struct rack_host *h, const char *what);

/* Parse CGROUP=CLASS: 0, 2 for a malformed rule, 1 for a missing cgroup. */
int ws_class_rule_parse(const char *what, const char *arg, __u64 *id, int *cls);

#endif /* __WS_CLASSES_H */
