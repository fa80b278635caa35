// SPDX-License-Identifier: GPL-2.0
/*
 * control.c - the control socket: how `wattsched policy`, `wattsched cap`
 * and fleet tooling change a running scheduler.
 *
 * The loader owns the control block (struct ws_ctl).  It listens on a Unix
 * SOCK_SEQPACKET socket, by default /run/wattsched/control.sock (directory
 * 0700, socket 0600, so only root can connect), and applies one request per
 * message.  Being the only writer of the map is what makes a change atomic:
 * two clients cannot interleave a read-modify-write of the block.
 *
 * Protocol (docs/cli.md): one JSON object per message, at most
 * WS_CTL_MSG_MAX bytes, answered by one JSON object.
 *
 *	{"op":"policy","policy":"performance"}
 *	{"op":"cap","watts":350}
 *	{"op":"cap","clear":true}
 *	{"op":"get"}
 *	{"op":"rack","rack":ID,"host":ID,"watts":W,"policy":P,"expires":T,...}
 *	{"op":"power","watts":312.5}
 *	{"op":"power","clear":true}
 *
 * The "power" op pushes a host power reading (a BMC's) and changes only the
 * loader's fleet state, not the block.  The "rack" op and the fleet state in every answer (cap origin, lease,
 * compliance) are fleet.c's.  Answers are {"ok":true,"policy":...,"generation":...,"cap_watts":...} or
 * {"ok":false,"error":"..."}.  A refused request changes nothing.  Changes
 * need the peer to be root (SO_PEERCRED), whatever the socket's mode.
 */
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "fleet.h"
#include "power.h"
#include "ws.h"

