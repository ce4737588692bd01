/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The reflector.yml loader (conf.h).  One table, conf_keys[], declares every
 * key once with its type, default, range and reload rule; loading, the
 * defaults, reflectord -T and the reload check all walk that table, so no
 * key can be known to one of them and missing from another.
 */
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <yaml.h>

#include "conf.h"
#include "err.h"
#include "log.h"

#ifndef RF_SYSCONFDIR
#define RF_SYSCONFDIR		"/usr/local/etc"
#endif
#ifndef RF_LOCALSTATEDIR
#define RF_LOCALSTATEDIR	"/usr/local/var"
#endif
#ifndef RF_RUNSTATEDIR
#define RF_RUNSTATEDIR		"/run"
#endif

#define CONF_MAX_ERRORS	20		/* then "too many errors" */
#define CONF_MAX_DEPTH	16		/* the schema needs 4 levels */
#define CONF_MAX_FILE	(16 * 1024 * 1024)
#define CONF_MAX_LISTEN	64		/* addresses in one listen list */
#define CONF_MAX_KEYS	32		/* entries in one key table */
#define CONF_DIST_MAX	32		/* longest key that gets a hint */
#define CONF_NUM_CAP	1000000000000LL	/* numbers stick here: no overflow */

enum conf_type {
	CT_SECTION,		/* a mapping of the keys named path.* */
	CT_STRING,		/* char * */
	CT_PATH,		/* char *, kept as written */
	CT_INT,			/* int in [min, max] */
	CT_BOOL,		/* int 0 or 1: true/false, yes/no, on/off */
	CT_ENUM,		/* int, through en */
	CT_WORKERS,		/* int in [min, max], or "auto" */
	CT_DURATION,		/* int seconds: 30, 30s, 5m, 1h */
	CT_SIZE,		/* int bytes: 8192, 8k, 1m */
	CT_HOSTNAME,		/* char *, a lowercase DNS name */
	CT_LABEL,		/* char *, a DNS label (a device id) */
	CT_USERNAME,		/* char *, [A-Za-z0-9._@-]{1,64} */
	CT_LISTEN,		/* a list of "address:port" */
	CT_PATTERNS,		/* char **, device id patterns, + count */
	CT_TABLE,		/* a list of mappings with the keys in sub */
};

#define CK_RELOAD	0x01	/* a reload may change it */
#define CK_REQUIRED	0x02	/* every entry of a list must set it */
#define CK_UNSET	0x04	/* an empty value means "not set" (NULL) */
#define CK_UNIQUE	0x08	/* no two entries of a list may share it */

struct conf_enum {
	const char	*allowed;	/* for "'x' must be <allowed>" */
	int		(*from_name)(const char *, int *);
	const char	*(*name)(int);
};

struct conf_key {
	const char		*path;	/* dotted: "limits.header_max" */
	enum conf_type		 type;
	int			 flags;	/* CK_* */
	const char		*def;	/* as in a file; NULL: none */
	long long		 min, max;
	const struct conf_enum	*en;	/* CT_ENUM */
	const struct conf_key	*sub;	/* CT_TABLE: the keys of an entry */
	size_t			 elemsize; /* CT_TABLE: size of an entry */
	size_t			 off;	/* the field in the struct filled */
	size_t			 countoff; /* CT_TABLE, CT_PATTERNS: size_t */
	int			 tls;	/* CT_LISTEN: 1 https, 0 http */
	const char		*desc;	/* one line, printed by rf_conf_dump */
};

static int	 level_from_name(const char *, int *);
static const char *level_name(int);
static int	 target_from_name(const char *, int *);
static const char *target_name(int);
static int	 tlsver_from_name(const char *, int *);
static const char *tlsver_name(int);

static const struct conf_enum level_enum = {
	"one of quiet, fatal, error, info, verbose, debug1, debug2 or "
	    "debug3",
	level_from_name, level_name
};
static const struct conf_enum target_enum = {
	"stderr, syslog or file", target_from_name, target_name
};
static const struct conf_enum facility_enum = {
	"one of daemon, user, auth, authpriv or local0 to local7",
	rf_log_facility_from_name, rf_log_facility_name
};
static const struct conf_enum tlsver_enum = {
	"1.2 or 1.3", tlsver_from_name, tlsver_name
};

#define C(f)	offsetof(struct rf_conf, f)
#define D(f)	offsetof(struct rf_conf_device, f)
#define U(f)	offsetof(struct rf_conf_user, f)

static const struct conf_key device_keys[] = {
	{ .path = "id", .type = CT_LABEL, .flags = CK_REQUIRED | CK_UNIQUE,
	  .off = D(id), .desc = "device id: its host name is <id>.<domain>" },
	{ .path = "group", .type = CT_STRING, .def = "default",
	  .off = D(group), .desc = "group the device belongs to" },
	{ .path = "name", .type = CT_STRING, .flags = CK_UNSET,
	  .off = D(name), .desc = "name shown to users" },
	{ .path = "secret", .type = CT_STRING, .flags = CK_REQUIRED,
	  .off = D(secret), .desc = "hash of the device's secret" },
	{ .path = NULL }
};

static const struct conf_key user_keys[] = {
	{ .path = "name", .type = CT_USERNAME, .flags = CK_REQUIRED | CK_UNIQUE,
	  .off = U(name), .desc = "login name" },
	{ .path = "password", .type = CT_STRING, .flags = CK_REQUIRED,
	  .off = U(password), .desc = "hash of the password" },
	{ .path = "devices", .type = CT_PATTERNS, .off = U(devices),
	  .countoff = U(ndevices),
	  .desc = "device ids the user may reach: \"cam1\", \"cam-*\", \"*\"" },
	{ .path = NULL }
};

