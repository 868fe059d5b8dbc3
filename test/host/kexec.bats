#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-only
#
# A boot of the host chain after `systemctl kexec` (the TPM was not reset):
# the service starts by itself, continues the same epoch and store, the
# writers of the last boot lost nothing and nothing twice, even what they
# measured during shutdown; store verifies, evmctl agrees, the kernel logged
# no warning. Ends with another kexec, or after the third with a reboot.

load host

# kexec soft reboots before the chain's reboot
KEXECS=${IMASNAP_KEXECS:-3}

@test "kexec: the service is active and ready by itself, the same epoch continues" {
	local ready
	service_ready
	ready=$(systemctl show -P ActiveEnterTimestampMonotonic imasnap.service)
	figure "boot-to-ready-s" "$(awk -v u="$ready" 'BEGIN { printf "%.1f", u / 1e6 }')"
	[ "$(epoch_id)" = "$(cat "$PERSIST/epoch")" ]
	[ "$(sed -n 's/^boot //p' "$STORE/epoch")" = "$(cat /proc/sys/kernel/random/boot_id)" ]
	[ -z "$(compgen -G "$STORE/binary_runtime_measurements.epoch-*" || true)" ]
	journalctl -b -u imasnap.service --no-pager | grep -q "continues the store's epoch"
}

@test "kexec: the store before the jump is kept, the writers lost nothing and nothing twice" {
	local before=$PERSIST/before.$((BOOT - 1)) n
	wait_lag0
	cmp -n "$(stat -c %s "$before")" "$before" "$STORE/binary_runtime_measurements"
	n=$(writers_intact $((BOOT - 1)))
	echo "measured during shutdown and stored: $n"
	figure "shutdown-entries-stored" "$n"
}

@test "kexec: the store replays to the TPM, the kernel's list from its base, evmctl agrees" {
	wait_lag0
	verify_ok
	evmctl_ok
}

@test "kexec: no kernel warning in this boot's journal" {
	no_kernel_warning
}

@test "kexec: writers measure on; the next boot is a kexec, or a reboot after $KEXECS" {
	keep_copy before
	start_writers
	if ((BOOT <= KEXECS)); then
		end_boot_with kexec
	else
		end_boot_with reboot
	fi
}
