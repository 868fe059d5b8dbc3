#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Runs in the test guest (test/vm/run.sh --script, see docs/testing-fuzz.md):
# makes a few measurements of the kinds the boot's template logs (plain reads,
# a file with a signature xattr, an open_writers violation), trims the first
# entry through the kernel helper so that the list holds a snapshot_aggregate,
# and leaves the binary list and the helper's state in $IMASNAP_RESULTS, from
# which test/fuzz/corpus/ seeds are cut.
set -uo pipefail

RES=${IMASNAP_RESULTS:?}
ima=/sys/kernel/security/ima
helper=/sys/kernel/security/imasnap
dir=$(mktemp -d /tmp/fuzz-corpus.XXXXXX)

for i in 1 2 3 4; do
	echo "fuzz corpus file $i" >"$dir/f$i"
done
# type 3 (EVM_IMA_XATTR_DIGSIG), version 2, sha256, key id, a short signature:
# ima-sig logs it as is when nothing appraises it
setfattr -n security.ima -v 0x030204aabbccdd0004deadbeef "$dir/f2"
for i in 1 2 3; do
	read -r _ <"$dir/f$i"
done
# a read of a file open for writing: an open_writers violation (zero digest)
exec 3>>"$dir/f4"
read -r _ <"$dir/f4"
exec 3>&-

if insmod "$IMASNAP_TREE/kernel-helper/imasnap.ko"; then
	read -r _ sha _ <"$ima/ascii_runtime_measurements"
	echo "1 $sha" >"$helper/trim" || echo "trim failed"
	cp "$helper/state" "$RES/helper-state"
fi
cp "$ima/binary_runtime_measurements" "$RES/binary_runtime_measurements"
cat "$ima/ascii_runtime_measurements"
rmmod imasnap 2>/dev/null
rm -rf "$dir"
[[ -s $RES/binary_runtime_measurements ]]
