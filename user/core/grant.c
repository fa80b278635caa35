// SPDX-License-Identifier: GPL-2.0
/*
 * fleet.c - the loader's side of the fleet feed (docs/fleet.md,
 * docs/reliability.md).
 *
 * A rack document reaches the loader two ways, and both end in the same
 * ws_rack_grant: this host's share, its safe share, the document's policy
 * for it and the lease's end.
 *
 *   `wattsched rack apply FILE`  validates the document, computes the share
 *                                and sends {"op":"rack",...} on the control
 *                                socket; the loader checks it again here
 *   `wattsched run --rack-dir D` the loader itself reads D/rack.json at start
 *                                and whenever D changes (inotify on the
 *                                directory, so a ConfigMap's ..data swap is
 *                                seen: the file's inode changes every time)
 *
 * A grant that fails a check changes nothing: the last good cap and policy
 * stay.  Once the applied grant's lease ends, the loader drops to the safe
 * share (or --safe-cap-watts), so a host never keeps a stale cap forever.
 * Which of these set the cap in force (its origin), the lease and whether
 * the power reading is within the cap are reported by the control socket's
 * answers, `wattsched status` and the metrics file.
 */
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "classes.h"
#include "control.h"
#include "fleet.h"
#include "power.h"
#include "ws.h"

#define RACK_DIR_DOC	"rack.json"
#define K8S_DATA_LINK	"..data"

static const char *const origin_names[] = {
	[WS_ORIGIN_NONE] = "none", [WS_ORIGIN_CLI] = "cli",
	[WS_ORIGIN_RACK] = "rack", [WS_ORIGIN_SAFE] = "safe",
};

static const char *const compliance_names[] = {
	[WS_COMPLIANCE_UNKNOWN] = "unknown", [WS_IN_CAP] = "in_cap", [WS_OVER_CAP] = "over_cap",
};

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

const char *ws_cap_origin_name(enum ws_cap_origin o)
{
	return (unsigned int)o < ARRAY_SIZE(origin_names) ? origin_names[o] : "none";
}

const char *ws_compliance_name(enum ws_compliance c)
{
	return (unsigned int)c < ARRAY_SIZE(compliance_names) ? compliance_names[c] : "unknown";
}

/* The index of name in names[n]; 0 (none, unknown) when it is not there. */
static unsigned int name_index(const char *const *names, unsigned int n, const char *name)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (!strcmp(name, names[i]))
			return i;
	return 0;
}

static int __attribute__((format(printf, 4, 5)))
fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return ret;
}

/* ---- grants ------------------------------------------------------------ */

/* FNV-1a over a host's class rules: a document that changes only them is new. */
static unsigned long long classes_sig(const struct rack_host *h)
{
	unsigned long long sig = 0xcbf29ce484222325ULL;
	unsigned int cls;
	size_t i;

	for (cls = 0; cls < WS_NR_CLASSES; cls++) {
		for (i = 0; i < h->classes[cls].nr_cgroups; i++) {
			const unsigned char *p = (const unsigned char *)h->classes[cls].cgroups[i];

			sig = (sig ^ (cls + 1)) * 0x100000001b3ULL;
			for (; *p; p++)
				sig = (sig ^ *p) * 0x100000001b3ULL;
		}
	}
	return sig;
}

int ws_rack_grant_from_plan(const struct rack_plan *plan, struct ws_rack_grant *g,
			    char *err, size_t errlen)
{
	if (!plan->self)
		return fail(err, errlen, -ENOENT, "no host entry chosen");
	memset(g, 0, sizeof(*g));
	snprintf(g->rack, sizeof(g->rack), "%s", plan->doc.rack_id);
	snprintf(g->host, sizeof(g->host), "%s", plan->self->id);
	g->watts = plan->shares[plan->self_idx];
	g->safe_watts = plan->safe_shares ? plan->safe_shares[plan->self_idx] : 0;
	g->policy = plan->self->policy;
	g->expires = plan->doc.expires_at;
	g->batch_duty_pct = plan->self->classes[WS_CLASS_BATCH].max_duty_pct;
	g->classes_sig = classes_sig(plan->self);
	return 0;
}

