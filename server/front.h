/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The portal host's connections over lws raw sockets: our own HTTP/1.1,
 * the reflector's pages and device-tunnel upgrades (front.c).
 */
#ifndef RF_FRONT_H
#define RF_FRONT_H

#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

int	rf_front_callback(struct lws *, enum lws_callback_reasons, void *user,
	    void *in, size_t len);
size_t	rf_front_session_size(void);
/*
 * Closes a device tunnel's connection with a WebSocket close frame (code,
 * reason), after what is queued before it has gone out.
 */
void	rf_front_ws_close(struct lws *, uint16_t code, const char *reason);
/* The worker is draining: an idle connection closes now. */
void	rf_front_drain(struct lws *);

#endif
