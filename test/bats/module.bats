#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-only
#
# The kernel helper (kernel-helper/imasnap.ko) on the test guest's kernel:
# load and unload, refused trims, real trims and their snapshot_aggregate,
# replay against the TPM, readers, reload. Each test loads the module itself
# and unloads it in teardown. Trims change the kernel's list for the rest of
# the boot: later suites that replay the kernel list from zero will not match
# the TPM any more (replay it from the last snapshot_aggregate instead).
#
# Run alone with: test/vm/run.sh test/bats/module.bats

load helpers
load module-helpers

# a "key: value" line of the helper's stats file (kernel-helper/stats.c)
stats_value() {
	sed -n "s/^$1: //p" "$SNAP/stats"
}

# trim_checked N: trims the first N entries through the control file (naming
# entry N's digest) and checks, against copies of the list and the state
# taken before and after, that exactly those went, a snapshot_aggregate
# came and the state moved with them
trim_checked() {
	local n=$1 d=$BATS_TEST_TMPDIR
	cp "$BIN" "$d/old"
	checker state-dump "$d/st-old"
	[ "$(checker trim "$n" "$(nth_digest "$n")")" = OK ]
	cp "$BIN" "$d/new"
	checker state-dump "$d/st-new"
	checker check-trim "$d/old" "$d/new" "$n" "$d/st-old" "$d/st-new"
}

setup() {
	helper_setup
}

teardown() {
	if [[ -e /sys/module/imasnap/parameters/reader_wait_ms ]]; then
		echo 1000 >/sys/module/imasnap/parameters/reader_wait_ms
		echo 4096 >/sys/module/imasnap/parameters/trim_batch
		echo 200 >/sys/module/imasnap/parameters/trim_hold_us
	fi
	helper_teardown
}

@test "module: loads and unloads cleanly, creates trim, rebase, persisted (0200), state and stats (0444)" {
	insmod "$KO"
	[ "$(stat -c %a "$SNAP/trim")" = 200 ]
	[ "$(stat -c %a "$SNAP/rebase")" = 200 ]
	[ "$(stat -c %a "$SNAP/persisted")" = 200 ]
	[ "$(stat -c %a "$SNAP/state")" = 444 ]
	[ "$(stat -c %a "$SNAP/stats")" = 444 ]
	cat "$SNAP/state"
	[ "$(state_value version)" = 1 ]
	[[ $(state_value epoch) =~ ^[0-9a-f]{32}$ ]]
	# trimmed + entries = every measurement since boot
	[ $(($(state_value trimmed) + $(state_value entries))) -eq "$(kernel_count)" ]
	[ "$(state_value entries)" -eq "$(list_len)" ]
	[ "$(state_value bytes)" -eq "$(wc -c <"$BIN")" ]
	# kernel memory: at least the four kmallocs of an entry, at most a few pages
	local kmem entries
	kmem=$(stats_value kmem) entries=$(state_value entries)
	((kmem >= 128 * entries && kmem <= 8192 * entries))
	unload
	[ ! -e "$SNAP" ]
	kmsg_since | grep 'imasnap: ready'
	# at load the helper checks its base values against the TPM
	kmsg_since | grep 'replays from its base values to the TPM'
	no_kernel_problems
}

@test "module: a reload shows the same trimmed count, epoch and bases" {
	insmod "$KO"
	reload_keeps_state
}

