/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The rules of a shared HTTP cache for device hosts (RFC 9111), as pure
 * functions of a parsed request and response head: may a response be
 * stored, how long is it fresh, how may a request use a stored one.
 * Storage (an LMDB environment of its own) and the hooks in proxy.c are
 * not written yet; these rules are what they will ask.
 */
#ifndef RF_CACHE_H
#define RF_CACHE_H

#include <stdint.h>
#include <time.h>

struct rf_http_head;

/* Cache-Control directives that matter to a shared cache. */
#define RF_CACHE_CC_NO_STORE		0x001
#define RF_CACHE_CC_NO_CACHE		0x002
#define RF_CACHE_CC_PRIVATE		0x004
#define RF_CACHE_CC_PUBLIC		0x008
#define RF_CACHE_CC_MUST_REVALIDATE	0x010
#define RF_CACHE_CC_PROXY_REVALIDATE	0x020
#define RF_CACHE_CC_INVALID		0x040	/* a malformed or doubled age */

/* RFC 9111 1.2.2: a delta-seconds beyond 2^31 is taken as 2^31. */
#define RF_CACHE_DELTA_MAX		2147483648LL

struct rf_cache_cc {
	unsigned int	 flags;		/* RF_CACHE_CC_* */
	int64_t		 max_age;	/* -1: absent */
	int64_t		 s_maxage;	/* -1: absent */
};

/* How a request may use the cache. */
enum rf_cache_use {
	RF_CACHE_BYPASS = 0,	/* neither served from nor stored */
	RF_CACHE_LOOKUP,	/* a fresh entry may be served */
	RF_CACHE_REVALIDATE,	/* an entry must be revalidated first */
};

/* Every Cache-Control field of a head, folded into cc. */
void	rf_cache_cc_parse(const struct rf_http_head *, struct rf_cache_cc *);
/*
 * What a request allows: BYPASS for a method but GET and HEAD, Range,
 * request no-store; REVALIDATE for no-cache, max-age=0, Pragma: no-cache.
 */
enum rf_cache_use rf_cache_request_use(const struct rf_http_head *req);
/*
 * 1 if the response to req may be stored by a shared cache holding
 * objects of max_object bytes at most, else 0 with *why set to a static
 * reason (for the log and the tests).
 */
int	rf_cache_storable(const struct rf_http_head *req,
	    const struct rf_http_head *resp, uint64_t max_object,
	    const char **why);
/*
 * The freshness lifetime in seconds (RFC 9111 4.2.1): s-maxage, then
 * max-age, then Expires minus Date (or minus now, the time the response
 * was received, without a Date).  No heuristic freshness: 0 without any.
 */
int64_t	rf_cache_lifetime(const struct rf_http_head *resp, time_t now);
/*
 * The age of a response when it was received (RFC 9111 4.2.3, with no
 * request delay counted): the larger of its Age and now minus its Date.
 */
int64_t	rf_cache_initial_age(const struct rf_http_head *resp, time_t now);
/* An IMF-fixdate (RFC 9110 5.6.7) as time_t, or -1. */
time_t	rf_cache_http_date(const char *);

#endif /* RF_CACHE_H */
