/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * reflector-client's tunnels: one per local connection (an accepted TCP
 * socket, or stdin and stdout), each its own WebSocket to
 * wss://<device host>/ with subprotocol com.appinf.webtunnel.client/1.0
 * and X-WebTunnel-RemotePort (WEBTUNNEL.md §4), or with --connect a TLS
 * connection to the reflector's own host that asks for
 * "CONNECT <device host>:<port>" and then carries the raw stream.
 *
 * The WebSocket is ours over an lws raw connection (wslink.h), as the
 * agent's is: the proxy's CONNECT, TLS to the reflector's address with the
 * device's name for SNI, the certificate and Host, the upgrade and its
 * checks, the frames.  lws's own client ran every byte it received
 * through its parser, which held downloads to about 90 MB/s.
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
 * (read 0), what it sent goes out and the tunnel is closed with 1000
 * (tunnel_end); when the tunnel ends, what it brought is written and the
 * local side is closed.  A failed handshake, a close with any other code,
 * or a tunnel that breaks the protocol is reported once, in words,
 * through client_msg (link_end); a connection that merely closes is not.
 * The connection is then over and the program's on_end decides what that
 * means (client.c).
 *
 * The extension (reflector-webtunnel(7), "Client tunnels").  The upgrade
 * announces RF_WT_EXT_HEADER with the largest message we take; only a 101
 * that answers it with a valid value lets our messages grow to the frame
 * size the reflector announced, so a stock reflector, which sends no such
 * header, keeps getting 2048 bytes at most, and an unusable answer is the
 * plain protocol too, never a failed handshake.  A client tunnel carries
 * one stream and no CREDIT frames: its flow control stays TCP's and the
 * queues' marks above, so the window= parameter, which the one grammar of
 * the header requires, is sent equal to the frame size and ignored.
 * wslink hands over whole messages, so what we take has a cap: our
 * reflector sends what we announced (64 KiB) and a stock one 2048 bytes,
 * and CLIENT_RX_MAX leaves room for a peer we have not met; a larger
 * message ends the tunnel with a sentence rather than a queue without
 * bound.  to_local stays bounded by its marks whatever the sizes.
 *
 * Races.  lws may call back from inside lws_client_connect_via_info (a
 * connection refused at once), so conn->ws is set through ci.pwsi (and
 * forgotten when the call fails: lws may leave it pointing at the wsi it
 * freed) and a connection is never freed from inside its own connect
 * call.  lws tells protocols[0], tunnel_cb, of every wsi's end.  A wsi we
 * close ourselves is detached first (opaque NULL): its later callbacks
 * find no connection and do nothing.  Reading the tunnel stops inside a
 * message (rf_wsl_pause) and resumes from a timer, outside any callback,
 * with what the link had read already (tunnel_resume).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "agent-int.h"
#include "client.h"
#include "err.h"
#include "http.h"
#include "log.h"
#include "ws.h"
#include "wsclient.h"
#include "wslink.h"
#include "wt.h"

#ifndef RF_VERSION
#define RF_VERSION	"0"
#endif

/* A message is made only where this much room is left in the batch. */
#define WS_TX_MIN		512
#define LOCAL_IO_MAX		(64 * 1024)
#define CONNECT_HEAD_MAX	(16 * 1024)
/* After our CLOSE and FIN: how long the reflector may take to close. */
#define CLOSE_LINGER_SECS	5

static int	tunnel_cb(struct lws *, enum lws_callback_reasons, void *,
		    void *, size_t);
static int	local_cb(struct lws *, enum lws_callback_reasons, void *,
		    void *, size_t);
static int	connect_cb(struct lws *, enum lws_callback_reasons, void *,
		    void *, size_t);
static void	tunnel_pause(struct client_conn *, int);

