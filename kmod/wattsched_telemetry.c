// SPDX-License-Identifier: GPL-2.0
/*
 * wattsched_telemetry.c - hardware telemetry for the wattsched scheduler.
 *
 * Creates /sys/kernel/debug/wattsched/ with read-only files describing PCIe
 * links and AER status, thermal state, RAPL energy and CPU topology, and,
 * only with inject=1 (TEST ONLY), inject/ files that fake thermal, power and
 * link values.  Each file is a "# wattsched-telemetry NAME vN" header line
 * followed by records of space-separated key=value fields; see
 * docs/telemetry.md for every field.  Six kfuncs give a sched_ext
 * scheduler the CPUs' temperatures, the packages' power and a PCIe
 * function's node and link from caches, without sleeping.
 *
 * Locking: ws_lock (a mutex) protects all module state: AER samples,
 * RAPL accumulators, injected values and the kfuncs' caches, which the
 * kfuncs read locklessly (see ws_tcache_refresh(), ws_pcache_refresh(),
 * ws_pdev_refresh()).  It nests outside the CPU hotplug
 * lock and inside pci_lock_rescan_remove(): a PCI walk takes ws_lock per
 * device, never across the walk, so a slow `pcie` read never holds up the
 * thermal and power readers.  Every reader runs in process context,
 * so the cross-CPU MSR reads (rdmsrq_safe_on_cpu(), which waits for an IPI)
 * and PCI config reads may sleep.
 *
 * Unload: the files are created with debugfs_create_file(), which gives
 * them debugfs' full proxy: every read/write runs between
 * debugfs_file_get()/debugfs_file_put(), and debugfs_remove_recursive()
 * waits for those to drain before it returns.  An open file also holds a
 * module reference (fops .owner), so rmmod fails with EBUSY while one is
 * open.  ws_exit() therefore removes the directory first and only then
 * stops the RAPL and thermal polls and the hotplug refresh, and frees
 * state.  A loaded BPF program
 * that calls the kfuncs holds the module too (its BTF), so no kfunc runs
 * once ws_exit() can.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitfield.h>
#include <linux/bitops.h>
#include <linux/bsearch.h>
#include <linux/bpf.h>
#include <linux/btf.h>
#include <linux/btf_ids.h>
#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/cpumask.h>
#include <linux/ctype.h>
#include <linux/debugfs.h>
#include <linux/kernel.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/rcupdate.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/string.h>
#include <linux/thermal.h>
#include <linux/timekeeping.h>
#include <linux/topology.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#ifdef CONFIG_X86
#include <asm/apicdef.h>
#include <asm/cpufeature.h>
#include <asm/msr.h>
#include <asm/processor.h>
#endif

#include "wattsched_telemetry.h"

/* What older kernels lack (kmod/Kbuild looks). */
#ifdef WS_RDMSRL_NAMES
#define rdmsrq_safe_on_cpu rdmsrl_safe_on_cpu
#endif
#ifdef WS_NO_CPUS_HELD_EXPORT
#define lockdep_assert_cpus_held() do { } while (0)
#endif

static bool inject;
module_param(inject, bool, 0444);
MODULE_PARM_DESC(inject,
		 "TEST ONLY: create inject/ to fake thermal, power and link values (default 0)");

static char *thermal_zones = "acpitz,x86_pkg_temp";
module_param(thermal_zones, charp, 0444);
MODULE_PARM_DESC(thermal_zones,
		 "comma-separated thermal zone types to report (default acpitz,x86_pkg_temp)");

static unsigned int thermal_poll_ms = WS_TELEMETRY_POLL_MS_DEFAULT;
module_param(thermal_poll_ms, uint, 0444);
MODULE_PARM_DESC(thermal_poll_ms,
		 "how often the kfuncs' cache reads the CPUs' thermal sensors, 10..10000 ms (default 100)");

#define WS_MAX_PKGS		64

enum ws_rapl_domain {
	WS_RAPL_PKG,
	WS_RAPL_DRAM,
	WS_RAPL_NR,
};

static const char * const ws_rapl_domain_name[WS_RAPL_NR] = {
	[WS_RAPL_PKG] = "package",
	[WS_RAPL_DRAM] = "dram",
};

/* Per package state, found by physical package id; id < 0: free slot */
struct ws_pkg {
	int id;
	/* RAPL: raw counter at the last sample and counts accumulated since load */
	bool rapl_tried;
	bool rapl[WS_RAPL_NR];
	u32 rapl_last[WS_RAPL_NR];
	u64 rapl_counts[WS_RAPL_NR];
	u8 rapl_esu;
	/* injected package temperature */
	bool inj_temp;
	int inj_temp_mc;
	bool inj_throttle;
	/* injected energy: fixed, or growing at inj_mw since inj_t0_ns */
	bool inj_power[WS_RAPL_NR];
	u64 inj_energy_uj[WS_RAPL_NR];
	u32 inj_mw[WS_RAPL_NR];
	u64 inj_t0_ns[WS_RAPL_NR];
};

/* Per injected CPU temperature, indexed by CPU number */
struct ws_cpu_inj {
	bool set;
	int temp_mc;
	bool throttle;
};

/* Per PCIe function state, keyed by ws_fn_key() */
struct ws_fn {
	u16 vendor;
	u16 device;
	u32 cor_last;
	u32 uncor_last;
	u64 cor_count;
	u64 nonfatal_count;
	u64 fatal_count;
	bool aer_seen;
	/* injected link values, 0 = not injected */
	u8 inj_cap_speed;
	u8 inj_cap_width;
	u8 inj_sta_speed;
	u8 inj_sta_width;
};

static DEFINE_MUTEX(ws_lock);
static struct ws_pkg ws_pkgs[WS_MAX_PKGS];
static struct ws_cpu_inj *ws_cpu_inj;
static DEFINE_XARRAY(ws_fns);
static struct dentry *ws_dir;
static bool ws_have_rapl;
static u32 ws_rapl_msr[WS_RAPL_NR];

static void ws_rapl_poll(struct work_struct *work);
static DECLARE_DELAYED_WORK(ws_rapl_work, ws_rapl_poll);

/* Per CPU: the reading the kfuncs return (ws_tcache_refresh()) */
struct ws_tcache {
	int temp_mc;
	int limit_mc;
};

static struct ws_tcache *ws_tcache, *ws_tnext;
static atomic_t ws_tgen;
/* The packages' power the kfunc returns, mW (ws_pcache_refresh()) */
static s32 ws_pwr_mw = WS_TELEMETRY_POWER_UNKNOWN;
static void ws_tpoll(struct work_struct *work);
static DECLARE_DELAYED_WORK(ws_tpoll_work, ws_tpoll);
static void ws_thotplug(struct work_struct *work);
static DECLARE_WORK(ws_thotplug_work, ws_thotplug);
static enum cpuhp_state ws_cpuhp_state;

static void ws_header(struct seq_file *m, const char *name)
{
	seq_printf(m, WS_TELEMETRY_MAGIC " %s v%d\n", name, WS_TELEMETRY_FORMAT_VERSION);
}

/* Print s with anything that would break key=value parsing replaced by '_' */
static void ws_put_word(struct seq_file *m, const char *s)
{
	if (!*s) {
		seq_putc(m, '-');
		return;
	}
	for (; *s; s++)
		seq_putc(m, (*s > ' ' && *s < 0x7f && *s != '=') ? *s : '_');
}

/* ---- packages -------------------------------------------------------- */

static int ws_pkg_cpu(int id)
{
	int cpu;

	for_each_online_cpu(cpu)
		if (topology_physical_package_id(cpu) == id)
			return cpu;
	return -1;
}

static struct ws_pkg *ws_pkg_get(int id, bool create)
{
	struct ws_pkg *free = NULL;
	int i;

	lockdep_assert_held(&ws_lock);
	for (i = 0; i < WS_MAX_PKGS; i++) {
		if (ws_pkgs[i].id == id)
			return &ws_pkgs[i];
		if (!free && ws_pkgs[i].id < 0)
			free = &ws_pkgs[i];
	}
	if (!create || !free)
		return NULL;
	memset(free, 0, sizeof(*free));
	free->id = id;
	return free;
}

/* Is cpu the first online CPU of its package?  Caller holds cpus_read_lock(). */
static bool ws_first_in_pkg(int cpu)
{
	return ws_pkg_cpu(topology_physical_package_id(cpu)) == cpu;
}

/* The next online CPU after @cpu that is the first of its package, or >= nr_cpu_ids. */
static int ws_next_pkg_cpu(int cpu)
{
	do
		cpu = cpumask_next(cpu, cpu_online_mask);
	while (cpu < nr_cpu_ids && !ws_first_in_pkg(cpu));
	return cpu;
}

