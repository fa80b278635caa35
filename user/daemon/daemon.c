// SPDX-License-Identifier: GPL-2.0
/*
 * sched.c - the scheduler's lifecycle and control from user space:
 *
 *   wattsched run      open, configure, load, pin and attach the BPF
 *                      scheduler, print stats, detach on SIGINT/SIGTERM,
 *                      report why the kernel ended it, restart on hotplug
 *   wattsched status   read the pinned maps of a running instance
 *   wattsched policy   switch the running instance's policy in place
 *
 * The control block (struct ws_ctl) and the counters are pinned under
 * WS_PIN_DIR, so `status`, `policy` and bpftool reach a running scheduler
 * without talking to the loader process.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "classes.h"
#include "control.h"
#include "fleet.h"
#include "metrics.h"
#include "power.h"
#include "psource.h"
#include "thermal.h"
#include "topology.h"
#include "ws.h"
#include "wattsched.skel.h"

#define BPF_FS_MAGIC		0xcafe4a11
#define SCX_STATE		"/sys/kernel/sched_ext/state"
#define SCX_OPS			"/sys/kernel/sched_ext/root/ops"

/* enum scx_exit_kind values the loader distinguishes. */
#define SCX_EXIT_UNREG		64
#define SCX_EXIT_ERROR		1024

static const char *const stat_names[WS_NR_STATS] = {
#define WS_STAT_NAME(name, desc) #name,
	WS_STATS(WS_STAT_NAME)
#undef WS_STAT_NAME
};

