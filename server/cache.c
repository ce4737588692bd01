/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The shared HTTP cache of device hosts (RFC 9111): its rules, as pure
 * functions of parsed heads and the time (pinned by t/unit/cache-test.c),
 * and its store, cache.mdb, an LMDB environment of its own (schema in
 * cache.h).  proxy.c asks it after a request is authorised for the
 * device, so that the cache can never answer a user who may not reach the
 * device; the key holds the device id, so one device's entries never
 * answer for another.
 *
 * Choices, each narrower than RFC 9111 allows, because a device's web
 * pages are small and a wrong hit leaks one user's page to another:
 * - only GET is stored, only status 200 with a Content-Length (a chunked
 *   body passes unstored), never with Set-Cookie, never with Vary other
 *   than Accept-Encoding (Vary: * never); HEAD is answered from a GET's
 *   entry;
 * - private and no-store (request or response) are never stored;
 *   private="field" and no-cache="field" are taken unqualified, which the
 *   RFC allows a shared cache (5.2.2.4, 5.2.2.7);
 * - a request with the device's own Authorization (X-PTTH-Authorization
 *   carried the reflector's) is stored and answered only if the response
 *   says public or s-maxage (RFC 9111 3.5);
 * - no heuristic freshness: a response without s-maxage, max-age or
 *   Expires is stored only if it has a validator, and is then stale from
 *   the start, revalidated on every use;
 * - a malformed or repeated max-age, s-maxage or Expires makes the
 *   response stale (RFC 9111 4.2.1), never fresher;
 * - nothing stale is ever served, not even while the device is offline:
 *   an offline device's host answers 503 before the cache is asked.
 * Directive values come from the device, that is from anyone: they are
 * read through common/buf.c views of the parsed head, bounded by it.
 *
 * Lifecycle of the store.  The master creates and empties cache.mdb at
 * start (after dropping privileges, so that workers own it) and closes
 * it before it forks, or, if no device's cache is on at start, at the
 * first reload that turns one on, before the workers get it.  Each
 * worker opens it on first use, and one that cannot runs without a
 * cache.  It lives in run_dir unless cache.dir says otherwise: tmpfs,
 * with MDB_NOSYNC, because a cache needs no durability (it is emptied at
 * start anyway) and every miss writes, which costs ~20 us there and ~9 ms
 * with a synced disk.
 * The master runs mdb_reader_check on it after a worker dies.
 *
 * Races.  Every write is one LMDB write transaction, which LMDB runs one
 * at a time across processes: two workers storing the same key one after
 * the other leave the second's response, whole (both were valid answers
 * of the device).  Readers copy an entry out and end their transaction at
 * once, so a hit never holds a snapshot across event-loop iterations.  A
 * revalidation's 304 refreshes whatever entry the key has then.
 *
 * Bounds.  meta "total" counts the bytes of the entries; a write first
 * evicts the entries used longest ago ("lru"), at most RF_CACHE_EVICT_MAX
 * of them, and stores nothing if that did not make room (the next write
 * evicts more).  A hit moves its entry up the lru at most every
 * RF_CACHE_TOUCH_SECS, so that most hits write nothing.  The map is twice
 * cache.max_size and a margin, for LMDB's copy-on-write; if it is full
 * anyway (MDB_MAP_FULL, a long reader pinning old pages), the write is
 * dropped and a batch of the oldest entries evicted in a write of its own.
 * A body being stored is held in the worker's memory up to
 * cache.max_object; proxy.c starts only so many at once.
 */
#include <sys/stat.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>
#include <openssl/evp.h>

#include "buf.h"
#include "conf.h"
#include "db.h"
#include "err.h"
#include "http.h"
#include "log.h"
#include "cache.h"

#define CC_NAME_MAX	32

static int
cc_is_tchar(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || (c != '\0' && strchr("!#$%&'*+-.^_`|~",
	    c) != NULL);
}

/*
 * A delta-seconds from a token or quoted value of n bytes at p: -1 if it
 * is not one, clamped to RF_CACHE_DELTA_MAX.
 */
static int64_t
cc_delta(const unsigned char *p, size_t n)
{
	int64_t	 v = 0;
	size_t	 i;

	if (n >= 2 && p[0] == '"' && p[n - 1] == '"') {
		p++;
		n -= 2;
	}
	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		if (v < RF_CACHE_DELTA_MAX)
			v = v * 10 + (p[i] - '0');
	}
	return v > RF_CACHE_DELTA_MAX ? RF_CACHE_DELTA_MAX : v;
}

static void
cc_age(struct rf_cache_cc *cc, int64_t *slot, const unsigned char *v,
    size_t vlen, int has_value)
{
	int64_t	 d;

	d = has_value ? cc_delta(v, vlen) : -1;
	if (d < 0 || *slot >= 0) {
		cc->flags |= RF_CACHE_CC_INVALID;
		*slot = 0;
		return;
	}
	*slot = d;
}

/* The directives that only set a flag. */
static const struct {
	const char	*name;
	unsigned int	 flag;
} cc_flags[] = {
	{ "no-store",		RF_CACHE_CC_NO_STORE },
	{ "no-cache",		RF_CACHE_CC_NO_CACHE },
	{ "private",		RF_CACHE_CC_PRIVATE },
	{ "public",		RF_CACHE_CC_PUBLIC },
	{ "must-revalidate",	RF_CACHE_CC_MUST_REVALIDATE },
	{ "proxy-revalidate",	RF_CACHE_CC_PROXY_REVALIDATE },
};

