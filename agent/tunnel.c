/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One device's tunnel: the WebSocket to the reflector (subprotocol
 * com.appinf.webtunnel.server/1.0) and the channels it carries, each a raw
 * lws client connection to the device's target host (WEBTUNNEL.md §2-3).
 * The WebSocket is ours over an lws raw connection (wslink.h says why).
 *
 * Lifecycle.  agent_tunnel_connect starts the WebSocket; the handshake
 * sends the credentials and one X-PTTH-Set-Property header per property,
 * and refuses a 101 without the exact subprotocol.  The reflector opens a
 * channel with OPEN_REQUEST; a port outside the allow-list gets OPEN_FAULT
 * at once, others a connection to the target and OPEN_CONFIRM when it is
 * up, or OPEN_FAULT when it fails or takes longer than connect_timeout.
 * Then DATA flows both ways.  CLOSE is a half-close: from the reflector it
 * becomes shutdown(SHUT_WR) on the target once what is queued is written;
 * when the target closes, what it sent is relayed and then CLOSE.  ERROR
 * aborts a channel.  A channel is freed once both directions are done.
 * When the tunnel goes, every channel goes with it.
 *
 * Races.  lws may call back from inside lws_client_connect_via_info (a
 * connect that fails at once), so a channel being connected is marked
 * in_connect and freed only by the caller.  A channel freed while its
 * target connection is still open detaches itself (opaque pointer NULL)
 * and asks lws to close it; the callbacks of a detached wsi do nothing.
 *
 * Frames to a stock reflector never carry more than 2048 payload bytes:
 * it may rely on it.  The order on the tunnel is: pending faults, errors
 * and grants, then the channels in turn, each sending its OPEN_CONFIRM
 * before its data and its CLOSE after it.
 *
 * The extension (reflector-webtunnel(7)).  The upgrade announces it in
 * RF_WT_EXT_HEADER; only a 101 that answers it with a valid value turns
 * it on, so a stock reflector sees a header it ignores and gets the plain
 * protocol.  With it, DATA to the reflector carries up to the frame size
 * it announced, and each channel sends only as far as the credit the
 * reflector granted (its window at first, then each CREDIT): what the
 * target sends beyond that waits in to_tunnel, whose high mark stops
 * reading that target only.  Towards the target, the reflector may have
 * AGENT_EXT_WINDOW bytes in flight per channel; more is ERROR(PROTOCOL)
 * on the channel.  Bytes are granted back as they are written to the
 * target, a quarter window at a time, so a slow target holds back its
 * own channel and never the tunnel (pausing the link is for the plain
 * protocol only).
 */
#include <sys/socket.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "agent-int.h"
#include "err.h"
#include "log.h"
#include "rfagent.h"
#include "wslink.h"
#include "wt.h"

/* A frame is made only where this much room is left in the batch. */
#define TUNNEL_TX_MIN		512
#define TARGET_WRITE_MAX	(16 * 1024)

static int	tunnel_cb(struct lws *, enum lws_callback_reasons, void *,
		    void *, size_t);
static int	target_cb(struct lws *, enum lws_callback_reasons, void *,
		    void *, size_t);

