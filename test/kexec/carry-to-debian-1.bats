#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-only
#
# Boot 1 of a two-boot chain: from the CONFIG_IMA_KEXEC kernel, which carries
# its list over kexec, into Debian's kernel, which restores a carried list
# (CONFIG_HAVE_IMA_KEXEC) without putting its entries into IMA's hash table.
# There the helper must unlink those entries from the list only (their hash
# link was never initialized): carry-to-debian-2.bats. Run with
#
#   test/vm/run.sh --chain --kernel ima-kexec \
#     --env IMASNAP_DEBIAN_VMLINUZ="$(test/vm/kernel.sh vmlinuz)" \
#     test/kexec/carry-to-debian-1.bats test/kexec/carry-to-debian-2.bats

load kexec

@test "carry to Debian, boot 1: the CONFIG_IMA_KEXEC kernel measures, then loads Debian's kernel with its list" {
	local vmlinuz=${IMASNAP_DEBIAN_VMLINUZ:?pass --env IMASNAP_DEBIAN_VMLINUZ=\$(test/vm/kernel.sh vmlinuz)}
	has_ima_kexec
	measure_files 5 "$(tmpfs_dir)"
	# the list as it is at load time is what the next kernel gets
	cp "$IMA_DIR/ascii_runtime_measurements" "$PERSIST/carried.ascii"
	kexec -s -l "$vmlinuz" --initrd "${IMASNAP_INITRD:?}" --reuse-cmdline
	# nothing measured between load and execute (6.1 would not carry it)
	cmp "$IMA_DIR/ascii_runtime_measurements" "$PERSIST/carried.ascii"
	end_boot_with kexec
}
