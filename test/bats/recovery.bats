#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-only
#
# The kernel helper's refusals that need a kernel state no other suite may
# leave behind: a trim under an empty IMA policy (this boot starts without
# one; the first test that needs measurements writes the test bed's policy,
# once), and a load refused because the list no longer replays to the TPM
# (it extends PCR 10 behind IMA's back: last in the file, nothing can
# replay PCR 10 after it). Each test loads the module itself and unloads it
# in teardown.
#
# Run alone with: test/vm/run.sh test/bats/recovery.bats
# vm-env: IMASNAP_IMA_POLICY=none

load helpers
load module-helpers

# The test bed's policy, unless written already (the kernel takes one write
# per boot: a second is refused, so a refused write after a first is fine).
policy_written() {
	[[ -e $BATS_RUN_TMPDIR/policy ]]
}

write_policy() {
	policy_written && return 0
	cat "$TREE/test/vm/ima-policy" >"$IMA_DIR/policy"
	touch "$BATS_RUN_TMPDIR/policy"
}

@test "recovery: under an empty IMA policy a trim is refused with ENOENT and changes nothing" {
	if [[ ${IMASNAP_IMA_POLICY:-} != none ]] || policy_written; then
		echo "this boot has an IMA policy: run with --env IMASNAP_IMA_POLICY=none (run.sh reads it from this file) and this test first" >&2
		return 1
	fi
	# the policy really is empty: a root read of a tmpfs file adds nothing
	local n st list
	n=$(list_len)
	echo "imasnap empty $RANDOM" >"$WORK/f"
	read -r _ <"$WORK/f"
	[ "$(list_len)" -eq "$n" ]
	insmod "$KO"
	list=$(sha256sum <"$BIN")
	st=$(cat "$SNAP/state")
	[ "$(checker trim "$n" "$(nth_digest "$n")")" = ENOENT ]
	[ "$(checker trim "$n" "$(nth_digest "$n")" 0)" = ENOENT ]
	[ "$(sha256sum <"$BIN")" = "$list" ]
	[ "$(cat "$SNAP/state")" = "$st" ]
	kmsg_since | grep -q 'empty IMA policy); trim refused, nothing changed'
	no_kernel_problems
}

@test "recovery: a record without HEAD_SET after the list's head, with a list that no longer replays to the TPM: the helper refuses to load, says why, and changes nothing" {
	write_policy
	insmod "$KO"
	measure_files 2 "$WORK"
	local t=$BATS_TEST_TMPDIR list
	trim_all_measuring_before_the_record "$t"
	checker replay
	unload
	# PCR 10 moves without an entry: nothing replays the list to it now
	tpm2_pcrextend -T device:/dev/tpmrm0 \
		"10:sha256=$(printf 'imasnap recovery %s' "$RANDOM" | sha256sum | cut -d' ' -f1)"
	list=$(sha256sum <"$BIN")
	run insmod "$KO"
	echo "$output"
	[ "$status" -ne 0 ]
	run loaded
	[ "$status" -ne 0 ]
	[ ! -e "$SNAP" ]
	[ "$(sha256sum <"$BIN")" = "$list" ]
	kmsg_since >"$t/kmsg"
	grep -q 'the last snapshot_aggregate is entry 1 of the list; replaying the list from its base values to the TPM does not match' "$t/kmsg"
	grep -q 'does not describe the list.s first entry .*refusing to load' "$t/kmsg"
	no_kernel_problems
}
