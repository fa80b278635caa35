// SPDX-License-Identifier: GPL-2.0
/*
 * test_control.c - the control socket's request rules (user/control.c):
 * valid requests change the block and bump its generation; every refused
 * request says why and leaves the block exactly as it was.
 */
#include <string.h>

#include "control.h"
#include "power.h"
#include "tap.h"
#include "ws.h"

static int apply(const char *msg, bool priv, struct ws_ctl *ctl, bool *changed, char *err)
{
	return ws_control_apply(msg, strlen(msg), priv, ctl, NULL, changed, err, 256);
}

/* A refused request: the expected errno, the message, and no change at all. */
static void refused(const char *msg, bool priv, int want, const char *want_err,
		    const struct ws_ctl *ctl)
{
	struct ws_ctl copy = *ctl;
	char err[256] = "", name[512];
	bool changed = true;
	int ret;

	ret = apply(msg, priv, &copy, &changed, err);
	snprintf(name, sizeof(name), "refused %s: %s", msg, want_err);
	tap_ok(ret == want && !changed && !memcmp(&copy, ctl, sizeof(copy)) &&
	       strstr(err, want_err), name);
	if (!strstr(err, want_err))
		printf("#   got error '%s' (%d)\n", err, ret);
}

int main(void)
{
	char err[256], reply[512], big[WS_CTL_MSG_MAX + 16];
	struct ws_ctl ctl = {};
	bool changed;

	tap_plan(22);

	ws_policy_defaults(&ctl, WS_POLICY_BALANCED);
	ctl.gen = 1;

	tap_is_int(apply("{\"op\":\"policy\",\"policy\":\"performance\"}", true, &ctl, &changed,
			 err), 0, "policy performance accepted");
	tap_ok(changed && ctl.policy == WS_POLICY_PERFORMANCE && ctl.gen == 2 &&
	       ctl.perf[WS_CLASS_NORMAL] == WS_PERF_MAX, "policy set, gen bumped, perf targets");

	tap_is_int(apply("{\"op\":\"cap\",\"watts\":350}", true, &ctl, &changed, err), 0,
		   "cap 350 accepted");
	tap_ok(ctl.cap_watts == 350 && ctl.policy == WS_POLICY_CAPPED &&
	       ctl.policy_before_cap == WS_POLICY_PERFORMANCE && ctl.gen == 3,
	       "cap set, policy capped, the previous policy remembered");
	tap_is_int(apply("{\"op\":\"cap\",\"watts\":300}", true, &ctl, &changed, err), 0,
		   "a second cap accepted");
	tap_ok(ctl.cap_watts == 300 && ctl.policy_before_cap == WS_POLICY_PERFORMANCE,
	       "a second cap keeps the policy to return to");
	tap_is_int(apply("{\"op\":\"cap\",\"clear\":true}", true, &ctl, &changed, err), 0,
		   "cap clear accepted");
	tap_ok(ctl.cap_watts == 0 && ctl.policy == WS_POLICY_PERFORMANCE,
	       "clearing restores the policy before the cap");
	tap_is_int(apply("{\"op\":\"get\"}", false, &ctl, &changed, err), 0,
		   "get is allowed unprivileged");
	tap_ok(!changed, "get changes nothing");

	refused("{\"op\":\"policy\",\"policy\":\"turbo\"}", true, -EINVAL, "unknown policy 'turbo'",
		&ctl);
	refused("{\"op\":\"policy\",\"policy\":\"powersave\"}", false, -EPERM, "needs root", &ctl);
	refused("{\"op\":\"cap\",\"watts\":-5}", true, -EINVAL, "outside 10..100000", &ctl);
	refused("{\"op\":\"cap\",\"watts\":1e9}", true, -EINVAL, "whole number of watts", &ctl);
	refused("{\"op\":\"cap\",\"watts\":\"350\"}", true, -EINVAL, "whole number of watts", &ctl);
	refused("{\"op\":\"cap\",\"watts\":350,\"clear\":true}", true, -EINVAL, "exactly one", &ctl);
	refused("{\"op\":\"cap\",\"clear\":false}", true, -EINVAL, "'clear' must be true", &ctl);
	refused("{\"op\":\"cap\",\"watts\":350,\"wats\":1}", true, -EINVAL, "unknown field 'wats'",
		&ctl);
	refused("{\"op\":\"reboot\"}", true, -EINVAL, "unknown op 'reboot'", &ctl);
	refused("{\"op\":\"policy\",\"policy\":\"balanced\"} x", true, -EINVAL, "not a JSON object",
		&ctl);

	memset(big, ' ', sizeof(big));
	tap_ok(ws_control_apply(big, sizeof(big), true, &ctl, NULL, &changed, err, sizeof(err)) ==
	       -EINVAL && strstr(err, "longer than"), "an overlong request is refused");
	tap_ok(ws_control_reply(&ctl, NULL, 0, "", reply, sizeof(reply)) > 0 &&
	       !strcmp(reply, "{\"ok\":true,\"policy\":\"performance\",\"generation\":5,"
		       "\"cap_watts\":0}"), "the answer to an accepted request");
	return tap_done();
}
