// SPDX-License-Identifier: GPL-2.0
/*
 * cmd_rack.c - `wattsched rack`: check a rack power policy document and show
 * how its cap is split among the hosts (docs/fleet.md), and `rack apply`:
 * send this host's share to the running loader as a "rack" control request
 * (the daemon checks it again there: daemon/requests.c).
 */
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "cmd/args.h"
#include "cmd/cmd.h"
#include "core/rack.h"
#include "lib/json.h"
#include "lib/names.h"
#include "lib/scx.h"
#include "lib/util.h"
#include "proto/client.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s rack plan FILE [--host-id ID] [--json] [--now TIME]\n"
		"       %s rack check FILE [--now TIME]\n"
		"       %s rack apply FILE [--host-id ID] [--now TIME]\n\n"
		"Read a rack power policy document (docs/fleet.md) and validate it.\n\n"
		"  plan   print every host's share of the rack cap; this host is marked\n"
		"  check  validate only; print nothing on success\n"
		"  apply  set this host's share as the running scheduler's cap, with the\n"
		"         document's policy for it and its lease (origin 'rack')\n\n"
		"Options:\n"
		"  --host-id ID  this host's id in the document (default: the hostname);\n"
		"                with an explicit ID a host missing from the document is an error\n"
		"  --json        print the plan as JSON\n"
		"  --now TIME    judge the lease at this RFC 3339 time instead of the clock\n"
		"                (e.g. 2025-06-01T12:00:00Z); apply: the loader still\n"
		"                judges it by its own clock\n"
		"  -h, --help    this help\n\n"
		"Exit status: 0 valid (applied), 1 invalid or unreadable document (plan,\n"
		"check) or the loader refused or is unreachable (apply), 2 usage error or,\n"
		"for apply, a document that cannot be applied (nothing is sent).\n",
		ws_prog, ws_prog, ws_prog);
}

static int print_json(const char *path, const struct rack_plan *plan)
{
	const struct rack_doc *doc = &plan->doc;
	struct json_object *o, *hosts, *h;
	char t[32];
	size_t i;
	int ret = 0;

	o = json_object_new_object();
	hosts = json_object_new_array();
	json_object_object_add(o, "file", json_object_new_string(path));
	json_object_object_add(o, "version", json_object_new_int(doc->version));
	json_object_object_add(o, "rack", json_object_new_string(doc->rack_id));
	json_object_object_add(o, "cap_watts", ws_json_watts(doc->cap_watts));
	json_object_object_add(o, "safe_cap_watts",
			       doc->safe_cap_watts > 0 ? ws_json_watts(doc->safe_cap_watts) : NULL);
	rack_format_time(doc->issued_at, t, sizeof(t));
	json_object_object_add(o, "issued_at", json_object_new_string(t));
	rack_format_time(doc->expires_at, t, sizeof(t));
	json_object_object_add(o, "expires_at", json_object_new_string(t));
	json_object_object_add(o, "allocated_watts", ws_json_watts(plan->allocated_watts));
	json_object_object_add(o, "headroom_watts", ws_json_watts(plan->headroom_watts));
	json_object_object_add(o, "this_host",
			       plan->self ? json_object_new_string(plan->self->id) : NULL);
	for (i = 0; i < doc->nr_hosts; i++) {
		const struct rack_host *host = &doc->hosts[i];

		h = json_object_new_object();
		json_object_object_add(h, "id", json_object_new_string(host->id));
		json_object_object_add(h, "weight", ws_json_watts(host->weight));
		json_object_object_add(h, "min_watts", ws_json_watts(host->min_watts));
		json_object_object_add(h, "max_watts", ws_json_watts(host->max_watts));
		json_object_object_add(h, "share_watts", ws_json_watts(plan->shares[i]));
		if (plan->safe_shares)
			json_object_object_add(h, "safe_share_watts",
					       ws_json_watts(plan->safe_shares[i]));
		json_object_object_add(h, "policy",
				       json_object_new_string(ws_policy_name(host->policy)));
		json_object_object_add(h, "this_host",
				       json_object_new_boolean(plan->self == host));
		json_object_array_add(hosts, h);
	}
	json_object_object_add(o, "hosts", hosts);
	if (puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						   JSON_C_TO_STRING_SPACED)) < 0)
		ret = -EIO;
	json_object_put(o);
	return ret;
}

