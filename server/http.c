/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The worker's own HTTP answers: /.reflector/health on every host, the
 * portal placeholder, and small error pages.  Each response is built in
 * full (they are small), its head written from the HTTP callback and its
 * body from the WRITEABLE callback, as lws wants.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "conf.h"
#include "err.h"
#include "log.h"
#include "reflectord.h"
#include "worker.h"

#define RF_HEALTH_PATH	"/.reflector/health"

static struct rf_conn *
conn_of(struct lws *wsi)
{
	return lws_get_opaque_user_data(lws_get_network_wsi(wsi));
}

static void
session_clear(struct rf_http_session *s)
{
	free(s->body);
	memset(s, 0, sizeof(*s));
}

/* Formats the body; the LWS_PRE bytes in front are lws's to use. */
static int
set_body(struct rf_http_session *s, int status, const char *type,
    const char *fmt, ...)
{
	va_list ap;
	int n;

	session_clear(s);
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (s->body = malloc(LWS_PRE + (size_t)n + 1)) == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(s->body + LWS_PRE, (size_t)n + 1, fmt, ap);
	va_end(ap);
	s->body_len = (size_t)n;
	s->status = status;
	s->content_type = type;
	return 0;
}

static int
error_page(struct rf_http_session *s, int status, const char *title,
    const char *text)
{
	return set_body(s, status, "text/html; charset=utf-8",
	    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	    "<title>%d %s</title></head>\n<body><h1>%s</h1>\n<p>%s</p>\n"
	    "<hr><p>reflector</p></body></html>\n", status, title, title,
	    text);
}

static int
health(struct rf_http_session *s)
{
	struct rf_worker_info wi;

	rf_worker_info(&wi);
	return set_body(s, 200, "application/json",
	    "{\"status\":\"%s\",\"version\":\"%s\",\"worker\":%d,"
	    "\"generation\":%u,\"pid\":%ld,\"uptime\":%lld,"
	    "\"connections\":%d,\"config_generation\":%u,"
	    "\"handoffs_in\":%lu,\"handoffs_out\":%lu}\n",
	    wi.draining ? "draining" : "ok", RF_VERSION, wi.slot,
	    wi.generation, (long)getpid(),
	    (long long)(time(NULL) - wi.started), wi.connections,
	    wi.conf_generation, wi.handoffs_in, wi.handoffs_out);
}

/*
 * The Host header without its port, lowercased; "" if absent or odd.
 * A device host is "<label>.<domain>"; any other host is the portal.
 */
static int
is_device_host(struct lws *wsi, const char *domain, char *label, size_t len)
{
	char host[256], *colon;
	size_t hl, dl = strlen(domain), i;

	label[0] = '\0';
	if (lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST) <= 0)
		return 0;
	if (host[0] != '[' && (colon = strrchr(host, ':')) != NULL)
		*colon = '\0';
	for (i = 0; host[i] != '\0'; i++)
		host[i] = (char)tolower((unsigned char)host[i]);
	hl = strlen(host);
	if (hl <= dl + 1 || host[hl - dl - 1] != '.' ||
	    strcmp(host + hl - dl, domain) != 0)
		return 0;
	host[hl - dl - 1] = '\0';
	if (strchr(host, '.') != NULL || strlen(host) >= len)
		return 0;
	strcpy(label, host);
	return 1;
}

static int
route(struct lws *wsi, struct rf_http_session *s, const char *path)
{
	struct rf_worker_info wi;
	char device[64];

	rf_worker_info(&wi);
	if (strcmp(path, RF_HEALTH_PATH) == 0)
		return health(s);
	if (is_device_host(wsi, wi.conf->domain, device, sizeof(device)))
		return error_page(s, 404, "Unknown device",
		    "No device of that name is connected to this reflector.");
	if (strcmp(path, "/") == 0)
		return set_body(s, 200, "text/html; charset=utf-8",
		    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
		    "<title>Reflector</title></head>\n<body><h1>Reflector"
		    "</h1>\n<p>This is the portal of the reflector for "
		    "<b>%s</b>. Devices are reached at "
		    "https://&lt;device&gt;.%s/ once they are connected."
		    "</p>\n</body></html>\n", wi.conf->domain,
		    wi.conf->domain);
	return error_page(s, 404, "Not found",
	    "There is nothing at this address.");
}

