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

@test "a store lost after a snapshot: imasnap-load says so and begins a new epoch at a cut, which verifies" {
	local i
	measure_files 5 "$(tmpfs_dir)"
	wait_lag0
	snapshot_ok
	stop_loader_detached
	mv "$STORE" "$PERSIST/store.lost"
	mkdir "$STORE"
	start_loader_detached
	grep "continuity cannot be proven" "$LOADER_LOG"
	grep "a new epoch begins here" "$LOADER_LOG"
	# what the kernel still listed is kept beside the new store
	[ -s "$(compgen -G "$STORE/binary_runtime_measurements.unproven-*")" ]
	measure_files 5 "$(tmpfs_dir)"
	wait_lag0
	assert_store_is_kernel_log
	verify_ok
	[[ $output == *"epoch: began at a cut"* ]]
	# the helper, reloaded, recovers the new epoch from its list
	stop_loader_detached
	for ((i = 0; i < 50; i++)); do
		rmmod imasnap 2>/dev/null && break
		sleep 0.1
	done
	insmod "$KO"
	[ "$(($(state_value trimmed) + $(state_value epoch_start)))" -eq 0 ]
	verify_ok
}
