#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Runs inside the test guest, as root, chrooted into the host's / (read-only
# 9p), started by test/vm/init. Writes the IMA policy, runs the bats files
# named by the host (test/vm/run.sh) and leaves everything the host reports
# on in the results share: tap, bats.stderr, bats-rc, dmesg, ima-ascii,
# kernel-problems, and the started / finished markers.
# With IMASNAP_HOST=1 it runs on the host test bed instead (test/vm/image.sh,
# run.sh --image: systemd as PID 1, started by imasnap-testbed.service): the
# kernel's ima_policy= is the policy, and the next boot goes through systemd
# (systemctl kexec / reboot / poweroff).
#
# No set -e: whatever fails, the results and the finished marker must be
# written, or the host cannot tell a failing suite from a dead guest.
# The whole script is one { ...; exit; } block: bash then parses it all before
# running any of it, so a commit or checkout that rewrites this file during a
# long run cannot make bash read a half-old, half-new script.
{
set -uo pipefail

RES=${IMASNAP_RESULTS:?}
# shellcheck source=/dev/null
. "$RES/guest.conf"
# Boots of this run (--chain: one bats file each; a kexec or a reboot in
# between). The host measures boot time from the appearance of "started".
BOOT=$(($(cat "$RES/boots" 2>/dev/null || echo 0) + 1))
echo "$BOOT" >"$RES/boots"
export IMASNAP_BOOT=$BOOT
[[ -e $RES/started ]] || date +%s.%N >"$RES/started"
# the host test bed's shutdown mark is for the last boot's writers
rm -f "$RES/shutdown"
mkdir -p "$RES/persist"

log() { echo "guest-run: $*"; }

# The host test bed's kexec: the systemd way. A test may have loaded the
# kernel (kexec -l) itself; else this boot's kernel, initrd and command line.
# With the package installed, its imasnap-kexec-load.service does it (a
# snapshot first), as an operator would: docs/service.md.
host_kexec() {
	local ver
	if [[ $(cat /sys/kernel/kexec_loaded) != 1 ]]; then
		if [[ -e /lib/systemd/system/imasnap-kexec-load.service ]]; then
			systemctl start imasnap-kexec-load.service
		else
			read -r ver </proc/sys/kernel/osrelease
			kexec -s -l "/boot/vmlinuz-$ver" --initrd="/boot/initrd.img-$ver" --reuse-cmdline
		fi || echo "boot $BOOT: loading the kernel for kexec failed" >>"$RES/kernel-problems"
	fi
	host_shutdown kexec
}

# host_shutdown kexec|reboot: the writers tests left running see the mark
# and name what they measure from now on as made during shutdown
host_shutdown() {
	log "boot $BOOT: systemctl $1"
	: >"$RES/shutdown"
	systemctl "$1" --no-block
}

# The template the kernel actually logs with: Debian's default is ima-sig.
IMASNAP_TEMPLATE=ima-sig
read -ra words </proc/cmdline
for w in "${words[@]}"; do
	case $w in
	ima_template=*) IMASNAP_TEMPLATE=${w#ima_template=} ;;
	ima_template_fmt=*) IMASNAP_TEMPLATE=fmt:${w#ima_template_fmt=} ;;
	esac
done
export IMASNAP_TREE IMASNAP_TEMPLATE IMASNAP_RESULTS

# One write(2): this kernel accepts a policy once per boot and only as a
# single write (no IMA_WRITE_POLICY). The host test bed boots with its policy,
# and so does a boot with a built-in policy on its command line
# (ima_policy=tcb: root's reads of every file system but the pseudo ones and
# tmpfs, and every exec: test/bats/keylime.bats). IMASNAP_IMA_POLICY=none:
# none (the suite tests the empty policy, then writes this one itself).
if [[ -n ${IMASNAP_HOST:-} ]]; then
	log "host test bed: IMA policy from the kernel command line"
elif [[ " $(</proc/cmdline) " == *" ima_policy="* ]]; then
	log "built-in IMA policy from the kernel command line: no policy written"
elif [[ ${IMASNAP_IMA_POLICY:-} == none ]]; then
	log "no IMA policy written (IMASNAP_IMA_POLICY=none)"
elif ! cat "$IMASNAP_TREE/test/vm/ima-policy" >/sys/kernel/security/ima/policy; then
	log "writing the IMA policy failed"
	echo "writing $IMASNAP_TREE/test/vm/ima-policy to /sys/kernel/security/ima/policy failed" \
		>"$RES/policy-error"
fi

# bats' own scratch files live on ramfs, which the policy does not measure,
# so the harness adds nothing to the IMA log; tests that want measurements
# create files on tmpfs (/tmp) themselves.
export TMPDIR=/run/imasnap-bats
export BATS_TMPDIR=$TMPDIR
# (init mounts it; on the host test bed it is on /run, a tmpfs, which the
# kernel's tcb policy does not measure either)
mkdir -p "$TMPDIR"

cd "$IMASNAP_TREE" || exit 1
if [[ -n ${IMASNAP_SHELL:-} ]]; then
	echo "guest-run: debug shell in $IMASNAP_TREE (TMPDIR=$TMPDIR); 'exit' powers off"
	# setsid -c: the console becomes the controlling tty (job control, ^C).
	setsid -c bash -i </dev/ttyS0 >/dev/ttyS0 2>&1
	date +%s.%N >"$RES/finished"
	exit 0
fi

mapfile -t files <"$RES/bats-files"
all_files=("${files[@]}")
if [[ -n ${IMASNAP_CHAIN:-} ]]; then
	files=("${files[BOOT - 1]}")
	[[ -n ${files[0]} ]] || { log "boot $BOOT: no bats file left"; files=(); }
fi
# Stop the suite before init's watchdog fires so dmesg still gets saved.
limit=${IMASNAP_GUEST_TIMEOUT:-2700}
limit=$((limit - (limit > 300 ? 60 : limit / 5)))
if [[ -n ${IMASNAP_SCRIPT:-} ]]; then
	# --script: a demo or benchmark; its output goes to script.out and the
	# result to the TAP file as one test, so the host counts it alike.
	log "bash $IMASNAP_SCRIPT (limit ${limit}s)"
	timeout -k 10 "$limit" bash "$IMASNAP_SCRIPT" >"$RES/script.out" 2>&1
	rc=$?
	{
		echo "1..1"
		if ((rc == 0)); then echo "ok 1 $IMASNAP_SCRIPT"; else echo "not ok 1 $IMASNAP_SCRIPT (exit $rc)"; fi
	} >"$RES/tap"
else
	log "bats --tap ${files[*]} (limit ${limit}s)"
	# a hung test fails alone instead of taking the rest of the suite along
	export BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-600}
	# --timing: "ok 1 name in 120ms", to spot slow tests (TCG is slow).
	# appended: --chain adds one TAP stream (and plan) per boot
	# --env IMASNAP_BATS_FILTER=REGEX: only the tests whose names match
	timeout -k 10 "$limit" bats --tap --timing \
		${IMASNAP_BATS_FILTER:+--filter "$IMASNAP_BATS_FILTER"} \
		"${files[@]}" >>"$RES/tap" 2>>"$RES/bats.stderr"
	rc=$?
