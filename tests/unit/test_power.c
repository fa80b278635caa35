// SPDX-License-Identifier: GPL-2.0
/* Unit tests for user/power.c: the model, the cap law, the CPU choice. */
#include <stdlib.h>

#include "core/power.h"
#include "tap.h"
#include "lib/names.h"
#include "lib/pci.h"
#include "lib/util.h"

/* 8 CPUs: 2 LLCs of 2 cores of 2 SMT threads (0,1 | 2,3 | 4,5 | 6,7). */
static void fake_topo(struct ws_topology *t)
{
	unsigned int cpu;

	memset(t, 0, sizeof(*t));
	t->nr_cpus = t->nr_online = 8;
	t->nr_cores = 4;
	t->nr_llcs = 2;
	t->nr_nodes = 2;
	for (cpu = 0; cpu < 8; cpu++) {
		t->online[0] |= 1ULL << cpu;
		t->cpu[cpu].core = cpu / 2;
		t->cpu[cpu].llc = cpu / 4;
		t->cpu[cpu].node = cpu / 4;
	}
}

/*
 * 8 CPUs: 4 nodes of one 2-thread core and LLC each, node 2 nearest to
 * node 0 and node 1 nearest to node 3 (the numa4 VM's distances).
 */
static void fake_topo4(struct ws_topology *t)
{
	static const unsigned char dist[4][4] = {
		{ 10, 30, 15, 40 }, { 30, 10, 20, 15 }, { 15, 20, 10, 30 }, { 40, 15, 30, 10 },
	};
	unsigned int cpu;

	memset(t, 0, sizeof(*t));
	t->nr_cpus = t->nr_online = 8;
	t->nr_cores = t->nr_llcs = t->nr_nodes = 4;
	for (cpu = 0; cpu < 8; cpu++) {
		t->online[0] |= 1ULL << cpu;
		t->cpu[cpu].core = t->cpu[cpu].llc = t->cpu[cpu].node = cpu / 2;
		t->llc_node[cpu / 2] = cpu / 2;
	}
	for (cpu = 0; cpu < 4; cpu++)
		memcpy(t->node_dist[cpu], dist[cpu], 4);
}

/* One budget step with no temperatures known. */
static bool step(unsigned int policy, unsigned int n_cap, unsigned int n_compact,
		 const __u64 *hot, const __u64 *pinned, struct ws_budget *b,
		 const struct ws_topology *topo)
{
	struct ws_budget_in in = { .policy = policy, .n_cap = n_cap, .n_compact = n_compact,
				   .hot = hot, .pinned = pinned };

	return ws_budget_step(&in, b, topo);
}

