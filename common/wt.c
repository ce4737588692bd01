/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The WebTunnel frame codec, PROP_UPDATE payloads and X-PTTH-Set-Property
 * values (see wt.h and ../shared/WEBTUNNEL.md §2-§3).  Every byte that
 * came from a peer is read through a struct rf_buf view; the only direct
 * byte stores are into buffers this file writes.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "wt.h"

/* Room for a PROP_UPDATE key and value, their NUL included (wt.h). */
#define WT_PROP_KEY_MAX		64
#define WT_PROP_VALUE_MAX	1024

/* The count of a PROP_UPDATE payload is one byte. */
#define WT_PROP_COUNT_MAX	255

size_t
rf_wt_header_len(uint8_t op)
{
	switch (op) {
	case RF_WT_OPEN_REQUEST:
	case RF_WT_OPEN_FAULT:
	case RF_WT_ERROR:
		return 6;
	case RF_WT_CREDIT:
		return 8;
	default:
		return 4;
	}
}

int
rf_wt_op_known(uint8_t op)
{
	switch (op) {
	case RF_WT_DATA:
	case RF_WT_OPEN_REQUEST:
	case RF_WT_CLOSE:
	case RF_WT_OPEN_CONFIRM:
	case RF_WT_PROP_UPDATE:
	case RF_WT_ERROR:
	case RF_WT_OPEN_FAULT:
	case RF_WT_CREDIT:
		return 1;
	default:
		return 0;
	}
}

const char *
rf_wt_op_name(uint8_t op)
{
	switch (op) {
	case RF_WT_DATA:
		return "DATA";
	case RF_WT_OPEN_REQUEST:
		return "OPEN_REQUEST";
	case RF_WT_CLOSE:
		return "CLOSE";
	case RF_WT_OPEN_CONFIRM:
		return "OPEN_CONFIRM";
	case RF_WT_PROP_UPDATE:
		return "PROP_UPDATE";
	case RF_WT_ERROR:
		return "ERROR";
	case RF_WT_OPEN_FAULT:
		return "OPEN_FAULT";
	case RF_WT_CREDIT:
		return "CREDIT";
	default:
		return "unknown";
	}
}

const char *
rf_wt_error_name(uint16_t err)
{
	switch (err) {
	case RF_WT_ERR_NONE:
		return "NONE";
	case RF_WT_ERR_BAD_CHANNEL:
		return "BAD_CHANNEL";
	case RF_WT_ERR_NOT_FORWARDED:
		return "NOT_FORWARDED";
	case RF_WT_ERR_CONN_REFUSED:
		return "CONN_REFUSED";
	case RF_WT_ERR_TIMEOUT:
		return "TIMEOUT";
	case RF_WT_ERR_SOCKET:
		return "SOCKET";
	case RF_WT_ERR_PROTOCOL:
		return "PROTOCOL";
	case RF_WT_ERR_CHANNEL_IN_USE:
		return "CHANNEL_IN_USE";
	default:
		return "unknown";
	}
}

static int
wt_has_payload(uint8_t op)
{
	return op == RF_WT_DATA || op == RF_WT_PROP_UPDATE;
}

/*
 * The flags byte is kept, not checked: the stock peers send 0 and ignore
 * it on receipt, so a future flag from a newer peer must not kill a
 * tunnel; the caller sees it in f->flags.
 */
