// SPDX-License-Identifier: GPL-2.0
/*
 * rack.c - parse and validate rack power policy documents, and split a
 * rack's cap among its hosts.  The format and the share rule are described
 * in docs/fleet.md and configs/rack-schema.json; the API in rack.h.
 *
 * Parsing is json-c's (strict mode, UTF-8 validated, nesting limited); this
 * file only walks the resulting tree.  Every error names the JSON path of the
 * offending value so that whoever generated the document can find it.
 */
#include <ctype.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/rack.h"
#include "lib/names.h"
#include "lib/util.h"

/*
 * The deepest valid document is root > hosts > host > classes > class >
 * cgroups: 6 levels.  Anything much deeper is garbage; json-c refuses it
 * before building a tree.
 */
#define RACK_JSON_DEPTH		16
/* JSON paths in messages; longer ones are cut, which only shortens a message. */
#define RACK_PATH_MAX		320

/* Write "<path>: <reason>" into err and return ret. */
static int __attribute__((format(printf, 5, 6)))
fail(char *err, size_t errlen, int ret, const char *path, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!errlen)
		return ret;
	n = snprintf(err, errlen, "%s: ", path[0] ? path : "document");
	if (n < 0 || (size_t)n >= errlen)
		return ret;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - n, fmt, ap);
	va_end(ap);
	return ret;
}

/*
 * Object keys come from the document and may be anything (UTF-8, dots,
 * quotes, 10 KiB long): show plain ones as they are, others quoted with
 * unprintable bytes escaped and the length capped, so a message stays one
 * readable line.
 */
static void show_key(char *buf, size_t len, const char *key)
{
	size_t i, o = 0, klen = strlen(key);
	bool plain = klen > 0 && klen <= 64;

	for (i = 0; plain && i < klen; i++)
		if (!isalnum((unsigned char)key[i]) && key[i] != '_' && key[i] != '-')
			plain = false;
	if (plain) {
		snprintf(buf, len, "%s", key);
		return;
	}
	if (len < 8)
		return;
	buf[o++] = '"';
	for (i = 0; i < klen && o + 8 < len && i < 64; i++) {
		unsigned char c = key[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			buf[o++] = c;
		else
			o += snprintf(buf + o, len - o, "\\x%02x", c);
	}
	if (i < klen)
		o += snprintf(buf + o, len - o, "...");
	snprintf(buf + o, len - o, "\"");
}

/*
 * Paths are cut at RACK_PATH_MAX with a visible "...": a message about a
 * path that long is still precise enough to find the value.
 */
static void mark_cut(char *out, int n)
{
	if (n >= RACK_PATH_MAX)
		strcpy(out + RACK_PATH_MAX - 4, "...");
}

/* path.key, or key at the root. */
static void join_key(char *out, const char *path, const char *key)
{
	char shown[96];

	show_key(shown, sizeof(shown), key);
	mark_cut(out, snprintf(out, RACK_PATH_MAX, "%s%s%s", path, path[0] ? "." : "", shown));
}

static void join_idx(char *out, const char *path, size_t idx)
{
	mark_cut(out, snprintf(out, RACK_PATH_MAX, "%s[%zu]", path, idx));
}

static const char *type_desc(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "a boolean";
	case json_type_double:
	case json_type_int:
		return "a number";
	case json_type_object:
		return "an object";
	case json_type_array:
		return "an array";
	case json_type_string:
		return "a string";
	}
	return "unknown";
}

/*
 * Refuse keys not in known[] (NULL-terminated).  json-c keeps document
 * order, so the first unknown key in the text is the one reported.
 */
static int check_fields(struct json_object *obj, const char *path,
			const char *const *known, const char *known_desc,
			char *err, size_t errlen)
{
	char fpath[RACK_PATH_MAX];

	json_object_object_foreach(obj, key, val) {
		const char *const *k;

		(void)val;
		for (k = known; *k && strcmp(*k, key); k++)
			;
		if (!*k) {
			join_key(fpath, path, key);
			return fail(err, errlen, -EINVAL, fpath,
				    "unknown field (known: %s)", known_desc);
		}
	}
	return 0;
}

static int need_type(struct json_object *v, enum json_type type, const char *want,
		     const char *path, char *err, size_t errlen)
{
	if (json_object_is_type(v, type))
		return 0;
	return fail(err, errlen, -EINVAL, path, "must be %s, not %s", want, type_desc(v));
}

/* Fetch obj[key]; a missing required key is an error, a missing optional one is 1. */
static int get_field(struct json_object *obj, const char *path, const char *key,
		     bool required, struct json_object **v, char *fpath,
		     char *err, size_t errlen)
{
	join_key(fpath, path, key);
	if (json_object_object_get_ex(obj, key, v))
		return 0;
	if (required)
		return fail(err, errlen, -EINVAL, fpath, "required field missing");
	return 1;
}

/*
 * A finite number in [lo, hi], or in (lo, hi] with lo_open.  json-c accepts
 * NaN, Infinity and 1e400 (which becomes inf) even in strict mode, so
 * finiteness is checked here.
 */
