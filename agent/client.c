/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * reflector-client: TCP access to a device's services (SSH, VNC, a REST
 * API...) through a reflector, with the device agent's WebSocket code
 * (wsclient.h) and one client tunnel per connection (client-tunnel.c).
 *
 * Modes.  -L/-R: a local port forward; each accepted connection gets its
 * own tunnel; with -C a command runs once the port is open (%p in its
 * arguments is the port) and the program ends with the command's status.
 * -W host:port: one tunnel between stdin/stdout and the device's port, for
 * ssh's ProxyCommand.  "ssh" and "vnc": the system's ssh with this
 * program as its ProxyCommand (so ssh checks the device's host key as
 * usual), or a local forward to port 5900 and a VNC viewer.
 *
 * One process, one lws event loop.  Signals only set flags and wake the
 * loop; the loop reaps the command, forwards a stop to it, and ends.
 */
#define _GNU_SOURCE		/* accept4, asprintf */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netdb.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "buf.h"
#include "client.h"
#include "err.h"
#include "log.h"

#ifndef RF_VERSION
#define RF_VERSION	"0"
#endif

enum mode {
	MODE_FORWARD,		/* -L/-R, maybe -C */
	MODE_STDIO,		/* -W */
	MODE_SSH,
	MODE_VNC,
};

struct opts {
	enum mode	 mode;
	const char	*bind;
	const char	*ca_file;
	const char	*config;
	const char	*proxy;
	const char	*reflector;
	const char	*user;
	char		*token;
	const char	*command;
	const char	*stdio;		/* -W host:port */
	int		 lport;		/* -1: not given */
	uint16_t	 rport;		/* 0: not given */
	int		 use_connect;
	int		 quiet;
	int		 verbose;
	const char	*device;
	char		**args;		/* for the command, ssh, the viewer */
	int		 nargs;
	char		*vnc_words;	/* vnc_setup's allocations, freed */
	char		**vnc_args;	/* at exit */
	char		*vnc_target;
};

static volatile sig_atomic_t	 got_sig;
static volatile sig_atomic_t	 got_chld;
static struct lws_context	*the_ctx;

/* Set by the loop's events. */
static int	 done;
static int	 exit_status;
static pid_t	 child = -1;
static int	 fatal_seen;

static void
usage(void)
{
	fprintf(stderr,
"usage: reflector-client [-qv] [-b bind_address] [-c ca_file] [-F config]\n"
"                        [-P proxy_url] [-r reflector_url] [-t token]\n"
"                        [-u user] -L local_port -R device_port\n"
"                        [-C command] device [-- arg ...]\n"
"       reflector-client [options] [--connect] -W device:port\n"
"       reflector-client [options] [-R port] ssh [user@]device [ssh_arg ...]\n"
"       reflector-client [options] [-L port] [-R port] vnc device [arg ...]\n"
"       reflector-client -V\n");
	exit(1);
}

void
client_msg(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "reflector-client: %s\n", buf);
}

static void
on_signal(int sig)
{
	int saved = errno;

	if (sig == SIGCHLD)
		got_chld = 1;
	else
		got_sig = sig;
	if (the_ctx != NULL)
		lws_cancel_service(the_ctx);
	errno = saved;
}

static void
signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGHUP, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGCHLD, &sa, NULL) == -1)
		fatal("sigaction: %s", strerror(errno));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		fatal("sigaction: %s", strerror(errno));
}

static int
set_nonblock(int fd)
{
	int fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return -1;
	return 0;
}

/* ------------------------------------------------------------ listener -- */

