# SPDX-License-Identifier: GPL-2.0-only
#
# Helpers for the host test bed's suites (test/vm/run.sh --image --chain, one
# file per boot; docs/testing-host.md): imasnap as an operator has it, from
# the packages, as a systemd service, on the image's ext4 root, measured by
# the kernel's tcb policy. The store is the package's, /var/lib/imasnap; what
# a later boot compares with goes to $IMASNAP_RESULTS/persist.

load ../bats/helpers
load ../bats/imasnap

# shellcheck disable=SC2034 # for the test files
LOADER=/usr/sbin/imasnap-load
CLI=/usr/sbin/imasnap
STORE=/var/lib/imasnap
PERSIST=${IMASNAP_RESULTS:?}/persist
BOOT=${IMASNAP_BOOT:?}
# The packages: `make deb DEBDIR=$TREE/.output/debs` (make test-host does)
DEBS=${IMASNAP_DEBS:-$TREE/.output/debs}
# Writers' files: on the ext4 root, which the tcb policy measures
WRITERS=/var/tmp/imasnap-writers
# Figures for the report (docs/testing-host.md): "name value" lines
FIGURES=$IMASNAP_RESULTS/figures

setup() {
	require_ima
}

teardown() {
	:
}

# deb NAME: the one NAME_*.deb in $DEBS
deb() {
	local f
	f=$(compgen -G "$DEBS/$1_*.deb") || {
		echo "no $1_*.deb in $DEBS (make deb DEBDIR=$DEBS)" >&2
		return 1
	}
	[[ $f != *$'\n'* ]] || {
		echo "more than one $1_*.deb in $DEBS" >&2
		return 1
	}
	echo "$f"
}

# pcrs_file ALGO FILE: the TPM's PCRs 0-23 of bank ALGO, as tpm2_pcrread
# reads them (not the kernel's sysfs view), in evmctl's --pcrs format
pcrs_file() {
	tpm2_pcrread "$1:0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23" |
		sed -n -E 's/^ +([0-9]+) *: 0x([0-9A-Fa-f]+)$/\1 \2/p' |
		awk '{ printf "PCR-%02d: %s\n", $1, tolower($2) }' >"$2"
	# ("9 : 0x..." but "10: 0x...": tpm2_pcrread pads the index to two)
	[[ $(wc -l <"$2") -eq 24 ]]
}

# service_ready: imasnap.service is active, so its Type=notify loader said
# READY=1 (after catching up): it has a main PID
service_ready() {
	local i state
	for ((i = 0; i < 600; i++)); do
		state=$(systemctl show -P ActiveState imasnap.service)
		[[ $state == active ]] && break
		[[ $state == failed ]] && break
		sleep 0.1
	done
	systemctl status --no-pager imasnap.service >&2 || true
	[[ $state == active ]]
	[[ $(systemctl show -P Type imasnap.service) == notify ]]
	[[ $(systemctl show -P MainPID imasnap.service) -gt 0 ]]
}

# figure NAME VALUE: a figure for the report
figure() {
	echo "boot $BOOT: $1 $2" >>"$FIGURES"
}

# epoch_id: the boot id that began the store's epoch
epoch_id() {
	sed -n 's/^epoch //p' "$STORE/epoch"
}

# store_names [DIR]: the names in the records of the store in DIR (default
# $STORE, with the kernel's entries not stored yet; another DIR alone, say
# a copy of a kept epoch), one a line
store_names() {
	if [[ -n ${1:-} ]]; then
		"$CLI" export --store "$1" --store-only --format ascii
	else
		"$CLI" export --store "$STORE" --format ascii
	fi | awk '{ print $5 }'
}

# start_writers: two writers (test/kexec/writer.sh) measuring new files on
# the ext4 root until shutdown kills them; outside bats and in this boot's
# runner service (KillMode=process), so only systemd's final killing spree
# stops them. Once the runner starts the next boot they name their files
# s<N> instead of w<N>: those are the measurements made during shutdown.
start_writers() {
	local w
	for w in 1 2; do
		setsid -f bash "$TREE/test/kexec/writer.sh" "$WRITERS/b$BOOT-$w" \
			"$PERSIST/window.$BOOT" "$IMASNAP_RESULTS/shutdown" \
			</dev/null >/dev/null 2>&1 3>&-
	done
	for ((w = 0; w < 300; w++)); do
		[[ -f $PERSIST/window.$BOOT ]] && (($(wc -l <"$PERSIST/window.$BOOT") >= 2)) && return 0
		sleep 0.1
	done
	echo "the writers measured nothing in 30 s" >&2
	return 1
}

