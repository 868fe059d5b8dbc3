#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The test kernels: Debian's own kernel packages, fetched with apt-get download
# and unpacked with dpkg-deb -x into a cache outside the checkout. They are
# never installed on the host (the host kernel has no IMA).
#
#   kernel.sh [-k NAME] version   print the kernel version (e.g. 6.1.0-56-amd64);
#                       the first answer is cached so later calls work offline
#   kernel.sh [-k NAME] refresh   resolve the version again from the archive
#   kernel.sh [-k NAME] fetch     download + unpack the image (and modules) if
#                       not cached; debian: install linux-headers-<ver> on the
#                       host if missing; other kernels: unpack their headers
#                       into the cache instead (root)
#   kernel.sh [-k NAME] vmlinuz   print the path of the compressed kernel
#   kernel.sh [-k NAME] moddir    print the path of lib/modules/<ver>
#   kernel.sh [-k NAME] vmlinux   print the path of an uncompressed ELF vmlinux
#                       made from the vmlinuz, for BTF / vmlinux.h (cached)
#   kernel.sh [-k NAME] kdir      print the kernel headers' build tree
#   kernel.sh [-k NAME] info      print all of the above as KEY=value lines
#   kernel.sh names               print the kernel names this script knows
#
# NAME (or IMASNAP_KERNEL): debian (default: Debian 12's 6.1, from the host's
# apt sources), trixie (Debian 13, 6.12) or sid (unstable, 7.2). trixie and
# sid come from the same mirror through an apt configuration of their own
# under $IMASNAP_CACHE/apt-<suite>, so the host's apt never sees those suites.
#
# Environment: IMASNAP_CACHE (default /var/cache/imasnap), IMASNAP_KVER (force
# a version instead of asking apt). Output on stdout is only the answer; all
# progress goes to stderr, so callers can use $(test/vm/kernel.sh version).
set -euo pipefail

CACHE=${IMASNAP_CACHE:-/var/cache/imasnap}
KERNEL=${IMASNAP_KERNEL:-debian}
if [[ ${1:-} == -k ]]; then
	KERNEL=${2:?-k wants a kernel name}
	shift 2
fi
NAMES="debian trixie sid"

die() {
	echo "kernel.sh: $*" >&2
	exit 1
}
log() { echo "kernel.sh: $*" >&2; }

case $KERNEL in
debian) SUITE='' VERSION_FILE=$CACHE/kernel-version ;;
trixie | sid) SUITE=$KERNEL VERSION_FILE=$CACHE/kernel-version-$KERNEL ;;
*) die "unknown kernel '$KERNEL' (known: $NAMES)" ;;
esac

