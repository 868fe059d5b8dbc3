#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The project's test command (`make test` runs it). In order:
#   1. on the host: `make unit-test`, `make prereq-test` (the kernel
#      prerequisite checks on this host's own kernel), `make unit-test-san`
#      (ASan + UBSan), `make fuzz-check` (every fuzz target, bounded) and
#      `make pkg-test` (make install, units, man pages, DKMS build, .debs +
#      lintian), each counted from its last line "LABEL: N passed, N failed";
#   2. one VM boot with ima_template=ima-ng per test/bats/*.bats file but the
#      template files (each suite starts from a fresh kernel list and TPM);
#   3. one VM boot per template in IMASNAP_TEMPLATE_BOOTS (default "ima-ng ima-sig
#      ima fmt:d-ng|n-ng|iuid|igid|imode", the last a custom
#      ima_template_fmt) running the template files (IMASNAP_TEMPLATE_FILES,
#      default test/bats/templates.bats; skipped if there are none);
#   3a. one boot without the BPF LSM (lsm= lacks bpf):
#      test/prereq/no-bpf-lsm.bats;
#   3b. for each kernel of IMASNAP_SHORT_KERNELS (default "trixie sid":
#      Debian 13's 6.12, sid's 7.2; test/vm/kernel.sh fetches them), a boot
#      per file of IMASNAP_SHORT_FILES (default smoke.bats capture.bats); with
#      IMASNAP_ALL=1 every suite on each of them instead (only when no
#      files are named);
#   4. the kexec chain (test/kexec: a first boot, three kexec soft reboots, a
#      full reboot; test/vm/run.sh --chain) on each kernel of IMASNAP_KERNELS
#      (default "debian"; with IMASNAP_ALL=1, as `make test-all` runs it,
#      "debian ima-kexec trixie sid"); a kernel named there that is not built
#      (`make custom-kernel-module`) is a failure, not a skip; with
#      IMASNAP_CUSTOM_MODULE_SUITE=1 also the helper's own suite (module.bats)
#      on the ima-kexec kernel; with IMASNAP_ALL=1 the concurrency soak
#      (soak.bats, IMASNAP_SOAK_ROUNDS, default 12) on it; then two short
#      chains on Debian's kernel:
#      test/kexec/reboot-wait*.bats (the reboot notifier's timeout) and
#      test/faults/powercut-*.bats (power cut while the loader writes);
#   5. with IMASNAP_ALL=1 or IMASNAP_HOST=1, or when a test/host file is
#      named: the host test bed (Debian 12 image with systemd, the packages
#      from `make deb`): testbed.bats in one boot, then a chain of boots:
#      install, three `systemctl kexec`, a reboot (test/host/*.bats).
# Ends with exactly one line "N passed, N failed"; exits 1 if anything failed.
# Every skipped test is named in the summary. With CI set (CI=true, as CI
# runs it) or IMASNAP_STRICT=1, a skipped test counts as failed: a run that
# did not test what it was meant to must not end green.
#
# usage: test/run-tests.sh [--no-unit] [--unit] [--no-vm] [bats files...]
#   With bats files, only those run (unit tests only with --unit): template
#   files in the template boots, the others in the ima-ng boot; naming any
#   test/kexec (test/host) file runs the whole kexec (host) chain.
# Environment: as test/vm/run.sh (IMASNAP_ACCEL, IMASNAP_VM_TIMEOUT, ...);
# the KVM probe runs once here and its verdict is passed to every boot.
# The whole script is one { ...; exit; } block: bash then parses it all before
# running any of it, so a commit or checkout that rewrites this file during a
# long run cannot make bash read a half-old, half-new script.
{
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
RUN=$HERE/vm/run.sh

UNIT=auto VM=1
FILES=()
while (($#)); do
	case $1 in
	--no-unit) UNIT=no ;;
	--unit) UNIT=yes ;;
	--no-vm) VM= ;;
	-h | --help)
		sed -n '4,44s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	-*)
		echo "run-tests.sh: unknown option $1" >&2
		exit 2
		;;
	*) FILES+=("$(realpath "$1")") ;;
	esac
	shift
