/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of the shared cache in server/cache.c: Cache-Control parsing
 * (quoted values, doubled and malformed ages), what a request allows, what
 * may be stored, freshness lifetime and initial age, conditional requests,
 * the per-device switch, and the store in a temporary directory: entries
 * back byte for byte, Vary, eviction under the bound, a 304's refresh.
 * cache.c is included, as auth-test.c includes auth.c: it lives outside
 * the library the unit tests link.
 */
#define _GNU_SOURCE	/* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/cache.c"
#include "tap.h"

static struct rf_http_head	 Q, R;

static void
req(const char *s)
{
	rf_http_head_init(&Q, RF_HTTP_REQUEST, 8192);
	if (rf_http_head_parse(&Q, s, strlen(s)) != 0)
		diag("request did not parse: %s", s);
}

static void
resp(const char *s)
{
	rf_http_head_init(&R, RF_HTTP_RESPONSE, 8192);
	if (rf_http_head_parse(&R, s, strlen(s)) != 0)
		diag("response did not parse: %s", s);
}

#define GET	"GET /style.css HTTP/1.1\r\nHost: d\r\n"

/* What requests allow. */
static const struct {
	const char		*head;
	enum rf_cache_use	 use;
	const char		*name;
} uses[] = {
	{ GET "\r\n", RF_CACHE_LOOKUP, "plain GET: lookup" },
	{ "HEAD / HTTP/1.1\r\nHost: d\r\n\r\n", RF_CACHE_LOOKUP, "HEAD" },
	{ "POST / HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n",
	    RF_CACHE_BYPASS, "POST: bypass" },
	{ GET "Range: bytes=0-1\r\n\r\n", RF_CACHE_BYPASS, "Range" },
	{ GET "Cache-Control: no-store\r\n\r\n", RF_CACHE_BYPASS, "no-store" },
	{ GET "Cache-Control: no-cache\r\n\r\n", RF_CACHE_REVALIDATE,
	    "no-cache: revalidate" },
	{ GET "Cache-Control: max-age=0\r\n\r\n", RF_CACHE_REVALIDATE,
	    "max-age=0: revalidate" },
	{ GET "Pragma: no-cache\r\n\r\n", RF_CACHE_REVALIDATE, "Pragma" },
	{ GET "Pragma: no-cache\r\nCache-Control: max-age=5\r\n\r\n",
	    RF_CACHE_LOOKUP, "Pragma ignored beside Cache-Control" },
};
#define OK	"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n"

static int
storable(void)
{
	const char	*why;

	return rf_cache_storable(&Q, &R,
	    rf_http_find(&Q, "authorization", 0) >= 0, 1000, &why);
}

static int
has(struct rf_buf *b, const char *needle)
{
	return memmem(rf_buf_ptr(b), rf_buf_len(b), needle, strlen(needle)) !=
	    NULL;
}

/* Stores a 200 of len bytes of c with extra fields under target. */
static int
store(struct rf_conf *conf, const char *target, const char *extra,
    size_t len, int c, time_t now)
{
	unsigned char	 key[RF_CACHE_KEY_LEN];
	char		 rq[512], rs[1024];
	struct rf_buf	 head;
	char		*body;
	int		 r;

	snprintf(rq, sizeof(rq), "GET %s HTTP/1.1\r\nHost: d\r\n"
	    "Accept-Encoding: gzip\r\n\r\n", target);
	req(rq);
	snprintf(rs, sizeof(rs), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
	    "Connection: close, X-Hop\r\nX-Hop: 1\r\nX-Reflector-Cache: "
	    "hit\r\n%s\r\n", len, extra);
	resp(rs);
	rf_cache_key("dev1", &Q, key);
	rf_buf_init(&head, RF_CACHE_HEAD_MAX);
	if ((body = malloc(len + 1)) == NULL)
		return RF_ERR_NOMEM;
	memset(body, c, len);
	r = rf_cache_head_for_store(&head, &R);
	if (r == 0)
		r = rf_cache_put(conf, key, &Q, &R, rf_buf_ptr(&head),
		    rf_buf_len(&head), body, len, now);
	free(body);
	rf_buf_free(&head);
	return r;
}

