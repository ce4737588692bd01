#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
#
# t/lib/fake-reflector.py: a scripted WebTunnel server peer for the agent's
# protocol tests (t/3003-agent-tunnel.t, t/3006-agent-wslink.t): it plays
# the cases a real reflectord never produces (a 101 without the
# subprotocol, an unknown opcode, a port outside the allow-list, frames cut
# and interleaved at will) and checks the exact upgrade the agent sends.
# End-to-end behaviour is tested against the real reflectord (t/3001,
# t/4001).  It accepts one device tunnel at a time over TLS (or plain),
# runs a script of frames and prints what it sees, one line each, to
# stdout.  Standard library only.
#
#   fake-reflector.py CERT KEY PORT SCRIPT
#
# CERT and KEY "-" (both): plain ws://, no TLS.  SCRIPT is one of:
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
#
# The agent's own WebSocket (agent/wslink.c, t/3006-agent-wslink.t):
#   wire PORT   the 101 and an OPEN_REQUEST for channel 1 to PORT in one
#               write; a PING "are-you-there" ("pong are-you-there" when
#               the PONG comes back with it, masked); DATA "hello\n" for
#               channel 1 in 3 fragments with a PING ("between", "again")
#               after the first two ("data hello" for the echo); a text
#               message, then a PING "still-there"; CLOSE for channel 1
#               ("close 1" for the agent's); a WebSocket CLOSE 1000, then
#               what the agent answers ("close-answer CODE", any other
#               frame "after-close OP") until it closes ("closed").  Any
#               later connection is served as "idle"
#   badaccept   answer 101 with the subprotocol and a wrong
#               Sec-WebSocket-Accept, each time
#   refuse      answer 403 with X-PTTH-Error "Device not allowed here"
#   dribble PORT
#               the 101 one byte a write ("dribbled BYTES"), then the
#               OPEN_REQUEST for channel 1 to PORT the same way; "hello\n"
#               and CLOSE on it ("data hello", "close 1"); then as "idle"
#   flood PORT N
#               open channel 1 to PORT, send N random bytes in DATA frames
#               of 2048 bytes, 48 KiB a write, each write ending in a PING
#               and the next sent only after its PONG; then CLOSE and a
#               last PING: "flood-stalled SENT" once a PONG has not come
#               in a second, times RF_TEST_TIMEOUT_MULT (the agent stopped
#               reading; SENT: the bytes sent so far), "flood-resumed"
#               when it comes, "flood-sent N SHA256" when all is out,
#               "close 1" for the agent's CLOSE; then as "idle"
#   idle        a good 101 ("idle-open"), then answer PINGs until the end:
#               "ws-close CODE" for the agent's CLOSE, "hold-closed"
#
# Every frame the agent sends must be masked ("unmasked OP" otherwise).
#
# FAKE_TLS12 in the environment, a cipher list such as
# "ECDHE-ECDSA-AES128-GCM-SHA256": TLS 1.2 only, with those suites.
import base64
import hashlib
import os
import select
import socket
import ssl
import struct
import sys
import time

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
    ctx = None
    if cert != "-":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        if os.environ.get("FAKE_TLS12"):
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            ctx.set_ciphers(os.environ["FAKE_TLS12"])
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", int(port)))
    ls.listen(8)
    say("listening")
    held = []
    while True:
        raw, _ = ls.accept()
        if script in WSLINK:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            raw.settimeout(30)
        try:
            s = ctx.wrap_socket(raw, server_side=True) if ctx else raw
        except (ssl.SSLError, OSError) as e:
            say("tls-error", e)
            continue
        head = b""
        try:
            while b"\r\n\r\n" not in head:
                c = s.recv(4096)
                if not c:
                    break
                head += c
        except (OSError, ssl.SSLError) as e:
            say("aborted", type(e).__name__, e)
            s.close()
            continue
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
        if script in WSLINK:
            try:
                script = run_wslink(s, script, (resp + "\r\n").encode())
            except (EOFError, OSError, ssl.SSLError) as e:
                say("aborted", type(e).__name__, e)
            s.close()
            continue
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


# ------------------------------------------------ the agent's own link --

WSLINK = ("wire", "badaccept", "refuse", "dribble", "flood", "idle")


def ws_frame(payload, op=2, fin=True):
    """A server frame (unmasked), FIN as given."""
    n = len(payload)
    b0 = (0x80 if fin else 0) | op
    if n < 126:
        h = struct.pack(">BB", b0, n)
    elif n < 65536:
        h = struct.pack(">BBH", b0, 126, n)
    else:
        h = struct.pack(">BBQ", b0, 127, n)
    return h + payload


