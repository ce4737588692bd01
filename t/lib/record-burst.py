#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
#
# t/lib/record-burst.py: a browser whose bytes reach the reflector as many
# small TLS records in one write(2), so that the reflector's OpenSSL,
# which reads ahead, takes them all at once and holds the records the
# reflector has not asked for yet, with nothing more to come from the
# socket (t/4013).  Standard library only.
#
#   record-burst.py PORT CAFILE HOST PATH USER:PASSWORD N RECORD
#
#     N keep-alive GETs of PATH on device host HOST, pipelined, each cut
#     into records of at most RECORD bytes, all in one write once the
#     handshake is done.  Prints
#       responses COUNT STATUSES  COUNT complete responses within 30 s and
#                                 their status codes joined by ","
#
#   record-burst.py --upload TARGET PORT CAFILE HOST USER:PASSWORD FIRST REST
#
#     A POST /upload of FIRST + REST random bytes: the head and the first
#     FIRST bytes in one write, then, 0.5 s later, the last REST bytes in
#     64-byte records in a second write.  TARGET "proxy": to device host
#     HOST; "connect:DEVICE:PORT": inside a CONNECT to DEVICE:PORT on the
#     portal host HOST, sent at once behind the CONNECT's head;
#     "tunnel:DEVICE:PORT": the same, sent once the CONNECT is answered.
#     Prints
#       sent SHA256 BYTES         what was sent
#       connect STATUS-LINE       the CONNECT's answer (connect: only)
#       upload STATUS BODY        the POST's answer within 30 s, its body's
#                                 first line ("-" for none)
import base64
import hashlib
import os
import select
import socket
import ssl
import sys
import time


class Browser:
    def __init__(self, port, cafile, host):
        self.raw = socket.create_connection(("127.0.0.1", int(port)),
                                            timeout=30)
        ctx = ssl.create_default_context(cafile=cafile)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.inc, self.out, server_hostname=host)
        self.buf = b""
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.push()
                data = self.raw.recv(65536)
                if not data:
                    raise SystemExit("the reflector closed in the handshake")
                self.inc.write(data)
        self.push()

    def records(self, data, record):
        """data as records of at most record bytes, not yet sent."""
        for off in range(0, len(data), record):
            self.tls.write(data[off:off + record])

    def push(self):
        """One write(2) for every record made so far."""
        data = self.out.read()
        if data:
            self.raw.sendall(data)

    def pull(self, deadline):
        """More plaintext into buf; False once the peer closed or time is
        over."""
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.raw], [], [], 1)
            if not r:
                continue
            data = self.raw.recv(65536)
            if not data:
                return False
            self.inc.write(data)
            while True:
                try:
                    self.buf += self.tls.read(65536)
                except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                    break
            return True
        return False

    def response(self, deadline, body=True):
        """(status, body) of the next response, with a Content-Length if
        body; None if none came in time."""
        while True:
            if b"\r\n\r\n" in self.buf:
                head, rest = self.buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                length = 0
                for line in lines[1:] if body else []:
                    k, _, v = line.partition(":")
                    if k.strip().lower() == "content-length":
                        length = int(v.strip())
                if len(rest) >= length:
                    self.buf = rest[length:]
                    return lines[0], rest[:length]
            if not self.pull(deadline):
                return None


def basic(cred):
    return "Basic " + base64.b64encode(cred.encode()).decode()


def burst(port, cafile, host, path, cred, n, record):
    b = Browser(port, cafile, host)
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\n"
           "User-Agent: record-burst\r\n\r\n" % (path, host, basic(cred)))
    for _ in range(int(n)):
        b.records(req.encode(), int(record))
    b.push()
    statuses = []
    deadline = time.monotonic() + 30
    while len(statuses) < int(n):
        got = b.response(deadline)
        if got is None:
            break
        statuses.append(got[0].split(" ")[1])
    print("responses", len(statuses), ",".join(statuses) or "-", flush=True)


def upload(target, port, cafile, host, cred, first, rest):
    first, rest = int(first), int(rest)
    body = os.urandom(first + rest)
    print("sent", hashlib.sha256(body).hexdigest(), len(body), flush=True)
    b = Browser(port, cafile, host)
    post = ("POST /upload HTTP/1.1\r\nHost: %s\r\n"
            "Content-Length: %d\r\nUser-Agent: record-burst\r\n" %
            (host, len(body)))
    if target == "proxy":
        post += "Authorization: %s\r\n" % basic(cred)
        head = b""
    else:
        _, dev, dport = target.split(":")
        head = ("CONNECT %s:%s HTTP/1.1\r\nHost: %s:%s\r\n"
                "Proxy-Authorization: %s\r\n\r\n" %
                (dev, dport, dev, dport, basic(cred))).encode()
    deadline = time.monotonic() + 30

    def answered():
        got = b.response(deadline, body=False)
        print("connect", got[0] if got else "-", flush=True)
        return got is not None and " 200 " in got[0] + " "
    if target.startswith("tunnel:"):
        b.records(head, 16384)
        b.push()
        if not answered():
            return
        head = b""
    b.records(head + post.encode() + b"\r\n" + body[:first], 16384)
    b.push()
    time.sleep(0.5)
    b.records(body[first:], 64)
    b.push()
    deadline = time.monotonic() + 30
    if head and not answered():
        return
    got = b.response(deadline)
    if got is None:
        print("upload - -", flush=True)
        return
    text = got[1].decode("latin-1").split("\n")[0].strip() or "-"
    print("upload", got[0].split(" ")[1], text, flush=True)


if sys.argv[1] == "--upload":
    upload(*sys.argv[2:9])
else:
    burst(*sys.argv[1:8])
