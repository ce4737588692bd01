/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of server/auth.c: scrypt and sha256 hashes and their parser,
 * the cap on a stored hash's cost, device and user checks, device id
 * patterns, Basic credentials, sessions shared by two processes through
 * the registry (as two workers share them), one-time tokens, expiry, the
 * decision for a device host's request, and the per-peer failure limit.
 *
 * auth.c is included rather than linked: it lives in server/, outside the
 * library the unit tests link, and including it lets the tests make cheap
 * scrypt hashes (hash_scrypt with a small ln) so that they run fast.
 */
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/auth.c"
#include "tap.h"

static char	yaml_errs[4096];

static void
collect(void *arg, const char *line)
{
	(void)arg;
	strncat(yaml_errs, line, sizeof(yaml_errs) - strlen(yaml_errs) - 2);
	strcat(yaml_errs, "\n");
}

static struct rf_conf *
load(const char *yaml)
{
	struct rf_conf *conf = NULL;

	yaml_errs[0] = '\0';
	if (rf_conf_load_mem(yaml, strlen(yaml), "test.yml", &conf, collect,
	    NULL) != 0)
		diag("config does not load:\n%s", yaml_errs);
	return conf;
}

static void
test_scrypt(void)
{
	char h[256], h2[256], bad[512];
	clock_t t0;

	ok(rf_auth_hash_password("correct horse", h, sizeof(h)) == 0,
	    "hash a password with the default cost");
	ok(strncmp(h, "$scrypt$ln=15,r=8,p=1$", 22) == 0,
	    "default parameters ln=15 r=8 p=1 (%s)", h);
	ok(strchr(h, '=') == strrchr(h, '=') ||
	    strchr(h + 22, '=') == NULL, "no base64 padding");
	is_int(rf_auth_verify(h, "correct horse"), 1, "right password matches");
	is_int(rf_auth_verify(h, "correct horsE"), 0, "wrong password does not");
	is_int(rf_auth_verify(h, ""), 0, "empty password does not");
	ok(rf_auth_hash_password("correct horse", h2, sizeof(h2)) == 0 &&
	    strcmp(h, h2) != 0, "a new salt each time");
	ok(rf_auth_hash_password("x", h2, 20) == RF_ERR_LIMIT && h2[0] == '\0',
	    "too small an output buffer is refused and cleared");

	ok(hash_scrypt("pw", 4, 8, 1, h, sizeof(h)) == 0 &&
	    rf_auth_verify(h, "pw") == 1 && rf_auth_verify(h, "pW") == 0,
	    "a cheap ln=4 hash verifies too");

	/* A hash with absurd parameters is refused before any work. */
	t0 = clock();
	is_int(rf_auth_verify("$scrypt$ln=21,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x"), RF_ERR_LIMIT,
	    "ln above 20 is refused");
	is_int(rf_auth_verify("$scrypt$ln=999,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x"), RF_ERR_LIMIT,
	    "ln=999 is refused");
	is_int(rf_auth_verify("$scrypt$ln=20,r=32,p=1$AAAAAAAAAAAAAAAAAAAAAA$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x"), RF_ERR_LIMIT,
	    "ln=20 r=32 (4 GiB) is refused");
	is_int(rf_auth_verify("$scrypt$ln=10,r=8,p=99$AAAAAAAAAAAAAAAAAAAAAA$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x"), RF_ERR_LIMIT,
	    "p=99 is refused");
	is_int(rf_auth_verify("$scrypt$ln=0,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x"), RF_ERR_LIMIT,
	    "ln=0 is refused");
	ok((double)(clock() - t0) / CLOCKS_PER_SEC < 0.5,
	    "refusing them costs no hashing");

	/* Malformed strings: a negative value, never a match. */
	ok(rf_auth_verify("", "x") < 0, "empty hash string");
	ok(rf_auth_verify("plain", "plain") < 0, "a clear-text password");
	ok(rf_auth_verify("$md5$abc$def", "x") < 0, "unknown scheme");
	ok(rf_auth_verify("$scrypt$", "x") < 0, "scrypt without anything");
	ok(rf_auth_verify("$scrypt$ln=4,r=8,p=1$", "x") < 0,
	    "scrypt without salt and hash");
	ok(rf_auth_verify("$scrypt$r=8,ln=4,p=1$AAAAAAAAAAAAAAAAAAAAAA$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x") < 0,
	    "parameters out of order");
	ok(rf_auth_verify("$scrypt$ln=4,r=8$AAAAAAAAAAAAAAAAAAAAAA$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x") < 0,
	    "a parameter missing");
	ok(rf_auth_verify("$scrypt$ln=-4,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x") < 0,
	    "a negative parameter");
	ok(rf_auth_verify("$scrypt$ln=4,r=8,p=1$AAAA*AAAAAAAAAAAAAAAAA$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x") < 0,
	    "a character outside base64");
	ok(rf_auth_verify("$scrypt$ln=4,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x") < 0,
	    "base64 padding");
	ok(rf_auth_verify("$scrypt$ln=4,r=8,p=1$AAAA$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x") < 0,
	    "a salt of 3 bytes");
	ok(rf_auth_verify("$scrypt$ln=4,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAA",
	    "x") < 0, "a hash of 3 bytes");
	ok(rf_auth_verify("$scrypt$ln=4,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA$x", "x") < 0,
	    "a field too many");
	memset(bad, 'A', sizeof(bad) - 1);
	bad[sizeof(bad) - 1] = '\0';
	memcpy(bad, "$sha256$AAAAAAAAAAAAAAAAAAAAAA$", 31);
	ok(rf_auth_verify(bad, "x") < 0, "a hash far too long");
	ok(rf_auth_verify(NULL, "x") < 0 && rf_auth_verify(h, NULL) < 0,
	    "NULL arguments");
}

