/* SPDX-License-Identifier: GPL-2.0 */
/*
 * state.h - the operator's intent as a JSON object, for the state file
 * that lets it survive a restart of the loader (docs/reliability.md, "What
 * survives what").  Only what someone asked for is kept: the policy, the
 * cap and its origin, the rack document in force and its lease, the batch
 * duty cycle.  What `run`'s command line configures (the default duty
 * cycle, --safe-cap-watts) is not: it comes from the command line again.
 */
#ifndef __WS_STATE_H
#define __WS_STATE_H

#include <stddef.h>

#include "core/policy.h"

struct json_object;

#define WS_STATE_VERSION	1

/* @in as a new JSON object (to put); NULL when out of memory. */
struct json_object *ws_intent_to_json(const struct ws_intent *in);

/*
 * Read an intent written by ws_intent_to_json() into *in, over the
 * command-line fields *in already holds.  Every value is checked as a
 * request's would be; on error *in is unchanged and err says which member.
 */
int ws_intent_from_json(struct json_object *o, struct ws_intent *in, char *err, size_t errlen);

/* A grant as JSON (to put), and back: 0, or -EINVAL with err set. */
struct json_object *ws_grant_to_json(const struct ws_rack_grant *g);
int ws_grant_from_json(struct json_object *o, struct ws_rack_grant *g, char *err, size_t errlen);

#endif /* __WS_STATE_H */
