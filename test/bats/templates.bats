#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-only
#
# Every template the kernel logs is persisted byte for byte. test/run-tests.sh
# runs this file in boots with ima_template=ima-ng, ima-sig, the legacy ima
# (whose records carry no template data length) and a custom
# ima_template_fmt; it runs in the main boot too.

load helpers
load imasnap

# deep_path DIR: a new file whose path is 4,090 bytes long (PATH_MAX is
# 4,096), so that its template data exceeds a ring record (4,096 bytes)
deep_path() {
	local d=$1 part
	part=$(printf 'd%.0s' {1..250})
	# components of 250 bytes until a file name (at most 255) completes it
	while ((4090 - ${#d} - 1 > 255)); do
		d+=/$part
	done
	mkdir -p "$d"
	echo "$d/$(printf 'f%.0s' $(seq $((4090 - ${#d} - 1))))"
}

@test "this boot's template: the store is the kernel's list byte for byte and verifies" {
	local name
	name=$(awk 'NR == 1 { print $3 }' /sys/kernel/security/ima/ascii_runtime_measurements)
	echo "template logged: $name"
	start_loader
	measure_files 50 "$WORK"
	wait_lag0
	assert_store_is_kernel_log
	# every record of this boot carries the boot's template
	"$CLI" export --store "$STORE" --format ascii >"$BATS_TEST_TMPDIR/ascii"
	diff "$BATS_TEST_TMPDIR/ascii" /sys/kernel/security/ima/ascii_runtime_measurements
	[[ $(awk '{ print $3 }' "$BATS_TEST_TMPDIR/ascii" | sort -u) == "$name" ]]
	run "$CLI" verify --store "$STORE"
	echo "$output"
	[[ $status -eq 0 ]]
	stop_loader
}

@test "an entry with a 4,090-byte path is persisted exactly (the legacy ima template logs the file's own name)" {
	local f want ascii=$BATS_TEST_TMPDIR/ascii
	f=$(deep_path "$WORK")
	echo "large $RANDOM" >"$f"
	start_loader
	read -r _ <"$f"
	wait_lag0
	assert_store_is_kernel_log
	"$CLI" export --store "$STORE" --format ascii >"$ascii"
	if [[ $TEMPLATE == ima ]]; then
		# its n field holds at most 255 bytes: for a longer path IMA
		# logs the last component, and the record fits a ring record
		want=${f##*/}
		((${#want} <= 255))
		[[ $(status_field oversized) == 0 ]]
	else
		# the whole path: template data beyond a ring record (4,096
		# bytes), read from the kernel's list
		want=$f
		(($(status_field oversized) > 0))
	fi
	ascii_entry "$ascii" "$want"
	run ascii_entry "$ascii" "$f"
	[[ $TEMPLATE != ima || $status -ne 0 ]]
	stop_loader
}
