/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The reflector-agent.yml loader (agentconf.h): the key table, and the two
 * types only the agent has, a device's port allow-list ("- http: 80",
 * "- 502") and its free-form properties.  Loading, defaults, errors with
 * file:line:column and the dump are the shared engine's (common/yconf.c).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentconf.h"
#include "err.h"
#include "log.h"
#include "wsclient.h"
#include "yconf.h"

#ifndef RF_SYSCONFDIR
#define RF_SYSCONFDIR		"/usr/local/etc"
#endif

#define AC_PROP_NAME_MAX	63	/* as rf_wt_props_decode takes them */
#define AC_PROP_VALUE_MAX	1023

/* The named ports, and the property each sets (NULL: none). */
static const struct {
	const char	*name;
	const char	*prop;
	uint16_t	 port;	/* the usual port, for the man page */
} port_names[] = {
	{ "http", "httpPort", 80 },
	{ "https", NULL, 443 },
	{ "ssh", "sshPort", 22 },
	{ "vnc", "vncPort", 5900 },
	{ "rdp", "rdpPort", 3389 },
	{ "vpn", "vpnPort", 1194 },
	{ "app", "appPort", 0 },
};

/* Properties the agent sets itself from other keys. */
static const char *const reserved_props[] = {
	"targetHost", "targetPorts", "httpPort", "sshPort", "vncPort",
	"rdpPort", "vpnPort", "appPort",
};

static void	ports_set(struct rf_yconf_ctx *, const struct rf_yconf_key *,
		    const char *, yaml_node_t *, void *);
static void	ports_put(FILE *, const struct rf_yconf_key *, const void *);
static void	ports_free(const struct rf_yconf_key *, void *);
static void	props_set(struct rf_yconf_ctx *, const struct rf_yconf_key *,
		    const char *, yaml_node_t *, void *);
static void	props_put(FILE *, const struct rf_yconf_key *, const void *);
static void	props_free(const struct rf_yconf_key *, void *);
static void	agent_finish(struct rf_yconf_ctx *, void *);

static const struct rf_yconf_custom ports_type = {
	.what = "a list of ports: \"- http: 80\", \"- 502\"",
	.set = ports_set,
	.put = ports_put,
	.free = ports_free,
};

static const struct rf_yconf_custom props_type = {
	.what = "a mapping of property names to values",
	.set = props_set,
	.put = props_put,
	.free = props_free,
};

#define A(f)	offsetof(struct rf_agentconf, f)
#define D(f)	offsetof(struct rf_agent_device, f)

static const struct rf_yconf_key device_keys[] = {
	{ .path = "id", .type = RF_YC_LABEL,
	  .flags = RF_YC_REQUIRED | RF_YC_UNIQUE, .off = D(id),
	  .desc = "device id: the device is <id>.<domain> on the reflector" },
	{ .path = "group", .type = RF_YC_STRING, .def = "default",
	  .off = D(group), .desc = "device group (domain) of the device" },
	{ .path = "password", .type = RF_YC_STRING, .flags = RF_YC_REQUIRED,
	  .off = D(password), .desc = "the device's password" },
	{ .path = "target_host", .type = RF_YC_STRING, .def = "127.0.0.1",
	  .off = D(target_host),
	  .desc = "host the device's services run on" },
	{ .path = "ports", .type = RF_YC_CUSTOM, .flags = RF_YC_REQUIRED,
	  .custom = &ports_type, .off = D(ports), .countoff = D(nports),
	  .desc = "ports the reflector may open: http ssh vnc rdp, numbers" },
	{ .path = "https_target", .type = RF_YC_BOOL, .def = "false",
	  .off = D(https_target),
	  .desc = "connect to the http port with TLS" },
	{ .path = "properties", .type = RF_YC_CUSTOM, .custom = &props_type,
	  .off = D(props), .countoff = D(nprops),
	  .desc = "name, version and custom properties" },
	{ .path = NULL }
};

