/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The device agent as a library that firmware can embed: it keeps one
 * WebSocket tunnel over TLS per device to a reflector (the WebTunnel
 * protocol, WEBTUNNEL.md §2-3), opens a TCP or TLS connection to the
 * device's target host for every channel the reflector opens on a port of
 * the device's allow-list, relays the bytes, and reconnects forever with
 * jittered exponential backoff.  One agent may serve several devices
 * (gateway mode).
 *
 * Use: fill a struct rf_agent_settings, rf_agent_new, then either
 * rf_agent_run (owns the thread until rf_agent_stop) or call rf_agent_step
 * from your own loop.  rf_agent_configure applies new settings: tunnels
 * whose device settings did not change stay up.  Everything runs on the
 * calling thread; no function here is thread-safe, except rf_agent_wake.
 * Agents in several threads of one process must leave own_records 0:
 * the records it takes over share process-wide cipher contexts
 * (common/tlsrec.c).  Logging goes through common/log.h.
 */
#ifndef RF_AGENT_H
#define RF_AGENT_H

#include <stddef.h>
#include <stdint.h>

#define RF_AGENT_MAX_DEVICES	256
#define RF_AGENT_MAX_PORTS	32
#define RF_AGENT_MAX_PROPS	32

/* A port of a device's allow-list. */
struct rf_agent_port {
	char		*name;	/* "http", "https", "ssh"...; or NULL */
	uint16_t	 port;
	int		 tls;	/* connect to it with TLS (no verification) */
};

/* A property sent as "X-PTTH-Set-Property: device;<name>=<value>". */
struct rf_agent_prop {
	char		*name;	/* [A-Za-z0-9_.-]+ */
	char		*value;
};

struct rf_agent_device {
	char			*id;		/* DNS label */
	char			*group;		/* the domain, a group id */
	char			*password;
	char			*target_host;	/* default "127.0.0.1" */
	struct rf_agent_port	*ports;
	size_t			 nports;
	int			 https_target;	/* TLS to the "http" port */
	struct rf_agent_prop	*props;		/* name, version, custom */
	size_t			 nprops;
};

/* The longest handshake_timeout, in seconds. */
#define RF_AGENT_HANDSHAKE_MAX	300

struct rf_agent_settings {
	char			*reflector;	/* https://host[:port][/path] */
	char			*ca_file;	/* NULL: the system's CAs */
	char			*proxy_url;	/* http://host:port, or NULL */
	char			*proxy_username;
	char			*proxy_password;
	int			 reconnect_max;	/* seconds, backoff cap */
	int			 keepalive;	/* seconds idle before a PING */
	int			 connect_timeout; /* seconds, 0: 10 */
	int			 handshake_timeout; /* seconds, 0: 20 */
	char			*status_hook;	/* program to run, or NULL */
	int			 own_records;	/* our own TLS records once
						 * online (tlsraw.h); one
						 * agent thread only */
	struct rf_agent_device	*devices;
	size_t			 ndevices;
};

enum rf_agent_state {
	RF_AGENT_IDLE = 0,	/* not started yet */
	RF_AGENT_CONNECTING,
	RF_AGENT_CONNECTED,
	RF_AGENT_BACKOFF,	/* waiting to reconnect after a failure */
	RF_AGENT_ERROR,		/* a setting is wrong; no retry until fixed */
};

enum rf_agent_event {
	RF_AGENT_EV_CONNECT,	/* the tunnel is up */
	RF_AGENT_EV_DISCONNECT,	/* the tunnel went down */
	RF_AGENT_EV_ERROR,	/* a connect attempt failed */
};

struct rf_agent_status {
	enum rf_agent_state	 state;
	char			 last_error[256]; /* "" if none */
	unsigned long		 connects;	/* successful handshakes */
	unsigned long		 failures;	/* failed attempts */
	unsigned long		 channels;	/* channels opened */
	unsigned long		 refused;	/* OPEN_FAULTs sent */
	unsigned long		 open_channels;	/* now */
	unsigned long long	 bytes_in;	/* to the target */
	unsigned long long	 bytes_out;	/* from the target */
	unsigned int		 backoff_ms;	/* the current or next delay */
};

