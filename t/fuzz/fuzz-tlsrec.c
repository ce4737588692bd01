/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for common/tlsrec.c.  Random bytes fail
 * authentication, so besides a layer fed raw bytes (header parsing,
 * partial records) the target plays the peer: it keeps its own model
 * of both directions' keys (its own HKDF-Expand-Label and AEAD calls),
 * seals the plaintexts the input describes and feeds them in the pieces
 * the input picks, so that the inner plaintext (padding, content types,
 * alerts, KeyUpdate, NewSessionTicket) is what gets fuzzed.
 *
 * The first byte picks the suite (bits 0-1), how often the receiving
 * callback stops the layer (bits 2-4), TLS 1.2 instead of 1.3 (bit 5)
 * and the layer's role (bit 6): a server's, the model playing the
 * client, or a client's (r.client, reading with the server's secret or
 * keys), the model playing a server that sends tickets.  In TLS 1.2 an
 * "inner plaintext" is sealed as a record of the type
 * its last byte names, with the bytes before it as content (no padding,
 * and op 1 pads with nothing).  Then chunks, each a control byte
 * (the operation is ctl % 7) and its arguments:
 *   0 raw       n, n bytes: fed to the second layer
 *   1 app       u16 length, pad byte, split byte: application data
 *   2 inner     n, n bytes, split byte: that exact inner plaintext
 *   3 keyupdate (ctl bit 3: update_requested), pad byte, [a length byte
 *               per ticket,] split byte; for a client's layer, ctl bits
 *               4-5 put that many NewSessionTickets in the record, bit 6
 *               leaves the KeyUpdate out and bit 7 puts it first
 *   4 tamper    n, what byte, split byte: a spoilt record
 *   5 seal      u16 length: our data, checked by the model
 *   6 close     our close_notify
 *
 * Invariants: each result is what the model predicts from the inner
 * plaintext (0, RF_ERR_EOF, RF_ERR_PROTO or RF_ERR_TLS), in any split;
 * the bytes delivered are exactly the application data sealed, up to the
 * first error, and nothing after; r->out holds exactly our KeyUpdates
 * (only for update_requested, under the old key) and sealed records, all
 * of which the model opens (a ticket adds nothing to it); after the end
 * every input is RF_ERR_PROTO, and every failure has r->why;
 * the raw layer never delivers, and holds only the start of one record
 * with an acceptable header.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"
#include "err.h"
#include "fuzz.h"
#include "tlsrec.h"

#define FZ_STOP		1	/* what rx returns to stop the layer */
#define FZ_REC_MAX	(5 + 16384 + 2048)

static const unsigned char	 client_secret[48] = "fuzz client secret";
static const unsigned char	 server_secret[48] = "fuzz server secret";

/* One direction of the model. */
struct mdir {
	unsigned char	 secret[48], key[32], iv[12];
	uint64_t	 seq;
};

struct fz {
	struct rf_tlsrec	 r;
	enum rf_tlsrec_suite	 suite;
	const EVP_CIPHER	*cipher;
	const EVP_MD		*md;
	size_t			 hlen, klen;
	int			 tls12;
	int			 explicit;	/* TLS 1.2 GCM's nonce */
	int			 client;	/* the layer is a client's */
	struct mdir		 pw, ow;	/* the peer's and our writing */
	struct rf_buf		 got;		/* delivered by one op */
	int			 calls, stop_every;
	int			 ended;		/* the model says done */
	int			 closed;	/* we sent close_notify */
	const uint8_t		*in;
	size_t			 inlen;
};

static unsigned char		 rec[FZ_REC_MAX + 512];
static unsigned char		 inner[FZ_REC_MAX];
static unsigned char		 data[40000];

/* The input, read as a stream; past its end it reads zeros. */
static uint8_t
next8(struct fz *f)
{
	uint8_t	 v = 0;

	if (f->inlen > 0) {
		v = f->in[0];
		f->in++;
		f->inlen--;
	}
	return v;
}

static uint16_t
next16(struct fz *f)
{
	uint16_t	 hi = next8(f);

	return (uint16_t)(hi << 8 | next8(f));
}

