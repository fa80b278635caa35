// SPDX-License-Identifier: GPL-2.0
/*
 * capstep.c - the driver of `make bench-cap` (scripts/bench-cap-guest): cap
 * steps against the running loader under a CPU-bound load, and the power
 * reading sampled around them, for the step response.
 *
 * It sets the cap to --hi, holds, then sends --steps cap requests
 * alternating --lo and --hi, one every --hold-ms, through the control
 * socket as `wattsched cap` would.  Every --sample-ms it reads /proc/stat
 * and computes the loader's model (--model, the file the loader was given)
 * over the last control period (250 ms) of samples: the reading of the
 * model arm.  With --push-cpu-watts, it is also the host's "true" power
 * meter: every --push-ms it pushes idle + cpu_watts x busy CPUs over that
 * interval (`wattsched power`), a reading that follows the load with a
 * per-CPU cost the model does not know, as a BMC's would.  Every push
 * period it also asks the loader's status for the CPUs that take work.
 *
 * Output (tab-separated, times in seconds since the start, monotonic):
 *	sample	T	BUSY_CPUS	MODEL_W	PUSHED_W|NA	CAP_W
 *	step	K	T_SENT	T_ANSWERED	FROM_W	TO_W
 *	cpus	T	ACTIVE_CPUS	LOADER_POWER_W	PARTIAL	BUSY
 * where PARTIAL is the partial CPU as CPU:LAW_PERMILLE:GIVEN_PERMILLE ("-"
 * for none) and BUSY that CPU's busy share over the last push period.
 * "Settled" and the rest are computed from these by scripts/bench-cap.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/power.h"
#include "daemon/daemon.h"
#include "lib/util.h"
#include "proto/client.h"

#define WINDOW_MS	WS_CONTROL_PERIOD_MS	/* one of the loader's control periods */
#define MAX_HIST	64	/* samples kept for the window */

struct opts {
	unsigned int steps, hold_ms, sample_ms, push_ms, lo, hi;
	double push_idle, push_cpu;	/* the pushed meter; push_cpu 0: no pushes */
	const char *model, *out;
};

struct sampler {
	struct ws_cpu_sample hist[MAX_HIST][WS_MAX_CPUS];
	double t[MAX_HIST];
	unsigned int n, nr_cpus;
	double next_push;	/* when the next push (and status read) is due */
	double pushed_w;	/* the last reading pushed; -1 before the first */
};

static double t0;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9 - t0;
}

