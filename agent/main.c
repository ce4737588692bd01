/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * reflector-agent: the agent library (rfagent.h) as a daemon with a YAML
 * configuration.  One process, one event loop; signals only set flags and
 * wake the loop, which reloads (HUP) or stops (TERM, INT) between steps.
 * A reload that fails keeps the running configuration and logs why; one
 * that succeeds leaves the tunnels of unchanged devices up.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentconf.h"
#include "buf.h"
#include "err.h"
#include "log.h"
#include "rfagent.h"

#ifndef RF_VERSION
#define RF_VERSION	"0"
#endif

static volatile sig_atomic_t	got_hup;
static volatile sig_atomic_t	got_term;
static struct rf_agent		*the_agent;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: reflector-agent [-dfhtTV] [-c config_file]\n");
	exit(1);
}

static void
print_error(void *arg, const char *line)
{
	(void)arg;
	fprintf(stderr, "%s\n", line);
}

static void
log_error(void *arg, const char *line)
{
	(void)arg;
	error("%s", line);
}

static void
on_signal(int sig)
{
	int saved = errno;

	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
	if (the_agent != NULL)
		rf_agent_wake(the_agent);
	errno = saved;
}

static void
signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	if (sigaction(SIGHUP, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1)
		fatal("sigaction: %s", strerror(errno));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		fatal("sigaction: %s", strerror(errno));
}

/* Applies the log keys; -d overrides them. */
static void
apply_log(const struct rf_agentconf *ac, int debug_level)
{
	if (debug_level > 0) {
		rf_log_set_level(debug_level >= 3 ? RF_LOG_DEBUG3 :
		    (enum rf_log_level)(RF_LOG_DEBUG1 + debug_level - 1));
		return;
	}
	rf_log_set_level((enum rf_log_level)ac->log_level);
	if (rf_log_set_target((enum rf_log_target)ac->log_target,
	    ac->log_file, ac->log_facility) != 0)
		error("cannot log to %s: %s; logging stays where it was",
		    ac->log_file, strerror(errno));
}

static void
reload(const char *path, int debug_level)
{
	struct rf_agentconf *ac;
	int r;

	logit("reloading %s", path);
	if (rf_agentconf_load(path, &ac, log_error, NULL) != 0) {
		error("reload failed: keeping the running configuration");
		return;
	}
	apply_log(ac, debug_level);
	if ((r = rf_agent_configure(the_agent, &ac->s)) != 0)
		error("reload failed: %s; keeping the running configuration",
		    rf_strerror(r));
	else
		logit("configuration reloaded: %zu device%s", ac->s.ndevices,
		    ac->s.ndevices == 1 ? "" : "s");
	rf_agentconf_free(ac);
}

static int
serve(const char *path, struct rf_agentconf *ac, int foreground,
    int debug_level)
{
	int r;

	if (!foreground && daemon(0, 0) == -1)
		fatal("daemon: %s", strerror(errno));
	rf_log_set_stderr_copy(0);
	signals();
	if ((r = rf_agent_new(&ac->s, &the_agent)) != 0) {
		error("cannot start: %s", rf_strerror(r));
		return 1;
	}
	logit("reflector-agent %s starting: %zu device%s, reflector %s",
	    RF_VERSION, ac->s.ndevices, ac->s.ndevices == 1 ? "" : "s",
	    ac->s.reflector);
	rf_agentconf_free(ac);
	while (!got_term) {
		if (got_hup) {
			got_hup = 0;
			reload(path, debug_level);
		}
		if ((r = rf_agent_step(the_agent, 1000)) < 0) {
			error("event loop: %s", rf_strerror(r));
			break;
		}
	}
	logit("stopping");
	rf_agent_stop(the_agent);
	rf_agent_free(the_agent);
	the_agent = NULL;
	return r < 0 ? 1 : 0;
}

int
main(int argc, char **argv)
{
	const char *path = NULL;
	struct rf_agentconf *ac;
	int ch, test = 0, dump = 0, foreground = 0, debug_level = 0;

	rf_log_init("reflector-agent");
	rf_log_set_role("agent");
	/*
	 * A channel's queue comes and goes in pieces of up to 64 KiB (one read
	 * from the target each), and the link's record buffer (about 130 KiB)
	 * is freed whenever it drains.  With glibc's defaults the heap's top
	 * was given back with brk(2) whenever it freed past 128 KiB and taken
	 * again at the next read, every page faulted in anew (8% of the
	 * agent's CPU in a download), and the record buffer came from a fresh
	 * mmap(2) each time: rf_heap_keep (buf.h).
	 */
	rf_heap_keep(RF_HEAP_KEEP);
	while ((ch = getopt(argc, argv, "c:dfhtTV")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			debug_level++;
			foreground = 1;
			break;
		case 'f':
			foreground = 1;
			break;
		case 't':
			test = 1;
			break;
		case 'T':
			dump = 1;
			break;
		case 'V':
			printf("reflector-agent %s\n", RF_VERSION);
			return 0;
		case 'h':
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (path == NULL)
		path = rf_agentconf_default_path();
	if (rf_agentconf_load(path, &ac, print_error, NULL) != 0) {
		fprintf(stderr, "reflector-agent: configuration file %s test "
		    "failed\n", path);
		return 1;
	}
	if (dump) {
		rf_agentconf_dump(ac, stdout);
		rf_agentconf_free(ac);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (test) {
		fprintf(stderr, "reflector-agent: configuration file %s test "
		    "is successful\n", path);
		rf_agentconf_free(ac);
		return 0;
	}
	if (debug_level > 0)
		ac->log_target = RF_LOG_STDERR;
	rf_log_set_stderr_copy(1);
	apply_log(ac, 0);
	if (debug_level > 0)
		apply_log(ac, debug_level);
	return serve(path, ac, foreground, debug_level);
}
