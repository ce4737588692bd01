/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Logging in the manner of OpenSSH's log.h: one call per line, levels from
 * fatal to debug3, to stderr, syslog or a file.  Every line names the
 * process role ("master", "worker 3") so that a log shared by all processes
 * can be read.  Not thread-safe; every process here is single-threaded.
 */
#ifndef RF_LOG_H
#define RF_LOG_H

#include <stdarg.h>

enum rf_log_level {
	RF_LOG_QUIET = 0,
	RF_LOG_FATAL,
	RF_LOG_ERROR,
	RF_LOG_INFO,
	RF_LOG_VERBOSE,
	RF_LOG_DEBUG1,
	RF_LOG_DEBUG2,
	RF_LOG_DEBUG3,
};

enum rf_log_target {
	RF_LOG_STDERR = 0,
	RF_LOG_SYSLOG,
	RF_LOG_FILE,
};

/* Starts logging to stderr at RF_LOG_INFO; progname is kept by pointer. */
void	rf_log_init(const char *progname);
/* The role printed on every line; copied. */
void	rf_log_set_role(const char *role);
void	rf_log_set_level(enum rf_log_level);
enum rf_log_level rf_log_get_level(void);
/*
 * Switches the target.  For RF_LOG_FILE the file is opened for append
 * (created 0640); on failure the old target stays and RF_ERR_SYS returns.
 * facility is a syslog facility (LOG_DAEMON...), used for RF_LOG_SYSLOG.
 */
int	rf_log_set_target(enum rf_log_target, const char *file, int facility);
/*
 * While on, errors and fatal lines also go to stderr when the target is
 * not stderr: a daemon that fails to start says why where it was started.
 */
void	rf_log_set_stderr_copy(int);
/* Reopens the log file (SIGUSR1 after rotation); a no-op for other targets. */
int	rf_log_reopen(void);
/* Names as used in the config: "quiet", "fatal", "error", "info", ... */
int	rf_log_level_from_name(const char *, enum rf_log_level *);
const char *rf_log_level_name(enum rf_log_level);
int	rf_log_facility_from_name(const char *, int *);
const char *rf_log_facility_name(int);
/* 1 if a message at this level would be written. */
int	rf_log_enabled(enum rf_log_level);

void	rf_log(enum rf_log_level, const char *func, int showfunc,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void	rf_logv(enum rf_log_level, const char *func, int showfunc,
	    const char *fmt, va_list);
void	rf_fatal(const char *func, int showfunc, const char *fmt, ...)
	    __attribute__((noreturn, format(printf, 3, 4)));
void	rf_assert_fail(const char *file, int line, const char *expr)
	    __attribute__((noreturn));

#define fatal(...)	rf_fatal(__func__, 0, __VA_ARGS__)
#define fatal_f(...)	rf_fatal(__func__, 1, __VA_ARGS__)
#define error(...)	rf_log(RF_LOG_ERROR, __func__, 0, __VA_ARGS__)
#define error_f(...)	rf_log(RF_LOG_ERROR, __func__, 1, __VA_ARGS__)
#define logit(...)	rf_log(RF_LOG_INFO, __func__, 0, __VA_ARGS__)
#define logit_f(...)	rf_log(RF_LOG_INFO, __func__, 1, __VA_ARGS__)
#define verbose(...)	rf_log(RF_LOG_VERBOSE, __func__, 0, __VA_ARGS__)
#define verbose_f(...)	rf_log(RF_LOG_VERBOSE, __func__, 1, __VA_ARGS__)
#define debug(...)	rf_log(RF_LOG_DEBUG1, __func__, 0, __VA_ARGS__)
#define debug_f(...)	rf_log(RF_LOG_DEBUG1, __func__, 1, __VA_ARGS__)
#define debug2(...)	rf_log(RF_LOG_DEBUG2, __func__, 0, __VA_ARGS__)
#define debug2_f(...)	rf_log(RF_LOG_DEBUG2, __func__, 1, __VA_ARGS__)
#define debug3(...)	rf_log(RF_LOG_DEBUG3, __func__, 0, __VA_ARGS__)
#define debug3_f(...)	rf_log(RF_LOG_DEBUG3, __func__, 1, __VA_ARGS__)

/* A broken internal invariant: log and abort (Postfix's msg_panic). */
#define RF_ASSERT(e) \
	((e) ? (void)0 : rf_assert_fail(__FILE__, __LINE__, #e))

#endif
