// SPDX-License-Identifier: GPL-2.0
/*
 * devaff.c - `wattsched device-affinity`: bind a process to the NUMA node of
 * a PCIe device, so the scheduler starts its wakeup search on that node.
 *
 *   wattsched device-affinity add PID PCI_ADDR
 *   wattsched device-affinity del PID
 *   wattsched device-affinity list
 *
 * The binding lives in the running scheduler's hash map ws_dev_tgid
 * (u32 tgid -> s32 node), pinned at WS_PIN_DIR/ws_dev_tgid by `wattsched
 * run`; it ends with the scheduler.  Every argument is checked before the
 * map is touched, so a refused request changes nothing.
 */
#include <bpf/bpf.h>
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "ws.h"

#define DEV_MAP			WS_PIN_DIR "/ws_dev_tgid"
#define PCI_DEVICES		"/sys/bus/pci/devices"
#define PID_LIMIT		4194304ULL	/* the kernel's PID_MAX_LIMIT */
#define DEV_MAP_MAX		4096		/* ws_dev_tgid's max_entries */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s device-affinity add PID PCI_ADDR\n"
		"       %s device-affinity del PID\n"
		"       %s device-affinity list\n\n"
		"Bind a process to the NUMA node of a PCIe device: on wakeup the running\n"
		"scheduler looks for an idle CPU on that node first, and only then elsewhere.\n"
		"The binding is per process (all its threads) and lasts while the scheduler\n"
		"runs.\n\n"
		"  add   bind process PID (a thread id binds its process) to the node of the\n"
		"        device PCI_ADDR, written DDDD:BB:DD.F as in `lspci -D`\n"
		"  del   remove the binding of PID\n"
		"  list  print the bound processes and their nodes\n\n"
		"Exit status: 0 done, 1 refused or failed (no such process or device, the\n"
		"device has no NUMA node, wattsched not running), 2 usage error.\n",
		ws_prog, ws_prog, ws_prog);
}

static void add_usage(FILE *f)
{
	fprintf(f, "Usage: %s device-affinity add PID PCI_ADDR\n\n"
		"Bind process PID to the NUMA node of PCI device PCI_ADDR (DDDD:BB:DD.F,\n"
		"e.g. 0000:81:00.0, as printed by `lspci -D`).  The node is read from\n"
		PCI_DEVICES "/PCI_ADDR/numa_node; a device without one is refused.\n"
		"A thread id binds the whole process.  Replaces an earlier binding.\n",
		ws_prog);
}

static void del_usage(FILE *f)
{
	fprintf(f, "Usage: %s device-affinity del PID\n\n"
		"Remove the device binding of process PID (which may have exited).\n", ws_prog);
}

static void list_usage(FILE *f)
{
	fprintf(f, "Usage: %s device-affinity list\n\n"
		"Print the bound processes, one a line: PID and NUMA node, by PID.\n", ws_prog);
}

static bool is_help(const char *s)
{
	return !strcmp(s, "--help") || !strcmp(s, "-h");
}

static int open_dev_map(const char *what)
{
	int fd;

	if (!ws_attached_or_explain(what))
		return -1;
	fd = bpf_obj_get(DEV_MAP);
	if (fd < 0 && (errno == EACCES || errno == EPERM))
		ws_err("%s: %s: permission denied: device affinity needs root", what, DEV_MAP);
	else if (fd < 0)
		ws_err("%s: cannot open %s: %s (is this wattsched's loader too old?)", what,
		       DEV_MAP, strerror(errno));
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
static bool parse_pci_addr(const char *s, char *out, size_t len, const char **why)
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

/*
 * Check a binding of process @pid_s to PCI device @addr_s: 0 with the
 * process and node set, 2 for a malformed argument, 1 when the process or
 * device cannot be bound; each failure says why, prefixed by @what.
 */
int ws_devaff_resolve(const char *what, const char *pid_s, const char *addr_s, __u32 *tgid,
		      __s32 *node)
{
	char addr[16];
	const char *why;
	__u32 pid;
	int ret;

	if (parse_pid(what, pid_s, &pid))
		return 2;
	if (!parse_pci_addr(addr_s, addr, sizeof(addr), &why)) {
		ws_err("%s: '%s' is not a PCI address: %s", what, addr_s, why);
		return 2;
	}
	ret = pid_tgid(pid, tgid);
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
	*node = pci_node(what, addr);
	return *node < 0 ? 1 : 0;
}

static int cmd_add(int argc, char **argv)
{
	__u32 tgid;
	__s32 node;
	int fd, ret;

	if (argc == 2 && is_help(argv[1])) {
		add_usage(stdout);
		return 0;
	}
	if (argc != 3) {
		ws_err("device-affinity add: want PID and PCI_ADDR, got %d argument%s", argc - 1,
		       argc == 2 ? "" : "s");
		add_usage(stderr);
		return 2;
	}
	ret = ws_devaff_resolve("device-affinity add", argv[1], argv[2], &tgid, &node);
	if (ret)
		return ret;

	fd = open_dev_map("device-affinity add");
	if (fd < 0)
		return 1;
	if (bpf_map_update_elem(fd, &tgid, &node, BPF_ANY)) {
		if (errno == E2BIG)
			ws_err("device-affinity add: the table is full (%d processes); "
			       "'del' some first", DEV_MAP_MAX);
		else
			ws_err("device-affinity add: writing %s: %s", DEV_MAP, strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
	printf("pid %u: bound to NUMA node %d (PCI device %s)\n", tgid, node, argv[2]);
	return 0;
}

static int cmd_del(int argc, char **argv)
{
	__u32 pid, key;
	int fd;

	if (argc == 2 && is_help(argv[1])) {
		del_usage(stdout);
		return 0;
	}
	if (argc != 2) {
		ws_err("device-affinity del: want one PID, got %d arguments", argc - 1);
		del_usage(stderr);
		return 2;
	}
	if (parse_pid("device-affinity del", argv[1], &pid))
		return 2;
	/* A live thread id means its process; an exited pid is taken as given. */
	if (pid_tgid(pid, &key))
		key = pid;

	fd = open_dev_map("device-affinity del");
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
	fd = open_dev_map("device-affinity list");
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
	ret = 0;
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
