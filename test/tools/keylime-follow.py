#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""keylime-follow.py STATE VIEW POLICY: one poll of an incremental verifier
that follows an ascii measurement log the way Keylime's does (keylime/ima/
ima.py, read_measurement_list and _process_measurement_list): it keeps, in
the JSON file STATE, the byte offset and number of the next entry and the
running PCR 10 value per bank (sha1, sha256); it reads the TPM's PCR 10
first (the quote), then only the lines after its offset, replays them and
must meet the TPM's value of each bank at some entry (the log may run ahead
of the quote; one that stays behind is re-read for up to 20 s: the view
trails the kernel by a commit). Each line's template data is rebuilt from
its fields and must hash (sha1) to its template digest; a violation (zero
digest) extends with 0xff as IMA does. ima-buf records (snapshot_aggregate)
must be accepted by the runtime policy POLICY (JSON, Keylime's "excludes":
the regexes joined as "(a)|(b)" and matched with re.match on the name, as
keylime/common/validators.py and _validate_ima_ng do). Keylime itself is not
installed here: this is its documented semantics, not its code.
Prints "entries N..M: PCR 10 sha1 and sha256 match the TPM"; exit 1 on any
mismatch."""
import hashlib
import json
import os
import re
import struct
import sys
import time

BANKS = ('sha1', 'sha256')


def pcr(bank):
    with open(f'/sys/class/tpm/tpm0/pcr-{bank}/10') as f:
        return bytes.fromhex(f.read().strip())


def field(b):
    return struct.pack('<I', len(b)) + b


def name_of(tmpl, rest):
    """the name field: the rest of the line but the buffer of ima-buf"""
    return ' '.join(rest[1:-1] if tmpl == 'ima-buf' else rest[1:])


def template_data(tmpl, rest):
    if tmpl not in ('ima-ng', 'ima-buf'):
        sys.exit(f'template {tmpl}: not handled by this checker')
    algo, hexdigest = rest[0].split(':', 1)
    data = field(algo.encode() + b':\0' + bytes.fromhex(hexdigest))
    data += field(name_of(tmpl, rest).encode() + b'\0')
    if tmpl == 'ima-buf':
        data += field(bytes.fromhex(rest[-1]))
    return data


def excluded(policy, name):
    excludes = policy.get('excludes') or []
    return bool(excludes) and re.compile('(' + ')|('.join(excludes) + ')').match(name)


def main():
    state_path, view_path, policy_path = sys.argv[1:4]
    with open(policy_path) as f:
        policy = json.load(f)
    try:
        with open(state_path) as f:
            st = json.load(f)
    except FileNotFoundError:
        st = {'offset': 0, 'entry': 0, 'running': {b: '00' * hashlib.new(b).digest_size
                                                   for b in BANKS}}
    quote = {b: pcr(b) for b in BANKS}
    running = {b: bytes.fromhex(st['running'][b]) for b in BANKS}
    matched = {b: running[b] == quote[b] for b in BANKS}
    first = st['entry']
    deadline = time.monotonic() + 20
    with open(view_path, 'rb') as view:
        while True:
            view.seek(st['offset'])
            text = view.read()
            end = text.rfind(b'\n') + 1   # whole lines only: a writer may be mid-line
            for line in text[:end].decode().splitlines():
                f = line.split(' ')
                if f[0] != '10':
                    sys.exit(f'entry {st["entry"]}: PCR {f[0]}: this checker follows PCR 10 only')
                digest, tmpl = bytes.fromhex(f[1]), f[2]
                if not any(digest):
                    ext = {b: b'\xff' * hashlib.new(b).digest_size for b in BANKS}
                else:
                    data = template_data(tmpl, f[3:])
                    if hashlib.sha1(data).digest() != digest:
                        sys.exit(f'entry {st["entry"]}: template digest does not match its data: {line}')
                    ext = {b: hashlib.new(b, data).digest() for b in BANKS}
                    if tmpl == 'ima-buf' and not excluded(policy, name_of(tmpl, f[3:])):
                        sys.exit(f'entry {st["entry"]}: ima-buf {name_of(tmpl, f[3:])} '
                                 'not accepted by the runtime policy')
                for b in BANKS:
                    running[b] = hashlib.new(b, running[b] + ext[b]).digest()
                    matched[b] = matched[b] or running[b] == quote[b]
                st['entry'] += 1
            st['offset'] += end
            if all(matched.values()) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    st['running'] = {b: running[b].hex() for b in BANKS}
    tmp = state_path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(st, f)
    os.replace(tmp, state_path)
    if not all(matched.values()):
        sys.exit(f'entries {first}..{st["entry"]}: PCR 10 ' +
                 ' '.join(f'{b} replay {running[b].hex()} TPM {quote[b].hex()}' for b in BANKS
                          if not matched[b]))
    print(f'entries {first}..{st["entry"]}: PCR 10 sha1 and sha256 match the TPM')


main()
