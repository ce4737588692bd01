/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The reflector.yml loader (conf.h).  One table, conf_keys[], declares every
 * key once with its type, default, range and reload rule; the engine in
 * yconf.c walks it for loading, the defaults, reflectord -T and the reload
 * check, so no key can be known to one of them and missing from another.
 * What is left here is reflector.yml's own: the table, the listen
 * addresses (a type of their own, checked across both lists) and "auto"
 * workers.
 */
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "err.h"
#include "log.h"
#include "yconf.h"

#ifndef RF_SYSCONFDIR
#define RF_SYSCONFDIR		"/usr/local/etc"
#endif
#ifndef RF_LOCALSTATEDIR
#define RF_LOCALSTATEDIR	"/usr/local/var"
#endif
#ifndef RF_RUNSTATEDIR
#define RF_RUNSTATEDIR		"/run"
#endif

#define CONF_MAX_LISTEN	64		/* addresses in one listen list */

static int	 tlsver_from_name(const char *, int *);
static const char *tlsver_name(int);

static const struct rf_yconf_enum tlsver_enum = {
	"1.2 or 1.3", tlsver_from_name, tlsver_name
};

static int	 devcache_from_name(const char *, int *);
static const char *devcache_name(int);

static const struct rf_yconf_enum devcache_enum = {
	"inherit, yes or no", devcache_from_name, devcache_name
};


/* A listen list while it is read; merged into rf_conf.listen at the end. */
struct conf_addrs {
	struct rf_conf_listen	*v;
	struct rf_yconf_pos	*pos;	/* of each entry */
	size_t			 n;
	struct rf_yconf_pos	 set;	/* of the list; line 0: the default */
};

/* What a load of reflector.yml keeps beside the engine's state. */
struct conf_state {
	struct conf_addrs	 addrs[2]; /* [1] https, [0] http */
	int			 listen_bad; /* a listen entry had an error */
};

/*
 * What the loader allocates.  rf_conf_where needs the position of every
 * key and struct rf_conf has no room for it, so the public struct comes
 * first and rf_conf_free and rf_conf_where cast back: only a struct from
 * rf_conf_load* may be passed to them.
 */
struct conf_full {
	struct rf_conf		 conf;
	struct rf_yconf_wheres	 where;
};

static long long auto_workers(const struct rf_yconf_key *);
static void	set_listen(struct rf_yconf_ctx *,
		    const struct rf_yconf_key *, const char *, yaml_node_t *,
		    void *);
static void	listen_default(struct rf_yconf_ctx *,
		    const struct rf_yconf_key *, void *);
static void	listen_put(FILE *, const struct rf_yconf_key *,
		    const void *);
static int	listen_equal_key(const struct rf_yconf_key *, const void *,
		    const void *);
static void	listen_finish(struct rf_yconf_ctx *, void *);
static void	set_ports(struct rf_yconf_ctx *, const struct rf_yconf_key *,
		    const char *, yaml_node_t *, void *);
static void	ports_put(FILE *, const struct rf_yconf_key *, const void *);
static void	ports_free(const struct rf_yconf_key *, void *);

/* listen.https and listen.http: both fill rf_conf.listen (listen_finish). */
static const struct rf_yconf_custom listen_type = {
	.what = "a list of addresses",
	.set = set_listen,
	.set_default = listen_default,
	.put = listen_put,
	.equal = listen_equal_key,
};

/* ports of a user or a device: numbers or well-known names. */
static const struct rf_yconf_custom ports_type = {
	.what = "a list of ports (numbers, or http https ssh vnc rdp)",
	.set = set_ports,
	.put = ports_put,
	.free = ports_free,
};

#define C(f)	offsetof(struct rf_conf, f)
#define D(f)	offsetof(struct rf_conf_device, f)
#define U(f)	offsetof(struct rf_conf_user, f)

static const struct rf_yconf_key device_keys[] = {
	{ .path = "id", .type = RF_YC_LABEL,
	  .flags = RF_YC_REQUIRED | RF_YC_UNIQUE, .off = D(id),
	  .desc = "device id: its host name is <id>.<domain>" },
	{ .path = "group", .type = RF_YC_STRING, .def = "default",
	  .off = D(group), .desc = "group the device belongs to" },
	{ .path = "name", .type = RF_YC_STRING, .flags = RF_YC_UNSET,
	  .off = D(name), .desc = "name shown to users" },
	{ .path = "secret", .type = RF_YC_STRING, .flags = RF_YC_REQUIRED,
	  .off = D(secret), .desc = "hash of the device's secret" },
	{ .path = "ports", .type = RF_YC_CUSTOM, .custom = &ports_type,
	  .off = D(ports),
	  .desc = "ports users may open on it; absent: any" },
	{ .path = "cache", .type = RF_YC_ENUM, .flags = RF_YC_RELOAD,
	  .def = "inherit", .en = &devcache_enum, .off = D(cache),
	  .desc = "cache its static resources: inherit (cache.devices, "
	  "cache.groups), yes, no" },
	{ .path = NULL }
};

