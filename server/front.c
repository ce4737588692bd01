/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The portal host's connections: our own HTTP/1.1 over lws raw sockets.
 *
 * Why not lws's HTTP and WebSocket server.  Stock agents open their
 * tunnel with subprotocol com.appinf.webtunnel.server/1.0, which the
 * WebSocket server of lws 4.1.6 rejects as a "malformatted protocol list"
 * (its tokenizer stops at '/'), and they repeat X-PTTH-Set-Property, of
 * which lws lets us read only the first.  So every connection that does
 * not name a device is adopted as a raw socket (TLS still done by lws) and
 * this module reads its request heads with common/http.c, answers the
 * reflector's own pages, and turns a device's upgrade into a WebTunnel
 * tunnel (tunnel.c) framed by common/ws.c.  Device hosts go to proxy.c.
 *
 * States.  HEAD: reading a request head (bounded by limits.header_max,
 * timed by handshake_timeout once its first byte is in); answered
 * requests go back to HEAD while keep-alive lasts.  TUNNEL: WebSocket
 * frames for a device tunnel.  CLOSING: the last response is being sent,
 * then the connection closes.
 *
 * Output.  Responses and control frames wait in a queue of buffers written
 * from the WRITEABLE callback while lws's pipe is not choked; a tunnel's
 * own frames follow once this queue is empty.
 */
#include <sys/queue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "auth.h"
#include "buf.h"
#include "conf.h"
#include "err.h"
#include "front.h"
#include "http.h"
#include "log.h"
#include "pages.h"
#include "portal.h"
#include "peek.h"
#include "reflectord.h"
#include "tunnel.h"
#include "worker.h"
#include "ws.h"
#include "wt.h"

#define RF_FRONT_WS_MAX		(64 * 1024 + 16)	/* one frame */

enum front_state {
	FRONT_HEAD = 0,
	FRONT_TUNNEL,
	FRONT_CLOSING,
};

struct rf_out {
	STAILQ_ENTRY(rf_out)	 entry;
	size_t			 len;
	unsigned char		 data[];	/* LWS_PRE, then len bytes */
};

struct rf_front {
	struct lws		*wsi;
	struct rf_conn		*conn;
	enum front_state	 state;
	struct rf_buf		 in;
	struct rf_http_head	 head;
	STAILQ_HEAD(, rf_out)	 outq;
	struct rf_tunnel	*t;
	struct rf_ws_asm	 wsasm;		/* fragmented WS messages */
	int			 status;	/* of the last response, for logs */
};

size_t
rf_front_session_size(void)
{
	return sizeof(struct rf_front);
}

static int
queue_out(struct rf_front *f, const void *p, size_t len)
{
	struct rf_out *o;

	if ((o = malloc(sizeof(*o) + LWS_PRE + len)) == NULL)
		return RF_ERR_NOMEM;
	o->len = len;
	memcpy(o->data + LWS_PRE, p, len);
	STAILQ_INSERT_TAIL(&f->outq, o, entry);
	lws_callback_on_writable(f->wsi);
	return 0;
}

/* Sends a response built in b; closes afterwards unless keep is set. */
static int
send_buf(struct rf_front *f, struct rf_buf *b, int keep)
{
	int r = queue_out(f, rf_buf_ptr(b), rf_buf_len(b));

	rf_buf_free(b);
	if (!keep)
		f->state = FRONT_CLOSING;
	return r;
}

static int
send_error(struct rf_front *f, int status, const char *title,
    const char *text, const char *extra, int keep)
{
	struct rf_buf b;

	f->status = status;
	rf_buf_init(&b, 16384);
	if (rf_page_error(&b, status, title, text, extra, keep,
	    f->head.is_head) != 0) {
		rf_buf_free(&b);
		return -1;
	}
	return send_buf(f, &b, keep);
}

static void
conn_state(struct rf_front *f, enum rf_conn_state s)
{
	if (f->conn != NULL)
		f->conn->state = s;
}

/* ----------------------------------------------------- device tunnels -- */

