#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-only
#
# The store after a crash or tampering: a torn last record is repaired from
# the kernel's list; a store that does not match the kernel is refused and
# left exactly as it was. Bad command lines: a message and exit status 2.

load helpers
load imasnap

teardown() {
	loader_teardown
	[[ -z ${SMALL_FS:-} ]] || umount "$SMALL_FS"
	rm -rf "$WORK"
}

# A store that holds every entry, loader stopped
make_store() {
	start_loader
	measure_files 5 "$WORK"
	wait_lag0
	stop_loader
	assert_store_is_kernel_log
}

@test "a torn last record is repaired from the kernel's list" {
	make_store
	local n
	n=$(record_count "$STORE/binary_runtime_measurements")
	mkdir "$WORK/more"
	measure_files 3 "$WORK/more"
	# a crash in the middle of writing entry n: its first 30 bytes only
	"$CLI" export --store "$STORE" --from "$n" | head -c 30 \
		>>"$STORE/binary_runtime_measurements"
	run "$CLI" verify --store "$STORE"
	[[ $output == *"partial record (30 bytes)"* ]]
	start_loader
	grep -q "repaired a torn last record (30 bytes)" "$LOADER_LOG"
	wait_lag0
	assert_store_is_kernel_log
	stop_loader
}

@test "a tail that is not the start of the next entry is refused, store untouched" {
	make_store
	printf 'garbage!' >>"$STORE/binary_runtime_measurements"
	local sum
	sum=$(sha256sum <"$STORE/binary_runtime_measurements")
	run "$LOADER" --store "$STORE"
	echo "$output"
	[[ $status -eq 1 ]]
	[[ $output == *"left as it is"* ]]
	[[ $(sha256sum <"$STORE/binary_runtime_measurements") == "$sum" ]]
}

@test "a store that differs from the kernel's list is refused and left untouched" {
	make_store
	# flip one byte inside the template name of the second record
	local f=$STORE/binary_runtime_measurements sum off
	off=$(($(stat -c %s "$f") / 2))
	printf 'X' | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
	sum=$(sha256sum <"$f")
	measure_files 2 "$WORK"
	run "$LOADER" --store "$STORE"
	echo "$output"
	[[ $status -eq 1 ]]
	[[ $output == *"left as it is"* ]]
	[[ $(sha256sum <"$f") == "$sum" ]]
	run "$CLI" verify --store "$STORE"
	[[ $status -eq 1 ]]
}

@test "a store from another boot (more entries than the kernel listed) is refused" {
	make_store
	local f=$STORE/binary_runtime_measurements sum
	# the same log twice: as long as a boot with twice the entries
	cat "$f" "$f" >"$BATS_TEST_TMPDIR/double" && cp "$BATS_TEST_TMPDIR/double" "$f"
	sum=$(sha256sum <"$f")
	run "$LOADER" --store "$STORE"
	echo "$output"
	[[ $status -eq 1 ]]
	[[ $output == *"another boot or corrupt"* ]]
	[[ $(sha256sum <"$f") == "$sum" ]]
}

@test "a store that is not a measurement log is refused and left untouched" {
	mkdir -p "$BATS_TEST_TMPDIR/bad"
	head -c 1000 /dev/urandom >"$BATS_TEST_TMPDIR/bad/binary_runtime_measurements"
	local sum
	sum=$(sha256sum <"$BATS_TEST_TMPDIR/bad/binary_runtime_measurements")
	run "$LOADER" --store "$BATS_TEST_TMPDIR/bad"
	echo "$output"
	[[ $status -eq 1 ]]
	[[ $output == *"not a measurement log"* ]]
	[[ $(sha256sum <"$BATS_TEST_TMPDIR/bad/binary_runtime_measurements") == "$sum" ]]
}

@test "a second loader on the same store is refused" {
	start_loader
	run "$LOADER" --store "$STORE"
	[[ $status -eq 1 ]]
	[[ $output == *"in use by another imasnap-load"* || $output == *"another imasnap-load is running"* ]]
	stop_loader
}

