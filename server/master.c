/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The master process.
 *
 * Lifecycle.  The master loads the configuration (main.c), binds one
 * listening socket per listener and worker slot (listen.c), resets the
 * routing map in LMDB, detaches unless -f, drops privileges, writes the
 * pid file and forks one worker per slot.  From then on it only supervises:
 * it parses no network input.  Its loop polls a signalfd and one
 * SOCK_SEQPACKET channel per worker (msg.c); all signal work happens in the
 * loop, never in a handler.
 *
 * Workers.  A process table holds pid, slot, generation and state per
 * slot.  A worker is STARTING until it sends READY.  When a worker dies the
 * master reaps it, clears its slot's entries from the ownership map and the
 * reader slots it held in LMDB, and forks a replacement into the same slot,
 * which inherits the same listening sockets.  A worker that dies before it
 * was ready is respawned after a delay that doubles with each such death
 * (0.5 s up to 32 s), so a broken environment does not become a fork loop.
 *
 * Reload (SIGHUP).  The file is read once into memory and parsed into a new
 * configuration; with any error, or a certificate that does not load, the
 * running configuration stays and the error is logged.  Otherwise keys that
 * a reload cannot change keep their running values (and a warning names
 * each), the bytes are put in a sealed memfd, and every worker gets that
 * memfd in a RELOAD message: all workers parse the very bytes the master
 * checked, even if the file changes meanwhile.  Workers apply it in place
 * (certificate, log, limits, users, devices) without closing a connection
 * and answer RELOAD_RESULT.  A worker forked later starts from the master's
 * current configuration.
 *
 * Stop.  SIGTERM/SIGINT: workers get SIGTERM, the master waits for them (up
 * to 10 s, then SIGKILL), removes the pid file and exits 0.  SIGQUIT: the
 * master closes its listening sockets and sends STOP; each worker stops
 * accepting, lets requests in flight finish and exits when it has no
 * connection left or drain_timeout has passed; the master kills what is
 * left 5 s after that.  SIGUSR1 reopens the log file here and in workers.
 *
 * Races.  A worker may die while a message to it is queued: its channel is
 * closed on reap and the queue freed with it.  SIGCHLD is coalesced, so
 * reaping loops on waitpid(WNOHANG) until nothing is left.  Signals are
 * blocked from the start, so one sent before the loop runs waits for it.
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "cache.h"
#include "conf.h"
#include "db.h"
#include "err.h"
#include "log.h"
#include "msg.h"
#include "reflectord.h"
#include "tls.h"

#define RF_CONF_MAX_BYTES	(16 * 1024 * 1024)
#define RF_STOP_GRACE_MS	5000
#define RF_FAST_STOP_MS		10000
#define RF_RESPAWN_MIN_MS	500
#define RF_RESPAWN_MAX_MS	32000

enum proc_state {
	PROC_EMPTY = 0,		/* no process in this slot */
	PROC_STARTING,		/* forked, not READY yet */
	PROC_READY,		/* serving */
	PROC_STOPPING,		/* told to stop or terminated */
};

struct proc {
	pid_t			 pid;
	int			 slot;
	unsigned int		 generation;	/* spawns of this slot */
	enum proc_state		 state;
	struct rf_chan		 chan;		/* fd -1 when closed */
	unsigned long long	 started_ms;
	int			 failures;	/* deaths before READY */
	unsigned long long	 respawn_at;	/* 0: none scheduled */
	unsigned int		 reload_gen;	/* RELOAD awaiting a result */
};

enum master_state {
	MASTER_RUNNING,
	MASTER_STOPPING_GRACEFUL,
	MASTER_STOPPING_FAST,
};

