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
 *
 * CONNECT tunnels (WEBTUNNEL.md §1).  "CONNECT <device>.<domain>:<port>"
 * with Proxy-Authorization (Basic, or Bearer with an API token) is
 * checked here like a client tunnel (401 becomes 407 with
 * Proxy-Authenticate; 403 for a device or port not granted, 404 unknown,
 * 503 offline), then the device's channel to the port is opened and
 * "200 Connection established" sent once the agent confirms it (502 or
 * 504 if it refuses); from then on the connection is a raw byte stream
 * to the channel (state CONNECT).  The device is known only now, after
 * TLS, and its tunnel may be held by another worker: routing by SNI
 * cannot help, the SNI named the portal.  So:
 *
 *   - the device's tunnel is here: the connection itself goes to CONNECT;
 *   - another worker owns it (routing map): this worker makes an AF_UNIX
 *     SOCK_STREAM socketpair, sends one end to the owner's inbox as
 *     RF_MSG_CONNECT with struct rf_connect_meta (device, port, user,
 *     peer), adopts the other end as a plain raw socket and relays bytes
 *     between it and the TLS connection (state RELAY on both).  The owner
 *     adopts its end as a plain raw socket in state CONNECT, and from then
 *     on does what it does for its own connections; its answer (200, 502,
 *     503) travels back through the relay as plaintext.
 *
 * Races of the relay.  Ownership may move between our lookup and the
 * owner reading its inbox (the device reconnected elsewhere, or went
 * offline): the owner finds no tunnel and answers 503 through the
 * socketpair; a CONNECT is relayed at most once, never passed on again.
 * An owner that dies leaves its message in the inbox (the master holds
 * the inbox sockets): its successor answers 503 the same way; an owner
 * that dies while relaying closes its end, and EOF there closes the
 * client after what is queued.  Our own death closes our end, and the
 * owner aborts the channel at EOF.  A full inbox is not waited for: 503.
 * The owner trusts the checks done here (both workers run the same
 * configuration but for a reload in between, which can only let through
 * a CONNECT decided a moment before the reload).  Bytes the client sends
 * before the 200 are relayed and held by the channel until OPEN_CONFIRM
 * (dropped if it fails).  Flow control: each end stops reading when the
 * other's queue is above FRONT_RELAY_HIGH and resumes below
 * FRONT_RELAY_LOW, so a slow side backs up through the socketpair into
 * the channel (rf_channel_write AGAIN) or the client's TCP window.  Raw
 * sockets cannot half-close in lws, so either side closing ends both,
 * after what was queued for the other has gone out; the device's CLOSE
 * does the same after its bytes.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "auth.h"
#include "buf.h"
#include "conf.h"
#include "db.h"
#include "err.h"
#include "evloop.h"
#include "front.h"
#include "http.h"
#include "log.h"
#include "msg.h"
#include "pages.h"
#include "portal.h"
#include "peek.h"
#include "reflectord.h"
#include "route.h"
#include "tlsrec.h"
#include "tunnel.h"
#include "worker.h"
#include "ws.h"
#include "wt.h"

#define RF_FRONT_WS_MAX		(64 * 1024 + 16)	/* one frame */
#define FRONT_RELAY_HIGH	(512 * 1024)	/* stop reading the other */
#define FRONT_RELAY_LOW		(128 * 1024)	/* read it again */

enum front_state {
	FRONT_HEAD = 0,
	FRONT_TUNNEL,
	FRONT_CLOSING,
	FRONT_CONNECT,		/* CONNECT: bytes to a channel */
	FRONT_RELAY,		/* bytes to the other end of a relay */
};

struct rf_out {
	STAILQ_ENTRY(rf_out)	 entry;
	size_t			 len;
	size_t			 off;		/* written so far */
	unsigned char		 data[];	/* LWS_PRE, then len bytes */
};

struct rf_front {
	struct lws		*wsi;
	struct rf_conn		*conn;
	enum front_state	 state;
	struct rf_buf		 in;
	struct rf_http_head	*head;		/* HEAD and CLOSING only */
	STAILQ_HEAD(, rf_out)	 outq;
	struct rf_evflush	 flush;		/* writes, end of iteration */
	struct rf_tunnel	*t;
	struct rf_ws_asm	 wsasm;		/* fragmented WS messages */
	int			 status;	/* of the last response, for logs */
	size_t			 outq_bytes;	/* bytes in outq */
	int			 rx_off;	/* lws reads no more */
	int			 dead;		/* a flush failed: close */
	/* A tunnel whose TLS records are ours (tlsrec.h), or NULL. */
	struct rf_tlsrec	*rec;
	int			 rec_never;	/* OpenSSL keeps this one */

	/* CONNECT and RELAY. */
	struct rf_front		*relay;	/* RELAY: the other end */
	struct rf_channel	*ch;		/* CONNECT */
	int			 ch_opened;
	int			 ch_full;
	int			 ch_paused;
	struct front_cx		*cx;	/* from a CONNECT's head on */
};

/*
 * What a CONNECT is for, and its counts: allocated only for one, so that
 * the connections that are none (device tunnels, above all) do not carry
 * it.  The end of a relay that faces the client has it; the other end,
 * on the socketpair, has none.
 */
