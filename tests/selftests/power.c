// SPDX-License-Identifier: GPL-2.0
/*
 * t_power.c - the host power cap.  The oracle for "CPUs in use" is
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

#include "wstest.h"

#define LOG "/tmp/wattsched-power.log"

static pid_t loader;

static enum ws_result start_loader(const char *args)
{
	loader = ws_loader_start(LOG, args);
	if (loader < 0 || !ws_loader_wait_attached(15000)) {
		ws_sh("sed 's/^/# /' " LOG);
		ws_loader_stop(loader, SIGKILL, 5000);
		return WS_FAIL;
	}
	return WS_PASS;
}

static enum ws_result loader_setup(void **ctx)
{
	char st[64];

	if (ws_scx_state(st, sizeof(st)) < 0)
		return ws_skip("kernel has no sched_ext");
	return start_loader("run --interval 1");
}

static void loader_cleanup(void *ctx)
{
	ws_sh("pkill -KILL stress-ng; true");
	ws_loader_stop(loader, SIGINT, 10000);
	ws_scx_wait_state("disabled", 10000);
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

static enum ws_result cap_run(void *ctx)
{
	int n, busy, half, cap;
	char st[2048];
	long long t0;
	double watts;

	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 4)
		return ws_skip("needs at least 4 CPUs, have %d", n);
	half = n / 2;
	/* the smallest cap whose 95% (the default 5% reserve) holds half the CPUs */
	cap = (50 + 10 * half) * 100 / 95 + 1;

	WS_ASSERT(ws_sh("stress-ng --cpu %d --timeout 900 --quiet >/dev/null 2>&1 &", n) == 0,
		  "cannot start stress-ng");
	/* stress-ng takes seconds to fork its workers under emulation */
	t0 = ws_now_ms();
	do
		busy = busy_cpus(1500, 80, &n);
	while (busy < n - 1 && ws_now_ms() - t0 < 20000);
	ws_log("uncapped: %d of %d CPUs above 80%% busy, %.1f s after the start", busy, n,
	       (ws_now_ms() - t0) / 1000.0);
	WS_ASSERT(busy >= n - 1, "load does not fill the machine before the cap (%d/%d)", busy, n);

	t0 = ws_now_ms();
	WS_ASSERT(ws_sh("%s cap %d >/dev/null", ws_wattsched(), cap) == 0, "cap %d refused", cap);
	ws_log("'cap %d' returned after %.1f s", cap, (ws_now_ms() - t0) / 1000.0);
	ws_sleep_ms(2000 - (ws_now_ms() - t0));
	busy = busy_cpus(1500, 50, &n);
	WS_ASSERT(status_json(st, sizeof(st)) == 0, "status failed: %s", st);
	watts = json_number(st, "power_watts");
	ws_log("cap %d W (model allows %d CPUs): %d CPUs above 50%% busy, estimate %.1f W, "
	       "active_cpus %.0f", cap, half, busy, watts, json_number(st, "active_cpus"));
	WS_ASSERT(busy <= half, "%d CPUs busy under a cap allowing %d", busy, half);
	WS_ASSERT(watts > 0 && watts <= cap, "power estimate %.1f W over the %d W cap", watts, cap);
	WS_ASSERT(json_number(st, "cap_watts") == cap, "status does not show the cap: %s", st);

	t0 = ws_now_ms();
	WS_ASSERT(ws_sh("%s cap --clear >/dev/null", ws_wattsched()) == 0, "cap --clear refused");
	ws_sleep_ms(2000 - (ws_now_ms() - t0));
	busy = busy_cpus(1500, 80, &n);
	ws_log("cap cleared: %d of %d CPUs above 80%% busy", busy, n);
	WS_ASSERT(busy >= n - 1, "full use not restored within 2 s (%d/%d busy)", busy, n);
	WS_ASSERT(status_json(st, sizeof(st)) == 0, "status failed: %s", st);
	WS_ASSERT(json_number(st, "cap_watts") == 0 && strstr(st, "\"policy\":\"balanced\""),
		  "status still shows a cap, or not the policy from before it: %s", st);
	return WS_PASS;
}
WS_TEST(cap_limits_busy_cpus,
	"a cap allowing half the CPUs by the model: within 2 s at most half are busy and the "
	"estimate is under the cap; clearing restores full use within 2 s",
	"numa", loader_setup, cap_run, loader_cleanup);

static enum ws_result cap_bad_run(void *ctx)
{
	static const char *const bad[] = { "-5", "0", "9", "100001", "1e9", "abc", "350W", "" };
	char buf[512];
	unsigned int i;
	int rc;

