#!/usr/bin/env bash
#
# reflector-agent against reflectord: a device declared in reflector.yml
# connects with its password through the WebTunnel upgrade on the portal
# host, the reflector reports it online, and the agent logs that it is
# connected.
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

AGENT=$RF_BUILD/agent/reflector-agent
[ -x "$AGENT" ] || skip_all "reflector-agent is not built ($AGENT)"

DEVICE_PASSWORD=dev1-s3cret
# reflector.yml keeps only a hash of the secret (reflector.yml(5)).
DEVICE_SECRET=$(printf '%s\n' "$DEVICE_PASSWORD" |
    "$RF_BUILD/server/reflectorctl" hash-password) ||
    bail "reflectorctl hash-password failed"

cat >devices.yml <<EOT
devices:
  - id: dev1
    group: default
    secret: "$DEVICE_SECRET"
EOT
write_config "$TRASH/reflector.yml" devices.yml || bail "cannot write the config"
start_reflectord || bail "reflectord did not start"

agent_yml agent.yml dev1 default "$DEVICE_PASSWORD" "http: 80"
ok "the agent's config passes -t" "$AGENT" -t -c agent.yml
"$AGENT" -f -c agent.yml 2>agent.stderr &
APID=$!
track_pid $APID

agent_log_has() {
	grep -Eq -- "$1" "$TRASH/agent.log" 2>/dev/null
}

ok "the agent logs 'connected'" wait_for 10 agent_log_has 'dev1: connected to'
ok "reflectord logs 'device dev1 online'" wait_for 10 log_has 'device dev1 online'
if ! agent_log_has 'dev1: connected to'; then
	diag "--- the agent's log:"
	diag "$(grep -v 'lws:' "$TRASH/agent.log" | tail -n 10)"
fi

kill -TERM "$APID"
wait "$APID"
is "$?" 0 "SIGTERM stops the agent with status 0"

done_testing
