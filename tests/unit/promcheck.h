/* SPDX-License-Identifier: GPL-2.0 */
/*
 * promcheck.h - a small, strict checker of the Prometheus text exposition
 * format (0.0.4), for the tests of `wattsched run --metrics-file`.  Header
 * only: the unit tests and the VM runner both include it.
 *
 *	char err[256];
 *	if (prom_check(text, err, sizeof(err)))
 *		printf("# %s\n", err);		// "line 7: ..."
 *
 * Stricter than Prometheus itself, on purpose:
 *  - the text ends with a newline; no trailing comma in label sets;
 *  - metric and label names match [a-zA-Z_:][a-zA-Z0-9_:]* and
 *    [a-zA-Z_][a-zA-Z0-9_]*, label names do not start with "__" and do not
 *    repeat in one sample;
 *  - label values use only the escapes \\ \" \n; HELP text only \\ and \n;
 *  - every sample's family has a HELP and a TYPE line before its first
 *    sample, each once; a family's lines are contiguous (no family comes
 *    back after another began);
 *  - values are Go floats as Prometheus writes them (digits, '.', exponent,
 *    NaN, +Inf, -Inf); a timestamp, if any, is an integer;
 *  - counters are named *_total, and their values are >= 0 and not NaN;
 *  - no two samples are the same series (name and label set).
 */
#ifndef __WS_PROMCHECK_H
#define __WS_PROMCHECK_H

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROM_MAX_FAMILIES	256
#define PROM_MAX_SERIES		4096
#define PROM_NAME_MAX		256
#define PROM_SERIES_MAX		1024

struct prom_family {
	char name[PROM_NAME_MAX];
	char type[16];
	bool help, has_type, samples, closed;
};

struct prom_state {
	struct prom_family fam[PROM_MAX_FAMILIES];
	int nr_fam, cur;		/* cur: the family whose lines we are in, or -1 */
	char (*series)[PROM_SERIES_MAX];
	int nr_series;
	int line;
	char *err;
	size_t errlen;
};

static int __attribute__((format(printf, 2, 3), unused))
prom_fail(struct prom_state *st, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(st->err, st->errlen, "line %d: ", st->line);
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < st->errlen)
		vsnprintf(st->err + n, st->errlen - n, fmt, ap);
	va_end(ap);
	return -1;
}

/* Length of a metric (colons allowed) or label name at s; 0 if none. */
static size_t prom_name_len(const char *s, bool metric)
{
	size_t n = 0;

	if (!(isalpha((unsigned char)s[0]) || s[0] == '_' || (metric && s[0] == ':')))
		return 0;
	while (isalnum((unsigned char)s[n]) || s[n] == '_' || (metric && s[n] == ':'))
		n++;
	return n;
}

/* The family a sample name belongs to: histogram/summary suffixes fold in. */
static int prom_family_of(struct prom_state *st, const char *name)
{
	static const char *const sfx[] = { "_bucket", "_sum", "_count" };
	int i;
	size_t k, ln = strlen(name);

	for (i = 0; i < st->nr_fam; i++)
		if (!strcmp(st->fam[i].name, name))
			return i;
	for (i = 0; i < st->nr_fam; i++) {
		size_t lf = strlen(st->fam[i].name);

		if (strcmp(st->fam[i].type, "histogram") && strcmp(st->fam[i].type, "summary"))
			continue;
		for (k = 0; k < 3; k++)
			if (ln == lf + strlen(sfx[k]) && !strncmp(name, st->fam[i].name, lf) &&
			    !strcmp(name + lf, sfx[k]))
				return i;
	}
	return -1;
}

/* Enter family @name (creating it); refuse a family that comes back. */
static int prom_enter(struct prom_state *st, const char *name, int *idx)
{
	int i = prom_family_of(st, name);

	if (i < 0) {
		if (st->nr_fam == PROM_MAX_FAMILIES)
			return prom_fail(st, "more than %d families", PROM_MAX_FAMILIES);
		i = st->nr_fam++;
		memset(&st->fam[i], 0, sizeof(st->fam[i]));
		snprintf(st->fam[i].name, sizeof(st->fam[i].name), "%s", name);
	}
	if (st->fam[i].closed)
		return prom_fail(st, "family %s appears again after other families began",
				 st->fam[i].name);
	if (st->cur >= 0 && st->cur != i)
		st->fam[st->cur].closed = true;
	st->cur = i;
	*idx = i;
	return 0;
}

