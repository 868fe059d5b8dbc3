#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# writer.sh DIR LIST: measures new files in DIR (tmpfs, measured by the test
# guest's policy) one after another until killed, or until the kernel stops
# measuring (the helper's reboot notifier: the read then never returns), and
# appends each file's name to LIST once its read, and so its measurement,
# has returned. Shell builtins only: no exec per file under TCG.
# writer.sh DIR LIST MARK: once the file MARK exists (the host test bed's
# runner creates it when it starts the next boot), name the files s<N>
# instead of w<N>, so that the store shows what was measured during shutdown.
dir=$1 list=$2 mark=${3:-} p=w
mkdir -p "$dir" || exit 1
for ((i = 0; ; i++)); do
	[[ $p == s || -z $mark || ! -e $mark ]] || p=s
	f=$dir/$p$i
	echo "$RANDOM $i" >"$f"
	read -r _ <"$f"
	echo "$f" >>"$list"
done