const char *ws_ctl_sock_path(void)
{
	const char *p = getenv("WATTSCHED_SOCKET");

	return p && *p ? p : WS_CTL_SOCK;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Only the listed keys may appear; anything else is a typo worth refusing. */
static int only_fields(struct json_object *req, const char *const *allowed, char *err,
		       size_t errlen)
{
	json_object_object_foreach(req, key, val) {
		const char *const *a;

		(void)val;
		for (a = allowed; *a; a++)
			if (!strcmp(key, *a))
				break;
		if (!*a)
			return fail(err, errlen, "unknown field '%s'", key);
	}
	return 0;
}

int ws_ctl_only_fields(struct json_object *req, const char *const *allowed, char *err,
		       size_t errlen)
{
	return only_fields(req, allowed, err, errlen);
}

static int apply_policy(struct json_object *req, struct ws_ctl *ctl, char *err, size_t errlen)
{
	static const char *const fields[] = { "op", "policy", NULL };
	struct json_object *v;
	int policy;

	if (only_fields(req, fields, err, errlen))
		return -EINVAL;
	if (!json_object_object_get_ex(req, "policy", &v))
		return fail(err, errlen, "policy: missing field 'policy'");
	if (!json_object_is_type(v, json_type_string))
		return fail(err, errlen, "policy: 'policy' must be a string");
	policy = ws_policy_from_name(json_object_get_string(v));
	if (policy < 0)
		return fail(err, errlen,
			    "unknown policy '%s' (balanced, performance, powersave, capped)",
			    json_object_get_string(v));
	ws_policy_defaults(ctl, policy);
	/* A policy chosen under a cap is the one `cap --clear` returns to. */
	if (ctl->cap_watts && policy != WS_POLICY_CAPPED)
		ctl->policy_before_cap = policy;
	return 0;
}

int ws_ctl_watts_or_clear(struct json_object *req, const char *op, struct json_object **watts,
			  char *err, size_t errlen)
{
	static const char *const fields[] = { "op", "watts", "clear", NULL };
	struct json_object *c = NULL;

	*watts = NULL;
	if (only_fields(req, fields, err, errlen))
		return -EINVAL;
	json_object_object_get_ex(req, "watts", watts);
	json_object_object_get_ex(req, "clear", &c);
	if (!*watts == !c)
		return fail(err, errlen, "%s: give exactly one of 'watts' and 'clear'", op);
	if (c && (!json_object_is_type(c, json_type_boolean) || !json_object_get_boolean(c)))
		return fail(err, errlen, "%s: 'clear' must be true", op);
	return 0;
}

static int apply_cap(struct json_object *req, struct ws_ctl *ctl, char *err, size_t errlen)
{
	struct json_object *w;
	int64_t watts;

	if (ws_ctl_watts_or_clear(req, "cap", &w, err, errlen))
		return -EINVAL;
	if (!w) {
		if (ctl->cap_watts)
			ws_policy_defaults(ctl, ctl->policy_before_cap);
		ctl->cap_watts = 0;
		return 0;
	}
	if (!json_object_is_type(w, json_type_int))
		return fail(err, errlen, "cap: 'watts' must be a whole number of watts in %u..%u",
			    WS_CAP_MIN_WATTS, WS_CAP_MAX_WATTS);
	errno = 0;
	watts = json_object_get_int64(w);
	if (errno || watts < WS_CAP_MIN_WATTS || watts > WS_CAP_MAX_WATTS)
		return fail(err, errlen, "cap: %lld W is outside %u..%u", (long long)watts,
			    WS_CAP_MIN_WATTS, WS_CAP_MAX_WATTS);
	if (!ctl->cap_watts)
		ctl->policy_before_cap = ctl->policy;
	ws_policy_defaults(ctl, WS_POLICY_CAPPED);
	ctl->cap_watts = watts;
	return 0;
}

int ws_control_apply(const char *msg, size_t len, bool privileged, struct ws_ctl *ctl,
		     struct ws_fleet_state *fs, bool *changed, char *err, size_t errlen)
{
	struct json_tokener *tok;
	struct json_object *req, *v;
	struct ws_ctl next = *ctl;
	struct ws_fleet_state next_fs = {};
	const char *op;
	int ret;

	*changed = false;
	if (len > WS_CTL_MSG_MAX)
		return fail(err, errlen, "request longer than %d bytes", WS_CTL_MSG_MAX);
	tok = json_tokener_new();
	if (!tok)
		return fail(err, errlen, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	req = json_tokener_parse_ex(tok, msg, len);
	if (!req || json_tokener_get_parse_end(tok) != len) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		ret = fail(err, errlen, "not a JSON object: %s",
			   e == json_tokener_success ? "trailing data after the object" :
			   e == json_tokener_continue ? "unexpected end of input" :
			   json_tokener_error_desc(e));
		goto free_req;
	}
	if (!json_object_is_type(req, json_type_object)) {
		ret = fail(err, errlen, "not a JSON object");
		goto free_req;
	}
	if (!json_object_object_get_ex(req, "op", &v) || !json_object_is_type(v, json_type_string)) {
		ret = fail(err, errlen, "missing string field 'op' (policy, cap, rack, power, get)");
		goto free_req;
	}
	op = json_object_get_string(v);
	if (!strcmp(op, "get")) {
		static const char *const fields[] = { "op", NULL };

		ret = only_fields(req, fields, err, errlen);
		goto free_req;
	}
	if (strcmp(op, "policy") && strcmp(op, "cap") && strcmp(op, "rack") && strcmp(op, "power")) {
		ret = fail(err, errlen, "unknown op '%s' (policy, cap, rack, power, get)", op);
		goto free_req;
	}
	if (!privileged) {
		ret = -EPERM;
		snprintf(err, errlen, "permission denied: changing wattsched needs root");
		goto free_req;
	}
	if (fs)
		next_fs = *fs;
	if (!strcmp(op, "power")) {
		/* a reading, not a change of intent: the block stays as it is */
		ret = fs ? ws_fleet_power_op(req, ws_mono_now(), &next_fs, err, errlen) :
			   fail(err, errlen, "power: this loader takes no readings");
		if (!ret)
			*fs = next_fs;
		goto free_req;
	} else if (!strcmp(op, "rack")) {
		ret = ws_fleet_rack_op(req, time(NULL), &next, fs ? &next_fs : NULL, err, errlen);
	} else if (!strcmp(op, "policy")) {
		ret = apply_policy(req, &next, err, errlen);
	} else {
		ret = apply_cap(req, &next, err, errlen);
		if (!ret)
			ws_fleet_note_cap(&next, &next_fs);
	}
	if (!ret) {
		next.gen = ctl->gen + 1;
		*changed = true;
		*ctl = next;
		if (fs)
			*fs = next_fs;
	}
free_req:
	json_object_put(req);
	json_tokener_free(tok);
	return ret;
}

int ws_control_reply(const struct ws_ctl *ctl, const struct ws_fleet_state *fs, int ret,
		     const char *err, char *buf, size_t len)
{
	struct json_object *o = json_object_new_object();
	int n;

	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "ok", json_object_new_boolean(!ret));
	if (ret) {
		json_object_object_add(o, "error", json_object_new_string(err));
	} else {
		json_object_object_add(o, "policy",
				       json_object_new_string(ws_policy_name(ctl->policy)));
		json_object_object_add(o, "generation", json_object_new_int64(ctl->gen));
		json_object_object_add(o, "cap_watts", json_object_new_int64(ctl->cap_watts));
		if (fs)
			ws_fleet_to_json(fs, o);
	}
	n = snprintf(buf, len, "%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return n < (int)len ? n : -ENOSPC;
}

/* ---- the loader's side ------------------------------------------------ */

int ws_ctl_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sa.sun_path)], *slash;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		ws_err("control socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) && errno != EEXIST) {
			ws_err("cannot create %s: %s", dir, strerror(errno));
			return -errno;
		}
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		ws_err("control socket: %s", strerror(errno));
		return -errno;
	}
	unlink(path);	/* left over by a loader that was killed */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0600) || listen(fd, 16)) {
		ws_err("control socket %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -errno;
	}
	return fd;
}

