/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * device-httpd: the web server of a test device, for the end-to-end tests
 * (t/4001-browser.t).  Not part of the product.  One process, poll(), any
 * number of keep-alive connections, nothing held whole:
 *
 *   GET /<file>     a file under DIR, with Content-Length, streamed
 *   POST /upload    reads a body of any size (Content-Length or chunked)
 *                   and answers "<sha256 hex> <bytes>\n"
 *   GET /headers    answers the request head it received, as text/plain
 *   GET /ws         WebSocket echo (RFC 6455): text and binary frames come
 *                   back unmasked, PING gets PONG, CLOSE gets CLOSE
 *   GET /hits/<t>   how many requests for the target <t> ("/style.css",
 *                   query included) came in, as "<n>\n", with no-store:
 *                   the tests of the reflector's cache count with it
 *
 * A file F with a file F.hdr beside it gets the lines of F.hdr as header
 * fields ("Cache-Control: max-age=60", "ETag: \"v1\""); if one is an
 * ETag and the request's If-None-Match names it, the answer is a 304
 * with those fields and no body.
 *
 * Every request head is appended to LOGFILE, followed by a line "--".
 *
 *   device-httpd -p PORT -d DIR -l LOGFILE
 *
 * It prints "listening PORT" on stdout once it accepts connections.
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#define MAXCONN		256
#define INBUF		(64 * 1024)
#define OUT_HIGH	(256 * 1024)
#define HEAD_MAX	(32 * 1024)
#define WS_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC11B65"

enum cstate {
	C_HEAD = 0,	/* reading a request head */
	C_BODY,		/* reading an upload's body */
	C_FILE,		/* sending a file */
	C_WS,		/* WebSocket frames */
	C_CLOSE,	/* sending what is queued, then closing */
};

enum chstate { CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF,
    CH_TRAILER, CH_TRAILER_LF, CH_TRAILER_LINE, CH_END };

struct conn {
	int		 fd;
	enum cstate	 st;
	unsigned char	 in[INBUF];
	size_t		 inlen;
	unsigned char	*out;
	size_t		 outlen, outcap;
	int		 keep;
	/* upload */
	int		 chunked;
	uint64_t	 left;		/* Content-Length or chunk bytes left */
	enum chstate	 ch;
	int		 ch_line_start;
	uint64_t	 total;
	EVP_MD_CTX	*md;
	/* file */
	int		 file;
	uint64_t	 file_left;
};

#define HITS_MAX	256
static struct {
	char		 target[256];
	unsigned long	 n;
} hits[HITS_MAX];

static struct conn	*conns[MAXCONN];
static FILE		*logfp;
static const char	*docroot;

static void	upload_done(struct conn *);

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static void
out_put(struct conn *c, const void *p, size_t n)
{
	if (c->outlen + n > c->outcap) {
		size_t cap = c->outcap ? c->outcap : 4096;

		while (cap < c->outlen + n)
			cap *= 2;
		if ((c->out = realloc(c->out, cap)) == NULL)
			die("realloc");
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, p, n);
	c->outlen += n;
}

static void
out_printf(struct conn *c, const char *fmt, ...)
{
	char	 buf[8192];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		out_put(c, buf, (size_t)n < sizeof(buf) ? (size_t)n :
		    sizeof(buf) - 1);
}

static void
respond(struct conn *c, int status, const char *reason, const char *type,
    const void *body, size_t len)
{
	out_printf(c, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\n%s\r\n", status, reason, type, len,
	    c->keep ? "" : "Connection: close\r\n");
	out_put(c, body, len);
	c->st = c->keep ? C_HEAD : C_CLOSE;
}

/* The value of header name in head (NUL-terminated, lines end CRLF). */
static int
header(const char *head, const char *name, char *v, size_t vlen)
{
	const char	*p = head;
	size_t		 n = strlen(name), k;

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			p += n + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			for (k = 0; p[k] != '\r' && p[k] != '\0' &&
			    k + 1 < vlen; k++)
				v[k] = p[k];
			while (k > 0 && (v[k - 1] == ' ' || v[k - 1] == '\t'))
				k--;
			v[k] = '\0';
			return 1;
		}
	}
	return 0;
}

