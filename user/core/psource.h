/* SPDX-License-Identifier: GPL-2.0 */
/*
 * psource.h - where the power reading comes from (docs/policies.md, "Power
 * sources"): a reading pushed by fleet tooling (a BMC's host power), RAPL
 * energy through the telemetry module, or, failing both, the model.
 */
#ifndef __WS_PSOURCE_H
#define __WS_PSOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define WS_POWER_FILE		"/sys/kernel/debug/wattsched/power"
#define WS_POWER_TEXT_MAX	(16 * 1024)
#define WS_STALE_S_DEFAULT	10	/* a measured reading is fresh this long */
#define WS_STALE_S_MIN		1
#define WS_STALE_S_MAX		3600
#define WS_PUSHED_MAX_WATTS	100000

/* RAPL energy from the module's `power` file, sampled once per period. */
#define WS_RAPL_WINDOW_S	1.0	/* power is energy over at least this long */

struct ws_rapl {
	double uj;		/* the last sum of energy_uj over all records */
	double t;		/* its CLOCK_MONOTONIC time in s; 0 = no sample */
	double advanced;	/* when the sum last grew */
	double win_uj, win_t;	/* the start of the current window */
	double watts;		/* the power over the last whole window */
	bool have_watts;	/* a window has completed since the (re)start */
	bool fresh;		/* watts is a reading no older than the stale time */
};

/*
 * Sum energy_uj over every record of the power file's text; *t (may be
 * NULL) gets the records' ktime_ns in seconds, when they carry it (the
 * module's CLOCK_MONOTONIC sample time), else stays.  Returns the
 * number of records, -ENODATA when it has none (`rapl=unavailable` and
 * nothing injected), -EINVAL with err set for a
 * file that is not the module's power file.
 */
int ws_rapl_parse(const char *text, double *uj, double *t, char *err, size_t errlen);

/*
 * One sample at @now (CLOCK_MONOTONIC s, taken just before the read, and
 * replaced by the records' own ktime_ns when they carry it) of
 * the file's @text, NULL when it could not be read.  The power is the
 * energy over windows of at least WS_RAPL_WINDOW_S, so that the jitter of
 * one period's timing does not show in it.  A reading is fresh once a
 * window has completed and while the energy has grown within the last
 * @stale_s seconds; a counter that went backwards (the module was
 * reloaded) restarts the measurement.  Returns r->fresh.
 */
bool ws_rapl_step(struct ws_rapl *r, const char *text, double now, double stale_s);

/* The last reading fleet tooling pushed (`wattsched power`). */
struct ws_pushed {
	double watts;
	double at;		/* its CLOCK_MONOTONIC time in s; 0 = none */
};

/*
 * This period's source and reading: a pushed reading no older than
 * @stale_s, else RAPL when fresh (@rapl_watts, already host power), else
 * the model's @model_watts.  Returns enum ws_power_source.
 */
unsigned int ws_power_pick(const struct ws_pushed *p, bool rapl_fresh, double rapl_watts,
			   double model_watts, double now, double stale_s, double *watts);

/*
 * The budget's fast guard, mW of the module's power kfunc (packages and
 * DRAM, what RAPL sees): the cap in force less the host power RAPL does
 * not see, while the cap is held to RAPL.  0 (no guard) without a cap,
 * for another source (a pushed reading is the wall; the model is no
 * reading), and when the extra leaves nothing.
 */
unsigned int ws_power_guard_mw(unsigned int cap_watts, unsigned int source,
			       double rapl_extra_watts);

/*
 * Telemetry staleness (docs/reliability.md): once a measured source has
 * been in use, the model being the source means every measured one went
 * stale.  While stale, the cap in force is the safe cap when that is lower.
 */
struct ws_stale {
	bool measured_seen;	/* a measured source (RAPL, pushed) was in use */
	bool stale;		/* ...and none is fresh now: the model is */
	time_t since;		/* wall clock, for status */
};

/*
 * This period's power @source against the operator's @cap and the @safe
 * cap: returns the cap in force (0 = none); @msg (may be left empty) says
 * what changed, for the log.
 */
unsigned int ws_stale_step(struct ws_stale *s, unsigned int source, unsigned int cap,
			   unsigned int safe, time_t now, char *msg, size_t msglen);

enum ws_compliance {
	WS_COMPLIANCE_UNKNOWN = 0,	/* no power reading yet */
	WS_IN_CAP,			/* the reading is at or under the cap in force */
	WS_OVER_CAP,			/* the reading is over the cap in force */
	WS_NO_CAP,			/* there is no cap to comply with */
};

const char *ws_compliance_name(enum ws_compliance c);

struct ws_compliance_state {
	enum ws_compliance state;
	time_t since;		/* wall clock of the last change */
};

/* Judge @watts (from @source) against @cap_in_force (0 = none) at @now. */
void ws_compliance_step(struct ws_compliance_state *c, double watts, unsigned int source,
			unsigned int cap_in_force, time_t now);

#endif /* __WS_PSOURCE_H */
