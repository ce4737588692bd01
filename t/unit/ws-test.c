/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for common/ws.c: the RFC 6455 examples byte for byte (accept
 * key, §5.7 frames), every length encoding boundary both masked and not,
 * each reason to refuse a frame and that it is decided before the payload
 * arrives, a stream fed one byte at a time, fragmented messages with
 * control frames between the pieces, close payloads and codes, and the
 * eight-byte unmasking against a byte-by-byte reference.  A device whose
 * frames we misread, or a browser whose frames we accept wrongly, is a
 * dead or unsafe tunnel.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "tap.h"
#include "ws.h"

static const uint8_t	 rfc_key[4] = { 0x37, 0xfa, 0x21, 0x3d };

/* RFC 6455 §5.7. */
static const unsigned char rfc_hello[] = {
	0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f };
static const unsigned char rfc_hello_masked[] = {
	0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58 };
static const unsigned char rfc_hel[] = { 0x01, 0x03, 0x48, 0x65, 0x6c };
static const unsigned char rfc_lo[] = { 0x80, 0x02, 0x6c, 0x6f };
static const unsigned char rfc_ping[] = {
	0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f };
static const unsigned char rfc_pong_masked[] = {
	0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58 };

static unsigned char *
pattern(size_t len, unsigned int seed)
{
	unsigned char	*p;
	size_t		 i;

	if ((p = malloc(len == 0 ? 1 : len)) == NULL)
		abort();
	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 7 + seed + (i >> 8));
	return p;
}

/* An owned buffer holding exactly these bytes. */
static void
load(struct rf_buf *b, const void *p, size_t len, size_t max_size)
{
	rf_buf_init(b, max_size);
	if (rf_buf_put(b, p, len) != 0)
		abort();
}

static int
frame_zero(const struct rf_ws_frame *f)
{
	return f->fin == 0 && f->opcode == 0 && f->masked == 0 &&
	    f->len == 0 && f->hdr_len == 0 && f->payload == NULL &&
	    f->why == NULL && f->close_code == 0;
}

static void
test_accept_key(void)
{
	static const char *const bad[] = {
		"",
		"dGhlIHNhbXBsZSBub25jZQ=",
		"dGhlIHNhbXBsZSBub25jZQ===",
		"dGhlIHNhbXBsZSBub25jZR==",	/* non-canonical last bits */
		"dGhlIHNhbXBsZSBub25jZQA=",	/* 17 bytes */
		"AAAAAAAAAAAAAAAAAAAAAAAA",	/* 18 bytes */
		"dGhlIHNhbXBsZSBub25j*Q==",
		"dGhlIHNhbXBsZSBub25j-Q==",	/* base64url alphabet */
		" dGhlIHNhbXBsZSBub25jZQ=",
		"dGhlIHNhbXBsZSBub25jZQ==\r",
		"dGhlIHNhbXBsZSBub25jZQ== ",
		"dGhlIHNhbXBsZSBub2=jZQ==",
	};
	char	 out[RF_WS_ACCEPT_LEN + 1];
	size_t	 i;

	is_int(rf_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0,
	    "RFC 6455 §1.3 key accepted");
	is_str(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "RFC 6455 §1.3 accept");
	is_int(rf_ws_accept_key("x3JJHMbDL1EzLkh9GBhXDw==", out), 0,
	    "second key");
	is_str(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=", "second accept");
	is_int(rf_ws_accept_key("/////////////////////w==", out), 0,
	    "key of all-ones bytes ('/' is base64)");
	is_str(out, "XXpj4jYzLM2yUE0C7TIgMwTQh2g=", "its accept");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(out, "stale", 6);
		if (!is_int(rf_ws_accept_key(bad[i], out), RF_ERR_PROTO,
		    "bad key: PROTO"))
			diag("key '%s'", bad[i]);
		is_str(out, "", "and out cleared");
	}
}