/* In the order rf_conf_dump prints them, which is the order of the man page. */
static const struct conf_key conf_keys[] = {
	{ .path = "domain", .type = CT_HOSTNAME, .def = "localhost",
	  .off = C(domain),
	  .desc = "devices are reached as <id>.<domain>" },
	{ .path = "listen", .type = CT_SECTION,
	  .desc = "addresses to accept connections on" },
	{ .path = "listen.https", .type = CT_LISTEN, .def = "*:443", .tls = 1,
	  .desc = "HTTPS: \"*:443\", \"127.0.0.1:8443\", \"[::1]:8443\"" },
	{ .path = "listen.http", .type = CT_LISTEN, .tls = 0,
	  .desc = "plain HTTP, optional" },
	{ .path = "tls", .type = CT_SECTION, .flags = CK_RELOAD,
	  .desc = "the server certificate" },
	{ .path = "tls.certificate", .type = CT_PATH, .flags = CK_RELOAD,
	  .def = RF_SYSCONFDIR "/reflector/cert.pem",
	  .off = C(tls_certificate),
	  .desc = "PEM certificate chain, the server's own first" },
	{ .path = "tls.key", .type = CT_PATH, .flags = CK_RELOAD,
	  .def = RF_SYSCONFDIR "/reflector/key.pem", .off = C(tls_key),
	  .desc = "PEM private key of the certificate" },
	{ .path = "tls.min_version", .type = CT_ENUM, .flags = CK_RELOAD,
	  .def = "1.2", .en = &tlsver_enum, .off = C(tls_min_version),
	  .desc = "oldest TLS version accepted: 1.2 or 1.3" },
	{ .path = "workers", .type = CT_WORKERS, .def = "auto",
	  .min = 1, .max = 256, .off = C(workers),
	  .desc = "worker processes: 1 to 256, or auto (one per CPU)" },
	{ .path = "user", .type = CT_STRING, .flags = CK_UNSET,
	  .off = C(user),
	  .desc = "user to run as after binding; empty: do not switch" },
	{ .path = "state_dir", .type = CT_PATH,
	  .def = RF_LOCALSTATEDIR "/lib/reflector", .off = C(state_dir),
	  .desc = "durable registry of devices and users" },
	{ .path = "run_dir", .type = CT_PATH,
	  .def = RF_RUNSTATEDIR "/reflector", .off = C(run_dir),
	  .desc = "routing map, rebuilt at start (tmpfs is best)" },
	{ .path = "pid_file", .type = CT_PATH,
	  .def = RF_RUNSTATEDIR "/reflector/reflectord.pid", .off = C(pid_file),
	  .desc = "file holding the process id of the master" },
	{ .path = "log", .type = CT_SECTION, .flags = CK_RELOAD,
	  .desc = "where and how much to log" },
	{ .path = "log.level", .type = CT_ENUM, .flags = CK_RELOAD,
	  .def = "info", .en = &level_enum, .off = C(log_level),
	  .desc = "quiet fatal error info verbose debug1 debug2 debug3" },
	{ .path = "log.target", .type = CT_ENUM, .flags = CK_RELOAD,
	  .def = "syslog", .en = &target_enum, .off = C(log_target),
	  .desc = "stderr, syslog or file" },
	{ .path = "log.file", .type = CT_PATH, .flags = CK_RELOAD,
	  .def = RF_LOCALSTATEDIR "/log/reflector/reflectord.log",
	  .off = C(log_file), .desc = "the log file when target is file" },
	{ .path = "log.facility", .type = CT_ENUM, .flags = CK_RELOAD,
	  .def = "daemon", .en = &facility_enum, .off = C(log_facility),
	  .desc = "syslog facility: daemon user auth authpriv local0-7" },
	{ .path = "limits", .type = CT_SECTION, .flags = CK_RELOAD,
	  .desc = "limits and timeouts" },
	{ .path = "limits.max_connections", .type = CT_INT,
	  .flags = CK_RELOAD, .def = "10000", .min = 16, .max = 1000000,
	  .off = C(max_connections),
	  .desc = "connections one worker holds at most" },
	{ .path = "limits.handshake_timeout", .type = CT_DURATION,
	  .def = "10s", .min = 1, .max = 300,
	  .off = C(handshake_timeout),
	  .desc = "time a new connection has for its handshake" },
	{ .path = "limits.keepalive_timeout", .type = CT_DURATION,
	  .flags = CK_RELOAD, .def = "60s", .min = 1, .max = 3600,
	  .off = C(keepalive_timeout),
	  .desc = "idle time before a keep-alive connection is closed" },
	{ .path = "limits.drain_timeout", .type = CT_DURATION,
	  .flags = CK_RELOAD, .def = "30s", .min = 0, .max = 3600,
	  .off = C(drain_timeout),
	  .desc = "time a graceful stop waits for connections" },
	{ .path = "limits.header_max", .type = CT_SIZE,
	  .def = "8k", .min = 1024, .max = 65535, .off = C(header_max),
	  .desc = "largest request head accepted, in bytes" },
	{ .path = "devices", .type = CT_TABLE, .flags = CK_RELOAD,
	  .sub = device_keys, .elemsize = sizeof(struct rf_conf_device),
	  .off = C(devices), .countoff = C(ndevices),
	  .desc = "devices: id, group, name, secret" },
	{ .path = "users", .type = CT_TABLE, .flags = CK_RELOAD,
	  .sub = user_keys, .elemsize = sizeof(struct rf_conf_user),
	  .off = C(users), .countoff = C(nusers),
	  .desc = "users: name, password, devices" },
	{ .path = NULL }
};

_Static_assert(sizeof(conf_keys) / sizeof(conf_keys[0]) <= CONF_MAX_KEYS,
    "conf_keys[] is larger than CONF_MAX_KEYS");

struct conf_pos {
	unsigned long	 line;		/* 1-based; 0: not from the file */
	unsigned long	 col;
};

struct conf_where {
	char		*key;		/* "tls.key", "devices.3.secret" */
	struct conf_pos	 pos;		/* of the value */
};

/*
 * What the loader allocates.  rf_conf_where needs the position of every
 * key and struct rf_conf has no room for it, so the public struct comes
 * first and rf_conf_free and rf_conf_where cast back: only a struct from
 * rf_conf_load* may be passed to them.
 */
struct conf_full {
	struct rf_conf		 conf;
	struct conf_where	*where;
	size_t			 nwhere;
	size_t			 awhere;
};

/* A listen list while it is read; merged into rf_conf.listen at the end. */
struct conf_addrs {
	struct rf_conf_listen	*v;
	struct conf_pos		*pos;	/* of each entry */
	size_t			 n;
	struct conf_pos		 set;	/* of the list; line 0: the default */
};

/* Which keys of one mapping were set, and where. */
struct conf_seen {
	int		 set;
	struct conf_pos	 key;
	struct conf_pos	 val;
};

struct conf_ctx {
	const char		*name;	/* the file, in messages */
	const unsigned char	*buf;
	size_t			 len;
	rf_conf_errfn		*errfn;
	void			*arg;
	int			 nerrors;
	int			 stop;	/* too many errors, or out of memory */
	int			 nomem;
	int			 listen_bad; /* a listen entry had an error */
	yaml_document_t		*doc;
	struct conf_full	*cf;
	struct conf_addrs	 addrs[2]; /* [1] https, [0] http */
};

/* One value of a list that must be unique, with where it was set. */
struct conf_uniq {
	const char	*s;
	struct conf_pos	 pos;
	size_t		 idx;
};

static int	walk_map(struct conf_ctx *, yaml_node_t *,
		    const struct conf_key *, const char *, const char *,
		    const char *, void *, struct conf_seen *);

static int
level_from_name(const char *s, int *v)
{
	enum rf_log_level l;
	int r;

	*v = 0;
	if ((r = rf_log_level_from_name(s, &l)) == 0)
		*v = (int)l;
	return r;
}

static const char *
level_name(int v)
{
	return rf_log_level_name((enum rf_log_level)v);
}

static const char *const target_names[] = {
	[RF_LOG_STDERR] = "stderr",
	[RF_LOG_SYSLOG] = "syslog",
	[RF_LOG_FILE] = "file",
};

static int
target_from_name(const char *s, int *v)
{
	size_t i;

	*v = 0;
	for (i = 0; i < sizeof(target_names) / sizeof(target_names[0]); i++) {
		if (strcmp(s, target_names[i]) == 0) {
			*v = (int)i;
			return 0;
		}
	}
	return RF_ERR_INVAL;
}

static const char *
target_name(int v)
{
	if (v < 0 ||
	    (size_t)v >= sizeof(target_names) / sizeof(target_names[0]))
		return NULL;
	return target_names[v];
}

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

/* The types stored as a char * at off. */
static int
type_is_string(enum conf_type t)
{
	return t == CT_STRING || t == CT_PATH || t == CT_HOSTNAME ||
	    t == CT_LABEL || t == CT_USERNAME;
}

/* ---------------------------------------------------------- messages -- */

/*
 * Copies s into buf for an error message: at most 40 bytes (cut on a UTF-8
 * boundary, then "..."), control characters as '?', so that a hostile file
 * cannot write escape sequences to the admin's terminal.
 */
static const char *
show(const char *s, char *buf, size_t len)
{
	size_t i, n, max = 40;

	if (len < max + 4)
		max = len > 4 ? len - 4 : 0;
	n = strlen(s);
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	buf[i] = '\0';
	if (n < strlen(s))
		memcpy(buf + i, "...", 4);
	return buf;
}

static void __attribute__((format(printf, 3, 4)))
conf_error(struct conf_ctx *ctx, const struct conf_pos *pos,
    const char *fmt, ...)
{
	char msg[1024], line[2048];
	va_list ap;

	if (ctx->stop)
		return;
	if (++ctx->nerrors > CONF_MAX_ERRORS) {
		ctx->stop = 1;
		snprintf(msg, sizeof(msg), "too many errors; stopping here");
	} else {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}
	if (pos != NULL && pos->line > 0)
		snprintf(line, sizeof(line), "%s:%lu:%lu: %s", ctx->name,
		    pos->line, pos->col, msg);
	else
		snprintf(line, sizeof(line), "%s: %s", ctx->name, msg);
	if (ctx->errfn != NULL)
		ctx->errfn(ctx->arg, line);
}

static void
conf_nomem(struct conf_ctx *ctx)
{
	char line[1024];

	if (ctx->nomem)
		return;
	ctx->nomem = ctx->stop = 1;
	snprintf(line, sizeof(line), "%s: out of memory", ctx->name);
	if (ctx->errfn != NULL)
		ctx->errfn(ctx->arg, line);
}

static struct conf_pos
mark_pos(const yaml_mark_t *m)
{
	struct conf_pos p;

	p.line = m->line + 1;
	p.col = m->column + 1;
	return p;
}