/* Pinned work, every CPU hot, and the pinned set's own rules. */
static void test_pinned_and_hot(const struct ws_topology *topo)
{
	__u64 pinned[WS_CPU_WORDS] = { 0xc0 }, hot[WS_CPU_WORDS] = { 0xff };
	double stranded[8] = { 0 }, bound[8] = { 0 };
	int headroom[8] = { 500, 900, 2600, 2400, 1000, 2700, 300, 100 };
	struct ws_budget_in in = { .policy = WS_POLICY_CAPPED, .n_cap = 3, .hot = hot,
				   .headroom_mc = headroom };
	struct ws_budget b = {};
	struct ws_pinned p = {};
	unsigned int i, changes;

	tap_ok(step(WS_POLICY_CAPPED, 3, 0, NULL, pinned, &b, topo) && b.nr_active == 3 &&
	       b.active_mask[0] == 0xd0,
	       "pinned CPUs 6, 7 count inside a 3-CPU cap, then cpu4 of their LLC, not cpu0");
	tap_ok(step(WS_POLICY_CAPPED, 1, 0, NULL, pinned, &b, topo) && b.nr_active == 1 &&
	       b.active_mask[0] == 0x40, "a cap below the pinned CPUs: the cap's count of them");
	tap_ok(ws_budget_step(&in, &b, topo) && b.nr_active == 3 &&
	       b.active_mask[0] == 0x2c && (b.avoid_mask[0] & 0x2c) == 0,
	       "every CPU hot under a 3-CPU cap: the 3 least hot (5, 2, 3) take work, not none");
	in.n_cap = 0;
	tap_ok(ws_budget_step(&in, &b, topo) && b.nr_active == 0 && b.avoid_mask[0] == 0xc1,
	       "every CPU hot, no cap: CPUs within 2 C of the coolest (1-5) stay usable");
	in.headroom_mc = NULL;
	tap_ok(ws_budget_step(&in, &b, topo) && b.avoid_mask[0] == 0,
	       "every CPU hot and temperatures unknown: none is avoided");
	/* the kfunc path: BPF avoids its hot set; the cap still steers around it */
	hot[0] = 0x0c;
	in.headroom_mc = headroom;
	in.n_cap = 3;
	in.hot_in_bpf = true;
	tap_ok(ws_budget_step(&in, &b, topo) && b.avoid_mask[0] == 0 && b.nr_active == 3 &&
	       !(b.active_mask[0] & 0x0c),
	       "hot in BPF: the avoid mask stays empty, and the cap keeps 3 CPUs that are not hot");
	in.n_cap = 0;
	tap_ok(ws_budget_step(&in, &b, topo) && b.avoid_mask[0] == 0 && b.nr_active == 0,
	       "hot in BPF, no cap: every CPU in the budget; BPF alone leaves out 2 and 3");
	in.hot_in_bpf = false;
	tap_ok(ws_budget_step(&in, &b, topo) && b.avoid_mask[0] == 0x0c,
	       "text path again: the daemon's avoid mask holds the hot CPUs 2 and 3");

	stranded[6] = 0.9;
	bound[6] = 0.9;
	tap_ok(ws_pinned_step(&p, topo, stranded, bound) && p.mask[0] == 0x40,
	       "pinned: a CPU that ran stranded work 90% of a period joins");
	/* inside the set its work is not stranded any more, but still bound there */
	stranded[6] = 0;
	for (i = 0, changes = 0; i < 400; i++)
		changes += ws_pinned_step(&p, topo, stranded, bound);
	tap_ok(!changes && p.mask[0] == 0x40,
	       "pinned: it stays, unchanged for 400 periods, while its bound work runs");
	bound[6] = 0;
	for (i = 0, changes = 0; i + 1 < WS_PINNED_LINGER; i++)
		changes += ws_pinned_step(&p, topo, stranded, bound);
	tap_ok(!changes && ws_pinned_step(&p, topo, stranded, bound) && p.mask[0] == 0,
	       "pinned: it leaves after WS_PINNED_LINGER periods without bound work, not before");
	bound[5] = 0.9;
	tap_ok(!ws_pinned_step(&p, topo, stranded, bound) && p.mask[0] == 0,
	       "pinned: bound work that has a usable CPU (not stranded) does not make one join");
	stranded[7] = 0.1;
	tap_ok(!ws_pinned_step(&p, topo, stranded, bound) && p.mask[0] == 0,
	       "pinned: 10% stranded (a kthread's share) does not count");
}

/* The open-loop cap count of @cap, 0 for none, as the law's first step. */
static unsigned int ncap(const struct ws_power_model *m, unsigned int cap)
{
	return cap ? ws_power_cpus_for_cap(m, cap, 0, 8) : 0;
}

/*
 * The measured law: 95 W allows 4 CPUs by the model.  A measured/modelled
 * ratio of 2 halves the budget at once; back at 1 the set grows only after
 * the dwell, to the band's count, and then stays.
 */
