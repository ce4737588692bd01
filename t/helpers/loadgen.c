/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * loadgen: many device tunnels at once, for scripts/bench (--idle and
 * --storm).  Not part of the product.  Each tunnel is what a stock agent
 * opens (WEBTUNNEL.md section 2): TLS verified against a CA with SNI, a
 * POST (or GET) upgrade with the WebTunnel server subprotocol and Basic
 * "<id>@<group>:<secret>", and a 101 checked as strictly as a stock agent
 * checks it.  Once up, a tunnel answers PINGs and nothing else.
 *
 * Shape.  The parent forks -P processes (the hard limit on open files is
 * per process: PLATFORM-NOTES), each owning a slice of the devices in one
 * non-blocking epoll loop with OpenSSL used directly.  At most -H tunnels
 * of a process are between connect() and the 101 at any time; the rest
 * wait their turn, as the stock agents of a real storm would be spread by
 * their own backoff.  A tunnel that fails is retried up to -r times after
 * 1 to 2 s, the way an agent reconnects.  Source addresses: device i binds
 * 127.0.0.(1 + i / S) before connecting, so that N larger than one
 * address's ephemeral ports still fits (-S, default 10000).
 *
 * Report.  Every process writes one struct lg_report to a pipe when all of
 * its tunnels are up or the -t deadline passed, and one more when it is
 * told to stop (SIGTERM, or -k seconds of holding).  The parent sums them
 * and prints, on stdout:
 *
 *   up=N wanted=N seconds=S attempts=A fail_connect=.. fail_tls=..
 *       fail_status=.. fail_upgrade=.. fail_closed=.. fail_timeout=..
 *   held=N dropped=N            (after the hold)
 *
 * seconds is the time from the start until the last tunnel came up.
 * Exit status 0 if every tunnel came up and stayed up, 1 if not, 2 on a
 * usage or set-up error.
 *
 *   loadgen -a addr -p port -n host -c cafile -N count [-f first]
 *       [-i id-prefix] [-g group] [-s secret] [-P procs] [-H handshakes]
 *       [-S per-address] [-r retries] [-t timeout] [-k hold] [-G]
 */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "buf.h"
#include "err.h"
#include "http.h"
#include "ws.h"

#define LG_SUBPROTOCOL	"com.appinf.webtunnel.server/1.0"
#define LG_HEAD_MAX	8192
#define LG_FRAME_MAX	65536
#define LG_READ_CHUNK	4096
#define LG_EVENTS	256

enum lg_state {
	LG_IDLE = 0,		/* not started, or waiting for a retry */
	LG_CONNECTING,		/* connect() in progress */
	LG_HANDSHAKE,		/* TLS handshake */
	LG_UPGRADE,		/* request sent (or being sent), reading 101 */
	LG_UP,			/* tunnel established: answering PINGs */
	LG_DONE,		/* gave up on it */
};

enum lg_fail {
	LG_F_CONNECT = 0,
	LG_F_TLS,
	LG_F_STATUS,		/* a status other than 101 */
	LG_F_UPGRADE,		/* a 101 a stock agent would refuse */
	LG_F_CLOSED,		/* the reflector closed a tunnel that was up */
	LG_F_TIMEOUT,
	LG_F_MAX
};

static const char *const fail_names[LG_F_MAX] = {
	"connect", "tls", "status", "upgrade", "closed", "timeout",
};

struct lg_report {
	uint32_t	phase;		/* 1: up phase done, 2: hold done */
	uint32_t	wanted;
	uint32_t	up;
	uint32_t	attempts;
	uint64_t	last_up_us;	/* since the start, of the last tunnel */
	uint32_t	fails[LG_F_MAX];
};

struct lg_dev {
	enum lg_state		 state;
	int			 fd;
	SSL			*ssl;
	uint32_t		 index;		/* global device number */
	int			 attempts;
	uint64_t		 deadline_us;	/* of the current step */
	uint64_t		 retry_us;
	struct rf_buf		 in;
	struct rf_buf		 out;
	char			 accept[RF_WS_ACCEPT_LEN + 1];
};

