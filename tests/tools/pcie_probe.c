// SPDX-License-Identifier: GPL-2.0
/*
 * pcie_probe OBJECT DDDD:BB:DD.F... - print, for each address, what the
 * telemetry module's PCIe kfuncs return, through the syscall program in
 * OBJECT (pcie_probe.bpf.o), one line each:
 *
 *	dev=DDDD:BB:DD.F node=N sta_speed=S sta_width=W cap_speed=S cap_width=W
 *	dev=DDDD:BB:DD.F node=N link=-ERRNO
 *
 * Speeds in GT/s as lspci writes them ("2.5", "8"), or "unknown".  A test
 * tool (telemetry.telemetry_pcie_kfuncs): exit 1 when the program cannot
 * load (the module is not loaded) or an address is malformed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "wattsched_telemetry.h"

struct pcie_probe_args {
	__u32 addr;
	__s32 node;
	__s32 link;
};

static const char *speed_name(unsigned int enc)
{
	static const char * const names[] = { NULL, "2.5", "5", "8", "16", "32", "64" };

	return enc && enc < sizeof(names) / sizeof(names[0]) ? names[enc] : "unknown";
}

static int parse_addr(const char *s, __u32 *addr)
{
	unsigned int dom, bus, slot, fn;
	char end;

	if (sscanf(s, "%4x:%2x:%2x.%1x%c", &dom, &bus, &slot, &fn, &end) != 4 ||
	    slot > 0x1f || fn > 7)
		return -1;
	*addr = dom << 16 | bus << 8 | slot << 3 | fn;
	return 0;
}

static int probe(int fd, const char *s)
{
	struct pcie_probe_args a = {};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &a, .ctx_size_in = sizeof(a));

	if (parse_addr(s, &a.addr)) {
		fprintf(stderr, "pcie_probe: '%s' is not DDDD:BB:DD.F\n", s);
		return -1;
	}
	if (bpf_prog_test_run_opts(fd, &opts)) {
		fprintf(stderr, "pcie_probe: running the program for %s: %s\n", s, strerror(errno));
		return -1;
	}
	printf("dev=%s node=%d", s, a.node);
	if (a.link < 0)
		printf(" link=%d\n", a.link);
	else
		printf(" sta_speed=%s sta_width=%u cap_speed=%s cap_width=%u\n",
		       speed_name(WS_TELEMETRY_LINK_STA_SPEED(a.link)),
		       WS_TELEMETRY_LINK_STA_WIDTH(a.link),
		       speed_name(WS_TELEMETRY_LINK_CAP_SPEED(a.link)),
		       WS_TELEMETRY_LINK_CAP_WIDTH(a.link));
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_program *prog;
	struct bpf_object *obj;
	int i, ret = 1;

	if (argc < 3) {
		fprintf(stderr, "usage: pcie_probe OBJECT DDDD:BB:DD.F...\n");
		return 2;
	}
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "pcie_probe: cannot open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (bpf_object__load(obj)) {
		fprintf(stderr, "pcie_probe: cannot load %s (is wattsched_telemetry loaded?): %s\n",
			argv[1], strerror(errno));
		goto close_obj;
	}
	prog = bpf_object__find_program_by_name(obj, "pcie_probe");
	if (!prog)
		goto close_obj;
	ret = 0;
	for (i = 2; i < argc; i++)
		if (probe(bpf_program__fd(prog), argv[i]))
			ret = 1;
close_obj:
	bpf_object__close(obj);
	return ret;
}
