/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of the LMDB wrapper: the routing map's put/get/delete rules,
 * the master's purge of a dead worker's slot, the reset at start, and the
 * reader check after a reader process was killed.
 */
#include <sys/wait.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "db.h"
#include "err.h"
#include "log.h"
#include "tap.h"

static struct rf_owner_rec
rec(uint32_t slot, uint32_t gen, const char *peer)
{
	struct rf_owner_rec r;

	memset(&r, 0, sizeof(r));
	r.slot = slot;
	r.generation = gen;
	r.since = 1700000000;
	snprintf(r.peer, sizeof(r.peer), "%s", peer);
	return r;
}

static void
test_owner(const char *dir)
{
	struct rf_owner_rec r = rec(1, 7, "192.0.2.1:4000"), got;
	char name[64];
	struct rf_db *db;
	size_t n;
	int i;

	ok(rf_db_open(&db, dir, RF_DB_ROUTING, 1) == 0, "open routing map");
	ok(rf_db_owner_get(db, "dev1", &got) == RF_ERR_NOTFOUND,
	    "unknown device is not found");
	ok(rf_db_owner_put(db, "dev1", &r) == 0, "put owner");
	ok(rf_db_owner_get(db, "dev1", &got) == 0 && got.slot == 1 &&
	    got.generation == 7 && got.version == 1 &&
	    strcmp(got.peer, "192.0.2.1:4000") == 0, "get returns what was put");
	ok(rf_db_owner_put(db, "", &r) == RF_ERR_INVAL, "empty id refused");
	memset(name, 'a', 64);
	name[63] = '\0';
	ok(rf_db_owner_put(db, name, &r) == 0, "63-byte id accepted");
	ok(rf_db_owner_del(db, "dev1", 1, 6) == RF_ERR_NOTFOUND,
	    "delete with an old generation leaves a newer tunnel alone");
	ok(rf_db_owner_del(db, "dev1", 2, 7) == RF_ERR_NOTFOUND,
	    "delete from another slot is refused");
	ok(rf_db_owner_del(db, "dev1", 1, 7) == 0, "owner deletes its entry");
	ok(rf_db_owner_get(db, "dev1", &got) == RF_ERR_NOTFOUND, "gone");

	/* Consecutive entries of one slot: the cursor must not skip any. */
	for (i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "d%02d", i);
		r = rec(i < 30 ? 3 : 4, 1, "peer");
		rf_db_owner_put(db, name, &r);
	}
	ok(rf_db_owner_purge_slot(db, 3, &n) == 0 && n == 30,
	    "purge removes every entry of slot 3");
	ok(rf_db_owner_count(db, &n) == 0 && n == 21,
	    "the other slot's 20 and the long id remain");
	rf_db_close(db);
	ok(rf_db_open(&db, dir, RF_DB_ROUTING, 0) == 0 &&
	    rf_db_owner_count(db, &n) == 0 && n == 21,
	    "entries survive a close and reopen without reset");
	rf_db_close(db);
	ok(rf_db_open(&db, dir, RF_DB_ROUTING, 1) == 0 &&
	    rf_db_owner_count(db, &n) == 0 && n == 0,
	    "reset at master start empties the map");
	rf_db_close(db);
}

/* A reader killed inside a read transaction leaves a slot that the check frees. */
static void
test_reader_check(const char *dir)
{
	struct rf_db *db;
	int p[2], dead = -1, status;
	pid_t pid;
	char c;

	/*
	 * Opened before the reader exists, as the master's is while workers
	 * run: a first opener would reset the lock file and hide the slot.
	 */
	ok(rf_db_open(&db, dir, RF_DB_ROUTING, 0) == 0, "open");
	if (pipe(p) == -1)
		abort();
	if ((pid = fork()) == 0) {
		char path[256];
		MDB_env *env;
		MDB_txn *txn;

		/* Like a worker killed in the middle of a lookup. */
		snprintf(path, sizeof(path), "%s/routing.mdb", dir);
		if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 8) ||
		    mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOTLS, 0640) ||
		    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0)
			_exit(1);
		if (write(p[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	ok(read(p[0], &c, 1) == 1, "child opened the map");
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	ok(rf_db_reader_check(db, &dead) == 0 && dead == 1,
	    "reader check clears the killed process's slot");
	ok(rf_db_reader_check(db, &dead) == 0 && dead == 0,
	    "a second check finds nothing");
	rf_db_close(db);
	close(p[0]);
}

static void
test_status(const char *dir)
{
	struct rf_status_rec rec, got;
	char props[64], big[RF_DB_STATUS_PROPS_MAX + 100];
	struct rf_db *db;

	ok(rf_db_open(&db, dir, RF_DB_ROUTING, 1) == 0, "open for status");
	memset(&rec, 0, sizeof(rec));
	rec.online = 1;
	rec.since = 1700000000;
	rec.bytes_in = 42;
	snprintf(rec.peer, sizeof(rec.peer), "192.0.2.7:5000");
	snprintf(rec.group, sizeof(rec.group), "plant");
	ok(rf_db_status_get(db, "dev1", &got, props, sizeof(props)) ==
	    RF_ERR_NOTFOUND, "no status before the first connect");
	ok(rf_db_status_put(db, "dev1", &rec, "name=Boiler\nhttpPort=80\n") ==
	    0, "status written");
	ok(rf_db_status_get(db, "dev1", &got, props, sizeof(props)) == 0 &&
	    got.online == 1 && got.bytes_in == 42 && got.version == 1 &&
	    strcmp(got.peer, "192.0.2.7:5000") == 0 &&
	    strcmp(got.group, "plant") == 0, "status read back");
	is_str(props, "name=Boiler\nhttpPort=80\n", "properties read back");
	ok(rf_db_status_get(db, "dev1", &got, props, 5) == 0 &&
	    strcmp(props, "name") == 0, "properties cut to the caller's room");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ok(rf_db_status_put(db, "dev1", &rec, big) == 0, "long properties "
	    "are cut, not refused");
	rf_db_close(db);
	ok(rf_db_open(&db, dir, RF_DB_ROUTING, 1) == 0 &&
	    rf_db_status_get(db, "dev1", &got, NULL, 0) == 0,
	    "status survives the routing map's reset at master start");
	rf_db_close(db);
}

static void
test_registry(const char *dir)
{
	struct rf_db *db;

	ok(rf_db_open(&db, dir, RF_DB_REGISTRY, 0) == 0, "open registry");
	rf_db_close(db);
	ok(rf_db_open(&db, "/nonexistent/dir", RF_DB_REGISTRY, 0) == RF_ERR_DB,
	    "a missing directory is an error, not a crash");
}

int
main(void)
{
	char dir[] = "/tmp/rf-db-test.XXXXXX";
	char cmd[128];

	rf_log_init("db-test");
	rf_log_set_level(RF_LOG_QUIET);
	if (mkdtemp(dir) == NULL)
		abort();
	test_owner(dir);
	test_reader_check(dir);
	test_status(dir);
	test_registry(dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		diag("cannot remove %s", dir);
	return done_testing();
}
