/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The TLS 1.3 record layer of a connection taken over from OpenSSL (see
 * tlsrec.h): the capture callbacks, the key schedule's last steps (§7.1-
 * §7.3), record protection (§5.2-§5.4) and the few post-handshake
 * messages a server must understand (§4.6.3, §6); and the same for TLS
 * 1.2 with an AEAD (RFC 5246 §6.2.3.3 and §6.3, RFC 5288 §3, RFC 7905
 * §2), where "RFC 5246" marks what differs.  Every byte from the
 * peer, the record header before decryption and the inner plaintext
 * after it, is read through struct rf_buf getters.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>

#include "buf.h"
#include "err.h"
#include "tlsrec.h"

#define TLS_HEADER_LEN		5
#define TLS_TAG_LEN		16
#define TLS_IV_LEN		12
#define TLS_CIPHERTEXT_MAX	(RF_TLSREC_PLAIN_MAX + 256)	/* §5.2 */
/* RFC 5246 §6.2.3: a TLS 1.2 record's fragment may be 2048 bytes larger. */
#define TLS12_CIPHERTEXT_MAX	(RF_TLSREC_PLAIN_MAX + 2048)
/* RFC 5288 §3: GCM's explicit nonce, after a 4-byte salt from the keys. */
#define TLS12_EXPLICIT_LEN	8
#define TLS12_AAD_LEN		13	/* seq, type, version, length */
#define TLS12_MASTER_LEN	48

/* Content types (§5.1), handshake types (§4) and alerts (§6). */
#define TLS_CT_CCS		20
#define TLS_CT_ALERT		21
#define TLS_CT_HANDSHAKE	22
#define TLS_CT_APPDATA		23
#define TLS_HS_NEW_SESSION_TICKET 4
#define TLS_HS_FINISHED		20
#define TLS_HS_KEY_UPDATE	24
#define TLS_ALERT_WARNING	1
#define TLS_ALERT_CLOSE_NOTIFY	0

/* Which way a record goes; also OpenSSL's write_p. */
#define DIR_READ		0	/* the peer's records */
#define DIR_WRITE		1	/* ours */

struct tlsrec_suite_info {
	uint16_t	  id;		/* on the wire (RFC 8446 §B.4) */
	size_t		  key_len;
	const EVP_CIPHER *(*cipher)(void);
	const EVP_MD	 *(*md)(void);
	int		  nid;		/* the AEAD, for TLS 1.2 suites */
	const char	 *md_name;	/* the PRF's hash, for TLS 1.2 */
	size_t		  iv12_len;	/* TLS 1.2 fixed IV: salt or whole */
};

static const struct tlsrec_suite_info tlsrec_suites[] = {
	[RF_TLSREC_AES_128_GCM_SHA256] =
	    { 0x1301, 16, EVP_aes_128_gcm, EVP_sha256, NID_aes_128_gcm,
	      "SHA256", 4 },
	[RF_TLSREC_AES_256_GCM_SHA384] =
	    { 0x1302, 32, EVP_aes_256_gcm, EVP_sha384, NID_aes_256_gcm,
	      "SHA384", 4 },
	[RF_TLSREC_CHACHA20_POLY1305_SHA256] =
	    { 0x1303, 32, EVP_chacha20_poly1305, EVP_sha256,
	      NID_chacha20_poly1305, "SHA256", TLS_IV_LEN },
};
#define TLSREC_NSUITES	(sizeof(tlsrec_suites) / sizeof(tlsrec_suites[0]))

/*
 * What the callbacks learn about one connection, in its SSL's ex_data.
 * Indexed by direction: the peer's secret and records are [DIR_READ].
 */
struct tlsrec_capture {
	unsigned char	 secret[2][RF_TLSREC_SECRET_MAX];
	size_t		 secret_len[2];
	/* Records since that side's Finished (1.3) or CCS (RFC 5246). */
	uint64_t	 count[2];
	int		 finished[2];
	int		 ccs[2];	/* RFC 5246: ChangeCipherSpec seen */
	int		 reading;	/* a header read, its record not yet */
	const char	*broken;	/* why the capture cannot be used */
};

static int		 tlsrec_ex_idx = -1;


/*
 * The AEAD contexts, [DIR_READ] to open and [DIR_WRITE] to seal, shared
 * by every connection of the process.  tlsrec_aead_gen says whose key
 * each holds (0: none); a connection that sends records back to back
 * only sets the nonce.
 */
static EVP_CIPHER_CTX	*tlsrec_aead[2];
static uint64_t		 tlsrec_aead_gen[2];
static uint64_t		 tlsrec_gen;

/* Decrypted records land here; the callback sees them before the next. */
static unsigned char	 tlsrec_plain[TLS12_CIPHERTEXT_MAX];

static const struct tlsrec_suite_info *
tlsrec_suite_info(enum rf_tlsrec_suite suite)
{
	if ((size_t)suite >= TLSREC_NSUITES || tlsrec_suites[suite].id == 0)
		return NULL;
	return &tlsrec_suites[suite];
}

static size_t
tlsrec_hash_len(const struct tlsrec_suite_info *si)
{
	return (size_t)EVP_MD_get_size(si->md());
}

/*
 * HKDF-Expand-Label(secret, label, "", out_len) (§7.1).  Every output we
 * need is at most one hash long, so HKDF-Expand is one HMAC block:
 * T(1) = HMAC(secret, HkdfLabel || 0x01).
 */
static int
tlsrec_expand_label(const struct tlsrec_suite_info *si,
    const unsigned char *secret, const char *label, unsigned char *out,
    size_t out_len)
{
	static const char	 prefix[] = "tls13 ";
	unsigned char		 info[2 + 1 + 255 + 1 + 1];
	unsigned char		 t[EVP_MAX_MD_SIZE];
	unsigned int		 tlen = 0;
	size_t			 llen = strlen(label), plen = strlen(prefix);
	size_t			 n = 0, hlen = tlsrec_hash_len(si);
	int			 r = 0;

	if (plen + llen > 255 || out_len > hlen)
		return RF_ERR_INVAL;
	info[n++] = (unsigned char)(out_len >> 8);
	info[n++] = (unsigned char)out_len;
	info[n++] = (unsigned char)(plen + llen);
	memcpy(info + n, prefix, plen);
	n += plen;
	memcpy(info + n, label, llen);
	n += llen;
	info[n++] = 0;		/* an empty context */
	info[n++] = 1;		/* HKDF-Expand's block counter */
	if (HMAC(si->md(), secret, (int)hlen, info, n, t, &tlen) == NULL ||
	    tlen < out_len)
		r = RF_ERR_TLS;
	else
		memcpy(out, t, out_len);
	OPENSSL_cleanse(t, sizeof(t));
	return r;
}

