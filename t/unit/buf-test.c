/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for common/buf.c: every getter at its exact bound and one
 * byte short, read-only views, max_size, varint_le and cstring rules.
 * A getter that reads one byte too far here is a parser that reads past
 * a network frame in the daemon.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "tap.h"

static const unsigned char pattern[16] = {
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
};

/* Calls the getter of width n; returns its result and the value. */
static int
get_n(struct rf_buf *b, int n, uint64_t *v)
{
	uint8_t		 u8 = 0xaa;
	uint16_t	 u16 = 0xaaaa;
	uint32_t	 u32 = 0xaaaaaaaa;
	int		 r;

	*v = 0xaaaaaaaaaaaaaaaaULL;	/* must be cleared on error */
	switch (n) {
	case 1:
		r = rf_buf_get_u8(b, &u8);
		*v = u8;
		break;
	case 2:
		r = rf_buf_get_u16(b, &u16);
		*v = u16;
		break;
	case 3:
		r = rf_buf_get_u24(b, &u32);
		*v = u32;
		break;
	case 4:
		r = rf_buf_get_u32(b, &u32);
		*v = u32;
		break;
	default:
		r = rf_buf_get_u64(b, v);
		break;
	}
	return r;
}

static void
test_int_getters(void)
{
	static const int		 widths[] = { 1, 2, 3, 4, 8 };
	static const uint64_t	 want[] = { 0x01, 0x0102, 0x010203,
	    0x01020304, 0x0102030405060708ULL };
	struct rf_buf		 b;
	uint64_t		 v;
	size_t			 i;
	int			 n;

	for (i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
		n = widths[i];
		rf_buf_from(&b, pattern, (size_t)n);
		is_int(get_n(&b, n, &v), 0, "get width at exact bound");
		ok(v == want[i], "width %d: value 0x%llx big-endian", n,
		    (unsigned long long)v);
		is_int(rf_buf_len(&b), 0, "all consumed");
		is_int(get_n(&b, n, &v), RF_ERR_SHORT, "then empty: SHORT");

		rf_buf_from(&b, pattern, (size_t)n - 1);
		is_int(get_n(&b, n, &v), RF_ERR_SHORT,
		    "one byte short: SHORT");
		ok(v == 0, "width %d: out cleared on error", n);
		is_int(rf_buf_len(&b), n - 1, "nothing consumed on error");
		ok(rf_buf_ptr(&b) == pattern, "read offset unchanged");
	}
}

static void
test_get_peek(void)
{
	struct rf_buf	 b;
	unsigned char	 out[8];
	uint8_t		 u8;
	uint16_t	 u16;

	rf_buf_from(&b, pattern, 4);
	memset(out, 0xee, sizeof(out));
	is_int(rf_buf_get(&b, out, 5), RF_ERR_SHORT, "get one past: SHORT");
	ok(out[0] == 0 && out[4] == 0, "get clears out on error");
	is_int(rf_buf_len(&b), 4, "get error consumes nothing");
	is_int(rf_buf_get(&b, out, 4), 0, "get exact");
	ok(memcmp(out, pattern, 4) == 0, "get copies the bytes");

	rf_buf_from(&b, pattern, 4);
	is_int(rf_buf_peek_u8(&b, 3, &u8), 0, "peek_u8 at last byte");
	is_int(u8, 0x04, "peek_u8 value");
	u8 = 0xaa;
	is_int(rf_buf_peek_u8(&b, 4, &u8), RF_ERR_SHORT, "peek_u8 past end");
	is_int(u8, 0, "peek_u8 clears out");
	is_int(rf_buf_peek_u16(&b, 2, &u16), 0, "peek_u16 at exact end");
	is_int(u16, 0x0304, "peek_u16 value");
	is_int(rf_buf_peek_u16(&b, 3, &u16), RF_ERR_SHORT,
	    "peek_u16 one past");
	is_int(rf_buf_peek_u16(&b, SIZE_MAX, &u16), RF_ERR_SHORT,
	    "peek_u16 at SIZE_MAX does not wrap");
	is_int(rf_buf_len(&b), 4, "peek consumes nothing");
	is_int(rf_buf_consume(&b, 5), RF_ERR_SHORT, "consume one past");
	is_int(rf_buf_consume(&b, 4), 0, "consume exact");
	is_int(rf_buf_len(&b), 0, "consumed");
}

