// SPDX-License-Identifier: GPL-2.0
/* scx.c - the sched_ext state and the pinned maps of a running wattsched (scx.h). */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include "lib/scx.h"
#include "lib/util.h"

bool ws_scx_supported(void)
{
	return access(WS_SCX_STATE, R_OK) == 0;
}

static void read_line(const char *path, char *buf, size_t len)
{
	if (ws_read_file(path, buf, len) < 0)
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

void ws_scx_state(char *buf, size_t len)
{
	read_line(WS_SCX_STATE, buf, len);
}

void ws_scx_ops(char *buf, size_t len)
{
	read_line(WS_SCX_OPS, buf, len);
}

bool ws_attached_or_explain(const char *what)
{
	char state[64], ops[128];

	if (!ws_scx_supported()) {
		ws_err("%s: this kernel has no sched_ext", what);
		return false;
	}
	ws_scx_state(state, sizeof(state));
	ws_scx_ops(ops, sizeof(ops));
	if (!strcmp(state, "enabled") && !strcmp(ops, WS_NAME))
		return true;
	ws_err("%s: wattsched is not running (sched_ext state '%s', attached scheduler: %s)%s",
	       what, state, ops[0] ? ops : "none",
	       access(WS_PIN_DIR "/ws_ctl", F_OK) ? "" :
	       "; the maps pinned at " WS_PIN_DIR " are stale, left by a loader that was killed");
	return false;
}

int ws_open_pinned(const char *name)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", WS_PIN_DIR, name);
	fd = bpf_obj_get(path);
	if (fd < 0 && (errno == EACCES || errno == EPERM))
		ws_err("%s: permission denied: controlling wattsched needs root", path);
	else if (fd < 0)
		ws_err("wattsched is not running (no map pinned at %s: %s)", path, strerror(errno));
	return fd;
}

int ws_stats_read(int fd, __u64 *out)
{
	int nr = libbpf_num_possible_cpus(), c;
	__u64 *vals;
	__u32 i;

	if (nr <= 0)
		return -EINVAL;
	vals = calloc(nr, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (i = 0; i < WS_NR_STATS; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, vals))
			continue;
		for (c = 0; c < nr; c++)
			out[i] += vals[c];
	}
	free(vals);
	return 0;
}
