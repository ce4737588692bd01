/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * WebSocket framing (RFC 6455) for both ends of a connection: the opening
 * handshake's accept key, frame decoding with in-place unmasking, message
 * reassembly, and frame, close and pong encoding.  Pure code over struct
 * rf_buf; no I/O.  We speak it ourselves over lws raw sockets because
 * lws 4.1.6 refuses the subprotocol token "com.appinf.webtunnel.server/1.0".
 * No extension is ever negotiated, so every RSV bit must be 0.
 */
#ifndef RF_WS_H
#define RF_WS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define RF_WS_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define RF_WS_KEY_LEN		24	/* base64 of 16 bytes */
#define RF_WS_ACCEPT_LEN	28	/* base64 of a SHA-1 digest */

#define RF_WS_HEADER_MAX	14	/* 2 + 8-byte length + 4-byte mask */
#define RF_WS_CONTROL_MAX	125	/* payload of a control frame */
#define RF_WS_REASON_MAX	123	/* close reason: 125 less the code */

enum rf_ws_opcode {
	RF_WS_CONT = 0x0,
	RF_WS_TEXT = 0x1,
	RF_WS_BINARY = 0x2,
	RF_WS_CLOSE = 0x8,
	RF_WS_PING = 0x9,
	RF_WS_PONG = 0xa,
};

/* RFC 6455 §7.4.1.  NO_STATUS, ABNORMAL and TLS never go on the wire. */
enum rf_ws_close_code {
	RF_WS_CLOSE_NORMAL = 1000,
	RF_WS_CLOSE_GOING_AWAY = 1001,
	RF_WS_CLOSE_PROTOCOL = 1002,
	RF_WS_CLOSE_UNSUPPORTED = 1003,
	RF_WS_CLOSE_NO_STATUS = 1005,
	RF_WS_CLOSE_ABNORMAL = 1006,
	RF_WS_CLOSE_BAD_DATA = 1007,
	RF_WS_CLOSE_POLICY = 1008,
	RF_WS_CLOSE_TOO_BIG = 1009,
	RF_WS_CLOSE_EXTENSION = 1010,
	RF_WS_CLOSE_INTERNAL = 1011,
	RF_WS_CLOSE_TLS = 1015,
};

/*
 * One decoded frame.  On success payload points at len unmasked bytes in
 * the storage of the buffer it was decoded from (see rf_ws_frame_decode).
 * On RF_ERR_PROTO or RF_ERR_LIMIT, payload is NULL, the fields read so far
 * are kept for the log line, why says what was wrong in a phrase short
 * enough for a close reason, and close_code is what to send the peer.
 */
struct rf_ws_frame {
	int			 fin;
	uint8_t			 opcode;
	uint8_t			 rsv;		/* 0 when decoded */
	int			 masked;
	uint8_t			 mask[4];
	size_t			 hdr_len;
	const unsigned char	*payload;
	size_t			 len;
	const char		*why;
	uint16_t		 close_code;
};

/* 1 for the six opcodes of enum rf_ws_opcode. */
int	rf_ws_opcode_known(uint8_t);
/* 1 for CLOSE, PING, PONG. */
int	rf_ws_opcode_control(uint8_t);
const char *rf_ws_opcode_name(uint8_t);

/*
 * Sec-WebSocket-Accept for a Sec-WebSocket-Key, which must be exactly the
 * canonical base64 of 16 bytes (the header value with its OWS trimmed).
 * out gets 28 characters and a NUL.  RF_ERR_PROTO for any other key (out
 * is then ""), RF_ERR_TLS if OpenSSL fails.
 */
int	rf_ws_accept_key(const char *client_key,
	    char out[RF_WS_ACCEPT_LEN + 1]);

/*
 * Consumes one whole frame from in, or nothing.  A server passes
 * expect_masked 1 (clients must mask), a client 0 (servers must not).
 *
 * RF_ERR_SHORT: the frame is not all there yet; nothing is consumed, f is
 * zeroed, read more and call again.  RF_ERR_PROTO: the frame breaks RFC
 * 6455 (RSV bits, an unknown opcode, a control frame fragmented or over
 * 125 bytes, a length not in its shortest form or with bit 63 set, the
 * wrong masking); it is decided from the first header byte that shows it,
 * before the rest arrives.  RF_ERR_LIMIT: the length is over max_payload,
 * or the whole frame could never fit in an owned in (its max_size), so the
 * caller never waits for bytes that have no room; decided from the length
 * field alone, so a 4 GB frame is refused with 10 bytes of it read.  After
 * PROTO or LIMIT the connection is lost: close with f->close_code.
 * RF_ERR_INVAL: a masked frame in a read-only view, which cannot be
 * unmasked in place; nothing is consumed.
 *
 * Ownership: a masked payload is unmasked in place, in in's storage, and
 * f->payload points there; it stays valid until the next put, compact or
 * free of in (consuming further frames does not move it).
 */
int	rf_ws_frame_decode(struct rf_buf *in, int expect_masked,
	    size_t max_payload, struct rf_ws_frame *f);

