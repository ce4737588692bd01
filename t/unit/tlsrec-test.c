/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for common/tlsrec.c against real OpenSSL: a TLS 1.3 (or
 * 1.2) server SSL (with the capture callbacks) and client SSL talk over
 * memory BIOs, the server exchanges data and session tickets through
 * OpenSSL, then rf_tlsrec_take takes its record layer over, the SSL is
 * freed, and the OpenSSL client goes on talking to our layer over the
 * same byte pipe.
 * If a record count, a key, a nonce or a KeyUpdate were wrong, OpenSSL
 * would refuse our records or we its records.  Records the client would
 * never send (padding only, split or coalesced KeyUpdates, odd alerts)
 * are sealed here with EVP directly.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "buf.h"
#include "err.h"
#include "tap.h"
#include "tlsrec.h"

static EVP_PKEY	*test_key;
static X509	*test_cert;

struct conn {
	SSL_CTX	*sctx, *cctx;
	SSL	*s, *c;
	BIO	*s_in, *s_out;	/* the server's, owned by s */
	BIO	*c_in, *c_out;	/* the client's, owned by c */
};

struct opts {
	const char	*suites;	/* NULL: OpenSSL's default */
	int		 tickets;	/* -1: OpenSSL's default (2) */
	int		 tls12;		/* client at most TLS 1.2 */
	int		 padding;	/* client's block padding */
	int		 read_ahead;	/* on the server */
	int		 no_capture;	/* no rf_tlsrec_ctx_init */
	const char	*list12;	/* TLS 1.2 cipher list, both sides */
};

/* Collects what our layer delivers; may stop after n calls. */
struct sink {
	struct rf_buf	 b;
	int		 calls;
	int		 stop_at;
};

enum split {
	SPLIT_WHOLE,
	SPLIT_BYTE,
	SPLIT_HEADER,	/* each header alone, then its body */
	SPLIT_PLUS1,	/* each piece ends one byte into the next record */
	SPLIT_RANDOM,
	SPLIT_N
};

static const char *const split_names[SPLIT_N] = {
	"whole", "1 byte at a time", "header apart", "record + 1 byte",
	"random pieces",
};

static const char *const suite_names[] = {
	"TLS_AES_128_GCM_SHA256",
	"TLS_AES_256_GCM_SHA384",
	"TLS_CHACHA20_POLY1305_SHA256",
};
/* The TLS 1.2 suites of the same AEADs, for the test's P-256 key. */
static const char *const suite12_names[] = {
	"ECDHE-ECDSA-AES128-GCM-SHA256",
	"ECDHE-ECDSA-AES256-GCM-SHA384",
	"ECDHE-ECDSA-CHACHA20-POLY1305",
};
static const enum rf_tlsrec_suite suite_ids[] = {
	RF_TLSREC_AES_128_GCM_SHA256,
	RF_TLSREC_AES_256_GCM_SHA384,
	RF_TLSREC_CHACHA20_POLY1305_SHA256,
};

static void
die(const char *what)
{
	fprintf(stderr, "tlsrec-test: %s\n", what);
	ERR_print_errors_fp(stderr);
	abort();
}

static unsigned char *
pattern(size_t len, unsigned int seed)
{
	unsigned char	*p;
	size_t		 i;

	if ((p = malloc(len == 0 ? 1 : len)) == NULL)
		die("malloc");
	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 7 + seed + (i >> 8));
	return p;
}

/* A self-signed P-256 certificate, made once. */
static void
make_cert(void)
{
	X509_NAME	*name;

	if ((test_key = EVP_EC_gen("P-256")) == NULL ||
	    (test_cert = X509_new()) == NULL ||
	    X509_set_version(test_cert, 2) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(test_cert), 1) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(test_cert), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(test_cert), 3600) == NULL ||
	    X509_set_pubkey(test_cert, test_key) != 1 ||
	    (name = X509_get_subject_name(test_cert)) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"tlsrec-test", -1, -1, 0) != 1 ||
	    X509_set_issuer_name(test_cert, name) != 1 ||
	    X509_sign(test_cert, test_key, EVP_sha256()) == 0)
		die("cannot make a certificate");
}

static void
move(BIO *from, BIO *to)
{
	unsigned char	 buf[16384];
	int		 n;

	while ((n = BIO_read(from, buf, sizeof(buf))) > 0)
		if (BIO_write(to, buf, n) != n)
			die("BIO_write");
}

/* Everything pending in b, in a new buffer. */
static unsigned char *
drain(BIO *b, size_t *lenp)
{
	unsigned char	*p;
	size_t		 len = BIO_ctrl_pending(b);
	int		 n;

	p = pattern(len, 0);
	n = len > 0 ? BIO_read(b, p, (int)len) : 0;
	if (n < 0 || (size_t)n != len)
		die("BIO_read");
	*lenp = len;
	return p;
}

static int
handshake(struct conn *k)
{
	int	 i;

	for (i = 0; i < 20; i++) {
		SSL_do_handshake(k->c);
		move(k->c_out, k->s_in);
		SSL_do_handshake(k->s);
		move(k->s_out, k->c_in);
		if (SSL_is_init_finished(k->s) && SSL_is_init_finished(k->c))
			return 0;
	}
	return -1;
}

