// SPDX-License-Identifier: GPL-2.0
/*
 * policy.c - the power and thermal policies in the "numa" VM (8 CPUs: 2
 * packages, each one LLC of 2 cores x 2 SMT threads): powersave compaction,
 * performance spreading, hot-core avoidance with injected temperatures,
 * and batch work giving way under a cap to a latency-critical cyclictest;
 * and the class CLI's handling of bad input, on any machine.
 *
 * The oracles are independent of the scheduler's counters: /proc/stat per
 * CPU, /proc/<pid>/stat field 39 (the CPU a thread last ran on), sysfs
 * topology, per-cgroup cpu.stat usage_usec, and cyclictest's own latencies.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ws_test.h"

#define LOG		"/tmp/wattsched-policy.log"
#define MAX_THREADS	64
#define CG_BATCH	"/sys/fs/cgroup/ws-batch"
#define CG_LAT		"/sys/fs/cgroup/ws-latency"
#define INJECT		"/sys/kernel/debug/wattsched/inject/"
#define HOT_REACT_MS	5000	/* 20 control periods of 250 ms */

static bool kmod_loaded;

/* Per-CPU LLC (first CPU of it) and core (first SMT sibling) from sysfs. */
static int cpu_llc[WS_MAX_TEST_CPUS], cpu_core[WS_MAX_TEST_CPUS], nr_cpus;

static int first_of(const char *fmt, int cpu)
{
	char path[128], buf[128];

	snprintf(path, sizeof(path), fmt, cpu);
	return ws_read(path, buf, sizeof(buf)) > 0 ? atoi(buf) : -1;
}

/* The SMT/LLC topology these tests reason about, from sysfs; 0 or -1. */
static int read_topology(void)
{
	int cpu;

	nr_cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (nr_cpus < 4 || nr_cpus > WS_MAX_TEST_CPUS)
		return -1;
	for (cpu = 0; cpu < nr_cpus; cpu++) {
		cpu_llc[cpu] = first_of("/sys/devices/system/cpu/cpu%d/cache/index3/shared_cpu_list",
					cpu);
		cpu_core[cpu] = first_of("/sys/devices/system/cpu/cpu%d/topology/thread_siblings_list",
					 cpu);
		if (cpu_core[cpu] < 0)
			return -1;
	}
	return 0;
}

/* The loader first: a scheduler that has the module's kfuncs holds the module. */
static void policy_down(struct ws_loader *ld)
{
	char buf[4096] = "";

	ws_kill_named("stress-ng", SIGKILL);
	ws_kill_named("cyclictest", SIGKILL);
	ws_loader_down(ld, SIGINT);
	if (kmod_loaded) {
		ws_kmod_unload();
		kmod_loaded = false;
	}
	ws_sh_out(buf, sizeof(buf), "grep -E 'thermal|take work|error|refused|ended' " LOG
		  " | tail -n 20");
	if (buf[0])
		ws_log("loader: %s", buf);
	ws_sh("rmdir " CG_BATCH " " CG_LAT " 2>/dev/null; true");
}

/* The numa VM, its topology read, and the loader attached (verbose). */
FIXTURE(policy) {
	struct ws_loader ld;
};

FIXTURE_SETUP(policy)
{
	WS_NEED_MACHINE("numa");
	ASSERT_EQ(0, read_topology()) TH_LOG("no SMT/LLC topology in sysfs");
	WS_LOADER_UP(&self->ld, LOG, "-v run --interval 1");
}

FIXTURE_TEARDOWN(policy)
{
	policy_down(&self->ld);
}

/*
 * The numa VM with the telemetry module (inject=1) loaded before the
 * loader: the scheduler gets the module's kfuncs (the kfunc path).
 */
FIXTURE(kfunc) {
	struct ws_loader ld;
};

FIXTURE_SETUP(kfunc)
{
	WS_NEED_MACHINE("numa");
	ASSERT_EQ(0, read_topology()) TH_LOG("no SMT/LLC topology in sysfs");
	if (!ws_exists(ws_kmod()))
		SKIP(return, "%s not built", ws_kmod());
	ASSERT_TRUE(ws_sh("insmod %s inject=1", ws_kmod()) == 0) TH_LOG("insmod inject=1 failed");
	kmod_loaded = true;
	WS_LOADER_UP(&self->ld, LOG, "-v run --interval 1");
}

FIXTURE_TEARDOWN(kfunc)
{
	policy_down(&self->ld);
}

/* Any machine, and the loader attached (verbose). */
FIXTURE(loader) {
	struct ws_loader ld;
};

FIXTURE_SETUP(loader)
{
	WS_LOADER_UP(&self->ld, LOG, "-v run --interval 1");
}

FIXTURE_TEARDOWN(loader)
{
	policy_down(&self->ld);
}

/* Start @n CPU hogs; wait until @n threads named stress-ng-cpu exist. */
static bool start_hogs(int n, pid_t *tids)
{
	long long t0 = ws_now_ms();

	if (ws_sh("stress-ng --cpu %d --timeout 86400 --quiet >/dev/null 2>&1 &", n))
		return false;
	while (ws_now_ms() - t0 < 30000) {
		if (ws_pids_named("stress-ng-cpu", tids, MAX_THREADS) == n)
			return true;
		ws_sleep_ms(200);
	}
	return false;
}

