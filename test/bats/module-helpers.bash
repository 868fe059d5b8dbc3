# SPDX-License-Identifier: GPL-2.0-only
#
# What the helper's suites (module, gate, recovery, soak) share: loading
# state, list entries and the kernel log of the test, and a default setup
# and teardown (helper_setup / helper_teardown) a suite may replace.

SNAP=/sys/kernel/security/imasnap
BIN=$IMA_DIR/binary_runtime_measurements
ASCII=$IMA_DIR/ascii_runtime_measurements

# The checker (test/tools/imasnap-check.py): parses binary lists,
# snapshot_aggregate records and the state file, replays per PCR and per bank,
# issues control file writes and reports errno.
CHECKER=$TREE/test/tools/imasnap-check.py

checker() {
	python3 "$CHECKER" "$@"
}

list_len() {
	wc -l <"$ASCII"
}

loaded() {
	grep -q '^imasnap ' /proc/modules
}

unload() {
	local i
	for ((i = 0; i < 50; i++)); do
		loaded || return 0
		rmmod imasnap 2>/dev/null && return 0
		sleep 0.1
	done
	rmmod imasnap
}

# N-th entry's SHA-1 template digest in the current list.
nth_digest() {
	sed -n "${1}p" "$ASCII" | cut -d' ' -f2
}

# wait_in_kernel FUNCTION [PID]: until PID (any process if none) sleeps in
# the kernel inside FUNCTION (from /proc/PID/stack), at most 60 s.
wait_in_kernel() {
	local i
	for ((i = 0; i < 600; i++)); do
		if [[ -n ${2:-} ]]; then
			grep -qw "$1" "/proc/$2/stack" 2>/dev/null && return 0
		else
			grep -qlw "$1" /proc/[0-9]*/stack 2>/dev/null && return 0
		fi
		sleep 0.1
	done
	echo "no process waits in $1" >&2
	return 1
}

# reload_keeps_state: unload and reload the helper, which recovers the same
# state from the list (all of it but the list's current size)
reload_keeps_state() {
	local st
	st=$(grep -v '^entries\|^bytes' "$SNAP/state")
	unload
	insmod "$KO"
	[ "$(grep -v '^entries\|^bytes' "$SNAP/state")" = "$st" ]
}

# trim_all_measuring_before_the_record DIR: trims the whole list while a
# measurement lands between the trim's look at the list and its record: the
# measurement is then the new head, the snapshot_aggregate (HEAD_SET clear)
# after it. Leaves the lists before and after in DIR/old and DIR/new and the
# count trimmed in DIR/n. Needs the helper loaded and $WORK.
trim_all_measuring_before_the_record() {
	local t=$1 n trim
	echo 30000 >/sys/module/imasnap/parameters/reader_wait_ms
	n=$(list_len)
	echo "$n" >"$t/n"
	cp "$BIN" "$t/old"
	# an open list file holds the trim between reading the list and
	# appending its record (children must not inherit fd 7)
	exec 7<"$BIN"
	checker trim "$n" "$(nth_digest "$n")" >"$t/trim.out" 7<&- &
	trim=$!
	BG_PIDS+=("$trim")
	wait_in_kernel readers_block
	echo "imasnap between $RANDOM" >"$WORK/between"
	read -r _ <"$WORK/between"
	exec 7<&-
	wait "$trim"
	[ "$(cat "$t/trim.out")" = OK ]
	echo 1000 >/sys/module/imasnap/parameters/reader_wait_ms
	cp "$BIN" "$t/new"
	cat "$ASCII"
	[ "$(sed -n 1p "$ASCII" | cut -d' ' -f5)" = "$WORK/between" ]
	[ "$(sed -n 2p "$ASCII" | cut -d' ' -f5)" = snapshot_aggregate ]
}

# Kernel warnings, list corruption reports or oopses since the test began
# (since setup's marker in the kernel log; its loss is a failure too).
no_kernel_problems() {
	local log new
	log=$(kmsg_since) || return 1
	new=$(grep -E 'WARNING:|BUG:|Oops|corruption|general protection|Call Trace:|refcount_t:' <<<"$log" || true)
	if [[ -n $new ]]; then
		echo "kernel problems: $new"
		return 1
	fi
}


# helper_setup / helper_teardown: each test loads the module itself, starts
# from an unloaded helper and a kernel log marker, and leaves nothing behind
# (background processes in BG_PIDS, its tmpfs WORK)
helper_setup() {
	require_ima
	[[ -f $KO ]] || skip "$KO is not built (make module)"
	unload
	kmsg_mark >/dev/null
	WORK=$(tmpfs_dir)
	BG_PIDS=()
}

helper_teardown() {
	local p
	exec 7<&- 8<&- 9<&-
	for p in "${BG_PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	unload
	rm -rf "$WORK"
}

setup() {
	helper_setup
}

teardown() {
	helper_teardown
}
