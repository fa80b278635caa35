// SPDX-License-Identifier: GPL-2.0
/*
 * cmd_telemetry.c - `wattsched telemetry`: read the telemetry module's
 * debugfs files (docs/telemetry.md) and print them as aligned tables or
 * JSON.
 *
 * Each file is a "# wattsched-telemetry NAME vN" line and then records of
 * space-separated key=value fields.  Records are grouped by their first key
 * (a file may hold several kinds, e.g. thermal's zone=, pkg= and cpu=
 * records); each group prints as one table whose columns are the keys in
 * order of first appearance, "-" where a record lacks one.
 */
#include <getopt.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cmd/args.h"
#include "cmd/cmd.h"
#include "lib/util.h"
#include "wattsched_telemetry.h"

#define TM_BUF_SIZE	(4 << 20)
#define TM_MAX_FIELDS	48
#define TM_MAX_GROUPS	16
#define TM_MAX_COLS	64
#define DEBUGFS_MAGIC_NR	0x64626720

static const char *const tm_sections[] = { "pcie", "thermal", "power", "cpus" };
#define TM_NR_SECTIONS	(sizeof(tm_sections) / sizeof(tm_sections[0]))

struct tm_field {
	char *key;
	char *val;
};

struct tm_record {
	struct tm_field f[TM_MAX_FIELDS];
	int n;
};

struct tm_file {
	char *buf;
	struct tm_record *recs;
	int nr;
	int version;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s telemetry [--json] [--dir DIR] [pcie|thermal|power|cpus]...\n\n"
		"Print what the telemetry module (kmod/wattsched_telemetry.ko) reports:\n"
		"PCIe links and AER status, thermal zones and sensors, RAPL energy, and\n"
		"the CPU topology.  With no section named, print all four.\n\n"
		"Options:\n"
		"  --json      print one JSON object: {\"module\", \"format\", SECTION: [records]}\n"
		"  --dir DIR   read DIR instead of %s\n"
		"  -h, --help  this help\n\n"
		"Fields and units: docs/telemetry.md.  Needs root (debugfs).\n"
		"Exit status: 0 success, 1 module not loaded or file unreadable, 2 usage error.\n",
		ws_prog, WS_TELEMETRY_DEFAULT_PATH);
}

/* Explain why DIR/version could not be read. */
static void tm_not_loaded(const char *dir, bool default_dir, int err)
{
	struct statfs sfs;

	if (err == -EACCES || err == -EPERM) {
		ws_err("telemetry: cannot read %s: %s (debugfs needs root)", dir, strerror(-err));
		return;
	}
	if (default_dir && err == -ENOENT &&
	    (statfs("/sys/kernel/debug", &sfs) || sfs.f_type != DEBUGFS_MAGIC_NR)) {
		ws_err("telemetry: debugfs is not mounted at /sys/kernel/debug: "
		       "mount -t debugfs none /sys/kernel/debug");
		return;
	}
	if (err == -ENOENT) {
		if (default_dir)
			ws_err("telemetry module not loaded: modprobe wattsched_telemetry or "
			       "insmod kmod/wattsched_telemetry.ko");
		else
			ws_err("telemetry: %s/version not found: not a telemetry directory", dir);
		return;
	}
	ws_err("telemetry: cannot read %s/version: %s", dir, strerror(-err));
}

/*
 * Read and split DIR/NAME.  Returns 0, or -errno from reading (file not
 * found, ...), or -EBADMSG with a message printed for malformed content.
 */
