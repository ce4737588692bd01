/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Routing by the first bytes of a connection (see peek.h): the SNI of a
 * TLS ClientHello and whether it offers h2, the Host of a plain HTTP
 * request head, and the device id in a host name.  The bytes are peeked,
 * never consumed, and come from anyone on the Internet: every read goes
 * through a struct rf_buf view, and a parser says SHORT only while more
 * bytes could still make the input valid, so junk is refused at once
 * instead of waited for.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "err.h"
#include "peek.h"

#define PEEK_TLS_HEADER		5	/* type, version, u16 length */
#define PEEK_TLS_PLAINTEXT_MAX	16384	/* RFC 8446 5.1: 2^14 */
#define PEEK_TLS_HANDSHAKE	0x16
#define PEEK_TLS_CLIENT_HELLO	1
#define PEEK_TLS_EXT_SNI	0
#define PEEK_TLS_EXT_ALPN	16
#define PEEK_TLS_SNI_HOST_NAME	0
#define PEEK_TLS_RANDOM		32
#define PEEK_TLS_SESSION_ID_MAX	32

#define PEEK_DNS_NAME_MAX	253
#define PEEK_DNS_LABEL_MAX	63

/* Longest IPv6 text form with an embedded IPv4 address, and its NUL. */
#define PEEK_IPV6_TEXT_MAX	46

static int
peek_is_alpha(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
peek_is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static uint8_t
peek_lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c;
}

/*
 * Checks a host name copied into our own memory and lowercases it in
 * place: letters, digits and hyphens in dot-separated labels of 1-63,
 * 1-253 in all, no empty label (so no leading or trailing dot).
 */
static int
peek_dns_name(char *s)
{
	size_t	 i, label = 0;
	uint8_t	 c;

	for (i = 0; s[i] != '\0'; i++) {
		c = (uint8_t)s[i];
		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!peek_is_alpha(c) && !peek_is_digit(c) && c != '-')
			return 0;
		s[i] = (char)peek_lower(c);
		if (++label > PEEK_DNS_LABEL_MAX)
			return 0;
	}
	return i >= 1 && i <= PEEK_DNS_NAME_MAX && label > 0;
}

int
rf_peek_is_tls(const void *buf, size_t len)
{
	struct rf_buf	 b;
	uint8_t		 c;

	rf_buf_from(&b, buf, len);
	if (rf_buf_peek_u8(&b, 0, &c) != 0 || c != PEEK_TLS_HANDSHAKE)
		return 0;
	/* One byte is enough to tell: no HTTP method starts with 0x16. */
	if (rf_buf_peek_u8(&b, 1, &c) != 0)
		return 1;
	return c == 0x03;
}

/*
 * The first record of the connection into *rec.  RF_ERR_PROTO as soon as
 * the bytes present cannot start a handshake record with a ClientHello;
 * RF_ERR_SHORT with *need while the record is incomplete.  Record version
 * 0x0300-0x0304: clients send 0x0301 or 0x0303 in the first record.
 */
static int
peek_tls_record(struct rf_buf *b, size_t *need, struct rf_buf *rec)
{
	uint8_t		 c;
	uint16_t	 reclen;

	if (rf_buf_peek_u8(b, 0, &c) == 0 && c != PEEK_TLS_HANDSHAKE)
		return RF_ERR_PROTO;
	if (rf_buf_peek_u8(b, 1, &c) == 0 && c != 0x03)
		return RF_ERR_PROTO;
	if (rf_buf_peek_u8(b, 2, &c) == 0 && c > 0x04)
		return RF_ERR_PROTO;
	if (rf_buf_len(b) < PEEK_TLS_HEADER) {
		*need = PEEK_TLS_HEADER;
		return RF_ERR_SHORT;
	}
	rf_buf_consume(b, 3);
	rf_buf_get_u16(b, &reclen);
	if (reclen == 0 || reclen > PEEK_TLS_PLAINTEXT_MAX)
		return RF_ERR_PROTO;
	if (rf_buf_peek_u8(b, 0, &c) == 0 && c != PEEK_TLS_CLIENT_HELLO)
		return RF_ERR_PROTO;
	if (rf_buf_get_sub(b, reclen, rec) != 0) {
		*need = PEEK_TLS_HEADER + (size_t)reclen;
		return RF_ERR_SHORT;
	}
	return 0;
}