static void
test_find_equal(void)
{
	struct rf_buf	 b;
	size_t		 at;

	rf_buf_from(&b, "GET / HTTP/1.1\r\n", 16);
	is_int(rf_buf_find_u8(&b, 0, '\n', &at), 0, "find_u8 finds");
	is_int(at, 15, "find_u8 offset");
	is_int(rf_buf_find_u8(&b, 15, '\n', &at), 0, "find_u8 from the byte");
	is_int(at, 15, "find_u8 from the byte: offset");
	at = 7;
	is_int(rf_buf_find_u8(&b, 16, '\n', &at), RF_ERR_SHORT,
	    "find_u8 from the end");
	is_int(at, 0, "find_u8 clears out");
	is_int(rf_buf_find_u8(&b, SIZE_MAX, 'G', &at), RF_ERR_SHORT,
	    "find_u8 from SIZE_MAX");
	is_int(rf_buf_find_u8(&b, 1, 'G', &at), RF_ERR_SHORT,
	    "find_u8 does not look back");
	is_int(rf_buf_consume(&b, 4), 0, "consume the method");
	is_int(rf_buf_find_u8(&b, 0, ' ', &at), 0, "find_u8 after consume");
	is_int(at, 1, "find_u8 counts from the read offset");
	ok(rf_buf_equal(&b, "/ HTTP", 6, 0), "equal");
	ok(!rf_buf_equal(&b, "/ http", 6, 0), "equal is exact");
	ok(rf_buf_equal(&b, "/ http", 6, 1), "equal folds");
	ok(!rf_buf_equal(&b, "/ HTTX", 6, 1), "equal folds no more");
	ok(!rf_buf_equal(&b, "/ HTTP/1.1\r\nX", 13, 0),
	    "equal with fewer bytes is 0");
	ok(rf_buf_equal(&b, "", 0, 0), "equal of nothing");
	rf_buf_init(&b, 16);
	is_int(rf_buf_find_u8(&b, 0, 0, &at), RF_ERR_SHORT,
	    "find_u8 in an empty buffer");
	ok(rf_buf_equal(&b, "", 0, 1), "equal of nothing, empty buffer");
	ok(!rf_buf_equal(&b, "a", 1, 1), "equal in an empty buffer");
}

static void
test_hexval(void)
{
	const char	*digits = "0123456789abcdefABCDEF";
	int		 c, bad = 0, i;

	for (i = 0; digits[i] != '\0'; i++)
		if (rf_buf_hexval((uint8_t)digits[i]) != (i < 16 ? i : i - 6))
			bad++;
	ok(bad == 0, "hexval of every hex digit, both cases");
	bad = 0;
	for (c = 0; c < 256; c++)
		if (memchr(digits, c, 22) == NULL &&
		    rf_buf_hexval((uint8_t)c) != -1)
			bad++;
	ok(bad == 0, "hexval -1 for the other 234 bytes, NUL too");
}

