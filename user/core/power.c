// SPDX-License-Identifier: GPL-2.0
/*
 * power.c - the host power cap: the power model, and the control step that
 * turns a cap into a set of active CPUs.
 *
 * Model (configs/power-model.conf, docs/policies.md):
 *
 *	P = idle_watts + cpu_watts * sum over CPUs of busy(cpu) * (perf / 1024)^perf_exponent
 *
 * busy(cpu) is the CPU's busy fraction over the last control period from
 * /proc/stat; perf is the cpufreq target the policy sets (1024 when it
 * leaves frequency to the governor, the worst case).
 *
 * Control law (docs/policies.md, "The control law"): the number of CPUs
 * allowed to take work is the largest n with
 *
 *	k * (idle_watts + n * cpu_watts * (perf / 1024)^perf_exponent) <= cap * (1 - reserve_pct / 100)
 *
 * i.e. the model's worst case with n CPUs fully busy stays under the cap,
 * with reserve_pct (default 5) kept for the kernel threads and pinned tasks
 * that still run on the CPUs outside the set.  k is 1 while the power comes
 * from the model: n is then a pure function of the cap and the model, and
 * there is no feedback path.  With a measured source (RAPL, a pushed BMC
 * reading) k is the smoothed ratio of measured to modelled power, a gain
 * calibration of the model; ws_cap_law_step() shrinks the set at once and
 * grows it only after a dwell time and with a hysteresis band, so that a
 * ratio that moves with the load cannot make the set flap.
 */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/power.h"
#include "lib/util.h"

void ws_power_model_defaults(struct ws_power_model *m)
{
	m->idle_watts = 50.0;
	m->cpu_watts = 10.0;
	m->perf_exponent = 2.0;
	m->reserve_pct = 5.0;
	m->rapl_extra_watts = 0;
	m->partial_window_ms = 0;
}

static int set_key(struct ws_power_model *m, const char *key, const char *val, char *err,
		   size_t errlen)
{
	static const struct {
		const char *name;
		size_t off;
		double min, max;
	} keys[] = {
		{ "idle_watts", offsetof(struct ws_power_model, idle_watts), 0, 100000 },
		{ "cpu_watts", offsetof(struct ws_power_model, cpu_watts), 0.001, 10000 },
		{ "perf_exponent", offsetof(struct ws_power_model, perf_exponent), 0, 4 },
		{ "reserve_pct", offsetof(struct ws_power_model, reserve_pct), 0, 50 },
		{ "rapl_extra_watts", offsetof(struct ws_power_model, rapl_extra_watts), 0, 100000 },
		{ "partial_window_ms", offsetof(struct ws_power_model, partial_window_ms), 0, 1000 },
	};
	size_t i;
	double v;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(key, keys[i].name))
			continue;
		if (ws_parse_double(val, keys[i].min, keys[i].max, &v)) {
			snprintf(err, errlen, "%s: '%s' is not a number in %g..%g", key, val,
				 keys[i].min, keys[i].max);
			return -EINVAL;
		}
		if (!strcmp(key, "partial_window_ms") && v && (v < 10 || v != floor(v))) {
			snprintf(err, errlen, "%s: '%s' is not 0 (off) or a whole number in 10..1000",
				 key, val);
			return -EINVAL;
		}
		*(double *)((char *)m + keys[i].off) = v;
		return 0;
	}
	snprintf(err, errlen, "unknown key '%s' (idle_watts, cpu_watts, perf_exponent, reserve_pct, "
		 "rapl_extra_watts, partial_window_ms)", key);
	return -EINVAL;
}

