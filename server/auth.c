/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Who may do what: password and secret hashes, users and devices of the
 * configuration, sessions in the registry, and the per-peer limit on
 * failed attempts.  The portal pages that use them are in portal.c.
 *
 * Two hash formats.  User passwords are chosen by people and guessable, so
 * they are stored as scrypt (memory-hard: ln=15 r=8 p=1 is 32 MiB and some
 * tens of milliseconds a try).  Device secrets that the reflector made
 * itself (rf_auth_new_secret, reflectorctl new-device-secret) are 128
 * random bits: nobody can guess one, so a slow hash would protect nothing
 * and would make a reconnect storm of 10,000 devices cost 10,000 slow
 * hashes (minutes of CPU) before the first device is back.  They are
 * stored as salted SHA-256, which a stolen config still cannot turn back
 * into a secret in any useful time (2^128 tries).  A device secret chosen
 * by a person may be stored as scrypt like a password.
 *
 * Everything here runs in the worker's event loop; a scrypt blocks it for
 * its duration, which is why failures are rate-limited per peer and a
 * success is remembered for a few minutes (cred_cache).  The state kept
 * here (the failure table, the cache) is per process: each worker counts
 * on its own.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "auth.h"
#include "conf.h"
#include "db.h"
#include "err.h"
#include "hash.h"
#include "log.h"

#define SCRYPT_LN		15	/* N = 2^15 */
#define SCRYPT_R		8
#define SCRYPT_P		1
/*
 * A stored hash is config input: its parameters are capped so that no
 * config can make one login take minutes or gigabytes.
 */
#define SCRYPT_LN_MAX		20
#define SCRYPT_R_MAX		32
#define SCRYPT_P_MAX		16
#define SCRYPT_MEM_MAX		(1024ULL * 1024 * 1024)	/* 128 * r * N */
#define SALT_LEN		16
#define KEY_LEN			32
#define KEY_LEN_MIN		16
#define KEY_LEN_MAX		64
#define SALT_LEN_MIN		8
#define SALT_LEN_MAX		64
#define SECRET_BYTES		16	/* 128 bits */
#define TOKEN_BYTES		32
#define TOKEN_CHARS		43	/* base64url of 32 bytes, no padding */

#define CRED_CACHE_SIZE		32
#define CRED_CACHE_TTL		300	/* seconds */
#define PEER_TABLE_SIZE		256
#define PURGE_INTERVAL		600	/* seconds between session purges */

static const char b64_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* ------------------------------------------------------------ base64 -- */

/* Unpadded base64 of len bytes; RF_ERR_LIMIT if out is too small. */
static int
b64_encode(const char *alpha, const unsigned char *in, size_t len, char *out,
    size_t outlen)
{
	size_t i, o = 0;
	uint32_t v;

	if (outlen < (len * 4 + 2) / 3 + 1)
		return RF_ERR_LIMIT;
	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = alpha[v >> 18 & 63];
		out[o++] = alpha[v >> 12 & 63];
		out[o++] = alpha[v >> 6 & 63];
		out[o++] = alpha[v & 63];
	}
	if (len - i == 1) {
		v = (uint32_t)in[i] << 16;
		out[o++] = alpha[v >> 18 & 63];
		out[o++] = alpha[v >> 12 & 63];
	} else if (len - i == 2) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = alpha[v >> 18 & 63];
		out[o++] = alpha[v >> 12 & 63];
		out[o++] = alpha[v >> 6 & 63];
	}
	out[o] = '\0';
	return 0;
}

/*
 * Decodes len characters of unpadded base64 (padding is tolerated at the
 * end for the Basic header); *outlen gets the byte count.  RF_ERR_PROTO
 * for a character outside the alphabet or a length no encoder makes.
 */
static int
b64_decode(const char *alpha, const char *in, size_t len, unsigned char *out,
    size_t outmax, size_t *outlen)
{
	const char *p;
	uint32_t v = 0;
	size_t i, o = 0;
	int bits = 0;

	*outlen = 0;
	while (len > 0 && in[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return RF_ERR_PROTO;
	for (i = 0; i < len; i++) {
		if (in[i] == '\0' || (p = strchr(alpha, in[i])) == NULL)
			return RF_ERR_PROTO;
		v = v << 6 | (uint32_t)(p - alpha);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outmax)
				return RF_ERR_LIMIT;
			out[o++] = (unsigned char)(v >> bits & 0xff);
		}
	}
	*outlen = o;
	return 0;
}

/* ------------------------------------------------------------ hashes -- */

