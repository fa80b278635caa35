// SPDX-License-Identifier: GPL-2.0
/*
 * power.c - the host power cap.  The oracle for "CPUs in use" is
 * /proc/stat; the cap is chosen from the default model (configs/
 * power-model.conf: idle 50 W, 10 W per busy CPU, 5% reserve) so that it
 * allows exactly half the CPUs.
 */
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ws_test.h"

#define LOG "/tmp/wattsched-power.log"

static void loader_down(struct ws_loader *ld)
{
	ws_kill_named("stress-ng", SIGKILL);
	ws_loader_down(ld, SIGINT);
}

/* The numa VM (8 CPUs) and the loader attached. */
FIXTURE(cap) {
	struct ws_loader ld;
};

FIXTURE_SETUP(cap)
{
	WS_NEED_MACHINE("numa");
	WS_LOADER_UP(&self->ld, LOG, "run --interval 1");
}

FIXTURE_TEARDOWN(cap)
{
	loader_down(&self->ld);
}

/* Any machine, and the loader attached. */
FIXTURE(loader) {
	struct ws_loader ld;
};

FIXTURE_SETUP(loader)
{
	WS_LOADER_UP(&self->ld, LOG, "run --interval 1");
}

FIXTURE_TEARDOWN(loader)
{
	loader_down(&self->ld);
}

/* CPUs more than @pct% busy over @ms, from /proc/stat. */
static int busy_cpus(int ms, int pct, int *nr_cpus)
{
	double frac[WS_MAX_TEST_CPUS];
	int n, cpu, busy = 0;

	n = ws_busy_over(ms, frac);
	for (cpu = 0; cpu < n; cpu++)
		if (frac[cpu] * 100 > pct)
			busy++;
	*nr_cpus = n;
	return busy;
}

/* `status --json` once: every exec costs seconds under load in an emulated guest. */
static int status_json(char *buf, size_t len)
{
	return ws_sh_out(buf, len, "%s status --json", ws_wattsched());
}

static double json_number(const char *json, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(json, pat);
	return p ? atof(p + strlen(pat)) : -1;
}

/*
 * a cap allowing half the CPUs by the model: within 2 s at most half are
 * busy and the estimate is under the cap; clearing restores full use within
 * 2 s
 */
TEST_F_TIMEOUT(cap, cap_limits_busy_cpus, WS_TEST_TIMEOUT)
{
	int n, busy, half, cap;
	char st[2048];
	long long t0;
	double watts;

	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 4)
		SKIP(return, "needs at least 4 CPUs, have %d", n);
	half = n / 2;
	/* the smallest cap whose 95% (the default 5% reserve) holds half the CPUs */
	cap = (50 + 10 * half) * 100 / 95 + 1;

	ASSERT_TRUE(ws_sh("stress-ng --cpu %d --timeout 900 --quiet >/dev/null 2>&1 &", n) == 0)
		TH_LOG("cannot start stress-ng");
	/* stress-ng takes seconds to fork its workers under emulation */
	t0 = ws_now_ms();
	do
		busy = busy_cpus(1500, 80, &n);
	while (busy < n - 1 && ws_now_ms() - t0 < 20000);
	ws_log("uncapped: %d of %d CPUs above 80%% busy, %.1f s after the start", busy, n,
	       (ws_now_ms() - t0) / 1000.0);
	ASSERT_TRUE(busy >= n - 1)
		TH_LOG("load does not fill the machine before the cap (%d/%d)", busy, n);

	t0 = ws_now_ms();
	ASSERT_TRUE(ws_sh("%s cap %d >/dev/null", ws_wattsched(), cap) == 0)
		TH_LOG("cap %d refused", cap);
	ws_log("'cap %d' returned after %.1f s", cap, (ws_now_ms() - t0) / 1000.0);
	ws_sleep_ms(2000 - (ws_now_ms() - t0));
	busy = busy_cpus(1500, 50, &n);
	ASSERT_TRUE(status_json(st, sizeof(st)) == 0) TH_LOG("status failed: %s", st);
	watts = json_number(st, "power_watts");
	ws_log("cap %d W (model allows %d CPUs): %d CPUs above 50%% busy, estimate %.1f W, "
	       "active_cpus %.0f", cap, half, busy, watts, json_number(st, "active_cpus"));
	ASSERT_TRUE(busy <= half) TH_LOG("%d CPUs busy under a cap allowing %d", busy, half);
	ASSERT_TRUE(watts > 0 && watts <= cap)
		TH_LOG("power estimate %.1f W over the %d W cap", watts, cap);
	ASSERT_TRUE(json_number(st, "cap_watts") == cap)
		TH_LOG("status does not show the cap: %s", st);

	t0 = ws_now_ms();
	ASSERT_TRUE(ws_sh("%s cap --clear >/dev/null", ws_wattsched()) == 0)
		TH_LOG("cap --clear refused");
	ws_sleep_ms(2000 - (ws_now_ms() - t0));
	busy = busy_cpus(1500, 80, &n);
	ws_log("cap cleared: %d of %d CPUs above 80%% busy", busy, n);
	ASSERT_TRUE(busy >= n - 1) TH_LOG("full use not restored within 2 s (%d/%d busy)", busy, n);
	/* the state after the load: beside the hogs a status takes tens of seconds */
	ws_kill_named("stress-ng", SIGKILL);
	ASSERT_TRUE(status_json(st, sizeof(st)) == 0) TH_LOG("status failed: %s", st);
	ASSERT_TRUE(json_number(st, "cap_watts") == 0 && strstr(st, "\"policy\":\"balanced\""))
		TH_LOG("status still shows a cap, or not the policy from before it: %s", st);
}

