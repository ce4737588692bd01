/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ws-client: a WebSocket client for the end-to-end tests (curl on Debian
 * 12 cannot speak WebSocket).  Not part of the product.  It connects (TLS
 * verified against a CA file, with SNI, or plain with -P), upgrades PATH,
 * checks Sec-WebSocket-Accept, then sends a text message, a binary
 * message of SIZE random bytes and a PING, and expects each back as the
 * device-httpd echo sends it, then closes.  Exit 0 when all came back.
 *
 *   ws-client [-P] [-c cafile] [-H 'Name: value']... [-s size]
 *       -a addr -p port -n host path
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>

#define WS_GUID	"258EAFA5-E914-47DA-95CA-C5AB0DC11B65"

static SSL	*ssl;
static int	 sock = -1;

static void
fail(const char *what)
{
	fprintf(stderr, "ws-client: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static void
put(const void *p, size_t n)
{
	const unsigned char	*b = p;
	int			 w;

	while (n > 0) {
		w = ssl ? SSL_write(ssl, b, (int)n) : (int)write(sock, b, n);
		if (w <= 0)
			fail("write failed");
		b += w;
		n -= (size_t)w;
	}
}

static void
get(void *p, size_t n)
{
	unsigned char	*b = p;
	int		 r;

	while (n > 0) {
		r = ssl ? SSL_read(ssl, b, (int)n) : (int)read(sock, b, n);
		if (r <= 0)
			fail("connection closed early");
		b += r;
		n -= (size_t)r;
	}
}

static void
send_frame(int op, const unsigned char *p, size_t n)
{
	unsigned char	 h[14], mask[4], *m;
	size_t		 hl = 2, i;

	h[0] = (unsigned char)(0x80 | op);
	if (n < 126)
		h[1] = (unsigned char)(0x80 | n);
	else if (n < 65536) {
		h[1] = 0x80 | 126;
		h[2] = (unsigned char)(n >> 8);
		h[3] = (unsigned char)n;
		hl = 4;
	} else
		fail("frame too large for this client");
	RAND_bytes(mask, 4);
	memcpy(h + hl, mask, 4);
	hl += 4;
	if ((m = malloc(n + 1)) == NULL)
		fail("malloc");
	for (i = 0; i < n; i++)
		m[i] = p[i] ^ mask[i % 4];
	put(h, hl);
	put(m, n);
	free(m);
}

/* Reads one frame; *op gets its opcode; returns the payload (malloc'ed). */
static unsigned char *
recv_frame(int *op, size_t *n)
{
	unsigned char	 h[8], *p;
	uint64_t	 len;
	int		 i;

	get(h, 2);
	if (h[1] & 0x80)
		fail("the server masked a frame");
	*op = h[0] & 0x0f;
	len = h[1] & 0x7f;
	if (len == 126) {
		get(h, 2);
		len = (uint64_t)h[0] << 8 | h[1];
	} else if (len == 127) {
		get(h, 8);
		for (len = 0, i = 0; i < 8; i++)
			len = len << 8 | h[i];
	}
	if (len > 16 * 1024 * 1024 || (p = malloc(len + 1)) == NULL)
		fail("frame too large");
	get(p, (size_t)len);
	*n = (size_t)len;
	return p;
}

static void
echo(int op, const unsigned char *p, size_t n, const char *name)
{
	unsigned char	*r;
	size_t		 rn;
	int		 rop;

	send_frame(op, p, n);
	r = recv_frame(&rop, &rn);
	if (rop != (op == 9 ? 10 : op) || rn != n || memcmp(r, p, n) != 0) {
		fprintf(stderr, "ws-client: %s: op %d, %zu bytes back\n", name,
		    rop, rn);
		exit(1);
	}
	printf("echo %s %zu ok\n", name, n);
	free(r);
}

int
main(int argc, char **argv)
{
	const char		*addr = "127.0.0.1", *host = NULL, *ca = NULL;
	const char		*hdrs[16];
	struct sockaddr_in	 sin;
	unsigned char		 key[16], md[SHA_DIGEST_LENGTH], *big;
	char			 k64[32], want[64], req[8192], head[8192], *e;
	size_t			 size = 60000, nh = 0, i, hl = 0;
	int			 ch, port = 0, plain = 0, op;
	SSL_CTX			*ctx;

	while ((ch = getopt(argc, argv, "a:c:H:n:p:Ps:")) != -1) {
		switch (ch) {
		case 'a': addr = optarg; break;
		case 'c': ca = optarg; break;
		case 'H':
			if (nh < 16)
				hdrs[nh++] = optarg;
			break;
		case 'n': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'P': plain = 1; break;
		case 's': size = strtoul(optarg, NULL, 10); break;
		default:
			goto usage;
		}
	}
	if (optind + 1 != argc || host == NULL || port <= 0 || size > 65000)
		goto usage;
	if ((sock = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		fail("socket");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1 ||
	    connect(sock, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		fail("cannot connect");
	if (!plain) {
		if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
			fail("SSL_CTX_new");
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		if (ca == NULL || SSL_CTX_load_verify_locations(ctx, ca,
		    NULL) != 1)
			fail("cannot load the CA file");
		ssl = SSL_new(ctx);
		SSL_set_tlsext_host_name(ssl, host);
		SSL_set1_host(ssl, host);
		SSL_set_fd(ssl, sock);
		if (SSL_connect(ssl) != 1)
			fail("TLS handshake failed");
	}
	RAND_bytes(key, sizeof(key));
	EVP_EncodeBlock((unsigned char *)k64, key, sizeof(key));
	i = (size_t)snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n"
	    "Host: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n",
	    argv[optind], host, port, k64);
	for (ch = 0; ch < (int)nh && i < sizeof(req); ch++)
		i += (size_t)snprintf(req + i, sizeof(req) - i, "%s\r\n",
		    hdrs[ch]);
	if (i + 3 > sizeof(req))
		fail("request too long");
	memcpy(req + i, "\r\n", 3);
	put(req, strlen(req));
	/* The head, a byte at a time: nothing of the frames is read. */
	while (hl < 4 || memcmp(head + hl - 4, "\r\n\r\n", 4) != 0) {
		if (hl + 1 >= sizeof(head))
			fail("response head too long");
		get(head + hl++, 1);
	}
	head[hl] = '\0';
	if (strncmp(head, "HTTP/1.1 101 ", 13) != 0) {
		fprintf(stderr, "ws-client: no 101:\n%s", head);
		return 1;
	}
	snprintf(req, sizeof(req), "%s%s", k64, WS_GUID);
	SHA1((unsigned char *)req, strlen(req), md);
	EVP_EncodeBlock((unsigned char *)want, md, sizeof(md));
	if ((e = strcasestr(head, "\r\nSec-WebSocket-Accept: ")) == NULL ||
	    strncmp(e + 24, want, strlen(want)) != 0)
		fail("bad Sec-WebSocket-Accept");
	printf("upgraded\n");
	echo(1, (const unsigned char *)"hello reflector", 15, "text");
	if ((big = malloc(size + 1)) == NULL)
		fail("malloc");
	RAND_bytes(big, (int)size);
	echo(2, big, size, "binary");
	free(big);
	echo(9, (const unsigned char *)"ping", 4, "ping");
	send_frame(8, (const unsigned char *)"\x03\xe8", 2);
	free(recv_frame(&op, &i));
	if (op != 8)
		fail("no CLOSE back");
	printf("closed\n");
	return 0;
usage:
	fprintf(stderr, "usage: ws-client [-P] [-c cafile] [-H header]... "
	    "[-s size] -a addr -p port -n host path\n");
	return 2;
}
