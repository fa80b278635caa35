// SPDX-License-Identifier: GPL-2.0
/*
 * test_policy.c - the operator's intent and its transitions
 * (user/core/policy.c), as tables: each row is one request or one lease
 * check, and the state it must leave.  The control block each intent
 * gives BPF is checked at the end.
 */
#include <string.h>
#include <time.h>

#include "core/policy.h"
#include "tap.h"

enum event { SET_POLICY, SET_CAP, CLEAR_CAP, GRANT, LEASE };

/* A grant of @watts until NOW + @lease s, safe share @safe, duty @duty. */
struct grant_arg {
	double watts, safe;
	int policy;
	long lease;
	unsigned int duty;
};

struct step {
	enum event ev;
	unsigned int arg;		/* SET_POLICY: policy; SET_CAP: watts; LEASE: s after NOW */
	long step;			/* LEASE: the wall clock stepped by this many s */
	struct grant_arg g;		/* GRANT */
	/* the state after it */
	unsigned int policy, before, cap;
	enum ws_cap_origin origin;
	bool grant, expired;
	unsigned int duty;		/* 0: not checked */
	bool changed;			/* LEASE: did it return true? */
	const char *msg;		/* LEASE: in the message; "" for none */
};

#define NOW	1790000000L
#define BOOT	1000.0		/* CLOCK_BOOTTIME at NOW */
#define B	WS_POLICY_BALANCED
#define P	WS_POLICY_PERFORMANCE
#define S	WS_POLICY_POWERSAVE
#define C	WS_POLICY_CAPPED

static const char *const ev_names[] = { "set policy", "set cap", "clear cap", "rack grant",
					"lease check" };

/* The operator's own requests: a cap remembers the policy it replaced. */
static const struct step operator_steps[] = {
	{ SET_POLICY, P, .policy = P, .before = B, .cap = 0, .origin = WS_ORIGIN_NONE },
	{ SET_CAP, 350, .policy = C, .before = P, .cap = 350, .origin = WS_ORIGIN_CLI },
	{ SET_CAP, 300, .policy = C, .before = P, .cap = 300, .origin = WS_ORIGIN_CLI },
	{ CLEAR_CAP, .policy = P, .before = P, .cap = 0, .origin = WS_ORIGIN_NONE },
	{ CLEAR_CAP, .policy = P, .before = P, .cap = 0, .origin = WS_ORIGIN_NONE },
	{ SET_CAP, 200, .policy = C, .before = P, .cap = 200, .origin = WS_ORIGIN_CLI },
	/* a policy chosen under a cap: in force, and what clearing returns to */
	{ SET_POLICY, S, .policy = S, .before = S, .cap = 200, .origin = WS_ORIGIN_CLI },
	{ SET_POLICY, C, .policy = C, .before = S, .cap = 200, .origin = WS_ORIGIN_CLI },
	{ CLEAR_CAP, .policy = S, .before = S, .cap = 0, .origin = WS_ORIGIN_NONE },
};

/* Rack documents against operators, and duty cycles (--batch-duty-pct 70). */
static const struct step rack_steps[] = {
	{ GRANT, .g = { 400.9, 250, P, 3600, 0 }, .policy = P, .before = P, .cap = 400,
	  .origin = WS_ORIGIN_RACK, .grant = true, .duty = 70 },
	{ GRANT, .g = { 400, 0, P, 3600, 40 }, .policy = P, .before = P, .cap = 400,
	  .origin = WS_ORIGIN_RACK, .grant = true, .duty = 40 },
	{ SET_CAP, 350, .policy = C, .before = P, .cap = 350, .origin = WS_ORIGIN_CLI },
	{ LEASE, 100000, .policy = C, .before = P, .cap = 350, .origin = WS_ORIGIN_CLI,
	  .msg = "" },
	{ CLEAR_CAP, .policy = P, .before = P, .cap = 0, .origin = WS_ORIGIN_NONE },
	{ SET_POLICY, S, .policy = S, .before = P, .cap = 0, .origin = WS_ORIGIN_NONE },
	/* a document that says capped remembers the policy it replaced */
	{ GRANT, .g = { 300, 0, C, 3600, 0 }, .policy = C, .before = S, .cap = 300,
	  .origin = WS_ORIGIN_RACK, .grant = true, .duty = 70 },
	{ CLEAR_CAP, .policy = S, .before = S, .cap = 0, .origin = WS_ORIGIN_NONE },
};

