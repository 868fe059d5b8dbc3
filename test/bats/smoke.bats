#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-only
#
# Checks of the test bed itself (test/vm/): if these fail, nothing else in
# the suite means anything. Run alone with: test/vm/run.sh test/bats/smoke.bats

load helpers

setup() {
	require_ima
}

@test "IMA is active and logs boot_aggregate with template $TEMPLATE" {
	local pcr digest tmpl fh name
	read -r pcr digest tmpl fh name <"$IMA_DIR/ascii_runtime_measurements"
	echo "first entry: $pcr $digest $tmpl $fh $name"
	[ "$pcr" = 10 ]
	[ "$tmpl" = "$TEMPLATE" ]
	[ "$name" = boot_aggregate ]
	[[ $digest =~ ^[0-9a-f]{40}$ ]]
}

@test "the guest's IMA policy is loaded (one write per boot)" {
	[ -e "$IMASNAP_RESULTS/guest.conf" ]
	[ ! -e "$IMASNAP_RESULTS/policy-error" ]
	# The policy file can no longer be opened for writing once committed.
	run bash -c "echo 'measure func=FILE_CHECK' >$IMA_DIR/policy"
	[ "$status" -ne 0 ]
}

@test "reading a new tmpfs file as root adds exactly one matching measurement" {
	local d f before after line pcr digest tmpl fh name want
	d=$(tmpfs_dir)
	f=$d/one
	echo "imasnap smoke $RANDOM$RANDOM" >"$f"
	before=$(kernel_count)
	read -r _ <"$f"
	after=$(kernel_count)
	echo "count before $before, after $after"
	[ "$after" -eq $((before + 1)) ]

	line=$(ascii_entry "$IMA_DIR/ascii_runtime_measurements" "$f")
	echo "entry: $line"
	read -r pcr digest tmpl fh name <<<"$line"
	[ "$pcr" = 10 ]
	[ "$tmpl" = "$TEMPLATE" ]
	# The file data hash: sha1 for the legacy template, else ima_hash=sha256.
	if [ "$TEMPLATE" = ima ]; then
		want=$(sha1sum <"$f" | cut -d' ' -f1)
	else
		want=sha256:$(sha256sum <"$f" | cut -d' ' -f1)
	fi
	[ "$fh" = "$want" ]
	# The template digest (sha1 column) is the hash of the template data.
	want=$(ima_template_data "$TEMPLATE" "$fh" "$f" | sha1sum | cut -d' ' -f1)
	echo "template digest $digest, recomputed $want"
	[ "$digest" = "$want" ]
	# Same entry in the sha256 bank's list, with the sha256 template digest.
	if [ -e "$IMA_DIR/ascii_runtime_measurements_sha256" ]; then
		line=$(ascii_entry "$IMA_DIR/ascii_runtime_measurements_sha256" "$f")
		read -r pcr digest _ <<<"$line"
		want=$(ima_template_data "$TEMPLATE" "$fh" "$f" | sha256sum | cut -d' ' -f1)
		echo "sha256 template digest $digest, recomputed $want"
		[ "$digest" = "$want" ]
	fi
	rm -rf "$d"
}

@test "a second read of the same file, and reads by non-root, add nothing" {
	local d before
	d=$(tmpfs_dir)
	echo "again $RANDOM$RANDOM" >"$d/a"
	echo "nobody $RANDOM$RANDOM" >"$d/b"
	chmod 644 "$d/b"
	chmod 755 "$d"
	read -r _ <"$d/a"
	before=$(kernel_count)
	read -r _ <"$d/a"
	setpriv --reuid=65534 --regid=65534 --clear-groups cat "$d/b" >/dev/null
	[ "$(kernel_count)" -eq "$before" ]
	rm -rf "$d"
}

@test "reading files on the 9p-shared root adds no measurement" {
	local before
	# Only meaningful if the tree really is on 9p (statfs would show the
	# host's file system type, so ask the mount table).
	[ "$(findmnt -n -o FSTYPE -T "$TREE")" = 9p ]
	[ "$(findmnt -n -o FSTYPE -T /etc/os-release)" = 9p ]
	before=$(kernel_count)
	read -r _ <"$TREE/test/bats/smoke.bats"
	read -r _ <"$TREE/test/bats/helpers.bash"
	read -r _ </etc/os-release
	[ "$(kernel_count)" -eq "$before" ]
}

