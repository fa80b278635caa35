/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wattsched_telemetry.h - constants shared by the telemetry module
 * (kmod/wattsched_telemetry.c) and its readers (user/cmd_telemetry.c).
 *
 * Every file in WS_TELEMETRY_DIR starts with the line
 *	"# wattsched-telemetry <name> v<WS_TELEMETRY_FORMAT_VERSION>"
 * followed by records, one a line, of space-separated key=value fields.
 * docs/telemetry.md is the reference for every file and field.
 *
 * Plain macros only: this header is included by kernel and user code.
 */
#ifndef __WATTSCHED_TELEMETRY_H
#define __WATTSCHED_TELEMETRY_H

/* The module's own version (MODULE_VERSION) */
#define WS_TELEMETRY_MODULE_VERSION	"0.1.0"

/*
 * The record format version.  Bump it when a field changes meaning or is
 * removed; adding a field does not need a bump (readers must ignore keys
 * they do not know).
 */
#define WS_TELEMETRY_FORMAT_VERSION	1

/* First token of every file's header line */
#define WS_TELEMETRY_MAGIC		"# wattsched-telemetry"

/* The debugfs directory, under the debugfs mount */
#define WS_TELEMETRY_DIR		"wattsched"
#define WS_TELEMETRY_DEFAULT_PATH	"/sys/kernel/debug/" WS_TELEMETRY_DIR

/* Longest accepted write to an inject/ file, in bytes (newline included) */
#define WS_TELEMETRY_INJECT_MAX		128

/* Ranges accepted by inject/ (inclusive) */
#define WS_TELEMETRY_INJ_TEMP_MIN_MC	(-40000)
#define WS_TELEMETRY_INJ_TEMP_MAX_MC	150000
#define WS_TELEMETRY_INJ_WATTS_MAX_MW	10000000U		/* 10 kW */
#define WS_TELEMETRY_INJ_ENERGY_MAX_UJ	1000000000000000ULL	/* 1 GJ */

/*
 * The limit a reading without one (an injected temperature, a zone with no
 * TjMax) is judged against, m°C: when the hottest of a CPU's readings is
 * picked, and the loader's default --hot-limit.
 */
#define WS_TELEMETRY_DEFAULT_LIMIT_MC	100000

/*
 * The kfuncs the module gives struct_ops programs (a sched_ext scheduler),
 * from a cache it keeps (docs/telemetry.md, "kfuncs"):
 *	u32 wattsched_tm_gen(void)		moves when any reading changes
 *	s32 wattsched_tm_cpu_temp_mc(s32 cpu)	WS_TELEMETRY_TEMP_UNKNOWN: none
 *	s32 wattsched_tm_cpu_limit_mc(s32 cpu)	0: no limit reported
 *	s32 wattsched_tm_power_mw(void)		WS_TELEMETRY_POWER_UNKNOWN: none
 *	s32 wattsched_tm_pcie_node(u32 addr)	-1: no node; -ENOENT: no function
 *	s32 wattsched_tm_pcie_link(u32 addr)	WS_TELEMETRY_LINK(); -ENODEV: no
 *						link registers; -ENOENT: no function
 * A CPU's reading is what the thermal file shows for it: the hottest,
 * against its limit, of its core's and its package's.  The power is every
 * package's (package and DRAM domains, as the power file shows them) over
 * the last WS_TELEMETRY_POWER_POLL_MS, which the module polls at where
 * there is RAPL or inject=1.  A PCIe function's address is domain << 16 |
 * bus << 8 | devfn; its node and link are what the pcie file shows, at
 * most WS_TELEMETRY_PCIE_POLL_MS old (an injected link at once).
 */
#define WS_TELEMETRY_TEMP_UNKNOWN	(-2147483647 - 1)
#define WS_TELEMETRY_POWER_UNKNOWN	(-1)
#define WS_TELEMETRY_POWER_POLL_MS	100
#define WS_TELEMETRY_PCIE_POLL_MS	1000

/*
 * wattsched_tm_pcie_link()'s value: the negotiated (sta) and capable (cap)
 * speed, in the Link Status register's encoding (1 = 2.5 GT/s, 2 = 5,
 * 3 = 8, 4 = 16, 5 = 32, 6 = 64), and width in lanes; a link that is down
 * has a negotiated width of 0.
 */
#define WS_TELEMETRY_LINK(sta_speed, sta_width, cap_speed, cap_width)		\
	((((sta_speed) & 0x7f) << 24) | (((sta_width) & 0xff) << 16) |		\
	 (((cap_speed) & 0xff) << 8) | ((cap_width) & 0xff))
#define WS_TELEMETRY_LINK_STA_SPEED(v)	(((v) >> 24) & 0x7f)
#define WS_TELEMETRY_LINK_STA_WIDTH(v)	(((v) >> 16) & 0xff)
#define WS_TELEMETRY_LINK_CAP_SPEED(v)	(((v) >> 8) & 0xff)
#define WS_TELEMETRY_LINK_CAP_WIDTH(v)	((v) & 0xff)

/* thermal_poll_ms: how often the cache is refreshed from hardware sensors */
#define WS_TELEMETRY_POLL_MS_DEFAULT	100
#define WS_TELEMETRY_POLL_MS_MIN	10
#define WS_TELEMETRY_POLL_MS_MAX	10000

#endif /* __WATTSCHED_TELEMETRY_H */
