// SPDX-License-Identifier: GPL-2.0
/*
 * pcie_probe.bpf.c - a syscall program that asks the telemetry module's
 * PCIe kfuncs about one address, as a scheduler would; pcie_probe.c runs
 * it with BPF_PROG_RUN.  It loads only while the module is loaded.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

extern s32 wattsched_tm_pcie_node(u32 addr) __ksym;
extern s32 wattsched_tm_pcie_link(u32 addr) __ksym;

/* In: addr (domain << 16 | bus << 8 | devfn).  Out: what the kfuncs return. */
struct pcie_probe_args {
	u32 addr;
	s32 node;
	s32 link;
};

SEC("syscall")
int pcie_probe(struct pcie_probe_args *a)
{
	a->node = wattsched_tm_pcie_node(a->addr);
	a->link = wattsched_tm_pcie_link(a->addr);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
