/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The client side of a WebSocket to a reflector, as the device agent
 * (tunnel.c, rfagent.c) and reflector-client (client*.c) both need it
 * around the WebSocket itself (wslink.h): the byte queues of a relay, the
 * lws vhost their raw connections run on, Basic credentials, why a link
 * failed in words, the send batches and keep-alive timing.  Part of
 * librfagent; not installed (firmware uses rfagent.h).
 */
#ifndef RF_WSCLIENT_H
#define RF_WSCLIENT_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "buf.h"

/*
 * A proxy's "user:password", in bytes at most: the limit lws's proxy had,
 * kept so that configurations mean what they meant (wslink.h).
 */
#define RF_WSC_PROXY_AUTH_MAX	95

/* ------------------------------------------------------------ queues -- */

struct rf_wsc_chunk {
	STAILQ_ENTRY(rf_wsc_chunk) entry;
	size_t			 len;
	size_t			 off;
	unsigned char		 data[];
};

/* Bytes waiting for one side of a relay, in the order they came. */
struct rf_wsc_q {
	STAILQ_HEAD(, rf_wsc_chunk) chunks;
	size_t			 bytes;
};

void	rf_wsc_q_init(struct rf_wsc_q *);
/* Appends a copy of data; RF_ERR_NOMEM. */
int	rf_wsc_q_put(struct rf_wsc_q *, const void *data, size_t len);
/* Moves up to max bytes out into buf; returns how many. */
size_t	rf_wsc_q_get(struct rf_wsc_q *, unsigned char *buf, size_t max);
void	rf_wsc_q_clear(struct rf_wsc_q *);
/*
 * The first contiguous run of bytes, for a write(2) without a copy: its
 * length (0 when empty) and *p.  rf_wsc_q_drop then removes the n bytes
 * that were written (n at most bytes).
 */
size_t	rf_wsc_q_peek(const struct rf_wsc_q *, const unsigned char **p);
void	rf_wsc_q_drop(struct rf_wsc_q *, size_t n);

/* ------------------------------------------------------------ vhost -- */

/*
 * A client vhost named name with protocols, for raw connections whose TLS
 * and proxy are ours (tlsraw.h, wslink.h).  lws would read the lowercase
 * http_proxy of the environment for it and send every client connection,
 * raw ones too, through that proxy: it is hidden while the vhost is made,
 * so that the proxy is only ever the one configured.  NULL on failure.
 */
struct lws_vhost *rf_wsc_vhost_new(struct lws_context *, const char *name,
	    const struct lws_protocols *);

/* lws's log lines into ours, at debug level (lws_set_log_level's emit). */
void	rf_wsc_lws_log(int level, const char *line);

/* --------------------------------------------------------- handshake -- */

/*
 * "Basic <base64 of user:password>" into out (len bytes).  RF_ERR_LIMIT if
 * it does not fit.  The clear text is wiped from the stack.
 */
int	rf_wsc_basic(const char *user, const char *password, char *out,
	    size_t len);

/* Why a connection or its handshake failed, or how it ended (wslink.h). */
struct rf_wsc_failure {
	int	 status;	/* the HTTP status, 0 if none came */
	int	 proxy;		/* the CONNECT proxy refused or failed */
	int	 proxy_status;	/* what it answered, 0 if unknown */
	int	 tls;		/* TLS failed: certificate or handshake */
	int	 closed;	/* the peer ended an open link */
	int	 close_code;	/* of its CLOSE (1005: none given), or 0 */
	char	 reason[160];	/* X-PTTH-Error (or X-WebTunnel-Error), or
				 * the CLOSE's reason */
	char	 detail[200];	/* what failed, in words */
};

/*
 * A sentence for the log: "the reflector answered 503: Device offline".
 * hint401 (may be NULL) is added in brackets to a 401 without a reason;
 * hint407 (may be NULL) names the proxy credentials to check.
 */
void	rf_wsc_failure_text(const struct rf_wsc_failure *, const char *hint401,
	    const char *hint407, char *buf, size_t len);

