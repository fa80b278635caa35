// SPDX-License-Identifier: GPL-2.0
/*
 * thermal.c - hot-core avoidance from the telemetry module's thermal file
 * (docs/telemetry.md, docs/policies.md).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/thermal.h"
#include "lib/util.h"
#include "wattsched_telemetry.h"

void ws_thermal_defaults(struct ws_thermal_cfg *cfg)
{
	cfg->limit_mc = WS_TELEMETRY_DEFAULT_LIMIT_MC;
	cfg->margin_mc = 5000;
	cfg->hyst_mc = 5000;
}

/* The value of " key=" in @line as an int; false when absent or not a number. */
static bool field_int(const char *line, const char *key, int *out)
{
	long long v;

	if (!ws_kv_field(line, key, &v) || v < INT_MIN / 2 || v > INT_MAX / 2)
		return false;
	*out = v;
	return true;
}

/* Record @temp against @limit for @cpu if it is hotter relative to its limit. */
static void cover(int cpu, int temp, int limit, int *temp_mc, int *limit_mc)
{
	if (temp_mc[cpu] == WS_TEMP_UNKNOWN ||
	    (long)temp - limit > (long)temp_mc[cpu] - limit_mc[cpu]) {
		temp_mc[cpu] = temp;
		limit_mc[cpu] = limit;
	}
}

int ws_thermal_parse(const char *text, const struct ws_topology *topo,
		     const struct ws_thermal_cfg *cfg, int *temp_mc, int *limit_mc)
{
	const char *line = text, *nl;
	unsigned int cpu;
	int n = 0;

	if (strncmp(text, "# wattsched-telemetry thermal v1\n", 33))
		return -EINVAL;
	for (cpu = 0; cpu < topo->nr_cpus; cpu++)
		temp_mc[cpu] = WS_TEMP_UNKNOWN;

	for (; *line; line = nl ? nl + 1 : line + strlen(line)) {
		char buf[256];
		int rcpu, temp, limit;
		bool pkg;
		size_t len;

		nl = strchr(line, '\n');
		len = nl ? (size_t)(nl - line) : strlen(line);
		if (len >= sizeof(buf))
			continue;
		memcpy(buf, line, len);
		buf[len] = '\0';
		pkg = !strncmp(buf, "pkg=", 4);
		if (!pkg && strncmp(buf, "cpu=", 4))
			continue;	/* zones, comments, "msr=unavailable" */
		/* a package record names the CPU it was read on */
		if (!field_int(buf, "cpu", &rcpu) || rcpu < 0 || (unsigned int)rcpu >= topo->nr_cpus ||
		    !field_int(buf, "temp_mc", &temp))
			continue;	/* temp_mc=unavailable */
		if (!field_int(buf, "tjmax_mc", &limit))
			limit = cfg->limit_mc;
		for (cpu = 0; cpu < topo->nr_cpus; cpu++) {
			if (!ws_cpu_test(topo->online, cpu))
				continue;
			if (pkg ? topo->cpu[cpu].pkg != topo->cpu[rcpu].pkg :
				  topo->cpu[cpu].core != topo->cpu[rcpu].core)
				continue;
			cover(cpu, temp, limit, temp_mc, limit_mc);
		}
	}
	for (cpu = 0; cpu < topo->nr_cpus; cpu++)
		n += temp_mc[cpu] != WS_TEMP_UNKNOWN;
	return n;
}

bool ws_thermal_step(const struct ws_thermal_cfg *cfg, const struct ws_topology *topo,
		     const int *temp_mc, const int *limit_mc, __u64 *hot)
{
	bool changed = false;
	unsigned int cpu;

	for (cpu = 0; cpu < topo->nr_cpus; cpu++) {
		__u64 bit = 1ULL << (cpu % 64);
		bool was = hot[cpu / 64] & bit, is = false;
		int t = temp_mc[cpu];

		if (t != WS_TEMP_UNKNOWN && ws_cpu_test(topo->online, cpu)) {
			long hot_at = (long)limit_mc[cpu] - cfg->margin_mc;

			is = was ? t >= hot_at - cfg->hyst_mc : t >= hot_at;
		}
		if (is != was) {
			hot[cpu / 64] ^= bit;
			changed = true;
		}
	}
	return changed;
}

const char *ws_heat_path_name(enum ws_heat_path p)
{
	switch (p) {
	case WS_HEAT_TEXT:
		return "text";
	case WS_HEAT_KFUNC:
		return "kfunc";
	default:
		return "none";
	}
}

const char *ws_thermal_state_name(enum ws_thermal_state s)
{
	switch (s) {
	case WS_THERMAL_NO_SENSORS:
		return "no sensors";
	case WS_THERMAL_OK:
		return "ok";
	default:
		return "module not loaded";
	}
}