static int
scrypt_raw(const char *password, const unsigned char *salt, size_t saltlen,
    unsigned int ln, unsigned int r, unsigned int p, unsigned char *key,
    size_t keylen)
{
	uint64_t n = (uint64_t)1 << ln;

	/* OpenSSL wants maxmem above 128 * r * (N + 2) + 128 * r * p. */
	if (EVP_PBE_scrypt(password, strlen(password), salt, saltlen, n, r,
	    p, SCRYPT_MEM_MAX + 128ULL * r * (p + 2), key, keylen) != 1)
		return RF_ERR_TLS;
	return 0;
}

/* Reads a decimal number of 1 to 3 digits at *sp, moving *sp past it. */
static int
parse_param(const char **sp, const char *name, unsigned int *v)
{
	const char *s = *sp;
	size_t nl = strlen(name);
	unsigned int n = 0;
	int digits = 0;

	if (strncmp(s, name, nl) != 0 || s[nl] != '=')
		return RF_ERR_PROTO;
	for (s += nl + 1; isdigit((unsigned char)*s) && digits < 3; s++) {
		n = n * 10 + (unsigned int)(*s - '0');
		digits++;
	}
	if (digits == 0 || isdigit((unsigned char)*s))
		return RF_ERR_PROTO;
	*v = n;
	*sp = s;
	return 0;
}

/* Splits "<salt>$<hash>" and decodes both. */
static int
parse_salt_hash(const char *s, unsigned char *salt, size_t *saltlen,
    unsigned char *hash, size_t *hashlen)
{
	const char *dollar;

	if ((dollar = strchr(s, '$')) == NULL || strchr(dollar + 1, '$'))
		return RF_ERR_PROTO;
	if (b64_decode(b64_std, s, (size_t)(dollar - s), salt, SALT_LEN_MAX,
	    saltlen) != 0 || b64_decode(b64_std, dollar + 1,
	    strlen(dollar + 1), hash, KEY_LEN_MAX, hashlen) != 0)
		return RF_ERR_PROTO;
	/* '=' was tolerated by the decoder for Basic; not in a hash. */
	if (strchr(s, '=') != NULL)
		return RF_ERR_PROTO;
	if (*saltlen < SALT_LEN_MIN || *hashlen < KEY_LEN_MIN)
		return RF_ERR_PROTO;
	return 0;
}

static int
verify_scrypt(const char *s, const char *password)
{
	unsigned char salt[SALT_LEN_MAX], want[KEY_LEN_MAX], got[KEY_LEN_MAX];
	size_t saltlen, wantlen;
	unsigned int ln, r, p;
	int m;

	if (parse_param(&s, "ln", &ln) != 0 || *s++ != ',' ||
	    parse_param(&s, "r", &r) != 0 || *s++ != ',' ||
	    parse_param(&s, "p", &p) != 0 || *s++ != '$')
		return RF_ERR_PROTO;
	if (ln < 1 || ln > SCRYPT_LN_MAX || r < 1 || r > SCRYPT_R_MAX ||
	    p < 1 || p > SCRYPT_P_MAX ||
	    128ULL * r * ((uint64_t)1 << ln) > SCRYPT_MEM_MAX)
		return RF_ERR_LIMIT;
	if (parse_salt_hash(s, salt, &saltlen, want, &wantlen) != 0)
		return RF_ERR_PROTO;
	if (scrypt_raw(password, salt, saltlen, ln, r, p, got, wantlen) != 0)
		return RF_ERR_TLS;
	m = CRYPTO_memcmp(got, want, wantlen) == 0;
	OPENSSL_cleanse(got, sizeof(got));
	return m;
}

/* SHA-256(salt || secret). */
static void
sha256_salted(const unsigned char *salt, size_t saltlen, const char *secret,
    unsigned char out[SHA256_DIGEST_LENGTH])
{
	EVP_MD_CTX *ctx;
	unsigned int n;

	/* EVP_Digest* fail only without memory: then nothing can match. */
	memset(out, 0, SHA256_DIGEST_LENGTH);
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, salt, saltlen) != 1 ||
	    EVP_DigestUpdate(ctx, secret, strlen(secret)) != 1 ||
	    EVP_DigestFinal_ex(ctx, out, &n) != 1)
		memset(out, 0xff, SHA256_DIGEST_LENGTH);
	EVP_MD_CTX_free(ctx);
}

static int
verify_sha256(const char *s, const char *secret)
{
	unsigned char salt[SALT_LEN_MAX], want[KEY_LEN_MAX];
	unsigned char got[SHA256_DIGEST_LENGTH];
	size_t saltlen, wantlen;

	if (parse_salt_hash(s, salt, &saltlen, want, &wantlen) != 0 ||
	    wantlen != SHA256_DIGEST_LENGTH)
		return RF_ERR_PROTO;
	sha256_salted(salt, saltlen, secret, got);
	return CRYPTO_memcmp(got, want, sizeof(got)) == 0;
}

