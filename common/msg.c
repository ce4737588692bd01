/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The one owner of sendmsg/recvmsg with SCM_RIGHTS (see msg.h): framing of
 * internal messages, the per-channel write queue, and the checks that make
 * a bad record cost one logged RF_ERR_PROTO and never a leaked descriptor.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "msg.h"

/*
 * Room for this many descriptors in one received record.  We only ever
 * send one; the extra room lets a record with too many be seen as such
 * and closed, where a buffer for exactly one would hide the rest behind
 * MSG_CTRUNC.
 */
#define RF_MSG_RECV_FDS	8

union msg_cmsgbuf {
	struct cmsghdr	 hdr;
	unsigned char	 buf[CMSG_SPACE(sizeof(int) * RF_MSG_RECV_FDS)];
};

static const char *const msg_type_names[RF_MSG_TYPE_MAX] = {
	[RF_MSG_READY] = "ready",
	[RF_MSG_RELOAD] = "reload",
	[RF_MSG_RELOAD_RESULT] = "reload_result",
	[RF_MSG_REOPEN_LOGS] = "reopen_logs",
	[RF_MSG_STOP] = "stop",
	[RF_MSG_HANDOFF] = "handoff",
	[RF_MSG_DEVICE_TAKEN] = "device_taken",
	[RF_MSG_CONNECT] = "connect",
};

const char *
rf_msg_type_name(uint32_t type)
{
	if (type >= RF_MSG_TYPE_MAX || msg_type_names[type] == NULL)
		return "unknown";
	return msg_type_names[type];
}

void
rf_msg_clear(struct rf_msg *m)
{
	free(m->data);
	if (m->fd >= 0)
		close(m->fd);
	memset(&m->hdr, 0, sizeof(m->hdr));
	m->data = NULL;
	m->fd = -1;
}

void
rf_chan_init(struct rf_chan *ch, int fd)
{
	ch->fd = fd;
	TAILQ_INIT(&ch->outq);
	ch->queued = 0;
}

void
rf_chan_close(struct rf_chan *ch)
{
	struct rf_msg	*m;

	while ((m = TAILQ_FIRST(&ch->outq)) != NULL) {
		TAILQ_REMOVE(&ch->outq, m, entry);
		rf_msg_clear(m);
		free(m);
	}
	ch->queued = 0;
	if (ch->fd != -1)
		close(ch->fd);
	ch->fd = -1;
}

int
rf_chan_pending(const struct rf_chan *ch)
{
	return !TAILQ_EMPTY(&ch->outq);
}

/* What a sender may put in a header; the receiver checks the same. */
static int
msg_check_out(uint32_t type, const void *data, size_t len)
{
	if (len > RF_MSG_MAX_DATA)
		return RF_ERR_LIMIT;
	if (type == RF_MSG_NONE || type >= RF_MSG_TYPE_MAX ||
	    (data == NULL && len > 0))
		return RF_ERR_INVAL;
	return 0;
}

/*
 * One non-blocking sendmsg of header + data (+ fd).  SOCK_SEQPACKET sends
 * a record whole or not at all, so there is no partial write to resume.
 */
static int
msg_sendmsg(int sock, const struct rf_msg_hdr *hdr, const void *data,
    int fd)
{
	union msg_cmsgbuf	 cbuf;
	struct msghdr		 mh;
	struct iovec		 iov[2];
	struct cmsghdr		*cmsg;

	memset(&mh, 0, sizeof(mh));
	iov[0].iov_base = (void *)(uintptr_t)hdr;
	iov[0].iov_len = sizeof(*hdr);
	iov[1].iov_base = (void *)(uintptr_t)data;
	iov[1].iov_len = hdr->len;
	mh.msg_iov = iov;
	mh.msg_iovlen = hdr->len > 0 ? 2 : 1;
	if (fd >= 0) {
		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int));
		cmsg = CMSG_FIRSTHDR(&mh);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	while (sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) == -1) {
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return RF_ERR_AGAIN;
		if (errno == EPIPE || errno == ECONNRESET)
			return RF_ERR_EOF;
		return RF_ERR_SYS;
	}
	return 0;
}

