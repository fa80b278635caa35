/* SPDX-License-Identifier: GPL-2.0 */
/* classes.h - priority classes by cgroup (the ws_cgrp_class map). */
#ifndef __WS_CLASSES_H
#define __WS_CLASSES_H

#include "wattsched.h"

/* Class names <-> enum ws_class; -1 when unknown. */
const char *ws_class_name(unsigned int cls);
int ws_class_from_name(const char *name);

/*
 * The cgroup id of cgroup v2 path @path ("/batch.slice", or a path under
 * /sys/fs/cgroup); 0, or a negative errno after printing why (-EINVAL:
 * not a cgroup path at all).
 */
int ws_cgroup_resolve(const char *what, const char *path, __u64 *id);

/* Set (cls >= 0) or delete (cls < 0) the rule for @id in map @fd, then a new token. */
int ws_class_write(int fd, __u64 id, int cls);

/* Parse CGROUP=CLASS: 0, 2 for a malformed rule, 1 for a missing cgroup. */
int ws_class_rule_parse(const char *what, const char *arg, __u64 *id, int *cls);

#endif /* __WS_CLASSES_H */
