// SPDX-License-Identifier: GPL-2.0
/* cmd_cap.c - `wattsched cap WATTS|--clear`: the host power cap of the running scheduler. */
#include <json-c/json.h>

#include "cmd/args.h"
#include "cmd/cmd.h"
#include "core/power.h"
#include "lib/scx.h"
#include "lib/util.h"
#include "proto/client.h"

static void cap_usage(FILE *f)
{
	fprintf(f, "Usage: %s cap WATTS\n"
		"       %s cap --clear\n\n"
		"Set the host power cap of the running scheduler, in watts (%u..%u), and\n"
		"switch it to the capped policy; --clear removes the cap and restores the\n"
		"policy in force before it.  The loader then limits the CPUs that take work\n"
		"so that the power stays under the cap (docs/policies.md).\n",
		ws_prog, ws_prog, WS_CAP_MIN_WATTS, WS_CAP_MAX_WATTS);
}

int cmd_cap(int argc, char **argv)
{
	struct ws_request req = { .op = WS_OP_CAP };
	unsigned long long watts = 0;
	struct json_object *ans;

	if (argc == 2 && ws_is_help(argv[1])) {
		cap_usage(stdout);
		return 0;
	}
	if (argc != 2) {
		cap_usage(stderr);
		return 2;
	}
	req.clear = !strcmp(argv[1], "--clear");
	if (!req.clear && ws_parse_u64(argv[1], WS_CAP_MIN_WATTS, WS_CAP_MAX_WATTS, &watts)) {
		ws_err("cap: '%s' is not a whole number of watts in %u..%u", argv[1],
		       WS_CAP_MIN_WATTS, WS_CAP_MAX_WATTS);
		return 2;
	}
	req.cap_watts = watts;
	if (!ws_attached_or_explain("cap") || ws_call("cap", &req, -1, &ans))
		return 1;
	if (req.clear)
		printf("cap: cleared; policy %s\n", ws_answer_str(ans, "policy"));
	else
		printf("cap: %u W; policy %s\n", (unsigned int)ws_answer_num(ans, "cap_watts"),
		       ws_answer_str(ans, "policy"));
	json_object_put(ans);
	return 0;
}