int ws_rack_grant_check(const struct ws_rack_grant *g, time_t now, char *err, size_t errlen)
{
	char t[32];

	if (!rack_valid_name(g->rack, sizeof(g->rack)))
		return fail(err, errlen, -EINVAL, "rack: not a rack id: \"%s\"", g->rack);
	if (!rack_valid_name(g->host, sizeof(g->host)))
		return fail(err, errlen, -EINVAL, "rack: not a host id: \"%s\"", g->host);
	if (g->policy < 0 || g->policy >= WS_NR_POLICIES)
		return fail(err, errlen, -EINVAL, "rack: no such policy (%d)", g->policy);
	if (!isfinite(g->watts) || g->watts < WS_CAP_MIN_WATTS || g->watts > WS_CAP_MAX_WATTS)
		return fail(err, errlen, -ERANGE,
			    "rack: host %s's share %.3f W is outside the caps wattsched enforces "
			    "(%u..%u W)", g->host, g->watts, WS_CAP_MIN_WATTS, WS_CAP_MAX_WATTS);
	if (!isfinite(g->safe_watts) || g->safe_watts < 0 ||
	    (g->safe_watts && (g->safe_watts < WS_CAP_MIN_WATTS || g->safe_watts > g->watts)))
		return fail(err, errlen, -ERANGE,
			    "rack: host %s's safe share %.3f W is outside %u..%.3f W (its share)",
			    g->host, g->safe_watts, WS_CAP_MIN_WATTS, g->watts);
	rack_format_time(g->expires, t, sizeof(t));
	if (g->expires <= now)
		return fail(err, errlen, -ETIME, "rack: lease expired at %s (%lld s ago)", t,
			    (long long)(now - g->expires));
	/* A document holds at most 31 days from an issued_at up to 60 s ahead. */
	if (g->expires > now + RACK_MAX_LEASE_SEC + RACK_CLOCK_SKEW_SEC)
		return fail(err, errlen, -ERANGE, "rack: lease ends %s, more than 31 days ahead", t);
	return 0;
}

/* Watts to the milliwatt: what `rack plan --json` shows, and no float noise. */
static struct json_object *json_watts(double w)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%.3f", w);
	return json_object_new_double_s(w, buf);
}

int ws_rack_grant_request(const struct ws_rack_grant *g, char *buf, size_t len)
{
	struct json_object *o = json_object_new_object();
	int n;

	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "op", json_object_new_string("rack"));
	json_object_object_add(o, "rack", json_object_new_string(g->rack));
	json_object_object_add(o, "host", json_object_new_string(g->host));
	json_object_object_add(o, "watts", json_watts(g->watts));
	json_object_object_add(o, "policy", json_object_new_string(ws_policy_name(g->policy)));
	json_object_object_add(o, "expires", json_object_new_int64(g->expires));
	if (g->safe_watts > 0)
		json_object_object_add(o, "safe_watts", json_watts(g->safe_watts));
	if (g->batch_duty_pct)
		json_object_object_add(o, "batch_duty_pct", json_object_new_int(g->batch_duty_pct));
	n = snprintf(buf, len, "%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return n < (int)len ? n : -ENOSPC;
}

/* A string field of the "rack" request into buf (size len). */
static int req_string(struct json_object *req, const char *key, char *buf, size_t len,
		      char *err, size_t errlen)
{
	struct json_object *v;

	if (!json_object_object_get_ex(req, key, &v))
		return fail(err, errlen, -EINVAL, "rack: missing field '%s'", key);
	if (!json_object_is_type(v, json_type_string))
		return fail(err, errlen, -EINVAL, "rack: '%s' must be a string", key);
	if ((size_t)json_object_get_string_len(v) >= len)
		return fail(err, errlen, -EINVAL, "rack: '%s' is longer than %zu bytes", key,
			    len - 1);
	snprintf(buf, len, "%s", json_object_get_string(v));
	return 0;
}

