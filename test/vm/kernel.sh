#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The test kernel: Debian's current linux-image-<ver>-amd64-unsigned, fetched
# with apt-get download and unpacked with dpkg-deb -x into a cache outside the
# checkout. It is never installed on the host (the host kernel has no IMA).
#
#   kernel.sh version   print the kernel version (e.g. 6.1.0-56-amd64); the
#                       first answer is cached so later calls work offline
#   kernel.sh refresh   resolve the version again from the apt archive
#   kernel.sh fetch     download + unpack the image if not cached, and install
#                       linux-headers-<ver> if /usr/src/linux-headers-<ver> is
#                       missing (root)
#   kernel.sh vmlinuz   print the path of the compressed kernel (fetches)
#   kernel.sh moddir    print the path of lib/modules/<ver> (fetches)
#   kernel.sh vmlinux   print the path of an uncompressed ELF vmlinux made from
#                       the vmlinuz, for BTF / vmlinux.h (fetches, cached)
#   kernel.sh info      print all of the above as KEY=value lines
#
# Environment: IMASNAP_CACHE (default /var/cache/imasnap), IMASNAP_KVER (force
# a version instead of asking apt). Output on stdout is only the answer; all
# progress goes to stderr, so callers can use $(test/vm/kernel.sh version).
set -euo pipefail

CACHE=${IMASNAP_CACHE:-/var/cache/imasnap}

die() {
	echo "kernel.sh: $*" >&2
	exit 1
}
log() { echo "kernel.sh: $*" >&2; }

# What linux-image-amd64 depends on in the archive is the current kernel ABI.
resolve_version() {
	local v
	v=$(apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: linux-image-\([0-9][^ ]*-amd64\)$/\1/p' | head -n1)
	[[ -n $v ]] || die "cannot resolve the kernel version from 'apt-cache depends linux-image-amd64' (run apt-get update?)"
	printf '%s\n' "$v"
}

version() {
	if [[ -n ${IMASNAP_KVER:-} ]]; then
		printf '%s\n' "$IMASNAP_KVER"
		return
	fi
	if [[ -s $CACHE/kernel-version ]]; then
		cat "$CACHE/kernel-version"
		return
	fi
	local v
	v=$(resolve_version)
	# Caching is best effort: a non-root caller (make) still gets the answer.
	{ mkdir -p "$CACHE" && printf '%s\n' "$v" >"$CACHE/kernel-version.tmp.$$" &&
		mv -f "$CACHE/kernel-version.tmp.$$" "$CACHE/kernel-version"; } 2>/dev/null ||
		rm -f "$CACHE/kernel-version.tmp.$$" 2>/dev/null || true
	printf '%s\n' "$v"
}

# Serialise fetch/vmlinux between concurrent callers (make -j, test runs).
lock() {
	mkdir -p "$CACHE"
	exec 9>"$CACHE/.lock"
	flock 9
}

fetch() {
	local ver dir root tmp deb
	ver=$(version)
	dir=$CACHE/$ver
	root=$dir/root
	lock
	if [[ ! -f $root/boot/vmlinuz-$ver ]]; then
		[[ $(id -u) -eq 0 ]] || die "fetching the kernel needs root (apt-get download into $CACHE)"
		mkdir -p "$dir"
		tmp=$(mktemp -d "$dir/dl.XXXXXX")
		log "downloading linux-image-$ver-unsigned into $dir"
		# apt-get download writes into the current directory. As root it
		# warns that _apt cannot reach the directory: harmless.
		(cd "$tmp" && apt-get download "linux-image-$ver-unsigned" >&2)
		deb=$(find "$tmp" -maxdepth 1 -name "linux-image-$ver-unsigned_*.deb" | head -n1)
		[[ -n $deb ]] || die "apt-get download produced no .deb"
		rm -rf "$dir/root.tmp"
		dpkg-deb -x "$deb" "$dir/root.tmp"
		[[ -f $dir/root.tmp/boot/vmlinuz-$ver ]] || die "$deb has no boot/vmlinuz-$ver"
		rm -rf "$root"
		mv "$dir/root.tmp" "$root"
		mv -f "$deb" "$dir/"
		rm -rf "$tmp"
		log "unpacked into $root"
	fi
	if [[ ! -d /usr/src/linux-headers-$ver ]]; then
		[[ $(id -u) -eq 0 ]] || die "/usr/src/linux-headers-$ver is missing; installing it needs root"
		log "installing linux-headers-$ver"
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
			"linux-headers-$ver" >&2
	fi
}

vmlinuz() {
	local ver
	ver=$(version)
	[[ -f $CACHE/$ver/root/boot/vmlinuz-$ver ]] || fetch
	printf '%s\n' "$CACHE/$ver/root/boot/vmlinuz-$ver"
}

moddir() {
	local ver
	ver=$(version)
	[[ -d $CACHE/$ver/root/lib/modules/$ver ]] || fetch
	printf '%s\n' "$CACHE/$ver/root/lib/modules/$ver"
}

is_elf() { [[ $(head -c4 "$1" | od -An -tx1 | tr -d ' \n') == 7f454c46 ]]; }

# Debian compresses the bzImage payload with xz. The ELF vmlinux is the xz
# stream that starts at the first "\xfd7zXZ\0" magic that decodes to an ELF
# file; --single-stream makes xz ignore what follows the stream.
vmlinux() {
	local ver z out off
	ver=$(version)
	out=$CACHE/$ver/vmlinux
	if [[ ! -s $out ]]; then
		z=$(vmlinuz)
		lock
		if [[ ! -s $out ]]; then
			# shellcheck disable=SC2013 # one offset a line
			for off in $(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$z" | cut -d: -f1); do
				# tail gets SIGPIPE when xz stops at the stream's end:
				# read through a process substitution so only xz's
				# status counts.
				if xz -dc --single-stream <(tail -c "+$((off + 1))" "$z") >"$out.tmp" 2>/dev/null &&
					is_elf "$out.tmp"; then
					mv -f "$out.tmp" "$out"
					break
				fi
			done
			rm -f "$out.tmp"
			[[ -s $out ]] || die "no xz-compressed ELF vmlinux found in $z"
			log "extracted $out"
		fi
	fi
	printf '%s\n' "$out"
}

case "${1:-}" in
version) version ;;
refresh)
	rm -f "$CACHE/kernel-version"
	version
	;;
fetch) fetch ;;
vmlinuz) vmlinuz ;;
moddir) moddir ;;
vmlinux) vmlinux ;;
info)
	# Assign first so that a failure stops the script (set -e).
	kver=$(version) vmlinuz=$(vmlinuz) moddir=$(moddir) vmlinux=$(vmlinux)
	printf 'KVER=%s\nVMLINUZ=%s\nMODDIR=%s\nVMLINUX=%s\n' \
		"$kver" "$vmlinuz" "$moddir" "$vmlinux"
	;;
*)
	sed -n '4,20s/^# \{0,1\}//p' "$0" >&2
	exit 2
	;;
esac
