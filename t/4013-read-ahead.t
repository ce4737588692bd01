#!/usr/bin/env bash
#
# The workers read TLS ahead (SSL_CTX_set_read_ahead): one read(2) takes
# what the socket has, and OpenSSL holds the records nobody has asked for
# yet.  When a connection stops reading and starts again, those records
# must be read then: the socket will not wake the loop for them.  A
# browser (t/lib/record-burst.py) pipelines 40 GETs, each cut into
# 64-byte TLS records, in one write of about 8 KB after the handshake:
# with limits.header_max at 1k, the reflector stops reading once a head's
# worth of the next requests is waiting behind the one in flight, with the
# rest of the burst held by OpenSSL and nothing more coming from the
# socket.  Every request must be answered, in order, on the same
# connection; the same with one record per request.  Four connections of
# each, on whichever worker accepts them (the device's, or the other one,
# which hands them off).
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

need "$RF_BUILD/agent/reflector-agent" "$RF_BUILD/t/helpers/device-httpd" \
    "$RF_BUILD/server/reflectorctl" python3

LIMITS='header_max: 1k' start_dev1_reflector

mkdir -p www
printf 'page of dev1\n' >www/page.txt
start_device_httpd www || bail "device-httpd did not start"
agent_yml agent.yml dev1 default "$DEV_SECRET" "http: $DPORT"
spawn "$RF_BUILD/agent/reflector-agent" -f -c agent.yml
ok "the device's agent connects" wait_for 15 log_has 'device dev1 online'

N=40
ALL200=$(printf '200,%.0s' $(seq "$N")) && ALL200=${ALL200%,}
# burst NAME RECORD: the 40 requests in records of RECORD bytes, $ROUNDS
# times (new connections land on either worker).
burst() {
	local name=$1 record=$2 i
	for ((i = 1; i <= ROUNDS; i++)); do
		timeout $((60 * MULT)) python3 "$RF_TOP/t/lib/record-burst.py" \
		    "$HTTPS_PORT" "$TRASH/tls/ca.pem" dev1.localhost /page.txt \
		    "alice:$PASSWORD" "$N" "$record" >"$name.$i.out" 2>&1
		is "$(cat "$name.$i.out")" "responses $N $ALL200" \
		    "$name, connection $i: all $N pipelined requests answered 200"
	done
}
ROUNDS=4
burst small-records 64
burst whole-requests 4096
got=$(grep -c '^GET /page.txt ' "$TRASH/device.log" || true)
is "$got" $((2 * ROUNDS * N)) "the device served each request once ($got)"
ok "reflectord is still there" kill -0 "$RF_PID"
done_testing
