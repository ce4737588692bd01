/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for common/peek.c.  The ClientHellos are real: OpenSSL makes
 * them over a memory BIO (TLS 1.3 with X25519, TLS 1.2, without SNI, one
 * padded to the ~1.8 KB of a post-quantum key share, which arrives in
 * two TCP segments, and some with ALPN as browsers and agents send it).
 * Every truncation of each must ask for the rest of the record, and every
 * torn record must be refused, never read past.
 * RF_PEEK_DUMP=dir writes the hellos there (the fuzz seeds came so).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "buf.h"
#include "err.h"
#include "peek.h"
#include "tap.h"

#define HOSTLEN		256
#define HELLO_MAX	8192

struct hello {
	const char	*name;		/* a file name for RF_PEEK_DUMP */
	unsigned char	 b[HELLO_MAX];
	size_t		 len;
};

/* A GREASE type (RFC 8701): servers ignore it, so padding is harmless. */
#define PAD_EXT_TYPE	0x7a7a
static unsigned char	 pad_ext[1400];

static int
pad_add_cb(SSL *s, unsigned int ext_type, const unsigned char **out,
    size_t *outlen, int *al, void *arg)
{
	*out = pad_ext;
	*outlen = sizeof(pad_ext);
	return 1;
}

/*
 * The first flight of an OpenSSL client: its ClientHello record(s), read
 * from the write BIO after SSL_connect() wants to read.  maxver 0 is the
 * library's default (TLS 1.3).  alpn (or NULL) is the ALPN list in wire
 * format, NUL-terminated: "\x02h2\x08http/1.1".
 */
static int
make_hello(struct hello *h, const char *name, const char *sni, int maxver,
    const char *groups, int pad, const char *alpn)
{
	SSL_CTX	*ctx;
	SSL	*ssl;
	BIO	*rbio, *wbio;
	int	 n, ret = -1;

	h->name = name;
	h->len = 0;
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return -1;
	if (maxver != 0 && !SSL_CTX_set_max_proto_version(ctx, maxver))
		goto out_ctx;
	if (groups != NULL && !SSL_CTX_set1_groups_list(ctx, groups))
		goto out_ctx;
	if (pad && !SSL_CTX_add_client_custom_ext(ctx, PAD_EXT_TYPE,
	    pad_add_cb, NULL, NULL, NULL, NULL))
		goto out_ctx;
	if ((ssl = SSL_new(ctx)) == NULL)
		goto out_ctx;
	rbio = BIO_new(BIO_s_mem());
	wbio = BIO_new(BIO_s_mem());
	if (rbio == NULL || wbio == NULL) {
		BIO_free(rbio);
		BIO_free(wbio);
		goto out_ssl;
	}
	SSL_set_bio(ssl, rbio, wbio);
	if (sni != NULL && !SSL_set_tlsext_host_name(ssl, sni))
		goto out_ssl;
	/* Unlike the others, 0 is success. */
	if (alpn != NULL && SSL_set_alpn_protos(ssl,
	    (const unsigned char *)alpn, (unsigned int)strlen(alpn)) != 0)
		goto out_ssl;
	if (SSL_connect(ssl) != -1 ||
	    SSL_get_error(ssl, -1) != SSL_ERROR_WANT_READ)
		goto out_ssl;
	if ((n = BIO_read(wbio, h->b, sizeof(h->b))) <= 0)
		goto out_ssl;
	h->len = (size_t)n;
	ret = 0;
out_ssl:
	SSL_free(ssl);
out_ctx:
	SSL_CTX_free(ctx);
	if (ret != 0)
		ERR_print_errors_fp(stderr);
	return ret;
}

static void
dump_hello(const struct hello *h)
{
	const char	*dir = getenv("RF_PEEK_DUMP");
	char		 path[512];
	FILE		*f;

	if (dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, h->name);
	if ((f = fopen(path, "wb")) == NULL)
		return;
	fwrite(h->b, 1, h->len, f);
	fclose(f);
}

/*
 * rf_peek_tls_sni over a heap copy of exactly len bytes (for ASan).  Its
 * offers_h2 is kept in last_h2; one set with a result other than 0 or
 * NOTFOUND, or neither 0 nor 1, is counted in bad_h2.
 */
static int	 last_h2;
static size_t	 bad_h2, calls;

static int
sni(const void *p, size_t len, char *host, size_t hostlen, size_t *need)
{
	unsigned char	*q;
	int		 r;

	if ((q = malloc(len == 0 ? 1 : len)) == NULL)
		abort();
	if (len > 0)
		memcpy(q, p, len);
	last_h2 = -1;
	r = rf_peek_tls_sni(q, len, host, hostlen, &last_h2, need);
	free(q);
	calls++;
	if ((last_h2 != 0 && last_h2 != 1) ||
	    (last_h2 != 0 && r != 0 && r != RF_ERR_NOTFOUND)) {
		if (bad_h2++ == 0)
			diag("offers_h2 %d with r %d", last_h2, r);
	}
	return r;
}

