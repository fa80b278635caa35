// SPDX-License-Identifier: GPL-2.0
/*
 * wattsched - a topology-, power- and thermal-aware sched_ext scheduler.
 *
 * Queues.  One vtime-ordered dispatch queue (DSQ) per last-level-cache
 * domain holds the tasks that may run on several CPUs; one vtime-ordered DSQ
 * per CPU holds tasks that can run on that CPU only (affinity of one CPU,
 * migration disabled, or no usable CPU in their mask).  Both are ordered by
 * weighted virtual time, so nice levels and cgroup weights hold for pinned
 * and unpinned tasks alike: a task's vtime advances by its runtime scaled by
 * 100/weight.  A task entering a queue is placed against that queue's
 * clock, the lowest vtime waiting in it: at most one slice behind it, so a
 * sleeper cannot hoard credit, and, when it comes from another queue, at
 * most one weighted slice ahead, since vtimes of different queues drift.
 * When the running task's slice ends it keeps the CPU while its vtime is
 * the lowest, which is what makes weights hold between tasks sharing a CPU,
 * but a waiter never counts as more than two of its slices ahead of it, so
 * no task waits long behind one whose vtime lags the rest of the machine.
 *
 * Placement on wakeup (select_cpu, pick_idle_cpu()) looks for an idle CPU
 * in this order: a fully idle core in the task's previous LLC, any idle CPU
 * in that LLC, a fully idle core and then any idle CPU in the same NUMA
 * node, then anywhere.  A synchronous wakeup from another LLC searches from
 * the waker's LLC instead, so that a communicating pair comes together, and
 * a task bound to a PCIe device starts the search on the device's node.  An
 * idle CPU found there gets the task directly on its local DSQ; otherwise
 * the task is queued on its LLC's DSQ and an idle CPU, if any, is kicked.
 *
 * Dispatch: a CPU takes the lower-vtime head of its own per-CPU DSQ and its
 * LLC's DSQ, then steals from the other LLCs of its node, then from other
 * nodes.  Stealing is what keeps every CPU busy while work waits; the
 * preference for the previous LLC on wakeup is what keeps a stolen task
 * where it landed instead of bouncing back.
 *
 * Policy.  Two maps, each written only by the loader's daemon, steer the
 * hot paths, so a policy switch needs no reload.  The control block (struct
 * ws_ctl) carries the policy, the cpufreq targets per priority class and
 * the batch duty cycle.  The budget (struct ws_budget) carries the cap in
 * force and two CPU masks: the CPUs new work may use (power cap,
 * compaction) and the CPUs too hot to take new work.  CPUs outside them
 * still run the tasks that can run nowhere else, so no task stalls.  When
 * the telemetry module was loaded before the scheduler, BPF reads its
 * kfuncs and decides which CPUs are too hot itself (the kfunc path).
 *
 * Faults.  Any inconsistency ends the scheduler through scx_bpf_error();
 * the kernel then returns every task to EEVDF, and the exit reason reaches
 * the loader through the exit record (UEI).  The helpers shared by every
 * sched_ext scheduler (the exit record, the compat macros for older
 * kernels, weight scaling, is_migration_disabled()) are the kernel's own,
 * from tools/sched_ext/include/scx.  docs/design.md has the reasons behind
 * the rules below.
 */
#include <scx/common.bpf.h>

#include "wattsched.h"
#include "wattsched_telemetry.h"

char _license[] SEC("license") = "GPL";

/* Set by the loader before load. */
const volatile __u32 nr_cpus = 1;
const volatile __u32 nr_llcs = 1;
const volatile __u32 nr_nodes = 1;
const volatile __u64 slice_ns = 5000000ULL;
/* The loader's thermal rules (struct ws_thermal_cfg), for the kfunc path. */
const volatile __s32 hot_limit_mc = 100000;
const volatile __s32 hot_margin_mc = 5000;
const volatile __s32 hot_hyst_mc = 5000;
const volatile struct ws_cpu_topo cpu_topo[WS_MAX_CPUS];
const volatile __s32 smt_sibling[WS_MAX_CPUS];	/* another thread of the core, or -1 */
const volatile bool has_smt;			/* some core has two threads online */
const volatile __u32 llc_node[WS_MAX_LLCS];
const volatile __u8 node_nr_llcs[WS_MAX_NODES];	/* how many LLCs each node has */
/* Per LLC, the other LLCs in the order its CPUs take work from them: same node, then by distance. */
const volatile __u8 llc_steal[WS_MAX_LLCS][WS_MAX_LLCS];
/* Per node, the other nodes with CPUs, nearest first, and how many there are. */
const volatile __u8 node_near[WS_MAX_NODES][WS_MAX_NODES];
const volatile __u8 nr_node_near[WS_MAX_NODES];
/*
 * The bits of the CPU's preempt count that say it is in a hard IRQ or NMI
 * or serving a softirq: their place differs between kernels, so the loader
 * reads it from the kernel's BTF (0: unknown, woken_by_interrupt() says no).
 */
const volatile __u32 irq_ctx_mask;

UEI_DEFINE(uei);

/* Scheduling policies (include/uapi/linux/sched.h; vmlinux.h has no macros). */
#define SCHED_BATCH		3
#define SCHED_IDLE		5

#define WS_DSQ_CPU_BASE		(WS_DSQ_LLC_BASE + WS_MAX_LLCS)
/* Batch work held back under a cap waits here, vtime-ordered. */
#define WS_DSQ_BATCH		(WS_DSQ_CPU_BASE + WS_MAX_CPUS)
/* Under a cap a batch task waits at most this long for a CPU. */
#define WS_BATCH_MAX_WAIT_NS	(2000ULL * 1000 * 1000)
/* A CPU's queue head that has waited this long goes first (dispatch_own()). */
#define WS_MAX_WAIT_NS		(100ULL * 1000 * 1000)
/* A task waiting this long in an LLC queue is taken by any CPU of the LLC not hot (take_starved()). */
#define WS_STARVE_NS		(2000ULL * 1000 * 1000)
/* How often the scheduler's own watchdog looks (watch_fn()). */
#define WS_WATCH_PERIOD_NS	(100ULL * 1000 * 1000)
/* How often the duty timer looks for a partial CPU while there is none (duty_fn()). */
#define WS_DUTY_IDLE_NS		(250ULL * 1000 * 1000)
/* The least slice a task on the partial CPU is given when its share is spent (duty_slice()). */
#define WS_DUTY_LEAST_SLICE_NS	(100ULL * 1000)
/* An LLC index that names none: the search starts at the node. */
#define NO_LLC			(~0U)

/* The highest vtime any task started with: the batch queue's clock and a new task's vtime. */
__u64 vtime_now;
/*
 * The highest vtime a task started with on a CPU of each LLC: the clock
 * the LLC's queues, and its CPUs' own, place tasks against (llc_clock()).
 */
__u64 llc_vnow[WS_MAX_LLCS];
/*
 * The vtime of the task that last started on each CPU: where keep_prev()
 * measures a waiter's lead from, and what preempt_on_wakeup() weighs a
 * wakee against.
 */
__u64 cpu_vnow[WS_MAX_CPUS];
/* When the task running on each CPU started (scx_bpf_now()). */
__u64 cpu_run_at[WS_MAX_CPUS];
/*
 * When each CPU was last kicked to preempt (preempt_on_wakeup()); a kick
 * after cpu_run_at is pending still.  Zeroed when dispatch keeps the
 * task (keep_prev()), which starts no new run.
 */
__u64 cpu_kicked_at[WS_MAX_CPUS];
__u32 applied_gen = ~0U;
/* Moves on every rebuild of the usable mask, whatever caused it. */
__u32 usable_gen;
/*
 * Is the budget's partial CPU in its window's share now?  duty_gen moves
 * with every switch; both are written by duty_fn() only, and a rebuild of
 * the usable mask takes the CPU in while duty_on.  duty_cpu is the CPU
 * whose window began at duty_window_at; duty_ran is what it has run of our
 * tasks since (stopping() adds to it), duty_want its share of the window
 * (duty_fn() writes it; running(), dispatch and enqueue end the share by
 * it, duty_rest()).
 */
__u32 duty_on;
__u32 duty_gen;
__u32 applied_duty_gen;
__u32 duty_cpu = ~0U;
__u64 duty_window_at;
__u64 duty_ran;
__u64 duty_want;
__u32 usable_cur;
/* Per usable-mask buffer: does LLC i have a usable CPU?  Built with it. */
__u8 llc_live[2][WS_MAX_LLCS];
/* Per buffer: how many LLCs have a usable CPU (take_orphans() walks only when not all). */
__u32 llcs_live[2];
/* Does a task in LLC queue i wait WS_STARVE_NS?  Written by watch_fn() only. */
__u8 llc_starving[WS_MAX_LLCS];
/*
 * May LLC queue i hold work?  Lets steal() skip the other LLCs' queues it
 * knows to be empty without a kfunc call on each (llc_may_hold()).  One
 * cache line per LLC, written by that LLC's enqueuers.
 */
struct {
	__u32 may_hold;
} __attribute__((aligned(64))) llc_hint[WS_MAX_LLCS];
/*
 * May the batch queue hold work?  Set by hold_batch() after each insert;
 * set or cleared by watch_fn() from the queue's count, the only one to
 * clear it.  dispatch peeks the batch queue only while it is set: the
 * queue fills only under a cap, and a peek looks the queue up by its id
 * (a hash lookup in the kernel, about 150 instructions, a seventh of a
 * dispatch).  An insert that watch_fn()'s count missed (the kernel inserts
 * after enqueue returns) sets it again at the next period, with a kick.
 */
bool batch_may_hold;
__u32 usable_busy;
__u32 usable_weight;
/* The generation whose queued tasks have been re-placed (requeue_after_change()). */
__u32 requeued_gen = ~0U;

/*
 * The class of the task running on each CPU, as class + 1 so that the
 * zeroed array reads "nothing running"; only the cpu_*_running() helpers
 * know the encoding.
 */
__u32 cpu_running_class[WS_MAX_CPUS];
/* 1 when the task running on a CPU is bound to a device on that CPU's node. */
__u8 cpu_running_home[WS_MAX_CPUS];
/* 1 when the task running on a CPU is CPU-bound (task_slice()). */
__u8 cpu_running_bound[WS_MAX_CPUS];
/* CPUs running batch work now. */
__u32 nr_batch_running;
/* Last cpufreq target set on each CPU, to skip redundant calls. */
__u32 cpu_perf_set[WS_MAX_CPUS];

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct ws_ctl);
} ws_ctl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct ws_budget);
} ws_budget SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WS_NR_STATS);
	__type(key, u32);
	__type(value, u64);
} ws_stats SEC(".maps");

/* Heat from the telemetry module's kfuncs (struct ws_heat); only BPF writes it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct ws_heat);
} ws_heat SEC(".maps");

/*
 * Per CPU: time run by affinity-bound tasks, and by those of them that may
 * run on no usable CPU (struct ws_bound_ns).  The daemon reads it as the
 * demand a cap cannot move (core/power.c, ws_pinned_step()).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct ws_bound_ns);
} ws_bound SEC(".maps");

/* Device affinity: preferred NUMA node by thread-group id. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, u32);
	__type(value, s32);
} ws_dev_tgid SEC(".maps");

/*
 * Rules by cgroup id, for a cgroup and every cgroup below it: the priority
 * class, and the preferred NUMA node (device affinity); the change token of
 * each in ws_cgrp_token (include/wattsched.h).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WS_MAX_CGRP_RULES);
	__type(key, u64);
	__type(value, u64);
} ws_cgrp_class SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WS_MAX_CGRP_RULES);
	__type(key, u64);
	__type(value, u64);
} ws_dev_cgrp SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WS_NR_RULE_MAPS);
	__type(key, u32);
	__type(value, u64);
} ws_cgrp_token SEC(".maps");

struct mask_slot {
	struct bpf_cpumask __kptr *mask;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WS_MAX_LLCS);
	__type(key, u32);
	__type(value, struct mask_slot);
} llc_masks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WS_MAX_NODES);
	__type(key, u32);
	__type(value, struct mask_slot);
} node_masks SEC(".maps");

/* Two buffers for the usable mask: rebuilt into one, read from the other. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, u32);
	__type(value, struct mask_slot);
} usable_masks SEC(".maps");

/*
 * Per-CPU scratch masks for the hot paths: SCRATCH_CAND holds the task's
 * candidate CPUs, SCRATCH_TMP their intersection with one domain.
 */
enum { SCRATCH_CAND, SCRATCH_TMP, NR_SCRATCH };
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NR_SCRATCH);
	__type(key, u32);
	__type(value, struct mask_slot);
} scratch_masks SEC(".maps");

/* The budget's masks, copied whole under its lock before the usable mask is built. */
struct budget_copy {
	u32 gen;
	u32 nr_active;
	u32 partial_cpu;
	u32 partial_permille;
	u64 active[WS_CPU_WORDS];
	u64 avoid[WS_CPU_WORDS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct budget_copy);
} budget_copies SEC(".maps");

