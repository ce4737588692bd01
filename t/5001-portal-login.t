#!/usr/bin/env bash
# The portal: log in with a password made by reflectorctl hash-password,
# a host-only session cookie honoured by both workers, the list of devices
# the user may reach, /.reflector/authorize's redirect to the device host
# with a one-time token, 403 for a device not granted, CSRF refusal of a
# login POSTed from another origin, logout, and the limit on failed logins.
. "$(dirname "$0")/lib/test-lib.sh"

command -v curl >/dev/null || skip_all "curl not installed"
CTL=$RF_BUILD/server/reflectorctl

make_certs "$TRASH/tls" dev1.localhost dev2.localhost plc-7.localhost
hash=$(printf 'correct horse\n' | "$CTL" hash-password) ||
	bail "reflectorctl hash-password failed"
secret_hash=$("$CTL" new-device-secret | sed -n 's/^ *secret: "\(.*\)"$/\1/p')
cat >extra.yml <<EOT
devices:
  - id: dev1
    name: "Boiler <room>"
    secret: "$secret_hash"
  - id: dev2
    secret: "$secret_hash"
  - id: plc-7
    secret: "$secret_hash"
users:
  - name: alice
    password: "$hash"
    devices: [dev1, "plc-*"]
EOT
write_config reflector.yml extra.yml
start_reflectord || bail "reflectord did not start"

BASE=https://localhost:$HTTPS_PORT
ORIGIN="Origin: $BASE"
c() { curl -sS --max-time 10 --cacert "$TRASH/tls/ca.pem" "$@"; }
# post_login USER PASSWORD [CURL ARGS...]: the login form as a browser
# sends it; prints the head (-D -) and keeps the body in login.html.
post_login() {
	local u=$1 p=$2
	shift 2
	c -o login.html -D - --data-urlencode "user=$u" \
	    --data-urlencode "password=$p" --data-urlencode "return=/" "$@" \
	    "$BASE/.reflector/login"
}
status() { sed -n '1s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p' | tr -d '\r'; }
header() { tr -d '\r' | sed -n "s/^$1: //Ip" | head -n 1; }

# --- the login page ---------------------------------------------------------
head=$(c -D - -o page.html "$BASE/.reflector/login")
is "$(status <<<"$head")" 200 "GET /.reflector/login is 200"
like "$(cat page.html)" '<form method="post" action="/.reflector/login">' \
    "it is a login form"
like "$(cat page.html)" 'type="password" name="password"' "with a password field"
is "$(header cache-control <<<"$head")" no-store "the page is not cached"
is "$(header x-frame-options <<<"$head")" DENY "the page may not be framed"
like "$(header content-security-policy <<<"$head")" \
    "^default-src 'none'; form-action 'self' .*frame-ancestors 'none'" \
    "a strict Content-Security-Policy"
out=$(printf 'HEAD /.reflector/login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
    openssl s_client -quiet -connect "127.0.0.1:$HTTPS_PORT" \
    -servername localhost -CAfile "$TRASH/tls/ca.pem" 2>/dev/null)
like "$out" '^HTTP/1.1 200' "HEAD /.reflector/login is 200"
unlike "$out" '<form' "without a body"
c -o page.html "$BASE/.reflector/login?return=/x%22%3E%3Cscript%3E"
like "$(cat page.html)" 'name="return" value="/x&quot;&gt;&lt;script&gt;"' \
    "the return path is HTML-escaped in the form"

# --- wrong and right passwords ----------------------------------------------
head=$(post_login alice wrong -H "$ORIGIN")
is "$(status <<<"$head")" 403 "a wrong password is refused"
like "$(cat login.html)" 'Wrong user name or password' "with a message"
is "$(header set-cookie <<<"$head")" "" "and no cookie"
head=$(post_login mallory 'correct horse' -H "$ORIGIN")
is "$(status <<<"$head")" 403 "an unknown user is refused the same way"
ok "failed logins are logged with user and peer" \
    log_has 'login failed for "alice" from 127\.0\.0\.1:[0-9]+'

head=$(post_login alice 'correct horse' -H "$ORIGIN" -c jar)
is "$(status <<<"$head")" 303 "the right password: 303"
is "$(header location <<<"$head")" / "to the return path"
cookie=$(header set-cookie <<<"$head")
like "$cookie" '^rf_portal=[A-Za-z0-9_-]{43}; Path=/; ' "sets rf_portal"
like "$cookie" '; Secure;' "Secure over TLS"
like "$cookie" 'HttpOnly' "HttpOnly"
like "$cookie" 'SameSite=Lax' "SameSite=Lax"
unlike "$cookie" '[Dd]omain=' "without Domain= (host-only)"
jarline=$(grep 'rf_portal' jar)
like "$jarline" '^#HttpOnly_localhost	FALSE	/	TRUE	' \
    "the cookie jar holds it for localhost alone (no leading dot)"
token=$(sed -n 's/^rf_portal=\([^;]*\);.*/\1/p' <<<"$cookie")
ok "the registry holds no token in clear" \
    sh -c "! grep -qa -- '$token' '$TRASH/state/registry.mdb'"

# A return path to another site is not followed.
head=$(c -o /dev/null -D - -H "$ORIGIN" --data-urlencode "user=alice" \
    --data-urlencode "password=correct horse" \
    --data-urlencode "return=//evil.example/" "$BASE/.reflector/login")
is "$(header location <<<"$head")" / "a return to another host goes to / instead"

