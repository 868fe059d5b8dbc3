#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Runs each unit-test binary, sums the "N passed, N failed" line each one
# prints last, and ends with "unit: N passed, N failed". A binary that exits
# non-zero without reporting failures (a crash, a missing binary) counts as
# one failure, so nothing fails silently. --label NAME ends with "NAME: ..."
# instead (the sanitizer build's "san: N passed, N failed").

label=unit
if [ "$1" = --label ]; then
	label=$2
	shift 2
fi
passed=0
failed=0
for test in "$@"; do
	out=$("$test")
	rc=$?
	printf '%s\n' "$out" | sed "s|^|$(basename "$test"): |"
	counts=$(printf '%s\n' "$out" | tail -n 1 |
		 sed -n 's/^\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed$/\1 \2/p')
	if [ -z "$counts" ]; then
		echo "$(basename "$test"): no result line (exit status $rc)" >&2
		failed=$((failed + 1))
		continue
	fi
	p=${counts% *}
	f=${counts#* }
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "$(basename "$test"): exit status $rc" >&2
		failed=$((failed + 1))
	fi
done
echo "$label: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
