/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fleet.h - the loader's side of the fleet feed (docs/fleet.md): applying a
 * host's share of a rack document as the cap, the lease and its fail-safe,
 * the drop directory (`run --rack-dir`), compliance, and what `status` and
 * the metrics file report about them.
 *
 * All of this state lives in the loader, never in the BPF maps: the maps
 * carry the resulting cap and policy (struct ws_ctl) and nothing else.
 */
#ifndef __WS_FLEET_H
#define __WS_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "psource.h"
#include "rack.h"
#include "wattsched.h"

struct json_object;

/* Where the cap in force came from. */
enum ws_cap_origin {
	WS_ORIGIN_NONE = 0,	/* no cap, or the one given to `run --cap-watts` */
	WS_ORIGIN_CLI,		/* `wattsched cap` */
	WS_ORIGIN_RACK,		/* a rack document: `rack apply` or --rack-dir */
	WS_ORIGIN_SAFE,		/* the fail-safe after that document's lease lapsed */
};

enum ws_compliance {
	WS_COMPLIANCE_UNKNOWN = 0,	/* no power reading yet */
	WS_IN_CAP,			/* the reading is at or under the cap, or no cap */
	WS_OVER_CAP,			/* the reading is over the cap */
};

/*
 * One host's share of one document: what `rack apply` sends in the "rack"
 * request and what --rack-dir derives, checked by ws_rack_grant_check() in
 * both places.
 */
struct ws_rack_grant {
	char rack[RACK_ID_MAX];
	char host[RACK_HOST_ID_MAX];
	double watts;		/* this host's share of cap_watts */
	double safe_watts;	/* its share of safe_cap_watts; 0 = the document has none */
	int policy;		/* enum ws_policy */
	time_t expires;		/* the lease's end */
	unsigned int batch_duty_pct; /* classes.batch.max_duty_pct; 0 = the document has none */
	unsigned long long classes_sig;	/* of its class rules (drop directory only) */
};

/* The loader's fleet state.  Plain data: copied, changed, committed. */
struct ws_fleet_state {
	enum ws_cap_origin origin;
	struct ws_rack_grant grant;	/* the last document applied (origin rack or safe) */
	bool have_grant;
	bool lease_expired;
	unsigned int safe_cap_watts;	/* `run --safe-cap-watts`; 0 = none */
	unsigned int batch_duty_pct;	/* `run --batch-duty-pct`, for documents without one */
	enum ws_compliance compliance;
	time_t compliance_since;
	double power_watts;		/* the last reading, as compliance saw it */
	unsigned int power_source;	/* enum ws_power_source */
	unsigned int active_cpus;
	/* power telemetry and its fail-safe (ws_fleet_power_step) */
	struct ws_pushed pushed;	/* the last reading fleet tooling pushed */
	double pushed_age;		/* status only: its age in s when asked */
	bool measured_seen;		/* a measured source (RAPL, pushed) was in use */
	bool telemetry_stale;		/* ...and none is fresh now: the model is */
	time_t stale_since;
	unsigned int cap_in_force;	/* the cap the budget holds to; 0 = none */
};

const char *ws_cap_origin_name(enum ws_cap_origin o);
const char *ws_compliance_name(enum ws_compliance c);

/* This host's grant from a loaded plan (plan->self set).  0 or -errno, err set. */
int ws_rack_grant_from_plan(const struct rack_plan *plan, struct ws_rack_grant *g,
			    char *err, size_t errlen);
/* Is the grant applicable at now?  0, or -EINVAL/-ETIME/-ERANGE with err set. */
int ws_rack_grant_check(const struct ws_rack_grant *g, time_t now, char *err, size_t errlen);
/* The "rack" control request for g, as JSON text; its length or -ENOSPC. */
int ws_rack_grant_request(const struct ws_rack_grant *g, char *buf, size_t len);

/*
 * The control socket's "rack" op: parse and check the request at now, then
 * apply it to *ctl and *fs.  On error neither is touched and err says why.
 */
int ws_fleet_rack_op(struct json_object *req, time_t now, struct ws_ctl *ctl,
		     struct ws_fleet_state *fs, char *err, size_t errlen);
/*
 * Apply a checked grant: cap = floor(watts), the document's policy and
 * batch duty cycle (else fs->batch_duty_pct), origin rack.
 */
void ws_fleet_apply_grant(const struct ws_rack_grant *g, struct ws_ctl *ctl,
			  struct ws_fleet_state *fs);
/* After a `cap` request changed ctl: origin cli, or none when cleared. */
void ws_fleet_note_cap(const struct ws_ctl *ctl, struct ws_fleet_state *fs);

/*
 * The lease: once now reaches the applied document's end, switch the cap to
 * the host's safe share (or --safe-cap-watts), origin safe.  Returns true
 * when *ctl changed; msg (may be empty) says what happened, for the log.
 */
bool ws_fleet_lease_step(struct ws_fleet_state *fs, struct ws_ctl *ctl, time_t now,
			 char *msg, size_t msglen);

