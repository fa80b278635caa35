// SPDX-License-Identifier: GPL-2.0
/*
 * requests.c - what the daemon does with each control request
 * (ws_daemon_apply(), daemon.h).  Every change of intent is one transition
 * of the policy module, committed whole; rules by cgroup and process go
 * straight to their maps.  Names of cgroups, processes and devices are
 * resolved here, on the daemon's side, so a request is judged against the
 * system the scheduler runs on.
 */
#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "lib/cgroup.h"
#include "lib/names.h"
#include "lib/pci.h"
#include "lib/util.h"

#define DEV_TGID_MAX	4096	/* ws_dev_tgid's max_entries */

/* A part of a request this host cannot carry out: logged, and told to the requester. */
static void __attribute__((format(printf, 2, 3)))
warn(struct json_object *warnings, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ws_warn("%s", buf);
	if (warnings)
		json_object_array_add(warnings, json_object_new_string(buf));
}

static int apply_policy(struct ws_daemon *d, const struct ws_request *req, char *err,
			size_t errlen)
{
	struct ws_intent next = d->intent;

	ws_intent_set_policy(&next, req->policy);
	return ws_daemon_commit(d, &next, err, errlen);
}

static int apply_cap(struct ws_daemon *d, const struct ws_request *req, char *err,
		     size_t errlen)
{
	struct ws_intent next = d->intent;

	if (req->clear)
		ws_intent_clear_cap(&next);
	else
		ws_intent_set_cap(&next, req->cap_watts);
	return ws_daemon_commit(d, &next, err, errlen);
}

/* A reading, not a change of intent: in force before the answer. */
static int apply_power(struct ws_daemon *d, const struct ws_request *req)
{
	struct ws_observed *o = &d->obs;

	if (req->clear) {
		/* a feed retired on purpose: forget it, and the stale state with it */
		memset(&o->pushed, 0, sizeof(o->pushed));
		o->stale.measured_seen = false;
		o->stale.stale = false;
	} else {
		o->pushed.watts = req->power_watts;
		o->pushed.at = ws_mono_now();
	}
	ws_daemon_rederive(d);
	ws_daemon_save(d);
	return 0;
}

static int apply_class(struct ws_daemon *d, const struct ws_request *req, char *err,
		       size_t errlen)
{
	__u64 id;
	int ret;

	ret = ws_cgroup_id(req->cgroup, &id, err, errlen);
	if (ret)
		return ret;
	ret = ws_maps_cgrp_rule(d->maps, WS_RULES_CLASS, id,
				req->clear ? -1 : (long long)req->cls);
	if (ret == -ENOENT && req->clear)
		return ws_fail(err, errlen, ret, "%s has no class rule", req->cgroup);
	if (ret)
		return ws_fail(err, errlen, ret, "writing the class map: %s%s", strerror(-ret),
			       ret == -E2BIG ? " (too many rules)" : "");
	ws_daemon_note_rule(d, req);
	ws_daemon_save(d);
	return 0;
}

/* A process's binding; an exited process may still be unbound. */
static int devaff_pid(struct ws_daemon *d, const struct ws_request *req, int node,
		      __u32 *tgid, char *err, size_t errlen)
{
	int ret;

	ret = ws_pid_tgid(req->pid, tgid, err, errlen);
	if (ret && !req->clear)
		return ret;
	if (ret)
		*tgid = req->pid;
	ret = ws_maps_dev_tgid(d->maps, *tgid, node);
	if (ret == -ENOENT)
		return ws_fail(err, errlen, ret, "pid %u is not bound to a device", *tgid);
	if (ret == -E2BIG)
		return ws_fail(err, errlen, ret, "the table is full (%d processes); 'del' some "
			       "first", DEV_TGID_MAX);
	if (ret)
		return ws_fail(err, errlen, ret, "writing ws_dev_tgid: %s", strerror(-ret));
	return 0;
}

static int devaff_cgroup(struct ws_daemon *d, const struct ws_request *req, int node,
			 char *err, size_t errlen)
{
	__u64 id;
	int ret;

	ret = ws_cgroup_id(req->cgroup, &id, err, errlen);
	if (ret)
		return ret;
	ret = ws_maps_cgrp_rule(d->maps, WS_RULES_DEV, id, node);
	if (ret == -ENOENT)
		return ws_fail(err, errlen, ret, "cgroup %s is not bound to a device", req->cgroup);
	if (ret == -E2BIG)
		return ws_fail(err, errlen, ret, "the table is full (%d cgroups); 'del' some first",
			       WS_MAX_CGRP_RULES);
	if (ret)
		return ws_fail(err, errlen, ret, "writing ws_dev_cgrp: %s", strerror(-ret));
	return 0;
}

static int apply_devaff(struct ws_daemon *d, const struct ws_request *req,
			struct json_object **extra, char *err, size_t errlen)
{
	__u32 tgid = 0;
	int node = -1, ret;

