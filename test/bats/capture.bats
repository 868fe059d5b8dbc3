#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-only
#
# Capture and persist: every measurement reaches the store, in order, once,
# whatever happens to the ring or the loader. The proof in each test is the
# strongest one available: the store equals the kernel's own
# binary_runtime_measurements byte for byte, and `imasnap verify` replays it
# to the TPM's PCRs.

load helpers
load imasnap

@test "the loader's programs show in bpftool and are pinned while it runs" {
	start_loader
	run bpftool prog show
	[[ $output == *capture_entry* ]]
	[[ -e /sys/fs/bpf/imasnap/capture_entry_link ]]
	[[ -e /sys/fs/bpf/imasnap/ring ]]
	stop_loader
	run bpftool prog show
	[[ $output != *capture_entry* ]]
}

@test "4 concurrent writers: the store is the kernel's list byte for byte and verifies" {
	start_loader
	"$MEASURE" -w 4 -n 2000 "$WORK/load"
	wait_lag0
	assert_store_is_kernel_log
	[[ $(status_field drops) == 0 ]]
	run "$CLI" verify --store "$STORE"
	echo "$output"
	[[ $status -eq 0 ]]
	[[ $output == *"PCR 10 sha256: matches the TPM"* ]]
	stop_loader
	assert_store_is_kernel_log
}

@test "a loader started after 1,000 measurements catches up with no gap" {
	"$MEASURE" -w 1 -n 1000 "$WORK/before"
	start_loader
	grep -q "read from the kernel's list" "$LOADER_LOG"
	wait_lag0
	assert_store_is_kernel_log
	"$MEASURE" -w 2 -n 100 "$WORK/after"
	wait_lag0
	assert_store_is_kernel_log
	stop_loader
}

@test "loader killed with SIGKILL at random moments under load, 5 times: no gap, no duplicate" {
	"$MEASURE" -w 4 -n 1500 "$WORK/load" >/dev/null &
	local load=$! i
	for ((i = 0; i < 5; i++)); do
		start_loader
		sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
		kill_loader
	done
	wait "$load"
	start_loader
	wait_lag0
	assert_store_is_kernel_log
	run "$CLI" verify --store "$STORE"
	echo "$output"
	[[ $status -eq 0 ]]
	stop_loader
}

@test "ring overflow is detected, repaired from the kernel's list and counted" {
	start_loader --ring-size 4096
	# A stopped loader cannot drain the one-page ring: it must overflow.
	kill -STOP "$LOADER_PID"
	"$MEASURE" -w 2 -n 300 "$WORK/burst"
	kill -CONT "$LOADER_PID"
	"$MEASURE" -w 1 -n 20 "$WORK/after"
	wait_lag0
	assert_store_is_kernel_log
	(($(status_field drops) > 0))
	(($(status_field repairs) > 0))
	stop_loader
	run "$CLI" status --store "$STORE" --json
	[[ $output == *'"drops": '[1-9]* ]]
	[[ $output == *'"lag": 0'* ]]
}

@test "a violation (file open for write while measured) replays with 0xff" {
	start_loader
	local before
	before=$(kernel_count)
	echo data >"$WORK/open-for-write"
	# measured while open for write: IMA logs an open_writers violation
	(
		exec {writer}>>"$WORK/open-for-write"
		cat "$WORK/open-for-write" >/dev/null
	)
	(($(kernel_count) > before))
	wait_lag0
	assert_store_is_kernel_log
	# the violation is logged with a zero template digest
	grep -q " 0000000000000000000000000000000000000000 " \
		/sys/kernel/security/ima/ascii_runtime_measurements
	run "$CLI" verify --store "$STORE"
	echo "$output"
	[[ $status -eq 0 ]]
	stop_loader
}
