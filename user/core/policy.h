/* SPDX-License-Identifier: GPL-2.0 */
/*
 * policy.h - the operator's intent and every change to it.
 *
 * The intent is what operators and fleet tooling asked for: the policy, the
 * cap and where it came from, the rack document in force and its lease, the
 * batch duty cycle.  Each request the daemon takes is one transition below,
 * applied to a copy that the daemon commits whole or drops; this is the only
 * code that remembers which policy a cap replaced.  The BPF control block
 * (struct ws_ctl) is derived from an intent by ws_intent_ctl().
 *
 *   set policy   the policy in force; under a cap, also the one clearing
 *                the cap returns to
 *   set cap      remember the policy in force, switch to capped; origin cli
 *   clear cap    back to the remembered policy; origin none
 *   rack grant   the document's cap, policy and duty cycle; origin rack
 *   lease lapse  at the document's end, the safe cap; origin safe
 */
#ifndef __WS_POLICY_H
#define __WS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "core/grant.h"
#include "wattsched.h"

/* Where the cap in force came from. */
enum ws_cap_origin {
	WS_ORIGIN_NONE = 0,	/* no cap */
	WS_ORIGIN_CLI,		/* `wattsched cap`, or `run --cap-watts` */
	WS_ORIGIN_RACK,		/* a rack document: `rack apply` or --rack-dir */
	WS_ORIGIN_SAFE,		/* the fail-safe after that document's lease lapsed */
};

const char *ws_cap_origin_name(enum ws_cap_origin o);

struct ws_intent {
	unsigned int gen;		/* bumped by every committed change */
	unsigned int policy;		/* enum ws_policy in force */
	unsigned int policy_before_cap;	/* what clearing the cap returns to */
	unsigned int cap_watts;		/* 0 = none */
	enum ws_cap_origin origin;
	unsigned int batch_duty_pct;	/* under a cap, % of the usable CPUs batch may hold */
	unsigned int duty_default;	/* `run --batch-duty-pct`: for grants without one */
	unsigned int safe_cap_watts;	/* `run --safe-cap-watts`; 0 = none */
	struct ws_rack_grant grant;	/* the document applied last (origin rack or safe) */
	double lease_end_boot;		/* its end on CLOCK_BOOTTIME, anchored when applied */
	bool have_grant;
	bool lease_expired;
};

/* A fresh intent: `run`'s options. */
void ws_intent_init(struct ws_intent *in, unsigned int policy, unsigned int cap_watts,
		    unsigned int duty_pct, unsigned int safe_cap_watts);

void ws_intent_set_policy(struct ws_intent *in, unsigned int policy);
void ws_intent_set_cap(struct ws_intent *in, unsigned int watts);
void ws_intent_clear_cap(struct ws_intent *in);
/*
 * A checked grant: cap = floor(watts), the document's policy and duty
 * cycle; origin rack.  Its lease's end is anchored on CLOCK_BOOTTIME now
 * (@boot; @now is the wall clock), so that no clock step can extend it.
 */
void ws_intent_apply_grant(struct ws_intent *in, const struct ws_rack_grant *g, time_t now,
			   double boot);

/*
 * The lease: once the applied document's end is reached by the wall clock
 * (@now) or by the anchor on CLOCK_BOOTTIME (@boot), whichever comes
 * first, the cap becomes the safe cap (ws_intent_safe_watts()), origin
 * safe.  A clock stepped back cannot lengthen a lease; one stepped ahead
 * ends it early, on the safe side.  True when the intent changed; @msg
 * (may be left empty) says what happened, once, for the log.
 */
bool ws_intent_lease_step(struct ws_intent *in, time_t now, double boot, char *msg,
			  size_t msglen);

/* The safe cap: the document's safe share, else --safe-cap-watts; 0 = none. */
unsigned int ws_intent_safe_watts(const struct ws_intent *in);

/* The BPF control block for @in: policy, cpufreq targets per class, duty cycle. */
void ws_intent_ctl(const struct ws_intent *in, struct ws_ctl *ctl);

/* One line for `wattsched policy --help`: what @policy does. */
const char *ws_policy_summary(unsigned int policy);

#endif /* __WS_POLICY_H */
