#!/usr/bin/env bash
#
# reflector-agent's own WebSocket to the reflector (agent/wslink.c): what
# lws's client did not do for it, or did wrong, against real binaries.
# Against a stand-in reflector (t/lib/fake-reflector.py), over wss:// and
# ws://: bytes that follow the 101 in the same read are the tunnel's
# first frame; a PING is answered with its payload, masked; a message in
# fragments with PINGs between them arrives whole; a text message is
# ignored; a WebSocket CLOSE ends the tunnel ("the reflector closed the
# tunnel"), is answered with its code, and the agent reconnects; a 101
# with a wrong Sec-WebSocket-Accept, and a 403 with X-PTTH-Error, are
# refused with their own sentences and retried; a 101 that comes one byte
# a write is read whole; SIGTERM sends CLOSE 1001.  Over TLS 1.3 and TLS
# 1.2 with AES-GCM the agent takes the records over from OpenSSL before
# the frames that follow the first read (own_records); a CBC suite and
# own_records: false leave them with OpenSSL, and a SIGHUP that turns it
# on reconnects the tunnel.  Against the real reflectord,
# through a CONNECT proxy whose answers come in pieces
# (t/lib/dribble-proxy.py): a 200 brings the device online, a 407 is named
# as such, and proxy.username/password go as Proxy-Authorization.  And a
# target that does not read (t/lib/slow-sink.py) pauses the whole tunnel
# on the plain protocol until it reads again, without losing a byte.
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

AGENT=$RF_BUILD/agent/reflector-agent
need "$AGENT" "$RF_BUILD/server/reflectorctl" "$RF_BUILD/t/helpers/device-httpd"
command -v python3 >/dev/null || skip_all "python3 is needed"
command -v curl >/dev/null || skip_all "curl not installed"

LIB=$RF_TOP/t/lib

# The real reflector first: its certificates serve the fake ones too.
start_dev1_reflector

# fake NAME SCRIPT ARGS...: fake-reflector.py SCRIPT on a free port, its
# output in NAME.out; TLS with the test certificate, or plain ws:// when
# NAME ends in "-ws".  Sets FPORT and URL (what the agent connects to).
fake() {
	local name=$1 cert=$TRASH/tls/cert.pem key=$TRASH/tls/key.pem
	shift
	FPORT=$(free_port) || return 1
	URL=https://localhost:$FPORT/
	local tls12=
	case $name in
	*-ws) cert=- key=- URL=http://127.0.0.1:$FPORT/ ;;
	*-gcm12) tls12=ECDHE-ECDSA-AES128-GCM-SHA256 ;;
	*-cbc12) tls12=ECDHE-ECDSA-AES128-SHA256 ;;
	esac
	FAKE_TLS12=$tls12 python3 "$LIB/fake-reflector.py" "$cert" "$key" \
	    "$FPORT" "$@" >"$TRASH/$name.out" 2>&1 &
	track_pid $!
	wait_for 5 grep -q '^listening' "$TRASH/$name.out" && return 0
	diag "fake-reflector.py $* did not start: $(cat "$TRASH/$name.out")"
	return 1
}

# run_agent NAME URL [PASSWORD [EXTRA_YAML]]: reflector-agent with NAME.yml,
# its log in NAME.log, device dev1 with the ports of $PORTS; sets APID.
run_agent() {
	cat >"$TRASH/$1.yml" <<EOT
reflector: $2
ca_file: $TRASH/tls/ca.pem
reconnect_max: 2s
keepalive: ${KEEPALIVE:-30s}
log:
  level: debug1
  target: file
  file: $TRASH/$1.log
${4:-}
devices:
  - id: dev1
    password: "${3:-s3cret}"
    ports: [$PORTS]
EOT
	"$AGENT" -f -c "$TRASH/$1.yml" 2>"$TRASH/$1.stderr" &
	APID=$!
	track_pid "$APID"
}