static int
field(const struct rf_http_head *h, const char *name, char *out, size_t len)
{
	int i = rf_http_find(h, name, 0);

	out[0] = '\0';
	if (i < 0)
		return RF_ERR_NOTFOUND;
	return rf_http_span_cstring(h, h->fields[i].value, out, len);
}

/* 1 if some Sec-WebSocket-Protocol field lists the device subprotocol. */
static int
wants_tunnel(const struct rf_http_head *h)
{
	char v[512], *tok, *save;
	int i = -1;

	while ((i = rf_http_find(h, "sec-websocket-protocol",
	    (size_t)(i + 1))) >= 0) {
		if (rf_http_span_cstring(h, h->fields[i].value, v,
		    sizeof(v)) != 0)
			continue;
		for (tok = strtok_r(v, ", \t", &save); tok != NULL;
		    tok = strtok_r(NULL, ", \t", &save))
			if (strcmp(tok, RF_WT_SUBPROTO_SERVER) == 0)
				return 1;
	}
	return 0;
}

/* "Basic base64(id@group:secret)" split into its parts. */
static int
device_credentials(const struct rf_http_head *h, char *id, size_t idlen,
    char *group, size_t grouplen, char *secret, size_t secretlen)
{
	char auth[512], *at;

	group[0] = '\0';
	if (field(h, "authorization", auth, sizeof(auth)) != 0 ||
	    rf_auth_basic_decode(auth, id, idlen, secret, secretlen) != 0)
		return -1;
	if ((at = strchr(id, '@')) != NULL) {
		*at++ = '\0';
		if (strlen(at) >= grouplen)
			return -1;
		strcpy(group, at);
	}
	return 0;
}

/* WEBTUNNEL.md: the reason goes in both headers, for old and new agents. */
static int
refuse_device(struct rf_front *f, int status, const char *reason)
{
	char extra[600];

	snprintf(extra, sizeof(extra), "X-PTTH-Error: %s\r\n"
	    "X-WebTunnel-Error: %s\r\n", reason, reason);
	return send_error(f, status, rf_http_reason(status), reason, extra,
	    0);
}

static void
set_properties(struct rf_front *f, struct rf_tunnel *t)
{
	const struct rf_http_head *h = &f->head;
	char v[1024], name[64], value[1024];
	int i = -1;

	while ((i = rf_http_find(h, "x-ptth-set-property",
	    (size_t)(i + 1))) >= 0) {
		if (rf_http_span_cstring(h, h->fields[i].value, v,
		    sizeof(v)) != 0 || rf_wt_property_parse(v, name,
		    sizeof(name), value, sizeof(value)) != 0) {
			verbose("%s: ignoring a malformed property header",
			    f->conn != NULL ? f->conn->peer : "?");
			continue;
		}
		rf_tunnel_set_property(t, name, value);
	}
}

