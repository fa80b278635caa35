// SPDX-License-Identifier: GPL-2.0
/*
 * daemon.c - the daemon's state and its control period (daemon.h).
 *
 * Each period: measure (sense.c), take the power reading (pushed, RAPL or
 * model), follow the drop directory and the lease, then derive the budget
 * from the intent: the cap in force (the safe cap while telemetry is
 * stale), the cap's CPU count by the control law, powersave compaction,
 * hot CPUs.  A committed change of intent derives the budget again at once,
 * from the last period's measurements, so that a switch is in the maps
 * before its requester hears back.  Requests are requests.c's; what status
 * and the metrics file say, report.c's.
 */
#include <json-c/json.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "core/metrics.h"
#include "daemon/daemon.h"
#include "lib/names.h"
#include "lib/scx.h"
#include "lib/util.h"
#include "proto/ctlsock.h"

/* This period's power reading: pushed, RAPL or the model (psource.h). */
static void pick_power(struct ws_daemon *d, unsigned int perf)
{
	struct ws_observed *o = &d->obs;
	const struct ws_sense *s = &d->sense;

	if (!d->sensed)
		return;
	o->load = s->load;
	o->model_watts = ws_power_estimate(&d->cfg->model, s->busy, d->topo->nr_cpus, perf);
	o->power_source = ws_power_pick(&o->pushed, s->rapl_fresh,
					s->rapl.watts + d->cfg->model.rapl_extra_watts,
					o->model_watts, ws_mono_now(), d->cfg->stale_s,
					&o->power_watts);
}

/* Powersave's compacted CPU count; 0 for none (another policy, nothing measured yet). */
static unsigned int compact_step(struct ws_daemon *d, bool sample)
{
	if (d->intent.policy != WS_POLICY_POWERSAVE || !d->sensed) {
		memset(&d->compact, 0, sizeof(d->compact));
		return 0;
	}
	if (sample || !d->compact.n)
		return ws_compact_step(&d->compact, d->sense.load, d->topo->nr_online);
	return d->compact.n;
}

/* The cap in force: the intent's, or the safe cap while telemetry is stale. */
static unsigned int cap_in_force(struct ws_daemon *d)
{
	char msg[256];
	unsigned int cap;

	cap = ws_stale_step(&d->obs.stale, d->obs.power_source, d->intent.cap_watts,
			    ws_intent_safe_watts(&d->intent), time(NULL), msg, sizeof(msg));
	if (msg[0])
		ws_warn("%s", msg);
	return cap;
}

/* The cap's CPU count by the control law; 0 for no cap. */
static unsigned int cap_step(struct ws_daemon *d, unsigned int cap, unsigned int perf,
			     bool sample)
{
	const struct ws_observed *o = &d->obs;
	bool measured = o->power_source == WS_POWER_RAPL || o->power_source == WS_POWER_PUSHED;

	if (!cap) {
		memset(&d->law, 0, sizeof(d->law));
		return 0;
	}
	if (!sample && d->law.n && cap == d->law.cap)
		return d->law.n;
	return ws_cap_law_step(&d->law, &d->cfg->model, cap, perf, d->topo->nr_online,
			       measured && o->model_watts > 0 ? o->power_watts / o->model_watts : 0);
}

/*
 * The share BPF is given on @pcpu, the partial CPU of the budget being
 * written (-1: none): the law's, trimmed by what the CPU ran in the last
 * period (ws_partial_trim_step()).  The trim is keyed on @pcpu, so a cap
 * step that moves the partial CPU starts the new one low in the same
 * period.  It learns only from a new sample of the set the last budget
 * kept (d->budget); without one, the last share on the same CPU stands.
 */
static unsigned int partial_step(struct ws_daemon *d, int pcpu, bool sample)
{
	const struct ws_budget *last = &d->budget;
	unsigned int cpu, n = 0;
	double sum = 0;
	bool learn;

	if (pcpu < 0 || !d->law.permille) {
		d->partial_cmd = ws_partial_trim_step(&d->trim, 0, 0, 0, false);
		return 0;
	}
	if (!sample && d->partial_cmd && d->trim.have && d->trim.cpu == (unsigned int)pcpu)
		return d->partial_cmd;
	for (cpu = 0; d->sensed && cpu < d->topo->nr_cpus; cpu++) {
		if (ws_cpu_test(last->active_mask, cpu)) {
			sum += d->sense.busy[cpu];
			n++;
		}
	}
	learn = sample && last->partial_permille && last->partial_cpu == (__u32)pcpu && n &&
		sum / n >= WS_TRIM_SATURATED;
	d->partial_cmd = ws_partial_trim_step(&d->trim, d->law.permille, pcpu,
					      d->sensed && (unsigned int)pcpu < d->topo->nr_cpus ?
					      d->sense.busy[pcpu] : 0, learn);
	return d->partial_cmd;
}