struct front_cx {
	struct rf_connect_meta	 m;	/* port, device, user, peer */
	int			 relayed;	/* over a socketpair */
	uint32_t		 relay_slot;	/* the other worker */
	unsigned long long	 up, down;
	int			 log;		/* log its end */
};

size_t
rf_front_session_size(void)
{
	return sizeof(struct rf_front);
}

static int	writeable(struct rf_front *);
static int	front_more(struct rf_front *);
static int	rec_due(const struct rf_front *);
static void	rec_take(struct rf_front *);

/* What an iteration queued goes out at its end (evloop.h). */
static void
flush(struct rf_evflush *fl)
{
	struct rf_front *f = lws_container_of(fl, struct rf_front, flush);

	/* Outside a callback of its own, f closes from its WRITEABLE. */
	if (front_more(f) != 0 || writeable(f) != 0) {
		f->dead = 1;
		lws_callback_on_writable(f->wsi);
		return;
	}
	if (rec_due(f))
		rec_take(f);
}

static void
want_write(struct rf_front *f)
{
	rf_evloop_flush_later(rf_worker_loop(), &f->flush, flush);
}

void
rf_front_want_write(struct lws *wsi)
{
	struct rf_front *f = lws_wsi_user(wsi);

	if (f != NULL)
		want_write(f);
}

static int
queue_out(struct rf_front *f, const void *p, size_t len)
{
	struct rf_out *o;

	if ((o = malloc(sizeof(*o) + LWS_PRE + len)) == NULL)
		return RF_ERR_NOMEM;
	o->len = len;
	o->off = 0;
	rf_copy(o->data + LWS_PRE, p, len);
	STAILQ_INSERT_TAIL(&f->outq, o, entry);
	f->outq_bytes += len;
	want_write(f);
	return 0;
}

/*
 * The request head: 1.7 KiB of field table, allocated while the connection
 * reads heads and freed once it is a tunnel or a byte stream, so that an
 * idle device tunnel does not carry it (the 20,000-device goal).
 */
static int
head_alloc(struct rf_front *f)
{
	if (f->head == NULL && (f->head = malloc(sizeof(*f->head))) == NULL)
		return RF_ERR_NOMEM;
	rf_http_head_init(f->head, RF_HTTP_REQUEST,
	    (size_t)rf_worker_args()->header_max);
	return 0;
}

static void
head_release(struct rf_front *f)
{
	free(f->head);
	f->head = NULL;
}

