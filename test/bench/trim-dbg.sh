#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Trim benchmark (the kernel helper), run inside the test guest:
#   test/vm/run.sh --script test/bench/trim.sh [--env ENTRIES=100000]
#
# 1. Without imasnap: ENTRIES measurements in CHUNKS steps; after each, the
#    kernel's entry count and unreclaimable slab (files removed, caches
#    dropped, so what remains is mostly IMA's list).
# 2. The helper and a loader without automatic snapshots persist all of it;
#    one `imasnap snapshot` trims it while STALL_WRITERS keep measuring,
#    with function_graph tracing ima_add_template_entry: the longest call
#    (and its wait for IMA's list mutex) during the trim, against the same
#    load without a trim; slab before and after: the share returned.
# 3. With the loader's automatic policy (its defaults): ENTRIES more
#    measurements; the same samples, side by side with step 1.
set -euo pipefail
exec 7>"$IMASNAP_RESULTS/xtrace"; BASH_XTRACEFD=7; PS4='+ $EPOCHREALTIME ${LINENO}: '; set -x

TREE=${IMASNAP_TREE:?run inside the test guest}
ENTRIES=${ENTRIES:-100000}
CHUNKS=${CHUNKS:-10}
WRITERS=${WRITERS:-4}
BASE_SECONDS=${BASE_SECONDS:-20}	# step 2's writer load without a trim
# step 2's writers: one, so that the list mutex has no other holder than the
# trim (each measurement holds it across its TPM extend, milliseconds here)
STALL_WRITERS=${STALL_WRITERS:-1}
MEASURE=$TREE/.output/measure
CLI=$TREE/imasnap
WORK=$(mktemp -d /tmp/bench.XXXXXX)		# tmpfs: measured
SCRATCH=$(mktemp -d "${TMPDIR:-/run/imasnap-bats}/bench-trim.XXXXXX")	# ramfs
STORE=$SCRATCH/store
SECFS=/sys/kernel/security
TRACING=/sys/kernel/tracing
# shellcheck source=test/bench/lib.bash
. "$TREE/test/bench/lib.bash"

stop_tracing() {
	[[ -e $TRACING/current_tracer ]] || return 0
	echo nop >"$TRACING/current_tracer"
	echo >"$TRACING/set_graph_function"
}
trap 'stop_tracing; stop_loader; rm -rf "$WORK"' EXIT

kernel_count() { cat "$SECFS/ima/runtime_measurements_count"; }
helper_field() { sed -n "s/^$1: //p" "$SECFS/imasnap/state"; }

# KiB of unreclaimable slab once the measured files are gone: the list's
# entries are kmalloc'ed, and freeing them is what a trim is for
slab_kib() {
	find "${WORK:?}" -mindepth 1 -delete
	sync
	echo 3 >/proc/sys/vm/drop_caches
	sleep 1		# RCU-deferred frees of the removed inodes
	awk '/^SUnreclaim:/ { print $2 }' /proc/meminfo
}

# makes ENTRIES measurements in CHUNKS steps, one table row per step
grow() {
	local label=$1 i per=$((ENTRIES / CHUNKS))

	GROW_START_KIB=$(slab_kib)
	printf '%-8s %8s %12s %12s %14s\n' "$label" made "kernel list" "list bytes" "SUnreclaim KiB"
	printf '%-8s %8d %12s %12s %14d\n' "" 0 "$(list_entries)" "$(list_bytes)" "$GROW_START_KIB"
	for ((i = 1; i <= CHUNKS; i++)); do
		"$MEASURE" -w "$WRITERS" -n "$per" "$WORK/c$i" >/dev/null
		[[ -n $LOADER_PID ]] && wait_lag0
		printf '%-8s %8d %12s %12s %14d\n' "" $((i * per)) "$(list_entries)" "$(list_bytes)" "$(slab_kib)"
	done
}

list_bytes() { wc -c <"$SECFS/ima/binary_runtime_measurements"; }

# entries in the kernel's list (runtime_measurements_count counts trimmed
# ones too)
list_entries() {
	if [[ -e $SECFS/imasnap/state ]]; then helper_field entries; else kernel_count; fi
}

# function_graph on ima_add_template_entry, two levels: the call and its
# children, mutex_lock (the wait for ima_extend_list_mutex) among them
trace_start() {
	grep -q '^ima_add_template_entry$' "$TRACING/available_filter_functions"
	echo nop >"$TRACING/current_tracer"
	echo 8192 >"$TRACING/buffer_size_kb"
	echo ima_add_template_entry >"$TRACING/set_graph_function"
	echo 2 >"$TRACING/max_graph_depth"
	echo 1 >"$TRACING/options/funcgraph-tail"
	echo function_graph >"$TRACING/current_tracer"
	cat "$TRACING/trace_pipe" >"$1" &
	TRACE_PID=$!
}

