#!/usr/bin/env bash
# Client tunnels (WEBTUNNEL.md §4) end to end: a scripted client tool
# (t/lib/wt-client.py) against the real reflectord (2 workers) and the real
# reflector-agent, with a TCP echo service (t/lib/echo-server.py) as the
# device's port.  1 MiB both ways with checksums in frames of at most 2048
# bytes, PING answered, half-close, Basic and Bearer (a token from
# /my-devices/api/token), 401, 403 by the user's and the device's port
# policy, a port the agent does not forward (101 then close 1011 naming
# it), an offline and an unknown device, a plain WebSocket still going to
# the device's web server, and tunnels landing on the worker that does not
# own the device being handed off and working.
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

AGENT=$RF_BUILD/agent/reflector-agent
CTL=$RF_BUILD/server/reflectorctl
need "$AGENT" "$CTL"
command -v python3 >/dev/null || skip_all "python3 is needed"
command -v curl >/dev/null || skip_all "curl not installed"

make_certs "$TRASH/tls" dev1.localhost dev2.localhost devoff.localhost \
    nosuch.localhost >/dev/null 2>&1 || bail "scripts/mkcert failed"
PASSWORD='correct horse'
hash=$(printf '%s\n' "$PASSWORD" | "$CTL" hash-password) ||
	bail "reflectorctl hash-password failed"
device_secret dev1 || bail "reflectorctl new-device-secret failed"
S1=$DEV_SECRET H1=$DEV_HASH
device_secret dev2 || bail "reflectorctl new-device-secret failed"
S2=$DEV_SECRET H2=$DEV_HASH
EPORT=$(free_port) || bail "no free port"
NOPORT=$(free_port) || bail "no free port"
cat >extra.yml <<EOT
devices:
  - id: dev1
    secret: "$H1"
  - id: dev2
    secret: "$H2"
    ports: [ssh, https]
  - id: devoff
    secret: "$H1"
users:
  - name: alice
    password: "$hash"
    devices: [dev1, dev2, devoff]
  - name: bob
    password: "$hash"
    devices: [dev1]
    ports: [ssh, vnc]
  - name: carol
    password: "$hash"
    devices: [dev2]
EOT
WORKERS=2 write_config reflector.yml extra.yml || bail "cannot write the config"
start_reflectord || bail "reflectord did not start"

start_echo_server || bail "the echo server did not start"
{ agent_config; cat <<EOT; } >agent.yml
devices:
  - id: dev1
    group: default
    password: "$S1"
    ports: [$EPORT]
  - id: dev2
    group: default
    password: "$S2"
    ports: [$EPORT]
EOT
spawn "$AGENT" -f -c agent.yml
ok "the agent brings dev1 online" wait_for 15 log_has 'device dev1 online'
ok "and dev2" wait_for 15 log_has 'device dev2 online'

wtc() { # ARGS...: the scripted client
	timeout $((60 * MULT)) python3 "$RF_TOP/t/lib/wt-client.py" "$@"
}
line() { sed -n "s/^$1 //p" | head -n 1; }
A=(--user alice --password="$PASSWORD")

# --- bytes both ways ------------------------------------------------------
out=$(wtc "${A[@]}" "$HTTPS_PORT" tls/ca.pem dev1.localhost "$EPORT" echo)
like "$out" '^status HTTP/1.1 101' "Basic credentials: 101"
like "$out" "^header sec-websocket-protocol com.appinf.webtunnel.client/1.0\$" \
    "  ... with exactly the client subprotocol"
like "$out" '^header connection Upgrade$' "  ... and 'Connection: Upgrade'"
sent=$(line sent <<<"$out")
is "$(line received <<<"$out")" "$sent" "1 MiB echoed through the device with the same checksum"
got=$(line largest-frame <<<"$out")
ok "messages to the client carry at most 2048 bytes ($got)" \
    test "${got:-0}" -gt 0 -a "${got:-99999}" -le 2048
is "$(line pong <<<"$out")" "are you there" "a PING is answered with its payload"
like "$out" '^close 1000' "a close from the client ends it with 1000"
ok "the tunnel is logged with user, device, port and peer" \
    log_has "client tunnel to dev1 port $EPORT for \"alice\" from 127\\.0\\.0\\.1:[0-9]+ opened"
ok "  ... and its end with the bytes" \
    wait_for 5 log_has "client tunnel to dev1 port $EPORT for \"alice\" from .* closed \\(1048576 bytes up, 1048576 down\\)"

out=$(wtc --method POST "${A[@]}" "$HTTPS_PORT" tls/ca.pem dev1.localhost \
    "$EPORT" halfclose)
like "$out" '^status HTTP/1.1 101' "a POST upgrade works too"
is "$(line data <<<"$out")" hello "half-close: the echo of what was sent before the close still arrives"
like "$out" '^close 1000' "  ... then the device's end is a close 1000"

# --- credentials ----------------------------------------------------------
out=$(wtc "$HTTPS_PORT" tls/ca.pem dev1.localhost "$EPORT" handshake)
like "$out" '^status HTTP/1.1 401' "no credentials: 401"
like "$out" '^header www-authenticate Basic' "  ... with a Basic challenge"
out=$(wtc --user alice --password wrong "$HTTPS_PORT" tls/ca.pem \
    dev1.localhost "$EPORT" handshake)
like "$out" '^status HTTP/1.1 401' "a wrong password: 401"
like "$out" '^header x-ptth-error wrong credentials' "  ... with the reason in X-PTTH-Error"
out=$(wtc --token AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA "$HTTPS_PORT" \
    tls/ca.pem dev1.localhost "$EPORT" handshake)
