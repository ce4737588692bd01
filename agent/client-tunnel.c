/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * reflector-client's tunnels: one per local connection (an accepted TCP
 * socket, or stdin and stdout), each its own WebSocket to
 * wss://<device host>/ with subprotocol com.appinf.webtunnel.client/1.0
 * and X-WebTunnel-RemotePort (WEBTUNNEL.md §4), or with --connect a TLS
 * connection to the reflector's own host that asks for
 * "CONNECT <device host>:<port>" and then carries the raw stream.
 *
 * Lifecycle of a connection.  client_conn_new adopts the local fds into
 * lws as raw files (so that we do the read(2) and write(2) ourselves and
 * see a half-close as what it is) and starts the tunnel.  Bytes read
 * locally wait in to_ws until the handshake is done; then each goes out
 * in binary messages of at most 2048 bytes (a stock reflector may rely on
 * it; with the extension, below, up to the reflector's frame size), bytes
 * from the tunnel wait in to_local until the local side takes them.
 * Either queue above AGENT_Q_HIGH stops reading from the side that fills
 * it, until it is back under AGENT_Q_LOW.  When the local side ends
 * (read 0), what it sent goes out and the tunnel is closed with 1000;
 * when the tunnel ends, what it brought is written and the local side is
 * closed.  A failed handshake or a close with any other code is reported
 * once, in words, through client_msg; the connection is then over and
 * the program's on_end decides what that means (client.c).
 *
 * The extension (reflector-webtunnel(7), "Client tunnels").  The upgrade
 * announces RF_WT_EXT_HEADER with the largest message we take; only a 101
 * that answers it with a valid value lets our messages grow to the frame
 * size the reflector announced, so a stock reflector, which sends no such
 * header, keeps getting 2048 bytes at most, and an unusable answer is the
 * plain protocol too, never a failed handshake.  A client tunnel carries
 * one stream and no CREDIT frames: its flow control stays TCP's and the
 * queues' marks above, so the window= parameter, which the one grammar of
 * the header requires, is sent equal to the frame size and ignored.  What
 * we receive needs no cap: lws hands a message over in pieces of at most
 * rx_buffer_size and to_local is bounded by its marks, whatever the size
 * of the messages.
 *
 * Races.  lws may call back from inside lws_client_connect_via_info (a
 * connection refused at once), so conn->ws is set through ci.pwsi and a
 * connection is never freed from inside its own connect call.  A wsi we
 * close ourselves is detached first (opaque NULL): its later callbacks
 * find no connection and do nothing.
 */
#include <sys/types.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <openssl/x509.h>

#include "agent-int.h"
#include "client.h"
#include "err.h"
#include "http.h"
#include "log.h"
#include "ws.h"
#include "wsclient.h"
#include "wt.h"

#ifndef RF_VERSION
#define RF_VERSION	"0"
#endif

/* A message is made only where this much room is left in the batch. */
#define WS_TX_MIN		512
#define LOCAL_IO_MAX		(64 * 1024)
#define CONNECT_HEAD_MAX	(16 * 1024)

static int	tunnel_cb(struct lws *, enum lws_callback_reasons, void *,
		    void *, size_t);
static int	local_cb(struct lws *, enum lws_callback_reasons, void *,
		    void *, size_t);
static int	connect_cb(struct lws *, enum lws_callback_reasons, void *,
		    void *, size_t);

const struct lws_protocols client_protocols[] = {
	/* Batches are written past lws (rf_wsc_batch_send); lws, a PING. */
	{ CLIENT_PROTO, tunnel_cb, 0, 64 * 1024, 0, NULL, 0 },
	{ CLIENT_LOCAL_PROTO, local_cb, 0, 0, 0, NULL, 0 },
	{ CLIENT_LISTEN_PROTO, client_listen_cb, 0, 0, 0, NULL, 0 },
	{ CLIENT_CONNECT_PROTO, connect_cb, 0, 64 * 1024, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* ------------------------------------------------------------ helpers -- */

static void
detach(struct lws **wsip)
{
	if (*wsip == NULL)
		return;
	lws_set_opaque_user_data(*wsip, NULL);
	lws_set_timeout(*wsip, 1, LWS_TO_KILL_ASYNC);
	*wsip = NULL;
}

static void
rearm_out(lws_sorted_usec_list_t *sul)
{
	struct client_conn *c = lws_container_of(sul, struct client_conn,
	    sul_out);

	if (c->lout != NULL)
		lws_callback_on_writable(c->lout);
}

/*
 * Asks for POLLOUT on the local side.  From inside its own WRITEABLE
 * callback that would be lost: lws 4.1 clears POLLOUT of a raw file after
 * the callback returns.  So it is done from a timer, right after.
 */
static void
want_local_write(struct client_conn *c, int from_writeable)
{
	if (c->lout == NULL)
		return;
	if (!from_writeable)
		lws_callback_on_writable(c->lout);
	else
		lws_sul_schedule(c->cl->ctx, 0, &c->sul_out, rearm_out, 1);
}

/* Frees the connection once both sides are gone, telling on_end first. */
static void
conn_maybe_free(struct client_conn *c, int fatal)
{
	struct client *cl = c->cl;

	if (c->ws != NULL || c->lin != NULL || c->lout != NULL ||
	    c->in_connect) {
		c->fatal_end |= fatal;
		return;
	}
	fatal |= c->fatal_end;
	debug("connection %u over: %llu bytes up, %llu down", c->serial,
	    c->bytes_up, c->bytes_down);
	TAILQ_REMOVE(&cl->conns, c, entry);
	lws_sul_cancel(&c->sul_out);
	rf_wsc_q_clear(&c->to_ws);
	rf_buf_free(&c->tx);
	rf_wsc_q_clear(&c->to_local);
	rf_tlsraw_free(c->tls);
	free(c->head);
	if (cl->on_end != NULL)
		cl->on_end(cl, c, c->failed, fatal);
	free(c);
}

static void
local_close(struct client_conn *c)
{
	if (c->lout == c->lin)
		c->lout = NULL;
	detach(&c->lin);
	detach(&c->lout);
}

/* The tunnel is gone: flush what it brought, then close the local side. */
static void
tunnel_gone(struct client_conn *c, int fatal)
{
	c->ws = NULL;
	c->state = CONN_DONE;
	if (c->to_local.bytes > 0 && c->lout != NULL) {
		lws_callback_on_writable(c->lout);
		/* Nothing more to read: the tunnel cannot take it. */
		if (c->lin != NULL && c->lin != c->lout)
			detach(&c->lin);
		else if (c->lin != NULL && !c->lin_paused) {
			c->lin_paused = 1;
			lws_rx_flow_control(c->lin, 0);
		}
		return;
	}
	local_close(c);
	conn_maybe_free(c, fatal);
}

/* Prints an error about this connection, once. */
static void
conn_fail(struct client_conn *c, const char *fmt, ...)
{
	struct client *cl = c->cl;
	char buf[512];
	va_list ap;

	if (c->failed)
		return;
	c->failed = 1;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	client_msg("%s port %u: %s", cl->t.host, cl->t.port, buf);
}

/*
 * The words for a refused handshake.  Returns 1 if it is fatal: no later
 * connection would fare better without the user doing something.
 */
static int
report_failure(struct client_conn *c, const struct rf_wsc_failure *f)
{
	const struct client_target *t = &c->cl->t;
	char why[200];

	why[0] = '\0';
	if (f->reason[0] != '\0')
		snprintf(why, sizeof(why), ": %s", f->reason);
	if (f->proxy) {
		char text[300];

		rf_wsc_failure_text(f, NULL, "the -P URL and proxy.username "
		    "and proxy.password in client.yml", text, sizeof(text));
		conn_fail(c, "%s", text);
		return 1;
	}
	switch (f->status) {
	case 0:
		if (c->tls_err[0] != '\0' || (f->tls &&
		    (strstr(f->detail, "cert") != NULL ||
		    strstr(f->detail, "X509") != NULL))) {
			conn_fail(c, "the certificate of %s:%d is not trusted "
			    "for %s (%s); give its CA with -c or ca_file",
			    t->connect_host, t->connect_port,
			    c->cl->use_connect ? t->portal : t->host,
			    c->tls_err[0] != '\0' ? c->tls_err : f->detail);
			return 1;
		}
		if (f->tls) {
			conn_fail(c, "TLS with %s:%d failed: %s",
			    t->connect_host, t->connect_port, f->detail);
			return 1;
		}
		conn_fail(c, "cannot reach the reflector at %s:%d: %s",
		    t->connect_host, t->connect_port, f->detail);
		return 0;
	case 401:
		conn_fail(c, "the reflector refused the credentials (401 "
		    "Unauthorized%s): check the user name and password, or "
		    "the token", why);
		return 1;
	case 403:
		conn_fail(c, "access denied (403 Forbidden%s)", why);
		return 1;
	case 404:
		conn_fail(c, "unknown device %s (404 Not Found%s)", t->id, why);
		return 1;
	case 429:
		conn_fail(c, "too many failed logins from this address (429%s); "
		    "wait a minute", why);
		return 1;
	case 503:
		conn_fail(c, "device %s is offline (503 Service Unavailable%s)",
		    t->id, why);
		return 0;
	case 502:
	case 504:
		conn_fail(c, "the reflector could not open port %u on device "
		    "%s (%d%s)", t->port, t->id, f->status, why);
		return 0;
	default:
		conn_fail(c, "the reflector answered %d%s", f->status, why);
		return f->status >= 400 && f->status < 500;
	}
}

/* The reflector took the connection and never finished the handshake. */
static void
handshake_late(struct client_conn *c)
{
	const struct client_target *t = &c->cl->t;

	conn_fail(c, "no answer from the reflector at %s:%d to the %s "
	    "within %d s (connect_timeout)", t->connect_host, t->connect_port,
	    c->cl->use_connect ? "CONNECT request" : "upgrade request",
	    c->cl->connect_timeout);
}

/* A close code and reason from the reflector; 0 if it was a normal end. */
static int
report_close(struct client_conn *c, const unsigned char *in, size_t len)
{
	char reason[RF_WS_REASON_MAX + 1];
	unsigned int code;
	size_t i, n;

	if (len < 2)
		return 0;
	code = (unsigned int)in[0] << 8 | in[1];
	if (code == 1000 || code == 1001)
		return 0;
	n = len - 2 < sizeof(reason) - 1 ? len - 2 : sizeof(reason) - 1;
	for (i = 0; i < n; i++)
		reason[i] = in[2 + i] < 0x20 || in[2 + i] == 0x7f ? '?' :
		    (char)in[2 + i];
	reason[n] = '\0';
	conn_fail(c, "the reflector closed the tunnel: %s (close code %u)",
	    n > 0 ? reason : "no reason given", code);
	return 1;
}

/* ---------------------------------------------------------- the local -- */

static void
local_read(struct client_conn *c)
{
	unsigned char buf[LOCAL_IO_MAX];
	ssize_t n;

	n = read(c->in_fd, buf, sizeof(buf));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (n == -1)
			debug("connection %u: read: %s", c->serial,
			    strerror(errno));
		c->local_eof = 1;
		/*
		 * A socket's EOF may be a whole close: the tunnel (which
		 * cannot half-close) goes once what was read is out.  stdin
		 * is only half of it: the answer still has its way out.
		 */
		if (c->in_fd == c->out_fd)
			c->close_ws = 1;
		if (c->lin != NULL && !c->lin_paused) {
			c->lin_paused = 1;
			lws_rx_flow_control(c->lin, 0);
		}
		if (c->state == CONN_DONE) {
			local_close(c);
			conn_maybe_free(c, 0);
		} else if (c->ws != NULL && c->state == CONN_OPEN)
			lws_callback_on_writable(c->ws);
		return;
	}
	if (rf_wsc_q_put(&c->to_ws, buf, (size_t)n) != 0) {
		conn_fail(c, "out of memory");
		local_close(c);
		if (c->ws != NULL)
			lws_set_timeout(c->ws, 1, LWS_TO_KILL_ASYNC);
		return;
	}
	c->bytes_up += (size_t)n;
	if (c->ws != NULL && c->state == CONN_OPEN)
		lws_callback_on_writable(c->ws);
	if (c->to_ws.bytes > AGENT_Q_HIGH && !c->lin_paused) {
		c->lin_paused = 1;
		lws_rx_flow_control(c->lin, 0);
	}
}

/* Writes what the tunnel brought; 0, or -1 when the local side is gone. */
static int
local_write(struct client_conn *c)
{
	const unsigned char *p;
	size_t n;
	ssize_t w;

	while ((n = rf_wsc_q_peek(&c->to_local, &p)) > 0) {
		w = write(c->out_fd, p, n);
		if (w == -1 && (errno == EAGAIN || errno == EINTR))
			break;
		if (w == -1) {
			debug("connection %u: write: %s", c->serial,
			    strerror(errno));
			return -1;
		}
		rf_wsc_q_drop(&c->to_local, (size_t)w);
	}
	if (c->ws_paused && c->ws != NULL && c->to_local.bytes < AGENT_Q_LOW) {
		c->ws_paused = 0;
		lws_rx_flow_control(c->ws, 1);
	}
	if (c->to_local.bytes > 0) {
		want_local_write(c, 1);
		return 0;
	}
	if (c->state == CONN_DONE) {
		local_close(c);
		conn_maybe_free(c, 0);
	}
	return 0;
}

/*
 * The local side went away by itself (an error, a hang-up).  A stdin that
 * hangs up is only an EOF: the answer still has stdout to go to.
 */
static void
local_lost(struct client_conn *c, struct lws *wsi)
{
	int out_gone = c->lout == wsi;

	if (c->lin == wsi)
		c->lin = NULL;
	if (c->lout == wsi)
		c->lout = NULL;
	c->local_eof = 1;
	if (!out_gone) {
		if (c->state == CONN_DONE && c->to_local.bytes == 0)
			local_close(c);
		conn_maybe_free(c, 0);
		return;
	}
	rf_wsc_q_clear(&c->to_local);
	detach(&c->lin);
	c->close_ws = 1;
	if (c->ws != NULL && c->state == CONN_OPEN)
		lws_callback_on_writable(c->ws);
	else if (c->ws != NULL) {
		detach(&c->ws);
		c->state = CONN_DONE;
	}
	conn_maybe_free(c, 0);
}

static int
local_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct client_conn *c = lws_get_opaque_user_data(wsi);

	(void)user;
	(void)in;
	(void)len;
	if (c == NULL)
		return reason == LWS_CALLBACK_RAW_RX_FILE ||
		    reason == LWS_CALLBACK_RAW_WRITEABLE_FILE ? -1 : 0;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (wsi == c->lin)
			local_read(c);
		break;
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		if (wsi == c->lout && local_write(c) != 0) {
			lws_set_opaque_user_data(wsi, NULL);
			local_lost(c, wsi);
			return -1;
		}
		break;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		lws_set_opaque_user_data(wsi, NULL);
		local_lost(c, wsi);
		break;
	default:
		break;
	}
	return 0;
}

