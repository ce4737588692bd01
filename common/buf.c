/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The bounded buffer behind every parser of untrusted bytes (see buf.h).
 * Each getter checks its bounds before it touches memory and, on error,
 * consumes nothing and clears its out-parameter, so a caller that ignores
 * an error still reads zeros rather than stale or foreign data.
 */
#include <limits.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"

/* First allocation of an owned buffer; growth doubles from here. */
#define RF_BUF_MIN_ALLOC	256

/* Longest varint_le: 64 bits at 7 bits a byte. */
#define RF_VARINT_MAX		10

void
rf_buf_init(struct rf_buf *b, size_t max_size)
{
	memset(b, 0, sizeof(*b));
	b->max_size = max_size == 0 ? RF_BUF_MAX_DEFAULT : max_size;
}

void
rf_buf_from(struct rf_buf *b, const void *p, size_t len)
{
	memset(b, 0, sizeof(*b));
	/* The cast is safe: readonly forbids every write through d. */
	b->d = (unsigned char *)(uintptr_t)p;
	b->end = b->alloc = b->max_size = len;
	b->readonly = 1;
}

void
rf_buf_free(struct rf_buf *b)
{
	size_t	 max_size = b->max_size;
	int	 readonly = b->readonly;

	if (!readonly)
		free(b->d);
	memset(b, 0, sizeof(*b));
	b->max_size = max_size;
	b->readonly = readonly;
}

void
rf_buf_reset(struct rf_buf *b)
{
	b->off = b->end = 0;
}

size_t
rf_buf_len(const struct rf_buf *b)
{
	return b->end - b->off;
}

const unsigned char *
rf_buf_ptr(const struct rf_buf *b)
{
	static const unsigned char	 empty[1];

	/* Never NULL: memcpy(dst, NULL, 0) is undefined behaviour. */
	if (b->d == NULL)
		return empty;
	return b->d + b->off;
}

size_t
rf_buf_room(const struct rf_buf *b)
{
	if (b->readonly || rf_buf_len(b) >= b->max_size)
		return 0;
	return b->max_size - rf_buf_len(b);
}

/* glibc's REP MOVSB threshold on AVX2 machines: pieces this size avoid it. */
#define RF_COPY_PIECE	2048
#define RF_COPY_PAGE	4096
#define RF_COPY_ALIAS	64	/* distances 1..63 modulo a page are slow */

void
rf_copy(void *dst, const void *src, size_t len)
{
	unsigned char		*d = dst;
	const unsigned char	*s = src;
	size_t			 dist;

	dist = ((uintptr_t)d - (uintptr_t)s) % RF_COPY_PAGE;
	/*
	 * Forward pieces are right for a d at or past s + len, and for any
	 * d < s, overlapping or not (each piece reads bytes no earlier piece
	 * wrote); in unsigned arithmetic both are d - s >= len.  A d inside
	 * (s, s + len) needs memmove's backward copy.
	 */
	if (len > RF_COPY_PIECE && dist > 0 && dist < RF_COPY_ALIAS &&
	    (uintptr_t)d - (uintptr_t)s >= len) {
		while (len > RF_COPY_PIECE) {
			memmove(d, s, RF_COPY_PIECE);
			d += RF_COPY_PIECE;
			s += RF_COPY_PIECE;
			len -= RF_COPY_PIECE;
		}
	}
	if (len > 0)
		memmove(d, s, len);
}

void
rf_buf_compact(struct rf_buf *b)
{
	if (b->readonly || b->off == 0)
		return;
	rf_copy(b->d, b->d + b->off, b->end - b->off);
	b->end -= b->off;
	b->off = 0;
}

/* Makes alloc >= end + len; the caller has checked len against room. */
static int
buf_grow(struct rf_buf *b, size_t len)
{
	unsigned char	*d;
	size_t		 need, n;

	if (b->end + len > b->alloc)
		rf_buf_compact(b);
	need = b->end + len;
	if (need <= b->alloc)
		return 0;
	n = b->alloc == 0 ? RF_BUF_MIN_ALLOC : b->alloc;
	while (n < need && n <= b->max_size / 2)
		n *= 2;
	/* Room was checked and compaction done, so need <= max_size. */
	if (n < need || n > b->max_size)
		n = b->max_size;
	if ((d = realloc(b->d, n)) == NULL)
		return RF_ERR_NOMEM;
	b->d = d;
	b->alloc = n;
	return 0;
}

int
rf_buf_reserve(struct rf_buf *b, size_t len, unsigned char **dp)
{
	int	 r;

	*dp = NULL;
	if (b->readonly)
		return RF_ERR_INVAL;
	if (len > rf_buf_room(b))
		return RF_ERR_LIMIT;
	if ((r = buf_grow(b, len)) != 0)
		return r;
	if (b->d == NULL)
		return 0;	/* len is 0 and nothing is allocated yet */
	*dp = b->d + b->end;
	b->end += len;
	return 0;
}

