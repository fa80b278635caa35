// SPDX-License-Identifier: GPL-2.0
/* request.c - the control socket's requests, parsed and built (request.h). */
#include <json-c/json.h>
#include <stdint.h>

#include "core/power.h"
#include "core/psource.h"
#include "lib/names.h"
#include "lib/util.h"
#include "proto/ctlsock.h"
#include "proto/request.h"

#define OP_NAMES	"get, policy, cap, power, rack, class, device-affinity"

static const char *const op_names[WS_NR_OPS] = {
	[WS_OP_GET] = "get", [WS_OP_POLICY] = "policy", [WS_OP_CAP] = "cap",
	[WS_OP_POWER] = "power", [WS_OP_RACK] = "rack", [WS_OP_CLASS] = "class",
	[WS_OP_DEVAFF] = "device-affinity",
};

/* Each op's fields besides "op"; anything else is a typo worth refusing. */
static const char *const op_fields[WS_NR_OPS][5] = {
	[WS_OP_GET] = { NULL },
	[WS_OP_POLICY] = { "policy" },
	[WS_OP_CAP] = { "watts", "clear" },
	[WS_OP_POWER] = { "watts", "clear" },
	[WS_OP_RACK] = { "host" },
	[WS_OP_CLASS] = { "cgroup", "class", "clear" },
	[WS_OP_DEVAFF] = { "pid", "cgroup", "device", "clear" },
};

const char *ws_op_name(enum ws_op op)
{
	return op < WS_NR_OPS ? op_names[op] : "unknown";
}

static int known_fields(struct json_object *o, enum ws_op op, char *err, size_t errlen)
{
	json_object_object_foreach(o, key, val) {
		const char *const *f;

		(void)val;
		if (!strcmp(key, "op"))
			continue;
		for (f = op_fields[op]; *f && strcmp(key, *f); f++)
			;
		if (!*f)
			return ws_fail(err, errlen, -EINVAL, "unknown field '%s'", key);
	}
	return 0;
}

