/* SPDX-License-Identifier: BSD-2-Clause */
/* A client WebSocket over an lws raw connection: see wslink.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>
#include <openssl/rand.h>

#include "agent-int.h"
#include "err.h"
#include "evloop.h"
#include "http.h"
#include "log.h"
#include "tlsraw.h"
#include "wslink.h"

/* A proxy's reply or the reflector's 101 is never longer. */
#define WSL_HEAD_MAX		(16 * 1024)
/* Plaintext taken from TLS at a time: one record at most. */
#define WSL_READ		(16 * 1024)
/* Bytes beyond a whole message that l->in may have to hold. */
#define WSL_RAW_MAX		(4 * 64 * 1024)

/* ------------------------------------------------------------- proxy -- */

int
rf_wsl_proxy_parse(struct rf_wsl_proxy *p, const char *url, const char *user,
    const char *password, const char **why)
{
	struct rf_agent_url pu;
	size_t clen;

	memset(p, 0, sizeof(*p));
	if (strncmp(url, "http://", 7) != 0) {
		*why = "an http:// URL such as "
		    "\"http://proxy.example.net:3128\"";
		return RF_ERR_INVAL;
	}
	if (rf_agent_parse_url(url, &pu, why) != 0)
		return RF_ERR_INVAL;
	clen = (user != NULL ? strlen(user) + 1 : 0) +
	    (password != NULL ? strlen(password) : 0);
	if (clen > RF_WSC_PROXY_AUTH_MAX || (user != NULL &&
	    rf_wsc_basic(user, password != NULL ? password : "", p->auth,
	    sizeof(p->auth)) != 0)) {
		*why = "proxy credentials of at most 95 bytes";
		explicit_bzero(p, sizeof(*p));
		return RF_ERR_LIMIT;
	}
	snprintf(p->host, sizeof(p->host), "%s", pu.host);
	p->port = pu.port;
	return 0;
}

/* host:port as a request target or Host value, an IPv6 address bracketed. */
static int
put_authority(struct rf_buf *b, const char *host, int port, int dflt)
{
	int v6 = strchr(host, ':') != NULL;

	if (port == dflt)
		return rf_buf_putf(b, v6 ? "[%s]" : "%s", host);
	return rf_buf_putf(b, v6 ? "[%s]:%d" : "%s:%d", host, port);
}

/* ------------------------------------------------------------ failure -- */