static void
setup(struct conn *k, const struct opts *o)
{
	memset(k, 0, sizeof(*k));
	if ((k->sctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    (k->cctx = SSL_CTX_new(TLS_client_method())) == NULL)
		die("SSL_CTX_new");
	if (!o->no_capture && rf_tlsrec_ctx_init(k->sctx) != 0)
		die("rf_tlsrec_ctx_init");
	if (SSL_CTX_use_certificate(k->sctx, test_cert) != 1 ||
	    SSL_CTX_use_PrivateKey(k->sctx, test_key) != 1)
		die("certificate");
	if (o->tickets >= 0)
		SSL_CTX_set_num_tickets(k->sctx, (size_t)o->tickets);
	if (o->suites != NULL &&
	    (SSL_CTX_set_ciphersuites(k->sctx, o->suites) != 1 ||
	    SSL_CTX_set_ciphersuites(k->cctx, o->suites) != 1))
		die("ciphersuites");
	if (o->tls12 &&
	    SSL_CTX_set_max_proto_version(k->cctx, TLS1_2_VERSION) != 1)
		die("max proto");
	if (o->list12 != NULL &&
	    (SSL_CTX_set_cipher_list(k->sctx, o->list12) != 1 ||
	    SSL_CTX_set_cipher_list(k->cctx, o->list12) != 1))
		die("cipher list");
	if (o->padding > 0 &&
	    SSL_CTX_set_block_padding(k->cctx, (size_t)o->padding) != 1)
		die("padding");
	if ((k->s = SSL_new(k->sctx)) == NULL ||
	    (k->c = SSL_new(k->cctx)) == NULL ||
	    (k->s_in = BIO_new(BIO_s_mem())) == NULL ||
	    (k->s_out = BIO_new(BIO_s_mem())) == NULL ||
	    (k->c_in = BIO_new(BIO_s_mem())) == NULL ||
	    (k->c_out = BIO_new(BIO_s_mem())) == NULL)
		die("SSL_new");
	if (o->read_ahead)
		SSL_set_read_ahead(k->s, 1);
	SSL_set_bio(k->s, k->s_in, k->s_out);
	SSL_set_bio(k->c, k->c_in, k->c_out);
	SSL_set_accept_state(k->s);
	SSL_set_connect_state(k->c);
	if (handshake(k) != 0)
		die("handshake");
}

static void
teardown(struct conn *k)
{
	SSL_free(k->s);
	SSL_free(k->c);
	SSL_CTX_free(k->sctx);
	SSL_CTX_free(k->cctx);
	memset(k, 0, sizeof(*k));
}

/* Reads from ssl until it has nothing more; the last SSL_get_error. */
static int
ssl_read_all(SSL *ssl, struct rf_buf *got)
{
	unsigned char	 buf[20000];
	int		 n;

	while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0)
		if (got != NULL && rf_buf_put(got, buf, (size_t)n) != 0)
			die("rf_buf_put");
	return SSL_get_error(ssl, n);
}

/* ns records from the server and nc from the client, through OpenSSL. */
static void
warmup(struct conn *k, int ns, int nc)
{
	int	 i;

	for (i = 0; i < ns; i++)
		if (SSL_write(k->s, "from the server", 15) != 15)
			die("server SSL_write");
	move(k->s_out, k->c_in);
	ssl_read_all(k->c, NULL);
	for (i = 0; i < nc; i++)
		if (SSL_write(k->c, "from the client", 15) != 15)
			die("client SSL_write");
	move(k->c_out, k->s_in);
	ssl_read_all(k->s, NULL);
	/* The client may have answered nothing; the pipe must be quiet. */
	move(k->s_out, k->c_in);
}

static int
take(struct conn *k, struct rf_tlsrec *r)
{
	int	 rv;

	if ((rv = rf_tlsrec_take(r, k->s)) != 0)
		return rv;
	SSL_free(k->s);
	k->s = NULL;
	return 0;
}

static int
sink_rx(void *arg, const void *p, size_t len)
{
	struct sink	*s = arg;

	s->calls++;
	if (rf_buf_put(&s->b, p, len) != 0)
		die("sink");
	if (s->stop_at > 0 && s->calls == s->stop_at)
		return RF_ERR_AGAIN;
	return 0;
}

static void
sink_init(struct sink *s)
{
	memset(s, 0, sizeof(*s));
	rf_buf_init(&s->b, 4 * 1024 * 1024);
}

static int
feed_piece(struct rf_tlsrec *r, const unsigned char *p, size_t len,
    struct sink *s)
{
	return rf_tlsrec_open(r, p, len, sink_rx, s);
}

/* The length of the record at ct[off..) as its header says (test code). */
static size_t
record_len(const unsigned char *ct, size_t len, size_t off)
{
	struct rf_buf	 b;
	uint16_t	 n;

	rf_buf_from(&b, ct, len);
	if (rf_buf_peek_u16(&b, off + 3, &n) != 0)
		return len - off;
	return 5 + (size_t)n;
}

/* Feeds ct to our layer in pieces; stops at the first non-zero result. */
static int
feed(struct rf_tlsrec *r, const unsigned char *ct, size_t len,
    enum split how, struct sink *s)
{
	size_t		 off = 0, n, rec = 0;
	unsigned int	 seed = 12345;
	int		 rv = 0;

	while (off < len && rv == 0) {
		switch (how) {
		case SPLIT_WHOLE:
			n = len - off;
			break;
		case SPLIT_BYTE:
			n = 1;
			break;
		case SPLIT_HEADER:
			/* off is at a record's start. */
			if ((rv = feed_piece(r, ct + off,
			    len - off < 5 ? len - off : 5, s)) != 0)
				return rv;
			n = record_len(ct, len, off) - 5;
			off += 5;
			break;
		case SPLIT_PLUS1:
			/* rec is the next record's start, off <= rec. */
			rec += record_len(ct, len, rec);
			n = rec + 1 - off;
			break;
		default:
			seed = seed * 1103515245 + 12345;
			n = 1 + (seed >> 16) % 3000;
			break;
		}
		if (off >= len)
			break;
		if (n > len - off)
			n = len - off;
		rv = feed_piece(r, ct + off, n, s);
		off += n;
	}
	return rv;
}

/* The client sends len bytes; our layer must deliver exactly them. */
static int
client_to_us(struct conn *k, struct rf_tlsrec *r, size_t len,
    enum split how, unsigned int seed)
{
	unsigned char	*p, *ct;
	struct sink	 s;
	size_t		 ctlen;
	int		 rv, good;

	p = pattern(len, seed);
	if (len > 0 && SSL_write(k->c, p, (int)len) != (int)len)
		die("client SSL_write");
	ct = drain(k->c_out, &ctlen);
	sink_init(&s);
	rv = feed(r, ct, ctlen, how, &s);
	good = rv == 0 && rf_buf_len(&s.b) == len &&
	    memcmp(rf_buf_ptr(&s.b), p, len) == 0 && r->in.d == NULL;
	if (!good)
		diag("rv %d (%s), got %zu of %zu bytes", rv,
		    r->why ? r->why : "", rf_buf_len(&s.b), len);
	rf_buf_free(&s.b);
	free(ct);
	free(p);
	return good;
}

/* What our layer has queued goes to the client. */
static void
flush_to_client(struct conn *k, struct rf_tlsrec *r)
{
	size_t	 n = rf_buf_len(&r->out);

	if (n > 0 && BIO_write(k->c_in, rf_buf_ptr(&r->out), (int)n) != (int)n)
		die("BIO_write");
	rf_buf_reset(&r->out);
}

