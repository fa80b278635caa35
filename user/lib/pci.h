/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pci.h - what device affinity needs from the system: PCI addresses and a
 * device's NUMA node, and the process a thread belongs to.
 */
#ifndef __WS_PCI_H
#define __WS_PCI_H

#include <stdbool.h>
#include <stddef.h>

#include "wattsched.h"

#define WS_PCI_DEVICES		"/sys/bus/pci/devices"
#define WS_PID_LIMIT		4194304ULL	/* the kernel's PID_MAX_LIMIT */
#define WS_PCI_ADDR_LEN		13		/* "DDDD:BB:DD.F" and its NUL */

/*
 * Strict PCI address DDDD:BB:DD.F (hex; device 00-1f, function 0-7), as
 * sysfs names devices.  Upper-case hex is accepted; @out (at least
 * WS_PCI_ADDR_LEN bytes) gets the sysfs (lower-case) spelling.  False with
 * a reason in @why.
 */
bool ws_parse_pci_addr(const char *s, char *out, size_t len, const char **why);

/* The NUMA node of PCI device @addr (sysfs spelling): >= 0, or -errno with err set. */
int ws_pci_node(const char *addr, char *err, size_t errlen);

/* A process id's syntax: a whole number in 1..WS_PID_LIMIT. */
bool ws_parse_pid(const char *s, __u32 *pid);

/*
 * The process that thread @pid belongs to: 0 with *tgid set, or -errno with
 * err set (-ESRCH: no such thread, -EBADF: a zombie).
 */
int ws_pid_tgid(__u32 pid, __u32 *tgid, char *err, size_t errlen);

#endif /* __WS_PCI_H */
