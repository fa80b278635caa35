// SPDX-License-Identifier: GPL-2.0
/*
 * restart.c - operator intent survives restarts: a loader killed with
 * SIGKILL and started again with the same options continues with the cap
 * and the class rules set at runtime; a CPU hotplug, which makes the kernel
 * end the scheduler and ask for a restart, keeps them too; a changed
 * command line starts from itself.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ws_test.h"

#define LOG		"/tmp/wattsched-restart.log"
#define STATE		"/tmp/ws-state/state.json"
#define ARGS		"run --interval 0 --state-file " STATE
#define CG		"/sys/fs/cgroup/ws-restart"
#define CPU1		"/sys/devices/system/cpu/cpu1/online"

/* The loader this test stops and starts again; the fixture's, then its own. */
static struct ws_loader ld;

static bool start(const char *args)
{
	char why[256];

	return ws_loader_up(&ld, LOG, args, why, sizeof(why)) == WS_UP;
}

/* cpu1 can go offline, and the loader attached with a state file. */
FIXTURE(restart) {
};

FIXTURE_SETUP(restart)
{
	if (!ws_exists(CPU1))
		SKIP(return, "cpu1 cannot go offline here");
	ws_sh("rm -rf /tmp/ws-state; mkdir -p " CG);
	WS_LOADER_UP(&ld, LOG, ARGS);
}

FIXTURE_TEARDOWN(restart)
{
	ws_sh("echo 1 > " CPU1 " 2>/dev/null; true");
	ws_loader_down(&ld, SIGINT);
	ws_sh("rmdir " CG " 2>/dev/null");
	ws_sh_log("grep -E 'restor|restart|command line|ended' " LOG " | tail -n 8 | sed 's/^/loader: /'");
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
		    ws_loader_wait_attached(0, 1000))
			return true;
		ws_sleep_ms(500);
	}
	return false;
}

/*
 * cap and class rule set at runtime survive SIGKILL + restart and two CPU
 * hotplug restarts; a changed command line starts from itself
 */
TEST_F_TIMEOUT(restart, restart_keeps_intent, WS_TEST_TIMEOUT)
{
	char buf[4096];

	ASSERT_TRUE(ws_sh("%s cap 200 >/dev/null && %s class set /ws-restart batch >/dev/null",
			ws_wattsched(), ws_wattsched()) == 0) TH_LOG("cap or class refused");

	/* SIGKILL, then the same command line: it continues */
	ASSERT_TRUE(ws_loader_down(&ld, SIGKILL) >= 0)
		TH_LOG("the killed loader's scheduler did not go");
	ASSERT_TRUE(start(ARGS)) TH_LOG("the loader did not start again");
	ASSERT_TRUE(get(buf, sizeof(buf)) == 0) TH_LOG("get failed");
	ws_log("after SIGKILL and a restart: %s", buf);
	ASSERT_TRUE(strstr(buf, "\"cap_watts\":200,") && strstr(buf, "\"cap_origin\":\"cli\"") &&
		    strstr(buf, "\"intent_source\":\"restored\""))
		TH_LOG("the cap did not survive: %s", buf);
	ASSERT_TRUE(ws_sh_out(buf, sizeof(buf), "%s class list", ws_wattsched()) == 0 &&
		    strstr(buf, "/ws-restart") && strstr(buf, "batch"))
		TH_LOG("the class rule did not survive: %s", buf);

	/* CPU hotplug: the kernel ends the scheduler and asks for a restart */
	ASSERT_TRUE(ws_sh("echo 0 > " CPU1) == 0) TH_LOG("cpu1 would not go offline");
	ASSERT_TRUE(reattached("1")) TH_LOG("no restart after cpu1 went offline");
	ASSERT_TRUE(ws_sh("echo 1 > " CPU1) == 0) TH_LOG("cpu1 would not come back");
	ASSERT_TRUE(reattached("2")) TH_LOG("no restart after cpu1 came back");
	ASSERT_TRUE(get(buf, sizeof(buf)) == 0 && strstr(buf, "\"cap_watts\":200,") &&
		    strstr(buf, "\"intent_source\":\"restored\""))
		TH_LOG("the cap did not survive the hotplug restarts: %s", buf);
	ASSERT_TRUE(ws_sh_out(buf, sizeof(buf), "%s class list", ws_wattsched()) == 0 &&
		    strstr(buf, "/ws-restart"))
		TH_LOG("the class rule did not survive hotplug: %s", buf);

	/* another command line: it starts from itself */
	ASSERT_TRUE(ws_loader_down(&ld, SIGINT) >= 0) TH_LOG("the loader did not stop");
	ASSERT_TRUE(start(ARGS " --safe-cap-watts 50")) TH_LOG("the loader did not start");
	ASSERT_TRUE(get(buf, sizeof(buf)) == 0 && strstr(buf, "\"cap_watts\":0,") &&
		    strstr(buf, "\"intent_source\":\"command line\""))
		TH_LOG("a changed command line restored the old intent: %s", buf);
	ASSERT_TRUE(ws_sh("grep -q 'saved under another command line' " LOG) == 0)
		TH_LOG("the loader did not say why it started over");
}

TEST_HARNESS_MAIN
