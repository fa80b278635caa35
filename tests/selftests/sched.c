// SPDX-License-Identifier: GPL-2.0
/*
 * t_sched.c - the scheduler's lifecycle in a real kernel: it attaches and
 * names itself, carries a stress load, detaches cleanly on SIGINT, reports
 * a kernel-side exit, switches policy in place through the control socket,
 * which refuses bad requests and non-root peers, and after SIGKILL of the
 * loader the kernel is back on EEVDF.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wstest.h"

#define LOG "/tmp/wattsched-test.log"
#define CTL_SOCK WS_CTL_SOCK_PATH

struct loader {
	pid_t pid;
	int dmesg_mark;
};

static struct loader ld;

static enum ws_result need_scx(void)
{
	char st[64];

	if (ws_scx_state(st, sizeof(st)) < 0)
		return ws_skip("kernel has no sched_ext (/sys/kernel/sched_ext/state missing)");
	if (strcmp(st, "disabled"))
		return ws_skip("sched_ext is '%s', not disabled: another scheduler is attached", st);
	if (!ws_exists(ws_wattsched()))
		return ws_skip("%s not built", ws_wattsched());
	return WS_PASS;
}

static enum ws_result attach_setup(void **ctx)
{
	enum ws_result r = need_scx();

	if (r != WS_PASS)
		return r;
	ld.dmesg_mark = ws_dmesg_mark();
	ld.pid = ws_loader_start(LOG, "run --interval 1");
	if (ld.pid < 0 || !ws_loader_wait_attached(15000)) {
		ws_log("loader did not attach within 15 s; its output:");
		ws_sh("sed 's/^/# /' " LOG);
		ws_loader_stop(ld.pid, SIGKILL, 5000);
		return WS_FAIL;
	}
	*ctx = &ld;
	return WS_PASS;
}

static void attach_cleanup(void *ctx)
{
	struct loader *l = ctx;

	if (l->pid > 0)
		ws_loader_stop(l->pid, SIGKILL, 5000);
	l->pid = 0;
	ws_scx_wait_state("disabled", 10000);
}

static enum ws_result attached_run(void *ctx)
{
	struct loader *l = ctx;
	char st[64], ops[64], buf[512];
	int status;

	WS_ASSERT(ws_scx_state(st, sizeof(st)) > 0 && !strcmp(st, "enabled"),
		  "state is '%s'", st);
	WS_ASSERT(ws_read("/sys/kernel/sched_ext/root/ops", ops, sizeof(ops)) > 0 &&
		  !strcmp(ops, "wattsched"), "root/ops is '%s'", ops);
	/* status reads the pinned maps and agrees with the kernel */
	WS_ASSERT(ws_sh_out(buf, sizeof(buf), "%s status --json", ws_wattsched()) == 0,
		  "status failed: %s", buf);
	WS_ASSERT(strstr(buf, "\"attached\":true") && strstr(buf, "\"policy\":\"balanced\""),
		  "status --json: %s", buf);

	status = ws_loader_stop(l->pid, SIGINT, 10000);
	l->pid = 0;
	WS_ASSERT(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "loader exit status %#x after SIGINT", status);
	WS_ASSERT(ws_scx_wait_state("disabled", 5000), "state did not return to disabled");
	WS_ASSERT(ws_sh("grep -q 'detached' " LOG) == 0, "loader did not report the detach");
	WS_ASSERT(!ws_exists("/sys/fs/bpf/wattsched/ws_ctl"), "pinned maps left behind");
	return WS_PASS;
}
WS_TEST(sched_attach_detach,
	"attaches (state enabled, root/ops=wattsched), status agrees, SIGINT detaches with 0",
	"basic", attach_setup, attached_run, attach_cleanup);

static enum ws_result stress_run(void *ctx)
{
	struct loader *l = ctx;
	char st[64], bad[2048];
	int rc;