/* A number of watts; an absent optional one is 0. */
static int req_watts(struct json_object *req, const char *key, bool required, double *out,
		     char *err, size_t errlen)
{
	struct json_object *v;

	*out = 0;
	if (!json_object_object_get_ex(req, key, &v))
		return required ? fail(err, errlen, -EINVAL, "rack: missing field '%s'", key) : 0;
	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
		return fail(err, errlen, -EINVAL, "rack: '%s' must be a number of watts", key);
	*out = json_object_get_double(v);
	return 0;
}

int ws_fleet_rack_op(struct json_object *req, time_t now, struct ws_ctl *ctl,
		     struct ws_fleet_state *fs, char *err, size_t errlen)
{
	static const char *const fields[] = {
		"op", "rack", "host", "watts", "policy", "expires", "safe_watts", "batch_duty_pct",
		NULL
	};
	struct ws_rack_grant g = {};
	struct json_object *v;
	char policy[32];
	int ret;

	if (!fs)
		return fail(err, errlen, -EINVAL, "rack: this loader keeps no fleet state");
	ret = ws_ctl_only_fields(req, fields, err, errlen);
	if (!ret)
		ret = req_string(req, "rack", g.rack, sizeof(g.rack), err, errlen);
	if (!ret)
		ret = req_string(req, "host", g.host, sizeof(g.host), err, errlen);
	if (!ret)
		ret = req_watts(req, "watts", true, &g.watts, err, errlen);
	if (!ret)
		ret = req_watts(req, "safe_watts", false, &g.safe_watts, err, errlen);
	if (!ret)
		ret = req_string(req, "policy", policy, sizeof(policy), err, errlen);
	if (ret)
		return ret;
	g.policy = ws_policy_from_name(policy);
	if (g.policy < 0)
		return fail(err, errlen, -EINVAL,
			    "rack: unknown policy '%s' (balanced, performance, powersave, capped)",
			    policy);
	if (!json_object_object_get_ex(req, "expires", &v))
		return fail(err, errlen, -EINVAL, "rack: missing field 'expires'");
	if (!json_object_is_type(v, json_type_int))
		return fail(err, errlen, -EINVAL,
			    "rack: 'expires' must be the lease's end in seconds since the epoch");
	g.expires = json_object_get_int64(v);
	if (json_object_object_get_ex(req, "batch_duty_pct", &v)) {
		if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 1 ||
		    json_object_get_int64(v) > 100)
			return fail(err, errlen, -EINVAL,
				    "rack: 'batch_duty_pct' must be a whole percentage in 1..100");
		g.batch_duty_pct = json_object_get_int64(v);
	}
	ret = ws_rack_grant_check(&g, now, err, errlen);
	if (ret)
		return ret;
	ws_fleet_apply_grant(&g, ctl, fs);
	return 0;
}

void ws_fleet_apply_grant(const struct ws_rack_grant *g, struct ws_ctl *ctl,
			  struct ws_fleet_state *fs)
{
	/* What `cap --clear` returns to: the document's policy for this host. */
	if (g->policy != WS_POLICY_CAPPED)
		ctl->policy_before_cap = g->policy;
	else if (!ctl->cap_watts)
		ctl->policy_before_cap = ctl->policy;
	ws_policy_defaults(ctl, g->policy);
	ctl->cap_watts = (unsigned int)floor(g->watts);
	ctl->batch_duty_pct = g->batch_duty_pct ?: fs->batch_duty_pct;
	fs->origin = WS_ORIGIN_RACK;
	fs->grant = *g;
	fs->have_grant = true;
	fs->lease_expired = false;
}

void ws_fleet_note_cap(const struct ws_ctl *ctl, struct ws_fleet_state *fs)
{
	/* An operator's cap replaces the document's: its lease no longer matters. */
	fs->origin = ctl->cap_watts ? WS_ORIGIN_CLI : WS_ORIGIN_NONE;
	fs->have_grant = false;
	fs->lease_expired = false;
}