/* --------------------------------------------------------- the tunnel -- */

static int
append_headers(struct client_conn *c, char **p, size_t room)
{
	struct client *cl = c->cl;
	struct rf_wt_ext ours;
	char ext[128];
	int n;

	ours.frame = ours.window = CLIENT_EXT_FRAME;
	n = rf_wt_ext_line(&ours, ext, sizeof(ext)) != 0 ? -1 :
	    snprintf(*p, room, "Authorization: %s\r\n"
	    "X-WebTunnel-RemotePort: %u\r\n%s"
	    "User-Agent: reflector-client/%s\r\n", cl->authorization,
	    cl->t.port, ext, RF_VERSION);
	if (n < 0 || (size_t)n >= room) {
		conn_fail(c, "the handshake headers do not fit");
		return -1;
	}
	*p += n;
	return 0;
}

/*
 * Messages go out in batches written with rf_evloop_write (never left
 * with lws, which would then stop reading the tunnel): what the socket
 * does not take waits in c->tx and goes first next time.  A PING is left
 * to lws only while nothing waits there.
 */
static int
tunnel_writeable(struct client_conn *c, struct lws *wsi)
{
	unsigned char ping[LWS_PRE + 1], *p;
	struct rf_wsc_batch b;
	size_t n, room;
	long w;

	if ((w = rf_wsc_tx_flush(wsi, NULL, &c->tx)) < 0)
		return -1;
	if (w > 0)
		c->ka.last_tx = lws_now_usecs();
	if (rf_buf_len(&c->tx) > 0) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (c->ping_due) {
		c->ping_due = 0;
		if (lws_write(wsi, ping + LWS_PRE, 0, LWS_WRITE_PING) < 0)
			return -1;
		c->ka.last_tx = lws_now_usecs();
	}
	rf_wsc_batch_init(&b, c->cl->txbuf, sizeof(c->cl->txbuf));
	while (c->to_ws.bytes > 0 && rf_buf_len(&c->tx) == 0) {
		while ((p = rf_wsc_batch_room(&b, WS_TX_MIN, &room)) != NULL &&
		    (n = rf_wsc_q_get(&c->to_ws, p, room < c->ws_tx_max ?
		    room : c->ws_tx_max)) > 0)
			if (rf_wsc_batch_add(&b, n) != 0)
				return -1;
		if ((w = rf_wsc_batch_send(wsi, NULL, &b, &c->tx)) < 0)
			return -1;
		if (w > 0)
			c->ka.last_tx = lws_now_usecs();
	}

	if (c->lin_paused && !c->local_eof && c->lin != NULL &&
	    c->to_ws.bytes < AGENT_Q_LOW) {
		c->lin_paused = 0;
		lws_rx_flow_control(c->lin, 1);
	}
	if (c->to_ws.bytes > 0 || rf_buf_len(&c->tx) > 0) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (c->close_ws) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
		return -1;
	}
	return 0;
}