static const struct rf_yconf_key user_keys[] = {
	{ .path = "name", .type = RF_YC_USERNAME,
	  .flags = RF_YC_REQUIRED | RF_YC_UNIQUE, .off = U(name),
	  .desc = "login name" },
	{ .path = "password", .type = RF_YC_STRING, .flags = RF_YC_REQUIRED,
	  .off = U(password), .desc = "hash of the password" },
	{ .path = "devices", .type = RF_YC_PATTERNS, .off = U(devices),
	  .countoff = U(ndevices),
	  .desc = "device ids the user may reach: \"cam1\", \"cam-*\", \"*\"" },
	{ .path = "ports", .type = RF_YC_CUSTOM, .custom = &ports_type,
	  .off = U(ports),
	  .desc = "ports the user may open: [ssh, 5900]; absent: any" },
	{ .path = NULL }
};

/* In the order rf_conf_dump prints them, which is the order of the man page. */
static const struct rf_yconf_key conf_keys[] = {
	{ .path = "domain", .type = RF_YC_HOSTNAME, .def = "localhost",
	  .off = C(domain),
	  .desc = "devices are reached as <id>.<domain>" },
	{ .path = "listen", .type = RF_YC_SECTION,
	  .desc = "addresses to accept connections on" },
	{ .path = "listen.https", .type = RF_YC_CUSTOM, .def = "*:443",
	  .custom = &listen_type, .arg = 1,
	  .desc = "HTTPS: \"*:443\", \"127.0.0.1:8443\", \"[::1]:8443\"" },
	{ .path = "listen.http", .type = RF_YC_CUSTOM,
	  .custom = &listen_type, .arg = 0,
	  .desc = "plain HTTP, optional" },
	{ .path = "tls", .type = RF_YC_SECTION, .flags = RF_YC_RELOAD,
	  .desc = "the server certificate" },
	{ .path = "tls.certificate", .type = RF_YC_PATH, .flags = RF_YC_RELOAD,
	  .def = RF_SYSCONFDIR "/reflector/cert.pem",
	  .off = C(tls_certificate),
	  .desc = "PEM certificate chain, the server's own first" },
	{ .path = "tls.key", .type = RF_YC_PATH, .flags = RF_YC_RELOAD,
	  .def = RF_SYSCONFDIR "/reflector/key.pem", .off = C(tls_key),
	  .desc = "PEM private key of the certificate" },
	{ .path = "tls.min_version", .type = RF_YC_ENUM, .flags = RF_YC_RELOAD,
	  .def = "1.2", .en = &tlsver_enum, .off = C(tls_min_version),
	  .desc = "oldest TLS version accepted: 1.2 or 1.3" },
	{ .path = "tls.own_records", .type = RF_YC_BOOL, .flags = RF_YC_RELOAD,
	  .def = "true", .off = C(tls_own_records),
	  .desc = "established device tunnels on TLS 1.3 (or TLS 1.2 with "
	  "an AEAD) leave OpenSSL for reflectord's own record layer, "
	  "about 12 KB less each" },
	{ .path = "workers", .type = RF_YC_INT, .def = "auto",
	  .min = 1, .max = 256, .off = C(workers),
	  .what = "a number or 'auto'", .word = "auto",
	  .word_value = auto_workers, .wordoff = C(workers_auto),
	  .desc = "worker processes: 1 to 256, or auto (one per CPU)" },
	{ .path = "user", .type = RF_YC_STRING, .flags = RF_YC_UNSET,
	  .off = C(user),
	  .desc = "user to run as after binding; empty: do not switch" },
	{ .path = "state_dir", .type = RF_YC_PATH,
	  .def = RF_LOCALSTATEDIR "/lib/reflector", .off = C(state_dir),
	  .desc = "durable registry of devices and users" },
	{ .path = "run_dir", .type = RF_YC_PATH,
	  .def = RF_RUNSTATEDIR "/reflector", .off = C(run_dir),
	  .desc = "routing map, rebuilt at start (tmpfs is best)" },
	{ .path = "pid_file", .type = RF_YC_PATH,
	  .def = RF_RUNSTATEDIR "/reflector/reflectord.pid", .off = C(pid_file),
	  .desc = "file holding the process id of the master" },
	{ .path = "log", .type = RF_YC_SECTION, .flags = RF_YC_RELOAD,
	  .desc = "where and how much to log" },
	{ .path = "log.level", .type = RF_YC_ENUM, .flags = RF_YC_RELOAD,
	  .def = "info", .en = &rf_yconf_log_level_enum,
	  .off = C(log_level),
	  .desc = "quiet fatal error info verbose debug1 debug2 debug3" },
	{ .path = "log.target", .type = RF_YC_ENUM, .flags = RF_YC_RELOAD,
	  .def = "syslog", .en = &rf_yconf_log_target_enum,
	  .off = C(log_target),
	  .desc = "stderr, syslog or file" },
	{ .path = "log.file", .type = RF_YC_PATH, .flags = RF_YC_RELOAD,
	  .def = RF_LOCALSTATEDIR "/log/reflector/reflectord.log",
	  .off = C(log_file), .desc = "the log file when target is file" },
	{ .path = "log.facility", .type = RF_YC_ENUM, .flags = RF_YC_RELOAD,
	  .def = "daemon", .en = &rf_yconf_log_facility_enum,
	  .off = C(log_facility),
	  .desc = "syslog facility: daemon user auth authpriv local0-7" },
	{ .path = "limits", .type = RF_YC_SECTION, .flags = RF_YC_RELOAD,
	  .desc = "limits and timeouts" },
	{ .path = "limits.max_connections", .type = RF_YC_INT,
	  .flags = RF_YC_RELOAD, .def = "10000", .min = 16, .max = 1000000,
	  .off = C(max_connections),
	  .desc = "connections one worker holds at most" },
	{ .path = "limits.max_handshakes", .type = RF_YC_INT,
	  .flags = RF_YC_RELOAD, .def = "256", .min = 1, .max = 100000,
	  .off = C(max_handshakes),
	  .desc = "TLS handshakes on the portal host one worker runs at once" },
	{ .path = "limits.handshake_timeout", .type = RF_YC_DURATION,
	  .def = "10s", .min = 1, .max = 300,
	  .off = C(handshake_timeout),
	  .desc = "time a new connection has for its handshake" },
	{ .path = "limits.keepalive_timeout", .type = RF_YC_DURATION,
	  .flags = RF_YC_RELOAD, .def = "60s", .min = 1, .max = 3600,
	  .off = C(keepalive_timeout),
	  .desc = "idle time before a keep-alive connection is closed" },
	{ .path = "limits.drain_timeout", .type = RF_YC_DURATION,
	  .flags = RF_YC_RELOAD, .def = "30s", .min = 0, .max = 3600,
	  .off = C(drain_timeout),
	  .desc = "time a graceful stop waits for connections" },
	{ .path = "limits.channel_open_timeout", .type = RF_YC_DURATION,
	  .flags = RF_YC_RELOAD, .def = "60s", .min = 1, .max = 3600,
	  .off = C(channel_open_timeout),
	  .desc = "time a device has to confirm a new channel" },
	{ .path = "limits.device_idle_timeout", .type = RF_YC_DURATION,
	  .flags = RF_YC_RELOAD, .def = "2m", .min = 5, .max = 3600,
	  .off = C(device_idle_timeout),
	  .desc = "silence beyond twice the agent's keep-alive that ends a "
	  "device tunnel" },
	{ .path = "limits.header_max", .type = RF_YC_SIZE,
	  .def = "8k", .min = 1024, .max = 65535, .off = C(header_max),
	  .desc = "largest request head accepted, in bytes" },
	{ .path = "devices", .type = RF_YC_TABLE, .flags = RF_YC_RELOAD,
	  .sub = device_keys, .elemsize = sizeof(struct rf_conf_device),
	  .off = C(devices), .countoff = C(ndevices),
	  .desc = "devices: id, group, name, secret, ports" },
	{ .path = "users", .type = RF_YC_TABLE, .flags = RF_YC_RELOAD,
	  .sub = user_keys, .elemsize = sizeof(struct rf_conf_user),
	  .off = C(users), .countoff = C(nusers),
	  .desc = "users: name, password, devices, ports" },
	/* The static-resource cache (server/cache.c). */
	{ .path = "cache", .type = RF_YC_SECTION, .flags = RF_YC_RELOAD,
	  .desc = "shared cache of device web pages' static resources" },
	{ .path = "cache.dir", .type = RF_YC_PATH, .flags = RF_YC_UNSET,
	  .off = C(cache_dir),
	  .desc = "directory of cache.mdb; empty: run_dir (tmpfs is best)" },
	{ .path = "cache.max_size", .type = RF_YC_SIZE, .def = "64m",
	  .min = 1024 * 1024, .max = 1024 * 1024 * 1024,
	  .off = C(cache_max_size),
	  .desc = "bytes the cache holds at most; the oldest used go first" },
	{ .path = "cache.max_object", .type = RF_YC_SIZE,
	  .flags = RF_YC_RELOAD, .def = "1m", .min = 1024,
	  .max = 8 * 1024 * 1024, .off = C(cache_max_object),
	  .desc = "largest response stored; larger ones pass through" },
	{ .path = "cache.devices", .type = RF_YC_PATTERNS,
	  .flags = RF_YC_RELOAD, .off = C(cache_devices),
	  .countoff = C(ncache_devices),
	  .desc = "devices whose resources are cached: \"cam-*\"" },
	{ .path = "cache.groups", .type = RF_YC_PATTERNS,
	  .flags = RF_YC_RELOAD, .off = C(cache_groups),
	  .countoff = C(ncache_groups),
	  .desc = "groups whose devices' resources are cached" },
	{ .path = NULL }
};