static int get_number(struct json_object *obj, const char *path, const char *key,
		      bool required, double lo, bool lo_open, double hi,
		      double *out, char *err, size_t errlen)
{
	char fpath[RACK_PATH_MAX];
	struct json_object *v;
	double d;
	int ret;

	ret = get_field(obj, path, key, required, &v, fpath, err, errlen);
	if (ret)
		return ret;
	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
		return fail(err, errlen, -EINVAL, fpath, "must be a number, not %s", type_desc(v));
	d = json_object_get_double(v);
	if (!isfinite(d))
		return fail(err, errlen, -EINVAL, fpath, "must be a finite number");
	if (lo_open ? d <= lo : d < lo)
		return fail(err, errlen, -ERANGE, fpath, "must be %s %.15g (got %.15g)",
			    lo_open ? ">" : ">=", lo, d);
	if (d > hi)
		return fail(err, errlen, -ERANGE, fpath, "must be <= %.15g (got %.15g)", hi, d);
	*out = d;
	return 0;
}

/* An integer in [lo, hi]; 1.0 is a number but not an integer here. */
static int get_int(struct json_object *obj, const char *path, const char *key,
		   bool required, int64_t lo, int64_t hi, int64_t *out,
		   char *err, size_t errlen)
{
	char fpath[RACK_PATH_MAX];
	struct json_object *v;
	int64_t i;
	int ret;

	ret = get_field(obj, path, key, required, &v, fpath, err, errlen);
	if (ret)
		return ret;
	if (!json_object_is_type(v, json_type_int))
		return fail(err, errlen, -EINVAL, fpath, "must be an integer, not %s",
			    json_object_is_type(v, json_type_double) ?
			    "a fraction or exponent" : type_desc(v));
	/* Saturates at INT64_MAX for larger uint64 values: still out of range. */
	i = json_object_get_int64(v);
	if (i < lo || i > hi)
		return fail(err, errlen, -ERANGE, fpath, "must be %lld..%lld (got %s)",
			    (long long)lo, (long long)hi, json_object_to_json_string(v));
	*out = i;
	return 0;
}

/*
 * A non-empty string shorter than max bytes, without embedded NULs
 * ("\u0000" is valid JSON), copied into out[max] when out is not NULL.
 * *sp points into the json-c tree.
 */
static int get_string(struct json_object *v, const char *fpath, size_t max,
		      const char **sp, char *err, size_t errlen)
{
	const char *s;
	size_t len;
	int ret;

	ret = need_type(v, json_type_string, "a string", fpath, err, errlen);
	if (ret)
		return ret;
	s = json_object_get_string(v);
	len = json_object_get_string_len(v);
	if (!len)
		return fail(err, errlen, -EINVAL, fpath, "must not be empty");
	if (len >= max)
		return fail(err, errlen, -E2BIG, fpath, "longer than %zu bytes (%zu)", max - 1, len);
	if (strlen(s) != len)
		return fail(err, errlen, -EINVAL, fpath, "must not contain NUL characters");
	*sp = s;
	return 0;
}

/*
 * Host and rack ids: what hostnames, Kubernetes node names and inventory
 * names have in common.  Keeps ids safe to print, log and use in file names.
 */
static int check_name(const char *s, const char *fpath, char *err, size_t errlen)
{
	const char *p;

	for (p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
			return fail(err, errlen, -EINVAL, fpath,
				    "may contain only letters, digits, '.', '-' and '_'");
	return 0;
}

bool rack_valid_name(const char *s, size_t max)
{
	size_t len = strnlen(s, max);

	return len && len < max && !check_name(s, "", NULL, 0);
}

/* Leap years and month lengths of the proleptic Gregorian calendar. */
static int days_in_month(int year, int month)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : mdays[month - 1];
}

/* Read exactly n digits; -1 if any is not a digit. */
static int digits(const char **s, int n)
{
	int v = 0;

	while (n--) {
		if (!isdigit((unsigned char)**s))
			return -1;
		v = v * 10 + (*(*s)++ - '0');
	}
	return v;
}

static bool expect(const char **s, const char *set)
{
	if (!**s || !strchr(set, **s))
		return false;
	(*s)++;
	return true;
}

int rack_parse_time(const char *s, time_t *out)
{
	int year, mon, day, hour, min, sec, off = 0;
	struct tm tm = {};
	time_t t;

	year = digits(&s, 4);
	if (year < 1970 || !expect(&s, "-") || (mon = digits(&s, 2)) < 1 || mon > 12 ||
	    !expect(&s, "-") || (day = digits(&s, 2)) < 1 || day > days_in_month(year, mon) ||
	    !expect(&s, "Tt") || (hour = digits(&s, 2)) < 0 || hour > 23 ||
	    !expect(&s, ":") || (min = digits(&s, 2)) < 0 || min > 59 ||
	    !expect(&s, ":") || (sec = digits(&s, 2)) < 0 || sec > 60)
		return -EINVAL;
	/* Fractions are allowed by RFC 3339; leases have 1 s resolution. */
	if (expect(&s, ".")) {
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		while (isdigit((unsigned char)*s))
			s++;
	}
	if (!expect(&s, "Zz")) {
		int sign = *s == '-' ? -1 : 1, oh, om;

		if (!expect(&s, "+-") || (oh = digits(&s, 2)) < 0 || oh > 23 ||
		    !expect(&s, ":") || (om = digits(&s, 2)) < 0 || om > 59)
			return -EINVAL;
		off = sign * (oh * 3600 + om * 60);
	}
	if (*s)
		return -EINVAL;
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;	/* a leap second 60 rolls into the next minute */
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*out = t - off;
	return 0;
}

