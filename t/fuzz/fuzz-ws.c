/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for common/ws.c.  The first input byte picks the end
 * (bit 0: server, expecting masked frames), max_payload (bits 1-3) and
 * the receive buffer's spare room (bit 4); the rest is a stream of frames
 * decoded until it stops, each fed to the message assembler, and is also
 * tried whole as a close payload, a Sec-WebSocket-Key and UTF-8.
 *
 * Beyond surviving: a decoded frame's payload lies inside the input right
 * after its header, the bytes consumed are header + payload, the payload
 * is the input XOR the mask, re-encoding the decoded fields gives the same
 * header bytes, every strict prefix of a decoded frame is SHORT, a refusal
 * consumes nothing and says why; messages respect the limits and text is
 * UTF-8; a parsed close payload re-encodes to itself; an accepted key is
 * canonical base64 of 16 bytes; UTF-8 validation agrees with a reference
 * written from the Unicode standard's Table 3-7.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "buf.h"
#include "err.h"
#include "fuzz.h"
#include "ws.h"

#define MSG_MAX		4096

static const size_t	 max_payloads[8] = {
	0, 1, 125, 126, 65535, 65536, MSG_MAX, SIZE_MAX,
};

/* A strict prefix of a frame that decoded must be SHORT, untouched. */
static void
check_prefix(const uint8_t *p, size_t len, int expect_masked, size_t max,
    size_t max_size)
{
	struct rf_ws_frame	 f;
	struct rf_buf		 b;

	rf_buf_init(&b, max_size);
	FUZZ_CHECK(rf_buf_put(&b, p, len) == 0);
	FUZZ_CHECK(rf_ws_frame_decode(&b, expect_masked, max, &f) ==
	    RF_ERR_SHORT);
	FUZZ_CHECK(rf_buf_len(&b) == len && f.payload == NULL &&
	    f.why == NULL && f.len == 0);
	FUZZ_CHECK(memcmp(rf_buf_ptr(&b), p, len) == 0);
	rf_buf_free(&b);
}

static void
check_frame(const struct rf_ws_frame *f, const uint8_t *orig,
    const unsigned char *start, size_t consumed, int expect_masked,
    size_t max, size_t max_size)
{
	unsigned char	 hdr[RF_WS_HEADER_MAX];
	size_t		 i;

	FUZZ_CHECK(consumed == f->hdr_len + f->len);
	FUZZ_CHECK(f->hdr_len >= 2 && f->hdr_len <= RF_WS_HEADER_MAX);
	FUZZ_CHECK(f->payload == start + f->hdr_len);
	FUZZ_CHECK(f->len <= max && f->masked == expect_masked);
	FUZZ_CHECK(f->rsv == 0 && rf_ws_opcode_known(f->opcode));
	FUZZ_CHECK(f->why == NULL && f->close_code == 0);
	if (rf_ws_opcode_control(f->opcode))
		FUZZ_CHECK(f->fin && f->len <= RF_WS_CONTROL_MAX);
	for (i = 0; i < f->len; i++)
		FUZZ_CHECK(f->payload[i] == (orig[f->hdr_len + i] ^
		    (f->masked ? f->mask[i & 3] : 0)));
	FUZZ_CHECK(rf_ws_frame_header(hdr, f->fin, f->opcode, f->len,
	    f->masked ? f->mask : NULL) == f->hdr_len);
	FUZZ_CHECK(memcmp(hdr, orig, f->hdr_len) == 0);
	check_prefix(orig, f->hdr_len - 1, expect_masked, max, max_size);
	check_prefix(orig, consumed - 1, expect_masked, max, max_size);
}

static void
check_close(const void *p, size_t len)
{
	unsigned char		 out[RF_WS_CONTROL_MAX];
	struct rf_ws_close	 c;
	size_t			 n;
	int			 r;

	r = rf_ws_close_parse(p, len, &c);
	if (r != 0) {
		FUZZ_CHECK(r == RF_ERR_PROTO && c.code == 0);
		return;
	}
	if (len == 0) {
		FUZZ_CHECK(c.code == RF_WS_CLOSE_NO_STATUS);
		return;
	}
	FUZZ_CHECK(rf_ws_close_code_valid(c.code));
	FUZZ_CHECK(c.reason_len == len - 2 && c.reason[c.reason_len] == '\0');
	if (strlen(c.reason) != c.reason_len)
		return;		/* a NUL inside: not a C string to rebuild */
	FUZZ_CHECK(rf_ws_close_payload(out, c.code, c.reason, &n) == 0);
	FUZZ_CHECK(n == len && memcmp(out, p, n) == 0);
}