static struct {
	const char		*conf_path;
	struct rf_conf		*conf;
	int			 log_override;	/* -d: keep stderr/debug */
	int			 nworkers;
	struct rf_listener	*listeners;
	size_t			 nlisteners;
	struct proc		 procs[RF_MAX_WORKERS];
	int			 inbox[RF_MAX_WORKERS][2]; /* write, read */
	int			 sigfd;
	enum master_state	 state;
	unsigned long long	 stop_deadline;
	int			 killed;	/* SIGKILL sent at deadline */
	char			*pid_file;
	char			*run_dir;
	char			*state_dir;
	char			*domain;
	int			 header_max;
	int			 handshake_timeout;
	unsigned int		 reload_gen;
	int			 cache_made;	/* cache.mdb made and emptied */
	int			 ready_fd;	/* to the waiting parent, or -1 */
	time_t			 start;
} M;

static void	master_reload(void);
static void	master_stop_fast(void);
static void	master_stop_graceful(void);
static void	master_reopen_logs(void);
static void	master_reap(void);

/* One table maps each signal to what the loop does about it. */
static const struct {
	int		 sig;
	void		(*fn)(void);
} sigtab[] = {
	{ SIGHUP,	master_reload },
	{ SIGTERM,	master_stop_fast },
	{ SIGINT,	master_stop_fast },
	{ SIGQUIT,	master_stop_graceful },
	{ SIGUSR1,	master_reopen_logs },
	{ SIGCHLD,	master_reap },
};

static int
live_workers(void)
{
	int i, n = 0;

	for (i = 0; i < M.nworkers; i++)
		if (M.procs[i].state != PROC_EMPTY)
			n++;
	return n;
}

/*
 * In a new worker: closes every descriptor that belongs to the master or
 * to other slots, so that a worker's channel reaches EOF when that worker
 * exits and no worker accepts from another slot's socket.
 */
static void
child_close_inherited(int slot)
{
	size_t i;
	int s;

	close(M.sigfd);
	if (M.ready_fd != -1)
		close(M.ready_fd);
	for (s = 0; s < M.nworkers; s++) {
		if (M.procs[s].chan.fd != -1)
			close(M.procs[s].chan.fd);
		if (s == slot)
			continue;
		close(M.inbox[s][1]);
		for (i = 0; i < M.nlisteners; i++)
			if (M.listeners[i].fds[s] != -1)
				close(M.listeners[i].fds[s]);
	}
}

static void
spawn_worker(int slot)
{
	struct proc *p = &M.procs[slot];
	struct rf_worker_args args;
	int sv[2], i;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, sv) == -1) {
		error("socketpair for worker %d: %s", slot, strerror(errno));
		p->respawn_at = rf_now_ms() + RF_RESPAWN_MAX_MS;
		return;
	}
	p->generation++;
	if ((pid = fork()) == -1) {
		error("fork worker %d: %s", slot, strerror(errno));
		close(sv[0]);
		close(sv[1]);
		p->respawn_at = rf_now_ms() + RF_RESPAWN_MAX_MS;
		return;
	}
	if (pid == 0) {
		close(sv[0]);
		child_close_inherited(slot);
		memset(&args, 0, sizeof(args));
		args.slot = slot;
		args.generation = p->generation;
		args.chan_fd = sv[1];
		args.listeners = M.listeners;
		args.nlisteners = M.nlisteners;
		args.run_dir = M.run_dir;
		args.state_dir = M.state_dir;
		args.domain = M.domain;
		args.header_max = M.header_max;
		args.handshake_timeout = M.handshake_timeout;
		args.master_start = M.start;
		args.log_override = M.log_override;
		args.nworkers = M.nworkers;
		for (i = 0; i < M.nworkers; i++)
			args.inbox_write[i] = M.inbox[i][0];
		args.inbox_read = M.inbox[slot][1];
		rf_worker_main(&args, M.conf);
	}
	close(sv[1]);
	rf_chan_init(&p->chan, sv[0]);
	p->pid = pid;
	p->slot = slot;
	p->state = PROC_STARTING;
	p->started_ms = rf_now_ms();
	p->respawn_at = 0;
	p->reload_gen = 0;
	verbose("started worker %d (pid %ld, generation %u)", slot, (long)pid,
	    p->generation);
}