static int
upgrade(struct rf_front *f)
{
	const struct rf_http_head *h = &f->head;
	char id[128], group[64], secret[256], key[64], accept[32], ka[16];
	const char *peer = f->conn != NULL ? f->conn->peer : "?";
	struct rf_buf b;
	int keepalive = 300;

	if (field(h, "upgrade", key, sizeof(key)) != 0 ||
	    strcasecmp(key, "websocket") != 0 || !wants_tunnel(h))
		return send_error(f, 400, "Bad request", "Device tunnels use "
		    "a WebSocket with subprotocol " RF_WT_SUBPROTO_SERVER ".",
		    NULL, 0);
	if (field(h, "sec-websocket-version", ka, sizeof(ka)) != 0 ||
	    strcmp(ka, "13") != 0)
		return send_error(f, 426, "Upgrade required", "WebSocket "
		    "version 13 is needed.", "Sec-WebSocket-Version: 13\r\n",
		    0);
	if (field(h, "sec-websocket-key", key, sizeof(key)) != 0 ||
	    rf_ws_accept_key(key, accept) != 0)
		return send_error(f, 400, "Bad request", "The WebSocket key "
		    "is missing or malformed.", NULL, 0);
	if (rf_http_request_framing(h) != RF_HTTP_BODY_NONE)
		return send_error(f, 400, "Bad request", "A tunnel upgrade "
		    "carries no body.", NULL, 0);
	if (rf_auth_peer_blocked(peer))
		return refuse_device(f, 429, "Too many failed attempts from "
		    "this address; try again in a minute");
	if (device_credentials(h, id, sizeof(id), group, sizeof(group),
	    secret, sizeof(secret)) != 0) {
		rf_auth_peer_failed(peer, "device", "(malformed credentials)");
		return refuse_device(f, 401, "Missing or malformed device "
		    "credentials");
	}
	if (!rf_auth_device(rf_worker_conf(), rf_worker_registry(), id, group,
	    secret)) {
		logit("device %.63s@%.63s from %s: authentication failed", id,
		    group, peer);
		rf_auth_peer_failed(peer, "device", id);
		return refuse_device(f, 401, "Invalid device credentials");
	}
	if (field(h, "x-webtunnel-keepalive", ka, sizeof(ka)) == 0 &&
	    atoi(ka) > 0 && atoi(ka) <= 86400)
		keepalive = atoi(ka);
	/* Connection: Upgrade as the whole value: stock agents compare it. */
	rf_buf_init(&b, 1024);
	if (rf_buf_putf(&b, "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n"
	    "Sec-WebSocket-Protocol: " RF_WT_SUBPROTO_SERVER "\r\n"
	    "X-WebTunnel-KeepAlive: %d\r\n\r\n", accept, keepalive) != 0 ||
	    send_buf(f, &b, 1) != 0)
		return -1;
	f->t = rf_tunnel_open(f->wsi, id, group, peer, keepalive);
	if (f->t == NULL)
		return -1;
	set_properties(f, f->t);
	rf_tunnel_online(f->t);
	f->state = FRONT_TUNNEL;
	conn_state(f, RF_CONN_TUNNEL);
	rf_ws_asm_init(&f->wsasm, RF_FRONT_WS_MAX);
	return 0;
}

/* ------------------------------------------------------ plain requests -- */

/* A header's value as a C string, or NULL when absent (into buf). */
static const char *
field_or_null(const struct rf_http_head *h, const char *name, char *buf,
    size_t len)
{
	return field(h, name, buf, len) == 0 ? buf : NULL;
}

/* Sends what portal.c answered, with its Location and Set-Cookie. */
static int
send_portal(struct rf_front *f, struct rf_portal_resp *resp, int keep)
{
	char extra[2600];
	struct rf_buf b;
	int r;

	snprintf(extra, sizeof(extra), "%s%s%s%s%s%s",
	    resp->location[0] != '\0' ? "Location: " : "", resp->location,
	    resp->location[0] != '\0' ? "\r\n" : "",
	    resp->set_cookie[0] != '\0' ? "Set-Cookie: " : "",
	    resp->set_cookie, resp->set_cookie[0] != '\0' ? "\r\n" : "");
	f->status = resp->status;
	rf_buf_init(&b, RF_BUF_MAX_DEFAULT * 8);
	r = rf_page_response(&b, resp->status, resp->content_type != NULL ?
	    resp->content_type : "text/html; charset=utf-8", extra,
	    resp->body, resp->body_len, keep, f->head.is_head);
	rf_portal_resp_free(resp);
	if (r != 0) {
		rf_buf_free(&b);
		return -1;
	}
	return send_buf(f, &b, keep);
}

/*
 * The portal's pages (portal.c): the request is turned into a struct
 * rf_portal_req; a POSTed form is read whole first (RF_ERR_AGAIN until it
 * is all there), at most RF_PORTAL_FORM_MAX bytes.
 */
