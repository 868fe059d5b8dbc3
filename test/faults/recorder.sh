#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# recorder.sh PIPE OUT STOP: appends each count=N of the trace lines read
# from PIPE (a kprobe on the helper's persisted_set: the count the loader
# reports after each fdatasync) to OUT, one a line, until the file STOP
# exists; then writes STOP.done. OUT on the results share reaches the host
# at once (9p), so a power cut loses none of it.
pipe=$1 out=$2 stop=$3
while read -r line; do
	[[ -e $stop ]] && break
	[[ $line == *count=* ]] || continue
	echo "${line##*count=}" >>"$out"
done <"$pipe"
: >"$stop.done"
