#!/usr/bin/env bash
# CONNECT tunnels (WEBTUNNEL.md §1) end to end: "CONNECT
# <device>.<domain>:<port>" over TLS to the portal host, from a scripted
# client (t/lib/wt-client.py --connect) against the real reflectord (2
# workers) and the real reflector-agent, with a TCP echo service as the
# device's port.  Echo through it with Basic and Bearer credentials; 407
# with Proxy-Authenticate without or with wrong credentials; 403 by grant
# and by port policy; 404 unknown, 503 offline, 502 for a port the agent
# does not forward; and CONNECTs accepted by the worker that does not own
# the device, relayed to the owner through a socketpair, working.
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

AGENT=$RF_BUILD/agent/reflector-agent
CTL=$RF_BUILD/server/reflectorctl
need "$AGENT" "$CTL"
command -v python3 >/dev/null || skip_all "python3 is needed"
command -v curl >/dev/null || skip_all "curl not installed"

make_certs "$TRASH/tls" >/dev/null 2>&1 || bail "scripts/mkcert failed"
PASSWORD='correct horse'
hash=$(printf '%s\n' "$PASSWORD" | "$CTL" hash-password) ||
	bail "reflectorctl hash-password failed"
device_secret dev1 || bail "reflectorctl new-device-secret failed"
SECRET=$DEV_SECRET HASH=$DEV_HASH
EPORT=$(free_port) || bail "no free port"
NOPORT=$(free_port) || bail "no free port"
cat >extra.yml <<EOT
devices:
  - id: dev1
    secret: "$HASH"
    ports: [$EPORT, $NOPORT, ssh]
  - id: devoff
    secret: "$HASH"
users:
  - name: alice
    password: "$hash"
    devices: ["*"]
  - name: bob
    password: "$hash"
    devices: [dev1]
    ports: [ssh]
  - name: carol
    password: "$hash"
    devices: [devoff]
EOT
WORKERS=2 write_config reflector.yml extra.yml || bail "cannot write the config"
start_reflectord || bail "reflectord did not start"

start_echo_server || bail "the echo server did not start"
agent_yml agent.yml dev1 default "$SECRET" "$EPORT"
spawn "$AGENT" -f -c agent.yml
ok "the agent brings dev1 online" wait_for 15 log_has 'device dev1 online'

cx() { # ARGS...: a CONNECT through the scripted client
	timeout $((60 * MULT)) python3 "$RF_TOP/t/lib/wt-client.py" --connect \
	    "$@"
}
line() { sed -n "s/^$1 //p" | head -n 1; }
A=(--user alice --password="$PASSWORD")

out=$(cx "${A[@]}" "$HTTPS_PORT" tls/ca.pem dev1.localhost "$EPORT" echo)
like "$out" '^status HTTP/1.1 200 Connection established' \
    "CONNECT with Basic credentials: 200 Connection established"
sent=$(line sent <<<"$out")
is "$(line received <<<"$out")" "$sent" "1 MiB echoed through it with the same checksum"

P=https://localhost:$HTTPS_PORT
curl -sS --max-time 20 --cacert "$TRASH/tls/ca.pem" -o token.json \
    --data-urlencode username=alice --data-urlencode "password=$PASSWORD" \
    --data-urlencode application=test "$P/my-devices/api/token"
TOKEN=$(sed -n 's/.*"token": *"\([^"]*\)".*/\1/p' token.json)
out=$(cx --token="$TOKEN" --bytes 100000 "$HTTPS_PORT" tls/ca.pem \
    dev1.localhost "$EPORT" echo)
like "$out" '^status HTTP/1.1 200' "CONNECT with a Bearer token: 200"
is "$(line received <<<"$out")" "$(line sent <<<"$out")" "  ... and the bytes come back"

out=$(cx "$HTTPS_PORT" tls/ca.pem dev1.localhost "$EPORT" handshake)
like "$out" '^status HTTP/1.1 407' "no credentials: 407"
like "$out" '^header proxy-authenticate Basic realm="reflector"' \
    "  ... with Proxy-Authenticate"
out=$(cx --user alice --password wrong "$HTTPS_PORT" tls/ca.pem \
    dev1.localhost "$EPORT" handshake)
like "$out" '^status HTTP/1.1 407' "a wrong password: 407"
out=$(cx --user carol --password="$PASSWORD" "$HTTPS_PORT" tls/ca.pem \
    dev1.localhost "$EPORT" handshake)
