#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-only
#
# A boot of the kexec chain that follows a kexec (the TPM was not reset): the
# same store continues, nothing measured before the jump is lost or stored
# twice, store and kernel list verify. Ends with another kexec, or with a
# full reboot after $IMASNAP_KEXECS (3) soft reboots.

load kexec

@test "kexec: without the helper, imasnap-load refuses to guess and changes nothing" {
	keep_copy before
	run "$LOADER" --store "$STORE"
	echo "$output"
	[[ $status -ne 0 ]]
	[[ $output == *"only the kernel helper (imasnap.ko) can prove"* ]]
	cmp "$PERSIST/before.$BOOT" "$STORE/binary_runtime_measurements"
}

@test "kexec: a lost store: imasnap-load says so and starts no log it could never verify" {
	local away=$STORE.away
	mv "$STORE" "$away"
	mkdir "$STORE"
	# the PCRs hold the earlier kernels' entries, which are in no store now
	run "$LOADER" --store "$STORE"
	echo "$output"
	mv "$STORE" "$STORE.refused"
	mv "$away" "$STORE"
	[[ $status -ne 0 ]]
	[[ $output == *"continuity cannot be proven"* ]]
	[ ! -e "$STORE.refused/epoch" ]
	[ ! -s "$STORE.refused/binary_runtime_measurements" ]
	rm -rf "$STORE.refused"
}

@test "kexec: the helper loads on the new kernel and imasnap-load continues the same store" {
	local before=$PERSIST/before.$BOOT
	insmod "$KO"
	start_loader_detached
	grep -q "continues the store's epoch" "$LOADER_LOG"
	wait_lag0
	# what the store held at the jump is still there, unchanged, and more follows
	cmp -n "$(stat -c %s "$before")" "$before" "$STORE/binary_runtime_measurements"
	(($(stat -c %s "$STORE/binary_runtime_measurements") > $(stat -c %s "$before")))
	[ -z "$(compgen -G "$STORE/binary_runtime_measurements.epoch-*" || true)" ]
	# a kexec that did not carry the list is routine: the helper says so
	# below warning level (a journal filtered at warning stays quiet)
	# (the kernel's own notices on an unsigned out-of-tree module aside)
	run bash -c "dmesg --level=emerg,alert,crit,err,warn | grep 'imasnap: ' |
		grep -v -e 'taints kernel' -e 'module verification failed'"
	echo "$output"
	[ "$status" -eq 1 ]
}

@test "kexec: every measurement of the load-to-execute window is in the store, once" {
	local window=$PERSIST/window.$((BOOT - 1)) ascii=$BATS_TEST_TMPDIR/store.ascii
	"$CLI" export --store "$STORE" --format ascii >"$ascii"
	[ -s "$window" ]
	echo "$(wc -l <"$window") window measurements"
	# each measured name once; and no window entry at all twice
	awk 'NR == FNR { want[$1] = 1; next } ($5 in want) { seen[$5]++ }
		END { for (n in want) if (seen[n] != 1) { print n ": " seen[n] + 0 " times"; bad = 1 }
		      exit bad }' "$window" "$ascii"
	[ -z "$(awk '$5 ~ /^\/tmp\/kexec-window-/ { print $5 }' "$ascii" | sort | uniq -d)" ]
}

@test "kexec: the full store replays to the TPM, the kernel's list from its base, evmctl agrees" {
	verify_ok
	evmctl_ok
}

@test "kexec: the store's tail is the kernel's list" {
	assert_store_is_kernel_log
}

@test "kexec: a snapshot, writers during the load-to-execute window, then the next boot" {
	measure_files 10 "$(tmpfs_dir)"
	wait_lag0
	snapshot_ok
	start_writers
	if ((BOOT <= KEXECS)); then
		load_next_kernel
		window_measured
		end_boot_with kexec
	else
		# a full reboot next: a machine reset, which resets the TPM
		end_boot_with reboot
	fi
}
