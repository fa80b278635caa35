// SPDX-License-Identifier: GPL-2.0
/*
 * fleet.c - the fleet feed on a running loader: `rack apply`, bad and
 * expired documents, the lease's fail-safe, `run --rack-dir` with a
 * ConfigMap-style ..data swap, and the metrics file.  The oracle for the
 * cap in force is `status --json`, i.e. the loader's own answer; the
 * expected shares are worked out by hand from the documents below.
 *
 * The documents name this guest by its host name and are issued "now", so
 * their leases are real ones the loader judges by its own clock.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "promcheck.h"
#include "rackdoc.h"
#include "ws_test.h"

#define DIR	"/tmp/ws-fleet"
#define LOG	DIR "/loader.log"
#define PROM	DIR "/metrics/wattsched.prom"
#define RACKDIR	DIR "/rack"

static struct ws_loader ld;
static char host[256];

/* A document issued now naming this host; tests/unit/rackdoc.h has the shape. */
static int write_doc(const char *path, int cap, int safe, int lease, int min, int max,
		     const char *policy)
{
	return rackdoc_write(path, host, time(NULL), cap, safe, lease, min, max, policy);
}

static void log_loader(void)
{
	char buf[4096];

	if (ws_sh_out(buf, sizeof(buf), "tail -n 30 " LOG) >= 0)
		ws_log("loader log (last 30 lines):\n%s", buf);
}

/* This host's name, for the documents; @fresh: empty the scratch directory. */
static int prepare(bool fresh)
{
	if (gethostname(host, sizeof(host) - 1))
		return -1;
	return fresh ? ws_sh("rm -rf " DIR " && mkdir -p " DIR "/metrics " RACKDIR) : 0;
}

static void stop(void)
{
	ws_loader_down(&ld, SIGINT);
	log_loader();
}

/*
 * A fixture whose setup empties the scratch directory and starts the loader
 * with @args, and whose teardown stops it.
 */
#define FLEET_FIXTURE(name, args)					\
	FIXTURE(name) {							\
	};								\
	FIXTURE_SETUP(name)						\
	{								\
		ASSERT_EQ(0, prepare(true)) TH_LOG("cannot prepare " DIR); \
		WS_LOADER_UP(&ld, LOG, args);				\
	}								\
	FIXTURE_TEARDOWN(name)						\
	{								\
		stop();							\
	}

static int status(char *buf, size_t len)
{
	return ws_sh_out(buf, len, "%s status --json", ws_wattsched());
}

/* Does the JSON text have "key":VALUE, VALUE as written (e.g. "\"rack\"" or "400")? */
static bool has(const char *json, const char *key, const char *value)
{
	char pat[256];

	snprintf(pat, sizeof(pat), "\"%s\":%s", key, value);
	return strstr(json, pat) != NULL;
}

/* Poll status until it has "key":value, for up to @ms. */
static bool wait_status(char *buf, size_t len, const char *key, const char *value, int ms)
{
	long long end = ws_now_ms() + ms;

	do {
		if (status(buf, len) == 0 && has(buf, key, value))
			return true;
		ws_sleep_ms(1000);
	} while (ws_now_ms() < end);
	return false;
}

/* A loader steering every period; the scratch directory empty. */
FLEET_FIXTURE(rack_apply, "run --interval 0")

/*
 * rack apply sets this host's share (status says origin rack); bad, expired
 * and foreign documents are refused with the state kept; status works
 * without the socket
 */
