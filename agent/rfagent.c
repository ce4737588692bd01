/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The agent object (rfagent.h): settings, the lws context with its two
 * vhosts, the devices and their reconnect timers, status, events and the
 * status hook.  The protocol on each tunnel is tunnel.c's.
 *
 * Lifecycle.  rf_agent_new checks the settings and creates the context:
 * vhost "tunnel" carries the WebSockets to the reflector (CA file, proxy),
 * vhost "target" the raw connections to the devices' services (never
 * through the proxy).  The first step starts a once-a-second tick and
 * connects every device.  A device whose tunnel fails or goes down waits
 * 1 s, then twice as long each time up to reconnect_max, with 0-50 %
 * jitter so that a reflector restart does not bring every device back in
 * the same second; the delay starts again at 1 s after a tunnel was up.
 *
 * lws reads the lowercase http_proxy environment variable for every vhost
 * created without an explicit proxy; rf_wsc_vhost_new (wsclient.c) hides
 * it, so that the proxy is what the settings say.
 */
#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "agent-int.h"
#include "err.h"
#include "evloop.h"
#include "log.h"
#include "rfagent.h"

static void	tick(lws_sorted_usec_list_t *);
static void	retry(lws_sorted_usec_list_t *);

/* ----------------------------------------------------------- settings -- */

static void
device_clear(struct rf_agent_device *d)
{
	size_t i;

	free(d->id);
	free(d->group);
	if (d->password != NULL)
		explicit_bzero(d->password, strlen(d->password));
	free(d->password);
	free(d->target_host);
	for (i = 0; i < d->nports; i++)
		free(d->ports[i].name);
	free(d->ports);
	for (i = 0; i < d->nprops; i++) {
		free(d->props[i].name);
		free(d->props[i].value);
	}
	free(d->props);
	memset(d, 0, sizeof(*d));
}

void
rf_agent_settings_clear(struct rf_agent_settings *s)
{
	size_t i;

	free(s->reflector);
	free(s->ca_file);
	free(s->proxy_url);
	free(s->proxy_username);
	if (s->proxy_password != NULL)
		explicit_bzero(s->proxy_password, strlen(s->proxy_password));
	free(s->proxy_password);
	free(s->status_hook);
	for (i = 0; i < s->ndevices; i++)
		device_clear(&s->devices[i]);
	free(s->devices);
	memset(s, 0, sizeof(*s));
}

/* strdup of NULL is NULL; *err is set when memory runs out. */
static char *
dup0(const char *s, int *err)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*err = 1;
	return d;
}

static int
device_copy(struct rf_agent_device *dst, const struct rf_agent_device *src)
{
	size_t i;
	int err = 0;

	memset(dst, 0, sizeof(*dst));
	dst->id = dup0(src->id, &err);
	dst->group = dup0(src->group != NULL ? src->group : "default", &err);
	dst->password = dup0(src->password != NULL ? src->password : "",
	    &err);
	dst->target_host = dup0(src->target_host != NULL ?
	    src->target_host : "127.0.0.1", &err);
	dst->https_target = src->https_target;
	if (src->nports > 0 &&
	    (dst->ports = calloc(src->nports, sizeof(*dst->ports))) == NULL)
		err = 1;
	for (i = 0; !err && i < src->nports; i++) {
		dst->ports[i] = src->ports[i];
		dst->ports[i].name = dup0(src->ports[i].name, &err);
		dst->nports++;
	}
	if (src->nprops > 0 &&
	    (dst->props = calloc(src->nprops, sizeof(*dst->props))) == NULL)
		err = 1;
	for (i = 0; !err && i < src->nprops; i++) {
		dst->props[i].name = dup0(src->props[i].name, &err);
		dst->props[i].value = dup0(src->props[i].value, &err);
		dst->nprops++;
	}
	if (err) {
		device_clear(dst);
		return RF_ERR_NOMEM;
	}
	return 0;
}

