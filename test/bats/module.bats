#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-only
#
# The kernel helper (kernel-helper/imasnap.ko) on the test guest's kernel:
# load and unload, refused trims, real trims and their snapshot_aggregate,
# replay against the TPM, readers, reload. Each test loads the module itself
# and unloads it in teardown. Trims change the kernel's list for the rest of
# the boot: later suites that replay the kernel list from zero will not match
# the TPM any more (replay it from the last snapshot_aggregate instead).
#
# Run alone with: test/vm/run.sh test/bats/module.bats

load helpers

SNAP=/sys/kernel/security/imasnap
BIN=$IMA_DIR/binary_runtime_measurements
ASCII=$IMA_DIR/ascii_runtime_measurements

# The checker: parses binary lists, snapshot_aggregate records and the state
# file, replays per PCR and per bank, issues trim writes and reports errno.
read -r -d '' CHECKER <<'PY' || true
import errno, hashlib, os, random, struct, sys, time

IMA = '/sys/kernel/security/ima'
SNAP = '/sys/kernel/security/imasnap'
TPM = '/sys/class/tpm/tpm0'
ALGS = {0x4: 'sha1', 0xb: 'sha256', 0xc: 'sha384', 0xd: 'sha512',
        0x12: 'sm3_256'}
NAME = b'snapshot_aggregate\0'

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
    if ver != 1 or hsz != 64:
        raise ValueError('version %d header %d' % (ver, hsz))
    trimmed, = struct.unpack_from('<Q', buf, 32)
    if buf[60:64] != b'\0' * 4:
        raise ValueError('reserved bytes set')
    agg = dict(epoch=buf[16:32].hex(), trimmed=trimmed, head=buf[40:60],
               banks=[], base={})
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
    want_head = old[n]['digest'] if n < len(old) else b'\0' * 20
    if agg['head'] != want_head:
        fail('head %s, expected %s' % (agg['head'].hex(), want_head.hex()))
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
    if agg['head'] != (old[n]['digest'] if n < len(old) else b'\0' * 20):
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

def cmd_trim(n, digest):
    print(write_trim(('%s %s\n' % (n, digest)).encode()))

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

def cmd_random_writes(count):
    """Thousands of invalid trim commands: each must fail, none may trim."""
    rnd = random.Random(int(os.environ.get('SEED', '1')))
    recs = records(read(IMA + '/binary_runtime_measurements'))
    k = len(recs)
    seen = {}
    for i in range(int(count)):
        kind = rnd.randrange(8)
        j = rnd.randrange(k)
        good = recs[j]['digest'].hex()
        if kind == 0:
            cmd = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 70)))
        elif kind == 1:     # a real digest at the wrong position
            n = j + 1 + rnd.choice([-1, 1]) if j else 2
            if recs[n - 1]['digest'].hex() == good if 0 < n <= k else False:
                continue
            cmd = b'%d %s\n' % (n, good.encode())
        elif kind == 2:     # past the end
            cmd = b'%d %s\n' % (k + 1 + rnd.randrange(10 ** rnd.randrange(1, 20)), good.encode())
        elif kind == 3:     # a random digest
            cmd = b'%d %s\n' % (rnd.randrange(1, k + 1), os.urandom(20).hex().encode())
        elif kind == 4:     # a valid command spoiled
            s = b'%d %s\n' % (j + 1, good.encode())
            spoil = rnd.choice([b' ' + s, s[:-1] + b' \n', s + b'\n', s[:-2],
                                s.replace(b' ', b'  '), b'+' + s, b'-' + s,
                                s.replace(b' ', b'\t'), s[:-1] + b'x\n',
                                s[:-1] + b'\0', b'0' * 25 + s])
            cmd = spoil
        elif kind == 5:
            cmd = b'0 %s\n' % good.encode()
        elif kind == 6:     # digits only, hex only, empty-ish
            cmd = rnd.choice([b'%d' % (j + 1), good.encode(), b'\n', b' ',
                              b'%d \n' % (j + 1), b'%d %s' % (j + 1, good[:-1].encode())])
        else:               # huge numbers
            cmd = b'%d %s\n' % (2 ** 64 + rnd.randrange(1000), good.encode())
        r = write_trim(cmd)
        seen[r] = seen.get(r, 0) + 1
        if r == 'OK':
            fail('write %r was accepted' % cmd)
        if r not in ('EINVAL', 'ERANGE', 'ESTALE'):
            fail('write %r failed with %s' % (cmd, r))
    print('refused: %s' % seen)

