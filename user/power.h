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
void ws_cap_choose_cpus(const struct ws_topology *topo, unsigned int n, __u64 *mask);
/* Apply the control law for ctl's cap to b; true when the active set changed. */
bool ws_cap_step(const struct ws_ctl *ctl, struct ws_budget *b,
		 const struct ws_topology *topo, const struct ws_power_model *m);

struct ws_cpu_sample {
	unsigned long long total, idle;
};
int ws_cpu_busy_sample(struct ws_cpu_sample *s, unsigned int max_cpus);
double ws_cpu_busy_frac(const struct ws_cpu_sample *a, const struct ws_cpu_sample *b);

const char *ws_power_source_name(unsigned int src);

#endif /* __WS_POWER_H */
