/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of the reflector.yml loader (common/conf.c): every key type,
 * every class of error with its exact line and column, the defaults, the
 * round trip through rf_conf_dump, rf_conf_restart_keys, rf_conf_where,
 * and that the shipped conf/reflector.yml loads.  RF_TOP names the source
 * tree (default ".").
 */
#define _GNU_SOURCE		/* memfd_create */
#include <sys/mman.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "conf.h"
#include "err.h"
#include "log.h"
#include "tap.h"

#define NAME	"t.yml"

static char	errs[16384];	/* the error lines of the last load */
static int	nerrs;

static void
collect(void *arg, const char *line)
{
	size_t len = strlen(errs);

	(void)arg;
	nerrs++;
	snprintf(errs + len, sizeof(errs) - len, "%s\n", line);
}

static int
load(const char *yaml, struct rf_conf **out)
{
	errs[0] = '\0';
	nerrs = 0;
	return rf_conf_load_mem(yaml, strlen(yaml), NAME, out, collect, NULL);
}

/* The first error line of the last load, without its newline. */
static const char *
first_err(void)
{
	static char line[2048];
	size_t n = strcspn(errs, "\n");

	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	memcpy(line, errs, n);
	line[n] = '\0';
	return line;
}

/* yaml must fail with want as its first (and only) error line. */
static void
bad(const char *yaml, const char *want, const char *desc)
{
	struct rf_conf *c = (struct rf_conf *)1;
	int r = load(yaml, &c);

	if (!ok(r == RF_ERR_CONFIG && c == NULL && nerrs == 1 &&
	    strcmp(first_err(), want) == 0, "%s", desc)) {
		diag("r=%d, %d errors:\n%s", r, nerrs, errs);
		diag("wanted: %s", want);
	}
	if (c != NULL && c != (struct rf_conf *)1)
		rf_conf_free(c);
}

/* yaml must fail, with want among the error lines. */
static void
bad_has(const char *yaml, const char *want, const char *desc)
{
	struct rf_conf *c = NULL;
	int r = load(yaml, &c);

	if (!ok(r == RF_ERR_CONFIG && c == NULL && strstr(errs, want) != NULL,
	    "%s", desc))
		diag("r=%d, errors:\n%swanted: %s", r, errs, want);
	rf_conf_free(c);
}

/* Loads yaml that must be valid; NULL (and a failed test) if it is not. */
static struct rf_conf *
good(const char *yaml, const char *desc)
{
	struct rf_conf *c = NULL;
	int r = load(yaml, &c);

	if (!ok(r == 0 && c != NULL && nerrs == 0, "%s", desc))
		diag("r=%d, errors:\n%s", r, errs);
	return c;
}

static int
port_of(const struct rf_conf_listen *l)
{
	if (l->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&l->ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)&l->ss)->sin_port);
}

static int
expected_auto_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}

static void
test_defaults(void)
{
	struct rf_conf *c;
	char where[256];

	c = good("", "an empty file is valid");
	if (c == NULL)
		return;
	is_str(c->file, NAME, "file is the name given");
	is_str(c->domain, "localhost", "domain defaults to localhost");
	is_int(c->nlisten, 1, "one listener by default");
	is_str(c->listen[0].address, "*:443", "https on *:443 by default");
	is_int(c->listen[0].tls, 1, "the default listener is https");
	is_int(c->listen[0].ss.ss_family, AF_INET6, "*: is the IPv6 any");
	is_int(port_of(&c->listen[0]), 443, "on port 443");
	ok(strstr(c->tls_certificate, "/reflector/cert.pem") != NULL,
	    "tls.certificate defaults under SYSCONFDIR");
	ok(strstr(c->tls_key, "/reflector/key.pem") != NULL,
	    "tls.key defaults under SYSCONFDIR");
	is_int(c->tls_min_version, 12, "tls.min_version defaults to 1.2");
	is_int(c->workers, expected_auto_workers(),
	    "workers defaults to one per CPU");
	is_int(c->workers_auto, 1, "and says it was auto");
	ok(c->user == NULL, "user defaults to none");
	ok(strstr(c->state_dir, "/lib/reflector") != NULL,
	    "state_dir defaults under LOCALSTATEDIR");
	ok(strstr(c->run_dir, "/reflector") != NULL,
	    "run_dir defaults under RUNSTATEDIR");
	ok(strstr(c->pid_file, "/reflectord.pid") != NULL,
	    "pid_file defaults under RUNSTATEDIR");
	is_int(c->log_level, RF_LOG_INFO, "log.level defaults to info");
	is_int(c->log_target, RF_LOG_SYSLOG, "log.target defaults to syslog");
	ok(strstr(c->log_file, "/log/reflector/reflectord.log") != NULL,
	    "log.file has a default");
	is_int(c->log_facility, LOG_DAEMON, "log.facility defaults to daemon");
	is_int(c->max_connections, 10000, "max_connections defaults to 10000");
	is_int(c->handshake_timeout, 10, "handshake_timeout defaults to 10");
	is_int(c->keepalive_timeout, 60, "keepalive_timeout defaults to 60");
	is_int(c->drain_timeout, 30, "drain_timeout defaults to 30");
	is_int(c->header_max, 8192, "header_max defaults to 8k");
	is_int(c->ndevices, 0, "no devices by default");
	is_int(c->nusers, 0, "no users by default");
	rf_conf_where(c, "tls.certificate", where, sizeof(where));
	is_str(where, NAME, "rf_conf_where names the file alone for a default");
	rf_conf_free(c);

	rf_conf_free(good("---\n", "a document with nothing in it is valid"));
	rf_conf_free(good("--- ~\n", "a null document is valid"));
	rf_conf_free(good("# only a comment\n", "comments alone are valid"));
	rf_conf_free(good("tls:\nlimits: ~\n",
	    "empty sections take their defaults"));
	c = NULL;
	is_int(rf_conf_load_mem(NULL, 0, NULL, &c, collect, NULL), 0,
	    "zero bytes load");
	rf_conf_free(c);
	ok(strstr(rf_conf_default_path(), "/reflector/reflector.yml") != NULL,
	    "the default path ends in reflector/reflector.yml");
}

