/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * reflectord: command line.  Loads and checks the configuration, then
 * either reports on it (-t, -T) or becomes the master (master.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "err.h"
#include "log.h"
#include "reflectord.h"
#include "tls.h"


static void
usage(void)
{
	fprintf(stderr,
	    "usage: reflectord [-dfhtTV] [-c config_file]\n");
	exit(1);
}

static void
print_error(void *arg, const char *line)
{
	(void)arg;
	fprintf(stderr, "%s\n", line);
}

/* Everything -t checks and a reload checks: the file, then the TLS files. */
static int
check_config(const char *path, struct rf_conf **out)
{
	struct rf_tls_pair pair;
	struct rf_conf *conf;
	int r;

	*out = NULL;
	if ((r = rf_conf_load(path, &conf, print_error, NULL)) != 0)
		return r;
	if (conf->nlisten > 0 && rf_tls_pair_load(conf, &pair, print_error,
	    NULL) != 0) {
		rf_conf_free(conf);
		return RF_ERR_CONFIG;
	}
	rf_tls_pair_free(&pair);
	*out = conf;
	return 0;
}

int
main(int argc, char **argv)
{
	const char *path = NULL;
	struct rf_conf *conf;
	int ch, test = 0, dump = 0, foreground = 0, debug_level = 0;

	rf_log_init("reflectord");
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
			printf("reflectord %s\n", RF_VERSION);
			return 0;
		case 'h':
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (path == NULL)
		path = rf_conf_default_path();
	if (check_config(path, &conf) != 0) {
		fprintf(stderr, "reflectord: configuration file %s test "
		    "failed\n", path);
		return 1;
	}
	if (dump) {
		rf_conf_dump(conf, stdout);
		rf_conf_free(conf);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (test) {
		fprintf(stderr, "reflectord: configuration file %s test is "
		    "successful\n", path);
		rf_conf_free(conf);
		return 0;
	}
	if (debug_level > 0) {
		conf->log_target = RF_LOG_STDERR;
		conf->log_level = debug_level >= 3 ? RF_LOG_DEBUG3 :
		    RF_LOG_DEBUG1 + debug_level - 1;
	}
	return rf_master_main(path, conf, foreground, debug_level > 0);
}
