#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Host tests of what gets installed (docs/install.md), each one counted:
#   install     `make install DESTDIR=... PREFIX=/usr` installs exactly the
#               files of test/pkg/install-files.txt and the helper's sources
#               (git ls-files kernel-helper), with every @VAR@ of the
#               units and scripts filled in; `make uninstall` removes all but
#               the configuration (and an empty store directory)
#   units       systemd-analyze verify accepts the installed units
#   man         both man pages render with no groff warning
#   dkms        the installed DKMS source alone builds imasnap.ko for the
#               test kernel (its BTF from /boot/vmlinuz-KVER, as for a kernel
#               that is not running), as DKMS runs it
#   deb         `make deb`: both packages build, lintian clean
# Ends with "pkg: N passed, N failed". Cold cost on 2 cores: docs/install.md.
#   test/pkg/run.sh [TEST...]    only the named tests
set -uo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$TOP" || exit 1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/imasnap-pkg-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
VERSION=$(sed -n '1s/^imasnap (\([^)]*\)).*/\1/p' debian/changelog)
ROOT=$WORK/root
passed=0 failed=0

t_install() {
	make -s install DESTDIR="$ROOT" PREFIX=/usr >/dev/null || return 1
	# the listed files, and the helper's sources as git knows them
	diff -u <({ sed "s/@VERSION@/$VERSION/" test/pkg/install-files.txt
		   git ls-files kernel-helper | grep -v '/\.gitignore$' |
			   sed "s|^kernel-helper/|usr/src/imasnap-$VERSION/|"; } | sort) \
		<(cd "$ROOT" && find . -mindepth 1 \( -type f -printf '%P\n' \) -o \
			\( -type d -empty -printf '%P/\n' \) | sort) || return 1
	if grep -rn '@[A-Z]*@' "$ROOT/usr/lib" "$ROOT/usr/src/imasnap-$VERSION/dkms.conf"; then
		echo "unsubstituted @VAR@ above"
		return 1
	fi
	grep -qx "ExecStart=@/usr/sbin/imasnap-load @imasnap-load --config /etc/imasnap/imasnap.conf" \
		"$ROOT/usr/lib/systemd/system/imasnap.service" || return 1
	# the installed configuration file is valid and changes no default
	"$ROOT/usr/sbin/imasnap-load" --check-config --config "$ROOT/etc/imasnap/imasnap.conf" \
		>"$WORK/effective" || return 1
	diff -u <(./imasnap-load --check-config --config /dev/null | sed 1d) \
		<(sed 1d "$WORK/effective") || return 1
	make -s uninstall DESTDIR="$ROOT" PREFIX=/usr >/dev/null || return 1
	diff -u <(echo etc/imasnap/imasnap.conf) <(cd "$ROOT" && find . -type f -printf '%P\n') || return 1
	[[ ! -e $ROOT/var/lib/imasnap ]]
}

t_units() {
	local root=$WORK/units
	make -s install DESTDIR="$root" PREFIX=/usr >/dev/null || return 1
	(cd "$root" && MANPATH=$root/usr/share/man systemd-analyze --root="$root" verify \
		usr/lib/systemd/system/imasnap.service usr/lib/systemd/system/imasnap-kexec-load.service) 2>&1 |
		tee "$WORK/verify"
	[[ ${PIPESTATUS[0]} -eq 0 && ! -s $WORK/verify ]]
}

t_man() {
	local m out
	for m in man/imasnap.8 man/imasnap-load.8; do
		out=$(MANWIDTH=80 man --warnings -l "$m" 2>&1 >/dev/null)
		[[ -z $out ]] || { echo "$m: $out"; return 1; }
	done
}

t_dkms() {
	local kver boot src=$WORK/dkms
	kver=$(test/vm/kernel.sh version) && boot=$(dirname "$(test/vm/kernel.sh vmlinuz)") || return 1
	make -s install DESTDIR="$WORK/droot" PREFIX=/usr >/dev/null || return 1
	cp -r "$WORK/droot/usr/src/imasnap-$VERSION" "$src" || return 1
	(cd "$src" && IMASNAP_BOOT_DIR=$boot sh ./dkms-build "$kver" "/usr/src/linux-headers-$kver") \
		>"$WORK/dkms.log" 2>&1 || { tail -20 "$WORK/dkms.log"; return 1; }
	grep -q "layout comes from vmlinux.elf" "$WORK/dkms.log" &&
		[[ $(modinfo -F vermagic "$src/imasnap.ko" | cut -d' ' -f1) == "$kver" ]]
}

t_deb() {
	test/pkg/build-deb.sh "$WORK/debs" >"$WORK/deb.log" 2>&1 || { tail -40 "$WORK/deb.log"; return 1; }
	ls "$WORK"/debs/imasnap_"$VERSION"_*.deb "$WORK/debs/imasnap-dkms_${VERSION}_all.deb" >/dev/null
}

tests=("$@")
[[ ${#tests[@]} -gt 0 ]] || tests=(install units man dkms deb)
for t in "${tests[@]}"; do
	start=$SECONDS
	if "t_$t"; then
		passed=$((passed + 1))
		echo "ok $t ($((SECONDS - start)) s)"
	else
		failed=$((failed + 1))
		echo "FAILED $t ($((SECONDS - start)) s)"
	fi
done
echo "pkg: $passed passed, $failed failed"
((failed == 0))
