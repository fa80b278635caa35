// SPDX-License-Identifier: GPL-2.0
/*
 * ws_lib.c - what the wattsched selftests share: shell and file helpers,
 * the loader's start and stop, /proc/stat and /proc/PID/stat sampling, the
 * control socket, and the check that this machine is the one a test was
 * written for.  The tests themselves are kselftest_harness.h programs
 * (sched.c, policy.c, ...); this file does not include the harness.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ws_test.h"

static int verbose;
static long long t_start;	/* ws_now_ms() when the program started */
static char src_dir[4096], out_dir[4096], bin_path[4200], kmod_path[4200];

/* A line of the test's log, stamped with the seconds since the program started. */
void ws_log(const char *fmt, ...)
{
	double t = (ws_now_ms() - t_start) / 1000.0;
	char buf[4096], *line, *save;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		printf("# [%7.1f] %s\n", t, line);
	fflush(stdout);
}

/*
 * Paths from the environment (tests/run sets them; see README in this
 * directory for a run from a kernel tree): WS_SRC is the wattsched checkout,
 * WS_OUT its build output (default WS_SRC).  WS_VERBOSE=1 logs each command.
 */
static void __attribute__((constructor)) ws_lib_init(void)
{
	const char *env;

	t_start = ws_now_ms();
	env = getenv("WS_SRC");
	snprintf(src_dir, sizeof(src_dir), "%s", env ? env : ".");
	env = getenv("WS_OUT");
	snprintf(out_dir, sizeof(out_dir), "%s", env ? env : src_dir);
	snprintf(bin_path, sizeof(bin_path), "%s/user/wattsched", out_dir);
	snprintf(kmod_path, sizeof(kmod_path), "%s/kmod/wattsched_telemetry.ko", out_dir);
	env = getenv("WS_VERBOSE");
	verbose = env && *env == '1';
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Tests are independent: no loader continues from an earlier test's
	 * intent.  The tests of the state file name their own (--state-file).
	 */
	setenv("WATTSCHED_STATE", "none", 0);
}

const char *ws_src(void) { return src_dir; }
const char *ws_out(void) { return out_dir; }
const char *ws_wattsched(void) { return bin_path; }
const char *ws_kmod(void) { return kmod_path; }

