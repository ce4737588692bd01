/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A worker process.
 *
 * Lifecycle.  The master forks a worker into a slot with that slot's
 * listening sockets and one end of a SOCK_SEQPACKET channel.  The worker
 * opens its own LMDB environments (never the master's: an MDB_env must not
 * cross a fork), creates one libwebsockets context with a TLS vhost and a
 * plain-HTTP vhost that do not listen, and tells the master READY.  It
 * then runs the lws event loop until it is told to stop.
 *
 * Accepting.  lws cannot accept from a socket it did not create
 * (PLATFORM-NOTES), so the worker keeps its own epoll descriptor that
 * watches its listeners, its channel to the master and a signalfd, and
 * adopts that epoll descriptor into lws as a raw file: lws wakes us when
 * any of them is ready.  New connections are accepted here and adopted into
 * lws as HTTP connections (TLS on the https vhost).  This is also the place
 * where later the first bytes are peeked to route a connection to the
 * worker that owns its device.
 *
 * Connections.  Each adopted connection has a struct rf_conn (lws's opaque
 * user data on the wsi) on one list, created here and freed when lws
 * destroys the wsi.  It records whether a request is in flight, which is
 * what a graceful stop needs: idle connections are closed at once, those
 * with a request in flight finish it and then close.
 *
 * Handshakes.  A TLS handshake costs a millisecond of CPU; a reconnect
 * storm brings thousands at once, and started all together they starve
 * each other (and every browser) until their handshake_timeout runs out.
 * So at most limits.max_handshakes connections adopted for the portal
 * host, where devices connect, are between adoption and the end of their
 * handshake; route.c holds the others, accepted and untouched, in arrival
 * order.  The end of a handshake is seen by our own info callback on the
 * vhost's SSL_CTX (SSL_CB_HANDSHAKE_DONE), which finds the connection by
 * its descriptor; a connection that dies in its handshake gives its place
 * back in WSI_DESTROY.  Device hosts (browsers, client tools, hand-offs)
 * and portal connections that offer h2 (browsers of the portal, route.c)
 * are never held: they are few, and they are what the cap protects; once
 * adopted they count, so the count may pass the cap for a while.
 *
 * Stop.  SIGTERM: leave the loop at once, closing every connection.  STOP
 * from the master, or EOF on the channel (the master is gone): stop
 * accepting, drain as above, exit when no connection is left or
 * drain_timeout has passed.
 *
 * Reload.  RELOAD carries a memfd with the configuration the master has
 * checked; it is parsed again here and applied in place: the certificate
 * goes into the live SSL_CTX (established connections keep theirs), log
 * settings, limits, users and devices are swapped.  Nothing is closed.
 */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "conf.h"
#include "db.h"
#include "err.h"
#include "evloop.h"
#include "log.h"
#include "msg.h"
#include "reflectord.h"
#include "route.h"
#include "tls.h"
#include "tlsrec.h"
#include "front.h"
#include "proxy.h"
#include "tunnel.h"
#include "worker.h"

#define RF_ACCEPT_BATCH		64	/* accepts per wake-up, for fairness */
#define RF_CONF_MAX_BYTES	(16 * 1024 * 1024)
/*
 * lws reads a raw connection into one per-process buffer of this size
 * (pt_serv_buf_size, 4 KiB by default): a whole TLS record and more per
 * read instead of a quarter of one, for a fraction of the wake-ups.  It
 * is not per connection; proxy.c's PROXY_IN_SLACK must cover it.
 */
#define RF_WORKER_READ_MAX	(64 * 1024)

LIST_HEAD(rf_conn_list, rf_conn);

static struct {
	const struct rf_worker_args	*args;
	struct rf_conf			*conf;
	struct lws_context		*ctx;
	struct rf_evloop		 loop;
	struct lws_vhost		*vh_tls;
	struct lws_vhost		*vh_plain;
	SSL_CTX				*ssl_ctx;
	int				 epfd;
	int				 sigfd;
	struct rf_chan			 chan;
	struct rf_conn_list		 conns;
	int				 nconns;
	int				 handshaking;	/* counted in the cap */
	struct rf_conn			**byfd;		/* TLS ones, by fd */
	int				 nbyfd;
	struct rf_conn			*adopting;
	int				 accept_paused;
	int				 listeners_open;
	int				 draining;
	int				 stop;
	unsigned int			 conf_gen;
	time_t				 started;
	struct rf_db			*routing;
	struct rf_db			*registry;
	lws_sorted_usec_list_t		 sul_drain;
	lws_sorted_usec_list_t		 sul_resume;
	lws_sorted_usec_list_t		 sul_tick;
	lws_sorted_usec_list_t		 sul_held;
} W;

