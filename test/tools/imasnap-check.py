#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""The kernel helper suite's checker (test/bats/module.bats): parses binary
lists, snapshot_aggregate records (versions 1 and 2) and the helper's state
file, replays per PCR and per bank, issues control file writes and reports
their errno. Usage: imasnap-check.py COMMAND ARGS... (see the cmd_ functions).
"""
import errno, hashlib, os, random, re, struct, sys, time

IMA = '/sys/kernel/security/ima'
SNAP = '/sys/kernel/security/imasnap'
TPM = '/sys/class/tpm/tpm0'
ALGS = {0x4: 'sha1', 0xb: 'sha256', 0xc: 'sha384', 0xd: 'sha512',
        0x12: 'sm3_256'}
NAME = b'snapshot_aggregate\0'
HEAD_SET = 0x1

def fail(msg):
    print('FAIL: ' + msg)
    sys.exit(1)

def read(path):
    with open(path, 'rb') as f:
        return f.read()

def records(data):
    """Split a binary_runtime_measurements image into its records."""
    out, off = [], 0
    while off < len(data):
        start = off
        pcr, = struct.unpack_from('<I', data, off)
        digest = data[off + 4:off + 24]
        nlen, = struct.unpack_from('<I', data, off + 24)
        off += 28
        tname = data[off:off + nlen].decode()
        off += nlen
        if tname == 'ima':
            d = data[off:off + 20]
            l, = struct.unpack_from('<I', data, off + 20)
            n = data[off + 24:off + 24 + l]
            off += 24 + l
            fields, hashed = [d, n], d + n.ljust(256, b'\0')
        else:
            tlen, = struct.unpack_from('<I', data, off)
            hashed = data[off + 4:off + 4 + tlen]
            off += 4 + tlen
            fields, p = [], 0
            while p < tlen:
                l, = struct.unpack_from('<I', hashed, p)
                fields.append(hashed[p + 4:p + 4 + l])
                p += 4 + l
            if p != tlen:
                raise ValueError('bad template data at %d' % start)
        if off > len(data):
            raise ValueError('truncated record at %d' % start)
        out.append(dict(raw=data[start:off], pcr=pcr, digest=digest,
                        template=tname, fields=fields, hashed=hashed))
    return out

def is_aggregate(r):
    return (r['template'] == 'ima-buf' and r['pcr'] == 10 and
            len(r['fields']) == 3 and r['fields'][1] == NAME)

def decode(buf):
    if buf[:8] != b'imasnap\0':
        raise ValueError('bad magic')
    ver, hsz, nb, npcr = struct.unpack_from('<HHHH', buf, 8)
    if ver not in (1, 2) or hsz != 64:
        raise ValueError('version %d header %d' % (ver, hsz))
    trimmed, flags = struct.unpack_from('<Q', buf, 32)[0], struct.unpack_from('<I', buf, 60)[0]
    head = buf[40:60]
    if ver == 1:
        if flags:
            raise ValueError('version 1 with reserved bytes set')
        flags = HEAD_SET if head != b'\0' * 20 else 0
    elif flags & ~HEAD_SET or (not flags & HEAD_SET and head != b'\0' * 20):
        raise ValueError('version 2 flags %#x head %s' % (flags, head.hex()))
    agg = dict(version=ver, epoch=buf[16:32].hex(), trimmed=trimmed, head=head,
               flags=flags, banks=[], base={})
    off = hsz
    for _ in range(nb):
        alg, size, flags, res = struct.unpack_from('<HHHH', buf, off)
        agg['banks'].append((alg, size, flags))
        off += 8
    last = -1
    for _ in range(npcr):
        pcr, = struct.unpack_from('<I', buf, off)
        if pcr <= last or pcr >= 24:
            raise ValueError('PCR %d out of order' % pcr)
        last = pcr
        off += 4
        for alg, size, flags in agg['banks']:
            agg['base'][(pcr, alg)] = buf[off:off + size]
            off += size
    if off != len(buf):
        raise ValueError('length %d, parsed %d' % (len(buf), off))
    return agg

def state():
    st = dict(base={})
    for line in read(SNAP + '/state').decode().splitlines():
        k, v = line.split(': ', 1)
        if k == 'base':
            pcr, alg, hexv = v.split()
            st['base'][(int(pcr), alg)] = hexv
        else:
            st[k] = v
    for k in ('trimmed', 'epoch_start', 'entries', 'bytes'):
        st[k] = int(st[k])
    return st

def tpm_banks():
    banks = []
    for alg, name in ALGS.items():
        if os.path.isdir('%s/pcr-%s' % (TPM, name)):
            banks.append((alg, hashlib.new(name).digest_size))
    return banks

def tpm_pcr(name, pcr):
    return bytes.fromhex(read('%s/pcr-%s/%d' % (TPM, name, pcr)).decode().strip())

def bank_digest(r, alg, size, padded):
    if r['digest'] == b'\0' * 20:
        return b'\xff' * size          # violation: IMA extends all 0xff
    if alg == 0x4:
        return r['digest']
    if padded:                         # IMA had no hash for this bank at boot
        return r['digest'].ljust(size, b'\0')
    return hashlib.new(ALGS[alg], r['hashed']).digest()

def replay(recs, alg, size, start, padded):
    vals = dict(start)
    for r in recs:
        old = vals.get(r['pcr'], b'\0' * size)
        vals[r['pcr']] = hashlib.new(
            ALGS[alg], old + bank_digest(r, alg, size, padded)).digest()
    return vals

def both_ways(recs, alg, size, start):
    """IMA extends a bank with the real template hash or, if it could not
    allocate that hash at boot, a padded SHA-1: the log does not say which."""
    return [replay(recs, alg, size, start, p) for p in (False, True)]

def check_record_digest(r):
    if r['digest'] != b'\0' * 20 and hashlib.sha1(r['hashed']).digest() != r['digest']:
        fail('record template digest does not match its data')

def check_aggregate_record(r):
    check_record_digest(r)
    d, buf = r['fields'][0], r['fields'][2]
    algo, _, h = d.partition(b':\0')
    if hashlib.new(algo.decode(), buf).digest() != h:
        fail('snapshot_aggregate d-ng is not the hash of its buf')
    return decode(buf)

def last_aggregate(recs):
    for r in reversed(recs):
        if is_aggregate(r):
            return check_aggregate_record(r)
    return None

def stable_list_and_pcrs(banks, pcrs):
    """The list and the TPM's PCRs at one moment (no entry added between)."""
    for _ in range(50):
        a = read(IMA + '/binary_runtime_measurements')
        vals = {(p, alg): tpm_pcr(ALGS[alg], p) for alg, _ in banks for p in pcrs}
        if read(IMA + '/binary_runtime_measurements') == a:
            return a, vals
    fail('the list kept changing')

