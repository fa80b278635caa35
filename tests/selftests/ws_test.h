/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ws_test.h - what the wattsched selftests share (ws_lib.c), and the
 * fixture pieces every program uses on top of kselftest_harness.h:
 *
 *	#include "kselftest_harness.h"
 *	#include "ws_test.h"
 *
 *	FIXTURE(loader) { struct ws_loader ld; };
 *	FIXTURE_SETUP(loader)
 *	{
 *		WS_NEED_MACHINE("numa");
 *		WS_LOADER_UP(&self->ld, LOG, "run --interval 1");
 *	}
 *	FIXTURE_TEARDOWN(loader) { ws_loader_down(&self->ld, SIGINT); }
 *	TEST_F_TIMEOUT(loader, attaches, WS_TEST_TIMEOUT) { ... ASSERT_TRUE(x) TH_LOG("..."); }
 *	TEST_HARNESS_MAIN
 *
 * Tests run as root on a kernel with sched_ext, in a VM: tests/run boots
 * one per machine shape and runs these through run_kselftest.sh.
 */
#ifndef __WS_TEST_H
#define __WS_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* Diagnostics go out as TAP comments ("# ..."). */
void ws_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Paths in the guest: the source tree, and the build output tree. */
const char *ws_src(void);
const char *ws_out(void);
/* The wattsched binary and the telemetry module. */
const char *ws_wattsched(void);
const char *ws_kmod(void);