/* RFC 6455 §5.7, both ways. */
static void
test_rfc_examples(void)
{
	static const unsigned char	 hdr256[] = { 0x82, 0x7e, 0x01, 0x00 };
	static const unsigned char	 hdr64k[] = {
		0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0 };
	struct rf_ws_frame	 f;
	struct rf_buf		 in, out;
	unsigned char		 hdr[RF_WS_HEADER_MAX];

	rf_buf_from(&in, rfc_hello, sizeof(rfc_hello));
	is_int(rf_ws_frame_decode(&in, 0, 1024, &f), 0,
	    "client decodes the unmasked Hello");
	ok(f.fin && f.opcode == RF_WS_TEXT && !f.masked && f.len == 5 &&
	    f.hdr_len == 2 && memcmp(f.payload, "Hello", 5) == 0,
	    "fin, text, 5 bytes \"Hello\"");
	ok(f.payload == rfc_hello + 2, "unmasked payload read in place");
	is_int(rf_buf_len(&in), 0, "all consumed");

	load(&in, rfc_hello_masked, sizeof(rfc_hello_masked), 0);
	is_int(rf_ws_frame_decode(&in, 1, 1024, &f), 0,
	    "server decodes the masked Hello");
	ok(f.masked && memcmp(f.mask, rfc_key, 4) == 0 && f.hdr_len == 6,
	    "mask key read");
	ok(f.len == 5 && memcmp(f.payload, "Hello", 5) == 0,
	    "payload unmasked in place");
	rf_buf_free(&in);

	rf_buf_init(&out, 0);
	is_int(rf_ws_put_frame(&out, 1, RF_WS_TEXT, "Hello", 5, rfc_key), 0,
	    "encode the masked Hello");
	ok(rf_buf_len(&out) == sizeof(rfc_hello_masked) &&
	    memcmp(rf_buf_ptr(&out), rfc_hello_masked,
	    sizeof(rfc_hello_masked)) == 0, "same bytes as the RFC");
	rf_buf_reset(&out);
	rf_ws_put_frame(&out, 0, RF_WS_TEXT, "Hel", 3, NULL);
	rf_ws_put_frame(&out, 1, RF_WS_CONT, "lo", 2, NULL);
	ok(rf_buf_len(&out) == 9 &&
	    memcmp(rf_buf_ptr(&out), rfc_hel, 5) == 0 &&
	    memcmp(rf_buf_ptr(&out) + 5, rfc_lo, 4) == 0,
	    "fragmented Hel + lo as the RFC");
	rf_buf_reset(&out);
	rf_ws_put_frame(&out, 1, RF_WS_PING, "Hello", 5, NULL);
	ok(memcmp(rf_buf_ptr(&out), rfc_ping, sizeof(rfc_ping)) == 0,
	    "unmasked ping as the RFC");
	rf_buf_free(&out);

	is_int(rf_ws_frame_header(hdr, 1, RF_WS_BINARY, 256, NULL), 4,
	    "256 bytes: 4-byte header");
	ok(memcmp(hdr, hdr256, 4) == 0, "0x82 0x7e 0x0100 as the RFC");
	is_int(rf_ws_frame_header(hdr, 1, RF_WS_BINARY, 65536, NULL), 10,
	    "64 KiB: 10-byte header");
	ok(memcmp(hdr, hdr64k, 10) == 0, "0x82 0x7f 0x10000 as the RFC");
}

/* Every boundary of the three length encodings, masked and not. */
static void
test_lengths(void)
{
	static const size_t	 sizes[] = {
		0, 1, 125, 126, 127, 65535, 65536, 65537 };
	struct rf_ws_frame	 f;
	struct rf_buf		 b;
	unsigned char		 hdr[RF_WS_HEADER_MAX], *p;
	const uint8_t		*mask;
	size_t			 i, want, before;
	int			 m;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (m = 0; m < 2; m++) {
			mask = m ? rfc_key : NULL;
			want = sizes[i] < 126 ? 2 : sizes[i] <= 65535 ? 4 : 10;
			want += m ? 4 : 0;
			if (!is_int(rf_ws_frame_header(hdr, 1, RF_WS_BINARY,
			    sizes[i], mask), want, "header length"))
				diag("payload %zu, masked %d", sizes[i], m);
			ok((hdr[1] & 0x80) == (m ? 0x80 : 0), "mask bit");
			if (sizes[i] < 126)
				is_int(hdr[1] & 0x7f, sizes[i], "7-bit length");
			else if (sizes[i] <= 65535)
				ok((hdr[1] & 0x7f) == 126 &&
				    (hdr[2] << 8 | hdr[3]) == (int)sizes[i],
				    "126 and a 16-bit length");
			else
				ok((hdr[1] & 0x7f) == 127 && hdr[2] == 0 &&
				    hdr[5] == 0 && hdr[6] == 0 &&
				    hdr[7] == (sizes[i] >> 16) &&
				    hdr[8] == ((sizes[i] >> 8) & 0xff) &&
				    hdr[9] == (sizes[i] & 0xff),
				    "127 and a 64-bit length");

			p = pattern(sizes[i], (unsigned int)i);
			rf_buf_init(&b, 0);
			is_int(rf_ws_put_frame(&b, 1, RF_WS_BINARY, p,
			    sizes[i], mask), 0, "encode");
			is_int(rf_buf_len(&b), want + sizes[i],
			    "header + payload");
			before = rf_buf_len(&b);
			if (sizes[i] > 0) {
				is_int(rf_ws_frame_decode(&b, m, sizes[i] - 1,
				    &f), RF_ERR_LIMIT, "max_payload-1: LIMIT");
				is_int(rf_buf_len(&b), before,
				    "nothing consumed");
			}
			is_int(rf_ws_frame_decode(&b, !m, sizes[i], &f),
			    RF_ERR_PROTO, "wrong masking for this end: PROTO");
			is_int(rf_ws_frame_decode(&b, m, sizes[i], &f), 0,
			    "decode at exactly max_payload");
			ok(f.fin && f.opcode == RF_WS_BINARY &&
			    f.masked == m && f.len == sizes[i] &&
			    f.hdr_len == want, "fields back");
			ok(memcmp(f.payload, p, sizes[i]) == 0,
			    "payload back, unmasked");
			is_int(rf_buf_len(&b), 0, "all consumed");
			rf_buf_free(&b);
			free(p);
		}
	}
}

struct bad_frame {
	const char		*name;
	unsigned char		 b[14];
	size_t			 len;
	int			 expect_masked;
	size_t			 max;
	int			 err;
};