_Static_assert(sizeof(conf_keys) / sizeof(conf_keys[0]) <= RF_YCONF_MAX_KEYS,
    "conf_keys[] is larger than RF_YCONF_MAX_KEYS");


static const struct rf_yconf_schema conf_schema = {
	.keys = conf_keys,
	.example = "domain",
	.finish = listen_finish,
};

static int
tlsver_from_name(const char *s, int *v)
{
	*v = 0;
	if (strcmp(s, "1.2") == 0)
		*v = 12;
	else if (strcmp(s, "1.3") == 0)
		*v = 13;
	else
		return RF_ERR_INVAL;
	return 0;
}

static const char *
tlsver_name(int v)
{
	return v == 12 ? "1.2" : v == 13 ? "1.3" : NULL;
}

/* A device's cache switch; YAML's usual words for true and false too. */
static int
devcache_from_name(const char *s, int *v)
{
	*v = RF_CONF_CACHE_INHERIT;
	if (strcmp(s, "inherit") == 0)
		return 0;
	if (strcmp(s, "yes") == 0 || strcmp(s, "true") == 0 ||
	    strcmp(s, "on") == 0)
		*v = RF_CONF_CACHE_ON;
	else if (strcmp(s, "no") == 0 || strcmp(s, "false") == 0 ||
	    strcmp(s, "off") == 0)
		*v = RF_CONF_CACHE_OFF;
	else
		return RF_ERR_INVAL;
	return 0;
}

