/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * reflectorctl: the administrator's tool.  It makes the hash strings that
 * reflector.yml keeps instead of passwords and device secrets, and adds,
 * lists and removes devices in the registry (LMDB, shared with a running
 * reflectord, which sees a change at the device's next connect).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "conf.h"
#include "db.h"
#include "err.h"
#include "log.h"

#define PASS_MAX	1024	/* bytes of a password, newline excluded */

static volatile sig_atomic_t got_signal;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: reflectorctl [-V] [-c config_file] command "
	    "[argument ...]\n"
	    "       reflectorctl hash-password\n"
	    "       reflectorctl new-device-secret [device-id [group]]\n"
	    "       reflectorctl device add device-id [group [name]]\n"
	    "       reflectorctl device list\n"
	    "       reflectorctl device remove device-id\n");
	exit(2);
}

static void
on_signal(int sig)
{
	got_signal = sig;
}

/*
 * Reads one line from fd into buf without its newline; -1 on error, EOF
 * before a newline with nothing read, a NUL byte, or a line too long.
 */
static int
read_line(int fd, char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;
	char c;

	for (;;) {
		r = read(fd, &c, 1);
		if (r == -1 && errno == EINTR && !got_signal)
			continue;
		if (r == -1)
			return -1;
		if (r == 0) {
			if (n == 0)
				return -1;
			break;
		}
		if (c == '\n')
			break;
		if (c == '\0' || n + 1 >= len)
			return -1;
		buf[n++] = c;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return 0;
}

/*
 * Prompts on the terminal and reads with echo off.  A signal (^C) during
 * the read restores the terminal first and then takes its usual effect,
 * as OpenBSD's readpassphrase(3) does.
 */
static int
read_tty(int fd, const char *prompt, char *buf, size_t len)
{
	struct sigaction sa, old_int, old_term, old_hup;
	struct termios t, saved;
	int r, sig;

	if (tcgetattr(fd, &saved) == -1)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: read sees EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);
	t = saved;
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	t.c_lflag |= ICANON;
	fputs(prompt, stderr);
	fflush(stderr);
	if (tcsetattr(fd, TCSAFLUSH, &t) == -1)
		r = -1;
	else {
		r = read_line(fd, buf, len);
		tcsetattr(fd, TCSAFLUSH, &saved);
	}
	fputc('\n', stderr);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	if ((sig = got_signal) != 0) {
		explicit_bzero(buf, len);
		raise(sig);
		return -1;
	}
	return r;
}

static int
cmd_hash_password(int argc, char **argv)
{
	char pass[PASS_MAX + 2], again[PASS_MAX + 2], hash[256];
	int r, rc = 1;

	(void)argv;
	if (argc != 1)
		usage();
	if (isatty(STDIN_FILENO)) {
		if (read_tty(STDIN_FILENO, "Password: ", pass,
		    sizeof(pass)) != 0 || read_tty(STDIN_FILENO,
		    "Password again: ", again, sizeof(again)) != 0) {
			fprintf(stderr, "reflectorctl: no password read\n");
			goto out;
		}
		if (strcmp(pass, again) != 0) {
			fprintf(stderr, "reflectorctl: the passwords differ\n");
			goto out;
		}
	} else if (read_line(STDIN_FILENO, pass, sizeof(pass)) != 0) {
		fprintf(stderr, "reflectorctl: no password on standard input "
		    "(one line of at most %d bytes, no NUL)\n", PASS_MAX);
		goto out;
	}
	if (pass[0] == '\0') {
		fprintf(stderr, "reflectorctl: the password is empty\n");
		goto out;
	}
	if ((r = rf_auth_hash_password(pass, hash, sizeof(hash))) != 0) {
		fprintf(stderr, "reflectorctl: cannot hash: %s\n",
		    rf_strerror(r));
		goto out;
	}
	printf("%s\n", hash);
	rc = 0;
out:
	explicit_bzero(pass, sizeof(pass));
	explicit_bzero(again, sizeof(again));
	return rc;
}

static int
valid_label(const char *s)
{
	size_t len = strlen(s);

	return len >= 1 && len <= 63 && s[0] != '-' && s[len - 1] != '-' &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == len;
}

static int
cmd_new_device_secret(int argc, char **argv)
{
	char secret[64], hash[256];
	const char *id = argc > 1 ? argv[1] : "DEVICE-ID";
	const char *group = argc > 2 ? argv[2] : "default";
	int r;

	if (argc > 3)
		usage();
	if (argc > 1 && !valid_label(id)) {
		fprintf(stderr, "reflectorctl: %s: a device id is 1 to 63 of "
		    "a-z, 0-9 and '-', not starting or ending with '-'\n", id);
		return 1;
	}
	if (strpbrk(group, "\"\\:\n") != NULL) {
		fprintf(stderr, "reflectorctl: %s: a group may not hold '\"', "
		    "'\\', ':' or a newline\n", group);
		return 1;
	}
	if ((r = rf_auth_new_secret(secret, sizeof(secret), hash,
	    sizeof(hash))) != 0) {
		fprintf(stderr, "reflectorctl: cannot make a secret: %s\n",
		    rf_strerror(r));
		return 1;
	}
	printf("# The secret of %s, for its agent, which sends it as the\n"
	    "# password of \"%s@%s\".  Shown only now: reflector.yml keeps\n"
	    "# its hash alone.\n#   secret: %s\n# For the devices: section "
	    "of reflector.yml:\n  - id: %s\n    group: \"%s\"\n"
	    "    secret: \"%s\"\n", id, id, group, secret, id, group, hash);
	explicit_bzero(secret, sizeof(secret));
	return 0;
}

