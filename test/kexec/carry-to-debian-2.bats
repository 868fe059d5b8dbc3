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

@test "carry to Debian, boot 2: a trim through the carried entries unlinks them without an oops, and the helper reloads" {
	local carried n log
	has_ima_kexec && { echo "this boot should run Debian's kernel"; false; }
	carried=$(wc -l <"$PERSIST/carried.ascii")
	# the carried list is the head of this kernel's
	diff <(cut -d' ' -f2 "$PERSIST/carried.ascii") \
		<(head -n "$carried" "$IMA_DIR/ascii_runtime_measurements" | cut -d' ' -f2)
	kmsg_mark >/dev/null
	insmod "$KO"
	measure_files 3 "$(tmpfs_dir)"
	# through every carried entry and two of this kernel's (hashed) ones
	# (the two-field trim, which every version of the helper takes)
	n=$((carried + 2))
	[ "$(python3 "$CHECKER" trim "$n" "$(sed -n "${n}p" "$IMA_DIR/ascii_runtime_measurements" | cut -d' ' -f2)")" = OK ]
	rmmod imasnap
	insmod "$KO"
	# this kernel's own entries only now: hashed, unlinked from the table too
	measure_files 2 "$(tmpfs_dir)"
	n=2
	[ "$(python3 "$CHECKER" trim "$n" "$(sed -n "${n}p" "$IMA_DIR/ascii_runtime_measurements" | cut -d' ' -f2)")" = OK ]
	rmmod imasnap
	log=$(kmsg_since)
	echo "$log" | grep imasnap
	run grep -E 'WARNING:|BUG:|Oops|corruption|general protection|Call Trace:' <<<"$log"
	[ "$status" -eq 1 ]
	# the first load counted the carried entries, the second found none
	[ "$(grep -c "the list's first $carried entries were carried over kexec" <<<"$log")" -eq 1 ]
	[ "$(grep -c 'carried over kexec' <<<"$log")" -eq 1 ]
	# (no replay against the TPM here: Debian's kernel recomputes the carried
	# entries' sha384/sha512 digests differently from the kernel that
	# extended them, so those banks cannot replay across this kexec)
}
