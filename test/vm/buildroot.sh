#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# A build root for a kernel of another Debian suite (trixie, sid): its own
# gcc, make, libc and the kernel's linux-headers package installed from that
# suite with mmdebstrap, cached, so the kernel helper builds there the way
# DKMS builds it on such a host. Made once per suite and package list
# ($IMASNAP_CACHE/buildroot-<suite>-<hash>), never changed afterwards.
#
#   buildroot.sh -k NAME path          print the build root (makes it first)
#   buildroot.sh -k NAME build SRCDIR  build the module in SRCDIR (a copy of
#                                      kernel-helper/) inside the build root:
#                                      SRCDIR is bind-mounted at /build in a
#                                      private mount namespace (root)
#
# NAME: a kernel of test/vm/kernel.sh other than debian (its headers need
# their suite's toolchain). Progress on stderr, answers on stdout.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${IMASNAP_CACHE:-/var/cache/imasnap}
# Bump when the steps below change what a build root holds.
RECIPE=1

die() {
	echo "buildroot.sh: $*" >&2
	exit 1
}
log() { echo "buildroot.sh: $*" >&2; }

[[ ${1:-} == -k ]] || die "usage: buildroot.sh -k NAME path|build SRCDIR"
KERNEL=${2:?}
shift 2
[[ $KERNEL != debian ]] || die "debian's kernel builds against the host's own headers"
KVER=$("$HERE/kernel.sh" -k "$KERNEL" version)
# binutils: sid's gcc-N-for-host brings only the x86_64-linux-gnu- prefixed ld,
# and host programs (gen_btf_layout) link with plain ld
PACKAGES="make libc6-dev binutils linux-headers-$KVER"
KEY=$(echo "$RECIPE $KERNEL $PACKAGES" | sha256sum | cut -c1-16)
ROOT=$CACHE/buildroot-$KERNEL-$KEY

make_root() {
	[[ ! -f $ROOT/.done ]] || return 0
	[[ $(id -u) -eq 0 ]] || die "making $ROOT needs root"
	command -v mmdebstrap >/dev/null || die "mmdebstrap missing (test/vm/deps.sh install)"
	local mirror t0
	# shellcheck disable=SC2016 # apt expands $(REPO_URI) itself
	mirror=$(apt-get indextargets --format '$(REPO_URI)' 'Codename: bookworm' 2>/dev/null | head -n1)
	mirror=${mirror:-http://deb.debian.org/debian/}
	exec 9>"$CACHE/.buildroot-$KERNEL.lock"
	flock 9
	[[ ! -f $ROOT/.done ]] || return 0
	rm -rf "$ROOT.tmp"
	t0=$(date +%s)
	log "making $ROOT ($KERNEL from $mirror: $PACKAGES)"
	# sid's Release carries a Valid-Until that a mirror snapshot outlives
	mmdebstrap --variant=apt --include="${PACKAGES// /,}" \
		--aptopt='Acquire::Check-Valid-Until "false"' \
		--keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
		"$KERNEL" "$ROOT.tmp" "$mirror" >&2 || die "mmdebstrap failed"
	mkdir -p "$ROOT.tmp/build"
	touch "$ROOT.tmp/.done"
	mv "$ROOT.tmp" "$ROOT"
	log "made $ROOT in $(($(date +%s) - t0)) s"
}

build() {
	local src hostcc
	src=$(realpath "${1:?build wants the source directory}")
	make_root
	# The headers name their compiler (CC = ...gcc-N); host programs
	# (gen_btf_layout) use the same one, as the build root has no plain gcc.
	local f
	hostcc=
	for f in "$ROOT"/usr/bin/x86_64-linux-gnu-gcc-[0-9]*; do
		[[ ! $f =~ gcc-[0-9]+$ ]] || hostcc=${f##*/}
	done
	[[ -n $hostcc ]] || die "no gcc in $ROOT"
	[[ $(id -u) -eq 0 ]] || die "building in $ROOT needs root (chroot)"
	log "building $src in $ROOT against linux-headers-$KVER"
	# shellcheck disable=SC2016 # expanded by the inner sh
	unshare -m --propagation private sh -ec '
		mount --bind "$2" "$1/build"
		mount -t proc proc "$1/proc"
		chroot "$1" make -C "/usr/src/linux-headers-$3" M=/build \
			HOSTCC="$4" IMASNAP_VMLINUX_H=/build/vmlinux.h modules
	' sh "$ROOT" "$src" "$KVER" "$hostcc"
}

case ${1:-} in
path)
	make_root
	echo "$ROOT"
	;;
build) build "${2:-}" ;;
*) die "usage: buildroot.sh -k NAME path|build SRCDIR" ;;
esac
