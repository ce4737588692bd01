/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The internal message channel between reflector processes (master and
 * workers, worker and worker): one framing for all of them, in the manner
 * of OpenBSD's imsg.  A message is a fixed header, up to RF_MSG_MAX_DATA
 * bytes of metadata, and at most one file descriptor, sent as one
 * SOCK_SEQPACKET record so that the descriptor and its metadata always
 * arrive together.
 *
 * This module alone calls sendmsg/recvmsg with SCM_RIGHTS.  Writes are
 * queued and flushed when the socket is writable, never assumed to
 * complete.  The receiver rejects truncated records and truncated control
 * data, and closes every descriptor that came with a rejected message, so
 * a bad message never leaks a descriptor.  The peer is one of our own
 * processes: callers treat RF_ERR_PROTO from it as a bug.
 */
#ifndef RF_MSG_H
#define RF_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

enum rf_msg_type {
	RF_MSG_NONE = 0,
	RF_MSG_READY,		/* worker -> master: listening and serving */
	RF_MSG_RELOAD,		/* master -> worker: fd = validated config */
	RF_MSG_RELOAD_RESULT,	/* worker -> master: data = u32 status */
	RF_MSG_REOPEN_LOGS,	/* master -> worker: reopen the log file */
	RF_MSG_STOP,		/* master -> worker: stop accepting, drain */
	RF_MSG_HANDOFF,		/* worker -> worker: fd = client connection */
	RF_MSG_DEVICE_TAKEN,	/* worker -> worker: data = device id, NUL */
	RF_MSG_CONNECT,		/* worker -> worker: fd = one end of a
				   socketpair carrying a CONNECT tunnel's
				   plaintext; data = struct rf_connect_meta
				   (server/front.h) */
	RF_MSG_TYPE_MAX
};

#define RF_MSG_MAX_DATA		8192

struct rf_msg_hdr {
	uint32_t	type;		/* enum rf_msg_type */
	uint32_t	len;		/* bytes of data after the header */
	uint32_t	slot;		/* sender's worker slot, or ~0 for master */
	uint32_t	id;		/* sender's choice (generation, sequence) */
};

struct rf_msg {
	struct rf_msg_hdr	 hdr;
	int			 fd;	/* -1 if none; owned by the holder */
	unsigned char		*data;	/* hdr.len bytes, owned */
	TAILQ_ENTRY(rf_msg)	 entry;
};

struct rf_chan {
	int			 fd;	/* SOCK_SEQPACKET, non-blocking */
	TAILQ_HEAD(, rf_msg)	 outq;	/* not yet sent */
	size_t			 queued; /* messages in outq */
};

/* Takes fd (a non-blocking SOCK_SEQPACKET socket); never fails. */
void	rf_chan_init(struct rf_chan *, int fd);
/* Closes the socket and every queued descriptor; frees the queue. */
void	rf_chan_close(struct rf_chan *);
/*
 * Queues a message and tries to send the queue.  fd (or -1) is taken over
 * in every case: closed once sent, or on error.  RF_ERR_LIMIT for len over
 * RF_MSG_MAX_DATA; a full socket is not an error (the message waits).
 */
int	rf_chan_compose(struct rf_chan *, uint32_t type, uint32_t slot,
	    uint32_t id, int fd, const void *data, size_t len);
/*
 * Sends what is queued: 0 when the queue is empty, RF_ERR_AGAIN while some
 * remains (poll for POLLOUT), RF_ERR_EOF if the peer is gone, RF_ERR_SYS.
 */
int	rf_chan_flush(struct rf_chan *);
/* 1 while messages wait to be sent. */
int	rf_chan_pending(const struct rf_chan *);
/*
 * Receives one message into *m (cleared first; free with rf_msg_clear):
 * 0, RF_ERR_AGAIN (nothing to read), RF_ERR_EOF, RF_ERR_PROTO (a
 * malformed record was read and dropped, its descriptors closed), or
 * RF_ERR_SYS.
 */
int	rf_chan_recv(struct rf_chan *, struct rf_msg *m);
/* Frees data and closes fd if still held. */
void	rf_msg_clear(struct rf_msg *);
const char *rf_msg_type_name(uint32_t);

/*
 * Sends one message on a socket shared by several writers (a worker's
 * hand-off inbox): blocking up to timeout_ms for room, never queued, since
 * an inbox has no single owner to flush it.  The fd is not closed.
 */
int	rf_msg_send_once(int sock, uint32_t type, uint32_t slot, uint32_t id,
	    int fd, const void *data, size_t len, int timeout_ms);

#endif
