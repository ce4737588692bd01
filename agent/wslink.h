/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A client WebSocket to a reflector that we speak ourselves over an lws
 * raw connection: the HTTP CONNECT through a proxy, TLS (tlsraw.h), the
 * upgrade request and its 101, and the frames (common/ws.c).
 *
 * Why not lws's WebSocket client.  Its receive path in 4.1.6 runs every
 * payload byte through a state machine (PLATFORM-NOTES: ~80 MB/s a core),
 * which made uploads through a device tunnel four times slower than
 * downloads; frames decoded here cost a memcpy.  Its CONNECT support
 * reads the proxy's reply with one recv(2) and reports a 407 only as
 * "proxy not h1".  And the frames we send were already ours (wsclient.h).
 *
 * Used by the device agent's tunnel (tunnel.c) and by reflector-client's
 * WebSocket tunnels (client-tunnel.c).
 *
 * Lifecycle.  rf_wsl_connect starts an lws raw client connection, to the
 * proxy when there is one, else to the reflector's address (its name, the
 * one TLS checks and Host carries, unless told another); the owner's raw
 * protocol callback hands its events over: RAW_CONNECTED to
 * rf_wsl_connected, RAW_RX to rf_wsl_rx, RAW_WRITEABLE to rf_wsl_flush
 * (then its own frames once rf_wsl_is_open).  The steps are the CONNECT
 * and its 2xx, the TLS handshake (the reflector's certificate verified
 * against the CA file, its host name checked), the upgrade request and a
 * 101 with the right Sec-WebSocket-Accept, Upgrade and Connection, and
 * exactly the subprotocol asked for; then ops->open, where the owner may
 * read the 101's headers (rf_wsl_header) and refuse.  When any step
 * fails, rf_wsl_* returns -1 with l->fail saying why (a refusal's status
 * and X-PTTH-Error, the proxy's status, TLS), and the owner closes the
 * connection.
 *
 * Receiving.  Each whole message, binary or text, of at most max_message
 * bytes goes to ops->message, its bytes valid only during the call
 * (fragments are put together first, so l->in and the assembler may each
 * hold up to max_message); PINGs are answered (ops->want_write, then
 * rf_wsl_pong in the owner's next batch), PONGs only count as traffic, a
 * CLOSE ends the link (l->fail: "the reflector closed the tunnel", with
 * its code and reason; the owner answers it, rf_wsl_close_answer, and
 * closes the connection).
 * l->fail.closed tells an end of this kind (a CLOSE, close_notify, the
 * connection closed or reset once open) from a broken one (the protocol,
 * TLS, a message too long).  The owner may stop receiving from inside
 * ops->message (rf_wsl_pause): what was read already waits, decrypted or
 * not, and rf_wsl_rx(l, wsi, NULL, 0) once it resumes carries on with it
 * before lws reads again.
 *
 * Sending.  The owner frames and masks its messages (rf_wsc_batch) and
 * writes them with rf_wsl_write, which behaves as rf_evloop_write does
 * (evloop.h): on TLS it takes a whole batch once the last one's
 * ciphertext is out, and none before.
 */
#ifndef RF_WSLINK_H
#define RF_WSLINK_H

#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>
#include <openssl/ssl.h>

#include "buf.h"
#include "ws.h"
#include "wsclient.h"

struct rf_http_head;
struct rf_tlsraw;

/* "Basic " and the base64 of 95 bytes of credentials, and a NUL. */
#define RF_WSL_AUTH_MAX		200

/* An HTTP CONNECT proxy on the way: host "" for none. */
struct rf_wsl_proxy {
	char		 host[256];
	int		 port;
	char		 auth[RF_WSL_AUTH_MAX];	/* Proxy-Authorization, or "" */
};

/*
 * From an http:// URL and optional Basic credentials ("user:password" of
 * at most RF_WSC_PROXY_AUTH_MAX bytes).  0, or RF_ERR_INVAL (not such a
 * URL) or RF_ERR_LIMIT (the credentials) with a phrase in *why, such as
 * "proxy credentials of at most 95 bytes".
 */
int	rf_wsl_proxy_parse(struct rf_wsl_proxy *, const char *url,
	    const char *user, const char *password, const char **why);

/* Where the link goes and what it asks for. */
struct rf_wsl_conf {
	struct lws_context	*ctx;
	struct lws_vhost	*vhost;		/* without lws's proxy */
	const char		*lws_protocol;	/* the owner's raw protocol */
	void			*opaque;	/* the wsi's opaque user data */
	struct lws		**pwsi;		/* set as lws's ci.pwsi */
	const char		*host;		/* for SNI, the check, Host */
	const char		*address;	/* connect (or CONNECT) there;
						 * NULL: host */
	int			 port;
	const char		*path;
	SSL_CTX			*tls;		/* NULL: ws:// */
	const struct rf_wsl_proxy *proxy;	/* NULL: direct */
	const char		*subprotocol;
	size_t			 max_message;	/* the largest accepted */
	int			 own_records;	/* TLS records ours once open
						 * (tlsraw.h), when tls has
						 * rf_tlsraw_own_records */
};

struct rf_wsl_ops {
	/* The 101 passed its checks; -1 refuses it (with l->fail set). */
	int	(*open)(void *arg);
	/* A whole message; -1 closes the link. */
	int	(*message)(void *arg, int binary, const unsigned char *p,
		    size_t len);
	/* A PONG waits for rf_wsl_pong. */
	void	(*want_write)(void *arg);
};

enum rf_wsl_state {
	RF_WSL_IDLE = 0,
	RF_WSL_TCP,		/* waiting for the connect */
	RF_WSL_PROXY,		/* CONNECT sent, reading its answer */
	RF_WSL_TLS,		/* the TLS handshake */
	RF_WSL_UPGRADE,		/* the upgrade sent, reading the 101 */
	RF_WSL_OPEN,
	RF_WSL_DONE,		/* failed, or closed */
};

struct rf_wsl {
	enum rf_wsl_state	 state;
	const struct rf_wsl_ops	*ops;
	void			*arg;
	struct rf_tlsraw	*t;		/* NULL on ws:// */
	struct rf_buf		 out;		/* plain bytes before TLS */
	struct rf_buf		 req;		/* the upgrade, until sent */
	struct rf_buf		 in;		/* a head, or frames */
	struct rf_http_head	*head;		/* while reading one */
	struct rf_ws_asm	 wsasm;
	char			 key[RF_WS_KEY_LEN + 1];
	int			 paused;
	int			 in_rx;		/* rf_wsl_rx is running */
	int			 proxied;	/* through a CONNECT proxy */
	int			 own_records;	/* still to take them over */
	char			 host[256];	/* the reflector */
	char			 proxy[300];	/* its host:port, if proxied */
	SSL_CTX			*ctx;		/* a reference, or NULL */
	const char		*subprotocol;
	size_t			 max_message;
	unsigned char		 pong[RF_WS_CONTROL_MAX];
	size_t			 pong_len;
	int			 pong_due;
	int			 close_rcvd;	/* the peer's CLOSE, unanswered */
	struct rf_wsc_failure	 fail;
};

/*
 * Starts the connection; headers (NULL: none) are further request header
 * lines, each ending in CRLF (credentials: l keeps a copy until the
 * request is out, then wipes it).  0, or -1 with l->fail set.  As with
 * any lws client connect, callbacks (a failed connect) may come before
 * it returns.
 */
int	rf_wsl_connect(struct rf_wsl *, const struct rf_wsl_conf *,
	    const char *headers, const struct rf_wsl_ops *, void *arg);
/*
 * l as rf_wsl_connect and rf_wsl_connected leave it on a ws:// connection
 * without a proxy once the upgrade request is out (asking with key, a
 * Sec-WebSocket-Key, for subprotocol, which l refers to): waiting for the
 * 101 in rf_wsl_rx, which reads without a wsi (NULL) until something has
 * to be written.  Exported for the unit tests and the fuzz target, which
 * make a link without a connection.  0, or -1 with l->fail set.
 */
int	rf_wsl_test_upgrade(struct rf_wsl *, const char *key,
	    const char *subprotocol, size_t max_message,
	    const struct rf_wsl_ops *, void *arg);
/* Frees what l holds and wipes it (the connection is lws's). */
void	rf_wsl_free(struct rf_wsl *);

/* The raw connection's events: 0, or -1 (close it; l->fail says why). */
int	rf_wsl_connected(struct rf_wsl *, struct lws *);
int	rf_wsl_rx(struct rf_wsl *, struct lws *, const void *in, size_t len);
/* Writes what waits (the handshake's bytes, TLS records). */
int	rf_wsl_flush(struct rf_wsl *, struct lws *);
/* lws could not connect, or the connection closed before the 101. */
void	rf_wsl_failed(struct rf_wsl *, const char *lws_says);

int	rf_wsl_is_open(const struct rf_wsl *);
/* Stops (1) or resumes (0) receiving; see above. */
void	rf_wsl_pause(struct rf_wsl *, struct lws *, int on);
/*
 * A header of the 101 (or of a refusal), only during ops->open: its value
 * into buf as a string; RF_ERR_NOTFOUND, RF_ERR_LIMIT (too long).
 */
int	rf_wsl_header(const struct rf_wsl *, const char *name, char *buf,
	    size_t len);

/* As rf_evloop_write, through TLS on wss://. */
long	rf_wsl_write(struct rf_wsl *, struct lws *, const void *, size_t);
/* Bytes written and not yet taken by the socket (TLS records). */
size_t	rf_wsl_pending(const struct rf_wsl *);
/*
 * The PONG owed for the last PING into the batch, if one is owed and
 * fits: 1 when added, else 0.
 */
int	rf_wsl_pong(struct rf_wsl *, struct rf_wsc_batch *);
/*
 * The end, as far as the socket takes it now: a CLOSE frame with code
 * (after what waits in tx, if tx is not NULL and the socket takes it; and
 * none while TLS still holds an earlier write, see rf_wsl_pending) and
 * TLS's close_notify.  The owner closes the connection afterwards: lws
 * closes a raw socket at once, so an owner whose last bytes must arrive
 * waits for rf_wsl_pending to be 0, shuts down its writing side and lets
 * the peer close (client-tunnel.c's tunnel_end).
 */
void	rf_wsl_close(struct rf_wsl *, struct lws *, uint16_t code,
	    struct rf_buf *tx);
/*
 * After a CLOSE from the peer ended the link (rf_wsl_rx returned -1 with
 * one received): the CLOSE that answers it, with its code, as
 * rf_wsl_close sends one; nothing otherwise.  An owner calls it whenever
 * rf_wsl_rx fails, before it closes the connection.
 */
void	rf_wsl_close_answer(struct rf_wsl *, struct lws *, struct rf_buf *tx);

#endif