/* What a cgroup rule map gave a task, valid while token and cgroup hold. */
struct cgrp_rule_cache {
	u64 token;		/* the map's change token it was read under */
	u64 cgrp_id;		/* the cgroup it was read for */
	u64 val;		/* the nearest rule's value; out of range for none */
};

struct task_ctx {
	u64 started_at;		/* when it last started running */
	u64 exec_at;		/* its se.sum_exec_runtime then */
	struct cgrp_rule_cache cls;	/* from ws_cgrp_class */
	struct cgrp_rule_cache dev;	/* from ws_dev_cgrp */
	s32 last_cpu;		/* where it last ran; -1 before it first ran */
	s32 dev_node;		/* device_node()'s last answer; -1 for none */
	u32 class;		/* task_class()'s last answer */
	bool cpu_bound;		/* its last run ended with it still runnable */
	bool irq_woken;		/* an interrupt woke it (select_cpu); cleared when it runs */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctxs SEC(".maps");

/* The scheduler's own timers: the watchdog (watch_fn()) and the duty timer (duty_fn()). */
enum { WATCH_TIMER, DUTY_TIMER, NR_TIMERS };
struct ws_timer {
	struct bpf_timer timer;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NR_TIMERS);
	__type(key, u32);
	__type(value, struct ws_timer);
} timers SEC(".maps");

/* ---- small helpers ------------------------------------------------------ */

static __always_inline void stat_inc(u32 idx)
{
	u64 *cnt = bpf_map_lookup_elem(&ws_stats, &idx);

	if (cnt)
		(*cnt)++;
}

static __always_inline struct ws_ctl *get_ctl(void)
{
	u32 zero = 0;

	return bpf_map_lookup_elem(&ws_ctl, &zero);
}

static __always_inline struct ws_budget *get_budget(void)
{
	u32 zero = 0;

	return bpf_map_lookup_elem(&ws_budget, &zero);
}

/* Is a power cap in force?  The budget holds the one in force (or the safe cap). */
static __always_inline bool budget_capped(void)
{
	struct ws_budget *b = get_budget();

	return b && b->cap_watts;
}

static __always_inline struct task_ctx *task_ctx(struct task_struct *p)
{
	return bpf_task_storage_get(&task_ctxs, p, 0, 0);
}

/*
 * The running kernel's HZ, which libbpf reads from its config; when that
 * cannot be found, 100, the lowest: a wait then counts long, never short,
 * and the backstops come early rather than late.
 */
extern unsigned int CONFIG_HZ __kconfig __weak;

/* The clock waits are counted on (waited()): jiffies. */
static __always_inline u64 wait_now(void)
{
	return bpf_jiffies64();
}

/*
 * How long the queued @p has waited, at @now (wait_now()), to a jiffy:
 * since it last became runnable after running, which the kernel stamps for
 * its own watchdog (p->scx.runnable_at), so no enqueue reads a clock for
 * it.  A dequeue to move the task or change its properties does not
 * restart the wait.
 */
static __always_inline u64 waited(struct task_struct *p, u64 now)
{
	u64 at = READ_ONCE(p->scx.runnable_at);

	return (s64)(now - at) > 0 ? (now - at) * (1000000000ULL / (CONFIG_HZ ?: 100)) : 0;
}

static __always_inline struct bpf_cpumask *slot_mask(void *map, u32 idx)
{
	struct mask_slot *slot = bpf_map_lookup_elem(map, &idx);

	return slot ? slot->mask : NULL;
}

static __always_inline bool cpu_valid(s32 cpu)
{
	return cpu >= 0 && cpu < WS_MAX_CPUS;
}

/*
 * A CPU's slot in the per-CPU arrays, bounded for the verifier.  The mask
 * comes after a barrier: where a check already bounded @cpu, clang drops
 * the mask as redundant and may index with a copy of @cpu the check did
 * not bound (queue_on_llc() with the CPU device_node_cpu() returned),
 * which the verifier rejects.
 */
static __always_inline u32 cpu_slot(s32 cpu)
{
	barrier_var(cpu);
	return cpu & (WS_MAX_CPUS - 1);
}

static __always_inline u32 cpu_llc(s32 cpu)
{
	return cpu_valid(cpu) ? cpu_topo[cpu_slot(cpu)].llc : 0;
}

static __always_inline u32 cpu_node(s32 cpu)
{
	return cpu_valid(cpu) ? cpu_topo[cpu_slot(cpu)].node : 0;
}

/* An LLC's slot in the per-LLC arrays, bounded for the verifier. */
static __always_inline u32 llc_slot(u32 llc)
{
	return llc & (WS_MAX_LLCS - 1);
}

static __always_inline u64 llc_dsq(u32 llc)
{
	return WS_DSQ_LLC_BASE + llc;
}

static __always_inline u64 cpu_dsq(s32 cpu)
{
	return WS_DSQ_CPU_BASE + cpu;
}

/*
 * The per-LLC "may hold work" hint.  Set after every insert into the LLC
 * queue, cleared only by a CPU that found the queue empty and that looks
 * again after clearing it (llc_found_empty()).  An insert from enqueue is
 * committed by the kernel after enqueue returns, after its set: a clear in
 * between leaves that task behind a clear hint until the watchdog sets it
 * again for any queue it finds holding work (watch_fn()).  So only steal()
 * reads the hint, for other LLCs' queues; a CPU always asks its own.  A
 * hint set on an empty queue costs one move that finds nothing.
 */
static __always_inline void llc_mark(u32 llc)
{
	if (llc < WS_MAX_LLCS)
		WRITE_ONCE(llc_hint[llc].may_hold, 1);
}

static __always_inline bool llc_may_hold(u32 llc)
{
	return llc < WS_MAX_LLCS && READ_ONCE(llc_hint[llc].may_hold);
}

static void llc_found_empty(u32 llc)
{
	if (llc >= WS_MAX_LLCS || scx_bpf_dsq_nr_queued(llc_dsq(llc)))
		return;
	/* a fetching atomic is a full barrier: the look below comes after the clear */
	__sync_fetch_and_and(&llc_hint[llc].may_hold, 0);
	if (scx_bpf_dsq_nr_queued(llc_dsq(llc)))
		llc_mark(llc);
}

static __always_inline bool vtime_before(u64 a, u64 b)
{
	return (s64)(a - b) < 0;
}

/* A task that can run on one CPU only. */
static __always_inline bool is_pcpu_task(struct task_struct *p)
{
	return p->nr_cpus_allowed == 1 || is_migration_disabled(p);
}

/* Where the task whose storage is @tctx last ran, or -1. */
static __always_inline s32 last_cpu(struct task_ctx *tctx)
{
	return tctx ? tctx->last_cpu : -1;
}

/* ---- what runs on each CPU ---------------------------------------------- */

static __always_inline void cpu_set_running(s32 cpu, u32 class, bool home)
{
	cpu_running_class[cpu_slot(cpu)] = class + 1;
	cpu_running_home[cpu_slot(cpu)] = home;
	if (class == WS_CLASS_BATCH)
		__sync_fetch_and_add(&nr_batch_running, 1);
}

static __always_inline void cpu_clear_running(s32 cpu)
{
	if (cpu_running_class[cpu_slot(cpu)] == WS_CLASS_BATCH + 1)
		__sync_fetch_and_sub(&nr_batch_running, 1);
	cpu_running_class[cpu_slot(cpu)] = 0;
	cpu_running_home[cpu_slot(cpu)] = 0;
}

static __always_inline bool cpu_runs_batch(s32 cpu)
{
	return cpu_running_class[cpu_slot(cpu)] == WS_CLASS_BATCH + 1;
}

static __always_inline bool cpu_runs_any(s32 cpu)
{
	return cpu_running_class[cpu_slot(cpu)] != 0;
}

/* Is @cpu running a CPU-bound task of ours (task_slice())? */
static __always_inline bool cpu_runs_hog(s32 cpu)
{
	return cpu_runs_any(cpu) && cpu_running_bound[cpu_slot(cpu)];
}

/* ---- the partial CPU's share --------------------------------------------- */

/* What the partial CPU @cpu has run of our tasks in its window, up to @now. */
static u64 duty_ran_by(s32 cpu, u64 now)
{
	u64 ran = duty_ran, at = cpu_run_at[cpu_slot(cpu)];

	if (cpu_runs_any(cpu) && at < now)
		ran += now - (at > duty_window_at ? at : duty_window_at);
	return ran;
}

/*
 * The rest of @cpu's share in this window when it is the partial CPU and in
 * its share (0: spent); ~0 for any other CPU, which is all the fast path
 * pays: one load and a compare.
 */
static __always_inline u64 duty_rest(s32 cpu)
{
	u64 ran;

	if (likely(cpu != (s32)duty_cpu) || !duty_on)
		return ~0ULL;
	ran = duty_ran_by(cpu, scx_bpf_now());
	return ran < duty_want ? duty_want - ran : 0;
}

/*
 * A task's slice on @cpu: @slice, or the rest of the partial CPU's share
 * when that is shorter, so that the task gives the CPU up at the tick
 * after its share is spent even when duty_fn()'s kick comes late (an
 * emulator delivers it milliseconds late); at least WS_DUTY_LEAST_SLICE_NS.
 */
static __always_inline u64 duty_slice(s32 cpu, u64 slice)
{
	u64 rest = duty_rest(cpu);

	if (likely(rest >= slice))
		return slice;
	return rest > WS_DUTY_LEAST_SLICE_NS ? rest : WS_DUTY_LEAST_SLICE_NS;
}

/* ---- virtual time ------------------------------------------------------- */

/*
 * How far ahead of its queue's clock a task may be placed: WS_LEAD_SLICES
 * slices.  A light task (nice 19 weighs 15, nice 0 1024) is charged 68
 * times its run time, so one 5 ms slice put it 340 ms ahead, and behind 30
 * hogs on one CPU it then waited 30 x 340 ms, 21 s in the soak, long
 * enough for RCU's stall detector to end the scheduler (khugepaged,
 * preempted in a read-side section).  Capped, a task waits at most about
 * the number of tasks queued times 50 ms per CPU; weights up to 10 times
 * apart (nice 0 to 10) are kept exactly, lighter ones get at least that
 * share when they compete.
 */
#define WS_LEAD_SLICES	10

/*
 * Place @p entering a queue relative to that queue's clock: at most one
 * slice behind it, so a sleeper banks no more credit; at most
 * WS_LEAD_SLICES slices ahead, and when it comes from another queue
 * (@moved), at most one of its weighted slices ahead, because the clocks
 * of different queues drift apart.  Within that, a task staying in its
 * queue keeps its lead, which is what weights are made of.
 */
static __always_inline u64 place_vtime(struct task_struct *p, u64 clock, bool moved)
{
	u64 vtime = p->scx.dsq_vtime, lead = WS_LEAD_SLICES * slice_ns, ahead;

	ahead = scale_by_task_weight_inverse(p, slice_ns);
	if (moved && ahead < lead)
		lead = ahead;
	if (vtime_before(vtime, clock - slice_ns))
		return clock - slice_ns;
	if (vtime_before(clock + lead, vtime))
		return clock + lead;
	return vtime;
}

static __always_inline u64 cpu_clock(s32 cpu)
{
	return cpu_vnow[cpu_slot(cpu)];
}

/*
 * The clock a task entering a queue of LLC @llc (the LLC queue, or the
 * own queue of one of its CPUs) is placed against: the highest vtime a
 * task started with there, as scx_simple's vtime_now, but one per LLC,
 * because the clocks of different LLCs drift apart.  It never walks back.
 * It once was the lowest vtime waiting in the queue: a sleeper, placed a
 * slice before that head, became the head, so that each wakeup walked the
 * clock back a slice, and under hackbench a stream of wakers kept tasks
 * queued earlier waiting until the 2 s backstop (take_starved()) took
 * them, a median 38 per run (docs/benchmarks.md).
 */
static __always_inline u64 llc_clock(u32 llc)
{
	return llc_vnow[llc_slot(llc)];
}

/*
 * The clock a task entering LLC @llc's queue is placed against.  A task an
 * interrupt woke (a timer loop, a device's waiter) is placed against a
 * clock one slice earlier, so that it banks up to two slices where other
 * sleepers bank one and goes before the tasks a stream of wakeups
 * (hackbench's pipes and sockets) keeps placing a slice behind the clock.
 */
static __always_inline u64 wakeup_clock(u32 llc, struct task_ctx *tctx, u64 enq_flags)
{
	u64 clock = llc_clock(llc);

	if (tctx && tctx->irq_woken && (enq_flags & SCX_ENQ_WAKEUP))
		clock -= slice_ns;
	return clock;
}

/*
 * How far ahead of the running task a waiter counts, at most: two of its
 * own weighted slices past where the running task started, so that a
 * waiter whose vtime came from another queue's clock does not wait for
 * the running task to catch up.
 */
static __always_inline u64 waiter_vtime(struct task_struct *head, u64 run_start)
{
	u64 limit = run_start + scale_by_task_weight_inverse(head, 2 * slice_ns);

	return vtime_before(limit, head->scx.dsq_vtime) ? limit : head->scx.dsq_vtime;
}

