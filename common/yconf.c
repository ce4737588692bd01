/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The YAML config engine (yconf.h), taken out of the reflector.yml loader
 * so that every program reads its config with the same code and the same
 * messages.  The key tables live with the programs (conf.c, agent/); this
 * file walks them: defaults through the parsers, the document in two
 * passes (events for what the document API hides, then nodes), the dump
 * and the reload comparison.
 */
#include <sys/types.h>
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

#include "err.h"
#include "log.h"
#include "yconf.h"

#define YCONF_MAX_DEPTH	16		/* the schemas need 4 levels */
#define YCONF_DIST_MAX	32		/* longest key that gets a hint */
#define YCONF_NUM_CAP	1000000000000LL /* numbers stick here */

/* Which keys of one mapping were set, and where. */
struct yconf_seen {
	int			 set;
	struct rf_yconf_pos	 key;
	struct rf_yconf_pos	 val;
};

struct rf_yconf_ctx {
	const char		*name;	/* the file, in messages */
	const unsigned char	*buf;
	size_t			 len;
	rf_yconf_errfn		*errfn;
	void			*arg;
	int			 nerrors;
	int			 stop;	/* too many errors, or no memory */
	int			 nomem;
	yaml_document_t		*doc;
	struct rf_yconf_wheres	*where;	/* NULL: not recorded */
	void			*user;
};

/* One value of a list that must be unique, with where it was set. */
struct yconf_uniq {
	const char		*s;
	struct rf_yconf_pos	 pos;
	size_t			 idx;
};

static int	walk_map(struct rf_yconf_ctx *, yaml_node_t *,
		    const struct rf_yconf_key *, const char *, const char *,
		    const char *, void *, struct yconf_seen *);

/* The types stored as a char * at off. */
static int
type_is_string(enum rf_yconf_type t)
{
	return t == RF_YC_STRING || t == RF_YC_PATH || t == RF_YC_HOSTNAME ||
	    t == RF_YC_LABEL || t == RF_YC_USERNAME;
}

/* ---------------------------------------------------------- messages -- */

/*
 * Copies s into buf for an error message: at most 40 bytes (cut on a UTF-8
 * boundary, then "..."), control characters as '?', so that a hostile file
 * cannot write escape sequences to the admin's terminal.
 */
const char *
rf_yconf_show(const char *s, char *buf, size_t len)
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

