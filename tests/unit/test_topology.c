// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for user/topology.c against a fake sysfs tree: 2 packages x 2
 * cores x 2 threads on 2 nodes, each package its own L3, CPU 7 offline.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "core/topology.h"
#include "lib/names.h"
#include "lib/pci.h"
#include "lib/util.h"

static char root[64];

static void put(const char *rel, const char *text)
{
	char path[512], cmd[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	if (system(cmd))
		exit(2);
	f = fopen(path, "w");
	if (!f)
		exit(2);
	fputs(text, f);
	fclose(f);
}

static void build_tree(void)
{
	char rel[256], buf[64];
	int cpu;

	put("devices/system/cpu/possible", "0-7\n");
	put("devices/system/cpu/online", "0-6\n");
	for (cpu = 0; cpu < 8; cpu++) {
		int core = cpu / 2, pkg = cpu / 4;

		snprintf(rel, sizeof(rel), "devices/system/cpu/cpu%d/topology/thread_siblings_list", cpu);
		snprintf(buf, sizeof(buf), "%d-%d\n", core * 2, core * 2 + 1);
		put(rel, buf);
		snprintf(rel, sizeof(rel), "devices/system/cpu/cpu%d/topology/physical_package_id", cpu);
		snprintf(buf, sizeof(buf), "%d\n", pkg);
		put(rel, buf);
		snprintf(rel, sizeof(rel), "devices/system/cpu/cpu%d/cache/index0/level", cpu);
		put(rel, "1\n");
		snprintf(rel, sizeof(rel), "devices/system/cpu/cpu%d/cache/index0/shared_cpu_list", cpu);
		snprintf(buf, sizeof(buf), "%d-%d\n", core * 2, core * 2 + 1);
		put(rel, buf);
		snprintf(rel, sizeof(rel), "devices/system/cpu/cpu%d/cache/index3/level", cpu);
		put(rel, "3\n");
		snprintf(rel, sizeof(rel), "devices/system/cpu/cpu%d/cache/index3/shared_cpu_list", cpu);
		snprintf(buf, sizeof(buf), "%d-%d\n", pkg * 4, pkg * 4 + 3);
		put(rel, buf);
		/* index1 and index2 missing: the scan must not stop at the gap */
		snprintf(rel, sizeof(rel), "devices/system/cpu/cpu%d/node%d/.keep", cpu, pkg);
		put(rel, "");
	}
}

int main(void)
{
	static struct ws_topology t;
	char err[256], cmd[128];
	int ret;

	tap_plan(12);
	snprintf(root, sizeof(root), "/tmp/ws-topo-XXXXXX");
	if (!mkdtemp(root))
		return 2;
	build_tree();

	ret = ws_topology_read(root, &t, err, sizeof(err));
	tap_is_int(ret, 0, "reads the fake tree");
	if (ret)
		printf("# %s\n", err);
	tap_is_int(t.nr_cpus, 8, "8 possible CPUs");
	tap_is_int(t.nr_online, 7, "7 online (cpu7 offline)");
	tap_is_int(t.nr_cores, 4, "4 SMT cores");
	tap_is_int(t.nr_llcs, 2, "2 LLCs, one per package");
	tap_is_int(t.nr_nodes, 2, "2 NUMA nodes");
	tap_ok(t.cpu[0].core == t.cpu[1].core && t.cpu[1].core != t.cpu[2].core,
	       "siblings share a core, neighbours don't");
	tap_ok(t.cpu[2].llc == t.cpu[3].llc && t.cpu[3].llc != t.cpu[4].llc,
	       "LLC boundary between packages");
	tap_ok(t.cpu[5].node == 1 && t.llc_node[t.cpu[5].llc] == 1, "cpu5 on node 1, so is its LLC");
	tap_is_int(t.llc_first_cpu[t.cpu[6].llc], 4, "LLC named by its first CPU");

	put("devices/system/cpu/possible", "0-2000\n");
	ret = ws_topology_read(root, &t, err, sizeof(err));
	tap_is_int(ret, -ERANGE, "more CPUs than WS_MAX_CPUS refused");
	tap_ok(strstr(err, "not supported") != NULL, "with a reason");

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd))
		return 2;
	return tap_done();
}
