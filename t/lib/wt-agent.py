#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
#
# t/lib/wt-agent.py: a scripted device agent that speaks WebTunnel the way
# the stock macchina.io agent does (POST upgrade, Basic id@group:secret,
# repeated X-PTTH-Set-Property headers, masked binary frames), for the
# reflector's protocol tests: it can send what no correct agent sends.
# Standard library only.  Prints one line per event on stdout.
#
#   wt-agent.py HOST PORT CAFILE ID GROUP SECRET SCRIPT
#
# SCRIPT:
#   handshake     upgrade, print the status line and X-PTTH-Error, exit
#   ping          upgrade, send a PING, print the PONG payload
#   bad-opcode    send an unknown opcode on channel 7, print the answer
#   bad-channel   send DATA on channel 9 that was never opened
#   truncated     send a 3-byte frame (shorter than any header)
#   text          send a text message
#   oversized     announce a 1 GB binary frame
#   serve         stay connected; answer OPEN_REQUEST with OPEN_CONFIRM
#                 (used to hold a device online);
#                 prints "data CHANNEL LENGTH" for each DATA received,
#                 "close CHANNEL" for a CLOSE (answered with CLOSE) and
#                 "error CHANNEL CODE" for an ERROR; at the end "tls
#                 close_notify" or "tls eof without close_notify"
#   relay         a plain-protocol agent that works: each OPEN_REQUEST
#                 connects to 127.0.0.1:port, bytes go both ways in DATA
#                 frames of at most 2048 bytes, CLOSE is a half-close.
#                 Like the stock agent it blocks, and so stops reading the
#                 whole tunnel, while one target or the tunnel cannot take
#                 more; prints "open CHANNEL PORT" and "closed CHANNEL".
#                 When the reflector answered WT_EXT, it grants back each
#                 DATA frame's bytes once they went to the target (CREDIT)
#
# WT_EXT in the environment: sent as X-Reflector-WebTunnel-Ext (the
# extension of reflector-webtunnel(7)), garbled or not; unset, the agent
# is a stock one.  WT_HTTP_PORT: the httpPort it announces (default 8080).
# WT_KEEPALIVE: the X-WebTunnel-KeepAlive it announces (default 30).
# WT_TLS_MAX=1.2: the agent speaks TLS 1.2 at most.  WT_TLS_CIPHERS: its
# TLS 1.2 cipher list (OpenSSL's syntax).
# WT_CONFIRM_DELAY: seconds relay waits, reading nothing, before each
# OPEN_CONFIRM (default 0): a device slow to reach its target.
# WT_CREDIT_STALL: with the extension, seconds relay waits, reading
# nothing, once a channel has used up the window WT_EXT announced without
# a grant, before it grants it all back (default 0: no wait, and each
# DATA frame's bytes are granted at once): a target that stops taking
# bytes for a while, seen from the reflector.
import base64
import os
import select
import socket
import ssl
import struct
import sys
import time


def say(*words):
    print(" ".join(str(w) for w in words), flush=True)


