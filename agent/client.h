/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * reflector-client's modules: client.c (the command line, the modes, the
 * local listener and the command it runs), client-conf.c (client.yml, the
 * credentials and the device's address), client-tunnel.c (one client
 * tunnel per local connection and the relay).  The WebSocket they share
 * with the agent is wslink.h's, the rest of the plumbing wsclient.h's.
 */
#ifndef RF_CLIENT_H
#define RF_CLIENT_H

#include <sys/queue.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "buf.h"
#include "tlsraw.h"
#include "wsclient.h"
#include "wslink.h"
#include "ws.h"

/* The subprotocol; the lws raw protocol its connections run on. */
#define CLIENT_PROTO		"com.appinf.webtunnel.client/1.0"
#define CLIENT_TUNNEL_PROTO	"rf-client-tunnel"
#define CLIENT_LOCAL_PROTO	"rf-client-local"
#define CLIENT_LISTEN_PROTO	"rf-client-listen"
#define CLIENT_CONNECT_PROTO	"rf-client-connect"

/* --------------------------------------------------------- settings -- */

/* What client.yml, the environment and the options say. */
struct client_settings {
	char		*reflector;	/* URL; names bare device ids */
	char		*ca_file;	/* NULL: the system's CAs */
	char		*proxy_url;	/* http://host:port, or NULL */
	char		*proxy_username;
	char		*proxy_password;
	char		*username;	/* client.yml's */
	char		*password;	/* client.yml's, for username */
	char		*token;		/* client.yml's */
	int		 keepalive;	/* seconds */
	int		 connect_timeout; /* seconds */
};

/* Where the tunnels go. */
struct client_target {
	char		 host[256];	/* the device's host: dev1.example.net */
	char		 id[64];	/* its first label: dev1 */
	char		 connect_host[256]; /* the reflector's address */
	int		 connect_port;
	char		 host_header[300]; /* host[:port], also SNI */
	char		 portal[300];	/* the reflector's own host[:port] */
	int		 tls;
	uint16_t	 port;		/* on the device */
};

/* client-conf.c */

/*
 * Loads client.yml from path, or the default path if path is NULL (a
 * missing default file is no error).  Refuses a file that others may read
 * or write, as ssh does.  Errors are printed; 0 or -1.
 */
int	client_conf_load(const char *path, struct client_settings *);
void	client_conf_free(struct client_settings *);
/* ~/.config/reflector/client.yml, honouring XDG_CONFIG_HOME. */
int	client_conf_default_path(char *buf, size_t len);

/*
 * Resolves "dev1", "dev1.example.net[:port]" or "https://dev1...[:port]/"
 * against the reflector URL (may be NULL) into t (port 0).  Errors are
 * printed; 0 or -1.
 */
int	client_target_parse(const char *device, const char *reflector,
	    struct client_target *t);
/* "ssh", "vnc", "http"... or a number; 0 if neither. */
uint16_t client_port_number(const char *);

/* How the user proves who they are. */
struct client_creds {
	char		 user[128];	/* "" with a token */
	char		 authorization[1024]; /* "Basic ..." / "Bearer ..." */
	int		 basic;
	char		*password;	/* for the environment of ssh */
	char		*token;
};

/*
 * Picks the credentials: -t token, then -u user, then REFLECTOR_TOKEN,
 * REFLECTOR_USER, then client.yml's token, username.  A user's password
 * comes from REFLECTOR_PASSWORD, client.yml (for its own username), or a
 * prompt on the terminal.  what names the device in the prompt.  Errors
 * are printed; 0 or -1.
 */
int	client_creds_get(const char *opt_user, const char *opt_token,
	    const struct client_settings *, const char *what,
	    struct client_creds *);
void	client_creds_clear(struct client_creds *);

/* ---------------------------------------------------------- tunnels -- */

enum client_conn_state {
	CONN_CONNECTING,	/* the handshake with the reflector */
	CONN_OPEN,		/* relaying */
	CONN_DONE,		/* the tunnel is gone; flushing to local */
};

struct client;