/* One field value: directive [ "=" ( token / quoted-string ) ], ... */
static void
cc_parse_value(struct rf_buf *b, struct rf_cache_cc *cc)
{
	const unsigned char	*p = rf_buf_ptr(b);
	size_t			 n = rf_buf_len(b), i = 0, ns, nl, vs, vl;
	char			 name[CC_NAME_MAX];
	size_t			 d;
	int			 has_value;

	while (i < n) {
		while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == ','))
			i++;
		ns = i;
		while (i < n && cc_is_tchar(p[i]))
			i++;
		nl = i - ns;
		has_value = 0;
		vs = vl = 0;
		while (i < n && (p[i] == ' ' || p[i] == '\t'))
			i++;
		if (i < n && p[i] == '=') {
			has_value = 1;
			i++;
			vs = i;
			if (i < n && p[i] == '"') {
				/* quoted-string, with quoted-pairs */
				for (i++; i < n && p[i] != '"'; i++)
					if (p[i] == '\\' && i + 1 < n)
						i++;
				if (i < n)
					i++;
			} else
				while (i < n && cc_is_tchar(p[i]))
					i++;
			vl = i - vs;
		}
		/* Skip to the next comma: junk makes no directive. */
		while (i < n && p[i] != ',')
			i++;
		if (nl == 0 || nl >= sizeof(name))
			continue;
		memcpy(name, p + ns, nl);
		name[nl] = '\0';
		for (d = 0; d < sizeof(cc_flags) / sizeof(cc_flags[0]); d++)
			if (strcasecmp(name, cc_flags[d].name) == 0)
				cc->flags |= cc_flags[d].flag;
		if (strcasecmp(name, "max-age") == 0)
			cc_age(cc, &cc->max_age, p + vs, vl, has_value);
		else if (strcasecmp(name, "s-maxage") == 0)
			cc_age(cc, &cc->s_maxage, p + vs, vl, has_value);
	}
}

void
rf_cache_cc_parse(const struct rf_http_head *h, struct rf_cache_cc *cc)
{
	struct rf_buf	 v;
	int		 i;

	cc->flags = 0;
	cc->max_age = cc->s_maxage = -1;
	for (i = rf_http_find(h, "cache-control", 0); i >= 0;
	    i = rf_http_find(h, "cache-control", (size_t)i + 1)) {
		rf_http_view(h, h->fields[i].value, &v);
		cc_parse_value(&v, cc);
	}
}