def cmd_records(path):
    for i, r in enumerate(records(read(path))):
        check_record_digest(r)
        name = r['fields'][1].rstrip(b'\0').decode(errors='replace') if len(r['fields']) > 1 else ''
        print(i + 1, r['digest'].hex(), r['template'], name)

def cmd_check_snapshots(*paths):
    """Each copy of the list a concurrent reader got must be whole: well
    formed, and starting exactly where its last snapshot_aggregate says."""
    for path in paths:
        recs = records(read(path))
        agg = last_aggregate(recs)
        if agg and agg['head'] != b'\0' * 20 and recs[0]['digest'] != agg['head']:
            fail('%s starts at %s, its last snapshot_aggregate says %s' % (
                 path, recs[0]['digest'].hex(), agg['head'].hex()))
        if agg and agg['head'] == b'\0' * 20 and not is_aggregate(recs[0]) and \
                recs.index([r for r in recs if is_aggregate(r)][-1]) != 0:
            pass  # the trim emptied the list; entries may precede the record
    print('%d snapshots consistent' % len(paths))

def cmd_reader(outdir, seconds):
    """Read the binary list over and over, in small reads, for a while."""
    end, i = time.time() + float(seconds), 0
    while time.time() < end:
        with open(IMA + '/binary_runtime_measurements', 'rb') as f:
            data = b''.join(iter(lambda: f.read(512), b''))
        with open('%s/snap.%05d' % (outdir, i), 'wb') as o:
            o.write(data)
        i += 1
    print(i)

globals()['cmd_' + sys.argv[1].replace('-', '_')](*sys.argv[2:])
PY

checker() {
	python3 -c "$CHECKER" "$@"
}

loaded() {
	grep -q '^imasnap ' /proc/modules
}

unload() {
	local i
	for ((i = 0; i < 50; i++)); do
		loaded || return 0
		rmmod imasnap 2>/dev/null && return 0
		sleep 0.1
	done
	rmmod imasnap
}

# N-th entry's SHA-1 template digest in the current list.
nth_digest() {
	sed -n "${1}p" "$ASCII" | cut -d' ' -f2
}

list_len() {
	wc -l <"$ASCII"
}

# wait_in_kernel FUNCTION [PID]: until PID (any process if none) sleeps in
# the kernel inside FUNCTION (from /proc/PID/stack), at most 60 s.
wait_in_kernel() {
	local i
	for ((i = 0; i < 600; i++)); do
		if [[ -n ${2:-} ]]; then
			grep -qw "$1" "/proc/$2/stack" 2>/dev/null && return 0
		else
			grep -qlw "$1" /proc/[0-9]*/stack 2>/dev/null && return 0
		fi
		sleep 0.1
	done
	echo "no process waits in $1" >&2
	return 1
}

# trim_checked N: trims the first N entries through the control file (naming
# entry N's digest) and checks, against copies of the list and the state
# taken before and after, that exactly those went, a snapshot_aggregate
# came and the state moved with them
trim_checked() {
	local n=$1 d=$BATS_TEST_TMPDIR
	cp "$BIN" "$d/old"
	checker state-dump "$d/st-old"
	[ "$(checker trim "$n" "$(nth_digest "$n")")" = OK ]
	cp "$BIN" "$d/new"
	checker state-dump "$d/st-new"
	checker check-trim "$d/old" "$d/new" "$n" "$d/st-old" "$d/st-new"
}

# Kernel warnings, list corruption reports or oopses since the test began.
no_kernel_problems() {
	local new
	new=$(dmesg | tail -n "+$((DMESG_LINES + 1))" |
		grep -E 'WARNING:|BUG:|Oops|corruption|general protection|Call Trace:|refcount_t:' || true)
	if [[ -n $new ]]; then
		echo "kernel problems: $new"
		return 1
	fi
}