static uint64_t
ev_data(enum rf_ev_kind kind, uint32_t index)
{
	return (uint64_t)kind << 32 | index;
}

static int
ep_ctl(int op, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.u64 = data;
	return epoll_ctl(W.epfd, op, fd, &ev);
}

static void
set_listeners_watched(int on)
{
	const struct rf_worker_args *a = W.args;
	size_t i;
	int fd;

	for (i = 0; i < a->nlisteners; i++) {
		fd = a->listeners[i].fds[a->slot];
		if (fd == -1)
			continue;
		if (ep_ctl(on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, EPOLLIN,
		    ev_data(RF_EV_LISTENER, (uint32_t)i)) == -1 && on)
			fatal("epoll_ctl listener: %s", strerror(errno));
	}
}

static void
close_listeners(void)
{
	const struct rf_worker_args *a = W.args;
	size_t i;

	if (!W.listeners_open)
		return;
	if (!W.accept_paused)
		set_listeners_watched(0);
	for (i = 0; i < a->nlisteners; i++) {
		if (a->listeners[i].fds[a->slot] != -1)
			close(a->listeners[i].fds[a->slot]);
	}
	W.listeners_open = 0;
}

static void
peer_string(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(s4->sin_port));
	} else
		snprintf(buf, len, "unknown");
}

int
rf_worker_watch(int fd, uint32_t events, int kind, uint32_t index)
{
	if (events == 0)
		return epoll_ctl(W.epfd, EPOLL_CTL_DEL, fd, NULL);
	return ep_ctl(EPOLL_CTL_ADD, fd, events,
	    ev_data((enum rf_ev_kind)kind, index));
}

const struct rf_conf *
rf_worker_conf(void)
{
	return W.conf;
}

struct rf_evloop *
rf_worker_loop(void)
{
	return &W.loop;
}

const struct rf_worker_args *
rf_worker_args(void)
{
	return W.args;
}

struct rf_db *
rf_worker_routing(void)
{
	return W.routing;
}

struct rf_db *
rf_worker_registry(void)
{
	return W.registry;
}

static void
release_held(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	rf_route_release_held();
}

int
rf_worker_handshake_room(void)
{
	return W.handshaking < W.conf->max_handshakes;
}

/* Ends c's place in the handshake cap; route.c may start a held one. */
static void
handshake_over(struct rf_conn *c)
{
	if (!c->handshaking)
		return;
	c->handshaking = 0;
	W.handshaking--;
	/*
	 * Not from here: this runs inside OpenSSL's callback or lws's
	 * destruction of a wsi, no place to adopt another one.
	 */
	if (rf_route_held() > 0 && !W.stop && !W.draining)
		lws_sul_schedule(W.ctx, 0, &W.sul_held, release_held, 1);
}

/*
 * A TLS connection by its descriptor, for ssl_info (OpenSSL gives the SSL,
 * not the wsi).  0, or -1 when the table cannot grow.
 */
static int
byfd_set(struct rf_conn *c, int fd)
{
	struct rf_conn **nb;
	int n;

	if (fd >= W.nbyfd) {
		n = W.nbyfd == 0 ? 1024 : W.nbyfd;
		while (n <= fd)
			n *= 2;
		if ((nb = realloc(W.byfd, (size_t)n * sizeof(*nb))) == NULL)
			return -1;
		memset(nb + W.nbyfd, 0, (size_t)(n - W.nbyfd) * sizeof(*nb));
		W.byfd = nb;
		W.nbyfd = n;
	}
	W.byfd[fd] = c;
	c->fd = fd;
	return 0;
}

/* What c's client sent behind its Finished is read at the end. */
static void
read_held(struct rf_conn *c)
{
	c->read_held = 0;
	if (c->device[0] != '\0')
		rf_proxy_want_read(c->wsi);
	else
		rf_front_want_write(c->wsi);
}

