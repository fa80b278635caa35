// SPDX-License-Identifier: GPL-2.0
/*
 * telemetry.c - VM tests for the telemetry module (kmod/), checked against
 * lspci and sysfs, which the module does not use.  docs/telemetry.md
 * describes the files and the errno of every refused inject/ write.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ws_test.h"

#define TM_DIR		"/sys/kernel/debug/wattsched"
#define TM_MAX_DEVS	64
#define TM_BIG		(256 * 1024)

/* ---- helpers ----------------------------------------------------------- */

static char *tm_buf(void)
{
	char *b = calloc(1, TM_BIG);

	if (!b)
		abort();
	return b;
}

static bool tm_debugfs(void)
{
	if (ws_exists("/sys/kernel/debug/tracing") || ws_exists(TM_DIR))
		return true;
	ws_sh("mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug");
	return ws_sh("mountpoint -q /sys/kernel/debug") == 0;
}

static bool tm_loaded(void)
{
	return ws_exists("/sys/module/wattsched_telemetry");
}

/* rmmod, retrying while a reader holds a file open (EBUSY); busy counts retries */
static bool tm_unload(int *busy)
{
	int i;

	for (i = 0; i < 500 && tm_loaded(); i++) {
		if (ws_sh("rmmod wattsched_telemetry 2>/dev/null") == 0)
			break;
		if (busy)
			(*busy)++;
		ws_sleep_ms(10);
	}
	return !tm_loaded();
}

/* Why the module cannot be tested here, or NULL. */
static const char *tm_unusable(void)
{
	if (!ws_exists(ws_kmod()))
		return "the module is not built (make kmod)";
	if (!tm_debugfs())
		return "no debugfs";
	if (tm_loaded() && !tm_unload(NULL))
		return "a wattsched_telemetry already loaded cannot be removed";
	return NULL;
}

/* A fixture's setup: the numa VM, and the module loaded with @args. */
static void tm_up(struct __test_metadata *_metadata, const char *args)
{
	const char *why;

	WS_NEED_MACHINE("numa");
	why = tm_unusable();
	if (why)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, ws_sh("insmod %s %s", ws_kmod(), args))
		TH_LOG("insmod %s %s failed", ws_kmod(), args);
}

/* The module loaded with no parameters (in the numa VM: its PCIe ports). */
FIXTURE(module) {
};

FIXTURE_SETUP(module)
{
	tm_up(_metadata, "");
}

FIXTURE_TEARDOWN(module)
{
	tm_unload(NULL);
}

/* The module loaded with inject=1. */
FIXTURE(inject) {
};

FIXTURE_SETUP(inject)
{
	tm_up(_metadata, "inject=1");
}

FIXTURE_TEARDOWN(inject)
{
	tm_unload(NULL);
}

/* The module built, and not loaded: the test loads it. */
FIXTURE(unloaded) {
};

FIXTURE_SETUP(unloaded)
{
	const char *why = tm_unusable();

	if (why)
		SKIP(return, "%s", why);
}

FIXTURE_TEARDOWN(unloaded)
{
	tm_unload(NULL);
}

/* Read a whole telemetry file into buf (TM_BIG bytes); <0 on error. */
static int tm_read(const char *name, char *buf)
{
	char path[256];
	int fd, n, off = 0;

	snprintf(path, sizeof(path), TM_DIR "/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (off < TM_BIG - 1 && (n = read(fd, buf + off, TM_BIG - 1 - off)) > 0)
		off += n;
	close(fd);
	buf[off] = '\0';
	return off;
}

/* One write() of s (len bytes) to inject/NAME: 0 or the errno. */
static int tm_write(const char *name, const char *s, size_t len)
{
	char path[256];
	ssize_t n;
	int fd, err;

	snprintf(path, sizeof(path), TM_DIR "/inject/%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	n = write(fd, s, len);
	err = n < 0 ? errno : ((size_t)n == len ? 0 : EIO);
	close(fd);
	return err;
}

static int tm_cmd(const char *name, const char *s)
{
	return tm_write(name, s, strlen(s));
}

/* Value of key in a one-line record (up to the newline); false when absent. */
static bool tm_field(const char *rec, const char *key, char *out, size_t len)
{
	size_t kl = strlen(key);
	const char *p = rec;

	while (*p && *p != '\n') {
		const char *end = p + strcspn(p, " \n");

		if ((size_t)(end - p) > kl && !strncmp(p, key, kl) && p[kl] == '=') {
			snprintf(out, len, "%.*s", (int)(end - p - kl - 1), p + kl + 1);
			return true;
		}
		p = *end == ' ' ? end + 1 : end;
	}
	return false;
}

/* The line of buf whose first field is "key=val" (exactly), or NULL. */
static const char *tm_find(const char *buf, const char *key, const char *val)
{
	char want[128];
	size_t wl;
	const char *p;

	wl = snprintf(want, sizeof(want), "%s=%s", key, val);
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, want, wl) && (p[wl] == ' ' || p[wl] == '\n' || !p[wl]))
			return p;
	return NULL;
}

/* Copy one line (without the newline) for messages and comparisons. */
static void tm_line(const char *rec, char *out, size_t len)
{
	snprintf(out, len, "%.*s", (int)strcspn(rec, "\n"), rec);
}

static bool tm_has_line(const char *buf, const char *line)
{
	const char *p = buf;
	size_t l = strlen(line);

	while ((p = strstr(p, line))) {
		if ((p == buf || p[-1] == '\n') && (p[l] == '\n' || !p[l]))
			return true;
		p += l;
	}
	return false;
}

static bool tm_header_ok(const char *buf, const char *name)
{
	char want[96];

	snprintf(want, sizeof(want), "# wattsched-telemetry %s v1\n", name);
	return !strncmp(buf, want, strlen(want));
}

/* ---- telemetry_pcie: against lspci -vv and sysfs ----------------------- */

