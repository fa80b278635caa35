// SPDX-License-Identifier: GPL-2.0
/* policy.c - the policy table, the operator's intent and its transitions (policy.h). */
#include <math.h>

#include "core/policy.h"
#include "lib/names.h"
#include "lib/util.h"

/* What each policy asks of the hardware: a cpufreq target per class, 0 = the governor's. */
static const struct {
	const char *summary;
	__u32 perf[WS_NR_CLASSES];
} policy_table[WS_NR_POLICIES] = {
	[WS_POLICY_BALANCED] = {
		"keep tasks near their caches; frequency left to the governor",
	},
	[WS_POLICY_PERFORMANCE] = {
		"spread over whole cores first; full cpufreq target",
		{ [WS_CLASS_LATENCY] = WS_PERF_MAX, [WS_CLASS_NORMAL] = WS_PERF_MAX,
		  [WS_CLASS_BATCH] = WS_PERF_MAX },
	},
	[WS_POLICY_POWERSAVE] = {
		"pack onto SMT siblings and few cores; lower cpufreq targets",
		{ [WS_CLASS_LATENCY] = WS_PERF_MAX * 3 / 4, [WS_CLASS_NORMAL] = WS_PERF_MAX / 2,
		  [WS_CLASS_BATCH] = WS_PERF_MAX / 4 },
	},
	[WS_POLICY_CAPPED] = {
		"enforce the host power cap (see docs/policies.md)",
	},
};

static const char *const origin_names[] = {
	[WS_ORIGIN_NONE] = "none", [WS_ORIGIN_CLI] = "cli",
	[WS_ORIGIN_RACK] = "rack", [WS_ORIGIN_SAFE] = "safe",
};

const char *ws_cap_origin_name(enum ws_cap_origin o)
{
	return (unsigned int)o < ARRAY_SIZE(origin_names) ? origin_names[o] : "none";
}

const char *ws_policy_summary(unsigned int policy)
{
	return policy < WS_NR_POLICIES ? policy_table[policy].summary : "";
}

void ws_intent_init(struct ws_intent *in, unsigned int policy, unsigned int cap_watts,
		    unsigned int duty_pct, unsigned int safe_cap_watts)
{
	memset(in, 0, sizeof(*in));
	in->policy = policy;
	in->policy_before_cap = policy;
	in->duty_default = duty_pct;
	in->batch_duty_pct = duty_pct;
	in->safe_cap_watts = safe_cap_watts;
	if (cap_watts)
		ws_intent_set_cap(in, cap_watts);
}

/* The document's rule ends: an operator took over. */
static void drop_grant(struct ws_intent *in)
{
	in->have_grant = false;
	in->lease_expired = false;
}

void ws_intent_set_policy(struct ws_intent *in, unsigned int policy)
{
	in->policy = policy;
	/* A policy chosen under a cap is the one clearing the cap returns to. */
	if (in->cap_watts && policy != WS_POLICY_CAPPED)
		in->policy_before_cap = policy;
}

void ws_intent_set_cap(struct ws_intent *in, unsigned int watts)
{
	if (!in->cap_watts)
		in->policy_before_cap = in->policy;
	in->policy = WS_POLICY_CAPPED;
	in->cap_watts = watts;
	in->origin = WS_ORIGIN_CLI;
	drop_grant(in);
}

void ws_intent_clear_cap(struct ws_intent *in)
{
	if (in->cap_watts)
		in->policy = in->policy_before_cap;
	in->cap_watts = 0;
	in->origin = WS_ORIGIN_NONE;
	drop_grant(in);
}

void ws_intent_apply_grant(struct ws_intent *in, const struct ws_rack_grant *g, time_t now,
			   double boot)
{
	/* What clearing the cap returns to: the document's policy for this host. */
	if (g->policy != WS_POLICY_CAPPED)
		in->policy_before_cap = g->policy;
	else if (!in->cap_watts)
		in->policy_before_cap = in->policy;
	in->policy = g->policy;
	in->cap_watts = (unsigned int)floor(g->watts);
	in->batch_duty_pct = g->batch_duty_pct ?: in->duty_default;
	in->origin = WS_ORIGIN_RACK;
	in->grant = *g;
	in->lease_end_boot = boot + (double)(g->expires - now);
	in->have_grant = true;
	in->lease_expired = false;
}

unsigned int ws_intent_safe_watts(const struct ws_intent *in)
{
	if (in->have_grant && in->grant.safe_watts > 0)
		return (unsigned int)floor(in->grant.safe_watts);
	return in->safe_cap_watts;
}

bool ws_intent_lease_step(struct ws_intent *in, time_t now, double boot, char *msg,
			  size_t msglen)
{
	unsigned int safe;
	char t[32];

	msg[0] = '\0';
	if (!in->have_grant || in->lease_expired || in->origin != WS_ORIGIN_RACK ||
	    (now < in->grant.expires && boot < in->lease_end_boot))
		return false;
	in->lease_expired = true;
	rack_format_time(in->grant.expires, t, sizeof(t));
	safe = ws_intent_safe_watts(in);
	if (!safe) {
		snprintf(msg, msglen, "rack %s: lease expired at %s; the document has no "
			 "safe_cap_watts and no --safe-cap-watts was given: the cap stays at %u W",
			 in->grant.rack, t, in->cap_watts);
		/* only the flag changed: nothing to commit, but said once */
		return false;
	}
	snprintf(msg, msglen, "rack %s: lease expired at %s: safe cap %u W (%s)",
		 in->grant.rack, t, safe,
		 in->grant.safe_watts > 0 ? "this host's share of safe_cap_watts" :
					    "--safe-cap-watts");
	in->cap_watts = safe;
	in->origin = WS_ORIGIN_SAFE;
	return true;
}

void ws_intent_ctl(const struct ws_intent *in, struct ws_ctl *ctl)
{
	unsigned int p = in->policy < WS_NR_POLICIES ? in->policy : WS_POLICY_BALANCED;

	memset(ctl, 0, sizeof(*ctl));
	ctl->gen = in->gen;
	ctl->policy = p;
	memcpy(ctl->perf, policy_table[p].perf, sizeof(ctl->perf));
	ctl->batch_duty_pct = in->batch_duty_pct;
}
