#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Build (once, cached) the guest's initramfs and print its path: busybox-static,
# test/vm/init as /init, a /probe init that only powers off (for the KVM probe
# boot), and the kernel modules needed to mount the host root over virtio-9p
# and to use the test disk (below).
# The cache key covers the kernel version, busybox and the files used, so an
# edit of test/vm/init rebuilds it.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${IMASNAP_CACHE:-/var/cache/imasnap}
BUSYBOX=/bin/busybox

die() {
	echo "initramfs.sh: $*" >&2
	exit 1
}

KVER=$("$HERE/kernel.sh" version)
MODDIR=$("$HERE/kernel.sh" moddir)
[[ -x $BUSYBOX ]] || die "$BUSYBOX missing (apt-get install busybox-static)"
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' ||
	ldd "$BUSYBOX" 2>&1 | grep -q 'not a dynamic' ||
	die "$BUSYBOX is not static (install busybox-static)"

# Modules the guest needs, the leaves of the dependency graph; their
# dependencies are found with modinfo, so a kernel that splits them differently
# still works. Besides the host root over 9p: the test disk (virtio_blk,
# run.sh --disk), a file system to make on it (ext4, which needs crc32c),
# device-mapper with its built-in linear and error targets and the flakey
# one (dm_mod, dm_flakey), and loop devices, for the fault tests
# (test/bats/faults.bats). ext4 asks the crypto API for crc32c by name up to
# 6.12 (no symbol dependency, so it is listed); from 7.x it calls the crc32c
# library, and crc32c_generic is gone: listed as optional.
ROOT_MODULES=(virtio_pci 9pnet_virtio 9p virtio_blk crc32c_generic ext4 dm_mod dm_flakey loop)
OPTIONAL_MODULES=" crc32c_generic "

declare -A PATH_OF=() SEEN=()
ORDER=()
while IFS= read -r f; do
	n=${f##*/}
	n=${n%%.ko*}
	PATH_OF[${n//-/_}]=$f
done < <(find "$MODDIR/kernel" -name '*.ko*')

# Depth-first: a module goes into ORDER after everything it depends on.
add_module() {
	local n=${1//-/_} d deps
	[[ -n ${SEEN[$n]:-} ]] && return
	SEEN[$n]=1
	if [[ -z ${PATH_OF[$n]:-} ]]; then
		[[ $OPTIONAL_MODULES != *" $n "* ]] || return 0
		# Not a module file: built into this kernel is fine.
		grep -q "/$n.ko\$" "$MODDIR/modules.builtin" 2>/dev/null ||
			grep -q "/${n//_/-}.ko\$" "$MODDIR/modules.builtin" 2>/dev/null ||
			die "module $n is neither in $MODDIR nor built in"
		return
	fi
	deps=$(/sbin/modinfo -F depends "${PATH_OF[$n]}")
	for d in ${deps//,/ }; do
		add_module "$d"
	done
	ORDER+=("$n")
}
for m in "${ROOT_MODULES[@]}"; do
	add_module "$m"
done

key=$(
	{
		echo "$KVER ${ORDER[*]}"
		# contents only: every checkout of the same scripts shares it
		cat "$BUSYBOX" "$HERE/init" "${BASH_SOURCE[0]}" | sha256sum
	} | sha256sum | cut -c1-16
)
OUT=$CACHE/$KVER/initramfs-$key.cpio
if [[ -s $OUT ]]; then
	echo "$OUT"
	exit 0
fi

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE"/{bin,dev,proc,sys,newroot,lib/modules}
cp "$BUSYBOX" "$STAGE/bin/busybox"
# Applet links made here, so /init can start with #!/bin/sh.
for a in $("$BUSYBOX" --list); do
	[[ $a == busybox ]] || ln -s busybox "$STAGE/bin/$a"
done
install -m 755 "$HERE/init" "$STAGE/init"
cat >"$STAGE/probe" <<'EOF'
#!/bin/sh
# KVM probe boot: reaching user space is all that is asked.
echo imasnap-probe-ok >/dev/console
/bin/busybox poweroff -f
EOF
chmod 755 "$STAGE/probe"
for n in "${ORDER[@]}"; do
	f=${PATH_OF[$n]}
	# busybox insmod on 6.1 takes plain .ko files only.
	case $f in
	*.ko.xz) xz -dc "$f" ;;
	*.ko.zst) zstd -dc "$f" ;;
	*.ko.gz) gzip -dc "$f" ;;
	*) cat "$f" ;;
	esac >"$STAGE/lib/modules/$n.ko"
done
printf '%s\n' "${ORDER[@]}" >"$STAGE/modules.list"
# the kernel they are for: init skips them on another (the custom kernel
# has them built in)
echo "$KVER" >"$STAGE/modules.kver"
mknod -m 600 "$STAGE/dev/console" c 5 1 2>/dev/null || true

mkdir -p "$(dirname "$OUT")"
(cd "$STAGE" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --quiet -R 0:0) >"$OUT.tmp"
mv -f "$OUT.tmp" "$OUT"
# Older builds (other keys) are no longer used.
# Old ones go, but not those of the last day: a running --chain test loads
# its initramfs again at every kexec.
find "$CACHE/$KVER" -maxdepth 1 -name 'initramfs-*.cpio' ! -path "$OUT" -mmin +1440 -delete
echo "initramfs.sh: built $OUT (modules: ${ORDER[*]})" >&2
echo "$OUT"