time_t
rf_cache_http_date(const char *s)
{
	static const char	*const months[] = { "Jan", "Feb", "Mar", "Apr",
	    "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm		 tm;
	char			 wday[4], mon[4], zone[4], end;
	int			 i, n;

	/* IMF-fixdate only: "Sun, 06 Nov 1994 08:49:37 GMT". */
	memset(&tm, 0, sizeof(tm));
	n = sscanf(s, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d %3[A-Z]%c",
	    wday, &tm.tm_mday, mon, &tm.tm_year, &tm.tm_hour, &tm.tm_min,
	    &tm.tm_sec, zone, &end);
	if (n != 8 || strcmp(zone, "GMT") != 0 || strlen(s) != 29)
		return -1;
	for (i = 0; i < 12; i++)
		if (strcmp(mon, months[i]) == 0)
			break;
	if (i == 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60 ||
	    tm.tm_year < 1970)
		return -1;
	tm.tm_mon = i;
	tm.tm_year -= 1900;
	return timegm(&tm);
}

/* The single field name as a date; -1 if absent, -2 if bad or doubled. */
static time_t
head_date(const struct rf_http_head *h, const char *name)
{
	char	 s[64];
	int	 i;
	time_t	 t;

	if ((i = rf_http_find(h, name, 0)) < 0)
		return -1;
	if (rf_http_find(h, name, (size_t)i + 1) >= 0 ||
	    rf_http_span_cstring(h, h->fields[i].value, s, sizeof(s)) != 0 ||
	    (t = rf_cache_http_date(s)) < 0)
		return -2;
	return t;
}

enum rf_cache_use
rf_cache_request_use(const struct rf_http_head *req)
{
	struct rf_cache_cc	 cc;

	if (!rf_http_span_is(req, req->method, "GET") &&
	    !rf_http_span_is(req, req->method, "HEAD"))
		return RF_CACHE_BYPASS;
	if (rf_http_find(req, "range", 0) >= 0)
		return RF_CACHE_BYPASS;
	rf_cache_cc_parse(req, &cc);
	if (cc.flags & RF_CACHE_CC_NO_STORE)
		return RF_CACHE_BYPASS;
	if ((cc.flags & (RF_CACHE_CC_NO_CACHE | RF_CACHE_CC_INVALID)) ||
	    cc.max_age == 0)
		return RF_CACHE_REVALIDATE;
	/* RFC 9111 5.4: Pragma: no-cache only counts without Cache-Control. */
	if (rf_http_find(req, "cache-control", 0) < 0 &&
	    rf_http_list_has(req, "pragma", "no-cache"))
		return RF_CACHE_REVALIDATE;
	return RF_CACHE_LOOKUP;
}

/* 1 if every Vary field lists only Accept-Encoding. */
static int
vary_ok(const struct rf_http_head *h)
{
	const unsigned char	*p;
	struct rf_buf		 v;
	size_t			 n, i, s;
	int			 f;

	for (f = rf_http_find(h, "vary", 0); f >= 0;
	    f = rf_http_find(h, "vary", (size_t)f + 1)) {
		rf_http_view(h, h->fields[f].value, &v);
		p = rf_buf_ptr(&v);
		n = rf_buf_len(&v);
		for (i = 0; i < n;) {
			while (i < n && (p[i] == ' ' || p[i] == '\t' ||
			    p[i] == ','))
				i++;
			s = i;
			while (i < n && p[i] != ',' && p[i] != ' ' &&
			    p[i] != '\t')
				i++;
			if (i > s && (i - s != 15 ||
			    strncasecmp((const char *)p + s, "accept-encoding",
			    15) != 0))
				return 0;
		}
	}
	return 1;
}

int
rf_cache_storable(const struct rf_http_head *req,
    const struct rf_http_head *resp, int dev_authz, uint64_t max_object,
    const char **why)
{
	struct rf_cache_cc	 qcc, cc;
	int			 explicit;

	*why = NULL;
	if (!rf_http_span_is(req, req->method, "GET")) {
		*why = "not GET";
		return 0;
	}
	if (rf_http_find(req, "range", 0) >= 0) {
		*why = "Range request";
		return 0;
	}
	if (resp->status != 200) {
		*why = "status not 200";
		return 0;
	}
	rf_cache_cc_parse(req, &qcc);
	rf_cache_cc_parse(resp, &cc);
	if ((qcc.flags | cc.flags) & RF_CACHE_CC_NO_STORE) {
		*why = "no-store";
		return 0;
	}
	if (cc.flags & RF_CACHE_CC_PRIVATE) {
		*why = "private";
		return 0;
	}
	if (rf_http_find(resp, "set-cookie", 0) >= 0) {
		*why = "Set-Cookie";
		return 0;
	}
	if (!vary_ok(resp)) {
		*why = "Vary";
		return 0;
	}
	if (dev_authz && !(cc.flags & RF_CACHE_CC_PUBLIC) && cc.s_maxage < 0) {
		*why = "Authorization without public or s-maxage";
		return 0;
	}
	if (resp->has_length && resp->length > max_object) {
		*why = "larger than the object bound";
		return 0;
	}
	explicit = cc.s_maxage >= 0 || cc.max_age >= 0 ||
	    rf_http_find(resp, "expires", 0) >= 0;
	if (!explicit && rf_http_find(resp, "etag", 0) < 0 &&
	    rf_http_find(resp, "last-modified", 0) < 0) {
		*why = "neither freshness nor a validator";
		return 0;
	}
	return 1;
}

int64_t
rf_cache_lifetime(const struct rf_http_head *resp, time_t now)
{
	struct rf_cache_cc	 cc;
	time_t			 exp, date;

	rf_cache_cc_parse(resp, &cc);
	if (cc.flags & RF_CACHE_CC_NO_CACHE)
		return 0;
	if (cc.s_maxage >= 0)
		return cc.s_maxage;
	if (cc.max_age >= 0)
		return cc.max_age;
	if ((exp = head_date(resp, "expires")) < 0)
		return 0;
	if ((date = head_date(resp, "date")) == -2)
		return 0;
	if (date == -1)
		date = now;
	return exp > date ? (int64_t)(exp - date) : 0;
}

int64_t
rf_cache_initial_age(const struct rf_http_head *resp, time_t now)
{
	struct rf_buf	 v;
	int64_t		 age = 0, apparent = 0;
	time_t		 date;
	int		 i;

	if ((i = rf_http_find(resp, "age", 0)) >= 0) {
		rf_http_view(resp, resp->fields[i].value, &v);
		if ((age = cc_delta(rf_buf_ptr(&v), rf_buf_len(&v))) < 0)
			age = 0;
	}
	if ((date = head_date(resp, "date")) >= 0 && now > date)
		apparent = (int64_t)(now - date);
	return age > apparent ? age : apparent;
}

/* 1 if some entity-tag of the list v (If-None-Match) matches etag weakly. */
static int
etag_list_match(const unsigned char *p, size_t n, const unsigned char *e,
    size_t elen)
{
	size_t	 i = 0, s;

	if (elen >= 2 && e[0] == 'W' && e[1] == '/') {
		e += 2;
		elen -= 2;
	}
	while (i < n) {
		while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == ','))
			i++;
		if (i < n && p[i] == '*')
			return 1;
		if (i + 1 < n && p[i] == 'W' && p[i + 1] == '/')
			i += 2;
		s = i;
		if (i < n && p[i] == '"') {
			for (i++; i < n && p[i] != '"'; i++)
				;
			if (i < n)
				i++;
		}
		if (i - s == elen && elen > 0 && memcmp(p + s, e, elen) == 0)
			return 1;
		while (i < n && p[i] != ',')
			i++;
	}
	return 0;
}

int
rf_cache_not_modified(const struct rf_http_head *req,
    const struct rf_http_head *stored)
{
	struct rf_buf	 v, e;
	time_t		 ims, lm;
	int		 i, k;

	if ((i = rf_http_find(req, "if-none-match", 0)) >= 0) {
		if ((k = rf_http_find(stored, "etag", 0)) < 0)
			return 0;
		rf_http_view(stored, stored->fields[k].value, &e);
		for (; i >= 0; i = rf_http_find(req, "if-none-match",
		    (size_t)i + 1)) {
			rf_http_view(req, req->fields[i].value, &v);
			if (etag_list_match(rf_buf_ptr(&v), rf_buf_len(&v),
			    rf_buf_ptr(&e), rf_buf_len(&e)))
				return 1;
		}
		return 0;
	}
	if ((ims = head_date(req, "if-modified-since")) < 0 ||
	    (lm = head_date(stored, "last-modified")) < 0)
		return 0;
	return lm <= ims;
}