void
rf_yconf_error(struct rf_yconf_ctx *ctx, const struct rf_yconf_pos *pos,
    const char *fmt, ...)
{
	char msg[1024], line[2048];
	va_list ap;

	if (ctx->stop)
		return;
	if (++ctx->nerrors > RF_YCONF_MAX_ERRORS) {
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

void
rf_yconf_nomem(struct rf_yconf_ctx *ctx)
{
	char line[1024];

	if (ctx->nomem)
		return;
	ctx->nomem = ctx->stop = 1;
	snprintf(line, sizeof(line), "%s: out of memory", ctx->name);
	if (ctx->errfn != NULL)
		ctx->errfn(ctx->arg, line);
}

static struct rf_yconf_pos
mark_pos(const yaml_mark_t *m)
{
	struct rf_yconf_pos p;

	p.line = m->line + 1;
	p.col = m->column + 1;
	return p;
}

struct rf_yconf_pos
rf_yconf_node_pos(const yaml_node_t *n)
{
	return mark_pos(&n->start_mark);
}

/* Where a byte offset is, for reader errors, which come without a mark. */
static struct rf_yconf_pos
offset_pos(const struct rf_yconf_ctx *ctx, size_t off)
{
	struct rf_yconf_pos p = { 1, 1 };
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

const char *
rf_yconf_node_kind(const yaml_node_t *n)
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
int
rf_yconf_node_is_null(const yaml_node_t *n)
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
 * every accepted value printable by the dump as it was read.
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

yaml_node_t *
rf_yconf_node(struct rf_yconf_ctx *ctx, int id)
{
	return yaml_document_get_node(ctx->doc, id);
}

/* ------------------------------------------------------------- where -- */

void
rf_yconf_where_add(struct rf_yconf_ctx *ctx, const char *key,
    const struct rf_yconf_pos *pos)
{
	struct rf_yconf_wheres *ws = ctx->where;
	struct rf_yconf_where *w;
	size_t n;

	if (ws == NULL)
		return;
	if (ws->n == ws->alloc) {
		n = ws->alloc > 0 ? ws->alloc * 2 : 32;
		if ((w = reallocarray(ws->v, n, sizeof(*w))) == NULL) {
			rf_yconf_nomem(ctx);
			return;
		}
		ws->v = w;
		ws->alloc = n;
	}
	w = &ws->v[ws->n];
	if ((w->key = strdup(key)) == NULL) {
		rf_yconf_nomem(ctx);
		return;
	}
	w->pos = *pos;
	ws->n++;
}

void
rf_yconf_wheres_free(struct rf_yconf_wheres *ws)
{
	size_t i;

	if (ws == NULL)
		return;
	for (i = 0; i < ws->n; i++)
		free(ws->v[i].key);
	free(ws->v);
	memset(ws, 0, sizeof(*ws));
}

void
rf_yconf_where(const struct rf_yconf_wheres *ws, const char *file,
    const char *key, char *buf, size_t len)
{
	size_t i;

	if (len == 0)
		return;
	if (file == NULL)
		file = "(config)";
	for (i = 0; ws != NULL && i < ws->n; i++) {
		if (strcmp(ws->v[i].key, key) == 0) {
			snprintf(buf, len, "%s:%lu:%lu", file,
			    ws->v[i].pos.line, ws->v[i].pos.col);
			return;
		}
	}
	snprintf(buf, len, "%s", file);
}

void *
rf_yconf_user(const struct rf_yconf_ctx *ctx)
{
	return ctx->user;
}

int
rf_yconf_stopped(const struct rf_yconf_ctx *ctx)
{
	return ctx->stop;
}

int
rf_yconf_nerrors(const struct rf_yconf_ctx *ctx)
{
	return ctx->nerrors;
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
key_find(const struct rf_yconf_key *keys, const char *prefix, const char *name)
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
	int d[YCONF_DIST_MAX + 1][YCONF_DIST_MAX + 1], cost, v;
	size_t la = strlen(a), lb = strlen(b), i, j;

	if (la > YCONF_DIST_MAX || lb > YCONF_DIST_MAX)
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
key_hint(const struct rf_yconf_key *keys, const char *prefix, const char *name,
    char *buf, size_t len)
{
	const struct rf_yconf_key *best = NULL, *k;
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
unknown_key(struct rf_yconf_ctx *ctx, const struct rf_yconf_key *keys,
    const char *prefix, const char *list, const char *name,
    const struct rf_yconf_pos *pos)
{
	char hint[128], shown[64];

	key_hint(keys, prefix, name, hint, sizeof(hint));
	rf_yconf_show(name, shown, sizeof(shown));
	if (list != NULL)
		rf_yconf_error(ctx, pos, "unknown key '%s' in a '%s' entry%s",
		    shown, list, hint);
	else if (*prefix != '\0')
		rf_yconf_error(ctx, pos, "unknown key '%s' in '%s'%s", shown,
		    prefix, hint);
	else
		rf_yconf_error(ctx, pos, "unknown key '%s'%s", shown, hint);
}

/* What a key wants, for "'x' must be <what>, not a list". */
static const char *
key_what(const struct rf_yconf_key *k)
{
	if (k->what != NULL)
		return k->what;
	switch (k->type) {
	case RF_YC_SECTION:
		return "a mapping of keys";
	case RF_YC_STRING:
		return "a string";
	case RF_YC_PATH:
		return "a path";
	case RF_YC_INT:
		return "a number";
	case RF_YC_BOOL:
		return "true or false";
	case RF_YC_ENUM:
		return k->en->allowed;
	case RF_YC_DURATION:
		return "a duration";
	case RF_YC_SIZE:
		return "a size";
	case RF_YC_HOSTNAME:
		return "a DNS name";
	case RF_YC_LABEL:
		return "a device id";
	case RF_YC_USERNAME:
		return "a user name";
	case RF_YC_CUSTOM:
		return k->custom->what;
	case RF_YC_PATTERNS:
		return "a list of device id patterns";
	case RF_YC_TABLE:
		return "a list of mappings";
	}
	return "something else";
}

void
rf_yconf_type_error(struct rf_yconf_ctx *ctx, const struct rf_yconf_key *k,
    const char *name, const yaml_node_t *n)
{
	struct rf_yconf_pos pos = rf_yconf_node_pos(n);

	rf_yconf_error(ctx, &pos, "'%s' must be %s, not %s", name, key_what(k),
	    rf_yconf_node_kind(n));
}

/*
 * The text of a scalar node, "" for a null; errors for other nodes and for
 * control characters.
 */
int
rf_yconf_scalar_text(struct rf_yconf_ctx *ctx, const struct rf_yconf_key *k,
    const char *name, const yaml_node_t *n, const char **sp)
{
	struct rf_yconf_pos pos = rf_yconf_node_pos(n);

	*sp = NULL;
	if (n->type != YAML_SCALAR_NODE) {
		rf_yconf_type_error(ctx, k, name, n);
		return -1;
	}
	if (bad_chars(n->data.scalar.value, n->data.scalar.length)) {
		rf_yconf_error(ctx, &pos, "'%s' must not contain control "
		    "characters or line breaks", name);
		return -1;
	}
	*sp = rf_yconf_node_is_null(n) ? "" :
	    (const char *)n->data.scalar.value;
	return 0;
}

/* ------------------------------------------------------ value checks -- */

/* 1 for a DNS label: 1 to 63 of a-z 0-9 '-', no '-' at either end. */
int
rf_yconf_is_label(const char *s, size_t len)
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

int
rf_yconf_is_hostname(const char *s)
{
	const char *dot;
	size_t len = strlen(s);

	if (len < 1 || len > 253)
		return 0;
	for (;;) {
		dot = strchr(s, '.');
		if (!rf_yconf_is_label(
			s, dot != NULL ? (size_t)(dot - s) : strlen(s)))
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
	return rf_yconf_is_label(buf, len);
}

/*
 * Reads an optional '-' and decimal digits; NULL if there are no digits.
 * Values stick at YCONF_NUM_CAP, outside every range, so that no input
 * overflows however many digits it has.
 */
const char *
rf_yconf_parse_digits(const char *s, long long *vp)
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
		if (v > YCONF_NUM_CAP)
			v = YCONF_NUM_CAP;
	}
	*vp = neg ? -v : v;
	return s;
}

/* ------------------------------------------------------ scalar types -- */

static int
set_string(struct rf_yconf_ctx *ctx, const struct rf_yconf_key *k,
    const char *name, const char *s, char **fp, const struct rf_yconf_pos *pos)
{
	char shown[64], *dup;
	const char *bad = NULL;

	if (*s == '\0') {
		if (k->flags & RF_YC_UNSET) {
			free(*fp);
			*fp = NULL;
			return 0;
		}
		rf_yconf_error(ctx, pos, "'%s' must not be empty", name);
		return -1;
	}
	if (k->type == RF_YC_HOSTNAME && !rf_yconf_is_hostname(s))
		bad = "a lowercase DNS name such as \"reflector.example.net\" "
		    "(labels of a-z, 0-9 and '-')";
	else if (k->type == RF_YC_LABEL && !rf_yconf_is_label(s, strlen(s)))
		bad = "1 to 63 of a-z, 0-9 and '-', not starting or ending "
		    "with '-'";
	else if (k->type == RF_YC_USERNAME && !is_username(s))
		bad = "1 to 64 of A-Z, a-z, 0-9, '.', '_', '@' and '-'";
	else if (k->check != NULL)
		bad = k->check(s);
	if (bad != NULL) {
		rf_yconf_error(ctx, pos, "'%s' must be %s, got '%s'", name, bad,
		    rf_yconf_show(s, shown, sizeof(shown)));
		return -1;
	}
	if ((dup = strdup(s)) == NULL) {
		rf_yconf_nomem(ctx);
		return -1;
	}
	free(*fp);
	*fp = dup;
	return 0;
}

/* How a number of this key is written, and its unit, for messages. */
static const char *
number_form(const struct rf_yconf_key *k, const char **unit)
{
	*unit = "";
	switch (k->type) {
	case RF_YC_DURATION:
		*unit = " seconds";
		return "a number of seconds, or one with a unit: 30s, 5m, 1h";
	case RF_YC_SIZE:
		*unit = " bytes";
		return "a number of bytes, or one with a unit: 8k, 1m";
	default:
		return k->what != NULL ? k->what : "a number";
	}
}

/* The multiplier of a unit suffix; *endp moves past it. */
static long long
number_unit(enum rf_yconf_type t, const char **endp)
{
	long long mult = 0;

	if (t == RF_YC_DURATION)
		mult = **endp == 's' ? 1 : **endp == 'm' ? 60 :
		    **endp == 'h' ? 3600 : 0;
	else if (t == RF_YC_SIZE)
		mult = **endp == 'k' || **endp == 'K' ? 1024 :
		    **endp == 'm' || **endp == 'M' ? 1024 * 1024 : 0;
	if (mult == 0)
		return 1;
	(*endp)++;
	return mult;
}

static int
set_number(struct rf_yconf_ctx *ctx, const struct rf_yconf_key *k,
    const char *name, const char *s, void *base, const struct rf_yconf_pos *pos)
{
	int *fp = (int *)((char *)base + k->off);
	int *wp = k->word != NULL ? (int *)((char *)base + k->wordoff) : NULL;
	const char *end, *unit, *form;
	char shown[64];
	long long v;

	if (wp != NULL && strcmp(s, k->word) == 0) {
		*fp = (int)k->word_value(k);
		*wp = 1;
		return 0;
	}
	form = number_form(k, &unit);
	if ((end = rf_yconf_parse_digits(s, &v)) != NULL)
		v *= number_unit(k->type, &end);
	if (end == NULL || *end != '\0') {
		rf_yconf_error(ctx, pos, "'%s' must be %s, got '%s'", name,
		    form, rf_yconf_show(s, shown, sizeof(shown)));
		return -1;
	}
	if (v < k->min || v > k->max) {
		rf_yconf_error(ctx, pos,
		    "'%s' must be between %lld and %lld%s, "
		    "got %s",
		    name, k->min, k->max, unit,
		    rf_yconf_show(s, shown, sizeof(shown)));
		return -1;
	}
	*fp = (int)v;
	if (wp != NULL)
		*wp = 0;
	return 0;
}

static int
set_bool(struct rf_yconf_ctx *ctx, const struct rf_yconf_key *k,
    const char *name, const char *s, int *fp, const struct rf_yconf_pos *pos)
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
		rf_yconf_error(ctx, pos,
		    "'%s' must be true or false (or yes/no, "
		    "on/off), got '%s'",
		    name, rf_yconf_show(s, shown, sizeof(shown)));
		return -1;
	}
	return 0;
}

static int
set_enum(struct rf_yconf_ctx *ctx, const struct rf_yconf_key *k,
    const char *name, const char *s, int *fp, const struct rf_yconf_pos *pos)
{
	char shown[64];
	int v;

	if (k->en->from_name(s, &v) != 0) {
		rf_yconf_error(ctx, pos, "'%s' must be %s, got '%s'", name,
		    k->en->allowed, rf_yconf_show(s, shown, sizeof(shown)));
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
set_scalar(struct rf_yconf_ctx *ctx, const struct rf_yconf_key *k,
    const char *name, const char *s, void *base, const struct rf_yconf_pos *pos)
{
	void *fp = (char *)base + k->off;

	if (type_is_string(k->type))
		return set_string(ctx, k, name, s, fp, pos);
	switch (k->type) {
	case RF_YC_INT:
	case RF_YC_DURATION:
	case RF_YC_SIZE:
		if (*s == '\0') {
			rf_yconf_error(
			    ctx, pos, "'%s' must not be empty", name);
			return -1;
		}
		return set_number(ctx, k, name, s, base, pos);
	case RF_YC_BOOL:
		return set_bool(ctx, k, name, s, fp, pos);
	case RF_YC_ENUM:
		return set_enum(ctx, k, name, s, fp, pos);
	default:
		RF_ASSERT(!"not a scalar type");
	}
	return -1;
}


static void
set_patterns(struct rf_yconf_ctx *ctx, const struct rf_yconf_key *k,
    const char *name, yaml_node_t *vn, void *base)
{
	char ***vp = (char ***)((char *)base + k->off), shown[64];
	size_t *np = (size_t *)((char *)base + k->countoff), n;
	struct rf_yconf_pos ipos;
	yaml_node_item_t *it;
	yaml_node_t *in;
	const char *s;

	if (rf_yconf_node_is_null(vn))
		return;
	if (vn->type != YAML_SEQUENCE_NODE) {
		rf_yconf_type_error(ctx, k, name, vn);
		return;
	}
	n = (size_t)(vn->data.sequence.items.top -
	    vn->data.sequence.items.start);
	if (n == 0)
		return;
	RF_ASSERT(*vp == NULL);
	if ((*vp = calloc(n, sizeof(**vp))) == NULL) {
		rf_yconf_nomem(ctx);
		return;
	}
	for (it = vn->data.sequence.items.start;
	    it < vn->data.sequence.items.top && !ctx->stop; it++) {
		if ((in = rf_yconf_node(ctx, *it)) == NULL ||
		    rf_yconf_scalar_text(ctx, k, name, in, &s) != 0)
			continue;
		ipos = rf_yconf_node_pos(in);
		if (!is_pattern(s)) {
			rf_yconf_error(ctx, &ipos, "'%s' entry '%s' must be a "
			    "device id, one with a single '*', or '*'", name,
			    rf_yconf_show(s, shown, sizeof(shown)));
			continue;
		}
		if (((*vp)[*np] = strdup(s)) == NULL) {
			rf_yconf_nomem(ctx);
			return;
		}
		(*np)++;
	}
}

static int
uniq_cmp(const void *a, const void *b)
{
	const struct yconf_uniq *x = a, *y = b;
	int c;

	if ((c = strcmp(x->s, y->s)) != 0)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Sorted, so that a list of thousands of devices costs n log n, not n^2. */
static void
check_unique(struct rf_yconf_ctx *ctx, const struct rf_yconf_key *k,
    const char *what, struct yconf_uniq *u, size_t n)
{
	char shown[64];
	size_t i, first = 0;

	qsort(u, n, sizeof(*u), uniq_cmp);
	for (i = 1; i < n && !ctx->stop; i++) {
		if (strcmp(u[i].s, u[first].s) != 0) {
			first = i;
			continue;
		}
		rf_yconf_error(ctx, &u[i].pos,
		    "'%s' has two entries with %s "
		    "'%s' (the first at line %lu)",
		    k->path, what, rf_yconf_show(u[i].s, shown, sizeof(shown)),
		    u[first].pos.line);
	}
}

/* Applies the defaults of a table to base, through the parsers. */
static void
apply_defaults(
    struct rf_yconf_ctx *ctx, const struct rf_yconf_key *keys, void *base)
{
	const struct rf_yconf_key *k;

	for (k = keys; k->path != NULL && !ctx->stop; k++) {
		if (k->type == RF_YC_CUSTOM) {
			if (k->custom->set_default != NULL)
				k->custom->set_default(ctx, k, base);
		} else if (k->def != NULL)
			set_scalar(ctx, k, k->path, k->def, base, NULL);
	}
}

static void
table_entry(struct rf_yconf_ctx *ctx, const struct rf_yconf_key *k,
    yaml_node_t *in, void *elem, size_t idx, struct yconf_uniq *u, size_t *nu)
{
	struct yconf_seen seen[RF_YCONF_MAX_KEYS];
	struct rf_yconf_pos ipos = rf_yconf_node_pos(in);
	const struct rf_yconf_key *sk;
	char wprefix[64];
	size_t j;
	int unknown;

	snprintf(wprefix, sizeof(wprefix), "%s.%zu", k->path, idx);
	rf_yconf_where_add(ctx, wprefix, &ipos);
	apply_defaults(ctx, k->sub, elem);
	memset(seen, 0, sizeof(seen));
	unknown = walk_map(ctx, in, k->sub, "", k->path, wprefix, elem, seen);
	for (j = 0; k->sub[j].path != NULL; j++) {
		sk = &k->sub[j];
		/* A misspelt key was most likely the required one. */
		if ((sk->flags & RF_YC_REQUIRED) && !seen[j].set && !unknown)
			rf_yconf_error(ctx, &ipos,
			    "this '%s' entry has no '%s'; "
			    "it is required",
			    k->path, sk->path);
		if ((sk->flags & RF_YC_UNIQUE) && seen[j].set &&
		    *(char **)((char *)elem + sk->off) != NULL) {
			u[*nu].s = *(char **)((char *)elem + sk->off);
			u[*nu].pos = seen[j].val;
			u[*nu].idx = *nu;
			(*nu)++;
		}
	}
}

static void
set_table(struct rf_yconf_ctx *ctx, const struct rf_yconf_key *k,
    yaml_node_t *vn, void *base)
{
	void **vp = (void **)((char *)base + k->off);
	size_t *np = (size_t *)((char *)base + k->countoff), n, nu = 0;
	const struct rf_yconf_key *sk;
	const char *what = NULL;
	struct yconf_uniq *u = NULL;
	struct rf_yconf_pos ipos;
	yaml_node_item_t *it;
	yaml_node_t *in;

	if (rf_yconf_node_is_null(vn))
		return;
	if (vn->type != YAML_SEQUENCE_NODE) {
		rf_yconf_type_error(ctx, k, k->path, vn);
		return;
	}
	n = (size_t)(vn->data.sequence.items.top -
	    vn->data.sequence.items.start);
	if (n == 0)
		return;
	RF_ASSERT(*vp == NULL);
	if ((*vp = calloc(n, k->elemsize)) == NULL ||
	    (u = calloc(n, sizeof(*u))) == NULL) {
		rf_yconf_nomem(ctx);
		return;
	}
	for (it = vn->data.sequence.items.start;
	    it < vn->data.sequence.items.top && !ctx->stop; it++) {
		if ((in = rf_yconf_node(ctx, *it)) == NULL)
			continue;
		if (in->type != YAML_MAPPING_NODE) {
			ipos = rf_yconf_node_pos(in);
			rf_yconf_error(ctx, &ipos,
			    "an entry of '%s' must be a "
			    "mapping of keys, not %s",
			    k->path, rf_yconf_node_kind(in));
			continue;
		}
		table_entry(ctx, k, in, (char *)*vp + *np * k->elemsize, *np,
		    u, &nu);
		(*np)++;
	}
	for (sk = k->sub; sk->path != NULL; sk++)
		if (sk->flags & RF_YC_UNIQUE)
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
set_key(struct rf_yconf_ctx *ctx, const struct rf_yconf_key *keys,
    const struct rf_yconf_key *k, yaml_node_t *vn, const char *list,
    const char *wprefix, void *base)
{
	struct yconf_seen seen[RF_YCONF_MAX_KEYS];
	struct rf_yconf_pos pos = rf_yconf_node_pos(vn);
	char name[128], wname[128];
	const char *s;

	if (list != NULL) {
		snprintf(name, sizeof(name), "%s.%s", list, k->path);
		snprintf(wname, sizeof(wname), "%s.%s", wprefix, k->path);
	} else {
		snprintf(name, sizeof(name), "%s", k->path);
		snprintf(wname, sizeof(wname), "%s", k->path);
	}
	rf_yconf_where_add(ctx, wname, &pos);
	switch (k->type) {
	case RF_YC_SECTION:
		if (rf_yconf_node_is_null(vn))
			return;
		if (vn->type != YAML_MAPPING_NODE) {
			rf_yconf_type_error(ctx, k, name, vn);
			return;
		}
		memset(seen, 0, sizeof(seen));
		walk_map(ctx, vn, keys, k->path, list, wprefix, base, seen);
		return;
	case RF_YC_CUSTOM:
		k->custom->set(ctx, k, name, vn, base);
		return;
	case RF_YC_PATTERNS:
		set_patterns(ctx, k, name, vn, base);
		return;
	case RF_YC_TABLE:
		set_table(ctx, k, vn, base);
		return;
	default:
		if (rf_yconf_scalar_text(ctx, k, name, vn, &s) == 0)
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
walk_map(struct rf_yconf_ctx *ctx, yaml_node_t *map,
    const struct rf_yconf_key *keys, const char *prefix, const char *list,
    const char *wprefix, void *base, struct yconf_seen *seen)
{
	yaml_node_pair_t *pair;
	yaml_node_t *kn, *vn;
	struct rf_yconf_pos kpos;
	const char *name;
	char shown[64];
	int i, unknown = 0;

	for (pair = map->data.mapping.pairs.start;
	    pair < map->data.mapping.pairs.top && !ctx->stop; pair++) {
		if ((kn = rf_yconf_node(ctx, pair->key)) == NULL ||
		    (vn = rf_yconf_node(ctx, pair->value)) == NULL)
			continue;
		kpos = rf_yconf_node_pos(kn);
		if (kn->type != YAML_SCALAR_NODE ||
		    bad_chars(kn->data.scalar.value, kn->data.scalar.length)) {
			rf_yconf_error(ctx, &kpos,
			    "a key must be a plain name, "
			    "not %s",
			    kn->type == YAML_SCALAR_NODE
				? "one with control characters"
				: rf_yconf_node_kind(kn));
			continue;
		}
		name = (const char *)kn->data.scalar.value;
		if ((i = key_find(keys, prefix, name)) == -1) {
			unknown_key(ctx, keys, prefix, list, name, &kpos);
			unknown++;
			continue;
		}
		if (seen[i].set) {
			rf_yconf_error(ctx, &kpos, "duplicate key '%s' (first "
			    "set at line %lu)", rf_yconf_show(name, shown,
			    sizeof(shown)), seen[i].key.line);
			continue;
		}
		seen[i].set = 1;
		seen[i].key = kpos;
		seen[i].val = rf_yconf_node_pos(vn);
		set_key(ctx, keys, &keys[i], vn, list, wprefix, base);
	}
	return unknown;
}

/* ------------------------------------------------------------ loading -- */

static void
syntax_error(struct rf_yconf_ctx *ctx, const yaml_parser_t *p)
{
	const char *problem = p->problem != NULL ? p->problem : "unknown error";
	struct rf_yconf_pos pos, cpos;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		rf_yconf_nomem(ctx);
		return;
	case YAML_READER_ERROR:
		pos = offset_pos(ctx, p->problem_offset);
		if (p->problem_value != -1)
			rf_yconf_error(ctx, &pos, "not UTF-8 text: %s (0x%02x)",
			    problem, (unsigned int)p->problem_value);
		else
			rf_yconf_error(
			    ctx, &pos, "not UTF-8 text: %s", problem);
		return;
	default:
		pos = mark_pos(&p->problem_mark);
		cpos = mark_pos(&p->context_mark);
		if (p->context != NULL)
			rf_yconf_error(ctx, &pos,
			    "YAML syntax error: %s (%s at "
			    "line %lu, column %lu)",
			    problem, p->context, cpos.line, cpos.col);
		else
			rf_yconf_error(
			    ctx, &pos, "YAML syntax error: %s", problem);
		return;
	}
}

/* Errors for anchors and tags; 1 if the event nests one level deeper. */
static int
event_check(struct rf_yconf_ctx *ctx, const yaml_event_t *ev)
{
	struct rf_yconf_pos pos = mark_pos(&ev->start_mark);
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
		rf_yconf_error(ctx, &pos, "aliases ('*%s') are not supported; "
		    "write the value out", rf_yconf_show((const char *)
		    ev->data.alias.anchor, shown, sizeof(shown)));
		break;
	default:
		break;
	}
	if (anchor != NULL)
		rf_yconf_error(ctx, &pos,
		    "anchors ('&%s') are not supported; "
		    "write each value out",
		    rf_yconf_show((const char *)anchor, shown, sizeof(shown)));
	if (tag != NULL)
		rf_yconf_error(ctx, &pos,
		    "tags ('%s') are not supported; values "
		    "are read as written",
		    rf_yconf_show((const char *)tag, shown, sizeof(shown)));
	return deeper;
}

/*
 * A pass over the events before the document is loaded: syntax errors,
 * then what the document API would hide.  It resolves aliases into shared
 * nodes (a walk over "&a [*a, *a]" repeats, and "&a [*a]" is a cycle),
 * keeps no trace of anchors or tags, and reads only the first document.
 */
static int
check_events(struct rf_yconf_ctx *ctx)
{
	int depth = 0, ndocs = 0, done = 0, before = ctx->nerrors;
	struct rf_yconf_pos pos;
	yaml_parser_t p;
	yaml_event_t ev;

	if (!yaml_parser_initialize(&p)) {
		rf_yconf_nomem(ctx);
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
			rf_yconf_error(ctx, &pos,
			    "a second YAML document starts "
			    "here; the file must hold one");
		else if (ev.type == YAML_SEQUENCE_END_EVENT ||
		    ev.type == YAML_MAPPING_END_EVENT)
			depth--;
		else if (event_check(ctx, &ev) && ++depth > YCONF_MAX_DEPTH) {
			rf_yconf_error(ctx, &pos, "nested more than %d levels "
			    "deep", YCONF_MAX_DEPTH);
			done = 1;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return ctx->nerrors > before || ctx->stop ? -1 : 0;
}

static int
load_document(struct rf_yconf_ctx *ctx, yaml_document_t *doc)
{
	yaml_parser_t p;
	int ok;

	if (!yaml_parser_initialize(&p)) {
		rf_yconf_nomem(ctx);
		return -1;
	}
	yaml_parser_set_input_string(&p, ctx->buf, ctx->len);
	/* On failure yaml_parser_load has deleted the document itself. */
	if (!(ok = yaml_parser_load(&p, doc)))
		syntax_error(ctx, &p);
	yaml_parser_delete(&p);
	return ok ? 0 : -1;
}

void
rf_yconf_free_fields(const struct rf_yconf_key *keys, void *base)
{
	const struct rf_yconf_key *k;
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
		case RF_YC_PATTERNS:
			vp = (char ***)((char *)base + k->off);
			np = (size_t *)((char *)base + k->countoff);
			for (i = 0; i < *np; i++)
				free((*vp)[i]);
			free(*vp);
			*vp = NULL;
			*np = 0;
			break;
		case RF_YC_TABLE:
			tp = (void **)((char *)base + k->off);
			np = (size_t *)((char *)base + k->countoff);
			for (i = 0; i < *np; i++)
				rf_yconf_free_fields(k->sub, (char *)*tp +
				    i * k->elemsize);
			free(*tp);
			*tp = NULL;
			*np = 0;
			break;
		case RF_YC_CUSTOM:
			if (k->custom->free != NULL)
				k->custom->free(k, base);
			break;
		default:
			break;
		}
	}
}

int
rf_yconf_load_mem(const struct rf_yconf_schema *schema, const void *buf,
    size_t len, const char *name, void *base, struct rf_yconf_wheres *where,
    void *user, rf_yconf_errfn *errfn, void *arg)
{
	struct yconf_seen seen[RF_YCONF_MAX_KEYS];
	struct rf_yconf_pos pos;
	struct rf_yconf_ctx ctx;
	yaml_document_t doc;
	yaml_node_t *root;
	int loaded = 0;

	memset(&ctx, 0, sizeof(ctx));
	ctx.name = name != NULL ? name : "(config)";
	ctx.buf = len > 0 ? buf : (const void *)"";
	ctx.len = len;
	ctx.errfn = errfn;
	ctx.arg = arg;
	ctx.where = where;
	ctx.user = user;
	apply_defaults(&ctx, schema->keys, base);
	if (ctx.nerrors > 0 || ctx.stop || check_events(&ctx) != 0 ||
	    load_document(&ctx, &doc) != 0)
		goto out;
	loaded = 1;
	ctx.doc = &doc;
	/* No document at all, or an empty one: every key takes its default. */
	root = yaml_document_get_root_node(&doc);
	if (root != NULL && !rf_yconf_node_is_null(root)) {
		pos = rf_yconf_node_pos(root);
		memset(seen, 0, sizeof(seen));
		if (root->type != YAML_MAPPING_NODE)
			rf_yconf_error(&ctx, &pos, "the file must be a mapping "
			    "of keys such as '%s:', not %s", schema->example,
			    rf_yconf_node_kind(root));
		else
			walk_map(&ctx, root, schema->keys, "", NULL, NULL,
			    base, seen);
	}
	if (!ctx.stop && schema->finish != NULL)
		schema->finish(&ctx, base);
out:
	if (loaded)
		yaml_document_delete(&doc);
	if (ctx.nomem)
		return RF_ERR_NOMEM;
	return ctx.nerrors > 0 ? RF_ERR_CONFIG : 0;
}

/* -------------------------------------------------------- log keys -- */

static int	 level_from_name(const char *, int *);
static const char *level_name(int);
static int	 target_from_name(const char *, int *);
static const char *target_name(int);

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

const struct rf_yconf_enum rf_yconf_log_level_enum = {
	"one of quiet, fatal, error, info, verbose, debug1, debug2 or "
	    "debug3",
	level_from_name, level_name
};
const struct rf_yconf_enum rf_yconf_log_target_enum = {
	"stderr, syslog or file", target_from_name, target_name
};
const struct rf_yconf_enum rf_yconf_log_facility_enum = {
	"one of daemon, user, auth, authpriv or local0 to local7",
	rf_log_facility_from_name, rf_log_facility_name
};
/* ------------------------------------------------------------ files -- */

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
		if (len > RF_YCONF_MAX_FILE)
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

void
rf_yconf_report(rf_yconf_errfn *errfn, void *arg, const char *name,
    const char *what)
{
	char line[2048];

	if (errfn == NULL)
		return;
	snprintf(line, sizeof(line), "%s: %s", name, what);
	errfn(arg, line);
}

int
rf_yconf_read_fd(int fd, const char *name, unsigned char **bufp,
    size_t *lenp, rf_yconf_errfn *errfn, void *arg)
{
	char what[256];
	int r;

	if (name == NULL)
		name = "(config)";
	if ((r = read_all(fd, bufp, lenp)) != 0) {
		if (r == RF_ERR_SYS)
			snprintf(what, sizeof(what), "cannot read: %s",
			    strerror(errno));
		else if (r == RF_ERR_LIMIT)
			snprintf(what, sizeof(what), "larger than %d MiB; "
			    "this is not a config file",
			    RF_YCONF_MAX_FILE >> 20);
		else
			snprintf(what, sizeof(what), "out of memory");
		rf_yconf_report(errfn, arg, name, what);
		return r == RF_ERR_LIMIT ? RF_ERR_CONFIG : r;
	}
	return 0;
}

int
rf_yconf_read_file(const char *path, unsigned char **bufp, size_t *lenp,
    rf_yconf_errfn *errfn, void *arg)
{
	char what[256];
	int fd, r, saved;

	*bufp = NULL;
	*lenp = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		saved = errno;
		snprintf(what, sizeof(what), "cannot open: %s",
		    strerror(saved));
		rf_yconf_report(errfn, arg, path, what);
		errno = saved;
		return RF_ERR_SYS;
	}
	r = rf_yconf_read_fd(fd, path, bufp, lenp, errfn, arg);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

/* ------------------------------------------------------------ output -- */

/* A double-quoted YAML string that the loader reads back as s. */
void
rf_yconf_put_quoted(FILE *f, const char *s)
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

/* One scalar value; comment adds "# auto" to a number given as a word. */
static void
put_scalar(FILE *f, const struct rf_yconf_key *k, const void *base,
    int comment)
{
	const void *fp = (const char *)base + k->off;
	const char *name;
	int v;

	if (type_is_string(k->type)) {
		rf_yconf_put_quoted(f, *(char *const *)fp);
		return;
	}
	v = *(const int *)fp;
	switch (k->type) {
	case RF_YC_DURATION:
		fprintf(f, "%ds", v);
		break;
	case RF_YC_BOOL:
		fputs(v ? "true" : "false", f);
		break;
	case RF_YC_ENUM:
		/* Quoted as a string if it would read as a number ("1.2"). */
		if ((name = k->en->name(v)) == NULL)
			fprintf(f, "%d", v);
		else if (name[0] >= '0' && name[0] <= '9')
			rf_yconf_put_quoted(f, name);
		else
			fputs(name, f);
		break;
	default:
		fprintf(f, "%d", v);
		if (comment && k->word != NULL &&
		    *(const int *)((const char *)base + k->wordoff))
			fprintf(f, " # %s", k->word);
		break;
	}
}

static void
put_patterns(FILE *f, const struct rf_yconf_key *k, const void *base)
{
	char *const *v = *(char **const *)((const char *)base + k->off);
	size_t n = *(const size_t *)((const char *)base + k->countoff), i;

	fputc('[', f);
	for (i = 0; i < n; i++) {
		if (i > 0)
			fputs(", ", f);
		rf_yconf_put_quoted(f, v[i]);
	}
	fputc(']', f);
}

/* A value on one line: scalars, patterns and custom types. */
static void
put_value(FILE *f, const struct rf_yconf_key *k, const void *base,
    int comment)
{
	if (k->type == RF_YC_PATTERNS)
		put_patterns(f, k, base);
	else if (k->type == RF_YC_CUSTOM)
		k->custom->put(f, k, base);
	else
		put_scalar(f, k, base, comment);
}

static void
dump_table(FILE *f, const struct rf_yconf_key *k, const void *base, int depth)
{
	const void *v = *(void *const *)((const char *)base + k->off);
	size_t n = *(const size_t *)((const char *)base + k->countoff), i;
	const struct rf_yconf_key *sk;
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
			put_value(f, sk, elem, 1);
			fputc('\n', f);
		}
	}
}

static void
dump_keys(FILE *f, const struct rf_yconf_key *keys, const char *prefix,
    const void *base, int depth)
{
	const struct rf_yconf_key *k;

	for (k = keys; k->path != NULL; k++) {
		if (!key_is_child(k->path, prefix))
			continue;
		fprintf(f, "%*s# %s\n", depth * 2, "", k->desc);
		fprintf(f, "%*s%s:", depth * 2, "", key_leaf(k->path));
		switch (k->type) {
		case RF_YC_SECTION:
			fputc('\n', f);
			dump_keys(f, keys, k->path, base, depth + 1);
			break;
		case RF_YC_TABLE:
			dump_table(f, k, base, depth);
			break;
		default:
			fputc(' ', f);
			put_value(f, k, base, 1);
			fputc('\n', f);
			break;
		}
	}
}

void
rf_yconf_dump(const struct rf_yconf_key *keys, const void *base, FILE *f)
{
	dump_keys(f, keys, "", base, 0);
}

/* A key's value as the dump prints it, for messages; NULL if no memory. */
static char *
value_text(const struct rf_yconf_key *k, const void *base)
{
	char *s = NULL;
	size_t len;
	FILE *f;

	if ((f = open_memstream(&s, &len)) == NULL)
		return NULL;
	put_value(f, k, base, 0);
	if (fclose(f) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

int
rf_yconf_restart_keys(const struct rf_yconf_key *keys, const void *old,
    const void *new, const char *program, rf_yconf_errfn *errfn, void *arg)
{
	const struct rf_yconf_key *k;
	char *a, *b, line[4096];
	int n = 0, differ;

	for (k = keys; k->path != NULL; k++) {
		if ((k->flags & RF_YC_RELOAD) || k->type == RF_YC_SECTION)
			continue;
		a = value_text(k, old);
		b = value_text(k, new);
		if (k->type == RF_YC_CUSTOM && k->custom->equal != NULL)
			differ = !k->custom->equal(k, old, new);
		else
			differ = a == NULL || b == NULL || strcmp(a, b) != 0;
		if (differ) {
			n++;
			snprintf(line, sizeof(line), "%s changed from %s to "
			    "%s; a reload cannot change it, restart "
			    "%s to apply it", k->path,
			    a != NULL ? a : "?", b != NULL ? b : "?", program);
			if (errfn != NULL)
				errfn(arg, line);
		}
		free(a);
		free(b);
	}
	return n;
}

void
rf_yconf_keep_restart_keys(const struct rf_yconf_key *keys, void *new,
    const void *old)
{
	const struct rf_yconf_key *k;
	char **np, *s;

	for (k = keys; k->path != NULL; k++) {
		if ((k->flags & RF_YC_RELOAD) || k->type == RF_YC_SECTION ||
		    k->type == RF_YC_CUSTOM)
			continue;
		RF_ASSERT(k->type != RF_YC_TABLE && k->type != RF_YC_PATTERNS);
		if (type_is_string(k->type)) {
			np = (char **)((char *)new + k->off);
			s = *(char *const *)((const char *)old + k->off);
			if (s != NULL && (s = strdup(s)) == NULL)
				fatal_f("out of memory");
			free(*np);
			*np = s;
		} else {
			*(int *)((char *)new + k->off) =
			    *(const int *)((const char *)old + k->off);
			if (k->word != NULL)
				*(int *)((char *)new + k->wordoff) =
				    *(const int *)((const char *)old +
				    k->wordoff);
		}
	}
}