static int tm_load(const char *dir, const char *name, struct tm_file *tf)
{
	char path[4096], want[64], *line, *save, *tok, *tsave;
	int len, lineno = 1, cap = 64;

	memset(tf, 0, sizeof(*tf));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	tf->buf = malloc(TM_BUF_SIZE);
	tf->recs = malloc(cap * sizeof(*tf->recs));
	WS_BUG_ON(!tf->buf || !tf->recs, "out of memory");
	len = ws_read_file(path, tf->buf, TM_BUF_SIZE);
	if (len < 0)
		return len;
	if (len >= TM_BUF_SIZE - 1) {
		ws_err("telemetry: %s: larger than %d bytes", path, TM_BUF_SIZE - 1);
		return -EBADMSG;
	}

	line = strtok_r(tf->buf, "\n", &save);
	snprintf(want, sizeof(want), "%s %s v", WS_TELEMETRY_MAGIC, name);
	if (!line || strncmp(line, want, strlen(want)) ||
	    sscanf(line + strlen(want), "%d", &tf->version) != 1) {
		ws_err("telemetry: %s: no '%s<N>' header line", path, want);
		return -EBADMSG;
	}
	if (tf->version != WS_TELEMETRY_FORMAT_VERSION) {
		ws_err("telemetry: %s: format v%d, this wattsched reads v%d", path,
		       tf->version, WS_TELEMETRY_FORMAT_VERSION);
		return -EBADMSG;
	}

	while ((line = strtok_r(NULL, "\n", &save))) {
		struct tm_record *r;

		lineno++;
		if (tf->nr == cap) {
			cap *= 2;
			tf->recs = realloc(tf->recs, cap * sizeof(*tf->recs));
			WS_BUG_ON(!tf->recs, "out of memory");
		}
		r = &tf->recs[tf->nr];
		r->n = 0;
		for (tok = strtok_r(line, " ", &tsave); tok; tok = strtok_r(NULL, " ", &tsave)) {
			char *eq = strchr(tok, '=');

			if (!eq || eq == tok || r->n == TM_MAX_FIELDS) {
				ws_err("telemetry: %s:%d: malformed field '%s'", path, lineno, tok);
				return -EBADMSG;
			}
			*eq = '\0';
			r->f[r->n].key = tok;
			r->f[r->n].val = eq + 1;
			r->n++;
		}
		if (r->n)
			tf->nr++;
	}
	return 0;
}

static void tm_free(struct tm_file *tf)
{
	free(tf->buf);
	free(tf->recs);
}

static const char *tm_get(const struct tm_record *r, const char *key)
{
	int i;

	for (i = 0; i < r->n; i++)
		if (!strcmp(r->f[i].key, key))
			return r->f[i].val;
	return NULL;
}

/* ---- JSON -------------------------------------------------------------- */

/*
 * Integers and decimals become JSON numbers; everything else stays a string,
 * as do cpulists ("3" and "0-3" alike), whatever their value looks like.
 */
static struct json_object *tm_json_value(const char *key, const char *v)
{
	const char *p = v + (*v == '-');
	size_t digits = strspn(p, "0123456789");
	double d;
	char *end;

	if (!strcmp(key, "cpus") || !strcmp(key, "smt"))
		return json_object_new_string(v);
	if (digits && !p[digits] && digits < 19)
		return json_object_new_int64(strtoll(v, NULL, 10));
	if (digits && p[digits] == '.' && p[digits + 1] &&
	    strspn(p + digits + 1, "0123456789") == strlen(p + digits + 1)) {
		d = strtod(v, &end);
		if (!*end)
			return json_object_new_double(d);
	}
	return json_object_new_string(v);
}

static struct json_object *tm_json_records(const struct tm_file *tf)
{
	struct json_object *arr = json_object_new_array();
	int i, j;

	for (i = 0; i < tf->nr; i++) {
		struct json_object *o = json_object_new_object();

		for (j = 0; j < tf->recs[i].n; j++)
			json_object_object_add(o, tf->recs[i].f[j].key,
					       tm_json_value(tf->recs[i].f[j].key,
							     tf->recs[i].f[j].val));
		json_object_array_add(arr, o);
	}
	return arr;
}

/* ---- tables ------------------------------------------------------------ */

struct tm_group {
	const char *kind;
	const char *cols[TM_MAX_COLS];
	int width[TM_MAX_COLS];
	int ncols;
};

static void tm_group_add_col(struct tm_group *g, const char *key, const char *val)
{
	int i, vl = strlen(val);

	for (i = 0; i < g->ncols; i++)
		if (!strcmp(g->cols[i], key))
			break;
	if (i == g->ncols) {
		if (g->ncols == TM_MAX_COLS)
			return;
		g->cols[g->ncols] = key;
		g->width[g->ncols] = strlen(key);
		g->ncols++;
	}
	if (vl > g->width[i])
		g->width[i] = vl;
}

