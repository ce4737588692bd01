/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for common/log.c with a file target in a temporary directory:
 * the line format an operator greps for, level filtering, escaping that
 * stops a peer forging lines, whole lines from concurrent writers, reopen
 * after rotation, and the exit paths of fatal and RF_ASSERT.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "tap.h"

#define TS_RE	"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}" \
		"\\.[0-9]{3}Z "

static char	dir[] = "/tmp/log-test.XXXXXX";
static char	logpath[300];
static char	text[4 << 20];

/* Reads path into text and empties the file; returns its length. */
static size_t
slurp(const char *path)
{
	FILE	*f;
	size_t	 n;

	text[0] = '\0';
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	if (truncate(path, 0) == -1)
		diag("truncate %s: %s", path, strerror(errno));
	return n;
}

static int
matches(const char *s, const char *re)
{
	regex_t	 r;
	int	 m;

	if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0) {
		diag("bad regex %s", re);
		return 0;
	}
	m = regexec(&r, s, 0, NULL, 0) == 0;
	regfree(&r);
	if (!m)
		diag("'%.300s' does not match /%s/", s, re);
	return m;
}

static int
count_lines(const char *s)
{
	int	 n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

static void
test_format(void)
{
	char	 re[256];

	rf_log_set_role("worker 3");
	logit("hello %d", 5);
	slurp(logpath);
	snprintf(re, sizeof(re), TS_RE "reflectord\\[%ld\\]: worker 3: "
	    "hello 5\n$", (long)getpid());
	ok(matches(text, re), "line: time, progname[pid], role, message");
	logit_f("with func");
	slurp(logpath);
	ok(strstr(text, "]: worker 3: test_format: with func\n") != NULL,
	    "_f variant puts the function after the role");
	rf_log_set_role(NULL);
	error("no role");
	slurp(logpath);
	snprintf(re, sizeof(re), TS_RE "reflectord\\[%ld\\]: no role\n$",
	    (long)getpid());
	ok(matches(text, re), "no role: no role prefix");
	rf_log_set_role("master");
}

static void
test_levels(void)
{
	rf_log_set_level(RF_LOG_INFO);
	verbose("v1");
	debug("d1");
	logit("i1");
	error("e1");
	slurp(logpath);
	ok(strstr(text, "i1") && strstr(text, "e1") && !strstr(text, "v1") &&
	    !strstr(text, "d1"), "info: info and error, not verbose/debug");
	rf_log_set_level(RF_LOG_DEBUG2);
	debug2("d2");
	debug3("d3");
	slurp(logpath);
	ok(strstr(text, "d2") && !strstr(text, "d3"), "debug2 not debug3");
	rf_log_set_level(RF_LOG_QUIET);
	error("e2");
	is_int(slurp(logpath), 0, "quiet: not even errors");
	is_int(rf_log_enabled(RF_LOG_FATAL), 0, "quiet: fatal disabled");
	rf_log_set_level(RF_LOG_ERROR);
	is_int(rf_log_get_level(), RF_LOG_ERROR, "get_level");
	ok(rf_log_enabled(RF_LOG_ERROR) && !rf_log_enabled(RF_LOG_INFO),
	    "enabled follows the level");
	rf_log_set_level(RF_LOG_INFO);
}

static void
test_escape(void)
{
	char	 big[5000];
	size_t	 n;

	logit("peer said: %s", "a\nb\x1b[31mc\td\x7f\r");
	slurp(logpath);
	is_int(count_lines(text), 1, "a newline in a message makes no line");
	ok(strstr(text, ": peer said: a\\x0ab\\x1b[31mc\td\\x7f\\x0d\n") !=
	    NULL, "\\n ESC DEL CR escaped, tab kept");

	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	logit("%s", big);
	n = slurp(logpath);
	ok(n <= 2048 && n > 2000, "long line truncated to 2048 (%zu)", n);
	ok(n > 0 && text[n - 1] == '\n' && count_lines(text) == 1,
	    "truncated line still ends in one newline");

	memset(big, '\n', sizeof(big) - 1);
	logit("%s", big);
	n = slurp(logpath);
	ok(n <= 2048 && count_lines(text) == 1 &&
	    matches(text, "(\\\\x0a)+\n$"), "no escape cut in half");
}

static void
test_errno_kept(void)
{
	errno = ENOENT;
	logit("x");
	is_int(errno, ENOENT, "logging keeps errno");
	errno = 0;
	slurp(logpath);
}

static void
test_reopen(void)
{
	char		 rotated[400], sub[128], subpath[400], moved[128];
	struct stat	 st;

	snprintf(rotated, sizeof(rotated), "%s.1", logpath);
	logit("before");
	ok(rename(logpath, rotated) == 0, "rotate: rename the log");
	logit("still old");
	is_int(rf_log_reopen(), 0, "reopen");
	logit("after");
	slurp(rotated);
	ok(strstr(text, "before") && strstr(text, "still old") &&
	    !strstr(text, "after"), "lines before reopen in rotated file");
	slurp(logpath);
	ok(strstr(text, "after") && !strstr(text, "before"),
	    "lines after reopen in a new file");
	if (stat(logpath, &st) == -1)
		st.st_mode = 0;
	is_int(st.st_mode & 0777, 0640, "new file is mode 0640");

	/* A reopen that cannot open keeps the old file. */
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	snprintf(subpath, sizeof(subpath), "%s/log", sub);
	snprintf(moved, sizeof(moved), "%s/moved", dir);
	mkdir(sub, 0700);
	is_int(rf_log_set_target(RF_LOG_FILE, subpath, 0), 0, "switch file");
	rename(sub, moved);
	is_int(rf_log_reopen(), RF_ERR_SYS, "reopen fails: dir gone");
	logit("kept");
	snprintf(subpath, sizeof(subpath), "%s/log", moved);
	slurp(subpath);
	ok(strstr(text, "kept") != NULL, "the old fd still logs");
	is_int(rf_log_set_target(RF_LOG_FILE, "/nonexistent/dir/log", 0),
	    RF_ERR_SYS, "set_target to a bad path: SYS");
	logit("kept2");
	slurp(subpath);
	ok(strstr(text, "kept2") != NULL, "and the old target stays");
	is_int(rf_log_set_target(RF_LOG_FILE, logpath, 0), 0, "back");
	unlink(subpath);
	rmdir(moved);
	unlink(rotated);
}

/* Several processes, one file: every line must come out whole. */
static void
test_concurrent(void)
{
	char	 line[1500], re[128];
	pid_t	 pid;
	int	 i, k, status;

	slurp(logpath);
	for (k = 0; k < 4; k++) {
		if ((pid = fork()) == 0) {
			memset(line, 'a' + k, sizeof(line) - 1);
			line[sizeof(line) - 1] = '\0';
			for (i = 0; i < 200; i++)
				logit("%s", line);
			_exit(0);
		}
	}
	while (wait(&status) > 0)
		;
	slurp(logpath);
	is_int(count_lines(text), 800, "800 lines from 4 processes");
	snprintf(re, sizeof(re), "^(" TS_RE "[^\n]*\\]: master: "
	    "(a{1499}|b{1499}|c{1499}|d{1499})\n)+$");
	ok(matches(text, re), "no line interleaved with another");
}

static pid_t
fork_and_die(int assert)
{
	pid_t	 pid;

	if ((pid = fork()) != 0)
		return pid;
	if (assert)
		RF_ASSERT(1 == 2);
	fatal("cannot go on: %s", "boom");
}

static void
test_fatal(void)
{
	int	 status;

	waitpid(fork_and_die(0), &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 1, "fatal exits 1");
	slurp(logpath);
	ok(strstr(text, "master: cannot go on: boom\n") != NULL,
	    "fatal logs first");
	waitpid(fork_and_die(1), &status, 0);
	ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
	    "RF_ASSERT aborts");
	slurp(logpath);
	ok(strstr(text, "assertion failed: t/unit/log-test.c:") != NULL &&
	    strstr(text, ": 1 == 2\n") != NULL,
	    "assertion logs file:line: expr");
}