void rack_format_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "@%lld", (long long)t);
}

static int get_time(struct json_object *obj, const char *path, const char *key,
		    bool required, time_t *out, char *err, size_t errlen)
{
	char fpath[RACK_PATH_MAX];
	struct json_object *v;
	const char *s;
	int ret;

	ret = get_field(obj, path, key, required, &v, fpath, err, errlen);
	if (ret)
		return ret;
	ret = get_string(v, fpath, 64, &s, err, errlen);
	if (ret)
		return ret;
	if (rack_parse_time(s, out))
		return fail(err, errlen, -EINVAL, fpath,
			    "not an RFC 3339 date-time (want e.g. 2025-06-01T12:00:00Z)");
	return 0;
}

static int parse_lease(struct json_object *root, struct rack_doc *doc,
		       char *err, size_t errlen)
{
	static const char *const known[] = { "issued_at", "expires_at", "lease_seconds", NULL };
	char path[RACK_PATH_MAX];
	struct json_object *lease, *v;
	bool has_expires, has_seconds;
	int64_t seconds;
	int ret;

	ret = get_field(root, "", "lease", true, &lease, path, err, errlen);
	if (ret)
		return ret;
	ret = need_type(lease, json_type_object, "an object", path, err, errlen);
	if (!ret)
		ret = check_fields(lease, path, known,
				   "issued_at, expires_at, lease_seconds", err, errlen);
	if (!ret)
		ret = get_time(lease, path, "issued_at", true, &doc->issued_at, err, errlen);
	if (ret)
		return ret;

	/* Exactly one way to say when it ends, so there is nothing to reconcile. */
	has_expires = json_object_object_get_ex(lease, "expires_at", &v);
	has_seconds = json_object_object_get_ex(lease, "lease_seconds", &v);
	if (has_expires == has_seconds)
		return fail(err, errlen, -EINVAL, path, has_expires ?
			    "give expires_at or lease_seconds, not both" :
			    "needs expires_at or lease_seconds");
	if (has_seconds) {
		ret = get_int(lease, path, "lease_seconds", true, 1, RACK_MAX_LEASE_SEC,
			      &seconds, err, errlen);
		if (ret)
			return ret;
		doc->expires_at = doc->issued_at + seconds;
		return 0;
	}
	ret = get_time(lease, path, "expires_at", true, &doc->expires_at, err, errlen);
	if (ret)
		return ret;
	join_key(path, "lease", "expires_at");
	if (doc->expires_at <= doc->issued_at)
		return fail(err, errlen, -EINVAL, path, "must be after issued_at");
	if (doc->expires_at - doc->issued_at > RACK_MAX_LEASE_SEC)
		return fail(err, errlen, -ERANGE, path,
			    "lease longer than %d s (31 days) after issued_at",
			    RACK_MAX_LEASE_SEC);
	return 0;
}