/* Whether the request answered now was a HEAD; none after the head is gone. */
static int
req_is_head(const struct rf_front *f)
{
	return f->head != NULL && f->head->is_head;
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
	    req_is_head(f)) != 0) {
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
	const struct rf_http_head *h = f->head;
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

/*
 * Our agent announces the extension (reflector-webtunnel(7)); a stock one
 * never does.  1 and the answer's header line in line when both sides
 * will use it; 0 and an empty line otherwise.  A garbled announcement
 * means the plain protocol, never a failed handshake.
 */
static int
tunnel_extension(const struct rf_http_head *h, const char *peer,
    struct rf_wt_ext *theirs, char *line, size_t len)
{
	struct rf_wt_ext ours;
	char v[128];
	int have;

	have = field(h, "x-reflector-webtunnel-ext", v, sizeof(v)) == 0;
	rf_tunnel_ext_ours(&ours);
	if (rf_wt_ext_answer(have ? v : NULL, &ours, theirs, line, len) == 0)
		return 1;
	if (have)
		verbose("%s: unusable %s header \"%.60s\": plain protocol",
		    peer, RF_WT_EXT_HEADER, v);
	return 0;
}

static int
upgrade(struct rf_front *f)
{
	const struct rf_http_head *h = f->head;
	char id[128], group[64], secret[256], key[64], accept[32], ka[16];
	char extline[128];
	const char *peer = f->conn != NULL ? f->conn->peer : "?";
	struct rf_wt_ext ext;
	struct rf_buf b;
	int keepalive = 300, use_ext;

	if (field(h, "upgrade", key, sizeof(key)) != 0 ||
	    strcasecmp(key, "websocket") != 0 ||
	    !rf_http_list_has(h, "sec-websocket-protocol",
	    RF_WT_SUBPROTO_SERVER))
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
	use_ext = tunnel_extension(h, peer, &ext, extline, sizeof(extline));
	/* Connection: Upgrade as the whole value: stock agents compare it. */
	rf_buf_init(&b, 1024);
	if (rf_buf_putf(&b, "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n"
	    "Sec-WebSocket-Protocol: " RF_WT_SUBPROTO_SERVER "\r\n"
	    "X-WebTunnel-KeepAlive: %d\r\n%s\r\n", accept, keepalive,
	    extline) != 0 || send_buf(f, &b, 1) != 0)
		return -1;
	f->t = rf_tunnel_open(f->wsi, id, group, peer, keepalive,
	    use_ext ? &ext : NULL);
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
	    resp->body, resp->body_len, keep, req_is_head(f));
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
	const struct rf_http_head *h = f->head;
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
	const struct rf_http_head *h = f->head;
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

/* ---------------------------------------------------- CONNECT tunnels -- */

static void	cx_opened(void *);
static void	cx_failed(void *, uint16_t);
static int	cx_data(void *, const void *, size_t);
static void	cx_eof(void *);
static void	cx_closed(void *, uint16_t);
static void	cx_writable(void *);

static const struct rf_channel_ops cx_ops = {
	cx_opened,
	cx_failed,
	cx_data,
	cx_eof,
	cx_closed,
	cx_writable,
};

/* Reading on or off; on, what OpenSSL holds is read at the end. */
static void
rx_set(struct rf_front *f, int off)
{
	if (f->rx_off == off)
		return;
	f->rx_off = off;
	lws_rx_flow_control(f->wsi, !off);
	if (!off)
		want_write(f);
}

void
rf_front_rx_flow(struct lws *wsi, int on)
{
	struct rf_front *f = lws_wsi_user(wsi);

	if (f != NULL)
		rx_set(f, !on);
}

/* Ends the connection once what is queued has gone out. */
static void
closing(struct rf_front *f)
{
	f->state = FRONT_CLOSING;
	want_write(f);
}

/* Logs "CONNECT to DEVICE:PORT for "USER" from PEER", then fmt's text. */
static void	cx_log(const struct rf_front *, enum rf_log_level,
		    const char *, ...) __attribute__((format(printf, 3, 4)));

static void
cx_log(const struct rf_front *f, enum rf_log_level level, const char *fmt,
    ...)
{
	const struct rf_connect_meta *m = &f->cx->m;
	char what[256];
	va_list ap;

	if (!rf_log_enabled(level))
		return;
	va_start(ap, fmt);
	(void)vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	rf_log(level, __func__, 0, "CONNECT to %s:%u for \"%s\" from %s%s",
	    m->device[0] != '\0' ? m->device : "?", m->port, m->user, m->peer,
	    what);
}

/*
 * A CONNECT refused: a short text answer a tool can show, the reason in
 * X-PTTH-Error as well; logged with who, where and why.
 */
static int
connect_refuse(struct rf_front *f, int status, const char *why,
    const char *extra)
{
	struct rf_buf b;
	int r;

	cx_log(f, RF_LOG_INFO, " refused: %d %s", status, why);
	f->status = status;
	rf_buf_init(&b, 4096);
	r = rf_buf_putf(&b, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; "
	    "charset=utf-8\r\nContent-Length: %zu\r\nConnection: close\r\n"
	    "X-PTTH-Error: %s\r\n%s\r\n%s\n", status, status == 407 ?
	    "Proxy Authentication Required" : rf_http_reason(status),
	    strlen(why) + 1, why, extra != NULL ? extra : "", why);
	if (r != 0) {
		rf_buf_free(&b);
		return -1;
	}
	r = send_buf(f, &b, 0);
	f->ch = NULL;
	want_write(f);
	return r;
}

/* The device's tunnel is here: its channel to the port. */
static int
connect_open(struct rf_front *f)
{
	struct rf_tunnel *t;

	f->state = FRONT_CONNECT;
	conn_state(f, RF_CONN_TUNNEL);
	lws_set_timeout(f->wsi, NO_PENDING_TIMEOUT, 0);
	if ((t = rf_tunnel_find(f->cx->m.device)) == NULL)
		return connect_refuse(f, 503, "Device offline: the device has "
		    "no tunnel to the reflector now", NULL);
	if (rf_channel_open(t, (uint16_t)f->cx->m.port, &cx_ops, f,
	    &f->ch) != 0) {
		f->ch = NULL;
		return connect_refuse(f, 503, "the device's tunnel has no free "
		    "channel", NULL);
	}
	if (f->cx->relayed)
		cx_log(f, RF_LOG_INFO, ", relayed by worker %u: opening",
		    f->cx->relay_slot);
	else
		cx_log(f, RF_LOG_INFO, ": opening here");
	return 0;
}

static void
cx_opened(void *arg)
{
	struct rf_front *f = arg;
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";

	f->ch_opened = 1;
	f->cx->log = 1;
	f->status = 200;
	cx_log(f, RF_LOG_VERBOSE, ": established");
	if (queue_out(f, ok, sizeof(ok) - 1) != 0) {
		rf_channel_abort(f->ch);
		f->ch = NULL;
		closing(f);
	}
}

static void
cx_failed(void *arg, uint16_t err)
{
	struct rf_front *f = arg;
	char why[128];

	f->ch = NULL;
	switch (err) {
	case RF_WT_ERR_NOT_FORWARDED:
		snprintf(why, sizeof(why), "port %u not forwarded by the "
		    "device", f->cx->m.port);
		break;
	case RF_WT_ERR_CONN_REFUSED:
		snprintf(why, sizeof(why), "port %u refused the connection on "
		    "the device", f->cx->m.port);
		break;
	case RF_WT_ERR_TIMEOUT:
		snprintf(why, sizeof(why), "port %u: the device did not answer "
		    "in time", f->cx->m.port);
		break;
	default:
		snprintf(why, sizeof(why), "port %u: the device could not "
		    "connect (%s)", f->cx->m.port, rf_wt_error_name(err));
		break;
	}
	connect_refuse(f, err == RF_WT_ERR_TIMEOUT ? 504 : 502, why, NULL);
}

static int
cx_data(void *arg, const void *p, size_t len)
{
	struct rf_front *f = arg;

	if (f->state != FRONT_CONNECT)
		return 0;
	f->cx->down += len;
	if (queue_out(f, p, len) != 0) {
		f->ch = NULL;
		closing(f);
		return -1;
	}
	if (!f->ch_paused && f->outq_bytes >= FRONT_RELAY_HIGH) {
		rf_channel_pause(f->ch, 1);
		f->ch_paused = 1;
	}
	return 0;
}

/* The device will send no more: ours goes out, then the end. */
static void
cx_eof(void *arg)
{
	struct rf_front *f = arg;
	struct rf_channel *ch = f->ch;

	closing(f);
	/* Both sides closed: tunnel.c frees it and calls cx_closed. */
	if (ch != NULL)
		rf_channel_shutdown(ch);
	if (f->ch != NULL) {
		rf_channel_abort(f->ch);
		f->ch = NULL;
	}
}

static void
cx_closed(void *arg, uint16_t err)
{
	struct rf_front *f = arg;

	f->ch = NULL;
	if (f->state != FRONT_CONNECT)
		return;
	if (err != RF_WT_ERR_NONE)
		cx_log(f, RF_LOG_INFO, ": %s",
		    rf_tunnel_find(f->cx->m.device) == NULL ?
		    "the device went offline" : rf_wt_error_name(err));
	closing(f);
}

static void
cx_writable(void *arg)
{
	struct rf_front *f = arg;

	f->ch_full = 0;
	if (f->state == FRONT_CONNECT)
		rx_set(f, 0);
}

/* Bytes read from a CONNECT or RELAY connection: 0, or -1 to close it. */
static int
stream_rx(struct rf_front *f, const void *p, size_t len)
{
	int r;

	if (f->state == FRONT_RELAY) {
		if (f->relay == NULL)
			return 0;
		/* Counted on the client's end: up from it, down to it. */
		if (f->cx != NULL)
			f->cx->up += len;
		else
			f->relay->cx->down += len;
		if (queue_out(f->relay, p, len) != 0)
			return -1;
		if (f->relay->outq_bytes >= FRONT_RELAY_HIGH)
			rx_set(f, 1);
		return 0;
	}
	if (f->ch == NULL)
		return 0;	/* refused or ended: what comes is dropped */
	f->cx->up += len;
	r = rf_channel_write(f->ch, p, len);
	if (r == RF_ERR_AGAIN) {
		f->ch_full = 1;
		rx_set(f, 1);
	} else if (r != 0) {
		rf_channel_abort(f->ch);
		f->ch = NULL;
		closing(f);
	}
	return 0;
}

/* Our queue went out: the reader feeding it may go on. */
static void
stream_drained(struct rf_front *f)
{
	if (f->outq_bytes >= FRONT_RELAY_LOW)
		return;
	if (f->state == FRONT_RELAY && f->relay != NULL &&
	    f->relay->state == FRONT_RELAY)
		rx_set(f->relay, 0);
	if (f->ch != NULL && f->ch_paused) {
		rf_channel_pause(f->ch, 0);
		f->ch_paused = 0;
	}
}

/* The connection is gone: its channel, or the other end of its relay. */
static void
stream_gone(struct rf_front *f)
{
	struct rf_front *o = f->relay;

	if (f->ch != NULL) {
		rf_channel_abort(f->ch);
		f->ch = NULL;
	}
	if (o != NULL) {
		f->relay = NULL;
		o->relay = NULL;
		if (o->state == FRONT_RELAY)
			closing(o);
	}
	if (f->cx != NULL && f->cx->log)
		cx_log(f, RF_LOG_INFO, " closed (%llu bytes up, %llu down)",
		    f->cx->up, f->cx->down);
}

/*
 * The owner is another worker: a socketpair, one end to its inbox with
 * the metadata, the other adopted here and relayed to the client.
 */
static int
connect_relay(struct rf_front *f, uint32_t slot)
{
	const struct rf_worker_args *a = rf_worker_args();
	struct rf_connect_meta m;
	struct rf_front *o;
	struct lws *wsi;
	int sv[2], r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1) {
		error("socketpair: %s", strerror(errno));
		return connect_refuse(f, 503, "the reflector is out of "
		    "resources; try again", NULL);
	}
	m = f->cx->m;
	m.version = RF_CONNECT_VERSION;
	m.from_slot = (uint32_t)a->slot;
	r = rf_msg_send_once(a->inbox_write[slot], RF_MSG_CONNECT,
	    (uint32_t)a->slot, 0, sv[1], &m, sizeof(m), 0);
	close(sv[1]);
	if (r != 0) {
		close(sv[0]);
		logit("cannot pass a CONNECT to worker %u: %s", slot,
		    rf_strerror(r));
		return connect_refuse(f, 503, "the device's worker is busy; "
		    "try again", NULL);
	}
	/* From here the owner answers, through the relay. */
	if ((wsi = rf_worker_adopt_plain(sv[0], f->cx->m.peer,
	    f->cx->m.device)) == NULL || (o = lws_wsi_user(wsi)) == NULL)
		return -1;
	o->state = FRONT_RELAY;
	head_release(o);
	o->relay = f;
	f->relay = o;
	f->cx->log = 1;		/* the client's end logs, not ours */
	f->cx->relay_slot = slot;
	f->state = FRONT_RELAY;
	conn_state(f, RF_CONN_TUNNEL);
	conn_state(o, RF_CONN_TUNNEL);
	lws_set_timeout(f->wsi, NO_PENDING_TIMEOUT, 0);
	lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
	cx_log(f, RF_LOG_INFO, " relayed to worker %u", slot);
	return 0;
}