/* A direction's key and IV from its secret (§7.3); a new key, so new gen. */
static int
tlsrec_dir_keys(const struct tlsrec_suite_info *si, struct rf_tlsrec_dir *d)
{
	int	 r;

	if ((r = tlsrec_expand_label(si, d->secret, "key", d->key,
	    si->key_len)) != 0 ||
	    (r = tlsrec_expand_label(si, d->secret, "iv", d->iv,
	    TLS_IV_LEN)) != 0)
		return r;
	d->seq = 0;
	d->gen = ++tlsrec_gen;
	return 0;
}

/* §7.2: application_traffic_secret_N+1, and its key and IV. */
static int
tlsrec_dir_update(const struct tlsrec_suite_info *si, struct rf_tlsrec_dir *d)
{
	unsigned char	 next[RF_TLSREC_SECRET_MAX];
	size_t		 hlen = tlsrec_hash_len(si);
	int		 r;

	if ((r = tlsrec_expand_label(si, d->secret, "traffic upd", next,
	    hlen)) != 0)
		return r;
	memcpy(d->secret, next, hlen);
	OPENSSL_cleanse(next, sizeof(next));
	return tlsrec_dir_keys(si, d);
}

/* Drops a key from the shared contexts, so a freed connection's is gone. */
static void
tlsrec_aead_forget(uint64_t gen)
{
	int	 i;

	for (i = 0; i < 2; i++) {
		if (gen == 0 || tlsrec_aead_gen[i] != gen)
			continue;
		EVP_CIPHER_CTX_reset(tlsrec_aead[i]);
		tlsrec_aead_gen[i] = 0;
	}
}

/* RFC 5246: a GCM record carries the nonce's last 8 bytes (RFC 5288). */
static int
tlsrec_explicit(const struct rf_tlsrec *r, const struct tlsrec_suite_info *si)
{
	return r->tls12 && si->iv12_len != TLS_IV_LEN;
}

/* What a record adds to its content: header, [nonce,] [inner type,] tag. */
static size_t
tlsrec_overhead(const struct rf_tlsrec *r, const struct tlsrec_suite_info *si)
{
	if (!r->tls12)
		return TLS_HEADER_LEN + 1 + TLS_TAG_LEN;
	return TLS_HEADER_LEN + TLS_TAG_LEN +
	    (tlsrec_explicit(r, si) ? TLS12_EXPLICIT_LEN : 0);
}

static void
tlsrec_put_u64(unsigned char *p, uint64_t v)
{
	int	 i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (56 - 8 * i));
}

/*
 * The shared context for direction dir, keyed for d and given the nonce
 * of d's next record: the IV XOR the sequence number, left-padded to 12
 * bytes (§5.3; RFC 7905 §2 for TLS 1.2's ChaCha20), or for TLS 1.2's GCM
 * the 4-byte salt and the record's explicit nonce (RFC 5288 §3).  The
 * caller has checked that seq is not exhausted.
 */
static int
tlsrec_aead_ctx(const struct rf_tlsrec *r, int dir,
    const struct tlsrec_suite_info *si, const struct rf_tlsrec_dir *d,
    const unsigned char *explicit, EVP_CIPHER_CTX **ctxp)
{
	unsigned char	 nonce[TLS_IV_LEN];
	EVP_CIPHER_CTX	*ctx;
	int		 i, enc = dir == DIR_WRITE;

	*ctxp = NULL;
	if (tlsrec_aead[dir] == NULL &&
	    (tlsrec_aead[dir] = EVP_CIPHER_CTX_new()) == NULL)
		return RF_ERR_NOMEM;
	ctx = tlsrec_aead[dir];
	if (tlsrec_explicit(r, si)) {
		memcpy(nonce, d->iv, TLS_IV_LEN - TLS12_EXPLICIT_LEN);
		memcpy(nonce + TLS_IV_LEN - TLS12_EXPLICIT_LEN, explicit,
		    TLS12_EXPLICIT_LEN);
	} else {
		memcpy(nonce, d->iv, TLS_IV_LEN);
		for (i = 0; i < 8; i++)
			nonce[TLS_IV_LEN - 1 - i] ^=
			    (unsigned char)(d->seq >> (8 * i));
	}
	if (tlsrec_aead_gen[dir] == d->gen) {
		if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, enc) == 1) {
			*ctxp = ctx;
			return 0;
		}
	} else if (EVP_CipherInit_ex(ctx, si->cipher(), NULL, d->key, nonce,
	    enc) == 1) {
		tlsrec_aead_gen[dir] = d->gen;
		*ctxp = ctx;
		return 0;
	}
	tlsrec_aead_gen[dir] = 0;
	return RF_ERR_TLS;
}

/*
 * RFC 5246 §6.2.3.3: the additional data of a TLS 1.2 record, its
 * sequence number, type, version and plaintext length.
 */
static void
tlsrec_aad12(unsigned char aad[TLS12_AAD_LEN], uint64_t seq, uint8_t type,
    size_t len)
{
	tlsrec_put_u64(aad, seq);
	aad[8] = type;
	aad[9] = 0x03;
	aad[10] = 0x03;
	aad[11] = (unsigned char)(len >> 8);
	aad[12] = (unsigned char)len;
}

/*
 * Seals one record of len bytes of content of the given type into dp,
 * which has len + tlsrec_overhead() bytes.  TLS 1.3: application_data
 * outside, the type inside, the header as the AAD (§5.2).  RFC 5246: the
 * type outside, [explicit nonce,] and the AAD of tlsrec_aad12.
 */
static int
tlsrec_seal_one(struct rf_tlsrec *r, const struct tlsrec_suite_info *si,
    uint8_t type, const unsigned char *p, size_t len, unsigned char *dp)
{
	struct rf_tlsrec_dir	*d = &r->wr;
	EVP_CIPHER_CTX		*ctx;
	unsigned char		 aad[TLS12_AAD_LEN], *body;
	size_t			 flen = tlsrec_overhead(r, si) + len -
				    TLS_HEADER_LEN;
	int			 n, rv, inner = !r->tls12;

	if (d->seq == UINT64_MAX)
		return RF_ERR_LIMIT;
	body = dp + TLS_HEADER_LEN;
	if (tlsrec_explicit(r, si)) {
		tlsrec_put_u64(body, d->seq);
		body += TLS12_EXPLICIT_LEN;
	}
	if ((rv = tlsrec_aead_ctx(r, DIR_WRITE, si, d, dp + TLS_HEADER_LEN,
	    &ctx)) != 0)
		return rv;
	dp[0] = r->tls12 ? type : TLS_CT_APPDATA;
	dp[1] = 0x03;		/* (legacy_)record_version 0x0303 */
	dp[2] = 0x03;
	dp[3] = (unsigned char)(flen >> 8);
	dp[4] = (unsigned char)flen;
	if (r->tls12)
		tlsrec_aad12(aad, d->seq, type, len);
	if (EVP_EncryptUpdate(ctx, NULL, &n, r->tls12 ? aad : dp,
	    r->tls12 ? TLS12_AAD_LEN : TLS_HEADER_LEN) != 1 ||
	    (len > 0 && (EVP_EncryptUpdate(ctx, body, &n, p, (int)len) != 1 ||
	    (size_t)n != len)) ||
	    (inner && (EVP_EncryptUpdate(ctx, body + len, &n, &type, 1) != 1 ||
	    n != 1)) ||
	    EVP_EncryptFinal_ex(ctx, body + len + inner, &n) != 1 || n != 0 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TLS_TAG_LEN,
	    body + len + inner) != 1) {
		tlsrec_aead_gen[DIR_WRITE] = 0;
		return RF_ERR_TLS;
	}
	d->seq++;
	return 0;
}