/* For each online package, @cpu its first online CPU.  Caller holds cpus_read_lock(). */
#define for_each_online_pkg_cpu(cpu)					\
	for ((cpu) = ws_next_pkg_cpu(-1); (cpu) < nr_cpu_ids;		\
	     (cpu) = ws_next_pkg_cpu(cpu))

/* ---- x86 MSRs: digital thermal sensors and RAPL ----------------------- */

#ifdef CONFIG_X86
#define WS_DTS_VALID		BIT_ULL(31)
#define WS_DTS_READOUT		GENMASK_ULL(22, 16)
#define WS_DTS_STATUS		BIT_ULL(0)
#define WS_TJMAX		GENMASK_ULL(23, 16)
#define WS_RAPL_ESU		GENMASK_ULL(12, 8)

static u32 ws_rapl_unit_msr;

static bool ws_have_dts(void)
{
	return boot_cpu_has(X86_FEATURE_DTHERM);
}

static bool ws_have_pts(void)
{
	return boot_cpu_has(X86_FEATURE_PTS);
}

/* TjMax of cpu's package in m°C; 0 when the MSR is absent or reads 0. */
static int ws_tjmax_mc(int cpu)
{
	u64 v;

	if (rdmsrq_safe_on_cpu(cpu, MSR_IA32_TEMPERATURE_TARGET, &v))
		return 0;
	return FIELD_GET(WS_TJMAX, v) * 1000;
}

/*
 * Read cpu's core (IA32_THERM_STATUS) or package (IA32_PACKAGE_THERM_STATUS)
 * digital thermal sensor: the temperature in m°C, from TjMax minus the
 * readout, and the current thermal status (PROCHOT/throttling) bit.
 */
static int ws_read_dts(int cpu, bool pkg, int tjmax_mc, int *temp_mc, bool *throttle)
{
	u64 v;

	if (!tjmax_mc)
		return -ENODATA;
	if (rdmsrq_safe_on_cpu(cpu, pkg ? MSR_IA32_PACKAGE_THERM_STATUS :
			       MSR_IA32_THERM_STATUS, &v))
		return -ENODATA;
	/* only the core MSR has a "reading valid" bit */
	if (!pkg && !(v & WS_DTS_VALID))
		return -ENODATA;
	*temp_mc = tjmax_mc - (int)FIELD_GET(WS_DTS_READOUT, v) * 1000;
	*throttle = v & WS_DTS_STATUS;
	return 0;
}

/* Pick the vendor's RAPL MSRs; packages are probed in ws_rapl_init_pkg(). */
static void ws_rapl_detect(void)
{
	if ((boot_cpu_data.x86_vendor == X86_VENDOR_AMD ||
	     boot_cpu_data.x86_vendor == X86_VENDOR_HYGON) &&
	    boot_cpu_has(X86_FEATURE_RAPL)) {
		ws_rapl_unit_msr = MSR_AMD_RAPL_POWER_UNIT;
		ws_rapl_msr[WS_RAPL_PKG] = MSR_AMD_PKG_ENERGY_STATUS;
	} else if (boot_cpu_data.x86_vendor == X86_VENDOR_INTEL) {
		ws_rapl_unit_msr = MSR_RAPL_POWER_UNIT;
		ws_rapl_msr[WS_RAPL_PKG] = MSR_PKG_ENERGY_STATUS;
		ws_rapl_msr[WS_RAPL_DRAM] = MSR_DRAM_ENERGY_STATUS;
	}
}

/*
 * First look at a package: read its energy unit and the starting value of
 * each domain's counter.  A register that faults, or reads 0 (which no
 * running package's unit or energy counter does), means "absent".
 */
static void ws_rapl_init_pkg(struct ws_pkg *p, int cpu)
{
	enum ws_rapl_domain d;
	u64 v;

	p->rapl_tried = true;
	if (!ws_rapl_unit_msr || rdmsrq_safe_on_cpu(cpu, ws_rapl_unit_msr, &v) ||
	    !FIELD_GET(WS_RAPL_ESU, v))
		return;
	p->rapl_esu = FIELD_GET(WS_RAPL_ESU, v);
	for (d = 0; d < WS_RAPL_NR; d++) {
		if (!ws_rapl_msr[d] || rdmsrq_safe_on_cpu(cpu, ws_rapl_msr[d], &v) ||
		    !(u32)v)
			continue;
		p->rapl[d] = true;
		p->rapl_last[d] = v;
		p->rapl_counts[d] = 0;
		ws_have_rapl = true;
	}
}

/* Add the counter's advance since the last sample; u32 arithmetic handles one wrap. */
static void ws_rapl_sample_pkg(struct ws_pkg *p, int cpu)
{
	enum ws_rapl_domain d;
	u64 v;

	for (d = 0; d < WS_RAPL_NR; d++) {
		if (!p->rapl[d] || rdmsrq_safe_on_cpu(cpu, ws_rapl_msr[d], &v))
			continue;
		p->rapl_counts[d] += (u32)((u32)v - p->rapl_last[d]);
		p->rapl_last[d] = v;
	}
}

static void ws_put_llc(struct seq_file *m, int cpu)
{
	u32 llc = per_cpu_llc_id(cpu);

	if (llc == BAD_APICID)
		seq_puts(m, "unavailable");
	else
		seq_printf(m, "%u", llc);
}
#else
static bool ws_have_dts(void)
{
	return false;
}

static bool ws_have_pts(void)
{
	return false;
}

static int ws_tjmax_mc(int cpu)
{
	return 0;
}

static int ws_read_dts(int cpu, bool pkg, int tjmax_mc, int *temp_mc, bool *throttle)
{
	return -ENODATA;
}

static void ws_rapl_detect(void)
{
}

static void ws_rapl_init_pkg(struct ws_pkg *p, int cpu)
{
	p->rapl_tried = true;
}

static void ws_rapl_sample_pkg(struct ws_pkg *p, int cpu)
{
}

static void ws_put_llc(struct seq_file *m, int cpu)
{
	seq_puts(m, "unavailable");
}
#endif

/* Sample every package's RAPL counters.  Caller holds ws_lock and cpus_read_lock(). */
static void ws_rapl_sample_all(void)
{
	struct ws_pkg *p;
	int cpu;

	lockdep_assert_held(&ws_lock);
	for_each_online_pkg_cpu(cpu) {
		p = ws_pkg_get(topology_physical_package_id(cpu), true);
		if (!p)
			continue;
		if (!p->rapl_tried)
			ws_rapl_init_pkg(p, cpu);
		else
			ws_rapl_sample_pkg(p, cpu);
	}
}

/* ---- version --------------------------------------------------------- */

static int ws_version_show(struct seq_file *m, void *unused)
{
	ws_header(m, "version");
	seq_printf(m, "module=%s format=%d inject=%d\n", WS_TELEMETRY_MODULE_VERSION,
		   WS_TELEMETRY_FORMAT_VERSION, inject);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ws_version);

/* ---- pcie ------------------------------------------------------------ */

/* LnkCap/LnkSta speed encodings 1..6 */
static const char * const ws_speed_names[] = {
	[1] = "2.5", [2] = "5", [3] = "8", [4] = "16", [5] = "32", [6] = "64",
};

static const char *ws_speed_name(u8 enc)
{
	return enc < ARRAY_SIZE(ws_speed_names) ? ws_speed_names[enc] : NULL;
}

static bool ws_width_valid(unsigned int w)
{
	return w == 1 || w == 2 || w == 4 || w == 8 || w == 12 || w == 16 || w == 32;
}

static const char *ws_pcie_type_name(struct pci_dev *pdev)
{
	switch (pci_pcie_type(pdev)) {
	case PCI_EXP_TYPE_ENDPOINT:
		return "endpoint";
	case PCI_EXP_TYPE_LEG_END:
		return "legacy_endpoint";
	case PCI_EXP_TYPE_ROOT_PORT:
		return "root_port";
	case PCI_EXP_TYPE_UPSTREAM:
		return "upstream_port";
	case PCI_EXP_TYPE_DOWNSTREAM:
		return "downstream_port";
	case PCI_EXP_TYPE_PCI_BRIDGE:
		return "pcie_to_pci_bridge";
	case PCI_EXP_TYPE_PCIE_BRIDGE:
		return "pci_to_pcie_bridge";
	case PCI_EXP_TYPE_RC_END:
		return "rc_endpoint";
	case PCI_EXP_TYPE_RC_EC:
		return "rc_event_collector";
	default:
		return "unknown";
	}
}