static void
test_scalars(void)
{
	struct rf_conf *c;

	c = good("domain: reflector.example.net\n"
	    "tls:\n"
	    "  certificate: certs/c.pem\n"
	    "  key: /k.pem\n"
	    "  min_version: \"1.3\"\n"
	    "workers: 4\n"
	    "user: reflector\n"
	    "state_dir: s\n"
	    "run_dir: r\n"
	    "pid_file: p\n"
	    "log: {level: debug2, target: file, file: l.log, "
	    "facility: local3}\n"
	    "limits:\n"
	    "  max_connections: 16\n"
	    "  handshake_timeout: 5m\n"
	    "  keepalive_timeout: 1h\n"
	    "  drain_timeout: 0\n"
	    "  header_max: 60k\n", "every scalar key set");
	if (c != NULL) {
		is_str(c->domain, "reflector.example.net", "domain");
		is_str(c->tls_certificate, "certs/c.pem",
		    "a relative path stays as written");
		is_str(c->tls_key, "/k.pem", "tls.key");
		is_int(c->tls_min_version, 13, "tls.min_version 1.3");
		is_int(c->workers, 4, "workers 4");
		is_int(c->workers_auto, 0, "a number is not auto");
		is_str(c->user, "reflector", "user");
		is_str(c->state_dir, "s", "state_dir");
		is_str(c->run_dir, "r", "run_dir");
		is_str(c->pid_file, "p", "pid_file");
		is_int(c->log_level, RF_LOG_DEBUG2, "log.level debug2");
		is_int(c->log_target, RF_LOG_FILE, "log.target file");
		is_str(c->log_file, "l.log", "log.file");
		is_int(c->log_facility, LOG_LOCAL3, "log.facility local3");
		is_int(c->max_connections, 16,
		    "max_connections at its minimum");
		is_int(c->handshake_timeout, 300, "5m is 300 seconds");
		is_int(c->keepalive_timeout, 3600, "1h is 3600 seconds");
		is_int(c->drain_timeout, 0, "drain_timeout may be 0");
		is_int(c->header_max, 61440, "60k is 61440 bytes");
	}
	rf_conf_free(c);

	c = good("limits: {max_connections: 1000000, handshake_timeout: 30s, "
	    "keepalive_timeout: 45, header_max: 1024}\nworkers: \"256\"\n"
	    "user: \"\"\nlog: {target: stderr, facility: authpriv}\n",
	    "more forms of the same types");
	if (c != NULL) {
		is_int(c->max_connections, 1000000, "int at its maximum");
		is_int(c->handshake_timeout, 30, "30s is 30 seconds");
		is_int(c->keepalive_timeout, 45, "a bare number is seconds");
		is_int(c->header_max, 1024, "a bare size is bytes");
		is_int(c->workers, 256, "a quoted number is read as a number");
		ok(c->user == NULL, "an empty user means do not switch");
		is_int(c->log_target, RF_LOG_STDERR, "log.target stderr");
		is_int(c->log_facility, LOG_AUTHPRIV, "log.facility authpriv");
	}
	rf_conf_free(c);

	c = good("workers: auto\nuser: ~\n", "workers: auto");
	if (c != NULL) {
		is_int(c->workers, expected_auto_workers(),
		    "auto is the CPU count");
		is_int(c->workers_auto, 1, "workers_auto is set");
		ok(c->user == NULL, "user: ~ means do not switch");
	}
	rf_conf_free(c);

	bad("workers: 0\n",
	    NAME ":1:10: 'workers' must be between 1 and 256, got 0",
	    "workers below its range");
	bad("workers: 257\n",
	    NAME ":1:10: 'workers' must be between 1 and 256, got 257",
	    "workers above its range");
	bad("workers: many\n",
	    NAME ":1:10: 'workers' must be a number or 'auto', got 'many'",
	    "workers not a number");
	bad("workers:\n",
	    NAME ":1:9: 'workers' must not be empty", "workers empty");
	bad("limits:\n  max_connections: 5\n",
	    NAME ":2:20: 'limits.max_connections' must be between 16 and "
	    "1000000, got 5", "an int out of range");
	bad("limits:\n  max_connections: -20\n",
	    NAME ":2:20: 'limits.max_connections' must be between 16 and "
	    "1000000, got -20", "a negative int");
	bad("limits:\n  max_connections: 99999999999999999999999\n",
	    NAME ":2:20: 'limits.max_connections' must be between 16 and "
	    "1000000, got 99999999999999999999999",
	    "a huge int does not overflow into range");
	bad("limits:\n  max_connections: 1e4\n",
	    NAME ":2:20: 'limits.max_connections' must be a number, "
	    "got '1e4'", "an int with letters");
	bad("limits:\n  handshake_timeout: 10m\n",
	    NAME ":2:22: 'limits.handshake_timeout' must be between 1 and "
	    "300 seconds, got 10m", "a duration out of range");
	bad("limits:\n  keepalive_timeout: 5x\n",
	    NAME ":2:22: 'limits.keepalive_timeout' must be a number of "
	    "seconds, or one with a unit: 30s, 5m, 1h, got '5x'",
	    "a duration with a bad unit");
	bad("limits:\n  drain_timeout: 1.5m\n",
	    NAME ":2:18: 'limits.drain_timeout' must be a number of "
	    "seconds, or one with a unit: 30s, 5m, 1h, got '1.5m'",
	    "a duration with a fraction");
	bad("limits:\n  header_max: 1m\n",
	    NAME ":2:15: 'limits.header_max' must be between 1024 and 65535 "
	    "bytes, got 1m", "a size out of range");
	bad("limits:\n  header_max: 8kb\n",
	    NAME ":2:15: 'limits.header_max' must be a number of bytes, or "
	    "one with a unit: 8k, 1m, got '8kb'", "a size with a bad unit");
	bad("log:\n  level: loud\n",
	    NAME ":2:10: 'log.level' must be one of quiet, fatal, error, "
	    "info, verbose, debug1, debug2 or debug3, got 'loud'",
	    "a bad log.level lists the levels");
	bad("log:\n  target: journal\n",
	    NAME ":2:11: 'log.target' must be stderr, syslog or file, "
	    "got 'journal'", "a bad log.target lists the targets");
	bad("log:\n  facility: mail\n",
	    NAME ":2:13: 'log.facility' must be one of daemon, user, auth, "
	    "authpriv or local0 to local7, got 'mail'",
	    "a bad log.facility lists the facilities");
	bad("tls:\n  min_version: 1.1\n",
	    NAME ":2:16: 'tls.min_version' must be 1.2 or 1.3, got '1.1'",
	    "a bad tls.min_version");
	bad("domain: Example.COM\n",
	    NAME ":1:9: 'domain' must be a lowercase DNS name such as "
	    "\"reflector.example.net\" (labels of a-z, 0-9 and '-'), got "
	    "'Example.COM'", "an uppercase domain");
	bad_has("domain: a..b\n", NAME ":1:9: 'domain' must be a lowercase",
	    "an empty label in domain");
	bad_has("domain: -a.b\n", NAME ":1:9: 'domain' must be a lowercase",
	    "a label starting with '-'");
	bad_has("domain: example.net.\n",
	    NAME ":1:9: 'domain' must be a lowercase", "a trailing dot");
	bad("domain: \"\"\n", NAME ":1:9: 'domain' must not be empty",
	    "an empty domain");
	bad("tls:\n  certificate:\n",
	    NAME ":2:15: 'tls.certificate' must not be empty",
	    "an empty path");
	bad("user: \"a\\x01b\"\n",
	    NAME ":1:7: 'user' must not contain control characters or line "
	    "breaks", "a control character in a value");
	bad("user: \"a\\0b\"\n",
	    NAME ":1:7: 'user' must not contain control characters or line "
	    "breaks", "a NUL in a value cannot cut it short");
	bad("user: \"a\\Lb\"\n",
	    NAME ":1:7: 'user' must not contain control characters or line "
	    "breaks", "a Unicode line separator in a value");
}

