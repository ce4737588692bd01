#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
#
# t/lib/wt-client.py: a scripted client tool for the reflector's client
# and CONNECT tunnels (WEBTUNNEL.md §1, §4), the way the stock client
# tools speak them: a WebSocket upgrade to https://<device>.<domain>/ with
# subprotocol com.appinf.webtunnel.client/1.0 and X-WebTunnel-RemotePort,
# masked binary frames of at most 2048 bytes, PINGs it expects answered;
# or CONNECT <device>.<domain>:<port> on the portal host.  Standard
# library only.  Prints one line per event on stdout.
#
#   wt-client.py [options] HTTPS_PORT CAFILE DEVICE_HOST REMOTE_PORT SCRIPT
#
# options:
#   --user U --password P   Basic credentials
#   --token T               Bearer credentials
#   --method M              GET (default) or POST for the upgrade
#   --protocol P            the subprotocol ("" for none)
#   --connect               CONNECT on the portal host instead
#   --bytes N               for echo: how many bytes (default 1 MiB)
#   --ext VALUE             send X-Reflector-WebTunnel-Ext: VALUE, as our
#                           reflector-client does (reflector-webtunnel(7)),
#                           once per --ext; if the 101 answers it, echo
#                           sends messages up to the frame size it names
#
# SCRIPT:
#   handshake   print the status line and X-PTTH-Error, and exit
#   echo        send N random bytes, read them back, print both checksums,
#               the largest frame received and sent, and a PING answered
#               midway
#   halfclose   send "hello" then a close frame (client tunnel) and print
#               what comes back until the server's close
#   wait-close  print the server's close frame (code and reason)
#   get:PATH    an HTTP/1.0 GET of PATH through the tunnel; print the
#               body's length and checksum (with --stall S, print
#               "stalling" and read nothing for S seconds after the first
#               message, so that the reflector's queues fill up)
#
# "local ADDR:PORT" comes first: the client's own address, which the
# reflector logs as the peer.
import argparse
import base64
import hashlib
import os
import re
import socket
import ssl
import struct
import sys
import time

SUBPROTO = "com.appinf.webtunnel.client/1.0"
FRAME_MAX = 2048


def say(*words):
    print(" ".join(str(w) for w in words), flush=True)


def connect(port, cafile, sni):
    ctx = ssl.create_default_context(cafile=cafile)
    raw = socket.create_connection(("127.0.0.1", port), timeout=20)
    s = ctx.wrap_socket(raw, server_hostname=sni)
    a = s.getsockname()
    say("local", "%s:%d" % (a[0], a[1]))
    return s


def read_head(s):
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    text, _, rest = head.partition(b"\r\n\r\n")
    lines = text.decode(errors="replace").split("\r\n")
    say("status", lines[0])
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k.lower() in ("x-ptth-error", "sec-websocket-protocol",
                         "proxy-authenticate", "www-authenticate",
                         "connection", "x-reflector-webtunnel-ext"):
            say("header", k.lower(), v.strip())
    return lines, rest


def credentials(args):
    if args.token is not None:
        return "Bearer " + args.token
    if args.user is not None:
        c = "%s:%s" % (args.user, args.password or "")
        return "Basic " + base64.b64encode(c.encode()).decode()
    return None