bool ws_fleet_lease_step(struct ws_fleet_state *fs, struct ws_ctl *ctl, time_t now,
			 char *msg, size_t msglen)
{
	unsigned int safe;
	char t[32];

	msg[0] = '\0';
	if (!fs->have_grant || fs->lease_expired || fs->origin != WS_ORIGIN_RACK ||
	    now < fs->grant.expires)
		return false;
	fs->lease_expired = true;
	rack_format_time(fs->grant.expires, t, sizeof(t));
	safe = ws_fleet_safe_watts(fs);
	if (!safe) {
		snprintf(msg, msglen, "rack %s: lease expired at %s; the document has no "
			 "safe_cap_watts and no --safe-cap-watts was given: the cap stays at %u W",
			 fs->grant.rack, t, ctl->cap_watts);
		return false;
	}
	snprintf(msg, msglen, "rack %s: lease expired at %s: safe cap %u W (%s)",
		 fs->grant.rack, t, safe,
		 fs->grant.safe_watts > 0 ? "this host's share of safe_cap_watts" :
					    "--safe-cap-watts");
	ctl->cap_watts = safe;
	fs->origin = WS_ORIGIN_SAFE;
	return true;
}

unsigned int ws_fleet_safe_watts(const struct ws_fleet_state *fs)
{
	if (fs->have_grant && fs->grant.safe_watts > 0)
		return (unsigned int)floor(fs->grant.safe_watts);
	return fs->safe_cap_watts;
}

unsigned int ws_fleet_power_step(struct ws_fleet_state *fs, const struct ws_ctl *ctl,
				 unsigned int source, time_t now, char *msg, size_t msglen)
{
	unsigned int safe = ws_fleet_safe_watts(fs), cap = ctl->cap_watts;
	bool stale;

	msg[0] = '\0';
	if (source == WS_POWER_PUSHED || source == WS_POWER_RAPL)
		fs->measured_seen = true;
	stale = fs->measured_seen && source == WS_POWER_MODEL;
	if (stale && !fs->telemetry_stale) {
		fs->stale_since = now;
		if (!cap)
			snprintf(msg, msglen, "power telemetry stale: the model is the source; "
				 "no cap is in force");
		else if (safe && safe < cap)
			snprintf(msg, msglen, "power telemetry stale: the model is the source; "
				 "safe cap %u W in force instead of %u W", safe, cap);
		else
			snprintf(msg, msglen, "power telemetry stale: the model is the source; "
				 "the cap stays at %u W (%s)", cap,
				 safe ? "the safe cap is not lower" : "no safe cap configured");
	} else if (!stale && fs->telemetry_stale) {
		snprintf(msg, msglen, "power telemetry fresh again (source %s): cap %u W",
			 ws_power_source_name(source), cap);
	}
	fs->telemetry_stale = stale;
	if (stale && cap && safe && safe < cap)
		cap = safe;
	fs->cap_in_force = cap;
	return cap;
}

int ws_fleet_power_op(struct json_object *req, double mono, struct ws_fleet_state *fs,
		      char *err, size_t errlen)
{
	struct json_object *w;
	double watts;

	if (ws_ctl_watts_or_clear(req, "power", &w, err, errlen))
		return -EINVAL;
	if (!w) {
		memset(&fs->pushed, 0, sizeof(fs->pushed));
		fs->measured_seen = false;
		fs->telemetry_stale = false;
		return 0;
	}
	if (!json_object_is_type(w, json_type_int) && !json_object_is_type(w, json_type_double)) {
		snprintf(err, errlen, "power: 'watts' must be a number");
		return -EINVAL;
	}
	watts = json_object_get_double(w);
	if (!(watts > 0 && watts <= WS_PUSHED_MAX_WATTS)) {
		snprintf(err, errlen, "power: %g W is outside (0, %u]", watts, WS_PUSHED_MAX_WATTS);
		return -EINVAL;
	}
	fs->pushed.watts = watts;
	fs->pushed.at = mono;
	return 0;
}

void ws_fleet_observe(struct ws_fleet_state *fs, const struct ws_ctl *ctl,
		      const struct ws_budget *b, unsigned int nr_online, time_t now)
{
	enum ws_compliance c;

	fs->power_watts = b->est_milliwatts / 1000.0;
	fs->power_source = b->power_source;
	fs->active_cpus = b->nr_active ?: nr_online;	/* the cap's set, or compaction's */
	if (b->power_source == WS_POWER_NONE)
		c = WS_COMPLIANCE_UNKNOWN;
	else if (!b->cap_watts || fs->power_watts <= b->cap_watts)
		c = WS_IN_CAP;
	else
		c = WS_OVER_CAP;
	if (c != fs->compliance || !fs->compliance_since) {
		fs->compliance = c;
		fs->compliance_since = now;
	}
}