TEST_F_TIMEOUT(rack_apply, fleet_rack_apply, WS_TEST_TIMEOUT)
{
	char buf[4096], gen[64], *p;
	int rc;

	/* No socket: status still works and says why it knows less. */
	rc = ws_sh_out(buf, sizeof(buf), "WATTSCHED_SOCKET=" DIR "/none %s status --json",
		       ws_wattsched());
	ws_log("status without the socket: exit %d: %s", rc, buf);
	ASSERT_TRUE(rc == 0 && has(buf, "cap_origin", "null") &&
		    strstr(buf, "\"loader_note\":\"cannot reach the loader at " DIR "/none"))
		TH_LOG("status without a socket: exit %d: %s", rc, buf);
	ASSERT_TRUE(status(buf, sizeof(buf)) == 0 && has(buf, "cap_origin", "\"none\"") &&
		    has(buf, "cap_watts", "0")) TH_LOG("before any document: %s", buf);

	/* cap 900: this host gets 100 + 2 * 600 / 4 = 400 W */
	ASSERT_TRUE(write_doc(DIR "/good.json", 900, 0, 3600, 100, 1000, "performance") == 0)
		TH_LOG("cannot write the document");
	rc = ws_sh_out(buf, sizeof(buf), "%s rack apply " DIR "/good.json 2>&1", ws_wattsched());
	ws_log("rack apply good.json: exit %d: %s", rc, buf);
	ASSERT_TRUE(rc == 0) TH_LOG("rack apply: exit %d: %s", rc, buf);
	ASSERT_TRUE(status(buf, sizeof(buf)) == 0) TH_LOG("status failed");
	ws_log("status --json: %s", buf);
	ASSERT_TRUE(has(buf, "cap_watts", "400") && has(buf, "cap_origin", "\"rack\"") &&
		    has(buf, "rack", "\"vm-rack\"") && has(buf, "policy", "\"performance\"") &&
		    has(buf, "share_watts", "400.000") && has(buf, "lease_expired", "false"))
		TH_LOG("the loader does not hold this host's share: %s", buf);
	p = strstr(buf, "\"generation\":");
	ASSERT_NE(NULL, p) TH_LOG("no generation: %s", buf);
	snprintf(gen, sizeof(gen), "%.*s", (int)strcspn(p, ","), p);

	/* A bad document: exit 2, its precise error, nothing sent. */
	ASSERT_TRUE(write_doc(DIR "/bad.json", 250, 0, 3600, 100, 1000, "powersave") == 0)
		TH_LOG("cannot write the document");
	rc = ws_sh_out(buf, sizeof(buf), "%s rack apply " DIR "/bad.json 2>&1", ws_wattsched());
	ws_log("rack apply bad.json: exit %d: %s", rc, buf);
	ASSERT_TRUE(rc == 2 && strstr(buf, "bad.json: cap_watts: 250 W is below the sum of the "
				    "hosts' min_watts (300 W)"))
		TH_LOG("bad document: exit %d: %s", rc, buf);
	ASSERT_TRUE(status(buf, sizeof(buf)) == 0 && has(buf, "cap_watts", "400") &&
		    has(buf, "policy", "\"performance\"") && strstr(buf, gen))
		TH_LOG("a bad document changed the state (want %s): %s", gen, buf);

	/*
	 * Expired by the loader's clock, though valid at --now: the client
	 * sends it, the loader refuses it.
	 */
	ASSERT_TRUE(ws_sh("sed -e 's/\"issued_at\": \"[^\"]*\"/\"issued_at\": \"2025-01-01T00:00:00Z\"/' "
			DIR "/good.json > " DIR "/old.json") == 0) TH_LOG("sed");
	rc = ws_sh_out(buf, sizeof(buf), "%s rack apply " DIR "/old.json --now "
		       "2025-01-01T00:10:00Z 2>&1", ws_wattsched());
	ws_log("rack apply old.json --now (expired for the loader): exit %d: %s", rc, buf);
	ASSERT_TRUE(rc == 1 && strstr(buf, "refused: rack: lease expired at 2025-01-01T01:00:00Z"))
		TH_LOG("expired document: exit %d: %s", rc, buf);
	ASSERT_TRUE(status(buf, sizeof(buf)) == 0 && has(buf, "cap_watts", "400") && strstr(buf, gen))
		TH_LOG("a refused document changed the state: %s", buf);

	/* This host not in the document: exit 2. */
	rc = ws_sh_out(buf, sizeof(buf), "%s rack apply " DIR "/good.json --host-id nosuch 2>&1",
		       ws_wattsched());
	ASSERT_TRUE(rc == 2 && strstr(buf, "no entry for host \"nosuch\""))
		TH_LOG("exit %d: %s", rc, buf);

	/* An operator's cap takes over from the document. */
	ASSERT_TRUE(ws_sh("%s cap 300 >/dev/null", ws_wattsched()) == 0) TH_LOG("cap 300 refused");
	ASSERT_TRUE(status(buf, sizeof(buf)) == 0 && has(buf, "cap_watts", "300") &&
		    has(buf, "cap_origin", "\"cli\"") && has(buf, "rack", "null"))
		TH_LOG("after 'cap 300': %s", buf);
}

