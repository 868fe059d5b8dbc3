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
	require_tools bpftool
	start_loader
	run bpftool prog show
	[[ $status -eq 0 ]]
	[[ $output == *capture_entry* ]]
	[[ -e /sys/fs/bpf/imasnap/capture_entry_link ]]
	[[ -e /sys/fs/bpf/imasnap/ring ]]
	stop_loader
	# a bpftool that failed would show no capture_entry either
	run bpftool prog show
	[[ $status -eq 0 ]]
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

# reads_at_start: how many entries the loader's latest start read from the
# kernel's list ("store ... holds N entries (M read from the kernel's list)")
reads_at_start() {
	sed -n 's/.*entries (\([0-9]*\) read from the kernel.s list)$/\1/p' "$LOADER_LOG" | tail -n1
}

@test "loader killed with SIGKILL while 4 writers measure, 5 times: no gap, no duplicate" {
	writers_start 4 "$WORK"
	local i at_kill
	for ((i = 0; i < 5; i++)); do
		start_loader
		# the loader follows the writers for a while (a varying number of
		# their measurements), and is killed while they measure:
		writers_measured $((5 + RANDOM % 40))
		at_kill=$(kernel_count)
		kill_loader
		# they went on after the kill: it landed inside the load
		writers_measured 10
		(($(kernel_count) > at_kill))
		echo "kill $i: kernel count $at_kill at the kill, $(kernel_count) after"
	done
	start_loader
	# entries measured while no loader ran came from the kernel's list
	(($(reads_at_start) > 0))
	writers_measured 10
	writers_stop
	wait_lag0
	# byte for byte the kernel's list: no gap, nothing twice (events for
	# entries read from the list are counted as duplicates and skipped)
	assert_store_is_kernel_log
	verify_store_ok
	stop_loader
}

@test "SIGTERM with entries in the ring: the loader drains them, exits 0, a restart finds nothing missing" {
	start_loader
	writers_start 2 "$WORK"
	writers_measured 10
	# a stopped loader consumes nothing: what the writers measure now waits
	# in the ring (or the kernel's list) when SIGTERM arrives
	kill -STOP "$LOADER_PID"
	local stored pending
	stored=$(status_field "store entries")
	writers_measured 20
	pending=$(kernel_count)
	(($(status_field "store entries") == stored))
	kill -TERM "$LOADER_PID"
	kill -CONT "$LOADER_PID"
	local rc=0
	wait "$LOADER_PID" || rc=$?
	LOADER_PID=
	((rc == 0))
	# the writers measured on through the drain
	writers_measured 5
	echo "stored $stored before SIGTERM, kernel count $pending at it"
	grep "stopped; store holds" "$LOADER_LOG"
	local held
	held=$(sed -n 's/.*stopped; store holds \([0-9]*\) entries$/\1/p' "$LOADER_LOG" | tail -n1)
	# it stored every entry listed before SIGTERM, the ring's included
	((held >= pending && held > stored))
	(($(status_field "store entries") == held))
	start_loader
	writers_stop
	wait_lag0
	assert_store_is_kernel_log
	verify_store_ok
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
	# this file's violation is logged with a zero template digest
	awk -v f="$WORK/open-for-write" '$5 == f && $2 ~ /^0+$/ && length($2) == 40 { n++ }
		END { exit n != 1 }' \
		/sys/kernel/security/ima/ascii_runtime_measurements
	run "$CLI" verify --store "$STORE"
	echo "$output"
	[[ $status -eq 0 ]]
	stop_loader
}

@test "verify passes each time while 2 writers measure, 5 verifies" {
	start_loader
	writers_start 2 "$WORK"
	writers_measured 5
	local i before
	for ((i = 0; i < 5; i++)); do
		before=$(writer_count)
		run "$CLI" verify --store "$STORE"
		echo "$output"
		[[ $status -eq 0 ]]
		[[ $output == *"OK: store + kernel list"* ]]
		# the writers measured while this verify ran
		echo "verify $i: writers at $before before, $(writer_count) after"
		(($(writer_count) > before))
	done
	writers_stop
	wait_lag0
	assert_store_is_kernel_log
	stop_loader
}

@test "verify: no store, or no TPM to read, is exit 3 (could not check)" {
	start_loader
	measure_files 3 "$WORK"
	wait_lag0
	stop_loader
	run "$CLI" verify --store "$BATS_TEST_TMPDIR/no-such-store"
	echo "$output"
	[[ $status -eq 3 ]]
	[[ ! -e $BATS_TEST_TMPDIR/no-such-store ]]
	run "$CLI" verify --store "$STORE" --tcti device:/dev/no-such-tpm
	echo "$output"
	[[ $status -eq 3 ]]
	# and the same store with the machine's TPM verifies
	run "$CLI" verify --store "$STORE"
	[[ $status -eq 0 ]]
}

# pcr_file ALG OUT: the TPM's PCRs 0..23 of bank ALG in evmctl's --pcrs
# format ("PCR-NN: hex" lines), as a verifier holds them from a quote
pcr_file() {
	local alg=$1 out=$2 raw=$BATS_TEST_TMPDIR/pcrs.raw size p
	size=$(($(printf '' | "${alg}sum" | cut -d' ' -f1 | wc -c) / 2))
	tpm2_pcrread -T device:/dev/tpmrm0 -o "$raw" "$alg:$(seq -s, 0 23)" >/dev/null
	[[ $(stat -c %s "$raw") -eq $((24 * size)) ]]
	: >"$out"
	for ((p = 0; p < 24; p++)); do
		printf 'PCR-%02d: %s\n' "$p" \
			"$(od -An -v -tx1 -j $((p * size)) -N "$size" "$raw" | tr -d ' \n')" >>"$out"
	done
}

