/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The portal host's pages (portal.c): login, logout, the device list and
 * /.reflector/authorize, which sends a logged-in user to a device host
 * with a one-time token.  http.c reads the request (headers, and the form
 * body of a POST) into a struct rf_portal_req, calls rf_portal_request()
 * and writes the struct rf_portal_resp it gets back; nothing here touches
 * lws, so that the pages can be reasoned about (and tested) on their own.
 */
#ifndef RF_PORTAL_H
#define RF_PORTAL_H

#include <stddef.h>

struct rf_conf;
struct rf_db;

#define RF_PORTAL_FORM_MAX	4096	/* bytes of a POSTed form */

/* What http.c knows of a request to the portal host. */
struct rf_portal_req {
	int		 post;		/* POST (else GET or HEAD) */
	int		 tls;		/* it came over TLS */
	const char	*path;		/* decoded, without the query */
	const char	*host;		/* Host header, "" if none */
	const char	*cookie;	/* Cookie header, or NULL */
	const char	*origin;	/* Origin header, or NULL */
	const char	*referer;	/* Referer header, or NULL */
	const char	*peer;		/* "addr:port" */
	const char	*arg_device;	/* ?device=, decoded, or NULL */
	const char	*arg_return;	/* ?return=, decoded, or NULL */
	const char	*body;		/* the form of a POST, not NUL-ended */
	size_t		 body_len;
};

/* The answer; the body is malloc'ed (rf_portal_resp_free). */
struct rf_portal_resp {
	int		 status;
	const char	*content_type;
	char		*body;
	size_t		 body_len;
	char		 location[2048];	/* "" or the Location */
	char		 set_cookie[256];	/* "" or the Set-Cookie */
};

/* 1 if path is one of the portal's pages (on the portal host). */
int	rf_portal_handles(const char *path);
/* 1 if path takes a POST with a form body. */
int	rf_portal_wants_form(const char *path);
/*
 * Answers a request for one of the portal's pages.  0 with resp filled,
 * RF_ERR_NOMEM if the page could not be built.  db is the registry.
 */
int	rf_portal_request(const struct rf_conf *, struct rf_db *,
	    const struct rf_portal_req *, struct rf_portal_resp *);
void	rf_portal_resp_free(struct rf_portal_resp *);

#endif