static int
answer_portal(struct rf_front *f, const char *path, int keep)
{
	const struct rf_http_head *h = &f->head;
	char host[256], cookie[4096], origin[512], referer[1024];
	char dev[128], ret[1024];
	struct rf_portal_req req;
	struct rf_portal_resp resp;
	int post = rf_http_span_is(h, h->method, "POST");

	memset(&req, 0, sizeof(req));
	if (post) {
		if (!rf_portal_wants_form(path))
			return send_error(f, 405, "Method not allowed", "This "
			    "address answers GET and HEAD only.",
			    "Allow: GET, HEAD\r\n", 0);
		if (rf_http_request_framing(h) != RF_HTTP_BODY_LENGTH ||
		    h->length > RF_PORTAL_FORM_MAX)
			return send_error(f, 413, "Form too large", "The form "
			    "must come with a Content-Length of at most 4 KiB.",
			    NULL, 0);
		if (rf_buf_len(&f->in) < h->len + h->length)
			return RF_ERR_AGAIN;
		req.body = (const char *)rf_buf_ptr(&f->in) + h->len;
		req.body_len = (size_t)h->length;
	}
	req.post = post;
	req.tls = f->conn != NULL && f->conn->tls;
	req.path = path;
	req.host = field(h, "host", host, sizeof(host)) == 0 ? host : "";
	req.cookie = field_or_null(h, "cookie", cookie, sizeof(cookie));
	req.origin = field_or_null(h, "origin", origin, sizeof(origin));
	req.referer = field_or_null(h, "referer", referer, sizeof(referer));
	req.peer = f->conn != NULL ? f->conn->peer : "-";
	if (rf_http_query_get(h, "device", dev, sizeof(dev)) == 0)
		req.arg_device = dev;
	if (rf_http_query_get(h, "return", ret, sizeof(ret)) == 0)
		req.arg_return = ret;
	memset(&resp, 0, sizeof(resp));
	if (rf_portal_request(rf_worker_conf(), rf_worker_registry(), &req,
	    &resp) != 0)
		return -1;
	return send_portal(f, &resp, keep);
}

static int
answer(struct rf_front *f)
{
	const struct rf_http_head *h = &f->head;
	struct rf_worker_info wi;
	char path[1024], json[512];
	struct rf_buf b;
	int keep, get, n, r;

	rf_worker_info(&wi);
	keep = h->keep_alive && !wi.draining;
	get = rf_http_span_is(h, h->method, "GET") || h->is_head;
	if (rf_http_target_path(h, path, sizeof(path)) != 0)
		return send_error(f, 400, "Bad request", "The request target "
		    "is not a path.", NULL, 0);
	if (rf_portal_handles(path)) {
		f->status = 0;
		r = answer_portal(f, path, keep);
		if (r != RF_ERR_AGAIN)
			debug("%s %.*s %s -> %d", f->conn != NULL ?
			    f->conn->peer : "-", (int)h->method.len,
			    (const char *)h->base + h->method.off, path,
			    f->status);
		return r;
	}
	debug("%s %.*s %s", f->conn != NULL ? f->conn->peer : "-",
	    (int)h->method.len, (const char *)h->base + h->method.off, path);
	if (rf_http_request_framing(h) != RF_HTTP_BODY_NONE)
		keep = 0;	/* a body we do not read ends the connection */
	if (!get)
		return send_error(f, 405, "Method not allowed", "This address "
		    "answers GET and HEAD only.", "Allow: GET, HEAD\r\n", keep);
	if (strcmp(path, "/.reflector/health") != 0)
		return send_error(f, 404, "Not found", "There is nothing at "
		    "this address.", NULL, keep);
	rf_buf_init(&b, 4096);
	if ((n = rf_http_health_json(json, sizeof(json))) < 0 ||
	    rf_page_response(&b, 200, "application/json", NULL, json,
	    (size_t)n, keep, h->is_head) != 0) {
		rf_buf_free(&b);
		return -1;
	}
	return send_buf(f, &b, keep);
}

/* A Host value without its port, in place: "a.b:8443" -> "a.b". */
static char *
host_strip_port(char *host)
{
	char *p;

	if (host[0] == '[') {
		if ((p = strchr(host, ']')) != NULL)
			p[1] = '\0';
	} else if ((p = strrchr(host, ':')) != NULL)
		*p = '\0';
	return host;
}

/*
 * A connection reaches this module only when routing found no device
 * host in its SNI or first Host (proxy.c has those).  A request naming a
 * device host here came on a connection made for another name: 421, so
 * that a browser reusing it cannot reach a device around its routing.
 */
static int
misdirected(struct rf_front *f)
{
	char host[256], dev[64];

	if (field(&f->head, "host", host, sizeof(host)) != 0 ||
	    !rf_host_device(host_strip_port(host), rf_worker_conf()->domain,
	    dev, sizeof(dev)))
		return 0;
	send_error(f, 421, "Misdirected request", "This connection belongs "
	    "to another host.", NULL, 0);
	return 1;
}