struct tm_dev {
	char addr[16];
	char type[64];
	bool link;
	char cap_speed[8], sta_speed[8];
	int cap_width, sta_width;
	int secondary;		/* -1 when not a bridge */
};

/* "Speed 16GT/s" -> "16"; "unknown" stays so */
static void tm_lspci_speed(const char *p, char *out, size_t len)
{
	p = strstr(p, "Speed ");
	if (!p) {
		snprintf(out, len, "?");
		return;
	}
	p += 6;
	snprintf(out, len, "%.*s", (int)strcspn(p, "G,( \n"), p);
}

static int tm_lspci_width(const char *p)
{
	p = strstr(p, "Width x");
	return p ? atoi(p + 7) : -1;
}

static int tm_lspci_parse(char *out, struct tm_dev *devs)
{
	char *block = out, *next, *line, *save;
	int n = 0;

	for (; block && *block; block = next) {
		struct tm_dev d = { .secondary = -1 };
		bool express = false;

		next = strstr(block, "\n\n");
		if (next) {
			*next = '\0';
			next += 2;
		}
		if (!isxdigit((unsigned char)block[0]))
			continue;
		snprintf(d.addr, sizeof(d.addr), "%.12s", block);
		for (line = strtok_r(block, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char *p;

			if (!express && strstr(line, "Capabilities:") &&
			    (p = strstr(line, "] Express ("))) {
				express = true;
				p = strchr(p + 11, ')');
				if (p)
					snprintf(d.type, sizeof(d.type), "%.*s",
						 (int)strcspn(p + 2, ",("), p + 2);
			} else if ((p = strstr(line, "LnkCap:"))) {
				d.link = true;
				tm_lspci_speed(p, d.cap_speed, sizeof(d.cap_speed));
				d.cap_width = tm_lspci_width(p);
			} else if ((p = strstr(line, "LnkSta:"))) {
				tm_lspci_speed(p, d.sta_speed, sizeof(d.sta_speed));
				d.sta_width = tm_lspci_width(p);
			} else if ((p = strstr(line, "Bus: primary="))) {
				p = strstr(p, "secondary=");
				if (p)
					d.secondary = strtol(p + 10, NULL, 16);
			}
		}
		/* trailing space in "Root Port " */
		while (strlen(d.type) && d.type[strlen(d.type) - 1] == ' ')
			d.type[strlen(d.type) - 1] = '\0';
		if (express && n < TM_MAX_DEVS)
			devs[n++] = d;
	}
	return n;
}

static struct tm_dev *tm_dev_find(struct tm_dev *devs, int n, const char *addr)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(devs[i].addr, addr))
			return &devs[i];
	return NULL;
}

/* The other end of d's link by the rule in docs/telemetry.md, from sysfs */
static struct tm_dev *tm_partner(struct tm_dev *devs, int n, struct tm_dev *d)
{
	char path[600], buf[32], *base;

	if (!d->link)
		return NULL;
	if (!strcmp(d->type, "Root Port") || !strcmp(d->type, "Downstream Port") ||
	    !strcmp(d->type, "PCI/PCI-X to PCI-Express Bridge")) {
		if (d->secondary < 0)
			return NULL;
		snprintf(buf, sizeof(buf), "%.4s:%02x:00.0", d->addr, d->secondary);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%.15s/%s", d->addr, buf);
		return ws_exists(path) ? tm_dev_find(devs, n, buf) : NULL;
	}
	if (ws_sh_out(buf, sizeof(buf), "basename $(dirname $(readlink -f /sys/bus/pci/devices/%s))",
		      d->addr) != 0)
		return NULL;
	buf[strcspn(buf, "\n")] = '\0';
	base = buf;
	return tm_dev_find(devs, n, base);
}

/*
 * pcie agrees with lspci -vv and sysfs; degraded where expected
 */
