#!/usr/bin/env bash
#
# reflector-client with real OpenSSH, end to end on loopback: an
# unprivileged sshd of the test's own (its own host key, the test's user
# key) is the device's "ssh" port behind the real reflector-agent, with
# the real reflectord (2 workers) in between.  ssh through a -L forward,
# through -C (ssh run by the client, %p its port, its exit status passed
# on), through ProxyCommand (-W) and through the "ssh" wrapper (host key
# recorded under the device's name); scp of 50 MB both ways with matching
# checksums (the throughput goes to the TAP comments); two ssh sessions at
# once to the same device; a web server on the device through -L with
# curl; Bearer with a token from /my-devices/api/token; the "vnc" wrapper
# with a stand-in viewer.
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

AGENT=$RF_BUILD/agent/reflector-agent
CLIENT=$RF_BUILD/agent/reflector-client
CTL=$RF_BUILD/server/reflectorctl
HTTPD=$RF_BUILD/t/helpers/device-httpd
SSHD=/usr/sbin/sshd
need "$AGENT" "$CLIENT" "$CTL" "$HTTPD"
[ -x "$SSHD" ] || skip_all "no $SSHD: apt-get install openssh-server"
for prog in ssh scp ssh-keygen curl; do
	command -v "$prog" >/dev/null || skip_all "$prog not installed"
done
# As root, sshd wants its privilege separation directory (made at boot by
# the package, which a container may not have had).
if [ "$(id -u)" -eq 0 ] && [ ! -d /run/sshd ]; then
	mkdir -p -m 755 /run/sshd || skip_all "cannot make /run/sshd"
fi

# --- the "device": sshd and a web server on loopback ---------------------
SSH_PORT=$(free_port) && HPORT=$(free_port) || bail "no free port"
ssh-keygen -q -t ed25519 -N '' -f ssh_host_ed25519_key ||
	bail "ssh-keygen (host key) failed"
ssh-keygen -q -t ed25519 -N '' -f id_ed25519 || bail "ssh-keygen (user key) failed"
cp id_ed25519.pub authorized_keys
cat >sshd_config <<EOT
ListenAddress 127.0.0.1:$SSH_PORT
HostKey $TRASH/ssh_host_ed25519_key
AuthorizedKeysFile $TRASH/authorized_keys
PidFile $TRASH/sshd.pid
UsePAM no
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
LogLevel VERBOSE
EOT
"$SSHD" -t -f sshd_config 2>sshd-t.err ||
	skip_all "sshd refuses the test's configuration: $(head -n 1 sshd-t.err)"