static void sleep_until(double t)
{
	struct timespec ts;
	double abs = t + t0;

	ts.tv_sec = (time_t)abs;
	ts.tv_nsec = (long)((abs - ts.tv_sec) * 1e9);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Take a sample; 0, or -errno when /proc/stat could not be read. */
static int sample(struct sampler *s)
{
	unsigned int i = s->n % MAX_HIST;
	int n;

	n = ws_cpu_busy_sample(s->hist[i], WS_MAX_CPUS);
	if (n <= 0)
		return n ? n : -ENOENT;
	s->nr_cpus = n;
	s->t[i] = now_s();
	s->n++;
	return 0;
}

/* Each CPU's busy share over the last @ms of samples into @busy; their sum. */
static double busy_over(const struct sampler *s, unsigned int ms, double *busy)
{
	unsigned int last = (s->n - 1) % MAX_HIST, back = 1, first;
	double sum = 0;
	unsigned int cpu;

	while (back < s->n && back < MAX_HIST - 1 &&
	       s->t[last] - s->t[(s->n - 1 - back) % MAX_HIST] < ms / 1e3)
		back++;
	first = (s->n - 1 - back) % MAX_HIST;
	for (cpu = 0; cpu < s->nr_cpus; cpu++) {
		busy[cpu] = ws_cpu_busy_frac(&s->hist[first][cpu], &s->hist[last][cpu]);
		sum += busy[cpu];
	}
	return sum;
}

static int call(const struct ws_request *req, struct json_object **answer)
{
	struct json_object *a = NULL;
	char err[512];
	int ret;

	ret = ws_call_quiet(req, &a, err, sizeof(err));
	if (ret)
		fprintf(stderr, "capstep: %s: %s\n", ws_op_name(req->op), err);
	if (answer)
		*answer = a;
	else
		json_object_put(a);
	return ret;
}

static int set_cap(unsigned int watts)
{
	struct ws_request req = { .op = WS_OP_CAP, .cap_watts = watts };

	return call(&req, NULL);
}

static int push(double watts)
{
	struct ws_request req = { .op = WS_OP_POWER, .power_watts = watts };

	return call(&req, NULL);
}

/*
 * The loader's CPUs that take work, its power reading and its partial CPU,
 * with that CPU's busy share in @busy, as a cpus line.
 */
static int log_loader(FILE *out, const double *busy, unsigned int nr_cpus)
{
	struct ws_request req = { .op = WS_OP_GET };
	struct json_object *a, *v;
	int ret, pcpu = -1;

	ret = call(&req, &a);
	if (ret)
		return ret;
	if (json_object_object_get_ex(a, "partial_cpu", &v) && v)
		pcpu = json_object_get_int(v);
	fprintf(out, "cpus\t%.3f\t%d\t%.1f\t", now_s(),
		json_object_object_get_ex(a, "active_cpus", &v) ? json_object_get_int(v) : -1,
		ws_answer_num(a, "power_watts"));
	if (pcpu >= 0 && (unsigned int)pcpu < nr_cpus)
		fprintf(out, "%d:%.0f:%.0f\t%.3f\n", pcpu, ws_answer_num(a, "partial_permille"),
			ws_answer_num(a, "partial_given_permille"), busy[pcpu]);
	else
		fprintf(out, "-\tNA\n");
	json_object_put(a);
	return 0;
}

/* Hold the cap @cap until @until, sampling, pushing and logging. */
static int hold(const struct opts *o, const struct ws_power_model *m, struct sampler *s,
		unsigned int cap, double until, FILE *out)
{
	double busy[WS_MAX_CPUS], t, sum, model_w;
	int ret;

	for (t = now_s(); t < until; t = now_s()) {
		ret = sample(s);
		if (ret)
			return ret;
		if (t >= s->next_push) {
			sum = busy_over(s, o->push_ms, busy);
			if (o->push_cpu > 0) {
				s->pushed_w = o->push_idle + o->push_cpu * sum;
				ret = push(s->pushed_w);
				if (ret)
					return ret;
			}
			ret = log_loader(out, busy, s->nr_cpus);
			if (ret)
				return ret;
			s->next_push = t + o->push_ms / 1e3;
		}
		sum = busy_over(s, WINDOW_MS, busy);
		model_w = ws_power_estimate(m, busy, s->nr_cpus, 1024);
		fprintf(out, "sample\t%.3f\t%.3f\t%.2f\t", t, sum, model_w);
		if (s->pushed_w >= 0)
			fprintf(out, "%.2f\t%u\n", s->pushed_w, cap);
		else
			fprintf(out, "NA\t%u\n", cap);
		sleep_until(t + o->sample_ms / 1e3);
	}
	return 0;
}

static int run(const struct opts *o, const struct ws_power_model *m, FILE *out)
{
	static struct sampler s = { .pushed_w = -1 };
	unsigned int k, cap = o->hi, next;
	double sent;
	int ret;

	ret = sample(&s);
	if (!ret)
		ret = set_cap(cap);
	if (!ret)
		ret = hold(o, m, &s, cap, now_s() + o->hold_ms / 1e3, out);
	for (k = 1; !ret && k <= o->steps; k++) {
		next = k % 2 ? o->lo : o->hi;
		sent = now_s();
		ret = set_cap(next);
		if (ret)
			break;
		fprintf(out, "step\t%u\t%.3f\t%.3f\t%u\t%u\n", k, sent, now_s(), cap, next);
		cap = next;
		ret = hold(o, m, &s, cap, sent + o->hold_ms / 1e3, out);
	}
	return ret;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: capstep --lo W --hi W --model FILE [--steps N] [--hold-ms MS]\n"
		"               [--sample-ms MS] [--push-ms MS] [--push-idle-watts W]\n"
		"               [--push-cpu-watts W] OUT.tsv\n"
		"Cap steps between --lo and --hi against the running wattsched loader,\n"
		"with the power reading sampled around them (tests/tools/capstep.c says\n"
		"what it writes).  --steps 20, --hold-ms 5000, --sample-ms 50,\n"
		"--push-ms 250; --push-cpu-watts W pushes idle + W x busy CPUs as a\n"
		"measured reading every --push-ms (default: no pushes, the model arm).\n");
}