int
rf_chan_flush(struct rf_chan *ch)
{
	struct rf_msg	*m;
	int		 r;

	while ((m = TAILQ_FIRST(&ch->outq)) != NULL) {
		if ((r = msg_sendmsg(ch->fd, &m->hdr, m->data, m->fd)) != 0)
			return r;
		TAILQ_REMOVE(&ch->outq, m, entry);
		ch->queued--;
		/* The record in flight holds its own reference to the fd. */
		rf_msg_clear(m);
		free(m);
	}
	return 0;
}

int
rf_chan_compose(struct rf_chan *ch, uint32_t type, uint32_t slot,
    uint32_t id, int fd, const void *data, size_t len)
{
	struct rf_msg	*m = NULL;
	int		 r;

	if ((r = msg_check_out(type, data, len)) != 0)
		goto out;
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (len > 0 && (m->data = malloc(len)) == NULL)) {
		r = RF_ERR_NOMEM;
		goto out;
	}
	if (len > 0)
		memcpy(m->data, data, len);
	m->hdr.type = type;
	m->hdr.len = (uint32_t)len;
	m->hdr.slot = slot;
	m->hdr.id = id;
	m->fd = fd >= 0 ? fd : -1;
	fd = -1;
	TAILQ_INSERT_TAIL(&ch->outq, m, entry);
	ch->queued++;
	m = NULL;
	/* A full socket only means the message waits for POLLOUT. */
	if ((r = rf_chan_flush(ch)) == RF_ERR_AGAIN)
		r = 0;
out:
	if (m != NULL) {
		free(m->data);
		free(m);
	}
	if (fd >= 0)
		close(fd);
	return r;
}

/* What one recvmsg brought in, before it is checked. */
struct msg_raw {
	unsigned char	 buf[sizeof(struct rf_msg_hdr) + RF_MSG_MAX_DATA];
	ssize_t		 n;		/* bytes of the record */
	int		 flags;		/* msg_flags */
	int		 fds[RF_MSG_RECV_FDS];
	int		 nfds;
	int		 badcmsg;	/* a cmsg other than SCM_RIGHTS */
};

/*
 * Takes every descriptor out of the control data, whatever else is wrong
 * with the record, so that the caller can close them all.
 */
static void
msg_collect_fds(struct msghdr *mh, struct msg_raw *raw)
{
	struct cmsghdr	*cmsg;
	unsigned char	*p, *lim;

	for (cmsg = CMSG_FIRSTHDR(mh); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(mh, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS) {
			raw->badcmsg = 1;
			continue;
		}
		/* Trust neither cmsg_len nor the count past our buffer. */
		p = CMSG_DATA(cmsg);
		lim = (unsigned char *)cmsg + cmsg->cmsg_len;
		if (lim > (unsigned char *)mh->msg_control + mh->msg_controllen)
			lim = (unsigned char *)mh->msg_control +
			    mh->msg_controllen;
		for (; p + sizeof(int) <= lim &&
		    raw->nfds < RF_MSG_RECV_FDS; p += sizeof(int))
			memcpy(&raw->fds[raw->nfds++], p, sizeof(int));
	}
}

static int
msg_recvmsg(int sock, struct msg_raw *raw)
{
	union msg_cmsgbuf	 cbuf;
	struct msghdr		 mh;
	struct iovec		 iov;

	/*
	 * At EOF the kernel returns without touching msg_controllen: zeroed
	 * control data then reads as no descriptors rather than stack junk.
	 */
	memset(&cbuf, 0, sizeof(cbuf));
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = raw->buf;
	iov.iov_len = sizeof(raw->buf);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf.buf;
	mh.msg_controllen = sizeof(cbuf.buf);
	while ((raw->n = recvmsg(sock, &mh,
	    MSG_CMSG_CLOEXEC | MSG_DONTWAIT)) == -1) {
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return RF_ERR_AGAIN;
		if (errno == ECONNRESET)
			return RF_ERR_EOF;
		return RF_ERR_SYS;
	}
	raw->flags = mh.msg_flags;
	msg_collect_fds(&mh, raw);
	return 0;
}