static struct {
	const char		*addr;
	int			 port;
	const char		*host;
	const char		*cafile;
	const char		*prefix;
	const char		*group;
	const char		*secret;
	uint32_t		 count;
	uint32_t		 first;
	int			 procs;
	int			 handshakes;
	uint32_t		 per_addr;
	int			 retries;
	int			 timeout;
	int			 hold;
	int			 get;
} O = {
	.addr = "127.0.0.1", .prefix = "bench-", .group = "bench",
	.procs = 0, .handshakes = 64, .per_addr = 10000, .retries = 3,
	.timeout = 60, .hold = -1,
};

static volatile sig_atomic_t	 stop_flag;
static uint64_t			 t0_us;

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void
on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: loadgen -a addr -p port -n host -c cafile "
	    "-N count [-f first]\n"
	    "           [-i id-prefix] [-g group] [-s secret] [-P procs] "
	    "[-H handshakes]\n"
	    "           [-S per-address] [-r retries] [-t timeout] "
	    "[-k hold] [-G]\n");
	exit(2);
}

static void
die(const char *what)
{
	fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* ------------------------------------------------------- one process -- */

static struct {
	SSL_CTX		*ctx;
	int		 epfd;
	struct lg_dev	*devs;
	uint32_t	 n;
	uint32_t	 next;		/* next device never started */
	int		 inflight;	/* between connect() and the 101 */
	int		 up;
	struct lg_report rep;
	char		 auth_prefix[128];
} P;

static void
dev_close(struct lg_dev *d)
{
	if (d->ssl != NULL) {
		SSL_free(d->ssl);
		d->ssl = NULL;
	}
	if (d->fd != -1) {
		close(d->fd);	/* also leaves the epoll set */
		d->fd = -1;
	}
	rf_buf_free(&d->in);
	rf_buf_free(&d->out);
	if (d->state >= LG_CONNECTING && d->state <= LG_UPGRADE)
		P.inflight--;
	if (d->state == LG_UP)
		P.up--;
}

static void
dev_fail(struct lg_dev *d, enum lg_fail why)
{
	P.rep.fails[why]++;
	dev_close(d);
	if (why != LG_F_CLOSED && d->attempts <= O.retries) {
		/* An agent's reconnect: 1 to 2 s later. */
		d->state = LG_IDLE;
		d->retry_us = now_us() + 1000000 +
		    (uint64_t)(random() % 1000000);
	} else
		d->state = LG_DONE;
}

static int
dev_watch(struct lg_dev *d, uint32_t events)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = d;
	return epoll_ctl(P.epfd, EPOLL_CTL_MOD, d->fd, &ev);
}

/* The upgrade request of a stock agent, and the Accept it must get. */
static int
put_request(struct lg_dev *d)
{
	unsigned char raw[16], cred[256];
	char key[RF_WS_KEY_LEN + 1], b64[400];
	int n;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	EVP_EncodeBlock((unsigned char *)key, raw, sizeof(raw));
	if (rf_ws_accept_key(key, d->accept) != 0)
		return -1;
	n = snprintf((char *)cred, sizeof(cred), "%s%u@%s:%s", O.prefix,
	    d->index, O.group, O.secret);
	if (n < 0 || (size_t)n >= sizeof(cred))
		return -1;
	EVP_EncodeBlock((unsigned char *)b64, cred, n);
	return rf_buf_putf(&d->out,
	    "%s / HTTP/1.1\r\n"
	    "Host: %s\r\n"
	    "Connection: Upgrade\r\n"
	    "Upgrade: websocket\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "Sec-WebSocket-Key: %s\r\n"
	    "Sec-WebSocket-Protocol: " LG_SUBPROTOCOL "\r\n"
	    "Authorization: Basic %s\r\n"
	    "X-PTTH-Set-Property: device;targetHost=127.0.0.1\r\n"
	    "X-PTTH-Set-Property: device;targetPorts=80\r\n"
	    "X-PTTH-Set-Property: device;httpPort=80\r\n"
	    "X-WebTunnel-KeepAlive: 300\r\n"
	    "User-Agent: reflector-loadgen\r\n"
	    "\r\n", O.get ? "GET" : "POST", O.host, key, b64);
}

