/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Device tunnels: the reflector's end of WEBTUNNEL.md §2-§3.
 *
 * Lifecycle.  An agent sends a WebSocket upgrade (GET or POST) to the
 * portal host with subprotocol com.appinf.webtunnel.server/1.0 and Basic
 * credentials "<id>@<group>:<secret>"; front.c checks them, answers 101
 * and calls rf_tunnel_open, rf_tunnel_set_property for each property and
 * rf_tunnel_online.  From then on front.c hands every WebSocket message
 * to rf_tunnel_message and calls rf_tunnel_write when the socket can
 * take more.  Online, the tunnel is registered in this worker and this
 * worker becomes the device's owner in the routing map.  When the
 * connection closes (rf_tunnel_gone), every channel is told and the owner
 * entry is removed if it is still ours (a newer tunnel of the device may
 * own it by then).
 *
 * Last connection wins.  A device that connects while an older tunnel of
 * it exists keeps the new one: an old tunnel in this worker is closed at
 * once, one in another worker gets RF_MSG_DEVICE_TAKEN on that worker's
 * inbox and closes when it reads it.  The owner entry is written before
 * the old tunnel goes, and an old tunnel only deletes an entry that is
 * still its own, so the map never points at nothing while a device is up.
 *
 * Channels.  The reflector picks channel numbers (never 0).  A channel is
 * OPENING until OPEN_CONFIRM; data written meanwhile is held and sent
 * after it.  CLOSE is a half-close each way; the channel ends when both
 * sides have closed, or at ERROR from either side.  Frames to a stock
 * agent carry at most 2048 payload bytes, which every stock agent accepts.
 * A channel whose opener shut it (rf_channel_shutdown) ends by itself
 * when the agent's CLOSE arrives: the opener gets eof() and then
 * closed(NONE), and needs to abort nothing.
 *
 * Bad input.  A frame that cannot be decoded (too short for its opcode)
 * or a text message closes this tunnel only; an unknown opcode is answered
 * with ERROR(PROTOCOL) on its channel and the tunnel lives on; DATA or
 * CLOSE on an unknown channel is answered with ERROR(BAD_CHANNEL).  A
 * message larger than any frame is refused before it is buffered.
 *
 * Flow control.  The stock protocol has none: when a reader of a channel
 * cannot keep up, rf_channel_pause stops reading the whole tunnel until
 * no channel is paused (WEBTUNNEL.md).
 *
 * The extension (reflector-webtunnel(7)).  When the agent's upgrade
 * carried RF_WT_EXT_HEADER and front.c answered it, DATA to the agent
 * carries up to the agent's frame size, and each direction of each
 * channel has a credit window.  Sending: a channel holds what it was
 * given in ch->held and puts on the tunnel only what its credit allows;
 * CREDIT from the agent lets more go; CLOSE leaves after the held bytes.
 * The high/low marks count held and queued bytes together, so openers see
 * the same AGAIN/writable() as before; the socket still paces
 * the tunnel as a whole.  Receiving: the agent may have at most
 * RF_TUNNEL_EXT_WINDOW bytes in flight on a channel; more is
 * ERROR(PROTOCOL) on that channel, never buffered.  Bytes are granted
 * back once data() has taken them, unless the opener paused the channel:
 * then grants stop for that channel only, its opener's own high mark
 * plus one window bounds what is buffered, and the other channels and
 * the tunnel keep flowing.  Grants resume when the opener unpauses.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libwebsockets.h>

#include "auth.h"
#include "buf.h"
#include "conf.h"
#include "db.h"
#include "err.h"
#include "evloop.h"
#include "front.h"
#include "hash.h"
#include "log.h"
#include "msg.h"
#include "reflectord.h"
#include "tunnel.h"
#include "worker.h"
#include "ws.h"
#include "wt.h"

#define RF_TUNNEL_MSG_MAX	(64 * 1024 + 6)	/* largest frame we take */
#define RF_TUNNEL_PROPS_MAX	32
#define RF_CHANNEL_HIGH		(512 * 1024)	/* queued bytes per channel */
#define RF_CHANNEL_LOW		(128 * 1024)
/* Our receive window per channel when the extension is in use. */
#define RF_TUNNEL_EXT_WINDOW	(512 * 1024)

enum rf_channel_state {
	RF_CH_OPENING = 0,	/* OPEN_REQUEST sent, no answer yet */
	RF_CH_OPEN,		/* confirmed: data flows */
};

struct rf_channel {
	LIST_ENTRY(rf_channel)		 entry;
	struct rf_tunnel		*t;
	uint16_t			 id;
	uint16_t			 port;
	enum rf_channel_state		 state;
	int				 local_closed;	/* we sent CLOSE */
	int				 remote_closed;	/* agent sent CLOSE */
	int				 paused;
	int				 want_writable;
	int				 close_sent;	/* CLOSE is queued */
	int				 in_cb;		/* in data() or eof() */
	int				 dead;		/* freed during in_cb */
	size_t				 queued;	/* bytes in t->outq */
	/* Written before confirm; with the extension, beyond credit too. */
	struct rf_buf			 held;
	uint32_t			 credit;	/* ext: we may send */
	uint32_t			 rx_avail;	/* ext: agent may send */
	uint32_t			 rx_ungranted;	/* ext: taken, not granted */
	const struct rf_channel_ops	*ops;
	void				*arg;
	lws_sorted_usec_list_t		 sul_open;
};

