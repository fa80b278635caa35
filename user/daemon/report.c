// SPDX-License-Identifier: GPL-2.0
/*
 * report.c - the daemon's state as one JSON object (ws_daemon_state(),
 * daemon.h): the answer to every control request, and what `status` shows.
 * docs/cli.md lists the members.
 */
#include <json-c/json.h>

#include "daemon/daemon.h"
#include "lib/json.h"
#include "lib/names.h"
#include "lib/util.h"

static struct json_object *json_time(time_t t)
{
	char buf[32];

	rack_format_time(t, buf, sizeof(buf));
	return json_object_new_string(buf);
}

static void add(struct json_object *o, const char *key, struct json_object *v)
{
	json_object_object_add(o, key, v);
}

static void add_intent(struct json_object *o, const struct ws_intent *in)
{
	const struct ws_rack_grant *g = &in->grant;
	bool doc = in->have_grant;
	unsigned int safe = ws_intent_safe_watts(in);

	add(o, "policy", json_object_new_string(ws_policy_name(in->policy)));
	add(o, "generation", json_object_new_int64(in->gen));
	add(o, "cap_watts", json_object_new_int64(in->cap_watts));
	add(o, "batch_duty_pct", json_object_new_int64(in->batch_duty_pct));
	add(o, "cap_origin", json_object_new_string(ws_cap_origin_name(in->origin)));
	add(o, "rack", doc ? json_object_new_string(g->rack) : NULL);
	add(o, "rack_host", doc ? json_object_new_string(g->host) : NULL);
	add(o, "share_watts", doc ? ws_json_watts(g->watts) : NULL);
	add(o, "safe_watts", doc && g->safe_watts > 0 ? ws_json_watts(g->safe_watts) : NULL);
	add(o, "lease_expires", doc ? json_object_new_int64(g->expires) : NULL);
	add(o, "lease_expires_at", doc ? json_time(g->expires) : NULL);
	add(o, "lease_expired", doc ? json_object_new_boolean(in->lease_expired) : NULL);
	add(o, "safe_cap_watts", safe ? json_object_new_int64(safe) : NULL);
}

/* Where the intent came from: the command line, or a state file at a start. */
static void add_source(struct json_object *o, const struct ws_daemon *d)
{
	add(o, "intent_source", json_object_new_string(d->restored_from[0] ? "restored" :
						      "command line"));
	add(o, "restored_from", d->restored_from[0] ?
	    json_object_new_string(d->restored_from) : NULL);
	add(o, "restored_at", d->restored_from[0] ? json_time(d->restored_at) : NULL);
	add(o, "state_file", d->cfg->state_file ? json_object_new_string(d->cfg->state_file) :
						  NULL);
}

static struct json_object *cpu_list(const __u64 *mask)
{
	struct json_object *a = json_object_new_array();
	unsigned int cpu;

	for (cpu = 0; cpu < WS_MAX_CPUS; cpu++)
		if (ws_cpu_test(mask, cpu))
			json_object_array_add(a, json_object_new_int(cpu));
	return a;
}

static void add_observed(struct json_object *o, const struct ws_observed *ob)
{
	const struct ws_compliance_state *c = &ob->compliance;

	add(o, "power_watts", ws_json_watts(ob->power_watts));
	add(o, "power_source", json_object_new_string(ws_power_source_name(ob->power_source)));
	add(o, "active_cpus", json_object_new_int64(ob->active_cpus));
	add(o, "active_cpu_list", cpu_list(ob->active));
	add(o, "partial_cpu", ob->partial_permille ? json_object_new_int(ob->partial_cpu) : NULL);
	add(o, "partial_permille", ob->partial_permille ?
				   json_object_new_int64(ob->partial_permille) : NULL);
	add(o, "partial_given_permille", ob->partial_permille ?
					 json_object_new_int64(ob->partial_given) : NULL);
	add(o, "cap_in_force_watts", json_object_new_int64(ob->cap_in_force));
	add(o, "power_guard_watts", ob->power_guard_mw ? ws_json_watts(ob->power_guard_mw / 1000.0) :
							 NULL);
	add(o, "compliance", json_object_new_string(ws_compliance_name(c->state)));
	add(o, "compliance_since", c->since ? json_object_new_int64(c->since) : NULL);
	add(o, "compliance_since_at", c->since ? json_time(c->since) : NULL);
	add(o, "telemetry_stale", json_object_new_boolean(ob->stale.stale));
	add(o, "telemetry_stale_since", ob->stale.stale ? json_object_new_int64(ob->stale.since) :
						       NULL);
	add(o, "pushed_watts", ob->pushed.at ? ws_json_watts(ob->pushed.watts) : NULL);
	add(o, "pushed_age_s", ob->pushed.at ? ws_json_watts(ws_mono_now() - ob->pushed.at) :
					       NULL);
	add(o, "thermal", json_object_new_string(ws_thermal_state_name(ob->thermal)));
	add(o, "thermal_path", json_object_new_string(ws_heat_path_name(ob->heat_path)));
	add(o, "thermal_sensed_cpus", json_object_new_int64(ob->nr_sensed));
	add(o, "hot_cpus", cpu_list(ob->hot));
	add(o, "pinned_cpus", cpu_list(ob->pinned));
	add(o, "cap_unmet_pinned", json_object_new_boolean(ob->cap_unmet_pinned));
}

struct json_object *ws_daemon_state(const struct ws_daemon *d)
{
	struct json_object *o = json_object_new_object();

	add_intent(o, &d->intent);
	add_source(o, d);
	add_observed(o, &d->obs);
	return o;
}
