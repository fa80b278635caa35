/* SPDX-License-Identifier: GPL-2.0 */
/*
 * metrics.h - Prometheus text-format metrics for node_exporter's textfile
 * collector (`wattsched run --metrics-file PATH`, docs/fleet.md).
 */
#ifndef __WS_METRICS_H
#define __WS_METRICS_H

#include <stdio.h>
#include <time.h>

#include "core/observed.h"
#include "core/policy.h"
#include "wattsched.h"

struct ws_metrics_in {
	const struct ws_intent *intent;
	const struct ws_observed *obs;
	const __u64 *stats;		/* WS_NR_STATS counters since attach */
	time_t now;
};

/* Write the metrics as text exposition format 0.0.4 to f; 0 or -EIO. */
int ws_metrics_format(FILE *f, const struct ws_metrics_in *in);
/*
 * Write them to path atomically: a temporary file in path's directory,
 * then rename(2), so a reader sees the old file or the new one, whole.
 * 0, or -errno with err set.
 */
int ws_metrics_write(const char *path, const struct ws_metrics_in *in, char *err,
		     size_t errlen);
/* A label value with \, " and newline escaped, as the format wants. */
void ws_prom_escape(const char *s, char *buf, size_t len);

#endif /* __WS_METRICS_H */