int
rf_cache_any(const struct rf_conf *conf)
{
	return conf->ncache_devices > 0 || conf->ncache_groups > 0 ||
	    conf->ndevices_cache_on > 0;
}

int
rf_cache_on(const struct rf_conf *conf, const char *device, const char *group)
{
	const struct rf_conf_device *d;

	if ((d = rf_conf_device_find(conf, device)) != NULL &&
	    d->cache != RF_CONF_CACHE_INHERIT)
		return d->cache == RF_CONF_CACHE_ON;
	return rf_conf_patterns_match(conf->cache_devices,
	    conf->ncache_devices, device) || (group != NULL &&
	    rf_conf_patterns_match(conf->cache_groups, conf->ncache_groups,
	    group));
}

int64_t
rf_cache_age(const struct rf_cache_rec *rec, time_t now)
{
	int64_t	 resident = (int64_t)now - rec->response_time;

	return rec->initial_age + (resident > 0 ? resident : 0);
}

int
rf_cache_fresh(const struct rf_cache_rec *rec, time_t now)
{
	return rec->lifetime > rf_cache_age(rec, now);
}

/* Fields a cache never stores or serves as they came (RFC 9111 3.1). */
static int
field_not_stored(const struct rf_http_head *h, size_t i)
{
	static const char *const names[] = { "connection", "keep-alive",
	    "transfer-encoding", "te", "trailer", "upgrade",
	    "proxy-connection", "proxy-authenticate", "proxy-authentication-"
	    "info", "x-reflector-cache", "set-cookie", NULL };
	char	 name[64];
	size_t	 k;

	for (k = 0; names[k] != NULL; k++)
		if (rf_http_span_casecmp(h, h->fields[i].name, names[k]))
			return 1;
	/* The fields Connection names are hop-by-hop too. */
	return rf_http_span_cstring(h, h->fields[i].name, name,
	    sizeof(name)) == 0 && rf_http_list_has(h, "connection", name);
}

int
rf_cache_head_for_store(struct rf_buf *out, const struct rf_http_head *resp)
{
	size_t	 i;
	int	 r;

	if ((r = rf_http_put_start_line(out, resp)) != 0)
		return r;
	for (i = 0; i < resp->nfields; i++)
		if (!field_not_stored(resp, i) &&
		    (r = rf_http_put_field(out, resp, i)) != 0)
			return r;
	return rf_http_put_end(out);
}

void
rf_cache_key(const char *device, const struct rf_http_head *req,
    unsigned char key[RF_CACHE_KEY_LEN])
{
	struct rf_buf	 t;
	EVP_MD_CTX	*md;
	unsigned int	 n;

	rf_http_view(req, req->target, &t);
	memset(key, 0, RF_CACHE_KEY_LEN);
	if ((md = EVP_MD_CTX_new()) == NULL)
		fatal("out of memory for a cache key");
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, device, strlen(device) + 1) != 1 ||
	    EVP_DigestUpdate(md, rf_buf_ptr(&t), rf_buf_len(&t)) != 1 ||
	    EVP_DigestFinal_ex(md, key, &n) != 1)
		fatal("SHA-256 failed for a cache key");
	EVP_MD_CTX_free(md);
}

/* The request's Accept-Encoding, for Vary: one field, at most _AE_MAX. */
static int
request_ae(const struct rf_http_head *req, struct rf_buf *v)
{
	int	 i;

	rf_buf_from(v, "", 0);
	if ((i = rf_http_find(req, "accept-encoding", 0)) < 0)
		return 0;
	if (rf_http_find(req, "accept-encoding", (size_t)i + 1) >= 0)
		return RF_ERR_LIMIT;
	rf_http_view(req, req->fields[i].value, v);
	return rf_buf_len(v) > RF_CACHE_AE_MAX ? RF_ERR_LIMIT : 0;
}

/* ------------------------------------------------------------ store ---- */

/*
 * One environment per process, opened on first use.  pid says which
 * process opened it: a child of fork never touches its parent's (the
 * master keeps none open while it forks, so this is a safety net).
 */
static struct {
	MDB_env		*env;
	MDB_dbi		 obj, use, lru, meta;
	pid_t		 pid;
	int		 failed;	/* could not open: off in this process */
} S;

static int
store_err(const char *what, int rc)
{
	error("cache: LMDB %s: %s", what, mdb_strerror(rc));
	return RF_ERR_DB;
}

static const char *
store_dir(const struct rf_conf *conf)
{
	return conf->cache_dir != NULL && conf->cache_dir[0] != '\0' ?
	    conf->cache_dir : conf->run_dir;
}

/*
 * Twice the bound and a margin: LMDB writes copy pages, and pages a
 * reader still sees are reused only once it is done.
 */
static size_t
store_mapsize(const struct rf_conf *conf)
{
	return (size_t)conf->cache_max_size * 2 + 4 * 1024 * 1024;
}