int
rf_agent_settings_copy(struct rf_agent_settings *dst,
    const struct rf_agent_settings *src)
{
	size_t i;
	int err = 0;

	memset(dst, 0, sizeof(*dst));
	dst->reflector = dup0(src->reflector, &err);
	dst->ca_file = dup0(src->ca_file, &err);
	dst->proxy_url = dup0(src->proxy_url, &err);
	dst->proxy_username = dup0(src->proxy_username, &err);
	dst->proxy_password = dup0(src->proxy_password, &err);
	dst->status_hook = dup0(src->status_hook, &err);
	dst->reconnect_max = src->reconnect_max > 0 ? src->reconnect_max : 30;
	dst->keepalive = src->keepalive > 0 ? src->keepalive : 60;
	dst->connect_timeout = src->connect_timeout > 0 ?
	    src->connect_timeout : 10;
	dst->handshake_timeout = src->handshake_timeout > 0 ?
	    src->handshake_timeout : 20;
	dst->own_records = src->own_records;
	if (src->ndevices > 0 && (dst->devices = calloc(src->ndevices,
	    sizeof(*dst->devices))) == NULL)
		err = 1;
	for (i = 0; !err && i < src->ndevices; i++) {
		if (device_copy(&dst->devices[i], &src->devices[i]) != 0)
			err = 1;
		else
			dst->ndevices++;
	}
	if (err) {
		rf_agent_settings_clear(dst);
		return RF_ERR_NOMEM;
	}
	return 0;
}

static int
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

int
rf_agent_device_equal(const struct rf_agent_device *a,
    const struct rf_agent_device *b)
{
	size_t i;

	if (!str_eq(a->id, b->id) || !str_eq(a->group, b->group) ||
	    !str_eq(a->password, b->password) ||
	    !str_eq(a->target_host, b->target_host) ||
	    a->https_target != b->https_target || a->nports != b->nports ||
	    a->nprops != b->nprops)
		return 0;
	for (i = 0; i < a->nports; i++)
		if (a->ports[i].port != b->ports[i].port ||
		    a->ports[i].tls != b->ports[i].tls ||
		    !str_eq(a->ports[i].name, b->ports[i].name))
			return 0;
	for (i = 0; i < a->nprops; i++)
		if (!str_eq(a->props[i].name, b->props[i].name) ||
		    !str_eq(a->props[i].value, b->props[i].value))
			return 0;
	return 1;
}

/* 1 if the two need different vhosts (every tunnel reconnects). */
static int
global_differs(const struct rf_agent_settings *a,
    const struct rf_agent_settings *b)
{
	return !str_eq(a->reflector, b->reflector) ||
	    !str_eq(a->ca_file, b->ca_file) ||
	    !str_eq(a->proxy_url, b->proxy_url) ||
	    !str_eq(a->proxy_username, b->proxy_username) ||
	    !str_eq(a->proxy_password, b->proxy_password) ||
	    a->own_records != b->own_records;
}

/* ------------------------------------------------------------ helpers -- */

int
rf_agent_parse_url(const char *url, struct rf_agent_url *u,
    const char **why)
{
	const char *p, *hend, *pstart, *end;
	long port;
	size_t hlen;

	memset(u, 0, sizeof(*u));
	*why = NULL;
	if (strncmp(url, "https://", 8) == 0 || strncmp(url, "wss://", 6) == 0)
		u->tls = 1;
	else if (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "ws://", 5) != 0) {
		*why = "a URL starting with https:// (or http://, wss://, "
		    "ws://)";
		return RF_ERR_INVAL;
	}
	p = strstr(url, "://") + 3;
	if ((pstart = strchr(p, '/')) == NULL)
		pstart = p + strlen(p);
	if (*p == '[') {
		if ((hend = memchr(p, ']', (size_t)(pstart - p))) == NULL) {
			*why = "a URL with the IPv6 address in brackets";
			return RF_ERR_INVAL;
		}
		p++;
		hlen = (size_t)(hend - p);
		hend++;
	} else {
		if ((hend = memchr(p, ':', (size_t)(pstart - p))) == NULL)
			hend = pstart;
		hlen = (size_t)(hend - p);
	}
	if (hlen == 0 || hlen >= sizeof(u->host) ||
	    memchr(p, '@', hlen) != NULL) {
		*why = "a URL with a host name, such as "
		    "https://reflector.example.net/";
		return RF_ERR_INVAL;
	}
	memcpy(u->host, p, hlen);
	u->port = u->tls ? 443 : 80;
	if (*hend == ':') {
		errno = 0;
		port = strtol(hend + 1, (char **)&end, 10);
		if (end != pstart || end == hend + 1 || port < 1 ||
		    port > 65535) {
			*why = "a URL with a port between 1 and 65535";
			return RF_ERR_INVAL;
		}
		u->port = (int)port;
	} else if (hend != pstart) {
		*why = "a URL of the form https://host[:port][/path]";
		return RF_ERR_INVAL;
	}
	if (strlen(*pstart != '\0' ? pstart : "/") >= sizeof(u->path) ||
	    strpbrk(pstart, " \t\r\n") != NULL) {
		*why = "a URL with a path without spaces";
		return RF_ERR_INVAL;
	}
	snprintf(u->path, sizeof(u->path), "%s",
	    *pstart != '\0' ? pstart : "/");
	return 0;
}