/* The numa VM, and the loader with a power model that has a partial CPU. */
#define PARTIAL_MODEL "/tmp/wattsched-partial.conf"

FIXTURE(partial) {
	struct ws_loader ld;
};

FIXTURE_SETUP(partial)
{
	WS_NEED_MACHINE("numa");
	ASSERT_TRUE(ws_sh("printf 'partial_window_ms = 50\\n' > " PARTIAL_MODEL) == 0);
	WS_LOADER_UP(&self->ld, LOG, "run --interval 1 --power-model " PARTIAL_MODEL);
}

FIXTURE_TEARDOWN(partial)
{
	loader_down(&self->ld);
	unlink(PARTIAL_MODEL);
}

/*
 * a cap between two whole CPUs (partial_window_ms): half the CPUs busy,
 * one more the cap's share of the time, the rest idle, by /proc/stat; the
 * partial CPU gone when the cap is cleared
 */
TEST_F_TIMEOUT(partial, cap_partial_cpu, WS_TEST_TIMEOUT)
{
	double frac[WS_MAX_TEST_CPUS], total = 0, part;
	int n, cpu, half, cap, pcpu, busy;
	char st[4096];
	long long t0;

	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 4)
		SKIP(return, "needs at least 4 CPUs, have %d", n);
	half = n / 2;
	/* the cap whose 95% holds half the CPUs and half of one more: 50 + 10 (half + 0.5) */
	cap = (50 + 10 * half + 5) * 100 / 95;

	ASSERT_TRUE(ws_sh("stress-ng --cpu %d --timeout 900 --quiet >/dev/null 2>&1 &", n) == 0)
		TH_LOG("cannot start stress-ng");
	t0 = ws_now_ms();
	do
		busy = busy_cpus(1500, 80, &n);
	while (busy < n - 1 && ws_now_ms() - t0 < 20000);
	ASSERT_TRUE(busy >= n - 1)
		TH_LOG("load does not fill the machine before the cap (%d/%d)", busy, n);

	ASSERT_TRUE(ws_sh("%s cap %d >/dev/null", ws_wattsched(), cap) == 0)
		TH_LOG("cap %d refused", cap);
	ASSERT_TRUE(status_json(st, sizeof(st)) == 0) TH_LOG("status failed: %s", st);
	pcpu = json_number(st, "partial_cpu");
	ws_log("cap %d W: active_cpus %.0f, partial_cpu %d, partial_permille %.0f", cap,
	       json_number(st, "active_cpus"), pcpu, json_number(st, "partial_permille"));
	ASSERT_TRUE(json_number(st, "active_cpus") == half && pcpu >= 0 && pcpu < n &&
		    json_number(st, "partial_permille") == 500)
		TH_LOG("status does not show %d CPUs and one at 50%%: %s", half, st);
	/* the trim learns what the CPU runs of its share within a few 250 ms periods */
	ws_sleep_ms(3000);
	n = ws_busy_over(4000, frac);
	for (cpu = 0; cpu < n; cpu++) {
		ws_log("cpu%d: %.0f%% busy", cpu, frac[cpu] * 100);
		total += frac[cpu];
	}
	part = frac[pcpu];
	ASSERT_TRUE(status_json(st, sizeof(st)) == 0) TH_LOG("status failed: %s", st);
	ws_log("%.2f CPUs busy in all; the partial cpu%d %.0f%%, given %.0f permille", total, pcpu,
	       part * 100, json_number(st, "partial_given_permille"));
	ASSERT_TRUE(part >= 0.3 && part <= 0.7)
		TH_LOG("cpu%d is %.0f%% busy, not about half the time", pcpu, part * 100);
	ASSERT_TRUE(total >= half + 0.3 && total <= half + 0.8)
		TH_LOG("%.2f CPUs busy, not about %d.5", total, half);
	/* without the socket, status reads the pinned budget: the CPU and its given share */
	ASSERT_TRUE(ws_sh_out(st, sizeof(st), "WATTSCHED_SOCKET=/nonexistent %s status --json",
			      ws_wattsched()) == 0) TH_LOG("status without the socket: %s", st);
	ws_log("status without the socket: partial_cpu %.0f, given %.0f permille",
	       json_number(st, "partial_cpu"), json_number(st, "partial_given_permille"));
	ASSERT_TRUE(json_number(st, "partial_cpu") == pcpu &&
		    json_number(st, "partial_given_permille") >= 10 &&
		    json_number(st, "partial_given_permille") <= 950 &&
		    strstr(st, "\"partial_permille\":null"))
		TH_LOG("status from the pinned maps does not show cpu%d's share: %s", pcpu, st);

	ASSERT_TRUE(ws_sh("%s cap --clear >/dev/null", ws_wattsched()) == 0)
		TH_LOG("cap --clear refused");
	ws_kill_named("stress-ng", SIGKILL);
	ASSERT_TRUE(status_json(st, sizeof(st)) == 0) TH_LOG("status failed: %s", st);
	ASSERT_TRUE(json_number(st, "cap_watts") == 0 && strstr(st, "\"partial_cpu\":null"))
		TH_LOG("the partial CPU outlived the cap: %s", st);
}