/* Function types with Link Capabilities/Status registers (PCIe r6.0, 7.5.3) */
static bool ws_has_link(struct pci_dev *pdev)
{
	switch (pci_pcie_type(pdev)) {
	case PCI_EXP_TYPE_ENDPOINT:
	case PCI_EXP_TYPE_LEG_END:
	case PCI_EXP_TYPE_ROOT_PORT:
	case PCI_EXP_TYPE_UPSTREAM:
	case PCI_EXP_TYPE_DOWNSTREAM:
	case PCI_EXP_TYPE_PCI_BRIDGE:
	case PCI_EXP_TYPE_PCIE_BRIDGE:
		return true;
	default:
		return false;
	}
}

static unsigned long ws_fn_key(struct pci_dev *pdev)
{
	return ((unsigned long)pci_domain_nr(pdev->bus) << 16) | pci_dev_id(pdev);
}

/*
 * The state kept for a function's address.  A different device at that
 * address (after a hot swap) starts over.  Caller holds ws_lock.
 */
static struct ws_fn *ws_fn_get(struct pci_dev *pdev, bool create)
{
	unsigned long key = ws_fn_key(pdev);
	struct ws_fn *fn;

	lockdep_assert_held(&ws_lock);
	fn = xa_load(&ws_fns, key);
	if (fn && (fn->vendor != pdev->vendor || fn->device != pdev->device)) {
		memset(fn, 0, sizeof(*fn));
		fn->vendor = pdev->vendor;
		fn->device = pdev->device;
	}
	if (fn || !create)
		return fn;
	fn = kzalloc_obj(*fn, GFP_KERNEL);
	if (!fn)
		return NULL;
	fn->vendor = pdev->vendor;
	fn->device = pdev->device;
	if (xa_err(xa_store(&ws_fns, key, fn, GFP_KERNEL))) {
		kfree(fn);
		return NULL;
	}
	return fn;
}

struct ws_link {
	u8 cap_speed;
	u8 cap_width;
	u8 sta_speed;
	u8 sta_width;
	bool injected;
};

/*
 * A function's link capability and status, with injected values applied.
 * -ENODEV when it has no link registers, -EIO when they cannot be read.
 * Caller holds ws_lock.
 */
static int ws_link_read(struct pci_dev *pdev, struct ws_link *l)
{
	struct ws_fn *fn;
	u32 cap;
	u16 sta;

	if (!pci_is_pcie(pdev) || !ws_has_link(pdev))
		return -ENODEV;
	if (pcie_capability_read_dword(pdev, PCI_EXP_LNKCAP, &cap) ||
	    pcie_capability_read_word(pdev, PCI_EXP_LNKSTA, &sta) ||
	    PCI_POSSIBLE_ERROR(cap) || PCI_POSSIBLE_ERROR(sta))
		return -EIO;
	l->cap_speed = FIELD_GET(PCI_EXP_LNKCAP_SLS, cap);
	l->cap_width = FIELD_GET(PCI_EXP_LNKCAP_MLW, cap);
	l->sta_speed = FIELD_GET(PCI_EXP_LNKSTA_CLS, sta);
	l->sta_width = FIELD_GET(PCI_EXP_LNKSTA_NLW, sta);
	l->injected = false;

	fn = ws_fn_get(pdev, false);
	if (!fn)
		return 0;
	if (fn->inj_cap_speed)
		l->cap_speed = fn->inj_cap_speed;
	if (fn->inj_cap_width)
		l->cap_width = fn->inj_cap_width;
	if (fn->inj_sta_speed)
		l->sta_speed = fn->inj_sta_speed;
	if (fn->inj_sta_width)
		l->sta_width = fn->inj_sta_width;
	l->injected = fn->inj_cap_speed || fn->inj_cap_width || fn->inj_sta_speed ||
		      fn->inj_sta_width;
	return 0;
}

/*
 * The function at the other end of pdev's link, with a reference, or NULL:
 * for ports facing downstream (root and downstream ports, PCI-to-PCIe
 * bridges) function 0 on the secondary bus; for functions whose link faces
 * upstream (endpoints, upstream ports, PCIe-to-PCI bridges) the bridge
 * above.  Caller holds pci_lock_rescan_remove(), which keeps
 * ->subordinate stable.
 */
static struct pci_dev *ws_link_partner(struct pci_dev *pdev)
{
	struct pci_dev *up;

	switch (pci_pcie_type(pdev)) {
	case PCI_EXP_TYPE_ROOT_PORT:
	case PCI_EXP_TYPE_DOWNSTREAM:
	case PCI_EXP_TYPE_PCIE_BRIDGE:
		if (!pdev->subordinate)
			return NULL;
		return pci_get_slot(pdev->subordinate, PCI_DEVFN(0, 0));
	case PCI_EXP_TYPE_ENDPOINT:
	case PCI_EXP_TYPE_LEG_END:
	case PCI_EXP_TYPE_UPSTREAM:
	case PCI_EXP_TYPE_PCI_BRIDGE:
		up = pci_upstream_bridge(pdev);
		return up ? pci_dev_get(up) : NULL;
	default:
		return NULL;
	}
}

static bool ws_link_up(const struct ws_link *l)
{
	return ws_speed_name(l->sta_speed) && l->sta_width;
}

/*
 * Degraded: the link trained below what both ends can do, i.e. this end's
 * negotiated speed or width is below min(this LnkCap, partner LnkCap).
 */
static bool ws_link_degraded(const struct ws_link *l, const struct ws_link *p)
{
	u8 speed = min(l->cap_speed, p->cap_speed);
	u8 width = min(l->cap_width, p->cap_width);

	if (!ws_link_up(l) || !ws_speed_name(speed) || !width)
		return false;
	return l->sta_speed < speed || l->sta_width < width;
}

static void ws_pcie_link(struct seq_file *m, struct pci_dev *pdev)
{
	struct pci_dev *partner;
	struct ws_link l, pl;
	bool degraded = false;
	const char *s;
	int ret;

	ret = ws_link_read(pdev, &l);
	if (ret == -ENODEV) {
		seq_puts(m, " link=none");
		return;
	}
	if (ret) {
		seq_puts(m, " link=error");
		return;
	}
	s = ws_speed_name(l.cap_speed);
	seq_printf(m, " link=%s cap_speed=%s cap_width=%u", ws_link_up(&l) ? "up" : "down",
		   s ?: "unknown", l.cap_width);
	if (ws_link_up(&l))
		seq_printf(m, " sta_speed=%s sta_width=%u", ws_speed_name(l.sta_speed),
			   l.sta_width);

	partner = ws_link_partner(pdev);
	if (partner && !ws_link_read(partner, &pl)) {
		seq_printf(m, " partner=%s", pci_name(partner));
		degraded = ws_link_degraded(&l, &pl);
	} else {
		seq_puts(m, " partner=none");
	}
	pci_dev_put(partner);
	seq_printf(m, " degraded=%d source=%s", degraded, l.injected ? "injected" : "hw");
}

/*
 * Count the status bits that are set now but were clear at the previous
 * sample; the first sample of a function only records the baseline.
 */
static void ws_aer_count(struct ws_fn *fn, u32 cor, u32 uncor, u32 sev, bool count)
{
	u32 fresh = uncor & ~fn->uncor_last;

	if (count) {
		fn->cor_count += hweight32(cor & ~fn->cor_last);
		fn->nonfatal_count += hweight32(fresh & ~sev);
		fn->fatal_count += hweight32(fresh & sev);
	}
	fn->cor_last = cor;
	fn->uncor_last = uncor;
}

/* Read pdev's AER status registers; -ENODEV without AER, -EIO on failure. */
static int ws_aer_read(struct pci_dev *pdev, u32 *cor, u32 *uncor, u32 *sev)
{
	int aer = pci_find_ext_capability(pdev, PCI_EXT_CAP_ID_ERR);

	if (!aer)
		return -ENODEV;
	if (pci_read_config_dword(pdev, aer + PCI_ERR_COR_STATUS, cor) ||
	    pci_read_config_dword(pdev, aer + PCI_ERR_UNCOR_STATUS, uncor) ||
	    pci_read_config_dword(pdev, aer + PCI_ERR_UNCOR_SEVER, sev) ||
	    PCI_POSSIBLE_ERROR(*cor) || PCI_POSSIBLE_ERROR(*uncor))
		return -EIO;
	return 0;
}

