// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for the argument syntax commands share (user/cmd/args.c,
 * user/lib/pci.c): PCI addresses, TARGET=PCI_ADDR and CGROUP=CLASS, each
 * turned into the control request the command sends.
 */
#include "cmd/args.h"
#include "lib/pci.h"
#include "lib/util.h"
#include "tap.h"

int main(void)
{
	struct ws_request r;
	char out[16];
	const char *why;

	tap_plan(27);

	tap_ok(ws_parse_pci_addr("0000:81:00.0", out, sizeof(out), &why), "pci: plain address");
	tap_is_str(out, "0000:81:00.0", "pci: spelled as given");
	tap_ok(ws_parse_pci_addr("0000:AB:1F.7", out, sizeof(out), &why), "pci: upper-case hex");
	tap_is_str(out, "0000:ab:1f.7", "pci: lower-cased as sysfs spells it");
	tap_ok(!ws_parse_pci_addr("81:00.0", out, sizeof(out), &why), "pci: no domain refused");
	tap_ok(!ws_parse_pci_addr("0000:81:00.8", out, sizeof(out), &why) &&
	       strstr(why, "function"), "pci: function 8 refused");
	tap_ok(!ws_parse_pci_addr("0000:81:20.0", out, sizeof(out), &why) &&
	       strstr(why, "device number"), "pci: device 20 refused");
	tap_ok(!ws_parse_pci_addr("0000:zz:00.0", out, sizeof(out), &why) &&
	       strstr(why, "hexadecimal"), "pci: non-hex refused");

	tap_is_int(ws_args_devaff_rule("t", "1234=0000:81:00.0", &r), 0, "rule: PID=ADDR");
	tap_ok(r.op == WS_OP_DEVAFF && r.pid == 1234 && !r.cgroup[0] && !r.clear,
	       "rule: digits are a pid");
	tap_is_str(r.device, "0000:81:00.0", "rule: the address");

	tap_is_int(ws_args_devaff_rule("t", "/gpu.slice=0000:81:00.0", &r), 0,
		   "rule: CGROUP=ADDR");
	tap_ok(!r.pid && !strcmp(r.cgroup, "/gpu.slice"), "rule: a path is a cgroup");

	tap_is_int(ws_args_devaff_rule("t", "/a=b/x=0000:81:00.0", &r), 0, "rule: '=' in a path");
	tap_is_str(r.cgroup, "/a=b/x", "rule: split at the last '='");
	tap_is_str(r.device, "0000:81:00.0", "rule: the address after it");

	/* spelling errors are usage errors (2), found before anything is sent */
	tap_is_int(ws_args_devaff_rule("t", "12ab=0000:81:00.0", &r), 2,
		   "rule: not all digits is a cgroup, and not a cgroup path");
	tap_is_int(ws_args_devaff_rule("t", "=0000:81:00.0", &r), 2,
		   "rule: an empty left side is a (bad) pid");
	tap_is_int(ws_args_devaff_rule("t", "1234", &r), 2, "rule: no '=' refused");
	tap_is_int(ws_args_devaff("t", "gpu.slice", true, "0000:81:00.0", &r), 2,
		   "devaff: a relative cgroup path");
	tap_is_int(ws_args_devaff("t", "/", true, "81:00.0", &r), 2,
		   "devaff: a cgroup with a bad address");
	tap_is_int(ws_args_devaff("t", "0", false, "0000:81:00.0", &r), 2, "devaff: pid 0");
	tap_ok(!ws_args_devaff("t", "77", false, NULL, &r) && r.clear && r.pid == 77,
	       "devaff: no address is a removal");

	tap_ok(!ws_args_class_rule("t", "/batch.slice=batch", &r) && r.op == WS_OP_CLASS &&
	       r.cls == WS_CLASS_BATCH && !strcmp(r.cgroup, "/batch.slice") && !r.clear,
	       "class: CGROUP=CLASS");
	tap_is_int(ws_args_class_rule("t", "/batch.slice=turbo", &r), 2, "class: unknown class");
	tap_is_int(ws_args_class_rule("t", "batch.slice=batch", &r), 2, "class: relative path");
	tap_ok(!ws_args_class("t", "/x", NULL, &r) && r.clear, "class: no class is a removal");
	return tap_done();
}
