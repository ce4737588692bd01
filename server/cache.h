/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The shared HTTP cache of device hosts (RFC 9111): the rules, as pure
 * functions of parsed heads (may a response be stored, how long is it
 * fresh, how may a request use a stored one), and the store, an LMDB
 * environment of its own that every worker opens after fork.
 *
 * Schema of <cache.dir>/cache.mdb (native byte order, version 1):
 *   "obj"   key: SHA-256 of the device id, a NUL and the request target
 *           (32 bytes); value: struct rf_cache_rec, then ae_len bytes of
 *           the request's Accept-Encoding (when the response varies on
 *           it), head_len bytes of the stored response head (status line,
 *           fields without hop-by-hop ones, empty line), body_len bytes.
 *   "use"   key: the obj key; value: struct rf_cache_stamp: its use stamp
 *           (the entry's lru key) and when it was last moved up.
 *   "lru"   key: u64 use stamp, big-endian so that the first key is the
 *           entry used longest ago; value: the obj key.
 *   "meta"  "total": u64 bytes the entries account for (RF_CACHE_ENTRY_
 *           OVERHEAD each beside the obj value); "seq": u64 last stamp.
 * Every write keeps the four consistent in one transaction.  The master
 * makes and empties it (rf_cache_reset) at start, or, when no device's
 * cache is on then, at the first reload that turns one on; nothing in it
 * must outlive a configuration that switched a device's cache off.
 */
#ifndef RF_CACHE_H
#define RF_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "http.h"

struct rf_conf;

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
 * reason (for the log and the tests).  dev_authz: the request carries an
 * Authorization that goes to the device (the reflector's own is not).
 */
int	rf_cache_storable(const struct rf_http_head *req,
	    const struct rf_http_head *resp, int dev_authz,
	    uint64_t max_object, const char **why);
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
/*
 * 1 if the request's own conditional (If-None-Match, else
 * If-Modified-Since) matches the stored response head: it gets a 304.
 */
int	rf_cache_not_modified(const struct rf_http_head *req,
	    const struct rf_http_head *stored);
/* 1 if reflector.yml turns the cache on anywhere: else no lookup at all. */
int	rf_cache_any(const struct rf_conf *);
/* 1 if the cache is on for this device of that group (reflector.yml). */
int	rf_cache_on(const struct rf_conf *, const char *device,
	    const char *group);

/* ---- The store. ---- */

#define RF_CACHE_KEY_LEN	32
#define RF_CACHE_HEAD_MAX	(64 * 1024)	/* a stored head, at most */
#define RF_CACHE_OBJECT_MAX	(8 * 1024 * 1024) /* cache.max_object's top */
#define RF_CACHE_AE_MAX		256	/* Accept-Encoding kept for Vary */
#define RF_CACHE_EVICT_MAX	64	/* entries one write evicts at most */
#define RF_CACHE_TOUCH_SECS	10	/* a hit moves up the lru at most so often */
#define RF_CACHE_ENTRY_OVERHEAD	128	/* keys of obj, use, lru and page slack */

#define RF_CACHE_REC_AUTH_OK	0x1	/* public or s-maxage: Authorization ok */
#define RF_CACHE_REC_VARY_AE	0x2	/* Vary: Accept-Encoding */

struct rf_cache_rec {
	uint32_t	version;	/* 1 */
	uint32_t	flags;		/* RF_CACHE_REC_* */
	uint64_t	id;		/* unique per store: which version */
	int64_t		response_time;	/* unix seconds it was received */
	int64_t		initial_age;	/* its age then */
	int64_t		lifetime;	/* freshness lifetime, seconds */
	uint32_t	ae_len;
	uint32_t	head_len;
	uint32_t	body_len;
	uint32_t	pad;
};

struct rf_cache_stamp {
	uint64_t	stamp;
	uint64_t	last_used;	/* unix seconds, to RF_CACHE_TOUCH_SECS */
};

/* An entry copied out of the map: the caller owns it. */
struct rf_cache_entry {
	struct rf_cache_rec	 rec;
	struct rf_cache_stamp	 use;
	struct rf_buf		 head;		/* the stored head's bytes */
	struct rf_buf		 body;
	struct rf_http_head	 h;		/* head, parsed */
};

/*
 * The master, after dropping privileges, before any worker has a
 * configuration that uses the cache (at start or at a reload): creates
 * cache.dir (one level) and cache.mdb, and empties it.  Nothing stays
 * open.
 */
int	rf_cache_reset(const struct rf_conf *);
/* The master, after a worker died: clears its reader slot. */
int	rf_cache_reader_check(const struct rf_conf *, int *dead);
/* The SHA-256 key of a device's request target. */
void	rf_cache_key(const char *device, const struct rf_http_head *req,
	    unsigned char key[RF_CACHE_KEY_LEN]);
/*
 * The entry for key that req may use (its Accept-Encoding matches when the
 * response varied on it), copied into e (rf_cache_entry_free it after):
 * 0, RF_ERR_NOTFOUND, or another error (logged; the cache is skipped).
 */
int	rf_cache_get(const struct rf_conf *, const unsigned char *key,
	    const struct rf_http_head *req, struct rf_cache_entry *e);
void	rf_cache_entry_free(struct rf_cache_entry *);
/* Fresh at now: lifetime beyond its current age (RFC 9111 4.2). */
int	rf_cache_fresh(const struct rf_cache_rec *, time_t now);
int64_t	rf_cache_age(const struct rf_cache_rec *, time_t now);
/*
 * The head of resp as it is stored: without hop-by-hop fields (and those
 * Connection names) and X-Reflector-Cache; its Age counts for the age.
 */
int	rf_cache_head_for_store(struct rf_buf *out,
	    const struct rf_http_head *resp);
/*
 * Stores a 200 response (head as rf_cache_head_for_store wrote it) under
 * key, evicting the entries used longest ago, RF_CACHE_EVICT_MAX at most:
 * RF_ERR_LIMIT if that did not make room (nothing stored; the next write
 * evicts more).  The last of two workers storing one key wins.
 */
int	rf_cache_put(const struct rf_conf *, const unsigned char *key,
	    const struct rf_http_head *req, const struct rf_http_head *resp,
	    const void *head, size_t headlen, const void *body, size_t len,
	    time_t now);
/*
 * A 304 to our conditional request: the stored entry's head gets the
 * 304's fields (RFC 9111 4.3.4) and a new age, and e the refreshed entry.
 * RF_ERR_NOTFOUND if the entry is gone.
 */
int	rf_cache_refresh(const struct rf_conf *, const unsigned char *key,
	    const struct rf_http_head *req, const struct rf_http_head *r304,
	    time_t now, struct rf_cache_entry *e);
/* A hit: the entry moves up the lru list, if it has not lately. */
void	rf_cache_touch(const struct rf_conf *, const unsigned char *key,
	    const struct rf_cache_entry *, time_t now);
/* Its conditional fields (If-None-Match, If-Modified-Since), for a reval. */
int	rf_cache_put_conditional(struct rf_buf *out,
	    const struct rf_cache_entry *);
/*
 * The head the browser gets for a stored entry: 304 if not_modified,
 * with Age and X-Reflector-Cache: how, and Connection: close if close.
 */
int	rf_cache_put_served_head(struct rf_buf *out,
	    const struct rf_cache_entry *, time_t now, const char *how,
	    int not_modified, int close);
/* Bytes the cache holds now, and entries; for the log and the tests. */
int	rf_cache_stat(const struct rf_conf *, uint64_t *total, size_t *n);

#endif /* RF_CACHE_H */