static const struct bad_frame	 bad_frames[] = {
	{ "RSV1 set", { 0xc2, 0x00 }, 2, 0, 100, RF_ERR_PROTO },
	{ "RSV1 alone refused", { 0xc2 }, 1, 0, 100, RF_ERR_PROTO },
	{ "RSV2 set", { 0xa2, 0x00 }, 2, 0, 100, RF_ERR_PROTO },
	{ "RSV3 set", { 0x92, 0x00 }, 2, 0, 100, RF_ERR_PROTO },
	{ "opcode 3", { 0x83 }, 1, 0, 100, RF_ERR_PROTO },
	{ "opcode 7", { 0x87, 0x00 }, 2, 0, 100, RF_ERR_PROTO },
	{ "opcode 0xb", { 0x8b, 0x00 }, 2, 0, 100, RF_ERR_PROTO },
	{ "opcode 0xf", { 0x8f }, 1, 0, 100, RF_ERR_PROTO },
	{ "ping not fin", { 0x09 }, 1, 0, 100, RF_ERR_PROTO },
	{ "close not fin", { 0x08, 0x00 }, 2, 0, 100, RF_ERR_PROTO },
	{ "pong not fin", { 0x0a, 0x00 }, 2, 0, 100, RF_ERR_PROTO },
	{ "close of 126 bytes", { 0x88, 0x7e }, 2, 0, 1000, RF_ERR_PROTO },
	{ "ping with a 64-bit length", { 0x89, 0x7f }, 2, 0, 1000,
	    RF_ERR_PROTO },
	{ "pong, masked, 126", { 0x8a, 0xfe }, 2, 1, 1000, RF_ERR_PROTO },
	{ "unmasked frame to a server", { 0x82, 0x01, 0x00 }, 3, 1, 100,
	    RF_ERR_PROTO },
	{ "masked frame to a client", { 0x82, 0x80 }, 2, 0, 100,
	    RF_ERR_PROTO },
	{ "16-bit length 125", { 0x82, 0x7e, 0x00, 0x7d }, 4, 0, 100000,
	    RF_ERR_PROTO },
	{ "16-bit length 0", { 0x82, 0x7e, 0x00, 0x00 }, 4, 0, 100000,
	    RF_ERR_PROTO },
	{ "64-bit length 65535", { 0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff },
	    10, 0, 100000, RF_ERR_PROTO },
	{ "64-bit length 126", { 0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0, 126 },
	    10, 0, 100000, RF_ERR_PROTO },
	{ "64-bit length, bit 63", { 0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0 },
	    10, 0, SIZE_MAX, RF_ERR_PROTO },
	{ "64-bit length, all ones", { 0x82, 0x7f, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff }, 10, 0, SIZE_MAX, RF_ERR_PROTO },
	{ "4 GB frame, 10 bytes of it", { 0x82, 0x7f, 0, 0, 0, 1, 0, 0, 0,
	    0 }, 10, 0, 1 << 20, RF_ERR_LIMIT },
	{ "4 GB masked frame, no mask key yet", { 0x82, 0xff, 0, 0, 0, 1, 0,
	    0, 0, 0 }, 10, 1, 1 << 20, RF_ERR_LIMIT },
	{ "1000 bytes over max 999", { 0x82, 0x7e, 0x03, 0xe8 }, 4, 0, 999,
	    RF_ERR_LIMIT },
	{ "126 bytes over max 125", { 0x02, 0x7e, 0x00, 0x7e }, 4, 0, 125,
	    RF_ERR_LIMIT },
	{ "1 byte over max 0", { 0x80, 0x01 }, 2, 0, 0, RF_ERR_LIMIT },
};

static void
test_decode_errors(void)
{
	const struct bad_frame	*t;
	struct rf_ws_frame	 f;
	struct rf_buf		 b;
	size_t			 i;
	int			 r;

	for (i = 0; i < sizeof(bad_frames) / sizeof(bad_frames[0]); i++) {
		t = &bad_frames[i];
		load(&b, t->b, t->len, 0);
		r = rf_ws_frame_decode(&b, t->expect_masked, t->max, &f);
		is_int(r, t->err, t->name);
		ok(rf_buf_len(&b) == t->len && f.payload == NULL &&
		    f.why != NULL, "nothing consumed, a reason given");
		is_int(f.close_code, t->err == RF_ERR_LIMIT ? 1009 : 1002,
		    "close code 1002 or 1009");
		rf_buf_free(&b);
	}
}

static void
test_decode_limits(void)
{
	static const unsigned char	 big4g[] = {
		0x82, 0x7f, 0, 0, 0, 1, 0, 0, 0, 0 };
	unsigned char		 frame[2 + 99], *p;
	struct rf_ws_frame	 f, g;
	struct rf_buf		 b;

	load(&b, big4g, sizeof(big4g), 0);
	rf_ws_frame_decode(&b, 0, 1 << 20, &f);
	ok(f.len == (sizeof(size_t) > 4 ? (size_t)1 << 32 : SIZE_MAX),
	    "the refused length is reported for the log");
	rf_buf_free(&b);

	/* max_payload allows it, in's max_size of 100 never will. */
	memset(frame, 'x', sizeof(frame));
	frame[0] = 0x82;
	frame[1] = 99;
	load(&b, frame, 10, 100);
	is_int(rf_ws_frame_decode(&b, 0, 1 << 20, &f), RF_ERR_LIMIT,
	    "frame larger than the receive buffer: LIMIT at once");
	is_int(f.close_code, RF_WS_CLOSE_TOO_BIG, "1009");
	rf_buf_free(&b);
	frame[1] = 98;
	load(&b, frame, 100, 100);
	is_int(rf_ws_frame_decode(&b, 0, 1 << 20, &f), 0,
	    "frame exactly max_size long fits");
	rf_buf_free(&b);

	/* A view cannot be unmasked in place. */
	rf_buf_from(&b, rfc_hello_masked, sizeof(rfc_hello_masked));
	is_int(rf_ws_frame_decode(&b, 1, 100, &f), RF_ERR_INVAL,
	    "masked frame in a view: INVAL");
	is_int(rf_buf_len(&b), sizeof(rfc_hello_masked), "nothing consumed");

	/* Decoding the next frame does not move the last one's payload. */
	p = pattern(20, 5);
	rf_buf_init(&b, 0);
	rf_ws_put_frame(&b, 1, RF_WS_BINARY, p, 10, rfc_key);
	rf_ws_put_frame(&b, 1, RF_WS_BINARY, p + 10, 10, rfc_key);
	is_int(rf_ws_frame_decode(&b, 1, 100, &f), 0, "first of two");
	is_int(rf_ws_frame_decode(&b, 1, 100, &g), 0, "second");
	ok(memcmp(f.payload, p, 10) == 0 && memcmp(g.payload, p + 10, 10) == 0,
	    "both payloads valid, unmasked in place");
	free(p);
	rf_buf_free(&b);
}

