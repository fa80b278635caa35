// SPDX-License-Identifier: GPL-2.0
/*
 * cmd_run.c - `wattsched run`: load and attach the scheduler, then run the
 * daemon until SIGINT or SIGTERM or until the kernel ends the scheduler.
 *
 * run_once() is the whole life of one scheduler instance, in order: read
 * the topology, load the BPF object (loader.c), start the daemon on its
 * maps (daemon.c), pin the maps, open the control socket, attach, serve
 * requests and tick the control loop, detach; one cleanup path unwinds
 * whatever was done.  A CPU hotplug makes the kernel end the scheduler and
 * ask for a restart, which is a new run_once().
 */
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "cmd/args.h"
#include "cmd/cmd.h"
#include "daemon/daemon.h"
#include "daemon/loader.h"
#include "lib/names.h"
#include "lib/scx.h"
#include "lib/util.h"
#include "proto/ctlsock.h"

#define RUN_MAX_RULES		64	/* --class and --device-affinity, each */
#define RUN_STATE_FILE		"/var/lib/wattsched/state.json"

struct run_opts {
	unsigned long long policy;
	unsigned long long slice_us;
	unsigned long long interval;
	unsigned long long cap_watts;
	unsigned long long batch_duty_pct;
	unsigned long long stale_s;
	unsigned long long safe_cap_watts;
	const char *class_rules[RUN_MAX_RULES];
	unsigned int nr_class;
	const char *devaff_rules[RUN_MAX_RULES];
	unsigned int nr_devaff;
	struct ws_daemon_cfg daemon;
	char start_options[8192];	/* what the state file is keyed on */
};

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	exiting = 1;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG && ws_verbose < 2)
		return 0;
	if (!ws_verbose && level != LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, args);
}

/* The rules given with --class and --device-affinity, as requests to the new daemon. */
static int apply_start_rules(struct ws_daemon *d, const struct run_opts *o)
{
	struct ws_request req;
	char err[1024];
	unsigned int i;

	for (i = 0; i < o->nr_class + o->nr_devaff; i++) {
		bool cls = i < o->nr_class;
		const char *what = cls ? "--class" : "--device-affinity";

		if (cls ? ws_args_class_rule(what, o->class_rules[i], &req) :
			  ws_args_devaff_rule(what, o->devaff_rules[i - o->nr_class], &req))
			return -EINVAL;
		if (ws_daemon_apply(d, &req, -1, NULL, NULL, err, sizeof(err))) {
			ws_err("%s: %s", what, err);
			return -EINVAL;
		}
	}
	return 0;
}

static void print_stats_line(const __u64 *now, const __u64 *prev)
{
	static const int shown[] = {
		WS_STAT_enq_local, WS_STAT_enq_llc, WS_STAT_enq_pinned, WS_STAT_disp_local,
		WS_STAT_steal_node, WS_STAT_steal_remote, WS_STAT_idle_core, WS_STAT_kick_idle,
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(shown); i++)
		printf("%s%s=%llu", i ? " " : "", ws_stat_names[shown[i]],
		       (unsigned long long)(now[shown[i]] - prev[shown[i]]));
	printf("\n");
}

/* Serve requests and tick the control loop until a signal or the kernel ends it. */
static void serve(struct ws_loader *ld, struct ws_daemon *d, int sock,
		  unsigned long long interval)
{
	unsigned long long periods = 0, per_line = interval * 1000 / WS_CONTROL_PERIOD_MS;
	__u64 stats[WS_NR_STATS] = {}, prev[WS_NR_STATS] = {};

	while (!exiting && !ws_loader_exited(ld)) {
		ws_ctl_serve(sock, WS_CONTROL_PERIOD_MS, ws_daemon_handle, d);
		ws_daemon_tick(d);
		if (!interval || ++periods < per_line || ws_loader_exited(ld))
			continue;
		periods = 0;
		if (!ws_stats_read(ld->maps.stats, stats)) {
			print_stats_line(stats, prev);
			memcpy(prev, stats, sizeof(prev));
		}
	}
}