int
rf_auth_verify(const char *hash, const char *password)
{
	if (hash == NULL || password == NULL)
		return RF_ERR_INVAL;
	if (strncmp(hash, "$scrypt$", 8) == 0)
		return verify_scrypt(hash + 8, password);
	if (strncmp(hash, "$sha256$", 8) == 0)
		return verify_sha256(hash + 8, password);
	return RF_ERR_PROTO;
}

/* A $scrypt$ hash with the given parameters (the tests use cheap ones). */
static int
hash_scrypt(const char *password, unsigned int ln, unsigned int r,
    unsigned int p, char *out, size_t outlen)
{
	unsigned char salt[SALT_LEN], key[KEY_LEN];
	char s64[SALT_LEN * 2], k64[KEY_LEN * 2];
	int n, rc;

	if (outlen > 0)
		out[0] = '\0';
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return RF_ERR_TLS;
	if ((rc = scrypt_raw(password, salt, sizeof(salt), ln, r, p, key,
	    sizeof(key))) != 0)
		return rc;
	b64_encode(b64_std, salt, sizeof(salt), s64, sizeof(s64));
	b64_encode(b64_std, key, sizeof(key), k64, sizeof(k64));
	OPENSSL_cleanse(key, sizeof(key));
	n = snprintf(out, outlen, "$scrypt$ln=%u,r=%u,p=%u$%s$%s", ln, r, p,
	    s64, k64);
	if (n < 0 || (size_t)n >= outlen) {
		if (outlen > 0)
			out[0] = '\0';
		return RF_ERR_LIMIT;
	}
	return 0;
}

int
rf_auth_hash_password(const char *password, char *out, size_t outlen)
{
	return hash_scrypt(password, SCRYPT_LN, SCRYPT_R, SCRYPT_P, out,
	    outlen);
}

int
rf_auth_new_secret(char *secret, size_t secretlen, char *hash,
    size_t hashlen)
{
	unsigned char raw[SECRET_BYTES], salt[SALT_LEN];
	unsigned char digest[SHA256_DIGEST_LENGTH];
	char s64[SALT_LEN * 2], d64[SHA256_DIGEST_LENGTH * 2];
	int n, r = 0;

	if (secretlen > 0)
		secret[0] = '\0';
	if (hashlen > 0)
		hash[0] = '\0';
	if (RAND_bytes(raw, sizeof(raw)) != 1 ||
	    RAND_bytes(salt, sizeof(salt)) != 1)
		return RF_ERR_TLS;
	/* base64url: the secret goes into URLs and YAML unquoted. */
	if ((r = b64_encode(b64_url, raw, sizeof(raw), secret,
	    secretlen)) != 0)
		goto out;
	sha256_salted(salt, sizeof(salt), secret, digest);
	b64_encode(b64_std, salt, sizeof(salt), s64, sizeof(s64));
	b64_encode(b64_std, digest, sizeof(digest), d64, sizeof(d64));
	n = snprintf(hash, hashlen, "$sha256$%s$%s", s64, d64);
	if (n < 0 || (size_t)n >= hashlen)
		r = RF_ERR_LIMIT;
out:
	OPENSSL_cleanse(raw, sizeof(raw));
	if (r != 0) {
		if (secretlen > 0)
			OPENSSL_cleanse(secret, secretlen);
		if (hashlen > 0)
			hash[0] = '\0';
	}
	return r;
}

/* ------------------------------------------------- users and devices -- */

int
rf_auth_device_find(const struct rf_conf *conf, struct rf_db *db,
    const char *id, struct rf_device_info *info)
{
	const struct rf_conf_device *d;
	struct rf_device_rec rec;

	memset(info, 0, sizeof(*info));
	if (id == NULL || strlen(id) >= sizeof(info->id))
		return 0;
	if ((d = rf_conf_device_find(conf, id)) != NULL) {
		snprintf(info->id, sizeof(info->id), "%s", d->id);
		snprintf(info->group, sizeof(info->group), "%s",
		    d->group != NULL ? d->group : "");
		snprintf(info->name, sizeof(info->name), "%s",
		    d->name != NULL ? d->name : "");
		snprintf(info->secret, sizeof(info->secret), "%s", d->secret);
		return 1;
	}
	if (db == NULL || rf_db_device_get(db, id, &rec) != 0)
		return 0;
	snprintf(info->id, sizeof(info->id), "%s", id);
	snprintf(info->group, sizeof(info->group), "%s", rec.group);
	snprintf(info->name, sizeof(info->name), "%s", rec.name);
	snprintf(info->secret, sizeof(info->secret), "%s", rec.secret);
	info->from_registry = 1;
	return 1;
}

