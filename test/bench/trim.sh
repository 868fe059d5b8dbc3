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
#    with function_graph tracing ima_add_template_entry (and its wait for
#    IMA's list mutex) and the helper's trim_entries: the measurements that
#    overlap trim_entries (the helper's part of the loader's write(2) to the
#    trim file), against the same load without a trim; slab before and
#    after: the share returned.
#    The helper's own holds of IMA's list mutex, timed in the kernel
#    (securityfs imasnap/stats), beside the writers' longest wait for it.
# 3. With the loader's automatic policy (its defaults: --snapshot-kmem 1M):
#    ENTRIES more measurements; the same samples (and the helper's count of
#    the list's kernel memory), side by side with step 1; then what the
#    policy cost: trims, the snapshot_aggregate records' bytes in the store,
#    the loader's CPU time.
#
# Every wait is bounded (WAIT_LIMIT s) and says every PROGRESS_S s what it
# waits for (test/bench/lib.bash). IMASNAP_BENCH_STORE=DIR: the store goes
# into a new directory under DIR (default $TMPDIR, ramfs).
set -euo pipefail

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
LOADER_LOG=$SCRATCH/loader.log
# shellcheck source=test/bench/lib.bash
. "$TREE/test/bench/lib.bash"
STORE=$(bench_store_dir trim)
TRACE_PID=

# set_tracer NAME: a write to current_tracer patches every traced call
# site: bounded, with progress
write_tracer() { echo "$1" >"$TRACING/current_tracer"; }
set_tracer() {
	run_bounded "switching the tracer to $1 (echo $1 > current_tracer)" "$WAIT_LIMIT" \
		"$SCRATCH/tracer.out" write_tracer "$1"
}
stop_tracing() {
	[[ -e $TRACING/current_tracer ]] || return 0
	set_tracer nop
	echo >"$TRACING/set_graph_function"
	echo >"$TRACING/set_ftrace_filter"
}
trap 'stop_tracing; stop_loader; rm -rf "$WORK"' EXIT

helper_field() { sed -n "s/^$1: //p" "$SECFS/imasnap/state"; }
stats_field() { sed -n "s/^$1: //p" "$SECFS/imasnap/stats"; }

# hold_line NAME WHAT: one section's line of the helper's stats file
hold_line() {
	awk -v n="$(stats_field "$1_count")" -v m="$(stats_field "$1_max_ns")" \
		-v t="$(stats_field "$1_total_ns")" -v o="$(stats_field "$1_over_1ms")" \
		-v w="$(stats_field "$1_waited")" -v wm="$(stats_field "$1_waited_max_ns")" \
		-v what="$2" 'BEGIN {
		printf "  %-50s %6d holds, longest %8.1f us, mean %7.1f us, %d over 1 ms; %d with a writer waiting, longest of those %8.1f us\n",
			what, n, m / 1000, (n ? t / n / 1000 : 0), o, w, wm / 1000 }'
}

# the helper's timed sections since insmod (kernel-helper/stats.c)
print_holds() {
	echo "the helper's holds, timed in the kernel (imasnap/stats; trim_hold_us $(cat /sys/module/imasnap/parameters/trim_hold_us)):"
	hold_line trim "IMA's list mutex, unlinking a batch of a trim"
	hold_line tail "IMA's list mutex, a look at the tail (TPM checks)"
	hold_line unhashed "IMA's list mutex, the unhashed prefix (load)"
	hold_line recover "IMA's list mutex, the load's last entries"
	hold_line kexec_lock "the kexec lock (CONFIG_IMA_KEXEC kernels only)"
	hold_line append "IMA's own hold recording a snapshot_aggregate"
	echo "  (append is IMA's measurement of the record, across its TPM extend, as for any measurement; holds are wall time: an interrupt or the host descheduling the vCPU inside one counts)"
	echo "  TPM commands sent while the helper held IMA's list mutex: $(stats_field tpm_under_list_mutex) (goal: 0)"
}

