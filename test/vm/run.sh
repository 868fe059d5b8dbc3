#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Boot Debian's kernel (test/vm/kernel.sh) in qemu with a swtpm TPM and run
# bats files inside the guest, as root, against this tree; report on the host.
#
# usage: test/vm/run.sh [options] [bats files...]   (default: test/bats/*.bats)
#   --template NAME   ima_template= (ima-ng, ima-sig or ima; default ima-ng),
#                     or fmt:FIELDS for ima_template_fmt=FIELDS (a custom
#                     template). ima_hash=sha256 is added unless NAME is ima.
#   --append "ARGS"   more kernel command line
#   --accel A         auto (default), tcg or kvm. auto uses KVM only if
#                     /dev/kvm exists and a probe boot succeeds in 20 s.
#   --print-accel     only decide the accelerator (probe) and print it
#   --timeout SEC     host-side limit for the whole boot (default 2700)
#   --results DIR     results directory (default test/.results/<run id>)
#   --count-file F    also append the "vm-result:" line to F
#   --tpm-device D    qemu TPM front end: tpm-crb (default) or tpm-tis
#   --shell           no tests: an interactive root shell in the guest (same
#                     set-up and policy) on this terminal, for debugging
#   --script FILE     no bats: run FILE with bash in the guest (a demo or a
#                     benchmark), print its output, count it as one test
#   --env NAME=VALUE  export NAME in the guest's test environment (repeatable;
#                     the guest inherits nothing else from the host's);
#                     IMASNAP_BATS_FILTER=REGEX runs only matching tests; a bats
#                     file's lines "# vm-env: NAME=VALUE" add to these;
#                     IMASNAP_IMA_POLICY=none: no IMA policy is written
#   --chain           run the bats files one per boot, in order: a file ends
#                     its boot with a kexec or a reboot by writing "kexec" or
#                     "reboot" to $IMASNAP_RESULTS/next-boot (the guest then
#                     runs `kexec -e` or resets the machine: the TPM resets
#                     too). $IMASNAP_RESULTS/persist survives every boot.
#   --kernel K        debian (default: Debian 12's 6.1), trixie (Debian 13's
#                     6.12), sid (unstable's 7.2), all fetched and cached by
#                     test/vm/kernel.sh, or ima-kexec (test/vm/custom-kernel.sh:
#                     CONFIG_IMA_KEXEC, lockdep, KASAN, list debugging)
#   --disk SIZE|FILE  the raw virtio-blk disk the guest sees as /dev/vda
#                     (cache=none, so a flush reaches the host file and a
#                     killed qemu loses what it did not flush). Every boot
#                     gets one: by default a sparse 64M file in the run's
#                     temp dir, removed after the run. SIZE (e.g. 256M, 1G):
#                     such a file of that size. FILE: that file, kept across
#                     runs (created sparse, 64M, if missing).
#   --no-disk         no disk
#   --image           the host test bed (test/vm/image.sh, docs/testing-host.md):
#                     boot the Debian 12 image's own kernel and initramfs with
#                     systemd as PID 1, root on /dev/vda (a qcow2 overlay of
#                     the cached image, one a run, kept across the run's
#                     boots), ima_policy=tcb; the tree is shared read-only at
#                     its own path, and imasnap-testbed.service runs
#                     guest-run.sh (default file: test/host/testbed.bats). With
#                     --chain the next boot is `systemctl kexec` / `systemctl
#                     reboot`. --disk and --kernel do not apply.
#   Power cut (--chain only): a bats file that writes "powercut" to
#   $IMASNAP_RESULTS/next-boot ends its boot with the host killing qemu
#   (SIGKILL: no shutdown, no flush) while the guest still runs; the host
#   then restarts swtpm on its state (startup-clear: PCRs reset, as at a
#   power-on) and boots the next file on the same disk.
#
# Environment: IMASNAP_ACCEL, IMASNAP_VM_TIMEOUT, IMASNAP_VM_MEM (2G),
# IMASNAP_VM_SMP (2), IMASNAP_CACHE (kernel cache), IMASNAP_KEEP_RESULTS (how
# many old result directories to keep, 20).
#
# Prints each test's TAP result line as it completes (with the diagnostics of
# failures), then boot time, suite time and one line
#   vm-result: P passed, F failed, S skipped
# Exits 0 only if every test passed and the guest finished cleanly.
# The whole script is one { ...; exit; } block: bash then parses it all before
# running any of it, so a commit or checkout that rewrites this file during a
# long run cannot make bash read a half-old, half-new script.
{
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)

