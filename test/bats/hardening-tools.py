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


globals()[sys.argv[1]](*sys.argv[2:])
