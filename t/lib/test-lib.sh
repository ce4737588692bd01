# shellcheck shell=bash
#
# t/lib/test-lib.sh: the shared library of the shell tests (t/NNNN-name.t).
# A test starts like this:
#
#	#!/usr/bin/env bash
#	. "$(dirname "$0")/lib/test-lib.sh"
#	write_config reflector.yml
#	start_reflectord || bail "reflectord did not start"
#	like "$(health)" '"status"' "health answers"
#	done_testing
#
# Sourcing it makes a fresh directory $TRASH for the test, cd's into it, and
# sets a trap that kills every process started through the library and
# removes $TRASH when the test exits (kept if a test failed, or when
# RF_TEST_LEAVE is set).  Do not "set -e" in a test: a failing assertion
# returns non-zero and the test goes on.
#
# Knobs (environment):
#   RF_TOP                the source tree (default: the directory above t/)
#   RF_BUILD              the build tree (default: RF_TOP)
#   RF_TEST_LEAVE=1       keep $TRASH even when everything passed
#   RF_TEST_TIMEOUT_MULT  multiply every timeout (make check sets 3 under
#                         sanitizers)
#   HTTPS_PORT, HTTP_PORT, WORKERS, LOG_LEVEL, DRAIN: see write_config

RF_TOP=${RF_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
RF_BUILD=${RF_BUILD:-$RF_TOP}
export RF_TOP RF_BUILD
REFLECTORD=$RF_BUILD/server/reflectord
MULT=${RF_TEST_TIMEOUT_MULT:-1}

TEST_NAME=$(basename "$0" .t)
TRASH=$RF_BUILD/t/trash.$TEST_NAME
rm -rf "$TRASH"
mkdir -p "$TRASH" || { echo "Bail out! cannot create $TRASH"; exit 255; }
cd "$TRASH" || exit 255

_tap_planned=
_tap_run=0
_tap_failed=0
_tap_pids=()		# every process started through the library
_tap_ports=" "		# ports free_port handed out, " 1 2 3 "

# ---------------------------------------------------------------- TAP ----

# plan N: announces N tests (or call done_testing at the end instead).
plan() {
	_tap_planned=$1
	echo "1..$1"
}

# diag MSG...: a comment for the human reading the output (on stderr, which
# prove shows); every line of MSG gets its "# ".
diag() {
	local line
	while IFS= read -r line; do
		printf '# %s\n' "$line" >&2
	done <<<"$*"
}

# _tap_result PASS DESC: prints the TAP line; returns 0 for a pass.
_tap_result() {
	_tap_run=$((_tap_run + 1))
	if [ "$1" -eq 1 ]; then
		echo "ok $_tap_run - $2"
		return 0
	fi
	_tap_failed=$((_tap_failed + 1))
	echo "not ok $_tap_run - $2"
	local caller=("${BASH_SOURCE[2]:-?}" "${BASH_LINENO[1]:-?}")
	diag "  Failed test '$2'"
	diag "  at ${caller[0]##*/} line ${caller[1]}."
	return 1
}

# _tap_run_cmd CMD...: runs CMD with its output kept in $TRASH/.cmd-output,
# which is shown when the assertion fails (TAP on stdout stays clean).
_tap_run_cmd() {
	"$@" >"$TRASH/.cmd-output" 2>&1
}

_tap_show_cmd() {
	diag "  command: $*"
	if [ -s "$TRASH/.cmd-output" ]; then
		diag "  output:"
		diag "$(tail -n 20 "$TRASH/.cmd-output")"
	fi
}

# ok DESC CMD...: passes if CMD exits 0.
ok() {
	local desc=$1
	shift
	if _tap_run_cmd "$@"; then
		_tap_result 1 "$desc"
	else
		local rc=$?
		_tap_result 0 "$desc"
		diag "  exit status: $rc"
		_tap_show_cmd "$@"
		return 1
	fi
}

# nok DESC CMD...: passes if CMD exits non-zero.
nok() {
	local desc=$1
	shift
	if ! _tap_run_cmd "$@"; then
		_tap_result 1 "$desc"
	else
		_tap_result 0 "$desc"
		diag "  exit status: 0, expected non-zero"
		_tap_show_cmd "$@"
		return 1
	fi
}

# is GOT WANT DESC: string equality.
is() {
	if [ "$1" = "$2" ]; then
		_tap_result 1 "$3"
	else
		_tap_result 0 "$3"
		diag "     got: '$1'"
		diag "expected: '$2'"
		return 1
	fi
}

# isnt GOT UNWANTED DESC
isnt() {
	if [ "$1" != "$2" ]; then
		_tap_result 1 "$3"
	else
		_tap_result 0 "$3"
		diag "     got: '$1'"
		diag "expected: anything else"
		return 1
	fi
}

# like GOT ERE DESC: passes if some line of GOT matches ERE (grep -E).
like() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		_tap_result 1 "$3"
	else
		_tap_result 0 "$3"
		diag "     got: '$1'"
		diag "expected: a match for /$2/"
		return 1
	fi
}