done
if [[ $UNIT == auto ]]; then
	if ((${#FILES[@]})); then UNIT=no; else UNIT=yes; fi
fi

PASSED=0 FAILED=0 SKIPPED=0 SUMMARY_DONE=
declare -a NOTES=() SKIPS=()
STRICT=0
[[ ${CI:-} != true && ${IMASNAP_STRICT:-} != 1 ]] || STRICT=1
# shellcheck disable=SC2317 # called from the traps
summary() {
	[[ -z $SUMMARY_DONE ]] || return 0
	SUMMARY_DONE=1
	echo
	echo "== summary"
	local n
	((STRICT == 0 || SKIPPED == 0)) || FAILED=$((FAILED + SKIPPED))
	for n in "${NOTES[@]}"; do
		echo "  $n"
	done
	if ((SKIPPED)); then
		local why=
		((STRICT == 0)) || why=" (counted as failed: CI or IMASNAP_STRICT=1)"
		echo "$SKIPPED skipped$why:"
		for n in "${SKIPS[@]}"; do
			echo "  skipped: $n"
		done
		# a boot whose skips were counted but not named still says so
		((${#SKIPS[@]} == SKIPPED)) || echo "  ($((SKIPPED - ${#SKIPS[@]})) skipped tests not named: see the boots' tap files)"
	fi
	echo "$PASSED passed, $FAILED failed"
}
# Even an interrupted or broken run ends with the count line.
trap 'FAILED=$((FAILED + 1)); NOTES+=("interrupted"); summary; exit 130' INT TERM
trap summary EXIT

# add_counts LABEL P F S
add_counts() {
	PASSED=$((PASSED + $2)) FAILED=$((FAILED + $3)) SKIPPED=$((SKIPPED + $4))
	NOTES+=("$1: $2 passed, $3 failed, $4 skipped")
}

# make_step TARGET LABEL: runs `make TARGET`, whose output ends with a line
# "LABEL: N passed, N failed", and counts it. A missing target is a note.
make_step() {
	local target=$1 label=$2 out rc line p f
	echo "== $label (make $target)"
	# make -q exits 1 when the goal is out of date, and grep -q would make
	# it die of SIGPIPE: ignore make's status (pipefail), read all of it.
	if [[ ! -f $TOP/Makefile ]] ||
		! { make -C "$TOP" -qp 2>/dev/null || true; } | grep "^$target:" >/dev/null; then
		NOTES+=("$label: no $target target in $TOP/Makefile, not run")
		return
	fi
	out=$(mktemp)
	make -C "$TOP" "$target" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	line=$(grep -E "^$label: [0-9]+ passed, [0-9]+ failed" "$out" | tail -n1)
	rm -f "$out"
	if [[ $line =~ ^$label:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
		p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]}
		# A failing make with no failed test still is a failure.
		((rc == 0 || f > 0)) || f=1
		add_counts "$label" "$p" "$f" 0
	else
		add_counts "$label (make exited $rc, no '$label:' line)" 0 1 0
	fi
}

# 1. On the host: unit tests, the same under ASan and UBSan, every fuzz
# target for a bounded time (test/fuzz/run.sh), and the packaging
# (test/pkg/run.sh).
if [[ $UNIT == yes ]]; then
	make_step unit-test unit
	make_step prereq-test prereq
	make_step unit-test-san san
	make_step fuzz-check fuzz
	make_step pkg-test pkg
fi

[[ -n $VM ]] || exit $((FAILED > 0))

# 2./3. Which files go to which boot.
if [[ -n ${IMASNAP_TEMPLATE_FILES+x} ]]; then
	read -ra TFILES <<<"$IMASNAP_TEMPLATE_FILES"
else
	TFILES=()
	[[ ! -f $TOP/test/bats/templates.bats ]] || TFILES=(test/bats/templates.bats)
fi
declare -A IS_T=()
for f in "${TFILES[@]}"; do
	[[ $f == /* ]] || f=$TOP/$f
	IS_T[$(realpath "$f")]=1
done
RUN_CHAIN=0 RUN_HOST=0 WHOLE=0
if ((${#FILES[@]} == 0)); then
	FILES=("$TOP"/test/bats/*.bats)
	RUN_CHAIN=1 WHOLE=1
	[[ ${IMASNAP_ALL:-} != 1 && ${IMASNAP_HOST:-} != 1 ]] || RUN_HOST=1
fi
MAIN=() TMPL=()
for f in "${FILES[@]}"; do
	[[ -f $f ]] || continue
	if [[ $f == "$TOP"/test/kexec/* ]]; then
		RUN_CHAIN=1	# the chain runs whole or not at all
	elif [[ $f == "$TOP"/test/host/* ]]; then
		RUN_HOST=1	# so does the host test bed's
	elif [[ -n ${IS_T[$f]:-} ]]; then
		TMPL+=("$f")
	elif [[ $f == */smoke.bats ]]; then
		# The test bed's own checks first, before other suites change the
		# kernel's state (trims, violations).
		MAIN=("$f" "${MAIN[@]}")
	else
		MAIN+=("$f")
	fi
done
read -ra TEMPLATE_BOOTS <<<"${IMASNAP_TEMPLATE_BOOTS:-ima-ng ima-sig ima fmt:d-ng|n-ng|iuid|igid|imode}"

if [[ $(id -u) -ne 0 ]]; then
	add_counts "vm (needs root)" 0 1 0
	exit 1
fi
# Decide KVM or TCG once for all boots (the probe costs up to 20 s).
if [[ -z ${IMASNAP_ACCEL:-} || $IMASNAP_ACCEL == auto ]]; then
	IMASNAP_ACCEL=$("$RUN" --print-accel) || IMASNAP_ACCEL=tcg
fi
export IMASNAP_ACCEL
NOTES+=("accelerator: $IMASNAP_ACCEL")

# boot LABEL TEMPLATE [run.sh OPTIONS... --] FILES...: one VM run, counted
# from its vm-result line.
boot() {
	local label=$1 tmpl=$2 cf line opts=()
	shift 2
	if [[ " $* " == *" -- "* ]]; then
		while [[ $1 != -- ]]; do
			opts+=("$1")
			shift
		done
		shift
	fi
	echo
	echo "== VM boot: $label (ima_template=$tmpl ${opts[*]}): ${*#"$TOP"/}"
	cf=$(mktemp) out=$(mktemp)
	# run.sh prints each TAP result line: keep them to name the skips
	"$RUN" --template "$tmpl" --count-file "$cf" "${opts[@]}" "$@" | tee "$out"
	line=$(tail -n1 "$cf")
	while IFS= read -r skip; do
		SKIPS+=("$label: $skip")
	done < <(sed -n -E '/^ok [0-9]+ .* # skip/ { s/^ok [0-9]+ (.*) # skip ?(.*)$/\1 (\2)/; s/ in [0-9]+ms \(/ (/; p; }' "$out")
	rm -f "$cf" "$out"
	if [[ $line =~ ^vm-result:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped ]]; then
		add_counts "vm $label" "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" "${BASH_REMATCH[3]}"
	else
		add_counts "vm $label (run.sh gave no result)" 0 1 0
	fi
}

# One boot per file: the kernel's IMA list is state every suite changes
# (trims, violations), so each suite starts from a fresh boot and TPM.
# A suite may name options for its boot on a line "# vm-options: ARGS"
# (keylime.bats: the built-in ima_policy=tcb instead of the test policy).
for f in "${MAIN[@]}"; do
	read -ra vmopts < <(sed -n 's/^# vm-options: //p' "$f") || true
	boot "ima-ng $(basename "$f" .bats)" ima-ng "${vmopts[@]}" -- "$f"
done
if ((${#TMPL[@]})); then
	for t in "${TEMPLATE_BOOTS[@]}"; do
		boot "$t" "$t" "${TMPL[@]}"
	done
else
	NOTES+=("template boots: no template files, not run")
fi

# 3a. A boot without the BPF LSM (lsm= lacks bpf): the prerequisite checks
# name it and nothing is created (test/prereq/no-bpf-lsm.bats).
((WHOLE == 0)) ||
	boot "no BPF LSM" ima-ng --append "lsm=lockdown,capability,yama,integrity" -- \
		"$TOP/test/prereq/no-bpf-lsm.bats"

# 3b. Debian's newer kernels (test/vm/kernel.sh: trixie's 6.12, sid's 7.2),
# each fetched and cached on first use. `make test`: the short pass
# (IMASNAP_SHORT_FILES: the test bed's checks and capture, a boot each); with
# IMASNAP_ALL=1 (`make test-all`): every suite, one boot per file, as above.
SHORT_KERNELS=()
((WHOLE == 0)) || read -ra SHORT_KERNELS <<<"${IMASNAP_SHORT_KERNELS-trixie sid}"
read -ra SHORT_FILES <<<"${IMASNAP_SHORT_FILES:-test/bats/smoke.bats test/bats/capture.bats}"
# Where the helper does not handle the kernel's IMA yet, it must refuse to
# load with this message (test/prereq/helper-refused.bats).
declare -A HELPER_REFUSAL=(
	[trixie]="is a symlink (IMA keeps one list file per hash algorithm here)"
	[sid]="the kernel's BTF (__start_BTF) has no valid header"
)
for k in "${SHORT_KERNELS[@]}"; do
	if [[ ${IMASNAP_ALL:-} == 1 ]]; then
		for f in "${MAIN[@]}"; do
			boot "$k $(basename "$f" .bats)" ima-ng --kernel "$k" -- "$f"
		done
		[[ -z ${HELPER_REFUSAL[$k]:-} ]] ||
			boot "$k helper refused" ima-ng --kernel "$k" \
				--env "IMASNAP_EXPECT_REFUSAL=${HELPER_REFUSAL[$k]}" -- \
				"$TOP/test/prereq/helper-refused.bats"
	else
		# one boot per file, as on Debian 12's kernel: suites share no state
		for f in "${SHORT_FILES[@]}"; do
			boot "$k $(basename "$f" .bats)" ima-ng --kernel "$k" -- "$TOP/$f"
		done
	fi
done

# 4. The kexec chain, when no files were named (or it was named).
CHAIN=(first-boot after-kexec after-kexec after-kexec after-reboot)
CHAIN=("${CHAIN[@]/#/$TOP/test/kexec/}")
CHAIN=("${CHAIN[@]/%/.bats}")
# `make test` runs the chain on Debian's kernel; `make test-all`
# (IMASNAP_ALL=1) on the ima-kexec kernel too. A kernel asked for must be
# there: a missing one fails the run instead of quietly testing less.
if [[ -z ${IMASNAP_KERNELS+x} ]]; then
	IMASNAP_KERNELS=debian
	[[ ${IMASNAP_ALL:-} != 1 ]] || IMASNAP_KERNELS+=" ima-kexec trixie sid"
fi
# custom_kernel_ready: the ima-kexec kernel and the helper built for it
custom_kernel_ready() {
	"$TOP/test/vm/custom-kernel.sh" built &&
		[[ -f $TOP/.output/kernel-helper-$("$TOP/test/vm/custom-kernel.sh" release)/imasnap.ko ]]
}
if ((RUN_CHAIN)); then
	for k in $IMASNAP_KERNELS; do
		if [[ $k == ima-kexec ]] && ! custom_kernel_ready; then
			add_counts "ima-kexec kernel asked for (IMASNAP_ALL or IMASNAP_KERNELS) but not built: make custom-kernel-module" 0 1 0
			continue
		fi
		# the guest's chain checks what this kernel must have (IMA_KEXEC)
		boot "kexec chain, $k kernel" ima-ng --kernel "$k" --env "IMASNAP_KERNEL=$k" --chain -- "${CHAIN[@]}"
		# the helper's own suite under lockdep and KASAN: ~15 minutes
		# more under TCG, so only on request
		[[ $k != ima-kexec || -z ${IMASNAP_CUSTOM_MODULE_SUITE:-} ]] ||
			boot "$k module" ima-ng --kernel "$k" -- "$TOP/test/bats/module.bats"
		# the concurrency soak (test/bats/soak.bats), longer, under
		# lockdep and KASAN
		[[ $k == debian || ${IMASNAP_ALL:-} != 1 ]] ||
			boot "$k soak" ima-ng --kernel "$k" --timeout 3000 \
				--env "IMASNAP_SOAK_ROUNDS=${IMASNAP_SOAK_ROUNDS:-12}" \
				--env BATS_TEST_TIMEOUT=2700 -- "$TOP/test/bats/soak.bats"
		# a list carried over kexec into Debian's kernel, whose restored
		# entries are in no hash table: trims must not touch their hnext
		[[ $k != ima-kexec ]] ||
			boot "$k kexec into Debian's kernel" ima-ng --kernel "$k" \
				--env "IMASNAP_DEBIAN_VMLINUZ=$("$TOP/test/vm/kernel.sh" vmlinuz)" \
				--chain -- "$TOP"/test/kexec/carry-to-debian-{1,2}.bats
	done
	# Two short chains on Debian's kernel: a reboot whose loader stopped
	# reporting (the helper's notifier times out, the machine still goes
	# down), and a power cut while the loader writes to a store on a disk.
	boot "reboot-wait chain" ima-ng --chain -- "$TOP"/test/kexec/reboot-wait{,-after}.bats
	boot "power-cut chain" ima-ng --chain -- "$TOP"/test/faults/powercut-{1,2}.bats
fi

# 5. The host test bed (test/vm/image.sh, docs/testing-host.md), with
# IMASNAP_ALL=1 (`make test-all`) or IMASNAP_HOST=1: the packages built
# from this tree (make deb) installed in a Debian 12 image with systemd,
# then kexec three times and a reboot.
if ((RUN_HOST)); then
	debs=$TOP/.output/debs
	echo
	echo "== packages for the host test bed (make deb DEBDIR=$debs)"
	rm -rf "$debs"
	if make -C "$TOP" deb DEBDIR="$debs"; then
		HOST_CHAIN=(install kexec kexec kexec reboot)
		HOST_CHAIN=("${HOST_CHAIN[@]/#/$TOP/test/host/}")
		boot "host test bed" ima-ng --image -- "$TOP/test/host/testbed.bats"
		boot "host test bed chain" ima-ng --image --env "IMASNAP_DEBS=$debs" \
			--chain -- "${HOST_CHAIN[@]/%/.bats}"
	else
		add_counts "host test bed: make deb failed, not run" 0 1 0
	fi
fi
exit $((FAILED > 0 || (STRICT && SKIPPED > 0)))
}
