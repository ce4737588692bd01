#!/usr/bin/env bash
#
# The static-resource cache of device hosts (server/cache.c), end to end:
# the real reflectord with 2 workers, the real reflector-agent, device-httpd
# as the device's web server counting its hits (GET /hits/<target>), and
# curl.  A stylesheet with max-age is fetched from the device once and then
# served by the reflector, also by the other worker once the device's
# tunnel has moved there; HEAD is served from it too; no-store is fetched
# every time; a device whose cache is off (its own "cache: no", or a group
# not in cache.groups) sees every request; an ETag with no-cache is
# revalidated with If-None-Match and the cached body served, or a 304 to a
# browser that has it; a response over cache.max_object passes whole and is
# not stored; the device's own Authorization bypasses the cache; a user
# without access to the device gets nothing from it; the bytes the cache
# accounts for stay within cache.max_size while it evicts the oldest; a
# cache that is off at start is made by the reload that turns it on, and
# that reload is refused whole when cache.mdb cannot be made.
# shellcheck source=t/lib/test-lib.sh
. "$(dirname "$0")/lib/test-lib.sh"

AGENT=$RF_BUILD/agent/reflector-agent
CTL=$RF_BUILD/server/reflectorctl
HTTPD=$RF_BUILD/t/helpers/device-httpd
need "$AGENT" "$CTL" "$HTTPD" curl
command -v mdb_dump >/dev/null || skip_all "mdb_dump (lmdb-utils) not installed"

# --- the reflector: dev1 cached by its group, dev2 and dev3 not --------------
make_certs "$TRASH/tls" dev1.localhost dev2.localhost dev3.localhost \
    >/dev/null 2>&1 || bail "scripts/mkcert failed"
PASSWORD='correct horse'
hash=$(printf '%s\n' "$PASSWORD" | "$CTL" hash-password) ||
	bail "reflectorctl hash-password failed"
device_secret dev1 || bail "reflectorctl new-device-secret failed"
MAX_SIZE=1048576
cat >extra.yml <<EOT
devices:
  - id: dev1
    group: plant
    secret: "$DEV_HASH"
  - id: dev2
    group: plant
    secret: "$DEV_HASH"
    cache: no
  - id: dev3
    group: office
    secret: "$DEV_HASH"
users:
  - name: alice
    password: "$hash"
    devices: ["dev*"]
  - name: bob
    password: "$hash"
    devices: [dev2]
cache:
  max_size: 1m
  max_object: 256k
  groups: [plant]
EOT
WORKERS=2 write_config reflector.yml extra.yml || bail "cannot write the config"
start_reflectord || bail "reflectord did not start"

# --- the device's web server: files, and the headers they are sent with ------
DPORT=$(free_port) || bail "no free port"
mkdir -p www
for f in style nostore etag plain; do
	printf 'body { color: %s; } /* %s */\n' "$f" "$(head -c 300 /dev/urandom |
	    base64 -w0)" >"www/$f.css"
done
printf 'Cache-Control: max-age=300\n' >www/style.css.hdr
printf 'Cache-Control: no-store\n' >www/nostore.css.hdr
printf 'Cache-Control: no-cache\nETag: "v1"\n' >www/etag.css.hdr
head -c 300000 /dev/urandom >www/big.bin
printf 'Cache-Control: max-age=300\n' >www/big.bin.hdr
for i in 1 2 3 4 5 6 7 8; do
	head -c 200000 /dev/urandom >"www/obj$i.bin"
	printf 'Cache-Control: max-age=300\n' >"www/obj$i.bin.hdr"
done
spawn "$HTTPD" -p "$DPORT" -d www -l device.log
wait_for 5 grep -q listening "$TRASH/spawn.$((${#_tap_pids[@]} - 1)).log" ||
	bail "device-httpd did not start"

{ agent_config; cat <<EOT; } >agent.yml
devices:
  - id: dev1
    group: plant
    password: "$DEV_SECRET"
    ports: [http: $DPORT]
  - id: dev2
    group: plant
    password: "$DEV_SECRET"
    ports: [http: $DPORT]
  - id: dev3
    group: office
    password: "$DEV_SECRET"
    ports: [http: $DPORT]
