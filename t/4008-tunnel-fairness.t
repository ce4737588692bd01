#!/usr/bin/env bash
#
# Fairness on one device tunnel (reflector-webtunnel(7)).  A browser asks
# for a 64 MB body through the reflector and stops reading
# (t/lib/slow-reader.py); meanwhile curl downloads 50 MB from the same
# device on a second channel.  With our agent and the extension, the second
# download completes in a bounded time with the right checksum, and the
# stalled reader is still alive afterwards and gets its whole body when it
# reads again.  With a plain-protocol agent (t/lib/wt-agent.py relay, which
# behaves as the stock one does) the documented behaviour holds: the
# stalled reader stops the whole tunnel, so the second download waits; once
# the stalled reader goes away, it completes, and nothing deadlocks.
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

AGENT=$RF_BUILD/agent/reflector-agent
CTL=$RF_BUILD/server/reflectorctl
need "$AGENT" "$CTL" "$RF_BUILD/t/helpers/device-httpd" python3 curl

make_certs "$TRASH/tls" dev1.localhost dev2.localhost >/dev/null 2>&1 ||
	bail "scripts/mkcert failed"
PASSWORD='correct horse'
user_hash "$PASSWORD" || bail "reflectorctl hash-password failed"
device_secret dev2 || bail "reflectorctl new-device-secret failed"
SECRET2=$DEV_SECRET HASH2=$DEV_HASH
device_secret dev1 || bail "reflectorctl new-device-secret failed"
cat >extra.yml <<EOT
devices:
  - id: dev1
    secret: "$DEV_HASH"
  - id: dev2
    secret: "$HASH2"
users:
  - name: alice
    password: "$USER_HASH"
    devices: [dev1, dev2]
EOT
WORKERS=2 write_config reflector.yml extra.yml || bail "cannot write the config"
start_reflectord || bail "reflectord did not start"

mkdir -p www
head -c 64M /dev/urandom >www/big.bin || bail "cannot make the 64 MB file"
head -c 50M /dev/urandom >www/f50.bin || bail "cannot make the 50 MB file"
echo "small page" >www/small.txt
BIG_SUM=$(sha256sum <www/big.bin | cut -d' ' -f1)
F50_SUM=$(sha256sum <www/f50.bin | cut -d' ' -f1)
start_device_httpd www || bail "device-httpd did not start"

# stall DEVICE OUT: a browser that asks DEVICE for big.bin and stops
# reading after a little of it; sets SLOW_PID.
stall() {
	python3 "$RF_TOP/t/lib/slow-reader.py" "$HTTPS_PORT" "$TRASH/tls/ca.pem" \
	    "$1.localhost" /big.bin "alice:$PASSWORD" >"$2" 2>&1 &
	SLOW_PID=$!
	track_pid "$SLOW_PID"
	wait_for 15 grep -q '^stalled' "$2"
}
# fetch DEVICE OUT: curl downloads f50.bin from DEVICE into OUT, in the
# background; sets FETCH_PID.
fetch() {
	ucurl "alice:$PASSWORD" -o "$2" \
	    "https://$1.localhost:$HTTPS_PORT/f50.bin" 2>"$2.err" &
	FETCH_PID=$!
	track_pid "$FETCH_PID"
}
# gone PID: the process has exited.
gone() { ! kill -0 "$1" 2>/dev/null; }
size() { stat -c %s "$1" 2>/dev/null || echo 0; }

# --- with the extension: our agent -----------------------------------------
agent_yml agent.yml dev1 default "$DEV_SECRET" "http: $DPORT"
spawn "$AGENT" -f -c agent.yml
ok "our agent comes online with the extension" \
    wait_for 15 log_has 'device dev1 online .*extension 1'

ok "a browser asks dev1 for 64 MB and stops reading" stall dev1 slow1.out
sleep 1
start=$(date +%s%N)
fetch dev1 fast1.bin
ok "  ... a second channel of dev1 downloads 50 MB meanwhile, within 30 s" \
    wait_for 30 gone "$FETCH_PID"
ms=$((($(date +%s%N) - start) / 1000000))
wait "$FETCH_PID"
is "$?" 0 "  ... curl succeeded"
is "$(sha256sum <fast1.bin | cut -d' ' -f1)" "$F50_SUM" \
    "  ... with the right checksum ($ms ms)"
ok "  ... and the stalled reader is still there" kill -0 "$SLOW_PID"
unlike "$(cat slow1.out)" '^(eof|done)' "  ... still waiting for the rest"
kill -USR1 "$SLOW_PID"
ok "when it reads again, the stalled reader gets all 64 MB" \
    wait_for 60 grep -q '^done' slow1.out
like "$(cat slow1.out)" "^done 67108864 $BIG_SUM\$" "  ... with the right checksum"

# --- the plain protocol: a stock-like agent --------------------------------
WT_HTTP_PORT=$DPORT python3 "$RF_TOP/t/lib/wt-agent.py" 127.0.0.1 "$HTTPS_PORT" "$TRASH/tls/ca.pem" \
    dev2 default "$SECRET2" relay >relay.out 2>&1 &
RELAY_PID=$!
track_pid "$RELAY_PID"
ok "a plain-protocol agent comes online" \
    wait_for 15 log_has 'device dev2 online .*plain protocol'
ok "a browser asks dev2 for 64 MB and stops reading" stall dev2 slow2.out
sleep 1
fetch dev2 fast2.bin
sleep 3
ok "  ... so the whole tunnel waits: the 50 MB download does not finish" \
    kill -0 "$FETCH_PID"
n=$(size fast2.bin)
ok "  ... it has less than 50 MB ($n bytes)" test "$n" -lt 52428800
kill "$SLOW_PID"
ok "once the stalled reader goes away, the download completes within 60 s" \
    wait_for 60 gone "$FETCH_PID"
wait "$FETCH_PID"
is "$?" 0 "  ... curl succeeded"
is "$(sha256sum <fast2.bin | cut -d' ' -f1)" "$F50_SUM" "  ... with the right checksum"
ok "  ... and the plain agent is still online" kill -0 "$RELAY_PID"
out=$(ucurl "alice:$PASSWORD" --max-time $((10 * MULT)) \
    "https://dev2.localhost:$HTTPS_PORT/small.txt")
is "$out" "small page" "  ... and the tunnel still carries requests"

unlike "$(cat "$TRASH/reflectord.log")" 'killed by signal|exited with status [^0]' \
    "no worker died of anything above"
ok "TERM stops it with status 0" stop_reflectord
done_testing
