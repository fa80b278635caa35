// SPDX-License-Identifier: GPL-2.0
/*
 * t_sched.c - the scheduler's lifecycle in a real kernel: it attaches and
 * names itself, carries a stress load, detaches cleanly on SIGINT, reports
 * a kernel-side exit, switches policy in place, and after SIGKILL of the
 * loader the kernel is back on EEVDF.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wstest.h"

#define LOG "/tmp/wattsched-test.log"

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
