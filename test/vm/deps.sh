#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The one list of Debian packages needed to build imasnap and run its test bed.
# .ci/run and the README's demo command both call this script, so the list
# lives here only.
#
#   test/vm/deps.sh list      print the packages, one a line
#   test/vm/deps.sh install   apt-get update + install them, then fetch the
#                             test kernel and its headers (test/vm/kernel.sh)
#   test/vm/deps.sh check     exit 1 (and name them) if some are missing
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

PACKAGES=(
	# build
	build-essential gcc make clang llvm libbpf-dev bpftool libelf-dev
	zlib1g-dev libtss2-dev libssl-dev
	# make fuzz, make unit-test-san: libFuzzer and the sanitizer runtimes
	# (only recommended by clang, and installs here skip recommends)
	libclang-rt-14-dev
	# test bed: guest, TPM emulator, initramfs, kernel extraction, kexec
	qemu-system-x86 swtpm swtpm-tools tpm2-tools busybox-static bats
	ima-evm-utils cpio xz-utils zstd kmod kexec-tools
	# build roots for the helper on trixie's and sid's kernels
	# (test/vm/buildroot.sh, make test-all)
	mmdebstrap
	# tools the suites call (protect.bats: strace, getfattr)
	strace attr python3
	# the fault tests (test/bats/faults.bats): a file system on the test
	# disk, device-mapper tables (the guest runs the host's binaries)
	e2fsprogs dmsetup
	# the host test bed's Debian 12 image and its per-run overlays
	# (test/vm/image.sh, run.sh --image)
	mmdebstrap qemu-utils
	# the CONFIG_IMA_KEXEC test kernel (test/vm/custom-kernel.sh)
	linux-source-6.1 flex bison bc dwarves
	# packaging (make deb, make pkg-test: test/pkg/run.sh)
	dpkg-dev debhelper dh-dkms dkms lintian fakeroot man-db zstd
	# used by test/vm/*.sh and the in-guest runner (usually already there)
	coreutils util-linux procps findutils grep
)

missing() {
	local p
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			echo "$p"
	done
}

case "${1:-}" in
list)
	printf '%s\n' "${PACKAGES[@]}"
	;;
check)
	m=$(missing)
	if [[ -n $m ]]; then
		echo "missing packages: ${m//$'\n'/ }" >&2
		exit 1
	fi
	;;
install)
	if [[ $(id -u) -ne 0 ]]; then
		echo "deps.sh install: must run as root" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	# kexec-tools is for the guest (the host's / is its root): it must
	# not take over the host's own reboots
	echo 'kexec-tools kexec-tools/load_kexec boolean false' | debconf-set-selections
	apt-get update
	apt-get install -y --no-install-recommends "${PACKAGES[@]}"
	# The kernel version is only known from the archive, so the matching
	# linux-headers package is installed by kernel.sh, not listed above.
	"$HERE/kernel.sh" fetch
	;;
*)
	echo "usage: $0 list|check|install" >&2
	exit 2
	;;
esac
