#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Capture benchmark, run inside the test guest:
#   test/vm/run.sh --script test/bench/capture.sh [--env FILES=N ...]
# A measurement-heavy workload (FILES distinct files read by WRITERS
# processes) timed with and without imasnap-load, ROUNDS rounds in
# alternating order. With the loader, it is attached (and has caught up
# with the kernel's list) before the workload starts; per round:
#   - IMA's measurement rate: entries of the workload per second of it,
#     with and without the loader (set by IMA and the emulated TPM);
#   - the loader's CPU time (utime + stime, /proc/PID/stat) per entry;
#   - loss: ring drops, gaps the loader repaired from the kernel's list
#     (counted in its loader.state), and the entries of the round that the
#     store lacks or holds with other bytes once the loader has caught up,
#     checked before it is stopped (a stop drains the kernel's list).
# One more round with the loader, not timed against a run without it,
# traces the loader's persist latency: from IMA adding an entry to its list
# (kprobe on ima_add_digest_entry) to the end of the loader's fdatasync that
# made it durable (its pwrite64 and fdatasync syscalls).
#
# The store is on a real disk by default: ext4, made afresh on the virtio
# disk test/vm/run.sh attaches to every boot (/dev/vda, cache=none: an
# fdatasync reaches the host's file), so the figures include durability.
# (IMA measures root's reads of the store there: a status or a comparison
# while the loader writes adds an open_writers violation, outside the timed
# workload.) IMASNAP_BENCH_STORE=DIR: a new directory under DIR instead;
# IMASNAP_BENCH_STORE=ram: the guest's ramfs ($TMPDIR), where fdatasync
# costs nothing. The file system the store is on is printed.
set -euo pipefail

TREE=${IMASNAP_TREE:?run inside the test guest}
FILES=${FILES:-10000}
WRITERS=${WRITERS:-4}
ROUNDS=${ROUNDS:-5}
# more loader options, e.g. "--ring-size 4096": a ring too small for the
# workload, to see drops and repairs counted
read -ra LOADER_ARGS <<<"${LOADER_ARGS:-}"
MEASURE=$TREE/.output/measure
LOGTOOL=$TREE/test/bench/logtool.py
WORK=$(mktemp -d /tmp/bench.XXXXXX)		# tmpfs: measured
# ramfs (the guest's TMPDIR), not measured: the loader's log, traces
SCRATCH=$(mktemp -d "${TMPDIR:-/run/imasnap-bats}/bench-capture.XXXXXX")
LOADER_LOG=$SCRATCH/loader.log
KLOG=/sys/kernel/security/ima/binary_runtime_measurements
# shellcheck source=test/bench/lib.bash
. "$TREE/test/bench/lib.bash"
BENCH_DISK=/dev/vda
DISK_MNT=
case ${IMASNAP_BENCH_STORE:-disk} in
disk)
	[[ -b $BENCH_DISK ]] || {
		echo "no $BENCH_DISK (run.sh attaches it unless --no-disk): set IMASNAP_BENCH_STORE=ram or =DIR" >&2
		exit 1
	}
	DISK_MNT=$(mktemp -d /run/bench-disk.XXXXXX)
	mkfs.ext4 -q -F "$BENCH_DISK"
	mount -t ext4 "$BENCH_DISK" "$DISK_MNT"
	IMASNAP_BENCH_STORE=$DISK_MNT
	;;
ram) IMASNAP_BENCH_STORE= ;;
esac
STORE=$(bench_store_dir capture)
LAT_PID=
trap 'latency_trace_stop; stop_loader; rm -rf "$WORK"; [[ -z $DISK_MNT ]] || umount "$DISK_MNT"' EXIT

# CPU seconds (user + system) the loader has used so far
loader_cpu() {
	awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$LOADER_PID/stat"
}

# times the loader went to sleep and was woken so far
loader_wakeups() {
	awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$LOADER_PID/status"
}

# the loader's counters (loader.state, saved when it stops): "drops
# repairs repaired truncated"
loader_counters() {
	local f=$STORE/loader.state
	[[ -f $f ]] || { echo 0 0 0 0; return; }
	awk -F': ' '{ v[$1] = $2 } END { printf "%d %d %d %d\n", v["drops"], v["repairs"], v["repaired"], v["truncated"] }' "$f"
}

# the capture program's own time (it runs under IMA's list mutex): the
# kernel counts it with bpf_stats on
bpf_ns_per_run() {
	bpftool -j prog show pinned /sys/fs/bpf/imasnap/capture_entry |
		python3 -c 'import json, sys; p = json.load(sys.stdin); print("%.0f" % (p["run_time_ns"] / max(p["run_cnt"], 1)))'
}