EOT
start_agent() {
	spawn "$AGENT" -f -c agent.yml
	APID=$SPAWN_PID
}
start_agent
wait_for 15 log_has 'device dev3 online' || bail "the agent did not connect"

AUTH="Authorization: Basic $(printf 'alice:%s' "$PASSWORD" | base64 -w0)"
c() {
	curl -sS --max-time 30 --cacert "$TRASH/tls/ca.pem" \
	    --connect-to "::127.0.0.1:" "$@"
}
header() { tr -d '\r' | sed -n "s/^$1: //Ip" | head -n 1; }
# get DEVICE PATH [CURL ARGS...]: the body into body.out, the head on stdout.
get() {
	local dev=$1 path=$2
	shift 2
	rm -f body.out
	c -H "$AUTH" -o body.out -D - "$@" "https://$dev.localhost:$HTTPS_PORT$path"
}
# hits PATH: how many requests for PATH the device's web server has had.
hits() {
	c -H "$AUTH" "https://dev3.localhost:$HTTPS_PORT/hits$1" | tr -d '\n'
}
# owner: the worker slot that holds dev1's tunnel (its device host health).
owner() {
	json_field "$(c "https://dev1.localhost:$HTTPS_PORT/.reflector/health")" worker
}

# --- a stylesheet with max-age ------------------------------------------------
head=$(get dev1 /style.css)
is "$(header x-reflector-cache <<<"$head")" miss "the first stylesheet request: miss"
ok "  ... with the device's body" cmp -s body.out www/style.css
head=$(get dev1 /style.css)
is "$(header x-reflector-cache <<<"$head")" hit "the second: hit"
ok "  ... with the same body" cmp -s body.out www/style.css
like "$(header age <<<"$head")" '^[0-9]+$' "  ... and an Age"
is "$(header cache-control <<<"$head")" max-age=300 "  ... and the device's Cache-Control"
is "$(hits /style.css)" 1 "the device saw the stylesheet once"
head=$(get dev1 /style.css -I)
is "$(header x-reflector-cache <<<"$head")" hit "HEAD is served from the cache"
is "$(header content-length <<<"$head")" "$(stat -c %s www/style.css)" \
    "  ... with the stored Content-Length"
is "$(hits /style.css)" 1 "  ... and does not reach the device"

# The same entry from the other worker: the tunnel moves until it lands there.
online_count() { grep -c 'device dev1 online' "$TRASH/reflectord.log"; }
offline_count() { grep -c 'device dev1 offline' "$TRASH/reflectord.log"; }
more_than() { [ "$("$1")" -gt "$2" ]; }
first=$(owner)
moved=
for ((try = 0; try < 12; try++)); do
	on=$(online_count)
	off=$(offline_count)
	kill -TERM "$APID"
	wait "$APID" 2>/dev/null
	wait_for 10 more_than offline_count "$off"
	start_agent
	wait_for 15 more_than online_count "$on"
	if [ -n "$first" ] && [ "$(owner)" != "$first" ]; then
		moved=1
		break
	fi
done
ok "dev1's tunnel moved from worker $first to worker $(owner)" test -n "$moved"
head=$(get dev1 /style.css)
is "$(header x-reflector-cache <<<"$head")" hit "the other worker serves the entry: hit"
ok "  ... with the same body" cmp -s body.out www/style.css
is "$(hits /style.css)" 1 "  ... and the device still saw the stylesheet once"

# --- no-store, and caches that are off -----------------------------------------
get dev1 /nostore.css >/dev/null
head=$(get dev1 /nostore.css)
is "$(header x-reflector-cache <<<"$head")" miss "no-store: miss every time"
is "$(hits /nostore.css)" 2 "  ... and the device sees every request"
ok "  ... with its body" cmp -s body.out www/nostore.css

for dev in dev2 dev3; do
	before=$(hits /style.css)
	get "$dev" /style.css >/dev/null
	head=$(get "$dev" /style.css)
	is "$(hits /style.css)" $((before + 2)) "$dev, its cache off: every request reaches the device"
	is "$(header x-reflector-cache <<<"$head")" "" "  ... and no X-Reflector-Cache header"
	ok "  ... with the device's body" cmp -s body.out www/style.css
done