def cmd_replay():
    """Replay the live list from the last snapshot_aggregate's bases (zero if
    nothing was trimmed) and compare with the TPM, every PCR and bank."""
    st = state()
    banks = tpm_banks()
    if not banks:
        fail('no TPM PCR banks in %s: nothing to compare with' % TPM)
    recs = records(read(IMA + '/binary_runtime_measurements'))
    pcrs = sorted({r['pcr'] for r in recs} | {p for p, _ in st['base']})
    data, tpm = stable_list_and_pcrs(banks, pcrs)
    recs = records(data)
    agg = last_aggregate(recs)
    if st['trimmed'] and not agg:
        fail('entries trimmed but no snapshot_aggregate in the list')
    for alg, size in banks:
        start = {}
        if agg:
            start = {p: v for (p, a), v in agg['base'].items() if a == alg}
        ways = both_ways(recs, alg, size, start)
        for p in pcrs:
            if tpm[(p, alg)] not in [w.get(p, b'\0' * size) for w in ways]:
                fail('PCR %d %s: TPM %s, replay %s' % (p, ALGS[alg],
                     tpm[(p, alg)].hex(), [w.get(p, b'').hex() for w in ways]))
        print('PCR %s %s: replay from the bases matches the TPM' % (pcrs, ALGS[alg]))

def state_bases_match(st, agg):
    want = {}
    for (p, alg), v in agg['base'].items():
        flags = [f for a, s, f in agg['banks'] if a == alg][0]
        if not flags & 1:
            want[(p, ALGS[alg])] = v.hex()
    if st['base'] != want:
        fail('state bases %s differ from the snapshot_aggregate %s' % (st['base'], want))

