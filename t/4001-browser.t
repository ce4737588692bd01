#!/usr/bin/env bash
#
# A browser's way to a device's web server, end to end: curl against the
# real reflectord (2 workers), the real reflector-agent, and device-httpd
# (t/helpers) as the device's web server.  A page; 100 MB down and up with
# matching checksums (Content-Length and chunked); keep-alive; a WebSocket
# echo through the tunnel (t/helpers/ws-client); the device never sees the
# reflector's cookies or credentials, but does see X-Forwarded-*; without
# credentials a browser is sent to the portal and a tool gets 401; Basic
# credentials of a user of reflector.yml work, wrong ones get 403; the
# portal's login dance ends in a device session cookie; an offline device
# gives a 503 page, an unknown one a 404 page; bad and slow request heads
# are refused.
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

AGENT=$RF_BUILD/agent/reflector-agent
CTL=$RF_BUILD/server/reflectorctl
HTTPD=$RF_BUILD/t/helpers/device-httpd
WSC=$RF_BUILD/t/helpers/ws-client
need "$AGENT" "$CTL" "$HTTPD" "$WSC" curl

# --- the reflector, the device's web server, the agent ------------------------
make_certs "$TRASH/tls" dev1.localhost dev2.localhost nosuch.localhost \
    >/dev/null 2>&1 || bail "scripts/mkcert failed"
PASSWORD='correct horse'
hash=$(printf '%s\n' "$PASSWORD" | "$CTL" hash-password) ||
	bail "reflectorctl hash-password failed"
device_secret dev1 || bail "reflectorctl new-device-secret failed"
cat >extra.yml <<EOT
devices:
  - id: dev1
    secret: "$DEV_HASH"
  - id: dev2
    secret: "$DEV_HASH"
users:
  - name: alice
    password: "$hash"
    devices: [dev1, dev2]
  - name: bob
    password: "$hash"
    devices: [dev2]
EOT
HANDSHAKE=3 WORKERS=2 write_config reflector.yml extra.yml ||
	bail "cannot write the config"
start_reflectord || bail "reflectord did not start"

DPORT=$(free_port) || bail "no free port"
mkdir -p www
printf '<!DOCTYPE html>\n<html><body><h1>Device dev1</h1></body></html>\n' >www/index.html
head -c 100M /dev/urandom >www/big.bin || bail "cannot make the 100 MB file"
BIG_SUM=$(sha256sum <www/big.bin | cut -d' ' -f1)
head -c 10M www/big.bin >mid.bin
MID_SUM=$(sha256sum <mid.bin | cut -d' ' -f1)
spawn "$HTTPD" -p "$DPORT" -d www -l device.log
wait_for 5 grep -q listening "$TRASH/spawn.$((${#_tap_pids[@]} - 1)).log" ||
	bail "device-httpd did not start"

agent_yml agent.yml dev1 default "$DEV_SECRET" "http: $DPORT"
spawn "$AGENT" -f -c agent.yml
ok "the device's agent connects" wait_for 15 log_has 'device dev1 online'

D=https://dev1.localhost:$HTTPS_PORT
P=https://localhost:$HTTPS_PORT
AUTH="Authorization: Basic $(printf 'alice:%s' "$PASSWORD" | base64 -w0)"
# c ARGS...: curl verifying the test CA, every host name on 127.0.0.1.
c() {
	curl -sS --max-time 120 --cacert "$TRASH/tls/ca.pem" \
	    --connect-to "::127.0.0.1:" "$@"
}
status() { sed -n '1s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p' | tr -d '\r'; }
header() { tr -d '\r' | sed -n "s/^$1: //Ip" | head -n 1; }
device_log_has() { grep -Eq -- "$1" "$TRASH/device.log"; }

# --- who may come in -----------------------------------------------------------
head=$(c -o /dev/null -D - -H 'Accept: text/html,*/*' "$D/some/page?x=1")
is "$(status <<<"$head")" 302 "a browser without credentials: 302"
like "$(header location <<<"$head")" \
    "^https://localhost:$HTTPS_PORT/\\.reflector/authorize\\?device=dev1&return=" \
    "  ... to the portal's authorize, for this device"
