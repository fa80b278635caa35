/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rack.h - rack power policy documents ("fleet feed").
 *
 * Fleet tooling pushes a JSON document that gives a rack a power cap and
 * lists every host in the rack with its weight, bounds and policy.  This
 * module parses and validates such a document, and derives each host's share
 * of the rack cap with one deterministic rule (weighted water-filling, see
 * rack_share() and docs/fleet.md).  It touches neither BPF nor the system:
 * callers decide what to do with a host's share.
 *
 * Typical use (what `wattsched rack plan` does, and what `rack apply` will):
 *
 *	struct rack_plan plan;
 *	char err[RACK_ERR_MAX];
 *
 *	if (rack_load_file(path, hostname, time(NULL), &plan, err, sizeof(err)))
 *		ws_err("%s: %s", path, err);
 *	else
 *		use(plan.self->policy, plan.shares[plan.self_idx]);
 *	rack_plan_free(&plan);
 */
#ifndef __WS_RACK_H
#define __WS_RACK_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "wattsched.h"

#define RACK_SCHEMA_VERSION	1

/* Limits: generous for any real rack, small enough to refuse garbage early. */
#define RACK_DOC_MAX_BYTES	(1 << 20)	/* a document file */
#define RACK_MAX_HOSTS		1024
#define RACK_ID_MAX		64		/* rack id, bytes including NUL */
#define RACK_HOST_ID_MAX	254		/* a DNS name (253) + NUL */
#define RACK_MAX_WATTS		1e6		/* any single watt figure */
#define RACK_MAX_WEIGHT		1e6
#define RACK_MAX_LEASE_SEC	(31 * 24 * 3600)
#define RACK_CLOCK_SKEW_SEC	60		/* issued_at may be this far ahead */
#define RACK_MAX_CGROUPS	64		/* prefixes per class per host */
#define RACK_CGROUP_MAX		4096		/* a cgroup path, bytes incl. NUL */
#define RACK_ERR_MAX		512		/* enough for any error message */

/*
 * One class's rules on one host.  Classes are enum ws_class (wattsched.h),
 * named "latency-critical", "normal" and "batch" in documents.
 */
struct rack_class_rule {
	char **cgroups;		/* cgroup v2 path prefixes, e.g. "/batch.slice" */
	size_t nr_cgroups;
	unsigned int max_duty_pct; /* 1..100: % of each period under a cap; 0 = no limit */
};

struct rack_host {
	char id[RACK_HOST_ID_MAX];	/* the host's name, as gethostname() says */
	double weight;			/* > 0: relative claim on the rack's spare watts */
	double min_watts;		/* always granted */
	double max_watts;		/* never exceeded; >= min_watts */
	int policy;			/* enum ws_policy */
	struct rack_class_rule classes[WS_NR_CLASSES];
};

struct rack_doc {
	int version;			/* RACK_SCHEMA_VERSION */
	char rack_id[RACK_ID_MAX];
	double cap_watts;		/* the rack's budget, > 0 */
	double safe_cap_watts;		/* budget once the lease lapses; 0 = not given */
	time_t issued_at;		/* lease start */
	time_t expires_at;		/* lease end; the document is void from then on */
	struct rack_host *hosts;	/* in document order */
	size_t nr_hosts;
};

/*
 * Parse and validate a document (len bytes, need not be NUL-terminated).
 * Everything that can be checked without a clock or the share rule is checked
 * here: types, ranges, unknown fields, duplicate hosts, overlapping cgroups.
 * Return 0, or a negative errno with err set: -EINVAL malformed or invalid,
 * -ERANGE a value out of range, -E2BIG over a size limit, -EPROTO an
 * unsupported version, -ENOMEM.  err reads "<json path>: <reason>", e.g.
 * "hosts[2].min_watts: must be <= max_watts (300 > 250)".  On error *doc is
 * left empty; on success free it with rack_doc_free().
 */
int rack_parse(const char *json, size_t len, struct rack_doc *doc,
	       char *err, size_t errlen);

