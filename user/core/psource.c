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

#include "psource.h"
#include "wattsched.h"
#include "ws.h"

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
