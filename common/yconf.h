/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The schema-driven YAML config engine shared by every program (reflectord's
 * reflector.yml in conf.c, the agent's reflector-agent.yml).  A program
 * declares its keys once in a table of struct rf_yconf_key: type, default
 * (parsed by the same code as the file, so a bad default fails every load),
 * range, reload rule, and where in its own struct the value goes.  The
 * engine loads, reports every error as "file:line:column: what", suggests
 * the key that was meant, dumps the result as YAML that loads back, and
 * compares two loads for the keys a reload cannot change.
 *
 * Types the engine does not know are written with struct rf_yconf_custom:
 * the hooks get the YAML node and the helpers below to report errors.
 */
#ifndef RF_YCONF_H
#define RF_YCONF_H

#include <stddef.h>
#include <stdio.h>

#include <yaml.h>

#define RF_YCONF_MAX_KEYS	48	/* entries in one key table */
#define RF_YCONF_MAX_ERRORS	20	/* then "too many errors" */
#define RF_YCONF_MAX_FILE	(16 * 1024 * 1024)

enum rf_yconf_type {
	RF_YC_SECTION,		/* a mapping of the keys named path.* */
	RF_YC_STRING,		/* char * */
	RF_YC_PATH,		/* char *, kept as written */
	RF_YC_INT,		/* int in [min, max]; see word */
	RF_YC_BOOL,		/* int 0 or 1: true/false, yes/no, on/off */
	RF_YC_ENUM,		/* int, through en */
	RF_YC_DURATION,		/* int seconds: 30, 30s, 5m, 1h */
	RF_YC_SIZE,		/* int bytes: 8192, 8k, 1m */
	RF_YC_HOSTNAME,		/* char *, a lowercase DNS name */
	RF_YC_LABEL,		/* char *, a DNS label (a device id) */
	RF_YC_USERNAME,		/* char *, [A-Za-z0-9._@-]{1,64} */
	RF_YC_PATTERNS,		/* char **, device id patterns, + count */
	RF_YC_TABLE,		/* a list of mappings with the keys in sub */
	RF_YC_CUSTOM,		/* through custom */
};

#define RF_YC_RELOAD	0x01	/* a reload may change it */
#define RF_YC_REQUIRED	0x02	/* every entry of a list must set it */
#define RF_YC_UNSET	0x04	/* an empty value means "not set" (NULL) */
#define RF_YC_UNIQUE	0x08	/* no two entries of a list may share it */

struct rf_yconf_pos {
	unsigned long	 line;		/* 1-based; 0: not from the file */
	unsigned long	 col;
};

/* The loader's state, passed to custom hooks; see the helpers below. */
struct rf_yconf_ctx;
struct rf_yconf_key;

/* Receives one complete error line ("file:line:col: what is wrong"). */
typedef void rf_yconf_errfn(void *arg, const char *line);

struct rf_yconf_enum {
	const char	*allowed;	/* for "'x' must be <allowed>" */
	int		(*from_name)(const char *, int *);
	const char	*(*name)(int);
};

/*
 * A type of the program's own.  set gets the value node as written; it
 * reports errors with rf_yconf_error.  set_default may be NULL (nothing by
 * default).  put writes the value on one line, as YAML that set accepts.
 * equal may be NULL (the put texts are compared).  free releases what set
 * stored (NULL: nothing to free, or the program frees it itself).
 */
struct rf_yconf_custom {
	const char	*what;		/* "a list of addresses" */
	void		(*set)(struct rf_yconf_ctx *,
			    const struct rf_yconf_key *, const char *name,
			    yaml_node_t *, void *base);
	void		(*set_default)(struct rf_yconf_ctx *,
			    const struct rf_yconf_key *, void *base);
	void		(*put)(FILE *, const struct rf_yconf_key *,
			    const void *base);
	int		(*equal)(const struct rf_yconf_key *, const void *a,
			    const void *b);
	void		(*free)(const struct rf_yconf_key *, void *base);
};

struct rf_yconf_key {
	const char		*path;	/* dotted: "limits.header_max" */
	enum rf_yconf_type	 type;
	int			 flags;	/* RF_YC_* */
	const char		*def;	/* as in a file; NULL: none */
	long long		 min, max;
	const struct rf_yconf_enum *en;	/* RF_YC_ENUM */
	const struct rf_yconf_key *sub;	/* RF_YC_TABLE: the keys of an entry */
	size_t			 elemsize; /* RF_YC_TABLE: size of an entry */
	size_t			 off;	/* the field in the struct filled */
	size_t			 countoff; /* RF_YC_TABLE, _PATTERNS: size_t */
	/* What the value must be, in messages, instead of the type's. */
	const char		*what;
	/*
	 * RF_YC_INT: a word also accepted ("auto"): its value comes from
	 * word_value, and the int at wordoff says whether it was given.
	 */
	const char		*word;
	long long		(*word_value)(const struct rf_yconf_key *);
	size_t			 wordoff;
	/* String types: NULL if s is good, else what it must be. */
	const char		*(*check)(const char *s);
	const struct rf_yconf_custom *custom;	/* RF_YC_CUSTOM */
	int			 arg;	/* for the custom hooks */
	const char		*desc;	/* one line, printed by the dump */
};

/* Where each key was set: "tls.key", "devices.3.secret" -> line:col. */
struct rf_yconf_where {
	char			*key;
	struct rf_yconf_pos	 pos;
};

struct rf_yconf_wheres {
	struct rf_yconf_where	*v;
	size_t			 n;
	size_t			 alloc;
};

struct rf_yconf_schema {
	const struct rf_yconf_key *keys;
	/* A key for "the file must be a mapping of keys such as 'x:'". */
	const char		*example;
	/* After the walk, unless loading stopped: checks across keys. */
	void			(*finish)(struct rf_yconf_ctx *, void *base);
};

/*
 * Loads YAML text into base (zeroed by the caller) through the schema:
 * defaults first, then the file.  Every error goes to errfn.  Returns 0,
 * RF_ERR_CONFIG or RF_ERR_NOMEM; base may be half-filled on error and is
 * released with rf_yconf_free_fields (and the program's own fields).
 * where (may be NULL) records the position of every key set.  user is
 * for the hooks (rf_yconf_user).
 */
int	rf_yconf_load_mem(const struct rf_yconf_schema *, const void *buf,
	    size_t len, const char *name, void *base,
	    struct rf_yconf_wheres *where, void *user, rf_yconf_errfn *,
	    void *arg);

/*
 * Reads a whole file, or all of fd from offset 0 (pread, so that a memfd
 * just written reads whole; read(2) for pipes).  Failures are reported to
 * errfn as "name: cannot open: ..." and return RF_ERR_SYS, RF_ERR_NOMEM or
 * RF_ERR_CONFIG (larger than RF_YCONF_MAX_FILE).  *buf is malloc'ed.
 */
int	rf_yconf_read_file(const char *path, unsigned char **buf,
	    size_t *len, rf_yconf_errfn *, void *arg);
int	rf_yconf_read_fd(int fd, const char *name, unsigned char **buf,
	    size_t *len, rf_yconf_errfn *, void *arg);
/* "name: what" to errfn, for failures outside the file's text. */
void	rf_yconf_report(rf_yconf_errfn *, void *arg, const char *name,
	    const char *what);

void	rf_yconf_free_fields(const struct rf_yconf_key *, void *base);
void	rf_yconf_wheres_free(struct rf_yconf_wheres *);
/* "file:line:col" where key was set, or "file" when it took its default. */
void	rf_yconf_where(const struct rf_yconf_wheres *, const char *file,
	    const char *key, char *buf, size_t len);

/* Every key with its description as a comment and its value, as YAML. */
void	rf_yconf_dump(const struct rf_yconf_key *, const void *base, FILE *);
/*
 * For every key without RF_YC_RELOAD whose value differs, passes "<key>
 * changed from A to B; a reload cannot change it, restart <program> to
 * apply it" to errfn; returns the count.
 */
int	rf_yconf_restart_keys(const struct rf_yconf_key *, const void *old,
	    const void *new, const char *program, rf_yconf_errfn *, void *arg);
/*
 * Copies the running values of the keys without RF_YC_RELOAD from old
 * into new (strings and numbers; custom types are the program's job).
 * Out of memory is fatal: new must never hold half of each.
 */
void	rf_yconf_keep_restart_keys(const struct rf_yconf_key *, void *new,
	    const void *old);

/* The log.level, log.target and log.facility values every program takes. */
extern const struct rf_yconf_enum rf_yconf_log_level_enum;
extern const struct rf_yconf_enum rf_yconf_log_target_enum;
extern const struct rf_yconf_enum rf_yconf_log_facility_enum;

/* --- For custom hooks and finish functions. --- */

void	rf_yconf_error(struct rf_yconf_ctx *, const struct rf_yconf_pos *,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void	rf_yconf_nomem(struct rf_yconf_ctx *);
/* 1 once loading stops (too many errors, out of memory). */
int	rf_yconf_stopped(const struct rf_yconf_ctx *);
/* The number of errors reported so far. */
int	rf_yconf_nerrors(const struct rf_yconf_ctx *);
void	*rf_yconf_user(const struct rf_yconf_ctx *);
void	rf_yconf_where_add(struct rf_yconf_ctx *, const char *key,
	    const struct rf_yconf_pos *);
yaml_node_t *rf_yconf_node(struct rf_yconf_ctx *, int id);
struct rf_yconf_pos rf_yconf_node_pos(const yaml_node_t *);
int	rf_yconf_node_is_null(const yaml_node_t *);
const char *rf_yconf_node_kind(const yaml_node_t *);
/* "'name' must be <what k wants>, not a list" */
void	rf_yconf_type_error(struct rf_yconf_ctx *, const struct rf_yconf_key *,
	    const char *name, const yaml_node_t *);
/*
 * The text of a scalar node ("" for a null); an error for other nodes and
 * for control characters, and -1.
 */
int	rf_yconf_scalar_text(struct rf_yconf_ctx *, const struct rf_yconf_key *,
	    const char *name, const yaml_node_t *, const char **);
/* s made safe to print in a message: at most 40 bytes, no controls. */
const char *rf_yconf_show(const char *s, char *buf, size_t len);
/* An optional '-' and digits, capped far outside any range; NULL if none. */
const char *rf_yconf_parse_digits(const char *s, long long *);
/* A double-quoted YAML string that loads back as s. */
void	rf_yconf_put_quoted(FILE *, const char *s);
/* 1 for a DNS label, a lowercase DNS name. */
int	rf_yconf_is_label(const char *s, size_t len);
int	rf_yconf_is_hostname(const char *s);

#endif
