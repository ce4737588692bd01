#!/usr/bin/env bash
#
# reflectord -t and -T on real files: every class of configuration error
# fails "reflectord -t" with exit status 1 and a line "bad.yml:LINE:COL:"
# that says what is wrong; the shipped conf/reflector.yml passes (with the
# certificate paths pointed at test certificates); -T prints the effective
# configuration, which is itself a valid configuration file.
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

[ -x "$REFLECTORD" ] || skip_all "reflectord is not built ($REFLECTORD)"
make_certs "$TRASH/tls" >/dev/null 2>&1 || bail "scripts/mkcert failed"

# t_bad DESC WANT: "reflectord -t -c bad.yml" must exit 1 and print the
# fixed string WANT ("bad.yml:LINE:COL: what") on stderr.
t_bad() {
	local desc=$1 want=$2 rc=0

	"$REFLECTORD" -t -c bad.yml >out.txt 2>err.txt || rc=$?
	is "$rc" 1 "$desc: -t exits 1"
	if ! ok "$desc: -t says '$want'" grep -qF -- "$want" err.txt; then
		diag "stderr was:"
		diag "$(cat err.txt)"
	fi
}

# Writes bad.yml from the arguments, one line each.
bad_yml() {
	printf '%s\n' "$@" >bad.yml
}

bad_yml 'domain: [a.example'
t_bad "YAML syntax error" "bad.yml:2:1: YAML syntax error: did not find expected ',' or ']'"
like "$(cat err.txt)" "configuration file bad\.yml test failed" \
    "-t ends a failure with 'test failed'"

bad_yml 'workrs: 4'
t_bad "unknown key" "bad.yml:1:1: unknown key 'workrs'; did you mean 'workers'?"

bad_yml 'limits:' '  colour: red'
t_bad "unknown key in a section" "bad.yml:2:3: unknown key 'colour' in 'limits'"

bad_yml 'workers: [1]'
t_bad "wrong type" "bad.yml:1:10: 'workers' must be a number or 'auto', not a list"

bad_yml 'limits:' '  max_connections: 5'
t_bad "value out of range" "bad.yml:2:20: 'limits.max_connections' must be between 16 and 1000000, got 5"

bad_yml 'limits:' '  handshake_timeout: 10m'
t_bad "duration out of range" "bad.yml:2:22: 'limits.handshake_timeout' must be between 1 and 300 seconds, got 10m"

bad_yml 'log:' '  level: loud'
t_bad "bad enum" "bad.yml:2:10: 'log.level' must be one of quiet, fatal, error, info, verbose, debug1, debug2 or debug3, got 'loud'"

bad_yml 'domain: Reflector.Example.NET'
t_bad "bad host name" "bad.yml:1:9: 'domain' must be a lowercase DNS name"

bad_yml 'workers: 2' 'workers: 3'
t_bad "duplicate key" "bad.yml:2:1: duplicate key 'workers' (first set at line 1)"

bad_yml 'domain: &d example.net'
t_bad "anchor" "bad.yml:1:9: anchors ('&d') are not supported"

bad_yml 'x: 1' 'y: *x'
t_bad "alias" "bad.yml:2:4: aliases ('*x') are not supported"

bad_yml '- domain: example.net'
t_bad "root not a mapping" "bad.yml:1:1: the file must be a mapping of keys"

bad_yml 'workers: 2' '---' 'workers: 3'
t_bad "two documents" "bad.yml:2:1: a second YAML document starts here"

bad_yml 'devices:' '  - id: cam-1' '    group: lab'
t_bad "missing required key" "bad.yml:2:5: this 'devices' entry has no 'secret'; it is required"

bad_yml 'devices:' '  - {id: cam-1, secret: a}' '  - {id: cam-1, secret: b}'
t_bad "duplicate device id" "bad.yml:3:10: 'devices' has two entries with id 'cam-1' (the first at line 2)"

