#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
#
# records.py LOG: one line per record of a binary IMA log (the store's or
# the kernel's binary_runtime_measurements format, docs/formats.md "The store"):
# "pcr sha1-template-digest template-name", the first three fields of the
# kernel's ascii list; then "torn N" if N bytes of a partial record follow
# the last whole one. The legacy "ima" template has no data length field.
import struct
import sys


def main(path):
    data = open(path, "rb").read()
    off, out = 0, []
    while off < len(data):
        start = off
        try:
            pcr, = struct.unpack_from("<I", data, off)
            digest = data[off + 4:off + 24]
            nlen, = struct.unpack_from("<I", data, off + 24)
            if nlen == 0 or nlen > 255:
                raise ValueError("bad template name length %d" % nlen)
            name = data[off + 28:off + 28 + nlen].decode()
            off += 28 + nlen
            if name == "ima":
                dlen = 20 + 4 + struct.unpack_from("<I", data, off + 20)[0]
            else:
                dlen, = struct.unpack_from("<I", data, off)
                off += 4
            if off + dlen > len(data) or len(digest) != 20:
                raise ValueError("short")
            off += dlen
        except (struct.error, ValueError, UnicodeDecodeError):
            out.append("torn %d" % (len(data) - start))
            break
        out.append("%d %s %s" % (pcr, digest.hex(), name))
    sys.stdout.write("".join(line + "\n" for line in out))


if __name__ == "__main__":
    main(sys.argv[1])
