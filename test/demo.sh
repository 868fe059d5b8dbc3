#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The demo, end to end, on a fresh Debian 12 machine (as root): installs the
# packages and the test kernel, builds, boots Debian's 6.1 kernel in qemu with
# a software TPM and runs test/demo-guest.sh inside: the loader following
# IMA's log, a measurement load, status, verify, a snapshot and verify again.
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$TOP"
if [[ $(id -u) -ne 0 ]]; then
	echo "demo.sh: run as root (apt-get, qemu with a 9p export of /)" >&2
	exit 1
fi
test/vm/deps.sh check 2>/dev/null || test/vm/deps.sh install
make
exec test/vm/run.sh --script test/demo-guest.sh