/*
 * One frame waiting to be written: LWS_PRE bytes for lws, room for the
 * WebSocket header (RF_WS_HDR_ROOM), then the WebTunnel frame.
 */
#define RF_WS_HDR_ROOM		10	/* an unmasked server frame header */
#define RF_FRAME_OFF		(LWS_PRE + RF_WS_HDR_ROOM)

struct rf_frame {
	STAILQ_ENTRY(rf_frame)	 entry;
	uint16_t		 channel;
	size_t			 len;		/* WebTunnel frame bytes */
	unsigned char		 buf[];
};

struct rf_prop {
	char	*name;
	char	*value;
};

struct rf_tunnel {
	LIST_ENTRY(rf_tunnel)		 entry;
	struct lws			*wsi;
	char				 device[RF_DB_DEVICE_ID_MAX + 1];
	char				 group[64];
	char				 peer[64];
	uint32_t			 serial;	/* owner-map generation */
	time_t				 since;
	int				 keepalive;	/* agent's, seconds */
	int				 closing;
	int				 registered;	/* on the list */
	struct rf_prop			*props;		/* grown as set */
	size_t				 nprops;
	size_t				 aprops;	/* allocated */
	LIST_HEAD(, rf_channel)		 channels;
	uint16_t			 next_channel;
	int				 paused;	/* paused channels */
	int				 ext;		/* the extension is on */
	size_t				 tx_frame;	/* DATA payload max */
	uint32_t			 tx_window;	/* agent's window */
	STAILQ_HEAD(, rf_frame)		 outq;
	size_t				 outq_bytes;
	struct rf_buf			 tx;		/* framed, not yet taken */
	unsigned long long		 bytes_in;
	unsigned long long		 bytes_out;
};

/*
 * Registered tunnels by device: every browser request and device connect
 * looks one up, and a worker may hold tens of thousands.  Chained hash
 * buckets, doubled when there are more tunnels than buckets.
 */
LIST_HEAD(rf_tunnel_list, rf_tunnel);
#define RF_TUNNEL_BUCKETS_MIN	64
static struct rf_tunnel_list	 buckets_min[RF_TUNNEL_BUCKETS_MIN];
static struct rf_tunnel_list	*buckets = buckets_min;
static size_t			 nbuckets = RF_TUNNEL_BUCKETS_MIN;
static int			 ntunnels;
static uint32_t next_serial = 1;

static void	channel_free(struct rf_channel *, int notify, uint16_t err);

/* ------------------------------------------------------------ lookup -- */

static struct rf_tunnel_list *
bucket_of(const char *device)
{
	return &buckets[rf_hash_str(device) & (nbuckets - 1)];
}

/* Makes room for one more tunnel; the table stays as it is if it cannot. */
static void
buckets_grow(void)
{
	struct rf_tunnel_list	*nb;
	struct rf_tunnel	*t;
	size_t			 i, n = nbuckets * 2;

	if ((size_t)ntunnels < nbuckets)
		return;
	if ((nb = calloc(n, sizeof(*nb))) == NULL)
		return;		/* longer chains, still correct */
	for (i = 0; i < nbuckets; i++)
		while ((t = LIST_FIRST(&buckets[i])) != NULL) {
			LIST_REMOVE(t, entry);
			LIST_INSERT_HEAD(&nb[rf_hash_str(t->device) & (n - 1)],
			    t, entry);
		}
	if (buckets != buckets_min)
		free(buckets);
	buckets = nb;
	nbuckets = n;
}

struct rf_tunnel *
rf_tunnel_find(const char *device)
{
	struct rf_tunnel *t;

	LIST_FOREACH(t, bucket_of(device), entry)
		if (!t->closing && strcmp(t->device, device) == 0)
			return t;
	return NULL;
}

const char *
rf_tunnel_property(const struct rf_tunnel *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->nprops; i++)
		if (strcasecmp(t->props[i].name, name) == 0)
			return t->props[i].value;
	return NULL;
}

uint16_t
rf_tunnel_http_port(const struct rf_tunnel *t)
{
	const char *v = rf_tunnel_property(t, "httpPort");
	long port;
	char *end;

	if (v == NULL || *v == '\0')
		return 80;
	port = strtol(v, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535)
		return 80;
	return (uint16_t)port;
}

int
rf_tunnel_count(void)
{
	return ntunnels;
}

/* -------------------------------------------------------- properties -- */

