/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for agent/wslink.c's receive path on ws://: a link
 * made by rf_wsl_test_upgrade (the upgrade request out, with RFC 6455's
 * example key, for the tunnel's subprotocol) is fed the input through
 * rf_wsl_rx without a wsi, as lws would hand over what it read: the
 * reflector's answer to the upgrade, then frames.  Out of scope: TLS
 * (tlsraw.c; fuzz-tlsrec covers its records), the proxy's CONNECT,
 * pausing, and everything that writes.
 *
 * The first byte picks the chunks the rest is fed in (bits 0-3: 0 all at
 * once, else pseudo-random sizes of 1 to 2^(n-1) bytes), max_message
 * (bits 4-5), whether ops->open refuses (bit 6) and whether ops->message
 * refuses the second message (bit 7).
 *
 * Beyond surviving: while rf_wsl_rx returns 0 the link waits for the 101
 * (a head being read) or is open (the head gone); once it returns -1 it
 * stays failed, l->fail.detail says why, and it never was the proxy or
 * TLS; ops->open comes once, on a 101 with the right accept and
 * subprotocol, its headers readable; messages come only after it, of at
 * most max_message bytes, text ones UTF-8, and none after a refusal; a
 * PONG is owed only after ops->want_write (a PING), of at most 125 bytes,
 * and rf_wsl_pong frames it; l->fail.closed only for the reflector's
 * CLOSE, with its code (unchecked: any 16 bits, 0 too) and a reason free
 * of control characters; a status in l->fail only without an open, for
 * an answer that was not a good 101.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "fuzz.h"
#include "ws.h"
#include "wsclient.h"
#include "wslink.h"

#define KEY		"dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT		"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define SUBPROTOCOL	"com.appinf.webtunnel.server/1.0"

static const size_t	 max_messages[4] = { 16, 125, 4096, 1 << 20 };

struct fz {
	struct rf_wsl	*l;
	size_t		 max;
	int		 refuse_open;
	int		 refuse_message;
	int		 opened;
	int		 refused;	/* a callback returned -1 */
	size_t		 messages;
	size_t		 want_writes;
};

static int
fz_open(void *arg)
{
	struct fz	*z = arg;
	char		 v[128], ext[64];
	int		 r;

	FUZZ_CHECK(!z->opened && z->messages == 0 && z->want_writes == 0);
	FUZZ_CHECK(z->l->state == RF_WSL_OPEN && z->l->head != NULL);
	FUZZ_CHECK(rf_wsl_header(z->l, "Sec-WebSocket-Accept", v,
	    sizeof(v)) == 0 && strcmp(v, ACCEPT) == 0);
	FUZZ_CHECK(rf_wsl_header(z->l, "Sec-WebSocket-Protocol", v,
	    sizeof(v)) == 0 && strcmp(v, SUBPROTOCOL) == 0);
	r = rf_wsl_header(z->l, "X-Reflector-WebTunnel-Ext", ext, sizeof(ext));
	FUZZ_CHECK(r == 0 || r == RF_ERR_NOTFOUND || r == RF_ERR_LIMIT);
	FUZZ_CHECK(strlen(ext) < sizeof(ext));
	if (r != 0)
		FUZZ_CHECK(ext[0] == '\0');
	z->opened = 1;
	if (z->refuse_open) {
		z->refused = 1;
		return -1;
	}
	return 0;
}

static int
fz_message(void *arg, int binary, const unsigned char *p, size_t len)
{
	struct fz	*z = arg;

	FUZZ_CHECK(z->opened && !z->refused);
	FUZZ_CHECK(z->l->state == RF_WSL_OPEN && z->l->head == NULL);
	FUZZ_CHECK(binary == 0 || binary == 1);
	FUZZ_CHECK(len <= z->max && (len == 0 || p != NULL));
	if (!binary)
		FUZZ_CHECK(rf_ws_utf8_valid(p, len));
	if (len > 0)	/* every byte readable (ASan) */
		FUZZ_CHECK(memchr(p, p[len - 1], len) != NULL);
	if (++z->messages == 2 && z->refuse_message) {
		z->refused = 1;
		return -1;
	}
	return 0;
}

static void
fz_want_write(void *arg)
{
	struct fz	*z = arg;

	FUZZ_CHECK(z->opened && !z->refused);
	FUZZ_CHECK(z->l->state == RF_WSL_OPEN && z->l->pong_due);
	z->want_writes++;
}

static const struct rf_wsl_ops fz_ops = {
	.open = fz_open,
	.message = fz_message,
	.want_write = fz_want_write,
};

/* The PONG owed goes into a batch: one masked frame of that payload. */
static void
take_pong(struct rf_wsl *l)
{
	unsigned char		 storage[LWS_PRE + 256];
	struct rf_wsc_batch	 b;
	struct rf_ws_frame	 f;
	struct rf_buf		 out;
	size_t			 len = l->pong_len;

	FUZZ_CHECK(len <= RF_WS_CONTROL_MAX);
	rf_wsc_batch_init(&b, storage, sizeof(storage));
	FUZZ_CHECK(rf_wsl_pong(l, &b) == 1 && !l->pong_due);
	FUZZ_CHECK(rf_wsl_pong(l, &b) == 0);
	rf_buf_init(&out, 0);
	FUZZ_CHECK(rf_buf_put(&out, b.buf, b.len) == 0);
	FUZZ_CHECK(rf_ws_frame_decode(&out, 1, RF_WS_CONTROL_MAX, &f) == 0);
	FUZZ_CHECK(f.fin && f.opcode == RF_WS_PONG && f.len == len &&
	    rf_buf_len(&out) == 0);
	FUZZ_CHECK(len == 0 || memcmp(f.payload, l->pong, len) == 0);
	rf_buf_free(&out);
}

/* The link failed: how it says so. */
static void
check_failed(struct rf_wsl *l, const struct fz *z)
{
	size_t	 i;

	FUZZ_CHECK(l->state == RF_WSL_DONE && l->fail.detail[0] != '\0');
	FUZZ_CHECK(rf_wsl_rx(l, NULL, "\x81\x00", 2) == -1);
	FUZZ_CHECK(rf_wsl_rx(l, NULL, NULL, 0) == -1);
	FUZZ_CHECK(!l->fail.proxy && l->fail.proxy_status == 0 &&
	    !l->fail.tls);
	FUZZ_CHECK(!rf_wsl_is_open(l));
	if (z->refused)
		FUZZ_CHECK(strncmp(l->fail.detail, "refused", 7) == 0);
	if (l->fail.status != 0)
		FUZZ_CHECK(!z->opened && strncmp(l->fail.detail,
		    "the reflector answered ", 23) == 0);
	if (l->fail.closed) {
		FUZZ_CHECK(z->opened && !z->refused && l->close_rcvd);
		/* Its code as it came: 0 too (wslink.c's peer_closed). */
		FUZZ_CHECK(l->fail.close_code >= 0 &&
		    l->fail.close_code <= 0xffff);
		FUZZ_CHECK(strcmp(l->fail.detail,
		    "the reflector closed the tunnel") == 0);
		for (i = 0; l->fail.reason[i] != '\0'; i++)
			FUZZ_CHECK((unsigned char)l->fail.reason[i] >= 0x20 &&
			    l->fail.reason[i] != 0x7f);
		FUZZ_CHECK(i < sizeof(l->fail.reason));
		/* With no wsi it writes nothing, and owes no answer after. */
		rf_wsl_close_answer(l, NULL, NULL);
		FUZZ_CHECK(!l->close_rcvd && l->state == RF_WSL_DONE);
	} else
		FUZZ_CHECK(!l->close_rcvd && l->fail.close_code == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rf_wsl	 l;
	struct fz	 z;
	uint32_t	 seed;
	size_t		 off = 0, n, maxchunk;
	uint8_t		 ctl;
	int		 r = 0;

	if (size == 0)
		return 0;
	ctl = data[0];
	data++;
	size--;
	maxchunk = (ctl & 15) == 0 ? SIZE_MAX : (size_t)1 << ((ctl & 15) - 1);
	seed = 0x9e3779b9u ^ ctl;
	memset(&z, 0, sizeof(z));
	z.l = &l;
	z.max = max_messages[(ctl >> 4) & 3];
	z.refuse_open = (ctl & 0x40) != 0;
	z.refuse_message = (ctl & 0x80) != 0;
	memset(&l, 0, sizeof(l));
	FUZZ_CHECK(rf_wsl_test_upgrade(&l, KEY, SUBPROTOCOL, z.max, &fz_ops,
	    &z) == 0);
	FUZZ_CHECK(l.state == RF_WSL_UPGRADE && l.head != NULL);

	while (off < size) {
		seed = seed * 1103515245u + 12345u;
		n = maxchunk == SIZE_MAX ? size - off :
		    1 + (size_t)(seed >> 8) % maxchunk;
		if (n > size - off)
			n = size - off;
		r = rf_wsl_rx(&l, NULL, data + off, n);
		off += n;
		if (r != 0) {
			FUZZ_CHECK(r == -1);
			break;
		}
		FUZZ_CHECK(l.state == RF_WSL_UPGRADE ||
		    l.state == RF_WSL_OPEN);
		FUZZ_CHECK(l.state == RF_WSL_OPEN ? z.opened &&
		    l.head == NULL : !z.opened && l.head != NULL);
		FUZZ_CHECK(l.fail.detail[0] == '\0' && l.fail.status == 0 &&
		    !l.fail.closed && !l.close_rcvd);
		FUZZ_CHECK(!l.pong_due || z.want_writes > 0);
		if (l.pong_due)
			take_pong(&l);
	}
	if (r != 0)
		check_failed(&l, &z);
	else
		FUZZ_CHECK(!z.refused);
	rf_wsl_free(&l);
	return 0;
}