/* In the order the dump prints them, which is the order of the man page. */
static const struct rf_yconf_key agent_keys[] = {
	{ .path = "reflector", .type = RF_YC_STRING, .flags = RF_YC_UNSET,
	  .check = rf_agentconf_check_url, .off = A(s.reflector),
	  .desc = "URL of the reflector: https://reflector.example.net/" },
	{ .path = "ca_file", .type = RF_YC_PATH, .flags = RF_YC_UNSET,
	  .off = A(s.ca_file),
	  .desc = "CA certificates (PEM) to verify it; empty: the system's" },
	{ .path = "own_records", .type = RF_YC_BOOL, .def = "true",
	  .off = A(s.own_records),
	  .desc = "TLS records done here once a tunnel is open; false: OpenSSL" },
	{ .path = "proxy", .type = RF_YC_SECTION,
	  .desc = "HTTP CONNECT proxy to reach the reflector through" },
	{ .path = "proxy.url", .type = RF_YC_STRING, .flags = RF_YC_UNSET,
	  .check = rf_agentconf_check_proxy_url, .off = A(s.proxy_url),
	  .desc = "http://host:port; empty: connect directly" },
	{ .path = "proxy.username", .type = RF_YC_STRING, .flags = RF_YC_UNSET,
	  .off = A(s.proxy_username), .desc = "Basic credentials, optional" },
	{ .path = "proxy.password", .type = RF_YC_STRING, .flags = RF_YC_UNSET,
	  .off = A(s.proxy_password), .desc = "password of username" },
	{ .path = "reconnect_max", .type = RF_YC_DURATION, .def = "30s",
	  .min = 1, .max = 3600, .off = A(s.reconnect_max),
	  .desc = "longest wait between reconnect attempts" },
	{ .path = "keepalive", .type = RF_YC_DURATION, .def = "60s",
	  .min = 5, .max = 3600, .off = A(s.keepalive),
	  .desc = "idle time before a PING; no answer in twice that: gone" },
	{ .path = "connect_timeout", .type = RF_YC_DURATION, .def = "10s",
	  .min = 1, .max = 300, .off = A(s.connect_timeout),
	  .desc = "time a connection to a target port may take" },
	{ .path = "handshake_timeout", .type = RF_YC_DURATION, .def = "20s",
	  .min = 1, .max = RF_AGENT_HANDSHAKE_MAX, .off = A(s.handshake_timeout),
	  .desc = "time the reflector may take to accept a tunnel" },
	{ .path = "status_hook", .type = RF_YC_PATH, .flags = RF_YC_UNSET,
	  .off = A(s.status_hook),
	  .desc = "program run on connect, disconnect and error" },
	{ .path = "log", .type = RF_YC_SECTION,
	  .desc = "where and how much to log" },
	{ .path = "log.level", .type = RF_YC_ENUM, .def = "info",
	  .en = &rf_yconf_log_level_enum, .off = A(log_level),
	  .desc = "quiet fatal error info verbose debug1 debug2 debug3" },
	{ .path = "log.target", .type = RF_YC_ENUM, .def = "syslog",
	  .en = &rf_yconf_log_target_enum, .off = A(log_target),
	  .desc = "stderr, syslog or file" },
	{ .path = "log.file", .type = RF_YC_PATH,
	  .def = "/var/log/reflector-agent.log", .off = A(log_file),
	  .desc = "the log file when target is file" },
	{ .path = "log.facility", .type = RF_YC_ENUM, .def = "daemon",
	  .en = &rf_yconf_log_facility_enum, .off = A(log_facility),
	  .desc = "syslog facility: daemon user auth authpriv local0-7" },
	{ .path = "devices", .type = RF_YC_TABLE, .sub = device_keys,
	  .elemsize = sizeof(struct rf_agent_device), .off = A(s.devices),
	  .countoff = A(s.ndevices),
	  .desc = "devices: id, group, password, target_host, ports..." },
	{ .path = NULL }
};

_Static_assert(sizeof(agent_keys) / sizeof(agent_keys[0]) <=
    RF_YCONF_MAX_KEYS, "agent_keys[] is larger than RF_YCONF_MAX_KEYS");

static const struct rf_yconf_schema agent_schema = {
	.keys = agent_keys,
	.example = "reflector",
	.finish = agent_finish,
};