spawn "$SSHD" -D -e -f "$TRASH/sshd_config"
SSHD_LOG=$TRASH/spawn.$((${#_tap_pids[@]} - 1)).log
wait_for 10 grep -q "Server listening on 127.0.0.1 port $SSH_PORT" "$SSHD_LOG" ||
	bail "sshd did not start: $(tail -n 3 "$SSHD_LOG")"

mkdir -p www
printf '<!DOCTYPE html>\n<html><body><h1>Device dev1</h1></body></html>\n' >www/index.html
head -c 3M /dev/urandom >www/blob.bin
spawn "$HTTPD" -p "$HPORT" -d www -l device.log
wait_for 5 grep -q listening "$TRASH/spawn.$((${#_tap_pids[@]} - 1)).log" ||
	bail "device-httpd did not start"

# --- the reflector and the agent -------------------------------------------
start_dev1_reflector
agent_yml agent.yml dev1 default "$DEV_SECRET" "ssh: $SSH_PORT, http: $HPORT"
spawn "$AGENT" -f -c agent.yml
ok "the device's agent connects" wait_for 15 log_has 'device dev1 online'

# --- how everything below runs ----------------------------------------------
unset REFLECTOR_TOKEN http_proxy
export REFLECTOR_USER=alice REFLECTOR_PASSWORD=$PASSWORD
export HOME=$TRASH/home XDG_CONFIG_HOME=
mkdir -p "$HOME"
ME=$(id -un)
R=https://localhost:$HTTPS_PORT/
RC_ARGS=(-c "$TRASH/tls/ca.pem" -r "$R")
SSH_OPTS=(-F /dev/null -o StrictHostKeyChecking=accept-new
    -o "UserKnownHostsFile=$TRASH/known_hosts" -o BatchMode=yes
    -o LogLevel=ERROR -i "$TRASH/id_ed25519")
PROXY="$CLIENT -c $TRASH/tls/ca.pem -r $R -W %h:%p"
T=$((60 * MULT))

# forward_start NAME ARGS...: a background "reflector-client -L 0 ARGS";
# sets FWD_PID and FWD_PORT (the port it printed).
forward_start() {
	local name=$1
	shift
	"$CLIENT" "${RC_ARGS[@]}" -L 0 "$@" >"$name.port" 2>"$name.err" &
	FWD_PID=$!
	track_pid "$FWD_PID"
	wait_for 10 test -s "$name.port"
	FWD_PORT=$(head -n 1 "$name.port")
	[ -n "$FWD_PORT" ]
}

# --- ssh through a -L forward -------------------------------------------------
ok "a -L 0 forward to the device's ssh port starts" forward_start ssh -R "$SSH_PORT" dev1
like "$FWD_PORT" '^[0-9]+$' "  ... and prints the port it chose ($FWD_PORT)"
like "$(cat ssh.err)" "forwarding 127\\.0\\.0\\.1 port $FWD_PORT to port $SSH_PORT of dev1\\.localhost" \
    "  ... and says what it forwards"
out=$(timeout "$T" ssh "${SSH_OPTS[@]}" -o HostKeyAlias=dev1.localhost \
    -p "$FWD_PORT" "$ME@127.0.0.1" echo hello 2>ssh-L.err)
is "$out" hello "ssh through the forward runs 'echo hello' on the device"
ok "  ... the reflector logged the tunnel for alice" \
    log_has "client tunnel to dev1 port $SSH_PORT for \"alice\" from .* opened"
ok "  ... and sshd the login by key" \
    grep -q "Accepted publickey for $ME from 127.0.0.1" "$SSHD_LOG"

# --- two sessions at once through the same forward ------------------------------
timeout "$T" ssh "${SSH_OPTS[@]}" -o HostKeyAlias=dev1.localhost \
    -p "$FWD_PORT" "$ME@127.0.0.1" "echo started >$TRASH/a.started; sleep 3; echo one" \
    >a.out 2>a.err &
A_PID=$!
wait_for 20 test -s a.started
out=$(timeout "$T" ssh "${SSH_OPTS[@]}" -o HostKeyAlias=dev1.localhost \
    -p "$FWD_PORT" "$ME@127.0.0.1" echo two 2>b.err)
is "$out" two "a second ssh session runs while the first is still open"
ok "  ... the first one is still running then" kill -0 "$A_PID"
wait "$A_PID"
is "$?" 0 "  ... and ends well"
is "$(cat a.out)" one "  ... with its own output"
kill "$FWD_PID" 2>/dev/null
wait "$FWD_PID" 2>/dev/null

# --- -C: the client runs ssh ----------------------------------------------------
out=$(timeout "$T" "$CLIENT" "${RC_ARGS[@]}" -L 0 -R "$SSH_PORT" -C ssh dev1 -- \
    "${SSH_OPTS[@]}" -o HostKeyAlias=dev1.localhost -p %p "$ME@127.0.0.1" \
    'echo "hello via -C on $REFLECTOR_LOCAL_PORT"' 2>C.err)
like "$out" '^hello via -C on $' "-C ssh ... -p %p: the command runs through the forward"
out=$(timeout "$T" "$CLIENT" "${RC_ARGS[@]}" -L 0 -R "$SSH_PORT" -C sh dev1 -- \
    -c 'echo "port %p $REFLECTOR_LOCAL_PORT"; exit 7' 2>C2.err)
rc=$?
is "$rc" 7 "-C: the client exits with the command's status"
like "$out" '^port ([0-9]+) \1$' "  ... %p and REFLECTOR_LOCAL_PORT are the local port"
out=$(timeout "$T" "$CLIENT" "${RC_ARGS[@]}" -L 0 -R "$SSH_PORT" -C ssh -- \
    "${SSH_OPTS[@]}" -o HostKeyAlias=dev1.localhost -p %p "$ME@127.0.0.1" \
    echo stock-order dev1 2>C3.err)
is "$out" stock-order "  ... the stock order (-C cmd -- args... device) works too"

# --- ProxyCommand: -W -----------------------------------------------------------
out=$(timeout "$T" ssh "${SSH_OPTS[@]}" -o "ProxyCommand=$PROXY" -p "$SSH_PORT" \
    "$ME@dev1.localhost" echo hello 2>ssh-W.err)
is "$out" hello "ssh -o ProxyCommand='reflector-client -W %h:%p' runs 'echo hello'"
ok "  ... ssh checked the device's host key under its name" \
    grep -Eq "^(\\[dev1\\.localhost\\]:$SSH_PORT|dev1\\.localhost) " known_hosts

# The same through a CONNECT tunnel (--connect) over TLS to the reflector.
out=$(timeout "$T" ssh "${SSH_OPTS[@]}" -o "ProxyCommand=$PROXY --connect" -p "$SSH_PORT" \
    "$ME@dev1.localhost" echo hello-connect 2>ssh-K.err)
is "$out" hello-connect "ssh -o ProxyCommand='reflector-client --connect -W %h:%p': CONNECT over TLS"
ok "  ... the reflector saw a CONNECT" \
    log_has 'CONNECT to dev1:[0-9]+ for "alice" from 127\.0\.0\.1:[0-9]+: established'
# A CA that did not sign the reflector's certificate: a clear refusal.
mkdir -p otherca
"$RF_TOP/scripts/mkcert" otherca >/dev/null 2>&1 || bail "scripts/mkcert failed"
out=$(timeout "$T" "$CLIENT" -c otherca/ca.pem -r "$R" --connect -W "dev1:$SSH_PORT" \
    </dev/null 2>K-ca.err)
rc=$?
isnt "$rc" 0 "--connect with a CA that does not vouch for the reflector: non-zero exit"
like "$(cat K-ca.err)" 'certificate of localhost:[0-9]+ is not trusted.*-c or ca_file' \
    "  ... saying the certificate is not trusted"

# --- -P: through an HTTP CONNECT proxy (tinyproxy) -------------------------------
if [ -x "$TINYPROXY" ]; then
	start_tinyproxy open || bail "tinyproxy did not start"
	OPEN_PROXY=http://127.0.0.1:$TP_PORT
	start_tinyproxy auth 'BasicAuth proxyuser proxy-pw' || bail "tinyproxy did not start"
	AUTH_PROXY=http://127.0.0.1:$TP_PORT
	out=$(timeout "$T" ssh "${SSH_OPTS[@]}" -o "ProxyCommand=$PROXY -P $OPEN_PROXY" \
	    -p "$SSH_PORT" "$ME@dev1.localhost" echo hello-proxy 2>ssh-P.err)
	is "$out" hello-proxy "ProxyCommand with -P: ssh through tinyproxy and the reflector"
	ok "  ... tinyproxy carried it" grep -q "CONNECT localhost:$HTTPS_PORT" open.log
	out=$(timeout "$T" "$CLIENT" "${RC_ARGS[@]}" --connect -P "$OPEN_PROXY" \
	    -W "dev1:$SSH_PORT" </dev/null 2>PK.err)
	rc=$?
	isnt "$rc" 0 "  ... --connect with -P is refused (not supported yet)"
	like "$(cat PK.err)" 'leave out --connect' "  ... saying what to do instead"
	mkdir -p "$HOME/pc"
	printf 'proxy:\n  url: %s\n  username: proxyuser\n  password: proxy-pw\n' \
	    "$AUTH_PROXY" >"$HOME/pc/client.yml"
	chmod 600 "$HOME/pc/client.yml"
	out=$(timeout "$T" ssh "${SSH_OPTS[@]}" \
	    -o "ProxyCommand=$PROXY -F $HOME/pc/client.yml" -p "$SSH_PORT" \
	    "$ME@dev1.localhost" echo hello-auth-proxy 2>ssh-P2.err)
	is "$out" hello-auth-proxy "  ... and through a proxy with BasicAuth, credentials from client.yml"
	ok "  ... which tinyproxy let through" grep -q "CONNECT localhost:$HTTPS_PORT" auth.log
	out=$(timeout "$T" "$CLIENT" "${RC_ARGS[@]}" -P "$AUTH_PROXY" -W "dev1:$SSH_PORT" \
	    </dev/null 2>P-noauth.err)
	rc=$?
	isnt "$rc" 0 "-P to a proxy that wants credentials, without them: non-zero exit"
	like "$(cat P-noauth.err)" 'proxy' "  ... naming the proxy: $(head -n 1 P-noauth.err)"
else
	skip "$TINYPROXY is missing (Debian package tinyproxy): -P is not tested" 8
fi

# --- the ssh wrapper --------------------------------------------------------------
out=$(timeout "$T" "$CLIENT" "${RC_ARGS[@]}" -R "$SSH_PORT" ssh "$ME@dev1" \
    "${SSH_OPTS[@]}" echo hello-wrapper 2>wrapper.err)
is "$out" hello-wrapper "reflector-client ssh user@dev1 runs the system's ssh through itself"
ok "  ... with the host key under HostKeyAlias dev1.localhost" \
    grep -q "^dev1\\.localhost " known_hosts
nok "  ... the password never was on a command line" \
    grep -rqs -- "$PASSWORD" wrapper.err
# A known_hosts that holds another key for the device: ssh must refuse.
ssh-keygen -q -t ed25519 -N '' -f other_host_key || bail "ssh-keygen failed"
printf 'dev1.localhost %s\n' "$(cut -d' ' -f1,2 other_host_key.pub)" >known_hosts.wrong
# (ssh takes the first value of an option: SSH_OPTS's would win.)
out=$(timeout "$T" "$CLIENT" "${RC_ARGS[@]}" -R "$SSH_PORT" ssh "$ME@dev1" \
    -F /dev/null -o "UserKnownHostsFile=$TRASH/known_hosts.wrong" \
    -o StrictHostKeyChecking=yes -o BatchMode=yes -i "$TRASH/id_ed25519" \
    echo should-not-run 2>wrongkey.err)
rc=$?
ok "  ... and a device whose host key changed is refused by ssh (exit $rc)" \
    test "$rc" -ne 0 -a -z "$out"
like "$(cat wrongkey.err)" 'IDENTIFICATION HAS CHANGED|Host key verification failed' \
    "  ... ssh saying why"

# --- scp: 50 MB both ways ----------------------------------------------------------
head -c 50M /dev/urandom >big.bin || bail "cannot make the 50 MB file"
BIG_SUM=$(sha256sum <big.bin | cut -d' ' -f1)
mkdir -p remote
t0=$(date +%s%N)
ok "scp of 50 MB to the device through ProxyCommand" \
    timeout $((300 * MULT)) scp -q "${SSH_OPTS[@]}" -o "ProxyCommand=$PROXY" \
    -P "$SSH_PORT" big.bin "$ME@dev1.localhost:$TRASH/remote/big.bin"
t1=$(date +%s%N)
is "$(sha256sum <remote/big.bin | cut -d' ' -f1)" "$BIG_SUM" "  ... arrives with the same checksum"
ok "scp of 50 MB from the device" \
    timeout $((300 * MULT)) scp -q "${SSH_OPTS[@]}" -o "ProxyCommand=$PROXY" \
    -P "$SSH_PORT" "$ME@dev1.localhost:$TRASH/remote/big.bin" back.bin
t2=$(date +%s%N)
is "$(sha256sum <back.bin | cut -d' ' -f1)" "$BIG_SUM" "  ... arrives with the same checksum"
up=$(( (t1 - t0) / 1000000 )) down=$(( (t2 - t1) / 1000000 ))
diag "scp 50 MB up: ${up} ms ($((50 * 1000 / (up > 0 ? up : 1))) MB/s)," \
    "down: ${down} ms ($((50 * 1000 / (down > 0 ? down : 1))) MB/s)"
rm -f big.bin back.bin remote/big.bin

# --- a web server on the device, with curl ------------------------------------------
ok "a -L forward to the device's web port starts" forward_start web -R "$HPORT" dev1
is "$(curl -sS --max-time 20 "http://127.0.0.1:$FWD_PORT/index.html")" \
    "$(cat www/index.html)" "curl through the forward gets the device's page"
curl -sS --max-time 60 -o blob.out "http://127.0.0.1:$FWD_PORT/blob.bin"
ok "  ... and 3 MB with the same bytes" cmp www/blob.bin blob.out
is "$(curl -sS --max-time 20 "http://127.0.0.1:$FWD_PORT/index.html" \
    "http://127.0.0.1:$FWD_PORT/index.html" | grep -c 'Device dev1')" 2 \
    "  ... again, two requests on one connection"
kill "$FWD_PID" 2>/dev/null
wait "$FWD_PID" 2>/dev/null

# --- Bearer: a token from the token endpoint ------------------------------------------
json=$(curl -sS --max-time 20 --cacert tls/ca.pem --data-urlencode username=alice \
    --data-urlencode "password=$PASSWORD" --data-urlencode application=test \
    "https://localhost:$HTTPS_PORT/my-devices/api/token")
TOKEN=$(json_field "$json" token)
if [ -n "$TOKEN" ]; then
	out=$(printf 'GET /index.html HTTP/1.0\r\n\r\n' |
	    env -u REFLECTOR_USER -u REFLECTOR_PASSWORD REFLECTOR_TOKEN="$TOKEN" \
	    timeout "$T" "$CLIENT" "${RC_ARGS[@]}" -W "dev1:$HPORT" 2>token.err)
	like "$out" 'Device dev1' "REFLECTOR_TOKEN: Bearer with a token from /my-devices/api/token"
else
	skip "the token endpoint gave no token: $json"
fi

# --- the vnc wrapper, with a stand-in viewer ---------------------------------------------
cat >viewer <<'EOT'
#!/bin/sh
# A "VNC viewer" that fetches the page through the forward it is given.
port=${1##*::}
curl -sS --max-time 20 "http://127.0.0.1:$port/index.html" >"$(dirname "$0")/viewer.out"
EOT
chmod +x viewer
out=$(REFLECTOR_VNC_VIEWER=$TRASH/viewer timeout "$T" "$CLIENT" "${RC_ARGS[@]}" \
    -R "$HPORT" vnc dev1 2>vnc.err)
is "$?" 0 "reflector-client vnc runs the viewer on a forward and exits with its status"
is "$(cat viewer.out 2>/dev/null)" "$(cat www/index.html)" \
    "  ... the viewer was given 127.0.0.1::<port> of a working forward"

ok "reflectord is still there" kill -0 "$RF_PID"
ok "sshd is still there" kill -0 "$(cat sshd.pid)"
done_testing
