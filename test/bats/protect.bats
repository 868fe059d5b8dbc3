#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-only
#
# BPF LSM protection (imasnap-load --protect): as root, from processes that
# are not the loader, every way of changing the store, of driving the
# helper's trim file or of removing imasnap's BPF objects fails with EPERM
# (or EACCES) and leaves the store byte for byte as it was, while reading
# works; the same after the loader exited and after it restarted, and the
# loader keeps appending throughout. Each operation runs in a Python child
# (one exec, exact errno); "ok" from it means the operation went through.

load helpers
load imasnap

PIN_DIR=/sys/fs/bpf/imasnap

# each operation in a Python child: "ok" or the errno's name
OPS=$TREE/test/tools/protect-ops.py

setup() {
	require_ima
	WORK=$(tmpfs_dir)
	STORE=$BATS_TEST_TMPDIR/store
	LOG=$STORE/binary_runtime_measurements
	SAVED=$BATS_TEST_TMPDIR/saved
	AS_READER=()
	LOADER_ARGS=()
	PHASE=none
	LOADED_HELPER=
}

teardown() {
	loader_teardown
	[[ -n ${HELD:-} ]] && exec {HELD}>&-
	# lift the protection so that the next test starts without it
	if [[ -e $PIN_DIR/protect_table ]]; then
		"$LOADER" --release-protection --store "$STORE" || true
	fi
	[[ -z $LOADED_HELPER ]] || rmmod imasnap || true
	[[ -z ${DISK_MNT:-} ]] || umount "$DISK_MNT" || true
	rm -rf "$WORK"
}

op() {
	python3 "$OPS" "$@"
}

