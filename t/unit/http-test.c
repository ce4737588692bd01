/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for common/http.c: request and response heads (every limit,
 * the request-smuggling shapes a proxy must refuse), chunked framing
 * (extensions, sizes that overflow, trailers, torn CRLFs), the writer and
 * the cookie and query helpers.  Each head is also fed one byte at a
 * time, which must give the same result as feeding it whole.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "http.h"
#include "tap.h"

#define MAX	8192

static struct rf_http_head	 H;

/* Parses s whole; returns the parser's result. */
static int
parse(enum rf_http_kind kind, const char *s, size_t max)
{
	rf_http_head_init(&H, kind, max);
	return rf_http_head_parse(&H, s, strlen(s));
}

/* Parses s one byte more at a time; the final result. */
static int
parse_bytewise(enum rf_http_kind kind, const char *s, size_t max)
{
	size_t	 i, n = strlen(s);
	int	 r = RF_ERR_SHORT;

	rf_http_head_init(&H, kind, max);
	for (i = 1; i <= n; i++) {
		r = rf_http_head_parse(&H, s, i);
		if (r != RF_ERR_SHORT)
			break;
	}
	return r;
}

static void
req_is(const char *s, int want, int status, const char *name)
{
	int	 r1, r2;

	r1 = parse(RF_HTTP_REQUEST, s, MAX);
	if (!is_int(r1, want, name))
		diag("error: %s", H.error ? H.error : "none");
	if (status != 0)
		is_int(H.error_status, status, "  ... answered with that status");
	r2 = parse_bytewise(RF_HTTP_REQUEST, s, MAX);
	is_int(r2, want, "  ... also byte by byte");
}

static void
test_request_ok(void)
{
	char	 v[64];
	int	 i;

	is_int(parse(RF_HTTP_REQUEST, "GET /a/b?x=1 HTTP/1.1\r\nHost: dev1.x\r\n"
	    "Accept:  text/html \r\nX-Empty:\r\n\r\nBODY", MAX), 0,
	    "a simple request parses");
	is_int(H.len, strlen("GET /a/b?x=1 HTTP/1.1\r\nHost: dev1.x\r\n"
	    "Accept:  text/html \r\nX-Empty:\r\n\r\n"), "its length ends "
	    "before the body");
	ok(rf_http_span_is(&H, H.method, "GET"), "method GET");
	ok(rf_http_span_is(&H, H.target, "/a/b?x=1"), "target");
	is_int(H.minor, 1, "HTTP/1.1");
	is_int(H.nfields, 3, "three fields");
	i = rf_http_find(&H, "accept", 0);
	is_int(i, 1, "find is case-insensitive");
	rf_http_span_cstring(&H, H.fields[i].value, v, sizeof(v));
	is_str(v, "text/html", "values are trimmed of OWS");
	rf_http_span_cstring(&H, H.fields[2].value, v, sizeof(v));
	is_str(v, "", "an empty value is fine");
	ok(H.keep_alive, "1.1 keeps alive by default");
	is_int(rf_http_request_framing(&H), RF_HTTP_BODY_NONE, "no body");
	is_int(rf_http_find(&H, "cookie", 0), -1, "absent field: -1");

	is_int(parse(RF_HTTP_REQUEST, "GET / HTTP/1.0\r\n\r\n", MAX), 0,
	    "1.0 needs no Host");
	ok(!H.keep_alive, "1.0 closes by default");
	parse(RF_HTTP_REQUEST, "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n"
	    "\r\n", MAX);
	ok(H.keep_alive, "1.0 with keep-alive stays open");
	parse(RF_HTTP_REQUEST, "GET / HTTP/1.1\r\nHost: a\r\nConnection: "
	    "foo, close\r\n\r\n", MAX);
	ok(!H.keep_alive && (H.conn & RF_HTTP_CONN_CLOSE), "1.1 with close");
	parse(RF_HTTP_REQUEST, "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: "
	    "keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n", MAX);
	ok((H.conn & RF_HTTP_CONN_UPGRADE) && H.has_upgrade,
	    "Connection: upgrade and Upgrade are seen");
	is_int(parse(RF_HTTP_REQUEST, "\r\n\r\nGET / HTTP/1.1\nHost: a\n\n",
	    MAX), 0, "leading empty lines and bare LF line ends are read");
	ok(rf_http_span_is(&H, H.method, "GET"), "  ... the method after them");
	is_int(parse(RF_HTTP_REQUEST, "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
	    MAX), 0, "OPTIONS *");
	is_int(parse(RF_HTTP_REQUEST, "CONNECT dev1.x:22 HTTP/1.1\r\nHost: "
	    "dev1.x:22\r\n\r\n", MAX), 0, "CONNECT authority-form");
	ok(H.is_connect, "  ... is CONNECT");
	parse(RF_HTTP_REQUEST, "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", MAX);
	ok(H.is_head, "HEAD is noted");
	is_int(parse(RF_HTTP_REQUEST, "GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3"
	    "\xa9\r\n\r\n", MAX), 0, "obs-text in a value is allowed");
}