fi
# the worst status of all boots
(($(cat "$RES/bats-rc" 2>/dev/null || echo 0) != 0)) || echo "$rc" >"$RES/bats-rc"
log "tests exited with $rc"

dmesg >"$RES/dmesg.$BOOT" 2>&1
ln -sf "dmesg.$BOOT" "$RES/dmesg"
[[ -z ${IMASNAP_HOST:-} ]] || journalctl -b -o short-precise >"$RES/journal.$BOOT" 2>&1
cat /sys/kernel/security/ima/ascii_runtime_measurements >"$RES/ima-ascii" 2>/dev/null
# A kernel oops or warning from user space on is a failure even if every
# test passed; one from before init is a note (kernel-problems.awk).
awk -v boot="$BOOT" -v notes="$RES/kernel-notes" -f "$IMASNAP_TREE/test/vm/kernel-problems.awk" \
	"$RES/dmesg.$BOOT" >>"$RES/kernel-problems"
[[ -s $RES/kernel-problems ]] || rm -f "$RES/kernel-problems"

# --chain: the test asked for the next boot
next=$(cat "$RES/next-boot" 2>/dev/null)
rm -f "$RES/next-boot"
if [[ -n ${IMASNAP_CHAIN:-} && $BOOT -lt ${#all_files[@]} ]]; then
	# not before a power cut: it would flush the disk under test
	[[ $next == powercut ]] || sync
	case $next${IMASNAP_HOST:+-host} in
	kexec)
		log "boot $BOOT: kexec -e"
		kexec -e
		log "kexec -e failed ($?)"
		echo "boot $BOOT: kexec -e failed" >>"$RES/kernel-problems"
		;;
	reboot)
		log "boot $BOOT: reboot (machine and TPM reset)"
		echo b >/proc/sysrq-trigger
		;;
	kexec-host)
		host_kexec
		exit
		;;
	reboot-host)
		log "boot $BOOT: machine and TPM reset"
		host_shutdown reboot
		exit
		;;
	powercut | powercut-host)
		# The host kills qemu once "powercut" appears: whatever the
		# test left running (a loader, writers) runs on until then,
		# and nothing here syncs the guest's disks.
		log "boot $BOOT: asking the host for a power cut"
		date +%s.%N >"$RES/powercut"
		sleep 600
		log "boot $BOOT: the host did not cut the power in 600 s"
		echo "boot $BOOT: the power cut it asked for did not come" >>"$RES/kernel-problems"
		;;
	*)
		log "boot $BOOT: no next boot was asked for (next-boot: '$next')"
		echo "boot $BOOT: the test did not ask for the next boot" >>"$RES/kernel-problems"
		;;
	esac
fi
date +%s.%N >"$RES/finished"
sync
log "powering off"
[[ -z ${IMASNAP_HOST:-} ]] || systemctl poweroff --no-block
exit
}
