// SPDX-License-Identifier: GPL-2.0
/*
 * t_power.c - the host power cap.  The oracle for "CPUs in use" is
 * /proc/stat; the cap is chosen from the default model (configs/
 * power-model.conf: idle 50 W, 10 W per busy CPU, 5% reserve) so that it
 * allows exactly half the CPUs.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wstest.h"

#define LOG "/tmp/wattsched-power.log"
#define MAX_CPUS 64

static pid_t loader;

static enum ws_result loader_setup(void **ctx)
{
	char st[64];

	if (ws_scx_state(st, sizeof(st)) < 0)
		return ws_skip("kernel has no sched_ext");
	loader = ws_loader_start(LOG, "run --interval 1");
	if (loader < 0 || !ws_loader_wait_attached(15000)) {
		ws_sh("sed 's/^/# /' " LOG);
		ws_loader_stop(loader, SIGKILL, 5000);
		return WS_FAIL;
	}
	return WS_PASS;
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
	struct ws_cpustat a[MAX_CPUS] = {}, b[MAX_CPUS] = {};
	int n, cpu, busy = 0;

	ws_read_cpustats(a, MAX_CPUS);
	ws_sleep_ms(ms);
	n = ws_read_cpustats(b, MAX_CPUS);
	for (cpu = 0; cpu < n; cpu++) {
		unsigned long long dt = b[cpu].total - a[cpu].total;
		unsigned long long db = b[cpu].busy - a[cpu].busy;

		if (dt && db * 100 > dt * pct)
			busy++;
	}
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
