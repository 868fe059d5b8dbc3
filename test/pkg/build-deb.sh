#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# build-deb.sh OUTDIR: builds the Debian packages (debian/) from a copy of
# the tree's committed and uncommitted files (not .output/ or other build
# products), since dpkg-buildpackage writes its results to the parent of the
# source directory, and leaves them in OUTDIR: imasnap_*.deb,
# imasnap-dkms_*.deb, the .buildinfo and the .changes. Then runs lintian on
# the .changes; any lintian tag (error to pedantic) fails (overrides in
# debian/*.lintian-overrides say why each is justified).
#   IMASNAP_DEB_CHECK=1  also run the host unit tests in the package build
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[[ $# -eq 1 ]] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/imasnap-deb.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

version=$(sed -n '1s/^imasnap (\([^)]*\)).*/\1/p' "$TOP/debian/changelog")
src=$WORK/imasnap-$version
mkdir -p "$src"
# the files git knows (tracked, or new and not ignored), as they are now
(cd "$TOP" && git ls-files -z --cached --others --exclude-standard |
	xargs -0 -I{} sh -c 'test -e "{}" && printf "%s\0" "{}"') |
	(cd "$TOP" && cpio -0 -pdm --quiet "$src")
opts=nocheck
[[ ${IMASNAP_DEB_CHECK:-0} == 1 ]] && opts=
(cd "$src" && DEB_BUILD_OPTIONS="$opts parallel=$(nproc)" dpkg-buildpackage -us -uc -b)
changes=$WORK/imasnap_${version}_$(dpkg --print-architecture).changes
cp "$WORK"/*.deb "$WORK"/*.buildinfo "$changes" "$OUT"/
echo "build-deb: packages in $OUT"
ls "$OUT"/*.deb
# errors, warnings, info and pedantic tags all fail (overrides excepted)
lintian --fail-on error,warning,info,pedantic --info --pedantic "$OUT/${changes##*/}"
echo "build-deb: lintian clean"