/* Every strict prefix of a frame is SHORT and leaves in and f alone. */
static void
test_short(void)
{
	struct rf_ws_frame	 f;
	struct rf_buf		 src, b;
	unsigned char		*p;
	size_t			 k, n, fails = 0;

	p = pattern(65536, 9);
	rf_buf_init(&src, 1 << 20);
	rf_ws_put_frame(&src, 1, RF_WS_BINARY, p, 65536, rfc_key);
	n = rf_buf_len(&src);
	for (k = 0; k < n; k++) {
		load(&b, rf_buf_ptr(&src), k, 1 << 20);
		memset(&f, 0xee, sizeof(f));
		if (rf_ws_frame_decode(&b, 1, 65536, &f) != RF_ERR_SHORT ||
		    rf_buf_len(&b) != k || !frame_zero(&f)) {
			if (fails++ == 0)
				diag("prefix of %zu bytes", k);
		}
		rf_buf_free(&b);
		/* Past the header, prefixes differ only in payload bytes. */
		if (k == 32)
			k = n - 32;
	}
	is_int(fails, 0, "every prefix of a masked 64 KiB frame: SHORT, "
	    "nothing consumed, f zeroed");
	load(&b, rf_buf_ptr(&src), n, 1 << 20);
	is_int(rf_ws_frame_decode(&b, 1, 65536, &f), 0, "whole: decoded");
	ok(f.len == 65536 && memcmp(f.payload, p, 65536) == 0, "and right");
	rf_buf_free(&b);
	rf_buf_free(&src);
	free(p);
}

/* A stream fed one byte at a time, as the slowest network would. */
struct stream_frame {
	int		 fin;
	uint8_t		 opcode;
	size_t		 len;
};

static const struct stream_frame	 stream[] = {
	{ 0, RF_WS_TEXT, 3 },
	{ 1, RF_WS_PING, 4 },
	{ 0, RF_WS_CONT, 0 },
	{ 1, RF_WS_CONT, 2 },
	{ 1, RF_WS_BINARY, 126 },
	{ 1, RF_WS_BINARY, 65536 },
	{ 1, RF_WS_PONG, 0 },
	{ 1, RF_WS_BINARY, 0 },
	{ 1, RF_WS_CLOSE, 5 },
};
#define NSTREAM	(sizeof(stream) / sizeof(stream[0]))

static void
test_stream(int masked)
{
	unsigned char		 closep[RF_WS_CONTROL_MAX], *p[NSTREAM];
	size_t			 ends[NSTREAM], pos, i, got = 0, bad = 0;
	size_t			 nmsg = 0, n, k;
	struct rf_buf		 wire, in;
	struct rf_ws_frame	 f;
	struct rf_ws_asm	 a;
	struct rf_ws_msg	 m;
	uint8_t			 key[4];
	int			 r;

	rf_buf_init(&wire, 1 << 20);
	rf_ws_close_payload(closep, 1000, "bye", &n);
	for (i = 0; i < NSTREAM; i++) {
		p[i] = pattern(stream[i].len, (unsigned int)i);
		if (stream[i].opcode == RF_WS_TEXT)
			memcpy(p[i], "Hel", 3);
		else if (stream[i].opcode == RF_WS_CONT && stream[i].fin)
			memcpy(p[i], "lo", 2);
		else if (stream[i].opcode == RF_WS_CLOSE)
			memcpy(p[i], closep, 5);
		memset(key, (int)(0x11 * (i + 1)), sizeof(key));
		key[1] ^= 0x5a;
		rf_ws_put_frame(&wire, stream[i].fin, stream[i].opcode, p[i],
		    stream[i].len, masked ? key : NULL);
		ends[i] = rf_buf_len(&wire);
	}

	rf_buf_init(&in, 1 << 17);
	rf_ws_asm_init(&a, 1 << 17);
	for (pos = 0; pos < rf_buf_len(&wire); pos++) {
		rf_buf_put(&in, rf_buf_ptr(&wire) + pos, 1);
		while ((r = rf_ws_frame_decode(&in, masked, 1 << 17,
		    &f)) == 0) {
			if (got >= NSTREAM || ends[got] != pos + 1 ||
			    f.len != stream[got].len ||
			    f.opcode != stream[got].opcode ||
			    memcmp(f.payload, p[got], f.len) != 0)
				bad++;
			got++;
			r = rf_ws_asm_add(&a, &f, &m);
			if (r == RF_ERR_AGAIN)
				continue;
			if (r != 0) {
				bad++;
				continue;
			}
			k = nmsg++;
			switch (k) {
			case 0:
				ok(m.opcode == RF_WS_PING && m.len == 4,
				    "ping between the fragments, at once");
				break;
			case 1:
				ok(m.opcode == RF_WS_TEXT && m.len == 5 &&
				    memcmp(m.data, "Hello", 5) == 0,
				    "text \"Hello\" from three fragments");
				break;
			case 2:
			case 3:
				ok(m.opcode == RF_WS_BINARY &&
				    m.len == stream[k + 2].len &&
				    memcmp(m.data, p[k + 2], m.len) == 0,
				    "binary message");
				break;
			case 4:
				ok(m.opcode == RF_WS_PONG && m.len == 0,
				    "empty pong");
				break;
			case 5:
				ok(m.opcode == RF_WS_BINARY && m.len == 0,
				    "empty binary message");
				break;
			case 6:
				ok(m.opcode == RF_WS_CLOSE && m.len == 5,
				    "close");
				break;
			}
		}
		if (r != RF_ERR_SHORT)
			bad++;
	}
	is_int(bad, 0, masked ? "masked stream, byte by byte: each frame "
	    "exactly when its last byte arrives, SHORT before" :
	    "unmasked stream, byte by byte: each frame exactly when its "
	    "last byte arrives, SHORT before");
	is_int(got, NSTREAM, "all frames");
	is_int(nmsg, 7, "seven messages");
	is_int(rf_buf_len(&in), 0, "nothing left over");
	rf_ws_asm_free(&a);
	rf_buf_free(&in);
	rf_buf_free(&wire);
	for (i = 0; i < NSTREAM; i++)
		free(p[i]);
}

