#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-only
#
# First boot of the host chain (docs/testing-host.md): the packages install
# offline, DKMS builds the helper for the running kernel, the service starts,
# is ready with lag 0 and its store replays to the TPM; restart, stop and a
# crash lose nothing. Ends with writers measuring and `systemctl kexec`.

load host

@test "install: imasnap and imasnap-dkms install; DKMS builds the helper for this kernel" {
	local dkms main ver
	dkms=$(deb imasnap-dkms)
	main=$(deb imasnap)
	read -r ver </proc/sys/kernel/osrelease
	# no network in the guest: every dependency is in the image already
	run dpkg -i "$dkms" "$main"
	echo "$output" | tail -n 20
	[ "$status" -eq 0 ]
	run dkms status imasnap
	echo "$output"
	[[ $output == *"$ver"*installed* ]]
	[ "$(modinfo -F vermagic imasnap | cut -d' ' -f1)" = "$ver" ]
}

@test "install: enabled and started, the service is active and ready, lag 0" {
	systemctl enable --now imasnap.service
	[ "$(systemctl is-enabled imasnap.service)" = enabled ]
	service_ready
	lsmod | grep -q '^imasnap '
	# `imasnap status` shows lag: 0 (at some moment: the tcb policy
	# measures what the system does meanwhile, so a later call may not)
	wait_lag0
	epoch_id >"$PERSIST/epoch"
	[ -s "$PERSIST/epoch" ]
}

@test "install: the sandboxed loader opened the TPM: the new store was checked against it" {
	run journalctl -b -u imasnap.service --no-pager -o cat
	echo "$output" | grep -i -E 'tpm|tcti' || true
	[ "$status" -eq 0 ]
	[[ $output == *"following IMA's measurements"* ]]
	[[ $output != *"cannot read the TPM"* ]]
}

@test "install: the store replays to the TPM (imasnap verify, evmctl with tpm2_pcrread)" {
	wait_lag0
	verify_store_ok
	evmctl_ok
}

@test "install: systemctl restart: a new loader continues the same store" {
	local pid before=$BATS_TEST_TMPDIR/before
	pid=$(systemctl show -P MainPID imasnap.service)
	cp "$STORE/binary_runtime_measurements" "$before"
	systemctl restart imasnap.service
	service_ready
	[ "$(systemctl show -P MainPID imasnap.service)" != "$pid" ]
	wait_lag0
	cmp -n "$(stat -c %s "$before")" "$before" "$STORE/binary_runtime_measurements"
	[ "$(epoch_id)" = "$(cat "$PERSIST/epoch")" ]
	verify_store_ok
}

@test "install: systemctl stop drains into the store and exits 0" {
	local d=$WRITERS/stop i
	mkdir -p "$d"
	for i in 0 1 2 3 4; do
		echo "stop $i $RANDOM" >"$d/f$i"
		read -r _ <"$d/f$i"
	done
	systemctl stop imasnap.service
	[ "$(systemctl show -P ActiveState imasnap.service)" = inactive ]
	[ "$(systemctl show -P Result imasnap.service)" = success ]
	[ "$(systemctl show -P ExecMainStatus imasnap.service)" = 0 ]
	# every read made before the stop is in the store, once
	[ "$(store_names | grep -c "^$d/f[0-4]$")" -eq 5 ]
	systemctl start imasnap.service
	service_ready
	wait_lag0
	verify_store_ok
}

@test "install: SIGKILL: systemd restarts the loader, no gap" {
	local pid d=$WRITERS/kill i
	pid=$(systemctl show -P MainPID imasnap.service)
	mkdir -p "$d"
	systemctl kill -s KILL imasnap.service
	# measured while no loader runs
	for i in 0 1 2 3 4; do
		echo "kill $i $RANDOM" >"$d/f$i"
		read -r _ <"$d/f$i"
	done
	for ((i = 0; i < 300; i++)); do
		[[ $(systemctl show -P MainPID imasnap.service) =~ ^(0|$pid)$ ]] || break
		sleep 0.1
	done
	service_ready
	[ "$(systemctl show -P MainPID imasnap.service)" != "$pid" ]
	[ "$(systemctl show -P NRestarts imasnap.service)" -ge 1 ]
	wait_lag0
	[ "$(store_names | grep -c "^$d/f[0-4]$")" -eq 5 ]
	verify_store_ok
	evmctl_ok
}

@test "install: no kernel warning in this boot's journal" {
	no_kernel_warning
}

@test "install: writers measure on; the next boot is systemctl kexec" {
	keep_copy before
	start_writers
	end_boot_with kexec
}