/* A cgroup v2 path prefix: "/" or "/a/b", with no empty, "." or ".." parts. */
static int check_cgroup(const char *s, const char *fpath, char *err, size_t errlen)
{
	const char *p, *part;

	if (s[0] != '/')
		return fail(err, errlen, -EINVAL, fpath,
			    "must be an absolute cgroup path (start with '/')");
	if (!s[1])
		return 0;
	for (part = s + 1;; part = p + 1) {
		size_t n;

		p = strchrnul(part, '/');
		n = p - part;
		if (!n && !*p)
			return fail(err, errlen, -EINVAL, fpath, "must not end with '/'");
		if (!n)
			return fail(err, errlen, -EINVAL, fpath, "empty path component (\"//\")");
		if ((n == 1 && part[0] == '.') || (n == 2 && !strncmp(part, "..", 2)))
			return fail(err, errlen, -EINVAL, fpath,
				    "'.' and '..' path components are not allowed");
		if (!*p)
			break;
	}
	for (p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return fail(err, errlen, -EINVAL, fpath, "control character in path");
	return 0;
}

static int parse_class(struct json_object *cv, const char *cpath, int cls,
		       struct rack_class_rule *rule, char *err, size_t errlen)
{
	static const char *const known[] = { "cgroups", "max_duty_pct", NULL };
	char path[RACK_PATH_MAX], epath[RACK_PATH_MAX];
	struct json_object *arr;
	int64_t duty;
	size_t i, n;
	int ret;

	ret = need_type(cv, json_type_object, "an object", cpath, err, errlen);
	if (!ret)
		ret = check_fields(cv, cpath, known, "cgroups, max_duty_pct", err, errlen);
	if (ret)
		return ret;

	ret = get_int(cv, cpath, "max_duty_pct", false, 1, 100, &duty, err, errlen);
	if (ret < 0)
		return ret;
	if (!ret) {
		/* The scheduler never throttles latency-critical work; refuse the illusion. */
		if (cls == WS_CLASS_LATENCY) {
			join_key(path, cpath, "max_duty_pct");
			return fail(err, errlen, -EINVAL, path,
				    "not allowed for latency-critical (never duty-limited)");
		}
		/* Normal work gives way through the cap's CPU count, not a duty cycle. */
		if (cls == WS_CLASS_NORMAL) {
			join_key(path, cpath, "max_duty_pct");
			return fail(err, errlen, -EINVAL, path,
				    "not allowed for normal (only batch work is duty-limited)");
		}
		rule->max_duty_pct = duty;
	}

	ret = get_field(cv, cpath, "cgroups", false, &arr, path, err, errlen);
	if (ret)
		return ret < 0 ? ret : 0;
	ret = need_type(arr, json_type_array, "an array", path, err, errlen);
	if (ret)
		return ret;
	n = json_object_array_length(arr);
	if (n > RACK_MAX_CGROUPS)
		return fail(err, errlen, -E2BIG, path, "more than %d entries (%zu)",
			    RACK_MAX_CGROUPS, n);
	rule->cgroups = calloc(n ? n : 1, sizeof(*rule->cgroups));
	if (!rule->cgroups)
		return fail(err, errlen, -ENOMEM, path, "out of memory");
	for (i = 0; i < n; i++) {
		const char *s;

		join_idx(epath, path, i);
		ret = get_string(json_object_array_get_idx(arr, i), epath,
				 RACK_CGROUP_MAX, &s, err, errlen);
		if (!ret)
			ret = check_cgroup(s, epath, err, errlen);
		if (ret)
			return ret;
		rule->cgroups[i] = strdup(s);
		if (!rule->cgroups[i])
			return fail(err, errlen, -ENOMEM, epath, "out of memory");
		rule->nr_cgroups++;
	}
	return 0;
}

/*
 * A cgroup prefix may name one class only on a host; otherwise which class
 * wins would depend on the order someone happened to write.
 */
static int check_cgroup_overlap(const struct rack_host *host, const char *hpath,
				char *err, size_t errlen)
{
	char path[RACK_PATH_MAX];
	unsigned int c, d;
	size_t i, j;

	for (c = 0; c < WS_NR_CLASSES; c++) {
		const struct rack_class_rule *r = &host->classes[c];

		for (i = 0; i < r->nr_cgroups; i++) {
			for (d = 0; d <= c; d++) {
				const struct rack_class_rule *q = &host->classes[d];
				size_t end = d == c ? i : q->nr_cgroups;

				for (j = 0; j < end; j++) {
					if (strcmp(r->cgroups[i], q->cgroups[j]))
						continue;
					mark_cut(path, snprintf(path, sizeof(path),
								"%s.classes.%s.cgroups[%zu]",
								hpath, ws_class_name(c), i));
					return fail(err, errlen, -EINVAL, path,
						    "\"%s\" is already listed in %s.classes.%s.cgroups[%zu]",
						    r->cgroups[i], hpath, ws_class_name(d), j);
				}
			}
		}
	}
	return 0;
}

static int parse_classes(struct json_object *host, const char *hpath,
			 struct rack_host *h, char *err, size_t errlen)
{
	char path[RACK_PATH_MAX], cpath[RACK_PATH_MAX];
	struct json_object *classes;
	int ret;

	ret = get_field(host, hpath, "classes", false, &classes, path, err, errlen);
	if (ret)
		return ret < 0 ? ret : 0;
	ret = need_type(classes, json_type_object, "an object", path, err, errlen);
	if (ret)
		return ret;
	json_object_object_foreach(classes, key, cv) {
		int cls = ws_class_from_name(key);

		join_key(cpath, path, key);
		if (cls < 0)
			return fail(err, errlen, -EINVAL, cpath,
				    "unknown class (known: latency-critical, normal, batch)");
		ret = parse_class(cv, cpath, cls, &h->classes[cls], err, errlen);
		if (ret)
			return ret;
	}
	return check_cgroup_overlap(h, hpath, err, errlen);
}

static int parse_host(struct json_object *hv, const char *hpath, struct rack_host *h,
		      char *err, size_t errlen)
{
	static const char *const known[] = {
		"id", "weight", "min_watts", "max_watts", "policy", "classes", NULL
	};
	char path[RACK_PATH_MAX];
	struct json_object *v;
	const char *s;
	int ret, pol;

	ret = need_type(hv, json_type_object, "an object", hpath, err, errlen);
	if (!ret)
		ret = check_fields(hv, hpath, known,
				   "id, weight, min_watts, max_watts, policy, classes",
				   err, errlen);
	if (!ret)
		ret = get_field(hv, hpath, "id", true, &v, path, err, errlen);
	if (!ret)
		ret = get_string(v, path, sizeof(h->id), &s, err, errlen);
	if (!ret)
		ret = check_name(s, path, err, errlen);
	if (ret)
		return ret;
	strcpy(h->id, s);

	h->weight = 1.0;
	ret = get_number(hv, hpath, "weight", false, 0, true, RACK_MAX_WEIGHT,
			 &h->weight, err, errlen);
	if (ret < 0)
		return ret;
	ret = get_number(hv, hpath, "min_watts", true, 0, false, RACK_MAX_WATTS,
			 &h->min_watts, err, errlen);
	if (!ret)
		ret = get_number(hv, hpath, "max_watts", true, 0, true, RACK_MAX_WATTS,
				 &h->max_watts, err, errlen);
	if (ret)
		return ret;
	if (h->min_watts > h->max_watts) {
		join_key(path, hpath, "min_watts");
		return fail(err, errlen, -EINVAL, path, "must be <= max_watts (%.15g > %.15g)",
			    h->min_watts, h->max_watts);
	}

	h->policy = WS_POLICY_BALANCED;
	ret = get_field(hv, hpath, "policy", false, &v, path, err, errlen);
	if (ret < 0)
		return ret;
	if (!ret) {
		ret = get_string(v, path, 32, &s, err, errlen);
		if (ret)
			return ret;
		pol = ws_policy_from_name(s);
		if (pol < 0)
			return fail(err, errlen, -EINVAL, path,
				    "unknown policy \"%s\" (known: balanced, performance, powersave, capped)",
				    s);
		h->policy = pol;
	}
	return parse_classes(hv, hpath, h, err, errlen);
}

static int parse_hosts(struct json_object *root, struct rack_doc *doc,
		       char *err, size_t errlen)
{
	char path[RACK_PATH_MAX], hpath[RACK_PATH_MAX];
	struct json_object *arr;
	size_t i, j, n;
	int ret;

	ret = get_field(root, "", "hosts", true, &arr, path, err, errlen);
	if (!ret)
		ret = need_type(arr, json_type_array, "an array", path, err, errlen);
	if (ret)
		return ret;
	n = json_object_array_length(arr);
	if (!n)
		return fail(err, errlen, -EINVAL, path, "must list at least one host");
	if (n > RACK_MAX_HOSTS)
		return fail(err, errlen, -E2BIG, path, "more than %d hosts (%zu)",
			    RACK_MAX_HOSTS, n);
	doc->hosts = calloc(n, sizeof(*doc->hosts));
	if (!doc->hosts)
		return fail(err, errlen, -ENOMEM, path, "out of memory");
	for (i = 0; i < n; i++) {
		struct rack_host *h = &doc->hosts[i];

		join_idx(hpath, "hosts", i);
		/* Count it first so that rack_doc_free() sees its cgroups. */
		doc->nr_hosts++;
		ret = parse_host(json_object_array_get_idx(arr, i), hpath, h, err, errlen);
		if (ret)
			return ret;
		for (j = 0; j < i; j++) {
			if (strcmp(doc->hosts[j].id, h->id))
				continue;
			join_key(path, hpath, "id");
			return fail(err, errlen, -EINVAL, path,
				    "duplicate host \"%s\" (also hosts[%zu])", h->id, j);
		}
	}
	return 0;
}

static int parse_root(struct json_object *root, struct rack_doc *doc,
		      char *err, size_t errlen)
{
	static const char *const known[] = {
		"version", "rack", "cap_watts", "safe_cap_watts", "lease", "hosts", NULL
	};
	char path[RACK_PATH_MAX];
	struct json_object *v;
	const char *s;
	int64_t version;
	int ret;

	ret = need_type(root, json_type_object, "an object", "", err, errlen);
	if (ret)
		return ret;
	/* The version decides what the other fields mean: check it first. */
	ret = get_int(root, "", "version", true, INT64_MIN, INT64_MAX, &version, err, errlen);
	if (ret)
		return ret;
	if (version != RACK_SCHEMA_VERSION)
		return fail(err, errlen, -EPROTO, "version",
			    "unsupported schema version %lld (this wattsched reads %d)",
			    (long long)version, RACK_SCHEMA_VERSION);
	doc->version = version;

	ret = check_fields(root, "", known,
			   "version, rack, cap_watts, safe_cap_watts, lease, hosts", err, errlen);
	if (!ret)
		ret = get_field(root, "", "rack", true, &v, path, err, errlen);
	if (!ret)
		ret = get_string(v, path, sizeof(doc->rack_id), &s, err, errlen);
	if (!ret)
		ret = check_name(s, path, err, errlen);
	if (ret)
		return ret;
	strcpy(doc->rack_id, s);

	ret = get_number(root, "", "cap_watts", true, 0, true, RACK_MAX_WATTS,
			 &doc->cap_watts, err, errlen);
	if (ret)
		return ret;
	ret = get_number(root, "", "safe_cap_watts", false, 0, true, RACK_MAX_WATTS,
			 &doc->safe_cap_watts, err, errlen);
	if (ret < 0)
		return ret;
	/* A fallback above the live cap would make a lapsed lease a reward. */
	if (!ret && doc->safe_cap_watts > doc->cap_watts)
		return fail(err, errlen, -EINVAL, "safe_cap_watts",
			    "must be <= cap_watts (%.15g > %.15g)", doc->safe_cap_watts, doc->cap_watts);

	ret = parse_lease(root, doc, err, errlen);
	if (ret)
		return ret;
	return parse_hosts(root, doc, err, errlen);
}

/*
 * Duplicate member names.  json-c keeps the last of two members with one
 * name, so a document in which a validating tool saw the first would mean
 * something else here; refuse it, naming the second.  The text has passed
 * json-c's strict parse by now, which keeps this walk simple, but that
 * still takes a member name in single quotes, which is not JSON: refuse
 * it too.  Every step moves on and stops at the end of the text, whatever
 * the text, so that a gap between json-c and this walk cannot hang it.
 */
struct dup_walk {
	const char *s;
	size_t i;
};

static void dup_ws(struct dup_walk *w)
{
	while (w->s[w->i] == ' ' || w->s[w->i] == '\t' || w->s[w->i] == '\n' ||
	       w->s[w->i] == '\r')
		w->i++;
}

/* Skip the string at w->i; return its decoded text (malloc'd), NULL on ENOMEM. */
static char *dup_string(struct dup_walk *w)
{
	size_t start = w->i++;
	struct json_object *o;
	char *raw, *dec = NULL;

	while (w->s[w->i] && w->s[w->i] != '"')
		w->i += w->s[w->i] == '\\' && w->s[w->i + 1] ? 2 : 1;
	if (w->s[w->i])
		w->i++;
	raw = strndup(w->s + start, w->i - start);
	o = raw ? json_tokener_parse(raw) : NULL;
	if (o)
		dec = strdup(json_object_get_string(o));
	json_object_put(o);
	free(raw);
	return dec;
}

static int dup_value(struct dup_walk *w, const char *path, char *err, size_t errlen);

static int dup_object(struct dup_walk *w, const char *path, char *err, size_t errlen)
{
	char **keys = NULL, **more, kpath[RACK_PATH_MAX];
	size_t n = 0, k;
	int ret = 0;

	w->i++;
	for (dup_ws(w); !ret && w->s[w->i] == '"'; dup_ws(w)) {
		more = realloc(keys, (n + 1) * sizeof(*keys));
		if (!more || !(more[n] = dup_string(w))) {
			keys = more ?: keys;
			ret = fail(err, errlen, -ENOMEM, "", "out of memory");
			break;
		}
		keys = more;
		join_key(kpath, path, keys[n]);
		for (k = 0; k < n && strcmp(keys[k], keys[n]); k++)
			;
		n++;
		if (k < n - 1) {
			ret = fail(err, errlen, -EINVAL, kpath,
				   "given twice in one object (the first would be dropped)");
			break;
		}
		dup_ws(w);
		w->i++;		/* ':' */
		dup_ws(w);
		ret = dup_value(w, kpath, err, errlen);
		dup_ws(w);
		if (w->s[w->i] == ',')
			w->i++;
	}
	if (!ret && w->s[w->i] == '\'')
		ret = fail(err, errlen, -EINVAL, path, "a member name in single quotes is not JSON");
	if (w->s[w->i])
		w->i++;		/* '}' */
	while (n)
		free(keys[--n]);
	free(keys);
	return ret;
}

static int dup_array(struct dup_walk *w, const char *path, char *err, size_t errlen)
{
	char ipath[RACK_PATH_MAX];
	size_t idx = 0;
	int ret = 0;

	w->i++;
	for (dup_ws(w); !ret && w->s[w->i] && w->s[w->i] != ']'; dup_ws(w)) {
		size_t at = w->i;

		join_idx(ipath, path, idx++);
		ret = dup_value(w, ipath, err, errlen);
		dup_ws(w);
		if (w->s[w->i] == ',')
			w->i++;
		else if (w->i == at)
			w->i++;		/* not JSON json-c took: move on */
	}
	if (w->s[w->i])
		w->i++;
	return ret;
}

static int dup_value(struct dup_walk *w, const char *path, char *err, size_t errlen)
{
	char *str;

	switch (w->s[w->i]) {
	case '{':
		return dup_object(w, path, err, errlen);
	case '[':
		return dup_array(w, path, err, errlen);
	case '"':
		str = dup_string(w);
		if (!str)
			return fail(err, errlen, -ENOMEM, "", "out of memory");
		free(str);
		return 0;
	default:
		while (w->s[w->i] && !strchr(",]} \t\r\n", w->s[w->i]))
			w->i++;
		return 0;
	}
}

/* Byte offset -> "line L, column C" (1-based) for syntax errors. */
static void where(const char *json, size_t off, char *buf, size_t len)
{
	size_t i, line = 1, col = 1;

	for (i = 0; i < off; i++, col++) {
		if (json[i] == '\n') {
			line++;
			col = 0;
		}
	}
	snprintf(buf, len, "line %zu, column %zu", line, col);
}

int rack_parse(const char *json, size_t len, struct rack_doc *doc,
	       char *err, size_t errlen)
{
	enum json_tokener_error jerr;
	struct json_tokener *tok;
	struct json_object *root;
	const char *nul;
	char *text, at[64];
	size_t end;
	int ret;

	memset(doc, 0, sizeof(*doc));
	if (errlen)
		err[0] = '\0';
	if (len > RACK_DOC_MAX_BYTES)
		return fail(err, errlen, -E2BIG, "", "larger than %d bytes", RACK_DOC_MAX_BYTES);
	/* json-c would stop quietly at a NUL and ignore what follows. */
	nul = memchr(json, '\0', len);
	if (nul) {
		where(json, nul - json, at, sizeof(at));
		return fail(err, errlen, -EINVAL, "", "invalid JSON at %s: NUL byte", at);
	}
	/* With the terminating NUL included, json-c knows the text has ended. */
	text = malloc(len + 1);
	tok = json_tokener_new_ex(RACK_JSON_DEPTH);
	if (!text || !tok) {
		free(text);
		if (tok)
			json_tokener_free(tok);
		return fail(err, errlen, -ENOMEM, "", "out of memory");
	}
	memcpy(text, json, len);
	text[len] = '\0';
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, text, len + 1);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!root || jerr != json_tokener_success) {
		where(text, end, at, sizeof(at));
		ret = fail(err, errlen, -EINVAL, "", "invalid JSON at %s: %s", at,
			   json_tokener_error_desc(jerr));
		json_object_put(root);
		free(text);
		return ret;
	}

	{
		struct dup_walk w = { .s = text };

		dup_ws(&w);
		ret = dup_value(&w, "", err, errlen);
	}
	if (!ret)
		ret = parse_root(root, doc, err, errlen);
	json_object_put(root);
	free(text);
	if (ret)
		rack_doc_free(doc);
	return ret;
}