static void print_table(const struct rack_plan *plan)
{
	const struct rack_doc *doc = &plan->doc;
	char from[32], to[32];
	size_t i;

	rack_format_time(doc->issued_at, from, sizeof(from));
	rack_format_time(doc->expires_at, to, sizeof(to));
	printf("rack %s: cap %.1f W", doc->rack_id, doc->cap_watts);
	if (doc->safe_cap_watts > 0)
		printf(", safe cap %.1f W", doc->safe_cap_watts);
	printf(", %zu host%s, lease %s .. %s\n\n", doc->nr_hosts,
	       doc->nr_hosts == 1 ? "" : "s", from, to);

	printf("%-24s %8s %8s %8s %9s", "HOST", "WEIGHT", "MIN W", "MAX W", "SHARE W");
	if (plan->safe_shares)
		printf(" %8s", "SAFE W");
	printf("  %s\n", "POLICY");
	for (i = 0; i < doc->nr_hosts; i++) {
		const struct rack_host *h = &doc->hosts[i];

		printf("%-24s %8.2f %8.1f %8.1f %9.1f", h->id, h->weight,
		       h->min_watts, h->max_watts, plan->shares[i]);
		if (plan->safe_shares)
			printf(" %8.1f", plan->safe_shares[i]);
		if (plan->self == h)
			printf("  %-11s  <- this host\n", ws_policy_name(h->policy));
		else
			printf("  %s\n", ws_policy_name(h->policy));
	}
	printf("\nallocated %.1f W of %.1f W\n", plan->allocated_watts, doc->cap_watts);
	if (plan->headroom_watts > 0)
		printf("unallocated headroom: %.1f W (cap exceeds the sum of max_watts)\n",
		       plan->headroom_watts);
}

/*
 * Steps 3 and 4 of docs/fleet.md's walk: check the document here (a bad
 * one is a usage error and nothing is sent), then hand it to the daemon,
 * which applies this host's share, policy, duty cycle and classes in one
 * step or not at all.  The document goes as an open file descriptor, so the
 * daemon reads what this command checked, whatever its mount namespace.
 */
static int rack_apply(const char *path, const char *host_id, time_t now)
{
	struct ws_request req = { .op = WS_OP_RACK };
	char err[RACK_ERR_MAX];
	struct json_object *ans;
	struct rack_plan plan;
	int ret, fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		ws_err("%s: cannot open: %s", path, strerror(errno));
		return 2;
	}
	ret = rack_load_fd(fd, host_id, now, &plan, err, sizeof(err));
	if (ret) {
		ws_err("%s: %s", path, err);
		ret = 2;
		goto close_fd;
	}
	rack_plan_free(&plan);
	snprintf(req.host, sizeof(req.host), "%s", host_id ?: "");
	ret = 1;
	if (!ws_attached_or_explain("rack apply") || ws_call("rack apply", &req, fd, &ans))
		goto close_fd;
	printf("rack apply: rack %s, host %s: share %.3f W -> cap %u W, policy %s, lease until %s "
	       "(generation %u)\n", ws_answer_str(ans, "rack"), ws_answer_str(ans, "rack_host"),
	       ws_answer_num(ans, "share_watts"), (unsigned int)ws_answer_num(ans, "cap_watts"),
	       ws_answer_str(ans, "policy"), ws_answer_str(ans, "lease_expires_at"),
	       (unsigned int)ws_answer_num(ans, "generation"));
	printf("rack apply: %u class rules in force, batch duty cycle %u%%\n",
	       (unsigned int)ws_answer_num(ans, "class_rules"),
	       (unsigned int)ws_answer_num(ans, "batch_duty_pct"));
	json_object_put(ans);
	ret = 0;
close_fd:
	close(fd);
	return ret;
}