/* What an assembled message must satisfy; answers pings like a peer. */
static void
check_message(const struct rf_ws_msg *m)
{
	struct rf_ws_frame	 f;
	struct rf_buf		 out;

	FUZZ_CHECK(m->data != NULL);
	if (m->opcode == RF_WS_TEXT)
		FUZZ_CHECK(rf_ws_utf8_valid(m->data, m->len));
	if (!rf_ws_opcode_control(m->opcode)) {
		FUZZ_CHECK(m->opcode == RF_WS_TEXT ||
		    m->opcode == RF_WS_BINARY);
		FUZZ_CHECK(m->len <= MSG_MAX);
		return;
	}
	FUZZ_CHECK(m->len <= RF_WS_CONTROL_MAX);
	if (m->opcode == RF_WS_CLOSE)
		check_close(m->data, m->len);
	if (m->opcode != RF_WS_PING)
		return;
	rf_buf_init(&out, 0);
	FUZZ_CHECK(rf_ws_put_pong(&out, m, NULL) == 0);
	FUZZ_CHECK(rf_ws_frame_decode(&out, 0, RF_WS_CONTROL_MAX, &f) == 0);
	FUZZ_CHECK(f.opcode == RF_WS_PONG && f.len == m->len &&
	    memcmp(f.payload, m->data, m->len) == 0);
	rf_buf_free(&out);
}

static void
check_stream(const uint8_t *data, size_t size, int expect_masked,
    size_t max, size_t spare)
{
	struct rf_ws_frame	 f;
	struct rf_ws_asm	 a;
	struct rf_ws_msg	 m;
	struct rf_buf		 in;
	const unsigned char	*start;
	size_t			 off = 0, before, max_size = size + spare;
	int			 r;

	if (max_size == 0)
		return;
	rf_buf_init(&in, max_size);
	FUZZ_CHECK(rf_buf_put(&in, data, size) == 0);
	rf_ws_asm_init(&a, MSG_MAX);
	for (;;) {
		before = rf_buf_len(&in);
		start = rf_buf_ptr(&in);
		r = rf_ws_frame_decode(&in, expect_masked, max, &f);
		if (r != 0)
			break;
		check_frame(&f, data + off, start, before - rf_buf_len(&in),
		    expect_masked, max, max_size);
		off += before - rf_buf_len(&in);
		r = rf_ws_asm_add(&a, &f, &m);
		if (r == 0)
			check_message(&m);
		else if (r != RF_ERR_AGAIN) {
			FUZZ_CHECK(r == RF_ERR_PROTO || r == RF_ERR_LIMIT);
			FUZZ_CHECK(a.why != NULL && a.close_code != 0 &&
			    m.data == NULL && !a.busy);
		}
	}
	FUZZ_CHECK(rf_buf_len(&in) == before && off + before == size);
	if (r == RF_ERR_SHORT) {
		FUZZ_CHECK(f.why == NULL && f.hdr_len == 0);
	} else {
		FUZZ_CHECK(r == RF_ERR_PROTO || r == RF_ERR_LIMIT);
		FUZZ_CHECK(f.why != NULL && f.payload == NULL);
		FUZZ_CHECK(f.close_code == (r == RF_ERR_LIMIT ?
		    RF_WS_CLOSE_TOO_BIG : RF_WS_CLOSE_PROTOCOL));
		if (r == RF_ERR_LIMIT)
			FUZZ_CHECK(f.len > max || f.len > max_size ||
			    f.hdr_len > max_size - f.len);
	}
	rf_ws_asm_free(&a);
	rf_buf_free(&in);
}

static void
check_accept(const uint8_t *data, size_t size)
{
	char		*key;
	char		 out[RF_WS_ACCEPT_LEN + 1];
	unsigned char	 raw[20], again[RF_WS_KEY_LEN + 1];

	if ((key = malloc(size + 1)) == NULL)
		abort();
	memcpy(key, data, size);
	key[size] = '\0';
	if (rf_ws_accept_key(key, out) == 0) {
		FUZZ_CHECK(strlen(key) == RF_WS_KEY_LEN);
		FUZZ_CHECK(strlen(out) == RF_WS_ACCEPT_LEN);
		/* Decoding keeps the padding's zero bytes: 18, not 16. */
		FUZZ_CHECK(EVP_DecodeBlock(raw, (unsigned char *)key,
		    RF_WS_KEY_LEN) == 18);
		FUZZ_CHECK(EVP_EncodeBlock(again, raw, 16) == RF_WS_KEY_LEN);
		FUZZ_CHECK(memcmp(again, key, RF_WS_KEY_LEN) == 0);
	} else
		FUZZ_CHECK(out[0] == '\0');
	free(key);
}

/* The Unicode standard's Table 3-7, well-formed byte sequences. */
static int
utf8_reference(const uint8_t *p, size_t len)
{
	size_t	 i = 0, n, k;
	uint8_t	 c, lo, hi;

	while (i < len) {
		c = p[i];
		lo = 0x80;
		hi = 0xbf;
		if (c <= 0x7f) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else
			return 0;
		if (len - i - 1 < n)
			return 0;
		for (k = 1; k <= n; k++) {
			if (p[i + k] < lo || p[i + k] > hi)
				return 0;
			lo = 0x80;
			hi = 0xbf;
		}
		i += n + 1;
	}
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t	 ctl;

	if (size == 0)
		return 0;
	ctl = data[0];
	data++;
	size--;
	check_stream(data, size, ctl & 1, max_payloads[(ctl >> 1) & 7],
	    ctl & 0x10 ? 16 : 1 << 20);
	check_close(data, size);
	check_accept(data, size);
	FUZZ_CHECK(rf_ws_utf8_valid(data, size) == utf8_reference(data, size));
	return 0;
}
