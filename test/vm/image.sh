#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The host test bed's disk image: Debian 12 (bookworm) from Debian's archive
# (mmdebstrap), systemd as PID 1, Debian's kernel of test/vm/kernel.sh with
# its linux-headers (so DKMS builds the helper inside for the running kernel),
# kexec-tools, tpm2-tools, ima-evm-utils, dkms and the compiler it needs,
# bats. No docs, no man pages, no drivers a qemu guest does not use.
#
# Cached in $IMASNAP_CACHE/image-<hash>/ (default /var/cache/imasnap), the
# hash taken over this script, test/vm/host-image/ and the kernel version:
#   base.qcow2   the root file system (ext4, whole disk, no partition table)
#   vmlinuz      the image's /boot/vmlinuz-<ver> (direct kernel boot)
#   initrd.img   the image's initramfs (initramfs-tools, made inside)
#
#   image.sh path     print the cache directory (builds the image if missing)
#   image.sh build    build it if missing, print the directory
#   image.sh key      print the cache key only
#
# Needs root, mmdebstrap, mke2fs (1.47) and qemu-img (test/vm/deps.sh).
# Progress and timings go to stderr; stdout is only the answer.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${IMASNAP_CACHE:-/var/cache/imasnap}
MIRROR=${IMASNAP_MIRROR:-http://deb.debian.org/debian}
SECURITY=${IMASNAP_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

die() {
	echo "image.sh: $*" >&2
	exit 1
}
log() { echo "image.sh: $*" >&2; }

KVER=$("$HERE/kernel.sh" version)

PACKAGES=(
	# PID 1 and what a booted Debian host has
	systemd systemd-sysv udev kmod procps util-linux e2fsprogs
	# the kernel the test bed boots, and its headers for DKMS
	"linux-image-$KVER-unsigned" "linux-headers-$KVER" initramfs-tools
	# DKMS and what the helper's build needs (a host program too; the
	# BTF layout check: bpftool, xz for the vmlinuz)
	dkms gcc make libc6-dev bpftool xz-utils
	# imasnap's run-time libraries (the .debs are installed offline)
	libelf1 zlib1g libssl3 libtss2-esys-3.0.2-0 libtss2-tctildr0 libtss2-rc0
	libtss2-tcti-device0
	# the tests' tools
	kexec-tools tpm2-tools ima-evm-utils bats
)

# A guest runs no graphics, sound, USB, network or SATA: their modules go
# (whole subsystems: a module whose dependency went would fail to load).
EXCLUDE_MODULES=(drivers/gpu drivers/net drivers/media drivers/infiniband
	drivers/staging drivers/usb drivers/iio drivers/hid drivers/scsi drivers/ata
	drivers/isdn drivers/mmc drivers/bluetooth drivers/platform
	drivers/hwmon drivers/video drivers/mtd drivers/nfc drivers/thunderbolt
	drivers/input drivers/comedi drivers/power drivers/leds drivers/mfd
	sound net/wireless net/mac80211 net/bluetooth fs/ocfs2 fs/xfs
	fs/btrfs fs/nfs fs/nfsd fs/ceph fs/smb fs/gfs2 fs/f2fs)

key() {
	{
		cat "$0"
		find "$HERE/host-image" -type f -print0 | sort -z | xargs -0 cat
		echo "$KVER"
	} | sha256sum | cut -c1-16
}

DIR=$CACHE/image-$(key)

build() {
	local t0 tmp root opts=() m size
	[[ $(id -u) -eq 0 ]] || die "building the image needs root"
	command -v mmdebstrap >/dev/null || die "mmdebstrap is missing (test/vm/deps.sh install)"
	command -v qemu-img >/dev/null || die "qemu-img is missing (test/vm/deps.sh install)"
	t0=$(date +%s)
	mkdir -p "$CACHE"
	tmp=$(mktemp -d "$CACHE/image-build.XXXXXX")
	# shellcheck disable=SC2064 # expand now: the trap outlives the local
	trap "rm -rf '$tmp'" EXIT
	root=$tmp/root
	for m in /usr/share/doc /usr/share/man /usr/share/info /usr/share/locale \
		/usr/share/lintian /usr/share/bash-completion; do
		opts+=("--dpkgopt=path-exclude=$m/*")
	done
	for m in "${EXCLUDE_MODULES[@]}"; do
		opts+=("--dpkgopt=path-exclude=/lib/modules/$KVER/kernel/$m/*")
	done
	log "building $DIR (mmdebstrap, Debian 12, kernel $KVER)"
	# The essential hook runs before the packages: initramfs-tools and
	# kexec-tools then find their configuration (conffiles kept: confold).
	# The customize hook adds the test bed's units and the root's fstab.
	mmdebstrap --variant=apt --mode=root --format=directory \
		--include="$(IFS=,; echo "${PACKAGES[*]}")" \
		--dpkgopt=force-confold --dpkgopt=force-confdef "${opts[@]}" \
		--essential-hook="cp -a '$HERE/host-image/etc/.' \"\$1/etc/\" &&
			echo 'kexec-tools kexec-tools/load_kexec boolean false' |
			chroot \"\$1\" debconf-set-selections" \
		--customize-hook="cp -a '$HERE/host-image/.' \"\$1/\" &&
			chroot \"\$1\" systemctl enable imasnap-testbed.service &&
			chroot \"\$1\" passwd -d root &&
			rm -rf \"\$1\"/var/cache/apt/archives/*.deb \"\$1\"/var/lib/apt/lists/*" \
		bookworm "$root" \
		"deb $MIRROR bookworm main" \
		"deb $MIRROR bookworm-updates main" \
		"deb $SECURITY bookworm-security main" >&2
	[[ -f $root/boot/vmlinuz-$KVER && -f $root/boot/initrd.img-$KVER ]] ||
		die "the image has no /boot/vmlinuz-$KVER or initrd.img-$KVER"
	cp "$root/boot/vmlinuz-$KVER" "$tmp/vmlinuz"
	cp "$root/boot/initrd.img-$KVER" "$tmp/initrd.img"
	# room for the DKMS build, the packages and the store
	size=$(($(du -sm "$root" | cut -f1) + 1536))
	truncate -s "${size}M" "$tmp/root.ext4"
	mkfs.ext4 -q -L imasnap-root -d "$root" "$tmp/root.ext4"
	qemu-img convert -O qcow2 "$tmp/root.ext4" "$tmp/base.qcow2"
	rm -rf "$root" "$tmp/root.ext4"
	chmod 755 "$tmp"
	mv "$tmp" "$tmp.done"
	trap - EXIT
	# a concurrent build may have won: keep the first
	mv -T "$tmp.done" "$DIR" 2>/dev/null || rm -rf "$tmp.done"
	log "built in $(($(date +%s) - t0)) s: $(du -sh "$DIR" | cut -f1) ($(du -sh --apparent-size "$DIR/base.qcow2" | cut -f1) qcow2, ${size}M file system)"
}

ensure() {
	if [[ ! -f $DIR/base.qcow2 ]]; then
		mkdir -p "$CACHE"
		exec 8>"$CACHE/.image.lock"
		flock 8
		[[ -f $DIR/base.qcow2 ]] || build
	else
		log "cached: $DIR"
	fi
	printf '%s\n' "$DIR"
}

case "${1:-}" in
path | build) ensure ;;
key) key ;;
*)
	sed -n '4,20s/^# \{0,1\}//p' "$0" >&2
	exit 2
	;;
esac
