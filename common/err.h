/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Error codes shared by every module: functions return 0 or a negative
 * RF_ERR_* value, and rf_strerror() turns one into a sentence.
 */
#ifndef RF_ERR_H
#define RF_ERR_H

enum rf_err {
	RF_OK = 0,
	RF_ERR_SYS = -1,	/* a system call failed; errno says why */
	RF_ERR_NOMEM = -2,	/* allocation failed */
	RF_ERR_INVAL = -3,	/* bad argument or value */
	RF_ERR_SHORT = -4,	/* fewer bytes than the read needs */
	RF_ERR_LIMIT = -5,	/* a size limit would be exceeded */
	RF_ERR_AGAIN = -6,	/* nothing now; try again when ready */
	RF_ERR_EOF = -7,	/* the peer closed */
	RF_ERR_PROTO = -8,	/* malformed message or frame */
	RF_ERR_CONFIG = -9,	/* the configuration is invalid */
	RF_ERR_DB = -10,	/* LMDB reported an error */
	RF_ERR_NOTFOUND = -11,	/* no such key or entry */
	RF_ERR_TLS = -12,	/* OpenSSL reported an error */
	RF_ERR_EXISTS = -13,	/* already present */
};

/* A static sentence for an RF_ERR_* code; RF_ERR_SYS adds strerror(errno). */
const char	*rf_strerror(int);

#endif