# CPU seconds (user + system) of a running process
cpu_s() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / hz }' "/proc/$1/stat"
}

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
	GROW_MAX_KIB=0

	GROW_START_KIB=$(slab_kib)
	printf '%-8s %8s %12s %12s %14s %9s %15s\n' "$label" made "kernel list" "list bytes" \
		"SUnreclaim KiB" growth "list kmem KiB"
	printf '%-8s %8d %12s %12s %14d %9d %15s\n' "" 0 "$(list_entries)" "$(list_bytes)" \
		"$GROW_START_KIB" 0 "$(list_kmem_kib)"
	for ((i = 1; i <= CHUNKS; i++)); do
		run_bounded "$per measurements ($label, step $i of $CHUNKS)" "$WAIT_LIMIT" \
			"$SCRATCH/measure.out" "$MEASURE" -w "$WRITERS" -n "$per" "$WORK/c$i"
		[[ -z $LOADER_PID ]] || wait_stored
		GROW_END_KIB=$(slab_kib)
		((GROW_END_KIB - GROW_START_KIB <= GROW_MAX_KIB)) || GROW_MAX_KIB=$((GROW_END_KIB - GROW_START_KIB))
		printf '%-8s %8d %12s %12s %14d %9d %15s\n' "" $((i * per)) "$(list_entries)" \
			"$(list_bytes)" "$GROW_END_KIB" $((GROW_END_KIB - GROW_START_KIB)) "$(list_kmem_kib)"
		((i != CHUNKS / 2)) || GROW_HALF_KIB=$((GROW_END_KIB - GROW_START_KIB))
	done
}

# the helper's count of the kernel memory the list holds; - without it
list_kmem_kib() {
	if [[ -e $SECFS/imasnap/stats ]]; then echo $(($(stats_field kmem) / 1024)); else echo -; fi
}

list_bytes() { wc -c <"$SECFS/ima/binary_runtime_measurements"; }

# entries in the kernel's list (runtime_measurements_count counts trimmed
# ones too)
list_entries() {
	if [[ -e $SECFS/imasnap/state ]]; then helper_field entries; else kernel_count; fi
}

# function_graph on ima_add_template_entry and the helper's trim_entries,
# two levels. Only these and mutex_lock are patched (set_ftrace_filter):
# the rest of the kernel runs untraced, and switching the tracer on and off
# patches three call sites, not every function of the kernel. The first
# mutex_lock of ima_add_template_entry is its wait for ima_extend_list_mutex.
TRACED=(ima_add_template_entry trim_entries mutex_lock)
trace_start() {
	local f
	for f in "${TRACED[@]}"; do
		grep -qE "^$f( |$)" "$TRACING/available_filter_functions" ||
			{ note "FAILED: $f cannot be traced (not in available_filter_functions)"; exit 1; }
	done
	echo nop >"$TRACING/current_tracer"
	echo mono >"$TRACING/trace_clock"
	echo 8192 >"$TRACING/buffer_size_kb"
	echo "${TRACED[*]}" >"$TRACING/set_ftrace_filter"
	echo "${TRACED[0]} ${TRACED[1]}" >"$TRACING/set_graph_function"
	echo 2 >"$TRACING/max_graph_depth"
	for f in funcgraph-tail funcgraph-abstime funcgraph-proc; do
		echo 1 >"$TRACING/options/$f"
	done
	set_tracer function_graph
	cat "$TRACING/trace_pipe" >"$1" &
	TRACE_PID=$!
}

trace_stop() {
	sleep 1			# trace_pipe hands over what is buffered
	kill "$TRACE_PID"
	wait "$TRACE_PID" || true
	TRACE_PID=
	stop_tracing
}

# timed FILE CMD...: CMD, its wall time in seconds into FILE
timed() {
	local out=$1 t0 rc=0
	shift
	t0=$(now)
	"$@" || rc=$?
	awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f\n", b - a }' >"$out"
	return "$rc"
}

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

# stop_writers PID: ask, and wait (bounded) for them to finish their batch
stop_writers() {
	touch "$SCRATCH/stop"
	wait_until "the writers (pid $1) to finish their batch and stop" "$WAIT_LIMIT" \
		not_running "$1" || exit 1
	wait "$1"
}

