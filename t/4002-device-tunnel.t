#!/usr/bin/env bash
# Device tunnels on the reflector: the WebTunnel upgrade as stock agents
# send it (POST, Basic id@group:secret, repeated X-PTTH-Set-Property),
# refusals with X-PTTH-Error, PING/PONG, bad frames that cost only their
# own tunnel, last connection wins, and a real agent that comes back after
# its worker is killed.
. "$(dirname "$0")/lib/test-lib.sh"

AGENT=$RF_BUILD/agent/reflector-agent
CTL=$RF_BUILD/server/reflectorctl
command -v python3 >/dev/null || skip_all "python3 is needed for the scripted agent"
[ -x "$CTL" ] || skip_all "reflectorctl is not built"

hash_of() { printf '%s\n' "$1" | "$CTL" hash-password; }
make_certs "$TRASH/tls" dev1.localhost dev2.localhost nosuch.localhost
cat >devices.yml <<EOT
devices:
  - id: dev1
    group: plant
    secret: "$(hash_of s3cret-1)"
  - id: dev2
    group: plant
    secret: "$(hash_of s3cret-2)"
EOT
write_config reflector.yml devices.yml
start_reflectord || bail "reflectord did not start"

wtagent() { # ID SECRET SCRIPT
	timeout $((10 * MULT)) python3 "$RF_TOP/t/lib/wt-agent.py" 127.0.0.1 \
	    "$HTTPS_PORT" "$TRASH/tls/ca.pem" "$1" plant "$2" "$3"
}

# A real agent keeps dev2 online through everything below.
agent_yml agent.yml dev2 plant "s3cret-2" "http: 80"
"$AGENT" -f -c agent.yml 2>agent.stderr &
track_pid $!
ok "the real agent brings dev2 online" wait_for 10 log_has 'device dev2 online'

status=$(mdb_dump -n -s status -p "$TRASH/run/routing.mdb")
like "$status" 'dev2' "dev2's status is recorded in the routing environment"
like "$status" 'targetHost=127.0.0.1' "  ... with the properties its agent sent"

out=$(wtagent dev1 wrong handshake)
like "$out" '^status HTTP/1.1 401' "a wrong secret is 401"
like "$out" '^header x-ptth-error Invalid device credentials' "with the reason in X-PTTH-Error"
like "$out" '^header x-webtunnel-error Invalid device credentials' "and in X-WebTunnel-Error"
ok "and the attempt is logged" log_has 'device dev1@plant from .*: authentication failed'
out=$(wtagent dev1 s3cret-2 handshake)
like "$out" '^status HTTP/1.1 401' "another device's secret is 401 too"

out=$(wtagent dev1 s3cret-1 handshake)
like "$out" '^status HTTP/1.1 101' "the right secret is 101"
like "$out" '^header sec-websocket-protocol com.appinf.webtunnel.server/1.0$' \
    "with exactly the WebTunnel subprotocol"
like "$out" '^header connection Upgrade$' "and 'Connection: Upgrade' as the whole value"
ok "the device was online with its four properties" \
    wait_for 5 log_has 'device dev1 online \(group plant, from .*, 4 properties, plain protocol\)'

out=$(wtagent dev1 s3cret-1 ping)
like "$out" '^frame 10 hello$' "a PING is answered with a PONG of the same payload"

out=$(wtagent dev1 s3cret-1 bad-opcode)
like "$out" '^wt 128 0 7 6$' "an unknown opcode gets ERROR(PROTOCOL) on its channel"
like "$out" '^frame 10 still$' "and the tunnel lives on"
out=$(wtagent dev1 s3cret-1 bad-channel)
like "$out" '^wt 128 0 9 1$' "DATA on an unknown channel gets ERROR(BAD_CHANNEL)"
for script in truncated text oversized; do
	out=$(wtagent dev1 s3cret-1 $script)
	like "$out" '^read eof$' "$script: that tunnel is closed"
done
like "$(mdb_dump -n -s owner -p "$TRASH/run/routing.mdb")" 'dev2' \
    "dev2 is still online in the routing map"

code=$(curl -sS -o page.html -w '%{http_code}' --cacert "$TRASH/tls/ca.pem" \
    "https://dev1.localhost:$HTTPS_PORT/")
is "$code" 503 "an offline device is 503"
like "$(cat page.html)" 'Device offline' "with a page that says so"
code=$(curl -sS -o page.html -w '%{http_code}' --cacert "$TRASH/tls/ca.pem" \
    "https://nosuch.localhost:$HTTPS_PORT/")
is "$code" 404 "an unknown device is 404"

# Last connection wins.
online_count() { grep -c "device $1 online" "$TRASH/reflectord.log"; }
n=$(online_count dev1)
wtagent dev1 s3cret-1 serve >first.out &
first=$!
ok "a first connection of dev1 comes online" \
    wait_for 5 sh -c "test \$(grep -c 'device dev1 online' $TRASH/reflectord.log) -gt $n"
n=$(online_count dev1)
wtagent dev1 s3cret-1 serve >second.out &
second=$!
track_pid $second
ok "the second connection of dev1 comes online" \
    wait_for 5 sh -c "test \$(grep -c 'device dev1 online' $TRASH/reflectord.log) -gt $n"
ok "and the first one is closed" wait_for 5 grep -q 'read eof' first.out
ok "the reason is logged" log_has 'device dev1: closing its tunnel: the device connected again'
kill "$second" "$first" 2>/dev/null

unlike "$(cat "$TRASH/reflectord.log")" 'killed by signal|exited with status [^0]' \
    "no worker died of anything above"

# The real agent comes back after its worker is killed.
owner=$(mdb_dump -n -s owner -p "$TRASH/run/routing.mdb" >/dev/null; \
    grep -E 'device dev2 online' "$TRASH/reflectord.log" | tail -n 1 | \
    sed -E 's/.*reflectord\[([0-9]+)\].*/\1/')
n=$(grep -c 'device dev2 online' "$TRASH/reflectord.log")
kill -KILL "$owner"
ok "dev2 comes back after its worker was killed" \
    wait_for 15 sh -c "test \$(grep -c 'device dev2 online' $TRASH/reflectord.log) -gt $n"
ok "TERM stops it with status 0" stop_reflectord
done_testing
