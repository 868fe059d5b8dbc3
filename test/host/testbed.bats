#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-only
#
# Checks of the host test bed itself (test/vm/image.sh, run.sh --image): if
# these fail, the host suites mean nothing. Run alone with:
#   test/vm/run.sh --image test/host/testbed.bats

@test "systemd is PID 1 and the boot reached multi-user without failed units" {
	[ "$(cat /proc/1/comm)" = systemd ]
	run systemctl is-system-running --wait
	echo "state: $output"
	run systemctl --failed --no-legend --plain
	echo "failed units: $output"
	[ -z "$output" ]
}

@test "the root is the image's ext4 disk, read-write" {
	[ "$(findmnt -n -o SOURCE /)" = /dev/vda ]
	[ "$(findmnt -n -o FSTYPE /)" = ext4 ]
	[[ ,$(findmnt -n -o OPTIONS /), == *,rw,* ]]
}

@test "IMA measures with the tcb policy, template ima-ng, sha256" {
	local first n
	read -r first </sys/kernel/security/ima/ascii_runtime_measurements
	echo "first entry: $first"
	[[ $first == "10 "*" ima-ng sha256:"*" boot_aggregate" ]]
	read -r n </sys/kernel/security/ima/runtime_measurements_count
	echo "entries: $n"
	# the tcb policy measured the boot's executables, not only boot_aggregate
	[ "$n" -gt 100 ]
}

@test "the TPM answers and PCR 10 is not zero" {
	run tpm2_pcrread sha256:10
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output != *0x0000000000000000000000000000000000000000000000000000000000000000* ]]
}

@test "DKMS can build for the running kernel: headers of this exact version" {
	local ver
	read -r ver </proc/sys/kernel/osrelease
	[ -d "/lib/modules/$ver/build" ]
	[ -f "/usr/src/linux-headers-$ver/Module.symvers" ]
	command -v dkms gcc make evmctl bats kexec tpm2_pcrread
}
