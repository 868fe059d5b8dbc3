#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-only
#
# The kernel helper's gate on IMA's list files (kernel-helper/readers.c) and
# its module life cycle, and the bound on reboot_wait_ms (reboot.c). Each test
# loads the module itself and unloads it in teardown. The reboot notifier's
# paths that end in a reboot: test/kexec/reboot-wait*.bats (a chain); the
# one where the reboot does not happen: here, through a test module
# (test/kmod/imasnap_test_reboot.c) that runs the notifier and returns.
#
# Run alone with: test/vm/run.sh test/bats/gate.bats

load helpers
load module-helpers

PARAMS=/sys/module/imasnap/parameters

# a command, not a function: a background job's $! is then the python
# process, whose kernel stack the tests look at
LISTFILE=$TREE/test/tools/listfile.py
REBOOT_KO=$TREE/test/kmod/imasnap_test_reboot.ko

# bg_open MODE PATH NAME: listfile open in the background, without fd 7,
# output in $BATS_TEST_TMPDIR/NAME.out (a copy of what it read in NAME.copy);
# its pid in BG_PIDS and $BG
bg_open() {
	python3 "$LISTFILE" open "$1" "$2" "$BATS_TEST_TMPDIR/$3.copy" \
		>"$BATS_TEST_TMPDIR/$3.out" 7<&- &
	BG=$!
	BG_PIDS+=("$BG")
}

# reload_cycles N PATH...: N insmod/rmmod cycles while one process, niced
# so that the cycles get the CPUs they need, opens each PATH in every mode
# (listfile.py loop: a malformed list fails the test); the outcomes counted
# in $BATS_TEST_TMPDIR/loop
reload_cycles() {
	local n=$1 d=$BATS_TEST_TMPDIR i t0=$SECONDS
	shift
	nice -n 10 python3 "$LISTFILE" loop "$d/stop" "$@" >"$d/loop" &
	BG_PIDS+=($!)
	for ((i = 0; i < n; i++)); do
		insmod "$KO"
		rmmod imasnap || unload
	done
	touch "$d/stop"
	wait "${BG_PIDS[-1]}"
	BG_PIDS=()
	echo "$n cycles in $((SECONDS - t0)) s; opens: $(cat "$d/loop")"
}

@test "gate: an O_ACCMODE 3 open waiting at the gate does not hide a real reader: the trim fails with EBUSY, nothing changed" {
	insmod "$KO"
	echo 10000 >"$PARAMS/reader_wait_ms"
	measure_files 2 "$WORK"
	local d=$BATS_TEST_TMPDIR trim
	cp "$BIN" "$d/list.before"
	cp "$SNAP/state" "$d/state.before"
	# a real reader, counted in i_readcount
	exec 7<"$BIN"
	python3 "$LISTFILE" trim 1 "$(nth_digest 1)" >"$d/trim.out" 7<&- &
	trim=$!
	BG_PIDS+=("$trim")
	wait_in_kernel readers_block "$trim"
	# flags 3: do_dentry_open counts it nowhere; it waits at the gate
	bg_open acc3 "$BIN" acc3
	wait_in_kernel gate_open "$BG"
	# the overlap happened: the trim still waits for the reader
	grep -qw readers_block "/proc/$trim/stack"
	wait "$trim"
	echo "trim: $(cat "$d/trim.out")"
	[ "$(cat "$d/trim.out")" = EBUSY ]
	# the gate reopened: the waiting open goes through
	wait "$BG"
	[ "$(cat "$d/acc3.out")" = "ok acc3" ]
	exec 7<&-
	cmp "$d/list.before" "$BIN"
	cmp "$d/state.before" "$SNAP/state"
	no_kernel_problems
}

@test "gate: opens waiting at the gate (read-only, read-write, O_ACCMODE 3) hold a trim back only while a reader is open, then read the trimmed list" {
	insmod "$KO"
	echo 30000 >"$PARAMS/reader_wait_ms"
	measure_files 3 "$WORK"
	local d=$BATS_TEST_TMPDIR trim m pids=()
	exec 7<"$BIN"
	python3 "$LISTFILE" trim 2 "$(nth_digest 2)" >"$d/trim.out" 7<&- &
	trim=$!
	BG_PIDS+=("$trim")
	wait_in_kernel readers_block "$trim"
	for m in ro rw acc3; do
		bg_open "$m" "$BIN" "$m"
		pids+=("$BG")
		wait_in_kernel gate_open "$BG"
	done
	grep -qw readers_block "/proc/$trim/stack"
	# the last reader closes: the waiters do not hold the trim back
	exec 7<&-
	wait "$trim"
	[ "$(cat "$d/trim.out")" = OK ]
	for m in 0 1 2; do
		wait "${pids[m]}"
	done
	[ "$(cat "$d/ro.out")" = "ok ro" ]
	[ "$(cat "$d/rw.out")" = "ok rw" ]
	[ "$(cat "$d/acc3.out")" = "ok acc3" ]
	# they got in after the trim: its snapshot_aggregate is their last record
	cmp "$d/ro.copy" "$BIN"
	cmp "$d/rw.copy" "$BIN"
	tail -n 1 "$ASCII" | grep -q ' ima-buf .* snapshot_aggregate '
	no_kernel_problems
}