/*
 * negative, zero, absurd and malformed caps and a non-root client are
 * refused; cap kept
 */
TEST_F_TIMEOUT(loader, cap_bad_input, WS_TEST_TIMEOUT)
{
	static const char *const bad[] = { "-5", "0", "9", "100001", "1e9", "abc", "350W", "" };
	char buf[512];
	unsigned int i;
	int rc;

	ASSERT_TRUE(ws_sh("%s cap 500 >/dev/null", ws_wattsched()) == 0) TH_LOG("cap 500 refused");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = ws_sh_out(buf, sizeof(buf), "%s cap '%s' 2>&1", ws_wattsched(), bad[i]);
		ASSERT_TRUE(rc == 2 && strstr(buf, "is not a whole number of watts"))
			TH_LOG("cap '%s': exit %d, '%s'", bad[i], rc, buf);
	}
	rc = ws_sh_out(buf, sizeof(buf), "%s cap 2>&1", ws_wattsched());
	ASSERT_TRUE(rc == 2 && strstr(buf, "Usage")) TH_LOG("cap without argument: %d %s", rc, buf);
	rc = ws_sh_out(buf, sizeof(buf), "%s cap 100 200 2>&1", ws_wattsched());
	ASSERT_TRUE(rc == 2) TH_LOG("cap with two arguments: exit %d", rc);

	/* a non-root client cannot change anything */
	rc = ws_sh_out(buf, sizeof(buf), "setpriv --reuid=65534 --regid=65534 --clear-groups "
		       "%s cap 100 2>&1", ws_wattsched());
	ws_log("non-root 'cap 100': exit %d: %s", rc, buf);
	ASSERT_TRUE(rc == 1 && strstr(buf, "needs root")) TH_LOG("non-root cap: exit %d", rc);
	rc = ws_sh_out(buf, sizeof(buf), "setpriv --reuid=65534 --regid=65534 --clear-groups "
		       "%s policy powersave 2>&1", ws_wattsched());
	ASSERT_TRUE(rc == 1) TH_LOG("non-root policy: exit %d", rc);

	ASSERT_TRUE(ws_sh("%s status --json | grep -q '\"cap_watts\":500,'", ws_wattsched()) == 0)
		TH_LOG("the cap changed after refused requests");
	ASSERT_TRUE(ws_sh("%s status --json | grep -q '\"policy\":\"capped\"'", ws_wattsched()) == 0)
		TH_LOG("the policy changed after refused requests");
}

