#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Host tests of the kernel prerequisite checks (user/prereq.c): `imasnap
# check` and the same checks at the start of imasnap-load, on this machine's
# own kernel (the development and CI hosts run a kernel without IMA) and on
# securityfs trees made here (IMASNAP_SECURITYFS), so every message is seen
# both missing and present. Touches only what it creates in its temp dir;
# asserts that the loader creates nothing (store, pins) when it refuses.
# Ends with "prereq: N passed, N failed".
set -uo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
IMASNAP=$TOP/imasnap
LOADER=$TOP/imasnap-load
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PASSED=0 FAILED=0

# check NAME COMMAND...: one test, passed if COMMAND succeeds
check() {
	local name=$1
	shift
	if "$@"; then
		PASSED=$((PASSED + 1))
		echo "ok: $name"
	else
		FAILED=$((FAILED + 1))
		echo "FAILED: $name"
		[[ ! -s $TMP/out ]] || sed 's/^/    | /' "$TMP/out"
	fi
}
# run CMD...: output (both streams) in $TMP/out, status in $RC
run() {
	RC=0
	"$@" >"$TMP/out" 2>&1 || RC=$?
}
has() { grep -qF -- "$1" "$TMP/out"; }
lines() { grep -c -- "$1" "$TMP/out"; }

# A securityfs tree: IMA's lists and the active LSMs as given.
fake_securityfs() {
	local dir=$1 lsms=$2
	mkdir -p "$dir/ima"
	: >"$dir/ima/binary_runtime_measurements"
	echo 0 >"$dir/ima/runtime_measurements_count"
	printf '%s' "$lsms" >"$dir/lsm"
}

# This kernel, independently of imasnap: does its BTF have the function,
# does its config say KALLSYMS_ALL?
# (grep reads all: with -q the writer's SIGPIPE would fail the pipe)
host_has_func() { bpftool btf dump file /sys/kernel/btf/vmlinux 2>/dev/null | grep "FUNC 'ima_add_digest_entry'" >/dev/null; }
host_config() { zcat /proc/config.gz 2>/dev/null | grep -x -- "$1" >/dev/null; }

# 1. No IMA, no LSM list (securityfs not there): each missing piece one line.
NOSEC=$TMP/no-securityfs
run env IMASNAP_SECURITYFS="$NOSEC" "$IMASNAP" check
check "check: exit 1 when IMA is missing" test "$RC" -eq 1
check "check: the IMA message names the file it cannot read" \
	has "missing: IMA: cannot read $NOSEC/ima/binary_runtime_measurements: No such file or directory"
check "check: the BPF LSM message names $NOSEC/lsm" has "missing: BPF LSM: cannot read $NOSEC/lsm"
check "check: one line per piece (5 pieces)" test "$(lines '^\(ok\|missing\): ')" -eq 5
check "check: a summary line counts the missing" has "missing; imasnap-load cannot capture on this kernel"

# 2. This host's own kernel, as it is: what it lacks is said.
run env IMASNAP_SECURITYFS="$NOSEC" "$IMASNAP" check
if host_has_func; then
	check "check: fexit target present on this kernel" has "ok: fexit on ima_add_digest_entry"
else
	check "check: this kernel's BTF has no ima_add_digest_entry: said" \
		has "missing: fexit on ima_add_digest_entry: ima_add_digest_entry is not a function in the kernel's BTF"
fi
if host_config '# CONFIG_KALLSYMS_ALL is not set'; then
	check "check: this kernel has no KALLSYMS_ALL: said" \
		has "missing: KALLSYMS_ALL: /proc/kallsyms lists no data symbols"
elif host_config 'CONFIG_KALLSYMS_ALL=y'; then
	check "check: this kernel has KALLSYMS_ALL: ok" has "ok: KALLSYMS_ALL"
fi
if [[ -r /sys/kernel/btf/vmlinux ]]; then
	check "check: BTF present: ok" has "ok: BTF"
else
	check "check: no BTF: said" has "missing: BTF: cannot read /sys/kernel/btf/vmlinux"
fi

# 3. IMA and the BPF LSM there (a made-up securityfs): both ok.
fake_securityfs "$TMP/sec-bpf" "lockdown,capability,bpf,ima"
run env IMASNAP_SECURITYFS="$TMP/sec-bpf" "$IMASNAP" check
check "check: IMA files there: ok" has "ok: IMA"
check "check: bpf among the LSMs: ok" has "ok: BPF LSM"

# 4. BPF LSM not in lsm=: the message says what to boot with.
fake_securityfs "$TMP/sec-nobpf" "lockdown,capability,yama,bpfx"
run env IMASNAP_SECURITYFS="$TMP/sec-nobpf" "$IMASNAP" check
check "check: bpf not among the LSMs: said, with the lsm= to use" \
	has 'missing: BPF LSM: "bpf" is not among the active LSMs (lockdown,capability,yama,bpfx): boot with lsm=lockdown,capability,yama,bpfx,bpf'
check "check: exit 1 when only some pieces are missing" test "$RC" -eq 1

# 5. The loader on a kernel without IMA: messages, exit 1, nothing created.
PINS=/sys/fs/bpf/imasnap
pins_before=$(test -e $PINS && echo yes || echo no)
run env IMASNAP_SECURITYFS="$NOSEC" "$LOADER" --store "$TMP/store"
check "loader: exit 1 without IMA" test "$RC" -eq 1
check "loader: says IMA is missing" has "missing: IMA: cannot read $NOSEC/ima/binary_runtime_measurements"
check "loader: says nothing was created" has "nothing was loaded or created"
check "loader: no store directory or file created" test ! -e "$TMP/store"
check "loader: no pin directory created" test "$(test -e $PINS && echo yes || echo no)" = "$pins_before"
# --protect also needs the BPF LSM: one more line
run env IMASNAP_SECURITYFS="$TMP/sec-nobpf" "$LOADER" --protect --store "$TMP/store"
check "loader --protect: BPF LSM missing is said" has 'missing: BPF LSM: "bpf" is not among the active LSMs'
check "loader --protect: still nothing created" test ! -e "$TMP/store"

echo "prereq: $PASSED passed, $FAILED failed"
((FAILED == 0))