/* "host:port" of a CONNECT: the device and the port, else -1. */
static int
connect_target(struct rf_front *f)
{
	const struct rf_http_head *h = f->head;
	char target[300], *colon;

	if (rf_http_span_cstring(h, h->target, target, sizeof(target)) != 0 ||
	    (colon = strrchr(target, ':')) == NULL)
		return -1;
	*colon++ = '\0';
	if (strspn(colon, "0123456789") != strlen(colon) ||
	    (f->cx->m.port = rf_conf_port_parse(colon)) == 0)
		return -1;
	return rf_host_device(target, rf_worker_conf()->domain, f->cx->m.device,
	    sizeof(f->cx->m.device)) ? 0 : -1;
}

/* The slot owning device in the routing map, or -1. */
static int
owner_slot(const char *device)
{
	struct rf_owner_rec rec;
	struct rf_db *db = rf_worker_routing();

	if (db == NULL || rf_db_owner_get(db, device, &rec) != 0 ||
	    rec.slot >= (uint32_t)rf_worker_args()->nworkers)
		return -1;
	return (int)rec.slot;
}

static int
connect_request(struct rf_front *f)
{
	const struct rf_conf *conf = rf_worker_conf();
	const struct rf_http_head *h = f->head;
	const struct rf_conf_user *u;
	struct rf_device_info info;
	enum rf_auth_result ar;
	char authz[1024], why[128];
	struct rf_connect_meta *m;
	int slot, i;

	if (f->cx == NULL && (f->cx = calloc(1, sizeof(*f->cx))) == NULL) {
		error("out of memory for a CONNECT");
		return -1;
	}
	m = &f->cx->m;
	snprintf(m->peer, sizeof(m->peer), "%s", f->conn != NULL ?
	    f->conn->peer : "-");
	if (connect_target(f) != 0)
		return connect_refuse(f, 400, "CONNECT goes to "
		    "<device>.<domain>:<port> only", NULL);
	if (rf_http_request_framing(h) != RF_HTTP_BODY_NONE)
		return connect_refuse(f, 400, "a CONNECT carries no body",
		    NULL);
	if (rf_auth_peer_blocked(m->peer))
		return connect_refuse(f, 429, "too many failed attempts from "
		    "your address: wait a minute", "Retry-After: 60\r\n");
	authz[0] = '\0';
	if (rf_http_count(h, "proxy-authorization") > 1)
		return connect_refuse(f, 400, "more than one "
		    "Proxy-Authorization header", NULL);
	if ((i = rf_http_find(h, "proxy-authorization", 0)) >= 0 &&
	    rf_http_span_cstring(h, h->fields[i].value, authz,
	    sizeof(authz)) != 0)
		return connect_refuse(f, 400, "the Proxy-Authorization header "
		    "is too long", NULL);
	ar = rf_auth_tool(conf, rf_worker_registry(), authz, m->user,
	    sizeof(m->user), &u);
	explicit_bzero(authz, sizeof(authz));
	if (ar != RF_AUTH_OK) {
		if (ar == RF_AUTH_DENIED)
			rf_auth_peer_failed(m->peer, "proxy", m->user);
		return connect_refuse(f, 407, ar == RF_AUTH_DENIED ?
		    "wrong credentials" : "credentials are needed: Basic, or "
		    "Bearer with a token", "Proxy-Authenticate: Basic "
		    "realm=\"reflector\", charset=\"UTF-8\"\r\n");
	}
	if (!rf_auth_device_find(conf, rf_worker_registry(), m->device,
	    &info))
		return connect_refuse(f, 404, "Unknown device: no device of "
		    "that name is known to this reflector", NULL);
	explicit_bzero(&info, sizeof(info));
	if (!rf_auth_user_may(u, m->device))
		return connect_refuse(f, 403, "you may not reach this device",
		    NULL);
	if (!rf_auth_port_may(conf, u, m->device, m->port)) {
		snprintf(why, sizeof(why), "port %u of this device is not "
		    "open to you", m->port);
		return connect_refuse(f, 403, why, NULL);
	}
	if (rf_tunnel_find(m->device) != NULL)
		return connect_open(f);
	if ((slot = owner_slot(m->device)) < 0 ||
	    slot == rf_worker_args()->slot)
		return connect_refuse(f, 503, "Device offline: the device has "
		    "no tunnel to the reflector now", NULL);
	return connect_relay(f, (uint32_t)slot);
}