static int
prop_set(void *arg, const char *name, const char *value)
{
	struct rf_tunnel *t = arg;
	struct rf_prop *p = NULL, *np;
	size_t i, n;
	char *v;

	for (i = 0; i < t->nprops; i++)
		if (strcasecmp(t->props[i].name, name) == 0)
			p = &t->props[i];
	if (p == NULL) {
		if (t->nprops == RF_TUNNEL_PROPS_MAX || *value == '\0')
			return 0;	/* more than we keep: ignore, not fatal */
		/* Grown as needed: most agents send a few, idle ones none. */
		if (t->nprops == t->aprops) {
			n = t->aprops == 0 ? 4 : 2 * t->aprops;
			if ((np = reallocarray(t->props, n, sizeof(*np))) ==
			    NULL)
				return RF_ERR_NOMEM;
			t->props = np;
			t->aprops = n;
		}
		p = &t->props[t->nprops];
		if ((p->name = strdup(name)) == NULL)
			return RF_ERR_NOMEM;
		p->value = NULL;
		t->nprops++;
	}
	if ((v = strdup(value)) == NULL)
		return RF_ERR_NOMEM;
	free(p->value);
	p->value = v;
	return 0;
}

int
rf_tunnel_set_property(struct rf_tunnel *t, const char *name,
    const char *value)
{
	return prop_set(t, name, value);
}

/* ----------------------------------------------------------- sending -- */

static int
queue_frame(struct rf_tunnel *t, uint8_t op, uint16_t channel, uint32_t arg,
    const void *payload, size_t len)
{
	struct rf_frame *f;
	size_t hl = rf_wt_header_len(op);

	if ((f = malloc(sizeof(*f) + RF_FRAME_OFF + hl + len)) == NULL)
		return RF_ERR_NOMEM;
	f->channel = channel;
	f->len = rf_wt_encode_header(f->buf + RF_FRAME_OFF, op, channel, arg) +
	    len;
	if (len > 0)
		rf_copy(f->buf + RF_FRAME_OFF + hl, payload, len);
	STAILQ_INSERT_TAIL(&t->outq, f, entry);
	t->outq_bytes += f->len;
	rf_front_want_write(t->wsi);
	return 0;
}

static struct rf_channel *
channel_find(struct rf_tunnel *t, uint16_t id)
{
	struct rf_channel *ch;

	LIST_FOREACH(ch, &t->channels, entry)
		if (ch->id == id)
			return ch;
	return NULL;
}

/*
 * DATA frames of at most t->tx_frame payload bytes: 2048, which every
 * stock agent takes, or what our agent announced.
 */
static int
queue_data(struct rf_channel *ch, const unsigned char *p, size_t len)
{
	size_t n;
	int r;

	while (len > 0) {
		n = len > ch->t->tx_frame ? ch->t->tx_frame : len;
		if ((r = queue_frame(ch->t, RF_WT_DATA, ch->id, 0, p, n)) != 0)
			return r;
		ch->queued += n + 4;
		p += n;
		len -= n;
	}
	return 0;
}

/*
 * Sends what is held as far as the credit goes (all of it without the
 * extension), then the CLOSE that waited for it.  Only for an open
 * channel.
 */
static int
flush_held(struct rf_channel *ch)
{
	size_t n;
	int r;

	while ((n = rf_buf_len(&ch->held)) > 0) {
		if (ch->t->ext) {
			if (ch->credit == 0)
				return 0;
			if (n > ch->credit)
				n = ch->credit;
			ch->credit -= (uint32_t)n;
		}
		if ((r = queue_data(ch, rf_buf_ptr(&ch->held), n)) != 0)
			return r;
		rf_buf_consume(&ch->held, n);
	}
	if (ch->local_closed && !ch->close_sent) {
		ch->close_sent = 1;
		return queue_frame(ch->t, RF_WT_CLOSE, ch->id, 0, NULL, 0);
	}
	return 0;
}

/* Bytes of the channel not yet on the wire, for the high/low marks. */
static size_t
channel_backlog(const struct rf_channel *ch)
{
	return ch->queued + rf_buf_len(&ch->held);
}

static void
check_writable(struct rf_channel *ch)
{
	if (ch->want_writable && channel_backlog(ch) < RF_CHANNEL_LOW) {
		ch->want_writable = 0;
		if (ch->ops->writable != NULL)
			ch->ops->writable(ch->arg);
	}
}

static void
frame_sent(struct rf_tunnel *t, const struct rf_frame *f)
{
	struct rf_channel *ch;

	t->outq_bytes -= f->len;
	t->bytes_out += f->len;
	if (f->channel == 0 || (ch = channel_find(t, f->channel)) == NULL)
		return;
	ch->queued = ch->queued > f->len ? ch->queued - f->len : 0;
	check_writable(ch);
}

/*
 * Gives the agent back the bytes data() took, once they amount to a
 * quarter window (so CREDIT frames stay rare) or when forced by an
 * unpause.  The agent always keeps at least three quarters of a window
 * while the channel is not paused, so it never waits on a grant.
 */