static void
test_listen(void)
{
	struct rf_conf *c;
	char where[256];

	c = good("listen:\n"
	    "  https:\n"
	    "    - 127.0.0.1:8443\n"
	    "    - \"[::1]:8443\"\n"
	    "  http: [\"*:8080\"]\n", "https and http listeners");
	if (c != NULL && c->nlisten == 3) {
		is_int(c->nlisten, 3, "three listeners");
		is_str(c->listen[0].address, "127.0.0.1:8443",
		    "the address as written");
		is_int(c->listen[0].ss.ss_family, AF_INET, "IPv4");
		is_int(c->listen[0].sslen, sizeof(struct sockaddr_in),
		    "IPv4 length");
		is_int(port_of(&c->listen[0]), 8443, "IPv4 port");
		is_int(c->listen[0].tls, 1, "https is tls");
		is_int(c->listen[1].ss.ss_family, AF_INET6, "IPv6");
		is_int(c->listen[1].sslen, sizeof(struct sockaddr_in6),
		    "IPv6 length");
		ok(IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)
		    &c->listen[1].ss)->sin6_addr), "[::1] is loopback");
		is_str(c->listen[2].address, "*:8080",
		    "http comes after https");
		is_int(c->listen[2].tls, 0, "http is not tls");
		is_int(port_of(&c->listen[2]), 8080, "http port");
		rf_conf_where(c, "listen.2", where, sizeof(where));
		is_str(where, NAME ":5:10", "rf_conf_where of a listener");
	} else
		ok(0, "three listeners");
	rf_conf_free(c);

	c = good("listen: {https: [], http: [\"0.0.0.0:80\", \"[::]:80\"]}\n",
	    "http alone, IPv4 and IPv6 any side by side");
	if (c != NULL) {
		is_int(c->nlisten, 2, "two listeners");
		is_int(c->listen[0].tls, 0, "both plain http");
	}
	rf_conf_free(c);

	bad("listen: {https: [], http: []}\n",
	    NAME ":1:27: no address to listen on: 'listen.https' and "
	    "'listen.http' are both empty", "no listener at all");
	bad("listen:\n  https:\n    - 127.0.0.1\n",
	    NAME ":3:7: 'listen.https' address '127.0.0.1': it needs a port, "
	    "as in \"127.0.0.1:443\"", "an address without a port");
	bad("listen:\n  https: [\"127.0.0.1:0\"]\n",
	    NAME ":2:11: 'listen.https' address '127.0.0.1:0' needs a port "
	    "between 1 and 65535", "port 0");
	bad("listen:\n  https: [\"127.0.0.1:65536\"]\n",
	    NAME ":2:11: 'listen.https' address '127.0.0.1:65536' needs a "
	    "port between 1 and 65535", "port 65536");
	bad("listen:\n  http: [\"localhost:80\"]\n",
	    NAME ":2:10: 'listen.http' address 'localhost:80': the address "
	    "must be numeric IPv4, IPv6 in brackets or '*'; names are not "
	    "looked up", "a host name is not looked up");
	bad("listen:\n  http: [\"::1:80\"]\n",
	    NAME ":2:10: 'listen.http' address '::1:80': an IPv6 address "
	    "must be in brackets, as in \"[::1]:443\"",
	    "IPv6 without brackets");
	bad("listen:\n  http: [\"[::1]\"]\n",
	    NAME ":2:10: 'listen.http' address '[::1]': an IPv6 address in "
	    "brackets must be followed by a port, as in \"[::1]:443\"",
	    "IPv6 without a port");
	bad("listen:\n  https: [\"*:443\", \"[::]:8443\", \"*:443\"]\n",
	    NAME ":2:33: listen address '*:443' is given twice (also at "
	    "line 2, column 11)", "a duplicate address");
	bad("listen:\n  http: [\"*:80\"]\n  https: [\"127.0.0.1:80\"]\n",
	    NAME ":2:10: listen address '*:80' overlaps '127.0.0.1:80' (line "
	    "3, column 11): both would accept the same connections",
	    "a wildcard overlapping an address, across https and http");
	bad("listen:\n  http: [\"*:443\"]\n",
	    NAME ":2:10: listen address '*:443' is given twice (also at the "
	    "default)", "an http address that repeats the https default");
	bad("listen:\n  https: \"*:443\"\n",
	    NAME ":2:10: 'listen.https' must be a list of addresses, not a "
	    "single value", "a listen list given as a string");
}

