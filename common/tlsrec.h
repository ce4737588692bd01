/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A TLS 1.3 record layer (RFC 8446 §5, §4.6.3, §6, §7.1-§7.3), and its
 * TLS 1.2 AEAD counterpart (RFC 5246 §6.2.3.3, RFC 5288, RFC 7905), for a
 * connection whose handshake OpenSSL did: once the connection is
 * established and quiet, its traffic secrets and record counts are taken
 * from OpenSSL and the SSL is freed.  An OpenSSL 3.0 SSL holds about
 * 12 KB per connection that no API frees while it is open (the SSL
 * itself 7.6 KB, cipher contexts, the session, a copy of the
 * certificate); a record layer needs the two traffic secrets, the keys
 * and IVs derived from them and two sequence numbers, about 200 bytes.
 * Device tunnels are idle nearly all the time, and there are thousands.
 *
 * Capture.  rf_tlsrec_ctx_init installs, on an SSL_CTX (a worker's, or
 * the agent's for its tunnel, where we are the client), a keylog
 * callback (which gives the application traffic secrets,
 * CLIENT_TRAFFIC_SECRET_0 and SERVER_TRAFFIC_SECRET_0) and a message
 * callback (which sees every record header read and written, and every
 * handshake message).  In TLS 1.3 record counts restart at each side's
 * Finished: the records after it are the first under the application
 * keys.  In TLS 1.2 they restart at each side's ChangeCipherSpec, and the
 * keys come from the session's master secret and the two randoms (the
 * key expansion of RFC 5246 §6.3).  A KeyUpdate seen while OpenSSL
 * still runs the connection makes the capture unusable (its secrets
 * moved on), as does a renegotiation or anything else the callbacks
 * cannot follow; rf_tlsrec_take then refuses.  The capture
 * lives in the SSL's ex_data and is freed with the SSL.
 *
 * Taking over.  rf_tlsrec_take succeeds only for TLS 1.3 with
 * TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384 or
 * TLS_CHACHA20_POLY1305_SHA256, or TLS 1.2 with a suite of the same AEAD
 * and PRF hash (ECDHE-RSA-AES128-GCM-SHA256 and the like; not CBC, not
 * CCM), a complete capture, no handshake in
 * progress and nothing buffered in OpenSSL (SSL_has_pending): the caller
 * also makes sure OpenSSL holds no record it has not written (after a
 * write that OpenSSL took whole, it holds none).  Afterwards the caller
 * frees the SSL without a shutdown, and the socket carries on with the
 * same bytes as if OpenSSL were still there.
 *
 * Reading.  rf_tlsrec_open takes ciphertext as it came off the socket
 * and gives each record's plaintext to a callback; a record cut short
 * waits in r->in (allocated only then: an idle connection holds no
 * buffer).  In TLS 1.3 only application_data records are accepted
 * (legacy_record_version is ignored, as §5.1 says); inside them,
 * application data goes to the callback, a KeyUpdate moves the read key
 * on (and, when the peer asked for it, queues our own KeyUpdate in r->out
 * and moves the write key on after it), a client drops a server's
 * NewSessionTicket (each handshake message must be whole in its
 * record), close_notify ends the stream (RF_ERR_EOF) and any other
 * alert, content or handshake message is RF_ERR_PROTO (or RF_ERR_TLS for
 * a record that does not decrypt).  In TLS 1.2 the record's own type
 * says the same, and a handshake record (a renegotiation) is
 * RF_ERR_PROTO.  After an error or the end, the
 * layer takes no more input: every later rf_tlsrec_open is RF_ERR_PROTO.
 * When the callback returns non-zero, the record it was given counts as
 * read and what came after it waits in r->in (up to RF_TLSREC_IN_MAX
 * bytes): the caller resumes with rf_tlsrec_open(r, NULL, 0, ...) once
 * it is ready, before it gives the layer anything new.
 *
 * Writing.  rf_tlsrec_seal encrypts plaintext into records of at most
 * 16384 bytes, appended to r->out; the caller writes r->out to the
 * socket and consumes what the socket took.  rf_tlsrec_close_notify
 * appends the alert.
 *
 * The AEAD contexts are per process, not per connection: each record
 * sets its key (a few hundred ns; a connection that sends or receives
 * records back to back keeps its key in the context).  Not thread-safe,
 * like the rest of a worker.
 */
#ifndef RF_TLSREC_H
#define RF_TLSREC_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "buf.h"

#define RF_TLSREC_PLAIN_MAX	16384		/* 2^14, §5.1 */
#define RF_TLSREC_SECRET_MAX	48		/* SHA-384 */
/*
 * A whole TLSCiphertext: header and at most 2^14 + 256 bytes (§5.2), or
 * 2^14 + 2048 in TLS 1.2 (RFC 5246 §6.2.3).
 */
#define RF_TLSREC_RECORD_MAX	(5 + RF_TLSREC_PLAIN_MAX + 2048)
/* r->in holds a record cut short, or what followed when rx stopped. */
#define RF_TLSREC_IN_MAX	(256 * 1024 + RF_TLSREC_RECORD_MAX)
/* r->out: the caller writes it out long before this. */
#define RF_TLSREC_OUT_MAX	(256 * 1024 + 16 * 32)