/* The lease with a safe share in the document (250.7 W). */
static const struct step lease_doc_safe[] = {
	{ GRANT, .g = { 400, 250.7, B, 100, 0 }, .policy = B, .before = B, .cap = 400,
	  .origin = WS_ORIGIN_RACK, .grant = true },
	{ LEASE, 99, .policy = B, .before = B, .cap = 400, .origin = WS_ORIGIN_RACK,
	  .grant = true, .msg = "" },
	{ LEASE, 100, .policy = B, .before = B, .cap = 250, .origin = WS_ORIGIN_SAFE,
	  .grant = true, .expired = true, .changed = true, .msg = "safe cap 250 W" },
	{ LEASE, 200, .policy = B, .before = B, .cap = 250, .origin = WS_ORIGIN_SAFE,
	  .grant = true, .expired = true, .msg = "" },
	/* a new document leaves safe mode */
	{ GRANT, .g = { 400, 0, B, 100, 0 }, .policy = B, .before = B, .cap = 400,
	  .origin = WS_ORIGIN_RACK, .grant = true },
};

/* No safe share: --safe-cap-watts (120 W). */
static const struct step lease_run_safe[] = {
	{ GRANT, .g = { 400, 0, B, 100, 0 }, .policy = B, .before = B, .cap = 400,
	  .origin = WS_ORIGIN_RACK, .grant = true },
	{ LEASE, 101, .policy = B, .before = B, .cap = 120, .origin = WS_ORIGIN_SAFE,
	  .grant = true, .expired = true, .changed = true, .msg = "--safe-cap-watts" },
};

/* Clock steps: back an hour cannot lengthen the lease; ahead an hour ends it early. */
static const struct step lease_clock_step[] = {
	{ GRANT, .g = { 400, 250, B, 100, 0 }, .policy = B, .before = B, .cap = 400,
	  .origin = WS_ORIGIN_RACK, .grant = true },
	{ LEASE, 99, .step = -3600, .policy = B, .before = B, .cap = 400,
	  .origin = WS_ORIGIN_RACK, .grant = true, .msg = "" },
	{ LEASE, 100, .step = -3600, .policy = B, .before = B, .cap = 250,
	  .origin = WS_ORIGIN_SAFE, .grant = true, .expired = true, .changed = true,
	  .msg = "safe cap 250 W" },
	{ GRANT, .g = { 400, 250, B, 100, 0 }, .policy = B, .before = B, .cap = 400,
	  .origin = WS_ORIGIN_RACK, .grant = true },
	{ LEASE, 10, .step = 3600, .policy = B, .before = B, .cap = 250,
	  .origin = WS_ORIGIN_SAFE, .grant = true, .expired = true, .changed = true,
	  .msg = "safe cap 250 W" },
};

/* Neither: the cap stays, said once. */
static const struct step lease_no_safe[] = {
	{ GRANT, .g = { 400, 0, B, 100, 0 }, .policy = B, .before = B, .cap = 400,
	  .origin = WS_ORIGIN_RACK, .grant = true },
	{ LEASE, 100, .policy = B, .before = B, .cap = 400, .origin = WS_ORIGIN_RACK,
	  .grant = true, .expired = true, .msg = "stays at 400 W" },
	{ LEASE, 101, .policy = B, .before = B, .cap = 400, .origin = WS_ORIGIN_RACK,
	  .grant = true, .expired = true, .msg = "" },
};

static bool apply(struct ws_intent *in, const struct step *s, char *msg, size_t len)
{
	struct ws_rack_grant g = { .rack = "r1", .host = "h1" };

	msg[0] = '\0';
	switch (s->ev) {
	case SET_POLICY:
		ws_intent_set_policy(in, s->arg);
		break;
	case SET_CAP:
		ws_intent_set_cap(in, s->arg);
		break;
	case CLEAR_CAP:
		ws_intent_clear_cap(in);
		break;
	case GRANT:
		g.watts = s->g.watts;
		g.safe_watts = s->g.safe;
		g.policy = s->g.policy;
		g.expires = NOW + s->g.lease;
		g.batch_duty_pct = s->g.duty;
		ws_intent_apply_grant(in, &g, NOW, BOOT);
		break;
	case LEASE:
		return ws_intent_lease_step(in, NOW + s->arg + s->step, BOOT + s->arg, msg, len);
	}
	return false;
}