void ws_fleet_to_json(const struct ws_fleet_state *fs, struct json_object *o)
{
	struct json_object *r = NULL;

	json_object_object_add(o, "cap_origin",
			       json_object_new_string(ws_cap_origin_name(fs->origin)));
	if (fs->have_grant) {
		r = json_object_new_object();
		json_object_object_add(r, "id", json_object_new_string(fs->grant.rack));
		json_object_object_add(r, "host", json_object_new_string(fs->grant.host));
		json_object_object_add(r, "share_watts", json_watts(fs->grant.watts));
		json_object_object_add(r, "safe_watts", fs->grant.safe_watts > 0 ?
				       json_watts(fs->grant.safe_watts) : NULL);
		json_object_object_add(r, "policy",
				       json_object_new_string(ws_policy_name(fs->grant.policy)));
		json_object_object_add(r, "expires", json_object_new_int64(fs->grant.expires));
		json_object_object_add(r, "expired", json_object_new_boolean(fs->lease_expired));
	}
	json_object_object_add(o, "rack", r);
	json_object_object_add(o, "safe_cap_watts", fs->safe_cap_watts ?
			       json_object_new_int64(fs->safe_cap_watts) : NULL);
	json_object_object_add(o, "compliance",
			       json_object_new_string(ws_compliance_name(fs->compliance)));
	json_object_object_add(o, "compliance_since", json_object_new_int64(fs->compliance_since));
	json_object_object_add(o, "power_watts", json_watts(fs->power_watts));
	json_object_object_add(o, "power_source",
			       json_object_new_string(ws_power_source_name(fs->power_source)));
	json_object_object_add(o, "active_cpus", json_object_new_int64(fs->active_cpus));
	json_object_object_add(o, "cap_in_force_watts", json_object_new_int64(fs->cap_in_force));
	json_object_object_add(o, "telemetry_stale", json_object_new_boolean(fs->telemetry_stale));
	json_object_object_add(o, "telemetry_stale_since", fs->telemetry_stale ?
			       json_object_new_int64(fs->stale_since) : NULL);
	json_object_object_add(o, "pushed_watts", fs->pushed.at ?
			       json_watts(fs->pushed.watts) : NULL);
	json_object_object_add(o, "pushed_age_s", fs->pushed.at ?
			       json_watts(ws_mono_now() - fs->pushed.at) : NULL);
}

/* ---- the loader -------------------------------------------------------- */

int ws_fleet_parse_opt(int opt, const char *arg, struct ws_fleet_opts *o)
{
	switch (opt) {
	case WS_FLEET_OPT_RACK_DIR:
		o->rack_dir = arg;
		return 0;
	case WS_FLEET_OPT_HOST_ID:
		if (!rack_valid_name(arg, RACK_HOST_ID_MAX)) {
			ws_err("--host-id: '%s' is not a host id (1..253 letters, digits, '.', "
			       "'-', '_')", arg);
			return 2;
		}
		o->host_id = arg;
		return 0;
	case WS_FLEET_OPT_METRICS_FILE:
		if (!*arg || arg[strlen(arg) - 1] == '/') {
			ws_err("--metrics-file: '%s' is not a file name", arg);
			return 2;
		}
		o->metrics_file = arg;
		return 0;
	case WS_FLEET_OPT_SAFE_CAP:
		if (ws_parse_u64(arg, WS_CAP_MIN_WATTS, WS_CAP_MAX_WATTS, &o->safe_cap_watts)) {
			ws_err("--safe-cap-watts: '%s' is not a whole number of watts in %u..%u",
			       arg, WS_CAP_MIN_WATTS, WS_CAP_MAX_WATTS);
			return 2;
		}
		return 0;
	default:
		return 2;
	}
}

