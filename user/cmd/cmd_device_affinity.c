// SPDX-License-Identifier: GPL-2.0
/*
 * devaff.c - `wattsched device-affinity`: bind a process or a cgroup to the
 * NUMA node of a PCIe device, so the scheduler keeps its tasks on that node.
 *
 *   wattsched device-affinity add [--cgroup] TARGET PCI_ADDR
 *   wattsched device-affinity del [--cgroup] TARGET
 *   wattsched device-affinity list
 *
 * A process's binding lives in the running scheduler's hash map
 * ws_dev_tgid (u32 tgid -> s32 node), a cgroup's in ws_dev_cgrp (u64
 * cgroup id -> u64 node, with a change token, like ws_cgrp_class), both
 * pinned under WS_PIN_DIR by `wattsched run`; they end with the scheduler.
 * Every argument is checked before a map is touched, so a refused request
 * changes nothing.
 */
#include <bpf/bpf.h>
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "classes.h"
#include "ws.h"

#define DEV_MAP			WS_PIN_DIR "/ws_dev_tgid"
#define CGRP_MAP		WS_PIN_DIR "/ws_dev_cgrp"
#define PCI_DEVICES		"/sys/bus/pci/devices"
#define PID_LIMIT		4194304ULL	/* the kernel's PID_MAX_LIMIT */
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
		"`lspci -D`).  The node is read from " PCI_DEVICES "/PCI_ADDR/numa_node;\n"
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

static bool is_help(const char *s)
{
	return !strcmp(s, "--help") || !strcmp(s, "-h");
}

/* Open pinned map @path (DEV_MAP, CGRP_MAP) of the running scheduler. */
static int open_dev_map(const char *what, const char *path)
{
	int fd;

	if (!ws_attached_or_explain(what))
		return -1;
	fd = bpf_obj_get(path);
	if (fd < 0 && (errno == EACCES || errno == EPERM))
		ws_err("%s: %s: permission denied: device affinity needs root", what, path);
	else if (fd < 0)
		ws_err("%s: cannot open %s: %s (is this wattsched's loader too old?)", what,
		       path, strerror(errno));
	return fd;
}

/* PID syntax: a whole decimal number in 1..PID_MAX_LIMIT.  -EINVAL otherwise. */
static int parse_pid(const char *what, const char *s, __u32 *pid)
{
	unsigned long long v;

	if (ws_parse_u64(s, 1, PID_LIMIT, &v)) {
		ws_err("%s: '%s' is not a process id (a number in 1..%llu)", what, s, PID_LIMIT);
		return -EINVAL;
	}
	*pid = v;
	return 0;
}

/*
 * The process that thread @pid belongs to: 0 with *tgid set, -ESRCH when
 * there is no such thread, -EBADF for a zombie, another -errno otherwise.
 */
static int pid_tgid(__u32 pid, __u32 *tgid)
{
	char path[64], buf[2048], *p;
	unsigned long long v;
	int ret;

	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	ret = ws_read_file(path, buf, sizeof(buf));
	if (ret < 0)
		return ret == -ENOENT ? -ESRCH : ret;
	p = strstr(buf, "\nState:\t");
	if (p && p[8] == 'Z')
		return -EBADF;
	p = strstr(buf, "\nTgid:\t");
	if (!p)
		return -EIO;
	p += 7;
	p[strcspn(p, "\n")] = '\0';
	if (ws_parse_u64(p, 1, PID_LIMIT, &v))
		return -EIO;
	*tgid = v;
	return 0;
}

/*
 * Strict PCI address DDDD:BB:DD.F (hex; device 00-1f, function 0-7), as
 * sysfs names devices.  Upper-case hex is accepted; @out gets the sysfs
 * (lower-case) spelling.  Returns false with a reason in @why.
 */
bool ws_parse_pci_addr(const char *s, char *out, size_t len, const char **why)
{
	static const char shape[] = "hhhh:hh:hh.h";
	unsigned int dev, fn;
	size_t i;

	if (strlen(s) != sizeof(shape) - 1 || len < sizeof(shape)) {
		*why = "want DDDD:BB:DD.F, e.g. 0000:81:00.0";
		return false;
	}
	for (i = 0; shape[i]; i++) {
		if (shape[i] == 'h' ? !isxdigit((unsigned char)s[i]) : s[i] != shape[i]) {
			*why = "want DDDD:BB:DD.F in hexadecimal, e.g. 0000:81:00.0";
			return false;
		}
		out[i] = tolower((unsigned char)s[i]);
	}
	out[i] = '\0';
	dev = strtoul(out + 8, NULL, 16);
	fn = strtoul(out + 11, NULL, 16);
	if (dev > 0x1f) {
		*why = "the device number DD is at most 1f";
		return false;
	}
	if (fn > 7) {
		*why = "the function number F is at most 7";
		return false;
	}
	return true;
}