int rack_validate_time(const struct rack_doc *doc, time_t now, char *err, size_t errlen)
{
	char t[32];

	if (now >= doc->expires_at) {
		rack_format_time(doc->expires_at, t, sizeof(t));
		return fail(err, errlen, -ETIME, "lease", "expired at %s (%lld s ago)",
			    t, (long long)(now - doc->expires_at));
	}
	/* Small clock differences between the fleet tool and this host are normal. */
	if (doc->issued_at > now + RACK_CLOCK_SKEW_SEC) {
		rack_format_time(doc->issued_at, t, sizeof(t));
		return fail(err, errlen, -EAGAIN, "lease",
			    "not valid yet: issued_at %s is %lld s in the future",
			    t, (long long)(doc->issued_at - now));
	}
	return 0;
}

/*
 * Weighted water-filling, see rack_share().  With the water level L in watts
 * per unit of weight, host i gets min(max_i, min_i + weight_i * L), and L is
 * the level at which the shares add up to the cap.  Each pass fills the
 * unfrozen hosts to the level the remaining watts would give them; hosts that
 * reach their max at that level are frozen there.  Freezing hands the others
 * more, so L only rises and a frozen host never thaws; a pass that freezes
 * nobody is final.  At most nr_hosts + 1 passes.  Sums run in document
 * order, so the result is the same on every host.
 */