/* A whole number in [@min, @max] from @arg for option @name, or exit 2. */
static unsigned int num(const char *name, const char *arg, unsigned int min, unsigned int max)
{
	unsigned long long v;

	if (ws_parse_u64(arg, min, max, &v)) {
		fprintf(stderr, "capstep: --%s: '%s' is not a whole number in %u..%u\n", name,
			arg, min, max);
		exit(2);
	}
	return v;
}

/* A wattage in [0, WS_CAP_MAX_WATTS] from @arg for option @name, or exit 2. */
static double watts(const char *name, const char *arg)
{
	double v;

	if (ws_parse_double(arg, 0, WS_CAP_MAX_WATTS, &v)) {
		fprintf(stderr, "capstep: --%s: '%s' is not a wattage in 0..%u\n", name, arg,
			WS_CAP_MAX_WATTS);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "steps", required_argument, NULL, 's' },
		{ "hold-ms", required_argument, NULL, 'H' },
		{ "sample-ms", required_argument, NULL, 'S' },
		{ "push-ms", required_argument, NULL, 'P' },
		{ "push-idle-watts", required_argument, NULL, 'i' },
		{ "push-cpu-watts", required_argument, NULL, 'c' },
		{ "lo", required_argument, NULL, 'l' },
		{ "hi", required_argument, NULL, 'h' },
		{ "model", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, '?' + 256 },
		{ 0 },
	};
	struct opts o = { .steps = 20, .hold_ms = 5000, .sample_ms = 50, .push_ms = 250 };
	struct ws_power_model m;
	char err[512];
	FILE *out;
	int c, ret;

	while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o.steps = num("steps", optarg, 1, 1000);
			break;
		case 'H':
			o.hold_ms = num("hold-ms", optarg, 500, 600000);
			break;
		case 'S':
			o.sample_ms = num("sample-ms", optarg, 10, 1000);
			break;
		case 'P':
			o.push_ms = num("push-ms", optarg, 50, 10000);
			break;
		case 'i':
			o.push_idle = watts("push-idle-watts", optarg);
			break;
		case 'c':
			o.push_cpu = watts("push-cpu-watts", optarg);
			break;
		case 'l':
			o.lo = num("lo", optarg, WS_CAP_MIN_WATTS, WS_CAP_MAX_WATTS);
			break;
		case 'h':
			o.hi = num("hi", optarg, WS_CAP_MIN_WATTS, WS_CAP_MAX_WATTS);
			break;
		case 'm':
			o.model = optarg;
			break;
		case '?' + 256:
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1 || !o.lo || !o.hi || !o.model) {
		usage(stderr);
		return 2;
	}
	if (o.lo >= o.hi) {
		fprintf(stderr, "capstep: --lo (%u) must be below --hi (%u)\n", o.lo, o.hi);
		return 2;
	}
	if (o.push_ms > o.sample_ms * (MAX_HIST - 2) || WINDOW_MS > o.sample_ms * (MAX_HIST - 2)) {
		fprintf(stderr, "capstep: --push-ms %u or the %u ms window spans more than %u samples of %u ms\n",
			o.push_ms, WINDOW_MS, MAX_HIST - 2, o.sample_ms);
		return 2;
	}
	if (ws_power_model_load(o.model, &m, err, sizeof(err))) {
		fprintf(stderr, "capstep: %s\n", err);
		return 1;
	}
	o.out = argv[optind];
	out = fopen(o.out, "w");
	if (!out) {
		fprintf(stderr, "capstep: %s: %s\n", o.out, strerror(errno));
		return 1;
	}
	setvbuf(out, NULL, _IOLBF, 0);
	t0 = 0;
	t0 = now_s();
	ret = run(&o, &m, out);
	if (fclose(out) && !ret)
		ret = -errno;
	return ret ? 1 : 0;
}
