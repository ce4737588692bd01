/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The portal host's pages: the login form and its POST, logout, the list
 * of devices a user may reach, and /.reflector/authorize, which turns a
 * portal session into a one-time token for one device host.
 *
 * The portal session (rf_portal cookie, host-only, HttpOnly, SameSite=Lax)
 * never leaves the portal host: a device host gets its own cookie through
 * /.reflector/session?token= (auth.h), so a page served by one device holds
 * nothing that reaches another device or the portal.  The login POST is
 * checked against CSRF by its Origin (or Referer), which must name the
 * host it was sent to; GET pages change nothing but the session of the
 * browser that asks (authorize mints a token only for a logged-in user and
 * hands it to the device host of the user's choosing, never elsewhere).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "buf.h"
#include "conf.h"
#include "db.h"
#include "err.h"
#include "log.h"
#include "portal.h"

#define P_LOGIN		"/.reflector/login"
#define P_LOGOUT	"/.reflector/logout"
#define P_AUTHORIZE	"/.reflector/authorize"
/* WEBTUNNEL.md §5 */
#define P_TOKEN		"/my-devices/api/token"
#define PAGE_MAX	(8 * 1024 * 1024)	/* a list of many devices */
#define FIELD_MAX	1024

int
rf_portal_handles(const char *path)
{
	return strcmp(path, "/") == 0 || strcmp(path, P_LOGIN) == 0 ||
	    strcmp(path, P_LOGOUT) == 0 || strcmp(path, P_AUTHORIZE) == 0 ||
	    strcmp(path, P_TOKEN) == 0;
}

int
rf_portal_wants_form(const char *path)
{
	return strcmp(path, P_LOGIN) == 0 || strcmp(path, P_TOKEN) == 0;
}

void
rf_portal_resp_free(struct rf_portal_resp *r)
{
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}

/*
 * A page being built: the first failure (a page past PAGE_MAX, no memory)
 * sticks, and page_done() reports it, so that no half page goes out.
 */
struct page {
	struct rf_buf	b;
	int		err;
};

static void
page_init(struct page *pg)
{
	rf_buf_init(&pg->b, PAGE_MAX);
	pg->err = 0;
}

static void __attribute__((format(printf, 2, 3)))
pf(struct page *pg, const char *fmt, ...)
{
	unsigned char *d;
	va_list ap;
	int n;

	if (pg->err != 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (pg->err = rf_buf_reserve(&pg->b, (size_t)n + 1,
	    &d)) != 0)
		return;
	va_start(ap, fmt);
	vsnprintf((char *)d, (size_t)n + 1, fmt, ap);
	va_end(ap);
	rf_buf_unput(&pg->b, 1);	/* the NUL */
}

/* HTML-escapes s into the page. */
static void
put_html(struct page *pg, const char *s)
{
	for (; *s != '\0' && pg->err == 0; s++) {
		switch (*s) {
		case '&':
			pf(pg, "&amp;");
			break;
		case '<':
			pf(pg, "&lt;");
			break;
		case '>':
			pf(pg, "&gt;");
			break;
		case '"':
			pf(pg, "&quot;");
			break;
		case '\'':
			pf(pg, "&#39;");
			break;
		default:
			pg->err = rf_buf_put_u8(&pg->b, (uint8_t)*s);
		}
	}
}

static void
page_head(struct page *pg, const char *title)
{
	pf(pg, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width\">"
	    "<title>");
	put_html(pg, title);
	pf(pg, "</title></head>\n<body>\n");
}

/* Moves the page into resp (NUL-terminated). */
static int
page_done(struct page *pg, struct rf_portal_resp *resp, int status)
{
	int r;

	pf(pg, "</body></html>\n");
	resp->status = status;
	resp->content_type = "text/html; charset=utf-8";
	if ((r = pg->err) == 0 && (r = rf_buf_put_u8(&pg->b, 0)) == 0) {
		if ((resp->body = malloc(rf_buf_len(&pg->b))) == NULL)
			r = RF_ERR_NOMEM;
		else {
			memcpy(resp->body, rf_buf_ptr(&pg->b),
			    rf_buf_len(&pg->b));
			resp->body_len = rf_buf_len(&pg->b) - 1;
		}
	}
	rf_buf_free(&pg->b);
	if (r != 0)
		error("cannot build a page: %s", rf_strerror(r));
	return r;
}

static int
message_page(struct rf_portal_resp *resp, int status, const char *title,
    const char *text)
{
	struct page pg;

	page_init(&pg);
	page_head(&pg, title);
	pf(&pg, "<h1>");
	put_html(&pg, title);
	pf(&pg, "</h1>\n<p>");
	put_html(&pg, text);
	pf(&pg, "</p>\n<p><a href=\"/\">Reflector</a></p>\n");
	return page_done(&pg, resp, status);
}

static int
redirect(struct rf_portal_resp *resp, int status, const char *location)
{
	struct page pg;

	if (snprintf(resp->location, sizeof(resp->location), "%s",
	    location) >= (int)sizeof(resp->location))
		return message_page(resp, 500, "Address too long",
		    "The address to go on to is too long.");
	page_init(&pg);
	page_head(&pg, "Redirect");
	pf(&pg, "<p><a href=\"");
	put_html(&pg, location);
	pf(&pg, "\">Continue</a></p>\n");
	return page_done(&pg, resp, status);
}

static int
login_page(const struct rf_portal_req *req, struct rf_portal_resp *resp,
    int status, const char *ret, const char *user, const char *error)
{
	struct page pg;

	(void)req;
	page_init(&pg);
	page_head(&pg, "Log in - Reflector");
	pf(&pg, "<h1>Log in</h1>\n");
	if (error != NULL) {
		pf(&pg, "<p role=\"alert\"><strong>");
		put_html(&pg, error);
		pf(&pg, "</strong></p>\n");
	}
	pf(&pg, "<form method=\"post\" action=\"" P_LOGIN "\">\n"
	    "<p><label>User <input name=\"user\" autocomplete=\"username\" "
	    "required autofocus value=\"");
	put_html(&pg, user != NULL ? user : "");
	pf(&pg, "\"></label></p>\n<p><label>Password <input "
	    "type=\"password\" name=\"password\" "
	    "autocomplete=\"current-password\" required></label></p>\n"
	    "<input type=\"hidden\" name=\"return\" value=\"");
	put_html(&pg, ret);
	pf(&pg, "\">\n<p><button type=\"submit\">Log in</button>"
	    "</p>\n</form>\n");
	return page_done(&pg, resp, status);
}

/* The portal's own sessions: 1 and user set if the request has one. */
static int
portal_user(const struct rf_conf *conf, struct rf_db *db,
    const struct rf_portal_req *req, char *user, size_t len)
{
	return rf_auth_session_check(conf, db, req->cookie,
	    RF_AUTH_PORTAL_COOKIE, RF_SESSION_PORTAL, "portal", user, len);
}


/* The device list of the home page, from the config and the registry. */
struct device_list {
	struct page			*pg;
	const struct rf_conf		*conf;
	const struct rf_conf_user	*user;
	const char			*port;
	int				 n;
};

static void
list_device(struct device_list *l, const char *id, const char *name)
{
	if (!rf_auth_user_may(l->user, id))
		return;
	l->n++;
	pf(l->pg, "<li><a href=\"https://");
	put_html(l->pg, id);
	pf(l->pg, ".");
	put_html(l->pg, l->conf->domain);
	put_html(l->pg, l->port);
	pf(l->pg, "/\">");
	put_html(l->pg, name != NULL && *name != '\0' ? name : id);
	pf(l->pg, "</a> (");
	put_html(l->pg, id);
	pf(l->pg, ")</li>\n");
}

static int
list_registry_device(void *arg, const char *id,
    const struct rf_device_rec *rec)
{
	struct device_list *l = arg;
	size_t i;

	/* A device in reflector.yml too is listed once, from there. */
	for (i = 0; i < l->conf->ndevices; i++)
		if (strcmp(l->conf->devices[i].id, id) == 0)
			return 0;
	list_device(l, id, rec->name);
	return 0;
}

static int
home_page(const struct rf_conf *conf, struct rf_db *db,
    const struct rf_portal_req *req, struct rf_portal_resp *resp)
{
	const struct rf_conf_user *u;
	const struct rf_conf_device *d;
	char user[RF_DB_SESSION_USER_MAX], port[8];
	struct device_list lst;
	struct page pg;
	size_t i;
	int n;

	page_init(&pg);
	page_head(&pg, "Reflector");
	/* The heading stays the same for every visitor (t/2001-start.t). */
	pf(&pg, "<h1>Reflector</h1>\n<p>This is the portal of the "
	    "reflector for <b>");
	put_html(&pg, conf->domain);
	pf(&pg, "</b>.</p>\n");
	if (!portal_user(conf, db, req, user, sizeof(user)) ||
	    (u = rf_conf_user_find(conf, user)) == NULL) {
		pf(&pg, "<p>Devices are reached at https://&lt;device"
		    "&gt;.");
		put_html(&pg, conf->domain);
		pf(&pg, "/ once they are connected. <a href=\""
		    P_LOGIN "\">Log in</a> to see yours.</p>\n");
		return page_done(&pg, resp, 200);
	}
	rf_auth_host_port(req->host, port, sizeof(port));
	pf(&pg, "<p>Logged in as <b>");
	put_html(&pg, user);
	pf(&pg, "</b>. <a href=\"" P_LOGOUT "\">Log out</a></p>\n"
	    "<h2>Devices</h2>\n<ul>\n");
	lst.pg = &pg;
	lst.conf = conf;
	lst.user = u;
	lst.port = port;
	lst.n = 0;
	for (i = 0; i < conf->ndevices; i++) {
		d = &conf->devices[i];
		list_device(&lst, d->id, d->name);
	}
	if (db != NULL)
		rf_db_device_foreach(db, list_registry_device, &lst);
	n = lst.n;
	pf(&pg, "</ul>\n");
	if (n == 0)
		pf(&pg, "<p>No device is granted to you.</p>\n");
	return page_done(&pg, resp, 200);
}

/*
 * The POST came from a page of this very host: Origin (sent by every
 * current browser on a POST) or else Referer must be scheme://Host.  A
 * form on a device page, or on any other site, names another origin.
 */
static int
same_origin(const struct rf_portal_req *req)
{
	char want[300];
	size_t wl;
	int n;

	if (req->host[0] == '\0')
		return 0;
	n = snprintf(want, sizeof(want), "%s://%s", req->tls ? "https" :
	    "http", req->host);
	if (n < 0 || (size_t)n >= sizeof(want))
		return 0;
	wl = (size_t)n;
	if (req->origin != NULL)
		return strcasecmp(req->origin, want) == 0;
	if (req->referer != NULL)
		return strncasecmp(req->referer, want, wl) == 0 &&
		    (req->referer[wl] == '/' || req->referer[wl] == '\0');
	return 0;
}

/* Decodes %xx and '+' in place; -1 for a bad escape or a NUL. */
static int
form_decode(char *s)
{
	char *o = s;
	int hi, lo;

	for (; *s != '\0'; s++) {
		if (*s == '+')
			*o++ = ' ';
		else if (*s == '%') {
			if ((hi = rf_buf_hexval((uint8_t)s[1])) < 0 ||
			    (lo = rf_buf_hexval((uint8_t)s[2])) < 0)
				return -1;
			if ((*o++ = (char)(hi << 4 | lo)) == '\0')
				return -1;
			s += 2;
		} else
			*o++ = *s;
	}
	*o = '\0';
	return 0;
}

/*
 * The value of field name in an application/x-www-form-urlencoded body,
 * decoded into out; 0, or -1 if absent, malformed or longer than outlen.
 */
static int
form_field(const char *body, size_t len, const char *name, char *out,
    size_t outlen)
{
	const char *p = body, *end = body + len, *amp, *eq;
	size_t nl = strlen(name), vl;

	out[0] = '\0';
	while (p < end) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		eq = memchr(p, '=', (size_t)(amp - p));
		if (eq != NULL && (size_t)(eq - p) == nl &&
		    memcmp(p, name, nl) == 0) {
			vl = (size_t)(amp - eq - 1);
			if (vl >= outlen || memchr(eq + 1, '\0', vl) != NULL)
				return -1;
			memcpy(out, eq + 1, vl);
			out[vl] = '\0';
			return form_decode(out);
		}
		p = amp + 1;
	}
	return -1;
}