/* Record the AER baseline of a function.  Caller holds ws_lock. */
static void ws_aer_baseline(struct pci_dev *pdev)
{
	u32 cor, uncor, sev;
	struct ws_fn *fn;

	if (ws_aer_read(pdev, &cor, &uncor, &sev))
		return;
	fn = ws_fn_get(pdev, true);
	if (!fn)
		return;
	ws_aer_count(fn, cor, uncor, sev, false);
	fn->aer_seen = true;
}

static void ws_pcie_aer(struct seq_file *m, struct pci_dev *pdev)
{
	u32 cor, uncor, sev;
	struct ws_fn *fn;
	int ret;

	ret = ws_aer_read(pdev, &cor, &uncor, &sev);
	if (ret) {
		seq_printf(m, " aer=%s", ret == -ENODEV ? "none" : "error");
		return;
	}
	seq_printf(m, " aer=yes aer_cor=0x%08x aer_nonfatal=0x%08x aer_fatal=0x%08x",
		   cor, uncor & ~sev, uncor & sev);
	fn = ws_fn_get(pdev, true);
	if (!fn) {
		seq_puts(m, " aer_counts=unavailable");
		return;
	}
	ws_aer_count(fn, cor, uncor, sev, fn->aer_seen);
	fn->aer_seen = true;
	seq_printf(m, " aer_cor_count=%llu aer_nonfatal_count=%llu aer_fatal_count=%llu",
		   fn->cor_count, fn->nonfatal_count, fn->fatal_count);
}

static void ws_pcie_record(struct seq_file *m, struct pci_dev *pdev)
{
	int node = dev_to_node(&pdev->dev);
	const struct cpumask *mask;

	/* the same mask as sysfs local_cpulist */
#ifdef CONFIG_NUMA
	mask = node == NUMA_NO_NODE ? cpu_online_mask : cpumask_of_node(node);
#else
	mask = cpumask_of_pcibus(pdev->bus);
#endif
	seq_printf(m, "dev=%s vendor=0x%04x device=0x%04x class=0x%06x type=%s node=%d",
		   pci_name(pdev), pdev->vendor, pdev->device, pdev->class,
		   ws_pcie_type_name(pdev), node);
	if (cpumask_empty(mask))
		seq_puts(m, " cpus=none");
	else
		seq_printf(m, " cpus=%*pbl", cpumask_pr_args(mask));
	ws_pcie_link(m, pdev);
	ws_pcie_aer(m, pdev);
	seq_putc(m, '\n');
}

static int ws_pcie_show(struct seq_file *m, void *unused)
{
	struct pci_dev *pdev = NULL;
	int n = 0;

	ws_header(m, "pcie");
	/* for_each_pci_dev() holds a reference on the device in hand */
	pci_lock_rescan_remove();
	for_each_pci_dev(pdev) {
		if (!pci_is_pcie(pdev))
			continue;
		mutex_lock(&ws_lock);
		ws_pcie_record(m, pdev);
		mutex_unlock(&ws_lock);
		n++;
	}
	pci_unlock_rescan_remove();
	if (!n)
		seq_puts(m, "pcie=unavailable\n");
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ws_pcie);

static void ws_pcie_baseline(void)
{
	struct pci_dev *pdev = NULL;

	pci_lock_rescan_remove();
	for_each_pci_dev(pdev) {
		if (!pci_is_pcie(pdev))
			continue;
		mutex_lock(&ws_lock);
		ws_aer_baseline(pdev);
		mutex_unlock(&ws_lock);
	}
	pci_unlock_rescan_remove();
}

/*
 * The PCIe kfuncs' cache: every PCIe function's address, node and link,
 * sorted by address, rebuilt every WS_TELEMETRY_PCIE_POLL_MS and after an
 * injected link change.  A kfunc reads it under RCU; a rebuild publishes a
 * new copy and frees the old one after a grace period.
 */
struct ws_pdev_ent {
	u32 addr;	/* domain << 16 | bus << 8 | devfn, as ws_fn_key() */
	s32 node;	/* dev_to_node(): NUMA_NO_NODE when the platform gives none */
	s32 link;	/* WS_TELEMETRY_LINK() of ws_link_read(), or its error */
};

struct ws_pdev_cache {
	struct rcu_head rcu;
	u32 nr;
	struct ws_pdev_ent ent[] __counted_by(nr);
};

static struct ws_pdev_cache __rcu *ws_pdevs;
static void ws_pdev_poll(struct work_struct *work);
static DECLARE_DELAYED_WORK(ws_pdev_work, ws_pdev_poll);

static int ws_pdev_cmp(const void *a, const void *b)
{
	u32 x = ((const struct ws_pdev_ent *)a)->addr;
	u32 y = ((const struct ws_pdev_ent *)b)->addr;

	return x < y ? -1 : x > y;
}

static void ws_pdev_fill(struct ws_pdev_ent *e, struct pci_dev *pdev)
{
	struct ws_link l;
	int ret;

	e->addr = ws_fn_key(pdev);
	e->node = dev_to_node(&pdev->dev);
	mutex_lock(&ws_lock);
	ret = ws_link_read(pdev, &l);
	mutex_unlock(&ws_lock);
	e->link = ret ?: WS_TELEMETRY_LINK(l.sta_speed, l.sta_width, l.cap_speed, l.cap_width);
}

/*
 * Walk the PCIe functions into a new cache and publish it.  The rescan
 * lock keeps the set of functions fixed between the count and the fill.
 * ws_pdev_publish serializes the poll and the inject writes.
 */
static void ws_pdev_refresh(void)
{
	static DEFINE_MUTEX(ws_pdev_publish);
	struct ws_pdev_cache *c, *old;
	struct pci_dev *pdev = NULL;
	u32 nr = 0, n = 0;

	mutex_lock(&ws_pdev_publish);
	pci_lock_rescan_remove();
	for_each_pci_dev(pdev)
		nr += pci_is_pcie(pdev);
	c = kzalloc(struct_size(c, ent, nr), GFP_KERNEL);
	if (!c)
		goto unlock_rescan;
	c->nr = nr;
	for_each_pci_dev(pdev)
		if (pci_is_pcie(pdev) && n < nr)
			ws_pdev_fill(&c->ent[n++], pdev);
	c->nr = n;
	sort(c->ent, n, sizeof(c->ent[0]), ws_pdev_cmp, NULL);
	old = rcu_replace_pointer(ws_pdevs, c, lockdep_is_held(&ws_pdev_publish));
	if (old)
		kfree_rcu(old, rcu);
unlock_rescan:
	pci_unlock_rescan_remove();
	mutex_unlock(&ws_pdev_publish);
}

static void ws_pdev_poll(struct work_struct *work)
{
	ws_pdev_refresh();
	schedule_delayed_work(&ws_pdev_work, msecs_to_jiffies(WS_TELEMETRY_PCIE_POLL_MS));
}

/* Copy the cached entry of the function at @addr into @e; false when there is none. */
static bool ws_pdev_get(u32 addr, struct ws_pdev_ent *e)
{
	struct ws_pdev_ent key = { .addr = addr };
	const struct ws_pdev_ent *found = NULL;
	struct ws_pdev_cache *c;

	rcu_read_lock();
	c = rcu_dereference(ws_pdevs);
	if (c)
		found = bsearch(&key, c->ent, c->nr, sizeof(key), ws_pdev_cmp);
	if (found)
		*e = *found;
	rcu_read_unlock();
	return found;
}

/* ---- thermal --------------------------------------------------------- */

#if IS_ENABLED(CONFIG_THERMAL)
struct ws_trip_ctx {
	struct seq_file *m;
	int n;
};

static int ws_trip_cb(struct thermal_trip *trip, void *data)
{
	static const char * const names[] = {
		[THERMAL_TRIP_ACTIVE] = "active",
		[THERMAL_TRIP_PASSIVE] = "passive",
		[THERMAL_TRIP_HOT] = "hot",
		[THERMAL_TRIP_CRITICAL] = "critical",
	};
	struct ws_trip_ctx *ctx = data;
	const char *name = NULL;

	if (trip->type < ARRAY_SIZE(names))
		name = names[trip->type];
	seq_puts(ctx->m, ctx->n++ ? "," : " trips=");
	seq_printf(ctx->m, "%s:", name ?: "unknown");
	if (trip->temperature == THERMAL_TEMP_INVALID)
		seq_puts(ctx->m, "invalid");
	else
		seq_printf(ctx->m, "%d", trip->temperature);
	return 0;
}

/*
 * The thermal core exports no iterator over zones to modules, only lookup
 * by type; report the types named in the thermal_zones parameter.  The
 * lookup returns no reference: the device reference taken right after it
 * makes thermal_zone_device_unregister() wait for us, but a zone removed
 * between the lookup and get_device() is a window we cannot close.
 */
