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
	start_loader --snapshot-entries 0 --snapshot-bytes 0
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
	evmctl_ok
	stop_loader
}

@test "snapshot with the loader stopped trims nothing that is not durable" {
	start_loader --snapshot-entries 0 --snapshot-bytes 0
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
	start_loader --snapshot-entries 0 --snapshot-bytes 0
	wait_lag0
	assert_store_is_kernel_log
	verify_ok
	stop_loader
}

@test "snapshot --keep leaves the last N stored entries in the kernel" {
	start_loader --snapshot-entries 0 --snapshot-bytes 0
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

@test "20 snapshot cycles under 4 writers and a reader: verify after every cycle" {
	start_loader --snapshot-entries 0 --snapshot-bytes 0
	# a reader that keeps reading both lists while trims happen
	(
		while [[ -e $WORK ]]; do
			cat /sys/kernel/security/ima/ascii_runtime_measurements >/dev/null
			cat "$KERNEL_LOG" >/dev/null
		done
	) 2>/dev/null &
	local reader=$! i
	for ((i = 0; i < 20; i++)); do
		"$MEASURE" -w 4 -n 40 "$WORK/c$i" >/dev/null
		wait_lag0
		# a reader may keep the list busy: retry, the helper waits boundedly
		until "$CLI" snapshot --store "$STORE"; do sleep 0.2; done
		wait_lag0
		verify_ok
	done
	kill "$reader"
	wait "$reader" || true
	assert_store_is_kernel_log
	evmctl_ok
	stop_loader
	! grep -E 'WARNING:|BUG:|Oops' <(dmesg)
}

@test "the loader's automatic policy keeps the kernel's list under its threshold" {
	start_loader --snapshot-entries 50 --snapshot-bytes 0
	"$MEASURE" -w 2 -n 400 "$WORK/auto" >/dev/null
	wait_lag0
	sleep 2
	wait_lag0
	(($(status_field snapshots) > 0))
	(($(status_field "kernel entries") <= 50 + 1))
	verify_ok
	stop_loader
}

@test "module unload and reload between snapshots" {
	start_loader --snapshot-entries 0 --snapshot-bytes 0
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
	start_loader --snapshot-entries 0 --snapshot-bytes 0
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
	start_loader --snapshot-entries 0 --snapshot-bytes 0
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
    s.send(msg)
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
	start_loader --snapshot-entries 0 --snapshot-bytes 0
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
}