/* The record length field of a hello. */
static size_t
record_len(const struct hello *h)
{
	return (size_t)h->b[3] << 8 | h->b[4];
}

/*
 * Every prefix is SHORT with the right need; every record cut short by
 * its length field (the handshake then overruns it) is PROTO.
 */
static void
check_truncations(const struct hello *h)
{
	unsigned char	 copy[HELLO_MAX];
	char		 host[HOSTLEN];
	size_t		 k, need, bad_need = 0, bad_short = 0;
	int		 r;

	for (k = 0; k < h->len; k++) {
		r = sni(h->b, k, host, sizeof(host), &need);
		if (r != RF_ERR_SHORT || need != (k < 5 ? 5 : h->len) ||
		    host[0] != '\0') {
			if (bad_need++ == 0)
				diag("%s cut to %zu: r %d need %zu", h->name,
				    k, r, need);
		}
	}
	ok(bad_need == 0, "%s: each of %zu prefixes is SHORT, need %zu",
	    h->name, h->len, h->len);
	memcpy(copy, h->b, h->len);
	for (k = 5; k < h->len; k++) {
		copy[3] = (unsigned char)((k - 5) >> 8);
		copy[4] = (unsigned char)(k - 5);
		r = sni(copy, k, host, sizeof(host), &need);
		if (r != RF_ERR_PROTO || host[0] != '\0') {
			if (bad_short++ == 0)
				diag("%s record cut to %zu: r %d", h->name,
				    k - 5, r);
		}
	}
	ok(bad_short == 0, "%s: each shortened record is PROTO", h->name);
}

static void
test_real_hellos(void)
{
	static struct hello	 h13, h12, nosni, big, upper, under;
	char			 host[HOSTLEN];
	size_t			 need;

	memset(pad_ext, 0xab, sizeof(pad_ext));
	ok(make_hello(&h13, "tls13-x25519", "dev1.localhost", 0, "X25519",
	    0, NULL) == 0, "OpenSSL made a TLS 1.3 X25519 ClientHello");
	ok(make_hello(&h12, "tls12", "dev2.example.net", TLS1_2_VERSION,
	    NULL, 0, NULL) == 0, "a TLS 1.2 ClientHello");
	ok(make_hello(&nosni, "tls13-nosni", NULL, 0, NULL, 0, NULL) == 0,
	    "a ClientHello without SNI");
	ok(make_hello(&big, "tls13-big", "dev1.localhost", 0, NULL, 1,
	    NULL) == 0, "a ClientHello padded past 1.5 KB");
	ok(make_hello(&upper, "tls13-upper", "Dev3.Example.NET", 0, NULL,
	    0, NULL) == 0, "a ClientHello with an upper-case name");
	ok(make_hello(&under, "tls13-underscore", "dev_1.localhost", 0, NULL,
	    0, NULL) == 0, "a ClientHello with an underscore in the name");

	ok(record_len(&h13) + 5 == h13.len && h13.b[0] == 0x16,
	    "the hello is one whole record");
	ok(big.len > 1500, "the padded hello is %zu bytes", big.len);
	ok(rf_peek_is_tls(h13.b, h13.len), "is_tls: a real hello");

	is_int(sni(h13.b, h13.len, host, sizeof(host), &need), 0,
	    "TLS 1.3 hello: SNI found");
	is_str(host, "dev1.localhost", "TLS 1.3 host");
	is_int(need, 0, "need is 0 on success");
	is_int(last_h2, 0, "no ALPN: does not offer h2");
	is_int(sni(h12.b, h12.len, host, sizeof(host), &need), 0,
	    "TLS 1.2 hello: SNI found");
	is_str(host, "dev2.example.net", "TLS 1.2 host");
	is_int(sni(big.b, big.len, host, sizeof(host), &need), 0,
	    "padded hello: SNI found");
	is_str(host, "dev1.localhost", "padded hello host");
	is_int(sni(upper.b, upper.len, host, sizeof(host), &need), 0,
	    "upper-case SNI found");
	is_str(host, "dev3.example.net", "and lowercased");
	is_int(sni(nosni.b, nosni.len, host, sizeof(host), &need),
	    RF_ERR_NOTFOUND, "hello without SNI: NOTFOUND");
	is_str(host, "", "host empty");
	is_int(sni(under.b, under.len, host, sizeof(host), &need),
	    RF_ERR_PROTO, "underscore is no DNS host name: PROTO");
	is_str(host, "", "host cleared");
	is_int(sni(h13.b, h13.len, host, 15, &need), 0,
	    "a 14-character name fits 15 bytes");
	is_int(sni(h13.b, h13.len, host, 14, &need), RF_ERR_PROTO,
	    "but not 14: PROTO");
	is_str(host, "", "host cleared");

	check_truncations(&h13);
	check_truncations(&h12);
	check_truncations(&nosni);
	check_truncations(&big);

	dump_hello(&h13);
	dump_hello(&h12);
	dump_hello(&nosni);
	dump_hello(&big);
	dump_hello(&upper);
}

