// SPDX-License-Identifier: GPL-2.0
/*
 * t_stall.c - no task waits behind a change of the usable CPUs: work bound
 * to CPUs that a cap removes keeps running (and status says the cap is not
 * met because of it), and when every CPU is hot the least hot take work.
 * The oracles are the kernel's own: a task's run time in /proc/PID/stat,
 * CPU time in /proc/stat, and sched_ext's state.
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wstest.h"

#define LOG		"/tmp/wattsched-stall.log"
#define NR_HOGS		32

static pid_t loader, hogs[NR_HOGS];
static int nr_hogs, mark;
static bool kmod_loaded;

/* A busy loop allowed on CPUs @first..@last only. */
static pid_t spawn_hog(int first, int last)
{
	pid_t pid = fork();
	cpu_set_t set;
	int cpu;

	if (pid)
		return pid;
	CPU_ZERO(&set);
	for (cpu = first; cpu <= last; cpu++)
		CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		_exit(1);
	for (;;)
		__asm__ volatile("" ::: "memory");
}

static void stop_hogs(void)
{
	int i;

	for (i = 0; i < nr_hogs; i++) {
		kill(hogs[i], SIGKILL);
		waitpid(hogs[i], NULL, 0);
	}
	nr_hogs = 0;
}

static enum ws_result stall_setup(void **ctx)
{
	char st[64];

	if (ws_scx_state(st, sizeof(st)) < 0)
		return ws_skip("kernel has no sched_ext");
	if (sysconf(_SC_NPROCESSORS_ONLN) < 8)
		return ws_skip("needs 8 CPUs, have %ld", sysconf(_SC_NPROCESSORS_ONLN));
	mark = ws_dmesg_mark();
	loader = ws_loader_start(LOG, "run --interval 0");
	if (loader < 0 || !ws_loader_wait_attached(60000)) {
		ws_sh("tail -n 20 " LOG " | sed 's/^/# /'");
		ws_loader_stop(loader, SIGKILL, 5000);
		return WS_FAIL;
	}
	return WS_PASS;
}

static void stall_cleanup(void *ctx)
{
	stop_hogs();
	if (kmod_loaded) {
		ws_sh("echo all > /sys/kernel/debug/wattsched/inject/clear 2>/dev/null; "
		      "rmmod wattsched_telemetry");
		kmod_loaded = false;
	}
	ws_loader_stop(loader, SIGINT, 20000);
	ws_scx_wait_state("disabled", 10000);
	ws_sh("grep -E 'cap|pinned|thermal|ended|error' " LOG " | tail -n 12 | sed 's/^/# loader: /'");
}

/* One request on the control socket, without a CLI exec (seconds under load). */
static int ctl(const char *req, char *buf, size_t len)
{
	return ws_ctl_raw(req, strlen(req), buf, len);
}

static unsigned long long ticks(pid_t pid)
{
	struct ws_pstat ps;

	return ws_read_pstat(pid, &ps) ? 0 : ps.ticks;
}

/*
 * Hogs bound to each node, then a cap of one CPU: the node-1 hogs may run
 * on no CPU the cap keeps.  Every hog must run in every 3 s window (the
 * old code queued the bound ones behind the change until the watchdog
 * ended the scheduler), and status must say the cap is not met, and the
 * loader must say so once, not withdraw it while the bound work runs (the
 * pinned set used to be emptied every 10 s to see if it was still needed).
 */
static enum ws_result bound_run(void *ctx)
{
	unsigned long long before[NR_HOGS], now;
	char st[4096], buf[2048];
	int w, i, stalled = 0, unmet;

	for (i = 0; i < 3; i++)
		hogs[nr_hogs++] = spawn_hog(4, 7);
	for (i = 0; i < 3; i++)
		hogs[nr_hogs++] = spawn_hog(0, 3);
	ws_sleep_ms(2000);
	WS_ASSERT(ctl("{\"op\":\"cap\",\"watts\":10}", st, sizeof(st)) == 0 &&
		  strstr(st, "\"ok\":true"), "cap 10 refused: %s", st);
	for (i = 0; i < nr_hogs; i++)
		before[i] = ticks(hogs[i]);
	for (w = 0; w < 10; w++) {
		ws_sleep_ms(3000);
		for (i = 0; i < nr_hogs; i++) {
			now = ticks(hogs[i]);
			if (now <= before[i]) {
				ws_log("window %d: hog %d (pid %d, CPUs %s) did not run", w, i,
				       hogs[i], i < 3 ? "4-7" : "0-3");
				stalled++;
			}
			before[i] = now;
		}
		WS_ASSERT(ws_scx_state(buf, sizeof(buf)) > 0 && !strcmp(buf, "enabled"),
			  "the scheduler ended in window %d (sched_ext %s)", w, buf);
	}
	WS_ASSERT(!stalled, "%d hog-windows without running under the cap", stalled);
	WS_ASSERT(ctl("{\"op\":\"get\"}", st, sizeof(st)) == 0, "get failed");
	ws_log("under cap 10 W: %s", st);
	WS_ASSERT(strstr(st, "\"cap_unmet_pinned\":true") && !strstr(st, "\"pinned_cpus\":[]"),
		  "status does not say the cap is unmet because of pinned work: %s", st);
	/* said once and kept: the pinned set does not flap while the bound work runs */
	WS_ASSERT(ws_sh_out(buf, sizeof(buf), "grep -c 'cap is not met' " LOG "; true") == 0,
		  "grep");
	unmet = atoi(buf);
	WS_ASSERT(ws_sh_out(buf, sizeof(buf), "grep -c 'fits the cap again' " LOG "; true") == 0,
		  "grep");
	ws_log("in 30 s under the cap the loader said 'not met' %d times, 'fits again' %d times",
	       unmet, atoi(buf));
	WS_ASSERT(unmet == 1 && atoi(buf) == 0,
		  "the unmet cap was reported %d times and withdrawn %d times in 30 s", unmet,
		  atoi(buf));
	WS_ASSERT(!ws_dmesg_bad_since(mark, buf, sizeof(buf)), "dmesg: %s", buf);
	WS_ASSERT(ctl("{\"op\":\"cap\",\"clear\":true}", st, sizeof(st)) == 0 &&
		  strstr(st, "\"ok\":true"), "cap --clear refused: %s", st);
	return WS_PASS;
}
WS_TEST(stall_bound_work_under_cap,
	"hogs bound to each node and a cap of one CPU: every hog runs in every 3 s window, "
	"the scheduler stays, status says the cap is unmet because of pinned work, once",
	"numa", stall_setup, bound_run, stall_cleanup);

