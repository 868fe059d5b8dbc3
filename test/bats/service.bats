#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-only
#
# The loader as a service sees it, without systemd (the disk-image suite runs
# it under systemd): the configuration file, readiness through the notify
# socket only after catch-up, and STOPPING=1 on SIGTERM (docs/service.md).

load helpers
load imasnap

NOTIFY=$TREE/test/tools/notify-listen.py

# run_loader ARGS...: $LOADER with ARGS only (start_loader adds --store),
# in the background; returns once it follows the log (60 s at most)
run_loader() {
	local i
	LOADER_LOG=$BATS_TEST_TMPDIR/loader.log
	"$LOADER" "$@" >"$LOADER_LOG" 2>&1 &
	LOADER_PID=$!
	for ((i = 0; i < 600; i++)); do
		grep -qs "following IMA's measurements" "$LOADER_LOG" && break
		sleep 0.1
	done
}

@test "a configuration file sets store, ring and group; the command line overrides it" {
	local conf=$BATS_TEST_TMPDIR/imasnap.conf store=$BATS_TEST_TMPDIR/cfgstore
	printf '# test\nstore = %s\nring_size = 64K\nsnapshot_entries = 0\nstore_group = daemon\n' \
		"$store" >"$conf"
	run "$LOADER" --check-config --config "$conf" --snapshot-bytes 0
	echo "$output"
	[[ $status -eq 0 ]]
	[[ $output == *"store = $store"* && $output == *"ring_size = 65536"* ]]
	[[ $output == *"snapshot_entries = 0"* && $output == *"snapshot_bytes = 0"* ]]
	STORE=$store
	run_loader --config "$conf"
	cat "$LOADER_LOG"
	grep -q "following IMA's measurements (ring 65536 bytes)" "$LOADER_LOG"
	"$MEASURE" -n 50 "$WORK/a"
	wait_lag0
	[[ $(stat -c %a:%U:%G "$store") == 750:root:daemon ]]
	stop_loader
	assert_store_is_kernel_log
}

@test "a bad configuration file: FILE:LINE, exit status 2, nothing created or loaded" {
	local conf=$BATS_TEST_TMPDIR/bad.conf store=$BATS_TEST_TMPDIR/never
	printf 'store = %s\nring_sz = 1M\n' "$store" >"$conf"
	run "$LOADER" --config "$conf"
	echo "$output"
	[[ $status -eq 2 ]]
	[[ $output == *"$conf:2: unknown key 'ring_sz'"* ]]
	[[ ! -e $store && ! -e /sys/fs/bpf/imasnap/capture_entry ]]
	run "$LOADER" --check-config --config "$conf"
	[[ $status -eq 1 && $output == *"$conf:2: unknown key"* ]]
	printf 'store = %s\nprotect = maybe\n' "$store" >"$conf"
	run "$LOADER" --config "$conf"
	[[ $status -eq 2 && $output == *"$conf:2: protect = maybe: not yes or no"* ]]
	[[ ! -e $store ]]
}

@test "READY=1 only once the store holds every entry listed before the start; STOPPING=1 on SIGTERM" {
	local sock=$BATS_TEST_TMPDIR/notify.sock msgs=$BATS_TEST_TMPDIR/notify.log before i at_ready
	python3 "$NOTIFY" "$sock" "$msgs" &
	local listener=$!
	for ((i = 0; i < 100; i++)); do
		grep -qs listening "$msgs" && break
		sleep 0.1
	done
	"$MEASURE" -n 500 "$WORK/before"
	before=$(kernel_count)
	((before >= 500))
	STORE=$BATS_TEST_TMPDIR/store
	LOADER_LOG=$BATS_TEST_TMPDIR/loader.log
	NOTIFY_SOCKET=$sock "$LOADER" --store "$STORE" >"$LOADER_LOG" 2>&1 &
	LOADER_PID=$!
	for ((i = 0; i < 600; i++)); do
		grep -qs READY=1 "$msgs" && break
		sleep 0.1
	done
	# counted at once: the loader had caught up before it said ready
	at_ready=$(python3 "$TREE/test/tools/count-records.py" "$STORE/binary_runtime_measurements")
	cat "$msgs"
	grep -q "^READY=1 STATUS=" "$msgs"
	echo "kernel listed $before before the start; the store held $at_ready at READY=1"
	((at_ready >= before))
	run grep -c STOPPING "$msgs"
	[[ $output == 0 ]]
	stop_loader
	wait "$listener"
	grep -qx "STOPPING=1" "$msgs"
}

# The package's preinst (upgrade) and prerm (removal) step: with a
# protection in force dpkg could not replace the loader's executable.
@test "release-protection lifts a protection in force for the configured store, else does nothing" {
	local dest=$BATS_TEST_TMPDIR/root conf=$BATS_TEST_TMPDIR/imasnap.conf
	# installed under $dest (no DESTDIR): the script calls $dest/usr/sbin's loader
	make -C "$TREE" -s install PREFIX="$dest/usr" SYSCONFDIR="$dest/etc" \
		DKMSDIR="$dest/usr/src/imasnap" STATEDIR="$dest/var/lib/imasnap" >/dev/null
	STORE=$BATS_TEST_TMPDIR/pstore
	printf 'store = %s\nprotect = yes\n' "$STORE" >"$conf"
	[[ ! -e /sys/fs/bpf/imasnap/protect_table ]]
	IMASNAP_CONFIG=$conf "$dest/usr/lib/imasnap/release-protection"
	LOADER=$dest/usr/sbin/imasnap-load
	run_loader --config "$conf"
	stop_loader
	[[ -e /sys/fs/bpf/imasnap/protect_table ]]
	run rm -f "$STORE/binary_runtime_measurements"
	[[ $status -ne 0 && -e $STORE/binary_runtime_measurements ]]
	run env IMASNAP_CONFIG="$conf" "$dest/usr/lib/imasnap/release-protection"
	echo "$output"
	[[ $status -eq 0 && $output == *"lifted"* ]]
	[[ ! -e /sys/fs/bpf/imasnap/protect_table ]]
	rm "$STORE/binary_runtime_measurements"
}