static void
test_mask(void)
{
	unsigned char	 buf[1100], ref[1100], *src;
	static const uint8_t key[4] = { 0xa5, 0x01, 0xff, 0x3c };
	size_t		 align, pos, len, i, bad = 0;

	src = pattern(sizeof(buf), 3);
	for (align = 0; align < 16; align++)
		for (pos = 0; pos < 4; pos++)
			for (len = 0; len < 1080; len += len < 40 ? 1 : 97) {
				memcpy(buf, src, sizeof(buf));
				memcpy(ref, src, sizeof(ref));
				for (i = 0; i < len; i++)
					ref[align + i] ^= key[(pos + i) & 3];
				rf_ws_mask(buf + align, len, key, pos);
				if (memcmp(buf, ref, sizeof(buf)) != 0 &&
				    bad++ == 0)
					diag("align %zu pos %zu len %zu",
					    align, pos, len);
			}
	is_int(bad, 0, "rf_ws_mask equals byte-by-byte masking at every "
	    "alignment, phase and length, and touches nothing else");

	memcpy(buf, src, sizeof(buf));
	rf_ws_mask(buf + 1, 1000, key, 0);
	ok(memcmp(buf, src, sizeof(buf)) != 0, "masking changes the bytes");
	rf_ws_mask(buf + 1, 333, key, 0);
	rf_ws_mask(buf + 334, 667, key, 333);
	ok(memcmp(buf, src, sizeof(buf)) == 0,
	    "masking again in two pieces restores them");
	free(src);
}

static void
test_mask_key(void)
{
	uint8_t		 k[8][4];
	int		 i, same = 1;

	for (i = 0; i < 8; i++)
		is_int(rf_ws_mask_key(k[i]), 0, "mask key");
	for (i = 1; i < 8; i++)
		if (memcmp(k[0], k[i], 4) != 0)
			same = 0;
	ok(!same, "eight mask keys are not all the same");
}

static void
test_encode_bad(void)
{
	unsigned char	 hdr[RF_WS_HEADER_MAX], big[126];
	struct rf_buf	 out;

	memset(big, 'b', sizeof(big));
	is_int(rf_ws_frame_header(hdr, 1, 3, 0, NULL), 0, "opcode 3: 0");
	is_int(rf_ws_frame_header(hdr, 1, 0x10, 0, NULL), 0, "opcode 16: 0");
	is_int(rf_ws_frame_header(hdr, 0, RF_WS_CLOSE, 0, NULL), 0,
	    "close not fin: 0");
	is_int(rf_ws_frame_header(hdr, 1, RF_WS_PING, 126, NULL), 0,
	    "ping of 126: 0");
	is_int(rf_ws_frame_header(hdr, 1, RF_WS_PING, 125, NULL), 2,
	    "ping of 125: 2");
	is_int(rf_ws_frame_header(hdr, 0, RF_WS_BINARY, 1, NULL), 2,
	    "binary not fin is fine");
	ok(hdr[0] == 0x02 && hdr[1] == 0x01, "fin bit clear");

	rf_buf_init(&out, 20);
	is_int(rf_ws_put_frame(&out, 1, RF_WS_PONG, big, 126, NULL),
	    RF_ERR_INVAL, "put: pong of 126 refused");
	is_int(rf_ws_put_frame(&out, 1, RF_WS_BINARY, NULL, 3, NULL),
	    RF_ERR_INVAL, "put: NULL payload with a length refused");
	is_int(rf_ws_put_frame(&out, 1, RF_WS_BINARY, big, 19, NULL),
	    RF_ERR_LIMIT, "put past max_size: LIMIT");
	is_int(rf_buf_len(&out), 0, "nothing appended");
	is_int(rf_ws_put_frame(&out, 1, RF_WS_BINARY, big, 18, NULL), 0,
	    "exactly max_size");
	rf_buf_free(&out);
}