static void
ws_accept(const char *key, char *out)
{
	unsigned char	 md[SHA_DIGEST_LENGTH];
	char		 buf[512];

	snprintf(buf, sizeof(buf), "%s%s", key, WS_GUID);
	SHA1((unsigned char *)buf, strlen(buf), md);
	EVP_EncodeBlock((unsigned char *)out, md, sizeof(md));
}

static void
count_hit(const char *target)
{
	int	 i;

	for (i = 0; i < HITS_MAX && hits[i].target[0] != '\0'; i++)
		if (strcmp(hits[i].target, target) == 0)
			break;
	if (i == HITS_MAX || strlen(target) >= sizeof(hits[i].target))
		return;
	snprintf(hits[i].target, sizeof(hits[i].target), "%s", target);
	hits[i].n++;
}

static void
answer_hits(struct conn *c, const char *target)
{
	char		 body[32];
	unsigned long	 n = 0;
	int		 i;

	for (i = 0; i < HITS_MAX && hits[i].target[0] != '\0'; i++)
		if (strcmp(hits[i].target, target) == 0)
			n = hits[i].n;
	snprintf(body, sizeof(body), "%lu\n", n);
	out_printf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Cache-Control: no-store\r\nContent-Length: %zu\r\n%s\r\n",
	    strlen(body), c->keep ? "" : "Connection: close\r\n");
	out_put(c, body, strlen(body));
	c->st = c->keep ? C_HEAD : C_CLOSE;
}

/*
 * The fields of full.hdr as CRLF lines into fields (empty without one);
 * etag gets the value of its ETag line.
 */