head=$(c -o /dev/null -D - "$D/")
is "$(status <<<"$head")" 401 "a tool without credentials: 401"
like "$(header www-authenticate <<<"$head")" '^Basic realm=' \
    "  ... with a Basic challenge"
is "$(c -H "$AUTH" "$D/index.html")" "$(cat www/index.html)" \
    "Basic credentials of a configured user: the device's page"
code=$(c -o /dev/null -w '%{http_code}' -u 'alice:wrong' "$D/index.html")
is "$code" 403 "a wrong password: 403"
code=$(c -o /dev/null -w '%{http_code}' -u "bob:$PASSWORD" "$D/index.html")
is "$code" 403 "a user not granted the device: 403"
ok "a refusal is logged with device and peer" \
    log_has 'device dev1: 403 for 127\.0\.0\.1:[0-9]+ GET /index.html'

# --- the portal's login dance ends in a device cookie ------------------------
c -c portal.jar -o /dev/null -H "Origin: $P" --data-urlencode user=alice \
    --data-urlencode "password=$PASSWORD" --data-urlencode return=/ \
    "$P/.reflector/login"
head=$(c -b portal.jar -o /dev/null -D - \
    "$P/.reflector/authorize?device=dev1&return=%2Fheaders")
loc=$(header location <<<"$head")
like "$loc" "^$D/\\.reflector/session\\?token=" "authorize sends the browser back with a token"
head=$(c -c dev.jar -o /dev/null -D - "$loc")
is "$(status <<<"$head")" 302 "the device host takes the token: 302"
is "$(header location <<<"$head")" /headers "  ... back to the page asked for"
like "$(header set-cookie <<<"$head")" '^rf_session=' "  ... with a device session cookie"
code=$(c -o /dev/null -w '%{http_code}' "$loc")
is "$code" 403 "a token works once"

# The device sees neither our cookies nor our credentials.
heads=$(c -b dev.jar -b 'app=1; rf_portal=PORTALSECRET' -H 'X-Forwarded-For: 6.6.6.6' \
    -H 'X-Forwarded-Host: evil.example' "$D/headers")
like "$heads" '^GET /headers HTTP/1.1' "with the session cookie: the device answers"
like "$heads" '^Cookie: app=1' "the device gets the page's own cookie"
unlike "$heads" 'rf_session|rf_portal|PORTALSECRET' "but neither rf_session nor rf_portal"
like "$heads" '^X-Forwarded-For: 127\.0\.0\.1' "X-Forwarded-For is the browser's address"
like "$heads" '^X-Forwarded-Proto: https' "X-Forwarded-Proto: https"
like "$heads" "^X-Forwarded-Host: dev1\\.localhost:$HTTPS_PORT" "X-Forwarded-Host is the Host"
unlike "$heads" '6\.6\.6\.6|evil\.example' "what the browser said in X-Forwarded-* is dropped"
heads=$(c -H "$AUTH" "$D/headers")
unlike "$heads" '^Authorization:' "our Basic credentials do not reach the device"
heads=$(c -H "X-PTTH-${AUTH}" -H 'Authorization: Bearer device-own' "$D/headers")
like "$heads" '^Authorization: Bearer device-own' \
    "with X-PTTH-Authorization, the device's own Authorization passes"
unlike "$heads" 'X-PTTH' "  ... and X-PTTH-Authorization does not"
ok "the device's log has requests" device_log_has '^GET /headers'
ok "the device never saw our cookies or credentials" \
    sh -c "! grep -Eqi 'rf_session|rf_portal|^Authorization: Basic|^X-PTTH' '$TRASH/device.log'"

