#!/usr/bin/env bash
#
# reflector-client's failures, each as its user meets it: a clear sentence
# on stderr and a non-zero exit, and the reflector's log saying the same.
# Against the real reflectord (2 workers) and reflector-agent, with
# device-httpd as the device's one forwarded port: a port the device does
# not forward (101, then close 1011 with the reason), a port the user's
# "ports" in reflector.yml does not grant (403), a device that is offline
# (503) or unknown (404), wrong credentials and an unknown token (401), a
# reflector or a proxy that does not answer, an untrusted certificate, no
# credentials at all, a client.yml that others may read (refused, as ssh does), a -L
# forward that stops at the first refusal of its credentials, a reflector
# that takes the connection and never answers (t/lib/fake-reflector.py
# silent: connect_timeout ends it, upgrade or CONNECT), and a CONNECT
# tunnel idle for longer than the keep-alive would allow a client tunnel
# (it has no PING, so silence is not death).  The
# stdin/stdout mode (-W) carries each case: it is what ssh's ProxyCommand
# runs.
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

AGENT=$RF_BUILD/agent/reflector-agent
CLIENT=$RF_BUILD/agent/reflector-client
CTL=$RF_BUILD/server/reflectorctl
HTTPD=$RF_BUILD/t/helpers/device-httpd
need "$AGENT" "$CLIENT" "$CTL" "$HTTPD" curl

# --- the reflector, the device, its agent ---------------------------------
make_certs "$TRASH/tls" dev1.localhost devoff.localhost nosuch.localhost \
    >/dev/null 2>&1 || bail "scripts/mkcert failed"
make_certs "$TRASH/other" >/dev/null 2>&1 || bail "scripts/mkcert failed"
PASSWORD='correct horse'
hash=$(printf '%s\n' "$PASSWORD" | "$CTL" hash-password) ||
	bail "reflectorctl hash-password failed"
device_secret dev1 || bail "reflectorctl new-device-secret failed"
HPORT=$(free_port) && NOPORT=$(free_port) && DEAD=$(free_port) &&
    SILENT=$(free_port) || bail "no free port"
cat >extra.yml <<EOT
devices:
  - id: dev1
    secret: "$DEV_HASH"
  - id: devoff
    secret: "$DEV_HASH"
users:
  - name: alice
    password: "$hash"
    devices: [dev1, devoff]
  - name: bob
    password: "$hash"
    devices: [dev1]
    ports: [$NOPORT]
EOT
WORKERS=2 write_config reflector.yml extra.yml || bail "cannot write the config"
start_reflectord || bail "reflectord did not start"

mkdir -p www
printf 'hello from dev1\n' >www/index.html
spawn "$HTTPD" -p "$HPORT" -d www -l device.log
wait_for 5 grep -q listening "$TRASH/spawn.$((${#_tap_pids[@]} - 1)).log" ||
	bail "device-httpd did not start"
agent_yml agent.yml dev1 default "$DEV_SECRET" "http: $HPORT"
spawn "$AGENT" -f -c agent.yml
ok "the device's agent connects" wait_for 15 log_has 'device dev1 online'

# Nothing from the environment or a home directory of the one running it.
unset REFLECTOR_USER REFLECTOR_PASSWORD REFLECTOR_TOKEN http_proxy
export HOME=$TRASH/home XDG_CONFIG_HOME=
mkdir -p "$HOME"
R=https://localhost:$HTTPS_PORT/
REQUEST='GET /index.html HTTP/1.0\r\n\r\n'

# run NAME [ENV=VALUE...] -- ARGS...: reflector-client with the request on
# stdin; its stdout in NAME.out, stderr in NAME.err, status in RC.  In a
# session of its own: without a terminal, it cannot ask for a password.
run() {
	local name=$1 envs=()
	shift
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	# shellcheck disable=SC2059 # the request's escapes, on purpose
	printf "$REQUEST" | env "${envs[@]}" timeout $((30 * MULT)) \
	    setsid -w "$CLIENT" "$@" >"$name.out" 2>"$name.err"
	RC=$?
}
ALICE=(REFLECTOR_USER=alice "REFLECTOR_PASSWORD=$PASSWORD")

# --- what works, for contrast ---------------------------------------------
run good "${ALICE[@]}" -- -c tls/ca.pem -r "$R" -W "dev1:$HPORT"
is "$RC" 0 "the device's web port through -W: exit 0"
like "$(cat good.out)" '^hello from dev1' "  ... with the page"

# --- a port the device does not forward ------------------------------------
run notfwd "${ALICE[@]}" -- -c tls/ca.pem -r "$R" -W "dev1:$NOPORT"
isnt "$RC" 0 "a port not in the device's allow-list: non-zero exit ($RC)"
like "$(cat notfwd.err)" "^reflector-client: dev1\\.localhost port $NOPORT: the reflector closed the tunnel: .*(forward|allow).*\\(close code 1011\\)" \
    "  ... saying the reflector closed it with 1011 and why"
ok "  ... the agent refused the port" \
    grep -Eq "dev1: channel [0-9]+: port $NOPORT is not in the allow-list" agent.log