/* A listening socket on bind:port (0: any free port); its fd or -1. */
static int
listen_on(const char *bind_addr, int port, int *bound)
{
	struct addrinfo hints, *res, *ai;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char serv[8];
	int fd = -1, one = 1, r, saved = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(serv, sizeof(serv), "%d", port);
	if ((r = getaddrinfo(bind_addr, serv, &hints, &res)) != 0) {
		client_msg("bind address %s: %s", bind_addr, gai_strerror(r));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1) {
			saved = errno;
			continue;
		}
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 64) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1) {
		client_msg("cannot listen on %s port %d: %s", bind_addr, port,
		    strerror(saved));
		return -1;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1) {
		client_msg("getsockname: %s", strerror(errno));
		close(fd);
		return -1;
	}
	*bound = ntohs(ss.ss_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

int
client_listen_cb(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len)
{
	struct client *cl = lws_get_opaque_user_data(wsi);
	int fd;

	(void)user;
	(void)in;
	(void)len;
	if (cl == NULL || reason != LWS_CALLBACK_RAW_RX_FILE)
		return 0;
	while ((fd = accept4(lws_get_socket_fd(wsi), NULL, NULL,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
		debug("accepted a local connection");
		(void)client_conn_new(cl, fd, fd);
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
	    errno != ECONNABORTED)
		client_msg("accept: %s", strerror(errno));
	return 0;
}

/* ------------------------------------------------------------- command -- */

/* arg with every %p made port and %% made %; NULL when out of memory. */
static char *
expand(const char *arg, int port)
{
	char num[8], *out, *o;
	const char *p;

	snprintf(num, sizeof(num), "%d", port);
	if ((out = malloc(strlen(arg) * 5 / 2 + 8)) == NULL)
		return NULL;
	for (o = out, p = arg; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 'p') {
			o = stpcpy(o, num);
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			*o++ = '%';
			p++;
		} else
			*o++ = *p;
	}
	*o = '\0';
	return out;
}

/* Runs the command without a shell; its pid, or -1. */
static pid_t
run_command(const char *command, char **args, int nargs, int port)
{
	char **argv, num[8];
	pid_t pid;
	int i;

	if ((argv = calloc((size_t)nargs + 2, sizeof(*argv))) == NULL) {
		client_msg("out of memory");
		return -1;
	}
	argv[0] = (char *)command;
	for (i = 0; i < nargs; i++)
		if ((argv[i + 1] = expand(args[i], port)) == NULL) {
			client_msg("out of memory");
			return -1;
		}
	snprintf(num, sizeof(num), "%d", port);
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		client_msg("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		struct sigaction sa;
		sigset_t none;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		sigemptyset(&sa.sa_mask);
		(void)sigaction(SIGPIPE, &sa, NULL);
		(void)sigaction(SIGCHLD, &sa, NULL);
		(void)sigaction(SIGHUP, &sa, NULL);
		(void)sigaction(SIGINT, &sa, NULL);
		(void)sigaction(SIGTERM, &sa, NULL);
		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		setenv("REFLECTOR_LOCAL_PORT", num, 1);
		closefrom(3);
		execvp(command, argv);
		fprintf(stderr, "reflector-client: cannot run %s: %s\n",
		    command, strerror(errno));
		_exit(127);
	}
	for (i = 0; i < nargs; i++)
		free(argv[i + 1]);
	free(argv);
	return pid;
}

static void
reap(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid != child)
			continue;
		child = -1;
		done = 1;
		if (WIFEXITED(status))
			exit_status = WEXITSTATUS(status);
		else if (WIFSIGNALED(status))
			exit_status = 128 + WTERMSIG(status);
		else
			exit_status = 1;
	}
}

/* ---------------------------------------------------------------- loop -- */

static void
forward_end(struct client *cl, struct client_conn *c, int failed, int fatal)
{
	(void)cl;
	(void)c;
	/*
	 * A plain forward that can never succeed (refused credentials, an
	 * untrusted certificate) stops; with a command, the command sees
	 * the closed connection and its exit status says the rest.
	 */
	if (failed && fatal && child == -1 && !fatal_seen) {
		fatal_seen = 1;
		done = 1;
		exit_status = 1;
	}
}

static void
stdio_end(struct client *cl, struct client_conn *c, int failed, int fatal)
{
	(void)cl;
	(void)c;
	(void)fatal;
	done = 1;
	exit_status = failed ? 1 : 0;
}

static void
run_loop(struct client *cl)
{
	int sig;

	while (!done) {
		if (got_chld) {
			got_chld = 0;
			reap();
			if (done)
				break;
		}
		if (got_sig) {
			sig = got_sig;
			got_sig = 0;
			if (child != -1) {
				/* The command decides; its end is ours. */
				(void)kill(child, sig);
			} else {
				exit_status = 128 + sig;
				break;
			}
		}
		if (lws_service(cl->ctx, 0) < 0) {
			client_msg("the event loop failed");
			exit_status = 1;
			break;
		}
	}
}

