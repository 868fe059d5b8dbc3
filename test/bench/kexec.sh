#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# kexec benchmark, run inside the test guest on the CONFIG_IMA_KEXEC kernel:
#   test/vm/run.sh --kernel ima-kexec --script test/bench/kexec.sh [--env ENTRIES=100000]
#
# With ENTRIES measurements of history (persisted by a loader without
# automatic snapshots), `kexec -s -l` of the same kernel twice:
#   stock:   the whole list goes into IMA's kexec segment;
#   imasnap: after `imasnap kexec-prepare` (a snapshot of all the store holds).
# For each: IMA's kexec segment (kprobes, test/bats/helpers.bash),
# the kernel's list, and the memory the load took (MemAvailable before and
# after, caches dropped). `kexec -u` in between frees the image.
set -euo pipefail

TREE=${IMASNAP_TREE:?run inside the test guest}
ENTRIES=${ENTRIES:-100000}
WRITERS=${WRITERS:-4}
MEASURE=$TREE/.output/measure
CLI=$TREE/imasnap
WORK=$(mktemp -d /tmp/bench.XXXXXX)		# tmpfs: measured
SCRATCH=$(mktemp -d "${TMPDIR:-/run/imasnap-bats}/bench-kexec.XXXXXX")	# ramfs
STORE=$SCRATCH/store
SECFS=/sys/kernel/security
# shellcheck source=test/bench/lib.bash
. "$TREE/test/bench/lib.bash"

trap 'ima_kexec_probes_off; kexec -u 2>/dev/null; stop_loader; rm -rf "$WORK"' EXIT

[[ -f $SECFS/ima/binary_runtime_measurements ]] || { echo "no IMA"; exit 1; }
has_ima_kexec || { echo "this kernel has no CONFIG_IMA_KEXEC (boot it with --kernel ima-kexec)"; exit 1; }

mem_available_kib() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
	awk '/^MemAvailable:/ { print $2 }' /proc/meminfo
}

# load LABEL: kexec -s -l, one table row
load() {
	local label=$1 before after list_entries list_bytes size seg
	list_entries=$(sed -n 's/^entries: //p' "$SECFS/imasnap/state")
	list_bytes=$(sed -n 's/^bytes: //p' "$SECFS/imasnap/state")
	before=$(mem_available_kib)
	ima_kexec_probes_on
	kexec -s -l "$IMASNAP_VMLINUZ" --initrd "$IMASNAP_INITRD" --reuse-cmdline
	# before the probes go: removing an event clears the trace buffer
	read -r size seg < <(ima_kexec_sizes) || true
	ima_kexec_probes_off
	after=$(mem_available_kib)
	printf '%-8s %12s %12s %14s %14s %16s\n' "$label" "$list_entries" "$list_bytes" \
		"${size:-?}" "${seg:-?}" "$((before - after))"
	kexec -u
}

insmod "$KO"
start_loader --snapshot-entries 0 --snapshot-bytes 0 --snapshot-kmem 0
t0=$(now)
"$MEASURE" -w "$WRITERS" -n "$ENTRIES" "$WORK" >/dev/null
wait_lag0
find "${WORK:?}" -mindepth 1 -delete	# 100,000 names: too many for one rm
echo "history: $ENTRIES measurements ($WRITERS writers), stored in $(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }') s"

printf '%-8s %12s %12s %14s %14s %16s\n' "" "list" "list" "IMA runtime" "IMA kexec" "MemAvailable"
printf '%-8s %12s %12s %14s %14s %16s\n' "" "entries" "bytes" "size (bytes)" "segment (B)" "taken (KiB)"
load stock
"$CLI" kexec-prepare --store "$STORE" >/dev/null
load imasnap
echo "store: $(status_field "store entries") entries; goal: IMA kexec segment under 65536 bytes after kexec-prepare"
