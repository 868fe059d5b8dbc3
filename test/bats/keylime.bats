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
	# the agents' view: on tmpfs, as /run/imasnap is (tcb does not measure it)
	VIEW_DIR=$(tmpfs_dir)
	chmod 0755 "$VIEW_DIR"
	VIEW=$VIEW_DIR/imasnap/ascii_runtime_measurements
	# the writers' tally too: ramfs (bats' scratch) is measured under tcb,
	# and each append while writer_count reads it would be a violation
	WRITER_LIST=$VIEW_DIR/writers.list
}

teardown() {
	[[ -z ${HOLDER:-} ]] || { kill "$HOLDER"; wait "$HOLDER"; } 2>/dev/null || true
	loader_teardown
	rm -rf "$WORK" "$STORE" "$VIEW_DIR"
}

# violations_of FILE: open_writers/ToMToU records (zero digest) naming FILE
# in the kernel's list (tcb logs ima-ng; the last field is the path)
violations_of() {
	awk -v f="$1" '$2 ~ /^0+$/ && $NF == f { n++ } END { print n + 0 }' \
		"$IMA_DIR/ascii_runtime_measurements"
}

@test "status, export and verify with a loader running add no violation (a plain read does)" {
	local log=$STORE/binary_runtime_measurements before after i
	start_loader --view "$VIEW"
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
	echo "# violations naming the store: $before before, $after after 10 rounds of status, status --json, export, export --ascii, verify" >&3
	[[ $before == "$after" ]]
	run "$CLI" status --store "$STORE"
	[[ $output == *"loader: running"* ]]
	# the check can fail: a read of the store by root is logged as one
	read -r -n 1 _ <"$log" || true
	(($(violations_of "$log") == after + 1))
}