/* A loader with a safe cap of 123 W. */
FLEET_FIXTURE(lease, "run --interval 0 --safe-cap-watts 123")

/*
 * Apply a 25 s document (cap 900: share 400 W) with safe_cap_watts @safe,
 * then wait for the safe cap: @want_cap watts, origin safe.
 */
static void lease_round(struct __test_metadata *_metadata, int safe, const char *want_cap)
{
	char buf[4096];
	int rc;

	ASSERT_TRUE(write_doc(DIR "/short.json", 900, safe, 25, 100, 1000, "balanced") == 0)
		TH_LOG("write");
	rc = ws_sh_out(buf, sizeof(buf), "%s rack apply " DIR "/short.json 2>&1", ws_wattsched());
	ASSERT_TRUE(rc == 0) TH_LOG("rack apply: exit %d: %s", rc, buf);
	ASSERT_TRUE(status(buf, sizeof(buf)) == 0 && has(buf, "cap_watts", "400") &&
		    has(buf, "cap_origin", "\"rack\"") && has(buf, "lease_expired", "false"))
		TH_LOG("before expiry (a new document must leave safe mode): %s", buf);
	ASSERT_TRUE(wait_status(buf, sizeof(buf), "cap_origin", "\"safe\"", 60000))
		TH_LOG("no safe cap 60 s after a 25 s lease: %s", buf);
	ws_log("after expiry: %s", buf);
	ASSERT_TRUE(has(buf, "cap_watts", want_cap) && has(buf, "lease_expired", "true"))
		TH_LOG("the safe cap is not %s W: %s", want_cap, buf);
}

/*
 * a lease that ends switches to the safe cap (--safe-cap-watts, then the
 * document's safe share), origin safe
 */
TEST_F_TIMEOUT(lease, fleet_lease_expiry, WS_TEST_TIMEOUT)
{
	/* No safe_cap_watts: --safe-cap-watts 123. */
	lease_round(_metadata, 0, "123");
	/* safe_cap_watts 600: this host's safe share is 100 + 2 * 300 / 4 = 250 W. */
	lease_round(_metadata, 600, "250");
	ASSERT_TRUE(ws_sh("grep -q 'lease expired at .*: safe cap 250 W' " LOG) == 0)
		TH_LOG("the loader did not log the switch");
}

/* A loader with a safe cap of 123 W and a metrics file. */
FLEET_FIXTURE(clock_step, "run --interval 0 --safe-cap-watts 123 --metrics-file " PROM)

static long long metric(const char *text, const char *series);

/* The metrics file's wattsched_last_update_seconds, -1 if unreadable. */
static long long metrics_time(void)
{
	char text[16384] = "\n";
	int n = ws_read(PROM, text + 1, sizeof(text) - 2);

	return n > 0 ? metric(text, "wattsched_last_update_seconds") : -1;
}

/*
 * A 25 s document, then the clock stepped back an hour: the lease still
 * ends 25 s after it was applied (CLOCK_BOOTTIME anchor), not an hour later,
 * and the metrics file is still written every second (monotonic cadence).
 */