static void log_budget(const struct ws_daemon *d, unsigned int cap)
{
	unsigned int n = d->budget.nr_active ?: d->topo->nr_online;

	if (cap)
		printf("wattsched: policy %s, cap %u W (power %.1f W, %s): %u of %u CPUs take work\n",
		       ws_policy_name(d->intent.policy), cap, d->obs.power_watts,
		       ws_power_source_name(d->obs.power_source), n, d->topo->nr_online);
	else
		printf("wattsched: policy %s, no cap: %u of %u CPUs take work (load %.2f CPUs)\n",
		       ws_policy_name(d->intent.policy), n, d->topo->nr_online, d->obs.load);
}

/* What the pinned CPUs do to the cap: said once when it starts and when it ends. */
static void report_pinned(struct ws_daemon *d, unsigned int n_cap)
{
	struct ws_observed *o = &d->obs;
	unsigned int cpu, npinned = 0;
	bool unmet;

	memcpy(o->pinned, d->pinned.mask, sizeof(o->pinned));
	for (cpu = 0; cpu < WS_MAX_CPUS; cpu++)
		npinned += ws_cpu_test(o->pinned, cpu) && ws_cpu_test(d->topo->online, cpu) &&
			   d->budget.nr_active && !ws_cpu_test(d->budget.active_mask, cpu);
	o->cap_cpus = n_cap;
	/* pinned work outside the CPUs the cap keeps: it runs, so the cap is not met */
	unmet = n_cap && npinned;
	if (unmet && !o->cap_unmet_pinned)
		ws_warn("the cap allows %u CPUs, but work that can run only elsewhere keeps %u more "
			"busy: the cap is not met while it runs", n_cap, npinned);
	else if (!unmet && o->cap_unmet_pinned)
		ws_warn("pinned work fits the cap again");
	o->cap_unmet_pinned = unmet;
}

/*
 * The control loop runs SCHED_FIFO (cmd_run.c), so the kernel's RT class
 * places it, not the scheduler: keep it on the CPUs that take work, or it
 * wakes, every period, a CPU that a cap or compaction has emptied.  Only
 * among the CPUs it was started on; none of them left, it stays put.
 */
static void follow_active_cpus(const struct ws_daemon *d)
{
	unsigned int cpu;
	cpu_set_t set;

	if (sched_getscheduler(0) != SCHED_FIFO)
		return;
	CPU_ZERO(&set);
	for (cpu = 0; cpu < d->topo->nr_cpus && cpu < CPU_SETSIZE; cpu++)
		if (ws_cpu_test(d->obs.active, cpu) && !ws_cpu_test(d->budget.avoid_mask, cpu) &&
		    CPU_ISSET(cpu, &d->allowed))
			CPU_SET(cpu, &set);
	if (CPU_COUNT(&set))
		sched_setaffinity(0, sizeof(set), &set);
}

