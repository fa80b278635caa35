// SPDX-License-Identifier: GPL-2.0
/* pci.c - PCI addresses, device nodes and thread groups (pci.h). */
#include <ctype.h>
#include <unistd.h>

#include "lib/pci.h"
#include "lib/util.h"

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

int ws_pci_node(const char *addr, char *err, size_t errlen)
{
	char path[256], buf[32];
	long node;
	char *end;
	int ret;

	snprintf(path, sizeof(path), WS_PCI_DEVICES "/%s", addr);
	if (access(path, F_OK))
		return errno == ENOENT ?
		       ws_fail(err, errlen, -ENODEV, "no PCI device %s (nothing at %s)", addr, path) :
		       ws_fail(err, errlen, -errno, "%s: %s", path, strerror(errno));
	snprintf(path, sizeof(path), WS_PCI_DEVICES "/%s/numa_node", addr);
	ret = ws_read_file(path, buf, sizeof(buf));
	if (ret < 0)
		return ws_fail(err, errlen, ret, "reading %s: %s", path, strerror(-ret));
	buf[strcspn(buf, "\n")] = '\0';
	errno = 0;
	node = strtol(buf, &end, 10);
	if (!buf[0] || *end || errno)
		return ws_fail(err, errlen, -EIO, "%s: unexpected content '%s'", path, buf);
	if (node < 0)
		return ws_fail(err, errlen, -ENXIO, "PCI device %s: device has no NUMA node "
			       "(%s reads %ld)", addr, path, node);
	snprintf(path, sizeof(path), "/sys/devices/system/node/node%ld", node);
	if (node >= WS_MAX_NODES || access(path, F_OK))
		return ws_fail(err, errlen, -ENXIO, "PCI device %s: its NUMA node %ld is not online",
			       addr, node);
	return node;
}

bool ws_parse_pid(const char *s, __u32 *pid)
{
	unsigned long long v;

	if (ws_parse_u64(s, 1, WS_PID_LIMIT, &v))
		return false;
	*pid = v;
	return true;
}

int ws_pid_tgid(__u32 pid, __u32 *tgid, char *err, size_t errlen)
{
	char path[64], buf[2048], *p;
	unsigned long long v;
	int ret;

	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	ret = ws_read_file(path, buf, sizeof(buf));
	if (ret == -ENOENT)
		return ws_fail(err, errlen, -ESRCH, "no process with pid %u", pid);
	if (ret < 0)
		return ws_fail(err, errlen, ret, "reading %s: %s", path, strerror(-ret));
	p = strstr(buf, "\nState:\t");
	if (p && p[8] == 'Z')
		return ws_fail(err, errlen, -EBADF, "process %u has exited (zombie)", pid);
	p = strstr(buf, "\nTgid:\t");
	if (!p)
		return ws_fail(err, errlen, -EIO, "%s has no Tgid line", path);
	p += 7;
	p[strcspn(p, "\n")] = '\0';
	if (ws_parse_u64(p, 1, WS_PID_LIMIT, &v))
		return ws_fail(err, errlen, -EIO, "%s: bad Tgid '%s'", path, p);
	*tgid = v;
	return 0;
}