/*
 * Is the lease valid at `now`?  0, or -ETIME (expired) / -EAGAIN (issued
 * more than RACK_CLOCK_SKEW_SEC in the future) with err set.
 */
int rack_validate_time(const struct rack_doc *doc, time_t now,
		       char *err, size_t errlen);

/*
 * Each host's share of cap_watts, into shares_out[doc->nr_hosts], in document
 * order.  The rule (weighted water-filling): every host first gets its
 * min_watts; the rest of the cap is split in proportion to weight; a host
 * whose share would pass max_watts is held at max_watts and what it leaves is
 * split again among the others, until nothing is left or every host is at
 * its max.  If the cap exceeds the sum of max_watts every host gets its max
 * and the difference stays unallocated.  A cap below the sum of min_watts is
 * an error (-ERANGE), never a silent clamp.  Result does not depend on
 * anything but the document.
 */
int rack_share(const struct rack_doc *doc, double *shares_out,
	       char *err, size_t errlen);

/* The same rule applied to safe_cap_watts; -ENOENT when there is none. */
int rack_safe_share(const struct rack_doc *doc, double *shares_out,
		    char *err, size_t errlen);

/* The host entry whose id is host_id, or NULL. */
const struct rack_host *rack_find_host(const struct rack_doc *doc,
				       const char *host_id);

/*
 * The class a cgroup (a cgroup v2 path such as "/batch.slice/job-7.scope")
 * belongs to on this host: the class of the longest matching prefix, where a
 * prefix matches whole path components only; WS_CLASS_NORMAL if none does.
 */
enum ws_class rack_host_classify(const struct rack_host *host, const char *cgroup);

/* Free what rack_parse() allocated; leaves *doc empty.  NULL-safe. */
void rack_doc_free(struct rack_doc *doc);

/*
 * Is s a valid rack or host id: 1..max-1 bytes of letters, digits, '.', '-'
 * and '_'?  For ids that come from elsewhere than a document (the control
 * socket).
 */
bool rack_valid_name(const char *s, size_t max);

/*
 * RFC 3339 date-times: "2025-06-01T12:00:00Z", optionally with fractional
 * seconds (ignored) or a numeric offset ("+02:00").  0 or -EINVAL.
 */
int rack_parse_time(const char *s, time_t *out);
/* Format t as "YYYY-MM-DDTHH:MM:SSZ" into buf (at least 21 bytes). */
void rack_format_time(time_t t, char *buf, size_t len);

/* A document with everything a command needs to act on it. */
struct rack_plan {
	struct rack_doc doc;
	double *shares;			/* [doc.nr_hosts], from rack_share() */
	double *safe_shares;		/* [doc.nr_hosts], or NULL without safe_cap_watts */
	double allocated_watts;		/* sum of shares */
	double headroom_watts;		/* cap_watts - allocated_watts, > 0 when cap > sum of max */
	const struct rack_host *self;	/* the host_id entry, or NULL when none was asked for */
	size_t self_idx;		/* its index in doc.hosts and shares */
};

/*
 * Read the document at path (at most RACK_DOC_MAX_BYTES), parse it, check
 * the lease against now, compute the shares (and safe shares), and, if
 * host_id is not NULL, find that host.  0 or a negative errno with err set
 * (err does not repeat the path): -errno from reading, rack_parse()'s
 * errors, -ETIME/-EAGAIN for the lease, -ERANGE for a cap below the sum of
 * min_watts, -ENOENT when host_id is not in the document.  On success free the
 * plan with rack_plan_free(); on error there is nothing to free.
 */
int rack_load_file(const char *path, const char *host_id, time_t now,
		   struct rack_plan *plan, char *err, size_t errlen);
/*
 * The same for a document open on @fd (a regular file; read from offset 0,
 * not closed).  @now 0 leaves the lease unjudged, for a caller that judges
 * it itself (the daemon, through its grant).
 */
int rack_load_fd(int fd, const char *host_id, time_t now, struct rack_plan *plan, char *err,
		 size_t errlen);
void rack_plan_free(struct rack_plan *plan);

#endif /* __WS_RACK_H */
