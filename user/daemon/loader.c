// SPDX-License-Identifier: GPL-2.0
/*
 * loader.c - the BPF scheduler's lifecycle (loader.h).
 *
 * The kernel's own sched_ext library (tools/sched_ext/include/scx, from the
 * linux-source package `make deps` installs) provides what every sched_ext
 * loader needs and wattsched uses as is: the exit record (UEI_*), the
 * kernel's enum values read from its BTF at load time (SCX_ENUM_INIT), and
 * the hotplug sequence that makes the kernel ask for a restart instead of
 * running on with a stale topology.  The rest is ours only where an error
 * must say more than the library's SCX_BUG_ON would.
 */
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <scx/common.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "daemon/loader.h"
#include "lib/scx.h"
#include "lib/util.h"
#include "wattsched.skel.h"

#define BPF_FS_MAGIC		0xcafe4a11

int ws_loader_lock(void)
{
	char pid[32] = "";
	int fd;

	if (mkdir("/run/wattsched", 0700) && errno != EEXIST) {
		ws_err("run: cannot create /run/wattsched: %s", strerror(errno));
		return -1;
	}
	fd = open(WS_LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		ws_err("run: %s: %s", WS_LOCK_FILE, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		if (errno == EWOULDBLOCK && pread(fd, pid, sizeof(pid) - 1, 0) > 0)
			ws_err("run: another wattsched loader is running on this host (pid %.*s, "
			       "holding %s); stop it first", (int)strcspn(pid, "\n"), pid,
			       WS_LOCK_FILE);
		else
			ws_err("run: cannot lock %s: %s", WS_LOCK_FILE, strerror(errno));
		close(fd);
		return -1;
	}
	snprintf(pid, sizeof(pid), "%d\n", getpid());
	if (ftruncate(fd, 0) || pwrite(fd, pid, strlen(pid), 0) < 0)
		ws_warn("run: writing %s: %s", WS_LOCK_FILE, strerror(errno));
	return fd;
}

static void fill_topology(struct wattsched_bpf *skel, const struct ws_topology *topo)
{
	unsigned int i, j;

	skel->rodata->nr_cpus = topo->nr_cpus;
	skel->rodata->nr_llcs = topo->nr_llcs;
	skel->rodata->nr_nodes = topo->nr_nodes ?: 1;
	for (i = 0; i < topo->nr_cpus; i++) {
		skel->rodata->cpu_topo[i] = topo->cpu[i];
		skel->rodata->smt_sibling[i] = -1;
		for (j = 0; j < topo->nr_cpus; j++) {
			if (j != i && ws_cpu_test(topo->online, j) &&
			    topo->cpu[j].core == topo->cpu[i].core) {
				skel->rodata->smt_sibling[i] = j;
				skel->rodata->has_smt = true;
				break;
			}
		}
	}
	for (i = 0; i < topo->nr_llcs; i++) {
		skel->rodata->llc_node[i] = topo->llc_node[i];
		if (topo->llc_node[i] < WS_MAX_NODES)
			skel->rodata->node_nr_llcs[topo->llc_node[i]]++;
		ws_topology_llc_order(topo, i, (unsigned char *)skel->rodata->llc_steal[i]);
	}
	for (i = 0; i < topo->nr_nodes; i++)
		skel->rodata->nr_node_near[i] =
			ws_topology_node_order(topo, i, (unsigned char *)skel->rodata->node_near[i]);
}

/*
 * The preempt count's bits for a hard IRQ or an NMI, and the one for
 * serving a softirq (bit 8 everywhere): the BPF side's woken_by_interrupt().
 * On x86-64 since 7.x, where __preempt_count is an unsigned long and bits
 * 16-23 count hard-IRQ disabling, the hard IRQ count is bits 24-27 and NMI
 * bits 28-31; before, bits 16-19 and 20-23.  0 (unknown) elsewhere.  The
 * kernel's BTF is the one the sched_ext library keeps for SCX_ENUM_INIT.
 */
static __u32 irq_ctx_mask(void)
{
#if defined(__x86_64__)
	const struct btf_type *var;
	__s32 id;

	__COMPAT_load_vmlinux_btf();
	id = btf__find_by_name_kind(__COMPAT_vmlinux_btf, "__preempt_count", BTF_KIND_VAR);
	var = id > 0 ? btf__type_by_id(__COMPAT_vmlinux_btf, id) : NULL;
	if (var && btf__resolve_size(__COMPAT_vmlinux_btf, var->type) == 8)
		return 0xff000100;
	return 0x00ff0100;
#else
	return 0;
#endif
}

/*
 * With -v: how many instructions the verifier walked for each program
 * (bpf_prog_info.verified_insns), the size of the state space a change to
 * a callback adds to, and what `make bench` reports beside its cost.
 */
static void print_verified(const struct bpf_object *obj)
{
	struct bpf_prog_info info;
	struct bpf_program *prog;
	__u32 len;

	fprintf(stderr, "wattsched: verified instructions:");
	bpf_object__for_each_program(prog, obj) {
		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		if (bpf_prog_get_info_by_fd(bpf_program__fd(prog), &info, &len))
			continue;
		fprintf(stderr, " %s=%u", bpf_program__name(prog), info.verified_insns);
	}
	fprintf(stderr, "\n");
}

/* Open the BPF object, fill in what it is built for, and load it: one try. */
static int load_skel(struct ws_loader *ld, const struct ws_topology *topo,
		     unsigned long long slice_us, const struct ws_thermal_cfg *thermal)
{
	struct wattsched_bpf *skel;
	int ret;

	skel = wattsched_bpf__open();
	if (!skel) {
		ret = -errno;
		ws_err("opening the BPF object: %s", strerror(-ret));
		return ret;
	}
	ld->skel = skel;
	skel->struct_ops.wattsched_ops->hotplug_seq = scx_hotplug_seq();
	SCX_ENUM_INIT(skel);
	fill_topology(skel, topo);
	skel->rodata->slice_ns = slice_us * 1000;
	skel->rodata->hot_limit_mc = thermal->limit_mc;
	skel->rodata->hot_margin_mc = thermal->margin_mc;
	skel->rodata->hot_hyst_mc = thermal->hyst_mc;
	skel->rodata->irq_ctx_mask = irq_ctx_mask();
	UEI_SET_SIZE(skel, wattsched_ops, uei);
	return wattsched_bpf__load(skel);
}

int ws_loader_load(struct ws_loader *ld, const struct ws_topology *topo,
		   unsigned long long slice_us, const struct ws_thermal_cfg *thermal)
{
	struct wattsched_bpf *skel;
	int ret;

	memset(ld, 0, sizeof(*ld));
	ret = load_skel(ld, topo, slice_us, thermal);
	/*
	 * libbpf resolves the telemetry module's kfuncs, then loads the
	 * programs; a module unloaded in between makes the verifier fail
	 * with ENXIO.  Once more, and the kfuncs resolve to nothing.
	 */
	if (ret == -ENXIO) {
		ws_warn("a kernel module whose functions the scheduler calls went away while "
			"it loaded (wattsched_telemetry unloaded?); loading it again");
		wattsched_bpf__destroy(ld->skel);
		ld->skel = NULL;
		ret = load_skel(ld, topo, slice_us, thermal);
	}
	if (ret) {
		if (ld->skel)
			ws_err("loading the scheduler into the kernel failed: %s%s",
			       strerror(-ret), ws_verbose ? "" : " (run with -v for the verifier log)");
		return ret;
	}
	skel = ld->skel;
	if (ws_verbose)
		print_verified(skel->obj);
	ld->maps = (struct ws_maps){
		.ctl = bpf_map__fd(skel->maps.ws_ctl),
		.budget = bpf_map__fd(skel->maps.ws_budget),
		.stats = bpf_map__fd(skel->maps.ws_stats),
		.bound = bpf_map__fd(skel->maps.ws_bound),
		.heat = bpf_map__fd(skel->maps.ws_heat),
		.dev_tgid = bpf_map__fd(skel->maps.ws_dev_tgid),
		.dev_cgrp = bpf_map__fd(skel->maps.ws_dev_cgrp),
		.cgrp_class = bpf_map__fd(skel->maps.ws_cgrp_class),
		.cgrp_token = bpf_map__fd(skel->maps.ws_cgrp_token),
	};
	return 0;
}

/* The maps `status`, the CLI and bpftool reach a running scheduler by. */
static struct bpf_map *pinned_map(struct wattsched_bpf *skel, int i)
{
	struct bpf_map *maps[] = {
		skel->maps.ws_ctl, skel->maps.ws_budget, skel->maps.ws_stats,
		skel->maps.ws_dev_tgid, skel->maps.ws_dev_cgrp, skel->maps.ws_cgrp_class,
	};

	return i < (int)ARRAY_SIZE(maps) ? maps[i] : NULL;
}

static int ensure_bpffs(void)
{
	struct statfs st;

	if (!statfs("/sys/fs/bpf", &st) && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, NULL)) {
		ws_err("cannot mount bpffs on /sys/fs/bpf: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

int ws_loader_pin(struct ws_loader *ld)
{
	struct bpf_map *map;
	char path[256];
	int i, ret;

	ret = ensure_bpffs();
	if (ret)
		return ret;
	if (mkdir(WS_PIN_DIR, 0700) && errno != EEXIST) {
		ws_err("cannot create %s: %s", WS_PIN_DIR, strerror(errno));
		return -errno;
	}
	ld->pinned = true;
	for (i = 0; (map = pinned_map(ld->skel, i)); i++) {
		snprintf(path, sizeof(path), "%s/%s", WS_PIN_DIR, bpf_map__name(map));
		unlink(path);	/* left over by a loader that was killed */
		ret = bpf_map__pin(map, path);
		if (ret) {
			ws_err("cannot pin %s: %s", path, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

static void unpin(struct ws_loader *ld)
{
	struct bpf_map *map;
	char path[256];
	int i;

	for (i = 0; (map = pinned_map(ld->skel, i)); i++) {
		snprintf(path, sizeof(path), "%s/%s", WS_PIN_DIR, bpf_map__name(map));
		unlink(path);
	}
	rmdir(WS_PIN_DIR);
	ld->pinned = false;
}

int ws_loader_attach(struct ws_loader *ld)
{
	char ops[128];
	int ret;

	/*
	 * The object's other programs first: the library's probe that tells
	 * is_migration_disabled() what this kernel's BPF prologue does.  The
	 * struct_ops map is attached on its own, below, to say why it failed.
	 */
	__SCX_OPS_DISABLE_AUTOATTACH(ld->skel, wattsched_ops);
	ret = wattsched_bpf__attach(ld->skel);
	if (ret)
		ws_warn("attaching the migration probe: %s; is_migration_disabled() stays "
			"conservative", strerror(-ret));
	ld->link = bpf_map__attach_struct_ops(ld->skel->maps.wattsched_ops);
	if (ld->link)
		return 0;
	ret = -errno;
	ws_scx_ops(ops, sizeof(ops));
	if (errno == EBUSY || errno == EEXIST)
		ws_err("cannot attach: another sched_ext scheduler (%s) is attached",
		       ops[0] ? ops : "unknown");
	else
		ws_err("attaching the scheduler failed: %s", strerror(-ret));
	return ret;
}

bool ws_loader_exited(const struct ws_loader *ld)
{
	return UEI_EXITED(ld->skel, uei);
}

int ws_loader_detach(struct ws_loader *ld)
{
	struct user_exit_info *e = &ld->skel->data->uei;
	u64 unreg = __COMPAT_ENUM_OR_ZERO("scx_exit_kind", "SCX_EXIT_UNREG");
	s64 ecode;

	if (!ld->link)
		return 0;
	bpf_link__destroy(ld->link);
	ld->link = NULL;
	/* After detach the kernel has run ops.exit and filled the exit record. */
	if (!UEI_EXITED(ld->skel, uei) || (u64)e->kind == unreg) {
		printf("wattsched: detached; the kernel is back on its default scheduler\n");
		return 0;
	}
	ecode = UEI_REPORT(ld->skel, uei);
	ws_err("the kernel ended the scheduler: %s%s%s (kind %d, exit code %#llx)", e->reason,
	       e->msg[0] ? ": " : "", e->msg, e->kind, (unsigned long long)ecode);
	return UEI_ECODE_RESTART(ecode) ? 2 : 1;
}

void ws_loader_destroy(struct ws_loader *ld)
{
	if (ld->link)
		bpf_link__destroy(ld->link);
	if (ld->skel && ld->pinned)
		unpin(ld);
	wattsched_bpf__destroy(ld->skel);
	memset(ld, 0, sizeof(*ld));
}
