#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""notify-listen.py PATH OUT: the service manager's end of sd_notify(3).

Binds a unix datagram socket at PATH and appends each message it receives,
one line per message (newlines inside a message become spaces), to OUT,
flushed at once. Ends after a message with STOPPING=1, or on SIGTERM.
"""
import os
import socket
import sys


def main():
    path, out = sys.argv[1], sys.argv[2]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    with open(out, "a", encoding="utf-8") as f:
        f.write("listening\n")
        f.flush()
        while True:
            msg = sock.recv(4096).decode("utf-8", "replace")
            f.write(msg.replace("\n", " ") + "\n")
            f.flush()
            if "STOPPING=1" in msg.split("\n"):
                break
    os.unlink(path)


if __name__ == "__main__":
    main()
