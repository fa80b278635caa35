// SPDX-License-Identifier: GPL-2.0
/*
 * test_metrics.c - the metrics file (user/core/metrics.c) against the strict
 * text-format checker (promcheck.h), and the checker against inputs it
 * must refuse, so that a pass means something.
 */
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/metrics.h"
#include "promcheck.h"
#include "tap.h"
#include "lib/names.h"
#include "lib/pci.h"
#include "lib/util.h"

static const struct {
	const char *text, *why;
} bad[] = {
	{ "# HELP a_x x\n# TYPE a_x gauge\na_x 1", "no newline at the end" },
	{ "a_x 1\n", "without HELP and TYPE" },
	{ "# TYPE a_x gauge\na_x 1\n", "without HELP and TYPE" },
	{ "# HELP a_x x\n# TYPE a_x gauge\na_x{l=\"v\"} 1\na_x{l=\"v\"} 2\n", "same series twice" },
	{ "# HELP a_x x\n# TYPE a_x gauge\na_x{b=\"1\",a=\"2\"} 1\na_x{a=\"2\",b=\"1\"} 2\n",
	  "same series twice" },
	{ "# HELP a_x x\n# TYPE a_x gauge\na_x{l=\"a\\tb\"} 1\n", "bad escape" },
	{ "# HELP a_x x\n# TYPE a_x gauge\na_x{l=\"v\",} 1\n", "trailing comma" },
	{ "# HELP a_x x\n# TYPE a_x gauge\na_x{l=\"v\",l=\"w\"} 1\n", "repeated" },
	{ "# HELP a_x x\n# TYPE a_x gauge\na_x{__l=\"v\"} 1\n", "reserved" },
	{ "# HELP a_x x\n# TYPE a_x gauge\na_x{1l=\"v\"} 1\n", "bad label name" },
	{ "# HELP a_x x\n# TYPE a_x gauge\na_x 0x10\n", "bad value" },
	{ "# HELP a_x x\n# TYPE a_x gauge\na_x inf\n", "bad value" },
	{ "# HELP a_x x\n# TYPE a_x gauge\na_x  1\n", "bad value" },
	{ "# HELP a_x x\n# TYPE a_x gauge\na_x 1 12.5\n", "bad timestamp" },
	{ "# HELP a x\n# TYPE a counter\na 1\n", "not named *_total" },
	{ "# HELP a_total x\n# TYPE a_total counter\na_total -1\n", "not >= 0" },
	{ "# HELP a_x x\n# TYPE a_x gauge\n# HELP b_x y\n# TYPE b_x gauge\nb_x 1\na_x 1\n",
	  "appears again" },
	{ "# HELP a_x x\n# TYPE a_x gauge\n# TYPE a_x gauge\na_x 1\n", "second TYPE" },
	{ "# HELP a_x x\n# TYPE a_x gauge\na_x 1\n# HELP a_x x\n", "second HELP" },
	{ "# HELP a_x x\n# TYPE a_x gauges\na_x 1\n", "unknown type" },
	{ "# HELP a_x x\\t\n# TYPE a_x gauge\na_x 1\n", "bad escape" },
	{ "# HELP a_x x\n# TYPE a_x gauge\na-x 1\n", "expected one space" },
	{ "# HELP a_x x\n# TYPE a_x gauge\na_x{l=\"v\" 1\n", "expected ',' or '}'" },
};

static char *format(const struct ws_metrics_in *in)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	if (ws_metrics_format(f, in)) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	return buf;
}

/* Entries in @dir, but . and .. */
static int entries(const char *dir)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (; (hay = strstr(hay, needle)); hay++)
		n++;
	return n;
}

