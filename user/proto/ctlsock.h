/* SPDX-License-Identifier: GPL-2.0 */
/* control.h - the control socket between the loader and its clients. */
#ifndef __WS_CONTROL_H
#define __WS_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include "wattsched.h"

#define WS_CTL_SOCK		"/run/wattsched/control.sock"
#define WS_CTL_MSG_MAX		4096
#define WS_CTL_ANSWER_MAX	2048

struct json_object;
struct ws_fleet_state;

/* The socket path: $WATTSCHED_SOCKET, or WS_CTL_SOCK. */
const char *ws_ctl_sock_path(void);

/*
 * Apply one request (JSON text, not NUL-terminated) to *ctl and the loader's
 * fleet state *fs (NULL: none; the "rack" op is then refused).  On success
 * *ctl holds the new block, its gen bumped when it changed (*changed); the
 * "power" op changes only *fs.  On
 * error *ctl and *fs are untouched and err says why: -EINVAL for a malformed
 * or invalid request, -EPERM for a change asked by an unprivileged peer,
 * -ETIME/-ERANGE for a rack grant whose lease or watts do not hold.
 */
int ws_control_apply(const char *msg, size_t len, bool privileged, struct ws_ctl *ctl,
		     struct ws_fleet_state *fs, bool *changed, char *err, size_t errlen);
/* The JSON answer to a request that returned @ret; its length, or -errno. */
int ws_control_reply(const struct ws_ctl *ctl, const struct ws_fleet_state *fs, int ret,
		     const char *err, char *buf, size_t len);
/* For ops defined elsewhere (fleet.c): refuse keys not in @allowed. */
int ws_ctl_only_fields(struct json_object *req, const char *const *allowed, char *err,
		       size_t errlen);

/*
 * The {"watts":W} | {"clear":true} shape of the "cap" and "power" ops:
 * only those fields, exactly one of them, clear only true.  *watts is the
 * watts member, NULL for clear.  0, or -EINVAL with err set.
 */
int ws_ctl_watts_or_clear(struct json_object *req, const char *op, struct json_object **watts,
			  char *err, size_t errlen);

/* Loader: listen at @path (created 0600 in a 0700 directory). */
int ws_ctl_listen(const char *path);
void ws_ctl_close(int fd, const char *path);

/* Returns the reply's length, or <= 0 for no reply. */
typedef int (*ws_ctl_handler_t)(void *data, const char *msg, size_t len, bool privileged,
				char *reply, size_t replylen);
/* Serve requests on @lfd for up to @timeout_ms; returns early on a signal. */
void ws_ctl_serve(int lfd, int timeout_ms, ws_ctl_handler_t handler, void *data);

/* Client: send @req, put the answer in @resp.  0, or -errno with a message printed. */
int ws_ctl_request(const char *req, char *resp, size_t len);
/* The same, quietly: 0, or -errno with err set. */
int ws_ctl_try_request(const char *req, char *resp, size_t len, char *err, size_t errlen);

struct ws_ctl_answer {
	char policy[32];
	unsigned int gen;
	unsigned int cap_watts;
};
/* Client: send @req; 0 with @ans filled, or -errno after printing why. */
int ws_ctl_call(const char *what, const char *req, struct ws_ctl_answer *ans);

#endif /* __WS_CONTROL_H */
