/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wattsched.h - the ABI shared by the BPF scheduler (bpf/), the loader and
 * CLI (user/) and the tests: map layouts, enums and the statistics table.
 *
 * Only __u32/__u64-style types here: the same text is compiled by clang for
 * BPF (types from vmlinux.h) and by gcc for user space (types from
 * <linux/types.h>).
 */
#ifndef __WATTSCHED_H
#define __WATTSCHED_H

#ifndef __bpf__
#include <linux/bpf.h>		/* struct bpf_spin_lock */
#include <linux/types.h>
#endif

#define WS_NAME			"wattsched"
#define WS_PIN_DIR		"/sys/fs/bpf/wattsched"

/* Upper bounds the BPF side is verified against; the loader refuses more. */
#define WS_MAX_CPUS		1024
#define WS_MAX_LLCS		256
#define WS_MAX_NODES		64
#define WS_CPU_WORDS		(WS_MAX_CPUS / 64)

/*
 * DSQ ids: one vtime-ordered queue per LLC domain, ids WS_DSQ_LLC_BASE + llc.
 * Built-in DSQ ids have bit 63 set, so these never collide.
 */
#define WS_DSQ_LLC_BASE		0x100ULL

/* Policies, switched at runtime by writing ws_ctl.policy. */
enum ws_policy {
	WS_POLICY_BALANCED	= 0,
	WS_POLICY_PERFORMANCE	= 1,
	WS_POLICY_POWERSAVE	= 2,
	WS_POLICY_CAPPED	= 3,
	WS_NR_POLICIES,
};

/* Priority classes: under pressure batch gives way first, then normal. */
enum ws_class {
	WS_CLASS_NORMAL		= 0,
	WS_CLASS_LATENCY	= 1,
	WS_CLASS_BATCH		= 2,
	WS_NR_CLASSES,
};

/*
 * Priority class by cgroup: the "ws_cgrp_class" hash map, pinned at
 * WS_PIN_DIR/ws_cgrp_class, maps a cgroup id (the inode number of its
 * cgroup2 directory) to an enum ws_class for the cgroup and every cgroup
 * below it; the nearest ancestor with an entry wins.
 *
 * Device affinity by cgroup: the "ws_dev_cgrp" hash map, pinned at
 * WS_PIN_DIR/ws_dev_cgrp, has the same layout, with a NUMA node as the
 * value.  A process's own binding (the "ws_dev_tgid" map, u32 tgid -> s32
 * node) comes before its cgroup's.
 *
 * Each of the two has a change token in the "ws_cgrp_token" array (u64,
 * indexed by enum ws_rule_map): whoever changes an entry then writes a new
 * token (a fresh timestamp), and BPF re-reads a task's rule when the token
 * differs from the one it last saw.  An array, not a key of the rule map:
 * BPF reads the token at every enqueue, and an array's lookup is a few
 * instructions where a hash map's is a hash.
 */
enum ws_rule_map {
	WS_RULES_CLASS		= 0,	/* ws_cgrp_class */
	WS_RULES_DEV		= 1,	/* ws_dev_cgrp */
	WS_NR_RULE_MAPS,
};
/* A value's low 32 bits are the class; this bit marks a rack document's rule. */
#define WS_CGRP_FROM_RACK	(1ULL << 32)
#define WS_MAX_CGRP_RULES	1024
#define WS_CGRP_MAX_DEPTH	16

/* Where the power reading in ws_ctl.est_milliwatts comes from. */
enum ws_power_source {
	WS_POWER_NONE	= 0,	/* no reading yet */
	WS_POWER_MODEL	= 1,	/* configs/power-model.conf estimate from utilisation */
	WS_POWER_RAPL	= 2,	/* RAPL energy through the telemetry module */
	WS_POWER_PUSHED	= 3,	/* a reading pushed by fleet tooling (BMC) */
};

