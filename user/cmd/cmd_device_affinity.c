// SPDX-License-Identifier: GPL-2.0
/*
 * cmd_device_affinity.c - `wattsched device-affinity`: bind a process or a
 * cgroup to the NUMA node of a PCIe device, so the scheduler keeps its
 * tasks on that node.
 *
 *   wattsched device-affinity add [--cgroup] TARGET PCI_ADDR
 *   wattsched device-affinity del [--cgroup] TARGET
 *   wattsched device-affinity list
 *
 * `add` and `del` ask the running daemon, which resolves the process, the
 * cgroup and the device's node and keeps the binding in the scheduler's
 * maps ws_dev_tgid (u32 tgid -> s32 node) and ws_dev_cgrp (u64 cgroup id ->
 * u64 node); `list` reads those maps where they are
 * pinned.  The arguments' spelling is checked here, before anything is
 * sent, so a refused request changes nothing.
 */
#include <bpf/bpf.h>
#include <json-c/json.h>
#include <unistd.h>

#include "cmd/args.h"
#include "cmd/cmd.h"
#include "lib/cgroup.h"
#include "lib/pci.h"
#include "lib/scx.h"
#include "lib/util.h"
#include "proto/client.h"

#define DEV_MAP			WS_PIN_DIR "/ws_dev_tgid"
#define CGRP_MAP		WS_PIN_DIR "/ws_dev_cgrp"
#define DEV_MAP_MAX		4096		/* ws_dev_tgid's max_entries */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s device-affinity add PID PCI_ADDR\n"
		"       %s device-affinity add --cgroup CGROUP PCI_ADDR\n"
		"       %s device-affinity del PID\n"
		"       %s device-affinity del --cgroup CGROUP\n"
		"       %s device-affinity list\n\n"
		"Bind a process or a cgroup to the NUMA node of a PCIe device: the running\n"
		"scheduler places its tasks on idle CPUs of that node first, and elsewhere\n"
		"only when the node has none.  A process binding covers all its threads; a\n"
		"cgroup binding covers every task in the cgroup and below it, including\n"
		"tasks that enter later.  A process's own binding comes before its\n"
		"cgroup's; the nearest bound cgroup wins.  Bindings last while the\n"
		"scheduler runs.\n\n"
		"  add   bind process PID (a thread id binds its process), or with --cgroup\n"
		"        the cgroup v2 directory CGROUP (/gpu.slice, or under /sys/fs/cgroup),\n"
		"        to the node of the device PCI_ADDR, written DDDD:BB:DD.F as in\n"
		"        `lspci -D`\n"
		"  del   remove the binding of PID or CGROUP\n"
		"  list  print the bound processes and cgroups and their nodes\n\n"
		"Exit status: 0 done, 1 refused or failed (no such process, cgroup or\n"
		"device, the device has no NUMA node, wattsched not running), 2 usage error.\n",
		ws_prog, ws_prog, ws_prog, ws_prog, ws_prog);
}

static void add_usage(FILE *f)
{
	fprintf(f, "Usage: %s device-affinity add PID PCI_ADDR\n"
		"       %s device-affinity add --cgroup CGROUP PCI_ADDR\n\n"
		"Bind process PID, or every task in cgroup CGROUP and below it, to the NUMA\n"
		"node of PCI device PCI_ADDR (DDDD:BB:DD.F, e.g. 0000:81:00.0, as printed by\n"
		"`lspci -D`).  The node is read from " WS_PCI_DEVICES "/PCI_ADDR/numa_node;\n"
		"a device without one is refused.  A thread id binds the whole process.\n"
		"CGROUP is a cgroup v2 path from the cgroup2 root (/gpu.slice) or under\n"
		"/sys/fs/cgroup.  Replaces an earlier binding of the same process or cgroup.\n",
		ws_prog, ws_prog);
}

static void del_usage(FILE *f)
{
	fprintf(f, "Usage: %s device-affinity del PID\n"
		"       %s device-affinity del --cgroup CGROUP\n\n"
		"Remove the device binding of process PID (which may have exited) or of\n"
		"cgroup CGROUP.\n", ws_prog, ws_prog);
}

static void list_usage(FILE *f)
{
	fprintf(f, "Usage: %s device-affinity list\n\n"
		"Print the bound processes, one a line: PID and NUMA node, by PID; then, if\n"
		"any cgroup is bound, after an empty line, the bound cgroups: cgroup id,\n"
		"NUMA node and path (\"(removed)\" for a cgroup that is gone).\n", ws_prog);
}

/* Open pinned map @name of the running scheduler, for reading. */
static int open_map(const char *what, const char *name)
{
	return ws_attached_or_explain(what) ? ws_open_pinned(name) : -1;
}

/* Strip a leading --cgroup from @argc/@argv (argv[0] is the action). */
static bool take_cgroup_flag(int *argc, char ***argv)
{
	if (*argc < 2 || strcmp((*argv)[1], "--cgroup"))
		return false;
	(*argv)[1] = (*argv)[0];
	(*argc)--;
	(*argv)++;
	return true;
}

/* Send a checked request; 0 with the answer's node, or 1 after saying why. */
static int send_req(const char *what, const struct ws_request *req, int *node, __u32 *pid)
{
	struct json_object *ans;

	if (!ws_attached_or_explain(what) || ws_call(what, req, -1, &ans))
		return 1;
	*node = ws_answer_num(ans, "node");
	*pid = ws_answer_num(ans, "bound_pid");
	json_object_put(ans);
	return 0;
}