int
rf_wt_decode(const void *msg, size_t len, struct rf_wt_frame *f)
{
	struct rf_buf	 b;
	uint16_t	 arg = 0;
	uint32_t	 credit = 0;

	memset(f, 0, sizeof(*f));
	rf_buf_from(&b, msg, len);
	if (rf_buf_get_u8(&b, &f->op) != 0 ||
	    rf_buf_get_u8(&b, &f->flags) != 0 ||
	    rf_buf_get_u16(&b, &f->channel) != 0) {
		memset(f, 0, sizeof(*f));
		return RF_ERR_PROTO;
	}
	if (!rf_wt_op_known(f->op))
		return RF_ERR_INVAL;
	if (rf_wt_header_len(f->op) == 6 && rf_buf_get_u16(&b, &arg) != 0)
		return RF_ERR_PROTO;
	if (rf_wt_header_len(f->op) == 8 && rf_buf_get_u32(&b, &credit) != 0)
		return RF_ERR_PROTO;
	f->arg = arg;
	f->credit = credit;
	if (!wt_has_payload(f->op)) {
		/* Trailing bytes: the peer and we disagree on the format. */
		if (rf_buf_len(&b) != 0)
			return RF_ERR_PROTO;
		return 0;
	}
	f->payload = rf_buf_ptr(&b);
	f->len = rf_buf_len(&b);
	return 0;
}

size_t
rf_wt_encode_header(unsigned char *hdr, uint8_t op, uint16_t channel,
    uint32_t arg)
{
	size_t	 n = rf_wt_header_len(op);

	hdr[0] = op;
	hdr[1] = 0;
	hdr[2] = (unsigned char)(channel >> 8);
	hdr[3] = (unsigned char)channel;
	if (n == 6) {
		hdr[4] = (unsigned char)(arg >> 8);
		hdr[5] = (unsigned char)arg;
	} else if (n == 8) {
		hdr[4] = (unsigned char)(arg >> 24);
		hdr[5] = (unsigned char)(arg >> 16);
		hdr[6] = (unsigned char)(arg >> 8);
		hdr[7] = (unsigned char)arg;
	}
	return n;
}

/*
 * All or nothing: the whole frame is reserved at once, so a frame that
 * does not fit leaves out as it was.  No size cap here: RF_WT_STOCK_-
 * PAYLOAD_MAX applies only towards stock peers, which the caller knows.
 */
int
rf_wt_encode(struct rf_buf *out, uint8_t op, uint16_t channel,
    uint32_t arg, const void *payload, size_t len)
{
	unsigned char	 hdr[RF_WT_HDR_MAX], *dp;
	size_t		 hlen;
	int		 r;

	if (!rf_wt_op_known(op))
		return RF_ERR_INVAL;
	if (len > 0 && (!wt_has_payload(op) || payload == NULL))
		return RF_ERR_INVAL;
	hlen = rf_wt_encode_header(hdr, op, channel, arg);
	if (len > SIZE_MAX - hlen)
		return RF_ERR_LIMIT;
	if ((r = rf_buf_reserve(out, hlen + len, &dp)) != 0)
		return r;
	memcpy(dp, hdr, hlen);
	if (len > 0)
		rf_copy(dp + hlen, payload, len);
	return 0;
}

/* One length-prefixed string of a PROP_UPDATE payload into out. */
static int
wt_prop_string(struct rf_buf *b, char *out, size_t outlen)
{
	uint64_t	 n;

	out[0] = '\0';
	if (rf_buf_get_varint_le(b, &n) != 0)
		return RF_ERR_PROTO;
	if (n >= outlen)
		return RF_ERR_PROTO;
	/* SHORT (past the end) and PROTO (a NUL) are both a bad payload. */
	if (rf_buf_get_cstring(b, (size_t)n, out, outlen) != 0)
		return RF_ERR_PROTO;
	return 0;
}

/* Walks the payload; calls fn for each pair unless fn is NULL. */
static int
wt_props_walk(const void *payload, size_t len, rf_wt_prop_fn *fn, void *arg)
{
	struct rf_buf	 b;
	char		 key[WT_PROP_KEY_MAX], value[WT_PROP_VALUE_MAX];
	uint8_t		 count, i;
	int		 r;

	rf_buf_from(&b, payload, len);
	if (rf_buf_get_u8(&b, &count) != 0)
		return RF_ERR_PROTO;
	for (i = 0; i < count; i++) {
		if ((r = wt_prop_string(&b, key, sizeof(key))) != 0 ||
		    (r = wt_prop_string(&b, value, sizeof(value))) != 0)
			return r;
		if (fn != NULL && (r = fn(arg, key, value)) != 0)
			return r;
	}
	if (rf_buf_len(&b) != 0)
		return RF_ERR_PROTO;
	return 0;
}

