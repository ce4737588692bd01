/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The LMDB wrapper: opening the two environments with the right flags,
 * the routing map's operations and the registry's sessions.  The key
 * schema is in db.h.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "db.h"
#include "err.h"
#include "log.h"

#define RF_DB_ROUTING_MAPSIZE	(256UL * 1024 * 1024)
#define RF_DB_REGISTRY_MAPSIZE	(1024UL * 1024 * 1024)
#define RF_DB_SCHEMA_VERSION	1

struct rf_db {
	MDB_env	*env;
	MDB_dbi	 owner;		/* routing */
	MDB_dbi	 status;	/* routing */
	MDB_dbi	 devices;	/* registry */
	MDB_dbi	 users;		/* registry */
	MDB_dbi	 meta;		/* registry */
	MDB_dbi	 sessions;	/* registry */
	int	 kind;
};

static int
db_err(const char *what, int rc)
{
	error("LMDB %s: %s", what, mdb_strerror(rc));
	return RF_ERR_DB;
}

static int
open_dbis(struct rf_db *db, int reset)
{
	MDB_txn *txn;
	uint32_t v = RF_DB_SCHEMA_VERSION;
	MDB_val k = { 6, "schema" }, d = { sizeof(v), &v };
	int rc;

	if ((rc = mdb_txn_begin(db->env, NULL, 0, &txn)) != 0)
		return db_err("txn_begin", rc);
	if (db->kind == RF_DB_ROUTING) {
		rc = mdb_dbi_open(txn, "owner", MDB_CREATE, &db->owner);
		if (rc == 0 && reset)
			rc = mdb_drop(txn, db->owner, 0);
		if (rc == 0)
			rc = mdb_dbi_open(txn, "status", MDB_CREATE,
			    &db->status);
	} else {
		rc = mdb_dbi_open(txn, "devices", MDB_CREATE, &db->devices);
		if (rc == 0)
			rc = mdb_dbi_open(txn, "users", MDB_CREATE, &db->users);
		if (rc == 0)
			rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &db->meta);
		if (rc == 0)
			rc = mdb_dbi_open(txn, "sessions", MDB_CREATE,
			    &db->sessions);
		if (rc == 0)
			rc = mdb_put(txn, db->meta, &k, &d, 0);
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
		return db_err("open databases", rc);
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return db_err("commit", rc);
	return 0;
}

int
rf_db_open(struct rf_db **dbp, const char *dir, int kind, int reset)
{
	char path[PATH_MAX];
	struct rf_db *db;
	unsigned int flags = MDB_NOSUBDIR | MDB_NOTLS;
	int rc, r;

	*dbp = NULL;
	if ((db = calloc(1, sizeof(*db))) == NULL)
		return RF_ERR_NOMEM;
	db->kind = kind;
	if (snprintf(path, sizeof(path), "%s/%s", dir, kind == RF_DB_ROUTING ?
	    "routing.mdb" : "registry.mdb") >= (int)sizeof(path)) {
		free(db);
		return RF_ERR_INVAL;
	}
	/*
	 * The routing map is rebuilt at every start and rewritten on every
	 * connect: durability buys nothing and a sync costs milliseconds.
	 */
	if (kind == RF_DB_ROUTING)
		flags |= MDB_NOSYNC;
	if ((rc = mdb_env_create(&db->env)) != 0 ||
	    (rc = mdb_env_set_maxreaders(db->env, RF_DB_MAXREADERS)) != 0 ||
	    (rc = mdb_env_set_maxdbs(db->env, 8)) != 0 ||
	    (rc = mdb_env_set_mapsize(db->env, kind == RF_DB_ROUTING ?
	    RF_DB_ROUTING_MAPSIZE : RF_DB_REGISTRY_MAPSIZE)) != 0 ||
	    (rc = mdb_env_open(db->env, path, flags, 0640)) != 0) {
		error("LMDB open %s: %s", path, mdb_strerror(rc));
		goto fail;
	}
	if ((r = open_dbis(db, reset)) != 0)
		goto fail;
	*dbp = db;
	return 0;
fail:
	if (db->env != NULL)
		mdb_env_close(db->env);
	free(db);
	return RF_ERR_DB;
}