/* The routing map must not name a worker that is gone. */
static void
clean_worker_state(int slot)
{
	struct rf_db *db;
	size_t n = 0;
	int dead = 0, r;

	if ((r = rf_db_open(&db, M.run_dir, RF_DB_ROUTING, 0)) != 0) {
		error("cannot open routing map to clean worker %d: %s", slot,
		    rf_strerror(r));
		return;
	}
	if ((r = rf_db_reader_check(db, &dead)) != 0)
		error("LMDB reader check: %s", rf_strerror(r));
	if ((r = rf_db_owner_purge_slot(db, (uint32_t)slot, &n)) != 0)
		error("cannot clean routing entries of worker %d: %s", slot,
		    rf_strerror(r));
	rf_db_close(db);
	if (n > 0 || dead > 0)
		logit("worker %d: removed %zu routing entries and %d stale "
		    "LMDB readers", slot, n, dead);
	if (M.cache_made && rf_cache_reader_check(M.conf, &dead) == 0 &&
	    dead > 0)
		logit("worker %d: removed %d stale cache readers", slot, dead);
}

static void
describe_exit(const struct proc *p, int status, int expected)
{
	char how[64];

	if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "killed by signal %d%s",
		    WTERMSIG(status), WCOREDUMP(status) ? " (core dumped)" : "");
	else
		snprintf(how, sizeof(how), "exited with status %d",
		    WEXITSTATUS(status));
	if (expected && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		verbose("worker %d (pid %ld) %s", p->slot, (long)p->pid, how);
	else
		error("worker %d (pid %ld) %s", p->slot, (long)p->pid, how);
}

static void
worker_died(struct proc *p, int status)
{
	unsigned long long delay = 0;
	int was_starting = p->state == PROC_STARTING;

	describe_exit(p, status, M.state != MASTER_RUNNING ||
	    p->state == PROC_STOPPING);
	rf_chan_close(&p->chan);
	p->pid = 0;
	p->state = PROC_EMPTY;
	clean_worker_state(p->slot);
	if (M.state != MASTER_RUNNING)
		return;
	if (was_starting) {
		p->failures++;
		delay = RF_RESPAWN_MIN_MS << (p->failures > 7 ? 6 :
		    p->failures - 1);
		if (delay > RF_RESPAWN_MAX_MS)
			delay = RF_RESPAWN_MAX_MS;
		error("worker %d died during start-up (%d in a row); "
		    "respawning in %llu ms", p->slot, p->failures, delay);
	}
	p->respawn_at = rf_now_ms() + delay;
}

static void
master_reap(void)
{
	pid_t pid;
	int status, i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < M.nworkers; i++) {
			if (M.procs[i].pid == pid) {
				worker_died(&M.procs[i], status);
				break;
			}
		}
	}
	if (pid == -1 && errno != ECHILD)
		error("waitpid: %s", strerror(errno));
}

