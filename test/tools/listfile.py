#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Opens IMA's list files the ways test/bats/gate.bats needs, and checks
what it reads.

  listfile.py open MODE PATH [COPY]  one open; MODE: ro, rw or acc3 (flags 3,
                                     neither read nor write). Prints "ok MODE"
                                     or the errno name; ro and rw read the
                                     whole file, check it and save it to COPY.
  listfile.py loop STOPFILE PATH...  opens each PATH in every mode, over and
                                     over, until STOPFILE exists; prints the
                                     outcomes counted ("ro:ok 120 acc3:ok 118
                                     ..."); exits 1 on a malformed list.
  listfile.py trim N DIGEST          writes "N DIGEST\\n" to the helper's trim
                                     file; prints OK or the errno name.
"""
import errno
import os
import re
import struct
import sys

MODES = {'ro': os.O_RDONLY, 'rw': os.O_RDWR, 'acc3': 3}
ASCII_LINE = re.compile(rb'^\d+ [0-9a-f]{40} \S+ \S')


def check_binary(data):
    """Each record: pcr, SHA-1 digest, template name, template data."""
    off = 0
    while off < len(data):
        nlen, = struct.unpack_from('<I', data, off + 24)
        off += 28
        name = data[off:off + nlen]
        off += nlen
        if name == b'ima':     # legacy: digest, name length, name
            off += 20
            nlen, = struct.unpack_from('<I', data, off)
            off += 4 + nlen
        else:
            dlen, = struct.unpack_from('<I', data, off)
            off += 4 + dlen
        if nlen > 255 or off > len(data):
            raise ValueError('malformed record before offset %d' % off)


def check_ascii(data):
    if data and not data.endswith(b'\n'):
        raise ValueError('torn last line')
    for line in data.splitlines():
        if not ASCII_LINE.match(line):
            raise ValueError('malformed line %r' % line[:80])


def open_once(mode, path, copy=None):
    """'ok' or an errno name; raises ValueError on a malformed list."""
    try:
        fd = os.open(path, MODES[mode])
    except OSError as e:
        return errno.errorcode[e.errno]
    try:
        if mode == 'acc3':
            return 'ok'
        chunks = []
        while True:
            b = os.read(fd, 4096)
            if not b:
                break
            chunks.append(b)
        data = b''.join(chunks)
    except OSError as e:
        return 'read-' + errno.errorcode[e.errno]
    finally:
        os.close(fd)
    try:
        if path.endswith('ascii_runtime_measurements'):
            check_ascii(data)
        else:
            check_binary(data)
    except struct.error as e:
        raise ValueError('truncated record: %s' % e)
    if copy:
        with open(copy, 'wb') as f:
            f.write(data)
    return 'ok'


def cmd_open(mode, path, copy=None):
    r = open_once(mode, path, copy)
    print(r if r != 'ok' else 'ok ' + mode)


def cmd_loop(stopfile, *paths):
    seen = {}
    try:
        while not os.path.exists(stopfile):
            for path in paths:
                for mode in MODES:
                    key = '%s:%s' % (mode, open_once(mode, path))
                    seen[key] = seen.get(key, 0) + 1
    except ValueError as e:
        print('FAIL: %s' % e)
        sys.exit(1)
    finally:
        print(' '.join('%s %d' % kv for kv in sorted(seen.items())))


def cmd_trim(n, digest):
    fd = os.open('/sys/kernel/security/imasnap/trim', os.O_WRONLY)
    try:
        os.write(fd, ('%s %s\n' % (n, digest)).encode())
        print('OK')
    except OSError as e:
        print(errno.errorcode[e.errno])
    finally:
        os.close(fd)


globals()['cmd_' + sys.argv[1]](*sys.argv[2:])