TEST_F_TIMEOUT(module, telemetry_pcie, WS_TEST_TIMEOUT)
{
	char *mod = tm_buf(), *ls = tm_buf(), rec[1024], v[128], want[128], path[256];
	struct tm_dev devs[TM_MAX_DEVS];
	int n, i, links = 0, ports = 0, nrecs = 0;
	const char *p;

	ASSERT_TRUE(tm_read("pcie", mod) > 0) TH_LOG("cannot read pcie");
	ASSERT_TRUE(tm_header_ok(mod, "pcie")) TH_LOG("bad header: %.60s", mod);
	ASSERT_TRUE(ws_sh_out(ls, TM_BIG, "lspci -D -vv 2>/dev/null") == 0)
		TH_LOG("lspci -D -vv failed");
	n = tm_lspci_parse(ls, devs);
	ASSERT_TRUE(n > 0) TH_LOG("lspci lists no PCI Express function");

	for (p = strchr(mod, '\n') + 1; *p; p = strchr(p, '\n') + 1)
		nrecs++;
	ASSERT_TRUE(nrecs == n)
		TH_LOG("module lists %d records, lspci %d PCIe functions", nrecs, n);

	for (i = 0; i < n; i++) {
		struct tm_dev *d = &devs[i], *pt;
		bool degraded = false;

		p = tm_find(mod, "dev", d->addr);
		ASSERT_NE(NULL, p) TH_LOG("%s (lspci: %s) missing from pcie", d->addr, d->type);
		tm_line(p, rec, sizeof(rec));
		ws_log("%s", rec);

		/* NUMA node and local CPUs as sysfs has them */
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%.15s/numa_node", d->addr);
		ASSERT_TRUE(ws_read(path, want, sizeof(want)) > 0) TH_LOG("cannot read %s", path);
		ASSERT_TRUE(tm_field(rec, "node", v, sizeof(v)) && !strcmp(v, want))
			TH_LOG("%s: node=%s, sysfs %s", d->addr, v, want);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%.15s/local_cpulist", d->addr);
		ASSERT_TRUE(ws_read(path, want, sizeof(want)) > 0) TH_LOG("cannot read %s", path);
		ASSERT_TRUE(tm_field(rec, "cpus", v, sizeof(v)) && !strcmp(v, want))
			TH_LOG("%s: cpus=%s, sysfs local_cpulist %s", d->addr, v, want);

		ASSERT_TRUE(tm_field(rec, "link", v, sizeof(v))) TH_LOG("%s: no link=", d->addr);
		if (!d->link) {
			ASSERT_TRUE(!strcmp(v, "none"))
				TH_LOG("%s (%s): lspci has no LnkCap, module link=%s",
				    d->addr, d->type, v);
			continue;
		}
		links++;
		if (!strcmp(d->type, "Root Port") || !strcmp(d->type, "Downstream Port"))
			ports++;
		ASSERT_TRUE(tm_field(rec, "cap_speed", v, sizeof(v)) && !strcmp(v, d->cap_speed))
			TH_LOG("%s: cap_speed=%s, lspci LnkCap %sGT/s", d->addr, v, d->cap_speed);
		ASSERT_TRUE(tm_field(rec, "cap_width", v, sizeof(v)) && atoi(v) == d->cap_width)
			TH_LOG("%s: cap_width=%s, lspci LnkCap x%d", d->addr, v, d->cap_width);
		if (d->sta_width <= 0 || !isdigit((unsigned char)d->sta_speed[0])) {
			ASSERT_TRUE(tm_field(rec, "link", v, sizeof(v)) && !strcmp(v, "down"))
				TH_LOG("%s: lspci LnkSta %s x%d, module link=%s", d->addr,
				    d->sta_speed, d->sta_width, v);
			continue;
		}
		ASSERT_TRUE(tm_field(rec, "link", v, sizeof(v)) && !strcmp(v, "up"))
			TH_LOG("%s: link=%s, lspci LnkSta %s x%d", d->addr, v,
			    d->sta_speed, d->sta_width);
		ASSERT_TRUE(tm_field(rec, "sta_speed", v, sizeof(v)) && !strcmp(v, d->sta_speed))
			TH_LOG("%s: sta_speed=%s, lspci LnkSta %sGT/s", d->addr, v, d->sta_speed);
		ASSERT_TRUE(tm_field(rec, "sta_width", v, sizeof(v)) && atoi(v) == d->sta_width)
			TH_LOG("%s: sta_width=%s, lspci LnkSta x%d", d->addr, v, d->sta_width);

		/* degraded, computed here from lspci and the sysfs hierarchy */
		pt = tm_partner(devs, n, d);
		ASSERT_TRUE(tm_field(rec, "partner", v, sizeof(v)) &&
			    !strcmp(v, pt && pt->link ? pt->addr : "none"))
			TH_LOG("%s: partner=%s, expected %s", d->addr, v, pt ? pt->addr : "none");
		if (pt && pt->link) {
			double cs = atof(d->cap_speed), ps = atof(pt->cap_speed);
			double min_s = cs < ps ? cs : ps;
			int min_w = d->cap_width < pt->cap_width ? d->cap_width : pt->cap_width;

			degraded = atof(d->sta_speed) < min_s || d->sta_width < min_w;
		}
		ASSERT_TRUE(tm_field(rec, "degraded", v, sizeof(v)) && atoi(v) == degraded)
			TH_LOG("%s: degraded=%s, expected %d", d->addr, v, degraded);
		ASSERT_TRUE(tm_field(rec, "source", v, sizeof(v)) && !strcmp(v, "hw"))
			TH_LOG("%s: source=%s without injection", d->addr, v);
		ASSERT_TRUE(tm_field(rec, "aer", v, sizeof(v))) TH_LOG("%s: no aer=", d->addr);
	}
	/* the numa topology has three root ports, each with an e1000e */
	ASSERT_TRUE(links >= 6 && ports >= 3)
		TH_LOG("only %d links, %d ports: topology not as expected",
		    links, ports);
	ws_log("%d PCIe functions, %d with links, all agree with lspci and sysfs", n, links);
	free(mod);
	free(ls);
}

/* ---- telemetry_pcie_kfuncs: what a scheduler sees, against lspci ------- */

/* Run pcie_probe on @addrs (space-separated) into out (TM_BIG); its exit code. */
static int tm_probe(char *out, const char *addrs)
{
	return ws_sh_out(out, TM_BIG, "%s/tests/bin/pcie_probe %s/tests/bin/pcie_probe.bpf.o %s 2>&1",
			 ws_out(), ws_out(), addrs);
}

/*
 * The module's PCIe kfuncs, run through a syscall program (what a
 * scheduler calling them sees), agree with lspci -vv and sysfs for every
 * PCIe function; an injected link shows at once and a cleared one goes;
 * an address with no function is -ENOENT.
 */