/*
 * Power sources and the telemetry-stale fail-safe.  The module (inject=1)
 * plays RAPL: inject/power makes its package energy grow at a chosen rate.
 * The test and every command it runs stay on the last CPU, which a cap
 * leaves out of the set (the set packs from CPU 0), so that `status` is
 * not queued behind the hogs on the one CPU the cap allows.
 */
#define POWER_INJECT	"/sys/kernel/debug/wattsched/inject/power"
#define POWER_CLEAR	"/sys/kernel/debug/wattsched/inject/clear"
#define STALE_S		8
#define SAFE_W		65	/* 0.95 * 65 = 61.75 W: one CPU by the model */

/*
 * The numa VM, the module loaded with inject=1, this test on the last CPU,
 * and the loader with an 8 s staleness limit and a 65 W safe cap.
 */
FIXTURE(sources) {
	struct ws_loader ld;
};

FIXTURE_SETUP(sources)
{
	cpu_set_t set;

	WS_NEED_MACHINE("numa");
	if (!ws_exists(ws_kmod()))
		SKIP(return, "%s is not built", ws_kmod());
	ASSERT_EQ(0, ws_sh("insmod %s inject=1", ws_kmod())) TH_LOG("insmod failed");
	CPU_ZERO(&set);
	CPU_SET(7, &set);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(set), &set)) TH_LOG("cannot move to cpu7");
	WS_LOADER_UP(&self->ld, LOG, "run --interval 1 --telemetry-stale-s 8 --safe-cap-watts 65");
}

