// SPDX-License-Identifier: GPL-2.0
/*
 * test_state.c - the operator's intent as the state file keeps it
 * (user/core/state.c): every member round-trips, and what a document or a
 * request could never have said is refused with the intent unchanged.
 */
#include <json-c/json.h>
#include <string.h>

#include "core/state.h"
#include "tap.h"

static void refused(const char *json, const char *why)
{
	struct json_object *o = json_tokener_parse(json);
	struct ws_intent in, before;
	char err[256] = "", name[512];
	int ret;

	ws_intent_init(&in, WS_POLICY_BALANCED, 0, 50, 0);
	before = in;
	ret = ws_intent_from_json(o, &in, err, sizeof(err));
	snprintf(name, sizeof(name), "refused: %s", why);
	tap_ok(o && ret && strstr(err, why) && !memcmp(&in, &before, sizeof(in)), name);
	if (!strstr(err, why))
		printf("#   got '%s'\n", err);
	json_object_put(o);
}

int main(void)
{
	struct ws_rack_grant g = { .rack = "dc1-r4", .host = "node-7", .watts = 412.5,
				   .safe_watts = 200, .policy = WS_POLICY_POWERSAVE,
				   .issued = 1790000000, .expires = 1790003600,
				   .batch_duty_pct = 30, .classes_sig = 0xfeedfacecafebeefULL };
	struct ws_intent in, back;
	struct json_object *o;
	char err[256];

	tap_plan(8);

	ws_intent_init(&in, WS_POLICY_PERFORMANCE, 0, 70, 120);
	ws_intent_set_cap(&in, 300);
	ws_intent_apply_grant(&in, &g, 1790000100, 5000.0);
	in.lease_expired = true;
	o = ws_intent_to_json(&in);
	ws_intent_init(&back, WS_POLICY_BALANCED, 0, 70, 120);
	tap_is_int(ws_intent_from_json(o, &back, err, sizeof(err)), 0, "a saved intent reads back");
	back.gen = in.gen;
	tap_ok(!memcmp(&back, &in, sizeof(in)), "every member round-trips (the grant too)");
	json_object_put(o);

	ws_intent_init(&in, WS_POLICY_BALANCED, 0, 50, 0);
	ws_intent_set_cap(&in, 250);
	o = ws_intent_to_json(&in);
	ws_intent_init(&back, WS_POLICY_BALANCED, 0, 50, 0);
	tap_ok(!ws_intent_from_json(o, &back, err, sizeof(err)) && back.cap_watts == 250 &&
	       back.origin == WS_ORIGIN_CLI && !back.have_grant && back.policy == WS_POLICY_CAPPED,
	       "a CLI cap without a document");
	json_object_put(o);

	refused("[]", "not an object");
	refused("{\"policy\":\"turbo\",\"policy_before_cap\":\"balanced\",\"cap_watts\":0,"
		"\"batch_duty_pct\":50,\"origin\":\"none\"}", "unknown policy 'turbo'");
	refused("{\"policy\":\"capped\",\"policy_before_cap\":\"balanced\",\"cap_watts\":5,"
		"\"batch_duty_pct\":50,\"origin\":\"cli\"}", "'cap_watts': 5 is below 10");
	refused("{\"policy\":\"capped\",\"policy_before_cap\":\"balanced\",\"cap_watts\":300,"
		"\"batch_duty_pct\":50,\"origin\":\"moon\"}", "unknown origin 'moon'");
	refused("{\"policy\":\"capped\",\"policy_before_cap\":\"balanced\",\"cap_watts\":300,"
		"\"batch_duty_pct\":50,\"origin\":\"rack\",\"grant\":{\"rack\":\"r\",\"host\":\"h\","
		"\"watts\":1e9,\"safe_watts\":0,\"policy\":\"balanced\",\"issued\":1,\"expires\":2,"
		"\"batch_duty_pct\":0}}", "not a grant a document could give");
	return tap_done();
}