static void test_law(const struct ws_power_model *m)
{
	struct ws_cap_law law = {};
	unsigned int i, n = 0, changes = 0, reversals = 0, prev, first_growth = 0;
	int dir = 0;

	tap_is_int(ws_cap_law_step(&law, m, 95, 0, 8, 0), 4, "law: model source, 95 W: 4 CPUs");
	tap_is_int(ws_cap_law_step(&law, m, 95, 0, 8, 0), 4, "law: model source: no change");
	tap_is_int(ws_cap_law_step(&law, m, 95, 0, 8, 2.0), 1,
		   "law: measured 2x the model: shrinks at once (k = 2, 47.5 W: 1 CPU)");
	for (i = 1; i <= 60; i++) {
		prev = n ?: 1;
		n = ws_cap_law_step(&law, m, 95, 0, 8, 1.0);
		if (n > prev && !first_growth)
			first_growth = i;
	}
	/*
	 * k falls from 2 towards 1 by a quarter of the gap per period; with the
	 * band, 2 CPUs fit from k = 1.178 (period 6), so the set may grow only
	 * at period 6 + WS_LAW_DWELL - 1 = 13.
	 */
	if (!tap_is_int(first_growth, 6 + WS_LAW_DWELL - 1, "law: growth waits for the dwell"))
		printf("# grew at period %u\n", first_growth);
	tap_is_int(n, 3, "law: settles at the band's count at k = 1 (3 CPUs; the model allows 4)");
	for (i = 0; i < 40; i++)
		changes += ws_cap_law_step(&law, m, 95, 0, 8, 1.0) != n;
	tap_is_int(changes, 0, "law: steady ratio, steady set (40 periods)");
	tap_is_int(ws_cap_law_step(&law, m, 150, 0, 8, 1.0), 8, "law: a new cap applies at once");
	tap_is_int(ws_cap_law_step(&law, m, 150, 0, 8, 9.0), 1,
		   "law: a ratio beyond 4 is clamped to 4 (37.5 W: 1 CPU)");

	/*
	 * A model whose shape is wrong: the true ratio grows with the CPUs in
	 * use, 0.8 + 0.1 n, so shrinking lowers it.  The set must settle, not
	 * flap: at most one change of direction over 200 periods.
	 */
	memset(&law, 0, sizeof(law));
	n = ws_cap_law_step(&law, m, 100, 0, 8, 0);
	for (i = 0; i < 200; i++) {
		prev = n;
		n = ws_cap_law_step(&law, m, 100, 0, 8, 0.8 + 0.1 * n);
		if (n != prev) {
			int d = n > prev ? 1 : -1;

			if (dir && d != dir)
				reversals++;
			dir = d;
		}
	}
	if (!tap_ok(reversals <= 1, "law: a load-dependent ratio settles"))
		printf("# %u reversals, n = %u\n", reversals, n);
}

/* The trim of the partial CPU's share by what the CPU was measured to run. */
static void test_trim(void)
{
	struct ws_partial_trim t = {};
	unsigned int i, got = 0;

	tap_is_int(ws_partial_trim_step(&t, 500, 4, 0, false), 250,
		   "trim: a new CPU starts low, at half its share");
	tap_is_int(ws_partial_trim_step(&t, 500, 4, 0.25, true), 375,
		   "trim: ran 25% of a 50% share: half the error made up (37.5%)");
	tap_is_int(ws_partial_trim_step(&t, 500, 4, 0.7, true), 275,
		   "trim: ran 70%: half the error off");
	tap_is_int(ws_partial_trim_step(&t, 500, 4, 0.5, true), 275, "trim: on target: holds");
	tap_is_int(ws_partial_trim_step(&t, 500, 4, 0, false), 275,
		   "trim: the set not saturated: learns nothing");
	tap_is_int(ws_partial_trim_step(&t, 300, 4, 0.3, true), 75,
		   "trim: a new share on the same CPU keeps the bias");
	tap_is_int(ws_partial_trim_step(&t, 500, 5, 0.9, true), 250,
		   "trim: another CPU: starts low again");
	for (i = 0; i < 10; i++)
		got = ws_partial_trim_step(&t, 500, 5, 0, true);
	tap_is_int(got, WS_PARTIAL_MAX_PERMILLE, "trim: never more than the most share");
	for (i = 0; i < 10; i++)
		got = ws_partial_trim_step(&t, 500, 5, 1, true);
	tap_is_int(got, WS_TRIM_LEAST_PERMILLE, "trim: never less than the least");
	tap_is_int(ws_partial_trim_step(&t, 0, 5, 0, true), 0, "trim: no share, none given");
	tap_ok(t.bias == 0, "trim: and the bias forgotten");
}

