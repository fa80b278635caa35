// SPDX-License-Identifier: GPL-2.0
/* cmd_power.c - `wattsched power WATTS|--clear`: push a measured host power reading. */
#include <json-c/json.h>

#include "cmd/args.h"
#include "cmd/cmd.h"
#include "core/psource.h"
#include "lib/scx.h"
#include "lib/util.h"
#include "proto/client.h"

static void power_usage(FILE *f)
{
	fprintf(f, "Usage: %s power WATTS\n"
		"       %s power --clear\n\n"
		"Push a measured host power reading to the running scheduler, for example\n"
		"a BMC's (IPMI DCMI, Redfish PowerControl) host power in watts (up to %u,\n"
		"decimals allowed).  While a pushed reading is fresh (`run\n"
		"--telemetry-stale-s`, default %d s) it is the power source the cap is held\n"
		"to, ahead of RAPL and the model; fleet tooling pushes one every few\n"
		"seconds.  When readings stop, the loader falls back to RAPL or the model\n"
		"and, under a cap, to the safe cap (docs/policies.md, docs/reliability.md).\n"
		"--clear forgets pushed readings and ends that stale state, for a host\n"
		"whose feed was retired on purpose.\n",
		ws_prog, ws_prog, WS_PUSHED_MAX_WATTS, WS_STALE_S_DEFAULT);
}

int cmd_power(int argc, char **argv)
{
	struct ws_request req = { .op = WS_OP_POWER };
	struct json_object *ans;

	if (argc == 2 && ws_is_help(argv[1])) {
		power_usage(stdout);
		return 0;
	}
	if (argc != 2) {
		power_usage(stderr);
		return 2;
	}
	req.clear = !strcmp(argv[1], "--clear");
	if (!req.clear && (ws_parse_double(argv[1], 0, WS_PUSHED_MAX_WATTS, &req.power_watts) ||
			   req.power_watts <= 0)) {
		ws_err("power: '%s' is not a number of watts above 0 and up to %u", argv[1],
		       WS_PUSHED_MAX_WATTS);
		return 2;
	}
	if (!ws_attached_or_explain("power") || ws_call("power", &req, -1, &ans))
		return 1;
	if (req.clear)
		printf("power: pushed readings cleared\n");
	else
		printf("power: %.3f W pushed\n", req.power_watts);
	json_object_put(ans);
	return 0;
}
