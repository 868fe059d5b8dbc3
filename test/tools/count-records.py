#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""count-records.py LOG: the number of whole records in a binary measurement
log of a template with a data length (every template but the legacy ima),
so that a process IMA does not measure can count a store."""
import struct
import sys

with open(sys.argv[1], 'rb') as f:
    data = f.read()
off = count = 0
# pcr u32, sha1 digest[20], name_len u32, name, data_len u32, data
while off + 28 <= len(data):
    name_len = struct.unpack_from('<I', data, off + 24)[0]
    at = off + 28 + name_len
    if at + 4 > len(data):
        break
    data_len = struct.unpack_from('<I', data, at)[0]
    if at + 4 + data_len > len(data):
        break
    off = at + 4 + data_len
    count += 1
print(count)
