#!/usr/bin/env bash
# Privileges: started as root with "user: nobody", reflectord binds and
# creates its directories as root, then master and workers run as nobody;
# the directories belong to nobody so that the pid file can be removed.
. "$(dirname "$0")/lib/test-lib.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root to switch users"
id nobody >/dev/null 2>&1 || skip_all "no user nobody"

# The test directory may sit below a private one (mktemp -d): nobody must
# read the certificate and the configuration after the switch (a reload
# reads both again), so everything goes in a 0755 place.
base=$(mktemp -d /tmp/rf-user.XXXXXX)
chmod 755 "$base"
[ -n "${RF_TEST_LEAVE:-}" ] || defer rm -rf "$base"
make_certs "$base/tls" >/dev/null
chmod 644 "$base/tls/key.pem"
HTTPS_PORT=$(free_port)
cat >"$base/reflector.yml" <<EOT
domain: localhost
listen:
  https: ["127.0.0.1:$HTTPS_PORT"]
tls:
  certificate: $base/tls/cert.pem
  key: $base/tls/key.pem
workers: 2
user: nobody
state_dir: $base/state
run_dir: $base/run
pid_file: $base/run/reflectord.pid
log:
  target: file
  file: $base/reflectord.log
  level: debug1
EOT
CONF=$base/reflector.yml
mkdir -p "$TRASH/tls" && cp "$base/tls/ca.pem" "$TRASH/tls/ca.pem"
start_reflectord || bail "reflectord did not start"

is "$(ps -o user= -p "$RF_PID" | tr -d ' ')" nobody "the master runs as nobody"
for pid in $(worker_pids); do
	is "$(ps -o user= -p "$pid" | tr -d ' ')" nobody "worker $pid runs as nobody"
done
is "$(stat -c %U "$base/run")" nobody "run_dir belongs to nobody"
is "$(stat -c %U "$base/state")" nobody "state_dir belongs to nobody"
is "$(stat -c %U "$base/reflectord.log")" nobody "so does the log file"
like "$(health)" '"status":"ok"' "it serves"
kill -HUP "$RF_PID"
ok "a reload as nobody reads the certificate again" \
    wait_for 5 grep -q 'configuration generation 1 applied by all workers' "$base/reflectord.log"
ok "TERM stops it with status 0" stop_reflectord
ok "and nobody could remove the pid file" test ! -e "$base/run/reflectord.pid"
done_testing