	rc = ws_sh("stress-ng --cpu 4 --fork 2 --switch 2 --pipe 2 --timeout 20 "
		   "--metrics-brief >/tmp/stress.log 2>&1");
	if (rc)
		ws_sh("tail -n 20 /tmp/stress.log | sed 's/^/# /'");
	WS_ASSERT(rc == 0, "stress-ng exited %d", rc);
	WS_ASSERT(kill(l->pid, 0) == 0, "loader died during the load");
	WS_ASSERT(ws_scx_state(st, sizeof(st)) > 0 && !strcmp(st, "enabled"),
		  "state is '%s' after the load (scheduler ended?)", st);
	WS_ASSERT(!ws_dmesg_bad_since(l->dmesg_mark, bad, sizeof(bad)), "dmesg: %s", bad);
	return WS_PASS;
}
WS_TEST(sched_stress_20s,
	"stress-ng cpu/fork/switch/pipe mix for 20 s under wattsched: no error, still attached",
	"basic", attach_setup, stress_run, attach_cleanup);

/*
 * A second `run` while one is attached: it must exit 1 naming the first's
 * pid and touch nothing, so the first keeps its pins, socket and control.
 */
static enum ws_result second_loader_run(void *ctx)
{
	struct loader *l = ctx;
	char buf[1024], want[64];
	int rc;

	rc = ws_sh_out(buf, sizeof(buf), "%s run --interval 0 2>&1", ws_wattsched());
	ws_log("second run: exit %d: %s", rc, buf);
	snprintf(want, sizeof(want), "pid %d", l->pid);
	WS_ASSERT(rc == 1 && strstr(buf, "another wattsched loader is running") &&
		  strstr(buf, want), "second run: exit %d: %s", rc, buf);
	WS_ASSERT(kill(l->pid, 0) == 0, "the first loader died");
	WS_ASSERT(ws_exists("/sys/fs/bpf/wattsched/ws_ctl") && ws_exists(CTL_SOCK),
		  "the first loader's pins or socket are gone");
	WS_ASSERT(ws_sh_out(buf, sizeof(buf), "%s policy powersave 2>&1", ws_wattsched()) == 0 &&
		  strstr(buf, "policy: powersave"), "policy after the second run: %s", buf);
	WS_ASSERT(ws_sh_out(buf, sizeof(buf), "%s status --json", ws_wattsched()) == 0 &&
		  strstr(buf, "\"policy\":\"powersave\""), "status after the second run: %s", buf);
	return WS_PASS;
}
WS_TEST(sched_second_loader_refused,
	"a second run while one is attached exits 1 naming the first's pid; the first keeps "
	"its maps, socket and control",
	"basic", attach_setup, second_loader_run, attach_cleanup);

/*
 * The loader's output into a pipe nobody reads (a closed terminal, a log
 * shipper that died): every write fails with EPIPE, and with SIGPIPE at
 * its default the first one would kill the loader, and the scheduler with
 * it.  The runner ignores SIGPIPE and that is inherited, so the child puts
 * it back to the default before exec, as a shell would.
 */