TEST_F_TIMEOUT(clock_step, fleet_lease_clock_step, WS_TEST_TIMEOUT)
{
	char buf[4096];
	long long t0, before, after = -1;
	int rc, i;

	ASSERT_TRUE(write_doc(DIR "/step.json", 900, 0, 25, 100, 1000, "balanced") == 0)
		TH_LOG("write");
	rc = ws_sh_out(buf, sizeof(buf), "%s rack apply " DIR "/step.json 2>&1", ws_wattsched());
	ASSERT_TRUE(rc == 0) TH_LOG("rack apply: exit %d: %s", rc, buf);
	t0 = ws_now_ms();
	/* the loader writes the file once a second from its first period on */
	for (i = 0; i < 20 && (before = metrics_time()) < 0; i++)
		ws_sleep_ms(500);
	ASSERT_TRUE(before > 0) TH_LOG("no metrics file with a last update 10 s after the start");
	ASSERT_TRUE(ws_sh("date -s @$(( $(date +%%s) - 3600 )) >/dev/null") == 0)
		TH_LOG("cannot step the clock back");
	for (i = 0; i < 20 && (after < 0 || after >= before); i++) {
		ws_sleep_ms(500);
		after = metrics_time();
	}
	ws_log("metrics file's last update: %lld before the step, %lld after", before, after);
	ASSERT_TRUE(before > 0 && after > 0 && after < before - 3000)
		TH_LOG("the metrics file was not written in 10 s after the clock stepped back an hour "
		    "(last update %lld, before the step %lld)", after, before);
	ASSERT_TRUE(wait_status(buf, sizeof(buf), "cap_origin", "\"safe\"", 60000))
		TH_LOG("the lease did not end 60 s after a 25 s document with the clock stepped back "
		    "an hour: %s", buf);
	ws_log("safe cap %.1f s after the apply, the clock an hour back: %s",
	       (ws_now_ms() - t0) / 1000.0, buf);
	ASSERT_TRUE(has(buf, "cap_watts", "123") && has(buf, "lease_expired", "true"))
		TH_LOG("not the safe cap: %s", buf);
	ws_sh("date -s @$(( $(date +%%s) + 3600 )) >/dev/null");
}

/* The ConfigMap volume layout, in place before a loader with --rack-dir starts. */
FIXTURE(rack_dir) {
};

FIXTURE_SETUP(rack_dir)
{
	ASSERT_EQ(0, prepare(false)) TH_LOG("no host name");
	ASSERT_EQ(0, ws_sh("rm -rf " DIR " && mkdir -p " RACKDIR "/..2026_a") ||
		  write_doc(RACKDIR "/..2026_a/rack.json", 900, 0, 3600, 100, 1000, "powersave") ||
		  ws_sh("ln -s ..2026_a " RACKDIR "/..data && ln -s ..data/rack.json " RACKDIR
			"/rack.json")) TH_LOG("cannot lay out " RACKDIR);
	WS_LOADER_UP(&ld, LOG, "run --interval 0 --rack-dir " RACKDIR);
}

FIXTURE_TEARDOWN(rack_dir)
{
	stop();
}

/* What the kubelet does: a new timestamped dir, ..data_tmp renamed over ..data. */
static int swap(const char *from, const char *to)
{
	return ws_sh("cd " RACKDIR " && ln -s %s ..data_tmp && mv -T ..data_tmp ..data && rm -r %s",
		     to, from);
}

/*
 * run --rack-dir applies the document at start and after a ConfigMap-style
 * ..data swap; a bad document is logged and ignored
 */
TEST_F_TIMEOUT(rack_dir, fleet_rack_dir, WS_TEST_TIMEOUT)
{
	char buf[4096];

	ASSERT_TRUE(wait_status(buf, sizeof(buf), "cap_watts", "400", 20000))
		TH_LOG("the document present at start was not applied: %s", buf);
	ASSERT_TRUE(has(buf, "cap_origin", "\"rack\"") && has(buf, "policy", "\"powersave\""))
		TH_LOG("at start: %s", buf);

	/* cap 1300: 100 + 2 * 1000 / 4 = 600 W */
	ASSERT_TRUE(ws_sh("mkdir " RACKDIR "/..2026_b") == 0 &&
		    write_doc(RACKDIR "/..2026_b/rack.json", 1300, 0, 3600, 100, 1000,
			    "performance") == 0 && swap("..2026_a", "..2026_b") == 0)
		TH_LOG("swap");
	ASSERT_TRUE(wait_status(buf, sizeof(buf), "cap_watts", "600", 20000))
		TH_LOG("the ..data swap was not applied within 20 s: %s", buf);
	ASSERT_TRUE(has(buf, "policy", "\"performance\"")) TH_LOG("policy after the swap: %s", buf);

	/* A bad document swapped in: logged with its error, the cap stays. */
	ASSERT_TRUE(ws_sh("mkdir " RACKDIR "/..2026_c") == 0 &&
		    write_doc(RACKDIR "/..2026_c/rack.json", 250, 0, 3600, 100, 1000,
			    "balanced") == 0 && swap("..2026_b", "..2026_c") == 0) TH_LOG("swap");
	ws_sleep_ms(3000);
	ASSERT_TRUE(ws_sh("grep -q 'rack.json: cap_watts: 250 W is below the sum of the hosts. "
			"min_watts (300 W); ignored' " LOG) == 0)
		TH_LOG("the loader did not log the bad document's error");
	ASSERT_TRUE(status(buf, sizeof(buf)) == 0 && has(buf, "cap_watts", "600") &&
		    has(buf, "policy", "\"performance\""))
		TH_LOG("a bad document changed the cap: %s", buf);
}

