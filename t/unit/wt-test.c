/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for common/wt.c: every opcode through encode and decode with
 * its exact header length, truncated and over-long frames, unknown
 * opcodes, PROP_UPDATE payloads (multi-byte lengths, NUL bytes, a count
 * that lies) and X-PTTH-Set-Property values as the stock agent sends them.
 * A decoder that accepts what a stock peer never sends, or refuses what
 * it does, shows up in the field as a dead tunnel.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "tap.h"
#include "wt.h"

static const uint8_t	 all_ops[] = {
	RF_WT_DATA, RF_WT_OPEN_REQUEST, RF_WT_CLOSE, RF_WT_OPEN_CONFIRM,
	RF_WT_PROP_UPDATE, RF_WT_ERROR, RF_WT_OPEN_FAULT,
};
#define NOPS	(sizeof(all_ops) / sizeof(all_ops[0]))

static int
has_arg(uint8_t op)
{
	return op == RF_WT_OPEN_REQUEST || op == RF_WT_OPEN_FAULT ||
	    op == RF_WT_ERROR;
}

static int
has_payload(uint8_t op)
{
	return op == RF_WT_DATA || op == RF_WT_PROP_UPDATE;
}

/* A heap copy of exactly len bytes, so that ASan sees an overread. */
static unsigned char *
dup_exact(const void *p, size_t len)
{
	unsigned char	*q;

	if ((q = malloc(len == 0 ? 1 : len)) == NULL)
		abort();
	if (len > 0)
		memcpy(q, p, len);
	return q;
}

static void
test_names(void)
{
	size_t	 i;

	for (i = 0; i < NOPS; i++) {
		is_int(rf_wt_header_len(all_ops[i]),
		    has_arg(all_ops[i]) ? 6 : 4, "header length of each opcode");
		ok(rf_wt_op_known(all_ops[i]), "%s known",
		    rf_wt_op_name(all_ops[i]));
		ok(strcmp(rf_wt_op_name(all_ops[i]), "unknown") != 0,
		    "opcode 0x%02x has a name", all_ops[i]);
	}
	is_str(rf_wt_op_name(RF_WT_OPEN_FAULT), "OPEN_FAULT", "name 0x81");
	ok(!rf_wt_op_known(0x33) && !rf_wt_op_known(0x03) &&
	    !rf_wt_op_known(0xff), "0x33, 0x03, 0xff unknown");
	is_str(rf_wt_op_name(0x33), "unknown", "unknown opcode name");
	is_int(rf_wt_header_len(0x33), 4, "unknown opcode: 4-byte header");
	is_str(rf_wt_error_name(RF_WT_ERR_PROTOCOL), "PROTOCOL", "error 6");
	is_str(rf_wt_error_name(RF_WT_ERR_CHANNEL_IN_USE), "CHANNEL_IN_USE",
	    "error 7");
	is_str(rf_wt_error_name(8), "unknown", "error 8 unknown");
}

static void
test_roundtrip(void)
{
	static const char	 data[] = "hello, device";
	struct rf_wt_frame	 f;
	struct rf_buf		 out;
	unsigned char		*m;
	size_t			 i, hlen, plen, mlen;
	uint8_t			 op;

	for (i = 0; i < NOPS; i++) {
		op = all_ops[i];
		hlen = has_arg(op) ? 6 : 4;
		plen = has_payload(op) ? sizeof(data) - 1 : 0;
		rf_buf_init(&out, 0);
		is_int(rf_wt_encode(&out, op, 0x1234, 0xbeef,
		    plen ? data : NULL, plen), 0, "encode");
		mlen = rf_buf_len(&out);
		is_int(mlen, hlen + plen, "encoded length: header + payload");
		m = dup_exact(rf_buf_ptr(&out), mlen);
		ok(m[0] == op && m[1] == 0 && m[2] == 0x12 && m[3] == 0x34,
		    "%s: op, zero flags, channel big-endian",
		    rf_wt_op_name(op));
		if (hlen == 6)
			ok(m[4] == 0xbe && m[5] == 0xef, "arg big-endian");
		is_int(rf_wt_decode(m, mlen, &f), 0, "decode");
		ok(f.op == op && f.flags == 0 && f.channel == 0x1234,
		    "%s: op and channel back", rf_wt_op_name(op));
		is_int(f.arg, hlen == 6 ? 0xbeef : 0,
		    "arg back only where the opcode has one");
		if (plen > 0)
			ok(f.payload == m + hlen && f.len == plen &&
			    memcmp(f.payload, data, plen) == 0,
			    "payload points into the message");
		else
			ok(f.payload == NULL && f.len == 0, "no payload");
		free(m);
		rf_buf_free(&out);
	}
}