static const char *
devcache_name(int v)
{
	return v == RF_CONF_CACHE_INHERIT ? "inherit" :
	    v == RF_CONF_CACHE_ON ? "yes" : v == RF_CONF_CACHE_OFF ? "no" :
	    NULL;
}

int
rf_conf_patterns_match(char *const *pats, size_t n, const char *s)
{
	const char *star;
	size_t i, sl = strlen(s), pre, suf;

	for (i = 0; i < n; i++) {
		if ((star = strchr(pats[i], '*')) == NULL) {
			if (strcmp(pats[i], s) == 0)
				return 1;
			continue;
		}
		/* One '*' (the loader allows no more): prefix*suffix. */
		pre = (size_t)(star - pats[i]);
		suf = strlen(star + 1);
		if (sl >= pre + suf && strncmp(s, pats[i], pre) == 0 &&
		    strcmp(s + sl - suf, star + 1) == 0)
			return 1;
	}
	return 0;
}

/* An online CPU count for "auto", kept within the key's range. */
static long long
auto_workers(const struct rf_yconf_key *k)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < k->min)
		return k->min;
	return n > k->max ? k->max : n;
}

/* ------------------------------------------------------------- ports -- */

static const struct {
	const char	*name;
	unsigned int	 port;
} port_names[] = {
	{ "http", 80 }, { "https", 443 }, { "ssh", 22 }, { "vnc", 5900 },
	{ "rdp", 3389 },
};

unsigned int
rf_conf_port_parse(const char *s)
{
	const char *end;
	long long v;
	size_t i;

	for (i = 0; i < sizeof(port_names) / sizeof(port_names[0]); i++)
		if (strcmp(s, port_names[i].name) == 0)
			return port_names[i].port;
	if (*s == '-' || (end = rf_yconf_parse_digits(s, &v)) == NULL ||
	    *end != '\0' || v < 1 || v > 65535)
		return 0;
	return (unsigned int)v;
}

int
rf_conf_ports_allow(const struct rf_conf_ports *p, unsigned int port)
{
	size_t i;

	if (!p->set)
		return 1;
	for (i = 0; i < p->n; i++)
		if (p->v[i] == port)
			return 1;
	return 0;
}

/* "ports: [ssh, 80, 5900]"; null is the same as absent. */
static void
set_ports(struct rf_yconf_ctx *ctx, const struct rf_yconf_key *k,
    const char *name, yaml_node_t *vn, void *base)
{
	struct rf_conf_ports *p = (struct rf_conf_ports *)((char *)base +
	    k->off);
	struct rf_yconf_pos ipos;
	yaml_node_item_t *it;
	yaml_node_t *in;
	const char *s;
	char shown[64];
	unsigned int port;
	size_t n;

	if (rf_yconf_node_is_null(vn))
		return;
	if (vn->type != YAML_SEQUENCE_NODE) {
		rf_yconf_type_error(ctx, k, name, vn);
		return;
	}
	p->set = 1;
	n = (size_t)(vn->data.sequence.items.top -
	    vn->data.sequence.items.start);
	if (n == 0)
		return;
	if ((p->v = calloc(n, sizeof(*p->v))) == NULL) {
		rf_yconf_nomem(ctx);
		return;
	}
	for (it = vn->data.sequence.items.start;
	    it < vn->data.sequence.items.top && !rf_yconf_stopped(ctx); it++) {
		if ((in = rf_yconf_node(ctx, *it)) == NULL ||
		    rf_yconf_scalar_text(ctx, k, name, in, &s) != 0)
			continue;
		if ((port = rf_conf_port_parse(s)) == 0) {
			ipos = rf_yconf_node_pos(in);
			rf_yconf_error(ctx, &ipos, "'%s' entry '%s' must be a "
			    "port from 1 to 65535 or one of http, https, ssh, "
			    "vnc, rdp", name, rf_yconf_show(s, shown,
			    sizeof(shown)));
			continue;
		}
		p->v[p->n++] = port;
	}
}

static void
ports_put(FILE *f, const struct rf_yconf_key *k, const void *base)
{
	const struct rf_conf_ports *p = (const struct rf_conf_ports *)
	    ((const char *)base + k->off);
	size_t i;

	if (!p->set) {
		fputs("~", f);
		return;
	}
	fputc('[', f);
	for (i = 0; i < p->n; i++)
		fprintf(f, "%s%u", i > 0 ? ", " : "", p->v[i]);
	fputc(']', f);
}

static void
ports_free(const struct rf_yconf_key *k, void *base)
{
	struct rf_conf_ports *p = (struct rf_conf_ports *)((char *)base +
	    k->off);

	free(p->v);
	memset(p, 0, sizeof(*p));
}

/* ------------------------------------------------------------ listen -- */

static void
addrs_clear(struct conf_addrs *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		free(a->v[i].address);
	free(a->v);
	free(a->pos);
	memset(a, 0, sizeof(*a));
}

