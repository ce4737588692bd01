#!/usr/bin/env bash
#
# One reflector-agent as a gateway for several devices: gw-a and gw-b in
# one agent configuration, each with its own target (two device-httpd on
# different loopback ports with different pages), both come online over
# their own tunnels, and https://gw-a.localhost/ and https://gw-b.localhost/
# each give that device's own page (device-httpd serves index.html for /).  A device whose web port is not in its
# allow-list (gw-c lists only an ssh port, so it announces no httpPort and
# the reflector asks for port 80) is refused by the agent with OPEN_FAULT
# NOT_FORWARDED, which the reflector answers with a 502 page naming it.
# Stopping one device's web server costs only that device's pages.
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

AGENT=$RF_BUILD/agent/reflector-agent
CTL=$RF_BUILD/server/reflectorctl
HTTPD=$RF_BUILD/t/helpers/device-httpd
need "$AGENT" "$CTL" "$HTTPD" curl

# --- the reflector -------------------------------------------------------------
make_certs "$TRASH/tls" gw-a.localhost gw-b.localhost gw-c.localhost \
    >/dev/null 2>&1 || bail "scripts/mkcert failed"
hash_of() { printf '%s\n' "$1" | "$CTL" hash-password; }
PASSWORD='correct horse'
user_hash=$(hash_of "$PASSWORD") && a_hash=$(hash_of secret-a) &&
    b_hash=$(hash_of secret-b) && c_hash=$(hash_of secret-c) ||
	bail "reflectorctl hash-password failed"
cat >extra.yml <<EOT
devices:
  - id: gw-a
    group: hall7
    secret: "$a_hash"
  - id: gw-b
    group: hall7
    secret: "$b_hash"
  - id: gw-c
    group: hall7
    secret: "$c_hash"
users:
  - name: alice
    password: "$user_hash"
    devices: [gw-a, gw-b, gw-c]
EOT
WORKERS=2 write_config reflector.yml extra.yml || bail "cannot write the config"
start_reflectord || bail "reflectord did not start"

# --- two device web servers, different pages -------------------------------------
# start_httpd NAME: device-httpd serving $TRASH/www-NAME on a free port,
# logging to $TRASH/NAME.log; sets HPORT and SPAWN_PID.
start_httpd() {
	HPORT=$(free_port) || return 1
	mkdir -p "www-$1"
	printf '<!DOCTYPE html>\n<html><body><h1>Device %s</h1></body></html>\n' \
	    "$1" >"www-$1/index.html"
	spawn "$HTTPD" -p "$HPORT" -d "www-$1" -l "$1.log"
	wait_for 5 grep -q listening "$TRASH/spawn.$((${#_tap_pids[@]} - 1)).log"
}
start_httpd gw-a || bail "device-httpd for gw-a did not start"
PORT_gw_a=$HPORT
start_httpd gw-b || bail "device-httpd for gw-b did not start"
PORT_gw_b=$HPORT PID_gw_b=$SPAWN_PID
SSH_PORT=$(free_port) || bail "no free port"

# --- one agent, three devices ------------------------------------------------------
{ agent_config; cat <<EOT; } >agent.yml
devices:
  - id: gw-a
    group: hall7
    password: secret-a
    target_host: 127.0.0.1
    ports: [http: $PORT_gw_a]
    properties: {name: "Gateway A"}
  - id: gw-b
    group: hall7
    password: secret-b
    target_host: 127.0.0.1
    ports: [http: $PORT_gw_b]
    properties: {name: "Gateway B"}
  - id: gw-c
    group: hall7
    password: secret-c
    ports: [ssh: $SSH_PORT]
EOT
ok "the agent's configuration is valid" "$AGENT" -t -c agent.yml
spawn "$AGENT" -f -c agent.yml
APID=$SPAWN_PID
for dev in gw-a gw-b gw-c; do
	ok "$dev comes online" wait_for 15 log_has "device $dev online \\(group hall7,"
done
ok "three tunnels from one agent" \
    test "$(grep -c ': connected to https://localhost' agent.log)" -eq 3