/* ---------------------------------------------------------- the modes -- */

static int
forward(struct opts *o, struct client *cl)
{
	struct lws *lw;
	lws_adopt_desc_t ad;
	int fd, port;

	if ((fd = listen_on(o->bind, o->lport, &port)) == -1)
		return 1;
	memset(&ad, 0, sizeof(ad));
	ad.vh = cl->vh;
	ad.type = LWS_ADOPT_RAW_FILE_DESC;
	ad.fd.filefd = fd;
	ad.vh_prot_name = CLIENT_LISTEN_PROTO;
	ad.opaque = cl;
	if ((lw = lws_adopt_descriptor_vhost_via_info(&ad)) == NULL) {
		client_msg("cannot watch the listening socket");
		return 1;
	}
	cl->on_end = forward_end;
	if (o->command == NULL && o->lport == 0) {
		printf("%d\n", port);
		fflush(stdout);
	}
	if (!o->quiet && o->command == NULL)
		client_msg("forwarding %s port %d to port %u of %s", o->bind,
		    port, cl->t.port, cl->t.host);
	if (o->command != NULL &&
	    (child = run_command(o->command, o->args, o->nargs, port)) == -1)
		return 1;
	run_loop(cl);
	if (child != -1) {
		/* Stopped before the command: it goes too. */
		(void)kill(child, SIGTERM);
		while (waitpid(child, NULL, 0) == -1 && errno == EINTR)
			;
	}
	return exit_status;
}

/*
 * -W.  stdin and stdout become non-blocking for the loop; their flags are
 * put back at the end, as a terminal shares them with the shell.
 */
static int
stdio(struct client *cl)
{
	int in = STDIN_FILENO, out = STDOUT_FILENO, fin, fout;

	if ((fin = fcntl(in, F_GETFL)) == -1 ||
	    (fout = fcntl(out, F_GETFL)) == -1 ||
	    set_nonblock(in) == -1 || set_nonblock(out) == -1) {
		client_msg("cannot make stdin and stdout non-blocking: %s",
		    strerror(errno));
		return 1;
	}
	cl->on_end = stdio_end;
	if (client_conn_new(cl, in, out) == NULL && !done)
		exit_status = 1;
	else
		run_loop(cl);
	(void)fcntl(in, F_SETFL, fin);
	(void)fcntl(out, F_SETFL, fout);
	return exit_status;
}

/*
 * Appends s in single quotes, for the shell ssh runs ProxyCommand with,
 * and every % doubled, for ssh's own expansion; after a blank unless buf
 * ends with '='.  0, or -1 if it does not fit.
 */
static int
put_quoted(char *buf, size_t len, const char *s)
{
	size_t o = strlen(buf);

	if (o + 2 >= len)
		return -1;
	if (o > 0 && buf[o - 1] != '=')
		buf[o++] = ' ';
	buf[o++] = '\'';
	for (; *s != '\0'; s++) {
		if (o + 6 >= len)
			return -1;
		if (*s == '\'') {
			memcpy(buf + o, "'\\''", 4);
			o += 4;
		} else if (*s == '%') {
			buf[o++] = '%';
			buf[o++] = '%';
		} else
			buf[o++] = *s;
	}
	if (o + 2 >= len)
		return -1;
	buf[o++] = '\'';
	buf[o] = '\0';
	return 0;
}

static int
put_word(char *buf, size_t len, const char *s)
{
	size_t o = strlen(buf);
	int n = snprintf(buf + o, len - o, " %s", s);

	return n < 0 || (size_t)n >= len - o ? -1 : 0;
}

/*
 * Becomes ssh: its ProxyCommand is this program in -W mode with the same
 * reflector, CA, proxy and config, and the credentials go to it through
 * the environment (never the command line).
 */