struct rack_args {
	const char *action;
	const char *path;
	const char *host_id;	/* --host-id, or NULL */
	bool json;
	time_t now;		/* --now, or the clock */
};

/* `rack ACTION [options] FILE`: 0, or the exit status (0 after --help, 2 usage). */
static int parse_rack_args(int argc, char **argv, struct rack_args *a, bool *done)
{
	static const struct option opts[] = {
		{ "host-id", required_argument, NULL, 'H' },
		{ "json", no_argument, NULL, 'j' },
		{ "now", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c;

	/* Options may come before or after FILE; 0 makes glibc start afresh. */
	optind = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'H':
			a->host_id = optarg;
			break;
		case 'j':
			a->json = true;
			break;
		case 'n':
			if (!rack_parse_time(optarg, &a->now))
				break;
			ws_err("rack: --now: not an RFC 3339 date-time: '%s'", optarg);
			return 2;
		case 'h':
			usage(stdout);
			*done = true;
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!strcmp(a->action, "check") && (a->json || a->host_id)) {
		ws_err("rack check: --json and --host-id are for 'rack plan'");
		return 2;
	}
	if (!strcmp(a->action, "apply") && a->json) {
		ws_err("rack apply: --json is for 'rack plan'");
		return 2;
	}
	if (optind + 1 != argc - 1) {
		ws_err("rack %s: expected one FILE (see '%s rack --help')", a->action, ws_prog);
		return 2;
	}
	a->path = argv[optind + 1];
	return 0;
}

/*
 * Without --host-id the hostname only marks a row: a document for a rack
 * this host is not in is still worth planning.
 */
static void mark_this_host(struct rack_plan *plan, const struct rack_args *a)
{
	char hostname[HOST_NAME_MAX + 1];

	if (plan->self || gethostname(hostname, sizeof(hostname)))
		return;
	hostname[sizeof(hostname) - 1] = '\0';
	plan->self = rack_find_host(&plan->doc, hostname);
	if (plan->self)
		plan->self_idx = plan->self - plan->doc.hosts;
	else if (!a->json)
		ws_warn("this host (%s) is not in %s", hostname, a->path);
}

/*
 * `rack plan` and `rack check`.  A plan is a what-if: a lease that is over
 * (or not begun) at --now is a warning there, and an error for check.
 */
static int rack_plan(const struct rack_args *a)
{
	bool check = !strcmp(a->action, "check");
	char err[RACK_ERR_MAX];
	struct rack_plan plan;
	int ret;

	ret = rack_load_file(a->path, a->host_id, check ? a->now : 0, &plan, err, sizeof(err));
	if (ret) {
		ws_err("%s: %s", a->path, err);
		return 1;
	}
	if (check)
		goto free_plan;
	if (rack_validate_time(&plan.doc, a->now, err, sizeof(err)))
		ws_warn("%s: %s: the shares below are what it would give, not what a host "
			"would apply", a->path, err);
	mark_this_host(&plan, a);
	if (a->json) {
		ret = print_json(a->path, &plan);
	} else {
		print_table(&plan);
		ret = ferror(stdout) ? -EIO : 0;
	}
	if (ret)
		ws_err("rack plan: cannot write the plan: %s", strerror(-ret));
free_plan:
	rack_plan_free(&plan);
	return ret ? 1 : 0;
}

int cmd_rack(int argc, char **argv)
{
	struct rack_args a = { .now = time(NULL) };
	bool done = false;
	int ret;

	if (argc < 2 || ws_is_help(argv[1])) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	a.action = argv[1];
	if (strcmp(a.action, "plan") && strcmp(a.action, "check") && strcmp(a.action, "apply")) {
		ws_err("rack: unknown action '%s' (see '%s rack --help')", a.action, ws_prog);
		return 2;
	}
	ret = parse_rack_args(argc, argv, &a, &done);
	if (ret || done)
		return ret;
	if (!strcmp(a.action, "apply"))
		return rack_apply(a.path, a.host_id, a.now);
	return rack_plan(&a);
}
