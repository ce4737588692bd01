#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
#
# t/lib/fake-reflector.py: a scripted WebTunnel server peer for the agent's
# protocol tests (t/3003-agent-tunnel.t): it plays the cases a real
# reflectord never produces (a 101 without the subprotocol, an unknown
# opcode, a port outside the allow-list) and checks the exact upgrade the
# agent sends.  End-to-end behaviour is tested against the real reflectord
# (t/3001, t/4001).  It accepts one device tunnel over TLS, runs a script
# of frames and prints what it sees, one line each, to stdout.  Standard
# library only.
#
#   fake-reflector.py CERT KEY PORT SCRIPT
#
# SCRIPT is one of:
#   echo PORT   open channel 1 to PORT, send "hello\n", read the answer
#               until the agent sends CLOSE, send CLOSE; then open channel
#               2 to port 1 (not allowed) and report the OPEN_FAULT; then a
#               3-byte unknown opcode frame and report the ERROR
#   subproto    answer 101 without a subprotocol (the agent must give up)
#   silent      read each upgrade request and never answer it, holding
#               the connection open (the agent must give up and retry)
#   client-echo ANSWER N
#               a client tunnel (WEBTUNNEL.md §4) for reflector-client, as
#               a stock reflector serves it, for each connection: print
#               the X-Reflector-WebTunnel-Ext the client announced ("ext
#               -" for none), answer 101 with ANSWER in that header ("-":
#               none, as a stock reflector), echo N bytes of the client's
#               messages back in messages of at most 2048 bytes, print the
#               largest message the client sent, then close with 1000
import base64
import hashlib
import os
import socket
import ssl
import struct
import sys

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
PROTO = "com.appinf.webtunnel.server/1.0"
CLIENT_PROTO = "com.appinf.webtunnel.client/1.0"


def say(*words):
    print(" ".join(str(w) for w in words), flush=True)


def read_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b


def read_msg(s):
    """One WebSocket message from a client (masked); (opcode, payload)."""
    h = read_exact(s, 2)
    op, ln = h[0] & 0x0F, h[1] & 0x7F
    if ln == 126:
        ln = struct.unpack(">H", read_exact(s, 2))[0]
    elif ln == 127:
        ln = struct.unpack(">Q", read_exact(s, 8))[0]
    mask = read_exact(s, 4) if h[1] & 0x80 else b"\0\0\0\0"
    data = bytes(b ^ mask[i % 4] for i, b in enumerate(read_exact(s, ln)))
    return op, data


def send_msg(s, data, op=2):
    n = len(data)
    if n < 126:
        h = struct.pack(">BB", 0x80 | op, n)
    else:
        h = struct.pack(">BBH", 0x80 | op, 126, n)
    s.sendall(h + data)


def frame(op, ch, arg=None, payload=b""):
    b = struct.pack(">BBH", op, 0, ch)
    if arg is not None:
        b += struct.pack(">H", arg)
    return b + payload


def next_frame(s):
    while True:
        op, data = read_msg(s)
        if op == 9:
            send_msg(s, data, 10)
            continue
        if op == 8:
            raise EOFError
        if op == 2:
            return data


def main():
    cert, key, port, script = sys.argv[1:5]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", int(port)))
    ls.listen(8)
    say("listening")
    held = []
    while True:
        raw, _ = ls.accept()
        try:
            s = ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as e:
            say("tls-error", e)
            continue
        head = b""
        while b"\r\n\r\n" not in head:
            c = s.recv(4096)
            if not c:
                break
            head += c
        lines = head.decode("latin-1").split("\r\n")
        hdrs = {}
        props = []
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                k, v = k.strip().lower(), v.strip()
                if k == "x-ptth-set-property":
                    props.append(v)
                hdrs[k] = v
        say("request", lines[0])
        if script == "silent":
            held.append(s)
            continue
        if script == "client-echo":
            try:
                run_client(s, hdrs, sys.argv[5], int(sys.argv[6]))
            except (EOFError, OSError, ssl.SSLError) as e:
                say("closed", type(e).__name__)
            continue
        auth = hdrs.get("authorization", "")
        if auth.startswith("Basic "):
            say("auth", base64.b64decode(auth[6:]).decode())
        say("protocol", hdrs.get("sec-websocket-protocol", "-"))
        say("keepalive", hdrs.get("x-webtunnel-keepalive", "-"))
        for p in props:
            say("property", p)
        acc = base64.b64encode(hashlib.sha1(
            hdrs.get("sec-websocket-key", "").encode() + GUID).digest())
        resp = ("HTTP/1.1 101 Switching Protocols\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Accept: " + acc.decode() + "\r\n")
        if script != "subproto":
            resp += "Sec-WebSocket-Protocol: " + PROTO + "\r\n"
        s.sendall((resp + "\r\n").encode())
        if script == "subproto":
            try:
                while read_msg(s):
                    pass
            except (EOFError, OSError, ssl.SSLError):
                say("closed")
            continue
        try:
            run_echo(s, int(sys.argv[5]))
        except (EOFError, OSError, ssl.SSLError) as e:
            say("closed", type(e).__name__)
        # Stay up for the agent's reconnect; one script run is enough.
        script = "subproto"