static int
store_open(const struct rf_conf *conf, int reset)
{
	char		 path[PATH_MAX];
	MDB_txn		*txn;
	int		 rc;

	if (S.env != NULL && S.pid == getpid())
		return 0;
	if (S.env != NULL)
		S.env = NULL;	/* a parent's, after fork: never used */
	if (S.failed)
		return RF_ERR_DB;
	if (snprintf(path, sizeof(path), "%s/cache.mdb", store_dir(conf)) >=
	    (int)sizeof(path))
		return RF_ERR_INVAL;
	if ((rc = mdb_env_create(&S.env)) != 0 ||
	    (rc = mdb_env_set_maxreaders(S.env, RF_DB_MAXREADERS)) != 0 ||
	    (rc = mdb_env_set_maxdbs(S.env, 4)) != 0 ||
	    (rc = mdb_env_set_mapsize(S.env, store_mapsize(conf))) != 0 ||
	    (rc = mdb_env_open(S.env, path, MDB_NOSUBDIR | MDB_NOTLS |
	    MDB_NOSYNC, 0640)) != 0) {
		error("cache: LMDB open %s: %s; the cache is off", path,
		    mdb_strerror(rc));
		goto fail;
	}
	if ((rc = mdb_txn_begin(S.env, NULL, 0, &txn)) != 0) {
		(void)store_err("txn_begin", rc);
		goto fail;
	}
	if ((rc = mdb_dbi_open(txn, "obj", MDB_CREATE, &S.obj)) != 0 ||
	    (rc = mdb_dbi_open(txn, "use", MDB_CREATE, &S.use)) != 0 ||
	    (rc = mdb_dbi_open(txn, "lru", MDB_CREATE, &S.lru)) != 0 ||
	    (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &S.meta)) != 0 ||
	    (reset && ((rc = mdb_drop(txn, S.obj, 0)) != 0 ||
	    (rc = mdb_drop(txn, S.use, 0)) != 0 ||
	    (rc = mdb_drop(txn, S.lru, 0)) != 0 ||
	    (rc = mdb_drop(txn, S.meta, 0)) != 0)) ||
	    (rc = mdb_txn_commit(txn)) != 0) {
		if (rc != 0)
			mdb_txn_abort(txn);
		(void)store_err("open databases", rc);
		goto fail;
	}
	S.pid = getpid();
	return 0;
fail:
	if (S.env != NULL)
		mdb_env_close(S.env);
	S.env = NULL;
	S.failed = 1;
	return RF_ERR_DB;
}

static void
store_close(void)
{
	if (S.env != NULL && S.pid == getpid())
		mdb_env_close(S.env);
	S.env = NULL;
	S.failed = 0;
}

int
rf_cache_reset(const struct rf_conf *conf)
{
	int	 r;

	if (mkdir(store_dir(conf), 0750) == -1 && errno != EEXIST) {
		error("cache: cannot create %s: %s", store_dir(conf),
		    strerror(errno));
		return RF_ERR_SYS;
	}
	store_close();
	r = store_open(conf, 1);
	store_close();
	return r;
}

int
rf_cache_reader_check(const struct rf_conf *conf, int *dead)
{
	int	 rc, r = 0;

	*dead = 0;
	if ((r = store_open(conf, 0)) != 0)
		return r;
	if ((rc = mdb_reader_check(S.env, dead)) != 0)
		r = store_err("reader_check", rc);
	store_close();
	return r;
}

static uint64_t
meta_get(MDB_txn *txn, const char *name)
{
	MDB_val	 k = { strlen(name), (void *)(uintptr_t)name }, d;
	uint64_t v = 0;

	if (mdb_get(txn, S.meta, &k, &d) == 0 && d.mv_size == sizeof(v))
		memcpy(&v, d.mv_data, sizeof(v));
	return v;
}

static int
meta_put(MDB_txn *txn, const char *name, uint64_t v)
{
	MDB_val	 k = { strlen(name), (void *)(uintptr_t)name };
	MDB_val	 d = { sizeof(v), &v };

	return mdb_put(txn, S.meta, &k, &d, 0);
}

static void
stamp_key(uint64_t stamp, unsigned char be[8])
{
	int	 i;

	for (i = 7; i >= 0; i--) {
		be[i] = (unsigned char)(stamp & 0xff);
		stamp >>= 8;
	}
}

/* Drops the lru entry that key's use stamp names, if it has one. */
static int
lru_unlink(MDB_txn *txn, const MDB_val *k)
{
	struct rf_cache_stamp	 use;
	unsigned char		 be[8];
	MDB_val			 d, lk = { 8, be };
	int			 rc;

	if (mdb_get(txn, S.use, (MDB_val *)(uintptr_t)k, &d) != 0 ||
	    d.mv_size != sizeof(use))
		return 0;
	memcpy(&use, d.mv_data, sizeof(use));
	stamp_key(use.stamp, be);
	if ((rc = mdb_del(txn, S.lru, &lk, NULL)) != 0 && rc != MDB_NOTFOUND)
		return rc;
	return 0;
}

/* A new use stamp for key: its lru entry moves to the end. */
static int
stamp_set(MDB_txn *txn, const unsigned char *key, time_t now)
{
	struct rf_cache_stamp	 use;
	unsigned char		 be[8];
	uint64_t		 seq = meta_get(txn, "seq") + 1;
	MDB_val			 k = { RF_CACHE_KEY_LEN,
				    (void *)(uintptr_t)key };
	MDB_val			 u = { sizeof(use), &use }, lk = { 8, be };
	int			 rc;

	if ((rc = lru_unlink(txn, &k)) != 0)
		return rc;
	use.stamp = seq;
	use.last_used = (uint64_t)now;
	stamp_key(seq, be);
	if ((rc = mdb_put(txn, S.use, &k, &u, 0)) != 0 ||
	    (rc = mdb_put(txn, S.lru, &lk, &k, 0)) != 0)
		return rc;
	return meta_put(txn, "seq", seq);
}