int
rf_auth_device(const struct rf_conf *conf, struct rf_db *db, const char *id,
    const char *group, const char *secret)
{
	struct rf_device_info info;
	int r;

	if (id == NULL || group == NULL || secret == NULL ||
	    !rf_auth_device_find(conf, db, id, &info))
		return 0;
	r = strcmp(info.group, group) == 0 &&
	    rf_auth_verify(info.secret, secret) == 1;
	OPENSSL_cleanse(&info, sizeof(info));
	return r;
}

/*
 * Remembered successes: SHA-256 of (stored hash, name, password), so that
 * a changed password or a changed hash in a reloaded config misses.
 */
static struct {
	unsigned char	key[SHA256_DIGEST_LENGTH];
	time_t		expires;
} cred_cache[CRED_CACHE_SIZE];
static unsigned int cred_cache_next;

static void
cred_key(const char *hash, const char *name, const char *password,
    unsigned char key[SHA256_DIGEST_LENGTH])
{
	EVP_MD_CTX *ctx;

	memset(key, 0, SHA256_DIGEST_LENGTH);
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, hash, strlen(hash) + 1) != 1 ||
	    EVP_DigestUpdate(ctx, name, strlen(name) + 1) != 1 ||
	    EVP_DigestUpdate(ctx, password, strlen(password)) != 1 ||
	    EVP_DigestFinal_ex(ctx, key, NULL) != 1)
		memset(key, 0, SHA256_DIGEST_LENGTH);
	EVP_MD_CTX_free(ctx);
}

static int
cred_cached(const unsigned char key[SHA256_DIGEST_LENGTH], time_t now)
{
	size_t i;

	for (i = 0; i < CRED_CACHE_SIZE; i++)
		if (cred_cache[i].expires > now &&
		    CRYPTO_memcmp(cred_cache[i].key, key,
		    SHA256_DIGEST_LENGTH) == 0)
			return 1;
	return 0;
}

static void
cred_remember(const unsigned char key[SHA256_DIGEST_LENGTH], time_t now)
{
	unsigned int i = cred_cache_next++ % CRED_CACHE_SIZE;

	memcpy(cred_cache[i].key, key, SHA256_DIGEST_LENGTH);
	cred_cache[i].expires = now + CRED_CACHE_TTL;
}

/* A hash of the default cost to spend time on when a name is unknown. */
static const char *
dummy_hash(void)
{
	static char h[128];

	if (h[0] == '\0' && rf_auth_hash_password("unknown user", h,
	    sizeof(h)) != 0)
		h[0] = '\0';
	return h;
}


const struct rf_conf_user *
rf_auth_user(const struct rf_conf *conf, const char *name,
    const char *password)
{
	const struct rf_conf_user *u;
	unsigned char key[SHA256_DIGEST_LENGTH];
	time_t now = time(NULL);

	if (name == NULL || password == NULL)
		return NULL;
	if ((u = rf_conf_user_find(conf, name)) == NULL) {
		rf_auth_verify(dummy_hash(), password);
		return NULL;
	}
	cred_key(u->password, name, password, key);
	if (cred_cached(key, now))
		return u;
	if (rf_auth_verify(u->password, password) != 1)
		return NULL;
	cred_remember(key, now);
	return u;
}

int
rf_auth_user_may(const struct rf_conf_user *u, const char *device)
{
	if (u == NULL || device == NULL)
		return 0;
	return rf_conf_patterns_match(u->devices, u->ndevices, device);
}

/* ---------------------------------------------------------- sessions -- */

static int
token_valid(const char *t, size_t len)
{
	size_t i;

	if (len != TOKEN_CHARS)
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)t[i]) && t[i] != '-' && t[i] != '_')
			return 0;
	return 1;
}

static void
token_key(const char *t, size_t len, unsigned char key[RF_DB_SESSION_KEY_LEN])
{
	SHA256((const unsigned char *)t, len, key);
}

static uint64_t
session_ttl(int kind)
{
	switch (kind) {
	case RF_SESSION_ONETIME:
		return RF_AUTH_ONETIME_TTL;
	case RF_SESSION_PORTAL:
		return RF_AUTH_PORTAL_TTL;
	case RF_AUTH_SESSION_API:
		return RF_AUTH_API_TTL;
	default:
		return RF_AUTH_DEVICE_TTL;
	}
}