static int ws_show_zones(struct seq_file *m)
{
	struct thermal_zone_device *tz;
	struct ws_trip_ctx ctx;
	char list[256], *s, *type;
	struct device *dev;
	int shown = 0, temp;

	strscpy(list, thermal_zones ?: "", sizeof(list));
	s = list;
	while ((type = strsep(&s, ",")) != NULL) {
		if (!*type)
			continue;
		tz = thermal_zone_get_zone_by_name(type);
		if (PTR_ERR_OR_ZERO(tz) == -EEXIST) {
			seq_puts(m, "zone=");
			ws_put_word(m, type);
			seq_puts(m, " status=ambiguous\n");
			shown++;
			continue;
		}
		if (IS_ERR_OR_NULL(tz))
			continue;
		dev = get_device(thermal_zone_device(tz));
		seq_puts(m, "zone=");
		ws_put_word(m, type);
		seq_printf(m, " id=%d", thermal_zone_device_id(tz));
		if (thermal_zone_get_temp(tz, &temp))
			seq_puts(m, " temp_mc=unavailable");
		else
			seq_printf(m, " temp_mc=%d", temp);
		ctx.m = m;
		ctx.n = 0;
		thermal_zone_for_each_trip(tz, ws_trip_cb, &ctx);
		if (!ctx.n)
			seq_puts(m, " trips=none");
		seq_puts(m, " source=thermal\n");
		put_device(dev);
		shown++;
	}
	return shown;
}
#else
static int ws_show_zones(struct seq_file *m)
{
	return 0;
}
#endif