static void
test_encode_header(void)
{
	unsigned char	 hdr[6];
	struct rf_buf	 out;
	unsigned char	 big[RF_WT_STOCK_PAYLOAD_MAX];
	struct rf_wt_frame f;

	memset(hdr, 0xee, sizeof(hdr));
	is_int(rf_wt_encode_header(hdr, RF_WT_DATA, 7, 99), 4,
	    "DATA header is 4 bytes");
	ok(hdr[0] == 0 && hdr[1] == 0 && hdr[2] == 0 && hdr[3] == 7 &&
	    hdr[4] == 0xee, "DATA header bytes, arg not written");
	is_int(rf_wt_encode_header(hdr, RF_WT_ERROR, 0xfffe,
	    RF_WT_ERR_PROTOCOL), 6, "ERROR header is 6 bytes");
	ok(hdr[0] == 0x80 && hdr[2] == 0xff && hdr[3] == 0xfe &&
	    hdr[4] == 0 && hdr[5] == 6, "ERROR header bytes");

	rf_buf_init(&out, 0);
	is_int(rf_wt_encode(&out, RF_WT_CLOSE, 1, 0, "x", 1), RF_ERR_INVAL,
	    "encode: payload on CLOSE refused");
	is_int(rf_wt_encode(&out, 0x33, 1, 0, NULL, 0), RF_ERR_INVAL,
	    "encode: unknown opcode refused");
	is_int(rf_buf_len(&out), 0, "nothing appended on error");
	rf_buf_free(&out);

	rf_buf_init(&out, 8);
	is_int(rf_wt_encode(&out, RF_WT_DATA, 1, 0, "hello", 5), RF_ERR_LIMIT,
	    "encode past max_size: LIMIT");
	is_int(rf_buf_len(&out), 0, "all or nothing");
	is_int(rf_wt_encode(&out, RF_WT_DATA, 1, 0, "hell", 4), 0,
	    "encode exactly max_size");
	rf_buf_free(&out);

	memset(big, 'z', sizeof(big));
	rf_buf_init(&out, 0);
	is_int(rf_wt_encode(&out, RF_WT_DATA, 300, 0, big, sizeof(big)), 0,
	    "encode a stock-maximum DATA frame");
	is_int(rf_buf_len(&out), 4 + RF_WT_STOCK_PAYLOAD_MAX,
	    "2052 bytes: the stock agent's receive buffer");
	is_int(rf_wt_decode(rf_buf_ptr(&out), rf_buf_len(&out), &f), 0,
	    "decode it");
	is_int(f.len, RF_WT_STOCK_PAYLOAD_MAX, "2048 payload bytes");
	rf_buf_free(&out);
}

