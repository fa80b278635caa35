// SPDX-License-Identifier: GPL-2.0
/*
 * topology.c - build wattsched's domains from sysfs.
 *
 * Core: the SMT siblings (topology/thread_siblings_list), named by the first
 * sibling.  LLC: CPUs sharing cache/index3, or the highest cache level
 * present when there is no L3, named by the first CPU of shared_cpu_list.
 * Node and the distances between nodes: libnuma's (numa_node_of_cpu(),
 * numa_distance()); when libnuma says the host has no NUMA, and in a fake
 * tree, the CPU's node<N> link (node 0 without one) and node/nodeN/distance.
 * Package: topology/physical_package_id.  Offline CPUs keep their slot but
 * join no domain; the scheduler restarts on hotplug and reads it all again.
 */
#include <dirent.h>
#include <numa.h>
#include <stdlib.h>

#include "core/topology.h"
#include "lib/util.h"

static int first_cpu_of_list(const char *path)
{
	char buf[4096];
	int ret;

	ret = ws_read_file(path, buf, sizeof(buf));
	if (ret < 0)
		return ret;
	if (buf[0] < '0' || buf[0] > '9')
		return -EINVAL;
	return atoi(buf);
}

static int read_int(const char *path, int *val)
{
	char buf[64], *end;
	long v;
	int ret;

	ret = ws_read_file(path, buf, sizeof(buf));
	if (ret < 0)
		return ret;
	v = strtol(buf, &end, 10);
	if (end == buf || (*end && *end != '\n'))
		return -EINVAL;
	*val = v;
	return 0;
}

/* The CPU naming the LLC domain of @cpu: the first CPU sharing its LLC. */
static int llc_leader(const char *sysfs, unsigned int cpu)
{
	char path[512];
	int idx, best = -1, best_level = -1;

	for (idx = 0; idx < 16; idx++) {
		int level;

		snprintf(path, sizeof(path), "%s/devices/system/cpu/cpu%u/cache/index%d/level",
			 sysfs, cpu, idx);
		if (read_int(path, &level))
			continue;	/* indices need not be contiguous */
		if (level > best_level) {
			best_level = level;
			best = idx;
		}
	}
	if (best < 0)
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/devices/system/cpu/cpu%u/cache/index%d/shared_cpu_list",
		 sysfs, cpu, best);
	return first_cpu_of_list(path);
}

static int cpu_node(const char *sysfs, unsigned int cpu)
{
	char path[512];
	struct dirent *de;
	int node = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/devices/system/cpu/cpu%u", sysfs, cpu);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!strncmp(de->d_name, "node", 4) && de->d_name[4] >= '0' && de->d_name[4] <= '9') {
			node = atoi(de->d_name + 4);
			break;
		}
	}
	closedir(d);
	return node;
}

/* Distances between the nodes with CPUs: libnuma's (@numa), or sysfs's files. */
static void read_distances(const char *sysfs, bool numa, struct ws_topology *topo)
{
	unsigned int a, b;
	char path[512], buf[4096], *p, *end;
	long d;

	for (a = 0; a < topo->nr_nodes; a++) {
		for (b = 0; b < topo->nr_nodes; b++)
			topo->node_dist[a][b] = a == b ? WS_NODE_LOCAL_DIST : WS_NODE_REMOTE_DIST;
		if (numa) {
			for (b = 0; b < topo->nr_nodes; b++) {
				d = numa_distance(a, b);
				if (d > 0 && d < 256)
					topo->node_dist[a][b] = d;
			}
			continue;
		}
		snprintf(path, sizeof(path), "%s/devices/system/node/node%u/distance", sysfs, a);
		if (ws_read_file(path, buf, sizeof(buf)) < 0)
			continue;
		for (b = 0, p = buf; b < topo->nr_nodes; b++, p = end) {
			d = strtol(p, &end, 10);
			if (end == p)
				break;
			if (d > 0 && d < 256)
				topo->node_dist[a][b] = d;
		}
	}
}

/* Map a sparse id to a dense index, allocating in first-seen order. */
static unsigned int dense(int *ids, unsigned int *nr, unsigned int max, int id)
{
	unsigned int i;

	for (i = 0; i < *nr; i++)
		if (ids[i] == id)
			return i;
	if (*nr >= max)
		return ~0U;
	ids[*nr] = id;
	return (*nr)++;
}

