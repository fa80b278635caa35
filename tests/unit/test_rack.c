// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for user/rack.c: the share rule against hand-computed tables,
 * time parsing, cgroup classification, and the parser against the corpus in
 * tests/unit/rack-corpus (valid/ must load; each invalid/X.json must fail
 * with exactly the message in invalid/X.err).
 *
 * Needs WS_SRC, the source tree root, to find the corpus.
 */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>

#include "core/rack.h"
#include "tap.h"
#include "lib/names.h"
#include "lib/pci.h"
#include "lib/util.h"

/* The corpus documents' leases all cover this instant. */
#define CORPUS_NOW	"2025-06-01T12:00:00Z"
#define EPS		1e-6

struct spec {
	double weight, min, max;
};

/* A document built in memory: the share rule needs no JSON. */
static void make_doc(struct rack_doc *doc, double cap, const struct spec *s, size_t n)
{
	size_t i;

	memset(doc, 0, sizeof(*doc));
	doc->version = RACK_SCHEMA_VERSION;
	doc->cap_watts = cap;
	doc->hosts = calloc(n, sizeof(*doc->hosts));
	doc->nr_hosts = n;
	for (i = 0; i < n; i++) {
		snprintf(doc->hosts[i].id, sizeof(doc->hosts[i].id), "h%zu", i);
		doc->hosts[i].weight = s[i].weight;
		doc->hosts[i].min_watts = s[i].min;
		doc->hosts[i].max_watts = s[i].max;
	}
}

/* Shares for (cap, specs) equal want[] to EPS; prints the difference if not. */
static void check_shares(const char *name, double cap, const struct spec *s,
			 const double *want, size_t n)
{
	double got[16];
	char err[RACK_ERR_MAX] = "";
	struct rack_doc doc;
	bool same = true;
	size_t i;
	int ret;

	make_doc(&doc, cap, s, n);
	ret = rack_share(&doc, got, err, sizeof(err));
	for (i = 0; !ret && i < n; i++)
		same &= fabs(got[i] - want[i]) < EPS;
	if (!tap_ok(!ret && same, name)) {
		printf("#   ret %d %s\n", ret, err);
		for (i = 0; !ret && i < n; i++)
			printf("#   host %zu: got %.9f want %.9f\n", i, got[i], want[i]);
	}
	rack_doc_free(&doc);
}

static void test_share_tables(void)
{
	/* 4 equal hosts, nobody at a bound: (1000 - 400) / 4 = 150 each on top of 100. */
	static const struct spec equal[] = {
		{ 1, 100, 400 }, { 1, 100, 400 }, { 1, 100, 400 }, { 1, 100, 400 },
	};
	static const double equal_want[] = { 250, 250, 250, 250 };
	/* 6:3:1 of 1000 with no minimum. */
	static const struct spec skewed[] = { { 6, 0, 1000 }, { 3, 0, 1000 }, { 1, 0, 1000 } };
	static const double skewed_want[] = { 600, 300, 100 };
	/* Minimums take 400 of 500; the other 100 splits 1:1:2 on top. */
	static const struct spec mins[] = { { 1, 200, 900 }, { 1, 100, 900 }, { 2, 100, 900 } };
	static const double mins_want[] = { 225, 125, 150 };
	/* Cap equal to the minimums: nothing to split. */
	static const double mins_only_want[] = { 200, 100, 100 };
	/*
	 * docs/fleet.md's worked example (configs/rack-example.json):
	 * 2000 - 950 = 1050 over weight 5 is 210/unit; node-03 would reach
	 * 460 > 450, so it is held at 450 and 850 is split over weight 4:
	 * 212.5/unit.
	 */
	static const struct spec maxes[] = {
		{ 2, 250, 700 }, { 1, 250, 600 }, { 1, 250, 450 }, { 1, 200, 500 },
	};
	static const double maxes_want[] = { 675, 462.5, 450, 412.5 };
	/*
	 * A cascade: at 110/unit only h0 passes its max; once it is held at
	 * 100, the level is 115 and h1 passes 112; then h2 gets 118.
	 */
	static const struct spec cascade[] = { { 1, 0, 100 }, { 1, 0, 112 }, { 1, 0, 1000 } };
	static const double cascade_want[] = { 100, 112, 118 };
	/* Cap above the sum of maxima: everyone at max, 300 W left over. */
	static const struct spec roomy[] = { { 1, 100, 300 }, { 5, 100, 400 } };
	static const double roomy_want[] = { 300, 400 };
	/* A host pinned by min == max takes no part in the split. */
	static const struct spec pinned[] = { { 9, 300, 300 }, { 1, 0, 1000 }, { 1, 0, 1000 } };
	static const double pinned_want[] = { 300, 350, 350 };

	check_shares("share: equal weights", 1000, equal, equal_want, 4);
	check_shares("share: skewed weights 6:3:1", 1000, skewed, skewed_want, 3);
	check_shares("share: minimums first, rest by weight", 500, mins, mins_want, 3);
	check_shares("share: cap equal to sum of minimums", 400, mins, mins_only_want, 3);
	check_shares("share: a maximum binds, rest re-filled (docs example)", 2000, maxes,
		     maxes_want, 4);
	check_shares("share: maxima bind in successive passes", 330, cascade, cascade_want, 3);
	check_shares("share: cap above sum of maxima gives every host its max", 1000, roomy,
		     roomy_want, 2);
	check_shares("share: min == max host is pinned", 1000, pinned, pinned_want, 3);
}

