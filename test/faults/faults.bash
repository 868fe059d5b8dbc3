# SPDX-License-Identifier: GPL-2.0-only
#
# Helpers for the fault tests (test/bats/faults.bats and the power-cut chain
# test/faults/powercut-*.bats), loaded after helpers and imasnap. They build
# file systems on /dev/vda, the raw virtio disk (cache=none) that
# test/vm/run.sh attaches to every boot, through device-mapper devices whose
# tables a test switches to make the disk fail.

# The store lives on ext4, which the guest's policy measures: imasnap reads
# it unmeasured (imasnap-unmeasured says why)
CLI=$TREE/test/faults/imasnap-unmeasured

FAULT_DISK=/dev/vda
# the device-mapper devices and mounts of this suite; teardown removes them
FAULT_PREFIX=imasnap-fault
FAULT_MNT_BASE=/run/imasnap-faults

# require_disk: the test disk is there (run.sh --no-disk leaves it out)
require_disk() {
	if [[ ! -b $FAULT_DISK ]]; then
		echo "no $FAULT_DISK: run.sh attaches it unless --no-disk is given" >&2
		return 1
	fi
}

# dm NAME ARGS...: dmsetup for a device that lives without udev here (the
# library then makes /dev/mapper/NAME itself)
dm() {
	dmsetup --noudevsync "$@"
}

# fault_dev NAME OFFSET_MIB SIZE_MIB: a linear device-mapper device
# /dev/mapper/$FAULT_PREFIX-NAME over that slice of the test disk; prints
# its path
fault_dev() {
	local name=$FAULT_PREFIX-$1 off=$(($2 * 2048)) len=$(($3 * 2048))
	require_disk || return 1
	mkdir -p "$FAULT_MNT_BASE"
	# the slice, for fault_table
	echo "$len $off" >"$BATS_RUN_TMPDIR/fault-$1.slice"
	dm create "$name" --table "0 $len linear $FAULT_DISK $off" || return 1
	[[ -b /dev/mapper/$name ]] || dm mknodes "$name"
	echo "/dev/mapper/$name"
}

# fault_table NAME TARGET: switch the device to TARGET, at once (no freeze
# of the file system first: the disk fails under it, as a real one does)
#   linear  the disk itself (the table fault_dev made)
#   error   every read and write fails (dm-mod's error target)
#   flakey  writes fail with EIO, reads still work (dm-flakey error_writes;
#           up interval 0: always down)
fault_table() {
	local name=$FAULT_PREFIX-$1 len off table
	read -r len off <"$BATS_RUN_TMPDIR/fault-$1.slice" || return 1
	case $2 in
	linear) table="0 $len linear $FAULT_DISK $off" ;;
	error) table="0 $len error" ;;
	flakey) table="0 $len flakey $FAULT_DISK $off 0 3600 1 error_writes" ;;
	*) echo "fault_table: unknown target $2" >&2; return 1 ;;
	esac
	dm suspend --nolockfs "$name" &&
		dm load "$name" --table "$table" &&
		dm resume "$name"
}

# fault_fs NAME OFFSET_MIB SIZE_MIB [MKFS_OPTIONS...]: an ext4 file system
# (1 KiB blocks, no reserved blocks) on fault_dev NAME, mounted on
# $FAULT_MNT_BASE/NAME; sets FAULT_MNT
fault_fs() {
	local name=$1 dev
	dev=$(fault_dev "$1" "$2" "$3") || return 1
	shift 3
	mkfs.ext4 -q -F -b 1024 -m 0 "$@" "$dev" || return 1
	FAULT_MNT=$FAULT_MNT_BASE/$name
	mkdir -p "$FAULT_MNT"
	mount -t ext4 -o errors=continue "$dev" "$FAULT_MNT"
}

# fault_cleanup: unmount and remove what fault_fs and fault_dev made
fault_cleanup() {
	local m d
	for m in "$FAULT_MNT_BASE"/*; do
		[[ -d $m ]] || continue
		if mountpoint -q "$m"; then
			umount "$m" || umount -l "$m"
		fi
		rmdir "$m"
	done
	for d in $(dm ls 2>/dev/null | awk -v p="$FAULT_PREFIX-" 'index($1, p) == 1 { print $1 }'); do
		dm remove --force "$d" || true
	done
}

# load_helper: the kernel helper, loaded if it is not
load_helper() {
	grep -q '^imasnap ' /proc/modules || insmod "$KO"
}

# loader_alive: the loader this test started still runs
loader_alive() {
	[[ -n ${LOADER_PID:-} ]] && kill -0 "$LOADER_PID" 2>/dev/null
}

# store_entries: the records in $STORE's log (what the loader made durable:
# a failed write is truncated away)
store_entries() {
	"$CLI" status --store "$STORE" | sed -n 's/^store entries: //p'
}

# measure_until_loader_says TEXT MAX: measure files in batches of 25 until
# the loader's log holds TEXT (or it exits), at most MAX files; the files
# measured are counted in MEASURED
measure_until_loader_says() {
	local text=$1 max=$2 batch=0 d
	MEASURED=0
	while ((MEASURED < max)); do
		d=$WORK/fill$((batch++))
		mkdir "$d"
		measure_files 25 "$d"
		MEASURED=$((MEASURED + 25))
		sleep 0.2	# one group-commit window, so the loader writes
		grep -qF -- "$text" "$LOADER_LOG" && return 0
		loader_alive || break
	done
	grep -qF -- "$text" "$LOADER_LOG" && return 0
	echo "the loader never said '$text' ($MEASURED files measured; alive: $(loader_alive && echo yes || echo no))" >&2
	cat "$LOADER_LOG" >&2
	return 1
}

# wait_trimmed_above N: until the helper has trimmed more than N entries
# (the loader's automatic snapshot), 30 s
wait_trimmed_above() {
	local i t
	for ((i = 0; i < 300; i++)); do
		t=$(state_value trimmed)
		((t > $1)) && return 0
		sleep 0.1
	done
	echo "the helper trimmed $t entries, not more than $1, in 30 s" >&2
	cat "$LOADER_LOG" >&2
	return 1
}

# store_records FILE: one line per record of a binary log, "pcr sha1 name"
# (as in the kernel's ascii list), then "torn N" if N bytes of a partial
# record follow the last whole one
store_records() {
	python3 "$TREE/test/faults/records.py" "$1"
}