unsigned int
rf_agent_backoff_ms(unsigned int failures, int cap_s, unsigned int rnd)
{
	unsigned long long ms = 1000, cap;

	cap = (unsigned long long)(cap_s > 0 ? cap_s : 1) * 1000;
	while (failures > 1 && ms < cap) {
		ms *= 2;
		failures--;
	}
	if (ms > cap)
		ms = cap;
	if (rnd > 1000)
		rnd = 1000;
	return (unsigned int)(ms + ms * rnd / 2000);
}

/* One property header; the value quoted unless it is a bare number. */
static int
put_prop(char *buf, size_t len, size_t *off, const char *name,
    const char *value, int bare)
{
	size_t o = *off;
	const char *p;
	int n;

	n = snprintf(buf + o, len - o, "X-PTTH-Set-Property: device;%s=",
	    name);
	if (n < 0 || (size_t)n >= len - o)
		return RF_ERR_LIMIT;
	o += (size_t)n;
	if (!bare && o < len)
		buf[o++] = '"';
	for (p = value; *p != '\0' && o + 1 < len; p++) {
		if (!bare && (*p == '"' || *p == '\\'))
			buf[o++] = '\\';
		if (o + 1 < len)
			buf[o++] = *p;
	}
	if (*p != '\0' || o + 4 > len)
		return RF_ERR_LIMIT;
	if (!bare)
		buf[o++] = '"';
	buf[o++] = '\r';
	buf[o++] = '\n';
	buf[o] = '\0';
	*off = o;
	return 0;
}

static const struct {
	const char	*port;
	const char	*prop;
} port_props[] = {
	{ "http", "httpPort" }, { "ssh", "sshPort" }, { "vnc", "vncPort" },
	{ "rdp", "rdpPort" }, { "vpn", "vpnPort" }, { "app", "appPort" },
};

/* The port of the named kind, or 0; "http" falls back to "https". */
static unsigned int
named_port(const struct rf_agent_device *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->nports; i++)
		if (d->ports[i].name != NULL &&
		    strcmp(d->ports[i].name, name) == 0)
			return d->ports[i].port;
	return strcmp(name, "http") == 0 ? named_port(d, "https") : 0;
}

int
rf_agent_property_headers(const struct rf_agent_device *d, char *buf,
    size_t len)
{
	char ports[RF_AGENT_MAX_PORTS * 7 + 1], num[8];
	size_t off = 0, i, po = 0;
	unsigned int p;

	if (len == 0)
		return RF_ERR_LIMIT;
	buf[0] = '\0';
	ports[0] = '\0';
	for (i = 0; i < d->nports && i < RF_AGENT_MAX_PORTS; i++)
		po += (size_t)snprintf(ports + po, sizeof(ports) - po,
		    "%s%u", i > 0 ? ", " : "", d->ports[i].port);
	if (put_prop(buf, len, &off, "targetHost", d->target_host != NULL ?
	    d->target_host : "127.0.0.1", 0) != 0 ||
	    put_prop(buf, len, &off, "targetPorts", ports, 0) != 0)
		return RF_ERR_LIMIT;
	for (i = 0; i < sizeof(port_props) / sizeof(port_props[0]); i++) {
		if ((p = named_port(d, port_props[i].port)) == 0)
			continue;
		snprintf(num, sizeof(num), "%u", p);
		if (put_prop(buf, len, &off, port_props[i].prop, num, 1) != 0)
			return RF_ERR_LIMIT;
	}
	for (i = 0; i < d->nprops; i++)
		if (put_prop(buf, len, &off, d->props[i].name,
		    d->props[i].value, 0) != 0)
			return RF_ERR_LIMIT;
	return (int)off;
}

