#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
#
# t/lib/echo-server.py PORT: a TCP echo server on 127.0.0.1:PORT for the
# agent's tests.  It echoes until the client half-closes, then half-closes
# itself (so a test sees the FIN travel both ways), and serves any number
# of connections at once.
import socket
import sys
import threading


def serve(c):
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.shutdown(socket.SHUT_WR)
    c.close()


ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1])))
ls.listen(16)
print("listening", flush=True)
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
