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
/*
 * A device tunnel has frames to send, or a TLS handshake ended with input
 * read ahead (evloop.h): at the end of the iteration they go out and the
 * input is read.
 */
void	rf_front_want_write(struct lws *);
/* Reading on (1) or off: a device tunnel's pause (tunnel.c). */
void	rf_front_rx_flow(struct lws *, int on);
/*
 * Writes for a device tunnel through its TLS, OpenSSL's or ours (front.c),
 * with rf_evloop_write's rules and result.
 */
long	rf_front_send(struct lws *, const void *, size_t);

/*
 * A CONNECT tunnel relayed from the worker that accepted it to the worker
 * that holds the device (RF_MSG_CONNECT, see front.c): the metadata that
 * goes with the socketpair end.  Same host, native order.
 */
#define RF_CONNECT_VERSION	1
struct rf_connect_meta {
	uint32_t	version;
	uint32_t	from_slot;
	uint32_t	port;
	uint32_t	pad;
	char		device[64];
	char		user[72];
	char		peer[64];
};
/* route.c got an RF_MSG_CONNECT: takes fd in every case. */
void	rf_front_connect_adopt(int fd, const void *data, size_t len,
	    uint32_t from_slot);

#endif