/* Why a received record is unacceptable, or NULL if it is fine. */
static const char *
msg_check_in(const struct msg_raw *raw, const struct rf_msg_hdr *hdr)
{
	if (raw->flags & MSG_CTRUNC)
		return "control data truncated (too many fds, or EMFILE)";
	if (raw->flags & MSG_TRUNC)
		return "record larger than the largest message";
	if (raw->badcmsg)
		return "control message other than SCM_RIGHTS";
	if (raw->nfds > 1)
		return "more than one fd";
	if ((size_t)raw->n < sizeof(*hdr))
		return "record shorter than the header";
	if (hdr->len > RF_MSG_MAX_DATA)
		return "data length over RF_MSG_MAX_DATA";
	if (hdr->len != (size_t)raw->n - sizeof(*hdr))
		return "data length does not match the record";
	if (hdr->type == RF_MSG_NONE || hdr->type >= RF_MSG_TYPE_MAX)
		return "unknown message type";
	return NULL;
}

static void
msg_close_fds(struct msg_raw *raw)
{
	int	 i;

	for (i = 0; i < raw->nfds; i++)
		close(raw->fds[i]);
	raw->nfds = 0;
}

int
rf_chan_recv(struct rf_chan *ch, struct rf_msg *m)
{
	struct msg_raw		*raw;
	const char		*why;
	int			 r;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	/* 8 KiB of record: keep it off the stack of a deep event loop. */
	if ((raw = calloc(1, sizeof(*raw))) == NULL)
		return RF_ERR_NOMEM;
	if ((r = msg_recvmsg(ch->fd, raw)) != 0)
		goto out;
	/* At EOF msg_flags may still hold the MSG_CMSG_CLOEXEC we passed. */
	if (raw->n == 0 && raw->nfds == 0 &&
	    (raw->flags & (MSG_TRUNC | MSG_CTRUNC)) == 0) {
		r = RF_ERR_EOF;
		goto out;
	}
	memcpy(&m->hdr, raw->buf, raw->n >= (ssize_t)sizeof(m->hdr) ?
	    sizeof(m->hdr) : 0);
	if ((why = msg_check_in(raw, &m->hdr)) != NULL) {
		error_f("dropped a message: %s (%zd bytes, %d fds)", why,
		    raw->n, raw->nfds);
		memset(&m->hdr, 0, sizeof(m->hdr));
		r = RF_ERR_PROTO;
		goto out;
	}
	if (m->hdr.len > 0 && (m->data = malloc(m->hdr.len)) == NULL) {
		memset(&m->hdr, 0, sizeof(m->hdr));
		r = RF_ERR_NOMEM;
		goto out;
	}
	if (m->hdr.len > 0)
		memcpy(m->data, raw->buf + sizeof(m->hdr), m->hdr.len);
	if (raw->nfds == 1) {
		m->fd = raw->fds[0];
		raw->nfds = 0;
	}
out:
	msg_close_fds(raw);
	free(raw);
	return r;
}

static long long
msg_now_ms(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return 0;
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Waits for POLLOUT until deadline (or forever if timeout_ms < 0), then
 * tries again: another writer may take the room first, hence the loop.
 */
int
rf_msg_send_once(int sock, uint32_t type, uint32_t slot, uint32_t id,
    int fd, const void *data, size_t len, int timeout_ms)
{
	struct rf_msg_hdr	 hdr;
	struct pollfd		 pfd;
	long long		 deadline, left;
	int			 r;

	if ((r = msg_check_out(type, data, len)) != 0)
		return r;
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = (uint32_t)len;
	hdr.slot = slot;
	hdr.id = id;
	deadline = msg_now_ms() + timeout_ms;
	while ((r = msg_sendmsg(sock, &hdr, data, fd)) == RF_ERR_AGAIN) {
		left = timeout_ms < 0 ? -1 : deadline - msg_now_ms();
		if (timeout_ms >= 0 && left <= 0)
			return RF_ERR_AGAIN;
		pfd.fd = sock;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		if (poll(&pfd, 1, (int)left) == -1 && errno != EINTR)
			return RF_ERR_SYS;
	}
	return r;
}