bad_yml 'users:' '  - {name: "a b", password: p}'
t_bad "bad user name" "bad.yml:2:12: 'users.name' must be 1 to 64 of"

bad_yml 'listen:' '  https: ["127.0.0.1:443", "127.0.0.1:443"]'
t_bad "duplicate listen address" "bad.yml:2:28: listen address '127.0.0.1:443' is given twice (also at line 2, column 11)"

bad_yml 'listen:' '  https: ["localhost:443"]'
t_bad "listen address not numeric" "bad.yml:2:11: 'listen.https' address 'localhost:443': the address must be numeric"

bad_yml 'listen:' '  https: []'
t_bad "no listener" "bad.yml:2:10: no address to listen on"

for i in $(seq 1 25); do echo "bad$i: x"; done >bad.yml
t_bad "too many errors" "bad.yml:21:1: too many errors; stopping here"
is "$(grep -c '^bad\.yml:' err.txt)" 21 "too many errors: 20 errors, then the stop line"

bad_yml 'tls:' "  certificate: $TRASH/tls/missing.pem" "  key: $TRASH/tls/key.pem"
t_bad "unreadable certificate, at its key" "bad.yml:2:16: cannot load certificate"

rc=0
"$REFLECTORD" -t -c missing.yml >out.txt 2>err.txt || rc=$?
is "$rc" 1 "a missing file: -t exits 1"
like "$(cat err.txt)" "^missing\.yml: cannot open: No such file" \
    "a missing file: -t says it cannot open it"

# The shipped example, with its certificate paths pointed at test ones.
sed -e "s|/etc/reflector/cert\.pem|$TRASH/tls/cert.pem|" \
    -e "s|/etc/reflector/key\.pem|$TRASH/tls/key.pem|" \
    "$RF_TOP/conf/reflector.yml" >example.yml
rc=0
"$REFLECTORD" -t -c example.yml >out.txt 2>err.txt || rc=$?
if ! is "$rc" 0 "the shipped example passes -t"; then
	diag "$(cat err.txt)"
fi
like "$(cat err.txt)" "^reflectord: configuration file example\.yml test is successful$" \
    "-t says the test is successful"
rc=0
"$REFLECTORD" -T -c example.yml >dump.txt 2>err.txt || rc=$?
is "$rc" 0 "the shipped example passes -T"
like "$(cat dump.txt)" '^domain: "reflector\.example\.net"$' \
    "-T prints the example's domain"
like "$(cat dump.txt)" '^workers: [0-9]+ # auto$' \
    "-T prints workers: auto as the resolved number"

cat >good.yml <<EOF
domain: dump.example.net
listen:
  https: ["127.0.0.1:8443"]
  http: ["[::1]:8080"]
tls:
  certificate: $TRASH/tls/cert.pem
  key: $TRASH/tls/key.pem
workers: 3
limits: {handshake_timeout: 2m}
devices:
  - {id: cam-1, secret: "\$argon2id\$x"}
EOF
rc=0
"$REFLECTORD" -T -c good.yml >dump.yml 2>err.txt || rc=$?
is "$rc" 0 "-T on a valid file exits 0"
dump=$(cat dump.yml)
like "$dump" '^workers: 3$' "-T prints the configured workers"
like "$dump" '^domain: "dump\.example\.net"$' "-T prints the configured domain"
like "$dump" '^  handshake_timeout: 120s$' "-T prints durations in seconds"
like "$dump" '^  max_connections: 10000$' "-T prints defaults too"
like "$dump" '^  https: \["127\.0\.0\.1:8443"\]$' "-T prints the listeners"
like "$dump" '^  - id: "cam-1"$' "-T prints the devices"
ok "the output of -T passes -t" "$REFLECTORD" -t -c dump.yml
rc=0
"$REFLECTORD" -T -c dump.yml >dump2.yml 2>err.txt || rc=$?
is "$(sed 1,2d dump2.yml)" "$(sed 1,2d dump.yml)" \
    "-T of the output of -T prints the same keys"

done_testing