/* One record of ours (len <= 2^14) appended to r->out, or nothing. */
static int
tlsrec_put(struct rf_tlsrec *r, uint8_t type, const void *p, size_t len)
{
	const struct tlsrec_suite_info	*si;
	unsigned char			*dp;
	size_t				 total;
	int				 rv;

	if ((si = tlsrec_suite_info(r->suite)) == NULL)
		return RF_ERR_INVAL;
	total = len + tlsrec_overhead(r, si);
	if ((rv = rf_buf_reserve(&r->out, total, &dp)) != 0)
		return rv;
	if ((rv = tlsrec_seal_one(r, si, type, p, len, dp)) != 0)
		rf_buf_unput(&r->out, total);
	return rv;
}

static int
tlsrec_fail(struct rf_tlsrec *r, int err, const char *why)
{
	r->done = 1;
	r->why = why;
	return err;
}

/* §6: the alerts by name, for the log line. */
static const struct {
	uint8_t		 desc;
	const char	*why;
} tlsrec_alerts[] = {
	{ 10,	"peer sent alert unexpected_message" },
	{ 20,	"peer sent alert bad_record_mac" },
	{ 22,	"peer sent alert record_overflow" },
	{ 40,	"peer sent alert handshake_failure" },
	{ 42,	"peer sent alert bad_certificate" },
	{ 43,	"peer sent alert unsupported_certificate" },
	{ 44,	"peer sent alert certificate_revoked" },
	{ 45,	"peer sent alert certificate_expired" },
	{ 46,	"peer sent alert certificate_unknown" },
	{ 47,	"peer sent alert illegal_parameter" },
	{ 48,	"peer sent alert unknown_ca" },
	{ 49,	"peer sent alert access_denied" },
	{ 50,	"peer sent alert decode_error" },
	{ 51,	"peer sent alert decrypt_error" },
	{ 70,	"peer sent alert protocol_version" },
	{ 71,	"peer sent alert insufficient_security" },
	{ 80,	"peer sent alert internal_error" },
	{ 86,	"peer sent alert inappropriate_fallback" },
	{ 90,	"peer sent alert user_canceled" },
	{ 109,	"peer sent alert missing_extension" },
	{ 110,	"peer sent alert unsupported_extension" },
	{ 112,	"peer sent alert unrecognized_name" },
	{ 113,	"peer sent alert bad_certificate_status_response" },
	{ 115,	"peer sent alert unknown_psk_identity" },
	{ 116,	"peer sent alert certificate_required" },
	{ 120,	"peer sent alert no_application_protocol" },
};

static const char *
tlsrec_alert_why(uint8_t desc)
{
	size_t	 i;

	for (i = 0; i < sizeof(tlsrec_alerts) / sizeof(tlsrec_alerts[0]); i++)
		if (tlsrec_alerts[i].desc == desc)
			return tlsrec_alerts[i].why;
	return "peer sent an unknown alert";
}

/*
 * §6: close_notify ends the stream whatever its level says; every other
 * alert in TLS 1.3 ends the connection (user_canceled is followed by a
 * close_notify that we need not wait for).
 */
static int
tlsrec_alert(struct rf_tlsrec *r, struct rf_buf *m)
{
	uint8_t	 level, desc;

	if (rf_buf_len(m) != 2 || rf_buf_get_u8(m, &level) != 0 ||
	    rf_buf_get_u8(m, &desc) != 0)
		return tlsrec_fail(r, RF_ERR_PROTO,
		    "alert not 2 bytes long (decode_error)");
	if (desc == TLS_ALERT_CLOSE_NOTIFY)
		return tlsrec_fail(r, RF_ERR_EOF, "close_notify");
	return tlsrec_fail(r, RF_ERR_PROTO, tlsrec_alert_why(desc));
}

/*
 * §4.6.3: the read key moves on; when the peer asks, our KeyUpdate goes
 * out under our current key and the write key moves on after it.  After
 * our close_notify we send nothing more, so a request is not answered.
 */
static int
tlsrec_key_update(struct rf_tlsrec *r, uint8_t requested)
{
	static const unsigned char	 ku[] = {
		TLS_HS_KEY_UPDATE, 0, 0, 1, 0	/* update_not_requested */
	};
	const struct tlsrec_suite_info	*si;
	int				 rv;

	if ((si = tlsrec_suite_info(r->suite)) == NULL)
		return tlsrec_fail(r, RF_ERR_INVAL, "no cipher suite");
	if ((rv = tlsrec_dir_update(si, &r->rd)) != 0)
		return tlsrec_fail(r, rv, "cannot update the read key");
	if (!requested || r->closed)
		return 0;
	if ((rv = tlsrec_put(r, TLS_CT_HANDSHAKE, ku, sizeof(ku))) != 0)
		return tlsrec_fail(r, rv, "cannot queue our KeyUpdate");
	if ((rv = tlsrec_dir_update(si, &r->wr)) != 0)
		return tlsrec_fail(r, rv, "cannot update the write key");
	return 0;
}

/*
 * After the handshake a client may send us only KeyUpdate (we never ask
 * for a certificate after it).  A deliberate limit: the message must be
 * whole in its record and be all of it.  §5.1 allows a handshake message
 * split across records or several in one, but no client splits a 5-byte
 * message or coalesces it, and reassembly would need a buffer per
 * connection; a peer that does it gets RF_ERR_PROTO.
 *
 * When we are the client, a server may also send NewSessionTicket
 * (§4.6.1) at any time, and may put several messages in one record (an
 * OpenSSL server's first two tickets each have a record of their own,
 * but nothing says so): each must still be whole in its record.  Tickets
 * are dropped: the agent does not resume sessions (its SSL is gone), and
 * §4.6.1 lets a client ignore them.
 */
