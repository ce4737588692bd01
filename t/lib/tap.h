/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A header-only TAP producer for the C unit tests, read by prove(1) from
 * `make check`.  Include it in exactly one file per test program; main()
 * ends with `return done_testing();`, whose value is the number of failed
 * tests (capped at 254), so a failure shows even without a TAP harness.
 */
#ifndef RF_TAP_H
#define RF_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int	tap_planned = -1;	/* -1: no plan, print one at the end */
static int	tap_run;
static int	tap_failed;

static inline void
plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

/* Diagnostics go to stderr, which prove shows even when not verbose. */
static inline void __attribute__((format(printf, 1, 2)))
diag(const char *fmt, ...)
{
	va_list	 ap;

	fflush(stdout);
	fputs("# ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

static inline int
tap_okv(int pass, const char *file, int line, const char *fmt, va_list ap)
{
	char	 name[512];

	vsnprintf(name, sizeof(name), fmt, ap);
	tap_run++;
	printf("%sok %d - %s\n", pass ? "" : "not ", tap_run, name);
	fflush(stdout);
	if (!pass) {
		tap_failed++;
		diag("  Failed test '%s'", name);
		diag("  at %s line %d.", file, line);
	}
	return pass;
}

static inline int __attribute__((format(printf, 4, 5)))
tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list	 ap;
	int	 r;

	va_start(ap, fmt);
	r = tap_okv(pass, file, line, fmt, ap);
	va_end(ap);
	return r;
}

static inline int
tap_is_int(long long got, long long want, const char *file, int line,
    const char *name)
{
	if (tap_ok(got == want, file, line, "%s", name))
		return 1;
	diag("         got: %lld", got);
	diag("    expected: %lld", want);
	return 0;
}

static inline int
tap_is_str(const char *got, const char *want, const char *file, int line,
    const char *name)
{
	int	 pass;

	if (got == NULL || want == NULL)
		pass = got == want;
	else
		pass = strcmp(got, want) == 0;
	if (tap_ok(pass, file, line, "%s", name))
		return 1;
	diag("         got: %s%s%s", got ? "'" : "", got ? got : "NULL",
	    got ? "'" : "");
	diag("    expected: %s%s%s", want ? "'" : "", want ? want : "NULL",
	    want ? "'" : "");
	return 0;
}

/* Prints the plan if none was given; returns the exit status. */
static inline int
done_testing(void)
{
	if (tap_planned < 0)
		printf("1..%d\n", tap_run);
	else if (tap_planned != tap_run) {
		diag("Looks like you planned %d tests but ran %d.",
		    tap_planned, tap_run);
		if (tap_failed == 0)
			tap_failed = 1;
	}
	fflush(stdout);
	if (tap_failed > 0)
		diag("Looks like you failed %d test%s of %d.", tap_failed,
		    tap_failed == 1 ? "" : "s", tap_run);
	return tap_failed > 254 ? 254 : tap_failed;
}

#define ok(cond, ...) \
	tap_ok((cond) ? 1 : 0, __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, name) \
	tap_is_int((long long)(got), (long long)(want), __FILE__, __LINE__, \
	    (name))
#define is_str(got, want, name) \
	tap_is_str((got), (want), __FILE__, __LINE__, (name))

#endif