like "$out" '^status HTTP/1.1 403' "a device not granted: 403"
out=$(cx --user bob --password="$PASSWORD" "$HTTPS_PORT" tls/ca.pem \
    dev1.localhost "$EPORT" handshake)
like "$out" '^status HTTP/1.1 403' "a port not in the user's ports: 403"
out=$(cx "${A[@]}" "$HTTPS_PORT" tls/ca.pem dev1.localhost 8080 handshake)
like "$out" '^status HTTP/1.1 403' "a port not in the device's ports: 403"
like "$out" '^header x-ptth-error port 8080 of this device is not open to you' \
    "  ... saying which"
ok "refusals are logged with user, device, port and peer" \
    log_has 'CONNECT to dev1:8080 for "alice" from 127\.0\.0\.1:[0-9]+ refused: 403'
out=$(cx "${A[@]}" "$HTTPS_PORT" tls/ca.pem nosuch.localhost 22 handshake)
like "$out" '^status HTTP/1.1 404' "an unknown device: 404"
out=$(cx "${A[@]}" "$HTTPS_PORT" tls/ca.pem devoff.localhost 22 handshake)
like "$out" '^status HTTP/1.1 503' "an offline device: 503"
out=$(cx "${A[@]}" "$HTTPS_PORT" tls/ca.pem example.com 22 handshake)
like "$out" '^status HTTP/1.1 400' "CONNECT elsewhere than a device: 400"

# The agent refuses the port (it does not forward it): 502, from whichever
# worker holds dev1, through the relay or not.
for ((i = 0; i < 4; i++)); do
	out=$(cx "${A[@]}" "$HTTPS_PORT" tls/ca.pem dev1.localhost "$NOPORT" \
	    handshake)
	like "$out" '^status HTTP/1.1 502' "a port the agent does not forward: 502 (try $i)"
	like "$out" "^header x-ptth-error port $NOPORT not forwarded by the device" \
	    "  ... naming the port"
done

# The portal's connections are spread over both workers; one holds dev1.
# A CONNECT accepted by the other one is relayed to it.
relayed=0 here=0 okays=0 n=0
for ((i = 0; i < 60 && (relayed == 0 || here == 0 || n < 6); i++)); do
	out=$(cx "${A[@]}" --bytes 300000 "$HTTPS_PORT" tls/ca.pem \
	    dev1.localhost "$EPORT" echo)
	n=$((n + 1))
	me=$(line local <<<"$out")
	me=${me//./\\.}
	if [ "$(line received <<<"$out")" = "$(line sent <<<"$out")" ]; then
		okays=$((okays + 1))
	else
		diag "$out"
	fi
	log_has "CONNECT to dev1:$EPORT for \"alice\" from $me relayed to worker" &&
		log_has "CONNECT to dev1:$EPORT for \"alice\" from $me, relayed by worker" &&
		relayed=$((relayed + 1))
	log_has "CONNECT to dev1:$EPORT for \"alice\" from $me: opening here" &&
		here=$((here + 1))
done
is "$okays" "$n" "all $n CONNECTs echoed their bytes"
ok "$relayed were accepted by the other worker and relayed to dev1's" \
    test "$relayed" -gt 0
ok "$here were accepted by dev1's worker and served there" test "$here" -gt 0
ok "the relay's end is logged with its bytes" \
    wait_for 5 log_has "CONNECT to dev1:$EPORT .* closed \\(300000 bytes up, 300000 down\\)"

# Four echoes of 1 MB at once, each writing 256 KiB before it reads,
# relayed or not, over one device tunnel: nothing may wait on a write
# that waits on it.  (lws reads nothing from a connection while it holds
# bytes for it; this deadlocked within a few rounds before the writers
# kept their own tails.)
bad=0 n=0
for ((round = 0; round < 6; round++)); do
	pids=()
	for j in 1 2 3 4; do
		cx "${A[@]}" --bytes 1000000 "$HTTPS_PORT" tls/ca.pem \
		    dev1.localhost "$EPORT" echo >"par.$j" 2>&1 &
		pids+=($!)
	done
	wait "${pids[@]}"
	for j in 1 2 3 4; do
		n=$((n + 1))
		if [ "$(line received <"par.$j")" != "$(line sent <"par.$j")" ]; then
			bad=$((bad + 1))
			diag "round $round: $(cat "par.$j")"
		fi
	done
done
is "$bad" 0 "$n echoes four at a time all came back whole"

unlike "$(cat "$TRASH/reflectord.log")" 'killed by signal|exited with status [^0]' \
    "no worker died"
ok "TERM stops it with status 0" stop_reflectord
done_testing