static void
test_decode_bad(void)
{
	static const unsigned char extra[] = { 0, 0, 0, 5, 0, 6, 0xaa };
	unsigned char		 msg[8], *m;
	struct rf_wt_frame	 f;
	size_t			 i, k, hlen;
	int			 r;

	for (i = 0; i < NOPS; i++) {
		hlen = rf_wt_header_len(all_ops[i]);
		rf_wt_encode_header(msg, all_ops[i], 5, 6);
		for (k = 0; k < hlen; k++) {
			m = dup_exact(msg, k);
			memset(&f, 0xee, sizeof(f));
			r = rf_wt_decode(m, k, &f);
			free(m);
			if (!is_int(r, RF_ERR_PROTO, "truncated header: PROTO"))
				diag("%s cut to %zu bytes",
				    rf_wt_op_name(all_ops[i]), k);
			if (k < 4)
				ok(f.op == 0 && f.channel == 0 &&
				    f.payload == NULL, "frame cleared");
		}
		if (has_payload(all_ops[i]))
			continue;
		/* One byte more than the header: payload where none goes. */
		memcpy(msg, extra, sizeof(extra));
		msg[0] = all_ops[i];
		m = dup_exact(msg, hlen + 1);
		is_int(rf_wt_decode(m, hlen + 1, &f), RF_ERR_PROTO,
		    "payload on an opcode without one: PROTO");
		free(m);
	}
	is_int(rf_wt_decode(NULL, 0, &f), RF_ERR_PROTO, "empty message");
}

static void
test_decode_odd(void)
{
	static const unsigned char unk[] = { 0x33, 0, 0x01, 0x02, 9, 9, 9 };
	static const unsigned char data0[] = { 0, 0, 0, 9 };
	static const unsigned char flags[] = { 0x02, 0x40, 0, 3 };
	static const unsigned char close_msg[] = { 0x02, 0, 0, 3 };
	struct rf_wt_frame	 f;
	unsigned char		*m;

	m = dup_exact(unk, 4);
	is_int(rf_wt_decode(m, 4, &f), RF_ERR_INVAL, "opcode 0x33: INVAL");
	ok(f.op == 0x33 && f.channel == 0x0102,
	    "op and channel filled for the ERROR(PROTOCOL) answer");
	free(m);
	m = dup_exact(unk, sizeof(unk));
	is_int(rf_wt_decode(m, sizeof(unk), &f), RF_ERR_INVAL,
	    "unknown opcode with bytes after it: still INVAL");
	is_int(f.channel, 0x0102, "channel filled");
	free(m);
	m = dup_exact(unk, 3);
	is_int(rf_wt_decode(m, 3, &f), RF_ERR_PROTO,
	    "unknown opcode without a whole channel: PROTO");
	free(m);

	m = dup_exact(data0, sizeof(data0));
	is_int(rf_wt_decode(m, sizeof(data0), &f), 0, "DATA, empty payload");
	ok(f.len == 0 && f.channel == 9, "zero-length DATA on channel 9");
	free(m);

	m = dup_exact(close_msg, sizeof(close_msg));
	is_int(rf_wt_decode(m, sizeof(close_msg), &f), 0, "bare CLOSE");
	ok(f.op == RF_WT_CLOSE && f.channel == 3 && f.payload == NULL,
	    "CLOSE channel 3");
	free(m);

	m = dup_exact(flags, sizeof(flags));
	is_int(rf_wt_decode(m, sizeof(flags), &f), 0,
	    "a flag byte a newer peer might set is accepted");
	is_int(f.flags, 0x40, "and reported");
	free(m);
}

/* Collects PROP_UPDATE pairs; stops with -77 after stop_after pairs. */
struct props {
	int	 n;
	int	 stop_after;
	char	 key[8][64];
	char	 value[8][1024];
};

static int
collect(void *arg, const char *key, const char *value)
{
	struct props	*p = arg;

	if (p->stop_after > 0 && p->n >= p->stop_after)
		return -77;
	if (p->n < 8) {
		snprintf(p->key[p->n], sizeof(p->key[0]), "%s", key);
		snprintf(p->value[p->n], sizeof(p->value[0]), "%s", value);
	}
	p->n++;
	return 0;
}

static int
decode_bytes(const unsigned char *b, size_t len, struct props *p)
{
	unsigned char	*m = dup_exact(b, len);
	int		 r;

	memset(p, 0, sizeof(*p));
	r = rf_wt_props_decode(m, len, collect, p);
	free(m);
	return r;
}