setup() {
	require_ima
	[[ -f $KO ]] || skip "$KO is not built (make module)"
	unload
	DMESG_LINES=$(dmesg | wc -l)
	WORK=$(tmpfs_dir)
	BG_PIDS=()
}

teardown() {
	local p
	exec 7<&- 8<&- 9<&-
	if [[ -e /sys/module/imasnap/parameters/reader_wait_ms ]]; then
		echo 1000 >/sys/module/imasnap/parameters/reader_wait_ms
		echo 128 >/sys/module/imasnap/parameters/trim_batch
	fi
	for p in "${BG_PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	unload
	rm -rf "$WORK"
}

@test "module: loads and unloads cleanly, creates trim, rebase, persisted (0200) and state (0444)" {
	insmod "$KO"
	[ "$(stat -c %a "$SNAP/trim")" = 200 ]
	[ "$(stat -c %a "$SNAP/rebase")" = 200 ]
	[ "$(stat -c %a "$SNAP/persisted")" = 200 ]
	[ "$(stat -c %a "$SNAP/state")" = 444 ]
	cat "$SNAP/state"
	[ "$(state_value version)" = 1 ]
	[[ $(state_value epoch) =~ ^[0-9a-f]{32}$ ]]
	# trimmed + entries = every measurement since boot
	[ $(($(state_value trimmed) + $(state_value entries))) -eq "$(kernel_count)" ]
	[ "$(state_value entries)" -eq "$(list_len)" ]
	[ "$(state_value bytes)" -eq "$(wc -c <"$BIN")" ]
	unload
	[ ! -e "$SNAP" ]
	dmesg | tail -n "+$((DMESG_LINES + 1))" | grep 'imasnap: ready'
	# at load the helper checks its base values against the TPM
	dmesg | tail -n "+$((DMESG_LINES + 1))" | grep 'replays from its base values to the TPM'
	no_kernel_problems
}

@test "module: a reload shows the same trimmed count, epoch and bases" {
	insmod "$KO"
	local a b
	a=$(grep -v '^entries\|^bytes' "$SNAP/state")
	unload
	insmod "$KO"
	b=$(grep -v '^entries\|^bytes' "$SNAP/state")
	[ "$a" = "$b" ]
}

@test "module: refused trims (wrong digest, past the end, N=0, garbage, offset, no CAP_SYS_ADMIN) change nothing" {
	insmod "$KO"
	measure_files 3 "$WORK"
	local n d before st
	n=$(list_len)
	d=$(nth_digest 2)
	before=$(sha256sum <"$BIN")
	st=$(cat "$SNAP/state")

	[ "$(checker trim 2 0000000000000000000000000000000000000001)" = ESTALE ]
	[ "$(checker trim 3 "$d")" = ESTALE ]
	[ "$(checker trim $((n + 1)) "$d")" = ERANGE ]
	[ "$(checker trim 99999999999999999999999 "$d")" = ERANGE ]
	[ "$(checker trim 0 "$d")" = EINVAL ]
	[ "$(checker trim -1 "$d")" = EINVAL ]
	[ "$(checker trim 02 "$d")" = EINVAL ]
	[ "$(checker trim 18446744073709551616 "$d")" = ERANGE ]
	[ "$(checker trim 2 "${d:0:39}")" = EINVAL ]
	[ "$(checker trim 2 "${d}0")" = EINVAL ]
	[ "$(checker trim 2 "${d:0:39}g")" = EINVAL ]
	[ "$(checker raw-write "2 $d\\n\\n")" = EINVAL ]
	[ "$(checker raw-write "2 $d x")" = EINVAL ]
	[ "$(checker raw-write "2  $d")" = EINVAL ]
	[ "$(checker raw-write " 2 $d")" = EINVAL ]
	[ "$(checker raw-write "")" = EINVAL ]
	# a valid command written at an offset
	[ "$(checker pwrite 1 "2 $d")" = EINVAL ]
	# root without CAP_SYS_ADMIN
	run setpriv --inh-caps=-sys_admin --bounding-set=-sys_admin \
		bash -c "printf '2 %s\n' $d >$SNAP/trim"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"Operation not permitted"* ]]

	[ "$(sha256sum <"$BIN")" = "$before" ]
	[ "$(cat "$SNAP/state")" = "$st" ]
	no_kernel_problems
}