/* rf_auth_session_new, and when the session expires (unix seconds). */
static int
session_new(struct rf_db *db, int kind, const char *user, const char *scope,
    char *token, size_t tokenlen, uint64_t *expires)
{
	static time_t last_purge;
	unsigned char raw[TOKEN_BYTES], key[RF_DB_SESSION_KEY_LEN];
	struct rf_session_rec rec;
	time_t now = time(NULL);
	size_t n;
	int r;

	*expires = 0;
	if (tokenlen > 0)
		token[0] = '\0';
	if (strlen(user) >= sizeof(rec.user) ||
	    strlen(scope) >= sizeof(rec.scope))
		return RF_ERR_INVAL;
	if (now - last_purge >= PURGE_INTERVAL) {
		last_purge = now;
		if (rf_db_session_purge_expired(db, (uint64_t)now, &n) == 0 &&
		    n > 0)
			debug("purged %zu expired sessions", n);
	}
	memset(&rec, 0, sizeof(rec));
	rec.kind = (uint32_t)kind;
	rec.created = (uint64_t)now;
	rec.expires = (uint64_t)now + session_ttl(kind);
	*expires = rec.expires;
	snprintf(rec.user, sizeof(rec.user), "%s", user);
	snprintf(rec.scope, sizeof(rec.scope), "%s", scope);
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return RF_ERR_TLS;
	if ((r = b64_encode(b64_url, raw, sizeof(raw), token, tokenlen)) != 0)
		goto out;
	token_key(token, strlen(token), key);
	r = rf_db_session_put(db, key, &rec);
out:
	OPENSSL_cleanse(raw, sizeof(raw));
	if (r != 0 && tokenlen > 0)
		OPENSSL_cleanse(token, tokenlen);
	return r;
}

int
rf_auth_session_new(struct rf_db *db, int kind, const char *user,
    const char *scope, char *token, size_t tokenlen)
{
	uint64_t expires;

	return session_new(db, kind, user, scope, token, tokenlen, &expires);
}

int
rf_auth_api_token_new(struct rf_db *db, const char *user, char *token,
    size_t tokenlen, long long *expires)
{
	uint64_t e = 0;
	int r;

	*expires = 0;
	r = session_new(db, RF_AUTH_SESSION_API, user, "api", token, tokenlen,
	    &e);
	if (r == 0)
		*expires = (long long)e;
	return r;
}

/*
 * Calls fn for the value of every cookie called name in a Cookie header
 * ("a=1; b=2"), until fn returns non-zero; returns that value or 0.
 */
static int
each_cookie(const char *header, const char *name,
    int (*fn)(const char *, size_t, void *), void *arg)
{
	const char *p = header, *end, *eq;
	size_t nl = strlen(name);
	int r;

	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		end = p + strcspn(p, ";");
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq != NULL && (size_t)(eq - p) == nl &&
		    strncmp(p, name, nl) == 0 &&
		    (r = fn(eq + 1, (size_t)(end - eq - 1), arg)) != 0)
			return r;
		p = end;
	}
	return 0;
}

struct session_want {
	const struct rf_conf	*conf;
	struct rf_db		*db;
	int			 kind;
	const char		*scope;
	char			*user;
	size_t			 userlen;
};

static int
session_match(const char *v, size_t len, void *arg)
{
	struct session_want *w = arg;
	unsigned char key[RF_DB_SESSION_KEY_LEN];
	const struct rf_conf_user *u;
	struct rf_session_rec rec;

	if (!token_valid(v, len))
		return 0;
	token_key(v, len, key);
	if (rf_db_session_get(w->db, key, (uint64_t)time(NULL), &rec) != 0)
		return 0;
	if (rec.kind != (uint32_t)w->kind || strcmp(rec.scope, w->scope) != 0)
		return 0;
	/* A reload may have removed the user or the grant since. */
	if ((u = rf_conf_user_find(w->conf, rec.user)) == NULL)
		return 0;
	if (w->kind != RF_SESSION_PORTAL && !rf_auth_user_may(u, w->scope))
		return 0;
	if (snprintf(w->user, w->userlen, "%s", rec.user) >= (int)w->userlen)
		return 0;
	return 1;
}

int
rf_auth_session_check(const struct rf_conf *conf, struct rf_db *db,
    const char *cookie_header, const char *name, int kind, const char *scope,
    char *user, size_t userlen)
{
	struct session_want w = { conf, db, kind, scope, user, userlen };

	if (userlen > 0)
		user[0] = '\0';
	if (cookie_header == NULL || db == NULL || userlen == 0)
		return 0;
	if (each_cookie(cookie_header, name, session_match, &w) == 1)
		return 1;
	user[0] = '\0';
	return 0;
}

static int
session_delete(const char *v, size_t len, void *arg)
{
	unsigned char key[RF_DB_SESSION_KEY_LEN];

	if (token_valid(v, len)) {
		token_key(v, len, key);
		rf_db_session_del(arg, key);
	}
	return 0;
}