/* Deletes key's entry and its lru and use entries; *total goes down. */
static int
entry_del(MDB_txn *txn, const unsigned char *key, uint64_t *total)
{
	uint64_t	 size;
	MDB_val		 k = { RF_CACHE_KEY_LEN, (void *)(uintptr_t)key }, d;
	int		 rc;

	if ((rc = mdb_get(txn, S.obj, &k, &d)) != 0)
		return rc;
	size = d.mv_size + RF_CACHE_ENTRY_OVERHEAD;
	*total = *total > size ? *total - size : 0;
	if ((rc = mdb_del(txn, S.obj, &k, NULL)) != 0 ||
	    (rc = lru_unlink(txn, &k)) != 0)
		return rc;
	if ((rc = mdb_del(txn, S.use, &k, NULL)) != 0 && rc != MDB_NOTFOUND)
		return rc;
	return 0;
}

/*
 * Evicts the entries used longest ago, at most RF_CACHE_EVICT_MAX, until
 * need more bytes fit under the bound.  1 if they fit.
 */
static int
evict(MDB_txn *txn, const struct rf_conf *conf, uint64_t *total,
    uint64_t need, int *nevicted)
{
	unsigned char	 key[RF_CACHE_KEY_LEN];
	MDB_cursor	*cur;
	MDB_val		 lk, d;
	int		 rc;

	*nevicted = 0;
	while (*total + need > (uint64_t)conf->cache_max_size &&
	    *nevicted < RF_CACHE_EVICT_MAX) {
		if ((rc = mdb_cursor_open(txn, S.lru, &cur)) != 0)
			return -rc;
		rc = mdb_cursor_get(cur, &lk, &d, MDB_FIRST);
		if (rc == 0 && d.mv_size == RF_CACHE_KEY_LEN)
			memcpy(key, d.mv_data, RF_CACHE_KEY_LEN);
		else if (rc == 0)
			rc = mdb_cursor_del(cur, 0);	/* not ours: gone */
		mdb_cursor_close(cur);
		if (rc == MDB_NOTFOUND) {
			*total = 0;	/* nothing is left: the count was off */
			break;
		}
		if (rc != 0)
			return -rc;
		if (d.mv_size != RF_CACHE_KEY_LEN)
			continue;
		if ((rc = entry_del(txn, key, total)) == MDB_NOTFOUND) {
			/* An lru entry without its object: drop it alone. */
			if ((rc = mdb_del(txn, S.lru, &lk, NULL)) != 0)
				return -rc;
		} else if (rc != 0)
			return -rc;
		(*nevicted)++;
	}
	return *total + need <= (uint64_t)conf->cache_max_size;
}

/* After MDB_MAP_FULL: a batch of the oldest goes, in a write of its own. */
static void
evict_batch(const struct rf_conf *conf)
{
	MDB_txn		*txn;
	uint64_t	 total;
	int		 n;

	if (mdb_txn_begin(S.env, NULL, 0, &txn) != 0)
		return;
	total = meta_get(txn, "total");
	if (evict(txn, conf, &total, (uint64_t)conf->cache_max_size, &n) < 0 ||
	    meta_put(txn, "total", total) != 0) {
		mdb_txn_abort(txn);
		return;
	}
	if (mdb_txn_commit(txn) == 0)
		logit("cache: the map was full; evicted %d entries", n);
}

int
rf_cache_get(const struct rf_conf *conf, const unsigned char *key,
    const struct rf_http_head *req, struct rf_cache_entry *e)
{
	MDB_txn		*txn;
	MDB_val		 k = { RF_CACHE_KEY_LEN, (void *)(uintptr_t)key }, d;
	struct rf_buf	 v, ae;
	int		 rc, r;

	memset(e, 0, sizeof(*e));
	rf_buf_init(&e->head, RF_CACHE_HEAD_MAX);
	rf_buf_init(&e->body, (size_t)RF_CACHE_OBJECT_MAX);
	if ((r = store_open(conf, 0)) != 0)
		return r;
	if ((rc = mdb_txn_begin(S.env, NULL, MDB_RDONLY, &txn)) != 0)
		return store_err("txn_begin", rc);
	if ((rc = mdb_get(txn, S.obj, &k, &d)) != 0) {
		mdb_txn_abort(txn);
		return rc == MDB_NOTFOUND ? RF_ERR_NOTFOUND :
		    store_err("get", rc);
	}
	/* Our own processes wrote it; checked all the same, through buf. */
	rf_buf_from(&v, d.mv_data, d.mv_size);
	r = rf_buf_get(&v, &e->rec, sizeof(e->rec));
	if (r == 0 && (e->rec.version != 1 ||
	    rf_buf_len(&v) != (size_t)e->rec.ae_len + e->rec.head_len +
	    e->rec.body_len))
		r = RF_ERR_DB;
	if (r == 0 && (e->rec.flags & RF_CACHE_REC_VARY_AE)) {
		if (request_ae(req, &ae) != 0 ||
		    rf_buf_len(&ae) != e->rec.ae_len ||
		    memcmp(rf_buf_ptr(&ae), rf_buf_ptr(&v), e->rec.ae_len) != 0)
			r = RF_ERR_NOTFOUND;
	}
	if (r == 0)
		r = rf_buf_consume(&v, e->rec.ae_len);
	if (r == 0)
		r = rf_buf_put(&e->head, rf_buf_ptr(&v), e->rec.head_len);
	if (r == 0)
		r = rf_buf_consume(&v, e->rec.head_len);
	if (r == 0)
		r = rf_buf_put(&e->body, rf_buf_ptr(&v), e->rec.body_len);
	if (r == 0 && mdb_get(txn, S.use, &k, &d) == 0 &&
	    d.mv_size == sizeof(e->use))
		memcpy(&e->use, d.mv_data, sizeof(e->use));
	/* Copied out: the read transaction ends at once (PLATFORM-NOTES). */
	mdb_txn_abort(txn);
	if (r == 0) {
		rf_http_head_init(&e->h, RF_HTTP_RESPONSE, RF_CACHE_HEAD_MAX);
		if (rf_http_head_parse(&e->h, rf_buf_ptr(&e->head),
		    rf_buf_len(&e->head)) != 0)
			r = RF_ERR_DB;
	}
	if (r == RF_ERR_DB)
		error("cache: a stored entry is malformed; ignored");
	return r;
}