# has FILE ERE: a line of $TRASH/FILE matches.  at_least FILE ERE N: N do.
has() { grep -Eq -- "$2" "$TRASH/$1" 2>/dev/null; }
at_least() { [ "$(grep -Ec -- "$2" "$TRASH/$1" 2>/dev/null)" -ge "$3" ]; }
# show FILE...: the end of each, when an assertion failed.
show() {
	local f
	for f in "$@"; do
		diag "--- $f:" "$(tail -n 25 "$TRASH/$f" 2>/dev/null)"
	done
}

start_echo_server || bail "the echo server did not start"

# --- 1. the wire: one read, PING/PONG, fragments, text, CLOSE -----------------
# Over TLS 1.3 and TLS 1.2 with AES-GCM the agent reads and writes the
# records itself once the tunnel is open (own_records, tlsraw.c), so the
# frames after the first read are ours to decrypt and encrypt; a CBC suite,
# and own_records: false, leave them with OpenSSL.
PORTS="http: $EPORT"
WIRES="wire wire-ws wire-gcm12 wire-cbc12 wire-openssl"
for name in $WIRES; do
	extra=
	[ "$name" = wire-openssl ] && extra="own_records: false"
	fake "$name" wire "$EPORT" || bail "the fake reflector did not start"
	run_agent "$name" "$URL" s3cret "$extra"
	eval "PID_${name//-/_}=\$APID"
done
# line FILE ERE: the number of the first line of $TRASH/FILE that matches.
line() { grep -En -m 1 -- "$2" "$TRASH/$1" | cut -d: -f1; }
for name in $WIRES; do
	pid=PID_${name//-/_}
	case $name in
	wire) how="wss (TLS 1.3)" ;;
	wire-ws) how=ws ;;
	wire-gcm12) how="wss (TLS 1.2, AES-GCM)" ;;
	wire-cbc12) how="wss (TLS 1.2, CBC)" ;;
	wire-openssl) how="wss (own_records: false)" ;;
	esac
	ok "$how: the agent goes through the whole script" \
	    wait_for 15 has "$name.out" '^closed$' || show "$name.out" "$name.log"
	ok "  ... the frame in the 101's read opens channel 1" \
	    has "$name.out" '^open-confirm 1$'
	ok "  ... a PING comes back as a PONG with its payload, masked" \
	    has "$name.out" '^pong are-you-there$'
	ok "  ... a PING between two fragments is answered" \
	    has "$name.out" '^pong between$'
	ok "  ... and one after the second" has "$name.out" '^pong again$'
	ok "  ... a message in 3 fragments arrives whole: its echo comes back" \
	    has "$name.out" '^data hello$'
	ok "  ... a text message is ignored, and says so" \
	    has "$name.log" 'dev1: text message ignored'
	ok "  ... and the tunnel goes on (a PING after it is answered)" \
	    has "$name.out" '^pong still-there$'
	ok "  ... CLOSE for channel 1 gets the agent's CLOSE" \
	    has "$name.out" '^close 1$'
	case $name in
	wire | wire-gcm12)
		ours=$(line "$name.log" 'localhost: TLS records of the tunnel are ours now')
		text=$(line "$name.log" 'dev1: text message ignored')
		ok "  ... the TLS records were the agent's own before the text message" \
		    test "${ours:-999999}" -lt "${text:-0}" || show "$name.log"
		;;
	wire-cbc12)
		ok "  ... a CBC suite stays with OpenSSL, and the log says why" \
		    has "$name.log" 'localhost: TLS stays with OpenSSL: cipher suite not supported'
		;;
	*)
		nok "  ... OpenSSL keeps the records" \
		    has "$name.log" 'TLS records of the tunnel are ours|TLS stays with'
		;;
	esac
	unlike "$(cat "$TRASH/$name.out")" '^(unmasked|unexpected|aborted)' \
	    "  ... every frame masked, nothing unexpected"
	ok "  ... a WebSocket CLOSE: the agent logs that the reflector closed it" \
	    wait_for 5 has "$name.log" \
	    'dev1: disconnected: the reflector closed the tunnel; reconnecting in [0-9.]+ s'
	ok "  ... and answers it with a CLOSE of the same code (RFC 6455 5.5.1)" \
	    has "$name.out" '^close-answer 1000$'
	ok "  ... and it reconnects" wait_for 10 has "$name.out" '^idle-open$'
	ok "  ... connected twice" wait_for 5 at_least "$name.log" 'dev1: connected to' 2
	if [ "$name" = wire-openssl ]; then
		# A reload that turns own_records on reconnects the tunnel.
		sed -i 's/^own_records: false$/own_records: true/' "$TRASH/$name.yml"
		kill -HUP "${!pid}"
		ok "  ... own_records turned on by SIGHUP: the tunnel reconnects" \
		    wait_for 10 at_least "$name.log" 'dev1: connected to' 3 ||
			show "$name.log"
		ok "  ... and its records are the agent's" wait_for 5 has "$name.log" \
		    'localhost: TLS records of the tunnel are ours now'
	fi
	term_wait "${!pid}"
	is "$?" 0 "  ... SIGTERM stops the agent with status 0"
	ok "  ... after a WebSocket CLOSE 1001 (going away)" \
	    wait_for 5 has "$name.out" '^ws-close 1001$'
