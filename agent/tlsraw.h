/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * TLS client sessions carried over lws raw sockets, for the legs lws 4.1.6
 * cannot do itself: it starts TLS on a raw client connection before the
 * TCP connect has finished and fails it ("cannot connect ... SOCKET").
 * The connection stays plain for lws; OpenSSL runs over two memory BIOs:
 * ciphertext that lws read goes in with rf_tlsraw_feed, plaintext comes
 * out of rf_tlsraw_read; plaintext goes in with rf_tlsraw_write and the
 * ciphertext goes out with rf_tlsraw_flush from the WRITEABLE callback.
 * Used for TLS to a device's own web server (https_target), and to the
 * reflector by wslink.c (the WebSockets of the agent and reflector-client)
 * and by reflector-client's --connect.
 * Part of librfagent; not installed.
 */
#ifndef RF_TLSRAW_H
#define RF_TLSRAW_H

#include <stddef.h>

#include <libwebsockets.h>
#include <openssl/ssl.h>

struct rf_buf;
struct rf_tlsraw;

/*
 * A client SSL_CTX.  verify: the server's chain is checked against ca_file
 * (NULL: the system's certificate authorities) and rf_tlsraw_new checks the
 * host name; without verify anything is accepted (a device's own web
 * server, whose certificate is self-signed as a rule).  NULL on failure,
 * with a sentence in why.
 */
SSL_CTX	*rf_tlsraw_ctx_new(int verify, const char *ca_file, char *why,
	    size_t whylen);

/*
 * A session that starts its handshake at once: the ClientHello is waiting
 * for rf_tlsraw_flush when this returns.  host goes out as SNI (unless it
 * is an address) and is the name checked when the context verifies; alpn
 * (may be NULL) is a single protocol name such as "http/1.1".  NULL when
 * out of memory or OpenSSL fails.
 */
struct rf_tlsraw *rf_tlsraw_new(SSL_CTX *, const char *host,
	    const char *alpn);
void	rf_tlsraw_free(struct rf_tlsraw *);

/*
 * Makes ctx's sessions able to hand their records over (rf_tlsraw_take):
 * installs common/tlsrec's capture callbacks.  0 or RF_ERR_TLS.
 */
int	rf_tlsraw_own_records(SSL_CTX *);
/*
 * Hands t's records to common/tlsrec.c once the handshake is over and
 * nothing is in flight either way (see tlsraw.c): 1 when they are ours
 * (now or before), 0 not now (try again after the next read or write),
 * -1 never for this connection (the suite or version, or a capture
 * missing), *why saying why when it has a reason.  Afterwards
 * rf_tlsraw_feed and rf_tlsraw_read are out of turn: rf_tlsraw_rx reads.
 */
int	rf_tlsraw_take(struct rf_tlsraw *, const char **why);
/*
 * Ciphertext in (NULL, 0: what t kept from before), decrypted onto the
 * end of plain while plain has room for a whole record (2^14 bytes); the
 * rest waits in t for the next call.  Before the handshake is done it
 * only moves it on.  0, RF_ERR_EOF after the peer's close_notify, or
 * RF_ERR_TLS (rf_tlsraw_error says why).
 */
int	rf_tlsraw_rx(struct rf_tlsraw *, const void *in, size_t len,
	    struct rf_buf *plain);
/* Ciphertext from the socket; it moves the handshake on.  0 or RF_ERR_TLS. */
int	rf_tlsraw_feed(struct rf_tlsraw *, const void *p, size_t len);
/* 1 once the handshake is done and data may be written. */
int	rf_tlsraw_ready(const struct rf_tlsraw *);
/*
 * Decrypted bytes into buf: how many (> 0), RF_ERR_AGAIN when none are
 * complete yet, RF_ERR_EOF after the peer's close_notify, RF_ERR_TLS.
 */
int	rf_tlsraw_read(struct rf_tlsraw *, void *buf, size_t len);
/* Encrypts all of p (only once ready).  0 or RF_ERR_TLS. */
int	rf_tlsraw_write(struct rf_tlsraw *, const void *p, size_t len);
/* Queues a close_notify: no more writes. */
void	rf_tlsraw_close(struct rf_tlsraw *);
/* Ciphertext not yet handed to the socket, in bytes. */
size_t	rf_tlsraw_pending(const struct rf_tlsraw *);
/*
 * Writes pending ciphertext to wsi (a raw connection) while the socket
 * takes it, and asks for another WRITEABLE callback if some is left.
 * 0, or -1 when lws fails the write.
 */
int	rf_tlsraw_flush(struct rf_tlsraw *, struct lws *wsi);
struct rf_wsc_q;
/*
 * Writes what q holds to wsi's socket, through t unless it is NULL:
 * plain bytes for as long as the socket takes them (rf_evloop_write),
 * plaintext into t only once the ciphertext before it went out, so that
 * t holds about one write's worth.  The bytes taken from q, or -1 (with t,
 * rf_tlsraw_error may say why).
 */
long	rf_tlsraw_q_write(struct rf_tlsraw *, struct lws *wsi,
	    struct rf_wsc_q *q);
/*
 * The end of the sending side: a close_notify (when t is not NULL) and
 * everything TLS or lws still holds on its way.  1 when all is out and the
 * socket may be shut down or closed; 0 when more is to go (a WRITEABLE
 * callback is asked for); -1 when lws fails the write.
 */
int	rf_tlsraw_finish(struct rf_tlsraw *t, struct lws *wsi);
/* Why the last call failed: a sentence (certificate, handshake, alert). */
const char *rf_tlsraw_error(const struct rf_tlsraw *);

#endif