static void
grant(struct rf_channel *ch, int force)
{
	if (!ch->t->ext || ch->paused || ch->remote_closed ||
	    ch->rx_ungranted == 0)
		return;
	if (!force && ch->rx_ungranted < RF_TUNNEL_EXT_WINDOW / 4)
		return;
	if (queue_frame(ch->t, RF_WT_CREDIT, ch->id, ch->rx_ungranted, NULL,
	    0) != 0)
		return;		/* kept for the next grant */
	ch->rx_avail += ch->rx_ungranted;
	ch->rx_ungranted = 0;
}

/*
 * Writing.  A frame is one binary WebSocket message.  Small frames (an
 * OPEN, a CREDIT, a request head) are gathered with their headers into
 * one buffer of up to RF_TUNNEL_BATCH bytes, so that what is queued goes
 * out as few TLS records and send(2)s as it can, not one per frame; a
 * larger frame goes out from its own buffer, where its header was left
 * room for.  The batch is the worker's (one loop, one writer at a time).
 * What the socket does not take is kept in t->tx, which goes first next
 * time (rf_evloop_write: never left with lws); t->tx holds memory only
 * while it holds bytes, and the frames in it count as sent.
 */
#define RF_TUNNEL_BATCH		(64 * 1024)
#define RF_TUNNEL_GATHER	(4 * 1024)	/* frames below are gathered */

static unsigned char tunnel_batch[RF_TUNNEL_BATCH];

/* Pops the first n frames, written or in t->tx. */
static void
frames_sent(struct rf_tunnel *t, size_t n)
{
	struct rf_frame *f;

	while (n-- > 0 && (f = STAILQ_FIRST(&t->outq)) != NULL) {
		STAILQ_REMOVE_HEAD(&t->outq, entry);
		frame_sent(t, f);
		free(f);
	}
}

/*
 * The next frames as one run of bytes: the first frame itself when it is
 * large, else those that fit gathered in tunnel_batch.  Sets *nframes.
 */
static size_t
next_run(struct rf_tunnel *t, const unsigned char **run, size_t *nframes)
{
	unsigned char hdr[14];
	struct rf_frame *f = STAILQ_FIRST(&t->outq);
	size_t hl, len = 0;

	*nframes = 0;
	if (f->len >= RF_TUNNEL_GATHER) {
		hl = rf_ws_frame_header(hdr, 1, RF_WS_BINARY, f->len, NULL);
		RF_ASSERT(hl <= RF_WS_HDR_ROOM);
		memcpy(f->buf + RF_FRAME_OFF - hl, hdr, hl);
		*run = f->buf + RF_FRAME_OFF - hl;
		*nframes = 1;
		return f->len + hl;
	}
	for (; f != NULL && f->len < RF_TUNNEL_GATHER &&
	    len + RF_WS_HDR_ROOM + f->len <= RF_TUNNEL_BATCH;
	    f = STAILQ_NEXT(f, entry), (*nframes)++) {
		len += rf_ws_frame_header(tunnel_batch + len, 1, RF_WS_BINARY,
		    f->len, NULL);
		rf_copy(tunnel_batch + len, f->buf + RF_FRAME_OFF, f->len);
		len += f->len;
	}
	*run = tunnel_batch;
	return len;
}

/* The socket can take more: what is queued goes out. */
int
rf_tunnel_write(struct rf_tunnel *t)
{
	const unsigned char *run;
	size_t len, nframes;
	long n;

	for (;;) {
		if (rf_buf_len(&t->tx) > 0) {
			if ((n = rf_front_send(t->wsi, rf_buf_ptr(&t->tx),
			    rf_buf_len(&t->tx))) < 0)
				return -1;
			rf_buf_consume(&t->tx, (size_t)n);
			if (rf_buf_len(&t->tx) > 0)
				break;
			rf_buf_free(&t->tx);
		}
		if (STAILQ_EMPTY(&t->outq))
			return 0;
		len = next_run(t, &run, &nframes);
		if ((n = rf_front_send(t->wsi, run, len)) < 0)
			return -1;
		/* Kept before the frames go: frame_sent may queue more. */
		if ((size_t)n < len &&
		    rf_buf_put(&t->tx, run + n, len - (size_t)n) != 0)
			return -1;
		frames_sent(t, nframes);
	}
	lws_callback_on_writable(t->wsi);
	return 0;
}

int
rf_tunnel_quiet(const struct rf_tunnel *t)
{
	return rf_buf_len(&t->tx) == 0 && STAILQ_EMPTY(&t->outq);
}

static void	idle_timer(struct rf_tunnel *);

void
rf_tunnel_moved(struct rf_tunnel *t, struct lws *wsi)
{
	t->wsi = wsi;
	idle_timer(t);
}

const char *
rf_tunnel_device(const struct rf_tunnel *t)
{
	return t->device;
}

/* ---------------------------------------------------------- channels -- */

/* A plain tunnel is not read while one of its channels is paused. */
static int
read_paused(const struct rf_tunnel *t)
{
	return !t->ext && t->paused > 0;
}

/*
 * The tunnel's silence timer: twice the agent's keep-alive plus
 * device_idle_timeout, restarted by every message.  While the tunnel is
 * not read, silence means nothing: TCP keep-alive (tcp_keepalive) still
 * finds a dead peer.
 */
