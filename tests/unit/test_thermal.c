// SPDX-License-Identifier: GPL-2.0
/* Unit tests for user/thermal.c: the thermal file and the hot set. */
#include <stdlib.h>

#include "tap.h"
#include "core/thermal.h"
#include "lib/names.h"
#include "lib/pci.h"
#include "lib/util.h"

/* 8 CPUs: 2 packages (LLCs) of 2 cores of 2 SMT threads (0,1 | 2,3 | 4,5 | 6,7). */
static void fake_topo(struct ws_topology *t)
{
	unsigned int cpu;

	memset(t, 0, sizeof(*t));
	t->nr_cpus = t->nr_online = 8;
	t->nr_cores = 4;
	t->nr_llcs = t->nr_nodes = t->nr_pkgs = 2;
	for (cpu = 0; cpu < 8; cpu++) {
		t->online[0] |= 1ULL << cpu;
		t->cpu[cpu].core = cpu / 2;
		t->cpu[cpu].llc = t->cpu[cpu].node = t->cpu[cpu].pkg = cpu / 4;
	}
}

int main(void)
{
	struct ws_thermal_cfg cfg;
	struct ws_topology topo;
	int temp[8], limit[8];
	__u64 hot[WS_CPU_WORDS] = {};

	tap_plan(17);
	fake_topo(&topo);
	ws_thermal_defaults(&cfg);
	tap_ok(cfg.limit_mc == 100000 && cfg.margin_mc == 5000 && cfg.hyst_mc == 5000,
	       "defaults: limit 100 C, margin 5, hysteresis 5");

	tap_is_int(ws_thermal_parse("# wattsched-telemetry power v1\n", &topo, &cfg, temp, limit),
		   -EINVAL, "another file is refused");
	tap_is_int(ws_thermal_parse("# wattsched-telemetry thermal v1\nzones=unavailable\n"
				    "msr=unavailable\n", &topo, &cfg, temp, limit),
		   0, "the VM's file: no readings");

	/* an injected record for CPU 3 (core 1) and a real one for core 2 */
	tap_is_int(ws_thermal_parse("# wattsched-telemetry thermal v1\n"
				    "zone=acpitz id=0 temp_mc=27800 trips=none source=thermal\n"
				    "cpu=3 core=1 pkg=0 temp_mc=97000 source=injected\n"
				    "cpu=4 core=2 pkg=1 temp_mc=80000 tjmax_mc=85000 throttle=0 source=msr\n"
				    "cpu=6 core=3 pkg=1 temp_mc=unavailable tjmax_mc=100000\n",
				    &topo, &cfg, temp, limit),
		   4, "core records cover both SMT siblings; unavailable is no reading");
	tap_ok(temp[2] == 97000 && temp[3] == 97000 && limit[2] == 100000,
	       "injected record: the default limit");
	tap_ok(temp[4] == 80000 && temp[5] == 80000 && limit[5] == 85000, "msr record: its TjMax");
	tap_ok(temp[0] == WS_TEMP_UNKNOWN && temp[6] == WS_TEMP_UNKNOWN, "others unknown");

	tap_ok(ws_thermal_step(&cfg, &topo, temp, limit, hot), "hot set changes");
	tap_is_int(hot[0], 0x3c, "core 1 (97 >= 95) and core 2 (80 >= 85-5) are hot");
	tap_ok(!ws_thermal_step(&cfg, &topo, temp, limit, hot), "same readings: no change");

	/* cooling: core 1 at 91 C is below 95 but not below 90: still hot */
	ws_thermal_parse("# wattsched-telemetry thermal v1\n"
			 "cpu=2 core=1 pkg=0 temp_mc=91000 source=injected\n", &topo, &cfg, temp,
			 limit);
	ws_thermal_step(&cfg, &topo, temp, limit, hot);
	tap_is_int(hot[0], 0x0c, "core 1 at 91 C stays hot (hysteresis); core 2 unread: cool");
	ws_thermal_parse("# wattsched-telemetry thermal v1\n"
			 "cpu=2 core=1 pkg=0 temp_mc=89999 source=injected\n", &topo, &cfg, temp,
			 limit);
	tap_ok(ws_thermal_step(&cfg, &topo, temp, limit, hot) && hot[0] == 0,
	       "core 1 below 90 C: cool again");
	ws_thermal_parse("# wattsched-telemetry thermal v1\n"
			 "cpu=2 core=1 pkg=0 temp_mc=94000 source=injected\n", &topo, &cfg, temp,
			 limit);
	tap_ok(!ws_thermal_step(&cfg, &topo, temp, limit, hot), "94 C from cool: not hot yet");

	/* a package record covers the package; the hotter reading wins */
	tap_is_int(ws_thermal_parse("# wattsched-telemetry thermal v1\n"
				    "pkg=1 cpu=4 temp_mc=99000 source=injected\n"
				    "cpu=6 core=3 pkg=1 temp_mc=50000 source=injected\n",
				    &topo, &cfg, temp, limit), 4, "package 1: its 4 CPUs");
	tap_ok(temp[4] == 99000 && temp[7] == 99000, "the package reading is the hotter");
	ws_thermal_step(&cfg, &topo, temp, limit, hot);
	tap_is_int(hot[0], 0xf0, "package 1 hot: all its CPUs");
	tap_is_int(ws_thermal_parse("# wattsched-telemetry thermal v1\n"
				    "cpu=99 core=1 pkg=0 temp_mc=99000 source=injected\n"
				    "cpu=1 temp_mc=12x\n",
				    &topo, &cfg, temp, limit), 0,
		   "a CPU out of range and a garbled number are ignored");
	return tap_done();
}