def cmd_check_trim(old_path, new_path, n, st_old_path, st_new_path):
    n = int(n)
    old, new_data = records(read(old_path)), read(new_path)
    new = records(new_data)
    st_old = eval(read(st_old_path))
    st_new = eval(read(st_new_path))
    if [r['raw'] for r in new[:-1]] != [r['raw'] for r in old[n:]]:
        fail('the list after the trim is not the old list minus its first %d records' % n)
    if len(new) != len(old) - n + 1 or not is_aggregate(new[-1]):
        fail('expected exactly one snapshot_aggregate appended')
    agg = check_aggregate_record(new[-1])
    print('aggregate: trimmed %d epoch %s head %s' % (agg['trimmed'], agg['epoch'], agg['head'].hex()))
    # the record counts in the epoch: trimmed + epoch_start (< 0 after a new epoch)
    if st_new['trimmed'] != st_old['trimmed'] + n or \
       agg['trimmed'] != st_new['trimmed'] + st_new['epoch_start']:
        fail('trimmed: before %d, after %d, record %d' % (st_old['trimmed'], st_new['trimmed'], agg['trimmed']))
    if st_new['entries'] != len(new) or st_new['bytes'] != len(new_data):
        fail('state entries %d bytes %d, list has %d records, %d bytes' % (
             st_new['entries'], st_new['bytes'], len(new), len(new_data)))
    if not (agg['epoch'] == st_new['epoch'] == st_old['epoch']):
        fail('epoch changed: %s %s %s' % (st_old['epoch'], st_new['epoch'], agg['epoch']))
    if agg['version'] != 2:
        fail('the helper wrote version %d' % agg['version'])
    want_head = old[n]['digest'] if n < len(old) else b'\0' * 20
    want_flags = HEAD_SET if n < len(old) else 0
    if agg['head'] != want_head or agg['flags'] != want_flags:
        fail('head %s flags %#x, expected %s %#x' % (agg['head'].hex(),
             agg['flags'], want_head.hex(), want_flags))
    banks = tpm_banks()
    if [(a, s) for a, s, f in agg['banks']] != banks:
        fail('bank table %s, TPM has %s' % (agg['banks'], banks))
    for alg, size, flags in agg['banks']:
        if flags & 1:
            continue
        start = {p: bytes.fromhex(v) for (p, a), v in st_old['base'].items() if a == ALGS[alg]}
        got = {p: v for (p, a), v in agg['base'].items() if a == alg}
        if got not in both_ways(old[:n], alg, size, start):
            fail('bank %s: bases in the record are not the replay of the trimmed entries' % ALGS[alg])
    state_bases_match(st_new, agg)
    print('trim of %d checked: list, record, state, bases' % n)

def cmd_check_trim_concurrent(old_path, new_path, n):
    """A trim while IMA kept measuring: the old list minus its first N
    records, then the new measurements with exactly one snapshot_aggregate
    among them."""
    n = int(n)
    old, new = records(read(old_path)), records(read(new_path))
    keep = len(old) - n
    if [r['raw'] for r in new[:keep]] != [r['raw'] for r in old[n:]]:
        fail('the list after the trim does not start with the old list minus %d records' % n)
    aggs = [r for r in new[keep:] if is_aggregate(r)]
    if len(aggs) != 1:
        fail('%d snapshot_aggregate records after the old entries' % len(aggs))
    agg = check_aggregate_record(aggs[0])
    if agg['head'] != (old[n]['digest'] if n < len(old) else b'\0' * 20) or \
            bool(agg['flags'] & HEAD_SET) != (n < len(old)):
        fail('head digest is not the first entry kept')
    print('%d kept, %d added during the trim' % (keep, len(new) - keep - 1))

def cmd_state_dump(path):
    with open(path, 'w') as f:
        f.write(repr(state()))

def write_trim(cmd, name='trim'):
    fd = os.open(SNAP + '/' + name, os.O_WRONLY)
    try:
        os.write(fd, cmd)
        return 'OK'
    except OSError as e:
        return errno.errorcode[e.errno]
    finally:
        os.close(fd)

def cmd_trim(n, digest, head=None):
    """A trim of N entries naming entry N's DIGEST and, if given, the epoch
    index HEAD of the list's first entry ("auto": read from the state)."""
    if head == 'auto':
        st = state()
        head = str(st['trimmed'] + st['epoch_start'])
    cmd = '%s %s' % (n, digest) + (' %s' % head if head is not None else '')
    print(write_trim((cmd + '\n').encode()))

