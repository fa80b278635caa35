// SPDX-License-Identifier: GPL-2.0
/*
 * test_psource.c - the power sources (user/psource.c): the module's power
 * file, RAPL readings and their staleness, and the choice of source.
 */
#include <stdlib.h>

#include "core/psource.h"
#include "tap.h"
#include "wattsched.h"
#include "lib/names.h"
#include "lib/pci.h"
#include "lib/util.h"

#define HDR "# wattsched-telemetry power v1\n"

/* The telemetry-stale fail-safe: the cap in force once measured readings stop. */
static void test_stale(void)
{
	struct ws_stale st = {};
	time_t now = 1790000000;
	char msg[256];

	tap_is_int(ws_stale_step(&st, WS_POWER_MODEL, 100, 60, now, msg, sizeof(msg)), 100,
		   "stale: the model from the start is not stale");
	tap_ok(!st.stale && !msg[0], "stale: nothing said");
	tap_is_int(ws_stale_step(&st, WS_POWER_RAPL, 100, 60, now, msg, sizeof(msg)), 100,
		   "stale: RAPL in use, the cap in force is the cap");
	tap_is_int(ws_stale_step(&st, WS_POWER_MODEL, 100, 60, now + 1, msg, sizeof(msg)), 60,
		   "stale: measured then model: the safe cap (60 W) is in force");
	tap_ok(st.stale && st.since == now + 1 && strstr(msg, "safe cap 60 W"),
	       "stale: flagged, since then, said");
	tap_ok(ws_stale_step(&st, WS_POWER_MODEL, 100, 60, now + 2, msg, sizeof(msg)) == 60 &&
	       !msg[0] && st.since == now + 1, "stale: said once, since unchanged");
	tap_ok(ws_stale_step(&st, WS_POWER_PUSHED, 100, 60, now + 3, msg, sizeof(msg)) == 100 &&
	       !st.stale && strstr(msg, "fresh again"), "stale: a fresh reading restores the cap");
	tap_ok(ws_stale_step(&st, WS_POWER_MODEL, 100, 150, now + 4, msg, sizeof(msg)) == 100 &&
	       st.stale && strstr(msg, "the safe cap is not lower"),
	       "stale: a safe cap above the cap never loosens it");
	tap_ok(ws_stale_step(&st, WS_POWER_MODEL, 0, 60, now + 5, msg, sizeof(msg)) == 0,
	       "stale: no cap, none in force");
	st = (struct ws_stale){};	/* what `power --clear` does */
	tap_ok(ws_stale_step(&st, WS_POWER_MODEL, 100, 60, now + 6, msg, sizeof(msg)) == 100 &&
	       !st.stale, "after a clear the model is no longer stale");
}

/* Compliance: the reading against the cap in force. */
static void test_compliance(void)
{
	struct ws_compliance_state c = {};
	time_t now = 1790000000;

	ws_compliance_step(&c, 0, WS_POWER_NONE, 100, now);
	tap_ok(c.state == WS_COMPLIANCE_UNKNOWN, "compliance: unknown before the first reading");
	ws_compliance_step(&c, 100.0, WS_POWER_MODEL, 100, now + 1);
	tap_ok(c.state == WS_IN_CAP && c.since == now + 1,
	       "compliance: 100.0 W under a 100 W cap is in_cap");
	ws_compliance_step(&c, 100.0, WS_POWER_MODEL, 100, now + 2);
	tap_ok(c.since == now + 1, "compliance: since stays while the state holds");
	ws_compliance_step(&c, 100.001, WS_POWER_MODEL, 100, now + 3);
	tap_ok(c.state == WS_OVER_CAP && c.since == now + 3,
	       "compliance: 100.001 W is over_cap, since then");
	ws_compliance_step(&c, 100.001, WS_POWER_MODEL, 150, now + 4);
	tap_ok(c.state == WS_IN_CAP, "compliance: against the cap in force");
	ws_compliance_step(&c, 100.001, WS_POWER_MODEL, 0, now + 5);
	tap_ok(c.state == WS_NO_CAP && !strcmp(ws_compliance_name(c.state), "no_cap"),
	       "compliance: without a cap there is nothing to comply with: no_cap");
	ws_compliance_step(&c, 0, WS_POWER_NONE, 0, now + 6);
	tap_ok(c.state == WS_NO_CAP, "compliance: no cap and no reading: still no_cap");
}