static int
fetch(struct rf_conf *conf, const char *target, const char *ae,
    struct rf_cache_entry *e)
{
	unsigned char	 key[RF_CACHE_KEY_LEN];
	char		 rq[512];

	snprintf(rq, sizeof(rq), "GET %s HTTP/1.1\r\nHost: d\r\n"
	    "Accept-Encoding: %s\r\n\r\n", target, ae);
	req(rq);
	rf_cache_key("dev1", &Q, key);
	return rf_cache_get(conf, key, &Q, e);
}

static void
conditionals(void)
{
	resp(OK "ETag: W/\"v1\"\r\n"
	    "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n");
	req(GET "If-None-Match: \"v0\", \"v1\"\r\n\r\n");
	ok(rf_cache_not_modified(&Q, &R), "If-None-Match: a weak match in a list");
	req(GET "If-None-Match: *\r\n\r\n");
	ok(rf_cache_not_modified(&Q, &R), "If-None-Match: *");
	req(GET "If-None-Match: \"v2\"\r\n"
	    "If-Modified-Since: Sun, 06 Nov 1994 09:00:00 GMT\r\n\r\n");
	ok(!rf_cache_not_modified(&Q, &R),
	    "If-None-Match decides: If-Modified-Since is not looked at");
	req(GET "If-Modified-Since: Sun, 06 Nov 1994 09:00:00 GMT\r\n\r\n");
	ok(rf_cache_not_modified(&Q, &R), "If-Modified-Since after Last-Modified");
	req(GET "If-Modified-Since: Sun, 06 Nov 1994 08:00:00 GMT\r\n\r\n");
	ok(!rf_cache_not_modified(&Q, &R), "If-Modified-Since before it");
	req(GET "\r\n");
	ok(!rf_cache_not_modified(&Q, &R), "no conditional: the whole entry");
}

static void
switches(void)
{
	struct rf_conf_device	 devs[2];
	struct rf_conf		 conf;
	char			*groups[] = { "plant-*" }, *ids[] = { "cam1" };

	memset(&conf, 0, sizeof(conf));
	memset(devs, 0, sizeof(devs));
	devs[0].id = "d1";
	devs[0].cache = RF_CONF_CACHE_OFF;
	devs[1].id = "d2";
	devs[1].cache = RF_CONF_CACHE_ON;
	conf.devices = devs;
	conf.ndevices = 2;
	conf.ndevices_cache_on = 1;	/* as rf_conf_load counts them */
	ok(rf_cache_any(&conf), "a device's cache: yes turns the cache on");
	ok(rf_cache_on(&conf, "d2", "office"), "  ... for it");
	ok(!rf_cache_on(&conf, "x", "plant-7"), "no group listed: off");
	conf.cache_groups = groups;
	conf.ncache_groups = 1;
	conf.cache_devices = ids;
	conf.ncache_devices = 1;
	ok(rf_cache_on(&conf, "x", "plant-7"), "a group pattern: on");
	ok(!rf_cache_on(&conf, "d1", "plant-7"), "the device's no wins");
	ok(rf_cache_on(&conf, "cam1", NULL), "cache.devices: on");
	ok(!rf_cache_on(&conf, "cam2", NULL), "  ... for those it lists only");
}