static int
tlsrec_handshake(struct rf_tlsrec *r, struct rf_buf *m)
{
	struct rf_buf	 body;
	uint32_t	 len;
	uint8_t		 type, requested;
	int		 rv;

	do {
		if (rf_buf_get_u8(m, &type) != 0 ||
		    rf_buf_get_u24(m, &len) != 0)
			return tlsrec_fail(r, RF_ERR_PROTO,
			    "handshake message split across records");
		if (r->client && type == TLS_HS_NEW_SESSION_TICKET) {
			if (rf_buf_get_sub(m, len, &body) != 0)
				return tlsrec_fail(r, RF_ERR_PROTO,
				    "NewSessionTicket split across records");
			continue;
		}
		if (type != TLS_HS_KEY_UPDATE)
			return tlsrec_fail(r, RF_ERR_PROTO,
			    "handshake message after the handshake "
			    "(unexpected_message)");
		if (len != 1)
			return tlsrec_fail(r, RF_ERR_PROTO,
			    "KeyUpdate of the wrong length (decode_error)");
		if (rf_buf_len(m) < len)
			return tlsrec_fail(r, RF_ERR_PROTO,
			    "handshake message split across records");
		if (rf_buf_len(m) > len)
			return tlsrec_fail(r, RF_ERR_PROTO, r->client ?
			    "a message after KeyUpdate in its record "
			    "(unexpected_message)" :
			    "handshake messages coalesced in one record");
		if (rf_buf_get_u8(m, &requested) != 0 || requested > 1)
			return tlsrec_fail(r, RF_ERR_PROTO,
			    "KeyUpdate with a bad request_update "
			    "(illegal_parameter)");
		/* §5.1: a key change ends its record (checked above). */
		if ((rv = tlsrec_key_update(r, requested)) != 0)
			return rv;
	} while (rf_buf_len(m) > 0);
	return 0;
}

/* A record's content of the given type, decrypted and unpadded. */
static int
tlsrec_content(struct rf_tlsrec *r, uint8_t type, struct rf_buf *content,
    rf_tlsrec_rx_fn *rx, void *arg)
{
	if (rf_buf_len(content) > RF_TLSREC_PLAIN_MAX)
		return tlsrec_fail(r, RF_ERR_PROTO,
		    "record content over 2^14 bytes (record_overflow)");
	switch (type) {
	case TLS_CT_APPDATA:
		if (rf_buf_len(content) == 0)
			return 0;
		return rx(arg, rf_buf_ptr(content), rf_buf_len(content));
	case TLS_CT_ALERT:
		return tlsrec_alert(r, content);
	case TLS_CT_HANDSHAKE:
		if (r->tls12)
			return tlsrec_fail(r, RF_ERR_PROTO,
			    "handshake message after the handshake "
			    "(a renegotiation)");
		return tlsrec_handshake(r, content);
	default:
		return tlsrec_fail(r, RF_ERR_PROTO,
		    "record of an unexpected inner type (unexpected_message)");
	}
}

/*
 * The plaintext of a TLS 1.3 record, plen bytes of tlsrec_plain (§5.4):
 * the content type is its last non-zero byte, the zeros after it padding.
 */
static int
tlsrec_inner(struct rf_tlsrec *r, size_t plen, rf_tlsrec_rx_fn *rx,
    void *arg)
{
	struct rf_buf	 pb, content;
	uint8_t		 type = 0;

	rf_buf_from(&pb, tlsrec_plain, plen);
	while (plen > 0 && rf_buf_peek_u8(&pb, plen - 1, &type) == 0 &&
	    type == 0)
		plen--;
	if (plen == 0)
		return tlsrec_fail(r, RF_ERR_PROTO,
		    "record with no content type (unexpected_message)");
	if (rf_buf_get_sub(&pb, plen - 1, &content) != 0)
		return tlsrec_fail(r, RF_ERR_INVAL, "inner plaintext");
	return tlsrec_content(r, type, &content, rx, arg);
}

/*
 * Checks the header at the front of b as far as it has come, so that
 * garbage is refused at its first byte.  0 with *reclen the length of
 * the whole record, RF_ERR_SHORT for a header cut short, or an error.
 */
static int
tlsrec_header(struct rf_tlsrec *r, const struct rf_buf *b, size_t *reclen)
{
	const struct tlsrec_suite_info	*si;
	uint16_t			 len;
	uint8_t				 type;

	*reclen = 0;
	if ((si = tlsrec_suite_info(r->suite)) == NULL)
		return tlsrec_fail(r, RF_ERR_INVAL, "no cipher suite");
	if (rf_buf_peek_u8(b, 0, &type) != 0)
		return RF_ERR_SHORT;
	if (type == TLS_CT_CCS)
		return tlsrec_fail(r, RF_ERR_PROTO,
		    "change_cipher_spec after the handshake");
	if (type != TLS_CT_APPDATA && (!r->tls12 ||
	    (type != TLS_CT_ALERT && type != TLS_CT_HANDSHAKE)))
		return tlsrec_fail(r, RF_ERR_PROTO,
		    "record of an unknown type (unexpected_message)");
	/*
	 * legacy_record_version, bytes 1-2, is ignored (§5.1); RFC 5246
	 * §6.2.1 wants the version agreed on, as OpenSSL does.
	 */
	if (r->tls12 && rf_buf_peek_u16(b, 1, &len) == 0 && len != 0x0303)
		return tlsrec_fail(r, RF_ERR_PROTO,
		    "record version not TLS 1.2 (protocol_version)");
	if (rf_buf_peek_u16(b, 3, &len) != 0)
		return RF_ERR_SHORT;
	if (len > (r->tls12 ? TLS12_CIPHERTEXT_MAX : TLS_CIPHERTEXT_MAX))
		return tlsrec_fail(r, RF_ERR_PROTO, r->tls12 ?
		    "record over 2^14 + 2048 bytes (record_overflow)" :
		    "record over 2^14 + 256 bytes (record_overflow)");
	if (len < tlsrec_overhead(r, si) - TLS_HEADER_LEN)
		return tlsrec_fail(r, RF_ERR_PROTO,
		    "record too short to be protected (decode_error)");
	*reclen = TLS_HEADER_LEN + len;
	return 0;
}

