/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rackdoc.h - rack documents for the fleet tests (tests/unit/test_fleet.c,
 * tests/selftests/fleet.c), issued at a given time.
 *
 * Three hosts: @host with weight 2, min @min, max @max and policy @policy,
 * and h2, h3 with weight 1, min 100, max 1000.  With min 100 and max 1000
 * the share of @host is 100 + 2 * (cap - 300) / 4; @safe (0 = none) splits
 * the same way.
 */
#ifndef __WS_RACKDOC_H
#define __WS_RACKDOC_H

#include <stdio.h>
#include <time.h>

static int __attribute__((unused))
rackdoc_write(const char *path, const char *host, time_t issued, int cap, int safe, long lease,
	      int min, int max, const char *policy)
{
	char at[32], safe_s[48] = "";
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", gmtime(&issued));
	if (safe)
		snprintf(safe_s, sizeof(safe_s), "\"safe_cap_watts\": %d,", safe);
	fprintf(f, "{\"version\": 1, \"rack\": \"vm-rack\", \"cap_watts\": %d, %s\n"
		"\"lease\": {\"issued_at\": \"%s\", \"lease_seconds\": %ld},\n"
		"\"hosts\": [{\"id\": \"%s\", \"weight\": 2, \"min_watts\": %d, \"max_watts\": %d,"
		" \"policy\": \"%s\"},\n"
		"{\"id\": \"h2\", \"min_watts\": 100, \"max_watts\": 1000},\n"
		"{\"id\": \"h3\", \"min_watts\": 100, \"max_watts\": 1000}]}\n",
		cap, safe_s, at, lease, host, min, max, policy);
	return fclose(f);
}

#endif /* __WS_RACKDOC_H */
