// SPDX-License-Identifier: GPL-2.0
/*
 * test_fleet.c - the loader's fleet state (user/fleet.c): the control
 * socket's "rack" op (accepted, or refused with the state unchanged), a CLI
 * cap taking over, the lease expiry decision, compliance, and the drop
 * directory with a Kubernetes-style ..data symlink swap, on the host.
 */
#include <json-c/json.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"
#include "fleet.h"
#include "power.h"
#include "rackdoc.h"
#include "tap.h"
#include "ws.h"

static time_t now;

static int apply(const char *msg, bool priv, struct ws_ctl *ctl, struct ws_fleet_state *fs,
		 char *err)
{
	bool changed;

	return ws_control_apply(msg, strlen(msg), priv, ctl, fs, &changed, err, 256);
}

/* A "rack" request expiring @expires_in s from now, with @extra members. */
static const char *rack_req(long expires_in, const char *watts, const char *extra)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf), "{\"op\":\"rack\",\"rack\":\"r1\",\"host\":\"h1\","
		 "\"watts\":%s,\"policy\":\"performance\",\"expires\":%lld%s}", watts,
		 (long long)(now + expires_in), extra);
	return buf;
}

static void refused(const char *msg, bool priv, int want, const char *want_err,
		    const struct ws_ctl *ctl, const struct ws_fleet_state *fs)
{
	struct ws_ctl c = *ctl;
	struct ws_fleet_state f = *fs;
	char err[256] = "", name[1200];
	int ret;

	ret = apply(msg, priv, &c, &f, err);
	snprintf(name, sizeof(name), "refused %s: %s", msg, want_err);
	tap_ok(ret == want && !memcmp(&c, ctl, sizeof(c)) && !memcmp(&f, fs, sizeof(f)) &&
	       strstr(err, want_err), name);
	if (ret != want || !strstr(err, want_err))
		printf("#   got error '%s' (%d)\n", err, ret);
}

/* A document issued now: h1 (weight 2, 100..1000 W, powersave), h2, h3. */
static void write_doc(const char *path, int cap, int safe, long lease)
{
	rackdoc_write(path, "h1", now, cap, safe, lease, 100, 1000, "powersave");
}

static int sh(const char *fmt, const char *dir)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), fmt, dir, dir, dir, dir);
	return system(cmd);
}