/* One whole record, as checked by tlsrec_header: decrypt and dispatch. */
static int
tlsrec_record(struct rf_tlsrec *r, struct rf_buf *rec, rf_tlsrec_rx_fn *rx,
    void *arg)
{
	const struct tlsrec_suite_info	*si;
	unsigned char			 hdr[TLS_HEADER_LEN], tag[TLS_TAG_LEN];
	unsigned char			 explicit[TLS12_EXPLICIT_LEN];
	unsigned char			 aad[TLS12_AAD_LEN];
	struct rf_buf			 body, content;
	EVP_CIPHER_CTX			*ctx;
	size_t				 ctlen, x;
	int				 n, rv;

	if ((si = tlsrec_suite_info(r->suite)) == NULL)
		return tlsrec_fail(r, RF_ERR_INVAL, "no cipher suite");
	x = tlsrec_explicit(r, si) ? TLS12_EXPLICIT_LEN : 0;
	if (rf_buf_get(rec, hdr, sizeof(hdr)) != 0 ||
	    rf_buf_len(rec) < tlsrec_overhead(r, si) - TLS_HEADER_LEN ||
	    (x > 0 && rf_buf_get(rec, explicit, x) != 0))
		return tlsrec_fail(r, RF_ERR_INVAL, "record not checked");
	ctlen = rf_buf_len(rec) - TLS_TAG_LEN;
	if (rf_buf_get_sub(rec, ctlen, &body) != 0 ||
	    rf_buf_get(rec, tag, sizeof(tag)) != 0)
		return tlsrec_fail(r, RF_ERR_INVAL, "record not checked");
	/* §5.3: a sequence number never wraps; the key must change first. */
	if (r->rd.seq == UINT64_MAX)
		return tlsrec_fail(r, RF_ERR_PROTO,
		    "read sequence number exhausted");
	if ((rv = tlsrec_aead_ctx(r, DIR_READ, si, &r->rd, explicit,
	    &ctx)) != 0)
		return tlsrec_fail(r, rv, "cannot set up the read cipher");
	if (r->tls12)
		tlsrec_aad12(aad, r->rd.seq, hdr[0], ctlen);
	if (EVP_DecryptUpdate(ctx, NULL, &n, r->tls12 ? aad : hdr,
	    r->tls12 ? TLS12_AAD_LEN : TLS_HEADER_LEN) != 1 ||
	    (ctlen > 0 && (EVP_DecryptUpdate(ctx, tlsrec_plain, &n,
	    rf_buf_ptr(&body), (int)ctlen) != 1 || (size_t)n != ctlen)) ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TLS_TAG_LEN,
	    tag) != 1) {
		tlsrec_aead_gen[DIR_READ] = 0;
		return tlsrec_fail(r, RF_ERR_TLS, "read cipher failed");
	}
	if (EVP_DecryptFinal_ex(ctx, tlsrec_plain + ctlen, &n) != 1) {
		OPENSSL_cleanse(tlsrec_plain, ctlen);
		return tlsrec_fail(r, RF_ERR_TLS,
		    "record does not authenticate (bad_record_mac)");
	}
	r->rd.seq++;
	if (!r->tls12)
		return tlsrec_inner(r, ctlen, rx, arg);
	rf_buf_from(&content, tlsrec_plain, ctlen);
	return tlsrec_content(r, hdr[0], &content, rx, arg);
}

/*
 * Moves bytes from src to r->in until r->in holds a whole record (0,
 * *reclen its length) or src runs out (RF_ERR_SHORT).
 */
static int
tlsrec_fill(struct rf_tlsrec *r, struct rf_buf *src, size_t *reclen)
{
	struct rf_buf	 piece;
	size_t		 have, want;
	int		 rv, hr;

	for (;;) {
		hr = tlsrec_header(r, &r->in, reclen);
		if (hr != 0 && hr != RF_ERR_SHORT)
			return hr;
		have = rf_buf_len(&r->in);
		want = hr == 0 ? *reclen : TLS_HEADER_LEN;
		if (hr == 0 && have >= want)
			return 0;
		if (rf_buf_len(src) == 0)
			return RF_ERR_SHORT;
		if (want - have < rf_buf_len(src))
			rf_buf_get_sub(src, want - have, &piece);
		else
			rf_buf_get_sub(src, rf_buf_len(src), &piece);
		if ((rv = rf_buf_put(&r->in, rf_buf_ptr(&piece),
		    rf_buf_len(&piece))) != 0)
			return tlsrec_fail(r, rv,
			    "cannot hold a partial record");
	}
}

/* The records held in r->in, completed from src as needed. */
static int
tlsrec_open_held(struct rf_tlsrec *r, struct rf_buf *src,
    rf_tlsrec_rx_fn *rx, void *arg)
{
	struct rf_buf	 rec;
	size_t		 reclen;
	int		 rv;

	while (rf_buf_len(&r->in) > 0) {
		if ((rv = tlsrec_fill(r, src, &reclen)) != 0)
			return rv == RF_ERR_SHORT ? 0 : rv;
		if (rf_buf_get_sub(&r->in, reclen, &rec) != 0)
			return tlsrec_fail(r, RF_ERR_INVAL, "record not held");
		if ((rv = tlsrec_record(r, &rec, rx, arg)) != 0)
			return rv;
	}
	return 0;
}

/* Whole records straight from src; a last partial one is left in it. */
static int
tlsrec_open_src(struct rf_tlsrec *r, struct rf_buf *src, rf_tlsrec_rx_fn *rx,
    void *arg)
{
	struct rf_buf	 rec;
	size_t		 reclen;
	int		 rv;

	while (rf_buf_len(src) > 0) {
		if ((rv = tlsrec_header(r, src, &reclen)) != 0)
			return rv == RF_ERR_SHORT ? 0 : rv;
		if (rf_buf_get_sub(src, reclen, &rec) != 0)
			return 0;
		if ((rv = tlsrec_record(r, &rec, rx, arg)) != 0)
			return rv;
	}
	return 0;
}

int
rf_tlsrec_open(struct rf_tlsrec *r, const void *in, size_t len,
    rf_tlsrec_rx_fn *rx, void *arg)
{
	struct rf_buf	 src;
	int		 rv, hr;

	/* r->why keeps saying why the stream ended. */
	if (r->done)
		return RF_ERR_PROTO;
	if (in == NULL && len > 0)
		return RF_ERR_INVAL;
	rf_buf_from(&src, in, len);
	if ((rv = tlsrec_open_held(r, &src, rx, arg)) == 0)
		rv = tlsrec_open_src(r, &src, rx, arg);
	/*
	 * What is left is a record cut short or, when rx stopped us, all
	 * that came after its record: it waits in r->in, in order.
	 */
	if (!r->done && rf_buf_len(&src) > 0 &&
	    (hr = rf_buf_put(&r->in, rf_buf_ptr(&src), rf_buf_len(&src))) != 0)
		rv = tlsrec_fail(r, hr, hr == RF_ERR_LIMIT ?
		    "too much input while the receiver is stopped" :
		    "cannot hold a partial record");
	if (r->done || rf_buf_len(&r->in) == 0)
		rf_buf_free(&r->in);
	return rv;
}