static void test_share_errors(void)
{
	static const struct spec s[] = { { 1, 200, 400 }, { 1, 400, 500 } };
	char err[RACK_ERR_MAX] = "";
	struct rack_doc doc;
	double got[2] = { -1, -1 };

	make_doc(&doc, 599.5, s, 2);
	tap_is_int(rack_share(&doc, got, err, sizeof(err)), -ERANGE,
		   "share: cap below sum of minimums is an error");
	tap_is_str(err, "cap_watts: 599.5 W is below the sum of the hosts' min_watts (600 W)",
		   "share: the error says by how much");
	tap_is_int(rack_safe_share(&doc, got, err, sizeof(err)), -ENOENT,
		   "safe share: -ENOENT without safe_cap_watts");
	doc.safe_cap_watts = 650;
	tap_is_int(rack_safe_share(&doc, got, err, sizeof(err)), 0, "safe share: computed");
	tap_ok(fabs(got[0] - 225) < EPS && fabs(got[1] - 425) < EPS,
	       "safe share: same rule at safe_cap_watts");
	rack_doc_free(&doc);
}

/* The rule must not care where a host sits in the list, beyond its own row. */
static void test_share_order(void)
{
	static const struct spec fwd[] = { { 3, 50, 120 }, { 1, 10, 900 }, { 2, 0, 90 }, { 1, 70, 70 } };
	struct spec rev[4];
	double a[4], b[4];
	char err[RACK_ERR_MAX];
	struct rack_doc da, db;
	bool same = true;
	int i;

	for (i = 0; i < 4; i++)
		rev[i] = fwd[3 - i];
	make_doc(&da, 500, fwd, 4);
	make_doc(&db, 500, rev, 4);
	same = !rack_share(&da, a, err, sizeof(err)) && !rack_share(&db, b, err, sizeof(err));
	for (i = 0; same && i < 4; i++)
		same = fabs(a[i] - b[3 - i]) < EPS;
	tap_ok(same, "share: reversing the host list reverses the shares, nothing else");
	rack_doc_free(&da);
	rack_doc_free(&db);
}

/*
 * Random documents (fixed seed): shares stay in [min, max], add up to
 * min(cap, sum of max), and hosts below their max all sit at the same water
 * level (share - min) / weight, at or under which every host at its max sits.
 */
