/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The event loop under libwebsockets: libev (epoll on Linux) instead of
 * lws's own poll(2) loop.
 *
 * lws 4.1.6's default loop calls poll(2) over every descriptor it has on
 * each wake-up, so its cost grows with the number of connections, not
 * with the number that are ready: a worker holding 10,000 idle device
 * tunnels scanned 10,000 descriptors for every browser byte, and perf put
 * 55% of the agent's CPU under 64 keep-alive channels in poll(2) and its
 * wait-queue locking.  Under libev, lws keeps one ev_io watcher per
 * descriptor and the kernel reports only what is ready.
 *
 * The loop is ours ("foreign" to lws): lws then installs no signal
 * watcher of its own, and we run it one iteration at a time, so that the
 * callers keep their shape (check their flags between iterations, leave
 * when told).  lws's timers (lws_sul) and its service of TLS records
 * already read and buffered are watchers on the same loop; a timer set
 * outside any lws callback is seen at the next wake-up, which
 * rf_evloop_kick forces.
 *
 * libev is loaded by lws as its plugin libwebsockets-evlib_ev.so (Debian
 * package libwebsockets-evlib-ev, a dependency of libwebsockets-dev).
 */
#ifndef RF_EVLOOP_H
#define RF_EVLOOP_H

#include <sys/queue.h>

struct ev_loop;
struct ev_prepare;
struct ev_idle;
struct lws;
struct lws_context;
struct lws_context_creation_info;

/*
 * Writes at the end of the iteration.  A connection that has bytes to send
 * because of an event on another connection (a browser's request for the
 * tunnel, a device's answer for the browser) could ask lws for WRITEABLE:
 * that is an epoll_ctl(2) to watch for POLLOUT, another epoll_wait(2)
 * that returns at once, and an epoll_ctl(2) to stop watching, three system
 * calls per hop for a socket that was writable all along.  Instead it is
 * queued here, and once every event of the iteration has been handled
 * (libev's prepare watcher, just before the loop would block) its fn
 * writes what the iteration gathered: one write for all of it, like
 * WRITEABLE, with none of the three calls.  fn runs outside any lws
 * callback, so it cannot close its connection by returning -1: it marks
 * it and asks for WRITEABLE, which then returns -1.  When the socket does
 * not take everything, lws's own WRITEABLE takes over.  A timer an fn
 * sets is armed at lws's next wake-up (at most the owner's 1 s tick
 * away).  A flush must be cancelled before its owner is freed.
 */
struct rf_evflush {
	TAILQ_ENTRY(rf_evflush)	 entry;
	void			(*fn)(struct rf_evflush *);
	int			 queued;
};

struct rf_evloop {
	struct ev_loop		*loop;
	void			*foreign[1];	/* for info->foreign_loops */
	struct ev_prepare	*prepare;
	struct ev_idle		*idle;		/* flushes left for later */
	TAILQ_HEAD(, rf_evflush) flushes;
};

/*
 * Creates the loop and sets info up to use it; the struct must outlive
 * lws_create_context(info).  0, or RF_ERR_NOMEM.
 */
int	rf_evloop_init(struct rf_evloop *,
	    struct lws_context_creation_info *);
/*
 * One iteration: waits for an event or a timer (wait != 0), or only
 * handles what is ready (wait == 0).
 */
void	rf_evloop_once(struct rf_evloop *, int wait);
/* Queues fl (once) for the end of this iteration. */
void	rf_evloop_flush_later(struct rf_evloop *, struct rf_evflush *,
	    void (*)(struct rf_evflush *));
void	rf_evloop_flush_cancel(struct rf_evloop *, struct rf_evflush *);
/* Wakes the loop once, so that lws arms the timers set outside it. */
void	rf_evloop_kick(struct lws_context *);
/*
 * Writes what wsi's socket takes now, through its TLS if it has one: the
 * bytes taken (0 when none), or -1 when the connection failed.  lws_write
 * would keep what the socket did not take in a buffer of its own, and lws
 * reads nothing more from a connection while it holds bytes for it: two
 * relays each holding bytes for the other, or one holding bytes for a
 * client that finishes writing before it reads, then wait for each other
 * for ever (a stalled CONNECT echo showed it).  So the rest stays in the
 * caller's queue, which its high and low marks bound, and the caller asks
 * for WRITEABLE.  After 0 on TLS, OpenSSL holds a record of these bytes:
 * the same bytes, at least as many, must be offered again (our queues
 * only grow at the tail, so their head is).  While lws itself holds bytes
 * (a PING it framed), nothing is taken, so nothing overtakes them.
 */
long	rf_evloop_write(struct lws *, const void *, size_t);
/*
 * TLS read-ahead (the worker turns it on, worker.c says why): OpenSSL then
 * reads all the socket has, records beyond the one SSL_read returns
 * included.  lws 4.1.6 looks for more only when its buffer came back full
 * and SSL_pending (decrypted bytes) says so: the records left whole in
 * OpenSSL's buffer would wait for the next bytes from the network, for
 * ever if none come (a request behind the handshake's Finished, a burst
 * of the device's frames).  So after each delivery, and whenever reading
 * starts again, the owner calls this: while can(arg) says it takes input
 * (what lws's flow control would let through), each record held goes to
 * rx(arg, bytes, len), as lws's RAW_RX would pass it.  0 when none is held
 * whole (the rest comes with the socket's next POLLIN) or the owner takes
 * no more; -1 when rx failed, the stream did, or the peer's close_notify
 * was next: the owner then closes, as lws would have.
 */
int	rf_evloop_tls_drain(struct lws *, int (*can)(void *),
	    int (*rx)(void *, const void *, size_t), void *arg);
/* After lws_context_destroy. */
void	rf_evloop_free(struct rf_evloop *);

#endif
