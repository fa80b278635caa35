// SPDX-License-Identifier: GPL-2.0
/* client.c - requests from the CLI to the running daemon (client.h). */
#include <json-c/json.h>

#include "lib/util.h"
#include "proto/client.h"
#include "proto/ctlsock.h"

const char *ws_answer_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

double ws_answer_num(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_double(v) : 0;
}

/* Exchange and parse; an answer without "ok" is a protocol error. */
static int exchange(const struct ws_request *req, int fd, struct json_object **answer,
		    char *err, size_t errlen)
{
	static char resp[WS_CTL_ANSWER_MAX];
	char msg[WS_CTL_MSG_MAX];
	struct json_object *o;
	int ret;

	*answer = NULL;
	if (ws_request_format(req, msg, sizeof(msg)) < 0)
		return ws_fail(err, errlen, -ENOSPC, "the request is too long");
	ret = ws_ctl_exchange(msg, fd, resp, sizeof(resp), err, errlen);
	if (ret)
		return ret;
	o = json_tokener_parse(resp);
	if (!o || !json_object_object_get_ex(o, "ok", NULL)) {
		json_object_put(o);
		return ws_fail(err, errlen, -EPROTO, "malformed answer from the loader: %.200s",
			       resp);
	}
	*answer = o;
	return 0;
}

int ws_call_quiet(const struct ws_request *req, struct json_object **answer, char *err,
		  size_t errlen)
{
	struct json_object *ok;
	int ret;

	ret = exchange(req, -1, answer, err, errlen);
	if (ret)
		return ret;
	json_object_object_get_ex(*answer, "ok", &ok);
	if (json_object_get_boolean(ok))
		return 0;
	ret = ws_fail(err, errlen, -EINVAL, "refused: %s", ws_answer_str(*answer, "error"));
	json_object_put(*answer);
	*answer = NULL;
	return ret;
}

int ws_call(const char *what, const struct ws_request *req, int fd,
	    struct json_object **answer)
{
	struct json_object *ok, *w;
	char err[512];
	size_t i;
	int ret;

	ret = exchange(req, fd, answer, err, sizeof(err));
	if (ret) {
		ws_err("%s: %s", what, err);
		return ret;
	}
	if (json_object_object_get_ex(*answer, "warnings", &w) &&
	    json_object_is_type(w, json_type_array))
		for (i = 0; i < json_object_array_length(w); i++)
			ws_warn("%s: %s", what,
				json_object_get_string(json_object_array_get_idx(w, i)));
	json_object_object_get_ex(*answer, "ok", &ok);
	if (json_object_get_boolean(ok))
		return 0;
	ws_err("%s: refused: %s", what, ws_answer_str(*answer, "error"));
	json_object_put(*answer);
	*answer = NULL;
	return -EINVAL;
}
