/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Small pieces of daemon bookkeeping shared by the master and the
 * workers: directories, the pid file, descriptor flags.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "err.h"
#include "log.h"
#include "reflectord.h"

/* Like mkdir -p; an existing directory is fine. */
int
rf_mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX], *p;

	if (strlen(path) >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return RF_ERR_SYS;
	}
	strcpy(buf, path);
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) == -1 && errno != EEXIST)
			return RF_ERR_SYS;
		*p = '/';
	}
	if (mkdir(buf, mode) == -1 && errno != EEXIST)
		return RF_ERR_SYS;
	return 0;
}

/*
 * Writes our pid to path through a temporary file and rename(), so that
 * nobody ever reads a half-written pid file.
 */
int
rf_pidfile_write(const char *path)
{
	char tmp[PATH_MAX];
	FILE *f;
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return RF_ERR_SYS;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1)
		return RF_ERR_SYS;
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		return RF_ERR_SYS;
	}
	fprintf(f, "%ld\n", (long)getpid());
	if (fclose(f) == EOF || rename(tmp, path) == -1) {
		unlink(tmp);
		return RF_ERR_SYS;
	}
	return 0;
}

int
rf_set_cloexec(int fd)
{
	int fl;

	if ((fl = fcntl(fd, F_GETFD)) == -1 ||
	    fcntl(fd, F_SETFD, fl | FD_CLOEXEC) == -1)
		return RF_ERR_SYS;
	return 0;
}

int
rf_set_nonblock(int fd)
{
	int fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return RF_ERR_SYS;
	return 0;
}

int
rf_read_fd(int fd, size_t max, char **bufp, size_t *lenp)
{
	struct stat st;
	size_t len = 0;
	ssize_t n;
	char *buf;

	*bufp = NULL;
	*lenp = 0;
	if (fstat(fd, &st) == -1)
		return RF_ERR_SYS;
	if (st.st_size < 0 || (size_t)st.st_size > max) {
		errno = EFBIG;
		return RF_ERR_SYS;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		return RF_ERR_NOMEM;
	while (len < (size_t)st.st_size) {
		n = pread(fd, buf + len, (size_t)st.st_size - len, (off_t)len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			if (n == 0)
				errno = EIO;	/* shrank while read */
			return RF_ERR_SYS;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	return 0;
}

int
rf_read_file(const char *path, size_t max, char **bufp, size_t *lenp)
{
	int fd, r, saved;

	*bufp = NULL;
	*lenp = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return RF_ERR_SYS;
	r = rf_read_fd(fd, max, bufp, lenp);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

unsigned long long
rf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000 +
	    (unsigned long long)ts.tv_nsec / 1000000;
}

/* An rf_conf_errfn/rf_tls_errfn that logs each line as an error. */
void
rf_log_error_line(void *arg, const char *line)
{
	(void)arg;
	error("%s", line);
}

/*
 * Applies log.target, log.file, log.facility and log.level, unless -d
 * fixed them for the life of the process.
 */
void
rf_apply_log_conf(const struct rf_conf *conf, int log_override)
{
	if (log_override)
		return;
	if (rf_log_set_target(conf->log_target, conf->log_file,
	    conf->log_facility) != 0)
		error("cannot open log file %s: %s", conf->log_file,
		    strerror(errno));
	rf_log_set_level(conf->log_level);
}