static struct conf_pos
node_pos(const yaml_node_t *n)
{
	return mark_pos(&n->start_mark);
}

/* Where a byte offset is, for reader errors, which come without a mark. */
static struct conf_pos
offset_pos(const struct conf_ctx *ctx, size_t off)
{
	struct conf_pos p = { 1, 1 };
	size_t i;

	for (i = 0; i < off && i < ctx->len; i++) {
		if (ctx->buf[i] == '\n') {
			p.line++;
			p.col = 1;
		} else if ((ctx->buf[i] & 0xc0) != 0x80)
			p.col++;	/* characters, as libyaml counts */
	}
	return p;
}

/* ------------------------------------------------------------- nodes -- */

static const char *
node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "a single value";
	}
}

/* A plain empty, "~" or "null" scalar: YAML's way of writing nothing. */
static int
node_is_null(const yaml_node_t *n)
{
	const char *s;

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	s = (const char *)n->data.scalar.value;
	return *s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

/*
 * 1 if the bytes hold a NUL (which would cut the C string short), another
 * control character, or U+0085, U+2028 or U+2029, which YAML folds into
 * line breaks: none belongs in a config value, and rejecting them keeps
 * every accepted value printable by rf_conf_dump as it was read.
 */
static int
bad_chars(const unsigned char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] < 0x20 || s[i] == 0x7f)
			return 1;
		if (s[i] == 0xc2 && i + 1 < len && s[i + 1] >= 0x80 &&
		    s[i + 1] <= 0x9f)
			return 1;
		if (s[i] == 0xe2 && i + 2 < len && s[i + 1] == 0x80 &&
		    (s[i + 2] == 0xa8 || s[i + 2] == 0xa9))
			return 1;
	}
	return 0;
}

static yaml_node_t *
node_get(struct conf_ctx *ctx, int id)
{
	return yaml_document_get_node(ctx->doc, id);
}

/* ------------------------------------------------------------- where -- */

static void
where_add(struct conf_ctx *ctx, const char *key, const struct conf_pos *pos)
{
	struct conf_full *cf = ctx->cf;
	struct conf_where *w;
	size_t n;

	if (cf->nwhere == cf->awhere) {
		n = cf->awhere > 0 ? cf->awhere * 2 : 32;
		if ((w = reallocarray(cf->where, n, sizeof(*w))) == NULL) {
			conf_nomem(ctx);
			return;
		}
		cf->where = w;
		cf->awhere = n;
	}
	w = &cf->where[cf->nwhere];
	if ((w->key = strdup(key)) == NULL) {
		conf_nomem(ctx);
		return;
	}
	w->pos = *pos;
	cf->nwhere++;
}

/* ------------------------------------------------------- key tables -- */

static const char *
key_leaf(const char *path)
{
	const char *p = strrchr(path, '.');

	return p != NULL ? p + 1 : path;
}

/* 1 if path names a key directly inside the mapping at prefix. */
static int
key_is_child(const char *path, const char *prefix)
{
	size_t plen = strlen(prefix);

	if (plen > 0) {
		if (strncmp(path, prefix, plen) != 0 || path[plen] != '.')
			return 0;
		path += plen + 1;
	}
	return strchr(path, '.') == NULL;
}

static int
key_find(const struct conf_key *keys, const char *prefix, const char *name)
{
	int i;

	for (i = 0; keys[i].path != NULL; i++) {
		if (key_is_child(keys[i].path, prefix) &&
		    strcmp(key_leaf(keys[i].path), name) == 0)
			return i;
	}
	return -1;
}

/* Optimal string alignment distance: a swap of two letters counts once. */
static int
distance(const char *a, const char *b)
{
	int d[CONF_DIST_MAX + 1][CONF_DIST_MAX + 1], cost, v;
	size_t la = strlen(a), lb = strlen(b), i, j;

	if (la > CONF_DIST_MAX || lb > CONF_DIST_MAX)
		return INT_MAX;
	for (i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			cost = a[i - 1] != b[j - 1];
			v = d[i - 1][j - 1] + cost;
			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

/*
 * "; did you mean 'X'?" for a key one or two edits from a key of the same
 * mapping, or for a key that belongs in another mapping ("certificate" at
 * the top, "limits.header_max" written as one key).
 */
static void
key_hint(const struct conf_key *keys, const char *prefix, const char *name,
    char *buf, size_t len)
{
	const struct conf_key *best = NULL, *k;
	const char *leaf;
	int d, bestd = INT_MAX;

	buf[0] = '\0';
	for (k = keys; k->path != NULL; k++) {
		if (!key_is_child(k->path, prefix))
			continue;
		d = distance(name, key_leaf(k->path));
		if (d < bestd) {
			bestd = d;
			best = k;
		}
	}
	if (best != NULL &&
	    bestd <= (strlen(key_leaf(best->path)) <= 4 ? 1 : 2)) {
		snprintf(buf, len, "; did you mean '%s'?",
		    key_leaf(best->path));
		return;
	}
	for (k = keys; k->path != NULL; k++) {
		leaf = key_leaf(k->path);
		if (key_is_child(k->path, prefix) ||
		    (strcmp(leaf, name) != 0 && strcmp(k->path, name) != 0))
			continue;
		if (leaf == k->path)
			snprintf(buf, len, "; did you mean '%s' at the top "
			    "level?", leaf);
		else
			snprintf(buf, len, "; did you mean '%s' under '%.*s'?",
			    leaf, (int)(leaf - k->path - 1), k->path);
		return;
	}
}

static void
unknown_key(struct conf_ctx *ctx, const struct conf_key *keys,
    const char *prefix, const char *list, const char *name,
    const struct conf_pos *pos)
{
	char hint[128], shown[64];

	key_hint(keys, prefix, name, hint, sizeof(hint));
	show(name, shown, sizeof(shown));
	if (list != NULL)
		conf_error(ctx, pos, "unknown key '%s' in a '%s' entry%s",
		    shown, list, hint);
	else if (*prefix != '\0')
		conf_error(ctx, pos, "unknown key '%s' in '%s'%s", shown,
		    prefix, hint);
	else
		conf_error(ctx, pos, "unknown key '%s'%s", shown, hint);
}

/* What a key wants, for "'x' must be <what>, not a list". */
static const char *
key_what(const struct conf_key *k)
{
	switch (k->type) {
	case CT_SECTION:
		return "a mapping of keys";
	case CT_STRING:
		return "a string";
	case CT_PATH:
		return "a path";
	case CT_INT:
		return "a number";
	case CT_BOOL:
		return "true or false";
	case CT_ENUM:
		return k->en->allowed;
	case CT_WORKERS:
		return "a number or 'auto'";
	case CT_DURATION:
		return "a duration";
	case CT_SIZE:
		return "a size";
	case CT_HOSTNAME:
		return "a DNS name";
	case CT_LABEL:
		return "a device id";
	case CT_USERNAME:
		return "a user name";
	case CT_LISTEN:
		return "a list of addresses";
	case CT_PATTERNS:
		return "a list of device id patterns";
	case CT_TABLE:
		return "a list of mappings";
	}
	return "something else";
}

static void
type_error(struct conf_ctx *ctx, const struct conf_key *k, const char *name,
    const yaml_node_t *n)
{
	struct conf_pos pos = node_pos(n);

	conf_error(ctx, &pos, "'%s' must be %s, not %s", name, key_what(k),
	    node_kind(n));
}

/*
 * The text of a scalar node, "" for a null; errors for other nodes and for
 * control characters.
 */
static int
scalar_text(struct conf_ctx *ctx, const struct conf_key *k, const char *name,
    const yaml_node_t *n, const char **sp)
{
	struct conf_pos pos = node_pos(n);

	*sp = NULL;
	if (n->type != YAML_SCALAR_NODE) {
		type_error(ctx, k, name, n);
		return -1;
	}
	if (bad_chars(n->data.scalar.value, n->data.scalar.length)) {
		conf_error(ctx, &pos, "'%s' must not contain control "
		    "characters or line breaks", name);
		return -1;
	}
	*sp = node_is_null(n) ? "" : (const char *)n->data.scalar.value;
	return 0;
}

/* ------------------------------------------------------ value checks -- */

/* 1 for a DNS label: 1 to 63 of a-z 0-9 '-', no '-' at either end. */
static int
is_label(const char *s, size_t len)
{
	size_t i;

	if (len < 1 || len > 63 || s[0] == '-' || s[len - 1] == '-')
		return 0;
	for (i = 0; i < len; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	}
	return 1;
}

static int
is_hostname(const char *s)
{
	const char *dot;
	size_t len = strlen(s);

	if (len < 1 || len > 253)
		return 0;
	for (;;) {
		dot = strchr(s, '.');
		if (!is_label(s, dot != NULL ? (size_t)(dot - s) : strlen(s)))
			return 0;
		if (dot == NULL)
			return 1;
		s = dot + 1;
	}
}

static int
is_username(const char *s)
{
	size_t len = strlen(s);

	return len >= 1 && len <= 64 &&
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._@-") == len;
}

/* A device id, or one with a single '*' in it, or "*". */
static int
is_pattern(const char *s)
{
	char buf[64];
	const char *star;
	size_t len = strlen(s);

	if (len < 1 || len > 63)
		return 0;
	memcpy(buf, s, len + 1);
	if ((star = strchr(s, '*')) != NULL) {
		if (strchr(star + 1, '*') != NULL)
			return 0;
		buf[star - s] = 'a';
	}
	return is_label(buf, len);
}

/*
 * Reads an optional '-' and decimal digits; NULL if there are no digits.
 * Values stick at CONF_NUM_CAP, outside every range, so that no input
 * overflows however many digits it has.
 */
static const char *
parse_digits(const char *s, long long *vp)
{
	long long v = 0;
	int neg = 0;

	*vp = 0;
	if (*s == '-') {
		neg = 1;
		s++;
	}
	if (*s < '0' || *s > '9')
		return NULL;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (*s - '0');
		if (v > CONF_NUM_CAP)
			v = CONF_NUM_CAP;
	}
	*vp = neg ? -v : v;
	return s;
}

/* ------------------------------------------------------ scalar types -- */

static int
set_string(struct conf_ctx *ctx, const struct conf_key *k, const char *name,
    const char *s, char **fp, const struct conf_pos *pos)
{
	char shown[64], *dup;
	const char *bad = NULL;

	if (*s == '\0') {
		if (k->flags & CK_UNSET) {
			free(*fp);
			*fp = NULL;
			return 0;
		}
		conf_error(ctx, pos, "'%s' must not be empty", name);
		return -1;
	}
	if (k->type == CT_HOSTNAME && !is_hostname(s))
		bad = "a lowercase DNS name such as \"reflector.example.net\" "
		    "(labels of a-z, 0-9 and '-')";
	else if (k->type == CT_LABEL && !is_label(s, strlen(s)))
		bad = "1 to 63 of a-z, 0-9 and '-', not starting or ending "
		    "with '-'";
	else if (k->type == CT_USERNAME && !is_username(s))
		bad = "1 to 64 of A-Z, a-z, 0-9, '.', '_', '@' and '-'";
	if (bad != NULL) {
		conf_error(ctx, pos, "'%s' must be %s, got '%s'", name, bad,
		    show(s, shown, sizeof(shown)));
		return -1;
	}
	if ((dup = strdup(s)) == NULL) {
		conf_nomem(ctx);
		return -1;
	}
	free(*fp);
	*fp = dup;
	return 0;
}

/* An online CPU count for "auto", kept within the key's range. */
static long long
auto_workers(const struct conf_key *k)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < k->min)
		return k->min;
	return n > k->max ? k->max : n;
}

