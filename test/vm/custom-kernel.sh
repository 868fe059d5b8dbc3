#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The test bed's CONFIG_IMA_KEXEC kernel, built from Debian's linux-source-6.1
# with test/kernel/kexec.config (IMA_KEXEC, lockdep, DEBUG_LIST, KASAN) merged
# onto x86_64_defconfig + kvm_guest.config. Built once into a cache outside
# the checkout, keyed by the config fragment, the source package's version and
# this recipe, so a second call (or a second CI job on the same machine) costs
# nothing.
#
#   custom-kernel.sh build     build if not cached (root: writes the cache)
#   custom-kernel.sh vmlinuz   print the bzImage's path (builds if needed)
#   custom-kernel.sh kdir      print the build tree, for M= module builds
#   custom-kernel.sh vmlinux   print the ELF vmlinux (BTF) path
#   custom-kernel.sh release   print its `uname -r`
#   custom-kernel.sh key       print the cache key
#   custom-kernel.sh built     exit 0 if it is built (never builds)
#
# Environment: IMASNAP_CACHE (default /var/cache/imasnap), IMASNAP_JOBS
# (make -j, default nproc). Progress goes to stderr, answers to stdout.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
CACHE=${IMASNAP_CACHE:-/var/cache/imasnap}
FRAGMENT=$TOP/test/kernel/kexec.config
TARBALL=/usr/src/linux-source-6.1.tar.xz
# Bump when the steps below change what gets built.
RECIPE=1

die() {
	echo "custom-kernel.sh: $*" >&2
	exit 1
}
log() { echo "custom-kernel.sh: $*" >&2; }

key() {
	local ver
	ver=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null) ||
		die "linux-source-6.1 is not installed (test/vm/deps.sh install)"
	{ echo "recipe $RECIPE source $ver"; cat "$FRAGMENT"; } | sha256sum | cut -c1-16
}

DIR=$CACHE/kernel-ima-kexec-$(key)
BUILD=$DIR/build

# Every option the fragment sets (or unsets) must have survived olddefconfig.
check_config() {
	local line opt want bad=0
	while IFS= read -r line; do
		if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
			opt=${BASH_REMATCH[1]} want=$line
		elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
			opt=${BASH_REMATCH[1]} want=
		else
			continue
		fi
		if [[ -n $want ]]; then
			grep -qxF "$want" "$BUILD/.config" && continue
		else
			grep -q "^$opt=" "$BUILD/.config" || continue
		fi
		echo "custom-kernel.sh: $opt: wanted '${want:-not set}', got '$(grep "^$opt=" "$BUILD/.config" || echo 'not set')'" >&2
		bad=1
	done <"$FRAGMENT"
	return $bad
}

build() {
	[[ ! -f $DIR/done ]] || return 0
	[[ $(id -u) -eq 0 ]] || die "building into $CACHE needs root"
	[[ -f $TARBALL ]] || die "$TARBALL missing (apt-get install linux-source-6.1)"
	mkdir -p "$DIR"
	exec 9>"$DIR/.lock"
	flock 9
	[[ ! -f $DIR/done ]] || return 0
	local t0=$SECONDS jobs=${IMASNAP_JOBS:-$(nproc)}
	if [[ ! -f $DIR/src/Makefile ]]; then
		log "unpacking $TARBALL into $DIR/src"
		rm -rf "$DIR/src" "$DIR/src.tmp"
		mkdir -p "$DIR/src.tmp"
		tar -xJf "$TARBALL" -C "$DIR/src.tmp" --strip-components=1
		mv "$DIR/src.tmp" "$DIR/src"
	fi
	rm -rf "$BUILD"
	mkdir -p "$BUILD"
	log "configuring (x86_64_defconfig kvm_guest.config + ${FRAGMENT#"$TOP"/})"
	make -C "$DIR/src" O="$BUILD" x86_64_defconfig kvm_guest.config >&2
	"$DIR/src/scripts/kconfig/merge_config.sh" -m -O "$BUILD" \
		"$BUILD/.config" "$FRAGMENT" >&2
	make -C "$DIR/src" O="$BUILD" olddefconfig >&2
	check_config || die "the config fragment did not survive olddefconfig (see above)"
	log "building with -j$jobs (about 30-40 minutes on 2 cores)"
	make -C "$DIR/src" O="$BUILD" -j"$jobs" all >"$DIR/build.log" 2>&1 ||
		{ tail -n 40 "$DIR/build.log" >&2; die "kernel build failed (log: $DIR/build.log)"; }
	make -C "$DIR/src" O="$BUILD" -s kernelrelease >"$DIR/release"
	log "built $(cat "$DIR/release") in $((SECONDS - t0)) s"
	touch "$DIR/done"
}

need() { [[ -f $DIR/done ]] || build; }

case "${1:-}" in
build) build ;;
vmlinuz) need; echo "$BUILD/arch/x86/boot/bzImage" ;;
kdir) need; echo "$BUILD" ;;
vmlinux) need; echo "$BUILD/vmlinux" ;;
release) need; cat "$DIR/release" ;;
key) key ;;
built) [[ -f $DIR/done ]] ;;
*)
	sed -n '4,20s/^# \{0,1\}//p' "$0" >&2
	exit 2
	;;
esac
