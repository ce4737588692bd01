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

enum rf_conn_state {
	RF_CONN_NEW = 0,	/* accepted; no request complete yet */
	RF_CONN_REQUEST,	/* a request is being answered */
	RF_CONN_IDLE,		/* between requests of a keep-alive connection */
};

/* One accepted connection; lws's opaque user data on its wsi. */
struct rf_conn {
	LIST_ENTRY(rf_conn)	 entry;
	struct lws		*wsi;
	enum rf_conn_state	 state;
	int			 tls;
	unsigned int		 requests;	/* answered so far */
	char			 peer[64];	/* "addr:port" */
	char			 device[64];	/* routed to this device, or "" */
};

/* Per-request state of the HTTP handlers (lws per-session user data). */
struct rf_http_session {
	int		 status;
	const char	*content_type;
	char		*body;		/* malloc'ed, sent on WRITEABLE */
	size_t		 body_len;
	size_t		 sent;
	int		 head_only;	/* HEAD: no body goes out */
	int		 wait_body;	/* answer once the body is read */
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
struct rf_db *rf_worker_routing(void);
/* Watches fd in the worker's epoll (events 0: stop watching it). */
int	rf_worker_watch(int fd, uint32_t events, int kind, uint32_t index);
/* Hands a routed socket to lws; takes fd in every case. */
void	rf_worker_adopt(int fd, uint32_t listener, const char *peer,
	    const char *device);

/* http.c: the vhosts' HTTP callback for everything but connection setup. */
int	rf_http_callback(struct lws *, enum lws_callback_reasons, void *user,
	    void *in, size_t len);

#endif