/* We send len bytes; the OpenSSL client must read exactly them. */
static int
us_to_client(struct conn *k, struct rf_tlsrec *r, size_t len,
    unsigned int seed)
{
	struct rf_buf	 got;
	unsigned char	*p;
	int		 rv, err, good;

	p = pattern(len, seed);
	rv = rf_tlsrec_seal(r, p, len);
	flush_to_client(k, r);
	rf_buf_init(&got, 4 * 1024 * 1024);
	err = ssl_read_all(k->c, &got);
	good = rv == 0 && err == SSL_ERROR_WANT_READ &&
	    rf_buf_len(&got) == len && memcmp(rf_buf_ptr(&got), p, len) == 0;
	if (!good) {
		diag("seal %d, client error %d, got %zu of %zu bytes", rv,
		    err, rf_buf_len(&got), len);
		ERR_print_errors_fp(stderr);
	}
	rf_buf_free(&got);
	free(p);
	return good;
}

/* After a take: a little traffic each way. */
static void
check_traffic(struct conn *k, struct rf_tlsrec *r, const char *what)
{
	ok(client_to_us(k, r, 1000, SPLIT_WHOLE, 3),
	    "%s: client's data reaches us", what);
	ok(us_to_client(k, r, 1000, 4), "%s: our data reaches the client",
	    what);
}

/*
 * Each suite, with no tickets and with OpenSSL's two: the counts taken
 * over are the records each side sent after its Finished, tickets
 * included, and data then flows both ways in every split.
 */
static void
test_suite(int si, int tickets)
{
	static const size_t	 sizes[] = { 1, 16384, 100000, 16385 };
	struct opts		 o = {
		suite_names[si], tickets, 0, 0, 0, 0, NULL
	};
	struct rf_tlsrec	 r;
	struct conn		 k;
	char			 name[128];
	size_t			 i;
	int			 how;

	snprintf(name, sizeof(name), "%s, %d tickets", suite_names[si],
	    tickets);
	setup(&k, &o);
	warmup(&k, 3, 4);
	is_int(take(&k, &r), 0, "take succeeds");
	is_int(r.suite, suite_ids[si], "suite taken");
	is_int(r.wr.seq, tickets + 3, "write count: tickets and 3 records");
	is_int(r.rd.seq, 4, "read count: 4 records");
	ok(r.in.d == NULL && r.out.d == NULL, "no buffer held after take");
	for (how = 0; how < SPLIT_N; how++)
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			ok(client_to_us(&k, &r, sizes[i], (enum split)how,
			    (unsigned int)(i + how)),
			    "%s: client sends %zu bytes, %s", name, sizes[i],
			    split_names[how]);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		ok(us_to_client(&k, &r, sizes[i], (unsigned int)i),
		    "%s: we send %zu bytes", name, sizes[i]);
	is_int(r.wr.seq, tickets + 3 + 1 + 1 + 7 + 2,
	    "write count after our records");
	check_traffic(&k, &r, name);
	rf_tlsrec_free(&r);
	teardown(&k);
}

/*
 * TLS 1.2: the counts restart at each ChangeCipherSpec, so they include
 * the Finished (tickets come before it); data flows both ways in every
 * split; close_notify goes both ways; a renegotiation is refused.
 */
static void
test_suite12(int si)
{
	static const size_t	 sizes[] = { 0, 1, 16384, 100000 };
	struct opts		 o = { NULL, -1, 1, 0, 0, 0, NULL };
	struct rf_tlsrec	 r;
	struct conn		 k;
	struct sink		 s;
	unsigned char		 buf[100], *ct;
	size_t			 i, ctlen;
	int			 how;

	o.list12 = suite12_names[si];
	setup(&k, &o);
	ok(SSL_version(k.s) == TLS1_2_VERSION, "%s: TLS 1.2",
	    suite12_names[si]);
	warmup(&k, 3, 4);
	is_int(take(&k, &r), 0, "take succeeds");
	ok(r.tls12 && r.suite == suite_ids[si], "suite taken: %d", r.suite);
	is_int(r.wr.seq, 1 + 3, "write count: Finished and 3 records");
	is_int(r.rd.seq, 1 + 4, "read count: Finished and 4 records");
	for (how = 0; how < SPLIT_N; how++)
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			ok(client_to_us(&k, &r, sizes[i], (enum split)how,
			    (unsigned int)(i + how)),
			    "%s: client sends %zu bytes, %s",
			    suite12_names[si], sizes[i], split_names[how]);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		ok(us_to_client(&k, &r, sizes[i], (unsigned int)i),
		    "%s: we send %zu bytes", suite12_names[si], sizes[i]);
	is_int(rf_tlsrec_close_notify(&r), 0, "our close_notify");
	flush_to_client(&k, &r);
	is_int(SSL_read(k.c, buf, sizeof(buf)), 0, "the client reads it");
	is_int(SSL_get_error(k.c, 0), SSL_ERROR_ZERO_RETURN,
	    "  ... as close_notify");
	SSL_shutdown(k.c);
	ct = drain(k.c_out, &ctlen);
	sink_init(&s);
	is_int(feed(&r, ct, ctlen, SPLIT_WHOLE, &s), RF_ERR_EOF,
	    "the client's close_notify: RF_ERR_EOF");
	rf_buf_free(&s.b);
	free(ct);
	rf_tlsrec_free(&r);
	teardown(&k);

	setup(&k, &o);
	warmup(&k, 1, 1);
	is_int(take(&k, &r), 0, "take succeeds");
	if (SSL_renegotiate(k.c) != 1)
		die("SSL_renegotiate");
	SSL_do_handshake(k.c);
	ct = drain(k.c_out, &ctlen);
	sink_init(&s);
	is_int(feed(&r, ct, ctlen, SPLIT_WHOLE, &s), RF_ERR_PROTO,
	    "the client's renegotiation: RF_ERR_PROTO");
	ok(r.why != NULL && strstr(r.why, "renegotiation") != NULL,
	    "why: %s", r.why ? r.why : "NULL");
	rf_buf_free(&s.b);
	free(ct);
	rf_tlsrec_free(&r);
	teardown(&k);
}