static void
expand_label(struct fz *f, const unsigned char *secret, const char *label,
    unsigned char *out, size_t len)
{
	unsigned char	 info[64], t[64];
	unsigned int	 tlen;
	size_t		 n;

	n = (size_t)snprintf((char *)info + 3, sizeof(info) - 3, "tls13 %s",
	    label);
	info[0] = 0;
	info[1] = (unsigned char)len;
	info[2] = (unsigned char)n;
	info[3 + n] = 0;
	info[4 + n] = 1;
	FUZZ_CHECK(HMAC(f->md, secret, (int)f->hlen, info, n + 5, t,
	    &tlen) != NULL);
	memcpy(out, t, len);
}

static void
mdir_keys(struct fz *f, struct mdir *d)
{
	expand_label(f, d->secret, "key", d->key, f->klen);
	expand_label(f, d->secret, "iv", d->iv, 12);
	d->seq = 0;
}

static void
mdir_update(struct fz *f, struct mdir *d)
{
	unsigned char	 next[48];

	expand_label(f, d->secret, "traffic upd", next, f->hlen);
	memcpy(d->secret, next, f->hlen);
	mdir_keys(f, d);
}

static void
put64(unsigned char *p, uint64_t v)
{
	int	 i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (56 - 8 * i));
}

/* TLS 1.2's additional data: seq, type, version, length. */
static void
aad12(unsigned char aad[13], uint64_t seq, uint8_t type, size_t len)
{
	put64(aad, seq);
	aad[8] = type;
	aad[9] = 3;
	aad[10] = 3;
	aad[11] = (unsigned char)(len >> 8);
	aad[12] = (unsigned char)len;
}

/* explicit: TLS 1.2 GCM's 8 bytes after the 4-byte salt in d->iv. */
static EVP_CIPHER_CTX *
model_ctx(struct fz *f, const struct mdir *d, int enc,
    const unsigned char *explicit)
{
	static EVP_CIPHER_CTX	*ctx;
	unsigned char		 nonce[12];
	int			 i;

	if (ctx == NULL)
		FUZZ_CHECK((ctx = EVP_CIPHER_CTX_new()) != NULL);
	memcpy(nonce, d->iv, 12);
	if (f->explicit)
		memcpy(nonce + 4, explicit, 8);
	else
		for (i = 0; i < 8; i++)
			nonce[11 - i] ^= (unsigned char)(d->seq >> (8 * i));
	FUZZ_CHECK(EVP_CipherInit_ex(ctx, f->cipher, NULL, d->key, nonce,
	    enc) == 1);
	return ctx;
}

/*
 * TLS 1.2: the peer seals len bytes of content of the given type into
 * rec; its length.
 */
static size_t
model_seal12(struct fz *f, uint8_t type, const unsigned char *p, size_t len)
{
	EVP_CIPHER_CTX	*ctx;
	unsigned char	 aad[13];
	size_t		 x = f->explicit ? 8 : 0, flen = x + len + 16;
	int		 n;

	rec[0] = type;
	rec[1] = 3;
	rec[2] = 3;
	rec[3] = (unsigned char)(flen >> 8);
	rec[4] = (unsigned char)flen;
	put64(rec + 5, f->pw.seq);
	ctx = model_ctx(f, &f->pw, 1, rec + 5);
	aad12(aad, f->pw.seq, type, len);
	FUZZ_CHECK(EVP_EncryptUpdate(ctx, NULL, &n, aad, 13) == 1);
	FUZZ_CHECK(len == 0 || EVP_EncryptUpdate(ctx, rec + 5 + x, &n, p,
	    (int)len) == 1);
	FUZZ_CHECK(EVP_EncryptFinal_ex(ctx, rec + 5 + x + len, &n) == 1);
	FUZZ_CHECK(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16,
	    rec + 5 + x + len) == 1);
	f->pw.seq++;
	return 5 + flen;
}

/*
 * The peer seals ilen bytes of inner plaintext into rec; its length.
 * TLS 1.2: the last byte is the record's type, the rest its content.
 */