static int
addrs_alloc(struct rf_yconf_ctx *ctx, struct conf_addrs *a, size_t n)
{
	a->v = calloc(n, sizeof(*a->v));
	a->pos = calloc(n, sizeof(*a->pos));
	if (a->v == NULL || a->pos == NULL) {
		rf_yconf_nomem(ctx);
		return -1;
	}
	return 0;
}

static int
parse_port(const char *s, in_port_t *pp)
{
	long long v;
	const char *end;

	*pp = 0;
	if (*s == '-' || (end = rf_yconf_parse_digits(s, &v)) == NULL ||
	    *end != '\0' || v < 1 || v > 65535)
		return -1;
	*pp = htons((in_port_t)v);
	return 0;
}

#define LISTEN_BADADDR	"the address must be numeric IPv4, IPv6 in brackets " \
			"or '*'; names are not looked up"

/*
 * Splits "host:port" into host (empty for "*") and the port text; NULL,
 * or the reason it cannot.
 */
static const char *
listen_split(const char *s, char *host, size_t hostlen, const char **portp,
    int *v6p)
{
	const char *colon, *end;
	size_t hlen;

	*portp = NULL;
	host[0] = '\0';
	*v6p = (s[0] == '*' && s[1] == ':') || s[0] == '[';
	if (s[0] == '*' && s[1] == ':') {
		*portp = s + 2;
		return NULL;
	}
	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL || end[1] != ':')
			return "an IPv6 address in brackets must be followed "
			    "by a port, as in \"[::1]:443\"";
		colon = end + 1;
		s++;
		hlen = (size_t)(end - s);
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return "it needs a port, as in \"127.0.0.1:443\"";
		hlen = (size_t)(colon - s);
		if (memchr(s, ':', hlen) != NULL)
			return "an IPv6 address must be in brackets, as in "
			    "\"[::1]:443\"";
	}
	if (hlen == 0 || hlen >= hostlen)
		return LISTEN_BADADDR;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	*portp = colon + 1;
	return NULL;
}

/*
 * "127.0.0.1:443", "[::1]:443" or "*:443" (every address: server/listen.c
 * makes it one dual-stack socket).  Numeric only: a config check must not
 * wait for DNS, and a name could resolve differently at the next reload.
 */
static int
parse_listen(struct rf_yconf_ctx *ctx, const char *name, const char *s,
    const struct rf_yconf_pos *pos, int tls, struct rf_conf_listen *l)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&l->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&l->ss;
	char host[INET6_ADDRSTRLEN + 1], shown[64];
	const char *why, *port;
	in_port_t nport;
	int v6;

	memset(l, 0, sizeof(*l));
	rf_yconf_show(s, shown, sizeof(shown));
	if ((why = listen_split(s, host, sizeof(host), &port, &v6)) != NULL) {
		rf_yconf_error(ctx, pos, "'%s' address '%s': %s", name, shown,
		    why);
		return -1;
	}
	if (parse_port(port, &nport) != 0) {
		rf_yconf_error(ctx, pos, "'%s' address '%s' needs a port "
		    "between 1 and 65535", name, shown);
		return -1;
	}
	if (v6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = nport;
		sin6->sin6_addr = in6addr_any;
		l->sslen = sizeof(*sin6);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = nport;
		l->sslen = sizeof(*sin);
	}
	if (host[0] != '\0' && inet_pton(v6 ? AF_INET6 : AF_INET, host,
	    v6 ? (void *)&sin6->sin6_addr : (void *)&sin->sin_addr) != 1) {
		rf_yconf_error(ctx, pos, "'%s' address '%s': %s", name, shown,
		    LISTEN_BADADDR);
		return -1;
	}
	l->tls = tls;
	if ((l->address = strdup(s)) == NULL) {
		rf_yconf_nomem(ctx);
		return -1;
	}
	return 0;
}

static void
set_listen(struct rf_yconf_ctx *ctx, const struct rf_yconf_key *k,
    const char *name, yaml_node_t *vn, void *base)
{
	struct conf_state *st = rf_yconf_user(ctx);
	struct conf_addrs *a = &st->addrs[k->arg];
	struct rf_yconf_pos ipos;
	yaml_node_item_t *it;
	yaml_node_t *in;
	const char *s;
	size_t n;

	addrs_clear(a);
	a->set = rf_yconf_node_pos(vn);
	if (rf_yconf_node_is_null(vn))
		return;
	if (vn->type != YAML_SEQUENCE_NODE) {
		rf_yconf_type_error(ctx, k, name, vn);
		st->listen_bad = 1;
		return;
	}
	n = (size_t)(vn->data.sequence.items.top -
	    vn->data.sequence.items.start);
	if (n > CONF_MAX_LISTEN) {
		rf_yconf_error(ctx, &a->set, "'%s' has %zu addresses; at most "
		    "%d are allowed", name, n, CONF_MAX_LISTEN);
		st->listen_bad = 1;
		return;
	}
	if (n == 0 || addrs_alloc(ctx, a, n) != 0)
		return;
	for (it = vn->data.sequence.items.start;
	    it < vn->data.sequence.items.top && !rf_yconf_stopped(ctx); it++) {
		if ((in = rf_yconf_node(ctx, *it)) == NULL)
			continue;
		ipos = rf_yconf_node_pos(in);
		if (rf_yconf_scalar_text(ctx, k, name, in, &s) != 0 ||
		    parse_listen(ctx, name, s, &ipos, k->arg,
		    &a->v[a->n]) != 0) {
			st->listen_bad = 1;
			continue;
		}
		a->pos[a->n++] = ipos;
	}
}