static void test_share_properties(void)
{
	unsigned long long seed = 0x9e3779b97f4a7c15ULL;
	char err[RACK_ERR_MAX];
	struct spec s[16];
	double sh[16];
	int round, bad = 0;

#define RND() (seed = seed * 6364136223846793005ULL + 1442695040888963407ULL, \
	       (double)(seed >> 11) / (double)(1ULL << 53))
	for (round = 0; round < 2000 && !bad; round++) {
		double sum_min = 0, sum_max = 0, sum = 0, cap, level = -1;
		struct rack_doc doc;
		int n = 1 + (int)(RND() * 16), i;

		if (n > 16)
			n = 16;
		for (i = 0; i < n; i++) {
			s[i].weight = 0.1 + RND() * 10;
			s[i].min = RND() < 0.2 ? 0 : RND() * 300;
			s[i].max = s[i].min + (RND() < 0.1 ? 0 : RND() * 500);
			sum_min += s[i].min;
			sum_max += s[i].max;
		}
		cap = sum_min + RND() * (sum_max - sum_min) * 1.2;
		make_doc(&doc, cap, s, n);
		if (rack_share(&doc, sh, err, sizeof(err))) {
			printf("# round %d: %s\n", round, err);
			bad = 1;
		}
		for (i = 0; !bad && i < n; i++) {
			sum += sh[i];
			if (sh[i] < s[i].min - EPS || sh[i] > s[i].max + EPS)
				bad = 2;
			if (sh[i] < s[i].max - EPS) {
				double l = (sh[i] - s[i].min) / s[i].weight;

				if (level >= 0 && fabs(l - level) > 1e-6 * (1 + level))
					bad = 3;
				level = l;
			}
		}
		for (i = 0; !bad && level >= 0 && i < n; i++)
			if (sh[i] >= s[i].max - EPS && s[i].max > s[i].min &&
			    (sh[i] - s[i].min) / s[i].weight > level * (1 + 1e-9) + 1e-9)
				bad = 4;
		if (!bad && fabs(sum - fmin(cap, sum_max)) > 1e-6 * (1 + cap))
			bad = 5;
		if (bad)
			printf("# round %d (n=%d, cap %.6f): property %d broken\n", round, n, cap, bad);
		rack_doc_free(&doc);
	}
#undef RND
	tap_ok(!bad, "share: 2000 random racks keep bounds, sum and one water level");
}

static void test_time(void)
{
	time_t t = 0;
	char buf[32];

	tap_is_int(rack_parse_time("2025-06-01T12:00:00Z", &t), 0, "time: UTC parses");
	tap_is_int(t, 1748779200, "time: UTC value");
	tap_is_int(rack_parse_time("2025-06-01T14:00:00.75+02:00", &t), 0, "time: offset parses");
	tap_is_int(t, 1748779200, "time: offset applied, fraction dropped");
	tap_is_int(rack_parse_time("2024-02-29T00:00:00Z", &t), 0, "time: leap day");
	tap_is_int(rack_parse_time("2025-02-29T00:00:00Z", &t), -EINVAL, "time: no Feb 29 in 2025");
	tap_is_int(rack_parse_time("2025-06-01 12:00:00Z", &t), -EINVAL, "time: space separator refused");
	tap_is_int(rack_parse_time("2025-06-01T12:00:00Zjunk", &t), -EINVAL, "time: junk after zone");
	tap_is_int(rack_parse_time("2025-06-01T12:00:00", &t), -EINVAL, "time: missing zone refused");
	rack_format_time(1748779200, buf, sizeof(buf));
	tap_is_str(buf, "2025-06-01T12:00:00Z", "time: formats back");
}

static void test_validate_time(void)
{
	struct rack_doc doc = { .issued_at = 1000, .expires_at = 2000 };
	char err[RACK_ERR_MAX];

	tap_is_int(rack_validate_time(&doc, 1500, err, sizeof(err)), 0, "lease: valid inside");
	tap_is_int(rack_validate_time(&doc, 2000, err, sizeof(err)), -ETIME,
		   "lease: void at expires_at");
	tap_is_int(rack_validate_time(&doc, 1000 - RACK_CLOCK_SKEW_SEC, err, sizeof(err)), 0,
		   "lease: small clock skew tolerated");
	tap_is_int(rack_validate_time(&doc, 999 - RACK_CLOCK_SKEW_SEC, err, sizeof(err)), -EAGAIN,
		   "lease: beyond the skew it is not valid yet");
}