@test "gate: a list file opened while the helper is loaded keeps reading after rmmod, which it does not hold up" {
	insmod "$KO"
	measure_files 2 "$WORK"
	exec 7<"$BIN"
	local head
	head=$(head -c 28 <&7 | od -An -tx1 | tr -d ' \n')
	[ ${#head} -eq 56 ]
	rmmod imasnap
	run loaded
	[ "$status" -ne 0 ]
	# the rest of the same open file: IMA's file, nothing of the module left
	cat <&7 >"$BATS_TEST_TMPDIR/rest"
	[ -s "$BATS_TEST_TMPDIR/rest" ]
	exec 7<&-
	no_kernel_problems
}

@test "gate: opens of both list files (read-only, read-write, O_ACCMODE 3) racing 100 unload/reload cycles: no kernel warning, every open succeeds with a well-formed list or fails cleanly" {
	local d=$BATS_TEST_TMPDIR m
	measure_files 2 "$WORK"
	# the unfixed helper warned within 7 cycles
	reload_cycles 100 "$BIN" "$ASCII"
	# every mode opened the files during the cycles, two times a cycle
	for m in ro rw acc3; do
		[[ $(cat "$d/loop") =~ (^| )$m:ok\ ([0-9]+) ]]
		[ "${BASH_REMATCH[2]}" -ge 200 ]
	done
	no_kernel_problems
}

@test "gate: an open helper file (state, trim) holds the module: rmmod is refused as in use, the file still works, and rmmod goes through once it is closed" {
	insmod "$KO"
	exec 7<"$SNAP/state" 8>"$SNAP/persisted"
	run rmmod imasnap
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"in use"* ]]
	loaded
	grep -q '^version: ' <&7
	exec 7<&-
	run rmmod imasnap
	[ "$status" -ne 0 ]
	exec 8>&-
	rmmod imasnap
	run loaded
	[ "$status" -ne 0 ]
	no_kernel_problems
}

@test "gate: opens of the helper's own files (state, trim, rebase, persisted) racing 25 unload/reload cycles: no kernel warning, every open succeeds or fails cleanly (ENODEV while rmmod runs)" {
	local d=$BATS_TEST_TMPDIR
	reload_cycles 25 "$SNAP"/{state,trim,rebase,persisted}
	[[ $(cat "$d/loop") =~ (^| )state:ro:ok\ ([0-9]+) ]]
	[ "${BASH_REMATCH[2]}" -ge 25 ]
	[[ $(cat "$d/loop") =~ (^| )trim:wo:ok\ ([0-9]+) ]]
	[ "${BASH_REMATCH[2]}" -ge 25 ]
	# the opens met rmmod at work: refused cleanly, not warned about
	[[ $(cat "$d/loop") =~ :ENODEV\ [0-9]+ ]]
	# nothing but ok, gone (ENOENT) and ENODEV
	local bad
	bad=$(grep -Eo '[a-z]+:[a-z0-9]+:[A-Za-z-]+' "$d/loop" |
		grep -Ev ':(ok|ENOENT|ENODEV)$' || true)
	[ -z "$bad" ]
	no_kernel_problems
}

@test "gate: reboot_wait_ms takes 0..60000 ms; larger values are refused at insmod and through sysfs, changing nothing" {
	run insmod "$KO" reboot_wait_ms=60001
	echo "$output"
	[ "$status" -ne 0 ]
	run loaded
	[ "$status" -ne 0 ]
	insmod "$KO" reboot_wait_ms=60000
	[ "$(cat "$PARAMS/reboot_wait_ms")" = 60000 ]
	run bash -c "echo 100000 >$PARAMS/reboot_wait_ms"
	[ "$status" -ne 0 ]
	run bash -c "echo -1 >$PARAMS/reboot_wait_ms"
	[ "$status" -ne 0 ]
	[ "$(cat "$PARAMS/reboot_wait_ms")" = 60000 ]
	echo 0 >"$PARAMS/reboot_wait_ms"
	[ "$(cat "$PARAMS/reboot_wait_ms")" = 0 ]
	no_kernel_problems
}

@test "gate: a reboot whose notifier ran but that did not happen: measurement and trims wait while the notifier's worker holds IMA's mutex, then resume after reboot_wait_ms + 30 s, with a warning" {
	[[ -f $REBOOT_KO ]] || { echo "$REBOOT_KO is not built (make test-kmod)" >&2; return 1; }
	insmod "$KO" reboot_wait_ms=0
	measure_files 2 "$WORK"
	local t=$BATS_TEST_TMPDIR n i late
	n=$(list_len)
	insmod "$REBOOT_KO"
	rmmod imasnap_test_reboot
	kmsg_since | grep -q 'measurement suspended at'
	# a measurement now waits for IMA's list mutex, before the TPM extend
	echo "imasnap late $RANDOM" >"$WORK/late"
	(read -r _ <"$WORK/late" && touch "$t/late-done") 3>&- 7<&- &
	late=$!
	BG_PIDS+=("$late")
	wait_in_kernel ima_add_template_entry "$late"
	[ ! -e "$t/late-done" ]
	[ "$(list_len)" -eq "$n" ]
	# and trims are refused, changing nothing
	[ "$(checker trim 1 "$(nth_digest 1)")" = ESHUTDOWN ]
	[ "$(list_len)" -eq "$n" ]
	# reboot_wait_ms (0) + 30 s later the worker gives the mutex back
	for ((i = 0; i < 900; i++)); do
		[[ ! -e $t/late-done ]] || break
		sleep 0.1
	done
	[ -e "$t/late-done" ]
	kmsg_since | grep -q "the reboot failed? IMA's list mutex is given back, measurement and trims resume"
	[ "$(list_len)" -eq $((n + 1)) ]
	[ "$(ascii_entry "$ASCII" "$WORK/late" | cut -d' ' -f5)" = "$WORK/late" ]
	[ "$(checker trim 1 "$(nth_digest 1)")" = OK ]
	checker replay
	no_kernel_problems
}
