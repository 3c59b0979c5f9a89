/* fdkind.c: the table of fd kinds (fdkind.h). */
#include "fdkind.h"
#include "err.h"
#include "kind.h"
#include "pload_ctl.h"
#include "snap.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>

extern const struct fd_kind_ops fd_kind_inet, fd_kind_pipe, fd_kind_fifo, fd_kind_eventfd,
	fd_kind_timerfd, fd_kind_signalfd, fd_kind_epoll;
extern const struct fd_kind_ops fd_kind_memfd, fd_kind_deleted;
extern const struct fd_kind_ops fd_kind_tty;
extern const struct fd_kind_ops fd_kind_unix, fd_kind_inotify, fd_kind_refused;
extern const struct fd_kind_ops fd_kind_tree;

const struct fd_kind_ops *const fd_kinds[] = {
	&fd_kind_tree,		/* first: another process's file stays its */
	&fd_kind_inet,
	&fd_kind_pipe,
	&fd_kind_fifo,
	&fd_kind_eventfd,
	&fd_kind_timerfd,
	&fd_kind_signalfd,
	&fd_kind_epoll,
	&fd_kind_memfd,
	&fd_kind_deleted,
	&fd_kind_tty,
	&fd_kind_unix,
	&fd_kind_inotify,
	&fd_kind_refused,	/* claims nothing: refuses by name */
	NULL
};

const struct fd_kind_ops *fd_kind_of(uint32_t kind)
{
	for (int i = 0; fd_kinds[i]; i++)
		if (fd_kinds[i]->kind == kind && fd_kinds[i]->open)	/* not a refusal's */
			return fd_kinds[i];
	return NULL;
}

long fd_aside(struct kind_restore *r, const struct snap *s, long t)
{
	long top = 0, n;

	for (size_t i = 0; i < s->nfds; i++)
		if (s->fds[i].fd >= top)
			top = s->fds[i].fd + 1L;
	if (t >= top)
		return t;
	/* F_DUPFD_CLOEXEC: nothing of it survives an exec if it leaks. */
	n = pload_call(r->pl, SYS_fcntl, t, F_DUPFD_CLOEXEC, top, 0, 0, 0, NULL, 0);
	if (n < 0)
		return err_sys((int)-n, "fd %ld: cannot set it aside above fd %ld", t, top - 1);
	pload_call(r->pl, SYS_close, t, 0, 0, 0, 0, 0, NULL, 0);
	return n;
}