@test "module: rebase takes only values that replay to the TPM; wrong values, digests, counts and garbage change nothing" {
	insmod "$KO"
	measure_files 4 "$WORK"
	local n before st
	n=$(($(list_len) - 2))
	before=$(sha256sum <"$BIN")
	st=$(cat "$SNAP/state")
	[ "$(checker rebase "$n" flip)" = EBADMSG ]
	[ "$(checker rebase "$n" digest)" = ESTALE ]
	[ "$(checker rebase "$n" count)" = EINVAL ]
	[ "$(checker rebase $((n + 100)) none)" = ERANGE ]
	[ "$(checker ctl-write rebase 'garbage\n')" = EINVAL ]
	[ "$(checker ctl-write rebase '0 - 5')" = EINVAL ]
	[ "$(checker ctl-write rebase '0 - 5\n10 sha1 00\n')" = EINVAL ]
	[ "$(checker ctl-write rebase '0 - 5\n\n10 sha1 00\n')" = EINVAL ]
	[ "$(checker ctl-write rebase '1 - 5\n')" = EINVAL ]
	[ "$(checker ctl-write rebase '0 - 5\0\n')" = EINVAL ]
	[ "$(checker ctl-write persisted 'x\n')" = EINVAL ]
	[ "$(checker ctl-write persisted '-1\n')" = EINVAL ]
	[ "$(checker ctl-write persisted '01\n')" = EINVAL ]
	[ "$(sha256sum <"$BIN")" = "$before" ]
	[ "$(cat "$SNAP/state")" = "$st" ]
	# the true values: the first n entries go, a snapshot_aggregate records them
	[ "$(checker rebase "$n" none)" = OK ]
	[ "$(list_len)" -eq 3 ]
	[ "$(state_value trimmed)" -eq "$n" ]
	[ "$(state_value epoch_start)" -eq 0 ]
	checker replay
	[ "$(checker ctl-write persisted '5\n')" = OK ]
	# C = 0: every entry cut, a new epoch begins; its head is the epoch's entry 0
	[ "$(checker rebase "$(list_len)" epoch)" = OK ]
	[ "$(state_value epoch_start)" -lt 0 ]
	[ "$(($(state_value trimmed) + $(state_value epoch_start)))" -eq 0 ]
	checker replay
	# a reload recovers the same from the list
	st=$(grep -v '^entries\|^bytes' "$SNAP/state")
	unload
	insmod "$KO"
	[ "$(grep -v '^entries\|^bytes' "$SNAP/state")" = "$st" ]
	no_kernel_problems
}

@test "module: thousands of random invalid trim writes change nothing" {
	insmod "$KO"
	measure_files 5 "$WORK"
	local before st
	before=$(sha256sum <"$BIN")
	st=$(cat "$SNAP/state")
	SEED=$RANDOM checker random-writes 3000
	[ "$(sha256sum <"$BIN")" = "$before" ]
	[ "$(cat "$SNAP/state")" = "$st" ]
	no_kernel_problems
}

@test "module: trim removes exactly the first N entries and appends a snapshot_aggregate" {
	insmod "$KO"
	measure_files 6 "$WORK"
	local n count
	n=$(($(list_len) - 3))
	count=$(kernel_count)
	trim_checked "$n"
	cat "$SNAP/state"
	# runtime_measurements_count keeps counting every measurement since boot
	[ "$(kernel_count)" -eq $((count + 1)) ]
	[ "$(list_len)" -eq 4 ]
	tail -n 1 "$ASCII" | grep -q ' ima-buf .* snapshot_aggregate '
	checker replay
	no_kernel_problems
}

@test "module: trims in small batches of IMA's mutex (trim_batch 1 and 3) remove the same entries" {
	insmod "$KO"
	local b n
	for b in 1 3; do
		mkdir "$WORK/$b"
		measure_files 10 "$WORK/$b"
		echo "$b" >/sys/module/imasnap/parameters/trim_batch
		n=$(($(list_len) - 2))
		trim_checked "$n"
	done
	checker replay
	no_kernel_problems
}

