/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The WebTunnel wire format (../shared/WEBTUNNEL.md §2-§3): the frames of a
 * device tunnel, the PROP_UPDATE payload and the X-PTTH-Set-Property
 * header, and our extension of it (reflector-webtunnel(7)): larger frames
 * and per-channel credit, negotiated by RF_WT_EXT_HEADER.  Pure encoding
 * and decoding over struct rf_buf; no I/O.  Every decoder takes untrusted
 * bytes and has a fuzz target.
 */
#ifndef RF_WT_H
#define RF_WT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define RF_WT_SUBPROTO_SERVER	"com.appinf.webtunnel.server/1.0"
#define RF_WT_SUBPROTO_CLIENT	"com.appinf.webtunnel.client/1.0"

/* A stock agent's receive buffer: 4 header bytes + 2048 payload bytes. */
#define RF_WT_STOCK_PAYLOAD_MAX	2048

/*
 * The extension (reflector-webtunnel(7)).  Each side announces, in this
 * header of the upgrade request and of the 101, the largest DATA payload
 * it accepts and the window it grants the other side on every channel.
 * A stock peer never sends it; without both announcements neither side
 * uses the extension.
 */
#define RF_WT_EXT_HEADER	"X-Reflector-WebTunnel-Ext"
#define RF_WT_EXT_VERSION	1
#define RF_WT_EXT_FRAME_MAX	65536		/* largest payload we allow */
#define RF_WT_EXT_WINDOW_MIN	RF_WT_STOCK_PAYLOAD_MAX
#define RF_WT_EXT_WINDOW_MAX	(1U << 30)
/* Credit a sender may hold on a channel; a grant beyond it is an error. */
#define RF_WT_EXT_CREDIT_MAX	0x7fffffffU

enum rf_wt_op {
	RF_WT_DATA = 0x00,
	RF_WT_OPEN_REQUEST = 0x01,	/* server -> agent, arg = port */
	RF_WT_CLOSE = 0x02,		/* half-close */
	RF_WT_OPEN_CONFIRM = 0x11,	/* agent -> server */
	RF_WT_PROP_UPDATE = 0x40,	/* agent -> server, channel 0 */
	RF_WT_ERROR = 0x80,		/* abort, arg = error code */
	RF_WT_OPEN_FAULT = 0x81,	/* agent -> server, arg = error code */
	/*
	 * Ours, both ways, only on a tunnel that negotiated the extension:
	 * a u32 of bytes granted, after the 4-byte header.  0x21 is in no
	 * stock implementation; a stock peer would answer ERROR(PROTOCOL).
	 */
	RF_WT_CREDIT = 0x21,
};

enum rf_wt_error {
	RF_WT_ERR_NONE = 0,
	RF_WT_ERR_BAD_CHANNEL = 1,
	RF_WT_ERR_NOT_FORWARDED = 2,
	RF_WT_ERR_CONN_REFUSED = 3,
	RF_WT_ERR_TIMEOUT = 4,
	RF_WT_ERR_SOCKET = 5,
	RF_WT_ERR_PROTOCOL = 6,
	RF_WT_ERR_CHANNEL_IN_USE = 7,
};

/* One decoded frame; payload points into the decoded message. */
struct rf_wt_frame {
	uint8_t			 op;
	uint8_t			 flags;
	uint16_t		 channel;
	uint16_t		 arg;		/* port or error code, else 0 */
	uint32_t		 credit;	/* CREDIT: bytes granted */
	const unsigned char	*payload;	/* DATA, PROP_UPDATE; else NULL */
	size_t			 len;
};

/* 6 for OPEN_REQUEST, OPEN_FAULT and ERROR, 8 for CREDIT, else 4. */
size_t	rf_wt_header_len(uint8_t op);
/* 1 if op is one of enum rf_wt_op. */
int	rf_wt_op_known(uint8_t op);
const char *rf_wt_op_name(uint8_t op);
const char *rf_wt_error_name(uint16_t err);

