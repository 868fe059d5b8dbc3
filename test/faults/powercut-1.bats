#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-only
#
# Power cut, boot 1 of 2 (test/vm/run.sh --chain test/faults/powercut-1.bats
# test/faults/powercut-2.bats): the loader persists to a store on an ext4
# file system on /dev/vda (the virtio disk, cache=none) while two writers
# measure; a kprobe on the helper's persisted_set records each count the
# loader reports durable (after its fdatasync) on the results share. Then the
# recording stops, a copy of the kernel's ascii list is saved, and the boot
# ends with "powercut": the host kills qemu while loader and writers still
# run. Boot 2 checks the old store against what was saved here.

load ../bats/helpers
load ../bats/imasnap
load faults

PC=${IMASNAP_RESULTS:-/nonexistent}/persist/powercut
MNT=/run/imasnap-powercut
EVENTS=$TRACING/events/imasnap_powercut

# last_persisted: the last count recorded (0 if none)
last_persisted() {
	tail -n 1 "$PC/persisted" 2>/dev/null || echo 0
}

@test "boot 1: the loader writes to a store on the virtio disk; then the power is cut" {
	require_ima
	require_disk
	mkdir -p "$PC"
	mkfs.ext4 -q -F "$FAULT_DISK"
	mkdir -p "$MNT"
	mount -t ext4 "$FAULT_DISK" "$MNT"
	STORE=$MNT/store
	load_helper
	cat /proc/sys/kernel/random/boot_id >"$PC/boot1-id"

	echo 'p:imasnap_powercut/persisted persisted_set count=%di:u64' >>"$TRACING/kprobe_events"
	echo 1 >"$EVENTS/enable"
	local stop=$BATS_RUN_TMPDIR/recorder-stop i p0 p1 n
	"$TREE/test/faults/recorder.sh" "$TRACING/trace_pipe" "$PC/persisted" "$stop" \
		</dev/null >/dev/null 2>&1 3>&- &
	# no automatic snapshots: line i of the ascii copy is then entry i
	setsid "$LOADER" --store "$STORE" --snapshot-entries 0 --snapshot-bytes 0 --snapshot-kmem 0 \
		</dev/null >"$PC/loader-boot1.log" 2>&1 3>&- &
	for ((i = 0; i < 600; i++)); do
		grep -q "following IMA's measurements" "$PC/loader-boot1.log" && break
		sleep 0.1
	done
	cat "$PC/loader-boot1.log"
	grep -q "following IMA's measurements" "$PC/loader-boot1.log"
	p0=$(last_persisted)
	for i in 1 2; do
		setsid bash "$TREE/test/kexec/writer.sh" "/tmp/powercut-w$i" \
			/dev/null </dev/null >/dev/null 2>&1 3>&- &
	done
	# the loader keeps up: 300 more entries made durable while they write
	for ((i = 0; i < 1200; i++)); do
		p1=$(last_persisted)
		((p1 >= p0 + 300)) && break
		sleep 0.1
	done
	echo "persisted: $p0 when the writers started, $p1 now"
	((p1 >= p0 + 300))
	# stop recording, then copy the list: every count recorded is then
	# at most the copy's length
	: >"$stop"
	for ((i = 0; i < 300; i++)); do
		[[ -e $stop.done ]] && break
		sleep 0.1
	done
	[[ -e $stop.done ]]
	cat "$IMA_DIR/ascii_runtime_measurements" >"$PC/ascii-before-cut"
	n=$(wc -l <"$PC/ascii-before-cut")
	p1=$(last_persisted)
	echo "last persisted count recorded: $p1; kernel's list copied: $n entries"
	((p1 > 0 && p1 <= n))
	# writers and loader go on until the host cuts the power
	echo powercut >"$IMASNAP_RESULTS/next-boot"
}