static int
login_post(const struct rf_conf *conf, struct rf_db *db,
    const struct rf_portal_req *req, struct rf_portal_resp *resp)
{
	char user[FIELD_MAX], pass[FIELD_MAX], ret[FIELD_MAX];
	char token[RF_AUTH_TOKEN_MAX];
	int r;

	if (!same_origin(req)) {
		logit("login POST from %s with foreign origin \"%s\" refused",
		    req->peer, req->origin != NULL ? req->origin :
		    req->referer != NULL ? req->referer : "(none)");
		return message_page(resp, 403, "Forbidden",
		    "This form was not sent from this site.");
	}
	if (rf_auth_peer_blocked(req->peer)) {
		logit("login from %s refused: too many failures", req->peer);
		return message_page(resp, 429, "Too many attempts",
		    "Too many failed logins from your address. Wait a minute "
		    "and try again.");
	}
	if (form_field(req->body, req->body_len, "return", ret,
	    sizeof(ret)) != 0 || !rf_auth_local_path(ret))
		strcpy(ret, "/");
	if (form_field(req->body, req->body_len, "user", user,
	    sizeof(user)) != 0 || form_field(req->body, req->body_len,
	    "password", pass, sizeof(pass)) != 0)
		return login_page(req, resp, 400, ret, NULL,
		    "Enter a user name and a password.");
	if (rf_auth_user(conf, user, pass) == NULL) {
		memset(pass, 0, sizeof(pass));
		rf_auth_peer_failed(req->peer, "login", user);
		return login_page(req, resp, 403, ret, user,
		    "Wrong user name or password.");
	}
	memset(pass, 0, sizeof(pass));
	if ((r = rf_auth_session_new(db, RF_SESSION_PORTAL, user, "portal",
	    token, sizeof(token))) != 0) {
		error("cannot store a session for %s: %s", user,
		    rf_strerror(r));
		return message_page(resp, 500, "Internal error",
		    "The session could not be stored. Try again later.");
	}
	/* Host-only: no Domain=, so no device host ever receives it. */
	snprintf(resp->set_cookie, sizeof(resp->set_cookie),
	    "%s=%s; Path=/; Max-Age=%d;%s HttpOnly; SameSite=Lax",
	    RF_AUTH_PORTAL_COOKIE, token, RF_AUTH_PORTAL_TTL,
	    req->tls ? " Secure;" : "");
	memset(token, 0, sizeof(token));
	logit("%s logged in from %s", user, req->peer);
	return redirect(resp, 303, ret);
}

