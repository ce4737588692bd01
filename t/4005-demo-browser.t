#!/usr/bin/env bash
#
# The README's quick start, as a person would try it: scripts/demo in the
# background, then a real browser, headless Chromium, opens the demo device
# at https://demo.localhost:PORT/, is sent to the portal's login form, logs
# in as the demo user with the password scripts/demo printed, and lands back
# on the device's own page ("Hello from the demo device"); a screenshot of it
# is kept in $TRASH/browser/device.png (RF_TEST_LEAVE=1 keeps it); a second
# tab of the same browser context gets the device page without logging in
# again.
#
# t/lib/browser-demo.js drives Chromium over its DevTools pipe with Node's
# standard library: no npm package, no download.  Needs node and Debian's
# chromium (scripts/packages); skipped without them.  Takes about 5 s
# once everything is built.
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

CHROMIUM=${RF_CHROMIUM:-/usr/bin/chromium}
[ "$RF_BUILD" = "$RF_TOP" ] || skip_all "scripts/demo builds and runs in the source tree only"
command -v node >/dev/null || skip_all "node not installed (Debian package nodejs)"
node -e 'process.exit(+process.versions.node.split(".")[0] >= 16 ? 0 : 1)' ||
	skip_all "node $(node --version) is older than 16"
[ -x "$CHROMIUM" ] || skip_all "$CHROMIUM not installed (Debian package chromium)"
for cmd in openssl ss timeout; do
	command -v "$cmd" >/dev/null || skip_all "$cmd not installed"
done

# --- scripts/demo, as the README says, on a free port -----------------------------
PORT=$(free_port) || bail "no free port"
URL=https://demo.localhost:$PORT/
# Not the make that may be running make check: scripts/demo runs its own
# (a no-op once built) and must not inherit the outer one's jobserver.
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL DEMO_PORT="$PORT" DEMO_DIR="$TRASH/demo" \
    "$RF_TOP/scripts/demo" >demo.out 2>&1 </dev/null &
DEMO_PID=$!
track_pid "$DEMO_PID"

# demo_wait SECONDS ERE: until demo.out has a line matching ERE; fails at
# once if scripts/demo exits.
demo_wait() {
	local end=$((SECONDS + $1 * MULT))
	while [ "$SECONDS" -lt "$end" ]; do
		grep -Eq -- "$2" demo.out && return 0
		kill -0 "$DEMO_PID" 2>/dev/null || break
		sleep 0.2
	done
	grep -Eq -- "$2" demo.out && return 0
	if kill -0 "$DEMO_PID" 2>/dev/null; then
		diag "scripts/demo printed no /$2/ within $(($1 * MULT)) s"
	else
		diag "scripts/demo exited before printing /$2/"
	fi
	diag "--- last lines of demo.out:"
	diag "$(tail -n 20 demo.out)"
	return 1
}

# It may have to build first (a no-op under make check).
demo_wait 300 '^ *log in as: ' || bail "scripts/demo did not start"
PASSWORD=$(sed -n 's|^ *log in as: *demo / *||p' demo.out | head -n 1)
like "$PASSWORD" '^[A-Za-z0-9]{6,}$' "scripts/demo prints the demo user's password"
ok "the demo device comes online" demo_wait 20 'device demo online'

# --- the browser ------------------------------------------------------------------
# Chromium must trust the demo's certificate without importing its CA into a
# system or NSS store.  --ignore-certificate-errors-spki-list=HASH makes it
# accept a certificate chain that contains a public key whose SubjectPublic-
# KeyInfo has that SHA-256 (base64): only the reflector's own key, generated
# in $TRASH for this run, not certificate errors in general.  (Chromium
# honours the flag only together with --user-data-dir; we give a fresh one.)
SPKI=$(openssl x509 -in demo/tls/cert.pem -noout -pubkey |
    openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | base64)
like "$SPKI" '^[A-Za-z0-9+/]{43}=$' "the SHA-256 of the reflector key's SPKI"

# Node closes Chromium on every way out; this is for a node killed with
# SIGKILL (timeout -k): Chromium's process group, if it is still ours.
# shellcheck disable=SC2016 # expanded when the test ends, on purpose
defer 'p=$(cat "$TRASH/browser/chromium.pid" 2>/dev/null) &&
    grep -qa -- "$TRASH/browser/profile" "/proc/$p/cmdline" 2>/dev/null &&
    kill -KILL -- "-$p" 2>/dev/null'

start=$SECONDS
BROWSER_DEMO_PASSWORD=$PASSWORD timeout -k 5 $((180 * MULT)) \
    node "$RF_TOP/t/lib/browser-demo.js" --chromium "$CHROMIUM" --url "$URL" \
    --user demo --spki "$SPKI" --dir "$TRASH/browser" --step $((20 * MULT)) \
    >browser.out 2>browser.err
rc=$?
diag "the browser's visit took $((SECONDS - start)) s"
if ! is "$rc" 0 "Chromium logs in and reaches the device"; then
	diag "--- browser.out:"
	diag "$(cat browser.out)"
	diag "--- browser.err:"
	diag "$(tail -n 20 browser.err)"
	diag "--- last lines of chromium.log:"
	diag "$(tail -n 10 "$TRASH/browser/chromium.log" 2>/dev/null)"
	diag "--- last lines of demo.out:"
	diag "$(tail -n 10 demo.out)"
fi
got() {
	sed -n "s/^$1=//p" browser.out | head -n 1
}
P=https://localhost:$PORT
D=https://demo\\.localhost:$PORT
diag "$(got browser)"

# 1. No session: the device host sends the browser to the portal's login.
like "$(got login_url)" "^$P/\\.reflector/login\\?" "without a session: on the portal's login page"
like "$(got login_title)" '^Log in' "  ... titled 'Log in'"
like "$(got login_chain)" "^302 $D/ \\| 30[23] $P/\\.reflector/authorize\\?" \
    "  ... sent there by the device host through authorize"

# 2. Logged in: back through authorize and the session token to the device.
is "$(got device_url)" "$URL" "after logging in: back on $URL"
like "$(got device_text)" 'Hello from the demo device' "  ... showing the device's own page"
like "$(got device_chain)" "$P/\\.reflector/login \\|.*$P/\\.reflector/authorize\\?.*\\| 302 $D/\\.reflector/session\\?token=.*\\| 200 $D/\$" \
    "  ... by way of login, authorize and a one-use session token"
ok "a screenshot of it" test -s "$TRASH/browser/device.png"
is "$(head -c 8 "$TRASH/browser/device.png" 2>/dev/null | od -An -tx1 | tr -d ' \n')" \
    89504e470d0a1a0a "  ... in PNG"

# 3. A second tab of the same browser context: the device cookie suffices.
is "$(got again_url)" "$URL" "a second tab: $URL"
is "$(got again_login_form)" no "  ... without the login form"
like "$(got again_text)" 'Hello from the demo device' "  ... showing the device's page"
is "$(got again_chain)" "200 $URL" "  ... straight away, with no redirect"
is "$(got closed)" yes "Chromium closed"

ok "scripts/demo is still running" kill -0 "$DEMO_PID"
done_testing