int
rf_buf_unput(struct rf_buf *b, size_t len)
{
	if (b->readonly)
		return RF_ERR_INVAL;
	if (len > rf_buf_len(b))
		return RF_ERR_SHORT;
	b->end -= len;
	return 0;
}

int
rf_buf_put(struct rf_buf *b, const void *p, size_t len)
{
	unsigned char	*dp;
	int		 r;

	if ((r = rf_buf_reserve(b, len, &dp)) != 0)
		return r;
	if (len > 0)
		rf_copy(dp, p, len);
	return 0;
}

int
rf_buf_put_u8(struct rf_buf *b, uint8_t v)
{
	return rf_buf_put(b, &v, 1);
}

int
rf_buf_put_u16(struct rf_buf *b, uint16_t v)
{
	unsigned char	 p[2];

	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
	return rf_buf_put(b, p, sizeof(p));
}

int
rf_buf_put_u32(struct rf_buf *b, uint32_t v)
{
	unsigned char	 p[4];
	int		 i;

	for (i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (24 - 8 * i));
	return rf_buf_put(b, p, sizeof(p));
}

int
rf_buf_put_u64(struct rf_buf *b, uint64_t v)
{
	unsigned char	 p[8];
	int		 i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (56 - 8 * i));
	return rf_buf_put(b, p, sizeof(p));
}

int
rf_buf_put_varint_le(struct rf_buf *b, uint64_t v)
{
	unsigned char	 p[RF_VARINT_MAX];
	size_t		 n = 0;

	do {
		p[n] = v & 0x7f;
		v >>= 7;
		if (v != 0)
			p[n] |= 0x80;
		n++;
	} while (v != 0);
	return rf_buf_put(b, p, n);
}

static int
buf_vputf(struct rf_buf *b, const char *fmt, va_list ap)
{
	va_list		 ap2;
	unsigned char	*dp;
	char		*tmp;
	int		 n, r;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return RF_ERR_INVAL;
	if (n == 0)
		return 0;
	if ((r = rf_buf_reserve(b, (size_t)n, &dp)) != 0)
		return r;
	/* vsnprintf writes a NUL too: in place only if a spare byte follows. */
	if (b->end < b->alloc) {
		vsnprintf((char *)dp, (size_t)n + 1, fmt, ap);
		return 0;
	}
	if ((tmp = malloc((size_t)n + 1)) == NULL) {
		b->end -= (size_t)n;
		return RF_ERR_NOMEM;
	}
	vsnprintf(tmp, (size_t)n + 1, fmt, ap);
	memcpy(dp, tmp, (size_t)n);
	free(tmp);
	return 0;
}

int
rf_buf_putf(struct rf_buf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 r;

	va_start(ap, fmt);
	r = buf_vputf(b, fmt, ap);
	va_end(ap);
	return r;
}

int
rf_buf_get(struct rf_buf *b, void *v, size_t len)
{
	if (v != NULL && len > 0)
		memset(v, 0, len);
	if (len > rf_buf_len(b))
		return RF_ERR_SHORT;
	if (v != NULL && len > 0)
		rf_copy(v, b->d + b->off, len);
	b->off += len;
	return 0;
}

int
rf_buf_consume(struct rf_buf *b, size_t len)
{
	return rf_buf_get(b, NULL, len);
}

/* Reads n <= 8 big-endian bytes at offset at without consuming them. */
static int
buf_peek_be(const struct rf_buf *b, size_t at, size_t n, uint64_t *v)
{
	size_t	 i;

	*v = 0;
	if (at > rf_buf_len(b) || n > rf_buf_len(b) - at)
		return RF_ERR_SHORT;
	for (i = 0; i < n; i++)
		*v = (*v << 8) | b->d[b->off + at + i];
	return 0;
}

static int
buf_get_be(struct rf_buf *b, size_t n, uint64_t *v)
{
	int	 r;

	if ((r = buf_peek_be(b, 0, n, v)) != 0)
		return r;
	b->off += n;
	return 0;
}

int
rf_buf_get_u8(struct rf_buf *b, uint8_t *v)
{
	uint64_t	 x;
	int		 r;

	r = buf_get_be(b, 1, &x);
	*v = (uint8_t)x;
	return r;
}

int
rf_buf_get_u16(struct rf_buf *b, uint16_t *v)
{
	uint64_t	 x;
	int		 r;

	r = buf_get_be(b, 2, &x);
	*v = (uint16_t)x;
	return r;
}

int
rf_buf_get_u24(struct rf_buf *b, uint32_t *v)
{
	uint64_t	 x;
	int		 r;

	r = buf_get_be(b, 3, &x);
	*v = (uint32_t)x;
	return r;
}

