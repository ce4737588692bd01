/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * HTTP/1.1 heads and chunked framing for the forwarding proxy (see
 * http.h).  Every read of a message byte goes through a struct rf_buf
 * view; a head is parsed one complete line at a time, so bytes that
 * arrive slowly cost one pass each, never a rescan of the whole head.
 */
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "http.h"

#define HTTP_HEAD_MAX_CLAMP	(1024 * 1024)
/* Content-Length and chunk sizes stop below 2^60: no overflow anywhere. */
#define HTTP_SIZE_LIMIT		((uint64_t)1 << 60)

static int
http_is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* RFC 9110 5.6.2 tchar. */
static int
http_is_tchar(uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    http_is_digit(c))
		return 1;
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'':
	case '*': case '+': case '-': case '.': case '^': case '_':
	case '`': case '|': case '~':
		return 1;
	default:
		return 0;
	}
}

static int
http_is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* field-vchar, SP or HTAB (RFC 9110 5.5): no CTL, no DEL. */
static int
http_is_value_byte(uint8_t c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* ------------------------------------------------------------ heads ---- */

static int
http_fail(struct rf_http_head *h, int r, int status, const char *why)
{
	h->state = RF_HTTP_HEAD_FAILED;
	h->error = why;
	h->error_status = h->kind == RF_HTTP_REQUEST ? status : 502;
	return r;
}

void
rf_http_head_init(struct rf_http_head *h, enum rf_http_kind kind, size_t max)
{
	memset(h, 0, sizeof(*h));
	h->kind = kind;
	h->max = max == 0 || max > HTTP_HEAD_MAX_CLAMP ? HTTP_HEAD_MAX_CLAMP :
	    max;
	h->state = RF_HTTP_HEAD_START;
}

static struct rf_http_span
http_span(size_t off, size_t len)
{
	struct rf_http_span	 s;

	s.off = (uint32_t)off;
	s.len = (uint32_t)len;
	return s;
}

/* "HTTP/1.0" or "HTTP/1.1" at the front of b, consumed; -1 if not. */
static int
http_version(struct rf_buf *b)
{
	static const char	 v[] = "HTTP/1.";
	char			 got[sizeof(v) - 1];
	uint8_t			 minor;

	if (rf_buf_get(b, got, sizeof(got)) != 0 ||
	    memcmp(got, v, sizeof(got)) != 0 ||
	    rf_buf_get_u8(b, &minor) != 0 || (minor != '0' && minor != '1'))
		return -1;
	return minor - '0';
}

/*
 * Consumes a token up to the next SP (not included) and returns its
 * length, 0 if there is none or a byte fails is_ok.
 */
static size_t
http_word(struct rf_buf *b, int (*is_ok)(uint8_t))
{
	size_t	 n = 0;
	uint8_t	 c;

	while (rf_buf_peek_u8(b, n, &c) == 0 && c != ' ') {
		if (!is_ok(c))
			return 0;
		n++;
	}
	rf_buf_consume(b, n);
	return n;
}

static int
http_is_target_byte(uint8_t c)
{
	return c > 0x20 && c < 0x7f;
}

/* CONNECT's authority-form: host:port, no path, no userinfo. */
static int
http_authority_form(struct rf_buf *t)
{
	size_t	 i, colon = 0, n = rf_buf_len(t);
	uint8_t	 c;

	for (i = 0; i < n; i++) {
		rf_buf_peek_u8(t, i, &c);
		if (c == '/' || c == '@' || c == '?' || c == '#')
			return 0;
		if (c == ':')
			colon = i;
	}
	if (colon == 0 || colon + 1 >= n || n - colon - 1 > 5)
		return 0;
	for (i = colon + 1; i < n; i++) {
		rf_buf_peek_u8(t, i, &c);
		if (!http_is_digit(c))
			return 0;
	}
	return 1;
}

/* The request line at [at, at + len). */
static int
http_request_line(struct rf_http_head *h, struct rf_buf *line, size_t at)
{
	struct rf_buf	 t;
	size_t		 n, t_at;
	uint8_t		 c;
	int		 minor;

	if ((n = http_word(line, http_is_tchar)) == 0)
		return http_fail(h, RF_ERR_PROTO, 400, "bad method");
	h->method = http_span(at, n);
	if (rf_buf_get_u8(line, &c) != 0 || c != ' ')
		return http_fail(h, RF_ERR_PROTO, 400, "bad request line");
	t_at = at + n + 1;
	if ((n = http_word(line, http_is_target_byte)) == 0)
		return http_fail(h, RF_ERR_PROTO, 400, "bad request target");
	h->target = http_span(t_at, n);
	if (rf_buf_get_u8(line, &c) != 0 || c != ' ')
		return http_fail(h, RF_ERR_PROTO, 400, "bad request line");
	if ((minor = http_version(line)) < 0 || rf_buf_len(line) != 0)
		return http_fail(h, RF_ERR_PROTO, 505, "bad HTTP version");
	h->minor = minor;
	rf_http_view(h, h->target, &t);
	rf_buf_peek_u8(&t, 0, &c);
	h->is_connect = rf_http_span_is(h, h->method, "CONNECT");
	h->is_head = rf_http_span_is(h, h->method, "HEAD");
	if (h->is_connect) {
		if (!http_authority_form(&t))
			return http_fail(h, RF_ERR_PROTO, 400,
			    "CONNECT without host:port");
	} else if (c == '*') {
		if (rf_buf_len(&t) != 1 || !rf_http_span_is(h, h->method,
		    "OPTIONS"))
			return http_fail(h, RF_ERR_PROTO, 400,
			    "bad asterisk-form target");
	} else if (c != '/')
		return http_fail(h, RF_ERR_PROTO, 400,
		    "target not in origin-form");
	return 0;
}

/* HTTP/1.x SP 3DIGIT SP reason; a missing reason (and SP) is tolerated. */
static int
http_status_line(struct rf_http_head *h, struct rf_buf *line, size_t at)
{
	uint8_t	 d[3], c;
	int	 minor;

	if ((minor = http_version(line)) < 0)
		return http_fail(h, RF_ERR_PROTO, 502, "bad HTTP version");
	h->minor = minor;
	if (rf_buf_get_u8(line, &c) != 0 || c != ' ' ||
	    rf_buf_get(line, d, 3) != 0 || !http_is_digit(d[0]) ||
	    !http_is_digit(d[1]) || !http_is_digit(d[2]))
		return http_fail(h, RF_ERR_PROTO, 502, "bad status line");
	h->status = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
	if (h->status < 100 || h->status > 599)
		return http_fail(h, RF_ERR_PROTO, 502, "bad status code");
	if (rf_buf_len(line) > 0 && (rf_buf_get_u8(line, &c) != 0 || c != ' '))
		return http_fail(h, RF_ERR_PROTO, 502, "bad status line");
	h->reason = http_span(at + 13, rf_buf_len(line));
	while (rf_buf_get_u8(line, &c) == 0)
		if (!http_is_value_byte(c))
			return http_fail(h, RF_ERR_PROTO, 502, "bad reason");
	return 0;
}

/* name ":" OWS value OWS, the line without its line end. */
static int
http_field_line(struct rf_http_head *h, struct rf_buf *line, size_t at)
{
	struct rf_http_field	*f;
	size_t			 n, vlen, vstart;
	uint8_t			 c;

	if (rf_buf_peek_u8(line, 0, &c) == 0 && http_is_ows(c))
		return http_fail(h, RF_ERR_PROTO, 400, "obsolete line folding");
	if (h->nfields >= RF_HTTP_FIELDS_MAX)
		return http_fail(h, RF_ERR_LIMIT, 431, "too many header fields");
	n = 0;
	while (rf_buf_peek_u8(line, n, &c) == 0 && c != ':') {
		if (!http_is_tchar(c))
			return http_fail(h, RF_ERR_PROTO, 400,
			    http_is_ows(c) ? "space before a colon" :
			    "bad header name");
		n++;
	}
	if (n == 0 || c != ':')
		return http_fail(h, RF_ERR_PROTO, 400, "bad header line");
	f = &h->fields[h->nfields];
	f->name = http_span(at, n);
	rf_buf_consume(line, n + 1);
	vstart = n + 1;
	while (rf_buf_peek_u8(line, 0, &c) == 0 && http_is_ows(c)) {
		rf_buf_consume(line, 1);
		vstart++;
	}
	vlen = rf_buf_len(line);
	while (vlen > 0 && rf_buf_peek_u8(line, vlen - 1, &c) == 0 &&
	    http_is_ows(c))
		vlen--;
	while (rf_buf_get_u8(line, &c) == 0)
		if (!http_is_value_byte(c))
			return http_fail(h, RF_ERR_PROTO, 400,
			    c == '\0' ? "NUL in a header" :
			    c == '\r' ? "bare CR in a header" :
			    "control byte in a header");
	f->value = http_span(at + vstart, vlen);
	h->nfields++;
	return 0;
}

/*
 * Calls fn for each element of a comma-separated list value (RFC 9110
 * 5.6.1), trimmed of OWS; empty elements are skipped.
 */
static int
http_list_each(const struct rf_http_head *h, struct rf_http_span v,
    int (*fn)(struct rf_http_head *, struct rf_buf *), struct rf_http_head *w)
{
	struct rf_buf	 all, el;
	size_t		 n, len;
	uint8_t		 c;
	int		 r;

	rf_http_view(h, v, &all);
	while (rf_buf_len(&all) > 0) {
		while (rf_buf_peek_u8(&all, 0, &c) == 0 &&
		    (http_is_ows(c) || c == ','))
			rf_buf_consume(&all, 1);
		n = 0;
		while (rf_buf_peek_u8(&all, n, &c) == 0 && c != ',')
			n++;
		len = n;
		while (len > 0 && rf_buf_peek_u8(&all, len - 1, &c) == 0 &&
		    http_is_ows(c))
			len--;
		if (len == 0)
			break;
		rf_buf_get_sub(&all, len, &el);
		rf_buf_consume(&all, n - len);
		if ((r = fn(w, &el)) != 0)
			return r;
	}
	return 0;
}

static int
http_el_is(struct rf_buf *el, const char *s)
{
	size_t	 n = strlen(s);

	return rf_buf_len(el) == n && rf_buf_equal(el, s, n, 1);
}

static int
http_conn_token(struct rf_http_head *h, struct rf_buf *el)
{
	if (http_el_is(el, "close"))
		h->conn |= RF_HTTP_CONN_CLOSE;
	else if (http_el_is(el, "keep-alive"))
		h->conn |= RF_HTTP_CONN_KEEP_ALIVE;
	else if (http_el_is(el, "upgrade"))
		h->conn |= RF_HTTP_CONN_UPGRADE;
	return 0;
}

/* One element of Content-Length: digits only, and all elements agree. */
static int
http_length_el(struct rf_http_head *h, struct rf_buf *el)
{
	uint64_t	 v = 0;
	uint8_t		 c;

	while (rf_buf_get_u8(el, &c) == 0) {
		if (!http_is_digit(c))
			return http_fail(h, RF_ERR_PROTO, 400,
			    "bad Content-Length");
		v = v * 10 + (uint64_t)(c - '0');
		if (v >= HTTP_SIZE_LIMIT)
			return http_fail(h, RF_ERR_LIMIT, 413,
			    "Content-Length too large");
	}
	if (h->has_length && h->length != v)
		return http_fail(h, RF_ERR_PROTO, 400,
		    "Content-Lengths that disagree");
	h->has_length = 1;
	h->length = v;
	return 0;
}

static int
http_coding_el(struct rf_http_head *h, struct rf_buf *el)
{
	if (!http_el_is(el, "chunked"))
		return http_fail(h, RF_ERR_PROTO, 501,
		    "transfer coding other than chunked");
	if (h->chunked)
		return http_fail(h, RF_ERR_PROTO, 400, "chunked twice");
	h->chunked = 1;
	return 0;
}

/* What the fields say about framing and persistence. */
static int
http_derive(struct rf_http_head *h)
{
	struct rf_http_field	*f;
	size_t			 i, hosts = 0, nlen = 0, ncod = 0;
	int			 r;

	for (i = 0; i < h->nfields; i++) {
		f = &h->fields[i];
		r = 0;
		if (rf_http_span_casecmp(h, f->name, "content-length")) {
			nlen++;
			if (f->value.len == 0)
				return http_fail(h, RF_ERR_PROTO, 400,
				    "empty Content-Length");
			r = http_list_each(h, f->value, http_length_el, h);
		} else if (rf_http_span_casecmp(h, f->name,
		    "transfer-encoding")) {
			ncod++;
			r = http_list_each(h, f->value, http_coding_el, h);
		} else if (rf_http_span_casecmp(h, f->name, "connection"))
			r = http_list_each(h, f->value, http_conn_token, h);
		else if (rf_http_span_casecmp(h, f->name, "upgrade"))
			h->has_upgrade = 1;
		else if (rf_http_span_casecmp(h, f->name, "host"))
			hosts++;
		if (r != 0)
			return r;
	}
	if (nlen > 0 && !h->has_length)
		return http_fail(h, RF_ERR_PROTO, 400, "bad Content-Length");
	if (ncod > 0 && !h->chunked)
		return http_fail(h, RF_ERR_PROTO, 400,
		    "empty Transfer-Encoding");
	if (nlen > 0 && ncod > 0)
		return http_fail(h, RF_ERR_PROTO, 400,
		    "both Content-Length and Transfer-Encoding");
	if (h->kind == RF_HTTP_REQUEST) {
		if (ncod > 0 && h->minor == 0)
			return http_fail(h, RF_ERR_PROTO, 400,
			    "Transfer-Encoding in HTTP/1.0");
		if (hosts > 1 || (hosts == 0 && h->minor == 1))
			return http_fail(h, RF_ERR_PROTO, 400,
			    hosts ? "more than one Host" : "no Host");
	}
	if (h->conn & RF_HTTP_CONN_CLOSE)
		h->keep_alive = 0;
	else
		h->keep_alive = h->minor == 1 ||
		    (h->conn & RF_HTTP_CONN_KEEP_ALIVE);
	return 0;
}

/*
 * One complete line at [at, at + n) (without its LF).  A CR may only end
 * it.  Returns 1 for the empty line that ends the head.
 */
static int
http_line(struct rf_http_head *h, const struct rf_buf *all, size_t at,
    size_t n)
{
	struct rf_buf	 rest = *all, line;
	size_t		 i;
	uint8_t		 c;

	rf_buf_consume(&rest, at);
	if (n > 0 && rf_buf_peek_u8(&rest, n - 1, &c) == 0 && c == '\r')
		n--;
	if (rf_buf_get_sub(&rest, n, &line) != 0)
		return http_fail(h, RF_ERR_PROTO, 400, "torn line");
	if (rf_buf_find_u8(&line, 0, '\r', &i) == 0)
		return http_fail(h, RF_ERR_PROTO, 400, "bare CR");
	if (rf_buf_find_u8(&line, 0, '\0', &i) == 0)
		return http_fail(h, RF_ERR_PROTO, 400, "NUL byte");
	if (h->state == RF_HTTP_HEAD_START) {
		if (n == 0) {
			if (h->kind == RF_HTTP_REQUEST &&
			    ++h->leading <= RF_HTTP_LEADING_CRLF)
				return 0;
			return http_fail(h, RF_ERR_PROTO, 400,
			    "empty start line");
		}
		h->state = RF_HTTP_HEAD_FIELDS;
		return h->kind == RF_HTTP_REQUEST ?
		    http_request_line(h, &line, at) :
		    http_status_line(h, &line, at);
	}
	if (n == 0)
		return 1;
	return http_field_line(h, &line, at);
}

int
rf_http_head_parse(struct rf_http_head *h, const void *p, size_t len)
{
	struct rf_buf	 all;
	size_t		 lf;
	int		 r;

	if (h->state == RF_HTTP_HEAD_DONE)
		return 0;
	if (h->state == RF_HTTP_HEAD_FAILED)
		return h->error_status == 431 || h->error_status == 413 ?
		    RF_ERR_LIMIT : RF_ERR_PROTO;
	h->base = p;
	rf_buf_from(&all, p, len < h->max ? len : h->max);
	for (;;) {
		lf = h->scan > h->pos ? h->scan : h->pos;
		if (rf_buf_find_u8(&all, lf, '\n', &lf) != 0)
			lf = rf_buf_len(&all);
		h->scan = lf;
		if (lf - h->pos > RF_HTTP_LINE_MAX)
			return http_fail(h, RF_ERR_LIMIT, 431,
			    "header line too long");
		if (lf >= rf_buf_len(&all)) {
			if (len >= h->max)
				return http_fail(h, RF_ERR_LIMIT, 431,
				    "request head too large");
			return RF_ERR_SHORT;
		}
		r = http_line(h, &all, h->pos, lf - h->pos);
		h->pos = lf + 1;
		if (r < 0)
			return r;
		if (r == 1)
			break;
	}
	h->len = h->pos;
	if ((r = http_derive(h)) != 0)
		return r;
	h->state = RF_HTTP_HEAD_DONE;
	return 0;
}

enum rf_http_framing
rf_http_request_framing(const struct rf_http_head *h)
{
	if (h->chunked)
		return RF_HTTP_BODY_CHUNKED;
	if (h->has_length && h->length > 0)
		return RF_HTTP_BODY_LENGTH;
	return RF_HTTP_BODY_NONE;
}

enum rf_http_framing
rf_http_response_framing(const struct rf_http_head *h, int request_was_head)
{
	if (h->status < 200 || h->status == 204 || h->status == 304 ||
	    request_was_head)
		return RF_HTTP_BODY_NONE;
	if (h->chunked)
		return RF_HTTP_BODY_CHUNKED;
	if (h->has_length)
		return h->length > 0 ? RF_HTTP_BODY_LENGTH : RF_HTTP_BODY_NONE;
	return RF_HTTP_BODY_CLOSE;
}

/* ---------------------------------------------------------- access ---- */

void
rf_http_view(const struct rf_http_head *h, struct rf_http_span s,
    struct rf_buf *v)
{
	struct rf_buf	 all;

	rf_buf_from(&all, h->base != NULL ? h->base : (const void *)"",
	    h->base != NULL ? (size_t)s.off + s.len : 0);
	if (rf_buf_consume(&all, s.off) != 0 ||
	    rf_buf_get_sub(&all, s.len, v) != 0)
		rf_buf_from(v, "", 0);
}

static int
http_span_cmp(const struct rf_http_head *h, struct rf_http_span s,
    const char *str, int fold)
{
	struct rf_buf	 v;
	size_t		 n = strlen(str);

	if (s.len != n)
		return 0;
	rf_http_view(h, s, &v);
	return rf_buf_equal(&v, str, n, fold);
}

int
rf_http_span_is(const struct rf_http_head *h, struct rf_http_span s,
    const char *str)
{
	return http_span_cmp(h, s, str, 0);
}

int
rf_http_span_casecmp(const struct rf_http_head *h, struct rf_http_span s,
    const char *str)
{
	return http_span_cmp(h, s, str, 1);
}

int
rf_http_find(const struct rf_http_head *h, const char *name, size_t from)
{
	size_t	 i;

	for (i = from; i < h->nfields; i++)
		if (rf_http_span_casecmp(h, h->fields[i].name, name))
			return (int)i;
	return -1;
}

int
rf_http_list_has(const struct rf_http_head *h, const char *name,
    const char *token)
{
	char v[RF_HTTP_LINE_MAX], *tok, *save;
	int i = -1;

	while ((i = rf_http_find(h, name, (size_t)(i + 1))) >= 0) {
		if (rf_http_span_cstring(h, h->fields[i].value, v,
		    sizeof(v)) != 0)
			continue;
		for (tok = strtok_r(v, ", \t", &save); tok != NULL;
		    tok = strtok_r(NULL, ", \t", &save))
			if (strcmp(tok, token) == 0)
				return 1;
	}
	return 0;
}

size_t
rf_http_count(const struct rf_http_head *h, const char *name)
{
	size_t	 i, n = 0;

	for (i = 0; i < h->nfields; i++)
		if (rf_http_span_casecmp(h, h->fields[i].name, name))
			n++;
	return n;
}

int
rf_http_span_cstring(const struct rf_http_head *h, struct rf_http_span s,
    char *out, size_t outlen)
{
	struct rf_buf	 v;

	if (outlen > 0)
		out[0] = '\0';
	rf_http_view(h, s, &v);
	return rf_buf_get_cstring(&v, rf_buf_len(&v), out, outlen);
}

int
rf_http_target_path(const struct rf_http_head *h, char *out, size_t outlen)
{
	struct rf_buf	 t;
	size_t		 n = 0;
	uint8_t		 c;

	if (outlen > 0)
		out[0] = '\0';
	rf_http_view(h, h->target, &t);
	while (rf_buf_peek_u8(&t, n, &c) == 0 && c != '?' && c != '#')
		n++;
	return rf_buf_get_cstring(&t, n, out, outlen);
}

/* Percent-decodes len bytes of src into out; no control bytes result. */
static int
http_unescape(struct rf_buf *src, size_t len, char *out, size_t outlen)
{
	size_t	 n = 0;
	uint8_t	 c, x, y;
	int	 hi, lo;

	while (len-- > 0) {
		if (rf_buf_get_u8(src, &c) != 0)
			return RF_ERR_PROTO;
		if (c == '%') {
			if (len < 2 || rf_buf_get_u8(src, &x) != 0 ||
			    rf_buf_get_u8(src, &y) != 0 ||
			    (hi = rf_buf_hexval(x)) < 0 ||
			    (lo = rf_buf_hexval(y)) < 0)
				return RF_ERR_PROTO;
			len -= 2;
			c = (uint8_t)(hi << 4 | lo);
		} else if (c == '+')
			c = ' ';
		if (c < 0x20 || c == 0x7f)
			return RF_ERR_PROTO;
		if (n + 1 >= outlen)
			return RF_ERR_LIMIT;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return 0;
}

int
rf_http_query_get(const struct rf_http_head *h, const char *name, char *out,
    size_t outlen)
{
	struct rf_buf	 t;
	size_t		 nl = strlen(name), n, eq;
	uint8_t		 c;

	if (outlen == 0)
		return RF_ERR_LIMIT;
	out[0] = '\0';
	rf_http_view(h, h->target, &t);
	while (rf_buf_get_u8(&t, &c) == 0 && c != '?')
		;
	while (rf_buf_len(&t) > 0) {
		n = 0;
		eq = SIZE_MAX;
		while (rf_buf_peek_u8(&t, n, &c) == 0 && c != '&' && c != '#') {
			if (c == '=' && eq == SIZE_MAX)
				eq = n;
			n++;
		}
		if (eq == nl && memcmp(rf_buf_ptr(&t), name, nl) == 0) {
			rf_buf_consume(&t, nl + 1);
			return http_unescape(&t, n - nl - 1, out, outlen);
		}
		rf_buf_consume(&t, n);
		if (c == '#' || rf_buf_get_u8(&t, &c) != 0)
			break;
	}
	return RF_ERR_NOTFOUND;
}

/* ---------------------------------------------------------- cookies ---- */

/*
 * Walks the cookie-pairs of a Cookie value (RFC 6265 5.4: "; "-separated,
 * browsers send exactly that; we also take ";" with other OWS): fn gets
 * each pair trimmed, with the length of its name.
 */
static int
http_cookie_each(const void *value, size_t len,
    int (*fn)(void *, struct rf_buf *, size_t), void *arg)
{
	struct rf_buf	 all, pair;
	size_t		 n, plen, nlen;
	uint8_t		 c;
	int		 r;

	rf_buf_from(&all, value, len);
	while (rf_buf_len(&all) > 0) {
		while (rf_buf_peek_u8(&all, 0, &c) == 0 &&
		    (http_is_ows(c) || c == ';'))
			rf_buf_consume(&all, 1);
		n = 0;
		while (rf_buf_peek_u8(&all, n, &c) == 0 && c != ';')
			n++;
		plen = n;
		while (plen > 0 && rf_buf_peek_u8(&all, plen - 1, &c) == 0 &&
		    http_is_ows(c))
			plen--;
		if (plen == 0)
			break;
		rf_buf_get_sub(&all, plen, &pair);
		rf_buf_consume(&all, n - plen);
		nlen = 0;
		while (rf_buf_peek_u8(&pair, nlen, &c) == 0 && c != '=')
			nlen++;
		while (nlen > 0 && rf_buf_peek_u8(&pair, nlen - 1, &c) == 0 &&
		    http_is_ows(c))
			nlen--;
		if ((r = fn(arg, &pair, nlen)) != 0)
			return r;
	}
	return 0;
}

struct http_strip {
	const char *const	*names;
	struct rf_buf		*out;
	size_t			 kept;
};

static int
http_strip_pair(void *arg, struct rf_buf *pair, size_t nlen)
{
	struct http_strip	*s = arg;
	size_t			 i;
	int			 r;

	for (i = 0; s->names[i] != NULL; i++)
		if (strlen(s->names[i]) == nlen &&
		    memcmp(rf_buf_ptr(pair), s->names[i], nlen) == 0)
			return 0;
	if (s->kept > 0 && (r = rf_buf_put(s->out, "; ", 2)) != 0)
		return r;
	if ((r = rf_buf_put(s->out, rf_buf_ptr(pair), rf_buf_len(pair))) != 0)
		return r;
	s->kept++;
	return 0;
}

int
rf_http_cookie_strip(const void *value, size_t len, const char *const *names,
    struct rf_buf *out, size_t *kept)
{
	struct http_strip	 s;
	int			 r;

	*kept = 0;
	s.names = names;
	s.out = out;
	s.kept = 0;
	r = http_cookie_each(value, len, http_strip_pair, &s);
	*kept = s.kept;
	return r;
}

struct http_cookie_find {
	const char	*name;
	char		*out;
	size_t		 outlen;
	int		 found;
};

static int
http_find_pair(void *arg, struct rf_buf *pair, size_t nlen)
{
	struct http_cookie_find	*f = arg;
	size_t			 vlen;
	uint8_t			 c;

	if (f->found || strlen(f->name) != nlen ||
	    memcmp(rf_buf_ptr(pair), f->name, nlen) != 0)
		return 0;
	while (rf_buf_get_u8(pair, &c) == 0 && c != '=')
		;
	while (rf_buf_peek_u8(pair, 0, &c) == 0 && http_is_ows(c))
		rf_buf_consume(pair, 1);
	vlen = rf_buf_len(pair);
	/* A quoted cookie-value: the quotes are not part of it. */
	if (vlen >= 2 && rf_buf_peek_u8(pair, 0, &c) == 0 && c == '"' &&
	    rf_buf_peek_u8(pair, vlen - 1, &c) == 0 && c == '"') {
		rf_buf_consume(pair, 1);
		vlen -= 2;
	}
	f->found = 1;
	return rf_buf_get_cstring(pair, vlen, f->out, f->outlen);
}

int
rf_http_cookie_get(const void *value, size_t len, const char *name,
    char *out, size_t outlen)
{
	struct http_cookie_find	 f;
	int			 r;

	if (outlen > 0)
		out[0] = '\0';
	f.name = name;
	f.out = out;
	f.outlen = outlen;
	f.found = 0;
	if ((r = http_cookie_each(value, len, http_find_pair, &f)) != 0)
		return r;
	return f.found ? 0 : RF_ERR_NOTFOUND;
}

/* ----------------------------------------------------------- writer ---- */

static int
http_put_span(struct rf_buf *out, const struct rf_http_head *h,
    struct rf_http_span s)
{
	struct rf_buf	 v;

	rf_http_view(h, s, &v);
	return rf_buf_put(out, rf_buf_ptr(&v), rf_buf_len(&v));
}

int
rf_http_put_start_line(struct rf_buf *out, const struct rf_http_head *h)
{
	int	 r;

	if (h->state != RF_HTTP_HEAD_DONE)
		return RF_ERR_INVAL;
	if (h->kind == RF_HTTP_REQUEST) {
		if ((r = http_put_span(out, h, h->method)) != 0 ||
		    (r = rf_buf_put(out, " ", 1)) != 0 ||
		    (r = http_put_span(out, h, h->target)) != 0)
			return r;
		return rf_buf_putf(out, " HTTP/1.%d\r\n", h->minor);
	}
	if ((r = rf_buf_putf(out, "HTTP/1.%d %03d ", h->minor,
	    h->status)) != 0 || (r = http_put_span(out, h, h->reason)) != 0)
		return r;
	return rf_buf_put(out, "\r\n", 2);
}

int
rf_http_put_field(struct rf_buf *out, const struct rf_http_head *h, size_t i)
{
	int	 r;

	if (i >= h->nfields)
		return RF_ERR_INVAL;
	if ((r = http_put_span(out, h, h->fields[i].name)) != 0 ||
	    (r = rf_buf_put(out, ": ", 2)) != 0 ||
	    (r = http_put_span(out, h, h->fields[i].value)) != 0)
		return r;
	return rf_buf_put(out, "\r\n", 2);
}

int
rf_http_put_header(struct rf_buf *out, const char *name, const void *value,
    size_t len)
{
	struct rf_buf	 v;
	size_t		 i, n = strlen(name);
	int		 r;
	uint8_t		 c;

	if (n == 0)
		return RF_ERR_INVAL;
	for (i = 0; i < n; i++)
		if (!http_is_tchar((uint8_t)name[i]))
			return RF_ERR_INVAL;
	rf_buf_from(&v, value, len);
	while (rf_buf_get_u8(&v, &c) == 0)
		if (!http_is_value_byte(c))
			return RF_ERR_INVAL;
	if ((r = rf_buf_put(out, name, n)) != 0 ||
	    (r = rf_buf_put(out, ": ", 2)) != 0 ||
	    (r = rf_buf_put(out, value, len)) != 0)
		return r;
	return rf_buf_put(out, "\r\n", 2);
}

int
rf_http_put_field_as(struct rf_buf *out, const struct rf_http_head *h,
    const char *name, const char *as)
{
	struct rf_buf	 v;
	int		 i;

	if ((i = rf_http_find(h, name, 0)) < 0)
		return 0;
	rf_http_view(h, h->fields[i].value, &v);
	return rf_http_put_header(out, as, rf_buf_ptr(&v), rf_buf_len(&v));
}

int
rf_http_put_end(struct rf_buf *out)
{
	return rf_buf_put(out, "\r\n", 2);
}

const char *
rf_http_reason(int status)
{
	switch (status) {
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 302: return "Found";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 421: return "Misdirected Request";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

/* ---------------------------------------------------------- chunked ---- */

void
rf_http_chunked_init(struct rf_http_chunked *c)
{
	memset(c, 0, sizeof(*c));
	c->state = RF_HTTP_CH_SIZE;
}

int
rf_http_chunked_done(const struct rf_http_chunked *c)
{
	return c->state == RF_HTTP_CH_DONE;
}

static int
http_ch_fail(struct rf_http_chunked *c, int r, const char *why)
{
	c->state = RF_HTTP_CH_FAILED;
	c->error = why;
	return r;
}

/* One byte of a chunk-size line: size, extensions, CRLF. */
static int
http_ch_size_byte(struct rf_http_chunked *c, uint8_t b)
{
	int	 v;

	if (++c->line > RF_HTTP_CHUNK_LINE_MAX)
		return http_ch_fail(c, RF_ERR_LIMIT, "chunk-size line too long");
	switch (c->state) {
	case RF_HTTP_CH_SIZE:
		if ((v = rf_buf_hexval(b)) >= 0) {
			if (c->left >= HTTP_SIZE_LIMIT >> 4)
				return http_ch_fail(c, RF_ERR_LIMIT,
				    "chunk size too large");
			c->left = c->left << 4 | (uint64_t)v;
			c->ndigits++;
			return 0;
		}
		if (c->ndigits == 0)
			return http_ch_fail(c, RF_ERR_PROTO, "bad chunk size");
		c->state = RF_HTTP_CH_EXT_BWS;
		/* FALLTHROUGH */
	case RF_HTTP_CH_EXT_BWS:
		if (b == ';')
			c->state = RF_HTTP_CH_EXT;
		else if (b == '\r')
			c->state = RF_HTTP_CH_SIZE_LF;
		else if (!http_is_ows(b))
			return http_ch_fail(c, RF_ERR_PROTO,
			    "bad chunk-size line");
		return 0;
	case RF_HTTP_CH_EXT:
		if (b == '\r')
			c->state = RF_HTTP_CH_SIZE_LF;
		else if (!http_is_value_byte(b))
			return http_ch_fail(c, RF_ERR_PROTO,
			    "bad chunk extension");
		return 0;
	default:	/* RF_HTTP_CH_SIZE_LF */
		if (b != '\n')
			return http_ch_fail(c, RF_ERR_PROTO,
			    "bare CR in a chunk-size line");
		c->line = 0;
		c->ndigits = 0;
		c->state = c->left > 0 ? RF_HTTP_CH_DATA : RF_HTTP_CH_TRAILER;
		return 0;
	}
}

/* One byte of the trailer section, which ends with an empty line. */
static int
http_ch_trailer_byte(struct rf_http_chunked *c, uint8_t b)
{
	if (++c->trailer > RF_HTTP_TRAILER_MAX)
		return http_ch_fail(c, RF_ERR_LIMIT, "trailers too large");
	switch (c->state) {
	case RF_HTTP_CH_TRAILER:
		if (b == '\r')
			c->state = RF_HTTP_CH_END_LF;
		else if (http_is_tchar(b))
			c->state = RF_HTTP_CH_TRAILER_NAME;
		else
			return http_ch_fail(c, RF_ERR_PROTO,
			    http_is_ows(b) ? "obsolete folding in trailers" :
			    "bad trailer line");
		return 0;
	case RF_HTTP_CH_TRAILER_NAME:
		if (b == ':')
			c->state = RF_HTTP_CH_TRAILER_VALUE;
		else if (!http_is_tchar(b))
			return http_ch_fail(c, RF_ERR_PROTO,
			    "bad trailer name");
		return 0;
	case RF_HTTP_CH_TRAILER_VALUE:
		if (b == '\r')
			c->state = RF_HTTP_CH_TRAILER_LF;
		else if (!http_is_value_byte(b))
			return http_ch_fail(c, RF_ERR_PROTO,
			    "bad trailer value");
		return 0;
	case RF_HTTP_CH_TRAILER_LF:
		if (b != '\n')
			return http_ch_fail(c, RF_ERR_PROTO,
			    "bare CR in trailers");
		c->state = RF_HTTP_CH_TRAILER;
		return 0;
	default:	/* RF_HTTP_CH_END_LF */
		if (b != '\n')
			return http_ch_fail(c, RF_ERR_PROTO,
			    "bare CR after the last chunk");
		c->state = RF_HTTP_CH_DONE;
		return 0;
	}
}

int
rf_http_chunked_scan(struct rf_http_chunked *c, const void *p, size_t len,
    size_t *used)
{
	struct rf_buf	 b;
	uint64_t	 n;
	uint8_t		 x;
	int		 r = 0;

	*used = 0;
	if (c->state == RF_HTTP_CH_FAILED)
		return RF_ERR_PROTO;
	rf_buf_from(&b, p, len);
	while (r == 0 && c->state != RF_HTTP_CH_DONE && rf_buf_len(&b) > 0) {
		switch (c->state) {
		case RF_HTTP_CH_DATA:
			/* The bulk of a body: skipped, not looked at. */
			n = rf_buf_len(&b) < c->left ? rf_buf_len(&b) : c->left;
			rf_buf_consume(&b, (size_t)n);
			c->left -= n;
			c->data += n;
			if (c->left == 0)
				c->state = RF_HTTP_CH_DATA_CR;
			break;
		case RF_HTTP_CH_DATA_CR:
		case RF_HTTP_CH_DATA_LF:
			rf_buf_get_u8(&b, &x);
			if (x != (c->state == RF_HTTP_CH_DATA_CR ? '\r' : '\n'))
				r = http_ch_fail(c, RF_ERR_PROTO,
				    "no CRLF after chunk data");
			else
				c->state = c->state == RF_HTTP_CH_DATA_CR ?
				    RF_HTTP_CH_DATA_LF : RF_HTTP_CH_SIZE;
			break;
		case RF_HTTP_CH_SIZE:
		case RF_HTTP_CH_EXT_BWS:
		case RF_HTTP_CH_EXT:
		case RF_HTTP_CH_SIZE_LF:
			rf_buf_get_u8(&b, &x);
			r = http_ch_size_byte(c, x);
			break;
		default:
			rf_buf_get_u8(&b, &x);
			r = http_ch_trailer_byte(c, x);
			break;
		}
	}
	*used = len - rf_buf_len(&b);
	return r;
}