static void
dev_start(struct lg_dev *d)
{
	struct sockaddr_in src, dst;
	struct epoll_event ev;
	int one = 1;

	d->attempts++;
	P.rep.attempts++;
	rf_buf_init(&d->in, LG_FRAME_MAX + LG_HEAD_MAX);
	rf_buf_init(&d->out, LG_HEAD_MAX);
	d->state = LG_CONNECTING;
	P.inflight++;
	d->deadline_us = now_us() + (uint64_t)O.timeout * 1000000;
	d->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (d->fd == -1) {
		dev_fail(d, LG_F_CONNECT);
		return;
	}
	memset(&src, 0, sizeof(src));
	src.sin_family = AF_INET;
	src.sin_addr.s_addr = htonl(INADDR_LOOPBACK + d->index / O.per_addr);
	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)O.port);
	if (inet_pton(AF_INET, O.addr, &dst.sin_addr) != 1)
		usage();
	/* The port is chosen at connect(), by the whole 4-tuple. */
	setsockopt(d->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
	    sizeof(one));
	setsockopt(d->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(d->fd, (struct sockaddr *)&src, sizeof(src)) == -1 ||
	    (connect(d->fd, (struct sockaddr *)&dst, sizeof(dst)) == -1 &&
	    errno != EINPROGRESS)) {
		dev_fail(d, LG_F_CONNECT);
		return;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLOUT;
	ev.data.ptr = d;
	if (epoll_ctl(P.epfd, EPOLL_CTL_ADD, d->fd, &ev) == -1)
		die("epoll_ctl");
}

/* Checks the 101 the way a stock agent does; 0 when it is one. */
static int
check_101(struct lg_dev *d, struct rf_http_head *h, enum lg_fail *why)
{
	int i;

	*why = LG_F_STATUS;
	if (h->status != 101)
		return -1;
	*why = LG_F_UPGRADE;
	/* The whole value, not a token of a list (WEBTUNNEL.md). */
	if (rf_http_count(h, "Connection") != 1 ||
	    !rf_http_span_casecmp(h, h->fields[rf_http_find(h, "Connection",
	    0)].value, "Upgrade"))
		return -1;
	if (rf_http_count(h, "Upgrade") != 1 ||
	    !rf_http_span_casecmp(h, h->fields[rf_http_find(h, "Upgrade",
	    0)].value, "websocket"))
		return -1;
	if (rf_http_count(h, "Sec-WebSocket-Accept") != 1 ||
	    !rf_http_span_is(h, h->fields[rf_http_find(h,
	    "Sec-WebSocket-Accept", 0)].value, d->accept))
		return -1;
	i = rf_http_find(h, "Sec-WebSocket-Protocol", 0);
	if (i == -1 || rf_http_count(h, "Sec-WebSocket-Protocol") != 1 ||
	    !rf_http_span_is(h, h->fields[i].value, LG_SUBPROTOCOL))
		return -1;
	return 0;
}

static void
came_up(struct lg_dev *d)
{
	d->state = LG_UP;
	P.inflight--;
	P.up++;
	P.rep.up++;
	P.rep.last_up_us = now_us() - t0_us;
}

/* Frames from the reflector on a tunnel that is up: PING gets a PONG. */
static void
read_frames(struct lg_dev *d)
{
	struct rf_ws_frame f;
	struct rf_ws_msg m;
	uint8_t mask[4];
	int r;

	for (;;) {
		r = rf_ws_frame_decode(&d->in, 0, LG_FRAME_MAX, &f);
		if (r == RF_ERR_SHORT)
			break;
		if (r != 0 || f.opcode == RF_WS_CLOSE) {
			dev_fail(d, LG_F_CLOSED);
			return;
		}
		if (f.opcode == RF_WS_PING) {
			m.opcode = f.opcode;
			m.data = f.payload;
			m.len = f.len;
			if (rf_ws_mask_key(mask) != 0 ||
			    rf_ws_put_pong(&d->out, &m, mask) != 0) {
				dev_fail(d, LG_F_CLOSED);
				return;
			}
		}
		/* Channel traffic is not answered: these devices are idle. */
	}
	rf_buf_compact(&d->in);
}