void
rf_auth_session_end(struct rf_db *db, const char *cookie_header,
    const char *name)
{
	if (cookie_header != NULL && db != NULL)
		each_cookie(cookie_header, name, session_delete, db);
}

enum rf_auth_result
rf_auth_session_from_token(const struct rf_conf *conf, struct rf_db *db,
    const char *device, const char *token, char *cookie, size_t cookielen)
{
	unsigned char key[RF_DB_SESSION_KEY_LEN];
	const struct rf_conf_user *u;
	struct rf_session_rec rec;
	char t[RF_AUTH_TOKEN_MAX];
	int n;

	if (cookielen > 0)
		cookie[0] = '\0';
	if (token == NULL || !token_valid(token, strlen(token)))
		return RF_AUTH_DENIED;
	token_key(token, strlen(token), key);
	/* Deleted as it is read: a second use, in any worker, finds nothing. */
	if (rf_db_session_take(db, key, (uint64_t)time(NULL), &rec) != 0)
		return RF_AUTH_DENIED;
	if (rec.kind != RF_SESSION_ONETIME || strcmp(rec.scope, device) != 0 ||
	    (u = rf_conf_user_find(conf, rec.user)) == NULL ||
	    !rf_auth_user_may(u, device)) {
		logit("one-time token of %s for %s refused on %s", rec.user,
		    rec.scope, device);
		return RF_AUTH_DENIED;
	}
	if (rf_auth_session_new(db, RF_SESSION_DEVICE, rec.user, device, t,
	    sizeof(t)) != 0)
		return RF_AUTH_DENIED;
	/* Host-only (no Domain=): other device hosts never see it. */
	n = snprintf(cookie, cookielen, "%s=%s; Path=/; Max-Age=%d; Secure; "
	    "HttpOnly; SameSite=Lax", RF_AUTH_DEVICE_COOKIE, t,
	    RF_AUTH_DEVICE_TTL);
	OPENSSL_cleanse(t, sizeof(t));
	if (n < 0 || (size_t)n >= cookielen) {
		if (cookielen > 0)
			cookie[0] = '\0';
		return RF_AUTH_DENIED;
	}
	verbose("device session for %s on %s", rec.user, device);
	return RF_AUTH_OK;
}

/* ------------------------------------------------- device requests -- */

int
rf_auth_basic_decode(const char *header, char *user, size_t userlen,
    char *password, size_t passlen)
{
	unsigned char raw[512];
	const char *p, *colon;
	size_t len, ul;
	int r = RF_ERR_PROTO;

	if (userlen > 0)
		user[0] = '\0';
	if (passlen > 0)
		password[0] = '\0';
	if (header == NULL || strncasecmp(header, "Basic ", 6) != 0)
		return RF_ERR_PROTO;
	for (p = header + 6; *p == ' '; p++)
		;
	len = strcspn(p, " \t");
	if (p[len + strspn(p + len, " \t")] != '\0')
		return RF_ERR_PROTO;
	if (b64_decode(b64_std, p, len, raw, sizeof(raw) - 1, &len) != 0)
		return RF_ERR_PROTO;
	raw[len] = '\0';
	if (memchr(raw, '\0', len) != NULL ||
	    (colon = strchr((char *)raw, ':')) == NULL)
		goto out;
	ul = (size_t)(colon - (char *)raw);
	if (ul == 0 || ul >= userlen || strlen(colon + 1) >= passlen)
		goto out;
	memcpy(user, raw, ul);
	user[ul] = '\0';
	strcpy(password, colon + 1);
	r = 0;
out:
	OPENSSL_cleanse(raw, sizeof(raw));
	return r;
}

enum rf_auth_result
rf_auth_device_request(const struct rf_conf *conf, struct rf_db *db,
    const char *device, const char *cookie, const char *authorization,
    const char *x_ptth_authorization, char *user, size_t userlen,
    int *used_authorization)
{
	const struct rf_conf_user *u;
	char name[RF_DB_SESSION_USER_MAX], pass[256];
	const char *creds;
	enum rf_auth_result res = RF_AUTH_DENIED;

	*used_authorization = 0;
	if (userlen > 0)
		user[0] = '\0';
	if (rf_auth_session_check(conf, db, cookie, RF_AUTH_DEVICE_COOKIE,
	    RF_SESSION_DEVICE, device, user, userlen))
		return RF_AUTH_OK;
	if (x_ptth_authorization != NULL)
		creds = x_ptth_authorization;
	else if (authorization != NULL && rf_auth_basic_decode(authorization,
	    name, sizeof(name), pass, sizeof(pass)) == 0 &&
	    rf_conf_user_find(conf, name) != NULL)
		creds = authorization;
	else
		return RF_AUTH_LOGIN;
	if (rf_auth_basic_decode(creds, name, sizeof(name), pass,
	    sizeof(pass)) != 0) {
		debug("malformed credentials for %s", device);
		goto out;
	}
	snprintf(user, userlen, "%s", name);
	if ((u = rf_auth_user(conf, name, pass)) == NULL) {
		debug("wrong password of %s for %s", name, device);
		goto out;
	}
	if (!rf_auth_user_may(u, device)) {
		debug("%s may not reach %s", name, device);
		goto out;
	}
	*used_authorization = creds == authorization;
	res = RF_AUTH_OK;
out:
	OPENSSL_cleanse(pass, sizeof(pass));
	return res;
}