TEST_F_TIMEOUT(inject, telemetry_pcie_kfuncs, WS_TEST_TIMEOUT)
{
	char *ls = tm_buf(), *out = tm_buf(), addrs[TM_MAX_DEVS * 16] = "", rec[256], v[64];
	char path[256], want[32], *linked = NULL;
	struct tm_dev devs[TM_MAX_DEVS];
	int n, i, links = 0;
	const char *p;

	snprintf(path, sizeof(path), "%s/tests/bin/pcie_probe.bpf.o", ws_out());
	if (!ws_exists(path))
		SKIP(return, "%s not built", path);
	ASSERT_TRUE(ws_sh_out(ls, TM_BIG, "lspci -D -vv 2>/dev/null") == 0)
		TH_LOG("lspci -D -vv failed");
	n = tm_lspci_parse(ls, devs);
	ASSERT_TRUE(n > 0) TH_LOG("lspci lists no PCI Express function");
	for (i = 0; i < n; i++) {
		strcat(addrs, devs[i].addr);
		strcat(addrs, " ");
	}
	strcat(addrs, "ffff:ff:1f.7");
	ASSERT_EQ(0, tm_probe(out, addrs)) TH_LOG("pcie_probe: %s", out);

	for (i = 0; i < n; i++) {
		struct tm_dev *d = &devs[i];

		p = tm_find(out, "dev", d->addr);
		ASSERT_NE(NULL, p) TH_LOG("pcie_probe printed nothing for %s: %s", d->addr, out);
		tm_line(p, rec, sizeof(rec));
		ws_log("%s", rec);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%.15s/numa_node", d->addr);
		ASSERT_TRUE(ws_read(path, want, sizeof(want)) > 0) TH_LOG("cannot read %s", path);
		want[strcspn(want, "\n")] = '\0';
		ASSERT_TRUE(tm_field(rec, "node", v, sizeof(v)) && !strcmp(v, want))
			TH_LOG("%s: kfunc node %s, sysfs %s", d->addr, v, want);
		if (!d->link) {
			ASSERT_TRUE(tm_field(rec, "link", v, sizeof(v)) && atoi(v) == -ENODEV)
				TH_LOG("%s (%s): lspci has no LnkCap, kfunc link %s",
				    d->addr, d->type, v);
			continue;
		}
		links++;
		if (!linked && d->sta_width > 0)
			linked = d->addr;
		ASSERT_TRUE(tm_field(rec, "cap_speed", v, sizeof(v)) && !strcmp(v, d->cap_speed))
			TH_LOG("%s: kfunc cap_speed %s, lspci LnkCap %sGT/s", d->addr, v, d->cap_speed);
		ASSERT_TRUE(tm_field(rec, "cap_width", v, sizeof(v)) && atoi(v) == d->cap_width)
			TH_LOG("%s: kfunc cap_width %s, lspci LnkCap x%d", d->addr, v, d->cap_width);
		ASSERT_TRUE(tm_field(rec, "sta_width", v, sizeof(v)) && atoi(v) == d->sta_width)
			TH_LOG("%s: kfunc sta_width %s, lspci LnkSta x%d", d->addr, v, d->sta_width);
		if (d->sta_width > 0)
			ASSERT_TRUE(tm_field(rec, "sta_speed", v, sizeof(v)) &&
				    !strcmp(v, d->sta_speed))
				TH_LOG("%s: kfunc sta_speed %s, lspci LnkSta %sGT/s", d->addr, v,
				    d->sta_speed);
	}
	p = tm_find(out, "dev", "ffff:ff:1f.7");
	ASSERT_NE(NULL, p) TH_LOG("pcie_probe printed nothing for ffff:ff:1f.7: %s", out);
	tm_line(p, rec, sizeof(rec));
	ASSERT_TRUE(tm_field(rec, "node", v, sizeof(v)) && atoi(v) == -ENOENT &&
		    tm_field(rec, "link", want, sizeof(want)) && atoi(want) == -ENOENT)
		TH_LOG("no function at ffff:ff:1f.7, yet: %s", rec);
	ASSERT_TRUE(links >= 6) TH_LOG("only %d links: topology not as expected", links);
	ASSERT_NE(NULL, linked) TH_LOG("no link is up");

	/* an injected link, at once: the kfuncs' cache is rebuilt on the write */
	ASSERT_EQ(0, ws_sh("echo dev=%s speed=64 width=32 > " TM_DIR "/inject/link", linked))
		TH_LOG("inject/link refused");
	ASSERT_EQ(0, tm_probe(out, linked)) TH_LOG("pcie_probe: %s", out);
	tm_line(out, rec, sizeof(rec));
	ws_log("injected: %s", rec);
	ASSERT_TRUE(tm_field(rec, "sta_speed", v, sizeof(v)) && !strcmp(v, "64") &&
		    tm_field(rec, "sta_width", want, sizeof(want)) && atoi(want) == 32)
		TH_LOG("after injecting 64 GT/s x32 into %s: %s", linked, rec);
	ASSERT_EQ(0, ws_sh("echo link > " TM_DIR "/inject/clear")) TH_LOG("inject/clear refused");
	ASSERT_EQ(0, tm_probe(out, linked)) TH_LOG("pcie_probe: %s", out);
	tm_line(out, rec, sizeof(rec));
	for (i = 0; i < n && strcmp(devs[i].addr, linked); i++)
		;
	ASSERT_TRUE(tm_field(rec, "sta_speed", v, sizeof(v)) && !strcmp(v, devs[i].sta_speed))
		TH_LOG("after clearing, %s: %s (lspci %sGT/s)", linked, rec, devs[i].sta_speed);
	ws_log("%d PCIe functions, %d with links: the kfuncs agree with lspci and sysfs", n, links);
	free(out);
	free(ls);
}

/* ---- telemetry_unavailable --------------------------------------------- */

/*
 * thermal and power say unavailable without sensors, power is root-only
 * (0400), dmesg clean
 */
TEST_F_TIMEOUT(module, telemetry_unavailable, WS_TEST_TIMEOUT)
{
	char *buf = tm_buf(), bad[2048];
	int mark = ws_dmesg_mark();
	struct stat st;

	ASSERT_TRUE(tm_read("thermal", buf) > 0) TH_LOG("cannot read thermal");
	ws_log("thermal:\n%s", buf);
	ASSERT_TRUE(tm_header_ok(buf, "thermal")) TH_LOG("bad header");
	ASSERT_TRUE(tm_has_line(buf, "zones=unavailable")) TH_LOG("no zones=unavailable line");
	ASSERT_TRUE(tm_has_line(buf, "msr=unavailable")) TH_LOG("no msr=unavailable line");
	ASSERT_TRUE(!strstr(buf, "temp_mc=")) TH_LOG("a temperature without a sensor");

	ASSERT_TRUE(tm_read("power", buf) > 0) TH_LOG("cannot read power");
	ws_log("power:\n%s", buf);
	ASSERT_TRUE(tm_header_ok(buf, "power")) TH_LOG("bad header");
	ASSERT_TRUE(tm_has_line(buf, "rapl=unavailable")) TH_LOG("no rapl=unavailable line");
	/* RAPL energy is root-only, as the kernel made powercap's (CVE-2020-8694) */
	ASSERT_TRUE(stat(TM_DIR "/power", &st) == 0 && (st.st_mode & 0777) == 0400)
		TH_LOG("power is mode %o, not 0400", (unsigned int)(st.st_mode & 0777));
	ASSERT_TRUE(!strstr(buf, "energy_uj=")) TH_LOG("energy without RAPL");

	ASSERT_TRUE(tm_read("version", buf) > 0 && tm_header_ok(buf, "version") &&
		    strstr(buf, "format=1 inject=0")) TH_LOG("version: %s", buf);
	ASSERT_TRUE(!ws_exists(TM_DIR "/inject")) TH_LOG("inject/ exists with inject=0");
	ASSERT_TRUE(!ws_dmesg_bad_since(mark, bad, sizeof(bad))) TH_LOG("dmesg:\n%s", bad);
	free(buf);
}

