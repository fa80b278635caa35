/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rackdir.h - the drop directory (`run --rack-dir DIR`): tell the daemon
 * when DIR/rack.json may have changed, so it reads the document again.
 */
#ifndef __WS_RACKDIR_H
#define __WS_RACKDIR_H

#include <stdbool.h>

#define WS_RACK_DIR_DOC		"rack.json"

struct ws_rackdir {
	const char *dir;	/* NULL: no drop directory */
	int watch_fd;		/* inotify on dir, or -1 */
	bool reread;		/* read the document at the next poll */
};

/* Watch @dir (NULL: none).  0, or -errno after printing why. */
int ws_rackdir_open(struct ws_rackdir *rd, const char *dir);
void ws_rackdir_close(struct ws_rackdir *rd);

/* Is the document due to be read: at start, after a change, or after a request? */
bool ws_rackdir_due(struct ws_rackdir *rd);

#endif /* __WS_RACKDIR_H */