/* The NUMA node of PCI device @addr, or -1 with a message. */
static int pci_node(const char *what, const char *addr)
{
	char path[256], buf[32];
	long node;
	char *end;
	int ret;

	snprintf(path, sizeof(path), PCI_DEVICES "/%s", addr);
	if (access(path, F_OK)) {
		if (errno == ENOENT)
			ws_err("%s: no PCI device %s (nothing at %s)", what, addr, path);
		else
			ws_err("%s: %s: %s", what, path, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), PCI_DEVICES "/%s/numa_node", addr);
	ret = ws_read_file(path, buf, sizeof(buf));
	if (ret < 0) {
		ws_err("%s: reading %s: %s", what, path, strerror(-ret));
		return -1;
	}
	buf[strcspn(buf, "\n")] = '\0';
	errno = 0;
	node = strtol(buf, &end, 10);
	if (!buf[0] || *end || errno) {
		ws_err("%s: %s: unexpected content '%s'", what, path, buf);
		return -1;
	}
	if (node < 0) {
		ws_err("%s: PCI device %s: device has no NUMA node (%s reads %ld)", what, addr,
		       path, node);
		return -1;
	}
	snprintf(path, sizeof(path), "/sys/devices/system/node/node%ld", node);
	if (node >= WS_MAX_NODES || access(path, F_OK)) {
		ws_err("%s: PCI device %s: its NUMA node %ld is not online", what, addr, node);
		return -1;
	}
	return node;
}

bool ws_devaff_split(char *arg, char **target, char **addr, bool *cgroup)
{
	char *eq = strrchr(arg, '=');

	if (!eq)
		return false;
	*eq = '\0';
	*target = arg;
	*addr = eq + 1;
	*cgroup = arg[strspn(arg, "0123456789")] != '\0';
	return true;
}

int ws_devaff_resolve(const char *what, const char *target, bool cgroup, const char *addr_s,
		      struct ws_devaff *b)
{
	char addr[16];
	const char *why;
	__u32 pid, tgid;
	int ret;

	/* the spelling of both arguments first: those are usage errors */
	if (cgroup ? !ws_cgroup_path_ok(what, target) : parse_pid(what, target, &pid) != 0)
		return 2;
	if (!ws_parse_pci_addr(addr_s, addr, sizeof(addr), &why)) {
		ws_err("%s: '%s' is not a PCI address: %s", what, addr_s, why);
		return 2;
	}
	b->cgroup = cgroup;
	if (cgroup) {
		ret = ws_cgroup_resolve(what, target, &b->id);
		if (ret)
			return ret == -EINVAL ? 2 : 1;
	} else {
		ret = pid_tgid(pid, &tgid);
		if (ret == -ESRCH) {
			ws_err("%s: no process with pid %u", what, pid);
			return 1;
		} else if (ret == -EBADF) {
			ws_err("%s: process %u has exited (zombie)", what, pid);
			return 1;
		} else if (ret) {
			ws_err("%s: reading /proc/%u/status: %s", what, pid, strerror(-ret));
			return 1;
		}
		b->id = tgid;
	}
	b->node = pci_node(what, addr);
	return b->node < 0 ? 1 : 0;
}

