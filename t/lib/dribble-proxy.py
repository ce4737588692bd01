#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
#
# t/lib/dribble-proxy.py: an HTTP CONNECT proxy whose answers arrive in
# pieces (each a write of its own, a little apart), for the agent's proxy
# tests (t/3006-agent-wslink.t): lws's client read a proxy's reply with one
# recv(2).  Loopback only: it connects to localhost or 127.0.0.1 alone.
# Standard library only; one line per event on stdout:
#
#   dribble-proxy.py PORT [MODE]
#
# MODE is one of:
#   ok    (the default) "HTTP/1.1 200 Connection established", then the
#         bytes go both ways until either side closes
#   407   "407 Proxy Authentication Required" with Proxy-Authenticate and
#         Content-Length: 0, then it waits for the client to close
#
#   listening             on 127.0.0.1:PORT
#   connect TARGET        a CONNECT to TARGET (host:port) came
#   auth USER:PASSWORD    with these Basic credentials
#   refused TARGET        not a loopback target: 403
#   relayed UP DOWN       the end of a tunnel: the bytes each way
#   client-closed         after a 407, the client closed the connection
#   client-error ERROR    the client's connection failed (ERROR) before
#                         the answer was out
#   upstream-error ERROR  the target could not be reached: 502
import base64
import socket
import sys
import threading
import time

OK = [b"HTTP/1.1 2", b"00 Connection est", b"ablished\r", b"\n", b"\r\n"]
DENY = [b"HTTP/1.1 407 Proxy Auth", b"entication Required\r\nProxy-Authen",
        b"ticate: Basic realm=\"t\"\r\n", b"Content-Length: 0\r", b"\n\r\n"]


def say(*words):
    print(" ".join(str(w) for w in words), flush=True)


def dribble(c, pieces):
    for p in pieces:
        c.sendall(p)
        time.sleep(0.05)


def pump(src, dst, count, i):
    try:
        while True:
            d = src.recv(65536)
            if not d:
                break
            dst.sendall(d)
            count[i] += len(d)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def serve(c, mode):
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.settimeout(30)
    head = b""
    while b"\r\n\r\n" not in head and len(head) < 8192:
        d = c.recv(4096)
        if not d:
            c.close()
            return
        head += d
    head, rest = head.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split()
    target = parts[1] if len(parts) == 3 and parts[0] == "CONNECT" else "-"
    say("connect", target)
    for line in lines[1:]:
        k, _, v = line.partition(":")
        v = v.strip()
        if k.strip().lower() == "proxy-authorization" and \
                v[:6].lower() == "basic ":
            say("auth", base64.b64decode(v[6:]).decode(errors="replace"))
    if mode == "407":
        try:
            dribble(c, DENY)
            while c.recv(4096):
                pass
            say("client-closed")
        except OSError as e:
            say("client-error", type(e).__name__)
        c.close()
        return
    host, _, port = target.rpartition(":")
    if host not in ("localhost", "127.0.0.1") or not port.isdigit():
        say("refused", target)
        c.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        c.close()
        return
    try:
        up = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
    except OSError as e:
        say("upstream-error", type(e).__name__)
        c.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
        c.close()
        return
    up.settimeout(None)
    c.settimeout(None)
    try:
        dribble(c, OK)
        if rest:
            up.sendall(rest)
    except OSError as e:
        say("client-error", type(e).__name__)
        c.close()
        up.close()
        return
    count = [len(rest), 0]
    t = threading.Thread(target=pump, args=(c, up, count, 0), daemon=True)
    t.start()
    pump(up, c, count, 1)
    t.join()
    say("relayed", count[0], count[1])
    c.close()
    up.close()


def main():
    port = int(sys.argv[1])
    mode = sys.argv[2] if len(sys.argv) > 2 else "ok"
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    say("listening")
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c, mode), daemon=True).start()


if __name__ == "__main__":
    main()