static void
extra_fields(const char *full, char *fields, size_t len, char *etag,
    size_t elen)
{
	char	 path[4200], line[1024];
	FILE	*f;
	size_t	 k = 0, n;

	fields[0] = etag[0] = '\0';
	snprintf(path, sizeof(path), "%s.hdr", full);
	if ((f = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		if (strncasecmp(line, "etag:", 5) == 0)
			snprintf(etag, elen, "%s", line + 5 + strspn(line + 5,
			    " "));
		n = (size_t)snprintf(fields + k, len - k, "%s\r\n", line);
		if (n >= len - k) {
			fields[k] = '\0';
			break;
		}
		k += n;
	}
	fclose(f);
}

static void
start_file(struct conn *c, const char *path, const char *head)
{
	char		 full[4096], fields[4096], etag[256], inm[1024];
	struct stat	 st;
	int		 fd;

	/* A directory's page is its index.html, as any web server's. */
	if (strstr(path, "..") != NULL || snprintf(full, sizeof(full),
	    "%s/%s%s", docroot, path + 1, path[strlen(path) - 1] == '/' ?
	    "index.html" : "") >= (int)sizeof(full) ||
	    (fd = open(full, O_RDONLY)) == -1 || fstat(fd, &st) == -1 ||
	    !S_ISREG(st.st_mode)) {
		respond(c, 404, "Not Found", "text/plain", "not found\n", 10);
		return;
	}
	extra_fields(full, fields, sizeof(fields), etag, sizeof(etag));
	if (etag[0] != '\0' && header(head, "if-none-match", inm,
	    sizeof(inm)) && strstr(inm, etag) != NULL) {
		close(fd);
		out_printf(c, "HTTP/1.1 304 Not Modified\r\n%s%s\r\n", fields,
		    c->keep ? "" : "Connection: close\r\n");
		c->st = c->keep ? C_HEAD : C_CLOSE;
		return;
	}
	out_printf(c, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
	    "Content-Length: %lld\r\n%s%s\r\n", strstr(full, ".html") ?
	    "text/html" : strstr(full, ".css") ? "text/css" :
	    "application/octet-stream", (long long)st.st_size, fields,
	    c->keep ? "" : "Connection: close\r\n");
	c->file = fd;
	c->file_left = (uint64_t)st.st_size;
	c->st = C_FILE;
}

/* A complete head of hlen bytes at c->in. */
static void
on_head(struct conn *c, size_t hlen)
{
	char	 head[HEAD_MAX + 1], method[16], path[2048], v[256], acc[64];
	char	 version[16];

	memcpy(head, c->in, hlen);
	head[hlen] = '\0';
	fprintf(logfp, "%s--\n", head);
	fflush(logfp);
	memmove(c->in, c->in + hlen, c->inlen - hlen);
	c->inlen -= hlen;
	if (sscanf(head, "%15s %2047s %15s", method, path, version) != 3) {
		c->keep = 0;
		respond(c, 400, "Bad Request", "text/plain", "bad\n", 4);
		return;
	}
	c->keep = strcmp(version, "HTTP/1.1") == 0;
	if (header(head, "connection", v, sizeof(v)) && strcasestr(v, "close"))
		c->keep = 0;
	if (strncmp(path, "/hits/", 6) == 0) {
		answer_hits(c, path + 5);
		return;
	}
	count_hit(path);
	if (strcmp(method, "POST") == 0 && strcmp(path, "/upload") == 0) {
		c->total = 0;
		c->chunked = header(head, "transfer-encoding", v, sizeof(v)) &&
		    strcasecmp(v, "chunked") == 0;
		c->left = 0;
		if (!c->chunked && header(head, "content-length", v, sizeof(v)))
			c->left = strtoull(v, NULL, 10);
		c->ch = CH_SIZE;
		c->md = EVP_MD_CTX_new();
		EVP_DigestInit_ex(c->md, EVP_sha256(), NULL);
		c->st = C_BODY;
		if (!c->chunked && c->left == 0)
			upload_done(c);
		return;
	}
	if (strcmp(method, "GET") != 0) {
		respond(c, 405, "Method Not Allowed", "text/plain", "no\n", 3);
		return;
	}
	if (strcmp(path, "/headers") == 0) {
		respond(c, 200, "OK", "text/plain", head, hlen);
		return;
	}
	if (strcmp(path, "/ws") == 0) {
		if (!header(head, "sec-websocket-key", v, sizeof(v))) {
			respond(c, 400, "Bad Request", "text/plain", "key\n", 4);
			return;
		}
		ws_accept(v, acc);
		out_printf(c, "HTTP/1.1 101 Switching Protocols\r\n"
		    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		    "Sec-WebSocket-Accept: %s\r\n\r\n", acc);
		c->st = C_WS;
		return;
	}
	start_file(c, path, head);
}

static void
upload_done(struct conn *c)
{
	unsigned char	 md[32];
	unsigned int	 n;
	char		 body[128];
	int		 i, k;

	EVP_DigestFinal_ex(c->md, md, &n);
	EVP_MD_CTX_free(c->md);
	c->md = NULL;
	for (i = 0, k = 0; i < 32; i++)
		k += sprintf(body + k, "%02x", md[i]);
	k += sprintf(body + k, " %llu\n", (unsigned long long)c->total);
	respond(c, 200, "OK", "text/plain", body, (size_t)k);
}

static void
upload_data(struct conn *c, const unsigned char *p, size_t n)
{
	EVP_DigestUpdate(c->md, p, n);
	c->total += n;
}

/* Consumes body bytes from c->in; returns when it needs more or is done. */
static void
on_body(struct conn *c)
{
	size_t	 i = 0, n;
	int	 hex;

	if (!c->chunked) {
		n = c->inlen < c->left ? c->inlen : (size_t)c->left;
		upload_data(c, c->in, n);
		c->left -= n;
		i = n;
		if (c->left == 0)
			upload_done(c);
		goto out;
	}
	while (i < c->inlen && c->st == C_BODY) {
		unsigned char b = c->in[i];

		switch (c->ch) {
		case CH_SIZE:
			hex = b >= '0' && b <= '9' ? b - '0' :
			    (b | 0x20) >= 'a' && (b | 0x20) <= 'f' ?
			    (b | 0x20) - 'a' + 10 : -1;
			if (hex >= 0)
				c->left = c->left * 16 + (uint64_t)hex;
			else
				c->ch = b == '\r' ? CH_SIZE_LF : CH_EXT;
			i++;
			break;
		case CH_EXT:
			if (b == '\r')
				c->ch = CH_SIZE_LF;
			i++;
			break;
		case CH_SIZE_LF:
			c->ch = c->left > 0 ? CH_DATA : CH_TRAILER;
			i++;
			break;
		case CH_DATA:
			n = c->inlen - i < c->left ? c->inlen - i :
			    (size_t)c->left;
			upload_data(c, c->in + i, n);
			c->left -= n;
			i += n;
			if (c->left == 0)
				c->ch = CH_DATA_CR;
			break;
		case CH_DATA_CR:
			c->ch = CH_DATA_LF;
			i++;
			break;
		case CH_DATA_LF:
			c->ch = CH_SIZE;
			i++;
			break;
		case CH_TRAILER:
			c->ch = b == '\r' ? CH_END : CH_TRAILER_LINE;
			i++;
			break;
		case CH_TRAILER_LINE:
			if (b == '\n')
				c->ch = CH_TRAILER;
			i++;
			break;
		case CH_TRAILER_LF:
		case CH_END:
			i++;
			upload_done(c);
			break;
		}
	}
out:
	memmove(c->in, c->in + i, c->inlen - i);
	c->inlen -= i;
}

/* One WebSocket frame from c->in, echoed; 0 if more bytes are needed. */
static int
on_ws(struct conn *c)
{
	unsigned char	 hdr[14], *p = c->in, mask[4];
	uint64_t	 len;
	size_t		 hl = 2, i, n;
	int		 op;

	if (c->inlen < 2)
		return 0;
	op = p[0] & 0x0f;
	len = p[1] & 0x7f;
	if (len == 126) {
		if (c->inlen < 4)
			return 0;
		len = (uint64_t)p[2] << 8 | p[3];
		hl = 4;
	} else if (len == 127) {
		if (c->inlen < 10)
			return 0;
		for (len = 0, i = 0; i < 8; i++)
			len = len << 8 | p[2 + i];
		hl = 10;
	}
	if (!(p[1] & 0x80) || len > INBUF - 14) {
		c->st = C_CLOSE;	/* unmasked from a client, or too big */
		return 0;
	}
	if (c->inlen < hl + 4 + len)
		return 0;
	memcpy(mask, p + hl, 4);
	hl += 4;
	n = (size_t)len;
	for (i = 0; i < n; i++)
		p[hl + i] ^= mask[i % 4];
	hdr[0] = (unsigned char)(0x80 | (op == 9 ? 10 : op));
	if (n < 126) {
		hdr[1] = (unsigned char)n;
		i = 2;
	} else {
		hdr[1] = 126;
		hdr[2] = (unsigned char)(n >> 8);
		hdr[3] = (unsigned char)n;
		i = 4;
	}
	if (op != 10) {		/* a PONG needs no answer */
		out_put(c, hdr, i);
		out_put(c, p + hl, n);
	}
	if (op == 8)
		c->st = C_CLOSE;
	memmove(c->in, c->in + hl + n, c->inlen - hl - n);
	c->inlen -= hl + n;
	return 1;
}

/* Works through c->in as far as it goes. */
static void
process(struct conn *c)
{
	unsigned char	*end;
	size_t		 before;

	for (;;) {
		before = c->inlen;
		if (c->st == C_HEAD && c->outlen == 0 && c->inlen > 0) {
			end = memmem(c->in, c->inlen, "\r\n\r\n", 4);
			if (end == NULL) {
				if (c->inlen >= HEAD_MAX)
					c->st = C_CLOSE;
				return;
			}
			on_head(c, (size_t)(end - c->in) + 4);
			continue;
		}
		if (c->st == C_BODY && c->inlen > 0)
			on_body(c);
		else if (c->st == C_WS)
			on_ws(c);
		if (c->inlen == before)
			return;
	}
}

static void
conn_close(int i)
{
	struct conn	*c = conns[i];

	close(c->fd);
	if (c->file != -1)
		close(c->file);
	if (c->md != NULL)
		EVP_MD_CTX_free(c->md);
	free(c->out);
	free(c);
	conns[i] = NULL;
}

/* Refills out from the file being sent while out is short. */
static void
fill_file(struct conn *c)
{
	unsigned char	 buf[64 * 1024];
	ssize_t		 n;

	while (c->st == C_FILE && c->outlen < OUT_HIGH) {
		if (c->file_left == 0) {
			close(c->file);
			c->file = -1;
			c->st = c->keep ? C_HEAD : C_CLOSE;
			return;
		}
		n = read(c->file, buf, sizeof(buf));
		if (n <= 0) {
			c->st = C_CLOSE;
			return;
		}
		out_put(c, buf, (size_t)n);
		c->file_left -= (uint64_t)n < c->file_left ? (uint64_t)n :
		    c->file_left;
	}
}

/* 0, or -1 when the connection is to be closed. */
static int
service(struct conn *c, short revents)
{
	ssize_t	 n;

	if (revents & POLLIN) {
		n = read(c->fd, c->in + c->inlen, INBUF - c->inlen);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
			return -1;
		if (n > 0)
			c->inlen += (size_t)n;
		process(c);
	}
	if (c->outlen > 0 && (revents & POLLOUT)) {
		n = write(c->fd, c->out, c->outlen);
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (n > 0) {
			memmove(c->out, c->out + n, c->outlen - (size_t)n);
			c->outlen -= (size_t)n;
		}
	}
	fill_file(c);
	if (c->outlen == 0) {
		if (c->st == C_CLOSE)
			return -1;
		process(c);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct pollfd		 pfd[MAXCONN + 1];
	struct sockaddr_in	 sin;
	int			 ch, port = 0, lfd, i, n, one = 1, idx[MAXCONN + 1];
	const char		*logfile = NULL;

	while ((ch = getopt(argc, argv, "p:d:l:")) != -1) {
		switch (ch) {
		case 'p': port = atoi(optarg); break;
		case 'd': docroot = optarg; break;
		case 'l': logfile = optarg; break;
		default:
			fprintf(stderr, "usage: device-httpd -p port -d dir "
			    "-l logfile\n");
			return 2;
		}
	}
	if (port <= 0 || docroot == NULL || logfile == NULL) {
		fprintf(stderr, "usage: device-httpd -p port -d dir -l logfile\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((logfp = fopen(logfile, "a")) == NULL)
		die(logfile);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 64) == -1)
		die("bind/listen");
	printf("listening %d\n", port);
	fflush(stdout);
	for (;;) {
		pfd[0].fd = lfd;
		pfd[0].events = POLLIN;
		for (i = 0, n = 1; i < MAXCONN; i++) {
			if (conns[i] == NULL)
				continue;
			pfd[n].fd = conns[i]->fd;
			pfd[n].events = 0;
			if (conns[i]->inlen < INBUF && conns[i]->st != C_CLOSE)
				pfd[n].events |= POLLIN;
			if (conns[i]->outlen > 0)
				pfd[n].events |= POLLOUT;
			idx[n++] = i;
		}
		if (poll(pfd, (nfds_t)n, -1) == -1) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		for (i = 1; i < n; i++)
			if (pfd[i].revents != 0 &&
			    service(conns[idx[i]], pfd[i].revents) != 0)
				conn_close(idx[i]);
		if (pfd[0].revents & POLLIN) {
			int fd = accept(lfd, NULL, NULL);

			if (fd == -1)
				continue;
			fcntl(fd, F_SETFL, O_NONBLOCK);
			for (i = 0; i < MAXCONN && conns[i] != NULL; i++)
				;
			if (i == MAXCONN || (conns[i] = calloc(1,
			    sizeof(struct conn))) == NULL) {
				close(fd);
				continue;
			}
			conns[i]->fd = fd;
			conns[i]->file = -1;
		}
	}
}
