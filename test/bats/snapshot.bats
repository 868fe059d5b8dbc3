#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-only
#
# Snapshots end to end: the loader persists, the helper trims what is
# durable and appends a snapshot_aggregate, and the chain of trust holds:
# the store alone is the whole log and replays to the TPM, the kernel's
# list replays from its snapshot_aggregate, evmctl accepts the store.

load helpers
load imasnap


# One store for the whole file: once a test trimmed the kernel's list, only
# a store that holds the trimmed entries can follow it.
setup_file() {
	export STORE=$BATS_FILE_TMPDIR/store
}

setup() {
	require_ima
	WORK=$(tmpfs_dir)
	grep -q '^imasnap ' /proc/modules || insmod "$KO"
}

teardown() {
	loader_teardown
	local i
	for ((i = 0; i < 50; i++)); do
		grep -q '^imasnap ' /proc/modules || break
		rmmod imasnap 2>/dev/null || sleep 0.1
	done
	rm -rf "$WORK"
}

kernel_log_copy() {
	cat "$KERNEL_LOG" >"$1"
}

# the store holds everything the kernel ever listed: each earlier full copy
# of the kernel's list is a part of it, and its tail is the current list
assert_store_has() {
	local copy=$1 off=$2
	cmp -n "$(stat -c %s "$copy")" <(tail -c "+$((off + 1))" "$STORE/binary_runtime_measurements") "$copy"
}

@test "snapshot trims what the store holds; store, kernel list and evmctl all verify" {
	start_loader --snapshot-entries 0 --snapshot-bytes 0 --snapshot-kmem 0
	measure_files 20 "$WORK"
	wait_lag0
	kernel_log_copy "$BATS_TEST_TMPDIR/before"
	local before_entries
	before_entries=$(status_field "kernel entries")
	run "$CLI" snapshot --store "$STORE"
	echo "$output"
	[[ $status -eq 0 && $output == *"trimmed $before_entries entries"* ]]
	wait_lag0
	# the list now holds the snapshot_aggregate (and anything measured since)
	(($(status_field "kernel entries") < before_entries))
	grep -q " snapshot_aggregate" /sys/kernel/security/ima/ascii_runtime_measurements
	assert_store_has "$BATS_TEST_TMPDIR/before" 0
	assert_store_is_kernel_log
	verify_ok
	# the kernel's list alone names the PCRs to read: the store is read at
	# most once (with the loader running, as here, it comes over the
	# control socket and is not opened at all)
	strace -f -qq -e trace=openat -o "$BATS_TEST_TMPDIR/verify.trace" \
		"$CLI" verify --store "$STORE" >/dev/null
	[ "$(grep -c "\"$STORE/binary_runtime_measurements\"" "$BATS_TEST_TMPDIR/verify.trace")" -le 1 ]
	evmctl_ok
	stop_loader
}

# record_offset N: byte offset of the store's record N
record_offset() {
	local size tail
	size=$(stat -c %s "$STORE/binary_runtime_measurements")
	tail=$("$CLI" export --store "$STORE" --from "$1" | wc -c)
	echo $((size - tail))
}