@test "module: a large trim while IMA keeps measuring stays consistent" {
	insmod "$KO"
	mkdir "$WORK/bulk" "$WORK/during"
	measure_files 600 "$WORK/bulk"
	local n during
	n=$(($(list_len) - 5))
	cp "$BIN" "$BATS_TEST_TMPDIR/old"
	echo 16 >/sys/module/imasnap/parameters/trim_batch
	# measurements keep coming while the trim unlinks its batches
	(
		for ((i = 0; i < 200; i++)); do
			echo "during $i $RANDOM" >"$WORK/during/f$i"
			read -r _ <"$WORK/during/f$i"
		done
	) 7<&- &
	during=$!
	BG_PIDS+=("$during")
	[ "$(checker trim "$n" "$(nth_digest "$n")")" = OK ]
	wait "$during"
	cp "$BIN" "$BATS_TEST_TMPDIR/new"
	checker check-trim-concurrent "$BATS_TEST_TMPDIR/old" "$BATS_TEST_TMPDIR/new" "$n"
	[ "$(state_value entries)" -eq "$(list_len)" ]
	[ "$(state_value bytes)" -eq "$(wc -c <"$BIN")" ]
	[ $(($(state_value trimmed) + $(state_value entries))) -eq "$(kernel_count)" ]
	checker replay
	no_kernel_problems
}

@test "module: the remaining list replays from the snapshot_aggregate's bases to the TPM's PCRs" {
	insmod "$KO"
	local i
	for i in 1 2 3; do
		mkdir "$WORK/$i"
		measure_files 4 "$WORK/$i"
		[ "$(checker trim 2 "$(nth_digest 2)")" = OK ]
		checker replay
	done
	# the evmctl view: the TPM against a replay that starts from zero no
	# longer matches, the helper's bases make up the difference
	checker replay
	no_kernel_problems
}

@test "module: trimming the whole list leaves only the snapshot_aggregate" {
	insmod "$KO"
	measure_files 2 "$WORK"
	local n
	n=$(list_len)
	trim_checked "$n"
	[ "$(list_len)" -eq 1 ]
	checker replay
	# and the state comes back from that record alone
	local st
	st=$(grep -v '^entries\|^bytes' "$SNAP/state")
	unload
	insmod "$KO"
	[ "$(grep -v '^entries\|^bytes' "$SNAP/state")" = "$st" ]
	no_kernel_problems
}

@test "module: an open list file makes trim fail with EBUSY after the bounded wait, changing nothing" {
	insmod "$KO"
	measure_files 2 "$WORK"
	local before st t0 t1 d
	d=$(nth_digest 1)
	before=$(sha256sum <"$BIN")
	st=$(cat "$SNAP/state")
	exec 7<"$BIN"
	t0=$(date +%s%N)
	[ "$(checker trim 1 "$d")" = EBUSY ]
	t1=$(date +%s%N)
	echo "EBUSY after $(((t1 - t0) / 1000000)) ms"
	[ $(((t1 - t0) / 1000000)) -ge 900 ]
	exec 7<&-
	exec 8<"$ASCII"
	[ "$(checker trim 1 "$d")" = EBUSY ]
	exec 8<&-
	# read-write opens count too (root can open the 0440 files O_RDWR)
	exec 9<>"$BIN"
	[ "$(checker trim 1 "$d")" = EBUSY ]
	exec 9<&-
	[ "$(sha256sum <"$BIN")" = "$before" ]
	[ "$(cat "$SNAP/state")" = "$st" ]
	# once closed, the same trim goes through
	[ "$(checker trim 1 "$d")" = OK ]
	checker replay
	no_kernel_problems
}

@test "module: a list file opened before the module was loaded also blocks trims" {
	exec 7<"$ASCII"
	insmod "$KO"
	[ "$(checker trim 1 "$(nth_digest 1)")" = EBUSY ]
	exec 7<&-
	[ "$(checker trim 1 "$(nth_digest 1)")" = OK ]
}