# --- ETag revalidation --------------------------------------------------------
head=$(get dev1 /etag.css)
is "$(header x-reflector-cache <<<"$head")" miss "an ETag with no-cache: miss first"
head=$(get dev1 /etag.css)
is "$(header x-reflector-cache <<<"$head")" revalidated "  ... then revalidated"
ok "  ... with the cached body" cmp -s body.out www/etag.css
is "$(header etag <<<"$head")" '"v1"' "  ... and its ETag"
is "$(hits /etag.css)" 2 "  ... the device was asked each time"
n=$(awk '/^GET \/etag.css /{h=1} h && /^If-None-Match: "v1"/{n++} /^--$/{h=0} END{print n+0}' device.log)
is "$n" 1 "  ... the second time with If-None-Match: \"v1\""
head=$(get dev1 /etag.css -H 'If-None-Match: "v1"')
like "$head" '^HTTP/1.1 304' "a browser that has the ETag gets a 304"
is "$(header x-reflector-cache <<<"$head")" revalidated "  ... revalidated"
ok "  ... without a body" test ! -s body.out

# --- too large, credentials and access -----------------------------------------
get dev1 /big.bin >/dev/null
head=$(get dev1 /big.bin)
is "$(header x-reflector-cache <<<"$head")" miss "an object over max_object: miss"
ok "  ... passed whole" cmp -s body.out www/big.bin
is "$(hits /big.bin)" 2 "  ... and not stored"

head=$(c -H "X-PTTH-$AUTH" -H 'Authorization: Basic ZGV2OnNlY3JldA==' -o body.out -D - \
    "https://dev1.localhost:$HTTPS_PORT/style.css")
is "$(header x-reflector-cache <<<"$head")" miss \
    "the device's own Authorization is not served from the cache"
is "$(hits /style.css)" $((before + 3)) "  ... it goes to the device"

head=$(c -u "bob:$PASSWORD" -o body.out -D - "https://dev1.localhost:$HTTPS_PORT/style.css")
like "$head" '^HTTP/1.1 403' "a user without access to dev1: 403"
ok "  ... and none of the cached stylesheet" sh -c "! grep -q 'color: style' body.out"
head=$(c -o body.out -D - "https://dev1.localhost:$HTTPS_PORT/style.css")
like "$head" '^HTTP/1.1 401' "no credentials: 401"
ok "  ... and none of the cached stylesheet" sh -c "! grep -q 'color: style' body.out"