static int
fail(struct rf_wsl *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
fail(struct rf_wsl *l, const char *fmt, ...)
{
	va_list ap;

	if (l->state != RF_WSL_DONE || l->fail.detail[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(l->fail.detail, sizeof(l->fail.detail), fmt, ap);
		va_end(ap);
	}
	l->state = RF_WSL_DONE;
	return -1;
}

void
rf_wsl_failed(struct rf_wsl *l, const char *lws_says)
{
	switch (l->state) {
	case RF_WSL_IDLE:
	case RF_WSL_TCP:
		/* The connection that failed was the proxy's: name it. */
		if (l->proxied) {
			l->fail.proxy = 1;
			fail(l, "cannot reach the proxy at %s: %s", l->proxy,
			    lws_says != NULL ? lws_says : "connection failed");
			break;
		}
		fail(l, "%s", lws_says != NULL ? lws_says :
		    "connection failed");
		break;
	case RF_WSL_PROXY:
		l->fail.proxy = 1;
		fail(l, "the proxy closed the connection before it answered "
		    "the CONNECT");
		break;
	case RF_WSL_TLS:
		l->fail.tls = 1;
		fail(l, "the connection closed during the TLS handshake");
		break;
	case RF_WSL_UPGRADE:
		fail(l, "the connection closed before the reflector answered "
		    "the upgrade");
		break;
	case RF_WSL_OPEN:
		l->fail.closed = 1;
		fail(l, "the connection closed");
		break;
	case RF_WSL_DONE:
		break;
	}
}

/* -------------------------------------------------------------- heads -- */

static int
head_start(struct rf_wsl *l)
{
	if (l->head == NULL && (l->head = malloc(sizeof(*l->head))) == NULL)
		return fail(l, "out of memory");
	rf_http_head_init(l->head, RF_HTTP_RESPONSE, WSL_HEAD_MAX);
	return 0;
}

static void
head_end(struct rf_wsl *l)
{
	if (l->head != NULL && l->head->state == RF_HTTP_HEAD_DONE)
		(void)rf_buf_consume(&l->in, l->head->len);
	free(l->head);
	l->head = NULL;
	if (rf_buf_len(&l->in) == 0)
		rf_buf_reset(&l->in);
}

/* Parses what came of a head: 1 when whole, 0 for more, -1 (failed). */
static int
head_parse(struct rf_wsl *l, const char *whose)
{
	int r;

	r = rf_http_head_parse(l->head, rf_buf_ptr(&l->in),
	    rf_buf_len(&l->in));
	if (r == 0)
		return 1;
	if (r == RF_ERR_SHORT)
		return 0;
	return fail(l, "%s answer is not HTTP: %s", whose,
	    l->head->error != NULL ? l->head->error : rf_strerror(r));
}

int
rf_wsl_header(const struct rf_wsl *l, const char *name, char *buf,
    size_t len)
{
	int i;

	if (len > 0)
		buf[0] = '\0';
	if (l->head == NULL || l->head->state != RF_HTTP_HEAD_DONE ||
	    (i = rf_http_find(l->head, name, 0)) < 0)
		return RF_ERR_NOTFOUND;
	if (rf_http_span_cstring(l->head, l->head->fields[i].value, buf,
	    len) != 0) {
		if (len > 0)
			buf[0] = '\0';
		return RF_ERR_LIMIT;
	}
	return 0;
}

/* ---------------------------------------------------------- the steps -- */

/* l afresh, its buffers sized for messages of up to max_message bytes. */
static void
link_init(struct rf_wsl *l, const char *subprotocol, size_t max_message,
    const struct rf_wsl_ops *ops, void *arg)
{
	rf_wsl_free(l);
	l->ops = ops;
	l->arg = arg;
	l->max_message = max_message;
	l->subprotocol = subprotocol;
	rf_buf_init(&l->out, WSL_HEAD_MAX);
	rf_buf_init(&l->req, WSL_HEAD_MAX);
	/*
	 * A frame cut short and what comes after it: on ws:// lws may hand
	 * over a whole read (pt_serv_buf_size) while the link is paused.
	 */
	rf_buf_init(&l->in, max_message + RF_WS_HEADER_MAX + WSL_RAW_MAX);
	rf_ws_asm_init(&l->wsasm, max_message);
}

int
rf_wsl_connect(struct rf_wsl *l, const struct rf_wsl_conf *c,
    const char *headers, const struct rf_wsl_ops *ops, void *arg)
{
	struct lws_client_connect_info ci;
	unsigned char nonce[16];
	char b64[64];
	const char *addr = c->address != NULL ? c->address : c->host;
	int px = c->proxy != NULL && c->proxy->host[0] != '\0', dflt;

	link_init(l, c->subprotocol, c->max_message, ops, arg);
	snprintf(l->host, sizeof(l->host), "%s", c->host);
	if (c->tls != NULL) {
		SSL_CTX_up_ref(c->tls);
		l->ctx = c->tls;
	}
	if (RAND_bytes(nonce, sizeof(nonce)) != 1 ||
	    lws_b64_encode_string((const char *)nonce, sizeof(nonce), b64,
	    sizeof(b64)) != RF_WS_KEY_LEN)
		return fail(l, "no random bytes for the WebSocket key");
	memcpy(l->key, b64, RF_WS_KEY_LEN + 1);
	dflt = c->tls != NULL ? 443 : 80;
	if (rf_buf_putf(&l->req, "GET %s HTTP/1.1\r\nHost: ", c->path) != 0 ||
	    put_authority(&l->req, c->host, c->port, dflt) != 0 ||
	    rf_buf_putf(&l->req, "\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
	    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n"
	    "%s\r\n", l->key, c->subprotocol,
	    headers != NULL ? headers : "") != 0)
		return fail(l, "the upgrade request does not fit in %d bytes",
		    WSL_HEAD_MAX);
	/* The proxy reaches the address: a name may have no DNS of its own. */
	if (px && (rf_buf_putf(&l->out, "CONNECT ") != 0 ||
	    put_authority(&l->out, addr, c->port, -1) != 0 ||
	    rf_buf_putf(&l->out, " HTTP/1.1\r\nHost: ") != 0 ||
	    put_authority(&l->out, addr, c->port, -1) != 0 ||
	    (c->proxy->auth[0] != '\0' && rf_buf_putf(&l->out,
	    "\r\nProxy-Authorization: %s", c->proxy->auth) != 0) ||
	    rf_buf_putf(&l->out, "\r\n\r\n") != 0))
		return fail(l, "the CONNECT request does not fit");

	memset(&ci, 0, sizeof(ci));
	ci.context = c->ctx;
	ci.vhost = c->vhost;
	ci.address = px ? c->proxy->host : addr;
	ci.port = px ? c->proxy->port : c->port;
	ci.host = ci.address;
	ci.method = "RAW";
	ci.local_protocol_name = c->lws_protocol;
	ci.opaque_user_data = c->opaque;
	ci.pwsi = c->pwsi;
	l->proxied = px;
	if (px)
		snprintf(l->proxy, sizeof(l->proxy), strchr(c->proxy->host,
		    ':') != NULL ? "[%s]:%d" : "%s:%d", c->proxy->host,
		    c->proxy->port);
	l->own_records = c->own_records;
	l->state = RF_WSL_TCP;
	if (lws_client_connect_via_info(&ci) == NULL && l->state == RF_WSL_TCP)
		return fail(l, "cannot start a connection to %.200s:%d",
		    ci.address, ci.port);
	return l->state == RF_WSL_DONE ? -1 : 0;
}

/* Writes the upgrade request, through TLS if there is TLS. */
static int
send_upgrade(struct rf_wsl *l, struct lws *wsi)
{
	int r;

	if (l->t != NULL)
		r = rf_tlsraw_write(l->t, rf_buf_ptr(&l->req),
		    rf_buf_len(&l->req));
	else
		r = rf_buf_put(&l->out, rf_buf_ptr(&l->req),
		    rf_buf_len(&l->req));
	/* The credentials in it are not kept. */
	if (rf_buf_len(&l->req) > 0)
		explicit_bzero((void *)rf_buf_ptr(&l->req),
		    rf_buf_len(&l->req));
	rf_buf_free(&l->req);
	if (r != 0)
		return fail(l, "cannot send the upgrade request");
	l->state = RF_WSL_UPGRADE;
	if (head_start(l) != 0)
		return -1;
	return rf_wsl_flush(l, wsi);
}

int
rf_wsl_test_upgrade(struct rf_wsl *l, const char *key, const char *subprotocol,
    size_t max_message, const struct rf_wsl_ops *ops, void *arg)
{
	link_init(l, subprotocol, max_message, ops, arg);
	if (strlen(key) != RF_WS_KEY_LEN)
		return fail(l, "a WebSocket key of %d characters",
		    RF_WS_KEY_LEN);
	memcpy(l->key, key, RF_WS_KEY_LEN + 1);
	l->state = RF_WSL_UPGRADE;
	return head_start(l);
}

/* TCP (and the proxy's tunnel) is up: TLS, or the upgrade at once. */
static int
after_tcp(struct rf_wsl *l, struct lws *wsi)
{
	if (l->ctx == NULL)
		return send_upgrade(l, wsi);
	if ((l->t = rf_tlsraw_new(l->ctx, l->host, "http/1.1")) == NULL) {
		l->fail.tls = 1;
		return fail(l, "cannot start TLS");
	}
	l->state = RF_WSL_TLS;
	return rf_wsl_flush(l, wsi);
}

int
rf_wsl_connected(struct rf_wsl *l, struct lws *wsi)
{
	if (l->state != RF_WSL_TCP)
		return fail(l, "connected out of turn");
	if (!l->proxied)
		return after_tcp(l, wsi);
	l->state = RF_WSL_PROXY;
	if (head_start(l) != 0)
		return -1;
	return rf_wsl_flush(l, wsi);
}

/* The proxy's whole answer to the CONNECT is in l->head. */
static int
proxy_answered(struct rf_wsl *l, struct lws *wsi)
{
	int status = l->head->status;

	if (status < 200 || status > 299) {
		l->fail.proxy = 1;
		l->fail.proxy_status = status;
		return fail(l, "the proxy answered %d to the CONNECT", status);
	}
	/* A proxy says nothing more; what it did is the server's. */
	head_end(l);
	rf_buf_free(&l->out);
	return after_tcp(l, wsi);
}

/* The whole 101 (or refusal) is in l->head. */
static int
upgraded(struct rf_wsl *l)
{
	struct rf_http_head *h = l->head;
	char v[128], want[RF_WS_ACCEPT_LEN + 1];

	/* A 101 that fails a check below is a status too: not a reflector. */
	l->fail.status = h->status;
	if (h->status != 101) {
		if (rf_wsl_header(l, "X-PTTH-Error", l->fail.reason,
		    sizeof(l->fail.reason)) != 0)
			(void)rf_wsl_header(l, "X-WebTunnel-Error",
			    l->fail.reason, sizeof(l->fail.reason));
		return fail(l, "the reflector answered %d", h->status);
	}
	if (!(h->conn & RF_HTTP_CONN_UPGRADE) ||
	    rf_wsl_header(l, "Upgrade", v, sizeof(v)) != 0 ||
	    strcasecmp(v, "websocket") != 0)
		return fail(l, "the reflector answered 101 without a "
		    "WebSocket upgrade");
	if (rf_ws_accept_key(l->key, want) != 0 ||
	    rf_wsl_header(l, "Sec-WebSocket-Accept", v, sizeof(v)) != 0 ||
	    strcmp(v, want) != 0)
		return fail(l, "the reflector answered 101 with a wrong "
		    "Sec-WebSocket-Accept");
	(void)rf_wsl_header(l, "Sec-WebSocket-Protocol", v, sizeof(v));
	if (strcmp(v, l->subprotocol) != 0)
		return fail(l, "the reflector answered 101 with subprotocol "
		    "'%.64s', not '%s'", v, l->subprotocol);
	l->fail.status = 0;
	l->state = RF_WSL_OPEN;
	if (l->ops->open(l->arg) != 0)
		return fail(l, "refused");
	head_end(l);
	return 0;
}

/*
 * The peer's CLOSE, as it came: its code (1005 for none) and its reason
 * for the log, control characters shown as '?'.  Not checked further: it
 * ends the link either way.
 */
static int
peer_closed(struct rf_wsl *l, const struct rf_ws_msg *m)
{
	size_t i, n;

	l->fail.closed = 1;
	l->close_rcvd = 1;
	l->fail.close_code = RF_WS_CLOSE_NO_STATUS;
	if (m->len >= 2) {
		l->fail.close_code = m->data[0] << 8 | m->data[1];
		n = m->len - 2 < sizeof(l->fail.reason) - 1 ? m->len - 2 :
		    sizeof(l->fail.reason) - 1;
		for (i = 0; i < n; i++)
			l->fail.reason[i] = m->data[2 + i] < 0x20 ||
			    m->data[2 + i] == 0x7f ? '?' : (char)m->data[2 + i];
		l->fail.reason[n] = '\0';
	}
	return fail(l, "the reflector closed the tunnel");
}

/* One message or control frame, whole. */
static int
message(struct rf_wsl *l, const struct rf_ws_msg *m)
{
	switch (m->opcode) {
	case RF_WS_BINARY:
	case RF_WS_TEXT:
		if (l->ops->message(l->arg, m->opcode == RF_WS_BINARY,
		    m->data, m->len) != 0)
			return fail(l, "refused a message");
		return 0;
	case RF_WS_PING:
		memcpy(l->pong, m->data, m->len);
		l->pong_len = m->len;
		l->pong_due = 1;
		l->ops->want_write(l->arg);
		return 0;
	case RF_WS_CLOSE:
		return peer_closed(l, m);
	default:
		return 0;	/* PONG: it counted as traffic */
	}
}

/* Heads and frames from l->in, while nothing stops it. */
static int
consume(struct rf_wsl *l, struct lws *wsi)
{
	struct rf_ws_frame f;
	struct rf_ws_msg m;
	int r;

	if (l->state == RF_WSL_PROXY) {
		if ((r = head_parse(l, "the proxy's")) <= 0)
			return r;
		return proxy_answered(l, wsi);
	}
	if (l->state == RF_WSL_UPGRADE) {
		if ((r = head_parse(l, "the reflector's")) <= 0)
			return r;
		if (upgraded(l) != 0)
			return -1;
	}
	while (l->state == RF_WSL_OPEN && !l->paused) {
		r = rf_ws_frame_decode(&l->in, 0, l->max_message, &f);
		if (r == RF_ERR_SHORT)
			break;
		if (r == 0 && (r = rf_ws_asm_add(&l->wsasm, &f, &m)) ==
		    RF_ERR_AGAIN)
			continue;
		if (r != 0)
			return fail(l, "the reflector broke the WebSocket "
			    "protocol: %s", f.why != NULL ? f.why :
			    l->wsasm.why != NULL ? l->wsasm.why :
			    rf_strerror(r));
		if (message(l, &m) != 0)
			return -1;
	}
	if (rf_buf_len(&l->in) == 0)
		rf_buf_reset(&l->in);
	return 0;
}

/*
 * Ciphertext (in, len; or what TLS kept) decrypted onto l->in, and on
 * through consume.  While paused, what fits is decrypted and the rest
 * waits in TLS; nothing is consumed.
 */
static int
pull_tls(struct rf_wsl *l, struct lws *wsi, const void *in, size_t len)
{
	size_t before;
	int n;

	for (;;) {
		if (consume(l, wsi) != 0)
			return -1;
		if (l->state == RF_WSL_DONE)
			return 0;
		if (!l->paused && rf_buf_room(&l->in) < WSL_READ)
			return fail(l, "the reflector's %s is too long",
			    l->state == RF_WSL_OPEN ? "message" : "answer");
		before = rf_buf_len(&l->in);
		n = rf_tlsraw_rx(l->t, in, len, &l->in);
		in = NULL;
		len = 0;
		if (n == RF_ERR_EOF) {
			l->fail.closed = 1;
			return fail(l, "the reflector ended TLS (close_notify)");
		}
		if (n != 0)
			return fail(l, "%s", rf_tlsraw_error(l->t));
		if (l->paused || rf_buf_len(&l->in) == before)
			return 0;
	}
}

/*
 * Once open and quiet, the records are ours (tlsraw.c says why); tried
 * after each read and write until it happens or cannot.
 */
static void
take_records(struct rf_wsl *l)
{
	const char *why;
	int r;

	if (!l->own_records || l->t == NULL || l->state != RF_WSL_OPEN ||
	    l->paused)
		return;
	if ((r = rf_tlsraw_take(l->t, &why)) == 0)
		return;
	l->own_records = 0;
	if (r > 0)
		verbose("%s: TLS records of the tunnel are ours now",
		    l->host);
	else
		verbose("%s: TLS stays with OpenSSL: %s", l->host,
		    why != NULL ? why : "cannot take it over");
}

int
rf_wsl_rx(struct rf_wsl *l, struct lws *wsi, const void *in, size_t len)
{
	int r, carried = 0;

	if (l->state == RF_WSL_DONE)
		return -1;
	if (l->state == RF_WSL_TCP || l->state == RF_WSL_IDLE)
		return fail(l, "bytes before the connect");
	/* The proxy's answer, and everything on ws://, is plain. */
	if (l->state == RF_WSL_PROXY || l->t == NULL) {
		if (len > 0 && rf_buf_put(&l->in, in, len) != 0)
			return fail(l, "the %s answer is too long",
			    l->state == RF_WSL_PROXY ? "proxy's" :
			    "reflector's");
		if ((r = consume(l, wsi)) != 0 || l->state == RF_WSL_PROXY)
			return r;
		/* After the proxy's answer: the reflector's bytes. */
		if (l->t == NULL)
			return consume(l, wsi);
		in = rf_buf_ptr(&l->in);
		len = rf_buf_len(&l->in);
		carried = 1;
	}
	if (l->state == RF_WSL_TLS) {
		if (len > 0 && rf_tlsraw_feed(l->t, in, len) != 0) {
			l->fail.tls = 1;
			return fail(l, "%s", rf_tlsraw_error(l->t));
		}
		/* in pointed into l->in, which now takes plaintext. */
		if (carried)
			rf_buf_reset(&l->in);
		in = NULL;
		len = 0;
		if (!rf_tlsraw_ready(l->t))
			return rf_wsl_flush(l, wsi);
		if (send_upgrade(l, wsi) != 0)
			return -1;
	}
	if (pull_tls(l, wsi, in, len) != 0)
		return -1;
	/* A KeyUpdate's answer, an alert. */
	if (rf_wsl_flush(l, wsi) != 0)
		return -1;
	take_records(l);
	return 0;
}

/* A write failed: the peer reset the connection, or it went away. */
static int
write_failed(struct rf_wsl *l)
{
	if (l->state == RF_WSL_OPEN)
		l->fail.closed = 1;
	return fail(l, "write failed");
}

int
rf_wsl_flush(struct rf_wsl *l, struct lws *wsi)
{
	long n;

	if (rf_buf_len(&l->out) > 0) {
		if ((n = rf_evloop_write(wsi, rf_buf_ptr(&l->out),
		    rf_buf_len(&l->out))) < 0)
			return write_failed(l);
		(void)rf_buf_consume(&l->out, (size_t)n);
		if (rf_buf_len(&l->out) > 0) {
			lws_callback_on_writable(wsi);
			return 0;
		}
		rf_buf_free(&l->out);
	}
	if (l->t != NULL && rf_tlsraw_flush(l->t, wsi) != 0)
		return write_failed(l);
	return 0;
}

/* ------------------------------------------------------------- open -- */

int
rf_wsl_is_open(const struct rf_wsl *l)
{
	return l->state == RF_WSL_OPEN;
}

void
rf_wsl_pause(struct rf_wsl *l, struct lws *wsi, int on)
{
	if (l->paused == on)
		return;
	l->paused = on;
	lws_rx_flow_control(wsi, !on);
}

long
rf_wsl_write(struct rf_wsl *l, struct lws *wsi, const void *p, size_t len)
{
	/* Once closed, only what goes before the CLOSE that answers one. */
	if (l->state != RF_WSL_OPEN && !l->close_rcvd)
		return -1;
	if (l->t == NULL)
		return rf_evloop_write(wsi, p, len);
	/* As OpenSSL does on a socket: the next only once the last is out. */
	if (rf_tlsraw_flush(l->t, wsi) != 0)
		return -1;
	if (rf_tlsraw_pending(l->t) > 0 || len == 0)
		return 0;
	if (rf_tlsraw_write(l->t, p, len) != 0 ||
	    rf_tlsraw_flush(l->t, wsi) != 0)
		return -1;
	if (rf_tlsraw_pending(l->t) == 0)
		take_records(l);
	return (long)len;
}

size_t
rf_wsl_pending(const struct rf_wsl *l)
{
	return rf_buf_len(&l->out) + (l->t != NULL ? rf_tlsraw_pending(l->t) :
	    0);
}

int
rf_wsl_pong(struct rf_wsl *l, struct rf_wsc_batch *b)
{
	if (!l->pong_due ||
	    rf_wsc_batch_control(b, RF_WS_PONG, l->pong, l->pong_len) != 0)
		return 0;
	l->pong_due = 0;
	return 1;
}

void
rf_wsl_close(struct rf_wsl *l, struct lws *wsi, uint16_t code,
    struct rf_buf *tx)
{
	unsigned char storage[LWS_PRE + 64], payload[RF_WS_CONTROL_MAX];
	struct rf_wsc_batch b;
	size_t plen;
	long w;

	if ((l->state == RF_WSL_OPEN || l->close_rcvd) && wsi != NULL) {
		/* Only after a batch the socket did not take whole. */
		if (tx != NULL && rf_buf_len(tx) > 0 &&
		    (w = rf_wsl_write(l, wsi, rf_buf_ptr(tx),
		    rf_buf_len(tx))) > 0)
			(void)rf_buf_consume(tx, (size_t)w);
		rf_wsc_batch_init(&b, storage, sizeof(storage));
		if ((tx == NULL || rf_buf_len(tx) == 0) &&
		    rf_ws_close_payload(payload, code, NULL, &plen) == 0 &&
		    rf_wsc_batch_control(&b, RF_WS_CLOSE, payload, plen) == 0)
			(void)rf_wsl_write(l, wsi, b.buf, b.len);
	}
	if (l->t != NULL && wsi != NULL && l->state >= RF_WSL_UPGRADE) {
		rf_tlsraw_close(l->t);
		(void)rf_tlsraw_flush(l->t, wsi);
	}
	l->close_rcvd = 0;
	if (l->state != RF_WSL_IDLE)
		l->state = RF_WSL_DONE;
}

void
rf_wsl_close_answer(struct rf_wsl *l, struct lws *wsi, struct rf_buf *tx)
{
	uint16_t code = (uint16_t)l->fail.close_code;

	if (!l->close_rcvd)
		return;
	/* Its code back (RFC 6455 §5.5.1), none for none, 1002 for a bad one. */
	if (code == RF_WS_CLOSE_NO_STATUS)
		code = 0;
	else if (!rf_ws_close_code_valid(code))
		code = RF_WS_CLOSE_PROTOCOL;
	rf_wsl_close(l, wsi, code, tx);
}

void
rf_wsl_free(struct rf_wsl *l)
{
	rf_tlsraw_free(l->t);
	if (l->ctx != NULL)
		SSL_CTX_free(l->ctx);
	if (rf_buf_len(&l->req) > 0)
		explicit_bzero((void *)rf_buf_ptr(&l->req),
		    rf_buf_len(&l->req));
	rf_buf_free(&l->req);
	rf_buf_free(&l->out);
	rf_buf_free(&l->in);
	rf_ws_asm_free(&l->wsasm);
	free(l->head);
	explicit_bzero(l, sizeof(*l));
}