ok "  ... and the reflector logged the close" \
    wait_for 5 log_has "client tunnel to dev1 port $NOPORT for \"alice\" .*closing with 1011"

# --- a port the reflector's policy refuses -----------------------------------
run policy REFLECTOR_USER=bob "REFLECTOR_PASSWORD=$PASSWORD" -- \
    -c tls/ca.pem -r "$R" -W "dev1:$HPORT"
isnt "$RC" 0 "a port not in the user's ports: non-zero exit ($RC)"
like "$(cat policy.err)" "access denied \\(403 Forbidden: port $HPORT .*not open to you\\)" \
    "  ... access denied, 403, with the reflector's reason"
ok "  ... and the reflector logged the refusal" \
    log_has "client tunnel to dev1 port $HPORT for \"bob\" from .* refused: 403"
run policy2 REFLECTOR_USER=bob "REFLECTOR_PASSWORD=$PASSWORD" -- \
    -c tls/ca.pem -r "$R" -W "dev1:$NOPORT"
like "$(cat policy2.err)" "close code 1011" \
    "  ... while bob's own port passes the reflector (and the agent refuses it)"

# --- devices ----------------------------------------------------------------
run offline "${ALICE[@]}" -- -c tls/ca.pem -r "$R" -W "devoff:$HPORT"
isnt "$RC" 0 "an offline device: non-zero exit ($RC)"
like "$(cat offline.err)" "device devoff is offline \\(503" "  ... saying it is offline (503)"
ok "  ... and the reflector logged it" \
    log_has "client tunnel to devoff port $HPORT .* refused: 503"
run unknown "${ALICE[@]}" -- -c tls/ca.pem -r "$R" -W "nosuch:$HPORT"
isnt "$RC" 0 "an unknown device: non-zero exit ($RC)"
like "$(cat unknown.err)" "unknown device nosuch \\(404" "  ... saying it is unknown (404)"
ok "  ... and the reflector logged it" \
    log_has "client tunnel to nosuch port $HPORT .* refused: 404"

# --- credentials --------------------------------------------------------------
run wrongpw REFLECTOR_USER=alice REFLECTOR_PASSWORD=wrong -- \
    -c tls/ca.pem -r "$R" -W "dev1:$HPORT"
isnt "$RC" 0 "a wrong password: non-zero exit ($RC)"
like "$(cat wrongpw.err)" "refused the credentials \\(401 Unauthorized" \
    "  ... saying the credentials were refused (401)"
ok "  ... and the reflector logged it" \
    log_has "client tunnel to dev1 port $HPORT for \"alice\" from .* refused: 401"
run badtoken REFLECTOR_TOKEN=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA -- \
    -c tls/ca.pem -r "$R" -W "dev1:$HPORT"
isnt "$RC" 0 "an unknown token: non-zero exit ($RC)"
like "$(cat badtoken.err)" "\\(401 Unauthorized" "  ... 401 as well"
run nocreds -- -c tls/ca.pem -r "$R" -W "dev1:$HPORT"
isnt "$RC" 0 "no credentials anywhere: non-zero exit ($RC)"
like "$(cat nocreds.err)" "no credentials: give -u user" "  ... saying where they can come from"
run noterm REFLECTOR_USER=alice -- -c tls/ca.pem -r "$R" -W "dev1:$HPORT"
isnt "$RC" 0 "a user without a password and no terminal: non-zero exit"
like "$(cat noterm.err)" "no password for alice: no terminal" "  ... saying so"

# --- the reflector itself -------------------------------------------------------
run dead "${ALICE[@]}" -- -c tls/ca.pem -r "https://localhost:$DEAD/" \
    -W "dev1:$HPORT"
isnt "$RC" 0 "a reflector that does not answer: non-zero exit ($RC)"
like "$(cat dead.err)" "cannot reach the reflector at localhost:$DEAD" "  ... saying so"
run deadproxy "${ALICE[@]}" -- -c tls/ca.pem -r "$R" -P "http://127.0.0.1:$DEAD" \
    -W "dev1:$HPORT"
isnt "$RC" 0 "a proxy that does not answer: non-zero exit ($RC)"
like "$(cat deadproxy.err)" "cannot reach the proxy at 127\\.0\\.0\\.1:$DEAD" \
    "  ... naming the proxy, not the reflector"
run untrusted "${ALICE[@]}" -- -c other/ca.pem -r "$R" -W "dev1:$HPORT"
isnt "$RC" 0 "a certificate from another CA: non-zero exit ($RC)"
like "$(cat untrusted.err)" "certificate of localhost:$HTTPS_PORT is not trusted for dev1\\.localhost \\(.*issuer" \
    "  ... saying the certificate is not trusted, and why"
run nocafile "${ALICE[@]}" -- -r "$R" -W "dev1:$HPORT"
isnt "$RC" 0 "the test CA is not in the system's store: non-zero exit ($RC)"
like "$(cat nocafile.err)" "is not trusted .*give its CA with -c" "  ... and what to do"

# A reflector that takes the connection, reads the request and never
# answers: the tunnel gives up after connect_timeout, in both protocols.
spawn python3 "$RF_TOP/t/lib/fake-reflector.py" tls/cert.pem tls/key.pem \
    "$SILENT" silent
