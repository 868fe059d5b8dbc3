#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-only
#
# A bounded concurrency soak: a fixed number of rounds (IMASNAP_SOAK_ROUNDS,
# default 6), not a time. Throughout, two writers measure and a reader opens
# both IMA list files in every mode (read-only, read-write, O_ACCMODE 3) and
# the helper's state file, checking every list it reads; the loader's
# automatic policy trims every 40 entries. Each round takes a CLI snapshot
# through the running loader (racing those trims), then in turn SIGKILLs and
# restarts the loader, or unloads and reloads the helper. At the end the
# store is the kernel's list, verify passes, and the kernel logged no
# warning, BUG (KASAN), lockdep or list-corruption report. `make test-all`
# runs it longer on the lockdep+KASAN kernel (test/run-tests.sh).
#
# Run alone with: test/vm/run.sh test/bats/soak.bats
#   (--kernel ima-kexec --env IMASNAP_SOAK_ROUNDS=N for the long one)

load helpers
load imasnap
load module-helpers

LISTFILE=$TREE/test/tools/listfile.py
POLICY=(--snapshot-entries 40 --snapshot-bytes 0)

teardown() {
	loader_teardown
	helper_teardown
}

@test "soak: rounds of CLI snapshots racing automatic trims and readers in every open mode, loader SIGKILLs and helper reloads: store is the kernel list, verify OK, no kernel report" {
	local rounds=${IMASNAP_SOAK_ROUNDS:-6} d=$BATS_TEST_TMPDIR i w reader
	local trims=0 kills=0 reloads=0
	insmod "$KO"
	start_loader "${POLICY[@]}"
	nice -n 5 python3 "$LISTFILE" loop "$d/stop" "$BIN" "$ASCII" "$SNAP/state" \
		>"$d/reads" 3>&- 7<&- &
	reader=$!
	BG_PIDS+=("$reader")
	writers_start 2 "$WORK"
	for ((i = 0; i < rounds; i++)); do
		writers_measured 20
		w=$(writer_count)
		snapshot_bounded
		[[ $output == trimmed* ]] && trims=$((trims + 1))
		case $((i % 3)) in
		1)
			kill_loader
			kills=$((kills + 1))
			start_loader "${POLICY[@]}"
			;;
		2)
			unload
			writers_measured 5
			insmod "$KO"
			reloads=$((reloads + 1))
			;;
		esac
		# the writers measured through the round
		(($(writer_count) > w))
		kill -0 "$reader"
	done
	touch "$d/stop"
	wait "$reader"
	BG_PIDS=()
	writers_stop
	echo "$rounds rounds: $trims CLI trims, $kills loader kills, $reloads helper reloads, $(writer_count) measurements; opens: $(cat "$d/reads")"
	# every mode opened the lists while all of it ran
	[[ $(cat "$d/reads") =~ (^| )acc3:ok\ ([0-9]+) ]]
	((BASH_REMATCH[2] >= rounds))
	[[ $(cat "$d/reads") =~ (^| )ro:ok\ ([0-9]+) ]]
	((BASH_REMATCH[2] >= rounds))
	((trims >= (rounds + 1) / 2))
	wait_lag0
	assert_store_is_kernel_log
	verify_ok
	stop_loader
	no_kernel_problems
}