static void
idle_timer(struct rf_tunnel *t)
{
	if (read_paused(t))
		lws_set_timeout(t->wsi, NO_PENDING_TIMEOUT, 0);
	else
		lws_set_timeout(t->wsi, PENDING_TIMEOUT_USER_OK,
		    t->keepalive * 2 + rf_worker_conf()->device_idle_timeout);
}

static void
open_timeout(lws_sorted_usec_list_t *sul)
{
	struct rf_channel *ch = lws_container_of(sul, struct rf_channel,
	    sul_open);

	verbose("device %s: channel %u to port %u not confirmed in %d s",
	    ch->t->device, ch->id, ch->port,
	    rf_worker_conf()->channel_open_timeout);
	queue_frame(ch->t, RF_WT_ERROR, ch->id, RF_WT_ERR_TIMEOUT, NULL, 0);
	if (ch->ops->failed != NULL)
		ch->ops->failed(ch->arg, RF_WT_ERR_TIMEOUT);
	channel_free(ch, 0, 0);
}

static void
open_timer(struct rf_channel *ch)
{
	lws_sul_schedule(lws_get_context(ch->t->wsi), 0, &ch->sul_open,
	    open_timeout, (lws_usec_t)rf_worker_conf()->channel_open_timeout *
	    LWS_US_PER_SEC);
}

int
rf_channel_open(struct rf_tunnel *t, uint16_t port,
    const struct rf_channel_ops *ops, void *arg, struct rf_channel **out)
{
	struct rf_channel *ch;
	unsigned int tries;
	int r;

	*out = NULL;
	if (t->closing)
		return RF_ERR_EOF;
	for (tries = 0; tries < 65535; tries++) {
		if (++t->next_channel == 0)
			t->next_channel = 1;
		if (channel_find(t, t->next_channel) == NULL)
			break;
	}
	if (tries == 65535)
		return RF_ERR_LIMIT;
	if ((ch = calloc(1, sizeof(*ch))) == NULL)
		return RF_ERR_NOMEM;
	ch->t = t;
	ch->id = t->next_channel;
	ch->port = port;
	ch->ops = ops;
	ch->arg = arg;
	ch->credit = t->tx_window;
	ch->rx_avail = RF_TUNNEL_EXT_WINDOW;
	/* Room for one more write after AGAIN: callers stop only then. */
	rf_buf_init(&ch->held, 2 * RF_CHANNEL_HIGH);
	if ((r = queue_frame(t, RF_WT_OPEN_REQUEST, ch->id, port, NULL,
	    0)) != 0) {
		rf_buf_free(&ch->held);
		free(ch);
		return r;
	}
	LIST_INSERT_HEAD(&t->channels, ch, entry);
	if (!read_paused(t))
		open_timer(ch);
	debug("device %s: channel %u opening to port %u", t->device, ch->id,
	    port);
	*out = ch;
	return 0;
}

int
rf_channel_write(struct rf_channel *ch, const void *p, size_t len)
{
	int r;

	if (ch->local_closed)
		return RF_ERR_EOF;
	if (ch->state == RF_CH_OPENING) {
		/* Held until OPEN_CONFIRM; the held buffer caps it. */
		if ((r = rf_buf_put(&ch->held, p, len)) != 0)
			return r;
		if (rf_buf_len(&ch->held) < RF_CHANNEL_HIGH / 2)
			return 0;
		ch->want_writable = 1;
		return RF_ERR_AGAIN;
	}
	if (!ch->t->ext)
		r = queue_data(ch, p, len);
	else if ((r = rf_buf_put(&ch->held, p, len)) == 0)
		r = flush_held(ch);
	if (r != 0)
		return r;
	if (channel_backlog(ch) < RF_CHANNEL_HIGH)
		return 0;
	ch->want_writable = 1;
	return RF_ERR_AGAIN;
}

/*
 * Both sides have sent CLOSE (WEBTUNNEL.md: the channel is gone): the
 * channel ends here and its opener gets closed(NONE); it aborts nothing.
 * 1 if it ended.
 */
static int
channel_done(struct rf_channel *ch)
{
	if (!ch->close_sent || !ch->remote_closed)
		return 0;
	debug("device %s: channel %u closed by both sides", ch->t->device,
	    ch->id);
	channel_free(ch, 1, RF_WT_ERR_NONE);
	return 1;
}

void
rf_channel_shutdown(struct rf_channel *ch)
{
	if (ch->local_closed)
		return;
	ch->local_closed = 1;
	if (ch->state == RF_CH_OPEN) {
		flush_held(ch);
		(void)channel_done(ch);
	}
}

void
rf_channel_abort(struct rf_channel *ch)
{
	queue_frame(ch->t, RF_WT_ERROR, ch->id, RF_WT_ERR_NONE, NULL, 0);
	channel_free(ch, 0, 0);
}