int ws_power_model_parse(const char *text, struct ws_power_model *out, char *err, size_t errlen)
{
	struct ws_power_model m;
	char line[256], lerr[640];
	const char *p = text;
	int lineno = 0;

	ws_power_model_defaults(&m);
	while (*p) {
		size_t n = strcspn(p, "\n");
		char *key, *val, *eq, *end;

		lineno++;
		if (n >= sizeof(line)) {
			snprintf(err, errlen, "line %d: longer than %zu characters", lineno,
				 sizeof(line) - 1);
			return -EINVAL;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		p += n + (p[n] == '\n');

		line[strcspn(line, "#")] = '\0';
		key = line;
		while (isspace((unsigned char)*key))
			key++;
		if (!*key)
			continue;
		eq = strchr(key, '=');
		if (!eq) {
			snprintf(err, errlen, "line %d: expected 'key = value'", lineno);
			return -EINVAL;
		}
		val = eq + 1;
		for (end = eq; end > key && isspace((unsigned char)end[-1]); end--)
			;
		*end = '\0';
		while (isspace((unsigned char)*val))
			val++;
		for (end = val + strlen(val); end > val && isspace((unsigned char)end[-1]); end--)
			;
		*end = '\0';
		if (set_key(&m, key, val, lerr, sizeof(lerr))) {
			snprintf(err, errlen, "line %d: %s", lineno, lerr);
			return -EINVAL;
		}
	}
	*out = m;
	return 0;
}

int ws_power_model_load(const char *path, struct ws_power_model *m, char *err, size_t errlen)
{
	char text[8192], perr[768];
	int ret;

	ret = ws_read_file(path, text, sizeof(text));
	if (ret < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	if (ret == (int)sizeof(text) - 1) {
		snprintf(err, errlen, "%s: larger than %zu bytes", path, sizeof(text) - 1);
		return -EFBIG;
	}
	ret = ws_power_model_parse(text, m, perr, sizeof(perr));
	if (ret)
		snprintf(err, errlen, "%s: %s", path, perr);
	return ret;
}

static double perf_factor(const struct ws_power_model *m, unsigned int perf)
{
	if (!perf || perf > WS_PERF_MAX)
		perf = WS_PERF_MAX;
	return pow((double)perf / WS_PERF_MAX, m->perf_exponent);
}

double ws_power_estimate(const struct ws_power_model *m, const double *busy,
			 unsigned int nr_cpus, unsigned int perf)
{
	double sum = 0;
	unsigned int i;

	for (i = 0; i < nr_cpus; i++)
		sum += busy[i];
	return m->idle_watts + m->cpu_watts * perf_factor(m, perf) * sum;
}

double ws_power_cpus_exact(const struct ws_power_model *m, double cap_watts, unsigned int perf)
{
	/* CPUs outside the set still run what must run there: keep room for it */
	cap_watts *= 1 - m->reserve_pct / 100;
	return (cap_watts - m->idle_watts) / (m->cpu_watts * perf_factor(m, perf)) + 1e-9;
}

unsigned int ws_power_cpus_for_cap(const struct ws_power_model *m, double cap_watts,
				   unsigned int perf, unsigned int nr_online)
{
	double n = floor(ws_power_cpus_exact(m, cap_watts, perf));

	if (n <= 1)
		return 1;	/* never fewer than one CPU: the cap is then out of reach */
	return n >= nr_online ? nr_online : (unsigned int)n;
}

/*
 * The first @n online CPUs in packing order: LLC by LLC, core by core, both
 * SMT siblings of a core before the next core, so the CPUs left out are
 * whole cores and whole LLCs that can reach deep idle states.  The LLCs
 * come in the order @near_cpu's (the first online CPU's when -1) takes
 * work from them: its own, its node's, then other nodes' nearest first, so
 * the CPUs left out are the farthest from it.  CPUs in @avoid (too hot) are
 * passed over, so the coolest are chosen first.
 */
void ws_cap_choose_cpus(const struct ws_topology *topo, unsigned int n, const __u64 *avoid,
			int near_cpu, __u64 *mask)
{
	unsigned char order[WS_MAX_LLCS];
	unsigned int i, nr, llc, core, cpu, chosen = 0;

	memset(mask, 0, WS_CPU_WORDS * sizeof(__u64));
	for (cpu = 0; near_cpu < 0 && cpu < topo->nr_cpus; cpu++)
		if (ws_cpu_test(topo->online, cpu))
			near_cpu = cpu;
	if (near_cpu < 0)
		return;
	order[0] = topo->cpu[near_cpu].llc;
	nr = 1 + ws_topology_llc_order(topo, order[0], order + 1);
	for (i = 0; i < nr && chosen < n; i++) {
		llc = order[i];
		for (core = 0; core < topo->nr_cores && chosen < n; core++) {
			for (cpu = 0; cpu < topo->nr_cpus && chosen < n; cpu++) {
				if (!ws_cpu_test(topo->online, cpu) || topo->cpu[cpu].llc != llc ||
				    topo->cpu[cpu].core != core || (avoid && ws_cpu_test(avoid, cpu)))
					continue;
				mask[cpu / 64] |= 1ULL << (cpu % 64);
				chosen++;
			}
		}
	}
}

unsigned int ws_compact_step(struct ws_compact *c, double load, unsigned int nr_online)
{
	double fitd = ceil(load / WS_COMPACT_FIT_UTIL - 1e-9);
	unsigned int fit;

	if (!nr_online)
		return 0;
	fit = fitd < 1 ? 1 : fitd > nr_online ? nr_online : (unsigned int)fitd;
	if (!c->n || load > WS_COMPACT_GROW_UTIL * c->n) {
		/* saturated: fit is at least n / FIT_UTIL, so the set grows */
		if (c->n && fit <= c->n)
			fit = c->n < nr_online ? c->n + 1 : nr_online;
		c->n = fit;
		c->low = 0;
	} else if (fit < c->n) {
		if (++c->low >= WS_COMPACT_SHRINK_PERIODS) {
			c->n = fit;
			c->low = 0;
		}
	} else {
		c->low = 0;
	}
	return c->n;
}

/*
 * What one more CPU than @n may take of each window under @cap_watts, in
 * thousandths: the room the cap leaves beyond @n whole CPUs, held under
 * WS_PARTIAL_MAX_PERMILLE (more waits for the law's next whole CPU), none
 * under WS_PARTIAL_MIN_PERMILLE, and none without partial_window_ms.
 */
static unsigned int partial_share(const struct ws_power_model *m, double cap_watts,
				  unsigned int perf, unsigned int n, unsigned int nr_online)
{
	double room = ws_power_cpus_exact(m, cap_watts, perf) - n;

	if (!m->partial_window_ms || n >= nr_online || room * 1000 < WS_PARTIAL_MIN_PERMILLE)
		return 0;
	return room * 1000 > WS_PARTIAL_MAX_PERMILLE ? WS_PARTIAL_MAX_PERMILLE :
						       (unsigned int)(room * 1000);
}

unsigned int ws_cap_law_step(struct ws_cap_law *law, const struct ws_power_model *m,
			     unsigned int cap_watts, unsigned int perf, unsigned int nr_online,
			     double ratio)
{
	unsigned int down, up;
	bool measured = ratio > 0;

	if (measured) {
		ratio = fmin(fmax(ratio, WS_LAW_RATIO_MIN), WS_LAW_RATIO_MAX);
		/* a rise is taken whole, so an over-cap host acts at once; a fall is smoothed */
		law->k = law->measured && ratio < law->k ? law->k + WS_LAW_ALPHA * (ratio - law->k) :
							   ratio;
	} else {
		law->k = 1;
	}
	down = ws_power_cpus_for_cap(m, cap_watts / law->k, perf, nr_online);
	up = measured ? ws_power_cpus_for_cap(m, cap_watts * (1 - WS_LAW_BAND) / law->k, perf,
					      nr_online) : down;
	if (!measured || !law->measured || !law->n || cap_watts != law->cap || down < law->n) {
		/* the open-loop model, a new source or cap, or over the cap: at once */
		law->n = down;
		law->up = 0;
	} else if (up > law->n) {
		if (++law->up >= WS_LAW_DWELL) {
			law->n = up;
			law->up = 0;
		}
	} else {
		law->up = 0;
	}
	law->cap = cap_watts;
	law->measured = measured;
	law->permille = partial_share(m, cap_watts / law->k, perf, law->n, nr_online);
	return law->n;
}

unsigned int ws_partial_trim_step(struct ws_partial_trim *t, unsigned int permille,
				  unsigned int cpu, double busy, bool learn)
{
	double share = permille / 1000.0;

	if (!permille) {
		t->bias = 0;
		t->have = false;
		return 0;
	}
	if (!t->have || cpu != t->cpu) {
		/* start low: a new CPU's share may cost more than it says */
		t->bias = -WS_TRIM_START * share;
		t->cpu = cpu;
		t->have = true;
	} else if (learn) {
		t->bias = fmin(fmax(t->bias + WS_TRIM_GAIN * (share - busy), -WS_TRIM_MAX),
			       WS_TRIM_MAX);
	}
	share = fmin(fmax((share + t->bias) * 1000, WS_TRIM_LEAST_PERMILLE),
		     WS_PARTIAL_MAX_PERMILLE);
	return (unsigned int)lround(share);
}

static unsigned int mask_weight(const __u64 *m)
{
	unsigned int i, n = 0;

	for (i = 0; i < WS_CPU_WORDS; i++)
		n += __builtin_popcountll(m[i]);
	return n;
}

/*
 * Add CPUs to @mask in packing order, outside @avoid, until it holds @n:
 * nearest first to the first CPU already in it (a pinned one).
 */
static void choose_more(const struct ws_topology *topo, unsigned int n, const __u64 *avoid,
			__u64 *mask)
{
	__u64 more[WS_CPU_WORDS], skip[WS_CPU_WORDS];
	unsigned int i, have = mask_weight(mask);
	int near = -1;

	if (have >= n)
		return;
	for (i = 0; i < WS_CPU_WORDS; i++)
		skip[i] = mask[i] | avoid[i];
	for (i = 0; near < 0 && i < topo->nr_cpus; i++)
		if (ws_cpu_test(mask, i))
			near = i;
	ws_cap_choose_cpus(topo, n - have, skip, near, more);
	for (i = 0; i < WS_CPU_WORDS; i++)
		mask[i] |= more[i];
}

/*
 * The least hot of @cands: those within WS_HOT_BAND_MC of the most
 * headroom (all of them when temperatures are unknown), into @out.
 */
static void least_hot(const struct ws_topology *topo, const __u64 *cands, const int *headroom,
		      __u64 *out)
{
	unsigned int cpu;
	int best = INT_MIN;

	memset(out, 0, WS_CPU_WORDS * sizeof(__u64));
	for (cpu = 0; cpu < topo->nr_cpus && headroom; cpu++)
		if (ws_cpu_test(cands, cpu) && headroom[cpu] > best)
			best = headroom[cpu];
	for (cpu = 0; cpu < topo->nr_cpus; cpu++)
		if (ws_cpu_test(cands, cpu) &&
		    (!headroom || headroom[cpu] >= best - WS_HOT_BAND_MC))
			out[cpu / 64] |= 1ULL << (cpu % 64);
}

/* The @n of @cands with the most headroom (packing order when unknown), into @out. */
static void least_hot_n(const struct ws_topology *topo, const __u64 *cands, const int *headroom,
			unsigned int n, __u64 *out)
{
	unsigned int cpu, k;
	int best;

	memset(out, 0, WS_CPU_WORDS * sizeof(__u64));
	if (!headroom) {
		ws_cap_choose_cpus(topo, n, NULL, -1, out);
		return;
	}
	for (k = 0; k < n; k++) {
		best = -1;
		for (cpu = 0; cpu < topo->nr_cpus; cpu++)
			if (ws_cpu_test(cands, cpu) && !ws_cpu_test(out, cpu) &&
			    (best < 0 || headroom[cpu] > headroom[best]))
				best = cpu;
		if (best < 0)
			break;
		out[best / 64] |= 1ULL << (best % 64);
	}
}

/* The count of CPUs that take new work: the cap's or compaction's, 0 for every CPU. */
static unsigned int budget_count(const struct ws_budget_in *in, const struct ws_topology *topo)
{
	unsigned int n = topo->nr_online;

	if (in->n_cap && in->n_cap < n)
		n = in->n_cap;
	if (in->policy == WS_POLICY_POWERSAVE && in->n_compact && in->n_compact < n)
		n = in->n_compact;
	return n >= topo->nr_online ? 0 : n;
}

/* The CPU the packing order takes after @mask, outside @avoid; -1 when none is left. */
static int partial_cpu(const struct ws_topology *topo, const __u64 *mask, const __u64 *avoid)
{
	__u64 more[WS_CPU_WORDS];
	unsigned int cpu;

	memcpy(more, mask, sizeof(more));
	choose_more(topo, mask_weight(mask) + 1, avoid, more);
	for (cpu = 0; cpu < topo->nr_cpus; cpu++)
		if (ws_cpu_test(more, cpu) && !ws_cpu_test(mask, cpu))
			return cpu;
	return -1;
}

bool ws_budget_step(const struct ws_budget_in *in, struct ws_budget *b,
		    const struct ws_topology *topo)
{
	__u64 mask[WS_CPU_WORDS] = {}, avoid[WS_CPU_WORDS] = {}, usable[WS_CPU_WORDS];
	__u64 band[WS_CPU_WORDS], skip[WS_CPU_WORDS];
	unsigned int i, n;
	int partial;

	if (in->hot)
		memcpy(avoid, in->hot, sizeof(avoid));
	n = budget_count(in, topo);
	if (n && in->pinned) {
		/* pinned CPUs first: their work runs there whatever the cap says */
		for (i = 0; i < WS_CPU_WORDS; i++)
			skip[i] = avoid[i] | ~in->pinned[i];
		choose_more(topo, n, skip, mask);
	}
	if (n)
		choose_more(topo, n, avoid, mask);
	/* Never every CPU too hot to use: then the least hot ones take work. */
	for (i = 0; i < WS_CPU_WORDS; i++)
		usable[i] = (n ? mask[i] : topo->online[i]) & ~avoid[i];
	if (!mask_weight(usable)) {
		if (n)
			least_hot_n(topo, topo->online, in->headroom_mc, n, band);
		else
			least_hot(topo, topo->online, in->headroom_mc, band);
		for (i = 0; i < WS_CPU_WORDS; i++) {
			avoid[i] &= ~band[i];
			if (n)
				mask[i] |= band[i];
		}
	}
	partial = n && n == in->n_cap && in->partial_permille ? partial_cpu(topo, mask, avoid) : -1;
	if (n)
		n = mask_weight(mask);
	/* BPF applies its hot set the moment it changes; a copy here would lag it */
	if (in->hot_in_bpf)
		memset(avoid, 0, sizeof(avoid));
	/* the share may move every period: BPF's timer reads it, no new mask needed */
	b->partial_permille = partial >= 0 ? in->partial_permille : 0;
	b->partial_window_us = partial >= 0 ? in->partial_window_us : 0;
	if (partial < 0)
		partial = 0;
	if (b->nr_active == n && !memcmp(mask, b->active_mask, sizeof(mask)) &&
	    !memcmp(avoid, b->avoid_mask, sizeof(avoid)) && b->partial_cpu == (__u32)partial)
		return false;
	b->nr_active = n;
	b->partial_cpu = partial;
	memcpy(b->active_mask, mask, sizeof(mask));
	memcpy(b->avoid_mask, avoid, sizeof(avoid));
	return true;
}

int ws_cpu_busy_sample(struct ws_cpu_sample *s, unsigned int max_cpus)
{
	char line[512];
	FILE *f;
	int n = 0;

	f = fopen("/proc/stat", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v[8] = {};
		unsigned int cpu;

		if (strncmp(line, "cpu", 3) || !isdigit((unsigned char)line[3]))
			continue;
		if (sscanf(line + 3, "%u %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0],
			   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) < 9 || cpu >= max_cpus)
			continue;
		s[cpu].total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
		s[cpu].idle = v[3] + v[4];
		n++;
	}
	fclose(f);
	return n;
}

double ws_cpu_busy_frac(const struct ws_cpu_sample *a, const struct ws_cpu_sample *b)
{
	unsigned long long dt = b->total - a->total, di = b->idle - a->idle;

	if (b->total <= a->total || di > dt)
		return 0;
	return (double)(dt - di) / dt;
}

bool ws_pinned_step(struct ws_pinned *p, const struct ws_topology *topo, const double *stranded,
		    const double *bound)
{
	__u64 next[WS_CPU_WORDS] = {};
	unsigned int cpu;

	for (cpu = 0; cpu < topo->nr_cpus && cpu < WS_MAX_CPUS; cpu++) {
		bool in = ws_cpu_test(p->mask, cpu);

		if (!ws_cpu_test(topo->online, cpu))
			continue;
		if (stranded[cpu] >= WS_PINNED_MIN || (in && bound[cpu] >= WS_PINNED_MIN))
			p->low[cpu] = 0;
		else if (!in || ++p->low[cpu] >= WS_PINNED_LINGER)
			continue;
		next[cpu / 64] |= 1ULL << (cpu % 64);
	}
	if (!memcmp(next, p->mask, sizeof(next)))
		return false;
	memcpy(p->mask, next, sizeof(next));
	return true;
}