const char *
rf_agentconf_check_url(const char *s)
{
	struct rf_agent_url u;
	const char *why;

	if (rf_agent_parse_url(s, &u, &why) != 0)
		return why;
	return NULL;
}

const char *
rf_agentconf_check_proxy_url(const char *s)
{
	struct rf_agent_url u;
	const char *why;

	if (strncmp(s, "http://", 7) != 0)
		return "an http:// URL such as "
		    "\"http://proxy.example.net:3128\"";
	if (rf_agent_parse_url(s, &u, &why) != 0)
		return why;
	if (strchr(s + 7, '@') != NULL)
		return "a URL without credentials (use proxy.username and "
		    "proxy.password)";
	return NULL;
}

/* ------------------------------------------------------------- ports -- */

static int
port_name_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(port_names) / sizeof(port_names[0]); i++)
		if (strcmp(port_names[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int
port_number(struct rf_yconf_ctx *ctx, const char *name, const char *s,
    const struct rf_yconf_pos *pos, uint16_t *pp)
{
	const char *end;
	char shown[64];
	long long v;

	*pp = 0;
	if ((end = rf_yconf_parse_digits(s, &v)) == NULL || *end != '\0' ||
	    v < 1 || v > 65535) {
		rf_yconf_error(ctx, pos, "'%s' port must be a number between "
		    "1 and 65535, got '%s'", name,
		    rf_yconf_show(s, shown, sizeof(shown)));
		return -1;
	}
	*pp = (uint16_t)v;
	return 0;
}

/* One entry: "80", or a one-key mapping "http: 80". */
static int
port_entry(struct rf_yconf_ctx *ctx, const struct rf_yconf_key *k,
    const char *name, yaml_node_t *in, struct rf_agent_port *p)
{
	struct rf_yconf_pos pos = rf_yconf_node_pos(in);
	yaml_node_pair_t *pair;
	yaml_node_t *kn, *vn;
	const char *s, *pname;
	char shown[64];
	int i;

	memset(p, 0, sizeof(*p));
	if (in->type == YAML_SCALAR_NODE) {
		if (rf_yconf_scalar_text(ctx, k, name, in, &s) != 0)
			return -1;
		return port_number(ctx, name, s, &pos, &p->port);
	}
	pair = in->data.mapping.pairs.start;
	if (in->type != YAML_MAPPING_NODE ||
	    in->data.mapping.pairs.top - pair != 1) {
		rf_yconf_error(ctx, &pos, "an entry of '%s' must be a port "
		    "number or one 'name: port' pair, not %s", name,
		    in->type == YAML_MAPPING_NODE ? "several pairs" :
		    rf_yconf_node_kind(in));
		return -1;
	}
	if ((kn = rf_yconf_node(ctx, pair->key)) == NULL ||
	    (vn = rf_yconf_node(ctx, pair->value)) == NULL ||
	    rf_yconf_scalar_text(ctx, k, name, kn, &pname) != 0)
		return -1;
	pos = rf_yconf_node_pos(kn);
	if ((i = port_name_find(pname)) == -1) {
		rf_yconf_error(ctx, &pos, "'%s' port name '%s' must be http, "
		    "https, ssh, vnc, rdp, vpn or app", name,
		    rf_yconf_show(pname, shown, sizeof(shown)));
		return -1;
	}
	pos = rf_yconf_node_pos(vn);
	if (rf_yconf_scalar_text(ctx, k, name, vn, &s) != 0 ||
	    port_number(ctx, name, s, &pos, &p->port) != 0)
		return -1;
	if ((p->name = strdup(port_names[i].name)) == NULL) {
		rf_yconf_nomem(ctx);
		return -1;
	}
	p->tls = strcmp(pname, "https") == 0;
	return 0;
}

static int
port_dup(struct rf_yconf_ctx *ctx, const char *name,
    const struct rf_agent_port *v, size_t n, const struct rf_yconf_pos *pos)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (v[i].port == v[n].port) {
			rf_yconf_error(ctx, pos, "'%s' lists port %u twice",
			    name, v[n].port);
			return 1;
		}
		if (v[i].name != NULL && v[n].name != NULL &&
		    strcmp(v[i].name, v[n].name) == 0) {
			rf_yconf_error(ctx, pos, "'%s' names two '%s' ports",
			    name, v[n].name);
			return 1;
		}
	}
	return 0;
}

static void
ports_set(struct rf_yconf_ctx *ctx, const struct rf_yconf_key *k,
    const char *name, yaml_node_t *vn, void *base)
{
	struct rf_agent_port **vp = (void *)((char *)base + k->off);
	size_t *np = (size_t *)((char *)base + k->countoff), n;
	struct rf_yconf_pos pos = rf_yconf_node_pos(vn);
	yaml_node_item_t *it;
	yaml_node_t *in;

	if (rf_yconf_node_is_null(vn))
		return;
	if (vn->type != YAML_SEQUENCE_NODE) {
		rf_yconf_type_error(ctx, k, name, vn);
		return;
	}
	n = (size_t)(vn->data.sequence.items.top -
	    vn->data.sequence.items.start);
	if (n > RF_AGENT_MAX_PORTS) {
		rf_yconf_error(ctx, &pos, "'%s' has %zu ports; at most %d are "
		    "allowed", name, n, RF_AGENT_MAX_PORTS);
		return;
	}
	if (n == 0)
		return;
	if ((*vp = calloc(n, sizeof(**vp))) == NULL) {
		rf_yconf_nomem(ctx);
		return;
	}
	for (it = vn->data.sequence.items.start;
	    it < vn->data.sequence.items.top && !rf_yconf_stopped(ctx); it++) {
		if ((in = rf_yconf_node(ctx, *it)) == NULL)
			continue;
		pos = rf_yconf_node_pos(in);
		if (port_entry(ctx, k, name, in, &(*vp)[*np]) != 0)
			continue;
		if (port_dup(ctx, name, *vp, *np, &pos)) {
			free((*vp)[*np].name);
			continue;
		}
		(*np)++;
	}
}

static void
ports_put(FILE *f, const struct rf_yconf_key *k, const void *base)
{
	const struct rf_agent_port *v =
	    *(struct rf_agent_port *const *)((const char *)base + k->off);
	size_t n = *(const size_t *)((const char *)base + k->countoff), i;

	fputc('[', f);
	for (i = 0; i < n; i++) {
		fputs(i > 0 ? ", " : "", f);
		if (v[i].name != NULL)
			fprintf(f, "{%s: %u}", v[i].name, v[i].port);
		else
			fprintf(f, "%u", v[i].port);
	}
	fputc(']', f);
}

static void
ports_free(const struct rf_yconf_key *k, void *base)
{
	struct rf_agent_port **vp = (void *)((char *)base + k->off);
	size_t *np = (size_t *)((char *)base + k->countoff), i;

	for (i = 0; i < *np; i++)
		free((*vp)[i].name);
	free(*vp);
	*vp = NULL;
	*np = 0;
}

/* -------------------------------------------------------- properties -- */

static int
prop_name_ok(const char *s)
{
	size_t len = strlen(s);

	return len >= 1 && len <= AC_PROP_NAME_MAX &&
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_.-") == len;
}

static int
prop_reserved(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(reserved_props) / sizeof(reserved_props[0]);
	    i++)
		if (strcmp(s, reserved_props[i]) == 0)
			return 1;
	return 0;
}