@test "module: refused trims (wrong digest, past the end, N=0, garbage, offset, no CAP_SYS_ADMIN at open or write) change nothing" {
	insmod "$KO"
	measure_files 3 "$WORK"
	local n d before st
	n=$(list_len)
	d=$(nth_digest 2)
	before=$(sha256sum <"$BIN")
	st=$(cat "$SNAP/state")

	[ "$(checker trim 2 0000000000000000000000000000000000000001)" = ESTALE ]
	[ "$(checker trim 3 "$d")" = ESTALE ]
	[ "$(checker trim $((n + 1)) "$d")" = ERANGE ]
	[ "$(checker trim 99999999999999999999999 "$d")" = ERANGE ]
	[ "$(checker trim 0 "$d")" = EINVAL ]
	[ "$(checker trim -1 "$d")" = EINVAL ]
	[ "$(checker trim 02 "$d")" = EINVAL ]
	[ "$(checker trim 18446744073709551616 "$d")" = ERANGE ]
	[ "$(checker trim 2 "${d:0:39}")" = EINVAL ]
	[ "$(checker trim 2 "${d}0")" = EINVAL ]
	[ "$(checker trim 2 "${d:0:39}g")" = EINVAL ]
	[ "$(checker raw-write "2 $d\\n\\n")" = EINVAL ]
	[ "$(checker raw-write "2 $d x")" = EINVAL ]
	[ "$(checker raw-write "2  $d")" = EINVAL ]
	[ "$(checker raw-write " 2 $d")" = EINVAL ]
	[ "$(checker raw-write "")" = EINVAL ]
	# a valid command written at an offset
	[ "$(checker pwrite 1 "2 $d")" = EINVAL ]
	# root without CAP_SYS_ADMIN
	run setpriv --inh-caps=-sys_admin --bounding-set=-sys_admin \
		bash -c "printf '2 %s\n' $d >$SNAP/trim"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"Operation not permitted"* ]]
	# refused at open already, for every control file
	local f
	for f in trim rebase persisted; do
		run setpriv --inh-caps=-sys_admin --bounding-set=-sys_admin \
			python3 "$CHECKER" open-write "$f"
		[ "$output" = EPERM ]
	done
	[ "$(checker open-write trim)" = OK ]

	[ "$(sha256sum <"$BIN")" = "$before" ]
	[ "$(cat "$SNAP/state")" = "$st" ]
	no_kernel_problems
}

@test "module: rebase takes only values that replay to the TPM; wrong values, digests, counts and garbage change nothing" {
	insmod "$KO"
	measure_files 4 "$WORK"
	local n before st
	n=$(($(list_len) - 2))
	before=$(sha256sum <"$BIN")
	st=$(cat "$SNAP/state")
	[ "$(checker rebase "$n" flip)" = EBADMSG ]
	[ "$(checker rebase "$n" digest)" = ESTALE ]
	[ "$(checker rebase "$n" count)" = EINVAL ]
	[ "$(checker rebase $((n + 100)) none)" = ERANGE ]
	[ "$(checker ctl-write rebase 'garbage\n')" = EINVAL ]
	[ "$(checker ctl-write rebase '0 - 5')" = EINVAL ]
	[ "$(checker ctl-write rebase '0 - 5\n10 sha1 00\n')" = EINVAL ]
	[ "$(checker ctl-write rebase '0 - 5\n\n10 sha1 00\n')" = EINVAL ]
	[ "$(checker ctl-write rebase '1 - 5\n')" = EINVAL ]
	[ "$(checker ctl-write rebase '0 - 5\0\n')" = EINVAL ]
	[ "$(checker ctl-write persisted 'x\n')" = EINVAL ]
	[ "$(checker ctl-write persisted '-1\n')" = EINVAL ]
	[ "$(checker ctl-write persisted '01\n')" = EINVAL ]
	[ "$(sha256sum <"$BIN")" = "$before" ]
	[ "$(cat "$SNAP/state")" = "$st" ]
	# the true values: the first n entries go, a snapshot_aggregate records them
	[ "$(checker rebase "$n" none)" = OK ]
	[ "$(list_len)" -eq 3 ]
	[ "$(state_value trimmed)" -eq "$n" ]
	[ "$(state_value epoch_start)" -eq 0 ]
	checker replay
	[ "$(checker ctl-write persisted '5\n')" = OK ]
	# C = 0: every entry cut, a new epoch begins; its head is the epoch's entry 0
	[ "$(checker rebase "$(list_len)" epoch)" = OK ]
	[ "$(state_value epoch_start)" -lt 0 ]
	[ "$(($(state_value trimmed) + $(state_value epoch_start)))" -eq 0 ]
	checker replay
	# a reload recovers the same from the list
	reload_keeps_state
	no_kernel_problems
}