/* "Bearer <token>": the API session it names, if live and of a user. */
static const struct rf_conf_user *
bearer_user(const struct rf_conf *conf, struct rf_db *db, const char *header)
{
	unsigned char key[RF_DB_SESSION_KEY_LEN];
	struct rf_session_rec rec;
	const char *t;
	size_t len;

	for (t = header + 7; *t == ' '; t++)
		;
	len = strcspn(t, " \t");
	if (t[len + strspn(t + len, " \t")] != '\0' || !token_valid(t, len) ||
	    db == NULL)
		return NULL;
	token_key(t, len, key);
	if (rf_db_session_get(db, key, (uint64_t)time(NULL), &rec) != 0 ||
	    rec.kind != RF_AUTH_SESSION_API)
		return NULL;
	/* A reload may have removed the user since. */
	return rf_conf_user_find(conf, rec.user);
}

enum rf_auth_result
rf_auth_tool(const struct rf_conf *conf, struct rf_db *db,
    const char *header, char *user, size_t userlen,
    const struct rf_conf_user **up)
{
	const struct rf_conf_user *u = NULL;
	char name[RF_DB_SESSION_USER_MAX], pass[256];

	*up = NULL;
	if (userlen > 0)
		user[0] = '\0';
	if (header == NULL || *header == '\0')
		return RF_AUTH_LOGIN;
	if (strncasecmp(header, "Bearer ", 7) == 0) {
		if ((u = bearer_user(conf, db, header)) == NULL) {
			snprintf(user, userlen, "(token)");
			return RF_AUTH_DENIED;
		}
	} else if (rf_auth_basic_decode(header, name, sizeof(name), pass,
	    sizeof(pass)) == 0) {
		snprintf(user, userlen, "%s", name);
		u = rf_auth_user(conf, name, pass);
		OPENSSL_cleanse(pass, sizeof(pass));
		if (u == NULL)
			return RF_AUTH_DENIED;
	} else
		return RF_AUTH_DENIED;
	snprintf(user, userlen, "%s", u->name);
	*up = u;
	return RF_AUTH_OK;
}

int
rf_auth_port_may(const struct rf_conf *conf, const struct rf_conf_user *u,
    const char *device, unsigned int port)
{
	const struct rf_conf_device *d;

	if (u == NULL || !rf_conf_ports_allow(&u->ports, port))
		return 0;
	if ((d = rf_conf_device_find(conf, device)) != NULL)
		return rf_conf_ports_allow(&d->ports, port);
	return 1;	/* a registry device has no policy of its own */
}

int
rf_auth_url_encode(const char *s, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (outlen == 0)
		return RF_ERR_LIMIT;
	out[0] = '\0';
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || strchr("-._~/", c) != NULL) {
			if (o + 1 >= outlen)
				goto full;
			out[o++] = (char)c;
		} else {
			if (o + 3 >= outlen)
				goto full;
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return 0;
full:
	out[0] = '\0';
	return RF_ERR_LIMIT;
}

int
rf_auth_local_path(const char *s)
{
	if (s == NULL || s[0] != '/' || s[1] == '/' || s[1] == '\\')
		return 0;
	for (; *s != '\0'; s++)
		if (*s <= ' ' || *s >= 0x7f)
			return 0;
	return 1;
}

void
rf_auth_host_port(const char *host, char *port, size_t portlen)
{
	const char *colon = NULL;
	size_t n;

	if (portlen > 0)
		port[0] = '\0';
	/* "host:port" or "[v6]:port": the port, digits only, is kept. */
	if (host != NULL)
		colon = strrchr(host, ':');
	if (colon == NULL || strchr(colon, ']') != NULL ||
	    (host[0] != '[' && strchr(host, ':') != colon))
		return;
	n = strspn(colon + 1, "0123456789");
	if (n == 0 || n > 5 || colon[1 + n] != '\0' ||
	    strcmp(colon + 1, "443") == 0)
		return;
	snprintf(port, portlen, "%s", colon);
}