# trace_max FILE [WINDOW]: from a function_graph trace, the writers'
# (comm "measure") ima_add_template_entry calls; with WINDOW, only those
# that overlap a call of the function WINDOW (start before its end, end
# after its start). Prints "calls longest_call_us longest_list_mutex_wait_us
# waits_over_1ms window_us" (window_us: the WINDOW call's duration, 0 without)
trace_max() {
	awk -F'|' -v win="${2:-}" '
		function us(s) { return match(s, /[0-9]+(\.[0-9]+)? us/) ? substr(s, RSTART, RLENGTH - 3) + 0 : -1 }
		NF < 4 { next }
		{
			t = $1 + 0; task = $2; sub(/^ *[0-9]+\) */, "", task); sub(/ *$/, "", task)
			# module functions are named "trim_entries [imasnap]"
			fn = $4; sub(/^ */, "", fn); gsub(/ \[[^]]*\]/, "", fn)
		}
		win != "" && fn == win "() {" { ws = t; next }
		win != "" && fn == "} /* " win " */" { we = t; wdur = us($3); next }
		task !~ /^measure-/ { next }
		fn == "ima_add_template_entry() {" { start[task] = t; lock[task] = -1; next }
		fn == "mutex_lock();" && (task in start) && lock[task] < 0 { lock[task] = us($3); next }
		fn == "} /* ima_add_template_entry */" && (task in start) {
			n++; cs[n] = start[task]; ce[n] = t; cd[n] = us($3); cl[n] = lock[task]
			delete start[task]
		}
		END {
			if (win != "" && we == "") { print "0 0 0 0 -1"; exit }
			for (i = 1; i <= n; i++) {
				if (win != "" && !(cs[i] < we && ce[i] > ws))
					continue
				m++
				if (cd[i] > call) call = cd[i]
				if (cl[i] > lk) lk = cl[i]
				if (cl[i] > 1000) slow++
			}
			printf "%d %.1f %.1f %d %.0f\n", m, call, lk, slow, (win != "" ? wdur : 0)
		}' "$1"
}

mount -t tracefs tracefs "$TRACING" 2>/dev/null || true
echo "trim benchmark: $ENTRIES measurements in $CHUNKS steps, $WRITERS writers"
store_fs_line

echo
echo "== 1. without imasnap"
grow without
slab0_kib=$GROW_START_KIB
growth_without=$((GROW_END_KIB - GROW_START_KIB))
half_without=$GROW_HALF_KIB

echo
echo "== 2. one snapshot trims the history while $STALL_WRITERS writer(s) measure"
insmod "$KO"
note "loader: catching up with the kernel's $(kernel_count) entries"
start_loader --snapshot-entries 0 --snapshot-bytes 0 --snapshot-kmem 0
wait_stored
before_kib=$(slab_kib)
before_entries=$(helper_field entries)

note "$BASE_SECONDS s of the writer(s) without a trim, traced"
trace_start "$SCRATCH/trace-base"
writers base &
load=$!
sleep "$BASE_SECONDS"
stop_writers "$load"
trace_stop
read -r base_n base_call base_lock base_slow _ < <(trace_max "$SCRATCH/trace-base")

note "the writer(s) again, traced; one imasnap snapshot after 2 s"
trace_start "$SCRATCH/trace-trim"
writers trim &
load=$!
sleep 2			# the writers are under way
run_bounded "imasnap snapshot (the loader compares store and list, the helper trims)" \
	"$WAIT_LIMIT" "$SCRATCH/snapshot.out" timed "$SCRATCH/snapshot.time" \
	"$CLI" snapshot --store "$STORE"
trimmed1=$(helper_field trimmed)
cp "$SECFS/imasnap/stats" "$SCRATCH/stats-trim"
sleep 2
stop_writers "$load"
trace_stop
read -r trim_n trim_call trim_lock trim_slow trim_us < <(trace_max "$SCRATCH/trace-trim" trim_entries)
read -r all_n all_call all_lock all_slow _ < <(trace_max "$SCRATCH/trace-trim")
# what the writers added during the trim goes too, so that the list is
# as short as at the start of step 1 when slab is compared
wait_stored
note "a second snapshot: what the writer(s) added meanwhile"
run_bounded "the second imasnap snapshot" "$WAIT_LIMIT" "$SCRATCH/snapshot2.out" \
	"$CLI" snapshot --store "$STORE"
wait_stored
after_kib=$(slab_kib)
after_entries=$(helper_field entries)
cat "$SCRATCH/snapshot.out" "$SCRATCH/snapshot2.out"

printf 'trimmed %d entries (list %d entries before, %d after a second snapshot)\n' \
	"$trimmed1" "$before_entries" "$after_entries"