/* ---- telemetry_cpus ---------------------------------------------------- */

/*
 * cpus agrees with sysfs topology and the VM's NUMA layout
 */
TEST_F_TIMEOUT(module, telemetry_cpus, WS_TEST_TIMEOUT)
{
	char *buf = tm_buf(), rec[256], v[64], want[64], path[256], key[16];
	int cpu, online;
	const char *p;

	ASSERT_TRUE(tm_read("cpus", buf) > 0 && tm_header_ok(buf, "cpus"))
		TH_LOG("cannot read cpus");
	ASSERT_TRUE(ws_sh_out(want, sizeof(want), "getconf _NPROCESSORS_ONLN") == 0)
		TH_LOG("getconf");
	online = atoi(want);
	ASSERT_TRUE(online == 8) TH_LOG("numa topology should have 8 CPUs, has %d", online);
	for (cpu = 0; cpu < online; cpu++) {
		static const char * const map[][2] = {
			{ "core", "core_id" }, { "pkg", "physical_package_id" }, { "die", "die_id" },
		};
		unsigned int i;

		snprintf(key, sizeof(key), "%d", cpu);
		p = tm_find(buf, "cpu", key);
		ASSERT_NE(NULL, p) TH_LOG("cpu %d missing", cpu);
		tm_line(p, rec, sizeof(rec));
		for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
			snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/topology/%s",
				 cpu, map[i][1]);
			ASSERT_TRUE(ws_read(path, want, sizeof(want)) > 0)
				TH_LOG("cannot read %s", path);
			ASSERT_TRUE(tm_field(rec, map[i][0], v, sizeof(v)) && !strcmp(v, want))
				TH_LOG("cpu %d: %s=%s, sysfs %s", cpu, map[i][0], v, want);
		}
		ASSERT_TRUE(ws_sh_out(want, sizeof(want),
				    "ls -d /sys/devices/system/cpu/cpu%d/node* | sed 's/.*node//'",
				    cpu) == 0) TH_LOG("node of cpu %d", cpu);
		want[strcspn(want, "\n")] = '\0';
		ASSERT_TRUE(tm_field(rec, "node", v, sizeof(v)) && !strcmp(v, want))
			TH_LOG("cpu %d: node=%s, sysfs %s", cpu, v, want);
		ASSERT_TRUE(tm_field(rec, "node", v, sizeof(v)) && atoi(v) == (cpu < 4 ? 0 : 1))
			TH_LOG("cpu %d: node=%s, booted with cpus 0-3 on node 0", cpu, v);
	}
	ws_log("%s", buf);
	free(buf);
}

/* ---- telemetry_inject -------------------------------------------------- */

struct tm_bad {
	const char *file;
	const char *cmd;
	int err;
};

/* An endpoint behind a 16GT/s x32 root port, and that port */
static bool tm_pick_link(const char *pcie, char *ep, char *port)
{
	const char *p;
	char v[64], rec[1024], prec[1024];

	for (p = strchr(pcie, '\n') + 1; *p; p = strchr(p, '\n') + 1) {
		const char *pp;

		tm_line(p, rec, sizeof(rec));
		if (!tm_field(rec, "type", v, sizeof(v)) || strcmp(v, "endpoint") ||
		    !tm_field(rec, "partner", port, 16) || !strcmp(port, "none"))
			continue;
		pp = tm_find(pcie, "dev", port);
		if (!pp)
			continue;
		tm_line(pp, prec, sizeof(prec));
		if (tm_field(prec, "cap_speed", v, sizeof(v)) && !strcmp(v, "16") &&
		    tm_field(prec, "cap_width", v, sizeof(v)) && !strcmp(v, "32")) {
			tm_field(rec, "dev", ep, 16);
			return true;
		}
	}
	return false;
}

/* The PCIe record of @dev says degraded=@degraded and source=@source (@when). */
static void tm_expect_link(struct __test_metadata *_metadata, const char *dev,
			   const char *degraded, const char *source, const char *when)
{
	char *buf = tm_buf(), rec[1024], v[64];
	const char *p;

	ASSERT_TRUE(tm_read("pcie", buf) > 0) TH_LOG("%s: cannot read pcie", when);
	p = tm_find(buf, "dev", dev);
	ASSERT_NE(NULL, p) TH_LOG("%s: %s missing", when, dev);
	tm_line(p, rec, sizeof(rec));
	ws_log("%s", rec);
	ASSERT_TRUE(tm_field(rec, "degraded", v, sizeof(v)) && !strcmp(v, degraded))
		TH_LOG("%s: %s: degraded=%s, want %s", when, dev, v, degraded);
	ASSERT_TRUE(tm_field(rec, "source", v, sizeof(v)) && !strcmp(v, source))
		TH_LOG("%s: %s: source=%s, want %s", when, dev, v, source);
	free(buf);
}

/*
 * inject/ values show up; bad writes refused, old state kept
 */