static void
read_upgrade(struct lg_dev *d)
{
	struct rf_http_head h;
	enum lg_fail why;
	int r;

	rf_http_head_init(&h, RF_HTTP_RESPONSE, LG_HEAD_MAX);
	r = rf_http_head_parse(&h, rf_buf_ptr(&d->in), rf_buf_len(&d->in));
	if (r == RF_ERR_SHORT)
		return;
	if (r != 0) {
		dev_fail(d, LG_F_UPGRADE);
		return;
	}
	if (check_101(d, &h, &why) != 0) {
		dev_fail(d, why);
		return;
	}
	rf_buf_consume(&d->in, h.len);
	came_up(d);
	read_frames(d);
}

/* Moves d's TLS on as far as it goes without blocking. */
static void
dev_step(struct lg_dev *d)
{
	unsigned char chunk[LG_READ_CHUNK];
	int r, e, err, want = 0;
	socklen_t elen = sizeof(err);

	if (d->state == LG_CONNECTING) {
		if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &err, &elen) == -1 ||
		    err != 0) {
			dev_fail(d, LG_F_CONNECT);
			return;
		}
		if ((d->ssl = SSL_new(P.ctx)) == NULL ||
		    SSL_set_fd(d->ssl, d->fd) != 1 ||
		    SSL_set_tlsext_host_name(d->ssl, O.host) != 1 ||
		    SSL_set1_host(d->ssl, O.host) != 1) {
			dev_fail(d, LG_F_TLS);
			return;
		}
		d->state = LG_HANDSHAKE;
	}
	if (d->state == LG_HANDSHAKE) {
		if ((r = SSL_connect(d->ssl)) != 1) {
			e = SSL_get_error(d->ssl, r);
			if (e == SSL_ERROR_WANT_READ ||
			    e == SSL_ERROR_WANT_WRITE) {
				dev_watch(d, e == SSL_ERROR_WANT_READ ?
				    EPOLLIN : EPOLLOUT);
				return;
			}
			ERR_clear_error();
			dev_fail(d, LG_F_TLS);
			return;
		}
		if (put_request(d) != 0) {
			dev_fail(d, LG_F_TLS);
			return;
		}
		d->state = LG_UPGRADE;
	}
	while (rf_buf_len(&d->out) > 0) {
		r = SSL_write(d->ssl, rf_buf_ptr(&d->out),
		    (int)rf_buf_len(&d->out));
		if (r <= 0) {
			e = SSL_get_error(d->ssl, r);
			if (e == SSL_ERROR_WANT_WRITE ||
			    e == SSL_ERROR_WANT_READ) {
				want = e == SSL_ERROR_WANT_WRITE ? EPOLLOUT :
				    EPOLLIN;
				break;
			}
			ERR_clear_error();
			dev_fail(d, d->state == LG_UP ? LG_F_CLOSED : LG_F_TLS);
			return;
		}
		rf_buf_consume(&d->out, (size_t)r);
	}
	rf_buf_compact(&d->out);
	for (;;) {
		r = SSL_read(d->ssl, chunk, sizeof(chunk));
		if (r <= 0) {
			e = SSL_get_error(d->ssl, r);
			if (e == SSL_ERROR_WANT_READ)
				break;
			if (e == SSL_ERROR_WANT_WRITE) {
				want = EPOLLOUT;
				break;
			}
			ERR_clear_error();
			dev_fail(d, d->state == LG_UP ? LG_F_CLOSED :
			    LG_F_STATUS);
			return;
		}
		if (rf_buf_put(&d->in, chunk, (size_t)r) != 0) {
			dev_fail(d, d->state == LG_UP ? LG_F_CLOSED :
			    LG_F_UPGRADE);
			return;
		}
		if (d->state == LG_UPGRADE)
			read_upgrade(d);
		else
			read_frames(d);
		if (d->state != LG_UPGRADE && d->state != LG_UP)
			return;
	}
	if (rf_buf_len(&d->out) > 0 && want == 0)
		want = EPOLLOUT;
	dev_watch(d, want == EPOLLOUT ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

/* Starts devices while the handshake cap allows; expires slow ones. */
static void
housekeeping(void)
{
	uint64_t now = now_us();
	uint32_t i;

	while (P.next < P.n && P.inflight < O.handshakes)
		dev_start(&P.devs[P.next++]);
	for (i = 0; i < P.next; i++) {
		struct lg_dev *d = &P.devs[i];

		if (d->state >= LG_CONNECTING && d->state <= LG_UPGRADE &&
		    d->deadline_us <= now)
			dev_fail(d, LG_F_TIMEOUT);
		else if (d->state == LG_IDLE && d->retry_us <= now &&
		    P.inflight < O.handshakes)
			dev_start(d);
	}
}

static int
all_settled(void)
{
	uint32_t i;

	if (P.next < P.n)
		return 0;
	for (i = 0; i < P.n; i++)
		if (P.devs[i].state != LG_UP && P.devs[i].state != LG_DONE)
			return 0;
	return 1;
}

static void
report(int fd, uint32_t phase)
{
	P.rep.phase = phase;
	P.rep.wanted = P.n;
	if (phase == 2)
		P.rep.up = (uint32_t)P.up;
	if (write(fd, &P.rep, sizeof(P.rep)) != (ssize_t)sizeof(P.rep))
		die("write report");
}

static SSL_CTX *
client_ctx(void)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, O.cafile, NULL) != 1) {
		ERR_print_errors_fp(stderr);
		exit(2);
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* Thousands of idle tunnels: no 34 KB of buffers each. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return ctx;
}

