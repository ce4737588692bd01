#!/usr/bin/env bash
# Devices in the registry: reflectorctl adds one to a running reflector,
# which lets its agent in at once (no reload), lists it, and after
# removal refuses it; a device of reflector.yml wins over the registry.
. "$(dirname "$0")/lib/test-lib.sh"

CTL=$RF_BUILD/server/reflectorctl
command -v python3 >/dev/null || skip_all "python3 is needed for the scripted agent"

cat >devices.yml <<EOT
devices:
  - id: yml1
    group: plant
    secret: "$(printf 'yml-secret\n' | "$CTL" hash-password)"
EOT
write_config reflector.yml devices.yml
start_reflectord || bail "reflectord did not start"

wtagent() { # ID GROUP SECRET
	timeout $((10 * MULT)) python3 "$RF_TOP/t/lib/wt-agent.py" 127.0.0.1 \
	    "$HTTPS_PORT" "$TRASH/tls/ca.pem" "$1" "$2" "$3" handshake
}

out=$("$CTL" -c "$CONF" device add pump-9 plant "Pump 9")
is "$?" 0 "reflectorctl device add"
secret=$(sed -n 's/^secret: //p' <<<"$out")
like "$secret" '^[A-Za-z0-9_-]{22}$' "it prints a 128-bit secret once"
unlike "$(cat "$TRASH/state/registry.mdb" | tr -c '[:print:]' '\n')" "$secret" \
    "the registry does not hold the secret itself"
like "$("$CTL" -c "$CONF" device list)" $'^pump-9\tplant\tPump 9$' "device list shows it"
nok "adding it twice is refused" "$CTL" -c "$CONF" device add pump-9
nok "a bad id is refused" "$CTL" -c "$CONF" device add Pump_9

like "$(wtagent pump-9 plant "$secret")" '^status HTTP/1.1 101' \
    "the running reflector lets the new device in, no reload needed"
ok "it comes online" wait_for 5 log_has 'device pump-9 online'
like "$(wtagent pump-9 other "$secret")" '^status HTTP/1.1 401' "the wrong group is 401"
like "$(wtagent yml1 plant yml-secret)" '^status HTTP/1.1 101' \
    "a device of reflector.yml still works"

ok "reflectorctl device remove" "$CTL" -c "$CONF" device remove pump-9
unlike "$("$CTL" -c "$CONF" device list)" 'pump-9' "the list no longer has it"
like "$(wtagent pump-9 plant "$secret")" '^status HTTP/1.1 401' \
    "a removed device is refused"
nok "removing it again says so" "$CTL" -c "$CONF" device remove pump-9
like "$(cat "$TRASH/.cmd-output")" 'not in the registry' "  ... not in the registry"
ok "TERM stops it with status 0" stop_reflectord
done_testing