const char *
rf_agent_state_name(enum rf_agent_state s)
{
	static const char *const names[] = {
		"idle", "connecting", "connected", "backoff", "error"
	};

	return (size_t)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

const char *
rf_agent_event_name(enum rf_agent_event e)
{
	static const char *const names[] = {
		"connect", "disconnect", "error"
	};

	return (size_t)e < sizeof(names) / sizeof(names[0]) ? names[e] : "?";
}

/* --------------------------------------------------------------- hook -- */

/*
 * Runs the status hook without a shell and without waiting for it: the
 * child forks the hook and exits at once, so the hook is nobody's child
 * to reap and a slow hook never holds up the tunnels.
 */
static void
run_hook(const char *hook, const char *id, enum rf_agent_event ev,
    const char *detail)
{
	const char *evname = rf_agent_event_name(ev);
	pid_t pid, gpid;
	int status;

	if ((pid = fork()) == -1) {
		error("status hook %s: fork: %s", hook, strerror(errno));
		return;
	}
	if (pid == 0) {
		if ((gpid = fork()) != 0)
			_exit(gpid == -1 ? 1 : 0);
		closefrom(3);
		setenv("REFLECTOR_DEVICE", id, 1);
		setenv("REFLECTOR_EVENT", evname, 1);
		setenv("REFLECTOR_DETAIL", detail != NULL ? detail : "", 1);
		execl(hook, hook, evname, id, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
}

void
agent_dev_event(struct agent_dev *d, enum rf_agent_event ev,
    const char *detail)
{
	struct rf_agent *a = d->agent;

	if (a->s.status_hook != NULL)
		run_hook(a->s.status_hook, d->conf.id, ev, detail);
	if (a->evfn != NULL)
		a->evfn(a->evarg, d->conf.id, ev, detail);
}

/* ------------------------------------------------------------ devices -- */

static void
schedule_retry(struct agent_dev *d)
{
	struct rf_agent *a = d->agent;
	unsigned int ms;

	ms = rf_agent_backoff_ms(d->failures, a->s.reconnect_max,
	    arc4random_uniform(1001));
	d->st.backoff_ms = ms;
	d->st.state = RF_AGENT_BACKOFF;
	lws_sul_schedule(a->ctx, 0, &d->sul_retry, retry,
	    (lws_usec_t)ms * LWS_US_PER_MS);
}

void
agent_dev_up(struct agent_dev *d)
{
	d->established = 1;
	d->failures = 0;
	d->st.connects++;
	d->st.state = RF_AGENT_CONNECTED;
	d->st.last_error[0] = '\0';
	d->st.backoff_ms = 0;
	logit("%s: connected to %s", d->conf.id, d->agent->s.reflector);
	agent_dev_event(d, RF_AGENT_EV_CONNECT, d->agent->s.reflector);
}

void
agent_dev_down(struct agent_dev *d, const char *reason)
{
	struct rf_agent *a = d->agent;
	char why[sizeof(d->st.last_error)];

	snprintf(why, sizeof(why), "%s", reason != NULL && *reason != '\0' ?
	    reason : "the connection closed");
	snprintf(d->st.last_error, sizeof(d->st.last_error), "%s", why);
	d->failures++;
	if (a->stopping) {
		d->st.state = RF_AGENT_IDLE;
		return;
	}
	schedule_retry(d);
	if (d->established) {
		d->established = 0;
		logit("%s: disconnected: %s; reconnecting in %u.%u s",
		    d->conf.id, why, d->st.backoff_ms / 1000,
		    d->st.backoff_ms % 1000 / 100);
		agent_dev_event(d, RF_AGENT_EV_DISCONNECT, why);
	} else {
		d->st.failures++;
		error("%s: cannot connect to %s: %s; retrying in %u.%u s",
		    d->conf.id, a->s.reflector, why, d->st.backoff_ms / 1000,
		    d->st.backoff_ms % 1000 / 100);
		agent_dev_event(d, RF_AGENT_EV_ERROR, why);
	}
}

static void
retry(lws_sorted_usec_list_t *sul)
{
	struct agent_dev *d = lws_container_of(sul, struct agent_dev,
	    sul_retry);

	if (!d->agent->stopping)
		agent_tunnel_connect(d);
}

static struct agent_dev *
dev_new(struct rf_agent *a, const struct rf_agent_device *conf)
{
	struct agent_dev *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	if (device_copy(&d->conf, conf) != 0) {
		free(d);
		return NULL;
	}
	d->agent = a;
	TAILQ_INIT(&d->chans);
	STAILQ_INIT(&d->ctrl);
	return d;
}

static void
dev_free(struct agent_dev *d)
{
	if (d == NULL)
		return;
	lws_sul_cancel(&d->sul_retry);
	agent_tunnel_drop(d);
	device_clear(&d->conf);
	free(d);
}

static void
tick(lws_sorted_usec_list_t *sul)
{
	struct rf_agent *a = lws_container_of(sul, struct rf_agent, sul_tick);
	int64_t now = lws_now_usecs();
	size_t i;

	for (i = 0; i < a->ndevs; i++)
		agent_tunnel_tick(a->devs[i], now);
	if (!a->stopping)
		lws_sul_schedule(a->ctx, 0, &a->sul_tick, tick, LWS_US_PER_SEC);
}

/* ------------------------------------------------------------ context -- */

/*
 * What reaching the reflector takes: the raw vhost of the tunnels (their
 * WebSocket, TLS and proxy are wslink's), the TLS context that verifies
 * the reflector against the CA file, the proxy; and the targets' vhost.
 */
struct agent_net {
	struct lws_vhost	*tunnel;
	struct lws_vhost	*target;
	SSL_CTX			*tls;
	struct rf_wsl_proxy	 proxy;
};

static void
net_free(struct agent_net *n)
{
	if (n->tunnel != NULL)
		lws_vhost_destroy(n->tunnel);
	if (n->target != NULL)
		lws_vhost_destroy(n->target);
	/* Links that are still connecting hold a reference of their own. */
	SSL_CTX_free(n->tls);
	explicit_bzero(n, sizeof(*n));
}

static int
make_net(struct rf_agent *a, const struct rf_agent_url *url,
    struct agent_net *n)
{
	char why[300];
	const char *phrase;

	memset(n, 0, sizeof(*n));
	if (a->s.proxy_url != NULL && rf_wsl_proxy_parse(&n->proxy,
	    a->s.proxy_url, a->s.proxy_username, a->s.proxy_password,
	    &phrase) != 0) {
		error("proxy.url: %s", phrase);
		return RF_ERR_INVAL;
	}
	if (url->tls && (n->tls = rf_tlsraw_ctx_new(1, a->s.ca_file, why,
	    sizeof(why))) == NULL) {
		error("cannot set up TLS for the reflector: %s", why);
		net_free(n);
		return RF_ERR_TLS;
	}
	/* Whether a tunnel takes them over is own_records' (reloadable). */
	if (n->tls != NULL && rf_tlsraw_own_records(n->tls) != 0) {
		error("cannot set up TLS for the reflector");
		net_free(n);
		return RF_ERR_TLS;
	}
	/* The targets are on the device's LAN: never through the proxy. */
	if ((n->tunnel = rf_wsc_vhost_new(a->ctx, "tunnel",
	    rf_agent_tunnel_protocols)) == NULL ||
	    (n->target = rf_wsc_vhost_new(a->ctx, "target",
	    rf_agent_target_protocols)) == NULL) {
		error("cannot set up the connections");
		net_free(n);
		return RF_ERR_TLS;
	}
	return 0;
}

/* Puts n in use and the one in use before into n. */
static void
net_swap(struct rf_agent *a, struct agent_net *n)
{
	struct agent_net old;

	old.tunnel = a->vh_tunnel;
	old.target = a->vh_target;
	old.tls = a->tunnel_tls;
	old.proxy = a->proxy;
	a->vh_tunnel = n->tunnel;
	a->vh_target = n->target;
	a->tunnel_tls = n->tls;
	a->proxy = n->proxy;
	*n = old;
}

static int
check_settings(const struct rf_agent_settings *s, struct rf_agent_url *u)
{
	const char *why;
	size_t i, j;

	if (s->reflector == NULL ||
	    rf_agent_parse_url(s->reflector, u, &why) != 0) {
		error("reflector: %s", s->reflector == NULL ? "not set" : why);
		return RF_ERR_INVAL;
	}
	if (s->ndevices == 0 || s->ndevices > RF_AGENT_MAX_DEVICES) {
		error("between 1 and %d devices are needed, not %zu",
		    RF_AGENT_MAX_DEVICES, s->ndevices);
		return RF_ERR_INVAL;
	}
	for (i = 0; i < s->ndevices; i++) {
		if (s->devices[i].id == NULL || s->devices[i].id[0] == '\0') {
			error("device %zu has no id", i + 1);
			return RF_ERR_INVAL;
		}
		for (j = 0; j < i; j++)
			if (strcmp(s->devices[i].id, s->devices[j].id) == 0) {
				error("device %s is listed twice",
				    s->devices[i].id);
				return RF_ERR_INVAL;
			}
	}
	return 0;
}

int
rf_agent_new(const struct rf_agent_settings *s, struct rf_agent **out)
{
	struct lws_context_creation_info info;
	struct agent_net net;
	struct rf_agent *a;
	size_t i;
	int r;

	*out = NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return RF_ERR_NOMEM;
	if ((r = check_settings(s, &a->url)) != 0)
		goto out;
	if ((r = rf_agent_settings_copy(&a->s, s)) != 0)
		goto out;
	lws_set_log_level(rf_log_enabled(RF_LOG_DEBUG2) ? LLL_ERR | LLL_WARN |
	    LLL_NOTICE : LLL_ERR | LLL_WARN, rf_wsc_lws_log);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
	    LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	/* Raw sockets read at most this much per event (PLATFORM-NOTES). */
	info.pt_serv_buf_size = 64 * 1024;
	/*
	 * lws's own timeouts for a client's steps (TCP, proxy, TLS, the
	 * upgrade's answer) are 5 s unless set, too short for a mobile link;
	 * handshake_timeout is ours (agent_tunnel_tick), reloadable, and
	 * lws's stay behind it at the setting's maximum.
	 */
	info.timeout_secs = RF_AGENT_HANDSHAKE_MAX;
	info.gid = -1;
	info.uid = -1;
	if ((r = rf_evloop_init(&a->loop, &info)) != 0)
		goto out;
	r = RF_ERR_NOMEM;
	if ((a->ctx = lws_create_context(&info)) == NULL) {
		error("cannot create the event loop");
		goto out;
	}
	if ((r = make_net(a, &a->url, &net)) != 0)
		goto out;
	net_swap(a, &net);
	r = RF_ERR_NOMEM;
	if ((a->devs = calloc(a->s.ndevices, sizeof(*a->devs))) == NULL)
		goto out;
	for (i = 0; i < a->s.ndevices; i++) {
		if ((a->devs[i] = dev_new(a, &a->s.devices[i])) == NULL)
			goto out;
		a->ndevs++;
	}
	*out = a;
	a = NULL;
	r = 0;
out:
	rf_agent_free(a);
	return r;
}

void
rf_agent_free(struct rf_agent *a)
{
	size_t i;

	if (a == NULL)
		return;
	a->stopping = 1;
	if (a->ctx != NULL)
		lws_sul_cancel(&a->sul_tick);
	for (i = 0; i < a->ndevs; i++)
		dev_free(a->devs[i]);
	free(a->devs);
	if (a->ctx != NULL)
		lws_context_destroy(a->ctx);
	rf_evloop_free(&a->loop);
	SSL_CTX_free(a->target_tls);
	SSL_CTX_free(a->tunnel_tls);
	explicit_bzero(&a->proxy, sizeof(a->proxy));
	rf_agent_settings_clear(&a->s);
	free(a);
}

void
rf_agent_set_event_fn(struct rf_agent *a, rf_agent_event_fn *fn, void *arg)
{
	a->evfn = fn;
	a->evarg = arg;
}

static void
start(struct rf_agent *a)
{
	size_t i;

	a->started = 1;
	lws_sul_schedule(a->ctx, 0, &a->sul_tick, tick, LWS_US_PER_SEC);
	for (i = 0; i < a->ndevs; i++)
		if (a->devs[i]->wsi == NULL && a->devs[i]->cwsi == NULL)
			agent_tunnel_connect(a->devs[i]);
	rf_evloop_kick(a->ctx);
}

int
rf_agent_step(struct rf_agent *a, int timeout_ms)
{
	if (a->stopping)
		return 1;
	if (!a->started)
		start(a);
	/* One iteration: until the next timer (the tick: 1 s) or an event. */
	rf_evloop_once(&a->loop, timeout_ms > 0);
	return a->stopping ? 1 : 0;
}

int
rf_agent_run(struct rf_agent *a)
{
	int r;

	while ((r = rf_agent_step(a, 1000)) == 0)
		;
	return r == 1 ? 0 : r;
}

void
rf_agent_stop(struct rf_agent *a)
{
	size_t i;

	a->stopping = 1;
	for (i = 0; i < a->ndevs; i++) {
		lws_sul_cancel(&a->devs[i]->sul_retry);
		agent_tunnel_drop(a->devs[i]);
		a->devs[i]->st.state = RF_AGENT_IDLE;
	}
	lws_cancel_service(a->ctx);
}

void
rf_agent_wake(struct rf_agent *a)
{
	lws_cancel_service(a->ctx);
}

/*
 * Moves a's devices to the new list: unchanged ones (unless all) keep
 * their tunnel, the others are made fresh and connect.  Nothing changes
 * on failure.
 */
static int
redevice(struct rf_agent *a, const struct rf_agent_settings *s, int all)
{
	struct agent_dev **nd = NULL;
	char *used = NULL, *fresh = NULL;
	size_t i, j;
	int r = RF_ERR_NOMEM;

	if ((nd = calloc(s->ndevices, sizeof(*nd))) == NULL ||
	    (fresh = calloc(s->ndevices, 1)) == NULL ||
	    (used = calloc(a->ndevs + 1, 1)) == NULL)
		goto out;
	for (i = 0; i < s->ndevices; i++) {
		for (j = 0; !all && j < a->ndevs; j++) {
			if (!used[j] && rf_agent_device_equal(&a->devs[j]->conf,
			    &s->devices[i])) {
				nd[i] = a->devs[j];
				used[j] = 1;
				break;
			}
		}
		if (nd[i] == NULL) {
			if ((nd[i] = dev_new(a, &s->devices[i])) == NULL)
				goto out;
			fresh[i] = 1;
		}
	}
	for (j = 0; j < a->ndevs; j++) {
		if (used[j])
			continue;
		logit("%s: %s", a->devs[j]->conf.id, all ?
		    "reconnecting for the new settings" :
		    "removed or changed: closing its tunnel");
		dev_free(a->devs[j]);
	}
	free(a->devs);
	a->devs = nd;
	a->ndevs = s->ndevices;
	nd = NULL;
	r = 0;
out:
	for (i = 0; nd != NULL && fresh != NULL && i < s->ndevices; i++)
		if (fresh[i])
			dev_free(nd[i]);
	free(nd);
	free(fresh);
	free(used);
	return r;
}

int
rf_agent_configure(struct rf_agent *a, const struct rf_agent_settings *s)
{
	struct rf_agent_settings ns;
	struct agent_net net;
	struct rf_agent_url url;
	int all, r;
	size_t i;

	if ((r = check_settings(s, &url)) != 0)
		return r;
	if ((r = rf_agent_settings_copy(&ns, s)) != 0)
		return r;
	all = global_differs(&a->s, &ns);
	if (all) {
		struct rf_agent_settings old = a->s;

		a->s = ns;
		r = make_net(a, &url, &net);
		a->s = old;
		if (r != 0) {
			rf_agent_settings_clear(&ns);
			return r;
		}
	}
	/* Kept devices see the new settings (keepalive, hook) at once. */
	if ((r = redevice(a, &ns, all)) != 0) {
		if (all)
			net_free(&net);
		rf_agent_settings_clear(&ns);
		return r;
	}
	rf_agent_settings_clear(&a->s);
	a->s = ns;
	a->url = url;
	if (all) {
		net_swap(a, &net);
		/* The old tunnels are closing; lws frees a vhost once empty. */
		net_free(&net);
	}
	if (a->started)
		for (i = 0; i < a->ndevs; i++)
			if (a->devs[i]->wsi == NULL &&
			    a->devs[i]->cwsi == NULL &&
			    a->devs[i]->st.state == RF_AGENT_IDLE)
				agent_tunnel_connect(a->devs[i]);
	return 0;
}

size_t
rf_agent_ndevices(const struct rf_agent *a)
{
	return a->ndevs;
}

int
rf_agent_status(const struct rf_agent *a, size_t idx, const char **id,
    struct rf_agent_status *st)
{
	*id = NULL;
	memset(st, 0, sizeof(*st));
	if (idx >= a->ndevs)
		return RF_ERR_NOTFOUND;
	*id = a->devs[idx]->conf.id;
	*st = a->devs[idx]->st;
	return 0;
}