/*
 * OpenSSL's info callback on our SSL_CTX: a server handshake ended.  It
 * leaves the cap, and what the client sent right behind its Finished may
 * sit read ahead in OpenSSL's buffer with nothing more to come from the
 * socket (evloop.h): its owner reads it at the end of the iteration.
 */
static void
ssl_info(const SSL *ssl, int where, int ret)
{
	struct rf_conn *c;
	int fd;

	(void)ret;
	if (!(where & SSL_CB_HANDSHAKE_DONE))
		return;
	fd = SSL_get_fd(ssl);
	if (fd < 0 || fd >= W.nbyfd || (c = W.byfd[fd]) == NULL)
		return;
	handshake_over(c);
	if (c->wsi == NULL)
		c->read_held = 1;	/* inside lws's adoption (a hand-off's) */
	else
		read_held(c);
}

/*
 * Hands a routed socket to lws.  The rf_conn goes on the list first: if
 * lws fails after it created the wsi, WSI_DESTROY frees the rf_conn; if it
 * fails before, W.adopting still points at it and we free it here.
 */
void
rf_worker_adopt(int fd, uint32_t listener, const char *peer,
    const char *device)
{
	const struct rf_listener *l = &W.args->listeners[listener];
	lws_adopt_desc_t ad;
	struct rf_conn *c;
	struct lws *wsi;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		error("out of memory for a connection");
		close(fd);
		return;
	}
	c->state = RF_CONN_NEW;
	c->tls = l->tls;
	c->fd = -1;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	snprintf(c->device, sizeof(c->device), "%s", device);
	/* Without its entry, the end of its handshake would go unseen. */
	if (l->tls && byfd_set(c, fd) != 0) {
		error("out of memory for a connection");
		close(fd);
		free(c);
		return;
	}
	LIST_INSERT_HEAD(&W.conns, c, entry);
	W.nconns++;
	/* Counted in the cap until its handshake ends (or it dies). */
	if (l->tls && device[0] == '\0') {
		c->handshaking = 1;
		W.handshaking++;
	}
	memset(&ad, 0, sizeof(ad));
	/*
	 * Raw sockets with lws doing TLS: our own HTTP/1.1 is spoken above
	 * them (front.c; PLATFORM-NOTES and front.c say why not lws's).
	 */
	ad.vh = l->tls ? W.vh_tls : W.vh_plain;
	ad.type = LWS_ADOPT_SOCKET | (l->tls ? LWS_ADOPT_ALLOW_SSL : 0);
	/* Device hosts are forwarded (proxy.c); the rest is the portal. */
	ad.vh_prot_name = device[0] != '\0' ? RF_PROXY_PROTOCOL : "rf-front";
	ad.fd.sockfd = fd;
	ad.opaque = c;
	W.adopting = c;
	wsi = lws_adopt_descriptor_vhost_via_info(&ad);
	if (wsi == NULL) {
		error("cannot adopt a connection on %s", l->address);
		if (W.adopting != NULL) {
			handshake_over(c);
			if (c->fd >= 0 && W.byfd[c->fd] == c)
				W.byfd[c->fd] = NULL;
			LIST_REMOVE(c, entry);
			W.nconns--;
			free(c);
		}
		W.adopting = NULL;
		return;
	}
	W.adopting = NULL;
	c->wsi = wsi;
	if (device[0] != '\0')
		rf_proxy_adopted(wsi, device, peer, l->tls);
	if (c->read_held)
		read_held(c);
	debug2("connection from %s on %s", c->peer, l->address);
}

struct lws *
rf_worker_adopt_plain(int fd, const char *peer, const char *device)
{
	lws_adopt_desc_t ad;
	struct rf_conn *c;
	struct lws *wsi;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		error("out of memory for a connection");
		close(fd);
		return NULL;
	}
	c->state = RF_CONN_NEW;
	c->fd = -1;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	snprintf(c->device, sizeof(c->device), "%s", device);
	LIST_INSERT_HEAD(&W.conns, c, entry);
	W.nconns++;
	memset(&ad, 0, sizeof(ad));
	/* Without LWS_ADOPT_ALLOW_SSL lws does no TLS, whatever the vhost. */
	ad.vh = W.vh_plain != NULL ? W.vh_plain : W.vh_tls;
	ad.type = LWS_ADOPT_SOCKET;
	ad.vh_prot_name = "rf-front";
	ad.fd.sockfd = fd;
	ad.opaque = c;
	W.adopting = c;
	wsi = lws_adopt_descriptor_vhost_via_info(&ad);
	if (wsi == NULL) {
		error("cannot adopt a connection of %s", peer);
		if (W.adopting != NULL) {
			LIST_REMOVE(c, entry);
			W.nconns--;
			free(c);
		}
		W.adopting = NULL;
		return NULL;
	}
	W.adopting = NULL;
	c->wsi = wsi;
	return wsi;
}