static void
storage(void)
{
	char			 dir[] = "/tmp/cache-test.XXXXXX";
	struct rf_conf		 conf;
	struct rf_cache_entry	 e;
	struct rf_buf		 b;
	uint64_t		 total = 0, most = 0;
	size_t			 n;
	time_t			 now = 1000000;
	int			 i, r;

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp");
		return;
	}
	memset(&conf, 0, sizeof(conf));
	conf.run_dir = dir;
	conf.cache_max_size = 1024 * 1024;
	conf.cache_max_object = 256 * 1024;
	is_int(rf_cache_reset(&conf), 0, "the master makes cache.mdb");

	is_int(store(&conf, "/a.css", "Cache-Control: max-age=60\r\nAge: 5\r\n",
	    100, 'a', now), 0, "an entry is stored");
	is_int(fetch(&conf, "/a.css", "br", &e), 0, "  ... and found");
	ok(rf_buf_len(&e.body) == 100 && rf_buf_ptr(&e.body)[99] == 'a',
	    "  ... with its body");
	is_int(e.rec.lifetime, 60, "  ... its lifetime");
	is_int(rf_cache_age(&e.rec, now + 10), 15, "  ... and age: Age + resident");
	ok(rf_cache_fresh(&e.rec, now + 54) && !rf_cache_fresh(&e.rec, now + 55),
	    "fresh until its age reaches max-age");
	ok(rf_http_find(&e.h, "x-hop", 0) < 0 &&
	    rf_http_find(&e.h, "connection", 0) < 0 &&
	    rf_http_find(&e.h, "x-reflector-cache", 0) < 0,
	    "hop-by-hop fields and X-Reflector-Cache are not stored");
	rf_buf_init(&b, 8192);
	ok(rf_cache_put_served_head(&b, &e, now + 10, "hit", 0, 1) == 0 &&
	    has(&b, "Age: 15\r\n") && has(&b, "X-Reflector-Cache: hit\r\n") &&
	    has(&b, "Connection: close\r\n") && !has(&b, "Age: 5") &&
	    has(&b, "Content-Length: 100\r\n"), "the head served: our Age");
	rf_buf_reset(&b);
	ok(rf_cache_put_served_head(&b, &e, now, "hit", 1, 0) == 0 &&
	    has(&b, "HTTP/1.1 304 ") && !has(&b, "Content-Length"),
	    "a 304 without Content-Length");
	rf_buf_free(&b);
	rf_cache_entry_free(&e);
	is_int(fetch(&conf, "/b.css", "br", &e), RF_ERR_NOTFOUND,
	    "another target: not found");
	rf_cache_entry_free(&e);

	is_int(store(&conf, "/v.css", "Cache-Control: max-age=60\r\n"
	    "Vary: Accept-Encoding\r\n", 10, 'v', now), 0, "Vary: stored");
	is_int(fetch(&conf, "/v.css", "gzip", &e), 0, "  ... the same encoding: found");
	rf_cache_entry_free(&e);
	is_int(fetch(&conf, "/v.css", "br", &e), RF_ERR_NOTFOUND,
	    "  ... another encoding: not found");
	rf_cache_entry_free(&e);

	/* A 304 refreshes the head and the age. */
	store(&conf, "/e.css", "ETag: \"1\"\r\nCache-Control: no-cache\r\n", 20,
	    'e', now);
	req("GET /e.css HTTP/1.1\r\nHost: d\r\n\r\n");
	{
		unsigned char	 key[RF_CACHE_KEY_LEN];
		struct rf_http_head	 q = Q;

		rf_cache_key("dev1", &Q, key);
		resp("HTTP/1.1 304 Not Modified\r\nCache-Control: max-age=30\r\n"
		    "Content-Length: 7\r\n\r\n");
		r = rf_cache_refresh(&conf, key, &q, &R, now + 100, &e);
	}
	is_int(r, 0, "a 304 refreshes the entry");
	is_int(e.rec.lifetime, 30, "  ... with the 304's Cache-Control");
	ok(rf_http_count(&e.h, "cache-control") == 1 &&
	    rf_http_find(&e.h, "etag", 0) >= 0, "  ... which replaces the old");
	ok(rf_http_count(&e.h, "content-length") == 1 &&
	    rf_buf_len(&e.body) == 20, "  ... and keeps the body and its length");
	ok(rf_cache_fresh(&e.rec, now + 120), "  ... fresh from the 304's time");
	rf_cache_entry_free(&e);

	/* Eight of 200 kB in 1 MB: the oldest go. */
	for (i = 0; i < 8; i++) {
		char	 t[32];

		snprintf(t, sizeof(t), "/obj%d", i);
		store(&conf, t, "Cache-Control: max-age=60\r\n", 200000, '0' + i,
		    now);
		rf_cache_stat(&conf, &total, &n);
		if (total > most)
			most = total;
	}
	ok(most > 0 && most <= (uint64_t)conf.cache_max_size,
	    "the total stays within max_size (%llu)", (unsigned long long)most);
	is_int(fetch(&conf, "/obj0", "gzip", &e), RF_ERR_NOTFOUND,
	    "the oldest was evicted");
	rf_cache_entry_free(&e);
	is_int(fetch(&conf, "/obj7", "gzip", &e), 0, "the newest is there");
	rf_cache_entry_free(&e);
	ok(n >= 4 && n <= 5, "4 or 5 entries of 200 kB fit (%zu)", n);
	is_int(store(&conf, "/huge", "Cache-Control: max-age=60\r\n",
	    2 * 1024 * 1024, 'h', now), RF_ERR_LIMIT,
	    "larger than the whole cache: refused");
	is_int(rf_cache_reset(&conf), 0, "reset");
	rf_cache_stat(&conf, &total, &n);
	ok(total == 0 && n == 0, "  ... empties it");
	store_close();
	{
		char	 f[64];

		snprintf(f, sizeof(f), "%s/cache.mdb", dir);
		unlink(f);
		snprintf(f, sizeof(f), "%s/cache.mdb-lock", dir);
		unlink(f);
		rmdir(dir);
	}
}