/* ---- heat from the telemetry module (the kfunc path) -------------------- */

/*
 * The module's kfuncs, resolved when the scheduler loads with the module
 * there; without it they stay NULL and the loader's text path (the
 * budget's avoid mask) is the only source of heat.  A loaded scheduler
 * holds the module: rmmod fails with EBUSY until it ends.
 */
extern u32 wattsched_tm_gen(void) __ksym __weak;
extern s32 wattsched_tm_cpu_temp_mc(s32 cpu) __ksym __weak;
extern s32 wattsched_tm_cpu_limit_mc(s32 cpu) __ksym __weak;

/* Each CPU's headroom below its limit in the last heat_step(), m°C. */
s32 heat_headroom[WS_MAX_CPUS];
/* The module's generation heat_step() last derived from (also in ws_heat). */
u32 heat_seen_gen = ~0U;
/*
 * heat_step()'s CPUs not hot, and the most headroom among the hot ones:
 * globals, not locals, so that the verifier sees the loop converge.
 */
u32 heat_cool;
s32 heat_best;

static __always_inline bool heat_live(void)
{
	return bpf_ksym_exists(wattsched_tm_gen) && bpf_ksym_exists(wattsched_tm_cpu_temp_mc) &&
	       bpf_ksym_exists(wattsched_tm_cpu_limit_mc);
}

static __always_inline struct ws_heat *get_heat(void)
{
	u32 zero = 0;

	return bpf_map_lookup_elem(&ws_heat, &zero);
}

/* Has a reading changed since heat_step() last looked?  One kfunc call. */
static __always_inline bool heat_moved(void)
{
	return heat_live() && wattsched_tm_gen() != heat_seen_gen;
}

/*
 * Derive the hot CPUs from the module's readings, by ws_thermal_step()'s
 * rules: hot at limit - margin, cool again below that less the hysteresis;
 * a CPU with no reading is never hot.  Never every CPU: when all are hot,
 * those within WS_HOT_BAND_MC of the most headroom are not (the loader's
 * ws_budget_step() rule; it keeps a cap's CPUs off the hot ones).
 */
static void heat_step(struct ws_heat *h)
{
	s32 cpu, t, limit, hot_at;
	bool was, is;

	heat_seen_gen = h->gen = wattsched_tm_gen();
	heat_cool = 0;
	heat_best = -0x3fffffff;
	bpf_for(cpu, 0, nr_cpus) {
		if (cpu >= WS_MAX_CPUS)
			break;
		t = wattsched_tm_cpu_temp_mc(cpu);
		limit = wattsched_tm_cpu_limit_mc(cpu) ?: hot_limit_mc;
		was = ws_cpu_test(h->hot, cpu);
		is = false;
		heat_headroom[cpu] = 0x3fffffff;
		if (t != WS_TELEMETRY_TEMP_UNKNOWN) {
			hot_at = limit - hot_margin_mc;
			is = was ? t >= hot_at - hot_hyst_mc : t >= hot_at;
			heat_headroom[cpu] = limit - t;
		}
		if (is != was)
			h->hot[(cpu / 64) & (WS_CPU_WORDS - 1)] ^= 1ULL << (cpu % 64);
		if (!is)
			heat_cool++;
		else if (heat_headroom[cpu] > heat_best)
			heat_best = heat_headroom[cpu];
	}
	if (!heat_cool) {
		bpf_for(cpu, 0, nr_cpus) {
			if (cpu >= WS_MAX_CPUS)
				break;
			if (heat_headroom[cpu] >= heat_best - WS_HOT_BAND_MC)
				h->hot[(cpu / 64) & (WS_CPU_WORDS - 1)] &= ~(1ULL << (cpu % 64));
		}
	}
	stat_inc(WS_STAT_heat_rebuilds);
}

/* ---- the usable CPUs (budget: active and not too hot) ------------------- */

/* A whole copy of the budget's masks, taken under its lock; NULL when there is none. */
static struct budget_copy *copy_budget(struct ws_budget *b)
{
	struct budget_copy *c;
	u32 zero = 0;

	c = bpf_map_lookup_elem(&budget_copies, &zero);
	if (!c)
		return NULL;
	bpf_spin_lock(&b->lock);
	c->gen = b->gen;
	c->nr_active = b->nr_active;
	c->partial_cpu = b->partial_cpu;
	c->partial_permille = b->partial_permille;
	__builtin_memcpy(c->active, b->active_mask, sizeof(c->active));
	__builtin_memcpy(c->avoid, b->avoid_mask, sizeof(c->avoid));
	bpf_spin_unlock(&b->lock);
	return c;
}

/*
 * Does heat keep @cpu out: is it in @avoid (the budget's avoid mask, as
 * the loader computed it from the text path) or, on the kfunc path, in
 * BPF's own hot set @h?  Either may be NULL.
 */
static __always_inline bool heat_keeps_out(const u64 *avoid, const struct ws_heat *h, s32 cpu)
{
	return (avoid && ws_cpu_test(avoid, cpu)) || (h && ws_cpu_test(h->hot, cpu));
}

/* heat_keeps_out() of @cpu under the current budget and heat. */
static bool cpu_hot(s32 cpu)
{
	struct ws_budget *b = get_budget();
	struct ws_heat *h = heat_live() ? get_heat() : NULL;

	return cpu_valid(cpu) && heat_keeps_out(b ? b->avoid_mask : NULL, h, cpu);
}

/* Every CPU looks at its queues again: the usable set changed under them. */
static void kick_all(void)
{
	s32 cpu;

	bpf_for(cpu, 0, nr_cpus)
		scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
}

/*
 * Empty the CPUs that have just left the usable set: tasks already in
 * their local queues would run there next, so they go back through
 * enqueue, which places them on usable CPUs (scx_bpf_dsq_reenq(), 7.1 and
 * later; without it they run there once, and ops.tick cuts them short);
 * and the current task is preempted now, not at its next tick (keep_prev()
 * keeps it only when it can run nowhere else).  Only online CPUs are
 * re-enqueued: 7.2 kernels queue an irq_work on the CPU even when it is
 * offline (a WARN, and a dangling entry once the scheduler ends).  A CPU
 * that goes offline meanwhile restarts the scheduler anyway (hotplug).
 */
static void clear_left(const struct cpumask *was, const struct cpumask *now)
{
	const struct cpumask *online;
	s32 cpu;

	/*
	 * An empty mask means every CPU (cpu_usable()): none left.  Asked of
	 * the mask, not of the caller's count: a branch on that would make
	 * the verifier track it exactly, and the caller's loop would not
	 * converge.
	 */
	if (bpf_cpumask_empty(now))
		return;
	online = scx_bpf_get_online_cpumask();
	bpf_for(cpu, 0, nr_cpus) {
		if (!bpf_cpumask_test_cpu(cpu, was) || bpf_cpumask_test_cpu(cpu, now))
			continue;
		if (__COMPAT_has_generic_reenq() && bpf_cpumask_test_cpu(cpu, online))
			scx_bpf_dsq_reenq___compat(SCX_DSQ_LOCAL_ON | cpu, 0);
		scx_bpf_kick_cpu(cpu, SCX_KICK_PREEMPT);
	}
	scx_bpf_put_cpumask(online);
}

/*
 * Bring the usable mask (active and not too hot) in line with the budget
 * and, on the kfunc path, with the module's readings (heat_step()).
 * Whoever sees a new generation of either first rebuilds the spare buffer
 * and publishes it; the others keep using the current one meanwhile.  Then
 * every CPU is kicked, so that tasks queued under the old mask are
 * re-placed at once (requeue_after_change()).
 */
static void refresh_usable(void)
{
	struct ws_budget *b = get_budget();
	struct bpf_cpumask *spare, *was;
	u32 next, weight = 0, live = 0, l, dgen = duty_gen;
	struct budget_copy *c;
	bool duty_only, part;
	struct ws_heat *h;
	s32 cpu;

	if (!b)
		return;
	duty_only = likely(b->gen == applied_gen) && !heat_moved();
	if (duty_only && likely(dgen == applied_duty_gen))
		return;
	if (__sync_val_compare_and_swap(&usable_busy, 0, 1))
		return;

	next = usable_cur ^ 1;
	spare = slot_mask(&usable_masks, next);
	c = copy_budget(b);
	h = heat_live() ? get_heat() : NULL;
	if (!spare || !c)
		goto unlock;
	if (h && heat_moved())	/* again: another CPU may have stepped meanwhile */
		heat_step(h);
	bpf_cpumask_clear(spare);
	bpf_for(cpu, 0, WS_MAX_LLCS)
		llc_live[next & 1][cpu] = 0;
	bpf_for(cpu, 0, nr_cpus) {
		if (cpu >= WS_MAX_CPUS)
			break;
		part = duty_on && c->partial_permille && cpu == c->partial_cpu;
		if (c->nr_active && !ws_cpu_test(c->active, cpu) && !part)
			continue;
		if (heat_keeps_out(c->avoid, h, cpu))
			continue;
		bpf_cpumask_set_cpu(cpu, spare);
		l = llc_slot(cpu_llc(cpu));
		if (!llc_live[next & 1][l])
			live++;
		llc_live[next & 1][l] = 1;
		weight++;
	}
	llcs_live[next & 1] = live;
	was = slot_mask(&usable_masks, usable_cur & 1);
	usable_cur = next;
	usable_weight = weight;
	applied_gen = c->gen;
	applied_duty_gen = dgen;
	usable_gen++;
	if (was)
		clear_left(cast_mask(was), cast_mask(spare));
	/* the partial CPU's switch moves that CPU only; duty_fn() kicked it */
	if (!duty_only)
		kick_all();
unlock:
	__sync_lock_test_and_set(&usable_busy, 0);
}

static __always_inline const struct cpumask *usable_mask(void)
{
	struct bpf_cpumask *m = slot_mask(&usable_masks, usable_cur & 1);

	return m ? cast_mask(m) : NULL;
}

/* Does the usable set hold every CPU (no cap or heat keeps any out)? */
static __always_inline bool all_cpus_usable(void)
{
	return usable_weight >= nr_cpus;
}

/* Is @cpu in @usable (usable_mask())?  An empty or missing mask means every CPU. */
static __always_inline bool cpu_in_usable(const struct cpumask *usable, s32 cpu)
{
	return !usable || !usable_weight || all_cpus_usable() ||
	       bpf_cpumask_test_cpu(cpu, usable);
}

static __always_inline bool cpu_usable(s32 cpu)
{
	return cpu_in_usable(usable_mask(), cpu);
}

/*
 * The CPUs @p may be placed on: its allowed CPUs that may take new work,
 * in *cand (its allowed CPUs themselves while every CPU may), with a
 * scratch mask in *tmp.  False when there are none (or no scratch masks):
 * the task then goes to a CPU of its own.
 */
static __always_inline bool task_candidates(struct task_struct *p, const struct cpumask **cand,
					    struct bpf_cpumask **tmp)
{
	const struct cpumask *usable = usable_mask();
	struct bpf_cpumask *both;

	*tmp = slot_mask(&scratch_masks, SCRATCH_TMP);
	if (!*tmp || !usable)
		return false;
	if (all_cpus_usable()) {
		*cand = p->cpus_ptr;
		return true;
	}
	both = slot_mask(&scratch_masks, SCRATCH_CAND);
	if (!both)
		return false;
	bpf_cpumask_and(both, p->cpus_ptr, usable);
	*cand = cast_mask(both);
	return !bpf_cpumask_empty(*cand);
}

/* ---- rules by cgroup: classes and device affinity ----------------------- */

static __always_inline u64 cgrp_token(u32 rules)
{
	u64 *tok = bpf_map_lookup_elem(&ws_cgrp_token, &rules);

	return tok ? *tok : 0;
}

/*
 * The value the nearest ancestor of @cgrp (itself included) with a rule
 * below @limit has in rule map @map; @limit when there is none.
 */
static __always_inline u64 cgroup_rule(void *map, struct cgroup *cgrp, u64 limit)
{
	u64 val = limit;
	int level;

	if (!cgrp)
		return val;
	/*
	 * @cgrp is trusted (acquired), so bpf_cgroup_ancestor() needs no RCU
	 * section here; and an explicit one would, on 7.2's verifier, leave
	 * the caller's RCU-read cpumask kptrs untrusted after it ends.
	 */
	bpf_for(level, 0, WS_CGRP_MAX_DEPTH) {
		struct cgroup *anc;
		u64 id, *v;

		if (level > cgrp->level)
			break;
		anc = bpf_cgroup_ancestor(cgrp, cgrp->level - level);
		if (!anc)
			break;
		id = anc->kn->id;
		bpf_cgroup_release(anc);
		v = bpf_map_lookup_elem(map, &id);
		/* the low 32 bits are the rule (WS_CGRP_FROM_RACK marks a document's) */
		if (v && (u32)*v < limit) {
			val = (u32)*v;
			break;
		}
	}
	return val;
}

/*
 * The id of @p's cgroup in the cgroup v2 hierarchy.  Not the cpu
 * controller's cgroup (scx_bpf_task_cgroup(), ops.cgroup_move): that is the
 * root wherever the cpu controller is not enabled, and rules by cgroup
 * must not depend on it.
 */