/*
 * A ClientHello record around the given extensions block (its u16 length
 * included by the caller), written with rf_buf so the layout is explicit.
 */
static void
build_hello(struct rf_buf *out, const void *exts, size_t extslen)
{
	static const unsigned char random[32];
	size_t	 body = 2 + 32 + 1 + 4 + 2 + extslen;

	rf_buf_init(out, 0);
	rf_buf_put_u8(out, 0x16);
	rf_buf_put_u16(out, 0x0301);
	rf_buf_put_u16(out, (uint16_t)(4 + body));
	rf_buf_put_u8(out, 1);
	rf_buf_put_u8(out, 0);
	rf_buf_put_u16(out, (uint16_t)body);
	rf_buf_put_u16(out, 0x0303);
	rf_buf_put(out, random, sizeof(random));
	rf_buf_put_u8(out, 0);				/* session id */
	rf_buf_put_u16(out, 2);				/* cipher suites */
	rf_buf_put_u16(out, 0x1301);
	rf_buf_put_u8(out, 1);				/* compression */
	rf_buf_put_u8(out, 0);
	rf_buf_put(out, exts, extslen);
}

/* A server_name extension block with the given raw entries. */
static void
sni_exts(struct rf_buf *e, const void *entries, size_t len, int twice)
{
	int	 i;

	rf_buf_init(e, 0);
	rf_buf_put_u16(e, (uint16_t)((4 + 2 + len) * (twice ? 2 : 1)));
	for (i = 0; i < (twice ? 2 : 1); i++) {
		rf_buf_put_u16(e, 0);
		rf_buf_put_u16(e, (uint16_t)(2 + len));
		rf_buf_put_u16(e, (uint16_t)len);
		rf_buf_put(e, entries, len);
	}
}

/* A hello with the extensions block e (freed here), through sni(). */
static int
built_hello_sni(struct rf_buf *e, char *host)
{
	struct rf_buf	 h;
	size_t		 need;
	int		 r;

	build_hello(&h, rf_buf_ptr(e), rf_buf_len(e));
	r = sni(rf_buf_ptr(&h), rf_buf_len(&h), host, HOSTLEN, &need);
	rf_buf_free(e);
	rf_buf_free(&h);
	return r;
}

static int
built_sni(const void *entries, size_t len, int twice, char *host)
{
	struct rf_buf	 e;

	sni_exts(&e, entries, len, twice);
	return built_hello_sni(&e, host);
}

static void
test_built_hellos(void)
{
	static const unsigned char good[] = { 0, 0, 4, 'a', '.', 'b', 'c' };
	static const unsigned char two[] = { 0, 0, 1, 'a', 0, 0, 1, 'b' };
	static const unsigned char other[] = { 1, 0, 1, 'x', 0, 0, 1, 'b' };
	static const unsigned char nul[] = { 0, 0, 3, 'a', 0, 'b' };
	static const unsigned char empty[] = { 0, 0, 0 };
	static const unsigned char dots[] = { 0, 0, 3, 'a', '.', '.' };
	static const unsigned char trail[] = { 0, 0, 2, 'a', '.' };
	static const unsigned char torn[] = { 0, 0, 9, 'a' };
	static const unsigned char noexts[] = { 0 };
	static const unsigned char dup_ext[] = { 0, 20,
	    0, 0, 0, 6, 0, 4, 1, 0, 1, 'x',
	    0, 0, 0, 6, 0, 4, 0, 0, 1, 'b' };
	unsigned char		 long_name[3 + 64 + 4];
	char			 host[HOSTLEN];
	struct rf_buf		 h;
	size_t			 need;

	is_int(built_sni(good, sizeof(good), 0, host), 0, "built hello");
	is_str(host, "a.bc", "built host");
	is_int(built_sni(two, sizeof(two), 0, host), RF_ERR_PROTO,
	    "two host_names: PROTO");
	is_int(built_sni(good, sizeof(good), 1, host), RF_ERR_PROTO,
	    "two server_name extensions: PROTO");
	is_int(built_sni(other, sizeof(other), 0, host), 0,
	    "an unknown name type is skipped");
	is_str(host, "b", "the host_name after it");
	is_int(built_sni(nul, sizeof(nul), 0, host), RF_ERR_PROTO,
	    "NUL in the name: PROTO");
	is_int(built_sni(empty, sizeof(empty), 0, host), RF_ERR_PROTO,
	    "empty name: PROTO");
	is_int(built_sni(dots, sizeof(dots), 0, host), RF_ERR_PROTO,
	    "empty label: PROTO");
	is_int(built_sni(trail, sizeof(trail), 0, host), RF_ERR_PROTO,
	    "trailing dot: PROTO (RFC 6066)");
	is_int(built_sni(torn, sizeof(torn), 0, host), RF_ERR_PROTO,
	    "name length past the list: PROTO");
	is_int(built_sni(NULL, 0, 0, host), RF_ERR_PROTO,
	    "empty server_name list: PROTO");
	long_name[0] = 0;
	long_name[1] = 0;
	long_name[2] = 64 + 4;
	memset(long_name + 3, 'x', 64);
	memcpy(long_name + 3 + 64, ".net", 4);
	is_int(built_sni(long_name, sizeof(long_name), 0, host), RF_ERR_PROTO,
	    "a 64-character label: PROTO");
	long_name[2] = 63 + 4;
	memcpy(long_name + 3 + 63, ".net", 4);
	is_int(built_sni(long_name, sizeof(long_name) - 1, 0, host), 0,
	    "a 63-character label is fine");

	build_hello(&h, dup_ext, sizeof(dup_ext));
	is_int(sni(rf_buf_ptr(&h), rf_buf_len(&h), host, HOSTLEN, &need),
	    RF_ERR_PROTO, "a second server_name extension, even when the "
	    "first has no host_name: PROTO");
	rf_buf_free(&h);

	build_hello(&h, noexts, 0);
	is_int(sni(rf_buf_ptr(&h), rf_buf_len(&h), host, HOSTLEN, &need),
	    RF_ERR_NOTFOUND, "a hello without extensions: NOTFOUND");
	rf_buf_free(&h);
	build_hello(&h, noexts, 1);
	is_int(sni(rf_buf_ptr(&h), rf_buf_len(&h), host, HOSTLEN, &need),
	    RF_ERR_PROTO, "half an extensions length: PROTO");
	rf_buf_free(&h);
}