static void
resume_accept(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	if (!W.accept_paused || !W.listeners_open || W.draining)
		return;
	set_listeners_watched(1);
	W.accept_paused = 0;
	verbose("accepting connections again (%d open)", W.nconns);
}

/*
 * Stops accepting: connections wait in the kernel's backlog (or land on
 * other workers' sockets) instead of being accepted and dropped.
 */
static void
pause_accept(int retry_ms)
{
	if (W.accept_paused)
		return;
	set_listeners_watched(0);
	W.accept_paused = 1;
	if (retry_ms > 0)
		lws_sul_schedule(W.ctx, 0, &W.sul_resume, resume_accept,
		    (lws_usec_t)retry_ms * LWS_US_PER_MS);
}

static void
accept_from(uint32_t index)
{
	const struct rf_listener *l = &W.args->listeners[index];
	struct sockaddr_storage ss;
	socklen_t sslen;
	char peer[64];
	int i, fd, one = 1;

	for (i = 0; i < RF_ACCEPT_BATCH; i++) {
		if (W.nconns + rf_route_pending() >=
		    W.conf->max_connections) {
			logit("limits.max_connections (%d) reached; not "
			    "accepting until a connection closes",
			    W.conf->max_connections);
			pause_accept(0);
			return;
		}
		sslen = sizeof(ss);
		fd = accept4(l->fds[W.args->slot], (struct sockaddr *)&ss,
		    &sslen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				error("accept on %s: %s; pausing for 1 s",
				    l->address, strerror(errno));
				pause_accept(1000);
			} else if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				error("accept on %s: %s", l->address,
				    strerror(errno));
			return;
		}
		/*
		 * No Nagle: a small answer must not wait for the ACK of the
		 * TLS 1.3 session ticket sent just before it, which the
		 * client delays by 40 ms (every first request paid that).
		 */
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one)) == -1)
			debug("TCP_NODELAY: %s", strerror(errno));
		peer_string(&ss, peer, sizeof(peer));
		rf_route_accept(fd, index, peer);
	}
}

/* Called by lws for the wsi of every connection it destroys. */
void
rf_worker_conn_gone(struct rf_conn *c)
{
	if (c == W.adopting)
		W.adopting = NULL;
	handshake_over(c);
	if (c->fd >= 0 && c->fd < W.nbyfd && W.byfd[c->fd] == c)
		W.byfd[c->fd] = NULL;
	LIST_REMOVE(c, entry);
	W.nconns--;
	free(c);
	if (W.accept_paused && !W.draining && W.nconns <
	    W.conf->max_connections)
		resume_accept(NULL);
	if (W.draining && W.nconns == 0) {
		verbose("drained; exiting");
		W.stop = 1;
		lws_cancel_service(W.ctx);
	}
}

static void
drain_deadline(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	logit("drain_timeout passed with %d connections open; closing them",
	    W.nconns);
	W.stop = 1;
	lws_cancel_service(W.ctx);
}

/*
 * Graceful stop: no new connections; idle ones close now; one with a
 * request in flight closes after its response (rf_worker_draining()).
 */
static void
begin_drain(const char *why)
{
	struct rf_conn *c;

	if (W.draining)
		return;
	W.draining = 1;
	close_listeners();
	rf_route_drop_pending();
	logit("%s: draining %d connections for up to %d s", why, W.nconns,
	    W.conf->drain_timeout);
	LIST_FOREACH(c, &W.conns, entry)
		if (c->state == RF_CONN_IDLE)
			lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK,
			    LWS_TO_KILL_ASYNC);
	if (W.nconns == 0) {
		W.stop = 1;
		lws_cancel_service(W.ctx);
		return;
	}
	lws_sul_schedule(W.ctx, 0, &W.sul_drain, drain_deadline,
	    (lws_usec_t)W.conf->drain_timeout * LWS_US_PER_SEC);
}