/* The AEAD and hash, named as in TLS 1.3; TLS 1.2 suites map onto them. */
enum rf_tlsrec_suite {
	RF_TLSREC_AES_128_GCM_SHA256 = 1,
	RF_TLSREC_AES_256_GCM_SHA384,
	RF_TLSREC_CHACHA20_POLY1305_SHA256,
};

/* One direction's traffic keys. */
struct rf_tlsrec_dir {
	unsigned char	 secret[RF_TLSREC_SECRET_MAX];	/* TLS 1.3 only */
	unsigned char	 key[32];
	unsigned char	 iv[12];	/* TLS 1.2 GCM: the 4-byte salt */
	uint64_t	 seq;		/* records under this key so far */
	uint64_t	 gen;		/* process-unique, names the key */
};

struct rf_tlsrec {
	enum rf_tlsrec_suite	 suite;
	int			 tls12;	/* TLS 1.2 records, not 1.3 */
	struct rf_tlsrec_dir	 rd;	/* the peer's records */
	struct rf_tlsrec_dir	 wr;	/* ours */
	int			 client; /* we are the client */
	struct rf_buf		 in;	/* ciphertext of a record cut short */
	struct rf_buf		 out;	/* ciphertext for the socket */
	int			 done;	/* close_notify or an error seen */
	int			 closed; /* our close_notify is queued */
	const char		*why;	/* for the log, after an error */
};

/*
 * Delivers one record's plaintext, which lies in a per-process buffer
 * until the callback returns; non-zero stops rf_tlsrec_open.  It may seal
 * on any layer but must not call rf_tlsrec_open.
 */
typedef int rf_tlsrec_rx_fn(void *arg, const void *p, size_t len);

/*
 * Installs the capture callbacks on an SSL_CTX, server or client
 * (replacing any keylog or message callback it had).  0, or RF_ERR_TLS.
 */
int	rf_tlsrec_ctx_init(SSL_CTX *);
/*
 * Takes over ssl's record layer (see above) into r, which it
 * initialises; 0, or RF_ERR_AGAIN (not now: bytes pending, a record whose
 * header OpenSSL has read but not yet its body, or a handshake in
 * progress; try later) or RF_ERR_INVAL (never for this connection:
 * neither TLS 1.2 nor 1.3, another cipher, no usable capture), with
 * r->why set.
 * The caller then frees ssl without SSL_shutdown.
 */
int	rf_tlsrec_take(struct rf_tlsrec *, SSL *);
/*
 * Decrypts what it can of in[0..len) (with what r->in held) and hands
 * each record's application data to rx(arg, ...); a zero-length record
 * is not handed on.  0 (the rest, if any, waits in r->in), RF_ERR_EOF
 * at close_notify, RF_ERR_PROTO or RF_ERR_TLS (r->why says what), the
 * value rx returned when it was not 0, or RF_ERR_NOMEM.  When it
 * returns, r->out may hold bytes to write (a KeyUpdate of ours).
 */
int	rf_tlsrec_open(struct rf_tlsrec *, const void *in, size_t len,
	    rf_tlsrec_rx_fn *rx, void *arg);
/*
 * Appends len bytes of application data, as records, to r->out: all of
 * them or, on error, none.  RF_ERR_LIMIT past RF_TLSREC_OUT_MAX (or at the
 * end of the sequence numbers), RF_ERR_INVAL after our close_notify,
 * RF_ERR_NOMEM, RF_ERR_TLS.
 */
int	rf_tlsrec_seal(struct rf_tlsrec *, const void *, size_t);
/* Appends a close_notify alert to r->out; no data may follow it. */
int	rf_tlsrec_close_notify(struct rf_tlsrec *);
/*
 * Initialises r with sequence numbers 0 and keys derived from the two
 * application traffic secrets (each as long as the suite's hash): the
 * peer's, which reads, and ours, which writes; a server's read secret is
 * the client's.  rf_tlsrec_take is built on it; it is exported for the
 * unit tests and the fuzz target, which make a layer without a handshake
 * (and set r->client for a client's).  0, or RF_ERR_INVAL for an unknown
 * suite, RF_ERR_TLS.
 */
int	rf_tlsrec_init_keys(struct rf_tlsrec *, enum rf_tlsrec_suite,
	    const unsigned char *read_secret,
	    const unsigned char *write_secret);
/*
 * The same for TLS 1.2: r with sequence numbers 0 and the keys and IVs
 * of a key block (RFC 5246 §6.3: client_write_key, server_write_key,
 * client_write_IV, server_write_IV; no MAC keys for an AEAD), laid out
 * for suite: 2 * (16 or 32) + 2 * (4 for GCM, 12 for ChaCha20) bytes.
 * 0, or RF_ERR_INVAL for an unknown suite.
 */
int	rf_tlsrec_init_keys12(struct rf_tlsrec *, enum rf_tlsrec_suite,
	    const unsigned char *key_block);
/* Frees r's buffers and wipes its keys. */
void	rf_tlsrec_free(struct rf_tlsrec *);

#endif
