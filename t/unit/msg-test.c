/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for common/msg.c over a real SOCK_SEQPACKET socketpair: an fd
 * and its metadata arrive together, a full socket queues, and every kind
 * of bad record (too many fds, bad length, truncated, EMFILE) is one
 * logged RF_ERR_PROTO that leaks no descriptor and leaves the channel
 * usable.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "msg.h"
#include "tap.h"

static char	logpath[256];

/* The lowest descriptor the next open() would get. */
static int
lowest_free_fd(void)
{
	int	 fd;

	if ((fd = open("/dev/null", O_RDONLY)) == -1)
		return -1;
	close(fd);
	return fd;
}

static int
fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

static int
count_open_fds(void)
{
	int	 fd, n = 0;

	for (fd = 0; fd < 1024; fd++)
		n += fd_is_open(fd);
	return n;
}

/* A non-blocking pipe: read() says 0 only once every write end is gone. */
static void
make_pipe(int p[2])
{
	if (pipe(p) == -1 || fcntl(p[0], F_SETFL, O_NONBLOCK) == -1) {
		perror("pipe");
		exit(255);
	}
}

static int
pipe_at_eof(int rfd)
{
	char	 c;

	return read(rfd, &c, 1) == 0;
}

static void
make_pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, sv) == -1) {
		perror("socketpair");
		exit(255);
	}
}

/* A record built by hand, bypassing the checks of rf_chan_compose. */
static ssize_t
raw_send(int sock, const void *p, size_t len, const int *fds, int nfds)
{
	union {
		struct cmsghdr	 hdr;
		unsigned char	 buf[CMSG_SPACE(sizeof(int) * 16)];
	} cbuf;
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*cmsg;

	memset(&mh, 0, sizeof(mh));
	memset(&cbuf, 0, sizeof(cbuf));
	iov.iov_base = (void *)(uintptr_t)p;
	iov.iov_len = len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfds > 0) {
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cmsg = CMSG_FIRSTHDR(&mh);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL);
}