static int
logout(struct rf_db *db, const struct rf_portal_req *req,
    struct rf_portal_resp *resp)
{
	rf_auth_session_end(db, req->cookie, RF_AUTH_PORTAL_COOKIE);
	snprintf(resp->set_cookie, sizeof(resp->set_cookie),
	    "%s=; Path=/; Max-Age=0;%s HttpOnly; SameSite=Lax",
	    RF_AUTH_PORTAL_COOKIE, req->tls ? " Secure;" : "");
	return redirect(resp, 303, "/");
}

static int
is_label(const char *s)
{
	size_t len = strlen(s);

	return len >= 1 && len <= 63 && s[0] != '-' && s[len - 1] != '-' &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == len;
}

/* Not logged in: to the login page, which comes back here afterwards. */
static int
authorize_login(const struct rf_portal_req *req, struct rf_portal_resp *resp,
    const char *device, const char *ret)
{
	char here[1024], e1[1200], e2[1600], loc[2048];

	(void)req;
	if (rf_auth_url_encode(ret, e1, sizeof(e1)) != 0 ||
	    snprintf(here, sizeof(here), P_AUTHORIZE "?device=%s&return=%s",
	    device, e1) >= (int)sizeof(here) ||
	    rf_auth_url_encode(here, e2, sizeof(e2)) != 0 ||
	    snprintf(loc, sizeof(loc), P_LOGIN "?return=%s", e2) >=
	    (int)sizeof(loc))
		return message_page(resp, 414, "Address too long",
		    "The address asked for is too long.");
	return redirect(resp, 303, loc);
}