int
rf_tlsrec_seal(struct rf_tlsrec *r, const void *p, size_t len)
{
	const struct tlsrec_suite_info	*si;
	const unsigned char		*src = p;
	unsigned char			*dp;
	uint64_t			 seq0 = r->wr.seq;
	size_t				 nrec, total, n, over;
	int				 rv;

	if (r->closed || (si = tlsrec_suite_info(r->suite)) == NULL ||
	    (len > 0 && p == NULL))
		return RF_ERR_INVAL;
	if (len == 0)
		return 0;
	if (len > RF_TLSREC_OUT_MAX)
		return RF_ERR_LIMIT;
	nrec = (len + RF_TLSREC_PLAIN_MAX - 1) / RF_TLSREC_PLAIN_MAX;
	if (nrec > UINT64_MAX - r->wr.seq)
		return RF_ERR_LIMIT;
	/* One reservation: all records or, on any error, none. */
	over = tlsrec_overhead(r, si);
	total = len + nrec * over;
	if ((rv = rf_buf_reserve(&r->out, total, &dp)) != 0)
		return rv;
	while (len > 0) {
		n = len < RF_TLSREC_PLAIN_MAX ? len : RF_TLSREC_PLAIN_MAX;
		if ((rv = tlsrec_seal_one(r, si, TLS_CT_APPDATA, src, n,
		    dp)) != 0) {
			rf_buf_unput(&r->out, total);
			r->wr.seq = seq0;
			return rv;
		}
		src += n;
		dp += n + over;
		len -= n;
	}
	return 0;
}

int
rf_tlsrec_close_notify(struct rf_tlsrec *r)
{
	static const unsigned char	 cn[] = {
		TLS_ALERT_WARNING, TLS_ALERT_CLOSE_NOTIFY
	};
	int				 rv;

	if (r->closed)
		return RF_ERR_INVAL;
	if ((rv = tlsrec_put(r, TLS_CT_ALERT, cn, sizeof(cn))) != 0)
		return rv;
	r->closed = 1;
	return 0;
}

void
rf_tlsrec_free(struct rf_tlsrec *r)
{
	rf_buf_free(&r->in);
	rf_buf_free(&r->out);
	tlsrec_aead_forget(r->rd.gen);
	tlsrec_aead_forget(r->wr.gen);
	OPENSSL_cleanse(r, sizeof(*r));
}

/* r empty, for suite; its suite's info, or NULL with r->why set. */
static const struct tlsrec_suite_info *
tlsrec_init(struct rf_tlsrec *r, enum rf_tlsrec_suite suite)
{
	const struct tlsrec_suite_info	*si;

	memset(r, 0, sizeof(*r));
	rf_buf_init(&r->in, RF_TLSREC_IN_MAX);
	rf_buf_init(&r->out, RF_TLSREC_OUT_MAX);
	if ((si = tlsrec_suite_info(suite)) == NULL)
		r->why = "unknown cipher suite";
	else
		r->suite = suite;
	return si;
}

int
rf_tlsrec_init_keys(struct rf_tlsrec *r, enum rf_tlsrec_suite suite,
    const unsigned char *read_secret, const unsigned char *write_secret)
{
	const struct tlsrec_suite_info	*si;
	size_t				 hlen;

	if ((si = tlsrec_init(r, suite)) == NULL)
		return RF_ERR_INVAL;
	hlen = tlsrec_hash_len(si);
	memcpy(r->rd.secret, read_secret, hlen);
	memcpy(r->wr.secret, write_secret, hlen);
	if (tlsrec_dir_keys(si, &r->rd) != 0 ||
	    tlsrec_dir_keys(si, &r->wr) != 0) {
		rf_tlsrec_free(r);
		(void)tlsrec_init(r, 0);
		r->why = "cannot derive the traffic keys";
		return RF_ERR_TLS;
	}
	return 0;
}

int
rf_tlsrec_init_keys12(struct rf_tlsrec *r, enum rf_tlsrec_suite suite,
    const unsigned char *kb)
{
	const struct tlsrec_suite_info	*si;

	if ((si = tlsrec_init(r, suite)) == NULL)
		return RF_ERR_INVAL;
	r->tls12 = 1;
	memcpy(r->rd.key, kb, si->key_len);
	memcpy(r->wr.key, kb + si->key_len, si->key_len);
	memcpy(r->rd.iv, kb + 2 * si->key_len, si->iv12_len);
	memcpy(r->wr.iv, kb + 2 * si->key_len + si->iv12_len, si->iv12_len);
	r->rd.gen = ++tlsrec_gen;
	r->wr.gen = ++tlsrec_gen;
	return 0;
}

/*
 * The capture.  It is made at the first message callback that finds none
 * (the ClientHello's record header, normally).  Should that allocation
 * fail, a later callback may make it: that is still sound, because the
 * counts that matter start at each side's Finished, so a capture made too
 * late has missed a Finished or a traffic secret and take refuses it.
 * The keylog callback gets a const SSL and never makes one.
 */
static void
tlsrec_capture_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	if (ptr == NULL)
		return;
	OPENSSL_cleanse(ptr, sizeof(struct tlsrec_capture));
	free(ptr);
}

/* The first reason is the one worth logging. */
static void
capture_break(struct tlsrec_capture *c, const char *why)
{
	if (c->broken == NULL)
		c->broken = why;
}

static struct tlsrec_capture *
tlsrec_capture_get(SSL *ssl)
{
	struct tlsrec_capture	*c;

	if (tlsrec_ex_idx < 0)
		return NULL;
	if ((c = SSL_get_ex_data(ssl, tlsrec_ex_idx)) != NULL)
		return c;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if (SSL_set_ex_data(ssl, tlsrec_ex_idx, c) != 1) {
		free(c);
		return NULL;
	}
	return c;
}

/*
 * Counts records per direction; OpenSSL calls SSL3_RT_HEADER once per
 * record, when it reads the header (before the body has arrived) or has
 * built the record.  A side's Finished comes after its record's header,
 * and in TLS 1.3 the very next record is the first under the application
 * key, so the count restarts at 0 there.  In TLS 1.2 (RFC 5246 §6.1) the
 * count restarts at each side's ChangeCipherSpec record, told by its
 * header's type (OpenSSL 3.0 reports the CCS messages it writes, not
 * those it reads): the Finished is record 0 under the new keys.  TLS
 * 1.3's ChangeCipherSpec, sent for middleboxes, comes before Finished,
 * which restarts the count anyway.  On the read side the inner content
 * type is reported once the record is decrypted: a header without it is
 * a record OpenSSL holds half read (TLS 1.2 has no inner type, and
 * rf_tlsrec_take asks OpenSSL's read state instead).
 */
