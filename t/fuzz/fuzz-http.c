/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for common/http.c.  The input is taken as a request
 * head, as a response head and as a chunked body.  Beyond surviving:
 * the same bytes fed in two pieces give the same result as fed whole; a
 * parsed head lies within the input and the limit, and the writer's copy
 * of it parses again to the same start line, fields and framing; a
 * refused head says why and with which status; the chunked scanner
 * reaches the same end whatever the pieces, and never claims more bytes
 * than it was given; the cookie stripper leaves none of our cookies.
 * The input is copied into a heap block of exactly its size, so ASan
 * sees any read past it.  Build and replay: see fuzz-main.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "fuzz.h"
#include "http.h"

#define HEAD_MAX	4096

static struct rf_http_head	 A, B, C;

static void
check_failed(const struct rf_http_head *h, int r)
{
	FUZZ_CHECK(r == RF_ERR_PROTO || r == RF_ERR_LIMIT);
	FUZZ_CHECK(h->state == RF_HTTP_HEAD_FAILED);
	FUZZ_CHECK(h->error != NULL);
	if (h->kind == RF_HTTP_RESPONSE)
		FUZZ_CHECK(h->error_status == 502);
	else
		FUZZ_CHECK(h->error_status == 400 || h->error_status == 413 ||
		    h->error_status == 431 || h->error_status == 501 ||
		    h->error_status == 505);
}

static void
check_span(const struct rf_http_head *h, struct rf_http_span s)
{
	FUZZ_CHECK((size_t)s.off + s.len <= h->len);
}

/* The writer's copy of h parses to the same head. */
static void
check_rewrite(const struct rf_http_head *h)
{
	struct rf_buf	 out, a, b;
	size_t		 i;
	int		 r;

	rf_buf_init(&out, 4 * HEAD_MAX);
	FUZZ_CHECK(rf_http_put_start_line(&out, h) == 0);
	for (i = 0; i < h->nfields; i++)
		FUZZ_CHECK(rf_http_put_field(&out, h, i) == 0);
	FUZZ_CHECK(rf_http_put_end(&out) == 0);
	rf_http_head_init(&C, h->kind, 4 * HEAD_MAX);
	r = rf_http_head_parse(&C, rf_buf_ptr(&out), rf_buf_len(&out));
	FUZZ_CHECK(r == 0);
	FUZZ_CHECK(C.len == rf_buf_len(&out));
	FUZZ_CHECK(C.nfields == h->nfields);
	FUZZ_CHECK(C.status == h->status && C.minor == h->minor);
	FUZZ_CHECK(C.has_length == h->has_length && C.length == h->length);
	FUZZ_CHECK(C.chunked == h->chunked && C.conn == h->conn);
	FUZZ_CHECK(C.keep_alive == h->keep_alive);
	for (i = 0; i < h->nfields; i++) {
		rf_http_view(h, h->fields[i].value, &a);
		rf_http_view(&C, C.fields[i].value, &b);
		FUZZ_CHECK(rf_buf_len(&a) == rf_buf_len(&b) &&
		    memcmp(rf_buf_ptr(&a), rf_buf_ptr(&b), rf_buf_len(&a)) == 0);
	}
	rf_buf_free(&out);
}

static void
check_query(const struct rf_http_head *h)
{
	char	 v[64];
	size_t	 i;

	if (rf_http_query_get(h, "token", v, sizeof(v)) != 0)
		return;
	for (i = 0; v[i] != '\0'; i++)
		FUZZ_CHECK((unsigned char)v[i] >= 0x20 && v[i] != 0x7f);
	FUZZ_CHECK(rf_http_target_path(h, v, sizeof(v)) == 0 ||
	    strlen(v) == 0);
}