	if (!req->clear) {
		node = ws_pci_node(req->device, err, errlen);
		if (node < 0)
			return node;
	}
	ret = req->pid ? devaff_pid(d, req, node, &tgid, err, errlen) :
			 devaff_cgroup(d, req, node, err, errlen);
	if (ret)
		return ret;
	ws_daemon_note_rule(d, req);
	ws_daemon_save(d);
	*extra = json_object_new_object();
	json_object_object_add(*extra, "node", json_object_new_int(node));
	if (tgid)
		json_object_object_add(*extra, "bound_pid", json_object_new_int64(tgid));
	return 0;
}

/* A document's class rules as the state keeps them: [{cgroup, class}]. */
static struct json_object *rack_classes_json(const struct rack_host *h)
{
	struct json_object *a = json_object_new_array(), *r;
	unsigned int cls;
	size_t i;

	for (cls = 0; cls < WS_NR_CLASSES; cls++) {
		for (i = 0; i < h->classes[cls].nr_cgroups; i++) {
			r = json_object_new_object();
			json_object_object_add(r, "cgroup",
					       json_object_new_string(h->classes[cls].cgroups[i]));
			json_object_object_add(r, "class", json_object_new_string(ws_class_name(cls)));
			json_object_array_add(a, r);
		}
	}
	return a;
}

/*
 * The class rules in @classes ([{cgroup, class}]) that this host can apply;
 * a missing cgroup is a warning.
 */
static size_t rack_rules(struct json_object *classes, struct ws_class_rule *rules, size_t max,
			 const char *what, struct json_object *warnings)
{
	struct json_object *r, *cg, *cl;
	char err[4200];
	size_t i, n = 0;
	int cls;

	for (i = 0; i < json_object_array_length(classes) && n < max; i++) {
		r = json_object_array_get_idx(classes, i);
		if (!json_object_object_get_ex(r, "cgroup", &cg) ||
		    !json_object_object_get_ex(r, "class", &cl) ||
		    (cls = ws_class_from_name(json_object_get_string(cl))) < 0)
			continue;
		if (ws_cgroup_id(json_object_get_string(cg), &rules[n].id, err, sizeof(err))) {
			warn(warnings, "%s: classes.%s: %s; skipped", what, ws_class_name(cls), err);
			continue;
		}
		rules[n++].cls = cls;
	}
	return n;
}

void ws_daemon_restore_rack_classes(struct ws_daemon *d, struct json_object *classes)
{
	static struct ws_class_rule rules[WS_MAX_CGRP_RULES];
	size_t n = rack_rules(classes, rules, WS_MAX_CGRP_RULES, "state file", NULL);
	int ret = ws_maps_rack_classes(d->maps, rules, n);

	if (ret)
		ws_warn("state file: the document's class rules: %s", strerror(-ret));
	json_object_put(d->rack_classes);
	d->rack_classes = json_object_get(classes);
}

/* Write @g's class rules and then its intent; on failure the last document's rules are back. */
static int commit_rack(struct ws_daemon *d, const struct ws_rack_grant *g,
		       const struct ws_class_rule *rules, size_t n, struct json_object *classes,
		       char *err, size_t errlen)
{
	static struct ws_class_rule old[WS_MAX_CGRP_RULES];
	struct json_object *old_classes = d->rack_classes;
	struct ws_intent next = d->intent;
	int nr_old, ret;

	nr_old = ws_maps_cgrp_rules(d->maps->cgrp_class, old, WS_MAX_CGRP_RULES,
				    WS_CGRP_FROM_RACK, WS_CGRP_FROM_RACK);
	if (nr_old < 0)
		return ws_fail(err, errlen, nr_old, "reading the class map: %s", strerror(-nr_old));
	ret = ws_maps_rack_classes(d->maps, rules, n);
	if (ret)
		return ws_fail(err, errlen, ret, "writing the class map: %s", strerror(-ret));
	ws_intent_apply_grant(&next, g, time(NULL), ws_boot_now());
	d->rack_classes = classes;	/* saved with the intent */
	ret = ws_daemon_commit(d, &next, err, errlen);
	if (ret) {
		ws_maps_rack_classes(d->maps, old, nr_old);
		d->rack_classes = old_classes;
		json_object_put(classes);
		return ret;
	}
	json_object_put(old_classes);
	return 0;
}

/*
 * Apply the rack document open on @fd as this host's grant (host @host,
 * "" for the daemon's own id), classes and all, or nothing.  With
 * @if_new, a document whose grant is the one in force changes nothing
 * and returns 1.  *nr_rules gets the number of class rules in force.
 */
