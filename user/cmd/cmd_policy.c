// SPDX-License-Identifier: GPL-2.0
/* cmd_policy.c - `wattsched policy NAME`: switch the running scheduler's policy. */
#include <json-c/json.h>

#include "cmd/args.h"
#include "cmd/cmd.h"
#include "core/policy.h"
#include "lib/names.h"
#include "lib/scx.h"
#include "lib/util.h"
#include "proto/client.h"

static void policy_usage(FILE *f)
{
	unsigned int p;

	fprintf(f, "Usage: %s policy NAME\n\n"
		"Switch the running scheduler to policy NAME without reloading it:\n", ws_prog);
	for (p = 0; p < WS_NR_POLICIES; p++)
		fprintf(f, "  %-12s %s\n", ws_policy_name(p), ws_policy_summary(p));
	fprintf(f, "Under a cap, the policy chosen is the one `cap --clear` returns to.\n");
}

int cmd_policy(int argc, char **argv)
{
	struct ws_request req = { .op = WS_OP_POLICY };
	struct json_object *ans;
	int p;

	if (argc == 2 && ws_is_help(argv[1])) {
		policy_usage(stdout);
		return 0;
	}
	if (argc != 2) {
		policy_usage(stderr);
		return 2;
	}
	p = ws_policy_from_name(argv[1]);
	if (p < 0) {
		ws_err("policy: unknown policy '%s' (" WS_POLICY_NAMES ")", argv[1]);
		return 2;
	}
	req.policy = p;
	if (!ws_attached_or_explain("policy") || ws_call("policy", &req, -1, &ans))
		return 1;
	printf("policy: %s (generation %u)\n", ws_answer_str(ans, "policy"),
	       (unsigned int)ws_answer_num(ans, "generation"));
	json_object_put(ans);
	return 0;
}