static void
test_view_readonly(void)
{
	unsigned char	 mem[4] = { 1, 2, 3, 4 };
	unsigned char	*dp = (unsigned char *)1;
	struct rf_buf	 b;

	rf_buf_from(&b, mem, sizeof(mem));
	is_int(rf_buf_put(&b, "x", 1), RF_ERR_INVAL, "view: put");
	is_int(rf_buf_put_u8(&b, 9), RF_ERR_INVAL, "view: put_u8");
	is_int(rf_buf_put_u16(&b, 9), RF_ERR_INVAL, "view: put_u16");
	is_int(rf_buf_put_u32(&b, 9), RF_ERR_INVAL, "view: put_u32");
	is_int(rf_buf_put_u64(&b, 9), RF_ERR_INVAL, "view: put_u64");
	is_int(rf_buf_put_varint_le(&b, 9), RF_ERR_INVAL, "view: varint");
	is_int(rf_buf_putf(&b, "%d", 9), RF_ERR_INVAL, "view: putf");
	is_int(rf_buf_reserve(&b, 1, &dp), RF_ERR_INVAL, "view: reserve");
	ok(dp == NULL, "reserve clears dp on error");
	is_int(rf_buf_unput(&b, 1), RF_ERR_INVAL, "view: unput");
	is_int(rf_buf_room(&b), 0, "view: no room");
	rf_buf_consume(&b, 1);
	rf_buf_compact(&b);
	ok(rf_buf_ptr(&b) == mem + 1, "compact leaves a view alone");
	ok(mem[0] == 1 && mem[3] == 4 && rf_buf_len(&b) == 3,
	    "view memory and length untouched");
	rf_buf_free(&b);
	ok(mem[0] == 1 && rf_buf_len(&b) == 0, "free of a view frees nothing");
}

static void
test_max_size(void)
{
	struct rf_buf	 b;
	unsigned char	*dp;
	uint8_t		 u8;

	rf_buf_init(&b, 0);
	is_int(b.max_size, RF_BUF_MAX_DEFAULT, "init 0: default max_size");
	rf_buf_free(&b);

	rf_buf_init(&b, 10);
	is_int(rf_buf_room(&b), 10, "room is max_size");
	is_int(rf_buf_put(&b, pattern, 10), 0, "put up to max_size");
	is_int(rf_buf_put_u8(&b, 1), RF_ERR_LIMIT, "one more: LIMIT");
	is_int(rf_buf_len(&b), 10, "failed put adds nothing");
	ok(b.alloc <= 10, "storage never beyond max_size (%zu)", b.alloc);
	is_int(rf_buf_reserve(&b, SIZE_MAX, &dp), RF_ERR_LIMIT,
	    "reserve SIZE_MAX: LIMIT, no wrap");
	rf_buf_get_u8(&b, &u8);
	is_int(rf_buf_room(&b), 1, "reading frees room");
	is_int(rf_buf_put_u8(&b, 0x11), 0, "put after read (compacts)");
	is_int(rf_buf_len(&b), 10, "len back at max");
	ok(memcmp(rf_buf_ptr(&b), pattern + 1, 9) == 0 &&
	    rf_buf_ptr(&b)[9] == 0x11, "data intact after compaction");
	is_int(rf_buf_putf(&b, "x"), RF_ERR_LIMIT, "putf past max: LIMIT");
	rf_buf_reset(&b);
	is_int(rf_buf_len(&b), 0, "reset empties");
	is_int(rf_buf_putf(&b, "%s", "0123456789"), 0,
	    "putf of exactly max_size (no room for its NUL)");
	ok(memcmp(rf_buf_ptr(&b), "0123456789", 10) == 0, "putf text");
	is_int(rf_buf_unput(&b, 11), RF_ERR_SHORT, "unput too much");
	is_int(rf_buf_unput(&b, 4), 0, "unput");
	is_int(rf_buf_len(&b), 6, "unput shortens");
	rf_buf_free(&b);
	is_int(b.max_size, 10, "free keeps max_size");
	is_int(rf_buf_len(&b), 0, "free empties");
	rf_buf_free(&b);
}

