#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Offline verification on the host, imasnap beside evmctl, in one run:
#
#   test/bench/verify.sh [ENTRIES]      (default 1000000; BENCH_RUNS=3)
#
# Makes two stores of ENTRIES records with test/bench/logtool.py make (one
# of ima-ng only; one of every template: ima, ima-ng, ima-sig, ima-buf and a
# custom one, with violations and a second PCR) and their PCR values per
# bank, computed by logtool.py apart from imasnap. Then, for each store and
# each bank set (sha1+sha256; sha1+sha256+sha384+sha512), runs
# `imasnap verify --store DIR --pcrs ...` and `evmctl ima_measurement
# --pcrs ...` BENCH_RUNS times each, alternating, and prints per tool the
# median wall time, its entries/s and bytes/s, the CPU time (user+sys; the
# machine may be shared, and wall time then says more about the others) and
# the peak RSS. Each run must succeed: a run that does not verify stops the
# benchmark. Last, export --store-only of the ima-ng store, binary and ascii,
# into a file beside it, against cat of the same store (the disk's speed).
# Needs python3, evmctl (ima-evm-utils, test/vm/deps.sh) and GNU time.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TREE=$(cd "$HERE/../.." && pwd)
ENTRIES=${1:-1000000}
RUNS=${BENCH_RUNS:-3}
CLI=$TREE/imasnap
TIME=/usr/bin/time

[[ $ENTRIES =~ ^[1-9][0-9]*$ && $RUNS =~ ^[1-9][0-9]*$ ]] ||
	{ echo "usage: $0 [ENTRIES] (BENCH_RUNS=N)" >&2; exit 2; }
for tool in python3 evmctl "$TIME" "$CLI"; do
	command -v "$tool" >/dev/null ||
		{ echo "verify.sh: $tool missing (make; test/vm/deps.sh install)" >&2; exit 2; }
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/imasnap-bench-verify.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

note() { printf '[%4d s] %s\n' "$SECONDS" "$*" >&2; }

# pcr_args TOOLSTORE BANKS...: --pcrs ALG,FILE for each bank
pcr_args() {
	local pcrs=$1 alg
	shift
	for alg; do
		printf -- '--pcrs\n%s,%s\n' "$alg" "$pcrs/$alg"
	done
}

# timed OUT CMD...: runs CMD under GNU time; OUT gets "wall cpu rss_kb"
timed() {
	local out=$1 rc=0
	shift
	"$TIME" -f '%e %U %S %M' -o "$out.time" "$@" >"$out.log" 2>&1 || rc=$?
	if ((rc != 0)); then
		echo "verify.sh: '$*' exited $rc:" >&2
		tail -5 "$out.log" >&2
		exit 1
	fi
	awk '{ printf "%s %.2f %s\n", $1, $2 + $3, $4 }' "$out.time" >"$out"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# row TOOL STORE BANKS RESULTS...: the median run's figures
row() {
	local tool=$1 store=$2 banks=$3 bytes wall cpu rss
	shift 3
	bytes=$(stat -c %s "$WORK/$store/binary_runtime_measurements")
	wall=$(cat "$@" | awk '{ print $1 }' | median)
	cpu=$(cat "$@" | awk '{ print $2 }' | median)
	rss=$(cat "$@" | awk '{ print $3 }' | sort -n | tail -1)
	awk -v t="$tool" -v s="$store" -v b="$banks" -v n="$ENTRIES" -v by="$bytes" \
		-v w="$wall" -v c="$cpu" -v r="$rss" 'BEGIN {
		if (w < 0.01) w = 0.01
		printf "%-8s %-7s %-27s %8.2f s %10.0f entries/s %7.1f MB/s %7.2f s cpu %7.1f MB rss\n",
			t, s, b, w, n / w, by / w / 1e6, c, r / 1024 }'
	echo "$wall" >"$WORK/wall-$tool-$store-${banks//+/-}"
}

for mix in ima-ng all; do
	note "making a $ENTRIES-entry store ($mix) and its PCR values (logtool.py make)"
	mkdir -p "$WORK/$mix"
	python3 "$HERE/logtool.py" make "$WORK/$mix/binary_runtime_measurements" "$ENTRIES" "$mix" \
		"$WORK/pcrs-$mix"
done

echo "offline verify of $ENTRIES entries, median of $RUNS runs each, $(nproc) CPUs" \
	"(load average $(cut -d' ' -f1-3 /proc/loadavg))"
for mix in ima-ng all; do
	for banks in "sha1 sha256" "sha1 sha256 sha384 sha512"; do
		mapfile -t args < <(pcr_args "$WORK/pcrs-$mix" $banks)
		name=${banks// /+}
		imasnap=() evm=()
		# evmctl takes no log that mixes the legacy ima template with
		# others, and at most two --pcrs files
		skip=
		[[ $mix == all ]] &&
			skip='"Mixed measurement list containing \"ima\" and other template formats not supported"'
		[[ $banks == *sha512 ]] && skip='"too many --pcrfile options" (evmctl takes two banks at most)'
		for ((i = 0; i < RUNS; i++)); do
			timed "$WORK/imasnap-$i" "$CLI" verify --store "$WORK/$mix" "${args[@]}"
			grep -q "^OK: store: entries 0..$ENTRIES replay" "$WORK/imasnap-$i.log"
			imasnap+=("$WORK/imasnap-$i")
			[[ -z $skip ]] || continue
			timed "$WORK/evmctl-$i" evmctl ima_measurement "${args[@]}" \
				"$WORK/$mix/binary_runtime_measurements"
			evm+=("$WORK/evmctl-$i")
		done
		row imasnap "$mix" "$name" "${imasnap[@]}"
		if ((${#evm[@]})); then
			row evmctl "$mix" "$name" "${evm[@]}"
		else
			printf '%-8s %-7s %-27s n/a: %s\n' evmctl "$mix" "$name" "$skip"
		fi
	done
done
awk -v a="$(cat "$WORK/wall-imasnap-ima-ng-sha1-sha256")" \
	-v b="$(cat "$WORK/wall-evmctl-ima-ng-sha1-sha256")" 'BEGIN {
	if (a < 0.01) a = 0.01
	printf "goal (ima-ng, sha1+sha256): imasnap at most 1/3 of evmctl'"'"'s time: %.2f s vs %.2f s, %.1fx: %s\n",
		a, b, b / a, (b / a >= 3) ? "met" : "NOT met" }'

store=$WORK/ima-ng/binary_runtime_measurements
bytes=$(stat -c %s "$store")
for what in cat binary ascii; do
	walls=()
	for ((i = 0; i < RUNS; i++)); do
		case $what in
		cat) cmd=(sh -c 'cat "$1" >"$2"' - "$store" "$WORK/out") ;;
		*) cmd=(sh -c '"$1" export --store-only --store "$2" --format "$3" >"$4"' -
			"$CLI" "$WORK/ima-ng" "$what" "$WORK/out") ;;
		esac
		timed "$WORK/export-$i" "${cmd[@]}"
		walls+=("$(awk '{ print $1 }' "$WORK/export-$i")")
	done
	out=$(stat -c %s "$WORK/out")
	rm -f "$WORK/out"
	printf '%s\n' "${walls[@]}" | median | awk -v w="$what" -v by="$bytes" -v o="$out" '{
		t = $1 < 0.01 ? 0.01 : $1
		printf "export  %-7s %8.2f s %7.1f MB/s of store read, %7.1f MB/s written (%d bytes)\n",
			w == "cat" ? "(cat)" : w, $1, by / t / 1e6, o / t / 1e6, o }'
done
