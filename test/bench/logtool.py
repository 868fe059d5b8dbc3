#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
#
# The benchmarks' reading of binary measurement logs (the store's format is
# the kernel's binary_runtime_measurements):
#
#   logtool.py missing STORE KERNEL FIRST END
#       of the entries FIRST..END-1 (indexes from this boot's first entry;
#       KERNEL holds them from index 0: no trim), prints "M D": M the store
#       lacks, D it holds with other bytes
#   logtool.py latency STORE TRACE [FIRST]
#       from an ftrace log with three events (the kprobe "add" on
#       ima_add_digest_entry with idx=@ima_htable, the loader's
#       sys_pwrite64 on the store and its sys_exit_fdatasync), per entry
#       from FIRST on: the time from IMA adding it to the list to the end of
#       the loader's first fdatasync after the write that held it; prints
#       "N MEDIAN_MS P99_MS MAX_MS UNMATCHED"
#   logtool.py aggregates STORE [FIRST]
#       of the records from index FIRST on: how many, and how many bytes,
#       are snapshot_aggregate records (ima-buf, event name
#       snapshot_aggregate); prints "RECORDS AGGREGATES AGGREGATE_BYTES"
#   logtool.py make STORE N MIX PCRDIR
#       writes a log of N records (MIX "ima-ng": that template only; "all":
#       ima, ima-ng, ima-sig, ima-buf and a custom template in turn, with a
#       violation and a record in PCR 11 now and then) and, computed here
#       apart from imasnap, the PCR values it replays to in PCRDIR/ALG for
#       sha1, sha256, sha384 and sha512, in evmctl's --pcrs format
import hashlib
import os
import re
import struct
import sys


def records(path):
    """(start, end) byte offsets of each record of a binary log"""
    with open(path, 'rb') as f:
        data = f.read()
    out, off = [], 0
    while off < len(data):
        start = off
        off += 4 + 20                       # pcr, SHA-1 template digest
        (name_len,) = struct.unpack_from('<I', data, off)
        off += 4
        name = data[off:off + name_len]
        off += name_len
        if name == b'ima':
            off += 20 + 256                 # d and n fields, no length
        else:
            (data_len,) = struct.unpack_from('<I', data, off)
            off += 4 + data_len
        if off > len(data):
            raise SystemExit(f'{path}: torn record at byte {start}')
        out.append((start, off))
    return data, out


def missing(store, kernel, first, end):
    sdata, srec = records(store)
    kdata, krec = records(kernel)
    lacks = differs = 0
    for i in range(first, end):
        if i >= len(srec):
            lacks += 1
        elif i >= len(krec) or sdata[slice(*srec[i])] != kdata[slice(*krec[i])]:
            differs += 1
    print(lacks, differs)


def aggregates(store, first=0):
    data, rec = records(store)
    n = size = 0
    for start, end in rec[first:]:
        r = data[start:end]
        (name_len,) = struct.unpack_from('<I', r, 24)
        if r[28:28 + name_len] != b'ima-buf':
            continue
        # template data (after its length): d-ng, n-ng, buf, each with
        # its length; the event name with its NUL
        off = 28 + name_len + 4
        (d_len,) = struct.unpack_from('<I', r, off)
        off += 4 + d_len
        (ev_len,) = struct.unpack_from('<I', r, off)
        if r[off + 4:off + 4 + ev_len] == b'snapshot_aggregate\0':
            n += 1
            size += end - start
    print(len(rec) - first, n, size)


EVENT = re.compile(r'\s(\d+\.\d+): (.*)$')


