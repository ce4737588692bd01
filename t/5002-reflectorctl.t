#!/usr/bin/env bash
# reflectorctl: hash-password from standard input and from a terminal
# (without echo, asked twice), new-device-secret's YAML snippet, both
# checked against independent implementations (Python's hashlib), usage
# errors, and the manual page.
. "$(dirname "$0")/lib/test-lib.sh"

CTL=$RF_BUILD/server/reflectorctl
PY=$(command -v python3)

like "$("$CTL" -V)" '^reflectorctl [0-9]+\.[0-9]+\.[0-9]+$' "-V prints the version"

# verify_scrypt HASH PASSWORD: Python's scrypt agrees with the hash.
verify_scrypt() {
	"$PY" -c '
import base64, hashlib, re, sys
m = re.fullmatch(r"\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)", sys.argv[1])
b = lambda s: base64.b64decode(s + "=" * (-len(s) % 4))
ln, r, p = (int(x) for x in m.group(1, 2, 3))
salt, want = b(m.group(4)), b(m.group(5))
got = hashlib.scrypt(sys.argv[2].encode(), salt=salt, n=1 << ln, r=r, p=p,
    maxmem=256 << 20, dklen=len(want))
sys.exit(0 if got == want else 1)' "$1" "$2"
}

# --- hash-password --------------------------------------------------------
h=$(printf 'correct horse\n' | "$CTL" hash-password)
like "$h" '^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$' \
    "hash-password prints a \$scrypt\$ hash (16-byte salt, 32-byte key, no padding)"
if [ -n "$PY" ]; then
	ok "Python's hashlib.scrypt agrees with it" verify_scrypt "$h" 'correct horse'
	nok "and not for another password" verify_scrypt "$h" 'correct horsE'
else
	skip "python3 not installed" 2
fi
h2=$(printf 'correct horse' | "$CTL" hash-password)
isnt "$h2" "$h" "a last line without newline will do, with a new salt"
nok "an empty password is refused" sh -c "printf '\n' | '$CTL' hash-password"
like "$(printf '\n' | "$CTL" hash-password 2>&1)" 'empty' "saying so"
nok "no input is refused" sh -c "'$CTL' hash-password </dev/null"
nok "a NUL byte is refused" sh -c "printf 'a\\000b\\n' | '$CTL' hash-password"
nok "an extra argument is refused" sh -c "printf 'x\n' | '$CTL' hash-password x"

# On a terminal: asked twice, never echoed.  script(1) gives it a pty; the
# pauses let each prompt turn echo off before the line is typed.
if command -v script >/dev/null; then
	d=$((MULT))
	out=$( (sleep "$d"; printf 'tty secret\n'; sleep "$d"
	    printf 'tty secret\n'; sleep "$d") |
	    script -qec "'$CTL' hash-password" /dev/null | tr -d '\r')
	like "$out" '^Password: $' "on a terminal it asks for the password"
	like "$out" '^Password again: $' "and again"
	unlike "$out" 'tty secret' "without echoing it"
	h=$(printf '%s\n' "$out" | grep '^\$scrypt\$')
	if [ -n "$PY" ]; then
		ok "and prints its hash" verify_scrypt "$h" 'tty secret'
	else
		like "$h" '^\$scrypt\$' "and prints its hash"
	fi
	out=$( (sleep "$d"; printf 'one\n'; sleep "$d"; printf 'two\n'
	    sleep "$d") | script -qec "'$CTL' hash-password" /dev/null |
	    tr -d '\r')
	like "$out" 'the passwords differ' "two different entries are refused"
	unlike "$out" '^\$scrypt\$' "with no hash"
else
	skip "script (util-linux) not installed" 6
fi

# --- new-device-secret ----------------------------------------------------
out=$("$CTL" new-device-secret dev1 plant-a)
secret=$(printf '%s\n' "$out" | sed -n 's/^#   secret: //p')
shash=$(printf '%s\n' "$out" | sed -n 's/^    secret: "\(.*\)"$/\1/p')
like "$secret" '^[A-Za-z0-9_-]{22}$' "new-device-secret prints a 22-character secret"
like "$shash" '^\$sha256\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$' \
    "and its \$sha256\$ hash"
like "$out" '^  - id: dev1$' "as a YAML item for devices:"
like "$out" '^    group: "plant-a"$' "with the group"
if [ -n "$PY" ]; then
	ok "the hash is SHA-256 of salt and secret" "$PY" -c '
import base64, hashlib, sys
_, _, salt, want = sys.argv[1].split("$")
b = lambda s: base64.b64decode(s + "=" * (-len(s) % 4))
sys.exit(0 if hashlib.sha256(b(salt) + sys.argv[2].encode()).digest() == b(want) else 1)' \
	    "$shash" "$secret"
else
	skip "python3 not installed"
fi
isnt "$("$CTL" new-device-secret | sed -n 's/^#   secret: //p')" "$secret" \
    "each secret is new"
{ echo "devices:"; printf '%s\n' "$out"; } >devices.yml
write_config reflector.yml devices.yml
ok "reflectord -t accepts the snippet" "$REFLECTORD" -t -c "$CONF"
like "$("$CTL" new-device-secret)" '^  - id: DEVICE-ID$' \
    "without an id, a placeholder"
nok "a bad device id is refused" "$CTL" new-device-secret Dev_1
nok "a group with a quote is refused" "$CTL" new-device-secret dev1 'a"b'

# --- usage -----------------------------------------------------------------
"$CTL" >/dev/null 2>usage.txt
is "$?" 2 "no command: exit 2"
like "$(cat usage.txt)" '^usage: reflectorctl' "with the usage"
"$CTL" frobnicate >/dev/null 2>usage.txt
is "$?" 2 "an unknown command: exit 2"
like "$(cat usage.txt)" 'frobnicate: unknown command' "named in the error"
nok "an unknown option is refused" "$CTL" -Z

if command -v mandoc >/dev/null; then
	ok "reflectorctl.8 is clean under mandoc -Tlint" \
	    mandoc -Tlint -Wwarning "$RF_TOP/man/reflectorctl.8"
	ok "the synopsis lists every command" sh -c \
	    "mandoc -Tutf8 '$RF_TOP/man/reflectorctl.8' | col -b |
	    grep -q 'hash-password' && mandoc -Tutf8 '$RF_TOP/man/reflectorctl.8' |
	    col -b | grep -q 'new-device-secret'"
else
	skip "mandoc not installed" 2
fi
done_testing
