// SPDX-License-Identifier: GPL-2.0
/* maps.c - the one writer of every BPF map (maps.h). */
#include <bpf/bpf.h>

#include "daemon/maps.h"
#include "lib/util.h"

static int write_elem(int fd, const void *key, const void *val)
{
	return bpf_map_update_elem(fd, key, val, BPF_ANY) ? -errno : 0;
}

int ws_maps_write_ctl(const struct ws_maps *m, const struct ws_ctl *ctl)
{
	__u32 zero = 0;

	return write_elem(m->ctl, &zero, ctl);
}

int ws_maps_write_budget(const struct ws_maps *m, const struct ws_budget *b)
{
	__u32 zero = 0;

	/* under the value's lock: BPF copies it whole under the same lock */
	return bpf_map_update_elem(m->budget, &zero, b, BPF_F_LOCK) ? -errno : 0;
}

/* A token nobody has seen (the time now, never 0): BPF re-reads rule map @rules. */
static int write_token(const struct ws_maps *m, enum ws_rule_map rules)
{
	__u64 val = (__u64)(ws_mono_now() * 1e9) ?: 1;
	__u32 key = rules;

	return write_elem(m->cgrp_token, &key, &val);
}

int ws_maps_cgrp_rule(const struct ws_maps *m, enum ws_rule_map rules, __u64 id,
		      long long rule)
{
	int fd = rules == WS_RULES_DEV ? m->dev_cgrp : m->cgrp_class;
	__u64 val = rule;
	int ret;

	if (rule < 0)
		ret = bpf_map_delete_elem(fd, &id) ? -errno : 0;
	else
		ret = write_elem(fd, &id, &val);
	return ret ?: write_token(m, rules);
}

int ws_maps_dev_tgid(const struct ws_maps *m, __u32 tgid, int node)
{
	__s32 n = node;

	if (node < 0)
		return bpf_map_delete_elem(m->dev_tgid, &tgid) ? -errno : 0;
	return write_elem(m->dev_tgid, &tgid, &n);
}

int ws_maps_cgrp_rules(int fd, struct ws_class_rule *out, size_t max, __u64 tag_mask,
		       __u64 tag)
{
	__u64 key, next, val;
	void *prev = NULL;
	size_t n = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &val) ||
		    (val & tag_mask) != tag)
			continue;
		if (n == max)
			return -E2BIG;
		out[n].id = key;
		out[n].cls = (__u32)val;
		n++;
	}
	return errno == ENOENT ? (int)n : -errno;
}

/* Delete every rule in @old[nr], then write @rules[nr] tagged as a document's. */
static int swap_rules(int fd, const struct ws_class_rule *old, size_t nr_old,
		      const struct ws_class_rule *rules, size_t nr)
{
	size_t i;
	__u64 val;
	int ret;

	for (i = 0; i < nr_old; i++)
		bpf_map_delete_elem(fd, &old[i].id);
	for (i = 0; i < nr; i++) {
		val = rules[i].cls | WS_CGRP_FROM_RACK;
		ret = write_elem(fd, &rules[i].id, &val);
		if (ret)
			return ret;
	}
	return 0;
}

int ws_maps_rack_classes(const struct ws_maps *m, const struct ws_class_rule *rules,
			 size_t nr)
{
	static struct ws_class_rule old[WS_MAX_CGRP_RULES];
	int nr_old, ret;

	nr_old = ws_maps_cgrp_rules(m->cgrp_class, old, WS_MAX_CGRP_RULES, WS_CGRP_FROM_RACK,
				    WS_CGRP_FROM_RACK);
	if (nr_old < 0)
		return nr_old;
	ret = swap_rules(m->cgrp_class, old, nr_old, rules, nr);
	if (ret)
		swap_rules(m->cgrp_class, rules, nr, old, nr_old);
	write_token(m, WS_RULES_CLASS);
	return ret;
}