static int
ssh_mode(struct opts *o, const struct client_settings *s,
    const struct client_target *t, const struct client_creds *cr)
{
	char self[PATH_MAX], pc[4096 + PATH_MAX], port[8], **argv;
	const char *ssh = getenv("REFLECTOR_SSH");
	ssize_t n;
	int i, k = 0, r = 0;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) == -1) {
		client_msg("cannot find my own program: %s", strerror(errno));
		return 1;
	}
	self[n] = '\0';
	snprintf(pc, sizeof(pc), "ProxyCommand=");
	r |= put_quoted(pc, sizeof(pc), self);
	if (o->config != NULL)
		r |= put_word(pc, sizeof(pc), "-F") |
		    put_quoted(pc, sizeof(pc), o->config);
	if (s->reflector != NULL)
		r |= put_word(pc, sizeof(pc), "-r") |
		    put_quoted(pc, sizeof(pc), s->reflector);
	if (o->ca_file != NULL)
		r |= put_word(pc, sizeof(pc), "-c") |
		    put_quoted(pc, sizeof(pc), o->ca_file);
	if (o->proxy != NULL)
		r |= put_word(pc, sizeof(pc), "-P") |
		    put_quoted(pc, sizeof(pc), o->proxy);
	if (o->use_connect)
		r |= put_word(pc, sizeof(pc), "--connect");
	for (i = 0; i < o->verbose; i++)
		r |= put_word(pc, sizeof(pc), "-v");
	r |= put_word(pc, sizeof(pc), "-W %h:%p");
	if (r != 0) {
		client_msg("the ProxyCommand is too long");
		return 1;
	}
	if (cr->basic) {
		unsetenv("REFLECTOR_TOKEN");
		setenv("REFLECTOR_USER", cr->user, 1);
		setenv("REFLECTOR_PASSWORD", cr->password, 1);
	} else {
		unsetenv("REFLECTOR_USER");
		unsetenv("REFLECTOR_PASSWORD");
		setenv("REFLECTOR_TOKEN", cr->token, 1);
	}
	if ((argv = calloc((size_t)o->nargs + 12, sizeof(*argv))) == NULL) {
		client_msg("out of memory");
		return 1;
	}
	argv[k++] = (char *)(ssh != NULL && *ssh != '\0' ? ssh : "ssh");
	argv[k++] = "-o";
	argv[k++] = pc;
	argv[k++] = "-o";
	if (asprintf(&argv[k++], "HostKeyAlias=%s", t->host) == -1) {
		client_msg("out of memory");
		return 1;
	}
	if (o->rport != 0) {
		snprintf(port, sizeof(port), "%u", o->rport);
		argv[k++] = "-p";
		argv[k++] = port;
	}
	argv[k++] = (char *)o->device;
	for (i = 0; i < o->nargs; i++)
		argv[k++] = o->args[i];
	argv[k] = NULL;
	debug("running %s -o %s", argv[0], pc);
	execvp(argv[0], argv);
	client_msg("cannot run %s: %s", argv[0], strerror(errno));
	return 127;
}

/* 1 if prog can be run: a path, or a name found on PATH. */
static int
findable(const char *prog)
{
	const char *path = getenv("PATH"), *p, *e;
	char buf[PATH_MAX];

	if (strchr(prog, '/') != NULL)
		return access(prog, X_OK) == 0;
	for (p = path != NULL ? path : "/usr/bin:/bin"; *p != '\0'; p = e) {
		if ((e = strchr(p, ':')) == NULL)
			e = p + strlen(p);
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)(e - p),
		    e > p ? p : ".", prog);
		if (access(buf, X_OK) == 0)
			return 1;
		if (*e == ':')
			e++;
	}
	return 0;
}

/*
 * vnc: a forward to the device's port 5900 and the viewer as its command,
 * given "127.0.0.1::<port>" (the viewers' host::port form).
 */