int
main(void)
{
	struct rf_cache_cc	 cc;
	const char		*why;
	time_t			 t0;
	size_t			 i;

	/* Parsing. */
	resp(OK "Cache-Control: public, max-age=\"60\"\r\n"
	    "Cache-Control: S-MAXAGE=30 , no-cache=\"Set-Cookie, X\"\r\n\r\n");
	rf_cache_cc_parse(&R, &cc);
	is_int(cc.max_age, 60, "quoted max-age");
	is_int(cc.s_maxage, 30, "s-maxage from a second field, any case");
	ok(cc.flags & RF_CACHE_CC_PUBLIC, "public");
	ok(cc.flags & RF_CACHE_CC_NO_CACHE, "no-cache with a field list");
	ok(!(cc.flags & RF_CACHE_CC_INVALID), "nothing invalid");

	resp(OK "Cache-Control: max-age=60, max-age=3600\r\n\r\n");
	rf_cache_cc_parse(&R, &cc);
	ok(cc.flags & RF_CACHE_CC_INVALID, "doubled max-age is invalid");
	is_int(rf_cache_lifetime(&R, 0), 0, "doubled max-age: stale");
	resp(OK "Cache-Control: max-age=1x\r\n\r\n");
	is_int(rf_cache_lifetime(&R, 0), 0, "malformed max-age: stale");
	resp(OK "Cache-Control: max-age\r\n\r\n");
	is_int(rf_cache_lifetime(&R, 0), 0, "max-age without value: stale");
	resp(OK "Cache-Control: max-age=99999999999999999999999\r\n\r\n");
	is_int(rf_cache_lifetime(&R, 0), RF_CACHE_DELTA_MAX,
	    "huge max-age clamped to 2^31");
	resp(OK "Cache-Control: x-max-age=5, foo=\"max-age=9\"\r\n\r\n");
	rf_cache_cc_parse(&R, &cc);
	is_int(cc.max_age, -1, "max-age inside other directives not seen");

	/* Requests. */
	for (i = 0; i < sizeof(uses) / sizeof(uses[0]); i++) {
		req(uses[i].head);
		is_int(rf_cache_request_use(&Q), uses[i].use, uses[i].name);
	}

	/* Storing. */
	req(GET "\r\n");
	resp(OK "Cache-Control: max-age=60\r\n\r\n");
	ok(storable(), "200 with max-age is stored");
	resp(OK "ETag: \"a\"\r\n\r\n");
	ok(storable(), "200 with only an ETag is stored (stale)");
	is_int(rf_cache_lifetime(&R, 0), 0, "no heuristic freshness");
	resp(OK "\r\n");
	ok(!storable(), "neither freshness nor validator: not stored");
	resp(OK "Cache-Control: no-store, max-age=60\r\n\r\n");
	ok(!storable(), "no-store: not stored");
	resp(OK "Cache-Control: private, max-age=60\r\n\r\n");
	ok(!storable(), "private: not stored");
	resp(OK "Cache-Control: private=\"X\", max-age=60\r\n\r\n");
	ok(!storable(), "qualified private taken whole");
	resp(OK "Cache-Control: max-age=60\r\nSet-Cookie: a=b\r\n\r\n");
	ok(!storable(), "Set-Cookie: not stored");
	resp(OK "Cache-Control: max-age=60\r\nVary: Accept-Encoding\r\n\r\n");
	ok(storable(), "Vary: Accept-Encoding is stored");
	resp(OK "Cache-Control: max-age=60\r\nVary: accept-encoding, "
	    "User-Agent\r\n\r\n");
	ok(!storable(), "Vary: User-Agent: not stored");
	resp(OK "Cache-Control: max-age=60\r\nVary: *\r\n\r\n");
	ok(!storable(), "Vary: *: not stored");
	resp("HTTP/1.1 404 Not Found\r\nCache-Control: max-age=60\r\n"
	    "Content-Length: 0\r\n\r\n");
	ok(!storable(), "404: not stored");
	resp("HTTP/1.1 200 OK\r\nContent-Length: 1001\r\n"
	    "Cache-Control: max-age=60\r\n\r\n");
	ok(!rf_cache_storable(&Q, &R, 0, 1000, &why) && why != NULL &&
	    strstr(why, "bound") != NULL, "over the object bound: not stored");
	resp("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n"
	    "Cache-Control: max-age=60\r\n\r\n");
	ok(storable(), "at the object bound: stored");
	req(GET "Cache-Control: no-store\r\n\r\n");
	resp(OK "Cache-Control: max-age=60\r\n\r\n");
	ok(!storable(), "request no-store: not stored");
	req(GET "Authorization: Basic YTpi\r\n\r\n");
	ok(!storable(), "Authorization with max-age only: not stored");
	resp(OK "Cache-Control: public, max-age=60\r\n\r\n");
	ok(storable(), "Authorization with public: stored");
	resp(OK "Cache-Control: s-maxage=60\r\n\r\n");
	ok(storable(), "Authorization with s-maxage: stored");
	req("HEAD /style.css HTTP/1.1\r\nHost: d\r\n\r\n");
	ok(!storable(), "a response to HEAD is not stored");

	/* Freshness and age. */
	t0 = rf_cache_http_date("Sun, 06 Nov 1994 08:49:37 GMT");
	is_int(t0, 784111777, "IMF-fixdate");
	is_int(rf_cache_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), -1,
	    "RFC 850 date refused");
	is_int(rf_cache_http_date("Sun, 06 Nov 1994 08:49:37 GMTX"), -1,
	    "trailing junk refused");
	resp(OK "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
	    "Expires: Sun, 06 Nov 1994 09:49:37 GMT\r\n\r\n");
	is_int(rf_cache_lifetime(&R, 0), 3600, "Expires minus Date");
	resp(OK "Expires: Sun, 06 Nov 1994 09:49:37 GMT\r\n\r\n");
	is_int(rf_cache_lifetime(&R, t0), 3600, "Expires minus now");
	resp(OK "Expires: 0\r\n\r\n");
	is_int(rf_cache_lifetime(&R, t0), 0, "bad Expires: stale");
	resp(OK "Cache-Control: max-age=10, s-maxage=20\r\n"
	    "Expires: Sun, 06 Nov 1994 09:49:37 GMT\r\n\r\n");
	is_int(rf_cache_lifetime(&R, t0), 20, "s-maxage first");
	resp(OK "Cache-Control: max-age=10, no-cache\r\n\r\n");
	is_int(rf_cache_lifetime(&R, t0), 0, "no-cache: stale at once");
	resp(OK "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nAge: 5\r\n\r\n");
	is_int(rf_cache_initial_age(&R, t0 + 30), 30, "apparent age wins");
	is_int(rf_cache_initial_age(&R, t0 + 2), 5, "Age wins");
	resp(OK "Age: junk\r\n\r\n");
	is_int(rf_cache_initial_age(&R, t0), 0, "bad Age counts as 0");

	conditionals();
	switches();
	storage();
	return done_testing();
}