/*
 * XORs len bytes at p with key, p[0] being byte pos of the payload (so a
 * payload can be masked in pieces).  Its own inverse.
 */
void	rf_ws_mask(void *p, size_t len, const uint8_t key[4], size_t pos);
/* Four unpredictable bytes for a client's frame; RF_ERR_TLS on failure. */
int	rf_ws_mask_key(uint8_t key[4]);

/*
 * Writes a frame header into hdr and returns its length, 2 to 14; 0 if
 * the frame would be invalid (an unknown opcode, a control frame not fin
 * or over 125 bytes).  With a mask the header carries it, and the caller
 * masks the payload with rf_ws_mask(payload, len, mask, 0): for zero-copy
 * sends, the header goes right before a payload already in place.
 */
size_t	rf_ws_frame_header(unsigned char hdr[RF_WS_HEADER_MAX], int fin,
	    uint8_t opcode, size_t len, const uint8_t *mask);
/*
 * Appends one whole frame to out, the payload masked in the copy if mask
 * is not NULL; all or nothing.  payload must not lie in out.  RF_ERR_INVAL
 * where rf_ws_frame_header returns 0, RF_ERR_LIMIT past out's max_size.
 */
int	rf_ws_put_frame(struct rf_buf *out, int fin, uint8_t opcode,
	    const void *payload, size_t len, const uint8_t *mask);

/* 1 for a code a peer may send (§7.4): 1000-1003, 1007-1011, 3000-4999. */
int	rf_ws_close_code_valid(uint16_t code);
/* 1 for well-formed UTF-8 (no overlongs, surrogates or past U+10FFFF). */
int	rf_ws_utf8_valid(const void *p, size_t len);

/* A received close frame's payload. */
struct rf_ws_close {
	uint16_t	 code;		/* RF_WS_CLOSE_NO_STATUS if none */
	size_t		 reason_len;
	char		 reason[RF_WS_REASON_MAX + 1];	/* NUL-terminated */
};

/*
 * A close payload: nothing, or the code and UTF-8 reason.  RF_ERR_PROTO
 * for one byte, a code not valid on the wire, or a reason that is not
 * UTF-8 (answer with 1002); c is then zeroed.  The reason may hold NUL
 * bytes, which are valid UTF-8: reason_len has the real length.
 */
int	rf_ws_close_parse(const void *payload, size_t len,
	    struct rf_ws_close *c);
/*
 * Writes a close payload into p and its length into *lenp: empty for code
 * 0 (which takes no reason), else the code and reason.  RF_ERR_INVAL for
 * a code that may not be sent or a reason not UTF-8, RF_ERR_LIMIT for a
 * reason over 123 bytes.  reason may be NULL.
 */
int	rf_ws_close_payload(unsigned char p[RF_WS_CONTROL_MAX],
	    uint16_t code, const char *reason, size_t *lenp);
/* rf_ws_close_payload made into a whole frame appended to out. */
int	rf_ws_put_close(struct rf_buf *out, uint16_t code, const char *reason,
	    const uint8_t *mask);

/*
 * A complete message, or a control frame, as rf_ws_asm_add hands it out.
 * data is valid until the next rf_ws_asm_add or rf_ws_asm_free, and as
 * long as the frame payload it came from (an unfragmented message is not
 * copied).
 */
struct rf_ws_msg {
	uint8_t			 opcode;	/* TEXT, BINARY, or control */
	const unsigned char	*data;
	size_t			 len;
};

/*
 * Reassembles fragmented messages (§5.4).  Control frames may arrive
 * between the fragments and are handed out at once without disturbing the
 * message in progress.
 */
struct rf_ws_asm {
	struct rf_buf	 buf;		/* the fragments so far */
	uint8_t		 opcode;	/* of the message in progress, or 0 */
	int		 busy;		/* a message is in progress */
	size_t		 max_size;	/* of a whole message */
	const char	*why;		/* as in struct rf_ws_frame */
	uint16_t	 close_code;
};

/* max_size 0 is RF_BUF_MAX_DEFAULT. */
void	rf_ws_asm_init(struct rf_ws_asm *, size_t max_size);
void	rf_ws_asm_free(struct rf_ws_asm *);
/*
 * Takes a frame from rf_ws_frame_decode.  0: *m is a whole message or a
 * control frame, to be dispatched on m->opcode.  RF_ERR_AGAIN: the
 * fragment was kept; decode the next frame.  RF_ERR_PROTO: a continuation
 * with no message started, a new message before the last one ended, or a
 * text message that is not UTF-8 (close code 1007).  RF_ERR_LIMIT: the
 * message would pass max_size (1009).  After an error the assembler is
 * reset; why and close_code are set as for a frame.
 */
int	rf_ws_asm_add(struct rf_ws_asm *, const struct rf_ws_frame *,
	    struct rf_ws_msg *m);

/*
 * Appends a PONG that echoes a PING's payload, as §5.5.3 requires.
 * RF_ERR_INVAL if ping is not a PING.
 */
int	rf_ws_put_pong(struct rf_buf *out, const struct rf_ws_msg *ping,
	    const uint8_t *mask);

#endif
