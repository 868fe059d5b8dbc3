# SPDX-License-Identifier: GPL-2.0-only
#
# Helpers for the kexec chains (test/vm/run.sh --chain, one file per boot).
# The store lives on the results share ($IMASNAP_RESULTS/persist), which
# every boot of the chain sees; the loader and the writers are started
# outside bats so that they still run when the guest jumps to the next
# kernel after the file's last test.

load ../bats/helpers
load ../bats/imasnap

PERSIST=${IMASNAP_RESULTS:?}/persist
STORE=$PERSIST/store
BOOT=${IMASNAP_BOOT:?}
LOADER_LOG=$PERSIST/loader.$BOOT.log
# soft reboots before the chain's full reboot
KEXECS=${IMASNAP_KEXECS:-3}

setup() {
	require_ima
}

teardown() {
	:
}

# start_loader_detached: imasnap-load on $STORE in its own session (and
# without bats' fd 3, which bats waits on); waits until it follows IMA (60 s)
start_loader_detached() {
	local i from
	# the log is appended to: only this loader's lines count
	from=$(($({ wc -l <"$LOADER_LOG"; } 2>/dev/null || echo 0) + 1))
	setsid -f "$LOADER" --store "$STORE" >>"$LOADER_LOG" 2>&1 </dev/null 3>&-
	for ((i = 0; i < 600; i++)); do
		tail -n "+$from" "$LOADER_LOG" | grep -q "following IMA's measurements" && return 0
		((i < 20)) || pgrep -x imasnap-load >/dev/null || break
		sleep 0.1
	done
	echo "imasnap-load did not start:" >&2
	cat "$LOADER_LOG" >&2
	return 1
}

# stop_loader_detached: SIGINT, as a service manager would; waits (10 s)
stop_loader_detached() {
	local i
	pkill -INT -x imasnap-load || return 0
	for ((i = 0; i < 100; i++)); do
		pgrep -x imasnap-load >/dev/null || return 0
		sleep 0.1
	done
	echo "imasnap-load did not stop" >&2
	return 1
}

# start_writers: two writers measuring until the kernel goes (writer.sh);
# the names they measured go to $PERSIST/window.$BOOT
start_writers() {
	local w
	for w in 1 2; do
		setsid -f bash "$TREE/test/kexec/writer.sh" "/tmp/kexec-window-b$BOOT-$w" \
			"$PERSIST/window.$BOOT" </dev/null >/dev/null 2>&1 3>&-
	done
	# both have measured something before the next kernel is loaded
	for ((w = 0; w < 100; w++)); do
		[[ -f $PERSIST/window.$BOOT ]] && (($(wc -l <"$PERSIST/window.$BOOT") >= 2)) && return 0
		sleep 0.1
	done
	echo "the writers measured nothing in 10 s" >&2
	return 1
}

# snapshot_ok: `imasnap snapshot` through the running loader trims something
snapshot_ok() {
	run "$CLI" snapshot --store "$STORE"
	echo "$output"
	[[ $status -eq 0 && $output == *"trimmed "* ]]
}

# load_next_kernel: imasnap kexec-prepare, then load this same kernel and
# initramfs (from the host, over 9p) with its command line, for kexec -e.
# On a CONFIG_IMA_KEXEC kernel IMA copies its list into the image now: its
# size bookkeeping must be the trimmed list's (the writers go on measuring,
# so between the list's sizes before and after the load, plus IMA's 24-byte
# header), and the segment under 64 KiB.
load_next_kernel() {
	local ima_kexec= before after size seg
	run "$CLI" kexec-prepare --store "$STORE"
	echo "$output"
	[[ $status -eq 0 ]]
	# which kernel this is, run-tests.sh says (--env IMASNAP_KERNEL): the
	# segment checks below must not be left out because a lookup missed
	has_ima_kexec && ima_kexec=1
	case ${IMASNAP_KERNEL:-} in
	ima-kexec)
		[[ -n $ima_kexec ]] || {
			echo "the ima-kexec kernel shows no ima_add_kexec_buffer in /proc/kallsyms" >&2
			return 1
		}
		;;
	debian | trixie | sid)
		[[ -z $ima_kexec ]] || {
			echo "Debian's $IMASNAP_KERNEL kernel shows ima_add_kexec_buffer: not the kernel expected" >&2
			return 1
		}
		;;
	esac
	[[ -z $ima_kexec ]] || ima_kexec_probes_on
	before=$(wc -c <"$KERNEL_LOG")
	kexec -s -l "${IMASNAP_VMLINUZ:?}" --initrd "${IMASNAP_INITRD:?}" --reuse-cmdline
	after=$(wc -c <"$KERNEL_LOG")
	[[ -n $ima_kexec ]] || return 0
	# before the probes go: removing an event clears the trace buffer
	read -r size seg < <(ima_kexec_sizes)
	ima_kexec_probes_off
	echo "IMA runtime size $size, kexec segment $seg bytes; list $before..$after bytes"
	((before + 24 <= size && size <= after + 24))
	((seg < 65536))
	echo "$size $seg" >"$PERSIST/ima-kexec.$BOOT"
}

# window_measured: after the next kernel was loaded, wait until the writers
# made two more measurements (30 s at most), so that the load-to-execute
# window holds some whatever the machine's speed
window_measured() {
	local list=$PERSIST/window.$BOOT want i
	want=$(($(wc -l <"$list") + 2))
	for ((i = 0; i < 300; i++)); do
		(($(wc -l <"$list") >= want)) && return 0
		sleep 0.1
	done
	echo "the writers measured nothing after the load in 30 s" >&2
	return 1
}

# end_boot_with kexec|reboot: what the guest does after this file
end_boot_with() {
	echo "$1" >"$IMASNAP_RESULTS/next-boot"
}

# keep_copy NAME: the store as it is now, as $PERSIST/NAME.$BOOT
keep_copy() {
	cp "$STORE/binary_runtime_measurements" "$PERSIST/$1.$BOOT"
}
