/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for common/peek.c: the input is the first bytes of a
 * connection, given to the TLS SNI and HTTP Host parsers, and their
 * results (and the input itself) to rf_host_device.  Beyond surviving: a
 * returned host is non-empty, lowercase and NUL-terminated inside its
 * buffer; an SNI host is only [a-z0-9.-] in labels of 1-63; SHORT asks
 * for more than is there and never more than RF_PEEK_TLS_MAX; every
 * failure leaves the output empty; the h2 flag is 0 or 1, and 1 only for
 * a valid hello (0 or NOTFOUND) whose bytes hold the name "\x02h2"; a
 * device id is a valid label that, with a dot and the domain, gives back
 * the host.  The output buffers are heap blocks of exactly their size, so
 * ASan sees a write past them.  Build and replay: see fuzz-main.c.
 */
#define _GNU_SOURCE	/* memmem */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "fuzz.h"
#include "peek.h"

#define HTTP_MAX	4096

/* A valid DNS host name, as peek.c promises, lowercase. */
static void
check_dns(const char *h)
{
	size_t	 i, label = 0;

	FUZZ_CHECK(h[0] != '\0' && strlen(h) <= 253);
	for (i = 0; h[i] != '\0'; i++) {
		if (h[i] == '.') {
			FUZZ_CHECK(label > 0);
			label = 0;
			continue;
		}
		FUZZ_CHECK((h[i] >= 'a' && h[i] <= 'z') ||
		    (h[i] >= '0' && h[i] <= '9') || h[i] == '-');
		FUZZ_CHECK(++label <= 63);
	}
	FUZZ_CHECK(label > 0);
}

static void
check_device(const char *host, const char *domain)
{
	char	*dev;
	size_t	 n, i;

	if ((dev = malloc(64)) == NULL)
		return;
	if (rf_host_device(host, domain, dev, 64) == 0) {
		FUZZ_CHECK(dev[0] == '\0');
		free(dev);
		return;
	}
	n = strlen(dev);
	FUZZ_CHECK(n >= 1 && n <= 63);
	FUZZ_CHECK(dev[0] != '-' && dev[n - 1] != '-');
	for (i = 0; i < n; i++)
		FUZZ_CHECK((dev[i] >= 'a' && dev[i] <= 'z') ||
		    (dev[i] >= '0' && dev[i] <= '9') || dev[i] == '-');
	FUZZ_CHECK(strncasecmp(host, dev, n) == 0 && host[n] == '.');
	FUZZ_CHECK(strcasecmp(host + n + 1, domain) == 0);
	free(dev);
}

/* Both the fixed domain and the host's own parent domain. */
static void
check_devices(const char *host)
{
	const char	*dot = strchr(host, '.');

	check_device(host, "example.net");
	if (dot != NULL && dot[1] != '\0')
		check_device(host, dot + 1);
}

static void
check_sni(const uint8_t *data, size_t size, size_t hostlen)
{
	char	*host;
	size_t	 need = 12345;
	int	 r, h2 = 12345;

	if ((host = malloc(hostlen)) == NULL)
		return;
	r = rf_peek_tls_sni(data, size, host, hostlen, &h2, &need);
	FUZZ_CHECK(h2 == 0 || h2 == 1);
	if (h2)
		FUZZ_CHECK((r == 0 || r == RF_ERR_NOTFOUND) &&
		    memmem(data, size, "\x02h2", 3) != NULL);
	if (r == 0 || r == RF_ERR_SHORT)
		FUZZ_CHECK(size == 0 || rf_peek_is_tls(data, size));
	if (r == RF_ERR_SHORT) {
		FUZZ_CHECK(need == 5 ? size < 5 : need > size && size >= 5);
		FUZZ_CHECK(need <= RF_PEEK_TLS_MAX);
	} else
		FUZZ_CHECK(need == 0);
	if (r != 0) {
		FUZZ_CHECK(r == RF_ERR_SHORT || r == RF_ERR_PROTO ||
		    r == RF_ERR_NOTFOUND);
		FUZZ_CHECK(host[0] == '\0');
		free(host);
		return;
	}
	FUZZ_CHECK(strlen(host) < hostlen);
	check_dns(host);
	check_devices(host);
	free(host);
}

static void
check_http_host(const char *h)
{
	size_t	 i, n = strlen(h);

	FUZZ_CHECK(n > 0);
	if (h[0] != '[') {
		check_dns(h);
		return;
	}
	FUZZ_CHECK(n >= 4 && h[n - 1] == ']');
	for (i = 1; i + 1 < n; i++)
		FUZZ_CHECK((h[i] >= 'a' && h[i] <= 'f') ||
		    (h[i] >= '0' && h[i] <= '9') || h[i] == ':' || h[i] == '.');
}

static void
check_http(const uint8_t *data, size_t size, size_t hostlen)
{
	char	*host, again[256];
	int	 r;

	if ((host = malloc(hostlen)) == NULL)
		return;
	r = rf_peek_http_host(data, size, HTTP_MAX, host, hostlen);
	if (r == RF_ERR_SHORT)
		FUZZ_CHECK(size < HTTP_MAX);
	if (r == RF_ERR_LIMIT)
		FUZZ_CHECK(size >= HTTP_MAX);
	if (r != 0) {
		FUZZ_CHECK(r == RF_ERR_SHORT || r == RF_ERR_LIMIT ||
		    r == RF_ERR_PROTO || r == RF_ERR_NOTFOUND);
		FUZZ_CHECK(host[0] == '\0');
		free(host);
		return;
	}
	FUZZ_CHECK(strlen(host) < hostlen);
	check_http_host(host);
	/* Once the head has ended, a larger max changes nothing. */
	FUZZ_CHECK(rf_peek_http_host(data, size, HTTP_MAX * 2, again,
	    sizeof(again)) == 0 && strcmp(again, host) == 0);
	check_devices(host);
	free(host);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s;

	check_sni(data, size, 256);
	check_sni(data, size, 8);
	check_http(data, size, 256);
	check_http(data, size, 8);

	/* Arbitrary bytes as a host name: rf_host_device must cope. */
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_devices(s);
	free(s);
	return 0;
}
