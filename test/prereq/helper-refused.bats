#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-only
#
# The kernel helper built for a kernel whose IMA internals it does not handle
# yet (Debian 13's 6.12: list files are symlinks to per-hash lists; sid's
# 7.2: the BTF behind __start_BTF cannot be read) refuses to load, says what
# differs, and leaves nothing behind. IMASNAP_EXPECT_REFUSAL is the message
# expected on this kernel (test/run-tests.sh passes it). Run alone with:
#   make kernel-module-trixie
#   test/vm/run.sh --kernel trixie --env "IMASNAP_EXPECT_REFUSAL=is a symlink" \
#       test/prereq/helper-refused.bats

load ../bats/helpers

setup() {
	require_ima
}

@test "the helper built for this kernel is refused at load with what differs, nothing left" {
	local expect=${IMASNAP_EXPECT_REFUSAL:?pass --env IMASNAP_EXPECT_REFUSAL=MESSAGE}
	echo "helper: $KO"
	[[ $KO == */.output/kernel-helper-$(uname -r)/imasnap.ko ]]
	kmsg_mark
	run insmod "$KO"
	echo "$output"
	[ "$status" -ne 0 ]
	run kmsg_since
	echo "$output"
	[[ $output == *"imasnap: "*"$expect"*"refusing to load"* ]]
	[ ! -e /sys/kernel/security/imasnap ]
	! grep -q '^imasnap ' /proc/modules
}
