#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-only
#
# Boot 2 of the reboot notifier's chain (after reboot-wait.bats): the previous
# kernel's notifier waited reboot_wait_ms (3000) for the store, said how many
# entries were missing, and the kernel still went down (this boot runs).

load ../bats/helpers

setup() {
	require_ima
}

# seconds from the console's "[ 12.345678] " prefix of the first line
# after the marker that matches $1
console_time() {
	sed -n '/imasnap-reboot-wait: boot 1 /,$p' "$IMASNAP_RESULTS/console.log" |
		grep -m1 -- "$1" | sed -n 's/^\[ *\([0-9.]*\)\].*/\1/p'
}

@test "reboot notifier: the kexec waited reboot_wait_ms, logged the entries missing, and went on" {
	[ "${IMASNAP_BOOT:?}" -eq 2 ]
	local log t0 t1 line
	log=$(sed -n '/imasnap-reboot-wait: boot 1 /,$p' "$IMASNAP_RESULTS/console.log" | grep 'imasnap: ')
	echo "$log"
	t0=$(console_time 'waiting up to 3000 ms for the store')
	t1=$(console_time 'entries after 3000 ms')
	line=$(grep 'entries after 3000 ms' <<<"$log")
	[[ $line =~ holds\ ([0-9]+)\ of\ ([0-9]+)\ entries.*:\ ([0-9]+)\ missing ]]
	[ "${BASH_REMATCH[3]}" -ge 3 ]
	[ $((BASH_REMATCH[2] - BASH_REMATCH[1])) -eq "${BASH_REMATCH[3]}" ]
	echo "waited from $t0 to $t1 s"
	awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a >= 3.0) }'
	# no kernel warning at the end of the previous boot
	run grep -E 'WARNING:|BUG:|INFO: task .* blocked' \
		<(sed -n '/imasnap-reboot-wait: boot 1 /,$p' "$IMASNAP_RESULTS/console.log")
	[ "$status" -eq 1 ]
}