static int
authorize(const struct rf_conf *conf, struct rf_db *db,
    const struct rf_portal_req *req, struct rf_portal_resp *resp)
{
	const struct rf_conf_user *u;
	char user[RF_DB_SESSION_USER_MAX], token[RF_AUTH_TOKEN_MAX];
	char port[8], eret[1200], loc[2048];
	const char *device = req->arg_device, *ret = req->arg_return;
	int r;

	if (device == NULL || !is_label(device))
		return message_page(resp, 400, "Bad request",
		    "Which device? The address names none.");
	if (ret == NULL || !rf_auth_local_path(ret))
		ret = "/";
	if (!portal_user(conf, db, req, user, sizeof(user)) ||
	    (u = rf_conf_user_find(conf, user)) == NULL)
		return authorize_login(req, resp, device, ret);
	if (!rf_auth_user_may(u, device)) {
		logit("%s from %s may not reach %s", user, req->peer, device);
		return message_page(resp, 403, "Forbidden",
		    "You may not reach this device.");
	}
	if ((r = rf_auth_session_new(db, RF_SESSION_ONETIME, user, device,
	    token, sizeof(token))) != 0) {
		error("cannot store a token for %s: %s", user, rf_strerror(r));
		return message_page(resp, 500, "Internal error",
		    "The token could not be stored. Try again later.");
	}
	rf_auth_host_port(req->host, port, sizeof(port));
	if (rf_auth_url_encode(ret, eret, sizeof(eret)) != 0 ||
	    snprintf(loc, sizeof(loc), "https://%s.%s%s/.reflector/session?"
	    "token=%s&return=%s", device, conf->domain, port, token, eret) >=
	    (int)sizeof(loc))
		return message_page(resp, 414, "Address too long",
		    "The address asked for is too long.");
	memset(token, 0, sizeof(token));
	verbose("%s from %s authorized for %s", user, req->peer, device);
	r = redirect(resp, 302, loc);
	memset(loc, 0, sizeof(loc));
	return r;
}