static int apply_rack_doc(struct ws_daemon *d, int fd, const char *host, time_t now,
			  const char *what, bool if_new, struct json_object *warnings,
			  size_t *nr_rules, time_t *issued, char *err, size_t errlen)
{
	static struct ws_class_rule rules[WS_MAX_CGRP_RULES];
	struct ws_rack_grant g;
	struct rack_plan plan;
	int ret;

	/* the lease is the grant's to judge, by this host's clock */
	ret = rack_load_fd(fd, host[0] ? host : d->cfg->host_id, 0, &plan, err, errlen);
	if (ret)
		return ret;
	ret = ws_rack_grant_from_plan(&plan, &g, err, errlen);
	*issued = g.issued;
	if (!ret)
		ret = ws_rack_grant_check(&g, now, err, errlen);
	/*
	 * The drop directory applies a document once: seen again unchanged
	 * (an inotify event, a restart) it does not undo a later `cap`.
	 */
	if (!ret && if_new && d->have_rack_seen && !memcmp(&g, &d->rack_seen, sizeof(g)))
		ret = 1;
	if (!ret && if_new) {
		d->rack_seen = g;
		d->have_rack_seen = true;
	}
	if (!ret) {
		struct json_object *classes = rack_classes_json(plan.self);

		*nr_rules = rack_rules(classes, rules, WS_MAX_CGRP_RULES, what, warnings);
		ret = commit_rack(d, &g, rules, *nr_rules, classes, err, errlen);
	}
	rack_plan_free(&plan);
	return ret;
}

static int apply_rack(struct ws_daemon *d, const struct ws_request *req, int fd,
		      struct json_object *warnings, struct json_object **extra, char *err,
		      size_t errlen)
{
	time_t issued;
	size_t n;
	int ret;

	if (fd < 0)
		return ws_fail(err, errlen, -EINVAL, "rack: no document came with the request "
			       "(pass it as a file descriptor)");
	ret = apply_rack_doc(d, fd, req->host, time(NULL), "rack", false, warnings, &n, &issued,
			     err, errlen);
	if (ret)
		return ret;
	*extra = json_object_new_object();
	json_object_object_add(*extra, "class_rules", json_object_new_int64(n));
	return 0;
}

void ws_daemon_rack_dir(struct ws_daemon *d, time_t now)
{
	const struct ws_rack_grant *g = &d->intent.grant;
	char path[4200], err[RACK_ERR_MAX], t[32];
	time_t issued = 0;
	size_t n;
	int fd, ret;

	d->rack_retry_at = 0;
	snprintf(path, sizeof(path), "%s/%s", d->cfg->rack_dir, WS_RACK_DIR_DOC);
	/* O_NONBLOCK: a FIFO put there must not hold up the control loop */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		ws_warn("--rack-dir: no %s: %s; the cap in force stays", path, strerror(errno));
		return;
	}
	ret = apply_rack_doc(d, fd, "", now, "--rack-dir", true, NULL, &n, &issued, err,
			     sizeof(err));
	close(fd);
	if (ret == -EAGAIN) {
		/* issued ahead of this clock: read it again once it is valid here */
		d->rack_retry_at = issued - RACK_CLOCK_SKEW_SEC;
		ws_warn("--rack-dir: %s: %s; read again at that time", path, err);
		return;
	}
	if (ret < 0)
		ws_warn("--rack-dir: %s: %s; ignored, the cap in force stays", path, err);
	if (ret)
		return;
	rack_format_time(g->expires, t, sizeof(t));
	printf("wattsched: rack %s from %s: host %s, share %.3f W: cap %u W, policy %s, "
	       "lease until %s\n", g->rack, path, g->host, g->watts, d->intent.cap_watts,
	       ws_policy_name(d->intent.policy), t);
	printf("wattsched: rack %s: %zu class rules in force, batch duty cycle %u%%\n", g->rack,
	       n, d->intent.batch_duty_pct);
}

int ws_daemon_apply(struct ws_daemon *d, const struct ws_request *req, int fd,
		    struct json_object *warnings, struct json_object **extra, char *err,
		    size_t errlen)
{
	struct json_object *mine = NULL;
	int ret;

	switch (req->op) {
	case WS_OP_GET:
		ret = 0;
		break;
	case WS_OP_POLICY:
		ret = apply_policy(d, req, err, errlen);
		break;
	case WS_OP_CAP:
		ret = apply_cap(d, req, err, errlen);
		break;
	case WS_OP_POWER:
		ret = apply_power(d, req);
		break;
	case WS_OP_CLASS:
		ret = apply_class(d, req, err, errlen);
		break;
	case WS_OP_DEVAFF:
		ret = apply_devaff(d, req, &mine, err, errlen);
		break;
	case WS_OP_RACK:
		ret = apply_rack(d, req, fd, warnings, &mine, err, errlen);
		break;
	default:
		ret = ws_fail(err, errlen, -EINVAL, "unknown op");
	}
	if (extra)
		*extra = mine;
	else
		json_object_put(mine);
	return ret;
}