# latency_trace_start FILE: ftrace into FILE: IMA adding each entry (with
# its index) and the loader's pwrite64 on the store and fdatasync; false
# (LAT_WHY says why) where the kernel does not offer these events
LAT_EVENTS=(syscalls/sys_enter_pwrite64 syscalls/sys_exit_fdatasync)
latency_trace_start() {
	local f fd='' log
	log=$(realpath "$STORE")/binary_runtime_measurements
	for f in /proc/"$LOADER_PID"/fd/*; do
		[[ $(readlink "$f") == "$log" ]] && fd=${f##*/}
	done
	[[ -n $fd ]] || { LAT_WHY="the loader's store descriptor was not found"; return 1; }
	mount -t tracefs tracefs "$TRACING" 2>/dev/null || true
	for f in "${LAT_EVENTS[@]}"; do
		[[ -d $TRACING/events/$f ]] || { LAT_WHY="no $f trace event"; return 1; }
	done
	echo nop >"$TRACING/current_tracer"
	echo mono >"$TRACING/trace_clock"	# one clock for all CPUs
	echo 8192 >"$TRACING/buffer_size_kb"
	if ! echo 'p:imasnap_bench/add ima_add_digest_entry idx=@ima_htable:u64' \
		>>"$TRACING/kprobe_events"; then
		LAT_WHY="no kprobe on ima_add_digest_entry with @ima_htable"
		return 1
	fi
	echo "common_pid == $LOADER_PID && fd == $fd" >"$TRACING/events/${LAT_EVENTS[0]}/filter"
	echo "common_pid == $LOADER_PID" >"$TRACING/events/${LAT_EVENTS[1]}/filter"
	echo >"$TRACING/trace"
	for f in imasnap_bench/add "${LAT_EVENTS[@]}"; do
		echo 1 >"$TRACING/events/$f/enable"
	done
	cat "$TRACING/trace_pipe" >"$1" &
	LAT_PID=$!
}

latency_trace_stop() {
	local f
	[[ -n $LAT_PID ]] || return 0
	sleep 1			# trace_pipe hands over what is buffered
	kill "$LAT_PID"
	wait "$LAT_PID" || true
	LAT_PID=
	for f in imasnap_bench/add "${LAT_EVENTS[@]}"; do
		echo 0 >"$TRACING/events/$f/enable"
	done
	for f in "${LAT_EVENTS[@]}"; do
		echo 0 >"$TRACING/events/$f/filter"
	done
	echo '-:imasnap_bench/add' >>"$TRACING/kprobe_events"
	echo local >"$TRACING/trace_clock"
}

# round_with_loader OUTDIR [trace]: the workload with the loader attached
# first; sets t_on, n_on, cpu, wakeups, bpf_ns, rss and the loss figures
round_with_loader() {
	local dir=$1 trace=${2:-} c0 c1 cpu0 wake0 d0 r0 rd0 tr0 d1 r1 rd1 tr1 traced=
	read -r d0 r0 rd0 tr0 < <(loader_counters)
	start_loader --snapshot-entries 0 --snapshot-bytes 0 --snapshot-kmem 0 "${LOADER_ARGS[@]}"
	if [[ -n $trace ]] && latency_trace_start "$SCRATCH/latency.trace"; then
		traced=1
	fi
	cpu0=$(loader_cpu) wake0=$(loader_wakeups) c0=$(kernel_count)
	run_bounded "the workload ($FILES files, $WRITERS writers, loader attached)" \
		"$WAIT_LIMIT" "$SCRATCH/measure.out" "$MEASURE" -w "$WRITERS" -n "$FILES" "$dir"
	t_on=$(cat "$SCRATCH/measure.out")
	c1=$(kernel_count)
	n_on=$((c1 - c0))
	# caught up: every entry of the round durable in the store; a loader
	# that cannot catch up is reported below as entries the store lacks
	wait_until "the loader to store the kernel's first $c1 entries" \
		"$WAIT_LIMIT" stored_upto "$c1" || true
	cpu=$(awk -v a="$cpu0" -v b="$(loader_cpu)" 'BEGIN { printf "%.2f", b - a }')
	wakeups=$(($(loader_wakeups) - wake0))
	bpf_ns=$(bpf_ns_per_run)
	rss=$(awk '/VmHWM/ { print $2 }' "/proc/$LOADER_PID/status")
	[[ -z $traced ]] || latency_trace_stop
	# each read(2) of the list walks it from its head: long for long lists
	run_bounded "reading the kernel's list" "$WAIT_LIMIT" "$SCRATCH/klog" cat "$KLOG"
	read -r lacks differs < <(python3 "$LOGTOOL" missing \
		"$STORE/binary_runtime_measurements" "$SCRATCH/klog" "$c0" "$c1")
	stop_loader
	read -r d1 r1 rd1 tr1 < <(loader_counters)
	drops=$((d1 - d0)) repairs=$((r1 - r0)) repaired=$((rd1 - rd0)) oversized=$((tr1 - tr0))
	if [[ -n $traced ]]; then
		read -r lat_n lat_med lat_p99 lat_max lat_unmatched < <(python3 "$LOGTOOL" latency \
			"$STORE/binary_runtime_measurements" "$SCRATCH/latency.trace" "$c0")
		lat_lost=$(grep -c 'LOST.*EVENTS' "$SCRATCH/latency.trace" || true)
	fi
}

sysctl -qw kernel.bpf_stats_enabled=1

