/* SPDX-License-Identifier: GPL-2.0 */
/*
 * observed.h - what the daemon measured and derived in its last control
 * period.  Status and the metrics file report it beside the intent
 * (policy.h); nothing here is anyone's wish, so none of it is restored
 * after a restart.
 */
#ifndef __WS_OBSERVED_H
#define __WS_OBSERVED_H

#include "core/psource.h"
#include "core/thermal.h"
#include "wattsched.h"

struct ws_observed {
	double power_watts;		/* the reading the cap is held to */
	unsigned int power_source;	/* enum ws_power_source; NONE before the first period */
	double model_watts;		/* the model's estimate for the same period */
	double load;			/* busy CPUs' worth */
	unsigned int cap_in_force;	/* the operator's cap, or the safe cap while stale; 0 = none */
	unsigned int power_guard_mw;	/* the budget's fast guard (ws_power_guard_mw()); 0 = none */
	unsigned int active_cpus;	/* CPUs that take new work */
	__u64 active[WS_CPU_WORDS];	/* which: the budget's active mask, or every online CPU */
	unsigned int partial_cpu;	/* the cap's partial CPU, when partial_permille */
	unsigned int partial_permille;	/* its share of the time by the law; 0 = no partial CPU */
	unsigned int partial_given;	/* the share BPF is given, trimmed (ws_partial_trim_step()) */
	unsigned int nr_online;
	struct ws_pushed pushed;	/* the last reading fleet tooling pushed */
	struct ws_stale stale;
	struct ws_compliance_state compliance;
	enum ws_thermal_state thermal;
	enum ws_heat_path heat_path;
	unsigned int nr_sensed;		/* CPUs with a temperature reading */
	__u64 hot[WS_CPU_WORDS];	/* CPUs avoided as too hot to take new work */
	__u64 pinned[WS_CPU_WORDS];	/* CPUs whose work can run nowhere else */
	unsigned int cap_cpus;		/* the CPUs the cap alone would allow; 0 = no cap */
	bool cap_unmet_pinned;		/* the pinned CPUs are more than the cap allows */
};

#endif /* __WS_OBSERVED_H */
