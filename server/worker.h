/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Inside a worker: the connection record shared by the event loop
 * (worker.c) and the request handlers (http.c).
 */
#ifndef RF_WORKER_H
#define RF_WORKER_H

#include <sys/queue.h>
#include <stdint.h>
#include <time.h>

#include <libwebsockets.h>

struct rf_conf;
struct rf_tunnel;
struct rf_worker_args;

enum rf_conn_state {
	RF_CONN_NEW = 0,	/* accepted; no request complete yet */
	RF_CONN_REQUEST,	/* a request is being answered */
	RF_CONN_IDLE,		/* between requests of a keep-alive connection */
	RF_CONN_TUNNEL,		/* a device tunnel */
};

/* One accepted connection; lws's opaque user data on its wsi. */
struct rf_conn {
	LIST_ENTRY(rf_conn)	 entry;
	struct lws		*wsi;
	enum rf_conn_state	 state;
	int			 tls;
	unsigned int		 requests;	/* answered so far */
	int			 fd;
	int			 handshaking;	/* counted in the cap */
	int			 read_held;	/* handshake ended in adoption */
	char			 peer[64];	/* "addr:port" */
	char			 device[64];	/* routed to this device, or "" */
};

struct rf_worker_info {
	int			 slot;
	unsigned int		 generation;
	unsigned int		 conf_generation;
	time_t			 started;
	int			 connections;
	int			 draining;
	unsigned long		 handoffs_out;
	unsigned long		 handoffs_in;
	const struct rf_conf	*conf;
};

void	rf_worker_info(struct rf_worker_info *);
void	rf_worker_conn_gone(struct rf_conn *);
const struct rf_conf *rf_worker_conf(void);
/* The worker's event loop: for writes at the end of an iteration. */
struct rf_evloop *rf_worker_loop(void);
const struct rf_worker_args *rf_worker_args(void);
struct rf_db *rf_worker_routing(void);
/* The registry (sessions live there; auth.c, portal.c). */
struct rf_db *rf_worker_registry(void);
/* Watches fd in the worker's epoll (events 0: stop watching it). */
int	rf_worker_watch(int fd, uint32_t events, int kind, uint32_t index);
/*
 * 1 when a TLS connection for the portal host may start its handshake
 * now: fewer than limits.max_handshakes are running (route.c queues the
 * others).
 */
int	rf_worker_handshake_room(void);
/* Hands a routed socket to lws; takes fd in every case. */
void	rf_worker_adopt(int fd, uint32_t listener, const char *peer,
	    const char *device);
/*
 * Adopts a socket into "rf-front" as a raw socket without TLS from lws,
 * with an rf_conn of its own: one end of a CONNECT relay's socketpair, or
 * a device tunnel whose TLS records front.c now does itself.  Takes fd in
 * every case; the wsi (its RAW_ADOPT has run), or NULL.
 */
struct lws *rf_worker_adopt_plain(int fd, const char *peer,
	    const char *device);

#endif