static void
test_sha256(void)
{
	char s1[64], h1[256], s2[64], h2[256];
	size_t i;
	int url = 1;

	ok(rf_auth_new_secret(s1, sizeof(s1), h1, sizeof(h1)) == 0,
	    "a new device secret");
	is_int(strlen(s1), 22, "22 printable characters (128 bits)");
	for (i = 0; s1[i] != '\0'; i++)
		if (strchr(b64_url, s1[i]) == NULL)
			url = 0;
	ok(url, "in the base64url alphabet (%s)", s1);
	ok(strncmp(h1, "$sha256$", 8) == 0, "its hash is $sha256$ (%s)", h1);
	ok(strstr(h1, s1) == NULL, "the hash does not hold the secret");
	is_int(rf_auth_verify(h1, s1), 1, "the secret matches its hash");
	s1[3] ^= 1;
	is_int(rf_auth_verify(h1, s1), 0, "a changed secret does not");
	s1[3] ^= 1;
	ok(rf_auth_new_secret(s2, sizeof(s2), h2, sizeof(h2)) == 0 &&
	    strcmp(s1, s2) != 0, "two secrets differ");
	is_int(rf_auth_verify(h2, s1), 0, "one secret does not match another's hash");
	ok(rf_auth_new_secret(s2, 10, h2, sizeof(h2)) == RF_ERR_LIMIT &&
	    h2[0] == '\0', "too small a secret buffer is refused");
	ok(rf_auth_verify("$sha256$AAAAAAAAAAAAAAAAAAAAAA$AAAA", "x") < 0,
	    "a sha256 hash of the wrong length");
}

static const char *
conf_yaml(char *buf, size_t len, const char *secret_hash, const char *alice,
    const char *bob, int with_alice)
{
	snprintf(buf, len,
	    "domain: example.net\n"
	    "devices:\n"
	    "  - id: dev1\n"
	    "    group: plant-a\n"
	    "    secret: \"%s\"\n"
	    "  - id: plc-7\n"
	    "    secret: \"%s\"\n"
	    "  - id: cam1\n"
	    "    secret: \"%s\"\n"
	    "users:\n"
	    "%s%s%s"
	    "  - name: bob\n"
	    "    password: \"%s\"\n"
	    "    devices: [\"*\"]\n"
	    "  - name: carol\n"
	    "    password: \"%s\"\n",
	    secret_hash, secret_hash, secret_hash,
	    with_alice ? "  - name: alice\n    password: \"" : "",
	    with_alice ? alice : "",
	    with_alice ? "\"\n    devices: [dev1, \"plc-*\", \"*-cam\"]\n" : "",
	    bob, bob);
	return buf;
}

