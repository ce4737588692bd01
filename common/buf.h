/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A bounded byte buffer with typed, bounds-checked getters and putters, in
 * the manner of OpenSSH's sshbuf.  All parsing of untrusted bytes (TLS
 * ClientHello, HTTP heads, WebTunnel frames, internal messages) goes
 * through it: no pointer arithmetic on network bytes anywhere else.
 *
 * A buffer is either owned (grows on put, never past max_size) or a
 * read-only view of memory owned by someone else (rf_buf_from).  Getters
 * consume from the read offset; on any error nothing is consumed and the
 * out-parameter is cleared.  Integers are big-endian unless named _le.
 */
#ifndef RF_BUF_H
#define RF_BUF_H

#include <stddef.h>
#include <stdint.h>

struct rf_buf {
	unsigned char	*d;		/* storage */
	size_t		 off;		/* read offset */
	size_t		 end;		/* end of valid data */
	size_t		 alloc;		/* bytes allocated at d */
	size_t		 max_size;	/* never hold more than this */
	int		 readonly;	/* a view: no put, no free */
};

#define RF_BUF_MAX_DEFAULT	(1024 * 1024)

void	rf_buf_init(struct rf_buf *, size_t max_size);
/* A read-only view of len bytes at p; p must outlive the view. */
void	rf_buf_from(struct rf_buf *, const void *p, size_t len);
/* Frees owned storage and leaves an empty buffer with the same max_size. */
void	rf_buf_free(struct rf_buf *);
/* Empties the buffer, keeping storage. */
void	rf_buf_reset(struct rf_buf *);

/* Bytes available to read. */
size_t	rf_buf_len(const struct rf_buf *);
/* Pointer to the next byte to read (valid until the next put or free). */
const unsigned char *rf_buf_ptr(const struct rf_buf *);
/* Bytes that can still be put before max_size. */
size_t	rf_buf_room(const struct rf_buf *);

/*
 * Makes room for len bytes at the end and returns a pointer to them in *dp;
 * the bytes count as data at once (write them before the next call).
 * RF_ERR_LIMIT past max_size, RF_ERR_INVAL on a view.
 */
int	rf_buf_reserve(struct rf_buf *, size_t len, unsigned char **dp);
/* Drops len bytes from the end (undo part of a reserve). */
int	rf_buf_unput(struct rf_buf *, size_t len);
int	rf_buf_put(struct rf_buf *, const void *, size_t);
int	rf_buf_put_u8(struct rf_buf *, uint8_t);
int	rf_buf_put_u16(struct rf_buf *, uint16_t);
int	rf_buf_put_u32(struct rf_buf *, uint32_t);
int	rf_buf_put_u64(struct rf_buf *, uint64_t);
/* Little-endian base-128, 7 bits a byte, low group first (WebTunnel). */
int	rf_buf_put_varint_le(struct rf_buf *, uint64_t);
int	rf_buf_putf(struct rf_buf *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

int	rf_buf_get(struct rf_buf *, void *, size_t);
int	rf_buf_get_u8(struct rf_buf *, uint8_t *);
int	rf_buf_get_u16(struct rf_buf *, uint16_t *);
int	rf_buf_get_u24(struct rf_buf *, uint32_t *);
int	rf_buf_get_u32(struct rf_buf *, uint32_t *);
int	rf_buf_get_u64(struct rf_buf *, uint64_t *);
/* At most 10 bytes; RF_ERR_PROTO for an overlong or overflowing value. */
int	rf_buf_get_varint_le(struct rf_buf *, uint64_t *);
/* Peeks without consuming. */
int	rf_buf_peek_u8(const struct rf_buf *, size_t at, uint8_t *);
int	rf_buf_peek_u16(const struct rf_buf *, size_t at, uint16_t *);
/*
 * Scanning without consuming, for the parsers' hot loops.  rf_buf_find_u8
 * sets *at to the offset of the first byte c at or after from (0 is the
 * read offset), or returns RF_ERR_SHORT when there is none.  rf_buf_equal
 * is 1 when the next len bytes are s (fold: in ASCII case-insensitively),
 * 0 when not or when there are fewer.
 */
int	rf_buf_find_u8(const struct rf_buf *, size_t from, uint8_t c,
	    size_t *at);
int	rf_buf_equal(const struct rf_buf *, const void *s, size_t len,
	    int fold);
/* The value of one hex digit (either case), or -1 for any other byte. */
int	rf_buf_hexval(uint8_t c);
/*
 * Consumes len bytes and makes *sub a read-only view of them (a length-
 * delimited field: a TLS extension, a frame payload).
 */
int	rf_buf_get_sub(struct rf_buf *, size_t len, struct rf_buf *sub);
/* As rf_buf_get_sub with a u8/u16 length prefix read first. */
int	rf_buf_get_sub_u8(struct rf_buf *, struct rf_buf *sub);
int	rf_buf_get_sub_u16(struct rf_buf *, struct rf_buf *sub);
/*
 * Consumes len bytes as a string into out (NUL-terminated, outlen > len);
 * RF_ERR_PROTO if they contain a NUL byte, RF_ERR_LIMIT if out is small.
 */
int	rf_buf_get_cstring(struct rf_buf *, size_t len, char *out,
	    size_t outlen);
int	rf_buf_consume(struct rf_buf *, size_t len);
/* Moves unread bytes to the front of owned storage. */
void	rf_buf_compact(struct rf_buf *);

/*
 * memmove(3) for payloads: every copy of a tunnel's, a browser's or the
 * cache's bytes goes through it.  glibc 2.36 (Debian 12) copies more than
 * 2 KiB with REP MOVSB, which AMD Zen CPUs run about 20 times slower when
 * the destination lies 1 to 63 bytes past the source modulo 4 KiB (page
 * aliasing): 1.8 against 41 GB/s for 16 KiB on our EPYC test machine, and
 * 17% of a worker's CPU in a bulk download, where the distance from lws's
 * buffer to a queue's tail stays the same for thousands of copies.  Such a
 * copy is done in 2 KiB pieces, which glibc moves with vector registers at
 * full speed; any other is a plain memmove.
 */
void	rf_copy(void *dst, const void *src, size_t len);

/*
 * For a program whose buffers come and go in pieces of up to bytes (the
 * agent's and the client's queues and record buffers, 64 KiB to about
 * 130 KiB each): glibc's heap keeps up to bytes of freed memory rather than
 * give it back, and serves blocks up to bytes from the heap, not from a
 * fresh mmap(2) each.  Setting either by hand turns off glibc's own
 * adjustment of the mmap threshold, which would otherwise have done the
 * second; so both are set here, once, at start.  A library (firmware
 * embedding the agent) leaves this to its program.  RF_HEAP_KEEP is what
 * reflector-agent and reflector-client keep; their queues are bounded far
 * above it anyway.
 */
#define RF_HEAP_KEEP	(1024 * 1024)
void	rf_heap_keep(size_t bytes);

#endif
