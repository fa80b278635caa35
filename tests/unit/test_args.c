// SPDX-License-Identifier: GPL-2.0
/* Unit tests for user/devaff.c: the PCI address and TARGET=PCI_ADDR parsers. */
#include "tap.h"
#include "ws.h"

int main(void)
{
	char arg[64], out[16], *target, *addr;
	const char *why;
	struct ws_devaff b;
	bool cgroup;

	tap_plan(24);

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

	strcpy(arg, "1234=0000:81:00.0");
	tap_ok(ws_devaff_split(arg, &target, &addr, &cgroup), "split: PID=ADDR");
	tap_is_str(target, "1234", "split: the pid");
	tap_is_str(addr, "0000:81:00.0", "split: the address");
	tap_ok(!cgroup, "split: digits are a pid");

	strcpy(arg, "/gpu.slice=0000:81:00.0");
	tap_ok(ws_devaff_split(arg, &target, &addr, &cgroup) && cgroup,
	       "split: a path is a cgroup");
	tap_is_str(target, "/gpu.slice", "split: the path");

	strcpy(arg, "/a=b/x=0000:81:00.0");
	tap_ok(ws_devaff_split(arg, &target, &addr, &cgroup) && cgroup,
	       "split: '=' in a path");
	tap_is_str(target, "/a=b/x", "split: at the last '='");
	tap_is_str(addr, "0000:81:00.0", "split: the address after it");

	strcpy(arg, "12ab=0000:81:00.0");
	tap_ok(ws_devaff_split(arg, &target, &addr, &cgroup) && cgroup,
	       "split: not all digits is a cgroup (the resolver then refuses it)");
	strcpy(arg, "=0000:81:00.0");
	tap_ok(ws_devaff_split(arg, &target, &addr, &cgroup) && !cgroup && !target[0],
	       "split: an empty left side is a (bad) pid");
	strcpy(arg, "1234");
	tap_ok(!ws_devaff_split(arg, &target, &addr, &cgroup), "split: no '=' refused");
	tap_is_str(arg, "1234", "split: a refused argument is untouched");

	/* spelling errors are usage errors (2), found before anything is looked up */
	tap_is_int(ws_devaff_resolve("t", "gpu.slice", true, "0000:81:00.0", &b), 2,
		   "resolve: a relative cgroup path");
	tap_is_int(ws_devaff_resolve("t", "/", true, "81:00.0", &b), 2,
		   "resolve: a cgroup with a bad address");
	tap_is_int(ws_devaff_resolve("t", "0", false, "0000:81:00.0", &b), 2,
		   "resolve: pid 0");
	return tap_done();
}