/* The safe cap: the document's share, else --safe-cap-watts; 0 = none. */
unsigned int ws_fleet_safe_watts(const struct ws_fleet_state *fs);

/*
 * Telemetry staleness, from this period's power @source: once a measured
 * source has been in use, the model being the source means it went stale.
 * While stale, the cap in force is the safe cap when that is lower than
 * ctl's.  Returns the cap in force (0 = none); msg (may be empty) says
 * what changed, for the log.
 */
unsigned int ws_fleet_power_step(struct ws_fleet_state *fs, const struct ws_ctl *ctl,
				 unsigned int source, time_t now, char *msg, size_t msglen);

/*
 * The control socket's "power" op at @mono (CLOCK_MONOTONIC s): a reading
 * {"watts":W} pushed by fleet tooling, or {"clear":true} to forget every
 * measured source, which ends a stale state.  On error *fs is untouched.
 */
int ws_fleet_power_op(struct json_object *req, double mono, struct ws_fleet_state *fs,
		      char *err, size_t errlen);

/* Compliance from the budget's power reading against the cap in force. */
void ws_fleet_observe(struct ws_fleet_state *fs, const struct ws_ctl *ctl,
		      const struct ws_budget *b, unsigned int nr_online, time_t now);

/* Add the fleet state to a control answer (the "get" op and the others). */
void ws_fleet_to_json(const struct ws_fleet_state *fs, struct json_object *o);

/* ---- the loader -------------------------------------------------------- */

struct ws_fleet_opts {
	const char *rack_dir;		/* --rack-dir */
	const char *host_id;		/* --host-id; default the hostname */
	const char *metrics_file;	/* --metrics-file */
	unsigned long long safe_cap_watts; /* --safe-cap-watts */
};

/* `run` options handled here: the getopt long options and their values. */
enum {
	WS_FLEET_OPT_RACK_DIR = 0x1000,
	WS_FLEET_OPT_HOST_ID,
	WS_FLEET_OPT_METRICS_FILE,
	WS_FLEET_OPT_SAFE_CAP,
};
#define WS_FLEET_LONG_OPTS						\
	{ "rack-dir", required_argument, NULL, WS_FLEET_OPT_RACK_DIR },	\
	{ "host-id", required_argument, NULL, WS_FLEET_OPT_HOST_ID },	\
	{ "metrics-file", required_argument, NULL, WS_FLEET_OPT_METRICS_FILE }, \
	{ "safe-cap-watts", required_argument, NULL, WS_FLEET_OPT_SAFE_CAP }
#define WS_FLEET_USAGE							\
	"  --rack-dir DIR  apply this host's share of DIR/rack.json, and again\n" \
	"                  whenever it changes (ConfigMap or rename; docs/fleet.md)\n" \
	"  --host-id ID    this host's id in rack documents (default: the hostname)\n" \
	"  --safe-cap-watts W  the cap once a document's lease lapses, when the\n" \
	"                  document has no safe_cap_watts (10..100000)\n"	\
	"  --metrics-file PATH  write Prometheus metrics to PATH every second\n" \
	"                  (for node_exporter's textfile collector)\n"
/* Parse one of them: 0, or 2 (usage error) after printing why. */
int ws_fleet_parse_opt(int opt, const char *arg, struct ws_fleet_opts *o);

struct ws_fleet {
	const struct ws_fleet_opts *opts;
	struct ws_fleet_state st;
	char host_id[RACK_HOST_ID_MAX];
	int watch_fd;			/* inotify on opts->rack_dir, or -1 */
	bool reread;			/* read the drop directory at the next poll */
	unsigned int nr_online;
	time_t next_metrics;
	int class_fd;			/* ws_cgrp_class, for a document's classes; -1 none */
};

/* 0, or -errno after printing why (a --rack-dir that cannot be watched). */
int ws_fleet_open(struct ws_fleet *f, const struct ws_fleet_opts *o, unsigned int nr_online,
		  unsigned int batch_duty_pct);
void ws_fleet_close(struct ws_fleet *f);
/* The drop directory and the lease; true when *ctl changed. */
bool ws_fleet_poll(struct ws_fleet *f, struct ws_ctl *ctl, time_t now);
/* Is a metrics file due at now?  (Every second, when --metrics-file was given.) */
bool ws_fleet_metrics_due(struct ws_fleet *f, time_t now);

/* ---- status ------------------------------------------------------------ */

/*
 * Ask the loader for its fleet state ("get"), and the control block's
 * generation it goes with.  0, or -errno with note set to why it could not
 * be asked (no socket: the loader is gone or predates it).
 */
int ws_fleet_status_fetch(struct ws_fleet_state *fs, unsigned int *gen, char *note,
			  size_t notelen);
/* Print it for status: JSON members (",\"cap_origin\":...") or lines. */
void ws_fleet_status_print(const struct ws_fleet_state *fs, const char *note, bool json,
			   time_t now);

#endif /* __WS_FLEET_H */
