#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Cost of the protection's LSM hooks on ordinary file work, run inside the
# test guest:
#   test/vm/run.sh --script test/bench/protect.sh
# One process opens, reads 4 KiB from, writes 64 bytes to and closes FILES
# unrelated files in turn, ITERATIONS times in all, and reports operations
# (open+read+write+close) per second: without the programs, and with them
# in force (created by `imasnap-load --protect`, loader stopped, so only the
# hooks run), ROUNDS rounds in alternating order. Prints the median ratio of
# the rates (without / with: the slowdown; goal <= 1.02).
set -euo pipefail

TREE=${IMASNAP_TREE:?run inside the test guest}
FILES=${FILES:-64}
ITERATIONS=${ITERATIONS:-200000}
ROUNDS=${ROUNDS:-7}
# ramfs: IMA's test policy does not measure it, so no TPM extend adds noise
WORK=$(mktemp -d /run/bench-protect.XXXXXX)
STORE=$WORK/store
# shellcheck source=test/bench/lib.bash
. "$TREE/test/bench/lib.bash"
trap 'stop_loader; rm -rf "$WORK"' EXIT

# The workload: one C loop, built here (no exec per file; shell builtins
# would measure bash)
cat >"$WORK/filework.c" <<'EOF'
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int files = atoi(argv[2]), i, fd;
	long n = atol(argv[3]), k;
	char path[4096], buf[4096] = { 1 };
	struct timespec a, b;

	for (i = 0; i < files; i++) {
		snprintf(path, sizeof(path), "%s/f%d", argv[1], i);
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, buf, sizeof(buf)) != sizeof(buf))
			return 1;
		close(fd);
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (k = 0; k < n; k++) {
		snprintf(path, sizeof(path), "%s/f%ld", argv[1], k % files);
		fd = open(path, O_RDWR);
		if (fd < 0 || read(fd, buf, sizeof(buf)) != sizeof(buf) ||
		    pwrite(fd, buf, 64, 0) != 64)
			return 1;
		close(fd);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.0f\n", n / (b.tv_sec - a.tv_sec + (b.tv_nsec - a.tv_nsec) / 1e9));
	return 0;
}
EOF
cc -O2 -o "$WORK/filework" "$WORK/filework.c"
mkdir "$WORK/files"

protect_on() {
	start_loader --protect
	stop_loader
	[[ -e /sys/fs/bpf/imasnap/protect_table ]]
}

protect_off() {
	"$TREE/imasnap-load" --release-protection --store "$STORE" 2>/dev/null
}

echo "protection benchmark: $FILES files, $ITERATIONS open/read/write/close per run, $ROUNDS rounds"
echo "hooks attached with protection on: $(
	protect_on
	ls /sys/fs/bpf/imasnap | grep -c '^protect_link_'
	protect_off
)"
ratios=()
for ((r = 1; r <= ROUNDS; r++)); do
	declare -A rate=()
	if ((r % 2)); then order="off on"; else order="on off"; fi
	for mode in $order; do
		[[ $mode == on ]] && protect_on
		rate[$mode]=$("$WORK/filework" "$WORK/files" "$FILES" "$ITERATIONS")
		[[ $mode == on ]] && protect_off
	done
	ratio=$(awk -v a="${rate[off]}" -v b="${rate[on]}" 'BEGIN { printf "%.4f", a / b }')
	ratios+=("$ratio")
	echo "round $r: without ${rate[off]}/s, with ${rate[on]}/s, ratio $ratio"
done

echo "median ratio (rate without / rate with): $(median "${ratios[@]}") (goal <= 1.02)"