static pid_t start_into_closed_pipe(void)
{
	int fds[2], log;
	pid_t pid;

	if (pipe(fds))
		return -1;
	pid = fork();
	if (!pid) {
		log = open(LOG, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (log < 0 || dup2(fds[1], 1) < 0 || dup2(log, 2) < 0)
			_exit(127);
		close(fds[0]);
		close(fds[1]);
		close(log);
		signal(SIGPIPE, SIG_DFL);
		execl(ws_wattsched(), "wattsched", "run", "--interval", "0", (char *)NULL);
		_exit(127);
	}
	close(fds[0]);
	close(fds[1]);
	return pid;
}

static enum ws_result closed_pipe_setup(void **ctx)
{
	enum ws_result r = need_scx();

	if (r != WS_PASS)
		return r;
	ld.dmesg_mark = ws_dmesg_mark();
	ld.pid = start_into_closed_pipe();
	*ctx = &ld;
	return ld.pid > 0 ? WS_PASS : WS_FAIL;
}

static enum ws_result closed_pipe_run(void *ctx)
{
	struct loader *l = ctx;
	int i, status;

	WS_ASSERT(ws_loader_wait_attached(15000), "did not attach with stdout a closed pipe "
		  "(loader %s)", waitpid(l->pid, &status, WNOHANG) ? "gone" : "alive");
	for (i = 0; i < 2; i++)
		WS_ASSERT(ws_sh("%s policy %s >/dev/null", ws_wattsched(),
				i ? "balanced" : "powersave") == 0, "policy switch %d refused", i);
	ws_sleep_ms(1000);
	WS_ASSERT(waitpid(l->pid, &status, WNOHANG) == 0,
		  "the loader ended writing into a closed pipe (status %#x)", status);
	WS_ASSERT(ws_scx_wait_state("enabled", 1000), "the scheduler is gone");
	status = ws_loader_stop(l->pid, SIGINT, 10000);
	l->pid = 0;
	WS_ASSERT(status >= 0 && WIFEXITED(status), "loader status %#x after SIGINT", status);
	WS_ASSERT(ws_scx_wait_state("disabled", 5000), "state did not return to disabled");
	return WS_PASS;
}
WS_TEST(sched_stdout_closed_pipe,
	"the loader's stdout a pipe nobody reads: policy switches print into it, the loader "
	"and the scheduler stay (SIGPIPE ignored)",
	"basic", closed_pipe_setup, closed_pipe_run, attach_cleanup);

static enum ws_result sigkill_run(void *ctx)
{
	struct loader *l = ctx;
	char st[64];
	int status;

	status = ws_loader_stop(l->pid, SIGKILL, 10000);
	l->pid = 0;
	WS_ASSERT(status >= 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		  "loader status %#x", status);
	/* The struct_ops link dies with the last fd: the kernel returns to EEVDF. */
	WS_ASSERT(ws_scx_wait_state("disabled", 10000), "state did not return to disabled");
	WS_ASSERT(ws_scx_state(st, sizeof(st)) > 0 && !strcmp(st, "disabled"), "state '%s'", st);
	/* the pins outlive the loader; status must not mistake them for a scheduler */
	WS_ASSERT(ws_sh("%s status 2>&1 | grep -q 'not running.*stale'", ws_wattsched()) == 0,
		  "status after SIGKILL does not report 'not running' and the stale pins");
	return WS_PASS;
}
WS_TEST(sched_sigkill_fallback,
	"SIGKILL of the loader: sched_ext state returns to disabled (EEVDF back)",
	"basic", attach_setup, sigkill_run, attach_cleanup);

static enum ws_result sysrq_run(void *ctx)
{
	struct loader *l = ctx;
	int status;

	if (!ws_exists("/proc/sysrq-trigger"))
		return ws_skip("no /proc/sysrq-trigger (CONFIG_MAGIC_SYSRQ off)");
	/* sysrq-S: the kernel itself ends the BPF scheduler */
	WS_ASSERT(ws_sh("echo 1 > /proc/sys/kernel/sysrq; echo S > /proc/sysrq-trigger") == 0,
		  "cannot trigger sysrq");
	WS_ASSERT(ws_scx_wait_state("disabled", 10000), "state did not return to disabled");
	status = ws_loader_stop(l->pid, 0, 10000);	/* signal 0: just wait */
	l->pid = 0;
	WS_ASSERT(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 1,
		  "loader exit status %#x, want exit 1", status);
	WS_ASSERT(ws_sh("grep -q 'the kernel ended the scheduler: .*[Ss]ys[Rr]q' " LOG) == 0,
		  "loader did not print the kernel's reason");
	ws_sh("grep 'ended the scheduler' " LOG " | sed 's/^/# /'");
	return WS_PASS;
}
WS_TEST(sched_kernel_exit_reported,
	"sysrq-S ends the scheduler in the kernel: loader prints the reason and exits 1",
	"basic", attach_setup, sysrq_run, attach_cleanup);

static enum ws_result policy_run(void *ctx)
{
	static const char *const names[] = { "performance", "powersave", "capped", "balanced" };
	char buf[512];
	unsigned int i;

	for (i = 0; i < 4; i++) {
		WS_ASSERT(ws_sh("%s policy %s >/dev/null", ws_wattsched(), names[i]) == 0,
			  "policy %s refused", names[i]);
		WS_ASSERT(ws_sh_out(buf, sizeof(buf), "%s status --json", ws_wattsched()) == 0,
			  "status failed");
		WS_ASSERT(strstr(buf, names[i]), "status after 'policy %s': %s", names[i], buf);
	}
	/* bad input: refused with a message, and the policy stays */
	WS_ASSERT(ws_sh_out(buf, sizeof(buf), "%s policy turbo 2>&1", ws_wattsched()) == 2,
		  "unknown policy not refused with status 2");
	WS_ASSERT(strstr(buf, "unknown policy 'turbo'"), "message: %s", buf);
	WS_ASSERT(ws_sh_out(buf, sizeof(buf), "%s status --json", ws_wattsched()) == 0 &&
		  strstr(buf, "\"policy\":\"balanced\""), "policy changed by a refused request: %s",
		  buf);
	return WS_PASS;
}
WS_TEST(sched_policy_switch,
	"policy switches in place (status follows); an unknown policy is refused, state kept",
	"basic", attach_setup, policy_run, attach_cleanup);

static enum ws_result noscx_run(void *ctx)
{
	char buf[512];
	int rc;

	/* With no scheduler attached, control commands fail clearly. */
	rc = ws_sh_out(buf, sizeof(buf), "%s status 2>&1", ws_wattsched());
	WS_ASSERT(rc == 1 && strstr(buf, "not running"), "status with nothing attached: %d %s",
		  rc, buf);
	rc = ws_sh_out(buf, sizeof(buf), "%s run --slice-us 5 2>&1", ws_wattsched());
	WS_ASSERT(rc == 2 && strstr(buf, "--slice-us"), "bad --slice-us: %d %s", rc, buf);
	rc = ws_sh_out(buf, sizeof(buf), "%s frobnicate 2>&1", ws_wattsched());
	WS_ASSERT(rc == 2 && strstr(buf, "unknown command"), "unknown command: %d %s", rc, buf);
	return WS_PASS;
}

static enum ws_result noscx_setup(void **ctx)
{
	return need_scx();
}
WS_TEST(cli_errors_detached,
	"with nothing attached, status says so; bad options and commands exit 2 with a message",
	"basic", noscx_setup, noscx_run, NULL);

/* Send one raw request on the control socket; the answer goes to buf. */
static enum ws_result ctlsock_run(void *ctx)
{
	static const struct {
		const char *req, *err;
	} bad[] = {
		{ "garbage", "not a JSON object" },
		{ "[1,2]", "not a JSON object" },
		{ "{\"op\":\"policy\"}", "missing field 'policy'" },
		{ "{\"op\":\"policy\",\"policy\":\"turbo\"}", "unknown policy 'turbo'" },
		{ "{\"op\":\"cap\",\"watts\":5}", "outside 10..100000" },
		{ "{\"op\":\"cap\",\"watts\":350,\"extra\":1}", "unknown field 'extra'" },
		{ "{\"op\":\"shutdown\"}", "unknown op 'shutdown'" },
	};
	char buf[1024], big[8192];
	struct stat st;
	unsigned int i;
	int rc;

	WS_ASSERT(stat(CTL_SOCK, &st) == 0 && S_ISSOCK(st.st_mode) &&
		  (st.st_mode & 0777) == 0600 && st.st_uid == 0, "socket mode %o", st.st_mode);
	WS_ASSERT(stat("/run/wattsched", &st) == 0 && (st.st_mode & 0777) == 0700,
		  "socket directory mode %o", st.st_mode);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		WS_ASSERT(ws_ctl_raw(bad[i].req, strlen(bad[i].req), buf, sizeof(buf)) == 0,
			  "no answer to %s", bad[i].req);
		WS_ASSERT(strstr(buf, "\"ok\":false") && strstr(buf, bad[i].err),
			  "request %s: answer %s", bad[i].req, buf);
	}
	memset(big, '{', sizeof(big));
	WS_ASSERT(ws_ctl_raw(big, sizeof(big), buf, sizeof(buf)) == 0 &&
		  strstr(buf, "longer than"), "overlong request: %s", buf);
	WS_ASSERT(ws_ctl_raw("{\"op\":\"get\"}", 12, buf, sizeof(buf)) == 0 &&
		  strstr(buf, "\"ok\":true") && strstr(buf, "\"policy\":\"balanced\"") &&
		  strstr(buf, "\"generation\":1,"), "state changed by refused requests: %s", buf);

	/*
	 * The loader checks the peer's credentials, not just the socket's mode:
	 * open the socket to everyone and a non-root client is still refused.
	 */
	WS_ASSERT(ws_sh("chmod 0755 /run/wattsched && chmod 0666 " CTL_SOCK) == 0, "chmod");
	rc = ws_sh_out(buf, sizeof(buf), "setpriv --reuid=65534 --regid=65534 --clear-groups "
		       "%s policy powersave 2>&1", ws_wattsched());
	ws_sh("chmod 0700 /run/wattsched && chmod 0600 " CTL_SOCK);
	ws_log("non-root peer on an open socket: exit %d: %s", rc, buf);
	WS_ASSERT(rc == 1 && strstr(buf, "refused: permission denied"),
		  "non-root peer: exit %d: %s", rc, buf);
	WS_ASSERT(ws_sh("%s status --json | grep -q '\"policy\":\"balanced\",\"generation\":1,'",
			ws_wattsched()) == 0, "a refused peer changed the state");
	return WS_PASS;
}
WS_TEST(control_socket_rules,
	"control socket: 0600 in a 0700 directory; malformed, invalid and overlong requests "
	"are refused with the reason; a non-root peer is refused by its credentials",
	"basic", attach_setup, ctlsock_run, attach_cleanup);