/* Write the budget; gen moves only when a mask changes, which is what BPF reacts to. */
static void publish_budget(struct ws_daemon *d, unsigned int cap, unsigned int n_cap,
			   unsigned int n_compact, bool sample)
{
	struct ws_budget_in in = {
		.policy = d->intent.policy, .n_cap = n_cap, .n_compact = n_compact,
		.hot = d->sense.hot, .headroom_mc = d->sense.headroom_mc,
		.hot_in_bpf = d->sense.heat_path == WS_HEAT_KFUNC,
		.pinned = d->pinned.mask,
		/* the law's share only asks for a partial CPU; the trimmed one is given below */
		.partial_permille = cap ? d->law.permille : 0,
		.partial_window_us = d->cfg->model.partial_window_ms * 1000,
	};
	struct ws_budget b = d->budget;
	bool changed, moved;
	int ret;

	changed = ws_budget_step(&in, &b, d->topo);
	b.partial_permille = partial_step(d, b.partial_permille ? (int)b.partial_cpu : -1, sample);
	if (changed)
		b.gen++;
	b.est_milliwatts = d->obs.power_watts * 1000;
	b.power_source = d->obs.power_source;
	b.nr_sensed = d->sense.nr_sensed;
	b.cap_watts = cap;
	b.guard_mw = ws_power_guard_mw(cap, d->obs.power_source, d->cfg->model.rapl_extra_watts);
	ret = ws_maps_write_budget(d->maps, &b);
	if (ret) {
		ws_warn("control loop: writing the budget map: %s", strerror(-ret));
		return;
	}
	moved = changed;
	changed = changed && b.nr_active != d->budget.nr_active;
	d->budget = b;
	if (changed)
		log_budget(d, cap);
	d->obs.cap_in_force = cap;
	d->obs.power_guard_mw = b.guard_mw;
	d->obs.active_cpus = b.nr_active ?: d->topo->nr_online;
	memcpy(d->obs.active, b.nr_active ? b.active_mask : d->topo->online, sizeof(d->obs.active));
	d->obs.partial_cpu = b.partial_cpu;
	d->obs.partial_permille = b.partial_permille ? d->law.permille : 0;
	d->obs.partial_given = b.partial_permille;
	d->obs.nr_sensed = d->sense.nr_sensed;
	d->obs.thermal = d->sense.thermal;
	d->obs.heat_path = d->sense.heat_path;
	/*
	 * What is avoided: the hot CPUs, less the least hot when every CPU is
	 * hot; on the kfunc path, BPF's hot set (BPF applies the same rule).
	 */
	memcpy(d->obs.hot, in.hot_in_bpf ? d->sense.hot : b.avoid_mask, sizeof(d->obs.hot));
	if (moved)
		follow_active_cpus(d);
	report_pinned(d, n_cap);
}

/*
 * Derive the budget from the intent.  With @sample, measure a new period
 * first; without, the last period's measurements stand and only the
 * intent's consequences are derived again.
 */
static void derive(struct ws_daemon *d, bool sample)
{
	struct ws_ctl ctl;
	unsigned int perf, cap, n_cap, n_compact;

	struct ws_sense_maps sm = { .bound = d->maps->bound, .heat = d->maps->heat };

	if (sample && ws_sense_period(&d->sense, d->topo, &d->cfg->thermal, d->cfg->stale_s,
				      &sm)) {
		d->sensed = true;
		ws_pinned_step(&d->pinned, d->topo, d->sense.stranded, d->sense.bound);
	}
	ws_intent_ctl(&d->intent, &ctl);
	perf = ctl.perf[WS_CLASS_NORMAL];
	pick_power(d, perf);
	n_compact = compact_step(d, sample);
	cap = cap_in_force(d);
	n_cap = cap_step(d, cap, perf, sample);
	publish_budget(d, cap, n_cap, n_compact, sample);
}

void ws_daemon_rederive(struct ws_daemon *d)
{
	derive(d, false);
}

int ws_daemon_commit(struct ws_daemon *d, struct ws_intent *next, char *err, size_t errlen)
{
	struct ws_ctl ctl;
	int ret;

	next->gen = d->intent.gen + 1;
	ws_intent_ctl(next, &ctl);
	ret = ws_maps_write_ctl(d->maps, &ctl);
	if (ret)
		return ws_fail(err, errlen, ret, "writing the control map: %s", strerror(-ret));
	d->intent = *next;
	derive(d, false);
	ws_daemon_save(d);
	if (next->cap_watts)
		printf("wattsched: policy %s, cap %u W, origin %s (generation %u)\n",
		       ws_policy_name(next->policy), next->cap_watts,
		       ws_cap_origin_name(next->origin), next->gen);
	else
		printf("wattsched: policy %s, no cap (generation %u)\n",
		       ws_policy_name(next->policy), next->gen);
	return 0;
}