int ws_topology_read(const char *sysfs, struct ws_topology *topo, char *err, size_t errlen)
{
	static int core_ids[WS_MAX_CPUS], llc_ids[WS_MAX_LLCS], pkg_ids[WS_MAX_CPUS];
	/* libnuma reads the live system; asked once whether it has NUMA at all */
	bool numa = !strcmp(sysfs, "/sys") && numa_available() >= 0;
	__u64 possible[WS_CPU_WORDS];
	char path[512], buf[4096];
	unsigned int cpu;
	int ret;

	memset(topo, 0, sizeof(*topo));
	snprintf(path, sizeof(path), "%s/devices/system/cpu/possible", sysfs);
	ret = ws_read_file(path, buf, sizeof(buf));
	if (ret < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	ret = ws_parse_cpulist(buf, possible, WS_MAX_CPUS);
	if (ret) {
		snprintf(err, errlen, "%s: %s (more than %d CPUs are not supported)", path,
			 ret == -ERANGE ? "CPU id out of range" : "malformed cpulist", WS_MAX_CPUS);
		return ret;
	}
	snprintf(path, sizeof(path), "%s/devices/system/cpu/online", sysfs);
	ret = ws_read_file(path, buf, sizeof(buf));
	if (ret < 0 || ws_parse_cpulist(buf, topo->online, WS_MAX_CPUS)) {
		snprintf(err, errlen, "%s: unreadable or malformed", path);
		return -EINVAL;
	}

	for (cpu = 0; cpu < WS_MAX_CPUS; cpu++) {
		struct ws_cpu_topo *t = &topo->cpu[cpu];
		int core, llc, node, pkg = 0;

		if (!ws_cpu_test(possible, cpu))
			continue;
		topo->nr_cpus = cpu + 1;
		if (!ws_cpu_test(topo->online, cpu))
			continue;
		topo->nr_online++;

		snprintf(path, sizeof(path),
			 "%s/devices/system/cpu/cpu%u/topology/thread_siblings_list", sysfs, cpu);
		core = first_cpu_of_list(path);
		if (core < 0)
			core = cpu;	/* no SMT information: each CPU is a core */
		llc = llc_leader(sysfs, cpu);
		if (llc < 0)
			llc = 0;	/* no cache information: one LLC domain */
		node = numa ? numa_node_of_cpu(cpu) : -1;
		if (node < 0)	/* a fake tree, no NUMA, or libnuma does not know the CPU */
			node = cpu_node(sysfs, cpu);
		if (node < 0 || node >= WS_MAX_NODES) {
			snprintf(err, errlen, "cpu%u: NUMA node %d out of range", cpu, node);
			return -ERANGE;
		}
		snprintf(path, sizeof(path),
			 "%s/devices/system/cpu/cpu%u/topology/physical_package_id", sysfs, cpu);
		if (read_int(path, &pkg))
			pkg = 0;

		t->core = dense(core_ids, &topo->nr_cores, WS_MAX_CPUS, core);
		t->llc = dense(llc_ids, &topo->nr_llcs, WS_MAX_LLCS, llc);
		t->pkg = dense(pkg_ids, &topo->nr_pkgs, WS_MAX_CPUS, pkg);
		t->node = node;
		if (t->llc == ~0U) {
			snprintf(err, errlen, "more than %d LLC domains", WS_MAX_LLCS);
			return -ERANGE;
		}
		topo->llc_node[t->llc] = node;
		topo->llc_first_cpu[t->llc] = llc;
		if ((unsigned int)node + 1 > topo->nr_nodes)
			topo->nr_nodes = node + 1;
	}
	if (!topo->nr_online) {
		snprintf(err, errlen, "no online CPU found under %s", sysfs);
		return -ENOENT;
	}
	read_distances(sysfs, numa, topo);
	return 0;
}

static bool node_has_cpus(const struct ws_topology *topo, unsigned int node)
{
	unsigned int llc;

	for (llc = 0; llc < topo->nr_llcs; llc++)
		if (topo->llc_node[llc] == node)
			return true;
	return false;
}

unsigned int ws_topology_node_order(const struct ws_topology *topo, unsigned int node,
				    unsigned char *order)
{
	unsigned int i, j, n = 0;
	unsigned char t;

	for (i = 0; i < topo->nr_nodes && node < WS_MAX_NODES; i++)
		if (i != node && node_has_cpus(topo, i))
			order[n++] = i;
	/* insertion sort by distance from @node; stable, so ties stay by id */
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && topo->node_dist[node][order[j - 1]] >
				     topo->node_dist[node][order[j]]; j--) {
			t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	return n;
}

unsigned int ws_topology_llc_order(const struct ws_topology *topo, unsigned int llc,
				   unsigned char *order)
{
	unsigned char nodes[WS_MAX_NODES];
	unsigned int home = topo->llc_node[llc], i, k, nn, n = 0;

	for (i = 0; i < topo->nr_llcs; i++)
		if (i != llc && topo->llc_node[i] == home)
			order[n++] = i;
	nn = ws_topology_node_order(topo, home, nodes);
	for (k = 0; k < nn; k++)
		for (i = 0; i < topo->nr_llcs; i++)
			if (topo->llc_node[i] == nodes[k])
				order[n++] = i;
	return n;
}
