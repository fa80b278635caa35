/* SPDX-License-Identifier: GPL-2.0 */
/*
 * util.h - the bottom of user/: messages, strict number parsing, small file
 * reads and the clock.  Nothing here knows about the scheduler.
 */
#ifndef __WS_UTIL_H
#define __WS_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wattsched.h"

#define WS_VERSION	"0.2.0"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

extern const char *ws_prog;
extern int ws_verbose;

/* Errors go to stderr as "wattsched: <what>: <why>". */
void ws_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ws_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Format a reason into @err (size @errlen) and return @ret: the shape of
 * every "0, or -errno with err set" function in user/.
 */
int ws_fail(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * WS_BUG_ON(cond, fmt, ...): for conditions that leave no sane way on, print
 * file:line, the message and errno, and exit 1.
 */
#define WS_BUG_ON(cond, fmt, ...)					\
	do {								\
		if (cond) {						\
			int __e = errno;				\
			fprintf(stderr, "wattsched: %s:%d: " fmt " (errno %d: %s)\n", \
				__FILE__, __LINE__, ##__VA_ARGS__, __e, strerror(__e)); \
			exit(1);					\
		}							\
	} while (0)

/*
 * Strict number parsing: the whole string must be a number in [min, max].
 * Return 0, or -EINVAL (not a number) / -ERANGE (out of range).
 */
int ws_parse_u64(const char *s, unsigned long long min, unsigned long long max,
		 unsigned long long *out);
int ws_parse_double(const char *s, double min, double max, double *out);

/*
 * The decimal value of the field "key=" in a telemetry record @line
 * (docs/telemetry.md: space-separated key=value fields); false when the
 * field is absent or not a whole number.
 */
bool ws_kv_field(const char *line, const char *key, long long *out);

/* CLOCK_MONOTONIC in seconds. */
double ws_mono_now(void);
/* CLOCK_BOOTTIME in seconds: like CLOCK_MONOTONIC, but counting suspend. */
double ws_boot_now(void);

/* Read a whole small file (sysfs, debugfs) into buf, NUL-terminated; its length or -errno. */
int ws_read_file(const char *path, char *buf, size_t len);

/* Parse a kernel cpulist ("0-3,8,10-11") into a WS_CPU_WORDS bitmap. */
int ws_parse_cpulist(const char *s, __u64 *mask, unsigned int max_cpus);

#endif /* __WS_UTIL_H */