/*
 * rf_conf_device_find's and rf_conf_user_find's indexes, in an order that
 * is not the file's.
 */
static void
test_device_find(void)
{
	static const char *ids[] = { "m", "b", "z", "a", "q" };
	const struct rf_conf_device *d;
	const struct rf_conf_user *u;
	struct rf_conf *c;
	char yaml[1024];
	size_t i, n = 0, found = 0, ufound = 0;

	n += (size_t)snprintf(yaml + n, sizeof(yaml) - n, "devices:\n");
	for (i = 0; i < 5; i++)
		n += (size_t)snprintf(yaml + n, sizeof(yaml) - n,
		    "  - {id: %s, secret: s%s}\n", ids[i],
		    i == 2 ? ", cache: yes" : "");
	n += (size_t)snprintf(yaml + n, sizeof(yaml) - n, "users:\n");
	for (i = 0; i < 5; i++)
		n += (size_t)snprintf(yaml + n, sizeof(yaml) - n,
		    "  - {name: user-%s, password: p}\n", ids[4 - i]);
	if ((c = good(yaml, "five devices, five users")) == NULL)
		return;
	for (i = 0; i < 5; i++) {
		if ((d = rf_conf_device_find(c, ids[i])) != NULL &&
		    strcmp(d->id, ids[i]) == 0 && d == &c->devices[i])
			found++;
		snprintf(yaml, sizeof(yaml), "user-%s", ids[4 - i]);
		if ((u = rf_conf_user_find(c, yaml)) != NULL &&
		    strcmp(u->name, yaml) == 0 && u == &c->users[i])
			ufound++;
	}
	is_int((long long)found, 5, "each device is found by its id");
	ok(rf_conf_device_find(c, "c") == NULL &&
	    rf_conf_device_find(c, "") == NULL &&
	    rf_conf_device_find(c, "zz") == NULL, "unknown ids are not");
	is_int((long long)ufound, 5, "each user is found by its name");
	ok(rf_conf_user_find(c, "user-c") == NULL &&
	    rf_conf_user_find(c, "") == NULL &&
	    rf_conf_user_find(c, "m") == NULL, "unknown names are not");
	is_int((long long)c->ndevices_cache_on, 1,
	    "the devices with cache: yes are counted");
	rf_conf_free(c);
}

