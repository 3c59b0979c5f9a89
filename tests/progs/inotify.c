/* inotify: an inotify instance watching a directory (argv[1] ".d", every
 * create and delete), a file in it (IN_ATTRIB | IN_ONESHOT)
 * and, after a watch added and removed, a third one (wd 4: the numbers
 * come back as they were).  Each round writes a new file in the
 * directory and reads the IN_CREATE event naming it with the directory's
 * wd (other names' events are a clone's, beside it), and checks that the
 * watches have their wds. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define KIND "inotify"
#include "zdtm.h"

static int in, wd_dir, wd_file, wd_late;
static char dir[4096], file[4200], late[4200];
static long round_no;

static const char *setup(int argc, char **argv)
{
	char b[256];
	int gone;

	if (argc < 2)
		return "usage: inotify PATH";
	snprintf(dir, sizeof(dir), "%s.d", argv[1]);
	snprintf(file, sizeof(file), "%s/watched", dir);
	snprintf(late, sizeof(late), "%s/late", dir);
	if (mkdir(dir, 0700) && errno != EEXIST)
		return "mkdir";
	close(open(file, O_CREAT | O_WRONLY, 0600));
	close(open(late, O_CREAT | O_WRONLY, 0600));
	in = inotify_init1(IN_NONBLOCK);
	if (in < 0)
		return "inotify_init1";
	wd_dir = inotify_add_watch(in, dir, IN_CREATE | IN_DELETE);
	wd_file = inotify_add_watch(in, file, IN_ATTRIB | IN_ONESHOT);
	gone = inotify_add_watch(in, "/", IN_ATTRIB);
	if (wd_dir < 0 || wd_file < 0 || gone < 0 || inotify_rm_watch(in, gone))
		return "inotify_add_watch";
	wd_late = inotify_add_watch(in, late, IN_MODIFY);
	if (wd_late < 0)
		return "inotify_add_watch";
	/* The IN_IGNORED of the removed watch. */
	while (read(in, b, sizeof(b)) > 0)
		;
	return NULL;
}

static const char *check(void)
{
	char buf[4096] __attribute__((aligned(8))), path[4300], name[64];
	struct pollfd p = { .fd = in, .events = POLLIN };
	unsigned rnd = 0;
	int fd, seen = 0;

	/* A name of this round alone: a clone beside the original works in
	 * the same directory, and each sees the other's events too. */
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		return "getrandom";
	snprintf(name, sizeof(name), "new.%ld.%08x", ++round_no, rnd);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	if (fd < 0)
		return zdtm_why("creating %s: %s", path, strerror(errno));
	close(fd);
	unlink(path);
	while (!seen) {
		ssize_t n;

		if (poll(&p, 1, 2000) != 1)
			return zdtm_why("no event in 2 s for %s created in the watched directory", name);
		n = read(in, buf, sizeof(buf));
		for (ssize_t off = 0; n > 0 && off + (ssize_t)sizeof(struct inotify_event) <= n;) {
			struct inotify_event *ev = (struct inotify_event *)(buf + off);

			off += (ssize_t)sizeof(*ev) + ev->len;
			if (!ev->len || strcmp(ev->name, name))
				continue;
			if (ev->wd != wd_dir || !(ev->mask & (IN_CREATE | IN_DELETE)))
				return zdtm_why("the event for %s is wd %d mask %#x, not wd %d IN_CREATE",
						name, ev->wd, ev->mask, wd_dir);
			if (ev->mask & IN_CREATE)
				seen = 1;
		}
	}
	/* The IN_DELETE that follows, if not in the same read. */
	poll(&p, 1, 50);
	while (read(in, buf, sizeof(buf)) > 0)
		;
	if (wd_late != 4 || inotify_add_watch(in, late, IN_MODIFY | IN_MASK_CREATE) != -1 || errno != EEXIST)
		return zdtm_why("the late watch (wd %d) is not on %s", wd_late, late);
	if (inotify_add_watch(in, file, IN_ATTRIB | IN_ONESHOT | IN_MASK_ADD) != wd_file)
		return "the file's watch has another wd";
	return NULL;
}