void
rf_db_close(struct rf_db *db)
{
	if (db == NULL)
		return;
	mdb_env_close(db->env);
	free(db);
}

static int
device_key(const char *device, MDB_val *k)
{
	size_t len = strlen(device);

	if (len == 0 || len > RF_DB_DEVICE_ID_MAX)
		return RF_ERR_INVAL;
	k->mv_size = len;
	k->mv_data = (void *)device;
	return 0;
}

int
rf_db_owner_put(struct rf_db *db, const char *device,
    const struct rf_owner_rec *rec)
{
	struct rf_owner_rec v = *rec;
	MDB_val k, d = { sizeof(v), &v };
	MDB_txn *txn;
	int rc;

	if (device_key(device, &k) != 0)
		return RF_ERR_INVAL;
	v.version = 1;
	v.peer[sizeof(v.peer) - 1] = '\0';
	if ((rc = mdb_txn_begin(db->env, NULL, 0, &txn)) != 0)
		return db_err("txn_begin", rc);
	if ((rc = mdb_put(txn, db->owner, &k, &d, 0)) != 0) {
		mdb_txn_abort(txn);
		return db_err("put owner", rc);
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return db_err("commit", rc);
	return 0;
}

int
rf_db_owner_get(struct rf_db *db, const char *device, struct rf_owner_rec *rec)
{
	MDB_val k, d;
	MDB_txn *txn;
	int rc, r = 0;

	memset(rec, 0, sizeof(*rec));
	if (device_key(device, &k) != 0)
		return RF_ERR_INVAL;
	if ((rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn)) != 0)
		return db_err("txn_begin", rc);
	rc = mdb_get(txn, db->owner, &k, &d);
	if (rc == MDB_NOTFOUND)
		r = RF_ERR_NOTFOUND;
	else if (rc != 0)
		r = db_err("get owner", rc);
	else if (d.mv_size != sizeof(*rec))
		r = RF_ERR_DB;	/* another schema version wrote it */
	else
		memcpy(rec, d.mv_data, sizeof(*rec));
	/* Copied out: the read transaction ends at once (PLATFORM-NOTES). */
	mdb_txn_abort(txn);
	return r;
}

int
rf_db_owner_del(struct rf_db *db, const char *device, uint32_t slot,
    uint32_t generation)
{
	struct rf_owner_rec cur;
	MDB_val k, d;
	MDB_txn *txn;
	int rc, r = 0;

	if (device_key(device, &k) != 0)
		return RF_ERR_INVAL;
	if ((rc = mdb_txn_begin(db->env, NULL, 0, &txn)) != 0)
		return db_err("txn_begin", rc);
	rc = mdb_get(txn, db->owner, &k, &d);
	if (rc == MDB_NOTFOUND || (rc == 0 && d.mv_size != sizeof(cur))) {
		r = RF_ERR_NOTFOUND;
		goto out;
	}
	if (rc != 0) {
		r = db_err("get owner", rc);
		goto out;
	}
	memcpy(&cur, d.mv_data, sizeof(cur));
	/* A newer tunnel of the same device took over: leave it alone. */
	if (cur.slot != slot || cur.generation != generation) {
		r = RF_ERR_NOTFOUND;
		goto out;
	}
	if ((rc = mdb_del(txn, db->owner, &k, NULL)) != 0) {
		r = db_err("del owner", rc);
		goto out;
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return db_err("commit", rc);
	return 0;
out:
	mdb_txn_abort(txn);
	return r;
}

int
rf_db_owner_purge_slot(struct rf_db *db, uint32_t slot, size_t *n)
{
	struct rf_owner_rec cur;
	MDB_cursor *c;
	MDB_val k, d;
	MDB_txn *txn;
	int rc;

	*n = 0;
	if ((rc = mdb_txn_begin(db->env, NULL, 0, &txn)) != 0)
		return db_err("txn_begin", rc);
	if ((rc = mdb_cursor_open(txn, db->owner, &c)) != 0) {
		mdb_txn_abort(txn);
		return db_err("cursor_open", rc);
	}
	while ((rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) == 0) {
		if (d.mv_size == sizeof(cur)) {
			memcpy(&cur, d.mv_data, sizeof(cur));
			if (cur.slot != slot)
				continue;
		}
		/* Ours, or of a layout we cannot read: either way stale. */
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
		(*n)++;
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		*n = 0;
		return db_err("purge", rc);
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		*n = 0;
		return db_err("commit", rc);
	}
	return 0;
}

int
rf_db_owner_count(struct rf_db *db, size_t *n)
{
	MDB_stat st;
	MDB_txn *txn;
	int rc;

	*n = 0;
	if ((rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn)) != 0)
		return db_err("txn_begin", rc);
	rc = mdb_stat(txn, db->owner, &st);
	mdb_txn_abort(txn);
	if (rc != 0)
		return db_err("stat", rc);
	*n = st.ms_entries;
	return 0;
}

