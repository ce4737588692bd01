/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Browser forwarding on device hosts (proxy.c): an lws raw protocol,
 * "rf-proxy", that reads HTTP/1.1 requests from a browser's connection to
 * https://<device>.<domain>/, answers what is the reflector's own, and
 * forwards the rest over a channel of the device's tunnel.
 */
#ifndef RF_PROXY_H
#define RF_PROXY_H

#include <stddef.h>

#include <libwebsockets.h>

#define RF_PROXY_PROTOCOL	"rf-proxy"

/* The protocol's callback and per-session size, for the protocol list. */
int	rf_proxy_callback(struct lws *, enum lws_callback_reasons, void *user,
	    void *in, size_t len);
size_t	rf_proxy_session_size(void);
/*
 * Called right after a device-host connection was adopted into "rf-proxy"
 * (LWS_CALLBACK_RAW_ADOPT has run by then): the device it was routed for,
 * the peer's "addr:port", and whether it is TLS.  0, or -1 if wsi is not
 * an rf-proxy connection.
 */
int	rf_proxy_adopted(struct lws *wsi, const char *device, const char *peer,
	    int tls);
/*
 * The TLS handshake ended, maybe with the first request read ahead
 * (evloop.h): it is read at the end of the iteration.
 */
void	rf_proxy_want_read(struct lws *wsi);

#endif
