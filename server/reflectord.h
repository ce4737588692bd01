/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the master and the workers of reflectord share: the listening
 * sockets the master made and the entry points of each process role.
 */
#ifndef RF_REFLECTORD_H
#define RF_REFLECTORD_H

#include <sys/types.h>
#include <time.h>

struct rf_conf;

#define RF_MAX_WORKERS	256

#ifndef RF_VERSION
#define RF_VERSION	"unknown"
#endif

/*
 * One configured listener.  The master binds one SO_REUSEPORT socket per
 * worker slot and keeps all of them open for its whole life, so that a
 * respawned worker inherits the very socket its predecessor accepted from
 * and connections queued in its backlog meanwhile are not lost.
 */
struct rf_listener {
	char	*address;		/* as configured */
	int	 tls;
	int	 fds[RF_MAX_WORKERS];	/* per slot, -1 once closed */
};

/*
 * What a worker is given at fork: everything that a reload cannot change
 * is here, copied out of the configuration at master start, so that a
 * reload never needs to reach it.
 */
struct rf_worker_args {
	int			 slot;
	unsigned int		 generation;	/* per slot, counts spawns */
	int			 chan_fd;	/* to the master */
	struct rf_listener	*listeners;
	size_t			 nlisteners;
	const char		*run_dir;
	const char		*state_dir;
	const char		*domain;
	int			 header_max;
	int			 handshake_timeout;
	time_t			 master_start;
	int			 log_override;	/* -d given */
	int			 nworkers;
	int			 inbox_write[RF_MAX_WORKERS]; /* any slot's */
	int			 inbox_read;	/* this slot's hand-offs */
};

/* server/master.c */
int	rf_master_main(const char *conf_path, struct rf_conf *conf,
	    int foreground, int log_override);

/* server/worker.c; never returns */
void	rf_worker_main(const struct rf_worker_args *, struct rf_conf *)
	    __attribute__((noreturn));

/* server/listen.c */
struct rf_conf_listen;
int	rf_listen_open(struct rf_listener *, const struct rf_conf_listen *,
	    int nslots);
void	rf_listen_close_all(struct rf_listener *, size_t n, int nslots);

/* server/proc.c: helpers for daemon bookkeeping */
int	rf_mkdir_p(const char *path, mode_t mode);
int	rf_pidfile_write(const char *path);
int	rf_set_cloexec(int fd);
int	rf_set_nonblock(int fd);
/* Reads a whole file of at most max bytes; *bufp is malloc'ed, NUL-ended. */
int	rf_read_file(const char *path, size_t max, char **bufp, size_t *lenp);
/* The same from a descriptor with pread (offset 0), for a shared memfd. */
int	rf_read_fd(int fd, size_t max, char **bufp, size_t *lenp);
void	rf_log_error_line(void *arg, const char *line);
void	rf_apply_log_conf(const struct rf_conf *, int log_override);
/* Milliseconds of CLOCK_MONOTONIC. */
unsigned long long rf_now_ms(void);

#endif