/*
 * The server_name extension (RFC 6066 3): a non-empty list filling the
 * extension, at most one host_name; other name types are skipped.
 */
static int
peek_tls_sni_ext(struct rf_buf *ext, char *host, size_t hostlen, int *found)
{
	struct rf_buf	 list, name;
	uint8_t		 type;

	if (rf_buf_get_sub_u16(ext, &list) != 0 || rf_buf_len(ext) != 0 ||
	    rf_buf_len(&list) == 0)
		return RF_ERR_PROTO;
	while (rf_buf_len(&list) > 0) {
		if (rf_buf_get_u8(&list, &type) != 0 ||
		    rf_buf_get_sub_u16(&list, &name) != 0)
			return RF_ERR_PROTO;
		if (type != PEEK_TLS_SNI_HOST_NAME)
			continue;
		if (*found)
			return RF_ERR_PROTO;
		/* SHORT cannot happen; LIMIT (no room) and NUL are PROTO. */
		if (rf_buf_get_cstring(&name, rf_buf_len(&name), host,
		    hostlen) != 0 || !peek_dns_name(host))
			return RF_ERR_PROTO;
		*found = 1;
	}
	return 0;
}

/*
 * The application_layer_protocol_negotiation extension (RFC 7301 3.1): a
 * non-empty list filling the extension, of non-empty names.  Names are
 * compared as bytes: "h2c" or "H2" is not "h2".
 */
static int
peek_tls_alpn_ext(struct rf_buf *ext, int *offers_h2)
{
	struct rf_buf	 list, name;

	if (rf_buf_get_sub_u16(ext, &list) != 0 || rf_buf_len(ext) != 0 ||
	    rf_buf_len(&list) == 0)
		return RF_ERR_PROTO;
	while (rf_buf_len(&list) > 0) {
		if (rf_buf_get_sub_u8(&list, &name) != 0 ||
		    rf_buf_len(&name) == 0)
			return RF_ERR_PROTO;
		if (rf_buf_len(&name) == 2 && rf_buf_equal(&name, "h2", 2, 0))
			*offers_h2 = 1;
	}
	return 0;
}

/*
 * The extensions block: every extension is walked, so a torn one fails.
 * RFC 8446 4.2 allows each type at most once; we check the two we read.
 */
static int
peek_tls_extensions(struct rf_buf *exts, char *host, size_t hostlen,
    int *offers_h2)
{
	struct rf_buf	 ext;
	uint16_t	 type;
	int		 sni = 0, alpn = 0, found = 0, r;

	while (rf_buf_len(exts) > 0) {
		if (rf_buf_get_u16(exts, &type) != 0 ||
		    rf_buf_get_sub_u16(exts, &ext) != 0)
			return RF_ERR_PROTO;
		switch (type) {
		case PEEK_TLS_EXT_SNI:
			if (sni++)
				return RF_ERR_PROTO;
			r = peek_tls_sni_ext(&ext, host, hostlen, &found);
			break;
		case PEEK_TLS_EXT_ALPN:
			if (alpn++)
				return RF_ERR_PROTO;
			r = peek_tls_alpn_ext(&ext, offers_h2);
			break;
		default:
			continue;
		}
		if (r != 0)
			return r;
	}
	return found ? 0 : RF_ERR_NOTFOUND;
}

/*
 * The ClientHello in a complete record.  Its handshake length must fit
 * the record: a hello continued in a second record is refused (peek.h).
 */
