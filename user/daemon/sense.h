/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sense.h - one control period's measurements: CPU utilisation from
 * /proc/stat, temperatures and the hot set from the telemetry module's
 * thermal file, RAPL energy from its power file.  Reading only; what to do
 * about them is the daemon's.
 */
#ifndef __WS_SENSE_H
#define __WS_SENSE_H

#include <stdbool.h>

#include "core/power.h"
#include "core/psource.h"
#include "core/thermal.h"
#include "core/topology.h"

struct ws_sense {
	struct ws_cpu_sample *prev, *cur;
	double *busy;			/* [nr_cpus]: busy fraction over the last period */
	double load;			/* their sum: busy CPUs' worth */
	int *temp_mc, *limit_mc;	/* [nr_cpus] */
	char *text;			/* the thermal file, then the power file */
	enum ws_thermal_state thermal;
	enum ws_heat_path heat_path;
	bool heat_late_said;		/* "module loaded after the scheduler" was printed */
	unsigned int nr_sensed;		/* CPUs with a temperature reading */
	__u64 hot[WS_CPU_WORDS];	/* with hysteresis (thermal.h), or BPF's (kfunc path) */
	int *headroom_mc;		/* [nr_cpus]: limit - temperature; large where unknown */
	struct ws_bound_ns *bound_ns;	/* [possible CPUs]: ws_bound at the last period */
	double *bound;			/* [nr_cpus]: share of the period run by bound work */
	double *stranded;		/* [nr_cpus]: ... by bound work with no usable CPU */
	double at;			/* CLOCK_MONOTONIC s of the last period */
	int nr_possible;		/* entries of a per-CPU map value */
	struct ws_rapl rapl;
	bool rapl_fresh;
};

int ws_sense_init(struct ws_sense *s, unsigned int nr_cpus);
void ws_sense_free(struct ws_sense *s);

/* The scheduler's maps a period reads (-1: none). */
struct ws_sense_maps {
	int bound;		/* ws_bound: bound and stranded run time */
	int heat;		/* ws_heat: the kfunc path's hot CPUs */
};

/*
 * Measure one period ending now.  RAPL counts as fresh for @stale_s
 * seconds after its energy last grew.  The hot set is BPF's when the
 * scheduler has the module's kfuncs (ws_heat says live), the daemon's own
 * from the thermal file otherwise.  False when /proc/stat could not be
 * read (nothing is updated then).
 */
bool ws_sense_period(struct ws_sense *s, const struct ws_topology *topo,
		     const struct ws_thermal_cfg *cfg, double stale_s,
		     const struct ws_sense_maps *maps);

#endif /* __WS_SENSE_H */
