#!/usr/bin/env bash
# Routing and hand-off: a connection for <device>.<domain> is served by the
# worker that owns the device in the routing map, whichever worker the
# kernel gave it to; on HTTPS (by the SNI, peeked, then the TLS handshake
# happens in the owner) and on plain HTTP (by the Host header).
. "$(dirname "$0")/lib/test-lib.sh"

command -v mdb_load >/dev/null || skip_all "mdb_load (lmdb-utils) not installed"

make_certs "$TRASH/tls" dev0.localhost dev1.localhost
HTTP_PORT=$(free_port)
HANDSHAKE=2 write_config reflector.yml
start_reflectord || bail "reflectord did not start"

ok "owner entries loaded" routing_put dev0 0 dev1 1

# Every connection for a device is answered by its owner.  The kernel
# spreads connections by source port, so keep going until some of them
# were handed off; each one must still land on the owner.
check_device() { # SCHEME PORT DEVICE SLOT [HANDOFFS_BEFORE]
	local i h v wrong=0 handed=0 n=0 base=${5:-0}
	for ((i = 0; i < 200 && (n < 20 || handed == 0); i++)); do
		h=$(curl -sS --max-time 5 --cacert "$TRASH/tls/ca.pem" \
		    "$1://$3.localhost:$2/.reflector/health")
		n=$((n + 1))
		[ "$(json_field "$h" worker)" = "$4" ] || wrong=$((wrong + 1))
		v=$(json_field "$h" handoffs_in)
		handed=$((${v:-0} - base))
	done
	is "$wrong" 0 "$1: all $n connections for $3 were served by worker $4"
	ok "$1: $handed of them were handed off to it" test "${handed:-0}" -gt 0
}
check_device https "$HTTPS_PORT" dev1 1
check_device https "$HTTPS_PORT" dev0 0
# The counters of the owner, before the plain HTTP round.
before=$(json_field "$(curl -sS --cacert "$TRASH/tls/ca.pem" \
    "https://dev1.localhost:$HTTPS_PORT/.reflector/health")" handoffs_in)
check_device http "$HTTP_PORT" dev1 1 "$before"

ok "hand-offs are logged by the sender" log_has 'worker 0: handed .* \(device dev1\) to worker 1'
ok "and by the receiver" log_has 'worker 1: adopting .* \(device dev1\) from worker 0'

# The portal and unknown devices stay where they landed: both workers serve.
seen=
for ((i = 0; i < 60; i++)); do
	seen="$seen $(json_field "$(health)" worker)"
	case "$seen" in *0*1* | *1*0*) break ;; esac
done
like "$seen" '0.*1|1.*0' "portal connections are served where they land"

# A connection that never sends anything is closed after handshake_timeout.
exec 9<>"/dev/tcp/127.0.0.1/$HTTPS_PORT"
ok "a silent connection is closed after handshake_timeout" \
    timeout $((6 * MULT)) sh -c 'cat <&9 >/dev/null'
exec 9>&-
ok "TERM stops it with status 0" stop_reflectord
done_testing
