// SPDX-License-Identifier: GPL-2.0
/*
 * test_psource.c - the power sources (user/psource.c): the module's power
 * file, RAPL readings and their staleness, and the choice of source.
 */
#include <stdlib.h>

#include "psource.h"
#include "tap.h"
#include "wattsched.h"
#include "ws.h"

#define HDR "# wattsched-telemetry power v1\n"

int main(void)
{
	struct ws_rapl r = {};
	struct ws_pushed p = {};
	char err[256];
	double uj, w;

	tap_plan(23);

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
	return tap_done();
}
