// SPDX-License-Identifier: GPL-2.0
/*
 * persist.c - the state file: the operator's intent, the rules set at
 * runtime, the rack document's class rules and the last pushed reading,
 * written atomically after every change and restored when the loader
 * starts again (daemon.h; docs/reliability.md, "What survives what").
 *
 * The file records the command line it was written under (the options
 * that make the starting intent).  A loader started with the same ones
 * continues where the last left off; one started with others starts from
 * its command line, because whoever changed it meant that.  Process rules
 * come back only within the same boot: a pid means nothing after a reboot.
 */
#include <fcntl.h>
#include <json-c/json.h>
#include <libgen.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/state.h"
#include "daemon/daemon.h"
#include "lib/json.h"
#include "lib/names.h"
#include "lib/util.h"
#include "proto/ctlsock.h"

#define STATE_MAX_BYTES		(1 << 20)

static void boot_id(char *buf, size_t len)
{
	if (ws_read_file("/proc/sys/kernel/random/boot_id", buf, len) < 0)
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

/* The rule @req keeps in the state: its request, minus what is the same for all. */
static bool same_rule(struct json_object *a, const struct ws_request *req)
{
	struct ws_request r;
	char err[64];
	const char *text = json_object_to_json_string(a);

	if (ws_request_parse(text, strlen(text), true, &r, err, sizeof(err)))
		return false;
	return r.op == req->op && r.pid == req->pid && !strcmp(r.cgroup, req->cgroup);
}

void ws_daemon_note_rule(struct ws_daemon *d, const struct ws_request *req)
{
	char text[WS_CTL_MSG_MAX];
	size_t i;

	if (!d->rules)
		d->rules = json_object_new_array();
	for (i = 0; i < json_object_array_length(d->rules); i++) {
		if (same_rule(json_object_array_get_idx(d->rules, i), req)) {
			json_object_array_del_idx(d->rules, i, 1);
			break;
		}
	}
	if (!req->clear && ws_request_format(req, text, sizeof(text)) > 0)
		json_object_array_add(d->rules, json_tokener_parse(text));
}

/* Everything the state file holds, as one object (to put). */
static struct json_object *state_object(const struct ws_daemon *d)
{
	struct json_object *o = json_object_new_object(), *p = NULL;
	char id[64];

	boot_id(id, sizeof(id));
	json_object_object_add(o, "version", json_object_new_int(WS_STATE_VERSION));
	json_object_object_add(o, "boot_id", json_object_new_string(id));
	json_object_object_add(o, "saved_at", json_object_new_int64(time(NULL)));
	json_object_object_add(o, "command_line",
			       json_object_new_string(d->cfg->start_options ?: ""));
	json_object_object_add(o, "intent", ws_intent_to_json(&d->intent));
	json_object_object_add(o, "rules", d->rules ? json_object_get(d->rules) :
					    json_object_new_array());
	json_object_object_add(o, "rack_classes", d->rack_classes ?
				json_object_get(d->rack_classes) : json_object_new_array());
	json_object_object_add(o, "rack_dir_seen", d->have_rack_seen ?
			       ws_grant_to_json(&d->rack_seen) : NULL);
	if (d->obs.pushed.at) {
		p = json_object_new_object();
		json_object_object_add(p, "watts", json_object_new_double(d->obs.pushed.watts));
		json_object_object_add(p, "at", json_object_new_int64(time(NULL) -
					(time_t)(ws_mono_now() - d->obs.pushed.at)));
	}
	json_object_object_add(o, "pushed", p);
	return o;
}

/* Write @text to @path atomically: a temporary file beside it, fsync, rename. */
static int write_atomic(const char *path, const char *text, char *err, size_t errlen)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	size_t len = strlen(text);
	int fd, ret = 0;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.state.XXXXXX", dirname(dir)) >= sizeof(tmp))
		return ws_fail(err, errlen, -ENAMETOOLONG, "%s: name too long", path);
	/* systemd's StateDirectory= makes it; by hand, the first save does */
	if (mkdir(dir, 0700) && errno != EEXIST)
		return ws_fail(err, errlen, -errno, "%s: %s", dir, strerror(errno));
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return ws_fail(err, errlen, -errno, "%s: %s", tmp, strerror(errno));
	if (write(fd, text, len) != (ssize_t)len || fsync(fd))
		ret = ws_fail(err, errlen, -errno ?: -EIO, "writing %s: %s", tmp, strerror(errno));
	close(fd);
	if (!ret && rename(tmp, path))
		ret = ws_fail(err, errlen, -errno, "renaming %s to %s: %s", tmp, path,
			      strerror(errno));
	if (ret)
		unlink(tmp);
	return ret;
}

void ws_daemon_save(struct ws_daemon *d)
{
	struct json_object *o = state_object(d);
	char err[512];

	json_object_put(d->saved);
	d->saved = o;	/* for a restart in this process, whether or not a file is kept */
	if (!d->cfg->state_file)
		return;
	if (write_atomic(d->cfg->state_file, ws_json_text(o), err, sizeof(err))) {
		if (!d->save_warned)
			ws_warn("state file: %s; runtime intent will not survive a restart", err);
		d->save_warned = true;
		return;
	}
	d->save_warned = false;
}