static int water_fill(const struct rack_doc *doc, double cap, const char *what,
		      double *share, char *err, size_t errlen)
{
	double sum_min = 0, left, wsum, level;
	bool *frozen, froze;
	size_t i, n = doc->nr_hosts;

	if (!n)
		return fail(err, errlen, -EINVAL, "hosts", "must list at least one host");
	for (i = 0; i < n; i++)
		sum_min += doc->hosts[i].min_watts;
	if (cap < sum_min)
		return fail(err, errlen, -ERANGE, what,
			    "%.15g W is below the sum of the hosts' min_watts (%.15g W)", cap, sum_min);
	frozen = calloc(n, sizeof(*frozen));
	if (!frozen)
		return fail(err, errlen, -ENOMEM, what, "out of memory");
	for (i = 0; i < n; i++) {
		share[i] = doc->hosts[i].min_watts;
		frozen[i] = doc->hosts[i].max_watts <= doc->hosts[i].min_watts;
	}
	left = cap - sum_min;
	for (;;) {
		wsum = 0;
		for (i = 0; i < n; i++)
			if (!frozen[i])
				wsum += doc->hosts[i].weight;
		if (wsum <= 0 || left <= 0)
			break;
		level = left / wsum;
		froze = false;
		for (i = 0; i < n; i++) {
			const struct rack_host *h = &doc->hosts[i];

			if (frozen[i] || h->min_watts + h->weight * level < h->max_watts)
				continue;
			left -= h->max_watts - share[i];
			share[i] = h->max_watts;
			frozen[i] = true;
			froze = true;
		}
		if (froze)
			continue;
		for (i = 0; i < n; i++)
			if (!frozen[i])
				share[i] = doc->hosts[i].min_watts + doc->hosts[i].weight * level;
		break;
	}
	free(frozen);
	return 0;
}

