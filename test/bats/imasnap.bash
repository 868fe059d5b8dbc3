# SPDX-License-Identifier: GPL-2.0-only
#
# Helpers for suites that run imasnap-load (`load imasnap` after `load
# helpers`). Each test gets its own store in $BATS_TEST_TMPDIR (ramfs, not
# measured, so reading the store adds no entries) and stops its loader in
# teardown.

LOADER=$TREE/imasnap-load
CLI=$TREE/imasnap
MEASURE=$TREE/.output/measure
KERNEL_LOG=/sys/kernel/security/ima/binary_runtime_measurements
WRITER_PIDS=()

# The default set-up of a suite that loads this file (one may define its
# own after `load imasnap`): IMA required, a measured scratch directory
# $WORK, and no loader left behind.
setup() {
	require_ima
	WORK=$(tmpfs_dir)
}

teardown() {
	loader_teardown
	rm -rf "$WORK"
}

# start_loader [ARGS...]: start imasnap-load on $STORE, wait until it follows
start_loader() {
	STORE=${STORE:-$BATS_TEST_TMPDIR/store}
	LOADER_LOG=$BATS_TEST_TMPDIR/loader.log
	local i started ready="following IMA's measurements"
	# the log keeps every start of this test: wait for one more "ready"
	started=$(grep -cs "$ready" "$LOADER_LOG" || true)
	"$LOADER" --store "$STORE" "$@" >>"$LOADER_LOG" 2>&1 &
	LOADER_PID=$!
	for ((i = 0; i < 600; i++)); do
		(($(grep -cs "$ready" "$LOADER_LOG" || true) > started)) && return 0
		if ! kill -0 "$LOADER_PID" 2>/dev/null; then
			cat "$LOADER_LOG" >&2
			LOADER_PID=
			return 1
		fi
		sleep 0.1
	done
	echo "imasnap-load did not start in 60 s" >&2
	cat "$LOADER_LOG" >&2
	return 1
}

# stop_loader: SIGTERM, and insist on a clean exit 0
stop_loader() {
	[[ -n ${LOADER_PID:-} ]] || return 0
	local rc=0
	kill -TERM "$LOADER_PID"
	wait "$LOADER_PID" || rc=$?
	LOADER_PID=
	if ((rc != 0)); then
		echo "imasnap-load exited with $rc" >&2
		cat "$LOADER_LOG" >&2
		return 1
	fi
}

kill_loader() {
	[[ -n ${LOADER_PID:-} ]] || return 0
	kill -KILL "$LOADER_PID" 2>/dev/null || true
	wait "$LOADER_PID" 2>/dev/null || true
	LOADER_PID=
}

# writers_start N DIR: N writers (test/kexec/writer.sh) measuring new files
# in DIR one after another until writers_stop; each appends a file's name to
# $WRITER_LIST once its measurement returned, so writer_count says how many
# measurements they made: overlaps are asserted, not hoped for.
writers_start() {
	local n=$1 dir=$2 w
	WRITER_LIST=${WRITER_LIST:-$BATS_TEST_TMPDIR/writers.list}
	: >>"$WRITER_LIST"
	for ((w = 0; w < n; w++)); do
		bash "$TREE/test/kexec/writer.sh" "$dir/w$w" "$WRITER_LIST" </dev/null >/dev/null 2>&1 3>&- &
		WRITER_PIDS+=("$!")
	done
}

writer_count() {
	local n
	n=$(wc -l <"$WRITER_LIST")
	echo "$n"
}

# writers_measured N: wait until the writers made N more measurements from
# now (60 s at most): they are measuring at this point, whatever the speed
writers_measured() {
	local want=$(($(writer_count) + $1)) i
	for ((i = 0; i < 600; i++)); do
		(($(writer_count) >= want)) && return 0
		sleep 0.1
	done
	echo "the writers made $(writer_count) of $want measurements in 60 s" >&2
	return 1
}

writers_stop() {
	local p
	for p in "${WRITER_PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${WRITER_PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	WRITER_PIDS=()
}

# teardown: stop a loader the test left running and show its log (bats
# prints it only for a failed test)
loader_teardown() {
	writers_stop
	kill_loader
	if [[ -s ${LOADER_LOG:-} ]]; then
		echo "--- imasnap-load log:"
		tail -n 30 "$LOADER_LOG"
	fi
}

# status_field NAME: one "NAME: value" of `imasnap status`
status_field() {
	"$CLI" status --store "$STORE" | sed -n "s/^$1: \([0-9]*\).*/\1/p"
}

# wait_lag0: until the store holds every entry the kernel listed (60 s)
wait_lag0() {
	local i lag
	for ((i = 0; i < 600; i++)); do
		lag=$(status_field lag)
		[[ $lag == 0 ]] && return 0
		sleep 0.1
	done
	echo "lag still ${lag:-unknown} after 60 s" >&2
	"$CLI" status --store "$STORE" >&2
	return 1
}

# assert_store_is_kernel_log [DIR]: the kernel's list is the store, byte for
# byte; after trims, the store's entries from the kernel's first one on
assert_store_is_kernel_log() {
	local dir=${1:-$STORE} head store
	store=$dir/binary_runtime_measurements
	head=$("$CLI" status --store "$dir" | sed -n 's/^kernel trimmed: //p')
	if [[ $head != 0 ]]; then
		store=$BATS_TEST_TMPDIR/store-from-head
		"$CLI" export --store "$dir" --from "$head" >"$store"
	fi
	if ! cmp "$store" "$KERNEL_LOG"; then
		echo "store (from entry $head): $(stat -c %s "$store") bytes, kernel: $(cat "$KERNEL_LOG" | wc -c) bytes" >&2
		return 1
	fi
}

# record_count FILE: records in a binary log
record_count() {
	"$CLI" status --store "$(dirname "$1")" | sed -n 's/^store entries: //p'
}

# verify_store_ok: `imasnap verify` passes: store + kernel list replay to
# the TPM (a list never trimmed has no base of its own)
verify_store_ok() {
	run "$CLI" verify --store "$STORE"
	echo "$output"
	[[ $status -eq 0 ]]
	[[ $output == *"OK: store + kernel list"* ]]
}

# verify_ok: verify_store_ok, and the kernel's list from its base
verify_ok() {
	verify_store_ok
	[[ $output == *"OK: kernel list from its base"* ]]
}

# evmctl_ok: evmctl, an independent replay, accepts the store against the
# TPM's PCRs (sha1 and sha256 banks)
evmctl_ok() {
	local algo args=()
	for algo in sha1 sha256; do
		pcrs_file "$algo" "$BATS_TEST_TMPDIR/pcrs-$algo"
		args+=(--pcrs "$algo,$BATS_TEST_TMPDIR/pcrs-$algo")
	done
	run evmctl ima_measurement --ignore-violations "${args[@]}" \
		"$STORE/binary_runtime_measurements"
	echo "$output" | tail -n 5
	[[ $status -eq 0 ]]
}

# snapshot_bounded: imasnap snapshot, retried while readers keep the list
# busy (EBUSY: the helper waits for them boundedly), 50 times at most
snapshot_bounded() {
	local t
	for ((t = 0; t < 50; t++)); do
		run "$CLI" snapshot --store "$STORE"
		[[ $status -eq 0 ]] && return 0
		echo "snapshot: $output"
		[[ $output == *"try again"* ]] || return 1
		sleep 0.2
	done
	echo "snapshot still refused after 50 tries: readers never let go" >&2
	return 1
}