/* ------------------------------------------------------------ sending -- */

/*
 * Binary messages gathered into one write.  lws_write(LWS_WRITE_BINARY)
 * would cost one SSL_write, so one TLS record and one send(2), per
 * message, and a stock peer takes messages of at most 2 KiB; and a client
 * must mask what it sends, which lws 4.1.6 does one byte at a time after
 * a read(2) of /dev/urandom for each key: half of the agent's CPU time in
 * a download.  A batch instead frames each message itself (keys from
 * OpenSSL's generator 32 at a time, since each RAND_bytes costs a
 * getpid(2) for fork safety; the payload masked eight bytes at a time by
 * common/ws.c) into one buffer, and writes the finished frames as they
 * are, past lws (rf_evloop_write: lws would keep what the socket did not
 * take, and read no more from the tunnel meanwhile).
 *
 *	rf_wsc_batch_init(&b, storage, sizeof(storage));
 *	while ((p = rf_wsc_batch_room(&b, MIN, &room)) != NULL &&
 *	    (n = produce(p, room)) > 0)
 *		rf_wsc_batch_add(&b, n);
 *	rf_wsc_batch_send(wsi, &b);
 */
struct rf_wsc_batch {
	unsigned char	*buf;		/* after LWS_PRE of the storage */
	size_t		 cap;
	size_t		 len;		/* framed bytes in buf */
	size_t		 room_hdr;	/* header room of the offered room */
	size_t		 room_max;	/* its size */
	uint8_t		 keys[4 * 32];	/* mask keys, one RAND_bytes */
	size_t		 nkeys;		/* not used yet, from the end */
};

/* A batch in storage of len bytes, LWS_PRE of them before its frames. */
void	rf_wsc_batch_init(struct rf_wsc_batch *, unsigned char *storage,
	    size_t len);
/*
 * Where the next message goes and in *room how long it may be; NULL when
 * less than min bytes are left.  Write it there, then rf_wsc_batch_add.
 */
unsigned char *rf_wsc_batch_room(struct rf_wsc_batch *, size_t min,
	    size_t *room);
/* Frames the len bytes written at the room as one binary message. */
int	rf_wsc_batch_add(struct rf_wsc_batch *, size_t len);
/*
 * A control frame (PING, PONG, CLOSE: at most 125 payload bytes) at the
 * batch's end; -1 when it has no room or the opcode is not one.
 */
int	rf_wsc_batch_control(struct rf_wsc_batch *, uint8_t opcode,
	    const void *p, size_t len);
struct rf_wsl;
/*
 * Sends and empties the batch with rf_evloop_write (evloop.h), or through
 * link (wslink.h) when it is not NULL: what the socket does not take goes
 * into tx, which must be empty, to go first next time.  The bytes
 * written, or -1 when the connection failed.
 */
long	rf_wsc_batch_send(struct lws *, struct rf_wsl *link,
	    struct rf_wsc_batch *, struct rf_buf *tx);
/*
 * Writes what waits in tx while the socket takes it; as above.  Through
 * link, it first writes the link's own pending bytes (TLS records): the
 * caller makes a new batch only once tx is empty and rf_wsl_pending is
 * 0, or the batch would only be copied into tx.
 */
long	rf_wsc_tx_flush(struct lws *, struct rf_wsl *link, struct rf_buf *tx);

/* ------------------------------------------------------- keep-alive -- */

/*
 * Stock peers answer PINGs but send none, so a client sends one after
 * `interval` idle and takes silence for twice that plus 10 s as a dead
 * peer.  Times are lws_now_usecs().
 */
struct rf_wsc_ka {
	int64_t		 interval;	/* usec */
	int64_t		 last_rx;
	int64_t		 last_tx;
	int64_t		 last_ping;
};

void	rf_wsc_ka_start(struct rf_wsc_ka *, int interval_s, int64_t now);
/* 1: send a PING now; -1: the peer is gone; 0: nothing to do. */
int	rf_wsc_ka_check(struct rf_wsc_ka *, int64_t now);

#endif