echo "capture benchmark: $FILES files, $WRITERS writers, $ROUNDS rounds${LOADER_ARGS[*]:+, loader options ${LOADER_ARGS[*]}}"
store_fs_line
ratios=() rates_off=() rates_on=() cpus_us=() bpfns=() peak=0
sum_drops=0 sum_repairs=0 sum_repaired=0 sum_oversized=0 sum_lacks=0 sum_differs=0 sum_n=0
for ((r = 1; r <= ROUNDS; r++)); do
	declare -A t=() n=()
	# alternate the order so that drift does not favour one side
	if ((r % 2)); then order="off on"; else order="on off"; fi
	for mode in $order; do
		if [[ $mode == on ]]; then
			round_with_loader "$WORK/r$r-on"
			t[on]=$t_on n[on]=$n_on
		else
			c0=$(kernel_count)
			run_bounded "the workload ($FILES files, $WRITERS writers, no loader)" \
				"$WAIT_LIMIT" "$SCRATCH/measure.out" \
				"$MEASURE" -w "$WRITERS" -n "$FILES" "$WORK/r$r-off"
			t[off]=$(cat "$SCRATCH/measure.out") n[off]=$(($(kernel_count) - c0))
		fi
	done
	ratio=$(awk -v a="${t[on]}" -v b="${t[off]}" 'BEGIN { printf "%.4f", a / b }')
	ratios+=("$ratio")
	rates_off+=("$(awk -v n="${n[off]}" -v s="${t[off]}" 'BEGIN { printf "%.0f", n / s }')")
	rates_on+=("$(awk -v n="${n[on]}" -v s="${t[on]}" 'BEGIN { printf "%.0f", n / s }')")
	cpu_us=$(awk -v c="$cpu" -v n="${n[on]}" 'BEGIN { printf "%.0f", 1e6 * c / n }')
	cpus_us+=("$cpu_us") bpfns+=("$bpf_ns")
	((rss > peak)) && peak=$rss
	sum_drops=$((sum_drops + drops)) sum_repairs=$((sum_repairs + repairs))
	sum_repaired=$((sum_repaired + repaired)) sum_oversized=$((sum_oversized + oversized))
	sum_lacks=$((sum_lacks + lacks)) sum_differs=$((sum_differs + differs))
	sum_n=$((sum_n + n[on]))
	echo "round $r: without ${t[off]} s, with ${t[on]} s, ratio $ratio; IMA's rate ${rates_off[-1]} / ${rates_on[-1]} entries/s (without / with); loader CPU $cpu s for ${n[on]} entries = $cpu_us us/entry, $wakeups wakeups; capture program $bpf_ns ns/entry; ring drops $drops, gaps repaired $repairs ($repaired entries), store lacks $lacks, differs $differs"
	rm -rf "$WORK"/r"$r"-*
done

note "persist latency round: the workload once more with the loader, traced"
lat_n=0 LAT_WHY=
round_with_loader "$WORK/latency" trace
rm -rf "$WORK/latency"
sum_drops=$((sum_drops + drops)) sum_repairs=$((sum_repairs + repairs))
sum_repaired=$((sum_repaired + repaired)) sum_oversized=$((sum_oversized + oversized))
sum_lacks=$((sum_lacks + lacks)) sum_differs=$((sum_differs + differs))
sum_n=$((sum_n + n_on))

size=$(stat -c %s "$STORE/binary_runtime_measurements")
entries=$(status_field "store entries")

echo "median time ratio (with/without): $(median "${ratios[@]}") (goal <= 1.03)"
echo "IMA's measurement rate in this workload (entries/s, median; set by IMA and the emulated TPM, not by the loader): without the loader $(median "${rates_off[@]}"), with it $(median "${rates_on[@]}")"
echo "loader CPU time (utime + stime, /proc/PID/stat, 10 ms ticks) per entry, median of the rounds: $(median "${cpus_us[@]}") us"
echo "capture program (BPF, under IMA's list mutex) per entry, median: $(median "${bpfns[@]}") ns"
echo "loss, $((ROUNDS + 1)) rounds with the loader attached before the workload ($sum_n entries): ring drops $sum_drops; gaps the loader repaired from the kernel's list $sum_repairs ($sum_repaired entries); oversized entries read from the list by design $sum_oversized; entries the store lacks once caught up (before the stop) $sum_lacks, holds with other bytes $sum_differs"
if [[ -n $LAT_WHY ]]; then
	echo "loader persist latency: not measured ($LAT_WHY)"
else
	echo "loader persist latency (IMA adds the entry to its list -> end of the loader's fdatasync that made it durable; $lat_n of $n_on entries of the traced round, $lat_unmatched unmatched, $lat_lost trace-loss notes): median $lat_med ms, p99 $lat_p99 ms, max $lat_max ms (the loader commits 50 ms after the first entry of a batch: later entries of a batch wait less)"
fi
echo "loader peak RSS: $peak KiB"
echo "store bytes per entry: $(awk -v s="$size" -v n="$entries" 'BEGIN { printf "%.1f", s / n }') ($entries entries, $size bytes)"
