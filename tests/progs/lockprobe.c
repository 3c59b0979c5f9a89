/* lockprobe KIND FILE: whether another process sees a lock on FILE, as a
 * lock program holds it (KIND flock, posix or ofd).  Exits 0 and prints
 * "held" when a conflicting lock is in the way, 1 and "free" when not, 2
 * on error.  Takes nothing: a probe that got the lock drops it on exit. */
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>

#include "say.h"

int main(int argc, char **argv)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
	int fd, held;

	if (argc != 3) {
		say("usage: lockprobe flock|posix|ofd FILE\n");
		return 2;
	}
	fd = open(argv[2], O_RDWR);
	if (fd < 0) {
		say("lockprobe: %s: %s\n", argv[2], strerror(errno));
		return 2;
	}
	if (!strcmp(argv[1], "flock")) {
		held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	} else if (!strcmp(argv[1], "posix") || !strcmp(argv[1], "ofd")) {
		if (fcntl(fd, !strcmp(argv[1], "ofd") ? F_OFD_GETLK : F_GETLK, &fl)) {
			say("lockprobe: F_GETLK: %s\n", strerror(errno));
			return 2;
		}
		held = fl.l_type != F_UNLCK;
	} else {
		say("lockprobe: unknown kind %s\n", argv[1]);
		return 2;
	}
	say(held ? "held\n" : "free\n");
	return !held;
}