static void tm_print_table(const char *name, const struct tm_file *tf)
{
	struct tm_group groups[TM_MAX_GROUPS];
	int ngroups = 0, i, j, k;

	printf("%s:\n", name);
	for (i = 0; i < tf->nr; i++) {
		const struct tm_record *r = &tf->recs[i];

		for (k = 0; k < ngroups; k++)
			if (!strcmp(groups[k].kind, r->f[0].key))
				break;
		if (k == ngroups) {
			if (ngroups == TM_MAX_GROUPS)
				continue;
			memset(&groups[k], 0, sizeof(groups[k]));
			groups[k].kind = r->f[0].key;
			ngroups++;
		}
		for (j = 0; j < r->n; j++)
			tm_group_add_col(&groups[k], r->f[j].key, r->f[j].val);
	}
	if (!tf->nr)
		printf("  (no records)\n");

	for (k = 0; k < ngroups; k++) {
		struct tm_group *g = &groups[k];

		/* "zones=unavailable" and the like: a sentence, not a table */
		if (g->ncols == 1) {
			for (i = 0; i < tf->nr; i++)
				if (!strcmp(tf->recs[i].f[0].key, g->kind))
					printf("  %s: %s\n", g->kind, tf->recs[i].f[0].val);
			continue;
		}
		printf(" ");
		for (j = 0; j < g->ncols; j++)
			printf(" %-*s", j == g->ncols - 1 ? 0 : g->width[j], g->cols[j]);
		printf("\n");
		for (i = 0; i < tf->nr; i++) {
			const struct tm_record *r = &tf->recs[i];

			if (strcmp(r->f[0].key, g->kind))
				continue;
			printf(" ");
			for (j = 0; j < g->ncols; j++) {
				const char *v = tm_get(r, g->cols[j]);

				printf(" %-*s", j == g->ncols - 1 ? 0 : g->width[j], v ? v : "-");
			}
			printf("\n");
		}
	}
}

/* ---- command ----------------------------------------------------------- */

/* The sections named on the command line (all four when none): their count, or -1 after saying why. */
static int want_sections(int argc, char **argv, const char **want)
{
	int i, j, n = 0;

	for (i = optind; i < argc; i++) {
		for (j = 0; j < (int)TM_NR_SECTIONS; j++)
			if (!strcmp(argv[i], tm_sections[j]))
				break;
		if (j == (int)TM_NR_SECTIONS) {
			ws_err("telemetry: unknown section '%s' (pcie, thermal, power, cpus)",
			       argv[i]);
			return -1;
		}
		if (n < (int)TM_NR_SECTIONS)
			want[n++] = tm_sections[j];
	}
	if (!n)
		for (j = 0; j < (int)TM_NR_SECTIONS; j++)
			want[n++] = tm_sections[j];
	return n;
}

/* Each section as a table, or into @root (NULL: tables); 0, or 1 when one could not be read. */
static int print_sections(const char *dir, const char **want, int n, struct json_object *root)
{
	int i, ret, rc = 0;

	for (i = 0; i < n; i++) {
		struct tm_file tf;

		ret = tm_load(dir, want[i], &tf);
		if (ret) {
			if (ret != -EBADMSG)
				ws_err("telemetry: cannot read %s/%s: %s", dir, want[i],
				       strerror(-ret));
			rc = 1;
		} else if (root) {
			json_object_object_add(root, want[i], tm_json_records(&tf));
		} else {
			printf("\n");
			tm_print_table(want[i], &tf);
		}
		tm_free(&tf);
	}
	return rc;
}

int cmd_telemetry(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *dir = WS_TELEMETRY_DEFAULT_PATH, *want[TM_NR_SECTIONS], *module;
	bool json = false, default_dir = true;
	struct json_object *root = NULL;
	struct tm_file ver;
	int c, nwant, ret;

	optind = 0;
	while ((c = getopt_long(argc, argv, "jd:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'd':
			dir = optarg;
			default_dir = false;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	nwant = want_sections(argc, argv, want);
	if (nwant < 0)
		return 2;
	ret = tm_load(dir, "version", &ver);
	if (ret) {
		if (ret != -EBADMSG)
			tm_not_loaded(dir, default_dir, ret);
		tm_free(&ver);
		return 1;
	}
	module = ver.nr ? tm_get(&ver.recs[0], "module") : NULL;
	if (json) {
		root = json_object_new_object();
		json_object_object_add(root, "module", json_object_new_string(module ? module : ""));
		json_object_object_add(root, "format", json_object_new_int(ver.version));
	} else {
		printf("wattsched telemetry module %s, format v%d (%s)\n", module ? module : "?",
		       ver.version, dir);
	}
	ret = print_sections(dir, want, nwant, root);
	if (json) {
		printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							      JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(root);
	}
	tm_free(&ver);
	return ret;
}