int ws_daemon_init(struct ws_daemon *d, const struct ws_daemon_cfg *cfg,
		   const struct ws_topology *topo, const struct ws_maps *maps,
		   const struct ws_intent *start)
{
	struct ws_intent first = *start;
	char err[256];
	int ret;

	memset(d, 0, sizeof(*d));
	d->cfg = cfg;
	d->topo = topo;
	d->maps = maps;
	d->obs.nr_online = topo->nr_online;
	d->rackdir.watch_fd = -1;
	if (sched_getaffinity(0, sizeof(d->allowed), &d->allowed))
		CPU_ZERO(&d->allowed);
	if (ws_sense_init(&d->sense, topo->nr_cpus)) {
		ws_err("out of memory");
		return -ENOMEM;
	}
	ret = ws_rackdir_open(&d->rackdir, cfg->rack_dir);
	if (ret)
		goto free_sense;
	ret = ws_daemon_commit(d, &first, err, sizeof(err));
	if (ret) {
		ws_err("initialising the control maps: %s", err);
		goto close_rackdir;
	}
	return 0;
close_rackdir:
	ws_rackdir_close(&d->rackdir);
free_sense:
	ws_sense_free(&d->sense);
	return ret;
}

void ws_daemon_free(struct ws_daemon *d)
{
	ws_rackdir_close(&d->rackdir);
	ws_sense_free(&d->sense);
	json_object_put(d->rules);
	json_object_put(d->rack_classes);
	json_object_put(d->saved);
	d->rules = d->rack_classes = d->saved = NULL;
}

/* The lease of the document in force: its end brings the safe cap. */
static void lease_step(struct ws_daemon *d, time_t now)
{
	struct ws_intent next = d->intent;
	char msg[512], err[256];

	if (ws_intent_lease_step(&next, now, ws_boot_now(), msg, sizeof(msg))) {
		if (ws_daemon_commit(d, &next, err, sizeof(err)))
			ws_warn("lease: %s", err);
	} else {
		d->intent.lease_expired = next.lease_expired;	/* said once */
	}
	if (msg[0])
		ws_warn("%s", msg);
}

/* Every second with --metrics-file, on the monotonic clock. */
static void metrics_step(struct ws_daemon *d, time_t now)
{
	struct ws_metrics_in in = { .intent = &d->intent, .obs = &d->obs, .now = now };
	__u64 stats[WS_NR_STATS];
	double mono = ws_mono_now();
	char err[512];

	if (!d->cfg->metrics_file || mono < d->next_metrics)
		return;
	d->next_metrics = mono + 1;
	if (ws_stats_read(d->maps->stats, stats))
		return;
	in.stats = stats;
	if (ws_metrics_write(d->cfg->metrics_file, &in, err, sizeof(err)))
		ws_warn("--metrics-file: %s", err);
}

void ws_daemon_tick(struct ws_daemon *d)
{
	time_t now = time(NULL);

	derive(d, true);
	if (ws_rackdir_due(&d->rackdir) || (d->rack_retry_at && now >= d->rack_retry_at))
		ws_daemon_rack_dir(d, now);
	lease_step(d, now);
	ws_compliance_step(&d->obs.compliance, d->obs.power_watts, d->obs.power_source,
			   d->obs.cap_in_force, now);
	metrics_step(d, now);
}

/* Move @from's members into @to; @from (may be NULL) is put. */
static void merge(struct json_object *to, struct json_object *from)
{
	if (!from)
		return;
	json_object_object_foreach(from, key, val)
		json_object_object_add(to, key, json_object_get(val));
	json_object_put(from);
}

int ws_daemon_handle(void *daemon, const char *msg, size_t len, bool privileged, int fd,
		     char *reply, size_t replylen)
{
	struct json_object *answer, *warnings = json_object_new_array(), *extra = NULL;
	struct ws_daemon *d = daemon;
	struct ws_request req;
	char err[1024] = "";
	int ret, n;

	ret = ws_request_parse(msg, len, privileged, &req, err, sizeof(err));
	if (!ret)
		ret = ws_daemon_apply(d, &req, fd, warnings, &extra, err, sizeof(err));
	if (fd >= 0)
		close(fd);
	answer = json_object_new_object();
	json_object_object_add(answer, "ok", json_object_new_boolean(!ret));
	if (ret) {
		ws_warn("control request refused: %s", err);
		json_object_object_add(answer, "error", json_object_new_string(err));
	} else {
		merge(answer, ws_daemon_state(d));
		merge(answer, extra);
	}
	if (json_object_array_length(warnings))
		json_object_object_add(answer, "warnings", warnings);
	else
		json_object_put(warnings);
	n = snprintf(reply, replylen, "%s", json_object_to_json_string_ext(answer,
		     JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(answer);
	return n < (int)replylen ? n : -ENOSPC;
}
