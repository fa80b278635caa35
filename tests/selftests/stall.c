// SPDX-License-Identifier: GPL-2.0
/*
 * stall.c - no task waits behind a change of the usable CPUs: work bound
 * to CPUs that a cap removes keeps running (and status says the cap is not
 * met because of it), when every CPU is hot the least hot take work, a
 * task bound to a CPU does not wait behind its LLC's queue, and when the
 * CPU a cap keeps cannot serve its queue the backstop does.  The oracles are the kernel's own: a task's run time in /proc/PID/stat,
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

#include "kselftest_harness.h"
#include "ws_test.h"

#define LOG		"/tmp/wattsched-stall.log"
#define NR_HOGS		64

static pid_t hogs[NR_HOGS];
static int nr_hogs;
static bool kmod_loaded;

static void stop_hogs(void)
{
	int i;

	for (i = 0; i < nr_hogs; i++) {
		kill(hogs[i], SIGKILL);
		waitpid(hogs[i], NULL, 0);
	}
	nr_hogs = 0;
}

#define EXT_SERVER	"/sys/kernel/debug/sched/ext_server/cpu%d/runtime"
#define RT_RUNTIME	"/proc/sys/kernel/sched_rt_runtime_us"
#define STARVE_HOGS	40

/* What the test changed in the kernel, put back by restore_starver(). */
static char ext_runtime_was[32], rt_runtime_was[32];
static int starved_cpu = -1;

/* @cpu gives our tasks 5 ms a second (its ext server) and RT the rest. */
static int starve_cpu(int cpu)
{
	char path[96];

	snprintf(path, sizeof(path), EXT_SERVER, cpu);
	if (ws_read(path, ext_runtime_was, sizeof(ext_runtime_was)) <= 0 ||
	    ws_read(RT_RUNTIME, rt_runtime_was, sizeof(rt_runtime_was)) <= 0)
		return -1;
	starved_cpu = cpu;
	return ws_sh("echo 5000000 > %s && echo -1 > " RT_RUNTIME, path);
}

static void restore_starver(void)
{
	if (starved_cpu < 0)
		return;
	ws_sh("echo %ld > " RT_RUNTIME "; echo %ld > " EXT_SERVER, atol(rt_runtime_was),
	      atol(ext_runtime_was), starved_cpu);
	starved_cpu = -1;
}

/* The numa VM (8 CPUs) and the loader attached, steering every period. */
FIXTURE(stall) {
	struct ws_loader ld;
};

FIXTURE_SETUP(stall)
{
	WS_NEED_MACHINE("numa");
	WS_LOADER_UP(&self->ld, LOG, "run --interval 0");
}

FIXTURE_TEARDOWN(stall)
{
	stop_hogs();
	restore_starver();
	if (kmod_loaded) {
		ws_kmod_unload();
		kmod_loaded = false;
	}
	ws_loader_down(&self->ld, SIGINT);
	ws_sh_log("grep -E 'cap|pinned|thermal|ended|error' " LOG " | tail -n 12 | sed 's/^/loader: /'");
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
TEST_F_TIMEOUT(stall, stall_bound_work_under_cap, WS_TEST_TIMEOUT)
{
	unsigned long long before[NR_HOGS], now;
	char st[4096], buf[2048];
	int w, i, stalled = 0, unmet;

	for (i = 0; i < 3; i++)
		hogs[nr_hogs++] = ws_spawn_hog(4, 7);
	for (i = 0; i < 3; i++)
		hogs[nr_hogs++] = ws_spawn_hog(0, 3);
	ws_sleep_ms(2000);
	ASSERT_TRUE(ctl("{\"op\":\"cap\",\"watts\":10}", st, sizeof(st)) == 0 &&
		    strstr(st, "\"ok\":true")) TH_LOG("cap 10 refused: %s", st);
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
		ASSERT_TRUE(ws_scx_state(buf, sizeof(buf)) > 0 && !strcmp(buf, "enabled"))
			TH_LOG("the scheduler ended in window %d (sched_ext %s)", w, buf);
	}
	ASSERT_TRUE(!stalled) TH_LOG("%d hog-windows without running under the cap", stalled);
	ASSERT_TRUE(ctl("{\"op\":\"get\"}", st, sizeof(st)) == 0) TH_LOG("get failed");
	ws_log("under cap 10 W: %s", st);
	ASSERT_TRUE(strstr(st, "\"cap_unmet_pinned\":true") && !strstr(st, "\"pinned_cpus\":[]"))
		TH_LOG("status does not say the cap is unmet because of pinned work: %s", st);
	/* said once and kept: the pinned set does not flap while the bound work runs */
	ASSERT_TRUE(ws_sh_out(buf, sizeof(buf), "grep -c 'cap is not met' " LOG "; true") == 0)
		TH_LOG("grep");
	unmet = atoi(buf);
	ASSERT_TRUE(ws_sh_out(buf, sizeof(buf), "grep -c 'fits the cap again' " LOG "; true") == 0)
		TH_LOG("grep");
	ws_log("in 30 s under the cap the loader said 'not met' %d times, 'fits again' %d times",
	       unmet, atoi(buf));
	ASSERT_TRUE(unmet == 1 && atoi(buf) == 0)
		TH_LOG("the unmet cap was reported %d times and withdrawn %d times in 30 s", unmet,
		    atoi(buf));
	ASSERT_TRUE(!ws_dmesg_bad_since(self->ld.dmesg_mark, buf, sizeof(buf)))
		TH_LOG("dmesg: %s", buf);
	ASSERT_TRUE(ctl("{\"op\":\"cap\",\"clear\":true}", st, sizeof(st)) == 0 &&
		    strstr(st, "\"ok\":true")) TH_LOG("cap --clear refused: %s", st);
}

