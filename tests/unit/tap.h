/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tap.h - a minimal TAP producer for the host unit tests.
 *
 *	int main(void) {
 *		tap_plan(2);
 *		tap_ok(1 + 1 == 2, "addition");
 *		tap_is_int(f(), 3, "f returns 3");
 *		return tap_done();
 *	}
 *
 * tap_done() returns non-zero when any test failed or the plan was not met.
 */
#ifndef __WS_TAP_H
#define __WS_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_planned, tap_run, tap_failed;

static inline void tap_plan(int n)
{
	tap_planned = n;
	printf("TAP version 13\n1..%d\n", n);
}

static inline int tap_ok_at(int cond, const char *file, int line, const char *name)
{
	tap_run++;
	if (cond) {
		printf("ok %d - %s\n", tap_run, name);
		return 1;
	}
	tap_failed++;
	printf("not ok %d - %s\n#   at %s:%d\n", tap_run, name, file, line);
	return 0;
}

#define tap_ok(cond, name) tap_ok_at(!!(cond), __FILE__, __LINE__, name)

#define tap_is_int(got, want, name)					\
	({								\
		long long __g = (got), __w = (want);			\
		int __r = tap_ok(__g == __w, name);			\
		if (!__r)						\
			printf("#   got %lld, want %lld\n", __g, __w);	\
		__r;							\
	})

#define tap_is_str(got, want, name)					\
	({								\
		const char *__g = (got), *__w = (want);			\
		int __r = tap_ok(__g && __w && !strcmp(__g, __w), name); \
		if (!__r)						\
			printf("#   got '%s', want '%s'\n", __g ? __g : "(null)", \
			       __w ? __w : "(null)");			\
		__r;							\
	})

static inline void tap_skip(const char *name, const char *reason)
{
	tap_run++;
	printf("ok %d - %s # SKIP %s\n", tap_run, name, reason);
}

static inline int tap_done(void)
{
	if (tap_run != tap_planned) {
		printf("# planned %d tests but ran %d\n", tap_planned, tap_run);
		return 1;
	}
	return tap_failed ? 1 : 0;
}

#endif /* __WS_TAP_H */