/*
 * The reflector's answer to our announcement, from the 101: messages to it
 * may grow to the frame size it announced; without a valid answer they
 * stay at 2048 bytes.
 */
static void
check_extension(struct client_conn *c, struct lws *wsi)
{
	struct rf_wt_ext theirs;
	char v[128];
	int r;

	c->ext = 0;
	c->ws_tx_max = CLIENT_WS_MSG_MAX;
	if ((r = rf_wsc_ext_read(wsi, &theirs, v, sizeof(v))) == 0) {
		c->ext = 1;
		c->ws_tx_max = theirs.frame;
	} else if (r != RF_ERR_NOTFOUND)
		verbose("connection %u: unusable %s answer \"%.60s\": plain "
		    "protocol", c->serial, RF_WT_EXT_HEADER, v);
}

/* Bytes from the tunnel for the local side. */
static int
tunnel_rx(struct client_conn *c, struct lws *wsi, const void *in,
    size_t len)
{
	c->ka.last_rx = lws_now_usecs();
	if (c->lout == NULL)
		return 0;		/* the local side is gone */
	if (rf_wsc_q_put(&c->to_local, in, len) != 0) {
		conn_fail(c, "out of memory");
		return -1;
	}
	c->bytes_down += len;
	lws_callback_on_writable(c->lout);
	if (c->to_local.bytes > AGENT_Q_HIGH && !c->ws_paused) {
		c->ws_paused = 1;
		lws_rx_flow_control(wsi, 0);
	}
	return 0;
}

