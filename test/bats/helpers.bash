# SPDX-License-Identifier: GPL-2.0-only
#
# Helpers for the bats suites (`load helpers`). The suites run inside the test
# guest (test/vm/run.sh): root, IMA policy "measure func=FILE_CHECK
# mask=MAY_READ uid=0" with tmpfs measured and 9p, ramfs and pseudo file
# systems not, so only files tests create under /tmp (or /run, /var/lib, ...)
# add measurements. Under TCG an exec from the 9p root costs ~0.3 s and a
# measured read ~6 ms: generate load from one process (the helpers below use
# shell builtins), not with one exec per file.

# shellcheck disable=SC2034 # the variables are for the test files
IMA_DIR=/sys/kernel/security/ima
TREE=${IMASNAP_TREE:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
# The kernel helper built for the running kernel: Debian's (kernel-helper/),
# or the test bed's custom kernel (`make custom-kernel-module`).
# (A builtin read, not uname: an exec costs 0.3 s under TCG, per test.)
read -r KO </proc/sys/kernel/osrelease
KO=$TREE/.output/kernel-helper-$KO/imasnap.ko
[[ -f $KO ]] || KO=$TREE/kernel-helper/imasnap.ko
# The template the guest kernel logs with (set by test/vm/guest-run.sh).
TEMPLATE=${IMASNAP_TEMPLATE:-ima-sig}

require_root() {
	[[ $EUID -eq 0 ]] || skip "needs root"
}

# Tests that need IMA skip on a host without it (run them via test/vm/run.sh).
require_ima() {
	require_root
	[[ -r $IMA_DIR/runtime_measurements_count ]] ||
		skip "no IMA securityfs here: run under test/vm/run.sh"
}

# require_tools CMD...: the test needs these commands; a missing one fails
# the test (test/vm/deps.sh installs them): a check that passes because its
# tool is missing proves nothing.
require_tools() {
	local c missing=()
	for c in "$@"; do
		command -v "$c" >/dev/null || missing+=("$c")
	done
	((${#missing[@]} == 0)) && return 0
	echo "missing tools: ${missing[*]} (test/vm/deps.sh install)" >&2
	return 1
}

# kmsg_mark: write a unique marker line to the kernel log, keep it in
# KMSG_MARK and print it; kmsg_since [MARK]: the kernel log after MARK
# (default KMSG_MARK). A count of lines breaks once the ring buffer wraps; a
# wrapped buffer that lost the marker fails instead of showing less.
kmsg_mark() {
	KMSG_MARK="imasnap-test-mark ${BATS_TEST_NUMBER:-0} $$ $RANDOM$RANDOM$RANDOM"
	echo "$KMSG_MARK" >/dev/kmsg
	echo "$KMSG_MARK"
}

kmsg_since() {
	local m=${1:-${KMSG_MARK:?kmsg_since: no marker (kmsg_mark first)}}
	dmesg | awk -v m="$m" 'f { print; next } index($0, m) { f = 1 }
		END { if (!f) { print "kernel log marker lost: " m > "/dev/stderr"; exit 1 } }'
}

# Number of entries in the kernel's IMA list.
kernel_count() {
	local n
	read -r n <"$IMA_DIR/runtime_measurements_count"
	echo "$n"
}

# A fresh directory on tmpfs (measured by the guest's policy); removed by
# bats' teardown only if the test does it, so name it after the test.
tmpfs_dir() {
	local d
	d=$(mktemp -d /tmp/imasnap-test.XXXXXX)
	[[ $(stat -f -c %T "$d") == tmpfs ]] || {
		echo "tmpfs_dir: $d is not on tmpfs" >&2
		return 1
	}
	echo "$d"
}

# measure_files N DIR: create N new small files f0..f<N-1> with distinct
# contents in DIR (on tmpfs), then read each once, all from this shell, so the
# guest's policy adds exactly N measurements.
measure_files() {
	local n=$1 dir=$2 i
	for ((i = 0; i < n; i++)); do
		printf 'imasnap %s %d %d%d\n' "$dir" "$i" "$RANDOM" "$RANDOM" >"$dir/f$i"
	done
	for ((i = 0; i < n; i++)); do
		read -r _ <"$dir/f$i" || true
	done
}

# hex_bytes HEX: write the bytes HEX spells.
hex_bytes() {
	local h=$1 out='' i
	for ((i = 0; i < ${#h}; i += 2)); do
		out+="\\x${h:i:2}"
	done
	printf '%b' "$out"
}

# u32le N: N as 4 little-endian bytes (template field lengths on x86).
u32le() {
	printf '%b' "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' \
		$(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $((($1 >> 24) & 255)))"
}

# ima_template_data TEMPLATE FILEHASH NAME: write the template data that IMA
# hashes into the template digest, for an entry without a signature.
# FILEHASH is the 4th column of ascii_runtime_measurements ("algo:hex" for
# ima-ng/ima-sig, plain sha1 hex for ima).
ima_template_data() {
	local t=$1 fh=$2 name=$3 algo hex
	case $t in
	ima)
		# d: the 20-byte digest; n: the name zero-padded to 256 bytes.
		hex_bytes "$fh"
		printf '%s' "$name"
		head -c $((256 - ${#name})) /dev/zero
		;;
	ima-ng | ima-sig)
		algo=${fh%%:*} hex=${fh#*:}
		# d-ng: "algo:\0" + digest; n-ng: name + "\0"; each length-prefixed.
		u32le $((${#algo} + 2 + ${#hex} / 2))
		printf '%s:\0' "$algo"
		hex_bytes "$hex"
		u32le $((${#name} + 1))
		printf '%s\0' "$name"
		# ima-sig: an empty sig field is still hashed as its length 0.
		[[ $t == ima-ng ]] || u32le 0
		;;
	*)
		echo "ima_template_data: unknown template $t" >&2
		return 1
		;;
	esac
}

# ascii_entry FILE NAME: the last line of an ascii measurement list naming NAME.
ascii_entry() {
	awk -v n="$2" '$5 == n { l = $0 } END { if (l != "") print l; else exit 1 }' "$1"
}

# pcrs_file ALGO OUT: write the TPM's PCRs of bank ALGO (from sysfs) in the
# "PCR-NN: hex" format of evmctl ima_measurement --pcrs ALGO,OUT.
pcrs_file() {
	local algo=$1 out=$2 i v
	: >"$out"
	for ((i = 0; i < 24; i++)); do
		read -r v <"/sys/class/tpm/tpm0/pcr-$algo/$i" || return 1
		printf 'PCR-%02d: %s\n' "$i" "${v,,}" >>"$out"
	done
}

# state_value KEY: a line of the helper's state file
state_value() {
	sed -n "s/^$1: //p" /sys/kernel/security/imasnap/state
}

# IMA's kexec segment on CONFIG_IMA_KEXEC kernels, seen by kprobes at
# `kexec -s -l`: the value of ima_get_binary_runtime_size() (IMA's own count
# of the list's binary size, plus its 24-byte ima_kexec_hdr), which sizes the
# segment, and the memsz of the segment IMA adds (its kexec_add_buffer call,
# the first after that; struct kexec_buf: bufsz at 16, memsz at 32 on 6.1).
TRACING=/sys/kernel/tracing
IMA_KEXEC_EVENTS=$TRACING/events/imasnap_kexec

has_ima_kexec() {
	grep -qw ima_add_kexec_buffer /proc/kallsyms
}

ima_kexec_probes_on() {
	echo 'r:imasnap_kexec/runtime_size ima_get_binary_runtime_size size=$retval:u64' \
		>>"$TRACING/kprobe_events"
	echo 'p:imasnap_kexec/add_buffer kexec_add_buffer bufsz=+16(%di):u64 memsz=+32(%di):u64' \
		>>"$TRACING/kprobe_events"
	echo >"$TRACING/trace"
	echo 1 >"$IMA_KEXEC_EVENTS/enable"
}

ima_kexec_probes_off() {
	[[ -d $IMA_KEXEC_EVENTS ]] || return 0
	echo 0 >"$IMA_KEXEC_EVENTS/enable"
	echo '-:imasnap_kexec/runtime_size' >>"$TRACING/kprobe_events"
	echo '-:imasnap_kexec/add_buffer' >>"$TRACING/kprobe_events"
}

# ima_kexec_sizes: "RUNTIME_SIZE SEGMENT_MEMSZ" of the last load traced
# (read it before ima_kexec_probes_off: removing an event clears the trace)
ima_kexec_sizes() {
	awk '/runtime_size:/ { sub(/.*size=/, ""); size = $1; f = 1; next }
	     f && /add_buffer:/ { sub(/.*memsz=/, ""); print size, $1 + 0; exit }' "$TRACING/trace"
}
