// SPDX-License-Identifier: GPL-2.0
/*
 * classes.c - `wattsched class`: priority classes by cgroup.
 *
 * A rule maps a cgroup v2 directory to a class (latency-critical, normal,
 * batch) for every task in it and below it.  The rules live in the running
 * scheduler's hash map ws_cgrp_class (u64 cgroup id -> u64 class), pinned
 * at WS_PIN_DIR/ws_cgrp_class; a cgroup's id is the inode number of its
 * directory.  After each change the writer stores a new token under key
 * WS_CGRP_TOKEN, which makes BPF re-read the class of each task when it
 * next queues or runs.  See docs/policies.md.
 */
#include <bpf/bpf.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "classes.h"
#include "rack.h"
#include "ws.h"

#define CGRP_MAP		WS_PIN_DIR "/ws_cgrp_class"
#define CGROUP2_MAGIC		0x63677270
#define CGROUP_ROOT		"/sys/fs/cgroup"

bool ws_cgroup_path_ok(const char *what, const char *path)
{
	if (path[0] == '/')
		return true;
	ws_err("%s: '%s' is not a cgroup path (give it from the cgroup2 root, e.g. "
	       "/batch.slice, or under %s)", what, path, CGROUP_ROOT);
	return false;
}

int ws_cgroup_id(const char *path, __u64 *id, char *err, size_t errlen)
{
	char full[4096];
	struct statfs sfs;
	struct stat st;

	if (path[0] != '/') {
		snprintf(err, errlen, "'%s' is not a cgroup path (give it from the cgroup2 root, "
			 "e.g. /batch.slice, or under %s)", path, CGROUP_ROOT);
		return -EINVAL;
	}
	if (!strncmp(path, CGROUP_ROOT "/", sizeof(CGROUP_ROOT)) || !strcmp(path, CGROUP_ROOT))
		snprintf(full, sizeof(full), "%s", path);
	else if ((size_t)snprintf(full, sizeof(full), "%s%s", CGROUP_ROOT, path) >= sizeof(full))
		return -ENAMETOOLONG;
	if (stat(full, &st) || statfs(full, &sfs)) {
		snprintf(err, errlen, "cgroup %s: %s", full, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode) || sfs.f_type != CGROUP2_MAGIC) {
		snprintf(err, errlen, "%s is not a cgroup v2 directory", full);
		return -ENOTDIR;
	}
	*id = st.st_ino;
	return 0;
}

int ws_cgroup_resolve(const char *what, const char *path, __u64 *id)
{
	char err[4200];
	int ret;

	if (!ws_cgroup_path_ok(what, path))
		return -EINVAL;
	ret = ws_cgroup_id(path, id, err, sizeof(err));
	if (ret)
		ws_err("%s: %s", what, err);
	return ret;
}

static int write_token(int fd)
{
	__u64 key = WS_CGRP_TOKEN, val;

	/* a token nobody has seen: the time now, never 0 (no token) */
	val = (__u64)(ws_mono_now() * 1e9) ?: 1;
	return bpf_map_update_elem(fd, &key, &val, BPF_ANY) ? -errno : 0;
}

int ws_cgrp_rule_write(int fd, __u64 id, long long rule)
{
	__u64 val = rule;

	if (rule < 0 ? bpf_map_delete_elem(fd, &id) : bpf_map_update_elem(fd, &id, &val, BPF_ANY))
		return -errno;
	return write_token(fd);
}

int ws_class_apply_rack(int fd, const struct rack_host *h, const char *what)
{
	__u64 key, next, val;
	char err[4200];
	void *prev = NULL;
	unsigned int cls;
	size_t i;
	int n = 0, ret;

	/* the earlier document's rules go: collect first, deleting breaks the walk */
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (key != WS_CGRP_TOKEN && !bpf_map_lookup_elem(fd, &key, &val) &&
		    (val & WS_CGRP_FROM_RACK) && bpf_map_delete_elem(fd, &key) == 0)
			prev = NULL;	/* restart: the deleted key cannot lead on */
	}
	for (cls = 0; h && cls < WS_NR_CLASSES; cls++) {
		const struct rack_class_rule *r = &h->classes[cls];

		for (i = 0; i < r->nr_cgroups; i++) {
			if (ws_cgroup_id(r->cgroups[i], &key, err, sizeof(err))) {
				ws_warn("%s: classes.%s: %s; skipped", what, ws_class_name(cls), err);
				continue;
			}
			val = cls | WS_CGRP_FROM_RACK;
			if (bpf_map_update_elem(fd, &key, &val, BPF_ANY)) {
				ret = -errno;
				ws_err("%s: classes.%s: %s: %s", what, ws_class_name(cls),
				       r->cgroups[i], strerror(errno));
				write_token(fd);
				return ret;
			}
			n++;
		}
	}
	ret = write_token(fd);
	return ret ?: n;
}