@test "module: an open made while a trim waits is held back, then reads the trimmed list" {
	insmod "$KO"
	echo 30000 >/sys/module/imasnap/parameters/reader_wait_ms
	measure_files 2 "$WORK"
	local trim late
	exec 7<"$BIN"
	# children must not inherit fd 7, or the file would stay open
	checker trim 1 "$(nth_digest 1)" >"$BATS_TEST_TMPDIR/trim.out" 7<&- &
	trim=$!
	BG_PIDS+=("$trim")
	wait_in_kernel readers_block
	cat "$BIN" >"$BATS_TEST_TMPDIR/late" 7<&- &
	late=$!
	BG_PIDS+=("$late")
	wait_in_kernel gate_open "$late"
	# the last reader closes: the trim goes on, then lets the late one in
	exec 7<&-
	wait "$trim"
	[ "$(cat "$BATS_TEST_TMPDIR/trim.out")" = OK ]
	wait "$late"
	cmp "$BATS_TEST_TMPDIR/late" "$BIN"
	checker check-snapshots "$BATS_TEST_TMPDIR/late"
	echo 1000 >/sys/module/imasnap/parameters/reader_wait_ms
	no_kernel_problems
}

@test "module: readers looping over the list while trims run never see a torn or shifted list" {
	insmod "$KO"
	local out=$BATS_TEST_TMPDIR/snaps i ok=0 busy=0 r
	mkdir -p "$out"
	checker reader "$out" 25 >"$BATS_TEST_TMPDIR/reader.out" &
	BG_PIDS+=($!)
	for ((i = 0; i < 12; i++)); do
		mkdir -p "$WORK/$i"
		measure_files 3 "$WORK/$i"
		r=$(checker trim 2 "$(nth_digest 2)")
		case $r in OK) ok=$((ok + 1)) ;; EBUSY) busy=$((busy + 1)) ;; *) echo "trim: $r"; false ;; esac
	done
	wait "${BG_PIDS[0]}"
	echo "trims: $ok done, $busy busy; reader copies: $(cat "$BATS_TEST_TMPDIR/reader.out")"
	[ "$ok" -ge 1 ]
	checker check-snapshots "$out"/snap.*
	checker replay
	no_kernel_problems
}

@test "module: unload and reload recovers trimmed count, bases and epoch from the list" {
	insmod "$KO"
	measure_files 3 "$WORK"
	[ "$(checker trim 2 "$(nth_digest 2)")" = OK ]
	local st
	st=$(grep -v '^entries\|^bytes' "$SNAP/state")
	unload
	mkdir "$WORK/between"
	measure_files 2 "$WORK/between"   # entries added while unloaded
	insmod "$KO"
	echo "before: $st"
	echo "after:  $(cat "$SNAP/state")"
	[ "$(grep -v '^entries\|^bytes' "$SNAP/state")" = "$st" ]
	[ $(($(state_value trimmed) + $(state_value entries))) -eq "$(kernel_count)" ]
	[ "$(dmesg | tail -n "+$((DMESG_LINES + 1))" | grep -c 'replays from its base values to the TPM')" -eq 2 ]
	! dmesg | tail -n "+$((DMESG_LINES + 1))" | grep 'verification of this list will fail'
	# and the next trim continues the chain
	trim_checked 3
	checker replay
	no_kernel_problems
}

@test "module: a trimmed measurement can be recorded once more (removed from IMA's hash table)" {
	insmod "$KO"
	local f=$WORK/dup c before n
	c="imasnap dup $RANDOM$RANDOM"
	echo "$c" >"$f"
	read -r _ <"$f"
	# same name and content on a new inode: IMA's hash table drops it
	rm "$f"
	echo "$c" >"$f"
	before=$(kernel_count)
	read -r _ <"$f"
	[ "$(kernel_count)" -eq "$before" ]
	n=$(awk -v f="$f" '$5 == f { print NR }' "$ASCII")
	[ -n "$n" ]
	[ "$(checker trim "$n" "$(nth_digest "$n")")" = OK ]
	rm "$f"
	echo "$c" >"$f"
	read -r _ <"$f"
	[ "$(kernel_count)" -eq $((before + 2)) ]   # the aggregate and this
	[ "$(awk -v f="$f" '$5 == f' "$ASCII" | wc -l)" -eq 1 ]
	checker replay
}

@test "module: refuses to unload while a list file opened through it is open" {
	insmod "$KO"
	exec 7<"$BIN"
	run rmmod imasnap
	[ "$status" -ne 0 ]
	exec 7<&-
	unload
	! loaded
}
