#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# systemd.sh - the shipped unit, under systemd as PID 1.
#
# Run by tests/run in a guest that `scripts/vm-run --systemd` booted: systemd
# is PID 1, the root is a throwaway overlay.  Installs with `make install`,
# starts wattsched.service with a drop-in for the metrics file (as
# docs/fleet.md tells an operator to), and checks what an operator relies on:
# attach, the control socket, a metrics file another user can read, a restart
# after kill -9 that keeps the cap set at runtime, and `systemctl stop` giving
# the CPUs back to EEVDF.  Prints TAP; exits 0 when all passed, 4 (kselftest's
# skip) where it cannot run, 1 otherwise.
#
# Environment: WS_SRC (the checkout), WS_OUT (its build output, default
# WS_SRC), WS_KSRC (the kernel source tree `make deps` extracted), and
# WS_ALLOW_INSTALL=1: this test installs wattsched under /usr/local and
# starts its unit, so it runs only where that is allowed (tests/run's
# throwaway systemd guest).
set -u

. "$(dirname "$0")/ws_lib.sh"
ktap_print_header
ws_need_install "installs wattsched"

src=${WS_SRC:?WS_SRC not set}
out=${WS_OUT:-$src}
unit=wattsched
prom_dir=/var/lib/node_exporter/textfile
prom=$prom_dir/wattsched.prom

main_pid() { systemctl show -P MainPID $unit; }
restarted_from() { local p; p=$(main_pid); [ "$p" != 0 ] && [ "$p" != "$1" ] && attached; }
status_json() { /usr/local/sbin/wattsched status --json 2>&1; }
# json_has JSON MEMBER VALUE: the compact member "MEMBER":VALUE is in JSON.
json_has() { case $1 in *"\"$2\":$3"[,\}]*) return 0 ;; esac; return 1; }
# the unit's story so far, for a failure's diagnostics
unit_log() { journalctl -b -u $unit --no-pager -n 30 2>&1 | note; }

ktap_set_plan 7

# 1: make install, as the README says (the build itself is the host's)
if make -s -C "$src" O="$out" WS_INSIDE=1 KSRC="${WS_KSRC:-}" install >/tmp/install.log 2>&1 &&
   systemctl daemon-reload &&
   [ "$(systemctl show -P FragmentPath $unit)" = /usr/local/lib/systemd/system/$unit.service ]; then
	ktap_test_pass "make install puts the unit where systemd finds it"
else
	ktap_test_fail "make install puts the unit where systemd finds it"
	note </tmp/install.log
	systemctl show -P FragmentPath $unit | note
fi

# The drop-in docs/fleet.md describes: the metrics file in node_exporter's
# textfile directory, which the unit's ProtectSystem=strict must be told of.
mkdir -p /etc/systemd/system/$unit.service.d "$prom_dir"
cat >/etc/systemd/system/$unit.service.d/metrics.conf <<EOF
[Service]
ExecStart=
ExecStart=/usr/local/sbin/wattsched run --rack-dir /etc/wattsched/rack --metrics-file $prom
ReadWritePaths=$prom_dir
EOF
systemctl daemon-reload

# 2: it starts and attaches
if systemctl start $unit && wait_for 60 attached && systemctl is-active -q $unit; then
	ktap_test_pass "systemctl start: active, sched_ext enabled with ops wattsched"
else
	ktap_test_fail "systemctl start: active, sched_ext enabled with ops wattsched (state $(scx_state))"
	unit_log
fi

# 3: the control socket answers, and takes a cap
if wait_for 20 test -S /run/wattsched/control.sock &&
   /usr/local/sbin/wattsched cap 200 >/tmp/cap.log 2>&1 &&
   json_has "$(status_json)" cap_watts 200; then
	ktap_test_pass "control socket: cap 200 taken, status --json says so"
else
	ktap_test_fail "control socket: cap 200 taken, status --json says so"
	{ cat /tmp/cap.log; status_json; ls -la /run/wattsched; } 2>&1 | note
	unit_log
fi

# 4: node_exporter (any other user) can read the metrics file, which shows
# the cap once the daemon has rewritten it (every second: wait for that)
prom_shows_cap() {
	setpriv --reuid=65534 --regid=65534 --clear-groups cat $prom >/tmp/prom.txt 2>&1 &&
		grep -q '^wattsched_cap_watts 200' /tmp/prom.txt
}
if wait_for 20 prom_shows_cap; then
	ktap_test_pass "metrics file $(stat -c '%a %U' $prom), read by uid 65534: cap 200"
else
	ktap_test_fail "metrics file readable by uid 65534 with the cap"
	{ ls -la $prom_dir; head -n 5 /tmp/prom.txt; } 2>&1 | note
	unit_log
fi

# 5: kill -9: systemd restarts it, with the cap set at runtime
pid=$(main_pid)
kill -9 "$pid"
if wait_for 60 restarted_from "$pid" && wait_for 20 test -S /run/wattsched/control.sock &&
   st=$(status_json) && json_has "$st" cap_watts 200 && json_has "$st" intent_source '"restored"'; then
	ktap_test_pass "kill -9 of pid $pid: restarted as pid $(main_pid) (NRestarts $(systemctl show -P NRestarts $unit)), cap 200 restored"
else
	ktap_test_fail "kill -9 of pid $pid: restarted with the cap restored"
	{ echo "main pid $(main_pid), sched_ext $(scx_state)"; status_json; } | note
	unit_log
fi

# 6: systemctl stop: back on EEVDF, and a clean exit
was=$(systemctl is-active $unit)
if [ "$was" = active ] && systemctl stop $unit && wait_for 30 detached &&
   [ ! -e /sys/kernel/sched_ext/root/ops ] && [ "$(systemctl show -P Result $unit)" = success ]; then
	ktap_test_pass "systemctl stop: sched_ext disabled (EEVDF), result success"
else
	ktap_test_fail "systemctl stop of an active unit ($was): sched_ext disabled (EEVDF), result success (state $(scx_state), result $(systemctl show -P Result $unit))"
	unit_log
fi

# 7: nothing on the way said the kernel ended the scheduler
if ! journalctl -b -u $unit --no-pager 2>/dev/null | grep -q 'the kernel ended the scheduler' &&
   ! dmesg | grep -qE 'sched_ext: .*(error|stall|runnable task)'; then
	ktap_test_pass "no scheduler error in the unit's journal or dmesg"
else
	ktap_test_fail "no scheduler error in the unit's journal or dmesg"
	{ journalctl -b -u $unit --no-pager | grep -i 'ended'; dmesg | grep sched_ext; } 2>&1 | note
fi

ktap_finished
