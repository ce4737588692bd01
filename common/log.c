/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Log lines to stderr, syslog or a file shared by every process.  Each line
 * is built whole in a local buffer and written with one write(2), so lines
 * from several processes appending to one file never interleave, and the
 * message is escaped so that bytes from a peer cannot forge a line.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "log.h"

/* Longest line written, newline included; longer ones are truncated. */
#define RF_LOG_LINE_MAX	2048

static const char	*log_progname = "reflectord";
static char		 log_role[64];
static enum rf_log_level log_level = RF_LOG_INFO;
static enum rf_log_target log_target = RF_LOG_STDERR;
static int		 log_stderr_copy;	/* errors to stderr too */
static int		 log_fd = -1;		/* RF_LOG_FILE only */
static char		*log_path;		/* RF_LOG_FILE only */

static const char *const level_names[] = {
	[RF_LOG_QUIET] = "quiet",
	[RF_LOG_FATAL] = "fatal",
	[RF_LOG_ERROR] = "error",
	[RF_LOG_INFO] = "info",
	[RF_LOG_VERBOSE] = "verbose",
	[RF_LOG_DEBUG1] = "debug1",
	[RF_LOG_DEBUG2] = "debug2",
	[RF_LOG_DEBUG3] = "debug3",
};

static const struct {
	const char	*name;
	int		 facility;
} facilities[] = {
	{ "daemon", LOG_DAEMON },
	{ "user", LOG_USER },
	{ "auth", LOG_AUTH },
	{ "authpriv", LOG_AUTHPRIV },
	{ "local0", LOG_LOCAL0 },
	{ "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 },
	{ "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 },
	{ "local7", LOG_LOCAL7 },
};

void
rf_log_init(const char *progname)
{
	if (progname != NULL && *progname != '\0')
		log_progname = progname;
	log_level = RF_LOG_INFO;
	(void)rf_log_set_target(RF_LOG_STDERR, NULL, 0);
}

void
rf_log_set_role(const char *role)
{
	if (role == NULL)
		role = "";
	snprintf(log_role, sizeof(log_role), "%s", role);
}

void
rf_log_set_level(enum rf_log_level level)
{
	if (level > RF_LOG_DEBUG3)
		level = RF_LOG_DEBUG3;
	log_level = level;
}

enum rf_log_level
rf_log_get_level(void)
{
	return log_level;
}

int
rf_log_enabled(enum rf_log_level level)
{
	return level != RF_LOG_QUIET && level <= log_level;
}

static int
log_open_file(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

/* Drops whatever the current target holds open. */
static void
log_close_target(void)
{
	if (log_target == RF_LOG_SYSLOG)
		closelog();
	if (log_fd != -1)
		close(log_fd);
	log_fd = -1;
	free(log_path);
	log_path = NULL;
}

int
rf_log_set_target(enum rf_log_target target, const char *file, int facility)
{
	char	*path = NULL;
	int	 fd = -1;

	switch (target) {
	case RF_LOG_STDERR:
	case RF_LOG_SYSLOG:
		break;
	case RF_LOG_FILE:
		if (file == NULL || *file == '\0')
			return RF_ERR_INVAL;
		/* Open first: on failure the old target keeps working. */
		if ((fd = log_open_file(file)) == -1)
			return RF_ERR_SYS;
		if ((path = strdup(file)) == NULL) {
			close(fd);
			return RF_ERR_NOMEM;
		}
		break;
	default:
		return RF_ERR_INVAL;
	}
	log_close_target();
	log_target = target;
	log_fd = fd;
	log_path = path;
	if (target == RF_LOG_SYSLOG)
		openlog(log_progname, LOG_PID | LOG_NDELAY, facility);
	return 0;
}

int
rf_log_reopen(void)
{
	int	 fd;

	if (log_target != RF_LOG_FILE)
		return 0;
	/* Keep the old fd if the new open fails: a log is better than none. */
	if ((fd = log_open_file(log_path)) == -1)
		return RF_ERR_SYS;
	close(log_fd);
	log_fd = fd;
	return 0;
}

int
rf_log_level_from_name(const char *name, enum rf_log_level *level)
{
	size_t	 i;

	*level = RF_LOG_QUIET;
	if (name == NULL)
		return RF_ERR_INVAL;
	if (strcasecmp(name, "debug") == 0) {
		*level = RF_LOG_DEBUG1;
		return 0;
	}
	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(name, level_names[i]) == 0) {
			*level = (enum rf_log_level)i;
			return 0;
		}
	}
	return RF_ERR_INVAL;
}

const char *
rf_log_level_name(enum rf_log_level level)
{
	if ((size_t)level >= sizeof(level_names) / sizeof(level_names[0]))
		return "unknown";
	return level_names[level];
}

int
rf_log_facility_from_name(const char *name, int *facility)
{
	size_t	 i;

	*facility = 0;
	if (name == NULL)
		return RF_ERR_INVAL;
	for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++) {
		if (strcasecmp(name, facilities[i].name) == 0) {
			*facility = facilities[i].facility;
			return 0;
		}
	}
	return RF_ERR_INVAL;
}

const char *
rf_log_facility_name(int facility)
{
	size_t	 i;

	for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++) {
		if (facilities[i].facility == facility)
			return facilities[i].name;
	}
	return "unknown";
}