/*
 * Real hellos with ALPN: a browser's (h2 first), a TLS 1.2 one with h2
 * last behind "h2c", an agent's (only http/1.1), one without SNI.
 */
static void
test_real_alpn(void)
{
	static struct hello	 br, h12, agent, nosni;
	char			 host[HOSTLEN];
	size_t			 need;

	ok(make_hello(&br, "tls13-alpn-h2", "localhost", 0, NULL, 0,
	    "\x02h2\x08http/1.1") == 0, "a browser's hello: h2, http/1.1");
	ok(make_hello(&h12, "tls12-alpn-h2", "localhost", TLS1_2_VERSION,
	    NULL, 0, "\x03h2c\x08http/1.1\x02h2") == 0,
	    "a TLS 1.2 hello: h2c, http/1.1, h2");
	ok(make_hello(&agent, "tls13-alpn-http11", "localhost", 0, NULL, 0,
	    "\x08http/1.1") == 0, "an agent's hello: only http/1.1");
	ok(make_hello(&nosni, "tls13-alpn-nosni", NULL, 0, NULL, 0,
	    "\x02h2") == 0, "a hello with h2 and no SNI");

	is_int(sni(br.b, br.len, host, sizeof(host), &need), 0,
	    "browser's hello: SNI found");
	is_str(host, "localhost", "  host");
	is_int(last_h2, 1, "  offers h2");
	is_int(sni(h12.b, h12.len, host, sizeof(host), &need), 0,
	    "TLS 1.2 hello with ALPN: SNI found");
	is_int(last_h2, 1, "  offers h2, the last of three");
	is_int(sni(agent.b, agent.len, host, sizeof(host), &need), 0,
	    "agent's hello: SNI found");
	is_int(last_h2, 0, "  does not offer h2");
	is_int(sni(nosni.b, nosni.len, host, sizeof(host), &need),
	    RF_ERR_NOTFOUND, "h2 without SNI: NOTFOUND");
	is_int(last_h2, 1, "  but offers h2");
	is_int(sni(br.b, br.len, host, 9, &need), RF_ERR_PROTO,
	    "browser's hello, host too long for the buffer: PROTO");
	is_int(last_h2, 0, "  and not h2");

	check_truncations(&br);
	check_truncations(&h12);

	dump_hello(&br);
	dump_hello(&h12);
	dump_hello(&agent);
}

/*
 * A built hello with server_name "a.bc" (if with_sni) and then an ALPN
 * extension whose body is the given bytes; PAD_EXT_TYPE with no body
 * after it if pad, so that ALPN is not the last extension.
 */
