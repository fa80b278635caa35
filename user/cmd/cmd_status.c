// SPDX-License-Identifier: GPL-2.0
/*
 * cmd_status.c - `wattsched status`: what the running scheduler is doing.
 *
 * One JSON object holds it all: the daemon's state (its answer to "get":
 * intent, power, compliance, lease), the sched_ext state and the counters
 * from the pinned stats map.  --json prints that object; the text form is
 * a rendering of it.  When the daemon cannot be asked, the pinned maps
 * give what they hold and "loader_note" says why the rest is missing.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <getopt.h>
#include <json-c/json.h>
#include <math.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "core/rack.h"
#include "lib/json.h"
#include "lib/names.h"
#include "lib/scx.h"
#include "lib/util.h"
#include "proto/client.h"

static void add(struct json_object *o, const char *key, struct json_object *v)
{
	json_object_object_add(o, key, v);
}

/* What the pinned maps say, for when the daemon cannot be asked. */
static int from_maps(struct json_object *st)
{
	struct json_object *hot = json_object_new_array();
	__u32 zero = 0, cpu;
	struct ws_budget b;
	struct ws_ctl ctl;
	int ctl_fd, budget_fd, ret = -1;

	ctl_fd = ws_open_pinned("ws_ctl");
	budget_fd = ctl_fd < 0 ? -1 : ws_open_pinned("ws_budget");
	if (budget_fd >= 0 && !bpf_map_lookup_elem(ctl_fd, &zero, &ctl) &&
	    !bpf_map_lookup_elem(budget_fd, &zero, &b)) {
		add(st, "policy", json_object_new_string(ws_policy_name(ctl.policy)));
		add(st, "generation", json_object_new_int64(ctl.gen));
		add(st, "cap_watts", NULL);
		add(st, "batch_duty_pct", json_object_new_int64(ctl.batch_duty_pct));
		add(st, "cap_origin", NULL);
		add(st, "power_watts", ws_json_watts(b.est_milliwatts / 1000.0));
		add(st, "power_source", json_object_new_string(ws_power_source_name(b.power_source)));
		add(st, "active_cpus", json_object_new_int64(b.nr_active ?:
				(unsigned int)libbpf_num_possible_cpus()));
		add(st, "cap_in_force_watts", json_object_new_int64(b.cap_watts));
		add(st, "power_guard_watts", b.guard_mw ? ws_json_watts(b.guard_mw / 1000.0) : NULL);
		add(st, "thermal_sensed_cpus", json_object_new_int64(b.nr_sensed));
		/* the law's share is the daemon's; the map holds what BPF is given */
		add(st, "partial_cpu", b.partial_permille ? json_object_new_int(b.partial_cpu) : NULL);
		add(st, "partial_permille", NULL);
		add(st, "partial_given_permille", b.partial_permille ?
					 json_object_new_int64(b.partial_permille) : NULL);
		for (cpu = 0; cpu < WS_MAX_CPUS; cpu++)
			if (ws_cpu_test(b.avoid_mask, cpu))
				json_object_array_add(hot, json_object_new_int(cpu));
		ret = 0;
	} else if (budget_fd >= 0) {
		ws_err("status: reading the pinned maps: %s", strerror(errno));
	}
	add(st, "hot_cpus", hot);
	if (budget_fd >= 0)
		close(budget_fd);
	if (ctl_fd >= 0)
		close(ctl_fd);
	return ret;
}

static struct json_object *stats_object(void)
{
	struct json_object *o = json_object_new_object();
	__u64 stats[WS_NR_STATS];
	int fd, i;

	fd = ws_open_pinned("ws_stats");
	if (fd < 0)
		return o;
	if (!ws_stats_read(fd, stats))
		for (i = 0; i < WS_NR_STATS; i++)
			add(o, ws_stat_names[i], json_object_new_uint64(stats[i]));
	close(fd);
	return o;
}

/* The whole status object: sched_ext, the daemon's state (or the maps'), counters. */
static struct json_object *gather(void)
{
	struct ws_request get = { .op = WS_OP_GET };
	struct json_object *st = json_object_new_object(), *ans;
	char state[64], ops[128], note[512];

