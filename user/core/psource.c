// SPDX-License-Identifier: GPL-2.0
/*
 * psource.c - the power reading the cap is held to: pushed, RAPL or model.
 *
 * The order is by scope.  A BMC's reading is the whole host at the wall,
 * which is what a rack budget is made of; RAPL sees the packages and DRAM
 * only, and the power model's rapl_extra_watts adds what it misses; the
 * model is an estimate from utilisation.  A measured source counts while
 * it is fresh: a pushed reading for the stale time after it arrives, RAPL
 * while its energy counter keeps growing.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/psource.h"
#include "lib/names.h"
#include "lib/util.h"

int ws_rapl_parse(const char *text, double *uj, double *t, char *err, size_t errlen)
{
	static const char header[] = "# wattsched-telemetry power v";
	const char *line, *nl;
	char buf[512];
	long long e;
	int n = 0;

	*uj = 0;
	if (strncmp(text, header, sizeof(header) - 1)) {
		snprintf(err, errlen, "not the telemetry module's power file (no '%s' header)",
			 header);
		return -EINVAL;
	}
	for (line = strchr(text, '\n'); line && *++line; line = nl) {
		size_t len;

		nl = strchr(line, '\n');
		len = nl ? (size_t)(nl - line) : strlen(line);
		if (len >= sizeof(buf))
			len = sizeof(buf) - 1;
		memcpy(buf, line, len);
		buf[len] = '\0';
		/* "rapl=unavailable" may be followed by injected records (tests) */
		if (!strncmp(buf, "pkg=", 4) && ws_kv_field(buf, "energy_uj", &e) && e >= 0) {
			*uj += e;
			n++;
			if (t && ws_kv_field(buf, "ktime_ns", &e) && e > 0)
				*t = e / 1e9;
		}
		if (!nl)
			break;
	}
	return n ? n : -ENODATA;
}

bool ws_rapl_step(struct ws_rapl *r, const char *text, double now, double stale_s)
{
	char err[128];
	double uj;

	/* the module's own sample time, when it gives one, beats ours */
	if (!text || ws_rapl_parse(text, &uj, &now, err, sizeof(err)) <= 0) {
		/* no reading this period; an old one ages out */
		r->fresh = r->fresh && now - r->advanced <= stale_s;
		return r->fresh;
	}
	if (r->t && uj >= r->uj && now > r->t) {
		if (uj > r->uj)
			r->advanced = now;
		if (now - r->win_t >= WS_RAPL_WINDOW_S) {
			r->watts = (uj - r->win_uj) / 1e6 / (now - r->win_t);
			r->win_uj = uj;
			r->win_t = now;
			r->have_watts = true;
		}
		r->fresh = r->have_watts && now - r->advanced <= stale_s;
	} else {
		/* the first sample, or the counter restarted */
		r->fresh = false;
		r->have_watts = false;
		r->advanced = now;
		r->win_uj = uj;
		r->win_t = now;
	}
	r->uj = uj;
	r->t = now;
	return r->fresh;
}

unsigned int ws_power_pick(const struct ws_pushed *p, bool rapl_fresh, double rapl_watts,
			   double model_watts, double now, double stale_s, double *watts)
{
	if (p->at && now - p->at <= stale_s) {
		*watts = p->watts;
		return WS_POWER_PUSHED;
	}
	if (rapl_fresh) {
		*watts = rapl_watts;
		return WS_POWER_RAPL;
	}
	*watts = model_watts;
	return WS_POWER_MODEL;
}

unsigned int ws_power_guard_mw(unsigned int cap_watts, unsigned int source,
			       double rapl_extra_watts)
{
	double mw = (cap_watts - rapl_extra_watts) * 1000;

	if (!cap_watts || source != WS_POWER_RAPL || mw < 1)
		return 0;
	return mw;
}

unsigned int ws_stale_step(struct ws_stale *s, unsigned int source, unsigned int cap,
			   unsigned int safe, time_t now, char *msg, size_t msglen)
{
	bool stale;

	msg[0] = '\0';
	if (source == WS_POWER_PUSHED || source == WS_POWER_RAPL)
		s->measured_seen = true;
	stale = s->measured_seen && source == WS_POWER_MODEL;
	if (stale && !s->stale) {
		s->since = now;
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
	} else if (!stale && s->stale) {
		snprintf(msg, msglen, "power telemetry fresh again (source %s): cap %u W",
			 ws_power_source_name(source), cap);
	}
	s->stale = stale;
	if (stale && cap && safe && safe < cap)
		return safe;
	return cap;
}

static const char *const compliance_names[] = {
	[WS_COMPLIANCE_UNKNOWN] = "unknown", [WS_IN_CAP] = "in_cap", [WS_OVER_CAP] = "over_cap",
	[WS_NO_CAP] = "no_cap",
};

const char *ws_compliance_name(enum ws_compliance c)
{
	return (unsigned int)c < ARRAY_SIZE(compliance_names) ? compliance_names[c] : "unknown";
}

void ws_compliance_step(struct ws_compliance_state *c, double watts, unsigned int source,
			unsigned int cap_in_force, time_t now)
{
	enum ws_compliance next;

	if (!cap_in_force)
		next = WS_NO_CAP;
	else if (source == WS_POWER_NONE)
		next = WS_COMPLIANCE_UNKNOWN;
	else if (watts <= cap_in_force)
		next = WS_IN_CAP;
	else
		next = WS_OVER_CAP;
	if (next != c->state || !c->since) {
		c->state = next;
		c->since = now;
	}
}
