// SPDX-License-Identifier: GPL-2.0
/*
 * test_request.c - the control socket's requests (user/proto/request.c):
 * what each op accepts, every refusal with its reason, and requests built
 * by the CLI parsing back to what was built.
 */
#include <errno.h>
#include <string.h>

#include "proto/ctlsock.h"
#include "proto/request.h"
#include "tap.h"

static int parse(const char *msg, bool priv, struct ws_request *r, char *err)
{
	return ws_request_parse(msg, strlen(msg), priv, r, err, 256);
}

/* A refused request: the expected errno and the message. */
static void refused(const char *msg, bool priv, int want, const char *want_err)
{
	struct ws_request r;
	char err[256] = "", name[512];
	int ret;

	ret = parse(msg, priv, &r, err);
	snprintf(name, sizeof(name), "refused %s: %s", msg, want_err);
	tap_ok(ret == want && strstr(err, want_err), name);
	if (ret != want || !strstr(err, want_err))
		printf("#   got error '%s' (%d)\n", err, ret);
}

/* A request built by the CLI parses back to the same request. */
static void round_trip(const struct ws_request *r, const char *name)
{
	char buf[WS_CTL_MSG_MAX], err[256];
	struct ws_request back;

	tap_ok(ws_request_format(r, buf, sizeof(buf)) > 0 &&
	       !parse(buf, true, &back, err) && !memcmp(&back, r, sizeof(back)), name);
}

