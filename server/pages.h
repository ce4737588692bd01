/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The reflector's own HTTP answers, built whole into a buffer (pages.c).
 * extra is NULL or more header lines, each ending in CRLF.
 */
#ifndef RF_PAGES_H
#define RF_PAGES_H

#include <stddef.h>

struct rf_buf;
struct rf_conf;

/* The /.reflector/health body: JSON and a newline; its length or <0. */
int	rf_http_health_json(char *buf, size_t len);
int	rf_page_response(struct rf_buf *, int status, const char *type,
	    const char *extra, const void *body, size_t len, int keep_alive,
	    int head_only);
/* A small HTML page a user understands: "503 Device offline" and why. */
int	rf_page_error(struct rf_buf *, int status, const char *title,
	    const char *text, const char *extra, int keep_alive,
	    int head_only);

#endif