static struct rf_ws_frame
mkframe(int fin, uint8_t opcode, const void *p, size_t len)
{
	struct rf_ws_frame	 f;

	memset(&f, 0, sizeof(f));
	f.fin = fin;
	f.opcode = opcode;
	f.payload = p;
	f.len = len;
	return f;
}

static void
test_assembler(void)
{
	struct rf_ws_asm	 a;
	struct rf_ws_msg	 m;
	struct rf_ws_frame	 f;
	unsigned char		 ten[11];

	memset(ten, 't', sizeof(ten));
	rf_ws_asm_init(&a, 10);
	f = mkframe(1, RF_WS_BINARY, "abc", 3);
	is_int(rf_ws_asm_add(&a, &f, &m), 0, "unfragmented message");
	ok(m.opcode == RF_WS_BINARY && m.len == 3 && m.data == f.payload,
	    "handed out where it lies, not copied");

	f = mkframe(1, RF_WS_CONT, "x", 1);
	is_int(rf_ws_asm_add(&a, &f, &m), RF_ERR_PROTO,
	    "continuation with no message: PROTO");
	ok(a.close_code == 1002 && a.why != NULL && m.data == NULL,
	    "1002, a reason, no message");

	f = mkframe(0, RF_WS_BINARY, "ab", 2);
	is_int(rf_ws_asm_add(&a, &f, &m), RF_ERR_AGAIN, "first fragment");
	ok(a.why == NULL && a.close_code == 0, "no error left over");
	f = mkframe(1, RF_WS_TEXT, "cd", 2);
	is_int(rf_ws_asm_add(&a, &f, &m), RF_ERR_PROTO,
	    "new text message while one is in progress: PROTO");
	f = mkframe(0, RF_WS_BINARY, "cd", 2);
	is_int(rf_ws_asm_add(&a, &f, &m), RF_ERR_AGAIN,
	    "after the error, a new message may start");
	f = mkframe(0, RF_WS_TEXT, "ef", 2);
	is_int(rf_ws_asm_add(&a, &f, &m), RF_ERR_PROTO,
	    "unfinished new message while one is in progress: PROTO");
	f = mkframe(1, RF_WS_CONT, "x", 1);
	is_int(rf_ws_asm_add(&a, &f, &m), RF_ERR_PROTO,
	    "and the error reset the assembler");

	f = mkframe(0, RF_WS_BINARY, "12", 2);
	rf_ws_asm_add(&a, &f, &m);
	f = mkframe(1, RF_WS_PING, "pi", 2);
	is_int(rf_ws_asm_add(&a, &f, &m), 0, "ping between fragments");
	ok(m.opcode == RF_WS_PING && m.len == 2 &&
	    memcmp(m.data, "pi", 2) == 0, "handed out at once");
	f = mkframe(1, RF_WS_CLOSE, "", 0);
	is_int(rf_ws_asm_add(&a, &f, &m), 0, "close between fragments");
	is_int(m.opcode, RF_WS_CLOSE, "handed out");
	f = mkframe(0, RF_WS_CONT, "", 0);
	is_int(rf_ws_asm_add(&a, &f, &m), RF_ERR_AGAIN,
	    "empty continuation");
	f = mkframe(1, RF_WS_CONT, "34", 2);
	is_int(rf_ws_asm_add(&a, &f, &m), 0, "last fragment");
	ok(m.opcode == RF_WS_BINARY && m.len == 4 &&
	    memcmp(m.data, "1234", 4) == 0,
	    "\"1234\": control frames did not disturb it, old bytes gone");

	f = mkframe(0, RF_WS_BINARY, ten, 6);
	rf_ws_asm_add(&a, &f, &m);
	f = mkframe(1, RF_WS_CONT, ten, 5);
	is_int(rf_ws_asm_add(&a, &f, &m), RF_ERR_LIMIT,
	    "6 + 5 bytes over max 10: LIMIT");
	is_int(a.close_code, 1009, "1009");
	f = mkframe(0, RF_WS_BINARY, ten, 6);
	rf_ws_asm_add(&a, &f, &m);
	f = mkframe(1, RF_WS_CONT, ten, 4);
	is_int(rf_ws_asm_add(&a, &f, &m), 0, "6 + 4 bytes: exactly max");
	is_int(m.len, 10, "10 bytes");
	f = mkframe(1, RF_WS_BINARY, ten, 11);
	is_int(rf_ws_asm_add(&a, &f, &m), RF_ERR_LIMIT,
	    "unfragmented 11 bytes over max 10: LIMIT");

	f = mkframe(0, RF_WS_TEXT, "caf\xc3", 4);
	is_int(rf_ws_asm_add(&a, &f, &m), RF_ERR_AGAIN,
	    "text fragment ending inside a character");
	f = mkframe(1, RF_WS_CONT, "\xa9", 1);
	is_int(rf_ws_asm_add(&a, &f, &m), 0, "completed by the next");
	ok(m.opcode == RF_WS_TEXT && m.len == 5 &&
	    memcmp(m.data, "caf\xc3\xa9", 5) == 0, "\"café\"");
	f = mkframe(1, RF_WS_TEXT, "caf\xc3", 4);
	is_int(rf_ws_asm_add(&a, &f, &m), RF_ERR_PROTO,
	    "text ending inside a character: PROTO");
	is_int(a.close_code, RF_WS_CLOSE_BAD_DATA, "1007");
	f = mkframe(1, RF_WS_BINARY, "caf\xc3", 4);
	is_int(rf_ws_asm_add(&a, &f, &m), 0, "the same bytes as binary: 0");
	f = mkframe(1, 3, "", 0);
	is_int(rf_ws_asm_add(&a, &f, &m), RF_ERR_INVAL,
	    "not a decoded frame: INVAL");
	rf_ws_asm_free(&a);
}