static int
tunnel_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct client_conn *c = lws_get_opaque_user_data(wsi);
	struct rf_wsc_failure f;
	char why[256];
	int err;

	if (c == NULL)
		return reason == LWS_CALLBACK_CLIENT_WRITEABLE ? -1 : 0;
	switch (reason) {
	case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
		/*
		 * Comes here for every connection (protocols[0]): only to
		 * keep OpenSSL's reason, which lws does not pass on.  The
		 * verdict stays OpenSSL's.
		 */
		if (len == 0 && user != NULL && c->tls_err[0] == '\0') {
			err = X509_STORE_CTX_get_error(user);
			snprintf(c->tls_err, sizeof(c->tls_err), "%s",
			    X509_verify_cert_error_string(err));
		}
		return 0;
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		return append_headers(c, (char **)in, len);
	case LWS_CALLBACK_CLIENT_FILTER_PRE_ESTABLISH:
		if (rf_wsc_check_subprotocol(wsi, CLIENT_PROTO, why,
		    sizeof(why)) != 0) {
			conn_fail(c, "%s: is %s a reflector?", why,
			    c->cl->t.connect_host);
			return -1;
		}
		check_extension(c, wsi);
		break;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		c->ws = wsi;
		c->state = CONN_OPEN;
		rf_wsc_ka_start(&c->ka, c->cl->keepalive, lws_now_usecs());
		if (c->ext)
			verbose("connection %u: tunnel to %s port %u open, "
			    "extension 1: messages up to %zu bytes to the "
			    "reflector, %u from it", c->serial, c->cl->t.host,
			    c->cl->t.port, c->ws_tx_max,
			    (unsigned)CLIENT_EXT_FRAME);
		else
			verbose("connection %u: tunnel to %s port %u open, "
			    "plain protocol: messages up to %d bytes",
			    c->serial, c->cl->t.host, c->cl->t.port,
			    CLIENT_WS_MSG_MAX);
		if (c->to_ws.bytes > 0 || c->close_ws)
			lws_callback_on_writable(wsi);
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		lws_set_opaque_user_data(wsi, NULL);
		if (!c->failed) {
			rf_wsc_failure_read(wsi, in, &f);
			tunnel_gone(c, report_failure(c, &f));
		} else
			tunnel_gone(c, 1);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		return tunnel_rx(c, wsi, in, len);
	case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
		c->ka.last_rx = lws_now_usecs();
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return tunnel_writeable(c, wsi);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		report_close(c, in, len);
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		lws_set_opaque_user_data(wsi, NULL);
		tunnel_gone(c, 0);
		break;
	case LWS_CALLBACK_WSI_DESTROY:
		/*
		 * lws 4.1.6 ends a client whose upgrade is never answered (its
		 * timeout) with neither CONNECTION_ERROR nor CLOSED: without
		 * this the connection would wait for good.
		 */
		if (c->ws != wsi)
			break;
		lws_set_opaque_user_data(wsi, NULL);
		if (c->state == CONN_CONNECTING)
			handshake_late(c);
		tunnel_gone(c, 0);
		break;
	default:
		break;
	}
	return 0;
}