@test "verify fails (exit 1) on a copy of the store with a trimmed entry changed, and on one truncated" {
	start_loader --snapshot-entries 0 --snapshot-bytes 0 --snapshot-kmem 0
	measure_files 5 "$WORK"
	wait_lag0
	run "$CLI" snapshot --store "$STORE"
	[[ $status -eq 0 ]]
	wait_lag0
	stop_loader
	local trimmed copy=$BATS_TEST_TMPDIR/copy f off end
	trimmed=$(status_field "kernel trimmed")
	((trimmed >= 3))
	# the store as it is verifies
	verify_ok
	# a byte of the template data of entry trimmed-2, which only the store holds
	cp -r "$STORE" "$copy"
	f=$copy/binary_runtime_measurements
	end=$(record_offset $((trimmed - 1)))
	printf '\x5a' | dd of="$f" bs=1 seek=$((end - 1)) conv=notrunc status=none
	run cmp -s "$f" "$STORE/binary_runtime_measurements"
	[[ $status -eq 1 ]]
	run "$CLI" verify --store "$copy"
	echo "$output"
	[[ $status -eq 1 && $output == *FAIL* ]]
	# its SHA-1 template digest instead (the data left as it was)
	rm -rf "$copy" && cp -r "$STORE" "$copy"
	off=$(record_offset $((trimmed - 2)))
	printf '\x5a' | dd of="$f" bs=1 seek=$((off + 4)) conv=notrunc status=none
	run "$CLI" verify --store "$copy"
	echo "$output"
	[[ $status -eq 1 && $output == *FAIL* ]]
	# the store without its last trimmed entry: whole records, one missing
	rm -rf "$copy" && cp -r "$STORE" "$copy"
	truncate -s "$(record_offset $((trimmed - 1)))" "$f"
	run "$CLI" verify --store "$copy"
	echo "$output"
	[[ $status -eq 1 && $output == *FAIL* ]]
	# and with no entry at all
	: >"$f"
	run "$CLI" verify --store "$copy"
	echo "$output"
	[[ $status -eq 1 && $output == *FAIL* ]]
	verify_ok
}

@test "snapshot with the loader stopped trims nothing that is not durable" {
	start_loader --snapshot-entries 0 --snapshot-bytes 0 --snapshot-kmem 0
	measure_files 5 "$WORK"
	wait_lag0
	stop_loader
	local stored
	stored=$(status_field "store entries")
	mkdir "$WORK/late"
	measure_files 7 "$WORK/late"
	run "$CLI" snapshot --store "$STORE"
	echo "$output"
	[[ $status -eq 0 ]]
	# the list starts right where the store ends: the 7 new ones are kept
	[[ $(status_field "kernel trimmed") == "$stored" ]]
	(($(status_field lag) >= 7))
	start_loader --snapshot-entries 0 --snapshot-bytes 0 --snapshot-kmem 0
	wait_lag0
	assert_store_is_kernel_log
	verify_ok
	stop_loader
}

@test "snapshot --keep leaves the last N stored entries in the kernel" {
	start_loader --snapshot-entries 0 --snapshot-bytes 0 --snapshot-kmem 0
	measure_files 10 "$WORK"
	wait_lag0
	local stored
	stored=$(status_field "store entries")
	run "$CLI" snapshot --store "$STORE" --keep 4
	[[ $status -eq 0 ]]
	[[ $(status_field "kernel trimmed") == $((stored - 4)) ]]
	wait_lag0
	verify_ok
	stop_loader
}

@test "20 snapshot cycles while 4 writers measure and a reader reads both lists: verify after every cycle" {
	local mark reads=$BATS_TEST_TMPDIR/reads i w r
	mark=$(kmsg_mark)
	start_loader --snapshot-entries 0 --snapshot-bytes 0 --snapshot-kmem 0
	# a reader that keeps reading both lists while trims happen, one line
	# per pass (cat: each file is read in a few large reads; a reader
	# slower than the helper's reader_wait_ms would keep every trim out)
	: >"$reads"
	(
		while [[ -e $WORK ]]; do
			cat /sys/kernel/security/ima/ascii_runtime_measurements >/dev/null
			cat "$KERNEL_LOG" >/dev/null
			echo >>"$reads"
		done
	) 2>/dev/null &
	local reader=$!
	writers_start 4 "$WORK"
	for ((i = 0; i < 20; i++)); do
		kill -CONT "${WRITER_PIDS[@]}"
		writers_measured 10
		w=$(writer_count) r=$(wc -l <"$reads")
		snapshot_bounded
		[[ $output == trimmed* ]]
		# the trim happened while the writers measured and the reader read
		echo "cycle $i: writers $w -> $(writer_count), reader $r -> $(wc -l <"$reads")"
		(($(writer_count) > w))
		(($(wc -l <"$reads") > r))
		# verify with the writers paused: its time grows with the store,
		# and writers running through it made each cycle longer than the
		# last (55,000 entries by cycle 12, past the 600 s limit). Verify
		# while measurements run: capture.bats.
		kill -STOP "${WRITER_PIDS[@]}"
		verify_ok
	done
	kill -CONT "${WRITER_PIDS[@]}"
	kill "$reader"
	wait "$reader" || true
	writers_stop
	wait_lag0
	assert_store_is_kernel_log
	evmctl_ok
	stop_loader
	run kmsg_since "$mark"
	[[ $status -eq 0 ]]
	run grep -E 'WARNING:|BUG:|Oops' <<<"$output"
	[[ $status -eq 1 ]]
}