void ws_ctl_close(int fd, const char *path)
{
	if (fd < 0)
		return;
	close(fd);
	unlink(path);
}

static long long now_ms(void)
{
	return (long long)(ws_mono_now() * 1000);
}

void ws_ctl_serve(int lfd, int timeout_ms, ws_ctl_handler_t handler, void *data)
{
	long long end = now_ms() + timeout_ms;
	char msg[WS_CTL_MSG_MAX + 1], reply[WS_CTL_ANSWER_MAX];
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	int left, cfd, ret;

	while ((left = end - now_ms()) > 0) {
		struct ucred cred;
		socklen_t clen = sizeof(cred);
		ssize_t n;

		if (lfd < 0) {
			usleep(left * 1000);
			return;
		}
		/* Timeout, or a signal: back to the caller, which checks for exit. */
		if (poll(&pfd, 1, left) <= 0)
			return;
		cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd < 0)
			continue;
		/* A client that connects and says nothing may not stall the loop. */
		setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO,
			   &(struct timeval){ .tv_usec = 200000 }, sizeof(struct timeval));
		n = recv(cfd, msg, sizeof(msg), MSG_TRUNC);
		if (n >= 0 && !getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &clen)) {
			ret = handler(data, msg, n, cred.uid == 0, reply, sizeof(reply));
			if (ret > 0)
				send(cfd, reply, ret, MSG_NOSIGNAL | MSG_DONTWAIT);
		}
		close(cfd);
	}
}

/* ---- the client's side ------------------------------------------------ */

int ws_ctl_try_request(const char *req, char *resp, size_t len, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = ws_ctl_sock_path();
	struct timeval tv = { .tv_sec = 5 };
	ssize_t n;
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "control socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "control socket: %s", strerror(errno));
		return ret;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = -errno;
		if (errno == EACCES || errno == EPERM)
			snprintf(err, errlen, "%s: permission denied: controlling wattsched needs root",
				 path);
		else
			snprintf(err, errlen, "cannot reach the loader at %s: %s (is 'wattsched run' "
				 "running?)", path, strerror(errno));
		goto close_fd;
	}
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
		ret = -errno;
		snprintf(err, errlen, "control socket %s: sending: %s", path, strerror(errno));
		goto close_fd;
	}
	n = recv(fd, resp, len - 1, 0);
	if (n <= 0) {
		ret = n < 0 ? -errno : -EPROTO;
		snprintf(err, errlen, "control socket %s: no answer from the loader%s%s", path,
			 n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
		goto close_fd;
	}
	resp[n] = '\0';
	ret = 0;
close_fd:
	close(fd);
	return ret;
}

int ws_ctl_request(const char *req, char *resp, size_t len)
{
	char err[512];
	int ret;

	ret = ws_ctl_try_request(req, resp, len, err, sizeof(err));
	if (ret)
		ws_err("%s", err);
	return ret;
}

int ws_ctl_call(const char *what, const char *req, struct ws_ctl_answer *ans)
{
	struct json_object *o, *v;
	char resp[WS_CTL_ANSWER_MAX];
	int ret;

	ret = ws_ctl_request(req, resp, sizeof(resp));
	if (ret)
		return ret;
	o = json_tokener_parse(resp);
	if (!o || !json_object_object_get_ex(o, "ok", &v)) {
		ws_err("%s: malformed answer from the loader: %s", what, resp);
		json_object_put(o);
		return -EPROTO;
	}
	if (!json_object_get_boolean(v)) {
		json_object_object_get_ex(o, "error", &v);
		ws_err("%s: refused: %s", what, v ? json_object_get_string(v) : "(no reason)");
		json_object_put(o);
		return -EINVAL;
	}
	memset(ans, 0, sizeof(*ans));
	if (json_object_object_get_ex(o, "policy", &v))
		snprintf(ans->policy, sizeof(ans->policy), "%s", json_object_get_string(v));
	if (json_object_object_get_ex(o, "generation", &v))
		ans->gen = json_object_get_int64(v);
	if (json_object_object_get_ex(o, "cap_watts", &v))
		ans->cap_watts = json_object_get_int64(v);
	json_object_put(o);
	return 0;
}