def connect(host, port, cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    if os.environ.get("WT_TLS_MAX") == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if os.environ.get("WT_TLS_CIPHERS"):
        ctx.set_ciphers(os.environ["WT_TLS_CIPHERS"])
    raw = socket.create_connection((host, port), timeout=10)
    # A ragged EOF raises SSLEOFError: serve tells it from close_notify.
    return ctx.wrap_socket(raw, server_hostname="localhost",
                           suppress_ragged_eofs=False)


def upgrade(s, ident, group, secret, props):
    key = base64.b64encode(os.urandom(16)).decode()
    cred = base64.b64encode(f"{ident}@{group}:{secret}".encode()).decode()
    lines = ["POST / HTTP/1.1", "Host: localhost", "Connection: Upgrade",
             "Upgrade: websocket", "Sec-WebSocket-Version: 13",
             "Sec-WebSocket-Key: " + key,
             "Sec-WebSocket-Protocol: com.appinf.webtunnel.server/1.0",
             "Authorization: Basic " + cred, "X-WebTunnel-KeepAlive: " +
             os.environ.get("WT_KEEPALIVE", "30")]
    lines += ["X-PTTH-Set-Property: device;" + p for p in props]
    if os.environ.get("WT_EXT") is not None:
        lines.append("X-Reflector-WebTunnel-Ext: " + os.environ["WT_EXT"])
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        try:
            chunk = s.recv(4096)
        except ssl.SSLEOFError:
            chunk = b""
        if not chunk:
            break
        head += chunk
    text, _, rest = head.partition(b"\r\n\r\n")
    return text.decode(errors="replace").split("\r\n"), rest


def ws_frame(opcode, payload, length=None):
    n = len(payload) if length is None else length
    mask = os.urandom(4)
    if n < 126:
        hdr = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        hdr = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    # One big XOR instead of one per byte: relay moves megabytes.
    k = (mask * (len(payload) // 4 + 1))[:len(payload)]
    body = (int.from_bytes(payload, "big") ^
            int.from_bytes(k, "big")).to_bytes(len(payload), "big")
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

    def pending(self):
        """1 if a whole frame is buffered (or TLS holds more bytes)."""
        if self.s.pending() > 0:
            return 1
        if len(self.buf) < 2:
            return 0
        n, off = self.buf[1] & 0x7f, 2
        if n == 126:
            if len(self.buf) < 4:
                return 0
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            if len(self.buf) < 10:
                return 0
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        return len(self.buf) >= off + n

    def frame(self):
        b0, b1 = self.need(2)
        n = b1 & 0x7f
        if n == 126:
            n = struct.unpack("!H", self.need(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.need(8))[0]
        return b0 & 0x0f, self.need(n)


def wt(op, channel, payload=b"", arg=None):
    if arg is None:
        return struct.pack("!BBH", op, 0, channel) + payload
    return struct.pack("!BBHH", op, 0, channel, arg) + payload


def ext_window():
    """The window= that WT_EXT announced, or 0."""
    for param in os.environ.get("WT_EXT", "").split(";"):
        k, _, v = param.strip().partition("=")
        if k == "window" and v.isdigit():
            return int(v)
    return 0


def relay(s, r, ext):
    targets = {}                        # channel -> socket
    ungranted = {}                      # channel -> bytes taken, not granted
    stall = float(os.environ.get("WT_CREDIT_STALL", 0))
    stalled = set()                     # channels whose stall is over
    while True:
        socks = list(targets.values())
        if r.pending():
            ready = [s]
        else:
            ready = select.select([s] + socks, [], [], 30)[0]
            if not ready:
                continue
        for t in ready:
            if t is s:
                op, p = r.frame()
                if op == 0x9:
                    s.sendall(ws_frame(0xa, p))
                if op != 0x2 or len(p) < 4:
                    continue
                wop, _, ch = struct.unpack("!BBH", p[:4])
                if wop == 0x01:
                    port = struct.unpack("!H", p[4:6])[0]
                    try:
                        c = socket.create_connection(("127.0.0.1", port), 5)
                        c.settimeout(None)
                    except OSError:
                        s.sendall(ws_frame(0x2, wt(0x81, ch, arg=3)))
                        continue
                    targets[ch] = c
                    time.sleep(float(os.environ.get("WT_CONFIRM_DELAY", 0)))
                    s.sendall(ws_frame(0x2, wt(0x11, ch)))
                    say("open", ch, port)
                elif wop == 0x00 and ch in targets:
                    targets[ch].sendall(p[4:])
                    if not ext:
                        continue
                    n = ungranted.get(ch, 0) + len(p) - 4
                    if stall > 0 and ch not in stalled:
                        if n < ext_window():
                            ungranted[ch] = n
                            continue
                        time.sleep(stall)
                        stalled.add(ch)
                    ungranted[ch] = 0
                    s.sendall(ws_frame(0x2, wt(0x21, ch) +
                                       struct.pack("!I", n)))
                elif wop == 0x02 and ch in targets:
                    targets[ch].shutdown(socket.SHUT_WR)
                elif wop == 0x80 and ch in targets:
                    targets.pop(ch).close()
                    say("closed", ch)
                continue
            ch = next((k for k, v in targets.items() if v is t), None)
            if ch is None:
                continue        # closed by a frame read just before
            try:
                data = t.recv(2048)
            except OSError:
                data = b""
            if data:
                s.sendall(ws_frame(0x2, wt(0x00, ch, data)))
            else:
                s.sendall(ws_frame(0x2, wt(0x02, ch)))
                targets.pop(ch).close()
                say("closed", ch)


def main():
    host, port, cafile, ident, group, secret, script = sys.argv[1:8]
    s = connect(host, int(port), cafile)
    head, rest = upgrade(s, ident, group, secret,
                         ["targetHost=127.0.0.1",
                          "httpPort=" + os.environ.get("WT_HTTP_PORT", "8080"),
                          'name="Scripted \\"agent\\""', "version=1.0"])
    say("status", head[0])
    for line in head[1:]:
        k, _, v = line.partition(":")
        if k.lower() in ("x-ptth-error", "x-webtunnel-error",
                         "sec-websocket-protocol", "connection",
                         "x-reflector-webtunnel-ext"):
            say("header", k.lower(), v.strip())
    if script == "handshake" or " 101 " not in head[0]:
        return
    r = Reader(s, rest)
    try:
        if script == "ping":
            s.sendall(ws_frame(0x9, b"hello"))
            op, p = r.frame()
            say("frame", op, p.decode())
        elif script == "bad-opcode":
            s.sendall(ws_frame(0x2, wt(0x33, 7)))
            op, p = r.frame()
            say("wt", *struct.unpack("!BBHH", p))
            s.sendall(ws_frame(0x9, b"still"))
            op, p = r.frame()
            say("frame", op, p.decode())
        elif script == "bad-channel":
            s.sendall(ws_frame(0x2, wt(0x00, 9, b"data")))
            op, p = r.frame()
            say("wt", *struct.unpack("!BBHH", p))
        elif script == "truncated":
            s.sendall(ws_frame(0x2, b"\x00\x00\x01"))
            say("read", r.s.recv(1) == b"" and "eof" or "data")
        elif script == "text":
            s.sendall(ws_frame(0x1, b"hello"))
            say("read", r.s.recv(1) == b"" and "eof" or "data")
        elif script == "oversized":
            s.sendall(ws_frame(0x2, b"", length=1 << 30)[:14])
            say("read", r.s.recv(1) == b"" and "eof" or "data")
        elif script == "relay":
            s.settimeout(None)
            relay(s, r, any(line.lower().startswith(
                "x-reflector-webtunnel-ext:") for line in head[1:]))
        elif script == "serve":
            serve(s, r)
    except (EOFError, ConnectionError, ssl.SSLError):
        say("read", "eof")
    except socket.timeout:
        say("read", "timeout")


def serve(s, r):
    try:
        while True:
            op, p = r.frame()
            if op != 0x2:
                continue
            wop, _, ch = struct.unpack("!BBH", p[:4])
            if wop == 0x01:
                s.sendall(ws_frame(0x2, wt(0x11, ch)))
                say("open", ch, struct.unpack("!H", p[4:6])[0])
            elif wop == 0x00:
                say("data", ch, len(p) - 4)
            elif wop == 0x02:
                say("close", ch)
                s.sendall(ws_frame(0x2, wt(0x02, ch)))
            elif wop == 0x80:
                say("error", ch, struct.unpack("!H", p[4:6])[0])
    except ssl.SSLEOFError:
        say("tls", "eof without close_notify")
        raise
    except EOFError:
        say("tls", "close_notify")
        raise


main()