static void
test_utf8(void)
{
	static const char *const good[] = {
		"", "abc", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9d\x84\x9e",
		"\xf4\x8f\xbf\xbf", "\xed\x9f\xbf", "\xee\x80\x80",
		"\xc2\x80", "\xe0\xa0\x80", "\xf0\x90\x80\x80",
	};
	static const char *const bad[] = {
		"\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf",
		"\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf", "\xed\xa0\x80",
		"\xed\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
		"\x80", "\xbf", "\xc3", "\xe2\x82", "\xf0\x9d\x84",
		"\xf8\x88\x80\x80\x80", "\xfe", "\xff", "a\xc3(",
	};
	size_t	 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ok(rf_ws_utf8_valid(good[i], strlen(good[i])),
		    "valid UTF-8 %zu", i);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(!rf_ws_utf8_valid(bad[i], strlen(bad[i])),
		    "invalid UTF-8 %zu", i);
	ok(rf_ws_utf8_valid("a\0b", 3), "NUL is UTF-8");
}

static void
test_close(void)
{
	unsigned char		 p[RF_WS_CONTROL_MAX + 10];
	char			 r123[RF_WS_REASON_MAX + 2];
	struct rf_ws_close	 c;
	struct rf_ws_frame	 f;
	struct rf_buf		 b;
	size_t			 n;
	unsigned int		 code, nvalid = 0;

	for (code = 0; code <= UINT16_MAX; code++)
		nvalid += rf_ws_close_code_valid((uint16_t)code);
	is_int(nvalid, 4 + 5 + 2000, "2009 valid close codes");
	ok(rf_ws_close_code_valid(1000) && rf_ws_close_code_valid(1003) &&
	    rf_ws_close_code_valid(1007) && rf_ws_close_code_valid(1011) &&
	    rf_ws_close_code_valid(3000) && rf_ws_close_code_valid(4999),
	    "1000, 1003, 1007, 1011, 3000, 4999 valid");
	ok(!rf_ws_close_code_valid(0) && !rf_ws_close_code_valid(999) &&
	    !rf_ws_close_code_valid(1004) && !rf_ws_close_code_valid(1005) &&
	    !rf_ws_close_code_valid(1006) && !rf_ws_close_code_valid(1012) &&
	    !rf_ws_close_code_valid(1015) && !rf_ws_close_code_valid(2999) &&
	    !rf_ws_close_code_valid(5000), "0, 999, 1004-1006, 1012, 1015, "
	    "2999, 5000 invalid");

	is_int(rf_ws_close_parse("", 0, &c), 0, "empty close payload");
	is_int(c.code, RF_WS_CLOSE_NO_STATUS, "is 1005");
	is_int(rf_ws_close_parse("\x03", 1, &c), RF_ERR_PROTO,
	    "one byte: PROTO");
	is_int(rf_ws_close_parse("\x03\xe8", 2, &c), 0, "1000, no reason");
	ok(c.code == 1000 && c.reason_len == 0 && c.reason[0] == '\0',
	    "code 1000, empty reason");
	is_int(rf_ws_close_parse("\x0f\xa0gone \xe2\x82\xac", 10, &c), 0,
	    "4000 with a UTF-8 reason");
	ok(c.code == 4000 && c.reason_len == 8 &&
	    strcmp(c.reason, "gone \xe2\x82\xac") == 0, "both read");
	is_int(rf_ws_close_parse("\x03\xed", 2, &c), RF_ERR_PROTO,
	    "1005 on the wire: PROTO");
	is_int(rf_ws_close_parse("\x03\xee", 2, &c), RF_ERR_PROTO,
	    "1006 on the wire: PROTO");
	is_int(rf_ws_close_parse("\x03\xf7", 2, &c), RF_ERR_PROTO,
	    "1015 on the wire: PROTO");
	is_int(rf_ws_close_parse("\x00\x00", 2, &c), RF_ERR_PROTO,
	    "0: PROTO");
	is_int(rf_ws_close_parse("\x03\xe8\xc3(", 4, &c), RF_ERR_PROTO,
	    "reason not UTF-8: PROTO");
	ok(c.code == 0 && c.reason_len == 0, "c cleared");
	is_int(rf_ws_close_parse("\x03\xe8" "a\0b", 5, &c), 0,
	    "a NUL in the reason is UTF-8");
	is_int(c.reason_len, 3, "and reason_len says 3");

	memset(r123, 'r', sizeof(r123));
	r123[RF_WS_REASON_MAX] = '\0';
	is_int(rf_ws_close_payload(p, 1001, r123, &n), 0,
	    "build: 123-byte reason");
	is_int(n, 125, "makes 125 bytes");
	is_int(rf_ws_close_parse(p, n, &c), 0, "and parses back");
	ok(c.code == 1001 && c.reason_len == 123, "1001, 123 bytes");
	memset(p, 'r', sizeof(p));
	p[0] = 0x03;
	p[1] = 0xe9;
	is_int(rf_ws_close_parse(p, 126, &c), RF_ERR_PROTO,
	    "a 124-byte reason cannot be: PROTO");
	r123[RF_WS_REASON_MAX] = 'r';
	r123[RF_WS_REASON_MAX + 1] = '\0';
	is_int(rf_ws_close_payload(p, 1001, r123, &n), RF_ERR_LIMIT,
	    "build: 124-byte reason: LIMIT");
	is_int(n, 0, "length cleared");
	is_int(rf_ws_close_payload(p, 0, NULL, &n), 0, "build: no code");
	is_int(n, 0, "empty payload");
	is_int(rf_ws_close_payload(p, 0, "why", &n), RF_ERR_INVAL,
	    "build: reason without a code: INVAL");
	is_int(rf_ws_close_payload(p, 1005, NULL, &n), RF_ERR_INVAL,
	    "build: 1005: INVAL");
	is_int(rf_ws_close_payload(p, 1000, "\xff", &n), RF_ERR_INVAL,
	    "build: reason not UTF-8: INVAL");
	is_int(rf_ws_close_payload(p, 1009, "too big", &n), 0, "build 1009");
	ok(n == 9 && p[0] == 0x03 && p[1] == 0xf1 &&
	    memcmp(p + 2, "too big", 7) == 0, "code big-endian, reason");

	rf_buf_init(&b, 0);
	is_int(rf_ws_put_close(&b, 1002, "RSV bits set", rfc_key), 0,
	    "put a masked close");
	is_int(rf_buf_len(&b), 6 + 14, "header 6, payload 14");
	is_int(rf_ws_frame_decode(&b, 1, 125, &f), 0, "decodes");
	ok(f.opcode == RF_WS_CLOSE && f.fin, "fin close");
	is_int(rf_ws_close_parse(f.payload, f.len, &c), 0, "parses");
	ok(c.code == 1002 && strcmp(c.reason, "RSV bits set") == 0,
	    "1002 \"RSV bits set\"");
	is_int(rf_ws_put_close(&b, 1006, NULL, NULL), RF_ERR_INVAL,
	    "put: 1006 never on the wire");
	is_int(rf_buf_len(&b), 0, "nothing appended");
	rf_buf_free(&b);
}

