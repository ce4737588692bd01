/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What rfagent.c (the agent object, timers, reconnects) and tunnel.c (the
 * WebTunnel protocol over one device's WebSocket, and the channels to the
 * target) share.  Not installed; firmware uses rfagent.h.
 */
#ifndef RF_AGENT_INT_H
#define RF_AGENT_INT_H

#include <sys/queue.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "buf.h"
#include "evloop.h"
#include "rfagent.h"
#include "tlsraw.h"
#include "wsclient.h"
#include "wslink.h"
#include "ws.h"
#include "wt.h"

/*
 * Per-channel queues: reading from one side stops above the high water
 * mark and resumes below the low one (PLATFORM-NOTES: 512 KB / 128 KB kept
 * a slow reader's queue under ~600 KB without spinning).
 */
#define AGENT_Q_HIGH		(512 * 1024)
#define AGENT_Q_LOW		(128 * 1024)
/* Largest message accepted from the reflector (a stock one sends 2052). */
#define AGENT_RX_MAX		(64 * 1024 + 6)
/*
 * The extension (reflector-webtunnel(7)): the DATA payload we accept and
 * the window we grant the reflector on each channel.
 */
#define AGENT_EXT_FRAME		RF_WT_EXT_FRAME_MAX
#define AGENT_EXT_WINDOW	(512 * 1024)
/* The largest frame we send: a DATA header and an extension payload. */
#define AGENT_TX_MAX		(RF_WT_EXT_FRAME_MAX + RF_WT_HDR_MAX)
#define AGENT_TUNNEL_PROTO	"com.appinf.webtunnel.server/1.0"
/* The lws raw protocol the tunnel's connection runs on (wslink.h). */
#define AGENT_TUNNEL_LWS	"rf-agent-tunnel"
#define AGENT_TARGET_PROTO	"rf-agent-target"

enum agent_chan_state {
	CHAN_CONNECTING,	/* waiting for the target's connect (and TLS) */
	CHAN_OPEN,		/* relaying */
};

struct agent_chan {
	TAILQ_ENTRY(agent_chan)	 entry;
	struct agent_dev	*dev;
	enum agent_chan_state	 state;
	uint16_t		 id;
	uint16_t		 port;
	struct lws		*wsi;		/* the target; NULL once gone */
	struct rf_tlsraw	*tls;		/* TLS to the target, or NULL */
	struct rf_wsc_q		 to_target;
	struct rf_wsc_q		 to_tunnel;
	int64_t			 deadline;	/* connect, in usec */
	unsigned int		 confirm:1;	/* OPEN_CONFIRM to send */
	unsigned int		 peer_closed:1;	/* CLOSE received */
	unsigned int		 target_gone:1;	/* the target closed */
	unsigned int		 close_sent:1;
	unsigned int		 shut_wr:1;	/* FIN sent to the target */
	unsigned int		 paused:1;	/* target reading stopped */
	unsigned int		 over:1;	/* to_target above high water */
	unsigned int		 in_connect:1;	/* inside lws connect */
	unsigned int		 want_tls:1;	/* TLS once connected */
	int			 fault;		/* set by a failed connect */
	uint32_t		 credit;	/* ext: we may send */
	uint32_t		 rx_avail;	/* ext: the reflector may send */
	uint32_t		 rx_ungranted;	/* ext: written, not granted */
	struct rf_evflush	 flush;		/* writes, end of iteration */
	int			 dead;		/* a flush failed: close */
};

/* A frame without payload waiting for the tunnel (faults, errors). */
struct agent_ctrl {
	STAILQ_ENTRY(agent_ctrl) entry;
	uint8_t			 op;
	uint16_t		 channel;
	uint32_t		 arg;		/* error code, or CREDIT */
};

struct agent_dev {
	struct rf_agent		*agent;
	struct rf_agent_device	 conf;		/* own copy */
	struct rf_agent_status	 st;
	struct lws		*wsi;		/* the tunnel, once up */
	struct lws		*cwsi;		/* the tunnel, from connect */
	struct rf_wsl		 link;		/* its WebSocket */
	struct rf_evflush	 rxflush;	/* resume reading, end of iteration */
	struct rf_buf		 tx;		/* framed, not yet taken */
	unsigned int		 failures;	/* in a row */
	lws_sorted_usec_list_t	 sul_retry;
	struct rf_wsc_ka	 ka;		/* keep-alive timing */
	int			 ping_due;
	int			 established;
	struct rf_evflush	 flush;		/* writes, end of iteration */
	int			 dead;		/* a flush failed: close */
	int			 reason_set;	/* last_error is the reason */
	int64_t			 connect_start;	/* of cwsi, for handshake_timeout */
	int			 paused;	/* tunnel reading stopped */
	unsigned int		 nover;		/* channels over high water */
	TAILQ_HEAD(, agent_chan) chans;
	STAILQ_HEAD(, agent_ctrl) ctrl;
	struct agent_chan	*next;		/* round robin start */
	int			 ext;		/* the extension is on */
	size_t			 tx_frame;	/* DATA payload max */
	uint32_t		 tx_window;	/* the reflector's window */
};

/*
 * The tunnel's send batch (tunnel.c): frames up to 64 KiB, which OpenSSL
 * writes as four full TLS records, and room for one largest frame.
 */
#define AGENT_TX_BATCH		(AGENT_TX_MAX + RF_WS_HEADER_MAX)
#define AGENT_TX_BUF		(LWS_PRE + AGENT_TX_BATCH)

struct rf_agent {
	struct rf_agent_settings s;
	struct rf_agent_url	 url;
	struct lws_context	*ctx;
	struct rf_evloop	 loop;		/* under ctx (evloop.h) */
	struct lws_vhost	*vh_tunnel;
	struct lws_vhost	*vh_target;
	SSL_CTX			*tunnel_tls;	/* verifies the reflector */
	struct rf_wsl_proxy	 proxy;		/* host "": none */
	SSL_CTX			*target_tls;	/* made at the first TLS target */
	struct agent_dev	**devs;
	size_t			 ndevs;
	lws_sorted_usec_list_t	 sul_tick;
	int			 started;
	int			 stopping;
	rf_agent_event_fn	*evfn;
	void			*evarg;
	unsigned char		 txbuf[AGENT_TX_BUF];	/* tunnel_writeable */
};

/* tunnel.c */
extern const struct lws_protocols rf_agent_tunnel_protocols[];
extern const struct lws_protocols rf_agent_target_protocols[];
/* Opens the device's tunnel; failures go through the reconnect path. */
void	agent_tunnel_connect(struct agent_dev *);
/* Closes the tunnel and every channel now, without callbacks to the dev. */
void	agent_tunnel_drop(struct agent_dev *);
/* Once a second: keep-alive, dead tunnels, channel connect timeouts. */
void	agent_tunnel_tick(struct agent_dev *, int64_t now);

/* rfagent.c */
/* The tunnel is up; or it went down or failed (reason for the log). */
void	agent_dev_up(struct agent_dev *);
void	agent_dev_down(struct agent_dev *, const char *reason);
void	agent_dev_event(struct agent_dev *, enum rf_agent_event,
	    const char *detail);

#endif