static int
vnc_setup(struct opts *o)
{
	const char *env = getenv("REFLECTOR_VNC_VIEWER");
	char *words, *w, *save, **args;
	int n = 0, i;

	if ((words = strdup(env != NULL && *env != '\0' ? env :
	    "vncviewer")) == NULL ||
	    (args = calloc(strlen(words) + (size_t)o->nargs + 2,
	    sizeof(*args))) == NULL) {
		free(words);
		client_msg("out of memory");
		return -1;
	}
	o->vnc_words = words;
	o->vnc_args = args;
	for (w = strtok_r(words, " \t", &save); w != NULL;
	    w = strtok_r(NULL, " \t", &save))
		args[n++] = w;
	if (n == 0 || !findable(args[0])) {
		client_msg("no VNC viewer: %s%s%s; install one (Debian: "
		    "tigervnc-viewer) or set REFLECTOR_VNC_VIEWER", n > 0 ?
		    "cannot find '" : "REFLECTOR_VNC_VIEWER is empty",
		    n > 0 ? args[0] : "", n > 0 ? "'" : "");
		return -1;
	}
	o->command = args[0];
	if (asprintf(&args[n], "%s::%%p", o->bind) == -1)
		return -1;
	o->vnc_target = args[n];
	n++;
	for (i = 0; i < o->nargs; i++)
		args[n++] = o->args[i];
	o->args = args + 1;
	o->nargs = n - 1;
	if (o->lport == -1)
		o->lport = 0;
	if (o->rport == 0)
		o->rport = 5900;
	o->mode = MODE_FORWARD;
	return 0;
}

/* ---------------------------------------------------------------- main -- */

/*
 * The words after the options.  For -L/-R: "device [-- arg ...]", or the
 * stock tools' "-- arg ... device" (getopt took the "--").
 */
static void
positional(struct opts *o, int argc, char **argv, int optind_)
{
	int rest = argc - optind_, dashdash = optind_ > 1 &&
	    strcmp(argv[optind_ - 1], "--") == 0;

	if (o->stdio != NULL) {
		if (rest != 0)
			usage();
		o->mode = MODE_STDIO;
		return;
	}
	if (rest >= 2 && (strcmp(argv[optind_], "ssh") == 0 ||
	    strcmp(argv[optind_], "vnc") == 0)) {
		o->mode = strcmp(argv[optind_], "ssh") == 0 ? MODE_SSH :
		    MODE_VNC;
		o->device = argv[optind_ + 1];
		o->args = argv + optind_ + 2;
		o->nargs = rest - 2;
		return;
	}
	if (rest < 1)
		usage();
	o->mode = MODE_FORWARD;
	if (dashdash) {
		o->device = argv[argc - 1];
		o->args = argv + optind_;
		o->nargs = rest - 1;
	} else {
		o->device = argv[optind_];
		if (rest > 1 && strcmp(argv[optind_ + 1], "--") != 0)
			usage();
		o->args = argv + optind_ + 2;
		o->nargs = rest > 1 ? rest - 2 : 0;
	}
	if (o->lport == -1 || o->rport == 0) {
		client_msg("a forward needs -L local_port and -R device_port");
		usage();
	}
	if (o->nargs > 0 && o->command == NULL) {
		client_msg("arguments after -- are for the -C command");
		usage();
	}
}

static void
parse_args(struct opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "connect", no_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	char *end;
	long v;
	int ch;

	memset(o, 0, sizeof(*o));
	o->bind = "127.0.0.1";
	o->lport = -1;
	while ((ch = getopt_long(argc, argv, "+b:C:c:F:hL:P:qR:r:t:u:vVW:",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'b':
			o->bind = optarg;
			break;
		case 'C':
			o->command = optarg;
			break;
		case 'c':
			o->ca_file = optarg;
			break;
		case 'F':
			o->config = optarg;
			break;
		case 'K':
			o->use_connect = 1;
			break;
		case 'L':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v < 0 ||
			    v > 65535) {
				client_msg("-L: '%s' is not a port", optarg);
				usage();
			}
			o->lport = (int)v;
			break;
		case 'P':
			o->proxy = optarg;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case 'R':
			if ((o->rport = client_port_number(optarg)) == 0) {
				client_msg("-R: '%s' is not a port", optarg);
				usage();
			}
			break;
		case 'r':
			o->reflector = optarg;
			break;
		case 't':
			/* Out of ps's sight as soon as it can be. */
			if ((o->token = strdup(optarg)) == NULL)
				fatal("out of memory");
			explicit_bzero(optarg, strlen(optarg));
			break;
		case 'u':
			o->user = optarg;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'V':
			printf("reflector-client %s\n", RF_VERSION);
			exit(0);
		case 'W':
			o->stdio = optarg;
			break;
		case 'h':
		default:
			usage();
		}
	}
	positional(o, argc, argv, optind);
}