static void
test_growth(void)
{
	struct rf_buf	 b;
	size_t		 i, bad = 0, alloc_bad = 0;
	unsigned char	 c;

	rf_buf_init(&b, 1000);
	for (i = 0; i < 1000; i++) {
		if (rf_buf_put_u8(&b, (uint8_t)i) != 0)
			bad++;
		if (b.alloc != 256 && b.alloc != 512 && b.alloc != 1000)
			alloc_bad++;
	}
	is_int(bad, 0, "1000 single-byte puts into max 1000");
	is_int(alloc_bad, 0, "alloc doubles 256, 512 then clamps to 1000");
	is_int(b.alloc, 1000, "final alloc is max_size");
	for (i = 0, bad = 0; i < 1000; i++)
		if (rf_buf_get_u8(&b, &c) != 0 || c != (uint8_t)i)
			bad++;
	is_int(bad, 0, "bytes read back in order");
	rf_buf_free(&b);

	rf_buf_init(&b, 0);
	is_int(rf_buf_putf(&b, "%s-%d-%05x", "abc", -7, 0x1f), 0, "putf");
	is_int(rf_buf_len(&b), strlen("abc--7-0001f"), "putf length");
	ok(memcmp(rf_buf_ptr(&b), "abc--7-0001f", rf_buf_len(&b)) == 0,
	    "putf writes no NUL into the data");
	is_int(rf_buf_put_u16(&b, 0xbeef), 0, "put_u16");
	is_int(rf_buf_put_u32(&b, 0xdeadbeef), 0, "put_u32");
	is_int(rf_buf_put_u64(&b, 0x0102030405060708ULL), 0, "put_u64");
	ok(memcmp(rf_buf_ptr(&b) + 12, "\xbe\xef\xde\xad\xbe\xef"
	    "\x01\x02\x03\x04\x05\x06\x07\x08", 14) == 0,
	    "puts are big-endian");
	rf_buf_free(&b);
}

static void
test_varint_roundtrip(void)
{
	static const struct {
		uint64_t	 v;
		size_t		 len;
	} cases[] = {
		{ 0, 1 }, { 1, 1 }, { 127, 1 }, { 128, 2 }, { 300, 2 },
		{ 16383, 2 }, { 16384, 3 }, { 0xffffffffULL, 5 },
		{ 1ULL << 63, 10 }, { UINT64_MAX, 10 },
		{ (1ULL << 63) - 1, 9 },
	};
	struct rf_buf	 b;
	uint64_t	 v;
	size_t		 i, before;
	int		 r;

	rf_buf_init(&b, 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rf_buf_reset(&b);
		rf_buf_put_varint_le(&b, cases[i].v);
		before = rf_buf_len(&b);
		r = rf_buf_get_varint_le(&b, &v);
		ok(r == 0 && v == cases[i].v && before == cases[i].len &&
		    rf_buf_len(&b) == 0, "varint %llu: %zu bytes, round trip",
		    (unsigned long long)cases[i].v, before);
	}
	rf_buf_reset(&b);
	rf_buf_put_varint_le(&b, 300);
	ok(memcmp(rf_buf_ptr(&b), "\xac\x02", 2) == 0,
	    "300 encodes as ac 02 (low group first)");
	rf_buf_free(&b);
}