static void
run_slice(uint32_t first, uint32_t n, int fd)
{
	struct epoll_event ev[LG_EVENTS];
	uint64_t deadline, hold_end = 0;
	int i, k, phase = 1;
	uint32_t j;

	memset(&P, 0, sizeof(P));
	P.ctx = client_ctx();
	P.n = n;
	if ((P.epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1");
	if ((P.devs = calloc(n, sizeof(*P.devs))) == NULL)
		die("calloc");
	for (j = 0; j < n; j++) {
		P.devs[j].fd = -1;
		P.devs[j].index = first + j;
	}
	srandom((unsigned int)(getpid() ^ now_us()));
	deadline = t0_us + (uint64_t)O.timeout * 1000000;
	while (!stop_flag) {
		housekeeping();
		if (phase == 1 && (all_settled() || now_us() >= deadline)) {
			report(fd, 1);
			phase = 2;
			if (O.hold >= 0)
				hold_end = now_us() + (uint64_t)O.hold *
				    1000000;
		}
		if (phase == 2 && hold_end != 0 && now_us() >= hold_end)
			break;
		k = epoll_wait(P.epfd, ev, LG_EVENTS, 100);
		if (k == -1 && errno != EINTR)
			die("epoll_wait");
		for (i = 0; i < k; i++)
			dev_step(ev[i].data.ptr);
	}
	if (phase == 1)
		report(fd, 1);
	report(fd, 2);
	exit(0);
}

/* ------------------------------------------------------------ parent -- */

static int
opt_int(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		usage();
	return (int)v;
}

static void
parse_args(int argc, char **argv)
{
	int ch;

	while ((ch = getopt(argc, argv, "a:c:f:g:GH:i:k:n:N:p:P:r:s:S:t:")) !=
	    -1) {
		switch (ch) {
		case 'a': O.addr = optarg; break;
		case 'c': O.cafile = optarg; break;
		case 'f': O.first = (uint32_t)opt_int(optarg, 0, 10000000); break;
		case 'g': O.group = optarg; break;
		case 'G': O.get = 1; break;
		case 'H': O.handshakes = opt_int(optarg, 1, 100000); break;
		case 'i': O.prefix = optarg; break;
		case 'k': O.hold = opt_int(optarg, 0, 86400); break;
		case 'n': O.host = optarg; break;
		case 'N': O.count = (uint32_t)opt_int(optarg, 1, 10000000); break;
		case 'p': O.port = opt_int(optarg, 1, 65535); break;
		case 'P': O.procs = opt_int(optarg, 1, 256); break;
		case 'r': O.retries = opt_int(optarg, 0, 100); break;
		case 's': O.secret = optarg; break;
		case 'S': O.per_addr = (uint32_t)opt_int(optarg, 1, 60000); break;
		case 't': O.timeout = opt_int(optarg, 1, 3600); break;
		default: usage();
		}
	}
	if (O.port == 0 || O.host == NULL || O.cafile == NULL ||
	    O.secret == NULL || O.count == 0 || optind != argc)
		usage();
}

/*
 * Processes: enough that none needs more descriptors than its limit
 * allows (a tunnel is one descriptor), and at least one per 5,000 devices
 * so that the client side's TLS work is spread over the CPUs.
 */
static int
process_count(void)
{
	struct rlimit rl;
	rlim_t room;
	uint32_t p;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		die("getrlimit");
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		die("setrlimit");
	room = rl.rlim_cur > 64 ? rl.rlim_cur - 64 : 1;
	if (O.procs > 0) {
		if ((O.count + (uint32_t)O.procs - 1) / (uint32_t)O.procs >
		    room) {
			fprintf(stderr, "loadgen: %u devices over %d processes "
			    "need more than %llu descriptors each\n", O.count,
			    O.procs, (unsigned long long)room);
			exit(2);
		}
		return O.procs;
	}
	p = (O.count + (uint32_t)room - 1) / (uint32_t)room;
	if (p < (O.count + 4999) / 5000)
		p = (O.count + 4999) / 5000;
	return p > 16 ? 16 : (int)p;
}

static void
print_totals(const struct lg_report *sum, int phase)
{
	int i;

	if (phase == 1) {
		printf("up=%u wanted=%u seconds=%.3f attempts=%u", sum->up,
		    sum->wanted, (double)sum->last_up_us / 1e6, sum->attempts);
		for (i = 0; i < LG_F_MAX; i++)
			printf(" fail_%s=%u", fail_names[i], sum->fails[i]);
	} else
		printf("held=%u dropped=%u", sum->up, sum->wanted - sum->up);
	printf("\n");
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	struct lg_report r, sum[2];
	struct sigaction sa;
	uint32_t per, first, n;
	int procs, pfd[2], i, k, got[2] = { 0, 0 }, status, ok = 1;
	pid_t *pids;
	ssize_t len;

	parse_args(argc, argv);
	procs = process_count();
	/* No SA_RESTART: the parent's read() must see the signal. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (pipe2(pfd, O_CLOEXEC) == -1)
		die("pipe");
	if ((pids = calloc((size_t)procs, sizeof(*pids))) == NULL)
		die("calloc");
	t0_us = now_us();
	per = (O.count + (uint32_t)procs - 1) / (uint32_t)procs;
	for (i = 0, first = 0; i < procs && first < O.count; i++) {
		n = O.count - first < per ? O.count - first : per;
		if ((pids[i] = fork()) == -1)
			die("fork");
		if (pids[i] == 0) {
			close(pfd[0]);
			run_slice(O.first + first, n, pfd[1]);
		}
		first += n;
	}
	procs = i;
	close(pfd[1]);
	memset(sum, 0, sizeof(sum));
	/* Reports are 40 bytes: pipe writes that small are atomic. */
	while ((len = read(pfd[0], &r, sizeof(r))) != 0) {
		if (len == -1 && errno == EINTR) {
			if (stop_flag)
				for (k = 0; k < procs; k++)
					kill(pids[k], SIGTERM);
			continue;
		}
		if (len != (ssize_t)sizeof(r) || (r.phase != 1 &&
		    r.phase != 2))
			die("short report");
		k = (int)r.phase - 1;
		sum[k].wanted += r.wanted;
		sum[k].up += r.up;
		sum[k].attempts += r.attempts;
		if (r.last_up_us > sum[k].last_up_us)
			sum[k].last_up_us = r.last_up_us;
		for (i = 0; i < LG_F_MAX; i++)
			sum[k].fails[i] += r.fails[i];
		if (++got[k] == procs)
			print_totals(&sum[k], k + 1);
	}
	for (k = 0; k < procs; k++)
		if (waitpid(pids[k], &status, 0) == -1 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			ok = 0;
	if (got[0] != procs || sum[0].up != sum[0].wanted ||
	    (got[1] == procs && sum[1].up != sum[1].wanted))
		ok = 0;
	free(pids);
	return ok ? 0 : 1;
}
