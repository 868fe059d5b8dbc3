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
LOADER_PID=

stop_loader() {
	[[ -z $LOADER_PID ]] && return 0
	kill -TERM "$LOADER_PID"
	wait "$LOADER_PID"
	LOADER_PID=
}
trap 'stop_loader; rm -rf "$WORK"' EXIT

start_loader() {
	"$TREE/imasnap-load" --store "$STORE" --snapshot-entries 0 --snapshot-bytes 0 \
		>>"$STORE.log" 2>&1 &
	LOADER_PID=$!
	until [[ $(grep -c "following IMA" "$STORE.log") -ge $1 ]]; do
		kill -0 "$LOADER_PID"
		sleep 0.1
	done
}

lag() {
	"$TREE/imasnap" status --store "$STORE" | sed -n 's/^lag: //p'
}

now() { date +%s.%N; }

echo "capture benchmark: $FILES files, $WRITERS writers, $ROUNDS rounds"
ratios=() rates=() peak=0 starts=0
for ((r = 1; r <= ROUNDS; r++)); do
	declare -A t=()
	# alternate the order so that drift does not favour one side
	if ((r % 2)); then order="off on"; else order="on off"; fi
	for mode in $order; do
		if [[ $mode == on ]]; then
			starts=$((starts + 1))
			start_loader "$starts"
		fi
		t0=$(now)
		t[$mode]=$("$MEASURE" -w "$WRITERS" -n "$FILES" "$WORK/r$r-$mode")
		if [[ $mode == on ]]; then
			# captured: every entry durable in the store (lag 0)
			# status parses both logs: poll it sparingly, it costs guest CPU
			until [[ $(lag) == 0 ]]; do sleep 0.5; done
			rates+=("$(awk -v n="$FILES" -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.0f", n / (b - a) }')")
			rss=$(awk '/VmHWM/ { print $2 }' "/proc/$LOADER_PID/status")
			((rss > peak)) && peak=$rss
			stop_loader
		fi
	done
	ratio=$(awk -v a="${t[on]}" -v b="${t[off]}" 'BEGIN { printf "%.4f", a / b }')
	ratios+=("$ratio")
	echo "round $r: without ${t[off]} s, with ${t[on]} s, ratio $ratio, captured ${rates[-1]} entries/s"
	rm -rf "$WORK"/r"$r"-*
done

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# lost: entries the kernel listed that the store does not hold, byte for byte
start_loader $((starts + 1))
until [[ $(lag) == 0 ]]; do sleep 0.5; done
stop_loader
kernel=$(wc -c <"$KLOG")
store=$(stat -c %s "$STORE/binary_runtime_measurements")
if cmp -s "$STORE/binary_runtime_measurements" "$KLOG"; then lost=0; else lost="MISMATCH ($store of $kernel bytes)"; fi
entries=$("$TREE/imasnap" status --store "$STORE" | sed -n 's/^store entries: //p')

echo "median time ratio (with/without): $(median "${ratios[@]}") (goal <= 1.03)"
echo "entries captured per second (median): $(median "${rates[@]}")"
echo "entries lost: $lost"
echo "loader peak RSS: $peak KiB"
echo "store bytes per entry: $(awk -v s="$store" -v n="$entries" 'BEGIN { printf "%.1f", s / n }') ($entries entries, $store bytes)"