/*
 * Every CPU hot (limit 100 C, hot from 95 C): cpu0 and cpu1 at 95.5 C, the
 * rest at 99.5 C.  The least hot take the work; the rest stay avoided.
 */
TEST_F_TIMEOUT(stall, stall_all_cpus_hot, WS_TEST_TIMEOUT)
{
	double busy[WS_MAX_TEST_CPUS];
	char st[4096];
	int cpu, hot_busy = 0;

	if (!ws_exists(ws_kmod()))
		SKIP(return, "%s not built", ws_kmod());
	ASSERT_TRUE(ws_sh("insmod %s inject=1", ws_kmod()) == 0) TH_LOG("insmod inject=1 failed");
	kmod_loaded = true;
	for (cpu = 0; cpu < 32; cpu++)
		hogs[nr_hogs++] = ws_spawn_hog(0, 7);
	ws_sleep_ms(2000);
	for (cpu = 0; cpu < 8; cpu++)
		ASSERT_TRUE(ws_inject_temp(cpu, cpu < 2 ? 95500 : 99500) == 0)
			TH_LOG("inject cpu%d", cpu);
	ws_sleep_ms(2000);
	ws_busy_over(2000, busy);
	for (cpu = 2; cpu < 8; cpu++)
		hot_busy += busy[cpu] > 0.5;
	ws_log("every CPU hot: busy cpu0 %.0f%% cpu1 %.0f%%, %d of cpu2-7 above 50%%",
	       busy[0] * 100, busy[1] * 100, hot_busy);
	ASSERT_TRUE(ctl("{\"op\":\"get\"}", st, sizeof(st)) == 0) TH_LOG("get failed");
	ws_log("state: %s", st);
	ASSERT_TRUE(busy[0] > 0.8 && busy[1] > 0.8)
		TH_LOG("the least hot CPUs are not taking the work");
	ASSERT_TRUE(hot_busy <= 1) TH_LOG("%d of the hottest CPUs still take work", hot_busy);
	ASSERT_NE(NULL, strstr(st, "\"hot_cpus\":[2,3,4,5,6,7]"))
		TH_LOG("hot CPUs in status: %s", st);
}

/* The time @pid has run, in ns (/proc/PID/schedstat), or -1. */
static long long run_ns(pid_t pid)
{
	struct ws_schedstat ss;

	return ws_read_schedstat(pid, &ss) ? -1 : ss.run_ns;
}

#define LIGHT_HOGS	30

/*
 * A light task among many on one CPU: a nice-19 hog (weight 15) and 30
 * nice-0 hogs (1024) on cpu1.  Each 5 ms slice charges the light one
 * 340 ms of virtual time; uncapped, that lead kept it waiting about 30 x
 * 340 ms = 10 s between runs (21 s in a soak, which RCU's stall detector
 * ended).  With the lead capped at 10 slices it is about 30 x 50 ms.
 */
