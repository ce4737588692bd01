#!/usr/bin/env bash
#
# One worker holding hundreds of device tunnels finds each by its device
# (server/tunnel.c keeps them in hash buckets that double as they fill):
# 300 tunnels from t/helpers/loadgen, which speaks like a stock agent, and
# then the real agent's dev1 come online on one worker, so the table grows
# past its first sizes; a browser still reaches dev1; the same 300 devices
# connecting again each close their own older tunnel and no other; and
# dev1 is still served after that.
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

AGENT=$RF_BUILD/agent/reflector-agent
LOADGEN=$RF_BUILD/t/helpers/loadgen
need "$AGENT" "$LOADGEN" "$RF_BUILD/server/reflectorctl" \
    "$RF_BUILD/t/helpers/device-httpd" curl

N=300
make_certs "$TRASH/tls" dev1.localhost >/dev/null 2>&1 ||
	bail "scripts/mkcert failed"
PASSWORD='correct horse'
user_hash "$PASSWORD" || bail "reflectorctl hash-password failed"
device_secret lg-0 lg || bail "reflectorctl new-device-secret failed"
LG_SECRET=$DEV_SECRET LG_HASH=$DEV_HASH
device_secret dev1 || bail "reflectorctl new-device-secret failed"
{
	echo "devices:"
	printf '  - id: dev1\n    secret: "%s"\n' "$DEV_HASH"
	for ((i = 0; i < N; i++)); do
		printf '  - id: lg-%d\n    group: lg\n    secret: "%s"\n' "$i" "$LG_HASH"
	done
	cat <<EOT
users:
  - name: alice
    password: "$USER_HASH"
    devices: [dev1]
EOT
} >extra.yml
LOG_LEVEL=verbose WORKERS=1 write_config reflector.yml extra.yml ||
	bail "cannot write the config"
start_reflectord || bail "reflectord did not start"

mkdir -p www
echo "small page" >www/small.txt
start_device_httpd www || bail "device-httpd did not start"

count() { grep -Ec -- "$1" "$TRASH/reflectord.log"; }
# counted N ERE: the log has N lines matching ERE.
counted() { test "$(count "$2")" -eq "$1"; }
# loadgen OUT: N devices lg-0.. held until SIGTERM, in the background; sets
# LG_PID.
loadgen() {
	"$LOADGEN" -a 127.0.0.1 -p "$HTTPS_PORT" -n localhost \
	    -c "$TRASH/tls/ca.pem" -i lg- -g lg -s "$LG_SECRET" -N "$N" \
	    -H 64 -t $((60 * MULT)) >"$1" 2>"$1.err" &
	LG_PID=$!
	track_pid "$LG_PID"
}

loadgen lg1.out
LG1=$LG_PID
ok "$N devices come online on one worker" wait_for 60 grep -q "^up=$N " lg1.out
is "$(count 'device lg-[0-9]+ online')" "$N" "  ... each logged once"

agent_yml agent.yml dev1 default "$DEV_SECRET" "http: $DPORT"
spawn "$AGENT" -f -c agent.yml
ok "dev1 comes online beside them" wait_for 15 log_has 'device dev1 online'
out=$(ucurl "alice:$PASSWORD" "https://dev1.localhost:$HTTPS_PORT/small.txt")
is "$out" "small page" "a browser reaches dev1 among $((N + 1)) tunnels"

loadgen lg2.out
LG2=$LG_PID
ok "the same $N devices connect again" wait_for 60 grep -q "^up=$N " lg2.out
ok "  ... each closes its own older tunnel" \
    wait_for 20 counted "$N" 'device lg-[0-9]+: closing its tunnel: the device connected again'
is "$(count 'device dev1: closing its tunnel')" 0 "  ... and dev1's is not closed"
kill -TERM "$LG1" 2>/dev/null
wait "$LG1" 2>/dev/null
like "$(cat lg1.out)" "dropped=$N" "  ... the first $N tunnels were all dropped"
out=$(ucurl "alice:$PASSWORD" "https://dev1.localhost:$HTTPS_PORT/small.txt")
is "$out" "small page" "dev1 is still served"
kill -TERM "$LG2" 2>/dev/null
wait "$LG2" 2>/dev/null
like "$(cat lg2.out)" "held=$N dropped=0" "  ... and the second $N tunnels were all held"

unlike "$(cat "$TRASH/reflectord.log")" 'killed by signal|exited with status [^0]' \
    "no worker died of anything above"
ok "TERM stops it with status 0" stop_reflectord
done_testing