/* Under a cap, batch work holds at most this % of the usable CPUs by default. */
#define WS_BATCH_DUTY_DEFAULT	50

/* cpufreq target range used by scx_bpf_cpuperf_set(). */
#define WS_PERF_MAX		1024

/* Per-CPU topology, filled by the loader from sysfs before load. */
struct ws_cpu_topo {
	__u32 core;		/* index of the physical core (SMT group) */
	__u32 llc;		/* index of the last-level-cache domain */
	__u32 node;		/* NUMA node */
	__u32 pkg;		/* physical package */
};

/*
 * The control block: what the operator's intent asks of the hot paths.
 * One element of the "ws_ctl" array map, pinned at WS_PIN_DIR/ws_ctl.  Its
 * one writer is the loader's daemon, which derives it from the intent
 * (user/core/policy.c) whenever a request changes that; BPF only reads it,
 * so a policy switch takes effect at the next scheduling event with no
 * reload.  A zeroed block is a valid default (balanced).
 */
struct ws_ctl {
	__u32 policy;				/* enum ws_policy */
	__u32 gen;				/* bumped on every write */
	__u32 perf[WS_NR_CLASSES];		/* cpufreq target per class, 0..WS_PERF_MAX; 0 = leave alone */
	__u32 batch_duty_pct;			/* % of the usable CPUs batch may hold under a cap, 1..100; 0 = no limit */
};

/*
 * The budget: what the daemon's control loop derives from the intent and
 * its measurements.  One element of the "ws_budget" array map, pinned at
 * WS_PIN_DIR/ws_budget.  Only the daemon writes it; BPF reads it.  Intent
 * and derived state live in separate maps so that each has a single
 * writer path: a control-loop tick can never undo a `wattsched policy`
 * that landed between its read and its write.  A zeroed block means every
 * CPU is usable and there is no cap.  The lock makes a read whole: BPF
 * never builds its usable mask from half of one write and half of another.
 *
 * A cap that falls between two whole CPUs (the power model's
 * partial_window_ms) adds one more CPU part of the time: at the start of
 * every window of partial_window_us, partial_cpu takes work like those in
 * active_mask, until it has run partial_permille thousandths of the window
 * (or the window ends), and is kept out for the rest of it.  BPF's duty
 * timer switches it in and out; a new partial_cpu moves gen.
 */
struct ws_budget {
	struct bpf_spin_lock lock;		/* the daemon writes with BPF_F_LOCK; BPF copies under it */
	__u32 gen;				/* bumped whenever a mask changes */
	__u32 nr_active;			/* CPUs in active_mask; 0 = no restriction */
	__u32 est_milliwatts;			/* the loader's last power reading */
	__u32 power_source;			/* enum ws_power_source of that reading */
	__u32 nr_sensed;			/* CPUs with a temperature reading */
	__u32 cap_watts;			/* the cap in force: the operator's, or the safe cap while telemetry is stale; 0 = none */
	__u32 guard_mw;				/* the fast guard: BPF holds batch work to one CPU while the module's power kfunc reads above this; 0 = none */
	__u32 partial_cpu;			/* the CPU that takes work part of the time, beside active_mask */
	__u32 partial_permille;			/* its share of each window, 1..999; 0 = no partial CPU */
	__u32 partial_window_us;		/* the window of that share */
	__u64 active_mask[WS_CPU_WORDS];	/* CPUs new work may use (cap, compaction) */
	__u64 avoid_mask[WS_CPU_WORDS];		/* CPUs too hot to take new work */
};

/*
 * Affinity-bound work, per CPU: one element of the "ws_bound" per-CPU array
 * map, which only BPF writes and the daemon reads.  Nanoseconds the CPU ran
 * user tasks whose affinity leaves out some CPU (bound), and the part of that it
 * ran them while outside the usable set for tasks with no usable CPU in
 * their mask at all (stranded): demand that no cap or compaction can move.
 */