@test "offline verify: a copy of the store against PCR values read from the TPM agrees with verify and evmctl" {
	require_tools tpm2_pcrread evmctl
	start_loader
	measure_files 5 "$WORK"
	wait_lag0
	local pcrs=$BATS_TEST_TMPDIR/pcr-sha256 copy=$BATS_TEST_TMPDIR/copy i before entries
	# values of one moment: no measurement between the read and the copy
	pcr_file sha256 "$pcrs"
	for ((i = 0; i < 10; i++)); do
		before=$(kernel_count)
		pcr_file sha256 "$pcrs"
		wait_lag0
		mkdir -p "$copy"
		cp "$STORE/binary_runtime_measurements" "$copy/"
		(($(kernel_count) == before)) && break
	done
	(($(kernel_count) == before))
	entries=$("$CLI" export --store-only --store "$copy" --format ascii | wc -l)
	((entries == before))
	run "$CLI" verify --store "$copy" --pcrs "sha256,$pcrs"
	echo "$output"
	[[ $status -eq 0 ]]
	[[ $output == *"PCR 10 sha256: matches the TPM"* ]]
	[[ $output == *"OK: store: entries 0..$before replay to the PCR values given"* ]]
	run "$CLI" verify --store "$STORE"
	echo "$output"
	[[ $status -eq 0 ]]
	# --ignore-violations: extend violations as the kernel does (all ones);
	# the suite's earlier tests leave some in the log
	run evmctl ima_measurement --ignore-violations --pcrs "sha256,$pcrs" \
		"$copy/binary_runtime_measurements"
	echo "$output"
	[[ $status -eq 0 ]]
	# the store alone exports what export gives from the store and kernel list
	cmp <("$CLI" export --store-only --store "$copy") <("$CLI" export --store "$STORE" | head -c "$(stat -c %s "$copy/binary_runtime_measurements")")
	cmp <("$CLI" export --store-only --store "$copy" --from 2 --format ascii) \
		<("$CLI" export --store "$STORE" --from 2 --format ascii | head -n $((before - 2)))
	# another PCR 10 value: both fail; a bad file: exit 2 naming its line
	sed '/^PCR-10: /{s/: 0/: 1/;t;s/: ./: 0/}' "$pcrs" >"$pcrs.bad"
	run cmp -s "$pcrs" "$pcrs.bad"
	[[ $status -eq 1 ]]
	run "$CLI" verify --store "$copy" --pcrs "sha256,$pcrs.bad"
	echo "$output"
	[[ $status -eq 1 ]]
	[[ $output == *"PCR 10 sha256: replay "* && $output == *"FAIL: store: replay of entries 0..$before does not match"* ]]
	run evmctl ima_measurement --ignore-violations --pcrs "sha256,$pcrs.bad" "$copy/binary_runtime_measurements"
	[[ $status -ne 0 ]]
	sed -i '11s/$/0/' "$pcrs.bad"
	run "$CLI" verify --store "$copy" --pcrs "sha256,$pcrs.bad"
	echo "$output"
	[[ $status -eq 2 ]]
	[[ $output == *"$pcrs.bad:11: more hex digits than the bank's digest has"* ]]
	run "$CLI" verify --store "$copy" --pcrs "md5,$pcrs"
	[[ $status -eq 2 && $output == *"unknown algorithm 'md5'"* ]]
	run "$CLI" export --store "$copy" --pcrs "sha256,$pcrs"
	[[ $status -eq 2 ]]
	# a copy cut inside its last record: said, and it no longer matches
	mkdir "$copy.cut"
	head -c -10 "$copy/binary_runtime_measurements" >"$copy.cut/binary_runtime_measurements"
	run "$CLI" verify --store "$copy.cut" --pcrs "sha256,$pcrs"
	echo "$output"
	[[ $status -eq 1 ]]
	[[ $output == *"store ends in a partial record ("*"bytes)"* ]]
	[[ $output == *"FAIL: store: replay of entries 0..$((before - 1)) does not match"* ]]
	# no store: could not check
	run "$CLI" verify --store "$BATS_TEST_TMPDIR/no-such-store" --pcrs "sha256,$pcrs"
	[[ $status -eq 3 && $output == *"cannot open store"* ]]
	stop_loader
}

# Last in this file: it extends PCR 10 behind IMA's back, so nothing in this
# boot replays to the TPM afterwards.
@test "verify fails (exit 1) when the TPM's PCR 10 took an extend the log does not hold" {
	require_tools tpm2_pcrextend
	start_loader
	measure_files 3 "$WORK"
	wait_lag0
	run "$CLI" verify --store "$STORE"
	[[ $status -eq 0 ]]
	tpm2_pcrextend -T device:/dev/tpmrm0 \
		10:sha256=$(printf 'imasnap-forged' | sha256sum | cut -d' ' -f1)
	run "$CLI" verify --store "$STORE"
	echo "$output"
	[[ $status -eq 1 ]]
	[[ $output == *"PCR 10 sha256: replay "* ]]
	[[ $output == *"FAIL: store + kernel list: replay of entries"*"does not match the TPM"* ]]
	# the store itself is still the kernel's list: only the TPM disagrees
	assert_store_is_kernel_log
	stop_loader
}
