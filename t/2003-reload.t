#!/usr/bin/env bash
# Reload (SIGHUP): a new certificate reaches new connections while a
# keep-alive connection opened before keeps working; a broken file or a
# certificate that does not load leaves the running configuration in force
# and logs file:line:column; restart-only keys keep their running values.
. "$(dirname "$0")/lib/test-lib.sh"

write_config reflector.yml
make_certs "$TRASH/tls2" || bail "cannot make the second certificate"
start_reflectord || bail "reflectord did not start"

ka_open old
ka_send old
ka_wait old 1
ok "keep-alive connection verified with the first CA" test "$(ka_responses old)" -eq 1

# Point the config at the second certificate and reload.
sed -i "s|$TRASH/tls/|$TRASH/tls2/|" reflector.yml
kill -HUP "$RF_PID"
ok "every worker applied generation 1" \
    wait_for 5 log_has 'configuration generation 1 applied by all workers'
ok "a new connection gets the new certificate" \
    curl -sS --cacert "$TRASH/tls2/ca.pem" "https://localhost:$HTTPS_PORT/.reflector/health"
nok "which the old CA does not verify" \
    curl -sS --cacert "$TRASH/tls/ca.pem" "https://localhost:$HTTPS_PORT/.reflector/health"
h=$(curl -sS --cacert "$TRASH/tls2/ca.pem" "https://localhost:$HTTPS_PORT/.reflector/health")
is "$(json_field "$h" config_generation)" 1 "health reports configuration generation 1"

ka_send old
ka_wait old 2
is "$(ka_responses old)" 2 "the keep-alive connection from before the reload still works"
like "$(ka_last old)" '"config_generation":1' "and is served by the reloaded worker"
ka_close old

# A broken file: nothing changes, the error names file:line:column.
cp reflector.yml good.yml
sed -i 's/drain_timeout: .*/keepalive_timeout: soon/' reflector.yml
kill -HUP "$RF_PID"
ok "the error is logged with its position" \
    wait_for 5 log_has "reflector.yml:[0-9]+:[0-9]+: .*keepalive_timeout"
ok "and the reload is refused" log_has 'reload failed: .* is invalid; keeping the running configuration'
ok "still serving with the running certificate" \
    curl -sS --cacert "$TRASH/tls2/ca.pem" "https://localhost:$HTTPS_PORT/.reflector/health"

# A certificate that does not load: refused as a whole.
cp good.yml reflector.yml
sed -i "s|$TRASH/tls2/cert.pem|$TRASH/missing.pem|" reflector.yml
kill -HUP "$RF_PID"
ok "a missing certificate is logged with the key's position" \
    wait_for 5 log_has "reflector.yml:[0-9]+:[0-9]+: cannot load certificate '$TRASH/missing.pem'"
ok "still serving" \
    curl -sS --cacert "$TRASH/tls2/ca.pem" "https://localhost:$HTTPS_PORT/.reflector/health"

# A key a reload cannot change: warned about, kept; the rest applies.
cp good.yml reflector.yml
sed -i 's/^workers: .*/workers: 3/; s/level: debug1/level: verbose/' reflector.yml
kill -HUP "$RF_PID"
ok "generation 2 applied" \
    wait_for 5 log_has 'configuration generation 2 applied by all workers'
ok "the restart-only key is named" log_has 'workers changed from 2 to 3'
is "$(worker_pids | wc -l)" 2 "still two workers"
ok "TERM stops it with status 0" stop_reflectord
ok "reflectord -t agrees the final file is valid" "$REFLECTORD" -t -c reflector.yml
done_testing