wait_for 5 grep -q listening "$TRASH/spawn.$((${#_tap_pids[@]} - 1)).log" ||
	bail "fake-reflector.py did not start"
printf 'connect_timeout: 2s\n' >short.yml
chmod 600 short.yml
for mode in upgrade CONNECT; do
	set --
	if [ "$mode" = CONNECT ]; then set -- --connect; fi
	t0=$(date +%s)
	run "silent$mode" "${ALICE[@]}" -- -F short.yml -c tls/ca.pem \
	    -r "https://localhost:$SILENT/" "$@" -W "dev1:$HPORT"
	t1=$(date +%s)
	is "$RC" 1 "a reflector that never answers the $mode request: exit 1"
	like "$(cat "silent$mode.err")" \
	    "no answer from the reflector at localhost:$SILENT to the $mode request within 2 s \\(connect_timeout\\)" \
	    "  ... saying so, and which setting"
	ok "  ... after connect_timeout, not the test's timeout ($((t1 - t0)) s)" \
	    test $((t1 - t0)) -le $((10 * MULT))
done

unlike "$(cat reflectord.log)" 'client tunnel .* from .* opened.*(devoff|nosuch)' \
    "no refused tunnel was opened"

# --- client.yml -----------------------------------------------------------------
mkdir -p "$HOME/.config/reflector"
cat >"$HOME/.config/reflector/client.yml" <<EOT
reflector: $R
ca_file: $TRASH/tls/ca.pem
username: alice
password: "$PASSWORD"
EOT
chmod 644 "$HOME/.config/reflector/client.yml"
run openconf -- -W "dev1:$HPORT"
isnt "$RC" 0 "a client.yml that others may read: refused"
like "$(cat openconf.err)" "client\\.yml: bad permissions 0644: .*chmod 600" \
    "  ... saying so, as ssh does"
chmod 600 "$HOME/.config/reflector/client.yml"
run goodconf -- -W "dev1:$HPORT"
is "$RC" 0 "chmod 600: its reflector, CA and credentials are used"
like "$(cat goodconf.out)" '^hello from dev1' "  ... and the page comes"
printf 'reflector: %s\nusername: alice\npasword: x\n' "$R" >bad.yml
chmod 600 bad.yml
run badconf -- -F bad.yml -W "dev1:$HPORT"
isnt "$RC" 0 "a client.yml with a mistyped key: refused"
like "$(cat badconf.err)" "bad\\.yml:3:1: .*pasword" "  ... naming the file, line and key"
rm -f "$HOME/.config/reflector/client.yml"

# --- a forward stops when its credentials are refused -----------------------------
env REFLECTOR_USER=alice REFLECTOR_PASSWORD=wrong timeout $((30 * MULT)) \
    "$CLIENT" -c tls/ca.pem -r "$R" -L 0 -R "$HPORT" dev1 >fwd.out 2>fwd.err &
FWD=$!
track_pid "$FWD"
wait_for 10 test -s fwd.out
LPORT=$(head -n 1 fwd.out)
like "$LPORT" '^[0-9]+$' "-L 0 prints the port it chose ($LPORT)"
nok "a connection to the forward gets nothing" \
    curl -sS --max-time 10 "http://127.0.0.1:$LPORT/index.html"
wait "$FWD"
RC=$?
is "$RC" 1 "  ... and the forward stops with exit 1, the credentials being wrong"
like "$(cat fwd.err)" "refused the credentials \\(401" "  ... saying why"

# --- an idle CONNECT tunnel stays --------------------------------------------------
# A CONNECT tunnel is a byte stream with no PING to answer: a silence
# longer than the keep-alive's 2 x 5 s + 10 s is not a dead reflector
# (the same code serves CONNECT to an http:// reflector).
printf 'keepalive: 5s\n' >ka.yml
chmod 600 ka.yml
# shellcheck disable=SC2059 # the request's escapes, on purpose
{ sleep 24; printf "$REQUEST"; } | env "${ALICE[@]}" \
    timeout $((60 * MULT)) setsid -w "$CLIENT" -F ka.yml -c tls/ca.pem \
    -r "$R" --connect -W "dev1:$HPORT" \
    >idle.out 2>idle.err
RC=$?
is "$RC" 0 "a CONNECT tunnel idle for 24 s with keepalive 5s: exit 0"
like "$(cat idle.out)" '^hello from dev1' "  ... the request after the silence is answered"
is "$(cat idle.err)" "" "  ... with nothing on stderr"

# --- the VNC wrapper without a viewer ----------------------------------------------
run noviewer "${ALICE[@]}" REFLECTOR_VNC_VIEWER=/nonexistent/vncviewer -- \
    -c tls/ca.pem -r "$R" vnc dev1
isnt "$RC" 0 "vnc without a viewer: non-zero exit ($RC)"
like "$(cat noviewer.err)" "no VNC viewer: cannot find '/nonexistent/vncviewer'" \
    "  ... saying which viewer is missing and what to do"

ok "reflectord is still there" kill -0 "$RF_PID"
done_testing