FIXTURE_TEARDOWN(sources)
{
	char buf[4096] = "";
	cpu_set_t set;
	int cpu;

	loader_down(&self->ld);
	ws_sh_out(buf, sizeof(buf), "grep -v '^ *[0-9]' " LOG " | tail -n 25");
	ws_log("loader log:\n%s", buf);
	ws_kmod_unload();
	CPU_ZERO(&set);
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/*
 * The loader's state through the socket's "get" (its fleet state has the
 * power fields), and pushes the same way: an exec under emulated load can
 * take longer than a reading stays fresh.
 */
static int get(char *st, size_t len)
{
	return ws_ctl_raw("{\"op\":\"get\"}", 12, st, len);
}

static int push(const char *watts)
{
	char req[96], ans[2048];

	snprintf(req, sizeof(req), "{\"op\":\"power\",\"watts\":%s}", watts);
	return ws_ctl_raw(req, strlen(req), ans, sizeof(ans)) || !strstr(ans, "\"ok\":true");
}

/* Poll the state until @want (a JSON fragment) shows, up to @ms; 0 when it did. */
static int status_wait(char *st, size_t len, const char *want, int ms)
{
	long long end = ws_now_ms() + ms;

	do {
		if (!get(st, len) && strstr(st, want))
			return 0;
		ws_sleep_ms(250);
	} while (ws_now_ms() < end);
	return -1;
}

/*
 * RAPL (injected) then a pushed reading become the cap's power source and
 * steer the CPU count; when both stop the telemetry is stale and the safe
 * cap applies; a fresh reading restores the cap; bad readings are refused
 */
TEST_F_TIMEOUT(sources, power_sources_stale_safe_cap, WS_TEST_TIMEOUT)
{
	static const char cap115[] = "{\"op\":\"cap\",\"watts\":115}";
	int n = sysconf(_SC_NPROCESSORS_ONLN), busy, rc;
	char st[4096], buf[512];
	long long t0;
	double w;

	ASSERT_TRUE(ws_sh("taskset -c 0-%d stress-ng --cpu %d --timeout 900 --quiet "
			">/dev/null 2>&1 &", n - 1, n) == 0) TH_LOG("cannot start stress-ng");
	t0 = ws_now_ms();
	do
		busy = busy_cpus(1500, 80, &n);
	while (busy < n - 1 && ws_now_ms() - t0 < 20000);
	ASSERT_TRUE(busy >= n - 1) TH_LOG("load does not fill the machine (%d/%d)", busy, n);

	/* RAPL: no reading from an unloaded-MSR VM until the injection */
	ASSERT_TRUE(status_wait(st, sizeof(st), "\"power_source\":\"model\"", 3000) == 0)
		TH_LOG("before any injection the source is not the model: %s", st);
	ASSERT_TRUE(ws_write(POWER_INJECT, "pkg=0 watts_mw=260000") == 0)
		TH_LOG("inject power failed");
	ASSERT_TRUE(status_wait(st, sizeof(st), "\"power_source\":\"rapl\"", 3000) == 0)
		TH_LOG("injected RAPL energy not used: %s", st);
	w = json_number(st, "power_watts");
	ws_log("RAPL at an injected 260 W: status says %.1f W", w);
	ASSERT_TRUE(w > 234 && w < 286) TH_LOG("RAPL reading %.1f W, injected 260 W", w);

	/*
	 * The model alone allows 5 CPUs at 115 W; RAPL says twice the model: 1.
	 * The cap goes through the socket, as the CLI sends it: beside the
	 * hogs the CLI takes 25-100 s to start (cap_limits_busy_cpus runs it).
	 */
	t0 = ws_now_ms();
	ASSERT_TRUE(ws_ctl_raw(cap115, strlen(cap115), buf, sizeof(buf)) == 0 &&
		    strstr(buf, "\"ok\":true")) TH_LOG("cap 115 refused: %s", buf);
	ws_sleep_ms(2000 - (ws_now_ms() - t0));
	busy = busy_cpus(1500, 50, &n);
	ASSERT_TRUE(get(st, sizeof(st)) == 0) TH_LOG("get failed");
	ws_log("cap 115 W, RAPL 260 W: %d CPUs above 50%% busy, active_cpus %.0f", busy,
	       json_number(st, "active_cpus"));
	ASSERT_TRUE(busy <= 1)
		TH_LOG("%d CPUs busy; measured power at twice the model allows 1", busy);
	ASSERT_NE(NULL, strstr(st, "\"compliance\":\"over_cap\""))
		TH_LOG("260 W under a 115 W cap is not over_cap: %s", st);

	/* a pushed reading (a BMC's) takes precedence over RAPL */
	rc = ws_sh_out(buf, sizeof(buf), "%s power 60 2>&1", ws_wattsched());
	ASSERT_TRUE(rc == 0 && strstr(buf, "60.000 W pushed"))
		TH_LOG("power 60: exit %d: %s", rc, buf);
	ASSERT_TRUE(status_wait(st, sizeof(st), "\"power_source\":\"pushed\"", 2000) == 0)
		TH_LOG("pushed reading not the source: %s", st);
	ASSERT_TRUE(json_number(st, "power_watts") == 60) TH_LOG("pushed 60 W, status: %s", st);
	/* 60 W measured against a 60 W model: the set grows back, after the dwell */
	t0 = ws_now_ms();
	do {
		ASSERT_TRUE(push("60") == 0) TH_LOG("push 60 refused");
		busy = busy_cpus(1000, 50, &n);
		if (!get(st, sizeof(st)))
			ws_log("%.1f s: %d busy; loader: active_cpus %.0f, %.1f W %s",
			       (ws_now_ms() - t0) / 1000.0, busy, json_number(st, "active_cpus"),
			       json_number(st, "power_watts"),
			       strstr(st, "\"power_source\":\"pushed\"") ? "pushed" : "not pushed");
	} while (busy < 3 && ws_now_ms() - t0 < 25000);
	ws_log("pushed 60 W: %d CPUs busy after %.1f s", busy, (ws_now_ms() - t0) / 1000.0);
	ASSERT_TRUE(busy >= 3)
		TH_LOG("the set did not grow on a low measured power (%d busy)", busy);

	/* both feeds stop: stale, the safe cap is in force */
	ASSERT_TRUE(ws_write(POWER_CLEAR, "power") == 0) TH_LOG("inject/clear power failed");
	t0 = ws_now_ms();
	ASSERT_TRUE(status_wait(st, sizeof(st), "\"telemetry_stale\":true", (STALE_S + 8) * 1000) == 0)
		TH_LOG("telemetry never went stale: %s", st);
	ws_log("stale after %.1f s (stale time %d s)", (ws_now_ms() - t0) / 1000.0, STALE_S);
	ASSERT_TRUE(json_number(st, "cap_in_force_watts") == SAFE_W &&
		    json_number(st, "cap_watts") == 115 && strstr(st, "\"power_source\":\"model\""))
		TH_LOG("stale: the safe cap is not in force, or the cap changed: %s", st);
	ws_sleep_ms(1000);
	busy = busy_cpus(1500, 50, &n);
	ws_log("safe cap %d W in force: %d CPUs busy", SAFE_W, busy);
	ASSERT_TRUE(busy <= 1) TH_LOG("%d CPUs busy under the safe cap allowing 1", busy);

	/* a fresh reading restores the cap */
	ASSERT_TRUE(push("70.5") == 0) TH_LOG("power 70.5 refused");
	ASSERT_TRUE(status_wait(st, sizeof(st), "\"telemetry_stale\":false", 3000) == 0 &&
		    json_number(st, "cap_in_force_watts") == 115 &&
		    json_number(st, "power_watts") == 70.5)
		TH_LOG("a fresh reading did not end the stale state: %s", st);

	/* bad input changes nothing; --clear ends measurement on purpose */
	rc = ws_sh_out(buf, sizeof(buf), "%s power -5 2>&1", ws_wattsched());
	ASSERT_TRUE(rc == 2 && strstr(buf, "not a number of watts"))
		TH_LOG("power -5: %d %s", rc, buf);
	rc = ws_sh_out(buf, sizeof(buf), "%s power 0 2>&1", ws_wattsched());
	ASSERT_TRUE(rc == 2) TH_LOG("power 0: exit %d", rc);
	rc = ws_sh_out(buf, sizeof(buf), "setpriv --reuid=65534 --regid=65534 --clear-groups "
		       "%s power 50 2>&1", ws_wattsched());
	ASSERT_TRUE(rc == 1 && strstr(buf, "needs root"))
		TH_LOG("non-root power: exit %d: %s", rc, buf);
	/* the last accepted push stays what it was (the execs may outlast its freshness) */
	ASSERT_TRUE(get(st, sizeof(st)) == 0 && json_number(st, "pushed_watts") == 70.5)
		TH_LOG("refused readings changed the pushed reading: %s", st);
	ASSERT_TRUE(ws_sh("%s power --clear >/dev/null", ws_wattsched()) == 0)
		TH_LOG("power --clear");
	ASSERT_TRUE(status_wait(st, sizeof(st), "\"cap_in_force_watts\":115,", 3000) == 0 &&
		    strstr(st, "\"power_source\":\"model\"") &&
		    strstr(st, "\"telemetry_stale\":false") &&
		    json_number(st, "cap_in_force_watts") == 115)
		TH_LOG("after --clear: not the model, or stale: %s", st);
}

TEST_HARNESS_MAIN