static int
on_head(struct rf_front *f)
{
	const struct rf_http_head *h = &f->head;
	int r;

	if (misdirected(f))
		r = 0;
	else if ((h->conn & RF_HTTP_CONN_UPGRADE) && h->has_upgrade)
		r = upgrade(f);
	else
		r = answer(f);
	if (r == RF_ERR_AGAIN)
		return r;	/* the head stays parsed; more body to come */
	rf_buf_consume(&f->in, h->len + (rf_http_span_is(h, h->method,
	    "POST") && h->has_length && rf_buf_len(&f->in) >= h->len +
	    h->length ? (size_t)h->length : 0));
	rf_http_head_init(&f->head, RF_HTTP_REQUEST,
	    (size_t)rf_worker_args()->header_max);
	return r;
}

/* Parses what has come of request heads, answering each complete one. */
static int
read_heads(struct rf_front *f)
{
	const struct rf_conf *conf = rf_worker_conf();
	int r;

	while (f->state == FRONT_HEAD && rf_buf_len(&f->in) > 0) {
		conn_state(f, RF_CONN_REQUEST);
		r = rf_http_head_parse(&f->head, rf_buf_ptr(&f->in),
		    rf_buf_len(&f->in));
		if (r == RF_ERR_SHORT) {
			lws_set_timeout(f->wsi, PENDING_TIMEOUT_USER_OK,
			    conf->handshake_timeout);
			return 0;
		}
		if (r != 0) {
			verbose("%s: bad request: %s",
			    f->conn != NULL ? f->conn->peer : "-",
			    f->head.error != NULL ? f->head.error : "?");
			return send_error(f, f->head.error_status ?
			    f->head.error_status : 400, "Bad request",
			    f->head.error != NULL ? f->head.error :
			    "The request is malformed.", NULL, 0);
		}
		if ((r = on_head(f)) == RF_ERR_AGAIN)
			return 0;
		if (r != 0)
			return -1;
	}
	if (f->state == FRONT_HEAD) {
		conn_state(f, RF_CONN_IDLE);
		lws_set_timeout(f->wsi, PENDING_TIMEOUT_USER_OK,
		    conf->keepalive_timeout);
	}
	return 0;
}

/* ------------------------------------------------------- WebSocket rx -- */

static int
ws_send(struct rf_front *f, int opcode, const void *p, size_t len)
{
	unsigned char hdr[14];
	struct rf_out *o;
	size_t hl;

	hl = rf_ws_frame_header(hdr, 1, opcode, len, NULL);
	if ((o = malloc(sizeof(*o) + LWS_PRE + hl + len)) == NULL)
		return RF_ERR_NOMEM;
	o->len = hl + len;
	memcpy(o->data + LWS_PRE, hdr, hl);
	if (len > 0)
		memcpy(o->data + LWS_PRE + hl, p, len);
	STAILQ_INSERT_TAIL(&f->outq, o, entry);
	lws_callback_on_writable(f->wsi);
	return 0;
}

/* One message or control frame from the agent: 0, or -1 to close. */
static int
ws_message(struct rf_front *f, const struct rf_ws_msg *m)
{
	switch (m->opcode) {
	case RF_WS_PING:
		return ws_send(f, RF_WS_PONG, m->data, m->len);
	case RF_WS_PONG:
		return 0;
	case RF_WS_CLOSE:
		/* Echo the status code, as RFC 6455 §5.5.1 asks, then close. */
		ws_send(f, RF_WS_CLOSE, m->data, m->len >= 2 ? 2 : 0);
		f->state = FRONT_CLOSING;
		return 0;
	case RF_WS_BINARY:
		return rf_tunnel_message(f->t, m->data, m->len);
	default:
		logit("device tunnel sent a %s message; closing it",
		    rf_ws_opcode_name(m->opcode));
		return -1;
	}
}

