#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-only
#
# The last boot of the kexec chain: after a full reboot (machine and TPM
# reset) the store's epoch cannot continue. imasnap-load keeps the old store
# under a name that says which epoch it was and starts a new, verifiable one.

load kexec

@test "full reboot: imasnap-load keeps the old store intact and starts a new epoch" {
	local kept epoch
	keep_copy before
	epoch=$(sed -n 's/^epoch //p' "$STORE/epoch")
	[ -n "$epoch" ]
	insmod "$KO"
	start_loader_detached
	grep -q "cannot continue the store's epoch" "$LOADER_LOG"
	kept=$STORE/binary_runtime_measurements.epoch-$epoch
	cmp "$PERSIST/before.$BOOT" "$kept"
	[ "$(compgen -G "$STORE/binary_runtime_measurements.epoch-*" | wc -l)" -eq 1 ]
	[ "$(sed -n 's/^epoch //p' "$STORE/epoch")" != "$epoch" ]
	wait_lag0
	assert_store_is_kernel_log
	verify_store_ok
	evmctl_ok
}
