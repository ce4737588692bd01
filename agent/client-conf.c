/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What reflector-client needs to know before it connects: client.yml (a
 * key table read by the shared YAML engine, common/yconf.h), the device's
 * address, and the credentials.  Credentials never have to be on the
 * command line, where ps(1) shows them: a password comes from the
 * environment, from client.yml (which must be private to its owner, as
 * ssh requires of its keys) or from a prompt on the terminal.
 */
#include <sys/stat.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "agentconf.h"
#include "client.h"
#include "err.h"
#include "rfagent.h"
#include "yconf.h"

#define S(f)	offsetof(struct client_settings, f)

static const struct rf_yconf_key client_keys[] = {
	{ .path = "reflector", .type = RF_YC_STRING, .flags = RF_YC_UNSET,
	  .check = rf_agentconf_check_url, .off = S(reflector),
	  .desc = "URL of the reflector: names a bare device id" },
	{ .path = "ca_file", .type = RF_YC_PATH, .flags = RF_YC_UNSET,
	  .off = S(ca_file),
	  .desc = "CA certificates (PEM) to verify it; empty: the system's" },
	{ .path = "username", .type = RF_YC_USERNAME, .flags = RF_YC_UNSET,
	  .off = S(username), .desc = "user name on the reflector" },
	{ .path = "password", .type = RF_YC_STRING, .flags = RF_YC_UNSET,
	  .off = S(password), .desc = "its password" },
	{ .path = "token", .type = RF_YC_STRING, .flags = RF_YC_UNSET,
	  .off = S(token), .desc = "a token, sent as Bearer" },
	{ .path = "proxy", .type = RF_YC_SECTION,
	  .desc = "HTTP CONNECT proxy to reach the reflector through" },
	{ .path = "proxy.url", .type = RF_YC_STRING, .flags = RF_YC_UNSET,
	  .check = rf_agentconf_check_proxy_url, .off = S(proxy_url),
	  .desc = "http://host:port; empty: connect directly" },
	{ .path = "proxy.username", .type = RF_YC_STRING, .flags = RF_YC_UNSET,
	  .off = S(proxy_username), .desc = "Basic credentials, optional" },
	{ .path = "proxy.password", .type = RF_YC_STRING, .flags = RF_YC_UNSET,
	  .off = S(proxy_password), .desc = "password of username" },
	{ .path = "keepalive", .type = RF_YC_DURATION, .def = "60s",
	  .min = 5, .max = 3600, .off = S(keepalive),
	  .desc = "idle time before a PING" },
	{ .path = "connect_timeout", .type = RF_YC_DURATION, .def = "20s",
	  .min = 1, .max = 300, .off = S(connect_timeout),
	  .desc = "time a tunnel's handshake may take" },
	{ .path = NULL }
};

static const struct rf_yconf_schema client_schema = {
	.keys = client_keys,
	.example = "reflector",
};

static void
print_error(void *arg, const char *line)
{
	(void)arg;
	client_msg("%s", line);
}

int
client_conf_default_path(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	int n;

	if (xdg != NULL && *xdg == '/')
		n = snprintf(buf, len, "%s/reflector/client.yml", xdg);
	else if (home != NULL && *home != '\0')
		n = snprintf(buf, len, "%s/.config/reflector/client.yml", home);
	else
		return -1;
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/*
 * The file holds a password or a token: like ssh with a private key,
 * refuse it when anyone but its owner could read or change it.
 */
static int
check_private(int fd, const char *path)
{
	struct stat st;

	if (fstat(fd, &st) == -1) {
		client_msg("%s: %s", path, strerror(errno));
		return -1;
	}
	if (st.st_uid != getuid() && st.st_uid != 0) {
		client_msg("%s: bad owner: it must belong to you", path);
		return -1;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		client_msg("%s: bad permissions %04o: it may hold a password, "
		    "so it must not be open to others (chmod 600 %s)", path,
		    (unsigned int)(st.st_mode & 07777), path);
		return -1;
	}
	return 0;
}

int
client_conf_load(const char *path, struct client_settings *s)
{
	char def[1024];
	unsigned char *buf = NULL;
	size_t len = 0;
	int fd, r, given = path != NULL;

	memset(s, 0, sizeof(*s));
	if (!given && client_conf_default_path(def, sizeof(def)) == 0)
		path = def;
	if (path == NULL || (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (path != NULL && (given || errno != ENOENT)) {
			client_msg("%s: %s", path, strerror(errno));
			return -1;
		}
		/* No file: the defaults, through the same engine. */
		r = rf_yconf_load_mem(&client_schema, "", 0, "(defaults)", s,
		    NULL, NULL, print_error, NULL);
		return r == 0 ? 0 : -1;
	}
	if (check_private(fd, path) != 0 ||
	    rf_yconf_read_fd(fd, path, &buf, &len, print_error, NULL) != 0) {
		close(fd);
		return -1;
	}
	close(fd);
	r = rf_yconf_load_mem(&client_schema, buf, len, path, s, NULL, NULL,
	    print_error, NULL);
	explicit_bzero(buf, len);
	free(buf);
	if (r != 0) {
		client_conf_free(s);
		return -1;
	}
	return 0;
}

void
client_conf_free(struct client_settings *s)
{
	if (s->password != NULL)
		explicit_bzero(s->password, strlen(s->password));
	if (s->token != NULL)
		explicit_bzero(s->token, strlen(s->token));
	if (s->proxy_password != NULL)
		explicit_bzero(s->proxy_password, strlen(s->proxy_password));
	rf_yconf_free_fields(client_keys, s);
	memset(s, 0, sizeof(*s));
}

/* ------------------------------------------------------------- target -- */

uint16_t
client_port_number(const char *s)
{
	static const struct {
		const char	*name;
		uint16_t	 port;
	} names[] = {
		{ "ssh", 22 }, { "http", 80 }, { "https", 443 },
		{ "vnc", 5900 }, { "rdp", 3389 },
	};
	char *end;
	long v;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0)
			return names[i].port;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < 1 || v > 65535)
		return 0;
	return (uint16_t)v;
}