int ws_devaff_write(int tgid_fd, int cgrp_fd, const struct ws_devaff *b)
{
	__u32 tgid = b->id;

	if (b->cgroup)
		return ws_cgrp_rule_write(cgrp_fd, b->id, b->node);
	return bpf_map_update_elem(tgid_fd, &tgid, &b->node, BPF_ANY) ? -errno : 0;
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

static int cmd_add(int argc, char **argv)
{
	bool cgroup = take_cgroup_flag(&argc, &argv);
	struct ws_devaff b;
	int tgid_fd, cgrp_fd = -1, ret;

	if (argc == 2 && is_help(argv[1])) {
		add_usage(stdout);
		return 0;
	}
	if (argc != 3) {
		ws_err("device-affinity add: want %s and PCI_ADDR, got %d argument%s",
		       cgroup ? "--cgroup CGROUP" : "PID", argc - 1, argc == 2 ? "" : "s");
		add_usage(stderr);
		return 2;
	}
	ret = ws_devaff_resolve("device-affinity add", argv[1], cgroup, argv[2], &b);
	if (ret)
		return ret;

	tgid_fd = open_dev_map("device-affinity add", DEV_MAP);
	if (tgid_fd < 0)
		return 1;
	if (cgroup) {
		cgrp_fd = open_dev_map("device-affinity add", CGRP_MAP);
		if (cgrp_fd < 0) {
			close(tgid_fd);
			return 1;
		}
	}
	ret = ws_devaff_write(tgid_fd, cgrp_fd, &b);
	close(tgid_fd);
	if (cgrp_fd >= 0)
		close(cgrp_fd);
	if (ret == -E2BIG) {
		ws_err("device-affinity add: the table is full (%d %s); 'del' some first",
		       cgroup ? WS_MAX_CGRP_RULES : DEV_MAP_MAX, cgroup ? "cgroups" : "processes");
		return 1;
	} else if (ret) {
		ws_err("device-affinity add: writing %s: %s", cgroup ? CGRP_MAP : DEV_MAP,
		       strerror(-ret));
		return 1;
	}
	if (cgroup)
		printf("cgroup %s: bound to NUMA node %d (PCI device %s)\n", argv[1], b.node,
		       argv[2]);
	else
		printf("pid %u: bound to NUMA node %d (PCI device %s)\n", (__u32)b.id, b.node,
		       argv[2]);
	return 0;
}

static int cmd_del(int argc, char **argv)
{
	bool cgroup = take_cgroup_flag(&argc, &argv);
	__u32 pid, key;
	__u64 id;
	int fd, ret;

	if (argc == 2 && is_help(argv[1])) {
		del_usage(stdout);
		return 0;
	}
	if (argc != 2) {
		ws_err("device-affinity del: want one %s, got %d arguments",
		       cgroup ? "--cgroup CGROUP" : "PID", argc - 1);
		del_usage(stderr);
		return 2;
	}
	if (cgroup) {
		ret = ws_cgroup_resolve("device-affinity del", argv[1], &id);
		if (ret)
			return ret == -EINVAL ? 2 : 1;
		fd = open_dev_map("device-affinity del", CGRP_MAP);
		if (fd < 0)
			return 1;
		ret = ws_cgrp_rule_write(fd, id, -1);
		close(fd);
		if (ret == -ENOENT) {
			ws_err("device-affinity del: cgroup %s is not bound to a device", argv[1]);
			return 1;
		} else if (ret) {
			ws_err("device-affinity del: writing %s: %s", CGRP_MAP, strerror(-ret));
			return 1;
		}
		printf("cgroup %s: device binding removed\n", argv[1]);
		return 0;
	}
	if (parse_pid("device-affinity del", argv[1], &pid))
		return 2;
	/* A live thread id means its process; an exited pid is taken as given. */
	if (pid_tgid(pid, &key))
		key = pid;

	fd = open_dev_map("device-affinity del", DEV_MAP);
	if (fd < 0)
		return 1;
	if (bpf_map_delete_elem(fd, &key)) {
		if (errno == ENOENT)
			ws_err("device-affinity del: pid %u is not bound to a device", key);
		else
			ws_err("device-affinity del: writing %s: %s", DEV_MAP, strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
	printf("pid %u: device binding removed\n", key);
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
	__u64 keys[WS_MAX_CGRP_RULES + 1], key, next, node;
	unsigned int n = 0, shown = 0, i;
	const char *path;
	void *prev = NULL;
	int fd;

	fd = open_dev_map("device-affinity list", CGRP_MAP);
	if (fd < 0)
		return 1;
	while (n < WS_MAX_CGRP_RULES + 1 && !bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (key != WS_CGRP_TOKEN)
			keys[n++] = key;
	}
	if (errno != ENOENT && n < WS_MAX_CGRP_RULES + 1) {
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

	if (argc == 2 && is_help(argv[1])) {
		list_usage(stdout);
		return 0;
	}
	if (argc != 1) {
		ws_err("device-affinity list: unexpected argument '%s'", argv[1]);
		list_usage(stderr);
		return 2;
	}
	fd = open_dev_map("device-affinity list", DEV_MAP);
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
	if (is_help(argv[1])) {
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
