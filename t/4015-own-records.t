#!/usr/bin/env bash
#
# tls.own_records: a device tunnel on TLS 1.3 (or TLS 1.2 with an AEAD)
# leaves OpenSSL once it is online and quiet, and reflectord reads and
# writes its records itself (common/tlsrec.c, front.c).  With the real agent
# (the extension, 64 KiB frames): the tunnel is taken over, then a 32 MiB
# download, a 16 MiB upload and 200 keep-alive requests go through it
# intact, and it lives through several keep-alives without reconnecting.  A
# stock-protocol agent's PING is answered after the take-over, and when a
# newer tunnel of its device replaces it, it ends with close_notify; a stock
# agent on TLS 1.2 is taken over and relays a request and 1 MiB; one on TLS
# 1.2 with a CBC suite stays with OpenSSL and works.  OpenSSL's s_client
# sends KeyUpdates, asking the reflector to update too and not, and the
# tunnel answers a PING after each.  A reload with tls.own_records off leaves
# new tunnels with OpenSSL.
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

need "$RF_BUILD/agent/reflector-agent" "$RF_BUILD/t/helpers/device-httpd" \
    "$RF_BUILD/server/reflectorctl" python3 openssl

start_dev1_reflector
TAKEN='device dev1: TLS records are ours now'
taken() { grep -c -- "$TAKEN" "$TRASH/reflectord.log" || true; }
taken_since() { [ "$(taken)" -gt "$1" ]; }
applied() { grep -c 'configuration generation .* applied$' "$TRASH/reflectord.log" || true; }
applied_since() { [ "$(applied)" -ge $(($1 + 2)) ]; }

mkdir -p www
head -c $((32 * 1024 * 1024)) /dev/urandom >www/big.bin
printf 'small\n' >www/small.txt
start_device_httpd www || bail "device-httpd did not start"
agent_yml agent.yml dev1 default "$DEV_SECRET" "http: $DPORT"
echo "keepalive: 5s" >>agent.yml
spawn "$RF_BUILD/agent/reflector-agent" -f -c agent.yml
APID=$SPAWN_PID
ok "the agent brings dev1 online" wait_for 15 log_has 'device dev1 online'
ok "and its tunnel's TLS records are taken over" wait_for 10 log_has "$TAKEN"

URL="https://dev1.localhost:$HTTPS_PORT"
ucurl "alice:$PASSWORD" -o got.bin "$URL/big.bin"
ok "a 32 MiB download through the tunnel arrives intact" cmp -s www/big.bin got.bin
head -c $((16 * 1024 * 1024)) /dev/urandom >up.bin
want="$(sha256sum <up.bin | cut -d' ' -f1) $((16 * 1024 * 1024))"
is "$(ucurl "alice:$PASSWORD" --data-binary @up.bin "$URL/upload")" "$want" \
    "a 16 MiB upload arrives intact"
urls=() && for i in $(seq 200); do urls+=("$URL/small.txt"); done
is "$(ucurl "alice:$PASSWORD" "${urls[@]}" | grep -c '^small$')" 200 \
    "200 keep-alive requests are answered"
sleep 11
is "$(ucurl "alice:$PASSWORD" "$URL/small.txt")" small \
    "after 11 s of 5 s keep-alives the tunnel still answers"
is "$(grep -c 'device dev1 online' "$TRASH/reflectord.log")" 1 \
    "and it is the same tunnel: the agent never reconnected"
kill "$APID"
ok "the agent's tunnel ends when the agent stops" \
    wait_for 10 log_has 'device dev1 offline'

wtagent() { # SCRIPT, with dev1's credentials
	timeout $((10 * MULT)) python3 "$RF_TOP/t/lib/wt-agent.py" 127.0.0.1 \
	    "$HTTPS_PORT" "$TRASH/tls/ca.pem" dev1 default "$DEV_SECRET" "$1"
}
before=$(taken)
# The PING goes right behind the upgrade: it may come before or after the
# take-over, so wait for that and PING again.
WT_KEEPALIVE=1 wtagent serve >serve.out 2>&1 &
track_pid $!
ok "a stock-protocol agent's tunnel is taken over too" \
    wait_for 10 taken_since "$before"
like "$(wtagent ping)" '^frame 10 hello$' "and a new one's PING is answered"
# That new tunnel of dev1 closed the taken-over one, which says so in TLS.
ok "the older tunnel, taken over, ends with a TLS close_notify" \
    wait_for 5 grep -q '^tls close_notify$' serve.out

# A stock agent on TLS 1.2 (an AEAD suite) that relays to device-httpd.
head -c $((1024 * 1024)) /dev/urandom >www/mid.bin
before=$(taken)
WT_TLS_MAX=1.2 WT_HTTP_PORT=$DPORT wtagent relay >relay12.out 2>&1 &
track_pid $!
ok "an agent on TLS 1.2 is taken over" wait_for 10 taken_since "$before"
ok "  ... on TLS 1.2" log_has "$TAKEN \\(TLS 1\\.2\\)"
is "$(ucurl "alice:$PASSWORD" "$URL/small.txt")" small \
    "  ... and a request through its tunnel is answered"
ucurl "alice:$PASSWORD" -o got12.bin "$URL/mid.bin"
ok "  ... and 1 MiB comes down intact" cmp -s www/mid.bin got12.bin

before=$(taken)
out=$(WT_TLS_MAX=1.2 WT_TLS_CIPHERS=ECDHE-ECDSA-AES128-SHA256 wtagent ping)
like "$out" '^frame 10 hello$' \
    "an agent on TLS 1.2 with a CBC suite gets its PONG"
ok "its TLS stays with OpenSSL, and the log says why" \
    log_has 'device tunnel: TLS stays with OpenSSL: cipher suite not supported'
is "$(taken)" "$before" "  ... and it was not taken over"

before=$(taken)
out=$(timeout $((60 * MULT)) python3 "$RF_TOP/t/lib/keyupdate-agent.py" \
    "$HTTPS_PORT" "$TRASH/tls/ca.pem" dev1 default "$DEV_SECRET" \
    "$TRASH/reflectord.log" "$TAKEN" KkKK 2>&1)
like "$out" '^status 101' "s_client opens a tunnel"
unlike "$out" 'not taken over' "  ... which is taken over"
like "$out" '^pong 1$' "after a KeyUpdate asking for ours, a PING is answered"
like "$out" '^pong 2$' "after one that does not ask, too"
like "$out" '^pong 4$' "and after two more asking ones in a row"

sed -i 's/^tls:$/tls:\n  own_records: false/' "$CONF"
"$REFLECTORD" -t -c "$CONF" >/dev/null 2>&1
is $? 0 "reflectord -t accepts tls.own_records: false"
like "$("$REFLECTORD" -T -c "$CONF" 2>&1)" 'own_records: false' \
    "and -T shows it"
gen_before=$(applied)
kill -HUP "$RF_PID"
ok "the workers apply the reload" wait_for 10 applied_since "$gen_before"
before=$(taken)
like "$(wtagent ping)" '^frame 10 hello$' "with it off, a tunnel still works"
is "$(taken)" "$before" "  ... and stays with OpenSSL"
ok "reflectord is still there" kill -0 "$RF_PID"
done_testing