static size_t
model_seal(struct fz *f, const unsigned char *p, size_t ilen)
{
	EVP_CIPHER_CTX	*ctx;
	size_t		 ctlen = ilen + 16;
	int		 n;

	if (f->tls12)
		return model_seal12(f, ilen > 0 ? p[ilen - 1] : 0, p,
		    ilen > 0 ? ilen - 1 : 0);
	ctx = model_ctx(f, &f->pw, 1, NULL);
	rec[0] = 23;
	rec[1] = 3;
	rec[2] = 3;
	rec[3] = (unsigned char)(ctlen >> 8);
	rec[4] = (unsigned char)ctlen;
	FUZZ_CHECK(EVP_EncryptUpdate(ctx, NULL, &n, rec, 5) == 1);
	FUZZ_CHECK(EVP_EncryptUpdate(ctx, rec + 5, &n, p, (int)ilen) == 1);
	FUZZ_CHECK(EVP_EncryptFinal_ex(ctx, rec + 5 + n, &n) == 1);
	FUZZ_CHECK(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16,
	    rec + 5 + ilen) == 1);
	f->pw.seq++;
	return 5 + ctlen;
}

/* TLS 1.2: model_open's work. */
static uint8_t
model_open12(struct fz *f, struct rf_buf *b, size_t *lenp)
{
	EVP_CIPHER_CTX	*ctx;
	unsigned char	 hdr[5], tag[16], expl[8], aad[13];
	size_t		 x = f->explicit ? 8 : 0, flen, len;
	int		 n;

	FUZZ_CHECK(rf_buf_get(b, hdr, 5) == 0);
	FUZZ_CHECK((hdr[0] == 23 || hdr[0] == 21) && hdr[1] == 3 &&
	    hdr[2] == 3);
	flen = (size_t)hdr[3] << 8 | hdr[4];
	FUZZ_CHECK(flen >= x + 16 && flen <= 16384 + x + 16);
	FUZZ_CHECK(rf_buf_len(b) >= flen);
	FUZZ_CHECK(rf_buf_get(b, expl, x) == 0);
	if (x > 0)
		FUZZ_CHECK(expl[0] == (uint8_t)(f->ow.seq >> 56) &&
		    expl[7] == (uint8_t)f->ow.seq);
	len = flen - x - 16;
	ctx = model_ctx(f, &f->ow, 0, expl);
	aad12(aad, f->ow.seq, hdr[0], len);
	FUZZ_CHECK(EVP_DecryptUpdate(ctx, NULL, &n, aad, 13) == 1);
	FUZZ_CHECK(len == 0 || EVP_DecryptUpdate(ctx, inner, &n,
	    rf_buf_ptr(b), (int)len) == 1);
	FUZZ_CHECK(rf_buf_consume(b, len) == 0 &&
	    rf_buf_get(b, tag, 16) == 0);
	FUZZ_CHECK(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16,
	    tag) == 1);
	FUZZ_CHECK(EVP_DecryptFinal_ex(ctx, inner + len, &n) == 1);
	f->ow.seq++;
	*lenp = len;
	return hdr[0];
}

/* Opens the next record of ours in b; its type, its content in inner. */
static uint8_t
model_open(struct fz *f, struct rf_buf *b, size_t *lenp)
{
	EVP_CIPHER_CTX	*ctx;
	unsigned char	 hdr[5], tag[16];
	size_t		 ctlen;
	int		 n;

	if (f->tls12)
		return model_open12(f, b, lenp);
	FUZZ_CHECK(rf_buf_get(b, hdr, 5) == 0);
	FUZZ_CHECK(hdr[0] == 23 && hdr[1] == 3 && hdr[2] == 3);
	ctlen = (size_t)hdr[3] << 8 | hdr[4];
	FUZZ_CHECK(ctlen >= 17 && ctlen <= 16384 + 17);
	FUZZ_CHECK(rf_buf_len(b) >= ctlen);
	ctx = model_ctx(f, &f->ow, 0, NULL);
	FUZZ_CHECK(EVP_DecryptUpdate(ctx, NULL, &n, hdr, 5) == 1);
	FUZZ_CHECK(EVP_DecryptUpdate(ctx, inner, &n, rf_buf_ptr(b),
	    (int)(ctlen - 16)) == 1);
	FUZZ_CHECK(rf_buf_consume(b, ctlen - 16) == 0 &&
	    rf_buf_get(b, tag, 16) == 0);
	FUZZ_CHECK(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16,
	    tag) == 1);
	FUZZ_CHECK(EVP_DecryptFinal_ex(ctx, inner + n, &n) == 1);
	f->ow.seq++;
	/* We never pad: the last byte is the type. */
	*lenp = ctlen - 17;
	return inner[ctlen - 17];
}

