#!/usr/bin/env bash
#
# A plain tunnel's clocks stop while it is paused (reflector.yml(5):
# limits.channel_open_timeout and limits.device_idle_timeout).  With a
# stock-like agent (t/lib/wt-agent.py relay), a browser that stops reading
# pauses the whole tunnel: the reflector reads nothing from it, so neither
# an OPEN_CONFIRM nor a keep-alive can arrive.  A request that opens a
# channel meanwhile must not end in a 504 once channel_open_timeout is
# over, and the tunnel must not be dropped as silent; once the reader goes
# on, both are served.  Once the tunnel reads again, its silence clock runs
# again: the relay agent sends no PINGs, so it is dropped when it is over.
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

need "$RF_BUILD/server/reflectorctl" "$RF_BUILD/t/helpers/device-httpd" \
    python3 curl

# Silence ends the tunnel after 2 * 2 s (the agent's keep-alive) + 5 s.
LIMITS=$'channel_open_timeout: 2s\ndevice_idle_timeout: 5s' WORKERS=1 \
    start_device_reflector dev2

mkdir -p www
head -c 64M /dev/urandom >www/big.bin || bail "cannot make the 64 MB file"
echo "small page" >www/small.txt
BIG_SUM=$(sha256sum <www/big.bin | cut -d' ' -f1)
start_device_httpd www || bail "device-httpd did not start"

gone() { ! kill -0 "$1" 2>/dev/null; }
# opened N: the reflector has opened N channels to dev2.
opened() {
	[ "$(grep -c 'device dev2: channel [0-9]* opening' \
	    "$TRASH/reflectord.log")" -ge "$1" ]
}

WT_KEEPALIVE=2 WT_HTTP_PORT=$DPORT python3 "$RF_TOP/t/lib/wt-agent.py" \
    127.0.0.1 "$HTTPS_PORT" "$TRASH/tls/ca.pem" dev2 default "$DEV_SECRET" \
    relay >relay.out 2>&1 &
RELAY_PID=$!
track_pid "$RELAY_PID"
ok "a plain-protocol agent comes online" \
    wait_for 15 log_has 'device dev2 online .*plain protocol'

python3 "$RF_TOP/t/lib/slow-reader.py" "$HTTPS_PORT" "$TRASH/tls/ca.pem" \
    dev2.localhost /big.bin "alice:$PASSWORD" >slow.out 2>&1 &
SLOW_PID=$!
track_pid "$SLOW_PID"
ok "a browser asks dev2 for 64 MB and stops reading" \
    wait_for 15 grep -q '^stalled' slow.out
sleep 1
ucurl "alice:$PASSWORD" -o small.out -w '%{http_code}\n' \
    "https://dev2.localhost:$HTTPS_PORT/small.txt" >small.code 2>small.err &
FETCH_PID=$!
track_pid "$FETCH_PID"
ok "  ... a second request opens a channel" \
    wait_for 10 opened 2
sleep 12
ok "after 12 s (channel_open_timeout 2 s, silence limit 9 s) it still waits" \
    kill -0 "$FETCH_PID"
unlike "$(cat "$TRASH/reflectord.log")" 'not confirmed' \
    "  ... no channel timed out"
unlike "$(cat "$TRASH/reflectord.log")" 'device dev2 offline' \
    "  ... and the tunnel is still online"
ok "  ... as the agent sees it" kill -0 "$RELAY_PID"

kill -USR1 "$SLOW_PID"
ok "when the reader goes on, the second request is answered" \
    wait_for 30 gone "$FETCH_PID"
wait "$FETCH_PID"
is "$?" 0 "  ... curl succeeded"
is "$(cat small.code)" 200 "  ... with 200"
is "$(cat small.out)" "small page" "  ... and the page"
ok "  ... and the reader gets all 64 MB" wait_for 60 grep -q '^done' slow.out
like "$(cat slow.out)" "^done 67108864 $BIG_SUM\$" "  ... with the right checksum"

# Reading again, the silence clock runs again from the last message.
ok "the tunnel, silent again, is dropped within 20 s" \
    wait_for 20 log_has 'device dev2 offline'

unlike "$(cat "$TRASH/reflectord.log")" 'killed by signal|exited with status [^0]' \
    "no worker died of anything above"
ok "TERM stops it with status 0" stop_reflectord
done_testing