void
rf_channel_pause(struct rf_channel *ch, int paused)
{
	struct rf_tunnel *t = ch->t;
	struct rf_channel *och;

	paused = paused != 0;
	if (ch->paused == paused)
		return;
	ch->paused = paused;
	if (t->ext) {
		/* Only this channel's grants stop; the tunnel reads on. */
		if (!paused)
			grant(ch, 1);
		return;
	}
	t->paused += paused ? 1 : -1;
	if (t->paused != (paused ? 1 : 0))
		return;
	/*
	 * The tunnel stops or starts reading.  Its clocks stop with it: an
	 * OPEN_CONFIRM or a PING may be waiting unread behind the paused
	 * channel's data, so the channels opening meanwhile and the tunnel
	 * itself get their whole time again once it reads.
	 */
	rf_front_rx_flow(t->wsi, !paused);
	LIST_FOREACH(och, &t->channels, entry)
		if (och->state == RF_CH_OPENING) {
			if (paused)
				lws_sul_cancel(&och->sul_open);
			else
				open_timer(och);
		}
	idle_timer(t);
}

/* Forgets a channel; notify: tell its opener closed(err). */
static void
channel_free(struct rf_channel *ch, int notify, uint16_t err)
{
	const struct rf_channel_ops *ops = ch->ops;
	void *arg = ch->arg;

	lws_sul_cancel(&ch->sul_open);
	if (ch->paused && !ch->t->ext)
		rf_channel_pause(ch, 0);
	LIST_REMOVE(ch, entry);
	rf_buf_free(&ch->held);
	/* Inside data() or eof(): the caller frees it when they return. */
	if (ch->in_cb)
		ch->dead = 1;
	else
		free(ch);
	if (notify && ops->closed != NULL)
		ops->closed(arg, err);
}

/* ------------------------------------------------------------ frames -- */

static void
on_confirm(struct rf_channel *ch)
{
	size_t n;

	lws_sul_cancel(&ch->sul_open);
	ch->state = RF_CH_OPEN;
	n = rf_buf_len(&ch->held);
	flush_held(ch);
	debug("device %s: channel %u open (%zu bytes held)", ch->t->device,
	    ch->id, n);
	if (ch->ops->opened != NULL)
		ch->ops->opened(ch->arg);
}

/* The agent broke the channel's rules: ERROR(PROTOCOL) and its end. */
static void
channel_violation(struct rf_channel *ch, const char *why)
{
	verbose("device %s: channel %u: %s", ch->t->device, ch->id, why);
	queue_frame(ch->t, RF_WT_ERROR, ch->id, RF_WT_ERR_PROTOCOL, NULL, 0);
	if (ch->state == RF_CH_OPENING) {
		if (ch->ops->failed != NULL)
			ch->ops->failed(ch->arg, RF_WT_ERR_PROTOCOL);
		channel_free(ch, 0, 0);
	} else
		channel_free(ch, 1, RF_WT_ERR_PROTOCOL);
}

/*
 * DATA on an open channel.  The opener's callback may free the channel
 * (abort it, or shut it after a CLOSE), so the channel lives on until
 * data() returns: in_cb defers the free.
 */
static void
on_data(struct rf_channel *ch, const struct rf_wt_frame *f)
{
	int r = 0;

	if (ch->t->ext) {
		if (f->len > ch->rx_avail) {
			channel_violation(ch, "DATA beyond its credit");
			return;
		}
		ch->rx_avail -= (uint32_t)f->len;
		ch->rx_ungranted += (uint32_t)f->len;
	}
	if (f->len > 0) {
		ch->in_cb = 1;
		r = ch->ops->data(ch->arg, f->payload, f->len);
		ch->in_cb = 0;
	}
	if (ch->dead)
		free(ch);
	else if (r != 0)
		rf_channel_abort(ch);
	else
		grant(ch, 0);
}

/* CLOSE from the agent; if ours went already, the channel is done. */
static void
on_close(struct rf_channel *ch)
{
	if (ch->remote_closed)
		return;
	ch->remote_closed = 1;
	if (ch->ops->eof != NULL) {
		ch->in_cb = 1;
		ch->ops->eof(ch->arg);
		ch->in_cb = 0;
	}
	if (ch->dead)
		free(ch);
	else
		(void)channel_done(ch);
}

static void
on_credit(struct rf_channel *ch, uint32_t n)
{
	if (n > RF_WT_EXT_CREDIT_MAX - ch->credit) {
		channel_violation(ch, "CREDIT beyond 2^31-1 bytes");
		return;
	}
	/* Granted while OPENING, or after our CLOSE: kept, harmless. */
	ch->credit += n;
	if (ch->state != RF_CH_OPEN || flush_held(ch) != 0)
		return;
	/* The CLOSE that waited for credit may have been the last word. */
	if (!channel_done(ch))
		check_writable(ch);
}

