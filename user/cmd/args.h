/* SPDX-License-Identifier: GPL-2.0 */
/*
 * args.h - argument syntax that several commands share, turned into the
 * control requests they send (`class set` and `run --class`,
 * `device-affinity add` and `run --device-affinity`).  Syntax only: whether
 * a cgroup, process or device exists is the daemon's answer.
 */
#ifndef __WS_ARGS_H
#define __WS_ARGS_H

#include <stdbool.h>

#include "proto/request.h"

/* Is @s --help or -h? */
bool ws_is_help(const char *s);

/* A class rule for cgroup @cgroup, class name @cls (NULL: delete): 0, or 2 after saying why. */
int ws_args_class(const char *what, const char *cgroup, const char *cls,
		  struct ws_request *req);
/* CGROUP=CLASS, as `run --class` takes it. */
int ws_args_class_rule(const char *what, const char *arg, struct ws_request *req);

/*
 * A device binding of process @target (all digits) or, with @cgroup, of
 * cgroup @target to PCI device @addr (NULL: remove the binding): 0, or 2
 * after saying why.
 */
int ws_args_devaff(const char *what, const char *target, bool cgroup, const char *addr,
		   struct ws_request *req);
/* {PID|CGROUP}=PCI_ADDR, as `run --device-affinity` takes it (a left side not all digits is a cgroup). */
int ws_args_devaff_rule(const char *what, const char *arg, struct ws_request *req);

#endif /* __WS_ARGS_H */
