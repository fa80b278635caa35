/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wstest.h - the VM test runner's registration and assertion API.
 *
 * Each tests/vm/t_*.c file defines tests and registers them:
 *
 *	static enum ws_result foo_run(void *ctx)
 *	{
 *		WS_ASSERT(x == 1, "x is %d", x);
 *		return WS_PASS;
 *	}
 *	WS_TEST(foo, "one-line description", "basic", NULL, foo_run, NULL);
 *
 * The third argument names the VM topology (boot) the test runs in; see
 * tests/run for the list.  setup may return WS_SKIP with a reason set by
 * ws_skip(); cleanup always runs when setup succeeded.  The runner emits
 * TAP version 13 and exits non-zero when any test failed.
 */
#ifndef __WS_TEST_H
#define __WS_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

enum ws_result {
	WS_PASS,
	WS_FAIL,
	WS_SKIP,
};

struct ws_test {
	const char *name;
	const char *desc;
	const char *topo;
	enum ws_result (*setup)(void **ctx);
	enum ws_result (*run)(void *ctx);
	void (*cleanup)(void *ctx);
	struct ws_test *next;
};

void ws_test_register(struct ws_test *t);

#define WS_TEST(_name, _desc, _topo, _setup, _run, _cleanup)		\
	static struct ws_test __ws_test_##_name = {			\
		.name = #_name, .desc = _desc, .topo = _topo,		\
		.setup = _setup, .run = _run, .cleanup = _cleanup,	\
	};								\
	__attribute__((constructor)) static void __ws_reg_##_name(void) \
	{								\
		ws_test_register(&__ws_test_##_name);			\
	}

/* Diagnostics go out as TAP comments ("# ..."). */
void ws_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define WS_ASSERT(cond, fmt, ...)					\
	do {								\
		if (!(cond)) {						\
			ws_log("%s:%d: assertion '%s' failed: " fmt,	\
			       __FILE__, __LINE__, #cond, ##__VA_ARGS__); \
			return WS_FAIL;					\
		}							\
	} while (0)

/* Set the reason for a WS_SKIP result. */
enum ws_result ws_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

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

/* Read a small file into buf with trailing newlines stripped; <0 on error. */
int ws_read(const char *path, char *buf, size_t len);
/* true when path exists */
bool ws_exists(const char *path);

/* sched_ext state: "enabled", "disabled", ... into buf. */
int ws_scx_state(char *buf, size_t len);
/* Wait up to timeout_ms for /sys/kernel/sched_ext/state to read want. */
bool ws_scx_wait_state(const char *want, int timeout_ms);

/*
 * Start `wattsched ARGS...` in the background with stdout/stderr to logfile;
 * returns its pid (or -1).  ws_loader_wait_attached() waits until root/ops
 * names wattsched.
 */
pid_t ws_loader_start(const char *logfile, const char *args);
bool ws_loader_wait_attached(int timeout_ms);
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

/* Fields of /proc/<pid>/stat after the command name. */
struct ws_pstat {
	char state;
	unsigned long long ticks;	/* utime + stime */
	int cpu;			/* field 39: the CPU it last ran on */
};
int ws_read_pstat(pid_t pid, struct ws_pstat *ps);

/* The loader's control socket (docs/cli.md). */
#define WS_CTL_SOCK_PATH	"/run/wattsched/control.sock"
/* Send one raw request on it, without a CLI exec; the answer goes to buf.  0 or -1. */
int ws_ctl_raw(const char *req, size_t len, char *buf, size_t buflen);

/* Lines of dmesg matching WARNING/BUG/Oops since the mark, and the mark. */
int ws_dmesg_mark(void);
int ws_dmesg_bad_since(int mark, char *buf, size_t len);

#endif /* __WS_TEST_H */