static void
on_channel_frame(struct rf_tunnel *t, struct rf_channel *ch,
    const struct rf_wt_frame *f)
{
	switch (f->op) {
	case RF_WT_OPEN_CONFIRM:
		if (ch->state == RF_CH_OPENING)
			on_confirm(ch);
		break;
	case RF_WT_OPEN_FAULT:
		verbose("device %s: port %u refused: %s", t->device, ch->port,
		    rf_wt_error_name(f->arg));
		if (ch->ops->failed != NULL)
			ch->ops->failed(ch->arg, f->arg);
		channel_free(ch, 0, 0);
		break;
	case RF_WT_DATA:
		if (ch->state != RF_CH_OPEN)
			channel_violation(ch, "DATA before OPEN_CONFIRM");
		else
			on_data(ch, f);
		break;
	case RF_WT_CLOSE:
		on_close(ch);
		break;
	case RF_WT_CREDIT:
		on_credit(ch, f->credit);
		break;
	case RF_WT_ERROR:
		channel_free(ch, 1, f->arg);
		break;
	default:
		queue_frame(t, RF_WT_ERROR, ch->id, RF_WT_ERR_PROTOCOL, NULL,
		    0);
	}
}

/* A whole message from the agent: 0, or -1 to close the tunnel. */
static int
on_message(struct rf_tunnel *t, const unsigned char *p, size_t len)
{
	struct rf_wt_frame f;
	struct rf_channel *ch;
	int r;

	r = rf_wt_decode(p, len, &f);
	/* CREDIT is an unknown opcode on a tunnel without the extension. */
	if (!t->ext && f.op == RF_WT_CREDIT && r == RF_ERR_PROTO)
		r = RF_ERR_INVAL;
	if (!t->ext && f.op == RF_WT_CREDIT && r == 0)
		r = RF_ERR_INVAL;
	if (r == RF_ERR_INVAL) {
		verbose("device %s: unknown opcode 0x%02x on channel %u",
		    t->device, f.op, f.channel);
		queue_frame(t, RF_WT_ERROR, f.channel, RF_WT_ERR_PROTOCOL,
		    NULL, 0);
		return 0;
	}
	if (r != 0) {
		logit("device %s: malformed frame (%zu bytes); closing its "
		    "tunnel", t->device, len);
		return -1;
	}
	if (f.op == RF_WT_PROP_UPDATE) {
		if (rf_wt_props_decode(f.payload, f.len, prop_set, t) != 0)
			logit("device %s: bad PROP_UPDATE ignored", t->device);
		return 0;
	}
	if (f.channel == 0 || (ch = channel_find(t, f.channel)) == NULL) {
		/* Late frames of a channel we ended need no answer. */
		if (f.op == RF_WT_DATA || f.op == RF_WT_CLOSE ||
		    f.op == RF_WT_OPEN_CONFIRM)
			queue_frame(t, RF_WT_ERROR, f.channel,
			    RF_WT_ERR_BAD_CHANNEL, NULL, 0);
		return 0;
	}
	on_channel_frame(t, ch, &f);
	return 0;
}

int
rf_tunnel_message(struct rf_tunnel *t, const void *p, size_t len)
{
	t->bytes_in += len;
	if (on_message(t, p, len) != 0)
		return -1;
	/* Silence longer than the agent's own keep-alive means it is gone. */
	idle_timer(t);
	return 0;
}

/* ------------------------------------------------------ registration -- */

static void
own_device(struct rf_tunnel *t)
{
	const struct rf_worker_args *a = rf_worker_args();
	struct rf_owner_rec rec, old;
	struct rf_db *db = rf_worker_routing();
	int had;

	memset(&rec, 0, sizeof(rec));
	rec.slot = (uint32_t)a->slot;
	rec.generation = t->serial;
	rec.since = (uint64_t)t->since;
	snprintf(rec.peer, sizeof(rec.peer), "%.47s", t->peer);
	had = rf_db_owner_get(db, t->device, &old) == 0;
	if (rf_db_owner_put(db, t->device, &rec) != 0)
		error("device %s: cannot record its owner", t->device);
	if (had && old.slot != (uint32_t)a->slot &&
	    old.slot < (uint32_t)a->nworkers &&
	    rf_msg_send_once(a->inbox_write[old.slot], RF_MSG_DEVICE_TAKEN,
	    (uint32_t)a->slot, t->serial, -1, t->device,
	    strlen(t->device) + 1, 0) != 0)
		verbose("device %s: cannot tell worker %u to drop its old "
		    "tunnel", t->device, old.slot);
}

/* What is known of the device goes to the routing environment's "status". */
static void
record_status(const struct rf_tunnel *t, int online)
{
	struct rf_status_rec rec;
	char props[RF_DB_STATUS_PROPS_MAX + 1];
	size_t i, off = 0;
	int n;

	memset(&rec, 0, sizeof(rec));
	rec.online = (uint32_t)online;
	rec.since = (uint64_t)t->since;
	rec.last_seen = (uint64_t)time(NULL);
	rec.bytes_in = t->bytes_in;
	rec.bytes_out = t->bytes_out;
	snprintf(rec.peer, sizeof(rec.peer), "%.47s", t->peer);
	snprintf(rec.group, sizeof(rec.group), "%s", t->group);
	props[0] = '\0';
	for (i = 0; i < t->nprops && off < sizeof(props); i++) {
		n = snprintf(props + off, sizeof(props) - off, "%s=%s\n",
		    t->props[i].name, t->props[i].value);
		if (n < 0 || (size_t)n >= sizeof(props) - off)
			break;
		off += (size_t)n;
	}
	if (rf_db_status_put(rf_worker_routing(), t->device, &rec, props) != 0)
		error("device %s: cannot record its status", t->device);
}