/* A loader writing the metrics file. */
FLEET_FIXTURE(metrics, "run --interval 0 --metrics-file " PROM)

static long long metric(const char *text, const char *series)
{
	char pat[600];
	const char *p;

	snprintf(pat, sizeof(pat), "\n%s ", series);
	p = strstr(text, pat);
	return p ? atoll(p + strlen(pat)) : -1;
}

/*
 * run --metrics-file: the file passes the strict text-format checker and
 * reports the cap, its origin, over_cap, the lease and the counters;
 * rewritten every second
 */
TEST_F_TIMEOUT(metrics, fleet_metrics_file, WS_TEST_TIMEOUT)
{
	char text[16384], st[4096], err[256], series[512];
	long long t1;
	int n;

	/* this host pinned at 40 W (min = max): the model's idle power alone is 50 W */
	ASSERT_TRUE(write_doc(DIR "/tight.json", 240, 0, 3600, 40, 40, "balanced") == 0)
		TH_LOG("write");
	ASSERT_TRUE(ws_sh("%s rack apply " DIR "/tight.json >/dev/null", ws_wattsched()) == 0)
		TH_LOG("rack apply tight.json failed");
	ASSERT_TRUE(wait_status(st, sizeof(st), "compliance", "\"over_cap\"", 10000))
		TH_LOG("a 40 W cap is not reported over_cap: %s", st);
	ws_sleep_ms(2000);	/* the next metrics write after the change */
	/* status reads the maps, then asks the loader: asked again, both settled */
	ASSERT_TRUE(status(st, sizeof(st)) == 0) TH_LOG("status failed");

	n = ws_read(PROM, text + 1, sizeof(text) - 2);
	ASSERT_TRUE(n > 0) TH_LOG("cannot read %s: %d", PROM, n);
	text[0] = '\n';		/* metric() looks for "\nNAME " */
	strcat(text, "\n");	/* ws_read strips the final newline */
	ASSERT_TRUE(prom_check(text + 1, err, sizeof(err)) == 0)
		TH_LOG("%s fails the checker: %s", PROM,
		    err);
	ws_log("%s passes the strict checker (%d bytes)", PROM, n);
	ASSERT_TRUE(metric(text, "wattsched_cap_watts") == 40) TH_LOG("cap_watts %lld",
		    metric(text, "wattsched_cap_watts"));
	snprintf(series, sizeof(series),
		 "wattsched_cap_info{origin=\"rack\",rack=\"vm-rack\",host=\"%s\"}", host);
	ASSERT_TRUE(metric(text, series) == 1) TH_LOG("no %s", series);
	ASSERT_TRUE(metric(text, "wattsched_in_cap") == 0) TH_LOG("in_cap %lld",
		    metric(text, "wattsched_in_cap"));
	ASSERT_TRUE(metric(text, "wattsched_policy_info{policy=\"balanced\"}") == 1)
		TH_LOG("policy_info");
	ASSERT_TRUE(metric(text, "wattsched_lease_expiry_seconds") > time(NULL) + 3000)
		TH_LOG("lease expiry %lld", metric(text, "wattsched_lease_expiry_seconds"));
	ASSERT_TRUE(metric(text, "wattsched_active_cpus") >= 1 &&
		    has(st, "active_cpus", "") && metric(text, "wattsched_active_cpus") ==
		    atoll(strstr(st, "\"active_cpus\":") + 14))
		TH_LOG("active_cpus %lld differs from status: %s\n%s",
		    metric(text, "wattsched_active_cpus"), st, text);
	ASSERT_TRUE(metric(text, "wattsched_events_total{event=\"enq_local\"}") >= 0 &&
		    metric(text, "wattsched_events_total{event=\"kick_idle\"}") >= 0)
		TH_LOG("scheduler counters missing");
	/* Written by rename: every read, whenever it lands, is a whole file. */
	for (n = 0; n < 12; n++) {
		int len = ws_read(PROM, text + 1, sizeof(text) - 2);

		ASSERT_TRUE(len > 0) TH_LOG("read %d of %s: %d", n, PROM, len);
		strcat(text, "\n");
		ASSERT_TRUE(prom_check(text + 1, err, sizeof(err)) == 0)
			TH_LOG("read %d: %s", n, err);
		ws_sleep_ms(170);
	}
	ASSERT_TRUE(ws_sh("ls -A " DIR "/metrics | "
			"grep -qv '^\\.\\{0,1\\}wattsched.prom\\(\\.[A-Za-z0-9]\\{6\\}\\)\\{0,1\\}$'") != 0)
		TH_LOG("files other than the metrics file and its temporary one in its directory");

	t1 = metric(text, "wattsched_last_update_seconds");
	ws_sleep_ms(2500);
	n = ws_read(PROM, text + 1, sizeof(text) - 2);
	ASSERT_TRUE(n > 0 && metric(text, "wattsched_last_update_seconds") > t1)
		TH_LOG("the file is not rewritten every second (%lld then %lld)", t1,
		    metric(text, "wattsched_last_update_seconds"));
}

