#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-only
#
# The store's disk fails under the loader: a file system that fills up
# (ENOSPC) and a device that starts failing writes (EIO: device-mapper's
# flakey target with error_writes, and its error target). Under each fault
# the loader says what failed, nothing the store does not hold durably is
# trimmed (the helper's automatic snapshots run all along: --snapshot-entries
# 1 trims whatever is durable, about once a second), the kernel's list keeps
# every entry the store lacks, store + list still verify against the TPM;
# when the fault clears the loader resumes: lag 0, store == kernel list,
# verify passes. If the loader exits on the fault instead, the test says so
# and fails, after checking that a restarted loader resumes with no gap.
#
# The file systems live on /dev/vda, the raw virtio disk (cache=none) that
# test/vm/run.sh attaches to every boot (a sparse 64M file unless --disk or
# --no-disk says otherwise); each test makes its own device-mapper device
# over a slice of it. Without the disk the tests fail (no skip).
#   vmrun test/vm/run.sh test/bats/faults.bats
# The power cut is a two-boot chain of its own (test/faults/powercut-*.bats;
# docs/testing-faults.md).
#
# One store for the whole file, carried from one test's file system to the
# next (copied while no loader runs): once the kernel's list is trimmed only
# a store holding the trimmed entries can follow it.

load helpers
load imasnap
load ../faults/faults

setup_file() {
	export CARRY=$BATS_FILE_TMPDIR/carry
}

setup() {
	require_ima
	require_disk
	WORK=$(tmpfs_dir)
	load_helper
}

teardown() {
	loader_teardown
	# the store goes on to the next test (a failed test's too: the next
	# one then shows what it left)
	if [[ -n ${STORE:-} && -f $STORE/binary_runtime_measurements ]]; then
		rm -rf "$CARRY"
		cp -a "$STORE" "$CARRY"
	fi
	fault_cleanup
	rm -rf "$WORK"
}

teardown_file() {
	local i
	for ((i = 0; i < 50; i++)); do
		grep -q '^imasnap ' /proc/modules || break
		rmmod imasnap 2>/dev/null || sleep 0.1
	done
}

# start_on_fs: the store on $FAULT_MNT (the one carried from the test
# before, if any), a loader with automatic snapshots, all entries durable and
# some trimmed
start_on_fs() {
	STORE=$FAULT_MNT/store
	if [[ -d $CARRY ]]; then
		cp -a "$CARRY" "$STORE"
	fi
	start_loader --snapshot-entries 1
	measure_files 20 "$WORK"
	wait_lag0
	TRIMMED0=$(state_value trimmed)
	measure_files 5 "$WORK"
	wait_trimmed_above "$TRIMMED0"
}

# under_fault: checks that hold while the fault lasts: the loader said
# WHAT; the store holds DURABLE entries; the kernel's list holds every entry
# from there on (nothing trimmed past the store), however long the fault
# lasts and whatever else is measured; store + list verify
under_fault() {
	local what=$1 lag trimmed
	grep -F -- "$what" "$LOADER_LOG"
	DURABLE=$(store_entries)
	lag=$(status_field lag)
	echo "under the fault: store $DURABLE entries, lag $lag, helper trimmed $(state_value trimmed)"
	# lag may still be 0 here: the fault may first have shown in an
	# fdatasync with nothing queued. What the store cannot take shows
	# below: every entry measured during the fault stays lag.
	# measured during the fault, and a few snapshot periods (1 s each)
	mkdir "$WORK/during"
	measure_files 20 "$WORK/during"
	sleep 3
	trimmed=$(state_value trimmed)
	((trimmed <= $(store_entries)))
	# the kernel's list reaches back to the store's end: no gap
	(($(status_field "kernel trimmed") <= $(store_entries)))
	(($(status_field lag) >= lag + 20))
	verify_store_ok
	ALIVE_UNDER_FAULT=no
	if loader_alive; then ALIVE_UNDER_FAULT=yes; fi
	echo "loader still running under the fault: $ALIVE_UNDER_FAULT"
}

# after_fault: the fault is gone: the loader catches up (or, if it exited,
# a new one does: the test then fails at the end, because the loader was to
# resume on its own), trims go on; stopped, it leaves store == kernel list,
# and verify passes
after_fault() {
	local restarted='' rc=0 trimmed
	mkdir "$WORK/after"
	measure_files 10 "$WORK/after"
	if loader_alive; then
		wait_lag0
	else
		wait "$LOADER_PID" || rc=$?
		LOADER_PID=
		restarted="imasnap-load exited (status $rc) on the fault instead of waiting for it to clear"
		# a second try: after EIO the first fsync of the store's
		# directory may report the failed writeback of the fault (an
		# error no one saw is reported once, to the next syncer)
		if ! start_loader --snapshot-entries 1; then
			restarted+="; restart 1 failed: $(grep -v "following IMA" "$LOADER_LOG" | tail -n 1)"
			start_loader --snapshot-entries 1
		fi
		wait_lag0
		restarted+="; a restart resumed with no gap"
	fi
	(($(store_entries) >= DURABLE))
	trimmed=$(state_value trimmed)
	measure_files 5 "$WORK/after"
	wait_trimmed_above "$trimmed"
	# compared with no loader trimming meanwhile (each check's read of
	# the store adds an entry, and so another trim): it drains and exits 0
	stop_loader
	assert_store_is_kernel_log
	verify_store_ok
	if [[ -n $restarted ]]; then
		echo "$restarted" >&2
		return 1
	fi
}

@test "ENOSPC: the store's file system fills up; the loader resumes when space returns" {
	# 8 MiB of 1 KiB blocks with a journal; the ballast leaves 24 KiB
	fault_fs enospc 0 8
	start_on_fs
	local avail
	avail=$(df --output=avail -B1 "$FAULT_MNT" | tail -n 1)
	fallocate -l $((avail - 24 * 1024)) "$FAULT_MNT/ballast"
	measure_until_loader_says "No space left on device" 4000
	echo "ENOSPC after $MEASURED files"
	under_fault "cannot write store $STORE: No space left on device"
	rm "$FAULT_MNT/ballast"
	after_fault
}

# eio_test TARGET: the store's device switches to TARGET (fault_table)
# while files are measured, then back to the disk. The file system has no
# journal and goes on after errors: ext4's journal would abort on the first
# failed write and keep the file system read-only until it is mounted again,
# which no loader can do; this way, once the device works, so do writes.
eio_test() {
	fault_fs "eio-$1" 8 16 -O ^has_journal
	start_on_fs
	fault_table "eio-$1" "$1"
	measure_until_loader_says "Input/output error" 4000
	echo "EIO after $MEASURED files"
	under_fault "cannot write store $STORE: Input/output error"
	fault_table "eio-$1" linear
	after_fault
}

@test "EIO: the store's device fails writes (dm-flakey error_writes); the loader resumes when it works again" {
	eio_test flakey
}

@test "EIO: the store's device fails all I/O (dm error target); the loader resumes when it works again" {
	eio_test error
}