@test "store and view: root and the --group only (0640, directory 0750), also for a store made open before" {
	local f view=$VIEW
	start_loader --group nogroup --view "$view"
	measure_files 3 "$WORK"
	wait_lag0
	stop_loader
	# a store an older version left open to all is closed at the next start
	chmod 0755 "$STORE"
	chmod 0644 "$STORE"/*
	start_loader --group nogroup --view "$view"
	[[ $(stat -c '%a %U %G' "$STORE") == "750 root nogroup" ]]
	[[ $(stat -c '%a %U %G' "$(dirname "$view")") == "750 root nogroup" ]]
	for f in "$STORE"/binary_runtime_measurements "$STORE"/loader.state "$STORE"/epoch "$view"; do
		echo "$f: $(stat -c '%a %U %G' "$f")"
		[[ $(stat -c '%a %U %G' "$f") == "640 root nogroup" ]]
		# another user cannot read it; a member of the group can
		run setpriv --reuid=65533 --regid=65533 --clear-groups cat "$f"
		[[ $status -ne 0 && $output == *"Permission denied"* ]]
		setpriv --reuid=65534 --regid=65534 --clear-groups cat "$f" >/dev/null
	done
	# and the group's reads of the store add no violation (uid 65534 is not measured)
	[[ $(violations_of "$STORE/binary_runtime_measurements") == 0 ]]
	run "$LOADER" --group no-such-group-here --store "$STORE"
	[[ $status -ne 0 && $output == *"store group no-such-group-here: no such group"* ]]
}

# view_is_kernel_log VIEW [EARLIER]: every entry the kernel still lists is
# the view's line of the same index, and so is every line of EARLIER, the
# kernel's list captured before trims (from entry 0)
view_is_kernel_log() {
	local view=$1 earlier=${2:-} head
	cp "$view" "$BATS_TEST_TMPDIR/view.now"
	cat "$IMA_DIR/ascii_runtime_measurements" >"$BATS_TEST_TMPDIR/kernel.now"
	head=$("$CLI" status --store "$STORE" | sed -n 's/^kernel trimmed: //p')
	python3 "$TREE/test/tools/view-check.py" "$BATS_TEST_TMPDIR/view.now" \
		"$BATS_TEST_TMPDIR/kernel.now" "$head" ${earlier:+"$earlier" 0}
}

@test "the view: the kernel's lines from entry 0 on one inode across trims; an incremental verifier follows it and matches the TPM" {
	local view=$VIEW ino i before
	local state=$BATS_TEST_TMPDIR/follow.json policy=$BATS_TEST_TMPDIR/policy.json
	grep -q '^imasnap ' /proc/modules || insmod "$KO"
	echo '{"excludes": ["^snapshot_aggregate$"]}' >"$policy"
	start_loader --view "$view" --snapshot-entries 0 --snapshot-bytes 0 --snapshot-kmem 0
	writers_start 2 "$WORK"
	writers_measured 10
	wait_lag0
	ino=$(stat -c %i "$view")
	cat "$IMA_DIR/ascii_runtime_measurements" >"$BATS_TEST_TMPDIR/kernel.before"
	view_is_kernel_log "$view"
	python3 "$TREE/test/tools/keylime-follow.py" "$state" "$view" "$policy" | sed 's/^/# /' >&3
	for ((i = 0; i < 3; i++)); do
		run "$CLI" snapshot --store "$STORE"
		echo "$output"
		[[ $status -eq 0 && $output == *"trimmed "* ]]
		writers_measured 5
		# one poll: only the new lines, from where the last one stopped
		run python3 "$TREE/test/tools/keylime-follow.py" "$state" "$view" "$policy"
		echo "# after trim $((i + 1)): $output" >&3
		[[ $status -eq 0 ]]
		view_is_kernel_log "$view" "$BATS_TEST_TMPDIR/kernel.before"
	done
	writers_stop
	[[ $(stat -c %i "$view") == "$ino" ]]
	(($(grep -c ' snapshot_aggregate ' "$view") >= 3))
	# readers of the view (these checks) added no violation: tmpfs is not measured
	[[ $(violations_of "$view") == 0 ]]
	# the rule is what admits the snapshot_aggregate records: without it, a
	# verifier from entry 0 fails on the first one
	echo '{"excludes": []}' >"$policy"
	run python3 "$TREE/test/tools/keylime-follow.py" "$BATS_TEST_TMPDIR/fresh.json" "$view" "$policy"
	echo "$output"
	[[ $status -ne 0 && $output == *"ima-buf snapshot_aggregate not accepted by the runtime policy"* ]]
}

@test "a long-lived holder of the kernel's list: trims refused, the holder named in status and the loader's log; after it closes, trims resume" {
	local i
	grep -q '^imasnap ' /proc/modules || insmod "$KO"
	start_loader --view "$VIEW" --snapshot-entries 1 --snapshot-bytes 0
	# an agent left on the kernel's list: it keeps the file open for ever
	sleep 100000 <"$IMA_DIR/ascii_runtime_measurements" &
	HOLDER=$!
	measure_files 5 "$WORK"
	wait_lag0
	run "$CLI" snapshot --store "$STORE"
	echo "$output"
	[[ $status -eq 3 && $output == *"trim refused: Device or resource busy"* ]]
	[[ $output == *"list readers: sleep (pid $HOLDER, ascii_runtime_measurements for "* ]]
	run "$CLI" status --store "$STORE"
	echo "$output"
	[[ $output == *"list readers: sleep (pid $HOLDER, ascii_runtime_measurements for "* ]]
	# the loader's automatic snapshot (over 1 entry) is put off, and says by whom
	for ((i = 0; i < 600; i++)); do
		grep -q "held open by sleep (pid $HOLDER, " "$LOADER_LOG" && break
		sleep 0.1
	done
	grep "snapshot put off: the kernel's list is held open by sleep (pid $HOLDER, " "$LOADER_LOG"
	kill "$HOLDER"
	wait "$HOLDER" 2>/dev/null || true
	HOLDER=
	run "$CLI" status --store "$STORE"
	[[ $output == *"list readers: none"* ]]
	measure_files 3 "$WORK"
	wait_lag0
	run "$CLI" snapshot --store "$STORE"
	echo "$output"
	[[ $status -eq 0 ]]
	[[ $(status_field "kernel trimmed") -gt 0 ]]
}

@test "imasnap/readers: a holder from before the helper was loaded is listed, timed from the load (a lower bound)" {
	local readers=/sys/kernel/security/imasnap/readers i gated
	! grep -q '^imasnap ' /proc/modules || rmmod imasnap
	sleep 100000 <"$IMA_DIR/binary_runtime_measurements" &
	HOLDER=$!
	insmod "$KO"
	[[ $(stat -c %a "$readers") == 440 ]]
	cat "$readers"
	grep -qE "^$HOLDER [0-9]+\+ binary_runtime_measurements sleep$" "$readers"
	# one opened through the helper's gate is timed from its open: no '+'
	sleep 100000 <"$IMA_DIR/ascii_runtime_measurements" &
	gated=$!
	for ((i = 0; i < 100; i++)); do
		grep -qE "^$gated [0-9]+ ascii_runtime_measurements sleep$" "$readers" && break
		sleep 0.1
	done
	kill "$gated"
	wait "$gated" 2>/dev/null || true
	((i < 100))
	kill "$HOLDER"
	wait "$HOLDER" 2>/dev/null || true
	HOLDER=
	! grep -q sleep "$readers"
}