@test "bad command lines: clear message, exit status 2, nothing created" {
	local d=$BATS_TEST_TMPDIR/never
	run "$LOADER" --store "$d" --ring-size 5000
	[[ $status -eq 2 && $output == *"not a power of two"* ]]
	run "$LOADER" --store "$d" --bogus
	[[ $status -eq 2 ]]
	run "$LOADER" --store "$d" extra
	[[ $status -eq 2 && $output == *"unexpected argument"* ]]
	run "$LOADER" --store ""
	[[ $status -eq 2 ]]
	[[ ! -e $d ]]
	run "$CLI"
	[[ $status -eq 2 ]]
	run "$CLI" frobnicate
	[[ $status -eq 2 && $output == *"unknown command"* ]]
	run "$CLI" export --format xml
	[[ $status -eq 2 && $output == *"binary or ascii"* ]]
	run "$CLI" export --from -3
	[[ $status -eq 2 ]]
	run "$CLI" status --store "$d"
	[[ $status -ne 0 && $output == *"cannot open store"* ]]
	[[ ! -e $d ]]
}

@test "export: binary from an index is the kernel's list from that entry; ascii matches" {
	make_store
	# outputs on ramfs: reading a tmpfs file would add a measurement
	local out=$BATS_TEST_TMPDIR n
	"$CLI" export --store "$STORE" >"$out/all.bin"
	cmp "$out/all.bin" "$KERNEL_LOG"
	"$CLI" export --store "$STORE" --format ascii >"$out/all.txt"
	diff "$out/all.txt" /sys/kernel/security/ima/ascii_runtime_measurements
	# from an index: the same bytes as the tail of the whole log
	n=$(record_count "$STORE/binary_runtime_measurements")
	"$CLI" export --store "$STORE" --from $((n - 2)) >"$out/tail.bin"
	[[ -s $out/tail.bin ]]
	cmp "$out/tail.bin" <(tail -c "$(stat -c %s "$out/tail.bin")" "$KERNEL_LOG")
	mkdir "$out/t" && mv "$out/tail.bin" "$out/t/binary_runtime_measurements"
	[[ $(record_count "$out/t/binary_runtime_measurements") == 2 ]]
	run "$CLI" export --store "$STORE" --from 999999999
	[[ $status -eq 2 && $output == *"past the end"* ]]
}

@test "a write that fails half way (file system full) is cut back to whole records" {
	# a store on a 64 KiB tmpfs: about 500 records fit, 800 more do not
	SMALL_FS=$BATS_TEST_TMPDIR/small
	mkdir "$SMALL_FS"
	mount -t tmpfs -o size=64k imasnap-small "$SMALL_FS"
	STORE=$SMALL_FS/store
	start_loader
	local size i rc=0
	measure_files 800 "$WORK"
	# the loader says the store takes no writes, and keeps running (it
	# retries until the fault clears: faults.bats)
	for ((i = 0; i < 300; i++)); do
		grep -q "the store takes no writes (No space left on device)" "$LOADER_LOG" && break
		sleep 0.1
	done
	cat "$LOADER_LOG"
	grep "cannot write store .*: No space left on device" "$LOADER_LOG"
	grep "the store takes no writes (No space left on device)" "$LOADER_LOG"
	kill -0 "$LOADER_PID"
	# tmpfs took the write up to a page boundary; the loader cut it back
	# to the last whole record: the store is a prefix of the kernel's list
	size=$(stat -c %s "$STORE/binary_runtime_measurements")
	echo "store: $size bytes"
	((size > 0 && size % 4096 != 0))
	cmp -n "$size" "$STORE/binary_runtime_measurements" "$KERNEL_LOG"
	run "$CLI" verify --store "$STORE"
	echo "$output"
	[[ $status -eq 0 && $output != *"partial record"* ]]
	# stopped, it cannot drain into a full store: exit 1, store unchanged
	kill -TERM "$LOADER_PID"
	wait "$LOADER_PID" || rc=$?
	LOADER_PID=
	((rc == 1))
	[[ $(stat -c %s "$STORE/binary_runtime_measurements") == "$size" ]]
}
