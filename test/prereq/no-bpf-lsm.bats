#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-only
#
# A kernel booted without "bpf" in lsm= (test/run-tests.sh boots it with
# --append "lsm=..."): imasnap check and imasnap-load --protect name the
# missing BPF LSM, and the loader creates nothing. Run alone with:
#   test/vm/run.sh --append "lsm=lockdown,capability,yama,integrity" \
#       test/prereq/no-bpf-lsm.bats

load ../bats/helpers

setup() {
	require_ima
	STORE=$(mktemp -d)/store
}

@test "this boot has no BPF LSM (the test bed's lsm= took effect)" {
	local lsm
	lsm=$(</sys/kernel/security/lsm)
	echo "lsm: $lsm"
	[[ ,$lsm, != *,bpf,* ]]
}

@test "imasnap check: one message for the missing BPF LSM, the rest ok, exit 1" {
	run "$TREE/imasnap" check
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *'missing: BPF LSM: "bpf" is not among the active LSMs'*'boot with lsm='*',bpf (CONFIG_BPF_LSM)'* ]]
	[ "$(grep -c '^missing: ' <<<"$output")" -eq 1 ]
	[ "$(grep -c '^ok: ' <<<"$output")" -eq 4 ]
}

@test "imasnap-load --protect refuses, says why, creates no store and no pins" {
	local pins_before
	pins_before=$(ls /sys/fs/bpf)
	run "$TREE/imasnap-load" --protect --store "$STORE"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *'missing: BPF LSM:'* ]]
	[[ $output == *'nothing was loaded or created'* ]]
	[ ! -e "$STORE" ]
	[ "$(ls /sys/fs/bpf)" = "$pins_before" ]
}
