/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for common/tlsrec.c against real OpenSSL: a TLS 1.3 (or
 * 1.2) server SSL and client SSL talk over memory BIOs and exchange data
 * and session tickets through OpenSSL; then rf_tlsrec_take takes the
 * record layer of one of them over (our end, the one with the capture
 * callbacks), that SSL is freed, and the other, OpenSSL's peer, goes on
 * talking to our layer over the same byte pipe.  Most tests run with our
 * layer as the server and again as the client, as the agent uses it
 * (the server's tickets and KeyUpdates then come to us).
 * If a record count, a key, a nonce or a KeyUpdate were wrong, OpenSSL
 * would refuse our records or we its records.  Records the peer would
 * never send (padding only, split or coalesced KeyUpdates, odd alerts,
 * tickets with other messages) are sealed here with EVP directly.
 */
#include <stdarg.h>
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

/* The end of a connection our layer takes over; OpenSSL keeps the other. */
enum role {
	AS_SERVER,
	AS_CLIENT
};

static const char *const role_names[] = { "server", "client" };

struct conn {
	enum role	 as;		/* our end; the other is the peer */
	SSL_CTX		*sctx, *cctx;
	SSL		*s, *c;
	BIO		*s_in, *s_out;	/* the server's, owned by s */
	BIO		*c_in, *c_out;	/* the client's, owned by c */
	/* The same by role, set by prepare; take clears us and us_in. */
	SSL		*us, *peer;
	BIO		*us_in;		/* what our end reads */
	BIO		*peer_in, *peer_out;
	const char	*peer_name;
};

struct opts {
	const char	*suites;	/* NULL: OpenSSL's default */
	int		 tickets;	/* -1: OpenSSL's default (2) */
	int		 tls12;		/* client at most TLS 1.2 */
	int		 padding;	/* client's block padding */
	int		 no_capture;	/* no rf_tlsrec_ctx_init on our end */
	int		 peer_capture;	/* rf_tlsrec_ctx_init on the peer's */
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

/*
 * The two ends, connected, before their handshake; the capture goes on
 * our end's SSL_CTX (as o says).
 */
static void
prepare(struct conn *k, const struct opts *o, enum role as)
{
	SSL_CTX	*ours, *peers;

	memset(k, 0, sizeof(*k));
	k->as = as;
	if ((k->sctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    (k->cctx = SSL_CTX_new(TLS_client_method())) == NULL)
		die("SSL_CTX_new");
	ours = as == AS_SERVER ? k->sctx : k->cctx;
	peers = as == AS_SERVER ? k->cctx : k->sctx;
	if ((!o->no_capture && rf_tlsrec_ctx_init(ours) != 0) ||
	    (o->peer_capture && rf_tlsrec_ctx_init(peers) != 0))
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
	SSL_set_bio(k->s, k->s_in, k->s_out);
	SSL_set_bio(k->c, k->c_in, k->c_out);
	SSL_set_accept_state(k->s);
	SSL_set_connect_state(k->c);
	if (as == AS_SERVER) {
		k->us = k->s;
		k->us_in = k->s_in;
		k->peer = k->c;
		k->peer_in = k->c_in;
		k->peer_out = k->c_out;
	} else {
		k->us = k->c;
		k->us_in = k->c_in;
		k->peer = k->s;
		k->peer_in = k->s_in;
		k->peer_out = k->s_out;
	}
	k->peer_name = role_names[as == AS_SERVER ? AS_CLIENT : AS_SERVER];
}

/* Our layer will take the `as` end over, once OpenSSL has run the rest. */
static void
setup(struct conn *k, const struct opts *o, enum role as)
{
	prepare(k, o, as);
	if (handshake(k) != 0)
		die("handshake");
}

/* A test name for is_int and is_str; good until the next call. */
static __attribute__((format(printf, 1, 2))) const char *
tname(const char *fmt, ...)
{
	static char	 name[256];
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	return name;
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

/* Takes *sslp over and frees it; its BIOs go with it. */
static int
take_ssl(SSL **sslp, struct rf_tlsrec *r)
{
	int	 rv;

	if ((rv = rf_tlsrec_take(r, *sslp)) != 0)
		return rv;
	SSL_free(*sslp);
	*sslp = NULL;
	return 0;
}

/* Our end; its BIOs go with it, so k->us_in must be read before. */
static int
take(struct conn *k, struct rf_tlsrec *r)
{
	int	 rv;

	if ((rv = take_ssl(k->as == AS_SERVER ? &k->s : &k->c, r)) != 0)
		return rv;
	k->us = NULL;
	k->us_in = NULL;
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

/*
 * The OpenSSL peer sends len bytes, its records (with whatever it had
 * queued before them) taken from its output; our layer must deliver
 * exactly them.
 */
static int
peer_to_us(struct conn *k, struct rf_tlsrec *r, size_t len,
    enum split how, unsigned int seed)
{
	unsigned char	*p, *ct;
	struct sink	 s;
	size_t		 ctlen;
	int		 rv, good;

	p = pattern(len, seed);
	if (len > 0 && SSL_write(k->peer, p, (int)len) != (int)len)
		die("peer SSL_write");
	ct = drain(k->peer_out, &ctlen);
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

/* What our layer has queued goes to the peer's input. */
static void
flush_to_peer(struct conn *k, struct rf_tlsrec *r)
{
	size_t	 n = rf_buf_len(&r->out);

	if (n > 0 && BIO_write(k->peer_in, rf_buf_ptr(&r->out), (int)n) !=
	    (int)n)
		die("BIO_write");
	rf_buf_reset(&r->out);
}

/* We send len bytes; the OpenSSL peer must read exactly them. */
static int
us_to_peer(struct conn *k, struct rf_tlsrec *r, size_t len,
    unsigned int seed)
{
	struct rf_buf	 got;
	unsigned char	*p;
	int		 rv, err, good;

	p = pattern(len, seed);
	rv = rf_tlsrec_seal(r, p, len);
	flush_to_peer(k, r);
	rf_buf_init(&got, 4 * 1024 * 1024);
	err = ssl_read_all(k->peer, &got);
	good = rv == 0 && err == SSL_ERROR_WANT_READ &&
	    rf_buf_len(&got) == len && memcmp(rf_buf_ptr(&got), p, len) == 0;
	if (!good) {
		diag("seal %d, peer error %d, got %zu of %zu bytes", rv,
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
	ok(peer_to_us(k, r, 1000, SPLIT_WHOLE, 3),
	    "%s: %s's data reaches us", what, k->peer_name);
	ok(us_to_peer(k, r, 1000, 4), "%s: our data reaches the %s", what,
	    k->peer_name);
}

/*
 * Each suite, with no tickets and with OpenSSL's two, our layer the
 * server or the client: the counts taken over are the records each side
 * sent after its Finished, the server's tickets included (a client reads
 * them before its take), and data then flows both ways in every split.
 */
static void
test_suite(enum role as, int si, int tickets)
{
	static const size_t	 sizes[] = { 1, 16384, 100000, 16385 };
	const uint64_t		 nrecs = 1 + 1 + 7 + 2;	/* of sizes */
	struct opts		 o = {
		.suites = suite_names[si], .tickets = tickets
	};
	struct rf_tlsrec	 r;
	struct conn		 k;
	char			 name[128];
	uint64_t		 ours, theirs;
	size_t			 i;
	int			 how;

	snprintf(name, sizeof(name), "%s, %s, %d tickets", role_names[as],
	    suite_names[si], tickets);
	setup(&k, &o, as);
	warmup(&k, 3, 4);
	/* The server sent its tickets and 3 records, the client 4. */
	ours = as == AS_SERVER ? (uint64_t)tickets + 3 : 4;
	theirs = as == AS_SERVER ? 4 : (uint64_t)tickets + 3;
	if (as == AS_CLIENT)
		is_int(BIO_ctrl_pending(k.us_in), 0,
		    "the client read all it was sent");
	is_int(take(&k, &r), 0, tname("%s: take succeeds", name));
	is_int(r.client, as == AS_CLIENT,
	    tname("the layer is a %s's", role_names[as]));
	is_int(r.suite, suite_ids[si], "suite taken");
	is_int(r.wr.seq, ours, "write count: the records after our Finished");
	is_int(r.rd.seq, theirs, "read count: the peer's after its Finished");
	ok(r.in.d == NULL && r.out.d == NULL, "no buffer held after take");
	for (how = 0; how < SPLIT_N; how++)
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			ok(peer_to_us(&k, &r, sizes[i], (enum split)how,
			    (unsigned int)(i + how)),
			    "%s: %s sends %zu bytes, %s", name, k.peer_name,
			    sizes[i], split_names[how]);
	if (as == AS_CLIENT)
		is_int(r.rd.seq, theirs + SPLIT_N * nrecs,
		    "read count after the server's records");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		ok(us_to_peer(&k, &r, sizes[i], (unsigned int)i),
		    "%s: we send %zu bytes", name, sizes[i]);
	is_int(r.wr.seq, ours + nrecs, "write count after our records");
	check_traffic(&k, &r, name);
	rf_tlsrec_free(&r);
	teardown(&k);
}

/*
 * TLS 1.2, our layer either end: the counts restart at each
 * ChangeCipherSpec, so they include the Finished (tickets come before
 * it), and the key block has the client's keys first, so a client reads
 * with the second ones; data flows both ways in every split;
 * close_notify goes both ways; the peer's renegotiation (a client's
 * ClientHello, a server's HelloRequest) is refused.
 */
static void
test_suite12(enum role as, int si)
{
	static const size_t	 sizes[] = { 0, 1, 16384, 100000 };
	struct opts		 o = {
		.tickets = -1, .tls12 = 1, .list12 = suite12_names[si]
	};
	struct rf_tlsrec	 r;
	struct conn		 k;
	struct sink		 s;
	unsigned char		 buf[100], *ct;
	char			 name[128];
	size_t			 i, ctlen;
	int			 how;

	snprintf(name, sizeof(name), "%s, %s", role_names[as],
	    suite12_names[si]);
	setup(&k, &o, as);
	ok(SSL_version(k.us) == TLS1_2_VERSION, "%s: TLS 1.2", name);
	warmup(&k, 3, 4);
	is_int(take(&k, &r), 0, tname("%s: take succeeds", name));
	ok(r.tls12 && r.client == (as == AS_CLIENT) &&
	    r.suite == suite_ids[si], "a TLS 1.2 %s's layer, suite %d",
	    role_names[as], r.suite);
	/* Each side's Finished, then the server's 3 records, the client's 4. */
	is_int(r.wr.seq, 1 + (as == AS_SERVER ? 3 : 4),
	    "write count: Finished and our records");
	is_int(r.rd.seq, 1 + (as == AS_SERVER ? 4 : 3),
	    "read count: Finished and the peer's records");
	for (how = 0; how < SPLIT_N; how++)
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			ok(peer_to_us(&k, &r, sizes[i], (enum split)how,
			    (unsigned int)(i + how)),
			    "%s: %s sends %zu bytes, %s", name, k.peer_name,
			    sizes[i], split_names[how]);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		ok(us_to_peer(&k, &r, sizes[i], (unsigned int)i),
		    "%s: we send %zu bytes", name, sizes[i]);
	is_int(rf_tlsrec_close_notify(&r), 0, "our close_notify");
	flush_to_peer(&k, &r);
	is_int(SSL_read(k.peer, buf, sizeof(buf)), 0,
	    tname("the %s reads it", k.peer_name));
	is_int(SSL_get_error(k.peer, 0), SSL_ERROR_ZERO_RETURN,
	    "  ... as close_notify");
	SSL_shutdown(k.peer);
	ct = drain(k.peer_out, &ctlen);
	sink_init(&s);
	/* Whole on one end, a byte at a time on the other. */
	is_int(feed(&r, ct, ctlen, as == AS_SERVER ? SPLIT_WHOLE : SPLIT_BYTE,
	    &s), RF_ERR_EOF,
	    tname("the %s's close_notify: RF_ERR_EOF", k.peer_name));
	rf_buf_free(&s.b);
	free(ct);
	rf_tlsrec_free(&r);
	teardown(&k);

	setup(&k, &o, as);
	warmup(&k, 1, 1);
	is_int(take(&k, &r), 0, tname("%s: take succeeds", name));
	if (SSL_renegotiate(k.peer) != 1)
		die("SSL_renegotiate");
	SSL_do_handshake(k.peer);
	ct = drain(k.peer_out, &ctlen);
	sink_init(&s);
	is_int(feed(&r, ct, ctlen, SPLIT_WHOLE, &s), RF_ERR_PROTO,
	    tname("the %s's renegotiation: RF_ERR_PROTO", k.peer_name));
	ok(r.why != NULL && strstr(r.why, "renegotiation") != NULL,
	    "why: %s", r.why ? r.why : "NULL");
	rf_buf_free(&s.b);
	free(ct);
	rf_tlsrec_free(&r);
	teardown(&k);
}

/*
 * The peer's KeyUpdates after the take: our read key moves on; when the
 * peer asks, our KeyUpdate goes out first and our write key moves on.
 * Our layer cannot start one (no API), so that way is not tested.  The
 * peer's data after its first KeyUpdate is split as how[0], after its
 * second as how[1], after ours as how[2].
 */
static void
test_key_update(enum role as, const enum split how[3])
{
	struct opts		 o = { .tickets = -1 };
	struct rf_tlsrec	 r;
	struct conn		 k;
	const char		*peer;
	char			 what[64];
	uint64_t		 rgen, wgen;

	setup(&k, &o, as);
	peer = k.peer_name;
	warmup(&k, 1, 1);
	is_int(take(&k, &r), 0, tname("%s take for KeyUpdate",
	    role_names[as]));
	rgen = r.rd.gen;
	wgen = r.wr.gen;

	ok(SSL_key_update(k.peer, SSL_KEY_UPDATE_NOT_REQUESTED) == 1,
	    "%s KeyUpdate(update_not_requested)", peer);
	ok(peer_to_us(&k, &r, 5000, how[0], 1),
	    "data after the %s's KeyUpdate is read, %s", peer,
	    split_names[how[0]]);
	ok(r.rd.gen != rgen && r.rd.seq == 1, "read key moved on");
	ok(r.wr.gen == wgen && rf_buf_len(&r.out) == 0,
	    "write key kept, nothing queued");
	ok(us_to_peer(&k, &r, 3000, 2), "our old write key still good");

	rgen = r.rd.gen;
	ok(SSL_key_update(k.peer, SSL_KEY_UPDATE_REQUESTED) == 1,
	    "%s KeyUpdate(update_requested)", peer);
	ok(peer_to_us(&k, &r, 70000, how[1], 2),
	    "data after the requested KeyUpdate is read, %s",
	    split_names[how[1]]);
	if (as == AS_CLIENT)
		ok(r.rd.gen != rgen && r.rd.seq == 5,
		    "read key moved on, 5 records read under it");
	is_int(rf_buf_len(&r.out), 5 + 5 + 1 + 16, "our KeyUpdate is queued");
	ok(r.wr.gen != wgen && r.wr.seq == 0, "write key moved on");
	ok(us_to_peer(&k, &r, 40000, 3),
	    "the %s reads our KeyUpdate and data under the new key",
	    peer);
	ok(peer_to_us(&k, &r, 100, how[2], 4),
	    "the %s writes after our KeyUpdate, %s", peer, split_names[how[2]]);

	/* Two requested updates in a row, each with data behind it. */
	if (as == AS_SERVER) {
		ok(SSL_key_update(k.peer, SSL_KEY_UPDATE_REQUESTED) == 1,
		    "the %s sends a KeyUpdate", peer);
		ok(peer_to_us(&k, &r, 3, SPLIT_BYTE, 7), "and data");
		ok(SSL_key_update(k.peer, SSL_KEY_UPDATE_REQUESTED) == 1,
		    "and another before it has our answer");
		ok(peer_to_us(&k, &r, 20000, SPLIT_PLUS1, 5),
		    "data after two KeyUpdates is read");
		is_int(rf_buf_len(&r.out), 2 * 27,
		    "two KeyUpdates of ours queued");
		ok(us_to_peer(&k, &r, 20000, 6),
		    "the %s follows both our updates", peer);
	}
	snprintf(what, sizeof(what), "%s, after KeyUpdates", role_names[as]);
	check_traffic(&k, &r, what);
	rf_tlsrec_free(&r);
	teardown(&k);
}

static void
test_padding(void)
{
	struct opts		 o = { .tickets = -1, .padding = 256 };
	struct rf_tlsrec	 r;
	struct conn		 k;

	setup(&k, &o, AS_SERVER);
	warmup(&k, 2, 2);
	is_int(take(&k, &r), 0, "take with a padding client");
	ok(peer_to_us(&k, &r, 1, SPLIT_WHOLE, 1), "padded 1 byte");
	ok(peer_to_us(&k, &r, 300, SPLIT_BYTE, 2), "padded 300 bytes");
	ok(peer_to_us(&k, &r, 100000, SPLIT_HEADER, 3),
	    "padded 100000 bytes");
	check_traffic(&k, &r, "padding");
	rf_tlsrec_free(&r);
	teardown(&k);
}

static void
test_shutdown(void)
{
	struct opts		 o = { .tickets = -1 };
	struct rf_tlsrec	 r;
	struct rf_buf		 got;
	struct conn		 k;
	struct sink		 s;
	unsigned char		*ct;
	size_t			 ctlen;
	int			 rv;

	/* The client closes. */
	setup(&k, &o, AS_SERVER);
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
	ok(us_to_peer(&k, &r, 10, 1), "we may still write (half-close)");
	rf_buf_free(&s.b);
	free(ct);
	rf_tlsrec_free(&r);
	teardown(&k);

	/* We close. */
	setup(&k, &o, AS_SERVER);
	warmup(&k, 1, 1);
	is_int(take(&k, &r), 0, "take for our close");
	is_int(rf_tlsrec_seal(&r, "bye", 3), 0, "seal before close");
	is_int(rf_tlsrec_close_notify(&r), 0, "close_notify queued");
	is_int(rf_tlsrec_seal(&r, "x", 1), RF_ERR_INVAL,
	    "no sealing after close_notify");
	is_int(rf_tlsrec_close_notify(&r), RF_ERR_INVAL,
	    "no second close_notify");
	flush_to_peer(&k, &r);
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
	struct opts		 o = { .tickets = -1 };
	struct rf_tlsrec	 r;
	struct conn		 k;
	unsigned char		*ct;
	const char		*why;
	size_t			 ctlen;

	setup(&k, &o, AS_SERVER);
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

/*
 * Read ahead: a second record of the peer's waits inside OpenSSL at the
 * take, in TLS 1.3 or 1.2.
 */
static void
take_read_ahead(enum role as, int tls12)
{
	struct opts		 o = { .tickets = -1, .tls12 = tls12 };
	struct rf_tlsrec	 r;
	unsigned char		 buf[100];
	struct conn		 k;
	char			 what[64];
	uint64_t		 before;

	snprintf(what, sizeof(what), "%s%s, after read ahead",
	    role_names[as], tls12 ? ", TLS 1.2" : "");
	/* Read before these two: warmup's 1 and the Finished, or tickets. */
	before = 1 + (tls12 ? 1 : as == AS_CLIENT ? 2 : 0);
	setup(&k, &o, as);
	warmup(&k, 1, 1);
	SSL_set_read_ahead(k.us, 1);
	SSL_write(k.peer, "hello", 5);
	SSL_write(k.peer, "world", 5);
	move(k.peer_out, k.us_in);
	is_int(SSL_read(k.us, buf, 3), 3,
	    tname("%s reads part of a record", role_names[as]));
	is_int(rf_tlsrec_take(&r, k.us), RF_ERR_AGAIN,
	    "bytes of a record unread: RF_ERR_AGAIN");
	rf_tlsrec_free(&r);
	is_int(SSL_read(k.us, buf, sizeof(buf)), 2,
	    tname("%s reads the rest", role_names[as]));
	is_int(rf_tlsrec_take(&r, k.us), RF_ERR_AGAIN,
	    "a read-ahead record buffered: RF_ERR_AGAIN");
	rf_tlsrec_free(&r);
	is_int(SSL_read(k.us, buf, sizeof(buf)), 5,
	    tname("%s reads it", role_names[as]));
	is_int(take(&k, &r), 0, "then take succeeds");
	is_int(r.rd.seq, before + 2, "and counts the records read");
	check_traffic(&k, &r, what);
	rf_tlsrec_free(&r);
	teardown(&k);
}

/*
 * Refusals of take on either end, and that RF_ERR_AGAIN is not for good:
 * a CBC suite, a handshake not finished, a record read ahead, KeyUpdates
 * and a close_notify that OpenSSL has seen.
 */
static void
test_take_refusals(enum role as)
{
	struct opts		 o = { .tickets = -1 };
	struct rf_tlsrec	 r;
	unsigned char		 buf[100];
	struct conn		 k;
	const char		*us = role_names[as];
	int			 n;

	o.tls12 = 1;
	o.list12 = "ECDHE-ECDSA-AES128-SHA256";
	setup(&k, &o, as);
	warmup(&k, 1, 1);
	is_int(rf_tlsrec_take(&r, k.us), RF_ERR_INVAL,
	    tname("%s on a TLS 1.2 CBC suite refused", us));
	is_str(r.why, "cipher suite not supported", "why says so");
	rf_tlsrec_free(&r);
	teardown(&k);
	o.list12 = NULL;
	o.tls12 = 0;

	/* Our end has sent its first flight, no more. */
	prepare(&k, &o, as);
	SSL_do_handshake(k.c);
	if (as == AS_SERVER) {
		move(k.c_out, k.s_in);
		SSL_do_handshake(k.s);
	}
	is_int(rf_tlsrec_take(&r, k.us), RF_ERR_AGAIN,
	    tname("%s during the handshake: RF_ERR_AGAIN", us));
	rf_tlsrec_free(&r);
	teardown(&k);

	take_read_ahead(as, 0);

	/* KeyUpdates while OpenSSL ran the connection, either way. */
	setup(&k, &o, as);
	warmup(&k, 1, 1);
	SSL_key_update(k.peer, SSL_KEY_UPDATE_NOT_REQUESTED);
	warmup(&k, as == AS_CLIENT, as == AS_SERVER);	/* a peer's record */
	is_int(rf_tlsrec_take(&r, k.us), RF_ERR_INVAL,
	    tname("%s KeyUpdate read by the %s: RF_ERR_INVAL", k.peer_name,
	    us));
	ok(r.why != NULL && strstr(r.why, "KeyUpdate") != NULL,
	    "why: %s", r.why ? r.why : "NULL");
	rf_tlsrec_free(&r);
	teardown(&k);

	setup(&k, &o, as);
	warmup(&k, 1, 1);
	SSL_key_update(k.us, SSL_KEY_UPDATE_NOT_REQUESTED);
	warmup(&k, as == AS_SERVER, as == AS_CLIENT);	/* one of ours */
	is_int(rf_tlsrec_take(&r, k.us), RF_ERR_INVAL,
	    tname("the %s's own KeyUpdate: RF_ERR_INVAL", us));
	rf_tlsrec_free(&r);
	teardown(&k);

	/* The peer's close_notify already read by OpenSSL. */
	setup(&k, &o, as);
	warmup(&k, 1, 1);
	SSL_shutdown(k.peer);
	move(k.peer_out, k.us_in);
	n = SSL_read(k.us, buf, sizeof(buf));
	if (as == AS_CLIENT)
		is_int(n, 0, "client reads the server's close_notify");
	is_int(rf_tlsrec_take(&r, k.us), RF_ERR_INVAL,
	    tname("%s: a closing connection: RF_ERR_INVAL", us));
	if (as == AS_CLIENT)
		is_str(r.why, "connection closing", "why says so");
	rf_tlsrec_free(&r);
	teardown(&k);
}

/*
 * A record whose header OpenSSL has read but not its body: it counted
 * the record and holds the header, yet has nothing pending
 * (SSL_has_pending is 0).  In TLS 1.3 or 1.2.
 */
static void
take_half_record(int tls12)
{
	struct opts		 o = { .tickets = -1, .tls12 = tls12 };
	struct rf_tlsrec	 r;
	unsigned char		 buf[100], *ct;
	struct conn		 k;
	size_t			 ctlen;

	setup(&k, &o, AS_SERVER);
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

/* Refusals of take that are tested with our layer as the server only. */
static void
test_server_take_refusals(void)
{
	struct opts		 o = { .tickets = -1 };
	struct rf_tlsrec	 r;
	unsigned char		 buf[100], *ct;
	struct conn		 k;
	size_t			 ctlen;

	o.no_capture = 1;
	setup(&k, &o, AS_SERVER);
	is_int(rf_tlsrec_take(&r, k.s), RF_ERR_INVAL,
	    "no capture callbacks: refused");
	rf_tlsrec_free(&r);
	teardown(&k);
	o.no_capture = 0;

	o.suites = "TLS_AES_128_CCM_SHA256";
	setup(&k, &o, AS_SERVER);
	is_int(rf_tlsrec_take(&r, k.s), RF_ERR_INVAL, "CCM suite refused");
	rf_tlsrec_free(&r);
	teardown(&k);
	o.suites = NULL;

	take_read_ahead(AS_SERVER, 1);
	take_half_record(0);
	take_half_record(1);

	/* Part of a header. */
	setup(&k, &o, AS_SERVER);
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

/*
 * A layer with the fixed keys, a server's or a client's; a client reads
 * with the server's secret.
 */
static void
fixed_layer(struct rf_tlsrec *r, int client)
{
	if (rf_tlsrec_init_keys(r, RF_TLSREC_AES_128_GCM_SHA256,
	    client ? ss_fixed : cs_fixed, client ? cs_fixed : ss_fixed) != 0)
		die("init_keys");
	r->client = client;
}

/* One crafted record, at r's read key and count, fed whole to r. */
static int
open_crafted(struct rf_tlsrec *r, const void *inner, size_t ilen,
    struct sink *s)
{
	unsigned char	*rec;
	size_t		 n;
	int		 rv;

	rec = pattern(ilen + 21, 0);
	n = craft(r, r->rd.seq, 23, inner, ilen, rec);
	rv = rf_tlsrec_open(r, rec, n, sink_rx, s);
	free(rec);
	return rv;
}

/* A server's layer with the fixed keys, fed one crafted record. */
static int
crafted(const void *inner, size_t ilen, struct sink *s,
    const char **why)
{
	struct rf_tlsrec	 r;
	int			 rv;

	fixed_layer(&r, 0);
	sink_init(s);
	rv = open_crafted(&r, inner, ilen, s);
	*why = r.why;
	rf_tlsrec_free(&r);
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
	struct opts		 o = { .tickets = -1 };
	struct rf_tlsrec	 r[2];
	struct conn		 k[2];
	int			 i, j, good = 1;

	for (i = 0; i < 2; i++) {
		o.suites = suite_names[i * 2];
		setup(&k[i], &o, AS_SERVER);
		warmup(&k[i], i + 1, i + 2);
		if (take(&k[i], &r[i]) != 0)
			die("take");
	}
	for (j = 0; j < 10; j++)
		for (i = 0; i < 2; i++)
			if (!peer_to_us(&k[i], &r[i], 100 + (size_t)j,
			    SPLIT_WHOLE, (unsigned int)j) ||
			    !us_to_peer(&k[i], &r[i], 200 + (size_t)j,
			    (unsigned int)j))
				good = 0;
	ok(good, "two connections alternate on the shared contexts");
	for (i = 0; i < 2; i++) {
		rf_tlsrec_free(&r[i]);
		teardown(&k[i]);
	}
}

/*
 * The agent takes over as soon as the handshake is done, before the
 * server's tickets have come: they are the first records our layer
 * reads, and are dropped.
 */
static void
test_client_late_tickets(void)
{
	struct opts		 o = { .tickets = 2 };
	struct rf_tlsrec	 r;
	struct conn		 k;
	struct sink		 s;
	unsigned char		*tickets, *data, *ct, *p;
	size_t			 tlen, dlen, ctlen;
	int			 how, rv;

	for (how = 0; how < SPLIT_N; how++) {
		setup(&k, &o, AS_CLIENT);
		/* The tickets are in the client's input, not yet read. */
		tickets = drain(k.c_in, &tlen);
		ok(tlen > 0, "two tickets on their way (%zu bytes)", tlen);
		is_int(take(&k, &r), 0,
		    "client take before the tickets are read");
		ok(r.rd.seq == 0 && r.wr.seq == 0, "nothing counted yet");
		p = pattern(3000, (unsigned int)how);
		if (SSL_write(k.s, p, 3000) != 3000)
			die("server SSL_write");
		data = drain(k.s_out, &dlen);
		ct = pattern(tlen + dlen, 0);
		memcpy(ct, tickets, tlen);
		memcpy(ct + tlen, data, dlen);
		ctlen = tlen + dlen;
		sink_init(&s);
		rv = feed(&r, ct, ctlen, (enum split)how, &s);
		is_int(rv, 0, "tickets then data: 0");
		ok(rf_buf_len(&s.b) == 3000 &&
		    memcmp(rf_buf_ptr(&s.b), p, 3000) == 0 && s.calls == 1,
		    "tickets dropped, data delivered, %s", split_names[how]);
		is_int(r.rd.seq, 2 + 1, "read count: 2 tickets and 1 record");
		ok(r.out.d == NULL && r.in.d == NULL,
		    "nothing queued for the server, no buffer held");
		check_traffic(&k, &r, "late tickets");
		rf_buf_free(&s.b);
		free(ct);
		free(data);
		free(tickets);
		free(p);
		rf_tlsrec_free(&r);
		teardown(&k);
	}
}

/* A ticket the server sends after the take (SSL_new_session_ticket). */
static void
test_client_ticket_after(void)
{
	struct opts		 o = { .tickets = -1 };
	struct rf_tlsrec	 r;
	struct conn		 k;
	uint64_t		 rgen, seq;
	int			 how;

	for (how = 0; how < SPLIT_N; how++) {
		setup(&k, &o, AS_CLIENT);
		warmup(&k, 1, 1);
		is_int(take(&k, &r), 0, "client take");
		rgen = r.rd.gen;
		seq = r.rd.seq;
		ok(SSL_new_session_ticket(k.s) == 1 &&
		    SSL_new_session_ticket(k.s) == 1,
		    "the server makes two more tickets");
		/* OpenSSL 3.0 sends them at its next handshake call. */
		ok(SSL_do_handshake(k.s) == 1, "and sends them");
		ok(BIO_ctrl_pending(k.s_out) > 0, "  ... they are on the wire");
		ok(peer_to_us(&k, &r, 20000, (enum split)how,
		    (unsigned int)how),
		    "tickets dropped and data read, %s", split_names[how]);
		is_int(r.rd.seq, seq + 2 + 2,
		    "read count: 2 tickets and 2 records");
		ok(r.rd.gen == rgen && rf_buf_len(&r.out) == 0,
		    "read key kept, nothing queued");
		ok(us_to_peer(&k, &r, 5000, (unsigned int)how),
		    "our data still reaches the server");
		rf_tlsrec_free(&r);
		teardown(&k);
	}
}

/*
 * Both ends taken over, in TLS 1.3 and 1.2: our client's layer and our
 * server's talk to each other, so each direction's keys and counts must
 * agree with the other end's.
 */
static void
test_both_ends(int tls12)
{
	struct opts		 o = { .tickets = 2 };
	struct rf_tlsrec	 rs, rc, *from, *to;
	struct conn		 k;
	struct sink		 s;
	unsigned char		*p;
	const char		*what = tls12 ? "TLS 1.2" : "TLS 1.3";
	size_t			 len;
	int			 i, good = 1;

	o.tls12 = tls12;
	o.list12 = tls12 ? suite12_names[2] : NULL;
	o.peer_capture = 1;
	setup(&k, &o, AS_SERVER);
	warmup(&k, 2, 3);
	is_int(take_ssl(&k.s, &rs), 0, "both ends: server take");
	is_int(take_ssl(&k.c, &rc), 0, "both ends: client take");
	ok(!rs.client && rc.client && rs.tls12 == tls12 &&
	    rc.tls12 == tls12, "%s: one server, one client", what);
	ok(rs.rd.seq == rc.wr.seq && rs.wr.seq == rc.rd.seq,
	    "%s: the counts match (%llu, %llu)", what,
	    (unsigned long long)rs.rd.seq, (unsigned long long)rs.wr.seq);
	/* Each way in turn, 0 to 35000 bytes. */
	for (i = 0; i < 6; i++) {
		from = i % 2 ? &rs : &rc;
		to = i % 2 ? &rc : &rs;
		len = 7000 * (size_t)i;
		p = pattern(len, (unsigned int)i);
		sink_init(&s);
		if (rf_tlsrec_seal(from, p, len) != 0 ||
		    feed(to, rf_buf_ptr(&from->out), rf_buf_len(&from->out),
		    SPLIT_RANDOM, &s) != 0 || rf_buf_len(&s.b) != len ||
		    (len > 0 && memcmp(rf_buf_ptr(&s.b), p, len) != 0))
			good = 0;
		rf_buf_reset(&from->out);
		rf_buf_free(&s.b);
		free(p);
	}
	ok(good, "%s: our two layers talk to each other", what);
	rf_tlsrec_free(&rs);
	rf_tlsrec_free(&rc);
	teardown(&k);
}

/*
 * A HelloRetryRequest (the client's key share is for a group the server
 * does not take) adds a ServerHello and moves the ChangeCipherSpecs;
 * the counts still restart at each Finished, on either end.
 */
static void
test_hello_retry(enum role as)
{
	/* §4.1.3: an HRR is a ServerHello with this random. */
	static const unsigned char	 hrr_random[] = {
		0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11 };
	struct opts			 o = { .tickets = -1 };
	struct rf_tlsrec		 r;
	struct conn			 k;
	unsigned char			*ct;
	char				 what[64];
	size_t				 ctlen;

	snprintf(what, sizeof(what), "%s after HRR", role_names[as]);
	prepare(&k, &o, as);
	if (SSL_set1_groups_list(k.s, "P-256") != 1 ||
	    SSL_set1_groups_list(k.c, "X25519:P-256") != 1)
		die("groups");
	SSL_do_handshake(k.c);
	move(k.c_out, k.s_in);
	SSL_do_handshake(k.s);
	ct = drain(k.s_out, &ctlen);
	/* Record header, handshake header, legacy_version, random. */
	ok(ctlen > 11 + sizeof(hrr_random) &&
	    memcmp(ct + 11, hrr_random, sizeof(hrr_random)) == 0,
	    "%s: the server asked for another ClientHello", what);
	if (BIO_write(k.c_in, ct, (int)ctlen) != (int)ctlen)
		die("BIO_write");
	free(ct);
	if (handshake(&k) != 0)
		die("handshake");
	warmup(&k, 2, 3);
	is_int(take(&k, &r), 0, tname("%s take after an HRR", role_names[as]));
	/* The server sent its 2 tickets and 2 records, the client 3. */
	ok(r.rd.seq == (as == AS_SERVER ? 3 : 2 + 2) &&
	    r.wr.seq == (as == AS_SERVER ? 2 + 2 : 3),
	    "counts: %llu read, %llu written",
	    (unsigned long long)r.rd.seq, (unsigned long long)r.wr.seq);
	check_traffic(&k, &r, what);
	rf_tlsrec_free(&r);
	teardown(&k);
}

/* Refusals of take that are tested with our layer as the client only. */
static void
test_client_take_refusals(void)
{
	struct opts		 o = { .tickets = -1 };
	struct rf_tlsrec	 r;
	unsigned char		 buf[100], *ct;
	struct conn		 k;
	size_t			 ctlen;

	/* The capture on the server's SSL_CTX only. */
	o.no_capture = 1;
	o.peer_capture = 1;
	setup(&k, &o, AS_CLIENT);
	warmup(&k, 1, 1);
	is_int(rf_tlsrec_take(&r, k.c), RF_ERR_INVAL,
	    "client whose SSL_CTX has no capture: RF_ERR_INVAL");
	is_str(r.why, "no capture", "why says so");
	rf_tlsrec_free(&r);
	is_int(take_ssl(&k.s, &r), 0, "the server's take of it is fine");
	rf_tlsrec_free(&r);
	teardown(&k);
	o.no_capture = 0;
	o.peer_capture = 0;

	/* The server's tickets arriving: a header read, not its body. */
	setup(&k, &o, AS_CLIENT);
	ct = drain(k.c_in, &ctlen);
	BIO_write(k.c_in, ct, 5);
	is_int(SSL_read(k.c, buf, sizeof(buf)), -1,
	    "client has a ticket's header");
	is_int(rf_tlsrec_take(&r, k.c), RF_ERR_AGAIN,
	    "a ticket half read: RF_ERR_AGAIN");
	rf_tlsrec_free(&r);
	BIO_write(k.c_in, ct + 5, (int)ctlen - 5);
	is_int(ssl_read_all(k.c, NULL), SSL_ERROR_WANT_READ,
	    "client reads the tickets");
	is_int(take(&k, &r), 0, "then take succeeds");
	is_int(r.rd.seq, 2, "and counts the two tickets");
	check_traffic(&k, &r, "client, after a half-read ticket");
	free(ct);
	rf_tlsrec_free(&r);
	teardown(&k);
}

/* Whether a and b have the same read key, secret and IV. */
static int
same_read_key(const struct rf_tlsrec *a, const struct rf_tlsrec *b)
{
	return memcmp(a->rd.secret, b->rd.secret, sizeof(a->rd.secret)) == 0 &&
	    memcmp(a->rd.key, b->rd.key, sizeof(a->rd.key)) == 0 &&
	    memcmp(a->rd.iv, b->rd.iv, sizeof(a->rd.iv)) == 0;
}

/* The handshake messages a server may send a client after the handshake. */
#define NST		4, 0, 0, 13, 0, 0, 0, 60, 1, 2, 3, 4, 0, 0, 1, 7, 0
#define KU(req)		24, 0, 0, 1, req

/*
 * Handshake records made by hand for a client's layer: tickets in any
 * number are dropped, a KeyUpdate may follow them in their record but
 * must end it, a message must be whole in its record, and any other
 * message is refused.  A server's layer still refuses tickets and
 * coalesced messages.
 */
static void
test_client_inner(void)
{
	static const unsigned char	 nst1[] = { NST, 22 };
	static const unsigned char	 nst2[] = { NST, NST, 22, 0, 0, 0 };
	static const unsigned char	 nst_ku[] = { NST, KU(0), 22 };
	static const unsigned char	 nst_ku_req[] = {
		NST, NST, KU(1), 22 };
	static const unsigned char	 ku_alone[] = { KU(0), 22 };
	static const unsigned char	 ku_nst[] = { KU(0), NST, 22 };
	static const unsigned char	 ku_ku[] = { KU(0), KU(0), 22 };
	static const unsigned char	 nst_long[] = {
		4, 0, 0, 20, 0, 0, 0, 60, 1, 22 };
	static const unsigned char	 nst_nst_long[] = {
		NST, 4, 0, 0, 14, 0, 0, 0, 60, 1, 2, 3, 4, 0, 0, 1, 7, 0, 22 };
	static const unsigned char	 hs_head[] = { 4, 0, 22 };
	static const unsigned char	 nst_head[] = { NST, 24, 0, 0, 22 };
	static const unsigned char	 ku_short[] = {
		NST, 24, 0, 0, 1, 22 };
	static const unsigned char	 certreq[] = {
		13, 0, 0, 4, 0, 0, 0, 0, 22 };
	static const unsigned char	 nst_certreq[] = {
		NST, 13, 0, 0, 4, 0, 0, 0, 0, 22 };
	static const unsigned char	 nst_ku_bad[] = { NST, KU(2), 22 };
	static const unsigned char	 hs_empty[] = { 22, 0, 0 };
	static const char *const	 after_ku =
	    "a message after KeyUpdate in its record (unexpected_message)";
	static const char *const	 unexpected =
	    "handshake message after the handshake (unexpected_message)";
	static const char *const	 split =
	    "handshake message split across records";
	static const struct {
		const unsigned char	*inner;
		size_t			 len;
		int			 client, want;
		const char		*what, *why;
	} cases[] = {
#define C(a)	a, sizeof(a)
		{ C(ku_nst), 1, RF_ERR_PROTO,
		  "client: KeyUpdate then NewSessionTicket", after_ku },
		{ C(ku_ku), 1, RF_ERR_PROTO, "client: two KeyUpdates",
		  after_ku },
		{ C(nst_long), 1, RF_ERR_PROTO,
		  "client: NewSessionTicket longer than its record",
		  "NewSessionTicket split across records" },
		{ C(nst_nst_long), 1, RF_ERR_PROTO,
		  "client: a ticket, then one a byte too long",
		  "NewSessionTicket split across records" },
		{ C(hs_head), 1, RF_ERR_PROTO,
		  "client: half a handshake header", split },
		{ C(nst_head), 1, RF_ERR_PROTO,
		  "client: a ticket, then half a header", split },
		{ C(ku_short), 1, RF_ERR_PROTO,
		  "client: a ticket, then a KeyUpdate without its body",
		  split },
		{ C(certreq), 1, RF_ERR_PROTO, "client: CertificateRequest",
		  unexpected },
		{ C(nst_certreq), 1, RF_ERR_PROTO,
		  "client: a ticket, then CertificateRequest", unexpected },
		{ C(nst_ku_bad), 1, RF_ERR_PROTO,
		  "client: a ticket, then request_update 2",
		  "KeyUpdate with a bad request_update (illegal_parameter)" },
		{ C(hs_empty), 1, RF_ERR_PROTO,
		  "client: an empty handshake record", split },
		{ C(nst1), 0, RF_ERR_PROTO,
		  "server: NewSessionTicket from the client", unexpected },
		{ C(nst_ku), 0, RF_ERR_PROTO,
		  "server: NewSessionTicket then KeyUpdate", unexpected },
		{ C(ku_nst), 0, RF_ERR_PROTO,
		  "server: KeyUpdate then NewSessionTicket",
		  "handshake messages coalesced in one record" },
#undef C
	};
	struct rf_tlsrec		 r, ref, peer;
	struct sink			 s;
	uint64_t			 rgen, wgen;
	size_t				 i;

	/* Tickets alone: dropped, nothing changes but the count. */
	fixed_layer(&r, 1);
	sink_init(&s);
	rgen = r.rd.gen;
	is_int(open_crafted(&r, nst1, sizeof(nst1), &s), 0,
	    "client: a NewSessionTicket is dropped");
	is_int(open_crafted(&r, nst2, sizeof(nst2), &s), 0,
	    "client: two in one padded record too");
	ok(s.calls == 0 && r.rd.gen == rgen && r.rd.seq == 2 &&
	    r.out.d == NULL && !r.done,
	    "nothing delivered or queued, read key kept");
	is_int(open_crafted(&r, "after\x17", 6, &s), 0, "then data");
	ok(rf_buf_len(&s.b) == 5 && memcmp(rf_buf_ptr(&s.b), "after", 5) == 0,
	    "  ... delivered");
	rf_buf_free(&s.b);
	rf_tlsrec_free(&r);

	/* A ticket, then a KeyUpdate: the read key moves as for one alone. */
	fixed_layer(&ref, 1);
	sink_init(&s);
	if (open_crafted(&ref, ku_alone, sizeof(ku_alone), &s) != 0)
		die("lone KeyUpdate");
	fixed_layer(&r, 1);
	rgen = r.rd.gen;
	wgen = r.wr.gen;
	is_int(open_crafted(&r, nst_ku, sizeof(nst_ku), &s), 0,
	    "client: NewSessionTicket then KeyUpdate in one record");
	ok(r.rd.gen != rgen && r.rd.seq == 0 && same_read_key(&r, &ref),
	    "the read key moved on, as for a lone KeyUpdate");
	ok(r.wr.gen == wgen && r.out.d == NULL && s.calls == 0,
	    "write key kept, nothing queued or delivered");
	is_int(open_crafted(&r, "new key\x17", 8, &s), 0,
	    "data under the new key");
	ok(rf_buf_len(&s.b) == 7, "  ... delivered");
	rf_buf_free(&s.b);
	rf_tlsrec_free(&r);
	rf_tlsrec_free(&ref);

	/*
	 * Two tickets and a requested KeyUpdate: ours is queued, and a
	 * server's layer (the other end) follows it.
	 */
	fixed_layer(&r, 1);
	fixed_layer(&peer, 0);
	sink_init(&s);
	wgen = r.wr.gen;
	is_int(open_crafted(&r, nst_ku_req, sizeof(nst_ku_req), &s), 0,
	    "client: two tickets then KeyUpdate(update_requested)");
	is_int(rf_buf_len(&r.out), 5 + 5 + 1 + 16, "our KeyUpdate is queued");
	ok(r.wr.gen != wgen && r.wr.seq == 0, "write key moved on");
	is_int(rf_tlsrec_seal(&r, "hi", 2), 0, "seal under the new key");
	is_int(rf_tlsrec_open(&peer, rf_buf_ptr(&r.out), rf_buf_len(&r.out),
	    sink_rx, &s), 0, "the other end reads our KeyUpdate and data");
	ok(rf_buf_len(&s.b) == 2 && memcmp(rf_buf_ptr(&s.b), "hi", 2) == 0 &&
	    peer.rd.seq == 1 && rf_buf_len(&peer.out) == 0,
	    "  ... under our new key, with nothing to answer");
	rf_buf_free(&s.b);
	rf_tlsrec_free(&r);
	rf_tlsrec_free(&peer);

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fixed_layer(&r, cases[i].client);
		sink_init(&s);
		rgen = r.rd.gen;
		is_int(open_crafted(&r, cases[i].inner, cases[i].len, &s),
		    cases[i].want, cases[i].what);
		is_str(r.why, cases[i].why, "  ... why says so");
		ok(r.done && s.calls == 0 && r.rd.gen == rgen &&
		    r.out.d == NULL,
		    "  ... done, read key kept, nothing queued or delivered");
		rf_buf_free(&s.b);
		rf_tlsrec_free(&r);
	}
}

int
main(void)
{
	/* The splits of the data after the KeyUpdates, our layer a server. */
	static const enum split	 mixed[3] = {
		SPLIT_BYTE, SPLIT_RANDOM, SPLIT_WHOLE
	};
	enum split		 same[3];
	enum role		 as;
	size_t			 i;
	int			 how;

	make_cert();
	for (as = AS_SERVER; as <= AS_CLIENT; as++) {
		for (i = 0; i < 3; i++) {
			test_suite(as, (int)i, 0);
			test_suite(as, (int)i, 2);
			test_suite12(as, (int)i);
		}
		test_take_refusals(as);
		test_hello_retry(as);
	}

	/* Our layer the server (reflectord's case). */
	test_key_update(AS_SERVER, mixed);
	test_padding();
	test_shutdown();
	test_tamper();
	test_server_take_refusals();
	test_inner();
	test_limits();
	test_two_connections();

	/* Our layer the client (the agent's): the server's tickets, too. */
	for (how = 0; how < SPLIT_N; how++) {
		same[0] = same[1] = same[2] = (enum split)how;
		test_key_update(AS_CLIENT, same);
	}
	test_client_late_tickets();
	test_client_ticket_after();
	test_client_take_refusals();
	test_client_inner();

	test_both_ends(0);
	test_both_ends(1);
	EVP_PKEY_free(test_key);
	X509_free(test_cert);
	return done_testing();
}