def ws_frame(opcode, payload):
    n = len(payload)
    mask = os.urandom(4)
    if n < 126:
        hdr = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        hdr = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    m = (mask * (n // 4 + 1))[:n]
    body = (int.from_bytes(payload, "big") ^ int.from_bytes(m, "big")
            ).to_bytes(n, "big") if n else b""
    return hdr + mask + body


class Reader:
    def __init__(self, s, rest):
        self.s, self.buf = s, rest

    def need(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self):
        b0, b1 = self.need(2)
        if b1 & 0x80:
            raise ValueError("the server masked a frame")
        n = b1 & 0x7f
        if n == 126:
            n = struct.unpack("!H", self.need(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.need(8))[0]
        return b0 & 0x0f, self.need(n)

    def raw(self):
        if self.buf:
            out, self.buf = self.buf, b""
            return out
        return self.s.recv(65536)


def close_text(p):
    if len(p) < 2:
        return "close none"
    return "close %d %s" % (struct.unpack("!H", p[:2])[0],
                            p[2:].decode(errors="replace"))


# Python's ssl sockets must not be read and written from two threads at
# once, so the echo goes in windows: WINDOW bytes out, then read until
# they are all back.  A window is larger than a socket buffer, so the
# reflector's flow control still has work to do.
WINDOW = 256 * 1024


def answered_frame(head):
    """The frame size a 101 answered to our extension header, else 2048."""
    for line in head[1:]:
        k, _, v = line.partition(":")
        m = re.search(r"(?:^|;)\s*frame=(\d+)", v)
        if k.strip().lower() == "x-reflector-webtunnel-ext" and m:
            return min(int(m.group(1)), 65536)
    return FRAME_MAX


def ws_echo(s, r, n, send_max=FRAME_MAX):
    data = os.urandom(n)
    say("sent", n, hashlib.sha256(data).hexdigest())
    got, biggest, pong, pinged = bytearray(), 0, None, False
    closed = False
    for start in range(0, n, WINDOW):
        chunk = data[start:start + WINDOW]
        out = b"".join(ws_frame(0x2, chunk[off:off + send_max])
                       for off in range(0, len(chunk), send_max))
        if not pinged and start + len(chunk) >= n // 2:
            out += ws_frame(0x9, b"are you there")
            pinged = True
        s.sendall(out)
        while len(got) < start + len(chunk) and not closed:
            op, p = r.frame()
            if op == 0x2 or op == 0x0:
                got += p
                biggest = max(biggest, len(p))
            elif op == 0xa:
                pong = p.decode(errors="replace")
            elif op == 0x8:
                say(close_text(p))
                closed = True
    say("received", len(got), hashlib.sha256(bytes(got)).hexdigest())
    say("largest-frame", biggest)
    say("largest-sent", min(send_max, n))
    while pong is None and not closed:
        op, p = r.frame()
        if op == 0xa:
            pong = p.decode(errors="replace")
    say("pong", pong)
    s.sendall(ws_frame(0x8, struct.pack("!H", 1000)))
    try:
        while True:
            op, p = r.frame()
            if op == 0x8:
                say(close_text(p))
                break
    except EOFError:
        say("eof")


def client_tunnel(args):
    s = connect(args.https_port, args.cafile, args.device_host)
    lines = ["%s / HTTP/1.1" % args.method,
             "Host: %s:%d" % (args.device_host, args.https_port),
             "Connection: Upgrade", "Upgrade: websocket",
             "Sec-WebSocket-Version: 13",
             "Sec-WebSocket-Key: " +
             base64.b64encode(os.urandom(16)).decode(),
             "X-WebTunnel-RemotePort: %s" % args.remote_port]
    if args.protocol:
        lines.append("Sec-WebSocket-Protocol: " + args.protocol)
    if args.method == "POST":
        lines.append("Content-Length: 0")
    for e in args.ext or []:
        lines.append("X-Reflector-WebTunnel-Ext: " + e)
    cred = credentials(args)
    if cred is not None:
        lines.append("Authorization: " + cred)
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head, rest = read_head(s)
    if args.script == "handshake" or " 101 " not in head[0]:
        return
    r = Reader(s, rest)
    if args.script == "echo":
        ws_echo(s, r, args.bytes,
                answered_frame(head) if args.ext is not None else FRAME_MAX)
    elif args.script == "halfclose":
        s.sendall(ws_frame(0x2, b"hello"))
        s.sendall(ws_frame(0x8, struct.pack("!H", 1000)))
        got = b""
        try:
            while True:
                op, p = r.frame()
                if op in (0x0, 0x2):
                    got += p
                elif op == 0x8:
                    say("data", got.decode(errors="replace"))
                    say(close_text(p))
                    break
        except EOFError:
            say("data", got.decode(errors="replace"))
            say("eof")
    elif args.script.startswith("get:"):
        # An HTTP/1.0 GET through the tunnel, read to the device's end.
        s.sendall(ws_frame(0x2, ("GET %s HTTP/1.0\r\nHost: device\r\n\r\n"
                                 % args.script[4:]).encode()))
        got, h, n = 0, hashlib.sha256(), 0
        buf, stall = b"", args.stall
        try:
            while True:
                op, p = r.frame()
                if op in (0x0, 0x2):
                    if buf is not None:
                        buf += p
                        if b"\r\n\r\n" in buf:
                            _, _, p = buf.partition(b"\r\n\r\n")
                            buf = None
                        else:
                            continue
                    got += len(p)
                    h.update(p)
                    n += 1
                    if stall:
                        say("stalling")
                        time.sleep(stall)
                        stall = 0
                    if args.slow and n % 100 == 0:
                        time.sleep(args.slow / 1000)
                elif op == 0x8:
                    say(close_text(p))
                    break
        except EOFError:
            say("eof")
        say("body", got, h.hexdigest())
    elif args.script == "wait-close":
        try:
            while True:
                op, p = r.frame()
                if op == 0x8:
                    say(close_text(p))
                    break
        except EOFError:
            say("eof")


def connect_tunnel(args):
    s = connect(args.https_port, args.cafile, "localhost")
    lines = ["CONNECT %s:%s HTTP/1.1" % (args.device_host, args.remote_port),
             "Host: %s:%s" % (args.device_host, args.remote_port)]
    cred = credentials(args)
    if cred is not None:
        lines.append("Proxy-Authorization: " + cred)
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head, rest = read_head(s)
    if args.script == "handshake" or " 200 " not in head[0]:
        return
    r = Reader(s, rest)
    n = args.bytes
    data = os.urandom(n)
    say("sent", n, hashlib.sha256(data).hexdigest())
    got = bytearray()
    for start in range(0, n, WINDOW):
        chunk = data[start:start + WINDOW]
        s.sendall(chunk)
        while len(got) < start + len(chunk):
            b = r.raw()
            if not b:
                break
            got += b
    say("received", len(got), hashlib.sha256(bytes(got)).hexdigest())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--token")
    ap.add_argument("--method", default="GET")
    ap.add_argument("--protocol", default=SUBPROTO)
    ap.add_argument("--connect", action="store_true")
    ap.add_argument("--bytes", type=int, default=1 << 20)
    ap.add_argument("--ext", action="append")
    ap.add_argument("--stall", type=float, default=0)
    ap.add_argument("--slow", type=float, default=0,
                    help="get: sleep this many ms every 100 messages")
    ap.add_argument("https_port", type=int)
    ap.add_argument("cafile")
    ap.add_argument("device_host")
    ap.add_argument("remote_port")
    ap.add_argument("script")
    args = ap.parse_args()
    try:
        if args.connect:
            connect_tunnel(args)
        else:
            client_tunnel(args)
    except (EOFError, ConnectionError, socket.timeout) as e:
        say("error", type(e).__name__)
        sys.exit(1)


main()