static int vsh(char *buf, size_t len, const char *fmt, va_list ap)
{
	char cmd[8192];
	size_t off = 0;
	FILE *f;
	int st;

	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	if (verbose)
		ws_log("$ %s", cmd);
	fflush(stdout);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	if (buf && len) {
		size_t n;

		while (off < len - 1 && (n = fread(buf + off, 1, len - 1 - off, f)) > 0)
			off += n;
		buf[off] = '\0';
	}
	/* drain the rest so the child never blocks on a full pipe */
	while (fgetc(f) != EOF)
		;
	st = pclose(f);
	if (st < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

int ws_sh(const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vsh(NULL, 0, fmt, ap);
	va_end(ap);
	return ret;
}

int ws_sh_out(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vsh(buf, len, fmt, ap);
	va_end(ap);
	return ret;
}

int ws_sh_log(const char *fmt, ...)
{
	char out[4000] = "";
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vsh(out, sizeof(out), fmt, ap);
	va_end(ap);
	if (out[0])
		ws_log("%s", out);
	return ret;
}

int ws_read(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	close(fd);
	while (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
	return n;
}

/*
 * The live processes whose name (comm) starts with @prefix, read from
 * /proc: no program is started, which beside CPU hogs under emulation
 * takes tens of seconds (docs/benchmarks.md, "Program starts").
 */
int ws_pids_named(const char *prefix, pid_t *pids, int max)
{
	char path[64], comm[32];
	struct ws_pstat ps;
	struct dirent *de;
	int n = 0;
	DIR *d;

	d = opendir("/proc");
	if (!d)
		return -errno;
	while ((de = readdir(d)) && n < max) {
		pid_t pid = atoi(de->d_name);

		if (pid <= 0 || pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		if (ws_read(path, comm, sizeof(comm)) <= 0 ||
		    strncmp(comm, prefix, strlen(prefix)))
			continue;
		/* a zombie keeps its name until it is reaped */
		if (!ws_read_pstat(pid, &ps) && ps.state != 'Z' && ps.state != 'X')
			pids[n++] = pid;
	}
	closedir(d);
	return n;
}

int ws_kill_named(const char *prefix, int sig)
{
	pid_t pids[512];
	int i, n, total = 0, pass;

	/* again while a parent that was not signalled yet forks */
	for (pass = 0; pass < 5; pass++) {
		n = ws_pids_named(prefix, pids, 512);
		if (n <= 0)
			break;
		for (i = 0; i < n; i++)
			total += kill(pids[i], sig) == 0;
		if (sig != SIGKILL)
			break;
		ws_sleep_ms(100);
	}
	if (verbose)
		ws_log("killed %d processes named %s*", total, prefix);
	return total;
}

unsigned long long ws_cg_usage_us(const char *cg)
{
	char path[512], buf[1024], *v;

	snprintf(path, sizeof(path), "%s/cpu.stat", cg);
	if (ws_read(path, buf, sizeof(buf)) <= 0)
		return 0;
	v = strstr(buf, "usage_usec ");
	return v ? strtoull(v + strlen("usage_usec "), NULL, 10) : 0;
}

int ws_write(const char *path, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int fd, len, ret = 0;

	va_start(ap, fmt);
	len = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (verbose)
		ws_log("> %s: %s", path, buf);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (write(fd, buf, len) != len)
		ret = -1;
	close(fd);
	return ret;
}

bool ws_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

long long ws_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

void ws_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int ws_scx_state(char *buf, size_t len)
{
	return ws_read("/sys/kernel/sched_ext/state", buf, len);
}

bool ws_scx_wait_state(const char *want, int timeout_ms)
{
	long long end = ws_now_ms() + timeout_ms;
	char st[64];

	do {
		if (ws_scx_state(st, sizeof(st)) >= 0 && !strcmp(st, want))
			return true;
		ws_sleep_ms(20);
	} while (ws_now_ms() < end);
	return false;
}

pid_t ws_loader_start(const char *logfile, const char *args)
{
	char cmd[16384];
	pid_t pid;

	snprintf(cmd, sizeof(cmd), "exec %s %s >%s 2>&1", bin_path, args, logfile);
	if (verbose)
		ws_log("$ %s &", cmd);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Has child @pid exited?  Not reaped: its caller's waitpid() still gets the status. */
static bool child_gone(pid_t pid)
{
	siginfo_t si = { 0 };

	return waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == pid;
}

bool ws_loader_wait_attached(pid_t pid, int timeout_ms)
{
	long long end = ws_now_ms() + timeout_ms;
	char ops[128], st[64];

	/* root/ops appears while the state still reads "enabling" */
	do {
		if (ws_read("/sys/kernel/sched_ext/root/ops", ops, sizeof(ops)) >= 0 &&
		    !strcmp(ops, "wattsched") && ws_scx_state(st, sizeof(st)) >= 0 &&
		    !strcmp(st, "enabled"))
			return true;
		if (pid > 0 && child_gone(pid))
			return false;
		ws_sleep_ms(50);
	} while (ws_now_ms() < end);
	return false;
}

int ws_loader_stop(pid_t pid, int sig, int timeout_ms)
{
	long long end = ws_now_ms() + timeout_ms;
	int st;

	if (pid <= 0)
		return -1;
	kill(pid, sig);
	do {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return st;
		if (r < 0)
			return -1;
		ws_sleep_ms(20);
	} while (ws_now_ms() < end);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

struct ws_cpustat {
	unsigned long long busy, user, total;
};

/* Per-CPU busy and total jiffies from /proc/stat. */
static int read_cpustats(struct ws_cpustat *st, int max_cpus)
{
	char line[512];
	int n = 0;
	FILE *f;

	f = fopen("/proc/stat", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v[10] = {};
		int cpu;

		if (strncmp(line, "cpu", 3) || line[3] < '0' || line[3] > '9')
			continue;
		if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
			   &cpu, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
			   &v[7], &v[8], &v[9]) < 8 || cpu >= max_cpus)
			continue;
		/* user nice system idle iowait irq softirq steal (guest is in user) */
		st[cpu].total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
		st[cpu].busy = st[cpu].total - v[3] - v[4];
		st[cpu].user = v[0] + v[1];
		if (cpu + 1 > n)
			n = cpu + 1;
	}
	fclose(f);
	return n;
}

int ws_allow_cpus(pid_t pid, int first, int last)
{
	cpu_set_t set;
	int cpu;

	CPU_ZERO(&set);
	for (cpu = first; cpu <= last; cpu++)
		CPU_SET(cpu, &set);
	return sched_setaffinity(pid, sizeof(set), &set);
}

int ws_read_pstat(pid_t pid, struct ws_pstat *ps)
{
	char path[64], buf[1024], *p, *tok, *save;
	int field;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (ws_read(path, buf, sizeof(buf)) < 0)
		return -1;
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	ps->ticks = 0;
	ps->cpu = -1;
	/* the first token after ") " is field 3 */
	for (field = 3, tok = strtok_r(p + 1, " ", &save); tok;
	     field++, tok = strtok_r(NULL, " ", &save)) {
		if (field == 3)
			ps->state = tok[0];
		else if (field == 14 || field == 15)
			ps->ticks += strtoull(tok, NULL, 10);
		else if (field == 39) {
			ps->cpu = atoi(tok);
			break;
		}
	}
	return ps->cpu >= 0 ? 0 : -1;
}

/* A busy loop allowed on CPUs @first..@last only, ours (SCHED_OTHER) whoever forks it. */
pid_t ws_spawn_hog(int first, int last)
{
	struct sched_param sp = {};
	pid_t pid = fork();
	cpu_set_t set;
	int cpu;

	if (pid)
		return pid;
	CPU_ZERO(&set);
	for (cpu = first; cpu <= last; cpu++)
		CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) || sched_setscheduler(0, SCHED_OTHER, &sp))
		_exit(1);
	for (;;)
		__asm__ volatile("" ::: "memory");
}

int ws_read_schedstat(pid_t pid, struct ws_schedstat *ss)
{
	char path[64], buf[128];

	snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
	if (ws_read(path, buf, sizeof(buf)) <= 0 ||
	    sscanf(buf, "%lld %lld %lld", &ss->run_ns, &ss->wait_ns, &ss->slices) != 3)
		return -1;
	return 0;
}

int ws_dmesg_mark(void)
{
	char buf[32];

	if (ws_sh_out(buf, sizeof(buf), "dmesg | wc -l") != 0)
		return 0;
	return atoi(buf);
}

int ws_dmesg_bad_since(int mark, char *buf, size_t len)
{
	buf[0] = '\0';
	ws_sh_out(buf, len,
		  "dmesg | tail -n +%d | grep -E 'WARNING:|Call Trace|" WS_DMESG_WORSE "' | head -n 20",
		  mark + 1);
	return strlen(buf) ? 1 : 0;
}

bool ws_dmesg_only_warning(int mark, const char *present_re, const char *warning_re)
{
	return ws_sh("d=$(dmesg | tail -n +%d); "
		     "echo \"$d\" | grep -Eq '%s' && "
		     "! echo \"$d\" | grep 'WARNING:' | grep -Evq '%s' && "
		     "! echo \"$d\" | grep -Eq '" WS_DMESG_WORSE "'",
		     mark + 1, present_re, warning_re) == 0;
}

/*
 * On 6.12 (6.12.118 seen), a CPU offlined under load while a sched_ext
 * scheduler runs makes the kernel end the scheduler (no ops.cpu_offline),
 * and the disabling, which runs in migration/N while the CPU goes down,
 * underflows the deadline class's running bandwidth: one WARNING at
 * kernel/sched/deadline.c:265 in task_non_contending.  The kernel's own
 * scx_simple does the same in the same VM; EEVDF alone does not, nor do
 * 7.2 and 7.3 (README, "Kernels").  True only on 6.12, when every WARNING
 * since @mark is that one and nothing worse (BUG, Oops, GPF) was logged.
 */
bool ws_dmesg_only_612_offline_warning(int mark)
{
	struct utsname u;

	if (uname(&u) || strncmp(u.release, "6.12.", 5))
		return false;
	return ws_dmesg_only_warning(mark,
				     "WARNING: .* at kernel/sched/deadline.c:[0-9]* task_non_contending",
				     "kernel/sched/deadline.c:[0-9]* task_non_contending");
}

/*
 * Busy fraction (0..1) of each CPU over @ms, from /proc/stat, and, unless
 * @user is NULL, the part of it in user mode (user and nice: the work a
 * scheduler places, not interrupts or kernel threads bound to the CPU);
 * CPUs past the last one read are 0.  Returns how many CPUs /proc/stat
 * listed both times.
 */
int ws_cpu_shares_over(int ms, double *busy, double *user)
{
	struct ws_cpustat a[WS_MAX_TEST_CPUS] = {}, b[WS_MAX_TEST_CPUS] = {};
	int cpu, na, nb;

	na = read_cpustats(a, WS_MAX_TEST_CPUS);
	ws_sleep_ms(ms);
	nb = read_cpustats(b, WS_MAX_TEST_CPUS);
	if (nb > na)
		nb = na;
	for (cpu = 0; cpu < WS_MAX_TEST_CPUS; cpu++) {
		unsigned long long dt = b[cpu].total - a[cpu].total;
		bool seen = cpu < nb && dt;

		busy[cpu] = seen ? (double)(b[cpu].busy - a[cpu].busy) / dt : 0;
		if (user)
			user[cpu] = seen ? (double)(b[cpu].user - a[cpu].user) / dt : 0;
	}
	return nb;
}

int ws_busy_over(int ms, double *busy)
{
	return ws_cpu_shares_over(ms, busy, NULL);
}

double ws_wait_quiet(double cpus, int timeout_ms)
{
	double busy[WS_MAX_TEST_CPUS], sum;
	long long t0 = ws_now_ms();
	int cpu;

	do {
		ws_busy_over(1000, busy);
		for (sum = 0, cpu = 0; cpu < WS_MAX_TEST_CPUS; cpu++)
			sum += busy[cpu];
	} while (sum >= cpus && ws_now_ms() - t0 < timeout_ms);
	return sum;
}

/*
 * Write the injection ourselves: a shell's exec under 8 hogs takes seconds
 * in an emulated guest, which would swamp a 500 ms measurement.
 */
int ws_inject_temp(int cpu, int mc)
{
	return ws_write("/sys/kernel/debug/wattsched/inject/thermal", "cpu=%d temp_mc=%d", cpu, mc);
}

int ws_sampler_fifo(bool on)
{
	struct sched_param sp = { .sched_priority = on ? 1 : 0 };

	return sched_setscheduler(0, on ? SCHED_FIFO : SCHED_OTHER, &sp);
}

int ws_ctl_raw(const char *req, size_t len, char *buf, size_t buflen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = WS_CTL_SOCK_PATH };
	ssize_t n;
	int fd;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) || send(fd, req, len, 0) < 0) {
		close(fd);
		return -1;
	}
	n = recv(fd, buf, buflen - 1, 0);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