static const char classify_doc[] =
	"{\"version\":1,\"rack\":\"r\",\"cap_watts\":100,"
	"\"lease\":{\"issued_at\":\"2025-06-01T00:00:00Z\",\"lease_seconds\":60},"
	"\"hosts\":[{\"id\":\"a\",\"min_watts\":0,\"max_watts\":100,\"classes\":{"
	"\"batch\":{\"cgroups\":[\"/batch.slice\"],\"max_duty_pct\":40},"
	"\"normal\":{\"cgroups\":[\"/batch.slice/urgent\"]},"
	"\"latency-critical\":{\"cgroups\":[\"/web\"]}}}]}";

static void test_classify(void)
{
	char err[RACK_ERR_MAX] = "";
	const struct rack_host *h;
	struct rack_doc doc;
	int ret;

	ret = rack_parse(classify_doc, strlen(classify_doc), &doc, err, sizeof(err));
	if (!tap_ok(!ret, "classify: document parses"))
		printf("#   %s\n", err);
	h = ret ? NULL : rack_find_host(&doc, "a");
	tap_ok(h && rack_find_host(&doc, "b") == NULL, "find_host: finds a, not b");
	if (!h) {
		tap_skip("classify: duty, default policy and weight", "no host");
		tap_skip("classify: longest whole-component prefix wins", "no host");
		tap_skip("doc_free: leaves the document empty", "no host");
		return;
	}
	tap_ok(h->classes[WS_CLASS_BATCH].max_duty_pct == 40 &&
	       h->classes[WS_CLASS_NORMAL].max_duty_pct == 0 && h->policy == WS_POLICY_BALANCED &&
	       h->weight == 1.0, "classify: duty, default policy and weight");
	tap_ok(rack_host_classify(h, "/batch.slice") == WS_CLASS_BATCH &&
	       rack_host_classify(h, "/batch.slice/job-1.scope") == WS_CLASS_BATCH &&
	       rack_host_classify(h, "/batch.slice/urgent/x") == WS_CLASS_NORMAL &&
	       rack_host_classify(h, "/batch.slicer") == WS_CLASS_NORMAL &&
	       rack_host_classify(h, "/web/frontend") == WS_CLASS_LATENCY &&
	       rack_host_classify(h, "/") == WS_CLASS_NORMAL,
	       "classify: longest whole-component prefix wins");
	rack_doc_free(&doc);
	tap_ok(doc.hosts == NULL && doc.nr_hosts == 0, "doc_free: leaves the document empty");
}

/* Inputs that exist only in memory: length handling and limits. */
static void test_parse_edges(void)
{
	char err[RACK_ERR_MAX] = "";
	struct rack_doc doc;
	size_t big = RACK_DOC_MAX_BYTES + 1;
	char *buf;

	/* Not NUL-terminated: only len bytes may be read. */
	tap_is_int(rack_parse("{\"version\":1}XXXX", 13, &doc, err, sizeof(err)), -EINVAL,
		   "parse: honours len");
	tap_is_str(err, "rack: required field missing", "parse: sees only len bytes");

	buf = malloc(big);
	memset(buf, ' ', big);
	tap_is_int(rack_parse(buf, big, &doc, err, sizeof(err)), -E2BIG, "parse: size limit");
	free(buf);

	/* A short error buffer truncates, never overflows. */
	err[5] = 'Z';
	rack_parse("[]", 2, &doc, err, 5);
	tap_ok(err[4] == '\0' && err[5] == 'Z', "parse: error buffer bound respected");
}

/* Read a small file whole; NULL if it cannot. */
static char *slurp(const char *path)
{
	char *buf = malloc(RACK_ERR_MAX * 2);
	int n;

	if (!buf)
		return NULL;
	n = ws_read_file(path, buf, RACK_ERR_MAX * 2);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return buf;
}

static int is_json(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 5 && !strcmp(d->d_name + n - 5, ".json");
}