echo "imasnap snapshot round trip: $(cat "$SCRATCH/snapshot.time") s (the loader commits, reads store and list and compares them in user space, then writes the trim file)"
if ((trim_us < 0)); then
	cp "$SCRATCH/trace-trim" "${IMASNAP_RESULTS:-/tmp}/trace-trim"
	echo "the helper's trim_entries call is not in the trace (kept as ${IMASNAP_RESULTS:-/tmp}/trace-trim): no window to compare"
else
	printf "the helper's part (trim_entries, inside the loader's write(2) to the trim file: find entry N, replay the cut into the base values, wait for list readers, append the snapshot_aggregate, unlink in batches of %s under IMA's list mutex, free): %.3f s\n" \
		"$(cat /sys/module/imasnap/parameters/trim_batch)" "$(awk -v u="$trim_us" 'BEGIN { print u / 1e6 }')"
fi
echo "ima_add_template_entry, $STALL_WRITERS writer(s), without a trim: $base_n calls, longest $base_call us, longest list-mutex wait $base_lock us, waits over 1 ms: $base_slow"
echo "ima_add_template_entry, $STALL_WRITERS writer(s), calls overlapping the helper's trim_entries: $trim_n calls, longest $trim_call us, longest list-mutex wait $trim_lock us, waits over 1 ms: $trim_slow (goal: none)"
echo "ima_add_template_entry, the whole traced trim run (2 s before the snapshot to 2 s after): $all_n calls, longest $all_call us, longest list-mutex wait $all_lock us, waits over 1 ms: $all_slow"
print_holds
echo "the writers' longest wait for IMA's list mutex while the helper trimmed: $trim_lock us (function_graph: mutex_lock's duration inside ima_add_template_entry, wall time, tracing overhead included)"
echo "slab (SUnreclaim) before the trim $before_kib KiB, after $after_kib KiB"
awk -v b="$before_kib" -v a="$after_kib" -v s0="$slab0_kib" 'BEGIN {
		held = b - s0
		printf "held by the list before the trim: %d KiB (vs the start of step 1); returned: %d KiB = %.1f%% (goal >= 95%%)\n",
			held, b - a, (held > 0 ? 100 * (b - a) / held : 0) }'
stop_loader

echo
echo "== 3. with imasnap's automatic policy (loader defaults)"
start_loader
wait_stored
first=$(status_field "store entries")
trims0=$(stats_field trims)
cpu0=$(cpu_s "$LOADER_PID")
grow with
trims=$(($(stats_field trims) - trims0))
cpu=$(awk -v a="$cpu0" -v b="$(cpu_s "$LOADER_PID")" 'BEGIN { printf "%.2f", b - a }')
stop_loader
read -r records aggs agg_bytes < <(python3 "$TREE/test/bench/logtool.py" aggregates \
	"$STORE/binary_runtime_measurements" "$first")
growth_with=$((GROW_END_KIB - GROW_START_KIB))
echo "SUnreclaim growth over $ENTRIES measurements: without imasnap $growth_without KiB ($half_without KiB at half way), with imasnap's default policy $growth_with KiB ($GROW_HALF_KIB KiB at half way; largest at any sample $GROW_MAX_KIB KiB; goal: at most 1024 KiB at any count)"
awk -v w="$growth_without" -v hw="$half_without" -v g="$growth_with" -v hg="$GROW_HALF_KIB" \
	-v gm="$GROW_MAX_KIB" -v n="$ENTRIES" 'BEGIN {
	sw = (w - hw) / (n / 2) * 100000; sg = (g - hg) / (n / 2) * 100000
	printf "slope over the second half, KiB per 100,000 measurements: without imasnap %.0f, with imasnap %.0f (sampling noise: the list is trimmed whenever it passes 3/4 of 1 MiB)\n", sw, sg
	printf "extrapolated to 1,000,000 measurements: without imasnap %.0f KiB; with imasnap the list stays under the budget at any count (largest growth sampled here %d KiB)\n",
		w + sw * (1000000 - n) / 100000, gm }'
echo "the default policy's cost per $ENTRIES measurements: $trims trims; $aggs snapshot_aggregate records, $agg_bytes bytes, in the store's $records records of this step; loader CPU $cpu s (user + system, the whole step)"
print_holds