/* 0 for a whole KeyUpdate round trip, checked from both ends. */
static void
test_key_update(void)
{
	struct opts		 o = { NULL, -1, 0, 0, 0, 0, NULL };
	struct rf_tlsrec	 r;
	struct conn		 k;
	uint64_t		 rgen, wgen;
	size_t			 outlen;

	setup(&k, &o);
	warmup(&k, 1, 1);
	is_int(take(&k, &r), 0, "take for KeyUpdate");
	rgen = r.rd.gen;
	wgen = r.wr.gen;

	ok(SSL_key_update(k.c, SSL_KEY_UPDATE_NOT_REQUESTED) == 1,
	    "client KeyUpdate(update_not_requested)");
	ok(client_to_us(&k, &r, 5000, SPLIT_BYTE, 1),
	    "data after the client's KeyUpdate is read");
	ok(r.rd.gen != rgen && r.rd.seq == 1, "read key moved on");
	ok(r.wr.gen == wgen && rf_buf_len(&r.out) == 0,
	    "write key kept, nothing queued");
	ok(us_to_client(&k, &r, 3000, 2), "our old write key still good");

	ok(SSL_key_update(k.c, SSL_KEY_UPDATE_REQUESTED) == 1,
	    "client KeyUpdate(update_requested)");
	ok(client_to_us(&k, &r, 70000, SPLIT_RANDOM, 2),
	    "data after the requested KeyUpdate is read");
	outlen = rf_buf_len(&r.out);
	is_int(outlen, 5 + 5 + 1 + 16, "our KeyUpdate is queued");
	ok(r.wr.gen != wgen && r.wr.seq == 0, "write key moved on");
	ok(us_to_client(&k, &r, 40000, 3),
	    "client reads our KeyUpdate and data under the new key");
	ok(client_to_us(&k, &r, 100, SPLIT_WHOLE, 4),
	    "client writes after our KeyUpdate");

	/* Two requested updates in a row, each with data behind it. */
	ok(SSL_key_update(k.c, SSL_KEY_UPDATE_REQUESTED) == 1,
	    "client sends a KeyUpdate");
	ok(client_to_us(&k, &r, 3, SPLIT_BYTE, 7), "and data");
	ok(SSL_key_update(k.c, SSL_KEY_UPDATE_REQUESTED) == 1,
	    "and another before it has our answer");
	ok(client_to_us(&k, &r, 20000, SPLIT_PLUS1, 5),
	    "data after two KeyUpdates is read");
	is_int(rf_buf_len(&r.out), 2 * 27, "two KeyUpdates of ours queued");
	ok(us_to_client(&k, &r, 20000, 6), "client follows both our updates");
	check_traffic(&k, &r, "after KeyUpdates");
	rf_tlsrec_free(&r);
	teardown(&k);
}

static void
test_padding(void)
{
	struct opts		 o = { NULL, -1, 0, 256, 0, 0, NULL };
	struct rf_tlsrec	 r;
	struct conn		 k;

	setup(&k, &o);
	warmup(&k, 2, 2);
	is_int(take(&k, &r), 0, "take with a padding client");
	ok(client_to_us(&k, &r, 1, SPLIT_WHOLE, 1), "padded 1 byte");
	ok(client_to_us(&k, &r, 300, SPLIT_BYTE, 2), "padded 300 bytes");
	ok(client_to_us(&k, &r, 100000, SPLIT_HEADER, 3),
	    "padded 100000 bytes");
	check_traffic(&k, &r, "padding");
	rf_tlsrec_free(&r);
	teardown(&k);
}

static void
test_shutdown(void)
{
	struct opts		 o = { NULL, -1, 0, 0, 0, 0, NULL };
	struct rf_tlsrec	 r;
	struct rf_buf		 got;
	struct conn		 k;
	struct sink		 s;
	unsigned char		*ct;
	size_t			 ctlen;
	int			 rv;

	/* The client closes. */
	setup(&k, &o);
	warmup(&k, 1, 1);
	is_int(take(&k, &r), 0, "take for the client's close");
	SSL_write(k.c, "last", 4);
	SSL_shutdown(k.c);
	ct = drain(k.c_out, &ctlen);
	sink_init(&s);
	rv = feed(&r, ct, ctlen, SPLIT_BYTE, &s);
	is_int(rv, RF_ERR_EOF, "client's close_notify is RF_ERR_EOF");
	ok(rf_buf_len(&s.b) == 4 && memcmp(rf_buf_ptr(&s.b), "last", 4) == 0,
	    "data before close_notify delivered");
	ok(r.done && r.in.d == NULL, "done, no buffer held");
	is_int(feed(&r, ct, ctlen, SPLIT_WHOLE, &s), RF_ERR_PROTO,
	    "input after close_notify refused");
	is_str(r.why, "close_notify", "why still says close_notify");
	ok(us_to_client(&k, &r, 10, 1), "we may still write (half-close)");
	rf_buf_free(&s.b);
	free(ct);
	rf_tlsrec_free(&r);
	teardown(&k);

	/* We close. */
	setup(&k, &o);
	warmup(&k, 1, 1);
	is_int(take(&k, &r), 0, "take for our close");
	is_int(rf_tlsrec_seal(&r, "bye", 3), 0, "seal before close");
	is_int(rf_tlsrec_close_notify(&r), 0, "close_notify queued");
	is_int(rf_tlsrec_seal(&r, "x", 1), RF_ERR_INVAL,
	    "no sealing after close_notify");
	is_int(rf_tlsrec_close_notify(&r), RF_ERR_INVAL,
	    "no second close_notify");
	flush_to_client(&k, &r);
	rf_buf_init(&got, 0);
	is_int(ssl_read_all(k.c, &got), SSL_ERROR_ZERO_RETURN,
	    "client sees SSL_ERROR_ZERO_RETURN");
	ok(rf_buf_len(&got) == 3 && memcmp(rf_buf_ptr(&got), "bye", 3) == 0,
	    "client read our data before the close");
	rf_buf_free(&got);
	rf_tlsrec_free(&r);
	teardown(&k);
}

/* A copy of r to spoil; r must hold no buffer. */
static int
tampered(const struct rf_tlsrec *r, const unsigned char *ct, size_t len,
    size_t at, unsigned char x, int set, const char **why)
{
	struct rf_tlsrec	 t = *r;
	unsigned char		*p;
	struct sink		 s;
	int			 rv;

	p = pattern(len, 0);
	memcpy(p, ct, len);
	if (set)
		p[at] = x;
	else
		p[at] ^= x;
	sink_init(&s);
	rv = feed(&t, p, len, SPLIT_WHOLE, &s);
	if (rf_buf_len(&s.b) != 0 || !t.done)
		rv = 9999;
	/* After the error, the genuine record is refused too. */
	if (feed(&t, ct, len, SPLIT_WHOLE, &s) != RF_ERR_PROTO)
		rv = 9998;
	*why = t.why;
	t.wr.gen = t.rd.gen = 0;	/* r's keys stay in the cache */
	rf_tlsrec_free(&t);
	rf_buf_free(&s.b);
	free(p);
	return rv;
}

