// SPDX-License-Identifier: GPL-2.0
/* sense.c - one control period's measurements (sense.h). */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <limits.h>

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
	s->headroom_mc = calloc(nr_cpus, sizeof(*s->headroom_mc));
	s->bound = calloc(nr_cpus, sizeof(*s->bound));
	s->stranded = calloc(nr_cpus, sizeof(*s->stranded));
	s->nr_possible = libbpf_num_possible_cpus();
	s->bound_ns = s->nr_possible > 0 ? calloc(s->nr_possible, sizeof(*s->bound_ns)) : NULL;
	s->text = malloc(TEXT_MAX);
	if (!s->prev || !s->cur || !s->busy || !s->temp_mc || !s->limit_mc || !s->text ||
	    !s->headroom_mc || !s->bound || !s->stranded || !s->bound_ns) {
		ws_sense_free(s);
		return -ENOMEM;
	}
	ws_cpu_busy_sample(s->prev, nr_cpus);
	s->at = ws_mono_now();
	return 0;
}

void ws_sense_free(struct ws_sense *s)
{
	free(s->text);
	free(s->bound_ns);
	free(s->stranded);
	free(s->bound);
	free(s->headroom_mc);
	free(s->limit_mc);
	free(s->temp_mc);
	free(s->busy);
	free(s->cur);
	free(s->prev);
	memset(s, 0, sizeof(*s));
}

/* Each CPU's headroom to its thermal limit; a CPU without a reading has all of it. */
static void sense_headroom(struct ws_sense *s, const struct ws_topology *topo)
{
	unsigned int cpu;

	for (cpu = 0; cpu < topo->nr_cpus; cpu++)
		s->headroom_mc[cpu] = s->thermal != WS_THERMAL_OK ||
				      s->temp_mc[cpu] == WS_TEMP_UNKNOWN ? INT_MAX / 2 :
				      s->limit_mc[cpu] - s->temp_mc[cpu];
}

/* A counter's growth since the last period, as a share of the period. */
static double period_share(__u64 now, __u64 before, double period_s)
{
	return period_s > 0 && now >= before ? (now - before) / 1e9 / period_s : 0;
}

/* The share of the period each CPU ran bound work, and stranded work (ws_bound). */
static void sense_bound(struct ws_sense *s, const struct ws_topology *topo, int fd,
			double period_s)
{
	struct ws_bound_ns *now = calloc(s->nr_possible, sizeof(*now));
	unsigned int cpu;
	__u32 zero = 0;

	memset(s->bound, 0, topo->nr_cpus * sizeof(*s->bound));
	memset(s->stranded, 0, topo->nr_cpus * sizeof(*s->stranded));
	if (!now || fd < 0 || bpf_map_lookup_elem(fd, &zero, now)) {
		free(now);
		return;
	}
	for (cpu = 0; cpu < topo->nr_cpus && (int)cpu < s->nr_possible; cpu++) {
		s->bound[cpu] = period_share(now[cpu].bound, s->bound_ns[cpu].bound, period_s);
		s->stranded[cpu] = period_share(now[cpu].stranded, s->bound_ns[cpu].stranded,
						period_s);
	}
	memcpy(s->bound_ns, now, s->nr_possible * sizeof(*now));
	free(now);
}

/* BPF's hot set when the scheduler has the module's kfuncs; false otherwise. */
static bool heat_from_bpf(int fd, __u64 *hot)
{
	struct ws_heat heat;
	__u32 zero = 0;

	if (fd < 0 || bpf_map_lookup_elem(fd, &zero, &heat) || !heat.live)
		return false;
	memcpy(hot, heat.hot, sizeof(heat.hot));
	return true;
}

/* Which path decides, and say once when the module came after the scheduler. */
static void sense_heat_path(struct ws_sense *s, bool kfunc)
{
	s->heat_path = kfunc ? WS_HEAT_KFUNC :
		       s->thermal == WS_THERMAL_NO_MODULE ? WS_HEAT_NONE : WS_HEAT_TEXT;
	if (s->heat_path != WS_HEAT_TEXT || s->heat_late_said)
		return;
	printf("wattsched: thermal: the running scheduler has not got the telemetry module's "
	       "kfuncs (the module was loaded after it, or the kernel gives modules no BTF): "
	       "the thermal file is read every period (text path); a restart of wattsched "
	       "with the module loaded reacts at placement time (kfunc path)\n");
	s->heat_late_said = true;
}

/* Hot-core avoidance: without readings nothing is avoided. */
static void sense_thermal(struct ws_sense *s, const struct ws_topology *topo,
			  const struct ws_thermal_cfg *cfg, int heat_fd)
{
	enum ws_thermal_state was = s->thermal;
	__u64 bpf_hot[WS_CPU_WORDS];
	bool kfunc, changed;
	unsigned int cpu;
	int n = -1;

	s->thermal = WS_THERMAL_NO_MODULE;
	if (ws_read_file(WS_THERMAL_FILE, s->text, THERMAL_TEXT_MAX) >= 0) {
		n = ws_thermal_parse(s->text, topo, cfg, s->temp_mc, s->limit_mc);
		s->thermal = n > 0 ? WS_THERMAL_OK : WS_THERMAL_NO_SENSORS;
	}
	s->nr_sensed = n > 0 ? n : 0;
	kfunc = heat_from_bpf(heat_fd, bpf_hot);
	sense_heat_path(s, kfunc);
	if (n <= 0 && !kfunc) {
		if (was == WS_THERMAL_OK)
			printf("wattsched: thermal: no readings any more (%s); no CPU is avoided\n",
			       ws_thermal_state_name(s->thermal));
		memset(s->hot, 0, sizeof(s->hot));
		return;
	}
	if (kfunc) {
		changed = memcmp(s->hot, bpf_hot, sizeof(bpf_hot));
		memcpy(s->hot, bpf_hot, sizeof(bpf_hot));
	} else {
		changed = ws_thermal_step(cfg, topo, s->temp_mc, s->limit_mc, s->hot);
	}
	if (changed) {
		printf("wattsched: thermal: hot CPUs:");
		for (cpu = 0; cpu < topo->nr_cpus; cpu++)
			if (ws_cpu_test(s->hot, cpu))
				printf(" %u", cpu);
		printf(" (%s path)\n", ws_heat_path_name(s->heat_path));
	}
}

bool ws_sense_period(struct ws_sense *s, const struct ws_topology *topo,
		     const struct ws_thermal_cfg *cfg, double stale_s,
		     const struct ws_sense_maps *maps)
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
	sense_thermal(s, topo, cfg, maps->heat);
	sense_headroom(s, topo);
	now = ws_mono_now();	/* as close to the energy read as we can */
	sense_bound(s, topo, maps->bound, now - s->at);
	s->at = now;
	len = ws_read_file(WS_POWER_FILE, s->text, WS_POWER_TEXT_MAX);
	s->rapl_fresh = ws_rapl_step(&s->rapl, len >= 0 ? s->text : NULL, now, stale_s);
	return true;
}