/* What runs on @cpu (sampled twice), with each task's allowed CPUs: why it is busy. */
static void log_cpu_tasks(int cpu)
{
	char buf[4096] = "";

	ws_sh_out(buf, sizeof(buf),
		  "for i in 1 2; do ps -eLo psr=,tid=,cls=,stat=,comm= | awk '$1 == %d' |"
		  " while read psr tid cls st comm; do"
		  " echo \"$tid $cls $st $comm allowed $(sed -n 's/^Cpus_allowed_list:\\t//p'"
		  " /proc/$tid/status 2>/dev/null)\"; done; sleep 0.3; done", cpu);
	ws_log("on cpu%d:\n%s", cpu, buf);
}

static void stop_hogs(void)
{
	ws_kill_named("stress-ng", SIGKILL);
	ws_sleep_ms(1000);
}

static int set_policy(const char *name)
{
	return ws_sh("%s policy %s >/dev/null", ws_wattsched(), name);
}

/*
 * The CPUs that take work, as the loader reports them (status), into
 * @active; their count, or -1.  Its pinned CPUs go to the log.
 */
static int read_active(bool *active)
{
	static const char *const keys[] = { "\"active_cpu_list\":", "\"pinned_cpus\":" };
	char st[8192], *p, *end;
	int i, n = 0;

	if (ws_sh_out(st, sizeof(st), "%s status --json", ws_wattsched()))
		return -1;
	for (i = 0; i < 2; i++) {
		p = strstr(st, keys[i]);
		end = p ? strchr(p, ']') : NULL;
		if (!end)
			return -1;
		ws_log("%.*s", (int)(end + 1 - p), p);
	}
	memset(active, 0, WS_MAX_TEST_CPUS * sizeof(*active));
	for (p = strchr(strstr(st, keys[0]), '[') + 1; *p && *p != ']'; p = end) {
		long cpu = strtol(p, &end, 10);

		if (end == p || cpu < 0 || cpu >= WS_MAX_TEST_CPUS)
			return -1;
		active[cpu] = true;
		n++;
		if (*end == ',')
			end++;
	}
	return n;
}

/*
 * powersave: two CPU hogs stay on one LLC's cores, every CPU outside it
 * above 95% idle over 3 s (/proc/stat, field 39)
 */
TEST_F_TIMEOUT(policy, powersave_compacts, WS_TEST_TIMEOUT)
{
	double busy[WS_MAX_TEST_CPUS];
	bool active[WS_MAX_TEST_CPUS];
	pid_t hog[MAX_THREADS];
	int i, s, w, cpu, llc = -1, stray = 0, samples = 0, hot = 0;
	double quiet;

	/*
	 * Compaction sizes the set to the whole machine's load: with the
	 * guest's boot work beside the hogs (seen: 2.86 CPUs) it rightly
	 * grows past one LLC.  Start the hogs when the rest is quiet.
	 */
	quiet = ws_wait_quiet(0.5, 30000);
	ws_log("before the hogs: %.2f CPUs busy", quiet);
	ASSERT_TRUE(set_policy("powersave") == 0) TH_LOG("policy powersave refused");
	ASSERT_TRUE(start_hogs(2, hog)) TH_LOG("2 stress-ng hogs did not start");
	/* compaction grows within a period and shrinks after 2 s: let it settle */
	ws_sleep_ms(4000);
	for (s = 0; s < 10; s++) {
		for (i = 0; i < 2; i++) {
			struct ws_pstat ps;

			if (ws_read_pstat(hog[i], &ps))
				continue;
			samples++;
			if (llc < 0)
				llc = cpu_llc[ps.cpu];
			if (cpu_llc[ps.cpu] != llc) {
				ws_log("sample %d: hog %d on cpu%d, LLC %d; first seen LLC %d", s,
				       hog[i], ps.cpu, cpu_llc[ps.cpu], llc);
				stray++;
			}
		}
		ws_sleep_ms(100);
	}
	/*
	 * Work that is not ours (the guest's first minute: udev's workers,
	 * module loads) can keep a CPU outside the LLC busy for a while, so
	 * up to three windows; a compaction that does not hold fails all.
	 */
	for (w = 0; w < 3; w++) {
		ws_busy_over(3000, busy);
		hot = 0;
		for (cpu = 0; cpu < nr_cpus; cpu++) {
			ws_log("window %d: cpu%d (LLC %d): %.1f%% busy", w, cpu, cpu_llc[cpu],
			       busy[cpu] * 100);
			if (llc >= 0 && cpu_llc[cpu] != llc && busy[cpu] >= 0.05)
				hot++;
		}
		if (!hot)
			break;
	}
	read_active(active);
	stop_hogs();
	ASSERT_TRUE(samples >= 18) TH_LOG("could read only %d of 20 placements", samples);
	ASSERT_TRUE(!stray) TH_LOG("%d of %d placements outside one LLC", stray, samples);
	ASSERT_TRUE(!hot) TH_LOG("%d CPUs outside the hogs' LLC %d are 5%% busy or more, in 3 windows of 3 s",
				 hot, llc);
}

/*
 * performance: two CPU hogs run on different physical cores (field 39, sysfs
 * siblings)
 */
