/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * HTTP/1.1 message heads and chunked framing for a forwarding proxy
 * (RFC 9110, RFC 9112): a request and a response head parser, a chunked
 * body framing scanner and a head writer.  The proxy forwards bodies as
 * they come and never de-chunks them, so what it needs from a parser is
 * where a message ends and which headers say so; what it needs from a
 * writer is a head rebuilt from parsed fields, minus some, plus others.
 *
 * The bytes come from browsers and devices alike, that is from anyone.
 * Everything that could make the reflector and the device disagree about
 * where a message ends is refused rather than repaired: obsolete line
 * folding, bare CR, NUL, a name with a byte outside RFC 9110 tchar, space
 * before the colon, Content-Length together with Transfer-Encoding, two
 * Content-Lengths that disagree, any transfer coding but chunked.
 */
#ifndef RF_HTTP_H
#define RF_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct rf_buf;

#define RF_HTTP_FIELDS_MAX	100	/* header fields in one head */
#define RF_HTTP_LINE_MAX	8192	/* one line of a head, without LF */
#define RF_HTTP_CHUNK_LINE_MAX	1024	/* a chunk-size line with extensions */
#define RF_HTTP_TRAILER_MAX	8192	/* all trailer lines of a body */
#define RF_HTTP_LEADING_CRLF	4	/* empty lines tolerated before a request */

enum rf_http_kind {
	RF_HTTP_REQUEST = 0,
	RF_HTTP_RESPONSE,
};

/* Tokens of the Connection header that change what the proxy does. */
#define RF_HTTP_CONN_CLOSE	0x1
#define RF_HTTP_CONN_KEEP_ALIVE	0x2
#define RF_HTTP_CONN_UPGRADE	0x4

/* How the body after a head ends. */
enum rf_http_framing {
	RF_HTTP_BODY_NONE = 0,	/* no body at all */
	RF_HTTP_BODY_LENGTH,	/* Content-Length bytes */
	RF_HTTP_BODY_CHUNKED,	/* chunked: see rf_http_chunked_scan */
	RF_HTTP_BODY_CLOSE,	/* a response without length: until EOF */
};

/* Bytes [off, off + len) of the head being parsed. */
struct rf_http_span {
	uint32_t	 off;
	uint32_t	 len;
};

struct rf_http_field {
	struct rf_http_span	 name;
	struct rf_http_span	 value;		/* without surrounding OWS */
};

enum rf_http_head_state {
	RF_HTTP_HEAD_START = 0,	/* before the request or status line */
	RF_HTTP_HEAD_FIELDS,	/* reading header lines */
	RF_HTTP_HEAD_DONE,	/* the empty line has been read */
	RF_HTTP_HEAD_FAILED,	/* refused: see error and error_status */
};

/*
 * A head being parsed, then parsed.  Spans are offsets from the start of
 * the head's bytes; base points at them as given to the last parse call
 * and is valid as long as the caller keeps those bytes where they were.
 */
struct rf_http_head {
	enum rf_http_kind	 kind;
	enum rf_http_head_state	 state;
	size_t			 max;		/* head bytes at most */
	size_t			 pos;		/* start of the next line */
	size_t			 scan;		/* LF searched up to here */
	int			 leading;	/* empty lines skipped */
	const unsigned char	*base;
	const char		*error;		/* why it was refused, static */
	int			 error_status;	/* 400, 413, 431, 501, 505 */

	size_t			 len;		/* the whole head, once DONE */
	struct rf_http_span	 method;	/* request */
	struct rf_http_span	 target;	/* request */
	struct rf_http_span	 reason;	/* response */
	int			 status;	/* response: 100-599 */
	int			 minor;		/* HTTP/1.<minor>: 0 or 1 */
	size_t			 nfields;
	struct rf_http_field	 fields[RF_HTTP_FIELDS_MAX];

	/* Derived from the fields once the head is complete. */
	unsigned int		 conn;		/* RF_HTTP_CONN_* */
	int			 keep_alive;	/* persistent by version + conn */
	int			 has_upgrade;	/* an Upgrade field */
	int			 has_length;
	uint64_t		 length;	/* Content-Length */
	int			 chunked;	/* Transfer-Encoding: chunked */
	int			 is_connect;	/* CONNECT, authority-form */
	int			 is_head;	/* HEAD: the response has no body */
};

/* Ready to parse a head of at most max bytes (clamped to 1 MB). */
void	rf_http_head_init(struct rf_http_head *, enum rf_http_kind,
	    size_t max);
/*
 * Parses what has arrived of a head: p holds len bytes from its first
 * byte on (more on each call, the same bytes first; p may move between
 * calls).  Work done on complete lines is not done again.  Returns 0 when
 * the head is complete (h->len is its size, body bytes may follow in p),
 * RF_ERR_SHORT while it is not, RF_ERR_LIMIT when a limit was reached and
 * RF_ERR_PROTO for a malformed head; after an error h->error says why and
 * h->error_status which status a server answers (431 for a head, 413 for
 * a Content-Length beyond 2^60, 501 for an unknown transfer coding).
 */
int	rf_http_head_parse(struct rf_http_head *, const void *p, size_t len);

/* How the body of a request ends: NONE, LENGTH or CHUNKED. */
enum rf_http_framing rf_http_request_framing(const struct rf_http_head *);
/*
 * How the body of a response ends, given whether the request was HEAD:
 * 1xx, 204, 304 and responses to HEAD have none; a 2xx to CONNECT is a
 * tunnel, said as RF_HTTP_BODY_CLOSE.
 */
