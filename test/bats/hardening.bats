#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-only
#
# Hardening of the loader and the CLI: no code a caller names is loaded
# (--tcti, OPENSSL_CONF); the control socket's two ends check each other and
# a silent client does not delay commits; a requested snapshot trims what the
# loader itself stored; a second loader changes nothing; a new epoch at a cut
# saves what it cuts first, and records its base, which verify requires.
# One store for the whole file (trims change the list for the rest of the
# boot); the last test cuts the whole list.
#
# Run alone with: test/vm/run.sh test/bats/hardening.bats

load helpers
load imasnap

TOOLS=$TREE/test/bats/hardening-tools.py

setup_file() {
	export STORE=$BATS_FILE_TMPDIR/parent/store
	export EVIL=$BATS_FILE_TMPDIR/evil.so
	cc -shared -fPIC -o "$EVIL" "$TREE/test/unit/evil_module.c"
}

setup() {
	require_ima
	WORK=$(tmpfs_dir)
	grep -q '^imasnap ' /proc/modules || insmod "$KO"
	export EVIL_MARKER=$BATS_TEST_TMPDIR/evil-was-loaded
}

teardown() {
	loader_teardown
	[[ -z ${HELPER_PID:-} ]] || kill "$HELPER_PID" 2>/dev/null || true
	rm -rf "$WORK"
}

# the helper's trimmed count, epoch_start and the list's length: what a cut changes
helper_view() {
	echo "$(state_value trimmed) $(state_value epoch_start) $(wc -l <"$IMA_DIR/ascii_runtime_measurements")"
}

@test "hardening: a TCTI naming a library and OPENSSL_CONF's modules are never loaded" {
	local cnf=$BATS_TEST_TMPDIR/openssl.cnf
	printf '%s\n' 'openssl_conf = init' '[init]' 'providers = providers' \
		'[providers]' 'evil = evil' 'default = default' '[default]' 'activate = 1' \
		'[evil]' "module = $EVIL" 'activate = 1' >"$cnf"
	run "$LOADER" --store "$STORE" --tcti "$EVIL"
	echo "$output"
	[[ $status -eq 2 ]]
	[[ $output == *"never loaded by path"* ]]
	run "$CLI" verify --store "$STORE" --tcti "$EVIL"
	[[ $status -eq 2 ]]
	[[ ! -e $EVIL_MARKER ]]
	# the first loader of the boot reads the TPM (a new store) and replays
	OPENSSL_CONF=$cnf OPENSSL_MODULES=$BATS_FILE_TMPDIR start_loader --snapshot-entries 0 \
		--snapshot-bytes 0 --snapshot-kmem 0
	measure_files 3 "$WORK"
	wait_lag0
	OPENSSL_CONF=$cnf run "$CLI" verify --store "$STORE"
	echo "$output"
	[[ $status -eq 0 ]]
	stop_loader
	[[ ! -e $EVIL_MARKER ]]
}

@test "hardening: imasnap snapshot refuses a control socket that a non-root process bound" {
	local dir=$BATS_TEST_TMPDIR/squatted line
	mkdir -p "$dir"
	coproc SQUAT { exec python3 "$TOOLS" squat "$dir"; }
	HELPER_PID=$SQUAT_PID
	read -r -t 60 line <&"${SQUAT[0]}"
	[[ $line == ready ]]
	run "$CLI" snapshot --store "$dir"
	echo "$output"
	[[ $status -eq 3 ]]
	[[ $output == *"held by uid 65534, not root"* ]]
	[[ $output != *"trimmed 5"* ]]
}

@test "hardening: clients that connect and send nothing do not delay the loader's commits" {
	local line lag
	start_loader --snapshot-entries 0 --snapshot-bytes 0 --snapshot-kmem 0
	# 8 silent connections for 60 s, each replaced when the loader drops it
	coproc HOLD { exec python3 "$TOOLS" hold "$STORE" 60 8; }
	HELPER_PID=$HOLD_PID
	read -r -t 60 line <&"${HOLD[0]}"
	[[ $line == ready ]]
	lag=$(python3 "$TOOLS" lag "$STORE" "$WORK" 10)
	echo "longest wait for an entry to be stored: $lag ms"
	# the clients were there all along
	kill -0 "$HOLD_PID"
	# 50 ms group commit plus a fdatasync on ramfs, with TCG's slowness
	((lag < 500))
	stop_loader
}