static void
test_props(void)
{
	static const char *const keys[] = { "name", "version", "x" };
	const char		*values[3];
	char			 longv[201], v1023[1024], k64[65];
	const char		*bad_keys[1];
	static struct props	 p;
	struct rf_buf		 out;
	const unsigned char	*e;

	memset(longv, 'v', 200);
	longv[200] = '\0';
	values[0] = "Boiler room";
	values[1] = longv;
	values[2] = "";
	rf_buf_init(&out, 0);
	is_int(rf_wt_props_encode(&out, keys, values, 3), 0, "encode 3 pairs");
	e = rf_buf_ptr(&out);
	is_int(rf_buf_len(&out), 1 + (1 + 4 + 1 + 11) + (1 + 7 + 2 + 200) +
	    (1 + 1 + 1 + 0), "encoded size");
	ok(e[0] == 3 && e[1] == 4 && memcmp(e + 2, "name", 4) == 0 &&
	    e[6] == 11, "count, then length-prefixed strings");
	ok(e[18] == 7 && e[26] == 0xc8 && e[27] == 0x01,
	    "200 is 0xc8 0x01: little-endian base-128");
	is_int(decode_bytes(e, rf_buf_len(&out), &p), 0, "decode them");
	is_int(p.n, 3, "three pairs");
	is_str(p.key[0], "name", "key 0");
	is_str(p.value[0], "Boiler room", "value 0");
	is_str(p.key[1], "version", "key 1");
	is_int(strlen(p.value[1]), 200, "the 200-byte value");
	is_str(p.value[2], "", "empty value");

	p.stop_after = 1;
	memset(p.key, 0, sizeof(p.key));
	p.n = 0;
	is_int(rf_wt_props_decode(e, rf_buf_len(&out), collect, &p), -77,
	    "a callback's non-zero return stops the walk and is returned");
	is_int(p.n, 1, "after one pair");

	is_int(decode_bytes(e, rf_buf_len(&out) - 1, &p), RF_ERR_PROTO,
	    "last value one byte short: PROTO");
	is_int(p.n, 0, "and no pair reached the callback");
	rf_buf_free(&out);

	rf_buf_init(&out, 0);
	memset(v1023, 'w', 1023);
	v1023[1023] = '\0';
	values[0] = v1023;
	is_int(rf_wt_props_encode(&out, keys, values, 1), 0,
	    "value of 1023 bytes fits");
	is_int(decode_bytes(rf_buf_ptr(&out), rf_buf_len(&out), &p), 0,
	    "and decodes");
	rf_buf_reset(&out);
	memset(k64, 'k', 64);
	k64[64] = '\0';
	bad_keys[0] = k64;
	is_int(rf_wt_props_encode(&out, bad_keys, keys, 1), RF_ERR_INVAL,
	    "encode: a 64-byte key is refused");
	is_int(rf_buf_len(&out), 0, "and nothing is left behind");
	bad_keys[0] = "k";
	values[0] = "ok";
	values[1] = NULL;
	is_int(rf_wt_props_encode(&out, keys, values, 2), RF_ERR_INVAL,
	    "encode: a NULL value after a good pair is refused");
	is_int(rf_buf_len(&out), 0, "and the good pair is taken back");
	is_int(rf_wt_props_encode(&out, keys, values, 256), RF_ERR_INVAL,
	    "encode: 256 pairs do not fit the count byte");
	rf_buf_free(&out);
}

