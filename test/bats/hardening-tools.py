#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
#
# Other processes at the loader's control socket, for hardening.bats:
#   squat DIR        as uid 65534, bind the name of DIR's control socket and
#                    answer every request like a loader that trimmed 5
#   hold DIR SECS N  as root, keep N connections to it open for SECS seconds,
#                    none ever sending a request (a closed one is replaced)
#                    (these two print "ready" once in place)
#   lag DIR WORK N   N times: measure a new file in WORK, then time until
#                    DIR's store holds every entry the kernel listed; prints
#                    the longest wait in ms
#   first SRC DST    write the first record of the binary log SRC to DST
#   forge DIR OUT    root's forgery of DIR's history (the kernel's list was
#                    trimmed): in OUT a store whose entries before the
#                    kernel's head are a fake epoch base (a snapshot_aggregate
#                    on PCR 16 whose PCR 10 value is the kernel's at its head)
#                    and filler on PCR 16, then DIR's entries from the head,
#                    and an epoch file naming that base; PCR 16 is reset and
#                    extended so that the TPM agrees with the forgery
import hashlib
import os
import socket
import sys
import time


def address(store):
    return b'\0imasnap-load:' + os.path.realpath(store).encode()


def squat(store):
    addr = address(store)
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.bind(addr)
    s.listen(8)
    print('ready', flush=True)
    while True:
        c, _ = s.accept()
        c.recv(64)
        c.send(b'0 5')
        c.close()


def hold(store, seconds, n):
    addr = address(store)
    end = time.monotonic() + float(seconds)
    conns = []
    said = False
    while time.monotonic() < end:
        # the loader drops a silent client after a while: replace it
        alive = []
        for c in conns:
            try:
                if c.recv(64, socket.MSG_DONTWAIT) == b'':
                    c.close()
                    continue
            except BlockingIOError:
                pass
            except OSError:
                c.close()
                continue
            alive.append(c)
        conns = alive
        while len(conns) < int(n):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            c.connect(addr)
            conns.append(c)
        if not said:
            print('ready', flush=True)
            said = True
        time.sleep(0.05)


def store_entries(path):
    with open(path, 'rb') as f:
        data = f.read()
    off = n = 0
    while off + 28 <= len(data):
        name_len = int.from_bytes(data[off + 24:off + 28], 'little')
        end = off + 28 + name_len
        if data[off + 28:end] == b'ima':
            end += 20 + 4
            if end > len(data):
                break
            end += int.from_bytes(data[end - 4:end], 'little')
        else:
            if end + 4 > len(data):
                break
            end += 4 + int.from_bytes(data[end:end + 4], 'little')
        if end > len(data):
            break
        off = end
        n += 1
    return n


def next_index():
    with open('/sys/kernel/security/ima/runtime_measurements_count') as f:
        count = int(f.read())
    try:
        with open('/sys/kernel/security/imasnap/state') as f:
            for line in f:
                if line.startswith('epoch_start: '):
                    count += int(line.split()[1])
    except FileNotFoundError:
        pass
    return count


def lag(store, work, n):
    path = os.path.join(store, 'binary_runtime_measurements')
    longest = 0
    for i in range(int(n)):
        name = os.path.join(work, 'lag-%d-%d' % (os.getpid(), i))
        with open(name, 'w') as f:
            f.write('lag %d %f\n' % (i, time.time()))
        with open(name) as f:      # measured: the policy measures root's reads
            f.read()
        start = time.monotonic()
        want = next_index()
        while store_entries(path) < want:
            if time.monotonic() - start > 30:
                break
            time.sleep(0.005)
        longest = max(longest, time.monotonic() - start)
    print(int(longest * 1000))


def first(src, dst):
    with open(src, 'rb') as f:
        data = f.read()
    name_len = int.from_bytes(data[24:28], 'little')
    end = 28 + name_len
    end += 4 + int.from_bytes(data[end:end + 4], 'little')
    with open(dst, 'wb') as f:
        f.write(data[:end])