TEMPLATE=ima-ng
APPEND=
ACCEL=${IMASNAP_ACCEL:-auto}
TIMEOUT=${IMASNAP_VM_TIMEOUT:-2700}
RESULTS=
COUNT_FILE=
TPMDEV=tpm-crb
PRINT_ACCEL=
SHELL_MODE=
SCRIPT=
CHAIN=
KERNEL=debian
MEM=${IMASNAP_VM_MEM:-2G}
SMP=${IMASNAP_VM_SMP:-2}
KEEP=${IMASNAP_KEEP_RESULTS:-20}
DISK=64M
IMAGE=

usage() {
	sed -n '4,60s/^# \{0,1\}//p' "$0" >&2
	exit 2
}
die() {
	echo "run.sh: $*" >&2
	exit 2
}

FILES=() ENVS=()
while (($#)); do
	case $1 in
	--template) TEMPLATE=${2:?}; shift ;;
	--append) APPEND=${2?}; shift ;;
	--accel) ACCEL=${2:?}; shift ;;
	--print-accel) PRINT_ACCEL=1 ;;
	--timeout) TIMEOUT=${2:?}; shift ;;
	--results) RESULTS=${2:?}; shift ;;
	--count-file) COUNT_FILE=${2:?}; shift ;;
	--tpm-device) TPMDEV=${2:?}; shift ;;
	--shell) SHELL_MODE=1 ;;
	--script) SCRIPT=${2:?}; shift ;;
	--env) ENVS+=("${2:?}"); shift ;;
	--chain) CHAIN=1 ;;
	--kernel) KERNEL=${2:?}; shift ;;
	--disk) DISK=${2:?}; shift ;;
	--no-disk) DISK= ;;
	--image) IMAGE=1 ;;
	-h | --help) usage ;;
	--) shift; FILES+=("$@"); break ;;
	-*) die "unknown option $1" ;;
	*) FILES+=("$1") ;;
	esac
	shift
done
[[ $TIMEOUT =~ ^[0-9]+$ ]] || die "--timeout wants seconds"
# A bats file may name what its boot needs: lines "# vm-env: NAME=VALUE"
# (as --env; e.g. IMASNAP_IMA_POLICY=none: guest-run.sh writes no policy).
for f in "${FILES[@]}"; do
	[[ $f != *.bats || ! -f $f ]] || mapfile -t -O "${#ENVS[@]}" ENVS < <(sed -n 's/^# vm-env: //p' "$f")
done
for e in "${ENVS[@]}"; do
	[[ $e =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env wants NAME=VALUE, not '$e'"
done
case $ACCEL in auto | tcg | kvm) ;; *) die "--accel: auto, tcg or kvm" ;; esac
# A size makes a run-private disk; anything else names a file to keep.
DISK_FILE='' DISK_SIZE=''
if [[ $DISK =~ ^[1-9][0-9]*[KMG]$ ]]; then
	DISK_SIZE=$DISK
