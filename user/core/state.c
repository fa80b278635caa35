// SPDX-License-Identifier: GPL-2.0
/* state.c - the operator's intent as JSON, for the state file (state.h). */
#include <json-c/json.h>
#include <math.h>

#include "core/power.h"
#include "core/state.h"
#include "lib/names.h"
#include "lib/util.h"

static const char *const origin_names[] = { "none", "cli", "rack", "safe" };

struct json_object *ws_grant_to_json(const struct ws_rack_grant *g)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "rack", json_object_new_string(g->rack));
	json_object_object_add(o, "host", json_object_new_string(g->host));
	json_object_object_add(o, "watts", json_object_new_double(g->watts));
	json_object_object_add(o, "safe_watts", json_object_new_double(g->safe_watts));
	json_object_object_add(o, "policy", json_object_new_string(ws_policy_name(g->policy)));
	json_object_object_add(o, "issued", json_object_new_int64(g->issued));
	json_object_object_add(o, "expires", json_object_new_int64(g->expires));
	json_object_object_add(o, "batch_duty_pct", json_object_new_int64(g->batch_duty_pct));
	json_object_object_add(o, "classes_sig", json_object_new_uint64(g->classes_sig));
	return o;
}

struct json_object *ws_intent_to_json(const struct ws_intent *in)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "policy", json_object_new_string(ws_policy_name(in->policy)));
	json_object_object_add(o, "policy_before_cap",
			       json_object_new_string(ws_policy_name(in->policy_before_cap)));
	json_object_object_add(o, "cap_watts", json_object_new_int64(in->cap_watts));
	json_object_object_add(o, "origin", json_object_new_string(ws_cap_origin_name(in->origin)));
	json_object_object_add(o, "batch_duty_pct", json_object_new_int64(in->batch_duty_pct));
	json_object_object_add(o, "grant", in->have_grant ? ws_grant_to_json(&in->grant) : NULL);
	json_object_object_add(o, "lease_expired", json_object_new_boolean(in->lease_expired));
	json_object_object_add(o, "lease_end_boot", json_object_new_double(in->lease_end_boot));
	return o;
}

/* Member @key of @o with JSON type @type; NULL with err set when absent or another type. */
static struct json_object *member(struct json_object *o, const char *key, enum json_type type,
				  char *err, size_t errlen)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, type))
		return v;
	if (type == json_type_double && json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_int))
		return v;
	ws_fail(err, errlen, -EINVAL, "'%s' is missing or not a %s", key,
		json_type_to_name(type));
	return NULL;
}

static int get_policy(struct json_object *o, const char *key, unsigned int *out, char *err,
		      size_t errlen)
{
	struct json_object *v = member(o, key, json_type_string, err, errlen);
	int p;

	if (!v)
		return -EINVAL;
	p = ws_policy_from_name(json_object_get_string(v));
	if (p < 0)
		return ws_fail(err, errlen, -EINVAL, "'%s': unknown policy '%s'", key,
			       json_object_get_string(v));
	*out = p;
	return 0;
}

static int get_string(struct json_object *o, const char *key, char *out, size_t size, char *err,
		      size_t errlen)
{
	struct json_object *v = member(o, key, json_type_string, err, errlen);

	if (!v)
		return -EINVAL;
	snprintf(out, size, "%s", json_object_get_string(v));
	return 0;
}

static int get_double(struct json_object *o, const char *key, double *out, char *err,
		      size_t errlen)
{
	struct json_object *v = member(o, key, json_type_double, err, errlen);

	if (!v)
		return -EINVAL;
	*out = json_object_get_double(v);
	return 0;
}

static int get_time(struct json_object *o, const char *key, time_t *out, char *err,
		    size_t errlen)
{
	struct json_object *v = member(o, key, json_type_int, err, errlen);

	if (!v)
		return -EINVAL;
	*out = json_object_get_int64(v);
	return 0;
}