/* r->out must hold exactly our KeyUpdate, if ku, then len bytes of p. */
static void
check_out(struct fz *f, int ku, const unsigned char *p, size_t len,
    int close)
{
	static const unsigned char	 kumsg[] = { 24, 0, 0, 1, 0 };
	struct rf_buf			 b;
	size_t				 n, off = 0;

	rf_buf_from(&b, rf_buf_ptr(&f->r.out), rf_buf_len(&f->r.out));
	if (ku) {
		FUZZ_CHECK(model_open(f, &b, &n) == 22 && n == 5 &&
		    memcmp(inner, kumsg, 5) == 0);
		mdir_update(f, &f->ow);
	}
	while (off < len) {
		FUZZ_CHECK(model_open(f, &b, &n) == 23);
		FUZZ_CHECK(n == (len - off < 16384 ? len - off : 16384));
		FUZZ_CHECK(memcmp(inner, p + off, n) == 0);
		off += n;
	}
	if (close)
		FUZZ_CHECK(model_open(f, &b, &n) == 21 && n == 2 &&
		    inner[0] == 1 && inner[1] == 0);
	FUZZ_CHECK(rf_buf_len(&b) == 0);
	rf_buf_reset(&f->r.out);
}

static int
fz_rx(void *arg, const void *p, size_t len)
{
	struct fz	*f = arg;

	FUZZ_CHECK(len > 0 && len <= 16384 && !f->r.done && !f->ended);
	FUZZ_CHECK(rf_buf_put(&f->got, p, len) == 0);
	f->calls++;
	if (f->stop_every > 0 && f->calls % f->stop_every == 0)
		return FZ_STOP;
	return 0;
}

/* Feeds len bytes of rec in pieces picked by split; the result. */
static int
feed(struct fz *f, size_t len, uint8_t split)
{
	unsigned int	 x = split;
	size_t		 off = 0, n, most;
	int		 rv = 0;

	most = split < 64 ? len : split < 128 && len < 512 ? 1 :
	    (size_t)(split & 0x3f) * 64 + 1;
	while (off < len || rv == FZ_STOP) {
		if (rv == FZ_STOP) {
			rv = rf_tlsrec_open(&f->r, NULL, 0, fz_rx, f);
			continue;
		}
		if (rv != 0)
			break;
		x = x * 1103515245 + 12345;
		n = most <= 1 ? 1 : 1 + (x >> 8) % most;
		if (n > len - off)
			n = len - off;
		rv = rf_tlsrec_open(&f->r, rec + off, n, fz_rx, f);
		off += n;
	}
	FUZZ_CHECK(rv != FZ_STOP);
	if (rv == 0 && !f->r.done)
		FUZZ_CHECK(f->r.in.d == NULL);	/* whole records: none held */
	return rv;
}

/*
 * The handshake messages of a TLS 1.3 record, each whole in it: a
 * KeyUpdate, which must end the record, and before it, for a client's
 * layer only, any number of NewSessionTickets, which are dropped unread
 * (any body that fits, even an empty one).
 */
static int
model_handshake(const struct fz *f, const unsigned char *p, size_t len,
    int *ku)
{
	size_t	 off = 0, mlen;

	do {
		if (len - off < 4)
			return RF_ERR_PROTO;
		mlen = (size_t)p[off + 1] << 16 | (size_t)p[off + 2] << 8 |
		    p[off + 3];
		if (f->client && p[off] == 4) {
			if (len - off - 4 < mlen)
				return RF_ERR_PROTO;
			off += 4 + mlen;
			continue;
		}
		if (p[off] != 24 || mlen != 1 || len - off != 5 ||
		    p[off + 4] > 1)
			return RF_ERR_PROTO;
		*ku = 1 + p[off + 4];
		return 0;
	} while (off < len);
	return 0;
}

/*
 * What the layer must make of an inner plaintext: the result, and in
 * *ku 1 or 2 for a KeyUpdate (2: update_requested).
 */
static int
model_inner(const struct fz *f, const unsigned char *p, size_t len,
    size_t *dlen, int *ku)
{
	struct rf_buf	 b;
	uint8_t		 type = 0;

	*dlen = 0;
	*ku = 0;
	while (!f->tls12 && len > 0 && p[len - 1] == 0)
		len--;
	if (len == 0)
		return RF_ERR_PROTO;
	type = p[len - 1];
	len--;
	if (len > 16384)
		return RF_ERR_PROTO;
	rf_buf_from(&b, p, len);
	switch (type) {
	case 23:
		*dlen = len;
		return 0;
	case 21:
		if (len != 2)
			return RF_ERR_PROTO;
		return p[1] == 0 ? RF_ERR_EOF : RF_ERR_PROTO;
	case 22:
		if (f->tls12)
			return RF_ERR_PROTO;
		return model_handshake(f, p, len, ku);
	default:
		return RF_ERR_PROTO;
	}
}