static int
prop_entry(struct rf_yconf_ctx *ctx, const struct rf_yconf_key *k,
    const char *name, yaml_node_pair_t *pair, struct rf_agent_prop *v,
    size_t n)
{
	struct rf_yconf_pos pos;
	yaml_node_t *kn, *vn;
	const char *key, *val;
	char shown[64];
	size_t i;

	if ((kn = rf_yconf_node(ctx, pair->key)) == NULL ||
	    (vn = rf_yconf_node(ctx, pair->value)) == NULL ||
	    rf_yconf_scalar_text(ctx, k, name, kn, &key) != 0)
		return -1;
	pos = rf_yconf_node_pos(kn);
	rf_yconf_show(key, shown, sizeof(shown));
	if (!prop_name_ok(key)) {
		rf_yconf_error(ctx, &pos, "'%s' name '%s' must be 1 to %d of "
		    "A-Z, a-z, 0-9, '_', '.' and '-'", name, shown,
		    AC_PROP_NAME_MAX);
		return -1;
	}
	if (prop_reserved(key)) {
		rf_yconf_error(ctx, &pos, "'%s' cannot set '%s': the agent "
		    "sets it from target_host and ports", name, shown);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (strcmp(v[i].name, key) == 0) {
			rf_yconf_error(ctx, &pos, "duplicate property '%s'",
			    shown);
			return -1;
		}
	}
	pos = rf_yconf_node_pos(vn);
	if (rf_yconf_scalar_text(ctx, k, name, vn, &val) != 0)
		return -1;
	if (strlen(val) > AC_PROP_VALUE_MAX) {
		rf_yconf_error(ctx, &pos, "'%s' value of '%s' is longer than "
		    "%d bytes", name, shown, AC_PROP_VALUE_MAX);
		return -1;
	}
	if ((v[n].name = strdup(key)) == NULL ||
	    (v[n].value = strdup(val)) == NULL) {
		free(v[n].name);
		v[n].name = NULL;
		rf_yconf_nomem(ctx);
		return -1;
	}
	return 0;
}