/* ------------------------------------------------------------ CONNECT -- */

/*
 * The CONNECT request, the first bytes on the connection: through TLS if
 * it has it, else what the socket does not take waits in c->tx.
 */
static int
connect_put(struct client_conn *c, struct lws *wsi, const unsigned char *p,
    size_t n)
{
	long w;

	if (c->tls == NULL) {
		if ((w = rf_evloop_write(wsi, p, n)) < 0 || ((size_t)w < n &&
		    rf_buf_put(&c->tx, p + w, n - (size_t)w) != 0))
			return -1;
		if (rf_buf_len(&c->tx) > 0)
			lws_callback_on_writable(wsi);
		return 0;
	}
	if (rf_tlsraw_write(c->tls, p, n) != 0) {
		conn_fail(c, "%s", rf_tlsraw_error(c->tls));
		return -1;
	}
	return rf_tlsraw_flush(c->tls, wsi);
}

static int
connect_request(struct client_conn *c, struct lws *wsi)
{
	struct client *cl = c->cl;
	unsigned char buf[LWS_PRE + 2048];
	int n;

	n = snprintf((char *)buf + LWS_PRE, sizeof(buf) - LWS_PRE,
	    "CONNECT %s:%u HTTP/1.1\r\nHost: %s:%u\r\n"
	    "Proxy-Authorization: %s\r\nUser-Agent: reflector-client/%s\r\n"
	    "\r\n", cl->t.host, cl->t.port, cl->t.host, cl->t.port,
	    cl->authorization, RF_VERSION);
	if (n < 0 || (size_t)n >= sizeof(buf) - LWS_PRE) {
		conn_fail(c, "the CONNECT request does not fit");
		return -1;
	}
	c->request_sent = 1;
	n = connect_put(c, wsi, buf + LWS_PRE, (size_t)n);
	explicit_bzero(buf, sizeof(buf));
	return n;
}

