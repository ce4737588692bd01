#!/usr/bin/env bash
# Supervision: a worker killed with SIGKILL is replaced in its slot within
# 2 s, the other worker's open connection is untouched, the dead worker's
# routing entries are cleaned, and a worker that dies during start-up is
# respawned with growing delays instead of in a fork loop.
. "$(dirname "$0")/lib/test-lib.sh"

command -v mdb_load >/dev/null || skip_all "mdb_load (lmdb-utils) not installed"

write_config reflector.yml
start_reflectord || bail "reflectord did not start"

# An open keep-alive connection, and which worker holds it.
ka_open a
ka_send a
ka_wait a 1
held=$(ka_last a)
held_slot=$(json_field "$held" worker)
held_pid=$(json_field "$held" pid)
other_slot=$((1 - held_slot))
other_pid=$(worker_pids | grep -vx "$held_pid")
isnt "$other_pid" "" "found the other worker (slot $other_slot)"

# Routing entries as the two workers would have written them.
ok "routing entries loaded" routing_put dev-held "$held_slot" dev-other "$other_slot"

kill -KILL "$other_pid"
wait_for 2 sh -c "pgrep -P $RF_PID | grep -vx $other_pid | grep -vx $held_pid"
new_pid=$(worker_pids | grep -vx "$held_pid")
isnt "$new_pid" "" "a new worker replaced the killed one"
isnt "$new_pid" "$other_pid" "with a new pid"

# The replacement serves from the same slot with a higher generation.
got=
for ((i = 0; i < 40; i++)); do
	h=$(health)
	if [ "$(json_field "$h" worker)" = "$other_slot" ]; then
		got=$h
		break
	fi
done
is "$(json_field "$got" pid)" "$new_pid" "the new worker serves slot $other_slot"
is "$(json_field "$got" generation)" 2 "as generation 2 of that slot"

ka_send a
ka_wait a 2
is "$(ka_responses a)" 2 "the other worker's keep-alive connection still works"
is "$(json_field "$(ka_last a)" pid)" "$held_pid" "on the same worker"
ka_close a

dump=$(mdb_dump -n -s owner -p "$TRASH/run/routing.mdb")
unlike "$dump" 'dev-other' "the dead worker's routing entry was removed"
like "$dump" 'dev-held' "the living worker's entry stays"
ok "the cleanup was logged" log_has "worker $other_slot: removed 1 routing"

# A worker that cannot start: its routing map path is made a directory.
rm -f "$TRASH/run/routing.mdb" "$TRASH/run/routing.mdb-lock"
mkdir "$TRASH/run/routing.mdb"
victim=$(worker_pids | head -n 1)
kill -KILL "$victim"
sleep $((3 * MULT))
starts=$(grep -c 'died during start-up' "$TRASH/reflectord.log")
ok "failed start-ups are logged ($starts)" test "$starts" -ge 2
ok "and throttled, not a fork loop" test "$starts" -le $((4 * MULT + 1))
ok "the delay grows" log_has 'died during start-up \(2 in a row\); respawning in 1000 ms'
rmdir "$TRASH/run/routing.mdb"
ok "once the cause is gone the slot is served again" \
    wait_for 10 sh -c "test \$(pgrep -P $RF_PID | wc -l) -eq 2"
ok "and both workers are ready" wait_for 10 health
ok "TERM stops it with status 0" stop_reflectord
done_testing
