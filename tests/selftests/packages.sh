#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# packages.sh - the Debian packages `make deb` builds, as an admin installs
# them: dpkg -i of wattsched and wattsched-telemetry-dkms; DKMS builds the
# module for the running kernel; it loads; the packaged unit starts and
# attaches; stop gives the CPUs back to EEVDF; purge leaves nothing behind.
# Prints TAP; exits 0 when all passed, 4 (kselftest's skip) where it cannot
# run, 1 otherwise.
#
# Run by tests/run in the systemd guest (a throwaway overlay of the build
# root, which has dkms and the kernel's headers), before systemd.sh.
# Environment: WS_DEB_DIR (where `make deb` put the packages) and
# WS_ALLOW_INSTALL=1: this test installs packages system-wide.
set -u

. "$(dirname "$0")/ws_lib.sh"
ktap_print_header
ws_need_install "installs packages"
command -v dkms >/dev/null || ws_skip_all "no dkms"
dir=${WS_DEB_DIR:-}
set -- "$dir"/wattsched_*.deb "$dir"/wattsched-telemetry-dkms_*.deb
[ -n "$dir" ] && [ -r "$1" ] && [ -r "$2" ] || ws_skip_all "no packages in WS_DEB_DIR='$dir' (make deb)"
debs=("$@")

unit=wattsched kver=$(uname -r)

ktap_set_plan 6

# man-db's trigger rebuilds the whole manual index, which takes many minutes
# in an emulated guest: this throwaway one does without it.
rm -f /var/lib/man-db/auto-update

# 1: both install; DKMS builds and installs the module for this kernel
ktap_print_msg "$(date +%T) dpkg -i"
if dpkg -i "${debs[@]}" >/tmp/dpkg.log 2>&1 &&
   dkms status -k "$kver" wattsched-telemetry 2>/dev/null | grep -q ': installed' &&
   modinfo -k "$kver" -F filename wattsched_telemetry 2>/dev/null | grep -q '/updates/dkms/'; then
	ktap_test_pass "dpkg -i $(basename "${debs[0]}") $(basename "${debs[1]}"): DKMS built wattsched_telemetry for $kver"
else
	ktap_test_fail "dpkg -i of both packages, DKMS building the module for $kver"
	{ tail -n 30 /tmp/dpkg.log; dkms status 2>&1; } | note
fi

ktap_print_msg "$(date +%T) installed"

# 2: the module DKMS built loads and shows its files
if modprobe wattsched_telemetry &&
   grep -q "$(dpkg-query -W -f '${Version}' wattsched-telemetry-dkms | cut -d+ -f1)" \
	/sys/kernel/debug/wattsched/version 2>/dev/null; then
	ktap_test_pass "modprobe wattsched_telemetry: $(sed -n 2p /sys/kernel/debug/wattsched/version)"
else
	ktap_test_fail "modprobe wattsched_telemetry of the DKMS build"
	{ dmesg | tail -n 5; ls /sys/kernel/debug/wattsched; } 2>&1 | note
fi

# 3: what the wattsched package puts where an admin looks
if [ -x /usr/sbin/wattsched ] && [ -r /usr/share/man/man8/wattsched.8.gz ] &&
   [ -r /usr/share/bash-completion/completions/wattsched ] &&
   [ -r /usr/share/wattsched/rack-example.json ] &&
   [ "$(systemctl show -P FragmentPath $unit)" = /usr/lib/systemd/system/$unit.service ] &&
   [ "$(systemctl is-enabled $unit 2>/dev/null)" = disabled ]; then
	ktap_test_pass "wattsched: /usr/sbin/wattsched, man page, completion, examples; the unit installed, not enabled"
else
	ktap_test_fail "wattsched: binary, man page, completion, examples, unit (disabled)"
	{ dpkg -L wattsched; systemctl is-enabled $unit; } 2>&1 | note
fi

# 4: the packaged unit starts and attaches
if systemctl start $unit && wait_for 60 attached && systemctl is-active -q $unit &&
   wait_for 20 test -S /run/wattsched/control.sock &&
   /usr/sbin/wattsched status --json | grep -q '"attached":true'; then
	ktap_test_pass "systemctl start: attached, status answers"
else
	ktap_test_fail "systemctl start of the packaged unit: attached, status answers"
	journalctl -b -u $unit --no-pager -n 20 2>&1 | note
fi

# 5: stop: back on EEVDF
if systemctl stop $unit && wait_for 30 detached; then
	ktap_test_pass "systemctl stop: sched_ext disabled (EEVDF)"
else
	ktap_test_fail "systemctl stop: sched_ext disabled"
fi

# 6: purge removes the module DKMS built, the unit and the binary
rmmod wattsched_telemetry 2>/dev/null
if dpkg --purge wattsched wattsched-telemetry-dkms >/tmp/purge.log 2>&1 &&
   ! modinfo -k "$kver" wattsched_telemetry >/dev/null 2>&1 && [ ! -e /usr/sbin/wattsched ] &&
   [ ! -e /usr/lib/systemd/system/$unit.service ] && [ ! -d /usr/src/wattsched-telemetry-0.1.0 ]; then
	ktap_test_pass "dpkg --purge: the module, the unit and the binary are gone"
else
	ktap_test_fail "dpkg --purge leaves nothing behind"
	{ tail -n 20 /tmp/purge.log; modinfo -k "$kver" -F filename wattsched_telemetry; } 2>&1 | note
fi

ktap_finished
