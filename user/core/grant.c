// SPDX-License-Identifier: GPL-2.0
/* grant.c - one host's grant from a rack document (grant.h). */
#include <math.h>

#include "core/grant.h"
#include "core/power.h"
#include "lib/util.h"

/* FNV-1a over a host's class rules. */
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
		return ws_fail(err, errlen, -ENOENT, "no host entry chosen");
	memset(g, 0, sizeof(*g));
	snprintf(g->rack, sizeof(g->rack), "%s", plan->doc.rack_id);
	snprintf(g->host, sizeof(g->host), "%s", plan->self->id);
	g->watts = plan->shares[plan->self_idx];
	g->safe_watts = plan->safe_shares ? plan->safe_shares[plan->self_idx] : 0;
	g->policy = plan->self->policy;
	g->issued = plan->doc.issued_at;
	g->expires = plan->doc.expires_at;
	g->batch_duty_pct = plan->self->classes[WS_CLASS_BATCH].max_duty_pct;
	g->classes_sig = classes_sig(plan->self);
	return 0;
}

int ws_rack_grant_check(const struct ws_rack_grant *g, time_t now, char *err, size_t errlen)
{
	char t[32];

	if (!rack_valid_name(g->rack, sizeof(g->rack)))
		return ws_fail(err, errlen, -EINVAL, "rack: not a rack id: \"%s\"", g->rack);
	if (!rack_valid_name(g->host, sizeof(g->host)))
		return ws_fail(err, errlen, -EINVAL, "rack: not a host id: \"%s\"", g->host);
	if (g->policy < 0 || g->policy >= WS_NR_POLICIES)
		return ws_fail(err, errlen, -EINVAL, "rack: no such policy (%d)", g->policy);
	if (!isfinite(g->watts) || g->watts < WS_CAP_MIN_WATTS || g->watts > WS_CAP_MAX_WATTS)
		return ws_fail(err, errlen, -ERANGE, "rack: host %s's share %.3f W is outside the "
			       "caps wattsched enforces (%u..%u W)", g->host, g->watts,
			       WS_CAP_MIN_WATTS, WS_CAP_MAX_WATTS);
	if (!isfinite(g->safe_watts) || g->safe_watts < 0 ||
	    (g->safe_watts && (g->safe_watts < WS_CAP_MIN_WATTS || g->safe_watts > g->watts)))
		return ws_fail(err, errlen, -ERANGE, "rack: host %s's safe share %.3f W is outside "
			       "%u..%.3f W (its share)", g->host, g->safe_watts, WS_CAP_MIN_WATTS,
			       g->watts);
	rack_format_time(g->expires, t, sizeof(t));
	if (g->expires <= now)
		return ws_fail(err, errlen, -ETIME, "rack: lease expired at %s (%lld s ago)", t,
			       (long long)(now - g->expires));
	/* Small clock differences between the fleet tool and this host are normal. */
	if (g->issued > now + RACK_CLOCK_SKEW_SEC) {
		rack_format_time(g->issued, t, sizeof(t));
		return ws_fail(err, errlen, -EAGAIN, "rack: lease not valid yet: issued_at %s is "
			       "%lld s in the future", t, (long long)(g->issued - now));
	}
	/* A document holds at most 31 days from an issued_at up to 60 s ahead. */
	if (g->expires > now + RACK_MAX_LEASE_SEC + RACK_CLOCK_SKEW_SEC)
		return ws_fail(err, errlen, -ERANGE, "rack: lease ends %s, more than 31 days ahead",
			       t);
	return 0;
}