int ws_fleet_open(struct ws_fleet *f, const struct ws_fleet_opts *o, unsigned int nr_online,
		  unsigned int batch_duty_pct)
{
	memset(f, 0, sizeof(*f));
	f->opts = o;
	f->watch_fd = -1;
	f->class_fd = -1;
	f->st.batch_duty_pct = batch_duty_pct;
	f->nr_online = nr_online;
	f->st.safe_cap_watts = o->safe_cap_watts;
	if (o->host_id)
		snprintf(f->host_id, sizeof(f->host_id), "%s", o->host_id);
	else if (gethostname(f->host_id, sizeof(f->host_id) - 1))
		f->host_id[0] = '\0';
	if (!o->rack_dir)
		return 0;
	f->watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (f->watch_fd < 0) {
		ws_err("--rack-dir: inotify: %s", strerror(errno));
		return -errno;
	}
	/*
	 * The directory, not the file: a ConfigMap update renames a new
	 * ..data symlink into place, and a file push renames a new file over
	 * rack.json.  Either way the inode we would have watched is gone.
	 */
	if (inotify_add_watch(f->watch_fd, o->rack_dir, IN_CREATE | IN_MOVED_TO |
			      IN_CLOSE_WRITE | IN_DELETE | IN_ONLYDIR) < 0) {
		int ret = -errno;

		ws_err("--rack-dir: cannot watch %s: %s", o->rack_dir, strerror(errno));
		close(f->watch_fd);
		f->watch_fd = -1;
		return ret;
	}
	f->reread = true;
	return 0;
}

void ws_fleet_close(struct ws_fleet *f)
{
	if (f->watch_fd >= 0)
		close(f->watch_fd);
	f->watch_fd = -1;
}

/* Drain the inotify queue; true when an event concerns the document. */
static bool dir_changed(int fd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	bool changed = false;
	ssize_t n;
	char *p;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW)
				changed = true;
			else if (ev->len && (!strcmp(ev->name, RACK_DIR_DOC) ||
					     !strcmp(ev->name, K8S_DATA_LINK)))
				changed = true;
		}
	}
	return changed;
}

/* Read the drop directory's document and apply this host's grant. */
static bool apply_dir(struct ws_fleet *f, struct ws_ctl *ctl, time_t now)
{
	char path[PATH_MAX], err[RACK_ERR_MAX], t[32];
	struct ws_rack_grant g;
	struct rack_plan plan;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", f->opts->rack_dir, RACK_DIR_DOC);
	if (access(path, F_OK)) {
		ws_warn("--rack-dir: no %s: %s; the cap in force stays", path, strerror(errno));
		return false;
	}
	ret = rack_load_file(path, f->host_id, now, &plan, err, sizeof(err));
	if (ret) {
		ws_warn("--rack-dir: %s: %s; ignored, the cap in force stays", path, err);
		return false;
	}
	ret = ws_rack_grant_from_plan(&plan, &g, err, sizeof(err));
	if (!ret)
		ret = ws_rack_grant_check(&g, now, err, sizeof(err));
	if (ret) {
		rack_plan_free(&plan);
		ws_warn("--rack-dir: %s: %s; ignored, the cap in force stays", path, err);
		return false;
	}
	/* A re-read of the same document changes nothing. */
	if (f->st.have_grant && !f->st.lease_expired && !memcmp(&g, &f->st.grant, sizeof(g))) {
		rack_plan_free(&plan);
		return false;
	}
	ws_fleet_apply_grant(&g, ctl, &f->st);
	rack_format_time(g.expires, t, sizeof(t));
	printf("wattsched: rack %s from %s: host %s, share %.3f W: cap %u W, policy %s, "
	       "lease until %s\n", g.rack, path, g.host, g.watts, ctl->cap_watts,
	       ws_policy_name(ctl->policy), t);
	if (f->class_fd >= 0 && (ret = ws_class_apply_rack(f->class_fd, plan.self, "--rack-dir")) >= 0)
		printf("wattsched: rack %s: %d class rules in force, batch duty cycle %u%%\n",
		       g.rack, ret, ctl->batch_duty_pct);
	rack_plan_free(&plan);
	fflush(stdout);
	return true;
}