static int ws_thermal_show(struct seq_file *m, void *unused)
{
	bool dts = ws_have_dts(), pts = ws_have_pts(), throttle;
	int cpu, id, temp, tjmax;
	struct ws_cpu_inj *inj;
	struct ws_pkg *p;

	ws_header(m, "thermal");
	if (!ws_show_zones(m))
		seq_puts(m, "zones=unavailable\n");
	if (!dts && !pts)
		seq_puts(m, "msr=unavailable\n");

	mutex_lock(&ws_lock);
	cpus_read_lock();
	for_each_online_pkg_cpu(cpu) {
		id = topology_physical_package_id(cpu);
		p = ws_pkg_get(id, false);
		if (p && p->inj_temp) {
			seq_printf(m, "pkg=%d temp_mc=%d throttle=%d source=injected\n",
				   id, p->inj_temp_mc, p->inj_throttle);
			continue;
		}
		if (!pts)
			continue;
		tjmax = ws_tjmax_mc(cpu);
		if (ws_read_dts(cpu, true, tjmax, &temp, &throttle))
			seq_printf(m, "pkg=%d cpu=%d temp_mc=unavailable source=msr\n", id, cpu);
		else
			seq_printf(m, "pkg=%d cpu=%d temp_mc=%d tjmax_mc=%d throttle=%d source=msr\n",
				   id, cpu, temp, tjmax, throttle);
	}
	for_each_online_cpu(cpu) {
		inj = &ws_cpu_inj[cpu];
		id = topology_physical_package_id(cpu);
		if (inj->set) {
			seq_printf(m, "cpu=%d core=%d pkg=%d temp_mc=%d throttle=%d source=injected\n",
				   cpu, topology_core_id(cpu), id, inj->temp_mc, inj->throttle);
			continue;
		}
		/* one sensor per core: read it on the core's first thread */
		if (!dts || cpumask_first(topology_sibling_cpumask(cpu)) != cpu)
			continue;
		tjmax = ws_tjmax_mc(cpu);
		seq_printf(m, "cpu=%d core=%d pkg=%d", cpu, topology_core_id(cpu), id);
		if (ws_read_dts(cpu, false, tjmax, &temp, &throttle))
			seq_puts(m, " temp_mc=unavailable source=msr\n");
		else
			seq_printf(m, " temp_mc=%d tjmax_mc=%d throttle=%d source=msr\n",
				   temp, tjmax, throttle);
	}
	cpus_read_unlock();
	mutex_unlock(&ws_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ws_thermal);

/* ---- the scheduler's kfuncs ------------------------------------------ */

/*
 * A scheduler decides at placement time, where nothing may sleep, so the
 * kfuncs read ws_tcache: per CPU, what the thermal file shows for it (the
 * hottest of its core's and its package's readings, against their limits;
 * the loader's ws_thermal_parse() applies the same rule to the text).
 * ws_tcache_refresh() rebuilds it in ws_tnext, under ws_lock and the CPU
 * hotplug lock, after every injection and, where the CPUs have sensors,
 * every thermal_poll_ms; then it copies what changed, field by field with
 * WRITE_ONCE(), and moves ws_tgen, so that a scheduler reads the CPUs
 * again only when something changed.  A reader may see one CPU's new
 * temperature with its old limit for an instant; both are whole values.
 */
static void ws_tcover(const struct cpumask *cpus, int temp, int limit)
{
	int cpu, base = limit ?: WS_TELEMETRY_DEFAULT_LIMIT_MC;

	for_each_cpu_and(cpu, cpus, cpu_online_mask) {
		struct ws_tcache *t = &ws_tnext[cpu];

		if (t->temp_mc == WS_TELEMETRY_TEMP_UNKNOWN ||
		    (long)temp - base >
		    (long)t->temp_mc - (t->limit_mc ?: WS_TELEMETRY_DEFAULT_LIMIT_MC)) {
			t->temp_mc = temp;
			t->limit_mc = limit;
		}
	}
}

static void ws_tcache_refresh(void)
{
	bool dts = ws_have_dts(), pts = ws_have_pts(), throttle, changed = false;
	int cpu, temp, tjmax;
	struct ws_pkg *p;

	lockdep_assert_held(&ws_lock);
	lockdep_assert_cpus_held();
	for_each_possible_cpu(cpu) {
		ws_tnext[cpu].temp_mc = WS_TELEMETRY_TEMP_UNKNOWN;
		ws_tnext[cpu].limit_mc = 0;
	}
	for_each_online_pkg_cpu(cpu) {
		p = ws_pkg_get(topology_physical_package_id(cpu), false);
		if (p && p->inj_temp) {
			ws_tcover(topology_core_cpumask(cpu), p->inj_temp_mc, 0);
		} else if (pts) {
			tjmax = ws_tjmax_mc(cpu);
			if (!ws_read_dts(cpu, true, tjmax, &temp, &throttle))
				ws_tcover(topology_core_cpumask(cpu), temp, tjmax);
		}
	}
	for_each_online_cpu(cpu) {
		if (ws_cpu_inj[cpu].set) {
			ws_tcover(topology_sibling_cpumask(cpu), ws_cpu_inj[cpu].temp_mc, 0);
		} else if (dts && cpumask_first(topology_sibling_cpumask(cpu)) == cpu) {
			tjmax = ws_tjmax_mc(cpu);
			if (!ws_read_dts(cpu, false, tjmax, &temp, &throttle))
				ws_tcover(topology_sibling_cpumask(cpu), temp, tjmax);
		}
	}
	for_each_possible_cpu(cpu) {
		if (ws_tcache[cpu].temp_mc == ws_tnext[cpu].temp_mc &&
		    ws_tcache[cpu].limit_mc == ws_tnext[cpu].limit_mc)
			continue;
		WRITE_ONCE(ws_tcache[cpu].temp_mc, ws_tnext[cpu].temp_mc);
		WRITE_ONCE(ws_tcache[cpu].limit_mc, ws_tnext[cpu].limit_mc);
		changed = true;
	}
	if (changed)
		atomic_inc(&ws_tgen);
}

/* ws_tcache_refresh() for a caller that holds ws_lock (an injection) */
static void ws_tcache_refresh_cpus(void)
{
	cpus_read_lock();
	ws_tcache_refresh();
	cpus_read_unlock();
}

/* ws_tcache_refresh() with both its locks (the poll) */
static void ws_tcache_update(void)
{
	mutex_lock(&ws_lock);
	ws_tcache_refresh_cpus();
	mutex_unlock(&ws_lock);
}

static void ws_tpoll(struct work_struct *work)
{
	ws_tcache_update();
	schedule_delayed_work(&ws_tpoll_work, msecs_to_jiffies(thermal_poll_ms));
}

/*
 * A CPU came or went.  The hotplug callback may not take the CPU hotplug
 * lock, so a work item refreshes the cache, once the hotplug is over: a
 * CPU that comes online reads what covers it (its package's injected or
 * sensed temperature) at once, not at the next injection or poll.
 */
static void ws_thotplug(struct work_struct *work)
{
	ws_tcache_update();
}

static int ws_cpu_came_or_went(unsigned int cpu)
{
	schedule_work(&ws_thotplug_work);
	return 0;
}

__bpf_kfunc_start_defs();

/* A number that moves whenever a CPU's temperature or limit changes. */
__bpf_kfunc u32 wattsched_tm_gen(void)
{
	return atomic_read(&ws_tgen);
}

/* @cpu's temperature in m°C; WS_TELEMETRY_TEMP_UNKNOWN when no sensor covers it. */
__bpf_kfunc s32 wattsched_tm_cpu_temp_mc(s32 cpu)
{
	if (cpu < 0 || cpu >= nr_cpu_ids)
		return WS_TELEMETRY_TEMP_UNKNOWN;
	return READ_ONCE(ws_tcache[cpu].temp_mc);
}

/* The limit (TjMax) of @cpu's reading in m°C; 0 when its sensor reports none. */
__bpf_kfunc s32 wattsched_tm_cpu_limit_mc(s32 cpu)
{
	if (cpu < 0 || cpu >= nr_cpu_ids)
		return 0;
	return READ_ONCE(ws_tcache[cpu].limit_mc);
}

/*
 * The power of every package (package and DRAM domains, RAPL or injected)
 * over the last WS_TELEMETRY_POWER_POLL_MS, mW; WS_TELEMETRY_POWER_UNKNOWN
 * when there is no reading.
 */
__bpf_kfunc s32 wattsched_tm_power_mw(void)
{
	return READ_ONCE(ws_pwr_mw);
}

/*
 * The NUMA node of the PCIe function at @addr (domain << 16 | bus << 8 |
 * devfn): NUMA_NO_NODE (-1) when the platform gives none, -ENOENT when
 * there is no PCIe function there.  At most WS_TELEMETRY_PCIE_POLL_MS old.
 */
__bpf_kfunc s32 wattsched_tm_pcie_node(u32 addr)
{
	struct ws_pdev_ent e;

	return ws_pdev_get(addr, &e) ? e.node : -ENOENT;
}

/*
 * The link of the PCIe function at @addr, WS_TELEMETRY_LINK() (negotiated
 * and capable speed and width, injected values applied); -ENODEV when it
 * has no link registers, -EIO when they could not be read, -ENOENT when
 * there is no PCIe function there.  At most WS_TELEMETRY_PCIE_POLL_MS old.
 */
__bpf_kfunc s32 wattsched_tm_pcie_link(u32 addr)
{
	struct ws_pdev_ent e;

	return ws_pdev_get(addr, &e) ? e.link : -ENOENT;
}

__bpf_kfunc_end_defs();

BTF_KFUNCS_START(ws_kfunc_ids)
BTF_ID_FLAGS(func, wattsched_tm_gen)
BTF_ID_FLAGS(func, wattsched_tm_cpu_temp_mc)
BTF_ID_FLAGS(func, wattsched_tm_cpu_limit_mc)
BTF_ID_FLAGS(func, wattsched_tm_power_mw)
BTF_ID_FLAGS(func, wattsched_tm_pcie_node)
BTF_ID_FLAGS(func, wattsched_tm_pcie_link)
BTF_KFUNCS_END(ws_kfunc_ids)

static const struct btf_kfunc_id_set ws_kfunc_set = {
	.owner = THIS_MODULE,
	.set = &ws_kfunc_ids,
};

/* ---- power ----------------------------------------------------------- */

/* Injected energy at @now: the base plus inj_mw since the injection (mW * ns / 1e6 = µJ). */
static u64 ws_inj_energy(struct ws_pkg *p, enum ws_rapl_domain d, u64 now)
{
	u64 e = p->inj_energy_uj[d];

	if (p->inj_mw[d])
		e += mul_u64_u32_div(now - p->inj_t0_ns[d], p->inj_mw[d], 1000000);
	return e;
}

/*
 * A package domain's energy at @now, µJ, in @uj: injected, else counted
 * from its RAPL counter.  false when it has neither.  The power file and
 * the kfunc's cache both read energy through this.
 */
static bool ws_pkg_energy(struct ws_pkg *p, enum ws_rapl_domain d, u64 now, u64 *uj)
{
	if (p->inj_power[d])
		*uj = ws_inj_energy(p, d, now);
	else if (p->rapl[d])
		*uj = mul_u64_u32_shr(p->rapl_counts[d], 1000000, p->rapl_esu);
	else
		return false;
	return true;
}

static int ws_power_show(struct seq_file *m, void *unused)
{
	enum ws_rapl_domain d;
	struct ws_pkg *p;
	u64 now, uj;
	int cpu;

	ws_header(m, "power");
	mutex_lock(&ws_lock);
	cpus_read_lock();
	if (ws_have_rapl)
		ws_rapl_sample_all();
	else
		seq_puts(m, "rapl=unavailable\n");
	/* the time the energies below were sampled, for readers that difference them */
	now = ktime_get_ns();
	for_each_online_pkg_cpu(cpu) {
		p = ws_pkg_get(topology_physical_package_id(cpu), false);
		if (!p)
			continue;
		for (d = 0; d < WS_RAPL_NR; d++) {
			if (!ws_pkg_energy(p, d, now, &uj))
				continue;
			seq_printf(m, "pkg=%d domain=%s energy_uj=%llu ", p->id,
				   ws_rapl_domain_name[d], uj);
			if (p->inj_power[d])
				seq_printf(m, "watts_mw=%u source=injected", p->inj_mw[d]);
			else
				seq_printf(m, "cpu=%d source=msr", cpu);
			seq_printf(m, " ktime_ns=%llu\n", now);
		}
	}
	cpus_read_unlock();
	mutex_unlock(&ws_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ws_power);

/*
 * The kfunc's power: every package's domains (package and DRAM; RAPL or
 * injected, as the power file shows them) summed, and differenced between
 * two polls WS_TELEMETRY_POWER_POLL_MS apart.  Unknown without a reading,
 * and for one poll after the total went back (an injection cleared).
 */
static u64 ws_pwr_uj, ws_pwr_t_ns;

static void ws_pcache_refresh(void)
{
	u64 now = ktime_get_ns(), total = 0, uj;
	enum ws_rapl_domain d;
	s32 mw = WS_TELEMETRY_POWER_UNKNOWN;
	bool any = false;
	struct ws_pkg *p;
	int cpu;

	lockdep_assert_held(&ws_lock);
	for_each_online_pkg_cpu(cpu) {
		p = ws_pkg_get(topology_physical_package_id(cpu), false);
		for (d = 0; p && d < WS_RAPL_NR; d++) {
			if (ws_pkg_energy(p, d, now, &uj)) {
				total += uj;
				any = true;
			}
		}
	}
	if (any && ws_pwr_t_ns && total >= ws_pwr_uj && now > ws_pwr_t_ns)
		mw = min_t(u64, div64_u64((total - ws_pwr_uj) * 1000000, now - ws_pwr_t_ns),
			   S32_MAX);
	ws_pwr_uj = total;
	ws_pwr_t_ns = any ? now : 0;
	WRITE_ONCE(ws_pwr_mw, mw);
}

/*
 * Sample the RAPL counters (often enough that none can wrap twice between
 * samples) and refresh the kfunc's power.  Runs where there is RAPL or
 * inject=1.
 */
static void ws_rapl_poll(struct work_struct *work)
{
	mutex_lock(&ws_lock);
	cpus_read_lock();
	if (ws_have_rapl)
		ws_rapl_sample_all();
	ws_pcache_refresh();
	cpus_read_unlock();
	mutex_unlock(&ws_lock);
	schedule_delayed_work(&ws_rapl_work, msecs_to_jiffies(WS_TELEMETRY_POWER_POLL_MS));
}

/* ---- cpus ------------------------------------------------------------ */

static int ws_cpus_show(struct seq_file *m, void *unused)
{
	int cpu;

	ws_header(m, "cpus");
	cpus_read_lock();
	for_each_online_cpu(cpu) {
		seq_printf(m, "cpu=%d core=%d pkg=%d die=%d llc=", cpu, topology_core_id(cpu),
			   topology_physical_package_id(cpu), topology_die_id(cpu));
		ws_put_llc(m, cpu);
		seq_printf(m, " node=%d smt=%*pbl\n", cpu_to_node(cpu),
			   cpumask_pr_args(topology_sibling_cpumask(cpu)));
	}
	cpus_read_unlock();
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ws_cpus);

/* ---- inject/ (TEST ONLY) --------------------------------------------- */

#define WS_MAX_KV	6

struct ws_kv {
	const char *key;
	const char *val;
};

/*
 * Split "k1=v1 k2=v2 ..." in place.  Every key must be in allowed (a NULL
 * terminated list) and appear once, every value be non-empty.  Returns the
 * number of pairs or -EINVAL.
 */
static int ws_parse_kv(char *s, struct ws_kv *kv, const char * const *allowed)
{
	const char * const *a;
	char *tok, *eq;
	int n = 0, i;

	while ((tok = strsep(&s, " \t")) != NULL) {
		if (!*tok)
			continue;
		eq = strchr(tok, '=');
		if (!eq || eq == tok || !eq[1] || n == WS_MAX_KV)
			return -EINVAL;
		*eq = '\0';
		for (a = allowed; *a && strcmp(*a, tok); a++)
			;
		if (!*a)
			return -EINVAL;
		for (i = 0; i < n; i++)
			if (!strcmp(kv[i].key, tok))
				return -EINVAL;
		kv[n].key = tok;
		kv[n].val = eq + 1;
		n++;
	}
	return n ? n : -EINVAL;
}

static const char *ws_kv_get(const struct ws_kv *kv, int n, const char *key)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(kv[i].key, key))
			return kv[i].val;
	return NULL;
}

