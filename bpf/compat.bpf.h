/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compat.bpf.h - everything that differs between the kernels wattsched
 * supports sits here, each block dated, so it can go once the oldest kernel
 * it serves is gone.  Kfuncs are __ksym __weak and chosen at load time with
 * bpf_ksym_exists(); the rest of bpf/ calls only the ws_* wrappers.
 *
 * Also the small BPF-side helpers every sched_ext scheduler needs
 * (struct_ops section macros, scx_bpf_error()), written here rather than
 * copied from the kernel tree, which does not ship them in a package.
 */
#ifndef __WS_COMPAT_BPF_H
#define __WS_COMPAT_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

/* errno values: vmlinux.h has no macros. */
#ifndef ENOENT
#define ENOENT		2
#define ENOMEM		12
#define EINVAL		22
#endif

#define BPF_STRUCT_OPS(name, args...)	SEC("struct_ops/" #name) BPF_PROG(name, ##args)
#define BPF_STRUCT_OPS_SLEEPABLE(name, args...) \
	SEC("struct_ops.s/" #name) BPF_PROG(name, ##args)

#ifndef likely
#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)
#endif

static __always_inline const struct cpumask *cast_mask(struct bpf_cpumask *mask)
{
	return (const struct cpumask *)mask;
}

/*
 * scx_bpf_error(fmt, args...): end the scheduler with a formatted reason.
 * The kernel then falls back to EEVDF and the loader prints the message.
 */
#define scx_bpf_error(fmt, args...)						\
	({									\
		static char ___fmt[] = fmt;					\
		unsigned long long ___param[___bpf_narg(args)];			\
		_Pragma("GCC diagnostic push")					\
		_Pragma("GCC diagnostic ignored \"-Wint-conversion\"")		\
		___bpf_fill(___param, args);					\
		_Pragma("GCC diagnostic pop")					\
		scx_bpf_error_bstr(___fmt, ___param, sizeof(___param));		\
	})

/*
 * v6.13: scx_bpf_dispatch{,_vtime}() became scx_bpf_dsq_insert{,_vtime}()
 * and scx_bpf_consume() became scx_bpf_dsq_move_to_local().  The 6.12
 * names are kept as fallbacks; drop them when 6.12 LTS is no longer a target.
 */
void scx_bpf_dispatch___compat(struct task_struct *p, u64 dsq_id, u64 slice,
			       u64 enq_flags) __ksym __weak;
void scx_bpf_dispatch_vtime___compat(struct task_struct *p, u64 dsq_id, u64 slice,
				     u64 vtime, u64 enq_flags) __ksym __weak;
bool scx_bpf_consume___compat(u64 dsq_id) __ksym __weak;

static __always_inline void ws_dsq_insert(struct task_struct *p, u64 dsq_id,
					  u64 slice, u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_insert))
		scx_bpf_dsq_insert(p, dsq_id, slice, enq_flags);
	else
		scx_bpf_dispatch___compat(p, dsq_id, slice, enq_flags);
}

static __always_inline void ws_dsq_insert_vtime(struct task_struct *p, u64 dsq_id,
						u64 slice, u64 vtime, u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_insert_vtime))
		scx_bpf_dsq_insert_vtime(p, dsq_id, slice, vtime, enq_flags);
	else
		scx_bpf_dispatch_vtime___compat(p, dsq_id, slice, vtime, enq_flags);
}

static __always_inline bool ws_dsq_move_to_local(u64 dsq_id)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move_to_local))
		return scx_bpf_dsq_move_to_local(dsq_id);
	return scx_bpf_consume___compat(dsq_id);
}

/*
 * v6.19: scx_bpf_dsq_peek() lets dispatch compare queue heads.  Without it,
 * ws_dsq_peek() returns NULL and dispatch falls back to a fixed order
 * (per-CPU queue first).
 */
static __always_inline struct task_struct *ws_dsq_peek(u64 dsq_id)
{
	if (bpf_ksym_exists(scx_bpf_dsq_peek))
		return scx_bpf_dsq_peek(dsq_id);
	return NULL;
}

/*
 * v6.14: scx_bpf_now() gives a cheap rq-clock-based timestamp; before it,
 * bpf_ktime_get_ns().
 */
static __always_inline u64 ws_now(void)
{
	if (bpf_ksym_exists(scx_bpf_now))
		return scx_bpf_now();
	return bpf_ktime_get_ns();
}

/*
 * v6.9: scx_bpf_cpuperf_set() appeared.  On older kernels perf targets are
 * ignored rather than failing the load.
 */
static __always_inline bool ws_cpuperf_set(s32 cpu, u32 perf)
{
	if (!bpf_ksym_exists(scx_bpf_cpuperf_set))
		return false;
	scx_bpf_cpuperf_set(cpu, perf);
	return true;
}

#endif /* __WS_COMPAT_BPF_H */