const struct lws_protocols client_protocols[] = {
	/* A raw connection: everything on it is wslink's and ours. */
	{ CLIENT_TUNNEL_PROTO, tunnel_cb, 0, 0, 0, NULL, 0 },
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
	lws_sul_cancel(&c->sul_rx);
	rf_wsc_q_clear(&c->to_ws);
	rf_buf_free(&c->tx);
	rf_wsc_q_clear(&c->to_local);
	rf_wsl_free(&c->link);
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
		/* tlsraw says "certificate verify failed: <OpenSSL's why>". */
		if (f->tls && (strstr(f->detail, "cert") != NULL ||
		    strstr(f->detail, "X509") != NULL)) {
			conn_fail(c, "the certificate of %s:%d is not trusted "
			    "for %s (%s); give its CA with -c or ca_file",
			    t->connect_host, t->connect_port,
			    c->cl->use_connect ? t->portal : t->host,
			    f->detail);
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
	case 101:
		/* A 101 that failed wslink's checks: not a reflector. */
		conn_fail(c, "%s: is %s a reflector?", f->detail,
		    t->connect_host);
		return 1;
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

/* The reflector's CLOSE (wslink keeps its code and reason): a normal end? */
static void
report_close(struct client_conn *c, const struct rf_wsc_failure *f)
{
	if (f->close_code == RF_WS_CLOSE_NORMAL ||
	    f->close_code == RF_WS_CLOSE_GOING_AWAY ||
	    f->close_code == RF_WS_CLOSE_NO_STATUS)
		return;
	conn_fail(c, "the reflector closed the tunnel: %s (close code %d)",
	    f->reason[0] != '\0' ? f->reason : "no reason given",
	    f->close_code);
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
	if (c->ws_paused && c->ws != NULL && c->to_local.bytes < AGENT_Q_LOW)
		tunnel_pause(c, 0);
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

/* Our request's headers beyond wslink's, as one string. */
static int
append_headers(struct client_conn *c, struct rf_buf *h)
{
	struct client *cl = c->cl;
	struct rf_wt_ext ours;
	char ext[128];

	ours.frame = ours.window = CLIENT_EXT_FRAME;
	if (rf_wt_ext_line(&ours, ext, sizeof(ext)) != 0 ||
	    rf_buf_putf(h, "Authorization: %s\r\n"
	    "X-WebTunnel-RemotePort: %u\r\n%s"
	    "User-Agent: reflector-client/%s\r\n", cl->authorization,
	    cl->t.port, ext, RF_VERSION) != 0 || rf_buf_put_u8(h, '\0') != 0) {
		conn_fail(c, "the handshake headers do not fit");
		return -1;
	}
	return 0;
}

/*
 * The end after our CLOSE (and close_notify): once they are out, a FIN;
 * the socket then stays open, dropping what comes, until the reflector
 * closes it or CLOSE_LINGER_SECS pass.  lws closes a raw socket at once,
 * and close(2) with unread bytes sends a reset that destroys what the
 * socket still held for the reflector: the end of what the local side
 * sent, which the CLOSE promised to deliver.
 */
static int
tunnel_end(struct client_conn *c, struct lws *wsi)
{
	if (rf_wsl_pending(&c->link) > 0) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (c->shut_wr)
		return 0;
	c->shut_wr = 1;
	if (shutdown(lws_get_socket_fd(wsi), SHUT_WR) == -1) {
		debug("connection %u: shutdown: %s", c->serial,
		    strerror(errno));
		return -1;
	}
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, CLOSE_LINGER_SECS);
	return 0;
}

/*
 * Messages go out in batches written through the link (never left with
 * lws, which would then stop reading the tunnel): what the socket does not
 * take waits in c->tx and goes first next time, and a PING or the PONG
 * owed to the reflector starts the next batch.  The end, once everything
 * is out: a CLOSE 1000 and close_notify, and out before the close.
 */
static int
tunnel_writeable(struct client_conn *c, struct lws *wsi)
{
	struct rf_wsc_batch b;
	unsigned char *p;
	size_t n, room;
	long w;

	if ((w = rf_wsc_tx_flush(wsi, &c->link, &c->tx)) < 0)
		return -1;
	if (w > 0)
		c->ka.last_tx = lws_now_usecs();
	if (rf_buf_len(&c->tx) > 0 || rf_wsl_pending(&c->link) > 0) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	rf_wsc_batch_init(&b, c->cl->txbuf, sizeof(c->cl->txbuf));
	if (c->ping_due && rf_wsc_batch_control(&b, RF_WS_PING, NULL, 0) == 0)
		c->ping_due = 0;
	(void)rf_wsl_pong(&c->link, &b);
	do {
		while ((p = rf_wsc_batch_room(&b, WS_TX_MIN, &room)) != NULL &&
		    (n = rf_wsc_q_get(&c->to_ws, p, room < c->ws_tx_max ?
		    room : c->ws_tx_max)) > 0)
			if (rf_wsc_batch_add(&b, n) != 0)
				return -1;
		if ((w = rf_wsc_batch_send(wsi, &c->link, &b, &c->tx)) < 0)
			return -1;
		if (w > 0)
			c->ka.last_tx = lws_now_usecs();
	} while (c->to_ws.bytes > 0 && rf_buf_len(&c->tx) == 0);

	if (c->lin_paused && !c->local_eof && c->lin != NULL &&
	    c->to_ws.bytes < AGENT_Q_LOW) {
		c->lin_paused = 0;
		lws_rx_flow_control(c->lin, 1);
	}
	if (c->to_ws.bytes > 0 || rf_buf_len(&c->tx) > 0) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (!c->close_ws)
		return 0;
	/* rf_wsl_close drops the CLOSE while TLS still holds a batch. */
	if (rf_wsl_pending(&c->link) > 0) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	rf_wsl_close(&c->link, wsi, RF_WS_CLOSE_NORMAL, NULL);
	c->close_sent = 1;
	return tunnel_end(c, wsi);
}

/*
 * The reflector's answer to our announcement, from the 101: messages to it
 * may grow to the frame size it announced; without a valid answer they
 * stay at 2048 bytes.
 */
static void
check_extension(struct client_conn *c)
{
	struct rf_wt_ext theirs;
	char v[128];
	int r;

	c->ext = 0;
	c->ws_tx_max = CLIENT_WS_MSG_MAX;
	if ((r = rf_wsl_header(&c->link, RF_WT_EXT_HEADER, v, sizeof(v))) ==
	    RF_ERR_NOTFOUND)
		return;
	if (r != 0 || rf_wt_ext_parse(v, &theirs) != 0) {
		verbose("connection %u: unusable %s answer \"%.60s\": plain "
		    "protocol", c->serial, RF_WT_EXT_HEADER, v);
		return;
	}
	c->ext = 1;
	c->ws_tx_max = theirs.frame;
}

/*
 * Bytes from the tunnel (a message, or CONNECT's stream) for the local
 * side; -1 when they cannot be kept.
 */
static int
tunnel_rx(struct client_conn *c, const void *in, size_t len)
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
	if (c->to_local.bytes > AGENT_Q_HIGH && !c->ws_paused)
		tunnel_pause(c, 1);
	return 0;
}

/*
 * The link failed, or the reflector ended it: says why, once.  A refused
 * handshake may be fatal (report_failure); an end once open is not, and
 * one that merely closed is no error at all.
 */
static void
link_end(struct client_conn *c)
{
	const struct rf_wsc_failure *f = &c->link.fail;

	if (c->link_told)
		return;
	c->link_told = 1;
	if (c->failed || c->close_sent)
		return;
	if (c->state == CONN_CONNECTING)
		c->fatal_end |= report_failure(c, f);
	else if (f->close_code != 0)
		report_close(c, f);
	else if (!f->closed)
		conn_fail(c, "%s", f->detail);
	else
		debug("connection %u: %s", c->serial, f->detail);
}

/* The tunnel's connection closed: why, if that was news, and the end. */
static void
link_closed(struct client_conn *c)
{
	rf_wsl_failed(&c->link, NULL);
	link_end(c);
	tunnel_gone(c, 0);
}

/* What the link read while reading was stopped, outside any callback. */
static void
tunnel_resume(lws_sorted_usec_list_t *sul)
{
	struct client_conn *c = lws_container_of(sul, struct client_conn,
	    sul_rx);

	if (c->ws == NULL || c->ws_paused || !rf_wsl_is_open(&c->link))
		return;
	if (rf_wsl_rx(&c->link, c->ws, NULL, 0) != 0) {
		rf_wsl_close_answer(&c->link, c->ws, &c->tx);
		link_end(c);
		lws_set_timeout(c->ws, 1, LWS_TO_KILL_ASYNC);
	}
}

/*
 * Stops (1) or resumes (0) reading the tunnel.  The link keeps what it
 * read already; it goes first once reading resumes, from a timer.
 */
static void
tunnel_pause(struct client_conn *c, int on)
{
	c->ws_paused = on;
	if (c->ws == NULL)
		return;
	if (c->cl->use_connect) {
		lws_rx_flow_control(c->ws, !on);
		return;
	}
	rf_wsl_pause(&c->link, c->ws, on);
	if (!on)
		lws_sul_schedule(c->cl->ctx, 0, &c->sul_rx, tunnel_resume, 1);
}

/* The 101 came and passed wslink's checks: the tunnel is open. */
static int
link_open(void *arg)
{
	struct client_conn *c = arg;

	check_extension(c);
	c->state = CONN_OPEN;
	rf_wsc_ka_start(&c->ka, c->cl->keepalive, lws_now_usecs());
	if (c->ext)
		verbose("connection %u: tunnel to %s port %u open, "
		    "extension 1: messages up to %zu bytes to the "
		    "reflector, %u from it", c->serial, c->cl->t.host,
		    c->cl->t.port, c->ws_tx_max, (unsigned)CLIENT_EXT_FRAME);
	else
		verbose("connection %u: tunnel to %s port %u open, "
		    "plain protocol: messages up to %d bytes",
		    c->serial, c->cl->t.host, c->cl->t.port,
		    CLIENT_WS_MSG_MAX);
	if ((c->to_ws.bytes > 0 || c->close_ws) && c->ws != NULL)
		lws_callback_on_writable(c->ws);
	return 0;
}

/* A whole message: text ones are the stream's bytes too, as they were. */
static int
link_message(void *arg, int binary, const unsigned char *p, size_t len)
{
	(void)binary;
	return tunnel_rx(arg, p, len);
}

static void
link_want_write(void *arg)
{
	struct client_conn *c = arg;

	if (c->ws != NULL)
		lws_callback_on_writable(c->ws);
}

static const struct rf_wsl_ops link_ops = {
	link_open, link_message, link_want_write
};

static int
tunnel_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	const struct lws_protocols *pr = lws_get_protocol(wsi);
	struct client_conn *c;

	(void)user;
	/*
	 * lws tells protocols[0] of the end of every wsi of the vhost, the
	 * listener's and the local sides' too: only a tunnel's, WebSocket
	 * or CONNECT, is ours.
	 */
	if (reason == LWS_CALLBACK_WSI_DESTROY && (pr == NULL ||
	    (pr->callback != tunnel_cb && pr->callback != connect_cb)))
		return 0;
	c = lws_get_opaque_user_data(wsi);
	if (c == NULL)
		return reason == LWS_CALLBACK_RAW_RX ||
		    reason == LWS_CALLBACK_RAW_WRITEABLE ||
		    reason == LWS_CALLBACK_RAW_CONNECTED ? -1 : 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		lws_set_opaque_user_data(wsi, NULL);
		rf_wsl_failed(&c->link, in);
		link_end(c);
		tunnel_gone(c, 0);
		break;
	case LWS_CALLBACK_RAW_CONNECTED:
		c->ws = wsi;
		if (rf_wsl_connected(&c->link, wsi) != 0) {
			link_end(c);
			return -1;
		}
		break;
	case LWS_CALLBACK_RAW_RX:
		if (c->close_sent)
			break;		/* tunnel_end: dropped */
		c->ka.last_rx = lws_now_usecs();
		if (rf_wsl_rx(&c->link, wsi, in, len) != 0) {
			rf_wsl_close_answer(&c->link, wsi, &c->tx);
			link_end(c);
			return -1;
		}
		break;
	case LWS_CALLBACK_RAW_WRITEABLE:
		if (rf_wsl_flush(&c->link, wsi) != 0) {
			link_end(c);
			return -1;
		}
		if (c->close_sent)
			return tunnel_end(c, wsi);
		return rf_wsl_is_open(&c->link) ? tunnel_writeable(c, wsi) : 0;
	case LWS_CALLBACK_WSI_DESTROY:
		/* Gone without its close callback: never seen, but final. */
		lws_set_opaque_user_data(wsi, NULL);
		if (c->cl->use_connect) {
			if (c->state == CONN_CONNECTING)
				handshake_late(c);
			tunnel_gone(c, 0);
		} else
			link_closed(c);
		break;
	case LWS_CALLBACK_RAW_CLOSE:
		lws_set_opaque_user_data(wsi, NULL);
		link_closed(c);
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
		return tunnel_rx(c, in, len);
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
	if ((c->tls = rf_tlsraw_new(c->cl->tls, c->cl->portal_name,
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
		memset(&f, 0, sizeof(f));
		snprintf(f.detail, sizeof(f.detail), "%s",
		    in != NULL ? (const char *)in : "connection failed");
		tunnel_gone(c, report_failure(c, &f));
		break;
	case LWS_CALLBACK_RAW_CONNECTED:
		c->ws = wsi;
		if (c->cl->tls != NULL)
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

/*
 * The WebSocket: to the reflector's address (through the proxy, if any),
 * with the device's name for TLS and Host.  0, or -1 with the failure
 * reported or in c->link.fail.
 */
static int
link_connect(struct client_conn *c)
{
	struct client *cl = c->cl;
	struct rf_wsl_conf lc;
	struct rf_buf h;
	int r;

	rf_buf_init(&h, 8192);
	if (append_headers(c, &h) != 0) {
		rf_buf_free(&h);
		return -1;
	}
	memset(&lc, 0, sizeof(lc));
	lc.ctx = cl->ctx;
	lc.vhost = cl->vh;
	lc.lws_protocol = CLIENT_TUNNEL_PROTO;
	lc.opaque = c;
	lc.pwsi = &c->ws;
	lc.host = cl->t.host;
	lc.address = cl->t.connect_host;
	lc.port = cl->t.connect_port;
	lc.path = "/";
	lc.tls = cl->t.tls ? cl->tls : NULL;
	lc.proxy = &cl->proxy;
	lc.subprotocol = CLIENT_PROTO;
	lc.max_message = CLIENT_RX_MAX;
	lc.own_records = 1;
	r = rf_wsl_connect(&c->link, &lc, (const char *)rf_buf_ptr(&h),
	    &link_ops, c);
	/* The credentials. */
	explicit_bzero((void *)rf_buf_ptr(&h), rf_buf_len(&h));
	rf_buf_free(&h);
	return r;
}

static void
tunnel_open(struct client_conn *c)
{
	struct client *cl = c->cl;
	struct lws_client_connect_info ci;
	int r;

	debug("connection %u: connecting to %s:%d for %s", c->serial,
	    cl->t.connect_host, cl->t.connect_port, cl->use_connect ?
	    cl->t.portal : cl->t.host_header);
	/*
	 * A failure inside the call may already have ended c through a
	 * callback (WSI_DESTROY: lws holds CONNECTION_ERROR back until the
	 * call returns); if not, the failure is ours to report.
	 */
	c->deadline = lws_now_usecs() + (int64_t)cl->connect_timeout *
	    LWS_US_PER_SEC;
	c->in_connect = 1;
	if (cl->use_connect) {
		/*
		 * The reflector's own host: CONNECT is not for device hosts.
		 * Its TLS is ours (connect_tls_start), not lws's.
		 */
		memset(&ci, 0, sizeof(ci));
		ci.context = cl->ctx;
		ci.vhost = cl->vh;
		ci.address = cl->t.connect_host;
		ci.port = cl->t.connect_port;
		ci.opaque_user_data = c;
		ci.host = cl->t.portal;
		ci.method = "RAW";
		ci.local_protocol_name = CLIENT_CONNECT_PROTO;
		c->ws = lws_client_connect_via_info(&ci);
		r = c->ws != NULL ? 0 : -1;
	} else
		r = link_connect(c);
	c->in_connect = 0;
	if (c->state != CONN_CONNECTING) {
		/* It failed inside, and was only waiting to be freed. */
		c->ws = NULL;
		conn_maybe_free(c, 0);
		return;
	}
	if (r != 0) {
		if (cl->use_connect)
			conn_fail(c, "cannot start a connection to %s:%d",
			    cl->t.connect_host, cl->t.connect_port);
		else
			conn_fail(c, "%s", c->link.fail.detail);
		/* lws freed it, if it made one (ci.pwsi may still point). */
		c->ws = NULL;
		tunnel_gone(c, 0);
	}
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
		if (c->state != CONN_OPEN || cl->use_connect || c->close_sent)
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

/*
 * TLS with an https:// reflector: the context that verifies it, and for
 * CONNECT the reflector's own name (t.portal without its port).
 */
static int
tls_setup(struct client *cl, const struct client_settings *s)
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
	if ((cl->tls = rf_tlsraw_ctx_new(1, s->ca_file, why,
	    sizeof(why))) == NULL) {
		client_msg("cannot set up TLS: %s", why);
		return -1;
	}
	if (rf_tlsraw_own_records(cl->tls) != 0) {
		client_msg("cannot set up TLS");
		return -1;
	}
	return 0;
}

int
client_start(struct client *cl, const struct client_settings *s)
{
	struct lws_context_creation_info info;
	const char *why;

	TAILQ_INIT(&cl->conns);
	cl->keepalive = s->keepalive;
	cl->connect_timeout = s->connect_timeout > 0 ? s->connect_timeout : 20;
	lws_set_log_level(rf_log_enabled(RF_LOG_DEBUG2) ? LLL_ERR | LLL_WARN |
	    LLL_NOTICE | LLL_INFO : 0, rf_wsc_lws_log);
	if (s->proxy_url != NULL && rf_wsl_proxy_parse(&cl->proxy,
	    s->proxy_url, s->proxy_username, s->proxy_password, &why) != 0) {
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
	/* Raw connections all: their TLS and proxy are ours (wslink.h). */
	if ((cl->vh = rf_wsc_vhost_new(cl->ctx, "reflector",
	    client_protocols)) == NULL) {
		client_msg("cannot set up the connections");
		return -1;
	}
	if (cl->t.tls && tls_setup(cl, s) != 0)
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
		/* A CLOSE 1001 and close_notify, as far as the socket takes. */
		if (c->ws != NULL && !c->close_sent)
			rf_wsl_close(&c->link, c->ws, RF_WS_CLOSE_GOING_AWAY,
			    &c->tx);
		detach(&c->ws);
		local_close(c);
		conn_maybe_free(c, 0);
	}
	lws_context_destroy(cl->ctx);
	cl->ctx = NULL;
	SSL_CTX_free(cl->tls);
	cl->tls = NULL;
	explicit_bzero(&cl->proxy, sizeof(cl->proxy));
}
