#!/usr/bin/env bash
#
# reflector-agent reaches the real reflectord through a real HTTP CONNECT
# proxy (tinyproxy, two instances on loopback: one open, one with
# BasicAuth): through the open proxy the device comes online and tinyproxy
# logs the CONNECT, and a page of the device's web server (device-httpd)
# comes back through the tunnel to curl with a user's Basic credentials;
# through the proxy with BasicAuth the right credentials bring the device
# online, while wrong ones, or none, leave it offline and the agent logs
# that the proxy refused the CONNECT; a proxy that is not there is named
# as the one that cannot be reached.
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

AGENT=$RF_BUILD/agent/reflector-agent
CTL=$RF_BUILD/server/reflectorctl
HTTPD=$RF_BUILD/t/helpers/device-httpd
need "$AGENT" "$CTL" "$HTTPD"
[ -x "$TINYPROXY" ] ||
	skip_all "$TINYPROXY is missing (Debian package tinyproxy, see scripts/packages)"
command -v curl >/dev/null || skip_all "curl not installed"

# --- the reflector and the device's web server --------------------------------
make_certs "$TRASH/tls" dev1.localhost >/dev/null 2>&1 || bail "scripts/mkcert failed"
hash_of() { printf '%s\n' "$1" | "$CTL" hash-password; }
PASSWORD='correct horse'
DEV_SECRET=s3cret-dev1
user_hash=$(hash_of "$PASSWORD") && dev_hash=$(hash_of "$DEV_SECRET") ||
	bail "reflectorctl hash-password failed"
cat >extra.yml <<EOT
devices:
  - id: dev1
    secret: "$dev_hash"
users:
  - name: alice
    password: "$user_hash"
    devices: [dev1]
EOT
write_config reflector.yml extra.yml || bail "cannot write the config"
start_reflectord || bail "reflectord did not start"

DPORT=$(free_port) || bail "no free port"
mkdir -p www
printf '<!DOCTYPE html>\n<html><body><h1>dev1 behind a proxy</h1></body></html>\n' \
    >www/index.html
spawn "$HTTPD" -p "$DPORT" -d www -l device.log
wait_for 5 grep -q listening "$TRASH/spawn.$((${#_tap_pids[@]} - 1)).log" ||
	bail "device-httpd did not start"

# --- two tinyproxies: open, and with BasicAuth --------------------------------
start_tinyproxy open || bail "tinyproxy did not start"
OPEN_PORT=$TP_PORT
start_tinyproxy auth 'BasicAuth proxyuser proxy-pw' || bail "tinyproxy did not start"
AUTH_PORT=$TP_PORT

# --- the agent, with one proxy section or another ----------------------------
# run_agent NAME PROXY_YAML: starts the agent with its log in $TRASH/NAME.log;
# sets APID.
run_agent() {
	{ agent_config "$TRASH/$1.log"; cat <<EOT; } >"$1.yml"
$2
devices:
  - id: dev1
    password: "$DEV_SECRET"
    ports: [http: $DPORT]
EOT
	"$AGENT" -f -c "$TRASH/$1.yml" 2>"$TRASH/$1.stderr" &
	APID=$!
	track_pid "$APID"
}
stop_agent() {
	_kill_wait TERM $((10 * MULT)) "$APID" || kill -KILL "$APID" 2>/dev/null
	wait "$APID" 2>/dev/null
}
online_count() { grep -c 'device dev1 online' "$TRASH/reflectord.log"; }
more_online_than() { [ "$(online_count)" -gt "$1" ]; }
# offline_now: every time dev1 came online, it went offline again.
offline_now() {
	[ "$(grep -Ec 'device dev1 (online|offline)' "$TRASH/reflectord.log")" -eq \
	    "$(($(online_count) * 2))" ]
}
connects_in() { grep -c "CONNECT localhost:$HTTPS_PORT " "$TRASH/$1.log"; }

c() {
	curl -sS --max-time 20 --cacert "$TRASH/tls/ca.pem" \
	    --connect-to "::127.0.0.1:" "$@"
}

# 1. The open proxy, no credentials in the agent.
n=$(online_count)
run_agent agent-open "proxy:
  url: http://127.0.0.1:$OPEN_PORT"