like "$out" '^status HTTP/1.1 401' "an unknown token: 401"

c() {
	curl -sS --max-time 20 --cacert "$TRASH/tls/ca.pem" \
	    --connect-to "::127.0.0.1:" "$@"
}
P=https://localhost:$HTTPS_PORT
code=$(c -o token.json -w '%{http_code}' --data-urlencode username=alice \
    --data-urlencode password=wrong --data-urlencode application=test \
    "$P/my-devices/api/token")
is "$code" 401 "the token endpoint refuses a wrong password with 401"
now=$(date +%s)
code=$(c -o token.json -w '%{http_code}' --data-urlencode username=alice \
    --data-urlencode "password=$PASSWORD" --data-urlencode application=test \
    --data-urlencode totp= "$P/my-devices/api/token")
is "$code" 200 "the token endpoint answers 200 for the right password"
TOKEN=$(sed -n 's/.*"token": *"\([^"]*\)".*/\1/p' token.json)
EXPIRES=$(sed -n 's/.*"expires": *\([0-9]*\).*/\1/p' token.json)
like "$TOKEN" '^[A-Za-z0-9_-]{43}$' "  ... with a token"
ok "  ... that expires in 12 hours ($EXPIRES)" \
    test $((EXPIRES - now)) -ge 43190 -a $((EXPIRES - now)) -le 43210
out=$(wtc --token="$TOKEN" --bytes 65536 "$HTTPS_PORT" tls/ca.pem \
    dev1.localhost "$EPORT" echo)
like "$out" '^status HTTP/1.1 101' "Bearer with that token: 101"
is "$(line received <<<"$out")" "$(line sent <<<"$out")" "  ... and the bytes come back"
code=$(c -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
    "https://dev1.localhost:$HTTPS_PORT/")
isnt "$code" 200 "the token is no credential for browser pages ($code)"

# --- grants and policy ----------------------------------------------------
B=(--user bob --password="$PASSWORD")
out=$(wtc "${B[@]}" "$HTTPS_PORT" tls/ca.pem dev2.localhost "$EPORT" handshake)
like "$out" '^status HTTP/1.1 403' "a device not granted to the user: 403"
out=$(wtc "${B[@]}" "$HTTPS_PORT" tls/ca.pem dev1.localhost "$EPORT" handshake)
like "$out" '^status HTTP/1.1 403' "a port not in the user's ports: 403 before 101"
like "$out" "^header x-ptth-error port $EPORT of this device is not open to you" \
    "  ... saying which port"
out=$(wtc "${A[@]}" "$HTTPS_PORT" tls/ca.pem dev2.localhost "$EPORT" handshake)
like "$out" '^status HTTP/1.1 403' "a port not in the device's ports: 403"
ok "refusals are logged with user, device, port and peer" \
    log_has "client tunnel to dev2 port $EPORT for \"alice\" from 127\\.0\\.0\\.1:[0-9]+ refused: 403"
out=$(wtc "${A[@]}" "$HTTPS_PORT" tls/ca.pem dev1.localhost 0 handshake)
like "$out" '^status HTTP/1.1 400' "port 0: 400"
out=$(wtc "${A[@]}" "$HTTPS_PORT" tls/ca.pem dev1.localhost ssh handshake)
like "$out" '^status HTTP/1.1 400' "a port that is no number: 400"

out=$(wtc "${A[@]}" "$HTTPS_PORT" tls/ca.pem dev1.localhost "$NOPORT" wait-close)
like "$out" '^status HTTP/1.1 101' "a port the agent does not forward: 101 first"
like "$out" "^close 1011 port $NOPORT not forwarded by the device" \
    "  ... then close 1011 naming the port"
out=$(wtc "${A[@]}" "$HTTPS_PORT" tls/ca.pem devoff.localhost "$EPORT" handshake)
like "$out" '^status HTTP/1.1 503' "an offline device: 503"
out=$(wtc "${A[@]}" "$HTTPS_PORT" tls/ca.pem nosuch.localhost "$EPORT" handshake)
like "$out" '^status HTTP/1.1 404' "an unknown device: 404"

# A WebSocket without the client subprotocol is the device web server's.
out=$(wtc --protocol chat "${A[@]}" "$HTTPS_PORT" tls/ca.pem dev1.localhost \
    "$EPORT" handshake)
unlike "$out" '^status HTTP/1.1 101' "a browser's WebSocket is not a client tunnel"
ok "  ... it went to the device's web server (the agent's http port)" \
    log_has 'device dev1: 502 for .* GET /: the device.s agent does not forward its web port'

# --- hand-off -------------------------------------------------------------
# The kernel spreads connections over both workers; one for dev1 that
# lands on the other worker is handed to dev1's owner with its socket.
handed=0 okays=0 n=0
for ((i = 0; i < 60 && (handed == 0 || n < 6); i++)); do
	out=$(wtc "${A[@]}" --bytes 20000 "$HTTPS_PORT" tls/ca.pem \
	    dev1.localhost "$EPORT" echo)
	n=$((n + 1))
	me=$(line local <<<"$out")
	if [ "$(line received <<<"$out")" = "$(line sent <<<"$out")" ]; then
		okays=$((okays + 1))
	else
		diag "$out"
	fi
	log_has "adopting ${me//./\\.} \\(device dev1\\) from worker" &&
		handed=$((handed + 1))
done
is "$okays" "$n" "all $n client tunnels echoed their bytes"
ok "$handed of them landed on the other worker and were handed off" \
    test "$handed" -gt 0

unlike "$(cat "$TRASH/reflectord.log")" 'killed by signal|exited with status [^0]' \
    "no worker died"
ok "TERM stops it with status 0" stop_reflectord
done_testing