trace_stop() {
	sleep 1
	kill "$TRACE_PID"
	wait "$TRACE_PID" || true
	stop_tracing
}

marker() { echo "$1" >"$TRACING/trace_marker"; }

# writers measuring in a loop until $SCRATCH/stop exists
writers() {
	local i=0
	while [[ ! -e $SCRATCH/stop ]]; do
		"$MEASURE" -w "$STALL_WRITERS" -n 200 "$WORK/$1-$i" >/dev/null
		rm -rf "${WORK:?}/$1-$i"
		i=$((i + 1))
	done
	rm -f "$SCRATCH/stop"
}

# from a function_graph trace: "calls max_call_us max_mutex_wait_us", for
# the calls between the markers "$2-start" and "$2-end" (all without $2)
trace_max() {
	awk -v tag="${2:-}" '
		function us(line) { match(line, /[0-9]+(\.[0-9]+)? us/); return substr(line, RSTART, RLENGTH - 3) + 0 }
		tag == "" { inside = 1 }
		tag != "" && index($0, tag "-start") { inside = 1 }
		tag != "" && index($0, tag "-end") { inside = 0 }
		!inside { next }
		/mutex_lock\(\);/ { v = us($0); if (v > lock) lock = v; if (v > 1000) slow++ }
		/\} \/\* ima_add_template_entry \*\// { n++; v = us($0); if (v > call) call = v }
		END { printf "%d %.1f %.1f %d\n", n, call, lock, slow }' "$1"
}

mount -t tracefs tracefs "$TRACING" 2>/dev/null || true
echo "trim benchmark: $ENTRIES measurements in $CHUNKS steps, $WRITERS writers"

echo
echo "== 1. without imasnap"
grow without
slab0_kib=$GROW_START_KIB

echo
echo "== 2. one snapshot trims the history while $STALL_WRITERS writer(s) measure"
insmod "$KO"
start_loader --snapshot-entries 0 --snapshot-bytes 0
wait_lag0
before_kib=$(slab_kib)
before_entries=$(helper_field entries)

trace_start "$SCRATCH/trace-base"
writers base &
sleep "$BASE_SECONDS"
touch "$SCRATCH/stop"
wait $!
trace_stop
read -r base_n base_call base_lock base_slow < <(trace_max "$SCRATCH/trace-base")

trace_start "$SCRATCH/trace-trim"
writers trim &
load=$!
sleep 2			# the writers are under way
marker imasnap-trim-start
t0=$(now)
"$CLI" snapshot --store "$STORE" >"$SCRATCH/snapshot.out"
t1=$(now)
marker imasnap-trim-end
trimmed1=$(helper_field trimmed)
sleep 2
touch "$SCRATCH/stop"
wait "$load"
trace_stop
read -r trim_n trim_call trim_lock trim_slow < <(trace_max "$SCRATCH/trace-trim" imasnap-trim)
read -r all_n all_call all_lock all_slow < <(trace_max "$SCRATCH/trace-trim")
# what the writers added during the trim goes too, so that the list is
# as short as at the start of step 1 when slab is compared
wait_lag0
"$CLI" snapshot --store "$STORE" >>"$SCRATCH/snapshot.out"
wait_lag0
after_kib=$(slab_kib)
after_entries=$(helper_field entries)
cat "$SCRATCH/snapshot.out"

printf 'trimmed %d entries in %.2f s (list %d entries before, %d after a second snapshot)\n' \
	"$trimmed1" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
	"$before_entries" "$after_entries"
echo "ima_add_template_entry, $STALL_WRITERS writer(s), without a trim: $base_n calls, longest $base_call us, longest list-mutex wait $base_lock us, waits over 1 ms: $base_slow"
echo "ima_add_template_entry, $STALL_WRITERS writer(s), during the trim: $trim_n calls, longest $trim_call us, longest list-mutex wait $trim_lock us, waits over 1 ms: $trim_slow (goal: none)"
echo "ima_add_template_entry, the whole trim run: $all_n calls, longest $all_call us, longest list-mutex wait $all_lock us, waits over 1 ms: $all_slow"
echo "slab (SUnreclaim) before the trim $before_kib KiB, after $after_kib KiB"
awk -v b="$before_kib" -v a="$after_kib" -v s0="$slab0_kib" 'BEGIN {
		held = b - s0
		printf "held by the list before the trim: %d KiB (vs the start of step 1); returned: %d KiB = %.1f%% (goal >= 95%%)\n",
			held, b - a, (held > 0 ? 100 * (b - a) / held : 0) }'
stop_loader

echo
echo "== 3. with imasnap's automatic policy (loader defaults)"
start_loader
wait_lag0
grow with
stop_loader
