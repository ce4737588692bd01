#!/usr/bin/env bash
# Stopping: SIGQUIT lets a request in flight finish and refuses new
# connections; SIGTERM exits 0 at once; SIGUSR1 reopens the log file.
. "$(dirname "$0")/lib/test-lib.sh"

DRAIN=10 write_config reflector.yml
start_reflectord || bail "reflectord did not start"

# USR1: after the log was moved away, new lines go to a new file.
mv "$TRASH/reflectord.log" "$TRASH/reflectord.log.1"
kill -USR1 "$RF_PID"
ok "USR1 reopens the log file" wait_for 5 test -s "$TRASH/reflectord.log"
ok "the master says so in the new file" wait_for 5 log_has 'master: log file reopened'

# A request in flight: half of its head is sent before the stop.
ka_open busy
ka_write busy 'GET /.reflector/health HTTP/1.1\r\nHost: local'
ka_open idle
ka_send idle
ka_wait idle 1
sleep 0.3
kill -QUIT "$RF_PID"
ok "the stop is logged" wait_for 5 log_has 'graceful stop'
nok "new connections are refused" \
    curl -sS --max-time 3 --cacert "$TRASH/tls/ca.pem" "https://localhost:$HTTPS_PORT/"
ok "the idle keep-alive connection was closed" \
    wait_for 5 sh -c "! kill -0 $KA_PID_idle"
ok "the master is still waiting for the request in flight" kill -0 "$RF_PID"
ka_write busy 'host\r\n\r\n'
ka_wait busy 1
like "$(ka_last busy)" '"status":"draining"' "the request in flight was answered"
ok "then the master exits" wait_for 10 sh -c "! kill -0 $RF_PID"
wait "$RF_PID"
is "$?" 0 "with status 0"
RF_PID=
ok "and removes its pid file" test ! -e "$TRASH/run/reflectord.pid"

# TERM: immediate, even with a connection open.
rm -f "$TRASH/reflectord.log"
start_reflectord || bail "reflectord did not start again"
ka_open held
ka_send held
ka_wait held 1
workers=$(worker_pids)
t0=$(date +%s%N)
ok "TERM stops it with status 0" stop_reflectord
t1=$(date +%s%N)
ok "at once ($(((t1 - t0) / 1000000)) ms), not after the drain timeout" \
    test $(((t1 - t0) / 1000000)) -lt $((3000 * MULT))
for pid in $workers; do
	nok "worker $pid is gone" kill -0 "$pid"
done
ok "the pid file is gone" test ! -e "$TRASH/run/reflectord.pid"
done_testing
