/* SPDX-License-Identifier: GPL-2.0 */
/*
 * grant.h - one host's grant from a rack document (docs/fleet.md): its
 * share of the rack cap, its safe share, the document's policy and batch
 * duty cycle for it, and the lease's end.  `rack apply` and `run
 * --rack-dir` both end in one, and the policy module applies it.
 */
#ifndef __WS_GRANT_H
#define __WS_GRANT_H

#include <stddef.h>
#include <time.h>

#include "core/rack.h"

struct ws_rack_grant {
	char rack[RACK_ID_MAX];
	char host[RACK_HOST_ID_MAX];
	double watts;		/* this host's share of cap_watts */
	double safe_watts;	/* its share of safe_cap_watts; 0 = the document has none */
	int policy;		/* enum ws_policy */
	time_t issued;		/* the lease's start */
	time_t expires;		/* the lease's end */
	unsigned int batch_duty_pct; /* classes.batch.max_duty_pct; 0 = the document has none */
	unsigned long long classes_sig;	/* of its class rules: a document changing only them is new */
};

/* This host's grant from a loaded plan (plan->self set).  0 or -errno, err set. */
int ws_rack_grant_from_plan(const struct rack_plan *plan, struct ws_rack_grant *g,
			    char *err, size_t errlen);

/* Is the grant applicable at @now?  0, or -EINVAL/-ETIME/-ERANGE with err set. */
int ws_rack_grant_check(const struct ws_rack_grant *g, time_t now, char *err, size_t errlen);

#endif /* __WS_GRANT_H */