/* The reflector's answer to CONNECT, as it arrives. */
static int
connect_answer(struct client_conn *c, const void *in, size_t len)
{
	struct rf_http_head *h;
	struct rf_wsc_failure f;
	unsigned char *p;
	int r, i;

	if (c->headlen + len > CONNECT_HEAD_MAX) {
		conn_fail(c, "the reflector's answer to CONNECT is too long");
		return -1;
	}
	if ((p = realloc(c->head, c->headlen + len)) == NULL) {
		conn_fail(c, "out of memory");
		return -1;
	}
	c->head = p;
	memcpy(c->head + c->headlen, in, len);
	c->headlen += len;
	if ((h = malloc(sizeof(*h))) == NULL) {
		conn_fail(c, "out of memory");
		return -1;
	}
	rf_http_head_init(h, RF_HTTP_RESPONSE, CONNECT_HEAD_MAX);
	r = rf_http_head_parse(h, c->head, c->headlen);
	if (r == RF_ERR_SHORT) {
		free(h);
		return 0;
	}
	if (r != 0) {
		conn_fail(c, "the reflector's answer to CONNECT is not HTTP: "
		    "%s", h->error != NULL ? h->error : "malformed");
		free(h);
		return -1;
	}
	if (h->status / 100 != 2) {
		memset(&f, 0, sizeof(f));
		f.status = h->status;
		if ((i = rf_http_find(h, "X-PTTH-Error", 0)) >= 0 ||
		    (i = rf_http_find(h, "X-WebTunnel-Error", 0)) >= 0)
			(void)rf_http_span_cstring(h, h->fields[i].value,
			    f.reason, sizeof(f.reason));
		free(h);
		report_failure(c, &f);
		return -1;
	}
	c->state = CONN_OPEN;
	rf_wsc_ka_start(&c->ka, c->cl->keepalive, lws_now_usecs());
	verbose("connection %u: CONNECT to %s port %u open", c->serial,
	    c->cl->t.host, c->cl->t.port);
	/* Whatever came after the head is the device's. */
	r = 0;
	if (c->headlen > h->len && c->lout != NULL) {
		r = rf_wsc_q_put(&c->to_local, c->head + h->len,
		    c->headlen - h->len);
		c->bytes_down += c->headlen - h->len;
		lws_callback_on_writable(c->lout);
	}
	free(h);
	free(c->head);
	c->head = NULL;
	c->headlen = 0;
	return r;
}

static int
connect_writeable(struct client_conn *c, struct lws *wsi)
{

	if (c->tls != NULL) {
		if (rf_tlsraw_flush(c->tls, wsi) != 0)
			return -1;
		if (!rf_tlsraw_ready(c->tls))
			return 0;	/* the handshake is still going */
	}
	if (!c->request_sent)
		return connect_request(c, wsi);
	if (rf_wsc_tx_flush(wsi, NULL, &c->tx) < 0)
		return -1;
	if (rf_buf_len(&c->tx) > 0) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (c->state != CONN_OPEN)
		return 0;
	if (rf_tlsraw_q_write(c->tls, wsi, &c->to_ws) < 0) {
		if (c->tls != NULL)
			conn_fail(c, "%s", rf_tlsraw_error(c->tls));
		return -1;
	}
	if (c->lin_paused && !c->local_eof && c->lin != NULL &&
	    c->to_ws.bytes < AGENT_Q_LOW) {
		c->lin_paused = 0;
		lws_rx_flow_control(c->lin, 1);
	}
	if (c->to_ws.bytes > 0) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (!c->close_ws)
		return 0;
	/* The end: a close_notify first, and out before the close. */
	return rf_tlsraw_finish(c->tls, wsi) == 0 ? 0 : -1;
}

/* Plain bytes from the reflector: its answer to CONNECT, then the stream. */
static int
connect_rx(struct client_conn *c, struct lws *wsi, const void *in, size_t len)
{
	if (c->state != CONN_CONNECTING)
		return tunnel_rx(c, wsi, in, len);
	if (connect_answer(c, in, len) != 0) {
		c->failed = 1;
		return -1;
	}
	if (c->to_ws.bytes > 0 || c->close_ws)
		lws_callback_on_writable(wsi);
	return 0;
}

/*
 * Ciphertext from an https:// reflector: the handshake moves on (and the
 * CONNECT goes out once it is done), or the plaintext goes to connect_rx.
 */
static int
connect_tls_rx(struct client_conn *c, struct lws *wsi, const void *in,
    size_t len)
{
	unsigned char buf[LOCAL_IO_MAX];
	struct rf_wsc_failure f;
	int was_ready = rf_tlsraw_ready(c->tls), n;

	if (rf_tlsraw_feed(c->tls, in, len) != 0) {
		memset(&f, 0, sizeof(f));
		f.tls = 1;
		snprintf(f.detail, sizeof(f.detail), "%s",
		    rf_tlsraw_error(c->tls));
		report_failure(c, &f);
		return -1;
	}
	if (!was_ready && rf_tlsraw_ready(c->tls))
		lws_callback_on_writable(wsi);
	while ((n = rf_tlsraw_read(c->tls, buf, sizeof(buf))) > 0)
		if (connect_rx(c, wsi, buf, (size_t)n) != 0)
			return -1;
	if (n == RF_ERR_TLS) {
		conn_fail(c, "%s", rf_tlsraw_error(c->tls));
		return -1;
	}
	if (n == RF_ERR_EOF)
		return -1;	/* close_notify: the close does the rest */
	return rf_tlsraw_flush(c->tls, wsi);
}

/* TLS of our own to an https:// reflector (tlsraw.h says why). */
static int
connect_tls_start(struct client_conn *c, struct lws *wsi)
{
	if ((c->tls = rf_tlsraw_new(c->cl->connect_tls, c->cl->portal_name,
	    "http/1.1")) == NULL) {
		conn_fail(c, "cannot start TLS");
		return -1;
	}
	return rf_tlsraw_flush(c->tls, wsi);
}

