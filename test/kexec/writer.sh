#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# writer.sh DIR LIST: measures new files in DIR (tmpfs, measured by the test
# guest's policy) one after another until killed, or until the kernel stops
# measuring (the helper's reboot notifier: the read then never returns), and
# appends each file's name to LIST once its read, and so its measurement,
# has returned. Shell builtins only: no exec per file under TCG.
dir=$1 list=$2
mkdir -p "$dir" || exit 1
for ((i = 0; ; i++)); do
	f=$dir/w$i
	echo "$RANDOM $i" >"$f"
	read -r _ <"$f"
	echo "$f" >>"$list"
done
