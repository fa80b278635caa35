// SPDX-License-Identifier: GPL-2.0
/* sense.c - one control period's measurements (sense.h). */
#include "daemon/sense.h"
#include "lib/util.h"

#define THERMAL_TEXT_MAX	(64 * 1024)
#define TEXT_MAX		(THERMAL_TEXT_MAX > WS_POWER_TEXT_MAX ? THERMAL_TEXT_MAX : \
				 WS_POWER_TEXT_MAX)

int ws_sense_init(struct ws_sense *s, unsigned int nr_cpus)
{
	memset(s, 0, sizeof(*s));
	s->prev = calloc(nr_cpus, sizeof(*s->prev));
	s->cur = calloc(nr_cpus, sizeof(*s->cur));
	s->busy = calloc(nr_cpus, sizeof(*s->busy));
	s->temp_mc = calloc(nr_cpus, sizeof(*s->temp_mc));
	s->limit_mc = calloc(nr_cpus, sizeof(*s->limit_mc));
	s->text = malloc(TEXT_MAX);
	if (!s->prev || !s->cur || !s->busy || !s->temp_mc || !s->limit_mc || !s->text) {
		ws_sense_free(s);
		return -ENOMEM;
	}
	ws_cpu_busy_sample(s->prev, nr_cpus);
	return 0;
}

void ws_sense_free(struct ws_sense *s)
{
	free(s->text);
	free(s->limit_mc);
	free(s->temp_mc);
	free(s->busy);
	free(s->cur);
	free(s->prev);
	memset(s, 0, sizeof(*s));
}

/* Hot-core avoidance: without readings nothing is avoided. */
static void sense_thermal(struct ws_sense *s, const struct ws_topology *topo,
			  const struct ws_thermal_cfg *cfg)
{
	enum ws_thermal_state was = s->thermal;
	unsigned int cpu;
	int n = -1;

	s->thermal = WS_THERMAL_NO_MODULE;
	if (ws_read_file(WS_THERMAL_FILE, s->text, THERMAL_TEXT_MAX) >= 0) {
		n = ws_thermal_parse(s->text, topo, cfg, s->temp_mc, s->limit_mc);
		s->thermal = n > 0 ? WS_THERMAL_OK : WS_THERMAL_NO_SENSORS;
	}
	s->nr_sensed = n > 0 ? n : 0;
	if (n <= 0) {
		if (was == WS_THERMAL_OK)
			printf("wattsched: thermal: no readings any more (%s); no CPU is avoided\n",
			       ws_thermal_state_name(s->thermal));
		memset(s->hot, 0, sizeof(s->hot));
		return;
	}
	if (ws_thermal_step(cfg, topo, s->temp_mc, s->limit_mc, s->hot)) {
		printf("wattsched: thermal: hot CPUs:");
		for (cpu = 0; cpu < topo->nr_cpus; cpu++)
			if (ws_cpu_test(s->hot, cpu))
				printf(" %u", cpu);
		printf("\n");
	}
}

bool ws_sense_period(struct ws_sense *s, const struct ws_topology *topo,
		     const struct ws_thermal_cfg *cfg, double stale_s)
{
	unsigned int cpu;
	double now;
	int len;

	if (ws_cpu_busy_sample(s->cur, topo->nr_cpus) <= 0)
		return false;
	s->load = 0;
	for (cpu = 0; cpu < topo->nr_cpus; cpu++) {
		s->busy[cpu] = ws_cpu_busy_frac(&s->prev[cpu], &s->cur[cpu]);
		s->load += s->busy[cpu];
	}
	memcpy(s->prev, s->cur, topo->nr_cpus * sizeof(*s->cur));
	sense_thermal(s, topo, cfg);
	now = ws_mono_now();	/* as close to the energy read as we can */
	len = ws_read_file(WS_POWER_FILE, s->text, WS_POWER_TEXT_MAX);
	s->rapl_fresh = ws_rapl_step(&s->rapl, len >= 0 ? s->text : NULL, now, stale_s);
	fflush(stdout);
	return true;
}