static struct json_object *field(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* A string field into @buf: -ENOENT when absent (quietly), -EINVAL with err set when bad. */
static int get_string(struct json_object *o, const char *op, const char *key, char *buf,
		      size_t len, char *err, size_t errlen)
{
	struct json_object *v = field(o, key);

	if (!v)
		return -ENOENT;
	if (!json_object_is_type(v, json_type_string))
		return ws_fail(err, errlen, -EINVAL, "%s: '%s' must be a string", op, key);
	if ((size_t)json_object_get_string_len(v) >= len)
		return ws_fail(err, errlen, -EINVAL, "%s: '%s' is longer than %zu bytes", op, key,
			       len - 1);
	snprintf(buf, len, "%s", json_object_get_string(v));
	return 0;
}

/* "clear":true, or the other fields: 1 for clear, 0 for not, -EINVAL with err set. */
static int get_clear(struct json_object *o, const char *op, char *err, size_t errlen)
{
	struct json_object *c = field(o, "clear");

	if (!c)
		return 0;
	if (!json_object_is_type(c, json_type_boolean) || !json_object_get_boolean(c))
		return ws_fail(err, errlen, -EINVAL, "%s: 'clear' must be true", op);
	return 1;
}

/* The {"watts":W} | {"clear":true} shape of "cap" and "power". */
static int watts_or_clear(struct json_object *o, struct ws_request *r, const char *op,
			  struct json_object **w, char *err, size_t errlen)
{
	int clear = get_clear(o, op, err, errlen);

	*w = field(o, "watts");
	if (!*w == !field(o, "clear"))
		return ws_fail(err, errlen, -EINVAL, "%s: give exactly one of 'watts' and 'clear'",
			       op);
	if (clear < 0)
		return clear;
	r->clear = clear;
	return 0;
}

static int parse_policy(struct json_object *o, struct ws_request *r, char *err, size_t errlen)
{
	struct json_object *v = field(o, "policy");
	int policy;

	if (!v)
		return ws_fail(err, errlen, -EINVAL, "policy: missing field 'policy'");
	if (!json_object_is_type(v, json_type_string))
		return ws_fail(err, errlen, -EINVAL, "policy: 'policy' must be a string");
	policy = ws_policy_from_name(json_object_get_string(v));
	if (policy < 0)
		return ws_fail(err, errlen, -EINVAL, "unknown policy '%s' (" WS_POLICY_NAMES ")",
			       json_object_get_string(v));
	r->policy = policy;
	return 0;
}

static int parse_cap(struct json_object *o, struct ws_request *r, char *err, size_t errlen)
{
	struct json_object *w;
	int64_t watts;
	int ret;

	ret = watts_or_clear(o, r, "cap", &w, err, errlen);
	if (ret || r->clear)
		return ret;
	if (!json_object_is_type(w, json_type_int))
		return ws_fail(err, errlen, -EINVAL, "cap: 'watts' must be a whole number of watts "
			       "in %u..%u", WS_CAP_MIN_WATTS, WS_CAP_MAX_WATTS);
	errno = 0;
	watts = json_object_get_int64(w);
	if (errno || watts < WS_CAP_MIN_WATTS || watts > WS_CAP_MAX_WATTS)
		return ws_fail(err, errlen, -EINVAL, "cap: %lld W is outside %u..%u",
			       (long long)watts, WS_CAP_MIN_WATTS, WS_CAP_MAX_WATTS);
	r->cap_watts = watts;
	return 0;
}

static int parse_power(struct json_object *o, struct ws_request *r, char *err, size_t errlen)
{
	struct json_object *w;
	double watts;
	int ret;

	ret = watts_or_clear(o, r, "power", &w, err, errlen);
	if (ret || r->clear)
		return ret;
	if (!json_object_is_type(w, json_type_int) && !json_object_is_type(w, json_type_double))
		return ws_fail(err, errlen, -EINVAL, "power: 'watts' must be a number");
	watts = json_object_get_double(w);
	if (!(watts > 0 && watts <= WS_PUSHED_MAX_WATTS))
		return ws_fail(err, errlen, -EINVAL, "power: %g W is outside (0, %u]", watts,
			       WS_PUSHED_MAX_WATTS);
	r->power_watts = watts;
	return 0;
}

static int parse_rack(struct json_object *o, struct ws_request *r, char *err, size_t errlen)
{
	int ret = get_string(o, "rack", "host", r->host, sizeof(r->host), err, errlen);

	if (ret == -ENOENT)
		return 0;
	if (!ret && !rack_valid_name(r->host, sizeof(r->host)))
		return ws_fail(err, errlen, -EINVAL, "rack: not a host id: \"%s\"", r->host);
	return ret;
}

/* "cgroup": an absolute path; @required or -ENOENT quietly. */
static int get_cgroup(struct json_object *o, const char *op, struct ws_request *r,
		      bool required, char *err, size_t errlen)
{
	int ret = get_string(o, op, "cgroup", r->cgroup, sizeof(r->cgroup), err, errlen);

	if (ret == -ENOENT && required)
		return ws_fail(err, errlen, -EINVAL, "%s: missing field 'cgroup'", op);
	if (!ret && r->cgroup[0] != '/')
		return ws_fail(err, errlen, -EINVAL, "%s: '%s' is not a cgroup path (give it from "
			       "the cgroup2 root, e.g. /batch.slice)", op, r->cgroup);
	return ret;
}

static int parse_class(struct json_object *o, struct ws_request *r, char *err, size_t errlen)
{
	char name[32];
	int ret, cls;

	ret = get_cgroup(o, "class", r, true, err, errlen);
	if (ret)
		return ret;
	ret = get_clear(o, "class", err, errlen);
	if (ret < 0)
		return ret;
	r->clear = ret;
	ret = get_string(o, "class", "class", name, sizeof(name), err, errlen);
	if (ret == -ENOENT ? !r->clear : r->clear)
		return ws_fail(err, errlen, -EINVAL, "class: give exactly one of 'class' and "
			       "'clear'");
	if (r->clear || ret)
		return r->clear ? 0 : ret;
	cls = ws_class_from_name(name);
	if (cls < 0)
		return ws_fail(err, errlen, -EINVAL, "class: unknown class '%s' (" WS_CLASS_NAMES
			       ")", name);
	r->cls = cls;
	return 0;
}

static int parse_devaff(struct json_object *o, struct ws_request *r, char *err, size_t errlen)
{
	struct json_object *pid = field(o, "pid");
	char dev[32];
	const char *why;
	int ret;

	ret = get_cgroup(o, "device-affinity", r, false, err, errlen);
	if (ret && ret != -ENOENT)
		return ret;
	if (!pid == !r->cgroup[0])
		return ws_fail(err, errlen, -EINVAL, "device-affinity: give exactly one of 'pid' "
			       "and 'cgroup'");
	if (pid && (!json_object_is_type(pid, json_type_int) || json_object_get_int64(pid) < 1 ||
		    json_object_get_int64(pid) > (int64_t)WS_PID_LIMIT))
		return ws_fail(err, errlen, -EINVAL, "device-affinity: 'pid' must be a process id "
			       "in 1..%llu", WS_PID_LIMIT);
	r->pid = pid ? json_object_get_int64(pid) : 0;
	ret = get_clear(o, "device-affinity", err, errlen);
	if (ret < 0)
		return ret;
	r->clear = ret;
	ret = get_string(o, "device-affinity", "device", dev, sizeof(dev), err, errlen);
	if (ret == -ENOENT ? !r->clear : r->clear)
		return ws_fail(err, errlen, -EINVAL, "device-affinity: give exactly one of "
			       "'device' and 'clear'");
	if (r->clear || ret)
		return r->clear ? 0 : ret;
	if (!ws_parse_pci_addr(dev, r->device, sizeof(r->device), &why))
		return ws_fail(err, errlen, -EINVAL, "device-affinity: '%s' is not a PCI address: "
			       "%s", dev, why);
	return 0;
}

static int (*const parsers[WS_NR_OPS])(struct json_object *, struct ws_request *, char *,
				       size_t) = {
	[WS_OP_POLICY] = parse_policy, [WS_OP_CAP] = parse_cap, [WS_OP_POWER] = parse_power,
	[WS_OP_RACK] = parse_rack, [WS_OP_CLASS] = parse_class, [WS_OP_DEVAFF] = parse_devaff,
};

/* The JSON object of @msg; NULL with err set. */
static struct json_object *parse_object(const char *msg, size_t len, char *err, size_t errlen)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;

	if (!tok) {
		ws_fail(err, errlen, -ENOMEM, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, msg, len);
	if (!o || json_tokener_get_parse_end(tok) != len) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		ws_fail(err, errlen, -EINVAL, "not a JSON object: %s",
			e == json_tokener_success ? "trailing data after the object" :
			e == json_tokener_continue ? "unexpected end of input" :
			json_tokener_error_desc(e));
		json_object_put(o);
		o = NULL;
	} else if (!json_object_is_type(o, json_type_object)) {
		ws_fail(err, errlen, -EINVAL, "not a JSON object");
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

static int parse_op(struct json_object *o, enum ws_op *op, char *err, size_t errlen)
{
	struct json_object *v = field(o, "op");
	unsigned int i;

	if (!v || !json_object_is_type(v, json_type_string))
		return ws_fail(err, errlen, -EINVAL, "missing string field 'op' (" OP_NAMES ")");
	for (i = 0; i < WS_NR_OPS; i++) {
		if (!strcmp(json_object_get_string(v), op_names[i])) {
			*op = i;
			return 0;
		}
	}
	return ws_fail(err, errlen, -EINVAL, "unknown op '%s' (" OP_NAMES ")",
		       json_object_get_string(v));
}

int ws_request_parse(const char *msg, size_t len, bool privileged, struct ws_request *req,
		     char *err, size_t errlen)
{
	struct json_object *o;
	int ret;

	memset(req, 0, sizeof(*req));
	if (len > WS_CTL_MSG_MAX)
		return ws_fail(err, errlen, -EINVAL, "request longer than %d bytes", WS_CTL_MSG_MAX);
	o = parse_object(msg, len, err, errlen);
	if (!o)
		return -EINVAL;
	ret = parse_op(o, &req->op, err, errlen);
	if (!ret && req->op != WS_OP_GET && !privileged)
		ret = ws_fail(err, errlen, -EPERM, "permission denied: changing wattsched needs "
			      "root");
	if (!ret)
		ret = known_fields(o, req->op, err, errlen);
	if (!ret && parsers[req->op])
		ret = parsers[req->op](o, req, err, errlen);
	json_object_put(o);
	return ret;
}

static void add_clear_or(struct json_object *o, bool clear, const char *key,
			 struct json_object *val)
{
	if (clear) {
		json_object_put(val);
		json_object_object_add(o, "clear", json_object_new_boolean(true));
	} else {
		json_object_object_add(o, key, val);
	}
}

int ws_request_format(const struct ws_request *r, char *buf, size_t len)
{
	struct json_object *o = json_object_new_object();
	int n;

	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "op", json_object_new_string(ws_op_name(r->op)));
	switch (r->op) {
	case WS_OP_POLICY:
		json_object_object_add(o, "policy",
				       json_object_new_string(ws_policy_name(r->policy)));
		break;
	case WS_OP_CAP:
		add_clear_or(o, r->clear, "watts", json_object_new_int64(r->cap_watts));
		break;
	case WS_OP_POWER:
		add_clear_or(o, r->clear, "watts", json_object_new_double(r->power_watts));
		break;
	case WS_OP_RACK:
		if (r->host[0])
			json_object_object_add(o, "host", json_object_new_string(r->host));
		break;
	case WS_OP_CLASS:
		json_object_object_add(o, "cgroup", json_object_new_string(r->cgroup));
		add_clear_or(o, r->clear, "class", json_object_new_string(ws_class_name(r->cls)));
		break;
	case WS_OP_DEVAFF:
		if (r->pid)
			json_object_object_add(o, "pid", json_object_new_int64(r->pid));
		else
			json_object_object_add(o, "cgroup", json_object_new_string(r->cgroup));
		add_clear_or(o, r->clear, "device", json_object_new_string(r->device));
		break;
	default:
		break;
	}
	n = snprintf(buf, len, "%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
					JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return n < (int)len ? n : -ENOSPC;
}
