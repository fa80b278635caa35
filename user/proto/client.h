/* SPDX-License-Identifier: GPL-2.0 */
/*
 * client.h - the CLI's side of the control socket: send a request to the
 * running daemon and take its answer apart.
 */
#ifndef __WS_CLIENT_H
#define __WS_CLIENT_H

#include <stddef.h>

#include "proto/request.h"

struct json_object;

/*
 * Send @req (with @fd, -1 for none) and return the daemon's answer in
 * *answer (json_object_put() it).  An answer's "warnings" are printed.  A
 * refusal prints "<what>: refused: <error>" and returns -EINVAL; a socket
 * that cannot be reached, -errno after printing why.
 */
int ws_call(const char *what, const struct ws_request *req, int fd,
	    struct json_object **answer);

/* The same quietly, for status: 0, or -errno with err set. */
int ws_call_quiet(const struct ws_request *req, struct json_object **answer, char *err,
		  size_t errlen);

/* Members of an answer: a string ("" when absent), a number (0 when absent). */
const char *ws_answer_str(struct json_object *o, const char *key);
double ws_answer_num(struct json_object *o, const char *key);

#endif /* __WS_CLIENT_H */
