/* SPDX-License-Identifier: GPL-2.0 */
/*
 * names.h - how the CLI, rack documents, status and the metrics spell the
 * shared ABI's enums (include/wattsched.h): policies, priority classes,
 * power sources and the statistics counters.  One table each.
 */
#ifndef __WS_NAMES_H
#define __WS_NAMES_H

#include "wattsched.h"

/* Policy names <-> enum ws_policy; -1 when unknown. */
const char *ws_policy_name(unsigned int policy);
int ws_policy_from_name(const char *name);
#define WS_POLICY_NAMES		"balanced, performance, powersave, capped"

/* Class names <-> enum ws_class; -1 when unknown. */
const char *ws_class_name(unsigned int cls);
int ws_class_from_name(const char *name);
#define WS_CLASS_NAMES		"latency-critical, normal, batch"

/* enum ws_power_source: "none", "model", "rapl", "pushed". */
const char *ws_power_source_name(unsigned int src);

/* The statistics counters (WS_STATS): name and one-line description. */
extern const char *const ws_stat_names[WS_NR_STATS];
extern const char *const ws_stat_descs[WS_NR_STATS];

#endif /* __WS_NAMES_H */