static void test_rack_dir(void)
{
	char dir[] = "/tmp/ws-rackdir-XXXXXX", path[256];
	struct ws_fleet_opts o = { .host_id = "h1" };
	struct ws_ctl ctl = {};
	struct ws_fleet f;

	ws_policy_defaults(&ctl, WS_POLICY_BALANCED);
	tap_ok(mkdtemp(dir) != NULL, "rack-dir: scratch directory");
	o.rack_dir = dir;
	/* The layout a ConfigMap volume has: rack.json -> ..data/rack.json. */
	snprintf(path, sizeof(path), "%s/..2026_a", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/..2026_a/rack.json", dir);
	write_doc(path, 900, 0, 3600);	/* h1: 100 + 2 * 150 = 400 */
	sh("ln -s ..2026_a %s/..data && ln -s ..data/rack.json %s/rack.json", dir);

	tap_is_int(ws_fleet_open(&f, &o, 4, WS_BATCH_DUTY_DEFAULT), 0, "rack-dir: watching the directory");
	tap_ok(ws_fleet_poll(&f, &ctl, now) && ctl.cap_watts == 400 &&
	       ctl.policy == WS_POLICY_POWERSAVE && f.st.origin == WS_ORIGIN_RACK,
	       "rack-dir: the document there at start is applied (400 W, powersave)");
	tap_ok(!ws_fleet_poll(&f, &ctl, now), "rack-dir: nothing changed, nothing applied");

	/* An update the way the kubelet does it: new dir, ..data_tmp renamed over ..data. */
	snprintf(path, sizeof(path), "%s/..2026_b", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/..2026_b/rack.json", dir);
	write_doc(path, 1300, 0, 3600);	/* h1: 100 + 2 * 250 = 600 */
	sh("ln -s ..2026_b %s/..data_tmp && mv -T %s/..data_tmp %s/..data && rm -r %s/..2026_a",
	   dir);
	tap_ok(ws_fleet_poll(&f, &ctl, now) && ctl.cap_watts == 600,
	       "rack-dir: a ..data symlink swap is seen and applied (600 W)");

	/* A bad document swapped in: logged and ignored, the cap stays. */
	snprintf(path, sizeof(path), "%s/..2026_c", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/..2026_c/rack.json", dir);
	write_doc(path, 250, 0, 3600);	/* below the sum of min_watts */
	sh("ln -s ..2026_c %s/..data_tmp && mv -T %s/..data_tmp %s/..data && rm -r %s/..2026_b",
	   dir);
	tap_ok(!ws_fleet_poll(&f, &ctl, now) && ctl.cap_watts == 600 &&
	       f.st.origin == WS_ORIGIN_RACK, "rack-dir: a bad document leaves the cap at 600 W");

	/* A plain file renamed over the symlink (the Ansible way). */
	snprintf(path, sizeof(path), "%s/.rack.json.tmp", dir);
	write_doc(path, 500, 0, 3600);	/* h1: 100 + 2 * 50 = 200 */
	tap_ok(!ws_fleet_poll(&f, &ctl, now), "rack-dir: a dot-file being written is ignored");
	sh("mv %s/.rack.json.tmp %s/rack.json", dir);
	tap_ok(ws_fleet_poll(&f, &ctl, now) && ctl.cap_watts == 200,
	       "rack-dir: a file renamed into place is applied (200 W)");
	ws_fleet_close(&f);
	sh("rm -rf %s", dir);
}

static void test_lease(void)
{
	struct ws_fleet_state fs = { .safe_cap_watts = 0 };
	struct ws_rack_grant g = { .rack = "r1", .host = "h1", .watts = 400, .safe_watts = 250.7,
				   .policy = WS_POLICY_BALANCED };
	struct ws_ctl ctl = {};
	char msg[512];

	g.expires = now + 100;
	ws_fleet_apply_grant(&g, &ctl, &fs);
	tap_ok(!ws_fleet_lease_step(&fs, &ctl, now + 99, msg, sizeof(msg)) && !msg[0] &&
	       ctl.cap_watts == 400 && fs.origin == WS_ORIGIN_RACK,
	       "lease: 1 s before the end nothing changes");
	tap_ok(ws_fleet_lease_step(&fs, &ctl, now + 100, msg, sizeof(msg)) &&
	       ctl.cap_watts == 250 && fs.origin == WS_ORIGIN_SAFE && fs.lease_expired &&
	       strstr(msg, "safe cap 250 W"), "lease: at its end the safe share applies, origin safe");
	tap_ok(!ws_fleet_lease_step(&fs, &ctl, now + 200, msg, sizeof(msg)) &&
	       ctl.cap_watts == 250, "lease: once in safe mode it stays there");

	/* No safe_cap_watts in the document: --safe-cap-watts. */
	g.safe_watts = 0;
	fs.safe_cap_watts = 120;
	ws_fleet_apply_grant(&g, &ctl, &fs);
	tap_ok(!fs.lease_expired && fs.origin == WS_ORIGIN_RACK && ctl.cap_watts == 400,
	       "lease: a new document leaves safe mode");
	tap_ok(ws_fleet_lease_step(&fs, &ctl, now + 101, msg, sizeof(msg)) &&
	       ctl.cap_watts == 120 && fs.origin == WS_ORIGIN_SAFE &&
	       strstr(msg, "--safe-cap-watts"), "lease: without a safe share, --safe-cap-watts");

	/* Neither: keep the cap, say so, once. */
	fs.safe_cap_watts = 0;
	ws_fleet_apply_grant(&g, &ctl, &fs);
	tap_ok(!ws_fleet_lease_step(&fs, &ctl, now + 100, msg, sizeof(msg)) &&
	       ctl.cap_watts == 400 && fs.origin == WS_ORIGIN_RACK && fs.lease_expired &&
	       strstr(msg, "stays at 400 W"), "lease: with no safe cap at all the cap stays, warned");
	tap_ok(!ws_fleet_lease_step(&fs, &ctl, now + 101, msg, sizeof(msg)) && !msg[0],
	       "lease: the warning is given once");

	/* An operator's cap ends the document's rule. */
	ws_fleet_apply_grant(&g, &ctl, &fs);
	ctl.cap_watts = 300;
	ws_fleet_note_cap(&ctl, &fs);
	tap_ok(!ws_fleet_lease_step(&fs, &ctl, now + 1000, msg, sizeof(msg)) &&
	       ctl.cap_watts == 300 && fs.origin == WS_ORIGIN_CLI,
	       "lease: after `wattsched cap` the lease no longer applies");
}

static void test_compliance(void)
{
	struct ws_fleet_state fs = {};
	struct ws_budget b = {};
	struct ws_ctl ctl = { .cap_watts = 100 };

	b.cap_watts = 100;
	ws_fleet_observe(&fs, &ctl, &b, 4, now);
	tap_ok(fs.compliance == WS_COMPLIANCE_UNKNOWN && fs.active_cpus == 4,
	       "compliance: unknown before the first reading");
	b.power_source = WS_POWER_MODEL;
	b.est_milliwatts = 100000;
	b.nr_active = 2;
	ws_fleet_observe(&fs, &ctl, &b, 4, now + 1);
	tap_ok(fs.compliance == WS_IN_CAP && fs.compliance_since == now + 1 &&
	       fs.active_cpus == 2, "compliance: 100.0 W under a 100 W cap is in_cap");
	ws_fleet_observe(&fs, &ctl, &b, 4, now + 2);
	tap_ok(fs.compliance_since == now + 1, "compliance: since stays while the state holds");
	b.est_milliwatts = 100001;
	ws_fleet_observe(&fs, &ctl, &b, 4, now + 3);
	tap_ok(fs.compliance == WS_OVER_CAP && fs.compliance_since == now + 3,
	       "compliance: 100.001 W is over_cap, since then");
	b.cap_watts = 150;	/* the safe cap in force is what compliance is held to */
	ws_fleet_observe(&fs, &ctl, &b, 4, now + 4);
	tap_ok(fs.compliance == WS_IN_CAP, "compliance: against the cap in force");
	ctl.cap_watts = 0;
	b.cap_watts = 0;
	b.nr_active = 0;
	ws_fleet_observe(&fs, &ctl, &b, 4, now + 5);
	tap_ok(fs.compliance == WS_IN_CAP && fs.active_cpus == 4,
	       "compliance: without a cap, in_cap and every CPU active");
}

/* Pushed readings ("power" op) and the telemetry-stale fail-safe. */
static void test_power_feed(void)
{
	struct ws_fleet_state fs = { .safe_cap_watts = 60 };
	struct ws_ctl ctl = { .cap_watts = 100, .gen = 7 }, c;
	char err[256], msg[256];

	refused("{\"op\":\"power\",\"watts\":300}", false, -EPERM, "needs root", &ctl, &fs);
	refused("{\"op\":\"power\"}", true, -EINVAL, "exactly one of 'watts' and 'clear'", &ctl,
		&fs);
	refused("{\"op\":\"power\",\"watts\":1,\"clear\":true}", true, -EINVAL,
		"exactly one of", &ctl, &fs);
	refused("{\"op\":\"power\",\"watts\":\"300\"}", true, -EINVAL,
		"'watts' must be a number", &ctl, &fs);
	refused("{\"op\":\"power\",\"watts\":0}", true, -EINVAL, "0 W is outside (0, 100000]",
		&ctl, &fs);
	refused("{\"op\":\"power\",\"watts\":-5}", true, -EINVAL, "-5 W is outside", &ctl, &fs);
	refused("{\"op\":\"power\",\"watts\":100000.5}", true, -EINVAL, "is outside", &ctl, &fs);
	refused("{\"op\":\"power\",\"watts\":NaN}", true, -EINVAL, "nan W is outside", &ctl, &fs);
	refused("{\"op\":\"power\",\"clear\":false}", true, -EINVAL, "'clear' must be true", &ctl,
		&fs);
	refused("{\"op\":\"power\",\"watts\":300,\"ttl\":5}", true, -EINVAL,
		"unknown field 'ttl'", &ctl, &fs);

	c = ctl;
	tap_ok(!apply("{\"op\":\"power\",\"watts\":312.5}", true, &c, &fs, err) &&
	       fs.pushed.watts == 312.5 && fs.pushed.at > 0 && !memcmp(&c, &ctl, sizeof(c)),
	       "power: a pushed reading is kept; the block and its generation stay");

	tap_is_int(ws_fleet_power_step(&fs, &ctl, WS_POWER_MODEL, now, msg, sizeof(msg)), 100,
		   "stale: the model from the start is not stale");
	tap_ok(!fs.telemetry_stale && !msg[0], "stale: nothing said");
	tap_is_int(ws_fleet_power_step(&fs, &ctl, WS_POWER_RAPL, now, msg, sizeof(msg)), 100,
		   "stale: RAPL in use, the cap in force is the cap");
	tap_is_int(ws_fleet_power_step(&fs, &ctl, WS_POWER_MODEL, now + 1, msg, sizeof(msg)), 60,
		   "stale: measured then model: the safe cap (60 W) is in force");
	tap_ok(fs.telemetry_stale && fs.stale_since == now + 1 && strstr(msg, "safe cap 60 W"),
	       "stale: flagged, since then, said");
	tap_ok(ws_fleet_power_step(&fs, &ctl, WS_POWER_MODEL, now + 2, msg, sizeof(msg)) == 60 &&
	       !msg[0] && fs.stale_since == now + 1, "stale: said once, since unchanged");
	tap_ok(ws_fleet_power_step(&fs, &ctl, WS_POWER_PUSHED, now + 3, msg, sizeof(msg)) == 100 &&
	       !fs.telemetry_stale && strstr(msg, "fresh again"),
	       "stale: a fresh reading restores the cap");
	fs.safe_cap_watts = 150;
	tap_ok(ws_fleet_power_step(&fs, &ctl, WS_POWER_MODEL, now + 4, msg, sizeof(msg)) == 100 &&
	       fs.telemetry_stale && strstr(msg, "the safe cap is not lower"),
	       "stale: a safe cap above the cap never loosens it");
	ctl.cap_watts = 0;
	tap_ok(ws_fleet_power_step(&fs, &ctl, WS_POWER_MODEL, now + 5, msg, sizeof(msg)) == 0,
	       "stale: no cap, none in force");
	ctl.cap_watts = 100;
	tap_ok(!apply("{\"op\":\"power\",\"clear\":true}", true, &ctl, &fs, err) &&
	       !fs.pushed.at && !fs.measured_seen && !fs.telemetry_stale,
	       "power --clear: forgets the readings and the stale state");
	tap_ok(ws_fleet_power_step(&fs, &ctl, WS_POWER_MODEL, now + 6, msg, sizeof(msg)) == 100 &&
	       !fs.telemetry_stale, "after --clear the model is no longer stale");
}

int main(void)
{
	char err[256], reply[WS_CTL_ANSWER_MAX], doc[] = "/tmp/ws-rackdoc-XXXXXX";
	struct ws_fleet_state fs = {};
	struct ws_rack_grant g;
	struct rack_plan plan;
	struct ws_ctl ctl = {};
	struct json_object *o, *v;
	int fd;

	now = time(NULL);
	tap_plan(57 + 1 + 22 + 5);

	ws_policy_defaults(&ctl, WS_POLICY_BALANCED);
	ctl.gen = 1;

	refused(rack_req(3600, "400", ""), false, -EPERM, "needs root", &ctl, &fs);
	refused(rack_req(-1, "400", ""), true, -ETIME, "lease expired at", &ctl, &fs);
	refused(rack_req(0, "400", ""), true, -ETIME, "lease expired at", &ctl, &fs);
	refused(rack_req(40 * 86400, "400", ""), true, -ERANGE, "more than 31 days ahead", &ctl,
		&fs);
	refused(rack_req(3600, "-400", ""), true, -ERANGE, "outside the caps", &ctl, &fs);
	refused(rack_req(3600, "9.5", ""), true, -ERANGE, "outside the caps", &ctl, &fs);
	refused(rack_req(3600, "100000.5", ""), true, -ERANGE, "outside the caps", &ctl, &fs);
	refused(rack_req(3600, "\"400\"", ""), true, -EINVAL, "'watts' must be a number", &ctl, &fs);
	/* json-c reads NaN even in strict mode: the range check must catch it. */
	refused(rack_req(3600, "NaN", ""), true, -ERANGE, "share nan W is outside", &ctl, &fs);
	refused(rack_req(3600, "400", ",\"safe_watts\":500"), true, -ERANGE, "safe share", &ctl, &fs);
	refused(rack_req(3600, "400", ",\"safe_watts\":5"), true, -ERANGE, "safe share", &ctl, &fs);
	refused(rack_req(3600, "400", ",\"safe_watts\":-1"), true, -ERANGE, "safe share", &ctl, &fs);
	refused(rack_req(3600, "400", ",\"lease\":1"), true, -EINVAL, "unknown field 'lease'", &ctl,
		&fs);
	refused(rack_req(3600, "400", ",\"batch_duty_pct\":0"), true, -EINVAL,
		"'batch_duty_pct' must be a whole percentage in 1..100", &ctl, &fs);
	refused(rack_req(3600, "400", ",\"batch_duty_pct\":101"), true, -EINVAL,
		"'batch_duty_pct' must be", &ctl, &fs);
	refused(rack_req(3600, "400", ",\"batch_duty_pct\":\"40\""), true, -EINVAL,
		"'batch_duty_pct' must be", &ctl, &fs);
	{
		struct ws_fleet_state f = { .batch_duty_pct = 70 };
		struct ws_ctl c = ctl;

		tap_ok(!apply(rack_req(3600, "400", ",\"batch_duty_pct\":40"), true, &c, &f, err) &&
		       c.batch_duty_pct == 40 && f.grant.batch_duty_pct == 40,
		       "rack: the document's batch duty cycle is the block's");
		tap_ok(!apply(rack_req(3600, "400", ""), true, &c, &f, err) && c.batch_duty_pct == 70,
		       "rack: without one, the loader's --batch-duty-pct");
	}
	refused("{\"op\":\"rack\",\"host\":\"h1\",\"watts\":400,\"policy\":\"balanced\","
		"\"expires\":9999999999}", true, -EINVAL, "missing field 'rack'", &ctl, &fs);
	refused("{\"op\":\"rack\",\"rack\":\"r1\",\"watts\":400,\"policy\":\"balanced\","
		"\"expires\":9999999999}", true, -EINVAL, "missing field 'host'", &ctl, &fs);
	refused("{\"op\":\"rack\",\"rack\":\"r1\",\"host\":\"h1\",\"policy\":\"balanced\","
		"\"expires\":9999999999}", true, -EINVAL, "missing field 'watts'", &ctl, &fs);
	refused("{\"op\":\"rack\",\"rack\":\"r1\",\"host\":\"h1\",\"watts\":400,"
		"\"expires\":9999999999}", true, -EINVAL, "missing field 'policy'", &ctl, &fs);
	refused("{\"op\":\"rack\",\"rack\":\"r1\",\"host\":\"h1\",\"watts\":400,"
		"\"policy\":\"balanced\"}", true, -EINVAL, "missing field 'expires'", &ctl, &fs);
	refused("{\"op\":\"rack\",\"rack\":\"r1\",\"host\":\"h1\",\"watts\":400,"
		"\"policy\":\"balanced\",\"expires\":\"tomorrow\"}", true, -EINVAL,
		"'expires' must be the lease's end", &ctl, &fs);
	refused("{\"op\":\"rack\",\"rack\":\"r1\",\"host\":\"h1\",\"watts\":400,"
		"\"policy\":\"turbo\",\"expires\":9999999999}", true, -EINVAL,
		"unknown policy 'turbo'", &ctl, &fs);
	refused("{\"op\":\"rack\",\"rack\":\"r 1\",\"host\":\"h1\",\"watts\":400,"
		"\"policy\":\"balanced\",\"expires\":9999999999}", true, -EINVAL, "not a rack id",
		&ctl, &fs);
	refused("{\"op\":\"rack\",\"rack\":\"r1\",\"host\":\"\",\"watts\":400,"
		"\"policy\":\"balanced\",\"expires\":9999999999}", true, -EINVAL, "not a host id",
		&ctl, &fs);
	{
		struct ws_ctl c = ctl;
		bool changed;
		const char *m = rack_req(3600, "400", "");

		tap_ok(ws_control_apply(m, strlen(m), true, &c, NULL, &changed, err, sizeof(err)) ==
		       -EINVAL && !memcmp(&c, &ctl, sizeof(c)),
		       "the rack op without fleet state is refused");
	}

	tap_is_int(apply(rack_req(3600, "400.9", ",\"safe_watts\":250"), true, &ctl, &fs, err), 0,
		   "a valid rack request is accepted");
	tap_ok(ctl.cap_watts == 400 && ctl.policy == WS_POLICY_PERFORMANCE && ctl.gen == 2 &&
	       ctl.perf[WS_CLASS_NORMAL] == WS_PERF_MAX && ctl.policy_before_cap ==
	       WS_POLICY_PERFORMANCE, "cap is the share rounded down, policy the document's, gen bumped");
	tap_ok(fs.origin == WS_ORIGIN_RACK && fs.have_grant && !strcmp(fs.grant.rack, "r1") &&
	       !strcmp(fs.grant.host, "h1") && fs.grant.expires == now + 3600 &&
	       fs.grant.safe_watts == 250, "fleet state: origin rack, the grant kept");
	tap_ok(ws_control_reply(&ctl, &fs, 0, "", reply, sizeof(reply)) > 0 &&
	       (o = json_tokener_parse(reply)) != NULL, "the answer is JSON");
	tap_ok(json_object_object_get_ex(o, "cap_origin", &v) &&
	       !strcmp(json_object_get_string(v), "rack") &&
	       json_object_object_get_ex(o, "rack", &v) &&
	       json_object_get_int64(json_object_object_get(v, "expires")) == now + 3600,
	       "the answer has the origin and the lease");
	json_object_put(o);
	refused(rack_req(-5, "300", ""), true, -ETIME, "lease expired", &ctl, &fs);

	tap_is_int(apply("{\"op\":\"cap\",\"watts\":350}", true, &ctl, &fs, err), 0, "cli cap");
	tap_ok(fs.origin == WS_ORIGIN_CLI && !fs.have_grant && ctl.cap_watts == 350,
	       "a CLI cap takes over: origin cli, no lease");
	tap_is_int(apply("{\"op\":\"cap\",\"clear\":true}", true, &ctl, &fs, err), 0, "cli clear");
	tap_ok(fs.origin == WS_ORIGIN_NONE && ctl.cap_watts == 0 &&
	       ctl.policy == WS_POLICY_PERFORMANCE,
	       "clearing: origin none, back to the document's policy");

	/* The grant from a real document, as `rack apply` and --rack-dir build it. */
	fd = mkstemp(doc);
	close(fd);
	write_doc(doc, 900, 600, 3600);
	tap_ok(!rack_load_file(doc, "h1", now, &plan, err, sizeof(err)) &&
	       !ws_rack_grant_from_plan(&plan, &g, err, sizeof(err)) &&
	       g.watts == 400 && g.safe_watts == 250 && g.policy == WS_POLICY_POWERSAVE &&
	       g.expires == now + 3600 && !strcmp(g.rack, "vm-rack") &&
	       !ws_rack_grant_check(&g, now, err, sizeof(err)),
	       "grant from a document: share 400 W, safe share 250 W, powersave, lease end");
	rack_plan_free(&plan);
	{
		char req[1024];
		struct ws_ctl c = {};
		struct ws_fleet_state f = {};

		/* the class rules travel apart (rack apply writes them itself) */
		g.classes_sig = 0;
		tap_ok(ws_rack_grant_request(&g, req, sizeof(req)) > 0 &&
		       !apply(req, true, &c, &f, err) && c.cap_watts == 400 &&
		       f.grant.safe_watts == 250 && !memcmp(&f.grant, &g, sizeof(g)),
		       "the request rack apply sends round-trips to the same grant");
	}
	write_doc(doc, 900, 0, 3600);
	tap_ok(rack_load_file(doc, "h1", now + 3600, &plan, err, sizeof(err)) != 0 &&
	       strstr(err, "expired"), "an expired document does not load");
	unlink(doc);

	test_lease();
	test_compliance();
	test_power_feed();
	test_rack_dir();
	return tap_done();
}
