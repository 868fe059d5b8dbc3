#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-only
#
# Boot 1 of the kexec chain (test/vm/run.sh --chain, see run-tests.sh): the
# epoch's first kernel. A store, a snapshot, writers measuring while the next
# kernel is loaded; the guest then runs kexec -e.

load kexec

@test "first boot: imasnap-load starts the epoch's store with the helper loaded" {
	insmod "$KO"
	start_loader_detached
	grep -q '^epoch ' "$STORE/epoch"
	measure_files 20 "$(tmpfs_dir)"
	wait_lag0
	verify_store_ok
}

@test "first boot: a snapshot, then writers measure while the next kernel is loaded" {
	measure_files 10 "$(tmpfs_dir)"
	wait_lag0
	snapshot_ok
	start_writers
	load_next_kernel
	# the window between load and execute: the writers go on measuring
	window_measured
	end_boot_with kexec
}