/*
 * The intent to continue from: the last instance's in this process (a
 * hotplug restart), else the state file's.  NULL for none; @from says whence.
 */
static struct json_object *saved_state(const struct run_opts *o, struct json_object *last,
				       const char **from)
{
	struct json_object *saved;
	char err[512];

	if (last) {
		*from = "the last run (restart after the kernel's request)";
		return json_object_get(last);
	}
	*from = o->daemon.state_file;
	if (!o->daemon.state_file || access(o->daemon.state_file, F_OK))
		return NULL;
	saved = ws_state_load(o->daemon.state_file, err, sizeof(err));
	if (!saved)
		ws_warn("state file: %s; starting from the command line", err);
	return saved;
}

/*
 * One scheduler instance.  Returns 0 on a requested stop, 1 when the kernel
 * ended the scheduler, 2 when it asks for a restart (hotplug), or a
 * negative errno when the scheduler could not start.  *last holds the
 * state to continue from, and gets this instance's on return.
 */
static int run_once(const struct run_opts *o, struct json_object **last)
{
	const char *path = ws_ctl_sock_path(), *from = NULL;
	struct json_object *saved = saved_state(o, *last, &from);
	struct ws_topology *topo;
	struct ws_intent start;
	struct ws_loader ld;
	struct ws_daemon d;
	char err[256];
	int sock, ret;

	topo = calloc(1, sizeof(*topo));
	if (!topo) {
		json_object_put(saved);
		return -ENOMEM;
	}
	ret = ws_topology_read("/sys", topo, err, sizeof(err));
	if (ret) {
		ws_err("reading CPU topology: %s", err);
		goto free_topo;
	}
	ret = ws_loader_load(&ld, topo, o->slice_us, &o->daemon.thermal);
	if (ret)
		goto destroy_loader;
	ws_intent_init(&start, o->policy, o->cap_watts, o->batch_duty_pct, o->safe_cap_watts);
	ret = ws_daemon_init(&d, &o->daemon, topo, &ld.maps, &start);
	if (ret)
		goto destroy_loader;
	ret = saved && !ws_daemon_restore(&d, saved, from) ? 0 : apply_start_rules(&d, o);
	if (!ret)
		ret = ws_loader_pin(&ld);
	if (ret)
		goto free_daemon;
	sock = ret = ws_ctl_listen(path);
	if (sock < 0)
		goto free_daemon;
	ret = ws_loader_attach(&ld);
	if (ret)
		goto close_sock;
	printf("wattsched: attached; policy %s, %u CPUs (%u online), %u cores, %u LLCs, "
	       "%u nodes, slice %llu us\n", ws_policy_name(d.intent.policy), topo->nr_cpus,
	       topo->nr_online, topo->nr_cores, topo->nr_llcs, topo->nr_nodes, o->slice_us);

	serve(&ld, &d, sock, o->interval);
	ret = ws_loader_detach(&ld);
	json_object_put(*last);
	*last = json_object_get(d.saved);
close_sock:
	ws_ctl_close(sock, path);
free_daemon:
	ws_daemon_free(&d);
destroy_loader:
	ws_loader_destroy(&ld);
free_topo:
	free(topo);
	json_object_put(saved);
	return ret;
}