done

# --- 2. and 3. a wrong Sec-WebSocket-Accept; a 403 with X-PTTH-Error ----------
fake badaccept badaccept || bail "the fake reflector did not start"
run_agent badaccept "$URL"
PID_badaccept=$APID
fake refuse refuse || bail "the fake reflector did not start"
run_agent refuse "$URL"
PID_refuse=$APID
ok "a 101 with a wrong Sec-WebSocket-Accept is refused, with its sentence" \
    wait_for 10 has badaccept.log \
    'dev1: cannot connect to https://localhost:[0-9]+/: the reflector answered 101 with a wrong Sec-WebSocket-Accept; retrying in [0-9.]+ s' ||
	show badaccept.log badaccept.out
ok "  ... and retried" wait_for 10 at_least badaccept.out '^request GET ' 2
ok "  ... each attempt closed by the agent" wait_for 5 at_least badaccept.out '^hold-closed$' 2
nok "  ... never connected" has badaccept.log 'dev1: connected to'
ok "a 403 names the reflector's X-PTTH-Error" \
    wait_for 10 has refuse.log \
    'dev1: cannot connect to https://localhost:[0-9]+/: the reflector answered 403: Device not allowed here; retrying in [0-9.]+ s' ||
	show refuse.log refuse.out
ok "  ... and is retried" wait_for 10 at_least refuse.out '^request GET ' 2
nok "  ... never connected" has refuse.log 'dev1: connected to'
term_wait "$PID_badaccept"
is "$?" 0 "SIGTERM stops the agent that was refused (wrong accept)"
term_wait "$PID_refuse"
is "$?" 0 "SIGTERM stops the agent that was refused (403)"

# --- 4. a 101 one byte a write ------------------------------------------------
for name in dribble dribble-ws; do
	fake "$name" dribble "$EPORT" || bail "the fake reflector did not start"
	run_agent "$name" "$URL"
	eval "PID_${name//-/_}=\$APID"