int rack_share(const struct rack_doc *doc, double *shares_out, char *err, size_t errlen)
{
	return water_fill(doc, doc->cap_watts, "cap_watts", shares_out, err, errlen);
}

int rack_safe_share(const struct rack_doc *doc, double *shares_out, char *err, size_t errlen)
{
	if (doc->safe_cap_watts <= 0)
		return fail(err, errlen, -ENOENT, "safe_cap_watts", "not given");
	return water_fill(doc, doc->safe_cap_watts, "safe_cap_watts", shares_out, err, errlen);
}

const struct rack_host *rack_find_host(const struct rack_doc *doc, const char *host_id)
{
	size_t i;

	for (i = 0; i < doc->nr_hosts; i++)
		if (!strcmp(doc->hosts[i].id, host_id))
			return &doc->hosts[i];
	return NULL;
}

/* Does prefix cover path, on whole components ("/a" covers "/a/b", not "/ab")? */
static bool cgroup_covers(const char *prefix, const char *path)
{
	size_t n = strlen(prefix);

	if (n == 1)	/* "/" */
		return path[0] == '/';
	return !strncmp(prefix, path, n) && (path[n] == '\0' || path[n] == '/');
}

enum ws_class rack_host_classify(const struct rack_host *host, const char *cgroup)
{
	enum ws_class best = WS_CLASS_NORMAL;
	size_t best_len = 0, i;
	unsigned int c;