TEST_F_TIMEOUT(inject, telemetry_inject, WS_TEST_TIMEOUT)
{
	char *th = tm_buf(), *pw = tm_buf(), *pc = tm_buf(), *after = tm_buf();
	char ep[16] = "", port[16] = "", rec[1024], rec2[1024], cmd[256], longcmd[300];
	unsigned long long e1, e2;
	const char *p;
	int err, i;

	ASSERT_TRUE(tm_read("pcie", pc) > 0) TH_LOG("cannot read pcie");
	ASSERT_TRUE(tm_pick_link(pc, ep, port)) TH_LOG("no endpoint behind a 16GT/s x32 root port");
	ws_log("link under test: %s below %s", ep, port);
	tm_expect_link(_metadata, ep, "0", "hw", "before injection");

	/* good writes */
	ASSERT_TRUE(!(err = tm_cmd("thermal", "cpu=3 temp_mc=95000\n")))
		TH_LOG("thermal: %s", strerror(err));
	ASSERT_TRUE(!(err = tm_cmd("thermal", "pkg=1 temp_mc=81000 throttle=1")))
		TH_LOG("%s", strerror(err));
	ASSERT_TRUE(!(err = tm_cmd("power", "pkg=0 energy_uj=123456789")))
		TH_LOG("%s", strerror(err));
	ASSERT_TRUE(!(err = tm_cmd("power", "pkg=1 domain=dram watts_mw=50000")))
		TH_LOG("%s", strerror(err));
	snprintf(cmd, sizeof(cmd), "dev=%s cap_speed=8 cap_width=4", ep);
	ASSERT_TRUE(!(err = tm_cmd("link", cmd))) TH_LOG("link %s: %s", cmd, strerror(err));

	ASSERT_TRUE(tm_read("thermal", th) > 0) TH_LOG("cannot read thermal");
	ws_log("thermal:\n%s", th);
	p = tm_find(th, "cpu", "3");
	ASSERT_NE(NULL, p) TH_LOG("no cpu=3 record after injection");
	tm_line(p, rec, sizeof(rec));
	ASSERT_TRUE(strstr(rec, " temp_mc=95000 ") && strstr(rec, " source=injected"))
		TH_LOG("%s", rec);
	p = tm_find(th, "pkg", "1");
	ASSERT_NE(NULL, p) TH_LOG("no pkg=1 record after injection");
	tm_line(p, rec, sizeof(rec));
	ASSERT_NE(NULL, strstr(rec, " temp_mc=81000 throttle=1 source=injected")) TH_LOG("%s", rec);
	ASSERT_TRUE(tm_has_line(th, "msr=unavailable")) TH_LOG("injection hid msr=unavailable");

	ASSERT_TRUE(tm_read("power", pw) > 0) TH_LOG("cannot read power");
	ws_log("power:\n%s", pw);
	ASSERT_NE(NULL, strstr(pw, "\npkg=0 domain=package energy_uj=123456789 watts_mw=0 source=injected "
			 "ktime_ns=")) TH_LOG("no injected pkg=0 energy");
	p = strstr(pw, "pkg=1 domain=dram energy_uj=");
	ASSERT_TRUE(p && strstr(p, "watts_mw=50000 source=injected"))
		TH_LOG("no injected pkg=1 dram power");
	e1 = strtoull(p + strlen("pkg=1 domain=dram energy_uj="), NULL, 10);
	ws_sleep_ms(500);
	ASSERT_TRUE(tm_read("power", after) > 0) TH_LOG("cannot read power");
	p = strstr(after, "pkg=1 domain=dram energy_uj=");
	ASSERT_NE(NULL, p) TH_LOG("pkg=1 dram record gone");
	e2 = strtoull(p + strlen("pkg=1 domain=dram energy_uj="), NULL, 10);
	/* 50 W for >= 0.5 s is >= 25 J; allow a slow TCG guest up to 60 s */
	ASSERT_TRUE(e2 >= e1 + 25000000ULL && e2 - e1 < 3000000000ULL)
		TH_LOG("energy at 50 W went %llu -> %llu uJ in 0.5 s", e1, e2);

	/* a link trained below both ends' (injected) capability is degraded */
	tm_expect_link(_metadata, ep, "1", "injected", "after cap injection");
	tm_expect_link(_metadata, port, "1", "hw", "port sees the injected cap");
	snprintf(cmd, sizeof(cmd), "dev=%s speed=8 width=4", ep);
	ASSERT_TRUE(!(err = tm_cmd("link", cmd))) TH_LOG("link %s: %s", cmd, strerror(err));
	tm_expect_link(_metadata, ep, "0", "injected", "trained at the min of the caps");
	tm_expect_link(_metadata, port, "1", "hw", "port still at 2.5GT/s x1");

	/* bad writes: refused with the documented errno, nothing changes */
	ASSERT_TRUE(tm_read("thermal", th) > 0 && tm_read("pcie", pc) > 0) TH_LOG("re-read");
	p = tm_find(pc, "dev", ep);
	ASSERT_NE(NULL, p) TH_LOG("%s missing", ep);
	tm_line(p, rec, sizeof(rec));
	{
		char d_badspeed[64], d_badwidth[64], d_only[64], d_extra[80];
		const struct tm_bad bad[] = {
			{ "thermal", "garbage", EINVAL },
			{ "thermal", "cpu=3", EINVAL },
			{ "thermal", "temp_mc=50000", EINVAL },
			{ "thermal", "cpu=3 temp_mc=999999", EINVAL },
			{ "thermal", "cpu=3 temp_mc=-50000", EINVAL },
			{ "thermal", "cpu=3 temp_mc=0x10", EINVAL },
			{ "thermal", "cpu=abc temp_mc=1000", EINVAL },
			{ "thermal", "cpu=-1 temp_mc=1000", EINVAL },
			{ "thermal", "cpu=3 temp_mc=1000 throttle=2", EINVAL },
			{ "thermal", "cpu=3 pkg=0 temp_mc=1000", EINVAL },
			{ "thermal", "cpu=3 temp_mc=1000 temp_mc=2000", EINVAL },
			{ "thermal", "cpu=3 temp_mc=1000 color=red", EINVAL },
			{ "thermal", "cpu=3 temp_mc=", EINVAL },
			{ "thermal", "cpu=4096 temp_mc=50000", ENODEV },
			{ "thermal", "cpu=8 temp_mc=50000", ENODEV },
			{ "thermal", "pkg=7 temp_mc=50000", ENODEV },
			{ "power", "pkg=0", EINVAL },
			{ "power", "pkg=0 energy_uj=1 watts_mw=1", EINVAL },
			{ "power", "pkg=0 watts_mw=10000001", EINVAL },
			{ "power", "pkg=0 energy_uj=-1", EINVAL },
			{ "power", "pkg=0 energy_uj=18446744073709551616", EINVAL },
			{ "power", "pkg=0 energy_uj=1000000000000001", EINVAL },
			{ "power", "pkg=0 domain=gpu energy_uj=1", EINVAL },
			{ "power", "pkg=9 energy_uj=1", ENODEV },
			{ "link", "dev=0000:00:00.0 speed=8", ENODEV },
			{ "link", "dev=0000:7f:1f.7 speed=8", ENODEV },
			{ "link", "dev=0:0:0.0 speed=8", EINVAL },
			{ "link", "dev=0000:00:20.0 speed=8", EINVAL },
			{ "link", d_badspeed, EINVAL },
			{ "link", d_badwidth, EINVAL },
			{ "link", d_only, EINVAL },
			{ "link", d_extra, EINVAL },
			{ "clear", "everything", EINVAL },
		};

		snprintf(d_badspeed, sizeof(d_badspeed), "dev=%s speed=3", ep);
		snprintf(d_badwidth, sizeof(d_badwidth), "dev=%s width=3", ep);
		snprintf(d_only, sizeof(d_only), "dev=%s", ep);
		snprintf(d_extra, sizeof(d_extra), "dev=%s speed=2.5 bogus=1", ep);
		for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
			err = tm_cmd(bad[i].file, bad[i].cmd);
			ASSERT_TRUE(err == bad[i].err)
				TH_LOG("inject/%s '%s': got %s, want %s", bad[i].file,
				    bad[i].cmd, err ? strerror(err) : "success", strerror(bad[i].err));
		}
		ws_log("%d bad writes refused with the documented errno", i);
	}
	/* overlong (> 128 bytes), and an embedded NUL */
	memset(longcmd, ' ', sizeof(longcmd));
	memcpy(longcmd, "cpu=3 temp_mc=1000", 18);
	err = tm_write("thermal", longcmd, 129);
	ASSERT_TRUE(err == E2BIG)
		TH_LOG("129-byte write: %s, want E2BIG", err ? strerror(err) : "success");
	err = tm_write("thermal", longcmd, 128);
	ASSERT_TRUE(err == 0) TH_LOG("128-byte write (the limit): %s", strerror(err));
	err = tm_write("thermal", "cpu=3 temp_mc=95000\0x", 21);
	ASSERT_TRUE(err == EINVAL)
		TH_LOG("embedded NUL: %s, want EINVAL", err ? strerror(err) : "success");
	ASSERT_TRUE(!(err = tm_cmd("thermal", "cpu=3 temp_mc=95000")))
		TH_LOG("restore: %s", strerror(err));

	ASSERT_TRUE(tm_read("thermal", after) > 0) TH_LOG("re-read thermal");
	ASSERT_TRUE(!strcmp(th, after))
		TH_LOG("thermal changed by refused writes:\n%s\n---\n%s", th, after);
	ASSERT_TRUE(tm_read("pcie", after) > 0) TH_LOG("re-read pcie");
	p = tm_find(after, "dev", ep);
	ASSERT_NE(NULL, p) TH_LOG("%s missing", ep);
	tm_line(p, rec2, sizeof(rec2));
	ASSERT_TRUE(!strcmp(rec, rec2))
		TH_LOG("%s changed by refused writes:\n%s\n%s", ep, rec, rec2);
	ASSERT_TRUE(tm_read("power", after) > 0 &&
		    strstr(after, "\npkg=0 domain=package energy_uj=123456789 watts_mw=0 "
			 "source=injected ktime_ns="))
		TH_LOG("pkg=0 energy changed by refused writes:\n%s", after);

	/* clear */
	ASSERT_TRUE(!(err = tm_cmd("clear", "link"))) TH_LOG("clear link: %s", strerror(err));
	tm_expect_link(_metadata, ep, "0", "hw", "after clear link");
	tm_expect_link(_metadata, port, "0", "hw", "port after clear link");
	ASSERT_TRUE(!(err = tm_cmd("clear", "all\n"))) TH_LOG("clear all: %s", strerror(err));
	ASSERT_TRUE(tm_read("thermal", th) > 0 && !strstr(th, "injected"))
		TH_LOG("thermal:\n%s", th);
	ASSERT_TRUE(tm_read("power", pw) > 0 && !strstr(pw, "injected")) TH_LOG("power:\n%s", pw);

	/* inject=0: no inject/ directory, so every write fails */
	ASSERT_TRUE(tm_unload(NULL)) TH_LOG("rmmod failed");
	ASSERT_TRUE(ws_sh("insmod %s inject=0", ws_kmod()) == 0) TH_LOG("insmod inject=0");
	ASSERT_TRUE(!ws_exists(TM_DIR "/inject")) TH_LOG("inject/ exists with inject=0");
	err = tm_cmd("thermal", "cpu=3 temp_mc=95000");
	ASSERT_TRUE(err == ENOENT)
		TH_LOG("write with inject=0: %s", err ? strerror(err) : "success");
	ASSERT_TRUE(tm_read("thermal", th) > 0 && !strstr(th, "injected"))
		TH_LOG("thermal:\n%s", th);
	free(th);
	free(pw);
	free(pc);
	free(after);
}

