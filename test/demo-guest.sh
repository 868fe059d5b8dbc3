#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The demo's guest half (test/demo.sh boots the VM): runs as root inside the
# test guest, whose IMA policy measures root's reads of tmpfs files.
set -euo pipefail

TREE=${IMASNAP_TREE:?run by test/demo.sh inside the test guest}
STORE=/var/lib/imasnap
KO=$TREE/kernel-helper/imasnap.ko

# The guest's policy measures root's reads of tmpfs files, and /var/lib is a
# tmpfs here: reading a store that the loader holds open for writing would
# add an open_writers violation each time. A RAM file system the policy does
# not measure keeps the demo's log to what the demo does (docs/formats.md: "Where to
# keep the store").
mkdir -p "$STORE"
mount -t ramfs imasnap-store "$STORE"

step() { printf '\n### %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "imasnap-load: catch up with the entries IMA listed since boot, then follow"
"$TREE/imasnap-load" --store "$STORE" --snapshot-entries 0 --snapshot-bytes 0 --snapshot-kmem 0 &
loader=$!
trap 'kill $loader 2>/dev/null || true' EXIT
# ready once its link is pinned
until [[ -e /sys/fs/bpf/imasnap/capture_entry_link ]]; do
	kill -0 "$loader"
	sleep 0.2
done
run bpftool prog show name capture_entry

step "a measurement load: 4 processes read 2,000 new files on tmpfs"
mkdir -p /tmp/demo
run "$TREE/.output/measure" -w 4 -n 2000 /tmp/demo/load
until "$TREE/imasnap" status --store "$STORE" | grep -q '^lag: 0$'; do sleep 0.2; done

step "status"
run "$TREE/imasnap" status --store "$STORE"

step "the store is the kernel's own binary_runtime_measurements, byte for byte"
run cmp "$STORE/binary_runtime_measurements" /sys/kernel/security/ima/binary_runtime_measurements
echo "identical"

step "verify: store + kernel list replay to the TPM's PCRs"
run "$TREE/imasnap" verify --store "$STORE"

step "snapshot: the kernel helper trims what the store holds"
run insmod "$KO"
run "$TREE/imasnap" snapshot --store "$STORE"
until "$TREE/imasnap" status --store "$STORE" | grep -q '^lag: 0$'; do sleep 0.2; done
run cat /sys/kernel/security/imasnap/state
run tail -n 1 /sys/kernel/security/ima/ascii_runtime_measurements

step "verify after the snapshot: the store alone and the kernel list from its base"
run "$TREE/imasnap" verify --store "$STORE"
run "$TREE/imasnap" status --store "$STORE"

step "stop the loader (SIGTERM drains and exits 0)"
kill -TERM "$loader"
wait "$loader"
trap - EXIT
echo "done"
