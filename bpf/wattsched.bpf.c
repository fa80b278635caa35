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
 * Placement on wakeup (select_cpu) looks for an idle CPU in this order:
 * a fully idle core in the task's previous LLC, any idle CPU in that LLC,
 * a fully idle core and then any idle CPU in the same NUMA node, then
 * anywhere.  A synchronous wakeup from another LLC searches from the
 * waker's LLC instead, so that a communicating pair comes together, and a
 * task bound to a PCIe device starts the search on the device's node.  An idle CPU found there gets the task directly on
 * its local DSQ; otherwise the task is queued on its LLC's DSQ and an idle
 * CPU, if any, is kicked.
 *
 * Dispatch: a CPU takes the lower-vtime head of its own per-CPU DSQ and its
 * LLC's DSQ, then steals from the other LLCs of its node, then from other
 * nodes.  Stealing is what keeps every CPU busy while work waits; the
 * preference for the previous LLC on wakeup is what keeps a stolen task
 * where it landed instead of bouncing back.
 *
 * Policy.  Two maps, each with one writer in user space, steer the hot
 * paths, so a policy switch needs no reload.  The control block (struct
 * ws_ctl, written by `wattsched policy` and `wattsched cap`) carries the
 * policy and the cpufreq targets per priority class.  The budget (struct
 * ws_budget, written by the loader's control loop) carries two CPU masks:
 * the CPUs new work may use (power cap, compaction) and the CPUs too hot to
 * take new work.  CPUs outside them still run the tasks that can run
 * nowhere else, so no task stalls.
 *
 * Faults.  Any inconsistency ends the scheduler through scx_bpf_error();
 * the kernel then returns every task to EEVDF, and the exit reason reaches
 * the loader through the ws_exit_info record (uei).
 */
#include "compat.bpf.h"
#include "wattsched.h"

char _license[] SEC("license") = "GPL";

/* Set by the loader before load. */
const volatile __u32 nr_cpus = 1;
const volatile __u32 nr_llcs = 1;
const volatile __u32 nr_nodes = 1;
const volatile __u64 slice_ns = 5000000ULL;
const volatile struct ws_cpu_topo cpu_topo[WS_MAX_CPUS];
const volatile __s32 smt_sibling[WS_MAX_CPUS];	/* another thread of the core, or -1 */
const volatile __u32 llc_node[WS_MAX_LLCS];

struct ws_exit_info uei;
__u64 vtime_now;
/*
 * The vtime of the task that last started on each CPU: where keep_prev()
 * measures a waiter's lead from, and the clock of an empty queue.
 */
__u64 cpu_vnow[WS_MAX_CPUS];
__u32 applied_gen = ~0U;
__u32 usable_cur;
/* Per usable-mask buffer: does LLC i have a usable CPU?  Built with it. */
__u8 llc_live[2][WS_MAX_LLCS];
__u32 usable_busy;
__u32 usable_weight;

#define WS_DSQ_CPU_BASE	(WS_DSQ_LLC_BASE + WS_MAX_LLCS)
/* Batch work held back under a cap waits here, vtime-ordered. */
#define WS_DSQ_BATCH	(WS_DSQ_CPU_BASE + WS_MAX_CPUS)
/* Under a cap a batch task waits at most this long for a CPU (no stall). */
#define WS_BATCH_MAX_WAIT_NS	(2000ULL * 1000 * 1000)

/* The class (+1; 0 when none) of the task running on each CPU. */
__u32 cpu_run_class[WS_MAX_CPUS];
/* CPUs running batch work now. */
__u32 nr_batch_running;

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

/* Device affinity: preferred NUMA node by thread-group id. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, u32);
	__type(value, s32);
} ws_dev_tgid SEC(".maps");

/*
 * Rules by cgroup id, for a cgroup and every cgroup below it: the priority
 * class, and the preferred NUMA node (device affinity).  In each, key
 * WS_CGRP_TOKEN holds the change token.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WS_MAX_CGRP_RULES + 1);
	__type(key, u64);
	__type(value, u64);
} ws_cgrp_class SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WS_MAX_CGRP_RULES + 1);
	__type(key, u64);
	__type(value, u64);
} ws_dev_cgrp SEC(".maps");

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

/* What a cgroup rule map gave a task, valid while token and cgroup hold. */
struct cgrp_rule_cache {
	u64 token;		/* the map's change token it was read under */
	u64 cgrp_id;		/* the cgroup it was read for */
	u64 val;		/* the nearest rule's value; out of range for none */
};

struct task_ctx {
	u64 started_at;		/* when it last started running */
	u64 queued_at;		/* when it was last held back as batch work */
	struct cgrp_rule_cache cls;	/* from ws_cgrp_class */
	struct cgrp_rule_cache dev;	/* from ws_dev_cgrp */
	s32 last_cpu;		/* where it last ran; -1 before it first ran */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctxs SEC(".maps");

/* Last cpufreq target set on each CPU, to skip redundant calls. */
__u32 cpu_perf_set[WS_MAX_CPUS];

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

static __always_inline bool ctl_capped(void)
{
	struct ws_ctl *ctl = get_ctl();

	return ctl && ctl->cap_watts;
}

static __always_inline struct ws_budget *get_budget(void)
{
	u32 zero = 0;

	return bpf_map_lookup_elem(&ws_budget, &zero);
}

static __always_inline struct bpf_cpumask *slot_mask(void *map, u32 idx)
{
	struct mask_slot *slot = bpf_map_lookup_elem(map, &idx);

	return slot ? slot->mask : NULL;
}

static __always_inline u32 cpu_llc(s32 cpu)
{
	if (cpu < 0 || cpu >= WS_MAX_CPUS)
		return 0;
	return cpu_topo[cpu].llc;
}

static __always_inline u32 cpu_node(s32 cpu)
{
	if (cpu < 0 || cpu >= WS_MAX_CPUS)
		return 0;
	return cpu_topo[cpu].node;
}

static __always_inline u64 llc_dsq(u32 llc)
{
	return WS_DSQ_LLC_BASE + llc;
}

static __always_inline u64 cpu_dsq(s32 cpu)
{
	return WS_DSQ_CPU_BASE + cpu;
}

static __always_inline bool vtime_before(u64 a, u64 b)
{
	return (s64)(a - b) < 0;
}

/*
 * Place a task entering a queue relative to that queue's clock.  At most
 * one slice behind it, so a sleeper banks no more credit.  And when it comes
 * from another queue (@moved), at most one of its weighted slices ahead:
 * clocks of different queues drift apart, and a task moved off a capped LLC
 * with the other LLC's vtime would otherwise wait until this queue caught up
 * (the watchdog saw 39 s).  A task staying in its queue keeps its lead,
 * which is what weights are made of.
 */
static __always_inline u64 place_vtime(u64 vtime, u64 clock, bool moved, u32 weight)
{
	u64 ahead = slice_ns * 100 / (weight ?: 1);

	if (vtime_before(vtime, clock - slice_ns))
		return clock - slice_ns;
	if (moved && vtime_before(clock + ahead, vtime))
		return clock + ahead;
	return vtime;
}

static __always_inline u64 cpu_clock(s32 cpu)
{
	return cpu_vnow[cpu & (WS_MAX_CPUS - 1)];
}

/*
 * The clock a task entering queue @dsq on @cpu is placed against: the
 * lowest vtime waiting there, or, with nothing waiting, that of the task
 * that last started on @cpu.  The lowest waiter, not the last task started:
 * a waker placed against a clock far ahead of the waiting tasks would queue
 * behind all of them.
 */
static __always_inline u64 queue_clock(u64 dsq, s32 cpu)
{
	/* two loads in two places: merged, they would fail verification */
	u64 clock = cpu_clock(cpu);
	struct task_struct *head = ws_dsq_peek(dsq);

	if (head)
		clock = head->scx.dsq_vtime;
	return clock;
}

/* Where @p last ran, or -1. */
static __always_inline s32 task_last_cpu(struct task_struct *p)
{
	struct task_ctx *tctx = bpf_task_storage_get(&task_ctxs, p, 0, 0);

	return tctx ? tctx->last_cpu : -1;
}

/*
 * How far ahead of the running task a waiter counts, at most: two of its
 * own weighted slices past where the running task started.  Waiters whose
 * vtime came from another queue's clock (a new task, a task that ran on a
 * busier CPU) would otherwise wait until the running task caught up, which
 * for a task that once shared a CPU can be seconds.
 */
static __always_inline u64 waiter_vtime(struct task_struct *head, u64 run_start)
{
	u64 cap = run_start + 2 * slice_ns * 100 / (head->scx.weight ?: 1);

	return vtime_before(cap, head->scx.dsq_vtime) ? cap : head->scx.dsq_vtime;
}


/*
 * Bring the usable mask (active and not too hot) in line with the budget.
 * Whoever sees a new generation first rebuilds the spare buffer and
 * publishes it; the others keep using the current one meanwhile.
 */
static void refresh_usable(void)
{
	struct ws_budget *b = get_budget();
	struct bpf_cpumask *spare;
	u32 gen, next, weight = 0;
	s32 cpu;

	if (!b)
		return;
	gen = b->gen;
	if (likely(gen == applied_gen))
		return;
	if (__sync_val_compare_and_swap(&usable_busy, 0, 1))
		return;

	next = usable_cur ^ 1;
	spare = slot_mask(&usable_masks, next);
	if (!spare)
		goto unlock;
	bpf_cpumask_clear(spare);
	bpf_for(cpu, 0, WS_MAX_LLCS)
		llc_live[next & 1][cpu] = 0;
	bpf_for(cpu, 0, nr_cpus) {
		if (cpu >= WS_MAX_CPUS)
			break;
		if (b->nr_active && !ws_cpu_test(b->active_mask, cpu))
			continue;
		if (ws_cpu_test(b->avoid_mask, cpu))
			continue;
		bpf_cpumask_set_cpu(cpu, spare);
		llc_live[next & 1][cpu_llc(cpu) & (WS_MAX_LLCS - 1)] = 1;
		weight++;
	}
	usable_cur = next;
	usable_weight = weight;
	applied_gen = gen;
unlock:
	__sync_lock_test_and_set(&usable_busy, 0);
}

static __always_inline const struct cpumask *usable_mask(void)
{
	struct bpf_cpumask *m = slot_mask(&usable_masks, usable_cur & 1);

	return m ? cast_mask(m) : NULL;
}

static __always_inline bool cpu_usable(s32 cpu)
{
	const struct cpumask *usable = usable_mask();

	return !usable || !usable_weight || bpf_cpumask_test_cpu(cpu, usable);
}

/*
 * Tasks that can run on one CPU only go to that CPU's own queue.
 *
 * BPF programs run with migration disabled: the trampoline's prologue
 * increments current->migration_disabled.  So when a callback is about the
 * current task (a task preempted at the tick is enqueued from its own
 * context), a count of one is ours, not the task's.  Reading it as "pinned"
 * parked every preempted task on its own CPU: nothing ever migrated, and
 * CPUs idled next to queued work.
 */
static __always_inline bool task_pinned(struct task_struct *p)
{
	if (p->nr_cpus_allowed == 1)
		return true;
	if (p->migration_disabled == 1 && bpf_get_current_task_btf() == p)
		return false;
	return p->migration_disabled;
}

/*
 * Pick an idle CPU in @cand & @dom, a whole idle core first when
 * @core_first.  Returns -1 when there is none.
 */
static s32 pick_idle_in(struct bpf_cpumask *tmp, const struct cpumask *cand,
			struct bpf_cpumask *dom, bool core_first)
{
	s32 cpu;

	if (!dom)
		return -1;
	bpf_cpumask_and(tmp, cand, cast_mask(dom));
	if (core_first) {
		cpu = scx_bpf_pick_idle_cpu(cast_mask(tmp), SCX_PICK_IDLE_CORE);
		if (cpu >= 0) {
			stat_inc(WS_STAT_idle_core);
			return cpu;
		}
	}
	return scx_bpf_pick_idle_cpu(cast_mask(tmp), 0);
}

/* Is another SMT thread of @cpu's core running something? */
static bool sibling_busy(s32 cpu)
{
	const struct cpumask *idle;
	s32 sib;
	bool busy;

	if (cpu < 0 || cpu >= WS_MAX_CPUS)
		return false;
	sib = smt_sibling[cpu];
	if (sib < 0 || sib >= WS_MAX_CPUS)
		return false;
	idle = scx_bpf_get_idle_cpumask();
	busy = !bpf_cpumask_test_cpu(sib, idle);
	scx_bpf_put_idle_cpumask(idle);
	return busy;
}

static __always_inline u64 cgrp_token(void *map)
{
	u64 key = WS_CGRP_TOKEN, *tok = bpf_map_lookup_elem(map, &key);

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
	bpf_rcu_read_lock();
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
	bpf_rcu_read_unlock();
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
 * @p's value in rule map @map (@limit for none), cached in @c: the
 * ancestors are walked again only when the task changed cgroup or the
 * map's token changed since the last walk.
 */
static __always_inline u64 task_cgrp_rule(struct task_struct *p, void *map,
					  struct cgrp_rule_cache *c, u64 limit)
{
	u64 tok = cgrp_token(map), cgid = task_cgroup_id(p);

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
 * A task's class: its cgroup's, else batch for SCHED_BATCH (3) and
 * SCHED_IDLE (5), else normal.
 */
static u32 task_class(struct task_struct *p, struct task_ctx *tctx)
{
	u64 cls;

	if (!tctx)
		return WS_CLASS_NORMAL;
	cls = task_cgrp_rule(p, &ws_cgrp_class, &tctx->cls, WS_NR_CLASSES);
	if (cls < WS_NR_CLASSES)
		return cls;
	return (p->policy == 3 || p->policy == 5) ? WS_CLASS_BATCH : WS_CLASS_NORMAL;
}

/* How many CPUs batch work may hold at once: the cap's duty cycle. */
static __always_inline u32 batch_limit(struct ws_ctl *ctl)
{
	u32 n = usable_weight ?: nr_cpus, duty = ctl->batch_duty_pct;

	if (!ctl->cap_watts || !duty || duty >= 100)
		return n;
	n = n * duty / 100;
	return n ?: 1;
}

/* A CPU in @cand running batch work, searching from @from; -1 if none. */
static s32 batch_victim(const struct cpumask *cand, s32 from)
{
	u32 i;

	bpf_for(i, 0, nr_cpus) {
		s32 cpu = (from + i) % nr_cpus;

		if (cpu < 0 || cpu >= WS_MAX_CPUS)
			break;
		if (cpu_run_class[cpu] == WS_CLASS_BATCH + 1 && bpf_cpumask_test_cpu(cpu, cand))
			return cpu;
	}
	return -1;
}

/*
 * The NUMA node of the device @p is bound to, -1 for none: its process's
 * binding, else that of its nearest bound cgroup.
 */
static s32 device_node(struct task_struct *p, struct task_ctx *tctx)
{
	u32 tgid = p->tgid;
	s32 *node = bpf_map_lookup_elem(&ws_dev_tgid, &tgid);
	u64 n;

	if (node && *node >= 0 && *node < (s32)nr_nodes)
		return *node;
	if (!tctx)
		return -1;
	n = task_cgrp_rule(p, &ws_dev_cgrp, &tctx->dev, nr_nodes);
	return n < nr_nodes ? n : -1;
}

s32 BPF_STRUCT_OPS(wattsched_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	struct bpf_cpumask *cand, *tmp;
	const struct cpumask *usable;
	struct ws_ctl *ctl = get_ctl();
	bool core_first, prev_ok;
	s32 cpu = -1, dev_node;
	u32 llc, node;

	if (!ctl)
		return prev_cpu;
	refresh_usable();

	if (task_pinned(p)) {
		if (scx_bpf_test_and_clear_cpu_idle(prev_cpu)) {
			cpu = prev_cpu;
			goto direct;
		}
		return prev_cpu;
	}

	cand = slot_mask(&scratch_masks, SCRATCH_CAND);
	tmp = slot_mask(&scratch_masks, SCRATCH_TMP);
	usable = usable_mask();
	if (!cand || !tmp || !usable)
		return prev_cpu;

	/* The candidates: the task's CPUs that may take new work. */
	bpf_cpumask_and(cand, p->cpus_ptr, usable);
	if (bpf_cpumask_empty(cast_mask(cand)))
		return prev_cpu;	/* enqueue parks it on a CPU it can use */
	prev_ok = bpf_cpumask_test_cpu(prev_cpu, cast_mask(cand));
	if (!prev_ok && prev_cpu >= 0 && prev_cpu < WS_MAX_CPUS) {
		struct ws_budget *b = get_budget();

		if (b && ws_cpu_test(b->avoid_mask, prev_cpu))
			stat_inc(WS_STAT_avoided_hot);
	}

	/*
	 * A warm cache on an idle previous CPU beats a fresh idle core, except
	 * under performance, which spreads over whole cores first.  Powersave
	 * packs onto SMT siblings rather than waking idle cores.
	 */
	core_first = ctl->policy != WS_POLICY_POWERSAVE;
	llc = cpu_llc(prev_cpu);
	node = cpu_node(prev_cpu);
	/*
	 * A synchronous wakeup (pipe, socket) pairs two tasks that share data:
	 * search from the waker's LLC, so that a pair that started apart comes
	 * together instead of ping-ponging across caches for ever.
	 */
	if (wake_flags & SCX_WAKE_SYNC) {
		s32 waker = bpf_get_smp_processor_id();

		if (cpu_llc(waker) != llc && bpf_cpumask_test_cpu(waker, cast_mask(cand))) {
			llc = cpu_llc(waker);
			node = cpu_node(waker);
			prev_ok = false;
		}
	}
	dev_node = device_node(p, bpf_task_storage_get(&task_ctxs, p, 0, 0));
	/* ...but a device-bound task's warm cache counts on the device's node only */
	if (prev_ok && ctl->policy != WS_POLICY_PERFORMANCE &&
	    (dev_node < 0 || (u32)dev_node == node) &&
	    scx_bpf_test_and_clear_cpu_idle(prev_cpu)) {
		cpu = prev_cpu;
		stat_inc(WS_STAT_idle_llc);
		if (dev_node >= 0)
			stat_inc(WS_STAT_dev_local);
		goto direct;
	}

	if (dev_node >= 0 && (u32)dev_node != node) {
		/* Start on the device's node; the old LLC is on the wrong one. */
		node = dev_node;
		llc = ~0U;
	}

	if (llc != ~0U) {
		cpu = pick_idle_in(tmp, cast_mask(cand), slot_mask(&llc_masks, llc), core_first);
		if (cpu >= 0) {
			stat_inc(WS_STAT_idle_llc);
			goto found;
		}
	}
	cpu = pick_idle_in(tmp, cast_mask(cand), slot_mask(&node_masks, node), core_first);
	if (cpu >= 0) {
		stat_inc(WS_STAT_idle_node);
		goto found;
	}
	if (dev_node >= 0)
		stat_inc(WS_STAT_dev_fallback);
	if (core_first) {
		cpu = scx_bpf_pick_idle_cpu(cast_mask(cand), SCX_PICK_IDLE_CORE);
		if (cpu >= 0) {
			stat_inc(WS_STAT_idle_core);
			goto found_any;
		}
	}
	cpu = scx_bpf_pick_idle_cpu(cast_mask(cand), 0);
	if (cpu >= 0)
		goto found_any;
	return prev_ok ? prev_cpu : bpf_cpumask_any_distribute(cast_mask(cand));

found_any:
	stat_inc(WS_STAT_idle_any);
found:
	if (dev_node >= 0 && cpu_node(cpu) == (u32)dev_node)
		stat_inc(WS_STAT_dev_local);
direct:
	stat_inc(WS_STAT_enq_local);
	ws_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, 0);
	return cpu;
}

/* A CPU among the task's CPUs to park it on when no usable CPU allows it. */
static s32 fallback_cpu(struct task_struct *p)
{
	s32 cpu = scx_bpf_task_cpu(p);

	if (bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
		return cpu;
	return bpf_cpumask_any_distribute(p->cpus_ptr);
}

void BPF_STRUCT_OPS(wattsched_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct bpf_cpumask *cand, *tmp;
	const struct cpumask *usable;
	struct ws_ctl *ctl = get_ctl();
	struct task_ctx *tctx;
	u64 vtime = p->scx.dsq_vtime;
	s32 cpu, idle, last, dev_node;
	u32 llc, class;

	refresh_usable();
	cand = slot_mask(&scratch_masks, SCRATCH_CAND);
	tmp = slot_mask(&scratch_masks, SCRATCH_TMP);
	usable = usable_mask();
	cpu = scx_bpf_task_cpu(p);

	if (task_pinned(p))
		goto pinned;
	if (!cand || !tmp || !usable)
		goto parked;
	bpf_cpumask_and(cand, p->cpus_ptr, usable);
	if (bpf_cpumask_empty(cast_mask(cand)))
		goto parked;

	tctx = bpf_task_storage_get(&task_ctxs, p, 0, 0);
	class = task_class(p, tctx);
	/*
	 * Under a cap, batch work gives way: it waits in the batch queue, which
	 * CPUs take from only when they have nothing else and fewer than the
	 * duty cycle's CPUs run batch work (or when it waited too long).
	 */
	if (class == WS_CLASS_BATCH && ctl && ctl->cap_watts && tctx &&
	    bpf_ksym_exists(scx_bpf_dsq_peek)) {
		bool room = nr_batch_running < batch_limit(ctl);
		bool here = bpf_cpumask_test_cpu(cpu, cast_mask(cand));

		/* the last task of its CPU runs on while no other batch task waits */
		if ((enq_flags & SCX_ENQ_LAST) && room && here && !ws_dsq_peek(WS_DSQ_BATCH))
			goto run_on;
		tctx->queued_at = ws_now();
		vtime = place_vtime(vtime, queue_clock(WS_DSQ_BATCH, cpu), false, p->scx.weight);
		ws_dsq_insert_vtime(p, WS_DSQ_BATCH, slice_ns, vtime, enq_flags);
		stat_inc(WS_STAT_throttled);
		if (room) {
			/*
			 * Wake a CPU to take the head: an idle one, or this one,
			 * which is about to go idle having found nothing else.
			 */
			idle = scx_bpf_pick_idle_cpu(cast_mask(cand), 0);
			if (idle >= 0)
				scx_bpf_kick_cpu(idle, SCX_KICK_IDLE);
			else if ((enq_flags & SCX_ENQ_LAST) && here)
				scx_bpf_kick_cpu(cpu, 0);
		}
		return;
	}

	/*
	 * A device-bound task off its device's node moves to an idle CPU
	 * there.  A task that never sleeps never passes through select_cpu,
	 * so without this it would keep whatever CPU it had when bound.
	 */
	dev_node = device_node(p, tctx);
	if (dev_node >= 0 &&
	    (cpu_node(cpu) != (u32)dev_node || !bpf_cpumask_test_cpu(cpu, cast_mask(cand)))) {
		idle = pick_idle_in(tmp, cast_mask(cand), slot_mask(&node_masks, dev_node),
				    ctl && ctl->policy != WS_POLICY_POWERSAVE);
		if (idle >= 0) {
			ws_dsq_insert(p, SCX_DSQ_LOCAL_ON | idle, slice_ns, enq_flags);
			scx_bpf_kick_cpu(idle, SCX_KICK_IDLE);
			stat_inc(WS_STAT_dev_local);
			stat_inc(WS_STAT_enq_local);
			return;
		}
		stat_inc(WS_STAT_dev_fallback);
	}

	/*
	 * SCX_OPS_ENQ_LAST hands us the last runnable task of a CPU whose
	 * slice ran out.  On a usable CPU it simply runs on; on a CPU the cap
	 * or the heat took away it must move, which is why we ask for it.
	 */
	if ((enq_flags & SCX_ENQ_LAST) && bpf_cpumask_test_cpu(cpu, cast_mask(cand))) {
		/*
		 * performance spreads over whole cores: a task whose slice ends
		 * beside a busy SMT sibling moves to a fully idle core, so that
		 * tasks placed before a switch to performance spread too.  Only
		 * to a whole idle core, so no task is ever moved back.
		 */
		if (ctl && ctl->policy == WS_POLICY_PERFORMANCE && sibling_busy(cpu)) {
			idle = scx_bpf_pick_idle_cpu(cast_mask(cand), SCX_PICK_IDLE_CORE);
			if (idle >= 0) {
				ws_dsq_insert(p, SCX_DSQ_LOCAL_ON | idle, slice_ns, enq_flags);
				scx_bpf_kick_cpu(idle, SCX_KICK_IDLE);
				stat_inc(WS_STAT_spread_core);
				return;
			}
		}
		goto run_on;
	}
	/*
	 * A latency-critical wakeup found no idle CPU (select_cpu looked):
	 * it takes a CPU from batch work, straight onto that CPU ahead of it.
	 */
	if (class == WS_CLASS_LATENCY && (enq_flags & SCX_ENQ_WAKEUP)) {
		idle = batch_victim(cast_mask(cand), cpu);
		if (idle >= 0) {
			ws_dsq_insert(p, SCX_DSQ_LOCAL_ON | idle, slice_ns,
				      enq_flags | SCX_ENQ_PREEMPT);
			scx_bpf_kick_cpu(idle, SCX_KICK_PREEMPT);
			stat_inc(WS_STAT_preempt_batch);
			return;
		}
	}
	if (!bpf_cpumask_test_cpu(cpu, cast_mask(cand)))
		cpu = bpf_cpumask_any_distribute(cast_mask(cand));
	llc = cpu_llc(cpu);
	last = task_last_cpu(p);
	vtime = place_vtime(vtime, queue_clock(llc_dsq(llc), cpu),
			    last < 0 || cpu_llc(last) != llc, p->scx.weight);
	ws_dsq_insert_vtime(p, llc_dsq(llc), slice_ns, vtime, enq_flags);
	stat_inc(WS_STAT_enq_llc);

	/* Work conservation: wake an idle CPU that may run it (on its device's node first). */
	idle = -1;
	if (dev_node >= 0)
		idle = pick_idle_in(tmp, cast_mask(cand), slot_mask(&node_masks, dev_node), false);
	if (idle < 0)
		idle = scx_bpf_pick_idle_cpu(cast_mask(cand), 0);
	if (idle >= 0) {
		scx_bpf_kick_cpu(idle, SCX_KICK_IDLE);
		stat_inc(WS_STAT_kick_idle);
	}
	return;

parked:
	stat_inc(WS_STAT_enq_parked);
pinned:
	/*
	 * The last runnable task of this CPU, and it may stay: it must go to
	 * the local DSQ.  Parked on this CPU's own queue, it would sit there
	 * while the CPU, having found nothing to run, goes idle, and nothing
	 * would kick it (a per-CPU kworker stalled 30 s that way).
	 */
	if ((enq_flags & SCX_ENQ_LAST) && bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
		goto run_on;
	cpu = fallback_cpu(p);
	if (cpu < 0 || cpu >= WS_MAX_CPUS || cpu >= nr_cpus) {
		/* Cannot happen for a runnable task; never lose it anyway. */
		ws_dsq_insert(p, SCX_DSQ_GLOBAL, slice_ns, enq_flags);
		return;
	}
	vtime = place_vtime(vtime, queue_clock(cpu_dsq(cpu), cpu), task_last_cpu(p) != cpu,
			    p->scx.weight);
	ws_dsq_insert_vtime(p, cpu_dsq(cpu), slice_ns, vtime, enq_flags);
	stat_inc(WS_STAT_enq_pinned);
	scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
	return;

run_on:
	ws_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, enq_flags);
	stat_inc(WS_STAT_enq_local);
}

/* Move the lower-vtime head of the per-CPU and LLC queues to this CPU. */
static bool dispatch_own(s32 cpu, u32 llc, bool take_shared)
{
	struct task_struct *mine, *shared;

	if (!take_shared)
		return ws_dsq_move_to_local(cpu_dsq(cpu));

	mine = ws_dsq_peek(cpu_dsq(cpu));
	shared = ws_dsq_peek(llc_dsq(llc));
	if (mine && shared && vtime_before(shared->scx.dsq_vtime, mine->scx.dsq_vtime)) {
		if (ws_dsq_move_to_local(llc_dsq(llc)))
			return true;
	}
	if (ws_dsq_move_to_local(cpu_dsq(cpu)))
		return true;
	return ws_dsq_move_to_local(llc_dsq(llc));
}

/*
 * The kernel asks for work before it queues @prev again, so the queues hold
 * every runnable task but the one whose slice just ran out.  Keep @prev
 * while it is still first in vtime order among what this CPU would take
 * from its own queues; otherwise two tasks sharing a CPU would simply
 * alternate slices, whatever their weights.  Only when a queue is non-empty
 * (empty queues go on to stealing, then SCX_ENQ_LAST, as before) and only
 * with scx_bpf_dsq_peek() to compare against.
 */
static bool keep_prev(struct task_struct *prev, s32 cpu, u32 llc, bool usable)
{
	struct task_struct *head;
	struct task_ctx *tctx;
	bool waiting = false;
	u64 vtime, start;

	if (!prev || !(prev->scx.flags & SCX_TASK_QUEUED) || !bpf_ksym_exists(scx_bpf_dsq_peek))
		return false;
	if (!usable && !task_pinned(prev))
		return false;	/* it has to move off a capped or hot CPU */
	if (cpu_run_class[cpu & (WS_MAX_CPUS - 1)] == WS_CLASS_BATCH + 1 && ctl_capped())
		return false;	/* batch work gives way under a cap */
	tctx = bpf_task_storage_get(&task_ctxs, prev, 0, 0);
	if (!tctx || !tctx->started_at)
		return false;
	/* what stopping() will charge it */
	vtime = prev->scx.dsq_vtime +
		(ws_now() - tctx->started_at) * 100 / (prev->scx.weight ?: 1);

	/* running() set this CPU's clock to prev's vtime when it started */
	start = cpu_clock(cpu);
	head = ws_dsq_peek(cpu_dsq(cpu));
	if (head) {
		if (!vtime_before(vtime, waiter_vtime(head, start)))
			return false;
		waiting = true;
	}
	if (usable) {
		head = ws_dsq_peek(llc_dsq(llc));
		if (head) {
			if (!vtime_before(vtime, waiter_vtime(head, start)))
				return false;
			waiting = true;
		}
	}
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

	if (!usable_weight)
		return false;
	bpf_for(i, 0, nr_llcs) {
		if (i >= WS_MAX_LLCS)
			break;
		if (!llc_live[cur][i] && ws_dsq_move_to_local(llc_dsq(i))) {
			stat_inc(WS_STAT_steal_remote);
			return true;
		}
	}
	return false;
}

/*
 * Batch work held back under a cap: the head goes first once it has waited
 * WS_BATCH_MAX_WAIT_NS (@overdue), otherwise only while fewer CPUs than
 * the duty cycle allows run batch work.  Without a cap the queue drains.
 */
static __noinline bool take_batch(bool overdue, bool prev_batch)
{
	struct task_struct *head = ws_dsq_peek(WS_DSQ_BATCH);
	struct ws_ctl *ctl = get_ctl();
	struct task_ctx *tctx;
	u32 running = nr_batch_running;
	s32 idle;

	if (!head || !ctl)
		return false;
	if (overdue) {
		tctx = bpf_task_storage_get(&task_ctxs, head, 0, 0);
		if (!tctx || ws_now() - tctx->queued_at < WS_BATCH_MAX_WAIT_NS ||
		    !ws_dsq_move_to_local(WS_DSQ_BATCH))
			return false;
		stat_inc(WS_STAT_batch_rescued);
		return true;
	}
	/*
	 * A batch prev whose slice ran out (@prev_batch) still counts as running, but the
	 * head would take its place: batch tasks take turns on the CPUs the
	 * duty cycle gives them.
	 */
	if (prev_batch && running)
		running--;
	if (running >= batch_limit(ctl) || !ws_dsq_move_to_local(WS_DSQ_BATCH))
		return false;
	/* more waiting and room for it: wake another CPU to take it */
	if (ws_dsq_peek(WS_DSQ_BATCH) && running + 1 < batch_limit(ctl)) {
		const struct cpumask *usable = usable_mask();

		idle = usable ? scx_bpf_pick_idle_cpu(usable, 0) : -1;
		if (idle >= 0)
			scx_bpf_kick_cpu(idle, SCX_KICK_IDLE);
	}
	return true;
}

void BPF_STRUCT_OPS(wattsched_dispatch, s32 cpu, struct task_struct *prev)
{
	u32 llc = cpu_llc(cpu), node = cpu_node(cpu), i;
	bool usable, prev_batch;

	refresh_usable();
	usable = cpu_usable(cpu);

	if (usable && take_orphans())
		return;
	/* a batch task whose slice ran out, still counted as running */
	prev_batch = prev && (prev->scx.flags & SCX_TASK_QUEUED) &&
		     cpu_run_class[cpu & (WS_MAX_CPUS - 1)] == WS_CLASS_BATCH + 1;
	if (usable && take_batch(true, prev_batch))
		return;

	if (keep_prev(prev, cpu, llc, usable)) {
		prev->scx.slice = slice_ns;
		return;
	}
	if (dispatch_own(cpu, llc, usable)) {
		stat_inc(WS_STAT_disp_local);
		return;
	}
	/* A CPU kept out by the cap or by heat runs only what must run here. */
	if (!usable)
		return;

	bpf_for(i, 0, nr_llcs) {
		if (i == llc || i >= WS_MAX_LLCS || llc_node[i] != node)
			continue;
		if (ws_dsq_move_to_local(llc_dsq(i))) {
			stat_inc(WS_STAT_steal_node);
			return;
		}
	}
	bpf_for(i, 0, nr_llcs) {
		if (i >= WS_MAX_LLCS || llc_node[i] == node)
			continue;
		if (ws_dsq_move_to_local(llc_dsq(i))) {
			stat_inc(WS_STAT_steal_remote);
			return;
		}
	}
	take_batch(false, prev_batch);
}

void BPF_STRUCT_OPS(wattsched_running, struct task_struct *p)
{
	struct task_ctx *tctx;
	struct ws_ctl *ctl;
	s32 cpu;
	u32 perf, class;

	if (vtime_before(vtime_now, p->scx.dsq_vtime))
		vtime_now = p->scx.dsq_vtime;
	cpu = scx_bpf_task_cpu(p);
	if (cpu >= 0 && cpu < WS_MAX_CPUS) {
		cpu_vnow[cpu] = p->scx.dsq_vtime;
	}

	tctx = bpf_task_storage_get(&task_ctxs, p, 0, 0);
	if (!tctx)
		return;
	tctx->started_at = ws_now();
	tctx->last_cpu = scx_bpf_task_cpu(p);

	ctl = get_ctl();
	if (!ctl || cpu < 0 || cpu >= WS_MAX_CPUS)
		return;
	class = task_class(p, tctx);
	if (class >= WS_NR_CLASSES)
		class = WS_CLASS_NORMAL;
	cpu_run_class[cpu] = class + 1;
	if (class == WS_CLASS_BATCH)
		__sync_fetch_and_add(&nr_batch_running, 1);
	perf = ctl->perf[class];
	if (perf && perf <= WS_PERF_MAX && cpu_perf_set[cpu] != perf) {
		if (ws_cpuperf_set(cpu, perf))
			cpu_perf_set[cpu] = perf;
	}
}

void BPF_STRUCT_OPS(wattsched_stopping, struct task_struct *p, bool runnable)
{
	struct task_ctx *tctx = bpf_task_storage_get(&task_ctxs, p, 0, 0);
	s32 cpu = scx_bpf_task_cpu(p);
	u64 used;

	if (cpu >= 0 && cpu < WS_MAX_CPUS) {
		if (cpu_run_class[cpu] == WS_CLASS_BATCH + 1)
			__sync_fetch_and_sub(&nr_batch_running, 1);
		cpu_run_class[cpu] = 0;
	}

	if (!tctx || !tctx->started_at)
		return;
	used = ws_now() - tctx->started_at;
	p->scx.dsq_vtime += used * 100 / (p->scx.weight ?: 1);
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
	return 0;
}

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

s32 BPF_STRUCT_OPS_SLEEPABLE(wattsched_init)
{
	struct bpf_cpumask *m;
	s32 cpu, ret;
	u32 i;

	if (nr_cpus > WS_MAX_CPUS || nr_llcs > WS_MAX_LLCS || nr_nodes > WS_MAX_NODES ||
	    !nr_llcs || !nr_nodes) {
		scx_bpf_error("topology out of range: %u cpus %u llcs %u nodes",
			      nr_cpus, nr_llcs, nr_nodes);
		return -EINVAL;
	}

	bpf_for(i, 0, nr_llcs) {
		ret = scx_bpf_create_dsq(llc_dsq(i), llc_node[i & (WS_MAX_LLCS - 1)]);
		if (ret) {
			scx_bpf_error("failed to create DSQ for LLC %u: %d", i, ret);
			return ret;
		}
		ret = new_mask(&llc_masks, i);
		if (ret)
			return ret;
	}
	bpf_for(i, 0, nr_nodes) {
		ret = new_mask(&node_masks, i);
		if (ret)
			return ret;
	}
	bpf_for(cpu, 0, nr_cpus) {
		ret = scx_bpf_create_dsq(cpu_dsq(cpu), cpu_node(cpu));
		if (ret) {
			scx_bpf_error("failed to create DSQ for CPU %d: %d", cpu, ret);
			return ret;
		}
	}
	ret = scx_bpf_create_dsq(WS_DSQ_BATCH, -1);
	if (ret) {
		scx_bpf_error("failed to create the batch DSQ: %d", ret);
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
	return 0;
}

void BPF_STRUCT_OPS(wattsched_exit, struct scx_exit_info *ei)
{
	bpf_probe_read_kernel_str(uei.reason, sizeof(uei.reason), ei->reason);
	bpf_probe_read_kernel_str(uei.msg, sizeof(uei.msg), ei->msg);
	uei.exit_code = ei->exit_code;
	/*
	 * kind goes last: the loader polls it and then reads the rest.  BPF
	 * has no fence; a compiler barrier keeps the store order, and the
	 * loader reads only after the kernel has finished ops.exit.
	 */
	asm volatile("" ::: "memory");
	uei.kind = ei->kind;
}

SEC(".struct_ops.link")
struct sched_ext_ops wattsched_ops = {
	.select_cpu	= (void *)wattsched_select_cpu,
	.enqueue	= (void *)wattsched_enqueue,
	.dispatch	= (void *)wattsched_dispatch,
	.running	= (void *)wattsched_running,
	.stopping	= (void *)wattsched_stopping,
	.enable		= (void *)wattsched_enable,
	.init_task	= (void *)wattsched_init_task,
	.init		= (void *)wattsched_init,
	.exit		= (void *)wattsched_exit,
	.flags		= SCX_OPS_ENQ_LAST,
	.name		= "wattsched",
};