	for (c = 0; c < WS_NR_CLASSES; c++) {
		const struct rack_class_rule *r = &host->classes[c];

		for (i = 0; i < r->nr_cgroups; i++) {
			size_t n = strlen(r->cgroups[i]);

			if (n > best_len && cgroup_covers(r->cgroups[i], cgroup)) {
				best = c;
				best_len = n;
			}
		}
	}
	return best;
}

void rack_doc_free(struct rack_doc *doc)
{
	size_t i, j;
	unsigned int c;

	if (!doc)
		return;
	for (i = 0; i < doc->nr_hosts; i++) {
		for (c = 0; c < WS_NR_CLASSES; c++) {
			struct rack_class_rule *r = &doc->hosts[i].classes[c];

			for (j = 0; j < r->nr_cgroups; j++)
				free(r->cgroups[j]);
			free(r->cgroups);
		}
	}
	free(doc->hosts);
	memset(doc, 0, sizeof(*doc));
}

/* The whole file, NUL-terminated, refusing anything over RACK_DOC_MAX_BYTES. */
/*
 * Read the document on @fd (not closed here): a regular file only, so that
 * a FIFO or a device cannot block the reader, and at most
 * RACK_DOC_MAX_BYTES of it.
 */
static int read_doc_fd(int fd, char **out, size_t *outlen, char *err, size_t errlen)
{
	size_t len = 0, cap = 4096;
	char *buf, *nbuf;
	struct stat st;
	ssize_t n;
	int ret = 0;

	if (fstat(fd, &st))
		return ws_fail(err, errlen, -errno, "cannot stat: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return ws_fail(err, errlen, -EINVAL, "not a regular file");
	buf = malloc(cap);
	if (!buf)
		return ws_fail(err, errlen, -ENOMEM, "out of memory");
	for (;;) {
		if (len > RACK_DOC_MAX_BYTES) {
			ret = ws_fail(err, errlen, -E2BIG, "larger than %d bytes",
				   RACK_DOC_MAX_BYTES);
			break;
		}
		if (len == cap - 1) {
			nbuf = realloc(buf, cap * 2);
			if (!nbuf) {
				ret = ws_fail(err, errlen, -ENOMEM, "out of memory");
				break;
			}
			buf = nbuf;
			cap *= 2;
		}
		n = pread(fd, buf + len, cap - 1 - len, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = ws_fail(err, errlen, -errno, "cannot read: %s", strerror(errno));
			break;
		}
		if (!n)
			break;
		len += n;
	}
	if (ret) {
		free(buf);
		return ret;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
}

void rack_plan_free(struct rack_plan *plan)
{
	if (!plan)
		return;
	rack_doc_free(&plan->doc);
	free(plan->shares);
	free(plan->safe_shares);
	memset(plan, 0, sizeof(*plan));
}

int rack_load_fd(int fd, const char *host_id, time_t now, struct rack_plan *plan, char *err,
		 size_t errlen)
{
	struct rack_doc *doc = &plan->doc;
	char *text = NULL;
	size_t len = 0, i;
	int ret;

	memset(plan, 0, sizeof(*plan));
	ret = read_doc_fd(fd, &text, &len, err, errlen);
	if (ret)
		return ret;
	ret = rack_parse(text, len, doc, err, errlen);
	free(text);
	if (ret)
		return ret;
	ret = now ? rack_validate_time(doc, now, err, errlen) : 0;
	if (ret)
		goto out;

	plan->shares = calloc(doc->nr_hosts, sizeof(*plan->shares));
	if (doc->safe_cap_watts > 0)
		plan->safe_shares = calloc(doc->nr_hosts, sizeof(*plan->safe_shares));
	if (!plan->shares || (doc->safe_cap_watts > 0 && !plan->safe_shares)) {
		ret = fail(err, errlen, -ENOMEM, "", "out of memory");
		goto out;
	}
	ret = rack_share(doc, plan->shares, err, errlen);
	if (!ret && plan->safe_shares)
		ret = rack_safe_share(doc, plan->safe_shares, err, errlen);
	if (ret)
		goto out;
	for (i = 0; i < doc->nr_hosts; i++)
		plan->allocated_watts += plan->shares[i];
	plan->headroom_watts = doc->cap_watts - plan->allocated_watts;
	/* Rounding leaves crumbs; only a real surplus is headroom. */
	if (plan->headroom_watts < 1e-6)
		plan->headroom_watts = 0;

	if (host_id) {
		plan->self = rack_find_host(doc, host_id);
		if (!plan->self) {
			ret = fail(err, errlen, -ENOENT, "hosts", "no entry for host \"%s\"", host_id);
			goto out;
		}
		plan->self_idx = plan->self - doc->hosts;
	}
	return 0;
out:
	rack_plan_free(plan);
	return ret;
}

int rack_load_file(const char *path, const char *host_id, time_t now,
		   struct rack_plan *plan, char *err, size_t errlen)
{
	int fd, ret;

	memset(plan, 0, sizeof(*plan));
	/* O_NONBLOCK: opening a FIFO must not wait for a writer */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return ws_fail(err, errlen, -errno, "cannot open: %s", strerror(errno));
	ret = rack_load_fd(fd, host_id, now, plan, err, errlen);
	close(fd);
	return ret;
}
