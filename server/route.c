/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Routing of new connections to the worker that owns their device.
 *
 * A device's tunnel lives in one worker, and every browser or client
 * connection for that device must be served there.  The kernel spreads new
 * connections over the workers' sockets without knowing any of this, so a
 * worker first peeks at what a new connection sends, without consuming a
 * byte: the SNI of the TLS ClientHello on an https listener, the Host
 * header on a plain http one.  A host "<id>.<domain>" names a device; the
 * routing map in LMDB names its owner.  If that is another worker, the
 * socket itself goes there, with its metadata, as one RF_MSG_HANDOFF
 * record on the owner's inbox; the owner adopts it into lws and does the
 * TLS handshake.  Anything else (the portal, no SNI, an unknown device, an
 * owner that is this worker) is adopted here.
 *
 * Inboxes.  The master makes one SOCK_SEQPACKET socketpair per slot and
 * holds both ends for its whole life: every worker writes to any slot's
 * write end (records are atomic, so writers never mix), and only the
 * slot's worker reads its read end.  A record sent while the owner is
 * being respawned waits in the socket for the replacement.
 *
 * Races.  Ownership can move between the lookup and the adoption (the
 * device reconnected to another worker).  The receiver looks again, but a
 * connection is handed off at most once: if it is not the owner any more,
 * it serves the connection itself, whose tunnel code then answers as for
 * an offline device, rather than pass it on and risk a loop.  A full inbox
 * (the owner is stuck) is not waited for: the connection is served here.
 *
 * CONNECT relays.  Where the device is known only after TLS (CONNECT on
 * the portal host), the accepting worker keeps the connection and passes
 * one end of a socketpair instead, as RF_MSG_CONNECT on the same inbox;
 * front.c makes, sends and adopts it (its design comment has the races).
 *
 * Held connections.  Where a TLS connection is for the portal host (no
 * device in its SNI: device tunnels, and browsers of the portal) and the
 * worker already runs limits.max_handshakes handshakes, it is held here,
 * routed but not adopted, in a FIFO, until worker.c says a handshake ended.
 * Its handshake_timeout runs from the accept, held or not.  A ClientHello
 * that offers "h2" in ALPN is not held, as a device host's is not: agents
 * and client tools never offer it (their WebSocket upgrade is HTTP/1.1),
 * browsers and curl with nghttp2 always do, so the portal's browsers no
 * longer wait behind a reconnect storm.  A client that lies about it gains
 * nothing it could not have by naming a device host in its SNI: the cap
 * only orders work, it grants no access.  Such a connection still counts
 * in the cap once adopted (worker.c), like any other for the portal host.
 *
 * Slow peers.  A connection that sends nothing routable within
 * handshake_timeout is closed.  TLS peeks set SO_RCVLOWAT to the bytes the
 * ClientHello record still needs, and the epoll registration is
 * edge-triggered, so a ClientHello split over segments costs one wake-up
 * per segment and never a busy loop.
 */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/socket.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "db.h"
#include "err.h"
#include "front.h"
#include "log.h"
#include "msg.h"
#include "peek.h"
#include "reflectord.h"
#include "route.h"
#include "tunnel.h"
#include "worker.h"

#define RF_HANDOFF_VERSION	1

/* The metadata of a handed-off connection: same host, native order. */
struct rf_handoff {
	uint32_t	version;
	uint32_t	listener;	/* index into the listeners */
	uint32_t	from_slot;
	uint32_t	pad;
	char		device[64];
	char		peer[64];
};

enum pend_state {
	PEND_FREE = 0,
	PEND_PEEKING,
	PEND_HELD,		/* routed here, waiting for the handshake cap */
};

struct pending {
	enum pend_state		 state;
	int			 fd;
	uint32_t		 listener;
	unsigned long long	 deadline_ms;
	char			 peer[64];
	int			 next_free;
	int			 held_prev;	/* the FIFO of PEND_HELD, -1: end */
	int			 held_next;
};

static struct {
	const struct rf_worker_args	*args;
	struct pending			*pend;
	int				 npend;		/* allocated */
	int				 nlive;		/* peeking now */
	int				 free_head;	/* -1: none */
	int				 held_head;	/* oldest held, -1: none */
	int				 held_tail;
	int				 nheld;
	struct rf_chan			 inbox;		/* our read end */
	unsigned char			*peekbuf;
	size_t				 peekbuf_len;
	unsigned long			 handed_out;
	unsigned long			 handed_in;
} R;