static __always_inline u64 task_cgroup_id(struct task_struct *p)
{
	struct css_set *cset = p->cgroups;

	if (!cset || !cset->dfl_cgrp)
		return 0;
	return cset->dfl_cgrp->kn->id;
}

/*
 * @p's value in rule map @map, which is @rules (enum ws_rule_map), @limit
 * for none, cached in @c: the ancestors are walked again only when the
 * task changed cgroup or the map's token changed since the last walk.
 */
static __always_inline u64 task_cgrp_rule(struct task_struct *p, void *map, u32 rules,
					  struct cgrp_rule_cache *c, u64 limit)
{
	u64 tok = cgrp_token(rules), cgid = task_cgroup_id(p);

	if (tok != c->token || cgid != c->cgrp_id) {
		struct cgroup *cgrp = cgid ? bpf_cgroup_from_id(cgid) : NULL;

		c->val = limit;
		if (cgrp) {
			c->val = cgroup_rule(map, cgrp, limit);
			bpf_cgroup_release(cgrp);
		}
		c->token = tok;
		c->cgrp_id = cgid;
	}
	return c->val;
}

/*
 * A task's class: its cgroup's, else batch for SCHED_BATCH and SCHED_IDLE,
 * else normal.  Decided on every path that queues the task (enqueue, and
 * select_cpu where it inserts directly) and kept in the task's storage for
 * running(), which does not look again: a task moved to another cgroup
 * takes its new class when it next queues, as its device's node does.
 */
static u32 task_class(struct task_struct *p, struct task_ctx *tctx)
{
	u64 cls;

	if (!tctx)
		return WS_CLASS_NORMAL;
	cls = task_cgrp_rule(p, &ws_cgrp_class, WS_RULES_CLASS, &tctx->cls, WS_NR_CLASSES);
	if (cls >= WS_NR_CLASSES)
		cls = (p->policy == SCHED_BATCH || p->policy == SCHED_IDLE) ? WS_CLASS_BATCH :
									     WS_CLASS_NORMAL;
	tctx->class = cls;
	return cls;
}

/*
 * The NUMA node of the device @p is bound to, -1 for none: its process's
 * binding, else that of its nearest bound cgroup.  Kept in the task's
 * storage for running(), which does not look again.
 */
static s32 device_node(struct task_struct *p, struct task_ctx *tctx)
{
	u32 tgid = p->tgid;
	s32 *node = bpf_map_lookup_elem(&ws_dev_tgid, &tgid);
	s32 dev = -1;
	u64 n;

	if (node && *node >= 0 && *node < (s32)nr_nodes) {
		dev = *node;
	} else if (tctx) {
		n = task_cgrp_rule(p, &ws_dev_cgrp, WS_RULES_DEV, &tctx->dev, nr_nodes);
		if (n < nr_nodes)
			dev = n;
	}
	if (tctx)
		tctx->dev_node = dev;
	return dev;
}

/* ---- batch work under a cap --------------------------------------------- */

extern s32 wattsched_tm_power_mw(void) __ksym __weak;

/*
 * The cap's fast guard (kfunc path): is the telemetry module's last power
 * sample, WS_TELEMETRY_POWER_POLL_MS old at most, above the guard the
 * loader set in the budget (the cap in force, in the module's terms)?
 * The loader's control law acts once a period on a power averaged over
 * seconds; this acts at the next dispatch.
 */
static __always_inline bool power_over(void)
{
	struct ws_budget *b;
	s32 mw;

	if (!bpf_ksym_exists(wattsched_tm_power_mw))
		return false;
	b = get_budget();
	if (!b || !b->guard_mw)
		return false;
	mw = wattsched_tm_power_mw();
	return mw != WS_TELEMETRY_POWER_UNKNOWN && (u32)mw > b->guard_mw;
}

/*
 * How many CPUs batch work may hold at once: the cap's duty cycle, or one
 * while the module's power reads over the cap.  Never none: the batch
 * queue is drained by one CPU at least (and take_overdue_batch()).
 */
static __always_inline u32 batch_limit(struct ws_ctl *ctl)
{
	u32 n = usable_weight ?: nr_cpus, duty = ctl->batch_duty_pct;

	if (!budget_capped())
		return n;
	if (power_over()) {
		stat_inc(WS_STAT_power_guarded);
		return 1;
	}
	if (!duty || duty >= 100)
		return n;
	n = n * duty / 100;
	return n ?: 1;
}

/* A CPU in @cand running batch work, searching from @from; -1 if none. */
static s32 batch_victim(const struct cpumask *cand, s32 from)
{
	u32 i;

	bpf_for(i, 0, nr_cpus) {
		/* no %: 6.12's verifier loses a 32-bit modulo's upper bits */
		u32 cpu = (u32)from + i;

		if (cpu >= nr_cpus)
			cpu -= nr_cpus;
		if (!cpu_valid(cpu))
			break;
		if (cpu_runs_batch(cpu) && bpf_cpumask_test_cpu(cpu, cand))
			return cpu;
	}
	return -1;
}

/* ---- finding an idle CPU ------------------------------------------------ */

/* What a search for an idle CPU takes. */
enum idle_want {
	IDLE_CPU,		/* any idle CPU */
	IDLE_CORE_FIRST,	/* a whole idle core, else any idle CPU */
	IDLE_CORE,		/* a whole idle core only */
};

/* Pick an idle CPU in @cand as @want says, claimed; -1 if none. */
static s32 pick_idle(const struct cpumask *cand, enum idle_want want)
{
	s32 cpu;

	if (want == IDLE_CPU)
		return scx_bpf_pick_idle_cpu(cand, 0);
	cpu = scx_bpf_pick_idle_cpu(cand, SCX_PICK_IDLE_CORE);
	if (want == IDLE_CORE)
		return cpu;
	if (cpu >= 0) {
		stat_inc(WS_STAT_idle_core);
		return cpu;
	}
	return scx_bpf_pick_idle_cpu(cand, 0);
}

/* As pick_idle(), in @cand & @dom (@tmp holds that). */
static s32 pick_idle_in(struct bpf_cpumask *tmp, const struct cpumask *cand,
			struct bpf_cpumask *dom, enum idle_want want)
{
	if (!dom)
		return -1;
	bpf_cpumask_and(tmp, cand, cast_mask(dom));
	return pick_idle(cast_mask(tmp), want);
}

/*
 * What a search for a task's idle CPU takes: whole idle cores before idle
 * SMT siblings, except under powersave, which packs onto siblings, and
 * where no core has two threads: there every idle CPU is a whole idle core.
 */
static __always_inline enum idle_want task_idle_want(const struct ws_ctl *ctl)
{
	return has_smt && ctl->policy != WS_POLICY_POWERSAVE ? IDLE_CORE_FIRST : IDLE_CPU;
}

/*
 * Is another SMT thread of @cpu's core running a CPU-bound task of ours
 * (one whose last run ended with it still runnable, task_slice())?  A task
 * that blocks by itself (a shell, the loader answering a switch) leaves
 * the core soon: moving away from it costs the cache for nothing.  By our
 * own record (running() to stopping()), not the idle mask, which marks a
 * CPU idle only once it has found nothing else to run: a sibling whose
 * task has just moved away still reads busy there, and its twin would
 * move away too.
 */
static __always_inline bool sibling_runs_hog(s32 cpu)
{
	s32 sib;

	if (!cpu_valid(cpu))
		return false;
	sib = smt_sibling[cpu];
	return cpu_valid(sib) && cpu_runs_hog(sib);
}

/* Where the search for an idle CPU starts, and how it goes. */
struct search {
	u32 llc;		/* the LLC searched first; NO_LLC to start at the node */
	u32 node;		/* the node searched next */
	s32 dev_node;		/* the node of the task's device; -1 for none */
	bool prev_first;	/* try the previous CPU before anything else */
	enum idle_want want;	/* whole idle cores before idle SMT siblings, or not */
};

/*
 * The search for @p waking on @prev_cpu: from its previous LLC and node; a
 * synchronous wakeup from another LLC starts at the waker's, so a pair
 * that talks comes together; a device-bound task starts on the device's
 * node.  A warm cache on an idle previous CPU beats a fresh idle core,
 * except under performance, which spreads over whole cores first, and for
 * a device-bound task off its device's node.  Powersave packs onto SMT
 * siblings rather than waking idle cores.  @prev_ok: @prev_cpu is a candidate.
 */
static void search_start(struct task_struct *p, struct task_ctx *tctx, s32 prev_cpu,
			 bool prev_ok, u64 wake_flags, const struct cpumask *cand,
			 const struct ws_ctl *ctl, struct search *s)
{
	s32 waker;

	s->llc = cpu_llc(prev_cpu);
	s->node = cpu_node(prev_cpu);
	s->want = task_idle_want(ctl);
	if (wake_flags & SCX_WAKE_SYNC) {
		waker = bpf_get_smp_processor_id();
		if (cpu_llc(waker) != s->llc && bpf_cpumask_test_cpu(waker, cand)) {
			s->llc = cpu_llc(waker);
			s->node = cpu_node(waker);
			prev_ok = false;
		}
	}
	s->dev_node = device_node(p, tctx);
	s->prev_first = prev_ok && ctl->policy != WS_POLICY_PERFORMANCE &&
			(s->dev_node < 0 || (u32)s->dev_node == s->node);
	if (s->dev_node >= 0 && (u32)s->dev_node != s->node) {
		s->node = s->dev_node;
		s->llc = NO_LLC;
	}
}

/* An idle CPU was found for a device-bound task: count where it landed. */
static __always_inline s32 found(s32 cpu, const struct search *s)
{
	if (s->dev_node >= 0 && cpu_node(cpu) == (u32)s->dev_node)
		stat_inc(WS_STAT_dev_local);
	return cpu;
}

/*
 * The device's node is full: an idle CPU on the node nearest to it that
 * has one, claimed; -1 when none has.  Only device-bound tasks search so.
 */
static s32 pick_near_device(const struct cpumask *cand, struct bpf_cpumask *tmp,
			    const struct search *s)
{
	u32 k, node = s->dev_node;
	s32 cpu;

	if (node >= WS_MAX_NODES)
		return -1;
	bpf_for(k, 0, nr_node_near[node]) {
		if (k >= WS_MAX_NODES)
			break;
		cpu = pick_idle_in(tmp, cand, slot_mask(&node_masks, node_near[node][k]), s->want);
		if (cpu >= 0) {
			stat_inc(WS_STAT_idle_node);
			return cpu;
		}
	}
	return -1;
}

/*
 * An idle CPU of @cand near @llc, claimed: in @llc (NO_LLC: skipped), then in
 * the rest of @node when the node has other LLCs; -1 when neither has one.
 * *@in_llc (when not NULL) tells which.  The search for a waking task, the
 * kick for a queued one and the performance spread all start so; what each
 * does next, and counts, is its own.
 */
static __always_inline s32 pick_idle_near(const struct cpumask *cand, struct bpf_cpumask *tmp,
					  u32 llc, u32 node, enum idle_want want, bool *in_llc)
{
	s32 cpu;

	if (in_llc)
		*in_llc = true;
	if (llc != NO_LLC) {
		/* one LLC is every CPU */
		cpu = nr_llcs == 1 ? pick_idle(cand, want) :
			pick_idle_in(tmp, cand, slot_mask(&llc_masks, llc), want);
		if (cpu >= 0)
			return cpu;
	}
	if (in_llc)
		*in_llc = false;
	/* A node of one LLC was searched with its LLC. */
	if (llc != NO_LLC && node_nr_llcs[node & (WS_MAX_NODES - 1)] <= 1)
		return -1;
	return pick_idle_in(tmp, cand, slot_mask(&node_masks, node), want);
}

/* As pick_idle_near(), then anywhere: the nearest idle CPU to @llc. */
static __always_inline s32 pick_idle_nearest(const struct cpumask *cand, struct bpf_cpumask *tmp,
					     u32 llc, u32 node, enum idle_want want)
{
	s32 cpu = pick_idle_near(cand, tmp, llc, node, want, NULL);

	/* One node is every CPU, searched already. */
	if (cpu < 0 && nr_nodes > 1)
		cpu = pick_idle(cand, want);
	return cpu;
}

/* An idle CPU in @cand by the search @s, claimed; -1 when there is none. */
static s32 pick_idle_cpu(s32 prev_cpu, const struct cpumask *cand, struct bpf_cpumask *tmp,
			 const struct search *s)
{
	bool in_llc;
	s32 cpu;

	if (s->prev_first && scx_bpf_test_and_clear_cpu_idle(prev_cpu)) {
		stat_inc(WS_STAT_idle_llc);
		return found(prev_cpu, s);
	}
	cpu = pick_idle_near(cand, tmp, s->llc, s->node, s->want, &in_llc);
	if (cpu >= 0) {
		stat_inc(in_llc ? WS_STAT_idle_llc : WS_STAT_idle_node);
		return found(cpu, s);
	}
	if (s->dev_node >= 0) {
		stat_inc(WS_STAT_dev_fallback);
		cpu = pick_near_device(cand, tmp, s);
		if (cpu >= 0)
			return cpu;
	}
	/* One node is every CPU, searched already. */
	if (nr_nodes == 1)
		return -1;
	cpu = pick_idle(cand, s->want);
	if (cpu < 0)
		return -1;
	stat_inc(WS_STAT_idle_any);
	return found(cpu, s);
}