@test "measure_files N DIR adds exactly N measurements" {
	local d before
	d=$(tmpfs_dir)
	before=$(kernel_count)
	measure_files 25 "$d"
	[ "$(kernel_count)" -eq $((before + 25)) ]
	[ "$(grep -c " $d/f" "$IMA_DIR/ascii_runtime_measurements")" -eq 25 ]
	rm -rf "$d"
}

@test "writable tmpfs at /tmp /run /var/tmp /var/lib /root; the shared root is read-only" {
	local m
	for m in /tmp /run /var/tmp /var/lib /root; do
		[ "$(stat -f -c %T "$m")" = tmpfs ]
	done
	mkdir -p /var/lib/imasnap
	[ -d /var/lib/imasnap ]
	rmdir /var/lib/imasnap
	run touch /usr/imasnap-must-not-exist
	[ "$status" -ne 0 ]
}

@test "TPM: /dev/tpm0 and /dev/tpmrm0 exist and tpm2_pcrread matches sysfs PCR 10" {
	local sys tool
	[ -c /dev/tpm0 ]
	[ -c /dev/tpmrm0 ]
	read -r sys </sys/class/tpm/tpm0/pcr-sha256/10
	run tpm2_pcrread -T device:/dev/tpmrm0 sha256:10
	echo "$output"
	[ "$status" -eq 0 ]
	tool=$(sed -n 's/^ *10 *: *0x\([0-9A-Fa-f]*\)$/\1/p' <<<"$output")
	echo "sysfs $sys, tpm2_pcrread $tool"
	[ -n "$tool" ]
	[ "${tool^^}" = "${sys^^}" ]
	# IMA extended it at least with boot_aggregate.
	[ "${sys//0/}" != "" ]
}

@test "evmctl replays the kernel's IMA log to the TPM's PCRs" {
	local algo args=()
	# This suite gets a boot of its own (run-tests.sh): nothing trimmed the
	# list, so it replays from zero alone. A trimmed list means the test
	# bed ran it after another suite: a failure of the test bed.
	run awk '$5 == "snapshot_aggregate" { f = 1 } END { exit !f }' \
		"$IMA_DIR/ascii_runtime_measurements"
	[ "$status" -eq 1 ]
	# PCR values from sysfs, per bank evmctl knows; the scratch dir is on
	# ramfs, so writing and reading these files adds no measurement.
	for algo in sha1 sha256; do
		[ -d "/sys/class/tpm/tpm0/pcr-$algo" ] || continue
		pcrs_file "$algo" "$BATS_TEST_TMPDIR/pcrs-$algo"
		args+=(--pcrs "$algo,$BATS_TEST_TMPDIR/pcrs-$algo")
	done
	[ "${#args[@]}" -gt 0 ]
	# --ignore-violations makes evmctl extend violations (zero digest) with
	# 0xff as the kernel does; without it evmctl 1.4 uses zeros and fails
	# as soon as the log holds a violation.
	run evmctl ima_measurement --ignore-violations "${args[@]}" \
		"$IMA_DIR/binary_runtime_measurements"
	echo "$output" | tail -n 20
	[ "$status" -eq 0 ]
	[[ $output == *"Matched per TPM bank calculated digest"* ]]
}

@test "bpffs is mounted at /sys/fs/bpf and BPF LSM is active" {
	local lsm
	[ "$(stat -f -c %t /sys/fs/bpf)" = cafe4a11 ]
	# No trailing newline in this file: read(1) would return 1.
	lsm=$(</sys/kernel/security/lsm)
	echo "lsm: $lsm"
	[[ ,$lsm, == *,bpf,* ]]
}

@test "tracefs is mounted and the IMA functions are fentry/fexit targets" {
	local f=/sys/kernel/tracing/available_filter_functions
	[ -r "$f" ]
	grep -qw ima_add_template_entry "$f"
	grep -qw ima_add_digest_entry "$f"
}

@test "imasnap check finds every prerequisite on the test kernel" {
	run "$TREE/imasnap" check
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^ok: ' <<<"$output")" -eq 5 ]
	[[ $output == *"this kernel has everything imasnap needs"* ]]
}
