# SPDX-License-Identifier: GPL-2.0
# Shared helpers for scripts/: where the cache and build root are, and how to
# run a command inside the build root without leaking mounts.

WS_CACHE=${WATTSCHED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wattsched}
# scripts/vm-run's KVM verdict (kvm_cached_verdict, below)
WS_KVM_CACHE=$WS_CACHE/kvm-probe

# 7.3 from 7.3.4+deb13-amd64: the linux-source-X.Y package of a kernel.
kernel_mm() {
	printf '%s\n' "$1" | sed -n 's/^\([0-9]*\.[0-9]*\).*/\1/p'
}

# bpf_kver ROOT KVER DEFAULT: the kernel whose BTF (vmlinux.h) and sched_ext
# library (tools/sched_ext/include/scx of its linux-source-X.Y, a path
# inside ROOT) build the BPF program and the loader that run on KVER: KVER
# itself when its library has the v6.13 API wattsched is written to
# (scx_bpf_dsq_insert()), else DEFAULT, the default kernel.  That is how
# sched_ext schedulers reach older kernels: CO-RE relocates what changed,
# and the library's compat.bpf.h calls the kfuncs the running kernel has.
# The module is built for KVER either way.
bpf_kver() {
	local lib
	lib=/usr/src/linux-source-$(kernel_mm "$2")/tools/sched_ext/include/scx
	if grep -qs 'scx_bpf_dsq_insert' "$1$lib/common.bpf.h" "$1$lib/compat.bpf.h"; then
		echo "$2"
	else
		echo "$3"
	fi
}

# Load what scripts/deps recorded; fail with a hint when it has not run.
# KVER in the environment (make ... KVER=X) picks another of the kernels
# `make deps KVERS=...` installed (WS_KVERS) instead of the default.
ws_load_env() {
	if [ ! -r "$WS_CACHE/env" ]; then
		echo "wattsched: dependencies missing; run 'make deps' first" >&2
		return 1
	fi
	. "$WS_CACHE/env"
	if [ -n "${KVER:-}" ] && [ "$KVER" != "$WS_KVER" ]; then
		case " ${WS_KVERS:-$WS_KVER} " in
		*" $KVER "*) ;;
		*)	echo "wattsched: kernel '$KVER' is not installed; installed: ${WS_KVERS:-$WS_KVER}" \
				"(make deps KVERS=\"...\" installs more)" >&2
			return 1 ;;
		esac
		WS_KSRC=/usr/src/linux-source-$(kernel_mm "$(bpf_kver "$WS_ROOT" "$KVER" "$WS_KVER")")
		WS_KVER=$KVER
	fi
}

# vm_root_fs: how guests of $WS_KVER get their root, "9p" when its build
# tree asks for it (wattsched-vm-root, written by scripts/kernels), else
# "virtiofs", virtme-ng's default.
vm_root_fs() {
	if [ "$(cat "${WS_ROOT%/}/usr/src/linux-headers-$WS_KVER/wattsched-vm-root" 2>/dev/null)" = 9p ]; then
		echo 9p
	else
		echo virtiofs
	fi
}

newest_kver() {
	ls "$1/boot" 2>/dev/null | sed -n 's/^vmlinuz-//p' | sort -V | tail -n 1
}

# in_root ROOT CMD... : run CMD chrooted in ROOT, with /proc, /dev, /sys and
# (if WS_BIND is set) the project directory bind-mounted, all inside a private
# mount namespace so that nothing outlives the command.
in_root() {
	local root=$1
	shift
	local bind=${WS_BIND:-}
	unshare -m --propagation private sh -c '
		r=$1; b=$2; shift 2
		mount --bind /proc "$r/proc" &&
		mount --bind /dev "$r/dev" &&
		mount -t devpts -o newinstance devpts "$r/dev/pts" &&
		mount --bind /sys "$r/sys" || exit 125
		mkdir -p "$r/tmp" && mount -t tmpfs tmpfs "$r/tmp" || exit 125
		if [ -n "$b" ]; then
			mkdir -p "$r$b" && mount --bind "$b" "$r$b" || exit 125
		fi
		exec chroot "$r" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root TERM=${TERM:-dumb} "$@"
	' in_root "$root" "$bind" "$@"
}

# root_apt_install ROOT [APT-OPTION...] PKG...: apt-get install PKG... in
# the build root ROOT, refreshing its package lists and trying once more if
# that fails (a cached root's lists go stale as the archive moves on).
root_apt_install() {
	local root=$1
	shift
	in_root "$root" sh -c 'export DEBIAN_FRONTEND=noninteractive
		apt-get install -y -qq --no-install-recommends "$@" ||
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@"; }' \
		sh "$@"
}

# bench_host_quiet NAME: a benchmark times guests under TCG, where every
# other VM on the host takes CPU from the one measured.  Refuse to start
# while one runs, unless BENCH_ALLOW_BUSY=1 (then only warn).
bench_host_quiet() {
	local pids
	pids=$(pgrep -d, -f '^[^ ]*qemu-system' || true)
	[ -n "$pids" ] || return 0
	if [ "${BENCH_ALLOW_BUSY:-0}" = 1 ]; then
		echo "$1: warning: other VMs run on this host (qemu pids $pids);" \
			"measuring anyway (BENCH_ALLOW_BUSY=1): the timings are skewed" >&2
		return 0
	fi
	echo "$1: error: another VM runs on this host (qemu pids $pids): its load would" \
		"skew the timings; wait for it, or set BENCH_ALLOW_BUSY=1 to measure anyway" >&2
	return 1
}

# kvm_probe_key: what scripts/vm-run's cached KVM verdict ($WS_KVM_CACHE,
# line 1) is keyed by: this host's boot and the guest kernel.
kvm_probe_key() {
	printf '%s %s\n' "$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)" "$WS_KVER"
}

# kvm_cached_verdict: scripts/vm-run's cached KVM verdict for this boot and
# $WS_KVER (lines: key, yes or no, a note): 0 KVM works, 1 it does not, 2
# nothing cached for them.  Sets kvm_note to the verdict's note.
kvm_cached_verdict() {
	[ -r "$WS_KVM_CACHE" ] && [ "$(sed -n 1p "$WS_KVM_CACHE")" = "$(kvm_probe_key)" ] || return 2
	kvm_note=$(sed -n 3p "$WS_KVM_CACHE")
	[ "$(sed -n 2p "$WS_KVM_CACHE")" = yes ]
}

# vm_accel: how scripts/vm-run boots $WS_KVER on this host, from its cached
# verdict (a writable /dev/kvm proves nothing): "KVM" or "qemu TCG,
# single-threaded".  Asked after a vm-run, whose probe wrote the cache.
vm_accel() {
	if [ "${WS_NO_KVM:-0}" != 1 ] && [ -w /dev/kvm ] && kvm_cached_verdict; then
		echo KVM
	else
		echo "qemu TCG, single-threaded"
	fi
}

# host_load: the host's 1, 5 and 15 minute load averages.
host_load() {
	cut -d' ' -f1-3 /proc/loadavg
}