@test "module: thousands of malformed writes to trim, rebase and persisted each get their errno and change nothing" {
	insmod "$KO"
	measure_files 5 "$WORK"
	local st f
	cp "$BIN" "$BATS_TEST_TMPDIR/before"
	st=$(cat "$SNAP/state")
	for f in trim rebase persisted; do
		SEED=$RANDOM checker random-writes "$f" 2000
		cmp "$BATS_TEST_TMPDIR/before" "$BIN"
		[ "$(cat "$SNAP/state")" = "$st" ]
	done
	no_kernel_problems
}

@test "module: trim removes exactly the first N entries and appends a snapshot_aggregate" {
	insmod "$KO"
	measure_files 6 "$WORK"
	local n count
	n=$(($(list_len) - 3))
	count=$(kernel_count)
	trim_checked "$n"
	cat "$SNAP/state"
	# runtime_measurements_count keeps counting every measurement since boot
	[ "$(kernel_count)" -eq $((count + 1)) ]
	[ "$(list_len)" -eq 4 ]
	tail -n 1 "$ASCII" | grep -q ' ima-buf .* snapshot_aggregate '
	checker replay
	no_kernel_problems
}

@test "module: trims in small batches of IMA's mutex (trim_batch 1 and 3) remove the same entries" {
	insmod "$KO"
	local b n
	for b in 1 3; do
		mkdir "$WORK/$b"
		measure_files 10 "$WORK/$b"
		echo "$b" >/sys/module/imasnap/parameters/trim_batch
		n=$(($(list_len) - 2))
		trim_checked "$n"
	done
	checker replay
	no_kernel_problems
}

@test "module: stats: a trim gives IMA's mutex back every trim_hold_us; holds, trims and the record counted; no TPM command under the mutex" {
	insmod "$KO"
	cat "$SNAP/stats"
	[ "$(stats_value version)" = 1 ]
	# the load checked the list against the TPM: two looks at the tail
	# under the mutex, the TPM read between them, outside it
	(($(stats_value tail_count) >= 2))
	[ "$(stats_value tpm_under_list_mutex)" -eq 0 ]
	[ "$(stats_value trims)" -eq 0 ]
	[ "$(stats_value trim_count)" -eq 0 ]
	mkdir "$WORK/a" "$WORK/b"
	measure_files 400 "$WORK/a"
	local n kmem
	kmem=$(stats_value kmem)
	echo 1 >/sys/module/imasnap/parameters/trim_hold_us
	n=$(($(list_len) - 2))
	trim_checked "$n"
	cat "$SNAP/stats" "$SNAP/state"
	[ "$(stats_value trims)" -eq 1 ]
	[ "$(stats_value append_count)" -eq 1 ]
	# 1 us: a hold ends at the first clock check, after 4 entries (more
	# on a fast machine); a count-bound batch (4096) would be one hold
	(($(stats_value trim_count) >= n / 64))
	(($(stats_value trim_total_ns) >= $(stats_value trim_max_ns)))
	(($(stats_value kmem) < kmem))
	# at the default 200 us: the longest hold is under 50 ms, a regression
	# guard with 250x margin (test/bench/trim.sh measures it)
	echo 200 >/sys/module/imasnap/parameters/trim_hold_us
	measure_files 400 "$WORK/b"
	n=$(($(list_len) - 2))
	trim_checked "$n"
	cat "$SNAP/stats"
	[ "$(stats_value trims)" -eq 2 ]
	[ "$(stats_value append_count)" -eq 2 ]
	(($(stats_value trim_max_ns) < 50000000))
	[ "$(stats_value tpm_under_list_mutex)" -eq 0 ]
	no_kernel_problems
}