int main(void)
{
	char err[256], esc[64], dir[] = "/tmp/ws-metrics-XXXXXX", path[128], tmp[160], victim[160];
	struct ws_observed obs = {};
	__u64 stats[WS_NR_STATS];
	struct ws_intent it;
	struct ws_metrics_in in = { .intent = &it, .obs = &obs, .stats = stats,
				    .now = 1790000000 };
	unsigned int i;
	char *text, *file;
	size_t n;
	int fails;

	tap_plan(18);

	fails = 0;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!prom_check(bad[i].text, err, sizeof(err)) || !strstr(err, bad[i].why)) {
			printf("#   checker accepted or misjudged bad input %u (%s): '%s'\n", i,
			       bad[i].why, err);
			fails++;
		}
	}
	tap_ok(!fails, "the checker refuses each of the bad inputs, for the right reason");
	tap_ok(!prom_check("# HELP a_total x\\\\y\\n\n# TYPE a_total counter\n"
			   "a_total{l=\"q\\\"\\\\\\n\"} 3 1700000000000\n\n# other comment\n"
			   "# HELP b_x y\n# TYPE b_x gauge\nb_x NaN\nb_x{s=\"1\"} -Inf\n"
			   "# HELP s_x y\n# TYPE s_x summary\ns_x_sum 1.5e3\ns_x_count 2\n",
			   err, sizeof(err)), "the checker accepts valid input with every escape");
	if (err[0])
		printf("#   %s\n", err);

	ws_prom_escape("a\\b\"c\nd", esc, sizeof(esc));
	tap_is_str(esc, "a\\\\b\\\"c\\nd", "label values: backslash, quote and newline escaped");

	/* No cap, no document: the quiet state of a fresh loader. */
	for (i = 0; i < WS_NR_STATS; i++)
		stats[i] = i * 1000ULL + 7;
	ws_intent_init(&it, WS_POLICY_BALANCED, 0, WS_BATCH_DUTY_DEFAULT, 0);
	it.gen = 3;
	text = format(&in);
	tap_ok(text && !prom_check(text, err, sizeof(err)), "fresh loader's metrics pass the checker");
	if (err[0])
		printf("#   %s\n", err);
	tap_ok(text && strstr(text, "\nwattsched_cap_watts 0\n") &&
	       strstr(text, "wattsched_cap_info{origin=\"none\",rack=\"\",host=\"\"} 1\n") &&
	       strstr(text, "\nwattsched_in_cap 1\n") &&
	       !strstr(text, "\nwattsched_lease_expiry_seconds "),
	       "no cap: cap 0, origin none, in cap, no lease sample");
	tap_is_int(text ? count(text, "\nwattsched_events_total{event=\"") : -1, WS_NR_STATS,
		   "one events_total sample per WS_STATS entry");
	snprintf(esc, sizeof(esc), "wattsched_events_total{event=\"kick_idle\"} %d\n",
		 WS_STAT_kick_idle * 1000 + 7);
	tap_ok(text && strstr(text, "wattsched_events_total{event=\"enq_local\"} 7\n") &&
	       strstr(text, esc), "counter values are the stats, by name");
	free(text);

	/* A rack document applied, over its cap, with a host id that needs escaping. */
	it.policy = WS_POLICY_PERFORMANCE;
	it.cap_watts = 400;
	it.origin = WS_ORIGIN_RACK;
	it.have_grant = true;
	snprintf(it.grant.rack, sizeof(it.grant.rack), "dc1-row4");
	snprintf(it.grant.host, sizeof(it.grant.host), "we\"ird\\host\n");
	it.grant.expires = 1790003600;
	obs.compliance.state = WS_OVER_CAP;
	obs.compliance.since = 1789999990;
	obs.power_watts = 412.5;
	obs.power_source = WS_POWER_MODEL;
	obs.active_cpus = 3;
	obs.cap_in_force = 250;
	obs.stale.stale = true;
	text = format(&in);
	tap_ok(text && !prom_check(text, err, sizeof(err)),
	       "rack-capped metrics with escaped labels pass the checker");
	if (err[0])
		printf("#   %s\n", err);
	tap_ok(text && strstr(text, "\nwattsched_cap_watts 400\n") &&
	       strstr(text, "{origin=\"rack\",rack=\"dc1-row4\",host=\"we\\\"ird\\\\host\\n\"} 1\n") &&
	       strstr(text, "\nwattsched_power_estimate_watts{source=\"model\"} 412.500\n") &&
	       strstr(text, "\nwattsched_in_cap 0\n") &&
	       strstr(text, "\nwattsched_cap_in_force_watts 250\n") &&
	       strstr(text, "\nwattsched_telemetry_stale 1\n") &&
	       strstr(text, "\nwattsched_compliance_since_seconds 1789999990\n") &&
	       strstr(text, "\nwattsched_active_cpus 3\n") &&
	       strstr(text, "\nwattsched_policy_info{policy=\"performance\"} 1\n") &&
	       strstr(text, "\nwattsched_lease_expiry_seconds 1790003600\n") &&
	       strstr(text, "\nwattsched_lease_expired 0\n") &&
	       strstr(text, "\nwattsched_last_update_seconds 1790000000\n"),
	       "each metric carries the state it reports");
	if (text && !strstr(text, "\nwattsched_cap_watts 400\n"))
		printf("%s", text);

	/* The file: atomic write, nothing left behind, same text. */
	tap_ok(mkdtemp(dir) != NULL, "a scratch directory");
	snprintf(path, sizeof(path), "%s/wattsched.prom", dir);
	snprintf(tmp, sizeof(tmp), "%s/.wattsched.prom.tmp", dir);
	tap_is_int(ws_metrics_write(path, &in, err, sizeof(err)), 0, "metrics file written");
	file = NULL;
	n = 0;
	{
		FILE *f = fopen(path, "r");

		if (f) {
			file = calloc(1, 65536);
			n = file ? fread(file, 1, 65535, f) : 0;
			fclose(f);
		}
	}
	tap_ok(file && n && text && !strcmp(file, text), "the file holds exactly the formatted text");
	tap_ok(entries(dir) == 1, "no temporary file left behind");
	{
		struct stat st;

		tap_ok(!stat(path, &st) && (st.st_mode & 0777) == 0644,
		       "the file is 0644: node_exporter need not be root");
	}
	/* A link planted where a predictable temporary name would be is not written through. */
	snprintf(victim, sizeof(victim), "%s.victim", dir);
	unlink(victim);
	tap_ok(symlink(victim, tmp) == 0 && ws_metrics_write(path, &in, err, sizeof(err)) == 0 &&
	       access(victim, F_OK) != 0, "a planted symlink is not followed");
	unlink(tmp);
	tap_ok(chmod(dir, 0500) == 0 && (geteuid() == 0 ||
	       ws_metrics_write(path, &in, err, sizeof(err)) < 0), "an unwritable directory fails");
	if (geteuid() == 0)
		printf("# (as root the directory's mode does not stop writes; checked by a missing one)\n");
	chmod(dir, 0700);
	snprintf(path, sizeof(path), "%s/missing/wattsched.prom", dir);
	tap_ok(ws_metrics_write(path, &in, err, sizeof(err)) == -ENOENT && strstr(err, "missing"),
	       "a missing directory: -ENOENT and the path in the error");
	snprintf(path, sizeof(path), "%s/wattsched.prom", dir);
	unlink(path);
	tap_ok(rmdir(dir) == 0, "the scratch directory is empty again");
	free(file);
	free(text);
	return tap_done();
}