void
rf_cache_entry_free(struct rf_cache_entry *e)
{
	rf_buf_free(&e->head);
	rf_buf_free(&e->body);
}

/* The value of an obj entry, written into the space LMDB reserved. */
static int
put_txn(MDB_txn *txn, const struct rf_conf *conf, const unsigned char *key,
    const struct rf_cache_rec *rec, const struct rf_buf *ae,
    const void *head, const void *body, int *nevicted)
{
	MDB_val		 k = { RF_CACHE_KEY_LEN, (void *)(uintptr_t)key }, d;
	uint64_t	 total = meta_get(txn, "total"), size;
	unsigned char	*p;
	int		 rc;

	d.mv_size = sizeof(*rec) + rec->ae_len + rec->head_len + rec->body_len;
	size = d.mv_size + RF_CACHE_ENTRY_OVERHEAD;
	if ((rc = entry_del(txn, key, &total)) != 0 && rc != MDB_NOTFOUND)
		return rc;
	if ((rc = evict(txn, conf, &total, size, nevicted)) < 0)
		return -rc;
	if (rc == 0) {
		/* Keep what was evicted; this one waits for more room. */
		if ((rc = meta_put(txn, "total", total)) != 0)
			return rc;
		return MDB_KEYEXIST;
	}
	if ((rc = mdb_put(txn, S.obj, &k, &d, MDB_RESERVE)) != 0)
		return rc;
	p = d.mv_data;
	memcpy(p, rec, sizeof(*rec));
	p += sizeof(*rec);
	memcpy(p, rf_buf_ptr(ae), rec->ae_len);
	p += rec->ae_len;
	memcpy(p, head, rec->head_len);
	p += rec->head_len;
	if (rec->body_len > 0)
		rf_copy(p, body, rec->body_len);
	if ((rc = stamp_set(txn, key, (time_t)rec->response_time)) != 0)
		return rc;
	return meta_put(txn, "total", total + size);
}

int
rf_cache_put(const struct rf_conf *conf, const unsigned char *key,
    const struct rf_http_head *req, const struct rf_http_head *resp,
    const void *head, size_t headlen, const void *body, size_t len,
    time_t now)
{
	struct rf_cache_cc	 cc;
	struct rf_cache_rec	 rec;
	struct rf_buf		 ae;
	MDB_txn			*txn;
	int			 rc, r, n = 0;

	if ((r = store_open(conf, 0)) != 0)
		return r;
	if (headlen > RF_CACHE_HEAD_MAX || len > RF_CACHE_OBJECT_MAX ||
	    len + headlen + sizeof(rec) + RF_CACHE_AE_MAX +
	    RF_CACHE_ENTRY_OVERHEAD > (uint64_t)conf->cache_max_size)
		return RF_ERR_LIMIT;
	memset(&rec, 0, sizeof(rec));
	rf_cache_cc_parse(resp, &cc);
	rec.version = 1;
	if ((cc.flags & RF_CACHE_CC_PUBLIC) || cc.s_maxage >= 0)
		rec.flags |= RF_CACHE_REC_AUTH_OK;
	rf_buf_from(&ae, "", 0);
	if (rf_http_find(resp, "vary", 0) >= 0) {
		rec.flags |= RF_CACHE_REC_VARY_AE;
		if (request_ae(req, &ae) != 0)
			return RF_ERR_LIMIT;
	}
	rec.response_time = now;
	rec.initial_age = rf_cache_initial_age(resp, now);
	rec.lifetime = rf_cache_lifetime(resp, now);
	rec.ae_len = (uint32_t)rf_buf_len(&ae);
	rec.head_len = (uint32_t)headlen;
	rec.body_len = (uint32_t)len;
	if ((rc = mdb_txn_begin(S.env, NULL, 0, &txn)) != 0)
		return store_err("txn_begin", rc);
	rec.id = meta_get(txn, "seq") + 1;
	rc = put_txn(txn, conf, key, &rec, &ae, head, body, &n);
	if (rc != 0 && rc != MDB_KEYEXIST) {
		mdb_txn_abort(txn);
		if (rc != MDB_MAP_FULL)
			return store_err("put", rc);
		evict_batch(conf);
		return RF_ERR_LIMIT;
	}
	/* MDB_KEYEXIST: not stored, but the evictions are kept. */
	if ((r = mdb_txn_commit(txn)) != 0)
		return store_err("commit", r);
	if (rc == MDB_KEYEXIST) {
		debug("cache: no room for %zu bytes after evicting %d", len,
		    n);
		return RF_ERR_LIMIT;
	}
	if (n > 0)
		debug("cache: evicted %d entries for %zu bytes", n, len);
	return 0;
}