@test "module: a large trim while IMA keeps measuring stays consistent" {
	insmod "$KO"
	mkdir "$WORK/bulk" "$WORK/during"
	measure_files 600 "$WORK/bulk"
	local n during
	n=$(($(list_len) - 5))
	cp "$BIN" "$BATS_TEST_TMPDIR/old"
	echo 16 >/sys/module/imasnap/parameters/trim_batch
	# measurements keep coming while the trim unlinks its batches
	(
		for ((i = 0; i < 200; i++)); do
			echo "during $i $RANDOM" >"$WORK/during/f$i"
			read -r _ <"$WORK/during/f$i"
		done
	) 7<&- &
	during=$!
	BG_PIDS+=("$during")
	[ "$(checker trim "$n" "$(nth_digest "$n")")" = OK ]
	wait "$during"
	cp "$BIN" "$BATS_TEST_TMPDIR/new"
	checker check-trim-concurrent "$BATS_TEST_TMPDIR/old" "$BATS_TEST_TMPDIR/new" "$n"
	[ "$(state_value entries)" -eq "$(list_len)" ]
	[ "$(state_value bytes)" -eq "$(wc -c <"$BIN")" ]
	[ $(($(state_value trimmed) + $(state_value entries))) -eq "$(kernel_count)" ]
	checker replay
	no_kernel_problems
}

@test "module: the remaining list replays from the snapshot_aggregate's bases to the TPM's PCRs" {
	insmod "$KO"
	local i
	for i in 1 2 3; do
		mkdir "$WORK/$i"
		measure_files 4 "$WORK/$i"
		[ "$(checker trim 2 "$(nth_digest 2)")" = OK ]
		checker replay
	done
	# the evmctl view: the TPM against a replay that starts from zero no
	# longer matches, the helper's bases make up the difference
	checker replay
	no_kernel_problems
}

@test "module: trimming the whole list leaves only the snapshot_aggregate" {
	insmod "$KO"
	measure_files 2 "$WORK"
	local n
	n=$(list_len)
	trim_checked "$n"
	[ "$(list_len)" -eq 1 ]
	checker replay
	# and the state comes back from that record alone
	reload_keeps_state
	no_kernel_problems
}

@test "module: an open list file makes trim fail with EBUSY after the bounded wait, changing nothing" {
	insmod "$KO"
	measure_files 2 "$WORK"
	local before st t0 t1 d
	d=$(nth_digest 1)
	before=$(sha256sum <"$BIN")
	st=$(cat "$SNAP/state")
	exec 7<"$BIN"
	t0=$(date +%s%N)
	[ "$(checker trim 1 "$d")" = EBUSY ]
	t1=$(date +%s%N)
	echo "EBUSY after $(((t1 - t0) / 1000000)) ms"
	[ $(((t1 - t0) / 1000000)) -ge 900 ]
	exec 7<&-
	exec 8<"$ASCII"
	[ "$(checker trim 1 "$d")" = EBUSY ]
	exec 8<&-
	# read-write opens count too (root can open the 0440 files O_RDWR)
	exec 9<>"$BIN"
	[ "$(checker trim 1 "$d")" = EBUSY ]
	exec 9<&-
	[ "$(sha256sum <"$BIN")" = "$before" ]
	[ "$(cat "$SNAP/state")" = "$st" ]
	# once closed, the same trim goes through
	[ "$(checker trim 1 "$d")" = OK ]
	checker replay
	no_kernel_problems
}

@test "module: a list file opened before the module was loaded also blocks trims" {
	exec 7<"$ASCII"
	insmod "$KO"
	[ "$(checker trim 1 "$(nth_digest 1)")" = EBUSY ]
	exec 7<&-
	[ "$(checker trim 1 "$(nth_digest 1)")" = OK ]
}