static void
test_conf(const struct rf_conf *conf, const char *secret)
{
	const struct rf_conf_user *alice = NULL;
	size_t i;

	is_int(rf_auth_device(conf, NULL, "dev1", "plant-a", secret), 1,
	    "device with the right id, group and secret");
	is_int(rf_auth_device(conf, NULL, "dev1", "plant-b", secret), 0,
	    "the wrong group is refused");
	is_int(rf_auth_device(conf, NULL, "dev1", "plant-a", "nope"), 0,
	    "the wrong secret is refused");
	is_int(rf_auth_device(conf, NULL, "dev9", "plant-a", secret), 0,
	    "an unknown device is refused");
	is_int(rf_auth_device(conf, NULL, "plc-7", "default", secret), 1,
	    "a device without a group is in \"default\"");

	ok((alice = rf_auth_user(conf, "alice", "alice pw")) != NULL &&
	    strcmp(alice->name, "alice") == 0, "user with the right password");
	ok(rf_auth_user(conf, "alice", "alice pw") == alice,
	    "again (remembered)");
	ok(rf_auth_user(conf, "alice", "alice PW") == NULL,
	    "the wrong password is refused");
	ok(rf_auth_user(conf, "mallory", "alice pw") == NULL,
	    "an unknown user is refused");
	ok(rf_auth_user(conf, "bob", "alice pw") == NULL,
	    "another user's password is refused");

	if (alice == NULL)
		for (i = 0; i < conf->nusers; i++)
			if (strcmp(conf->users[i].name, "alice") == 0)
				alice = &conf->users[i];
	ok(rf_auth_user_may(alice, "dev1"), "pattern: an exact id");
	ok(!rf_auth_user_may(alice, "dev10"), "an exact id is not a prefix");
	ok(!rf_auth_user_may(alice, "cam1"), "a device not listed");
	ok(rf_auth_user_may(alice, "plc-7"), "plc-* matches plc-7");
	ok(rf_auth_user_may(alice, "plc-"), "plc-* matches plc- (empty star)");
	ok(!rf_auth_user_may(alice, "plc"), "plc-* does not match plc");
	ok(!rf_auth_user_may(alice, "xplc-7"), "plc-* is anchored at the start");
	ok(rf_auth_user_may(alice, "door-cam"), "*-cam matches door-cam");
	ok(!rf_auth_user_may(alice, "door-cam2"), "*-cam is anchored at the end");
	ok(rf_auth_user_may(rf_conf_user_find(conf, "bob"), "anything"),
	    "\"*\" matches every device");
	ok(!rf_auth_user_may(rf_conf_user_find(conf, "carol"), "dev1"),
	    "a user without patterns reaches nothing");
}

static void
test_basic(void)
{
	char u[64], p[64];

	ok(rf_auth_basic_decode("Basic YWxpY2U6czNjcjN0", u, sizeof(u), p,
	    sizeof(p)) == 0 && strcmp(u, "alice") == 0 &&
	    strcmp(p, "s3cr3t") == 0, "Basic alice:s3cr3t");
	/* dev1@plant-a:a:b, as the stock agent sends it, ':' in the secret */
	ok(rf_auth_basic_decode("basic  ZGV2MUBwbGFudC1hOmE6Yg==", u,
	    sizeof(u), p, sizeof(p)) == 0 && strcmp(u, "dev1@plant-a") == 0 &&
	    strcmp(p, "a:b") == 0, "a password may hold ':', padding is fine");
	ok(rf_auth_basic_decode("Bearer abc", u, sizeof(u), p, sizeof(p)) < 0 &&
	    u[0] == '\0', "another scheme");
	ok(rf_auth_basic_decode("Basic !!!!", u, sizeof(u), p, sizeof(p)) < 0,
	    "bad base64");
	ok(rf_auth_basic_decode("Basic YWxpY2U", u, sizeof(u), p,
	    sizeof(p)) < 0, "no colon");
	ok(rf_auth_basic_decode("Basic OnB3", u, sizeof(u), p, sizeof(p)) < 0,
	    "an empty user name");
	ok(rf_auth_basic_decode("Basic YWxpY2U6czNjcjN0", u, 3, p,
	    sizeof(p)) < 0, "a user name too long for the buffer");
	ok(rf_auth_basic_decode("Basic YQBiOmM=", u, sizeof(u), p,
	    sizeof(p)) < 0, "a NUL inside");
}