static bool prom_float(const char *s, size_t n, double *v)
{
	char buf[64];
	size_t i = 0;
	bool digits = false;

	if (n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (!strcmp(buf, "NaN")) {
		*v = NAN;
		return true;
	}
	if (!strcmp(buf, "+Inf") || !strcmp(buf, "Inf") || !strcmp(buf, "-Inf")) {
		*v = buf[0] == '-' ? -INFINITY : INFINITY;
		return true;
	}
	if (buf[i] == '+' || buf[i] == '-')
		i++;
	while (isdigit((unsigned char)buf[i])) {
		i++;
		digits = true;
	}
	if (buf[i] == '.') {
		i++;
		while (isdigit((unsigned char)buf[i])) {
			i++;
			digits = true;
		}
	}
	if (!digits)
		return false;
	if (buf[i] == 'e' || buf[i] == 'E') {
		i++;
		if (buf[i] == '+' || buf[i] == '-')
			i++;
		if (!isdigit((unsigned char)buf[i]))
			return false;
		while (isdigit((unsigned char)buf[i]))
			i++;
	}
	if (buf[i])
		return false;
	*v = strtod(buf, NULL);
	return true;
}

static int prom_comment(struct prom_state *st, const char *l, size_t len)
{
	bool help = len > 7 && !strncmp(l, "# HELP ", 7);
	bool type = len > 7 && !strncmp(l, "# TYPE ", 7);
	char name[PROM_NAME_MAX];
	const char *p = l + 7, *end = l + len;
	size_t n;
	int i;

	if (!help && !type)
		return 0;	/* any other comment */
	n = prom_name_len(p, true);
	if (!n || n >= sizeof(name))
		return prom_fail(st, "%s without a valid metric name", help ? "HELP" : "TYPE");
	memcpy(name, p, n);
	name[n] = '\0';
	p += n;
	if (type) {
		static const char *const types[] = {
			"counter", "gauge", "histogram", "summary", "untyped", NULL
		};
		const char *const *t;

		if (p >= end || *p != ' ')
			return prom_fail(st, "TYPE %s: no type", name);
		p++;
		for (t = types; *t; t++)
			if ((size_t)(end - p) == strlen(*t) && !strncmp(p, *t, end - p))
				break;
		if (!*t)
			return prom_fail(st, "TYPE %s: unknown type '%.*s'", name, (int)(end - p), p);
		if (prom_enter(st, name, &i))
			return -1;
		if (st->fam[i].has_type)
			return prom_fail(st, "second TYPE line for %s", name);
		if (st->fam[i].samples)
			return prom_fail(st, "TYPE for %s after its samples", name);
		snprintf(st->fam[i].type, sizeof(st->fam[i].type), "%s", *t);
		st->fam[i].has_type = true;
		if (!strcmp(*t, "counter") && (n < 6 || strcmp(name + n - 6, "_total")))
			return prom_fail(st, "counter %s is not named *_total", name);
		return 0;
	}
	if (p < end && *p != ' ')
		return prom_fail(st, "HELP %s: no space after the name", name);
	for (p++; p < end; p++)
		if (*p == '\\' && (p + 1 >= end || (p[1] != '\\' && p[1] != 'n')))
			return prom_fail(st, "HELP %s: bad escape (only \\\\ and \\n)", name);
		else if (*p == '\\')
			p++;
	if (prom_enter(st, name, &i))
		return -1;
	if (st->fam[i].help)
		return prom_fail(st, "second HELP line for %s", name);
	if (st->fam[i].samples)
		return prom_fail(st, "HELP for %s after its samples", name);
	st->fam[i].help = true;
	return 0;
}

/* A sorted "name{a=..,b=..}" key for duplicate-series detection. */
static int prom_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int prom_sample(struct prom_state *st, const char *l, size_t len)
{
	char name[PROM_NAME_MAX], pairs[32][PROM_NAME_MAX * 2], *sorted[32], key[PROM_SERIES_MAX];
	const char *p = l, *end = l + len, *v;
	int nr_pairs = 0, i, j, f;
	double val, ts;
	size_t n;

	n = prom_name_len(p, true);
	if (!n || n >= sizeof(name))
		return prom_fail(st, "not a sample: no metric name");
	memcpy(name, p, n);
	name[n] = '\0';
	p += n;
	if (p < end && *p == '{') {
		p++;
		while (p < end && *p != '}') {
			char *o;

			if (nr_pairs == 32)
				return prom_fail(st, "%s: more than 32 labels", name);
			n = prom_name_len(p, false);
			if (!n || n >= PROM_NAME_MAX)
				return prom_fail(st, "%s: bad label name", name);
			if (p[0] == '_' && p[1] == '_')
				return prom_fail(st, "%s: label name %.*s is reserved", name, (int)n, p);
			o = pairs[nr_pairs];
			memcpy(o, p, n);
			o[n] = '\0';
			for (j = 0; j < nr_pairs; j++)
				if (!strncmp(pairs[j], o, n) && pairs[j][n] == '=')
					return prom_fail(st, "%s: label %s repeated", name, o);
			o += n;
			p += n;
			if (end - p < 2 || p[0] != '=' || p[1] != '"')
				return prom_fail(st, "%s: label without =\"value\"", name);
			*o++ = '=';
			for (p += 2; p < end && *p != '"'; p++) {
				if (o - pairs[nr_pairs] >= PROM_NAME_MAX * 2 - 3)
					return prom_fail(st, "%s: label value too long", name);
				if (*p == '\\') {
					if (p + 1 >= end || (p[1] != '\\' && p[1] != '"' && p[1] != 'n'))
						return prom_fail(st, "%s: bad escape in a label value "
								 "(only \\\\ \\\" \\n)", name);
					*o++ = *p++;
				}
				*o++ = *p;
			}
			if (p >= end)
				return prom_fail(st, "%s: unterminated label value", name);
			*o = '\0';
			p++;
			nr_pairs++;
			if (p < end && *p == ',') {
				p++;
				if (p < end && *p == '}')
					return prom_fail(st, "%s: trailing comma in labels", name);
			} else if (p < end && *p != '}') {
				return prom_fail(st, "%s: expected ',' or '}' after a label", name);
			}
		}
		if (p >= end)
			return prom_fail(st, "%s: unterminated label set", name);
		p++;
	}
	if (p >= end || *p != ' ')
		return prom_fail(st, "%s: expected one space before the value", name);
	v = ++p;
	while (p < end && *p != ' ')
		p++;
	if (!prom_float(v, p - v, &val))
		return prom_fail(st, "%s: bad value '%.*s'", name, (int)(p - v), v);
	if (p < end) {
		const char *t = ++p;

		if (p < end && *p == '-')
			p++;
		while (p < end && isdigit((unsigned char)*p))
			p++;
		if (p == t || p != end || !prom_float(t, p - t, &ts))
			return prom_fail(st, "%s: bad timestamp '%.*s'", name, (int)(end - t), t);
	}

	f = prom_family_of(st, name);
	if (f < 0 || !st->fam[f].help || !st->fam[f].has_type)
		return prom_fail(st, "%s: sample without HELP and TYPE lines before it", name);
	if (prom_enter(st, name, &f))
		return -1;
	st->fam[f].samples = true;
	if (!strcmp(st->fam[f].type, "counter") && !(val >= 0))
		return prom_fail(st, "%s: counter value %.*s is not >= 0", name, (int)(p - v), v);

	for (i = 0; i < nr_pairs; i++)
		sorted[i] = pairs[i];
	qsort(sorted, nr_pairs, sizeof(sorted[0]), prom_cmp_str);
	n = snprintf(key, sizeof(key), "%s{", name);
	for (i = 0; i < nr_pairs && n < sizeof(key); i++)
		n += snprintf(key + n, sizeof(key) - n, "%s\x1f", sorted[i]);
	for (i = 0; i < st->nr_series; i++)
		if (!strcmp(st->series[i], key))
			return prom_fail(st, "%s: the same series twice", name);
	if (st->nr_series == PROM_MAX_SERIES)
		return prom_fail(st, "more than %d series", PROM_MAX_SERIES);
	snprintf(st->series[st->nr_series++], PROM_SERIES_MAX, "%s", key);
	return 0;
}

/* 0 when text is valid; else -1 with err = "line N: reason". */
static int __attribute__((unused)) prom_check(const char *text, char *err, size_t errlen)
{
	struct prom_state *st = calloc(1, sizeof(*st));
	const char *l = text, *nl;
	int ret = 0;

	if (!st)
		return -1;
	st->series = calloc(PROM_MAX_SERIES, sizeof(*st->series));
	st->err = err;
	st->errlen = errlen;
	st->cur = -1;
	if (!st->series) {
		free(st);
		return -1;
	}
	err[0] = '\0';
	while (*l && !ret) {
		st->line++;
		nl = strchr(l, '\n');
		if (!nl) {
			ret = prom_fail(st, "no newline at the end of the text");
			break;
		}
		if (memchr(l, '\0', nl - l) || memchr(l, '\r', nl - l))
			ret = prom_fail(st, "carriage return in a line");
		else if (nl == l)
			ret = 0;	/* empty lines are ignored */
		else if (*l == '#')
			ret = prom_comment(st, l, nl - l);
		else
			ret = prom_sample(st, l, nl - l);
		l = nl + 1;
	}
	free(st->series);
	free(st);
	return ret;
}

#endif /* __WS_PROMCHECK_H */