static int
pend_alloc(void)
{
	struct pending *np;
	int i, n;

	if (R.free_head == -1) {
		n = R.npend == 0 ? 64 : R.npend * 2;
		if ((np = realloc(R.pend, (size_t)n * sizeof(*np))) == NULL)
			return -1;
		memset(np + R.npend, 0, (size_t)(n - R.npend) * sizeof(*np));
		for (i = n - 1; i >= R.npend; i--) {
			np[i].next_free = R.free_head;
			R.free_head = i;
		}
		R.pend = np;
		R.npend = n;
	}
	i = R.free_head;
	R.free_head = R.pend[i].next_free;
	R.nlive++;
	return i;
}

static void
held_unlink(int i)
{
	struct pending *p = &R.pend[i];

	if (p->held_prev != -1)
		R.pend[p->held_prev].held_next = p->held_next;
	else
		R.held_head = p->held_next;
	if (p->held_next != -1)
		R.pend[p->held_next].held_prev = p->held_prev;
	else
		R.held_tail = p->held_prev;
	p->held_prev = p->held_next = -1;
	R.nheld--;
}

/* Forgets a pending connection; the caller has taken or closed its fd. */
static void
pend_release(int i)
{
	struct pending *p = &R.pend[i];

	if (p->state == PEND_HELD)
		held_unlink(i);
	if (p->fd != -1)
		rf_worker_watch(p->fd, 0, 0, 0);
	p->state = PEND_FREE;
	p->fd = -1;
	p->next_free = R.free_head;
	R.free_head = i;
	R.nlive--;
}

static void
set_lowat(int fd, int bytes)
{
	if (setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &bytes,
	    sizeof(bytes)) == -1)
		debug_f("SO_RCVLOWAT: %s", strerror(errno));
}

/*
 * Passes the socket to the owning worker.  0: it is gone from here (the
 * caller closes its copy); -1: keep serving it here.
 */
static int
hand_off(const struct pending *p, int fd, const char *device, uint32_t slot)
{
	struct rf_handoff h;
	int r;

	memset(&h, 0, sizeof(h));
	h.version = RF_HANDOFF_VERSION;
	h.listener = p->listener;
	h.from_slot = (uint32_t)R.args->slot;
	snprintf(h.device, sizeof(h.device), "%s", device);
	snprintf(h.peer, sizeof(h.peer), "%s", p->peer);
	r = rf_msg_send_once(R.args->inbox_write[slot], RF_MSG_HANDOFF,
	    (uint32_t)R.args->slot, 0, fd, &h, sizeof(h), 0);
	if (r != 0) {
		logit("cannot hand %s (device %s) to worker %u: %s; serving "
		    "it here", p->peer, device, slot, rf_strerror(r));
		return -1;
	}
	R.handed_out++;
	debug("handed %s (device %s) to worker %u", p->peer, device, slot);
	return 0;
}

/* The slot that owns device, or -1 when none does (or LMDB fails). */
static int
owner_of(const char *device)
{
	struct rf_owner_rec rec;
	struct rf_db *db = rf_worker_routing();

	if (db == NULL || rf_db_owner_get(db, device, &rec) != 0)
		return -1;
	if (rec.slot >= (uint32_t)R.args->nworkers)
		return -1;
	return (int)rec.slot;
}

/* Queues a connection for the portal host behind the handshake cap. */
static void
hold(int i)
{
	struct pending *p = &R.pend[i];

	p->state = PEND_HELD;
	p->held_next = -1;
	p->held_prev = R.held_tail;
	if (R.held_tail != -1)
		R.pend[R.held_tail].held_next = i;
	else
		R.held_head = i;
	R.held_tail = i;
	R.nheld++;
	debug3("%s: held for the handshake cap (%d held)", p->peer, R.nheld);
}

int
rf_route_held(void)
{
	return R.nheld;
}