static int
connect_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct client_conn *c = lws_get_opaque_user_data(wsi);
	struct rf_wsc_failure f;

	(void)user;
	if (c == NULL)
		return reason == LWS_CALLBACK_RAW_RX ||
		    reason == LWS_CALLBACK_RAW_WRITEABLE ? -1 : 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		lws_set_opaque_user_data(wsi, NULL);
		rf_wsc_failure_read(NULL, in, &f);
		tunnel_gone(c, report_failure(c, &f));
		break;
	case LWS_CALLBACK_RAW_CONNECTED:
		c->ws = wsi;
		if (c->cl->connect_tls != NULL)
			return connect_tls_start(c, wsi);
		lws_callback_on_writable(wsi);
		break;
	case LWS_CALLBACK_RAW_RX:
		if (c->tls != NULL)
			return connect_tls_rx(c, wsi, in, len);
		return connect_rx(c, wsi, in, len);
	case LWS_CALLBACK_RAW_WRITEABLE:
		return connect_writeable(c, wsi);
	case LWS_CALLBACK_RAW_CLOSE:
		lws_set_opaque_user_data(wsi, NULL);
		if (c->state == CONN_CONNECTING && !c->failed)
			conn_fail(c, "the reflector closed the connection "
			    "before answering CONNECT");
		tunnel_gone(c, c->failed && c->state == CONN_CONNECTING);
		break;
	default:
		break;
	}
	return 0;
}

/* -------------------------------------------------------- connections -- */

static struct lws *
adopt(struct client *cl, int fd, struct client_conn *c)
{
	lws_adopt_desc_t ad;

	memset(&ad, 0, sizeof(ad));
	ad.vh = cl->vh;
	ad.type = LWS_ADOPT_RAW_FILE_DESC;
	ad.fd.filefd = fd;
	ad.vh_prot_name = CLIENT_LOCAL_PROTO;
	ad.opaque = c;
	return lws_adopt_descriptor_vhost_via_info(&ad);
}

static void
tunnel_open(struct client_conn *c)
{
	struct client *cl = c->cl;
	struct lws_client_connect_info ci;
	struct lws *wsi;

	memset(&ci, 0, sizeof(ci));
	ci.context = cl->ctx;
	ci.vhost = cl->vh;
	ci.address = cl->t.connect_host;
	ci.port = cl->t.connect_port;
	ci.opaque_user_data = c;
	if (cl->use_connect) {
		/*
		 * The reflector's own host: CONNECT is not for device hosts.
		 * Its TLS is ours (connect_tls_start), not lws's.
		 */
		ci.host = cl->t.portal;
		ci.method = "RAW";
		ci.local_protocol_name = CLIENT_CONNECT_PROTO;
	} else {
		ci.ssl_connection = cl->t.tls ? LCCSCF_USE_SSL : 0;
		ci.host = cl->t.host_header;
		ci.origin = cl->t.host_header;
		ci.path = "/";
		ci.protocol = CLIENT_PROTO;
		ci.local_protocol_name = CLIENT_PROTO;
		ci.ietf_version_or_minus_one = -1;
	}
	debug("connection %u: connecting to %s:%d for %s", c->serial,
	    cl->t.connect_host, cl->t.connect_port, ci.host);
	/*
	 * On a failure lws may already have called CONNECTION_ERROR, which
	 * detached c; if not, the failure is ours to report.
	 */
	c->deadline = lws_now_usecs() + (int64_t)cl->connect_timeout *
	    LWS_US_PER_SEC;
	c->in_connect = 1;
	wsi = lws_client_connect_via_info(&ci);
	c->in_connect = 0;
	if (c->state != CONN_CONNECTING) {
		/* It failed inside, and was only waiting to be freed. */
		conn_maybe_free(c, 0);
		return;
	}
	if (wsi == NULL) {
		conn_fail(c, "cannot start a connection to %s:%d",
		    cl->t.connect_host, cl->t.connect_port);
		tunnel_gone(c, 0);
		return;
	}
	c->ws = wsi;
}

struct client_conn *
client_conn_new(struct client *cl, int in_fd, int out_fd)
{
	struct client_conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		client_msg("out of memory");
		close(in_fd);
		if (out_fd != in_fd)
			close(out_fd);
		return NULL;
	}
	c->cl = cl;
	c->serial = ++cl->serial;
	c->state = CONN_CONNECTING;
	/* At most one batch is ever kept. */
	rf_buf_init(&c->tx, CLIENT_TX_BUF);
	c->ws_tx_max = CLIENT_WS_MSG_MAX;
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	rf_wsc_q_init(&c->to_ws);
	rf_wsc_q_init(&c->to_local);
	TAILQ_INSERT_TAIL(&cl->conns, c, entry);
	if ((c->lin = adopt(cl, in_fd, c)) == NULL ||
	    (c->lout = out_fd == in_fd ? c->lin : adopt(cl, out_fd, c)) ==
	    NULL) {
		client_msg("cannot watch the local connection");
		if (c->lout == NULL && out_fd != in_fd)
			close(out_fd);
		c->failed = 1;
		local_close(c);
		conn_maybe_free(c, 1);
		return NULL;
	}
	/* stdout is only written: a terminal's input is not for it. */
	if (c->lout != c->lin)
		lws_rx_flow_control(c->lout, 0);
	tunnel_open(c);
	return c;
}