# --- the bound: 8 objects of 200 kB in a cache of 1 MB -------------------------
# total: the bytes the cache accounts for ("meta" "total", a native u64).
total() {
	local v r= i
	v=$(mdb_dump -n -s meta "$TRASH/run/cache.mdb" |
	    awk '/^ 746f74616c$/ { getline; print $1; exit }')
	for ((i = ${#v} - 2; i >= 0; i -= 2)); do
		r=$r${v:i:2}
	done
	echo $((16#${r:-0}))
}
max=0
for i in 1 2 3 4 5 6 7 8; do
	get dev1 "/obj$i.bin" >/dev/null
	cmp -s body.out "www/obj$i.bin" || diag "obj$i.bin came back wrong"
	t=$(total)
	[ "${t:-0}" -gt "$max" ] && max=$t
done
ok "the cache holds at most max_size ($max of $MAX_SIZE bytes at the most)" \
    test "$max" -gt 0 -a "$max" -le "$MAX_SIZE"
head=$(get dev1 /obj8.bin)
is "$(header x-reflector-cache <<<"$head")" hit "the newest object is still there"
head=$(get dev1 /obj1.bin)
is "$(header x-reflector-cache <<<"$head")" miss "the oldest was evicted"
is "$(hits /obj1.bin)" 2 "  ... and fetched again"
ok "cache.mdb stays within twice the bound and a margin" \
    test "$(stat -c %s "$TRASH/run/cache.mdb")" -le $((2 * MAX_SIZE + 4194304))

# --- a cache that is off at start: no cache.mdb until a reload turns it on ---
ok "TERM stops it" stop_reflectord
rm -f "$TRASH/run/cache.mdb" "$TRASH/run/cache.mdb-lock"
cp reflector.yml reflector-on.yml
sed -i '/^  groups: \[plant\]$/d' reflector.yml
# more_lines N ERE: the log has more than N lines matching ERE.
more_lines() { test "$(grep -Ec -- "$2" "$TRASH/reflectord.log")" -gt "$1"; }
online=$(grep -c 'device dev1 online' "$TRASH/reflectord.log")
online3=$(grep -c 'device dev3 online' "$TRASH/reflectord.log")
start_reflectord || bail "reflectord did not start with the cache off"
ok "started with every cache off" \
    wait_for 30 more_lines "$online" 'device dev1 online'
# hits asks dev3: without it a 503 page, not a count.
wait_for 30 more_lines "$online3" 'device dev3 online' || bail "dev3 is not online"
ok "  ... it made no cache.mdb" test ! -e "$TRASH/run/cache.mdb"
before=$(hits /style.css)
head=$(get dev1 /style.css)
is "$(header x-reflector-cache <<<"$head")" "" "  ... and caches nothing"
ok "  ... with the device's body" cmp -s body.out www/style.css
is "$(hits /style.css)" $((before + 1)) "  ... which came from the device"
# reload_turns_on WHAT MDB HITS: a HUP applied, MDB made, the stylesheet a
# miss and then a hit, the device's count at HITS.
reload_turns_on() {
	local gen
	gen=$(grep -Ec 'configuration generation [0-9]+ applied by all' "$TRASH/reflectord.log")
	kill -HUP "$RF_PID"
	ok "$1" wait_for 10 more_lines "$gen" 'configuration generation [0-9]+ applied by all'
	ok "  ... and makes $2" test -s "$2"
	head=$(get dev1 /style.css)
	is "$(header x-reflector-cache <<<"$head")" miss "  ... the stylesheet: a miss (the cache starts empty)"
	head=$(get dev1 /style.css)
	is "$(header x-reflector-cache <<<"$head")" hit "  ... then a hit"
	is "$(hits /style.css)" "$3" "  ... the device saw the miss only"
}
cp reflector-on.yml reflector.yml
reload_turns_on "a reload turns the cache on" "$TRASH/run/cache.mdb" $((before + 2))

# --- a reload that cannot make cache.mdb is refused as a whole ---------------
# cache.dir names a path below a regular file: mkdir and LMDB fail there even
# for root.  cache.dir is a restart key, so it is set before the start.
ok "TERM stops it" stop_reflectord
: >"$TRASH/notadir"
sed -i -e '/^  groups: \[plant\]$/d' \
    -e "s|^  max_size: 1m\$|&\\n  dir: $TRASH/notadir/cache|" reflector.yml
grep -q "^  dir: $TRASH/notadir/cache\$" reflector.yml || bail "cannot set cache.dir"
online1=$(grep -c 'device dev1 online' "$TRASH/reflectord.log")
online3=$(grep -c 'device dev3 online' "$TRASH/reflectord.log")
start_reflectord || bail "reflectord did not start with cache.dir unusable"
ok "started with every cache off and cache.dir unusable" \
    wait_for 30 more_lines "$online1" 'device dev1 online'
wait_for 30 more_lines "$online3" 'device dev3 online' || bail "dev3 is not online"
before=$(hits /style.css)
sed 's/^  max_object: 256k$/&\n  groups: [plant]/' reflector.yml >reflector-on.yml
grep -q '^  groups: \[plant\]$' reflector-on.yml || bail "cannot turn the cache on"
cp reflector-on.yml reflector.yml
refused=$(grep -c 'reload failed: cannot create the cache' "$TRASH/reflectord.log")
kill -HUP "$RF_PID"
ok "a reload that turns the cache on where it cannot be made is refused" \
    wait_for 10 more_lines "$refused" 'reload failed: cannot create the cache'
ok "  ... the log names the directory" \
    grep -q "cache: cannot create $TRASH/notadir/cache" "$TRASH/reflectord.log"
head=$(get dev1 /style.css)
is "$(header x-reflector-cache <<<"$head")" "" "  ... the running configuration stays: nothing cached"
is "$(hits /style.css)" $((before + 1)) "  ... the request reached the device"
get dev1 /style.css >/dev/null
is "$(hits /style.css)" $((before + 2)) "  ... and so does the next"
rm -f "$TRASH/notadir"
mkdir "$TRASH/notadir"
reload_turns_on "once the directory can be made, the same reload is applied" \
    "$TRASH/notadir/cache/cache.mdb" $((before + 3))
ok "TERM stops it with status 0" stop_reflectord

done_testing