@test "module: an open made while a trim waits is held back, then reads the trimmed list" {
	insmod "$KO"
	echo 30000 >/sys/module/imasnap/parameters/reader_wait_ms
	measure_files 2 "$WORK"
	local trim late log=$BATS_TEST_TMPDIR/log
	mkdir "$log" "$BATS_TEST_TMPDIR/late"
	checker log-copy "$log"
	exec 7<"$BIN"
	# children must not inherit fd 7, or the file would stay open
	checker trim 1 "$(nth_digest 1)" >"$BATS_TEST_TMPDIR/trim.out" 7<&- &
	trim=$!
	BG_PIDS+=("$trim")
	wait_in_kernel readers_block
	cat "$BIN" >"$BATS_TEST_TMPDIR/late/copy" 7<&- &
	late=$!
	BG_PIDS+=("$late")
	wait_in_kernel gate_open "$late"
	# the last reader closes: the trim goes on, then lets the late one in
	exec 7<&-
	wait "$trim"
	[ "$(cat "$BATS_TEST_TMPDIR/trim.out")" = OK ]
	wait "$late"
	cmp "$BATS_TEST_TMPDIR/late/copy" "$BIN"
	checker log-copy "$log"
	checker check-snapshots "$BATS_TEST_TMPDIR/late" "$log"
	echo 1000 >/sys/module/imasnap/parameters/reader_wait_ms
	no_kernel_problems
}

@test "module: readers looping over the list while trims run never see a torn or shifted list" {
	insmod "$KO"
	# the trims wait for the reader to close the file: long enough that a
	# slow read under TCG does not turn this into a test of EBUSY
	echo 10000 >/sys/module/imasnap/parameters/reader_wait_ms
	local t=$BATS_TEST_TMPDIR i r before after reader
	mkdir -p "$t/snaps" "$t/log"
	checker reader "$t/snaps" "$t/stop" >"$t/reader.out" &
	reader=$!
	BG_PIDS+=("$reader")
	for ((i = 0; i < 600; i++)); do
		[[ -e $t/reads ]] && break
		sleep 0.1
	done
	read -r before <"$t/reads"
	for ((i = 0; i < 12; i++)); do
		mkdir -p "$WORK/$i"
		measure_files 3 "$WORK/$i"
		checker log-copy "$t/log"
		r=$(checker trim 2 "$(nth_digest 2)" auto)
		[ "$r" = OK ] || { echo "trim $i: $r"; false; }
	done
	read -r after <"$t/reads"
	touch "$t/stop"
	wait "$reader"
	checker log-copy "$t/log"
	echo "reads: $before before the 12 trims, $after after them; distinct copies: $(find "$t/snaps" -type f | wc -l)"
	# the reader kept reading while the trims ran
	[ "$after" -gt "$before" ]
	checker check-snapshots "$t/snaps" "$t/log"
	checker replay
	no_kernel_problems
}

@test "module: unload and reload recovers trimmed count, bases and epoch from the list" {
	insmod "$KO"
	measure_files 3 "$WORK"
	[ "$(checker trim 2 "$(nth_digest 2)")" = OK ]
	local st
	st=$(grep -v '^entries\|^bytes' "$SNAP/state")
	unload
	mkdir "$WORK/between"
	measure_files 2 "$WORK/between"   # entries added while unloaded
	insmod "$KO"
	echo "before: $st"
	echo "after:  $(cat "$SNAP/state")"
	[ "$(grep -v '^entries\|^bytes' "$SNAP/state")" = "$st" ]
	[ $(($(state_value trimmed) + $(state_value entries))) -eq "$(kernel_count)" ]
	local log
	log=$(kmsg_since)
	[ "$(grep -c 'replays from its base values to the TPM' <<<"$log")" -eq 2 ]
	run grep 'verification of this list will fail' <<<"$log"
	[ "$status" -eq 1 ]
	# and the next trim continues the chain
	trim_checked 3
	checker replay
	no_kernel_problems
}