/* ------------------------------------------------------------ context -- */

/* Once a second: keep-alive PINGs, and tunnels that went silent. */
static void
tick(lws_sorted_usec_list_t *sul)
{
	struct client *cl = lws_container_of(sul, struct client, sul_tick);
	int64_t now = lws_now_usecs();
	struct client_conn *c;
	int r;

	TAILQ_FOREACH(c, &cl->conns, entry) {
		if (c->ws == NULL)
			continue;
		if (c->state == CONN_CONNECTING && now >= c->deadline) {
			handshake_late(c);
			lws_set_timeout(c->ws, 1, LWS_TO_KILL_ASYNC);
			continue;
		}
		/* A CONNECT tunnel is a byte stream: no PING, no silence. */
		if (c->state != CONN_OPEN || cl->use_connect)
			continue;
		if ((r = rf_wsc_ka_check(&c->ka, now)) < 0) {
			conn_fail(c, "no answer from the reflector for %lld s",
			    (long long)((now - c->ka.last_rx) /
			    LWS_US_PER_SEC));
			lws_set_timeout(c->ws, 1, LWS_TO_KILL_ASYNC);
		} else if (r > 0) {
			c->ping_due = 1;
			lws_callback_on_writable(c->ws);
		}
	}
	lws_sul_schedule(cl->ctx, 0, &cl->sul_tick, tick, LWS_US_PER_SEC);
}

/* The TLS context and the name to verify for CONNECT to https://. */
static int
connect_tls_setup(struct client *cl, const struct client_settings *s)
{
	const char *p = cl->t.portal, *end;
	char why[300];
	size_t n;

	/* "host:port" or "[v6]:port" without the port and brackets. */
	if (*p == '[') {
		p++;
		end = strchr(p, ']');
	} else
		end = strrchr(p, ':');
	n = end != NULL ? (size_t)(end - p) : strlen(p);
	if (n >= sizeof(cl->portal_name)) {
		client_msg("the reflector's host name is too long");
		return -1;
	}
	memcpy(cl->portal_name, p, n);
	cl->portal_name[n] = '\0';
	if ((cl->connect_tls = rf_tlsraw_ctx_new(1, s->ca_file, why,
	    sizeof(why))) == NULL) {
		client_msg("cannot set up TLS: %s", why);
		return -1;
	}
	return 0;
}

int
client_start(struct client *cl, const struct client_settings *s)
{
	struct lws_context_creation_info info;
	char proxy[512];
	const char *why;

	TAILQ_INIT(&cl->conns);
	cl->keepalive = s->keepalive;
	cl->connect_timeout = s->connect_timeout > 0 ? s->connect_timeout : 20;
	lws_set_log_level(rf_log_enabled(RF_LOG_DEBUG2) ? LLL_ERR | LLL_WARN |
	    LLL_NOTICE | LLL_INFO : 0, rf_wsc_lws_log);
	proxy[0] = '\0';
	if (s->proxy_url != NULL && rf_wsc_proxy_address(s->proxy_url,
	    s->proxy_username, s->proxy_password, proxy, sizeof(proxy),
	    &why) != 0) {
		client_msg("the proxy URL must be %s", why);
		return -1;
	}
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
	    LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	info.pt_serv_buf_size = 64 * 1024;
	info.timeout_secs = (unsigned int)cl->connect_timeout;
	info.gid = -1;
	info.uid = -1;
	if ((cl->ctx = lws_create_context(&info)) == NULL) {
		client_msg("cannot create the event loop");
		return -1;
	}
	cl->vh = rf_wsc_vhost_new(cl->ctx, "reflector", client_protocols,
	    s->ca_file, proxy);
	explicit_bzero(proxy, sizeof(proxy));
	if (cl->vh == NULL) {
		client_msg("cannot set up TLS%s%s", s->ca_file != NULL ?
		    ": check the CA file " : "", s->ca_file != NULL ?
		    s->ca_file : "");
		return -1;
	}
	if (cl->use_connect && cl->t.tls && connect_tls_setup(cl, s) != 0)
		return -1;
	lws_sul_schedule(cl->ctx, 0, &cl->sul_tick, tick, LWS_US_PER_SEC);
	return 0;
}

void
client_stop(struct client *cl)
{
	struct client_conn *c;

	if (cl->ctx == NULL)
		return;
	lws_sul_cancel(&cl->sul_tick);
	/* No reports: the program is ending. */
	cl->on_end = NULL;
	while ((c = TAILQ_FIRST(&cl->conns)) != NULL) {
		detach(&c->ws);
		local_close(c);
		conn_maybe_free(c, 0);
	}
	lws_context_destroy(cl->ctx);
	cl->ctx = NULL;
	SSL_CTX_free(cl->connect_tls);
	cl->connect_tls = NULL;
}
