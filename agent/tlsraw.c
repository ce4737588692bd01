/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * TLS client sessions over lws raw sockets, with OpenSSL on memory BIOs
 * (see tlsraw.h for why lws cannot do these legs itself).
 *
 * Lifecycle.  rf_tlsraw_new sets up the session and runs the handshake
 * until it needs the server's answer: the ClientHello waits in the write
 * BIO.  Each rf_tlsraw_feed moves the handshake on until it is done or
 * fails; the verdict on the certificate is OpenSSL's (SSL_VERIFY_PEER and
 * SSL_set1_host when the context verifies).  Once ready, rf_tlsraw_read
 * and rf_tlsraw_write carry the data.  Any of them can leave ciphertext
 * in the write BIO (a handshake message, a key update, an alert), so the
 * callers flush after each.
 *
 * Memory.  The write BIO grows with what is written and not yet flushed:
 * callers write plaintext only once the socket took what was there
 * (rf_tlsraw_pending is 0), so it holds about one write's worth.  The
 * read BIO holds at most what one lws read delivered beyond the last
 * complete TLS record.
 *
 * Our own records.  Once rf_tlsraw_take succeeds, common/tlsrec.c reads
 * and writes the records and the SSL is freed: ciphertext is decrypted
 * straight from lws's buffer into the caller's, and plaintext encrypted
 * straight into the buffer the socket is written from.  Through the
 * memory BIOs each byte was copied twice more each way (into the BIO,
 * into OpenSSL's record buffer; out through a scratch buffer).
 * tlsrec.h says what it refuses to take over (anything but TLS 1.3, or
 * 1.2 with an AEAD) and what a server may still send afterwards.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "err.h"
#include "evloop.h"
#include "tlsraw.h"
#include "tlsrec.h"
#include "wsclient.h"

#define TLSRAW_FLUSH_MAX	(16 * 1024)

struct rf_tlsraw {
	SSL		*ssl;		/* NULL once rec has the records */
	BIO		*rbio;		/* ciphertext in; owned by ssl */
	BIO		*wbio;		/* ciphertext out; owned by ssl */
	struct rf_tlsrec *rec;		/* our own records, or NULL */
	struct rf_buf	 hold;		/* ciphertext rec could not take yet */
	int		 ready;
	int		 closed;	/* close_notify queued */
	int		 never;		/* rec refused this connection */
	char		 error[256];
};

/* The reason of OpenSSL's last error, or what for when it has none. */
static void
set_error(struct rf_tlsraw *t, const char *what)
{
	unsigned long e;
	long vr;
	char buf[200];

	if (t->ssl != NULL &&
	    (vr = SSL_get_verify_result(t->ssl)) != X509_V_OK) {
		snprintf(t->error, sizeof(t->error),
		    "certificate verify failed: %s",
		    X509_verify_cert_error_string(vr));
		ERR_clear_error();
		return;
	}
	if ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		snprintf(t->error, sizeof(t->error), "%s: %s", what, buf);
		ERR_clear_error();
		return;
	}
	snprintf(t->error, sizeof(t->error), "%s", what);
}

SSL_CTX *
rf_tlsraw_ctx_new(int verify, const char *ca_file, char *why, size_t whylen)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		snprintf(why, whylen, "cannot create a TLS context");
		return NULL;
	}
	(void)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (!verify) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return ctx;
	}
	if ((ca_file != NULL ? SSL_CTX_load_verify_locations(ctx, ca_file,
	    NULL) : SSL_CTX_set_default_verify_paths(ctx)) != 1) {
		snprintf(why, whylen, "cannot load the CA certificates%s%s",
		    ca_file != NULL ? " of " : "",
		    ca_file != NULL ? ca_file : "");
		ERR_clear_error();
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
}