enum ws_up ws_loader_up(struct ws_loader *ld, const char *log, const char *args,
			char *why, size_t len)
{
	char st[64];

	ld->pid = 0;
	if (ws_scx_state(st, sizeof(st)) < 0) {
		snprintf(why, len, "kernel has no sched_ext (/sys/kernel/sched_ext/state missing)");
		return WS_UP_SKIP;
	}
	if (strcmp(st, "disabled")) {
		snprintf(why, len, "sched_ext is '%s', not disabled: another scheduler is attached",
			 st);
		return WS_UP_SKIP;
	}
	if (!ws_exists(bin_path)) {
		snprintf(why, len, "%s is not built (set WS_SRC, or WS_OUT)", bin_path);
		return WS_UP_SKIP;
	}
	snprintf(ld->log, sizeof(ld->log), "%s", log);
	ld->dmesg_mark = ws_dmesg_mark();
	ld->pid = ws_loader_start(log, args);
	if (ld->pid > 0 && ws_loader_wait_attached(ld->pid, WS_ATTACH_MS))
		return WS_UP;
	ws_log("`wattsched %s` did not attach (%s); the end of its output:", args,
	       ld->pid > 0 && child_gone(ld->pid) ? "it exited" : "not within the time allowed");
	ws_sh_log("tail -n 30 %s", log);
	ws_loader_stop(ld->pid, SIGKILL, 5000);
	ld->pid = 0;
	ws_scx_wait_state("disabled", 10000);
	snprintf(why, len, "the loader did not attach");
	return WS_UP_FAIL;
}

