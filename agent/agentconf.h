/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The reflector-agent.yml loader: one key table read by the shared engine
 * (common/yconf.h) into struct rf_agent_settings plus the program's own
 * keys (logging).  man/reflector-agent.yml.5 documents every key; keep the
 * two in step.
 */
#ifndef RF_AGENTCONF_H
#define RF_AGENTCONF_H

#include <stdio.h>

#include "rfagent.h"
#include "yconf.h"

struct rf_agentconf {
	struct rf_agent_settings s;
	char			*file;		/* where it was read from */
	int			 log_level;	/* enum rf_log_level */
	int			 log_target;	/* enum rf_log_target */
	char			*log_file;
	int			 log_facility;
	struct rf_yconf_wheres	 where;
};

/*
 * Loads a config file: 0 and a new *out, or every error passed to errfn,
 * *out NULL and RF_ERR_CONFIG (RF_ERR_SYS if the file cannot be read).
 */
int	rf_agentconf_load(const char *path, struct rf_agentconf **out,
	    rf_yconf_errfn *errfn, void *arg);
int	rf_agentconf_load_mem(const void *buf, size_t len, const char *name,
	    struct rf_agentconf **out, rf_yconf_errfn *errfn, void *arg);
void	rf_agentconf_free(struct rf_agentconf *);
/* The effective configuration as YAML that loads back (reflector-agent -T). */
int	rf_agentconf_dump(const struct rf_agentconf *, FILE *);
/*
 * String checks for the URL keys, shared with reflector-client's
 * client.yml: NULL if s is good, else what it must be.
 */
const char *rf_agentconf_check_url(const char *s);
const char *rf_agentconf_check_proxy_url(const char *s);
/* SYSCONFDIR/reflector/reflector-agent.yml */
const char *rf_agentconf_default_path(void);

#endif
