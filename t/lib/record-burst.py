#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
#
# t/lib/record-burst.py: a browser that pipelines N keep-alive GETs to a
# device host, each request cut into TLS records of at most RECORD bytes,
# all of them sent in one write(2) once the handshake is done.  The
# reflector's OpenSSL reads ahead: it takes the whole burst at once and
# holds the records the reflector has not asked for yet, with nothing
# more to come from the socket (t/4013).  Standard library only; prints
# one line on stdout:
#
#   record-burst.py PORT CAFILE HOST PATH USER:PASSWORD N RECORD
#
#   responses COUNT STATUSES   COUNT complete responses within 30 s, and
#                              their status codes joined by ","
import base64
import select
import socket
import ssl
import sys
import time


def main():
    port, cafile, host, path, cred, n, record = sys.argv[1:8]
    n, record = int(n), int(record)
    raw = socket.create_connection(("127.0.0.1", int(port)), timeout=30)
    ctx = ssl.create_default_context(cafile=cafile)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(inc, out, server_hostname=host)

    def pump_out():
        data = out.read()
        if data:
            raw.sendall(data)

    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            pump_out()
            data = raw.recv(65536)
            if not data:
                raise SystemExit("the reflector closed during the handshake")
            inc.write(data)
    pump_out()
    auth = base64.b64encode(cred.encode()).decode()
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\n"
           "User-Agent: record-burst\r\n\r\n" % (path, host, auth)).encode()
    # One record per write to the memory BIO; one write(2) for them all.
    for _ in range(n):
        for off in range(0, len(req), record):
            tls.write(req[off:off + record])
    raw.sendall(out.read())

    got, statuses, buf = 0, [], b""
    deadline = time.monotonic() + 30
    while got < n and time.monotonic() < deadline:
        r, _, _ = select.select([raw], [], [], 1)
        if not r:
            continue
        data = raw.recv(65536)
        if not data:
            break
        inc.write(data)
        while True:
            try:
                buf += tls.read(65536)
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                break
        # Complete responses, each with a Content-Length.
        while b"\r\n\r\n" in buf:
            head, rest = buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            length = 0
            for line in lines[1:]:
                k, _, v = line.partition(":")
                if k.strip().lower() == "content-length":
                    length = int(v.strip())
            if len(rest) < length:
                break
            statuses.append(lines[0].split(" ")[1])
            buf = rest[length:]
            got += 1
    print("responses", got, ",".join(statuses) or "-", flush=True)


main()