static void
test_tamper(void)
{
	struct opts		 o = { NULL, -1, 0, 0, 0, 0, NULL };
	struct rf_tlsrec	 r;
	struct conn		 k;
	unsigned char		*ct;
	const char		*why;
	size_t			 ctlen;

	setup(&k, &o);
	warmup(&k, 1, 1);
	is_int(take(&k, &r), 0, "take for tampering");
	SSL_write(k.c, "0123456789", 10);
	ct = drain(k.c_out, &ctlen);
	is_int(ctlen, 5 + 10 + 1 + 16, "one record from the client");
	is_int(tampered(&r, ct, ctlen, 7, 0x01, 0, &why), RF_ERR_TLS,
	    "a flipped ciphertext byte is RF_ERR_TLS");
	ok(why != NULL && strstr(why, "bad_record_mac") != NULL,
	    "why: %s", why ? why : "NULL");
	is_int(tampered(&r, ct, ctlen, ctlen - 1, 0x80, 0, &why), RF_ERR_TLS,
	    "a flipped tag byte is RF_ERR_TLS");
	is_int(tampered(&r, ct, ctlen, 2, 0x01, 0, &why), RF_ERR_TLS,
	    "legacy_record_version is not checked but is authenticated");
	is_int(tampered(&r, ct, ctlen, 0, 22, 1, &why), RF_ERR_PROTO,
	    "a handshake record header is RF_ERR_PROTO");
	is_int(tampered(&r, ct, ctlen, 0, 20, 1, &why), RF_ERR_PROTO,
	    "change_cipher_spec after the handshake is RF_ERR_PROTO");
	is_int(tampered(&r, ct, ctlen, 0, 21, 1, &why), RF_ERR_PROTO,
	    "a plaintext alert is RF_ERR_PROTO");
	is_int(tampered(&r, ct, ctlen, 3, 0x41, 1, &why), RF_ERR_PROTO,
	    "a length over 2^14 + 256 is RF_ERR_PROTO");
	ok(why != NULL && strstr(why, "record_overflow") != NULL,
	    "why: %s", why ? why : "NULL");
	is_int(tampered(&r, ct, ctlen, 4, 16, 1, &why), RF_ERR_PROTO,
	    "a length under 17 is RF_ERR_PROTO");
	/* The length is refused at the header: nothing more is needed. */
	{
		struct rf_tlsrec	 t = r;
		struct sink		 s;
		unsigned char		 h[5] = { 23, 3, 3, 0x41, 0x01 };

		sink_init(&s);
		is_int(rf_tlsrec_open(&t, h, 5, sink_rx, &s), RF_ERR_PROTO,
		    "an oversized length is refused at its header");
		h[0] = 22;
		t = r;
		is_int(rf_tlsrec_open(&t, h, 1, sink_rx, &s), RF_ERR_PROTO,
		    "a bad type is refused at its first byte");
		rf_buf_free(&s.b);
	}
	{
		struct sink	 s;

		sink_init(&s);
		ok(feed(&r, ct, ctlen, SPLIT_BYTE, &s) == 0 &&
		    rf_buf_len(&s.b) == 10 &&
		    memcmp(rf_buf_ptr(&s.b), "0123456789", 10) == 0,
		    "the spoilt copies left r untouched");
		rf_buf_free(&s.b);
	}
	check_traffic(&k, &r, "after tampering");
	free(ct);
	rf_tlsrec_free(&r);
	teardown(&k);
}

/* Refusals of take, and that RF_ERR_AGAIN is not for good. */
/*
 * Records OpenSSL holds at the take: read ahead whole, or a header whose
 * body has not come; in TLS 1.3 or 1.2.
 */
static void
take_pending(int tls12)
{
	struct opts		 o = { NULL, -1, 0, 0, 0, 0, NULL };
	struct rf_tlsrec	 r;
	unsigned char		 buf[100], *ct;
	struct conn		 k;
	size_t			 ctlen;

	/* Read ahead: a second record waits inside OpenSSL. */
	o.tls12 = tls12;
	o.read_ahead = 1;
	setup(&k, &o);
	warmup(&k, 1, 1);
	SSL_write(k.c, "hello", 5);
	SSL_write(k.c, "world", 5);
	move(k.c_out, k.s_in);
	is_int(SSL_read(k.s, buf, 3), 3, "server reads part of a record");
	is_int(rf_tlsrec_take(&r, k.s), RF_ERR_AGAIN,
	    "bytes of a record unread: RF_ERR_AGAIN");
	rf_tlsrec_free(&r);
	is_int(SSL_read(k.s, buf, sizeof(buf)), 2, "server reads the rest");
	is_int(rf_tlsrec_take(&r, k.s), RF_ERR_AGAIN,
	    "a read-ahead record buffered: RF_ERR_AGAIN");
	rf_tlsrec_free(&r);
	is_int(SSL_read(k.s, buf, sizeof(buf)), 5, "server reads it");
	is_int(take(&k, &r), 0, "then take succeeds");
	is_int(r.rd.seq, 3 + tls12, "and counts the records read");
	check_traffic(&k, &r, tls12 ? "TLS 1.2, after read ahead" :
	    "after read ahead");
	rf_tlsrec_free(&r);
	teardown(&k);
	o.read_ahead = 0;

	/*
	 * A record whose header OpenSSL has read but not its body: it
	 * counted the record and holds the header, yet has nothing
	 * pending (SSL_has_pending is 0).
	 */
	setup(&k, &o);
	warmup(&k, 1, 1);
	SSL_write(k.c, "hello", 5);
	ct = drain(k.c_out, &ctlen);
	BIO_write(k.s_in, ct, 5);
	is_int(SSL_read(k.s, buf, sizeof(buf)), -1, "server has a header");
	is_int(SSL_has_pending(k.s), 0, "OpenSSL says nothing pending");
	is_int(rf_tlsrec_take(&r, k.s), RF_ERR_AGAIN,
	    "header read, body not: RF_ERR_AGAIN");
	rf_tlsrec_free(&r);
	BIO_write(k.s_in, ct + 5, (int)ctlen - 5);
	is_int(SSL_read(k.s, buf, sizeof(buf)), 5, "server reads the record");
	is_int(take(&k, &r), 0, "then take succeeds");
	check_traffic(&k, &r, tls12 ?
	    "TLS 1.2, after a half-read record" :
	    "after a half-read record");
	free(ct);
	rf_tlsrec_free(&r);
	teardown(&k);
}

