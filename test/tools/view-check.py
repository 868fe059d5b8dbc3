#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""view-check.py VIEW KERNEL HEAD [EARLIER FIRST]...: the agents' view VIEW
(ascii lines from the epoch's entry 0) holds, at index HEAD + j, the line j
of KERNEL (the kernel's ascii list, whose first entry is HEAD), wherever both
have it; likewise for each EARLIER capture whose first entry is FIRST. The
view may end earlier (it trails by a commit) or later (it was copied first).
Prints how many lines were compared; exit 1 at the first that differs."""
import sys


def lines(path):
    with open(path, 'rb') as f:
        data = f.read()
    return data[:data.rfind(b'\n') + 1].splitlines(keepends=True)


view = lines(sys.argv[1])
pairs = [(sys.argv[2], int(sys.argv[3]))]
args = sys.argv[4:]
pairs += [(args[i], int(args[i + 1])) for i in range(0, len(args), 2)]
for path, first in pairs:
    other = lines(path)
    n = max(0, min(len(view) - first, len(other)))
    for j in range(n):
        if view[first + j] != other[j]:
            sys.exit(f'{sys.argv[1]} line {first + j} differs from {path} line {j}:\n'
                     f'  {view[first + j]!r}\n  {other[j]!r}')
    if n == 0 and other:
        sys.exit(f'{sys.argv[1]} ({len(view)} lines) and {path} (from {first}) have no line in common')
    print(f'{path}: {n} lines from entry {first} equal the view\'s')