	ws_scx_state(state, sizeof(state));
	ws_scx_ops(ops, sizeof(ops));
	add(st, "sched_ext_state", json_object_new_string(state));
	add(st, "ops", json_object_new_string(ops));
	add(st, "attached", json_object_new_boolean(!strcmp(ops, WS_NAME)));
	if (ws_call_quiet(&get, &ans, note, sizeof(note))) {
		if (from_maps(st)) {
			json_object_put(st);
			return NULL;
		}
		add(st, "loader_note", json_object_new_string(note));
	} else {
		json_object_object_del(ans, "ok");
		json_object_object_foreach(ans, key, val)
			add(st, key, json_object_get(val));
		json_object_put(ans);
	}
	add(st, "stats", stats_object());
	return st;
}

static const char *str(struct json_object *o, const char *key)
{
	return ws_answer_str(o, key);
}

static double num(struct json_object *o, const char *key)
{
	return ws_answer_num(o, key);
}

static bool has(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && v;
}

/* Print the CPUs of JSON array @key; how many. */
static size_t print_list(struct json_object *st, const char *key)
{
	struct json_object *a;
	size_t i, n = 0;

	if (json_object_object_get_ex(st, key, &a) && json_object_is_type(a, json_type_array))
		n = json_object_array_length(a);
	for (i = 0; i < n; i++)
		printf(" %d", json_object_get_int(json_object_array_get_idx(a, i)));
	return n;
}

static void print_cap(struct json_object *st)
{
	unsigned int cap = num(st, "cap_watts"), in_force = num(st, "cap_in_force_watts");
	unsigned int active = num(st, "active_cpus");
	struct json_object *v;

	if (!has(st, "cap_watts") && in_force)
		printf("cap:        %u W in force, %u CPUs take work\n", in_force, active);
	else if (!cap)
		printf("cap:        none\n");
	else if (in_force && in_force != cap)
		printf("cap:        %u W; %u W in force (telemetry stale), %u CPUs take work\n",
		       cap, in_force, active);
	else
		printf("cap:        %u W, %u CPUs take work\n", cap, active);
	if (has(st, "partial_cpu"))
		printf("            and cpu%u for %.1f%% of the time (partial_window_ms%s)\n",
		       (unsigned int)num(st, "partial_cpu"),
		       num(st, has(st, "partial_permille") ? "partial_permille" :
			   "partial_given_permille") / 10,
		       has(st, "partial_permille") ? "" : ", as BPF is given it");
	if (has(st, "power_guard_watts") && !strcmp(str(st, "thermal_path"), "kfunc"))
		printf("            batch work keeps one CPU while the packages draw over %.1f W "
		       "(the module's power kfunc)\n", num(st, "power_guard_watts"));
	if (json_object_object_get_ex(st, "cap_unmet_pinned", &v) && json_object_get_boolean(v)) {
		printf("            NOT MET: work that can run only on CPUs");
		print_list(st, "pinned_cpus");
		printf(" keeps them busy\n");
	}
}

static void print_thermal(struct json_object *st)
{
	const char *t = str(st, "thermal");

	if (!strcmp(t, "module not loaded")) {
		printf("thermal:    no readings: the telemetry module is not loaded\n");
		return;
	}
	if (!strcmp(t, "no sensors")) {
		printf("thermal:    no readings: the telemetry module is loaded, but no sensor "
		       "covers a CPU\n");
		return;
	}
	printf("thermal:    %u CPUs sensed; hot CPUs avoided:",
	       (unsigned int)num(st, "thermal_sensed_cpus"));
	printf("%s\n", print_list(st, "hot_cpus") ? "" : " none");
	if (!strcmp(str(st, "thermal_path"), "kfunc"))
		printf("            decided in the scheduler from the module's kfuncs (kfunc path)\n");
	else
		printf("            decided every control period from the thermal file (text path)\n");
}