static void
test_take_refusals(void)
{
	struct opts		 o = { NULL, -1, 0, 0, 0, 0, NULL };
	struct rf_tlsrec	 r;
	unsigned char		 buf[100], *ct;
	struct conn		 k;
	size_t			 ctlen;

	o.tls12 = 1;
	o.list12 = "ECDHE-ECDSA-AES128-SHA256";
	setup(&k, &o);
	warmup(&k, 1, 1);
	is_int(rf_tlsrec_take(&r, k.s), RF_ERR_INVAL,
	    "TLS 1.2 with a CBC suite refused");
	is_str(r.why, "cipher suite not supported", "why says so");
	rf_tlsrec_free(&r);
	teardown(&k);
	o.list12 = NULL;
	o.tls12 = 0;

	o.no_capture = 1;
	setup(&k, &o);
	is_int(rf_tlsrec_take(&r, k.s), RF_ERR_INVAL,
	    "no capture callbacks: refused");
	rf_tlsrec_free(&r);
	teardown(&k);
	o.no_capture = 0;

	o.suites = "TLS_AES_128_CCM_SHA256";
	setup(&k, &o);
	is_int(rf_tlsrec_take(&r, k.s), RF_ERR_INVAL, "CCM suite refused");
	rf_tlsrec_free(&r);
	teardown(&k);
	o.suites = NULL;

	/* The handshake not finished: the server has sent its flight. */
	{
		struct conn	 h;

		memset(&h, 0, sizeof(h));
		if ((h.sctx = SSL_CTX_new(TLS_server_method())) == NULL ||
		    (h.cctx = SSL_CTX_new(TLS_client_method())) == NULL ||
		    rf_tlsrec_ctx_init(h.sctx) != 0 ||
		    SSL_CTX_use_certificate(h.sctx, test_cert) != 1 ||
		    SSL_CTX_use_PrivateKey(h.sctx, test_key) != 1 ||
		    (h.s = SSL_new(h.sctx)) == NULL ||
		    (h.c = SSL_new(h.cctx)) == NULL)
			die("handshake setup");
		h.s_in = BIO_new(BIO_s_mem());
		h.s_out = BIO_new(BIO_s_mem());
		h.c_in = BIO_new(BIO_s_mem());
		h.c_out = BIO_new(BIO_s_mem());
		SSL_set_bio(h.s, h.s_in, h.s_out);
		SSL_set_bio(h.c, h.c_in, h.c_out);
		SSL_set_accept_state(h.s);
		SSL_set_connect_state(h.c);
		SSL_do_handshake(h.c);
		move(h.c_out, h.s_in);
		SSL_do_handshake(h.s);
		is_int(rf_tlsrec_take(&r, h.s), RF_ERR_AGAIN,
		    "during the handshake: RF_ERR_AGAIN");
		rf_tlsrec_free(&r);
		teardown(&h);
	}

	take_pending(0);
	take_pending(1);

	/* Part of a header. */
	setup(&k, &o);
	warmup(&k, 1, 1);
	SSL_write(k.c, "hello", 5);
	ct = drain(k.c_out, &ctlen);
	BIO_write(k.s_in, ct, 3);
	SSL_read(k.s, buf, sizeof(buf));
	is_int(rf_tlsrec_take(&r, k.s), RF_ERR_AGAIN,
	    "part of a header read: RF_ERR_AGAIN");
	rf_tlsrec_free(&r);
	free(ct);
	teardown(&k);

	/* KeyUpdates while OpenSSL ran the connection. */
	setup(&k, &o);
	warmup(&k, 1, 1);
	SSL_key_update(k.c, SSL_KEY_UPDATE_NOT_REQUESTED);
	warmup(&k, 0, 1);
	is_int(rf_tlsrec_take(&r, k.s), RF_ERR_INVAL,
	    "client KeyUpdate before the take: RF_ERR_INVAL");
	ok(r.why != NULL && strstr(r.why, "KeyUpdate") != NULL,
	    "why: %s", r.why ? r.why : "NULL");
	rf_tlsrec_free(&r);
	teardown(&k);

	setup(&k, &o);
	warmup(&k, 1, 1);
	SSL_key_update(k.s, SSL_KEY_UPDATE_NOT_REQUESTED);
	warmup(&k, 1, 0);
	is_int(rf_tlsrec_take(&r, k.s), RF_ERR_INVAL,
	    "server KeyUpdate before the take: RF_ERR_INVAL");
	rf_tlsrec_free(&r);
	teardown(&k);

	/* The client's close_notify already read by OpenSSL. */
	setup(&k, &o);
	warmup(&k, 1, 1);
	SSL_shutdown(k.c);
	move(k.c_out, k.s_in);
	SSL_read(k.s, buf, sizeof(buf));
	is_int(rf_tlsrec_take(&r, k.s), RF_ERR_INVAL,
	    "a closing connection: RF_ERR_INVAL");
	rf_tlsrec_free(&r);
	teardown(&k);
}

/* A record as a client would seal it at r's read key, with any inside. */
static size_t
craft(const struct rf_tlsrec *r, uint64_t seq, uint8_t type,
    const void *inner, size_t ilen, unsigned char *out)
{
	const EVP_CIPHER	*cipher;
	EVP_CIPHER_CTX		*ctx;
	unsigned char		 nonce[12];
	size_t			 ctlen = ilen + 16;
	int			 i, n;

	switch (r->suite) {
	case RF_TLSREC_AES_128_GCM_SHA256:
		cipher = EVP_aes_128_gcm();
		break;
	case RF_TLSREC_AES_256_GCM_SHA384:
		cipher = EVP_aes_256_gcm();
		break;
	default:
		cipher = EVP_chacha20_poly1305();
		break;
	}
	memcpy(nonce, r->rd.iv, 12);
	for (i = 0; i < 8; i++)
		nonce[11 - i] ^= (unsigned char)(seq >> (8 * i));
	out[0] = type;
	out[1] = 3;
	out[2] = 3;
	out[3] = (unsigned char)(ctlen >> 8);
	out[4] = (unsigned char)ctlen;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex(ctx, cipher, NULL, r->rd.key, nonce) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &n, out, 5) != 1 ||
	    EVP_EncryptUpdate(ctx, out + 5, &n, inner, (int)ilen) != 1 ||
	    EVP_EncryptFinal_ex(ctx, out + 5 + n, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16,
	    out + 5 + ilen) != 1)
		die("craft");
	EVP_CIPHER_CTX_free(ctx);
	return 5 + ctlen;
}

