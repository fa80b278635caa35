/* SPDX-License-Identifier: GPL-2.0 */
/* power.h - power model, cap control step and CPU utilisation sampling. */
#ifndef __WS_POWER_H
#define __WS_POWER_H

#include <stdbool.h>
#include <stddef.h>

#include "topology.h"
#include "wattsched.h"

#define WS_CAP_MIN_WATTS	10
#define WS_CAP_MAX_WATTS	100000

struct ws_power_model {
	double idle_watts;	/* the host with every CPU idle */
	double cpu_watts;	/* one logical CPU fully busy at full perf */
	double perf_exponent;	/* power ~ (perf/1024)^exponent */
	double reserve_pct;	/* % of a cap kept for work the cap cannot move */
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
 * Derive the budget from the control block: the CPUs that take new work
 * (the cap's count, and under powersave the compacted count @n_compact, 0
 * for none, whichever is smaller, chosen outside @hot) and the CPUs to
 * avoid (@hot, NULL for none).  True when a mask changed.
 */
bool ws_budget_step(const struct ws_ctl *ctl, struct ws_budget *b,
		    const struct ws_topology *topo, const struct ws_power_model *m,
		    unsigned int n_compact, const __u64 *hot);

struct ws_cpu_sample {
	unsigned long long total, idle;
};
int ws_cpu_busy_sample(struct ws_cpu_sample *s, unsigned int max_cpus);
double ws_cpu_busy_frac(const struct ws_cpu_sample *a, const struct ws_cpu_sample *b);

const char *ws_power_source_name(unsigned int src);

#endif /* __WS_POWER_H */