elif [[ -n $DISK ]]; then
	[[ ! -e $DISK || -f $DISK ]] || die "--disk: $DISK is not a regular file"
	DISK_FILE=$(realpath "$DISK")
	[[ $DISK_FILE != "$TOP"/* ]] ||
		die "--disk: $DISK_FILE is inside the tree the guest shares; keep it elsewhere"
fi
[[ $(id -u) -eq 0 ]] || die "must run as root (9p export of /, swtpm, kernel cache)"

# Each Debian kernel gets an initramfs with its own modules; the custom
# kernel shares Debian 12's (it has what they provide built in, and init
# skips modules made for another kernel).
case $KERNEL in
ima-kexec)
	VMLINUZ=$("$HERE/custom-kernel.sh" vmlinuz)
	INITRD=$("$HERE/initramfs.sh")
	;;
*)
	[[ " $("$HERE/kernel.sh" names) " == *" $KERNEL "* ]] ||
		die "--kernel: $("$HERE/kernel.sh" names) or ima-kexec"
	VMLINUZ=$("$HERE/kernel.sh" -k "$KERNEL" vmlinuz)
	INITRD=$(IMASNAP_KERNEL=$KERNEL "$HERE/initramfs.sh")
	;;
esac
# The KVM probe boots the busybox initramfs (its /probe) in both modes.
PROBE_VMLINUZ=$VMLINUZ PROBE_INITRD=$INITRD
if [[ -n $IMAGE ]]; then
	[[ $KERNEL == debian ]] || die "--image boots the image's own kernel"
	IMAGE_DIR=$("$HERE/image.sh" path)
	VMLINUZ=$IMAGE_DIR/vmlinuz INITRD=$IMAGE_DIR/initrd.img
fi

# Processes and temp dirs of this run, removed on any exit (the disk is
# in DISK_DIR unless --disk named a file to keep).
QEMU_PID='' SWTPM_PID='' TPMSTATE='' PROBE_DIR='' DISK_DIR=''
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	local p
	for p in $QEMU_PID $SWTPM_PID; do
		kill "$p" 2>/dev/null || true
	done
	for p in $QEMU_PID $SWTPM_PID; do
		wait "$p" 2>/dev/null || true
	done
	[[ -z $TPMSTATE ]] || rm -rf "$TPMSTATE"
	[[ -z $PROBE_DIR ]] || rm -rf "$PROBE_DIR"
	[[ -z $DISK_DIR ]] || rm -rf "$DISK_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# KVM is used only when a probe boot (same kernel and initramfs, an init that
# powers off at once) finishes in time: on some hosts (nested, PVM) a KVM guest
# hangs at boot, so the probe runs under a hard timeout and is killed.
PROBE_WHY=
probe_kvm() {
	if [[ ! -e /dev/kvm || ! -w /dev/kvm ]]; then
		PROBE_WHY="no usable /dev/kvm"
		return 1
	fi
	PROBE_DIR=$(mktemp -d)
	local rc=0
	# In a subshell that does not exec qemu (the exit below), so that its
	# "Aborted" notice for a crashing qemu goes to the log too.
	(timeout -k 3 20 qemu-system-x86_64 -machine q35 -accel kvm -cpu host \
		-m 512M -smp 1 -nodefaults -no-user-config -display none -no-reboot \
		-serial "file:$PROBE_DIR/console.log" -monitor none \
		-kernel "$PROBE_VMLINUZ" -initrd "$PROBE_INITRD" \
		-append "console=ttyS0 rdinit=/probe panic=-1"
	exit $?) >"$PROBE_DIR/qemu.log" 2>&1 || rc=$?
	if [[ $rc -eq 0 ]] && grep -q imasnap-probe-ok "$PROBE_DIR/console.log"; then
		return 0
	elif [[ $rc -eq 124 || $rc -eq 137 ]]; then
		PROBE_WHY="probe boot did not finish in 20 s"
	else
		PROBE_WHY="probe boot failed (exit $rc: $(grep -m1 -v '^$' "$PROBE_DIR/qemu.log" | cut -c1-100))"
	fi
	return 1
}
if [[ $ACCEL == auto ]]; then
	t0=$(now)
	if probe_kvm; then ACCEL=kvm; else ACCEL=tcg; fi
	echo "run.sh: KVM probe: $ACCEL chosen after $(secs "$t0" "$(now)") s${PROBE_WHY:+ ($PROBE_WHY)}" >&2
fi
if [[ -n $PRINT_ACCEL ]]; then
	echo "$ACCEL"
	exit 0
fi
if [[ $ACCEL == kvm ]]; then
	ACCEL_ARGS=(-accel kvm -cpu host)
else
	ACCEL_ARGS=(-accel tcg -cpu max)
fi

# Test files: relative to the tree (the guest runs bats from $TOP, which has
# the same absolute path inside the guest since / is shared).
if [[ -n $SCRIPT ]]; then
	[[ -f $SCRIPT ]] || die "no such script: $SCRIPT"
	SCRIPT=$(realpath "$SCRIPT")
	[[ $SCRIPT == "$TOP"/* ]] || die "$SCRIPT is outside $TOP"
	((${#FILES[@]} == 0)) || die "--script runs no bats files"
elif ((${#FILES[@]} == 0)) && [[ -n $IMAGE ]]; then
	FILES=("$TOP"/test/host/testbed.bats)
elif ((${#FILES[@]} == 0)); then
	# smoke.bats first: the test bed's checks see a guest no suite changed.
	FILES=("$TOP"/test/bats/smoke.bats)
	for f in "$TOP"/test/bats/*.bats; do
		[[ $f == */smoke.bats ]] || FILES+=("$f")
	done