static void run_usage(FILE *f)
{
	fprintf(f,
		"Usage: %s run [--policy NAME] [--slice-us N] [--interval SEC]\n"
		"              [--cap-watts W] [--batch-duty-pct PCT] [--power-model FILE]\n"
		"              [--telemetry-stale-s S]\n"
		"              [--device-affinity {PID|CGROUP}=PCI_ADDR]...\n"
		"              [--class CGROUP=CLASS]...\n"
		"              [--thermal-limit-c C] [--thermal-margin-c C]\n"
		"              [--thermal-hysteresis-c C] [--rack-dir DIR]\n"
		"              [--host-id ID] [--safe-cap-watts W] [--metrics-file PATH]\n"
		"              [--state-file PATH|none]\n\n"
		"Load and attach the wattsched scheduler and print per-interval counters\n"
		"until SIGINT or SIGTERM, then detach (exit 0).  When the kernel ends the\n"
		"scheduler (error, stall watchdog, sysrq-S) the reason is printed and the exit\n"
		"status is 1; a CPU hotplug makes the kernel ask for a restart, which is done.\n\n"
		"  --policy NAME   " WS_POLICY_NAMES " (default balanced)\n"
		"  --slice-us N    time slice in microseconds, 100..100000 (default 5000)\n"
		"  --interval SEC  seconds between stats lines, 0 for none, max 3600 (default 1)\n"
		"  --cap-watts W   start with a host power cap of W watts (policy capped)\n"
		"  --batch-duty-pct PCT  under a cap, batch work may hold at most PCT%% of\n"
		"                  the CPUs that take work, 1..100 (default 50)\n"
		"  --power-model FILE  power model coefficients (default: built in, the same\n"
		"                  as configs/power-model.conf)\n"
		"  --telemetry-stale-s S  a measured power reading (pushed, RAPL) counts for S\n"
		"                  seconds, 1..3600 (default %d); then the model takes over and,\n"
		"                  under a cap, the safe cap applies if lower\n"
		"  --device-affinity PID=PCI_ADDR  start with process PID bound to the NUMA\n"
		"                  node of PCI device PCI_ADDR (DDDD:BB:DD.F); repeatable, up to\n"
		"                  %d; at runtime: `%s device-affinity add`\n"
		"  --device-affinity CGROUP=PCI_ADDR  the same for the tasks of cgroup CGROUP\n"
		"                  (a path such as /gpu.slice; a left side that is not all\n"
		"                  digits is a cgroup)\n"
		"  --class CGROUP=CLASS  start with the tasks of cgroup CGROUP in class CLASS\n"
		"                  (" WS_CLASS_NAMES "); repeatable, up to %d;\n"
		"                  at runtime: `%s class set`\n"
		"  --thermal-limit-c C  a sensor's limit when it reports none (default 100)\n"
		"  --thermal-margin-c C  a core is hot within C of its limit (default 5)\n"
		"  --thermal-hysteresis-c C  and cool again C below that (default 5)\n"
		"  --rack-dir DIR  apply this host's share of DIR/rack.json, and again\n"
		"                  whenever it changes (ConfigMap or rename; docs/fleet.md)\n"
		"  --host-id ID    this host's id in rack documents (default: the hostname)\n"
		"  --safe-cap-watts W  the cap once a document's lease lapses, when the\n"
		"                  document has no safe_cap_watts (10..100000)\n"
		"  --metrics-file PATH  write Prometheus metrics to PATH every second\n"
		"                  (for node_exporter's textfile collector)\n"
		"  --state-file PATH  keep the intent set at runtime (cap, policy, rules, the\n"
		"                  rack document) in PATH and continue from it when started\n"
		"                  again with the same options (default $WATTSCHED_STATE, else\n"
		"                  " RUN_STATE_FILE "; 'none' keeps nothing;\n"
		"                  docs/reliability.md)\n\n"
		"Needs root and a kernel with CONFIG_SCHED_CLASS_EXT=y.  See docs/cli.md.\n",
		ws_prog, WS_STALE_S_DEFAULT, RUN_MAX_RULES, ws_prog, RUN_MAX_RULES, ws_prog);
}

enum {
	OPT_SLICE = 's', OPT_INTERVAL = 'i', OPT_CAP = 'c', OPT_POLICY = 'p', OPT_MODEL = 'm',
	OPT_DEVAFF = 'd', OPT_HELP = 'h',
	OPT_DUTY = 0x100, OPT_STALE, OPT_SAFE_CAP, OPT_CLASS, OPT_LIMIT, OPT_MARGIN, OPT_HYST,
	OPT_RACK_DIR, OPT_HOST_ID, OPT_METRICS, OPT_STATE,
};

