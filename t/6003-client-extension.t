#!/usr/bin/env bash
#
# The WebTunnel extension on client tunnels (reflector-webtunnel(7),
# "Client tunnels"), with the real reflectord (2 workers), the real agent
# and a TCP echo service and a web server as the device's ports:
#   - a stock client tool (the scripted one, t/lib/wt-client.py, without the
#     header) gets no answer header and messages of at most 2048 bytes;
#   - a scripted client that announces it gets the answer in the 101 and
#     messages up to the frame size it announced (64 KiB, or 8 KiB), never
#     more;
#   - a garbled announcement, another version, one without window=, a frame
#     out of range, or the header twice: 101 all the same, no answer,
#     2048-byte messages, the bytes intact;
#   - our reflector-client negotiates it (both logs say so, and the
#     reflector's frame sizes show it) and moves 50 MB down and 50 MB up
#     through -L with matching checksums;
#   - a reader that stops (scripted, and curl at 100 KB/s through -L) makes
#     neither the workers nor reflector-client queue the 50 MB;
#   - our reflector-client against a stock reflector (t/lib/fake-reflector.py
#     answering no header, or a garbled one) keeps 2048-byte messages, and
#     against one that answers a smaller frame sends no larger ones.
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

AGENT=$RF_BUILD/agent/reflector-agent
CLIENT=$RF_BUILD/agent/reflector-client
need "$AGENT" "$CLIENT" "$RF_BUILD/t/helpers/device-httpd" python3 curl \
    sha256sum

start_dev1_reflector

start_echo_server || bail "the echo server did not start"
mkdir -p www
head -c 50M /dev/urandom >www/big.bin || bail "cannot make the 50 MB file"
BIG_SUM=$(sha256sum <www/big.bin | cut -d' ' -f1)
start_device_httpd www || bail "device-httpd did not start"
agent_yml agent.yml dev1 default "$DEV_SECRET" "$EPORT, http: $DPORT"
spawn "$AGENT" -f -c agent.yml
ok "the agent brings dev1 online" wait_for 15 log_has 'device dev1 online'

wtc() { # ARGS...: the scripted client, echoing 1 MiB through dev1's echo
	timeout $((60 * MULT)) python3 "$RF_TOP/t/lib/wt-client.py" \
	    --user alice --password="$PASSWORD" "$@" "$HTTPS_PORT" \
	    tls/ca.pem dev1.localhost "$EPORT" echo
}
line() { sed -n "s/^$1 //p" | head -n 1; }
# frames_logged PEER: the reflector's "frames of up to U bytes up, D down"
# for the client tunnel from PEER, as "U D".
frames_logged() {
	wait_for 5 log_has "from ${1//./\\.}: frames of up to" &&
	    sed -n "s/.*from ${1//./\\.}: frames of up to \\([0-9]*\\) bytes up, \\([0-9]*\\) down.*/\\1 \\2/p" \
	    "$TRASH/reflectord.log" | head -n 1
}

