#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-only
#
# Boot 1 of the reboot notifier's chain (with reboot-wait-after.bats):
#   test/vm/run.sh --chain test/kexec/reboot-wait.bats test/kexec/reboot-wait-after.bats
# A loader that reported once and stopped: the store is short of the list
# when the kernel goes down (kexec -e). The next boot reads what this kernel
# said on the console at its end.

load ../bats/helpers

setup() {
	require_ima
}

@test "reboot notifier: a loader reported once and stopped, entries were measured since; then kexec" {
	insmod "$KO" reboot_wait_ms=3000
	measure_files 3 "$(tmpfs_dir)"
	# the loader's last report: the store holds all but the last 3
	echo $(($(kernel_count) - 3)) >/sys/kernel/security/imasnap/persisted
	echo "imasnap-reboot-wait: boot $IMASNAP_BOOT goes down 3 entries short" >/dev/kmsg
	kexec -s -l "${IMASNAP_VMLINUZ:?}" --initrd "${IMASNAP_INITRD:?}" --reuse-cmdline
	echo kexec >"$IMASNAP_RESULTS/next-boot"
}