/*
 * The partial CPU (partial_window_ms): the law's share beyond the whole
 * CPUs, and the budget's choice of the CPU that takes it.
 */
static void test_partial(const struct ws_topology *topo)
{
	struct ws_budget_in in = { .policy = WS_POLICY_CAPPED, .partial_window_us = 50000 };
	__u64 hot[WS_CPU_WORDS] = { 0x8 };
	struct ws_budget b = {};
	struct ws_power_model m;
	struct ws_cap_law law = {};
	char err[256];

	ws_power_model_defaults(&m);
	tap_is_int(ws_power_model_parse("partial_window_ms = 5\n", &m, err, sizeof(err)), -EINVAL,
		   "partial: a window under 10 ms refused");
	tap_is_str(err, "line 1: partial_window_ms: '5' is not 0 (off) or a whole number in "
		   "10..1000", "partial: the error says what is allowed");
	tap_is_int(ws_power_model_parse("partial_window_ms = 50.5\n", &m, err, sizeof(err)),
		   -EINVAL, "partial: a fractional window refused");
	tap_is_int(m.partial_window_ms, 0, "partial: off by default, and after refusals");
	ws_cap_law_step(&law, &m, 77, 0, 8, 0);
	tap_is_int(law.permille, 0, "partial: off, no share");
	tap_is_int(ws_power_model_parse("partial_window_ms = 50\n", &m, err, sizeof(err)), 0,
		   "partial: 50 ms accepted");
	/* 77 W: 73.15 W for 50 W idle and 10 W per CPU, 2.315 CPUs */
	tap_is_int(ws_cap_law_step(&law, &m, 77, 0, 8, 0), 2, "partial: 77 W, 2 whole CPUs");
	tap_is_int(law.permille, 315, "partial: and 31.5% of a third");
	ws_cap_law_step(&law, &m, 74, 0, 8, 0);
	tap_is_int(law.permille, 0, "partial: 74 W leaves 3% of a CPU: under the least share, none");
	ws_cap_law_step(&law, &m, 84, 0, 8, 0);
	tap_is_int(law.permille, WS_PARTIAL_MAX_PERMILLE, "partial: 98% of a CPU held at 95%");
	/* measured 1.1x the model: 77 / 1.1 = 70 W, 66.5 W less the reserve, 1.65 CPUs */
	tap_is_int(ws_cap_law_step(&law, &m, 77, 0, 8, 1.1), 1, "partial: measured: 1 whole CPU");
	tap_is_int(law.permille, 650, "partial: measured: and 65% of a second");
	tap_is_int(ws_cap_law_step(&law, &m, 1000, 0, 8, 0), 8, "partial: every CPU whole");
	tap_is_int(law.permille, 0, "partial: and no share beyond them");

	in.n_cap = 3;
	in.partial_permille = 315;
	tap_ok(ws_budget_step(&in, &b, topo) && b.active_mask[0] == 0x7 && b.partial_cpu == 3 &&
	       b.partial_permille == 315 && b.partial_window_us == 50000,
	       "partial: 3 CPUs and cpu3, the next in packing order, for 31.5%");
	in.partial_permille = 400;
	tap_ok(!ws_budget_step(&in, &b, topo) && b.partial_permille == 400,
	       "partial: a new share is written without a new mask");
	in.hot = hot;
	tap_ok(ws_budget_step(&in, &b, topo) && b.active_mask[0] == 0x7 && b.partial_cpu == 4,
	       "partial: cpu3 hot: cpu4 takes the share");
	in.hot = NULL;
	in.policy = WS_POLICY_POWERSAVE;
	in.n_compact = 2;
	tap_ok(ws_budget_step(&in, &b, topo) && b.nr_active == 2 && !b.partial_permille,
	       "partial: none when compaction, not the cap, sets the count");
	in.policy = WS_POLICY_CAPPED;
	in.n_cap = 0;
	tap_ok(ws_budget_step(&in, &b, topo) && !b.nr_active && !b.partial_permille,
	       "partial: none without a cap");
	test_trim();
}