static void
test_varint_reject(void)
{
	static const unsigned char max[10] = { 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff, 0x01 };
	static const unsigned char over[10] = { 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff, 0x02 };
	static const unsigned char longer[11] = { 0x80, 0x80, 0x80, 0x80,
	    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 };
	static const unsigned char cont[10] = { 0x80, 0x80, 0x80, 0x80, 0x80,
	    0x80, 0x80, 0x80, 0x80, 0x81 };
	static const unsigned char cut[3] = { 0x80, 0x80, 0x80 };
	struct rf_buf	 b;
	uint64_t	 v;

	rf_buf_from(&b, max, sizeof(max));
	ok(rf_buf_get_varint_le(&b, &v) == 0 && v == UINT64_MAX,
	    "10-byte UINT64_MAX accepted");
	rf_buf_from(&b, over, sizeof(over));
	v = 5;
	is_int(rf_buf_get_varint_le(&b, &v), RF_ERR_PROTO,
	    "value past 2^64: PROTO");
	ok(v == 0 && rf_buf_len(&b) == 10, "cleared, nothing consumed");
	rf_buf_from(&b, longer, sizeof(longer));
	is_int(rf_buf_get_varint_le(&b, &v), RF_ERR_PROTO,
	    "11-byte varint: PROTO");
	rf_buf_from(&b, cont, sizeof(cont));
	is_int(rf_buf_get_varint_le(&b, &v), RF_ERR_PROTO,
	    "continuation bit on 10th byte: PROTO");
	rf_buf_from(&b, cut, sizeof(cut));
	v = 5;
	is_int(rf_buf_get_varint_le(&b, &v), RF_ERR_SHORT,
	    "runs off the end: SHORT");
	ok(v == 0 && rf_buf_len(&b) == 3, "cleared, nothing consumed");
	rf_buf_from(&b, cut, 0);
	is_int(rf_buf_get_varint_le(&b, &v), RF_ERR_SHORT, "empty: SHORT");
	rf_buf_from(&b, "\x05\x07", 2);
	ok(rf_buf_get_varint_le(&b, &v) == 0 && v == 5 &&
	    rf_buf_len(&b) == 1, "stops after the byte without 0x80");
}

static void
test_cstring(void)
{
	struct rf_buf	 b;
	char		 out[8];

	rf_buf_from(&b, "hello!", 6);
	memset(out, 'z', sizeof(out));
	is_int(rf_buf_get_cstring(&b, 5, out, 5), RF_ERR_LIMIT,
	    "outlen == len: LIMIT (no room for NUL)");
	ok(out[0] == '\0' && rf_buf_len(&b) == 6, "cleared, nothing consumed");
	is_int(rf_buf_get_cstring(&b, 5, out, 6), 0, "outlen == len + 1");
	is_str(out, "hello", "string NUL-terminated");
	is_int(rf_buf_len(&b), 1, "consumed len bytes");
	is_int(rf_buf_get_cstring(&b, 2, out, sizeof(out)), RF_ERR_SHORT,
	    "len past the end: SHORT");
	is_int(rf_buf_len(&b), 1, "nothing consumed");
	is_int(rf_buf_get_cstring(&b, 0, out, 1), 0, "empty string");
	is_str(out, "", "empty string value");

	rf_buf_from(&b, "ab\0cd", 5);
	memset(out, 'z', sizeof(out));
	is_int(rf_buf_get_cstring(&b, 5, out, sizeof(out)), RF_ERR_PROTO,
	    "embedded NUL: PROTO");
	ok(out[0] == '\0' && rf_buf_len(&b) == 5, "cleared, nothing consumed");
	rf_buf_from(&b, "abc\0", 4);
	is_int(rf_buf_get_cstring(&b, 4, out, sizeof(out)), RF_ERR_PROTO,
	    "trailing NUL inside len: PROTO");
	is_int(rf_buf_get_cstring(&b, 3, out, sizeof(out)), 0,
	    "stopping before the NUL is fine");
}