bool ws_fleet_poll(struct ws_fleet *f, struct ws_ctl *ctl, time_t now)
{
	bool changed = false;
	char msg[512];

	if (f->watch_fd >= 0 && dir_changed(f->watch_fd))
		f->reread = true;
	if (f->reread) {
		f->reread = false;
		changed = apply_dir(f, ctl, now);
	}
	if (ws_fleet_lease_step(&f->st, ctl, now, msg, sizeof(msg)))
		changed = true;
	if (msg[0])
		ws_warn("%s", msg);
	return changed;
}

bool ws_fleet_metrics_due(struct ws_fleet *f, time_t now)
{
	if (!f->opts->metrics_file || now < f->next_metrics)
		return false;
	f->next_metrics = now + 1;
	return true;
}

/* ---- status ------------------------------------------------------------ */

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

static double get_num(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_double(v) : 0;
}

int ws_fleet_status_fetch(struct ws_fleet_state *fs, unsigned int *gen, char *note,
			  size_t notelen)
{
	struct json_object *o, *r;
	char resp[WS_CTL_ANSWER_MAX];
	int ret;

	memset(fs, 0, sizeof(*fs));
	ret = ws_ctl_try_request("{\"op\":\"get\"}", resp, sizeof(resp), note, notelen);
	if (ret)
		return ret;
	o = json_tokener_parse(resp);
	if (!o || !json_object_object_get_ex(o, "cap_origin", NULL)) {
		snprintf(note, notelen, "the loader's answer has no fleet state: %s", resp);
		json_object_put(o);
		return -EPROTO;
	}
	*gen = get_num(o, "generation");
	fs->origin = name_index(origin_names, ARRAY_SIZE(origin_names), get_str(o, "cap_origin"));
	fs->compliance = name_index(compliance_names, ARRAY_SIZE(compliance_names),
				    get_str(o, "compliance"));
	fs->compliance_since = get_num(o, "compliance_since");
	fs->safe_cap_watts = get_num(o, "safe_cap_watts");
	fs->power_watts = get_num(o, "power_watts");
	fs->active_cpus = get_num(o, "active_cpus");
	fs->cap_in_force = get_num(o, "cap_in_force_watts");
	fs->telemetry_stale = json_object_object_get_ex(o, "telemetry_stale", &r) &&
			      json_object_get_boolean(r);
	fs->stale_since = get_num(o, "telemetry_stale_since");
	if (json_object_object_get_ex(o, "pushed_watts", &r) && r) {
		fs->pushed.watts = json_object_get_double(r);
		fs->pushed.at = 1;	/* present; its age is pushed_age */
		fs->pushed_age = get_num(o, "pushed_age_s");
	}
	if (json_object_object_get_ex(o, "rack", &r) && json_object_is_type(r, json_type_object)) {
		struct json_object *v;

		fs->have_grant = true;
		snprintf(fs->grant.rack, sizeof(fs->grant.rack), "%s", get_str(r, "id"));
		snprintf(fs->grant.host, sizeof(fs->grant.host), "%s", get_str(r, "host"));
		fs->grant.watts = get_num(r, "share_watts");
		fs->grant.safe_watts = get_num(r, "safe_watts");
		fs->grant.policy = ws_policy_from_name(get_str(r, "policy"));
		fs->grant.expires = json_object_object_get_ex(r, "expires", &v) ?
				    json_object_get_int64(v) : 0;
		fs->lease_expired = json_object_object_get_ex(r, "expired", &v) &&
				    json_object_get_boolean(v);
	}
	json_object_put(o);
	return 0;
}

static struct json_object *json_time(time_t t)
{
	char buf[32];

	rack_format_time(t, buf, sizeof(buf));
	return json_object_new_string(buf);
}

