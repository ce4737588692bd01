/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for the reflector.yml loader (common/conf.c): admins'
 * files must never crash or leak it.  Beyond surviving, every input must
 * either load or say why in at most 21 error lines, each naming the file
 * and free of control characters; and a config that loads must survive
 * the round trip through rf_conf_dump unchanged (reflectord -T output is
 * a valid config).  Build and replay: see fuzz-main.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "err.h"
#include "fuzz.h"

static int	nerrors;

static void
check_error(void *arg, const char *line)
{
	const unsigned char *p;

	(void)arg;
	nerrors++;
	FUZZ_CHECK(strncmp(line, "fuzz.yml:", 9) == 0);
	for (p = (const unsigned char *)line; *p != '\0'; p++)
		FUZZ_CHECK(*p >= 0x20 && *p != 0x7f);
}

/* The dump, with the "# auto" comment taken out (a reload reads a number). */
static char *
dump(const struct rf_conf *c, size_t *lenp)
{
	char *s = NULL, *p;
	FILE *f;

	f = open_memstream(&s, lenp);
	FUZZ_CHECK(f != NULL);
	FUZZ_CHECK(rf_conf_dump(c, f) == 0);
	FUZZ_CHECK(fclose(f) == 0);
	while ((p = strstr(s, " # auto\n")) != NULL)
		memmove(p, p + 7, strlen(p + 7) + 1);
	*lenp = strlen(s);
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rf_conf *c = NULL, *c2 = NULL;
	char *d1, *d2;
	size_t len1, len2;
	int r;

	nerrors = 0;
	r = rf_conf_load_mem(data, size, "fuzz.yml", &c, check_error, NULL);
	FUZZ_CHECK((r == 0) == (c != NULL));
	FUZZ_CHECK(r == 0 || nerrors > 0);
	FUZZ_CHECK(r != 0 || nerrors == 0);
	FUZZ_CHECK(nerrors <= 21);
	if (c == NULL)
		return 0;
	FUZZ_CHECK(c->nlisten >= 1);
	FUZZ_CHECK(c->workers >= 1 && c->workers <= 256);

	d1 = dump(c, &len1);
	nerrors = 0;
	r = rf_conf_load_mem(d1, len1, "fuzz.yml", &c2, check_error, NULL);
	if (r != 0)
		fprintf(stderr, "the dump does not load back:\n%s", d1);
	FUZZ_CHECK(r == 0);
	d2 = dump(c2, &len2);
	FUZZ_CHECK(len1 == len2 && memcmp(d1, d2, len1) == 0);
	FUZZ_CHECK(rf_conf_restart_keys(c, c2, NULL, NULL) == 0);
	free(d1);
	free(d2);
	rf_conf_free(c2);
	rf_conf_free(c);
	return 0;
}