@test "module: a trimmed measurement can be recorded once more (removed from IMA's hash table)" {
	insmod "$KO"
	local f=$WORK/dup c before n
	c="imasnap dup $RANDOM$RANDOM"
	echo "$c" >"$f"
	read -r _ <"$f"
	# same name and content on a new inode: IMA's hash table drops it
	rm "$f"
	echo "$c" >"$f"
	before=$(kernel_count)
	read -r _ <"$f"
	[ "$(kernel_count)" -eq "$before" ]
	n=$(awk -v f="$f" '$5 == f { print NR }' "$ASCII")
	[ -n "$n" ]
	[ "$(checker trim "$n" "$(nth_digest "$n")")" = OK ]
	rm "$f"
	echo "$c" >"$f"
	read -r _ <"$f"
	[ "$(kernel_count)" -eq $((before + 2)) ]   # the aggregate and this
	[ "$(awk -v f="$f" '$5 == f' "$ASCII" | wc -l)" -eq 1 ]
	checker replay
}

@test "module: a trim whose new head is a violation (zero digest) is recorded with HEAD_SET, and the module reloads" {
	insmod "$KO"
	local f=$WORK/violation n st
	measure_files 2 "$WORK"
	echo "imasnap violation $RANDOM$RANDOM" >"$f"
	# root reads a file another descriptor holds open for writing: IMA logs
	# an open_writers violation (zero digest) for it
	exec 6>>"$f"
	read -r _ <"$f"
	exec 6>&-
	n=$(awk -v f="$f" '$2 ~ /^0+$/ && $5 == f { print NR; exit }' "$ASCII")
	echo "violation at entry $n"
	[ -n "$n" ]
	[ "$n" -gt 1 ]
	# trim everything before it: the violation becomes the head
	trim_checked $((n - 1))
	[ "$(nth_digest 1)" = 0000000000000000000000000000000000000000 ]
	reload_keeps_state
	checker replay
	no_kernel_problems
}

@test "module: a measurement that lands before the record of a trim that emptied the list does not stop a reload" {
	insmod "$KO"
	measure_files 2 "$WORK"
	local t=$BATS_TEST_TMPDIR
	trim_all_measuring_before_the_record "$t"
	checker check-trim-concurrent "$t/old" "$t/new" "$(cat "$t/n")"
	reload_keeps_state
	checker replay
	no_kernel_problems
}

@test "module: a trim naming the head's epoch index (H) acts only on the list its writer read" {
	insmod "$KO"
	measure_files 4 "$WORK"
	local h d before st
	h=$(($(state_value trimmed) + $(state_value epoch_start)))
	d=$(nth_digest 2)
	before=$(sha256sum <"$BIN")
	st=$(cat "$SNAP/state")
	[ "$(checker trim 2 "$d" $((h + 1)))" = ESTALE ]
	[ "$(checker trim 2 "$d" $((h + 1000000)))" = ESTALE ]
	if ((h > 0)); then
		[ "$(checker trim 2 "$d" $((h - 1)))" = ESTALE ]
	fi
	[ "$(checker trim 2 "$d" 018446744073709551616)" = EINVAL ]
	[ "$(checker trim 2 "$d" 18446744073709551616)" = EINVAL ]
	[ "$(sha256sum <"$BIN")" = "$before" ]
	[ "$(cat "$SNAP/state")" = "$st" ]
	[ "$(checker trim 2 "$d" "$h")" = OK ]
	[ "$(($(state_value trimmed) + $(state_value epoch_start)))" -eq $((h + 2)) ]
	# the same command once more (a second writer that read the same list):
	# refused, whatever entry 2 is now
	st=$(cat "$SNAP/state")
	[ "$(checker trim 2 "$(nth_digest 2)" "$h")" = ESTALE ]
	[ "$(cat "$SNAP/state")" = "$st" ]
	checker replay
	no_kernel_problems
}