/* The default list: addresses separated by commas. */
static void
listen_default(struct rf_yconf_ctx *ctx, const struct rf_yconf_key *k,
    void *base)
{
	struct conf_state *st = rf_yconf_user(ctx);
	struct conf_addrs *a = &st->addrs[k->arg];
	struct rf_yconf_pos none = { 0, 0 };
	char *copy, *tok, *save;
	size_t n = 1;
	const char *p;

	addrs_clear(a);
	if (k->def == NULL || *k->def == '\0')
		return;
	for (p = k->def; *p != '\0'; p++)
		n += *p == ',';
	if (addrs_alloc(ctx, a, n) != 0)
		return;
	if ((copy = strdup(k->def)) == NULL) {
		rf_yconf_nomem(ctx);
		return;
	}
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (parse_listen(ctx, k->path, tok, NULL, k->arg,
		    &a->v[a->n]) == 0)
			a->pos[a->n++] = none;
	}
	free(copy);
}

static in_port_t
listen_port(const struct rf_conf_listen *l)
{
	if (l->ss.ss_family == AF_INET6)
		return ((const struct sockaddr_in6 *)&l->ss)->sin6_port;
	return ((const struct sockaddr_in *)&l->ss)->sin_port;
}

static int
listen_is_any(const struct rf_conf_listen *l)
{
	if (l->ss.ss_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(
		    &((const struct sockaddr_in6 *)&l->ss)->sin6_addr);
	return ((const struct sockaddr_in *)&l->ss)->sin_addr.s_addr ==
	    htonl(INADDR_ANY);
}

static int
listen_is_star(const struct rf_conf_listen *l)
{
	return strncmp(l->address, "*:", 2) == 0;
}

/* 1 if both are the same socket address (as listen.c will bind them). */
static int
listen_same(const struct rf_conf_listen *a, const struct rf_conf_listen *b)
{
	if (listen_is_star(a) != listen_is_star(b) || a->sslen != b->sslen ||
	    a->ss.ss_family != b->ss.ss_family)
		return 0;
	return memcmp(&a->ss, &b->ss, a->sslen) == 0;
}

/*
 * 1 if the two would take each other's connections: the same address, or
 * a wildcard covering the other on the same port.  Both would bind, since
 * listen.c sets SO_REUSEPORT, and the kernel would split or steal the
 * connections silently, so this is an error here.
 */
static int
listen_overlap(const struct rf_conf_listen *a, const struct rf_conf_listen *b)
{
	if (listen_port(a) != listen_port(b))
		return 0;
	if (listen_is_star(a) || listen_is_star(b))
		return 1;
	if (a->ss.ss_family != b->ss.ss_family)
		return 0;
	return listen_is_any(a) || listen_is_any(b) || listen_same(a, b);
}

static void
listen_finish(struct rf_yconf_ctx *ctx, void *base)
{
	struct conf_state *st = rf_yconf_user(ctx);
	struct conf_addrs *hs = &st->addrs[1], *h = &st->addrs[0];
	struct rf_conf *conf = base;
	struct rf_yconf_pos *pos = NULL, *p;
	char wkey[32], first[64], sa[64], sb[64];
	size_t n = hs->n + h->n, i, j;

	/* After a bad address, "no address" would only repeat that error. */
	if (n == 0 && st->listen_bad)
		return;
	if (n == 0) {
		p = h->set.line > hs->set.line || (h->set.line ==
		    hs->set.line && h->set.col > hs->set.col) ? &h->set :
		    &hs->set;
		rf_yconf_error(ctx, p, "no address to listen on: "
		    "'listen.https' and 'listen.http' are both empty");
		return;
	}
	conf->listen = calloc(n, sizeof(*conf->listen));
	pos = calloc(n, sizeof(*pos));
	if (conf->listen == NULL || pos == NULL) {
		free(pos);
		rf_yconf_nomem(ctx);
		return;
	}
	/* Moved, not copied: conf owns the address strings from here on. */
	if (hs->n > 0) {
		memcpy(conf->listen, hs->v, hs->n * sizeof(*hs->v));
		memcpy(pos, hs->pos, hs->n * sizeof(*pos));
	}
	if (h->n > 0) {
		memcpy(conf->listen + hs->n, h->v, h->n * sizeof(*h->v));
		memcpy(pos + hs->n, h->pos, h->n * sizeof(*pos));
	}
	conf->nlisten = n;
	hs->n = h->n = 0;
	for (j = 0; j < n && !rf_yconf_stopped(ctx); j++) {
		if (pos[j].line > 0) {
			snprintf(wkey, sizeof(wkey), "listen.%zu", j);
			rf_yconf_where_add(ctx, wkey, &pos[j]);
		}
		for (i = 0; i < j; i++) {
			if (!listen_overlap(&conf->listen[i], &conf->listen[j]))
				continue;
			if (pos[i].line > 0)
				snprintf(first, sizeof(first), "line %lu, "
				    "column %lu", pos[i].line, pos[i].col);
			else
				snprintf(first, sizeof(first), "the default");
			rf_yconf_show(conf->listen[j].address, sa, sizeof(sa));
			rf_yconf_show(conf->listen[i].address, sb, sizeof(sb));
			if (listen_same(&conf->listen[i], &conf->listen[j]))
				rf_yconf_error(ctx, &pos[j], "listen address "
				    "'%s' is given twice (also at %s)", sa,
				    first);
			else
				rf_yconf_error(ctx, &pos[j], "listen address "
				    "'%s' overlaps '%s' (%s): both would "
				    "accept the same connections", sa, sb,
				    first);
			break;
		}
	}
	free(pos);
}

static void
put_listen(FILE *f, const struct rf_conf *conf, int tls)
{
	const char *sep = "";
	size_t i;

	fputc('[', f);
	for (i = 0; i < conf->nlisten; i++) {
		if (conf->listen[i].tls != tls)
			continue;
		fputs(sep, f);
		rf_yconf_put_quoted(f, conf->listen[i].address);
		sep = ", ";
	}
	fputc(']', f);
}

/* 1 if the two configs listen on the same addresses of this kind. */
static int
listen_equal(const struct rf_conf *a, const struct rf_conf *b, int tls)
{
	size_t i, j, na = 0, nb = 0;

	for (j = 0; j < b->nlisten; j++)
		nb += b->listen[j].tls == tls;
	for (i = 0; i < a->nlisten; i++) {
		if (a->listen[i].tls != tls)
			continue;
		na++;
		for (j = 0; j < b->nlisten; j++) {
			if (b->listen[j].tls == tls &&
			    listen_same(&a->listen[i], &b->listen[j]))
				break;
		}
		if (j == b->nlisten)
			return 0;
	}
	return na == nb;
}

static void
listen_put(FILE *f, const struct rf_yconf_key *k, const void *base)
{
	put_listen(f, base, k->arg);
}

static int
listen_equal_key(const struct rf_yconf_key *k, const void *a, const void *b)
{
	return listen_equal(a, b, k->arg);
}

/* ------------------------------------------------------------ loading -- */

/*
 * The indexes of rf_conf_device_find and rf_conf_user_find: a name (a
 * device's id, a user's name) and its element, sorted by name.  The
 * validation has refused duplicate names, so a name has one element.
 */
static int
name_cmp(const void *a, const void *b)
{
	const struct rf_conf_name *na = a, *nb = b;

	return strcmp(na->name, nb->name);
}

/* n elements of size bytes from base, each with its name at nameoff. */
static int
index_names(struct rf_conf_name **out, const void *base, size_t n,
    size_t size, size_t nameoff)
{
	const char	*p = base;
	size_t		 i;

	*out = NULL;
	if (n == 0)
		return 0;
	if ((*out = calloc(n, sizeof(**out))) == NULL)
		return RF_ERR_NOMEM;
	for (i = 0; i < n; i++, p += size) {
		memcpy(&(*out)[i].name, p + nameoff, sizeof((*out)[i].name));
		(*out)[i].elt = p;
	}
	qsort(*out, n, sizeof(**out), name_cmp);
	return 0;
}

/*
 * The element named name, or NULL.  A conf not made by rf_conf_load* (a
 * unit test's) has no index: its n elements are then scanned.
 */
static const void *
find_name(const struct rf_conf_name *idx, const void *base, size_t n,
    size_t size, size_t nameoff, const char *name)
{
	const struct rf_conf_name	 key = { name, NULL }, *r;
	const char			*p = base, *s;
	size_t				 i;

	if (idx == NULL) {
		for (i = 0; i < n; i++, p += size) {
			memcpy(&s, p + nameoff, sizeof(s));
			if (strcmp(s, name) == 0)
				return p;
		}
		return NULL;
	}
	r = bsearch(&key, idx, n, sizeof(*idx), name_cmp);
	return r != NULL ? r->elt : NULL;
}

/* The indexes, and how many devices turn the cache on (rf_cache_any). */
static int
index_conf(struct rf_conf *conf)
{
	size_t i;

	for (i = 0; i < conf->ndevices; i++)
		if (conf->devices[i].cache == RF_CONF_CACHE_ON)
			conf->ndevices_cache_on++;
	if (index_names(&conf->devices_by_id, conf->devices, conf->ndevices,
	    sizeof(*conf->devices), offsetof(struct rf_conf_device, id)) != 0 ||
	    index_names(&conf->users_by_name, conf->users, conf->nusers,
	    sizeof(*conf->users), offsetof(struct rf_conf_user, name)) != 0)
		return RF_ERR_NOMEM;
	return 0;
}

const struct rf_conf_device *
rf_conf_device_find(const struct rf_conf *conf, const char *id)
{
	return find_name(conf->devices_by_id, conf->devices, conf->ndevices,
	    sizeof(*conf->devices), offsetof(struct rf_conf_device, id), id);
}

const struct rf_conf_user *
rf_conf_user_find(const struct rf_conf *conf, const char *name)
{
	return find_name(conf->users_by_name, conf->users, conf->nusers,
	    sizeof(*conf->users), offsetof(struct rf_conf_user, name), name);
}

static void
conf_full_free(struct conf_full *cf)
{
	size_t i;

	if (cf == NULL)
		return;
	rf_yconf_free_fields(conf_keys, &cf->conf);
	free(cf->conf.devices_by_id);
	free(cf->conf.users_by_name);
	for (i = 0; i < cf->conf.nlisten; i++)
		free(cf->conf.listen[i].address);
	free(cf->conf.listen);
	free(cf->conf.file);
	rf_yconf_wheres_free(&cf->where);
	free(cf);
}

int
rf_conf_load_mem(const void *buf, size_t len, const char *name,
    struct rf_conf **out, rf_conf_errfn *errfn, void *arg)
{
	struct conf_full *cf;
	struct conf_state st;
	int r;

	*out = NULL;
	if (name == NULL)
		name = "(config)";
	memset(&st, 0, sizeof(st));
	if ((cf = calloc(1, sizeof(*cf))) == NULL ||
	    (cf->conf.file = strdup(name)) == NULL) {
		free(cf);
		rf_yconf_report(errfn, arg, name, "out of memory");
		return RF_ERR_NOMEM;
	}
	r = rf_yconf_load_mem(&conf_schema, buf, len, name, &cf->conf,
	    &cf->where, &st, errfn, arg);
	addrs_clear(&st.addrs[0]);
	addrs_clear(&st.addrs[1]);
	if (r == 0 && (r = index_conf(&cf->conf)) != 0)
		rf_yconf_report(errfn, arg, name, "out of memory");
	if (r == 0) {
		*out = &cf->conf;
		cf = NULL;
	}
	conf_full_free(cf);
	return r;
}

int
rf_conf_load_fd(int fd, const char *name, struct rf_conf **out,
    rf_conf_errfn *errfn, void *arg)
{
	unsigned char *buf;
	size_t len;
	int r;

	*out = NULL;
	if (name == NULL)
		name = "(config)";
	if ((r = rf_yconf_read_fd(fd, name, &buf, &len, errfn, arg)) != 0)
		return r;
	r = rf_conf_load_mem(buf, len, name, out, errfn, arg);
	free(buf);
	return r;
}

int
rf_conf_load(const char *path, struct rf_conf **out, rf_conf_errfn *errfn,
    void *arg)
{
	unsigned char *buf;
	size_t len;
	int r;

	*out = NULL;
	if ((r = rf_yconf_read_file(path, &buf, &len, errfn, arg)) != 0)
		return r;
	r = rf_conf_load_mem(buf, len, path, out, errfn, arg);
	free(buf);
	return r;
}

void
rf_conf_free(struct rf_conf *conf)
{
	conf_full_free((struct conf_full *)conf);
}

/* ------------------------------------------------------------ output -- */

int
rf_conf_dump(const struct rf_conf *conf, FILE *f)
{
	const unsigned char *p;

	fputs("# The effective configuration of reflectord, defaults "
	    "included,\n# as read from ", f);
	p = (const unsigned char *)(conf->file != NULL ? conf->file : "?");
	for (; *p != '\0'; p++)
		fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, f);
	fputs(".\n", f);
	rf_yconf_dump(conf_keys, conf, f);
	return ferror(f) ? RF_ERR_SYS : 0;
}