static int
log_syslog_priority(enum rf_log_level level)
{
	switch (level) {
	case RF_LOG_FATAL:
		return LOG_CRIT;
	case RF_LOG_ERROR:
		return LOG_ERR;
	case RF_LOG_INFO:
	case RF_LOG_VERBOSE:
		return LOG_INFO;
	default:
		return LOG_DEBUG;
	}
}

/*
 * Copies src into dst (size n > 0, always NUL-terminated), escaping control
 * characters other than tab as \xNN: a newline or an escape sequence from a
 * peer must not start a forged line or drive the reader's terminal.  An
 * escape that does not fit is dropped whole.  Returns the length written.
 */
static size_t
log_escape(char *dst, size_t n, const char *src)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*s = (const unsigned char *)src;
	size_t			 o = 0;

	for (; *s != '\0'; s++) {
		if ((*s < 0x20 && *s != '\t') || *s == 0x7f) {
			if (o + 4 >= n)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[*s >> 4];
			dst[o++] = hex[*s & 0xf];
		} else {
			if (o + 1 >= n)
				break;
			dst[o++] = (char)*s;
		}
	}
	dst[o] = '\0';
	return o;
}

/* "2026-11-24T23:59:00.123Z"; an empty string if the clock fails. */
static void
log_timestamp(char *dst, size_t n)
{
	struct timespec	 ts;
	struct tm	 tm;
	char		 secs[32];

	dst[0] = '\0';
	if (clock_gettime(CLOCK_REALTIME, &ts) == -1 ||
	    gmtime_r(&ts.tv_sec, &tm) == NULL ||
	    strftime(secs, sizeof(secs), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return;
	snprintf(dst, n, "%s.%03uZ", secs,
	    (unsigned int)(ts.tv_nsec / 1000000) % 1000);
}

/* Writes all of a line with one write(2): O_APPEND keeps it whole. */
static void
log_write_line(int fd, const char *line, size_t len)
{
	while (write(fd, line, len) == -1 && errno == EINTR)
		;
}

/* snprintf at line + *len, never moving *len past n - 1. */
static void __attribute__((format(printf, 4, 5)))
log_append(char *line, size_t n, size_t *len, const char *fmt, ...)
{
	va_list	 ap;
	int	 r;

	va_start(ap, fmt);
	r = vsnprintf(line + *len, n - *len, fmt, ap);
	va_end(ap);
	if (r > 0)
		*len = *len + (size_t)r < n ? *len + (size_t)r : n - 1;
}

/*
 * Writes the head of a line: "TIME PROG[PID]: " when stamp is set (syslog
 * stamps its own), then "ROLE: " and "func: ".  Returns its length.
 */
static size_t
log_head(char *line, size_t n, const char *func, int showfunc, int stamp)
{
	char	 ts[64];
	size_t	 len = 0;

	line[0] = '\0';
	if (stamp) {
		log_timestamp(ts, sizeof(ts));
		log_append(line, n, &len, "%s %s[%ld]: ", ts, log_progname,
		    (long)getpid());
	}
	if (log_role[0] != '\0')
		log_append(line, n, &len, "%s: ", log_role);
	if (showfunc && func != NULL)
		log_append(line, n, &len, "%s: ", func);
	return len;
}

void
rf_logv(enum rf_log_level level, const char *func, int showfunc,
    const char *fmt, va_list ap)
{
	char	 msg[RF_LOG_LINE_MAX];
	char	 line[RF_LOG_LINE_MAX];
	size_t	 len;
	int	 saved_errno = errno;

	if (!rf_log_enabled(level))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	len = log_head(line, sizeof(line), func, showfunc,
	    log_target != RF_LOG_SYSLOG);
	/* Escaping into what is left truncates the line, never an escape. */
	len += log_escape(line + len, sizeof(line) - len, msg);
	if (log_target == RF_LOG_SYSLOG)
		syslog(log_syslog_priority(level), "%s", line);
	else {
		line[len++] = '\n';	/* over the NUL: len < sizeof(line) */
		log_write_line(log_target == RF_LOG_FILE ? log_fd :
		    STDERR_FILENO, line, len);
	}
	if (log_stderr_copy && log_target != RF_LOG_STDERR &&
	    level <= RF_LOG_ERROR) {
		len = log_head(line, sizeof(line), func, showfunc, 0);
		len += log_escape(line + len, sizeof(line) - len, msg);
		log_append(line, sizeof(line), &len, "\n");
		fprintf(stderr, "%s: %s", log_progname, line);
	}
	/* Callers log a failure and then return RF_ERR_SYS: keep errno. */
	errno = saved_errno;
}

void
rf_log_set_stderr_copy(int on)
{
	log_stderr_copy = on;
}

void
rf_log(enum rf_log_level level, const char *func, int showfunc,
    const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	rf_logv(level, func, showfunc, fmt, ap);
	va_end(ap);
}

void
rf_fatal(const char *func, int showfunc, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	rf_logv(RF_LOG_FATAL, func, showfunc, fmt, ap);
	va_end(ap);
	/* exit, not abort: fatal is the environment, not a bug to core. */
	exit(1);
}

void
rf_assert_fail(const char *file, int line, const char *expr)
{
	rf_log(RF_LOG_FATAL, NULL, 0, "assertion failed: %s:%d: %s", file,
	    line, expr);
	abort();
}
