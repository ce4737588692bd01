/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The reflector.yml loader.  Every key is declared once, in the table in
 * conf.c, with its type, default, allowed values and whether a reload may
 * change it (OpenSSH servconf.c).  Loading builds a new struct rf_conf; it
 * never touches one in use, so a reload that fails leaves the running
 * configuration alone.  Errors name file:line:column and say what is wrong.
 *
 * man/reflector.yml.5 documents every key; keep the two in step.
 */
#ifndef RF_CONF_H
#define RF_CONF_H

#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

struct rf_conf_listen {
	char			*address;	/* as written: "127.0.0.1:8443" */
	struct sockaddr_storage	 ss;		/* resolved, numeric only */
	socklen_t		 sslen;
	int			 tls;		/* 1 https, 0 plain http */
};

/*
 * The TCP ports a user may open through a client or CONNECT tunnel, or
 * that a device lets be opened ("ports:" of a user or a device entry).
 * Without the key any port is allowed (the device's agent still decides);
 * an empty list allows none.
 */
struct rf_conf_ports {
	int		 set;		/* 0: the key is absent: any port */
	size_t		 n;
	unsigned int	*v;		/* 1-65535 */
};

/* A device declared in the config (filled by the tunnel issue). */
struct rf_conf_device {
	char	*id;		/* DNS label: a-z 0-9 - */
	char	*group;
	char	*name;
	char	*secret;	/* a hash string, never the secret itself */
	struct rf_conf_ports ports;
	int	 cache;		/* RF_CONF_CACHE_*: its static-resource cache */
};

/* A device's "cache:" key: follow cache.devices and cache.groups, or not. */
#define RF_CONF_CACHE_INHERIT	0
#define RF_CONF_CACHE_ON	1
#define RF_CONF_CACHE_OFF	2

/* An entry of a sorted index of devices or users (conf.c). */
struct rf_conf_name {
	const char	*name;
	const void	*elt;
};

/* A user declared in the config (filled by the tunnel issue). */
struct rf_conf_user {
	char	 *name;
	char	 *password;	/* a hash string, never the password */
	char	**devices;	/* patterns of device ids this user may reach */
	size_t	  ndevices;
	struct rf_conf_ports ports;
};

struct rf_conf {
	char			*file;		/* where it was read from */
	char			*domain;	/* devices are <id>.<domain> */
	struct rf_conf_listen	*listen;
	size_t			 nlisten;
	char			*tls_certificate;
	char			*tls_key;
	int			 tls_min_version; /* 12 or 13 */
	int			 tls_own_records; /* tlsrec.h takes tunnels */
	int			 workers;	/* resolved: never 0 */
	int			 workers_auto;	/* "auto" was given */
	char			*user;		/* NULL: do not switch */
	char			*state_dir;	/* durable registry (LMDB) */
	char			*run_dir;	/* routing map (LMDB), tmpfs */
	char			*pid_file;
	int			 log_level;	/* enum rf_log_level */
	int			 log_target;	/* enum rf_log_target */
	char			*log_file;
	int			 log_facility;	/* LOG_DAEMON ... */
	int			 max_connections; /* per worker */
	int			 max_handshakes; /* per worker, at once */
	int			 handshake_timeout; /* seconds */
	int			 keepalive_timeout; /* seconds */
	int			 drain_timeout;	/* seconds, graceful stop */
	int			 channel_open_timeout; /* seconds */
	int			 device_idle_timeout; /* seconds */
	int			 header_max;	/* bytes of a request head */
	struct rf_conf_device	*devices;
	size_t			 ndevices;
	/* devices by id, made by rf_conf_load*: rf_conf_device_find */
	struct rf_conf_name	*devices_by_id;
	size_t			 ndevices_cache_on; /* "cache: yes" ones */
	struct rf_conf_user	*users;
	size_t			 nusers;
	/* users by name, made by rf_conf_load*: rf_conf_user_find */
	struct rf_conf_name	*users_by_name;

	/* The static-resource cache (server/cache.c, reflector.yml(5)). */
	char			*cache_dir;	/* NULL: run_dir */
	int			 cache_max_size; /* bytes stored at most */
	int			 cache_max_object; /* bytes of one response */
	char			**cache_devices; /* patterns of device ids */
	size_t			 ncache_devices;
	char			**cache_groups;	/* patterns of group names */
	size_t			 ncache_groups;
};

/* Receives one complete error line ("file:line:col: what is wrong"). */
typedef void rf_conf_errfn(void *arg, const char *line);

/*
 * Loads a config file.  On success *out is a new config (free with
 * rf_conf_free) and 0 returns.  Otherwise every error found is passed to
 * errfn, *out is NULL and RF_ERR_CONFIG (or RF_ERR_SYS if the file cannot
 * be read, also reported through errfn) returns.  name is what error
 * lines call the file.  Relative paths in the file stay as written.
 */
int	rf_conf_load(const char *path, struct rf_conf **out,
	    rf_conf_errfn *errfn, void *arg);
/* The same from an open descriptor (a reload's memfd); fd is not closed. */
int	rf_conf_load_fd(int fd, const char *name, struct rf_conf **out,
	    rf_conf_errfn *errfn, void *arg);
int	rf_conf_load_mem(const void *buf, size_t len, const char *name,
	    struct rf_conf **out, rf_conf_errfn *errfn, void *arg);
void	rf_conf_free(struct rf_conf *);

/*
 * Writes the effective configuration as YAML that rf_conf_load accepts,
 * every key with its value (defaults included), for reflectord -T.
 */
int	rf_conf_dump(const struct rf_conf *, FILE *);

/*
 * Compares a running and a new config; for every key that differs and
 * that a reload cannot change, passes a sentence to errfn ("workers
 * changed from 2 to 4; a reload cannot change it, restart reflectord")
 * and returns the count.
 */
int	rf_conf_restart_keys(const struct rf_conf *old,
	    const struct rf_conf *new, rf_conf_errfn *errfn, void *arg);

/*
 * Copies into new the running values of every key that a reload cannot
 * change, so that a reloaded configuration never half-applies a restart
 * key (the listeners, workers and paths stay those the process started
 * with).
 */
void	rf_conf_keep_restart_keys(struct rf_conf *new, const struct rf_conf *old);

/*
 * Formats where a key was set ("file:line:col") into buf, for errors
 * found after loading (a certificate that does not parse); "file" alone
 * when the key took its default.  key is a dotted path: "tls.certificate".
 */
void	rf_conf_where(const struct rf_conf *, const char *key, char *buf,
	    size_t len);

/* 1 if the list allows port: absent, or port is in it. */
int	rf_conf_ports_allow(const struct rf_conf_ports *, unsigned int port);
/*
 * A port as a ports list entry writes it: digits (1-65535) or one of the
 * names http https ssh vnc rdp.  The port, or 0 if s is neither.
 */
unsigned int rf_conf_port_parse(const char *s);

/*
 * The device of reflector.yml with this id, or NULL: a binary search, so
 * that 20,000 configured devices do not cost each request a scan.
 */
const struct rf_conf_device *rf_conf_device_find(const struct rf_conf *,
	    const char *id);

/* The user of reflector.yml with this name, or NULL: a binary search too. */
const struct rf_conf_user *rf_conf_user_find(const struct rf_conf *,
	    const char *name);

/* 1 if s matches one of the n patterns ("cam1", "cam-*", "*"). */
int	rf_conf_patterns_match(char *const *pats, size_t n, const char *s);

/* Default config file: SYSCONFDIR/reflector/reflector.yml. */
const char *rf_conf_default_path(void);

#endif