/* ---- load/unload under readers ----------------------------------------- */

static int tm_insmod(const char *params)
{
	int fd = open(ws_kmod(), O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, params, 0) ? -errno : 0;
	close(fd);
	return ret;
}

/* Reader: open, read, close every file until killed; count complete reads. */
static void tm_reader(unsigned long *count)
{
	static const char * const files[] = { "version", "pcie", "thermal", "power", "cpus" };
	char path[128], buf[4096], want[64];
	unsigned int i;
	ssize_t n;
	int fd;

	for (;;) {
		for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			snprintf(path, sizeof(path), TM_DIR "/%s", files[i]);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			n = read(fd, buf, sizeof(buf) - 1);
			while (n > 0 && read(fd, buf + 64, sizeof(buf) - 65) > 0)
				;
			close(fd);
			/* pause so that rmmod finds moments with no file open */
			usleep(2000 + rand() % 3000);
			if (n <= 0)
				continue;
			buf[n] = '\0';
			snprintf(want, sizeof(want), "# wattsched-telemetry %s v1\n", files[i]);
			if (!strncmp(buf, want, strlen(want)))
				__atomic_add_fetch(count, 1, __ATOMIC_RELAXED);
		}
	}
}

/*
 * The kernel's own race, not a module that left its files behind:
 * delete_module drops the module's last reference (try_release_module_ref())
 * before it marks the module GOING (try_stop_module(), kernel/module/main.c),
 * and an open() of one of its debugfs files in between fails
 * try_module_get() while the module still reads LIVE, so
 * full_proxy_open_regular() WARNs "debugfs file owner did not clean up at
 * exit" (fs/debugfs/file.c:461 on 7.3) and the open fails with ENXIO.  Seen
 * in 2 of 4 whole test runs of the numa VM.  The files being gone after
 * each rmmod is checked apart.  True when every WARNING since @mark is
 * that one, about one of our files, and nothing worse was logged.
 */