static int
read_frames(struct rf_front *f)
{
	struct rf_ws_frame wf;
	struct rf_ws_msg m;
	int r;

	while (f->state == FRONT_TUNNEL) {
		r = rf_ws_frame_decode(&f->in, 1, RF_FRONT_WS_MAX, &wf);
		if (r == RF_ERR_SHORT)
			return 0;
		if (r == 0 && (r = rf_ws_asm_add(&f->wsasm, &wf, &m)) ==
		    RF_ERR_AGAIN)
			continue;
		if (r != 0) {
			logit("device tunnel: %s; closing it", wf.why != NULL ?
			    wf.why : f->wsasm.why != NULL ? f->wsasm.why :
			    rf_strerror(r));
			return -1;
		}
		if (ws_message(f, &m) != 0)
			return -1;
	}
	return 0;
}

/* --------------------------------------------------------------- lws -- */

static int
writeable(struct rf_front *f)
{
	struct rf_out *o;

	while ((o = STAILQ_FIRST(&f->outq)) != NULL) {
		if (lws_write(f->wsi, o->data + LWS_PRE, o->len,
		    LWS_WRITE_RAW) < (int)o->len)
			return -1;
		STAILQ_REMOVE_HEAD(&f->outq, entry);
		free(o);
		if (lws_send_pipe_choked(f->wsi)) {
			lws_callback_on_writable(f->wsi);
			return 0;
		}
	}
	if (f->state == FRONT_CLOSING) {
		if (lws_partial_buffered(f->wsi)) {
			lws_callback_on_writable(f->wsi);
			return 0;
		}
		return -1;
	}
	if (f->t != NULL)
		return rf_tunnel_write(f->t);
	return 0;
}

static void
adopted(struct lws *wsi, struct rf_front *f)
{
	memset(f, 0, sizeof(*f));
	f->wsi = wsi;
	f->conn = lws_get_opaque_user_data(wsi);
	STAILQ_INIT(&f->outq);
	rf_buf_init(&f->in, RF_FRONT_WS_MAX + 65536);
	rf_http_head_init(&f->head, RF_HTTP_REQUEST,
	    (size_t)rf_worker_args()->header_max);
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK,
	    rf_worker_conf()->handshake_timeout);
}

static void
gone(struct rf_front *f)
{
	struct rf_out *o;

	if (f->t != NULL) {
		rf_tunnel_gone(f->t);
		f->t = NULL;
	}
	while ((o = STAILQ_FIRST(&f->outq)) != NULL) {
		STAILQ_REMOVE_HEAD(&f->outq, entry);
		free(o);
	}
	rf_buf_free(&f->in);
	if (f->state == FRONT_TUNNEL || f->wsasm.max_size != 0)
		rf_ws_asm_free(&f->wsasm);
}

int
rf_front_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len)
{
	struct rf_front *f = user;

	switch (reason) {
	case LWS_CALLBACK_RAW_ADOPT:
		adopted(wsi, f);
		return 0;
	case LWS_CALLBACK_RAW_RX:
		if (f->state == FRONT_CLOSING)
			return 0;
		if (rf_buf_put(&f->in, in, len) != 0) {
			verbose("%s: more unread input than we hold; closing",
			    f->conn != NULL ? f->conn->peer : "-");
			return -1;
		}
		if (f->state == FRONT_HEAD && read_heads(f) != 0)
			return -1;
		if (f->state == FRONT_TUNNEL && read_frames(f) != 0)
			return -1;
		return 0;
	case LWS_CALLBACK_RAW_WRITEABLE:
		return writeable(f);
	case LWS_CALLBACK_RAW_CLOSE:
		gone(f);
		return 0;
	default:
		return 0;
	}
}

/* The worker is draining: an idle connection closes now. */
void
rf_front_drain(struct lws *wsi)
{
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

void
rf_front_ws_close(struct lws *wsi, uint16_t code, const char *reason)
{
	struct rf_front *f = lws_wsi_user(wsi);
	unsigned char p[RF_WS_CONTROL_MAX];
	size_t n = 0;

	if (f == NULL || f->state != FRONT_TUNNEL)
		return;
	if (rf_ws_close_payload(p, code, reason, &n) != 0)
		n = 0;
	ws_send(f, RF_WS_CLOSE, p, n);
	f->state = FRONT_CLOSING;
}