int
rf_buf_get_u32(struct rf_buf *b, uint32_t *v)
{
	uint64_t	 x;
	int		 r;

	r = buf_get_be(b, 4, &x);
	*v = (uint32_t)x;
	return r;
}

int
rf_buf_get_u64(struct rf_buf *b, uint64_t *v)
{
	return buf_get_be(b, 8, v);
}

int
rf_buf_peek_u8(const struct rf_buf *b, size_t at, uint8_t *v)
{
	uint64_t	 x;
	int		 r;

	r = buf_peek_be(b, at, 1, &x);
	*v = (uint8_t)x;
	return r;
}

int
rf_buf_find_u8(const struct rf_buf *b, size_t from, uint8_t c, size_t *at)
{
	const unsigned char	*p;

	*at = 0;
	if (from >= rf_buf_len(b))
		return RF_ERR_SHORT;
	if ((p = memchr(b->d + b->off + from, c, rf_buf_len(b) - from)) ==
	    NULL)
		return RF_ERR_SHORT;
	*at = (size_t)(p - (b->d + b->off));
	return 0;
}

static unsigned char
ascii_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

int
rf_buf_equal(const struct rf_buf *b, const void *s, size_t len, int fold)
{
	const unsigned char	*p = rf_buf_ptr(b), *q = s;
	size_t			 i;

	if (len > rf_buf_len(b))
		return 0;
	if (!fold)
		return memcmp(p, q, len) == 0;
	for (i = 0; i < len; i++)
		if (ascii_lower(p[i]) != ascii_lower(q[i]))
			return 0;
	return 1;
}

int
rf_buf_peek_u16(const struct rf_buf *b, size_t at, uint16_t *v)
{
	uint64_t	 x;
	int		 r;

	r = buf_peek_be(b, at, 2, &x);
	*v = (uint16_t)x;
	return r;
}

/*
 * The tenth byte may carry only bit 63: anything more overflows uint64,
 * and a continuation bit there would make the value longer than 10 bytes.
 */
int
rf_buf_get_varint_le(struct rf_buf *b, uint64_t *v)
{
	const unsigned char	*p = rf_buf_ptr(b);
	size_t			 avail = rf_buf_len(b), i;
	uint64_t		 x = 0;

	*v = 0;
	for (i = 0; i < RF_VARINT_MAX; i++) {
		if (i >= avail)
			return RF_ERR_SHORT;
		if (i == RF_VARINT_MAX - 1 && p[i] > 1)
			return RF_ERR_PROTO;
		x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if ((p[i] & 0x80) == 0) {
			b->off += i + 1;
			*v = x;
			return 0;
		}
	}
	return RF_ERR_PROTO;	/* not reached: the tenth byte ends it */
}

int
rf_buf_hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
rf_buf_get_sub(struct rf_buf *b, size_t len, struct rf_buf *sub)
{
	rf_buf_from(sub, NULL, 0);
	if (len > rf_buf_len(b))
		return RF_ERR_SHORT;
	rf_buf_from(sub, rf_buf_ptr(b), len);
	b->off += len;
	return 0;
}

/* A sub-buffer behind a length prefix of n bytes; all or nothing. */
static int
buf_get_sub_prefixed(struct rf_buf *b, size_t n, struct rf_buf *sub)
{
	uint64_t	 len;
	int		 r;

	rf_buf_from(sub, NULL, 0);
	if ((r = buf_peek_be(b, 0, n, &len)) != 0)
		return r;
	if (len > rf_buf_len(b) - n)
		return RF_ERR_SHORT;
	b->off += n;
	return rf_buf_get_sub(b, (size_t)len, sub);
}

int
rf_buf_get_sub_u8(struct rf_buf *b, struct rf_buf *sub)
{
	return buf_get_sub_prefixed(b, 1, sub);
}

int
rf_buf_get_sub_u16(struct rf_buf *b, struct rf_buf *sub)
{
	return buf_get_sub_prefixed(b, 2, sub);
}

int
rf_buf_get_cstring(struct rf_buf *b, size_t len, char *out, size_t outlen)
{
	if (outlen > 0)
		out[0] = '\0';
	if (outlen <= len)
		return RF_ERR_LIMIT;
	if (len > rf_buf_len(b))
		return RF_ERR_SHORT;
	/* An embedded NUL would make C code see less than we checked. */
	if (len > 0 && memchr(rf_buf_ptr(b), '\0', len) != NULL)
		return RF_ERR_PROTO;
	if (len > 0)
		memcpy(out, rf_buf_ptr(b), len);
	out[len] = '\0';
	b->off += len;
	return 0;
}

void
rf_heap_keep(size_t bytes)
{
	int n = bytes > INT_MAX ? INT_MAX : (int)bytes;

	(void)mallopt(M_MMAP_THRESHOLD, n);
	(void)mallopt(M_TRIM_THRESHOLD, n);
	(void)mallopt(M_TOP_PAD, n / 4);
}