/* Count a previous CPU, not among the candidates, that heat took away. */
static __always_inline void count_avoided_hot(s32 prev_cpu)
{
	if (cpu_valid(prev_cpu) && cpu_hot(prev_cpu))
		stat_inc(WS_STAT_avoided_hot);
}

/* Run @p on @cpu's local DSQ now (the caller found @cpu idle and claimed it). */
static __always_inline void insert_local(struct task_struct *p, u64 enq_flags)
{
	stat_inc(WS_STAT_enq_local);
	scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, enq_flags);
}

/*
 * The preempt count: the per-CPU __preempt_count since v6.15 (an unsigned
 * long since 7.x on x86-64, whose low word is the count), in struct
 * pcpu_hot from v6.1 to v6.14.
 */
extern const int __preempt_count __ksym __weak;
struct pcpu_hot___ws {
	int preempt_count;
} __attribute__((preserve_access_index));
extern struct pcpu_hot___ws pcpu_hot __ksym __weak;

/*
 * Is this wakeup an interrupt's (a timer, a device, a softirq) rather than
 * a task's?  select_cpu runs in the waker's context, so the CPU's preempt
 * count tells: a timer loop's wakeups are, a pipe's or a socket's are not.
 */
static bool woken_by_interrupt(void)
{
	int pc;

	if (!irq_ctx_mask)
		return false;
	if (bpf_ksym_exists(&__preempt_count))
		pc = *(const int *)bpf_this_cpu_ptr(&__preempt_count);
	else if (bpf_core_field_exists(pcpu_hot.preempt_count))
		pc = ((struct pcpu_hot___ws *)bpf_this_cpu_ptr(&pcpu_hot))->preempt_count;
	else
		return false;
	return pc & irq_ctx_mask;
}

s32 BPF_STRUCT_OPS(wattsched_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	const struct cpumask *cand;
	struct bpf_cpumask *tmp;
	struct ws_ctl *ctl = get_ctl();
	struct task_ctx *tctx;
	struct search s;
	bool prev_ok;
	s32 cpu;

	if (!ctl)
		return prev_cpu;
	refresh_usable();
	if (is_pcpu_task(p)) {
		if (scx_bpf_test_and_clear_cpu_idle(prev_cpu)) {
			task_class(p, task_ctx(p));
			insert_local(p, 0);
		}
		return prev_cpu;
	}
	if (!task_candidates(p, &cand, &tmp))
		return prev_cpu;	/* enqueue puts it on a CPU it can use */
	prev_ok = bpf_cpumask_test_cpu(prev_cpu, cand);
	if (!prev_ok)
		count_avoided_hot(prev_cpu);
	tctx = task_ctx(p);
	if (tctx)
		tctx->irq_woken = woken_by_interrupt();
	search_start(p, tctx, prev_cpu, prev_ok, wake_flags, cand, ctl, &s);
	cpu = pick_idle_cpu(prev_cpu, cand, tmp, &s);
	if (cpu < 0)
		return prev_ok ? prev_cpu : bpf_cpumask_any_distribute(cand);
	task_class(p, tctx);
	insert_local(p, 0);
	return cpu;
}

/* ---- enqueue, step by step ---------------------------------------------- */

/* Put @p straight on idle CPU @cpu's local DSQ and wake that CPU. */
static __always_inline void insert_on(struct task_struct *p, s32 cpu, u64 enq_flags,
				      u64 kick_flags)
{
	scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, slice_ns, enq_flags);
	scx_bpf_kick_cpu(cpu, kick_flags);
}

/*
 * common.bpf.h declares scx_bpf_locked_rq() strong, which libbpf then
 * requires, and 6.12 lacks it: a weak flavour of our own (libbpf drops
 * the ___ suffix when it looks the kfunc up), as compat.bpf.h does.
 */
extern struct rq *scx_bpf_locked_rq___ws(void) __ksym __weak;

/*
 * Wake the idle @cpu to take a task just queued.  Not when a wakeup queues
 * it on @cpu's own run queue, the one enqueue holds locked, while that CPU
 * is not in dispatch: the kernel reschedules the CPU itself after the
 * enqueue if it is idle (wakeup_preempt(): our class is above idle's), and
 * a busy one dispatches before it idles; a kick from under that run
 * queue's lock cannot look at the CPU, so it is bounced to an irq_work,
 * an interrupt that finds nothing left to do.  In dispatch, the CPU may
 * have dropped its lock to move a task from another CPU, the move may
 * fail, and it would idle with nothing to tell it of the task (the case
 * the kernel's can_skip_idle_kick() kicks for): kicked.  7.3 calls that
 * flag SCX_RQ_IN_DISPATCH, 7.2 (same bit) SCX_RQ_IN_BALANCE; the loader
 * sets each from the kernel's BTF, 0 where the kernel lacks the name, so
 * one test serves both.  7.2's library names only SCX_RQ_IN_BALANCE.
 * 6.12 has no scx_bpf_locked_rq(): it always kicks.
 */
#ifdef SCX_RQ_IN_DISPATCH
#define WS_RQ_IN_DISPATCH	(SCX_RQ_IN_DISPATCH | SCX_RQ_IN_BALANCE)
#else
#define WS_RQ_IN_DISPATCH	SCX_RQ_IN_BALANCE
#endif

static __always_inline void kick_idle(s32 cpu, u64 enq_flags)
{
	struct rq *rq;

	if ((enq_flags & SCX_ENQ_WAKEUP) && WS_RQ_IN_DISPATCH &&
	    bpf_ksym_exists(scx_bpf_locked_rq___ws)) {
		rq = scx_bpf_locked_rq___ws();
		if (rq && rq->cpu == cpu && !(rq->scx.flags & WS_RQ_IN_DISPATCH))
			return;
	}
	scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
}

/* A CPU among the task's CPUs to queue it on when no usable CPU allows it. */
static s32 fallback_cpu(struct task_struct *p)
{
	s32 cpu = scx_bpf_task_cpu(p);

	if (bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
		return cpu;
	return bpf_cpumask_any_distribute(p->cpus_ptr);
}

/*
 * A task that can run on one CPU, or on no usable CPU: that CPU's own queue,
 * which every CPU drains, usable or not, and the CPU is kicked.  The last
 * runnable task of a CPU that it may stay on goes to the local DSQ
 * instead: the CPU, having found nothing else, would go idle with it
 * queued, and nothing would kick it.
 */
static void enqueue_on_own_cpu(struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx = task_ctx(p);
	s32 cpu = scx_bpf_task_cpu(p);

	task_class(p, tctx);
	if ((enq_flags & SCX_ENQ_LAST) && bpf_cpumask_test_cpu(cpu, p->cpus_ptr)) {
		insert_local(p, enq_flags);
		return;
	}
	cpu = fallback_cpu(p);
	if (!cpu_valid(cpu) || cpu >= nr_cpus) {
		/* Cannot happen for a runnable task; never lose it anyway. */
		scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, slice_ns, enq_flags);
		return;
	}
	scx_bpf_dsq_insert_vtime(p, cpu_dsq(cpu), slice_ns,
				 place_vtime(p, llc_clock(cpu_llc(cpu)), last_cpu(tctx) != cpu),
				 enq_flags);
	stat_inc(WS_STAT_enq_pinned);
	kick_idle(cpu, enq_flags);
}

/*
 * Under a cap, batch work gives way: it waits in the batch queue, which
 * CPUs take from only when they have nothing else and fewer than the duty
 * cycle's CPUs run batch work (or when it waited too long).  The last task
 * of its CPU runs on while no other batch task waits.
 */
static void hold_batch(struct task_struct *p, const struct cpumask *cand,
		       struct ws_ctl *ctl, u64 enq_flags)
{
	s32 cpu = scx_bpf_task_cpu(p), idle;
	bool room = nr_batch_running < batch_limit(ctl);
	bool here = bpf_cpumask_test_cpu(cpu, cand) && duty_rest(cpu);

	if ((enq_flags & SCX_ENQ_LAST) && room && here &&
	    !__COMPAT_scx_bpf_dsq_peek(WS_DSQ_BATCH)) {
		insert_local(p, enq_flags);
		return;
	}
	scx_bpf_dsq_insert_vtime(p, WS_DSQ_BATCH, slice_ns,
				 place_vtime(p, vtime_now, false), enq_flags);
	WRITE_ONCE(batch_may_hold, true);
	stat_inc(WS_STAT_throttled);
	if (!room)
		return;
	/* Wake a CPU to take the head: an idle one, or this one, about to go idle. */
	idle = scx_bpf_pick_idle_cpu(cand, 0);
	if (idle >= 0)
		kick_idle(idle, enq_flags);
	else if ((enq_flags & SCX_ENQ_LAST) && here)
		scx_bpf_kick_cpu(cpu, 0);
}

/*
 * A device-bound task off its device's node (on @cpu) moves to an idle CPU
 * there.  A task that never sleeps never passes through select_cpu, so
 * without this it would keep whatever CPU it had when bound.  True when
 * moved.
 */
static bool move_to_device_node(struct task_struct *p, s32 cpu, s32 dev_node,
				const struct cpumask *cand, struct bpf_cpumask *tmp,
				struct ws_ctl *ctl, u64 enq_flags)
{
	s32 idle;

	if (dev_node < 0 ||
	    (cpu_node(cpu) == (u32)dev_node && bpf_cpumask_test_cpu(cpu, cand)))
		return false;
	idle = pick_idle_in(tmp, cand, slot_mask(&node_masks, dev_node), task_idle_want(ctl));
	if (idle < 0) {
		stat_inc(WS_STAT_dev_fallback);
		return false;
	}
	insert_on(p, idle, enq_flags, SCX_KICK_IDLE);
	stat_inc(WS_STAT_dev_local);
	stat_inc(WS_STAT_enq_local);
	return true;
}

/*
 * The last runnable task of a usable CPU @cpu whose slice ran out runs on there.
 * Under performance, beside an SMT sibling running a CPU-bound task, it
 * moves to a fully idle core instead, so that tasks placed before a switch
 * to performance spread too; only to a whole idle core, so that no task is
 * ever moved back; the nearest one, in @cpu's LLC first, so that it keeps
 * its cache.
 */
static __always_inline void run_on_or_spread(struct task_struct *p, s32 cpu,
					     const struct cpumask *cand, struct bpf_cpumask *tmp,
					     struct ws_ctl *ctl, u64 enq_flags)
{
	s32 idle;

	if (ctl->policy == WS_POLICY_PERFORMANCE && sibling_runs_hog(cpu)) {
		idle = pick_idle_nearest(cand, tmp, cpu_llc(cpu), cpu_node(cpu), IDLE_CORE);
		if (idle >= 0) {
			insert_on(p, idle, enq_flags, SCX_KICK_IDLE);
			stat_inc(WS_STAT_spread_core);
			return;
		}
	}
	insert_local(p, enq_flags);
}

/*
 * A latency-critical wakeup that found no idle CPU (select_cpu looked)
 * takes a CPU from batch work, the nearest after its own @cpu, straight
 * onto that CPU ahead of it.  True when it did.
 */
static bool preempt_batch(struct task_struct *p, s32 cpu, const struct cpumask *cand,
			  u64 enq_flags)
{
	s32 victim = batch_victim(cand, cpu);

	if (victim < 0)
		return false;
	insert_on(p, victim, enq_flags | SCX_ENQ_PREEMPT, SCX_KICK_PREEMPT);
	stat_inc(WS_STAT_preempt_batch);
	return true;
}

/*
 * A candidate on @dev_node for a device-bound task whose CPU @cpu is on
 * another node, so that it queues where its device is; @cpu when the task
 * is not bound, is there already, or no candidate is on the node.
 */
static s32 device_node_cpu(s32 cpu, s32 dev_node, const struct cpumask *cand,
			   struct bpf_cpumask *tmp)
{
	struct bpf_cpumask *dom;
	s32 there;

	if (dev_node < 0 || cpu_node(cpu) == (u32)dev_node)
		return cpu;
	dom = slot_mask(&node_masks, dev_node);
	if (!dom)
		return cpu;
	bpf_cpumask_and(tmp, cand, cast_mask(dom));
	there = bpf_cpumask_any_distribute(cast_mask(tmp));
	return cpu_valid(there) && there < nr_cpus ? there : cpu;
}

/*
 * Wakeup preemption, EEVDF's in sched_ext terms: a woken task (@class)
 * that found no idle CPU and is placed (@vtime) before the task running on
 * @cpu started ends that task's slice, once it has run WS_PREEMPT_MIN_NS,
 * instead of waiting up to a slice for it.  A sleeper is placed up to a
 * slice before its queue's clock, so it usually is.  Not onto
 * latency-critical work.  A task that blocks by itself (not CPU-bound,
 * task_slice()) is preempted only by latency-critical work and by a task
 * an interrupt woke (@irq_woken: a timer loop, a device's waiter), which
 * need not wait WS_PREEMPT_MIN_NS either: cutting such a task short for
 * another task's wakeup (hackbench's pipes and sockets) only makes both
 * block and wake more often.  The caller leaves batch wakers out.
 */
