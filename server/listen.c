/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Listening sockets.  The master binds one socket per listener and worker
 * slot with SO_REUSEPORT and holds them all until it exits: the kernel
 * spreads new connections over the slots, and a connection queued on the
 * socket of a worker that just died waits in the backlog for the worker's
 * replacement, which inherits the same socket (PLATFORM-NOTES: lws cannot
 * use a listener it did not create, so workers accept by themselves).
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "err.h"
#include "log.h"
#include "reflectord.h"

#define RF_LISTEN_BACKLOG	4096	/* the kernel caps it at somaxconn */

static int
listen_one(const struct sockaddr_storage *ss, socklen_t sslen, int v6only)
{
	int fd, on = 1, saved;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1)
		goto fail;
	if (ss->ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &v6only, sizeof(v6only)) == -1)
		goto fail;
	if (bind(fd, (const struct sockaddr *)ss, sslen) == -1 ||
	    listen(fd, RF_LISTEN_BACKLOG) == -1)
		goto fail;
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/*
 * "*:port" means every address: one dual-stack IPv6 socket, or IPv4 alone
 * on a host without IPv6.  An explicit IPv6 address is IPv6 only, so that
 * "0.0.0.0:443" and "[::]:443" can be listed side by side.
 */
static int
listen_wildcard(const struct rf_conf_listen *cl, int *fdp)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	in_port_t port;

	port = cl->ss.ss_family == AF_INET6 ?
	    ((const struct sockaddr_in6 *)&cl->ss)->sin6_port :
	    ((const struct sockaddr_in *)&cl->ss)->sin_port;
	memset(&ss, 0, sizeof(ss));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_addr = in6addr_any;
	sin6->sin6_port = port;
	*fdp = listen_one(&ss, sizeof(*sin6), 0);
	if (*fdp != -1 || errno != EAFNOSUPPORT)
		return *fdp == -1 ? -1 : 0;
	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_ANY);
	sin->sin_port = port;
	*fdp = listen_one(&ss, sizeof(*sin), 0);
	return *fdp == -1 ? -1 : 0;
}

int
rf_listen_open(struct rf_listener *l, const struct rf_conf_listen *cl,
    int nslots)
{
	int slot, fd;

	for (slot = 0; slot < RF_MAX_WORKERS; slot++)
		l->fds[slot] = -1;
	l->tls = cl->tls;
	if ((l->address = strdup(cl->address)) == NULL)
		return RF_ERR_NOMEM;
	for (slot = 0; slot < nslots; slot++) {
		if (strncmp(cl->address, "*:", 2) == 0) {
			if (listen_wildcard(cl, &fd) == -1)
				return RF_ERR_SYS;
		} else if ((fd = listen_one(&cl->ss, cl->sslen,
		    1)) == -1)
			return RF_ERR_SYS;
		l->fds[slot] = fd;
	}
	return 0;
}

void
rf_listen_close_all(struct rf_listener *ls, size_t n, int nslots)
{
	size_t i;
	int slot;

	for (i = 0; i < n; i++) {
		for (slot = 0; slot < nslots; slot++) {
			if (ls[i].fds[slot] != -1)
				close(ls[i].fds[slot]);
			ls[i].fds[slot] = -1;
		}
	}
}