/* Names what the handshake checks and sends: SNI, the host, ALPN. */
static int
set_peer(struct rf_tlsraw *t, SSL_CTX *ctx, const char *host,
    const char *alpn)
{
	unsigned char wire[64];
	unsigned char addr[16];
	size_t n;
	int is_ip;

	is_ip = inet_pton(AF_INET, host, addr) == 1 ||
	    inet_pton(AF_INET6, host, addr) == 1;
	/* RFC 6066: no address goes out as a server name. */
	if (!is_ip && SSL_set_tlsext_host_name(t->ssl, host) != 1)
		return -1;
	if (SSL_CTX_get_verify_mode(ctx) & SSL_VERIFY_PEER) {
		if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(
		    SSL_get0_param(t->ssl), host) != 1 :
		    SSL_set1_host(t->ssl, host) != 1)
			return -1;
	}
	if (alpn != NULL) {
		if ((n = strlen(alpn)) == 0 || n >= sizeof(wire))
			return -1;
		wire[0] = (unsigned char)n;
		memcpy(wire + 1, alpn, n);
		/* 0 is success here, unlike the rest of OpenSSL. */
		if (SSL_set_alpn_protos(t->ssl, wire, (unsigned int)n + 1) != 0)
			return -1;
	}
	return 0;
}

