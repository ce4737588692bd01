#!/usr/bin/env bash
#
# reflector-agent against a reflector that takes the connection and the
# TLS handshake and then never answers the upgrade request: the agent
# gives up on that attempt after handshake_timeout, says so, and retries
# with backoff, over and over, and SIGTERM still stops it cleanly.  (lws
# 4.1.6 ends such a connection without telling the protocol: a device once
# stayed "connecting" for good, and crashed when stopped.)  lws's own 5 s
# must not cut a longer handshake_timeout short (a mobile link may need
# it), and a reload's new value holds from the next check on.
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

AGENT=$RF_BUILD/agent/reflector-agent
[ -x "$AGENT" ] || skip_all "reflector-agent is not built ($AGENT)"
command -v python3 >/dev/null || skip_all "python3 is needed"
make_certs "$TRASH/tls" >/dev/null 2>&1 || bail "scripts/mkcert failed"

# agent_yml's reflector is localhost:$HTTPS_PORT: the fake one here.
HTTPS_PORT=$(free_port) || bail "no free port"
agent_yml agent.yml dev1 default s3cret "http: 80"
cp agent.yml agent-short.yml
echo 'handshake_timeout: 8s' >>agent.yml
echo 'handshake_timeout: 2s' >>agent-short.yml

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

given_up() {
	[ "$(grep -c "dev1: cannot connect to .*: no answer from the reflector within $1 s (handshake_timeout); retrying in" \
	    "$TRASH/agent.log")" -ge "$2" ]
}
ok "the agent sends its upgrade request" wait_for 10 requests 1
t0=$(date +%s%N)
sleep 6.5
nok "after 6.5 s (handshake_timeout 8s) it still waits for the answer" \
    grep -q 'dev1: cannot connect' agent.log
ok "an unanswered upgrade is given up after handshake_timeout" \
    wait_for $((15 * MULT)) given_up 8 1
t1=$(date +%s%N)
ok "  ... after 8 s, not lws's 5 ($(((t1 - t0) / 1000000)) ms)" \
    test $(((t1 - t0) / 1000000)) -ge 7500
ok "and retried" wait_for $((15 * MULT)) requests 2
cp agent-short.yml agent.yml
kill -HUP "$APID"
# The attempt under way may have started before the reload: it ends at
# 2 s or 8 s; backoff is at most 2 s (reconnect_max).
ok "after a reload to 2s, later attempts are given up after 2 s" \
    wait_for $((30 * MULT)) given_up 2 2
ok "and retried again" wait_for $((15 * MULT)) requests 4
unlike "$(cat agent.stderr)" 'AddressSanitizer|runtime error' \
    "no memory error on the way"

term_wait "$APID"
is "$?" 0 "SIGTERM stops the agent with status 0"
ok "and it says so" agent_log_has 'stopping'

done_testing