@test "hardening: a requested snapshot trims what the loader stored, not a file planted at its path" {
	local parent=${STORE%/store} entries head
	start_loader --snapshot-entries 0 --snapshot-bytes 0 --snapshot-kmem 0
	measure_files 5 "$WORK"
	wait_lag0
	entries=$(status_field "store entries")
	head=$(( $(state_value trimmed) + $(state_value epoch_start) ))
	((head < entries))
	# the store's directory moves away; a store of its first entry takes its path
	mv "$parent" "$parent.moved"
	mkdir -p "$STORE"
	python3 "$TOOLS" first "$parent.moved/store/binary_runtime_measurements" \
		"$STORE/binary_runtime_measurements"
	run "$CLI" snapshot --store "$STORE"
	echo "$output"
	[[ $status -eq 0 ]]
	head=$(( $(state_value trimmed) + $(state_value epoch_start) ))
	echo "the loader held $entries entries; the kernel's list now starts at $head"
	((head >= entries))
	rm -rf "$parent"
	mv "$parent.moved" "$parent"
	wait_lag0
	verify_ok
	stop_loader
}

@test "hardening: a second loader, for another store, changes nothing" {
	local other=$BATS_TEST_TMPDIR/other before
	start_loader --snapshot-entries 0 --snapshot-bytes 0 --snapshot-kmem 0
	# the list was trimmed: a new store elsewhere would begin an epoch at a cut
	(($(state_value trimmed) > 0))
	before=$(helper_view)
	run "$LOADER" --store "$other/store"
	echo "$output"
	[[ $status -eq 1 ]]
	[[ $output == *"another imasnap-load is running"* ]]
	[[ $(helper_view) == "$before" ]]
	[[ ! -e $other ]]
	stop_loader
}

@test "hardening: verify refuses history replaced by a fake epoch base and filler on PCR 16" {
	local forged=$BATS_TEST_TMPDIR/forged
	(($(state_value trimmed) > 0))
	# root's forgery, DIR/epoch and the resettable PCR 16 made to agree with it
	run python3 "$TOOLS" forge "$STORE" "$forged"
	echo "$output"
	[[ $status -eq 0 ]]
	run "$CLI" verify --store "$forged"
	echo "$output"
	[[ $status -eq 1 ]]
	[[ $output == *"FAIL: epoch base: the base is not logged in PCR 10"* ]]
	# the real history still verifies (nothing of it is on PCR 16)
	verify_ok
}

@test "hardening: a new epoch at a cut whose entries cannot be saved cuts nothing" {
	local tiny=$BATS_TEST_TMPDIR/tiny before
	start_loader --snapshot-entries 0 --snapshot-bytes 0 --snapshot-kmem 0
	# more than the one page the store's file system will have room for
	measure_files 100 "$WORK"
	wait_lag0
	stop_loader
	(($(wc -c <"$KERNEL_LOG") > 8192))
	mkdir -p "$tiny"
	mount -t tmpfs -o size=4k tmpfs "$tiny"
	before=$(helper_view)
	run "$LOADER" --store "$tiny/store"
	echo "$output"
	[[ $(helper_view) == "$before" ]]
	ls -la "$tiny/store"
	umount "$tiny" || true
	[[ $status -eq 1 ]]
	[[ $output == *"nothing is cut"* ]]
	[[ $output != *"a new epoch begins here"* ]]
	# the store it belongs to goes on
	start_loader --snapshot-entries 0 --snapshot-bytes 0 --snapshot-kmem 0
	wait_lag0
	verify_ok
	stop_loader
}

# last: it cuts the whole list
@test "hardening: a new epoch at a cut records its base in DIR/epoch; verify takes no other" {
	local cut=$BATS_TEST_TMPDIR/cut forged=$BATS_TEST_TMPDIR/forged base
	STORE=$cut/store start_loader --snapshot-entries 0 --snapshot-bytes 0 --snapshot-kmem 0
	[[ $(cat "$LOADER_LOG") == *"a new epoch begins here"* ]]
	ls "$cut/store"/binary_runtime_measurements.unproven-*
	base=$(sed -n 's/^base //p' "$cut/store/epoch")
	echo "recorded base: $base"
	[[ $base =~ ^[0-9]+\ [0-9a-f]{40}$ ]]
	measure_files 3 "$WORK"
	STORE=$cut/store wait_lag0
	STORE=$cut/store verify_store_ok
	[[ $output == *"began at a cut"* ]]
	stop_loader
	# the same store with another base recorded: refused
	mkdir -p "$forged"
	cp "$cut/store/binary_runtime_measurements" "$cut/store/epoch" "$forged/"
	sed -i 's/^base \([0-9]*\) .*/base \1 0123456789012345678901234567890123456789/' "$forged/epoch"
	run "$CLI" verify --store "$forged"
	echo "$output"
	[[ $status -eq 1 ]]
	[[ $output == *"not the record the loader recorded"* ]]
	# and with none recorded
	sed -i '/^base /d' "$forged/epoch"
	run "$CLI" verify --store "$forged"
	echo "$output"
	[[ $status -eq 1 ]]
	[[ $output == *"did not record"* ]]
}