	WS_ASSERT(ws_sh("%s cap 500 >/dev/null", ws_wattsched()) == 0, "cap 500 refused");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = ws_sh_out(buf, sizeof(buf), "%s cap '%s' 2>&1", ws_wattsched(), bad[i]);
		WS_ASSERT(rc == 2 && strstr(buf, "is not a whole number of watts"),
			  "cap '%s': exit %d, '%s'", bad[i], rc, buf);
	}
	rc = ws_sh_out(buf, sizeof(buf), "%s cap 2>&1", ws_wattsched());
	WS_ASSERT(rc == 2 && strstr(buf, "Usage"), "cap without argument: %d %s", rc, buf);
	rc = ws_sh_out(buf, sizeof(buf), "%s cap 100 200 2>&1", ws_wattsched());
	WS_ASSERT(rc == 2, "cap with two arguments: exit %d", rc);

	/* a non-root client cannot change anything */
	rc = ws_sh_out(buf, sizeof(buf), "setpriv --reuid=65534 --regid=65534 --clear-groups "
		       "%s cap 100 2>&1", ws_wattsched());
	ws_log("non-root 'cap 100': exit %d: %s", rc, buf);
	WS_ASSERT(rc == 1 && strstr(buf, "needs root"), "non-root cap: exit %d", rc);
	rc = ws_sh_out(buf, sizeof(buf), "setpriv --reuid=65534 --regid=65534 --clear-groups "
		       "%s policy powersave 2>&1", ws_wattsched());
	WS_ASSERT(rc == 1, "non-root policy: exit %d", rc);

	WS_ASSERT(ws_sh("%s status --json | grep -q '\"cap_watts\":500,'", ws_wattsched()) == 0,
		  "the cap changed after refused requests");
	WS_ASSERT(ws_sh("%s status --json | grep -q '\"policy\":\"capped\"'", ws_wattsched()) == 0,
		  "the policy changed after refused requests");
	return WS_PASS;
}
WS_TEST(cap_bad_input,
	"negative, zero, absurd and malformed caps and a non-root client are refused; cap kept",
	"basic", loader_setup, cap_bad_run, loader_cleanup);

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

static int write_str(const char *path, const char *s)
{
	return ws_sh("printf '%%s' '%s' > %s", s, path);
}

static enum ws_result psrc_setup(void **ctx)
{
	char st[64];
	cpu_set_t set;
	int n = sysconf(_SC_NPROCESSORS_ONLN);