void
rf_route_release_held(void)
{
	struct pending *p;
	int i, fd;

	while (R.held_head != -1 && rf_worker_handshake_room()) {
		i = R.held_head;
		p = &R.pend[i];
		held_unlink(i);
		fd = p->fd;
		p->fd = -1;
		p->state = PEND_PEEKING;	/* pend_release: not held */
		rf_worker_adopt(fd, p->listener, p->peer, "");
		pend_release(i);
	}
}

/*
 * Routing is decided: hand the connection over, or adopt it here.
 * offers_h2 matters only for the portal host (Held connections above): a
 * device host is never held, here or by the owner it is handed to.
 */
static void
route_to(int i, const char *host, int offers_h2)
{
	struct pending *p = &R.pend[i];
	const struct rf_conf *conf = rf_worker_conf();
	char device[64] = "";
	int fd = p->fd, slot = -1;

	set_lowat(fd, 1);
	if (host != NULL && rf_host_device(host, conf->domain, device,
	    sizeof(device)))
		slot = owner_of(device);
	rf_worker_watch(fd, 0, 0, 0);
	if (slot >= 0 && slot != R.args->slot && hand_off(p, fd, device,
	    (uint32_t)slot) == 0) {
		p->fd = -1;
		close(fd);
		pend_release(i);
		return;
	}
	if (R.args->listeners[p->listener].tls && device[0] == '\0' &&
	    !offers_h2 && !rf_worker_handshake_room()) {
		hold(i);
		return;
	}
	p->fd = -1;
	rf_worker_adopt(fd, p->listener, p->peer, device);
	pend_release(i);
}

static void
close_pending(int i, const char *why)
{
	struct pending *p = &R.pend[i];

	debug2("%s: %s", p->peer, why);
	if (p->fd != -1) {
		rf_worker_watch(p->fd, 0, 0, 0);
		close(p->fd);
		p->fd = -1;
	}
	pend_release(i);
}

static void
peek_tls(int i, size_t n)
{
	char host[256];
	size_t need = 0;
	int r, h2;

	r = rf_peek_tls_sni(R.peekbuf, n, host, sizeof(host), &h2, &need);
	if (r == RF_ERR_SHORT && need <= R.peekbuf_len) {
		set_lowat(R.pend[i].fd, (int)need);
		return;
	}
	/* No SNI or not TLS: lws will say what is wrong with it. */
	route_to(i, r == 0 ? host : NULL, h2);
}

static void
peek_http(int i, size_t n)
{
	const struct rf_conf *conf = rf_worker_conf();
	char host[256];
	int r;

	r = rf_peek_http_host(R.peekbuf, n, (size_t)conf->header_max, host,
	    sizeof(host));
	if (r == RF_ERR_SHORT)
		return;
	route_to(i, r == 0 ? host : NULL, 0);
}

void
rf_route_peek_event(uint32_t index, uint32_t events)
{
	struct pending *p;
	ssize_t n;
	int i = (int)index;

	if (i < 0 || i >= R.npend || R.pend[i].state != PEND_PEEKING)
		return;
	p = &R.pend[i];
	n = recv(p->fd, R.peekbuf, R.peekbuf_len, MSG_PEEK | MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		close_pending(i, n == 0 ? "closed before routing" :
		    strerror(errno));
		return;
	}
	if (R.args->listeners[p->listener].tls)
		peek_tls(i, (size_t)n);
	else
		peek_http(i, (size_t)n);
}

int
rf_route_accept(int fd, uint32_t listener, const char *peer)
{
	const struct rf_conf *conf = rf_worker_conf();
	struct pending *p;
	int i;

	if ((i = pend_alloc()) == -1) {
		error("out of memory for a new connection");
		close(fd);
		return -1;
	}
	p = &R.pend[i];
	p->state = PEND_PEEKING;
	p->fd = fd;
	p->listener = listener;
	p->deadline_ms = rf_now_ms() +
	    (unsigned long long)conf->handshake_timeout * 1000;
	snprintf(p->peer, sizeof(p->peer), "%s", peer);
	if (R.args->listeners[listener].tls)
		set_lowat(fd, 5);	/* a TLS record header at least */
	if (rf_worker_watch(fd, EPOLLIN | EPOLLRDHUP | EPOLLET, RF_EV_PEEK,
	    (uint32_t)i) == -1) {
		close_pending(i, "epoll");
		return -1;
	}
	/* Bytes may be there already: the edge came before we watched. */
	rf_route_peek_event((uint32_t)i, EPOLLIN);
	return 0;
}