int
rf_db_device_put(struct rf_db *db, const char *id,
    const struct rf_device_rec *rec)
{
	struct rf_device_rec v = *rec;
	MDB_val k, d = { sizeof(v), &v };
	MDB_txn *txn;
	int rc;

	if (device_key(id, &k) != 0)
		return RF_ERR_INVAL;
	v.version = 1;
	v.group[sizeof(v.group) - 1] = '\0';
	v.name[sizeof(v.name) - 1] = '\0';
	v.secret[sizeof(v.secret) - 1] = '\0';
	if ((rc = mdb_txn_begin(db->env, NULL, 0, &txn)) != 0)
		return db_err("txn_begin", rc);
	if ((rc = mdb_put(txn, db->devices, &k, &d, 0)) != 0) {
		mdb_txn_abort(txn);
		return db_err("put device", rc);
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return db_err("commit", rc);
	return 0;
}

int
rf_db_device_get(struct rf_db *db, const char *id, struct rf_device_rec *rec)
{
	MDB_val k, d;
	MDB_txn *txn;
	int rc, r = 0;

	memset(rec, 0, sizeof(*rec));
	if (device_key(id, &k) != 0)
		return RF_ERR_INVAL;
	if ((rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn)) != 0)
		return db_err("txn_begin", rc);
	rc = mdb_get(txn, db->devices, &k, &d);
	if (rc == MDB_NOTFOUND)
		r = RF_ERR_NOTFOUND;
	else if (rc != 0)
		r = db_err("get device", rc);
	else if (d.mv_size != sizeof(*rec))
		r = RF_ERR_DB;
	else
		memcpy(rec, d.mv_data, sizeof(*rec));
	mdb_txn_abort(txn);
	return r;
}

