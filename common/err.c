/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rf_strerror(): one sentence for each RF_ERR_* code, so that a log line
 * says why something failed and not only that it did.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

const char *
rf_strerror(int err)
{
	static char	unknown[32];

	switch (err) {
	case RF_OK:
		return "success";
	case RF_ERR_SYS:
		/* errno is only meaningful right after the failing call. */
		return strerror(errno);
	case RF_ERR_NOMEM:
		return "out of memory";
	case RF_ERR_INVAL:
		return "invalid argument";
	case RF_ERR_SHORT:
		return "not enough data";
	case RF_ERR_LIMIT:
		return "size limit exceeded";
	case RF_ERR_AGAIN:
		return "resource temporarily unavailable";
	case RF_ERR_EOF:
		return "connection closed by peer";
	case RF_ERR_PROTO:
		return "malformed message";
	case RF_ERR_CONFIG:
		return "invalid configuration";
	case RF_ERR_DB:
		return "database error";
	case RF_ERR_NOTFOUND:
		return "not found";
	case RF_ERR_TLS:
		return "TLS error";
	case RF_ERR_EXISTS:
		return "already exists";
	}
	snprintf(unknown, sizeof(unknown), "unknown error %d", err);
	return unknown;
}
