/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Certificates and keys for the TLS listeners.  The files are read and
 * checked once into memory (a pair), and a valid pair is then installed
 * into a live SSL_CTX: a reload that names a broken file changes nothing,
 * and connections already established keep the certificate they have.
 */
#ifndef RF_TLS_H
#define RF_TLS_H

#include <openssl/ssl.h>

struct rf_conf;

struct rf_tls_pair {
	X509		*leaf;
	STACK_OF(X509)	*chain;		/* intermediates, may be empty */
	EVP_PKEY	*key;
};

typedef void rf_tls_errfn(void *arg, const char *line);

/* Reads and checks tls.certificate and tls.key; errors name file:line:col. */
int	rf_tls_pair_load(const struct rf_conf *, struct rf_tls_pair *,
	    rf_tls_errfn *, void *arg);
/* Installs a loaded pair and tls.min_version into ctx. */
int	rf_tls_pair_apply(SSL_CTX *, const struct rf_tls_pair *,
	    int min_version);
void	rf_tls_pair_free(struct rf_tls_pair *);

#endif