/* Run a shell command; return its exit status (or -1), log it when verbose. */
int ws_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same, capturing up to len-1 bytes of stdout into buf. */
int ws_sh_out(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Same, logging up to 4 KB of its stdout as TAP comments (ws_sh() drops it). */
int ws_sh_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Read a small file into buf with trailing newlines stripped; <0 on error. */
int ws_read(const char *path, char *buf, size_t len);
/*
 * The live processes named @prefix... (their comm), at most @max, into
 * @pids, without starting a program; their count or -errno.
 */
int ws_pids_named(const char *prefix, pid_t *pids, int max);
/*
 * Send @sig to every process named @prefix..., and with SIGKILL again
 * while any is left (a parent may fork until it dies); how many it sent.
 */
int ws_kill_named(const char *prefix, int sig);
/* The cgroup @cg's usage_usec (its cpu.stat), read directly; 0 on error. */
unsigned long long ws_cg_usage_us(const char *cg);
/* Write a formatted line to @path in one write(2), no shell; 0 or -1. */
int ws_write(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* true when path exists */
bool ws_exists(const char *path);
/*
 * Clear the module's injected values and unload it, retrying for up to
 * 5 s: a scheduler that called its kfuncs releases it when the kernel
 * frees the programs, which 6.12 does about 2 s after the disable.
 * True once it is gone.
 */
bool ws_kmod_unload(void);

/* sched_ext state: "enabled", "disabled", ... into buf. */
int ws_scx_state(char *buf, size_t len);
long long ws_status_count(const char *key);
/* Wait up to timeout_ms for /sys/kernel/sched_ext/state to read want. */
bool ws_scx_wait_state(const char *want, int timeout_ms);

/*
 * Start `wattsched ARGS...` in the background with stdout/stderr to logfile;
 * returns its pid (or -1).  ws_loader_wait_attached() waits until root/ops
 * names wattsched, and gives up early when the loader @pid has exited
 * (0: no loader to watch).
 */
pid_t ws_loader_start(const char *logfile, const char *args);
bool ws_loader_wait_attached(pid_t pid, int timeout_ms);
/* Send sig and reap; returns the exit status as from waitpid, or -1. */
int ws_loader_stop(pid_t pid, int sig, int timeout_ms);

/* Monotonic milliseconds. */
long long ws_now_ms(void);
void ws_sleep_ms(int ms);

/*
 * Each CPU's busy share (0..1) over the next @ms, from /proc/stat, into
 * busy[WS_MAX_TEST_CPUS]; returns how many CPUs /proc/stat listed.
 */
#define WS_MAX_TEST_CPUS	64
int ws_busy_over(int ms, double *busy);
/*
 * The same, and into user[] (may be NULL) the share spent in user mode:
 * the time of the work a scheduler places, where busy also counts what
 * no scheduler moves (interrupts, softirqs, kernel threads bound there).
 */
int ws_cpu_shares_over(int ms, double *busy, double *user);
/*
 * Wait, up to @timeout_ms, for a second in which the machine's CPUs are
 * busy less than @cpus CPUs' worth together (a guest's first minute runs
 * udev's workers and module loads); the last second's sum.
 */
double ws_wait_quiet(double cpus, int timeout_ms);

/*
 * Write an injected temperature for @cpu (the telemetry module loaded with
 * inject=1), without a shell: an exec under load takes seconds here.
 */
int ws_inject_temp(int cpu, int mc);

/*
 * Run the calling test outside sched_ext (SCHED_FIFO 1) while it times
 * something, so that the load it measures cannot delay its own clock
 * readings; ws_sampler_fifo(false) returns it to SCHED_OTHER.
 */
int ws_sampler_fifo(bool on);

/* Let @pid run on CPUs @first..@last only (sched_setaffinity); -1 and errno on failure. */
int ws_allow_cpus(pid_t pid, int first, int last);

/* Fields of /proc/<pid>/stat after the command name. */
struct ws_pstat {
	char state;
	unsigned long long ticks;	/* utime + stime */
	int cpu;			/* field 39: the CPU it last ran on */
};
int ws_read_pstat(pid_t pid, struct ws_pstat *ps);

/* A task's /proc/PID/schedstat: the kernel's own account of its CPU and waits. */
struct ws_schedstat {
	long long run_ns;	/* time on a CPU */
	long long wait_ns;	/* time runnable, waiting for one */
	long long slices;	/* times it was put on a CPU */
};
int ws_read_schedstat(pid_t pid, struct ws_schedstat *ss);

/* A busy loop on CPUs @first..@last, SCHED_OTHER; the child's pid (-1 if fork failed). */
pid_t ws_spawn_hog(int first, int last);

/* The loader's control socket (docs/cli.md). */
#define WS_CTL_SOCK_PATH	"/run/wattsched/control.sock"
/* Send one raw request on it, without a CLI exec; the answer goes to buf.  0 or -1. */
int ws_ctl_raw(const char *req, size_t len, char *buf, size_t buflen);

/* Lines of dmesg matching WARNING/BUG/Oops since the mark, and the mark. */
int ws_dmesg_mark(void);
/* What in dmesg is worse than a WARNING, as grep -E patterns. */
#define WS_DMESG_WORSE	"BUG:|Oops|general protection|kernel BUG"
int ws_dmesg_bad_since(int mark, char *buf, size_t len);
/*
 * Is all that is bad in dmesg since the mark one known WARNING?  True when
 * a line matches @present_re, every WARNING: line matches @warning_re and
 * nothing worse (WS_DMESG_WORSE) was logged.  Both are grep -E patterns
 * without single quotes.
 */
bool ws_dmesg_only_warning(int mark, const char *present_re, const char *warning_re);
/*
 * Is all that is bad in dmesg since the mark 6.12's WARNING on a sched_ext
 * scheduler ended by a CPU going offline (deadline.c, task_non_contending:
 * "dl_rq->running_bw > old")?  A kernel bug: scx_simple triggers it too.
 */
bool ws_dmesg_only_612_offline_warning(int mark);

/*
 * Each test's timeout, for TEST_F_TIMEOUT: generous, since TCG runs the
 * guest 10-50x slower than hardware; a hung test still ends.
 */
#define WS_TEST_TIMEOUT		900
/* How long a loader may take to attach (TCG, an 8-CPU guest under load). */
#define WS_ATTACH_MS		60000

/* A loader the fixture started: its pid, log, and dmesg mark at start. */
struct ws_loader {
	pid_t pid;
	int dmesg_mark;
	char log[128];
};

enum ws_up {
	WS_UP,		/* attached */
	WS_UP_SKIP,	/* no sched_ext, another scheduler, or not built: why says */
	WS_UP_FAIL,	/* started but did not attach; its log went out */
};

/* Start `wattsched ARGS` with output to LOG and wait for it to attach. */
enum ws_up ws_loader_up(struct ws_loader *ld, const char *log, const char *args,
			char *why, size_t len);
/*
 * Stop it with @sig (SIGKILL after 20 s) and reap it; its wait status, or
 * -1 when it could not be reaped or sched_ext was not free 10 s later.
 */
int ws_loader_down(struct ws_loader *ld, int sig);

/*
 * Does this machine have the shape a test reasons about: "any", or "numa"
 * or "numa4" as tests/run boots them (CPU numbering, nodes, distances)?
 */
bool ws_machine_fits(const char *machine, char *why, size_t len);

#ifdef __KSELFTEST_HARNESS_H
/* In FIXTURE_SETUP: skip, with the reason, on another machine. */
#define WS_NEED_MACHINE(machine) do {					\
	char __why[256];						\
									\
	if (!ws_machine_fits(machine, __why, sizeof(__why)))		\
		SKIP(return, "%s", __why);				\
} while (0)

/* In FIXTURE_SETUP: the loader attached, or skip or fail saying why. */
#define WS_LOADER_UP(ld, log, args) do {				\
	char __why[256];						\
	enum ws_up __up = ws_loader_up(ld, log, args, __why, sizeof(__why)); \
									\
	if (__up == WS_UP_SKIP)						\
		SKIP(return, "%s", __why);				\
	ASSERT_EQ(WS_UP, __up) TH_LOG("%s", __why);			\
} while (0)
#endif

#endif /* __WS_TEST_H */