/* A package id that some online CPU has: 0, -EINVAL (not a number), -ENODEV */
static int ws_parse_pkg(const char *s, int *id)
{
	int cpu;

	if (kstrtoint(s, 10, id) || *id < 0)
		return -EINVAL;
	cpus_read_lock();
	cpu = ws_pkg_cpu(*id);
	cpus_read_unlock();
	return cpu < 0 ? -ENODEV : 0;
}

/* "cpu=N temp_mc=T [throttle=0|1]" or "pkg=N temp_mc=T [throttle=0|1]" */
static int ws_inj_thermal(char *buf)
{
	static const char * const keys[] = { "cpu", "pkg", "temp_mc", "throttle", NULL };
	const char *cpu_s, *pkg_s, *temp_s, *thr_s;
	unsigned int cpu, thr = 0;
	struct ws_kv kv[WS_MAX_KV];
	struct ws_pkg *p;
	int n, temp, id, ret;

	n = ws_parse_kv(buf, kv, keys);
	if (n < 0)
		return n;
	cpu_s = ws_kv_get(kv, n, "cpu");
	pkg_s = ws_kv_get(kv, n, "pkg");
	temp_s = ws_kv_get(kv, n, "temp_mc");
	thr_s = ws_kv_get(kv, n, "throttle");
	if (!cpu_s == !pkg_s || !temp_s)
		return -EINVAL;
	if (kstrtoint(temp_s, 10, &temp) || temp < WS_TELEMETRY_INJ_TEMP_MIN_MC ||
	    temp > WS_TELEMETRY_INJ_TEMP_MAX_MC)
		return -EINVAL;
	if (thr_s && (kstrtouint(thr_s, 10, &thr) || thr > 1))
		return -EINVAL;

	if (cpu_s) {
		if (kstrtouint(cpu_s, 10, &cpu))
			return -EINVAL;
		if (cpu >= nr_cpu_ids || !cpu_online(cpu))
			return -ENODEV;
		ws_cpu_inj[cpu].temp_mc = temp;
		ws_cpu_inj[cpu].throttle = thr;
		ws_cpu_inj[cpu].set = true;
		goto refresh;
	}
	ret = ws_parse_pkg(pkg_s, &id);
	if (ret)
		return ret;
	p = ws_pkg_get(id, true);
	if (!p)
		return -ENOSPC;
	p->inj_temp_mc = temp;
	p->inj_throttle = thr;
	p->inj_temp = true;
refresh:
	ws_tcache_refresh_cpus();
	return 0;
}

/* "pkg=N [domain=package|dram] energy_uj=E" or "... watts_mw=W" */
static int ws_inj_power(char *buf)
{
	static const char * const keys[] = { "pkg", "domain", "energy_uj", "watts_mw", NULL };
	const char *pkg_s, *dom_s, *e_s, *w_s;
	enum ws_rapl_domain d = WS_RAPL_PKG;
	struct ws_kv kv[WS_MAX_KV];
	unsigned int mw = 0;
	struct ws_pkg *p;
	int n, id, ret;
	u64 e = 0, now;

	n = ws_parse_kv(buf, kv, keys);
	if (n < 0)
		return n;
	pkg_s = ws_kv_get(kv, n, "pkg");
	dom_s = ws_kv_get(kv, n, "domain");
	e_s = ws_kv_get(kv, n, "energy_uj");
	w_s = ws_kv_get(kv, n, "watts_mw");
	if (!pkg_s || !e_s == !w_s)
		return -EINVAL;
	if (dom_s) {
		ret = match_string(ws_rapl_domain_name, WS_RAPL_NR, dom_s);
		if (ret < 0)
			return -EINVAL;
		d = ret;
	}
	if (e_s && (kstrtou64(e_s, 10, &e) || e > WS_TELEMETRY_INJ_ENERGY_MAX_UJ))
		return -EINVAL;
	if (w_s && (kstrtouint(w_s, 10, &mw) || mw > WS_TELEMETRY_INJ_WATTS_MAX_MW))
		return -EINVAL;
	ret = ws_parse_pkg(pkg_s, &id);
	if (ret)
		return ret;
	p = ws_pkg_get(id, true);
	if (!p)
		return -ENOSPC;
	/* a new rate continues from the energy injected so far */
	now = ktime_get_ns();
	if (w_s)
		e = p->inj_power[d] ? ws_inj_energy(p, d, now) : 0;
	p->inj_energy_uj[d] = e;
	p->inj_mw[d] = mw;
	p->inj_t0_ns[d] = now;
	p->inj_power[d] = true;
	return 0;
}

static int ws_parse_speed(const char *s)
{
	int i;

	for (i = 1; i < ARRAY_SIZE(ws_speed_names); i++)
		if (!strcmp(s, ws_speed_names[i]))
			return i;
	return -EINVAL;
}

/* "DDDD:BB:DD.F" exactly, in hex */
static int ws_parse_bdf(const char *s, unsigned int *dom, unsigned int *bus, unsigned int *devfn)
{
	unsigned int slot, fn;
	int i;

	if (strlen(s) != 12 || s[4] != ':' || s[7] != ':' || s[10] != '.')
		return -EINVAL;
	for (i = 0; i < 12; i++)
		if (i != 4 && i != 7 && i != 10 && !isxdigit(s[i]))
			return -EINVAL;
	if (sscanf(s, "%x:%x:%x.%x", dom, bus, &slot, &fn) != 4 || slot > 0x1f || fn > 7)
		return -EINVAL;
	*devfn = PCI_DEVFN(slot, fn);
	return 0;
}

/* "dev=DDDD:BB:DD.F [speed=GT/s] [width=N] [cap_speed=GT/s] [cap_width=N]" */
static int ws_inj_link(char *buf)
{
	static const char * const keys[] = {
		"dev", "speed", "width", "cap_speed", "cap_width", NULL
	};
	static const char * const wkeys[] = { "width", "cap_width" };
	static const char * const skeys[] = { "speed", "cap_speed" };
	unsigned int dom, bus, devfn, w[2] = {};
	struct ws_kv kv[WS_MAX_KV];
	int n, i, ret, sp[2] = {};
	struct pci_dev *pdev;
	struct ws_fn *fn;
	const char *v;

	n = ws_parse_kv(buf, kv, keys);
	if (n < 0)
		return n;
	v = ws_kv_get(kv, n, "dev");
	if (!v || n < 2 || ws_parse_bdf(v, &dom, &bus, &devfn))
		return -EINVAL;
	for (i = 0; i < 2; i++) {
		v = ws_kv_get(kv, n, skeys[i]);
		if (v) {
			sp[i] = ws_parse_speed(v);
			if (sp[i] < 0)
				return -EINVAL;
		}
		v = ws_kv_get(kv, n, wkeys[i]);
		if (v && (kstrtouint(v, 10, &w[i]) || !ws_width_valid(w[i])))
			return -EINVAL;
	}

	pdev = pci_get_domain_bus_and_slot(dom, bus, devfn);
	if (!pdev)
		return -ENODEV;
	ret = -ENODEV;
	if (!pci_is_pcie(pdev) || !ws_has_link(pdev))
		goto put_pdev;
	ret = -ENOMEM;
	fn = ws_fn_get(pdev, true);
	if (!fn)
		goto put_pdev;
	if (sp[0])
		fn->inj_sta_speed = sp[0];
	if (w[0])
		fn->inj_sta_width = w[0];
	if (sp[1])
		fn->inj_cap_speed = sp[1];
	if (w[1])
		fn->inj_cap_width = w[1];
	ret = 0;
put_pdev:
	pci_dev_put(pdev);
	return ret;
}

