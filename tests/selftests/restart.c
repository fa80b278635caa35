// SPDX-License-Identifier: GPL-2.0
/*
 * t_restart.c - operator intent survives restarts: a loader killed with
 * SIGKILL and started again with the same options continues with the cap
 * and the class rules set at runtime; a CPU hotplug, which makes the kernel
 * end the scheduler and ask for a restart, keeps them too; a changed
 * command line starts from itself.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wstest.h"

#define LOG		"/tmp/wattsched-restart.log"
#define STATE		"/tmp/ws-state/state.json"
#define ARGS		"run --interval 0 --state-file " STATE
#define CG		"/sys/fs/cgroup/ws-restart"
#define CPU1		"/sys/devices/system/cpu/cpu1/online"

static pid_t loader;

static bool start(const char *args)
{
	loader = ws_loader_start(LOG, args);
	if (loader > 0 && ws_loader_wait_attached(30000))
		return true;
	ws_sh("tail -n 20 " LOG " | sed 's/^/# /'");
	return false;
}

static enum ws_result restart_setup(void **ctx)
{
	char st[64];

	if (ws_scx_state(st, sizeof(st)) < 0)
		return ws_skip("kernel has no sched_ext");
	if (!ws_exists(CPU1))
		return ws_skip("cpu1 cannot go offline here");
	ws_sh("rm -rf /tmp/ws-state; mkdir -p " CG);
	return start(ARGS) ? WS_PASS : WS_FAIL;
}

static void restart_cleanup(void *ctx)
{
	ws_sh("echo 1 > " CPU1 " 2>/dev/null; true");
	ws_loader_stop(loader, SIGINT, 10000);
	ws_scx_wait_state("disabled", 10000);
	ws_sh("rmdir " CG " 2>/dev/null; grep -E 'restor|restart|command line|ended' " LOG
	      " | tail -n 8 | sed 's/^/# loader: /'");
}

static int get(char *buf, size_t len)
{
	return ws_ctl_raw("{\"op\":\"get\"}", 12, buf, len);
}

/* Wait for the kernel to end the scheduler and the loader to attach again. */
static bool reattached(const char *after)
{
	long long end = ws_now_ms() + 60000;

	while (ws_now_ms() < end) {
		if (ws_sh("grep -c 'restarting after the kernel' " LOG " | grep -qx '%s'", after) == 0 &&
		    ws_loader_wait_attached(1000))
			return true;
		ws_sleep_ms(500);
	}
	return false;
}

static enum ws_result restart_run(void *ctx)
{
	char buf[4096];

	WS_ASSERT(ws_sh("%s cap 200 >/dev/null && %s class set /ws-restart batch >/dev/null",
			ws_wattsched(), ws_wattsched()) == 0, "cap or class refused");

	/* SIGKILL, then the same command line: it continues */
	WS_ASSERT(ws_loader_stop(loader, SIGKILL, 5000) >= 0 && ws_scx_wait_state("disabled", 10000),
		  "the killed loader's scheduler did not go");
	WS_ASSERT(start(ARGS), "the loader did not start again");
	WS_ASSERT(get(buf, sizeof(buf)) == 0, "get failed");
	ws_log("after SIGKILL and a restart: %s", buf);
	WS_ASSERT(strstr(buf, "\"cap_watts\":200,") && strstr(buf, "\"cap_origin\":\"cli\"") &&
		  strstr(buf, "\"intent_source\":\"restored\""), "the cap did not survive: %s", buf);
	WS_ASSERT(ws_sh_out(buf, sizeof(buf), "%s class list", ws_wattsched()) == 0 &&
		  strstr(buf, "/ws-restart") && strstr(buf, "batch"),
		  "the class rule did not survive: %s", buf);

	/* CPU hotplug: the kernel ends the scheduler and asks for a restart */
	WS_ASSERT(ws_sh("echo 0 > " CPU1) == 0, "cpu1 would not go offline");
	WS_ASSERT(reattached("1"), "no restart after cpu1 went offline");
	WS_ASSERT(ws_sh("echo 1 > " CPU1) == 0, "cpu1 would not come back");
	WS_ASSERT(reattached("2"), "no restart after cpu1 came back");
	WS_ASSERT(get(buf, sizeof(buf)) == 0 && strstr(buf, "\"cap_watts\":200,") &&
		  strstr(buf, "\"intent_source\":\"restored\""),
		  "the cap did not survive the hotplug restarts: %s", buf);
	WS_ASSERT(ws_sh_out(buf, sizeof(buf), "%s class list", ws_wattsched()) == 0 &&
		  strstr(buf, "/ws-restart"), "the class rule did not survive hotplug: %s", buf);

	/* another command line: it starts from itself */
	WS_ASSERT(ws_loader_stop(loader, SIGINT, 10000) >= 0 && ws_scx_wait_state("disabled", 10000),
		  "the loader did not stop");
	WS_ASSERT(start(ARGS " --safe-cap-watts 50"), "the loader did not start");
	WS_ASSERT(get(buf, sizeof(buf)) == 0 && strstr(buf, "\"cap_watts\":0,") &&
		  strstr(buf, "\"intent_source\":\"command line\""),
		  "a changed command line restored the old intent: %s", buf);
	WS_ASSERT(ws_sh("grep -q 'saved under another command line' " LOG) == 0,
		  "the loader did not say why it started over");
	return WS_PASS;
}
WS_TEST(restart_keeps_intent,
	"cap and class rule set at runtime survive SIGKILL + restart and two CPU hotplug "
	"restarts; a changed command line starts from itself",
	"basic", restart_setup, restart_run, restart_cleanup);