int
rf_conf_restart_keys(const struct rf_conf *old, const struct rf_conf *new,
    rf_conf_errfn *errfn, void *arg)
{
	return rf_yconf_restart_keys(conf_keys, old, new, "reflectord", errfn,
	    arg);
}

/*
 * The listeners of new become old's for the kinds (https, http) that a
 * reload cannot change, and stay new's for the others, in the order
 * https, then http.
 */
static void
keep_listen(struct rf_conf *new, const struct rf_conf *old, const int keep[2])
{
	struct rf_conf_listen *v;
	size_t i, n = 0;

	if ((v = calloc(old->nlisten + new->nlisten + 1, sizeof(*v))) == NULL)
		fatal_f("out of memory");
	for (i = 0; i < old->nlisten; i++) {
		if (!keep[old->listen[i].tls])
			continue;
		v[n] = old->listen[i];
		if ((v[n++].address = strdup(old->listen[i].address)) == NULL)
			fatal_f("out of memory");
	}
	for (i = 0; i < new->nlisten; i++) {
		if (keep[new->listen[i].tls])
			free(new->listen[i].address);
		else
			v[n++] = new->listen[i];
	}
	free(new->listen);
	new->listen = v;
	new->nlisten = n;
}

/*
 * Runs in the master and in every worker on each reload.  It cannot fail
 * in a way the caller could handle half-way (new would hold some running
 * values and some new ones), so running out of memory here is fatal.
 */
void
rf_conf_keep_restart_keys(struct rf_conf *new, const struct rf_conf *old)
{
	const struct rf_yconf_key *k;
	int keep[2] = { 0, 0 };

	rf_yconf_keep_restart_keys(conf_keys, new, old);
	for (k = conf_keys; k->path != NULL; k++) {
		if (!(k->flags & RF_YC_RELOAD) && k->custom == &listen_type)
			keep[k->arg] = 1;
	}
	keep_listen(new, old, keep);
}

void
rf_conf_where(const struct rf_conf *conf, const char *key, char *buf,
    size_t len)
{
	const struct conf_full *cf = (const struct conf_full *)conf;

	rf_yconf_where(&cf->where, conf->file, key, buf, len);
}

const char *
rf_conf_default_path(void)
{
	return RF_SYSCONFDIR "/reflector/reflector.yml";
}
