/* SPDX-License-Identifier: BSD-2-Clause */
/* The event loop under libwebsockets: see evloop.h. */
#include <sys/socket.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <libwebsockets.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "err.h"
#include "evloop.h"

/*
 * One pass runs at most this many flushes; a flush may queue others (a
 * write to the tunnel that makes a channel writable, which answers), and
 * those left over run at the next pass, without the loop blocking.
 */
#define RF_EVLOOP_FLUSH_PASS	4096

static void
run_flushes(struct rf_evloop *l)
{
	struct rf_evflush *fl;
	int n = 0;

	while ((fl = TAILQ_FIRST(&l->flushes)) != NULL &&
	    n++ < RF_EVLOOP_FLUSH_PASS) {
		TAILQ_REMOVE(&l->flushes, fl, entry);
		fl->queued = 0;
		fl->fn(fl);
	}
	if (TAILQ_EMPTY(&l->flushes))
		ev_idle_stop(l->loop, l->idle);
	else
		ev_idle_start(l->loop, l->idle);
}

static void
on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop;
	(void)revents;
	run_flushes(w->data);
}

/* Only there to keep the loop from blocking while flushes wait. */
static void
on_idle(struct ev_loop *loop, ev_idle *w, int revents)
{
	(void)revents;
	ev_idle_stop(loop, w);
}

int
rf_evloop_init(struct rf_evloop *l, struct lws_context_creation_info *info)
{
	memset(l, 0, sizeof(*l));
	TAILQ_INIT(&l->flushes);
	if ((l->prepare = calloc(1, sizeof(*l->prepare))) == NULL ||
	    (l->idle = calloc(1, sizeof(*l->idle))) == NULL) {
		rf_evloop_free(l);
		return RF_ERR_NOMEM;
	}
	/*
	 * EVFLAG_NOENV: LIBEV_FLAGS in the environment must not choose
	 * select(2) for a daemon.  EVFLAG_NOSIGMASK: we own the signal mask.
	 */
	if ((l->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOENV |
	    EVFLAG_NOSIGMASK)) == NULL) {
		rf_evloop_free(l);
		return RF_ERR_NOMEM;
	}
	ev_prepare_init(l->prepare, on_prepare);
	l->prepare->data = l;
	ev_prepare_start(l->loop, l->prepare);
	ev_idle_init(l->idle, on_idle);
	l->foreign[0] = l->loop;
	info->options |= LWS_SERVER_OPTION_LIBEV;
	info->foreign_loops = l->foreign;
	return 0;
}

void
rf_evloop_once(struct rf_evloop *l, int wait)
{
	ev_run(l->loop, wait ? EVRUN_ONCE : EVRUN_NOWAIT);
}

void
rf_evloop_flush_later(struct rf_evloop *l, struct rf_evflush *fl,
    void (*fn)(struct rf_evflush *))
{
	fl->fn = fn;
	if (fl->queued)
		return;
	fl->queued = 1;
	TAILQ_INSERT_TAIL(&l->flushes, fl, entry);
}

void
rf_evloop_flush_cancel(struct rf_evloop *l, struct rf_evflush *fl)
{
	if (!fl->queued)
		return;
	TAILQ_REMOVE(&l->flushes, fl, entry);
	fl->queued = 0;
}

void
rf_evloop_kick(struct lws_context *ctx)
{
	lws_cancel_service(ctx);
}

/* One SSL_write or send(2): the bytes taken, 0 for none now, or -1. */
static long
write_once(struct lws *wsi, SSL *ssl, const unsigned char *p, size_t len)
{
	ssize_t n;
	int r;

	if (len > INT_MAX)
		len = INT_MAX;
	if (ssl != NULL) {
		ERR_clear_error();
		if ((r = SSL_write(ssl, p, (int)len)) > 0)
			return r;
		switch (SSL_get_error(ssl, r)) {
		case SSL_ERROR_WANT_WRITE:
		case SSL_ERROR_WANT_READ:
			return 0;
		default:
			ERR_clear_error();
			return -1;
		}
	}
	if ((n = send(lws_get_socket_fd(wsi), p, len, MSG_DONTWAIT |
	    MSG_NOSIGNAL)) >= 0)
		return (long)n;
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ?
	    0 : -1;
}

long
rf_evloop_write(struct lws *wsi, const void *p, size_t len)
{
	const unsigned char *b = p;
	size_t done = 0;
	SSL *ssl;
	long n;

	if (len == 0 || lws_partial_buffered(wsi))
		return 0;
	/* One record at a time, each one taken or kept whole. */
	if ((ssl = lws_get_ssl(wsi)) != NULL)
		SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
		    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	while (done < len) {
		if ((n = write_once(wsi, ssl, b + done, len - done)) < 0)
			return -1;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (long)done;
}

/* A record's plaintext at most: SSL_read returns one record at a time. */
#define TLS_RECORD_MAX	(16 * 1024)

/* The next record OpenSSL holds: its bytes, 0 for none whole, or -1. */
static long
tls_more(struct lws *wsi, void *buf, size_t len)
{
	SSL	*ssl;
	int	 r;

	if ((ssl = lws_get_ssl(wsi)) == NULL || !SSL_has_pending(ssl))
		return 0;
	ERR_clear_error();
	if ((r = SSL_read(ssl, buf, len > INT_MAX ? INT_MAX : (int)len)) > 0)
		return r;
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return 0;
	default:
		ERR_clear_error();
		return -1;
	}
}

int
rf_evloop_tls_drain(struct lws *wsi, int (*can)(void *),
    int (*rx)(void *, const void *, size_t), void *arg)
{
	unsigned char	 buf[TLS_RECORD_MAX];
	long		 n;

	while (can(arg)) {
		if ((n = tls_more(wsi, buf, sizeof(buf))) <= 0)
			return n < 0 ? -1 : 0;
		if (rx(arg, buf, (size_t)n) != 0)
			return -1;
	}
	return 0;
}

void
rf_evloop_free(struct rf_evloop *l)
{
	if (l->loop != NULL) {
		if (l->prepare != NULL)
			ev_prepare_stop(l->loop, l->prepare);
		if (l->idle != NULL)
			ev_idle_stop(l->loop, l->idle);
		ev_loop_destroy(l->loop);
	}
	free(l->prepare);
	free(l->idle);
	l->loop = NULL;
	l->prepare = NULL;
	l->idle = NULL;
}