TEST_F_TIMEOUT(policy, performance_spreads, WS_TEST_TIMEOUT)
{
	pid_t hog[MAX_THREADS];
	int s, apart = 0, samples = 0;

	ASSERT_TRUE(set_policy("performance") == 0) TH_LOG("policy performance refused");
	ASSERT_TRUE(start_hogs(2, hog)) TH_LOG("2 stress-ng hogs did not start");
	ws_sleep_ms(2000);
	for (s = 0; s < 20; s++) {
		struct ws_pstat a, b;

		if (!ws_read_pstat(hog[0], &a) && !ws_read_pstat(hog[1], &b)) {
			samples++;
			if (cpu_core[a.cpu] != cpu_core[b.cpu])
				apart++;
			else
				ws_log("sample %d: both hogs on core %d (cpu%d, cpu%d)", s,
				       cpu_core[a.cpu], a.cpu, b.cpu);
		}
		ws_sleep_ms(100);
	}
	stop_hogs();
	ws_log("%d of %d samples on different physical cores", apart, samples);
	ASSERT_TRUE(samples >= 18) TH_LOG("could read only %d of 20 placements", samples);
	ASSERT_TRUE(apart * 10 >= samples * 9) TH_LOG("hogs shared a core in %d of %d samples",
		    samples - apart, samples);
}

/* A switch through the control socket: the loader answers after the budget is written. */
static int switch_to(const char *policy)
{
	char req[96], buf[1024];

	snprintf(req, sizeof(req), "{\"op\":\"policy\",\"policy\":\"%s\"}", policy);
	return ws_ctl_raw(req, strlen(req), buf, sizeof(buf)) || !strstr(buf, "\"ok\":true");
}

/*
 * Each switch shows in placement within 100 ms.  Two hogs are put on the
 * SMT siblings of one core of the second LLC (affinity to one CPU each,
 * then back to all; balanced leaves running tasks where they are).  100 ms
 * after a switch to performance they must run on different physical
 * cores, in more than half of the cycles both still in that LLC, whose
 * other core is idle: the spread takes the nearest whole idle core, where
 * a pick among all of them would keep 1 in 3 (in CI runs 4 of 26 cycles
 * sent a hog to the other node: counted around each switch, a hog queued
 * when its CPU had other work, which another node's idle CPU stole, or a
 * spread while a task of the loader's or the test's kept the LLC's other
 * core from reading whole idle); 100 ms after the next
 * switch, to powersave, both must run inside the compacted set, as the
 * loader reports it.
 */
TEST_F_TIMEOUT(policy, policy_switch_placement, WS_TEST_TIMEOUT)
{
	pid_t hog[MAX_THREADS];
	int cycle, a_cpu = -1, b_cpu = -1, n_active, spread = 0, in_llc = 0;
	bool active[WS_MAX_TEST_CPUS];
	struct ws_pstat a, b;

	for (a_cpu = nr_cpus / 2; a_cpu + 1 < nr_cpus; a_cpu++)
		if (cpu_core[a_cpu + 1] == cpu_core[a_cpu] && cpu_llc[a_cpu] != cpu_llc[0])
			break;
	ASSERT_TRUE(a_cpu + 1 < nr_cpus) TH_LOG("no SMT pair outside the first LLC");
	b_cpu = a_cpu + 1;
	ASSERT_TRUE(start_hogs(2, hog)) TH_LOG("2 stress-ng hogs did not start");
	for (cycle = 0; cycle < 10; cycle++) {
		ASSERT_TRUE(switch_to("balanced") == 0) TH_LOG("balanced refused");
		ASSERT_TRUE(ws_allow_cpus(hog[0], a_cpu, a_cpu) == 0 &&
			    ws_allow_cpus(hog[1], b_cpu, b_cpu) == 0)
			TH_LOG("sched_setaffinity");
		ws_sleep_ms(300);
		ASSERT_TRUE(ws_allow_cpus(hog[0], 0, nr_cpus - 1) == 0 &&
			    ws_allow_cpus(hog[1], 0, nr_cpus - 1) == 0)
			TH_LOG("sched_setaffinity");
		ws_sleep_ms(300);
		ASSERT_TRUE(!ws_read_pstat(hog[0], &a) && !ws_read_pstat(hog[1], &b))
			TH_LOG("field 39");
		if (cpu_core[a.cpu] != cpu_core[b.cpu] || a.cpu != a_cpu) {
			ws_log("cycle %d: balanced moved the hogs to cpu%d, cpu%d; set up again",
			       cycle, a.cpu, b.cpu);
			continue;
		}

		ASSERT_TRUE(switch_to("performance") == 0) TH_LOG("performance refused");
		ws_sleep_ms(100);
		ASSERT_TRUE(!ws_read_pstat(hog[0], &a) && !ws_read_pstat(hog[1], &b))
			TH_LOG("field 39");
		ws_log("cycle %d: 100 ms after performance: cpu%d, cpu%d (cores %d, %d)", cycle,
		       a.cpu, b.cpu, cpu_core[a.cpu], cpu_core[b.cpu]);
		ASSERT_TRUE(cpu_core[a.cpu] != cpu_core[b.cpu])
			TH_LOG("cycle %d: 100 ms after the switch to performance both hogs share core %d",
			    cycle, cpu_core[a.cpu]);
		spread++;
		if (cpu_llc[a.cpu] == cpu_llc[a_cpu] && cpu_llc[b.cpu] == cpu_llc[a_cpu])
			in_llc++;

		ASSERT_TRUE(switch_to("powersave") == 0) TH_LOG("powersave refused");
		ws_sleep_ms(100);
		ASSERT_TRUE(!ws_read_pstat(hog[0], &a) && !ws_read_pstat(hog[1], &b))
			TH_LOG("field 39");
		/* the budget's set, as the loader reports it */
		n_active = read_active(active);
		ws_log("cycle %d: 100 ms after powersave: cpu%d, cpu%d; %d CPUs take work", cycle,
		       a.cpu, b.cpu, n_active);
		ASSERT_TRUE(n_active > 0) TH_LOG("status: no active_cpu_list");
		ASSERT_TRUE(n_active < nr_cpus && active[a.cpu] && active[b.cpu])
			TH_LOG("cycle %d: 100 ms after the switch to powersave the hogs run on cpu%d and "
			    "cpu%d, outside the %d compacted CPUs", cycle, a.cpu, b.cpu, n_active);
	}
	stop_hogs();
	ws_log("%d of %d spreads kept both hogs in LLC %d", in_llc, spread, cpu_llc[a_cpu]);
	ASSERT_TRUE(spread >= 5) TH_LOG("the hogs were set up on one core in only %d of 10 cycles",
		    spread);
	ASSERT_TRUE(in_llc * 2 > spread)
		TH_LOG("performance spread a hog out of LLC %d, which had an idle core, in %d of %d cycles",
		    cpu_llc[a_cpu], spread - in_llc, spread);
}