static int
built_alpn(const void *body, size_t len, int with_sni, char *host)
{
	static const unsigned char sni_ext[] = { 0, 0, 0, 9, 0, 7,
	    0, 0, 4, 'a', '.', 'b', 'c' };
	struct rf_buf	 e;

	rf_buf_init(&e, 0);
	rf_buf_put_u16(&e, (uint16_t)((with_sni ? sizeof(sni_ext) : 0) +
	    4 + len + 4));
	if (with_sni)
		rf_buf_put(&e, sni_ext, sizeof(sni_ext));
	rf_buf_put_u16(&e, 16);
	rf_buf_put_u16(&e, (uint16_t)len);
	rf_buf_put(&e, body, len);
	rf_buf_put_u16(&e, PAD_EXT_TYPE);
	rf_buf_put_u16(&e, 0);
	return built_hello_sni(&e, host);
}

static void
alpn_ok(const unsigned char *body, size_t len, int want, const char *name)
{
	char	 host[HOSTLEN];

	if (is_int(built_alpn(body, len, 1, host), 0, name)) {
		is_str(host, "a.bc", "  host");
		is_int(last_h2, want, want ? "  offers h2" : "  not h2");
	}
}

static void
alpn_bad(const unsigned char *body, size_t len, const char *name)
{
	char	 host[HOSTLEN];

	is_int(built_alpn(body, len, 1, host), RF_ERR_PROTO, name);
	ok(host[0] == '\0' && last_h2 == 0, "  host cleared, not h2");
}

static void
test_built_alpn(void)
{
	static const unsigned char several[] = { 0, 16, 3, 'h', '2', 'c',
	    8, 'h', 't', 't', 'p', '/', '1', '.', '1', 2, 'h', '2' };
	static const unsigned char http11[] = { 0, 9,
	    8, 'h', 't', 't', 'p', '/', '1', '.', '1' };
	static const unsigned char h2[] = { 0, 3, 2, 'h', '2' };
	static const unsigned char h2c[] = { 0, 4, 3, 'h', '2', 'c' };
	static const unsigned char h2x[] = { 0, 4, 3, 'h', '2', 'x' };
	static const unsigned char upper[] = { 0, 3, 2, 'H', '2' };
	static const unsigned char h[] = { 0, 2, 1, 'h' };
	static const unsigned char list_over[] = { 0, 4, 2, 'h', '2' };
	static const unsigned char list_short[] = { 0, 3, 2, 'h', '2', 0 };
	static const unsigned char name_over[] = { 0, 3, 3, 'h', '2' };
	static const unsigned char name_past[] = { 0, 5, 2, 'h', '2',
	    9, 'x' };
	static const unsigned char empty_name[] = { 0, 4, 2, 'h', '2', 0 };
	static const unsigned char empty_list[] = { 0, 0 };
	static const unsigned char one[] = { 0 };
	/* ALPN h2, then an extension whose length runs past the block. */
	static const unsigned char torn_after[] = { 0, 15,
	    0, 16, 0, 5, 0, 3, 2, 'h', '2',
	    0x7a, 0x7a, 0, 9, 'x', 'x' };
	static const unsigned char two_alpn[] = { 0, 18,
	    0, 16, 0, 5, 0, 3, 2, 'h', '2',
	    0, 16, 0, 5, 0, 3, 2, 'h', '2' };
	static const unsigned char alpn_torn[] = { 0, 9,
	    0, 16, 0, 9, 0, 7, 2, 'h', '2' };
	char			 host[HOSTLEN];
	struct rf_buf		 hb;
	size_t			 need;

	alpn_ok(several, sizeof(several), 1, "ALPN h2c, http/1.1, h2");
	alpn_ok(http11, sizeof(http11), 0, "ALPN http/1.1 only");
	alpn_ok(h2, sizeof(h2), 1, "ALPN h2 only");
	alpn_ok(h2c, sizeof(h2c), 0, "ALPN h2c: not h2");
	alpn_ok(h2x, sizeof(h2x), 0, "ALPN h2x: not h2");
	alpn_ok(upper, sizeof(upper), 0, "ALPN H2: not h2 (names are bytes)");
	alpn_ok(h, sizeof(h), 0, "ALPN h: not h2");

	alpn_bad(list_over, sizeof(list_over),
	    "ALPN list length past the extension: PROTO");
	alpn_bad(list_short, sizeof(list_short),
	    "ALPN list length short of the extension: PROTO");
	alpn_bad(name_over, sizeof(name_over),
	    "ALPN name length past the list: PROTO");
	alpn_bad(name_past, sizeof(name_past),
	    "h2, then a name length past the list: PROTO");
	alpn_bad(empty_name, sizeof(empty_name),
	    "h2, then an empty name: PROTO");
	alpn_bad(empty_list, sizeof(empty_list), "empty ALPN list: PROTO");
	alpn_bad(one, sizeof(one), "ALPN of one byte: PROTO");
	alpn_bad(NULL, 0, "ALPN without a body: PROTO");

	is_int(built_alpn(h2, sizeof(h2), 0, host), RF_ERR_NOTFOUND,
	    "h2 without SNI: NOTFOUND");
	is_int(last_h2, 1, "  but offers h2");
	is_int(built_alpn(http11, sizeof(http11), 0, host), RF_ERR_NOTFOUND,
	    "http/1.1 without SNI: NOTFOUND");
	is_int(last_h2, 0, "  not h2");
	is_int(built_alpn(h2c, 3, 0, host), RF_ERR_PROTO,
	    "ALPN body cut short, without SNI: PROTO");
	is_int(last_h2, 0, "  not h2");

	build_hello(&hb, torn_after, sizeof(torn_after));
	is_int(sni(rf_buf_ptr(&hb), rf_buf_len(&hb), host, HOSTLEN, &need),
	    RF_ERR_PROTO, "h2, then a torn extension: PROTO");
	is_int(last_h2, 0, "  not h2");
	rf_buf_free(&hb);
	build_hello(&hb, two_alpn, sizeof(two_alpn));
	is_int(sni(rf_buf_ptr(&hb), rf_buf_len(&hb), host, HOSTLEN, &need),
	    RF_ERR_PROTO, "two ALPN extensions: PROTO");
	is_int(last_h2, 0, "  not h2");
	rf_buf_free(&hb);
	build_hello(&hb, alpn_torn, sizeof(alpn_torn));
	is_int(sni(rf_buf_ptr(&hb), rf_buf_len(&hb), host, HOSTLEN, &need),
	    RF_ERR_PROTO, "ALPN extension length past the block: PROTO");
	is_int(last_h2, 0, "  not h2");
	rf_buf_free(&hb);
}