# --- bulk both ways -------------------------------------------------------------
ok "a 100 MB download" c -H "$AUTH" -o big.out "$D/big.bin"
is "$(sha256sum <big.out | cut -d' ' -f1)" "$BIG_SUM" "  ... arrives intact"
rm -f big.out
out=$(c -H "$AUTH" --data-binary @www/big.bin "$D/upload")
is "$out" "$BIG_SUM 104857600" "a 100 MB upload (Content-Length) arrives intact"
out=$(c -H "$AUTH" -H 'Transfer-Encoding: chunked' --data-binary @mid.bin "$D/upload")
is "$out" "$MID_SUM 10485760" "a 10 MB chunked upload arrives intact"
out=$(c -H "$AUTH" -o /dev/null -o /dev/null -w '%{http_code} %{num_connects}\n' \
    "$D/index.html" "$D/index.html")
is "$(tr '\n' ' ' <<<"$out")" "200 1 200 0 " "two requests on one kept-alive connection"
out=$(c -H "$AUTH" -o /dev/null -w '%{http_code} ' --data-binary 'x' "$D/upload" \
    --next --cacert "$TRASH/tls/ca.pem" --connect-to "::127.0.0.1:" -H "$AUTH" \
    -o /dev/null -w '%{http_code} %{num_connects}' "$D/index.html")
is "$out" "200 200 0" "a POST and then a GET on the same connection"

# --- WebSocket -------------------------------------------------------------------
ok "a WebSocket echo through the tunnel" \
    "$WSC" -c "$TRASH/tls/ca.pem" -a 127.0.0.1 -p "$HTTPS_PORT" \
    -n dev1.localhost -H "$AUTH" /ws
like "$(cat "$TRASH/.cmd-output")" 'echo binary 60000 ok' "  ... 60000 bytes of binary too"
nok "no upgrade without credentials" \
    "$WSC" -c "$TRASH/tls/ca.pem" -a 127.0.0.1 -p "$HTTPS_PORT" -n dev1.localhost /ws

# --- pages of our own ------------------------------------------------------------
head=$(c -H "$AUTH" -D - -o page.html "https://dev2.localhost:$HTTPS_PORT/")
is "$(status <<<"$head")" 503 "a known device that is offline: 503"
like "$(cat page.html)" 'Device offline' "  ... a page that says so"
ok "  ... logged" log_has 'device dev2: 503 for 127\.0\.0\.1'
head=$(c -H "$AUTH" -D - -o page.html "https://nosuch.localhost:$HTTPS_PORT/")
is "$(status <<<"$head")" 404 "an unknown device: 404"
like "$(cat page.html)" 'no device of that name' "  ... a page that says so"
like "$(c "$D/.reflector/health")" '"status"' "health answers on a device host"

# --- bad and slow heads -------------------------------------------------------------
raw() {
	printf "$1" | timeout 10 openssl s_client -quiet -connect "127.0.0.1:$HTTPS_PORT" \
	    -servername dev1.localhost -CAfile "$TRASH/tls/ca.pem" 2>/dev/null
}
out=$(raw 'POST /upload HTTP/1.1\r\nHost: dev1.localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')
like "$out" '^HTTP/1.1 400 ' "Content-Length with Transfer-Encoding: 400"
out=$(raw "GET / HTTP/1.1\r\nHost: dev1.localhost\r\nX-Big: $(head -c 9000 /dev/zero | tr '\0' a)\r\n\r\n")
like "$out" '^HTTP/1.1 431 ' "a head over header_max: 431"
out=$(raw 'GET / HTTP/1.1\r\nHost: dev2.localhost\r\n\r\n')
like "$out" '^HTTP/1.1 421 ' "a Host of another device on this connection: 421"
mkfifo slow.in
openssl s_client -quiet -connect "127.0.0.1:$HTTPS_PORT" -servername dev1.localhost \
    -CAfile "$TRASH/tls/ca.pem" <slow.in >slow.out 2>&1 &
spid=$!
track_pid "$spid"
exec {sfd}>slow.in
printf 'GET / HTTP/1.1\r\nHost: dev1' >&"$sfd"
start=$SECONDS
wait_for 8 sh -c "! kill -0 $spid"
ok "a head that never ends is cut off at handshake_timeout (3 s)" \
    test $((SECONDS - start)) -lt 7
exec {sfd}>&-
ok "  ... and logged" log_has 'sent no complete request head in 3 s'

ok "reflectord is still there" kill -0 "$RF_PID"
done_testing