static void
test_devices_users(void)
{
	struct rf_conf *c;
	char where[256];

	c = good("devices:\n"
	    "  - id: cam-1\n"
	    "    group: lab\n"
	    "    name: \"Front door\"\n"
	    "    secret: \"$argon2id$x\"\n"
	    "  - {id: cam-2, secret: s2}\n"
	    "users:\n"
	    "  - name: alice@example.net\n"
	    "    password: \"$argon2id$y\"\n"
	    "    devices: [cam-1, \"cam-*\", \"*\"]\n"
	    "  - name: bob\n"
	    "    password: p\n", "devices and users");
	if (c != NULL && c->ndevices == 2 && c->nusers == 2) {
		is_str(c->devices[0].id, "cam-1", "device id");
		is_str(c->devices[0].group, "lab", "device group");
		is_str(c->devices[0].name, "Front door", "device name");
		is_str(c->devices[0].secret, "$argon2id$x", "device secret");
		is_str(c->devices[1].group, "default",
		    "group defaults to default");
		ok(c->devices[1].name == NULL, "name is optional");
		is_str(c->users[0].name, "alice@example.net", "user name");
		is_str(c->users[0].password, "$argon2id$y", "user password");
		is_int(c->users[0].ndevices, 3, "three patterns");
		is_str(c->users[0].devices[1], "cam-*", "a wildcard pattern");
		is_str(c->users[0].devices[2], "*", "the any pattern");
		is_int(c->users[1].ndevices, 0, "devices default to none");
		rf_conf_where(c, "devices.1.secret", where, sizeof(where));
		is_str(where, NAME ":6:25",
		    "rf_conf_where inside a list entry");
	} else
		ok(0, "two devices and two users");
	rf_conf_free(c);

	bad("devices:\n  - id: Cam1\n    secret: s\n",
	    NAME ":2:9: 'devices.id' must be 1 to 63 of a-z, 0-9 and '-', not "
	    "starting or ending with '-', got 'Cam1'", "a bad device id");
	bad_has("devices:\n  - id: cam-\n    secret: s\n",
	    NAME ":2:9: 'devices.id' must be 1 to 63",
	    "a device id ending in '-'");
	bad_has("devices:\n  - id: "
	    "a234567890123456789012345678901234567890123456789012345678901234"
	    "\n    secret: s\n", NAME ":2:9: 'devices.id' must be 1 to 63",
	    "a device id of 64 characters");
	bad("devices:\n  - group: g\n    secret: s\n",
	    NAME ":2:5: this 'devices' entry has no 'id'; it is required",
	    "a device without id points at its entry");
	bad("devices:\n  - id: a\n\n  - id: b\n    secret: s\n",
	    NAME ":2:5: this 'devices' entry has no 'secret'; it is required",
	    "a device without secret");
	bad("devices:\n  - {id: a, secret: s}\n  - {id: a, secret: t}\n",
	    NAME ":3:10: 'devices' has two entries with id 'a' (the first at "
	    "line 2)", "a duplicate device id");
	bad("devices:\n  - cam-1\n",
	    NAME ":2:5: an entry of 'devices' must be a mapping of keys, not "
	    "a single value", "a device that is not a mapping");
	bad("devices:\n  id: a\n",
	    NAME ":2:3: 'devices' must be a list of mappings, not a mapping",
	    "devices given as a mapping");
	bad("devices:\n  - {id: a, secret: s, colour: red}\n",
	    NAME ":2:24: unknown key 'colour' in a 'devices' entry",
	    "an unknown key in a device");
	bad("devices:\n  - {id: a, secet: s}\n",
	    NAME ":2:13: unknown key 'secet' in a 'devices' entry; did you "
	    "mean 'secret'?", "a misspelt key in a device");
	bad("users:\n  - {name: \"a b\", password: p}\n",
	    NAME ":2:12: 'users.name' must be 1 to 64 of A-Z, a-z, 0-9, '.', "
	    "'_', '@' and '-', got 'a b'", "a bad user name");
	bad("users:\n  - {name: a}\n",
	    NAME ":2:5: this 'users' entry has no 'password'; it is required",
	    "a user without password");
	bad("users:\n  - {name: a, password: p}\n  - {name: a, password: q}\n",
	    NAME ":3:12: 'users' has two entries with name 'a' (the first at "
	    "line 2)", "a duplicate user name");
	bad("users:\n  - {name: a, password: p, devices: [\"a*b*\"]}\n",
	    NAME ":2:38: 'users.devices' entry 'a*b*' must be a device id, "
	    "one with a single '*', or '*'", "a pattern with two '*'");
	bad_has("users:\n  - {name: a, password: p, devices: [\"-*\"]}\n",
	    "'users.devices' entry '-*' must be",
	    "a pattern that cannot match");
	bad("users:\n  - {name: a, password: p, devices: cam}\n",
	    NAME ":2:37: 'users.devices' must be a list of device id patterns, "
	    "not a single value", "user devices given as a string");
}

