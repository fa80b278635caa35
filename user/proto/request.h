/* SPDX-License-Identifier: GPL-2.0 */
/*
 * request.h - the control socket's requests (docs/cli.md, "The control
 * socket"): one JSON object each, parsed into a struct ws_request that the
 * daemon acts on, or built from one by the CLI, so that both sides share
 * one definition of every op.
 *
 *	{"op":"get"}
 *	{"op":"policy","policy":"performance"}
 *	{"op":"cap","watts":350}			{"op":"cap","clear":true}
 *	{"op":"power","watts":312.5}			{"op":"power","clear":true}
 *	{"op":"rack","host":"node-7"}			with the document's fd attached
 *	{"op":"class","cgroup":"/batch.slice","class":"batch"}
 *	{"op":"class","cgroup":"/batch.slice","clear":true}
 *	{"op":"device-affinity","pid":4242,"device":"0000:81:00.0"}
 *	{"op":"device-affinity","cgroup":"/gpu.slice","device":"0000:81:00.0"}
 *	{"op":"device-affinity","pid":4242,"clear":true}
 *
 * Parsing checks everything that can be checked without the system: the
 * fields, their types and ranges, the spelling of names, paths and
 * addresses.  Whether a cgroup, a process or a device exists is the
 * daemon's to find out.
 */
#ifndef __WS_REQUEST_H
#define __WS_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "core/rack.h"
#include "lib/pci.h"
#include "wattsched.h"

#define WS_CGROUP_PATH_MAX	4096

enum ws_op {
	WS_OP_GET,
	WS_OP_POLICY,
	WS_OP_CAP,
	WS_OP_POWER,
	WS_OP_RACK,
	WS_OP_CLASS,
	WS_OP_DEVAFF,
	WS_NR_OPS,
};

struct ws_request {
	enum ws_op op;
	bool clear;			/* cap, power, class, device-affinity: remove */
	unsigned int policy;		/* policy: enum ws_policy */
	unsigned int cap_watts;		/* cap */
	double power_watts;		/* power: a measured reading */
	char host[RACK_HOST_ID_MAX];	/* rack: this host's id; "" = the daemon's own */
	char cgroup[WS_CGROUP_PATH_MAX]; /* class, device-affinity: a cgroup v2 path */
	unsigned int cls;		/* class: enum ws_class */
	__u32 pid;			/* device-affinity: a process; 0 when a cgroup is given */
	char device[WS_PCI_ADDR_LEN];	/* device-affinity: a PCI address, sysfs spelling */
};

/* The op's name as requests spell it. */
const char *ws_op_name(enum ws_op op);

/*
 * Parse request @msg (@len bytes, not NUL-terminated) from a peer that is
 * root (@privileged) or not: 0 with @req filled, or -EINVAL (malformed or
 * invalid) / -EPERM (a change asked by an unprivileged peer) with err set.
 */
int ws_request_parse(const char *msg, size_t len, bool privileged, struct ws_request *req,
		     char *err, size_t errlen);

/* The JSON text of @req into @buf; its length, or -ENOSPC. */
int ws_request_format(const struct ws_request *req, char *buf, size_t len);

#endif /* __WS_REQUEST_H */
