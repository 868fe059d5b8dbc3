#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-only
#
# The last boot of the host chain, after `systemctl reboot` (machine and TPM
# reset): a new epoch, the old store kept byte for byte; then an upgrade of
# the package while protection is on, and its removal (the store stays).

load host

@test "reboot: a new epoch; the old store is kept byte for byte" {
	local old kept n before=$PERSIST/before.$((BOOT - 1))
	service_ready
	wait_lag0
	old=$(cat "$PERSIST/epoch")
	[ "$(epoch_id)" != "$old" ]
	kept=$STORE/binary_runtime_measurements.epoch-$old
	ls -l "$STORE"
	[ -f "$kept" ]
	# what the old boot stored before its end, then what its shutdown added
	cmp -n "$(stat -c %s "$before")" "$before" "$kept"
	# the old boot's writers, their shutdown's measurements included, are
	# in the kept epoch, once each, without a hole
	mkdir "$BATS_TEST_TMPDIR/kept"
	cp "$kept" "$BATS_TEST_TMPDIR/kept/binary_runtime_measurements"
	n=$(writers_intact $((BOOT - 1)) "$BATS_TEST_TMPDIR/kept")
	echo "measured during shutdown and stored: $n"
	figure "shutdown-entries-stored-at-reboot" "$n"
	verify_store_ok
	evmctl_ok
}

@test "reboot: upgrade of the package while protection is on" {
	local before=$BATS_TEST_TMPDIR/before pid
	echo "protect = yes" >>/etc/imasnap/imasnap.conf
	systemctl restart imasnap.service
	service_ready
	wait_lag0
	# protection is in force: root cannot change the store
	run bash -c "echo x >>$STORE/binary_runtime_measurements"
	[ "$status" -ne 0 ]
	cp "$STORE/binary_runtime_measurements" "$before"
	pid=$(systemctl show -P MainPID imasnap.service)
	run dpkg -i "$(deb imasnap)"
	echo "$output" | tail -n 20
	[ "$status" -eq 0 ]
	service_ready
	wait_lag0
	cmp -n "$(stat -c %s "$before")" "$before" "$STORE/binary_runtime_measurements"
	verify_store_ok
	evmctl_ok
	echo "loader pid $pid before, $(systemctl show -P MainPID imasnap.service) after"
}

@test "reboot: apt-get remove imasnap: the service goes, the store stays" {
	local before=$BATS_TEST_TMPDIR/before
	systemctl stop imasnap.service
	cp "$STORE/binary_runtime_measurements" "$before"
	run apt-get remove -y imasnap
	echo "$output" | tail -n 20
	[ "$status" -eq 0 ]
	[ ! -e "$LOADER" ]
	run systemctl is-active imasnap.service
	[ "$output" != active ]
	cmp "$before" "$STORE/binary_runtime_measurements"
	[ -f "$STORE/epoch" ]
}
