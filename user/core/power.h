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
	double partial_window_ms; /* a cap between whole CPUs runs one more part of each window; 0 = off */
};

void ws_power_model_defaults(struct ws_power_model *m);
/* Parse "key = value" lines; on error nothing is changed and err says why. */
int ws_power_model_parse(const char *text, struct ws_power_model *m, char *err, size_t errlen);
int ws_power_model_load(const char *path, struct ws_power_model *m, char *err, size_t errlen);

double ws_power_estimate(const struct ws_power_model *m, const double *busy,
			 unsigned int nr_cpus, unsigned int perf);
/* The CPUs' worth of busy time a cap allows, less the reserve; may be under 1. */
double ws_power_cpus_exact(const struct ws_power_model *m, double cap_watts, unsigned int perf);
unsigned int ws_power_cpus_for_cap(const struct ws_power_model *m, double cap_watts,
				   unsigned int perf, unsigned int nr_online);
/*
 * The first @n online CPUs not in @avoid (may be NULL), in packing order,
 * nearest first to @near_cpu (-1: the first online CPU).
 */
void ws_cap_choose_cpus(const struct ws_topology *topo, unsigned int n, const __u64 *avoid,
			int near_cpu, __u64 *mask);

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
/*
 * The partial CPU's share (partial_window_ms): below the least, none; above
 * the most, the share is held there and the next whole CPU waits for the law.
 */
#define WS_PARTIAL_MIN_PERMILLE	50
#define WS_PARTIAL_MAX_PERMILLE	950

struct ws_cap_law {
	double k;		/* measured / modelled power, smoothed */
	unsigned int n;		/* CPUs allowed now; 0 = not started */
	unsigned int up;	/* consecutive periods with room for more */
	unsigned int cap;	/* the cap of the last step */
	bool measured;		/* was the last step's power measured? */
	unsigned int permille;	/* the partial CPU's share beyond n; 0 = none */
};

/*
 * One period under a cap of @cap_watts: @ratio is the measured power over
 * the model's estimate for the same period, 0 when the power is not
 * measured.  Returns the number of CPUs that may take work; with the
 * model's partial_window_ms, law->permille is what one more may take of
 * each window (the room the cap leaves beyond them, by the same k).
 */
unsigned int ws_cap_law_step(struct ws_cap_law *law, const struct ws_power_model *m,
			     unsigned int cap_watts, unsigned int perf, unsigned int nr_online,
			     double ratio);

/*
 * The partial CPU's trim: what the CPU runs of a share is not the share
 * (the wakeup and the preemption that begin and end each one cost time the
 * CPU is busy), so the share BPF is given is the law's plus a bias learnt
 * from the CPU's measured busy time: WS_TRIM_GAIN of the difference per
 * period, within WS_TRIM_MAX.  It learns only while the set is saturated
 * (its CPUs at least WS_TRIM_SATURATED busy on average), when work waits
 * for the partial CPU and its busy time is the share's doing.
 */
#define WS_TRIM_GAIN		0.5
#define WS_TRIM_MAX		0.5
#define WS_TRIM_SATURATED	0.9
#define WS_TRIM_LEAST_PERMILLE	10
#define WS_TRIM_START		0.5	/* a new partial CPU starts at this part of its share less */

struct ws_partial_trim {
	double bias;		/* added to the law's share, as a fraction */
	unsigned int cpu;	/* the partial CPU it was learnt on */
	bool have;		/* cpu names one */
};

/*
 * One period: @permille is the law's share for @cpu (0: none, which forgets
 * the bias), @busy the fraction of the last period @cpu was busy, @learn
 * whether the set was saturated.  A new partial CPU starts low, at
 * WS_TRIM_START of its share less, and the trim brings it up: what a share
 * costs depends on the load around it, which a new set changes, and a
 * share that costs more than it says would put the reading over the cap
 * until the trim had learnt it.  Returns the share to give BPF.
 */
unsigned int ws_partial_trim_step(struct ws_partial_trim *t, unsigned int permille,
				  unsigned int cpu, double busy, bool learn);

/* Hot CPUs within WS_HOT_BAND_MC (wattsched.h) of the coolest stay usable when every CPU is hot. */
struct ws_budget_in {
	unsigned int policy;		/* enum ws_policy in force */
	unsigned int n_cap;		/* the cap's CPU count; 0 = no cap */
	unsigned int n_compact;		/* powersave's compacted count; 0 = none */
	const __u64 *hot;		/* CPUs too hot to take new work; NULL = none */
	bool hot_in_bpf;		/* BPF keeps work off them itself (kfunc path) */
	const int *headroom_mc;		/* per CPU: its limit - its temperature; NULL = unknown */
	const __u64 *pinned;		/* CPUs whose work can run nowhere else; NULL = none */
	unsigned int partial_permille;	/* the cap's partial CPU's share; 0 = none */
	unsigned int partial_window_us;	/* the window of that share */
};

/*
 * Derive the budget's masks.  With a cap, or powersave compaction, the
 * smaller count of CPUs takes new work: pinned CPUs first (their work runs
 * there whatever the cap says, so it is better counted inside the cap than
 * on top of it), then CPUs that are not hot, in packing order.  Hot CPUs are avoided, but never every CPU: when all
 * that could take work are hot, the least hot take it: under a cap, the
 * count it allows, most headroom first; without, those within
 * WS_HOT_BAND_MC of the coolest.  With hot_in_bpf the avoid mask
 * stays empty: BPF keeps new work off its own hot set (the kfunc path), and
 * the hot CPUs only steer which CPUs the cap keeps.  With a partial share,
 * and the cap's count the one in force, the next CPU in the same order is
 * the partial CPU.  True when a mask or the partial CPU changed.
 */
bool ws_budget_step(const struct ws_budget_in *in, struct ws_budget *b,
		    const struct ws_topology *topo);

/*
 * Pinned demand (docs/design.md, "Never stall"): a CPU joins when, outside
 * the usable set, it spent at least WS_PINNED_MIN of a period running work
 * that could run on no usable CPU (stranded); it stays while it spends that
 * much running affinity-bound work (inside the set that work is no longer
 * stranded, but it is still there), and leaves after WS_PINNED_LINGER
 * periods in a row below it.
 */
#define WS_PINNED_MIN		0.25
#define WS_PINNED_LINGER	8	/* periods: 2 s */

struct ws_pinned {
	__u64 mask[WS_CPU_WORDS];
	unsigned char low[WS_MAX_CPUS];	/* periods in a row a pinned CPU's bound work was below */
};

/*
 * One period: @stranded[cpu] is the share of it the CPU ran work with no
 * usable CPU in its mask, @bound[cpu] the share it ran affinity-bound work.
 * True when the set changed.
 */
bool ws_pinned_step(struct ws_pinned *p, const struct ws_topology *topo, const double *stranded,
		    const double *bound);

struct ws_cpu_sample {
	unsigned long long total, idle;
};
int ws_cpu_busy_sample(struct ws_cpu_sample *s, unsigned int max_cpus);
double ws_cpu_busy_frac(const struct ws_cpu_sample *a, const struct ws_cpu_sample *b);

#endif /* __WS_POWER_H */
