# SPDX-License-Identifier: GPL-2.0
# ws_lib.sh - what the shell selftests (packages.sh, systemd.sh) share:
# the kernel's KTAP helpers, their own preconditions, and polling.
# Sourced; the caller's directory holds the installed or in-tree collection.

. "$(dirname "$0")/../kselftest/ktap_helpers.sh"

# ws_skip_all REASON: the whole program skips (kselftest's exit 4).
ws_skip_all() {
	ktap_skip_all "$*"
	exit "$KSFT_SKIP"
}

# ws_need_install WHAT: skip unless PID 1 is systemd, installing system-wide
# is allowed (WS_ALLOW_INSTALL=1) and the kernel has sched_ext.
ws_need_install() {
	local why=
	if [ "$(cat /proc/1/comm)" != systemd ]; then
		why="PID 1 is $(cat /proc/1/comm), not systemd"
	elif [ "${WS_ALLOW_INSTALL:-}" != 1 ]; then
		why="$1 system-wide: set WS_ALLOW_INSTALL=1"
	elif [ ! -d /sys/kernel/sched_ext ]; then
		why="the kernel has no sched_ext"
	fi
	[ -z "$why" ] || ws_skip_all "$why"
}

note() { sed 's/^/# /'; }

# wait_for SECONDS CMD...: poll CMD every 0.5 s until it succeeds.
wait_for() {
	local end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt $end ] || return 1
		sleep 0.5
	done
}

scx_state() { cat /sys/kernel/sched_ext/state 2>/dev/null; }
attached() {
	[ "$(scx_state)" = enabled ] &&
		[ "$(cat /sys/kernel/sched_ext/root/ops 2>/dev/null)" = wattsched ]
}
detached() { [ "$(scx_state)" = disabled ]; }