static const struct option run_long_opts[] = {
	{ "policy", required_argument, NULL, OPT_POLICY },
	{ "slice-us", required_argument, NULL, OPT_SLICE },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "cap-watts", required_argument, NULL, OPT_CAP },
	{ "power-model", required_argument, NULL, OPT_MODEL },
	{ "batch-duty-pct", required_argument, NULL, OPT_DUTY },
	{ "telemetry-stale-s", required_argument, NULL, OPT_STALE },
	{ "safe-cap-watts", required_argument, NULL, OPT_SAFE_CAP },
	{ "device-affinity", required_argument, NULL, OPT_DEVAFF },
	{ "class", required_argument, NULL, OPT_CLASS },
	{ "thermal-limit-c", required_argument, NULL, OPT_LIMIT },
	{ "thermal-margin-c", required_argument, NULL, OPT_MARGIN },
	{ "thermal-hysteresis-c", required_argument, NULL, OPT_HYST },
	{ "rack-dir", required_argument, NULL, OPT_RACK_DIR },
	{ "host-id", required_argument, NULL, OPT_HOST_ID },
	{ "metrics-file", required_argument, NULL, OPT_METRICS },
	{ "state-file", required_argument, NULL, OPT_STATE },
	{ "help", no_argument, NULL, OPT_HELP },
	{}
};

/* The whole-number options: their range, what to say when out of it, where they go. */
static const struct {
	int opt;
	unsigned long long min, max;
	const char *want;
	size_t off;
} number_opts[] = {
	{ OPT_SLICE, 100, 100000, "a number of microseconds", offsetof(struct run_opts, slice_us) },
	{ OPT_INTERVAL, 0, 3600, "a number of seconds", offsetof(struct run_opts, interval) },
	{ OPT_CAP, WS_CAP_MIN_WATTS, WS_CAP_MAX_WATTS, "a whole number of watts",
	  offsetof(struct run_opts, cap_watts) },
	{ OPT_SAFE_CAP, WS_CAP_MIN_WATTS, WS_CAP_MAX_WATTS, "a whole number of watts",
	  offsetof(struct run_opts, safe_cap_watts) },
	{ OPT_DUTY, 1, 100, "a percentage", offsetof(struct run_opts, batch_duty_pct) },
	{ OPT_STALE, WS_STALE_S_MIN, WS_STALE_S_MAX, "a number of seconds",
	  offsetof(struct run_opts, stale_s) },
};

/* The temperature options, in degrees C, stored in milli-degrees. */
static const struct {
	int opt;
	double min, max;
	size_t off;
} celsius_opts[] = {
	{ OPT_LIMIT, 30, 150, offsetof(struct ws_thermal_cfg, limit_mc) },
	{ OPT_MARGIN, 0, 50, offsetof(struct ws_thermal_cfg, margin_mc) },
	{ OPT_HYST, 0, 50, offsetof(struct ws_thermal_cfg, hyst_mc) },
};

/* A number or temperature option: 1 when @c is none of them, 0 done, 2 bad value. */
static int parse_numeric(int c, const char *name, const char *arg, struct run_opts *o)
{
	unsigned int i;
	double v;

	for (i = 0; i < ARRAY_SIZE(number_opts); i++) {
		if (number_opts[i].opt != c)
			continue;
		if (!ws_parse_u64(arg, number_opts[i].min, number_opts[i].max,
				  (unsigned long long *)((char *)o + number_opts[i].off)))
			return 0;
		ws_err("--%s: '%s' is not %s in %llu..%llu", name, arg, number_opts[i].want,
		       number_opts[i].min, number_opts[i].max);
		return 2;
	}
	for (i = 0; i < ARRAY_SIZE(celsius_opts); i++) {
		if (celsius_opts[i].opt != c)
			continue;
		if (ws_parse_double(arg, celsius_opts[i].min, celsius_opts[i].max, &v)) {
			ws_err("--%s: '%s' is not a temperature in %g..%g degrees C", name, arg,
			       celsius_opts[i].min, celsius_opts[i].max);
			return 2;
		}
		*(int *)((char *)&o->daemon.thermal + celsius_opts[i].off) = (int)(v * 1000);
		return 0;
	}
	return 1;
}

