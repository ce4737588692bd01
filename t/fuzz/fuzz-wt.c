/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for common/wt.c: the whole input is one WebSocket
 * message for rf_wt_decode, then a PROP_UPDATE payload, then a
 * NUL-terminated X-PTTH-Set-Property value.  Beyond surviving: a decoded
 * frame's payload lies inside the input and fills the rest of it; a known
 * frame encodes back to the same bytes (the flag byte aside, which encode
 * always writes 0); an unknown opcode reports its op and channel; decoded
 * properties are NUL-free strings within the documented sizes and encode
 * back to the input; a parsed property has a valid name and fits.
 * Build and replay: see fuzz-main.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "fuzz.h"
#include "wt.h"

#define MAX_PAIRS	255

struct pairs {
	size_t	 n;
	char	*key[MAX_PAIRS];
	char	*value[MAX_PAIRS];
};

static void
check_frame(const uint8_t *data, size_t size)
{
	struct rf_wt_frame	 f;
	struct rf_buf		 out;
	size_t			 hlen;
	int			 r;

	r = rf_wt_decode(data, size, &f);
	if (r == RF_ERR_INVAL) {
		FUZZ_CHECK(size >= 4 && !rf_wt_op_known(data[0]));
		FUZZ_CHECK(f.op == data[0]);
		FUZZ_CHECK(f.channel == (data[2] << 8 | data[3]));
		return;
	}
	if (r != 0) {
		FUZZ_CHECK(r == RF_ERR_PROTO);
		FUZZ_CHECK(size < 4 || rf_wt_op_known(data[0]));
		return;
	}
	FUZZ_CHECK(rf_wt_op_known(f.op));
	hlen = rf_wt_header_len(f.op);
	FUZZ_CHECK(size >= hlen);
	if (f.op == RF_WT_DATA || f.op == RF_WT_PROP_UPDATE) {
		FUZZ_CHECK(f.payload == data + hlen && f.len == size - hlen);
	} else {
		FUZZ_CHECK(f.payload == NULL && f.len == 0 && size == hlen);
	}
	if (hlen == 4)
		FUZZ_CHECK(f.arg == 0);

	rf_buf_init(&out, 0);
	/* CREDIT's argument is its 32-bit grant. */
	FUZZ_CHECK(rf_wt_encode(&out, f.op, f.channel, f.op == RF_WT_CREDIT ?
	    f.credit : f.arg, f.payload, f.len) == 0);
	FUZZ_CHECK(rf_buf_len(&out) == size);
	FUZZ_CHECK(rf_buf_ptr(&out)[0] == data[0]);
	FUZZ_CHECK(rf_buf_ptr(&out)[1] == 0);
	FUZZ_CHECK(memcmp(rf_buf_ptr(&out) + 2, data + 2, size - 2) == 0);
	rf_buf_free(&out);
}

static int
collect(void *arg, const char *key, const char *value)
{
	struct pairs	*p = arg;

	FUZZ_CHECK(p->n < MAX_PAIRS);
	FUZZ_CHECK(strlen(key) <= 63 && strlen(value) <= 1023);
	p->key[p->n] = strdup(key);
	p->value[p->n] = strdup(value);
	FUZZ_CHECK(p->key[p->n] != NULL && p->value[p->n] != NULL);
	p->n++;
	return 0;
}

static int
stop_at_first(void *arg, const char *key, const char *value)
{
	(*(int *)arg)++;
	return -1000;
}

/*
 * The encoder writes minimal varints while a peer may pad them (0x85 0x00
 * is 5), so the round trip compares the pairs decoded again, and the
 * re-encoding is never longer than the input.
 */
static void
check_props(const uint8_t *data, size_t size)
{
	static struct pairs	 p, q;
	struct rf_buf		 out;
	size_t			 i;
	int			 r, calls = 0;

	memset(&p, 0, sizeof(p));
	r = rf_wt_props_decode(data, size, collect, &p);
	if (r != 0) {
		FUZZ_CHECK(r == RF_ERR_PROTO);
		FUZZ_CHECK(p.n == 0);	/* whole or nothing */
		return;
	}
	FUZZ_CHECK(size >= 1 && p.n == data[0]);
	FUZZ_CHECK(rf_wt_props_decode(data, size, stop_at_first, &calls) ==
	    (p.n > 0 ? -1000 : 0));
	FUZZ_CHECK(calls == (p.n > 0 ? 1 : 0));

	rf_buf_init(&out, 0);
	FUZZ_CHECK(rf_wt_props_encode(&out, (const char *const *)p.key,
	    (const char *const *)p.value, p.n) == 0);
	FUZZ_CHECK(rf_buf_len(&out) <= size);
	memset(&q, 0, sizeof(q));
	FUZZ_CHECK(rf_wt_props_decode(rf_buf_ptr(&out), rf_buf_len(&out),
	    collect, &q) == 0);
	FUZZ_CHECK(q.n == p.n);
	for (i = 0; i < p.n; i++) {
		FUZZ_CHECK(strcmp(p.key[i], q.key[i]) == 0);
		FUZZ_CHECK(strcmp(p.value[i], q.value[i]) == 0);
		free(p.key[i]);
		free(p.value[i]);
		free(q.key[i]);
		free(q.value[i]);
	}
	rf_buf_free(&out);
}

static void
check_property(const uint8_t *data, size_t size)
{
	char	*s, name[32], value[64];
	size_t	 i;
	int	 r;

	if ((s = malloc(size + 1)) == NULL)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	r = rf_wt_property_parse(s, name, sizeof(name), value, sizeof(value));
	if (r != 0) {
		FUZZ_CHECK(r == RF_ERR_PROTO || r == RF_ERR_LIMIT);
		FUZZ_CHECK(name[0] == '\0' && value[0] == '\0');
	} else {
		FUZZ_CHECK(strstr(s, "device;") != NULL);
		FUZZ_CHECK(name[0] != '\0' && strlen(name) < sizeof(name));
		FUZZ_CHECK(strlen(value) < sizeof(value));
		for (i = 0; name[i] != '\0'; i++)
			FUZZ_CHECK(strchr("abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-",
			    name[i]) != NULL);
		for (i = 0; value[i] != '\0'; i++)
			FUZZ_CHECK((unsigned char)value[i] >= 0x20 ||
			    value[i] == '\t');
	}
	free(s);
}

/*
 * The extension header: a value either parses into the ranges the parser
 * promises, or leaves both fields 0; what it accepts formats and parses
 * back to the same values.
 */
static void
check_ext(const uint8_t *data, size_t size)
{
	struct rf_wt_ext e, again;
	char	*s, out[64];

	if ((s = malloc(size + 1)) == NULL)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	if (rf_wt_ext_parse(s, &e) != 0) {
		FUZZ_CHECK(e.frame == 0 && e.window == 0);
	} else {
		FUZZ_CHECK(e.frame >= RF_WT_STOCK_PAYLOAD_MAX &&
		    e.frame <= RF_WT_EXT_FRAME_MAX);
		FUZZ_CHECK(e.window >= e.frame &&
		    e.window <= RF_WT_EXT_WINDOW_MAX);
		FUZZ_CHECK(rf_wt_ext_format(&e, out, sizeof(out)) == 0);
		FUZZ_CHECK(rf_wt_ext_parse(out, &again) == 0 &&
		    again.frame == e.frame && again.window == e.window);
	}
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_frame(data, size);
	check_props(data, size);
	check_property(data, size);
	check_ext(data, size);
	return 0;
}