/* Parses and applies a reload; 0 when the new configuration is in force. */
static int
apply_reload(int fd)
{
	struct rf_tls_pair pair;
	struct rf_conf *conf;
	size_t len;
	char *buf;
	int r;

	if (fd == -1 || rf_read_fd(fd, RF_CONF_MAX_BYTES, &buf, &len) != 0) {
		error("reload: cannot read the configuration: %s",
		    fd == -1 ? "no descriptor" : strerror(errno));
		return -1;
	}
	r = rf_conf_load_mem(buf, len, W.conf->file, &conf, rf_log_error_line, NULL);
	free(buf);
	if (r != 0)
		return -1;
	rf_conf_keep_restart_keys(conf, W.conf);
	if (W.ssl_ctx != NULL) {
		if (rf_tls_pair_load(conf, &pair, rf_log_error_line, NULL) != 0) {
			rf_conf_free(conf);
			return -1;
		}
		r = rf_tls_pair_apply(W.ssl_ctx, &pair, conf->tls_min_version);
		rf_tls_pair_free(&pair);
		if (r != 0) {
			error("reload: cannot install the certificate");
			rf_conf_free(conf);
			return -1;
		}
	}
	rf_apply_log_conf(conf, W.args->log_override);
	rf_conf_free(W.conf);
	W.conf = conf;
	return 0;
}

static void
master_message(struct rf_msg *m)
{
	uint32_t status;

	switch (m->hdr.type) {
	case RF_MSG_RELOAD:
		status = apply_reload(m->fd) == 0 ? 0 : 1;
		if (status == 0) {
			W.conf_gen = m->hdr.id;
			verbose("configuration generation %u applied",
			    m->hdr.id);
		}
		rf_chan_compose(&W.chan, RF_MSG_RELOAD_RESULT,
		    (uint32_t)W.args->slot, m->hdr.id, -1, &status,
		    sizeof(status));
		break;
	case RF_MSG_REOPEN_LOGS:
		if (rf_log_reopen() != 0)
			error("cannot reopen log file: %s", strerror(errno));
		break;
	case RF_MSG_STOP:
		begin_drain("graceful stop");
		break;
	default:
		fatal("unexpected message %s from the master",
		    rf_msg_type_name(m->hdr.type));
	}
}

static void
channel_event(uint32_t events)
{
	struct rf_msg m;
	int r;

	if (events & EPOLLOUT) {
		r = rf_chan_flush(&W.chan);
		if (r == 0)
			ep_ctl(EPOLL_CTL_MOD, W.chan.fd, EPOLLIN,
			    ev_data(RF_EV_CHANNEL, 0));
	}
	while (W.chan.fd != -1 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		r = rf_chan_recv(&W.chan, &m);
		if (r == RF_ERR_AGAIN)
			break;
		if (r != 0) {
			if (r != RF_ERR_EOF)
				fatal("channel to the master: %s",
				    rf_strerror(r));
			epoll_ctl(W.epfd, EPOLL_CTL_DEL, W.chan.fd, NULL);
			rf_chan_close(&W.chan);
			begin_drain("the master is gone");
			break;
		}
		master_message(&m);
		rf_msg_clear(&m);
	}
	if (W.chan.fd != -1 && rf_chan_pending(&W.chan))
		ep_ctl(EPOLL_CTL_MOD, W.chan.fd, EPOLLIN | EPOLLOUT,
		    ev_data(RF_EV_CHANNEL, 0));
}

static void
signal_event(void)
{
	struct signalfd_siginfo si;

	while (read(W.sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGTERM) {
			verbose("SIGTERM: stopping now");
			W.stop = 1;
			lws_cancel_service(W.ctx);
		}
	}
}

/* lws says our epoll descriptor is readable: dispatch what is ready. */
static void
epoll_event(void)
{
	struct epoll_event ev[32];
	int i, n;

	n = epoll_wait(W.epfd, ev, 32, 0);
	for (i = 0; i < n; i++) {
		switch ((enum rf_ev_kind)(ev[i].data.u64 >> 32)) {
		case RF_EV_LISTENER:
			if (!W.draining && !W.accept_paused)
				accept_from((uint32_t)ev[i].data.u64);
			break;
		case RF_EV_CHANNEL:
			channel_event(ev[i].events);
			break;
		case RF_EV_SIGNAL:
			signal_event();
			break;
		case RF_EV_PEEK:
			rf_route_peek_event((uint32_t)ev[i].data.u64,
			    ev[i].events);
			break;
		case RF_EV_INBOX:
			rf_route_inbox_event();
			break;
		}
	}
}