/* A rule option (--class, --device-affinity): checked now, applied at start. */
static int add_rule(const char *name, const char *arg, const char **rules, unsigned int *nr,
		    int (*check)(const char *, const char *, struct ws_request *))
{
	struct ws_request req;
	char what[32];

	snprintf(what, sizeof(what), "--%s", name);
	if (*nr == RUN_MAX_RULES) {
		ws_err("%s: at most %d at start", what, RUN_MAX_RULES);
		return 2;
	}
	if (check(what, arg, &req))
		return 2;
	rules[(*nr)++] = arg;
	return 0;
}

static int parse_other(int c, const char *name, const char *arg, struct run_opts *o)
{
	char err[512];
	int p;

	switch (c) {
	case OPT_POLICY:
		p = ws_policy_from_name(arg);
		if (p < 0) {
			ws_err("--policy: unknown policy '%s' (" WS_POLICY_NAMES ")", arg);
			return 2;
		}
		o->policy = p;
		return 0;
	case OPT_MODEL:
		if (!ws_power_model_load(arg, &o->daemon.model, err, sizeof(err)))
			return 0;
		ws_err("--power-model: %s", err);
		return 2;
	case OPT_CLASS:
		return add_rule(name, arg, o->class_rules, &o->nr_class, ws_args_class_rule);
	case OPT_DEVAFF:
		return add_rule(name, arg, o->devaff_rules, &o->nr_devaff, ws_args_devaff_rule);
	case OPT_RACK_DIR:
		o->daemon.rack_dir = arg;
		return 0;
	case OPT_HOST_ID:
		if (!rack_valid_name(arg, RACK_HOST_ID_MAX)) {
			ws_err("--host-id: '%s' is not a host id (1..253 letters, digits, '.', "
			       "'-', '_')", arg);
			return 2;
		}
		snprintf(o->daemon.host_id, sizeof(o->daemon.host_id), "%s", arg);
		return 0;
	case OPT_METRICS:
		if (!*arg || arg[strlen(arg) - 1] == '/') {
			ws_err("--metrics-file: '%s' is not a file name", arg);
			return 2;
		}
		o->daemon.metrics_file = arg;
		return 0;
	case OPT_STATE:
		if (!strcmp(arg, "none")) {
			o->daemon.state_file = NULL;
			return 0;
		}
		if (!*arg || arg[strlen(arg) - 1] == '/') {
			ws_err("--state-file: '%s' is not a file name", arg);
			return 2;
		}
		o->daemon.state_file = arg;
		return 0;
	default:
		return 2;
	}
}

/* Parse `run`'s options into @o: 0, or the exit status (0 for --help shown, 2 usage). */
static int parse_run_opts(int argc, char **argv, struct run_opts *o, bool *help)
{
	int c, idx, ret;

	while ((c = getopt_long(argc, argv, "p:s:i:c:m:d:h", run_long_opts, &idx)) != -1) {
		const char *name = "";
		unsigned int i;

		for (i = 0; run_long_opts[i].name; i++)
			if (run_long_opts[i].val == c)
				name = run_long_opts[i].name;
		if (c == OPT_HELP) {
			*help = true;
			return 0;
		}
		if (c == '?') {
			run_usage(stderr);
			return 2;
		}
		ret = parse_numeric(c, name, optarg, o);
		if (ret == 1)
			ret = parse_other(c, name, optarg, o);
		if (ret)
			return ret;
	}
	if (optind < argc) {
		ws_err("run: unexpected argument '%s'", argv[optind]);
		return 2;
	}
	return 0;
}