int ws_class_rule_parse(const char *what, const char *arg, __u64 *id, int *cls)
{
	char path[4096];
	const char *eq = strrchr(arg, '=');

	if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(path)) {
		ws_err("%s: '%s' is not CGROUP=CLASS", what, arg);
		return 2;
	}
	memcpy(path, arg, eq - arg);
	path[eq - arg] = '\0';
	*cls = ws_class_from_name(eq + 1);
	if (*cls < 0) {
		ws_err("%s: unknown class '%s' (latency-critical, normal, batch)", what, eq + 1);
		return 2;
	}
	switch (ws_cgroup_resolve(what, path, id)) {
	case 0:
		return 0;
	case -EINVAL:
		return 2;
	default:
		return 1;
	}
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s class set CGROUP CLASS\n"
		"       %s class del CGROUP\n"
		"       %s class list\n\n"
		"Give every task in cgroup CGROUP (a cgroup v2 path such as /batch.slice, or\n"
		"under %s) and below it the priority class CLASS: latency-critical,\n"
		"normal or batch.  Under a power cap batch work gives way first; a\n"
		"latency-critical wakeup takes a CPU from batch work.  The nearest\n"
		"classified ancestor wins; tasks in no classified cgroup are batch when\n"
		"their policy is SCHED_BATCH or SCHED_IDLE, else normal.  The rules end\n"
		"with the scheduler.  See docs/policies.md.\n",
		ws_prog, ws_prog, ws_prog, CGROUP_ROOT);
}

static int open_map(const char *what)
{
	return ws_attached_or_explain(what) ? ws_open_pinned("ws_cgrp_class") : -1;
}

/* nftw() has no context argument: the search's target and result. */
static __u64 find_id;
static char find_path[4096];

static int find_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (type != FTW_D || st->st_ino != find_id)
		return 0;
	snprintf(find_path, sizeof(find_path), "%s",
		 path[sizeof(CGROUP_ROOT) - 1] ? path + sizeof(CGROUP_ROOT) - 1 : "/");
	return 1;
}

const char *ws_cgroup_path_of(__u64 id)
{
	find_id = id;
	return nftw(CGROUP_ROOT, find_cb, 16, FTW_PHYS | FTW_MOUNT) == 1 ? find_path : NULL;
}

static int cmd_list(void)
{
	__u64 key, next, val;
	void *prev = NULL;
	const char *path;
	int fd, n = 0;

	fd = open_map("class list");
	if (fd < 0)
		return 1;
	printf("%-20s %-18s %-6s %s\n", "CGROUP_ID", "CLASS", "FROM", "CGROUP");
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (key == WS_CGRP_TOKEN || bpf_map_lookup_elem(fd, &key, &val))
			continue;
		path = ws_cgroup_path_of(key);
		printf("%-20llu %-18s %-6s %s\n", (unsigned long long)key,
		       ws_class_name((__u32)val), val & WS_CGRP_FROM_RACK ? "rack" : "cli",
		       path ?: "(removed)");
		n++;
	}
	close(fd);
	if (!n)
		printf("(no rules)\n");
	return 0;
}

int cmd_class(int argc, char **argv)
{
	__u64 id;
	int fd, cls = -1, ret;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "list")) {
		if (argc != 2) {
			ws_err("class list: unexpected argument '%s'", argv[2]);
			return 2;
		}
		return cmd_list();
	}
	if (strcmp(argv[1], "set") && strcmp(argv[1], "del")) {
		ws_err("class: unknown action '%s' (set, del, list)", argv[1]);
		return 2;
	}
	if (argc != (!strcmp(argv[1], "set") ? 4 : 3)) {
		usage(stderr);
		return 2;
	}
	if (argc == 4) {
		cls = ws_class_from_name(argv[3]);
		if (cls < 0) {
			ws_err("class set: unknown class '%s' (latency-critical, normal, batch)",
			       argv[3]);
			return 2;
		}
	}
	ret = ws_cgroup_resolve(argc == 4 ? "class set" : "class del", argv[2], &id);
	if (ret)
		return ret == -EINVAL ? 2 : 1;
	fd = open_map(argc == 4 ? "class set" : "class del");
	if (fd < 0)
		return 1;
	ret = ws_cgrp_rule_write(fd, id, cls);
	close(fd);
	if (ret == -ENOENT && cls < 0) {
		ws_err("class del: %s has no class rule", argv[2]);
		return 1;
	}
	if (ret) {
		ws_err("class: writing %s: %s%s", CGRP_MAP, strerror(-ret),
		       ret == -E2BIG ? " (too many rules)" : "");
		return 1;
	}
	if (cls < 0)
		printf("%s: class rule removed\n", argv[2]);
	else
		printf("%s: %s\n", argv[2], ws_class_name(cls));
	return 0;
}