static int
write_head(struct lws *wsi, struct rf_http_session *s)
{
	unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start;
	unsigned char *end = buf + sizeof(buf) - 1;
	static const char nosniff[] = "nosniff", nostore[] = "no-store";

	if (lws_add_http_common_headers(wsi, (unsigned int)s->status,
	    s->content_type, s->body_len, &p, end) ||
	    lws_add_http_header_by_name(wsi,
	    (const unsigned char *)"x-content-type-options:",
	    (const unsigned char *)nosniff, sizeof(nosniff) - 1, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
	    (const unsigned char *)nostore, sizeof(nostore) - 1, &p, end))
		return -1;
	if (s->status == 405 && lws_add_http_header_by_name(wsi,
	    (const unsigned char *)"allow:", (const unsigned char *)"GET, HEAD",
	    9, &p, end))
		return -1;
	if (lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	return 0;
}

/*
 * The response is out: the connection waits for the next request, unless
 * the worker is draining, in which case it closes now.
 */
static int
transaction_done(struct lws *wsi, struct rf_http_session *s)
{
	struct rf_conn *c = conn_of(wsi);
	struct rf_worker_info wi;

	session_clear(s);
	rf_worker_info(&wi);
	if (c != NULL) {
		c->state = RF_CONN_IDLE;
		c->requests++;
	}
	if (wi.draining || lws_http_transaction_completed(wsi))
		return -1;
	/* The keep-alive time of the running configuration, not the boot one. */
	lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_KEEPALIVE_IDLE,
	    wi.conf->keepalive_timeout);
	return 0;
}

/* Content-Length above 0 or a chunked body: lws reads it before we answer. */
static int
has_request_body(struct lws *wsi)
{
	char v[32];

	if (lws_hdr_copy(wsi, v, sizeof(v), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
		return strtoull(v, NULL, 10) > 0;
	return lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
}

static int
start_response(struct lws *wsi, struct rf_http_session *s)
{
	if (write_head(wsi, s) != 0)
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

static int
on_request(struct lws *wsi, struct rf_http_session *s, const char *path)
{
	struct rf_conn *c = conn_of(wsi);
	int head = lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0;
	int get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
	int r;

	if (c != NULL)
		c->state = RF_CONN_REQUEST;
	if (!get && !head)
		r = error_page(s, 405, "Method not allowed",
		    "This address answers GET and HEAD only.");
	else
		r = route(wsi, s, path);
	if (r != 0)
		return -1;
	s->head_only = head;
	debug("%s %s %s -> %d", c != NULL ? c->peer : "-",
	    head ? "HEAD" : get ? "GET" : "other", path, s->status);
	/*
	 * Answering before a request body is read would leave its bytes to
	 * be taken for the next request: answer at BODY_COMPLETION then.
	 */
	if (!get && !head && has_request_body(wsi)) {
		s->wait_body = 1;
		return 0;
	}
	return start_response(wsi, s);
}

static int
on_writeable(struct lws *wsi, struct rf_http_session *s)
{
	if (s->body == NULL || s->wait_body)
		return 0;
	if (!s->head_only && s->sent < s->body_len) {
		if (lws_write(wsi, (unsigned char *)s->body + LWS_PRE,
		    s->body_len, LWS_WRITE_HTTP_FINAL) != (int)s->body_len)
			return -1;
		s->sent = s->body_len;
	}
	return transaction_done(wsi, s);
}

int
rf_http_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len)
{
	struct rf_http_session *s = user;

	(void)len;
	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return on_request(wsi, s, in != NULL ? in : "/");
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return on_writeable(wsi, s);
	case LWS_CALLBACK_HTTP_BODY:
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (s == NULL || !s->wait_body)
			return 0;
		s->wait_body = 0;
		return start_response(wsi, s);
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		if (s != NULL)
			session_clear(s);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}