static int
peek_tls_hello(struct rf_buf *rec, char *host, size_t hostlen,
    int *offers_h2)
{
	struct rf_buf	 hello, field, exts;
	uint8_t		 type;
	uint16_t	 version;
	uint32_t	 hslen;

	if (rf_buf_get_u8(rec, &type) != 0 || type != PEEK_TLS_CLIENT_HELLO ||
	    rf_buf_get_u24(rec, &hslen) != 0 ||
	    rf_buf_get_sub(rec, hslen, &hello) != 0)
		return RF_ERR_PROTO;
	if (rf_buf_get_u16(&hello, &version) != 0 || (version >> 8) != 0x03 ||
	    rf_buf_consume(&hello, PEEK_TLS_RANDOM) != 0)
		return RF_ERR_PROTO;
	if (rf_buf_get_sub_u8(&hello, &field) != 0 ||
	    rf_buf_len(&field) > PEEK_TLS_SESSION_ID_MAX)
		return RF_ERR_PROTO;
	if (rf_buf_get_sub_u16(&hello, &field) != 0 ||
	    rf_buf_len(&field) == 0 || rf_buf_len(&field) % 2 != 0)
		return RF_ERR_PROTO;
	if (rf_buf_get_sub_u8(&hello, &field) != 0 || rf_buf_len(&field) == 0)
		return RF_ERR_PROTO;
	if (rf_buf_len(&hello) == 0)
		return RF_ERR_NOTFOUND;		/* no extensions at all */
	if (rf_buf_get_sub_u16(&hello, &exts) != 0 || rf_buf_len(&hello) != 0)
		return RF_ERR_PROTO;
	return peek_tls_extensions(&exts, host, hostlen, offers_h2);
}

int
rf_peek_tls_sni(const void *buf, size_t len, char *host, size_t hostlen,
    int *offers_h2, size_t *need)
{
	struct rf_buf	 b, rec;
	int		 r;

	*need = 0;
	*offers_h2 = 0;
	if (hostlen > 0)
		host[0] = '\0';
	rf_buf_from(&b, buf, len);
	if ((r = peek_tls_record(&b, need, &rec)) != 0)
		return r;
	if (hostlen == 0)
		return RF_ERR_PROTO;
	/*
	 * host and *offers_h2 may hold what came before a later malformed
	 * extension; a hello without a host_name is valid for the flag.
	 */
	if ((r = peek_tls_hello(&rec, host, hostlen, offers_h2)) != 0) {
		host[0] = '\0';
		if (r != RF_ERR_NOTFOUND)
			*offers_h2 = 0;
	}
	return r;
}