done
for name in dribble dribble-ws; do
	pid=PID_${name//-/_}
	how=wss; [ "$name" = dribble-ws ] && how=ws
	ok "$how: a 101 that comes one byte a write is read whole" \
	    wait_for 15 has "$name.out" '^dribbled [0-9]+$' || show "$name.out" "$name.log"
	ok "  ... the tunnel is up" wait_for 10 has "$name.log" 'dev1: connected to'
	ok "  ... an OPEN_REQUEST that came the same way opens the channel" \
	    wait_for 10 has "$name.out" '^open-confirm 1$'
	ok "  ... data goes there and back" wait_for 10 has "$name.out" '^data hello$'
	ok "  ... and the channel closes" has "$name.out" '^close 1$'
	unlike "$(cat "$TRASH/$name.out")" '^(unmasked|unexpected|aborted)' \
	    "  ... every frame masked, nothing unexpected"
	nok "  ... no failure logged" has "$name.log" 'dev1: (cannot connect|disconnected)'
	term_wait "${!pid}"
	is "$?" 0 "  ... SIGTERM stops the agent with status 0"
	ok "  ... after a WebSocket CLOSE 1001" wait_for 5 has "$name.out" '^ws-close 1001$'
done

# --- 5. the real reflectord through a proxy that answers in pieces ------------
mkdir -p "$TRASH/www"
head -c 300000 /dev/urandom | base64 >"$TRASH/www/page.txt"
start_device_httpd "$TRASH/www" || bail "device-httpd did not start"
PORTS="http: $DPORT"
proxy() {
	PXPORT=$(free_port) || return 1
	python3 "$LIB/dribble-proxy.py" "$PXPORT" "$2" >"$TRASH/$1.out" 2>&1 &
	track_pid $!
	wait_for 5 grep -q '^listening' "$TRASH/$1.out"
}
online_count() { grep -c 'device dev1 online' "$TRASH/reflectord.log"; }
more_online_than() { [ "$(online_count)" -gt "$1" ]; }

proxy proxy-ok ok || bail "dribble-proxy.py did not start"
n=$(online_count)
run_agent proxied "https://localhost:$HTTPS_PORT/" "$DEV_SECRET" "proxy:
  url: http://127.0.0.1:$PXPORT"
ok "a proxy's 200 in five pieces: the device comes online" \
    wait_for 15 more_online_than "$n" || show proxy-ok.out proxied.log
ok "  ... the proxy got CONNECT localhost:$HTTPS_PORT" \
    has proxy-ok.out "^connect localhost:$HTTPS_PORT\$"
nok "  ... without Proxy-Authorization (none configured)" has proxy-ok.out '^auth '
ok "  ... the agent says it is connected" has proxied.log 'dev1: connected to'
page=$(ucurl "alice:$PASSWORD" "https://dev1.localhost:$HTTPS_PORT/page.txt" 2>&1 |
    sha256sum)
is "$page" "$(sha256sum <"$TRASH/www/page.txt")" \
    "  ... a 400 kB page of the device through the tunnel and the proxy"
term_wait "$APID"
is "$?" 0 "  ... SIGTERM stops the agent with status 0"
ok "  ... the proxy saw the tunnel end" wait_for 10 has proxy-ok.out '^relayed [0-9]+ [0-9]+$'

proxy proxy-407 407 || bail "dribble-proxy.py did not start"
n=$(online_count)
run_agent proxied-407 "https://localhost:$HTTPS_PORT/" "$DEV_SECRET" "proxy:
  url: http://127.0.0.1:$PXPORT
  username: user
  password: pw"
ok "a proxy's 407 in pieces is named, with the settings to check" \
    wait_for 10 has proxied-407.log \
    'dev1: cannot connect to https://localhost:[0-9]+/: the proxy refused the CONNECT with 407 \(check proxy\.username and proxy\.password\); retrying in [0-9.]+ s' ||
	show proxied-407.log proxy-407.out
ok "  ... the CONNECT went to localhost:$HTTPS_PORT" \
    has proxy-407.out "^connect localhost:$HTTPS_PORT\$"
ok "  ... with Proxy-Authorization: Basic user:pw" has proxy-407.out '^auth user:pw$'
ok "  ... the agent closed the connection" wait_for 5 has proxy-407.out '^client-closed$'
ok "  ... and tried again" wait_for 10 at_least proxy-407.out "^connect localhost:$HTTPS_PORT\$" 2
is "$(online_count)" "$n" "  ... the device never came online"
term_wait "$APID"
is "$?" 0 "  ... SIGTERM stops the agent with status 0"

# --- 6. a target that does not read pauses the tunnel (plain protocol) --------
# More than TCP can hold on the way to the target (the agent's send buffer
# grows up to tcp_wmem's maximum): the agent itself has to hold back.
wmem=$(awk '{ print $3 }' /proc/sys/net/ipv4/tcp_wmem 2>/dev/null)
FLOOD=$((${wmem:-4194304} + 4 * 1024 * 1024))
for name in flood flood-ws; do
	how=wss; [ "$name" = flood-ws ] && how=ws
	SPORT=$(free_port) || bail "no free port"
	python3 "$LIB/slow-sink.py" "$SPORT" "$TRASH/release.$name" \
	    >"$TRASH/sink.$name.out" 2>&1 &
	track_pid $!
	wait_for 5 grep -q '^listening' "$TRASH/sink.$name.out" ||
		bail "slow-sink.py did not start"
	PORTS="http: $SPORT"
	fake "$name" flood "$SPORT" "$FLOOD" || bail "the fake reflector did not start"
	# On wss, the shortest keepalive: the stall below outlasts the
	# silence (2 x 5 s + 10 s) after which an agent that is reading
	# takes the reflector for gone.
	KEEPALIVE=30s
	[ "$how" = wss ] && KEEPALIVE=5s
	run_agent "$name" "$URL"
	ok "$how: $FLOOD bytes for a target that does not read: the channel opens" \
	    wait_for 10 has "$name.out" '^open-confirm 1$' || show "$name.out" "$name.log"
	ok "  ... the agent stops reading the tunnel (a PING waits for its PONG)" \
	    wait_for 15 has "$name.out" '^flood-stalled [0-9]+$' || show "$name.out"
	# What it was sent is what the target's TCP holds (the agent's Send-Q,
	# the sink's Recv-Q: the sink has read nothing), what the agent holds
	# itself, its high water mark of 512 KiB, and at most the rest of the
	# last burst (48 KiB), which it keeps unread.
	at=$(sed -n 's/^flood-stalled //p' "$TRASH/$name.out")
	sendq=$(ss -Htn "dport = :$SPORT" | awk '{ n += $3 } END { print n + 0 }')
	recvq=$(ss -Htn "sport = :$SPORT" | awk '{ n += $2 } END { print n + 0 }')
	held=$((${at:-0} - sendq - recvq))
	diag "$how: the agent stopped reading after at most ${at:-?} bytes:" \
	    "$sendq in its socket to the target, $recvq in the target's," \
	    "$held its own"
	ok "  ... holding about its high water mark, 512 KiB" \
	    test "$held" -ge $((448 * 1024)) -a "$held" -le $((1024 * 1024))
	# A target may stop reading for long (a device writing its flash):
	# the tunnel it paused must outlive the keepalive's silence check.
	[ "$how" = wss ] && sleep 22
	touch "$TRASH/release.$name"
	# The rest of the burst, its PING included, waits in the agent: only
	# the agent itself can take it up again (nothing more comes).
	ok "  ... once the target reads, the agent takes up what it kept" \
	    wait_for 20 has "$name.out" '^flood-resumed$' || show "$name.out" "$name.log"
	ok "  ... the target got everything" \
	    wait_for 30 has "sink.$name.out" '^done ' || show "sink.$name.out" "$name.out"
	sent=$(sed -n "s/^flood-sent \($FLOOD [0-9a-f]\{64\}\)\$/\1/p" "$TRASH/$name.out")
	is "$(sed -n 's/^done //p' "$TRASH/sink.$name.out")" \
	    "${sent:-(no flood-sent line from the fake reflector)}" \
	    "  ... the same $FLOOD bytes, in order (sha256)"
	ok "  ... and the channel closes" wait_for 10 has "$name.out" '^close 1$'
	unlike "$(cat "$TRASH/$name.out")" '^(unmasked|unexpected|aborted|flood-timeout)' \
	    "  ... nothing unexpected on the tunnel"
	nok "  ... the tunnel never failed" has "$name.log" 'dev1: (cannot connect|disconnected)'
	term_wait "$APID"
	is "$?" 0 "  ... SIGTERM stops the agent with status 0"
done

ok "reflectord is still there" kill -0 "$RF_PID"
done_testing