# wait_kernel_list_at_most N BYTES: until the kernel's list holds at most N
# entries and BYTES bytes (the loader's policy looks once a second; 20 s)
wait_kernel_list_at_most() {
	local i
	for ((i = 0; i < 200; i++)); do
		(($(status_field "kernel entries") <= $1 && $(status_field "kernel bytes") <= $2)) &&
			return 0
		sleep 0.1
	done
	echo "the kernel's list still holds $(status_field "kernel entries") entries, $(status_field "kernel bytes") bytes" >&2
	return 1
}

@test "the loader's automatic policy keeps the kernel's list under its threshold" {
	start_loader --snapshot-entries 50 --snapshot-bytes 0 --snapshot-kmem 0
	local snapshots
	snapshots=$(status_field snapshots)
	# 800 measurements: far past 50, so the policy must act
	"$MEASURE" -w 2 -n 400 "$WORK/auto" >/dev/null
	wait_lag0
	wait_kernel_list_at_most 51 999999999
	(($(status_field snapshots) > snapshots))
	verify_ok
	stop_loader
}

@test "--snapshot-bytes: the policy trims once the list holds more bytes than the limit" {
	start_loader --snapshot-entries 0 --snapshot-bytes 8192 --snapshot-kmem 0
	local snapshots
	snapshots=$(status_field snapshots)
	# about 110 bytes a record: 200 records are well past 8 KiB
	measure_files 200 "$WORK"
	wait_lag0
	wait_kernel_list_at_most 999999999 8192
	(($(status_field snapshots) > snapshots))
	verify_ok
	stop_loader
}

# The helper's count of the list's kernel memory (stats "kmem:"), which
# --snapshot-kmem holds under its budget: 64 KiB is about 90 entries here
@test "--snapshot-kmem: the policy keeps the kernel memory of the list under the budget" {
	start_loader --snapshot-entries 0 --snapshot-bytes 0 --snapshot-kmem 65536
	local snapshots kmem i
	snapshots=$(status_field snapshots)
	# each entry holds several hundred bytes of slab: 400 are far past 64 KiB
	measure_files 400 "$WORK"
	wait_lag0
	for ((i = 0; i < 200; i++)); do
		kmem=$(sed -n 's/^kmem: //p' /sys/kernel/security/imasnap/stats)
		((kmem <= 65536)) && break
		sleep 0.1
	done
	echo "kmem $kmem, entries $(state_value entries)"
	((kmem <= 65536 && kmem > 0))
	(($(status_field snapshots) > snapshots))
	verify_ok
	stop_loader
}