/* RFC 9110 5.6.2 tchar: the bytes of a method and a header name. */
static int
peek_is_tchar(uint8_t c)
{
	if (peek_is_alpha(c) || peek_is_digit(c))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int
peek_is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

enum peek_http_state {
	PEEK_HTTP_METHOD,
	PEEK_HTTP_TARGET,
	PEEK_HTTP_VERSION,
	PEEK_HTTP_LINE_LF,	/* a CR ended a line: LF must follow */
	PEEK_HTTP_FIELD,	/* start of a header line, or the empty line */
	PEEK_HTTP_NAME,
	PEEK_HTTP_VALUE,
	PEEK_HTTP_END_LF,	/* a CR started the empty line */
	PEEK_HTTP_DONE,
};

/*
 * A request head being scanned one byte at a time.  is_host: the header
 * name so far is a prefix of "host" (then, at the colon, is "host").
 */
struct peek_http {
	enum peek_http_state	 state;
	size_t			 tok;		/* bytes of the current token */
	int			 is_host;
	size_t			 val_at;	/* start of the current value */
	int			 have_host;
	size_t			 host_at;	/* the Host value */
	size_t			 host_len;
};

/* The current header line ended at pos (its CR or LF). */
static int
peek_http_field_end(struct peek_http *h, size_t pos)
{
	if (h->is_host) {
		if (h->have_host)
			return RF_ERR_PROTO;
		h->have_host = 1;
		h->host_at = h->val_at;
		h->host_len = pos - h->val_at;
	}
	return 0;
}

/* Request line: METHOD SP target SP HTTP/1.x; 0 or RF_ERR_PROTO. */
static int
peek_http_request_line(struct peek_http *h, uint8_t c)
{
	static const char	 version[] = "HTTP/1.";

	switch (h->state) {
	case PEEK_HTTP_METHOD:
	case PEEK_HTTP_TARGET:
		if (c == ' ' && h->tok > 0) {
			h->state = h->state == PEEK_HTTP_METHOD ?
			    PEEK_HTTP_TARGET : PEEK_HTTP_VERSION;
			h->tok = 0;
		} else if (h->state == PEEK_HTTP_METHOD ? peek_is_tchar(c) :
		    c > 0x20 && c < 0x7f)
			h->tok++;
		else
			return RF_ERR_PROTO;
		return 0;
	default:
		if (h->tok < sizeof(version) - 1) {
			if (c != (uint8_t)version[h->tok])
				return RF_ERR_PROTO;
		} else if (h->tok == sizeof(version) - 1) {
			if (!peek_is_digit(c))
				return RF_ERR_PROTO;
		} else if (c == '\r')
			h->state = PEEK_HTTP_LINE_LF;
		else if (c == '\n')
			h->state = PEEK_HTTP_FIELD;
		else
			return RF_ERR_PROTO;
		h->tok++;
		return 0;
	}
}

/*
 * One byte at offset pos.  Header lines: a tchar name, a colon, a value
 * without control bytes but HTAB; LF or CRLF ends a line.  A line that
 * starts with a space (obsolete folding) is refused, as RFC 9112 5.2
 * allows, so nobody can hide a second Host in a continuation.
 */
static int
peek_http_byte(struct peek_http *h, uint8_t c, size_t pos)
{
	static const char	 host[] = "host";

	switch (h->state) {
	case PEEK_HTTP_LINE_LF:
		if (c != '\n')
			return RF_ERR_PROTO;
		h->state = PEEK_HTTP_FIELD;
		return 0;
	case PEEK_HTTP_FIELD:
		if (c == '\r')
			h->state = PEEK_HTTP_END_LF;
		else if (c == '\n')
			h->state = PEEK_HTTP_DONE;
		else if (peek_is_tchar(c)) {
			h->state = PEEK_HTTP_NAME;
			h->tok = 1;
			h->is_host = peek_lower(c) == host[0];
		} else
			return RF_ERR_PROTO;
		return 0;
	case PEEK_HTTP_NAME:
		if (c == ':') {
			h->is_host = h->is_host && h->tok == sizeof(host) - 1;
			h->val_at = pos + 1;
			h->state = PEEK_HTTP_VALUE;
		} else if (peek_is_tchar(c)) {
			h->is_host = h->is_host && h->tok < sizeof(host) - 1 &&
			    peek_lower(c) == (uint8_t)host[h->tok];
			h->tok++;
		} else
			return RF_ERR_PROTO;	/* no colon before the end */
		return 0;
	case PEEK_HTTP_VALUE:
		if (c == '\r' || c == '\n') {
			h->state = c == '\r' ? PEEK_HTTP_LINE_LF :
			    PEEK_HTTP_FIELD;
			return peek_http_field_end(h, pos);
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return RF_ERR_PROTO;
		return 0;
	case PEEK_HTTP_END_LF:
		if (c != '\n')
			return RF_ERR_PROTO;
		h->state = PEEK_HTTP_DONE;
		return 0;
	default:
		return peek_http_request_line(h, c);
	}
}

/* ":port" or nothing: 0-5 digits up to 65535 (RFC 3986 allows none). */
static int
peek_port(struct rf_buf *v)
{
	uint32_t	 port = 0;
	size_t		 n = 0;
	uint8_t		 c;

	if (rf_buf_get_u8(v, &c) != 0)
		return 0;
	if (c != ':')
		return RF_ERR_PROTO;
	while (rf_buf_get_u8(v, &c) == 0) {
		if (!peek_is_digit(c) || ++n > 5)
			return RF_ERR_PROTO;
		port = port * 10 + (uint32_t)(c - '0');
	}
	return port <= 65535 ? 0 : RF_ERR_PROTO;
}

/* "[v6]" into host, checked by inet_pton, the port after it. */
static int
peek_host_ipv6(struct rf_buf *v, char *host, size_t hostlen)
{
	struct in6_addr	 a;
	char		 text[PEEK_IPV6_TEXT_MAX];
	size_t		 n = 0;
	uint8_t		 c;

	rf_buf_consume(v, 1);
	for (;;) {
		if (rf_buf_get_u8(v, &c) != 0)
			return RF_ERR_PROTO;
		if (c == ']')
			break;
		if (n + 1 >= sizeof(text))
			return RF_ERR_PROTO;
		text[n++] = (char)peek_lower(c);
	}
	text[n] = '\0';
	if (inet_pton(AF_INET6, text, &a) != 1 || n + 3 > hostlen)
		return RF_ERR_PROTO;
	host[0] = '[';
	memcpy(host + 1, text, n);
	host[n + 1] = ']';
	host[n + 2] = '\0';
	return peek_port(v);
}

/*
 * A Host value (already trimmed): a DNS name or IPv4 address, or an IPv6
 * literal in brackets, then an optional port.  A trailing dot (an
 * absolute name, "dev1.example.net.") is dropped: it names the same host.
 */
static int
peek_host_value(struct rf_buf *v, char *host, size_t hostlen)
{
	size_t		 n = 0;
	uint8_t		 c;

	if (rf_buf_peek_u8(v, 0, &c) == 0 && c == '[')
		return peek_host_ipv6(v, host, hostlen);
	while (rf_buf_peek_u8(v, 0, &c) == 0 && c != ':') {
		if (n + 1 >= hostlen || c == '\0')
			return RF_ERR_PROTO;
		host[n++] = (char)c;
		rf_buf_consume(v, 1);
	}
	host[n] = '\0';
	if (n > 1 && host[n - 1] == '.')
		host[n - 1] = '\0';
	if (!peek_dns_name(host))
		return RF_ERR_PROTO;
	return peek_port(v);
}

/* The Host value at [at, at + len) of the head, trimmed of OWS. */
static int
peek_http_take_host(const void *buf, size_t at, size_t len, char *host,
    size_t hostlen)
{
	struct rf_buf	 all, v;
	uint8_t		 c;

	rf_buf_from(&all, buf, at + len);
	rf_buf_consume(&all, at);
	while (rf_buf_peek_u8(&all, 0, &c) == 0 && peek_is_ows(c))
		rf_buf_consume(&all, 1);
	len = rf_buf_len(&all);
	while (len > 0 && rf_buf_peek_u8(&all, len - 1, &c) == 0 &&
	    peek_is_ows(c))
		len--;
	if (len == 0 || rf_buf_get_sub(&all, len, &v) != 0)
		return RF_ERR_PROTO;
	return peek_host_value(&v, host, hostlen);
}

int
rf_peek_http_host(const void *buf, size_t len, size_t max, char *host,
    size_t hostlen)
{
	struct peek_http	 h;
	struct rf_buf		 b;
	size_t			 pos;
	uint8_t			 c;
	int			 r;

	if (hostlen > 0)
		host[0] = '\0';
	memset(&h, 0, sizeof(h));
	h.state = PEEK_HTTP_METHOD;
	rf_buf_from(&b, buf, len < max ? len : max);
	for (pos = 0; h.state != PEEK_HTTP_DONE; pos++) {
		if (rf_buf_get_u8(&b, &c) != 0)
			return len < max ? RF_ERR_SHORT : RF_ERR_LIMIT;
		if ((r = peek_http_byte(&h, c, pos)) != 0)
			return r;
	}
	if (!h.have_host)
		return RF_ERR_NOTFOUND;
	if (hostlen == 0)
		return RF_ERR_PROTO;
	r = peek_http_take_host(buf, h.host_at, h.host_len, host, hostlen);
	if (r != 0)
		host[0] = '\0';
	return r;
}

/*
 * Compared as bytes after the first dot, case-insensitively: the domain
 * comes from the configuration, which need not be lowercase.
 */
int
rf_host_device(const char *host, const char *domain, char *dev,
    size_t devlen)
{
	struct rf_buf	 b;
	size_t		 hl = strlen(host), dl = strlen(domain), n = 0;
	uint8_t		 c, last = '-';

	if (devlen > 0)
		dev[0] = '\0';
	if (dl == 0 || hl < dl + 2)
		return 0;
	rf_buf_from(&b, host, hl);
	while (rf_buf_get_u8(&b, &c) == 0 && c != '.') {
		c = peek_lower(c);
		if (!peek_is_alpha(c) && !peek_is_digit(c) &&
		    (c != '-' || n == 0))
			goto fail;
		if (n + 1 >= devlen || n + 1 > PEEK_DNS_LABEL_MAX)
			goto fail;
		dev[n++] = (char)c;
		last = c;
	}
	if (c != '.' || n == 0 || last == '-' || rf_buf_len(&b) != dl ||
	    strncasecmp((const char *)rf_buf_ptr(&b), domain, dl) != 0)
		goto fail;
	dev[n] = '\0';
	return 1;
fail:
	if (devlen > 0)
		dev[0] = '\0';
	return 0;
}
