/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The client side of a WebSocket to a reflector, shared by the agent and
 * reflector-client (wsclient.h).  Nothing here holds state of its own:
 * each function works on what its caller passes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>
#include <openssl/rand.h>

#include "err.h"
#include "evloop.h"
#include "log.h"
#include "wsclient.h"
#include "wslink.h"
#include "ws.h"

/* ------------------------------------------------------------ queues -- */

void
rf_wsc_q_init(struct rf_wsc_q *q)
{
	STAILQ_INIT(&q->chunks);
	q->bytes = 0;
}

int
rf_wsc_q_put(struct rf_wsc_q *q, const void *data, size_t len)
{
	struct rf_wsc_chunk *c;

	if (len == 0)
		return 0;
	if ((c = malloc(sizeof(*c) + len)) == NULL)
		return RF_ERR_NOMEM;
	rf_copy(c->data, data, len);
	c->len = len;
	c->off = 0;
	STAILQ_INSERT_TAIL(&q->chunks, c, entry);
	q->bytes += len;
	return 0;
}

size_t
rf_wsc_q_get(struct rf_wsc_q *q, unsigned char *buf, size_t max)
{
	struct rf_wsc_chunk *c;
	size_t n, got = 0;

	while (got < max && (c = STAILQ_FIRST(&q->chunks)) != NULL) {
		n = c->len - c->off;
		if (n > max - got)
			n = max - got;
		rf_copy(buf + got, c->data + c->off, n);
		got += n;
		c->off += n;
		if (c->off == c->len) {
			STAILQ_REMOVE_HEAD(&q->chunks, entry);
			free(c);
		}
	}
	q->bytes -= got;
	return got;
}

size_t
rf_wsc_q_peek(const struct rf_wsc_q *q, const unsigned char **p)
{
	const struct rf_wsc_chunk *c;

	if ((c = STAILQ_FIRST(&q->chunks)) == NULL) {
		*p = NULL;
		return 0;
	}
	*p = c->data + c->off;
	return c->len - c->off;
}

void
rf_wsc_q_drop(struct rf_wsc_q *q, size_t n)
{
	struct rf_wsc_chunk *c;
	size_t k;

	while (n > 0 && (c = STAILQ_FIRST(&q->chunks)) != NULL) {
		k = c->len - c->off;
		if (k > n)
			k = n;
		c->off += k;
		q->bytes -= k;
		n -= k;
		if (c->off == c->len) {
			STAILQ_REMOVE_HEAD(&q->chunks, entry);
			free(c);
		}
	}
}

void
rf_wsc_q_clear(struct rf_wsc_q *q)
{
	struct rf_wsc_chunk *c;

	while ((c = STAILQ_FIRST(&q->chunks)) != NULL) {
		STAILQ_REMOVE_HEAD(&q->chunks, entry);
		free(c);
	}
	q->bytes = 0;
}

/* ------------------------------------------------------------ vhost -- */

struct lws_vhost *
rf_wsc_vhost_new(struct lws_context *ctx, const char *name,
    const struct lws_protocols *protocols)
{
	struct lws_context_creation_info info;
	struct lws_vhost *vh;
	char *env;

	if ((env = getenv("http_proxy")) != NULL &&
	    (env = strdup(env)) == NULL)
		return NULL;
	unsetenv("http_proxy");
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.vhost_name = name;
	info.protocols = protocols;
	vh = lws_create_vhost(ctx, &info);
	if (env != NULL) {
		setenv("http_proxy", env, 1);
		free(env);
	}
	return vh;
}

void
rf_wsc_lws_log(int level, const char *line)
{
	char buf[512];
	size_t n;

	snprintf(buf, sizeof(buf), "%s", line);
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	debug("lws: %s", buf);
	(void)level;
}

/* --------------------------------------------------------- handshake -- */

int
rf_wsc_basic(const char *user, const char *password, char *out, size_t len)
{
	char plain[512], b64[700];
	int n, r = 0;

	n = snprintf(plain, sizeof(plain), "%s:%s", user, password);
	if (n < 0 || (size_t)n >= sizeof(plain) ||
	    lws_b64_encode_string(plain, n, b64, (int)sizeof(b64)) < 0) {
		r = RF_ERR_LIMIT;
		goto out;
	}
	n = snprintf(out, len, "Basic %s", b64);
	if (n < 0 || (size_t)n >= len)
		r = RF_ERR_LIMIT;
out:
	explicit_bzero(plain, sizeof(plain));
	explicit_bzero(b64, sizeof(b64));
	if (r != 0 && len > 0)
		explicit_bzero(out, len);
	return r;
}

void
rf_wsc_failure_text(const struct rf_wsc_failure *f, const char *hint401,
    const char *hint407, char *buf, size_t len)
{
	int auth;

	/* tinyproxy says 401 where RFC 9110 says 407. */
	auth = f->proxy_status == 407 || f->proxy_status == 401;
	if (f->proxy && f->proxy_status > 0)
		snprintf(buf, len, "the proxy refused the CONNECT with %d%s%s%s",
		    f->proxy_status, auth ? " (check " : "", auth ?
		    hint407 != NULL ? hint407 : "its user name and password" :
		    "", auth ? ")" : "");
	else if (f->proxy)
		snprintf(buf, len, "%s", f->detail);
	else if (f->status >= 300 && f->reason[0] != '\0')
		snprintf(buf, len, "the reflector answered %d: %s",
		    f->status, f->reason);
	else if (f->status >= 300)
		snprintf(buf, len, "the reflector answered %d%s%s%s",
		    f->status, f->status == 401 && hint401 != NULL ? " (" : "",
		    f->status == 401 && hint401 != NULL ? hint401 : "",
		    f->status == 401 && hint401 != NULL ? ")" : "");
	else
		snprintf(buf, len, "%s", f->detail);
}