static void
close_tunnel(struct rf_tunnel *t, const char *why)
{
	if (t->closing)
		return;
	t->closing = 1;
	verbose("device %s: closing its tunnel: %s", t->device, why);
	rf_front_ws_close(t->wsi, RF_WS_CLOSE_NORMAL, why);
}

void
rf_tunnel_device_taken(const char *device, uint32_t by_slot)
{
	struct rf_tunnel *t;

	LIST_FOREACH(t, bucket_of(device), entry)
		if (!t->closing && strcmp(t->device, device) == 0)
			close_tunnel(t, "the device connected again");
	debug("device %s now held by worker %u", device, by_slot);
}

static void
tcp_keepalive(struct lws *wsi)
{
	int fd = lws_get_socket_fd(wsi), on = 1, idle = 60, intvl = 20, n = 3;

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &n, sizeof(n));
}

void
rf_tunnel_ext_ours(struct rf_wt_ext *e)
{
	e->frame = RF_WT_EXT_FRAME_MAX;
	e->window = RF_TUNNEL_EXT_WINDOW;
}

struct rf_tunnel *
rf_tunnel_open(struct lws *wsi, const char *device, const char *group,
    const char *peer, int keepalive, const struct rf_wt_ext *ext)
{
	struct rf_tunnel *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->wsi = wsi;
	snprintf(t->device, sizeof(t->device), "%s", device);
	snprintf(t->group, sizeof(t->group), "%s", group);
	snprintf(t->peer, sizeof(t->peer), "%s", peer);
	LIST_INIT(&t->channels);
	STAILQ_INIT(&t->outq);
	/* At most one run (a frame or a batch) is ever kept. */
	rf_buf_init(&t->tx, RF_TUNNEL_BATCH + RF_WS_HDR_ROOM +
	    RF_WT_EXT_FRAME_MAX);
	t->keepalive = keepalive;
	t->tx_frame = RF_WT_STOCK_PAYLOAD_MAX;
	if (ext != NULL) {
		t->ext = 1;
		t->tx_frame = ext->frame < RF_WT_EXT_FRAME_MAX ? ext->frame :
		    RF_WT_EXT_FRAME_MAX;
		t->tx_window = ext->window;
	}
	t->since = time(NULL);
	t->serial = next_serial++;
	return t;
}

/* Registered and owned: channels may be opened to it from now on. */
void
rf_tunnel_online(struct rf_tunnel *t)
{
	struct rf_tunnel *old;

	while ((old = rf_tunnel_find(t->device)) != NULL)
		close_tunnel(old, "the device connected again");
	buckets_grow();
	LIST_INSERT_HEAD(bucket_of(t->device), t, entry);
	ntunnels++;
	t->registered = 1;
	own_device(t);
	record_status(t, 1);
	tcp_keepalive(t->wsi);
	idle_timer(t);
	logit("device %s online (group %s, from %s, %zu properties, %s)",
	    t->device, t->group, t->peer, t->nprops, t->ext ?
	    "extension 1: large frames and credit" : "plain protocol");
	if (t->ext)
		verbose("device %s: frames up to %zu bytes, window %u to the "
		    "agent, %u from it", t->device, t->tx_frame,
		    (unsigned)t->tx_window, (unsigned)RF_TUNNEL_EXT_WINDOW);
}

static void
tunnel_free(struct rf_tunnel *t)
{
	struct rf_frame *f;
	size_t i;

	while ((f = STAILQ_FIRST(&t->outq)) != NULL) {
		STAILQ_REMOVE_HEAD(&t->outq, entry);
		free(f);
	}
	rf_buf_free(&t->tx);
	for (i = 0; i < t->nprops; i++) {
		free(t->props[i].name);
		free(t->props[i].value);
	}
	free(t->props);
	free(t);
}

void
rf_tunnel_gone(struct rf_tunnel *t)
{
	const struct rf_worker_args *a = rf_worker_args();
	struct rf_channel *ch;

	while ((ch = LIST_FIRST(&t->channels)) != NULL)
		channel_free(ch, 1, RF_WT_ERR_SOCKET);
	if (!t->registered) {
		tunnel_free(t);
		return;
	}
	LIST_REMOVE(t, entry);
	ntunnels--;
	/* Only if still ours: a newer tunnel may own the device by now. */
	if (rf_db_owner_del(rf_worker_routing(), t->device, (uint32_t)a->slot,
	    t->serial) == 0) {
		record_status(t, 0);
		logit("device %s offline (%llu bytes in, %llu out)",
		    t->device, t->bytes_in, t->bytes_out);
	} else
		verbose("device %s: old tunnel closed (%llu bytes in, %llu "
		    "out)", t->device, t->bytes_in, t->bytes_out);
	tunnel_free(t);
}