struct client_conn {
	TAILQ_ENTRY(client_conn) entry;
	struct client		*cl;
	enum client_conn_state	 state;
	unsigned int		 serial;
	struct lws		*ws;		/* the tunnel (or CONNECT) */
	struct rf_wsl		 link;		/* the tunnel's WebSocket */
	struct rf_tlsraw	*tls;		/* CONNECT over TLS: ours */
	struct lws		*lin;		/* local side we read */
	struct lws		*lout;		/* local side we write */
	int			 in_fd;
	int			 out_fd;
	struct rf_wsc_q		 to_ws;
	struct rf_buf		 tx;		/* framed, not yet taken */
	struct rf_wsc_q		 to_local;
	struct rf_wsc_ka	 ka;
	int64_t			 deadline;	/* for the handshake, µs */
	lws_sorted_usec_list_t	 sul_out;	/* re-arms lout's POLLOUT */
	lws_sorted_usec_list_t	 sul_rx;	/* resumes reading the link */
	unsigned char		*head;		/* CONNECT: the answer so far */
	size_t			 headlen;
	unsigned int		 local_eof:1;	/* read 0 from local */
	unsigned int		 close_ws:1;	/* end the tunnel once flushed */
	unsigned int		 lin_paused:1;
	unsigned int		 ws_paused:1;
	unsigned int		 ping_due:1;
	unsigned int		 request_sent:1; /* CONNECT sent */
	unsigned int		 failed:1;	/* reported an error */
	unsigned int		 in_connect:1;	/* inside lws's connect call */
	unsigned int		 fatal_end:1;	/* to tell on_end, when over */
	unsigned int		 ext:1;		/* the extension is on */
	unsigned int		 close_sent:1;	/* our CLOSE is on its way */
	unsigned int		 shut_wr:1;	/* then our FIN */
	unsigned int		 link_told:1;	/* its end was reported */
	size_t			 ws_tx_max;	/* largest message we send */
	unsigned long long	 bytes_up;
	unsigned long long	 bytes_down;
};

/*
 * Messages to a stock reflector are at most 2 KiB; a send batch gathers
 * them to 64 KiB, four full TLS records (client-tunnel.c).  With the
 * extension we take messages of up to CLIENT_EXT_FRAME bytes and send
 * them as large as the reflector takes, one to a batch.  What we take is
 * capped far above what anyone sends (client-tunnel.c says why).
 */
#define CLIENT_WS_MSG_MAX	2048
#define CLIENT_EXT_FRAME	RF_WT_EXT_FRAME_MAX	/* wt.h */
#define CLIENT_TX_BUF		(LWS_PRE + 64 * 1024)
#define CLIENT_RX_MAX		(1024 * 1024)

struct client {
	struct client_target	 t;
	const char		*authorization;
	int			 use_connect;	/* CONNECT, not a WebSocket */
	int			 keepalive;
	int			 connect_timeout; /* s, for each handshake */
	struct lws_context	*ctx;
	struct lws_vhost	*vh;
	SSL_CTX			*tls;		/* checks https:// reflectors */
	struct rf_wsl_proxy	 proxy;		/* host "": none */
	char			 portal_name[256]; /* t.portal, no port */
	TAILQ_HEAD(, client_conn) conns;
	unsigned int		 serial;
	lws_sorted_usec_list_t	 sul_tick;
	/*
	 * Called once per connection when it is over; failed is set when
	 * it ended with an error (already printed), fatal when no later
	 * connection can do better (credentials, certificate, policy).
	 */
	void			(*on_end)(struct client *, struct client_conn *,
				    int failed, int fatal);
	unsigned char		 txbuf[CLIENT_TX_BUF];	/* tunnel_writeable */
};

/* client-tunnel.c */
extern const struct lws_protocols client_protocols[];
/* The context, the vhost, TLS and the proxy; errors printed; 0 or -1. */
int	client_start(struct client *, const struct client_settings *);
void	client_stop(struct client *);
/*
 * A tunnel for the local side in_fd/out_fd (the same socket, or stdin and
 * stdout), both non-blocking; they are closed when the connection ends.
 */
struct client_conn *client_conn_new(struct client *, int in_fd, int out_fd);

/* client.c */
/* "reflector-client: " and the message on stderr. */
void	client_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* For the listener's lws callback. */
int	client_listen_cb(struct lws *, enum lws_callback_reasons, void *,
	    void *, size_t);

#endif
