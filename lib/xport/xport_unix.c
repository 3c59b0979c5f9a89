/* xport_unix.c: the unix:PATH transport (unix:@NAME for an abstract
 * socket): connect on the pfrez side, listen on the pthaw side. */
#include "xport_int.h"
#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

static int unix_addr(const char *spec, const char *path,
		     struct sockaddr_un *sa, socklen_t *len)
{
	size_t n = strlen(path);

	if (n == 0)
		return err_msg(EINVAL, "%s: missing path (want unix:PATH)", spec);
	if (n >= sizeof(sa->sun_path))
		return err_msg(ENAMETOOLONG, "%s: socket path too long (at most %zu bytes)",
			       spec, sizeof(sa->sun_path) - 1);
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, n);
	if (path[0] == '@') {
		sa->sun_path[0] = '\0';
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	return 0;
}

/* The address of path in *sa and a new stream socket to use it with:
 * the socket, or -errno. */
static int unix_socket(const char *spec, const char *path,
		       struct sockaddr_un *sa, socklen_t *len)
{
	int fd, rc;

	rc = unix_addr(spec, path, sa, len);
	if (rc)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_sys(errno, "%s: socket", spec);
	return fd;
}

static int set_sndtimeo(int fd, int64_t ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	return setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int xport_unix_dial(const char *spec, const char *path,
		    const struct xport_opts *o, int *fdp)
{
	struct sockaddr_un sa;
	socklen_t len;
	int fd, rc;

	fd = unix_socket(spec, path, &sa, &len);
	if (fd < 0)
		return fd;
	/* A unix connect waits for room in a full backlog for as long as
	 * the send timeout says: that is the dial timeout here. */
	if (o->dial_timeout_ms > 0)
		set_sndtimeo(fd, o->dial_timeout_ms);
	while (connect(fd, (struct sockaddr *)&sa, len) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EINPROGRESS)
			rc = err_msg(ETIMEDOUT, "%s: connect: timed out after %lld ms",
				     spec, (long long)o->dial_timeout_ms);
		else
			rc = err_sys(errno, "%s: connect", spec);
		close(fd);
		return rc;
	}
	set_sndtimeo(fd, 0);
	rc = xport_sock_timeouts(fd, o);
	if (rc) {
		close(fd);
		return err_wrap(rc, "%s", spec);
	}
	*fdp = fd;
	return 0;
}

/* A socket file nobody listens on is left by a pthaw that died: take
 * its place.  One somebody listens on is refused (EADDRINUSE). */
static int stale(const struct sockaddr_un *sa, socklen_t len)
{
	struct stat st;
	int fd, dead;

	if (lstat(sa->sun_path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return 0;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	dead = connect(fd, (const struct sockaddr *)sa, len) < 0 &&
	       errno == ECONNREFUSED;
	close(fd);
	return dead && unlink(sa->sun_path) == 0;
}

int xport_unix_listen(const char *spec, const char *path, int *fdp,
		      int *made)
{
	struct sockaddr_un sa;
	socklen_t len;
	int fd, rc;

	fd = unix_socket(spec, path, &sa, &len);
	if (fd < 0)
		return fd;
	if (bind(fd, (struct sockaddr *)&sa, len) < 0) {
		int e = errno;

		if (e == EADDRINUSE && path[0] != '@' && stale(&sa, len))
			e = bind(fd, (struct sockaddr *)&sa, len) < 0 ? errno : 0;
		if (e) {
			rc = err_sys(e, "%s: bind", spec);
			goto fail;
		}
	}
	*made = path[0] != '@';
	if (listen(fd, 1) < 0) {
		rc = err_sys(errno, "%s: listen", spec);
		goto unlink;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		rc = err_sys(errno, "%s: fcntl", spec);
		goto unlink;
	}
	*fdp = fd;
	return 0;
unlink:
	if (*made)
		unlink(path);
	*made = 0;
fail:
	close(fd);
	return rc;
}