# save_store / assert_store_saved: the log byte for byte, and every entry's
# name, inode, size, mode, owner and link count
store_listing() {
	# a measured store grows by the violations that reading it records, and
	# the loader then replaces loader.state: the log's size and the state
	# file's inode are the loader's to change there
	if ((${#AS_READER[@]})); then
		stat -c "%n %i %a %u %g %h" "$STORE" "$LOG"
		# loader.state.tmp is there only while the loader saves its state
		ls "$STORE" | grep -v '\.tmp$'
	else
		stat -c "%n %i %s %a %u %g %h" "$STORE" "$STORE"/*
	fi
}

# a store that is measured (tmpfs): until the loader has stored every entry
# the kernel counted (the measurements of root's reads of the store
# included), counted by a reader that is not measured (60 s at most)
settle() {
	local i n
	for ((i = 0; i < 600; i++)); do
		n=$("${AS_READER[@]}" python3 "$TREE/test/tools/count-records.py" "$LOG")
		[[ $n == "$(kernel_count)" ]] && return 0
		sleep 0.1
	done
	echo "the store holds $n entries, the kernel counted $(kernel_count)" >&2
	return 1
}

save_store() {
	mkdir -p "$SAVED"
	((${#AS_READER[@]} == 0)) || settle
	"${AS_READER[@]}" cp "$LOG" "$SAVED/log"
	store_listing >"$SAVED/listing"
}

assert_store_saved() {
	local prefix=()
	# On a measured store (tmpfs) any read while the loader holds the log
	# open for writing makes IMA log an open_writers violation, which the
	# loader appends: there the saved bytes must be the store's start.
	((${#AS_READER[@]} == 0)) || prefix=(-n "$(stat -c %s "$SAVED/log")")
	if ! "${AS_READER[@]}" cmp "${prefix[@]}" "$SAVED/log" "$LOG"; then
		echo "$PHASE: the store changed" >&2
		return 1
	fi
	diff -u "$SAVED/listing" <(store_listing)
}

# denied OP ARGS...: OP fails with EPERM or EACCES, and the store is
# unchanged (which reads it whole: reading works)
denied() {
	save_store
	run python3 "$OPS" "$@"
	echo "$PHASE: $*: $output"
	[[ $output == EPERM || $output == EACCES ]]
	assert_store_saved
}

# the loader appends: new measurements reach the store, which is the kernel's
# list (on a measured store, reading it would add entries: not checked there)
loader_appends() {
	((${#AS_READER[@]} == 0)) || return 0
	local before
	before=$(stat -c %s "$LOG")
	mkdir "$WORK/$PHASE"
	measure_files 3 "$WORK/$PHASE"
	wait_lag0
	assert_store_is_kernel_log
	(($(stat -c %s "$LOG") > before))
}

# in_phases CHECK: CHECK while the protecting loader runs, after it exited,
# and after a restart (which must take the protection over)
in_phases() {
	PHASE=running
	start_loader --protect "${LOADER_ARGS[@]}"
	grep -q "protection of store .* in force" "$LOADER_LOG"
	"$@"
	loader_appends
	stop_loader
	PHASE=stopped
	[[ -e $PIN_DIR/protect_table ]]
	"$@"
	PHASE=restarted
	start_loader "${LOADER_ARGS[@]}"
	grep -q "took over the protection of store" "$LOADER_LOG"
	"$@"
	loader_appends
}

# a descriptor opened before the protection existed, inherited by every op
hold_descriptor() {
	mkdir -p "$STORE"
	: >"$LOG"
	exec {HELD}<>"$LOG"
}

@test "append: a new write descriptor, and one held from before" {
	hold_descriptor
	check() {
		denied append "$LOG"
		denied fd-append "$HELD"
	}
	in_phases check
}

@test "overwrite in place: write(2), a held descriptor, a shared writable mapping" {
	hold_descriptor
	check() {
		denied overwrite "$LOG"
		denied fd-overwrite "$HELD"
		denied fd-mmap-write "$HELD"
	}
	in_phases check
}

@test "O_TRUNC open, for writing and read-only" {
	check() {
		denied open-trunc "$LOG"
		denied open-rdonly-trunc "$LOG"
		denied open-trunc "$STORE/loader.state"
	}
	in_phases check
}

@test "truncate(2)" {
	check() {
		denied truncate "$LOG"
	}
	in_phases check
}

@test "ftruncate on an inherited descriptor" {
	hold_descriptor
	check() {
		denied fd-ftruncate "$HELD"
	}
	in_phases check
}

@test "fallocate punch-hole on an inherited descriptor" {
	hold_descriptor
	check() {
		denied fd-punch-hole "$HELD"
	}
	in_phases check
}

@test "unlink of the log and of the state file" {
	check() {
		denied unlink "$LOG"
		denied unlink "$STORE/loader.state"
	}
	in_phases check
}

@test "rename the log away" {
	check() {
		denied rename "$LOG" "$BATS_TEST_TMPDIR/away"
		denied rename "$STORE/loader.state" "$BATS_TEST_TMPDIR/away"
	}
	in_phases check
}

@test "rename another file over the log, create or symlink in the store" {
	echo forged >"$BATS_TEST_TMPDIR/forged"
	check() {
		denied rename "$BATS_TEST_TMPDIR/forged" "$LOG"
		denied rename "$BATS_TEST_TMPDIR/forged" "$STORE/loader.state"
		denied create "$STORE/loader.state.tmp"
		denied symlink /etc/passwd "$STORE/loader.state.tmp"
	}
	in_phases check
}

@test "hard link over the log, into the store, and of the log elsewhere" {
	echo forged >"$BATS_TEST_TMPDIR/forged"
	check() {
		denied link "$BATS_TEST_TMPDIR/forged" "$STORE/binary_runtime_measurements.new"
		denied link "$LOG" "$BATS_TEST_TMPDIR/alias"
		run ln -f "$BATS_TEST_TMPDIR/forged" "$LOG"
		[[ $status -ne 0 ]]
		assert_store_saved
	}
	in_phases check
}

@test "chmod of the log and of the directory" {
	check() {
		denied chmod "$LOG" 666
		denied chmod "$STORE" 777
		denied utime "$LOG"
	}
	in_phases check
}

@test "chown of the log" {
	check() {
		denied chown "$LOG" 65534 65534
	}
	in_phases check
}

@test "setxattr and removexattr (security.* on ramfs)" {
	check() {
		denied setxattr "$LOG" security.imasnap
		denied removexattr "$LOG" security.imasnap
	}
	in_phases check
}

@test "setxattr (trusted.* on a tmpfs store, which takes them; read back by nobody, so not measured)" {
	STORE=$WORK/store
	LOG=$STORE/binary_runtime_measurements
	SAVED=$(mktemp -d /run/imasnap-saved.XXXXXX)
	chmod 755 "$WORK"
	chmod 777 "$SAVED"
	AS_READER=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	LOADER_ARGS=(--group nogroup)	# the store is root's and the group's only
	# tmpfs does take trusted.* attributes: protection is what stops it
	touch "$WORK/probe"
	run op setxattr "$WORK/probe" trusted.imasnap
	[[ $output == ok ]]
	require_tools getfattr
	check() {
		denied setxattr "$LOG" trusted.imasnap
		run getfattr -n trusted.imasnap "$LOG"
		[[ $status -ne 0 && $output == *"No such attribute"* ]]
	}
	in_phases check
	rm -rf "$SAVED"
}

# A disk's file system has a device with a major number, whose st_dev
# (userspace's encoding) differs from the superblock's s_dev (the kernel's):
# tmpfs, ramfs and 9p (major 0) cannot show that the two were mixed up.
@test "a store on a disk's ext4 (/dev/vda: a device with a major number) is protected" {
	[[ -b /dev/vda ]] || {
		echo "no /dev/vda: run.sh attaches it unless --no-disk is given" >&2
		return 1
	}
	mkfs.ext4 -q -F /dev/vda
	DISK_MNT=$(mktemp -d /run/imasnap-disk.XXXXXX)
	mount /dev/vda "$DISK_MNT"
	(($(stat -c %d "$DISK_MNT") >= 256))
	chmod 755 "$DISK_MNT"
	STORE=$DISK_MNT/store
	LOG=$STORE/binary_runtime_measurements
	SAVED=$(mktemp -d /run/imasnap-saved.XXXXXX)
	chmod 777 "$SAVED"
	# ext4 is measured: read the store as a user the policy does not measure
	AS_READER=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	LOADER_ARGS=(--group nogroup)	# the store is root's and the group's only
	check() {
		denied unlink "$LOG"
		denied rename "$LOG" "$STORE/moved"
		denied truncate "$LOG"
	}
	in_phases check
	rm -rf "$SAVED"
}

@test "moving the store's directory, removing it, mounting over it" {
	echo forged >"$BATS_TEST_TMPDIR/forged"
	mkdir "$BATS_TEST_TMPDIR/empty"
	check() {
		denied rename "$STORE" "$STORE.moved"
		denied rename "$BATS_TEST_TMPDIR/empty" "$STORE"
		denied rmdir "$STORE"
		denied bind-mount "$BATS_TEST_TMPDIR/forged" "$LOG"
		denied tmpfs-mount "$STORE"
		[[ ! -e $STORE.moved ]]
	}
	in_phases check
}

@test "removing a pin, opening a pin" {
	check() {
		local pins
		pins=$(ls "$PIN_DIR" | sort)
		denied unlink "$PIN_DIR/protect_table"
		denied unlink "$PIN_DIR/protect_link_guard_open"
		denied rename "$PIN_DIR/protect_link_guard_write" "$PIN_DIR/x"
		denied obj-get "$PIN_DIR/protect_table"
		run rm -rf "$PIN_DIR"
		[[ $status -ne 0 ]]
		[[ $(ls "$PIN_DIR" | sort) == "$pins" ]]
	}
	in_phases check
}

@test "unmounting the pins' bpffs, lazily or not" {
	check() {
		local pins
		pins=$(ls "$PIN_DIR" | sort)
		# umount -l, then a plain umount (util-linux words EPERM as
		# "must be superuser": the syscall's errno is what counts)
		denied umount "$(stat -c %m "$PIN_DIR")" 2
		denied umount "$(stat -c %m "$PIN_DIR")" 0
		[[ $(stat -f -c %T "$PIN_DIR") == bpf_fs ]]
		[[ $(ls "$PIN_DIR" | sort) == "$pins" ]]
	}
	in_phases check
}

@test "detaching a program: by id, and through a pinned link" {
	check() {
		local links
		links=$(ls "$PIN_DIR" | grep -c '^protect_link_')
		((links >= 20))
		denied detach-pin "$PIN_DIR/protect_link_guard_unlink"
		denied update-pin "$PIN_DIR/protect_link_guard_unlink"
		# the capture program's link, pinned while a loader runs
		if [[ $PHASE != stopped ]]; then
			denied detach-pin "$PIN_DIR/capture_entry_link"
			denied update-pin "$PIN_DIR/capture_entry_link"
		fi
		# every one of our links, programs and maps refuses to open by id
		run op by-id link
		echo "$PHASE: links: $output"
		[[ $output =~ denied=([0-9]+) ]]
		((BASH_REMATCH[1] >= links))
		run op by-id prog
		echo "$PHASE: programs: $output"
		[[ $output =~ denied=([0-9]+) ]]
		((BASH_REMATCH[1] >= links))
		run op by-id map
		echo "$PHASE: maps: $output"
		[[ $output =~ denied=([0-9]+) ]]
		((BASH_REMATCH[1] >= 4))
		# and protection still holds
		denied unlink "$LOG"
	}
	in_phases check
}

@test "reading works: cat, imasnap status, export and verify" {
	check() {
		cmp "$LOG" <(cat "$LOG")
		"$CLI" status --store "$STORE" >/dev/null
		# export is the store plus what the kernel lists beyond it: equal
		# to the store once the loader has stored everything
		wait_lag0
		"$CLI" export --store "$STORE" --format binary | cmp - "$LOG"
		run "$CLI" verify --store "$STORE"
		echo "$output"
		[[ $status -eq 0 ]]
	}
	in_phases check
}

@test "the running loader cannot be traced, have its memory written or its descriptors taken" {
	require_tools strace
	start_loader --protect
	PHASE=running
	denied proc-mem "$LOADER_PID"
	denied vm-writev "$LOADER_PID"
	denied pidfd-getfd "$LOADER_PID" 0
	run strace -p "$LOADER_PID" -e trace=none -o /dev/null
	echo "$output"
	[[ $status -ne 0 && $output == *"Operation not permitted"* ]]
	# and the loader still appends
	loader_appends
}

@test "the loader's executable: not overwritten, truncated, renamed or unlinked" {
	# a copy on ramfs (the tree's is on the read-only 9p root, where a
	# write fails whatever protection does), which is the loader here
	local exe=$BATS_TEST_TMPDIR/bin/imasnap-load
	mkdir -p "${exe%/*}"
	cp "$TREE/imasnap-load" "$exe"
	LOADER=$exe
	echo forged >"$BATS_TEST_TMPDIR/forged"
	check() {
		denied unlink "$exe"
		denied rename "$exe" "$exe.moved"
		denied rename "$BATS_TEST_TMPDIR/forged" "$exe"
		# while it runs, the kernel refuses writes to it (ETXTBSY) first
		if [[ $PHASE == stopped ]]; then
			denied overwrite "$exe"
			denied append "$exe"
			denied truncate "$exe"
			denied open-trunc "$exe"
		fi
		cmp "$exe" "$TREE/imasnap-load"
		[[ ! -e $exe.moved ]]
	}
	in_phases check
}

@test "a restart that is not the recorded loader is refused: LD_* variables, traced, a copy" {
	start_loader --protect
	stop_loader
	PHASE=impostor
	save_store
	local copy=$BATS_TEST_TMPDIR/imasnap-load-copy cmd
	cp "$LOADER" "$copy"
	require_tools strace
	for cmd in "env LD_LIBRARY_PATH=/nonexistent $LOADER" "env LD_PRELOAD= $LOADER" \
		"strace -f -o /dev/null $LOADER" "$copy"; do
		# shellcheck disable=SC2086 # cmd is words
		run timeout 60 $cmd --store "$STORE"
		echo "$cmd: exit $status: $output"
		[[ $status -ne 0 && $status -ne 124 ]]
		[[ $output == *"not recognised as imasnap-load"* || $output == *"not permitted"* ]]
		assert_store_saved
	done
	# the recorded executable, started plainly, takes over
	start_loader
	grep -q "took over the protection of store" "$LOADER_LOG"
	loader_appends
}

@test "lifting: refused while a loader runs and for another store; logged; then the store is free" {
	start_loader --protect
	run "$LOADER" --release-protection --store "$STORE"
	[[ $status -ne 0 ]]
	[[ $output == *"stop it first"* ]]
	stop_loader
	mkdir -p "$BATS_TEST_TMPDIR/other"
	run "$LOADER" --release-protection --store "$BATS_TEST_TMPDIR/other"
	[[ $status -ne 0 ]]
	[[ $output == *"another store"* ]]
	[[ -e $PIN_DIR/protect_table ]]
	PHASE=stopped
	denied unlink "$LOG"
	local mark
	mark=$(kmsg_mark)
	run "$LOADER" --release-protection --store "$STORE"
	echo "$output"
	[[ $status -eq 0 ]]
	kmsg_since "$mark" >"$BATS_TEST_TMPDIR/kmsg"
	grep "imasnap: protection of store $STORE .* lifted by uid 0" "$BATS_TEST_TMPDIR/kmsg"
	[[ ! -e $PIN_DIR/protect_table ]]
	[[ -z $(ls "$PIN_DIR" | grep '^protect_' || true) ]]
	# the administrator may now archive the store
	mv "$STORE" "$BATS_TEST_TMPDIR/archived"
	STORE=$BATS_TEST_TMPDIR/archived
}

@test "without --protect and without pins nothing is protected" {
	start_loader
	[[ ! -e $PIN_DIR/protect_table ]]
	stop_loader
	run op chmod "$LOG" 600
	[[ $output == ok ]]
}

# Last: once the kernel's list is trimmed, a new store cannot hold the whole
# log any more and a loader refuses to start one, as every earlier test does.
@test "trimming: a direct write is refused; imasnap snapshot goes through the loader, refused without one" {
	grep -q '^imasnap ' /proc/modules || { insmod "$KO" && LOADED_HELPER=1; }
	check() {
		local trimmed
		trimmed=$(status_field "kernel trimmed")
		denied write /sys/kernel/security/imasnap/trim "1"
		# a forged count of durable entries (the reboot notifier trusts
		# it), or a rebase, from anyone but the loader
		denied write /sys/kernel/security/imasnap/persisted "999999999"
		denied write /sys/kernel/security/imasnap/rebase "0 - 0"
		[[ $(status_field "kernel trimmed") == "$trimmed" ]]
		save_store
		run "$CLI" snapshot --store "$STORE"
		echo "$PHASE: imasnap snapshot: $output"
		if [[ $PHASE == stopped ]]; then
			[[ $status -ne 0 && $output == *"only its loader trims"* ]]
			[[ $(status_field "kernel trimmed") == "$trimmed" ]]
			assert_store_saved
		else
			[[ $status -eq 0 && $output == trimmed* ]]
			(($(status_field "kernel trimmed") > trimmed))
			wait_lag0
			assert_store_is_kernel_log
		fi
	}
	in_phases check
}
