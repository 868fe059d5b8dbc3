#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Runs every libFuzzer target (built by `make fuzz` into .output/fuzz/) for a
# bounded time on a copy of its seed corpus test/fuzz/corpus/<name>/, two at
# a time (FUZZ_JOBS), and prints per target
#   fuzz_<name>: N execs, OK
# or the reproducer libFuzzer saved (.output/fuzz/artifacts/<name>/) and the
# end of its log (.output/fuzz/logs/<name>.log), then one line
#   fuzz: P passed, F failed
# Exits 1 if any target failed (a crash, a broken invariant, a leak, a
# timeout, a missing binary or no result).
#
#   test/fuzz/run.sh [SECONDS_PER_TARGET]      (default 20)
# Reproduce: .output/fuzz/fuzz_<name> FILE (FUZZ_VERBOSE=1 shows the
# library's messages).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
OUT=$TOP/.output/fuzz
SECONDS_PER_TARGET=${1:-20}
JOBS=${FUZZ_JOBS:-2}

[[ $SECONDS_PER_TARGET =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [SECONDS_PER_TARGET]" >&2; exit 2; }
# The targets write scratch files and fsync them: on tmpfs that costs nothing
shm=/dev/shm
[[ -d $shm && -w $shm ]] || shm=${TMPDIR:-/tmp}
SCRATCH=$(mktemp -d "$shm/imasnap-fuzz-run.XXXXXX") || exit 2
trap 'rm -rf "$SCRATCH"' EXIT
mkdir -p "$OUT/logs"

# One target: its result in $SCRATCH/<name>.result ("N execs, OK" or why not)
fuzz_one() {
	local name=$1 bin=$OUT/fuzz_$1 log=$OUT/logs/$1.log art=$OUT/artifacts/$1
	local corpus=$SCRATCH/corpus-$name rc runs repro

	if [[ ! -x $bin ]]; then
		echo "FAILED, no binary $bin (make fuzz)" >"$SCRATCH/$name.result"
		return
	fi
	mkdir -p "$corpus" "$SCRATCH/tmp-$name" "$art"
	[[ ! -d $HERE/corpus/$name ]] || cp "$HERE/corpus/$name"/* "$corpus"/ 2>/dev/null
	TMPDIR=$SCRATCH/tmp-$name "$bin" -max_total_time="$SECONDS_PER_TARGET" -timeout=5 \
		-rss_limit_mb=1024 -artifact_prefix="$art/" -print_final_stats=0 \
		"$corpus" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^Done \([0-9][0-9]*\) runs in .*/\1/p' "$log" | tail -n 1)
	repro=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
	if ((rc == 0)) && [[ -n $runs ]]; then
		echo "$runs execs, OK" >"$SCRATCH/$name.result"
	elif [[ -n $repro ]]; then
		echo "FAILED (exit $rc), reproducer ${repro#"$TOP/"}" >"$SCRATCH/$name.result"
	else
		echo "FAILED (exit $rc), no result; see ${log#"$TOP/"}" >"$SCRATCH/$name.result"
	fi
}

names=()
for src in "$HERE"/fuzz_*.c; do
	name=${src##*/fuzz_}
	names+=("${name%.c}")
done
running=0
for name in "${names[@]}"; do
	if ((running >= JOBS)); then
		wait -n
		running=$((running - 1))
	fi
	fuzz_one "$name" &
	running=$((running + 1))
done
wait

passed=0 failed=0
for name in "${names[@]}"; do
	result=$(cat "$SCRATCH/$name.result" 2>/dev/null || echo "FAILED, no result")
	echo "fuzz_$name: $result"
	if [[ $result == *", OK" ]]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		grep -E 'invariant failed|ERROR: |SUMMARY: |runtime error' "$OUT/logs/$name.log" 2>/dev/null |
			head -n 5 | sed 's/^/  /' >&2
	fi
done
echo "fuzz: $passed passed, $failed failed"
((failed == 0))