static int cmd_add(int argc, char **argv)
{
	bool cgroup = take_cgroup_flag(&argc, &argv);
	struct ws_request req;
	__u32 pid;
	int node, ret;

	if (argc == 2 && ws_is_help(argv[1])) {
		add_usage(stdout);
		return 0;
	}
	if (argc != 3) {
		ws_err("device-affinity add: want %s and PCI_ADDR, got %d argument%s",
		       cgroup ? "--cgroup CGROUP" : "PID", argc - 1, argc == 2 ? "" : "s");
		add_usage(stderr);
		return 2;
	}
	ret = ws_args_devaff("device-affinity add", argv[1], cgroup, argv[2], &req);
	if (ret)
		return ret;
	if (send_req("device-affinity add", &req, &node, &pid))
		return 1;
	if (cgroup)
		printf("cgroup %s: bound to NUMA node %d (PCI device %s)\n", argv[1], node,
		       argv[2]);
	else
		printf("pid %u: bound to NUMA node %d (PCI device %s)\n", pid, node, argv[2]);
	return 0;
}

static int cmd_del(int argc, char **argv)
{
	bool cgroup = take_cgroup_flag(&argc, &argv);
	struct ws_request req;
	__u32 pid;
	int node, ret;

	if (argc == 2 && ws_is_help(argv[1])) {
		del_usage(stdout);
		return 0;
	}
	if (argc != 2) {
		ws_err("device-affinity del: want one %s, got %d arguments",
		       cgroup ? "--cgroup CGROUP" : "PID", argc - 1);
		del_usage(stderr);
		return 2;
	}
	ret = ws_args_devaff("device-affinity del", argv[1], cgroup, NULL, &req);
	if (ret)
		return ret;
	if (send_req("device-affinity del", &req, &node, &pid))
		return 1;
	if (cgroup)
		printf("cgroup %s: device binding removed\n", argv[1]);
	else
		printf("pid %u: device binding removed\n", pid);
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

/* The cgroup table of `list`, printed only when some cgroup is bound. */
static int list_cgroups(void)
{
	__u64 keys[WS_MAX_CGRP_RULES], key, next, node;
	unsigned int n = 0, shown = 0, i;
	const char *path;
	void *prev = NULL;
	int fd;

	fd = open_map("device-affinity list", "ws_dev_cgrp");
	if (fd < 0)
		return 1;
	while (n < WS_MAX_CGRP_RULES && !bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		keys[n++] = key;
	}
	if (errno != ENOENT && n < WS_MAX_CGRP_RULES) {
		ws_err("device-affinity list: reading %s: %s", CGRP_MAP, strerror(errno));
		close(fd);
		return 1;
	}
	qsort(keys, n, sizeof(*keys), cmp_u64);
	for (i = 0; i < n; i++) {
		/* deleted since the walk: skip */
		if (bpf_map_lookup_elem(fd, &keys[i], &node))
			continue;
		if (!shown++)
			printf("\n%-20s %-4s %s\n", "CGROUP_ID", "NODE", "CGROUP");
		path = ws_cgroup_path_of(keys[i]);
		printf("%-20llu %-4llu %s\n", (unsigned long long)keys[i],
		       (unsigned long long)node, path ?: "(removed)");
	}
	close(fd);
	return 0;
}

static int cmd_list(int argc, char **argv)
{
	__u32 *keys, key, next, n = 0, i;
	__s32 node;
	int fd, ret = 1;
	void *prev = NULL;

	if (argc == 2 && ws_is_help(argv[1])) {
		list_usage(stdout);
		return 0;
	}
	if (argc != 1) {
		ws_err("device-affinity list: unexpected argument '%s'", argv[1]);
		list_usage(stderr);
		return 2;
	}
	fd = open_map("device-affinity list", "ws_dev_tgid");
	if (fd < 0)
		return 1;
	keys = calloc(DEV_MAP_MAX, sizeof(*keys));
	if (!keys) {
		ws_err("device-affinity list: out of memory");
		goto close_fd;
	}
	while (n < DEV_MAP_MAX && !bpf_map_get_next_key(fd, prev, &next)) {
		keys[n++] = next;
		key = next;
		prev = &key;
	}
	if (errno != ENOENT && n < DEV_MAP_MAX) {
		ws_err("device-affinity list: reading %s: %s", DEV_MAP, strerror(errno));
		goto free_keys;
	}
	qsort(keys, n, sizeof(*keys), cmp_u32);
	printf("%-8s %s\n", "PID", "NODE");
	for (i = 0; i < n; i++) {
		/* deleted since the walk: skip */
		if (bpf_map_lookup_elem(fd, &keys[i], &node))
			continue;
		printf("%-8u %d\n", keys[i], node);
	}
	ret = list_cgroups();
free_keys:
	free(keys);
close_fd:
	close(fd);
	return ret;
}

int cmd_device_affinity(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (ws_is_help(argv[1])) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "add"))
		return cmd_add(argc - 1, argv + 1);
	if (!strcmp(argv[1], "del"))
		return cmd_del(argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return cmd_list(argc - 1, argv + 1);
	ws_err("device-affinity: unknown action '%s' (add, del, list; see '%s device-affinity --help')",
	       argv[1], ws_prog);
	return 2;
}
