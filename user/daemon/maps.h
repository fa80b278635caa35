/* SPDX-License-Identifier: GPL-2.0 */
/*
 * maps.h - the one writer of every BPF map.  The daemon calls these and
 * nothing else writes a map: the CLI reads the pinned maps (status, class
 * list) and asks the daemon for every change.
 */
#ifndef __WS_MAPS_H
#define __WS_MAPS_H

#include <stddef.h>

#include "wattsched.h"

/* The maps' file descriptors; the loader owns them. */
struct ws_maps {
	int ctl;		/* ws_ctl: struct ws_ctl, from the intent */
	int budget;		/* ws_budget: struct ws_budget, from the control loop */
	int stats;		/* ws_stats: read only, by everyone */
	int bound;		/* ws_bound: BPF's, read by the daemon */
	int heat;		/* ws_heat: BPF's (the kfunc path), read by the daemon */
	int dev_tgid;		/* ws_dev_tgid: u32 tgid -> s32 node */
	int dev_cgrp;		/* ws_dev_cgrp: u64 cgroup id -> u64 node */
	int cgrp_class;		/* ws_cgrp_class: u64 cgroup id -> u64 class */
	int cgrp_token;		/* ws_cgrp_token: each rule map's change token */
};

int ws_maps_write_ctl(const struct ws_maps *m, const struct ws_ctl *ctl);
int ws_maps_write_budget(const struct ws_maps *m, const struct ws_budget *b);

/*
 * Set (@rule >= 0) or delete (@rule < 0) cgroup @id's rule in rule map
 * @rules (enum ws_rule_map), then a new token for it.
 */
int ws_maps_cgrp_rule(const struct ws_maps *m, enum ws_rule_map rules, __u64 id,
		      long long rule);

/* Bind process @tgid to @node, or with @node < 0 remove its binding. */
int ws_maps_dev_tgid(const struct ws_maps *m, __u32 tgid, int node);

struct ws_class_rule {
	__u64 id;		/* cgroup id */
	unsigned int cls;	/* enum ws_class */
};

/*
 * Make @rules the class map's rules from rack documents (tagged
 * WS_CGRP_FROM_RACK), replacing the last document's, then a new token.  On
 * failure the last document's rules are back in place.  0 or -errno.
 */
int ws_maps_rack_classes(const struct ws_maps *m, const struct ws_class_rule *rules,
			 size_t nr);

/* Every rule of @fd as (id, value) pairs into @out[max]; how many, or -errno. */
int ws_maps_cgrp_rules(int fd, struct ws_class_rule *out, size_t max, __u64 tag_mask,
		       __u64 tag);

#endif /* __WS_MAPS_H */