/*
 * Two passes: the callback sees no pair of a payload that turns out to
 * be malformed further on, so a property update is applied whole or not
 * at all.
 */
int
rf_wt_props_decode(const void *payload, size_t len, rf_wt_prop_fn *fn,
    void *arg)
{
	int	 r;

	if ((r = wt_props_walk(payload, len, NULL, NULL)) != 0)
		return r;
	return wt_props_walk(payload, len, fn, arg);
}

static int
wt_props_put(struct rf_buf *out, const char *s, size_t max)
{
	size_t	 n = strlen(s);
	int	 r;

	if (n >= max)
		return RF_ERR_INVAL;
	if ((r = rf_buf_put_varint_le(out, n)) != 0)
		return r;
	return rf_buf_put(out, s, n);
}

/*
 * Refuses what rf_wt_props_decode would refuse (too many pairs, a key or
 * value too long), and on any error takes back what it appended.
 */
int
rf_wt_props_encode(struct rf_buf *out, const char *const *keys,
    const char *const *values, size_t n)
{
	size_t	 before = rf_buf_len(out), i;
	int	 r;

	if (n > WT_PROP_COUNT_MAX)
		return RF_ERR_INVAL;
	if ((r = rf_buf_put_u8(out, (uint8_t)n)) != 0)
		return r;
	for (i = 0; i < n; i++) {
		if (keys[i] == NULL || values[i] == NULL) {
			r = RF_ERR_INVAL;
			goto out;
		}
		if ((r = wt_props_put(out, keys[i], WT_PROP_KEY_MAX)) != 0 ||
		    (r = wt_props_put(out, values[i], WT_PROP_VALUE_MAX)) != 0)
			goto out;
	}
	return 0;
out:
	rf_buf_unput(out, rf_buf_len(out) - before);
	return r;
}

/* A bounded C string being written; overflow is RF_ERR_LIMIT. */
struct wt_str {
	char	*s;
	size_t	 size;
	size_t	 len;
};

static int
wt_str_add(struct wt_str *w, uint8_t c)
{
	if (w->len + 1 >= w->size)
		return RF_ERR_LIMIT;
	w->s[w->len++] = (char)c;
	w->s[w->len] = '\0';
	return 0;
}

