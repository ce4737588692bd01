#!/usr/bin/env bash
#
# A channel the reflector shut first ends cleanly when the agent's CLOSE
# arrives (WEBTUNNEL.md §3: "a channel is gone when both sides have sent
# CLOSE"): the scripted agent (t/lib/wt-agent.py serve) sees our CLOSE,
# answers with its own, and never gets an ERROR for the channel after
# that, and the reflector logs the channel's end.  Both ways a channel is
# shut first: a browser that goes away in the middle of a request, and a
# client tunnel whose client sends its WebSocket close.
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

CTL=$RF_BUILD/server/reflectorctl
need "$CTL" python3 curl

start_dev1_reflector

# more_than N ERE: the log has more than N lines matching ERE.
more_than() { test "$(grep -Ec -- "$2" "$TRASH/reflectord.log")" -gt "$1"; }
count() { grep -Ec -- "$1" "$TRASH/reflectord.log"; }

for ext in "" "1; frame=65536; window=1048576"; do
	if [ -n "$ext" ]; then
		export WT_EXT=$ext
		what="with the extension"
	else
		unset WT_EXT
		what="plain protocol"
	fi
	n=$(count 'device dev1 online')
	c1=$(count 'device dev1: channel 1 closed by both sides')
	c2=$(count 'device dev1: channel 2 closed by both sides')
	off=$(count 'device dev1 offline')
	python3 "$RF_TOP/t/lib/wt-agent.py" 127.0.0.1 "$HTTPS_PORT" \
	    "$TRASH/tls/ca.pem" dev1 default "$DEV_SECRET" serve >agent.out 2>&1 &
	apid=$!
	track_pid "$apid"
	ok "$what: the scripted agent comes online" \
	    wait_for 10 more_than "$n" 'device dev1 online'

	# A browser that asks and goes away before the device answers.
	# (curl itself, not a shell around it, so that kill ends it.)
	curl -sS -o /dev/null --max-time $((30 * MULT)) -u "alice:$PASSWORD" \
	    --cacert "$TRASH/tls/ca.pem" --connect-to "::127.0.0.1:" \
	    "https://dev1.localhost:$HTTPS_PORT/slow" 2>/dev/null &
	cpid=$!
	ok "  a browser's request reaches the agent" \
	    wait_for 10 grep -q '^data 1 ' agent.out
	kill "$cpid"
	wait "$cpid" 2>/dev/null
	ok "  ... it goes away: the agent gets our CLOSE and answers it" \
	    wait_for 10 grep -q '^close 1$' agent.out
	ok "  ... the reflector ends the channel" \
	    wait_for 5 more_than "$c1" 'device dev1: channel 1 closed by both sides'

	# A client tunnel whose client closes first.
	out=$(timeout $((20 * MULT)) python3 "$RF_TOP/t/lib/wt-client.py" \
	    --user alice --password "$PASSWORD" "$HTTPS_PORT" \
	    "$TRASH/tls/ca.pem" dev1.localhost 8080 halfclose 2>&1)
	like "$out" '1000' "  a client tunnel closed first gets a normal close"
	ok "  ... the agent got our CLOSE and answered it" \
	    wait_for 5 grep -q '^close 2$' agent.out
	ok "  ... the reflector ends the channel" \
	    wait_for 5 more_than "$c2" 'device dev1: channel 2 closed by both sides'

	sleep 0.5
	unlike "$(cat agent.out)" '^error' \
	    "  no ERROR for a channel both sides closed"
	kill "$apid"
	wait "$apid" 2>/dev/null
	ok "  the device goes offline" \
	    wait_for 5 more_than "$off" 'device dev1 offline'
done

unlike "$(cat "$TRASH/reflectord.log")" 'killed by signal|exited with status [^0]' \
    "no worker died of anything above"
ok "TERM stops it with status 0" stop_reflectord
done_testing