int
client_target_parse(const char *device, const char *reflector,
    struct client_target *t)
{
	struct rf_agent_url du, ru;
	char url[600];
	const char *why, *dot;
	size_t idlen, i;
	int have_r = 0, explicit_port;

	memset(t, 0, sizeof(*t));
	if (reflector != NULL) {
		if (rf_agent_parse_url(reflector, &ru, &why) != 0) {
			client_msg("the reflector must be %s", why);
			return -1;
		}
		have_r = 1;
	}
	if (strstr(device, "://") != NULL)
		snprintf(url, sizeof(url), "%s", device);
	else
		snprintf(url, sizeof(url), "https://%s/", device);
	if (rf_agent_parse_url(url, &du, &why) != 0) {
		client_msg("'%s': the device must be a host name such as "
		    "dev1.reflector.example.net, a URL such as "
		    "https://dev1.reflector.example.net/, or a device id with "
		    "-r", device);
		return -1;
	}
	for (i = 0; du.host[i] != '\0'; i++)
		du.host[i] = (char)tolower((unsigned char)du.host[i]);
	explicit_port = strchr(url + 8, ':') != NULL &&
	    strchr(url + 8, ':') < strchr(url + 8, '/');
	if ((dot = strchr(du.host, '.')) == NULL) {
		/* A bare id: a label under the reflector's host. */
		if (!have_r) {
			client_msg("'%s' is a device id: give the reflector "
			    "with -r or 'reflector' in client.yml, or the "
			    "device's whole host name", device);
			return -1;
		}
		snprintf(t->host, sizeof(t->host), "%.62s.%.190s", du.host,
		    ru.host);
	} else
		snprintf(t->host, sizeof(t->host), "%s", du.host);
	dot = strchr(t->host, '.');
	idlen = (size_t)(dot - t->host);
	if (idlen == 0 || idlen >= sizeof(t->id) ||
	    !rf_yconf_is_label(t->host, idlen)) {
		client_msg("'%s': the device id must be a DNS label", device);
		return -1;
	}
	memcpy(t->id, t->host, idlen);
	/* Connect to the reflector given, or to the device's own name. */
	if (have_r) {
		snprintf(t->connect_host, sizeof(t->connect_host), "%s",
		    ru.host);
		t->connect_port = explicit_port ? du.port : ru.port;
		t->tls = ru.tls;
		snprintf(t->portal, sizeof(t->portal), "%s", ru.host);
	} else {
		snprintf(t->connect_host, sizeof(t->connect_host), "%s",
		    t->host);
		t->connect_port = du.port;
		t->tls = du.tls;
		snprintf(t->portal, sizeof(t->portal), "%s", dot + 1);
	}
	if (t->connect_port == (t->tls ? 443 : 80))
		snprintf(t->host_header, sizeof(t->host_header), "%s",
		    t->host);
	else {
		snprintf(t->host_header, sizeof(t->host_header), "%s:%d",
		    t->host, t->connect_port);
		snprintf(t->portal + strlen(t->portal),
		    sizeof(t->portal) - strlen(t->portal), ":%d",
		    t->connect_port);
	}
	return 0;
}

/* -------------------------------------------------------- credentials -- */

