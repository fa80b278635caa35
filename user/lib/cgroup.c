// SPDX-License-Identifier: GPL-2.0
/* cgroup.c - cgroup v2 paths and ids (cgroup.h). */
#include <ftw.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "lib/cgroup.h"
#include "lib/util.h"

#define CGROUP2_MAGIC		0x63677270

bool ws_cgroup_path_ok(const char *what, const char *path)
{
	if (path[0] == '/')
		return true;
	ws_err("%s: '%s' is not a cgroup path (give it from the cgroup2 root, e.g. "
	       "/batch.slice, or under %s)", what, path, WS_CGROUP_ROOT);
	return false;
}

int ws_cgroup_id(const char *path, __u64 *id, char *err, size_t errlen)
{
	char full[4096];
	struct statfs sfs;
	struct stat st;

	if (path[0] != '/')
		return ws_fail(err, errlen, -EINVAL, "'%s' is not a cgroup path (give it from the "
			       "cgroup2 root, e.g. /batch.slice, or under %s)", path,
			       WS_CGROUP_ROOT);
	if (!strncmp(path, WS_CGROUP_ROOT "/", sizeof(WS_CGROUP_ROOT)) ||
	    !strcmp(path, WS_CGROUP_ROOT))
		snprintf(full, sizeof(full), "%s", path);
	else if ((size_t)snprintf(full, sizeof(full), "%s%s", WS_CGROUP_ROOT, path) >=
		 sizeof(full))
		return ws_fail(err, errlen, -ENAMETOOLONG, "cgroup path too long: %.64s...", path);
	if (stat(full, &st) || statfs(full, &sfs))
		return ws_fail(err, errlen, -errno, "cgroup %s: %s", full, strerror(errno));
	if (!S_ISDIR(st.st_mode) || sfs.f_type != CGROUP2_MAGIC)
		return ws_fail(err, errlen, -ENOTDIR, "%s is not a cgroup v2 directory", full);
	*id = st.st_ino;
	return 0;
}

/* nftw() has no context argument: the search's target and result. */
static __u64 find_id;
static char find_path[4096];

static int find_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (type != FTW_D || st->st_ino != find_id)
		return 0;
	snprintf(find_path, sizeof(find_path), "%s",
		 path[sizeof(WS_CGROUP_ROOT) - 1] ? path + sizeof(WS_CGROUP_ROOT) - 1 : "/");
	return 1;
}

const char *ws_cgroup_path_of(__u64 id)
{
	find_id = id;
	return nftw(WS_CGROUP_ROOT, find_cb, 16, FTW_PHYS | FTW_MOUNT) == 1 ? find_path : NULL;
}
