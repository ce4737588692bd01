/* SPDX-License-Identifier: BSD-2-Clause */
/* The event loop under libwebsockets: see evloop.h. */
#include <string.h>

#include <ev.h>
#include <libwebsockets.h>

#include "err.h"
#include "evloop.h"

int
rf_evloop_init(struct rf_evloop *l, struct lws_context_creation_info *info)
{
	memset(l, 0, sizeof(*l));
	/*
	 * EVFLAG_NOENV: LIBEV_FLAGS in the environment must not choose
	 * select(2) for a daemon.  EVFLAG_NOSIGMASK: we own the signal mask.
	 */
	if ((l->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOENV |
	    EVFLAG_NOSIGMASK)) == NULL)
		return RF_ERR_NOMEM;
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
rf_evloop_kick(struct lws_context *ctx)
{
	lws_cancel_service(ctx);
}

int
rf_evloop_choked(struct lws *wsi)
{
	return lws_partial_buffered(wsi);
}

void
rf_evloop_free(struct rf_evloop *l)
{
	if (l->loop != NULL)
		ev_loop_destroy(l->loop);
	l->loop = NULL;
}