enum rf_http_framing rf_http_response_framing(const struct rf_http_head *,
	    int request_was_head);

/* A read-only view of a span of a parsed head. */
void	rf_http_view(const struct rf_http_head *, struct rf_http_span,
	    struct rf_buf *);
/* 1 if the span is s, exactly (method) or ignoring ASCII case (names). */
int	rf_http_span_is(const struct rf_http_head *, struct rf_http_span,
	    const char *s);
int	rf_http_span_casecmp(const struct rf_http_head *, struct rf_http_span,
	    const char *s);
/* The index of the first field named name at or after from, or -1. */
int	rf_http_find(const struct rf_http_head *, const char *name,
	    size_t from);
/*
 * 1 if some field called name lists token, exactly, in its comma-separated
 * value (Sec-WebSocket-Protocol, Connection), else 0.
 */
int	rf_http_list_has(const struct rf_http_head *, const char *name,
	    const char *token);
/* How many fields are named name. */
size_t	rf_http_count(const struct rf_http_head *, const char *name);
/*
 * A span as a C string in out (outlen > its length): RF_ERR_LIMIT if out
 * is too small, RF_ERR_PROTO for a NUL (the parser lets none through).
 */
int	rf_http_span_cstring(const struct rf_http_head *, struct rf_http_span,
	    char *out, size_t outlen);

/*
 * The path of a request's origin-form target, without the query; the
 * value of one query parameter, percent-decoded (RF_ERR_NOTFOUND if
 * absent, RF_ERR_PROTO if it decodes to a control byte).
 */
int	rf_http_target_path(const struct rf_http_head *, char *out,
	    size_t outlen);
int	rf_http_query_get(const struct rf_http_head *, const char *name,
	    char *out, size_t outlen);

/*
 * Copies the cookie-pairs of a Cookie value into out, "; "-separated,
 * leaving out those named in names (a NULL-terminated list); *kept gets
 * how many were copied.  Pairs without "=" are kept as they are.
 */
int	rf_http_cookie_strip(const void *value, size_t len,
	    const char *const *names, struct rf_buf *out, size_t *kept);
/* The value of one cookie of a Cookie value, RF_ERR_NOTFOUND if absent. */
int	rf_http_cookie_get(const void *value, size_t len, const char *name,
	    char *out, size_t outlen);

/*
 * The writer.  A head is its start line, fields and the empty line, each
 * put into out in that order.  Parsed parts are copied as parsed, so a
 * rewritten head says nothing the parser did not check; new headers are
 * checked here (a token name, a value without CR, LF or NUL).
 */
int	rf_http_put_start_line(struct rf_buf *out, const struct rf_http_head *);
int	rf_http_put_field(struct rf_buf *out, const struct rf_http_head *,
	    size_t i);
int	rf_http_put_header(struct rf_buf *out, const char *name,
	    const void *value, size_t len);
int	rf_http_put_end(struct rf_buf *out);
/*
 * The value of h's first field called name, as a header called as
 * ("X-Forwarded-Host" from "host"); nothing if h has no such field.
 */
int	rf_http_put_field_as(struct rf_buf *out, const struct rf_http_head *h,
	    const char *name, const char *as);

/* The reason phrase of a status this reflector sends, or "Unknown". */
const char *rf_http_reason(int status);

enum rf_http_chunked_state {
	RF_HTTP_CH_SIZE = 0,	/* hex digits of a chunk size */
	RF_HTTP_CH_EXT_BWS,	/* after the digits: BWS, ";" or CR */
	RF_HTTP_CH_EXT,		/* a chunk extension, up to CR */
	RF_HTTP_CH_SIZE_LF,	/* the LF of a chunk-size line */
	RF_HTTP_CH_DATA,	/* chunk data */
	RF_HTTP_CH_DATA_CR,	/* the CRLF after chunk data */
	RF_HTTP_CH_DATA_LF,
	RF_HTTP_CH_TRAILER,	/* start of a trailer line or the end */
	RF_HTTP_CH_TRAILER_NAME,
	RF_HTTP_CH_TRAILER_VALUE,
	RF_HTTP_CH_TRAILER_LF,
	RF_HTTP_CH_END_LF,	/* the LF of the final empty line */
	RF_HTTP_CH_DONE,	/* the body has ended */
	RF_HTTP_CH_FAILED,
};

/*
 * Where a chunked body ends, without de-chunking it: a state machine fed
 * with the bytes as they come.  Strict on framing (CRLF only, hex sizes
 * below 2^60, at most one chunk-size line of RF_HTTP_CHUNK_LINE_MAX),
 * because the bytes go on unchanged to a peer that must see the same
 * message boundaries as we do.
 */
struct rf_http_chunked {
	enum rf_http_chunked_state state;
	uint64_t	 left;		/* data bytes left in this chunk */
	size_t		 line;		/* bytes of the current framing line */
	size_t		 trailer;	/* trailer bytes so far */
	size_t		 ndigits;
	uint64_t	 data;		/* data bytes seen, framing not counted */
	const char	*error;
};

void	rf_http_chunked_init(struct rf_http_chunked *);
/*
 * Scans up to len bytes at p; *used gets how many belong to the body (all
 * of them, unless the body ends within them).  0 on success, with
 * rf_http_chunked_done() true once the last chunk and trailers are
 * complete; RF_ERR_PROTO or RF_ERR_LIMIT for bad framing (error says why).
 */
int	rf_http_chunked_scan(struct rf_http_chunked *, const void *p,
	    size_t len, size_t *used);
int	rf_http_chunked_done(const struct rf_http_chunked *);

#endif
