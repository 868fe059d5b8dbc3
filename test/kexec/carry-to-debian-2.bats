#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-only
#
# Boot 2 of the chain of carry-to-debian-1.bats: Debian's kernel, with the
# CONFIG_IMA_KEXEC kernel's list carried over at the head of its own. The
# helper counts the carried entries at load and a trim through them and into
# this kernel's own entries unlinks each the right way: the carried ones from
# the list only (an hlist_del_rcu through their uninitialized hash link
# oopsed under IMA's mutex), the others from the hash table too.

load kexec

CHECKER=$TREE/test/tools/imasnap-check.py

@test "carry to Debian, boot 2: the carried entries are counted at load, trimmed through, and the helper reloads" {
	local carried n log
	has_ima_kexec && { echo "this boot should run Debian's kernel"; false; }
	carried=$(wc -l <"$PERSIST/carried.ascii")
	# the carried list is the head of this kernel's
	diff <(cut -d' ' -f2 "$PERSIST/carried.ascii") \
		<(head -n "$carried" "$IMA_DIR/ascii_runtime_measurements" | cut -d' ' -f2)
	kmsg_mark
	insmod "$KO"
	log=$(dmesg_since_mark)
	echo "$log" | grep imasnap
	grep -q "the list's first $carried entries were carried over kexec" <<<"$log"
	measure_files 3 "$(tmpfs_dir)"
	# through every carried entry and two of this kernel's (hashed) ones
	n=$((carried + 2))
	[ "$(python3 "$CHECKER" trim "$n" "$(sed -n "${n}p" "$IMA_DIR/ascii_runtime_measurements" | cut -d' ' -f2)" auto)" = OK ]
	python3 "$CHECKER" replay
	rmmod imasnap
	insmod "$KO"
	# nothing carried is left at the head now
	log=$(dmesg_since_mark)
	[ "$(grep -c 'carried over kexec' <<<"$log")" -eq 1 ]
	measure_files 2 "$(tmpfs_dir)"
	n=2
	[ "$(python3 "$CHECKER" trim "$n" "$(sed -n "${n}p" "$IMA_DIR/ascii_runtime_measurements" | cut -d' ' -f2)" auto)" = OK ]
	python3 "$CHECKER" replay
	rmmod imasnap
	log=$(dmesg_since_mark)
	run grep -E 'WARNING:|BUG:|Oops|corruption|general protection|Call Trace:' <<<"$log"
	[ "$status" -eq 1 ]
}
