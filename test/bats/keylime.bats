#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-only
#
# What an attestation agent (Keylime) meets: imasnap under a policy that
# measures every read by root. The boot uses the kernel's built-in
# ima_policy=tcb (test/vm/guest-run.sh then writes no policy of its own): it
# measures root's reads on every file system but tmpfs and the pseudo ones,
# so the store lives on an ext4 file system on the test disk (/dev/vda),
# where a read of a file open for writing is an open_writers violation.
#
# vm-options: --append ima_policy=tcb

load helpers
load imasnap

DISK_MNT=/var/lib/imasnap-keylime

setup_file() {
	[[ " $(</proc/cmdline) " == *" ima_policy=tcb "* ]] ||
		skip "needs a boot with ima_policy=tcb (test/vm/run.sh --append ima_policy=tcb)"
	mkdir -p "$DISK_MNT"
	mkfs.ext4 -q -F /dev/vda
	mount -t ext4 /dev/vda "$DISK_MNT"
}

teardown_file() {
	umount "$DISK_MNT" 2>/dev/null || true
}

setup() {
	require_ima
	[[ $(stat -f -c %T "$DISK_MNT") == ext2/ext3 ]] || {
		echo "$DISK_MNT is not the test disk's ext4" >&2
		return 1
	}
	STORE=$(mktemp -d "$DISK_MNT/store.XXXXXX")
	# measured files: on the disk (tcb does not measure tmpfs)
	WORK=$(mktemp -d "$DISK_MNT/work.XXXXXX")
}

teardown() {
	loader_teardown
	rm -rf "$WORK" "$STORE"
}

# violations_of FILE: open_writers/ToMToU records (zero digest) naming FILE
# in the kernel's list (tcb logs ima-ng; the last field is the path)
violations_of() {
	awk -v f="$1" '$2 ~ /^0+$/ && $NF == f { n++ } END { print n + 0 }' \
		"$IMA_DIR/ascii_runtime_measurements"
}

@test "status, export and verify with a loader running add no violation (a plain read does)" {
	local log=$STORE/binary_runtime_measurements before after i
	start_loader
	measure_files 20 "$WORK"
	wait_lag0
	before=$(violations_of "$log")
	for ((i = 0; i < 10; i++)); do
		"$CLI" status --store "$STORE" >/dev/null
		"$CLI" status --store "$STORE" --json >/dev/null
		"$CLI" export --store "$STORE" >/dev/null
		"$CLI" export --store "$STORE" --from 3 --format ascii >/dev/null
		run "$CLI" verify --store "$STORE"
		[[ $status -eq 0 ]] || { echo "$output"; false; }
		measure_files 2 "$WORK"
	done
	after=$(violations_of "$log")
	echo "violations naming the store: $before before, $after after 10 rounds"
	[[ $before == "$after" ]]
	run "$CLI" status --store "$STORE"
	[[ $output == *"loader: running"* ]]
	# the check can fail: a read of the store by root is logged as one
	read -r -n 1 _ <"$log" || true
	(($(violations_of "$log") == after + 1))
}
