/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ws.h - internal interfaces of the wattsched CLI: the subcommands and the
 * small helpers they share.
 */
#ifndef __WS_USER_H
#define __WS_USER_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "wattsched.h"

#define WS_VERSION	"0.1.0"

/* Subcommands: each parses its own arguments; argv[0] is the subcommand. */
int cmd_run(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_telemetry(int argc, char **argv);
int cmd_cap(int argc, char **argv);
int cmd_power(int argc, char **argv);
int cmd_device_affinity(int argc, char **argv);
int cmd_class(int argc, char **argv);

/* Open the pinned map @name of a running instance; -1 after printing why. */
int ws_open_pinned(const char *name);

/* Is wattsched the attached scheduler?  If not, say why (prefixed by @what). */
bool ws_attached_or_explain(const char *what);
int cmd_rack(int argc, char **argv);

extern const char *ws_prog;
extern int ws_verbose;

/* Errors go to stderr as "wattsched: <what>: <why>". */
void ws_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ws_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

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

/* A device binding: a process (tgid) or a cgroup (id) to a NUMA node. */
struct ws_devaff {
	bool cgroup;
	__u64 id;
	__s32 node;
};

/*
 * Split `run --device-affinity TARGET=PCI_ADDR` at its last '=' (in place):
 * TARGET is a PID when all digits, else a cgroup path.  False without '='.
 */
bool ws_devaff_split(char *arg, char **target, char **addr, bool *cgroup);

/*
 * Check a binding of process @target (a PID), or with @cgroup of the
 * cgroup at path @target, to PCI device @addr: 0 with @b filled in, 2 for a
 * malformed argument, 1 when it cannot be bound.  Each failure says why,
 * prefixed by @what.
 */
int ws_devaff_resolve(const char *what, const char *target, bool cgroup, const char *addr,
		      struct ws_devaff *b);

/* Store binding @b in map ws_dev_tgid (@tgid_fd) or ws_dev_cgrp (@cgrp_fd); 0 or -errno. */
int ws_devaff_write(int tgid_fd, int cgrp_fd, const struct ws_devaff *b);

/*
 * Strict PCI address DDDD:BB:DD.F; @out (at least 13 bytes) gets the
 * lower-case sysfs spelling.  False with a reason in @why.
 */
bool ws_parse_pci_addr(const char *s, char *out, size_t len, const char **why);

/* Fill the policy-dependent fields of a control block (cpufreq targets). */
void ws_policy_defaults(struct ws_ctl *ctl, unsigned int policy);

/* Policy names <-> enum ws_policy; -1 when unknown. */
const char *ws_policy_name(unsigned int policy);
int ws_policy_from_name(const char *name);

/* Class names, as the CLI and rack documents spell them <-> enum ws_class; -1 when unknown. */
const char *ws_class_name(unsigned int cls);
int ws_class_from_name(const char *name);

/* Read a whole small file (sysfs, debugfs) into buf, NUL-terminated. */
int ws_read_file(const char *path, char *buf, size_t len);

/* Parse a kernel cpulist ("0-3,8,10-11") into a WS_CPU_WORDS bitmap. */
int ws_parse_cpulist(const char *s, __u64 *mask, unsigned int max_cpus);

#endif /* __WS_USER_H */