static void
print_error(void *arg, const char *line)
{
	(void)arg;
	fprintf(stderr, "%s\n", line);
}

/* The registry named by the config's state_dir. */
static struct rf_db *
open_registry(const char *path)
{
	struct rf_conf *conf;
	struct rf_db *db;
	int r;

	if (rf_conf_load(path, &conf, print_error, NULL) != 0) {
		fprintf(stderr, "reflectorctl: %s is invalid\n", path);
		return NULL;
	}
	r = rf_db_open(&db, conf->state_dir, RF_DB_REGISTRY, 0);
	if (r != 0)
		fprintf(stderr, "reflectorctl: cannot open the registry in "
		    "%s: %s\n", conf->state_dir, rf_strerror(r));
	rf_conf_free(conf);
	return r == 0 ? db : NULL;
}

static int
device_add(struct rf_db *db, int argc, char **argv)
{
	struct rf_device_rec rec;
	char secret[64];
	int r;

	if (argc < 2 || argc > 4)
		usage();
	if (!valid_label(argv[1])) {
		fprintf(stderr, "reflectorctl: %s: a device id is 1 to 63 of "
		    "a-z, 0-9 and '-', not starting or ending with '-'\n",
		    argv[1]);
		return 1;
	}
	if (rf_db_device_get(db, argv[1], &rec) == 0) {
		fprintf(stderr, "reflectorctl: %s is in the registry already"
		    "\n", argv[1]);
		return 1;
	}
	memset(&rec, 0, sizeof(rec));
	rec.created = (uint64_t)time(NULL);
	snprintf(rec.group, sizeof(rec.group), "%s", argc > 2 ? argv[2] :
	    "default");
	snprintf(rec.name, sizeof(rec.name), "%s", argc > 3 ? argv[3] : "");
	if ((r = rf_auth_new_secret(secret, sizeof(secret), rec.secret,
	    sizeof(rec.secret))) != 0 ||
	    (r = rf_db_device_put(db, argv[1], &rec)) != 0) {
		fprintf(stderr, "reflectorctl: cannot add %s: %s\n", argv[1],
		    rf_strerror(r));
		return 1;
	}
	printf("# %s added; its agent sends \"%s@%s\" and this secret,\n"
	    "# shown only now (the registry keeps its hash alone):\n"
	    "secret: %s\n", argv[1], argv[1], rec.group, secret);
	explicit_bzero(secret, sizeof(secret));
	return 0;
}

static int
print_device(void *arg, const char *id, const struct rf_device_rec *rec)
{
	(void)arg;
	printf("%s\t%s\t%s\n", id, rec->group, rec->name);
	return 0;
}

static int
cmd_device(const char *conf_path, int argc, char **argv)
{
	struct rf_db *db;
	int r = 1;

	if (argc < 2)
		usage();
	if ((db = open_registry(conf_path)) == NULL)
		return 1;
	if (strcmp(argv[1], "add") == 0)
		r = device_add(db, argc - 1, argv + 1);
	else if (strcmp(argv[1], "list") == 0 && argc == 2)
		r = rf_db_device_foreach(db, print_device, NULL) == 0 ? 0 : 1;
	else if (strcmp(argv[1], "remove") == 0 && argc == 3) {
		r = rf_db_device_del(db, argv[2]);
		if (r != 0)
			fprintf(stderr, "reflectorctl: %s: %s\n", argv[2],
			    r == RF_ERR_NOTFOUND ? "not in the registry" :
			    rf_strerror(r));
		r = r == 0 ? 0 : 1;
	} else {
		rf_db_close(db);
		usage();
	}
	rf_db_close(db);
	return r;
}

int
main(int argc, char **argv)
{
	const char *conf_path = NULL;
	int ch;

	rf_log_init("reflectorctl");
	while ((ch = getopt(argc, argv, "+c:V")) != -1) {
		switch (ch) {
		case 'c':
			conf_path = optarg;
			break;
		case 'V':
			printf("reflectorctl %s\n", RF_VERSION);
			return 0;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	if (strcmp(argv[0], "hash-password") == 0)
		return cmd_hash_password(argc, argv);
	if (strcmp(argv[0], "new-device-secret") == 0)
		return cmd_new_device_secret(argc, argv);
	if (strcmp(argv[0], "device") == 0)
		return cmd_device(conf_path != NULL ? conf_path :
		    rf_conf_default_path(), argc, argv);
	fprintf(stderr, "reflectorctl: %s: unknown command\n", argv[0]);
	usage();
}
