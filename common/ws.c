/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * RFC 6455 framing (see ws.h): the accept key, the frame decoder and
 * encoders, close payloads and the message assembler.  Every header byte
 * from a peer is read through struct rf_buf getters; the payload is
 * delimited by rf_buf_get_sub before anything touches it, and then only
 * rf_ws_mask walks it, within the length the view has checked.
 */
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "buf.h"
#include "err.h"
#include "ws.h"

/* The first two header bytes (§5.2). */
#define WS_FIN		0x80
#define WS_RSV		0x70
#define WS_OPCODE	0x0f
#define WS_MASKED	0x80
#define WS_LEN7		0x7f
#define WS_LEN_16	126	/* a 16-bit length follows */
#define WS_LEN_64	127	/* a 64-bit length follows */

int
rf_ws_opcode_known(uint8_t op)
{
	switch (op) {
	case RF_WS_CONT:
	case RF_WS_TEXT:
	case RF_WS_BINARY:
	case RF_WS_CLOSE:
	case RF_WS_PING:
	case RF_WS_PONG:
		return 1;
	default:
		return 0;
	}
}

int
rf_ws_opcode_control(uint8_t op)
{
	return op == RF_WS_CLOSE || op == RF_WS_PING || op == RF_WS_PONG;
}

const char *
rf_ws_opcode_name(uint8_t op)
{
	switch (op) {
	case RF_WS_CONT:
		return "continuation";
	case RF_WS_TEXT:
		return "text";
	case RF_WS_BINARY:
		return "binary";
	case RF_WS_CLOSE:
		return "close";
	case RF_WS_PING:
		return "ping";
	case RF_WS_PONG:
		return "pong";
	default:
		return "unknown";
	}
}