int main(void)
{
	struct ws_power_model m, keep;
	struct ws_topology topo;
	struct ws_budget b = {};
	unsigned int cap = 0, policy = WS_POLICY_BALANCED;
	double busy[8] = { 1, 1, 0.5, 0, 0, 0, 0, 0 };
	__u64 mask[WS_CPU_WORDS], hot[WS_CPU_WORDS] = {};
	struct ws_compact c = {};
	unsigned int i, n = 0;
	char err[256];

	tap_plan(89);

	ws_power_model_defaults(&m);
	tap_ok(m.idle_watts == 50 && m.cpu_watts == 10 && m.perf_exponent == 2 &&
	       m.reserve_pct == 5, "defaults");
	tap_is_int(ws_power_model_parse("# c\n idle_watts = 80 \ncpu_watts=5 # x\n\n", &m, err,
					sizeof(err)), 0, "model: parses comments and spaces");
	tap_ok(m.idle_watts == 80 && m.cpu_watts == 5 && m.perf_exponent == 2,
	       "model: values set, others default");
	keep = m;
	tap_is_int(ws_power_model_parse("idle_watts = 80\nturbo = 1\n", &m, err, sizeof(err)),
		   -EINVAL, "model: unknown key refused");
	tap_is_str(err, "line 2: unknown key 'turbo' (idle_watts,"
		   " cpu_watts, perf_exponent, reserve_pct, rapl_extra_watts, partial_window_ms)",
		   "model: error names line and key");
	tap_ok(!memcmp(&m, &keep, sizeof(m)), "model: refused text changes nothing");
	tap_is_int(ws_power_model_parse("cpu_watts = -3\n", &m, err, sizeof(err)), -EINVAL,
		   "model: negative refused");
	tap_is_int(ws_power_model_parse("cpu_watts = nan\n", &m, err, sizeof(err)), -EINVAL,
		   "model: nan refused");
	tap_is_int(ws_power_model_parse("cpu_watts\n", &m, err, sizeof(err)), -EINVAL,
		   "model: missing '=' refused");

	ws_power_model_defaults(&m);
	/* 50 + 10 * (1 + 1 + 0.5) = 75 W at full perf; at perf 512, 50 + 2.5 * 2.5 */
	tap_ok(ws_power_estimate(&m, busy, 8, 0) == 75.0, "estimate at full perf");
	tap_ok(ws_power_estimate(&m, busy, 8, 512) == 56.25, "estimate at half perf");

	/* 5% reserve: a cap of C leaves 0.95 C for 50 W idle and 10 W per CPU */
	tap_is_int(ws_power_cpus_for_cap(&m, 100, 0, 8), 4, "cap 100 W: 95 W, 4 CPUs (50 + 4*10)");
	tap_is_int(ws_power_cpus_for_cap(&m, 94.7, 0, 8), 3, "cap 94.7 W: 89.97 W, 3 CPUs");
	tap_is_int(ws_power_cpus_for_cap(&m, 1000, 0, 8), 8, "huge cap: all online CPUs");
	tap_is_int(ws_power_cpus_for_cap(&m, 20, 0, 8), 1, "cap below idle: still one CPU");
	tap_is_int(ws_power_cpus_for_cap(&m, 63.2, 512, 8), 4,
		   "half perf: 4x the CPUs per watt (60.04 W: 50 + 4*2.5)");

	fake_topo(&topo);
	ws_cap_choose_cpus(&topo, 3, NULL, -1, mask);
	tap_is_int(mask[0], 0x7, "3 CPUs: packed onto core 0's siblings then core 1");
	ws_cap_choose_cpus(&topo, 5, NULL, -1, mask);
	tap_is_int(mask[0], 0x1f, "5 CPUs: the first LLC whole, then one more");

	hot[0] = 0x3;	/* core 0 too hot: the coolest CPUs are chosen instead */
	ws_cap_choose_cpus(&topo, 3, hot, -1, mask);
	tap_is_int(mask[0], 0x1c, "3 CPUs with core 0 hot: core 1, then the next LLC");

	fake_topo4(&topo);
	ws_cap_choose_cpus(&topo, 4, NULL, -1, mask);
	tap_is_int(mask[0], 0x33, "4 nodes, 4 CPUs: node 0's, then the nearest node's (2), not 1's");
	ws_cap_choose_cpus(&topo, 3, NULL, 6, mask);
	tap_is_int(mask[0], 0xc4, "3 CPUs near cpu6: node 3's, then one of node 1's (nearest)");
	fake_topo(&topo);

	cap = 95;
	tap_ok(step(policy, ncap(&m, cap), 0, NULL, NULL, &b, &topo),
	       "cap step: first application changes the set");
	tap_ok(b.nr_active == 4 && b.active_mask[0] == 0xf, "cap step: one LLC's 4 CPUs");
	tap_ok(!step(policy, ncap(&m, cap), 0, NULL, NULL, &b, &topo),
	       "cap step: same cap, no change (no oscillation)");
	tap_ok(step(policy, ncap(&m, cap), 0, hot, NULL, &b, &topo), "a hot core changes the set");
	tap_ok(b.nr_active == 4 && b.active_mask[0] == 0x3c && b.avoid_mask[0] == 0x3,
	       "cap with core 0 hot: 4 CPUs from core 1 on, core 0 avoided");
	cap = 0;
	tap_ok(step(policy, ncap(&m, cap), 0, NULL, NULL, &b, &topo), "clearing the cap changes the set");
	tap_ok(b.nr_active == 0 && b.active_mask[0] == 0 && b.avoid_mask[0] == 0,
	       "cleared: no restriction");
	tap_ok(!step(policy, ncap(&m, cap), 0, NULL, NULL, &b, &topo), "no cap, nothing to do");
	tap_ok(!step(policy, ncap(&m, cap), 3, NULL, NULL, &b, &topo), "compaction ignored outside powersave");
	policy = WS_POLICY_POWERSAVE;
	tap_ok(step(policy, ncap(&m, cap), 3, NULL, NULL, &b, &topo) && b.nr_active == 3 &&
	       b.active_mask[0] == 0x7, "powersave: the compacted 3 CPUs, packed");

	/* compaction: grow at once above 85%, shrink after 8 periods that fit fewer */
	tap_is_int(ws_compact_step(&c, 2.05, 8), 4, "first step: 2.05 CPUs of load at 60%: 4");
	tap_is_int(ws_compact_step(&c, 2.05, 8), 4, "steady load: no change");
	for (i = 0; i < 7; i++)
		n = ws_compact_step(&c, 1.0, 8);
	tap_is_int(n, 4, "7 low periods: not yet shrunk (hysteresis)");
	tap_is_int(ws_compact_step(&c, 1.0, 8), 2, "8th low period: shrunk to ceil(1/0.6)");
	tap_is_int(ws_compact_step(&c, 1.9, 8), 4, "saturated (1.9 > 0.85 * 2): grows at once");
	tap_is_int(ws_compact_step(&c, 7.9, 8), 8, "saturated again: all CPUs, never more");
	ws_power_model_defaults(&m);
	test_law(&m);
	test_pinned_and_hot(&topo);
	fake_topo(&topo);
	test_partial(&topo);
	return tap_done();
}