/* How a number of this type is written, and its unit, for messages. */
static const char *
number_form(enum conf_type t, const char **unit)
{
	*unit = "";
	switch (t) {
	case CT_DURATION:
		*unit = " seconds";
		return "a number of seconds, or one with a unit: 30s, 5m, 1h";
	case CT_SIZE:
		*unit = " bytes";
		return "a number of bytes, or one with a unit: 8k, 1m";
	case CT_WORKERS:
		return "a number or 'auto'";
	default:
		return "a number";
	}
}

/* The multiplier of a unit suffix; *endp moves past it. */
static long long
number_unit(enum conf_type t, const char **endp)
{
	long long mult = 0;

	if (t == CT_DURATION)
		mult = **endp == 's' ? 1 : **endp == 'm' ? 60 :
		    **endp == 'h' ? 3600 : 0;
	else if (t == CT_SIZE)
		mult = **endp == 'k' || **endp == 'K' ? 1024 :
		    **endp == 'm' || **endp == 'M' ? 1024 * 1024 : 0;
	if (mult == 0)
		return 1;
	(*endp)++;
	return mult;
}

static int
set_number(struct conf_ctx *ctx, const struct conf_key *k, const char *name,
    const char *s, void *base, const struct conf_pos *pos)
{
	int *fp = (int *)((char *)base + k->off);
	const char *end, *unit, *form;
	char shown[64];
	long long v;

	if (k->type == CT_WORKERS && strcmp(s, "auto") == 0) {
		*fp = (int)auto_workers(k);
		((struct rf_conf *)base)->workers_auto = 1;
		return 0;
	}
	form = number_form(k->type, &unit);
	if ((end = parse_digits(s, &v)) != NULL)
		v *= number_unit(k->type, &end);
	if (end == NULL || *end != '\0') {
		conf_error(ctx, pos, "'%s' must be %s, got '%s'", name, form,
		    show(s, shown, sizeof(shown)));
		return -1;
	}
	if (v < k->min || v > k->max) {
		conf_error(ctx, pos, "'%s' must be between %lld and %lld%s, "
		    "got %s", name, k->min, k->max, unit,
		    show(s, shown, sizeof(shown)));
		return -1;
	}
	*fp = (int)v;
	if (k->type == CT_WORKERS)
		((struct rf_conf *)base)->workers_auto = 0;
	return 0;
}

static int
set_bool(struct conf_ctx *ctx, const struct conf_key *k, const char *name,
    const char *s, int *fp, const struct conf_pos *pos)
{
	char shown[64];

	(void)k;
	if (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 ||
	    strcasecmp(s, "on") == 0)
		*fp = 1;
	else if (strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0 ||
	    strcasecmp(s, "off") == 0)
		*fp = 0;
	else {
		conf_error(ctx, pos, "'%s' must be true or false (or yes/no, "
		    "on/off), got '%s'", name, show(s, shown, sizeof(shown)));
		return -1;
	}
	return 0;
}

static int
set_enum(struct conf_ctx *ctx, const struct conf_key *k, const char *name,
    const char *s, int *fp, const struct conf_pos *pos)
{
	char shown[64];
	int v;

	if (k->en->from_name(s, &v) != 0) {
		conf_error(ctx, pos, "'%s' must be %s, got '%s'", name,
		    k->en->allowed, show(s, shown, sizeof(shown)));
		return -1;
	}
	*fp = v;
	return 0;
}

/*
 * Parses and stores one scalar, from the file or from the table's default
 * (pos NULL): both take this path, so a bad default fails every load.
 */