const struct lws_protocols rf_agent_tunnel_protocols[] = {
	/* A raw connection: everything on it is wslink's and ours. */
	{ AGENT_TUNNEL_LWS, tunnel_cb, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

const struct lws_protocols rf_agent_target_protocols[] = {
	{ AGENT_TARGET_PROTO, target_cb, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* ----------------------------------------------------------- channels -- */

static struct agent_chan *
chan_find(struct agent_dev *d, uint16_t id)
{
	struct agent_chan *c;

	TAILQ_FOREACH(c, &d->chans, entry)
		if (c->id == id)
			return c;
	return NULL;
}

static int	tunnel_writeable(struct agent_dev *, struct lws *);
static void	link_failed(struct agent_dev *);
static int	target_writeable(struct agent_chan *, struct lws *);

/*
 * Writes caused by an event on another connection (the reflector's DATA
 * for a target, a target's bytes for the tunnel) go out once the events
 * of the loop's iteration are handled (evloop.h), not after another
 * round for WRITEABLE; outside a callback of its own, a connection that
 * must close does so from its next WRITEABLE.
 */
static void
dev_flush(struct rf_evflush *fl)
{
	struct agent_dev *d = lws_container_of(fl, struct agent_dev, flush);

	if (d->wsi != NULL && !d->dead && tunnel_writeable(d, d->wsi) != 0) {
		d->dead = 1;
		lws_callback_on_writable(d->wsi);
	}
}

static void
want_write(struct agent_dev *d)
{
	if (d->wsi != NULL)
		rf_evloop_flush_later(&d->agent->loop, &d->flush, dev_flush);
}

static void
chan_flush(struct rf_evflush *fl)
{
	struct agent_chan *c = lws_container_of(fl, struct agent_chan, flush);

	if (c->wsi != NULL && !c->dead && target_writeable(c, c->wsi) != 0) {
		c->dead = 1;
		lws_callback_on_writable(c->wsi);
	}
}

static void
chan_want_write(struct agent_chan *c)
{
	if (c->wsi != NULL && c->state == CHAN_OPEN)
		rf_evloop_flush_later(&c->dev->agent->loop, &c->flush,
		    chan_flush);
}

static void
ctrl_put(struct agent_dev *d, uint8_t op, uint16_t channel, uint32_t arg)
{
	struct agent_ctrl *f;

	if ((f = calloc(1, sizeof(*f))) == NULL) {
		error("%s: out of memory: dropping the tunnel", d->conf.id);
		if (d->wsi != NULL)
			lws_set_timeout(d->wsi, 1, LWS_TO_KILL_ASYNC);
		return;
	}
	f->op = op;
	f->channel = channel;
	f->arg = arg;
	STAILQ_INSERT_TAIL(&d->ctrl, f, entry);
	want_write(d);
}

/* Messages the link kept while the tunnel was paused. */
static void
dev_resume(struct rf_evflush *fl)
{
	struct agent_dev *d = lws_container_of(fl, struct agent_dev, rxflush);

	if (d->wsi == NULL || d->dead || d->paused)
		return;
	if (rf_wsl_rx(&d->link, d->wsi, NULL, 0) != 0) {
		rf_wsl_close_answer(&d->link, d->wsi, &d->tx);
		link_failed(d);
		lws_set_timeout(d->wsi, 1, LWS_TO_KILL_ASYNC);
	}
}

/* The tunnel reads again once no channel is over its high water mark. */
static void
chan_unover(struct agent_chan *c)
{
	struct agent_dev *d = c->dev;

	if (!c->over)
		return;
	c->over = 0;
	if (--d->nover == 0 && d->paused && d->wsi != NULL) {
		d->paused = 0;
		rf_wsl_pause(&d->link, d->wsi, 0);
		/* What the link read already goes first, from the loop. */
		rf_evloop_flush_later(&d->agent->loop, &d->rxflush, dev_resume);
	}
}

/* Frees a channel; its target connection, if any, is closed by lws. */
static void
chan_free(struct agent_chan *c)
{
	struct agent_dev *d = c->dev;

	rf_evloop_flush_cancel(&d->agent->loop, &c->flush);
	if (c->wsi != NULL) {
		lws_set_opaque_user_data(c->wsi, NULL);
		lws_set_timeout(c->wsi, 1, LWS_TO_KILL_ASYNC);
		c->wsi = NULL;
	}
	rf_tlsraw_free(c->tls);
	c->tls = NULL;
	chan_unover(c);
	if (d->next == c)
		d->next = TAILQ_NEXT(c, entry);
	TAILQ_REMOVE(&d->chans, c, entry);
	rf_wsc_q_clear(&c->to_target);
	rf_wsc_q_clear(&c->to_tunnel);
	if (d->st.open_channels > 0)
		d->st.open_channels--;
	free(c);
}

/* Aborts a channel: the reflector gets op (OPEN_FAULT or ERROR) with err. */
static void
chan_abort(struct agent_chan *c, uint8_t op, uint16_t err)
{
	struct agent_dev *d = c->dev;

	if (op == RF_WT_OPEN_FAULT)
		d->st.refused++;
	ctrl_put(d, op, c->id, err);
	chan_free(c);
}

/* Frees the channel if both directions are done. */
static void
chan_maybe_done(struct agent_chan *c)
{
	if (c->close_sent && c->target_gone && c->to_tunnel.bytes == 0)
		chan_free(c);
}

static int
port_allowed(const struct agent_dev *d, uint16_t port, int *tls)
{
	const struct rf_agent_port *p;
	size_t i;

	*tls = 0;
	for (i = 0; i < d->conf.nports; i++) {
		p = &d->conf.ports[i];
		if (p->port != port)
			continue;
		*tls = p->tls || (d->conf.https_target && p->name != NULL &&
		    strcmp(p->name, "http") == 0);
		return 1;
	}
	return 0;
}

static uint16_t
fault_code(const char *why)
{
	if (why != NULL && (strstr(why, "timeout") != NULL ||
	    strstr(why, "timed out") != NULL))
		return RF_WT_ERR_TIMEOUT;
	if (why != NULL && (strstr(why, "refused") != NULL ||
	    strstr(why, "connect failed") != NULL))
		return RF_WT_ERR_CONN_REFUSED;
	return RF_WT_ERR_CONN_REFUSED;
}

static void
chan_open(struct agent_dev *d, uint16_t id, uint16_t port)
{
	struct lws_client_connect_info ci;
	struct agent_chan *c;
	int tls;

	if (id == 0) {
		ctrl_put(d, RF_WT_ERROR, id, RF_WT_ERR_PROTOCOL);
		return;
	}
	if (chan_find(d, id) != NULL) {
		d->st.refused++;
		ctrl_put(d, RF_WT_OPEN_FAULT, id, RF_WT_ERR_CHANNEL_IN_USE);
		return;
	}
	if (!port_allowed(d, port, &tls)) {
		logit("%s: channel %u: port %u is not in the allow-list",
		    d->conf.id, id, port);
		d->st.refused++;
		ctrl_put(d, RF_WT_OPEN_FAULT, id, RF_WT_ERR_NOT_FORWARDED);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		d->st.refused++;
		ctrl_put(d, RF_WT_OPEN_FAULT, id, RF_WT_ERR_SOCKET);
		return;
	}
	c->dev = d;
	c->id = id;
	c->port = port;
	c->state = CHAN_CONNECTING;
	c->credit = d->tx_window;
	c->rx_avail = AGENT_EXT_WINDOW;
	c->deadline = lws_now_usecs() +
	    (int64_t)d->agent->s.connect_timeout * LWS_US_PER_SEC;
	rf_wsc_q_init(&c->to_target);
	rf_wsc_q_init(&c->to_tunnel);
	TAILQ_INSERT_TAIL(&d->chans, c, entry);
	d->st.open_channels++;

	memset(&ci, 0, sizeof(ci));
	ci.context = d->agent->ctx;
	ci.vhost = d->agent->vh_target;
	ci.address = d->conf.target_host;
	ci.port = port;
	ci.host = d->conf.target_host;
	ci.method = "RAW";
	ci.local_protocol_name = AGENT_TARGET_PROTO;
	ci.opaque_user_data = c;
	ci.pwsi = &c->wsi;
	/* TLS is ours, on the plain connection (tlsraw.h says why). */
	c->want_tls = tls;
	debug("%s: channel %u: connecting to %s:%u%s", d->conf.id, id,
	    d->conf.target_host, port, tls ? " (TLS)" : "");
	c->in_connect = 1;
	if (lws_client_connect_via_info(&ci) == NULL) {
		c->wsi = NULL;
		if (c->fault == 0)
			c->fault = RF_WT_ERR_SOCKET;
	}
	c->in_connect = 0;
	if (c->fault != 0) {
		logit("%s: channel %u: cannot connect to %s:%u: %s",
		    d->conf.id, id, d->conf.target_host, port,
		    rf_wt_error_name((uint16_t)c->fault));
		chan_abort(c, RF_WT_OPEN_FAULT, (uint16_t)c->fault);
	}
}

/* DATA from the reflector for the target. */
static void
chan_data(struct agent_dev *d, struct agent_chan *c, const void *p,
    size_t len)
{
	if (c->peer_closed) {
		chan_abort(c, RF_WT_ERROR, RF_WT_ERR_PROTOCOL);
		return;
	}
	if (d->ext) {
		if (len > c->rx_avail) {
			logit("%s: channel %u: the reflector sent beyond its "
			    "credit", d->conf.id, c->id);
			chan_abort(c, RF_WT_ERROR, RF_WT_ERR_PROTOCOL);
			return;
		}
		c->rx_avail -= (uint32_t)len;
	}
	if (c->target_gone)
		return;		/* in flight when the target closed */
	if (rf_wsc_q_put(&c->to_target, p, len) != 0) {
		chan_abort(c, RF_WT_ERROR, RF_WT_ERR_SOCKET);
		return;
	}
	d->st.bytes_in += len;
	chan_want_write(c);
	/*
	 * The plain protocol has no per-channel window, so a slow target can
	 * only be protected by reading less from the whole tunnel.  With the
	 * extension the window bounds to_target already.
	 */
	if (!d->ext && !c->over && c->to_target.bytes > AGENT_Q_HIGH) {
		c->over = 1;
		if (d->nover++ == 0 && !d->paused && d->wsi != NULL) {
			d->paused = 1;
			rf_wsl_pause(&d->link, d->wsi, 1);
		}
	}
}

/* CREDIT from the reflector: more of this channel's data may go. */
static void
chan_credit(struct agent_dev *d, struct agent_chan *c, uint32_t n)
{
	if (n > RF_WT_EXT_CREDIT_MAX - c->credit) {
		logit("%s: channel %u: the reflector granted beyond 2^31-1 "
		    "bytes", d->conf.id, c->id);
		chan_abort(c, RF_WT_ERROR, RF_WT_ERR_PROTOCOL);
		return;
	}
	c->credit += n;
	if (c->to_tunnel.bytes > 0)
		want_write(d);
}

/*
 * n bytes went to the target: grant them back once they add up to a
 * quarter window.  The reflector keeps at least three quarters of a
 * window meanwhile, so it never waits on a grant while the target reads.
 */
static void
chan_grant(struct agent_chan *c, size_t n)
{
	struct agent_dev *d = c->dev;

	if (!d->ext)
		return;
	c->rx_ungranted += (uint32_t)n;
	if (c->peer_closed || c->rx_ungranted < AGENT_EXT_WINDOW / 4)
		return;
	ctrl_put(d, RF_WT_CREDIT, c->id, c->rx_ungranted);
	c->rx_avail += c->rx_ungranted;
	c->rx_ungranted = 0;
}

/* CLOSE from the reflector: FIN to the target once the queue is out. */
static void
chan_peer_close(struct agent_chan *c)
{
	c->peer_closed = 1;
	if (c->target_gone) {
		chan_maybe_done(c);
		return;
	}
	chan_want_write(c);
}

/* ------------------------------------------------------------- frames -- */

static void
handle_frame(struct agent_dev *d, const unsigned char *msg, size_t len)
{
	struct rf_wt_frame f;
	struct agent_chan *c;
	int r;

	r = rf_wt_decode(msg, len, &f);
	/* CREDIT is an unknown opcode without the extension. */
	if (!d->ext && f.op == RF_WT_CREDIT)
		r = RF_ERR_INVAL;
	if (r != 0) {
		if (r == RF_ERR_INVAL)
			ctrl_put(d, RF_WT_ERROR, f.channel, RF_WT_ERR_PROTOCOL);
		else
			verbose("%s: malformed frame of %zu bytes ignored",
			    d->conf.id, len);
		return;
	}
	debug3("%s: %s channel %u arg %u, %zu bytes", d->conf.id,
	    rf_wt_op_name(f.op), f.channel, f.arg, f.len);
	if (f.op == RF_WT_OPEN_REQUEST) {
		chan_open(d, f.channel, f.arg);
		return;
	}
	c = chan_find(d, f.channel);
	switch (f.op) {
	case RF_WT_DATA:
		if (c != NULL)
			chan_data(d, c, f.payload, f.len);
		else
			debug("%s: data for closed channel %u dropped",
			    d->conf.id, f.channel);
		break;
	case RF_WT_CLOSE:
		if (c != NULL)
			chan_peer_close(c);
		break;
	case RF_WT_CREDIT:
		/* A grant for a channel we ended already is late, not wrong. */
		if (c != NULL)
			chan_credit(d, c, f.credit);
		break;
	case RF_WT_ERROR:
		if (c != NULL) {
			debug("%s: channel %u aborted by the reflector: %s",
			    d->conf.id, f.channel, rf_wt_error_name(f.arg));
			chan_free(c);
		}
		break;
	default:
		/* OPEN_CONFIRM, OPEN_FAULT, PROP_UPDATE go the other way. */
		ctrl_put(d, RF_WT_ERROR, f.channel, RF_WT_ERR_PROTOCOL);
		break;
	}
}

/* A whole message from the reflector (wslink's ops->message). */
static int
link_message(void *arg, int binary, const unsigned char *p, size_t len)
{
	struct agent_dev *d = arg;

	if (!binary)
		verbose("%s: text message ignored", d->conf.id);
	else
		handle_frame(d, p, len);
	return 0;
}

/*
 * The next frame for the tunnel into buf, which has room bytes (at least
 * TUNNEL_TX_MIN; a DATA frame is cut to fit); its length, or 0 if nothing
 * is waiting.  With the extension a channel
 * without credit is skipped: its bytes wait, the others go.
 */
static size_t
next_frame(struct agent_dev *d, unsigned char *buf, size_t room)
{
	struct agent_chan *c, *start;
	struct agent_ctrl *f;
	size_t hl, n, max;

	if ((f = STAILQ_FIRST(&d->ctrl)) != NULL) {
		STAILQ_REMOVE_HEAD(&d->ctrl, entry);
		n = rf_wt_encode_header(buf, f->op, f->channel, f->arg);
		free(f);
		return n;
	}
	if ((start = d->next) == NULL)
		start = TAILQ_FIRST(&d->chans);
	for (c = start; c != NULL; ) {
		d->next = TAILQ_NEXT(c, entry);
		if (c->confirm) {
			c->confirm = 0;
			return rf_wt_encode_header(buf, RF_WT_OPEN_CONFIRM,
			    c->id, 0);
		}
		if (c->state == CHAN_OPEN && c->to_tunnel.bytes > 0 &&
		    (!d->ext || c->credit > 0)) {
			max = d->tx_frame;
			if (d->ext && max > c->credit)
				max = c->credit;
			if (max > room - RF_WT_HDR_MAX)
				max = room - RF_WT_HDR_MAX;
			hl = rf_wt_encode_header(buf, RF_WT_DATA, c->id, 0);
			n = rf_wsc_q_get(&c->to_tunnel, buf + hl, max);
			if (d->ext)
				c->credit -= (uint32_t)n;
			d->st.bytes_out += n;
			if (c->paused && c->wsi != NULL &&
			    c->to_tunnel.bytes < AGENT_Q_LOW) {
				c->paused = 0;
				lws_rx_flow_control(c->wsi, 1);
			}
			return hl + n;
		}
		if (c->target_gone && !c->close_sent &&
		    c->to_tunnel.bytes == 0) {
			c->close_sent = 1;
			n = rf_wt_encode_header(buf, RF_WT_CLOSE, c->id, 0);
			chan_maybe_done(c);
			return n;
		}
		c = d->next;
		if (c == NULL && start != TAILQ_FIRST(&d->chans))
			c = TAILQ_FIRST(&d->chans);
		if (c == start)
			break;
	}
	return 0;
}

/*
 * Frames go out in batches (rf_wsc_batch_send): what the socket does not
 * take waits in d->tx and goes first next time, and a PING or the PONG
 * owed to the reflector starts the next batch.
 */
static int
tunnel_writeable(struct agent_dev *d, struct lws *wsi)
{
	struct rf_wsc_batch b;
	unsigned char *p;
	size_t n = 0, room;
	long w;

	if ((w = rf_wsc_tx_flush(wsi, &d->link, &d->tx)) < 0)
		return -1;
	if (w > 0)
		d->ka.last_tx = lws_now_usecs();
	if (rf_buf_len(&d->tx) > 0 || rf_wsl_pending(&d->link) > 0)
		goto later;
	rf_wsc_batch_init(&b, d->agent->txbuf, sizeof(d->agent->txbuf));
	if (d->ping_due && rf_wsc_batch_control(&b, RF_WS_PING, NULL, 0) == 0)
		d->ping_due = 0;
	(void)rf_wsl_pong(&d->link, &b);
	for (;;) {
		while ((p = rf_wsc_batch_room(&b, TUNNEL_TX_MIN, &room)) !=
		    NULL && (n = next_frame(d, p, room)) > 0)
			if (rf_wsc_batch_add(&b, n) != 0)
				return -1;
		if (b.len == 0)
			return 0;
		if ((w = rf_wsc_batch_send(wsi, &d->link, &b, &d->tx)) < 0)
			return -1;
		if (w > 0)
			d->ka.last_tx = lws_now_usecs();
		if (rf_buf_len(&d->tx) > 0)
			goto later;
		if (n == 0)
			return 0;	/* nothing more waits */
	}
later:
	lws_callback_on_writable(wsi);
	return 0;
}

/* ---------------------------------------------------------- handshake -- */

static int
append_headers(struct agent_dev *d, struct rf_buf *h)
{
	char user[300], auth[700], ext[64], props[8192];
	struct rf_wt_ext ours;
	int n, r;

	n = snprintf(user, sizeof(user), "%s@%s", d->conf.id, d->conf.group);
	if (n < 0 || (size_t)n >= sizeof(user) ||
	    rf_wsc_basic(user, d->conf.password, auth, sizeof(auth)) != 0)
		goto toolong;
	r = rf_buf_putf(h, "Authorization: %s\r\n", auth);
	explicit_bzero(auth, sizeof(auth));
	if (r != 0)
		goto toolong;
	if ((n = rf_agent_property_headers(&d->conf, props,
	    sizeof(props))) < 0 || rf_buf_put(h, props, (size_t)n) != 0)
		goto toolong;
	ours.frame = AGENT_EXT_FRAME;
	ours.window = AGENT_EXT_WINDOW;
	if (rf_wt_ext_format(&ours, ext, sizeof(ext)) != 0 ||
	    rf_buf_putf(h, "X-WebTunnel-KeepAlive: %d\r\n"
	    RF_WT_EXT_HEADER ": %s\r\n"
	    "User-Agent: reflector-agent/%s\r\n", d->agent->s.keepalive, ext,
#ifdef RF_VERSION
	    RF_VERSION
#else
	    "0"
#endif
	    ) != 0 || rf_buf_put_u8(h, '\0') != 0)
		goto toolong;
	return 0;
toolong:
	snprintf(d->st.last_error, sizeof(d->st.last_error),
	    "the handshake headers do not fit");
	d->reason_set = 1;
	return -1;
}

/*
 * The reflector's answer to our extension header: on only if it sent a
 * valid one.  Anything else is the plain protocol, never a failure.
 */
static void
check_extension(struct agent_dev *d)
{
	struct rf_wt_ext theirs;
	char v[128];
	int r;

	d->ext = 0;
	d->tx_frame = RF_WT_STOCK_PAYLOAD_MAX;
	d->tx_window = 0;
	if ((r = rf_wsl_header(&d->link, RF_WT_EXT_HEADER, v, sizeof(v))) ==
	    RF_ERR_NOTFOUND) {
		verbose("%s: the reflector speaks the plain protocol",
		    d->conf.id);
		return;
	}
	if (r != 0 || rf_wt_ext_parse(v, &theirs) != 0) {
		logit("%s: unusable %s answer \"%.60s\": plain protocol",
		    d->conf.id, RF_WT_EXT_HEADER, v);
		return;
	}
	d->ext = 1;
	d->tx_frame = theirs.frame;
	d->tx_window = theirs.window;
	verbose("%s: extension 1: frames up to %zu bytes, window %u to the "
	    "reflector, %u from it", d->conf.id, d->tx_frame,
	    (unsigned)d->tx_window, (unsigned)AGENT_EXT_WINDOW);
}

/* The 101 came and passed wslink's checks: the tunnel is up. */
static int
link_open(void *arg)
{
	struct agent_dev *d = arg;

	check_extension(d);
	d->wsi = d->cwsi;
	rf_wsc_ka_start(&d->ka, d->agent->s.keepalive, lws_now_usecs());
	agent_dev_up(d);
	return 0;
}

static void
link_want_write(void *arg)
{
	want_write(arg);
}

static const struct rf_wsl_ops link_ops = {
	link_open, link_message, link_want_write
};

/* Why the link failed, as a sentence for the log, unless one was set. */
static void
link_failed(struct agent_dev *d)
{
	if (d->reason_set)
		return;
	rf_wsc_failure_text(&d->link.fail, "check the id, group and password",
	    "proxy.username and proxy.password", d->st.last_error,
	    sizeof(d->st.last_error));
	d->reason_set = 1;
}

static void
tunnel_gone(struct agent_dev *d, struct lws *wsi, const char *why)
{
	struct agent_chan *c;
	struct agent_ctrl *f;

	/* Late news of a connection that is no longer the device's. */
	if (wsi != NULL && (d->wsi != NULL ? wsi != d->wsi :
	    d->cwsi != NULL && wsi != d->cwsi))
		return;
	if (wsi != NULL)
		lws_set_opaque_user_data(wsi, NULL);
	rf_evloop_flush_cancel(&d->agent->loop, &d->flush);
	rf_evloop_flush_cancel(&d->agent->loop, &d->rxflush);
	d->dead = 0;
	d->wsi = NULL;
	d->cwsi = NULL;
	while ((c = TAILQ_FIRST(&d->chans)) != NULL)
		chan_free(c);
	while ((f = STAILQ_FIRST(&d->ctrl)) != NULL) {
		STAILQ_REMOVE_HEAD(&d->ctrl, entry);
		free(f);
	}
	rf_buf_free(&d->tx);
	d->nover = 0;
	d->paused = 0;
	d->next = NULL;
	rf_wsl_free(&d->link);
	agent_dev_down(d, why);
}

static int
tunnel_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct agent_dev *d = lws_get_opaque_user_data(wsi);

	(void)user;
	if (d == NULL)
		return reason == LWS_CALLBACK_RAW_RX ||
		    reason == LWS_CALLBACK_RAW_WRITEABLE ||
		    reason == LWS_CALLBACK_RAW_CONNECTED ? -1 : 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		rf_wsl_failed(&d->link, in);
		link_failed(d);
		tunnel_gone(d, wsi, d->st.last_error);
		break;
	case LWS_CALLBACK_RAW_CONNECTED:
		if (rf_wsl_connected(&d->link, wsi) != 0) {
			link_failed(d);
			return -1;
		}
		break;
	case LWS_CALLBACK_RAW_RX:
		if (d->dead)
			return -1;
		d->ka.last_rx = lws_now_usecs();
		if (rf_wsl_rx(&d->link, wsi, in, len) != 0) {
			rf_wsl_close_answer(&d->link, wsi, &d->tx);
			link_failed(d);
			return -1;
		}
		break;
	case LWS_CALLBACK_RAW_WRITEABLE:
		if (d->dead || rf_wsl_flush(&d->link, wsi) != 0)
			return -1;
		return rf_wsl_is_open(&d->link) ? tunnel_writeable(d, wsi) : 0;
	case LWS_CALLBACK_RAW_CLOSE:
		rf_wsl_failed(&d->link, NULL);
		link_failed(d);
		tunnel_gone(d, wsi, d->st.last_error);
		break;
	case LWS_CALLBACK_WSI_DESTROY:
		/* Gone without either of the above: never seen, but final. */
		rf_wsl_failed(&d->link, NULL);
		link_failed(d);
		tunnel_gone(d, wsi, d->st.last_error);
		break;
	default:
		break;
	}
	return 0;
}

void
agent_tunnel_connect(struct agent_dev *d)
{
	struct rf_agent *a = d->agent;
	struct rf_wsl_conf lc;
	struct rf_buf h;

	d->reason_set = 0;
	d->st.last_error[0] = '\0';
	d->established = 0;
	/* At most one batch is ever kept. */
	rf_buf_free(&d->tx);
	rf_buf_init(&d->tx, AGENT_TX_BUF);
	d->st.state = RF_AGENT_CONNECTING;
	d->connect_start = lws_now_usecs();
	verbose("%s: connecting to %s", d->conf.id, a->s.reflector);
	/* d->wsi is set once the 101 came; until then d->cwsi is all. */
	d->wsi = NULL;
	rf_buf_init(&h, 16 * 1024);
	if (append_headers(d, &h) != 0) {
		rf_buf_free(&h);
		tunnel_gone(d, NULL, d->st.last_error);
		return;
	}
	memset(&lc, 0, sizeof(lc));
	lc.ctx = a->ctx;
	lc.vhost = a->vh_tunnel;
	lc.lws_protocol = AGENT_TUNNEL_LWS;
	lc.opaque = d;
	lc.pwsi = &d->cwsi;
	lc.host = a->url.host;
	lc.port = a->url.port;
	lc.path = a->url.path;
	lc.tls = a->url.tls ? a->tunnel_tls : NULL;
	lc.proxy = &a->proxy;
	lc.subprotocol = AGENT_TUNNEL_PROTO;
	lc.max_message = AGENT_RX_MAX;
	lc.own_records = a->s.own_records;
	if (rf_wsl_connect(&d->link, &lc, (const char *)rf_buf_ptr(&h),
	    &link_ops, d) != 0 && d->cwsi == NULL && !d->reason_set) {
		link_failed(d);
		tunnel_gone(d, NULL, d->st.last_error);
	}
	explicit_bzero((void *)rf_buf_ptr(&h), rf_buf_len(&h));
	rf_buf_free(&h);
}

void
agent_tunnel_drop(struct agent_dev *d)
{
	struct lws *wsi = d->wsi != NULL ? d->wsi : d->cwsi;
	struct agent_chan *c;
	struct agent_ctrl *f;

	rf_evloop_flush_cancel(&d->agent->loop, &d->flush);
	rf_evloop_flush_cancel(&d->agent->loop, &d->rxflush);
	d->dead = 0;
	while ((c = TAILQ_FIRST(&d->chans)) != NULL)
		chan_free(c);
	while ((f = STAILQ_FIRST(&d->ctrl)) != NULL) {
		STAILQ_REMOVE_HEAD(&d->ctrl, entry);
		free(f);
	}
	/* A CLOSE and close_notify, as far as the socket takes them now. */
	rf_wsl_close(&d->link, wsi, RF_WS_CLOSE_GOING_AWAY, &d->tx);
	rf_wsl_free(&d->link);
	rf_buf_free(&d->tx);
	d->wsi = NULL;
	d->cwsi = NULL;
	if (wsi != NULL) {
		lws_set_opaque_user_data(wsi, NULL);
		lws_set_timeout(wsi, 1, LWS_TO_KILL_ASYNC);
	}
}

void
agent_tunnel_tick(struct agent_dev *d, int64_t now)
{
	struct agent_chan *c, *tc;
	int hs = d->agent->s.handshake_timeout, ka;

	/* Until ESTABLISHED: TCP, the proxy, TLS and the upgrade's answer. */
	if (d->wsi == NULL && d->cwsi != NULL && !d->reason_set &&
	    now - d->connect_start >= (int64_t)hs * LWS_US_PER_SEC) {
		snprintf(d->st.last_error, sizeof(d->st.last_error),
		    "no answer from the reflector within %d s "
		    "(handshake_timeout)", hs);
		d->reason_set = 1;
		lws_set_timeout(d->cwsi, 1, LWS_TO_KILL_ASYNC);
	}
	if (d->wsi == NULL)
		return;
	/* Kept devices see a reloaded keepalive at once. */
	d->ka.interval = (int64_t)d->agent->s.keepalive * LWS_US_PER_SEC;
	/*
	 * The reflector answers every PING, so silence means it is gone;
	 * but not while we read nothing ourselves (a slow target paused the
	 * tunnel): its answers wait in our socket, and the clock starts
	 * again when reading does.
	 */
	if (d->paused)
		d->ka.last_rx = now;
	if ((ka = rf_wsc_ka_check(&d->ka, now)) < 0) {
		snprintf(d->st.last_error, sizeof(d->st.last_error),
		    "no answer from the reflector for %lld s",
		    (long long)((now - d->ka.last_rx) / LWS_US_PER_SEC));
		d->reason_set = 1;
		lws_set_timeout(d->wsi, 1, LWS_TO_KILL_ASYNC);
		return;
	}
	if (ka > 0) {
		d->ping_due = 1;
		want_write(d);
	}
	for (c = TAILQ_FIRST(&d->chans); c != NULL; c = tc) {
		tc = TAILQ_NEXT(c, entry);
		if (c->state != CHAN_CONNECTING || now < c->deadline)
			continue;
		logit("%s: channel %u: connecting to %s:%u timed out",
		    d->conf.id, c->id, d->conf.target_host, c->port);
		chan_abort(c, RF_WT_OPEN_FAULT, RF_WT_ERR_TIMEOUT);
	}
}

/* ------------------------------------------------------------- target -- */

/*
 * TLS to a device's own web server.  Its certificate is self-signed as a
 * rule and the target is on the device's LAN, chosen by its owner, so
 * nothing is verified: the leg is encrypted, not authenticated.
 */
static int
target_tls_start(struct agent_chan *c, struct lws *wsi)
{
	struct rf_agent *a = c->dev->agent;
	char why[200];

	if (a->target_tls == NULL &&
	    (a->target_tls = rf_tlsraw_ctx_new(0, NULL, why, sizeof(why))) ==
	    NULL) {
		error("%s: %s", c->dev->conf.id, why);
		return -1;
	}
	if ((c->tls = rf_tlsraw_new(a->target_tls, c->dev->conf.target_host,
	    "http/1.1")) == NULL) {
		error("%s: channel %u: cannot start TLS", c->dev->conf.id,
		    c->id);
		return -1;
	}
	return rf_tlsraw_flush(c->tls, wsi);
}

/* The target is connected (and its TLS up): OPEN_CONFIRM goes out. */
static void
target_ready(struct agent_chan *c, struct lws *wsi)
{
	struct agent_dev *d = c->dev;

	c->state = CHAN_OPEN;
	c->confirm = 1;
	d->st.channels++;
	debug("%s: channel %u: connected to port %u%s", d->conf.id, c->id,
	    c->port, c->tls != NULL ? " (TLS)" : "");
	want_write(d);
	if (c->to_target.bytes > 0 || c->peer_closed)
		lws_callback_on_writable(wsi);
}

/* Bytes the target sent, decrypted, for the tunnel. */
static int
target_data(struct agent_chan *c, struct lws *wsi, const void *p, size_t len)
{
	if (rf_wsc_q_put(&c->to_tunnel, p, len) != 0) {
		chan_abort(c, RF_WT_ERROR, RF_WT_ERR_SOCKET);
		return -1;
	}
	if (!c->paused && c->to_tunnel.bytes > AGENT_Q_HIGH) {
		c->paused = 1;
		lws_rx_flow_control(wsi, 0);
	}
	want_write(c->dev);
	return 0;
}

/*
 * Ciphertext from a TLS target: the handshake moves on, or the plaintext
 * goes to the tunnel.  -1 closes the target connection; a failed handshake
 * has become an OPEN_FAULT by then, a failure later an ERROR.
 */
static int
target_tls_rx(struct agent_chan *c, struct lws *wsi, const void *in,
    size_t len)
{
	unsigned char buf[TARGET_WRITE_MAX];
	int n;

	if (rf_tlsraw_feed(c->tls, in, len) != 0) {
		logit("%s: channel %u: TLS with %s:%u: %s", c->dev->conf.id,
		    c->id, c->dev->conf.target_host, c->port,
		    rf_tlsraw_error(c->tls));
		chan_abort(c, c->state == CHAN_CONNECTING ? RF_WT_OPEN_FAULT :
		    RF_WT_ERROR, RF_WT_ERR_SOCKET);
		return -1;
	}
	if (c->state == CHAN_CONNECTING && rf_tlsraw_ready(c->tls))
		target_ready(c, wsi);
	while ((n = rf_tlsraw_read(c->tls, buf, sizeof(buf))) > 0)
		if (target_data(c, wsi, buf, (size_t)n) != 0)
			return -1;
	if (n == RF_ERR_TLS) {
		logit("%s: channel %u: %s", c->dev->conf.id, c->id,
		    rf_tlsraw_error(c->tls));
		chan_abort(c, RF_WT_ERROR, RF_WT_ERR_SOCKET);
		return -1;
	}
	/* close_notify: the target sends no more; the close does the rest. */
	if (n == RF_ERR_EOF)
		return -1;
	return rf_tlsraw_flush(c->tls, wsi);
}

static int
target_writeable(struct agent_chan *c, struct lws *wsi)
{
	long w;
	int r;

	if (c->tls != NULL) {
		if (rf_tlsraw_flush(c->tls, wsi) != 0)
			return -1;
		if (!rf_tlsraw_ready(c->tls))
			return 0;	/* the handshake is still going */
	}
	if ((w = rf_tlsraw_q_write(c->tls, wsi, &c->to_target)) < 0)
		return -1;
	chan_grant(c, (size_t)w);
	if (c->to_target.bytes < AGENT_Q_LOW)
		chan_unover(c);
	if (c->to_target.bytes > 0) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (!c->peer_closed || c->shut_wr)
		return 0;
	/*
	 * lws cannot half-close a raw socket, but it only needs to not read
	 * 0 itself: the FIN is ours to send, after everything lws or TLS
	 * still holds (a close_notify first on TLS).
	 */
	if ((r = rf_tlsraw_finish(c->tls, wsi)) <= 0)
		return r;
	c->shut_wr = 1;
	if (shutdown(lws_get_socket_fd(wsi), SHUT_WR) == -1)
		debug("%s: channel %u: shutdown: %s", c->dev->conf.id, c->id,
		    strerror(errno));
	return 0;
}

static int
target_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct agent_chan *c = lws_get_opaque_user_data(wsi);
	struct agent_dev *d;

	(void)user;
	if (c == NULL) {
		/* Detached: its channel is gone. */
		return reason == LWS_CALLBACK_RAW_RX ||
		    reason == LWS_CALLBACK_RAW_WRITEABLE ||
		    reason == LWS_CALLBACK_RAW_CONNECTED ? -1 : 0;
	}
	d = c->dev;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		c->wsi = NULL;
		lws_set_opaque_user_data(wsi, NULL);
		c->fault = fault_code(in);
		if (c->in_connect)
			break;
		logit("%s: channel %u: cannot connect to %s:%u: %s",
		    d->conf.id, c->id, d->conf.target_host, c->port,
		    in != NULL ? (const char *)in : "failed");
		chan_abort(c, RF_WT_OPEN_FAULT, (uint16_t)c->fault);
		break;
	case LWS_CALLBACK_RAW_CONNECTED:
		c->wsi = wsi;
		if (!c->want_tls) {
			target_ready(c, wsi);
			break;
		}
		if (target_tls_start(c, wsi) != 0) {
			chan_abort(c, RF_WT_OPEN_FAULT, RF_WT_ERR_SOCKET);
			return -1;
		}
		break;
	case LWS_CALLBACK_RAW_RX:
		if (c->dead)
			return -1;
		if (c->tls != NULL)
			return target_tls_rx(c, wsi, in, len);
		return target_data(c, wsi, in, len);
	case LWS_CALLBACK_RAW_WRITEABLE:
		return c->dead ? -1 : target_writeable(c, wsi);
	case LWS_CALLBACK_RAW_CLOSE:
		debug("%s: channel %u: the target closed", d->conf.id, c->id);
		lws_set_opaque_user_data(wsi, NULL);
		c->wsi = NULL;
		if (c->state == CHAN_CONNECTING) {
			/* Closed during the TLS handshake. */
			logit("%s: channel %u: %s:%u closed the connection "
			    "during the TLS handshake", d->conf.id, c->id,
			    d->conf.target_host, c->port);
			chan_abort(c, RF_WT_OPEN_FAULT, RF_WT_ERR_SOCKET);
			break;
		}
		c->target_gone = 1;
		rf_wsc_q_clear(&c->to_target);
		chan_unover(c);
		if (c->close_sent)
			chan_maybe_done(c);
		else
			want_write(d);
		break;
	default:
		break;
	}
	return 0;
}
