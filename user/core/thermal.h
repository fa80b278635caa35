/* SPDX-License-Identifier: GPL-2.0 */
/*
 * thermal.h - hot-core avoidance: per-CPU temperatures from the telemetry
 * module's thermal file, and the hot set with hysteresis.
 */
#ifndef __WS_THERMAL_H
#define __WS_THERMAL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/topology.h"
#include "wattsched.h"

#define WS_THERMAL_FILE		"/sys/kernel/debug/wattsched/thermal"
#define WS_TEMP_UNKNOWN		INT_MIN

/* What the thermal file gave in the last period. */
enum ws_thermal_state {
	WS_THERMAL_NO_MODULE = 0,	/* no thermal file: the telemetry module is not loaded */
	WS_THERMAL_NO_SENSORS,		/* the module is loaded; no sensor covers a CPU */
	WS_THERMAL_OK,			/* some CPUs have readings */
};

/* "module not loaded", "no sensors", "ok". */
const char *ws_thermal_state_name(enum ws_thermal_state s);

/* Who decides which CPUs are too hot (docs/telemetry.md, "Two paths"). */
enum ws_heat_path {
	WS_HEAT_NONE = 0,	/* no module: nothing is hot */
	WS_HEAT_TEXT,		/* the daemon, from the thermal file, every period */
	WS_HEAT_KFUNC,		/* BPF, from the module's kfuncs, when a reading changes */
};

/* "none", "text", "kfunc". */
const char *ws_heat_path_name(enum ws_heat_path p);

/* In milli-degrees Celsius. */
struct ws_thermal_cfg {
	int limit_mc;		/* a sensor's limit when it reports no TjMax */
	int margin_mc;		/* hot at limit - margin or above */
	int hyst_mc;		/* cool again below limit - margin - hysteresis */
};

void ws_thermal_defaults(struct ws_thermal_cfg *cfg);

/*
 * Parse the text of the module's thermal file into a temperature and a
 * limit per CPU (WS_TEMP_UNKNOWN where no sensor covers it).  A core
 * record covers the core's SMT siblings, a package record every CPU of
 * the package; a CPU covered by several takes the hottest against its
 * limit.  Returns the number of CPUs with a reading, or -EINVAL when the
 * text is not a version-1 thermal file.
 */
int ws_thermal_parse(const char *text, const struct ws_topology *topo,
		     const struct ws_thermal_cfg *cfg, int *temp_mc, int *limit_mc);

/*
 * Update @hot from the readings: a CPU becomes hot at limit - margin and
 * stays hot until it reads below limit - margin - hysteresis; a CPU with
 * no reading is never hot.  True when @hot changed.
 */
bool ws_thermal_step(const struct ws_thermal_cfg *cfg, const struct ws_topology *topo,
		     const int *temp_mc, const int *limit_mc, __u64 *hot);

#endif /* __WS_THERMAL_H */
