/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Who may do what: device secrets, user passwords, sessions (auth.c), and
 * the portal pages that log users in (portal.c).
 *
 * Nothing reaches a device unauthenticated.  A browser logs in on the
 * portal host (https://<domain>/.reflector/login) and gets a portal
 * session.  A device host never sees that cookie: the first request to
 * https://<id>.<domain>/ without a device session is redirected to the
 * portal's /.reflector/authorize, which checks the user may reach the
 * device and redirects back to /.reflector/session?token=<one-time token>
 * on the device host, which sets a host-only session cookie for that one
 * device and redirects to the page first asked for.  A page of one device
 * therefore holds no credential for another device or for the portal.
 * Client tools send Basic credentials instead, or X-PTTH-Authorization so
 * that the device's own Authorization header passes through untouched.
 */
#ifndef RF_AUTH_H
#define RF_AUTH_H

#include <stddef.h>

struct rf_conf;
struct rf_conf_user;
struct rf_db;

/* Cookie names; the device host's cookie is stripped before forwarding. */
#define RF_AUTH_PORTAL_COOKIE	"rf_portal"
#define RF_AUTH_DEVICE_COOKIE	"rf_session"
#define RF_AUTH_TOKEN_MAX	96	/* room for a token string */

/*
 * Password and secret hashes, as stored in reflector.yml:
 *   $scrypt$ln=15,r=8,p=1$<salt>$<hash>   user passwords, chosen secrets
 *   $sha256$<salt>$<hash>                 secrets of 128 bits or more that
 *                                         the reflector generated
 * (base64 without padding).  1: matches, 0: does not, <0: bad hash string.
 */
int	rf_auth_verify(const char *hash, const char *password);
int	rf_auth_hash_password(const char *password, char *out, size_t outlen);
/* A new random 128-bit device secret (printable) and its $sha256$ hash. */
int	rf_auth_new_secret(char *secret, size_t secretlen, char *hash,
	    size_t hashlen);

/* A device as reflector.yml or the registry knows it. */
struct rf_device_info {
	char	id[64];
	char	group[64];
	char	name[128];		/* "" if none */
	char	secret[192];		/* the hash */
	int	from_registry;		/* added with reflectorctl */
};

/*
 * Finds a device: reflector.yml first, then the registry (db, may be
 * NULL).  1 and *info filled, or 0.
 */
int	rf_auth_device_find(const struct rf_conf *, struct rf_db *,
	    const char *id, struct rf_device_info *);
/*
 * A known device whose id, group and secret match: 1, else 0.  The stock
 * agent sends Basic "<id>@<group>:<secret>" (WEBTUNNEL.md 2).
 */
int	rf_auth_device(const struct rf_conf *, struct rf_db *, const char *id,
	    const char *group, const char *secret);
/*
 * The user of the config of that name and password, or NULL.  It costs a
 * slow hash whether or not the name exists, so that timing does not tell
 * names apart; a success is remembered for a few minutes in this process
 * so that a client tool sending Basic credentials on every request does
 * not stall the event loop with a slow hash each time.
 */
const struct rf_conf_user *rf_auth_user(const struct rf_conf *,
	    const char *name, const char *password);
/* 1 if the user's device patterns allow the device ("id", "*", "plc-*"). */
int	rf_auth_user_may(const struct rf_conf_user *, const char *device);

enum rf_auth_result {
	RF_AUTH_OK = 0,		/* *user is set */
	RF_AUTH_LOGIN,		/* a browser: redirect to the portal */
	RF_AUTH_DENIED,		/* credentials given but wrong, or no grant */
};

/*
 * Decides a request for a device host from its Cookie, Authorization and
 * X-PTTH-Authorization header values (each NULL when absent).  With
 * RF_AUTH_OK, *used_authorization says the Authorization header carried
 * our credentials (strip it before forwarding) rather than the device's.
 *
 * In order: a live rf_session cookie for this device; else Basic
 * credentials in X-PTTH-Authorization, which are always ours; else Basic
 * credentials in Authorization whose user name is one of our users.  A
 * Basic header with a name we do not know is taken for the device's own
 * (a browser replays a device's Basic credentials after our cookie
 * expired) and gives RF_AUTH_LOGIN, not RF_AUTH_DENIED.  With
 * RF_AUTH_DENIED, user holds the name that was tried (or ""): the caller
 * reports it with rf_auth_peer_failed(), which knows the peer; it asks
 * rf_auth_peer_blocked() first.
 */
enum rf_auth_result rf_auth_device_request(const struct rf_conf *,
	    struct rf_db *, const char *device, const char *cookie,
	    const char *authorization, const char *x_ptth_authorization,
	    char *user, size_t userlen, int *used_authorization);

/*
 * /.reflector/session?token=T on a device host: exchanges a one-time token
 * from the portal for a device session; cookie gets the whole Set-Cookie
 * header value.  RF_AUTH_DENIED for an unknown, used or expired token.
 */
enum rf_auth_result rf_auth_session_from_token(const struct rf_conf *,
	    struct rf_db *, const char *device, const char *token,
	    char *cookie, size_t cookielen);

/*
 * The portal URL that starts the authorize dance for device and path:
 * https://<domain>[:port]/.reflector/authorize?device=<id>&return=<path>.
 * host is the Host header the request came with (or NULL): its port, if
 * any, is the portal's too, since one listener serves every host name.
 * RF_ERR_LIMIT if url is too small, RF_ERR_INVAL for a path that is not
 * local ("/...", not "//...").
 */
int	rf_auth_login_url(const struct rf_conf *, const char *host,
	    const char *device, const char *path, char *url, size_t urllen);

/*
 * The port of a Host header value as ":8443" into port (or "" for none or
 * 443), to build URLs for the other host names of the same listener.
 */
void	rf_auth_host_port(const char *host, char *port, size_t portlen);
/*
 * 1 if s is a local path fit to redirect to after login: "/" then
 * printable ASCII without spaces, never "//" or "/\" (another host).
 */
int	rf_auth_local_path(const char *s);
/* Percent-encodes all but A-Z a-z 0-9 - . _ ~ and '/'. */
int	rf_auth_url_encode(const char *s, char *out, size_t outlen);

/* Session lifetimes, seconds. */
#define RF_AUTH_PORTAL_TTL	(12 * 3600)
#define RF_AUTH_ONETIME_TTL	60
#define RF_AUTH_DEVICE_TTL	(12 * 3600)

/*
 * Mints a session of kind (enum rf_session_kind in db.h) for user with
 * scope "portal" or a device id, stored in the registry as SHA-256 of the
 * token; token gets the token (43 characters of base64url).  Shared by
 * every worker through LMDB.
 */
int	rf_auth_session_new(struct rf_db *, int kind, const char *user,
	    const char *scope, char *token, size_t tokenlen);
/*
 * Looks for a cookie called name in a Cookie header value that names a
 * live session of that kind and scope whose user still exists in the
 * configuration and (for a device scope) may still reach the device: 1
 * and *user set, else 0.  Every cookie of that name is tried, since a
 * browser may send several.
 */
int	rf_auth_session_check(const struct rf_conf *, struct rf_db *,
	    const char *cookie_header, const char *name, int kind,
	    const char *scope, char *user, size_t userlen);
/* Deletes the sessions that the cookies called name refer to. */
void	rf_auth_session_end(struct rf_db *, const char *cookie_header,
	    const char *name);

/*
 * API tokens (WEBTUNNEL.md §5): sessions of kind RF_AUTH_SESSION_API with
 * scope "api", minted by POST /my-devices/api/token on the portal
 * (portal.c) for a user's name and password, valid RF_AUTH_API_TTL.  A
 * client tool sends one as "Authorization: Bearer <token>" for a client
 * tunnel or "Proxy-Authorization: Bearer <token>" for CONNECT; it is not a
 * browser credential (no cookie is ever made of it).  The kind continues
 * db.h's enum rf_session_kind (1-3).  *expires gets the end, unix seconds.
 */
#define RF_AUTH_SESSION_API	4
#define RF_AUTH_API_TTL		(12 * 3600)
int	rf_auth_api_token_new(struct rf_db *, const char *user, char *token,
	    size_t tokenlen, long long *expires);

/*
 * The credentials a client tool sends for a client or CONNECT tunnel, the
 * value of Authorization or Proxy-Authorization: "Basic user:password" of
 * a user of the configuration, or "Bearer <API token>".  RF_AUTH_OK with
 * *u and user set; RF_AUTH_LOGIN when header is NULL or empty (ask for
 * credentials); RF_AUTH_DENIED for wrong, malformed, unknown or expired
 * ones, user holding the name tried ("(token)" for a token, or ""), to be
 * reported with rf_auth_peer_failed().  A Basic check costs a slow hash
 * the first time (see rf_auth_user).
 */
enum rf_auth_result rf_auth_tool(const struct rf_conf *, struct rf_db *,
	    const char *header, char *user, size_t userlen,
	    const struct rf_conf_user **u);
/*
 * 1 if both the user's and the device's "ports" (reflector.yml) allow
 * port; a device only in the registry has no list of its own.
 */
int	rf_auth_port_may(const struct rf_conf *, const struct rf_conf_user *,
	    const char *device, unsigned int port);

/*
 * Decodes "Basic base64(user:password)"; 0, or RF_ERR_PROTO for anything
 * else (another scheme, bad base64, no colon, a NUL, too long).
 */
int	rf_auth_basic_decode(const char *header, char *user, size_t userlen,
	    char *password, size_t passlen);

/*
 * Failed logins and device authentications, counted per peer address (the
 * port is ignored) in this process: after RF_AUTH_FAIL_MAX failures within
 * RF_AUTH_FAIL_WINDOW seconds the peer is refused for RF_AUTH_FAIL_BLOCK
 * seconds.  Callers ask rf_auth_peer_blocked() before they verify anything
 * (answer 429, or 401 to a device), and report every failure with
 * rf_auth_peer_failed(), which also logs it: what ("login", "device",
 * "basic") and who (user or device) as given, and the peer.
 */
#define RF_AUTH_FAIL_MAX	5
#define RF_AUTH_FAIL_WINDOW	60
#define RF_AUTH_FAIL_BLOCK	60
int	rf_auth_peer_blocked(const char *peer);
void	rf_auth_peer_failed(const char *peer, const char *what,
	    const char *who);

#endif