static void
test_urls(const struct rf_conf *conf)
{
	char url[512];

	ok(rf_auth_login_url(conf, "dev1.example.net:8443", "dev1",
	    "/cgi/x?a=1&b=2", url, sizeof(url)) == 0, "login URL");
	is_str(url, "https://example.net:8443/.reflector/authorize?device=dev1"
	    "&return=/cgi/x%3Fa%3D1%26b%3D2", "keeps the port, encodes the path");
	ok(rf_auth_login_url(conf, "dev1.example.net", "dev1", "/", url,
	    sizeof(url)) == 0, "login URL without a port");
	is_str(url, "https://example.net/.reflector/authorize?device=dev1"
	    "&return=/", "no port");
	ok(rf_auth_login_url(conf, "dev1.example.net:443", "dev1", "/", url,
	    sizeof(url)) == 0 && strstr(url, ":443") == NULL,
	    "port 443 is left out");
	ok(rf_auth_login_url(conf, NULL, "dev1", "//evil.example/", url,
	    sizeof(url)) == RF_ERR_INVAL && url[0] == '\0',
	    "a path to another host is refused");
	ok(rf_auth_login_url(conf, NULL, "dev1", "/", url, 20) ==
	    RF_ERR_LIMIT && url[0] == '\0', "too small a buffer");
	ok(rf_auth_local_path("/a/b?c=d") && !rf_auth_local_path("//x") &&
	    !rf_auth_local_path("/\\x") && !rf_auth_local_path("http://x/") &&
	    !rf_auth_local_path("/a b") && !rf_auth_local_path(""),
	    "local paths");
}

static char *
b64(const char *s)
{
	static char out[256];

	b64_encode(b64_std, (const unsigned char *)s, strlen(s), out,
	    sizeof(out));
	return out;
}