int
rf_db_device_del(struct rf_db *db, const char *id)
{
	MDB_val k;
	MDB_txn *txn;
	int rc;

	if (device_key(id, &k) != 0)
		return RF_ERR_INVAL;
	if ((rc = mdb_txn_begin(db->env, NULL, 0, &txn)) != 0)
		return db_err("txn_begin", rc);
	rc = mdb_del(txn, db->devices, &k, NULL);
	if (rc == MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return RF_ERR_NOTFOUND;
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
		return db_err("del device", rc);
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return db_err("commit", rc);
	return 0;
}

int
rf_db_device_foreach(struct rf_db *db, rf_db_device_fn *fn, void *arg)
{
	char id[RF_DB_DEVICE_ID_MAX + 1];
	struct rf_device_rec rec;
	MDB_cursor *c;
	MDB_val k, d;
	MDB_txn *txn;
	int rc, r = 0;

	if ((rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn)) != 0)
		return db_err("txn_begin", rc);
	if ((rc = mdb_cursor_open(txn, db->devices, &c)) != 0) {
		mdb_txn_abort(txn);
		return db_err("cursor_open", rc);
	}
	while (r == 0 && mdb_cursor_get(c, &k, &d, MDB_NEXT) == 0) {
		if (k.mv_size > RF_DB_DEVICE_ID_MAX || d.mv_size !=
		    sizeof(rec))
			continue;	/* not ours to read: skip, do not fail */
		memcpy(id, k.mv_data, k.mv_size);
		id[k.mv_size] = '\0';
		memcpy(&rec, d.mv_data, sizeof(rec));
		r = fn(arg, id, &rec);
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	return r;
}

int
rf_db_status_put(struct rf_db *db, const char *device,
    const struct rf_status_rec *rec, const char *props)
{
	size_t plen = props != NULL ? strlen(props) : 0;
	unsigned char buf[sizeof(*rec) + RF_DB_STATUS_PROPS_MAX];
	struct rf_status_rec v = *rec;
	MDB_val k, d;
	MDB_txn *txn;
	int rc;

	if (device_key(device, &k) != 0)
		return RF_ERR_INVAL;
	if (plen > RF_DB_STATUS_PROPS_MAX)
		plen = RF_DB_STATUS_PROPS_MAX;	/* a status, not an archive */
	v.version = 1;
	v.peer[sizeof(v.peer) - 1] = '\0';
	v.group[sizeof(v.group) - 1] = '\0';
	memcpy(buf, &v, sizeof(v));
	if (plen > 0)
		memcpy(buf + sizeof(v), props, plen);
	d.mv_size = sizeof(v) + plen;
	d.mv_data = buf;
	if ((rc = mdb_txn_begin(db->env, NULL, 0, &txn)) != 0)
		return db_err("txn_begin", rc);
	if ((rc = mdb_put(txn, db->status, &k, &d, 0)) != 0) {
		mdb_txn_abort(txn);
		return db_err("put status", rc);
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return db_err("commit", rc);
	return 0;
}

int
rf_db_status_get(struct rf_db *db, const char *device,
    struct rf_status_rec *rec, char *props, size_t propslen)
{
	MDB_val k, d;
	MDB_txn *txn;
	size_t n;
	int rc, r = 0;

	memset(rec, 0, sizeof(*rec));
	if (propslen > 0)
		props[0] = '\0';
	if (device_key(device, &k) != 0)
		return RF_ERR_INVAL;
	if ((rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn)) != 0)
		return db_err("txn_begin", rc);
	rc = mdb_get(txn, db->status, &k, &d);
	if (rc == MDB_NOTFOUND)
		r = RF_ERR_NOTFOUND;
	else if (rc != 0)
		r = db_err("get status", rc);
	else if (d.mv_size < sizeof(*rec))
		r = RF_ERR_DB;
	else {
		memcpy(rec, d.mv_data, sizeof(*rec));
		n = d.mv_size - sizeof(*rec);
		if (propslen > 0) {
			if (n >= propslen)
				n = propslen - 1;
			memcpy(props, (const char *)d.mv_data + sizeof(*rec), n);
			props[n] = '\0';
		}
	}
	mdb_txn_abort(txn);
	return r;
}

int
rf_db_reader_check(struct rf_db *db, int *dead)
{
	int rc;

	*dead = 0;
	if ((rc = mdb_reader_check(db->env, dead)) != 0)
		return db_err("reader_check", rc);
	return 0;
}

/*
 * Sessions.  A record of another size was written by another schema
 * version: it is treated as absent (and purged), never half-read.
 */
static int
session_read(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, uint64_t now,
    struct rf_session_rec *rec)
{
	MDB_val d;
	int rc;

	rc = mdb_get(txn, dbi, k, &d);
	if (rc == MDB_NOTFOUND)
		return RF_ERR_NOTFOUND;
	if (rc != 0)
		return db_err("get session", rc);
	if (d.mv_size != sizeof(*rec))
		return RF_ERR_NOTFOUND;
	memcpy(rec, d.mv_data, sizeof(*rec));
	rec->user[sizeof(rec->user) - 1] = '\0';
	rec->scope[sizeof(rec->scope) - 1] = '\0';
	if (rec->version != 1 || rec->expires <= now) {
		memset(rec, 0, sizeof(*rec));
		return RF_ERR_NOTFOUND;
	}
	return 0;
}

int
rf_db_session_put(struct rf_db *db,
    const unsigned char key[RF_DB_SESSION_KEY_LEN],
    const struct rf_session_rec *rec)
{
	struct rf_session_rec v = *rec;
	MDB_val k = { RF_DB_SESSION_KEY_LEN, (void *)key };
	MDB_val d = { sizeof(v), &v };
	MDB_txn *txn;
	int rc;

	if (db->kind != RF_DB_REGISTRY)
		return RF_ERR_INVAL;
	v.version = 1;
	v.user[sizeof(v.user) - 1] = '\0';
	v.scope[sizeof(v.scope) - 1] = '\0';
	if ((rc = mdb_txn_begin(db->env, NULL, 0, &txn)) != 0)
		return db_err("txn_begin", rc);
	if ((rc = mdb_put(txn, db->sessions, &k, &d, 0)) != 0) {
		mdb_txn_abort(txn);
		return db_err("put session", rc);
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return db_err("commit", rc);
	return 0;
}

int
rf_db_session_get(struct rf_db *db,
    const unsigned char key[RF_DB_SESSION_KEY_LEN], uint64_t now,
    struct rf_session_rec *rec)
{
	MDB_val k = { RF_DB_SESSION_KEY_LEN, (void *)key };
	MDB_txn *txn;
	int rc, r;

	memset(rec, 0, sizeof(*rec));
	if (db->kind != RF_DB_REGISTRY)
		return RF_ERR_INVAL;
	if ((rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn)) != 0)
		return db_err("txn_begin", rc);
	r = session_read(txn, db->sessions, &k, now, rec);
	mdb_txn_abort(txn);
	return r;
}

int
rf_db_session_take(struct rf_db *db,
    const unsigned char key[RF_DB_SESSION_KEY_LEN], uint64_t now,
    struct rf_session_rec *rec)
{
	MDB_val k = { RF_DB_SESSION_KEY_LEN, (void *)key };
	MDB_txn *txn;
	int rc, r;

	memset(rec, 0, sizeof(*rec));
	if (db->kind != RF_DB_REGISTRY)
		return RF_ERR_INVAL;
	/*
	 * One write transaction: LMDB has one writer at a time across all
	 * processes, so of two workers given the same token only the first
	 * finds it.
	 */
	if ((rc = mdb_txn_begin(db->env, NULL, 0, &txn)) != 0)
		return db_err("txn_begin", rc);
	r = session_read(txn, db->sessions, &k, now, rec);
	if (r != 0 && r != RF_ERR_NOTFOUND)
		goto out;
	/* Expired or of another layout: delete it all the same. */
	rc = mdb_del(txn, db->sessions, &k, NULL);
	if (rc == MDB_NOTFOUND)
		goto out;
	if (rc != 0) {
		r = db_err("del session", rc);
		goto out;
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		memset(rec, 0, sizeof(*rec));
		return db_err("commit", rc);
	}
	return r;
out:
	mdb_txn_abort(txn);
	if (r != 0)
		memset(rec, 0, sizeof(*rec));
	return r;
}

int
rf_db_session_del(struct rf_db *db,
    const unsigned char key[RF_DB_SESSION_KEY_LEN])
{
	MDB_val k = { RF_DB_SESSION_KEY_LEN, (void *)key };
	MDB_txn *txn;
	int rc;

	if (db->kind != RF_DB_REGISTRY)
		return RF_ERR_INVAL;
	if ((rc = mdb_txn_begin(db->env, NULL, 0, &txn)) != 0)
		return db_err("txn_begin", rc);
	rc = mdb_del(txn, db->sessions, &k, NULL);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc == MDB_NOTFOUND ? RF_ERR_NOTFOUND :
		    db_err("del session", rc);
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return db_err("commit", rc);
	return 0;
}

int
rf_db_session_purge_expired(struct rf_db *db, uint64_t now, size_t *n)
{
	struct rf_session_rec cur;
	MDB_cursor *c;
	MDB_val k, d;
	MDB_txn *txn;
	int rc;

	*n = 0;
	if (db->kind != RF_DB_REGISTRY)
		return RF_ERR_INVAL;
	if ((rc = mdb_txn_begin(db->env, NULL, 0, &txn)) != 0)
		return db_err("txn_begin", rc);
	if ((rc = mdb_cursor_open(txn, db->sessions, &c)) != 0) {
		mdb_txn_abort(txn);
		return db_err("cursor_open", rc);
	}
	while ((rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) == 0) {
		if (d.mv_size == sizeof(cur)) {
			memcpy(&cur, d.mv_data, sizeof(cur));
			if (cur.version == 1 && cur.expires > now)
				continue;
		}
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
		(*n)++;
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		*n = 0;
		return db_err("purge sessions", rc);
	}
	if (*n == 0) {
		mdb_txn_abort(txn);	/* nothing to sync */
		return 0;
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		*n = 0;
		return db_err("commit", rc);
	}
	return 0;
}
