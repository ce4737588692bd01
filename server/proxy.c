/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Browser forwarding on device hosts.
 *
 * A connection to https://<device>.<domain>/ is routed to the worker that
 * holds the device's tunnel (route.c) and adopted there as an lws raw
 * socket with TLS into the "rf-proxy" protocol: lws does the handshake and
 * hands us plaintext, and we speak HTTP/1.1 ourselves with common/http.c.
 * Being raw, not lws's HTTP role, is what lets bodies of any size and
 * WebSocket upgrades pass as they come, and the reflector add and strip
 * headers without lws rewriting anything.
 *
 * Lifecycle of one browser connection (enum proxy_state):
 *
 *   PX_HEAD      read a request head, bounded by header_max and by a
 *                deadline (handshake_timeout from its first byte; the
 *                keep-alive timeout while idle), then decide:
 *   PX_LOCAL     what is ours is answered here (/.reflector/health,
 *                /.reflector/session, 404/503 pages, login redirects,
 *                401/403), then back to PX_HEAD or closed;
 *   PX_OPENING   a channel to the device's web server is being opened; the
 *                rewritten head and the body already go into it (the
 *                tunnel holds them until OPEN_CONFIRM); OPEN_FAULT gives a
 *                502 or 504 page;
 *   PX_FORWARD   the request body streams to the device by its framing and
 *                the response streams back by its own; when both have
 *                ended, the connection goes back to PX_HEAD and keeps the
 *                channel if the device did;
 *   PX_UPGRADED  after a 101 to an upgrade request: raw bytes both ways;
 *   PX_CLIENT    a client tunnel (below): WebSocket messages from a client
 *                tool to a channel, and the channel's bytes back in them;
 *   PX_CLOSING   what is queued goes out, then the connection closes;
 *   PX_LINGER    after an error answer to a request not read to its end:
 *                what the browser still sends is read and dropped for a
 *                moment before closing, since closing a socket with unread
 *                bytes sends a reset that can destroy the answer in
 *                flight (the lingering close of Apache and nginx);
 *   PX_GONE      the browser is gone but the channel is not: CLOSE went to
 *                the device and the record waits for the channel to end
 *                (at most PROXY_GONE_SECS), without a wsi.
 *
 * Nothing is held whole.  Browser bytes go into the channel as they come;
 * when rf_channel_write says AGAIN, reading from the browser stops
 * (lws_rx_flow_control) until the channel's writable().  Device bytes go
 * into a queue that WRITEABLE empties while the socket takes them; above
 * PROXY_OUT_HIGH the channel is paused, below PROXY_OUT_LOW resumed.
 *
 * Client tunnels (WEBTUNNEL.md §4).  A WebSocket upgrade whose
 * Sec-WebSocket-Protocol lists exactly com.appinf.webtunnel.client/1.0 is
 * not forwarded to the device's web server: it names a TCP port in
 * X-WebTunnel-RemotePort and brings the credentials of a client tool
 * (Authorization: Basic, or Bearer with an API token, auth.h).  Refusals
 * are HTTP statuses with a reason (X-PTTH-Error and a page): 400 for a bad
 * upgrade or port, 404 unknown device, 503 offline, 401 no or bad
 * credentials, 403 device or port not granted (the user's and the
 * device's "ports" in reflector.yml).  Else the answer is 101 and a
 * channel opens to the port at once; its bytes and the client's binary
 * messages are the same stream.  Each message to the client carries at
 * most 2048 bytes, the most stock client tools take, unless the client
 * announced our extension (RF_WT_EXT_HEADER, reflector-webtunnel(7)):
 * then the 101 answers it and messages carry up to the frame size the
 * client announced.  A stock tool sends no such header; a garbled one, or
 * another version, gets the plain protocol and no answer, never a refusal.
 * A client tunnel is one stream without CREDIT frames, so window= is sent
 * (the header's grammar wants it) equal to our frame size and ignored;
 * flow control is the same either way, and queues are bounded in bytes
 * (PROXY_OUT_*, and one frame of PROXY_CLIENT_FRAME_IN in pc->in), not in
 * messages, so larger messages buffer no more.  A CLOSE from the
 * client half-closes the channel (rf_channel_shutdown) and the device's
 * remaining bytes still go out; the device's CLOSE becomes a close 1000
 * after the bytes queued before it; OPEN_FAULT, an ERROR or the device
 * going offline a close 1011 with the reason, such as "port 22 not
 * forwarded by the device".  After our close the client's own is awaited
 * for PROXY_CLIENT_CLOSE_SECS.  Flow control is the same as for browsers:
 * a full channel stops reading the client, a queue for the client above
 * PROXY_OUT_HIGH pauses the channel.  A plain browser WebSocket (without
 * that subprotocol) is forwarded to the device's web server as before.
 *
 * Contracts with tunnel.c: the channel callbacks may call rf_channel_abort
 * and rf_channel_pause on their own channel; a data() returning -1 aborts
 * it.  Everything else that writes to the channel or closes the browser
 * connection runs from an lws callback of the browser's wsi: channel
 * callbacks only queue, set flags and ask for WRITEABLE.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libwebsockets.h>

#include "auth.h"
#include "buf.h"
#include "cache.h"
#include "conf.h"
#include "err.h"
#include "evloop.h"
#include "http.h"
#include "log.h"
#include "pages.h"
#include "peek.h"
#include "proxy.h"
#include "reflectord.h"
#include "tunnel.h"
#include "worker.h"
#include "ws.h"
#include "wt.h"


#define PROXY_OUT_HIGH		(512 * 1024)	/* pause the channel above */
#define PROXY_OUT_LOW		(128 * 1024)	/* resume it below */
/* A tunnel that ignores a pause must not make us buffer without end. */
#define PROXY_OUT_MAX		(8 * 1024 * 1024)
/* One read of lws (pt_serv_buf_size) beyond a full head must fit. */
#define PROXY_IN_SLACK		(64 * 1024)
#define PROXY_RESP_HEAD_MAX	(64 * 1024)
#define PROXY_GONE_SECS		30
#define PROXY_HEAD_TIMEOUT	(PENDING_TIMEOUT_USER_REASON_BASE + 1)
#define PROXY_LINGER_TIMEOUT	(PENDING_TIMEOUT_USER_REASON_BASE + 2)
#define PROXY_LINGER_SECS	2
#define PROXY_LINGER_MAX	(1024 * 1024)	/* bytes dropped at most */
#define PROXY_PREFIX		"/.reflector/"
#define PROXY_HEALTH		"/.reflector/health"
#define PROXY_SESSION		"/.reflector/session"
#define PROXY_CLIENT_CLOSE_SECS	5	/* for the client's close */
/* The largest frame a client may send us, and our announced frame size. */
#define PROXY_CLIENT_FRAME_IN	RF_WT_EXT_FRAME_MAX

enum proxy_state {
	PX_HEAD = 0,
	PX_LOCAL,
	PX_OPENING,
	PX_FORWARD,
	PX_UPGRADED,
	PX_CLIENT,
	PX_CLOSING,
	PX_LINGER,
	PX_GONE,
};

/* Where the response to the request in flight is. */
enum proxy_resp {
	RESP_NONE = 0,		/* no request in flight */
	RESP_HEAD,		/* reading its head */
	RESP_BODY,		/* passing its body */
	RESP_DONE,		/* it has ended */
};

struct proxy_conn {
	struct lws		*wsi;		/* NULL once PX_GONE */
	struct rf_evflush	 flush;		/* writes, end of iteration */
	int			 dead;		/* a flush failed: close */
	struct lws_context	*ctx;
	struct rf_conn		*conn;		/* the worker's record */
	enum proxy_state	 state;
	char			 device[64];
	char			 peer[64];
	int			 tls;
	unsigned int		 requests;

	struct rf_channel	*ch;
	int			 ch_opened;
	int			 ch_eof;	/* the device sent CLOSE */
	int			 ch_full;	/* write said AGAIN */
	int			 ch_paused;	/* we paused its reader */
	int			 rx_off;	/* lws reads no more */

	struct rf_buf		 in;		/* browser bytes not yet used */
	struct rf_buf		 out;		/* bytes for the browser */
	unsigned long long	 head_deadline;	/* ms; 0: no head started */

	struct rf_http_head	 req;
	enum rf_http_framing	 req_framing;
	uint64_t		 req_left;
	struct rf_http_chunked	 req_chunks;
	int			 req_done;	/* its body has been passed */
	int			 req_keep;
	int			 req_is_head;
	int			 req_upgrade;
	char			 what[112];	/* "GET /path", for the log */

	enum proxy_resp		 resp;
	struct rf_buf		 rhead;
	struct rf_http_head	 rsp;
	enum rf_http_framing	 rsp_framing;
	uint64_t		 rsp_left;
	struct rf_http_chunked	 rsp_chunks;
	int			 rsp_status;
	int			 rsp_started;	/* some of it went to the browser */
	int			 close_after;	/* close once out is empty */
	int			 linger;	/* drop input before closing */
	size_t			 lingered;	/* bytes dropped so far */

	int			 gone_timer;
	lws_sorted_usec_list_t	 sul_gone;

	struct proxy_cache	*cache;		/* the device's cache is on */

	/* A client tunnel (PX_CLIENT). */
	char			 user[72];
	unsigned int		 port;
	int			 ws_close_rcvd;	/* the client's CLOSE */
	int			 ws_close_sent;	/* ours is queued */
	int			 ws_close_timer; /* awaiting the client's */
	int			 ws_ext;	/* the extension is on */
	size_t			 ws_frame;	/* largest message to it */
	unsigned long long	 up, down;	/* stream bytes each way */
	size_t			 up_max, down_max; /* largest frame each way */
};

/* lws's per-session data: only a pointer, so the record may outlive it. */
struct rf_proxy_session {
	struct proxy_conn	*pc;
};

static const char *const proxy_cookies[] = {
	RF_AUTH_DEVICE_COOKIE, RF_AUTH_PORTAL_COOKIE, NULL
};

static void	proxy_channel_opened(void *);
static void	proxy_channel_failed(void *, uint16_t);
static int	proxy_channel_data(void *, const void *, size_t);
static void	proxy_channel_eof(void *);
static void	proxy_channel_closed(void *, uint16_t);
static void	proxy_channel_writable(void *);

static const struct rf_channel_ops proxy_ops = {
	proxy_channel_opened,
	proxy_channel_failed,
	proxy_channel_data,
	proxy_channel_eof,
	proxy_channel_closed,
	proxy_channel_writable,
};

static int	pump_request(struct proxy_conn *);
static void	cache_free(struct proxy_conn *);
static int	cache_request(struct proxy_conn *, int);
static int	cache_response_head(struct proxy_conn *);
static void	cache_body(struct proxy_conn *, const void *, size_t);
static int	cache_drop_field(struct proxy_conn *, size_t);
static int	cache_put_conditional(struct proxy_conn *, struct rf_buf *);
static int	client_tunnel(struct proxy_conn *);
static int	client_pump(struct proxy_conn *);
static int	client_done(struct proxy_conn *);

size_t
rf_proxy_session_size(void)
{
	return sizeof(struct rf_proxy_session);
}

/* ------------------------------------------------------------ helpers ---- */

static const char *
wt_error_text(uint16_t err)
{
	switch (err) {
	case RF_WT_ERR_NOT_FORWARDED:
		return "the device's agent does not forward its web port";
	case RF_WT_ERR_CONN_REFUSED:
		return "the device's web server refused the connection";
	case RF_WT_ERR_TIMEOUT:
		return "the device's web server did not answer in time";
	case RF_WT_ERR_SOCKET:
		return "the device's agent could not reach its web server";
	case RF_WT_ERR_NONE:
		return "the device closed the channel";
	default:
		return "the device's tunnel failed";
	}
}

static void
proxy_free(struct proxy_conn *pc)
{
	rf_evloop_flush_cancel(rf_worker_loop(), &pc->flush);
	cache_free(pc);
	if (pc->gone_timer)
		lws_sul_cancel(&pc->sul_gone);
	rf_buf_free(&pc->in);
	rf_buf_free(&pc->out);
	rf_buf_free(&pc->rhead);
	free(pc);
}

/*
 * Reading from the browser stops while the channel is full, and while a
 * request waits for its response with a head's worth of the next request
 * (pipelined) already here.
 */
static void	want_write(struct proxy_conn *);

static void
rx_update(struct proxy_conn *pc)
{
	const struct rf_conf	*conf = rf_worker_conf();
	int			 off;

	if (pc->wsi == NULL)
		return;
	off = pc->ch_full && pc->state != PX_LINGER;
	if (pc->state != PX_HEAD && pc->state != PX_LINGER &&
	    pc->state != PX_UPGRADED && pc->state != PX_CLIENT &&
	    !((pc->state == PX_OPENING || pc->state == PX_FORWARD) &&
	    !pc->req_done) && rf_buf_len(&pc->in) >= (size_t)conf->header_max)
		off = 1;
	if (off == pc->rx_off)
		return;
	pc->rx_off = off;
	lws_rx_flow_control(pc->wsi, !off);
	/* What OpenSSL read ahead is read at the end (flush()). */
	if (!off)
		want_write(pc);
}

static int	progress(struct proxy_conn *);
static int	more(struct proxy_conn *);

/*
 * What the channel's callbacks queued goes out at the end of the
 * iteration (evloop.h); outside a callback of its own, a connection that
 * must close does so from its WRITEABLE.
 */
static void
flush(struct rf_evflush *fl)
{
	struct proxy_conn *pc = lws_container_of(fl, struct proxy_conn, flush);

	if (pc->wsi == NULL)
		return;
	if ((more(pc) != 0 || progress(pc) != 0) && pc->wsi != NULL) {
		pc->dead = 1;
		lws_callback_on_writable(pc->wsi);
	}
}

static void
want_write(struct proxy_conn *pc)
{
	if (pc->wsi != NULL)
		rf_evloop_flush_later(rf_worker_loop(), &pc->flush, flush);
}

/* Queues bytes for the browser; pauses the channel above high water. */
static int
queue_out(struct proxy_conn *pc, const void *p, size_t len)
{
	int	 r;

	if ((r = rf_buf_put(&pc->out, p, len)) != 0) {
		error("device %s: %s: %zu bytes queued for the browser; "
		    "closing", pc->device, pc->peer, rf_buf_len(&pc->out));
		pc->close_after = 1;
		pc->state = PX_CLOSING;
		return r;
	}
	if (pc->ch != NULL && !pc->ch_paused &&
	    rf_buf_len(&pc->out) >= PROXY_OUT_HIGH) {
		debug2("device %s: %s: %zu bytes queued; pausing the channel",
		    pc->device, pc->peer, rf_buf_len(&pc->out));
		rf_channel_pause(pc->ch, 1);
		pc->ch_paused = 1;
	}
	want_write(pc);
	return 0;
}

/* Text for HTML: the few characters that could open markup. */
static int
put_escaped(struct rf_buf *b, const char *s)
{
	int	 r = 0;

	for (; *s != '\0' && r == 0; s++) {
		switch (*s) {
		case '<': r = rf_buf_putf(b, "&lt;"); break;
		case '>': r = rf_buf_putf(b, "&gt;"); break;
		case '&': r = rf_buf_putf(b, "&amp;"); break;
		case '"': r = rf_buf_putf(b, "&quot;"); break;
		default: r = rf_buf_put(b, s, 1); break;
		}
	}
	return r;
}

/*
 * Queues a whole response of ours: status, the extra header lines (each
 * ending in CRLF) and a body.  close: the connection ends after it, which
 * every answer to a request whose body we did not read must do.
 */
static int
answer(struct proxy_conn *pc, int status, const char *extra, const char *type,
    const void *body, size_t len, int close)
{
	struct rf_buf	 h;
	int		 r;

	close = close || !pc->req_keep || pc->req_framing != RF_HTTP_BODY_NONE;
	/* A request answered here and closed may not have been read. */
	if (close && (pc->resp == RESP_NONE || !pc->req_done))
		pc->linger = 1;
	rf_buf_init(&h, 8192);
	r = rf_buf_putf(&h, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n%s%s\r\n", status,
	    rf_http_reason(status), type, len, extra != NULL ? extra : "",
	    close ? "Connection: close\r\n" : "");
	if (r == 0)
		r = queue_out(pc, rf_buf_ptr(&h), rf_buf_len(&h));
	if (r == 0 && !pc->req_is_head)
		r = queue_out(pc, body, len);
	rf_buf_free(&h);
	pc->state = close ? PX_CLOSING : PX_LOCAL;
	pc->rsp_status = status;
	return r;
}

/*
 * The page of an error (or of a redirect, for browsers that do not
 * follow): a short HTML page that says what happened, logged with the
 * reason, the device and the peer.
 */
static int	page_body(struct proxy_conn *, int, const char *,
		    const char *, int);

static int
page(struct proxy_conn *pc, int status, const char *why, const char *extra,
    int close)
{
	logit("device %s: %d for %s%s%s: %s", pc->device, status, pc->peer,
	    pc->what[0] != '\0' ? " " : "", pc->what, why);
	return page_body(pc, status, why, extra, close);
}

/* The page alone, for callers that log in their own words. */
static int
page_body(struct proxy_conn *pc, int status, const char *why,
    const char *extra, int close)
{
	struct rf_buf	 b;
	int		 r;

	rf_buf_init(&b, 8192);
	r = rf_buf_putf(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8"
	    "\"><title>%d %s</title></head>\n<body><h1>%s</h1>\n<p>", status,
	    rf_http_reason(status), rf_http_reason(status));
	if (r == 0)
		r = put_escaped(&b, why);
	if (r == 0)
		r = rf_buf_putf(&b, "</p>\n<p>Device: <b>");
	if (r == 0)
		r = put_escaped(&b, pc->device);
	if (r == 0)
		r = rf_buf_putf(&b, "</b></p>\n<hr><p>reflector</p></body>"
		    "</html>\n");
	if (r == 0)
		r = answer(pc, status, extra, "text/html; charset=utf-8",
		    rf_buf_ptr(&b), rf_buf_len(&b), close);
	rf_buf_free(&b);
	return r;
}

/* ----------------------------------------------------------- requests ---- */

/* The Host of the request names this connection's device. */
static int
host_matches(struct proxy_conn *pc)
{
	const struct rf_conf	*conf = rf_worker_conf();
	char			 host[256], dev[64], *colon;
	int			 i;

	if ((i = rf_http_find(&pc->req, "host", 0)) < 0 ||
	    rf_http_span_cstring(&pc->req, pc->req.fields[i].value, host,
	    sizeof(host)) != 0)
		return 0;
	if ((colon = strrchr(host, ':')) != NULL)
		*colon = '\0';
	if (!rf_host_device(host, conf->domain, dev, sizeof(dev)))
		return 0;
	return strcmp(dev, pc->device) == 0;
}

static int
device_known(const char *device)
{
	struct rf_device_info	 info;

	return rf_auth_device_find(rf_worker_conf(), rf_worker_registry(),
	    device, &info);
}

/* Some field named name contains needle, ignoring case. */
static int
field_contains(const struct rf_http_head *h, const char *name,
    const char *needle)
{
	struct rf_buf	 v;
	size_t		 n = strlen(needle), i, j;
	uint8_t		 c;
	int		 at = -1;

	while ((at = rf_http_find(h, name, (size_t)(at + 1))) >= 0) {
		rf_http_view(h, h->fields[at].value, &v);
		for (i = 0; i + n <= rf_buf_len(&v); i++) {
			for (j = 0; j < n; j++)
				if (rf_buf_peek_u8(&v, i + j, &c) != 0 ||
				    (c | 0x20) != (needle[j] | 0x20))
					break;
			if (j == n)
				return 1;
		}
	}
	return 0;
}

/*
 * The values auth.c decides on, as C strings: every Cookie field joined
 * with "; ", and the one Authorization and X-PTTH-Authorization each.
 * RF_ERR_PROTO for two of the latter.
 */
static int
auth_inputs(struct proxy_conn *pc, struct rf_buf *cookie, char *authz,
    size_t authzlen, char *xptth, size_t xptthlen)
{
	struct rf_http_head	*h = &pc->req;
	struct rf_buf		 v;
	int			 i = -1, r;

	authz[0] = xptth[0] = '\0';
	while ((i = rf_http_find(h, "cookie", (size_t)(i + 1))) >= 0) {
		rf_http_view(h, h->fields[i].value, &v);
		if (rf_buf_len(cookie) > 0 &&
		    (r = rf_buf_put(cookie, "; ", 2)) != 0)
			return r;
		if ((r = rf_buf_put(cookie, rf_buf_ptr(&v),
		    rf_buf_len(&v))) != 0)
			return r;
	}
	if ((r = rf_buf_put_u8(cookie, 0)) != 0)
		return r;
	if (rf_http_count(h, "authorization") > 1 ||
	    rf_http_count(h, "x-ptth-authorization") > 1)
		return RF_ERR_PROTO;
	if ((i = rf_http_find(h, "authorization", 0)) >= 0 &&
	    (r = rf_http_span_cstring(h, h->fields[i].value, authz,
	    authzlen)) != 0)
		return r;
	if ((i = rf_http_find(h, "x-ptth-authorization", 0)) >= 0 &&
	    (r = rf_http_span_cstring(h, h->fields[i].value, xptth,
	    xptthlen)) != 0)
		return r;
	return 0;
}

static int
answer_health(struct proxy_conn *pc)
{
	char	 json[2048];
	int	 n;

	if ((n = rf_http_health_json(json, sizeof(json))) < 0 ||
	    (size_t)n >= sizeof(json))
		return page(pc, 500, "the health report did not fit", NULL, 1);
	return answer(pc, 200, NULL, "application/json", json, (size_t)n, 0);
}

/*
 * /.reflector/session?token=T&return=P: the portal's one-time token
 * becomes a session cookie of this device host, then the browser goes on
 * to P, a path on this host (never "//elsewhere": no open redirect).
 */
static int
answer_session(struct proxy_conn *pc)
{
	const struct rf_conf	*conf = rf_worker_conf();
	char			 token[RF_AUTH_TOKEN_MAX], path[1024];
	char			 cookie[512];
	struct rf_buf		 extra;
	int			 r;

	if (rf_http_query_get(&pc->req, "token", token, sizeof(token)) != 0)
		return page(pc, 400, "the session link has no valid token",
		    NULL, 0);
	if (rf_http_query_get(&pc->req, "return", path, sizeof(path)) != 0 ||
	    !rf_auth_local_path(path))
		snprintf(path, sizeof(path), "/");
	if (rf_auth_session_from_token(conf, rf_worker_registry(), pc->device,
	    token, cookie, sizeof(cookie)) != RF_AUTH_OK)
		return page(pc, 403, "the session link is unknown, used or "
		    "expired: open the device from the portal again", NULL, 0);
	rf_buf_init(&extra, 4096);
	/* Set-Cookie's value is auth.c's; checked all the same. */
	if ((r = rf_http_put_header(&extra, "Set-Cookie", cookie,
	    strlen(cookie))) == 0)
		r = rf_http_put_header(&extra, "Location", path, strlen(path));
	if (r == 0 && (r = rf_buf_put_u8(&extra, 0)) == 0) {
		verbose("device %s: session for %s", pc->device, pc->peer);
		r = answer(pc, 302, (const char *)rf_buf_ptr(&extra),
		    "text/plain", "", 0, 0);
	} else
		r = page(pc, 500, "cannot make the session cookie", NULL, 1);
	rf_buf_free(&extra);
	return r;
}

/* Not logged in: browsers go to the portal, tools get a Basic challenge. */
static int
answer_login(struct proxy_conn *pc)
{
	const struct rf_conf	*conf = rf_worker_conf();
	char			 target[2048], url[2560], host[256];
	struct rf_buf		 extra;
	int			 r, i;

	if (!field_contains(&pc->req, "accept", "text/html"))
		return page(pc, 401, "log in to reach this device",
		    "WWW-Authenticate: Basic realm=\"reflector\", "
		    "charset=\"UTF-8\"\r\n", 0);
	if (rf_http_span_cstring(&pc->req, pc->req.target, target,
	    sizeof(target)) != 0)
		snprintf(target, sizeof(target), "/");
	if ((i = rf_http_find(&pc->req, "host", 0)) < 0 ||
	    rf_http_span_cstring(&pc->req, pc->req.fields[i].value, host,
	    sizeof(host)) != 0)
		host[0] = '\0';
	if (!rf_auth_local_path(target))
		snprintf(target, sizeof(target), "/");
	if (rf_auth_login_url(conf, host[0] != '\0' ? host : NULL, pc->device,
	    target, url, sizeof(url)) != 0)
		return page(pc, 500, "cannot make the login address", NULL, 1);
	rf_buf_init(&extra, 4096);
	r = rf_http_put_header(&extra, "Location", url, strlen(url));
	if (r == 0)
		r = rf_buf_put_u8(&extra, 0);
	if (r == 0) {
		debug("device %s: %s to the portal to log in", pc->device,
		    pc->peer);
		r = answer(pc, 302, (const char *)rf_buf_ptr(&extra),
		    "text/plain", "", 0, 0);
	} else
		r = page(pc, 500, "bad login address", NULL, 1);
	rf_buf_free(&extra);
	return r;
}

/* A Set-Cookie field of the response that would set one of our cookies. */
static int
sets_our_cookie(const struct rf_http_head *h, size_t i)
{
	struct rf_buf	 v;
	size_t		 n = 0, k;
	uint8_t		 c;

	if (!rf_http_span_casecmp(h, h->fields[i].name, "set-cookie"))
		return 0;
	rf_http_view(h, h->fields[i].value, &v);
	while (rf_buf_peek_u8(&v, n, &c) == 0 && c != '=' && c != ';' &&
	    c != ' ' && c != '\t')
		n++;
	for (k = 0; proxy_cookies[k] != NULL; k++)
		if (strlen(proxy_cookies[k]) == n &&
		    memcmp(rf_buf_ptr(&v), proxy_cookies[k], n) == 0)
			return 1;
	return 0;
}

/* Fields the device must not see, or that we write ourselves. */
static int
drop_request_field(const struct rf_http_head *h, size_t i, int used_authz)
{
	struct rf_http_span	 n = h->fields[i].name;
	struct rf_buf		 v;
	static const char	 xf[] = "x-forwarded-";
	size_t			 k;
	uint8_t			 c;

	if (rf_http_span_casecmp(h, n, "x-ptth-authorization") ||
	    rf_http_span_casecmp(h, n, "proxy-authorization") ||
	    rf_http_span_casecmp(h, n, "forwarded") ||
	    rf_http_span_casecmp(h, n, "content-length") ||
	    rf_http_span_casecmp(h, n, "cookie"))
		return 1;
	if (used_authz && rf_http_span_casecmp(h, n, "authorization"))
		return 1;
	if (n.len < sizeof(xf) - 1)
		return 0;
	rf_http_view(h, n, &v);
	for (k = 0; k < sizeof(xf) - 1; k++)
		if (rf_buf_get_u8(&v, &c) != 0 || (c | 0x20) != xf[k])
			return 0;
	return 1;
}

/*
 * The head the device gets: ours and the user's credentials out, one
 * Content-Length, the Cookie without our cookies, X-Forwarded-*.
 */
static int
rewrite_request(struct proxy_conn *pc, int used_authz, struct rf_buf *out)
{
	struct rf_http_head	*h = &pc->req;
	struct rf_buf		 cookies, v;
	char			 addr[64], *p;
	size_t			 i, kept;
	int			 r, had;

	if ((r = rf_http_put_start_line(out, h)) != 0)
		return r;
	for (i = 0; i < h->nfields; i++)
		if (!drop_request_field(h, i, used_authz) &&
		    !cache_drop_field(pc, i) &&
		    (r = rf_http_put_field(out, h, i)) != 0)
			return r;
	if ((r = cache_put_conditional(pc, out)) != 0)
		return r;
	if (h->has_length && (r = rf_buf_putf(out, "Content-Length: %llu\r\n",
	    (unsigned long long)h->length)) != 0)
		return r;
	rf_buf_init(&cookies, (size_t)h->len + 1);
	for (i = 0; r == 0 && i < h->nfields; i++) {
		if (!rf_http_span_casecmp(h, h->fields[i].name, "cookie"))
			continue;
		had = rf_buf_len(&cookies) > 0;
		if (had)
			r = rf_buf_put(&cookies, "; ", 2);
		rf_http_view(h, h->fields[i].value, &v);
		if (r == 0)
			r = rf_http_cookie_strip(rf_buf_ptr(&v), rf_buf_len(&v),
			    proxy_cookies, &cookies, &kept);
		if (r == 0 && kept == 0 && had)
			r = rf_buf_unput(&cookies, 2);
	}
	if (r == 0 && rf_buf_len(&cookies) > 0)
		r = rf_http_put_header(out, "Cookie", rf_buf_ptr(&cookies),
		    rf_buf_len(&cookies));
	rf_buf_free(&cookies);
	if (r != 0)
		return r;
	/* The peer is ours ("addr:port" or "[v6]:port"): its address. */
	snprintf(addr, sizeof(addr), "%s", pc->peer[0] == '[' ? pc->peer + 1 :
	    pc->peer);
	if ((p = strrchr(addr, pc->peer[0] == '[' ? ']' : ':')) != NULL)
		*p = '\0';
	if ((r = rf_http_put_header(out, "X-Forwarded-For", addr,
	    strlen(addr))) != 0 ||
	    (r = rf_http_put_header(out, "X-Forwarded-Proto",
	    pc->tls ? "https" : "http", pc->tls ? 5 : 4)) != 0)
		return r;
	if ((r = rf_http_put_field_as(out, h, "host", "X-Forwarded-Host")) != 0)
		return r;
	return rf_http_put_end(out);
}

/* The request goes to the device: over the open channel, or a new one. */
static int
forward(struct proxy_conn *pc, struct rf_tunnel *t, int used_authz)
{
	const struct rf_conf	*conf = rf_worker_conf();
	struct rf_buf		 head;
	int			 r;

	rf_buf_init(&head, (size_t)conf->header_max + 1024);
	if ((r = rewrite_request(pc, used_authz, &head)) != 0) {
		rf_buf_free(&head);
		return page(pc, 431, "the request head is too large once "
		    "rewritten", NULL, 1);
	}
	if (pc->ch == NULL) {
		r = rf_channel_open(t, rf_tunnel_http_port(t), &proxy_ops, pc,
		    &pc->ch);
		if (r != 0) {
			rf_buf_free(&head);
			pc->ch = NULL;
			return page(pc, 503, "the device's tunnel has no free "
			    "channel", NULL, 0);
		}
		pc->ch_opened = pc->ch_eof = pc->ch_full = pc->ch_paused = 0;
		pc->state = PX_OPENING;
	} else
		pc->state = PX_FORWARD;
	r = rf_channel_write(pc->ch, rf_buf_ptr(&head), rf_buf_len(&head));
	rf_buf_free(&head);
	if (r == RF_ERR_AGAIN)
		pc->ch_full = 1;
	else if (r != 0) {
		rf_channel_abort(pc->ch);
		pc->ch = NULL;
		return page(pc, 502, "the device's tunnel failed", NULL, 1);
	}
	pc->req_left = pc->req.length;
	rf_http_chunked_init(&pc->req_chunks);
	pc->req_done = pc->req_framing == RF_HTTP_BODY_NONE;
	pc->req_upgrade = (pc->req.conn & RF_HTTP_CONN_UPGRADE) &&
	    pc->req.has_upgrade;
	pc->resp = RESP_HEAD;
	rf_buf_reset(&pc->rhead);
	rf_http_head_init(&pc->rsp, RF_HTTP_RESPONSE, PROXY_RESP_HEAD_MAX);
	pc->rsp_started = 0;
	pc->rsp_status = 0;
	return 0;
}

/* A complete request head: answer it here, or send it on. */
static int
on_request(struct proxy_conn *pc)
{
	const struct rf_conf	*conf = rf_worker_conf();
	struct rf_http_head	*h = &pc->req;
	struct rf_tunnel	*t;
	struct rf_buf		 cookie;
	char			 path[1024], method[16], user[128];
	char			 authz[1024], xptth[1024];
	enum rf_auth_result	 ar;
	int			 used_authz = 0, r;

	if (pc->wsi != NULL)
		lws_set_timeout(pc->wsi, NO_PENDING_TIMEOUT, 0);
	pc->head_deadline = 0;
	if (pc->conn != NULL)
		pc->conn->state = RF_CONN_REQUEST;
	pc->req_keep = h->keep_alive;
	pc->req_is_head = h->is_head;
	pc->req_framing = rf_http_request_framing(h);
	pc->close_after = 0;
	if (rf_http_target_path(h, path, sizeof(path)) != 0)
		path[0] = '\0';		/* too long to be ours */
	if (rf_http_span_cstring(h, h->method, method, sizeof(method)) != 0)
		snprintf(method, sizeof(method), "?");
	snprintf(pc->what, sizeof(pc->what), "%s %.80s", method,
	    path[0] != '\0' ? path : "(long path)");

	if (h->is_connect)
		return page(pc, 405, "CONNECT is not for a device host", NULL,
		    1);
	if (!host_matches(pc))
		return page(pc, 421, "the Host of the request is not this "
		    "connection's device", NULL, 1);
	if (strcmp(path, PROXY_HEALTH) == 0)
		return answer_health(pc);
	if (strcmp(path, PROXY_SESSION) == 0)
		return answer_session(pc);
	if (strncmp(path, PROXY_PREFIX, sizeof(PROXY_PREFIX) - 1) == 0)
		return page(pc, 404, "no such page of the reflector", NULL, 0);
	if (rf_http_list_has(h, "sec-websocket-protocol",
	    RF_WT_SUBPROTO_CLIENT))
		return client_tunnel(pc);
	if ((t = rf_tunnel_find(pc->device)) == NULL) {
		if (pc->ch != NULL) {
			rf_channel_abort(pc->ch);
			pc->ch = NULL;
		}
		if (!device_known(pc->device))
			return page(pc, 404, "Unknown device: no device of "
			    "that name is known to this reflector", NULL, 0);
		return page(pc, 503, "Device offline: the device has no "
		    "tunnel to the reflector now", NULL, 0);
	}

	if (rf_auth_peer_blocked(pc->peer))
		return page(pc, 429, "too many failed logins from your "
		    "address: wait a minute", "Retry-After: 60\r\n", 1);
	rf_buf_init(&cookie, (size_t)conf->header_max + 1);
	r = auth_inputs(pc, &cookie, authz, sizeof(authz), xptth,
	    sizeof(xptth));
	if (r != 0) {
		rf_buf_free(&cookie);
		return page(pc, 400, "more than one Authorization header, or "
		    "one too long", NULL, 1);
	}
	user[0] = '\0';
	ar = rf_auth_device_request(conf, rf_worker_registry(), pc->device,
	    rf_buf_len(&cookie) > 1 ? (const char *)rf_buf_ptr(&cookie) : NULL,
	    authz[0] != '\0' ? authz : NULL, xptth[0] != '\0' ? xptth : NULL,
	    user, sizeof(user), &used_authz);
	rf_buf_free(&cookie);
	explicit_bzero(authz, sizeof(authz));
	explicit_bzero(xptth, sizeof(xptth));
	switch (ar) {
	case RF_AUTH_OK:
		break;
	case RF_AUTH_LOGIN:
		return answer_login(pc);
	default:
		rf_auth_peer_failed(pc->peer, "basic", user);
		return page(pc, 403, "you may not reach this device", NULL, 0);
	}
	debug("device %s: %s %s as %s", pc->device, pc->peer, pc->what, user);
	/* Authorised for this device: only now may its cache answer. */
	if ((r = cache_request(pc, used_authz)) <= 0)
		return r;
	return forward(pc, t, used_authz);
}

/* Request body bytes from in to the channel, as far as they go. */
static int
pump_body(struct proxy_conn *pc)
{
	size_t	 n, len;
	int	 r;

	while (!pc->ch_full && pc->ch != NULL &&
	    (len = rf_buf_len(&pc->in)) > 0 &&
	    (pc->state == PX_UPGRADED || !pc->req_done)) {
		n = len;
		if (pc->state == PX_UPGRADED)
			;
		else if (pc->req_framing == RF_HTTP_BODY_LENGTH) {
			if (n > pc->req_left)
				n = (size_t)pc->req_left;
			pc->req_left -= n;
			pc->req_done = pc->req_left == 0;
		} else {
			r = rf_http_chunked_scan(&pc->req_chunks,
			    rf_buf_ptr(&pc->in), len, &n);
			if (r != 0) {
				rf_channel_abort(pc->ch);
				pc->ch = NULL;
				pc->close_after = 1;
				if (pc->rsp_started) {
					pc->state = PX_CLOSING;
					return 0;
				}
				return page(pc, r == RF_ERR_LIMIT ? 413 : 400,
				    pc->req_chunks.error, NULL, 1);
			}
			pc->req_done = rf_http_chunked_done(&pc->req_chunks);
		}
		r = rf_channel_write(pc->ch, rf_buf_ptr(&pc->in), n);
		rf_buf_consume(&pc->in, n);
		if (r == RF_ERR_AGAIN)
			pc->ch_full = 1;
		else if (r != 0) {
			rf_channel_abort(pc->ch);
			pc->ch = NULL;
			pc->close_after = 1;
			pc->state = PX_CLOSING;
			return 0;
		}
	}
	return 0;
}

/* Whatever the browser sent that can be used now. */
static int
pump_request(struct proxy_conn *pc)
{
	const struct rf_conf	*conf = rf_worker_conf();
	int			 r;

	for (;;) {
		switch (pc->state) {
		case PX_HEAD:
			if (rf_buf_len(&pc->in) == 0)
				return 0;
			if (pc->head_deadline == 0) {
				pc->head_deadline = rf_now_ms() +
				    (unsigned long long)conf->handshake_timeout *
				    1000;
				lws_set_timeout(pc->wsi, PROXY_HEAD_TIMEOUT,
				    conf->handshake_timeout);
			}
			r = rf_http_head_parse(&pc->req, rf_buf_ptr(&pc->in),
			    rf_buf_len(&pc->in));
			if (r == RF_ERR_SHORT)
				return 0;
			if (r != 0) {
				pc->req_keep = 0;
				pc->what[0] = '\0';
				return page(pc, pc->req.error_status,
				    pc->req.error, NULL, 1);
			}
			r = on_request(pc);
			/* Answered or forwarded, the head is used up. */
			rf_buf_consume(&pc->in, pc->req.len);
			if (r != 0)
				return r;
			if (pc->state == PX_LOCAL || pc->state == PX_CLOSING)
				return 0;
			break;
		case PX_OPENING:
		case PX_FORWARD:
		case PX_UPGRADED:
			return pump_body(pc);
		case PX_CLIENT:
			return client_pump(pc);
		default:
			return 0;
		}
	}
}

/* ----------------------------------------------------------- response ---- */

/* The device's response head, minus any Set-Cookie for our cookies. */
static int
queue_response_head(struct proxy_conn *pc)
{
	struct rf_http_head	*h = &pc->rsp;
	struct rf_buf		 b;
	size_t			 i;
	int			 r;

	rf_buf_init(&b, PROXY_RESP_HEAD_MAX + 16);
	r = rf_http_put_start_line(&b, h);
	for (i = 0; r == 0 && i < h->nfields; i++) {
		if (sets_our_cookie(h, i)) {
			logit("device %s: dropped a Set-Cookie for a reflector "
			    "cookie", pc->device);
			continue;
		}
		/* Only ours may say what the cache did. */
		if (pc->cache != NULL && rf_http_span_casecmp(h,
		    h->fields[i].name, "x-reflector-cache"))
			continue;
		r = rf_http_put_field(&b, h, i);
	}
	if (r == 0 && pc->cache != NULL && h->status >= 200)
		r = rf_buf_putf(&b, "X-Reflector-Cache: miss\r\n");
	if (r == 0)
		r = rf_http_put_end(&b);
	if (r == 0)
		r = queue_out(pc, rf_buf_ptr(&b), rf_buf_len(&b));
	rf_buf_free(&b);
	pc->rsp_started = 1;
	return r;
}

/* The response went wrong before any of it reached the browser. */
static int
bad_gateway(struct proxy_conn *pc, const char *why)
{
	pc->close_after = 1;
	if (pc->rsp_started) {
		logit("device %s: response to %s %s cut: %s", pc->device,
		    pc->peer, pc->what, why);
		pc->state = PX_CLOSING;
		want_write(pc);
		return 0;
	}
	return page(pc, 502, why, NULL, 1);
}

/* Body bytes of the response; *extra gets bytes past its end. */
static int
response_body(struct proxy_conn *pc, const void *p, size_t len, size_t *extra)
{
	size_t	 n = len;
	int	 r;

	*extra = 0;
	switch (pc->rsp_framing) {
	case RF_HTTP_BODY_LENGTH:
		if (n > pc->rsp_left)
			n = (size_t)pc->rsp_left;
		pc->rsp_left -= n;
		if (pc->rsp_left == 0)
			pc->resp = RESP_DONE;
		break;
	case RF_HTTP_BODY_CHUNKED:
		if ((r = rf_http_chunked_scan(&pc->rsp_chunks, p, len, &n)) != 0)
		{
			(void)bad_gateway(pc, pc->rsp_chunks.error);
			return -1;
		}
		if (rf_http_chunked_done(&pc->rsp_chunks))
			pc->resp = RESP_DONE;
		break;
	case RF_HTTP_BODY_CLOSE:
		break;
	default:
		n = 0;
		pc->resp = RESP_DONE;
		break;
	}
	*extra = len - n;
	if (pc->cache != NULL)
		cache_body(pc, p, n);
	return n > 0 ? queue_out(pc, p, n) : 0;
}

/* A complete response head: interim, switch, or the final one. */
static int
response_head(struct proxy_conn *pc)
{
	struct rf_http_head	*h = &pc->rsp;
	int			 r;

	pc->rsp_status = h->status;
	if (h->status == 101) {
		if (!pc->req_upgrade) {
			(void)bad_gateway(pc, "the device switched protocols "
			    "unasked");
			return -1;
		}
		if (queue_response_head(pc) != 0)
			return -1;
		verbose("device %s: %s %s upgraded", pc->device, pc->peer,
		    pc->what);
		pc->state = PX_UPGRADED;
		pc->resp = RESP_DONE;
		return 0;
	}
	if (h->status >= 200 && pc->cache != NULL) {
		r = cache_response_head(pc);
		if (r != 0)
			return r < 0 ? -1 : 0;	/* 1: answered from the cache */
	}
	if (queue_response_head(pc) != 0)
		return -1;
	if (h->status < 200)
		return 1;	/* interim: the real head follows */
	pc->rsp_framing = rf_http_response_framing(h, pc->req_is_head);
	pc->rsp_left = h->length;
	rf_http_chunked_init(&pc->rsp_chunks);
	if (!h->keep_alive || pc->rsp_framing == RF_HTTP_BODY_CLOSE)
		pc->close_after = 1;
	pc->resp = pc->rsp_framing == RF_HTTP_BODY_NONE ? RESP_DONE :
	    RESP_BODY;
	return 0;
}

/*
 * Bytes of the device's response: a head is collected and parsed, the
 * body passes by its framing.  -1 aborts the channel (the caller drops
 * it); bytes past the end of a response mean the device is confused.
 */
static int
response_bytes(struct proxy_conn *pc, const void *p, size_t len)
{
	struct rf_buf	 rest;
	size_t		 extra;
	int		 r;

	if (pc->state == PX_UPGRADED)
		return queue_out(pc, p, len) == 0 ? 0 : -1;
	switch (pc->resp) {
	case RESP_HEAD:
		if (rf_buf_put(&pc->rhead, p, len) != 0) {
			(void)bad_gateway(pc, "the response head is too large");
			return -1;
		}
		for (;;) {
			r = rf_http_head_parse(&pc->rsp, rf_buf_ptr(&pc->rhead),
			    rf_buf_len(&pc->rhead));
			if (r == RF_ERR_SHORT)
				return 0;
			if (r != 0) {
				(void)bad_gateway(pc, pc->rsp.error);
				return -1;
			}
			rf_buf_consume(&pc->rhead, pc->rsp.len);
			if ((r = response_head(pc)) < 0)
				return -1;
			if (r == 0)
				break;
			rf_http_head_init(&pc->rsp, RF_HTTP_RESPONSE,
			    PROXY_RESP_HEAD_MAX);
		}
		/* What came with the head is body (or raw, after a 101). */
		rest = pc->rhead;
		rf_buf_init(&pc->rhead, PROXY_RESP_HEAD_MAX);
		r = rf_buf_len(&rest) > 0 ? response_bytes(pc,
		    rf_buf_ptr(&rest), rf_buf_len(&rest)) : 0;
		rf_buf_free(&rest);
		return r;
	case RESP_BODY:
		if (response_body(pc, p, len, &extra) != 0)
			return -1;
		if (extra == 0)
			return 0;
		/* FALLTHROUGH */
	default:
		logit("device %s: bytes after the end of a response to %s; "
		    "dropping the channel", pc->device, pc->peer);
		pc->close_after = pc->close_after || pc->resp != RESP_DONE;
		return -1;
	}
}

/* ------------------------------------------------------------- cache ---- */

/*
 * The static-resource cache of one request (server/cache.c), allocated
 * only while the device's cache is on, freed when the request is done.
 * The request head is kept (and parsed again) because pc->req points into
 * the input buffer, which moves on; the response head to store is written
 * out when it comes, for the same reason.
 */
struct proxy_cache {
	unsigned char		 key[RF_CACHE_KEY_LEN];
	enum rf_cache_use	 use;
	int			 dev_authz;	/* Authorization for the device */
	int			 reval;		/* our conditional is on its way */
	int			 filling;	/* the body is being kept */
	time_t			 resp_time;
	struct rf_buf		 qbytes;
	struct rf_http_head	 q;		/* the request, in qbytes */
	struct rf_buf		 fhead;		/* the response head to store */
	struct rf_buf		 fbody;
	struct rf_http_head	 fh;		/* fhead, parsed to store */
	struct rf_cache_entry	 ent;		/* a hit, or the validators */
};

/*
 * Bytes of bodies being kept for the cache in this worker: a fill starts
 * only under PROXY_CACHE_FILLS objects of cache.max_object, so that many
 * slow downloads at once cannot make the worker hold more.
 */
#define PROXY_CACHE_FILLS	8
static size_t	 proxy_cache_filling;

static void
cache_fill_stop(struct proxy_cache *pk)
{
	if (pk->filling)
		proxy_cache_filling -= pk->fbody.max_size;
	pk->filling = 0;
	rf_buf_free(&pk->fhead);
	rf_buf_free(&pk->fbody);
}

static void
cache_free(struct proxy_conn *pc)
{
	struct proxy_cache	*pk = pc->cache;

	if (pk == NULL)
		return;
	cache_fill_stop(pk);
	rf_buf_free(&pk->qbytes);
	rf_cache_entry_free(&pk->ent);
	free(pk);
	pc->cache = NULL;
}

/* On for this device (cache.devices, cache.groups, its own cache key)? */
static int
cache_wanted(struct proxy_conn *pc)
{
	const struct rf_conf	*conf = rf_worker_conf();
	struct rf_device_info	 info;

	if (!rf_cache_any(conf))
		return 0;
	return rf_cache_on(conf, pc->device, rf_auth_device_find(conf,
	    rf_worker_registry(), pc->device, &info) ? info.group : NULL);
}

/* A revalidation sends our validators, not the browser's. */
static int
cache_drop_field(struct proxy_conn *pc, size_t i)
{
	return pc->cache != NULL && pc->cache->reval &&
	    (rf_http_span_casecmp(&pc->req, pc->req.fields[i].name,
	    "if-none-match") ||
	    rf_http_span_casecmp(&pc->req, pc->req.fields[i].name,
	    "if-modified-since"));
}

static int
cache_put_conditional(struct proxy_conn *pc, struct rf_buf *out)
{
	if (pc->cache == NULL || !pc->cache->reval)
		return 0;
	return rf_cache_put_conditional(out, &pc->cache->ent);
}

/* The entry in pc->cache->ent goes to the browser, or its 304. */
static int
cache_serve(struct proxy_conn *pc, const char *how, int close)
{
	struct proxy_cache	*pk = pc->cache;
	struct rf_buf		 b;
	int			 nm, r;

	nm = rf_cache_not_modified(&pk->q, &pk->ent.h);
	rf_buf_init(&b, RF_CACHE_HEAD_MAX + 1024);
	r = rf_cache_put_served_head(&b, &pk->ent, time(NULL), how, nm, close);
	if (r == 0)
		r = queue_out(pc, rf_buf_ptr(&b), rf_buf_len(&b));
	if (r == 0 && !nm && !pc->req_is_head)
		r = queue_out(pc, rf_buf_ptr(&pk->ent.body),
		    rf_buf_len(&pk->ent.body));
	rf_buf_free(&b);
	pc->rsp_status = nm ? 304 : pk->ent.h.status;
	pc->rsp_started = 1;
	debug("device %s: %s %s: cache %s", pc->device, pc->peer, pc->what,
	    how);
	return r;
}

/*
 * Before a request goes to the device (it is authorised): 0 if a fresh
 * entry answered it, 1 if it goes on (maybe as our revalidation), <0 on
 * error.  Whatever goes wrong in the cache sends the request on.
 */
static int
cache_request(struct proxy_conn *pc, int used_authz)
{
	const struct rf_conf	*conf = rf_worker_conf();
	struct proxy_cache	*pk;
	time_t			 now = time(NULL);
	int			 close;

	cache_free(pc);
	if (!cache_wanted(pc) || (pk = calloc(1, sizeof(*pk))) == NULL)
		return 1;
	pc->cache = pk;
	rf_buf_init(&pk->ent.head, 1);
	rf_buf_init(&pk->ent.body, 1);
	rf_buf_init(&pk->qbytes, pc->req.len);
	rf_http_head_init(&pk->q, RF_HTTP_REQUEST, (size_t)conf->header_max);
	if (rf_buf_put(&pk->qbytes, pc->req.base, pc->req.len) != 0 ||
	    rf_http_head_parse(&pk->q, rf_buf_ptr(&pk->qbytes),
	    rf_buf_len(&pk->qbytes)) != 0) {
		cache_free(pc);
		return 1;
	}
	pk->dev_authz = !used_authz &&
	    rf_http_find(&pk->q, "authorization", 0) >= 0;
	pk->use = pc->req_framing != RF_HTTP_BODY_NONE ? RF_CACHE_BYPASS :
	    rf_cache_request_use(&pk->q);
	if (pk->use == RF_CACHE_BYPASS)
		return 1;
	rf_cache_key(pc->device, &pk->q, pk->key);
	rf_cache_entry_free(&pk->ent);
	if (rf_cache_get(conf, pk->key, &pk->q, &pk->ent) != 0 ||
	    (pk->dev_authz && !(pk->ent.rec.flags & RF_CACHE_REC_AUTH_OK))) {
		rf_cache_entry_free(&pk->ent);
		return 1;
	}
	if (pk->use == RF_CACHE_LOOKUP && rf_cache_fresh(&pk->ent.rec, now)) {
		rf_cache_touch(conf, pk->key, &pk->ent, now);
		close = !pc->req_keep;
		if (cache_serve(pc, "hit", close) != 0)
			return -1;
		pc->close_after = close;
		pc->state = close ? PX_CLOSING : PX_LOCAL;
		return 0;
	}
	/* Stale or no-cache: the body waits in the map for the 304. */
	pk->reval = 1;
	rf_buf_free(&pk->ent.body);
	return 1;
}

/*
 * A final response head from the device: a 304 to our revalidation is
 * answered from the refreshed entry (1); a storable 200 starts keeping
 * its body (0, and the head goes to the browser as usual).
 */
static int
cache_response_head(struct proxy_conn *pc)
{
	const struct rf_conf	*conf = rf_worker_conf();
	struct proxy_cache	*pk = pc->cache;
	struct rf_http_head	*h = &pc->rsp;
	const char		*why;
	size_t			 need = (size_t)h->length;

	pk->resp_time = time(NULL);
	if (pk->reval && h->status == 304) {
		rf_cache_entry_free(&pk->ent);
		if (rf_cache_refresh(conf, pk->key, &pk->q, h, pk->resp_time,
		    &pk->ent) != 0) {
			(void)bad_gateway(pc, "the cached response being "
			    "revalidated is gone");
			return -1;
		}
		pc->rsp_framing = RF_HTTP_BODY_NONE;
		pc->resp = RESP_DONE;
		if (!h->keep_alive)
			pc->close_after = 1;
		return cache_serve(pc, "revalidated", pc->close_after ||
		    !pc->req_keep) == 0 ? 1 : -1;
	}
	if (pk->use == RF_CACHE_BYPASS || pc->req_is_head)
		return 0;
	if (!rf_cache_storable(&pk->q, h, pk->dev_authz,
	    (uint64_t)conf->cache_max_object, &why)) {
		debug2("device %s: %s not stored: %s", pc->device, pc->what,
		    why);
		return 0;
	}
	/* Size unknown, nothing to keep, or too much kept already. */
	if (!h->has_length || h->chunked || need == 0 ||
	    proxy_cache_filling + need >
	    (size_t)PROXY_CACHE_FILLS * (size_t)conf->cache_max_object)
		return 0;
	rf_buf_init(&pk->fhead, RF_CACHE_HEAD_MAX);
	rf_buf_init(&pk->fbody, need);
	if (rf_cache_head_for_store(&pk->fhead, h) != 0) {
		cache_fill_stop(pk);
		return 0;
	}
	pk->filling = 1;
	proxy_cache_filling += pk->fbody.max_size;
	return 0;
}

/* Body bytes of a response being kept; stored once it is whole. */
static void
cache_body(struct proxy_conn *pc, const void *p, size_t n)
{
	const struct rf_conf	*conf = rf_worker_conf();
	struct proxy_cache	*pk = pc->cache;
	int			 r;

	if (!pk->filling)
		return;
	if (n > 0 && rf_buf_put(&pk->fbody, p, n) != 0) {
		cache_fill_stop(pk);
		return;
	}
	if (pc->resp != RESP_DONE)
		return;
	rf_http_head_init(&pk->fh, RF_HTTP_RESPONSE, RF_CACHE_HEAD_MAX);
	if (rf_http_head_parse(&pk->fh, rf_buf_ptr(&pk->fhead),
	    rf_buf_len(&pk->fhead)) == 0) {
		r = rf_cache_put(conf, pk->key, &pk->q, &pk->fh,
		    rf_buf_ptr(&pk->fhead), rf_buf_len(&pk->fhead),
		    rf_buf_ptr(&pk->fbody), rf_buf_len(&pk->fbody),
		    pk->resp_time);
		if (r == 0)
			verbose("device %s: cached %s (%zu bytes)", pc->device,
			    pc->what, rf_buf_len(&pk->fbody));
		else
			debug("device %s: %s not cached: %s", pc->device,
			    pc->what, rf_strerror(r));
	}
	cache_fill_stop(pk);
}

/* ----------------------------------------------------------- channel ---- */

static void
gone_free(struct proxy_conn *pc)
{
	debug2("device %s: channel of %s ended", pc->device, pc->peer);
	proxy_free(pc);
}

static void
proxy_channel_opened(void *arg)
{
	struct proxy_conn	*pc = arg;

	pc->ch_opened = 1;
	if (pc->state == PX_OPENING)
		pc->state = PX_FORWARD;
}

static void
proxy_channel_failed(void *arg, uint16_t err)
{
	struct proxy_conn	*pc = arg;

	pc->ch = NULL;
	if (pc->state == PX_GONE) {
		gone_free(pc);
		return;
	}
	pc->close_after = 1;
	if (pc->state != PX_OPENING)
		return;
	(void)page(pc, err == RF_WT_ERR_TIMEOUT ? 504 : 502,
	    wt_error_text(err), NULL, !pc->req_done);
}

static int
proxy_channel_data(void *arg, const void *p, size_t len)
{
	struct proxy_conn	*pc = arg;

	if (pc->state == PX_GONE) {
		gone_free(pc);
		return -1;
	}
	if (response_bytes(pc, p, len) != 0) {
		pc->ch = NULL;
		want_write(pc);
		return -1;
	}
	return 0;
}

static void
proxy_channel_eof(void *arg)
{
	struct proxy_conn	*pc = arg;

	pc->ch_eof = 1;
	/* Our CLOSE went: tunnel.c ends the channel, proxy_channel_closed. */
	if (pc->state == PX_GONE)
		return;
	if (pc->state == PX_UPGRADED) {
		pc->close_after = 1;
		pc->state = PX_CLOSING;
	} else if (pc->resp == RESP_HEAD)
		(void)bad_gateway(pc, "the device closed the connection "
		    "without a response");
	else if (pc->resp == RESP_BODY) {
		if (pc->rsp_framing != RF_HTTP_BODY_CLOSE)
			logit("device %s: response to %s %s cut short",
			    pc->device, pc->peer, pc->what);
		pc->resp = RESP_DONE;
		pc->close_after = 1;
	} else if (pc->resp != RESP_DONE) {
		/* Idle: the device ended a kept-alive channel. */
		rf_channel_abort(pc->ch);
		pc->ch = NULL;
	}
	want_write(pc);
}

static void
proxy_channel_closed(void *arg, uint16_t err)
{
	struct proxy_conn	*pc = arg;

	pc->ch = NULL;
	if (pc->state == PX_GONE) {
		gone_free(pc);
		return;
	}
	if (pc->state == PX_UPGRADED)
		pc->state = PX_CLOSING;
	else if (pc->resp == RESP_HEAD)
		(void)bad_gateway(pc, wt_error_text(err));
	else if (pc->resp == RESP_BODY) {
		if (pc->rsp_framing != RF_HTTP_BODY_CLOSE)
			logit("device %s: response to %s %s cut: %s",
			    pc->device, pc->peer, pc->what, wt_error_text(err));
		pc->resp = RESP_DONE;
		pc->close_after = 1;
	}
	if (pc->state == PX_OPENING || pc->state == PX_FORWARD)
		pc->close_after = pc->close_after || !pc->req_done;
	want_write(pc);
}

static void
proxy_channel_writable(void *arg)
{
	struct proxy_conn	*pc = arg;

	pc->ch_full = 0;
	want_write(pc);
}

/* ------------------------------------------------------ client tunnel -- */

static void	client_opened(void *);
static void	client_failed(void *, uint16_t);
static int	client_data(void *, const void *, size_t);
static void	client_eof(void *);
static void	client_closed(void *, uint16_t);

static const struct rf_channel_ops client_ops = {
	client_opened,
	client_failed,
	client_data,
	client_eof,
	client_closed,
	proxy_channel_writable,
};

/* The value of the only field called name, as a C string; else -1. */
static int
single_field(const struct rf_http_head *h, const char *name, char *out,
    size_t len)
{
	int	 i;

	out[0] = '\0';
	if (rf_http_count(h, name) != 1 || (i = rf_http_find(h, name, 0)) < 0)
		return -1;
	return rf_http_span_cstring(h, h->fields[i].value, out, len) == 0 ?
	    0 : -1;
}

/*
 * A client tunnel refused before 101: logged with who, where and why; the
 * reason goes in X-PTTH-Error too, where stock client tools look.
 */
static int
client_refuse(struct proxy_conn *pc, int status, const char *why,
    const char *extra)
{
	char	 hdr[512];

	logit("client tunnel to %s port %u for \"%s\" from %s refused: %d %s",
	    pc->device, pc->port, pc->user, pc->peer, status, why);
	snprintf(hdr, sizeof(hdr), "X-PTTH-Error: %s\r\n%s", why,
	    extra != NULL ? extra : "");
	return page_body(pc, status, why, hdr, 1);
}

/* Queues a WebSocket frame to the client; RF_ERR_* if it cannot be. */
static int
client_frame(struct proxy_conn *pc, uint8_t opcode, const void *p, size_t len)
{
	unsigned char	 hdr[RF_WS_HEADER_MAX];
	size_t		 hl;
	int		 r;

	if ((hl = rf_ws_frame_header(hdr, 1, opcode, len, NULL)) == 0)
		return RF_ERR_INVAL;
	if ((r = queue_out(pc, hdr, hl)) != 0)
		return r;
	return len > 0 ? queue_out(pc, p, len) : 0;
}

/*
 * Our close frame, once: 1000 when the device ended the stream, else 1011
 * (or what the client broke) with a reason; the channel goes with any
 * code but 1000.  The connection closes once the client's close is in
 * and the queue is out (client_done).
 */
static void
client_close(struct proxy_conn *pc, uint16_t code, const char *reason)
{
	unsigned char	 p[RF_WS_CONTROL_MAX];
	size_t		 n = 0;

	if (code != RF_WS_CLOSE_NORMAL && pc->ch != NULL) {
		rf_channel_abort(pc->ch);
		pc->ch = NULL;
	}
	if (pc->ws_close_sent)
		return;
	pc->ws_close_sent = 1;
	if (code != RF_WS_CLOSE_NORMAL)
		logit("client tunnel to %s port %u for \"%s\" from %s: closing "
		    "with %u: %s", pc->device, pc->port, pc->user, pc->peer,
		    code, reason);
	if (rf_ws_close_payload(p, code, reason, &n) != 0)
		n = 0;
	if (client_frame(pc, RF_WS_CLOSE, p, n) != 0)
		pc->close_after = 1;
	want_write(pc);
}

static const char *
client_fault_text(struct proxy_conn *pc, uint16_t err, char *buf, size_t len)
{
	switch (err) {
	case RF_WT_ERR_NOT_FORWARDED:
		snprintf(buf, len, "port %u not forwarded by the device",
		    pc->port);
		break;
	case RF_WT_ERR_CONN_REFUSED:
		snprintf(buf, len, "port %u refused the connection on the "
		    "device", pc->port);
		break;
	case RF_WT_ERR_TIMEOUT:
		snprintf(buf, len, "port %u: the device did not answer in time",
		    pc->port);
		break;
	default:
		snprintf(buf, len, "port %u: the device could not connect "
		    "(%s)", pc->port, rf_wt_error_name(err));
		break;
	}
	return buf;
}

static void
client_opened(void *arg)
{
	struct proxy_conn	*pc = arg;

	pc->ch_opened = 1;
	debug("client tunnel to %s port %u for \"%s\" from %s: channel open",
	    pc->device, pc->port, pc->user, pc->peer);
}

static void
client_failed(void *arg, uint16_t err)
{
	struct proxy_conn	*pc = arg;
	char			 why[120];

	pc->ch = NULL;
	if (pc->state == PX_GONE) {
		gone_free(pc);
		return;
	}
	client_close(pc, RF_WS_CLOSE_INTERNAL, client_fault_text(pc, err, why,
	    sizeof(why)));
}

/* The device's bytes, in messages of at most ws_frame bytes. */
static int
client_data(void *arg, const void *p, size_t len)
{
	struct proxy_conn	*pc = arg;
	const unsigned char	*b = p;
	size_t			 n;

	if (pc->state == PX_GONE) {
		gone_free(pc);
		return -1;
	}
	if (pc->ws_close_sent)
		return 0;	/* after an error close: dropped */
	pc->down += len;
	while (len > 0) {
		n = len > pc->ws_frame ? pc->ws_frame : len;
		if (n > pc->down_max)
			pc->down_max = n;
		if (client_frame(pc, RF_WS_BINARY, b, n) != 0) {
			pc->ch = NULL;
			pc->close_after = 1;
			want_write(pc);
			return -1;
		}
		b += n;
		len -= n;
	}
	return 0;
}

static void
client_eof(void *arg)
{
	struct proxy_conn	*pc = arg;

	pc->ch_eof = 1;
	/* If our CLOSE went, tunnel.c ends the channel: client_closed. */
	if (pc->state == PX_GONE)
		return;
	client_close(pc, RF_WS_CLOSE_NORMAL, NULL);
}

static void
client_closed(void *arg, uint16_t err)
{
	struct proxy_conn	*pc = arg;
	char			 why[120];

	pc->ch = NULL;
	if (pc->state == PX_GONE) {
		gone_free(pc);
		return;
	}
	if (pc->ws_close_sent)
		return;
	if (err == RF_WT_ERR_NONE && pc->ch_eof && pc->ws_close_rcvd)
		client_close(pc, RF_WS_CLOSE_NORMAL, NULL);
	else if (rf_tunnel_find(pc->device) == NULL)
		client_close(pc, RF_WS_CLOSE_INTERNAL, "the device went "
		    "offline");
	else {
		snprintf(why, sizeof(why), "port %u: the device closed the "
		    "connection (%s)", pc->port, rf_wt_error_name(err));
		client_close(pc, RF_WS_CLOSE_INTERNAL, why);
	}
}

/*
 * Our extension, if the client announced it: the answer's header line in
 * line, and ws_frame its frame size; else an empty line and the stock 2048
 * bytes.  Repeated headers count as a garbled one.
 */
static void
client_extension(struct proxy_conn *pc, char *line, size_t len)
{
	static const char	 name[] = "x-reflector-webtunnel-ext";
	struct rf_wt_ext	 ours, theirs;
	char			 v[128];
	int			 have;

	pc->ws_ext = 0;
	pc->ws_frame = RF_WT_STOCK_PAYLOAD_MAX;
	if ((have = rf_http_count(&pc->req, name) > 0) &&
	    single_field(&pc->req, name, v, sizeof(v)) != 0)
		v[0] = '\0';
	ours.frame = ours.window = PROXY_CLIENT_FRAME_IN;
	if (rf_wt_ext_answer(have ? v : NULL, &ours, &theirs, line,
	    len) == 0) {
		pc->ws_ext = 1;
		pc->ws_frame = theirs.frame;
	} else if (have)
		verbose("client tunnel to %s port %u for \"%s\" from %s: "
		    "unusable %s header \"%.60s\": plain protocol", pc->device,
		    pc->port, pc->user, pc->peer, RF_WT_EXT_HEADER, v);
}

/*
 * The checks of WEBTUNNEL.md §4 in order, then 101 and the channel.  The
 * upgrade must be a WebSocket one with nothing after its head but frames.
 */
static int
client_tunnel(struct proxy_conn *pc)
{
	const struct rf_conf		*conf = rf_worker_conf();
	const struct rf_http_head	*h = &pc->req;
	const struct rf_conf_user	*u;
	struct rf_tunnel		*t;
	struct rf_buf			 b;
	char				 v[1024];
	char				 accept[RF_WS_ACCEPT_LEN + 1];
	char				 extline[128];
	enum rf_auth_result		 ar;
	int				 r;

	pc->req_keep = 0;
	if (rf_http_request_framing(h) != RF_HTTP_BODY_NONE ||
	    !(h->conn & RF_HTTP_CONN_UPGRADE) || !h->has_upgrade ||
	    single_field(h, "upgrade", v, sizeof(v)) != 0 ||
	    strcasecmp(v, "websocket") != 0)
		return client_refuse(pc, 400, "a client tunnel is a WebSocket "
		    "upgrade without a body", NULL);
	if (single_field(h, "sec-websocket-version", v, sizeof(v)) != 0 ||
	    strcmp(v, "13") != 0)
		return client_refuse(pc, 400, "WebSocket version 13 is needed",
		    "Sec-WebSocket-Version: 13\r\n");
	if (single_field(h, "sec-websocket-key", v, sizeof(v)) != 0 ||
	    rf_ws_accept_key(v, accept) != 0)
		return client_refuse(pc, 400, "the WebSocket key is missing or "
		    "malformed", NULL);
	if (single_field(h, "x-webtunnel-remoteport", v, sizeof(v)) != 0 ||
	    strspn(v, "0123456789") != strlen(v) ||
	    (pc->port = rf_conf_port_parse(v)) == 0)
		return client_refuse(pc, 400, "X-WebTunnel-RemotePort must "
		    "name one port from 1 to 65535", NULL);
	if ((t = rf_tunnel_find(pc->device)) == NULL)
		return device_known(pc->device) ?
		    client_refuse(pc, 503, "Device offline: the device has no "
		    "tunnel to the reflector now", NULL) :
		    client_refuse(pc, 404, "Unknown device: no device of that "
		    "name is known to this reflector", NULL);
	if (rf_auth_peer_blocked(pc->peer))
		return client_refuse(pc, 429, "too many failed logins from "
		    "your address: wait a minute", "Retry-After: 60\r\n");
	if (rf_http_count(h, "authorization") > 1)
		return client_refuse(pc, 400, "more than one Authorization "
		    "header", NULL);
	if (single_field(h, "authorization", v, sizeof(v)) != 0)
		v[0] = '\0';
	ar = rf_auth_tool(conf, rf_worker_registry(), v, pc->user,
	    sizeof(pc->user), &u);
	explicit_bzero(v, sizeof(v));
	if (ar != RF_AUTH_OK) {
		if (ar == RF_AUTH_DENIED)
			rf_auth_peer_failed(pc->peer, "client tunnel",
			    pc->user);
		return client_refuse(pc, 401, ar == RF_AUTH_DENIED ?
		    "wrong credentials" : "credentials are needed: Basic, or "
		    "Bearer with a token", "WWW-Authenticate: Basic "
		    "realm=\"reflector\", charset=\"UTF-8\"\r\n");
	}
	if (!rf_auth_user_may(u, pc->device))
		return client_refuse(pc, 403, "you may not reach this device",
		    NULL);
	if (!rf_auth_port_may(conf, u, pc->device, pc->port)) {
		snprintf(v, sizeof(v), "port %u of this device is not open "
		    "to you", pc->port);
		return client_refuse(pc, 403, v, NULL);
	}
	if (pc->ch != NULL) {
		/* A kept-alive channel of an earlier request: not ours. */
		rf_channel_abort(pc->ch);
		pc->ch = NULL;
	}
	if ((r = rf_channel_open(t, (uint16_t)pc->port, &client_ops, pc,
	    &pc->ch)) != 0) {
		pc->ch = NULL;
		return client_refuse(pc, 503, "the device's tunnel has no free "
		    "channel", NULL);
	}
	pc->ch_opened = pc->ch_eof = pc->ch_full = pc->ch_paused = 0;
	client_extension(pc, extline, sizeof(extline));
	/* Connection: Upgrade alone, as stock peers compare it whole. */
	rf_buf_init(&b, 1024);
	r = rf_buf_putf(&b, "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n"
	    "Sec-WebSocket-Protocol: " RF_WT_SUBPROTO_CLIENT "\r\n%s\r\n",
	    accept, extline);
	if (r == 0)
		r = queue_out(pc, rf_buf_ptr(&b), rf_buf_len(&b));
	rf_buf_free(&b);
	if (r != 0)
		return -1;
	pc->state = PX_CLIENT;
	pc->rsp_status = 101;
	if (pc->ws_ext)
		logit("client tunnel to %s port %u for \"%s\" from %s opened, "
		    "extension 1: messages up to %zu bytes to the client",
		    pc->device, pc->port, pc->user, pc->peer, pc->ws_frame);
	else
		logit("client tunnel to %s port %u for \"%s\" from %s opened",
		    pc->device, pc->port, pc->user, pc->peer);
	return 0;
}

/* The client's frames, as far as the channel takes them. */
static int
client_pump(struct proxy_conn *pc)
{
	struct rf_ws_frame	 f;
	int			 r;

	while (!pc->ch_full && rf_buf_len(&pc->in) > 0) {
		r = rf_ws_frame_decode(&pc->in, 1, PROXY_CLIENT_FRAME_IN, &f);
		if (r == RF_ERR_SHORT)
			break;
		if (r != 0) {
			rf_buf_reset(&pc->in);
			client_close(pc, f.close_code != 0 ? f.close_code :
			    RF_WS_CLOSE_PROTOCOL, f.why != NULL ? f.why :
			    "bad frame");
			pc->ws_close_rcvd = 1;	/* nothing more is read */
			return 0;
		}
		switch (f.opcode) {
		case RF_WS_BINARY:
		case RF_WS_CONT:
			if (pc->ch == NULL || pc->ws_close_rcvd || f.len == 0)
				break;
			pc->up += f.len;
			if (f.len > pc->up_max)
				pc->up_max = f.len;
			r = rf_channel_write(pc->ch, f.payload, f.len);
			if (r == RF_ERR_AGAIN)
				pc->ch_full = 1;
			else if (r != 0)
				client_close(pc, RF_WS_CLOSE_INTERNAL,
				    "the device's tunnel failed");
			break;
		case RF_WS_PING:
			if (client_frame(pc, RF_WS_PONG, f.payload, f.len) != 0)
				return -1;
			break;
		case RF_WS_PONG:
			break;
		case RF_WS_CLOSE:
			if (pc->ws_close_rcvd)
				break;
			pc->ws_close_rcvd = 1;
			if (pc->ch != NULL)
				rf_channel_shutdown(pc->ch);
			/* Our close waits for the device's end, if to come. */
			if (pc->ch == NULL && !pc->ws_close_sent)
				client_close(pc, RF_WS_CLOSE_NORMAL, NULL);
			break;
		default:
			client_close(pc, RF_WS_CLOSE_UNSUPPORTED, "a client "
			    "tunnel carries binary messages only");
			break;
		}
	}
	rx_update(pc);
	return 0;
}

/* After progress() flushed: the end of a client tunnel, or more waiting. */
static int
client_done(struct proxy_conn *pc)
{
	if (pc->close_after)
		return -1;
	if (!pc->ws_close_sent)
		return 0;
	if (pc->ws_close_rcvd)
		return -1;
	if (!pc->ws_close_timer) {
		pc->ws_close_timer = 1;
		lws_set_timeout(pc->wsi, PROXY_LINGER_TIMEOUT,
		    PROXY_CLIENT_CLOSE_SECS);
	}
	return 0;
}

/* ------------------------------------------------------ connection ---- */

/* The browser's next request, on the same connection. */
static int
next_request(struct proxy_conn *pc)
{
	const struct rf_conf	*conf = rf_worker_conf();
	struct rf_worker_info	 wi;

	pc->state = PX_HEAD;
	pc->resp = RESP_NONE;
	pc->close_after = 0;
	pc->req_framing = RF_HTTP_BODY_NONE;
	cache_free(pc);
	pc->what[0] = '\0';
	rf_http_head_init(&pc->req, RF_HTTP_REQUEST, (size_t)conf->header_max);
	if (pc->conn != NULL)
		pc->conn->state = RF_CONN_IDLE;
	rf_worker_info(&wi);
	if (wi.draining)
		return -1;
	pc->head_deadline = 0;
	lws_set_timeout(pc->wsi, PENDING_TIMEOUT_HTTP_KEEPALIVE_IDLE,
	    conf->keepalive_timeout);
	return pump_request(pc);
}

/* The response is out: the next request, or the end. */
static int
transaction_done(struct proxy_conn *pc)
{
	pc->requests++;
	if (pc->conn != NULL)
		pc->conn->requests++;
	debug("device %s: %s %s -> %d", pc->device, pc->peer, pc->what,
	    pc->rsp_status);
	if (pc->close_after || !pc->req_keep)
		return -1;
	if (pc->ch != NULL && pc->ch_eof) {
		rf_channel_abort(pc->ch);
		pc->ch = NULL;
	}
	return next_request(pc);
}

/* Sends what is queued while the socket takes it. */
static int
flush_out(struct proxy_conn *pc)
{
	long	 n;

	while (rf_buf_len(&pc->out) > 0) {
		if ((n = rf_evloop_write(pc->wsi, rf_buf_ptr(&pc->out),
		    rf_buf_len(&pc->out))) < 0)
			return -1;
		if (n == 0)
			break;
		rf_buf_consume(&pc->out, (size_t)n);
	}
	if (rf_buf_len(&pc->out) == 0)
		rf_buf_compact(&pc->out);
	if (pc->ch_paused && pc->ch != NULL &&
	    rf_buf_len(&pc->out) <= PROXY_OUT_LOW) {
		debug2("device %s: %s: resuming the channel", pc->device,
		    pc->peer);
		rf_channel_pause(pc->ch, 0);
		pc->ch_paused = 0;
	}
	return 0;
}

/*
 * Everything that moves a connection on runs here, from WRITEABLE (and
 * after reads): input waiting for a full channel, the end of a response,
 * of a local answer, of the connection.  -1 closes it.
 */
static int
progress(struct proxy_conn *pc)
{
	if (flush_out(pc) != 0)
		return -1;
	if (!pc->ch_full && rf_buf_len(&pc->in) > 0 &&
	    pump_request(pc) != 0)
		return -1;
	rx_update(pc);
	if (rf_buf_len(&pc->out) > 0) {
		lws_callback_on_writable(pc->wsi);
		return 0;
	}
	switch (pc->state) {
	case PX_LOCAL:
		pc->requests++;
		if (pc->conn != NULL)
			pc->conn->requests++;
		return next_request(pc);
	case PX_CLOSING:
		if (!pc->linger)
			return -1;
		pc->state = PX_LINGER;
		rf_buf_reset(&pc->in);
		rx_update(pc);
		lws_set_timeout(pc->wsi, PROXY_LINGER_TIMEOUT,
		    PROXY_LINGER_SECS);
		return 0;
	case PX_UPGRADED:
		return pc->close_after ? -1 : 0;
	case PX_CLIENT:
		return client_done(pc);
	case PX_OPENING:
	case PX_FORWARD:
		if (pc->resp == RESP_DONE && (pc->req_done || pc->close_after))
			return transaction_done(pc);
		if (pc->ch == NULL && pc->close_after)
			return -1;
		return 0;
	default:
		return 0;
	}
}

static int
on_rx(struct proxy_conn *pc, const void *in, size_t len)
{
	if (pc->state == PX_LINGER) {
		pc->lingered += len;
		return pc->lingered > PROXY_LINGER_MAX ? -1 : 0;
	}
	if (rf_buf_put(&pc->in, in, len) != 0) {
		logit("device %s: %s sent more than can be held; closing",
		    pc->device, pc->peer);
		return -1;
	}
	return progress(pc);
}

/* For rf_evloop_tls_drain: whether lws would read for pc now. */
static int
can_read(void *arg)
{
	struct proxy_conn *pc = arg;

	return pc->wsi != NULL && !pc->dead && !pc->rx_off;
}

static int
rx_more(void *arg, const void *in, size_t len)
{
	return on_rx(arg, in, len);
}

/*
 * The records OpenSSL read ahead and holds (evloop.h): after each
 * delivery, and from flush() once reading starts again or the handshake
 * has ended (rf_proxy_want_read).
 */
static int
more(struct proxy_conn *pc)
{
	return rf_evloop_tls_drain(pc->wsi, can_read, rx_more, pc);
}

void
rf_proxy_want_read(struct lws *wsi)
{
	struct rf_proxy_session	*s = lws_wsi_user(wsi);

	if (s != NULL && s->pc != NULL)
		want_write(s->pc);
}

static void
gone_deadline(lws_sorted_usec_list_t *sul)
{
	struct proxy_conn	*pc = lws_container_of(sul, struct proxy_conn,
	    sul_gone);

	pc->gone_timer = 0;
	verbose("device %s: channel of %s did not end in %d s; aborting",
	    pc->device, pc->peer, PROXY_GONE_SECS);
	if (pc->ch != NULL)
		rf_channel_abort(pc->ch);
	proxy_free(pc);
}

/*
 * The browser's connection is gone.  An open channel gets CLOSE, like a
 * TCP FIN (lws raw sockets cannot half-close, so the read side has gone
 * too), and the record waits for the device to end it.
 */
static void
on_close(struct proxy_conn *pc)
{
	unsigned long long	 now = rf_now_ms();

	if (pc->state == PX_HEAD && pc->head_deadline != 0 &&
	    now >= pc->head_deadline)
		logit("device %s: %s sent no complete request head in %d s "
		    "(%zu bytes); closed", pc->device, pc->peer,
		    rf_worker_conf()->handshake_timeout, rf_buf_len(&pc->in));
	if (pc->state == PX_CLIENT) {
		logit("client tunnel to %s port %u for \"%s\" from %s closed "
		    "(%llu bytes up, %llu down)", pc->device, pc->port,
		    pc->user, pc->peer, pc->up, pc->down);
		/* What the extension changed, for the tests and for support. */
		debug("client tunnel to %s port %u for \"%s\" from %s: frames "
		    "of up to %zu bytes up, %zu down", pc->device, pc->port,
		    pc->user, pc->peer, pc->up_max, pc->down_max);
	}
	pc->wsi = NULL;
	pc->conn = NULL;
	rf_evloop_flush_cancel(rf_worker_loop(), &pc->flush);
	if (pc->ch == NULL) {
		proxy_free(pc);
		return;
	}
	if (!pc->ch_opened || pc->ch_eof) {
		rf_channel_abort(pc->ch);
		proxy_free(pc);
		return;
	}
	if (pc->ch_paused)
		rf_channel_pause(pc->ch, 0);
	rf_channel_shutdown(pc->ch);
	pc->state = PX_GONE;
	pc->gone_timer = 1;
	lws_sul_schedule(pc->ctx, 0, &pc->sul_gone, gone_deadline,
	    (lws_usec_t)PROXY_GONE_SECS * LWS_US_PER_SEC);
}

static struct proxy_conn *
proxy_new(struct lws *wsi)
{
	const struct rf_conf	*conf = rf_worker_conf();
	struct proxy_conn	*pc;
	struct rf_conn		*c;

	if ((pc = calloc(1, sizeof(*pc))) == NULL)
		return NULL;
	pc->wsi = wsi;
	pc->ctx = lws_get_context(wsi);
	pc->state = PX_HEAD;
	/* A whole head, or a client tunnel's largest frame, and one read. */
	rf_buf_init(&pc->in, ((size_t)conf->header_max > PROXY_CLIENT_FRAME_IN +
	    RF_WS_HEADER_MAX ? (size_t)conf->header_max :
	    PROXY_CLIENT_FRAME_IN + RF_WS_HEADER_MAX) + PROXY_IN_SLACK);
	rf_buf_init(&pc->out, PROXY_OUT_MAX);
	rf_buf_init(&pc->rhead, PROXY_RESP_HEAD_MAX);
	rf_http_head_init(&pc->req, RF_HTTP_REQUEST, (size_t)conf->header_max);
	pc->req_keep = 1;
	/* The first head has handshake_timeout from the start (TLS too). */
	pc->head_deadline = rf_now_ms() +
	    (unsigned long long)conf->handshake_timeout * 1000;
	lws_set_timeout(wsi, PROXY_HEAD_TIMEOUT, conf->handshake_timeout);
	/* worker.c's record, until rf_proxy_adopted says more. */
	if ((c = lws_get_opaque_user_data(wsi)) != NULL) {
		pc->conn = c;
		pc->tls = c->tls;
		snprintf(pc->device, sizeof(pc->device), "%s", c->device);
		snprintf(pc->peer, sizeof(pc->peer), "%s", c->peer);
	}
	return pc;
}

int
rf_proxy_adopted(struct lws *wsi, const char *device, const char *peer,
    int tls)
{
	struct rf_proxy_session	*s = lws_wsi_user(wsi);
	struct proxy_conn	*pc;

	if (s == NULL || (pc = s->pc) == NULL)
		return -1;
	snprintf(pc->device, sizeof(pc->device), "%s", device);
	snprintf(pc->peer, sizeof(pc->peer), "%s", peer);
	pc->tls = tls;
	debug2("device %s: browser connection from %s (%s)", device, peer,
	    tls ? "https" : "http");
	return 0;
}

int
rf_proxy_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len)
{
	struct rf_proxy_session	*s = user;
	struct proxy_conn	*pc = s != NULL ? s->pc : NULL;

	switch (reason) {
	case LWS_CALLBACK_RAW_ADOPT:
		if (s == NULL || (s->pc = proxy_new(wsi)) == NULL) {
			error("out of memory for a browser connection");
			return -1;
		}
		return 0;
	case LWS_CALLBACK_RAW_RX:
		if (pc == NULL || pc->dead || on_rx(pc, in, len) != 0)
			return -1;
		return more(pc);
	case LWS_CALLBACK_RAW_WRITEABLE:
		if (pc == NULL || pc->dead)
			return -1;
		return progress(pc);
	case LWS_CALLBACK_RAW_CLOSE:
		if (pc != NULL) {
			s->pc = NULL;
			on_close(pc);
		}
		return 0;
	default:
		return 0;
	}
}
