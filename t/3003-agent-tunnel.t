#!/usr/bin/env bash
#
# reflector-agent against a stand-in reflector (t/lib/fake-reflector.py):
# the upgrade carries the credentials, the keep-alive and one property
# header per property; a channel to an allowed port is confirmed, relays
# both ways and half-closes; a port outside the allow-list gets OPEN_FAULT
# NOT_FORWARDED; an unknown opcode gets ERROR PROTOCOL without losing the
# tunnel; 100 kB through one channel arrive intact in frames of at most
# 2048 bytes; a 101 without the subprotocol is refused and retried with
# backoff; SIGHUP with an unchanged device keeps its tunnel; SIGTERM stops.
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

AGENT=$RF_BUILD/agent/reflector-agent
[ -x "$AGENT" ] || skip_all "reflector-agent is not built ($AGENT)"
command -v python3 >/dev/null || skip_all "python3 is needed"
make_certs "$TRASH/tls" >/dev/null 2>&1 || bail "scripts/mkcert failed"

RPORT=$(free_port) && EPORT=$(free_port) || bail "no free ports"

write_agent_config() {
	cat >agent.yml <<EOT
reflector: https://localhost:$RPORT/
ca_file: $TRASH/tls/ca.pem
keepalive: 5s
log:
  level: debug1
  target: file
  file: $TRASH/agent.log
devices:
  - id: dev1
    group: lab
    password: s3cret
    ports: [http: $EPORT, ssh: 22]
    properties: {name: "Test \"one\"", version: "1.0"}
$1
EOT
}

fake_has() {
	grep -Eq -- "$1" "$TRASH/fake.out"
}

agent_log_has() {
	grep -Eq -- "$1" "$TRASH/agent.log"
}

python3 "$RF_TOP/t/lib/echo-server.py" "$EPORT" >echo.out 2>&1 &
track_pid $!
python3 "$RF_TOP/t/lib/fake-reflector.py" "$TRASH/tls/cert.pem" \
    "$TRASH/tls/key.pem" "$RPORT" echo "$EPORT" >fake.out 2>&1 &
track_pid $!
wait_for 5 grep -q listening fake.out || bail "the fake reflector did not start"
wait_for 5 grep -q listening echo.out || bail "the echo server did not start"

write_agent_config ""
"$AGENT" -f -c agent.yml 2>agent.stderr &
APID=$!
track_pid $APID

ok "the tunnel runs the whole script" wait_for 15 fake_has '^bulk '
ok "the agent logs 'connected'" agent_log_has 'dev1: connected to'
ok "the upgrade authenticates as id@group:password" fake_has '^auth dev1@lab:s3cret$'
ok "with the WebTunnel subprotocol" fake_has '^protocol com.appinf.webtunnel.server/1.0$'
ok "and X-WebTunnel-KeepAlive" fake_has '^keepalive 5$'
ok "targetHost is a property" fake_has '^property device;targetHost="127.0.0.1"$'
ok "targetPorts lists the allow-list" fake_has "^property device;targetPorts=\"$EPORT, 22\"\$"
ok "httpPort comes from the http port" fake_has "^property device;httpPort=$EPORT\$"
ok "quotes in a property are escaped" fake_has '^property device;name="Test \\"one\\""$'
ok "an allowed port is confirmed" fake_has '^open-confirm 1$'
ok "data goes there and back" fake_has '^data hello$'
ok "the target's FIN becomes CLOSE" fake_has '^close 1$'
ok "a port outside the allow-list: OPEN_FAULT NOT_FORWARDED" fake_has '^open-fault 2 2$'
ok "an unknown opcode: ERROR PROTOCOL" fake_has '^error 3 6$'
ok "100 kB arrive intact in frames of at most 2048 bytes" fake_has '^bulk same largest 2048$'
unlike "$(cat fake.out)" 'frame-too-large|unexpected' "nothing unexpected on the tunnel"

# A reload with the same device keeps the tunnel.
kill -HUP "$APID"
ok "SIGHUP reloads" wait_for 5 agent_log_has 'configuration reloaded: 1 device'
sleep 1
is "$(grep -c '^request ' fake.out)" 1 "an unchanged device keeps its tunnel"

# A changed device reconnects; the fake answers without a subprotocol now.
write_agent_config "    https_target: no
  - id: dev2
    password: x
    ports: [22]"
sed -i 's/password: s3cret/password: n3w/' agent.yml
kill -HUP "$APID"
ok "a changed device reconnects" wait_for 10 fake_has '^auth dev1@lab:n3w$'
ok "a 101 without the subprotocol is refused" wait_for 10 \
    agent_log_has "dev1: cannot connect .*answered 101 with subprotocol '', not"
ok "and retried" wait_for 10 agent_log_has 'retrying in [0-9.]+ s'
ok "a new device connects too" wait_for 10 fake_has '^auth dev2@default:x$'

term_wait "$APID"
is "$?" 0 "SIGTERM stops the agent with status 0"
ok "and it says so" agent_log_has 'stopping'

done_testing
