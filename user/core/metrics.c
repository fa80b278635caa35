// SPDX-License-Identifier: GPL-2.0
/*
 * metrics.c - the metrics file: the loader's cap, its origin and lease,
 * the power reading, compliance, the active CPUs, the policy and the
 * scheduler's counters, in Prometheus text format.  Every family has HELP
 * and TYPE lines and its samples together; tests/unit/promcheck.h is the
 * strict checker the tests hold this output to.
 */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/metrics.h"
#include "lib/names.h"
#include "lib/util.h"

void ws_prom_escape(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	for (; *s && o + 3 < len; s++) {
		if (*s == '\\' || *s == '"') {
			buf[o++] = '\\';
			buf[o++] = *s;
		} else if (*s == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else {
			buf[o++] = *s;
		}
	}
	buf[o] = '\0';
}

static unsigned int mask_count(const __u64 *m)
{
	unsigned int i, n = 0;

	for (i = 0; i < WS_CPU_WORDS; i++)
		n += __builtin_popcountll(m[i]);
	return n;
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int ws_metrics_format(FILE *f, const struct ws_metrics_in *in)
{
	const struct ws_intent *it = in->intent;
	const struct ws_observed *obs = in->obs;
	char a[2 * RACK_ID_MAX], b[2 * RACK_HOST_ID_MAX];
	unsigned int i;

	family(f, "wattsched_cap_watts", "gauge", "Host power cap in force, in watts; 0 means none.");
	fprintf(f, "wattsched_cap_watts %u\n", it->cap_watts);

	family(f, "wattsched_cap_info", "gauge",
	       "Where the cap in force came from: origin none, cli, rack or safe; "
	       "rack and host from the rack document.");
	ws_prom_escape(it->have_grant ? it->grant.rack : "", a, sizeof(a));
	ws_prom_escape(it->have_grant ? it->grant.host : "", b, sizeof(b));
	fprintf(f, "wattsched_cap_info{origin=\"%s\",rack=\"%s\",host=\"%s\"} 1\n",
		ws_cap_origin_name(it->origin), a, b);

	family(f, "wattsched_power_estimate_watts", "gauge",
	       "The loader's last power reading, in watts, by source.");
	fprintf(f, "wattsched_power_estimate_watts{source=\"%s\"} %.3f\n",
		ws_power_source_name(obs->power_source), obs->power_watts);

	family(f, "wattsched_cap_in_force_watts", "gauge",
	       "The cap the CPU budget holds to: the cap, or the safe cap while telemetry is stale.");
	fprintf(f, "wattsched_cap_in_force_watts %u\n", obs->cap_in_force);

	family(f, "wattsched_telemetry_stale", "gauge",
	       "1 when a measured power source was in use and none is fresh, else 0.");
	fprintf(f, "wattsched_telemetry_stale %d\n", obs->stale.stale);

	family(f, "wattsched_in_cap", "gauge",
	       "1 when the power reading is at or under the cap (or there is no cap), 0 when over it.");
	fprintf(f, "wattsched_in_cap %d\n", obs->compliance.state != WS_OVER_CAP);

	family(f, "wattsched_compliance_since_seconds", "gauge",
	       "Unix time since which wattsched_in_cap has had its value.");
	fprintf(f, "wattsched_compliance_since_seconds %lld\n", (long long)obs->compliance.since);

	family(f, "wattsched_active_cpus", "gauge", "CPUs that may take new work.");
	fprintf(f, "wattsched_active_cpus %u\n", obs->active_cpus);

	family(f, "wattsched_pinned_cpus", "gauge",
	       "CPUs busy with work that can run nowhere else, counted inside the cap.");
	fprintf(f, "wattsched_pinned_cpus %u\n", mask_count(obs->pinned));

	family(f, "wattsched_cap_unmet_pinned", "gauge",
	       "1 while pinned work needs more CPUs than the cap allows, so the cap is not met.");
	fprintf(f, "wattsched_cap_unmet_pinned %d\n", obs->cap_unmet_pinned);

	family(f, "wattsched_policy_info", "gauge", "The scheduler policy in force.");
	fprintf(f, "wattsched_policy_info{policy=\"%s\"} 1\n", ws_policy_name(it->policy));

	family(f, "wattsched_control_generation", "gauge",
	       "Writes of the control block since the loader started.");
	fprintf(f, "wattsched_control_generation %u\n", it->gen);

	family(f, "wattsched_lease_expiry_seconds", "gauge",
	       "Unix time at which the applied rack document's lease ends; absent without one.");
	if (it->have_grant)
		fprintf(f, "wattsched_lease_expiry_seconds %lld\n", (long long)it->grant.expires);

	family(f, "wattsched_lease_expired", "gauge",
	       "1 once the applied rack document's lease has ended.");
	fprintf(f, "wattsched_lease_expired %d\n", it->have_grant && it->lease_expired);

	family(f, "wattsched_events_total", "counter",
	       "Scheduler events since attach, by event (wattsched status describes each).");
	for (i = 0; i < WS_NR_STATS; i++)
		fprintf(f, "wattsched_events_total{event=\"%s\"} %llu\n", ws_stat_names[i],
			(unsigned long long)in->stats[i]);

	family(f, "wattsched_last_update_seconds", "gauge",
	       "Unix time of this file; a stale value means the loader is gone.");
	fprintf(f, "wattsched_last_update_seconds %lld\n", (long long)in->now);
	return ferror(f) ? -EIO : 0;
}

int ws_metrics_write(const char *path, const struct ws_metrics_in *in, char *err,
		     size_t errlen)
{
	char tmp[PATH_MAX], dir[PATH_MAX], base[PATH_MAX];
	FILE *f;
	int fd, ret;

	snprintf(dir, sizeof(dir), "%s", path);
	snprintf(base, sizeof(base), "%s", path);
	/*
	 * node_exporter reads only *.prom: a dot-name without it is never read
	 * half-written.  mkstemp() makes it with O_EXCL, so no file or link an
	 * attacker put in the directory is written through.
	 */
	if (snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dirname(dir), basename(base)) >=
	    (int)sizeof(tmp))
		return ws_fail(err, errlen, -ENAMETOOLONG, "%s: name too long", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return ws_fail(err, errlen, -errno, "%s: %s", tmp, strerror(errno));
	/* readable by the collector, which seldom runs as root */
	if (fchmod(fd, 0644)) {
		ret = ws_fail(err, errlen, -errno, "%s: %s", tmp, strerror(errno));
		close(fd);
		goto unlink_tmp;
	}
	f = fdopen(fd, "w");
	if (!f) {
		ret = ws_fail(err, errlen, -errno, "%s: %s", tmp, strerror(errno));
		close(fd);
		goto unlink_tmp;
	}
	ret = ws_metrics_format(f, in);
	if (fclose(f) && !ret)
		ret = -errno;
	if (ret) {
		ws_fail(err, errlen, ret, "writing %s: %s", tmp, strerror(-ret));
		goto unlink_tmp;
	}
	if (rename(tmp, path)) {
		ret = ws_fail(err, errlen, -errno, "renaming %s to %s: %s", tmp, path,
			      strerror(errno));
		goto unlink_tmp;
	}
	return 0;
unlink_tmp:
	unlink(tmp);
	return ret;
}
