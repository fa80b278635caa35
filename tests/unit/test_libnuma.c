// SPDX-License-Identifier: GPL-2.0
/*
 * test_libnuma.c - user/core/topology.c on the live /sys with libnuma's
 * answers replaced (the link wraps numa_available, numa_node_of_cpu and
 * numa_distance; tests/tests.mk): what libnuma says is used, and a host
 * where libnuma says "no NUMA" (numa_available() < 0) or does not know a CPU
 * falls back to each CPU's sysfs node link, without asking libnuma again.
 */
#include <glob.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "tap.h"
#include "core/topology.h"

static int numa_state;		/* what numa_available() returns */
static bool cpu_unknown;	/* numa_node_of_cpu() knows no CPU */
static int calls_node, calls_dist, calls_avail;

int __wrap_numa_available(void);
int __wrap_numa_node_of_cpu(int cpu);
int __wrap_numa_distance(int a, int b);

int __wrap_numa_available(void)
{
	calls_avail++;
	return numa_state;
}

/* A fake layout: odd CPUs on node 1, at distance 25 from node 0. */
int __wrap_numa_node_of_cpu(int cpu)
{
	calls_node++;
	return cpu_unknown ? -1 : cpu % 2;
}

int __wrap_numa_distance(int a, int b)
{
	calls_dist++;
	return a == b ? 10 : 25;
}

/* The oracle: the node of @cpu by its sysfs link (cpuN/nodeM), 0 without one. */
static int sysfs_node(unsigned int cpu)
{
	char pat[96];
	glob_t g;
	int node = 0;

	snprintf(pat, sizeof(pat), "/sys/devices/system/cpu/cpu%u/node[0-9]*", cpu);
	if (!glob(pat, 0, NULL, &g) && g.gl_pathc)
		node = atoi(strrchr(g.gl_pathv[0], '/') + 5);
	globfree(&g);
	return node;
}

/* Every online CPU on its sysfs node. */
static bool nodes_from_sysfs(const struct ws_topology *t)
{
	unsigned int cpu;

	for (cpu = 0; cpu < t->nr_cpus; cpu++)
		if (ws_cpu_test(t->online, cpu) && (int)t->cpu[cpu].node != sysfs_node(cpu)) {
			printf("# cpu%u: node %u, sysfs says %d\n", cpu, t->cpu[cpu].node,
			       sysfs_node(cpu));
			return false;
		}
	return true;
}

static void reset(int state, bool unknown)
{
	numa_state = state;
	cpu_unknown = unknown;
	calls_node = calls_dist = calls_avail = 0;
}

int main(void)
{
	static struct ws_topology t;
	char err[256];
	int ret;

	if (access("/sys/devices/system/cpu/online", R_OK) ||
	    sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		printf("TAP version 13\n1..0 # SKIP needs /sys and 2 online CPUs\n");
		return 0;
	}
	tap_plan(8);

	reset(0, false);
	ret = ws_topology_read("/sys", &t, err, sizeof(err));
	tap_is_int(ret, 0, "libnuma: reads /sys");
	tap_ok(t.nr_nodes == 2 && t.cpu[1].node == 1 && t.cpu[0].node == 0,
	       "libnuma: nodes are numa_node_of_cpu()'s");
	tap_ok(t.node_dist[0][1] == 25 && t.node_dist[1][0] == 25 && t.node_dist[1][1] == 10,
	       "libnuma: distances are numa_distance()'s");
	tap_is_int(calls_avail, 1, "libnuma: numa_available() asked once");

	reset(-1, false);
	ret = ws_topology_read("/sys", &t, err, sizeof(err));
	tap_is_int(ret, 0, "no NUMA: reads /sys all the same");
	tap_ok(calls_node == 0 && calls_dist == 0, "no NUMA: libnuma is not asked for nodes");
	tap_ok(nodes_from_sysfs(&t), "no NUMA: each CPU on its sysfs node");

	reset(0, true);
	ret = ws_topology_read("/sys", &t, err, sizeof(err));
	tap_ok(!ret && calls_node > 0 && nodes_from_sysfs(&t),
	       "a CPU libnuma does not know: its sysfs node");
	return tap_done();
}