/* -W host:port: the device and its port. */
static int
split_stdio(struct opts *o)
{
	static char host[512];
	const char *colon = strrchr(o->stdio, ':');

	if (colon == NULL || colon == o->stdio ||
	    (size_t)(colon - o->stdio) >= sizeof(host) ||
	    (o->rport = client_port_number(colon + 1)) == 0) {
		client_msg("-W: '%s' must be device:port", o->stdio);
		return -1;
	}
	memcpy(host, o->stdio, (size_t)(colon - o->stdio));
	host[colon - o->stdio] = '\0';
	o->device = host;
	return 0;
}

int
main(int argc, char **argv)
{
	struct client_settings s;
	struct client_creds cr;
	struct client cl;
	struct opts o;
	const char *ssh_host;
	int r = 1;

	rf_log_init("reflector-client");
	/* The agent's reason (agent/main.c): its queues and link are ours. */
	rf_heap_keep(RF_HEAP_KEEP);
	parse_args(&o, argc, argv);
	rf_log_set_level(o.verbose >= 3 ? RF_LOG_DEBUG2 : o.verbose == 2 ?
	    RF_LOG_DEBUG1 : o.verbose == 1 ? RF_LOG_VERBOSE : RF_LOG_ERROR);
	if (client_conf_load(o.config, &s) != 0)
		return 1;
	if (o.reflector != NULL) {
		free(s.reflector);
		if ((s.reflector = strdup(o.reflector)) == NULL)
			fatal("out of memory");
	}
	if (o.ca_file != NULL) {
		free(s.ca_file);
		if ((s.ca_file = strdup(o.ca_file)) == NULL)
			fatal("out of memory");
	}
	if (o.proxy != NULL) {
		free(s.proxy_url);
		if ((s.proxy_url = strdup(o.proxy)) == NULL)
			fatal("out of memory");
	}
	if (o.mode == MODE_STDIO && split_stdio(&o) != 0)
		goto out;
	if (o.mode == MODE_VNC && vnc_setup(&o) != 0)
		goto out;
	memset(&cl, 0, sizeof(cl));
	ssh_host = o.device;
	if (o.mode == MODE_SSH && strchr(ssh_host, '@') != NULL)
		ssh_host = strrchr(ssh_host, '@') + 1;
	if (client_target_parse(ssh_host, s.reflector, &cl.t) != 0)
		goto out;
	cl.t.port = o.rport != 0 ? o.rport : 22;
	if (client_creds_get(o.user, o.token, &s, cl.t.host, &cr) != 0)
		goto out;
	if (o.token != NULL)
		explicit_bzero(o.token, strlen(o.token));
	if (o.mode == MODE_SSH) {
		r = ssh_mode(&o, &s, &cl.t, &cr);
		client_creds_clear(&cr);
		goto out;
	}
	if (o.use_connect && s.proxy_url != NULL) {
		/* lws 4.1.6 closes a raw connection once its proxy says 200. */
		client_msg("--connect does not go through a -P or proxy.url "
		    "proxy yet; leave out --connect: the WebSocket tunnel "
		    "does");
		client_creds_clear(&cr);
		goto out;
	}
	cl.authorization = cr.authorization;
	cl.use_connect = o.use_connect;
	signals();
	if (client_start(&cl, &s) != 0) {
		client_stop(&cl);
		client_creds_clear(&cr);
		goto out;
	}
	the_ctx = cl.ctx;
	r = o.mode == MODE_STDIO ? stdio(&cl) : forward(&o, &cl);
	the_ctx = NULL;
	client_stop(&cl);
	client_creds_clear(&cr);
out:
	free(o.token);
	free(o.vnc_target);
	free(o.vnc_args);
	free(o.vnc_words);
	client_conf_free(&s);
	return r;
}
