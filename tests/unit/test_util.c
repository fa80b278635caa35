// SPDX-License-Identifier: GPL-2.0
/* Unit tests for user/util.c: strict parsing and cpulists. */
#include <stdlib.h>

#include "tap.h"
#include "lib/names.h"
#include "lib/pci.h"
#include "lib/util.h"

int main(void)
{
	unsigned long long v = 7;
	__u64 mask[WS_CPU_WORDS];
	double d;

	tap_plan(16);

	tap_is_int(ws_parse_u64("350", 0, 100000, &v), 0, "u64: plain number");
	tap_is_int(v, 350, "u64: value");
	v = 7;
	tap_is_int(ws_parse_u64("-5", 0, 100000, &v), -EINVAL, "u64: negative refused");
	tap_is_int(ws_parse_u64("12abc", 0, 100000, &v), -EINVAL, "u64: trailing garbage refused");
	tap_is_int(ws_parse_u64("", 0, 100000, &v), -EINVAL, "u64: empty refused");
	tap_is_int(ws_parse_u64("100001", 0, 100000, &v), -ERANGE, "u64: above max refused");
	tap_is_int(ws_parse_u64("99999999999999999999999", 0, ~0ULL, &v), -ERANGE,
		   "u64: overflow refused");
	tap_is_int(v, 7, "u64: output untouched on error");

	tap_is_int(ws_parse_double("2.5", 0, 10, &d), 0, "double: parses");
	tap_is_int(ws_parse_double("nan", 0, 10, &d), -EINVAL, "double: nan refused");

	tap_is_int(ws_parse_cpulist("0-3,8,10-11\n", mask, 64), 0, "cpulist: parses");
	tap_is_int(mask[0], 0xd0fULL, "cpulist: bits");
	tap_is_int(ws_parse_cpulist("3-1", mask, 64), -ERANGE, "cpulist: reversed range refused");
	tap_is_int(ws_parse_cpulist("0,x", mask, 64), -EINVAL, "cpulist: garbage refused");
	tap_is_int(ws_parse_cpulist("64", mask, 64), -ERANGE, "cpulist: cpu beyond max refused");

	tap_is_int(ws_policy_from_name("powersave"), WS_POLICY_POWERSAVE, "policy name lookup");
	return tap_done();
}
