#!/usr/bin/env bash
#
# The reflector goes away under a connected agent and comes back: with
# dev1 online and a page of it working, reflectord is stopped with TERM;
# the agent logs the loss and keeps retrying with backoff bounded by
# reconnect_max (2 s, plus at most 50 % jitter); reflectord is started again
# on the same port, and dev1 comes back online on its own within 15 s and
# its page works again.  The agent never restarts.
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

AGENT=$RF_BUILD/agent/reflector-agent
CTL=$RF_BUILD/server/reflectorctl
HTTPD=$RF_BUILD/t/helpers/device-httpd
need "$AGENT" "$CTL" "$HTTPD" curl

make_certs "$TRASH/tls" dev1.localhost >/dev/null 2>&1 || bail "scripts/mkcert failed"
hash_of() { printf '%s\n' "$1" | "$CTL" hash-password; }
PASSWORD='correct horse'
user_hash=$(hash_of "$PASSWORD") && dev_hash=$(hash_of s3cret-dev1) ||
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
FIRST_PID=$RF_PID

DPORT=$(free_port) || bail "no free port"
mkdir -p www
printf '<!DOCTYPE html>\n<html><body><h1>dev1 survives restarts</h1></body></html>\n' \
    >www/index.html
spawn "$HTTPD" -p "$DPORT" -d www -l device.log
wait_for 5 grep -q listening "$TRASH/spawn.$((${#_tap_pids[@]} - 1)).log" ||
	bail "device-httpd did not start"

{ agent_config; cat <<EOT; } >agent.yml
devices:
  - id: dev1
    password: s3cret-dev1
    ports: [http: $DPORT]
EOT
"$AGENT" -f -c agent.yml 2>agent.stderr &
APID=$!
track_pid "$APID"

online_count() { grep -c 'device dev1 online' "$TRASH/reflectord.log"; }
more_online_than() { [ "$(online_count)" -gt "$1" ]; }
agent_count() { grep -Ec -- "$1" "$TRASH/agent.log"; }
at_least() { [ "$(agent_count "$1")" -ge "$2" ]; }
page() {
	curl -sS --max-time 20 --cacert "$TRASH/tls/ca.pem" \
	    --connect-to "::127.0.0.1:" -u "alice:$PASSWORD" \
	    "https://dev1.localhost:$HTTPS_PORT/"
}

ok "dev1 comes online" wait_for 15 more_online_than 0
is "$(page)" "$(cat www/index.html)" "its page through the tunnel"

# --- reflectord goes away ----------------------------------------------------------
stop_reflectord
is "$?" 0 "reflectord stops on TERM with status 0"
ok "  ... dev1 went offline on the way out" grep -q 'device dev1 offline' reflectord.log
ok "  ... its port is closed" sh -c "test -z \"\$(ss -Htln 'sport = :$HTTPS_PORT')\""
ok "the agent logs the loss of the tunnel" \
    wait_for 10 at_least 'dev1: disconnected: .*; reconnecting in [0-9]+\.[0-9] s' 1
ok "  ... and it keeps trying: two failed attempts" \
    wait_for 10 at_least 'dev1: cannot connect to https://localhost:[0-9]+/: .*; retrying in' 2
is "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$TRASH/tls/ca.pem" \
    --connect-to "::127.0.0.1:" "https://dev1.localhost:$HTTPS_PORT/" 2>/dev/null)" 000 \
    "  ... while nothing answers on the reflector's port"
delays=$(sed -nE 's/.*dev1: (disconnected|cannot connect).*(reconnecting|retrying) in ([0-9]+\.[0-9]) s$/\3/p' \
    agent.log | tr '\n' ' ')
diag "delays between attempts: $delays"
ok "  ... no delay is longer than reconnect_max plus 50 % (3.0 s)" \
    awk -v d="$delays" 'BEGIN { n = split(d, a, " "); if (n < 3) exit 1;
	for (i = 1; i <= n; i++) if (a[i] + 0 > 3.0) exit 1 }'
ok "  ... the first is about 1 s, later ones at least 2 s (backoff)" \
    awk -v d="$delays" 'BEGIN { n = split(d, a, " ");
	if (a[1] + 0 < 1.0 || a[1] + 0 > 1.5) exit 1;
	for (i = 2; i <= n; i++) if (a[i] + 0 < 2.0) exit 1 }'
ok "the agent is still running" kill -0 "$APID"

# --- reflectord comes back on the same port --------------------------------------
n=$(online_count)
start_reflectord || bail "reflectord did not start again"
isnt "$RF_PID" "$FIRST_PID" "a new reflectord answers on the same port"
start=$SECONDS
ok "dev1 comes back online on its own within 15 s" wait_for 15 more_online_than "$n"
diag "dev1 was back $((SECONDS - start)) s after reflectord answered"
ok "  ... the agent says it is connected again" \
    wait_for 5 at_least 'dev1: connected to https://localhost' 2
is "$(page)" "$(cat www/index.html)" "its page works again"
is "$(grep -c 'starting: 1 device' agent.log)" 1 "the agent never restarted"
ok "the agent is still running" kill -0 "$APID"
ok "reflectord is still there" kill -0 "$RF_PID"
done_testing