/*
 * Decodes one WebSocket message as a frame.  0 on success.  RF_ERR_INVAL
 * for an unknown opcode, with f->op and f->channel filled in so that the
 * caller can answer ERROR(PROTOCOL) on that channel without dropping the
 * tunnel.  RF_ERR_PROTO for a message too short for its opcode's header,
 * or with payload on an opcode that carries none.
 */
int	rf_wt_decode(const void *msg, size_t len, struct rf_wt_frame *f);

/*
 * Writes the header of a frame into hdr (room for RF_WT_HDR_MAX bytes) and
 * returns its length: for zero-copy sends the header goes right before a
 * payload already in place.  arg is the port or error code (16 bits), or
 * the credit of a CREDIT frame.
 */
#define RF_WT_HDR_MAX	8
size_t	rf_wt_encode_header(unsigned char *hdr, uint8_t op, uint16_t channel,
	    uint32_t arg);
/* Appends one whole frame (header and payload) to out. */
int	rf_wt_encode(struct rf_buf *out, uint8_t op, uint16_t channel,
	    uint32_t arg, const void *payload, size_t len);

/* What one side announced in RF_WT_EXT_HEADER. */
struct rf_wt_ext {
	uint32_t	 frame;		/* largest DATA payload it takes */
	uint32_t	 window;	/* initial credit it grants per channel */
};

/*
 * One RF_WT_EXT_HEADER value: "1; frame=<n>; window=<n>" (version first,
 * then parameters in any order, separated by ';' with optional spaces;
 * unknown parameters are ignored so that a later version can add some).
 * 0 on success.  RF_ERR_PROTO for anything else: another version, a
 * parameter missing or repeated, a number out of range (frame 2048-65536,
 * window 2048-2^30, window >= frame), garbage.  The caller falls back to
 * the plain protocol then; it never fails the handshake.
 */
int	rf_wt_ext_parse(const char *value, struct rf_wt_ext *);
/* The header value for e into out; RF_ERR_LIMIT if it does not fit. */
int	rf_wt_ext_format(const struct rf_wt_ext *, char *out, size_t len);
/*
 * The whole header line for e, "X-Reflector-WebTunnel-Ext: <value>\r\n",
 * as an upgrade request or a 101 carries it; RF_ERR_LIMIT if it does not
 * fit in len.
 */
int	rf_wt_ext_line(const struct rf_wt_ext *, char *out, size_t len);
/*
 * A server's answer to what a peer announced (the header's value, NULL if
 * it sent none): 0 with *theirs and our header line (rf_wt_ext_line of
 * ours) in line when both sides use the extension.  Otherwise line is ""
 * and it is the plain protocol: RF_ERR_NOTFOUND for no announcement (a
 * stock peer), RF_ERR_PROTO for one rf_wt_ext_parse refuses (the caller
 * may log it), RF_ERR_LIMIT when the line does not fit.  Device tunnels
 * (front.c) and client tunnels (proxy.c) answer with it.
 */
int	rf_wt_ext_answer(const char *announced, const struct rf_wt_ext *ours,
	    struct rf_wt_ext *theirs, char *line, size_t len);

/*
 * PROP_UPDATE payload: a count byte, then count key/value pairs, each
 * string a little-endian base-128 length and the bytes.  The callback gets
 * NUL-terminated copies (keys up to 63 bytes, values up to 1023); a
 * string with a NUL byte, too long, or past the end is RF_ERR_PROTO.  A
 * non-zero return from the callback stops and is returned.
 */
typedef int rf_wt_prop_fn(void *arg, const char *key, const char *value);
int	rf_wt_props_decode(const void *payload, size_t len, rf_wt_prop_fn *,
	    void *arg);
int	rf_wt_props_encode(struct rf_buf *out, const char *const *keys,
	    const char *const *values, size_t n);

/*
 * One X-PTTH-Set-Property header value: "device;<name>=<value>", where a
 * string value is double-quoted with \" and \\ escapes and a number is
 * bare; an empty value clears the property (value ""). RF_ERR_PROTO for
 * anything else (no "device;" prefix, a name that is not [A-Za-z0-9_.-]+,
 * an unterminated quote, bytes after the closing quote, control bytes).
 */
int	rf_wt_property_parse(const char *header, char *name, size_t namelen,
	    char *value, size_t valuelen);

#endif
