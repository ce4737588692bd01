#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
#
# t/lib/slow-sink.py: a device's target that does not read, then reads
# slowly, for the tests of a tunnel paused on a slow target
# (t/3006-agent-wslink.t).  Standard library only; one line per event on
# stdout:
#
#   slow-sink.py PORT RELEASE
#
#   listening           on 127.0.0.1:PORT
#   accepted            a connection came; nothing is read from it until
#                       the file RELEASE exists (60 s at most)
#   released            it does: reading, 16 KiB at a time with a pause
#   done BYTES SHA256   the connection ended (FIN): what came, and its
#                       checksum; the sink closes it and serves the next
#
# Its receive buffer is kept small so that the kernel holds little of what
# the agent writes.
import hashlib
import os
import socket
import sys
import time


def say(*words):
    print(" ".join(str(w) for w in words), flush=True)


def main():
    port, release = int(sys.argv[1]), sys.argv[2]
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    ls.bind(("127.0.0.1", port))
    ls.listen(4)
    say("listening")
    while True:
        c, _ = ls.accept()
        say("accepted")
        end = time.time() + 60
        while not os.path.exists(release) and time.time() < end:
            time.sleep(0.05)
        say("released")
        c.settimeout(60)
        h, n = hashlib.sha256(), 0
        try:
            while True:
                d = c.recv(16384)
                if not d:
                    break
                h.update(d)
                n += len(d)
                time.sleep(0.002)
        except OSError as e:
            say("error", type(e).__name__, n)
        say("done", n, h.hexdigest())
        c.close()


if __name__ == "__main__":
    main()