static enum ws_result switch1000_run(void *ctx)
{
	static const char *const names[] = { "performance", "powersave", "capped", "balanced" };
	struct loader *l = ctx;
	char req[128], buf[512], want[128], st[64];
	long long t0 = ws_now_ms();
	unsigned int i;
	int rc;

	WS_ASSERT(ws_sh("stress-ng --cpu 2 --switch 1 --timeout 600 --quiet >/tmp/sw.log 2>&1 &"
			" echo $! >/tmp/sw.pid") == 0, "cannot start stress-ng");
	/* The control path `wattsched policy` uses, without 1000 execs under emulation. */
	for (i = 0; i < 1000; i++) {
		snprintf(req, sizeof(req), "{\"op\":\"policy\",\"policy\":\"%s\"}", names[i % 4]);
		WS_ASSERT(ws_ctl_raw(req, strlen(req), buf, sizeof(buf)) == 0,
			  "switch %u: no answer", i);
		snprintf(want, sizeof(want), "\"policy\":\"%s\",\"generation\":%u,", names[i % 4],
			 i + 2);
		WS_ASSERT(strstr(buf, "\"ok\":true") && strstr(buf, want),
			  "switch %u: want %s, answer %s", i, want, buf);
	}
	ws_log("1000 switches in %.1f s", (ws_now_ms() - t0) / 1000.0);
	/* every switch applied exactly once: none lost, none doubled */
	WS_ASSERT(ws_sh("%s status --json | grep -q '\"policy\":\"balanced\",\"generation\":1001,'",
			ws_wattsched()) == 0, "status does not show generation 1001");
	WS_ASSERT(ws_sh_out(buf, sizeof(buf), "%s policy powersave", ws_wattsched()) == 0 &&
		  strstr(buf, "policy: powersave (generation 1002)"), "CLI switch: %s", buf);
	WS_ASSERT(kill(l->pid, 0) == 0, "loader died");
	WS_ASSERT(ws_scx_state(st, sizeof(st)) > 0 && !strcmp(st, "enabled"),
		  "state '%s' after the switches (scheduler ended?)", st);
	rc = ws_sh("kill -INT $(cat /tmp/sw.pid); while kill -0 $(cat /tmp/sw.pid) 2>/dev/null; "
		   "do sleep 0.1; done; ! grep -qi 'fail\\|error' /tmp/sw.log");
	WS_ASSERT(rc == 0, "stress-ng reported an error: see /tmp/sw.log");
	return WS_PASS;
}

static void switch1000_cleanup(void *ctx)
{
	ws_sh("pkill -KILL stress-ng; true");
	attach_cleanup(ctx);
}
WS_TEST(policy_switch_1000,
	"1000 runtime switches across all policies under stress-ng: each applied exactly once "
	"(generation +1), scheduler attached throughout",
	"basic", attach_setup, switch1000_run, switch1000_cleanup);