static int
wt_is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* Control bytes other than HTAB, which HTTP allows inside a value. */
static int
wt_is_ctl(uint8_t c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

static int
wt_is_name_char(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/*
 * A quoted value, the opening quote consumed.  \" and \\ are escapes; a
 * backslash before anything else stays as it is, because the stock
 * agent's quoteString() escapes only the quote: a device name such as
 * "C:\data" arrives with a bare backslash.
 */
static int
wt_property_quoted(struct rf_buf *b, struct wt_str *w)
{
	uint8_t	 c, next;
	int	 r;

	for (;;) {
		if (rf_buf_get_u8(b, &c) != 0)
			return RF_ERR_PROTO;	/* unterminated */
		if (c == '"')
			break;
		if (wt_is_ctl(c))
			return RF_ERR_PROTO;
		if (c == '\\' && rf_buf_peek_u8(b, 0, &next) == 0 &&
		    (next == '"' || next == '\\')) {
			rf_buf_consume(b, 1);
			c = next;
		}
		if ((r = wt_str_add(w, c)) != 0)
			return r;
	}
	return rf_buf_len(b) == 0 ? 0 : RF_ERR_PROTO;
}

static int
wt_property_bare(struct rf_buf *b, struct wt_str *w)
{
	uint8_t	 c;
	int	 r;

	while (rf_buf_get_u8(b, &c) == 0) {
		if (wt_is_ctl(c))
			return RF_ERR_PROTO;
		if ((r = wt_str_add(w, c)) != 0)
			return r;
	}
	return 0;
}

/*
 * The whole header value is trimmed of spaces and tabs first (HTTP's
 * OWS); inside, the value runs to the end, so "22, 80" is one bare value.
 * A name or value longer than its buffer is RF_ERR_LIMIT, not
 * RF_ERR_PROTO: the header is well formed, our room is too small.
 */
int
rf_wt_property_parse(const char *header, char *name, size_t namelen,
    char *value, size_t valuelen)
{
	static const char	 prefix[] = "device;";
	struct rf_buf		 all, b;
	struct wt_str		 wn = { name, namelen, 0 };
	struct wt_str		 wv = { value, valuelen, 0 };
	size_t			 len;
	uint8_t			 c;
	int			 r;

	if (namelen == 0 || valuelen == 0)
		return RF_ERR_INVAL;
	name[0] = value[0] = '\0';
	rf_buf_from(&all, header, strlen(header));
	while (rf_buf_peek_u8(&all, 0, &c) == 0 && wt_is_ows(c))
		rf_buf_consume(&all, 1);
	len = rf_buf_len(&all);
	while (len > 0 && rf_buf_peek_u8(&all, len - 1, &c) == 0 &&
	    wt_is_ows(c))
		len--;
	if (rf_buf_get_sub(&all, len, &b) != 0)
		return RF_ERR_PROTO;

	if (len < sizeof(prefix) - 1 ||
	    memcmp(rf_buf_ptr(&b), prefix, sizeof(prefix) - 1) != 0)
		return RF_ERR_PROTO;
	rf_buf_consume(&b, sizeof(prefix) - 1);
	while ((r = rf_buf_get_u8(&b, &c)) == 0 && c != '=') {
		if (!wt_is_name_char(c)) {
			r = RF_ERR_PROTO;
			goto out;
		}
		if ((r = wt_str_add(&wn, c)) != 0)
			goto out;
	}
	if (r != 0 || wn.len == 0) {
		r = RF_ERR_PROTO;	/* no '=', or an empty name */
		goto out;
	}
	if (rf_buf_peek_u8(&b, 0, &c) == 0 && c == '"') {
		rf_buf_consume(&b, 1);
		r = wt_property_quoted(&b, &wv);
	} else
		r = wt_property_bare(&b, &wv);
out:
	if (r != 0)
		name[0] = value[0] = '\0';
	return r;
}

/* ------------------------------------------------------- extension -- */

static int
wt_is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static void
wt_skip_ows(struct rf_buf *b)
{
	uint8_t	 c;

	while (rf_buf_peek_u8(b, 0, &c) == 0 && wt_is_ows(c))
		rf_buf_consume(b, 1);
}

/* A decimal number of at most 10 digits, no sign, no leading junk. */
static int
wt_ext_number(struct rf_buf *b, uint64_t *v)
{
	uint8_t	 c;
	int	 digits = 0;

	*v = 0;
	while (rf_buf_peek_u8(b, 0, &c) == 0 && wt_is_digit(c)) {
		if (++digits > 10)
			return RF_ERR_PROTO;
		*v = *v * 10 + (uint64_t)(c - '0');
		rf_buf_consume(b, 1);
	}
	return digits > 0 ? 0 : RF_ERR_PROTO;
}

/* One "name=value" parameter; value is a number for the names we know. */
static int
wt_ext_param(struct rf_buf *b, struct rf_wt_ext *e, int *seen)
{
	char		 name[16];
	size_t		 n = 0;
	uint64_t	 v;
	uint8_t		 c;

	while (rf_buf_peek_u8(b, 0, &c) == 0 && wt_is_name_char(c)) {
		if (n + 1 >= sizeof(name))
			return RF_ERR_PROTO;
		name[n++] = (char)c;
		rf_buf_consume(b, 1);
	}
	name[n] = '\0';
	if (n == 0 || rf_buf_get_u8(b, &c) != 0 || c != '=')
		return RF_ERR_PROTO;
	if (strcmp(name, "frame") == 0 || strcmp(name, "window") == 0) {
		int bit = name[0] == 'f' ? 1 : 2;

		if ((*seen & bit) || wt_ext_number(b, &v) != 0 ||
		    v > UINT32_MAX)
			return RF_ERR_PROTO;
		*seen |= bit;
		if (bit == 1)
			e->frame = (uint32_t)v;
		else
			e->window = (uint32_t)v;
		return 0;
	}
	/* Unknown: skip its value, a token up to the next ';'. */
	while (rf_buf_peek_u8(b, 0, &c) == 0 && c != ';') {
		if (wt_is_ctl(c))
			return RF_ERR_PROTO;
		rf_buf_consume(b, 1);
	}
	return 0;
}

/*
 * Strict where it matters (numbers, ranges, each known parameter once)
 * and lenient about what a later version may add, so that a newer agent
 * still gets version 1 from an older reflector.
 */
int
rf_wt_ext_parse(const char *value, struct rf_wt_ext *e)
{
	struct rf_buf	 b;
	uint64_t	 version;
	uint8_t		 c;
	int		 seen = 0, r;

	memset(e, 0, sizeof(*e));
	rf_buf_from(&b, value, strlen(value));
	wt_skip_ows(&b);
	if (wt_ext_number(&b, &version) != 0 || version != RF_WT_EXT_VERSION)
		goto bad;
	for (;;) {
		wt_skip_ows(&b);
		if (rf_buf_len(&b) == 0)
			break;
		if (rf_buf_get_u8(&b, &c) != 0 || c != ';')
			goto bad;
		wt_skip_ows(&b);
		if ((r = wt_ext_param(&b, e, &seen)) != 0)
			goto bad;
	}
	if (seen != 3 || e->frame < RF_WT_STOCK_PAYLOAD_MAX ||
	    e->frame > RF_WT_EXT_FRAME_MAX ||
	    e->window < RF_WT_EXT_WINDOW_MIN ||
	    e->window > RF_WT_EXT_WINDOW_MAX || e->window < e->frame)
		goto bad;
	return 0;
bad:
	memset(e, 0, sizeof(*e));
	return RF_ERR_PROTO;
}

int
rf_wt_ext_format(const struct rf_wt_ext *e, char *out, size_t len)
{
	int	 n;

	n = snprintf(out, len, "%d; frame=%u; window=%u", RF_WT_EXT_VERSION,
	    (unsigned)e->frame, (unsigned)e->window);
	if (n < 0 || (size_t)n >= len)
		return RF_ERR_LIMIT;
	return 0;
}

int
rf_wt_ext_line(const struct rf_wt_ext *e, char *out, size_t len)
{
	char	 v[64];
	int	 n;

	if (len == 0)
		return RF_ERR_LIMIT;
	out[0] = '\0';
	if (rf_wt_ext_format(e, v, sizeof(v)) != 0)
		return RF_ERR_LIMIT;
	n = snprintf(out, len, RF_WT_EXT_HEADER ": %s\r\n", v);
	if (n < 0 || (size_t)n >= len) {
		out[0] = '\0';
		return RF_ERR_LIMIT;
	}
	return 0;
}

int
rf_wt_ext_answer(const char *announced, const struct rf_wt_ext *ours,
    struct rf_wt_ext *theirs, char *line, size_t len)
{
	int	 r;

	memset(theirs, 0, sizeof(*theirs));
	if (len > 0)
		line[0] = '\0';
	if (announced == NULL)
		return RF_ERR_NOTFOUND;
	if ((r = rf_wt_ext_parse(announced, theirs)) != 0)
		return r;
	if ((r = rf_wt_ext_line(ours, line, len)) != 0)
		memset(theirs, 0, sizeof(*theirs));
	return r;
}