# plain_case WHAT ARGS...: wt-client.py with ARGS gets the plain protocol:
# 101, no answer header, 1 MiB echoed in messages of at most 2048 bytes, a
# tunnel logged without the extension, and the reason if it announced one.
plain_case() {
	local what=$1 out got me
	shift
	out=$(wtc "$@")
	like "$out" '^status HTTP/1.1 101' "$what: 101"
	unlike "$out" '^header x-reflector-webtunnel-ext' "  ... without an answer header"
	is "$(line received <<<"$out")" "$(line sent <<<"$out")" "  ... 1 MiB echoed, same checksum"
	got=$(line largest-frame <<<"$out")
	ok "  ... in messages of at most 2048 bytes ($got)" \
	    test "${got:-0}" -gt 0 -a "${got:-99999}" -le 2048
	me=$(line local <<<"$out")
	ok "  ... logged without the extension" log_has "from ${me//./\\.} opened\$"
	[ $# -eq 0 ] || ok "  ... and the reflector said why" \
	    log_has "from ${me//./\\.}: unusable X-Reflector-WebTunnel-Ext header"
}
# ext_case WHAT MAX ARGS...: wt-client.py with ARGS (an announcement of
# MAX-byte frames) gets our answer, and 1 MiB echoed in messages larger
# than 2048 bytes and at most MAX; sets ME, the client's address.
ext_case() {
	local what=$1 max=$2 out got
	shift 2
	out=$(wtc "$@")
	like "$out" '^status HTTP/1.1 101' "$what: 101"
	like "$out" '^header x-reflector-webtunnel-ext 1; frame=65536; window=65536$' \
	    "  ... answered with our frame size (and window = frame)"
	is "$(line received <<<"$out")" "$(line sent <<<"$out")" "  ... 1 MiB echoed, same checksum"
	got=$(line largest-frame <<<"$out")
	ok "  ... in messages larger than 2048 bytes and at most $max ($got)" \
	    test "${got:-0}" -gt 2048 -a "${got:-99999}" -le "$max"
	ME=$(line local <<<"$out")
	ok "  ... the reflector logged the extension" \
	    log_has "from ${ME//./\\.} opened, extension 1: messages up to $max bytes to the client"
}

plain_case "a stock client tool (no header)"
ext_case "a client that announces 64 KiB frames" 65536 \
    --ext '1; frame=65536; window=65536'
read -r fup fdown <<<"$(frames_logged "$ME")"
ok "  ... and took its 64 KiB frames ($fup bytes up, $fdown down)" \
    test "${fup:-0}" -gt 2048 -a "${fup:-99999999}" -le 65536
ext_case "8 KiB, parameters in another order, one unknown" 8192 \
    --ext '1; window=8192; frame=8192; later=1'

# Garbled: the plain protocol, never a failed handshake.
plain_case "a garbled announcement" --ext 'banana'
plain_case "another version" --ext '2; frame=65536; window=65536'
plain_case "no window" --ext '1; frame=65536'
plain_case "a frame above 64 KiB" --ext '1; frame=65537; window=1048576'
plain_case "the header twice" --ext '1; frame=65536; window=65536' \
    --ext '1; frame=65536; window=65536'

# --- our reflector-client ---------------------------------------------------------
unset REFLECTOR_TOKEN http_proxy
export REFLECTOR_USER=alice REFLECTOR_PASSWORD=$PASSWORD
export HOME=$TRASH/home XDG_CONFIG_HOME=
mkdir -p "$HOME"
T=$((120 * MULT))
"$CLIENT" -v -c tls/ca.pem -r "https://localhost:$HTTPS_PORT/" -L 0 \
    -R "$DPORT" dev1 >web.port 2>web.err &
FWD_PID=$!
track_pid "$FWD_PID"
ok "a -L forward to the device's web server starts" wait_for 10 test -s web.port
W=$(head -n 1 web.port)
t0=$(date +%s%N)
sum=$(curl -sS --max-time "$T" "http://127.0.0.1:$W/big.bin" | sha256sum | cut -d' ' -f1)
t1=$(date +%s%N)
is "$sum" "$BIG_SUM" "50 MB down through reflector-client -L, same checksum"
out=$(curl -sS --max-time "$T" --data-binary @www/big.bin "http://127.0.0.1:$W/upload")
t2=$(date +%s%N)
like "$out" "^$BIG_SUM 52428800" "50 MB up through it, same checksum at the device"
down=$(( (t1 - t0) / 1000000 )) up=$(( (t2 - t1) / 1000000 ))
diag "50 MB down: ${down} ms ($((50 * 1000 / (down > 0 ? down : 1))) MB/s)," \
    "up: ${up} ms ($((50 * 1000 / (up > 0 ? up : 1))) MB/s)"
ok "reflector-client says it uses the extension" \
    grep -q "tunnel to dev1.localhost port $DPORT open, extension 1: messages up to 65536 bytes to the reflector, 65536 from it" web.err
ok "  ... and so does the reflector" \
    log_has "client tunnel to dev1 port $DPORT for \"alice\" from .* opened, extension 1: messages up to 65536 bytes to the client"
ok "  ... whose TLS records reflector-client reads and writes itself" \
    grep -q "dev1.localhost: TLS records of the tunnel are ours now" web.err
kill "$FWD_PID" 2>/dev/null
wait "$FWD_PID" 2>/dev/null
# The largest frames of the two tunnels (curl's download and its upload).
both_closed() {
	test "$(grep -c "client tunnel to dev1 port $DPORT .*: frames of up to" \
	    "$TRASH/reflectord.log")" -ge 2
}
wait_for 5 both_closed
read -r fup fdown <<<"$(sed -n "s/.*client tunnel to dev1 port $DPORT .*: frames of up to \([0-9]*\) bytes up, \([0-9]*\) down.*/\1 \2/p" \
    "$TRASH/reflectord.log" | awk '$1 > u { u = $1 } $2 > d { d = $2 } END { print u + 0, d + 0 }')"
ok "  ... whose frames to and from it were larger than 2048 bytes (up $fup, down $fdown)" \
    test "${fup:-0}" -gt 2048 -a "${fup:-99999999}" -le 65536 -a \
    "${fdown:-0}" -gt 2048 -a "${fdown:-99999999}" -le 65536

# --- larger messages, no larger queues ---------------------------------------------
# A reader that stops: 50 MB asked for in 64 KiB messages, then nothing
# read for 4 s.  The reflector must pause the channel (and, through the
# device tunnel's credit, the agent), and reflector-client stop reading
# the tunnel, rather than queue the file: growth far below 50 MB.
rss_kib() { # PID...: the sum of their VmRSS, in KiB
	local p v sum=0
	for p in "$@"; do
		v=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$p/status" 2>/dev/null)
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}
if ldd "$REFLECTORD" 2>/dev/null | grep -q libasan; then
	skip "RSS under ASan counts its quarantine of freed memory" 4
else
	mapfile -t WPIDS < <(worker_pids)
	r0=$(rss_kib "${WPIDS[@]}")
	timeout $((60 * MULT)) python3 "$RF_TOP/t/lib/wt-client.py" \
	    --user alice --password="$PASSWORD" --stall 4 \
	    --ext '1; frame=65536; window=65536' "$HTTPS_PORT" tls/ca.pem \
	    dev1.localhost "$DPORT" get:/big.bin >stall.out 2>&1 &
	SPID=$!
	wait_for 10 grep -q stalling stall.out
	sleep 2
	r1=$(rss_kib "${WPIDS[@]}")
	ok "a client that stops reading: the workers grow by $(( (r1 - r0) / 1024 )) MB, not by the 50 MB" \
	    test "$r0" -gt 0 -a $((r1 - r0)) -lt $((16 * 1024))
	wait "$SPID"
	is "$(line body <stall.out)" "52428800 $BIG_SUM" "  ... which then arrives whole"

	"$CLIENT" -c tls/ca.pem -r "https://localhost:$HTTPS_PORT/" -L 0 \
	    -R "$DPORT" dev1 >slow.port 2>slow.err &
	CPID=$!
	track_pid "$CPID"
	wait_for 10 test -s slow.port
	c0=$(rss_kib "$CPID")
	curl -sS --limit-rate 100K --max-time $((4 * MULT)) \
	    "http://127.0.0.1:$(head -n 1 slow.port)/big.bin" >slow.body 2>/dev/null &
	LPID=$!
	sleep 3
	c1=$(rss_kib "$CPID")
	ok "a local reader at 100 KB/s: reflector-client grows by $(( (c1 - c0) / 1024 )) MB, not by the 50 MB" \
	    test "$c0" -gt 0 -a $((c1 - c0)) -lt $((16 * 1024))
	wait "$LPID"
	ok "  ... while the slow download went on ($(wc -c <slow.body) bytes)" \
	    test "$(wc -c <slow.body)" -gt 0
	kill "$CPID" 2>/dev/null
	wait "$CPID" 2>/dev/null
fi

# --- reflector-client against a stock reflector -----------------------------------
# fake_client ANSWER: reflector-client -W through fake-reflector.py, which
# answers ANSWER in the header ("-": none) and echoes 1 MiB; sets OUT (the
# fake's report) and ERR (the client's verbose log).
head -c 1M /dev/urandom >one.bin
fake_client() {
	local port fpid
	port=$(free_port) || return 1
	# Not the last run's "listening": the new one truncates it only later.
	rm -f fake.out fake.echo fake.client
	python3 "$RF_TOP/t/lib/fake-reflector.py" tls/cert.pem tls/key.pem \
	    "$port" client-echo "$1" 1048576 >fake.out 2>fake.err &
	fpid=$!
	track_pid "$fpid"
	wait_for 5 grep -q listening fake.out || return 1
	timeout $((60 * MULT)) "$CLIENT" -v -c tls/ca.pem \
	    -r "https://localhost:$port/" -W "dev1:$EPORT" <one.bin \
	    >fake.echo 2>fake.client
	wait_for 5 grep -q client-closed fake.out
	OUT=$(cat fake.out) ERR=$(cat fake.client)
	kill "$fpid" 2>/dev/null
	wait "$fpid" 2>/dev/null
	return 0
}
fake_client - || bail "fake-reflector.py did not start"
like "$OUT" '^ext 1; frame=65536; window=65536$' \
    "reflector-client announces the extension in its upgrade"
ok "  ... the 1 MiB came back whole from a stock reflector" cmp one.bin fake.echo
got=$(line client-largest <<<"$OUT")
ok "  ... which answered no header: messages of at most 2048 bytes ($got)" \
    test "${got:-0}" -gt 0 -a "${got:-99999}" -le 2048
like "$ERR" 'open, plain protocol: messages up to 2048 bytes' "  ... and the client says so"

fake_client '1; frame=4096; window=4096' || bail "fake-reflector.py did not start"
ok "a reflector that answers 4 KiB frames: the 1 MiB came back whole" cmp one.bin fake.echo
got=$(line client-largest <<<"$OUT")
ok "  ... in messages larger than 2048 bytes and at most 4096 ($got)" \
    test "${got:-0}" -gt 2048 -a "${got:-99999}" -le 4096

fake_client '1; frame=banana' || bail "fake-reflector.py did not start"
ok "a garbled answer: the 1 MiB came back whole, no failed handshake" cmp one.bin fake.echo
got=$(line client-largest <<<"$OUT")
ok "  ... in messages of at most 2048 bytes ($got)" \
    test "${got:-0}" -gt 0 -a "${got:-99999}" -le 2048
like "$ERR" 'unusable X-Reflector-WebTunnel-Ext answer' "  ... the client says why"

unlike "$(cat "$TRASH/reflectord.log")" 'killed by signal|exited with status [^0]' \
    "no worker died"
ok "TERM stops it with status 0" stop_reflectord
done_testing
