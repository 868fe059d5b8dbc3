# SPDX-License-Identifier: GPL-2.0-only
#
# Shared by the benchmark scripts (sourced, inside the test guest): the
# loader on $STORE, its status, bounded waits with progress, medians. Set
# TREE and STORE first (LOADER_LOG too, if the log must not lie beside the
# store).
#
# Every wait here is bounded: it prints what it waits for every PROGRESS_S
# seconds and gives up after WAIT_LIMIT seconds with a message naming it.

# the test suites' helpers: $KO, the helper module for the running kernel
# shellcheck source=test/bats/helpers.bash
. "$TREE/test/bats/helpers.bash"

LOADER_PID=
LOADER_LOG=${LOADER_LOG:-${STORE:?}.log}
PROGRESS_S=${PROGRESS_S:-30}
WAIT_LIMIT=${WAIT_LIMIT:-1800}
SECFS=/sys/kernel/security
TRACING=/sys/kernel/tracing

# note MESSAGE: a progress line, with the seconds since the script began
note() { printf '[%5d s] %s\n' "$SECONDS" "$*"; }

# bench_dir NAME: a new directory for the store, under $IMASNAP_BENCH_STORE
# (a directory on the file system to measure, e.g. a disk's mount point) or,
# by default, $TMPDIR (ramfs in the test guest: not measured by IMA, and
# fdatasync costs nothing there)
bench_store_dir() {
	mktemp -d "${IMASNAP_BENCH_STORE:-${TMPDIR:-/run/imasnap-bats}}/bench-$1.XXXXXX"
}

# store_fs_line: which file system the store is on, and what that means
store_fs_line() {
	local fs
	fs=$(stat -f -c %T "$STORE")
	case $fs in
	ramfs | tmpfs) echo "store: $STORE on $fs (memory: fdatasync returns at once, durability costs nothing here)" ;;
	*) echo "store: $STORE on $fs ($(df -P "$STORE" | awk 'NR == 2 { print $1 }'))" ;;
	esac
}

# wait_until WHAT LIMIT CMD...: runs CMD every half second until it
# succeeds; says every PROGRESS_S s that it still waits for WHAT (with CMD's
# last output). Returns 1 after LIMIT s, with a message naming WHAT; exits
# the script at once when CMD returns 2 (what it waits for cannot happen).
wait_until() {
	local what=$1 limit=$2 start=$SECONDS next=$((SECONDS + PROGRESS_S)) out='' rc
	shift 2
	while :; do
		rc=0
		out=$("$@" 2>&1) || rc=$?
		((rc)) || return 0
		if ((rc == 2)); then
			note "FAILED waiting for $what: $out" >&2
			exit 1
		fi
		if ((SECONDS - start >= limit)); then
			note "TIMEOUT: gave up waiting for $what after $limit s${out:+ (last: $out)}" >&2
			return 1
		fi
		if ((SECONDS >= next)); then
			note "still waiting for $what ($((SECONDS - start)) s${out:+; $out})"
			next=$((SECONDS + PROGRESS_S))
		fi
		sleep 0.5
	done
}

# run_bounded WHAT LIMIT OUT CMD...: runs CMD in the background with its
# output in OUT; says every PROGRESS_S s that WHAT is still running (with
# the kernel's entry count), kills it after LIMIT s and exits the script
# with a message naming WHAT; CMD's own failure exits the script too
run_bounded() {
	local what=$1 limit=$2 out=$3 pid rc=0
	shift 3
	"$@" >"$out" 2>&1 &
	pid=$!
	if ! wait_until "$what (pid $pid) to finish" "$limit" not_running "$pid"; then
		kill "$pid" 2>/dev/null
		exit 1
	fi
	wait "$pid" || rc=$?
	if ((rc)); then
		note "FAILED: $what exited with $rc: $(tail -n 3 "$out")" >&2
		exit 1
	fi
}

# not_running PID: true once PID is gone; else prints the kernel's count
not_running() {
	if kill -0 "$1" 2>/dev/null; then
		echo "IMA's entry count $(kernel_count)"
		return 1
	fi
}

# IMA's entries since boot, trimmed ones included
kernel_count() { cat "$SECFS/ima/runtime_measurements_count"; }

# a loader that is up: "following IMA" logged N times
loader_up() {
	kill -0 "$LOADER_PID" 2>/dev/null ||
		{ echo "the loader exited: $(tail -n 3 "$LOADER_LOG")"; return 2; }
	(($(grep -cs "following IMA" "$LOADER_LOG") >= $1))
}

# start_loader [ARGS...]: imasnap-load on $STORE, back when it follows IMA
start_loader() {
	local n
	n=$(grep -cs "following IMA" "$LOADER_LOG" || true)
	"$TREE/imasnap-load" --store "$STORE" "$@" >>"$LOADER_LOG" 2>&1 &
	LOADER_PID=$!
	wait_until "the loader to catch up with the kernel's list and follow IMA" \
		"$WAIT_LIMIT" loader_up $((${n:-0} + 1)) || exit 1
}

# stop_loader: SIGTERM; it drains the ring and the kernel's list and exits
stop_loader() {
	[[ -z $LOADER_PID ]] && return 0
	kill -TERM "$LOADER_PID"
	wait_until "the loader (pid $LOADER_PID) to drain and exit after SIGTERM" \
		"$WAIT_LIMIT" not_running "$LOADER_PID" || exit 1
	wait "$LOADER_PID" || note "the loader exited with $?: $(tail -n 3 "$LOADER_LOG")"
	LOADER_PID=
}

# status_field NAME: the number of `imasnap status`'s "NAME: N" line (the
# status command parses both logs: it costs guest CPU, and reading the
# kernel's list costs more the longer the list is)
status_field() {
	local out
	out=$("$TREE/imasnap" status --store "$STORE") || return 1
	sed -n "s/^$1: \([0-9]*\).*/\1/p" <<<"$out"
}

# stored_upto N: true when the store holds N entries or more (its count
# printed otherwise)
stored_upto() {
	local n
	n=$(status_field "store entries") || { echo "imasnap status failed"; return 1; }
	echo "store holds ${n:-?} of $1 entries"
	((${n:-0} >= $1))
}

# wait_stored: until every entry the kernel listed before this call is
# durable in the store (a store that begins at this boot's first entry).
# Entries that the polls themselves cause (reads of a store on a file
# system IMA measures) come later and are not waited for.
wait_stored() {
	local target
	target=$(kernel_count)
	wait_until "the loader to store the kernel's first $target entries" \
		"$WAIT_LIMIT" stored_upto "$target" || exit 1
}

# kept for the other benchmarks: the same as wait_stored
wait_lag0() { wait_stored; }

now() { date +%s.%N; }

median() {
	printf '%s\n' "$@" | sort -g |
		awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