/*
 * A document's classes become the class map's rules, tagged as the
 * document's; the next document replaces them; rules set by hand stay;
 * a cgroup this host lacks is skipped with a warning; batch.max_duty_pct
 * is the block's batch duty cycle.
 */
#define CG	"/sys/fs/cgroup"

static int write_class_doc(const char *path, const char *classes)
{
	char at[32];
	time_t now = time(NULL);
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	fprintf(f, "{\"version\": 1, \"rack\": \"vm-rack\", \"cap_watts\": 600,\n"
		"\"lease\": {\"issued_at\": \"%s\", \"lease_seconds\": 3600},\n"
		"\"hosts\": [{\"id\": \"%s\", \"min_watts\": 100, \"max_watts\": 1000,"
		" \"policy\": \"capped\", \"classes\": {%s}}]}\n", at, host, classes);
	return fclose(f);
}

/* The line of `class list` for cgroup @cg, in buf; NULL when there is none. */
static const char *class_line(char *buf, size_t len, const char *cg)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "%%s class list | grep ' %s$'", cg);
	return ws_sh_out(buf, len, cmd, ws_wattsched()) == 0 ? buf : NULL;
}

/* Three cgroups, and a loader giving batch work 60% duty. */
FIXTURE(rack_classes) {
};

FIXTURE_SETUP(rack_classes)
{
	if (ws_sh("mkdir -p " CG "/ws-rk-batch " CG "/ws-rk-lat " CG "/ws-rk-hand"))
		SKIP(return, "cannot make cgroups under " CG);
	ASSERT_EQ(0, prepare(true)) TH_LOG("cannot prepare " DIR);
	WS_LOADER_UP(&ld, LOG, "run --interval 0 --batch-duty-pct 60");
}

FIXTURE_TEARDOWN(rack_classes)
{
	stop();
	ws_sh("rmdir " CG "/ws-rk-batch " CG "/ws-rk-lat " CG "/ws-rk-hand 2>/dev/null; true");
}

/*
 * a document's classes become class rules (tagged rack; missing cgroups
 * skipped with a warning), the next document replaces them, hand-set rules
 * stay, batch.max_duty_pct is the duty cycle; a refused document changes no
 * class
 */