static int
loop_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	(void)wsi;
	(void)user;
	(void)in;
	(void)len;
	if (reason == LWS_CALLBACK_RAW_RX_FILE)
		epoll_event();
	return 0;
}

static int
vhost_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct rf_conn *c;
	struct rf_tls_pair pair;

	switch (reason) {
	case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
		/* user is the vhost's SSL_CTX: install our checked pair. */
		W.ssl_ctx = user;
		if (rf_tls_pair_load(W.conf, &pair, rf_log_error_line, NULL) != 0)
			return 1;
		if (rf_tls_pair_apply(W.ssl_ctx, &pair,
		    W.conf->tls_min_version) != 0) {
			rf_tls_pair_free(&pair);
			error("cannot install the certificate");
			return 1;
		}
		rf_tls_pair_free(&pair);
		SSL_CTX_set_info_callback(W.ssl_ctx, ssl_info);
		/* Secrets and record counts, for front.c's own records. */
		if (rf_tlsrec_ctx_init(W.ssl_ctx) != 0) {
			error("cannot follow TLS for tls.own_records");
			return 1;
		}
		/*
		 * OpenSSL reads a record's 5-byte header, then its body: two
		 * read(2) per record, and lws's one SSL_read per wake-up makes
		 * each further record of a burst another trip round the loop.
		 * Read ahead, one read(2) takes what the socket has; front.c
		 * and proxy.c read the records it leaves (evloop.h).
		 */
		SSL_CTX_set_read_ahead(W.ssl_ctx, 1);
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		if ((c = lws_get_opaque_user_data(wsi)) != NULL) {
			lws_set_opaque_user_data(wsi, NULL);
			rf_worker_conn_gone(c);
		}
		return 0;

	default:
		return 0;
	}
}

/*
 * The device tunnel's buffers: 4 KiB of lws receive buffer per connection
 * keeps an idle tunnel small (PLATFORM-NOTES), and a frame to a stock agent
 * is never over 2054 bytes.  Sizes known at run time: filled in by
 * create_context().
 */
