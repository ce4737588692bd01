#!/usr/bin/env bash
#
# limits.max_handshakes holds TLS connections for the portal host while the
# worker runs that many handshakes (route.c, "Held connections"), except a
# ClientHello that offers h2 in ALPN, as browsers do and agents never, and
# connections for a device host.  One worker with max_handshakes 1; a
# client that sends its ClientHello and then stalls takes the only place.
# A portal request with curl --http1.1 (ALPN http/1.1 only, like an agent)
# then waits until the staller is gone; one offering h2 and one for a
# device host are answered at once.
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

need curl python3

make_certs "$TRASH/tls" dev1.localhost >/dev/null 2>&1 ||
	bail "scripts/mkcert failed"
# handshake_timeout well past the waits below: it would free the place.
WORKERS=1 HANDSHAKE=$((30 * MULT)) LOG_LEVEL=debug3 \
    LIMITS='max_handshakes: 1' write_config reflector.yml ||
	bail "cannot write the config"
start_reflectord || bail "reflectord did not start"

# A real ClientHello (Python's OpenSSL, ALPN http/1.1 as an agent sends),
# made over memory BIOs and sent, then nothing: the server's first flight
# is never given to OpenSSL, so the client's Finished never goes and the
# handshake stays open in the worker.  (Over the socket itself, a server
# that answers before the client reads would finish the handshake.)
cat >stall.py <<'EOT'
import select, socket, ssl, sys, time

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["http/1.1"])
out = ssl.MemoryBIO()
tls = ctx.wrap_bio(ssl.MemoryBIO(), out, server_hostname="localhost")
try:
    tls.do_handshake()
    sys.exit("the handshake ended without a server")
except ssl.SSLWantReadError:
    pass
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(out.read())
print("hello sent from %s:%d" % s.getsockname(), flush=True)
if not select.select([s], [], [], 10)[0]:
    sys.exit("no answer to the ClientHello in 10 s")
print("handshake started", flush=True)
time.sleep(int(sys.argv[2]))
EOT

P=https://localhost:$HTTPS_PORT
D=https://dev1.localhost:$HTTPS_PORT
# c ARGS...: curl verifying the test CA, every host name on 127.0.0.1.
c() {
	curl -sS --cacert "$TRASH/tls/ca.pem" --connect-to "::127.0.0.1:" "$@"
}

spawn python3 stall.py "$HTTPS_PORT" $((60 * MULT))
STALL_PID=$SPAWN_PID
STALL_LOG=$TRASH/spawn.$((${#_tap_pids[@]} - 1)).log
ok "the staller's ClientHello is answered: its handshake has begun" \
    wait_for 10 grep -q 'handshake started' "$STALL_LOG"
port=$(sed -n 's/^hello sent from 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$STALL_LOG")
ok "  ... in the worker, which adopted it for the portal" \
    wait_for 5 log_has "connection from 127\\.0\\.0\\.1:$port on "

# (b) A browser's connection to the portal, with the only place taken.
out=$(c -v --http2 --max-time $((5 * MULT)) "$P/.reflector/health" 2>h2.err)
like "$(cat h2.err)" 'ALPN: offers h2' "curl --http2 offers h2 in ALPN"
like "$out" '"status"' "a portal request offering h2 is answered at once"

# (c) A device host, offering only http/1.1 as a client tool would.
code=$(c --http1.1 --max-time $((5 * MULT)) -o /dev/null -w '%{http_code}' \
    "$D/.reflector/health")
like "$code" '^[1-5][0-9][0-9]$' \
    "a device host with http/1.1 is answered at once ($code)"
ok "neither was held" sh -c "! grep -q 'held for the handshake cap' \
    '$TRASH/reflectord.log'"
ok "the staller still holds its place" kill -0 "$STALL_PID"

# (a) The portal with ALPN http/1.1 only: held until the place is free.
c -v --http1.1 --max-time $((30 * MULT)) "$P/.reflector/health" \
    >h1.out 2>h1.err &
h1=$!
track_pid "$h1"
ok "a portal request with http/1.1 only is held" \
    wait_for 5 log_has 'held for the handshake cap \(1 held\)'
sleep 2
ok "  ... and not answered 2 s later" kill -0 "$h1"
like "$(cat h1.err)" 'ALPN: offers http/1.1' "curl --http1.1 offers http/1.1"
unlike "$(cat h1.err)" 'ALPN: offers h2' "  ... and not h2"
kill "$STALL_PID"
ok "once the staller is gone, it is answered" \
    wait_for 10 sh -c "! kill -0 $h1"
wait "$h1"
is "$?" 0 "  ... curl ends well"
like "$(cat h1.out)" '"status"' "  ... with the health answer"

ok "reflectord is still there" kill -0 "$RF_PID"
done_testing