int main(void)
{
	char err[256], big[WS_CTL_MSG_MAX + 16];
	struct ws_request r, b;

	tap_plan(46);

	tap_is_int(parse("{\"op\":\"policy\",\"policy\":\"performance\"}", true, &r, err), 0,
		   "policy performance accepted");
	tap_ok(r.op == WS_OP_POLICY && r.policy == WS_POLICY_PERFORMANCE, "policy: the policy");
	tap_is_int(parse("{\"op\":\"cap\",\"watts\":350}", true, &r, err), 0, "cap 350 accepted");
	tap_ok(r.op == WS_OP_CAP && r.cap_watts == 350 && !r.clear, "cap: the watts");
	tap_is_int(parse("{\"op\":\"cap\",\"clear\":true}", true, &r, err), 0, "cap clear accepted");
	tap_ok(r.op == WS_OP_CAP && r.clear, "cap clear: clear");
	tap_is_int(parse("{\"op\":\"get\"}", false, &r, err), 0, "get is allowed unprivileged");
	tap_ok(r.op == WS_OP_GET, "get: the op");
	tap_is_int(parse("{\"op\":\"power\",\"watts\":312.5}", true, &r, err), 0, "power accepted");
	tap_ok(r.op == WS_OP_POWER && r.power_watts == 312.5, "power: the reading");
	tap_is_int(parse("{\"op\":\"rack\",\"host\":\"node-7\"}", true, &r, err), 0,
		   "rack with a host accepted");
	tap_ok(r.op == WS_OP_RACK && !strcmp(r.host, "node-7"), "rack: the host");
	tap_ok(!parse("{\"op\":\"rack\"}", true, &r, err) && !r.host[0],
	       "rack without a host: the daemon's own");
	tap_ok(!parse("{\"op\":\"class\",\"cgroup\":\"/b\",\"class\":\"batch\"}", true, &r, err) &&
	       r.op == WS_OP_CLASS && r.cls == WS_CLASS_BATCH && !strcmp(r.cgroup, "/b"),
	       "class: cgroup and class");
	tap_ok(!parse("{\"op\":\"device-affinity\",\"pid\":42,\"device\":\"0000:81:00.0\"}", true,
		      &r, err) && r.op == WS_OP_DEVAFF && r.pid == 42 &&
	       !strcmp(r.device, "0000:81:00.0"), "device-affinity: pid and device");

	refused("{\"op\":\"policy\",\"policy\":\"turbo\"}", true, -EINVAL, "unknown policy 'turbo'");
	refused("{\"op\":\"policy\",\"policy\":\"powersave\"}", false, -EPERM, "needs root");
	refused("{\"op\":\"policy\"}", true, -EINVAL, "missing field 'policy'");
	refused("{\"op\":\"cap\",\"watts\":-5}", true, -EINVAL, "outside 10..100000");
	refused("{\"op\":\"cap\",\"watts\":5}", true, -EINVAL, "outside 10..100000");
	refused("{\"op\":\"cap\",\"watts\":1e9}", true, -EINVAL, "whole number of watts");
	refused("{\"op\":\"cap\",\"watts\":\"350\"}", true, -EINVAL, "whole number of watts");
	refused("{\"op\":\"cap\",\"watts\":350,\"clear\":true}", true, -EINVAL, "exactly one");
	refused("{\"op\":\"cap\",\"clear\":false}", true, -EINVAL, "'clear' must be true");
	refused("{\"op\":\"cap\",\"watts\":350,\"wats\":1}", true, -EINVAL, "unknown field 'wats'");
	refused("{\"op\":\"reboot\"}", true, -EINVAL, "unknown op 'reboot'");
	refused("{\"op\":\"policy\",\"policy\":\"balanced\"} x", true, -EINVAL, "not a JSON object");
	refused("[1]", true, -EINVAL, "not a JSON object");
	refused("{\"policy\":\"balanced\"}", true, -EINVAL, "missing string field 'op'");
	refused("{\"op\":\"power\"}", true, -EINVAL, "exactly one of 'watts' and 'clear'");
	refused("{\"op\":\"power\",\"watts\":\"300\"}", true, -EINVAL, "'watts' must be a number");
	refused("{\"op\":\"power\",\"watts\":0}", true, -EINVAL, "0 W is outside (0, 100000]");
	refused("{\"op\":\"power\",\"watts\":NaN}", true, -EINVAL, "nan W is outside");
	refused("{\"op\":\"power\",\"watts\":300,\"ttl\":5}", true, -EINVAL, "unknown field 'ttl'");
	refused("{\"op\":\"rack\",\"host\":\"h 1\"}", true, -EINVAL, "not a host id");
	refused("{\"op\":\"rack\",\"rack\":\"r1\"}", true, -EINVAL, "unknown field 'rack'");
	refused("{\"op\":\"class\",\"cgroup\":\"b\",\"class\":\"batch\"}", true, -EINVAL,
		"not a cgroup path");
	refused("{\"op\":\"class\",\"cgroup\":\"/b\",\"class\":\"turbo\"}", true, -EINVAL,
		"unknown class 'turbo'");
	refused("{\"op\":\"class\",\"cgroup\":\"/b\"}", true, -EINVAL, "exactly one of 'class'");
	refused("{\"op\":\"device-affinity\",\"device\":\"0000:81:00.0\"}", true, -EINVAL,
		"exactly one of 'pid' and 'cgroup'");
	refused("{\"op\":\"device-affinity\",\"pid\":1,\"device\":\"81:00.0\"}", true, -EINVAL,
		"is not a PCI address");

	memset(big, ' ', sizeof(big));
	tap_ok(ws_request_parse(big, sizeof(big), true, &r, err, sizeof(err)) == -EINVAL &&
	       strstr(err, "longer than"), "an overlong request is refused");

	memset(&b, 0, sizeof(b));
	b.op = WS_OP_CAP;
	b.cap_watts = 350;
	round_trip(&b, "round trip: cap");
	memset(&b, 0, sizeof(b));
	b.op = WS_OP_POWER;
	b.power_watts = 312.125;
	round_trip(&b, "round trip: power");
	memset(&b, 0, sizeof(b));
	b.op = WS_OP_CLASS;
	b.clear = true;
	strcpy(b.cgroup, "/a=b/c.slice");
	round_trip(&b, "round trip: class removal");
	memset(&b, 0, sizeof(b));
	b.op = WS_OP_DEVAFF;
	strcpy(b.cgroup, "/gpu.slice");
	strcpy(b.device, "0000:81:00.0");
	round_trip(&b, "round trip: device-affinity by cgroup");
	return tap_done();
}
