#!/usr/bin/env bash
# Start-up: a master with two workers, health over verified TLS from each
# worker, the portal page, error pages, TLS and ALPN policy, the pid file.
. "$(dirname "$0")/lib/test-lib.sh"

HTTP_PORT=$(free_port)
# OpenSSL takes no wildcard right below a one-label name (*.localhost), so
# device names are listed in the certificate.
make_certs "$TRASH/tls" nosuchdevice.localhost
write_config reflector.yml
start_reflectord || bail "reflectord did not start"

ok "pid file holds the master's pid" \
    test "$(cat "$TRASH/run/reflectord.pid")" = "$RF_PID"
is "$(worker_pids | wc -l)" 2 "two workers run"

# SO_REUSEPORT spreads connections by source port: ask until both answer.
seen=
for ((i = 0; i < 60; i++)); do
	slot=$(json_field "$(health)" worker)
	case " $seen " in *" $slot "*) ;; *) seen="$seen $slot" ;; esac
	[ "$(echo $seen | wc -w)" -ge 2 ] && break
done
is "$(echo $seen | tr ' ' '\n' | sort | xargs)" "0 1" \
    "both workers answer health over TLS verified with the test CA"

h=$(health)
like "$h" '"status":"ok"' "health says ok"
like "$h" '"version":"[0-9]+\.[0-9]+\.[0-9]+"' "health gives the version"
like "$h" '"pid":[0-9]+' "health gives the worker pid"
like "$h" '"uptime":[0-9]+' "health gives the uptime"
like "$(worker_pids)" "^$(json_field "$h" pid)\$" \
    "the pid in health is one of reflectord's workers"

portal=$(curl -sS --cacert "$TRASH/tls/ca.pem" "https://localhost:$HTTPS_PORT/")
like "$portal" '<h1>Reflector</h1>' "the portal host shows the placeholder page"
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$TRASH/tls/ca.pem" \
    "https://localhost:$HTTPS_PORT/no/such/page")
is "$code" 404 "an unknown path is 404"
code=$(curl -sS -o dev.html -w '%{http_code}' --cacert "$TRASH/tls/ca.pem" \
    "https://nosuchdevice.localhost:$HTTPS_PORT/")
is "$code" 404 "an unknown device host is 404"
like "$(cat dev.html)" 'Unknown device' "with a page that says so"
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$TRASH/tls/ca.pem" \
    -d x=1 "https://localhost:$HTTPS_PORT/")
is "$code" 405 "POST to the portal is 405"

like "$(curl -sS "http://127.0.0.1:$HTTP_PORT/.reflector/health")" \
    '"status":"ok"' "health answers on the plain HTTP listener"

ver=$(curl -sS -o /dev/null -w '%{http_version}' --http2 \
    --cacert "$TRASH/tls/ca.pem" "https://localhost:$HTTPS_PORT/")
is "$ver" 1.1 "ALPN offers HTTP/1.1 only (no h2 connection coalescing)"
nok "TLS 1.1 is refused" openssl s_client -connect "127.0.0.1:$HTTPS_PORT" \
    -tls1_1 -servername localhost </dev/null
ok "TLS 1.2 is accepted" openssl s_client -connect "127.0.0.1:$HTTPS_PORT" \
    -tls1_2 -servername localhost -CAfile "$TRASH/tls/ca.pem" \
    -verify_return_error </dev/null

like "$(cat "$TRASH/reflectord.log")" 'reflectord\[[0-9]+\]: master: ' \
    "master log lines say master"
like "$(cat "$TRASH/reflectord.log")" 'reflectord\[[0-9]+\]: worker 1: ' \
    "worker log lines say which worker"
like "$("$REFLECTORD" -V)" '^reflectord [0-9]+\.[0-9]+' "-V prints the version"
nok "an unknown option is refused" "$REFLECTORD" -Z

ok "TERM stops it with status 0" stop_reflectord
ok "the pid file is gone" test ! -e "$TRASH/run/reflectord.pid"
done_testing