static void
test_errors(void)
{
	struct rf_conf *c = NULL;
	char yaml[4096];
	size_t len = 0;
	int i, r;

	bad("domain: [a\n",
	    NAME ":2:1: YAML syntax error: did not find expected ',' or ']' "
	    "(while parsing a flow sequence at line 1, column 9)",
	    "a YAML syntax error");
	bad("a: b: c\n",
	    NAME ":1:5: YAML syntax error: mapping values are not allowed in "
	    "this context", "a YAML syntax error without context");
	bad("workrs: 4\n",
	    NAME ":1:1: unknown key 'workrs'; did you mean 'workers'?",
	    "an unknown key with a close match");
	bad("limits:\n  max_conections: 4\n",
	    NAME ":2:3: unknown key 'max_conections' in 'limits'; did you mean "
	    "'max_connections'?", "an unknown key in a section");
	bad("limits:\n  colour: red\n",
	    NAME ":2:3: unknown key 'colour' in 'limits'",
	    "an unknown key without a close match");
	bad("certificate: c.pem\n",
	    NAME ":1:1: unknown key 'certificate'; did you mean 'certificate' "
	    "under 'tls'?", "a key in the wrong section");
	bad("limits.header_max: 4k\n",
	    NAME ":1:1: unknown key 'limits.header_max'; did you mean "
	    "'header_max' under 'limits'?", "a dotted key");
	bad("log:\n  workers: 2\n",
	    NAME ":2:3: unknown key 'workers' in 'log'; did you mean 'workers' "
	    "at the top level?", "a top-level key in a section");
	bad("workers: [1]\n",
	    NAME ":1:10: 'workers' must be a number or 'auto', not a list",
	    "a list where a number goes");
	bad("domain: {a: b}\n",
	    NAME ":1:9: 'domain' must be a DNS name, not a mapping",
	    "a mapping where a string goes");
	bad("limits: 5\n",
	    NAME ":1:9: 'limits' must be a mapping of keys, not a single "
	    "value", "a value where a section goes");
	bad("? [a]\n: b\n",
	    NAME ":1:3: a key must be a plain name, not a list",
	    "a key that is a list");
	bad("workers: 2\nuser: x\nworkers: 3\n",
	    NAME ":3:1: duplicate key 'workers' (first set at line 1)",
	    "a duplicate key");
	bad("log:\n  level: info\n  level: error\n",
	    NAME ":3:3: duplicate key 'level' (first set at line 2)",
	    "a duplicate key in a section");
	bad("domain: &d example.net\n",
	    NAME ":1:9: anchors ('&d') are not supported; write each value "
	    "out", "an anchor");
	bad_has("a: &d b\nc: *d\n",
	    NAME ":2:4: aliases ('*d') are not supported; write the value out",
	    "an alias");
	bad_has("a: &a [*a]\n", "aliases ('*a') are not supported",
	    "a recursive alias");
	bad("workers: !!int 4\n",
	    NAME ":1:10: tags ('tag:yaml.org,2002:int') are not supported; "
	    "values are read as written", "a tag");
	bad("- domain: x\n",
	    NAME ":1:1: the file must be a mapping of keys such as 'domain:', "
	    "not a list", "a root that is a list");
	bad("just words\n",
	    NAME ":1:1: the file must be a mapping of keys such as 'domain:', "
	    "not a single value", "a root that is a scalar");
	bad("workers: 2\n---\nworkers: 3\n",
	    NAME ":2:1: a second YAML document starts here; the file must hold "
	    "one", "two documents");
	bad("a: [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]\n",
	    NAME ":1:19: nested more than 16 levels deep",
	    "deep nesting is refused before it is walked");
	r = rf_conf_load_mem("a: \xff\n", 5, NAME, &c, collect, NULL);
	ok(r == RF_ERR_CONFIG && c == NULL, "bytes that are not UTF-8 fail");
	bad("domain: x\nuser: \xc3\xa9\xc3\n",
	    NAME ":2:9: not UTF-8 text: invalid trailing UTF-8 octet (0x0a)",
	    "not UTF-8, with its line and column in characters");

	/* 25 errors: 20 are reported, then "too many errors". */
	for (i = 0; i < 25; i++)
		len += (size_t)snprintf(yaml + len, sizeof(yaml) - len,
		    "bad%d: x\n", i);
	errs[0] = '\0';
	nerrs = 0;
	r = rf_conf_load_mem(yaml, len, NAME, &c, collect, NULL);
	is_int(r, RF_ERR_CONFIG, "many errors fail the load");
	is_int(nerrs, 21, "20 errors, then one line to stop");
	ok(strstr(errs, NAME ":21:1: too many errors; stopping here\n") !=
	    NULL, "the last line says there were too many");
	ok(strstr(errs, "bad21") == NULL, "nothing after it");

	/* Every error of a document comes out, not only the first. */
	r = load("workers: 0\nlimits:\n  header_max: 1\nfoo: 1\n", &c);
	is_int(nerrs, 3, "all three errors of a document are reported");
}