static void
props_set(struct rf_yconf_ctx *ctx, const struct rf_yconf_key *k,
    const char *name, yaml_node_t *vn, void *base)
{
	struct rf_agent_prop **vp = (void *)((char *)base + k->off);
	size_t *np = (size_t *)((char *)base + k->countoff), n;
	struct rf_yconf_pos pos = rf_yconf_node_pos(vn);
	yaml_node_pair_t *pair;

	if (rf_yconf_node_is_null(vn))
		return;
	if (vn->type != YAML_MAPPING_NODE) {
		rf_yconf_type_error(ctx, k, name, vn);
		return;
	}
	n = (size_t)(vn->data.mapping.pairs.top -
	    vn->data.mapping.pairs.start);
	if (n > RF_AGENT_MAX_PROPS) {
		rf_yconf_error(ctx, &pos, "'%s' has %zu properties; at most "
		    "%d are allowed", name, n, RF_AGENT_MAX_PROPS);
		return;
	}
	if (n == 0)
		return;
	if ((*vp = calloc(n, sizeof(**vp))) == NULL) {
		rf_yconf_nomem(ctx);
		return;
	}
	for (pair = vn->data.mapping.pairs.start;
	    pair < vn->data.mapping.pairs.top && !rf_yconf_stopped(ctx);
	    pair++) {
		if (prop_entry(ctx, k, name, pair, *vp, *np) == 0)
			(*np)++;
	}
}

static void
props_put(FILE *f, const struct rf_yconf_key *k, const void *base)
{
	const struct rf_agent_prop *v =
	    *(struct rf_agent_prop *const *)((const char *)base + k->off);
	size_t n = *(const size_t *)((const char *)base + k->countoff), i;

	fputc('{', f);
	for (i = 0; i < n; i++) {
		fputs(i > 0 ? ", " : "", f);
		rf_yconf_put_quoted(f, v[i].name);
		fputs(": ", f);
		rf_yconf_put_quoted(f, v[i].value);
	}
	fputc('}', f);
}

static void
props_free(const struct rf_yconf_key *k, void *base)
{
	struct rf_agent_prop **vp = (void *)((char *)base + k->off);
	size_t *np = (size_t *)((char *)base + k->countoff), i;

	for (i = 0; i < *np; i++) {
		free((*vp)[i].name);
		free((*vp)[i].value);
	}
	free(*vp);
	*vp = NULL;
	*np = 0;
}

/* ------------------------------------------------------------ checks -- */

static struct rf_yconf_pos
key_pos(const struct rf_agentconf *ac, const char *key)
{
	struct rf_yconf_pos none = { 0, 0 };
	size_t i;

	for (i = 0; i < ac->where.n; i++)
		if (strcmp(ac->where.v[i].key, key) == 0)
			return ac->where.v[i].pos;
	return none;
}

