#!/usr/bin/env bash
#
# Keeps the benchmark harness working: scripts/bench --only idle,storm with
# 1000 idle devices and a storm of 500 (t/helpers/loadgen against a real
# reflectord).  The figures are not asserted, only that the run ends well,
# that every device came up, and that browser requests were answered
# during the storm.
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

[ -x "$RF_BUILD/t/helpers/loadgen" ] || skip_all "t/helpers/loadgen is not built"
command -v curl >/dev/null || skip_all "curl not installed"

out=$(env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS timeout $((300 * MULT)) \
    "$RF_TOP/scripts/bench" --only idle,storm --idle 1000 --storm 500 \
    --dir "$TRASH/bench" 2>bench.err)
rc=$?
printf '%s\n' "$out" >bench.out
is "$rc" 0 "scripts/bench --only idle,storm ends with status 0"
fig() { sed -n "s/^$1=//p" bench.out | tail -n 1; }
is "$(fig idle_devices)" 1000 "1000 idle devices came up"
like "$(fig idle_kib_per_device)" '^[0-9]+(\.[0-9]+)?$' \
    "  ... and a memory figure per device ($(fig idle_kib_per_device) KiB)"
is "$(fig storm_devices)" 500 "a storm of 500: all came up"
like "$(fig storm_seconds)" '^[0-9]+(\.[0-9]+)?$' \
    "  ... in a time ($(fig storm_seconds) s)"
ans=$(fig storm_browser_answered)
ok "browser requests were answered during the storm (${ans:-none})" \
    test "${ans:-0}" -gt 0
[ "$rc" = 0 ] || diag "$(tail -n 20 bench.err)"

done_testing