static void
test_files(void)
{
	const char *top = getenv("RF_TOP");
	struct rf_conf *c = NULL;
	char path[4096], where[4096], want[4200];
	int fd, p[2], r;

	if (top == NULL)
		top = ".";
	snprintf(path, sizeof(path), "%s/conf/reflector.yml", top);
	errs[0] = '\0';
	nerrs = 0;
	r = rf_conf_load(path, &c, collect, NULL);
	if (!is_int(r, 0, "the shipped conf/reflector.yml loads"))
		diag("%s", errs);
	if (c != NULL) {
		is_str(c->domain, "reflector.example.net",
		    "its domain is the example one");
		is_str(c->user, "reflector", "it runs as user reflector");
		is_str(c->tls_certificate, "/etc/reflector/cert.pem",
		    "its certificate is under /etc/reflector");
		is_int(c->nlisten, 1, "it listens once, on https");
		is_int(c->log_target, RF_LOG_SYSLOG, "it logs to syslog");
		rf_conf_where(c, "tls.certificate", where, sizeof(where));
		snprintf(want, sizeof(want), "%s:", path);
		ok(strncmp(where, want, strlen(want)) == 0 &&
		    strlen(where) > strlen(want) + 2,
		    "rf_conf_where gives file:line:col for a key set");
		rf_conf_free(c);
		c = NULL;
	}

	errs[0] = '\0';
	nerrs = 0;
	r = rf_conf_load("/nonexistent/reflector.yml", &c, collect, NULL);
	is_int(r, RF_ERR_SYS, "a missing file is a system error");
	is_str(first_err(), "/nonexistent/reflector.yml: cannot open: "
	    "No such file or directory", "and says so");

	/* A reload's memfd is read from its start, wherever its offset is. */
	fd = memfd_create("conf", MFD_CLOEXEC);
	if (fd != -1 && write(fd, "workers: 3\n", 11) == 11) {
		r = rf_conf_load_fd(fd, "memfd", &c, collect, NULL);
		is_int(r, 0,
		    "rf_conf_load_fd reads a memfd written to its end");
		is_int(c != NULL ? c->workers : -1, 3, "with its contents");
		rf_conf_free(c);
		c = NULL;
	} else
		ok(0, "memfd_create: %s", strerror(errno));
	if (fd != -1)
		close(fd);
	if (pipe(p) == 0) {
		if (write(p[1], "workers: 5\n", 11) != 11)
			diag("write to pipe failed");
		close(p[1]);
		r = rf_conf_load_fd(p[0], "pipe", &c, collect, NULL);
		is_int(c != NULL ? c->workers : -1, 5,
		    "rf_conf_load_fd reads a pipe");
		rf_conf_free(c);
		c = NULL;
		close(p[0]);
	}
}

/* The dump of c, malloc'ed, with every " # auto" taken out. */
static char *
dump_of(const struct rf_conf *c)
{
	char *s = NULL, *p;
	size_t len;
	FILE *f;

	if ((f = open_memstream(&s, &len)) == NULL)
		return NULL;
	if (rf_conf_dump(c, f) != 0) {
		fclose(f);
		free(s);
		return NULL;
	}
	fclose(f);
	while ((p = strstr(s, " # auto")) != NULL)
		memmove(p, p + 7, strlen(p + 7) + 1);
	return s;
}

static const char rich[] =
    "domain: reflector.example.net\n"
    "listen:\n"
    "  https: [\"*:443\", \"127.0.0.1:8443\"]\n"
    "  http: [\"[::1]:80\"]\n"
    "tls: {certificate: \"/c \\\"q\\\" \\\\.pem\", key: k.pem, "
    "min_version: \"1.3\"}\n"
    "workers: auto\n"
    "user: \"r\xc3\xa9" "flecteur\"\n"
    "log: {level: debug3, target: file, facility: local7}\n"
    "limits: {handshake_timeout: 1m, header_max: 2k, drain_timeout: 0}\n"
    "devices:\n"
    "  - {id: a, secret: \"s: #1\", name: \"Cam 'A'\"}\n"
    "  - {id: b, group: g, secret: s}\n"
    "users:\n"
    "  - {name: u, password: \"p\\\\w\", devices: [a, \"b*\"]}\n"
    "  - {name: v, password: w}\n";

static void
test_dump(void)
{
	struct rf_conf *c, *c2;
	char *d1 = NULL, *d2 = NULL;
	int r;

	c = good(rich, "a config using every kind of key");
	if (c == NULL)
		return;
	d1 = dump_of(c);
	ok(d1 != NULL, "rf_conf_dump writes");
	if (d1 == NULL)
		goto out;
	ok(strstr(d1, "\nworkers: ") != NULL, "the dump has workers");
	ok(strstr(d1, "  max_connections: 10000\n") != NULL,
	    "the dump includes defaults");
	ok(strstr(d1, "    secret: \"s: #1\"\n") != NULL,
	    "hashes are printed as they are");
	c2 = NULL;
	r = load(d1, &c2);
	if (!is_int(r, 0, "the dump loads back"))
		diag("%s\n%s", errs, d1);
	if (c2 == NULL)
		goto out;
	d2 = dump_of(c2);
	is_str(d2, d1, "and dumps the same again");
	is_str(c2->tls_certificate, "/c \"q\" \\.pem",
	    "quotes and backslashes survive");
	is_str(c2->user, "r\xc3\xa9" "flecteur", "UTF-8 survives");
	is_str(c2->devices[0].name, "Cam 'A'", "a device name survives");
	is_str(c2->users[0].password, "p\\w", "a password hash survives");
	is_int(c2->users[0].ndevices, 2, "user patterns survive");
	is_int(c2->workers, c->workers, "the resolved workers count survives");
	is_int(c2->nlisten, 3, "listeners survive");
	is_int(rf_conf_restart_keys(c, c2, collect, NULL), 0,
	    "a reloaded dump needs no restart");
	rf_conf_free(c2);
out:
	free(d1);
	free(d2);
	rf_conf_free(c);

	c = good("workers: auto\n", "workers: auto for the dump");
	d1 = NULL;
	if (c != NULL) {
		FILE *f;
		size_t len;

		if ((f = open_memstream(&d1, &len)) != NULL) {
			rf_conf_dump(c, f);
			fclose(f);
		}
		ok(d1 != NULL && strstr(d1, " # auto\n") != NULL,
		    "auto workers are marked '# auto' in the dump");
		free(d1);
	}
	rf_conf_free(c);
}