/* 1 if the log file holds needle; empties the log for the next check. */
static int
log_has(const char *needle)
{
	char	 buf[8192];
	FILE	*f;
	size_t	 n;

	if ((f = fopen(logpath, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	if (truncate(logpath, 0) == -1)
		diag("truncate %s: %s", logpath, strerror(errno));
	return strstr(buf, needle) != NULL;
}

static void
test_fd_and_data(void)
{
	struct rf_chan	 a, b;
	struct rf_msg	 m;
	int		 sv[2], p[2];
	char		 c[8] = "";

	make_pair(sv);
	rf_chan_init(&a, sv[0]);
	rf_chan_init(&b, sv[1]);
	make_pipe(p);
	is_int(rf_chan_recv(&b, &m), RF_ERR_AGAIN, "nothing yet: AGAIN");
	is_int(rf_chan_compose(&a, RF_MSG_HANDOFF, 3, 42, p[1], "meta", 4),
	    0, "compose with an fd");
	ok(!rf_chan_pending(&a), "sent at once");
	ok(!fd_is_open(p[1]), "sender closed its fd after sending");
	is_int(rf_chan_recv(&b, &m), 0, "recv");
	ok(m.hdr.type == RF_MSG_HANDOFF && m.hdr.slot == 3 &&
	    m.hdr.id == 42 && m.hdr.len == 4, "header arrives");
	ok(m.data != NULL && memcmp(m.data, "meta", 4) == 0, "data arrives");
	ok(m.fd >= 0 && fd_is_open(m.fd), "fd arrives with it");
	ok((fcntl(m.fd, F_GETFD) & FD_CLOEXEC) != 0, "received fd is CLOEXEC");
	is_int(write(m.fd, "ping", 4), 4, "write through the received fd");
	ok(read(p[0], c, sizeof(c)) == 4 && memcmp(c, "ping", 4) == 0,
	    "read at the other end of the pipe");
	rf_msg_clear(&m);
	ok(m.fd == -1 && m.data == NULL, "rf_msg_clear resets");
	ok(pipe_at_eof(p[0]), "no copy of the write end is left anywhere");
	close(p[0]);

	is_int(rf_chan_compose(&a, RF_MSG_READY, 0, 1, -1, NULL, 0), 0,
	    "compose without fd or data");
	ok(rf_chan_recv(&b, &m) == 0 && m.fd == -1 && m.data == NULL &&
	    m.hdr.len == 0 && m.hdr.type == RF_MSG_READY, "empty message");
	rf_msg_clear(&m);
	rf_chan_close(&a);
	rf_chan_close(&b);
}

static void
test_compose_errors(void)
{
	struct rf_chan	 a, b;
	struct rf_msg	 m;
	static unsigned char big[RF_MSG_MAX_DATA + 1];
	int		 sv[2], p[2];

	make_pair(sv);
	rf_chan_init(&a, sv[0]);
	rf_chan_init(&b, sv[1]);
	make_pipe(p);
	is_int(rf_chan_compose(&a, RF_MSG_RELOAD, 0, 0, p[1], big,
	    sizeof(big)), RF_ERR_LIMIT, "data over RF_MSG_MAX_DATA: LIMIT");
	ok(!fd_is_open(p[1]) && pipe_at_eof(p[0]), "fd closed on error");
	is_int(rf_chan_compose(&a, RF_MSG_NONE, 0, 0, -1, NULL, 0),
	    RF_ERR_INVAL, "type 0: INVAL");
	is_int(rf_chan_compose(&a, RF_MSG_TYPE_MAX, 0, 0, -1, NULL, 0),
	    RF_ERR_INVAL, "type MAX: INVAL");
	ok(!rf_chan_pending(&a), "nothing queued");
	is_int(rf_chan_compose(&a, RF_MSG_RELOAD, 0, 0, -1, big,
	    RF_MSG_MAX_DATA), 0, "exactly RF_MSG_MAX_DATA");
	ok(rf_chan_recv(&b, &m) == 0 && m.hdr.len == RF_MSG_MAX_DATA,
	    "largest message arrives");
	rf_msg_clear(&m);
	close(p[0]);
	rf_chan_close(&a);
	rf_chan_close(&b);
}

/* Reads what is there; checks ids run on from *next.  -1 on disorder. */
static int
drain(struct rf_chan *b, uint32_t *next)
{
	struct rf_msg	 m;
	int		 r, bad = 0;

	while ((r = rf_chan_recv(b, &m)) == 0) {
		if (m.hdr.id != *next || m.hdr.len != 1000 ||
		    m.data[0] != (unsigned char)*next)
			bad = 1;
		(*next)++;
		rf_msg_clear(&m);
	}
	return bad || r != RF_ERR_AGAIN ? -1 : 0;
}

static void
test_queue(void)
{
	struct rf_chan	 a, b;
	unsigned char	 data[1000];
	uint32_t	 i, n, next = 0;
	int		 sv[2], r = 0, rounds, bad = 0;

	make_pair(sv);
	rf_chan_init(&a, sv[0]);
	rf_chan_init(&b, sv[1]);
	for (n = 0; n < 100000 && !rf_chan_pending(&a) && r == 0; n++) {
		memset(data, (unsigned char)n, sizeof(data));
		r = rf_chan_compose(&a, RF_MSG_RELOAD_RESULT, 1, n, -1, data,
		    sizeof(data));
	}
	is_int(r, 0, "a full socket is not an error for compose");
	ok(rf_chan_pending(&a), "full after %u messages, one queued", n);
	for (i = 0; i < 5; i++, n++) {
		memset(data, (unsigned char)n, sizeof(data));
		rf_chan_compose(&a, RF_MSG_RELOAD_RESULT, 1, n, -1, data,
		    sizeof(data));
	}
	is_int(a.queued, 6, "later messages queue behind it");
	is_int(rf_chan_flush(&a), RF_ERR_AGAIN, "flush on full: AGAIN");
	for (rounds = 0; rounds < 100 && (rf_chan_pending(&a) ||
	    next < n); rounds++) {
		if (drain(&b, &next) != 0)
			bad++;
		r = rf_chan_flush(&a);
	}
	is_int(bad, 0, "every message in order, none lost or doubled");
	is_int(next, n, "all messages arrived");
	is_int(r, 0, "flush returns 0 once the queue is empty");
	is_int(a.queued, 0, "queued counter back to 0");
	rf_chan_close(&a);
	rf_chan_close(&b);
}

static void
test_two_fds(void)
{
	struct rf_chan	 b;
	struct rf_msg	 m;
	struct rf_msg_hdr hdr = { RF_MSG_HANDOFF, 0, 1, 2 };
	int		 sv[2], p[2], q[2], fds[2], low, nopen;

	make_pair(sv);
	rf_chan_init(&b, sv[1]);
	make_pipe(p);
	make_pipe(q);
	fds[0] = p[1];
	fds[1] = q[1];
	ok(raw_send(sv[0], &hdr, sizeof(hdr), fds, 2) ==
	    (ssize_t)sizeof(hdr), "raw record with 2 fds sent");
	close(p[1]);
	close(q[1]);
	low = lowest_free_fd();
	nopen = count_open_fds();
	is_int(rf_chan_recv(&b, &m), RF_ERR_PROTO, "2 fds: PROTO");
	ok(log_has("more than one fd"), "the reason is logged");
	is_int(lowest_free_fd(), low, "no received fd left open");
	is_int(count_open_fds(), nopen, "as many fds open as before");
	ok(pipe_at_eof(p[0]) && pipe_at_eof(q[0]),
	    "both received fds were closed");
	ok(m.fd == -1 && m.data == NULL && m.hdr.type == 0,
	    "message cleared on error");
	close(p[0]);
	close(q[0]);
	close(sv[0]);
	rf_chan_close(&b);
}

/* More fds than the receiver has room for: the kernel drops the rest. */
static void
test_many_fds(void)
{
	struct rf_chan	 b;
	struct rf_msg	 m;
	struct rf_msg_hdr hdr = { RF_MSG_HANDOFF, 0, 1, 2 };
	int		 sv[2], p[2], fds[12], i, nopen;

	make_pair(sv);
	rf_chan_init(&b, sv[1]);
	make_pipe(p);
	for (i = 0; i < 12; i++)
		fds[i] = p[1];
	ok(raw_send(sv[0], &hdr, sizeof(hdr), fds, 12) ==
	    (ssize_t)sizeof(hdr), "raw record with 12 fds sent");
	close(p[1]);
	nopen = count_open_fds();
	is_int(rf_chan_recv(&b, &m), RF_ERR_PROTO, "12 fds: PROTO");
	ok(log_has("control data truncated"), "logged as truncated");
	is_int(count_open_fds(), nopen, "none of the 12 left open");
	ok(pipe_at_eof(p[0]), "every copy was closed");
	close(p[0]);
	close(sv[0]);
	rf_chan_close(&b);
}

static void
test_bad_records(void)
{
	struct rf_chan	 a, b;
	struct rf_msg	 m;
	struct rf_msg_hdr hdr = { RF_MSG_READY, 10, 1, 2 };
	static unsigned char rec[sizeof(struct rf_msg_hdr) + RF_MSG_MAX_DATA
	    + 1];
	int		 sv[2], p[2], low;

	make_pair(sv);
	rf_chan_init(&a, sv[0]);
	rf_chan_init(&b, sv[1]);
	make_pipe(p);
	/* The header claims 10 bytes of data; 4 follow. */
	memcpy(rec, &hdr, sizeof(hdr));
	raw_send(sv[0], rec, sizeof(hdr) + 4, &p[1], 1);
	close(p[1]);
	low = lowest_free_fd();
	is_int(rf_chan_recv(&b, &m), RF_ERR_PROTO, "bad length: PROTO");
	ok(log_has("data length does not match"), "bad length logged");
	ok(lowest_free_fd() == low && pipe_at_eof(p[0]),
	    "its fd was closed");

	raw_send(sv[0], "abc", 3, NULL, 0);
	is_int(rf_chan_recv(&b, &m), RF_ERR_PROTO, "3-byte record: PROTO");
	ok(log_has("shorter than the header"), "short record logged");

	hdr.len = RF_MSG_MAX_DATA + 1;
	memcpy(rec, &hdr, sizeof(hdr));
	raw_send(sv[0], rec, sizeof(rec), NULL, 0);
	is_int(rf_chan_recv(&b, &m), RF_ERR_PROTO, "oversized: PROTO");
	ok(log_has("record larger"), "oversized record logged (MSG_TRUNC)");

	hdr.len = 0;
	hdr.type = RF_MSG_TYPE_MAX;
	raw_send(sv[0], &hdr, sizeof(hdr), NULL, 0);
	is_int(rf_chan_recv(&b, &m), RF_ERR_PROTO, "type MAX: PROTO");
	hdr.type = RF_MSG_NONE;
	raw_send(sv[0], &hdr, sizeof(hdr), NULL, 0);
	is_int(rf_chan_recv(&b, &m), RF_ERR_PROTO, "type 0: PROTO");
	ok(log_has("unknown message type"), "bad type logged");

	rf_chan_compose(&a, RF_MSG_STOP, 7, 8, -1, "ok", 2);
	ok(rf_chan_recv(&b, &m) == 0 && m.hdr.type == RF_MSG_STOP &&
	    m.hdr.id == 8, "the channel still works after bad records");
	rf_msg_clear(&m);
	is_int(rf_chan_recv(&b, &m), RF_ERR_AGAIN, "and nothing else queued");
	close(p[0]);
	rf_chan_close(&a);
	rf_chan_close(&b);
}

static void
test_passcred(void)
{
	struct rf_chan	 a, b;
	struct rf_msg	 m;
	int		 sv[2], on = 1;

	make_pair(sv);
	rf_chan_init(&a, sv[0]);
	rf_chan_init(&b, sv[1]);
	/* SO_PASSCRED makes the kernel add an SCM_CREDENTIALS cmsg. */
	if (setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on,
	    sizeof(on)) == -1)
		diag("SO_PASSCRED: %s", strerror(errno));
	rf_chan_compose(&a, RF_MSG_READY, 0, 0, -1, NULL, 0);
	is_int(rf_chan_recv(&b, &m), RF_ERR_PROTO,
	    "cmsg other than SCM_RIGHTS: PROTO");
	ok(log_has("other than SCM_RIGHTS"), "foreign cmsg logged");
	rf_chan_close(&a);
	rf_chan_close(&b);
}

static void
test_eof(void)
{
	struct rf_chan	 a, b;
	struct rf_msg	 m;
	int		 sv[2], p[2];

	make_pair(sv);
	rf_chan_init(&a, sv[0]);
	rf_chan_init(&b, sv[1]);
	rf_chan_compose(&a, RF_MSG_READY, 0, 5, -1, NULL, 0);
	rf_chan_close(&a);
	ok(rf_chan_recv(&b, &m) == 0 && m.hdr.id == 5,
	    "a message sent before close still arrives");
	rf_msg_clear(&m);
	is_int(rf_chan_recv(&b, &m), RF_ERR_EOF, "then EOF");

	rf_chan_close(&b);

	make_pair(sv);
	rf_chan_init(&a, sv[0]);
	close(sv[1]);
	make_pipe(p);
	is_int(rf_chan_compose(&a, RF_MSG_HANDOFF, 0, 0, p[1], NULL, 0),
	    RF_ERR_EOF, "compose to a closed peer: EOF, no SIGPIPE");
	ok(rf_chan_pending(&a), "the message stays queued");
	rf_chan_close(&a);
	ok(pipe_at_eof(p[0]), "rf_chan_close closes queued fds");
	close(p[0]);
}

/*
 * With RLIMIT_NOFILE at the lowest free descriptor the kernel cannot
 * install a received fd: it drops it and sets MSG_CTRUNC.
 */
static void
test_emfile(void)
{
	struct rf_chan	 a, b;
	struct rf_msg	 m;
	struct rlimit	 old, rl;
	int		 sv[2], p[2], r;

	make_pair(sv);
	rf_chan_init(&a, sv[0]);
	rf_chan_init(&b, sv[1]);
	make_pipe(p);
	rf_chan_compose(&a, RF_MSG_HANDOFF, 0, 9, p[1], "x", 1);
	if (getrlimit(RLIMIT_NOFILE, &old) == -1) {
		ok(0, "getrlimit: %s", strerror(errno));
		return;
	}
	rl = old;
	rl.rlim_cur = (rlim_t)lowest_free_fd();
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		diag("setrlimit: %s", strerror(errno));
	ok(open("/dev/null", O_RDONLY) == -1 && errno == EMFILE,
	    "no free descriptor slot");
	r = rf_chan_recv(&b, &m);
	setrlimit(RLIMIT_NOFILE, &old);
	is_int(r, RF_ERR_PROTO, "fd dropped by EMFILE: PROTO");
	ok(log_has("control data truncated"), "EMFILE logged as truncation");
	ok(pipe_at_eof(p[0]), "the dropped fd is closed everywhere");
	rf_chan_compose(&a, RF_MSG_HANDOFF, 0, 10, -1, "y", 1);
	ok(rf_chan_recv(&b, &m) == 0 && m.hdr.id == 10,
	    "the process goes on: next message received");
	rf_msg_clear(&m);
	close(p[0]);
	rf_chan_close(&a);
	rf_chan_close(&b);
}

static long
elapsed_ms(const struct timespec *t0)
{
	struct timespec	 t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 +
	    (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void
test_send_once(void)
{
	struct rf_chan	 b;
	struct rf_msg	 m;
	struct timespec	 t0;
	unsigned char	 data[1000] = { 0 };
	int		 sv[2], p[2], i, r = 0;

	make_pair(sv);
	rf_chan_init(&b, sv[1]);
	make_pipe(p);
	is_int(rf_msg_send_once(sv[0], RF_MSG_HANDOFF, 2, 3, p[1], "h", 1,
	    100), 0, "send_once");
	ok(fd_is_open(p[1]), "send_once leaves the fd to the caller");
	ok(rf_chan_recv(&b, &m) == 0 && m.fd >= 0 && m.hdr.slot == 2,
	    "send_once message arrives with its fd");
	rf_msg_clear(&m);
	close(p[1]);
	ok(pipe_at_eof(p[0]), "and the received copy closes cleanly");
	close(p[0]);
	for (i = 0; i < 100000 && r == 0; i++)
		r = rf_msg_send_once(sv[0], RF_MSG_READY, 0, 0, -1, data,
		    sizeof(data), 0);
	is_int(r, RF_ERR_AGAIN, "timeout 0 on a full socket: AGAIN");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = rf_msg_send_once(sv[0], RF_MSG_READY, 0, 0, -1, data,
	    sizeof(data), 200);
	is_int(r, RF_ERR_AGAIN, "timeout 200 ms on a full socket: AGAIN");
	ok(elapsed_ms(&t0) >= 150, "it waited (%ld ms)", elapsed_ms(&t0));
	rf_chan_close(&b);
	is_int(rf_msg_send_once(sv[0], RF_MSG_READY, 0, 0, -1, NULL, 0, 100),
	    RF_ERR_EOF, "peer gone: EOF");
	close(sv[0]);
}

static void
test_type_names(void)
{
	is_str(rf_msg_type_name(RF_MSG_READY), "ready", "name of READY");
	is_str(rf_msg_type_name(RF_MSG_HANDOFF), "handoff", "name of HANDOFF");
	is_str(rf_msg_type_name(0), "unknown", "name of 0");
	is_str(rf_msg_type_name(RF_MSG_TYPE_MAX), "unknown", "name of MAX");
	is_str(rf_msg_type_name(0xffffffff), "unknown", "name of ~0");
}

int
main(void)
{
	char	 dir[] = "/tmp/msg-test.XXXXXX";
	int	 r;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 255;
	}
	snprintf(logpath, sizeof(logpath), "%s/log", dir);
	rf_log_init("msg-test");
	if (rf_log_set_target(RF_LOG_FILE, logpath, 0) != 0) {
		perror(logpath);
		return 255;
	}
	test_fd_and_data();
	test_compose_errors();
	test_queue();
	test_two_fds();
	test_many_fds();
	test_bad_records();
	test_passcred();
	test_eof();
	test_emfile();
	test_send_once();
	test_type_names();
	r = done_testing();
	rf_log_set_target(RF_LOG_STDERR, NULL, 0);
	unlink(logpath);
	rmdir(dir);
	return r;
}