TEST_F_TIMEOUT(stall, stall_light_task_bounded, WS_TEST_TIMEOUT)
{
	long long prev, now, t, last_ran, longest = 0, end;
	int i, runs = 0;
	pid_t light;

	light = hogs[nr_hogs++] = ws_spawn_hog(1, 1);
	ASSERT_TRUE(light > 0 && setpriority(PRIO_PROCESS, light, 19) == 0) TH_LOG("nice 19 hog");
	for (i = 0; i < LIGHT_HOGS; i++)
		hogs[nr_hogs++] = ws_spawn_hog(1, 1);
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
	ASSERT_TRUE(runs >= 4) TH_LOG("the nice 19 hog ran only %d times in 20 s", runs);
	ASSERT_TRUE(longest < 5000) TH_LOG("the nice 19 hog waited %lld ms between runs", longest);
}

/*
 * A task bound to cpu3 whose virtual time comes from a clock far ahead of
 * its LLC queue's.  Virtual time is per queue: cpu3 alone with a nice-19
 * hog runs its clock about 100 times faster than the LLC queue's, where
 * five hogs share cpus 0-2.  The bound task starts there, then the nice-19
 * hog goes and the five may run on cpu3 too.  Ordered by virtual time
 * alone, cpu3 took the LLC queue's head for as long as the hogs took to
 * catch up (minutes; CI saw a task bound to cpu3 get no CPU time in 4 s in
 * topo_pinned_affinity).  Now a task entering cpu3's own queue is placed
 * against the LLC queue's head, and whichever head has waited 100 ms goes
 * first: it must run many times in 4 s.
 */
TEST_F_TIMEOUT(stall, stall_pinned_clock_ahead, WS_TEST_TIMEOUT)
{
	struct ws_schedstat s0, s1;
	pid_t heavy, bound;
	int i;

	for (i = 0; i < 5; i++)
		hogs[nr_hogs++] = ws_spawn_hog(0, 2);
	ws_sleep_ms(1000);
	heavy = hogs[nr_hogs++] = ws_spawn_hog(3, 3);
	ASSERT_TRUE(heavy > 0 && setpriority(PRIO_PROCESS, heavy, 19) == 0) TH_LOG("nice 19 hog");
	ws_sleep_ms(1500);
	bound = hogs[nr_hogs++] = ws_spawn_hog(3, 3);
	ASSERT_TRUE(bound > 0) TH_LOG("cannot start the task bound to cpu3");
	ws_sleep_ms(500);
	kill(heavy, SIGKILL);
	for (i = 0; i < 5; i++)
		ASSERT_EQ(0, ws_allow_cpus(hogs[i], 0, 3))
			TH_LOG("cannot widen hog %d to cpus 0-3", hogs[i]);
	ws_sleep_ms(500);
	ASSERT_EQ(0, ws_read_schedstat(bound, &s0)) TH_LOG("cannot read task %d", bound);
	ws_sleep_ms(4000);
	ASSERT_EQ(0, ws_read_schedstat(bound, &s1)) TH_LOG("cannot read task %d", bound);
	ws_log("bound to cpu3 beside 5 hogs of cpus 0-3: ran %lld times, %lld ms in 4 s",
	       s1.slices - s0.slices, (s1.run_ns - s0.run_ns) / 1000000);
	ASSERT_TRUE(s1.slices - s0.slices >= 10)
		TH_LOG("the task bound to cpu3 ran %lld times in 4 s", s1.slices - s0.slices);
	ASSERT_TRUE(s1.run_ns - s0.run_ns >= 50000000LL)
		TH_LOG("the task bound to cpu3 ran %lld ms in 4 s", (s1.run_ns - s0.run_ns) / 1000000);
}

#define CPU3_ONLINE	"/sys/devices/system/cpu/cpu3/online"

/* The CPUs a cap keeps, from the daemon's state: "[3]" and the like. */
static bool active_list_is(const char *want, char *st, size_t len)
{
	char key[64];

	snprintf(key, sizeof(key), "\"active_cpu_list\":%s", want);
	return ctl("{\"op\":\"get\"}", st, len) == 0 && strstr(st, key);
}