struct rf_agent;

/* Called on every event of every device (after the status hook runs). */
typedef void rf_agent_event_fn(void *arg, const char *device_id,
    enum rf_agent_event, const char *detail);

/*
 * Checks and copies the settings (the caller keeps its own) and creates
 * the event loop; tunnels connect at the first step.  RF_ERR_INVAL with
 * the reason logged for settings that cannot work, RF_ERR_TLS when the CA
 * file does not load.
 */
int	rf_agent_new(const struct rf_agent_settings *, struct rf_agent **out);
void	rf_agent_free(struct rf_agent *);
void	rf_agent_set_event_fn(struct rf_agent *, rf_agent_event_fn *,
	    void *arg);

/*
 * Applies new settings.  Devices whose settings are unchanged keep their
 * tunnel; changed ones reconnect; removed ones close.  A change of the
 * reflector, CA file or proxy reconnects every tunnel.  On error the old
 * settings stay in force.  Not from inside an event callback.
 */
int	rf_agent_configure(struct rf_agent *, const struct rf_agent_settings *);

/* Services events until rf_agent_stop; 0, or an RF_ERR_* */
int	rf_agent_run(struct rf_agent *);
/*
 * One service iteration: waits at most about timeout_ms (0: does not
 * wait) for events and handles them.  Returns 1 after rf_agent_stop, else
 * 0 or an RF_ERR_*.
 */
int	rf_agent_step(struct rf_agent *, int timeout_ms);
/* Closes the tunnels; run/step return.  Not async-signal-safe. */
void	rf_agent_stop(struct rf_agent *);
/* Wakes a waiting step; safe from a signal handler or another thread. */
void	rf_agent_wake(struct rf_agent *);

/* The number of devices, and the status of one (by index). */
size_t	rf_agent_ndevices(const struct rf_agent *);
int	rf_agent_status(const struct rf_agent *, size_t idx,
	    const char **id, struct rf_agent_status *);
const char *rf_agent_state_name(enum rf_agent_state);
const char *rf_agent_event_name(enum rf_agent_event);

/* --- Helpers, exported for the program and the tests. --- */

/* Frees what the settings point to (not the struct itself). */
void	rf_agent_settings_clear(struct rf_agent_settings *);
/* A deep copy; RF_ERR_NOMEM. */
int	rf_agent_settings_copy(struct rf_agent_settings *dst,
	    const struct rf_agent_settings *src);
/* 1 if the two devices' settings are the same (no reconnect needed). */
int	rf_agent_device_equal(const struct rf_agent_device *,
	    const struct rf_agent_device *);

/*
 * The reconnect delay after `failures` failures in a row (1 for the first):
 * 1 s doubling up to cap_s seconds, plus 0-50 % jitter from rnd (a random
 * value in [0, 1000]).  In milliseconds.
 */
unsigned int rf_agent_backoff_ms(unsigned int failures, int cap_s,
	    unsigned int rnd);

/*
 * Writes the property headers of a device, one "X-PTTH-Set-Property:
 * device;<name>=<value>\r\n" a line: targetHost, targetPorts, the port
 * properties (httpPort, sshPort...), then the device's own properties.
 * Returns the length, or RF_ERR_LIMIT if len is too small.
 */
int	rf_agent_property_headers(const struct rf_agent_device *, char *buf,
	    size_t len);

/* The WebSocket URL's parts: RF_ERR_INVAL with *why for a bad one. */
struct rf_agent_url {
	int		 tls;		/* https/wss: 1, http/ws: 0 */
	char		 host[256];
	int		 port;
	char		 path[512];
};
int	rf_agent_parse_url(const char *url, struct rf_agent_url *,
	    const char **why);

#endif