int
rf_auth_login_url(const struct rf_conf *conf, const char *host,
    const char *device, const char *path, char *url, size_t urllen)
{
	char ret[2048], port[8];
	int n;

	if (urllen > 0)
		url[0] = '\0';
	if (!rf_auth_local_path(path))
		return RF_ERR_INVAL;
	rf_auth_host_port(host, port, sizeof(port));
	if (rf_auth_url_encode(path, ret, sizeof(ret)) != 0)
		return RF_ERR_LIMIT;
	n = snprintf(url, urllen, "https://%s%s/.reflector/authorize?"
	    "device=%s&return=%s", conf->domain, port, device, ret);
	if (n < 0 || (size_t)n >= urllen) {
		if (urllen > 0)
			url[0] = '\0';
		return RF_ERR_LIMIT;
	}
	return 0;
}

/* ---------------------------------------------- failures per peer -- */

static struct peer_fail {
	char	addr[48];	/* "" when free */
	time_t	first;		/* start of the counting window */
	time_t	last;
	time_t	blocked_until;
	int	count;
} peers[PEER_TABLE_SIZE];

static time_t
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* "1.2.3.4:5678" -> "1.2.3.4", "[::1]:5678" -> "::1". */
static void
peer_addr(const char *peer, char *out, size_t len)
{
	const char *colon;
	size_t n;

	if (peer == NULL)
		peer = "unknown";
	if (peer[0] == '[' && (colon = strchr(peer, ']')) != NULL)
		n = (size_t)(colon - peer - 1), peer++;
	else if ((colon = strchr(peer, ':')) != NULL &&
	    strchr(colon + 1, ':') == NULL)
		n = (size_t)(colon - peer);
	else
		n = strlen(peer);
	if (n >= len)
		n = len - 1;
	memcpy(out, peer, n);
	out[n] = '\0';
}

/*
 * Every request looks its peer up, so the search runs over a compact
 * array of hashes (0: free) and compares addresses only on a match.
 */
static uint32_t peer_hash[PEER_TABLE_SIZE];

/*
 * The entry of addr, or with make a fresh one: a free entry, else the
 * stalest that blocks nobody (a flood of new addresses must not unblock
 * an address that is refused), else the stalest.
 */
static struct peer_fail *
peer_find(const char *addr, int make, time_t now)
{
	struct peer_fail *pf, *victim = NULL, *stalest = NULL;
	uint32_t h = rf_hash_str(addr) | 1;
	size_t i;

	for (i = 0; i < PEER_TABLE_SIZE; i++)
		if (peer_hash[i] == h && strcmp(peers[i].addr, addr) == 0)
			return &peers[i];
	if (!make)
		return NULL;
	for (i = 0; i < PEER_TABLE_SIZE; i++) {
		pf = &peers[i];
		if (peer_hash[i] == 0) {
			victim = pf;
			break;
		}
		if (stalest == NULL || pf->last < stalest->last)
			stalest = pf;
		if (pf->blocked_until <= now &&
		    (victim == NULL || pf->last < victim->last))
			victim = pf;
	}
	if (victim == NULL)
		victim = stalest;
	memset(victim, 0, sizeof(*victim));
	snprintf(victim->addr, sizeof(victim->addr), "%s", addr);
	peer_hash[victim - peers] = h;
	return victim;
}

int
rf_auth_peer_blocked(const char *peer)
{
	struct peer_fail *pf;
	time_t now = mono_now();
	char addr[48];

	peer_addr(peer, addr, sizeof(addr));
	if ((pf = peer_find(addr, 0, now)) == NULL)
		return 0;
	return pf->blocked_until > now;
}

void
rf_auth_peer_failed(const char *peer, const char *what, const char *who)
{
	struct peer_fail *pf;
	time_t now = mono_now();
	char addr[48];

	peer_addr(peer, addr, sizeof(addr));
	logit("%s failed for \"%s\" from %s", what, who != NULL ? who : "",
	    peer != NULL ? peer : "unknown");
	pf = peer_find(addr, 1, now);
	if (pf->count == 0 || now - pf->first >= RF_AUTH_FAIL_WINDOW) {
		pf->first = now;
		pf->count = 0;
	}
	pf->last = now;
	if (++pf->count >= RF_AUTH_FAIL_MAX && pf->blocked_until <= now) {
		pf->blocked_until = now + RF_AUTH_FAIL_BLOCK;
		pf->count = 0;
		logit("%d failures from %s within %d s: refusing it for %d s",
		    RF_AUTH_FAIL_MAX, addr, RF_AUTH_FAIL_WINDOW,
		    RF_AUTH_FAIL_BLOCK);
	}
}