def cmd_open_write(name):
    """Open a control file for writing: the errno of open(2), or OK."""
    try:
        os.close(os.open(SNAP + '/' + name, os.O_WRONLY))
        print('OK')
    except OSError as e:
        print(errno.errorcode[e.errno])

def cmd_raw_write(data):
    print(write_trim(data.encode().decode('unicode_escape').encode('latin-1')))

def cmd_pwrite(offset, cmd):
    fd = os.open(SNAP + '/trim', os.O_WRONLY)
    try:
        os.pwrite(fd, (cmd + '\n').encode(), int(offset))
        print('OK')
    except OSError as e:
        print(errno.errorcode[e.errno])
    finally:
        os.close(fd)

def cmd_ctl_write(name, data):
    print(write_trim(data.encode().decode('unicode_escape').encode('latin-1'), name))

def cmd_rebase(n, spoil):
    """Rebase on the values the list's first n entries replay to (what a
    trim of n computes), or on spoiled ones: flip (one bit of one value),
    digest (of another entry), count (one too small). Prints the errno."""
    st = state()
    banks = tpm_banks()
    n = int(n)
    recs = records(read(IMA + '/binary_runtime_measurements'))
    pcrs = sorted({r['pcr'] for r in recs} | {p for p, _ in st['base']})
    data, tpm = stable_list_and_pcrs(banks, pcrs)
    recs = records(data)
    agg = last_aggregate(recs)
    lines = []
    for alg, size in banks:
        start = {}
        if agg:
            start = {p: v for (p, a), v in agg['base'].items() if a == alg}
        # the way IMA extends this bank is the one that gives the TPM's values
        padded = replay(recs, alg, size, start, False).get(10) != tpm.get((10, alg))
        base = replay(recs[:n], alg, size, start, padded)
        for p in sorted(base):
            lines.append('%d %s %s' % (p, ALGS[alg], base[p].hex()))
    if spoil == 'flip':
        p, a, h = lines[-1].split()
        lines[-1] = '%s %s %s' % (p, a, ('%x' % (int(h[0], 16) ^ 1)) + h[1:])
    digest = recs[n - 1]['digest'].hex() if 0 < n <= len(recs) else '00' * 20
    if spoil == 'digest':
        digest = recs[n]['digest'].hex()
    count = st['trimmed'] + int(st.get('epoch_start', 0)) + n - (spoil == 'count')
    if spoil == 'epoch':
        count = 0   # a new epoch begins at the cut
    cmd = '%d %s %d\n' % (n, digest, count) + ''.join(l + '\n' for l in lines)
    print(write_trim(cmd.encode(), 'rebase'))

def trim_writes(rnd, recs, head):
    """Invalid trim commands, each with the errno it must get."""
    k = len(recs)
    while True:
        kind = rnd.randrange(10)
        j = rnd.randrange(k)
        good = recs[j]['digest'].hex()
        if kind == 0:
            cmd = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 70)))
            yield cmd, 'EINVAL'
        elif kind == 1:     # a real digest at the wrong position
            n = j + 1 + rnd.choice([-1, 1]) if j else 2
            if n > k or recs[n - 1]['digest'].hex() == good:
                continue
            yield b'%d %s\n' % (n, good.encode()), 'ESTALE'
        elif kind == 2:     # past the end
            yield b'%d %s\n' % (k + 1 + rnd.randrange(10 ** rnd.randrange(1, 19)), good.encode()), 'ERANGE'
        elif kind == 3:     # a random digest
            yield b'%d %s\n' % (rnd.randrange(1, k + 1), os.urandom(20).hex().encode()), 'ESTALE'
        elif kind == 4:     # a valid command spoiled
            s = b'%d %s\n' % (j + 1, good.encode())
            yield rnd.choice([b' ' + s, s[:-1] + b' \n', s + b'\n', s[:-2],
                              s.replace(b' ', b'  '), b'+' + s, b'-' + s,
                              s.replace(b' ', b'\t'), s[:-1] + b'x\n',
                              s[:-1] + b'\0', b'0' * 25 + s,
                              s[:-1] + b' \n', s[:-1] + b' -1\n',
                              s[:-1] + b' 0%d\n' % head, s[:-1] + b' +%d\n' % head,
                              s[:-1] + b' %d %d\n' % (head, head),
                              s[:-1] + b' %d\n' % (2 ** 64 + head),
                              s[:-1] + b'  %d\n' % head]), 'EINVAL'
        elif kind == 5:
            yield b'0 %s\n' % good.encode(), 'EINVAL'
        elif kind == 6:     # digits only, hex only, empty-ish
            yield rnd.choice([b'%d' % (j + 1), good.encode(), b'\n', b' ',
                              b'%d \n' % (j + 1), b'%d %s' % (j + 1, good[:-1].encode())]), 'EINVAL'
        elif kind == 7:     # huge numbers
            yield b'%d %s\n' % (2 ** 64 + rnd.randrange(1000), good.encode()), 'ERANGE'
        else:               # a valid trim naming another head: stale
            other = head + rnd.choice([1, -1, 2, 10 ** rnd.randrange(1, 19)])
            if other < 0:
                continue
            yield b'%d %s %d\n' % (j + 1, good.encode(), other), 'ESTALE'