ok "through the open proxy: the device comes online" wait_for 15 more_online_than "$n"
ok "  ... tinyproxy logged the agent's CONNECT to the reflector" \
    grep -Eq "Request \\(file descriptor [0-9]+\\): CONNECT localhost:$HTTPS_PORT HTTP/1\\.1" \
    "$TRASH/open.log"
ok "  ... the agent says it is connected" grep -q 'dev1: connected to' agent-open.log
is "$(c -u "alice:$PASSWORD" "https://dev1.localhost:$HTTPS_PORT/index.html")" \
    "$(cat www/index.html)" "  ... a page of the device through the tunnel"
code=$(c -o /dev/null -w '%{http_code}' -u 'alice:wrong' \
    "https://dev1.localhost:$HTTPS_PORT/index.html")
is "$code" 403 "  ... and a wrong user password still gets 403"
is "$(connects_in auth)" 0 "  ... the other proxy was not used"
stop_agent
ok "the agent stops; the device goes offline" wait_for 10 offline_now

# 2. The proxy with BasicAuth, the right credentials.
n=$(online_count)
run_agent agent-auth "proxy:
  url: http://127.0.0.1:$AUTH_PORT
  username: proxyuser
  password: proxy-pw"
ok "through the proxy with BasicAuth and the right credentials: online" \
    wait_for 15 more_online_than "$n"
ok "  ... tinyproxy logged the CONNECT" \
    grep -Eq "CONNECT localhost:$HTTPS_PORT HTTP/1\\.1" "$TRASH/auth.log"
is "$(c -u "alice:$PASSWORD" "https://dev1.localhost:$HTTPS_PORT/index.html")" \
    "$(cat www/index.html)" "  ... a page of the device through the tunnel"
unlike "$(cat agent-auth.log)" 'proxy refused' "  ... and no proxy error"
stop_agent
ok "the agent stops; the device goes offline" wait_for 10 offline_now

# 3. The proxy with BasicAuth, a wrong password; 4. no credentials at all.
for case in wrong:"proxy:
  url: http://127.0.0.1:$AUTH_PORT
  username: proxyuser
  password: not-the-password" none:"proxy:
  url: http://127.0.0.1:$AUTH_PORT"; do
	name=${case%%:*}
	n=$(online_count)
	before=$(connects_in auth)
	run_agent "agent-$name" "${case#*:}"
	ok "$name credentials: the agent logs that the proxy refused the CONNECT" \
	    wait_for 10 grep -q 'dev1: cannot connect to .*the proxy refused the CONNECT' \
	    "agent-$name.log"
	like "$(grep 'proxy refused' "agent-$name.log" | head -n 1)" \
	    'check proxy\.username and proxy\.password.*retrying in' \
	    "  ... naming the settings to check, and retrying"
	# Several attempts (backoff 1 s, 2 s): every one refused.
	wait_for 6 sh -c "test \$(grep -c 'proxy refused the CONNECT' $TRASH/agent-$name.log) -ge 2"
	ok "  ... it tried through the proxy again" \
	    test "$(connects_in auth)" -ge $((before + 2))
	is "$(online_count)" "$n" "  ... and the device never came online"
	code=$(c -o /dev/null -w '%{http_code}' -u "alice:$PASSWORD" \
	    "https://dev1.localhost:$HTTPS_PORT/index.html")
	is "$code" 503 "  ... its page is 503 (device offline)"
	stop_agent
	ok "  ... the agent still stops with status 0" test "$?" -eq 0
done
# 5. A proxy that is not there: the agent names it, not the reflector.
DEAD=$(free_port) || bail "no free port"
run_agent agent-dead "proxy:
  url: http://127.0.0.1:$DEAD"
ok "a proxy that does not answer: the agent names the proxy" \
    wait_for 10 grep -q "dev1: cannot connect to .*: cannot reach the proxy at 127\\.0\\.0\\.1:$DEAD: .*retrying in" \
    agent-dead.log || diag "$(tail -n 5 agent-dead.log)"
stop_agent
ok "  ... and still stops with status 0" test "$?" -eq 0

unlike "$(cat "$TRASH/open.log" "$TRASH/auth.log")" \
    "CONNECT 127\\.0\\.0\\.1:$DPORT|CONNECT [^ ]*:$DPORT " \
    "the device's own connections never went through a proxy"

ok "reflectord is still there" kill -0 "$RF_PID"
done_testing