TEST_F_TIMEOUT(rack_classes, fleet_rack_classes, WS_TEST_TIMEOUT)
{
	char buf[4096], line[512];
	int rc;

	ASSERT_TRUE(ws_sh("%s class set /ws-rk-hand latency-critical >/dev/null", ws_wattsched()) == 0)
		TH_LOG("class set refused");
	ASSERT_TRUE(write_class_doc(DIR "/cls1.json",
				  "\"batch\": {\"cgroups\": [\"/ws-rk-batch\", \"/ws-rk-missing\"],"
				  " \"max_duty_pct\": 30},"
				  " \"latency-critical\": {\"cgroups\": [\"/ws-rk-lat\"]}") == 0)
		TH_LOG("cannot write the document");
	rc = ws_sh_out(buf, sizeof(buf), "%s rack apply " DIR "/cls1.json 2>&1", ws_wattsched());
	ws_log("rack apply cls1.json: exit %d: %s", rc, buf);
	ASSERT_TRUE(rc == 0 && strstr(buf, "classes.batch: cgroup " CG "/ws-rk-missing: No such file "
				    "or directory; skipped") &&
		    strstr(buf, "2 class rules in force, batch duty cycle 30%"))
		TH_LOG("rack apply with classes: exit %d: %s", rc, buf);
	ASSERT_TRUE(class_line(line, sizeof(line), "/ws-rk-batch") && strstr(line, " batch ") &&
		    strstr(line, " rack ")) TH_LOG("/ws-rk-batch: %s", line);
	ASSERT_TRUE(class_line(line, sizeof(line), "/ws-rk-lat") &&
		    strstr(line, " latency-critical ") && strstr(line, " rack "))
		TH_LOG("/ws-rk-lat: %s", line);
	ASSERT_TRUE(class_line(line, sizeof(line), "/ws-rk-hand") && strstr(line, " cli "))
		TH_LOG("the hand-set rule: %s", line);
	ASSERT_TRUE(status(buf, sizeof(buf)) == 0 && has(buf, "batch_duty_pct", "30") &&
		    has(buf, "cap_origin", "\"rack\"")) TH_LOG("status after cls1: %s", buf);

	/* the next document's rules replace the last one's; its duty is the default's */
	ASSERT_TRUE(write_class_doc(DIR "/cls2.json",
				  "\"batch\": {\"cgroups\": [\"/ws-rk-lat\"]}") == 0)
		TH_LOG("write");
	rc = ws_sh_out(buf, sizeof(buf), "%s rack apply " DIR "/cls2.json 2>&1", ws_wattsched());
	ws_log("rack apply cls2.json: exit %d: %s", rc, buf);
	ASSERT_TRUE(rc == 0 && strstr(buf, "1 class rules in force"))
		TH_LOG("exit %d: %s", rc, buf);
	ASSERT_TRUE(!class_line(line, sizeof(line), "/ws-rk-batch"))
		TH_LOG("the first document's rule stayed: %s", line);
	ASSERT_TRUE(class_line(line, sizeof(line), "/ws-rk-lat") && strstr(line, " batch ") &&
		    strstr(line, " rack ")) TH_LOG("/ws-rk-lat after cls2: %s", line);
	ASSERT_TRUE(class_line(line, sizeof(line), "/ws-rk-hand") && strstr(line, " cli "))
		TH_LOG("the hand-set rule after cls2: %s", line);
	ASSERT_TRUE(status(buf, sizeof(buf)) == 0 && has(buf, "batch_duty_pct", "60"))
		TH_LOG("without a duty the loader's --batch-duty-pct 60: %s", buf);

	/* a refused document changes no class */
	ASSERT_TRUE(write_class_doc(DIR "/cls3.json",
				  "\"normal\": {\"cgroups\": [\"/ws-rk-batch\"], \"max_duty_pct\": 50}")
		    == 0) TH_LOG("write");
	rc = ws_sh_out(buf, sizeof(buf), "%s rack apply " DIR "/cls3.json 2>&1", ws_wattsched());
	ASSERT_TRUE(rc == 2 && strstr(buf, "classes.normal.max_duty_pct: not allowed for normal"))
		TH_LOG("normal duty: exit %d: %s", rc, buf);
	ASSERT_TRUE(!class_line(line, sizeof(line), "/ws-rk-batch") &&
		    class_line(line, sizeof(line), "/ws-rk-lat") && strstr(line, " batch "))
		TH_LOG("a refused document changed the classes: %s", line);
}

TEST_HARNESS_MAIN