/* The value of a base64 character, or -1. */
static int
ws_b64_value(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * 16 bytes are 22 base64 characters and "==".  The 22nd carries only two
 * bits of data; its four low bits must be 0, as every real encoder writes
 * them, so that exactly one spelling of a key is accepted (RFC 4648 §3.5).
 */
static int
ws_key_valid(const char *key)
{
	struct rf_buf	 b;
	uint8_t		 c;
	size_t		 i;
	int		 v = -1;

	rf_buf_from(&b, key, strnlen(key, RF_WS_KEY_LEN + 1));
	if (rf_buf_len(&b) != RF_WS_KEY_LEN)
		return 0;
	for (i = 0; i < RF_WS_KEY_LEN - 2; i++) {
		rf_buf_get_u8(&b, &c);
		if ((v = ws_b64_value(c)) < 0)
			return 0;
	}
	if ((v & 0x0f) != 0)
		return 0;
	for (; i < RF_WS_KEY_LEN; i++) {
		rf_buf_get_u8(&b, &c);
		if (c != '=')
			return 0;
	}
	return 1;
}

int
rf_ws_accept_key(const char *client_key, char out[RF_WS_ACCEPT_LEN + 1])
{
	unsigned char	 in[RF_WS_KEY_LEN + sizeof(RF_WS_GUID) - 1];
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;

	out[0] = '\0';
	if (!ws_key_valid(client_key))
		return RF_ERR_PROTO;
	memcpy(in, client_key, RF_WS_KEY_LEN);
	memcpy(in + RF_WS_KEY_LEN, RF_WS_GUID, sizeof(RF_WS_GUID) - 1);
	if (EVP_Digest(in, sizeof(in), md, &mdlen, EVP_sha1(), NULL) != 1 ||
	    mdlen != 20)
		return RF_ERR_TLS;
	/* 20 bytes make 28 characters and the NUL EVP_EncodeBlock adds. */
	if (EVP_EncodeBlock((unsigned char *)out, md, 20) != RF_WS_ACCEPT_LEN) {
		out[0] = '\0';
		return RF_ERR_TLS;
	}
	return 0;
}

static int
ws_fail(struct rf_ws_frame *f, int err, const char *why)
{
	f->payload = NULL;
	f->why = why;
	f->close_code = err == RF_ERR_LIMIT ? RF_WS_CLOSE_TOO_BIG :
	    RF_WS_CLOSE_PROTOCOL;
	return err;
}

/*
 * The first two bytes.  Each check runs as soon as its byte is there, so
 * a peer sending garbage is refused after one byte, not after a payload.
 */
static int
ws_decode_head(struct rf_buf *h, int expect_masked, struct rf_ws_frame *f,
    uint8_t *len7)
{
	uint8_t	 b0, b1;
	int	 control;

	*len7 = 0;
	if (rf_buf_get_u8(h, &b0) != 0)
		return RF_ERR_SHORT;
	f->fin = (b0 & WS_FIN) != 0;
	f->rsv = (b0 & WS_RSV) >> 4;
	f->opcode = b0 & WS_OPCODE;
	if (f->rsv != 0)
		return ws_fail(f, RF_ERR_PROTO, "RSV bits set");
	if (!rf_ws_opcode_known(f->opcode))
		return ws_fail(f, RF_ERR_PROTO, "unknown opcode");
	control = rf_ws_opcode_control(f->opcode);
	if (control && !f->fin)
		return ws_fail(f, RF_ERR_PROTO, "fragmented control frame");
	if (rf_buf_get_u8(h, &b1) != 0)
		return RF_ERR_SHORT;
	f->masked = (b1 & WS_MASKED) != 0;
	*len7 = b1 & WS_LEN7;
	if (control && *len7 > RF_WS_CONTROL_MAX)
		return ws_fail(f, RF_ERR_PROTO, "control frame over 125 bytes");
	if (f->masked != (expect_masked != 0))
		return ws_fail(f, RF_ERR_PROTO, expect_masked ?
		    "unmasked frame from a client" :
		    "masked frame from a server");
	return 0;
}

/*
 * The payload length.  §5.2 says the minimal number of bytes MUST be
 * used; a peer that pads is broken or probing, and two spellings of one
 * header would also break our re-encoding invariant.
 */
static int
ws_decode_len(struct rf_buf *h, uint8_t len7, struct rf_ws_frame *f,
    uint64_t *lenp)
{
	uint16_t	 v16;
	uint64_t	 v64;

	*lenp = 0;
	if (len7 < WS_LEN_16) {
		*lenp = len7;
		return 0;
	}
	if (len7 == WS_LEN_16) {
		if (rf_buf_get_u16(h, &v16) != 0)
			return RF_ERR_SHORT;
		if (v16 < WS_LEN_16)
			return ws_fail(f, RF_ERR_PROTO,
			    "length not in its shortest form");
		*lenp = v16;
		return 0;
	}
	if (rf_buf_get_u64(h, &v64) != 0)
		return RF_ERR_SHORT;
	if (v64 >> 63 != 0)
		return ws_fail(f, RF_ERR_PROTO, "length with bit 63 set");
	if (v64 <= UINT16_MAX)
		return ws_fail(f, RF_ERR_PROTO,
		    "length not in its shortest form");
	*lenp = v64;
	return 0;
}

/* The header up to the payload; h is a view of in's unread bytes. */
static int
ws_decode_header(struct rf_buf *h, const struct rf_buf *in,
    int expect_masked, size_t max_payload, struct rf_ws_frame *f,
    uint64_t *lenp)
{
	uint8_t		 len7;
	int		 r;

	if ((r = ws_decode_head(h, expect_masked, f, &len7)) != 0 ||
	    (r = ws_decode_len(h, len7, f, lenp)) != 0)
		return r;
	f->hdr_len = 2 + (len7 == WS_LEN_16 ? 2 : len7 == WS_LEN_64 ? 8 : 0) +
	    (f->masked ? 4 : 0);
	/* For the log line only: a refused length need not fit a size_t. */
	f->len = *lenp > SIZE_MAX ? SIZE_MAX : (size_t)*lenp;
	if (*lenp > max_payload)
		return ws_fail(f, RF_ERR_LIMIT, "frame over the size limit");
	if (!in->readonly && (*lenp > in->max_size ||
	    f->hdr_len > in->max_size - *lenp))
		return ws_fail(f, RF_ERR_LIMIT,
		    "frame larger than the receive buffer");
	if (f->masked && rf_buf_get(h, f->mask, sizeof(f->mask)) != 0)
		return RF_ERR_SHORT;
	return 0;
}

int
rf_ws_frame_decode(struct rf_buf *in, int expect_masked, size_t max_payload,
    struct rf_ws_frame *f)
{
	struct rf_buf	 h, sub;
	uint64_t	 len = 0;
	unsigned char	*p;
	int		 r;

	memset(f, 0, sizeof(*f));
	rf_buf_from(&h, rf_buf_ptr(in), rf_buf_len(in));
	r = ws_decode_header(&h, in, expect_masked, max_payload, f, &len);
	if (r == 0 && rf_buf_len(&h) < len)
		r = RF_ERR_SHORT;
	if (r == RF_ERR_SHORT)
		memset(f, 0, sizeof(*f));
	if (r != 0)
		return r;
	if (f->masked && in->readonly) {
		memset(f, 0, sizeof(*f));
		f->why = "masked frame in a read-only buffer";
		return RF_ERR_INVAL;
	}
	/* Cannot fail: the header and len bytes were seen in h. */
	if (rf_buf_consume(in, f->hdr_len) != 0 ||
	    rf_buf_get_sub(in, (size_t)len, &sub) != 0)
		return RF_ERR_INVAL;
	/* in is owned (checked above when masked): its storage is ours. */
	p = (unsigned char *)(uintptr_t)rf_buf_ptr(&sub);
	if (f->masked)
		rf_ws_mask(p, f->len, f->mask, 0);
	f->payload = p;
	return 0;
}

/*
 * The hot path of every received byte: unaligned bytes one by one, then
 * eight at a time on aligned words.  memcpy to and from a uint64_t keeps
 * the key's byte order whatever the host's and is compiled to one load
 * and one store; as 8 is a multiple of 4, one key word serves them all.
 */
void
rf_ws_mask(void *buf, size_t len, const uint8_t key[4], size_t pos)
{
	unsigned char	*p = buf;
	unsigned char	 k8[8];
	uint64_t	 k, w;
	size_t		 i = 0, j;

	while (i < len && ((uintptr_t)(p + i) & 7) != 0) {
		p[i] ^= key[(pos + i) & 3];
		i++;
	}
	if (len - i >= 8) {
		for (j = 0; j < 8; j++)
			k8[j] = key[(pos + i + j) & 3];
		memcpy(&k, k8, sizeof(k));
		for (; len - i >= 8; i += 8) {
			memcpy(&w, p + i, sizeof(w));
			w ^= k;
			memcpy(p + i, &w, sizeof(w));
		}
	}
	for (; i < len; i++)
		p[i] ^= key[(pos + i) & 3];
}

/* §10.3: a client's keys must not be predictable by the page's script. */
int
rf_ws_mask_key(uint8_t key[4])
{
	if (RAND_bytes(key, 4) != 1) {
		memset(key, 0, 4);
		return RF_ERR_TLS;
	}
	return 0;
}

size_t
rf_ws_frame_header(unsigned char hdr[RF_WS_HEADER_MAX], int fin,
    uint8_t opcode, size_t len, const uint8_t *mask)
{
	uint64_t	 v = len;
	size_t		 n = 2, i;

	if (!rf_ws_opcode_known(opcode) || v >> 63 != 0)
		return 0;
	if (rf_ws_opcode_control(opcode) && (!fin || len > RF_WS_CONTROL_MAX))
		return 0;
	hdr[0] = (fin ? WS_FIN : 0) | opcode;
	hdr[1] = mask != NULL ? WS_MASKED : 0;
	if (v < WS_LEN_16)
		hdr[1] |= (unsigned char)v;
	else if (v <= UINT16_MAX) {
		hdr[1] |= WS_LEN_16;
		hdr[2] = (unsigned char)(v >> 8);
		hdr[3] = (unsigned char)v;
		n = 4;
	} else {
		hdr[1] |= WS_LEN_64;
		for (i = 0; i < 8; i++)
			hdr[2 + i] = (unsigned char)(v >> (56 - 8 * i));
		n = 10;
	}
	if (mask != NULL) {
		memcpy(hdr + n, mask, 4);
		n += 4;
	}
	return n;
}

int
rf_ws_put_frame(struct rf_buf *out, int fin, uint8_t opcode,
    const void *payload, size_t len, const uint8_t *mask)
{
	unsigned char	 hdr[RF_WS_HEADER_MAX], *dp;
	size_t		 hlen;
	int		 r;

	if (len > 0 && payload == NULL)
		return RF_ERR_INVAL;
	if ((hlen = rf_ws_frame_header(hdr, fin, opcode, len, mask)) == 0)
		return RF_ERR_INVAL;
	if (len > SIZE_MAX - hlen)
		return RF_ERR_LIMIT;
	if ((r = rf_buf_reserve(out, hlen + len, &dp)) != 0)
		return r;
	memcpy(dp, hdr, hlen);
	if (len > 0) {
		rf_copy(dp + hlen, payload, len);
		if (mask != NULL)
			rf_ws_mask(dp + hlen, len, mask, 0);
	}
	return 0;
}

/*
 * 1012-1014 are registered with IANA since RFC 6455 but not in it; we
 * follow the RFC, as the Autobahn suite does, and a peer that sends one
 * gets 1002 back instead of an echo, which is harmless while closing.
 */
int
rf_ws_close_code_valid(uint16_t code)
{
	return (code >= 1000 && code <= 1003) ||
	    (code >= 1007 && code <= 1011) ||
	    (code >= 3000 && code <= 4999);
}

/* One code point after its lead byte c; 0 if it is malformed. */
static int
ws_utf8_char(struct rf_buf *b, uint8_t c)
{
	uint32_t	 cp, min;
	uint8_t		 cc;
	int		 n, i;

	if ((c & 0xe0) == 0xc0) {
		n = 1;
		cp = c & 0x1f;
		min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 2;
		cp = c & 0x0f;
		min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 3;
		cp = c & 0x07;
		min = 0x10000;
	} else
		return 0;	/* a continuation byte, or 0xf8-0xff */
	for (i = 0; i < n; i++) {
		if (rf_buf_get_u8(b, &cc) != 0 || (cc & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (cc & 0x3f);
	}
	return cp >= min && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff);
}

int
rf_ws_utf8_valid(const void *p, size_t len)
{
	struct rf_buf	 b;
	uint8_t		 c;

	rf_buf_from(&b, p, len);
	while (rf_buf_get_u8(&b, &c) == 0)
		if (c >= 0x80 && !ws_utf8_char(&b, c))
			return 0;
	return 1;
}

int
rf_ws_close_parse(const void *payload, size_t len, struct rf_ws_close *c)
{
	struct rf_buf	 b;
	uint16_t	 code;
	size_t		 n;

	memset(c, 0, sizeof(*c));
	if (len == 0) {
		c->code = RF_WS_CLOSE_NO_STATUS;
		return 0;
	}
	rf_buf_from(&b, payload, len);
	if (rf_buf_get_u16(&b, &code) != 0 || !rf_ws_close_code_valid(code))
		return RF_ERR_PROTO;
	n = rf_buf_len(&b);
	if (n > RF_WS_REASON_MAX || !rf_ws_utf8_valid(rf_buf_ptr(&b), n))
		return RF_ERR_PROTO;
	if (rf_buf_get(&b, c->reason, n) != 0)
		return RF_ERR_PROTO;
	c->reason[n] = '\0';
	c->reason_len = n;
	c->code = code;
	return 0;
}

int
rf_ws_close_payload(unsigned char p[RF_WS_CONTROL_MAX], uint16_t code,
    const char *reason, size_t *lenp)
{
	size_t	 n = reason != NULL ? strlen(reason) : 0;

	*lenp = 0;
	if (code == 0)
		return n == 0 ? 0 : RF_ERR_INVAL;
	if (!rf_ws_close_code_valid(code))
		return RF_ERR_INVAL;
	if (n > RF_WS_REASON_MAX)
		return RF_ERR_LIMIT;
	if (!rf_ws_utf8_valid(reason, n))
		return RF_ERR_INVAL;
	p[0] = (unsigned char)(code >> 8);
	p[1] = (unsigned char)code;
	if (n > 0)
		memcpy(p + 2, reason, n);
	*lenp = 2 + n;
	return 0;
}

int
rf_ws_put_close(struct rf_buf *out, uint16_t code, const char *reason,
    const uint8_t *mask)
{
	unsigned char	 p[RF_WS_CONTROL_MAX];
	size_t		 n;
	int		 r;

	if ((r = rf_ws_close_payload(p, code, reason, &n)) != 0)
		return r;
	return rf_ws_put_frame(out, 1, RF_WS_CLOSE, p, n, mask);
}

int
rf_ws_put_pong(struct rf_buf *out, const struct rf_ws_msg *ping,
    const uint8_t *mask)
{
	if (ping->opcode != RF_WS_PING)
		return RF_ERR_INVAL;
	return rf_ws_put_frame(out, 1, RF_WS_PONG, ping->data, ping->len,
	    mask);
}

void
rf_ws_asm_init(struct rf_ws_asm *a, size_t max_size)
{
	memset(a, 0, sizeof(*a));
	rf_buf_init(&a->buf, max_size);
	a->max_size = a->buf.max_size;
}

void
rf_ws_asm_free(struct rf_ws_asm *a)
{
	rf_buf_free(&a->buf);
	a->busy = 0;
	a->opcode = 0;
}

static int
ws_asm_fail(struct rf_ws_asm *a, int err, uint16_t code, const char *why)
{
	rf_buf_reset(&a->buf);
	a->busy = 0;
	a->opcode = 0;
	a->why = why;
	a->close_code = code;
	return err;
}

/* A whole message; §8.1 wants a text message's UTF-8 checked. */
static int
ws_asm_deliver(struct rf_ws_asm *a, uint8_t opcode, const unsigned char *p,
    size_t len, struct rf_ws_msg *m)
{
	if (len > a->max_size)
		return ws_asm_fail(a, RF_ERR_LIMIT, RF_WS_CLOSE_TOO_BIG,
		    "message over the size limit");
	if (opcode == RF_WS_TEXT && !rf_ws_utf8_valid(p, len))
		return ws_asm_fail(a, RF_ERR_PROTO, RF_WS_CLOSE_BAD_DATA,
		    "text message not UTF-8");
	m->opcode = opcode;
	m->data = p;
	m->len = len;
	return 0;
}

/*
 * An unfragmented message, by far the common case, is handed out where
 * it lies; only fragments are copied, into a buffer reused from one
 * message to the next.
 */
int
rf_ws_asm_add(struct rf_ws_asm *a, const struct rf_ws_frame *f,
    struct rf_ws_msg *m)
{
	int	 r;

	memset(m, 0, sizeof(*m));
	a->why = NULL;
	a->close_code = 0;
	if (f->payload == NULL || !rf_ws_opcode_known(f->opcode))
		return RF_ERR_INVAL;	/* not a decoded frame */
	if (rf_ws_opcode_control(f->opcode)) {
		m->opcode = f->opcode;
		m->data = f->payload;
		m->len = f->len;
		return 0;
	}
	if (f->opcode == RF_WS_CONT && !a->busy)
		return ws_asm_fail(a, RF_ERR_PROTO, RF_WS_CLOSE_PROTOCOL,
		    "continuation with no message started");
	if (f->opcode != RF_WS_CONT && a->busy)
		return ws_asm_fail(a, RF_ERR_PROTO, RF_WS_CLOSE_PROTOCOL,
		    "new message before the last one ended");
	if (f->opcode != RF_WS_CONT) {
		if (f->fin)
			return ws_asm_deliver(a, f->opcode, f->payload,
			    f->len, m);
		rf_buf_reset(&a->buf);
		a->busy = 1;
		a->opcode = f->opcode;
	}
	if (f->len > a->max_size - rf_buf_len(&a->buf))
		return ws_asm_fail(a, RF_ERR_LIMIT, RF_WS_CLOSE_TOO_BIG,
		    "message over the size limit");
	if ((r = rf_buf_put(&a->buf, f->payload, f->len)) != 0)
		return ws_asm_fail(a, r, RF_WS_CLOSE_INTERNAL,
		    "out of memory");
	if (!f->fin)
		return RF_ERR_AGAIN;
	a->busy = 0;
	return ws_asm_deliver(a, a->opcode, rf_buf_ptr(&a->buf),
	    rf_buf_len(&a->buf), m);
}
