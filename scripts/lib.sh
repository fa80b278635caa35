# SPDX-License-Identifier: GPL-2.0
# Shared helpers for scripts/: where the cache and build root are, and how to
# run a command inside the build root without leaking mounts.

WS_CACHE=${WATTSCHED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wattsched}

# 7.3 from 7.3.4+deb13-amd64: the linux-source-X.Y package of a kernel.
kernel_mm() {
	printf '%s\n' "$1" | sed -n 's/^\([0-9]*\.[0-9]*\).*/\1/p'
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
		WS_KVER=$KVER
		WS_KSRC=/usr/src/linux-source-$(kernel_mm "$KVER")
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
