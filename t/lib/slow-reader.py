#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
#
# t/lib/slow-reader.py: a browser that asks for a large body through the
# reflector and then stops reading, for the fairness tests: its channel's
# reader is stalled while other channels of the same device go on.  On
# SIGUSR1 it reads the rest.  Standard library only; prints one line per
# event on stdout:
#
#   slow-reader.py PORT CAFILE HOST PATH USER:PASSWORD
#
#   head BYTES         the response head arrived, Content-Length BYTES
#   stalled BYTES      it stopped reading after BYTES of the body
#   done BYTES SHA256  after SIGUSR1: the whole body and its checksum
#   eof BYTES          the connection ended before the body did
#   timeout BYTES      no SIGUSR1 within 300 s
#
# Its receive buffer is kept small (64 KB) so that what the kernel holds
# for it does not hide the stall.
import base64
import hashlib
import signal
import socket
import ssl
import sys


def say(*words):
    print(" ".join(str(w) for w in words), flush=True)


def main():
    port, cafile, host, path, cred = sys.argv[1:6]
    # Blocked, then waited for: a signal that comes early is not lost.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    raw.settimeout(30)
    raw.connect(("127.0.0.1", int(port)))
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.set_alpn_protocols(["http/1.1"])
    s = ctx.wrap_socket(raw, server_hostname=host)
    auth = base64.b64encode(cred.encode()).decode()
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}\r\n"
               f"Authorization: Basic {auth}\r\n\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            say("eof", 0)
            return
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    say("head", length)
    # A little of the body, then nothing until SIGUSR1.
    sha = hashlib.sha256(body)
    got = len(body)
    while got < 65536 and got < length:
        chunk = s.recv(65536)
        if not chunk:
            say("eof", got)
            return
        sha.update(chunk)
        got += len(chunk)
    say("stalled", got)
    if signal.sigtimedwait({signal.SIGUSR1}, 300) is None:
        say("timeout", got)
        return
    while got < length:
        chunk = s.recv(min(262144, length - got))
        if not chunk:
            say("eof", got)
            return
        sha.update(chunk)
        got += len(chunk)
    say("done", got, sha.hexdigest())


main()