# unlike GOT ERE DESC: passes if no line of GOT matches ERE.
unlike() {
	if ! printf '%s\n' "$1" | grep -Eq -- "$2"; then
		_tap_result 1 "$3"
	else
		_tap_result 0 "$3"
		diag "     got: '$1'"
		diag "expected: no match for /$2/"
		return 1
	fi
}

# skip REASON [N]: counts N tests (default 1) as skipped.
skip() {
	local i n=${2:-1}
	for ((i = 0; i < n; i++)); do
		_tap_run=$((_tap_run + 1))
		echo "ok $_tap_run # skip $1"
	done
}

# skip_all REASON: the whole test does not apply here.
skip_all() {
	echo "1..0 # SKIP $1"
	exit 0
}

# bail REASON: stops this test and the whole prove run.
bail() {
	echo "Bail out! $*"
	_tap_failed=$((_tap_failed + 1))
	exit 255
}

# done_testing: prints the plan if none was given and exits with the number
# of failures (at most 254).
done_testing() {
	if [ -z "$_tap_planned" ]; then
		echo "1..$_tap_run"
	elif [ "$_tap_planned" -ne "$_tap_run" ]; then
		diag "planned $_tap_planned tests but ran $_tap_run"
		_tap_failed=$((_tap_failed + 1))
	fi
	exit $((_tap_failed > 254 ? 254 : _tap_failed))
}

# ------------------------------------------------------------ cleanup ----

# defer CMD...: run CMD (one shell string) when the test ends, after the
# processes are gone: for what lies outside $TRASH.
_tap_deferred=()
defer() {
	_tap_deferred+=("$*")
}

# track_pid PID...: kill PID when the test ends.
track_pid() {
	_tap_pids+=("$@")
}

