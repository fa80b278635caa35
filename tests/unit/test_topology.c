// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for user/topology.c against a fake sysfs tree: 2 packages x 2
 * cores x 2 threads on 2 nodes, each package its own L3, CPU 7 offline;
 * then 4 nodes with a distance matrix, and without one.
 */
#include <stdbool.h>
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

/*
 * 4 nodes of one 2-thread core each, with the distances of the numa4 VM
 * (tests/run): from node 0, node 2 is nearest (15), then 1 (30), then 3
 * (40); node id order would put 1 first.
 */
static const int dist4[4][4] = {
	{ 10, 30, 15, 40 }, { 30, 10, 20, 15 }, { 15, 20, 10, 30 }, { 40, 15, 30, 10 },
};

static void build_tree4(bool distances)
{
	char rel[256], buf[64];
	int cpu, node;

	put("devices/system/cpu/possible", "0-7\n");
	put("devices/system/cpu/online", "0-7\n");
	for (cpu = 0; cpu < 8; cpu++) {
		node = cpu / 2;
		snprintf(rel, sizeof(rel), "devices/system/cpu/cpu%d/topology/thread_siblings_list", cpu);
		snprintf(buf, sizeof(buf), "%d-%d\n", node * 2, node * 2 + 1);
		put(rel, buf);
		snprintf(rel, sizeof(rel), "devices/system/cpu/cpu%d/cache/index3/level", cpu);
		put(rel, "3\n");
		snprintf(rel, sizeof(rel), "devices/system/cpu/cpu%d/cache/index3/shared_cpu_list", cpu);
		put(rel, buf);
		snprintf(rel, sizeof(rel), "devices/system/cpu/cpu%d/node%d/.keep", cpu, node);
		put(rel, "");
	}
	for (node = 0; node < 4 && distances; node++) {
		snprintf(rel, sizeof(rel), "devices/system/node/node%d/distance", node);
		snprintf(buf, sizeof(buf), "%d %d %d %d\n", dist4[node][0], dist4[node][1],
			 dist4[node][2], dist4[node][3]);
		put(rel, buf);
	}
}

static bool order_is(const unsigned char *got, unsigned int n, const char *want)
{
	char s[64] = "";
	unsigned int i;

	for (i = 0; i < n; i++)
		snprintf(s + strlen(s), sizeof(s) - strlen(s), "%s%u", i ? "," : "", got[i]);
	if (strcmp(s, want))
		printf("#   got %s, want %s\n", s, want);
	return !strcmp(s, want);
}

static void test_distances(void)
{
	static struct ws_topology t;
	unsigned char order[WS_MAX_LLCS];
	char err[256], cmd[128];
	unsigned int n;

	snprintf(root, sizeof(root), "/tmp/ws-topo-XXXXXX");
	if (!mkdtemp(root))
		exit(2);
	build_tree4(true);
	tap_ok(!ws_topology_read(root, &t, err, sizeof(err)) && t.nr_nodes == 4 &&
	       t.nr_llcs == 4 && t.node_dist[0][2] == 15 && t.node_dist[3][1] == 15,
	       "4 nodes, the distance matrix read");
	n = ws_topology_node_order(&t, 0, order);
	tap_ok(order_is(order, n, "2,1,3"), "node order from 0 by distance: 2 (15), 1 (30), 3 (40)");
	n = ws_topology_node_order(&t, 3, order);
	tap_ok(order_is(order, n, "1,2,0"), "node order from 3: 1 (15), 2 (30), 0 (40)");
	n = ws_topology_llc_order(&t, t.cpu[0].llc, order);
	tap_ok(n == 3 && t.llc_node[order[0]] == 2 && t.llc_node[order[1]] == 1 &&
	       t.llc_node[order[2]] == 3, "cpu0's LLC takes work from node 2's LLC, then 1's, 3's");

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd))
		exit(2);
	snprintf(root, sizeof(root), "/tmp/ws-topo-XXXXXX");
	if (!mkdtemp(root))
		exit(2);
	build_tree4(false);
	tap_ok(!ws_topology_read(root, &t, err, sizeof(err)) && t.node_dist[0][3] == 20 &&
	       (n = ws_topology_node_order(&t, 0, order)) && order_is(order, n, "1,2,3"),
	       "no distances: 20 between nodes, order by id");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd))
		exit(2);
}

int main(void)
{
	static struct ws_topology t;
	char err[256], cmd[128];
	int ret;

	tap_plan(17);
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
	test_distances();
	return tap_done();
}