/* One step of the handshake: 0 (done or waiting), or RF_ERR_TLS. */
static int
handshake(struct rf_tlsraw *t)
{
	int r;

	if (t->ready)
		return 0;
	if ((r = SSL_do_handshake(t->ssl)) == 1) {
		t->ready = 1;
		return 0;
	}
	switch (SSL_get_error(t->ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return 0;
	default:
		set_error(t, "TLS handshake failed");
		return RF_ERR_TLS;
	}
}

struct rf_tlsraw *
rf_tlsraw_new(SSL_CTX *ctx, const char *host, const char *alpn)
{
	struct rf_tlsraw *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	rf_buf_init(&t->hold, RF_TLSREC_IN_MAX);
	if ((t->ssl = SSL_new(ctx)) == NULL)
		goto fail;
	if ((t->rbio = BIO_new(BIO_s_mem())) == NULL)
		goto fail;
	if ((t->wbio = BIO_new(BIO_s_mem())) == NULL) {
		BIO_free(t->rbio);
		goto fail;
	}
	/* An empty read BIO means "wait for more", not end of file. */
	BIO_set_mem_eof_return(t->rbio, -1);
	SSL_set_bio(t->ssl, t->rbio, t->wbio);
	SSL_set_connect_state(t->ssl);
	if (set_peer(t, ctx, host, alpn) != 0 || handshake(t) != 0)
		goto fail;
	return t;
fail:
	ERR_clear_error();
	rf_tlsraw_free(t);
	return NULL;
}

void
rf_tlsraw_free(struct rf_tlsraw *t)
{
	if (t == NULL)
		return;
	SSL_free(t->ssl);
	if (t->rec != NULL) {
		rf_tlsrec_free(t->rec);
		free(t->rec);
	}
	rf_buf_free(&t->hold);
	free(t);
}

int
rf_tlsraw_own_records(SSL_CTX *ctx)
{
	return rf_tlsrec_ctx_init(ctx) == 0 ? 0 : RF_ERR_TLS;
}

int
rf_tlsraw_take(struct rf_tlsraw *t, const char **why)
{
	struct rf_tlsrec *rec;
	int r;

	*why = NULL;
	if (t->rec != NULL)
		return 1;
	if (t->never)
		return -1;
	/* Quiet: nothing in flight either way. */
	if (!t->ready || t->closed || BIO_ctrl_pending(t->rbio) > 0 ||
	    BIO_ctrl_pending(t->wbio) > 0)
		return 0;
	if ((rec = calloc(1, sizeof(*rec))) == NULL)
		return 0;
	if ((r = rf_tlsrec_take(rec, t->ssl)) != 0) {
		*why = rec->why;
		rf_tlsrec_free(rec);
		free(rec);
		ERR_clear_error();
		if (r == RF_ERR_AGAIN)
			return 0;
		t->never = 1;
		return -1;
	}
	/* No SSL_shutdown: the records go on under the same keys. */
	SSL_free(t->ssl);
	t->ssl = NULL;
	t->rbio = t->wbio = NULL;
	t->rec = rec;
	return 1;
}

/* The end of our records: close_notify (EOF), or why they failed. */
static int
rec_error(struct rf_tlsraw *t, int r)
{
	if (r == RF_ERR_EOF)
		return RF_ERR_EOF;
	snprintf(t->error, sizeof(t->error), "TLS read failed: %s",
	    t->rec->why != NULL ? t->rec->why : rf_strerror(r));
	return RF_ERR_TLS;
}

/* rf_tlsrec_open's delivery: 1 stops it while plain has no room left. */
static int
rec_deliver(void *arg, const void *p, size_t len)
{
	struct rf_buf *plain = arg;

	if (rf_buf_put(plain, p, len) != 0)
		return RF_ERR_NOMEM;
	return rf_buf_room(plain) < RF_TLSREC_PLAIN_MAX ? 1 : 0;
}

int
rf_tlsraw_rx(struct rf_tlsraw *t, const void *in, size_t len,
    struct rf_buf *plain)
{
	unsigned char *p;
	int r;

	if (t->rec != NULL) {
		/*
		 * A record handed to rec_deliver counts as read, so nothing
		 * is opened without room for one: it waits, in order.
		 */
		if (len > 0 && (rf_buf_len(&t->hold) > 0 ||
		    rf_buf_room(plain) < RF_TLSREC_PLAIN_MAX)) {
			if (rf_buf_put(&t->hold, in, len) != 0) {
				snprintf(t->error, sizeof(t->error),
				    "too much input while reading is stopped");
				return RF_ERR_TLS;
			}
			len = 0;
		}
		if (rf_buf_room(plain) < RF_TLSREC_PLAIN_MAX)
			return 0;
		if (rf_buf_len(&t->hold) > 0) {
			in = rf_buf_ptr(&t->hold);
			len = rf_buf_len(&t->hold);
		}
		/* What it does not open now it keeps itself. */
		r = rf_tlsrec_open(t->rec, in, len, rec_deliver, plain);
		rf_buf_free(&t->hold);
		return r == 0 || r == 1 ? 0 : rec_error(t, r);
	}
	if (len > 0 && (r = rf_tlsraw_feed(t, in, len)) != 0)
		return r;
	while (rf_buf_room(plain) >= RF_TLSREC_PLAIN_MAX) {
		if (rf_buf_reserve(plain, RF_TLSREC_PLAIN_MAX, &p) != 0) {
			snprintf(t->error, sizeof(t->error), "out of memory");
			return RF_ERR_TLS;
		}
		r = rf_tlsraw_read(t, p, RF_TLSREC_PLAIN_MAX);
		(void)rf_buf_unput(plain, r > 0 ? RF_TLSREC_PLAIN_MAX -
		    (size_t)r : RF_TLSREC_PLAIN_MAX);
		if (r == RF_ERR_AGAIN)
			return 0;
		if (r < 0)
			return r;
	}
	return 0;
}

int
rf_tlsraw_feed(struct rf_tlsraw *t, const void *p, size_t len)
{
	if (t->rec != NULL) {
		snprintf(t->error, sizeof(t->error), "TLS input out of turn");
		return RF_ERR_TLS;
	}
	if (len > INT_MAX || BIO_write(t->rbio, p, (int)len) != (int)len) {
		snprintf(t->error, sizeof(t->error), "out of memory");
		return RF_ERR_TLS;
	}
	return handshake(t);
}

int
rf_tlsraw_ready(const struct rf_tlsraw *t)
{
	return t->ready;
}

int
rf_tlsraw_read(struct rf_tlsraw *t, void *buf, size_t len)
{
	int r;

	if (!t->ready || t->rec != NULL)
		return RF_ERR_AGAIN;
	if ((r = SSL_read(t->ssl, buf, len > INT_MAX ? INT_MAX : (int)len)) >
	    0)
		return r;
	switch (SSL_get_error(t->ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return RF_ERR_AGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return RF_ERR_EOF;
	default:
		set_error(t, "TLS read failed");
		return RF_ERR_TLS;
	}
}

int
rf_tlsraw_write(struct rf_tlsraw *t, const void *p, size_t len)
{
	int r;

	/* A memory BIO takes everything: SSL_write writes it all or fails. */
	if (!t->ready || t->closed || len > INT_MAX) {
		snprintf(t->error, sizeof(t->error), "TLS write out of turn");
		return RF_ERR_TLS;
	}
	if (t->rec != NULL) {
		if ((r = rf_tlsrec_seal(t->rec, p, len)) != 0) {
			snprintf(t->error, sizeof(t->error),
			    "TLS write failed: %s", rf_strerror(r));
			return RF_ERR_TLS;
		}
		return 0;
	}
	if (len > 0 && SSL_write(t->ssl, p, (int)len) != (int)len) {
		set_error(t, "TLS write failed");
		return RF_ERR_TLS;
	}
	return 0;
}

void
rf_tlsraw_close(struct rf_tlsraw *t)
{
	if (t->closed)
		return;
	t->closed = 1;
	/* Queues the alert; the peer's answer is not waited for. */
	if (t->rec != NULL)
		(void)rf_tlsrec_close_notify(t->rec);
	else if (t->ready)
		(void)SSL_shutdown(t->ssl);
	ERR_clear_error();
}

size_t
rf_tlsraw_pending(const struct rf_tlsraw *t)
{
	if (t->rec != NULL)
		return rf_buf_len(&t->rec->out);
	return BIO_ctrl_pending(t->wbio);
}

/* rf_tlsraw_flush for our own records: straight from rec->out. */
static int
rec_flush(struct rf_tlsraw *t, struct lws *wsi)
{
	struct rf_buf *out = &t->rec->out;
	long n;

	if (rf_buf_len(out) == 0)
		return 0;
	if ((n = rf_evloop_write(wsi, rf_buf_ptr(out), rf_buf_len(out))) < 0)
		return -1;
	(void)rf_buf_consume(out, (size_t)n);
	/* An idle link holds no buffer. */
	if (rf_buf_len(out) > 0)
		lws_callback_on_writable(wsi);
	else
		rf_buf_free(out);
	return 0;
}

int
rf_tlsraw_flush(struct rf_tlsraw *t, struct lws *wsi)
{
	unsigned char scratch[TLSRAW_FLUSH_MAX];
	char *p;
	long len, n;
	int m;

	if (t->rec != NULL)
		return rec_flush(t, wsi);
	while ((len = BIO_get_mem_data(t->wbio, &p)) > 0) {
		if ((n = rf_evloop_write(wsi, p, (size_t)len)) < 0)
			return -1;
		if (n == 0)
			break;
		/* What the socket took leaves the BIO. */
		for (; n > 0; n -= m)
			if ((m = BIO_read(t->wbio, scratch, n > (long)sizeof(
			    scratch) ? (int)sizeof(scratch) : (int)n)) <= 0)
				return -1;
	}
	if (BIO_ctrl_pending(t->wbio) > 0)
		lws_callback_on_writable(wsi);
	return 0;
}

long
rf_tlsraw_q_write(struct rf_tlsraw *t, struct lws *wsi, struct rf_wsc_q *q)
{
	unsigned char buf[TLSRAW_FLUSH_MAX];
	const unsigned char *p;
	long w, taken = 0;
	size_t n;

	while (q->bytes > 0) {
		if (t == NULL) {
			n = rf_wsc_q_peek(q, &p);
			if ((w = rf_evloop_write(wsi, p, n)) < 0)
				return -1;
			if (w == 0)
				break;
			rf_wsc_q_drop(q, (size_t)w);
			taken += w;
			continue;
		}
		if (rf_tlsraw_pending(t) > 0)
			break;
		n = rf_wsc_q_get(q, buf, sizeof(buf));
		if (rf_tlsraw_write(t, buf, n) != 0 ||
		    rf_tlsraw_flush(t, wsi) != 0)
			return -1;
		taken += (long)n;
	}
	return taken;
}

int
rf_tlsraw_finish(struct rf_tlsraw *t, struct lws *wsi)
{
	if (t != NULL) {
		rf_tlsraw_close(t);
		if (rf_tlsraw_flush(t, wsi) != 0)
			return -1;
	}
	if (lws_partial_buffered(wsi) ||
	    (t != NULL && rf_tlsraw_pending(t) > 0)) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	return 1;
}

const char *
rf_tlsraw_error(const struct rf_tlsraw *t)
{
	return t->error[0] != '\0' ? t->error : "TLS failed";
}