/*
 * Every CPU hot (limit 100 C, hot from 95 C): cpu0 and cpu1 at 95.5 C, the
 * rest at 99.5 C.  The least hot take the work; the rest stay avoided.
 */
static enum ws_result all_hot_run(void *ctx)
{
	double busy[WS_MAX_TEST_CPUS];
	char st[4096];
	int cpu, hot_busy = 0;

	if (!ws_exists(ws_kmod()))
		return ws_skip("%s not built", ws_kmod());
	WS_ASSERT(ws_sh("insmod %s inject=1", ws_kmod()) == 0, "insmod inject=1 failed");
	kmod_loaded = true;
	for (cpu = 0; cpu < NR_HOGS; cpu++)
		hogs[nr_hogs++] = spawn_hog(0, 7);
	ws_sleep_ms(2000);
	for (cpu = 0; cpu < 8; cpu++)
		WS_ASSERT(ws_inject_temp(cpu, cpu < 2 ? 95500 : 99500) == 0, "inject cpu%d", cpu);
	ws_sleep_ms(2000);
	ws_busy_over(2000, busy);
	for (cpu = 2; cpu < 8; cpu++)
		hot_busy += busy[cpu] > 0.5;
	ws_log("every CPU hot: busy cpu0 %.0f%% cpu1 %.0f%%, %d of cpu2-7 above 50%%",
	       busy[0] * 100, busy[1] * 100, hot_busy);
	WS_ASSERT(ctl("{\"op\":\"get\"}", st, sizeof(st)) == 0, "get failed");
	ws_log("state: %s", st);
	WS_ASSERT(busy[0] > 0.8 && busy[1] > 0.8, "the least hot CPUs are not taking the work");
	WS_ASSERT(hot_busy <= 1, "%d of the hottest CPUs still take work", hot_busy);
	WS_ASSERT(strstr(st, "\"hot_cpus\":[2,3,4,5,6,7]"), "hot CPUs in status: %s", st);
	return WS_PASS;
}
WS_TEST(stall_all_cpus_hot,
	"every CPU injected hot: the least hot (2 of 8) take the work, the rest stay avoided, "
	"never none",
	"numa", stall_setup, all_hot_run, stall_cleanup);

/* The time @pid has run, in ns (/proc/PID/schedstat), or -1. */
static long long run_ns(pid_t pid)
{
	char path[64], buf[128];

	snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
	return ws_read(path, buf, sizeof(buf)) > 0 ? atoll(buf) : -1;
}

#define LIGHT_HOGS	30

/*
 * A light task among many on one CPU: a nice-19 hog (weight 15) and 30
 * nice-0 hogs (1024) on cpu1.  Each 5 ms slice charges the light one
 * 340 ms of virtual time; uncapped, that lead kept it waiting about 30 x
 * 340 ms = 10 s between runs (21 s in a soak, which RCU's stall detector
 * ended).  With the lead capped at 10 slices it is about 30 x 50 ms.
 */
static enum ws_result light_run(void *ctx)
{
	long long prev, now, t, last_ran, longest = 0, end;
	int i, runs = 0;
	pid_t light;

	light = hogs[nr_hogs++] = spawn_hog(1, 1);
	WS_ASSERT(light > 0 && setpriority(PRIO_PROCESS, light, 19) == 0, "nice 19 hog");
	for (i = 0; i < LIGHT_HOGS; i++)
		hogs[nr_hogs++] = spawn_hog(1, 1);
	ws_sleep_ms(2000);
	prev = run_ns(light);
	last_ran = ws_now_ms();
	for (end = last_ran + 20000; (t = ws_now_ms()) < end; ws_sleep_ms(20)) {
		now = run_ns(light);
		if (now == prev)
			continue;
		if (t - last_ran > longest)
			longest = t - last_ran;
		last_ran = t;
		prev = now;
		runs++;
	}
	if (t - last_ran > longest)
		longest = t - last_ran;
	ws_log("nice 19 among %d nice 0 hogs on cpu1: ran %d times in 20 s, longest wait %lld ms",
	       LIGHT_HOGS, runs, longest);
	WS_ASSERT(runs >= 4, "the nice 19 hog ran only %d times in 20 s", runs);
	WS_ASSERT(longest < 5000, "the nice 19 hog waited %lld ms between runs", longest);
	return WS_PASS;
}
WS_TEST(stall_light_task_bounded,
	"a nice 19 hog among 30 nice 0 hogs on one CPU waits under 5 s between runs "
	"(/proc/PID/schedstat): a light task's lead is capped",
	"numa", stall_setup, light_run, stall_cleanup);
