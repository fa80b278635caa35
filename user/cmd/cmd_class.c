// SPDX-License-Identifier: GPL-2.0
/*
 * cmd_class.c - `wattsched class`: priority classes by cgroup.
 *
 * A rule maps a cgroup v2 directory to a class (latency-critical, normal,
 * batch) for every task in it and below it.  `set` and `del` ask the
 * running daemon, which keeps the rules in the scheduler's map
 * ws_cgrp_class; `list` reads that map where it is pinned.  See
 * docs/policies.md.
 */
#include <bpf/bpf.h>
#include <json-c/json.h>
#include <unistd.h>

#include "cmd/args.h"
#include "cmd/cmd.h"
#include "lib/cgroup.h"
#include "lib/names.h"
#include "lib/scx.h"
#include "lib/util.h"
#include "proto/client.h"

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
		ws_prog, ws_prog, ws_prog, WS_CGROUP_ROOT);
}

static int cmd_list(void)
{
	__u64 key, next, val;
	void *prev = NULL;
	const char *path;
	int fd, n = 0;

	if (!ws_attached_or_explain("class list"))
		return 1;
	fd = ws_open_pinned("ws_cgrp_class");
	if (fd < 0)
		return 1;
	printf("%-20s %-18s %-6s %s\n", "CGROUP_ID", "CLASS", "FROM", "CGROUP");
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &val))
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
	struct ws_request req;
	struct json_object *ans;
	const char *what;
	bool set;
	int ret;

	if (argc < 2 || ws_is_help(argv[1])) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "list")) {
		if (argc == 2)
			return cmd_list();
		ws_err("class list: unexpected argument '%s'", argv[2]);
		return 2;
	}
	if (strcmp(argv[1], "set") && strcmp(argv[1], "del")) {
		ws_err("class: unknown action '%s' (set, del, list)", argv[1]);
		return 2;
	}
	set = !strcmp(argv[1], "set");
	what = set ? "class set" : "class del";
	if (argc != (set ? 4 : 3)) {
		usage(stderr);
		return 2;
	}
	ret = ws_args_class(what, argv[2], set ? argv[3] : NULL, &req);
	if (ret)
		return ret;
	if (!ws_attached_or_explain(what) || ws_call(what, &req, -1, &ans))
		return 1;
	json_object_put(ans);
	if (set)
		printf("%s: %s\n", argv[2], argv[3]);
	else
		printf("%s: class rule removed\n", argv[2]);
	return 0;
}
