#!/usr/bin/env bash
#
# reflector-agent -t and -T: the shipped conf/reflector-agent.yml passes;
# every class of error fails "-t" with exit status 1 and a line
# "bad.yml:LINE:COL: what" (or "bad.yml: what" for a key that is missing);
# -T prints the effective configuration, which loads back unchanged.
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

AGENT=$RF_BUILD/agent/reflector-agent
[ -x "$AGENT" ] || skip_all "reflector-agent is not built ($AGENT)"

# t_bad DESC WANT: "reflector-agent -t -c bad.yml" exits 1 and prints the
# fixed string WANT on stderr.
t_bad() {
	local desc=$1 want=$2 rc=0

	"$AGENT" -t -c bad.yml >out.txt 2>err.txt || rc=$?
	is "$rc" 1 "$desc: -t exits 1"
	if ! ok "$desc: -t says '$want'" grep -qF -- "$want" err.txt; then
		diag "stderr was:"
		diag "$(cat err.txt)"
	fi
}

bad_yml() {
	printf '%s\n' "$@" >bad.yml
}

HEAD=('reflector: https://reflector.example.net/' 'devices:' '  - id: dev1' \
    '    password: pw')

ok "the shipped example passes -t" "$AGENT" -t -c "$RF_TOP/conf/reflector-agent.yml"
like "$(cat "$TRASH/.cmd-output")" "test is successful" "-t says so"

ok "-T prints the example" sh -c "'$AGENT' -T -c '$RF_TOP/conf/reflector-agent.yml' >dump1.yml"
ok "the dump passes -t" "$AGENT" -t -c dump1.yml
"$AGENT" -T -c dump1.yml | sed 1,2d >dump2.yml
sed 1,2d dump1.yml >dump1-body.yml
ok "the dump of the dump is the same" cmp dump1-body.yml dump2.yml
like "$(cat dump1.yml)" '^keepalive: 60s$' "-T shows defaults"

bad_yml 'reflector: [x'
t_bad "YAML syntax error" "bad.yml:2:1: YAML syntax error"
like "$(cat err.txt)" "configuration file bad\.yml test failed" \
    "-t ends a failure with 'test failed'"

bad_yml "${HEAD[@]}" '    ports: [22]' 'refletor: x'
t_bad "unknown key" "bad.yml:6:1: unknown key 'refletor'; did you mean 'reflector'?"

bad_yml 'devices:' '  - {id: a, password: p, ports: [22]}'
t_bad "no reflector" "bad.yml: 'reflector' is required"

bad_yml "${HEAD[@]}" '    ports: [22, 99999]'
t_bad "port out of range" "bad.yml:5:17: 'devices.ports' port must be a number between 1 and 65535, got '99999'"

bad_yml "${HEAD[@]}" '    ports: [telnet: 23]'
t_bad "unknown port name" "bad.yml:5:13: 'devices.ports' port name 'telnet' must be http, https, ssh, vnc, rdp, vpn or app"

bad_yml "${HEAD[@]}"
t_bad "no ports" "bad.yml:3:5: this 'devices' entry has no 'ports'; it is required"

bad_yml 'reflector: https://r/' 'devices:' '  - id: Dev_1' '    password: p' '    ports: [22]'
t_bad "bad device id" "bad.yml:3:9: 'devices.id' must be 1 to 63 of a-z, 0-9 and '-'"

bad_yml "${HEAD[@]}" '    ports: [22]' 'reconnect_max: 0s'
t_bad "duration out of range" "bad.yml:6:16: 'reconnect_max' must be between 1 and 3600 seconds, got 0s"

bad_yml "${HEAD[@]}" '    ports: [22]' 'proxy:' '  url: http://proxy:3128' '  password: x'
t_bad "proxy password without user" "bad.yml:8:13: 'proxy.password' needs 'proxy.username'"

bad_yml "${HEAD[@]}" '    ports: [22]' '    properties: {httpPort: 80}'
t_bad "reserved property" "bad.yml:6:18: 'devices.properties' cannot set 'httpPort'"

rc=0
"$AGENT" -t -c "$TRASH/does-not-exist.yml" 2>err.txt || rc=$?
is "$rc" 1 "a missing file: -t exits 1"
like "$(cat err.txt)" "does-not-exist.yml: cannot open: No such file" "and says why"

like "$("$AGENT" -V)" '^reflector-agent [0-9]' "-V prints the version"
rc=0
"$AGENT" -x 2>err.txt || rc=$?
is "$rc" 1 "an unknown option exits 1"
like "$(cat err.txt)" '^usage: reflector-agent \[-dfhtTV\] \[-c config_file\]' "with the usage"

done_testing