static const char *const stat_descs[WS_NR_STATS] = {
#define WS_STAT_DESC(name, desc) desc,
	WS_STATS(WS_STAT_DESC)
#undef WS_STAT_DESC
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

void ws_policy_defaults(struct ws_ctl *ctl, unsigned int policy)
{
	ctl->policy = policy;
	memset(ctl->perf, 0, sizeof(ctl->perf));
	switch (policy) {
	case WS_POLICY_PERFORMANCE:
		ctl->perf[WS_CLASS_LATENCY] = WS_PERF_MAX;
		ctl->perf[WS_CLASS_NORMAL] = WS_PERF_MAX;
		ctl->perf[WS_CLASS_BATCH] = WS_PERF_MAX;
		break;
	case WS_POLICY_POWERSAVE:
		ctl->perf[WS_CLASS_LATENCY] = WS_PERF_MAX * 3 / 4;
		ctl->perf[WS_CLASS_NORMAL] = WS_PERF_MAX / 2;
		ctl->perf[WS_CLASS_BATCH] = WS_PERF_MAX / 4;
		break;
	default:
		/* balanced and capped: leave the frequency to the governor */
		break;
	}
}

static bool scx_supported(void)
{
	return access(SCX_STATE, R_OK) == 0;
}

static void scx_current_ops(char *buf, size_t len)
{
	if (ws_read_file(SCX_OPS, buf, len) < 0)
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

static int ensure_bpffs(void)
{
	struct statfs st;

	if (!statfs("/sys/fs/bpf", &st) && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, NULL)) {
		ws_err("cannot mount bpffs on /sys/fs/bpf: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static struct bpf_map *pinned_maps(struct wattsched_bpf *skel, int i)
{
	struct bpf_map *maps[] = {
		skel->maps.ws_ctl, skel->maps.ws_budget, skel->maps.ws_stats,
		skel->maps.ws_dev_tgid, skel->maps.ws_dev_cgrp, skel->maps.ws_cgrp_class,
	};

	return i < (int)(sizeof(maps) / sizeof(maps[0])) ? maps[i] : NULL;
}

static void unpin_all(struct wattsched_bpf *skel)
{
	struct bpf_map *map;
	char path[256];
	int i;

	for (i = 0; (map = pinned_maps(skel, i)); i++) {
		snprintf(path, sizeof(path), "%s/%s", WS_PIN_DIR, bpf_map__name(map));
		unlink(path);
	}
	rmdir(WS_PIN_DIR);
}

static int pin_all(struct wattsched_bpf *skel)
{
	struct bpf_map *map;
	char path[256];
	int i, ret;

	ret = ensure_bpffs();
	if (ret)
		return ret;
	if (mkdir(WS_PIN_DIR, 0700) && errno != EEXIST) {
		ws_err("cannot create %s: %s", WS_PIN_DIR, strerror(errno));
		return -errno;
	}
	for (i = 0; (map = pinned_maps(skel, i)); i++) {
		snprintf(path, sizeof(path), "%s/%s", WS_PIN_DIR, bpf_map__name(map));
		unlink(path);	/* left over by a loader that was killed */
		ret = bpf_map__pin(map, path);
		if (ret) {
			ws_err("cannot pin %s: %s", path, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* Sum a per-CPU counter array; @out has WS_NR_STATS slots. */
static int read_stats(int map_fd, __u64 *out)
{
	int nr = libbpf_num_possible_cpus();
	__u64 *vals;
	__u32 i;
	int c;

	if (nr <= 0)
		return -EINVAL;
	vals = calloc(nr, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (i = 0; i < WS_NR_STATS; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(map_fd, &i, vals))
			continue;
		for (c = 0; c < nr; c++)
			out[i] += vals[c];
	}
	free(vals);
	return 0;
}

static void print_stats_line(const __u64 *now, const __u64 *prev)
{
	static const int shown[] = {
		WS_STAT_enq_local, WS_STAT_enq_llc, WS_STAT_enq_pinned, WS_STAT_disp_local,
		WS_STAT_steal_node, WS_STAT_steal_remote, WS_STAT_idle_core, WS_STAT_kick_idle,
	};
	size_t i;

	for (i = 0; i < sizeof(shown) / sizeof(shown[0]); i++)
		printf("%s%s=%llu", i ? " " : "", stat_names[shown[i]],
		       (unsigned long long)(now[shown[i]] - prev[shown[i]]));
	printf("\n");
	fflush(stdout);
}

static int fill_topology(struct wattsched_bpf *skel, const struct ws_topology *topo)
{
	unsigned int i;

	skel->rodata->nr_cpus = topo->nr_cpus;
	skel->rodata->nr_llcs = topo->nr_llcs;
	skel->rodata->nr_nodes = topo->nr_nodes ?: 1;
	for (i = 0; i < topo->nr_cpus; i++) {
		unsigned int j;

		skel->rodata->cpu_topo[i] = topo->cpu[i];
		skel->rodata->smt_sibling[i] = -1;
		for (j = 0; j < topo->nr_cpus; j++) {
			if (j != i && ws_cpu_test(topo->online, j) &&
			    topo->cpu[j].core == topo->cpu[i].core) {
				skel->rodata->smt_sibling[i] = j;
				break;
			}
		}
	}
	for (i = 0; i < topo->nr_llcs; i++)
		skel->rodata->llc_node[i] = topo->llc_node[i];
	return 0;
}

#define WS_RUN_MAX_DEVAFF	64

struct run_opts {
	int policy;
	unsigned int nr_devaff;
	struct ws_devaff devaff[WS_RUN_MAX_DEVAFF];
	unsigned int nr_class;
	__u64 class_cgrp[WS_RUN_MAX_DEVAFF];
	int class_of[WS_RUN_MAX_DEVAFF];
	unsigned long long slice_us;
	unsigned long long interval;
	unsigned long long cap_watts;
	unsigned long long batch_duty_pct;
	unsigned long long stale_s;
	struct ws_power_model model;
	struct ws_thermal_cfg thermal;
	struct ws_fleet_opts fleet;
};

#define WS_CONTROL_PERIOD_MS	250
#define WS_THERMAL_TEXT_MAX	(64 * 1024)

/* What the control loop keeps from one period to the next. */
struct ctl_loop {
	struct ws_cpu_sample *prev, *cur;
	double *busy;
	int *temp_mc, *limit_mc;
	char *text;			/* the thermal file, then the power file */
	__u64 hot[WS_CPU_WORDS];
	struct ws_compact compact;
	struct ws_rapl rapl;
	struct ws_cap_law law;
	double load;			/* busy CPUs' worth in the last period */
	double watts, model_watts;	/* its power reading and the model's estimate */
	unsigned int source;		/* enum ws_power_source of the reading */
	bool thermal_ok;		/* did the last period have readings? */
};

static int ctl_loop_init(struct ctl_loop *l, unsigned int nr_cpus)
{
	memset(l, 0, sizeof(*l));
	l->prev = calloc(nr_cpus, sizeof(*l->prev));
	l->cur = calloc(nr_cpus, sizeof(*l->cur));
	l->busy = calloc(nr_cpus, sizeof(*l->busy));
	l->temp_mc = calloc(nr_cpus, sizeof(*l->temp_mc));
	l->limit_mc = calloc(nr_cpus, sizeof(*l->limit_mc));
	l->text = malloc(WS_THERMAL_TEXT_MAX > WS_POWER_TEXT_MAX ? WS_THERMAL_TEXT_MAX :
			 WS_POWER_TEXT_MAX);
	if (!l->prev || !l->cur || !l->busy || !l->temp_mc || !l->limit_mc || !l->text)
		return -ENOMEM;
	ws_cpu_busy_sample(l->prev, nr_cpus);
	return 0;
}

static void ctl_loop_free(struct ctl_loop *l)
{
	free(l->text);
	free(l->limit_mc);
	free(l->temp_mc);
	free(l->busy);
	free(l->cur);
	free(l->prev);
}

/*
 * Hot-core avoidance: read the telemetry module's thermal file and update
 * the hot set.  Without readings (module not loaded, no sensors) nothing
 * is avoided.  Returns the number of CPUs with a reading.
 */
static unsigned int thermal_tick(struct ctl_loop *l, const struct ws_topology *topo,
				 const struct ws_thermal_cfg *cfg)
{
	unsigned int cpu;
	int n = -1;

	if (ws_read_file(WS_THERMAL_FILE, l->text, WS_THERMAL_TEXT_MAX) >= 0)
		n = ws_thermal_parse(l->text, topo, cfg, l->temp_mc, l->limit_mc);
	if (n <= 0) {
		if (l->thermal_ok)
			printf("wattsched: thermal: no readings any more; no CPU is avoided\n");
		l->thermal_ok = false;
		memset(l->hot, 0, sizeof(l->hot));
		return 0;
	}
	l->thermal_ok = true;
	if (ws_thermal_step(cfg, topo, l->temp_mc, l->limit_mc, l->hot)) {
		printf("wattsched: thermal: hot CPUs:");
		for (cpu = 0; cpu < topo->nr_cpus; cpu++)
			if (ws_cpu_test(l->hot, cpu))
				printf(" %u", cpu);
		printf("\n");
	}
	return n;
}

/*
 * One control period: measure utilisation and temperatures, take the power
 * reading (pushed, RAPL or model: user/psource.c), and derive the budget
 * from the control block @ctl: the cap's CPU count by the control law,
 * powersave compaction, hot CPUs.  The loop is the only writer of the
 * budget, which it keeps in @b; gen is bumped only when a mask changes,
 * which is what BPF reacts to.  @fs holds the pushed reading and the
 * telemetry-stale state.
 */
static void control_tick(const struct ws_ctl *ctl, int budget_fd, struct ws_budget *b,
			 const struct ws_topology *topo, const struct run_opts *o,
			 struct ctl_loop *l, struct ws_fleet_state *fs, bool sample)
{
	unsigned int n_compact = 0, n_cap = 0, nr_was = b->nr_active, cap;
	unsigned int perf = ctl->perf[WS_CLASS_NORMAL];
	__u32 zero = 0, cpu;
	char msg[256];
	bool changed;

	if (sample) {
		double now;
		bool rapl;

		if (ws_cpu_busy_sample(l->cur, topo->nr_cpus) <= 0)
			return;
		l->load = 0;
		for (cpu = 0; cpu < topo->nr_cpus; cpu++) {
			l->busy[cpu] = ws_cpu_busy_frac(&l->prev[cpu], &l->cur[cpu]);
			l->load += l->busy[cpu];
		}
		memcpy(l->prev, l->cur, topo->nr_cpus * sizeof(*l->cur));
		b->nr_sensed = thermal_tick(l, topo, &o->thermal);

		l->model_watts = ws_power_estimate(&o->model, l->busy, topo->nr_cpus, perf);
		now = ws_mono_now();	/* as close to the energy read as we can */
		rapl = ws_rapl_step(&l->rapl, ws_read_file(WS_POWER_FILE, l->text,
							   WS_POWER_TEXT_MAX) >= 0 ?
				    l->text : NULL, now, o->stale_s);
		l->source = ws_power_pick(&fs->pushed, rapl,
					  l->rapl.watts + o->model.rapl_extra_watts,
					  l->model_watts, now, o->stale_s, &l->watts);
	}

	/*
	 * Between periods (@sample false: a control request just changed the
	 * block) the last period's measurements stand; only the block's
	 * consequences are derived again, so a switch is in the budget before
	 * its requester hears back.
	 */
	if (ctl->policy != WS_POLICY_POWERSAVE)
		memset(&l->compact, 0, sizeof(l->compact));
	else if (sample || !l->compact.n)
		n_compact = ws_compact_step(&l->compact, l->load, topo->nr_online);
	else
		n_compact = l->compact.n;
	cap = ws_fleet_power_step(fs, ctl, l->source, time(NULL), msg, sizeof(msg));
	if (msg[0])
		ws_warn("%s", msg);
	if (!cap)
		memset(&l->law, 0, sizeof(l->law));
	else if (sample || !l->law.n || cap != l->law.cap)
		n_cap = ws_cap_law_step(&l->law, &o->model, cap, perf, topo->nr_online,
					l->source == WS_POWER_MODEL || l->model_watts <= 0 ? 0 :
					l->watts / l->model_watts);
	else
		n_cap = l->law.n;

	changed = ws_budget_step(ctl, b, topo, n_cap, n_compact, l->hot);
	if (changed)
		b->gen++;
	b->est_milliwatts = l->watts * 1000;
	b->power_source = l->source;
	b->cap_watts = cap;
	if (bpf_map_update_elem(budget_fd, &zero, b, BPF_EXIST))
		ws_warn("control loop: writing the budget map: %s", strerror(errno));
	else if (changed && b->nr_active != nr_was && cap)
		printf("wattsched: policy %s, cap %u W (power %.1f W, %s): %u of %u CPUs take work\n",
		       ws_policy_name(ctl->policy), cap, l->watts, ws_power_source_name(l->source),
		       b->nr_active ?: topo->nr_online, topo->nr_online);
	else if (changed && b->nr_active != nr_was)
		printf("wattsched: policy %s, no cap: %u of %u CPUs take work\n",
		       ws_policy_name(ctl->policy), b->nr_active ?: topo->nr_online,
		       topo->nr_online);
	if (changed)
		fflush(stdout);
}

/* The loader's side of the control socket: it alone writes the control map. */
struct ctl_owner {
	struct ws_ctl *ctl;
	int map_fd;
	struct ws_fleet *fleet;
	/* the control loop, to derive the budget of a new block at once */
	int budget_fd;
	struct ws_budget *budget;
	const struct ws_topology *topo;
	const struct run_opts *o;
	struct ctl_loop *loop;
};

/* Write @next to the control map; on success it is the block in force. */
static int ctl_commit(struct ctl_owner *own, const struct ws_ctl *next, char *err,
		      size_t errlen)
{
	__u32 zero = 0;

	if (bpf_map_update_elem(own->map_fd, &zero, next, BPF_EXIST)) {
		snprintf(err, errlen, "writing the control map: %s", strerror(errno));
		return -errno;
	}
	*own->ctl = *next;
	if (own->loop)
		control_tick(own->ctl, own->budget_fd, own->budget, own->topo, own->o, own->loop,
			     &own->fleet->st, false);
	printf("wattsched: policy %s, cap %u W, origin %s (generation %u)\n",
	       ws_policy_name(next->policy), next->cap_watts,
	       ws_cap_origin_name(own->fleet->st.origin), next->gen);
	fflush(stdout);
	return 0;
}

static int handle_request(void *data, const char *msg, size_t len, bool privileged,
			  char *reply, size_t replylen)
{
	struct ctl_owner *own = data;
	struct ws_ctl next = *own->ctl;
	struct ws_fleet_state fs = own->fleet->st;
	char err[512] = "";
	bool changed;
	int ret;

	ret = ws_control_apply(msg, len, privileged, &next, &fs, &changed, err, sizeof(err));
	if (!ret && changed) {
		struct ws_fleet_state before = own->fleet->st;

		own->fleet->st = fs;
		ret = ctl_commit(own, &next, err, sizeof(err));
		if (ret)
			own->fleet->st = before;
	} else if (!ret && memcmp(&own->fleet->st, &fs, sizeof(fs))) {
		/* a pushed reading or its --clear: the loader's state only, in force now */
		own->fleet->st = fs;
		if (own->loop)
			control_tick(own->ctl, own->budget_fd, own->budget, own->topo, own->o,
				     own->loop, &own->fleet->st, false);
	}
	if (ret)
		ws_warn("control request refused: %s", err);
	return ws_control_reply(own->ctl, &own->fleet->st, ret, err, reply, replylen);
}

/*
 * The fleet feed's part of a control period (user/fleet.c): the drop
 * directory and the lease may change the block; compliance and the metrics
 * file follow the budget the control tick just wrote.
 */
static void fleet_tick(struct ctl_owner *own, const struct ws_budget *b, int stats_fd)
{
	struct ws_fleet *f = own->fleet;
	struct ws_fleet_state before = f->st;
	struct ws_ctl next = *own->ctl;
	__u64 stats[WS_NR_STATS];
	time_t now = time(NULL);
	char err[512];

	if (ws_fleet_poll(f, &next, now)) {
		next.gen = own->ctl->gen + 1;
		if (ctl_commit(own, &next, err, sizeof(err))) {
			f->st = before;
			ws_warn("fleet: %s", err);
		}
	}
	ws_fleet_observe(&f->st, own->ctl, b, f->nr_online, now);
	if (ws_fleet_metrics_due(f, now) && !read_stats(stats_fd, stats)) {
		struct ws_metrics_in in = { .ctl = own->ctl, .fs = &f->st, .stats = stats,
					    .now = now };

		if (ws_metrics_write(f->opts->metrics_file, &in, err, sizeof(err)))
			ws_warn("--metrics-file: %s", err);
	}
}

/*
 * One load-attach-run cycle.  Returns 0 on a requested stop, 1 when the
 * kernel ended the scheduler, 2 when it asks for a restart (hotplug), or a
 * negative errno when the scheduler could not start.
 */
static int run_once(const struct run_opts *o)
{
	__u64 stats[WS_NR_STATS] = {}, prev[WS_NR_STATS] = {};
	struct wattsched_bpf *skel;
	struct ctl_loop loop = {};
	struct ws_topology *topo;
	struct bpf_link *link = NULL;
	struct ws_budget budget = {};
	struct ws_ctl ctl = {};
	struct ws_fleet fleet;
	struct ctl_owner owner = { .ctl = &ctl, .fleet = &fleet };
	char err[256], ops[128];
	__u32 zero = 0, i;
	int ret, sock = -1;

	topo = calloc(1, sizeof(*topo));
	if (!topo)
		return -ENOMEM;
	ret = ws_topology_read("/sys", topo, err, sizeof(err));
	if (ret) {
		ws_err("reading CPU topology: %s", err);
		goto free_topo;
	}
	ret = ws_fleet_open(&fleet, &o->fleet, topo->nr_online, o->batch_duty_pct);
	if (ret)
		goto free_topo;
	if (o->cap_watts)
		fleet.st.origin = WS_ORIGIN_CLI;

	skel = wattsched_bpf__open();
	if (!skel) {
		ret = -errno;
		ws_err("opening the BPF object: %s", strerror(errno));
		goto close_fleet;
	}
	fill_topology(skel, topo);
	skel->rodata->slice_ns = o->slice_us * 1000;

	ret = wattsched_bpf__load(skel);
	if (ret) {
		ws_err("loading the scheduler into the kernel failed: %s%s", strerror(-ret),
		       ws_verbose ? "" : " (run with -v for the verifier log)");
		goto destroy_skel;
	}

	ws_policy_defaults(&ctl, o->cap_watts ? WS_POLICY_CAPPED : o->policy);
	ctl.policy_before_cap = o->policy;
	ctl.cap_watts = o->cap_watts;
	ctl.batch_duty_pct = o->batch_duty_pct;
	ctl.gen = 1;
	ws_budget_step(&ctl, &budget, topo, ctl.cap_watts ?
		       ws_power_cpus_for_cap(&o->model, ctl.cap_watts, ctl.perf[WS_CLASS_NORMAL],
					     topo->nr_online) : 0, 0, NULL);
	budget.cap_watts = ctl.cap_watts;
	budget.gen = 1;
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.ws_ctl), &zero, &ctl, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(skel->maps.ws_budget), &zero, &budget, BPF_ANY)) {
		ret = -errno;
		ws_err("initialising the control maps: %s", strerror(errno));
		goto destroy_skel;
	}
	for (i = 0; i < o->nr_devaff; i++) {
		ret = ws_devaff_write(bpf_map__fd(skel->maps.ws_dev_tgid),
				      bpf_map__fd(skel->maps.ws_dev_cgrp), &o->devaff[i]);
		if (ret) {
			ws_err("--device-affinity: writing the map: %s", strerror(-ret));
			goto destroy_skel;
		}
	}
	for (i = 0; i < o->nr_class; i++) {
		ret = ws_cgrp_rule_write(bpf_map__fd(skel->maps.ws_cgrp_class), o->class_cgrp[i],
					 o->class_of[i]);
		if (ret) {
			ws_err("--class: writing the map: %s", strerror(-ret));
			goto destroy_skel;
		}
	}
	ret = pin_all(skel);
	if (ret)
		goto unpin;
	sock = ws_ctl_listen(ws_ctl_sock_path());
	if (sock < 0) {
		ret = sock;
		goto unpin;
	}
	owner.map_fd = bpf_map__fd(skel->maps.ws_ctl);
	fleet.class_fd = bpf_map__fd(skel->maps.ws_cgrp_class);

	link = bpf_map__attach_struct_ops(skel->maps.wattsched_ops);
	if (!link) {
		ret = -errno;
		scx_current_ops(ops, sizeof(ops));
		if (errno == EBUSY || errno == EEXIST)
			ws_err("cannot attach: another sched_ext scheduler (%s) is attached",
			       ops[0] ? ops : "unknown");
		else
			ws_err("attaching the scheduler failed: %s", strerror(errno));
		goto unpin;
	}
	printf("wattsched: attached; policy %s, %u CPUs (%u online), %u cores, %u LLCs, "
	       "%u nodes, slice %llu us\n", ws_policy_name(ctl.policy), topo->nr_cpus,
	       topo->nr_online, topo->nr_cores, topo->nr_llcs, topo->nr_nodes, o->slice_us);
	fflush(stdout);

	if (ctl_loop_init(&loop, topo->nr_cpus)) {
		ret = -ENOMEM;
		ws_err("out of memory");
		goto detach;
	}
	owner.budget_fd = bpf_map__fd(skel->maps.ws_budget);
	owner.budget = &budget;
	owner.topo = topo;
	owner.o = o;
	owner.loop = &loop;

	while (!exiting && !skel->bss->uei.kind) {
		unsigned long long left = (o->interval ?: 1) * 1000 / WS_CONTROL_PERIOD_MS;

		while (left-- && !exiting && !skel->bss->uei.kind) {
			ws_ctl_serve(sock, WS_CONTROL_PERIOD_MS, handle_request, &owner);
			control_tick(&ctl, bpf_map__fd(skel->maps.ws_budget), &budget, topo,
				     o, &loop, &fleet.st, true);
			fleet_tick(&owner, &budget, bpf_map__fd(skel->maps.ws_stats));
		}
		if (o->interval && !skel->bss->uei.kind &&
		    !read_stats(bpf_map__fd(skel->maps.ws_stats), stats)) {
			print_stats_line(stats, prev);
			memcpy(prev, stats, sizeof(prev));
		}
	}

detach:
	bpf_link__destroy(link);
	link = NULL;
	/* After detach the kernel has run ops.exit and filled uei. */
	if (skel->bss->uei.kind && skel->bss->uei.kind != SCX_EXIT_UNREG) {
		const struct ws_exit_info *e = &skel->bss->uei;

		ws_err("the kernel ended the scheduler: %s%s%s (kind %d, exit code %#llx)",
		       e->reason, e->msg[0] ? ": " : "", e->msg, e->kind,
		       (unsigned long long)e->exit_code);
		ret = (e->exit_code & WS_ECODE_RESTART) ? 2 : 1;
	} else {
		printf("wattsched: detached; the kernel is back on its default scheduler\n");
		ret = ret == -ENOMEM ? ret : 0;
	}
	ctl_loop_free(&loop);
unpin:
	ws_ctl_close(sock, ws_ctl_sock_path());
	unpin_all(skel);
destroy_skel:
	wattsched_bpf__destroy(skel);
close_fleet:
	ws_fleet_close(&fleet);
free_topo:
	free(topo);
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
		"              [--host-id ID] [--safe-cap-watts W] [--metrics-file PATH]\n\n"
		"Load and attach the wattsched scheduler and print per-interval counters\n"
		"until SIGINT or SIGTERM, then detach (exit 0).  When the kernel ends the\n"
		"scheduler (error, stall watchdog, sysrq-S) the reason is printed and the exit\n"
		"status is 1; a CPU hotplug makes the kernel ask for a restart, which is done.\n\n"
		"  --policy NAME   balanced (default), performance, powersave or capped\n"
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
		"                  (latency-critical, normal, batch); repeatable, up to %d;\n"
		"                  at runtime: `%s class set`\n"
		"  --thermal-limit-c C  a sensor's limit when it reports none (default 100)\n"
		"  --thermal-margin-c C  a core is hot within C of its limit (default 5)\n"
		"  --thermal-hysteresis-c C  and cool again C below that (default 5)\n"
		WS_FLEET_USAGE "\n"
		"Needs root and a kernel with CONFIG_SCHED_CLASS_EXT=y.  See docs/cli.md.\n",
		ws_prog, WS_STALE_S_DEFAULT, WS_RUN_MAX_DEVAFF, ws_prog, WS_RUN_MAX_DEVAFF, ws_prog);
}

/* A temperature option in degrees C, stored in milli-degrees. */
static int parse_celsius(const char *opt, const char *arg, double min, double max, int *mc)
{
	double v;

	if (ws_parse_double(arg, min, max, &v)) {
		ws_err("%s: '%s' is not a temperature in %g..%g degrees C", opt, arg, min, max);
		return -EINVAL;
	}
	*mc = (int)(v * 1000);
	return 0;
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "slice-us", required_argument, NULL, 's' },
		{ "interval", required_argument, NULL, 'i' },
		{ "cap-watts", required_argument, NULL, 'c' },
		{ "power-model", required_argument, NULL, 'm' },
		{ "batch-duty-pct", required_argument, NULL, 'D' },
		{ "telemetry-stale-s", required_argument, NULL, 'S' },
		{ "device-affinity", required_argument, NULL, 'd' },
		{ "class", required_argument, NULL, 'C' },
		{ "thermal-limit-c", required_argument, NULL, 'L' },
		{ "thermal-margin-c", required_argument, NULL, 'M' },
		{ "thermal-hysteresis-c", required_argument, NULL, 'H' },
		WS_FLEET_LONG_OPTS,
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct run_opts o = { .policy = WS_POLICY_BALANCED, .slice_us = 5000, .interval = 1,
			      .batch_duty_pct = WS_BATCH_DUTY_DEFAULT,
			      .stale_s = WS_STALE_S_DEFAULT };
	struct sigaction sa = { .sa_handler = on_signal };
	char err[512];
	int c, ret;

	ws_power_model_defaults(&o.model);
	ws_thermal_defaults(&o.thermal);
	while ((c = getopt_long(argc, argv, "p:s:i:c:m:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'C':
			if (o.nr_class == WS_RUN_MAX_DEVAFF) {
				ws_err("--class: at most %d rules at start", WS_RUN_MAX_DEVAFF);
				return 2;
			}
			ret = ws_class_rule_parse("--class", optarg, &o.class_cgrp[o.nr_class],
						  &o.class_of[o.nr_class]);
			if (ret)
				return ret;
			o.nr_class++;
			break;
		case 'D':
			if (ws_parse_u64(optarg, 1, 100, &o.batch_duty_pct)) {
				ws_err("--batch-duty-pct: '%s' is not a percentage in 1..100", optarg);
				return 2;
			}
			break;
		case 'S':
			if (ws_parse_u64(optarg, WS_STALE_S_MIN, WS_STALE_S_MAX, &o.stale_s)) {
				ws_err("--telemetry-stale-s: '%s' is not a number of seconds in %d..%d",
				       optarg, WS_STALE_S_MIN, WS_STALE_S_MAX);
				return 2;
			}
			break;
		case 'L':
			if (parse_celsius("--thermal-limit-c", optarg, 30, 150, &o.thermal.limit_mc))
				return 2;
			break;
		case 'M':
			if (parse_celsius("--thermal-margin-c", optarg, 0, 50, &o.thermal.margin_mc))
				return 2;
			break;
		case 'H':
			if (parse_celsius("--thermal-hysteresis-c", optarg, 0, 50, &o.thermal.hyst_mc))
				return 2;
			break;
		case 'd': {
			char *target, *addr;
			bool cgroup;

			if (!ws_devaff_split(optarg, &target, &addr, &cgroup)) {
				ws_err("--device-affinity: '%s' is not PID=PCI_ADDR or "
				       "CGROUP=PCI_ADDR", optarg);
				return 2;
			}
			if (o.nr_devaff == WS_RUN_MAX_DEVAFF) {
				ws_err("--device-affinity: at most %d bindings at start",
				       WS_RUN_MAX_DEVAFF);
				return 2;
			}
			ret = ws_devaff_resolve("--device-affinity", target, cgroup, addr,
						&o.devaff[o.nr_devaff]);
			if (ret)
				return ret;
			o.nr_devaff++;
			break;
		}
		case 'c':
			if (ws_parse_u64(optarg, WS_CAP_MIN_WATTS, WS_CAP_MAX_WATTS, &o.cap_watts)) {
				ws_err("--cap-watts: '%s' is not a whole number of watts in %u..%u",
				       optarg, WS_CAP_MIN_WATTS, WS_CAP_MAX_WATTS);
				return 2;
			}
			break;
		case 'm':
			if (ws_power_model_load(optarg, &o.model, err, sizeof(err))) {
				ws_err("--power-model: %s", err);
				return 2;
			}
			break;
		case 'p':
			o.policy = ws_policy_from_name(optarg);
			if (o.policy < 0) {
				ws_err("--policy: unknown policy '%s' (balanced, performance, powersave, capped)",
				       optarg);
				return 2;
			}
			break;
		case 's':
			if (ws_parse_u64(optarg, 100, 100000, &o.slice_us)) {
				ws_err("--slice-us: '%s' is not a number of microseconds in 100..100000",
				       optarg);
				return 2;
			}
			break;
		case 'i':
			if (ws_parse_u64(optarg, 0, 3600, &o.interval)) {
				ws_err("--interval: '%s' is not a number of seconds in 0..3600", optarg);
				return 2;
			}
			break;
		case 'h':
			run_usage(stdout);
			return 0;
		case WS_FLEET_OPT_RACK_DIR ... WS_FLEET_OPT_SAFE_CAP:
			if (ws_fleet_parse_opt(c, optarg, &o.fleet))
				return 2;
			break;
		default:
			run_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		ws_err("run: unexpected argument '%s'", argv[optind]);
		return 2;
	}
	if (geteuid()) {
		ws_err("run: must be root to load a BPF scheduler");
		return 1;
	}
	if (!scx_supported()) {
		ws_err("run: this kernel has no sched_ext (%s missing; needs CONFIG_SCHED_CLASS_EXT=y)",
		       SCX_STATE);
		return 1;
	}

	libbpf_set_print(libbpf_print);
	/*
	 * The control loop must not be starved by the load it caps: under a
	 * cap of one CPU and a dozen hogs, a SCHED_OTHER loader would get a
	 * share of that CPU, and a pushed reading or a `cap --clear` would
	 * wait behind them.  SCHED_FIFO 1 puts it outside sched_ext, above
	 * every task the scheduler runs; it sleeps between periods, and the
	 * kernel's RT throttling bounds it should it ever spin.
	 */
	if (sched_setscheduler(0, SCHED_FIFO, &(struct sched_param){ .sched_priority = 1 }))
		ws_warn("run: cannot run the control loop SCHED_FIFO: %s; it may lag under load",
			strerror(errno));
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	do {
		ret = run_once(&o);
		if (ret == 2)
			printf("wattsched: restarting after the kernel's request (CPU hotplug)\n");
	} while (ret == 2 && !exiting);
	return ret < 0 ? 1 : ret;
}

/*
 * Is wattsched the attached scheduler?  Pinned maps alone do not say so: a
 * loader killed with SIGKILL leaves its pins behind.
 */
static bool attached_or_explain(const char *what)
{
	char state[64] = "", ops[128];

	if (ws_read_file(SCX_STATE, state, sizeof(state)) < 0) {
		ws_err("%s: this kernel has no sched_ext", what);
		return false;
	}
	state[strcspn(state, "\n")] = '\0';
	scx_current_ops(ops, sizeof(ops));
	if (!strcmp(state, "enabled") && !strcmp(ops, WS_NAME))
		return true;
	ws_err("%s: wattsched is not running (sched_ext state '%s', attached scheduler: %s)%s",
	       what, state, ops[0] ? ops : "none",
	       access(WS_PIN_DIR "/ws_ctl", F_OK) ? "" :
	       "; the maps pinned at " WS_PIN_DIR " are stale, left by a loader that was killed");
	return false;
}

/* Open the pinned map @name of a running instance. */
int ws_open_pinned(const char *name)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", WS_PIN_DIR, name);
	fd = bpf_obj_get(path);
	if (fd < 0 && (errno == EACCES || errno == EPERM))
		ws_err("%s: permission denied: controlling wattsched needs root", path);
	else if (fd < 0)
		ws_err("wattsched is not running (no map pinned at %s: %s)", path, strerror(errno));
	return fd;
}


/* Print the CPUs in @mask, each preceded by @sep but the first; how many. */
static unsigned int print_cpus(const __u64 *mask, const char *sep)
{
	unsigned int cpu, n = 0;

	for (cpu = 0; cpu < WS_MAX_CPUS; cpu++)
		if (ws_cpu_test(mask, cpu))
			printf("%s%u", n++ ? sep : "", cpu);
	return n;
}

static void status_usage(FILE *f)
{
	fprintf(f, "Usage: %s status [--json]\n\n"
		"Show the sched_ext state, the running wattsched's policy and its counters.\n",
		ws_prog);
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	__u64 stats[WS_NR_STATS];
	char state[64] = "unsupported", ops[128];
	struct ws_fleet_state fs;
	unsigned int gen, tries;
	char note[512];
	struct ws_budget b;
	struct ws_ctl ctl;
	int c, json = 0, ctl_fd, budget_fd, stats_fd, i, ret = 1;
	__u32 zero = 0;

	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = 1;
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
	if (!attached_or_explain("status"))
		return 1;
	if (ws_read_file(SCX_STATE, state, sizeof(state)) >= 0)
		state[strcspn(state, "\n")] = '\0';
	scx_current_ops(ops, sizeof(ops));

	ctl_fd = ws_open_pinned("ws_ctl");
	if (ctl_fd < 0)
		return 1;
	budget_fd = ws_open_pinned("ws_budget");
	if (budget_fd < 0)
		goto close_ctl;
	stats_fd = ws_open_pinned("ws_stats");
	if (stats_fd < 0)
		goto close_budget;
	for (tries = 0; tries < 3; tries++) {
		if (bpf_map_lookup_elem(ctl_fd, &zero, &ctl) ||
		    bpf_map_lookup_elem(budget_fd, &zero, &b) || read_stats(stats_fd, stats)) {
			ws_err("status: reading the pinned maps: %s", strerror(errno));
			goto close_stats;
		}
		/* Origin, lease and compliance are the loader's; the maps do not hold them. */
		ret = ws_fleet_status_fetch(&fs, &gen, note, sizeof(note));
		/* The loader changed the block between the two reads: read both again. */
		if (ret || gen == ctl.gen)
			break;
	}

	if (json) {
		printf("{\"sched_ext_state\":\"%s\",\"ops\":\"%s\",\"attached\":%s,"
		       "\"policy\":\"%s\",\"generation\":%u,\"cap_watts\":%u,"
		       "\"batch_duty_pct\":%u,"
		       "\"power_watts\":%.1f,\"power_source\":\"%s\",\"active_cpus\":%u,"
		       "\"stats\":{",
		       state, ops, strcmp(ops, WS_NAME) ? "false" : "true",
		       ws_policy_name(ctl.policy), ctl.gen, ctl.cap_watts, ctl.batch_duty_pct,
		       b.est_milliwatts / 1000.0, ws_power_source_name(b.power_source),
		       b.nr_active ?: (unsigned int)libbpf_num_possible_cpus());
		for (i = 0; i < WS_NR_STATS; i++)
			printf("%s\"%s\":%llu", i ? "," : "", stat_names[i],
			       (unsigned long long)stats[i]);
		printf("},\"thermal_sensed_cpus\":%u,\"hot_cpus\":[", b.nr_sensed);
		print_cpus(b.avoid_mask, ",");
		printf("]");
		ws_fleet_status_print(&fs, ret ? note : NULL, true, time(NULL));
		printf("}\n");
	} else {
		printf("sched_ext:  %s (ops: %s)\n", state, ops[0] ? ops : "none");
		printf("policy:     %s (generation %u)\n", ws_policy_name(ctl.policy), ctl.gen);
		if (ctl.cap_watts && b.cap_watts && b.cap_watts != ctl.cap_watts)
			printf("cap:        %u W; %u W in force (telemetry stale), %u CPUs take work\n",
			       ctl.cap_watts, b.cap_watts,
			       b.nr_active ?: (unsigned int)libbpf_num_possible_cpus());
		else if (ctl.cap_watts)
			printf("cap:        %u W, %u CPUs take work\n", ctl.cap_watts,
			       b.nr_active ?: (unsigned int)libbpf_num_possible_cpus());
		else
			printf("cap:        none\n");
		printf("batch duty: %u%% of the CPUs that take work, while a cap is in force\n",
		       ctl.batch_duty_pct ?: 100);
		printf("power:      %.1f W (source: %s)\n", b.est_milliwatts / 1000.0,
		       ws_power_source_name(b.power_source));
		if (!b.nr_sensed) {
			printf("thermal:    no readings (telemetry module not loaded, or no sensors)\n");
		} else {
			printf("thermal:    %u CPUs sensed; hot CPUs avoided: ", b.nr_sensed);
			if (!print_cpus(b.avoid_mask, " "))
				printf("none");
			printf("\n");
		}
		ws_fleet_status_print(&fs, ret ? note : NULL, false, time(NULL));
		printf("counters since attach:\n");
		for (i = 0; i < WS_NR_STATS; i++)
			printf("  %-13s %12llu  %s\n", stat_names[i],
			       (unsigned long long)stats[i], stat_descs[i]);
	}
	ret = 0;
close_stats:
	close(stats_fd);
close_budget:
	close(budget_fd);
close_ctl:
	close(ctl_fd);
	return ret;
}

static void policy_usage(FILE *f)
{
	fprintf(f, "Usage: %s policy NAME\n\n"
		"Switch the running scheduler to policy NAME without reloading it:\n"
		"  balanced     keep tasks near their caches; frequency left to the governor\n"
		"  performance  spread over whole cores first; full cpufreq target\n"
		"  powersave    pack onto SMT siblings and few cores; lower cpufreq targets\n"
		"  capped       enforce the host power cap (see docs/policies.md)\n",
		ws_prog);
}

int cmd_policy(int argc, char **argv)
{
	struct ws_ctl_answer ans;
	char req[128];

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		policy_usage(stdout);
		return 0;
	}
	if (argc != 2) {
		policy_usage(stderr);
		return 2;
	}
	if (ws_policy_from_name(argv[1]) < 0) {
		ws_err("policy: unknown policy '%s' (balanced, performance, powersave, capped)",
		       argv[1]);
		return 2;
	}
	if (!attached_or_explain("policy"))
		return 1;
	snprintf(req, sizeof(req), "{\"op\":\"policy\",\"policy\":\"%s\"}", argv[1]);
	if (ws_ctl_call("policy", req, &ans))
		return 1;
	printf("policy: %s (generation %u)\n", ans.policy, ans.gen);
	return 0;
}

bool ws_attached_or_explain(const char *what)
{
	return attached_or_explain(what);
}
