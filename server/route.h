/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Routing of new connections to the worker that owns their device, and
 * the hand-off of sockets between workers (see route.c).
 */
#ifndef RF_ROUTE_H
#define RF_ROUTE_H

#include <stdint.h>

struct rf_worker_args;

/* What a worker's epoll descriptor watches (worker.c dispatches). */
enum rf_ev_kind {
	RF_EV_LISTENER = 1,
	RF_EV_CHANNEL,
	RF_EV_SIGNAL,
	RF_EV_PEEK,		/* a new connection being peeked at */
	RF_EV_INBOX,		/* hand-offs from other workers */
};

void	rf_route_init(const struct rf_worker_args *);
/* Takes a freshly accepted socket: peeks, then hands off or adopts. */
int	rf_route_accept(int fd, uint32_t listener, const char *peer);
void	rf_route_peek_event(uint32_t index, uint32_t events);
void	rf_route_inbox_event(void);
/* Once a second: closes connections silent past handshake_timeout. */
void	rf_route_expire(void);
void	rf_route_drop_pending(void);
int	rf_route_pending(void);
/* TLS connections held back by limits.max_handshakes (worker.c). */
int	rf_route_held(void);
/* Adopts held connections, oldest first, while the cap has room. */
void	rf_route_release_held(void);
void	rf_route_counters(unsigned long *out, unsigned long *in);

#endif