/*
 * an injected core at its limit empties within 500 ms, stays empty inside
 * the hysteresis and takes work again once cool (/proc/stat)
 */
/*
 * Hot-core avoidance on @path ("text" or "kfunc"), the module loaded: a hog
 * per CPU, cpu2 heated to its limit empties its core and stays empty
 * inside the hysteresis, and takes work again once cool.
 */
static void hot_core_cycle(struct __test_metadata *_metadata, const char *path)
{
	char want[64];
	double busy[WS_MAX_TEST_CPUS], user[WS_MAX_TEST_CPUS];
	pid_t hog[MAX_THREADS];
	int target = 2, sib = -1, cpu, n = 0;
	long long t0, left = -1;
	char buf[4096], timeline[1024] = "";
	bool fifo, injected;

	for (cpu = 0; cpu < nr_cpus; cpu++)
		if (cpu != target && cpu_core[cpu] == cpu_core[target])
			sib = cpu;
	ASSERT_TRUE(start_hogs(nr_cpus, hog)) TH_LOG("%d hogs did not start", nr_cpus);
	/* the hogs' start is slow in an emulated guest on a busy host */
	t0 = ws_now_ms();
	do
		ws_busy_over(1000, busy);
	while (busy[target] <= 0.8 && ws_now_ms() - t0 < 10000);
	ASSERT_TRUE(busy[target] > 0.8) TH_LOG("cpu%d only %.0f%% busy 10 s after %d hogs started",
		    target, busy[target] * 100, nr_cpus);

	/*
	 * The default limit is 100 C, hot at 95 C, cool again below 90 C.
	 * How fast the core empties is a benchmark (make bench); here it
	 * must empty within HOT_REACT_MS, many control periods, on any host.
	 */
	fifo = ws_sampler_fifo(true) == 0;
	injected = ws_inject_temp(target, 100000) == 0;
	t0 = ws_now_ms();
	while (injected && ws_now_ms() - t0 < HOT_REACT_MS) {
		long long start = ws_now_ms() - t0;

		ws_busy_over(100, busy);
		if (n < (int)sizeof(timeline) - 1)
			n += snprintf(timeline + n, sizeof(timeline) - n, " %lld:%.0f/%.0f%%", start,
				      busy[target] * 100, sib < 0 ? 0 : busy[sib] * 100);
		if (busy[target] < 0.3 && (sib < 0 || busy[sib] < 0.3)) {
			left = start;
			break;
		}
	}
	ws_sampler_fifo(false);
	ASSERT_TRUE(injected) TH_LOG("inject failed");
	ws_log("sampler %s; windows (ms after the injection: cpu%d/cpu%d busy):%s",
	       fifo ? "SCHED_FIFO" : "SCHED_OTHER (no FIFO)", target, sib, timeline);
	ws_log("%s path: cpu%d at 100 C: its core (cpu%d, cpu%d) emptied in the window starting "
	       "%lld ms after the injection", path, target, target, sib, left);
	ASSERT_TRUE(left >= 0) TH_LOG("cpu%d still busy %d ms after reaching its limit", target,
				      HOT_REACT_MS);
	/*
	 * The hogs run in user mode: the user share is the work placed there.
	 * Interrupts and kernel threads bound to the CPU are no scheduler's to
	 * move (the guest's devices may interrupt cpu2); they go to the log.
	 */
	ws_cpu_shares_over(1000, busy, user);
	ws_log("hot cpu%d over 1 s: %.0f%% busy, %.0f%% in user mode", target,
	       busy[target] * 100, user[target] * 100);
	if (user[target] >= 0.1)
		log_cpu_tasks(target);
	ASSERT_TRUE(user[target] < 0.1)
		TH_LOG("hot cpu%d %.0f%% busy in user mode over 1 s", target, user[target] * 100);
	ASSERT_TRUE(ws_sh_out(buf, sizeof(buf), "%s status --json", ws_wattsched()) == 0)
		TH_LOG("status failed");
	ASSERT_TRUE(strstr(buf, "\"hot_cpus\":[") && strstr(buf, "\"thermal_sensed_cpus\":"))
		TH_LOG("status has no thermal state: %s", buf);
	snprintf(want, sizeof(want), "\"thermal_path\":\"%s\"", path);
	ASSERT_TRUE(strstr(buf, want) != NULL) TH_LOG("not the %s path: %s", path, buf);
	ASSERT_TRUE(!strstr(buf, "\"avoided_hot\":0,"))
		TH_LOG("no placement avoided the hot core: %s",
		    buf);

	/* 92 C: below the hot mark, above the hysteresis: still avoided */
	ASSERT_TRUE(ws_inject_temp(target, 92000) == 0) TH_LOG("inject failed");
	ws_sleep_ms(1000);
	ws_cpu_shares_over(1000, busy, user);
	ws_log("cpu%d at 92 C: %.0f%% busy, %.0f%% in user mode", target, busy[target] * 100,
	       user[target] * 100);
	ASSERT_TRUE(user[target] < 0.1)
		TH_LOG("cpu%d took work at 92 C, inside the hysteresis (%.0f%% in user mode)",
		    target, user[target] * 100);

	/* 85 C: cool, back in use within HOT_REACT_MS */
	ASSERT_TRUE(ws_inject_temp(target, 85000) == 0) TH_LOG("inject failed");
	t0 = ws_now_ms();
	do
		ws_busy_over(500, busy);
	while (busy[target] <= 0.5 && ws_now_ms() - t0 < HOT_REACT_MS);
	ws_log("cpu%d at 85 C: %.0f%% busy %lld ms after cooling", target, busy[target] * 100,
	       ws_now_ms() - t0);
	stop_hogs();
	ASSERT_TRUE(busy[target] > 0.5)
		TH_LOG("cpu%d not back in use after cooling (%.0f%%)", target,
		    busy[target] * 100);
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

/*
 * Run cyclictest (SCHED_OTHER, 1 ms interval, @secs s) in the latency
 * cgroup; return its p99 wakeup latency in µs (nearest rank over every
 * sample, which -v prints as "thread: cycle: latency", so no histogram
 * range caps it), -1 on error.  One program started, its output parsed
 * here: beside the hogs each start takes seconds.
 */
static int cyclictest_p99(int secs)
{
	static const char out[] = "/tmp/ws-cyclictest.out";
	long *lat = NULL, v, p99 = -1;
	size_t n = 0, cap = 0;
	char dur[16], line[128];
	int st, r;
	FILE *f;
	pid_t pid;

	snprintf(dur, sizeof(dur), "%d", secs);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (fd < 0 || ws_write(CG_LAT "/cgroup.procs", "%d", getpid()) ||
		    dup2(fd, STDOUT_FILENO) < 0)
			_exit(126);
		execlp("cyclictest", "cyclictest", "-q", "-m", "-t1", "-i", "1000", "-D", dur,
		       "-v", (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		return -1;
	f = fopen(out, "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*d: %*d: %ld", &v) != 1)
			continue;
		if (n == cap) {
			long *grown = realloc(lat, (cap = cap ? 2 * cap : 4096) * sizeof(*lat));

			if (!grown)
				break;
			lat = grown;
		}
		lat[n++] = v;
	}
	if (f)
		fclose(f);
	if (n) {
		qsort(lat, n, sizeof(*lat), cmp_long);
		r = (int)(0.99 * n);
		if (r < 0.99 * n)
			r++;
		p99 = lat[r - 1];
	}
	free(lat);
	ws_log("cyclictest: p99 and samples: %ld %zu", p99, n);
	return p99;
}

/*
 * under a cap the batch cgroup's CPU time falls (cpu.stat) while a
 * latency-critical cyclictest keeps its p99 within 2x of the uncapped one
 */

/* The module loaded after the scheduler: the daemon reads the thermal file (text path). */
TEST_F_TIMEOUT(policy, thermal_hot_core_avoided, WS_TEST_TIMEOUT)
{
	if (!ws_exists(ws_kmod()))
		SKIP(return, "%s not built", ws_kmod());
	ASSERT_TRUE(ws_sh("insmod %s inject=1", ws_kmod()) == 0) TH_LOG("insmod inject=1 failed");
	kmod_loaded = true;
	hot_core_cycle(_metadata, "text");
}

/* The module loaded before the scheduler: BPF calls its kfuncs (kfunc path). */
TEST_F_TIMEOUT(kfunc, kfunc_hot_core_avoided, WS_TEST_TIMEOUT)
{
	char buf[8192];

	hot_core_cycle(_metadata, "kfunc");
	ASSERT_TRUE(ws_sh_out(buf, sizeof(buf), "%s status --json", ws_wattsched()) == 0)
		TH_LOG("status failed");
	ASSERT_TRUE(!strstr(buf, "\"heat_rebuilds\":0,"))
		TH_LOG("BPF never rebuilt its usable CPUs from the module's readings: %s", buf);
}

/* Wait up to @ms for `status --json` to contain @want; the last status in @buf. */
static bool status_within(char *buf, size_t len, const char *want, long long ms)
{
	long long t0 = ws_now_ms();

	do {
		if (!ws_sh_out(buf, len, "%s status --json", ws_wattsched()) && strstr(buf, want))
			return true;
		ws_sleep_ms(250);
	} while (ws_now_ms() - t0 < ms);
	return false;
}

static bool status_has(char *buf, size_t len, const char *want)
{
	return status_within(buf, len, want, 5000);
}

#define CPU7_ONLINE	"/sys/devices/system/cpu/cpu7/online"

/*
 * The kfunc path across CPU hotplug: package 1 (cpu4-7) heated while cpu7
 * is offline reads hot on cpu4-6; once cpu7 is back, it reads hot too
 * without another injection (the module refreshes its cache on hotplug),
 * through the scheduler restart that the hotplug causes.
 */
TEST_F_TIMEOUT(kfunc, kfunc_cpu_online_reads_at_once, WS_TEST_TIMEOUT)
{
	char buf[8192];
	bool without7, with7;

	ASSERT_TRUE(ws_sh("echo 0 > " CPU7_ONLINE) == 0) TH_LOG("cpu7 would not go offline");
	ASSERT_TRUE(ws_write(INJECT "thermal", "pkg=1 temp_mc=100000") == 0)
		TH_LOG("inject pkg=1 failed");
	without7 = status_within(buf, sizeof(buf), "\"hot_cpus\":[4,5,6]", 60000) &&
		   strstr(buf, "\"thermal_path\":\"kfunc\"");
	ws_log("cpu7 offline, package 1 at 100 C: %s", without7 ? "hot 4-6" : buf);
	ASSERT_TRUE(ws_sh("echo 1 > " CPU7_ONLINE) == 0) TH_LOG("cpu7 would not come back");
	with7 = status_within(buf, sizeof(buf), "\"hot_cpus\":[4,5,6,7]", 60000) &&
		strstr(buf, "\"thermal_path\":\"kfunc\"");
	ws_log("cpu7 back online: %s", with7 ? "hot 4-7" : buf);
	ws_write(INJECT "clear", "thermal");
	ASSERT_TRUE(without7) TH_LOG("with cpu7 offline, not hot 4-6 on the kfunc path: %s", buf);
	ASSERT_TRUE(with7) TH_LOG("cpu7 came back but does not read hot: %s", buf);
}

static bool scx_runs_wattsched(void)
{
	char ops[64] = "";

	return ws_read("/sys/kernel/sched_ext/root/ops", ops, sizeof(ops)) > 0 &&
	       !strcmp(ops, "wattsched");
}

/*
 * The module and the scheduler in every order.  A scheduler loaded without
 * the module runs the text path and does not hold the module; one loaded
 * with it has its kfuncs and holds it (rmmod: EBUSY) until it ends.
 */
TEST_F_TIMEOUT(policy, kfunc_module_orders, WS_TEST_TIMEOUT)
{
	char buf[8192];

	if (!ws_exists(ws_kmod()))
		SKIP(return, "%s not built", ws_kmod());
	ASSERT_TRUE(status_has(buf, sizeof(buf), "\"thermal_path\":\"none\""))
		TH_LOG("no module, yet a thermal path: %s", buf);

	/* scheduler, then module: text path, and the module comes and goes freely */
	ASSERT_TRUE(ws_sh("insmod %s inject=1", ws_kmod()) == 0) TH_LOG("insmod failed");
	kmod_loaded = true;
	ASSERT_TRUE(status_has(buf, sizeof(buf), "\"thermal_path\":\"text\""))
		TH_LOG("module after the scheduler: not the text path: %s", buf);
	ASSERT_TRUE(ws_sh("grep -q \"has not got the telemetry module's kfuncs\" " LOG) == 0)
		TH_LOG("the loader did not say why it reads the thermal file");
	ASSERT_TRUE(ws_sh("rmmod wattsched_telemetry") == 0)
		TH_LOG("rmmod failed under a scheduler that never had the module's kfuncs");
	kmod_loaded = false;
	ASSERT_TRUE(scx_runs_wattsched()) TH_LOG("the scheduler ended with the module's removal");
	ws_log("scheduler, then module: text path; rmmod under it worked, scheduler still on");

	/* module, then scheduler: kfunc path, and the module is held */
	ASSERT_TRUE(ws_sh("insmod %s inject=1", ws_kmod()) == 0) TH_LOG("insmod failed");
	kmod_loaded = true;
	ASSERT_EQ(0, WEXITSTATUS(ws_loader_down(&self->ld, SIGINT))) TH_LOG("loader stop failed");
	WS_LOADER_UP(&self->ld, LOG, "-v run --interval 1");
	ASSERT_TRUE(status_has(buf, sizeof(buf), "\"thermal_path\":\"kfunc\""))
		TH_LOG("module before the scheduler: not the kfunc path: %s", buf);
	ASSERT_TRUE(ws_sh("rmmod wattsched_telemetry 2>/dev/null") != 0)
		TH_LOG("rmmod worked while the scheduler calls the module's kfuncs");
	ASSERT_TRUE(ws_sh("grep -q '^wattsched_telemetry ' /proc/modules") == 0)
		TH_LOG("the module is gone");
	ASSERT_TRUE(scx_runs_wattsched()) TH_LOG("the scheduler ended at the rmmod attempt");
	ws_log("module, then scheduler: kfunc path; rmmod refused while it runs");

	/* the scheduler ends: the module is free again */
	ASSERT_EQ(0, WEXITSTATUS(ws_loader_down(&self->ld, SIGINT))) TH_LOG("loader stop failed");
	ASSERT_TRUE(ws_kmod_unload()) TH_LOG("rmmod failed for 5 s after the scheduler ended");
	kmod_loaded = false;
	WS_LOADER_UP(&self->ld, LOG, "-v run --interval 1");
	ASSERT_TRUE(status_has(buf, sizeof(buf), "\"thermal_path\":\"none\""))
		TH_LOG("module gone, yet a thermal path: %s", buf);
	ws_log("scheduler ended: rmmod worked; a new scheduler without it: no thermal path");
}

TEST_F_TIMEOUT(policy, cap_batch_gives_way, WS_TEST_TIMEOUT)
{
	unsigned long long u0, u1;
	double rate_free, rate_cap;
	int p99_free, p99_cap, cap, rc, half = nr_cpus / 2;
	long long t0;
	char buf[4096];

	if (ws_sh("command -v cyclictest >/dev/null"))
		SKIP(return, "cyclictest (rt-tests) not installed");
	ASSERT_TRUE(ws_sh("mkdir -p " CG_BATCH " " CG_LAT) == 0) TH_LOG("cannot create cgroups");
	ASSERT_TRUE(ws_sh("%s class set /ws-batch batch >/dev/null && "
			"%s class set /ws-latency latency-critical >/dev/null",
			ws_wattsched(), ws_wattsched()) == 0) TH_LOG("class set refused");
	ASSERT_TRUE(ws_sh("sh -c 'echo $$ > " CG_BATCH "/cgroup.procs; exec stress-ng --cpu %d "
			"--timeout 86400 --quiet' >/dev/null 2>&1 &", nr_cpus) == 0)
		TH_LOG("cannot start the batch load");
	ws_sleep_ms(5000);

	u0 = ws_cg_usage_us(CG_BATCH);
	t0 = ws_now_ms();
	p99_free = cyclictest_p99(8);
	u1 = ws_cg_usage_us(CG_BATCH);
	rate_free = (double)(u1 - u0) / ((ws_now_ms() - t0) * 1000.0);
	ws_log("no cap: batch cgroup %.2f CPUs, latency-critical p99 %d us", rate_free, p99_free);
	ASSERT_TRUE(p99_free >= 0) TH_LOG("cyclictest failed");

	/* the smallest cap whose 95% holds half the CPUs by the default model */
	cap = (50 + 10 * half) * 100 / 95 + 1;
	rc = ws_sh_out(buf, sizeof(buf), "%s cap %d 2>&1", ws_wattsched(), cap);
	ASSERT_TRUE(rc == 0) TH_LOG("cap %d: exit %d: %s", cap, rc, buf);
	ws_sleep_ms(2000);
	u0 = ws_cg_usage_us(CG_BATCH);
	t0 = ws_now_ms();
	p99_cap = cyclictest_p99(8);
	u1 = ws_cg_usage_us(CG_BATCH);
	rate_cap = (double)(u1 - u0) / ((ws_now_ms() - t0) * 1000.0);
	ws_log("cap %d W (%d CPUs, batch on at most %d): batch cgroup %.2f CPUs, "
	       "latency-critical p99 %d us", cap, half, half / 2, rate_cap, p99_cap);
	ASSERT_TRUE(ws_sh_out(buf, sizeof(buf), "%s status --json", ws_wattsched()) == 0)
		TH_LOG("status failed");
	ws_kill_named("stress-ng", SIGKILL);
	ws_sh("%s cap --clear >/dev/null", ws_wattsched());
	{
		static const char *const keys[] = { "throttled", "batch_rescued", "preempt_batch" };
		unsigned int k;

		for (k = 0; k < 3; k++) {
			const char *v = strstr(buf, keys[k]);

			ws_log("counter %.*s", v ? (int)strcspn(v, ",}") : 0, v ? v : "");
		}
	}

	ASSERT_TRUE(p99_cap >= 0) TH_LOG("cyclictest failed under the cap");
	ASSERT_TRUE(rate_cap < rate_free * 0.6)
		TH_LOG("batch CPU time did not fall: %.2f -> %.2f CPUs",
		    rate_free, rate_cap);
	/* the duty cycle: half the usable CPUs, plus slack for overdue tasks */
	ASSERT_TRUE(rate_cap <= half / 2 + 0.5)
		TH_LOG("batch held %.2f CPUs, the duty cycle allows %d",
		    rate_cap, half / 2);
	ASSERT_TRUE(p99_cap <= 2 * p99_free)
		TH_LOG("latency-critical p99 %d us under the cap, more "
		    "than twice the %d us without", p99_cap, p99_free);
	ASSERT_TRUE(!strstr(buf, "\"throttled\":0,"))
		TH_LOG("no batch task was held back: %s", buf);
}

/* Inject @mw milliwatts into package 0 (a growing energy counter: RAPL to the loader). */
static int inject_power(unsigned int mw)
{
	return ws_write(INJECT "power", "pkg=0 watts_mw=%u", mw);
}

/* The batch cgroup's CPUs over @ms. */
static double batch_cpus(long long ms)
{
	unsigned long long u0 = ws_cg_usage_us(CG_BATCH), u1;
	long long t0 = ws_now_ms();

	ws_sleep_ms(ms);
	u1 = ws_cg_usage_us(CG_BATCH);
	return (double)(u1 - u0) / ((ws_now_ms() - t0) * 1000.0);
}

/*
 * The cap's fast guard (kfunc path): with the cap held to RAPL (injected
 * power), BPF reads the module's power kfunc and, while it is over the
 * cap, holds batch work to one CPU; below the cap it leaves the duty
 * cycle alone.  The loader's own law acts too, once a period, and under
 * TCG a step's shell command alone outlasts one: the guard is told apart
 * by its counter.
 */
TEST_F_TIMEOUT(kfunc, kfunc_power_guard_holds_batch, WS_TEST_TIMEOUT)
{
	long long g0, g1, g2, g3;
	double under, over;
	char buf[8192];
	int rc;

	ASSERT_TRUE(ws_sh("mkdir -p " CG_BATCH) == 0) TH_LOG("cannot create a cgroup");
	ASSERT_TRUE(ws_sh("%s class set /ws-batch batch >/dev/null", ws_wattsched()) == 0)
		TH_LOG("class set refused");
	ASSERT_TRUE(inject_power(40000) == 0) TH_LOG("inject power failed");
	rc = ws_sh_out(buf, sizeof(buf), "%s cap 150 2>&1", ws_wattsched());
	ASSERT_TRUE(rc == 0) TH_LOG("cap 150: exit %d: %s", rc, buf);
	ASSERT_TRUE(ws_sh("sh -c 'echo $$ > " CG_BATCH "/cgroup.procs; exec stress-ng --cpu %d "
			  "--timeout 86400 --quiet' >/dev/null 2>&1 &", nr_cpus) == 0)
		TH_LOG("cannot start the batch load");
	ASSERT_TRUE(status_within(buf, sizeof(buf), "\"power_guard_watts\":150", 30000) &&
		    strstr(buf, "\"power_source\":\"rapl\""))
		TH_LOG("the cap is not held to RAPL with a guard at 150 W: %s", buf);

	/* 40 W under a 150 W cap: the guard stays out of the way */
	ws_sleep_ms(2000);
	g0 = ws_status_count("power_guarded");
	under = batch_cpus(4000);
	g1 = ws_status_count("power_guarded");
	ws_log("40 W, cap 150 W: batch %.2f CPUs, guard counter %lld -> %lld", under, g0, g1);

	/* 400 W: the guard holds batch to one CPU */
	ASSERT_TRUE(inject_power(400000) == 0) TH_LOG("inject power failed");
	ws_sleep_ms(1000);
	g2 = ws_status_count("power_guarded");
	over = batch_cpus(4000);
	g3 = ws_status_count("power_guarded");
	ws_log("400 W, cap 150 W: batch %.2f CPUs, guard counter %lld -> %lld", over, g2, g3);
	ASSERT_TRUE(status_has(buf, sizeof(buf), "\"power_guard_watts\":150"))
		TH_LOG("the guard is gone from status: %s", buf);

	ws_kill_named("stress-ng", SIGKILL);
	ws_sh("%s cap --clear >/dev/null", ws_wattsched());
	ws_write(INJECT "clear", "power");
	ASSERT_TRUE(g0 >= 0 && g1 == g0) TH_LOG("the guard acted under the cap: %lld -> %lld", g0, g1);
	ASSERT_TRUE(under > 1.5) TH_LOG("batch had %.2f CPUs under the cap: nothing to hold", under);
	ASSERT_TRUE(g3 > g2) TH_LOG("over the cap, the guard never acted: %lld -> %lld", g2, g3);
	/* one CPU, plus slack for tasks finishing their slice and overdue ones */
	ASSERT_TRUE(over <= 1.5) TH_LOG("over the cap, batch held %.2f CPUs", over);
}

/*
 * class set/del/list: unknown classes, bad and missing cgroups and non-root
 * clients are refused with a reason and change nothing
 */
TEST_F_TIMEOUT(loader, class_cli_errors, WS_TEST_TIMEOUT)
{
	char buf[1024];
	int rc;

	ASSERT_TRUE(ws_sh("mkdir -p " CG_BATCH) == 0) TH_LOG("cannot create a cgroup");
	rc = ws_sh_out(buf, sizeof(buf), "%s class set /ws-batch turbo 2>&1", ws_wattsched());
	ASSERT_TRUE(rc == 2 && strstr(buf, "unknown class 'turbo'"))
		TH_LOG("unknown class: %d %s", rc, buf);
	rc = ws_sh_out(buf, sizeof(buf), "%s class set ws-batch batch 2>&1", ws_wattsched());
	ASSERT_TRUE(rc == 2 && strstr(buf, "is not a cgroup path"))
		TH_LOG("relative path: %d %s", rc, buf);
	rc = ws_sh_out(buf, sizeof(buf), "%s class set /no-such-group batch 2>&1", ws_wattsched());
	ASSERT_TRUE(rc == 1 && strstr(buf, "No such file"))
		TH_LOG("missing cgroup: %d %s", rc, buf);
	rc = ws_sh_out(buf, sizeof(buf), "%s class set /tmp batch 2>&1", ws_wattsched());
	ASSERT_TRUE(rc != 0) TH_LOG("a directory outside cgroup2 accepted: %s", buf);
	rc = ws_sh_out(buf, sizeof(buf), "%s class del /ws-batch 2>&1", ws_wattsched());
	ASSERT_TRUE(rc == 1 && strstr(buf, "has no class rule"))
		TH_LOG("del without rule: %d %s", rc, buf);
	rc = ws_sh_out(buf, sizeof(buf), "setpriv --reuid=65534 --regid=65534 --clear-groups "
		       "%s class set /ws-batch batch 2>&1", ws_wattsched());
	ASSERT_TRUE(rc == 1 && strstr(buf, "needs root")) TH_LOG("non-root set: %d %s", rc, buf);
	rc = ws_sh_out(buf, sizeof(buf), "%s class list", ws_wattsched());
	ASSERT_TRUE(rc == 0 && strstr(buf, "(no rules)"))
		TH_LOG("refused requests left a rule: %s", buf);

	ASSERT_TRUE(ws_sh("%s class set /ws-batch batch >/dev/null", ws_wattsched()) == 0)
		TH_LOG("class set refused");
	rc = ws_sh_out(buf, sizeof(buf), "%s class list", ws_wattsched());
	ASSERT_TRUE(rc == 0 && strstr(buf, "batch") && strstr(buf, "/ws-batch"))
		TH_LOG("list does not show the rule: %s", buf);
	ASSERT_TRUE(ws_sh("%s class del /ws-batch >/dev/null", ws_wattsched()) == 0)
		TH_LOG("class del refused");
}

TEST_HARNESS_MAIN