static bool tm_only_open_unload_race(int mark)
{
	return ws_dmesg_only_warning(mark,
				     "debugfs file owner did not clean up at exit: "
				     "(version|pcie|thermal|power|cpus)$",
				     "WARNING: fs/debugfs/file.c:[0-9]* at full_proxy_open_regular");
}

static void tm_load_unload(struct __test_metadata *_metadata, int rounds, int readers)
{
	unsigned long *count, reads;
	int mark = ws_dmesg_mark(), i, ret, busy = 0, dirty;
	pid_t pids[8];
	char bad[2048];

	count = mmap(NULL, sizeof(*count), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		     -1, 0);
	ASSERT_TRUE(count != MAP_FAILED) TH_LOG("mmap: %s", strerror(errno));
	*count = 0;
	for (i = 0; i < readers && i < 8; i++) {
		pids[i] = fork();
		ASSERT_TRUE(pids[i] >= 0) TH_LOG("fork: %s", strerror(errno));
		if (!pids[i]) {
			srand(getpid());
			tm_reader(count);
		}
	}
	for (i = 0; i < rounds; i++) {
		ret = tm_insmod("");
		ASSERT_TRUE(!ret) TH_LOG("round %d: insmod: %s", i, strerror(-ret));
		ASSERT_TRUE(ws_exists(TM_DIR "/pcie") && ws_exists(TM_DIR "/cpus"))
			TH_LOG("round %d: files missing", i);
		ws_sleep_ms(20);
		/* an open file holds a module reference: EAGAIN/EBUSY until closed */
		while (syscall(SYS_delete_module, "wattsched_telemetry", O_NONBLOCK)) {
			ASSERT_TRUE(errno == EAGAIN || errno == EBUSY)
				TH_LOG("round %d: rmmod: %s", i,
				    strerror(errno));
			ASSERT_TRUE(++busy < 100000) TH_LOG("rmmod kept failing");
			usleep(1000);
		}
		ASSERT_TRUE(!ws_exists(TM_DIR)) TH_LOG("round %d: " TM_DIR " left behind", i);
	}
	for (i = 0; i < readers && i < 8; i++) {
		kill(pids[i], SIGKILL);
		waitpid(pids[i], NULL, 0);
	}
	reads = *count;
	munmap(count, sizeof(*count));
	ws_log("%d load/unload rounds, %d readers, %lu complete reads, %d rmmod retries (busy)",
	       rounds, readers, reads, busy);
	ASSERT_TRUE(!readers || reads > 0)
		TH_LOG("the readers never read a file while it was loaded");
	ASSERT_TRUE(!ws_exists(TM_DIR)) TH_LOG(TM_DIR " left behind");
	ASSERT_TRUE(!tm_loaded()) TH_LOG("still loaded");
	dirty = ws_dmesg_bad_since(mark, bad, sizeof(bad));
	if (dirty && tm_only_open_unload_race(mark)) {
		ws_log("dmesg not judged: the kernel's open/rmmod race on a debugfs file:\n%s", bad);
		return;
	}
	ASSERT_TRUE(!dirty) TH_LOG("dmesg:\n%s", bad);
}

/*
 * load/unload 50 times while readers cat the files
 */
TEST_F_TIMEOUT(unloaded, telemetry_unload_stress, WS_TEST_TIMEOUT)
{
	tm_load_unload(_metadata, 50, 3);
}

/*
 * the module loads, shows its files and unloads 20 times cleanly
 */
TEST_F_TIMEOUT(unloaded, telemetry_basic, WS_TEST_TIMEOUT)
{
	static const char * const files[] = { "version", "pcie", "thermal", "power", "cpus" };
	char *buf = tm_buf();
	unsigned int i;

	ASSERT_TRUE(tm_insmod("") == 0) TH_LOG("insmod failed");
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		ASSERT_TRUE(tm_read(files[i], buf) > 0) TH_LOG("cannot read %s", files[i]);
		ASSERT_TRUE(tm_header_ok(buf, files[i]))
			TH_LOG("%s: bad header: %.60s", files[i], buf);
		ASSERT_TRUE(strchr(buf, '\n')[1])
			TH_LOG("%s: no record after the header", files[i]);
		ws_log("%s", buf);
	}
	ASSERT_TRUE(tm_unload(NULL)) TH_LOG("rmmod failed");
	free(buf);
	tm_load_unload(_metadata, 20, 0);
}

TEST_HARNESS_MAIN
