/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Loading and installing the TLS certificate and key (see tls.h).  The
 * master runs rf_tls_pair_load for reflectord -t and before it accepts a
 * reload; each worker loads again and installs into its own SSL_CTX.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "conf.h"
#include "err.h"
#include "log.h"
#include "tls.h"

static void
tls_error(const struct rf_conf *conf, const char *key, const char *path,
    const char *what, rf_tls_errfn *errfn, void *arg)
{
	char where[512], line[1024], ossl[256];
	unsigned long e;

	rf_conf_where(conf, key, where, sizeof(where));
	e = ERR_peek_last_error();
	if (e != 0) {
		ERR_error_string_n(e, ossl, sizeof(ossl));
		snprintf(line, sizeof(line), "%s: %s '%s': %s", where, what,
		    path, ossl);
	} else
		snprintf(line, sizeof(line), "%s: %s '%s'", where, what, path);
	ERR_clear_error();
	errfn(arg, line);
}

static int
load_chain(const char *path, struct rf_tls_pair *p)
{
	X509 *x;
	BIO *bio;

	if ((bio = BIO_new_file(path, "r")) == NULL)
		return -1;
	p->leaf = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL);
	if (p->leaf == NULL || (p->chain = sk_X509_new_null()) == NULL) {
		BIO_free(bio);
		return -1;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(p->chain, x)) {
			X509_free(x);
			BIO_free(bio);
			return -1;
		}
	}
	/* The loop ends on "no start line": the end of the file, not an error. */
	ERR_clear_error();
	BIO_free(bio);
	return 0;
}

static int
load_key(const char *path, struct rf_tls_pair *p)
{
	BIO *bio;

	if ((bio = BIO_new_file(path, "r")) == NULL)
		return -1;
	p->key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return p->key == NULL ? -1 : 0;
}

static void
warn_validity(const char *path, X509 *leaf)
{
	if (X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0)
		logit("certificate '%s' has expired; clients will refuse it",
		    path);
	else if (X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0)
		logit("certificate '%s' is not valid yet", path);
}

int
rf_tls_pair_load(const struct rf_conf *conf, struct rf_tls_pair *p,
    rf_tls_errfn *errfn, void *arg)
{
	memset(p, 0, sizeof(*p));
	ERR_clear_error();
	if (load_chain(conf->tls_certificate, p) == -1) {
		tls_error(conf, "tls.certificate", conf->tls_certificate,
		    "cannot load certificate", errfn, arg);
		goto fail;
	}
	if (load_key(conf->tls_key, p) == -1) {
		tls_error(conf, "tls.key", conf->tls_key,
		    "cannot load private key", errfn, arg);
		goto fail;
	}
	if (X509_check_private_key(p->leaf, p->key) != 1) {
		tls_error(conf, "tls.key", conf->tls_key,
		    "private key does not match the certificate", errfn, arg);
		goto fail;
	}
	warn_validity(conf->tls_certificate, p->leaf);
	return 0;
fail:
	rf_tls_pair_free(p);
	return RF_ERR_TLS;
}

int
rf_tls_pair_apply(SSL_CTX *ctx, const struct rf_tls_pair *p, int min_version)
{
	int v = min_version == 13 ? TLS1_3_VERSION : TLS1_2_VERSION;

	if (SSL_CTX_set_min_proto_version(ctx, v) != 1 ||
	    SSL_CTX_use_certificate(ctx, p->leaf) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, p->key) != 1 ||
	    SSL_CTX_set1_chain(ctx, p->chain) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		return RF_ERR_TLS;
	}
	return 0;
}

void
rf_tls_pair_free(struct rf_tls_pair *p)
{
	X509_free(p->leaf);
	sk_X509_pop_free(p->chain, X509_free);
	EVP_PKEY_free(p->key);
	memset(p, 0, sizeof(*p));
}