/* "all", "thermal", "power" or "link" */
static int ws_inj_clear(char *buf)
{
	bool all = !strcmp(buf, "all");
	unsigned long idx;
	struct ws_fn *fn;
	int i;

	if (!all && strcmp(buf, "thermal") && strcmp(buf, "power") && strcmp(buf, "link"))
		return -EINVAL;
	if (all || !strcmp(buf, "thermal")) {
		memset(ws_cpu_inj, 0, nr_cpu_ids * sizeof(*ws_cpu_inj));
		for (i = 0; i < WS_MAX_PKGS; i++)
			ws_pkgs[i].inj_temp = false;
		ws_tcache_refresh_cpus();
	}
	if (all || !strcmp(buf, "power"))
		for (i = 0; i < WS_MAX_PKGS; i++)
			memset(ws_pkgs[i].inj_power, 0, sizeof(ws_pkgs[i].inj_power));
	if (all || !strcmp(buf, "link"))
		xa_for_each(&ws_fns, idx, fn) {
			fn->inj_cap_speed = 0;
			fn->inj_cap_width = 0;
			fn->inj_sta_speed = 0;
			fn->inj_sta_width = 0;
		}
	return 0;
}

/*
 * One command per write(): at most WS_TELEMETRY_INJECT_MAX bytes, one
 * trailing newline allowed.  The command is checked in full before any
 * state changes, so a refused write leaves the old values in force.
 */
static ssize_t ws_inject_write(const char __user *ubuf, size_t len, int (*apply)(char *))
{
	char buf[WS_TELEMETRY_INJECT_MAX + 1];
	int ret;

	if (!inject)
		return -EPERM;
	if (!len)
		return -EINVAL;
	if (len > WS_TELEMETRY_INJECT_MAX)
		return -E2BIG;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	if (strlen(buf) != len)
		return -EINVAL;
	mutex_lock(&ws_lock);
	ret = apply(strim(buf));
	mutex_unlock(&ws_lock);
	if (ret)
		return ret;
	/* the PCIe kfuncs see an injected link at once, not at the next poll */
	if (apply == ws_inj_link || apply == ws_inj_clear)
		ws_pdev_refresh();
	return len;
}

#define WS_INJECT_FOPS(_name)						\
static ssize_t ws_inj_##_name##_write(struct file *file,		\
				      const char __user *ubuf,		\
				      size_t len, loff_t *ppos)		\
{									\
	return ws_inject_write(ubuf, len, ws_inj_##_name);		\
}									\
static const struct file_operations ws_inj_##_name##_fops = {		\
	.owner = THIS_MODULE,						\
	.write = ws_inj_##_name##_write,				\
	.llseek = noop_llseek,						\
}

WS_INJECT_FOPS(thermal);
WS_INJECT_FOPS(power);
WS_INJECT_FOPS(link);
WS_INJECT_FOPS(clear);

/* ---- module ---------------------------------------------------------- */

static int __init ws_init(void)
{
	struct dentry *inj;
	int i, ret;

	if (thermal_poll_ms < WS_TELEMETRY_POLL_MS_MIN || thermal_poll_ms > WS_TELEMETRY_POLL_MS_MAX) {
		pr_err("thermal_poll_ms=%u: must be %d..%d\n", thermal_poll_ms,
		       WS_TELEMETRY_POLL_MS_MIN, WS_TELEMETRY_POLL_MS_MAX);
		return -EINVAL;
	}
	for (i = 0; i < WS_MAX_PKGS; i++)
		ws_pkgs[i].id = -1;
	ret = -ENOMEM;
	ws_cpu_inj = kzalloc_objs(*ws_cpu_inj, nr_cpu_ids, GFP_KERNEL);
	if (!ws_cpu_inj)
		goto out;
	ws_tcache = kzalloc_objs(*ws_tcache, nr_cpu_ids, GFP_KERNEL);
	if (!ws_tcache)
		goto free_cpu_inj;
	ws_tnext = kzalloc_objs(*ws_tnext, nr_cpu_ids, GFP_KERNEL);
	if (!ws_tnext)
		goto free_tcache;
	for (i = 0; i < nr_cpu_ids; i++)
		ws_tcache[i].temp_mc = WS_TELEMETRY_TEMP_UNKNOWN;

	ws_pcie_baseline();
	ws_pdev_refresh();
	mutex_lock(&ws_lock);
	ws_rapl_detect();
	cpus_read_lock();
	ws_rapl_sample_all();
	ws_tcache_refresh();
	cpus_read_unlock();
	mutex_unlock(&ws_lock);

	/*
	 * The caches are whole before a scheduler can reach them.  Syscall
	 * programs get the kfuncs too: a test or a tool can read what a
	 * scheduler would see (BPF_PROG_RUN), without loading one.
	 */
	ret = register_btf_kfunc_id_set(BPF_PROG_TYPE_STRUCT_OPS, &ws_kfunc_set);
	if (!ret)
		ret = register_btf_kfunc_id_set(BPF_PROG_TYPE_SYSCALL, &ws_kfunc_set);
	if (ret) {
		pr_err("registering the kfuncs failed: %d\n", ret);
		goto free_pdevs;
	}

	ret = cpuhp_setup_state_nocalls(CPUHP_AP_ONLINE_DYN, "wattsched/telemetry:online",
					ws_cpu_came_or_went, ws_cpu_came_or_went);
	if (ret < 0) {
		pr_err("registering for CPU hotplug failed: %d\n", ret);
		goto free_pdevs;
	}
	ws_cpuhp_state = ret;

	ws_dir = debugfs_create_dir(WS_TELEMETRY_DIR, NULL);
	debugfs_create_file("version", 0444, ws_dir, NULL, &ws_version_fops);
	debugfs_create_file("pcie", 0444, ws_dir, NULL, &ws_pcie_fops);
	debugfs_create_file("thermal", 0444, ws_dir, NULL, &ws_thermal_fops);
	/* RAPL energy is a power side channel (CVE-2020-8694): root only, as powercap's */
	debugfs_create_file("power", 0400, ws_dir, NULL, &ws_power_fops);
	debugfs_create_file("cpus", 0444, ws_dir, NULL, &ws_cpus_fops);
	if (inject) {
		inj = debugfs_create_dir("inject", ws_dir);
		debugfs_create_file("thermal", 0200, inj, NULL, &ws_inj_thermal_fops);
		debugfs_create_file("power", 0200, inj, NULL, &ws_inj_power_fops);
		debugfs_create_file("link", 0200, inj, NULL, &ws_inj_link_fops);
		debugfs_create_file("clear", 0200, inj, NULL, &ws_inj_clear_fops);
		pr_notice("inject=1: TEST ONLY, values written to inject/ are reported as real\n");
	}
	if (ws_have_rapl || inject)
		schedule_delayed_work(&ws_rapl_work, msecs_to_jiffies(WS_TELEMETRY_POWER_POLL_MS));
	if (ws_have_dts() || ws_have_pts())
		schedule_delayed_work(&ws_tpoll_work, msecs_to_jiffies(thermal_poll_ms));
	schedule_delayed_work(&ws_pdev_work, msecs_to_jiffies(WS_TELEMETRY_PCIE_POLL_MS));
	return 0;

free_pdevs:
	kfree(rcu_access_pointer(ws_pdevs));
	kfree(ws_tnext);
free_tcache:
	kfree(ws_tcache);
free_cpu_inj:
	kfree(ws_cpu_inj);
out:
	return ret;
}

static void __exit ws_exit(void)
{
	unsigned long idx;
	struct ws_fn *fn;

	/* waits for in-flight reads and writes; see the comment at the top */
	debugfs_remove_recursive(ws_dir);
	cancel_delayed_work_sync(&ws_rapl_work);
	cancel_delayed_work_sync(&ws_tpoll_work);
	cancel_delayed_work_sync(&ws_pdev_work);
	cpuhp_remove_state_nocalls(ws_cpuhp_state);
	cancel_work_sync(&ws_thotplug_work);
	xa_for_each(&ws_fns, idx, fn)
		kfree(fn);
	xa_destroy(&ws_fns);
	/* no program calls the kfuncs now: a loaded one holds the module */
	kfree(rcu_access_pointer(ws_pdevs));
	kfree(ws_tnext);
	kfree(ws_tcache);
	kfree(ws_cpu_inj);
}

module_init(ws_init);
module_exit(ws_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("wattsched PCIe, thermal, power and CPU topology telemetry in debugfs");
MODULE_VERSION(WS_TELEMETRY_MODULE_VERSION);