static void test_corpus_file(const char *dir, const char *name, bool valid, time_t now)
{
	char path[4096], errpath[4096], err[RACK_ERR_MAX] = "", title[512];
	struct rack_plan plan;
	char *want;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ret = rack_load_file(path, NULL, now, &plan, err, sizeof(err));
	if (valid) {
		snprintf(title, sizeof(title), "corpus: valid/%s loads", name);
		if (!tap_ok(!ret, title))
			printf("#   %s\n", err);
		if (!ret)
			rack_plan_free(&plan);
		return;
	}
	snprintf(title, sizeof(title), "corpus: invalid/%s fails as its .err says", name);
	snprintf(errpath, sizeof(errpath), "%s/%.*s.err", dir, (int)strlen(name) - 5, name);
	want = slurp(errpath);
	if (!ret)
		rack_plan_free(&plan);
	if (!want) {
		tap_ok(0, title);
		printf("#   cannot read %s\n", errpath);
		return;
	}
	if (ret) {
		tap_is_str(err, want, title);
	} else {
		tap_ok(0, title);
		printf("#   it loaded\n");
	}
	free(want);
}

/* The example in configs/ is docs/fleet.md's worked example: keep them in step. */
static void test_example(const char *src, time_t now)
{
	static const double want[] = { 675, 462.5, 450, 412.5 };
	static const double want_safe[] = { 470, 360, 360, 310 };
	char path[4096], err[RACK_ERR_MAX] = "";
	struct rack_plan plan;
	bool same;
	int i;

	snprintf(path, sizeof(path), "%s/configs/rack-example.json", src);
	if (!tap_ok(!rack_load_file(path, "node-03", now, &plan, err, sizeof(err)),
		    "example: configs/rack-example.json loads")) {
		printf("#   %s\n", err);
		tap_skip("example: shares", "did not load");
		return;
	}
	same = plan.self == &plan.doc.hosts[2] && plan.self_idx == 2 && plan.safe_shares &&
	       plan.headroom_watts == 0 && fabs(plan.allocated_watts - 2000) < EPS;
	for (i = 0; same && i < 4; i++)
		same = fabs(plan.shares[i] - want[i]) < EPS &&
		       fabs(plan.safe_shares[i] - want_safe[i]) < EPS;
	tap_ok(same, "example: shares match docs/fleet.md");
	rack_plan_free(&plan);
}

static int scan(const char *src, const char *sub, struct dirent ***list)
{
	char dir[4096];
	int n;

	snprintf(dir, sizeof(dir), "%s/tests/unit/rack-corpus/%s", src, sub);
	n = scandir(dir, list, is_json, alphasort);
	if (n <= 0)
		printf("Bail out! no corpus files in %s\n", dir);
	return n;
}

int main(void)
{
	struct dirent **valid, **invalid;
	const char *src = getenv("WS_SRC");
	char dir[4096];
	int nv, ni, i;
	time_t now;

	if (!src || !*src) {
		printf("Bail out! WS_SRC is not set; set it to the source tree root\n");
		return 1;
	}
	nv = scan(src, "valid", &valid);
	ni = scan(src, "invalid", &invalid);
	if (nv <= 0 || ni <= 0)
		return 1;
	rack_parse_time(CORPUS_NOW, &now);

	tap_plan(8 + 5 + 1 + 1 + 10 + 4 + 5 + 4 + 2 + nv + ni);
	test_share_tables();
	test_share_errors();
	test_share_order();
	test_share_properties();
	test_time();
	test_validate_time();
	test_classify();
	test_parse_edges();
	test_example(src, now);

	snprintf(dir, sizeof(dir), "%s/tests/unit/rack-corpus/valid", src);
	for (i = 0; i < nv; i++) {
		test_corpus_file(dir, valid[i]->d_name, true, now);
		free(valid[i]);
	}
	free(valid);
	snprintf(dir, sizeof(dir), "%s/tests/unit/rack-corpus/invalid", src);
	for (i = 0; i < ni; i++) {
		test_corpus_file(dir, invalid[i]->d_name, false, now);
		free(invalid[i]);
	}
	free(invalid);
	return tap_done();
}