static void print_lease(struct json_object *st, time_t now)
{
	time_t end = num(st, "lease_expires");
	unsigned int safe = num(st, "safe_cap_watts");
	struct json_object *v;

	printf("origin:     %s", str(st, "cap_origin"));
	if (has(st, "rack"))
		printf(" (rack %s, host %s, share %.3f W)", str(st, "rack"), str(st, "rack_host"),
		       num(st, "share_watts"));
	printf("\n");
	if (!has(st, "rack"))
		return;
	if (json_object_object_get_ex(st, "lease_expired", &v) && json_object_get_boolean(v))
		printf("lease:      expired at %s (%lld s ago)", str(st, "lease_expires_at"),
		       (long long)(now - end));
	else
		printf("lease:      until %s (in %lld s)", str(st, "lease_expires_at"),
		       (long long)(end - now));
	if (has(st, "safe_watts"))
		printf("; safe cap %u W (share of the document's safe_cap_watts)\n", safe);
	else if (safe)
		printf("; safe cap %u W (--safe-cap-watts)\n", safe);
	else
		printf("; no safe cap: the last cap stays when it ends\n");
}

static void print_power(struct json_object *st)
{
	struct json_object *v;
	char t[32];

	printf("power:      %.1f W (source: %s)\n", num(st, "power_watts"),
	       str(st, "power_source"));
	if (has(st, "pushed_watts"))
		printf("pushed:     %.1f W, %.1f s ago\n", num(st, "pushed_watts"),
		       num(st, "pushed_age_s"));
	if (json_object_object_get_ex(st, "telemetry_stale", &v) && json_object_get_boolean(v)) {
		rack_format_time(num(st, "telemetry_stale_since"), t, sizeof(t));
		printf("telemetry:  STALE since %s: the model is the source; cap in force %u W\n", t,
		       (unsigned int)num(st, "cap_in_force_watts"));
	}
}

static void print_text(struct json_object *st)
{
	struct json_object *stats, *v;
	int i;

	printf("sched_ext:  %s (ops: %s)\n", str(st, "sched_ext_state"),
	       str(st, "ops")[0] ? str(st, "ops") : "none");
	printf("policy:     %s (generation %u)\n", str(st, "policy"),
	       (unsigned int)num(st, "generation"));
	print_cap(st);
	printf("batch duty: %u%% of the CPUs that take work, while a cap is in force\n",
	       (unsigned int)num(st, "batch_duty_pct") ?: 100);
	print_power(st);
	print_thermal(st);
	if (has(st, "loader_note")) {
		printf("loader:     %s: cap origin, lease and compliance unknown\n",
		       str(st, "loader_note"));
	} else {
		print_lease(st, time(NULL));
		printf("compliance: %s%s%s\n", str(st, "compliance"),
		       has(st, "compliance_since_at") ? " since " : "",
		       str(st, "compliance_since_at"));
	}
	printf("counters since attach:\n");
	json_object_object_get_ex(st, "stats", &stats);
	for (i = 0; i < WS_NR_STATS; i++) {
		v = json_object_object_get(stats, ws_stat_names[i]);
		printf("  %-13s %12llu  %s\n", ws_stat_names[i],
		       (unsigned long long)(v ? json_object_get_uint64(v) : 0), ws_stat_descs[i]);
	}
}

static void status_usage(FILE *f)
{
	fprintf(f, "Usage: %s status [--json]\n\n"
		"Show the sched_ext state, the running wattsched's policy, cap, power,\n"
		"thermal state, rack lease and counters; --json prints them as one object\n"
		"(its members: docs/cli.md).\n", ws_prog);
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct json_object *st;
	bool json = false;
	int c;

	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			status_usage(stdout);
			return 0;
		default:
			status_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		ws_err("status: unexpected argument '%s'", argv[optind]);
		return 2;
	}
	if (!ws_attached_or_explain("status"))
		return 1;
	st = gather();
	if (!st)
		return 1;
	if (json)
		printf("%s\n", ws_json_text(st));
	else
		print_text(st);
	json_object_put(st);
	return 0;
}
