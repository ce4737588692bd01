#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
#
# t/lib/keyupdate-agent.py: a device tunnel whose TLS is OpenSSL's own
# s_client, which can send a TLS 1.3 KeyUpdate on demand (a line "K" on
# its input asks the peer to update too, "k" does not); Python's ssl
# module cannot.  After the upgrade it waits until the reflector's log
# matches WAIT_RE (the reflector took the tunnel's records over), then for
# each step of STEPS (a string of K and k) sends that KeyUpdate and a
# WebSocket PING, and prints "pong N" when the PONG of the N-th comes back
# through s_client; "eof" if s_client's output ends first.
#
#   keyupdate-agent.py PORT CAFILE ID GROUP SECRET LOGFILE WAIT_RE STEPS
import base64
import os
import re
import struct
import subprocess
import sys
import time


def say(*words):
    print(" ".join(str(w) for w in words), flush=True)


def ws_ping(payload):
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return struct.pack("!BB", 0x89, 0x80 | len(payload)) + mask + body


def main():
    port, cafile, ident, group, secret, logfile, wait_re, steps = sys.argv[1:9]
    p = subprocess.Popen(["openssl", "s_client", "-connect",
                          "127.0.0.1:" + port, "-servername", "localhost",
                          "-CAfile", cafile, "-verify_return_error",
                          "-tls1_3"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         bufsize=0)
    os.set_blocking(p.stdout.fileno(), False)
    out = b""

    def read_until(want, secs):
        nonlocal out
        end = time.time() + secs
        while want not in out and time.time() < end:
            try:
                chunk = p.stdout.read(65536)
            except BlockingIOError:
                chunk = None
            if chunk == b"":
                return False
            if chunk:
                out += chunk
            else:
                time.sleep(0.02)
        return want in out

    def send(b):
        p.stdin.write(b)
        p.stdin.flush()
        time.sleep(0.3)   # one read(2) of s_client's input per send

    cred = base64.b64encode(f"{ident}@{group}:{secret}".encode()).decode()
    key = base64.b64encode(os.urandom(16)).decode()
    head = ("POST / HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n"
            "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Key: " + key + "\r\n"
            "Sec-WebSocket-Protocol: com.appinf.webtunnel.server/1.0\r\n"
            "Authorization: Basic " + cred + "\r\n\r\n")
    try:
        # s_client is ready for input once the handshake is done.
        if not read_until(b"---\n", 10):
            say("eof")
            return
        time.sleep(0.5)
        send(head.encode())
        if not read_until(b"HTTP/1.1 101", 10):
            say("no 101")
            return
        say("status 101")
        end = time.time() + 10
        pat = re.compile(wait_re)
        while time.time() < end:
            with open(logfile, errors="replace") as f:
                if any(pat.search(line) for line in f):
                    break
            time.sleep(0.1)
        else:
            say("not taken over")
        for n, step in enumerate(steps, 1):
            send(step.encode() + b"\n")
            payload = f"after-{step}-{n}".encode()
            send(ws_ping(payload))
            if not read_until(struct.pack("!BB", 0x8a, len(payload)) +
                              payload, 10):
                say("eof" if p.poll() is not None else "no pong", n)
                return
            say("pong", n)
    finally:
        p.kill()
        p.wait()


main()