/* A JSON answer of the token endpoint; text is ours (no escaping needed). */
static int
json_answer(struct rf_portal_resp *resp, int status, const char *fmt, ...)
{
	va_list ap;
	int n;

	resp->status = status;
	resp->content_type = "application/json";
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (resp->body = malloc((size_t)n + 1)) == NULL)
		return RF_ERR_NOMEM;
	va_start(ap, fmt);
	vsnprintf(resp->body, (size_t)n + 1, fmt, ap);
	va_end(ap);
	resp->body_len = (size_t)n;
	return 0;
}

/*
 * POST /my-devices/api/token (WEBTUNNEL.md §5), what the stock login tool
 * sends: form fields username, password, application and optionally
 * totp, which this reflector does not use.  200 {"token", "expires"} with
 * an API token (auth.h), or 401.  No Origin check as for the login form:
 * the request carries the password itself, so a foreign page that sends
 * it gains nothing it did not have; and the token comes back in the body,
 * which a foreign page cannot read.
 */
static int
api_token(const struct rf_conf *conf, struct rf_db *db,
    const struct rf_portal_req *req, struct rf_portal_resp *resp)
{
	char user[FIELD_MAX], pass[FIELD_MAX], app[FIELD_MAX];
	char token[RF_AUTH_TOKEN_MAX];
	long long expires;
	int r;

	if (!req->post)
		return json_answer(resp, 405, "{\"error\": \"POST the form "
		    "fields username and password\"}\n");
	if (rf_auth_peer_blocked(req->peer)) {
		logit("token for %s refused: too many failures", req->peer);
		return json_answer(resp, 429, "{\"error\": \"too many failed "
		    "attempts; wait a minute\"}\n");
	}
	if (form_field(req->body, req->body_len, "application", app,
	    sizeof(app)) != 0)
		snprintf(app, sizeof(app), "?");
	if (form_field(req->body, req->body_len, "username", user,
	    sizeof(user)) != 0 || form_field(req->body, req->body_len,
	    "password", pass, sizeof(pass)) != 0) {
		memset(pass, 0, sizeof(pass));
		return json_answer(resp, 401, "{\"error\": \"username and "
		    "password are required\"}\n");
	}
	if (rf_auth_user(conf, user, pass) == NULL) {
		memset(pass, 0, sizeof(pass));
		rf_auth_peer_failed(req->peer, "token", user);
		return json_answer(resp, 401, "{\"error\": \"wrong user name "
		    "or password\"}\n");
	}
	memset(pass, 0, sizeof(pass));
	if ((r = rf_auth_api_token_new(db, user, token, sizeof(token),
	    &expires)) != 0) {
		error("cannot store an API token for %s: %s", user,
		    rf_strerror(r));
		return json_answer(resp, 500, "{\"error\": \"the token could "
		    "not be stored\"}\n");
	}
	logit("API token for %s (application \"%.40s\") from %s", user, app,
	    req->peer);
	r = json_answer(resp, 200, "{\"token\": \"%s\", \"expires\": %lld}\n",
	    token, expires);
	memset(token, 0, sizeof(token));
	return r;
}

int
rf_portal_request(const struct rf_conf *conf, struct rf_db *db,
    const struct rf_portal_req *req, struct rf_portal_resp *resp)
{
	char ret[FIELD_MAX];

	memset(resp, 0, sizeof(*resp));
	if (db == NULL)
		return message_page(resp, 503, "Unavailable",
		    "The session store is not open.");
	if (req->post && !rf_portal_wants_form(req->path))
		return message_page(resp, 405, "Method not allowed",
		    "This address answers GET and HEAD only.");
	if (strcmp(req->path, P_TOKEN) == 0)
		return api_token(conf, db, req, resp);
	if (strcmp(req->path, P_LOGIN) == 0) {
		if (req->post)
			return login_post(conf, db, req, resp);
		snprintf(ret, sizeof(ret), "%s", req->arg_return != NULL &&
		    rf_auth_local_path(req->arg_return) ? req->arg_return :
		    "/");
		return login_page(req, resp, 200, ret, NULL, NULL);
	}
	if (strcmp(req->path, P_LOGOUT) == 0)
		return logout(db, req, resp);
	if (strcmp(req->path, P_AUTHORIZE) == 0)
		return authorize(conf, db, req, resp);
	return home_page(conf, db, req, resp);
}
