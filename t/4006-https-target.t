#!/usr/bin/env bash
#
# A device whose web server speaks only HTTPS (https_target: true in the
# agent): the agent does TLS to it itself (agent/tlsraw.c), over a plain
# lws connection.  The device's web server is openssl s_server -WWW with a
# self-signed certificate.  A page and a 20 MB file through the tunnel with
# the checksum matching; a target that does not speak TLS gives the
# browser a 502 page and the agent logs why and the agent logs why; a connection
# that lands on the other worker is served the same.
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

AGENT=$RF_BUILD/agent/reflector-agent
CTL=$RF_BUILD/server/reflectorctl
need "$AGENT" "$CTL" curl openssl

make_certs "$TRASH/tls" tls1.localhost tls2.localhost >/dev/null 2>&1 ||
	bail "scripts/mkcert failed"
PASSWORD='correct horse'
hash=$(printf '%s\n' "$PASSWORD" | "$CTL" hash-password) ||
	bail "reflectorctl hash-password failed"
device_secret tls1 || bail "reflectorctl new-device-secret failed"
cat >extra.yml <<EOT
devices:
  - id: tls1
    secret: "$DEV_HASH"
  - id: tls2
    secret: "$DEV_HASH"
users:
  - name: alice
    password: "$hash"
    devices: [tls1, tls2]
EOT
WORKERS=2 write_config reflector.yml extra.yml || bail "cannot write the config"
start_reflectord || bail "reflectord did not start"

# The device's own web server: HTTPS only, a self-signed certificate.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout dev.key -out dev.crt -days 2 -subj /CN=device.lan \
    >/dev/null 2>&1 || bail "cannot make the device's certificate"
mkdir -p www
printf '<html><body><h1>TLS device</h1></body></html>\n' >www/index.html
head -c 20M /dev/urandom >www/big.bin || bail "cannot make the 20 MB file"
BIG_SUM=$(sha256sum <www/big.bin | cut -d' ' -f1)
SPORT=$(free_port) || bail "no free port"
(cd www && exec openssl s_server -quiet -accept "127.0.0.1:$SPORT" \
    -cert ../dev.crt -key ../dev.key -WWW -naccept 1000) \
    >s_server.log 2>&1 &
track_pid $!
ok "the device's HTTPS server listens" wait_for 10 \
    sh -c "ss -ltn | grep -q ':$SPORT '"

# A second device whose "HTTPS" server does not speak TLS: an echo
# server, which answers the ClientHello with the ClientHello.
PPORT=$(free_port) || bail "no free port"
spawn python3 "$RF_TOP/t/lib/echo-server.py" "$PPORT"
wait_for 5 sh -c "ss -ltn | grep -q ':$PPORT '" || bail "echo-server did not start"

{ agent_config; cat <<EOT; } >agent.yml
devices:
  - id: tls1
    group: default
    password: "$DEV_SECRET"
    ports: [http: $SPORT]
    https_target: true
  - id: tls2
    group: default
    password: "$DEV_SECRET"
    ports: [http: $PPORT]
    https_target: true
EOT
spawn "$AGENT" -f -c agent.yml
ok "tls1 connects" wait_for 15 log_has 'device tls1 online'
ok "tls2 connects" wait_for 15 log_has 'device tls2 online'

c() {
	curl -sS --max-time 60 --cacert "$TRASH/tls/ca.pem" \
	    --connect-to "::127.0.0.1:" -u "alice:$PASSWORD" "$@"
}
D=https://tls1.localhost:$HTTPS_PORT

is "$(c "$D/index.html")" "$(cat www/index.html)" \
    "a page from the device's HTTPS server"
ok "the agent spoke TLS to it" grep -q 'channel [0-9]*: connected to port '"$SPORT"' (TLS)' agent.log
sum=$(c "$D/big.bin" | sha256sum | cut -d' ' -f1)
is "$sum" "$BIG_SUM" "20 MB from the HTTPS device, checksum matches"

# Both workers serve it: one owns the tunnel, the other hands off.
for i in 1 2 3 4 5 6; do
	c -o /dev/null -w '%{http_code}\n' "$D/index.html"
done >codes.out
is "$(sort -u codes.out)" 200 "six requests, whichever worker they land on: 200"

# No TLS where TLS was promised: a clear 502, and the agent says why.
out=$(c -D head.out "https://tls2.localhost:$HTTPS_PORT/index.html")
like "$(head -n 1 head.out)" '^HTTP/1.1 502' "a target that does not speak TLS: 502"
like "$out" 'Bad Gateway' "  ... as a page"
ok "the agent logs the TLS failure" wait_for 5 \
    grep -Eq 'tls2: channel [0-9]+: TLS with 127\.0\.0\.1:'"$PPORT"': ' agent.log
is "$(c "$D/index.html")" "$(cat www/index.html)" \
    "the other device is still served"

done_testing