/*
 * The one CPU a cap keeps goes offline.  From the moment the kernel marks
 * it inactive it runs no task but per-CPU kthreads, and it cannot take
 * work from the queues; the kernel tells the scheduler only after an RCU
 * grace period, which needs RCU's kthreads to run somewhere.  A 60-minute
 * soak hit this (cap 10 W, its CPU offlined): nothing ran the queues, the
 * offline hung for 37 s and the watchdog ended the scheduler.  The offline
 * must finish, the loader restart the scheduler (hotplug), and no stall.
 */
TEST_F_TIMEOUT(stall, stall_usable_cpu_offlined, WS_TEST_TIMEOUT)
{
	char st[4096], buf[2048];
	long long t0, t_off;
	int i, rc;

	/* work bound to cpu3 makes the cap keep cpu3 (pinned-first) */
	hogs[nr_hogs++] = ws_spawn_hog(3, 3);
	for (i = 0; i < 12; i++)
		hogs[nr_hogs++] = ws_spawn_hog(0, 7);
	ws_sleep_ms(2000);
	ASSERT_TRUE(ctl("{\"op\":\"cap\",\"watts\":10}", st, sizeof(st)) == 0 &&
		    strstr(st, "\"ok\":true")) TH_LOG("cap 10 refused: %s", st);
	for (t0 = ws_now_ms(); !active_list_is("[3]", st, sizeof(st)) &&
	     ws_now_ms() - t0 < 30000;)
		ws_sleep_ms(500);
	ASSERT_TRUE(strstr(st, "\"active_cpu_list\":[3]") != NULL)
		TH_LOG("the cap did not come to keep cpu3 alone: %s", st);
	ws_log("cap 10 W keeps cpu3 alone; offlining cpu3 under %d hogs", nr_hogs);

	t0 = ws_now_ms();
	rc = ws_sh("timeout 90 sh -c 'echo 0 > " CPU3_ONLINE "'");
	t_off = ws_now_ms() - t0;
	ws_log("cpu3 offline: exit %d after %lld ms", rc, t_off);
	for (t0 = ws_now_ms(); ws_now_ms() - t0 < 60000; ws_sleep_ms(500))
		if (ws_scx_state(buf, sizeof(buf)) > 0 && !strcmp(buf, "enabled"))
			break;
	ws_log("sched_ext after the offline: %s", buf);
	stop_hogs();
	ctl("{\"op\":\"cap\",\"clear\":true}", st, sizeof(st));
	ws_sh("echo 1 > " CPU3_ONLINE);
	ASSERT_EQ(0, rc) TH_LOG("offlining cpu3 failed or hung");
	ASSERT_TRUE(ws_sh("dmesg | tail -n +%d | grep -E 'runnable task stall|failed to check in'",
			  self->ld.dmesg_mark + 1) != 0)
		TH_LOG("the watchdog ended the scheduler");
	if (ws_dmesg_only_612_offline_warning(self->ld.dmesg_mark))
		SKIP(return, "dmesg not judged: 6.12's deadline.c WARNING when a CPU offline ends any sched_ext scheduler (scx_simple too)");
	ASSERT_TRUE(!ws_dmesg_bad_since(self->ld.dmesg_mark, buf, sizeof(buf)))
		TH_LOG("dmesg: %s", buf);
}

/* The one CPU the cap keeps, from the daemon's state, or -1. */
static int only_active_cpu(char *st, size_t len)
{
	const char *key = "\"active_cpu_list\":[", *at;
	int cpu;
	char end;

	if (ctl("{\"op\":\"get\"}", st, len) || !(at = strstr(st, key)) ||
	    sscanf(at + strlen(key), "%d%c", &cpu, &end) != 2 || end != ']')
		return -1;
	return cpu;
}

/* A SCHED_FIFO busy loop bound to @cpu: no task of ours runs there but in RT's 5 %. */
static pid_t spawn_rt_hog(int cpu)
{
	struct sched_param sp = { .sched_priority = 10 };
	pid_t pid = fork();
	cpu_set_t set;

	if (pid)
		return pid;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) || sched_setscheduler(0, SCHED_FIFO, &sp))
		_exit(1);
	for (;;)
		__asm__ volatile("" ::: "memory");
}

