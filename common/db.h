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
 *   registry  <state_dir>/registry.mdb (disk, synced, durable)
 *     "devices" key: device id; value: filled by the tunnel issue
 *     "users"   key: user name; value: filled by the tunnel issue
 *     "meta"    key: "schema"; value: u32 schema version
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
/* Clears reader slots of dead processes; *dead gets the count. */
int	rf_db_reader_check(struct rf_db *, int *dead);

#endif
