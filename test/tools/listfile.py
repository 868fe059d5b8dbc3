#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Opens IMA's list files and the helper's own files the ways
test/bats/gate.bats needs, and checks what it reads.

  listfile.py open MODE PATH [COPY]  one open; MODE: ro, rw or acc3 (flags 3,
                                     neither read nor write). Prints "ok MODE"
                                     or the errno name; ro and rw read the
                                     whole file, check it and save it to COPY.
  listfile.py loop STOPFILE PATH...  opens each PATH in every mode, over and
                                     over, until STOPFILE exists; prints the
                                     outcomes counted ("ro:ok 120 acc3:ok 118
                                     ..."); exits 1 on a malformed list.
                                     The helper's files: its state file ro
                                     and acc3 (state:ro:ok ...), a control
                                     file wo (opened for writing, closed
                                     unwritten) and acc3 (trim:wo:ok ...).
  listfile.py trim N DIGEST          writes "N DIGEST\\n" to the helper's trim
                                     file; prints OK or the errno name.
"""
import errno
import os
import re
import struct
import sys

MODES = {'ro': os.O_RDONLY, 'rw': os.O_RDWR, 'acc3': 3, 'wo': os.O_WRONLY}
LIST_MODES = ('ro', 'rw', 'acc3')
ASCII_LINE = re.compile(rb'^\d+ [0-9a-f]{40} \S+ \S')
STATE_LINE = re.compile(rb'^[a-z_]+: \S')
HELPER_DIR = '/sys/kernel/security/imasnap/'


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


def check_state(data):
    if not data.startswith(b'version: ') or not data.endswith(b'\n'):
        raise ValueError('state file without its version or torn')
    for line in data.splitlines():
        if not STATE_LINE.match(line):
            raise ValueError('malformed state line %r' % line[:80])


def modes_of(path):
    """The helper's files: what they are for (and acc3)."""
    if not path.startswith(HELPER_DIR):
        return LIST_MODES
    return ('ro', 'acc3') if path.endswith('/state') else ('wo', 'acc3')


def open_once(mode, path, copy=None):
    """'ok' or an errno name; raises ValueError on a malformed list."""
    try:
        fd = os.open(path, MODES[mode])
    except OSError as e:
        return errno.errorcode[e.errno]
    try:
        if mode in ('acc3', 'wo'):
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
        elif path.startswith(HELPER_DIR):
            check_state(data)
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
                for mode in modes_of(path):
                    key = '%s:%s' % (mode, open_once(mode, path))
                    if path.startswith(HELPER_DIR):
                        key = os.path.basename(path) + ':' + key
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