def read_frame(s):
    """One frame from the agent: (fin, opcode, payload); it must be masked."""
    h = read_exact(s, 2)
    fin, op, ln = h[0] >> 7, h[0] & 0x0F, h[1] & 0x7F
    if ln == 126:
        ln = struct.unpack(">H", read_exact(s, 2))[0]
    elif ln == 127:
        ln = struct.unpack(">Q", read_exact(s, 8))[0]
    if not h[1] & 0x80:
        say("unmasked", op)
    mask = read_exact(s, 4) if h[1] & 0x80 else b"\0\0\0\0"
    data = bytes(b ^ mask[i % 4] for i, b in enumerate(read_exact(s, ln)))
    return fin, op, data


def close_code(data):
    return struct.unpack(">H", data[:2])[0] if len(data) >= 2 else "-"


def await_close(s):
    """Waits for the agent's CLOSE of channel 1, says "close 1"; any other
    message on the way is "unexpected"."""
    while True:
        kind, f = take(s)
        if kind == "bin" and wt_op(f) == (0x02, 1):
            say("close", 1)
            return
        if kind == "bin":
            say("unexpected", f[:4].hex())


def take(s):
    """The agent's next PONG ("pong", payload) or binary message ("bin",
    payload); its PINGs are answered."""
    while True:
        fin, op, data = read_frame(s)
        if op == 9:
            s.sendall(ws_frame(data, 10))
        elif op == 10:
            say("pong", data.decode(errors="replace"))
            return "pong", data
        elif op == 8:
            say("close-answer", close_code(data))
            raise EOFError
        elif op == 2 and fin:
            return "bin", data
        else:
            say("unexpected-frame", op, fin)


def hold(s):
    """Answers PINGs until the agent goes."""
    try:
        while True:
            fin, op, data = read_frame(s)
            if op == 9:
                s.sendall(ws_frame(data, 10))
            elif op == 8:
                say("ws-close", close_code(data))
    except (EOFError, OSError, ssl.SSLError):
        say("hold-closed")


def dribble(s, data):
    """data one byte a write, a couple of seconds at most."""
    pause = min(0.005, 2.0 / max(len(data), 1))
    for i in range(len(data)):
        s.sendall(data[i:i + 1])
        time.sleep(pause)


def wt_op(data):
    return data[0], struct.unpack(">H", data[2:4])[0]


def run_wslink(s, script, resp):
    """One connection of a wslink script; the script for the next one."""
    if script == "badaccept":
        bad = base64.b64encode(hashlib.sha1(b"not the key" + GUID).digest())
        resp = resp.replace(b"Sec-WebSocket-Accept: ",
                            b"Sec-WebSocket-Accept: " + bad + b"\r\nX-Was: ")
        s.sendall(resp)
        hold(s)
        return script
    if script == "refuse":
        s.sendall(b"HTTP/1.1 403 Forbidden\r\n"
                  b"X-PTTH-Error: Device not allowed here\r\n"
                  b"Content-Length: 0\r\n\r\n")
        hold(s)
        return script
    if script == "idle":
        s.sendall(resp)
        say("idle-open")
        hold(s)
        return script
    port = int(sys.argv[5])
    if script == "wire":
        run_wire(s, resp, port)
    elif script == "dribble":
        run_dribble(s, resp, port)
    elif script == "flood":
        run_flood(s, resp, port, int(sys.argv[6]))
    return "idle"


