#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
#
# Writes the seed corpora test/fuzz/corpus/<target>/ from binary lists that
# test/fuzz/capture-corpus.sh captured in the test guest, one per template
# (see docs/testing-fuzz.md):
#
#   test/fuzz/make-corpus.py RESULTS_DIR...
#
# Each RESULTS_DIR holds binary_runtime_measurements (and helper-state).
# Seeds are cut from those real records; files named repro-* (reproducers
# of fixed bugs) are left alone.
import glob
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
TEMPLATES = ["ima-ng", "ima-sig", "ima", "ima-buf", "ima-ngv2", "ima-modsig",
             "d-ng|n-ng|sig|iuid|igid|imode", "d|n", "n-ng"]  # fuzz_encode's list


def records(log):
    """The records of a binary list, as (bytes, template name, data)"""
    out, off = [], 0
    while off < len(log):
        (name_len,) = struct.unpack_from("<I", log, off + 24)
        name = log[off + 28:off + 28 + name_len]
        data_at = off + 28 + name_len
        if name == b"ima":
            (event_len,) = struct.unpack_from("<I", log, data_at + 20)
            end = data_at + 24 + event_len
            data = log[data_at:end]
        else:
            (data_len,) = struct.unpack_from("<I", log, data_at)
            end = data_at + 4 + data_len
            data = log[data_at + 4:end]
        out.append((log[off:end], name, data))
        off = end
    return out


def fields(data):
    """A template's data split into its fields"""
    out, off = [], 0
    while off < len(data):
        (n,) = struct.unpack_from("<I", data, off)
        out.append(data[off + 4:off + 4 + n])
        off += 4 + n
    return out


def seed(target, name, data):
    path = os.path.join(CORPUS, target)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, name), "wb") as f:
        f.write(data)


def clear():
    for path in glob.glob(os.path.join(CORPUS, "*", "*")):
        if not os.path.basename(path).startswith("repro-"):
            os.remove(path)


def from_capture(tag, log, state):
    recs = records(log)
    whole = b"".join(r[0] for r in recs)
    seed("log", tag, whole)
    seed("log", tag + "-torn", whole + recs[1][0][:len(recs[1][0]) // 2])
    seed("replay", tag, b"\x00" + whole)
    seed("replay", tag + "-fixed", b"\x01" + whole)
    seed("replay", tag + "-padded", b"\x03" + whole)
    seed("aggregate", tag + "-log", b"\x00" + whole)
    for i, (rec, name, data) in enumerate(recs):
        if name == b"ima-buf" and b"snapshot_aggregate" in data:
            seed("aggregate", tag + "-buf", b"\x01" + fields(data)[2])
        pcr, digest = rec[0], rec[4:24]
        if name == b"ima":
            event = data[24:] + b"\x00"
            flds = struct.pack("<I", 20) + data[:20] + struct.pack("<I", len(event)) + event
        else:
            flds = data
        template = TEMPLATES.index(name.decode()) if name.decode() in TEMPLATES else None
        if template is None:  # a custom format: the name comes from the input
            head = bytes([len(TEMPLATES) + len(name)]) + name
        else:
            head = bytes([template])
        seed("encode", "%s-%d" % (tag, i), bytes([pcr]) + digest + head + flds)
    # store: a prefix, a torn tail, all of it, and a store ahead of a trim
    for k, helper, trimmed, torn in [(3, 1, 0, 10), (len(recs), 0, 0, 0),
                                     (2, 1, 1, 0), (4, 0, 0, 30)]:
        store = b"".join(r[0] for r in recs[:k])
        if k < len(recs) and torn:
            store += recs[k][0][:torn]
        kernel = b"".join(r[0] for r in recs[trimmed:])
        seed("store", "%s-%d-%d-%d" % (tag, k, trimmed, torn),
             bytes([helper]) + struct.pack("<II", len(store), trimmed) + store + kernel)
    if state:
        seed("state", tag, state)


def fixed_seeds():
    seed("epoch", "real", b"epoch 0f3b1c52-8d5e-4c1f-9b63-2a4f0e7d9c11\n"
         b"boot 7a9e2d40-1b3c-4f5e-8a6d-9c0b1e2f3a4d\n")
    seed("epoch", "same-boot", b"epoch 7a9e2d40-1b3c-4f5e-8a6d-9c0b1e2f3a4d\n"
         b"boot 7a9e2d40-1b3c-4f5e-8a6d-9c0b1e2f3a4d\n")
    seed("state", "negative-epoch-start", b"version: 1\ntrimmed: 3\nepoch_start: -3\n"
         b"entries: 4\nbytes: 600\nepoch: 00112233445566778899aabbccddeeff\n")
    seed("stats", "real-shape", b"events: 120\ndrops: 0\nrepairs: 1\nrepaired: 3\n"
         b"duplicates: 2\nfetched: 40\ntruncated: 0\nsnapshots: 2\ntrimmed: 150\n"
         b"starts: 1\npid: 4242\n")
    for i, msg in enumerate([b"snapshot 0", b"snapshot 5", b"snapshot 18446744073709551615",
                             b"snapshot 18446744073709551616", b"status"]):
        seed("control", "msg-%d" % i, msg)
    for i, arg in enumerate([b"\x00" + b"100", b"\x01" + b"64K", b"\x01" + b"16m",
                             b"\x00" + b"18446744073709551615", b"\x01" + b"17179869183M"]):
        seed("count", "arg-%d" % i, arg)


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: make-corpus.py RESULTS_DIR...")
    clear()
    fixed_seeds()
    for results in sys.argv[1:]:
        tag = os.path.basename(os.path.normpath(results)).replace("fuzz-corpus-", "")
        with open(os.path.join(results, "binary_runtime_measurements"), "rb") as f:
            log = f.read()
        state = None
        if os.path.exists(os.path.join(results, "helper-state")):
            with open(os.path.join(results, "helper-state"), "rb") as f:
                state = f.read()
        from_capture(tag, log, state)


main()
