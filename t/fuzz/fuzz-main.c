/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A main() for fuzz targets built without libFuzzer: runs
 * LLVMFuzzerTestOneInput once over each file named on the command line,
 * and over every regular file in each directory named, so that `make
 * check` replays the seed corpus (and past crashes) under ASan and UBSan.
 *
 * Replay build (gcc or clang):
 *   cc -g -fsanitize=address,undefined -Icommon t/fuzz/fuzz-main.c \
 *       t/fuzz/fuzz-buf.c common/buf.c common/err.c common/log.c \
 *       -o fuzz-buf-replay && ./fuzz-buf-replay t/fuzz/corpus/buf
 *
 * The real fuzzer (clang only; libFuzzer brings its own main):
 *   clang -g -fsanitize=fuzzer,address,undefined -Icommon \
 *       t/fuzz/fuzz-buf.c common/buf.c common/err.c common/log.c \
 *       -o fuzz-buf
 *   ./fuzz-buf -max_total_time=60 t/fuzz/corpus/buf
 * (give it a scratch directory first if new inputs should not be
 * written into the checked-in corpus).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

/* Runs one file; the copy is exactly its size so ASan sees overreads. */
static int
run_file(const char *path)
{
	FILE	*f;
	uint8_t	*p = NULL;
	long	 n;
	int	 ret = -1;

	if ((f = fopen(path, "rb")) == NULL)
		goto out;
	if (fseek(f, 0, SEEK_END) == -1 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) == -1)
		goto out;
	if ((p = malloc(n == 0 ? 1 : (size_t)n)) == NULL ||
	    fread(p, 1, (size_t)n, f) != (size_t)n)
		goto out;
	LLVMFuzzerTestOneInput(p, (size_t)n);
	ret = 0;
out:
	if (ret == -1)
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
	free(p);
	if (f != NULL)
		fclose(f);
	return ret;
}

/* Runs every regular file in dir (not recursive); returns files run. */
static int
run_dir(const char *dir, int *failed)
{
	char		 path[4096];
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	int		 n = 0;

	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		(*failed)++;
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) == -1 || !S_ISREG(st.st_mode))
			continue;
		if (run_file(path) == -1)
			(*failed)++;
		n++;
	}
	closedir(d);
	return n;
}

int
main(int argc, char *argv[])
{
	struct stat	 st;
	int		 i, n = 0, failed = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s file|dir ...\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			n += run_dir(argv[i], &failed);
		else {
			failed += run_file(argv[i]) == -1;
			n++;
		}
	}
	printf("%s: ran %d inputs, %d unreadable\n", argv[0], n, failed);
	return failed > 0;
}