# --- the device list, from both workers --------------------------------------
bad=0
for ((i = 0; i < 30; i++)); do
	page=$(c -b jar "$BASE/")
	case $page in *"Logged in as <b>alice</b>"*) ;; *) bad=$((bad + 1)) ;; esac
done
is "$bad" 0 "30 fresh connections all see the session"
ok "both workers honoured it" \
    sh -c "grep -Eq 'worker 0: .* GET / -> 200' '$TRASH/reflectord.log' &&
        grep -Eq 'worker 1: .* GET / -> 200' '$TRASH/reflectord.log'"
like "$page" "<h1>Reflector</h1>" "the portal keeps its heading"
like "$page" "href=\"https://dev1.localhost:$HTTPS_PORT/\">Boiler &lt;room&gt;</a>" \
    "dev1 is listed with its name, escaped"
like "$page" "href=\"https://plc-7.localhost:$HTTPS_PORT/\"" "plc-7 matches plc-*"
unlike "$page" "dev2" "dev2 is not listed"
page=$(c "$BASE/")
like "$page" 'href="/.reflector/login"' "without a session: a login link"
unlike "$page" 'Logged in' "and no user"

# --- authorize ---------------------------------------------------------------
head=$(c -b jar -o /dev/null -D - \
    "$BASE/.reflector/authorize?device=dev1&return=%2Fcgi%2Fx%3Fa%3D1%26b%3D2")
is "$(status <<<"$head")" 302 "authorize for a granted device: 302"
like "$(header location <<<"$head")" \
    "^https://dev1\\.localhost:$HTTPS_PORT/\\.reflector/session\\?token=[A-Za-z0-9_-]{43}&return=/cgi/x%3Fa%3D1%26b%3D2\$" \
    "to the device host's /.reflector/session with a token and the path"
head=$(c -b jar -o page.html -D - "$BASE/.reflector/authorize?device=dev2&return=/")
is "$(status <<<"$head")" 403 "authorize for a device not granted: 403"
like "$(cat page.html)" 'You may not reach this device' "with a page that says so"
ok "the refusal is logged" log_has 'alice from 127\.0\.0\.1:[0-9]+ may not reach dev2'
head=$(c -o /dev/null -D - "$BASE/.reflector/authorize?device=dev1&return=/a")
is "$(status <<<"$head")" 303 "authorize without a session: 303"
is "$(header location <<<"$head")" \
    "/.reflector/login?return=/.reflector/authorize%3Fdevice%3Ddev1%26return%3D/a" \
    "to the login page, coming back to authorize"
head=$(c -b jar -o /dev/null -D - \
    "$BASE/.reflector/authorize?device=dev1&return=https://evil.example/")
like "$(header location <<<"$head")" '&return=/$' \
    "a return path to another host becomes /"

# --- CSRF ---------------------------------------------------------------------
head=$(post_login alice 'correct horse' \
    -H "Origin: https://dev1.localhost:$HTTPS_PORT")
is "$(status <<<"$head")" 403 "a login POSTed from a device page is refused"
is "$(header set-cookie <<<"$head")" "" "without a cookie"
head=$(post_login alice 'correct horse' -H "Origin: https://evil.example")
is "$(status <<<"$head")" 403 "a login POSTed from another site is refused"
head=$(post_login alice 'correct horse')
is "$(status <<<"$head")" 403 "a login POST with neither Origin nor Referer is refused"
head=$(post_login alice 'correct horse' -H "Referer: $BASE/.reflector/login")
is "$(status <<<"$head")" 303 "a Referer from the portal itself will do"
head=$(c -o /dev/null -D - -H "$ORIGIN" -H 'Content-Type: application/x-www-form-urlencoded' \
    --data-binary "@$RF_BUILD/server/http.c" "$BASE/.reflector/login")
is "$(status <<<"$head")" 413 "a form over 4 KiB is refused"
code=$(c -o /dev/null -w '%{http_code}' -d x=1 "$BASE/")
is "$code" 405 "POST to / is still 405"

# --- logout --------------------------------------------------------------------
head=$(c -b jar -c jar -o /dev/null -D - "$BASE/.reflector/logout")
is "$(status <<<"$head")" 303 "logout: 303"
like "$(header set-cookie <<<"$head")" '^rf_portal=; Path=/; Max-Age=0' \
    "clears the cookie"
page=$(c -H "Cookie: rf_portal=$token" "$BASE/")
unlike "$page" 'Logged in' "the old token no longer works on any worker"

# --- the limit on failed logins -------------------------------------------------
# One connection (curl --next) stays with one worker, which counts alone.
args=()
for ((i = 0; i < 6; i++)); do
	args+=(--cacert "$TRASH/tls/ca.pem" -H "$ORIGIN" -d user=alice
	    -d password=wrong -o /dev/null -w '%{http_code} '
	    "$BASE/.reflector/login" --next)
done
args+=(--cacert "$TRASH/tls/ca.pem" -H "$ORIGIN" -d user=alice
    --data-urlencode 'password=correct horse' -o /dev/null
    -w '%{http_code} %{num_connects}' "$BASE/.reflector/login")
codes=$(c "${args[@]}")
# The two failures above may have reached this worker too: 3 to 5 more.
like "$codes" '^(403 ){3,5}(429 ){1,3}429 0$' \
    "after 5 failures within a minute the peer gets 429, even with the right password"
ok "the refusal is logged" log_has 'failures from 127\.0\.0\.1 within 60 s: refusing'

ok "TERM stops it with status 0" stop_reflectord
done_testing