def run_client(s, hdrs, answer, n):
    say("ext", hdrs.get("x-reflector-webtunnel-ext", "-"))
    say("protocol", hdrs.get("sec-websocket-protocol", "-"))
    acc = base64.b64encode(hashlib.sha1(
        hdrs.get("sec-websocket-key", "").encode() + GUID).digest())
    resp = ("HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Accept: " + acc.decode() + "\r\n"
            "Sec-WebSocket-Protocol: " + CLIENT_PROTO + "\r\n")
    if answer != "-":
        resp += "X-Reflector-WebTunnel-Ext: " + answer + "\r\n"
    s.sendall((resp + "\r\n").encode())
    got, largest = 0, 0
    while got < n:
        op, data = read_msg(s)
        if op == 9:
            send_msg(s, data, 10)
        elif op == 8:
            raise EOFError
        elif op in (0, 2):
            largest = max(largest, len(data))
            got += len(data)
            for off in range(0, len(data), 2048):
                send_msg(s, data[off:off + 2048])
    say("client-bytes", got)
    say("client-largest", largest)
    send_msg(s, struct.pack(">H", 1000), 8)
    while True:
        op, _ = read_msg(s)
        if op == 8:
            say("client-closed")
            return


def run_echo(s, port):
    send_msg(s, frame(0x01, 1, port))
    got = b""
    while True:
        f = next_frame(s)
        op, ch = f[0], struct.unpack(">H", f[2:4])[0]
        if op == 0x11:
            say("open-confirm", ch)
            send_msg(s, frame(0x00, 1, None, b"hello\n"))
            send_msg(s, frame(0x02, 1))
        elif op == 0x00:
            if len(f) - 4 > 2048:
                say("frame-too-large", len(f) - 4)
            got += f[4:]
        elif op == 0x02:
            say("data", got.decode(errors="replace").strip())
            say("close", ch)
            break
        else:
            say("unexpected", hex(op), ch)
            break
    send_msg(s, frame(0x01, 2, 1))
    f = next_frame(s)
    say("open-fault" if f[0] == 0x81 else "unexpected", struct.unpack(
        ">H", f[2:4])[0], struct.unpack(">H", f[4:6])[0])
    send_msg(s, b"\x7f\x00\x00\x03")
    f = next_frame(s)
    say("error" if f[0] == 0x80 else "unexpected", struct.unpack(
        ">H", f[2:4])[0], struct.unpack(">H", f[4:6])[0])
    send_msg(s, frame(0x01, 4, port))
    f = next_frame(s)
    say("open-confirm" if f[0] == 0x11 else "unexpected", 4)
    big = os.urandom(100000)
    send_msg(s, frame(0x00, 4, None, big[:60000]))
    send_msg(s, frame(0x00, 4, None, big[60000:]))
    send_msg(s, frame(0x02, 4))
    got = b""
    largest = 0
    while True:
        f = next_frame(s)
        if f[0] == 0x00:
            largest = max(largest, len(f) - 4)
            got += f[4:]
        elif f[0] == 0x02:
            break
    say("bulk", "same" if got == big else "differs %d" % len(got),
        "largest", largest)
    # Wait for the agent to go.
    while True:
        next_frame(s)


if __name__ == "__main__":
    main()