static void
test_requests(const struct rf_conf *conf, struct rf_db *db)
{
	char user[64], hdr[300], cookie[256], tok[RF_AUTH_TOKEN_MAX];
	char cookies[400];
	int used;

	is_int(rf_auth_device_request(conf, db, "dev1", NULL, NULL, NULL, user,
	    sizeof(user), &used), RF_AUTH_LOGIN, "nothing: LOGIN");
	snprintf(hdr, sizeof(hdr), "Basic %s", b64("alice:alice pw"));
	is_int(rf_auth_device_request(conf, db, "dev1", NULL, NULL, hdr, user,
	    sizeof(user), &used), RF_AUTH_OK, "X-PTTH-Authorization: OK");
	ok(strcmp(user, "alice") == 0 && used == 0,
	    "as alice; Authorization stays the device's");
	is_int(rf_auth_device_request(conf, db, "dev1", NULL, "Basic ZGV2OmRldg==",
	    hdr, user, sizeof(user), &used), RF_AUTH_OK,
	    "X-PTTH with the device's own Authorization beside it");
	is_int(used, 0, "which is not ours");
	is_int(rf_auth_device_request(conf, db, "dev1", NULL, hdr, NULL, user,
	    sizeof(user), &used), RF_AUTH_OK, "Authorization: OK");
	is_int(used, 1, "and it was ours: strip it");
	is_int(rf_auth_device_request(conf, db, "cam1", NULL, hdr, NULL, user,
	    sizeof(user), &used), RF_AUTH_DENIED, "a device not granted: DENIED");
	is_str(user, "alice", "naming who tried");
	snprintf(hdr, sizeof(hdr), "Basic %s", b64("alice:wrong"));
	is_int(rf_auth_device_request(conf, db, "dev1", NULL, hdr, NULL, user,
	    sizeof(user), &used), RF_AUTH_DENIED, "wrong password: DENIED");
	is_int(rf_auth_device_request(conf, db, "dev1", NULL, NULL, hdr, user,
	    sizeof(user), &used), RF_AUTH_DENIED, "wrong password in X-PTTH");
	is_int(rf_auth_device_request(conf, db, "dev1", NULL, NULL, "Basic !",
	    user, sizeof(user), &used), RF_AUTH_DENIED, "malformed X-PTTH");
	snprintf(hdr, sizeof(hdr), "Basic %s", b64("admin:admin"));
	is_int(rf_auth_device_request(conf, db, "dev1", NULL, hdr, NULL, user,
	    sizeof(user), &used), RF_AUTH_LOGIN,
	    "the device's own Basic credentials: LOGIN");
	is_int(rf_auth_device_request(conf, db, "dev1", NULL, "Bearer x", NULL,
	    user, sizeof(user), &used), RF_AUTH_LOGIN, "a Bearer token: LOGIN");

	/* One-time token -> device session cookie. */
	ok(rf_auth_session_new(db, RF_SESSION_ONETIME, "alice", "dev1", tok,
	    sizeof(tok)) == 0 && strlen(tok) == 43, "a one-time token");
	is_int(rf_auth_session_from_token(conf, db, "plc-7", tok, cookie,
	    sizeof(cookie)), RF_AUTH_DENIED,
	    "it is refused on another device host");
	ok(rf_auth_session_new(db, RF_SESSION_ONETIME, "alice", "dev1", tok,
	    sizeof(tok)) == 0, "another one-time token");
	is_int(rf_auth_session_from_token(conf, db, "dev1", tok, cookie,
	    sizeof(cookie)), RF_AUTH_OK, "exchanged for a device session");
	ok(strncmp(cookie, "rf_session=", 11) == 0 &&
	    strstr(cookie, "; Path=/;") != NULL &&
	    strstr(cookie, "HttpOnly") != NULL &&
	    strstr(cookie, "Secure") != NULL &&
	    strstr(cookie, "SameSite=Lax") != NULL &&
	    strstr(cookie, "omain") == NULL, "a host-only cookie (%s)", cookie);
	is_int(rf_auth_session_from_token(conf, db, "dev1", tok, cookie,
	    sizeof(cookie)), RF_AUTH_DENIED, "the token is used up");
	ok(cookie[0] == '\0', "and gives no cookie");
	is_int(rf_auth_session_from_token(conf, db, "dev1", "short", cookie,
	    sizeof(cookie)), RF_AUTH_DENIED, "a malformed token");
	ok(rf_auth_session_new(db, RF_SESSION_ONETIME, "alice", "dev1", tok,
	    sizeof(tok)) == 0, "a third one-time token");
	rf_auth_session_from_token(conf, db, "dev1", tok, cookie,
	    sizeof(cookie));
	*strchr(cookie, ';') = '\0';
	snprintf(cookies, sizeof(cookies), "theme=dark; rf_session=junk; %s; "
	    "x=1", cookie);
	is_int(rf_auth_device_request(conf, db, "dev1", cookies, NULL, NULL,
	    user, sizeof(user), &used), RF_AUTH_OK,
	    "the device cookie among others: OK");
	ok(strcmp(user, "alice") == 0 && used == 0, "as alice");
	is_int(rf_auth_device_request(conf, db, "plc-7", cookies, NULL, NULL,
	    user, sizeof(user), &used), RF_AUTH_LOGIN,
	    "the cookie of dev1 means nothing on plc-7");

	/* A portal session is no device session, and the reverse. */
	ok(rf_auth_session_new(db, RF_SESSION_PORTAL, "alice", "portal", tok,
	    sizeof(tok)) == 0, "a portal session");
	snprintf(cookies, sizeof(cookies), "rf_session=%s", tok);
	is_int(rf_auth_device_request(conf, db, "dev1", cookies, NULL, NULL,
	    user, sizeof(user), &used), RF_AUTH_LOGIN,
	    "a portal token under the device cookie's name is refused");
	is_int(rf_auth_session_from_token(conf, db, "dev1", tok, cookie,
	    sizeof(cookie)), RF_AUTH_DENIED,
	    "a portal token is no one-time token");
}