def records(data):
    out = []
    off = 0
    while off < len(data):
        name_len = int.from_bytes(data[off + 24:off + 28], 'little')
        end = off + 28 + name_len
        end += 4 + int.from_bytes(data[end:end + 4], 'little')
        out.append(data[off:end])
        off = end
    return out


def fields(rec):
    name_len = int.from_bytes(rec[24:28], 'little')
    data = rec[32 + name_len:]
    out = []
    while data:
        n = int.from_bytes(data[:4], 'little')
        out.append(data[4:4 + n])
        data = data[4 + n:]
    return out


def field(b):
    return len(b).to_bytes(4, 'little') + b


def record(pcr, template, data):
    return (pcr.to_bytes(4, 'little') + hashlib.sha1(data).digest() +
            field(template) + field(data))


def forge(store, out):
    import subprocess
    state = {}
    with open('/sys/kernel/security/imasnap/state') as f:
        for line in f:
            key, _, value = line.partition(': ')
            state[key] = value.strip()
    head = int(state['trimmed']) + int(state['epoch_start'])
    with open('/sys/kernel/security/ima/binary_runtime_measurements', 'rb') as f:
        kernel = records(f.read())
    aggs = [fields(r)[2] for r in kernel if fields(r)[1] == b'snapshot_aggregate\0']
    buf = aggs[-1]
    nr_banks = int.from_bytes(buf[12:14], 'little')
    banks = buf[64:64 + 8 * nr_banks]
    sizes = [int.from_bytes(banks[8 * b + 2:8 * b + 4], 'little') for b in range(nr_banks)]
    pcrs = buf[64 + 8 * nr_banks:]
    pcr10 = None
    while pcrs:
        pcr = int.from_bytes(pcrs[:4], 'little')
        values = pcrs[4:4 + sum(sizes)]
        pcrs = pcrs[4 + sum(sizes):]
        if pcr == 10:
            pcr10 = values
    fake = (buf[:8] + (1).to_bytes(2, 'little') + (64).to_bytes(2, 'little') +
            nr_banks.to_bytes(2, 'little') + (1).to_bytes(2, 'little') + buf[16:32] +
            bytes(8) + bytes(20) + bytes(4) + banks + (10).to_bytes(4, 'little') + pcr10)
    data = (field(b'sha256:\0' + hashlib.sha256(fake).digest()) +
            field(b'snapshot_aggregate\0') + field(fake))
    forged = [record(16, b'ima-buf', data)]
    for i in range(1, head):
        name = ('/filler/%d\0' % i).encode()
        forged.append(record(16, b'ima-ng', field(b'sha256:\0' + hashlib.sha256(name).digest()) +
                             field(name)))
    with open(os.path.join(store, 'binary_runtime_measurements'), 'rb') as f:
        real = records(f.read())
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, 'binary_runtime_measurements'), 'wb') as f:
        f.write(b''.join(forged + real[head:]))
    with open(os.path.join(store, 'epoch')) as f:
        lines = [l for l in f if not l.startswith('base ')]
    with open(os.path.join(out, 'epoch'), 'w') as f:
        f.write(''.join(lines) + 'base 0 %s\n' % forged[0][4:24].hex())
    algs = sorted(os.listdir('/sys/class/tpm/tpm0'))
    algs = [a[4:] for a in algs if a.startswith('pcr-')]
    subprocess.run(['tpm2_pcrreset', '-T', 'device:/dev/tpmrm0', '16'], check=True)
    for rec in forged:
        data = rec[28 + int.from_bytes(rec[24:28], 'little') + 4:]
        spec = ','.join('%s=%s' % (a, hashlib.new(a, data).hexdigest()) for a in algs)
        subprocess.run(['tpm2_pcrextend', '-T', 'device:/dev/tpmrm0', '16:' + spec],
                       check=True)
    print(len(forged))


globals()[sys.argv[1]](*sys.argv[2:])