static void
test_sub(void)
{
	static const unsigned char	 p8[] = { 3, 'a', 'b', 'c', 'd' };
	static const unsigned char	 p16[] = { 0, 2, 'x', 'y' };
	struct rf_buf			 b, sub;
	uint8_t				 u8;

	rf_buf_from(&b, p8, sizeof(p8));
	is_int(rf_buf_get_sub_u8(&b, &sub), 0, "sub_u8");
	ok(rf_buf_len(&sub) == 3 && memcmp(rf_buf_ptr(&sub), "abc", 3) == 0,
	    "sub_u8 view holds the field");
	is_int(rf_buf_len(&b), 1, "prefix and field consumed");
	is_int(rf_buf_put_u8(&sub, 1), RF_ERR_INVAL, "sub is read-only");
	is_int(rf_buf_get_sub(&b, 2, &sub), RF_ERR_SHORT, "get_sub one past");
	ok(rf_buf_len(&sub) == 0 && sub.readonly, "sub cleared to empty view");
	is_int(rf_buf_get_sub(&b, 1, &sub), 0, "get_sub exact");
	ok(rf_buf_get_u8(&sub, &u8) == 0 && u8 == 'd', "sub reads its byte");
	is_int(rf_buf_get_u8(&sub, &u8), RF_ERR_SHORT,
	    "sub does not read past its end into the parent");

	rf_buf_from(&b, p8, 3);	/* prefix says 3, only 2 follow */
	is_int(rf_buf_get_sub_u8(&b, &sub), RF_ERR_SHORT, "sub_u8 short");
	is_int(rf_buf_len(&b), 3, "prefix not consumed either");
	rf_buf_from(&b, p8, 0);
	is_int(rf_buf_get_sub_u8(&b, &sub), RF_ERR_SHORT, "sub_u8 no prefix");

	rf_buf_from(&b, p16, sizeof(p16));
	is_int(rf_buf_get_sub_u16(&b, &sub), 0, "sub_u16 exact");
	ok(rf_buf_len(&sub) == 2 && rf_buf_ptr(&sub)[1] == 'y',
	    "sub_u16 view");
	rf_buf_from(&b, p16, sizeof(p16) - 1);
	is_int(rf_buf_get_sub_u16(&b, &sub), RF_ERR_SHORT, "sub_u16 short");
	is_int(rf_buf_len(&b), 3, "nothing consumed");
	rf_buf_from(&b, p16, 1);
	is_int(rf_buf_get_sub_u16(&b, &sub), RF_ERR_SHORT,
	    "sub_u16 half a prefix");
}

/*
 * rf_copy against memmove over one array: the distances it copies in
 * pieces (1..63 modulo 4 KiB, either way, overlapping or not), the ones
 * next to them, and lengths round the 2 KiB piece.
 */
static void
test_copy(void)
{
	static const long dists[] = {
		-8191, -4159, -4096, -4095, -4063, -4033, -4032, -64, -63,
		-1, 1, 2, 31, 63, 64, 4095, 4096, 4097, 4127, 4159, 8193,
	};
	static const size_t lens[] = {
		0, 1, 2047, 2048, 2049, 4097, 5000, 16384, 16385,
	};
	enum { SIZE = 64 * 1024, AT = 24 * 1024 };
	unsigned char *got, *want;
	size_t i, j, k, bad = 0, n = 0;

	got = malloc(SIZE);
	want = malloc(SIZE);
	if (got == NULL || want == NULL)
		abort();
	for (i = 0; i < sizeof(dists) / sizeof(dists[0]); i++)
		for (j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
			for (k = 0; k < SIZE; k++)
				got[k] = want[k] = (unsigned char)(k * 7 + k / 251);
			memmove(want + AT + dists[i], want + AT, lens[j]);
			rf_copy(got + AT + dists[i], got + AT, lens[j]);
			n++;
			if (memcmp(got, want, SIZE) != 0) {
				diag("rf_copy: distance %ld, %zu bytes",
				    dists[i], lens[j]);
				bad++;
			}
		}
	ok(bad == 0, "rf_copy is memmove at %zu distances and lengths", n);
	free(got);
	free(want);
}

static void
test_strerror(void)
{
	ok(strcmp(rf_strerror(RF_ERR_SHORT), rf_strerror(RF_ERR_LIMIT)) != 0,
	    "rf_strerror distinguishes codes");
	errno = ENOENT;
	is_str(rf_strerror(RF_ERR_SYS), strerror(ENOENT),
	    "RF_ERR_SYS is strerror(errno)");
	ok(strstr(rf_strerror(-999), "-999") != NULL, "unknown code shown");
}

int
main(void)
{
	test_int_getters();
	test_get_peek();
	test_find_equal();
	test_hexval();
	test_view_readonly();
	test_max_size();
	test_growth();
	test_varint_roundtrip();
	test_varint_reject();
	test_cstring();
	test_sub();
	test_copy();
	test_strerror();
	return done_testing();
}
