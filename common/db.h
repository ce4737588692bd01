/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The LMDB wrapper.  Two environments (PLATFORM-NOTES: one small write is
 * ~9 ms with sync on disk and ~20 us on tmpfs with MDB_NOSYNC):
 *
 *   routing   <run_dir>/routing.mdb   (tmpfs, MDB_NOSYNC, rebuilt at start)
 *     "owner"   key: device id (bytes, no NUL, <= 63)
 *               value: struct rf_owner_rec (below), native byte order,
 *               version 1.  Written by the worker that holds the device's
 *               tunnel; deleted by it on close, or by the master when that
 *               worker dies (rf_db_owner_purge_slot).
 *
 *     "status"  key: device id; value: struct rf_status_rec (below), then
 *               the device's properties as "name=value\n" lines.  What
 *               was last known of a device: group, peer, since, last
 *               seen, bytes each way.  Written by the worker holding the
 *               tunnel when it comes online and when it goes; kept across
 *               worker deaths and master restarts (not reset at start).
 *               A device is online when it has an "owner" entry.
 *
 *   registry  <state_dir>/registry.mdb (disk, synced, durable)
 *     "devices" key: device id; value: struct rf_device_rec (below), native
 *               byte order, version 1: devices added with reflectorctl
 *               besides those declared in reflector.yml (which win on a
 *               clash).  The secret is a hash (auth.h), never a secret.
 *     "users"   key: user name; value: filled by the tunnel issue
 *     "meta"    key: "schema"; value: u32 schema version
 *     "sessions" key: SHA-256 of the token (32 bytes), never the token
 *               itself, so that a copy of the registry logs nobody in;
 *               value: struct rf_session_rec (below), native byte order,
 *               version 1.  Portal sessions, one-time tokens and device
 *               sessions (kind says which), written by the worker that
 *               minted them and honoured by every worker, because the
 *               environment is shared.  A one-time token is deleted in the
 *               same write transaction that reads it (rf_db_session_take),
 *               so two workers cannot both use it.  Expired entries are
 *               refused on read and purged now and then by any worker.
 *
 * Rules (lmdb.h caveats): every process opens its own environment after
 * fork and never uses one across fork; transactions are short and never
 * held across event-loop iterations; the master runs mdb_reader_check()
 * after a worker dies.  The master keeps no environment open while it
 * forks (it opens, works and closes), so no worker inherits LMDB
 * descriptors or locks.
 */
#ifndef RF_DB_H
#define RF_DB_H

#include <stdint.h>
#include <stddef.h>

#define RF_DB_ROUTING		1
#define RF_DB_REGISTRY		2

#define RF_DB_DEVICE_ID_MAX	63
#define RF_DB_MAXREADERS	512

struct rf_db;

/* Value of an "owner" entry. */
struct rf_owner_rec {
	uint32_t	version;	/* 1 */
	uint32_t	slot;		/* owning worker slot */
	uint32_t	generation;	/* the worker's generation */
	uint32_t	pad;
	uint64_t	since;		/* unix seconds */
	char		peer[48];	/* peer address, NUL-terminated */
};

/* A device of the registry. */
struct rf_device_rec {
	uint32_t	version;	/* 1 */
	uint32_t	pad;
	uint64_t	created;	/* unix seconds */
	char		group[64];
	char		name[128];
	char		secret[192];	/* $sha256$... or $scrypt$... */
};

/* Head of a "status" value; the property lines follow it. */
struct rf_status_rec {
	uint32_t	version;	/* 1 */
	uint32_t	online;		/* 1 while its tunnel was up */
	uint64_t	since;		/* unix seconds the tunnel came up */
	uint64_t	last_seen;	/* unix seconds of the last change */
	uint64_t	bytes_in;	/* from the device, this tunnel */
	uint64_t	bytes_out;
	char		peer[48];
	char		group[64];
};

#define RF_DB_STATUS_PROPS_MAX	4096

/*
 * Opens (creating the file if need be) one environment of the given kind
 * in dir.  reset clears the routing map (master start).  The caller must
 * not have the same environment open already in this process.
 */