static void
test_restart_keys(void)
{
	struct rf_conf *a, *b;

	a = good("workers: 2\nlisten: {https: [\"*:443\", \"127.0.0.1:80\"]}\n"
	    "log: {level: info}\n", "the running config");
	b = good("workers: 2\nlisten: {https: [\"127.0.0.1:80\", \"*:443\"]}\n"
	    "log: {level: debug1}\ndevices: [{id: x, secret: y}]\n",
	    "a config that changes reloadable keys only");
	if (a != NULL && b != NULL) {
		errs[0] = '\0';
		nerrs = 0;
		is_int(rf_conf_restart_keys(a, b, collect, NULL), 0,
		    "log, devices and listen order need no restart");
	}
	rf_conf_free(b);
	b = good("workers: 4\ndomain: example.net\nuser: r\n"
	    "listen: {https: [\"*:443\"], http: [\"*:80\"]}\n",
	    "a config that changes keys a reload cannot");
	if (a != NULL && b != NULL) {
		errs[0] = '\0';
		nerrs = 0;
		is_int(rf_conf_restart_keys(a, b, collect, NULL), 5,
		    "five keys need a restart");
		ok(strstr(errs, "workers changed from 2 to 4; a reload cannot "
		    "change it, restart reflectord to apply it\n") != NULL,
		    "the workers sentence");
		ok(strstr(errs, "domain changed from \"localhost\" to "
		    "\"example.net\";") != NULL, "the domain sentence");
		ok(strstr(errs, "user changed from \"\" to \"r\";") != NULL,
		    "the user sentence");
		ok(strstr(errs, "listen.https changed from [\"*:443\", "
		    "\"127.0.0.1:80\"] to [\"*:443\"];") != NULL,
		    "the listen.https sentence");
		ok(strstr(errs, "listen.http changed from [] to [\"*:80\"];") !=
		    NULL, "the listen.http sentence");
		ok(strstr(errs, "log.") == NULL, "log keys are not named");
	}
	rf_conf_free(a);
	rf_conf_free(b);
}

static void
test_keep_restart_keys(void)
{
	struct rf_conf *a, *b;
	char *d = NULL;

	a = good("workers: 2\ndomain: a.example\nuser: r\n"
	    "listen: {https: [\"*:443\"], http: [\"*:80\"]}\n"
	    "state_dir: s1\n", "the running config, for keep");
	b = good("workers: auto\ndomain: b.example\n"
	    "listen: {https: [\"127.0.0.1:8443\"]}\n"
	    "state_dir: s2\nlog: {level: debug1}\n"
	    "devices: [{id: x, secret: y}]\n", "a new config, for keep");
	if (a == NULL || b == NULL) {
		rf_conf_free(a);
		rf_conf_free(b);
		return;
	}
	rf_conf_keep_restart_keys(b, a);
	is_int(b->workers, 2, "keep: workers stays the running one");
	is_int(b->workers_auto, 0, "keep: and so does workers_auto");
	is_str(b->domain, "a.example", "keep: domain stays");
	is_str(b->user, "r", "keep: user stays");
	is_str(b->state_dir, "s1", "keep: state_dir stays");
	is_int(b->nlisten, 2, "keep: the running listeners stay");
	if (b->nlisten == 2) {
		is_str(b->listen[0].address, "*:443", "keep: https first");
		is_int(b->listen[1].tls, 0, "keep: then http");
	}
	is_int(b->log_level, RF_LOG_DEBUG1, "keep: log.level is the new one");
	is_int(b->ndevices, 1, "keep: devices are the new ones");
	is_int(rf_conf_restart_keys(a, b, NULL, NULL), 0,
	    "keep: nothing left that needs a restart");
	d = dump_of(b);
	ok(d != NULL && strstr(d, "domain: \"a.example\"\n") != NULL,
	    "keep: the dump shows the kept values");
	free(d);
	rf_conf_free(a);
	rf_conf_free(b);
}

int
main(void)
{
	rf_log_init("conf-test");
	test_defaults();
	test_scalars();
	test_listen();
	test_devices_users();
	test_device_find();
	test_errors();
	test_files();
	test_dump();
	test_restart_keys();
	test_keep_restart_keys();
	return done_testing();
}