fi
REL=()
for f in "${FILES[@]}"; do
	[[ -f $f ]] || die "no such bats file: $f"
	a=$(realpath "$f")
	[[ $a == "$TOP"/* ]] || die "$f is outside $TOP"
	REL+=("${a#"$TOP"/}")
done

if [[ -z $RESULTS ]]; then
	base=$TOP/test/.results
	mkdir -p "$base"
	# Keep the newest $KEEP runs: results are for debugging, not an archive.
	find "$base" -mindepth 1 -maxdepth 1 -type d -name 'run-*' -printf '%T@ %p\n' |
		sort -rn | tail -n "+$KEEP" | cut -d' ' -f2- | xargs -r rm -rf --
	# fmt:FIELDS templates hold ':' and '|': keep the name plain.
	RESULTS=$(mktemp -d "$base/run-$(date +%Y%m%d-%H%M%S)-${TEMPLATE//[^A-Za-z0-9_-]/_}-XXXX")
else
	mkdir -p "$RESULTS"
	rm -rf "$RESULTS"/{tap,started,finished,bats-rc,guest-timeout,kernel-problems,kernel-notes,policy-error,dmesg,dmesg.*,console.log,script.out,boots,next-boot,persist,powercut,powercuts}
fi
RESULTS=$(realpath "$RESULTS")

shq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
{
	echo "# written by test/vm/run.sh, read by test/vm/init and guest-run.sh"
	echo "IMASNAP_TREE=$(shq "$TOP")"
	echo "IMASNAP_SHELL=$SHELL_MODE"
	echo "IMASNAP_SCRIPT=$(shq "$SCRIPT")"
	echo "IMASNAP_CHAIN=$CHAIN"
	# what a test needs to load this kernel again with kexec
	echo "export IMASNAP_VMLINUZ=$(shq "$VMLINUZ") IMASNAP_INITRD=$(shq "$INITRD")"
	# The guest gives up a little before the host does (boot time).
	echo "IMASNAP_GUEST_TIMEOUT=$((TIMEOUT - (TIMEOUT > 300 ? 60 : TIMEOUT / 5)))"
	for e in "${ENVS[@]}"; do
		echo "export ${e%%=*}=$(shq "${e#*=}")"
	done
} >"$RESULTS/guest.conf"
printf '%s\n' "${REL[@]}" >"$RESULTS/bats-files"

# fmt:FIELDS is a custom template (ima_template_fmt); the kernel takes the
# first of ima_template= and ima_template_fmt=, so only one is passed.
if [[ $TEMPLATE == fmt:* ]]; then
	CMDLINE="console=ttyS0 ima_template_fmt=${TEMPLATE#fmt:}"
else
	CMDLINE="console=ttyS0 ima_template=$TEMPLATE"
fi
[[ $TEMPLATE == ima ]] || CMDLINE+=" ima_hash=sha256"
# The host test bed: a Debian host's boot, measured from its start.
[[ -z $IMAGE ]] || CMDLINE+=" root=/dev/vda rw ima_policy=tcb"
# The tree's path, for init to keep it visible if it lies under a directory
# the guest mounts tmpfs on (a checkout in /tmp, say).
CMDLINE+=" panic=-1 imasnap_tree=$TOP${APPEND:+ $APPEND}"
# Under TCG the KASAN kernel's `kexec -s -l` hashes its segments (sha256 of
# ~20 MB, instrumented, no resched) for longer than RCU's default 21 s
# stall limit: a report of emulation speed, not of a kernel problem.
[[ $KERNEL != ima-kexec ]] || CMDLINE+=" rcupdate.rcu_cpu_stall_timeout=300"

# A fresh TPM for every run. The socket path must stay short (sun_path).
# After a power cut swtpm starts again on the same state: startup-clear
# resets the PCRs, as a power-on does.
TPMSTATE=$(mktemp -d /tmp/imasnap-tpm.XXXXXX)
start_swtpm() {
	rm -f "$TPMSTATE/sock"
	swtpm socket --tpm2 --tpmstate "dir=$TPMSTATE" \
		--ctrl "type=unixio,path=$TPMSTATE/sock" \
		--flags not-need-init,startup-clear \
		--log "file=$RESULTS/swtpm.log" &
	SWTPM_PID=$!
	for _ in $(seq 50); do
		[[ -S $TPMSTATE/sock ]] && return 0
		sleep 0.1
	done
	die "swtpm did not create $TPMSTATE/sock"
}
start_swtpm

DISK_ARGS=()
if [[ -n $IMAGE ]]; then
	# The image stays clean: the run writes to an overlay of its own,
	# which every boot of the run (kexec, reboot, power cut) finds again.
	DISK_DIR=$(mktemp -d /tmp/imasnap-disk.XXXXXX)
	DISK_FILE=$DISK_DIR/root.qcow2
	qemu-img create -q -f qcow2 -b "$IMAGE_DIR/base.qcow2" -F qcow2 "$DISK_FILE"
	# shellcheck disable=SC2054 # the commas are qemu option syntax
	DISK_ARGS=(-drive "file=$DISK_FILE,format=qcow2,if=none,id=disk0,cache=none"
		-device virtio-blk-pci,drive=disk0)
	echo "run.sh: root disk $DISK_FILE (overlay of $IMAGE_DIR/base.qcow2) as /dev/vda"
elif [[ -n $DISK ]]; then
	if [[ -n $DISK_SIZE ]]; then
		DISK_DIR=$(mktemp -d /tmp/imasnap-disk.XXXXXX)
		DISK_FILE=$DISK_DIR/disk.raw
		truncate -s "$DISK_SIZE" "$DISK_FILE"
	elif [[ ! -e $DISK_FILE ]]; then
		truncate -s 64M "$DISK_FILE"
	fi
	# cache=none: O_DIRECT on the host, and the guest's flushes reach the
	# file; what the guest did not flush is lost when qemu is killed.
	# shellcheck disable=SC2054 # the commas are qemu option syntax
	DISK_ARGS=(-drive "file=$DISK_FILE,format=raw,if=none,id=disk0,cache=none"
		-device virtio-blk-pci,drive=disk0)
	echo "run.sh: disk $DISK_FILE ($(stat -c %s "$DISK_FILE") bytes) as /dev/vda"
fi

echo "run.sh: booting $(basename "$VMLINUZ") ($KERNEL kernel, $ACCEL, $CMDLINE)"
echo "run.sh: results in $RESULTS"
T0=$(now)
if [[ -n $CHAIN ]]; then
	# a reboot resets the machine (and the TPM); a panic still ends the run
	REBOOT_ARGS=(-action panic=shutdown)
else
	REBOOT_ARGS=(-no-reboot)
fi
# The guest's view of the host: its whole / (the guest's root), or on the
# host test bed only the tree (the image is the root).
if [[ -n $IMAGE ]]; then
	# shellcheck disable=SC2054 # the commas are qemu option syntax
	SHARE_ARGS=(-fsdev "local,id=tree,path=$TOP,security_model=none,readonly=on,multidevs=remap"
		-device virtio-9p-pci,fsdev=tree,mount_tag=tree)
else
	# shellcheck disable=SC2054 # the commas are qemu option syntax
	SHARE_ARGS=(-fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap
		-device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot)
fi
# shellcheck disable=SC2054 # the commas are qemu option syntax
QEMU_ARGS=(-machine q35 "${ACCEL_ARGS[@]}" -m "$MEM" -smp "$SMP"
	-nodefaults -no-user-config -display none "${REBOOT_ARGS[@]}"
	-kernel "$VMLINUZ" -initrd "$INITRD" -append "$CMDLINE"
	"${SHARE_ARGS[@]}"
	-fsdev "local,id=results,path=$RESULTS,security_model=none,multidevs=remap"
	-device virtio-9p-pci,fsdev=results,mount_tag=results
	-chardev "socket,id=chrtpm,path=$TPMSTATE/sock"
	-tpmdev emulator,id=tpm0,chardev=chrtpm -device "$TPMDEV,tpmdev=tpm0"
	"${DISK_ARGS[@]}")
if [[ -n $SHELL_MODE ]]; then
	# Serial console on this terminal (still logged); Ctrl-a x quits qemu.
	echo "run.sh: interactive shell; exit it to power off, or Ctrl-a x"
	qemu-system-x86_64 "${QEMU_ARGS[@]}" \
		-chardev "stdio,id=con,mux=on,signal=off,logfile=$RESULTS/console.log" \
		-serial chardev:con -mon chardev=con
	exit
fi
# The console appends: after a power cut the next boot's follows.
start_qemu() {
	qemu-system-x86_64 "${QEMU_ARGS[@]}" -monitor none \
		-chardev "file,id=con,path=$RESULTS/console.log,append=on" \
		-serial chardev:con >>"$RESULTS/qemu.log" 2>&1 &
	QEMU_PID=$!
}
start_qemu

# A power cut the guest asked for (guest-run.sh writes "powercut" once its
# boot is done and its writers still run): SIGKILL, so nothing the guest
# did not flush reaches the disk; then the TPM and the machine start again.
POWERCUTS=0
power_cut() {
	kill -KILL "$QEMU_PID" 2>/dev/null || true
	wait "$QEMU_PID" 2>/dev/null || true
	POWERCUTS=$((POWERCUTS + 1))
	echo "run.sh: power cut $POWERCUTS: qemu killed"
	rm -f "$RESULTS/powercut"
	echo "$POWERCUTS" >"$RESULTS/powercuts"
	kill "$SWTPM_PID" 2>/dev/null || true
	wait "$SWTPM_PID" 2>/dev/null || true
	start_swtpm
	echo "run.sh: power on after the cut (TPM reset)"
	start_qemu
}

# Print complete new TAP lines: results, and the diagnostics ("# ...") of
# failed tests. Byte offsets, so LC_ALL=C.
TAP=$RESULTS/tap
tap_off=0
in_fail=
stream_tap() {
	local LC_ALL=C size chunk line
	[[ -f $TAP ]] || return 0
	size=$(stat -c %s "$TAP")
	((size > tap_off)) || return 0
	chunk=$(tail -c "+$((tap_off + 1))" "$TAP" | head -c "$((size - tap_off))"; echo x)
	chunk=${chunk%x}
	[[ $chunk == *$'\n'* ]] || return 0
	chunk=${chunk%"${chunk##*$'\n'}"}
	tap_off=$((tap_off + ${#chunk}))
	while IFS= read -r line; do
		case $line in
		"not ok "*) in_fail=1; echo "$line" ;;
		"ok "*) in_fail=; echo "$line" ;;
		"#"*) [[ -z $in_fail ]] || echo "$line" ;;
		esac
	done <<<"${chunk%$'\n'}"
}

T_STARTED='' T_FINISHED='' TIMED_OUT=''
while kill -0 "$QEMU_PID" 2>/dev/null; do
	if [[ -z $T_STARTED && -e $RESULTS/started ]]; then
		T_STARTED=$(now)
		echo "run.sh: guest reached the test runner after $(secs "$T0" "$T_STARTED") s"
	fi
	[[ -n $T_FINISHED || ! -e $RESULTS/finished ]] || T_FINISHED=$(now)
	stream_tap
	[[ -z $CHAIN || ! -e $RESULTS/powercut ]] || power_cut
	# The results are complete once "finished" exists; a guest that then
	# fails to power off (seen with a broken ACPI set-up: "System halted")
	# must not keep us waiting until the timeout.
	if [[ -n $T_FINISHED ]] && (($(date +%s) - ${T_FINISHED%.*} > 60)); then
		echo "run.sh: WARNING: guest finished but did not power off in 60 s, killing qemu"
		kill "$QEMU_PID" 2>/dev/null || true
		break
	fi
	if (($(date +%s) - ${T0%.*} > TIMEOUT)); then
		TIMED_OUT=1
		echo "run.sh: host timeout after ${TIMEOUT}s, killing qemu"
		kill "$QEMU_PID" 2>/dev/null || true
		break
	fi
	sleep 0.2
done
# From here on only reporting: it must run to the end whatever is missing.
set +e
QRC=0
wait "$QEMU_PID" || QRC=$?
QEMU_PID=
T_END=$(now)
[[ -n $T_STARTED || ! -e $RESULTS/started ]] || T_STARTED=$T_END
[[ -n $T_FINISHED || ! -e $RESULTS/finished ]] || T_FINISHED=$T_END
stream_tap
kill "$SWTPM_PID" 2>/dev/null || true
wait "$SWTPM_PID" 2>/dev/null || true
SWTPM_PID=

# Count. Tests the plan announced but the guest never reported are failures.
[[ -f $TAP ]] || : >"$TAP"
count() { grep -cE "$1" "$TAP"; }
PASSED=$(count '^ok [0-9]+' ) SKIPPED=$(count '^ok [0-9]+.* # skip')
PASSED=$((PASSED - SKIPPED))
FAILED=$(count '^not ok [0-9]+')
# one plan per boot in --chain mode: their sum
PLAN=$(sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' "$TAP" | awk '{ n += $1; p = 1 } END { if (p) print n }')
# Tests the plan announced but that never reported count as failed; whatever
# else went wrong counts as one more failure each, so a crashed or silent
# guest can never add up to "0 failed".
MISSING=0
if [[ -n $PLAN ]] && ((PLAN > PASSED + SKIPPED + FAILED)); then
	MISSING=$((PLAN - PASSED - SKIPPED - FAILED))
fi
# Each kernel's last words (reboot notifiers, at kexec -e, reboot or power
# off) come after its boot saved its dmesg: only the console has them.
awk -v console=1 -f "$HERE/kernel-problems.awk" "$RESULTS/console.log" \
	>>"$RESULTS/kernel-problems" 2>/dev/null
[[ -s $RESULTS/kernel-problems ]] || rm -f "$RESULTS/kernel-problems"
PROBLEMS=()
((MISSING == 0)) || PROBLEMS+=("$MISSING planned tests did not report (counted as failed)")
if [[ ! -e $RESULTS/finished ]]; then
	if [[ -n $TIMED_OUT ]]; then
		PROBLEMS+=("guest timed out (host limit ${TIMEOUT}s)")
	elif [[ -e $RESULTS/guest-timeout ]]; then
		PROBLEMS+=("guest watchdog fired")
	else
		PROBLEMS+=("guest did not finish (crash? qemu exit $QRC)")
	fi
elif [[ -z $PLAN ]]; then
	PROBLEMS+=("bats produced no TAP plan")
fi
BATS_RC=$(cat "$RESULTS/bats-rc" 2>/dev/null || echo none)
if [[ -e $RESULTS/finished && $BATS_RC != 0 && $FAILED -eq 0 ]]; then
	if [[ $BATS_RC == 124 || $BATS_RC == 137 ]]; then
		PROBLEMS+=("bats was stopped at the guest's time limit")
	else
		PROBLEMS+=("bats exited with $BATS_RC but reported no failed test")
	fi
fi
[[ ! -e $RESULTS/policy-error ]] || PROBLEMS+=("$(cat "$RESULTS/policy-error")")
[[ ! -s $RESULTS/kernel-problems ]] ||
	PROBLEMS+=("guest kernel log has an oops or warning (see $RESULTS/dmesg)")
FAILED=$((FAILED + MISSING + ${#PROBLEMS[@]} - (MISSING > 0)))

echo "run.sh: kernel $KERNEL, template $TEMPLATE, accel $ACCEL, files: ${REL[*]}"
[[ -z $CHAIN ]] || echo "run.sh: boots: $(cat "$RESULTS/boots" 2>/dev/null || echo 0) (--chain), power cuts: $POWERCUTS"
if [[ -n $T_STARTED ]]; then
	echo "run.sh: boot time $(secs "$T0" "$T_STARTED") s (qemu start to test runner)"
	[[ -z $T_FINISHED ]] ||
		echo "run.sh: suite time $(secs "$T_STARTED" "$T_FINISHED") s"
fi
echo "run.sh: total $(secs "$T0" "$T_END") s"
for p in "${PROBLEMS[@]}"; do
	echo "run.sh: PROBLEM: $p"
done
if [[ -s $RESULTS/kernel-notes ]]; then
	echo "run.sh: NOTE: kernel reports from before init (not counted; see dmesg):"
	head -n 5 "$RESULTS/kernel-notes" | sed 's/^/    /'
fi
if [[ -s $RESULTS/kernel-problems ]]; then
	echo "run.sh: guest kernel log:"
	head -n 20 "$RESULTS/kernel-problems" | sed 's/^/    /'
fi
if [[ -s $RESULTS/bats.stderr && $FAILED -gt 0 ]]; then
	echo "run.sh: bats stderr (tail):"
	tail -n 20 "$RESULTS/bats.stderr" | sed 's/^/    /'
fi
if [[ ! -e $RESULTS/finished ]]; then
	echo "run.sh: console ($RESULTS/console.log), first signs of trouble:"
	grep -m8 -E 'Kernel panic|BUG:|Oops|general protection|sysrq: Trigger|FATAL|timeout' \
		"$RESULTS/console.log" 2>/dev/null | sed 's/^/    /'
	echo "run.sh: console tail:"
	tail -n 30 "$RESULTS/console.log" 2>/dev/null | sed 's/^/    /'
	[[ ! -s $RESULTS/qemu.log ]] || sed 's/^/    qemu: /' "$RESULTS/qemu.log" | tail -n 10
fi
if [[ -n $SCRIPT && -f $RESULTS/script.out ]]; then
	echo "run.sh: output of ${SCRIPT#"$TOP"/}:"
	cat "$RESULTS/script.out"
fi
LINE="vm-result: $PASSED passed, $FAILED failed, $SKIPPED skipped"
echo "$LINE"
[[ -z $COUNT_FILE ]] || echo "$LINE" >>"$COUNT_FILE"
[[ $FAILED -eq 0 ]]
exit
}