static void
check_head(enum rf_http_kind kind, const uint8_t *d, size_t size)
{
	size_t	 cut, i;
	int	 ra, rb;

	rf_http_head_init(&A, kind, HEAD_MAX);
	ra = rf_http_head_parse(&A, d, size);
	/* The same in two pieces, cut where the first byte says. */
	cut = size > 0 ? d[0] % (size + 1) : 0;
	rf_http_head_init(&B, kind, HEAD_MAX);
	rb = rf_http_head_parse(&B, d, cut);
	if (rb == RF_ERR_SHORT)
		rb = rf_http_head_parse(&B, d, size);
	FUZZ_CHECK(ra == rb);
	if (ra == RF_ERR_SHORT) {
		FUZZ_CHECK(size < HEAD_MAX);
		return;
	}
	if (ra != 0) {
		check_failed(&A, ra);
		check_failed(&B, rb);
		FUZZ_CHECK(A.error_status == B.error_status);
		return;
	}
	FUZZ_CHECK(A.len == B.len && A.nfields == B.nfields);
	FUZZ_CHECK(A.len <= size && A.len <= HEAD_MAX);
	FUZZ_CHECK(A.nfields <= RF_HTTP_FIELDS_MAX);
	FUZZ_CHECK(A.minor == 0 || A.minor == 1);
	FUZZ_CHECK(!(A.chunked && A.has_length));
	for (i = 0; i < A.nfields; i++) {
		check_span(&A, A.fields[i].name);
		check_span(&A, A.fields[i].value);
		FUZZ_CHECK(A.fields[i].name.len > 0);
	}
	if (kind == RF_HTTP_REQUEST) {
		check_span(&A, A.method);
		check_span(&A, A.target);
		FUZZ_CHECK(A.method.len > 0 && A.target.len > 0);
		check_query(&A);
	} else {
		check_span(&A, A.reason);
		FUZZ_CHECK(A.status >= 100 && A.status <= 599);
	}
	check_rewrite(&A);
}

static void
check_chunked(const uint8_t *d, size_t size)
{
	struct rf_http_chunked	 a, b;
	size_t			 ua, ub = 0, u, off = 0, step;
	int			 ra, rb = 0;

	rf_http_chunked_init(&a);
	ra = rf_http_chunked_scan(&a, d, size, &ua);
	FUZZ_CHECK(ua <= size);
	FUZZ_CHECK(ra == 0 || ra == RF_ERR_PROTO || ra == RF_ERR_LIMIT);
	if (ra == 0 && !rf_http_chunked_done(&a))
		FUZZ_CHECK(ua == size);
	if (ra != 0)
		FUZZ_CHECK(a.error != NULL);

	step = size > 0 ? (size_t)d[size - 1] % 7 + 1 : 1;
	rf_http_chunked_init(&b);
	while (off < size && !rf_http_chunked_done(&b)) {
		rb = rf_http_chunked_scan(&b, d + off,
		    size - off < step ? size - off : step, &u);
		off += u;
		if (rb != 0)
			break;
	}
	ub = off;
	FUZZ_CHECK(ra == rb);
	FUZZ_CHECK(rf_http_chunked_done(&a) == rf_http_chunked_done(&b));
	if (ra == 0)
		FUZZ_CHECK(ua == ub && a.data == b.data);
}

static void
check_cookies(const uint8_t *d, size_t size)
{
	static const char *const ours[] = { "rf_session", "rf_portal", NULL };
	struct rf_buf	 out;
	size_t		 kept;
	char		 v[32];
	int		 r;

	rf_buf_init(&out, 2 * size + 16);
	r = rf_http_cookie_strip(d, size, ours, &out, &kept);
	FUZZ_CHECK(r == 0);
	FUZZ_CHECK(rf_buf_len(&out) <= size + 2 * kept);
	r = rf_http_cookie_get(rf_buf_ptr(&out), rf_buf_len(&out),
	    "rf_session", v, sizeof(v));
	FUZZ_CHECK(r == RF_ERR_NOTFOUND);
	rf_buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t	*d;

	if ((d = malloc(size > 0 ? size : 1)) == NULL)
		return 0;
	memcpy(d, data, size);
	check_head(RF_HTTP_REQUEST, d, size);
	check_head(RF_HTTP_RESPONSE, d, size);
	check_chunked(d, size);
	check_cookies(d, size);
	free(d);
	return 0;
}
