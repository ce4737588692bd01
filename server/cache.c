/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Shared-cache rules for device hosts (RFC 9111).  This module holds the
 * decisions only, as pure functions of parsed heads and the time, so that
 * t/unit/cache-test.c can pin every one of them down; the store and the
 * proxy hooks will call them.
 *
 * Choices, each narrower than RFC 9111 allows, because a device's web
 * pages are small and a wrong hit leaks one user's page to another:
 * - only GET is stored, only status 200, never with Set-Cookie, never
 *   with Vary other than Accept-Encoding (Vary: * never);
 * - private and no-store (request or response) are never stored;
 *   private="field" and no-cache="field" are taken unqualified, which the
 *   RFC allows a shared cache (5.2.2.4, 5.2.2.7);
 * - a request with Authorization (the device's own credentials, from
 *   X-PTTH-Authorization) is stored only if the response says public or
 *   s-maxage (RFC 9111 3.5);
 * - no heuristic freshness: a response without s-maxage, max-age or
 *   Expires is stored only if it has a validator, and is then stale from
 *   the start, revalidated on every use;
 * - a malformed or repeated max-age, s-maxage or Expires makes the
 *   response stale (RFC 9111 4.2.1), never fresher.
 * Directive values come from the device, that is from anyone: they are
 * read through common/buf.c views of the parsed head, bounded by it.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "err.h"
#include "http.h"
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
    const struct rf_http_head *resp, uint64_t max_object, const char **why)
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
	if (rf_http_find(req, "authorization", 0) >= 0 &&
	    !(cc.flags & RF_CACHE_CC_PUBLIC) && cc.s_maxage < 0) {
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