static void
test_tls_bad(void)
{
	static const unsigned char not_hs[] = { 0x17, 0x03, 0x03, 0, 5 };
	static const unsigned char v2[] = { 0x16, 0x02 };
	static const unsigned char v5[] = { 0x16, 0x03, 0x05 };
	static const unsigned char huge[] = { 0x16, 0x03, 0x01, 0x40, 0x01 };
	static const unsigned char max[] = { 0x16, 0x03, 0x01, 0x40, 0x00 };
	static const unsigned char zero[] = { 0x16, 0x03, 0x01, 0, 0 };
	static const unsigned char sh[] = { 0x16, 0x03, 0x03, 0, 80, 2 };
	static const unsigned char get[] = "GET / HTTP/1.1\r\n";
	char			 host[HOSTLEN];
	size_t			 need;

	is_int(sni(not_hs, 1, host, HOSTLEN, &need), RF_ERR_PROTO,
	    "first byte not 0x16: PROTO at once");
	is_int(sni(get, 3, host, HOSTLEN, &need), RF_ERR_PROTO,
	    "HTTP is not TLS");
	is_int(sni(v2, sizeof(v2), host, HOSTLEN, &need), RF_ERR_PROTO,
	    "0x16 0x02: PROTO");
	is_int(sni(v5, sizeof(v5), host, HOSTLEN, &need), RF_ERR_PROTO,
	    "record version 0x0305: PROTO");
	is_int(sni(v5, 1, host, HOSTLEN, &need), RF_ERR_SHORT,
	    "one byte 0x16: SHORT");
	is_int(need, 5, "need the record header");
	is_int(sni(huge, sizeof(huge), host, HOSTLEN, &need), RF_ERR_PROTO,
	    "record of 2^14 + 1: PROTO");
	is_int(sni(max, sizeof(max), host, HOSTLEN, &need), RF_ERR_SHORT,
	    "record of 2^14: SHORT");
	is_int(need, 5 + 16384, "need 5 + 2^14");
	ok(need <= RF_PEEK_TLS_MAX, "within RF_PEEK_TLS_MAX");
	is_int(sni(zero, sizeof(zero), host, HOSTLEN, &need), RF_ERR_PROTO,
	    "empty record: PROTO");
	is_int(sni(sh, sizeof(sh), host, HOSTLEN, &need), RF_ERR_PROTO,
	    "handshake type 2 (ServerHello): PROTO before the record is in");

	ok(!rf_peek_is_tls(get, 3), "is_tls: GET");
	ok(!rf_peek_is_tls(get, 0), "is_tls: nothing");
	ok(rf_peek_is_tls(v2, 1), "is_tls: a lone 0x16");
	ok(!rf_peek_is_tls(v2, 2), "is_tls: 0x16 0x02");
	ok(!rf_peek_is_tls(not_hs, 2), "is_tls: application data record");
}

static int
http(const char *head, size_t max, char *host, size_t hostlen)
{
	size_t		 len = strlen(head);
	unsigned char	*q;
	int		 r;

	if ((q = malloc(len == 0 ? 1 : len)) == NULL)
		abort();
	memcpy(q, head, len);
	r = rf_peek_http_host(q, len, max, host, hostlen);
	free(q);
	return r;
}

static void
http_ok(const char *head, const char *want, const char *name)
{
	char	 host[HOSTLEN];

	if (is_int(http(head, 8192, host, sizeof(host)), 0, name))
		is_str(host, want, "  host");
}

