/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of the shared-cache rules in server/cache.c: Cache-Control
 * parsing (quoted values, doubled and malformed ages), what a request
 * allows, what may be stored, freshness lifetime and initial age.
 * cache.c is included, as auth-test.c includes auth.c: it lives outside
 * the library the unit tests link.
 */
#include <stdio.h>
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

	return rf_cache_storable(&Q, &R, 1000, &why);
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
	ok(!rf_cache_storable(&Q, &R, 1000, &why) && why != NULL &&
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

	return done_testing();
}