def rebase_writes(rnd, recs, head):
    """Malformed rebase commands: every one is EINVAL."""
    k = len(recs)
    # banks the helper keeps (lines for others are skipped, not refused)
    banks = [(ALGS[a], size) for a, size in tpm_banks() if a in (0x4, 0xb)]
    while True:
        j = rnd.randrange(k)
        d = recs[j]['digest'].hex()
        alg, size = rnd.choice(banks)
        line = '10 %s %s\n' % (alg, os.urandom(size).hex())
        good = '%d %s %d\n' % (j + 1, d, head + j + 1)
        cmd = rnd.choice([
            bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 200))),
            good[:-1],                              # no final newline
            ' ' + good, good.replace(' ', '  ', 1), '+' + good,
            '0 %s %d\n' % (d, head),                # N = 0 needs "-"
            '%d - %d\n' % (j + 1, head),            # N > 0 needs a digest
            '%d %s\n' % (j + 1, d),                 # no count
            '%d %s -1\n' % (j + 1, d), '%d %s 01\n' % (j + 1, d),
            '%d %s %d\n' % (j + 1, d[:-1] + 'g', head),
            '0%d %s %d\n' % (j + 1, d, head),
            good + '\n' + line,                     # empty line
            good + line.replace('10 ', '24 ', 1),   # PCR out of range
            good + line.replace('10 ', '+10 ', 1),
            good + line.replace('10 ', '010 ', 1),
            good + line[:-2] + '\n',                # short hex
            good + line[:-1] + '0\n',               # long hex
            good + line + line,                     # a bank twice
            good + '10 sha1\n',
            good + '%d sha1 %s\n' % (2 ** 64, '00' * 20),
        ])
        yield cmd.encode() if isinstance(cmd, str) else cmd, 'EINVAL'

def persisted_writes(rnd, recs, head):
    """Malformed persisted commands: every one is EINVAL."""
    while True:
        n = rnd.randrange(10 ** rnd.randrange(1, 19))
        cmd = rnd.choice([
            bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 32))),
            b'-%d\n' % n, b'+%d\n' % n, b'0%d\n' % n, b' %d\n' % n,
            b'%d \n' % n, b'%d\n\n' % n, b'%dx' % n, b'\n', b'',
            b'%d\0' % n, b'%d' % (2 ** 64 + n), b'0x%x\n' % n,
            b'%d %d\n' % (n, n)])
        if re.fullmatch(rb'(0|[1-9][0-9]*)\n?', cmd) and int(cmd) < 2 ** 64:
            continue        # random bytes that happen to be valid
        yield cmd, 'EINVAL'

def cmd_random_writes(name, count):
    """COUNT invalid writes to control file NAME: each must fail with its
    errno (an empty write is EINVAL too); none may change anything."""
    rnd = random.Random(int(os.environ.get('SEED', '1')))
    recs = records(read(IMA + '/binary_runtime_measurements'))
    st = state()
    head = st['trimmed'] + st['epoch_start']
    gen = {'trim': trim_writes, 'rebase': rebase_writes,
           'persisted': persisted_writes}[name](rnd, recs, head)
    seen = {}
    for i in range(int(count)):
        cmd, want = next(gen)
        if want == 'EINVAL' and re.fullmatch(rb'[1-9][0-9]* [0-9a-fA-F]{40}( [0-9]+)?\n?', cmd) \
                and name == 'trim':
            continue        # random bytes that happen to be well formed
        r = write_trim(cmd, name)
        seen[r] = seen.get(r, 0) + 1
        if r != want:
            fail('%s: write %r got %s, expected %s' % (name, cmd, r, want))
    print('%s refused: %s' % (name, seen))