static int
set_scalar(struct conf_ctx *ctx, const struct conf_key *k, const char *name,
    const char *s, void *base, const struct conf_pos *pos)
{
	void *fp = (char *)base + k->off;

	if (type_is_string(k->type))
		return set_string(ctx, k, name, s, fp, pos);
	switch (k->type) {
	case CT_INT:
	case CT_WORKERS:
	case CT_DURATION:
	case CT_SIZE:
		if (*s == '\0') {
			conf_error(ctx, pos, "'%s' must not be empty", name);
			return -1;
		}
		return set_number(ctx, k, name, s, base, pos);
	case CT_BOOL:
		return set_bool(ctx, k, name, s, fp, pos);
	case CT_ENUM:
		return set_enum(ctx, k, name, s, fp, pos);
	default:
		RF_ASSERT(!"not a scalar type");
	}
	return -1;
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
addrs_alloc(struct conf_ctx *ctx, struct conf_addrs *a, size_t n)
{
	a->v = calloc(n, sizeof(*a->v));
	a->pos = calloc(n, sizeof(*a->pos));
	if (a->v == NULL || a->pos == NULL) {
		conf_nomem(ctx);
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
	if (*s == '-' || (end = parse_digits(s, &v)) == NULL || *end != '\0' ||
	    v < 1 || v > 65535)
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
parse_listen(struct conf_ctx *ctx, const char *name, const char *s,
    const struct conf_pos *pos, int tls, struct rf_conf_listen *l)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&l->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&l->ss;
	char host[INET6_ADDRSTRLEN + 1], shown[64];
	const char *why, *port;
	in_port_t nport;
	int v6;

	memset(l, 0, sizeof(*l));
	show(s, shown, sizeof(shown));
	if ((why = listen_split(s, host, sizeof(host), &port, &v6)) != NULL) {
		conf_error(ctx, pos, "'%s' address '%s': %s", name, shown, why);
		return -1;
	}
	if (parse_port(port, &nport) != 0) {
		conf_error(ctx, pos, "'%s' address '%s' needs a port between "
		    "1 and 65535", name, shown);
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
		conf_error(ctx, pos, "'%s' address '%s': %s", name, shown,
		    LISTEN_BADADDR);
		return -1;
	}
	l->tls = tls;
	if ((l->address = strdup(s)) == NULL) {
		conf_nomem(ctx);
		return -1;
	}
	return 0;
}

static void
set_listen(struct conf_ctx *ctx, const struct conf_key *k, const char *name,
    yaml_node_t *vn)
{
	struct conf_addrs *a = &ctx->addrs[k->tls];
	struct conf_pos ipos;
	yaml_node_item_t *it;
	yaml_node_t *in;
	const char *s;
	size_t n;

	addrs_clear(a);
	a->set = node_pos(vn);
	if (node_is_null(vn))
		return;
	if (vn->type != YAML_SEQUENCE_NODE) {
		type_error(ctx, k, name, vn);
		ctx->listen_bad = 1;
		return;
	}
	n = (size_t)(vn->data.sequence.items.top -
	    vn->data.sequence.items.start);
	if (n > CONF_MAX_LISTEN) {
		conf_error(ctx, &a->set, "'%s' has %zu addresses; at most %d "
		    "are allowed", name, n, CONF_MAX_LISTEN);
		ctx->listen_bad = 1;
		return;
	}
	if (n == 0 || addrs_alloc(ctx, a, n) != 0)
		return;
	for (it = vn->data.sequence.items.start;
	    it < vn->data.sequence.items.top && !ctx->stop; it++) {
		if ((in = node_get(ctx, *it)) == NULL)
			continue;
		ipos = node_pos(in);
		if (scalar_text(ctx, k, name, in, &s) != 0 ||
		    parse_listen(ctx, name, s, &ipos, k->tls,
		    &a->v[a->n]) != 0) {
			ctx->listen_bad = 1;
			continue;
		}
		a->pos[a->n++] = ipos;
	}
}

/* The default list: addresses separated by commas. */
static void
listen_default(struct conf_ctx *ctx, const struct conf_key *k)
{
	struct conf_addrs *a = &ctx->addrs[k->tls];
	struct conf_pos none = { 0, 0 };
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
		conf_nomem(ctx);
		return;
	}
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (parse_listen(ctx, k->path, tok, NULL, k->tls,
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
listen_finish(struct conf_ctx *ctx)
{
	struct conf_addrs *hs = &ctx->addrs[1], *h = &ctx->addrs[0];
	struct rf_conf *conf = &ctx->cf->conf;
	struct conf_pos *pos = NULL, *p;
	char wkey[32], first[64], sa[64], sb[64];
	size_t n = hs->n + h->n, i, j;

	/* After a bad address, "no address" would only repeat that error. */
	if (n == 0 && ctx->listen_bad)
		return;
	if (n == 0) {
		p = h->set.line > hs->set.line || (h->set.line ==
		    hs->set.line && h->set.col > hs->set.col) ? &h->set :
		    &hs->set;
		conf_error(ctx, p, "no address to listen on: 'listen.https' "
		    "and 'listen.http' are both empty");
		return;
	}
	conf->listen = calloc(n, sizeof(*conf->listen));
	pos = calloc(n, sizeof(*pos));
	if (conf->listen == NULL || pos == NULL) {
		free(pos);
		conf_nomem(ctx);
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
	for (j = 0; j < n && !ctx->stop; j++) {
		if (pos[j].line > 0) {
			snprintf(wkey, sizeof(wkey), "listen.%zu", j);
			where_add(ctx, wkey, &pos[j]);
		}
		for (i = 0; i < j; i++) {
			if (!listen_overlap(&conf->listen[i], &conf->listen[j]))
				continue;
			if (pos[i].line > 0)
				snprintf(first, sizeof(first), "line %lu, "
				    "column %lu", pos[i].line, pos[i].col);
			else
				snprintf(first, sizeof(first), "the default");
			show(conf->listen[j].address, sa, sizeof(sa));
			show(conf->listen[i].address, sb, sizeof(sb));
			if (listen_same(&conf->listen[i], &conf->listen[j]))
				conf_error(ctx, &pos[j], "listen address '%s' "
				    "is given twice (also at %s)", sa, first);
			else
				conf_error(ctx, &pos[j], "listen address '%s' "
				    "overlaps '%s' (%s): both would accept "
				    "the same connections", sa, sb, first);
			break;
		}
	}
	free(pos);
}

/* ------------------------------------------------------------- lists -- */

static void
set_patterns(struct conf_ctx *ctx, const struct conf_key *k,
    const char *name, yaml_node_t *vn, void *base)
{
	char ***vp = (char ***)((char *)base + k->off), shown[64];
	size_t *np = (size_t *)((char *)base + k->countoff), n;
	struct conf_pos ipos;
	yaml_node_item_t *it;
	yaml_node_t *in;
	const char *s;

	if (node_is_null(vn))
		return;
	if (vn->type != YAML_SEQUENCE_NODE) {
		type_error(ctx, k, name, vn);
		return;
	}
	n = (size_t)(vn->data.sequence.items.top -
	    vn->data.sequence.items.start);
	if (n == 0)
		return;
	RF_ASSERT(*vp == NULL);
	if ((*vp = calloc(n, sizeof(**vp))) == NULL) {
		conf_nomem(ctx);
		return;
	}
	for (it = vn->data.sequence.items.start;
	    it < vn->data.sequence.items.top && !ctx->stop; it++) {
		if ((in = node_get(ctx, *it)) == NULL ||
		    scalar_text(ctx, k, name, in, &s) != 0)
			continue;
		ipos = node_pos(in);
		if (!is_pattern(s)) {
			conf_error(ctx, &ipos, "'%s' entry '%s' must be a "
			    "device id, one with a single '*', or '*'", name,
			    show(s, shown, sizeof(shown)));
			continue;
		}
		if (((*vp)[*np] = strdup(s)) == NULL) {
			conf_nomem(ctx);
			return;
		}
		(*np)++;
	}
}

static int
uniq_cmp(const void *a, const void *b)
{
	const struct conf_uniq *x = a, *y = b;
	int c;

	if ((c = strcmp(x->s, y->s)) != 0)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Sorted, so that a list of thousands of devices costs n log n, not n^2. */
static void
check_unique(struct conf_ctx *ctx, const struct conf_key *k,
    const char *what, struct conf_uniq *u, size_t n)
{
	char shown[64];
	size_t i, first = 0;

	qsort(u, n, sizeof(*u), uniq_cmp);
	for (i = 1; i < n && !ctx->stop; i++) {
		if (strcmp(u[i].s, u[first].s) != 0) {
			first = i;
			continue;
		}
		conf_error(ctx, &u[i].pos, "'%s' has two entries with %s "
		    "'%s' (the first at line %lu)", k->path, what,
		    show(u[i].s, shown, sizeof(shown)), u[first].pos.line);
	}
}

/* Applies the defaults of a table to base, through the parsers. */
static void
apply_defaults(struct conf_ctx *ctx, const struct conf_key *keys, void *base)
{
	const struct conf_key *k;

	for (k = keys; k->path != NULL && !ctx->stop; k++) {
		if (k->type == CT_LISTEN)
			listen_default(ctx, k);
		else if (k->def != NULL)
			set_scalar(ctx, k, k->path, k->def, base, NULL);
	}
}

static void
table_entry(struct conf_ctx *ctx, const struct conf_key *k, yaml_node_t *in,
    void *elem, size_t idx, struct conf_uniq *u, size_t *nu)
{
	struct conf_seen seen[CONF_MAX_KEYS];
	struct conf_pos ipos = node_pos(in);
	const struct conf_key *sk;
	char wprefix[64];
	size_t j;
	int unknown;

	snprintf(wprefix, sizeof(wprefix), "%s.%zu", k->path, idx);
	where_add(ctx, wprefix, &ipos);
	apply_defaults(ctx, k->sub, elem);
	memset(seen, 0, sizeof(seen));
	unknown = walk_map(ctx, in, k->sub, "", k->path, wprefix, elem, seen);
	for (j = 0; k->sub[j].path != NULL; j++) {
		sk = &k->sub[j];
		/* A misspelt key was most likely the required one. */
		if ((sk->flags & CK_REQUIRED) && !seen[j].set && !unknown)
			conf_error(ctx, &ipos, "this '%s' entry has no '%s'; "
			    "it is required", k->path, sk->path);
		if ((sk->flags & CK_UNIQUE) && seen[j].set &&
		    *(char **)((char *)elem + sk->off) != NULL) {
			u[*nu].s = *(char **)((char *)elem + sk->off);
			u[*nu].pos = seen[j].val;
			u[*nu].idx = *nu;
			(*nu)++;
		}
	}
}

static void
set_table(struct conf_ctx *ctx, const struct conf_key *k, yaml_node_t *vn,
    void *base)
{
	void **vp = (void **)((char *)base + k->off);
	size_t *np = (size_t *)((char *)base + k->countoff), n, nu = 0;
	const struct conf_key *sk;
	const char *what = NULL;
	struct conf_uniq *u = NULL;
	struct conf_pos ipos;
	yaml_node_item_t *it;
	yaml_node_t *in;

	if (node_is_null(vn))
		return;
	if (vn->type != YAML_SEQUENCE_NODE) {
		type_error(ctx, k, k->path, vn);
		return;
	}
	n = (size_t)(vn->data.sequence.items.top -
	    vn->data.sequence.items.start);
	if (n == 0)
		return;
	RF_ASSERT(*vp == NULL);
	if ((*vp = calloc(n, k->elemsize)) == NULL ||
	    (u = calloc(n, sizeof(*u))) == NULL) {
		conf_nomem(ctx);
		return;
	}
	for (it = vn->data.sequence.items.start;
	    it < vn->data.sequence.items.top && !ctx->stop; it++) {
		if ((in = node_get(ctx, *it)) == NULL)
			continue;
		if (in->type != YAML_MAPPING_NODE) {
			ipos = node_pos(in);
			conf_error(ctx, &ipos, "an entry of '%s' must be a "
			    "mapping of keys, not %s", k->path, node_kind(in));
			continue;
		}
		table_entry(ctx, k, in, (char *)*vp + *np * k->elemsize, *np,
		    u, &nu);
		(*np)++;
	}
	for (sk = k->sub; sk->path != NULL; sk++)
		if (sk->flags & CK_UNIQUE)
			what = sk->path;
	if (what != NULL)
		check_unique(ctx, k, what, u, nu);
	free(u);
}

/* ----------------------------------------------------------- mappings -- */

/*
 * Applies one key's value node.  list and wprefix are NULL at the top, or
 * name the list and the entry ("devices", "devices.3") inside a list entry.
 */
static void
set_key(struct conf_ctx *ctx, const struct conf_key *keys,
    const struct conf_key *k, yaml_node_t *vn, const char *list,
    const char *wprefix, void *base)
{
	struct conf_seen seen[CONF_MAX_KEYS];
	struct conf_pos pos = node_pos(vn);
	char name[128], wname[128];
	const char *s;

	if (list != NULL) {
		snprintf(name, sizeof(name), "%s.%s", list, k->path);
		snprintf(wname, sizeof(wname), "%s.%s", wprefix, k->path);
	} else {
		snprintf(name, sizeof(name), "%s", k->path);
		snprintf(wname, sizeof(wname), "%s", k->path);
	}
	where_add(ctx, wname, &pos);
	switch (k->type) {
	case CT_SECTION:
		if (node_is_null(vn))
			return;
		if (vn->type != YAML_MAPPING_NODE) {
			type_error(ctx, k, name, vn);
			return;
		}
		memset(seen, 0, sizeof(seen));
		walk_map(ctx, vn, keys, k->path, list, wprefix, base, seen);
		return;
	case CT_LISTEN:
		set_listen(ctx, k, name, vn);
		return;
	case CT_PATTERNS:
		set_patterns(ctx, k, name, vn, base);
		return;
	case CT_TABLE:
		set_table(ctx, k, vn, base);
		return;
	default:
		if (scalar_text(ctx, k, name, vn, &s) == 0)
			set_scalar(ctx, k, name, s, base, &pos);
		return;
	}
}

/*
 * Applies the pairs of one mapping to base.  prefix is the mapping's path
 * in keys ("" or "limits"); seen[] (one per entry of keys) says which keys
 * were set and where, for required keys and duplicates.  Returns the
 * number of unknown keys.
 */
static int
walk_map(struct conf_ctx *ctx, yaml_node_t *map, const struct conf_key *keys,
    const char *prefix, const char *list, const char *wprefix, void *base,
    struct conf_seen *seen)
{
	yaml_node_pair_t *pair;
	yaml_node_t *kn, *vn;
	struct conf_pos kpos;
	const char *name;
	char shown[64];
	int i, unknown = 0;

	for (pair = map->data.mapping.pairs.start;
	    pair < map->data.mapping.pairs.top && !ctx->stop; pair++) {
		if ((kn = node_get(ctx, pair->key)) == NULL ||
		    (vn = node_get(ctx, pair->value)) == NULL)
			continue;
		kpos = node_pos(kn);
		if (kn->type != YAML_SCALAR_NODE ||
		    bad_chars(kn->data.scalar.value, kn->data.scalar.length)) {
			conf_error(ctx, &kpos, "a key must be a plain name, "
			    "not %s", kn->type == YAML_SCALAR_NODE ?
			    "one with control characters" : node_kind(kn));
			continue;
		}
		name = (const char *)kn->data.scalar.value;
		if ((i = key_find(keys, prefix, name)) == -1) {
			unknown_key(ctx, keys, prefix, list, name, &kpos);
			unknown++;
			continue;
		}
		if (seen[i].set) {
			conf_error(ctx, &kpos, "duplicate key '%s' (first "
			    "set at line %lu)", show(name, shown,
			    sizeof(shown)), seen[i].key.line);
			continue;
		}
		seen[i].set = 1;
		seen[i].key = kpos;
		seen[i].val = node_pos(vn);
		set_key(ctx, keys, &keys[i], vn, list, wprefix, base);
	}
	return unknown;
}

/* ------------------------------------------------------------ loading -- */

static void
syntax_error(struct conf_ctx *ctx, const yaml_parser_t *p)
{
	const char *problem = p->problem != NULL ? p->problem : "unknown error";
	struct conf_pos pos, cpos;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		conf_nomem(ctx);
		return;
	case YAML_READER_ERROR:
		pos = offset_pos(ctx, p->problem_offset);
		if (p->problem_value != -1)
			conf_error(ctx, &pos, "not UTF-8 text: %s (0x%02x)",
			    problem, (unsigned int)p->problem_value);
		else
			conf_error(ctx, &pos, "not UTF-8 text: %s", problem);
		return;
	default:
		pos = mark_pos(&p->problem_mark);
		cpos = mark_pos(&p->context_mark);
		if (p->context != NULL)
			conf_error(ctx, &pos, "YAML syntax error: %s (%s at "
			    "line %lu, column %lu)", problem, p->context,
			    cpos.line, cpos.col);
		else
			conf_error(ctx, &pos, "YAML syntax error: %s", problem);
		return;
	}
}

/* Errors for anchors and tags; 1 if the event nests one level deeper. */
static int
event_check(struct conf_ctx *ctx, const yaml_event_t *ev)
{
	struct conf_pos pos = mark_pos(&ev->start_mark);
	const yaml_char_t *anchor = NULL, *tag = NULL;
	char shown[64];
	int deeper = 0;

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		anchor = ev->data.scalar.anchor;
		tag = ev->data.scalar.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
		deeper = 1;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
		deeper = 1;
		break;
	case YAML_ALIAS_EVENT:
		conf_error(ctx, &pos, "aliases ('*%s') are not supported; "
		    "write the value out", show((const char *)
		    ev->data.alias.anchor, shown, sizeof(shown)));
		break;
	default:
		break;
	}
	if (anchor != NULL)
		conf_error(ctx, &pos, "anchors ('&%s') are not supported; "
		    "write each value out", show((const char *)anchor, shown,
		    sizeof(shown)));
	if (tag != NULL)
		conf_error(ctx, &pos, "tags ('%s') are not supported; values "
		    "are read as written", show((const char *)tag, shown,
		    sizeof(shown)));
	return deeper;
}

/*
 * A pass over the events before the document is loaded: syntax errors,
 * then what the document API would hide.  It resolves aliases into shared
 * nodes (a walk over "&a [*a, *a]" repeats, and "&a [*a]" is a cycle),
 * keeps no trace of anchors or tags, and reads only the first document.
 */
static int
check_events(struct conf_ctx *ctx)
{
	int depth = 0, ndocs = 0, done = 0, before = ctx->nerrors;
	struct conf_pos pos;
	yaml_parser_t p;
	yaml_event_t ev;

	if (!yaml_parser_initialize(&p)) {
		conf_nomem(ctx);
		return -1;
	}
	yaml_parser_set_input_string(&p, ctx->buf, ctx->len);
	while (!done && !ctx->stop) {
		if (!yaml_parser_parse(&p, &ev)) {
			syntax_error(ctx, &p);
			break;
		}
		pos = mark_pos(&ev.start_mark);
		if (ev.type == YAML_STREAM_END_EVENT)
			done = 1;
		else if (ev.type == YAML_DOCUMENT_START_EVENT && ++ndocs == 2)
			conf_error(ctx, &pos, "a second YAML document starts "
			    "here; the file must hold one");
		else if (ev.type == YAML_SEQUENCE_END_EVENT ||
		    ev.type == YAML_MAPPING_END_EVENT)
			depth--;
		else if (event_check(ctx, &ev) && ++depth > CONF_MAX_DEPTH) {
			conf_error(ctx, &pos, "nested more than %d levels "
			    "deep", CONF_MAX_DEPTH);
			done = 1;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return ctx->nerrors > before || ctx->stop ? -1 : 0;
}

static int
load_document(struct conf_ctx *ctx, yaml_document_t *doc)
{
	yaml_parser_t p;
	int ok;

	if (!yaml_parser_initialize(&p)) {
		conf_nomem(ctx);
		return -1;
	}
	yaml_parser_set_input_string(&p, ctx->buf, ctx->len);
	/* On failure yaml_parser_load has deleted the document itself. */
	if (!(ok = yaml_parser_load(&p, doc)))
		syntax_error(ctx, &p);
	yaml_parser_delete(&p);
	return ok ? 0 : -1;
}

static void
free_fields(const struct conf_key *keys, void *base)
{
	const struct conf_key *k;
	char **sp, ***vp;
	void **tp;
	size_t *np, i;

	for (k = keys; k->path != NULL; k++) {
		if (type_is_string(k->type)) {
			sp = (char **)((char *)base + k->off);
			free(*sp);
			*sp = NULL;
			continue;
		}
		switch (k->type) {
		case CT_PATTERNS:
			vp = (char ***)((char *)base + k->off);
			np = (size_t *)((char *)base + k->countoff);
			for (i = 0; i < *np; i++)
				free((*vp)[i]);
			free(*vp);
			*vp = NULL;
			*np = 0;
			break;
		case CT_TABLE:
			tp = (void **)((char *)base + k->off);
			np = (size_t *)((char *)base + k->countoff);
			for (i = 0; i < *np; i++)
				free_fields(k->sub, (char *)*tp +
				    i * k->elemsize);
			free(*tp);
			*tp = NULL;
			*np = 0;
			break;
		default:
			break;
		}
	}
}

static void
conf_full_free(struct conf_full *cf)
{
	size_t i;

	if (cf == NULL)
		return;
	free_fields(conf_keys, &cf->conf);
	for (i = 0; i < cf->conf.nlisten; i++)
		free(cf->conf.listen[i].address);
	free(cf->conf.listen);
	free(cf->conf.file);
	for (i = 0; i < cf->nwhere; i++)
		free(cf->where[i].key);
	free(cf->where);
	free(cf);
}

int
rf_conf_load_mem(const void *buf, size_t len, const char *name,
    struct rf_conf **out, rf_conf_errfn *errfn, void *arg)
{
	struct conf_seen seen[CONF_MAX_KEYS];
	struct conf_pos pos;
	struct conf_ctx ctx;
	yaml_document_t doc;
	yaml_node_t *root;
	int r, loaded = 0;

	*out = NULL;
	memset(&ctx, 0, sizeof(ctx));
	ctx.name = name != NULL ? name : "(config)";
	ctx.buf = len > 0 ? buf : (const void *)"";
	ctx.len = len;
	ctx.errfn = errfn;
	ctx.arg = arg;
	if ((ctx.cf = calloc(1, sizeof(*ctx.cf))) == NULL ||
	    (ctx.cf->conf.file = strdup(ctx.name)) == NULL) {
		conf_nomem(&ctx);
		goto out;
	}
	apply_defaults(&ctx, conf_keys, &ctx.cf->conf);
	if (ctx.nerrors > 0 || ctx.stop || check_events(&ctx) != 0 ||
	    load_document(&ctx, &doc) != 0)
		goto out;
	loaded = 1;
	ctx.doc = &doc;
	/* No document at all, or an empty one: every key takes its default. */
	root = yaml_document_get_root_node(&doc);
	if (root != NULL && !node_is_null(root)) {
		pos = node_pos(root);
		memset(seen, 0, sizeof(seen));
		if (root->type != YAML_MAPPING_NODE)
			conf_error(&ctx, &pos, "the file must be a mapping of "
			    "keys such as 'domain:', not %s", node_kind(root));
		else
			walk_map(&ctx, root, conf_keys, "", NULL, NULL,
			    &ctx.cf->conf, seen);
	}
	if (!ctx.stop)
		listen_finish(&ctx);
out:
	if (loaded)
		yaml_document_delete(&doc);
	addrs_clear(&ctx.addrs[0]);
	addrs_clear(&ctx.addrs[1]);
	if (ctx.nomem)
		r = RF_ERR_NOMEM;
	else if (ctx.nerrors > 0)
		r = RF_ERR_CONFIG;
	else {
		*out = &ctx.cf->conf;
		ctx.cf = NULL;
		r = 0;
	}
	conf_full_free(ctx.cf);
	return r;
}

/*
 * Reads all of fd from offset 0 with pread, so that a memfd just written
 * by the master reads whole; read(2) for pipes, which cannot seek.
 */
static int
read_all(int fd, unsigned char **bufp, size_t *lenp)
{
	unsigned char *buf = NULL, *nbuf;
	size_t len = 0, alloc = 0;
	int use_read = 0, r, saved;
	ssize_t n;

	*bufp = NULL;
	*lenp = 0;
	for (;;) {
		r = RF_ERR_LIMIT;
		if (len > CONF_MAX_FILE)
			goto out;
		if (len == alloc) {
			alloc = alloc > 0 ? alloc * 2 : 16384;
			r = RF_ERR_NOMEM;
			if ((nbuf = realloc(buf, alloc)) == NULL)
				goto out;
			buf = nbuf;
		}
		if (use_read)
			n = read(fd, buf + len, alloc - len);
		else
			n = pread(fd, buf + len, alloc - len, (off_t)len);
		if (n == -1 && errno == ESPIPE && !use_read && len == 0)
			use_read = 1;
		else if (n == -1 && errno != EINTR) {
			r = RF_ERR_SYS;
			goto out;
		} else if (n == 0)
			break;
		else if (n > 0)
			len += (size_t)n;
	}
	*bufp = buf;
	*lenp = len;
	buf = NULL;
	r = 0;
out:
	saved = errno;
	free(buf);
	errno = saved;
	return r;
}

static void
file_error(rf_conf_errfn *errfn, void *arg, const char *name,
    const char *what)
{
	char line[2048];

	if (errfn == NULL)
		return;
	snprintf(line, sizeof(line), "%s: %s", name, what);
	errfn(arg, line);
}

int
rf_conf_load_fd(int fd, const char *name, struct rf_conf **out,
    rf_conf_errfn *errfn, void *arg)
{
	unsigned char *buf;
	char what[256];
	size_t len;
	int r;

	*out = NULL;
	if (name == NULL)
		name = "(config)";
	if ((r = read_all(fd, &buf, &len)) != 0) {
		if (r == RF_ERR_SYS)
			snprintf(what, sizeof(what), "cannot read: %s",
			    strerror(errno));
		else if (r == RF_ERR_LIMIT)
			snprintf(what, sizeof(what), "larger than %d MiB; "
			    "this is not a config file", CONF_MAX_FILE >> 20);
		else
			snprintf(what, sizeof(what), "out of memory");
		file_error(errfn, arg, name, what);
		return r == RF_ERR_LIMIT ? RF_ERR_CONFIG : r;
	}
	r = rf_conf_load_mem(buf, len, name, out, errfn, arg);
	free(buf);
	return r;
}

int
rf_conf_load(const char *path, struct rf_conf **out, rf_conf_errfn *errfn,
    void *arg)
{
	char what[256];
	int fd, r, saved;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		saved = errno;
		snprintf(what, sizeof(what), "cannot open: %s",
		    strerror(saved));
		file_error(errfn, arg, path, what);
		errno = saved;
		return RF_ERR_SYS;
	}
	r = rf_conf_load_fd(fd, path, out, errfn, arg);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

void
rf_conf_free(struct rf_conf *conf)
{
	conf_full_free((struct conf_full *)conf);
}

/* ------------------------------------------------------------ output -- */

/* A double-quoted YAML string that rf_conf_load reads back as s. */
static void
put_quoted(FILE *f, const char *s)
{
	const unsigned char *p;

	fputc('"', f);
	for (p = (const unsigned char *)(s != NULL ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* One scalar value; comment adds "# auto" to a workers count. */
static void
put_scalar(FILE *f, const struct conf_key *k, const void *base, int comment)
{
	const void *fp = (const char *)base + k->off;
	const char *name;
	int v;

	if (type_is_string(k->type)) {
		put_quoted(f, *(char *const *)fp);
		return;
	}
	v = *(const int *)fp;
	switch (k->type) {
	case CT_DURATION:
		fprintf(f, "%ds", v);
		break;
	case CT_WORKERS:
		fprintf(f, "%d", v);
		if (comment && ((const struct rf_conf *)base)->workers_auto)
			fputs(" # auto", f);
		break;
	case CT_BOOL:
		fputs(v ? "true" : "false", f);
		break;
	case CT_ENUM:
		/* Quoted as a string if it would read as a number ("1.2"). */
		if ((name = k->en->name(v)) == NULL)
			fprintf(f, "%d", v);
		else if (name[0] >= '0' && name[0] <= '9')
			put_quoted(f, name);
		else
			fputs(name, f);
		break;
	default:
		fprintf(f, "%d", v);
		break;
	}
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
		put_quoted(f, conf->listen[i].address);
		sep = ", ";
	}
	fputc(']', f);
}

static void
put_patterns(FILE *f, const struct conf_key *k, const void *base)
{
	char *const *v = *(char **const *)((const char *)base + k->off);
	size_t n = *(const size_t *)((const char *)base + k->countoff), i;

	fputc('[', f);
	for (i = 0; i < n; i++) {
		if (i > 0)
			fputs(", ", f);
		put_quoted(f, v[i]);
	}
	fputc(']', f);
}

static void
dump_table(FILE *f, const struct conf_key *k, const void *base, int depth)
{
	const void *v = *(void *const *)((const char *)base + k->off);
	size_t n = *(const size_t *)((const char *)base + k->countoff), i;
	const struct conf_key *sk;
	const char *elem;

	if (n == 0) {
		fputs(" []\n", f);
		return;
	}
	fputc('\n', f);
	for (i = 0; i < n; i++) {
		elem = (const char *)v + i * k->elemsize;
		for (sk = k->sub; sk->path != NULL; sk++) {
			fprintf(f, "%*s%s%s: ", (depth + 1) * 2, "",
			    sk == k->sub ? "- " : "  ", sk->path);
			if (sk->type == CT_PATTERNS)
				put_patterns(f, sk, elem);
			else
				put_scalar(f, sk, elem, 1);
			fputc('\n', f);
		}
	}
}

static void
dump_keys(FILE *f, const char *prefix, const struct rf_conf *conf, int depth)
{
	const struct conf_key *k;

	for (k = conf_keys; k->path != NULL; k++) {
		if (!key_is_child(k->path, prefix))
			continue;
		fprintf(f, "%*s# %s\n", depth * 2, "", k->desc);
		fprintf(f, "%*s%s:", depth * 2, "", key_leaf(k->path));
		switch (k->type) {
		case CT_SECTION:
			fputc('\n', f);
			dump_keys(f, k->path, conf, depth + 1);
			break;
		case CT_LISTEN:
			fputc(' ', f);
			put_listen(f, conf, k->tls);
			fputc('\n', f);
			break;
		case CT_TABLE:
			dump_table(f, k, conf, depth);
			break;
		default:
			fputc(' ', f);
			put_scalar(f, k, conf, 1);
			fputc('\n', f);
			break;
		}
	}
}

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
	dump_keys(f, "", conf, 0);
	return ferror(f) ? RF_ERR_SYS : 0;
}

/* A key's value as rf_conf_dump prints it, for messages; NULL if no memory. */
static char *
value_text(const struct conf_key *k, const struct rf_conf *conf)
{
	char *s = NULL;
	size_t len;
	FILE *f;

	if ((f = open_memstream(&s, &len)) == NULL)
		return NULL;
	if (k->type == CT_LISTEN)
		put_listen(f, conf, k->tls);
	else
		put_scalar(f, k, conf, 0);
	if (fclose(f) != 0) {
		free(s);
		return NULL;
	}
	return s;
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

int
rf_conf_restart_keys(const struct rf_conf *old, const struct rf_conf *new,
    rf_conf_errfn *errfn, void *arg)
{
	const struct conf_key *k;
	char *a, *b, line[4096];
	int n = 0, differ;

	for (k = conf_keys; k->path != NULL; k++) {
		if ((k->flags & CK_RELOAD) || k->type == CT_SECTION)
			continue;
		a = value_text(k, old);
		b = value_text(k, new);
		if (k->type == CT_LISTEN)
			differ = !listen_equal(old, new, k->tls);
		else
			differ = a == NULL || b == NULL || strcmp(a, b) != 0;
		if (differ) {
			n++;
			snprintf(line, sizeof(line), "%s changed from %s to "
			    "%s; a reload cannot change it, restart "
			    "reflectord to apply it", k->path,
			    a != NULL ? a : "?", b != NULL ? b : "?");
			if (errfn != NULL)
				errfn(arg, line);
		}
		free(a);
		free(b);
	}
	return n;
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
	const struct conf_key *k;
	int keep[2] = { 0, 0 };
	char **np, *s;

	for (k = conf_keys; k->path != NULL; k++) {
		if ((k->flags & CK_RELOAD) || k->type == CT_SECTION)
			continue;
		RF_ASSERT(k->type != CT_TABLE && k->type != CT_PATTERNS);
		if (k->type == CT_LISTEN) {
			keep[k->tls] = 1;
		} else if (type_is_string(k->type)) {
			np = (char **)((char *)new + k->off);
			s = *(char *const *)((const char *)old + k->off);
			if (s != NULL && (s = strdup(s)) == NULL)
				fatal_f("out of memory");
			free(*np);
			*np = s;
		} else {
			*(int *)((char *)new + k->off) =
			    *(const int *)((const char *)old + k->off);
			if (k->type == CT_WORKERS)
				new->workers_auto = old->workers_auto;
		}
	}
	keep_listen(new, old, keep);
}

void
rf_conf_where(const struct rf_conf *conf, const char *key, char *buf,
    size_t len)
{
	const struct conf_full *cf = (const struct conf_full *)conf;
	const char *file = conf->file != NULL ? conf->file : "(config)";
	size_t i;

	if (len == 0)
		return;
	for (i = 0; i < cf->nwhere; i++) {
		if (strcmp(cf->where[i].key, key) == 0) {
			snprintf(buf, len, "%s:%lu:%lu", file,
			    cf->where[i].pos.line, cf->where[i].pos.col);
			return;
		}
	}
	snprintf(buf, len, "%s", file);
}

const char *
rf_conf_default_path(void)
{
	return RF_SYSCONFDIR "/reflector/reflector.yml";
}
