// SPDX-License-Identifier: GPL-2.0
/* args.c - argument syntax shared by commands (args.h). */
#include "cmd/args.h"
#include "lib/cgroup.h"
#include "lib/names.h"
#include "lib/util.h"

bool ws_is_help(const char *s)
{
	return !strcmp(s, "--help") || !strcmp(s, "-h");
}

static bool copy_cgroup(const char *what, const char *path, struct ws_request *req)
{
	if (!ws_cgroup_path_ok(what, path))
		return false;
	if (strlen(path) >= sizeof(req->cgroup)) {
		ws_err("%s: cgroup path longer than %zu bytes", what, sizeof(req->cgroup) - 1);
		return false;
	}
	strcpy(req->cgroup, path);
	return true;
}

int ws_args_class(const char *what, const char *cgroup, const char *cls,
		  struct ws_request *req)
{
	int c = -1;

	memset(req, 0, sizeof(*req));
	req->op = WS_OP_CLASS;
	if (cls) {
		c = ws_class_from_name(cls);
		if (c < 0) {
			ws_err("%s: unknown class '%s' (" WS_CLASS_NAMES ")", what, cls);
			return 2;
		}
		req->cls = c;
	}
	req->clear = !cls;
	return copy_cgroup(what, cgroup, req) ? 0 : 2;
}

int ws_args_class_rule(const char *what, const char *arg, struct ws_request *req)
{
	char path[WS_CGROUP_PATH_MAX];
	const char *eq = strrchr(arg, '=');

	if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(path)) {
		ws_err("%s: '%s' is not CGROUP=CLASS", what, arg);
		return 2;
	}
	memcpy(path, arg, eq - arg);
	path[eq - arg] = '\0';
	return ws_args_class(what, path, eq + 1, req);
}

int ws_args_devaff(const char *what, const char *target, bool cgroup, const char *addr,
		   struct ws_request *req)
{
	const char *why;

	memset(req, 0, sizeof(*req));
	req->op = WS_OP_DEVAFF;
	req->clear = !addr;
	if (cgroup ? !copy_cgroup(what, target, req) : !ws_parse_pid(target, &req->pid)) {
		if (!cgroup)
			ws_err("%s: '%s' is not a process id (a number in 1..%llu)", what, target,
			       WS_PID_LIMIT);
		return 2;
	}
	if (addr && !ws_parse_pci_addr(addr, req->device, sizeof(req->device), &why)) {
		ws_err("%s: '%s' is not a PCI address: %s", what, addr, why);
		return 2;
	}
	return 0;
}

int ws_args_devaff_rule(const char *what, const char *arg, struct ws_request *req)
{
	char target[WS_CGROUP_PATH_MAX];
	const char *eq = strrchr(arg, '=');

	if (!eq || (size_t)(eq - arg) >= sizeof(target)) {
		ws_err("%s: '%s' is not PID=PCI_ADDR or CGROUP=PCI_ADDR", what, arg);
		return 2;
	}
	memcpy(target, arg, eq - arg);
	target[eq - arg] = '\0';
	return ws_args_devaff(what, target, target[strspn(target, "0123456789")] != '\0', eq + 1,
			      req);
}