static void run_table(const char *name, const struct step *steps, size_t n,
		      unsigned int safe_cap)
{
	struct ws_intent in;
	char msg[512], what[640];
	size_t i;
	bool changed;

	ws_intent_init(&in, B, 0, 70, safe_cap);
	for (i = 0; i < n; i++) {
		const struct step *s = &steps[i];

		changed = apply(&in, s, msg, sizeof(msg));
		snprintf(what, sizeof(what), "%s, step %zu (%s): policy %u/%u, cap %u, origin %s%s",
			 name, i + 1, ev_names[s->ev], s->policy, s->before, s->cap,
			 ws_cap_origin_name(s->origin), s->ev == LEASE ? ", the lease's word" : "");
		tap_ok(in.policy == s->policy && in.policy_before_cap == s->before &&
		       in.cap_watts == s->cap && in.origin == s->origin &&
		       in.have_grant == s->grant && in.lease_expired == s->expired &&
		       (!s->duty || in.batch_duty_pct == s->duty) && changed == s->changed &&
		       (!s->msg || (s->msg[0] ? !!strstr(msg, s->msg) : !msg[0])), what);
		if (in.policy != s->policy || in.cap_watts != s->cap || in.origin != s->origin)
			printf("#   got policy %u/%u, cap %u, origin %s, msg '%s'\n", in.policy,
			       in.policy_before_cap, in.cap_watts, ws_cap_origin_name(in.origin),
			       msg);
	}
}

int main(void)
{
	struct ws_intent in;
	struct ws_ctl ctl;

	tap_plan(9 + 8 + 5 + 2 + 3 + 5 + 4);

	run_table("operator", operator_steps, sizeof(operator_steps) / sizeof(operator_steps[0]), 0);
	run_table("rack", rack_steps, sizeof(rack_steps) / sizeof(rack_steps[0]), 0);
	run_table("lease, safe share", lease_doc_safe,
		  sizeof(lease_doc_safe) / sizeof(lease_doc_safe[0]), 0);
	run_table("lease, --safe-cap-watts", lease_run_safe,
		  sizeof(lease_run_safe) / sizeof(lease_run_safe[0]), 120);
	run_table("lease, no safe cap", lease_no_safe,
		  sizeof(lease_no_safe) / sizeof(lease_no_safe[0]), 0);
	run_table("lease, clock steps", lease_clock_step,
		  sizeof(lease_clock_step) / sizeof(lease_clock_step[0]), 0);

	ws_intent_init(&in, WS_POLICY_POWERSAVE, 0, 50, 0);
	in.gen = 9;
	ws_intent_ctl(&in, &ctl);
	tap_ok(ctl.policy == S && ctl.gen == 9 && ctl.batch_duty_pct == 50 &&
	       ctl.perf[WS_CLASS_NORMAL] == WS_PERF_MAX / 2 &&
	       ctl.perf[WS_CLASS_BATCH] == WS_PERF_MAX / 4, "ctl: powersave's cpufreq targets");
	ws_intent_set_policy(&in, P);
	ws_intent_ctl(&in, &ctl);
	tap_ok(ctl.perf[WS_CLASS_LATENCY] == WS_PERF_MAX && ctl.perf[WS_CLASS_BATCH] == WS_PERF_MAX,
	       "ctl: performance: full targets");
	ws_intent_set_cap(&in, 100);
	ws_intent_ctl(&in, &ctl);
	tap_ok(ctl.policy == C && !ctl.perf[WS_CLASS_NORMAL], "ctl: capped leaves frequency alone");
	ws_intent_init(&in, B, 250, 50, 0);
	tap_ok(in.cap_watts == 250 && in.policy == C && in.policy_before_cap == B &&
	       in.origin == WS_ORIGIN_CLI, "run --cap-watts: capped, origin cli, back to balanced");
	return tap_done();
}
