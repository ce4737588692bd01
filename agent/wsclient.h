/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The client side of a WebSocket to a reflector, as the device agent
 * (tunnel.c, rfagent.c) and reflector-client (client*.c) both need it: the
 * byte queues of a relay, the lws vhost that reaches the reflector (CA
 * file, host name check, HTTP CONNECT proxy), Basic credentials, the
 * reading of a refused handshake, and keep-alive timing.  Part of
 * librfagent; not installed (firmware uses rfagent.h).
 */
#ifndef RF_WSCLIENT_H
#define RF_WSCLIENT_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "buf.h"

/* lws keeps a proxy's "user:password" in 96 bytes. */
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

/* ---------------------------------------------------- vhost, proxy -- */

/*
 * The "[user[:password]@]host:port" lws wants for a CONNECT proxy, from an
 * http:// URL and optional Basic credentials.  RF_ERR_INVAL with *why for
 * a URL that is not one, RF_ERR_LIMIT when it does not fit in len or the
 * credentials are longer than lws keeps.
 */
int	rf_wsc_proxy_address(const char *url, const char *user,
	    const char *password, char *buf, size_t len, const char **why);

/*
 * A client vhost named name with protocols: servers verified against
 * ca_file (NULL: the system's certificate authorities), host names
 * checked; through the proxy (an rf_wsc_proxy_address, or NULL for a
 * direct connection).  lws would also read the lowercase http_proxy of the
 * environment for a vhost without a proxy: it is hidden while the vhost is
 * made, so that the proxy is only ever the one given.  NULL on failure
 * (the CA file does not load, most likely).
 */
struct lws_vhost *rf_wsc_vhost_new(struct lws_context *, const char *name,
	    const struct lws_protocols *, const char *ca_file,
	    const char *proxy);

/* lws's log lines into ours, at debug level (lws_set_log_level's emit). */
void	rf_wsc_lws_log(int level, const char *line);

/* --------------------------------------------------------- handshake -- */

/*
 * "Basic <base64 of user:password>" into out (len bytes).  RF_ERR_LIMIT if
 * it does not fit.  The clear text is wiped from the stack.
 */
int	rf_wsc_basic(const char *user, const char *password, char *out,
	    size_t len);

/*
 * Checks that a 101 names exactly the subprotocol want (a stock peer
 * closes otherwise).  0, or -1 with a sentence in why.
 */
int	rf_wsc_check_subprotocol(struct lws *, const char *want, char *why,
	    size_t len);

struct rf_wt_ext;
/*
 * What a 101 answered to the RF_WT_EXT_HEADER we announced
 * (reflector-webtunnel(7)), from LWS_CALLBACK_CLIENT_FILTER_PRE_ESTABLISH
 * on: 0 with *theirs when it answered a value rf_wt_ext_parse takes, and
 * the extension is on; RF_ERR_NOTFOUND when it sent none (a stock
 * reflector); RF_ERR_PROTO when the value is unusable.  raw gets the value
 * as it came, for the log ("" if none).  Anything but 0 means the plain
 * protocol, never a failed handshake.
 */
int	rf_wsc_ext_read(struct lws *, struct rf_wt_ext *theirs, char *raw,
	    size_t rawlen);

/* Why a connection or its handshake failed. */
struct rf_wsc_failure {
	int	 status;	/* the HTTP status, 0 if none came */
	int	 proxy;		/* the CONNECT proxy refused or failed */
	int	 proxy_status;	/* what it answered, 0 if unknown */
	int	 tls;		/* TLS failed: certificate or handshake */
	char	 reason[160];	/* X-PTTH-Error (or X-WebTunnel-Error) */
	char	 detail[200];	/* what lws said */
};

/*
 * Reads it from LWS_CALLBACK_CLIENT_CONNECTION_ERROR's wsi (may be NULL)
 * and in (lws's message, may be NULL).
 */
void	rf_wsc_failure_read(struct lws *, const char *in,
	    struct rf_wsc_failure *);
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
/* Writes what waits in tx while the socket takes it; as above. */
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
