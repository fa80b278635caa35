// SPDX-License-Identifier: GPL-2.0
/*
 * runner.c - the VM test runner, wstest.
 *
 *	wstest [--topo NAME] [--list] [--verbose] [TEST...]
 *
 * Runs, in registration order, every test registered for the topology NAME
 * (default "basic") or the named tests, and prints TAP version 13.  Runs as
 * root inside the guest; see tests/run for how the guest is booted.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wstest.h"

static struct ws_test *tests_head, **tests_tail = &tests_head;
static char skip_reason[256];
static int verbose;
static char src_dir[4096], out_dir[4096], bin_path[4200], kmod_path[4200];

void ws_test_register(struct ws_test *t)
{
	*tests_tail = t;
	tests_tail = &t->next;
}

void ws_log(const char *fmt, ...)
{
	char buf[4096], *line, *save;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		printf("# %s\n", line);
	fflush(stdout);
}

enum ws_result ws_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(skip_reason, sizeof(skip_reason), fmt, ap);
	va_end(ap);
	return WS_SKIP;
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

bool ws_loader_wait_attached(int timeout_ms)
{
	long long end = ws_now_ms() + timeout_ms;
	char ops[128], st[64];

	/* root/ops appears while the state still reads "enabling" */
	do {
		if (ws_read("/sys/kernel/sched_ext/root/ops", ops, sizeof(ops)) >= 0 &&
		    !strcmp(ops, "wattsched") && ws_scx_state(st, sizeof(st)) >= 0 &&
		    !strcmp(st, "enabled"))
			return true;
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
	unsigned long long busy, total;
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
		if (cpu + 1 > n)
			n = cpu + 1;
	}
	fclose(f);
	return n;
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
		  "dmesg | tail -n +%d | grep -E 'WARNING:|BUG:|Oops|Call Trace|general protection|kernel BUG' | head -n 20",
		  mark + 1);
	return strlen(buf) ? 1 : 0;
}

static bool selected(const struct ws_test *t, const char *topo, char **names, int nr_names)
{
	int i;

	if (!nr_names)
		return !strcmp(t->topo, topo);
	for (i = 0; i < nr_names; i++)
		if (!strcmp(names[i], t->name))
			return true;
	return false;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: wstest [--topo NAME] [--list] [--verbose] [TEST...]\n"
		   "Run wattsched's VM tests registered for topology NAME (default basic),\n"
		   "or the named tests, printing TAP.  Needs root in a sched_ext kernel.\n");
}

/*
 * Busy fraction (0..1) of each CPU over @ms, from /proc/stat; CPUs past the
 * last one read are 0.  Returns how many CPUs /proc/stat listed both times.
 */
int ws_busy_over(int ms, double *busy)
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

		busy[cpu] = cpu < nb && dt ? (double)(b[cpu].busy - a[cpu].busy) / dt : 0;
	}
	return nb;
}

/*
 * Write the injection ourselves: a shell's exec under 8 hogs takes seconds
 * in an emulated guest, which would swamp a 500 ms measurement.
 */
int ws_inject_temp(int cpu, int mc)
{
	char cmd[64];
	int fd, len, ret = 0;

	len = snprintf(cmd, sizeof(cmd), "cpu=%d temp_mc=%d", cpu, mc);
	fd = open("/sys/kernel/debug/wattsched/inject/thermal", O_WRONLY);
	if (fd < 0)
		return -1;
	if (write(fd, cmd, len) != len)
		ret = -1;
	close(fd);
	return ret;
}

int ws_sampler_fifo(bool on)
{
	struct sched_param sp = { .sched_priority = on ? 1 : 0 };

	return sched_setscheduler(0, on ? SCHED_FIFO : SCHED_OTHER, &sp);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "topo", required_argument, NULL, 't' },
		{ "list", no_argument, NULL, 'l' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *topo = "basic", *env;
	int c, n = 0, i = 0, failed = 0, list = 0;
	struct ws_test *t;

	while ((c = getopt_long(argc, argv, "t:lvh", opts, NULL)) != -1) {
		switch (c) {
		case 't': topo = optarg; break;
		case 'l': list = 1; break;
		case 'v': verbose = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}

	env = getenv("WS_SRC");
	snprintf(src_dir, sizeof(src_dir), "%s", env ? env : ".");
	env = getenv("WS_OUT");
	snprintf(out_dir, sizeof(out_dir), "%s", env ? env : src_dir);
	snprintf(bin_path, sizeof(bin_path), "%s/user/wattsched", out_dir);
	snprintf(kmod_path, sizeof(kmod_path), "%s/kmod/wattsched_telemetry.ko", out_dir);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Tests are independent: no loader continues from an earlier test's
	 * intent.  The tests of the state file name their own (--state-file).
	 */
	setenv("WATTSCHED_STATE", "none", 0);

	for (t = tests_head; t; t = t->next) {
		if (list)
			printf("%-28s %-8s %s\n", t->name, t->topo, t->desc);
		else if (selected(t, topo, argv + optind, argc - optind))
			n++;
	}
	if (list)
		return 0;

	printf("TAP version 13\n1..%d\n", n);
	for (t = tests_head; t; t = t->next) {
		enum ws_result r;
		void *ctx = NULL;
		long long t0;

		if (!selected(t, topo, argv + optind, argc - optind))
			continue;
		i++;
		skip_reason[0] = '\0';
		ws_log("%s: %s", t->name, t->desc);
		t0 = ws_now_ms();
		r = t->setup ? t->setup(&ctx) : WS_PASS;
		if (r == WS_PASS) {
			r = t->run(ctx);
			if (t->cleanup)
				t->cleanup(ctx);
		}
		switch (r) {
		case WS_PASS:
			printf("ok %d - %s (%.1f s)\n", i, t->name, (ws_now_ms() - t0) / 1000.0);
			break;
		case WS_SKIP:
			printf("ok %d - %s # SKIP %s\n", i, t->name,
			       skip_reason[0] ? skip_reason : "no reason given");
			break;
		default:
			failed++;
			printf("not ok %d - %s\n", i, t->name);
			break;
		}
	}
	return failed ? 1 : 0;
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
