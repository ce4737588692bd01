#!/usr/bin/env bash
# Without -f: the command returns once the workers serve, the master runs
# detached with its pid in the pid file; start-up errors give status 1.
. "$(dirname "$0")/lib/test-lib.sh"

write_config reflector.yml
ok "reflectord detaches and returns 0" "$REFLECTORD" -c "$CONF"
pid=$(cat "$TRASH/run/reflectord.pid" 2>/dev/null)
track_pid "$pid"
ok "the pid file names a running process" kill -0 "$pid"
is "$(ps -o sid= -p "$pid" | tr -d ' ')" "$pid" "which leads its own session"
ok "and serves at once" health
nok "a second instance with the same pid file refuses to start" \
    "$REFLECTORD" -f -c "$CONF"
like "$(cat "$TRASH/.cmd-output")" "already running as pid $pid" "and says why"
kill -TERM "$pid"
ok "TERM stops the daemon" wait_for 10 sh -c "! kill -0 $pid"
ok "the pid file is gone" test ! -e "$TRASH/run/reflectord.pid"

# The port is taken: the start fails and says why on stderr.
openssl s_server -quiet -accept "127.0.0.1:$HTTPS_PORT" \
    -cert "$TRASH/tls/cert.pem" -key "$TRASH/tls/key.pem" </dev/null \
    >/dev/null 2>&1 &
track_pid $!
wait_for 5 sh -c "ss -Htln 'sport = :$HTTPS_PORT' | grep -q ."
nok "a taken port makes the start fail" "$REFLECTORD" -c "$CONF"
like "$(cat "$TRASH/.cmd-output")" "cannot listen on 127.0.0.1:$HTTPS_PORT: Address already in use" \
    "and says which address"
done_testing
