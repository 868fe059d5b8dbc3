#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-only
#
# Power cut, boot 2 of 2 (see powercut-1.bats): the machine starts again
# after qemu was killed, the TPM reset (swtpm restarted: startup-clear). The
# loader must see that this boot cannot continue the store's epoch, keep the
# old store as binary_runtime_measurements.epoch-<boot 1's id> and start a
# new epoch. The old store holds at least every entry the loader had
# reported durable in boot 1 (the last count recorded), each the same as in
# the kernel's list boot 1 copied, no gap; a torn last record is repaired or
# cut with a message that says so.

load ../bats/helpers
load ../bats/imasnap
load faults

PC=${IMASNAP_RESULTS:-/nonexistent}/persist/powercut
MNT=/run/imasnap-powercut

teardown() {
	loader_teardown
	[[ -z ${LOADER_LOG:-} ]] || cp "$LOADER_LOG" "$PC/loader-boot2.log"
	! mountpoint -q "$MNT" || umount "$MNT"
}

@test "boot 2: after the power cut, a new epoch; the old store holds every entry reported durable, no gap" {
	require_ima
	require_disk
	local boot1 persisted old n whole torn=0 common
	# the host did cut the power (run.sh counts the cuts)
	[[ $(cat "$IMASNAP_RESULTS/powercuts" 2>/dev/null) == 1 ]]
	boot1=$(cat "$PC/boot1-id")
	[[ $boot1 != "$(cat /proc/sys/kernel/random/boot_id)" ]]
	persisted=$(tail -n 1 "$PC/persisted")
	mkdir -p "$MNT"
	mount -t ext4 "$FAULT_DISK" "$MNT"
	STORE=$MNT/store
	load_helper
	start_loader
	cat "$LOADER_LOG"
	old=$STORE/binary_runtime_measurements.epoch-$boot1
	grep -F "this boot cannot continue the store's epoch" "$LOADER_LOG"
	grep -F "kept as $old" "$LOADER_LOG"
	[[ -f $old ]]

	store_records "$old" >"$BATS_TEST_TMPDIR/old"
	if [[ $(tail -n 1 "$BATS_TEST_TMPDIR/old") == torn* ]]; then
		torn=$(tail -n 1 "$BATS_TEST_TMPDIR/old" | cut -d' ' -f2)
		sed -i '$d' "$BATS_TEST_TMPDIR/old"
	fi
	whole=$(wc -l <"$BATS_TEST_TMPDIR/old")
	awk '{ print $1, $2, $3 }' "$PC/ascii-before-cut" >"$BATS_TEST_TMPDIR/ascii"
	n=$(wc -l <"$BATS_TEST_TMPDIR/ascii")
	echo "old store: $whole whole records, torn tail $torn bytes; last count reported durable in boot 1: $persisted; boot 1's list when copied: $n entries" |
		tee "$PC/summary"
	# nothing reported durable is lost
	((whole >= persisted))
	# and what it holds is boot 1's list, from entry 0 on, no gap
	common=$((whole < n ? whole : n))
	diff <(head -n "$common" "$BATS_TEST_TMPDIR/old") <(head -n "$common" "$BATS_TEST_TMPDIR/ascii")
	# a torn tail may not stay unnoticed in the kept store
	if ((torn > 0)); then
		grep -i "torn" "$LOADER_LOG"
	fi

	# the new epoch: this boot's list, from its first entry, verified
	# (verify compares store and list where both hold entries; a cmp of
	# the two races the open_writers violations that reading the store,
	# on a measured file system, adds while the loader holds it open)
	grep -qx "epoch $(cat /proc/sys/kernel/random/boot_id)" "$STORE/epoch"
	wait_lag0
	verify_store_ok
	stop_loader
}