static void run_defaults(struct run_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->policy = WS_POLICY_BALANCED;
	o->slice_us = 5000;
	o->interval = 1;
	o->batch_duty_pct = WS_BATCH_DUTY_DEFAULT;
	o->stale_s = WS_STALE_S_DEFAULT;
	ws_power_model_defaults(&o->daemon.model);
	ws_thermal_defaults(&o->daemon.thermal);
	/* $WATTSCHED_STATE, like $WATTSCHED_SOCKET, moves it for tests and containers */
	o->daemon.state_file = getenv("WATTSCHED_STATE") ?: RUN_STATE_FILE;
	if (!strcmp(o->daemon.state_file, "none"))
		o->daemon.state_file = NULL;
}

/* The options that make the starting intent: a state file is continued under the same. */
static void start_options(struct run_opts *o)
{
	char *p = o->start_options, *end = p + sizeof(o->start_options);
	unsigned int i;

	p += snprintf(p, end - p, "policy=%s cap=%llu duty=%llu safe=%llu rack-dir=%s host=%s",
		      ws_policy_name(o->policy), o->cap_watts, o->batch_duty_pct,
		      o->safe_cap_watts, o->daemon.rack_dir ?: "", o->daemon.host_id);
	for (i = 0; i < o->nr_class && p < end; i++)
		p += snprintf(p, end - p, " class=%s", o->class_rules[i]);
	for (i = 0; i < o->nr_devaff && p < end; i++)
		p += snprintf(p, end - p, " device=%s", o->devaff_rules[i]);
	o->daemon.start_options = o->start_options;
}

/* What the host is and may do; 0 or 1 after saying why not. */
static int run_checks(struct run_opts *o)
{
	if (geteuid()) {
		ws_err("run: must be root to load a BPF scheduler");
		return 1;
	}
	if (!ws_scx_supported()) {
		ws_err("run: this kernel has no sched_ext (%s missing; needs "
		       "CONFIG_SCHED_CLASS_EXT=y)", WS_SCX_STATE);
		return 1;
	}
	if (!o->daemon.host_id[0] &&
	    gethostname(o->daemon.host_id, sizeof(o->daemon.host_id) - 1))
		o->daemon.host_id[0] = '\0';
	return 0;
}

int cmd_run(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct json_object *last = NULL;
	static struct run_opts o;
	bool help = false;
	int ret;

	run_defaults(&o);
	ret = parse_run_opts(argc, argv, &o, &help);
	if (help)
		run_usage(stdout);
	if (ret || help)
		return ret;
	o.daemon.stale_s = o.stale_s;
	ret = run_checks(&o);
	if (ret)
		return ret;
	start_options(&o);
	/* before anything is pinned or bound: a second loader touches nothing */
	if (ws_loader_lock() < 0)
		return 1;

	/* a log file gets each line when it is written, whatever ends the loader */
	setvbuf(stdout, NULL, _IOLBF, 0);
	libbpf_set_print(libbpf_print);
	/*
	 * The control loop must not be starved by the load it caps: SCHED_FIFO
	 * puts it outside sched_ext, above every task the scheduler runs.  It
	 * sleeps between periods, and the kernel's RT throttling bounds it.
	 */
	if (sched_setscheduler(0, SCHED_FIFO, &(struct sched_param){ .sched_priority = 1 }))
		ws_warn("run: cannot run the control loop SCHED_FIFO: %s; it may lag under load",
			strerror(errno));
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	do {
		ret = run_once(&o, &last);
		if (ret == 2)
			printf("wattsched: restarting after the kernel's request (CPU hotplug)\n");
	} while (ret == 2 && !exiting);
	json_object_put(last);
	return ret < 0 ? 1 : ret;
}