def latency(store, trace, first=0):
    _, srec = records(store)
    added = {}          # entry index -> time IMA added it
    written = 0         # highest store offset written so far
    synced = []         # (time, store bytes durable then)
    with open(trace) as f:
        for line in f:
            m = EVENT.search(line)
            if not m:
                continue
            t, ev = float(m.group(1)), m.group(2)
            if ev.startswith('add: '):
                idx = int(re.search(r'idx=(\d+)', ev).group(1))
                added.setdefault(idx, t)
            elif ev.startswith('sys_pwrite64('):
                args = dict(a.split(': ') for a in ev[len('sys_pwrite64('):-1].split(', '))
                written = max(written, int(args['pos'], 16) + int(args['count'], 16))
            elif ev.startswith('sys_fdatasync -> ') and int(ev.split('-> ')[1], 16) == 0:
                synced.append((t, written))
    lat, unmatched, j = [], 0, 0
    for idx in sorted(i for i in added if i >= first):
        if idx >= len(srec):
            unmatched += 1
            continue
        end = srec[idx][1]
        while j < len(synced) and (synced[j][1] < end or synced[j][0] < added[idx]):
            j += 1
        if j == len(synced):
            unmatched += 1
            continue
        lat.append((synced[j][0] - added[idx]) * 1000)
    lat.sort()
    if not lat:
        print(0, 'nan', 'nan', 'nan', unmatched)
        return
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
    print(len(lat), f'{pick(0.5):.1f}', f'{pick(0.99):.1f}', f'{lat[-1]:.1f}', unmatched)


BANKS = ('sha1', 'sha256', 'sha384', 'sha512')


def field(b):
    return struct.pack('<I', len(b)) + b


def template(i, mix):
    """(pcr, name, logged data, hashed bytes) of record i"""
    path = f'/usr/lib/bench/file-{i:08d}.so'.encode()
    digest = hashlib.sha256(path).digest()
    kind = 'ima-ng' if mix == 'ima-ng' else ('ima', 'ima-ng', 'ima-sig', 'ima-buf', 'custom')[i % 5]
    pcr = 11 if mix == 'all' and i % 97 == 0 else 10
    if kind == 'ima':
        d = hashlib.sha1(path).digest()
        logged = d + struct.pack('<I', len(path)) + path
        return pcr, b'ima', logged, d + path.ljust(256, b'\0')
    dng = field(b'sha256:\0' + digest)
    data = {
        'ima-ng': dng + field(path + b'\0'),
        'ima-sig': dng + field(path + b'\0') + field(b''),
        'ima-buf': dng + field(b'kexec-cmdline\0') + field(b'root=/dev/vda ro ' * 3),
        'custom': field(b'ima:sha256:\0' + digest) + field(path + b'\0') + field(b''),
    }[kind]
    name = b'd-ngv2|n-ng|sig' if kind == 'custom' else kind.encode()
    return pcr, name, data, data


def make(store, n, mix, pcrdir):
    pcrs = {alg: [bytes(hashlib.new(alg).digest_size)] * 24 for alg in BANKS}
    with open(store, 'wb') as out:
        buf = []
        for i in range(n):
            pcr, name, logged, hashed = template(i, mix)
            violation = mix == 'all' and i % 1009 == 500
            sha1 = bytes(20) if violation else hashlib.sha1(hashed).digest()
            head = struct.pack('<I', pcr) + sha1 + field(name)
            buf.append(head + (logged if name == b'ima' else field(logged)))
            for alg in BANKS:
                size = hashlib.new(alg).digest_size
                tdig = b'\xff' * size if violation else hashlib.new(alg, hashed).digest()
                pcrs[alg][pcr] = hashlib.new(alg, pcrs[alg][pcr] + tdig).digest()
            if len(buf) >= 4096:
                out.write(b''.join(buf))
                buf = []
        out.write(b''.join(buf))
    os.makedirs(pcrdir, exist_ok=True)
    for alg in BANKS:
        with open(os.path.join(pcrdir, alg), 'w') as f:
            f.writelines(f'PCR-{p:02d}: {v.hex()}\n' for p, v in enumerate(pcrs[alg]))


if __name__ == '__main__':
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'missing':
        missing(args[0], args[1], int(args[2]), int(args[3]))
    elif cmd == 'make':
        make(args[0], int(args[1]), args[2], args[3])
    elif cmd == 'latency':
        latency(args[0], args[1], int(args[2]) if len(args) > 2 else 0)
    elif cmd == 'aggregates':
        aggregates(args[0], int(args[1]) if len(args) > 1 else 0)
    else:
        raise SystemExit(f'unknown command {cmd}')