# apt for another suite: the host's mirror and keyring, lists and package
# cache of its own, so the host's apt state is never changed.
APT_DIR=$CACHE/apt-$SUITE
apt_opts() {
	printf '%s\n' -o "Dir::Etc::SourceList=$APT_DIR/sources.list" \
		-o "Dir::Etc::SourceParts=$APT_DIR/sources.list.d" \
		-o "Dir::Etc::PreferencesParts=$APT_DIR/preferences.d" \
		-o "Dir::State::Lists=$APT_DIR/lists" -o "Dir::Cache=$APT_DIR/cache" \
		-o "Acquire::Check-Valid-Until=false"
}
suite_apt() {
	local cmd=$1 opts
	shift
	if [[ -z $SUITE ]]; then
		"$cmd" "$@"
		return
	fi
	mapfile -t opts < <(apt_opts)
	"$cmd" "${opts[@]}" "$@"
}
suite_apt_update() {
	[[ -n $SUITE && ! -d $APT_DIR/lists/partial ]] || return 0
	[[ $(id -u) -eq 0 ]] || die "the $SUITE package lists are not cached yet; fetching them needs root"
	local mirror
	# shellcheck disable=SC2016 # apt expands $(REPO_URI) itself
	mirror=$(apt-get indextargets --format '$(REPO_URI)' 'Codename: bookworm' 2>/dev/null | head -n1)
	mirror=${mirror:-http://deb.debian.org/debian/}
	mkdir -p "$APT_DIR"/{sources.list.d,preferences.d,lists/partial,cache/archives/partial}
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $SUITE main" \
		>"$APT_DIR/sources.list"
	log "apt-get update for $SUITE ($mirror)"
	suite_apt apt-get -q update >&2 || { rm -rf "$APT_DIR/lists/partial"; die "apt-get update for $SUITE failed"; }
}

# What linux-image-amd64 depends on in the archive is the current kernel ABI.
resolve_version() {
	local v
	suite_apt_update
	v=$(suite_apt apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: linux-image-\([0-9][^ ]*-amd64\)$/\1/p' | head -n1)
	[[ -n $v ]] || die "cannot resolve the $KERNEL kernel version from 'apt-cache depends linux-image-amd64' (run apt-get update?)"
	printf '%s\n' "$v"
}

version() {
	if [[ -n ${IMASNAP_KVER:-} ]]; then
		printf '%s\n' "$IMASNAP_KVER"
		return
	fi
	if [[ -s $VERSION_FILE ]]; then
		cat "$VERSION_FILE"
		return
	fi
	local v
	v=$(resolve_version)
	# Caching is best effort: a non-root caller (make) still gets the answer.
	{ mkdir -p "$CACHE" && printf '%s\n' "$v" >"$VERSION_FILE.tmp.$$" &&
		mv -f "$VERSION_FILE.tmp.$$" "$VERSION_FILE"; } 2>/dev/null ||
		rm -f "$VERSION_FILE.tmp.$$" 2>/dev/null || true
	printf '%s\n' "$v"
}

# Serialise fetch/vmlinux between concurrent callers (make -j, test runs).
lock() {
	mkdir -p "$CACHE"
	exec 9>"$CACHE/.lock"
	flock 9
}

# The packages that hold the image and its modules: up to 6.12 one
# linux-image-<ver>-unsigned; from 7.x linux-binary-<ver> + linux-modules-<ver>
# + linux-base-<ver> (config, System.map, modules.builtin).
image_packages() {
	local ver=$1
	if suite_apt apt-cache show "linux-binary-$ver" >/dev/null 2>&1; then
		echo "linux-binary-$ver linux-modules-$ver linux-base-$ver"
	else
		echo "linux-image-$ver-unsigned"
	fi
}

# Download packages into $dir and unpack them all into $dir/$into.
unpack_packages() {
	local dir=$1 into=$2 tmp deb
	shift 2
	tmp=$(mktemp -d "$dir/dl.XXXXXX")
	log "downloading $* into $dir"
	# apt-get download writes into the current directory. As root it
	# warns that _apt cannot reach the directory: harmless.
	(cd "$tmp" && suite_apt apt-get -q download "$@" >&2) || die "apt-get download $* failed"
	rm -rf "$dir/$into.tmp"
	for deb in "$tmp"/*.deb; do
		[[ -f $deb ]] || die "apt-get download produced no .deb"
		dpkg-deb -x "$deb" "$dir/$into.tmp"
	done
	rm -rf "${dir:?}/$into"
	mv "$dir/$into.tmp" "$dir/$into"
	mv -f "$tmp"/*.deb "$dir/"
	rm -rf "$tmp"
	log "unpacked into $dir/$into"
}

# Where the unpacked packages keep the image and the modules: /boot and /lib
# up to 6.1, /usr/lib/modules/<ver>/ from 6.12 (merged /usr), the image there
# too from 7.x. Prints nothing if not unpacked yet.
image_path() {
	local root=$CACHE/$1/root f
	for f in "$root/boot/vmlinuz-$1" "$root/usr/lib/modules/$1/vmlinuz"; do
		[[ ! -f $f ]] || { printf '%s\n' "$f"; return; }
	done
}
modules_path() {
	local root=$CACHE/$1/root d
	for d in "$root/lib/modules/$1" "$root/usr/lib/modules/$1"; do
		[[ ! -d $d/kernel ]] || { printf '%s\n' "$d"; return; }
	done
}

fetch() {
	local ver dir
	ver=$(version)
	dir=$CACHE/$ver
	lock
	if [[ -z $(image_path "$ver") ]]; then
		[[ $(id -u) -eq 0 ]] || die "fetching the kernel needs root (apt-get download into $CACHE)"
		mkdir -p "$dir"
		suite_apt_update
		# shellcheck disable=SC2046 # a list of package names
		unpack_packages "$dir" root $(image_packages "$ver")
		[[ -n $(image_path "$ver") ]] || die "the packages hold no vmlinuz for $ver"
	fi
	if [[ -z $SUITE ]]; then
		if [[ ! -d /usr/src/linux-headers-$ver ]]; then
			[[ $(id -u) -eq 0 ]] || die "/usr/src/linux-headers-$ver is missing; installing it needs root"
			log "installing linux-headers-$ver"
			DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
				"linux-headers-$ver" >&2
		fi
	elif [[ ! -d $dir/headers/usr/src/linux-headers-$ver ]]; then
		# Not installed on the host: they depend on their suite's gcc.
		[[ $(id -u) -eq 0 ]] || die "fetching the $KERNEL headers needs root"
		unpack_packages "$dir" headers "linux-headers-$ver" \
			"linux-headers-${ver%-amd64}-common" "linux-kbuild-${ver%-amd64}"
	fi
}

vmlinuz() {
	local ver
	ver=$(version)
	[[ -n $(image_path "$ver") ]] || fetch
	image_path "$ver"
}

moddir() {
	local ver
	ver=$(version)
	[[ -n $(modules_path "$ver") ]] || fetch
	modules_path "$ver"
}

kdir() {
	local ver
	ver=$(version)
	if [[ -z $SUITE ]]; then
		[[ -d /usr/src/linux-headers-$ver ]] || fetch
		printf '%s\n' "/usr/src/linux-headers-$ver"
		return
	fi
	[[ -d $CACHE/$ver/headers/usr/src/linux-headers-$ver ]] || fetch
	printf '%s\n' "$CACHE/$ver/headers/usr/src/linux-headers-$ver"
}

is_elf() { [[ $(head -c4 "$1" | od -An -tx1 | tr -d ' \n') == 7f454c46 ]]; }

# Debian compresses the bzImage payload with xz (6.1) or zstd (6.12, 7.2).
# The ELF vmlinux is the stream that starts at the first xz ("\xfd7zXZ\0") or
# zstd ("\x28\xb5\x2f\xfd") magic that decodes to an ELF file; what follows
# the stream is ignored (xz --single-stream; zstd stops at its frame's end
# and complains about the rest, so only the result counts there).
decompress_at() {
	local z=$1 off=$2 kind=$3 out=$4
	case $kind in
	xz) xz -dc --single-stream <(tail -c "+$((off + 1))" "$z") >"$out" 2>/dev/null ;;
	zstd) zstd -dc <(tail -c "+$((off + 1))" "$z") >"$out" 2>/dev/null || true ;;
	esac
	is_elf "$out"
}
vmlinux() {
	local ver z out off kind magic
	ver=$(version)
	out=$CACHE/$ver/vmlinux
	if [[ ! -s $out ]]; then
		z=$(vmlinuz)
		lock
		for kind in xz zstd; do
			[[ ! -s $out ]] || break
			case $kind in
			xz) magic='\xfd7zXZ\x00' ;;
			zstd) magic='\x28\xb5\x2f\xfd' ;;
			esac
			# shellcheck disable=SC2013 # one offset a line
			for off in $(LC_ALL=C grep -obUaP "$magic" "$z" | cut -d: -f1); do
				if decompress_at "$z" "$off" "$kind" "$out.tmp"; then
					mv -f "$out.tmp" "$out"
					break
				fi
			done
		done
		rm -f "$out.tmp"
		[[ -s $out ]] || die "no xz- or zstd-compressed ELF vmlinux found in $z"
		log "extracted $out"
	fi
	printf '%s\n' "$out"
}

case "${1:-}" in
version) version ;;
refresh)
	rm -f "$VERSION_FILE"
	version
	;;
fetch) fetch ;;
vmlinuz) vmlinuz ;;
moddir) moddir ;;
vmlinux) vmlinux ;;
kdir) kdir ;;
names) echo "$NAMES" ;;
info)
	# Assign first so that a failure stops the script (set -e).
	kver=$(version) vmlinuz=$(vmlinuz) moddir=$(moddir) vmlinux=$(vmlinux)
	printf 'KVER=%s\nVMLINUZ=%s\nMODDIR=%s\nVMLINUX=%s\n' \
		"$kver" "$vmlinuz" "$moddir" "$vmlinux"
	;;
*)
	sed -n '4,32s/^# \{0,1\}//p' "$0" >&2
	exit 2
	;;
esac
