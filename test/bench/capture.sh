#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Capture benchmark, run inside the test guest:
#   test/vm/run.sh --script test/bench/capture.sh
# A measurement-heavy workload (FILES distinct files read by WRITERS
# processes) timed with and without imasnap-load attached, ROUNDS rounds in
# alternating order; prints the median time ratio, the capture rate, entries
# lost, the loader's peak RSS and store bytes per entry.
set -euo pipefail

TREE=${IMASNAP_TREE:?run inside the test guest}
FILES=${FILES:-10000}
WRITERS=${WRITERS:-4}
ROUNDS=${ROUNDS:-5}
MEASURE=$TREE/.output/measure
WORK=$(mktemp -d /tmp/bench.XXXXXX)		# tmpfs: measured
# ramfs (the guest's TMPDIR), not measured: a store on tmpfs would make every
# status poll an open_writers violation, i.e. a new entry, and lag never 0
STORE=$(mktemp -d "${TMPDIR:-/run/imasnap-bats}/bench-store.XXXXXX")
KLOG=/sys/kernel/security/ima/binary_runtime_measurements
# shellcheck source=test/bench/lib.bash
. "$TREE/test/bench/lib.bash"
trap 'stop_loader; rm -rf "$WORK"' EXIT

# CPU seconds (user + system) the loader has used so far
loader_cpu() {
	awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$LOADER_PID/stat"
}

# times the loader went to sleep and was woken so far
loader_wakeups() {
	awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$LOADER_PID/status"
}

# the capture program's own time (it runs under IMA's list mutex): the
# kernel counts it with bpf_stats on
bpf_ns_per_run() {
	bpftool -j prog show pinned /sys/fs/bpf/imasnap/capture_entry |
		python3 -c 'import json, sys; p = json.load(sys.stdin); print("%.0f" % (p["run_time_ns"] / max(p["run_cnt"], 1)))'
}
sysctl -qw kernel.bpf_stats_enabled=1

echo "capture benchmark: $FILES files, $WRITERS writers, $ROUNDS rounds"
ratios=() rates=() cpus=() bpfns=() peak=0
for ((r = 1; r <= ROUNDS; r++)); do
	declare -A t=()
	# alternate the order so that drift does not favour one side
	if ((r % 2)); then order="off on"; else order="on off"; fi
	for mode in $order; do
		if [[ $mode == on ]]; then
			start_loader --snapshot-entries 0 --snapshot-bytes 0
			cpu0=$(loader_cpu) wake0=$(loader_wakeups)
		fi
		t0=$(now)
		t[$mode]=$("$MEASURE" -w "$WRITERS" -n "$FILES" "$WORK/r$r-$mode")
		if [[ $mode == on ]]; then
			# captured: every entry durable in the store (lag 0)
			wait_lag0
			rates+=("$(awk -v n="$FILES" -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.0f", n / (b - a) }')")
			rss=$(awk '/VmHWM/ { print $2 }' "/proc/$LOADER_PID/status")
			cpu=$(awk -v a="$cpu0" -v b="$(loader_cpu)" 'BEGIN { printf "%.2f", b - a }')
			wakeups=$(($(loader_wakeups) - wake0))
			repairs=$(status_field repairs)
			bpf_ns=$(bpf_ns_per_run)
			cpus+=("$cpu") bpfns+=("$bpf_ns")
			((rss > peak)) && peak=$rss
			stop_loader
		fi
	done
	ratio=$(awk -v a="${t[on]}" -v b="${t[off]}" 'BEGIN { printf "%.4f", a / b }')
	ratios+=("$ratio")
	echo "round $r: without ${t[off]} s, with ${t[on]} s, ratio $ratio, captured ${rates[-1]} entries/s, loader CPU $cpu s, $wakeups loader wakeups, capture program ${bpf_ns} ns per entry, repairs so far $repairs"
	rm -rf "$WORK"/r"$r"-*
done

# lost: entries the kernel listed that the store does not hold, byte for byte
start_loader --snapshot-entries 0 --snapshot-bytes 0
wait_lag0
stop_loader
kernel=$(wc -c <"$KLOG")
store=$(stat -c %s "$STORE/binary_runtime_measurements")
cat "$KLOG" >"$STORE.klog"
if cmp -s "$STORE/binary_runtime_measurements" "$STORE.klog"; then
	lost=0
else
	lost="MISMATCH ($store of $kernel bytes; $(cmp "$STORE/binary_runtime_measurements" "$STORE.klog" 2>&1 | head -1))"
	# for a look on the host
	cp "$STORE/binary_runtime_measurements" "${IMASNAP_RESULTS:-/tmp}/store.bin"
	cp "$STORE.klog" "${IMASNAP_RESULTS:-/tmp}/kernel.bin"
fi
entries=$("$TREE/imasnap" status --store "$STORE" | sed -n 's/^store entries: //p')

echo "median time ratio (with/without): $(median "${ratios[@]}") (goal <= 1.03)"
echo "entries captured per second (median): $(median "${rates[@]}")"
echo "loader CPU per round (median): $(median "${cpus[@]}") s; capture program per entry (median): $(median "${bpfns[@]}") ns"
echo "entries lost: $lost"
echo "loader peak RSS: $peak KiB"
echo "store bytes per entry: $(awk -v s="$store" -v n="$entries" 'BEGIN { printf "%.1f", s / n }') ($entries entries, $store bytes)"
