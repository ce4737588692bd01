/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Device tunnels held by this worker, and their channels (tunnel.c).
 *
 * A device's agent keeps one WebSocket (subprotocol
 * com.appinf.webtunnel.server/1.0) to the reflector; the worker that
 * accepted it owns the device, records so in the routing map, and opens
 * channels over it to ports on the device's target host, one per browser
 * or client connection.  Whoever opens a channel (proxy.c for a browser)
 * gets its events through struct rf_channel_ops and writes with
 * rf_channel_write.  Every call here is made from the worker's event loop;
 * nothing blocks.
 */
#ifndef RF_TUNNEL_H
#define RF_TUNNEL_H

#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

struct rf_tunnel;
struct rf_channel;
struct rf_wt_ext;

/*
 * Events of a channel, for the side that opened it.  arg is what was given
 * to rf_channel_open.  After failed() or closed() no other call comes and
 * the channel pointer is invalid.
 */
struct rf_channel_ops {
	/* OPEN_CONFIRM: data may flow both ways now. */
	void	(*opened)(void *arg);
	/* OPEN_FAULT or no answer in time: err is an RF_WT_ERR_* code. */
	void	(*failed)(void *arg, uint16_t err);
	/*
	 * Bytes from the device, valid during the call only.  Return 0, or
	 * -1 to abort the channel (closed() does not follow then).
	 */
	int	(*data)(void *arg, const void *p, size_t len);
	/* CLOSE from the device: it will send no more. */
	void	(*eof)(void *arg);
	/* ERROR from the device, or the tunnel went down (RF_WT_ERR_*). */
	void	(*closed)(void *arg, uint16_t err);
	/* The channel's send queue went below its low-water mark. */
	void	(*writable)(void *arg);
};

/* The tunnel of a device held by this worker, or NULL. */
struct rf_tunnel *rf_tunnel_find(const char *device);
/* A property the agent sent (httpPort, targetHost, name...), or NULL. */
const char *rf_tunnel_property(const struct rf_tunnel *, const char *name);
/* The device's web server port: httpPort, else 80. */
uint16_t rf_tunnel_http_port(const struct rf_tunnel *);

/*
 * Opens a channel to port on the device.  Data written before opened()
 * is held (up to the high-water mark) and sent after OPEN_CONFIRM.
 * RF_ERR_LIMIT when the tunnel has no free channel number.
 */
int	rf_channel_open(struct rf_tunnel *, uint16_t port,
	    const struct rf_channel_ops *, void *arg, struct rf_channel **);
/*
 * Queues bytes for the device; it takes them all.  RF_ERR_AGAIN when the
 * queue is now above its high-water mark: write no more until writable().
 */
int	rf_channel_write(struct rf_channel *, const void *, size_t);
/* CLOSE: half-close towards the device. */
void	rf_channel_shutdown(struct rf_channel *);
/* ERROR(NONE) to the device and forget the channel: no more callbacks. */
void	rf_channel_abort(struct rf_channel *);
/*
 * The reader of a channel cannot take more for now (its socket is full).
 * With the stock protocol this stops reading the whole tunnel until every
 * paused channel resumes (WEBTUNNEL.md: no per-channel flow control);
 * with the extension it stops only this channel's credit grants.
 */
void	rf_channel_pause(struct rf_channel *, int paused);

/*
 * The connection side (front.c).  rf_tunnel_open makes a tunnel for an
 * authenticated device on the connection wsi; properties are set, then
 * rf_tunnel_online registers it, takes ownership in the routing map and
 * closes an older tunnel of the device.  rf_tunnel_message takes one
 * whole WebSocket message (0, or -1: close the connection).
 * rf_tunnel_write writes queued frames while the socket takes them.
 * rf_tunnel_gone: the connection closed; the tunnel is freed.
 */
struct rf_tunnel *rf_tunnel_open(struct lws *wsi, const char *device,
	    const char *group, const char *peer, int keepalive,
	    const struct rf_wt_ext *);
/*
 * What this reflector announces in its 101 when the agent's upgrade
 * carried a valid RF_WT_EXT_HEADER; rf_tunnel_open then gets the agent's
 * announcement (NULL: the plain protocol).
 */
void	rf_tunnel_ext_ours(struct rf_wt_ext *);
int	rf_tunnel_set_property(struct rf_tunnel *, const char *name,
	    const char *value);
void	rf_tunnel_online(struct rf_tunnel *);
int	rf_tunnel_message(struct rf_tunnel *, const void *p, size_t len);
int	rf_tunnel_write(struct rf_tunnel *);
void	rf_tunnel_gone(struct rf_tunnel *);
/* Nothing of the tunnel's waits to be written. */
int	rf_tunnel_quiet(const struct rf_tunnel *);
/*
 * The connection goes on on another wsi, the same socket (front.c's own
 * TLS records): the tunnel writes there and its idle timer runs there.
 */
void	rf_tunnel_moved(struct rf_tunnel *, struct lws *wsi);
const char *rf_tunnel_device(const struct rf_tunnel *);
/* Another worker now holds device: close our older tunnel of it. */
void	rf_tunnel_device_taken(const char *device, uint32_t by_slot);
/* Devices online in this worker. */
int	rf_tunnel_count(void);

#endif
