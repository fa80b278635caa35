// SPDX-License-Identifier: GPL-2.0
/*
 * rackdir.c - the drop directory (rackdir.h).
 *
 * The directory is watched, not the file: a ConfigMap update renames a new
 * ..data symlink into place, and a file push renames a new file over
 * rack.json.  Either way the inode a file watch would hold is gone.
 */
#include <sys/inotify.h>
#include <unistd.h>

#include "daemon/rackdir.h"
#include "lib/util.h"

#define K8S_DATA_LINK	"..data"

int ws_rackdir_open(struct ws_rackdir *rd, const char *dir)
{
	int ret;

	rd->dir = dir;
	rd->watch_fd = -1;
	rd->reread = false;
	if (!dir)
		return 0;
	rd->watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (rd->watch_fd < 0) {
		ws_err("--rack-dir: inotify: %s", strerror(errno));
		return -errno;
	}
	if (inotify_add_watch(rd->watch_fd, dir, IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE |
			      IN_DELETE | IN_ONLYDIR) < 0) {
		ret = -errno;
		ws_err("--rack-dir: cannot watch %s: %s", dir, strerror(errno));
		ws_rackdir_close(rd);
		return ret;
	}
	rd->reread = true;
	return 0;
}

void ws_rackdir_close(struct ws_rackdir *rd)
{
	if (rd->watch_fd >= 0)
		close(rd->watch_fd);
	rd->watch_fd = -1;
}

/* Drain the inotify queue; true when an event concerns the document. */
static bool dir_changed(int fd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	bool changed = false;
	ssize_t n;
	char *p;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW)
				changed = true;
			else if (ev->len && (!strcmp(ev->name, WS_RACK_DIR_DOC) ||
					     !strcmp(ev->name, K8S_DATA_LINK)))
				changed = true;
		}
	}
	return changed;
}

bool ws_rackdir_due(struct ws_rackdir *rd)
{
	bool due;

	if (rd->watch_fd >= 0 && dir_changed(rd->watch_fd))
		rd->reread = true;
	due = rd->reread;
	rd->reread = false;
	return due;
}