static void
test_names(void)
{
	enum rf_log_level	 l;
	int			 f;

	ok(rf_log_level_from_name("debug", &l) == 0 && l == RF_LOG_DEBUG1,
	    "debug = debug1");
	ok(rf_log_level_from_name("debug3", &l) == 0 && l == RF_LOG_DEBUG3,
	    "debug3");
	ok(rf_log_level_from_name("quiet", &l) == 0 && l == RF_LOG_QUIET,
	    "quiet");
	l = RF_LOG_INFO;
	ok(rf_log_level_from_name("loud", &l) == RF_ERR_INVAL && l == 0,
	    "unknown level: INVAL, cleared");
	is_str(rf_log_level_name(RF_LOG_VERBOSE), "verbose", "level name");
	ok(rf_log_facility_from_name("local3", &f) == 0 && f == LOG_LOCAL3,
	    "local3");
	ok(rf_log_facility_from_name("authpriv", &f) == 0 &&
	    f == LOG_AUTHPRIV, "authpriv");
	ok(rf_log_facility_from_name("kern", &f) == RF_ERR_INVAL,
	    "unknown facility: INVAL");
	is_str(rf_log_facility_name(LOG_DAEMON), "daemon", "facility name");
}

static void
test_stderr(void)
{
	char	 path[400], re[256];
	int	 fd, saved;

	snprintf(path, sizeof(path), "%s/stderr", dir);
	fflush(stderr);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    (saved = dup(STDERR_FILENO)) == -1) {
		ok(0, "redirect stderr: %s", strerror(errno));
		return;
	}
	dup2(fd, STDERR_FILENO);
	close(fd);
	rf_log_set_target(RF_LOG_STDERR, NULL, 0);
	error_f("to stderr");
	dup2(saved, STDERR_FILENO);
	close(saved);
	slurp(path);
	unlink(path);
	snprintf(re, sizeof(re), TS_RE "reflectord\\[%ld\\]: master: "
	    "test_stderr: to stderr\n$", (long)getpid());
	ok(matches(text, re), "stderr target: same format");
	rf_log_set_target(RF_LOG_FILE, logpath, 0);
}

int
main(void)
{
	int	 r;

	umask(022);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 255;
	}
	snprintf(logpath, sizeof(logpath), "%s/log", dir);
	rf_log_init("reflectord");
	is_int(rf_log_set_target(RF_LOG_FILE, logpath, LOG_DAEMON), 0,
	    "log to a file");
	test_format();
	test_levels();
	test_escape();
	test_errno_kept();
	test_reopen();
	test_concurrent();
	test_fatal();
	test_names();
	test_stderr();
	r = done_testing();
	rf_log_set_target(RF_LOG_STDERR, NULL, 0);
	unlink(logpath);
	rmdir(dir);
	return r;
}