@test "module unload and reload between snapshots" {
	start_loader --snapshot-entries 0 --snapshot-bytes 0 --snapshot-kmem 0
	measure_files 5 "$WORK"
	wait_lag0
	"$CLI" snapshot --store "$STORE"
	wait_lag0
	local trimmed
	trimmed=$(status_field "kernel trimmed")
	rmmod imasnap
	mkdir "$WORK/2" && measure_files 5 "$WORK/2"
	# without the helper, the list's head comes from its snapshot_aggregate:
	# status and a restarted loader (which reads the list) index it right
	[[ $(status_field "kernel trimmed") == "$trimmed" ]]
	stop_loader
	start_loader --snapshot-entries 0 --snapshot-bytes 0 --snapshot-kmem 0
	wait_lag0
	assert_store_is_kernel_log
	insmod "$KO"
	# the helper recovers its count and base from the list
	[[ $(status_field "kernel trimmed") == "$trimmed" ]]
	wait_lag0
	"$CLI" snapshot --store "$STORE"
	wait_lag0
	verify_ok
	stop_loader
}

@test "imasnap snapshot asks a running loader; garbage and non-root requests on its socket change nothing" {
	start_loader --snapshot-entries 0 --snapshot-bytes 0 --snapshot-kmem 0
	measure_files 5 "$WORK"
	wait_lag0
	local trimmed snapshots expect
	trimmed=$(status_field "kernel trimmed")
	snapshots=$(status_field snapshots)
	run python3 - "$(realpath "$STORE")" <<'EOF'
import os, socket, sys

addr = '\0imasnap-load:' + sys.argv[1]


def ask(msg):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(addr)
    try:
        s.send(msg)
    except BrokenPipeError:
        pass    # a non-root peer is answered at accept, unread, and closed
    reply = s.recv(64).decode()
    s.close()
    return reply


for msg in (b'snapshot', b'snapshot -1', b'snapshot 1x', b'snapshot 99999999999999999999999',
            b'trim 5', b'\xff' * 60, os.urandom(60)):
    print(ask(msg))
sys.stdout.flush()
pid = os.fork()
if pid == 0:
    os.setuid(65534)
    print(ask(b'snapshot 0'), flush=True)
    os._exit(0)
os.waitpid(pid, 0)
EOF
	echo "$output"
	[[ $status -eq 0 ]]
	# -EINVAL for each malformed request, -EPERM for uid 65534
	expect="$(printf -- '-22 0\n%.0s' {1..7})"$'\n-1 0'
	[[ $output == "$expect" ]]
	[[ $(status_field "kernel trimmed") == "$trimmed" ]]
	[[ $(status_field snapshots) == "$snapshots" ]]
	# the loader did the trim: its own count says so
	run "$CLI" snapshot --store "$STORE" --keep 2
	echo "$output"
	[[ $status -eq 0 && $output == trimmed* ]]
	[[ $(status_field snapshots) == $((snapshots + 1)) ]]
	wait_lag0
	assert_store_is_kernel_log
	verify_ok
	stop_loader
}

@test "snapshot: bad input is refused and changes nothing" {
	start_loader --snapshot-entries 0 --snapshot-bytes 0 --snapshot-kmem 0
	wait_lag0
	stop_loader
	run "$CLI" snapshot --store "$STORE" --keep x
	[[ $status -eq 2 ]]
	kernel_log_copy "$BATS_TEST_TMPDIR/k0"
	# a store that is not the kernel's log may not trim
	local copy=$BATS_TEST_TMPDIR/copy
	mkdir "$copy" && cp "$STORE/binary_runtime_measurements" "$copy/"
	local f=$copy/binary_runtime_measurements
	printf '\xff' | dd of="$f" bs=1 seek=$(($(stat -c %s "$f") - 1)) conv=notrunc status=none
	run "$CLI" snapshot --store "$copy"
	echo "$output"
	[[ $status -eq 1 && $output == *"differs from the kernel's list"* ]]
	cmp "$BATS_TEST_TMPDIR/k0" "$KERNEL_LOG"
	run "$LOADER" --store "$STORE" --snapshot-entries -1
	[[ $status -eq 2 ]]
	run "$LOADER" --store "$STORE" --snapshot-kmem 1x
	[[ $status -eq 2 && $output == *"--snapshot-kmem 1x: not a number"* ]]
}