static void
http_bad(const char *head, int want, const char *name)
{
	char	 host[HOSTLEN];

	memset(host, 'x', sizeof(host));
	is_int(http(head, 8192, host, sizeof(host)), want, name);
	ok(host[0] == '\0', "  host cleared");
}

static void
test_http(void)
{
	static const char normal[] = "GET /index.html HTTP/1.1\r\n"
	    "Host: Dev1.Example.NET\r\nUser-Agent: test\r\n"
	    "Accept: */*\r\n\r\n";
	char	 host[HOSTLEN], big[600];
	size_t	 k, bad = 0;
	int	 r;

	http_ok(normal, "dev1.example.net", "normal head, lowercased");
	http_ok("GET / HTTP/1.0\nhost: dev1.localhost\n\n", "dev1.localhost",
	    "LF-only line ends, lower-case name, HTTP/1.0");
	http_ok("POST / HTTP/1.1\r\nX: 1\nHOST:dev1.localhost\r\n\n",
	    "dev1.localhost", "mixed line ends, HOST, no space");
	http_ok("GET / HTTP/1.1\r\nHost: \t dev1.localhost \t\r\n\r\n",
	    "dev1.localhost", "spaces and tabs trimmed");
	http_ok("GET / HTTP/1.1\r\nHost: dev1.localhost:8080\r\n\r\n",
	    "dev1.localhost", "port stripped");
	http_ok("GET / HTTP/1.1\r\nHost: dev1.localhost:\r\n\r\n",
	    "dev1.localhost", "empty port (RFC 3986)");
	http_ok("GET / HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n", "127.0.0.1",
	    "IPv4 and port");
	http_ok("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", "[::1]",
	    "IPv6 literal with port");
	http_ok("GET / HTTP/1.1\r\nHost: [2001:DB8::1]\r\n\r\n",
	    "[2001:db8::1]", "IPv6 literal, lowercased");
	http_ok("GET / HTTP/1.1\r\nHost: dev1.example.net.\r\n\r\n",
	    "dev1.example.net", "trailing dot of an absolute name dropped");
	http_ok("CONNECT dev1.localhost:22 HTTP/1.1\r\n"
	    "Host: dev1.localhost:22\r\n\r\n", "dev1.localhost",
	    "CONNECT with an authority target");
	http_ok("GET / HTTP/1.1\r\nHostile: a\r\nHos: b\r\nX-Host: c\r\n"
	    "Host: real.localhost\r\n\r\n", "real.localhost",
	    "only the header named exactly Host counts");

	for (k = 0; k + 1 < sizeof(normal) - 1; k++) {
		r = rf_peek_http_host(normal, k, 8192, host, sizeof(host));
		if (r != RF_ERR_SHORT && bad++ == 0)
			diag("cut to %zu: %d", k, r);
	}
	ok(bad == 0, "every prefix of the head is SHORT");
	is_int(rf_peek_http_host(normal, sizeof(normal) - 1, 20, host,
	    sizeof(host)), RF_ERR_LIMIT, "head longer than max: LIMIT");
	is_int(rf_peek_http_host(normal, 20, 20, host, sizeof(host)),
	    RF_ERR_LIMIT, "len == max without an end: LIMIT");
	is_int(rf_peek_http_host(normal, sizeof(normal) - 1,
	    sizeof(normal) - 1, host, sizeof(host)), 0,
	    "head of exactly max bytes: found");
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /", 5);
	is_int(rf_peek_http_host(big, sizeof(big), 512, host, sizeof(host)),
	    RF_ERR_LIMIT, "a 600-byte target with max 512: LIMIT");
	is_int(rf_peek_http_host(normal, sizeof(normal) - 1, 8192, host, 17),
	    0, "16 characters fit 17 bytes");
	is_int(rf_peek_http_host(normal, sizeof(normal) - 1, 8192, host, 16),
	    RF_ERR_PROTO, "but not 16");

	http_bad("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", RF_ERR_NOTFOUND,
	    "no Host: NOTFOUND");
	http_bad("GET / HTTP/1.1\r\nHost: a.localhost\r\nHost: b.localhost"
	    "\r\n\r\n", RF_ERR_PROTO, "two Hosts: PROTO");
	http_bad("GET / HTTP/1.1\r\nHost: a.localhost\r\nhost: a.localhost"
	    "\r\n\r\n", RF_ERR_PROTO, "two equal Hosts: PROTO");
	http_bad("\x16\x03\x01\x02\x00\x01", RF_ERR_PROTO, "TLS bytes: PROTO");
	http_bad("\x01\x02\x03", RF_ERR_PROTO, "binary junk: PROTO");
	http_bad("GET / FTP", RF_ERR_PROTO,
	    "bad version before the line ends: PROTO, not SHORT");
	http_bad("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", RF_ERR_PROTO,
	    "HTTP/2 preface: PROTO");
	http_bad("GET  / HTTP/1.1\r\n\r\n", RF_ERR_PROTO, "two spaces: PROTO");
	http_bad("GET / HTTP/1.1\r\r\n\r\n", RF_ERR_PROTO, "CR CR: PROTO");
	http_bad("GET / HTTP/1.1\r\nNoColon\r\n\r\n", RF_ERR_PROTO,
	    "header line without a colon: PROTO");
	http_bad("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", RF_ERR_PROTO,
	    "space in a header name: PROTO");
	http_bad("GET / HTTP/1.1\r\nX: a\r\n b\r\nHost: a.localhost\r\n\r\n",
	    RF_ERR_PROTO, "folded header line: PROTO");
	http_bad("GET / HTTP/1.1\r\nHost: a.local\x01host\r\n\r\n",
	    RF_ERR_PROTO, "control byte in a value: PROTO");
	http_bad("GET / HTTP/1.1\r\nHost: \r\n\r\n", RF_ERR_PROTO,
	    "empty Host: PROTO");
	http_bad("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", RF_ERR_PROTO,
	    "space inside Host: PROTO");
	http_bad("GET / HTTP/1.1\r\nHost: a_b.localhost\r\n\r\n",
	    RF_ERR_PROTO, "underscore in Host: PROTO");
	http_bad("GET / HTTP/1.1\r\nHost: a.localhost:99999\r\n\r\n",
	    RF_ERR_PROTO, "port 99999: PROTO");
	http_bad("GET / HTTP/1.1\r\nHost: a.localhost:8o\r\n\r\n",
	    RF_ERR_PROTO, "port with a letter: PROTO");
	http_bad("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", RF_ERR_PROTO,
	    "unclosed IPv6 literal: PROTO");
	http_bad("GET / HTTP/1.1\r\nHost: [zz::1]\r\n\r\n", RF_ERR_PROTO,
	    "bad IPv6 literal: PROTO");
	http_bad("GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", RF_ERR_PROTO,
	    "bytes after the IPv6 literal: PROTO");
	http_bad("GET / HTTP/1.1\r\nHost: a..localhost\r\n\r\n",
	    RF_ERR_PROTO, "empty label in Host: PROTO");
	http_bad("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", RF_ERR_PROTO,
	    "leading empty line: PROTO");
	http_bad("", RF_ERR_SHORT, "nothing yet: SHORT");
}