struct ws_bound_ns {
	__u64 bound;
	__u64 stranded;
};

/*
 * Heat as BPF sees it through the telemetry module's kfuncs (the kfunc
 * path, docs/telemetry.md): one element of the "ws_heat" array map, which
 * only BPF writes and the daemon reads.  live: the kfuncs resolved when the
 * scheduler loaded.  gen: the module's generation hot was derived from.
 * hot: the CPUs BPF keeps new work off, by the loader's rules (limit,
 * margin, hysteresis; the least hot ones take work when every CPU is hot).
 * The daemon reads it to place the cap around them and for `status`.
 */
struct ws_heat {
	__u32 live;
	__u32 gen;
	__u64 hot[WS_CPU_WORDS];
};

/* Within this much of the coolest CPU's headroom counts as "least hot". */
#define WS_HOT_BAND_MC		2000

/*
 * Statistics, defined once.  X(name, description).  Per-CPU counters in the
 * "ws_stats" per-CPU array map, indexed by enum ws_stat_idx, summed in user
 * space.
 */
#define WS_STATS(X)							\
	X(enq_local,	"tasks dispatched straight to an idle CPU on wakeup") \
	X(enq_llc,	"tasks queued on an LLC dispatch queue")		\
	X(enq_pinned,	"per-CPU tasks queued on their only CPU")	\
	X(enq_parked,	"tasks with no usable CPU in their mask, queued on their own") \
	X(disp_local,	"dispatches from the CPU's own LLC queue")	\
	X(steal_node,	"dispatches stolen from another LLC in the same node") \
	X(steal_remote,	"dispatches stolen from another NUMA node")	\
	X(idle_core,	"wakeups placed on a fully idle SMT core")	\
	X(idle_llc,	"wakeups placed on an idle CPU in the previous LLC") \
	X(idle_node,	"wakeups placed on an idle CPU in the same node") \
	X(idle_any,	"wakeups placed on an idle CPU elsewhere")	\
	X(dev_local,	"device-bound tasks placed on the device's node") \
	X(dev_fallback,	"device-bound tasks that found no idle CPU on their node") \
	X(avoided_hot,	"placements that skipped a hot CPU")		\
	X(spread_core,	"tasks moved off a busy SMT sibling to an idle core (performance)") \
	X(throttled,	"batch tasks held back by the power cap")	\
	X(batch_rescued, "batch tasks run after waiting too long under the cap") \
	X(preempt_batch, "batch tasks preempted by latency-critical wakeups") \
	X(preempt_wakeup, "running tasks preempted by a woken task placed before them") \
	X(preempt_rekick, "wakeups that kicked a CPU to preempt again before it switched") \
	X(kick_idle,	"idle CPUs kicked to take queued work")			\
	X(kick_far,	"of those, CPUs in another LLC than the queue's, none idle in it") \
	X(requeued,	"queued tasks moved to a CPU they may run on after the usable CPUs changed") \
	X(heat_rebuilds, "usable-CPU rebuilds caused by the telemetry module's readings (kfunc path)") \
	X(tick_moves,	"running tasks cut short at a tick because their CPU left the usable set") \
	X(power_guarded, "batch limits cut to one CPU because the module's power reading was over the cap (kfunc path)") \
	X(overdue,	"dispatches decided by waiting time: a queue head had waited 100 ms") \
	X(starved,	"tasks that waited 2 s in an LLC queue, taken by any CPU of the LLC not kept out by heat")

enum ws_stat_idx {
#define WS_STAT_ENUM(name, desc) WS_STAT_##name,
	WS_STATS(WS_STAT_ENUM)
#undef WS_STAT_ENUM
	WS_NR_STATS,
};

static inline int ws_cpu_test(const __u64 *mask, __u32 cpu)
{
	return (mask[(cpu / 64) & (WS_CPU_WORDS - 1)] >> (cpu % 64)) & 1;
}

#endif /* __WATTSCHED_H */