AUTH="Authorization: Basic $(printf 'alice:%s' "$PASSWORD" | base64 -w0)"
c() {
	curl -sS --max-time 20 --cacert "$TRASH/tls/ca.pem" \
	    --connect-to "::127.0.0.1:" -H "$AUTH" "$@"
}
url() { echo "https://$1.localhost:$HTTPS_PORT$2"; }

# --- each device its own page ----------------------------------------------------
for dev in gw-a gw-b; do
	is "$(c "$(url $dev /)")" "$(cat "www-$dev/index.html")" \
	    "https://$dev.localhost/: $dev's own page"
done
page=$(c "$(url gw-a /)")
like "$page" 'Device gw-a' "gw-a's page names gw-a"
unlike "$page" 'Device gw-b' "  ... and not gw-b"
page=$(c "$(url gw-b /)")
like "$page" 'Device gw-b' "gw-b's page names gw-b"
unlike "$page" 'Device gw-a' "  ... and not gw-a"
ok "gw-a's channels went to gw-a's target" \
    grep -Eq "gw-a: channel [0-9]+: connecting to 127\\.0\\.0\\.1:$PORT_gw_a\$" agent.log
ok "gw-b's channels went to gw-b's target" \
    grep -Eq "gw-b: channel [0-9]+: connecting to 127\\.0\\.0\\.1:$PORT_gw_b\$" agent.log
ok "  ... and never to the other's" \
    sh -c "! grep -Eq 'gw-a: channel .*:$PORT_gw_b\$|gw-b: channel .*:$PORT_gw_a\$' agent.log"
c -o /dev/null "$(url gw-a /only-a)"
c -o /dev/null "$(url gw-b /only-b)"
ok "gw-a's web server saw gw-a's request" grep -q '^GET /only-a ' gw-a.log
ok "  ... and not gw-b's" sh -c '! grep -q "^GET /only-b " gw-a.log'
ok "gw-b's web server saw gw-b's request" grep -q '^GET /only-b ' gw-b.log
ok "  ... and not gw-a's" sh -c '! grep -q "^GET /only-a " gw-b.log'
out=$(c -o /dev/null -o /dev/null -w '%{http_code} ' "$(url gw-a /index.html)" \
    "$(url gw-b /index.html)")
is "$out" "200 200 " "both in one curl run"

# --- a port outside the allow-list ----------------------------------------------
head=$(c -D - -o page.html "$(url gw-c /)")
is "$(sed -n '1s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p' <<<"$head" | tr -d '\r')" 502 \
    "gw-c has no web port in its allow-list: 502"
like "$(cat page.html)" "does not forward its web port" \
    "  ... a page that names NOT_FORWARDED"
ok "  ... the agent refused port 80 without connecting" \
    grep -Eq 'gw-c: channel [0-9]+: port 80 is not in the allow-list' agent.log
ok "  ... and the reflector logged the 502" log_has 'device gw-c: 502 for 127\.0\.0\.1'
ok "gw-c's tunnel is still up" sh -c "! grep -q 'device gw-c offline' '$TRASH/reflectord.log'"
is "$(c "$(url gw-a /index.html)")" "$(cat www-gw-a/index.html)" \
    "gw-a is not disturbed by gw-c's refusal"

# --- one device's web server stops -------------------------------------------------
kill "$PID_gw_b" && wait "$PID_gw_b" 2>/dev/null
code=$(c -o page.html -w '%{http_code}' "$(url gw-b /index.html)")
is "$code" 502 "gw-b's web server is down: 502"
like "$(cat page.html)" 'refused the connection|could not reach' "  ... saying why"
is "$(c "$(url gw-a /index.html)")" "$(cat www-gw-a/index.html)" \
    "gw-a still serves its page"
unlike "$(cat reflectord.log)" 'device gw-(a|b|c) offline' "no tunnel went down"

ok "the agent is still there" kill -0 "$APID"
ok "reflectord is still there" kill -0 "$RF_PID"
done_testing