static void
tlsrec_msg_cb(int write_p, int version, int content_type, const void *buf,
    size_t len, SSL *ssl, void *arg)
{
	struct tlsrec_capture	*c;
	struct rf_buf		 b;
	uint8_t			 mt;
	int			 dir = write_p ? DIR_WRITE : DIR_READ;

	if ((c = tlsrec_capture_get(ssl)) == NULL)
		return;
	switch (content_type) {
	case SSL3_RT_HEADER:
		if (c->count[dir] == UINT64_MAX)
			capture_break(c, "record count overflow");
		c->count[dir]++;
		if (dir == DIR_READ)
			c->reading = 1;
		if (len == 0 || ((const uint8_t *)buf)[0] != TLS_CT_CCS)
			return;
		/* Its record's header: OpenSSL reports no CCS it reads. */
		if (c->ccs[dir])
			capture_break(c, "a second ChangeCipherSpec");
		c->ccs[dir] = 1;
		c->count[dir] = 0;
		return;
	case SSL3_RT_INNER_CONTENT_TYPE:
		if (dir == DIR_READ)
			c->reading = 0;
		return;
	case SSL3_RT_HANDSHAKE:
		break;
	default:
		return;
	}
	rf_buf_from(&b, buf, len);
	if (rf_buf_get_u8(&b, &mt) != 0)
		return;
	if (mt == SSL3_MT_FINISHED) {
		if (c->finished[dir])
			capture_break(c, "a second Finished");
		c->finished[dir] = 1;
		if (version == TLS1_3_VERSION)
			c->count[dir] = 0;
		else if (!c->ccs[dir])
			capture_break(c, "a Finished before ChangeCipherSpec");
		if (dir == DIR_READ)
			c->reading = 0;
	} else if (mt == SSL3_MT_KEY_UPDATE)
		capture_break(c, "a KeyUpdate before the take-over");
}

/* 1 if b starts with s, which is then consumed. */
static int
tlsrec_keylog_label(struct rf_buf *b, const char *s)
{
	size_t	 n = strlen(s);

	if (!rf_buf_equal(b, s, n, 0))
		return 0;
	rf_buf_consume(b, n);
	return 1;
}

/* n bytes from 2n hex digits. */
static int
tlsrec_get_hex(struct rf_buf *b, unsigned char *out, size_t n)
{
	uint8_t	 c1, c2;
	size_t	 i;
	int	 h, l;

	for (i = 0; i < n; i++) {
		if (rf_buf_get_u8(b, &c1) != 0 || rf_buf_get_u8(b, &c2) != 0 ||
		    (h = rf_buf_hexval(c1)) < 0 ||
		    (l = rf_buf_hexval(c2)) < 0)
			return RF_ERR_PROTO;
		out[i] = (unsigned char)(h << 4 | l);
	}
	return 0;
}

/*
 * "CLIENT_TRAFFIC_SECRET_0 <client_random> <secret>", both in hex (the
 * NSS key log format), and the same for SERVER.  A later generation (a
 * KeyUpdate OpenSSL did) spoils the capture.
 */
static void
tlsrec_keylog_cb(const SSL *ssl, const char *line)
{
	struct tlsrec_capture	*c;
	struct rf_buf		 b;
	unsigned char		 cr[SSL3_RANDOM_SIZE], mine[SSL3_RANDOM_SIZE];
	unsigned char		 secret[RF_TLSREC_SECRET_MAX];
	size_t			 n;
	uint8_t			 sp;
	int			 dir;

	if (tlsrec_ex_idx < 0 ||
	    (c = SSL_get_ex_data(ssl, tlsrec_ex_idx)) == NULL)
		return;
	rf_buf_from(&b, line, strlen(line));
	/* The peer's secret reads, ours writes. */
	if (tlsrec_keylog_label(&b, "CLIENT_TRAFFIC_SECRET_0 "))
		dir = SSL_is_server(ssl) ? DIR_READ : DIR_WRITE;
	else if (tlsrec_keylog_label(&b, "SERVER_TRAFFIC_SECRET_0 "))
		dir = SSL_is_server(ssl) ? DIR_WRITE : DIR_READ;
	else {
		if (tlsrec_keylog_label(&b, "CLIENT_TRAFFIC_SECRET_") ||
		    tlsrec_keylog_label(&b, "SERVER_TRAFFIC_SECRET_"))
			capture_break(c, "a traffic secret updated");
		return;
	}
	if (tlsrec_get_hex(&b, cr, sizeof(cr)) != 0 ||
	    rf_buf_get_u8(&b, &sp) != 0 || sp != ' ' ||
	    SSL_get_client_random(ssl, mine, sizeof(mine)) != sizeof(mine) ||
	    memcmp(cr, mine, sizeof(cr)) != 0) {
		capture_break(c, "a key log line not for this connection");
		return;
	}
	n = rf_buf_len(&b) / 2;
	if (rf_buf_len(&b) % 2 != 0 || (n != 32 && n != 48) ||
	    tlsrec_get_hex(&b, secret, n) != 0) {
		capture_break(c, "a malformed key log line");
		return;
	}
	if (c->secret_len[dir] != 0)
		capture_break(c, "a traffic secret logged twice");
	memcpy(c->secret[dir], secret, n);
	c->secret_len[dir] = n;
	OPENSSL_cleanse(secret, sizeof(secret));
}

int
rf_tlsrec_ctx_init(SSL_CTX *ctx)
{
	if (tlsrec_ex_idx < 0 &&
	    (tlsrec_ex_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL,
	    tlsrec_capture_free)) < 0) {
		tlsrec_ex_idx = -1;
		return RF_ERR_TLS;
	}
	SSL_CTX_set_keylog_callback(ctx, tlsrec_keylog_cb);
	SSL_CTX_set_msg_callback(ctx, tlsrec_msg_cb);
	return 0;
}

static int
tlsrec_refuse(struct rf_tlsrec *r, int err, const char *why)
{
	r->why = why;
	return err;
}

/*
 * The suite of ssl's cipher: by its ID in TLS 1.3; in TLS 1.2 by its AEAD
 * and PRF hash, whatever its key exchange and signature.
 */
static int
tlsrec_suite_of(SSL *ssl, int tls12, enum rf_tlsrec_suite *suite)
{
	const struct tlsrec_suite_info	*si;
	const SSL_CIPHER		*cipher;
	const EVP_MD			*md;
	size_t				 i;

	*suite = 0;
	if ((cipher = SSL_get_current_cipher(ssl)) == NULL)
		return RF_ERR_INVAL;
	for (i = 0; i < TLSREC_NSUITES; i++) {
		si = &tlsrec_suites[i];
		if (si->id == 0)
			continue;
		if (tls12 ? SSL_CIPHER_get_cipher_nid(cipher) == si->nid &&
		    (md = SSL_CIPHER_get_handshake_digest(cipher)) != NULL &&
		    EVP_MD_is_a(md, si->md_name) :
		    SSL_CIPHER_get_protocol_id(cipher) == si->id) {
			*suite = (enum rf_tlsrec_suite)i;
			return 0;
		}
	}
	return RF_ERR_INVAL;
}