# spawn CMD...: runs CMD in the background with its output in
# $TRASH/spawn.N.log, kills it when the test ends; sets SPAWN_PID.
spawn() {
	local log
	log=$TRASH/spawn.${#_tap_pids[@]}.log
	"$@" >"$log" 2>&1 &
	SPAWN_PID=$!
	track_pid "$SPAWN_PID"
}

# _kill_wait SIGNAL SECONDS PID...: sends SIGNAL, waits until all are gone.
_kill_wait() {
	local sig=$1 secs=$2 pid alive i
	shift 2
	kill "-$sig" "$@" 2>/dev/null
	for ((i = 0; i < secs * 10; i++)); do
		alive=
		for pid in "$@"; do
			kill -0 "$pid" 2>/dev/null && alive=1
		done
		[ -z "$alive" ] && return 0
		sleep 0.1
	done
	return 1
}

_tap_cleanup() {
	local rc=$? pid cmd alive=() children=()
	trap - EXIT INT TERM
	# A test that ends without done_testing still fails on a failure.
	if [ "$rc" -eq 0 ] && [ "$_tap_failed" -gt 0 ]; then
		rc=$((_tap_failed > 254 ? 254 : _tap_failed))
	fi
	for pid in "${_tap_pids[@]}"; do
		kill -0 "$pid" 2>/dev/null || continue
		alive+=("$pid")
		# Noted now: a master that has to be killed cannot stop its
		# workers, and they must not outlive the test.
		mapfile -t -O "${#children[@]}" children < <(pgrep -P "$pid")
	done
	if [ ${#alive[@]} -gt 0 ]; then
		_kill_wait TERM $((5 * MULT)) "${alive[@]}" ||
			diag "still running after SIGTERM: ${alive[*]}: killing"
	fi
	if [ $((${#alive[@]} + ${#children[@]})) -gt 0 ]; then
		_kill_wait KILL 2 "${alive[@]}" "${children[@]}"
	fi
	for cmd in "${_tap_deferred[@]}"; do
		eval "$cmd"
	done
	cd "$RF_BUILD" || :
	if [ "$rc" -ne 0 ] || [ "$_tap_failed" -ne 0 ] ||
	    [ -n "${RF_TEST_LEAVE:-}" ]; then
		echo "# test directory kept: $TRASH" >&2
	else
		rm -rf "$TRASH"
	fi
	exit "$rc"
}
trap _tap_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------ helpers ----

# wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds, for at
# most SECONDS * MULT seconds.
wait_for() {
	local tenths=$(($1 * MULT * 10)) i
	shift
	for ((i = 0; i < tenths; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	"$@" >/dev/null 2>&1
}

# free_port: prints a TCP port on 127.0.0.1 that nothing uses, never the
# same twice in one test.
free_port() {
	local port tries
	for ((tries = 0; tries < 200; tries++)); do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		case $_tap_ports in *" $port "*) continue ;; esac
		if [ -z "$(ss -Htan "sport = :$port")" ]; then
			_tap_ports="$_tap_ports$port "
			echo "$port"
			return 0
		fi
	done
	echo "free_port: no free port found" >&2
	return 1
}

# make_certs DIR [NAME...]: a test CA and server certificate (scripts/mkcert).
make_certs() {
	"$RF_TOP/scripts/mkcert" "$@"
}

# write_config FILE [EXTRA_YAML_FILE]: a valid config for this test, with
# everything under $TRASH: https on 127.0.0.1:$HTTPS_PORT (chosen if unset),
# http on 127.0.0.1:$HTTP_PORT if set, ${WORKERS:-2} workers, the log in
# $TRASH/reflectord.log at ${LOG_LEVEL:-debug1}, drain_timeout ${DRAIN:-5} and
# handshake_timeout ${HANDSHAKE:-10} seconds, and $LIMITS (more "key: value"
# lines of the limits section, if set).
# EXTRA_YAML_FILE is appended (top-level keys not already written).  Sets
# CONF to FILE.
write_config() {
	local file=$1 extra=${2:-}
	[ -n "${HTTPS_PORT:-}" ] || HTTPS_PORT=$(free_port) || return 1
	[ -f "$TRASH/tls/cert.pem" ] || make_certs "$TRASH/tls" || return 1
	mkdir -p "$TRASH/state" "$TRASH/run"
	{
		echo "domain: localhost"
		echo "listen:"
		echo "  https:"
		echo "    - 127.0.0.1:$HTTPS_PORT"
		if [ -n "${HTTP_PORT:-}" ]; then
			echo "  http:"
			echo "    - 127.0.0.1:$HTTP_PORT"
		fi
		echo "tls:"
		echo "  certificate: $TRASH/tls/cert.pem"
		echo "  key: $TRASH/tls/key.pem"
		echo "workers: ${WORKERS:-2}"
		echo "state_dir: $TRASH/state"
		echo "run_dir: $TRASH/run"
		echo "pid_file: $TRASH/run/reflectord.pid"
		echo "log:"
		echo "  level: ${LOG_LEVEL:-debug1}"
		echo "  target: file"
		echo "  file: $TRASH/reflectord.log"
		echo "limits:"
		echo "  drain_timeout: ${DRAIN:-5}s"
		echo "  handshake_timeout: ${HANDSHAKE:-10}s"
		if [ -n "${LIMITS:-}" ]; then
			printf '%s\n' "$LIMITS" | sed 's/^/  /'
		fi
		if [ -n "$extra" ]; then
			cat "$extra"
		fi
	} >"$file"
	CONF=$file
}

# health [PORT]: GET /.reflector/health over HTTPS, verified against the
# test CA; prints the body, fails if the request does.
health() {
	curl -sS --max-time 5 --cacert "$TRASH/tls/ca.pem" \
	    "https://localhost:${1:-$HTTPS_PORT}/.reflector/health"
}

# start_reflectord [ARGS...]: starts "$REFLECTORD -f -c $CONF ARGS..." in
# the background (stderr in $TRASH/reflectord.stderr), sets RF_PID, and
# waits until health answers.  Fails, showing the end of the logs, if it
# does not within 10 s (times MULT).
start_reflectord() {
	[ -n "${CONF:-}" ] || write_config "$TRASH/reflector.yml" || return 1
	"$REFLECTORD" -f -c "$CONF" "$@" 2>"$TRASH/reflectord.stderr" &
	RF_PID=$!
	track_pid "$RF_PID"
	local rc end=$((SECONDS + 10 * MULT))
	while [ "$SECONDS" -lt "$end" ]; do
		health "$HTTPS_PORT" >/dev/null 2>&1 && return 0
		if ! kill -0 "$RF_PID" 2>/dev/null; then
			wait "$RF_PID"
			rc=$?
			diag "reflectord exited with status $rc at start-up"
			RF_PID=
			_show_logs
			return 1
		fi
		sleep 0.1
	done
	diag "reflectord (pid $RF_PID) did not answer health checks" \
	    "within $((10 * MULT)) s"
	_show_logs
	return 1
}

_show_logs() {
	local f
	for f in "$TRASH/reflectord.stderr" "$TRASH/reflectord.log"; do
		if [ -s "$f" ]; then
			diag "--- last lines of ${f##*/}:"
			diag "$(tail -n 15 "$f")"
		fi
	done
}

# stop_reflectord: SIGTERM, then SIGKILL if it is still there after 10 s
# (times MULT).  Returns reflectord's exit status (137 if it was killed).
# term_wait PID: SIGTERM to PID, a child of this shell, then up to 5 s for
# it to exit (SIGKILL after that); returns its exit status.
term_wait() {
	local rc=0
	_kill_wait TERM $((5 * MULT)) "$1" || kill -KILL "$1" 2>/dev/null
	wait "$1" || rc=$?
	return "$rc"
}

stop_reflectord() {
	local rc=0
	[ -n "${RF_PID:-}" ] || return 0
	if ! _kill_wait TERM $((10 * MULT)) "$RF_PID"; then
		diag "reflectord (pid $RF_PID) ignored SIGTERM: killing it"
		kill -KILL "$RF_PID" 2>/dev/null
	fi
	wait "$RF_PID" 2>/dev/null || rc=$?
	RF_PID=
	return "$rc"
}

# json_field JSON KEY: the value of KEY in a flat JSON object (as health
# gives), without quotes; empty if KEY is not there.  Not a JSON parser:
# nested objects and escaped quotes are beyond it.
json_field() {
	printf '%s\n' "$1" | sed -nE \
	    's/.*"'"$2"'"[[:space:]]*:[[:space:]]*("([^"]*)"|([^,}[:space:]]*)).*/\2\3/p' |
	    head -n 1
}

# worker_pids: the pids of reflectord's workers, one a line.
worker_pids() {
	pgrep -P "$RF_PID"
}

# routing_put DEVICE SLOT...: writes routing-map entries (LMDB "owner",
# struct rf_owner_rec in common/db.h) as the worker in SLOT would when it
# holds DEVICE's tunnel; needs mdb_load from lmdb-utils.
routing_put() {
	{
		printf 'VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n'
		while [ $# -ge 2 ]; do
			printf ' %s\n ' "$(printf '%s' "$1" | od -An -tx1 | tr -d ' \n')"
			printf '01000000'		# version 1
			printf '%02x000000' "$2"	# slot
			printf '01000000'		# generation 1
			printf '00000000'		# pad
			printf '0000000000000000'	# since
			printf '00%.0s' $(seq 48)	# peer
			echo
			shift 2
		done
		printf 'DATA=END\n'
	} >"$TRASH/owner.dump"
	mdb_load -n -s owner -f "$TRASH/owner.dump" "$TRASH/run/routing.mdb"
}

# agent_config [LOGFILE]: prints the head of a reflector-agent.yml for this
# test's reflectord (the test CA, reconnects capped at 2 s, the log in
# LOGFILE, default $TRASH/agent.log); the caller adds "devices:" and more.
agent_config() {
	cat <<EOT
reflector: https://localhost:$HTTPS_PORT/
ca_file: $TRASH/tls/ca.pem
reconnect_max: 2s
log:
  level: debug1
  target: file
  file: ${1:-$TRASH/agent.log}
EOT
}

# agent_yml FILE ID GROUP PASSWORD PORTS: FILE is an agent config (see
# agent_config) with the one device ID of GROUP, its PASSWORD, and PORTS
# as the YAML list's inside ("http: 8080").
agent_yml() {
	{ agent_config; cat <<EOT; } >"$1"
devices:
  - id: $2
    group: $3
    password: "$4"
    ports: [$5]
EOT
}

# log_has ERE: the reflectord log has a line matching ERE.
log_has() {
	grep -Eq -- "$1" "$TRASH/reflectord.log" 2>/dev/null
}

# device_secret ID [GROUP]: a fresh generated secret for device ID from
# reflectorctl new-device-secret: sets DEV_SECRET (what the agent sends)
# and DEV_HASH (what reflector.yml keeps); its output is in secret.ID.
device_secret() {
	"$RF_BUILD/server/reflectorctl" new-device-secret "$1" "${2:-default}" \
	    >"$TRASH/secret.$1" || return 1
	DEV_SECRET=$(sed -n 's/^#   secret: //p' "$TRASH/secret.$1")
	DEV_HASH=$(sed -n 's/^ *secret: "\(.*\)"$/\1/p' "$TRASH/secret.$1")
	[ -n "$DEV_SECRET" ] && [ -n "$DEV_HASH" ]
}

# need PROG...: skips the whole test unless every PROG is there: a path
# must be executable (a program of this build), a bare name on PATH.
need() {
	local p
	for p in "$@"; do
		case $p in
		/*) [ -x "$p" ] || skip_all "${p#"$RF_BUILD"/} is not built" ;;
		*) command -v "$p" >/dev/null || skip_all "$p is not installed" ;;
		esac
	done
}

# user_hash PASSWORD: the reflector.yml hash of a browser user's password
# (reflectorctl hash-password); sets USER_HASH.
user_hash() {
	USER_HASH=$(printf '%s\n' "$1" | "$RF_BUILD/server/reflectorctl" \
	    hash-password) && [ -n "$USER_HASH" ]
}

# start_device_reflector DEVICE: the reflector most end-to-end tests
# start, with ${WORKERS:-2} workers: certificates for DEVICE.localhost, the
# device DEVICE and the user alice (password $PASSWORD, "correct horse")
# who may reach it.  Sets PASSWORD, USER_HASH, DEV_SECRET and DEV_HASH;
# bails out when it cannot.  start_dev1_reflector: the same for dev1.
start_device_reflector() {
	local dev=$1
	make_certs "$TRASH/tls" "$dev.localhost" >/dev/null 2>&1 ||
		bail "scripts/mkcert failed"
	PASSWORD='correct horse'
	user_hash "$PASSWORD" || bail "reflectorctl hash-password failed"
	device_secret "$dev" || bail "reflectorctl new-device-secret failed"
	cat >"$TRASH/extra.yml" <<EOT
devices:
  - id: $dev
    secret: "$DEV_HASH"
users:
  - name: alice
    password: "$USER_HASH"
    devices: [$dev]
EOT
	WORKERS=${WORKERS:-2} write_config reflector.yml extra.yml ||
		bail "cannot write the config"
	start_reflectord || bail "reflectord did not start"
}

start_dev1_reflector() {
	start_device_reflector dev1
}

# ucurl USER:PASSWORD ARGS...: curl as a browser user of reflector.yml,
# verifying the test CA, every host name on 127.0.0.1.
ucurl() {
	local cred=$1
	shift
	curl -sS --max-time $((120 * MULT)) --cacert "$TRASH/tls/ca.pem" \
	    -u "$cred" --connect-to "::127.0.0.1:" "$@"
}

# start_device_httpd DIR: t/helpers/device-httpd serving DIR on a free
# loopback port, its request log in $TRASH/device.log; sets DPORT and
# HTTPD_PID.
start_device_httpd() {
	DPORT=$(free_port) || return 1
	spawn "$RF_BUILD/t/helpers/device-httpd" -p "$DPORT" -d "$1" \
	    -l "$TRASH/device.log"
	HTTPD_PID=$SPAWN_PID
	wait_for 5 grep -q listening "$TRASH/spawn.$((${#_tap_pids[@]} - 1)).log" &&
		return 0
	diag "device-httpd did not start"
	return 1
}

# start_echo_server: t/lib/echo-server.py, a TCP echo service for a
# device's port, on loopback port EPORT (a free one if EPORT is unset).
start_echo_server() {
	[ -n "${EPORT:-}" ] || EPORT=$(free_port) || return 1
	spawn python3 "$RF_TOP/t/lib/echo-server.py" "$EPORT"
	wait_for 5 grep -q listening "$TRASH/spawn.$((${#_tap_pids[@]} - 1)).log" &&
		return 0
	diag "the echo server did not start"
	return 1
}

# ------------------------------------------------------------ tinyproxy ----

TINYPROXY=/usr/bin/tinyproxy

# start_tinyproxy NAME [EXTRA_LINE]: tinyproxy (the Debian package) in the
# foreground on a free loopback port, allowed to CONNECT only to the
# reflector's port; its log is $TRASH/NAME.log; sets TP_PORT.  EXTRA_LINE
# is one more line of its configuration, e.g. "BasicAuth user password".
start_tinyproxy() {
	local name=$1 extra=${2:-}
	TP_PORT=$(free_port) || return 1
	cat >"$name.conf" <<EOT
Port $TP_PORT
Listen 127.0.0.1
Allow 127.0.0.1
ConnectPort $HTTPS_PORT
Timeout 30
MaxClients 20
LogLevel Info
LogFile "$TRASH/$name.log"
PidFile "$TRASH/$name.pid"
$extra
EOT
	spawn "$TINYPROXY" -d -c "$TRASH/$name.conf"
	wait_for 5 grep -q 'Starting main loop' "$TRASH/$name.log" && return 0
	diag "tinyproxy $name did not start:"
	diag "$(tail -n 5 "$TRASH/$name.log" "$TRASH/spawn.$((${#_tap_pids[@]} - 1)).log" 2>&1)"
	return 1
}

# ------------------------------------------- keep-alive connections ----
#
# A named HTTPS connection that stays open between requests, for tests of
# what happens to open connections across a reload, a respawn or a stop.
# openssl s_client carries it: to 127.0.0.1:$HTTPS_PORT with SNI and
# certificate name "localhost", verified against $TRASH/tls/ca.pem.  Its pid
# is in KA_PID_<name>; it exits when the server closes the connection.
# NAME is letters, digits and "_".
#
#   ka_open NAME         connects; fails if the TLS handshake does
#   ka_send NAME [PATH]  sends a whole GET PATH (default /.reflector/health)
#   ka_write NAME BYTES  sends BYTES as they are, after printf's escapes (\r\n)
#   ka_wait NAME N       waits until N complete responses have arrived
#   ka_responses NAME    the number of complete responses so far
#   ka_last NAME         the body of the last complete response
#   ka_close NAME        closes the connection

ka_open() {
	local name=$1 dir=$TRASH/ka.$1 pid fd i
	rm -rf "$dir"
	mkdir -p "$dir" && mkfifo "$dir/in" || return 1
	openssl s_client -quiet -state -connect "127.0.0.1:$HTTPS_PORT" \
	    -servername localhost -verify_hostname localhost \
	    -CAfile "$TRASH/tls/ca.pem" -verify_return_error \
	    <"$dir/in" >"$dir/out" 2>"$dir/err" &
	pid=$!
	track_pid "$pid"
	# Held open by the test until ka_close; opening blocks until
	# s_client has opened the other end.
	exec {fd}>"$dir/in"
	printf -v "KA_PID_$name" %s "$pid"
	printf -v "KA_FD_$name" %s "$fd"
	for ((i = 0; i < 100 * MULT; i++)); do
		grep -q 'negotiation finished successfully' "$dir/err" &&
			return 0
		if ! kill -0 "$pid" 2>/dev/null; then
			diag "ka_open $name: the connection failed:"
			diag "$(grep -v '^SSL_connect:' "$dir/err" | tail -n 5)"
			return 1
		fi
		sleep 0.1
	done
	diag "ka_open $name: no TLS handshake within $((10 * MULT)) s"
	return 1
}

ka_write() {
	local fd_var=KA_FD_$1
	# shellcheck disable=SC2059 # the bytes are the format, on purpose
	printf "$2" >&"${!fd_var}"
}

ka_send() {
	ka_write "$1" "GET ${2:-/.reflector/health} HTTP/1.1\r\nHost: localhost\r\n\r\n"
}

# _ka_parse NAME count|last: reads the responses received so far; only
# complete ones count (Content-Length, chunked, or no body for 1xx/204/304).
_ka_parse() {
	perl -e '
		open(my $f, "<", $ARGV[0]) or exit 0;
		local $/;
		my $d = <$f> // "";
		my ($n, $last) = (0, "");
		RESPONSE: while ($d =~ /\G(HTTP\/1\.[01] (\d{3})[^\r\n]*)\r\n((?:[^\r\n]+\r\n)*)\r\n/gc) {
			my ($status, $head, $body) = ($2, $3, "");
			if ($status =~ /^(1..|204|304)$/) {
				# no body
			} elsif ($head =~ /^content-length:\s*(\d+)\r?$/mi) {
				last if length($d) - pos($d) < $1;
				$body = substr($d, pos($d), $1);
				pos($d) += $1;
			} elsif ($head =~ /^transfer-encoding:\s*chunked\r?$/mi) {
				for (;;) {
					last RESPONSE unless $d =~ /\G([0-9a-fA-F]+)[^\r\n]*\r\n/gc;
					my $len = hex $1;
					if ($len == 0) {
						last RESPONSE unless $d =~ /\G(?:[^\r\n]+\r\n)*\r\n/gc;
						last;
					}
					last RESPONSE if length($d) - pos($d) < $len + 2;
					$body .= substr($d, pos($d), $len);
					pos($d) += $len + 2;
				}
			} else {
				# Delimited by the end of the connection.
				$body = substr($d, pos($d));
				pos($d) = length($d);
			}
			$n++;
			$last = $body;
		}
		print $ARGV[1] eq "count" ? "$n\n" : $last;
	' "$TRASH/ka.$1/out" "$2"
}

ka_responses() {
	_ka_parse "$1" count
}

ka_last() {
	_ka_parse "$1" last
}

ka_wait() {
	local name=$1 want=$2 i
	for ((i = 0; i < 100 * MULT; i++)); do
		[ "$(ka_responses "$name")" -ge "$want" ] && return 0
		sleep 0.1
	done
	diag "ka_wait $name: $(ka_responses "$name") responses, not $want," \
	    "after $((10 * MULT)) s"
	return 1
}

ka_close() {
	local fd_var=KA_FD_$1 pid_var=KA_PID_$1 fd
	fd=${!fd_var:-}
	[ -n "$fd" ] && exec {fd}>&-
	kill "${!pid_var}" 2>/dev/null
	wait "${!pid_var}" 2>/dev/null
	printf -v "$fd_var" %s ""
	return 0
}