int main(void)
{
	struct ws_rapl r = {};
	struct ws_pushed p = {};
	char err[256];
	double uj, w;

	tap_plan(23 + 5 + 10 + 7);

	tap_is_int(ws_rapl_parse(HDR "pkg=0 domain=package energy_uj=1000000 cpu=0 source=msr\n"
				 "pkg=0 domain=dram energy_uj=500000 cpu=0 source=msr\n"
				 "pkg=1 domain=package energy_uj=2000000 cpu=4 source=msr\n",
				 &uj, NULL, err, sizeof(err)), 3, "parse: three records");
	tap_ok(uj == 3500000, "parse: energy summed over packages and DRAM");
	tap_is_int(ws_rapl_parse(HDR "pkg=0 domain=package energy_uj=7 watts_mw=150000 "
				 "source=injected", &uj, NULL, err, sizeof(err)), 1,
		   "parse: an injected record, no trailing newline");
	tap_is_int(ws_rapl_parse(HDR "rapl=unavailable\n", &uj, NULL, err, sizeof(err)), -ENODATA,
		   "parse: no RAPL");
	tap_ok(ws_rapl_parse(HDR "rapl=unavailable\npkg=0 domain=package energy_uj=42 "
			     "watts_mw=1000 source=injected\n", &uj, NULL, err, sizeof(err)) == 1 &&
	       uj == 42, "parse: injected records after rapl=unavailable (the test VM)");
	tap_is_int(ws_rapl_parse(HDR, &uj, NULL, err, sizeof(err)), -ENODATA, "parse: no records");
	tap_is_int(ws_rapl_parse(HDR "pkg=0 domain=package energy_uj=12x\n", &uj, NULL, err, sizeof(err)),
		   -ENODATA, "parse: a malformed number is no reading");
	tap_is_int(ws_rapl_parse("# wattsched-telemetry thermal v1\n", &uj, NULL, err, sizeof(err)),
		   -EINVAL, "parse: another file refused");
	tap_ok(strstr(err, "not the telemetry module's power file"), "parse: and says so");

	/* 100 J per second is 100 W, over windows of at least 1 s; fresh while it grows */
	tap_ok(!ws_rapl_step(&r, HDR "pkg=0 domain=package energy_uj=0\n", 10.0, 5),
	       "rapl: the first sample is no reading yet");
	tap_ok(!ws_rapl_step(&r, HDR "pkg=0 domain=package energy_uj=25000000\n", 10.25, 5),
	       "rapl: a window shorter than 1 s is no reading yet");
	tap_ok(ws_rapl_step(&r, HDR "pkg=0 domain=package energy_uj=100000000\n", 11.0, 5) &&
	       r.watts == 100, "rapl: 100 J in 1 s is 100 W");
	tap_ok(ws_rapl_step(&r, HDR "pkg=0 domain=package energy_uj=100000000\n", 12.5, 5) &&
	       r.watts == 0, "rapl: a counter standing still within the stale time: fresh, 0 W");
	tap_ok(!ws_rapl_step(&r, HDR "pkg=0 domain=package energy_uj=100000000\n", 16.5, 5),
	       "rapl: standing still longer than the stale time: stale");
	tap_ok(ws_rapl_step(&r, HDR "pkg=0 domain=package energy_uj=102000000\n", 18.5, 5) &&
	       r.watts == 1, "rapl: growing again: fresh, 2 J in 2 s");
	tap_ok(ws_rapl_step(&r, NULL, 20.0, 5), "rapl: an unreadable file within the stale time");
	tap_ok(!ws_rapl_step(&r, NULL, 24.0, 5), "rapl: ...and after it: stale");
	tap_ok(!ws_rapl_step(&r, HDR "pkg=0 domain=package energy_uj=100\n", 25.0, 5),
	       "rapl: a counter that went back (module reloaded) restarts");
	tap_ok(ws_rapl_step(&r, HDR "pkg=0 domain=package energy_uj=2000100\n", 26.0, 5) &&
	       r.watts == 2, "rapl: ...and reads from there");
	/* the module's sample time wins over the reader's: 2 J in 1 s of ktime is 2 W */
	memset(&r, 0, sizeof(r));
	ws_rapl_step(&r, HDR "pkg=0 domain=package energy_uj=0 ktime_ns=5000000000\n", 100, 5);
	tap_ok(ws_rapl_step(&r, HDR "pkg=0 domain=package energy_uj=2000000 ktime_ns=6000000000\n",
			    100.7, 5) && r.watts == 2,
	       "rapl: the window is measured in the module's ktime_ns, not the reader's clock");

	p.watts = 300;
	p.at = 100;
	tap_is_int(ws_power_pick(&p, true, 120, 90, 105, 10, &w), WS_POWER_PUSHED,
		   "pick: a fresh pushed reading first");
	tap_ok(ws_power_pick(&p, true, 120, 90, 111, 10, &w) == WS_POWER_RAPL && w == 120,
	       "pick: pushed older than the stale time: RAPL");
	tap_ok(ws_power_pick(&p, false, 120, 90, 111, 10, &w) == WS_POWER_MODEL && w == 90,
	       "pick: neither: the model");
	tap_is_int(ws_power_guard_mw(100, WS_POWER_RAPL, 15), 85000,
		   "guard: a RAPL-held cap less what RAPL does not see, in mW");
	tap_is_int(ws_power_guard_mw(100, WS_POWER_PUSHED, 15), 0,
		   "guard: none for a pushed reading (the wall, not the packages)");
	tap_is_int(ws_power_guard_mw(100, WS_POWER_MODEL, 0), 0, "guard: none on the model");
	tap_is_int(ws_power_guard_mw(0, WS_POWER_RAPL, 0), 0, "guard: none without a cap");
	tap_is_int(ws_power_guard_mw(10, WS_POWER_RAPL, 10), 0,
		   "guard: none when the extra leaves nothing");
	test_stale();
	test_compliance();
	return tap_done();
}
