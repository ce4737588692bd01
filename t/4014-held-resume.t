#!/usr/bin/env bash
#
# Reading that stops because a channel is full (its opener got AGAIN) and
# starts again once the channel has room must read what OpenSSL holds: the
# socket will not wake the loop for records already read ahead (t/4013
# covers a stop for a pipelined head).  The channel is held full with a
# stock-like agent (t/lib/wt-agent.py relay) that waits 2 s before each
# OPEN_CONFIRM: until then a channel holds what it is given and says AGAIN
# at 256 KB.  A browser (t/lib/record-burst.py --upload) sends a POST's
# head and the first 250,000 bytes of its body, then, after 0.5 s, the
# last 12,144 bytes in 64-byte records in one write: the reflector stops
# reading in the middle of them, with the rest held by OpenSSL and nothing
# more on the socket.  The device must get the whole body, for a POST to
# its web server (proxy.c) and for the same POST inside a CONNECT tunnel
# (front.c).
#
# A channel also fills once it is open, and empties with nothing coming
# back to the browser to wake the connection.  The same agent with the
# extension (WT_EXT) and WT_CREDIT_STALL=2: it grants no credit for 2 s
# once a channel has used its 64 KiB window, so the channel holds what it
# is given and says AGAIN at 512 KiB; the CONNECT is answered before the
# POST goes ("tunnel:"), and the tail's records are cut where the channel
# fills.  When the grants come and the channel empties below its low mark,
# reading must start again with what OpenSSL holds (front.c rx_set).
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

need "$RF_BUILD/server/reflectorctl" "$RF_BUILD/t/helpers/device-httpd" \
    python3

WORKERS=1 start_device_reflector dev2
mkdir -p www
start_device_httpd www || bail "device-httpd did not start"

WT_CONFIRM_DELAY=2 WT_HTTP_PORT=$DPORT spawn python3 \
    "$RF_TOP/t/lib/wt-agent.py" 127.0.0.1 "$HTTPS_PORT" "$TRASH/tls/ca.pem" \
    dev2 default "$DEV_SECRET" relay
AGENT_PID=$SPAWN_PID
ok "a plain-protocol agent comes online" \
    wait_for 15 log_has 'device dev2 online .*plain protocol'

# upload NAME TARGET HOST [FIRST]: the POST, $ROUNDS times, of FIRST
# (default 250000) + 12144 bytes; the device's answer is the body's
# checksum and length.
upload() {
	local name=$1 target=$2 host=$3 first=${4:-250000} i sent
	for ((i = 1; i <= ROUNDS; i++)); do
		timeout $((60 * MULT)) python3 "$RF_TOP/t/lib/record-burst.py" \
		    --upload "$target" "$HTTPS_PORT" "$TRASH/tls/ca.pem" "$host" \
		    "alice:$PASSWORD" "$first" 12144 >"$name.$i.out" 2>&1
		sent=$(sed -n 's/^sent //p' "$name.$i.out")
		is "$(sed -n 's/^upload //p' "$name.$i.out")" "200 $sent" \
		    "$name, upload $i: the device got all ${sent#* } bytes"
	done
}
ROUNDS=3
upload proxied proxy dev2.localhost
upload connect "connect:dev2.localhost:$DPORT" localhost
like "$(cat connect.1.out)" '^connect HTTP/1\.1 200 ' \
    "  ... the CONNECT was answered 200"
got=$(grep -c '^POST /upload ' "$TRASH/device.log" || true)
is "$got" $((2 * ROUNDS)) "the device served each upload once ($got)"

term_wait "$AGENT_PID" || :	# python3's 143 for SIGTERM
ok "the plain-protocol agent is gone" \
    wait_for 15 log_has 'device dev2 offline'
WT_EXT='1; frame=16384; window=65536' WT_CREDIT_STALL=2 WT_HTTP_PORT=$DPORT \
    spawn python3 "$RF_TOP/t/lib/wt-agent.py" 127.0.0.1 "$HTTPS_PORT" \
    "$TRASH/tls/ca.pem" dev2 default "$DEV_SECRET" relay
ok "the same agent with the extension comes online" \
    wait_for 15 log_has 'device dev2 online .*extension 1'
# The stream fills the channel at 64 KiB of credit + 512 KiB held: 589,824
# bytes, about 6,000 into the tail behind a 90-byte head.
upload open "tunnel:dev2.localhost:$DPORT" localhost 583700
like "$(cat open.1.out)" '^connect HTTP/1\.1 200 ' \
    "  ... the CONNECT was answered 200 before the POST"
got=$(grep -c '^POST /upload ' "$TRASH/device.log" || true)
is "$got" $((3 * ROUNDS)) "the device served each upload once ($got)"
ok "reflectord is still there" kill -0 "$RF_PID"
done_testing