/*
 * The one CPU a cap keeps cannot serve its queue: a real-time busy loop
 * holds it, RT throttling off, its ext server cut to 5 ms a second (one
 * slice), and 40 hogs wait in its LLC's queue, 40 s a turn.  The shape of
 * the soak's stall, where the kept CPU was going offline.  A head that has
 * waited 2 s is taken by any CPU of its LLC, cap or not, and the
 * scheduler's own timer kicks idle CPUs to look.  Over 40 s the kernel's
 * watchdog (30 s) must not end the scheduler, no sampled hog may wait 10 s,
 * and the starved counter must move.  The test runs SCHED_FIFO: its own
 * turns do not depend on the scheduler under test.
 */
TEST_F_TIMEOUT(stall, stall_usable_cpu_monopolized, WS_TEST_TIMEOUT)
{
	struct sched_param sp = { .sched_priority = 20 };
	long long t0, t, s0, s1, last[8], seen[8], longest = 0, now;
	char st[4096], buf[2048], path[96];
	int i, cpu = -1;

	ASSERT_EQ(0, sched_setscheduler(0, SCHED_FIFO, &sp)) TH_LOG("SCHED_FIFO for the test");
	for (i = 0; i < STARVE_HOGS; i++) {
		hogs[nr_hogs] = ws_spawn_hog(0, 7);
		ASSERT_TRUE(hogs[nr_hogs] > 0) TH_LOG("cannot start hog %d", i);
		nr_hogs++;
	}
	ASSERT_TRUE(ctl("{\"op\":\"cap\",\"watts\":10}", st, sizeof(st)) == 0 &&
		    strstr(st, "\"ok\":true")) TH_LOG("cap 10 refused: %s", st);
	for (t0 = ws_now_ms(); (cpu = only_active_cpu(st, sizeof(st))) < 0 &&
	     ws_now_ms() - t0 < 60000;)
		ws_sleep_ms(500);
	ASSERT_TRUE(cpu >= 0) TH_LOG("the cap did not come to keep one CPU: %s", st);
	snprintf(path, sizeof(path), EXT_SERVER, cpu);
	if (access(path, W_OK))
		SKIP(return, "no ext server on this kernel (%s): an RT loop starves cpu%d's kthreads",
		     path, cpu);
	s0 = ws_status_count("starved");
	hogs[nr_hogs] = spawn_rt_hog(cpu);
	ASSERT_TRUE(hogs[nr_hogs] > 0) TH_LOG("cannot start the RT hog");
	nr_hogs++;
	ASSERT_EQ(0, starve_cpu(cpu)) TH_LOG("cannot cut cpu%d's ext server", cpu);
	ws_log("cap 10 W keeps cpu%d alone; a SCHED_FIFO loop holds it beside %d hogs",
	       cpu, STARVE_HOGS);
	for (i = 0; i < 8; i++) {
		seen[i] = run_ns(hogs[i]);
		last[i] = ws_now_ms();
	}
	for (t0 = ws_now_ms(); (t = ws_now_ms()) - t0 < 40000; ws_sleep_ms(200)) {
		for (i = 0; i < 8; i++) {
			now = run_ns(hogs[i]);
			if (now != seen[i]) {
				seen[i] = now;
				last[i] = t;
			}
			if (t - last[i] > longest)
				longest = t - last[i];
		}
	}
	ASSERT_TRUE(ws_scx_state(buf, sizeof(buf)) > 0 && !strcmp(buf, "enabled"))
		TH_LOG("the scheduler ended (sched_ext %s)", buf);
	s1 = ws_status_count("starved");
	ws_log("in 40 s: longest wait of 8 sampled hogs %lld ms; starved tasks taken "
	       "by any CPU %lld", longest, s1 - s0);
	stop_hogs();
	restore_starver();
	ctl("{\"op\":\"cap\",\"clear\":true}", st, sizeof(st));
	ASSERT_TRUE(ws_sh("dmesg | tail -n +%d | grep -E 'runnable task stall|failed to check in'",
			  self->ld.dmesg_mark + 1) != 0)
		TH_LOG("the watchdog ended the scheduler");
	ASSERT_TRUE(longest < 10000) TH_LOG("a hog waited %lld ms for a CPU", longest);
	ASSERT_TRUE(s0 >= 0 && s1 > s0) TH_LOG("the starved counter did not move (%lld, %lld)", s0, s1);
}

TEST_HARNESS_MAIN