static const unsigned char	 cs_fixed[48] = "client secret for the tests";
static const unsigned char	 ss_fixed[48] = "server secret for the tests";

/* A layer with fixed keys, fed one crafted record. */
static int
crafted(const void *inner, size_t ilen, struct sink *s,
    const char **why)
{
	struct rf_tlsrec	 r;
	unsigned char		*rec;
	int			 rv;

	if (rf_tlsrec_init_keys(&r, RF_TLSREC_AES_128_GCM_SHA256, cs_fixed,
	    ss_fixed) != 0)
		die("init_keys");
	rec = pattern(ilen + 21, 0);
	craft(&r, 0, 23, inner, ilen, rec);
	sink_init(s);
	rv = rf_tlsrec_open(&r, rec, ilen + 21, sink_rx, s);
	*why = r.why;
	rf_tlsrec_free(&r);
	free(rec);
	return rv;
}

static void
test_inner(void)
{
	static const unsigned char	 pad_only[40];
	static const unsigned char	 cn_fatal[] = { 2, 0, 21 };
	static const unsigned char	 hs_fail[] = { 2, 40, 21 };
	static const unsigned char	 alert3[] = { 1, 0, 0, 21 };
	static const unsigned char	 ku_split[] = { 24, 0, 0, 1, 22 };
	static const unsigned char	 ku_head[] = { 24, 0, 22 };
	static const unsigned char	 ku_two[] = {
		24, 0, 0, 1, 0, 24, 0, 0, 1, 0, 22 };
	static const unsigned char	 ku_bad[] = { 24, 0, 0, 1, 2, 22 };
	static const unsigned char	 ku_long[] = { 24, 0, 0, 2, 0, 0, 22 };
	static const unsigned char	 nst[] = { 4, 0, 0, 1, 0, 22 };
	static const unsigned char	 ccs[] = { 1, 20 };
	static const unsigned char	 odd[] = { 1, 99 };
	static const unsigned char	 empty[] = { 23 };
	static const unsigned char	 ku_ok[] = { 24, 0, 0, 1, 0, 22, 0, 0 };
	/* Inner plaintexts, each sealed into one record. */
	static const struct {
		const unsigned char	*inner;
		size_t			 len;
		int			 want;
		const char		*what, *why;
	} cases[] = {
#define C(a)	a, sizeof(a)
		{ C(cn_fatal), RF_ERR_EOF, "close_notify at level fatal",
		  NULL },
		{ C(hs_fail), RF_ERR_PROTO, "handshake_failure alert",
		  "handshake_failure" },
		{ C(alert3), RF_ERR_PROTO, "a 3-byte alert", NULL },
		{ C(ku_split), RF_ERR_PROTO, "KeyUpdate without its body",
		  NULL },
		{ C(ku_head), RF_ERR_PROTO, "half a handshake header", NULL },
		{ C(ku_two), RF_ERR_PROTO, "two KeyUpdates in one record",
		  NULL },
		{ C(ku_bad), RF_ERR_PROTO, "request_update 2", NULL },
		{ C(ku_long), RF_ERR_PROTO, "KeyUpdate of length 2", NULL },
		{ C(nst), RF_ERR_PROTO, "NewSessionTicket from the client",
		  NULL },
		{ C(ccs), RF_ERR_PROTO, "inner change_cipher_spec", NULL },
		{ C(odd), RF_ERR_PROTO, "inner type 99", NULL },
		{ C(ku_ok), 0, "a padded KeyUpdate is fine", NULL },
#undef C
	};
	unsigned char			*big;
	struct sink			 s;
	const char			*why;
	size_t				 i;

	is_int(crafted(empty, sizeof(empty), &s, &why), 0,
	    "empty application data: 0");
	is_int(s.calls, 0, "and not handed on");
	rf_buf_free(&s.b);
	big = pattern(RF_TLSREC_PLAIN_MAX + 1 + 200, 7);
	memset(big + 100, 0, RF_TLSREC_PLAIN_MAX + 101 - 100);
	big[99] = 23;
	is_int(crafted(big, RF_TLSREC_PLAIN_MAX + 1, &s, &why), 0,
	    "99 bytes and 16285 bytes of padding");
	ok(rf_buf_len(&s.b) == 99 && memcmp(rf_buf_ptr(&s.b), big, 99) == 0,
	    "padding stripped");
	rf_buf_free(&s.b);
	free(big);
	big = pattern(RF_TLSREC_PLAIN_MAX + 1, 3);
	big[RF_TLSREC_PLAIN_MAX] = 23;
	is_int(crafted(big, RF_TLSREC_PLAIN_MAX + 1, &s, &why), 0,
	    "2^14 bytes of content");
	is_int(rf_buf_len(&s.b), RF_TLSREC_PLAIN_MAX, "all delivered");
	rf_buf_free(&s.b);
	free(big);
	big = pattern(RF_TLSREC_PLAIN_MAX + 2, 3);
	big[RF_TLSREC_PLAIN_MAX + 1] = 23;
	is_int(crafted(big, RF_TLSREC_PLAIN_MAX + 2, &s, &why), RF_ERR_PROTO,
	    "2^14 + 1 bytes of content: RF_ERR_PROTO");
	ok(why != NULL && strstr(why, "record_overflow") != NULL,
	    "why: %s", why ? why : "NULL");
	rf_buf_free(&s.b);
	free(big);
	is_int(crafted(pad_only, sizeof(pad_only), &s, &why), RF_ERR_PROTO,
	    "padding only: RF_ERR_PROTO");
	rf_buf_free(&s.b);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		is_int(crafted(cases[i].inner, cases[i].len, &s, &why),
		    cases[i].want, cases[i].what);
		if (cases[i].why != NULL)
			ok(why != NULL && strstr(why, cases[i].why) != NULL,
			    "why names it: %s", why ? why : "NULL");
		rf_buf_free(&s.b);
	}
}

