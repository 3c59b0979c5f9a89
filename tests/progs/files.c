/* files: the thesis's program.  One file opened twice: fd 3 reads it from
 * the start, fd 4 appends to it.  Each round appends "Hello world #N!\n"
 * and reads back through fd 3 exactly what was appended, so both offsets,
 * the append flag and the fd numbers must survive a restore.  The file
 * path is argv[1]; it is created empty. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "say.h"

static off_t pos(int fd)
{
	return lseek(fd, 0, SEEK_CUR);
}

int main(int argc, char **argv)
{
	int rfd, wfd;
	off_t total = 0;

	if (argc != 2) {
		say("FAIL usage: files PATH\n");
		return 2;
	}
	closefrom(3);	/* whatever the caller left open */
	rfd = open(argv[1], O_RDONLY | O_CREAT, 0644);
	wfd = open(argv[1], O_WRONLY | O_APPEND | O_TRUNC);
	if (rfd != 3 || wfd != 4) {
		say("FAIL opened %s as fds %d and %d, not 3 and 4\n", argv[1], rfd, wfd);
		return 1;
	}
	say("files ready %s\n", argv[1]);

	for (long n = 1;; n++) {
		char line[64], got[256];
		int len = snprintf(line, sizeof(line), "Hello world #%ld!\n", n);
		ssize_t r;
		struct stat st;

		if ((fcntl(rfd, F_GETFL) & (O_ACCMODE | O_APPEND)) != O_RDONLY ||
		    (fcntl(wfd, F_GETFL) & (O_ACCMODE | O_APPEND)) != (O_WRONLY | O_APPEND)) {
			say("FAIL round %ld: open flags %#x and %#x\n", n,
			    fcntl(rfd, F_GETFL), fcntl(wfd, F_GETFL));
			return 1;
		}
		if (pos(rfd) != total || pos(wfd) != total) {
			say("FAIL round %ld: offsets %lld and %lld, expected %lld\n", n,
			    (long long)pos(rfd), (long long)pos(wfd), (long long)total);
			return 1;
		}
		if (write(wfd, line, len) != len) {
			say("FAIL round %ld: write: %s\n", n, strerror(errno));
			return 1;
		}
		total += len;
		r = read(rfd, got, sizeof(got) - 1);
		if (r != len || memcmp(got, line, len) != 0) {
			got[r < 0 ? 0 : r] = 0;
			say("FAIL round %ld: read back %zd bytes \"%.*s\", appended \"%.*s\"\n",
			    n, r, (int)strcspn(got, "\n"), got, len - 1, line);
			return 1;
		}
		if (fstat(wfd, &st) < 0 || st.st_size != total || pos(wfd) != total) {
			say("FAIL round %ld: file size %lld, write offset %lld, expected %lld\n",
			    n, (long long)st.st_size, (long long)pos(wfd), (long long)total);
			return 1;
		}
		say("round %ld read %.*s\n", n, len - 1, got);
		msleep(50);
	}
}
