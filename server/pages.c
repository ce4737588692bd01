/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The reflector's own HTTP answers, built whole into a buffer: the health
 * JSON, small HTML error pages a user understands, and plain responses.
 * They do no I/O, so the portal front (front.c) and the device-host proxy
 * (proxy.c) send the same pages.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "err.h"
#include "http.h"
#include "pages.h"
#include "reflectord.h"
#include "tunnel.h"
#include "worker.h"

int
rf_http_health_json(char *buf, size_t len)
{
	struct rf_worker_info wi;
	int n;

	rf_worker_info(&wi);
	n = snprintf(buf, len,
	    "{\"status\":\"%s\",\"version\":\"%s\",\"worker\":%d,"
	    "\"generation\":%u,\"pid\":%ld,\"uptime\":%lld,"
	    "\"connections\":%d,\"config_generation\":%u,"
	    "\"handoffs_in\":%lu,\"handoffs_out\":%lu,\"devices\":%d}\n",
	    wi.draining ? "draining" : "ok", RF_VERSION, wi.slot,
	    wi.generation, (long)getpid(),
	    (long long)(time(NULL) - wi.started), wi.connections,
	    wi.conf_generation, wi.handoffs_in, wi.handoffs_out,
	    rf_tunnel_count());
	return n < 0 || (size_t)n >= len ? RF_ERR_LIMIT : n;
}

/*
 * Our own pages load nothing, run nothing and may not be framed: a device
 * page cannot overlay the portal (clickjacking), and a form may post only
 * here or to a device host (the login's redirect chain ends on one).
 */
int
rf_page_response(struct rf_buf *out, int status, const char *type,
    const char *extra, const void *body, size_t len, int keep_alive,
    int head_only)
{
	const struct rf_conf *conf = rf_worker_conf();
	int r;

	r = rf_buf_putf(out, "HTTP/1.1 %d %s\r\n"
	    "Server: reflector\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Content-Security-Policy: default-src 'none'; "
	    "form-action 'self' https://*.%s:*; frame-ancestors 'none'; "
	    "base-uri 'none'\r\n"
	    "X-Frame-Options: DENY\r\n"
	    "Referrer-Policy: same-origin\r\n"
	    "%s"
	    "%s\r\n", status, rf_http_reason(status), type, len,
	    conf->domain, keep_alive ? "" : "Connection: close\r\n",
	    extra != NULL ? extra : "");
	if (r == 0 && !head_only && len > 0)
		r = rf_buf_put(out, body, len);
	return r;
}

int
rf_page_error(struct rf_buf *out, int status, const char *title,
    const char *text, const char *extra, int keep_alive, int head_only)
{
	char body[2048];
	int n;

	n = snprintf(body, sizeof(body),
	    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	    "<title>%d %s</title></head>\n<body><h1>%s</h1>\n<p>%s</p>\n"
	    "<hr><p>reflector</p></body></html>\n", status, title, title,
	    text);
	if (n < 0 || (size_t)n >= sizeof(body))
		return RF_ERR_LIMIT;
	return rf_page_response(out, status, "text/html; charset=utf-8",
	    extra, body, (size_t)n, keep_alive, head_only);
}