/* Seals one inner plaintext, feeds it, checks the layer against the model. */
static void
run_inner(struct fz *f, size_t ilen, uint8_t split)
{
	size_t	 reclen, dlen;
	int	 want, ku, rv;

	want = model_inner(f, inner, ilen, &dlen, &ku);
	reclen = model_seal(f, inner, ilen);
	rf_buf_reset(&f->got);
	rv = feed(f, reclen, split);
	if (f->ended) {
		FUZZ_CHECK(rv == RF_ERR_PROTO && rf_buf_len(&f->got) == 0);
		return;
	}
	FUZZ_CHECK(rv == want);
	FUZZ_CHECK(rf_buf_len(&f->got) == dlen &&
	    (dlen == 0 || memcmp(rf_buf_ptr(&f->got), inner, dlen) == 0));
	if (rv != 0) {
		FUZZ_CHECK(f->r.done && f->r.why != NULL);
		f->ended = 1;
		check_out(f, 0, NULL, 0, 0);
		return;
	}
	if (ku > 0)
		mdir_update(f, &f->pw);
	check_out(f, ku == 2 && !f->closed, NULL, 0, 0);
}

/* Application data of n bytes with pad zeros after its type. */
static void
op_app(struct fz *f)
{
	size_t	 n = next16(f) % (16384 + 240), pad = next8(f);
	uint8_t	 split = next8(f);
	size_t	 i;

	if (f->tls12)
		pad = 0;
	if (n + 1 + pad > 16384 + 256 - 16)
		pad = 16384 + 256 - 16 - 1 - n;
	for (i = 0; i < n; i++)
		inner[i] = (unsigned char)(i * 31 + n);
	inner[n] = 23;
	memset(inner + n + 1, 0, pad);
	run_inner(f, n + 1 + pad, split);
}

static void
op_inner(struct fz *f)
{
	size_t	 n = next8(f), i;

	for (i = 0; i < n; i++)
		inner[i] = next8(f);
	run_inner(f, n, next8(f));
}

/* A KeyUpdate at inner[n..); the new length. */
static size_t
put_ku(uint8_t ctl, size_t n)
{
	inner[n] = 24;
	inner[n + 1] = 0;
	inner[n + 2] = 0;
	inner[n + 3] = 1;
	inner[n + 4] = (ctl >> 3) & 1;
	return n + 5;
}

/* A NewSessionTicket whose body is as long as the next input byte says. */
static size_t
put_nst(struct fz *f, size_t n)
{
	size_t	 len = next8(f), i;

	inner[n] = 4;
	inner[n + 1] = 0;
	inner[n + 2] = 0;
	inner[n + 3] = (unsigned char)len;
	for (i = 0; i < len; i++)
		inner[n + 4 + i] = (unsigned char)(i * 5 + len);
	return n + 4 + len;
}

static void
op_keyupdate(struct fz *f, uint8_t ctl)
{
	size_t	 pad = next8(f), nst = 0, n = 0, i;
	int	 ku = 1, first = 0;

	if (f->client) {
		nst = (ctl >> 4) & 3;
		ku = !((ctl >> 6) & 1);
		first = (ctl >> 7) & 1;
	}
	if (ku && first)
		n = put_ku(ctl, n);
	for (i = 0; i < nst; i++)
		n = put_nst(f, n);
	if (ku && !first)
		n = put_ku(ctl, n);
	inner[n++] = 22;
	if (f->tls12)
		pad = 0;
	memset(inner + n, 0, pad);
	run_inner(f, n + pad, next8(f));
}