int	rf_db_open(struct rf_db **, const char *dir, int kind, int reset);
void	rf_db_close(struct rf_db *);

int	rf_db_owner_put(struct rf_db *, const char *device,
	    const struct rf_owner_rec *);
/* RF_ERR_NOTFOUND if no worker owns the device. */
int	rf_db_owner_get(struct rf_db *, const char *device,
	    struct rf_owner_rec *);
/* Deletes only if slot and generation still match (the owner's own close). */
int	rf_db_owner_del(struct rf_db *, const char *device, uint32_t slot,
	    uint32_t generation);
/* Deletes every entry of a slot (its worker died); *n gets the count. */
int	rf_db_owner_purge_slot(struct rf_db *, uint32_t slot, size_t *n);
/* Counts the entries; for status and tests. */
int	rf_db_owner_count(struct rf_db *, size_t *n);
int	rf_db_device_put(struct rf_db *, const char *id,
	    const struct rf_device_rec *);
/* RF_ERR_NOTFOUND if the registry has no such device. */
int	rf_db_device_get(struct rf_db *, const char *id, struct rf_device_rec *);
int	rf_db_device_del(struct rf_db *, const char *id);
/*
 * Calls fn for every device, in id order, with a copy it may keep; a
 * non-zero return stops and is returned.  fn must not use the database.
 */
typedef int rf_db_device_fn(void *arg, const char *id,
	    const struct rf_device_rec *);
int	rf_db_device_foreach(struct rf_db *, rf_db_device_fn *, void *arg);

/* Writes a device's status; props (may be NULL) is the property text. */
int	rf_db_status_put(struct rf_db *, const char *device,
	    const struct rf_status_rec *, const char *props);
/* Reads it; props (propslen bytes, may be 0) gets the property text. */
int	rf_db_status_get(struct rf_db *, const char *device,
	    struct rf_status_rec *, char *props, size_t propslen);
/* Clears reader slots of dead processes; *dead gets the count. */
int	rf_db_reader_check(struct rf_db *, int *dead);

#define RF_DB_SESSION_KEY_LEN	32	/* SHA-256 of the token */
#define RF_DB_SESSION_USER_MAX	72	/* room for a user name and NUL */
#define RF_DB_SESSION_SCOPE_MAX	64	/* "portal" or a device id, NUL */

enum rf_session_kind {
	RF_SESSION_PORTAL = 1,	/* rf_portal cookie on the portal host */
	RF_SESSION_ONETIME,	/* authorize -> device host, used once */
	RF_SESSION_DEVICE,	/* rf_session cookie on one device host */
};

/* Value of a "sessions" entry. */
struct rf_session_rec {
	uint32_t	version;	/* 1 */
	uint32_t	kind;		/* enum rf_session_kind */
	uint64_t	created;	/* unix seconds */
	uint64_t	expires;	/* unix seconds */
	char		user[RF_DB_SESSION_USER_MAX];	/* NUL-terminated */
	char		scope[RF_DB_SESSION_SCOPE_MAX];	/* NUL-terminated */
};

/* Sessions live in the registry; these fail with RF_ERR_INVAL elsewhere. */
int	rf_db_session_put(struct rf_db *,
	    const unsigned char key[RF_DB_SESSION_KEY_LEN],
	    const struct rf_session_rec *);
/* RF_ERR_NOTFOUND if absent or expired at now (unix seconds). */
int	rf_db_session_get(struct rf_db *,
	    const unsigned char key[RF_DB_SESSION_KEY_LEN], uint64_t now,
	    struct rf_session_rec *);
/* Get and delete in one write transaction: a one-time token's use. */
int	rf_db_session_take(struct rf_db *,
	    const unsigned char key[RF_DB_SESSION_KEY_LEN], uint64_t now,
	    struct rf_session_rec *);
/* RF_ERR_NOTFOUND if absent. */
int	rf_db_session_del(struct rf_db *,
	    const unsigned char key[RF_DB_SESSION_KEY_LEN]);
/* Deletes every entry expired at now; *n gets the count. */
int	rf_db_session_purge_expired(struct rf_db *, uint64_t now, size_t *n);

#endif