/* ------------------------------------------------------- keep-alive -- */

void
rf_wsc_ka_start(struct rf_wsc_ka *ka, int interval_s, int64_t now)
{
	ka->interval = (int64_t)(interval_s > 0 ? interval_s : 60) *
	    LWS_US_PER_SEC;
	ka->last_rx = ka->last_tx = now;
	ka->last_ping = 0;
}

int
rf_wsc_ka_check(struct rf_wsc_ka *ka, int64_t now)
{
	if (now - ka->last_rx > 2 * ka->interval + 10 * LWS_US_PER_SEC)
		return -1;
	if ((now - ka->last_tx >= ka->interval ||
	    now - ka->last_rx >= ka->interval) &&
	    now - ka->last_ping >= ka->interval) {
		ka->last_ping = now;
		return 1;
	}
	return 0;
}

/* ------------------------------------------------------------ sending -- */

void
rf_wsc_batch_init(struct rf_wsc_batch *b, unsigned char *storage, size_t len)
{
	b->buf = storage + LWS_PRE;
	b->cap = len > LWS_PRE ? len - LWS_PRE : 0;
	b->len = 0;
	b->room_hdr = b->room_max = 0;
	b->nkeys = 0;
}

/* The next unused mask key; -1 if OpenSSL's generator failed. */
static int
batch_key(struct rf_wsc_batch *b, uint8_t key[4])
{
	if (b->nkeys == 0) {
		if (RAND_bytes(b->keys, sizeof(b->keys)) != 1)
			return -1;
		b->nkeys = sizeof(b->keys) / 4;
	}
	b->nkeys--;
	memcpy(key, b->keys + 4 * b->nkeys, 4);
	return 0;
}

/* A masked frame's header for a payload of len bytes: 6, 8 or 14. */
static size_t
masked_header_len(size_t len)
{
	return len <= 125 ? 6 : len <= 65535 ? 8 : 14;
}

/*
 * A message goes after the header its largest size would need; a shorter
 * one may need a shorter header, and rf_wsc_batch_add then moves it back
 * to where that ends.
 */
unsigned char *
rf_wsc_batch_room(struct rf_wsc_batch *b, size_t min, size_t *room)
{
	size_t left = b->cap - b->len, h;

	*room = 0;
	if (left < RF_WS_HEADER_MAX + min)
		return NULL;
	/* Any payload of at most left - h bytes needs at most h (monotonic). */
	h = masked_header_len(left);
	b->room_hdr = h;
	b->room_max = *room = left - h;
	return b->buf + b->len + h;
}

int
rf_wsc_batch_add(struct rf_wsc_batch *b, size_t len)
{
	unsigned char hdr[RF_WS_HEADER_MAX], *at = b->buf + b->len;
	size_t h = b->room_hdr, n;
	uint8_t key[4];

	if (h == 0 || len > b->room_max || batch_key(b, key) != 0 ||
	    (n = rf_ws_frame_header(hdr, 1, RF_WS_BINARY, len, key)) == 0)
		return -1;
	b->room_hdr = 0;
	rf_ws_mask(at + h, len, key, 0);
	if (n < h)
		memmove(at + n, at + h, len);
	memcpy(at, hdr, n);
	b->len += n + len;
	return 0;
}

int
rf_wsc_batch_control(struct rf_wsc_batch *b, uint8_t opcode, const void *p,
    size_t len)
{
	uint8_t key[4];
	size_t n;

	if (len > RF_WS_CONTROL_MAX ||
	    b->cap - b->len < RF_WS_HEADER_MAX + len ||
	    batch_key(b, key) != 0 || (n = rf_ws_frame_header(b->buf + b->len,
	    1, opcode, len, key)) == 0)
		return -1;
	if (len > 0)
		memcpy(b->buf + b->len + n, p, len);
	rf_ws_mask(b->buf + b->len + n, len, key, 0);
	b->len += n + len;
	return 0;
}

/* One write: through the link, or rf_evloop_write. */
static long
link_write(struct lws *wsi, struct rf_wsl *link, const void *p, size_t len)
{
	return link != NULL ? rf_wsl_write(link, wsi, p, len) :
	    rf_evloop_write(wsi, p, len);
}

long
rf_wsc_batch_send(struct lws *wsi, struct rf_wsl *link,
    struct rf_wsc_batch *b, struct rf_buf *tx)
{
	size_t n = b->len;
	long w;

	b->len = 0;
	if (n == 0)
		return 0;
	if ((w = link_write(wsi, link, b->buf, n)) < 0)
		return -1;
	if ((size_t)w < n && rf_buf_put(tx, b->buf + w, n - (size_t)w) != 0)
		return -1;
	return w;
}

long
rf_wsc_tx_flush(struct lws *wsi, struct rf_wsl *link, struct rf_buf *tx)
{
	long w;

	if (rf_buf_len(tx) == 0)
		return link != NULL && rf_wsl_flush(link, wsi) != 0 ? -1 : 0;
	if ((w = link_write(wsi, link, rf_buf_ptr(tx), rf_buf_len(tx))) < 0)
		return -1;
	rf_buf_consume(tx, (size_t)w);
	if (rf_buf_len(tx) == 0)
		rf_buf_free(tx);
	return w;
}