static void
test_props_bad(void)
{
	static const unsigned char nul_key[] = { 1, 3, 'a', 0, 'b', 1, 'v' };
	static const unsigned char lies[] = { 2, 1, 'a', 1, 'b' };
	static const unsigned char trailing[] = { 1, 1, 'a', 1, 'b', 'x' };
	static const unsigned char zero[] = { 0 };
	static const unsigned char past[] = { 1, 0x85, 0x01, 'a' };
	static const unsigned char endless[] = { 1, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	static const unsigned char empty_key[] = { 1, 0, 1, 'v' };
	unsigned char		 k64[2 + 64 + 1], v1024[1 + 2 + 1 + 3 + 1024];
	static struct props	 p;

	is_int(decode_bytes(nul_key, sizeof(nul_key), &p), RF_ERR_PROTO,
	    "NUL in a key: PROTO");
	is_int(decode_bytes(lies, sizeof(lies), &p), RF_ERR_PROTO,
	    "count larger than the pairs present: PROTO");
	is_int(p.n, 0, "no callback for the pair that was there");
	is_int(decode_bytes(trailing, sizeof(trailing), &p), RF_ERR_PROTO,
	    "bytes after the last pair: PROTO");
	is_int(decode_bytes(zero, sizeof(zero), &p), 0, "count 0 is fine");
	is_int(p.n, 0, "no pairs");
	is_int(decode_bytes(zero, 0, &p), RF_ERR_PROTO,
	    "no count byte: PROTO");
	is_int(decode_bytes(past, sizeof(past), &p), RF_ERR_PROTO,
	    "length 133 with one byte there: PROTO");
	is_int(decode_bytes(endless, sizeof(endless), &p), RF_ERR_PROTO,
	    "overlong varint: PROTO");
	is_int(decode_bytes(empty_key, sizeof(empty_key), &p), 0,
	    "an empty key is passed on (wt.h refuses only NUL/long/short)");

	k64[0] = 1;
	k64[1] = 64;
	memset(k64 + 2, 'k', 64);
	k64[66] = 0;
	is_int(decode_bytes(k64, sizeof(k64), &p), RF_ERR_PROTO,
	    "a 64-byte key: PROTO");
	v1024[0] = 1;
	v1024[1] = 1;
	v1024[2] = 'k';
	v1024[3] = 0x80;	/* 1024 = 0x80 0x08 */
	v1024[4] = 0x08;
	memset(v1024 + 5, 'v', sizeof(v1024) - 5);
	is_int(decode_bytes(v1024, 5 + 1024, &p), RF_ERR_PROTO,
	    "a 1024-byte value: PROTO");
	v1024[3] = 0xff;	/* 1023 = 0xff 0x07 */
	v1024[4] = 0x07;
	is_int(decode_bytes(v1024, 5 + 1023, &p), 0, "a 1023-byte value: ok");
}

static void
prop_ok(const char *header, const char *name, const char *value)
{
	char	 n[64], v[256];
	int	 r;

	r = rf_wt_property_parse(header, n, sizeof(n), v, sizeof(v));
	if (!is_int(r, 0, header))
		return;
	is_str(n, name, "  name");
	is_str(v, value, "  value");
}

static void
prop_bad(const char *header, int want)
{
	char	 n[64], v[16];
	int	 r;

	memset(n, 'N', sizeof(n));
	memset(v, 'V', sizeof(v));
	r = rf_wt_property_parse(header, n, sizeof(n), v, sizeof(v));
	is_int(r, want, header);
	ok(n[0] == '\0' && v[0] == '\0', "  outputs cleared");
}

static void
test_property(void)
{
	char	 n[8], v[8];

	prop_ok("device;targetHost=127.0.0.1", "targetHost", "127.0.0.1");
	prop_ok("device;targetPorts=22, 80", "targetPorts", "22, 80");
	prop_ok("device;httpPort=80", "httpPort", "80");
	prop_ok("device;name=\"Boiler \\\"room\\\"\"", "name",
	    "Boiler \"room\"");
	prop_ok("device;name=\"Boiler room gateway\"", "name",
	    "Boiler room gateway");
	prop_ok("device;httpPath=\"/index.html\"", "httpPath", "/index.html");
	prop_ok("device;name=\"back\\\\slash\"", "name", "back\\slash");
	prop_ok("device;name=\"C:\\data\"", "name", "C:\\data");
	prop_ok("device;name=", "name", "");
	prop_ok("device;name=\"\"", "name", "");
	prop_ok("  device;vncPort=5900 \t", "vncPort", "5900");
	prop_ok("device;my.custom_prop-1=x=y", "my.custom_prop-1", "x=y");
	prop_ok("device;name=K\xc3\xbc" "che", "name", "K\xc3\xbc" "che");

	prop_bad("targetHost=127.0.0.1", RF_ERR_PROTO);
	prop_bad("device:name=x", RF_ERR_PROTO);
	prop_bad("devices;name=x", RF_ERR_PROTO);
	prop_bad("device;", RF_ERR_PROTO);
	prop_bad("device;=x", RF_ERR_PROTO);
	prop_bad("device;name", RF_ERR_PROTO);
	prop_bad("device;na me=x", RF_ERR_PROTO);
	prop_bad("device;na\"me=x", RF_ERR_PROTO);
	prop_bad("device;name=\"unterminated", RF_ERR_PROTO);
	prop_bad("device;name=\"ends in escape\\\"", RF_ERR_PROTO);
	prop_bad("device;name=\"x\" trailing", RF_ERR_PROTO);
	prop_bad("device;name=\"x\"\"y\"", RF_ERR_PROTO);
	prop_bad("device;name=a\001b", RF_ERR_PROTO);
	prop_bad("device;name=\"a\rb\"", RF_ERR_PROTO);
	prop_bad("device;name=a\x7f", RF_ERR_PROTO);
	prop_bad("", RF_ERR_PROTO);
	prop_bad("device;name=0123456789abcdef", RF_ERR_LIMIT);

	is_int(rf_wt_property_parse("device;longername=1", n, sizeof(n), v,
	    sizeof(v)), RF_ERR_LIMIT, "name longer than its buffer: LIMIT");
	is_int(rf_wt_property_parse("device;name=1234567", n, sizeof(n), v,
	    sizeof(v)), 0, "value of exactly valuelen - 1");
	is_int(rf_wt_property_parse("device;name=1", n, 0, v, sizeof(v)),
	    RF_ERR_INVAL, "namelen 0: INVAL");
}

/* CREDIT (reflector-webtunnel(7)): a u32 after the 4-byte header. */
static void
test_credit(void)
{
	unsigned char	 hdr[RF_WT_HDR_MAX];
	struct rf_wt_frame f;
	size_t		 n;

	n = rf_wt_encode_header(hdr, RF_WT_CREDIT, 0x1234, 0x80000001U);
	is_int(n, 8, "CREDIT: 8-byte header");
	ok(hdr[0] == 0x21 && hdr[2] == 0x12 && hdr[3] == 0x34 &&
	    hdr[4] == 0x80 && hdr[7] == 0x01, "CREDIT: big-endian u32");
	is_int(rf_wt_decode(hdr, n, &f), 0, "CREDIT decodes");
	is_int(f.credit, 0x80000001U, "  ... with its grant");
	is_int(f.channel, 0x1234, "  ... and its channel");
	is_int(rf_wt_decode(hdr, 7, &f), RF_ERR_PROTO, "CREDIT cut short");
	{
		unsigned char	 longer[9];

		memcpy(longer, hdr, 8);
		longer[8] = 0;
		is_int(rf_wt_decode(longer, 9, &f), RF_ERR_PROTO,
		    "CREDIT with a trailing byte");
	}
}

/* The extension header: strict numbers, lenient about new parameters. */
static void
test_ext_header(void)
{
	struct rf_wt_ext e;
	char		 out[64];

	is_int(rf_wt_ext_parse("1; frame=65536; window=524288", &e), 0,
	    "ext: ours parses");
	ok(e.frame == 65536 && e.window == 524288, "  ... both values");
	is_int(rf_wt_ext_parse(" 1;window=4096 ;frame=2048; x=y", &e), 0,
	    "ext: any order, spaces, unknown parameter");
	ok(e.frame == 2048 && e.window == 4096, "  ... both values");
	is_int(rf_wt_ext_parse("2; frame=65536; window=524288", &e),
	    RF_ERR_PROTO, "ext: another version");
	is_int(rf_wt_ext_parse("1; frame=banana; window=65536", &e),
	    RF_ERR_PROTO, "ext: not a number");
	is_int(rf_wt_ext_parse("1; frame=65536", &e), RF_ERR_PROTO,
	    "ext: window missing");
	is_int(rf_wt_ext_parse("1; frame=2048; frame=2048; window=4096", &e),
	    RF_ERR_PROTO, "ext: a parameter twice");
	is_int(rf_wt_ext_parse("1; frame=65537; window=1048576", &e),
	    RF_ERR_PROTO, "ext: frame above 64 KiB");
	is_int(rf_wt_ext_parse("1; frame=1024; window=4096", &e),
	    RF_ERR_PROTO, "ext: frame below 2048");
	is_int(rf_wt_ext_parse("1; frame=65536; window=4096", &e),
	    RF_ERR_PROTO, "ext: window smaller than a frame");
	is_int(rf_wt_ext_parse("1; frame=99999999999; window=4096", &e),
	    RF_ERR_PROTO, "ext: 11 digits");
	is_int(rf_wt_ext_parse("", &e), RF_ERR_PROTO, "ext: empty");
	e.frame = 65536;
	e.window = 524288;
	is_int(rf_wt_ext_format(&e, out, sizeof(out)), 0, "ext: formats");
	is_int(rf_wt_ext_parse(out, &e), 0, "  ... and parses back");
	is_int(rf_wt_ext_format(&e, out, 8), RF_ERR_LIMIT, "ext: no room");
}

/*
 * The answer a reflector gives (device and client tunnels alike): our
 * line only for a usable announcement, and nothing else ever.
 */
static void
test_ext_answer(void)
{
	struct rf_wt_ext ours = { 65536, 65536 }, theirs;
	char		 line[128];

	is_int(rf_wt_ext_line(&ours, line, sizeof(line)), 0, "ext line");
	is_str(line, "X-Reflector-WebTunnel-Ext: 1; frame=65536; "
	    "window=65536\r\n", "  ... is the whole header line");
	is_int(rf_wt_ext_line(&ours, line, 20), RF_ERR_LIMIT,
	    "ext line: no room");
	is_str(line, "", "  ... and then empty");
	is_int(rf_wt_ext_answer("1; frame=4096; window=4096", &ours, &theirs,
	    line, sizeof(line)), 0, "ext answer: a usable announcement");
	ok(theirs.frame == 4096 && theirs.window == 4096,
	    "  ... gives the peer's values");
	is_str(line, "X-Reflector-WebTunnel-Ext: 1; frame=65536; "
	    "window=65536\r\n", "  ... and our line");
	is_int(rf_wt_ext_answer(NULL, &ours, &theirs, line, sizeof(line)),
	    RF_ERR_NOTFOUND, "ext answer: no announcement (a stock peer)");
	is_str(line, "", "  ... no line");
	strcpy(line, "junk");
	is_int(rf_wt_ext_answer("1; frame=65536", &ours, &theirs, line,
	    sizeof(line)), RF_ERR_PROTO, "ext answer: no window");
	ok(line[0] == '\0' && theirs.frame == 0, "  ... no line, no values");
	is_int(rf_wt_ext_answer("", &ours, &theirs, line, sizeof(line)),
	    RF_ERR_PROTO, "ext answer: an empty value (a repeated header)");
	is_int(rf_wt_ext_answer("1; frame=2048; window=2048", &ours, &theirs,
	    line, 10), RF_ERR_LIMIT, "ext answer: our line does not fit");
	ok(line[0] == '\0' && theirs.frame == 0, "  ... plain then");
}

int
main(void)
{
	test_names();
	test_roundtrip();
	test_encode_header();
	test_decode_bad();
	test_decode_odd();
	test_props();
	test_props_bad();
	test_property();
	test_credit();
	test_ext_header();
	test_ext_answer();
	return done_testing();
}