static void
test_request_bad(void)
{
	req_is("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n folded\r\n\r\n",
	    RF_ERR_PROTO, 400, "obs-fold is refused");
	req_is("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", RF_ERR_PROTO,
	    400, "bare CR in a value is refused");
	req_is("GET / HTTP/1.1\r\nHost: a\r\nX\r: 1\r\n\r\n", RF_ERR_PROTO,
	    400, "bare CR in a name is refused");
	{
		static const char nul[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a"
		    "\0b\r\n\r\n";

		rf_http_head_init(&H, RF_HTTP_REQUEST, MAX);
		is_int(rf_http_head_parse(&H, nul, sizeof(nul) - 1),
		    RF_ERR_PROTO, "NUL in a value is refused");
	}
	req_is("GET / HTTP/1.1\r\nHost: a\r\nX Y: 1\r\n\r\n", RF_ERR_PROTO,
	    400, "space in a name is refused");
	req_is("GET / HTTP/1.1\r\nHost: a\r\nX : 1\r\n\r\n", RF_ERR_PROTO,
	    400, "space before the colon is refused");
	req_is("GET / HTTP/1.1\r\nHost: a\r\nX(: 1\r\n\r\n", RF_ERR_PROTO,
	    400, "a separator in a name is refused");
	req_is("GET / HTTP/1.1\r\nHost: a\r\n: 1\r\n\r\n", RF_ERR_PROTO, 400,
	    "an empty name is refused");
	req_is("GET / HTTP/1.1\r\nHost: a\r\nnocolon\r\n\r\n", RF_ERR_PROTO,
	    400, "a line without a colon is refused");
	req_is("GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n", RF_ERR_PROTO,
	    400, "a control byte in a value is refused");
	req_is("GET http://dev1.x/ HTTP/1.1\r\nHost: a\r\n\r\n", RF_ERR_PROTO,
	    400, "absolute-form target is refused");
	req_is("GET dev1.x:80 HTTP/1.1\r\nHost: a\r\n\r\n", RF_ERR_PROTO, 400,
	    "authority-form outside CONNECT is refused");
	req_is("CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", RF_ERR_PROTO, 400,
	    "CONNECT with a path is refused");
	req_is("CONNECT a:b HTTP/1.1\r\nHost: a\r\n\r\n", RF_ERR_PROTO, 400,
	    "CONNECT with a bad port is refused");
	req_is("GET * HTTP/1.1\r\nHost: a\r\n\r\n", RF_ERR_PROTO, 400,
	    "asterisk-form outside OPTIONS is refused");
	req_is("GET / HTTP/2.0\r\nHost: a\r\n\r\n", RF_ERR_PROTO, 505,
	    "HTTP/2.0 is refused with 505");
	req_is("GET / http/1.1\r\nHost: a\r\n\r\n", RF_ERR_PROTO, 505,
	    "a lowercase version is refused");
	req_is("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", RF_ERR_PROTO, 400,
	    "two spaces in the request line are refused");
	req_is("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", RF_ERR_PROTO, 505,
	    "a trailing space in the request line is refused");
	req_is("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", RF_ERR_PROTO, 400,
	    "a method that is no token is refused");
	req_is("GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", RF_ERR_PROTO, 400,
	    "DEL in the target is refused");
	req_is("GET / HTTP/1.1\r\n\r\n", RF_ERR_PROTO, 400,
	    "1.1 without Host is refused");
	req_is("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", RF_ERR_PROTO,
	    400, "two Hosts are refused");
	req_is("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
	    RF_ERR_PROTO, 400, "more than 4 leading empty lines are refused");
}

static void
test_framing(void)
{
	req_is("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", RF_ERR_PROTO, 400,
	    "CL + TE is refused (smuggling)");
	req_is("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	    "Content-Length: 5\r\n\r\n", RF_ERR_PROTO, 400,
	    "TE + CL in the other order is refused");
	req_is("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	    "Content-Length: 6\r\n\r\n", RF_ERR_PROTO, 400,
	    "two Content-Lengths that disagree are refused");
	req_is("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n",
	    RF_ERR_PROTO, 400, "a Content-Length list that disagrees is refused");
	req_is("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	    "Content-Length: 5\r\n\r\n", 0, 0,
	    "two Content-Lengths that agree are taken");
	parse(RF_HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5"
	    ", 5\r\n\r\n", MAX);
	ok(H.has_length && H.length == 5, "  ... \"5, 5\" is 5");
	req_is("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n",
	    RF_ERR_PROTO, 400, "a signed Content-Length is refused");
	req_is("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n",
	    RF_ERR_PROTO, 400, "a hex Content-Length is refused");
	req_is("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n",
	    RF_ERR_PROTO, 400, "an empty Content-Length is refused");
	req_is("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n",
	    RF_ERR_PROTO, 400, "a Content-Length with a space inside is refused");
	req_is("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "
	    "99999999999999999999999\r\n\r\n", RF_ERR_LIMIT, 413,
	    "a Content-Length that overflows: 413");
	req_is("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "
	    "1152921504606846975\r\n\r\n", 0, 0,
	    "Content-Length 2^60-1 is taken");
	req_is("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, "
	    "chunked\r\n\r\n", RF_ERR_PROTO, 501,
	    "a coding besides chunked: 501");
	req_is("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity"
	    "\r\n\r\n", RF_ERR_PROTO, 501, "identity: 501");
	req_is("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", RF_ERR_PROTO, 400,
	    "chunked twice is refused");
	req_is("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n"
	    "\r\n", RF_ERR_PROTO, 501, "xchunked is not chunked");
	req_is("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n",
	    RF_ERR_PROTO, 400, "an empty Transfer-Encoding is refused");
	req_is("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
	    RF_ERR_PROTO, 400, "Transfer-Encoding in HTTP/1.0 is refused");
	parse(RF_HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:"
	    " Chunked\r\n\r\n", MAX);
	is_int(rf_http_request_framing(&H), RF_HTTP_BODY_CHUNKED,
	    "Chunked (any case): a chunked body");
	parse(RF_HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "
	    "12\r\n\r\n", MAX);
	is_int(rf_http_request_framing(&H), RF_HTTP_BODY_LENGTH,
	    "Content-Length 12: a body of that length");
	is_int(H.length, 12, "  ... 12");
	parse(RF_HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "
	    "0\r\n\r\n", MAX);
	is_int(rf_http_request_framing(&H), RF_HTTP_BODY_NONE,
	    "Content-Length 0: no body");
}

static void
test_limits(void)
{
	char	*s;
	size_t	 i, n;
	int	 r;

	/* 100 fields in all (Host and 99 more) pass, 101 do not. */
	s = malloc(64 * 1024);
	n = (size_t)sprintf(s, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (i = 0; i < RF_HTTP_FIELDS_MAX - 1; i++)
		n += (size_t)sprintf(s + n, "X-%zu: v\r\n", i);
	strcpy(s + n, "\r\n");
	is_int(parse(RF_HTTP_REQUEST, s, 64 * 1024), 0, "100 fields pass");
	n += (size_t)sprintf(s + n, "X-last: v\r\n");
	strcpy(s + n, "\r\n");
	is_int(parse(RF_HTTP_REQUEST, s, 64 * 1024), RF_ERR_LIMIT,
	    "101 fields: LIMIT");
	is_int(H.error_status, 431, "  ... 431");

	/* A line of RF_HTTP_LINE_MAX passes, one byte more does not. */
	n = (size_t)sprintf(s, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
	/* The limit counts the CR: "X: " + value + CR. */
	memset(s + n, 'v', RF_HTTP_LINE_MAX - 4);
	n += RF_HTTP_LINE_MAX - 4;
	strcpy(s + n, "\r\n\r\n");
	is_int(parse(RF_HTTP_REQUEST, s, 64 * 1024), 0,
	    "a line of the maximum length passes");
	memmove(s + n + 1, s + n, 5);
	s[n] = 'v';
	is_int(parse(RF_HTTP_REQUEST, s, 64 * 1024), RF_ERR_LIMIT,
	    "one byte longer: LIMIT");
	is_int(H.error_status, 431, "  ... 431");
	/* Also while the line is still arriving: nobody waits for its end. */
	rf_http_head_init(&H, RF_HTTP_REQUEST, 64 * 1024);
	is_int(rf_http_head_parse(&H, s, n + 2), RF_ERR_LIMIT,
	    "a long line is refused before its end arrives");

	/* The whole head: max bytes including the empty line. */
	n = (size_t)sprintf(s, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
	memset(s + n, 'v', 100);
	strcpy(s + n + 100, "\r\n\r\n");
	n = strlen(s);
	is_int(parse(RF_HTTP_REQUEST, s, n), 0, "a head of exactly max passes");
	is_int(parse(RF_HTTP_REQUEST, s, n - 1), RF_ERR_LIMIT,
	    "max - 1: LIMIT");
	is_int(H.error_status, 431, "  ... 431");
	rf_http_head_init(&H, RF_HTTP_REQUEST, 64);
	r = RF_ERR_SHORT;
	for (i = 1; i <= n && r == RF_ERR_SHORT; i++)
		r = rf_http_head_parse(&H, s, i);
	is_int(r, RF_ERR_LIMIT, "byte by byte, the limit stops it");
	is_int(i - 1, 64, "  ... at max bytes");
	free(s);

	/* Junk without a line end: refused at the line limit, not held. */
	s = malloc(RF_HTTP_LINE_MAX + 2);
	memset(s, 'A', RF_HTTP_LINE_MAX + 1);
	rf_http_head_init(&H, RF_HTTP_REQUEST, 64 * 1024);
	is_int(rf_http_head_parse(&H, s, RF_HTTP_LINE_MAX), RF_ERR_SHORT,
	    "junk up to the line limit: still SHORT");
	is_int(rf_http_head_parse(&H, s, RF_HTTP_LINE_MAX + 1), RF_ERR_LIMIT,
	    "one byte more: LIMIT");
	is_int(rf_http_head_parse(&H, s, RF_HTTP_LINE_MAX + 1), RF_ERR_LIMIT,
	    "a failed parser stays failed");
	free(s);
}

static void
test_response(void)
{
	char	 v[64];

	is_int(parse(RF_HTTP_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 3"
	    "\r\n\r\nabc", MAX), 0, "a response parses");
	is_int(H.status, 200, "status 200");
	rf_http_span_cstring(&H, H.reason, v, sizeof(v));
	is_str(v, "OK", "reason OK");
	is_int(rf_http_response_framing(&H, 0), RF_HTTP_BODY_LENGTH,
	    "framed by length");
	is_int(rf_http_response_framing(&H, 1), RF_HTTP_BODY_NONE,
	    "no body for HEAD");
	parse(RF_HTTP_RESPONSE, "HTTP/1.1 200 OK\r\n\r\n", MAX);
	is_int(rf_http_response_framing(&H, 0), RF_HTTP_BODY_CLOSE,
	    "no length: until close");
	parse(RF_HTTP_RESPONSE, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n", MAX);
	is_int(rf_http_response_framing(&H, 0), RF_HTTP_BODY_CHUNKED,
	    "chunked");
	parse(RF_HTTP_RESPONSE, "HTTP/1.1 304 Not Modified\r\nContent-Length: "
	    "10\r\n\r\n", MAX);
	is_int(rf_http_response_framing(&H, 0), RF_HTTP_BODY_NONE,
	    "304 has no body whatever it says");
	parse(RF_HTTP_RESPONSE, "HTTP/1.1 204 No Content\r\n\r\n", MAX);
	is_int(rf_http_response_framing(&H, 0), RF_HTTP_BODY_NONE, "nor 204");
	is_int(parse(RF_HTTP_RESPONSE, "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n", MAX), 0,
	    "101 parses");
	ok(H.status == 101 && (H.conn & RF_HTTP_CONN_UPGRADE), "  ... 101 "
	    "with Connection: Upgrade");
	is_int(parse(RF_HTTP_RESPONSE, "HTTP/1.0 200\r\n\r\n", MAX), 0,
	    "a status line without reason parses");
	ok(!H.keep_alive, "1.0 response: not persistent");
	is_int(parse(RF_HTTP_RESPONSE, "HTTP/1.1 200 OK\r\nConnection: close\r\n"
	    "\r\n", MAX), 0, "Connection: close");
	ok(!H.keep_alive, "  ... not persistent");
	is_int(parse(RF_HTTP_RESPONSE, "HTTP/1.1 20 OK\r\n\r\n", MAX),
	    RF_ERR_PROTO, "a two-digit status is refused");
	is_int(parse(RF_HTTP_RESPONSE, "HTTP/1.1 099 X\r\n\r\n", MAX),
	    RF_ERR_PROTO, "status 099 is refused");
	is_int(parse(RF_HTTP_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", MAX), RF_ERR_PROTO,
	    "a response with CL and TE is refused");
	is_int(H.error_status, 502, "  ... as 502");
	is_int(parse(RF_HTTP_RESPONSE, "\r\nHTTP/1.1 200 OK\r\n\r\n", MAX),
	    RF_ERR_PROTO, "a response may not start with an empty line");
	is_int(parse(RF_HTTP_RESPONSE, "ICY 200 OK\r\n\r\n", MAX),
	    RF_ERR_PROTO, "not HTTP: refused");
}

/* Scans s in pieces of step bytes; returns the result, *used the total. */
static int
chunked(const char *s, size_t len, size_t step, size_t *used,
    struct rf_http_chunked *c)
{
	size_t	 off = 0, u, n;
	int	 r = 0;

	rf_http_chunked_init(c);
	*used = 0;
	while (off < len && !rf_http_chunked_done(c)) {
		n = len - off < step ? len - off : step;
		r = rf_http_chunked_scan(c, s + off, n, &u);
		off += u;
		*used = off;
		if (r != 0)
			return r;
		if (u < n && !rf_http_chunked_done(c))
			return -100;	/* stopped early without finishing */
	}
	return r;
}

static void
ch_is(const char *s, int want_done, int want_r, const char *name)
{
	struct rf_http_chunked	 c;
	size_t			 used, steps[] = { 1, 2, 3, 7, 100000 }, i;
	int			 r, pass = 1;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		r = chunked(s, strlen(s), steps[i], &used, &c);
		if (r != want_r || rf_http_chunked_done(&c) != want_done) {
			diag("step %zu: r %d done %d (%s)", steps[i], r,
			    rf_http_chunked_done(&c), c.error ? c.error : "");
			pass = 0;
		}
	}
	ok(pass, "%s", name);
}

static void
test_chunked(void)
{
	struct rf_http_chunked	 c;
	static const char	 body[] = "5\r\nhello\r\n1a;name=val;q=\"x y\""
	    "\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Sum: 1\r\nX-B: 2\r\n\r\n"
	    "GET / HTTP/1.1\r\n";
	size_t			 used, n;
	int			 r;

	r = chunked(body, strlen(body), 100000, &used, &c);
	ok(r == 0 && rf_http_chunked_done(&c), "a chunked body with "
	    "extensions and trailers ends");
	n = strlen(body) - strlen("GET / HTTP/1.1\r\n");
	is_int(used, n, "  ... exactly before what follows it");
	is_int(c.data, 31, "  ... 31 data bytes");
	r = chunked(body, strlen(body), 1, &used, &c);
	ok(r == 0 && used == n, "  ... the same byte by byte");

	ch_is("0\r\n\r\n", 1, 0, "the empty body ends");
	ch_is("000\r\n\r\n", 1, 0, "leading zeros");
	ch_is("A\r\n0123456789\r\n0\r\n\r\n", 1, 0, "uppercase hex");
	ch_is("5 ; a=b\r\nhello\r\n0\r\n\r\n", 1, 0, "BWS before an extension");
	ch_is("5\r\nhel", 0, 0, "a body cut short is not done");
	ch_is("0\r\nX: 1\r\n", 0, 0, "trailers without the end are not done");
	ch_is("5\nhello\r\n0\r\n\r\n", 0, RF_ERR_PROTO,
	    "a bare LF after the size is refused");
	ch_is("5\r\nhello\n0\r\n\r\n", 0, RF_ERR_PROTO,
	    "a bare LF after the data is refused");
	ch_is("5\r\nhelloXX0\r\n\r\n", 0, RF_ERR_PROTO,
	    "data longer than its size is refused");
	ch_is("5\rX\nhello\r\n0\r\n\r\n", 0, RF_ERR_PROTO,
	    "a bare CR in the size line is refused");
	ch_is("\r\n0\r\n\r\n", 0, RF_ERR_PROTO, "an empty size is refused");
	ch_is("-1\r\n", 0, RF_ERR_PROTO, "a negative size is refused");
	ch_is("0x5\r\nhello\r\n", 0, RF_ERR_PROTO, "0x is refused");
	ch_is("5 5\r\nhello\r\n", 0, RF_ERR_PROTO,
	    "a size with a space inside is refused");
	ch_is("1;a=\x01\r\nx\r\n0\r\n\r\n", 0, RF_ERR_PROTO,
	    "a control byte in an extension is refused");
	ch_is("fffffffffffffffffff\r\n", 0, RF_ERR_LIMIT,
	    "a size that overflows 64 bits is refused");
	ch_is("1000000000000000\r\n", 0, RF_ERR_LIMIT,
	    "a size of 2^60 is refused");
	ch_is("0000000000000000000000000001\r\nx\r\n0\r\n\r\n", 1, 0,
	    "many leading zeros are no overflow");
	ch_is("0\r\n folded: x\r\n\r\n", 0, RF_ERR_PROTO,
	    "obs-fold in trailers is refused");
	ch_is("0\r\nX Y: 1\r\n\r\n", 0, RF_ERR_PROTO,
	    "a bad trailer name is refused");
	ch_is("0\r\nX: a\rb\r\n\r\n", 0, RF_ERR_PROTO,
	    "a bare CR in a trailer is refused");
	ch_is("0\r\n\r\r", 0, RF_ERR_PROTO, "CR CR at the end is refused");
	{
		char	*s = malloc(RF_HTTP_CHUNK_LINE_MAX + 16);

		strcpy(s, "1;");
		memset(s + 2, 'e', RF_HTTP_CHUNK_LINE_MAX);
		strcpy(s + RF_HTTP_CHUNK_LINE_MAX + 2, "\r\nx\r\n0\r\n\r\n");
		ch_is(s, 0, RF_ERR_LIMIT, "a chunk-size line too long: LIMIT");
		s[RF_HTTP_CHUNK_LINE_MAX - 2] = '\0';
		strcat(s, "\r\nx\r\n0\r\n\r\n");
		ch_is(s, 1, 0, "a chunk-size line of the maximum passes");
		free(s);
	}
	{
		char	*s = malloc(RF_HTTP_TRAILER_MAX + 64);

		strcpy(s, "0\r\nX: ");
		memset(s + 6, 't', RF_HTTP_TRAILER_MAX);
		strcpy(s + 6 + RF_HTTP_TRAILER_MAX, "\r\n\r\n");
		ch_is(s, 0, RF_ERR_LIMIT, "trailers too large: LIMIT");
		free(s);
	}
	/* A huge chunk is skipped by counting, not by looking. */
	rf_http_chunked_init(&c);
	r = rf_http_chunked_scan(&c, "fffffffff\r\n", 11, &used);
	ok(r == 0 && c.state == RF_HTTP_CH_DATA && c.left == 0xfffffffffULL,
	    "a 64 GB chunk is announced");
	r = rf_http_chunked_scan(&c, "xyz", 3, &used);
	ok(r == 0 && used == 3 && c.left == 0xfffffffffULL - 3,
	    "  ... and counted down");
	r = rf_http_chunked_scan(&c, "x", 1, &used);
	is_int(rf_http_chunked_scan(&c, "x", 1, &used), 0, "  ... more");
	rf_http_chunked_init(&c);
	rf_http_chunked_scan(&c, "zz", 2, &used);
	is_int(rf_http_chunked_scan(&c, "0\r\n\r\n", 5, &used), RF_ERR_PROTO,
	    "a failed scanner stays failed");
}

static void
test_writer(void)
{
	struct rf_buf	 out;
	char		 s[512];
	size_t		 i;
	static const char req[] = "POST /up?x=1 HTTP/1.1\r\nHost: dev1.x\r\n"
	    "Cookie: a=1\r\nContent-Length:   7  \r\n\r\n";

	rf_buf_init(&out, 4096);
	parse(RF_HTTP_REQUEST, req, MAX);
	rf_http_put_start_line(&out, &H);
	for (i = 0; i < H.nfields; i++)
		if (!rf_http_span_casecmp(&H, H.fields[i].name, "cookie"))
			rf_http_put_field(&out, &H, i);
	ok(rf_http_put_header(&out, "X-Forwarded-For", "10.0.0.1", 8) == 0,
	    "a new header is put");
	rf_http_put_end(&out);
	snprintf(s, sizeof(s), "%.*s", (int)rf_buf_len(&out),
	    (const char *)rf_buf_ptr(&out));
	is_str(s, "POST /up?x=1 HTTP/1.1\r\nHost: dev1.x\r\nContent-Length: 7"
	    "\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n",
	    "the head is rebuilt without Cookie, with the new header");
	is_int(rf_http_put_header(&out, "X Y", "v", 1), RF_ERR_INVAL,
	    "a name with a space is not put");
	is_int(rf_http_put_header(&out, "X", "a\r\nB: c", 7), RF_ERR_INVAL,
	    "a value with CRLF is not put");
	is_int(rf_http_put_header(&out, "", "v", 1), RF_ERR_INVAL,
	    "an empty name is not put");
	rf_buf_reset(&out);
	parse(RF_HTTP_RESPONSE, "HTTP/1.1 404 Not Here\r\nA: b\r\n\r\n", MAX);
	rf_http_put_start_line(&out, &H);
	rf_http_put_field(&out, &H, 0);
	rf_http_put_end(&out);
	snprintf(s, sizeof(s), "%.*s", (int)rf_buf_len(&out),
	    (const char *)rf_buf_ptr(&out));
	is_str(s, "HTTP/1.1 404 Not Here\r\nA: b\r\n\r\n",
	    "a response head is rebuilt");
	/* What the writer made, the parser takes back. */
	rf_http_head_init(&H, RF_HTTP_RESPONSE, MAX);
	is_int(rf_http_head_parse(&H, rf_buf_ptr(&out), rf_buf_len(&out)), 0,
	    "  ... and parses again");
	rf_buf_free(&out);
}

static void
test_cookies_query(void)
{
	static const char *const ours[] = { "rf_session", "rf_portal", NULL };
	struct rf_buf	 out;
	size_t		 kept;
	char		 s[256];
	const char	*c;

	rf_buf_init(&out, 4096);
	c = "a=1; rf_session=SECRET; b=2;rf_portal=P2 ;  c=\"q\"";
	is_int(rf_http_cookie_strip(c, strlen(c), ours, &out, &kept), 0,
	    "cookies are stripped");
	snprintf(s, sizeof(s), "%.*s", (int)rf_buf_len(&out),
	    (const char *)rf_buf_ptr(&out));
	is_str(s, "a=1; b=2; c=\"q\"", "  ... ours are gone, the rest stays");
	is_int(kept, 3, "  ... three kept");
	rf_buf_reset(&out);
	c = "rf_session=x;rf_portal=y";
	rf_http_cookie_strip(c, strlen(c), ours, &out, &kept);
	ok(kept == 0 && rf_buf_len(&out) == 0, "only ours: nothing is left");
	rf_buf_reset(&out);
	c = "rf_session_x=1; xrf_session=2";
	rf_http_cookie_strip(c, strlen(c), ours, &out, &kept);
	is_int(kept, 2, "names that only look like ours are kept");
	is_int(rf_http_cookie_get("a=1; rf_session = \"tok\" ; b=2", 29,
	    "rf_session", s, sizeof(s)), 0, "a cookie is found");
	is_str(s, "tok", "  ... its value without quotes");
	is_int(rf_http_cookie_get("a=1", 3, "rf_session", s, sizeof(s)),
	    RF_ERR_NOTFOUND, "an absent cookie: NOTFOUND");
	rf_buf_free(&out);

	parse(RF_HTTP_REQUEST, "GET /.reflector/session?token=ab%2Fc&path=%2F"
	    "x%3Fy%3D1#frag HTTP/1.1\r\nHost: a\r\n\r\n", MAX);
	is_int(rf_http_target_path(&H, s, sizeof(s)), 0, "the path");
	is_str(s, "/.reflector/session", "  ... without the query");
	is_int(rf_http_query_get(&H, "token", s, sizeof(s)), 0, "token=");
	is_str(s, "ab/c", "  ... percent-decoded");
	is_int(rf_http_query_get(&H, "path", s, sizeof(s)), 0, "path=");
	is_str(s, "/x?y=1", "  ... decoded");
	is_int(rf_http_query_get(&H, "tok", s, sizeof(s)), RF_ERR_NOTFOUND,
	    "a prefix of a name is not the name");
	is_int(rf_http_query_get(&H, "frag", s, sizeof(s)), RF_ERR_NOTFOUND,
	    "the fragment is no query");
	is_int(rf_http_query_get(&H, "token", s, 3), RF_ERR_LIMIT,
	    "too small: LIMIT");
	parse(RF_HTTP_REQUEST, "GET /?t=%0d%0a HTTP/1.1\r\nHost: a\r\n\r\n",
	    MAX);
	is_int(rf_http_query_get(&H, "t", s, sizeof(s)), RF_ERR_PROTO,
	    "an escaped CRLF is refused");
	parse(RF_HTTP_REQUEST, "GET /?t=%4 HTTP/1.1\r\nHost: a\r\n\r\n", MAX);
	is_int(rf_http_query_get(&H, "t", s, sizeof(s)), RF_ERR_PROTO,
	    "a torn escape is refused");
	is_str(rf_http_reason(431), "Request Header Fields Too Large",
	    "reason phrases");
}

/* A token in a comma-separated field, over repeated fields. */
static void
test_list_has(void)
{
	is_int(parse(RF_HTTP_REQUEST, "GET / HTTP/1.1\r\nHost: h\r\n"
	    "Sec-WebSocket-Protocol: chat, com.appinf.webtunnel.client/1.0\r\n"
	    "Sec-WebSocket-Protocol: other\r\n\r\n", MAX), 0,
	    "a head with a subprotocol list parses");
	ok(rf_http_list_has(&H, "sec-websocket-protocol",
	    "com.appinf.webtunnel.client/1.0"), "a token of the first field");
	ok(rf_http_list_has(&H, "Sec-WebSocket-Protocol", "other"),
	    "a token of a repeated field, name in any case");
	ok(!rf_http_list_has(&H, "sec-websocket-protocol",
	    "com.appinf.webtunnel.client"), "a prefix is not the token");
	ok(!rf_http_list_has(&H, "connection", "chat"), "another field");
}

int
main(void)
{
	test_list_has();
	test_request_ok();
	test_request_bad();
	test_framing();
	test_limits();
	test_response();
	test_chunked();
	test_writer();
	test_cookies_query();
	return done_testing();
}