/* Closes connections that sent nothing routable in time. */
void
rf_route_expire(void)
{
	unsigned long long now = rf_now_ms();
	int i;

	for (i = 0; i < R.npend; i++)
		if (R.pend[i].state != PEND_FREE &&
		    R.pend[i].deadline_ms <= now)
			close_pending(i, R.pend[i].state == PEND_HELD ?
			    "held past handshake_timeout" :
			    "no request within handshake_timeout");
}

/* A graceful stop: connections not yet routed are dropped. */
void
rf_route_drop_pending(void)
{
	int i;

	for (i = 0; i < R.npend; i++)
		if (R.pend[i].state != PEND_FREE)
			close_pending(i, "stopping");
}

int
rf_route_pending(void)
{
	return R.nlive;
}

static void
adopt_handoff(struct rf_msg *m)
{
	struct rf_handoff h;
	int owner, fd;

	if (m->fd == -1 || m->hdr.len != sizeof(h)) {
		/* Our own worker sent it: a bug, not an attack. */
		fatal("malformed hand-off from worker %u", m->hdr.slot);
	}
	memcpy(&h, m->data, sizeof(h));
	h.device[sizeof(h.device) - 1] = '\0';
	h.peer[sizeof(h.peer) - 1] = '\0';
	if (h.version != RF_HANDOFF_VERSION ||
	    h.listener >= R.args->nlisteners)
		fatal("hand-off of version %u for listener %u from worker %u",
		    h.version, h.listener, m->hdr.slot);
	fd = m->fd;
	m->fd = -1;
	R.handed_in++;
	owner = owner_of(h.device);
	if (owner != R.args->slot)
		verbose("%s for device %s came from worker %u, but the device "
		    "is now %s; serving it here", h.peer, h.device,
		    h.from_slot, owner < 0 ? "offline" : "elsewhere");
	debug("adopting %s (device %s) from worker %u", h.peer, h.device,
	    h.from_slot);
	rf_worker_adopt(fd, h.listener, h.peer, h.device);
}

void
rf_route_inbox_event(void)
{
	struct rf_msg m;
	int r, budget = 64;

	while (budget-- > 0) {
		r = rf_chan_recv(&R.inbox, &m);
		if (r == RF_ERR_AGAIN)
			return;
		if (r == RF_ERR_PROTO)
			continue;	/* logged; its descriptors are closed */
		if (r != 0)
			fatal("inbox: %s", rf_strerror(r));
		if (m.hdr.type == RF_MSG_HANDOFF)
			adopt_handoff(&m);
		else if (m.hdr.type == RF_MSG_CONNECT) {
			rf_front_connect_adopt(m.fd, m.data, m.hdr.len,
			    m.hdr.slot);
			m.fd = -1;
		} else if (m.hdr.type == RF_MSG_DEVICE_TAKEN && m.hdr.len > 1 &&
		    m.hdr.len <= 64 && m.data[m.hdr.len - 1] == '\0')
			rf_tunnel_device_taken((const char *)m.data, m.hdr.slot);
		else
			fatal("unexpected %s on the inbox",
			    rf_msg_type_name(m.hdr.type));
		rf_msg_clear(&m);
	}
}

void
rf_route_counters(unsigned long *out, unsigned long *in)
{
	*out = R.handed_out;
	*in = R.handed_in;
}

void
rf_route_init(const struct rf_worker_args *args)
{
	memset(&R, 0, sizeof(R));
	R.args = args;
	R.free_head = -1;
	R.held_head = R.held_tail = -1;
	R.peekbuf_len = RF_PEEK_TLS_MAX > (size_t)args->header_max ?
	    RF_PEEK_TLS_MAX : (size_t)args->header_max;
	if ((R.peekbuf = malloc(R.peekbuf_len)) == NULL)
		fatal("out of memory");
	rf_chan_init(&R.inbox, args->inbox_read);
	if (rf_worker_watch(args->inbox_read, EPOLLIN, RF_EV_INBOX, 0) == -1)
		fatal("epoll_ctl inbox: %s", strerror(errno));
}