static struct lws_protocols protocols[] = {
	{ "rf-vhost", vhost_callback, 0, 0, 0, NULL, 0 },
	{ "rf-loop", loop_callback, 0, 0, 0, NULL, 0 },
	{ "rf-front", rf_front_callback, 0, 4096, 0, NULL, 0 },
	/* Nothing goes through lws_write: rf_evloop_write (evloop.h). */
	{ RF_PROXY_PROTOCOL, rf_proxy_callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void
lws_log_emit(int level, const char *line)
{
	size_t len = strlen(line);

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	/* lws reports per-connection trouble as errors: not ours to shout. */
	if (level & (LLL_ERR | LLL_WARN))
		verbose("lws: %.*s", (int)len, line);
	else
		debug3("lws: %.*s", (int)len, line);
}

static struct lws_vhost *
create_vhost(const char *name, int tls)
{
	struct lws_context_creation_info info;
	struct lws_vhost *vh;

	memset(&info, 0, sizeof(info));
	info.vhost_name = name;
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	info.protocols = protocols;
	info.keepalive_timeout = W.conf->keepalive_timeout;
	info.alpn = "http/1.1";
	if (tls)
		info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
		    LWS_SERVER_OPTION_CREATE_VHOST_SSL_CTX;
	if ((vh = lws_create_vhost(W.ctx, &info)) == NULL)
		fatal("cannot create the %s vhost", name);
	return vh;
}

static void
create_context(void)
{
	struct lws_context_creation_info info;
	size_t i;
	int tls = 0, plain = 0;

	protocols[2].per_session_data_size = rf_front_session_size();
	protocols[3].per_session_data_size = rf_proxy_session_size();
	lws_set_log_level(rf_log_enabled(RF_LOG_DEBUG3) ? LLL_ERR | LLL_WARN |
	    LLL_NOTICE | LLL_INFO : LLL_ERR | LLL_WARN, lws_log_emit);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
	    LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	info.timeout_secs = (unsigned int)W.args->handshake_timeout;
	info.max_http_header_data = (unsigned short)(W.args->header_max >
	    65535 ? 65535 : W.args->header_max);
	info.server_string = "reflector";
	info.pt_serv_buf_size = RF_WORKER_READ_MAX;
	if (rf_evloop_init(&W.loop, &info) != 0)
		fatal("cannot create the event loop");
	if ((W.ctx = lws_create_context(&info)) == NULL)
		fatal("cannot create the lws context");
	for (i = 0; i < W.args->nlisteners; i++) {
		if (W.args->listeners[i].tls)
			tls = 1;
		else
			plain = 1;
	}
	if (tls)
		W.vh_tls = create_vhost("https", 1);
	if (plain || !tls)
		W.vh_plain = create_vhost("http", 0);
}

static void
setup_loop(void)
{
	lws_sock_file_fd_type fd;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	/* The master relays these; a worker of its own accord ignores them. */
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	if ((W.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		fatal("signalfd: %s", strerror(errno));
	sigprocmask(SIG_SETMASK, &set, NULL);
	if ((W.epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll_create1: %s", strerror(errno));
	if (ep_ctl(EPOLL_CTL_ADD, W.sigfd, EPOLLIN, ev_data(RF_EV_SIGNAL, 0)) ||
	    ep_ctl(EPOLL_CTL_ADD, W.chan.fd, EPOLLIN, ev_data(RF_EV_CHANNEL, 0)))
		fatal("epoll_ctl: %s", strerror(errno));
	set_listeners_watched(1);
	W.listeners_open = 1;
	rf_route_init(W.args);
	fd.filefd = W.epfd;
	if (lws_adopt_descriptor_vhost(W.vh_tls ? W.vh_tls : W.vh_plain,
	    LWS_ADOPT_RAW_FILE_DESC, fd, "rf-loop", NULL) == NULL)
		fatal("cannot adopt the event descriptor into lws");
}

/* Once a second: the housekeeping that needs no exact timer. */
static void
tick(lws_sorted_usec_list_t *sul)
{
	rf_route_expire();
	lws_sul_schedule(W.ctx, 0, sul, tick, LWS_US_PER_SEC);
}

static void
open_databases(void)
{
	int r;

	if ((r = rf_db_open(&W.routing, W.args->run_dir, RF_DB_ROUTING,
	    0)) != 0)
		fatal("cannot open routing map: %s", rf_strerror(r));
	if ((r = rf_db_open(&W.registry, W.args->state_dir, RF_DB_REGISTRY,
	    0)) != 0)
		fatal("cannot open registry: %s", rf_strerror(r));
}

void
rf_worker_main(const struct rf_worker_args *args, struct rf_conf *conf)
{
	char role[32];

	memset(&W, 0, sizeof(W));
	W.args = args;
	W.conf = conf;
	W.started = time(NULL);
	W.epfd = W.sigfd = -1;
	LIST_INIT(&W.conns);
	snprintf(role, sizeof(role), "worker %d", args->slot);
	rf_log_set_role(role);
	rf_chan_init(&W.chan, args->chan_fd);
	open_databases();
	create_context();
	setup_loop();
	tick(&W.sul_tick);
	rf_evloop_kick(W.ctx);
	rf_chan_compose(&W.chan, RF_MSG_READY, (uint32_t)args->slot,
	    args->generation, -1, NULL, 0);
	verbose("ready (pid %ld, generation %u)", (long)getpid(),
	    args->generation);
	while (!W.stop)
		rf_evloop_once(&W.loop, 1);
	close_listeners();
	lws_context_destroy(W.ctx);
	rf_evloop_free(&W.loop);
	rf_db_close(W.routing);
	rf_db_close(W.registry);
	rf_chan_close(&W.chan);
	rf_conf_free(W.conf);
	free(W.byfd);
	verbose("exiting");
	exit(0);
}

void
rf_worker_info(struct rf_worker_info *wi)
{
	wi->slot = W.args->slot;
	wi->generation = W.args->generation;
	wi->conf_generation = W.conf_gen;
	wi->started = W.started;
	wi->connections = W.nconns;
	wi->draining = W.draining;
	rf_route_counters(&wi->handoffs_out, &wi->handoffs_in);
	wi->conf = W.conf;
}
