/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for common/buf.c.  The input is a little program and
 * the bytes it parses: byte 0 gives the program length n (mod 64), the next
 * n bytes are opcodes, and a read-only view of the rest is the buffer.
 * Each getter's result is checked against a plain decoding of the same
 * bytes: errors consume nothing and clear the output, successes consume
 * exactly their width, and no view ever reaches outside the input.
 * Build and replay: see fuzz-main.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "fuzz.h"

/* Where the input lives: every view must stay inside it. */
static const unsigned char	*in_lo, *in_hi;

static void
check_view(const struct rf_buf *b)
{
	const unsigned char	*p = rf_buf_ptr(b);

	if (rf_buf_len(b) == 0)
		return;
	FUZZ_CHECK(p >= in_lo && p + rf_buf_len(b) <= in_hi);
	FUZZ_CHECK(b->readonly);
}

/* Big-endian value of n bytes at p: the reference decoding. */
static uint64_t
ref_be(const unsigned char *p, size_t n)
{
	uint64_t	 v = 0;
	size_t		 i;

	for (i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Runs getter number `which' of width n; *v holds the value. */
static int
call_int(struct rf_buf *b, int which, uint64_t *v)
{
	uint8_t		 u8 = 0x5a;
	uint16_t	 u16 = 0x5a5a;
	uint32_t	 u32 = 0x5a5a5a5a;
	int		 r;

	switch (which) {
	case 0:
		r = rf_buf_get_u8(b, &u8);
		*v = u8;
		return r;
	case 1:
		r = rf_buf_get_u16(b, &u16);
		*v = u16;
		return r;
	case 2:
		r = rf_buf_get_u24(b, &u32);
		*v = u32;
		return r;
	case 3:
		r = rf_buf_get_u32(b, &u32);
		*v = u32;
		return r;
	default:
		*v = 0x5a5a5a5a5a5a5a5aULL;
		return rf_buf_get_u64(b, v);
	}
}

static void
op_int(struct rf_buf *b, int which)
{
	static const size_t	 width[] = { 1, 2, 3, 4, 8 };
	const unsigned char	*p = rf_buf_ptr(b);
	size_t			 len = rf_buf_len(b), n = width[which];
	uint64_t		 v;

	if (call_int(b, which, &v) != 0) {
		FUZZ_CHECK(len < n);
		FUZZ_CHECK(v == 0 && rf_buf_len(b) == len);
		return;
	}
	FUZZ_CHECK(len >= n && rf_buf_len(b) == len - n);
	FUZZ_CHECK(v == ref_be(p, n));
}

static void
op_varint(struct rf_buf *b)
{
	const unsigned char	*p = rf_buf_ptr(b);
	size_t			 len = rf_buf_len(b), k = 0;
	struct rf_buf		 enc;
	uint64_t		 v, w;
	int			 r;

	/* k: the bytes up to and with the first one without 0x80. */
	while (k < len && k < 10 && (p[k] & 0x80) != 0)
		k++;
	r = rf_buf_get_varint_le(b, &v);
	if (r != 0) {
		FUZZ_CHECK(v == 0 && rf_buf_len(b) == len);
		if (r == RF_ERR_SHORT)
			FUZZ_CHECK(k == len && len < 10);
		else
			FUZZ_CHECK(r == RF_ERR_PROTO && k >= 9 && len >= 10 &&
			    p[9] > 1);
		return;
	}
	FUZZ_CHECK(k < 10 && (k < 9 || p[9] <= 1));
	FUZZ_CHECK(rf_buf_len(b) == len - (k + 1));
	rf_buf_init(&enc, 16);
	FUZZ_CHECK(rf_buf_put_varint_le(&enc, v) == 0);
	FUZZ_CHECK(rf_buf_len(&enc) <= k + 1);
	FUZZ_CHECK(rf_buf_get_varint_le(&enc, &w) == 0 && w == v);
	rf_buf_free(&enc);
}

/* arg: low nibble the string length, high nibble the output size. */
static void
op_cstring(struct rf_buf *b, unsigned int arg)
{
	const unsigned char	*p = rf_buf_ptr(b);
	size_t			 len = rf_buf_len(b);
	size_t			 slen = arg & 15, outlen = arg >> 4;
	char			*out;
	int			 r;

	/* Exactly outlen bytes, so ASan sees any write past them. */
	if ((out = malloc(outlen == 0 ? 1 : outlen)) == NULL)
		return;
	r = rf_buf_get_cstring(b, slen, out, outlen);
	if (outlen <= slen)
		FUZZ_CHECK(r == RF_ERR_LIMIT);
	else if (slen > len)
		FUZZ_CHECK(r == RF_ERR_SHORT);
	else if (memchr(p, '\0', slen) != NULL)
		FUZZ_CHECK(r == RF_ERR_PROTO);
	else {
		FUZZ_CHECK(r == 0 && rf_buf_len(b) == len - slen);
		FUZZ_CHECK(strlen(out) == slen && memcmp(out, p, slen) == 0);
	}
	if (r != 0) {
		FUZZ_CHECK(rf_buf_len(b) == len);
		FUZZ_CHECK(outlen == 0 || out[0] == '\0');
	}
	free(out);
}

/* which 0: sub_u8, 1: sub_u16, 2: get_sub of arg bytes. */
static int
op_sub(struct rf_buf *b, int which, unsigned int arg, struct rf_buf *sub)
{
	const unsigned char	*p = rf_buf_ptr(b);
	size_t			 len = rf_buf_len(b), pre, want;
	int			 r;

	pre = which == 2 ? 0 : (size_t)which + 1;
	if (which == 2)
		want = arg;
	else
		want = len >= pre ? (size_t)ref_be(p, pre) : 0;
	if (which == 0)
		r = rf_buf_get_sub_u8(b, sub);
	else if (which == 1)
		r = rf_buf_get_sub_u16(b, sub);
	else
		r = rf_buf_get_sub(b, arg, sub);
	if (r != 0) {
		FUZZ_CHECK(r == RF_ERR_SHORT && rf_buf_len(b) == len);
		FUZZ_CHECK(len < pre || len - pre < want);
		FUZZ_CHECK(rf_buf_len(sub) == 0);
		return r;
	}
	FUZZ_CHECK(rf_buf_len(sub) == want && rf_buf_ptr(sub) == p + pre);
	FUZZ_CHECK(rf_buf_len(b) == len - pre - want);
	FUZZ_CHECK(rf_buf_put_u8(sub, 0) == RF_ERR_INVAL);
	check_view(sub);
	return 0;
}

static void
op_peek(const struct rf_buf *b, unsigned int at)
{
	const unsigned char	*p = rf_buf_ptr(b);
	size_t			 len = rf_buf_len(b);
	uint8_t			 u8;
	uint16_t		 u16;

	if (rf_buf_peek_u8(b, at, &u8) == 0)
		FUZZ_CHECK(at < len && u8 == p[at]);
	else
		FUZZ_CHECK(at >= len && u8 == 0);
	if (rf_buf_peek_u16(b, at, &u16) == 0)
		FUZZ_CHECK(at + 2 <= len && u16 == ref_be(p + at, 2));
	else
		FUZZ_CHECK(at + 2 > len && u16 == 0);
	FUZZ_CHECK(rf_buf_len(b) == len);
}

/*
 * Opcodes (c % 12): 0-4 get_u8/u16/u24/u32/u64, 5 varint, 6 cstring
 * (next program byte is its argument), 7 sub_u8, 8 sub_u16, 9 get_sub of
 * c / 12 bytes, 10 peek at c / 12, 11 leave the innermost sub-buffer.
 * A successful sub_* enters the sub-buffer, up to 8 deep.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rf_buf		 stack[9];
	const uint8_t		*prog;
	size_t			 n, pc, before;
	int			 depth = 0, op;
	unsigned int		 arg;

	if (size == 0)
		return 0;
	n = data[0] % 64;
	if (n > size - 1)
		n = size - 1;
	prog = data + 1;
	in_lo = data + 1 + n;
	in_hi = data + size;
	rf_buf_from(&stack[0], in_lo, (size_t)(in_hi - in_lo));
	for (pc = 0; pc < n; pc++) {
		struct rf_buf	*b = &stack[depth];

		op = prog[pc] % 12;
		arg = prog[pc] / 12;
		before = rf_buf_len(b);
		if (op <= 4)
			op_int(b, op);
		else if (op == 5)
			op_varint(b);
		else if (op == 6)
			op_cstring(b, pc + 1 < n ? prog[++pc] : 0);
		else if (op >= 7 && op <= 9 && depth < 8) {
			if (op_sub(b, op - 7, arg, &stack[depth + 1]) == 0)
				depth++;
		} else if (op == 10)
			op_peek(b, arg);
		else if (op == 11 && depth > 0)
			depth--;
		FUZZ_CHECK(rf_buf_len(b) <= before);
		check_view(b);
	}
	return 0;
}