/*
 * RFC 5246 §6.3: key_block = PRF(master_secret, "key expansion",
 * server_random + client_random), by OpenSSL's TLS1-PRF.
 */
static int
tlsrec_key_block12(SSL *ssl, const struct tlsrec_suite_info *si,
    unsigned char *kb, size_t kblen)
{
	static const char	 label[] = "key expansion";
	unsigned char		 master[TLS12_MASTER_LEN];
	unsigned char		 seed[sizeof(label) - 1 + 2 * SSL3_RANDOM_SIZE];
	OSSL_PARAM		 params[4];
	SSL_SESSION		*sess;
	EVP_KDF			*kdf = NULL;
	EVP_KDF_CTX		*kctx = NULL;
	int			 rv = RF_ERR_TLS;

	if ((sess = SSL_get_session(ssl)) == NULL ||
	    SSL_SESSION_get_master_key(sess, master, sizeof(master)) !=
	    sizeof(master))
		goto out;
	memcpy(seed, label, sizeof(label) - 1);
	if (SSL_get_server_random(ssl, seed + sizeof(label) - 1,
	    SSL3_RANDOM_SIZE) != SSL3_RANDOM_SIZE ||
	    SSL_get_client_random(ssl, seed + sizeof(label) - 1 +
	    SSL3_RANDOM_SIZE, SSL3_RANDOM_SIZE) != SSL3_RANDOM_SIZE)
		goto out;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)si->md_name, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET,
	    master, sizeof(master));
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED,
	    seed, sizeof(seed));
	params[3] = OSSL_PARAM_construct_end();
	if ((kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL)) == NULL ||
	    (kctx = EVP_KDF_CTX_new(kdf)) == NULL ||
	    EVP_KDF_derive(kctx, kb, kblen, params) != 1)
		goto out;
	rv = 0;
out:
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	OPENSSL_cleanse(master, sizeof(master));
	return rv;
}

/* The keys of a TLS 1.2 connection, and its record counts. */
static int
tlsrec_take12(struct rf_tlsrec *r, SSL *ssl, enum rf_tlsrec_suite suite,
    const struct tlsrec_capture *c)
{
	const struct tlsrec_suite_info	*si = tlsrec_suite_info(suite);
	unsigned char			 kb[2 * 32 + 2 * TLS_IV_LEN];
	struct rf_tlsrec_dir		 d;
	size_t				 kblen;
	int				 rv;

	kblen = 2 * si->key_len + 2 * si->iv12_len;
	if ((rv = tlsrec_key_block12(ssl, si, kb, kblen)) != 0) {
		r->why = "cannot derive the TLS 1.2 keys";
		return rv;
	}
	rv = rf_tlsrec_init_keys12(r, suite, kb);
	OPENSSL_cleanse(kb, sizeof(kb));
	/* The key block has the client's keys first; a client writes them. */
	if (rv == 0 && !SSL_is_server(ssl)) {
		d = r->rd;
		r->rd = r->wr;
		r->wr = d;
		OPENSSL_cleanse(&d, sizeof(d));
	}
	return rv;
}

/*
 * Refusals that hold for good (RF_ERR_INVAL) are checked before those
 * that may pass later (RF_ERR_AGAIN), except the handshake: until it is
 * over the capture is bound to look incomplete.  A record whose header
 * OpenSSL has read and whose body it waits for shows in its read state
 * ("RB"); in TLS 1.3 the capture sees it too.
 */
int
rf_tlsrec_take(struct rf_tlsrec *r, SSL *ssl)
{
	struct tlsrec_capture	*c = NULL;
	enum rf_tlsrec_suite	 suite;
	size_t			 hlen;
	int			 rv, tls12;

	memset(r, 0, sizeof(*r));
	rf_buf_init(&r->in, RF_TLSREC_IN_MAX);
	rf_buf_init(&r->out, RF_TLSREC_OUT_MAX);
	if (SSL_in_init(ssl))
		return tlsrec_refuse(r, RF_ERR_AGAIN, "handshake in progress");
	if (SSL_version(ssl) != TLS1_3_VERSION &&
	    SSL_version(ssl) != TLS1_2_VERSION)
		return tlsrec_refuse(r, RF_ERR_INVAL, "not TLS 1.2 or 1.3");
	tls12 = SSL_version(ssl) == TLS1_2_VERSION;
	if (SSL_get_shutdown(ssl) != 0)
		return tlsrec_refuse(r, RF_ERR_INVAL, "connection closing");
	if (tlsrec_suite_of(ssl, tls12, &suite) != 0)
		return tlsrec_refuse(r, RF_ERR_INVAL,
		    "cipher suite not supported");
	hlen = tlsrec_hash_len(tlsrec_suite_info(suite));
	if (tlsrec_ex_idx >= 0)
		c = SSL_get_ex_data(ssl, tlsrec_ex_idx);
	if (c == NULL)
		return tlsrec_refuse(r, RF_ERR_INVAL, "no capture");
	if (c->broken != NULL)
		return tlsrec_refuse(r, RF_ERR_INVAL, c->broken);
	if (!c->finished[DIR_READ] || !c->finished[DIR_WRITE] ||
	    (tls12 ? !c->ccs[DIR_READ] || !c->ccs[DIR_WRITE] :
	    c->secret_len[DIR_READ] != hlen ||
	    c->secret_len[DIR_WRITE] != hlen))
		return tlsrec_refuse(r, RF_ERR_INVAL, "capture incomplete");
	if (SSL_has_pending(ssl))
		return tlsrec_refuse(r, RF_ERR_AGAIN,
		    "OpenSSL holds bytes not yet read");
	if ((!tls12 && c->reading) ||
	    strcmp(SSL_rstate_string(ssl), "RB") == 0)
		return tlsrec_refuse(r, RF_ERR_AGAIN,
		    "OpenSSL holds a record half read");
	if (SSL_want_write(ssl))
		return tlsrec_refuse(r, RF_ERR_AGAIN,
		    "OpenSSL holds a record not yet written");
	if ((rv = tls12 ? tlsrec_take12(r, ssl, suite, c) :
	    rf_tlsrec_init_keys(r, suite, c->secret[DIR_READ],
	    c->secret[DIR_WRITE])) != 0)
		return rv;
	r->rd.seq = c->count[DIR_READ];
	r->wr.seq = c->count[DIR_WRITE];
	r->client = !SSL_is_server(ssl);
	return 0;
}