def run_wire(s, resp, port):
    # The 101 and the first frame in one write (one TLS record).
    s.sendall(resp + ws_frame(frame(0x01, 1, port)))
    kind, f = take(s)
    if kind != "bin" or wt_op(f) != (0x11, 1):
        say("unexpected", kind, f[:4].hex())
        return
    say("open-confirm", 1)
    s.sendall(ws_frame(b"are-you-there", 9))
    while take(s) != ("pong", b"are-you-there"):
        pass
    # DATA "hello\n" in three fragments, control frames between them.
    msg = frame(0x00, 1, None, b"hello\n")
    s.sendall(ws_frame(msg[:3], 2, False))
    time.sleep(0.05)
    s.sendall(ws_frame(b"between", 9))
    time.sleep(0.05)
    s.sendall(ws_frame(msg[3:7], 0, False) + ws_frame(b"again", 9))
    time.sleep(0.05)
    s.sendall(ws_frame(msg[7:], 0, True))
    got, pongs = b"", set()
    while len(got) < 6 or len(pongs) < 2:
        kind, f = take(s)
        if kind == "pong":
            pongs.add(f)
        elif wt_op(f) == (0x00, 1):
            got += f[4:]
        else:
            say("unexpected", f[:4].hex())
            return
    say("data", got.decode(errors="replace").strip())
    # A text message is not WebTunnel's: ignored, the tunnel goes on.
    s.sendall(ws_frame(b"not for the agent", 1))
    s.sendall(ws_frame(b"still-there", 9))
    while take(s) != ("pong", b"still-there"):
        pass
    s.sendall(ws_frame(frame(0x02, 1)))
    await_close(s)
    s.sendall(ws_frame(struct.pack(">H", 1000), 8))
    try:
        while True:
            fin, op, data = read_frame(s)
            if op == 8:
                say("close-answer", close_code(data))
            else:
                say("after-close", op)
    except EOFError:
        say("closed")


def run_dribble(s, resp, port):
    dribble(s, resp)
    say("dribbled", len(resp))
    dribble(s, ws_frame(frame(0x01, 1, port)))
    kind, f = take(s)
    if kind != "bin" or wt_op(f) != (0x11, 1):
        say("unexpected", kind, f[:4].hex())
        return
    say("open-confirm", 1)
    s.sendall(ws_frame(frame(0x00, 1, None, b"hello\n")) +
              ws_frame(frame(0x02, 1)))
    got = b""
    while True:
        kind, f = take(s)
        if kind != "bin":
            continue
        if wt_op(f) == (0x00, 1):
            got += f[4:]
        elif wt_op(f) == (0x02, 1):
            break
        else:
            say("unexpected", f[:4].hex())
            return
    say("data", got.decode(errors="replace").strip())
    say("close", 1)
    hold(s)


def run_flood(s, resp, port, n):
    s.sendall(resp + ws_frame(frame(0x01, 1, port)))
    kind, f = take(s)
    if kind != "bin" or wt_op(f) != (0x11, 1):
        say("unexpected", kind, f[:4].hex())
        return
    say("open-confirm", 1)
    data = os.urandom(n)
    sha = hashlib.sha256(data).hexdigest()
    # Lock-step: a burst (one write, one read for the agent), then a PING,
    # and the next burst only after its PONG.  When the agent stops
    # reading inside a burst, the rest of it, PING included, waits in the
    # agent: nothing more comes from here until the agent takes it up
    # again by itself.
    off, seq, state = 0, 0, {"stalled": 0}
    while off < n:
        end = min(off + 48 * 1024, n)
        seq += 1
        s.sendall(b"".join(ws_frame(frame(0x00, 1, None,
                                          data[o:min(o + 2048, end)]))
                           for o in range(off, end, 2048)) +
                  ws_frame(b"p%d" % seq, 9))
        off = end
        if not wait_pong(s, b"p%d" % seq, off, state):
            return
    seq += 1
    s.sendall(ws_frame(frame(0x02, 1)) + ws_frame(b"p%d" % seq, 9))
    say("flood-sent", n, sha)
    if not wait_pong(s, b"p%d" % seq, off, state):
        return
    await_close(s)
    hold(s)


def wait_pong(s, want, sent, state):
    """Waits for the PONG with payload want: "flood-stalled SENT" when it
    has not come in a second (times RF_TEST_TIMEOUT_MULT; once),
    "flood-resumed" when it comes after that; False when it does not come
    in 60 s."""
    end = time.time() + 60
    wait = float(os.environ.get("RF_TEST_TIMEOUT_MULT", "1"))
    while time.time() < end:
        if not (isinstance(s, ssl.SSLSocket) and s.pending()) and \
                not select.select([s], [], [], wait)[0]:
            if state["stalled"] == 0:
                state["stalled"] = 1
                say("flood-stalled", sent)
            continue
        fin, op, data = read_frame(s)
        if op == 9:
            s.sendall(ws_frame(data, 10))
        elif op == 10 and data == want:
            if state["stalled"] == 1:
                state["stalled"] = 2
                say("flood-resumed")
            return True
        elif op == 8:
            say("ws-close", close_code(data))
            return False
        elif op != 10:
            say("unexpected-frame", op, data[:4].hex())
    say("flood-timeout", sent)
    return False


if __name__ == "__main__":
    main()
