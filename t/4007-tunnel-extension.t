#!/usr/bin/env bash
#
# The WebTunnel extension (reflector-webtunnel(7)): our agent and our
# reflector turn it on, and a page and a 2 MB body pass through it; a stock
# agent (the scripted one, t/lib/wt-agent.py) gets the plain protocol with
# DATA frames of at most 2048 payload bytes and no answer header; a garbled
# announcement, or another version, falls back to plain without failing the
# handshake; a scripted agent that announces it gets larger frames, and
# never more than the window it announced.
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

AGENT=$RF_BUILD/agent/reflector-agent
CTL=$RF_BUILD/server/reflectorctl
need "$AGENT" "$CTL" "$RF_BUILD/t/helpers/device-httpd" python3 curl

make_certs "$TRASH/tls" dev1.localhost dev2.localhost >/dev/null 2>&1 ||
	bail "scripts/mkcert failed"
PASSWORD='correct horse'
user_hash "$PASSWORD" || bail "reflectorctl hash-password failed"
device_secret dev1 plant || bail "reflectorctl new-device-secret failed"
SECRET1=$DEV_SECRET HASH1=$DEV_HASH
device_secret dev2 plant || bail "reflectorctl new-device-secret failed"
cat >extra.yml <<EOT
devices:
  - id: dev1
    group: plant
    secret: "$HASH1"
  - id: dev2
    group: plant
    secret: "$DEV_HASH"
users:
  - name: alice
    password: "$USER_HASH"
    devices: [dev1, dev2]
EOT
WORKERS=2 write_config reflector.yml extra.yml || bail "cannot write the config"
start_reflectord || bail "reflectord did not start"

mkdir -p www
head -c 2M /dev/urandom >www/two.bin
start_device_httpd www || bail "device-httpd did not start"

agent_yml agent.yml dev2 plant "$DEV_SECRET" "http: $DPORT"
spawn "$AGENT" -f -c agent.yml
ok "our agent and our reflector use the extension" \
    wait_for 15 log_has 'device dev2 online .*extension 1'
ok "  ... and the agent says so too" \
    wait_for 5 grep -q 'dev2: extension 1: frames up to 65536' agent.log

c() { ucurl "alice:$PASSWORD" "$@"; }
sum=$(c "https://dev2.localhost:$HTTPS_PORT/two.bin" | sha256sum | cut -d' ' -f1)
is "$sum" "$(sha256sum <www/two.bin | cut -d' ' -f1)" \
    "2 MB down through the extended tunnel, same checksum"
out=$(c --data-binary @www/two.bin "https://dev2.localhost:$HTTPS_PORT/upload")
like "$out" "$(sha256sum <www/two.bin | cut -d' ' -f1)" \
    "2 MB up through it, same checksum at the device"

# post_through OUTFILE ERE [BYTES]: the scripted agent as dev1 (WT_EXT, if
# set, is its announcement), online with a log line matching ERE, while curl
# posts 100 KB to it.  The scripted agent never answers HTTP: once it has
# BYTES (default: the body) or 10 s went by, it and curl are stopped.  It
# prints the payload length of every DATA frame it got.
head -c 102400 /dev/urandom >body.bin
post_through() {
	local out=$1 want=${3:-102400} pid cpid
	python3 "$RF_TOP/t/lib/wt-agent.py" 127.0.0.1 "$HTTPS_PORT" \
	    "$TRASH/tls/ca.pem" dev1 plant "$SECRET1" serve >"$out" &
	pid=$!
	track_pid "$pid"
	if ! wait_for 10 grep -q '^status HTTP/1.1 101' "$out" ||
	    ! wait_for 5 log_has "device dev1 online.*$2"; then
		kill "$pid" 2>/dev/null
		return 1
	fi
	c -o /dev/null --data-binary @body.bin \
	    "https://dev1.localhost:$HTTPS_PORT/up" 2>/dev/null &
	cpid=$!
	wait_for 10 sh -c "awk '/^data/ { n += \$3 } END { exit !(n >= $want) }' '$out'"
	# Anything beyond BYTES would come now.
	[ "$want" = 102400 ] || sleep 0.5
	kill "$pid" "$cpid" 2>/dev/null
	wait "$pid" "$cpid" 2>/dev/null
	return 0
}
body_arrived() { awk '/^data/ { n += $3 } END { exit !(n >= 102400) }' "$1"; }
maxdata() { awk '/^data/ { if ($3 > m) m = $3 } END { print m + 0 }' "$1"; }
online_count() { grep -c "device $1 online" "$TRASH/reflectord.log"; }

unset WT_EXT
ok "a stock agent comes online" post_through stock.out 'plain protocol'
ok "  ... and gets the whole request body" body_arrived stock.out
is "$(maxdata stock.out)" 2048 "  ... in DATA frames of at most 2048 bytes"
unlike "$(cat stock.out)" 'x-reflector-webtunnel-ext' \
    "  ... with no extension header in its 101"

n=$(online_count dev1)
WT_EXT='1; frame=banana; window=65536' post_through garbled.out 'plain protocol'
like "$(cat garbled.out)" '^status HTTP/1.1 101' "a garbled announcement still gets 101"
ok "  ... and the device is online on the plain protocol" \
    test "$(online_count dev1)" -gt "$n"
unlike "$(cat garbled.out)" 'x-reflector-webtunnel-ext' "  ... without an extension answer"
ok "  ... gets the body" body_arrived garbled.out
is "$(maxdata garbled.out)" 2048 "  ... in plain 2048-byte frames"
ok "  ... and the reason is logged" \
    log_has 'unusable X-Reflector-WebTunnel-Ext header "1; frame=banana'

WT_EXT='2; frame=65536; window=1048576' post_through v2.out 'plain protocol'
unlike "$(cat v2.out)" 'x-reflector-webtunnel-ext' \
    "another version of the extension: no answer"
is "$(maxdata v2.out)" 2048 "  ... and plain 2048-byte frames"

WT_EXT='1; frame=65536; window=1048576; future=yes' post_through ext.out 'extension 1'
like "$(cat ext.out)" '^header x-reflector-webtunnel-ext 1; frame=65536; window=524288$' \
    "an announcement gets the reflector's answer (unknown parameters ignored)"
ok "  ... gets the body" body_arrived ext.out
n=$(maxdata ext.out)
ok "  ... in frames larger than 2048 bytes ($n)" test "$n" -gt 2048
ok "  ... and at most the 65536 it announced" test "$n" -le 65536

# A window smaller than the body: the scripted agent never grants, so the
# reflector stops at the window and the rest waits; nothing is lost, the
# tunnel lives on.
WT_EXT='1; frame=4096; window=16384' post_through window.out 'extension 1' 16384
total=$(awk '/^data/ { n += $3 } END { print n + 0 }' window.out)
is "$total" 16384 "an agent that grants nothing gets exactly its 16384-byte window"
n=$(maxdata window.out)
ok "  ... in frames of at most the 4096 it announced ($n)" test "$n" -gt 2048 -a "$n" -le 4096

unlike "$(cat "$TRASH/reflectord.log")" 'killed by signal|exited with status [^0]' \
    "no worker died of anything above"
ok "TERM stops it with status 0" stop_reflectord
done_testing
