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

struct ev_loop;
struct lws;
struct lws_context;
struct lws_context_creation_info;

struct rf_evloop {
	struct ev_loop		*loop;
	void			*foreign[1];	/* for info->foreign_loops */
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
/* Wakes the loop once, so that lws arms the timers set outside it. */
void	rf_evloop_kick(struct lws_context *);
/*
 * Whether wsi should be written to no more until its WRITEABLE: lws holds
 * bytes a send(2) did not take.  Our writers loop with this, not with
 * lws_send_pipe_choked, which is a poll(2) on the socket per call (two
 * per request through the reflector).  The price: the one write that
 * meets a full socket is copied into lws's buffer.
 */
int	rf_evloop_choked(struct lws *);
/* After lws_context_destroy. */
void	rf_evloop_free(struct rf_evloop *);

#endif