static void
send_to_workers(uint32_t type, int fd, uint32_t id)
{
	struct proc *p;
	int i, dupfd;

	for (i = 0; i < M.nworkers; i++) {
		p = &M.procs[i];
		if (p->state == PROC_EMPTY || p->chan.fd == -1)
			continue;
		dupfd = -1;
		if (fd != -1 && (dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1) {
			error("dup: %s", strerror(errno));
			continue;
		}
		if (type == RF_MSG_RELOAD)
			p->reload_gen = id;
		if (rf_chan_compose(&p->chan, type, UINT32_MAX, id, dupfd,
		    NULL, 0) != 0 && rf_chan_pending(&p->chan) == 0)
			error("cannot send %s to worker %d",
			    rf_msg_type_name(type), i);
	}
}

/* A sealed memfd holding exactly the bytes the master checked. */
static int
make_config_memfd(const char *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;
	int fd;

	fd = memfd_create("reflector.yml", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd == -1)
		return -1;
	while (off < len) {
		if ((n = write(fd, buf + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
	    F_SEAL_SEAL) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
restart_key_warning(void *arg, const char *line)
{
	(void)arg;
	logit("%s", line);
}

static void
master_reload(void)
{
	struct rf_tls_pair pair;
	struct rf_conf *conf;
	size_t len;
	char *buf;
	int fd;

	if (M.state != MASTER_RUNNING)
		return;
	logit("reloading configuration from %s", M.conf_path);
	if (rf_read_file(M.conf_path, RF_CONF_MAX_BYTES, &buf, &len) != 0) {
		error("reload failed: cannot read %s: %s; keeping the running "
		    "configuration", M.conf_path, strerror(errno));
		return;
	}
	if (rf_conf_load_mem(buf, len, M.conf_path, &conf, rf_log_error_line,
	    NULL) != 0) {
		error("reload failed: %s is invalid; keeping the running "
		    "configuration", M.conf_path);
		free(buf);
		return;
	}
	if (rf_tls_pair_load(conf, &pair, rf_log_error_line, NULL) != 0) {
		error("reload failed: TLS files do not load; keeping the "
		    "running configuration");
		rf_conf_free(conf);
		free(buf);
		return;
	}
	rf_tls_pair_free(&pair);
	rf_conf_restart_keys(M.conf, conf, restart_key_warning, NULL);
	rf_conf_keep_restart_keys(conf, M.conf);
	/* Before any worker has the configuration that uses the cache. */
	if (!M.cache_made && rf_cache_any(conf)) {
		if (rf_cache_reset(conf) != 0) {
			error("reload failed: cannot create the cache; keeping "
			    "the running configuration");
			rf_conf_free(conf);
			free(buf);
			return;
		}
		M.cache_made = 1;
	}
	if ((fd = make_config_memfd(buf, len)) == -1) {
		error("reload failed: memfd: %s", strerror(errno));
		rf_conf_free(conf);
		free(buf);
		return;
	}
	free(buf);
	M.reload_gen++;
	send_to_workers(RF_MSG_RELOAD, fd, M.reload_gen);
	close(fd);
	rf_conf_free(M.conf);
	M.conf = conf;
	rf_apply_log_conf(M.conf, M.log_override);
	logit("configuration generation %u sent to %d workers", M.reload_gen,
	    live_workers());
}

static void
reload_result(struct proc *p, const struct rf_msg *m)
{
	uint32_t status = 1;
	int i;

	if (m->hdr.len == sizeof(status))
		memcpy(&status, m->data, sizeof(status));
	if (status != 0)
		error("worker %d could not apply configuration generation %u; "
		    "it keeps its previous one", p->slot, m->hdr.id);
	if (p->reload_gen == m->hdr.id)
		p->reload_gen = 0;
	for (i = 0; i < M.nworkers; i++)
		if (M.procs[i].state != PROC_EMPTY && M.procs[i].reload_gen)
			return;
	logit("configuration generation %u applied by all workers",
	    m->hdr.id);
}

static void
master_reopen_logs(void)
{
	if (rf_log_reopen() != 0)
		error("cannot reopen log file: %s", strerror(errno));
	else
		logit("log file reopened");
	send_to_workers(RF_MSG_REOPEN_LOGS, -1, 0);
}

static void
begin_stop(enum master_state state, unsigned long long within_ms)
{
	int i;

	M.state = state;
	M.stop_deadline = rf_now_ms() + within_ms;
	for (i = 0; i < M.nworkers; i++) {
		M.procs[i].respawn_at = 0;
		if (M.procs[i].state != PROC_EMPTY)
			M.procs[i].state = PROC_STOPPING;
	}
}

static void
master_stop_fast(void)
{
	int i;

	if (M.state == MASTER_STOPPING_FAST)
		return;
	logit("fast stop: terminating %d workers", live_workers());
	begin_stop(MASTER_STOPPING_FAST, RF_FAST_STOP_MS);
	for (i = 0; i < M.nworkers; i++)
		if (M.procs[i].pid > 0 && kill(M.procs[i].pid, SIGTERM) == -1)
			error("kill worker %d: %s", i, strerror(errno));
}

static void
master_stop_graceful(void)
{
	if (M.state != MASTER_RUNNING)
		return;
	logit("graceful stop: %d workers drain for up to %d s",
	    live_workers(), M.conf->drain_timeout);
	begin_stop(MASTER_STOPPING_GRACEFUL,
	    (unsigned long long)M.conf->drain_timeout * 1000 +
	    RF_STOP_GRACE_MS);
	/* New connections are refused from here on, not queued and lost. */
	rf_listen_close_all(M.listeners, M.nlisteners, M.nworkers);
	send_to_workers(RF_MSG_STOP, -1, 0);
}

static void
tell_parent_ready(int status)
{
	char c = (char)status;

	if (M.ready_fd == -1)
		return;
	while (write(M.ready_fd, &c, 1) == -1 && errno == EINTR)
		;
	close(M.ready_fd);
	M.ready_fd = -1;
}

static void
worker_message(struct proc *p, struct rf_msg *m)
{
	int i;

	switch (m->hdr.type) {
	case RF_MSG_READY:
		if (p->state == PROC_STARTING)
			p->state = PROC_READY;
		p->failures = 0;
		verbose("worker %d (pid %ld) ready", p->slot, (long)p->pid);
		for (i = 0; i < M.nworkers; i++)
			if (M.procs[i].state != PROC_READY)
				return;
		tell_parent_ready(0);
		break;
	case RF_MSG_RELOAD_RESULT:
		reload_result(p, m);
		break;
	default:
		/* Our own process sent it: a bug, not an attack. */
		fatal("unexpected message %s from worker %d",
		    rf_msg_type_name(m->hdr.type), p->slot);
	}
}

static void
worker_channel(struct proc *p, short revents)
{
	struct rf_msg m;
	int r;

	if (revents & POLLOUT) {
		r = rf_chan_flush(&p->chan);
		if (r != 0 && r != RF_ERR_AGAIN)
			debug("worker %d channel: %s", p->slot, rf_strerror(r));
	}
	if (!(revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	for (;;) {
		r = rf_chan_recv(&p->chan, &m);
		if (r == RF_ERR_AGAIN)
			break;
		if (r != 0) {
			/* EOF: the worker is exiting; SIGCHLD follows. */
			if (r != RF_ERR_EOF)
				error("worker %d channel: %s", p->slot,
				    rf_strerror(r));
			rf_chan_close(&p->chan);
			break;
		}
		worker_message(p, &m);
		rf_msg_clear(&m);
	}
}

static void
handle_signals(void)
{
	struct signalfd_siginfo si;
	ssize_t n;
	size_t i;

	for (;;) {
		n = read(M.sigfd, &si, sizeof(si));
		if (n == -1 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(si))
			break;
		for (i = 0; i < sizeof(sigtab) / sizeof(sigtab[0]); i++) {
			if ((int)si.ssi_signo == sigtab[i].sig) {
				debug("signal %d", sigtab[i].sig);
				sigtab[i].fn();
			}
		}
	}
}

static void
run_timers(void)
{
	unsigned long long now = rf_now_ms();
	int i;

	for (i = 0; i < M.nworkers; i++) {
		if (M.state == MASTER_RUNNING && M.procs[i].state ==
		    PROC_EMPTY && M.procs[i].respawn_at != 0 &&
		    M.procs[i].respawn_at <= now)
			spawn_worker(i);
	}
	if (M.state == MASTER_RUNNING || M.killed || now < M.stop_deadline)
		return;
	for (i = 0; i < M.nworkers; i++) {
		if (M.procs[i].pid > 0) {
			error("worker %d (pid %ld) did not stop in time; "
			    "killing it", i, (long)M.procs[i].pid);
			kill(M.procs[i].pid, SIGKILL);
		}
	}
	M.killed = 1;
}

static int
next_timeout(void)
{
	unsigned long long now = rf_now_ms(), next = now + 60000;
	int i;

	for (i = 0; i < M.nworkers; i++)
		if (M.procs[i].respawn_at != 0 && M.procs[i].respawn_at < next)
			next = M.procs[i].respawn_at;
	if (M.state != MASTER_RUNNING && !M.killed && M.stop_deadline < next)
		next = M.stop_deadline;
	return next <= now ? 0 : (int)(next - now);
}

static void
master_loop(void)
{
	struct pollfd pfd[RF_MAX_WORKERS + 1];
	int idx[RF_MAX_WORKERS + 1];
	int i, n;

	while (M.state == MASTER_RUNNING || live_workers() > 0) {
		pfd[0].fd = M.sigfd;
		pfd[0].events = POLLIN;
		n = 1;
		for (i = 0; i < M.nworkers; i++) {
			if (M.procs[i].chan.fd == -1)
				continue;
			pfd[n].fd = M.procs[i].chan.fd;
			pfd[n].events = POLLIN |
			    (rf_chan_pending(&M.procs[i].chan) ? POLLOUT : 0);
			idx[n++] = i;
		}
		if (poll(pfd, (nfds_t)n, next_timeout()) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll: %s", strerror(errno));
		}
		if (pfd[0].revents & POLLIN)
			handle_signals();
		for (i = 1; i < n; i++)
			if (pfd[i].revents != 0 &&
			    M.procs[idx[i]].chan.fd == pfd[i].fd)
				worker_channel(&M.procs[idx[i]],
				    pfd[i].revents);
		run_timers();
	}
}

/* Signals are blocked for the whole life of the master; a signalfd reads them. */
static void
setup_signals(void)
{
	sigset_t set;
	size_t i;

	sigemptyset(&set);
	for (i = 0; i < sizeof(sigtab) / sizeof(sigtab[0]); i++)
		sigaddset(&set, sigtab[i].sig);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		fatal("sigprocmask: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	M.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (M.sigfd == -1)
		fatal("signalfd: %s", strerror(errno));
}

/*
 * Raises the soft open-file limit to the hard one and says what it means:
 * each connection costs a descriptor in exactly one worker.
 */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			error("cannot raise open file limit to %llu: %s",
			    (unsigned long long)rl.rlim_max, strerror(errno));
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	verbose("open file limit %llu per process: about %llu connections "
	    "in %d workers", (unsigned long long)rl.rlim_cur,
	    (unsigned long long)(rl.rlim_cur > 64 ? rl.rlim_cur - 64 : 0) *
	    (unsigned long long)M.nworkers, M.nworkers);
	if ((unsigned long long)M.conf->max_connections + 64 > rl.rlim_cur)
		logit("limits.max_connections is %d but a worker may open "
		    "only %llu files; raise the limit (LimitNOFILE=) or "
		    "lower max_connections", M.conf->max_connections,
		    (unsigned long long)rl.rlim_cur);
}

static void
prepare_dirs(const struct passwd *pw)
{
	const char *dirs[2] = { M.run_dir, M.state_dir };
	int i;

	for (i = 0; i < 2; i++) {
		if (rf_mkdir_p(dirs[i], 0750) != 0)
			fatal("cannot create directory %s: %s", dirs[i],
			    strerror(errno));
		if (pw != NULL && chown(dirs[i], pw->pw_uid, pw->pw_gid) == -1)
			fatal("cannot chown %s to %s: %s", dirs[i],
			    pw->pw_name, strerror(errno));
	}
}

static const struct passwd *
lookup_user(void)
{
	struct passwd *pw;

	if (M.conf->user == NULL || M.conf->user[0] == '\0')
		return NULL;
	errno = 0;
	if ((pw = getpwnam(M.conf->user)) == NULL)
		fatal("user '%s' does not exist", M.conf->user);
	if (geteuid() != 0) {
		if (pw->pw_uid == geteuid())
			return NULL;
		fatal("cannot switch to user '%s': not running as root",
		    M.conf->user);
	}
	return pw;
}

static void
drop_privileges(const struct passwd *pw)
{
	if (pw == NULL)
		return;
	if (M.conf->log_target == RF_LOG_FILE && M.conf->log_file != NULL &&
	    chown(M.conf->log_file, pw->pw_uid, pw->pw_gid) == -1)
		error("cannot chown %s: %s", M.conf->log_file, strerror(errno));
	if (initgroups(pw->pw_name, pw->pw_gid) == -1 ||
	    setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1)
		fatal("cannot switch to user '%s': %s", pw->pw_name,
		    strerror(errno));
	if (setuid(0) != -1)
		fatal("could regain root after switching to '%s'", pw->pw_name);
	verbose("running as user %s", pw->pw_name);
}

/*
 * Detaches from the terminal.  The parent stays until every worker is
 * ready (or start-up failed), so that its exit status says whether the
 * daemon really started, as an init script wants.
 */
static void
daemonize(void)
{
	int pipefd[2], devnull;
	pid_t pid;
	char c = 1;

	if (pipe2(pipefd, O_CLOEXEC) == -1)
		fatal("pipe: %s", strerror(errno));
	if ((pid = fork()) == -1)
		fatal("fork: %s", strerror(errno));
	if (pid > 0) {
		close(pipefd[1]);
		while (read(pipefd[0], &c, 1) == -1 && errno == EINTR)
			;
		_exit(c == 0 ? 0 : 1);
	}
	close(pipefd[0]);
	M.ready_fd = pipefd[1];
	if (setsid() == -1)
		fatal("setsid: %s", strerror(errno));
	if (chdir("/") == -1)
		fatal("chdir /: %s", strerror(errno));
	if ((devnull = open("/dev/null", O_RDWR)) == -1)
		fatal("/dev/null: %s", strerror(errno));
	dup2(devnull, STDIN_FILENO);
	dup2(devnull, STDOUT_FILENO);
	dup2(devnull, STDERR_FILENO);
	if (devnull > STDERR_FILENO)
		close(devnull);
}

static char *
xstrdup(const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL)
		fatal("out of memory");
	return p;
}

/* Copies out what a reload cannot change (see struct rf_worker_args). */
static void
copy_restart_only(void)
{
	M.nworkers = M.conf->workers;
	if (M.nworkers > RF_MAX_WORKERS)
		M.nworkers = RF_MAX_WORKERS;
	M.pid_file = xstrdup(M.conf->pid_file);
	M.run_dir = xstrdup(M.conf->run_dir);
	M.state_dir = xstrdup(M.conf->state_dir);
	M.domain = xstrdup(M.conf->domain);
	M.header_max = M.conf->header_max;
	M.handshake_timeout = M.conf->handshake_timeout;
}

/*
 * SO_REUSEPORT would let a second reflectord bind the same ports and
 * silently take half the connections: refuse to start while the pid file
 * names a live process.
 */
static void
check_not_running(void)
{
	char *buf;
	size_t len;
	long pid;

	if (rf_read_file(M.pid_file, 64, &buf, &len) != 0)
		return;
	pid = strtol(buf, NULL, 10);
	free(buf);
	if (pid > 1 && pid != (long)getpid() && (kill((pid_t)pid, 0) == 0 ||
	    errno == EPERM))
		fatal("already running as pid %ld (pid file %s)", pid,
		    M.pid_file);
}

static void
open_listeners(void)
{
	size_t i;

	M.nlisteners = M.conf->nlisten;
	if ((M.listeners = calloc(M.nlisteners, sizeof(*M.listeners))) == NULL)
		fatal("out of memory");
	for (i = 0; i < M.nlisteners; i++) {
		if (rf_listen_open(&M.listeners[i], &M.conf->listen[i],
		    M.nworkers) != 0)
			fatal("cannot listen on %s: %s",
			    M.conf->listen[i].address, strerror(errno));
		logit("listening on %s (%s)", M.listeners[i].address,
		    M.listeners[i].tls ? "https" : "http");
	}
}

/*
 * One hand-off inbox per slot, held here for the master's life so that a
 * hand-off sent while a worker is respawned waits for its replacement.
 */
static void
open_inboxes(void)
{
	int slot, size = 1024 * 1024;

	for (slot = 0; slot < M.nworkers; slot++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0, M.inbox[slot]) == -1)
			fatal("socketpair for inbox %d: %s", slot,
			    strerror(errno));
		/* Room for bursts: each record is small, its fd costs none. */
		setsockopt(M.inbox[slot][0], SOL_SOCKET, SO_SNDBUF, &size,
		    sizeof(size));
		setsockopt(M.inbox[slot][1], SOL_SOCKET, SO_RCVBUF, &size,
		    sizeof(size));
	}
}

/* The routing map is rebuilt from nothing: no worker owns anything yet. */
static void
init_databases(void)
{
	struct rf_db *db;
	int r;

	if ((r = rf_db_open(&db, M.run_dir, RF_DB_ROUTING, 1)) != 0)
		fatal("cannot open routing map in %s: %s", M.run_dir,
		    rf_strerror(r));
	rf_db_close(db);
	if ((r = rf_db_open(&db, M.state_dir, RF_DB_REGISTRY, 0)) != 0)
		fatal("cannot open registry in %s: %s", M.state_dir,
		    rf_strerror(r));
	rf_db_close(db);
	/* While no device uses it, the first reload that does makes it. */
	if (rf_cache_any(M.conf)) {
		if ((r = rf_cache_reset(M.conf)) != 0)
			fatal("cannot create the cache: %s", rf_strerror(r));
		M.cache_made = 1;
	}
}

int
rf_master_main(const char *conf_path, struct rf_conf *conf, int foreground,
    int log_override)
{
	const struct passwd *pw;
	int i;

	memset(&M, 0, sizeof(M));
	M.conf_path = conf_path;
	M.conf = conf;
	M.log_override = log_override;
	M.ready_fd = -1;
	M.sigfd = -1;
	M.start = time(NULL);
	for (i = 0; i < RF_MAX_WORKERS; i++)
		M.procs[i].chan.fd = -1;
	rf_log_set_role("master");
	rf_log_set_stderr_copy(1);
	setup_signals();
	copy_restart_only();
	if (!foreground && M.conf->log_target == RF_LOG_STDERR &&
	    !log_override) {
		logit("log.target is stderr but reflectord is detaching; "
		    "logging to syslog instead (use -f to keep stderr)");
		M.conf->log_target = RF_LOG_SYSLOG;
	}
	rf_apply_log_conf(M.conf, M.log_override);
	pw = lookup_user();
	raise_fd_limit();
	prepare_dirs(pw);
	check_not_running();
	open_listeners();
	open_inboxes();
	/* The databases are created by the user the workers run as. */
	drop_privileges(pw);
	init_databases();
	if (!foreground)
		daemonize();
	if (rf_pidfile_write(M.pid_file) != 0)
		fatal("cannot write pid file %s: %s", M.pid_file,
		    strerror(errno));
	logit("reflectord %s starting %d workers (pid %ld)", RF_VERSION,
	    M.nworkers, (long)getpid());
	rf_log_set_stderr_copy(0);
	for (i = 0; i < M.nworkers; i++)
		spawn_worker(i);
	master_loop();
	tell_parent_ready(1);
	if (unlink(M.pid_file) == -1)
		error("cannot remove pid file %s: %s", M.pid_file,
		    strerror(errno));
	logit("exiting");
	rf_listen_close_all(M.listeners, M.nlisteners, M.nworkers);
	rf_conf_free(M.conf);
	return 0;
}