#define WS_PREEMPT_MIN_NS	(1000ULL * 1000)
#define WS_PREEMPT_IRQ_MIN_NS	(250ULL * 1000)

static void preempt_on_wakeup(s32 cpu, u64 vtime, u32 class, bool irq_woken)
{
	u32 i = cpu_slot(cpu);
	u32 running = cpu_running_class[i];
	u64 min_ns = irq_woken ? WS_PREEMPT_IRQ_MIN_NS : WS_PREEMPT_MIN_NS;
	u64 now;

	if (!running || running == WS_CLASS_LATENCY + 1 || !vtime_before(vtime, cpu_vnow[i]) ||
	    (!cpu_running_bound[i] && class != WS_CLASS_LATENCY && !irq_woken))
		return;
	/* the clock is read only for a wakeup that passed the tests above */
	now = scx_bpf_now();
	if (now - cpu_run_at[i] < min_ns)
		return;
	/*
	 * Kicked again before it switched: the task running still reads as
	 * preemptible until then.  The kick stays (the run that follows the
	 * switch may be another task's than this wakee's), but it is counted
	 * apart, so that preempt_wakeup counts preemptions.
	 */
	if (cpu_kicked_at[i] > cpu_run_at[i]) {
		stat_inc(WS_STAT_preempt_rekick);
	} else {
		cpu_kicked_at[i] = now;
		stat_inc(WS_STAT_preempt_wakeup);
	}
	scx_bpf_kick_cpu(cpu, SCX_KICK_PREEMPT);
}

/*
 * Did select_cpu() search this wakeup's candidates for an idle CPU?  Then
 * it found none (it would have put @p there, and enqueue would not run),
 * and enqueue does not search again, as scx_lavd and scx_bpfland do not:
 * under hackbench on 4 vCPUs that second search found an idle CPU in
 * fewer than 1 in 200 enqueues (docs/benchmarks.md).  select_cpu() returns
 * without a search only for tasks that enqueue sends elsewhere (one
 * allowed CPU, no usable candidate, no control block).  A kernel without
 * SCX_ENQ_CPU_SELECTED (6.12) calls select_cpu() for every wakeup of a
 * task with more than one allowed CPU.
 */
static __always_inline bool idle_searched(u64 enq_flags)
{
	return (enq_flags & SCX_ENQ_WAKEUP) && __COMPAT_is_enq_cpu_selected(enq_flags);
}

/*
 * An idle candidate, claimed, to take a task just queued on @llc's queue
 * (of @node): in @llc first, where the CPU dispatches it from its own LLC's
 * queue, then in the node's other LLCs, then anywhere; outside @llc the CPU
 * reaches it only by steal(), a move to a cold cache.  -1 when none is idle.
 * A task bound to a device is queued on the device's node when a candidate
 * is there (device_node_cpu()), so this searches that node first.
 */
static s32 idle_to_kick(const struct cpumask *cand, struct bpf_cpumask *tmp, u32 llc,
			u32 node)
{
	s32 idle = pick_idle_nearest(cand, tmp, llc, node, IDLE_CPU);

	if (idle >= 0 && nr_llcs > 1 && cpu_llc(idle) != llc)
		stat_inc(WS_STAT_kick_far);
	return idle;
}

/*
 * Queue @p on the LLC queue of its CPU @cpu (or of a candidate, when @cpu
 * may not take new work; of one on its device's node, when it is bound to
 * a device), then wake an idle candidate to take it, nearest that queue
 * first (idle_to_kick()): the kick is what keeps the scheduler
 * work-conserving.  A wakeup that select_cpu() searched for has none to
 * wake (idle_searched()).
 */
static void queue_on_llc(struct task_struct *p, s32 cpu, struct task_ctx *tctx,
			 const struct cpumask *cand, struct bpf_cpumask *tmp, s32 dev_node,
			 u32 class, u64 enq_flags)
{
	s32 last = last_cpu(tctx), idle = -1;
	u64 vtime;
	u32 llc;

	if (!bpf_cpumask_test_cpu(cpu, cand)) {
		count_avoided_hot(cpu);
		cpu = bpf_cpumask_any_distribute(cand);
	}
	cpu = device_node_cpu(cpu, dev_node, cand, tmp);
	llc = cpu_llc(cpu);
	vtime = place_vtime(p, wakeup_clock(llc, tctx, enq_flags),
			    last < 0 || cpu_llc(last) != llc);
	scx_bpf_dsq_insert_vtime(p, llc_dsq(llc), slice_ns, vtime, enq_flags);
	llc_mark(llc);
	stat_inc(WS_STAT_enq_llc);

	if (!idle_searched(enq_flags))
		idle = idle_to_kick(cand, tmp, llc, cpu_node(cpu));
	if (idle >= 0) {
		kick_idle(idle, enq_flags);
		stat_inc(WS_STAT_kick_idle);
	} else if ((enq_flags & SCX_ENQ_WAKEUP) && class != WS_CLASS_BATCH) {
		preempt_on_wakeup(cpu, vtime, class, tctx && tctx->irq_woken);
	}
}

void BPF_STRUCT_OPS(wattsched_enqueue, struct task_struct *p, u64 enq_flags)
{
	const struct cpumask *cand;
	struct bpf_cpumask *tmp;
	struct ws_ctl *ctl = get_ctl();
	struct task_ctx *tctx;
	s32 cpu, dev_node;
	u32 class;

	refresh_usable();
	if (is_pcpu_task(p)) {
		enqueue_on_own_cpu(p, enq_flags);
		return;
	}
	if (!ctl || !task_candidates(p, &cand, &tmp)) {
		stat_inc(WS_STAT_enq_parked);
		enqueue_on_own_cpu(p, enq_flags);
		return;
	}
	tctx = task_ctx(p);
	class = task_class(p, tctx);
	if (class == WS_CLASS_BATCH && tctx && budget_capped()) {
		hold_batch(p, cand, ctl, enq_flags);
		return;
	}
	dev_node = device_node(p, tctx);
	cpu = scx_bpf_task_cpu(p);
	if (move_to_device_node(p, cpu, dev_node, cand, tmp, ctl, enq_flags))
		return;
	/*
	 * SCX_OPS_ENQ_LAST: the last runnable task of a CPU whose slice ran
	 * out; not on the partial CPU with its share spent (it queues)
	 */
	if ((enq_flags & SCX_ENQ_LAST) && bpf_cpumask_test_cpu(cpu, cand) && duty_rest(cpu)) {
		run_on_or_spread(p, cpu, cand, tmp, ctl, enq_flags);
		return;
	}
	if (class == WS_CLASS_LATENCY && (enq_flags & SCX_ENQ_WAKEUP) &&
	    preempt_batch(p, cpu, cand, enq_flags))
		return;
	queue_on_llc(p, cpu, tctx, cand, tmp, dev_node, class, enq_flags);
}

/* ---- dispatch ----------------------------------------------------------- */

/*
 * Does the LLC queue's head go before this CPU's own?  In vtime order,
 * unless one of them has waited WS_MAX_WAIT_NS: then the longer waiter.
 * The two queues' clocks are not one clock (a task bound to a CPU is
 * placed against that CPU's, which a light task or one from another LLC
 * can have run far ahead), so vtime alone could keep either head waiting
 * for minutes.
 */
static bool shared_first(struct task_struct *mine, struct task_struct *shared)
{
	u64 now = wait_now(), mine_w = waited(mine, now), shared_w = waited(shared, now);

	if (mine_w < WS_MAX_WAIT_NS && shared_w < WS_MAX_WAIT_NS)
		return vtime_before(shared->scx.dsq_vtime, mine->scx.dsq_vtime);
	stat_inc(WS_STAT_overdue);
	return shared_w > mine_w;
}

/*
 * Move the head that goes first of the per-CPU and LLC queues to this CPU;
 * a CPU that may not take new work (!@usable) takes only from its own.
 * @mine is the per-CPU queue's head as dispatch peeked it: an empty queue
 * is not asked.  @shared is the LLC queue's head, peeked only when @mine
 * is there to compare with it (or keep_prev() needed it): with @mine empty
 * the LLC queue is asked straight away, a move that finds nothing costing
 * what a peek does.
 */
static bool dispatch_own(s32 cpu, u32 llc, bool usable, struct task_struct *mine,
			 struct task_struct *shared)
{
	if (!usable)
		return mine && scx_bpf_dsq_move_to_local(cpu_dsq(cpu), 0);
	if (!mine)
		return scx_bpf_dsq_move_to_local(llc_dsq(llc), 0);
	if (shared && shared_first(mine, shared) &&
	    scx_bpf_dsq_move_to_local(llc_dsq(llc), 0))
		return true;
	if (scx_bpf_dsq_move_to_local(cpu_dsq(cpu), 0))
		return true;
	return scx_bpf_dsq_move_to_local(llc_dsq(llc), 0);
}

/* Would @prev (vtime @vtime, started at @start) lose its CPU to @head? */
static __always_inline bool head_wins(struct task_struct *head, u64 vtime, u64 start,
				      bool *waiting)
{
	if (!head)
		return false;
	*waiting = true;
	return !vtime_before(vtime, waiter_vtime(head, start));
}

/*
 * What @p has run since running() started it, as the kernel accounts it:
 * the kernel brings se.sum_exec_runtime up to date before it calls
 * dispatch (for the task it is switching from) and stopping, so no clock
 * is read for it.
 */
static __always_inline u64 ran_since_start(struct task_struct *p, struct task_ctx *tctx)
{
	return p->se.sum_exec_runtime - tctx->exec_at;
}

/*
 * The kernel asks for work before it queues @prev again, so the queues hold
 * every runnable task but the one whose slice just ran out.  Keep @prev
 * while it is still first in vtime order among what this CPU would take
 * from its own queues; otherwise two tasks sharing a CPU would simply
 * alternate slices, whatever their weights.  Only when a queue is non-empty
 * (empty queues go on to stealing, then SCX_ENQ_LAST); @mine and @shared
 * are the queues' heads, as dispatch peeked them (@shared NULL for a CPU
 * that may not take new work).  Dispatch calls it only for a @prev still
 * queued (SCX_TASK_QUEUED: its slice ran out, it did not block).
 */
static bool keep_prev(struct task_struct *prev, s32 cpu, bool usable,
		      struct task_struct *mine, struct task_struct *shared)
{
	struct task_ctx *tctx;
	bool waiting = false;
	u64 vtime, start;

	if (!usable && !is_pcpu_task(prev))
		return false;	/* it has to move off a capped or hot CPU */
	if (cpu_runs_batch(cpu) && budget_capped())
		return false;	/* batch work gives way under a cap */
	tctx = task_ctx(prev);
	if (!tctx || !tctx->started_at)
		return false;
	/* what stopping() will charge it */
	vtime = prev->scx.dsq_vtime +
		scale_by_task_weight_inverse(prev, ran_since_start(prev, tctx));
	/* running() set this CPU's clock to prev's vtime when it started */
	start = cpu_clock(cpu);
	if (head_wins(mine, vtime, start, &waiting) || head_wins(shared, vtime, start, &waiting))
		return false;
	return waiting;
}

/*
 * Tasks queued on an LLC none of whose CPUs may take work any more (a cap
 * or heat took them all after the tasks were queued): no CPU of that LLC
 * takes from its queue, and usable CPUs steal only when their own queues
 * are empty, which under load is never.  Usable CPUs take them first.
 */
static bool take_orphans(void)
{
	u32 i, cur = usable_cur & 1;

	/* every LLC has a usable CPU (the common case): no orphans, no walk */
	if (!usable_weight || llcs_live[cur] >= nr_llcs)
		return false;
	bpf_for(i, 0, nr_llcs) {
		if (i >= WS_MAX_LLCS)
			break;
		if (!llc_live[cur][i] && scx_bpf_dsq_move_to_local(llc_dsq(i), 0)) {
			stat_inc(WS_STAT_steal_remote);
			return true;
		}
	}
	return false;
}

/*
 * Does a task in LLC queue @llc wait WS_STARVE_NS or longer?  A queue
 * with a task in it gets its "may hold work" hint back, should a clear
 * have raced with an insert that it did not see.
 */
static bool llc_has_starved(u32 llc, u64 now)
{
	struct task_struct *p;

	bpf_for_each(scx_dsq, p, llc_dsq(llc), 0) {
		llc_mark(llc);
		if (waited(p, now) >= WS_STARVE_NS)
			return true;
	}
	return false;
}