/* Sequence numbers at their end, r->out's limit, rx stopping. */
static void
test_limits(void)
{
	struct rf_tlsrec	 r;
	unsigned char		 rec[200], recs[3 * 60], *big;
	struct sink		 s;
	size_t			 n, outlen;
	int			 i;

	if (rf_tlsrec_init_keys(&r, RF_TLSREC_CHACHA20_POLY1305_SHA256,
	    cs_fixed, ss_fixed) != 0)
		die("init_keys");
	r.wr.seq = UINT64_MAX - 2;
	is_int(rf_tlsrec_seal(&r, "ab", 2), 0, "seal at seq 2^64 - 3");
	outlen = rf_buf_len(&r.out);
	big = pattern(20000, 1);
	is_int(rf_tlsrec_seal(&r, big, 20000), RF_ERR_LIMIT,
	    "two records from 2^64 - 2: RF_ERR_LIMIT");
	is_int(rf_buf_len(&r.out), outlen, "and nothing appended");
	is_int(rf_tlsrec_seal(&r, "c", 1), 0, "seal at seq 2^64 - 2");
	is_int(r.wr.seq, UINT64_MAX, "write seq now 2^64 - 1");
	is_int(rf_tlsrec_seal(&r, "d", 1), RF_ERR_LIMIT,
	    "seal at 2^64 - 1: RF_ERR_LIMIT");
	is_int(rf_tlsrec_close_notify(&r), RF_ERR_LIMIT,
	    "close_notify at 2^64 - 1: RF_ERR_LIMIT");
	rf_tlsrec_free(&r);

	if (rf_tlsrec_init_keys(&r, RF_TLSREC_CHACHA20_POLY1305_SHA256,
	    cs_fixed, ss_fixed) != 0)
		die("init_keys");
	r.rd.seq = UINT64_MAX;
	n = craft(&r, UINT64_MAX, 23, "x\x17", 2, rec);
	sink_init(&s);
	is_int(rf_tlsrec_open(&r, rec, n, sink_rx, &s), RF_ERR_PROTO,
	    "a record at read seq 2^64 - 1: RF_ERR_PROTO");
	rf_buf_free(&s.b);
	rf_tlsrec_free(&r);

	if (rf_tlsrec_init_keys(&r, RF_TLSREC_AES_256_GCM_SHA384,
	    cs_fixed, ss_fixed) != 0)
		die("init_keys");
	free(big);
	big = pattern(RF_TLSREC_OUT_MAX + 1, 1);
	is_int(rf_tlsrec_seal(&r, big, RF_TLSREC_OUT_MAX + 1), RF_ERR_LIMIT,
	    "sealing more than r->out holds: RF_ERR_LIMIT");
	is_int(rf_tlsrec_seal(&r, big, 200 * 1024), 0, "seal 200 KiB");
	outlen = rf_buf_len(&r.out);
	is_int(rf_tlsrec_seal(&r, big, 60 * 1024), RF_ERR_LIMIT,
	    "60 KiB more: RF_ERR_LIMIT");
	is_int(rf_buf_len(&r.out), outlen, "and nothing appended");
	is_int(r.wr.seq, 13, "seq counts only what was appended");
	free(big);

	/* rx stops after the first of three records. */
	for (i = 0, n = 0; i < 3; i++)
		n += craft(&r, (uint64_t)i, 23, i == 0 ? "one\x17" :
		    i == 1 ? "two\x17" : "six\x17", 4, recs + n);
	sink_init(&s);
	s.stop_at = 1;
	is_int(rf_tlsrec_open(&r, recs, n - 2, sink_rx, &s), RF_ERR_AGAIN,
	    "rx's RF_ERR_AGAIN is returned");
	ok(rf_buf_len(&s.b) == 3 && !r.done, "one record delivered, not done");
	is_int(rf_buf_len(&r.in), n - 2 - n / 3, "the rest waits in r->in");
	is_int(rf_tlsrec_open(&r, NULL, 0, sink_rx, &s), 0,
	    "resumed with no new input");
	ok(rf_buf_len(&s.b) == 6 &&
	    memcmp(rf_buf_ptr(&s.b), "onetwo", 6) == 0,
	    "the second record delivered on resuming");
	ok(rf_buf_len(&r.in) == n / 3 - 2 && r.in.d != NULL,
	    "a partial record is held");
	is_int(rf_tlsrec_open(&r, recs + n - 2, 2, sink_rx, &s), 0,
	    "its last bytes");
	ok(rf_buf_len(&s.b) == 9 &&
	    memcmp(rf_buf_ptr(&s.b), "onetwosix", 9) == 0 && r.in.d == NULL,
	    "third delivered and no buffer held");
	rf_buf_free(&s.b);
	rf_tlsrec_free(&r);
}

/*
 * Two connections read alternately: the shared AEAD contexts must
 * re-key whenever the connection changes, and only then.
 */
static void
test_two_connections(void)
{
	struct opts		 o = { NULL, -1, 0, 0, 0, 0, NULL };
	struct rf_tlsrec	 r[2];
	struct conn		 k[2];
	int			 i, j, good = 1;

	for (i = 0; i < 2; i++) {
		o.suites = suite_names[i * 2];
		setup(&k[i], &o);
		warmup(&k[i], i + 1, i + 2);
		if (take(&k[i], &r[i]) != 0)
			die("take");
	}
	for (j = 0; j < 10; j++)
		for (i = 0; i < 2; i++)
			if (!client_to_us(&k[i], &r[i], 100 + (size_t)j,
			    SPLIT_WHOLE, (unsigned int)j) ||
			    !us_to_client(&k[i], &r[i], 200 + (size_t)j,
			    (unsigned int)j))
				good = 0;
	ok(good, "two connections alternate on the shared contexts");
	for (i = 0; i < 2; i++) {
		rf_tlsrec_free(&r[i]);
		teardown(&k[i]);
	}
}

int
main(void)
{
	size_t	 i;

	make_cert();
	for (i = 0; i < 3; i++) {
		test_suite((int)i, 0);
		test_suite((int)i, 2);
		test_suite12((int)i);
	}
	test_key_update();
	test_padding();
	test_shutdown();
	test_tamper();
	test_take_refusals();
	test_inner();
	test_limits();
	test_two_connections();
	EVP_PKEY_free(test_key);
	X509_free(test_cert);
	return done_testing();
}