	if (ws_scx_state(st, sizeof(st)) < 0)
		return ws_skip("kernel has no sched_ext");
	if (!ws_exists(ws_kmod()))
		return ws_skip("%s not built", ws_kmod());
	if (n < 8)
		return ws_skip("needs 8 CPUs, have %d", n);
	if (ws_sh("insmod %s inject=1", ws_kmod()))
		return WS_FAIL;
	CPU_ZERO(&set);
	CPU_SET(n - 1, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return WS_FAIL;
	return start_loader("run --interval 1 --telemetry-stale-s 8 --safe-cap-watts 65");
}

static void psrc_cleanup(void *ctx)
{
	cpu_set_t set;
	int cpu;

	char buf[4096] = "";

	loader_cleanup(ctx);
	ws_sh_out(buf, sizeof(buf), "grep -v '^ *[0-9]' " LOG " | tail -n 25");
	ws_log("loader log:\n%s", buf);
	ws_sh("echo all > " POWER_CLEAR " 2>/dev/null; rmmod wattsched_telemetry");
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

static enum ws_result psrc_run(void *ctx)
{
	int n = sysconf(_SC_NPROCESSORS_ONLN), busy, rc;
	char st[4096], buf[512];
	long long t0;
	double w;

	WS_ASSERT(ws_sh("taskset -c 0-%d stress-ng --cpu %d --timeout 900 --quiet "
			">/dev/null 2>&1 &", n - 1, n) == 0, "cannot start stress-ng");
	t0 = ws_now_ms();
	do
		busy = busy_cpus(1500, 80, &n);
	while (busy < n - 1 && ws_now_ms() - t0 < 20000);
	WS_ASSERT(busy >= n - 1, "load does not fill the machine (%d/%d)", busy, n);

	/* RAPL: no reading from an unloaded-MSR VM until the injection */
	WS_ASSERT(status_wait(st, sizeof(st), "\"power_source\":\"model\"", 3000) == 0,
		  "before any injection the source is not the model: %s", st);
	WS_ASSERT(write_str(POWER_INJECT, "pkg=0 watts_mw=260000") == 0, "inject power failed");
	WS_ASSERT(status_wait(st, sizeof(st), "\"power_source\":\"rapl\"", 3000) == 0,
		  "injected RAPL energy not used: %s", st);
	w = json_number(st, "power_watts");
	ws_log("RAPL at an injected 260 W: status says %.1f W", w);
	WS_ASSERT(w > 234 && w < 286, "RAPL reading %.1f W, injected 260 W", w);

	/* the model alone allows 5 CPUs at 115 W; RAPL says twice the model: 1 */
	t0 = ws_now_ms();
	WS_ASSERT(ws_sh("%s cap 115 >/dev/null", ws_wattsched()) == 0, "cap 115 refused");
	ws_sleep_ms(2000 - (ws_now_ms() - t0));
	busy = busy_cpus(1500, 50, &n);
	WS_ASSERT(status_json(st, sizeof(st)) == 0, "status failed");
	ws_log("cap 115 W, RAPL 260 W: %d CPUs above 50%% busy, active_cpus %.0f", busy,
	       json_number(st, "active_cpus"));
	WS_ASSERT(busy <= 1, "%d CPUs busy; measured power at twice the model allows 1", busy);
	WS_ASSERT(strstr(st, "\"compliance\":\"over_cap\""),
		  "260 W under a 115 W cap is not over_cap: %s", st);

	/* a pushed reading (a BMC's) takes precedence over RAPL */
	rc = ws_sh_out(buf, sizeof(buf), "%s power 60 2>&1", ws_wattsched());
	WS_ASSERT(rc == 0 && strstr(buf, "60.000 W pushed"), "power 60: exit %d: %s", rc, buf);
	WS_ASSERT(status_wait(st, sizeof(st), "\"power_source\":\"pushed\"", 2000) == 0,
		  "pushed reading not the source: %s", st);
	WS_ASSERT(json_number(st, "power_watts") == 60, "pushed 60 W, status: %s", st);
	/* 60 W measured against a 60 W model: the set grows back, after the dwell */
	t0 = ws_now_ms();
	do {
		WS_ASSERT(push("60") == 0, "push 60 refused");
		busy = busy_cpus(1000, 50, &n);
		if (!get(st, sizeof(st)))
			ws_log("%.1f s: %d busy; loader: active_cpus %.0f, %.1f W %s",
			       (ws_now_ms() - t0) / 1000.0, busy, json_number(st, "active_cpus"),
			       json_number(st, "power_watts"),
			       strstr(st, "\"power_source\":\"pushed\"") ? "pushed" : "not pushed");
	} while (busy < 3 && ws_now_ms() - t0 < 25000);
	ws_log("pushed 60 W: %d CPUs busy after %.1f s", busy, (ws_now_ms() - t0) / 1000.0);
	WS_ASSERT(busy >= 3, "the set did not grow on a low measured power (%d busy)", busy);

	/* both feeds stop: stale, the safe cap is in force */
	WS_ASSERT(write_str(POWER_CLEAR, "power") == 0, "inject/clear power failed");
	t0 = ws_now_ms();
	WS_ASSERT(status_wait(st, sizeof(st), "\"telemetry_stale\":true", (STALE_S + 8) * 1000) == 0,
		  "telemetry never went stale: %s", st);
	ws_log("stale after %.1f s (stale time %d s)", (ws_now_ms() - t0) / 1000.0, STALE_S);
	WS_ASSERT(json_number(st, "cap_in_force_watts") == SAFE_W &&
		  json_number(st, "cap_watts") == 115 && strstr(st, "\"power_source\":\"model\""),
		  "stale: the safe cap is not in force, or the cap changed: %s", st);
	ws_sleep_ms(1000);
	busy = busy_cpus(1500, 50, &n);
	ws_log("safe cap %d W in force: %d CPUs busy", SAFE_W, busy);
	WS_ASSERT(busy <= 1, "%d CPUs busy under the safe cap allowing 1", busy);

	/* a fresh reading restores the cap */
	WS_ASSERT(push("70.5") == 0, "power 70.5 refused");
	WS_ASSERT(status_wait(st, sizeof(st), "\"telemetry_stale\":false", 3000) == 0 &&
		  json_number(st, "cap_in_force_watts") == 115 &&
		  json_number(st, "power_watts") == 70.5,
		  "a fresh reading did not end the stale state: %s", st);

	/* bad input changes nothing; --clear ends measurement on purpose */
	rc = ws_sh_out(buf, sizeof(buf), "%s power -5 2>&1", ws_wattsched());
	WS_ASSERT(rc == 2 && strstr(buf, "not a number of watts"), "power -5: %d %s", rc, buf);
	rc = ws_sh_out(buf, sizeof(buf), "%s power 0 2>&1", ws_wattsched());
	WS_ASSERT(rc == 2, "power 0: exit %d", rc);
	rc = ws_sh_out(buf, sizeof(buf), "setpriv --reuid=65534 --regid=65534 --clear-groups "
		       "%s power 50 2>&1", ws_wattsched());
	WS_ASSERT(rc == 1 && strstr(buf, "needs root"), "non-root power: exit %d: %s", rc, buf);
	/* the last accepted push stays what it was (the execs may outlast its freshness) */
	WS_ASSERT(get(st, sizeof(st)) == 0 && json_number(st, "pushed_watts") == 70.5,
		  "refused readings changed the pushed reading: %s", st);
	WS_ASSERT(ws_sh("%s power --clear >/dev/null", ws_wattsched()) == 0, "power --clear");
	WS_ASSERT(status_wait(st, sizeof(st), "\"cap_in_force_watts\":115,", 3000) == 0 &&
		  strstr(st, "\"power_source\":\"model\"") &&
		  strstr(st, "\"telemetry_stale\":false") &&
		  json_number(st, "cap_in_force_watts") == 115,
		  "after --clear: not the model, or stale: %s", st);
	return WS_PASS;
}
WS_TEST(power_sources_stale_safe_cap,
	"RAPL (injected) then a pushed reading become the cap's power source and steer the "
	"CPU count; when both stop the telemetry is stale and the safe cap applies; a fresh "
	"reading restores the cap; bad readings are refused",
	"numa", psrc_setup, psrc_run, psrc_cleanup);