void
rf_front_connect_adopt(int fd, const void *data, size_t len,
    uint32_t from_slot)
{
	struct rf_connect_meta m;
	struct rf_front *f;
	struct lws *wsi;

	if (fd == -1 || len != sizeof(m)) {
		/* Our own worker sent it: a bug, not an attack. */
		fatal("malformed CONNECT hand-off from worker %u", from_slot);
	}
	memcpy(&m, data, sizeof(m));
	m.device[sizeof(m.device) - 1] = '\0';
	m.user[sizeof(m.user) - 1] = '\0';
	m.peer[sizeof(m.peer) - 1] = '\0';
	if (m.version != RF_CONNECT_VERSION || m.port == 0 || m.port > 65535)
		fatal("CONNECT hand-off of version %u from worker %u",
		    m.version, from_slot);
	if ((wsi = rf_worker_adopt_plain(fd, m.peer, m.device)) == NULL ||
	    (f = lws_wsi_user(wsi)) == NULL)
		return;
	if ((f->cx = calloc(1, sizeof(*f->cx))) == NULL) {
		error("out of memory for a relayed CONNECT");
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK,
		    LWS_TO_KILL_ASYNC);
		return;
	}
	f->cx->m = m;
	f->cx->relayed = 1;
	f->cx->relay_slot = m.from_slot;
	if (connect_open(f) != 0)
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK,
		    LWS_TO_KILL_ASYNC);
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

	if (field(f->head, "host", host, sizeof(host)) != 0 ||
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
	const struct rf_http_head *h = f->head;
	int r;

	if (h->is_connect)
		r = connect_request(f);
	else if (misdirected(f))
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
	if (f->state == FRONT_HEAD)
		return head_alloc(f) != 0 ? -1 : r;
	if (f->state != FRONT_CLOSING)
		head_release(f);
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
		r = rf_http_head_parse(f->head, rf_buf_ptr(&f->in),
		    rf_buf_len(&f->in));
		if (r == RF_ERR_SHORT) {
			lws_set_timeout(f->wsi, PENDING_TIMEOUT_USER_OK,
			    conf->handshake_timeout);
			return 0;
		}
		if (r != 0) {
			verbose("%s: bad request: %s",
			    f->conn != NULL ? f->conn->peer : "-",
			    f->head->error != NULL ? f->head->error : "?");
			return send_error(f, f->head->error_status ?
			    f->head->error_status : 400, "Bad request",
			    f->head->error != NULL ? f->head->error :
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
	o->off = 0;
	memcpy(o->data + LWS_PRE, hdr, hl);
	if (len > 0)
		rf_copy(o->data + LWS_PRE + hl, p, len);
	STAILQ_INSERT_TAIL(&f->outq, o, entry);
	f->outq_bytes += o->len;
	want_write(f);
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

/* ---------------------------------------------------- own TLS records -- */

/*
 * A device tunnel on TLS 1.3, or on TLS 1.2 with an AEAD suite, leaves
 * OpenSSL once it is online and quiet, and its records are read and
 * written here by common/tlsrec.c (which says why: about 12 KB of
 * OpenSSL state per idle device).
 *
 * When.  At the end of an iteration (flush), the only place a connection
 * can be closed and replaced synchronously: the tunnel online, nothing
 * queued (ours, the tunnel's, lws's), reading on, the worker not
 * draining, tls.own_records on.  OpenSSL must hold nothing either, which
 * rf_tlsrec_take checks; one that cannot be taken at all (a CBC suite)
 * is marked and never tried again.
 *
 * How.  The SSL's socket BIO is swapped for a memory BIO, and lws closes
 * the wsi: a raw socket gets no SSL_shutdown and no shutdown(2) from lws,
 * and the descriptor it would close is now the memory BIO's (none), so
 * the SSL is freed and the socket is untouched.  The same descriptor is
 * adopted at once as a plain raw socket, and the connection's state
 * (this struct but its lws links, the tunnel's wsi) moves to the new wsi
 * before anything else runs: nothing sees a gap.  libev keeps the
 * descriptor's epoll registration across the two watchers, as it does
 * whenever a watcher on a live descriptor stops and another starts.
 *
 * Writing.  front_send seals at most FRONT_SEAL_MAX at a time into
 * rec->out, several records for one write(2), and writes what the socket
 * takes; the rest goes first next time, and nothing new is taken until it
 * has gone (the rule OpenSSL follows, evloop.h).  A KeyUpdate the agent
 * asks for waits there the same way.  A closing tunnel sends close_notify
 * after its last frame, which OpenSSL never did for a raw socket.
 */
#define FRONT_SEAL_MAX		(64 * 1024)

static int	front_rx(struct rf_front *, const void *, size_t);

/* Writes what rec->out holds that the socket takes: 0, or -1. */
static int
rec_flush(struct rf_front *f)
{
	struct rf_buf *out = &f->rec->out;
	long n;

	if (rf_buf_len(out) == 0)
		return 0;
	if ((n = rf_evloop_write(f->wsi, rf_buf_ptr(out), rf_buf_len(out))) < 0)
		return -1;
	rf_buf_consume(out, (size_t)n);
	if (rf_buf_len(out) == 0)
		rf_buf_free(out);
	else
		lws_callback_on_writable(f->wsi);
	return 0;
}

/* As rf_evloop_write: the bytes taken, 0 for none, -1 when it failed. */
static long
front_send(struct rf_front *f, const void *p, size_t len)
{
	size_t take;

	if (f->rec == NULL)
		return rf_evloop_write(f->wsi, p, len);
	if (rec_flush(f) != 0)
		return -1;
	if (rf_buf_len(&f->rec->out) > 0 || len == 0)
		return 0;
	take = len < FRONT_SEAL_MAX ? len : FRONT_SEAL_MAX;
	if (rf_tlsrec_seal(f->rec, p, take) != 0 || rec_flush(f) != 0)
		return -1;
	return (long)take;
}

long
rf_front_send(struct lws *wsi, const void *p, size_t len)
{
	struct rf_front *f = lws_wsi_user(wsi);

	return f != NULL ? front_send(f, p, len) : -1;
}

/* rf_tlsrec_open's delivery: 1 tells rec_open that front_rx said why. */
static int
rec_rx(void *arg, const void *p, size_t len)
{
	return front_rx(arg, p, len) != 0 ? 1 : 0;
}

/* Ciphertext from the socket of a tunnel whose records are ours. */
static int
rec_open(struct rf_front *f, const void *in, size_t len)
{
	const char *peer = f->conn != NULL ? f->conn->peer : "-";
	int r;

	if ((r = rf_tlsrec_open(f->rec, in, len, rec_rx, f)) == 0) {
		if (rf_buf_len(&f->rec->out) > 0)
			want_write(f);
		return 0;
	}
	if (r == RF_ERR_EOF)
		verbose("%s: device tunnel: close_notify from the agent", peer);
	else if (r < 0)
		logit("%s: device tunnel: %s; closing it", peer,
		    f->rec->why != NULL ? f->rec->why : rf_strerror(r));
	return -1;
}

static int
rec_due(const struct rf_front *f)
{
	struct rf_worker_info wi;

	if (f->state != FRONT_TUNNEL || f->t == NULL || f->rec != NULL ||
	    f->rec_never || f->dead || f->rx_off ||
	    !rf_worker_conf()->tls_own_records ||
	    lws_get_ssl(f->wsi) == NULL || !STAILQ_EMPTY(&f->outq) ||
	    !rf_tunnel_quiet(f->t) || lws_partial_buffered(f->wsi))
		return 0;
	rf_worker_info(&wi);
	return !wi.draining;
}

/* Moves f's tunnel to our record layer (above); f is gone afterwards. */
static void
rec_take(struct rf_front *f)
{
	struct rf_front saved, *nf;
	struct rf_tlsrec *rec;
	struct rf_conn *conn;
	struct lws *wsi = f->wsi, *nwsi;
	char peer[sizeof(f->conn->peer)];
	SSL *ssl = lws_get_ssl(wsi);
	BIO *mem;
	int fd = lws_get_socket_fd(wsi), r;

	snprintf(peer, sizeof(peer), "%s", f->conn != NULL ? f->conn->peer :
	    "-");
	if ((rec = calloc(1, sizeof(*rec))) == NULL)
		return;			/* next time */
	if ((r = rf_tlsrec_take(rec, ssl)) != 0) {
		if (r != RF_ERR_AGAIN) {
			f->rec_never = 1;
			debug("%s: device tunnel: TLS stays with OpenSSL: %s",
			    peer, rec->why != NULL ? rec->why : rf_strerror(r));
		}
		rf_tlsrec_free(rec);
		free(rec);
		return;
	}
	if ((mem = BIO_new(BIO_s_mem())) == NULL) {
		rf_tlsrec_free(rec);
		free(rec);
		return;
	}
	SSL_set_bio(ssl, mem, mem);
	/* What gone() would free goes with saved to the new wsi. */
	rf_evloop_flush_cancel(rf_worker_loop(), &f->flush);
	saved = *f;
	memset(&f->in, 0, sizeof(f->in));
	memset(&f->wsasm, 0, sizeof(f->wsasm));
	f->head = NULL;
	f->t = NULL;
	f->state = FRONT_CLOSING;
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
	/* wsi, f and its rf_conn are gone; fd is open and nobody's. */
	if ((nwsi = rf_worker_adopt_plain(fd, peer, "")) == NULL ||
	    (nf = lws_wsi_user(nwsi)) == NULL) {
		error("%s: device %s: its tunnel cannot go on without OpenSSL; "
		    "closed", peer, rf_tunnel_device(saved.t));
		/* rf_worker_adopt_plain closed fd if it failed. */
		if (nwsi != NULL)
			lws_set_timeout(nwsi, PENDING_TIMEOUT_USER_OK,
			    LWS_TO_KILL_SYNC);
		rf_tunnel_gone(saved.t);
		rf_buf_free(&saved.in);
		rf_ws_asm_free(&saved.wsasm);
		free(saved.head);
		rf_tlsrec_free(rec);
		free(rec);
		return;
	}
	head_release(nf);
	rf_buf_free(&nf->in);
	conn = nf->conn;
	*nf = saved;
	nf->wsi = nwsi;
	nf->conn = conn;
	STAILQ_INIT(&nf->outq);
	nf->outq_bytes = 0;
	memset(&nf->flush, 0, sizeof(nf->flush));
	nf->rec = rec;
	if (conn != NULL)
		conn->tls = 1;
	conn_state(nf, RF_CONN_TUNNEL);
	rf_tunnel_moved(nf->t, nwsi);
	debug("%s: device %s: TLS records are ours now (TLS %s), OpenSSL's "
	    "state freed", peer, rf_tunnel_device(nf->t),
	    rec->tls12 ? "1.2" : "1.3");
}

/* --------------------------------------------------------------- lws -- */

static int
writeable(struct rf_front *f)
{
	struct rf_out *o;
	long n;

	if (f->rec != NULL) {
		if (rec_flush(f) != 0)
			return -1;
		if (rf_buf_len(&f->rec->out) > 0)
			return 0;	/* rec_flush asked for WRITEABLE */
	}
	while ((o = STAILQ_FIRST(&f->outq)) != NULL) {
		if ((n = front_send(f, o->data + LWS_PRE + o->off,
		    o->len - o->off)) < 0)
			return -1;
		o->off += (size_t)n;
		f->outq_bytes -= (size_t)n;
		if (o->off < o->len) {
			lws_callback_on_writable(f->wsi);
			break;
		}
		STAILQ_REMOVE_HEAD(&f->outq, entry);
		free(o);
	}
	stream_drained(f);
	if (!STAILQ_EMPTY(&f->outq))
		return 0;
	if (f->state == FRONT_CLOSING) {
		if (lws_partial_buffered(f->wsi)) {
			lws_callback_on_writable(f->wsi);
			return 0;
		}
		if (f->rec != NULL && !f->rec->done && !f->rec->closed) {
			if (rf_tlsrec_close_notify(f->rec) != 0 ||
			    rec_flush(f) != 0)
				return -1;
			if (rf_buf_len(&f->rec->out) > 0)
				return 0;
		}
		return -1;
	}
	if (f->t != NULL)
		return rf_tunnel_write(f->t);
	return 0;
}

static int
adopted(struct lws *wsi, struct rf_front *f)
{
	memset(f, 0, sizeof(*f));
	f->wsi = wsi;
	f->conn = lws_get_opaque_user_data(wsi);
	STAILQ_INIT(&f->outq);
	rf_buf_init(&f->in, RF_FRONT_WS_MAX + 65536);
	if (head_alloc(f) != 0) {
		error("out of memory for a connection");
		return -1;
	}
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK,
	    rf_worker_conf()->handshake_timeout);
	return 0;
}

static void
gone(struct rf_front *f)
{
	struct rf_out *o;

	rf_evloop_flush_cancel(rf_worker_loop(), &f->flush);
	if (f->relay != NULL || f->ch != NULL ||
	    (f->cx != NULL && f->cx->log))
		stream_gone(f);
	free(f->cx);
	f->cx = NULL;
	if (f->t != NULL) {
		rf_tunnel_gone(f->t);
		f->t = NULL;
	}
	while ((o = STAILQ_FIRST(&f->outq)) != NULL) {
		STAILQ_REMOVE_HEAD(&f->outq, entry);
		free(o);
	}
	rf_buf_free(&f->in);
	head_release(f);
	if (f->state == FRONT_TUNNEL || f->wsasm.max_size != 0)
		rf_ws_asm_free(&f->wsasm);
	if (f->rec != NULL) {
		rf_tlsrec_free(f->rec);
		free(f->rec);
		f->rec = NULL;
	}
}

/* Input from the connection, as lws or rf_evloop_tls_more gave it. */
static int
front_rx(struct rf_front *f, const void *in, size_t len)
{
	int r;

	if (f->state == FRONT_CLOSING)
		return 0;
	if (f->state == FRONT_CONNECT || f->state == FRONT_RELAY)
		return stream_rx(f, in, len);
	if (rf_buf_put(&f->in, in, len) != 0) {
		verbose("%s: more unread input than we hold; closing",
		    f->conn != NULL ? f->conn->peer : "-");
		return -1;
	}
	if (f->state == FRONT_HEAD && read_heads(f) != 0)
		return -1;
	if (f->state == FRONT_TUNNEL && read_frames(f) != 0)
		return -1;
	/* An idle tunnel holds no input buffer between frames. */
	if (f->state == FRONT_TUNNEL && rf_buf_len(&f->in) == 0)
		rf_buf_free(&f->in);
	/* Bytes that came with a CONNECT, after its head. */
	if ((f->state == FRONT_CONNECT || f->state == FRONT_RELAY) &&
	    rf_buf_len(&f->in) > 0) {
		r = stream_rx(f, rf_buf_ptr(&f->in), rf_buf_len(&f->in));
		rf_buf_reset(&f->in);
		return r;
	}
	return 0;
}

/* For rf_evloop_tls_drain: whether lws would read for f now. */
static int
front_can_read(void *arg)
{
	struct rf_front *f = arg;

	return !f->dead && !f->rx_off;
}

static int
front_rx_more(void *arg, const void *in, size_t len)
{
	return front_rx(arg, in, len);
}

/*
 * The records OpenSSL read ahead and holds (evloop.h): after each
 * delivery, and from flush() once reading starts again or a handshake has
 * ended (rf_front_want_write).
 */
static int
front_more(struct rf_front *f)
{
	return rf_evloop_tls_drain(f->wsi, front_can_read, front_rx_more, f);
}

int
rf_front_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len)
{
	struct rf_front *f = user;

	switch (reason) {
	case LWS_CALLBACK_RAW_ADOPT:
		return adopted(wsi, f);
	case LWS_CALLBACK_RAW_RX:
		if (f->dead || (f->rec != NULL ? rec_open(f, in, len) :
		    front_rx(f, in, len)) != 0)
			return -1;
		return front_more(f);
	case LWS_CALLBACK_RAW_WRITEABLE:
		return f->dead ? -1 : writeable(f);
	case LWS_CALLBACK_RAW_CLOSE:
		gone(f);
		return 0;
	default:
		return 0;
	}
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