# writers_intact BOOT [DIR]: the writers of boot BOOT lost nothing and nothing
# twice: every name they listed is in the store once, and each writer's
# files are in the store once each, numbered without a hole (a read that
# the kernel's freeze held never returned, so no later file exists).
# Prints how many were measured during shutdown (s<N> files).
writers_intact() {
	local b=$1 names=$BATS_TEST_TMPDIR/names
	store_names "${2:-}" | grep "^$WRITERS/b$b-" >"$names" || true
	[[ -s $names ]] || {
		echo "no writer of boot $b in the store" >&2
		return 1
	}
	[[ -z $(sort "$names" | uniq -d) ]] || {
		echo "stored twice: $(sort "$names" | uniq -d | head -n 3)" >&2
		return 1
	}
	awk 'NR == FNR { have[$1] = 1; next } !($1 in have) { print "listed, not stored: " $1; bad = 1 }
		END { exit bad }' "$names" "$PERSIST/window.$b" >&2
	awk -F/ '{ n = $NF; sub(/^[ws]/, "", n); w = $(NF - 1); c[w]++; if (n + 0 > m[w]) m[w] = n + 0 }
		END { for (w in c) if (c[w] != m[w] + 1) { print w ": " c[w] " files, last " m[w]; bad = 1 }
		      exit bad }' "$names" >&2
	grep -c '/s[0-9]*$' "$names" || true
}

# end_boot_with kexec|reboot: what the runner does after this file
end_boot_with() {
	echo "$1" >"$IMASNAP_RESULTS/next-boot"
}

# keep_copy NAME: the store as it is now, as $PERSIST/NAME.$BOOT
keep_copy() {
	cp "$STORE/binary_runtime_measurements" "$PERSIST/$1.$BOOT"
}

# no_kernel_warning: this boot's kernel log in the journal has no line of
# priority warning or above from the start of user space on (the kernel's
# own start under TCG warns about clocks, MTRRs and IMA's sha384/sha512,
# which are modules in Debian's kernel: not ours to judge), but for the
# notices named below
no_kernel_warning() {
	local log=$BATS_TEST_TMPDIR/kernel-log init
	journalctl -k -b -o short-monotonic -q --no-pager >"$log"
	init=$(awk '/Run \/init as init process/ { print substr($1 $2, 2) + 0; exit }' "$log")
	[[ -n $init ]]
	# Notices at warning level that say nothing is wrong: the taint of any
	# DKMS module, audit's rate limit on IMA's violation records, TCG's
	# slow timer interrupts, device-mapper on IMA's hash table option.
	journalctl -k -b -p warning -o short-monotonic -q --no-pager |
		awk -v t="$init" 'match($0, /^\[ *[0-9.]+\]/) { s = substr($0, 2, RLENGTH - 2) + 0 }
			s >= t' |
		grep -v -E 'kernel: (imasnap: loading out-of-tree module taints kernel\.|kauditd_printk_skb: [0-9]+ callbacks suppressed|hrtimer: interrupt took [0-9]+ ns|device-mapper: core: CONFIG_IMA_DISABLE_HTABLE is disabled\.)' \
		>"$log.warnings" || true
	cat "$log.warnings"
	[[ ! -s $log.warnings ]]
}

# evmctl_ok: evmctl, an independent replay, accepts the log imasnap export
# gives (the store, then the kernel's entries it does not hold yet) against
# the TPM's PCRs read right after (sha1 and sha256 banks, by tpm2_pcrread).
# The tcb policy measures what the system does meanwhile (the export's own
# open of the changed store, the journal, timers): a PCR read that took an
# entry the export did not yet see fails evmctl, and the pair is taken again
# (20 tries).
evmctl_ok() {
	local i algo args=() copy=$BATS_TEST_TMPDIR/log.copy p=$BATS_TEST_TMPDIR/pcrs
	for algo in sha1 sha256; do
		args+=(--pcrs "$algo,$p-$algo")
	done
	for ((i = 0; i < 20; i++)); do
		((i == 0)) || sleep 0.5
		"$CLI" export --store "$STORE" >"$copy" || continue
		pcrs_file sha1 "$p-sha1" || continue
		pcrs_file sha256 "$p-sha256" || continue
		run evmctl ima_measurement --ignore-violations "${args[@]}" "$copy"
		if [[ $status -eq 0 ]]; then
			echo "$output" | tail -n 3
			return 0
		fi
	done
	echo "$output" | tail -n 5
	echo "evmctl: no export of the log matched the PCRs read after it in 20 tries" >&2
	return 1
}