struct json_object *ws_state_load(const char *path, char *err, size_t errlen)
{
	struct json_object *o;
	struct stat st;
	char *text;
	int fd, n;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		ws_fail(err, errlen, -errno, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > STATE_MAX_BYTES) {
		ws_fail(err, errlen, -EINVAL, "%s: not a regular file of at most %d bytes", path,
			STATE_MAX_BYTES);
		close(fd);
		return NULL;
	}
	text = calloc(1, st.st_size + 1);
	n = text ? read(fd, text, st.st_size) : -1;
	close(fd);
	o = n == st.st_size ? json_tokener_parse(text) : NULL;
	free(text);
	if (!o || !json_object_is_type(o, json_type_object)) {
		ws_fail(err, errlen, -EINVAL, "%s: not a wattsched state file", path);
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* Replay the rules set at runtime; one that no longer applies is a warning. */
static void restore_rules(struct ws_daemon *d, struct json_object *rules, bool same_boot)
{
	struct ws_request req;
	char err[1024];
	const char *text;
	size_t i;

	for (i = 0; rules && i < json_object_array_length(rules); i++) {
		text = json_object_to_json_string(json_object_array_get_idx(rules, i));
		if (ws_request_parse(text, strlen(text), true, &req, err, sizeof(err)) ||
		    (req.op != WS_OP_CLASS && req.op != WS_OP_DEVAFF)) {
			ws_warn("state file: rule %s: %s; dropped", text, err);
			continue;
		}
		if (req.pid && !same_boot) {
			ws_warn("state file: rule %s is from another boot; dropped", text);
			continue;
		}
		if (ws_daemon_apply(d, &req, -1, NULL, NULL, err, sizeof(err)))
			ws_warn("state file: rule %s: %s; dropped", text, err);
	}
}

/* The last pushed reading, while it is younger than the stale time. */
static void restore_pushed(struct ws_daemon *d, struct json_object *p)
{
	struct json_object *w, *at;
	double age;

	if (!p || !json_object_object_get_ex(p, "watts", &w) ||
	    !json_object_object_get_ex(p, "at", &at))
		return;
	age = difftime(time(NULL), json_object_get_int64(at));
	if (age < 0 || age > d->cfg->stale_s || json_object_get_double(w) <= 0)
		return;
	d->obs.pushed.watts = json_object_get_double(w);
	d->obs.pushed.at = ws_mono_now() - age;
}

int ws_daemon_restore(struct ws_daemon *d, struct json_object *saved, const char *from)
{
	struct json_object *v, *intent;
	struct ws_intent next = d->intent;
	char err[512], id[64];
	bool same_boot;

	if (!json_object_object_get_ex(saved, "version", &v) ||
	    json_object_get_int(v) != WS_STATE_VERSION) {
		ws_warn("%s: not a version %d state file; starting from the command line", from,
			WS_STATE_VERSION);
		return -EPROTO;
	}
	if (!json_object_object_get_ex(saved, "command_line", &v) ||
	    strcmp(json_object_get_string(v), d->cfg->start_options ?: "")) {
		ws_warn("%s: saved under another command line; starting from this one", from);
		return -ESTALE;
	}
	boot_id(id, sizeof(id));
	same_boot = json_object_object_get_ex(saved, "boot_id", &v) &&
		    !strcmp(json_object_get_string(v), id);
	if (!json_object_object_get_ex(saved, "intent", &intent) ||
	    ws_intent_from_json(intent, &next, err, sizeof(err))) {
		ws_warn("%s: intent: %s; starting from the command line", from, err);
		return -EINVAL;
	}
	/* a lease's anchor on CLOCK_BOOTTIME means nothing after a reboot */
	if (next.have_grant && !same_boot)
		next.lease_end_boot = ws_boot_now() + difftime(next.grant.expires, time(NULL));
	if (ws_daemon_commit(d, &next, err, sizeof(err))) {
		ws_warn("%s: %s", from, err);
		return -EIO;
	}
	restore_rules(d, json_object_object_get_ex(saved, "rules", &v) ? v : NULL, same_boot);
	if (json_object_object_get_ex(saved, "rack_classes", &v) && d->intent.have_grant)
		ws_daemon_restore_rack_classes(d, v);
	restore_pushed(d, json_object_object_get_ex(saved, "pushed", &v) ? v : NULL);
	if (json_object_object_get_ex(saved, "rack_dir_seen", &v) && v &&
	    !ws_grant_from_json(v, &d->rack_seen, err, sizeof(err)))
		d->have_rack_seen = true;
	snprintf(d->restored_from, sizeof(d->restored_from), "%s", from);
	d->restored_at = time(NULL);
	printf("wattsched: intent restored from %s: policy %s, cap %u W (origin %s), %zu rules\n",
	       from, ws_policy_name(d->intent.policy), d->intent.cap_watts,
	       ws_cap_origin_name(d->intent.origin),
	       d->rules ? json_object_array_length(d->rules) : 0);
	ws_daemon_save(d);
	return 0;
}