static void print_json(const struct ws_fleet_state *fs, const char *note)
{
	struct json_object *o = json_object_new_object();
	const struct ws_rack_grant *g = &fs->grant;
	const char *s;
	bool known = !note;

	json_object_object_add(o, "cap_origin", known ?
			       json_object_new_string(ws_cap_origin_name(fs->origin)) : NULL);
	json_object_object_add(o, "rack", fs->have_grant ? json_object_new_string(g->rack) : NULL);
	json_object_object_add(o, "rack_host",
			       fs->have_grant ? json_object_new_string(g->host) : NULL);
	json_object_object_add(o, "share_watts", fs->have_grant ? json_watts(g->watts) : NULL);
	json_object_object_add(o, "safe_watts", fs->have_grant && g->safe_watts > 0 ?
			       json_watts(g->safe_watts) : NULL);
	json_object_object_add(o, "lease_expires",
			       fs->have_grant ? json_object_new_int64(g->expires) : NULL);
	json_object_object_add(o, "lease_expires_at", fs->have_grant ? json_time(g->expires) : NULL);
	json_object_object_add(o, "lease_expired", fs->have_grant ?
			       json_object_new_boolean(fs->lease_expired) : NULL);
	json_object_object_add(o, "compliance", known ?
			       json_object_new_string(ws_compliance_name(fs->compliance)) : NULL);
	json_object_object_add(o, "compliance_since", known && fs->compliance_since ?
			       json_object_new_int64(fs->compliance_since) : NULL);
	json_object_object_add(o, "compliance_since_at", known && fs->compliance_since ?
			       json_time(fs->compliance_since) : NULL);
	json_object_object_add(o, "cap_in_force_watts", known ?
			       json_object_new_int64(fs->cap_in_force) : NULL);
	json_object_object_add(o, "telemetry_stale", known ?
			       json_object_new_boolean(fs->telemetry_stale) : NULL);
	json_object_object_add(o, "telemetry_stale_since", known && fs->telemetry_stale ?
			       json_object_new_int64(fs->stale_since) : NULL);
	json_object_object_add(o, "pushed_watts", known && fs->pushed.at ?
			       json_watts(fs->pushed.watts) : NULL);
	json_object_object_add(o, "pushed_age_s", known && fs->pushed.at ?
			       json_watts(fs->pushed_age) : NULL);
	json_object_object_add(o, "loader_note", note ? json_object_new_string(note) : NULL);
	/* Members of status's object: its braces are status's own. */
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
					   JSON_C_TO_STRING_NOSLASHESCAPE);
	printf(",%.*s", (int)strlen(s) - 2, s + 1);
	json_object_put(o);
}

void ws_fleet_status_print(const struct ws_fleet_state *fs, const char *note, bool json,
			   time_t now)
{
	const struct ws_rack_grant *g = &fs->grant;
	char t[32];

	if (json) {
		print_json(fs, note);
		return;
	}
	if (note) {
		printf("loader:     %s: cap origin, lease and compliance unknown\n", note);
		return;
	}
	printf("origin:     %s", ws_cap_origin_name(fs->origin));
	if (fs->have_grant)
		printf(" (rack %s, host %s, share %.3f W, policy %s)", g->rack, g->host,
		       g->watts, ws_policy_name(g->policy));
	printf("\n");
	if (fs->have_grant) {
		rack_format_time(g->expires, t, sizeof(t));
		if (fs->lease_expired)
			printf("lease:      expired at %s (%lld s ago)", t,
			       (long long)(now - g->expires));
		else
			printf("lease:      until %s (in %lld s)", t, (long long)(g->expires - now));
		if (g->safe_watts > 0)
			printf("; safe cap %u W (share of the document's safe_cap_watts)\n",
			       (unsigned int)floor(g->safe_watts));
		else if (fs->safe_cap_watts)
			printf("; safe cap %u W (--safe-cap-watts)\n", fs->safe_cap_watts);
		else
			printf("; no safe cap: the last cap stays when it ends\n");
	}
	if (fs->pushed.at)
		printf("pushed:     %.1f W, %.1f s ago\n", fs->pushed.watts, fs->pushed_age);
	if (fs->telemetry_stale) {
		rack_format_time(fs->stale_since, t, sizeof(t));
		printf("telemetry:  STALE since %s: the model is the source", t);
		if (fs->cap_in_force)
			printf("; cap in force %u W", fs->cap_in_force);
		printf("\n");
	}
	if (fs->compliance_since) {
		rack_format_time(fs->compliance_since, t, sizeof(t));
		printf("compliance: %s since %s\n", ws_compliance_name(fs->compliance), t);
	} else {
		printf("compliance: %s\n", ws_compliance_name(fs->compliance));
	}
}