/*
 * RFC 9111 4.3.4: the stored fields that the 304 does not name, then the
 * 304's own (but Content-Length, which describes no body of its).
 */
static int
merge_head(struct rf_buf *out, const struct rf_http_head *old,
    const struct rf_http_head *r304)
{
	char	 name[64];
	size_t	 i;
	int	 r;

	if ((r = rf_http_put_start_line(out, old)) != 0)
		return r;
	for (i = 0; i < old->nfields; i++) {
		if (rf_http_span_cstring(old, old->fields[i].name, name,
		    sizeof(name)) == 0 && rf_http_find(r304, name, 0) >= 0 &&
		    !rf_http_span_casecmp(old, old->fields[i].name,
		    "content-length"))
			continue;
		if ((r = rf_http_put_field(out, old, i)) != 0)
			return r;
	}
	for (i = 0; i < r304->nfields; i++)
		if (!field_not_stored(r304, i) &&
		    !rf_http_span_casecmp(r304, r304->fields[i].name,
		    "content-length") &&
		    (r = rf_http_put_field(out, r304, i)) != 0)
			return r;
	return rf_http_put_end(out);
}

int
rf_cache_refresh(const struct rf_conf *conf, const unsigned char *key,
    const struct rf_http_head *req, const struct rf_http_head *r304,
    time_t now, struct rf_cache_entry *e)
{
	struct rf_http_head	*h;
	struct rf_buf		 head;
	int			 r;

	if ((r = rf_cache_get(conf, key, req, e)) != 0)
		return r;
	if ((h = malloc(sizeof(*h))) == NULL)
		return RF_ERR_NOMEM;
	rf_buf_init(&head, RF_CACHE_HEAD_MAX);
	rf_http_head_init(h, RF_HTTP_RESPONSE, RF_CACHE_HEAD_MAX);
	if ((r = merge_head(&head, &e->h, r304)) == 0 &&
	    (r = rf_http_head_parse(h, rf_buf_ptr(&head),
	    rf_buf_len(&head))) == 0)
		r = rf_cache_put(conf, key, req, h, rf_buf_ptr(&head),
		    rf_buf_len(&head), rf_buf_ptr(&e->body),
		    rf_buf_len(&e->body), now);
	free(h);
	rf_buf_free(&head);
	rf_cache_entry_free(e);
	if (r != 0)
		return r;
	return rf_cache_get(conf, key, req, e);
}

void
rf_cache_touch(const struct rf_conf *conf, const unsigned char *key,
    const struct rf_cache_entry *e, time_t now)
{
	MDB_txn	*txn;
	MDB_val	 k = { RF_CACHE_KEY_LEN, (void *)(uintptr_t)key }, d;
	int	 rc;

	/* Hits stay reads: the order is kept to RF_CACHE_TOUCH_SECS. */
	if ((uint64_t)now < e->use.last_used + RF_CACHE_TOUCH_SECS ||
	    store_open(conf, 0) != 0 ||
	    mdb_txn_begin(S.env, NULL, 0, &txn) != 0)
		return;
	if ((rc = mdb_get(txn, S.obj, &k, &d)) != 0 ||
	    (rc = stamp_set(txn, key, now)) != 0) {
		mdb_txn_abort(txn);
		return;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		(void)store_err("commit", rc);
}

int
rf_cache_put_conditional(struct rf_buf *out, const struct rf_cache_entry *e)
{
	int	 r;

	if ((r = rf_http_put_field_as(out, &e->h, "etag",
	    "If-None-Match")) != 0)
		return r;
	return rf_http_put_field_as(out, &e->h, "last-modified",
	    "If-Modified-Since");
}

int
rf_cache_put_served_head(struct rf_buf *out, const struct rf_cache_entry *e,
    time_t now, const char *how, int not_modified, int close)
{
	const struct rf_http_head	*h = &e->h;
	size_t				 i;
	int				 r;

	r = not_modified ? rf_buf_putf(out, "HTTP/1.1 304 Not Modified\r\n") :
	    rf_http_put_start_line(out, h);
	for (i = 0; r == 0 && i < h->nfields; i++) {
		/* Age is ours to say; a 304 describes no body (RFC 9110 15.4.5). */
		if (rf_http_span_casecmp(h, h->fields[i].name, "age"))
			continue;
		if (not_modified &&
		    (rf_http_span_casecmp(h, h->fields[i].name,
		    "content-length") ||
		    rf_http_span_casecmp(h, h->fields[i].name, "content-type")))
			continue;
		r = rf_http_put_field(out, h, i);
	}
	if (r == 0)
		r = rf_buf_putf(out, "Age: %lld\r\nX-Reflector-Cache: %s\r\n%s",
		    (long long)rf_cache_age(&e->rec, now), how,
		    close ? "Connection: close\r\n" : "");
	return r == 0 ? rf_http_put_end(out) : r;
}

int
rf_cache_stat(const struct rf_conf *conf, uint64_t *total, size_t *n)
{
	MDB_txn		*txn;
	MDB_stat	 st;
	int		 rc, r;

	*total = 0;
	*n = 0;
	if ((r = store_open(conf, 0)) != 0)
		return r;
	if ((rc = mdb_txn_begin(S.env, NULL, MDB_RDONLY, &txn)) != 0)
		return store_err("txn_begin", rc);
	*total = meta_get(txn, "total");
	if ((rc = mdb_stat(txn, S.obj, &st)) == 0)
		*n = st.ms_entries;
	mdb_txn_abort(txn);
	return rc == 0 ? 0 : store_err("stat", rc);
}