static int get_uint(struct json_object *o, const char *key, long long min, long long max,
		    unsigned int *out, char *err, size_t errlen)
{
	struct json_object *v = member(o, key, json_type_int, err, errlen);
	long long n;

	if (!v)
		return -EINVAL;
	n = json_object_get_int64(v);
	if (n < min || n > max)
		return ws_fail(err, errlen, -ERANGE, "'%s': %lld is outside %lld..%lld", key, n,
			       min, max);
	*out = n;
	return 0;
}

int ws_grant_from_json(struct json_object *o, struct ws_rack_grant *g, char *err, size_t errlen)
{
	struct json_object *v;
	unsigned int policy;

	memset(g, 0, sizeof(*g));
	if (get_string(o, "rack", g->rack, sizeof(g->rack), err, errlen) ||
	    get_string(o, "host", g->host, sizeof(g->host), err, errlen) ||
	    get_double(o, "watts", &g->watts, err, errlen) ||
	    get_double(o, "safe_watts", &g->safe_watts, err, errlen) ||
	    get_policy(o, "policy", &policy, err, errlen) ||
	    get_uint(o, "batch_duty_pct", 0, 100, &g->batch_duty_pct, err, errlen) ||
	    get_time(o, "issued", &g->issued, err, errlen) ||
	    get_time(o, "expires", &g->expires, err, errlen))
		return -EINVAL;
	g->policy = policy;
	/* optional: 0 (no class rules) when absent */
	if (json_object_object_get_ex(o, "classes_sig", &v) && json_object_is_type(v, json_type_int))
		g->classes_sig = json_object_get_uint64(v);
	/* what a document could not have said: the grant's own checks, but the clock's */
	if (!rack_valid_name(g->rack, sizeof(g->rack)) || !rack_valid_name(g->host, sizeof(g->host)) ||
	    !isfinite(g->watts) || g->watts < WS_CAP_MIN_WATTS || g->watts > WS_CAP_MAX_WATTS ||
	    !isfinite(g->safe_watts) || g->safe_watts < 0 || g->safe_watts > g->watts)
		return ws_fail(err, errlen, -EINVAL, "'grant' is not a grant a document could give");
	return 0;
}

static int origin_from_json(struct json_object *o, enum ws_cap_origin *out, char *err,
			    size_t errlen)
{
	struct json_object *v = member(o, "origin", json_type_string, err, errlen);
	unsigned int i;

	if (!v)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(origin_names); i++) {
		if (!strcmp(json_object_get_string(v), origin_names[i])) {
			*out = i;
			return 0;
		}
	}
	return ws_fail(err, errlen, -EINVAL, "'origin': unknown origin '%s'",
		       json_object_get_string(v));
}

int ws_intent_from_json(struct json_object *o, struct ws_intent *in, char *err, size_t errlen)
{
	struct ws_intent next = *in;
	struct json_object *v;

	if (!json_object_is_type(o, json_type_object))
		return ws_fail(err, errlen, -EINVAL, "the intent is not an object");
	if (get_policy(o, "policy", &next.policy, err, errlen) ||
	    get_policy(o, "policy_before_cap", &next.policy_before_cap, err, errlen) ||
	    get_uint(o, "cap_watts", 0, WS_CAP_MAX_WATTS, &next.cap_watts, err, errlen) ||
	    get_uint(o, "batch_duty_pct", 0, 100, &next.batch_duty_pct, err, errlen) ||
	    origin_from_json(o, &next.origin, err, errlen))
		return -EINVAL;
	if (next.cap_watts && next.cap_watts < WS_CAP_MIN_WATTS)
		return ws_fail(err, errlen, -ERANGE, "'cap_watts': %u is below %u", next.cap_watts,
			       WS_CAP_MIN_WATTS);
	next.have_grant = json_object_object_get_ex(o, "grant", &v) && v;
	if (next.have_grant && ws_grant_from_json(v, &next.grant, err, errlen))
		return -EINVAL;
	next.lease_expired = json_object_object_get_ex(o, "lease_expired", &v) &&
			     json_object_get_boolean(v);
	next.lease_end_boot = json_object_object_get_ex(o, "lease_end_boot", &v) ?
			      json_object_get_double(v) : 0;
	*in = next;
	return 0;
}