/* A record spoilt in its type, its version or its body: refused. */
static void
op_tamper(struct fz *f, uint8_t ctl)
{
	size_t	 n = next8(f), reclen, at;
	uint8_t	 what = next8(f), split = next8(f);
	int	 rv, want;

	memset(inner, 'x', n);
	inner[n] = 23;
	reclen = model_seal(f, inner, n + 1);
	switch ((ctl >> 3) % 3) {
	case 0:
		rec[0] = what == 23 ? 24 : what;
		/* TLS 1.2: a type it takes, but not the one authenticated. */
		want = f->tls12 && (rec[0] == 21 || rec[0] == 22) ?
		    RF_ERR_TLS : RF_ERR_PROTO;
		break;
	case 1:
		rec[1 + (what & 1)] ^= (uint8_t)(what | 1);
		want = f->tls12 ? RF_ERR_PROTO : RF_ERR_TLS;
		break;
	default:
		at = 5 + what % (reclen - 5);
		rec[at] ^= (uint8_t)((ctl >> 5) | 1);
		want = RF_ERR_TLS;
		break;
	}
	rf_buf_reset(&f->got);
	rv = feed(f, reclen, split);
	FUZZ_CHECK(rf_buf_len(&f->got) == 0);
	FUZZ_CHECK(rv == (f->ended ? RF_ERR_PROTO : want));
	FUZZ_CHECK(f->r.done);
	f->ended = 1;
	check_out(f, 0, NULL, 0, 0);
}

static void
op_seal(struct fz *f)
{
	size_t	 n = next16(f) % sizeof(data), i;
	int	 rv;

	for (i = 0; i < n; i++)
		data[i] = (unsigned char)(i * 13 + n);
	rv = rf_tlsrec_seal(&f->r, data, n);
	if (f->closed) {
		FUZZ_CHECK(rv == RF_ERR_INVAL);
		check_out(f, 0, NULL, 0, 0);
		return;
	}
	FUZZ_CHECK(rv == 0);
	check_out(f, 0, data, n, 0);
}

static void
op_close(struct fz *f)
{
	int	 rv = rf_tlsrec_close_notify(&f->r);

	if (f->closed) {
		FUZZ_CHECK(rv == RF_ERR_INVAL);
		check_out(f, 0, NULL, 0, 0);
		return;
	}
	FUZZ_CHECK(rv == 0);
	f->closed = 1;
	check_out(f, 0, NULL, 0, 1);
}

static int
raw_rx(void *arg, const void *p, size_t len)
{
	/* Delivering would mean a forged tag. */
	FUZZ_CHECK(0);
	return 0;
}

/*
 * A layer that took raw bytes without complaint holds the start of one
 * record, whose header, as far as it goes, is acceptable (§5.1, §5.2).
 */
static void
check_held(const struct rf_tlsrec *raw)
{
	struct rf_buf	 b;
	uint16_t	 len;
	uint8_t		 type;

	size_t		 least = !raw->tls12 ? 17 :
			    raw->suite == RF_TLSREC_CHACHA20_POLY1305_SHA256 ?
			    16 : 24;

	rf_buf_from(&b, rf_buf_ptr(&raw->in), rf_buf_len(&raw->in));
	FUZZ_CHECK(rf_buf_len(&b) < FZ_REC_MAX);
	FUZZ_CHECK((rf_buf_len(&b) == 0) == (raw->in.d == NULL));
	if (rf_buf_peek_u8(&b, 0, &type) == 0)
		FUZZ_CHECK(type == 23 ||
		    (raw->tls12 && (type == 21 || type == 22)));
	if (raw->tls12 && rf_buf_peek_u16(&b, 1, &len) == 0)
		FUZZ_CHECK(len == 0x0303);
	if (rf_buf_peek_u16(&b, 3, &len) == 0)
		FUZZ_CHECK(len >= least &&
		    len <= 16384 + (raw->tls12 ? 2048 : 256) &&
		    rf_buf_len(&b) < 5 + (size_t)len);
}

/* Raw bytes to a layer of their own: headers, partial records. */
static void
op_raw(struct fz *f, struct rf_tlsrec *raw)
{
	size_t	 n = next8(f), i;
	int	 done = raw->done, rv;

	for (i = 0; i < n; i++)
		rec[i] = next8(f);
	rv = rf_tlsrec_open(raw, rec, n, raw_rx, NULL);
	if (done) {
		FUZZ_CHECK(rv == RF_ERR_PROTO);
		return;
	}
	FUZZ_CHECK(rv == 0 || rv == RF_ERR_PROTO || rv == RF_ERR_TLS);
	FUZZ_CHECK((rv != 0) == raw->done && rf_buf_len(&raw->out) == 0);
	if (rv != 0)
		FUZZ_CHECK(raw->why != NULL && raw->in.d == NULL);
	else
		check_held(raw);
}