/* The same registry from another process, as another worker sees it. */
static int
in_child(const char *dir, int (*fn)(struct rf_db *, void *), void *arg)
{
	struct rf_db *db;
	pid_t pid;
	int status, r;

	fflush(stdout);
	if ((pid = fork()) == 0) {
		if (rf_db_open(&db, dir, RF_DB_REGISTRY, 0) != 0)
			_exit(99);
		r = fn(db, arg);
		rf_db_close(db);
		_exit(r);
	}
	if (pid == -1 || waitpid(pid, &status, 0) == -1 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

struct child_arg {
	const struct rf_conf	*conf;
	char			 token[RF_AUTH_TOKEN_MAX];
	char			 cookie[RF_AUTH_TOKEN_MAX + 16];
};

static int
child_check(struct rf_db *db, void *arg)
{
	struct child_arg *a = arg;
	char user[64];

	if (!rf_auth_session_check(a->conf, db, a->cookie,
	    RF_AUTH_PORTAL_COOKIE, RF_SESSION_PORTAL, "portal", user,
	    sizeof(user)))
		return 1;
	return strcmp(user, "alice") == 0 ? 0 : 2;
}

static int
child_take(struct rf_db *db, void *arg)
{
	struct child_arg *a = arg;
	char cookie[256];

	return rf_auth_session_from_token(a->conf, db, "dev1", a->token, cookie,
	    sizeof(cookie)) == RF_AUTH_OK ? 0 : 1;
}

static int
child_logout(struct rf_db *db, void *arg)
{
	struct child_arg *a = arg;

	rf_auth_session_end(db, a->cookie, RF_AUTH_PORTAL_COOKIE);
	return 0;
}

static void
test_sessions(const char *dir, const struct rf_conf *conf,
    const struct rf_conf *reloaded, struct rf_db *db)
{
	struct child_arg a;
	struct rf_session_rec rec;
	unsigned char key[RF_DB_SESSION_KEY_LEN];
	char user[64], cookie[256];
	size_t n;

	memset(&a, 0, sizeof(a));
	a.conf = conf;
	ok(rf_auth_session_new(db, RF_SESSION_PORTAL, "alice", "portal",
	    a.token, sizeof(a.token)) == 0, "worker A: a portal session");
	snprintf(a.cookie, sizeof(a.cookie), "rf_portal=%s", a.token);
	is_int(in_child(dir, child_check, &a), 0,
	    "worker B (another process, its own handle) honours it");
	ok(rf_auth_session_check(conf, db, a.cookie, RF_AUTH_PORTAL_COOKIE,
	    RF_SESSION_PORTAL, "portal", user, sizeof(user)) &&
	    strcmp(user, "alice") == 0, "worker A too");
	ok(!rf_auth_session_check(reloaded, db, a.cookie,
	    RF_AUTH_PORTAL_COOKIE, RF_SESSION_PORTAL, "portal", user,
	    sizeof(user)) && user[0] == '\0',
	    "not once a reload removed the user");
	is_int(in_child(dir, child_logout, &a), 0, "worker B logs out");
	ok(!rf_auth_session_check(conf, db, a.cookie, RF_AUTH_PORTAL_COOKIE,
	    RF_SESSION_PORTAL, "portal", user, sizeof(user)),
	    "worker A sees the session gone");

	ok(rf_auth_session_new(db, RF_SESSION_ONETIME, "alice", "dev1",
	    a.token, sizeof(a.token)) == 0, "worker A: a one-time token");
	is_int(in_child(dir, child_take, &a), 0, "worker B takes it");
	is_int(in_child(dir, child_take, &a), 1, "worker C cannot take it again");
	is_int(rf_auth_session_from_token(conf, db, "dev1", a.token, cookie,
	    sizeof(cookie)), RF_AUTH_DENIED, "nor can worker A");

	/* Expiry: a session past its time is refused, then purged. */
	ok(rf_auth_session_new(db, RF_SESSION_ONETIME, "alice", "dev1",
	    a.token, sizeof(a.token)) == 0, "a one-time token");
	token_key(a.token, strlen(a.token), key);
	ok(rf_db_session_get(db, key, (uint64_t)time(NULL), &rec) == 0 &&
	    rec.expires - rec.created == RF_AUTH_ONETIME_TTL,
	    "one-time tokens live 60 s");
	ok(rf_db_session_get(db, key, (uint64_t)time(NULL) +
	    RF_AUTH_ONETIME_TTL, &rec) == RF_ERR_NOTFOUND,
	    "and not a second longer");
	rec.version = 1;
	rec.kind = RF_SESSION_ONETIME;
	rec.created = (uint64_t)time(NULL) - 120;
	rec.expires = (uint64_t)time(NULL) - 60;
	snprintf(rec.user, sizeof(rec.user), "alice");
	snprintf(rec.scope, sizeof(rec.scope), "dev1");
	ok(rf_db_session_put(db, key, &rec) == 0, "age it by two minutes");
	is_int(rf_auth_session_from_token(conf, db, "dev1", a.token, cookie,
	    sizeof(cookie)), RF_AUTH_DENIED, "an expired token is refused");
	ok(rf_auth_session_new(db, RF_SESSION_PORTAL, "alice", "portal",
	    a.token, sizeof(a.token)) == 0, "a portal session");
	token_key(a.token, strlen(a.token), key);
	ok(rf_db_session_get(db, key, (uint64_t)time(NULL), &rec) == 0 &&
	    rec.expires - rec.created == RF_AUTH_PORTAL_TTL,
	    "portal sessions live 12 h");
	rec.expires = (uint64_t)time(NULL) - 1;
	ok(rf_db_session_put(db, key, &rec) == 0, "expire it");
	snprintf(a.cookie, sizeof(a.cookie), "rf_portal=%s", a.token);
	ok(!rf_auth_session_check(conf, db, a.cookie, RF_AUTH_PORTAL_COOKIE,
	    RF_SESSION_PORTAL, "portal", user, sizeof(user)),
	    "an expired portal session is refused");
	ok(rf_db_session_purge_expired(db, (uint64_t)time(NULL), &n) == 0 &&
	    n >= 1, "purge removes expired sessions (%zu)", n);
	ok(rf_db_session_purge_expired(db, (uint64_t)time(NULL), &n) == 0 &&
	    n == 0, "and nothing else");
	ok(rf_db_session_del(db, key) == RF_ERR_NOTFOUND, "it is gone");
}

static void
test_peers(void)
{
	int i, blocked = 0;

	ok(!rf_auth_peer_blocked("192.0.2.1:1000"), "a new peer is not blocked");
	for (i = 0; i < RF_AUTH_FAIL_MAX - 1; i++)
		rf_auth_peer_failed("192.0.2.1:1000", "login", "alice");
	ok(!rf_auth_peer_blocked("192.0.2.1:1001"), "4 failures: not yet");
	rf_auth_peer_failed("192.0.2.1:1002", "login", "alice");
	ok(rf_auth_peer_blocked("192.0.2.1:2000"),
	    "the 5th blocks the address, whatever the port");
	ok(!rf_auth_peer_blocked("192.0.2.2:1000"), "another address is not");
	for (i = 0; i < RF_AUTH_FAIL_MAX; i++)
		rf_auth_peer_failed("[2001:db8::1]:443", "device", "dev1");
	ok(rf_auth_peer_blocked("[2001:db8::1]:80"), "IPv6 peers are counted");
	/* A flood of addresses reuses the stalest entries, never overflows. */
	for (i = 0; i < 3 * PEER_TABLE_SIZE; i++) {
		char p[64];

		snprintf(p, sizeof(p), "198.51.%d.%d:%d", i / 250, i % 250, i);
		rf_auth_peer_failed(p, "login", "x");
		blocked += rf_auth_peer_blocked(p);
	}
	is_int(blocked, 0, "a flood of addresses failing once each blocks none");
	ok(rf_auth_peer_blocked("192.0.2.1:1000"),
	    "and does not unblock an address that is refused");
	for (i = 0; i < RF_AUTH_FAIL_MAX; i++)
		rf_auth_peer_failed("192.0.2.9:1", "login", "alice");
	ok(rf_auth_peer_blocked("192.0.2.9:1"),
	    "a full table still counts a new address");
}

int
main(void)
{
	char dir[] = "/tmp/rf-auth-test.XXXXXX", cmd[64], yaml[4096];
	char secret[64], shash[256], alice[256], bob[256];
	struct rf_conf *conf, *reloaded;
	struct rf_db *db;

	rf_log_init("auth-test");
	rf_log_set_level(RF_LOG_ERROR);
	test_scrypt();
	test_sha256();
	test_basic();

	if (rf_auth_new_secret(secret, sizeof(secret), shash,
	    sizeof(shash)) != 0 || hash_scrypt("alice pw", 4, 8, 1, alice,
	    sizeof(alice)) != 0 || hash_scrypt("bob pw", 4, 8, 1, bob,
	    sizeof(bob)) != 0) {
		diag("cannot make hashes");
		return 1;
	}
	conf = load(conf_yaml(yaml, sizeof(yaml), shash, alice, bob, 1));
	reloaded = load(conf_yaml(yaml, sizeof(yaml), shash, alice, bob, 0));
	if (conf == NULL || reloaded == NULL || mkdtemp(dir) == NULL ||
	    rf_db_open(&db, dir, RF_DB_REGISTRY, 0) != 0) {
		diag("cannot set up");
		return 1;
	}
	test_conf(conf, secret);
	test_urls(conf);
	test_requests(conf, db);
	test_sessions(dir, conf, reloaded, db);
	test_peers();

	rf_db_close(db);
	rf_conf_free(conf);
	rf_conf_free(reloaded);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		diag("cannot remove %s", dir);
	return done_testing();
}