static void
dev_ok(const char *host, const char *domain, const char *want)
{
	char	 dev[64];

	memset(dev, 'x', sizeof(dev));
	if (is_int(rf_host_device(host, domain, dev, sizeof(dev)), 1, host))
		is_str(dev, want, "  device id");
}

static void
dev_bad(const char *host, const char *domain, size_t devlen)
{
	char	 dev[64];

	memset(dev, 'x', sizeof(dev));
	is_int(rf_host_device(host, domain, dev, devlen), 0, host);
	if (devlen > 0)
		ok(dev[0] == '\0', "  dev cleared");
}

static void
test_host_device(void)
{
	char	 h[128], want[64];

	dev_ok("dev1.example.net", "example.net", "dev1");
	dev_ok("dev1.example.net", "Example.NET", "dev1");
	dev_ok("a-b-9.localhost", "localhost", "a-b-9");
	dev_ok("0.localhost", "localhost", "0");
	memset(h, 'd', 63);
	strcpy(h + 63, ".localhost");
	memset(want, 'd', 63);
	want[63] = '\0';
	dev_ok(h, "localhost", want);
	dev_bad(h, "localhost", 63);
	memset(h, 'd', 64);
	strcpy(h + 64, ".localhost");
	dev_bad(h, "localhost", 64);

	dev_bad("example.net", "example.net", 64);
	dev_bad(".example.net", "example.net", 64);
	dev_bad("a.b.example.net", "example.net", 64);
	dev_bad("-dev.example.net", "example.net", 64);
	dev_bad("dev-.example.net", "example.net", 64);
	dev_bad("dev_1.example.net", "example.net", 64);
	dev_bad("dev1.example.netx", "example.net", 64);
	dev_bad("dev1.xexample.net", "example.net", 64);
	dev_bad("dev1example.net", "example.net", 64);
	dev_bad("dev1.example.net", "", 64);
	dev_bad("[::1]", "example.net", 64);
	dev_bad("dev1.example.net", "example.net", 4);
	dev_bad("dev1.example.net", "example.net", 0);
}

int
main(void)
{
	test_real_hellos();
	test_built_hellos();
	test_real_alpn();
	test_built_alpn();
	test_tls_bad();
	ok(bad_h2 == 0, "offers_h2 is 0 or 1, and 0 but for a valid hello, "
	    "in all %zu calls", calls);
	test_http();
	test_host_device();
	return done_testing();
}
