/* SPDX-License-Identifier: GPL-2.0 */
/* power.h - power model, cap control step and CPU utilisation sampling. */
#ifndef __WS_POWER_H
#define __WS_POWER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/topology.h"
#include "wattsched.h"

#define WS_CAP_MIN_WATTS	10
#define WS_CAP_MAX_WATTS	100000

struct ws_power_model {
	double idle_watts;	/* the host with every CPU idle */
	double cpu_watts;	/* one logical CPU fully busy at full perf */
	double perf_exponent;	/* power ~ (perf/1024)^exponent */
	double reserve_pct;	/* % of a cap kept for work the cap cannot move */
	double rapl_extra_watts; /* host power RAPL does not see (fans, disks, PSU loss) */
};

void ws_power_model_defaults(struct ws_power_model *m);
/* Parse "key = value" lines; on error nothing is changed and err says why. */
int ws_power_model_parse(const char *text, struct ws_power_model *m, char *err, size_t errlen);
int ws_power_model_load(const char *path, struct ws_power_model *m, char *err, size_t errlen);

double ws_power_estimate(const struct ws_power_model *m, const double *busy,
			 unsigned int nr_cpus, unsigned int perf);
unsigned int ws_power_cpus_for_cap(const struct ws_power_model *m, double cap_watts,
				   unsigned int perf, unsigned int nr_online);
/* The first @n online CPUs not in @avoid (may be NULL), in packing order. */
void ws_cap_choose_cpus(const struct ws_topology *topo, unsigned int n, const __u64 *avoid,
			__u64 *mask);

/*
 * Powersave compaction (docs/policies.md): size the set of CPUs that take
 * work to the measured load, growing at once when the set runs hotter than
 * WS_COMPACT_GROW_UTIL and shrinking only after WS_COMPACT_SHRINK_PERIODS
 * periods in which the load would fit fewer CPUs at WS_COMPACT_FIT_UTIL.
 */
#define WS_COMPACT_GROW_UTIL		0.85
#define WS_COMPACT_FIT_UTIL		0.60
#define WS_COMPACT_SHRINK_PERIODS	8

struct ws_compact {
	unsigned int n;		/* CPUs in the compacted set; 0 = not compacting */
	unsigned int low;	/* consecutive periods the load fitted fewer CPUs */
};

/* One period with @load CPUs' worth of busy time; returns the set's size. */
unsigned int ws_compact_step(struct ws_compact *c, double load, unsigned int nr_online);

/*
 * The control law under a cap (docs/policies.md).  k scales the model by
 * the measured/modelled power ratio (1 while the model is the source),
 * taken whole when it rises and smoothed by WS_LAW_ALPHA when it falls;
 * the set shrinks at once when k * model(n) exceeds the cap, and grows only
 * after WS_LAW_DWELL periods in which it would still fit with a
 * WS_LAW_BAND margin.
 */
#define WS_LAW_ALPHA		0.25	/* smoothing of a falling k per period */
#define WS_LAW_BAND		0.05	/* growing needs this share of the cap spare */
#define WS_LAW_DWELL		8	/* periods (2 s) of room before growing */
#define WS_LAW_RATIO_MIN	0.25
#define WS_LAW_RATIO_MAX	4.0

struct ws_cap_law {
	double k;		/* measured / modelled power, smoothed */
	unsigned int n;		/* CPUs allowed now; 0 = not started */
	unsigned int up;	/* consecutive periods with room for more */
	unsigned int cap;	/* the cap of the last step */
	bool measured;		/* was the last step's power measured? */
};

/*
 * One period under a cap of @cap_watts: @ratio is the measured power over
 * the model's estimate for the same period, 0 when the power is not
 * measured.  Returns the number of CPUs that may take work.
 */
unsigned int ws_cap_law_step(struct ws_cap_law *law, const struct ws_power_model *m,
			     unsigned int cap_watts, unsigned int perf, unsigned int nr_online,
			     double ratio);

/*
 * Derive the budget: the CPUs that take new work (@n_cap, the cap's count,
 * 0 for no cap, and under powersave the compacted count @n_compact, 0 for
 * none, whichever is smaller, chosen outside @hot) and the CPUs to avoid
 * (@hot, NULL for none).  True when a mask changed.
 */
bool ws_budget_step(unsigned int policy, struct ws_budget *b,
		    const struct ws_topology *topo, unsigned int n_cap,
		    unsigned int n_compact, const __u64 *hot);

struct ws_cpu_sample {
	unsigned long long total, idle;
};
int ws_cpu_busy_sample(struct ws_cpu_sample *s, unsigned int max_cpus);
double ws_cpu_busy_frac(const struct ws_cpu_sample *a, const struct ws_cpu_sample *b);

#endif /* __WS_POWER_H */