static void
test_pong(void)
{
	struct rf_ws_frame	 f;
	struct rf_ws_msg	 m;
	struct rf_ws_asm	 a;
	struct rf_buf		 in, out;
	unsigned char		*p;

	rf_ws_asm_init(&a, 0);
	rf_buf_init(&out, 0);
	rf_buf_from(&in, rfc_ping, sizeof(rfc_ping));
	rf_ws_frame_decode(&in, 0, 125, &f);
	is_int(rf_ws_asm_add(&a, &f, &m), 0, "RFC ping");
	is_int(rf_ws_put_pong(&out, &m, rfc_key), 0, "masked pong");
	ok(rf_buf_len(&out) == sizeof(rfc_pong_masked) &&
	    memcmp(rf_buf_ptr(&out), rfc_pong_masked,
	    sizeof(rfc_pong_masked)) == 0,
	    "echoes \"Hello\": the RFC's masked pong");
	rf_buf_reset(&out);
	is_int(rf_ws_put_pong(&out, &m, NULL), 0, "unmasked pong");
	ok(rf_buf_len(&out) == 7 && rf_buf_ptr(&out)[0] == 0x8a &&
	    memcmp(rf_buf_ptr(&out) + 1, rfc_ping + 1, 6) == 0,
	    "0x8a and the ping's length and payload");
	rf_buf_reset(&out);

	p = pattern(125, 1);
	rf_buf_init(&in, 0);
	rf_ws_put_frame(&in, 1, RF_WS_PING, p, 125, rfc_key);
	rf_ws_frame_decode(&in, 1, 125, &f);
	rf_ws_asm_add(&a, &f, &m);
	is_int(rf_ws_put_pong(&out, &m, NULL), 0, "pong to a 125-byte ping");
	rf_buf_free(&in);
	load(&in, rf_buf_ptr(&out), rf_buf_len(&out), 0);
	is_int(rf_ws_frame_decode(&in, 0, 125, &f), 0, "decodes");
	ok(f.opcode == RF_WS_PONG && f.len == 125 &&
	    memcmp(f.payload, p, 125) == 0, "same 125 bytes");
	rf_buf_free(&in);

	m.opcode = RF_WS_PONG;
	rf_buf_reset(&out);
	is_int(rf_ws_put_pong(&out, &m, NULL), RF_ERR_INVAL,
	    "pong to a pong: INVAL");
	is_int(rf_buf_len(&out), 0, "nothing appended");
	free(p);
	rf_buf_free(&out);
	rf_ws_asm_free(&a);
}

static void
test_names(void)
{
	unsigned int	 op, known = 0, control = 0;

	for (op = 0; op < 16; op++) {
		known += rf_ws_opcode_known((uint8_t)op);
		control += rf_ws_opcode_control((uint8_t)op);
		ok(rf_ws_opcode_known((uint8_t)op) ==
		    (strcmp(rf_ws_opcode_name((uint8_t)op), "unknown") != 0),
		    "opcode %u named iff known", op);
	}
	is_int(known, 6, "six opcodes");
	is_int(control, 3, "three of them control");
	is_str(rf_ws_opcode_name(RF_WS_CONT), "continuation", "0 name");
}

int
main(void)
{
	test_names();
	test_accept_key();
	test_rfc_examples();
	test_lengths();
	test_decode_errors();
	test_decode_limits();
	test_short();
	test_stream(1);
	test_stream(0);
	test_mask();
	test_mask_key();
	test_encode_bad();
	test_assembler();
	test_utf8();
	test_close();
	test_pong();
	return done_testing();
}
