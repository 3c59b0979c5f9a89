/* replay.c: runs files through the fuzz harness without libFuzzer, for
 * `make check` (built with gcc and the sanitizers).
 *
 *	fuzz-replay [-ok] FILE...
 *
 * Each file goes through twice, as it is and with its checksums repaired.
 * A sanitizer stops the program at the first error.  With -ok, every file
 * must also be accepted whole both ways (the seeds must reach the end,
 * and repairing a sound stream must change nothing). */
#include "fuzz.h"

#include "err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		/* Exactly the file's size, so that an over-read hits a redzone. */
		buf = malloc(n ? (size_t)n : 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	int want_ok = 0, failed = 0, i = 1;

	if (argc > 1 && strcmp(argv[1], "-ok") == 0)
		want_ok = 1, i++;
	if (fuzz_setup() < 0) {
		fprintf(stderr, "fuzz-replay: %s\n", err_last());
		return 1;
	}
	for (; i < argc; i++) {
		unsigned char *buf;
		size_t len;
		int rc;

		buf = slurp(argv[i], &len);
		if (!buf) {
			perror(argv[i]);
			return 1;
		}
		for (int fix = 0; fix <= 1; fix++) {
			rc = fuzz_one(buf, len, fix);
			if (want_ok && rc) {
				fprintf(stderr, "fuzz-replay: %s%s: not accepted: %s\n", argv[i],
					fix ? " (checksums repaired)" : "", err_last());
				failed = 1;
			}
		}
		free(buf);
	}
	return failed;
}
