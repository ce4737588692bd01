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
 * (rf_tlsraw_pending is 0), so it holds about one write's worth.  The read BIO holds at
 * most what one lws read delivered beyond the last complete TLS record.
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

#include "err.h"
#include "evloop.h"
#include "tlsraw.h"
#include "wsclient.h"

#define TLSRAW_FLUSH_MAX	(16 * 1024)

struct rf_tlsraw {
	SSL		*ssl;
	BIO		*rbio;		/* ciphertext in; owned by ssl */
	BIO		*wbio;		/* ciphertext out; owned by ssl */
	int		 ready;
	int		 closed;	/* close_notify queued */
	char		 error[256];
};

/* The reason of OpenSSL's last error, or what for when it has none. */
static void
set_error(struct rf_tlsraw *t, const char *what)
{
	unsigned long e;
	long vr;
	char buf[200];

	if ((vr = SSL_get_verify_result(t->ssl)) != X509_V_OK) {
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
	free(t);
}

int
rf_tlsraw_feed(struct rf_tlsraw *t, const void *p, size_t len)
{
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

	if (!t->ready)
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
	/* A memory BIO takes everything: SSL_write writes it all or fails. */
	if (!t->ready || t->closed || len > INT_MAX) {
		snprintf(t->error, sizeof(t->error), "TLS write out of turn");
		return RF_ERR_TLS;
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
	if (t->ready)
		(void)SSL_shutdown(t->ssl);
	ERR_clear_error();
}

size_t
rf_tlsraw_pending(const struct rf_tlsraw *t)
{
	return BIO_ctrl_pending(t->wbio);
}

int
rf_tlsraw_flush(struct rf_tlsraw *t, struct lws *wsi)
{
	unsigned char scratch[TLSRAW_FLUSH_MAX];
	char *p;
	long len, n;
	int m;

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