/*
 * A client's layer reads with the server's keys: swapped, as
 * rf_tlsrec_take does for a client.
 */
static void
swap12(struct rf_tlsrec *r)
{
	struct rf_tlsrec_dir	 d = r->rd;

	r->rd = r->wr;
	r->wr = d;
	r->client = 1;
}

/*
 * TLS 1.2: both layers and the model from one made-up key block, whose
 * first keys are the client's.
 */
static void
init12(struct fz *f, struct rf_tlsrec *raw)
{
	unsigned char	 kb[2 * 32 + 2 * 12];
	struct mdir	*cw, *sw;
	size_t		 i, ivlen;

	f->explicit = f->suite != RF_TLSREC_CHACHA20_POLY1305_SHA256;
	ivlen = f->explicit ? 4 : 12;
	for (i = 0; i < sizeof(kb); i++)
		kb[i] = (unsigned char)(i * 7 + 1);
	cw = f->client ? &f->ow : &f->pw;
	sw = f->client ? &f->pw : &f->ow;
	memcpy(cw->key, kb, f->klen);
	memcpy(sw->key, kb + f->klen, f->klen);
	memcpy(cw->iv, kb + 2 * f->klen, ivlen);
	memcpy(sw->iv, kb + 2 * f->klen + ivlen, ivlen);
	FUZZ_CHECK(rf_tlsrec_init_keys12(&f->r, f->suite, kb) == 0);
	FUZZ_CHECK(rf_tlsrec_init_keys12(raw, f->suite, kb) == 0);
	FUZZ_CHECK(f->r.tls12 && raw->tls12);
	if (f->client) {
		swap12(&f->r);
		swap12(raw);
	}
}

/* TLS 1.3: the peer's secret reads, ours writes. */
static void
init13(struct fz *f, struct rf_tlsrec *raw)
{
	const unsigned char	*peer, *ours;

	peer = f->client ? server_secret : client_secret;
	ours = f->client ? client_secret : server_secret;
	memcpy(f->pw.secret, peer, f->hlen);
	memcpy(f->ow.secret, ours, f->hlen);
	mdir_keys(f, &f->pw);
	mdir_keys(f, &f->ow);
	FUZZ_CHECK(rf_tlsrec_init_keys(&f->r, f->suite, peer, ours) == 0);
	FUZZ_CHECK(rf_tlsrec_init_keys(raw, f->suite, peer, ours) == 0);
	f->r.client = raw->client = f->client;
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t size)
{
	static const size_t	 klens[] = { 16, 32, 32 };
	struct rf_tlsrec	 raw;
	struct fz		 f;
	uint8_t			 first, ctl;

	memset(&f, 0, sizeof(f));
	f.in = d;
	f.inlen = size;
	first = next8(&f);
	f.suite = (enum rf_tlsrec_suite)(1 + (first & 3) % 3);
	f.stop_every = (first >> 2) & 7;
	f.klen = klens[f.suite - 1];
	f.cipher = f.suite == RF_TLSREC_AES_128_GCM_SHA256 ?
	    EVP_aes_128_gcm() : f.suite == RF_TLSREC_AES_256_GCM_SHA384 ?
	    EVP_aes_256_gcm() : EVP_chacha20_poly1305();
	f.md = f.suite == RF_TLSREC_AES_256_GCM_SHA384 ? EVP_sha384() :
	    EVP_sha256();
	f.hlen = (size_t)EVP_MD_get_size(f.md);
	f.client = (first >> 6) & 1;
	if ((f.tls12 = (first >> 5) & 1))
		init12(&f, &raw);
	else
		init13(&f, &raw);
	rf_buf_init(&f.got, 1 << 20);
	while (f.inlen > 0) {
		ctl = next8(&f);
		switch (ctl % 7) {
		case 0:
			op_raw(&f, &raw);
			break;
		case 1:
			op_app(&f);
			break;
		case 2:
			op_inner(&f);
			break;
		case 3:
			op_keyupdate(&f, ctl);
			break;
		case 4:
			op_tamper(&f, ctl);
			break;
		case 5:
			op_seal(&f);
			break;
		default:
			op_close(&f);
			break;
		}
	}
	rf_buf_free(&f.got);
	rf_tlsrec_free(&f.r);
	rf_tlsrec_free(&raw);
	return 0;
}