/* Checks across keys, once the file has been read. */
static void
agent_finish(struct rf_yconf_ctx *ctx, void *base)
{
	struct rf_agentconf *ac = base;
	struct rf_agent_settings *s = &ac->s;
	struct rf_yconf_pos pos;
	size_t len;

	if (s->reflector == NULL)
		rf_yconf_error(ctx, NULL, "'reflector' is required: the URL "
		    "of the reflector, such as https://reflector.example.net/");
	if (s->ndevices == 0) {
		pos = key_pos(ac, "devices");
		rf_yconf_error(ctx, &pos, "'devices' must list at least one "
		    "device");
	} else if (s->ndevices > RF_AGENT_MAX_DEVICES) {
		pos = key_pos(ac, "devices");
		rf_yconf_error(ctx, &pos, "'devices' has %zu devices; at most "
		    "%d are allowed", s->ndevices, RF_AGENT_MAX_DEVICES);
	}
	if (s->proxy_username != NULL) {
		pos = key_pos(ac, "proxy.username");
		len = strlen(s->proxy_username) + 1 +
		    (s->proxy_password != NULL ? strlen(s->proxy_password) : 0);
		if (s->proxy_url == NULL)
			rf_yconf_error(ctx, &pos, "'proxy.username' needs "
			    "'proxy.url'");
		else if (strchr(s->proxy_username, ':') != NULL)
			rf_yconf_error(ctx, &pos, "'proxy.username' must not "
			    "contain ':' (Basic authentication)");
		else if (len > RF_WSC_PROXY_AUTH_MAX)
			rf_yconf_error(ctx, &pos, "'proxy.username' and "
			    "'proxy.password' together must be at most %d "
			    "bytes", RF_WSC_PROXY_AUTH_MAX - 1);
	} else if (s->proxy_password != NULL) {
		pos = key_pos(ac, "proxy.password");
		rf_yconf_error(ctx, &pos, "'proxy.password' needs "
		    "'proxy.username'");
	}
}

/* ----------------------------------------------------------- loading -- */

void
rf_agentconf_free(struct rf_agentconf *ac)
{
	if (ac == NULL)
		return;
	rf_yconf_free_fields(agent_keys, ac);
	free(ac->file);
	rf_yconf_wheres_free(&ac->where);
	free(ac);
}

int
rf_agentconf_load_mem(const void *buf, size_t len, const char *name,
    struct rf_agentconf **out, rf_yconf_errfn *errfn, void *arg)
{
	struct rf_agentconf *ac;
	int r;

	*out = NULL;
	if (name == NULL)
		name = "(config)";
	if ((ac = calloc(1, sizeof(*ac))) == NULL ||
	    (ac->file = strdup(name)) == NULL) {
		free(ac);
		rf_yconf_report(errfn, arg, name, "out of memory");
		return RF_ERR_NOMEM;
	}
	r = rf_yconf_load_mem(&agent_schema, buf, len, name, ac, &ac->where,
	    NULL, errfn, arg);
	if (r != 0) {
		rf_agentconf_free(ac);
		return r;
	}
	*out = ac;
	return 0;
}

int
rf_agentconf_load(const char *path, struct rf_agentconf **out,
    rf_yconf_errfn *errfn, void *arg)
{
	unsigned char *buf;
	size_t len;
	int r;

	*out = NULL;
	if ((r = rf_yconf_read_file(path, &buf, &len, errfn, arg)) != 0)
		return r;
	r = rf_agentconf_load_mem(buf, len, path, out, errfn, arg);
	free(buf);
	return r;
}

int
rf_agentconf_dump(const struct rf_agentconf *ac, FILE *f)
{
	const unsigned char *p;

	fputs("# The effective configuration of reflector-agent, defaults "
	    "included,\n# as read from ", f);
	p = (const unsigned char *)(ac->file != NULL ? ac->file : "?");
	for (; *p != '\0'; p++)
		fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, f);
	fputs(".\n", f);
	rf_yconf_dump(agent_keys, ac, f);
	return ferror(f) ? RF_ERR_SYS : 0;
}

const char *
rf_agentconf_default_path(void)
{
	return RF_SYSCONFDIR "/reflector/reflector-agent.yml";
}