int ws_loader_down(struct ws_loader *ld, int sig)
{
	int st = -1;

	if (ld->pid > 0)
		st = ws_loader_stop(ld->pid, sig, sig == SIGKILL ? 5000 : 20000);
	ld->pid = 0;
	return ws_scx_wait_state("disabled", 10000) ? st : -1;
}

/* The online NUMA nodes, as a count, from sysfs; 1 without NUMA. */
static int nr_nodes(void)
{
	char buf[64], *dash;

	if (ws_read("/sys/devices/system/node/online", buf, sizeof(buf)) <= 0)
		return 1;
	dash = strchr(buf, '-');
	return dash ? atoi(dash + 1) - atoi(buf) + 1 : 1;
}

bool ws_machine_fits(const char *machine, char *why, size_t len)
{
	int nodes = nr_nodes(), cpus = sysconf(_SC_NPROCESSORS_ONLN);
	char n0[64] = "", dist[64] = "";

	ws_read("/sys/devices/system/node/node0/cpulist", n0, sizeof(n0));
	ws_read("/sys/devices/system/node/node0/distance", dist, sizeof(dist));
	if (!strcmp(machine, "numa") && nodes == 2 && cpus == 8 && !strcmp(n0, "0-3"))
		return true;
	if (!strcmp(machine, "numa4") && nodes == 4 && cpus == 8 && !strcmp(n0, "0-1") &&
	    !strcmp(dist, "10 30 15 40"))
		return true;
	if (!strcmp(machine, "any"))
		return true;
	snprintf(why, len, "written for the '%s' VM of tests/run (see its topo_args); "
		 "this machine has %d CPUs on %d nodes (node0: cpus %s, distances %s)",
		 machine, cpus, nodes, n0[0] ? n0 : "-", dist[0] ? dist : "-");
	return false;
}

/* A number in `status --json`: the first "@key":N; -1 when there is none. */
long long ws_status_count(const char *key)
{
	char buf[8192], want[64];
	const char *v;

	snprintf(want, sizeof(want), "\"%s\":", key);
	if (ws_sh_out(buf, sizeof(buf), "%s status --json", ws_wattsched()))
		return -1;
	v = strstr(buf, want);
	return v ? strtoll(v + strlen(want), NULL, 10) : -1;
}

bool ws_kmod_unload(void)
{
	long long end = ws_now_ms() + 5000;

	ws_write("/sys/kernel/debug/wattsched/inject/clear", "all");
	do {
		if (ws_sh("rmmod wattsched_telemetry 2>/dev/null") == 0)
			return true;
		ws_sleep_ms(250);
	} while (ws_now_ms() < end);
	return ws_sh("rmmod wattsched_telemetry") == 0;
}