/* Reads a line from the terminal without echo; 0 or -1. */
static int
prompt_password(const char *prompt, char *buf, size_t len)
{
	struct termios old, quiet;
	int fd, echo_off = 0, r = -1;
	size_t n = 0;
	ssize_t k;
	char ch;

	if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC)) == -1)
		return -1;
	if (tcgetattr(fd, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		echo_off = tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
	}
	if (write(fd, prompt, strlen(prompt)) == -1)
		goto out;
	for (;;) {
		if ((k = read(fd, &ch, 1)) == -1 && errno == EINTR)
			continue;
		if (k <= 0)
			goto out;
		if (ch == '\n' || ch == '\r')
			break;
		if (n + 1 < len)
			buf[n++] = ch;
	}
	buf[n] = '\0';
	r = 0;
out:
	if (echo_off) {
		(void)tcsetattr(fd, TCSAFLUSH, &old);
		/* The newline the user typed was not echoed. */
		(void)!write(fd, "\n", 1);
	}
	close(fd);
	return r;
}

static int
set_bearer(struct client_creds *cr, const char *token)
{
	int n;

	if (*token == '\0' || strpbrk(token, " \t\r\n") != NULL) {
		client_msg("the token must be one word");
		return -1;
	}
	n = snprintf(cr->authorization, sizeof(cr->authorization),
	    "Bearer %s", token);
	if (n < 0 || (size_t)n >= sizeof(cr->authorization)) {
		client_msg("the token is too long");
		return -1;
	}
	if ((cr->token = strdup(token)) == NULL) {
		client_msg("out of memory");
		return -1;
	}
	return 0;
}

static int
set_basic(struct client_creds *cr, const char *user,
    const struct client_settings *s, const char *what)
{
	char pw[512], prompt[600];
	const char *env;

	if (*user == '\0' || strchr(user, ':') != NULL ||
	    strlen(user) >= sizeof(cr->user)) {
		client_msg("'%s' is not a user name", user);
		return -1;
	}
	snprintf(cr->user, sizeof(cr->user), "%s", user);
	cr->basic = 1;
	if ((env = getenv("REFLECTOR_PASSWORD")) != NULL)
		snprintf(pw, sizeof(pw), "%s", env);
	else if (s->password != NULL && s->username != NULL &&
	    strcmp(s->username, user) == 0)
		snprintf(pw, sizeof(pw), "%s", s->password);
	else {
		snprintf(prompt, sizeof(prompt), "Password for %s on %s: ",
		    user, what);
		if (prompt_password(prompt, pw, sizeof(pw)) != 0) {
			client_msg("no password for %s: no terminal to ask on; "
			    "set REFLECTOR_PASSWORD, or use a token", user);
			return -1;
		}
	}
	if (rf_wsc_basic(user, pw, cr->authorization,
	    sizeof(cr->authorization)) != 0 ||
	    (cr->password = strdup(pw)) == NULL) {
		explicit_bzero(pw, sizeof(pw));
		client_msg("the user name and password are too long");
		return -1;
	}
	explicit_bzero(pw, sizeof(pw));
	return 0;
}

int
client_creds_get(const char *opt_user, const char *opt_token,
    const struct client_settings *s, const char *what,
    struct client_creds *cr)
{
	const char *env;
	int r;

	memset(cr, 0, sizeof(*cr));
	if (opt_token != NULL)
		r = set_bearer(cr, opt_token);
	else if (opt_user != NULL)
		r = set_basic(cr, opt_user, s, what);
	else if ((env = getenv("REFLECTOR_TOKEN")) != NULL && *env != '\0')
		r = set_bearer(cr, env);
	else if ((env = getenv("REFLECTOR_USER")) != NULL && *env != '\0')
		r = set_basic(cr, env, s, what);
	else if (s->token != NULL)
		r = set_bearer(cr, s->token);
	else if (s->username != NULL)
		r = set_basic(cr, s->username, s, what);
	else {
		client_msg("no credentials: give -u user (the password is "
		    "asked for) or -t token, set REFLECTOR_USER and "
		    "REFLECTOR_PASSWORD or REFLECTOR_TOKEN, or put username "
		    "or token in client.yml");
		r = -1;
	}
	if (r != 0)
		client_creds_clear(cr);
	return r;
}

void
client_creds_clear(struct client_creds *cr)
{
	if (cr->password != NULL)
		explicit_bzero(cr->password, strlen(cr->password));
	if (cr->token != NULL)
		explicit_bzero(cr->token, strlen(cr->token));
	free(cr->password);
	free(cr->token);
	explicit_bzero(cr, sizeof(*cr));
}