def cmd_records(path):
    for i, r in enumerate(records(read(path))):
        check_record_digest(r)
        name = r['fields'][1].rstrip(b'\0').decode(errors='replace') if len(r['fields']) > 1 else ''
        print(i + 1, r['digest'].hex(), r['template'], name)

def cmd_log_copy(logdir):
    """Copy the list with its head's epoch index (from the state file), to
    build the log that check-snapshots compares with. No trim may run
    meanwhile (the caller is the only trimmer)."""
    st, data = state(), read(IMA + '/binary_runtime_measurements')
    if state()['trimmed'] != st['trimmed']:
        fail('a trim ran while the log was copied')
    n = len(os.listdir(logdir))
    with open('%s/%05d.%d' % (logdir, n, st['trimmed'] + st['epoch_start']), 'wb') as f:
        f.write(data)

def cmd_check_snapshots(snapdir, logdir):
    """Each copy of the list that a concurrent reader got (the files in
    SNAPDIR) must be whole: well formed, starting exactly where its last
    snapshot_aggregate says, and exactly the epoch's entries from there on as
    the copies in LOGDIR (cmd_log_copy, taken while no trim ran) saw them:
    nothing missing, shifted or doubled."""
    log = {}
    for name in sorted(os.listdir(logdir)):
        head = int(name.split('.')[1])
        for i, r in enumerate(records(read(os.path.join(logdir, name)))):
            if log.setdefault(head + i, r['raw']) != r['raw']:
                fail('log copies disagree at entry %d' % (head + i))
    if not log or sorted(log) != list(range(min(log), max(log) + 1)):
        fail('the log copies leave a gap')
    names = sorted(os.listdir(snapdir))
    for name in names:
        path = os.path.join(snapdir, name)
        try:
            recs = records(read(path))
        except (ValueError, struct.error, UnicodeDecodeError) as e:
            fail('%s is not a well formed list: %s' % (path, e))
        if not recs:
            fail('%s is empty' % path)
        for r in recs:
            check_record_digest(r)
        agg = last_aggregate(recs)
        if agg and agg['flags'] & HEAD_SET and recs[0]['digest'] != agg['head']:
            fail('%s starts at %s, its last snapshot_aggregate says %s' % (
                 path, recs[0]['digest'].hex(), agg['head'].hex()))
        # no record: nothing was trimmed, the copy starts at entry 0
        head = agg['trimmed'] if agg else 0
        for i, r in enumerate(recs):
            if log.get(head + i) != r['raw']:
                fail('%s: its entry %d is not entry %d of the epoch (%s)' % (
                     path, i, head + i,
                     'not in the log' if head + i not in log else 'another entry'))
    if not names:
        fail('no snapshots in %s' % snapdir)
    print('%d snapshots consistent with a log of entries %d..%d' % (
          len(names), min(log), max(log)))

def cmd_reader(outdir, stop):
    """Read the binary list over and over, in small reads, until the file
    STOP exists; keep each distinct copy (so their number is bounded by the
    list's changes, not by the machine's speed). The count of reads so far
    is in OUTDIR/../reads."""
    reads, last = 0, None
    progress = os.path.join(os.path.dirname(os.path.abspath(outdir)), 'reads')
    while not os.path.exists(stop):
        with open(IMA + '/binary_runtime_measurements', 'rb') as f:
            data = b''.join(iter(lambda: f.read(512), b''))
        reads += 1
        if data != last:
            with open('%s/snap.%06d' % (outdir, reads), 'wb') as o:
                o.write(data)
            last = data
        with open(progress + '.tmp', 'w') as p:
            p.write('%d\n' % reads)
        os.rename(progress + '.tmp', progress)
    print(reads)

globals()['cmd_' + sys.argv[1].replace('-', '_')](*sys.argv[2:])
