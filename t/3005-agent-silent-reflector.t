#!/usr/bin/env bash
#
# reflector-agent against a reflector that takes the connection and the
# TLS handshake and then never answers the upgrade request: the agent
# gives up on that attempt, says so, and retries with backoff, over and
# over, and SIGTERM still stops it cleanly.  (lws 4.1.6 ends such a
# connection without telling the protocol: a device once stayed
# "connecting" for good, and crashed when stopped.)
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

AGENT=$RF_BUILD/agent/reflector-agent
[ -x "$AGENT" ] || skip_all "reflector-agent is not built ($AGENT)"
command -v python3 >/dev/null || skip_all "python3 is needed"
make_certs "$TRASH/tls" >/dev/null 2>&1 || bail "scripts/mkcert failed"

# agent_yml's reflector is localhost:$HTTPS_PORT: the fake one here.
HTTPS_PORT=$(free_port) || bail "no free port"
agent_yml agent.yml dev1 default s3cret "http: 80"

python3 "$RF_TOP/t/lib/fake-reflector.py" "$TRASH/tls/cert.pem" \
    "$TRASH/tls/key.pem" "$HTTPS_PORT" silent >fake.out 2>&1 &
track_pid $!
wait_for 5 grep -q listening fake.out || bail "the fake reflector did not start"

"$AGENT" -f -c agent.yml 2>agent.stderr &
APID=$!
track_pid $APID

requests() {
	[ "$(grep -c '^request GET ' "$TRASH/fake.out")" -ge "$1" ]
}
agent_log_has() {
	grep -Eq -- "$1" "$TRASH/agent.log"
}

ok "the agent sends its upgrade request" wait_for 10 requests 1
# lws gives up on an unanswered upgrade after 5 s; backoff is at most 2 s.
ok "an unanswered upgrade is given up" wait_for $((15 * MULT)) agent_log_has \
    'dev1: cannot connect to .*: no answer to the upgrade request; retrying in'
ok "and retried" wait_for $((15 * MULT)) requests 2
ok "and retried again" wait_for $((15 * MULT)) requests 3
unlike "$(cat agent.stderr)" 'AddressSanitizer|runtime error' \
    "no memory error on the way"

term_wait "$APID"
is "$?" 0 "SIGTERM stops the agent with status 0"
ok "and it says so" agent_log_has 'stopping'

done_testing
