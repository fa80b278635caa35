/* SPDX-License-Identifier: GPL-2.0 */
/*
 * daemon.h - the loader's long-running half: one object that owns the
 * operator's intent, the budget, what the control loop measured, and the
 * maps it writes.  Two entry points drive it: ws_daemon_tick() once per
 * control period, ws_daemon_handle() for each control request.
 *
 *   CLI -> control socket -> ws_daemon_handle() -> policy transition
 *                                                -> maps (ctl, rules)
 *   /proc/stat, telemetry -> ws_daemon_tick()    -> budget -> maps
 *
 * Loading and attaching the BPF scheduler are the loader's (loader.h);
 * the daemon needs only the maps' file descriptors.
 */
#ifndef __WS_DAEMON_H
#define __WS_DAEMON_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "core/observed.h"
#include "core/policy.h"
#include "core/power.h"
#include "core/thermal.h"
#include "core/topology.h"
#include "daemon/maps.h"
#include "daemon/rackdir.h"
#include "daemon/sense.h"
#include "proto/request.h"

#define WS_CONTROL_PERIOD_MS	250

struct json_object;

/* What `run` configured; fixed for the daemon's life. */
struct ws_daemon_cfg {
	struct ws_power_model model;
	struct ws_thermal_cfg thermal;
	double stale_s;			/* a measured power reading counts this long */
	const char *rack_dir;		/* --rack-dir, or NULL */
	const char *metrics_file;	/* --metrics-file, or NULL */
	const char *state_file;		/* the state file, or NULL for none */
	const char *start_options;	/* run's options that make the starting intent */
	char host_id[RACK_HOST_ID_MAX];	/* this host in rack documents */
};

struct ws_daemon {
	const struct ws_daemon_cfg *cfg;
	const struct ws_topology *topo;
	const struct ws_maps *maps;
	struct ws_intent intent;	/* as committed to the ctl map */
	struct ws_budget budget;	/* as committed to the budget map */
	struct ws_observed obs;
	struct ws_sense sense;
	bool sensed;			/* a period has been measured */
	struct ws_compact compact;
	struct ws_cap_law law;
	struct ws_partial_trim trim;	/* the partial CPU's share as given to BPF */
	unsigned int partial_cmd;	/* that share, permille; 0 = none */
	struct ws_pinned pinned;	/* CPUs whose work can run nowhere else */
	cpu_set_t allowed;		/* the loader's own affinity at start (follow_active_cpus()) */
	struct ws_rackdir rackdir;
	time_t rack_retry_at;		/* read the drop directory again then (wall); 0 = no */
	struct ws_rack_grant rack_seen;	/* the drop directory's last document, applied or not */
	bool have_rack_seen;
	double next_metrics;		/* CLOCK_MONOTONIC s */
	/* what survives a restart (persist.c) */
	struct json_object *rules;	/* class and device rules set at runtime, as requests */
	struct json_object *rack_classes; /* the document's class rules: [{cgroup, class}] */
	struct json_object *saved;	/* the last state written */
	bool save_warned;
	char restored_from[256];	/* where the intent came from, "" for the command line */
	time_t restored_at;
};

/*
 * Set up and write the first control block (from @start) and budget.
 * 0, or -errno after printing why.
 */
int ws_daemon_init(struct ws_daemon *d, const struct ws_daemon_cfg *cfg,
		   const struct ws_topology *topo, const struct ws_maps *maps,
		   const struct ws_intent *start);
void ws_daemon_free(struct ws_daemon *d);

/* One control period: measure, follow the drop directory and the lease, derive, report. */
void ws_daemon_tick(struct ws_daemon *d);

/*
 * Carry out @req (with the descriptor @fd it came with, -1 for none; not
 * closed here): all of it, or nothing and -errno with err set.  Warnings
 * (parts of a document this host cannot apply) are appended to @warnings
 * (a json-c array; may be NULL) and logged.  *extra (may be NULL) gets the
 * op's own answer members, to put.
 */
int ws_daemon_apply(struct ws_daemon *d, const struct ws_request *req, int fd,
		    struct json_object *warnings, struct json_object **extra, char *err,
		    size_t errlen);

/* ws_ctl_handler_t for the control socket: parse, apply, answer with the state. */
int ws_daemon_handle(void *daemon, const char *msg, size_t len, bool privileged, int fd,
		     char *reply, size_t replylen);

/* The daemon's state, as `status` shows it and every answer carries it; to put. */
struct json_object *ws_daemon_state(const struct ws_daemon *d);

/* ---- between the daemon's own files (daemon.c, requests.c, report.c) ---- */

/*
 * Make @next the intent: write its control block, then derive the budget
 * from it at once.  On failure nothing changed: -errno with err set.
 */
int ws_daemon_commit(struct ws_daemon *d, struct ws_intent *next, char *err, size_t errlen);
/* Derive the budget again from the last period's measurements (a pushed reading). */
void ws_daemon_rederive(struct ws_daemon *d);
/* Read and apply the drop directory's document; what went wrong is logged. */
void ws_daemon_rack_dir(struct ws_daemon *d, time_t now);
/* Keep @req (a class or device rule, or its removal) in the rules to save. */
void ws_daemon_note_rule(struct ws_daemon *d, const struct ws_request *req);
/* Write the class rules @classes ([{cgroup, class}]) as the document's; logged. */
void ws_daemon_restore_rack_classes(struct ws_daemon *d, struct json_object *classes);

/* ---- the state file (persist.c) ---- */

/* Save the state: in memory for a restart in this process, and to the state file. */
void ws_daemon_save(struct ws_daemon *d);
/* A state file's object (to put); NULL with err set. */
struct json_object *ws_state_load(const char *path, char *err, size_t errlen);
/*
 * Continue from @saved (a state object, read from @from): intent, rules,
 * the document's class rules, a fresh pushed reading.  0, or -errno after
 * saying why the command line stands instead.
 */
int ws_daemon_restore(struct ws_daemon *d, struct json_object *saved, const char *from);

#endif /* __WS_DAEMON_H */