/*
 * The backstop of "never stall": any CPU of the LLC, usable or not, takes
 * a task of the LLC queue that has waited WS_STARVE_NS, before anything
 * else, once the watchdog timer has seen one (llc_starving).  Not a CPU
 * kept out by heat (cpu_hot()): heat is the hardware's to limit, and the
 * least hot CPUs take work when all are hot.  Any such
 * task, not the head: a woken task is placed one slice before the head,
 * so when the queue is served slowly a stream of wakers keeps the head
 * fresh while older tasks wait behind it (rcu_preempt waited 21 s that
 * way).  Not before the head of the CPU's own queue if that waited longer:
 * those tasks can run nowhere else (with 512 hogs on two usable CPUs,
 * taking starved tasks first starved a per-CPU kworker for 44 s).  The
 * soak once saw 49 tasks wait 36 s in one queue, CPUs idle, while the one
 * CPU a cap kept was going offline.
 */
static bool take_starved(s32 cpu, u32 llc)
{
	struct task_struct *p, *mine;
	u64 now, mine_w, floor = WS_STARVE_NS;

	if (llc >= WS_MAX_LLCS || !llc_starving[llc] || cpu_hot(cpu))
		return false;
	now = wait_now();
	/* this CPU's own queue can run nowhere else: its head, if it waited longer, first */
	mine = __COMPAT_scx_bpf_dsq_peek(cpu_dsq(cpu));
	mine_w = mine ? waited(mine, now) : 0;
	if (mine_w >= floor)
		floor = mine_w + 1;
	bpf_for_each(scx_dsq, p, llc_dsq(llc), 0) {
		if (waited(p, now) < floor || !bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
			continue;
		if (scx_bpf_dsq_move(BPF_FOR_EACH_ITER, p, SCX_DSQ_LOCAL, 0)) {
			stat_inc(WS_STAT_starved);
			return true;
		}
	}
	return false;
}

/* The batch queue's @head, once it has waited WS_BATCH_MAX_WAIT_NS. */
static bool take_overdue_batch(struct task_struct *head)
{
	if (!head || waited(head, wait_now()) < WS_BATCH_MAX_WAIT_NS ||
	    !scx_bpf_dsq_move_to_local(WS_DSQ_BATCH, 0))
		return false;
	stat_inc(WS_STAT_batch_rescued);
	return true;
}

/*
 * Batch work held back under a cap, while fewer CPUs than the duty cycle
 * allows run batch work.  A batch @prev whose slice ran out still counts as
 * running, but the head would take its place: batch tasks take turns on
 * the CPUs the duty cycle gives them.  Without a cap the queue drains.
 * @waiting: dispatch saw a head in the batch queue.
 */
static __noinline bool take_batch(bool prev_batch, bool waiting)
{
	struct ws_ctl *ctl = get_ctl();
	const struct cpumask *usable;
	u32 running = nr_batch_running;
	s32 idle;

	if (!waiting || !ctl)
		return false;
	if (prev_batch && running)
		running--;
	if (running >= batch_limit(ctl) || !scx_bpf_dsq_move_to_local(WS_DSQ_BATCH, 0))
		return false;
	/* more waiting and room for it: wake another CPU to take it */
	if (__COMPAT_scx_bpf_dsq_peek(WS_DSQ_BATCH) && running + 1 < batch_limit(ctl)) {
		usable = usable_mask();
		idle = usable ? scx_bpf_pick_idle_cpu(usable, 0) : -1;
		if (idle >= 0)
			scx_bpf_kick_cpu(idle, SCX_KICK_IDLE);
	}
	return true;
}

/*
 * Where a task queued under the old usable set goes now, or -1 when it may
 * stay in @dsq: from an LLC queue, when no usable CPU of that LLC may run
 * it; from the batch queue, when no usable CPU at all may.  It goes to the
 * LLC queue of a usable CPU it may run on, else, with none, to the queue
 * of a CPU of its own, which that CPU drains whether usable or not.
 */
static s32 requeue_target(struct task_struct *p, u64 dsq, const struct cpumask *usable,
			  struct bpf_cpumask *tmp, u64 *target)
{
	struct bpf_cpumask *llc;
	s32 cpu;

	bpf_cpumask_and(tmp, p->cpus_ptr, usable);
	if (dsq != WS_DSQ_BATCH) {
		llc = slot_mask(&llc_masks, dsq - WS_DSQ_LLC_BASE);
		if (llc && bpf_cpumask_intersects(cast_mask(tmp), cast_mask(llc)))
			return -1;
	} else if (!bpf_cpumask_empty(cast_mask(tmp))) {
		return -1;
	}
	if (bpf_cpumask_empty(cast_mask(tmp))) {
		cpu = fallback_cpu(p);
		*target = cpu_dsq(cpu);
	} else {
		cpu = bpf_cpumask_any_distribute(cast_mask(tmp));
		*target = llc_dsq(cpu_llc(cpu));
	}
	return cpu_valid(cpu) && cpu < nr_cpus ? cpu : -1;
}

/* Re-place what waits in @dsq that its CPUs may no longer run; how many moved. */
static u32 requeue_queue(u64 dsq, const struct cpumask *usable, struct bpf_cpumask *tmp)
{
	struct task_struct *p;
	u64 target;
	u32 moved = 0;
	s32 cpu;

	bpf_for_each(scx_dsq, p, dsq, 0) {
		cpu = requeue_target(p, dsq, usable, tmp, &target);
		if (cpu < 0)
			continue;
		scx_bpf_dsq_move_set_vtime(BPF_FOR_EACH_ITER,
					   place_vtime(p, llc_clock(cpu_llc(cpu)), true));
		if (scx_bpf_dsq_move_vtime(BPF_FOR_EACH_ITER, p, target, 0)) {
			if (target != cpu_dsq(cpu))
				llc_mark(cpu_llc(cpu));
			scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
			stat_inc(WS_STAT_requeued);
			moved++;
		}
	}
	return moved;
}

/*
 * No task waits behind a change of the usable set: once per generation,
 * the first CPU to dispatch after it re-places every queued task that the
 * CPUs of its queue may no longer run (a cap or heat took them).  With
 * every CPU kicked on the change (refresh_usable()), that happens within
 * one dispatch of the new budget reaching BPF.
 */
static void requeue_after_change(void)
{
	u32 gen = usable_gen, done = requeued_gen, i;
	const struct cpumask *usable;
	struct bpf_cpumask *tmp;

	/* one CPU claims the generation; the others go on */
	if (likely(done == gen) || __sync_val_compare_and_swap(&requeued_gen, done, gen) != done)
		return;
	usable = usable_mask();
	tmp = slot_mask(&scratch_masks, SCRATCH_TMP);
	if (!usable || !tmp || !usable_weight)
		return;
	bpf_for(i, 0, nr_llcs) {
		if (i >= WS_MAX_LLCS)
			break;
		requeue_queue(llc_dsq(i), usable, tmp);
	}
	requeue_queue(WS_DSQ_BATCH, usable, tmp);
}

/*
 * Will node @node run a task bound to it soon?  Yes while one of its usable
 * CPUs is idle or runs something not bound there, which gives way to the
 * task in vtime order; no when all run tasks bound to the node.
 */
static bool node_serves_bound(u32 node)
{
	s32 c;

	bpf_for(c, 0, nr_cpus) {
		if (cpu_node(c) == node && cpu_usable(c) &&
		    !cpu_running_home[cpu_slot(c)])
			return true;
	}
	return false;
}

/*
 * Take from LLC queue @i of another node what may leave it: not a task
 * bound to a device on that node while the node serves such tasks
 * (node_serves_bound()), unless it has waited WS_MAX_WAIT_NS.  Under full
 * load a CPU of another node finds its own queues empty at every slice end
 * of its own hog, and taking the head carried a device's tasks off its
 * node (they ran there in 35-68% of the samples, issue 13).  A walk, not
 * one move, but only by a CPU that has nothing of its own node to run.
 */
static bool steal_remote(s32 cpu, u32 i)
{
	struct task_struct *p;
	u64 now = wait_now();
	int serves = -1;

	if (i >= WS_MAX_LLCS)
		return false;
	bpf_for_each(scx_dsq, p, llc_dsq(i), 0) {
		if (device_node(p, task_ctx(p)) == (s32)llc_node[i] &&
		    waited(p, now) < WS_MAX_WAIT_NS) {
			if (serves < 0)
				serves = node_serves_bound(llc_node[i]);
			if (serves)
				continue;
		}
		if (!bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
			continue;
		if (scx_bpf_dsq_move(BPF_FOR_EACH_ITER, p, SCX_DSQ_LOCAL, 0))
			return true;
	}
	return false;
}

/*
 * Steal from the other LLCs of @llc's node, then from other nodes' LLCs,
 * nearest first; a queue whose hint says it is empty is not asked.
 */
static bool steal(s32 cpu, u32 llc, u32 node)
{
	u32 k, i;

	if (llc >= WS_MAX_LLCS)
		return false;
	bpf_for(k, 0, nr_llcs - 1) {
		if (k >= WS_MAX_LLCS)
			break;
		i = llc_steal[llc][k];
		if (!llc_may_hold(i))
			continue;
		if (llc_node[i] == node) {
			if (scx_bpf_dsq_move_to_local(llc_dsq(i), 0)) {
				stat_inc(WS_STAT_steal_node);
				return true;
			}
		} else if (steal_remote(cpu, i)) {
			stat_inc(WS_STAT_steal_remote);
			return true;
		}
		llc_found_empty(i);
	}
	return false;
}

void BPF_STRUCT_OPS(wattsched_dispatch, s32 cpu, struct task_struct *prev)
{
	u32 llc = cpu_llc(cpu), node = cpu_node(cpu);
	struct task_struct *batch = NULL, *mine, *shared = NULL;
	bool usable, prev_queued, prev_batch;

	refresh_usable();
	requeue_after_change();
	if (take_starved(cpu, llc))
		return;
	/* the partial CPU with its share spent takes no more, as if out already */
	usable = cpu_usable(cpu) && duty_rest(cpu);
	/* a batch task whose slice ran out, still counted as running */
	prev_queued = prev && (prev->scx.flags & SCX_TASK_QUEUED);
	prev_batch = prev_queued && cpu_runs_batch(cpu);

	/* each queue's head is looked at once; a CPU kept out takes only its own */
	if (usable) {
		if (READ_ONCE(batch_may_hold))
			batch = __COMPAT_scx_bpf_dsq_peek(WS_DSQ_BATCH);
		if (take_orphans() || take_overdue_batch(batch))
			return;
	}
	mine = __COMPAT_scx_bpf_dsq_peek(cpu_dsq(cpu));
	/* the LLC queue's head, when something is compared with it */
	if (usable && (mine || prev_queued))
		shared = __COMPAT_scx_bpf_dsq_peek(llc_dsq(llc));
	if (prev_queued && keep_prev(prev, cpu, usable, mine, shared)) {
		prev->scx.slice = duty_slice(cpu, slice_ns);
		cpu_kicked_at[cpu_slot(cpu)] = 0;
		return;
	}
	if (dispatch_own(cpu, llc, usable, mine, shared)) {
		stat_inc(WS_STAT_disp_local);
		return;
	}
	/* A CPU kept out by the cap or by heat runs only what must run here. */
	if (usable && !steal(cpu, llc, node))
		take_batch(prev_batch, batch != NULL);
}

/*
 * At every tick of a CPU running one of ours: a change of the usable set
 * (a cap, or a reading from the module) is seen within a tick, and a task
 * on a CPU that has just left the set gives it up now, not at the end of
 * its slice, when it may run on a usable CPU.  Its enqueue places it there.
 */
void BPF_STRUCT_OPS(wattsched_tick, struct task_struct *p)
{
	const struct cpumask *usable;
	s32 cpu = scx_bpf_task_cpu(p);

	refresh_usable();
	usable = usable_mask();
	if (cpu_in_usable(usable, cpu) || is_pcpu_task(p))
		return;
	if (bpf_cpumask_intersects(p->cpus_ptr, usable)) {
		p->scx.slice = 0;
		stat_inc(WS_STAT_tick_moves);
	}
}

/* ---- running and stopping ----------------------------------------------- */

/*
 * The slice of @p, starting to run: a task whose last run ended with it
 * still runnable (its slice ran out, or it was preempted) is CPU-bound
 * and gets the slice; one that blocked by itself, not batch, gets
 * WS_BLOCKER_SLICES of them, since it will most likely block again before
 * they end.  Cut into pieces at every expiry and wakeup, such a task
 * (a hackbench sender, a pipe reader) only blocks and wakes more often:
 * twice as many context switches for the same work ("Where hackbench's
 * extra context switches come from", docs/benchmarks.md).  One that
 * turns CPU-bound runs long once, then takes the slice.
 */
#define WS_BLOCKER_SLICES	4

static __always_inline u64 task_slice(const struct task_ctx *tctx)
{
	return tctx->cpu_bound || tctx->class == WS_CLASS_BATCH ? slice_ns :
	       WS_BLOCKER_SLICES * slice_ns;
}

/* The cpufreq target of @class under the policy in force, when it changed. */
static void set_perf(s32 cpu, u32 class)
{
	struct ws_ctl *ctl = get_ctl();
	u32 perf;

	if (!ctl || !cpu_valid(cpu))
		return;
	perf = ctl->perf[class < WS_NR_CLASSES ? class : WS_CLASS_NORMAL];
	if (perf && perf <= WS_PERF_MAX && cpu_perf_set[cpu] != perf &&
	    bpf_ksym_exists(scx_bpf_cpuperf_set)) {
		scx_bpf_cpuperf_set(cpu, perf);
		cpu_perf_set[cpu] = perf;
	}
}

void BPF_STRUCT_OPS(wattsched_running, struct task_struct *p)
{
	s32 cpu = scx_bpf_task_cpu(p);
	struct task_ctx *tctx;

	if (vtime_before(vtime_now, p->scx.dsq_vtime))
		vtime_now = p->scx.dsq_vtime;
	if (cpu_valid(cpu)) {
		u32 llc = llc_slot(cpu_llc(cpu));

		cpu_vnow[cpu] = p->scx.dsq_vtime;
		if (vtime_before(llc_vnow[llc], p->scx.dsq_vtime))
			llc_vnow[llc] = p->scx.dsq_vtime;
	}
	tctx = task_ctx(p);
	if (!tctx || !cpu_valid(cpu))
		return;
	p->scx.slice = task_slice(tctx);
	cpu_running_bound[cpu] = tctx->cpu_bound;
	if (unlikely(cpu == (s32)duty_cpu))
		p->scx.slice = duty_slice(cpu, p->scx.slice);
	tctx->started_at = scx_bpf_now();
	tctx->exec_at = p->se.sum_exec_runtime;
	cpu_run_at[cpu] = tctx->started_at;
	tctx->last_cpu = cpu;
	tctx->irq_woken = false;	/* a wakeup select_cpu() does not see is not one */
	cpu_set_running(cpu, tctx->class, tctx->dev_node == (s32)cpu_node(cpu));
	set_perf(cpu, tctx->class);
}

#define PF_KTHREAD	0x00200000	/* include/linux/sched.h */

/*
 * Time an affinity-bound task ran on @cpu (ws_bound); stranded too when
 * @cpu is outside the usable set and no usable CPU is in the task's mask.
 * A task that could run on a usable CPU and is only finishing its slice
 * here is not stranded: it moves at its next enqueue.  Kernel threads are
 * not counted: a per-CPU one serves its CPU (timers, RCU, per-CPU work)
 * and asks for no CPU to be kept awake.
 */
static void count_bound(struct task_struct *p, s32 cpu, u64 used)
{
	const struct cpumask *usable = usable_mask();
	struct ws_bound_ns *b;
	u32 zero = 0;

	b = bpf_map_lookup_elem(&ws_bound, &zero);
	if (!b)
		return;
	b->bound += used;
	if (!cpu_in_usable(usable, cpu) && !bpf_cpumask_intersects(p->cpus_ptr, usable))
		b->stranded += used;
}

void BPF_STRUCT_OPS(wattsched_stopping, struct task_struct *p, bool runnable)
{
	struct task_ctx *tctx = task_ctx(p);
	s32 cpu = scx_bpf_task_cpu(p);
	u64 used;

	if (cpu_valid(cpu))
		cpu_clear_running(cpu);
	if (!tctx || !tctx->started_at)
		return;
	tctx->cpu_bound = runnable;
	used = ran_since_start(p, tctx);
	p->scx.dsq_vtime += scale_by_task_weight_inverse(p, used);
	if (unlikely(cpu == (s32)duty_cpu))
		duty_ran += scx_bpf_now() - tctx->started_at;
	if (p->nr_cpus_allowed < nr_cpus && !(p->flags & PF_KTHREAD))
		count_bound(p, cpu, used);
}

void BPF_STRUCT_OPS(wattsched_enable, struct task_struct *p)
{
	p->scx.dsq_vtime = vtime_now;
}

s32 BPF_STRUCT_OPS(wattsched_init_task, struct task_struct *p, struct scx_init_task_args *args)
{
	struct task_ctx *tctx;

	tctx = bpf_task_storage_get(&task_ctxs, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!tctx)
		return -ENOMEM;
	/* no rule until task_cgrp_rule() has looked (a zero would be one) */
	tctx->cls.val = ~0ULL;
	tctx->dev.val = ~0ULL;
	tctx->last_cpu = -1;
	tctx->dev_node = -1;
	return 0;
}

/* ---- init and exit ------------------------------------------------------ */

static s32 install_mask(struct mask_slot *slot)
{
	struct bpf_cpumask *m, *old;

	if (!slot)
		return -ENOENT;
	m = bpf_cpumask_create();
	if (!m)
		return -ENOMEM;
	old = bpf_kptr_xchg(&slot->mask, m);
	if (old)
		bpf_cpumask_release(old);
	return 0;
}

static s32 new_mask(void *map, u32 idx)
{
	return install_mask(bpf_map_lookup_elem(map, &idx));
}

/* A per-CPU array's lookup sees only the current CPU; reach the others. */
static s32 new_percpu_mask(void *map, u32 idx, s32 cpu)
{
	return install_mask(bpf_map_lookup_percpu_elem(map, &idx, cpu));
}

/* The DSQs: one per LLC, one per CPU, the batch queue. */
static s32 create_dsqs(void)
{
	s32 ret, cpu;
	u32 i;

	bpf_for(i, 0, nr_llcs) {
		ret = scx_bpf_create_dsq(llc_dsq(i), llc_node[llc_slot(i)]);
		if (ret) {
			scx_bpf_error("failed to create DSQ for LLC %u: %d", i, ret);
			return ret;
		}
	}
	bpf_for(cpu, 0, nr_cpus) {
		ret = scx_bpf_create_dsq(cpu_dsq(cpu), cpu_node(cpu));
		if (ret) {
			scx_bpf_error("failed to create DSQ for CPU %d: %d", cpu, ret);
			return ret;
		}
	}
	ret = scx_bpf_create_dsq(WS_DSQ_BATCH, -1);
	if (ret)
		scx_bpf_error("failed to create the batch DSQ: %d", ret);
	return ret;
}

/* The cpumasks: domains, the usable mask's two buffers, per-CPU scratch. */
static s32 create_masks(void)
{
	s32 ret, cpu;
	u32 i;

	bpf_for(i, 0, nr_llcs) {
		ret = new_mask(&llc_masks, i);
		if (ret)
			return ret;
	}
	bpf_for(i, 0, nr_nodes) {
		ret = new_mask(&node_masks, i);
		if (ret)
			return ret;
	}
	if ((ret = new_mask(&usable_masks, 0)) || (ret = new_mask(&usable_masks, 1)))
		return ret;
	bpf_for(cpu, 0, nr_cpus) {
		bpf_for(i, 0, NR_SCRATCH) {
			ret = new_percpu_mask(&scratch_masks, i, cpu);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/*
 * The scheduler's own watchdog, a BPF timer every WS_WATCH_PERIOD_NS: BPF
 * applies a new budget at its next callback, and when every CPU is idle
 * there is none; and a queue where a task has starved needs a CPU that
 * looks at it.  Either way every idle CPU is kicked, and its dispatch does
 * the rest (refresh_usable(), take_starved()).  The only writer of
 * llc_starving, and the only one to clear batch_may_hold.
 */
static int watch_fn(void *map, int *key, struct bpf_timer *timer)
{
	struct ws_budget *b = get_budget();
	bool wake = b && b->gen != applied_gen, held;
	u64 now = wait_now();
	u32 i;

	held = scx_bpf_dsq_nr_queued(WS_DSQ_BATCH) > 0;
	if (held && !READ_ONCE(batch_may_hold))
		wake = true;
	WRITE_ONCE(batch_may_hold, held);

	/* 6.12's verifier wants the DSQ iterator inside a read-side section here */
	bpf_rcu_read_lock();
	bpf_for(i, 0, nr_llcs) {
		if (i >= WS_MAX_LLCS)
			break;
		llc_starving[i] = llc_has_starved(i, now);
		if (llc_starving[i])
			wake = true;
	}
	bpf_rcu_read_unlock();
	if (wake)
		kick_all();
	bpf_timer_start(timer, WS_WATCH_PERIOD_NS, 0);
	return 0;
}

/* Switch the partial CPU @cpu in or out; the next callback's refresh_usable() applies it. */
static void duty_switch(u32 cpu, bool on)
{
	if (on == duty_on)
		return;
	duty_on = on;
	duty_gen++;
	/* in, it looks at its queues; out, its task is preempted and placed again */
	if (cpu < nr_cpus)
		scx_bpf_kick_cpu(cpu, on ? SCX_KICK_IDLE : SCX_KICK_PREEMPT);
}

/* A new window for @cpu: in for its share.  Returns when to look again. */
static u64 duty_start(u32 cpu, u64 now, u64 want)
{
	duty_cpu = cpu;
	duty_window_at = now;
	duty_ran = 0;
	duty_switch(cpu, true);
	return want;
}

/*
 * The duty timer: while the budget names a partial CPU, it puts that CPU
 * into the usable set at the start of every window and takes it out once
 * it has run our tasks for partial_permille thousandths of the window
 * (struct ws_budget), or when the window ends.  Counting what the CPU ran,
 * not the time it was in, makes up for the wakeup and the steal that start
 * each share.  With no partial CPU it looks again every WS_DUTY_IDLE_NS.
 */
static int duty_fn(void *map, int *key, struct bpf_timer *timer)
{
	struct ws_budget *b = get_budget();
	u32 pm = b ? b->partial_permille : 0, cpu = b ? b->partial_cpu : 0;
	u64 window = b ? b->partial_window_us * 1000ULL : 0, now = scx_bpf_now();
	u64 want, ran, end, next;

	if (!pm || pm >= 1000 || !window || cpu >= nr_cpus || cpu >= WS_MAX_CPUS) {
		duty_switch(duty_cpu, false);
		duty_cpu = ~0U;
		next = WS_DUTY_IDLE_NS;
		goto again;
	}
	want = window * pm / 1000;
	duty_want = want;
	end = duty_window_at + window;
	if (cpu != duty_cpu || now >= end) {
		if (cpu != duty_cpu)
			duty_switch(duty_cpu, false);
		next = duty_start(cpu, now, want);
		goto again;
	}
	ran = duty_ran_by(cpu, now);
	if (duty_on && ran < want && now + (want - ran) < end) {
		next = want - ran;	/* in for the rest of its share */
	} else {
		duty_switch(cpu, false);
		next = end - now;
	}
again:
	bpf_timer_start(timer, next, 0);
	return 0;
}

static s32 start_timer(u32 key, int (*fn)(void *, int *, struct bpf_timer *), u64 ns)
{
	struct ws_timer *t;
	s32 ret;

	t = bpf_map_lookup_elem(&timers, &key);
	if (!t)
		return -ENOENT;
	ret = bpf_timer_init(&t->timer, &timers, 1 /* CLOCK_MONOTONIC */);
	if (!ret)
		ret = bpf_timer_set_callback(&t->timer, fn);
	if (!ret)
		ret = bpf_timer_start(&t->timer, ns, 0);
	return ret;
}

s32 BPF_STRUCT_OPS_SLEEPABLE(wattsched_init)
{
	struct ws_heat *heat;
	struct bpf_cpumask *m;
	s32 cpu, ret;

	if (nr_cpus > WS_MAX_CPUS || nr_llcs > WS_MAX_LLCS || nr_nodes > WS_MAX_NODES ||
	    !nr_llcs || !nr_nodes) {
		scx_bpf_error("topology out of range: %u cpus %u llcs %u nodes",
			      nr_cpus, nr_llcs, nr_nodes);
		return -EINVAL;
	}
	ret = create_dsqs();
	if (!ret)
		ret = create_masks();
	if (ret)
		return ret;
	heat = get_heat();
	if (heat)
		heat->live = heat_live();

	bpf_rcu_read_lock();
	bpf_for(cpu, 0, nr_cpus) {
		m = slot_mask(&llc_masks, cpu_llc(cpu));
		if (m)
			bpf_cpumask_set_cpu(cpu, m);
		m = slot_mask(&node_masks, cpu_node(cpu));
		if (m)
			bpf_cpumask_set_cpu(cpu, m);
	}
	bpf_rcu_read_unlock();
	ret = start_timer(WATCH_TIMER, watch_fn, WS_WATCH_PERIOD_NS);
	if (!ret)
		ret = start_timer(DUTY_TIMER, duty_fn, WS_DUTY_IDLE_NS);
	return ret;
}

void BPF_STRUCT_OPS(wattsched_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SCX_OPS_DEFINE(wattsched_ops,
	       .select_cpu	= (void *)wattsched_select_cpu,
	       .enqueue		= (void *)wattsched_enqueue,
	       .dispatch	= (void *)wattsched_dispatch,
	       .tick		= (void *)wattsched_tick,
	       .running		= (void *)wattsched_running,
	       .stopping	= (void *)wattsched_stopping,
	       .enable		= (void *)wattsched_enable,
	       .init_task	= (void *)wattsched_init_task,
	       .init		= (void *)wattsched_init,
	       .exit		= (void *)wattsched_exit,
	       .flags		= SCX_OPS_ENQ_LAST,
	       .timeout_ms	= 30000,
	       .name		= "wattsched");
