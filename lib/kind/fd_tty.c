/* fd_tty.c: the process's terminal.  Its fds above 2 (bash's 255, less's
 * /dev/tty) are the fd kind FD_TTY; its modes, window size and whether
 * the process was in its foreground are the kind "tty" (REC_TTY).  On
 * restore the terminal is pthaw's: fds 0-2 are pthaw's stdio (files.c),
 * the others open pthaw's terminal anew, and pthaw gives it to the
 * process as a shell gives it to a job (its own process group in the
 * foreground, its modes), then a resize makes it repaint. */
#include "fd_tty.h"
#include "err.h"
#include "fdkind.h"
#include "json.h"
#include "kind.h"
#include "pload_ctl.h"
#include "proc.h"
#include "snap.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define DEV_TTY		makedev(5, 0)	/* /dev/tty: the opener's controlling terminal */
#define DEV_CONSOLE	makedev(5, 1)
#define DEV_PTMX	makedev(5, 2)	/* the pty multiplexer: a master */

static int tty_dev(const struct stat *sb)
{
	unsigned maj = major(sb->st_rdev);

	return S_ISCHR(sb->st_mode) && ((maj >= 136 && maj <= 143) || maj == 4 || maj == 3 ||
					maj == 128 || (maj == 5 && minor(sb->st_rdev) <= 2));
}

/* The controlling terminal (0: none), the foreground group of it and the
 * process's group, from /proc/PID/stat (fields 5, 7 and 8). */
static int ctty_of(pid_t pid, dev_t *tty, pid_t *tpgid, pid_t *pgrp)
{
	char buf[1024], *p;
	unsigned long tty_nr;
	int rc = proc_read_text(pid, "stat", buf, sizeof(buf));

	if (rc)
		return rc;
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %*d %d %*d %lu %d", pgrp, &tty_nr, tpgid) != 3)
		return err_msg(EIO, "process %d: stat: unreadable", pid);
	/* The kernel's new_encode_dev(), which major() and minor() read. */
	*tty = tty_nr ? makedev(major(tty_nr), minor(tty_nr)) : 0;
	return 0;
}

static int fd_tty_claim(const struct fd_info *d, struct rec_file *r)
{
	pid_t tpgid, pgrp;
	dev_t tty;
	int rc;

	(void)r;
	if (!tty_dev(d->sb))
		return 0;
	if (d->sb->st_rdev == DEV_PTMX || major(d->sb->st_rdev) == 128 || major(d->sb->st_rdev) == 2)
		return err_msg(ENOTSUP, "process %d: fd %d (%s): a pty master: the process runs a terminal of its own (script, a terminal emulator, tmux's server), which is not supported yet",
			       d->pid, d->fd, d->link);
	if (d->sb->st_rdev == DEV_CONSOLE)
		return err_msg(ENOTSUP, "process %d: fd %d (%s): the system console is not supported",
			       d->pid, d->fd, d->link);
	rc = ctty_of(d->pid, &tty, &tpgid, &pgrp);
	if (rc)
		return rc;
	/* /dev/tty was the controlling terminal when it was opened. */
	if (d->sb->st_rdev != DEV_TTY && d->sb->st_rdev != tty)
		return err_msg(ENOTSUP, "process %d: fd %d (%s): a terminal other than its controlling terminal (a pty it opened, another window) is not supported yet",
			       d->pid, d->fd, d->link);
	return 1;
}

/* pthaw's terminal: its controlling one, opened without becoming
 * anyone's (O_NOCTTY), once. */
static struct {
	int fd;			/* -1: none, -2: not looked for yet */
	char path[64];		/* its name, for pload to open */
	pid_t job;		/* the group pthaw gave it to */
	struct termios own;	/* pthaw's modes, given back when the job stops */
	struct termios job_modes;
	int active;		/* the job has it */
	struct winsize was;	/* the process's at the capture */
} pt = { .fd = -2 };

static int pthaw_tty(void)
{
	unsigned int dev;

	if (pt.fd != -2)
		return pt.fd;
	pt.fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (pt.fd < 0)
		return pt.fd = -1;
	snprintf(pt.path, sizeof(pt.path), "/dev/tty");
	/* TIOCGDEV: the real terminal behind /dev/tty, whose name the
	 * process's fds get back (as they had it: /dev/pts/N). */
	if (ioctl(pt.fd, TIOCGDEV, &dev) == 0 && major(dev) == 136)
		snprintf(pt.path, sizeof(pt.path), "/dev/pts/%u", minor(dev));
	return pt.fd;
}

static long fd_tty_open(struct kind_restore *r, const struct snap *s, const struct snap_file *f)
{
	long flags = (f->r.flags & (O_ACCMODE | O_NONBLOCK | O_APPEND)) | O_NOCTTY | O_CLOEXEC;
	const char *path;
	long t;

	(void)s;
	if (pthaw_tty() < 0)
		return err_msg(ENXIO, "fd %d (%s): the process's terminal: pthaw has no terminal to give it (run pthaw in one)",
			       f->first_fd, f->path);
	/* What it opened as /dev/tty stays /dev/tty (pload is in pthaw's
	 * session, whose terminal that is); the rest get its real name. */
	path = strcmp(f->path, "/dev/tty") == 0 ? "/dev/tty" : pt.path;
	t = pload_call(r->pl, SYS_openat, AT_FDCWD, (long)r->pl->hello.scratch, flags, 0, 0, 0, path,
		       strlen(path) + 1);
	if (t < 0)
		return err_sys((int)-t, "fd %d: the terminal %s", f->first_fd, path);
	return t;
}

const struct fd_kind_ops fd_kind_tty = {
	.kind = FD_TTY,
	.name = "terminal",
	.claim = fd_tty_claim,
	.open = fd_tty_open,
};

/* The kind "tty": the modes and size of the controlling terminal. */
struct tty_state {
	struct rec_tty r;
	int fd;			/* pfrez: the original's terminal, for -halt */
};

static void rec_of_termios(struct rec_tty *r, const struct termios *t)
{
	r->iflag = t->c_iflag;
	r->oflag = t->c_oflag;
	r->cflag = t->c_cflag;
	r->lflag = t->c_lflag;
	r->line = t->c_line;
	memcpy(r->cc, t->c_cc, sizeof(r->cc) < sizeof(t->c_cc) ? sizeof(r->cc) : sizeof(t->c_cc));
	r->ispeed = cfgetispeed(t);
	r->ospeed = cfgetospeed(t);
}

static void termios_of_rec(struct termios *t, const struct rec_tty *r)
{
	memset(t, 0, sizeof(*t));
	t->c_iflag = r->iflag;
	t->c_oflag = r->oflag;
	t->c_cflag = r->cflag;
	t->c_lflag = r->lflag;
	t->c_line = r->line;
	memcpy(t->c_cc, r->cc, sizeof(r->cc) < sizeof(t->c_cc) ? sizeof(r->cc) : sizeof(t->c_cc));
	cfsetispeed(t, r->ispeed);
	cfsetospeed(t, r->ospeed);
}

/* Whether fd (a terminal of the fd table) is the controlling one: 1 with
 * *openable when /proc/PID/fd/FD opens it itself (not /dev/tty, which
 * would open pfrez's own). */
static int on_ctty(pid_t pid, int fd, dev_t tty, int *openable)
{
	char path[64];
	struct stat sb;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	if (stat(path, &sb) < 0 || !S_ISCHR(sb.st_mode))
		return 0;
	*openable = sb.st_rdev == tty;
	return sb.st_rdev == tty || sb.st_rdev == DEV_TTY;
}

static int tty_capture(struct kind_capture *c, void **data)
{
	const struct snap *s = c->snap;
	char path[64] = "";
	struct tty_state *t;
	struct termios tio;
	struct winsize ws;
	struct stat sb;
	pid_t tpgid, pgrp;
	int used = 0, fd, rc;
	dev_t tty;

	rc = ctty_of(c->pid, &tty, &tpgid, &pgrp);
	if (rc || !tty)
		return rc;
	for (size_t i = 0; i < s->nfds; i++) {
		const struct snap_file *f = &s->files[s->fds[i].file];
		int openable = 0;

		if (f->r.kind != FD_TTY && !(f->r.kind == FD_STDIO && S_ISCHR(f->r.mode)))
			continue;
		if (on_ctty(c->pid, s->fds[i].fd, tty, &openable)) {
			used = 1;
			if (openable && !path[0])
				snprintf(path, sizeof(path), "/proc/%d/fd/%d", c->pid, s->fds[i].fd);
		}
	}
	if (!used)
		return 0;	/* a terminal it does not use: nothing to carry */
	if (!path[0] && major(tty) == 136)
		snprintf(path, sizeof(path), "/dev/pts/%u", minor(tty));
	/* O_NOCTTY: opening a terminal must not make it pfrez's controlling
	 * one; O_NONBLOCK: a serial line must not wait for its carrier. */
	fd = path[0] ? open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC) : -1;
	if (fd < 0)
		return err_sys(path[0] ? errno : ENOENT, "process %d: its terminal (%u:%u): cannot open it to read its modes",
			       c->pid, major(tty), minor(tty));
	if (fstat(fd, &sb) < 0 || sb.st_rdev != tty) {
		close(fd);
		return err_msg(EIO, "process %d: %s is not its terminal (%u:%u)", c->pid, path, major(tty),
			       minor(tty));
	}
	if (tcgetattr(fd, &tio) < 0 || ioctl(fd, TIOCGWINSZ, &ws) < 0) {
		rc = err_sys(errno, "process %d: its terminal %s: reading its modes", c->pid, path);
		close(fd);
		return rc;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		close(fd);
		return err_sys(ENOMEM, "tty");
	}
	t->fd = fd;
	t->r.flags = tpgid == pgrp ? TTY_FOREGROUND : 0;
	t->r.tpgid = (uint32_t)(tpgid > 0 ? tpgid : 0);
	t->r.rdev = tty;
	rec_of_termios(&t->r, &tio);
	t->r.rows = ws.ws_row;
	t->r.cols = ws.ws_col;
	t->r.xpixel = ws.ws_xpixel;
	t->r.ypixel = ws.ws_ypixel;
	*data = t;
	return 0;
}

static int tty_write(const void *data, struct rec_writer *w)
{
	return rec_write(w, REC_TTY, &((const struct tty_state *)data)->r, sizeof(struct rec_tty), NULL, 0);
}

static int tty_take(void **data, const unsigned char *p, size_t len)
{
	struct tty_state *t;
	struct rec_tty r;

	if (len != sizeof(r))
		return err_msg(EBADMSG, "tty record: %zu bytes, want %zu", len, sizeof(r));
	memcpy(&r, p, sizeof(r));
	if ((r.flags & ~(uint32_t)TTY_FOREGROUND) || r.pad[0] || r.pad[1] || r.pad[2])
		return err_msg(EBADMSG, "tty record: malformed (flags 0x%x)", r.flags);
	t = calloc(1, sizeof(*t));
	if (!t)
		return err_sys(ENOMEM, "tty");
	t->r = r;
	t->fd = -1;
	*data = t;
	return 0;
}

/* Before any page: the fds that open the terminal anew need pthaw to
 * have one (its stdio is given whatever it is). */
static int tty_check(struct kind_check *c, const void *data)
{
	const struct snap *s = c->snap;

	(void)data;
	for (size_t i = 0; i < s->nfiles; i++)
		if (s->files[i].r.kind == FD_TTY && pthaw_tty() < 0)
			return kind_problem(c, err_msg(ENXIO, "fd %d (%s): the process's terminal: pthaw has no terminal to give it (run pthaw in one)",
						       s->files[i].first_fd, s->files[i].path));
	return 0;
}

/* Whether pthaw runs the process as a job of its terminal: it had its
 * terminal in the foreground, and pthaw has one and is in its
 * foreground (not started with &), and stays (not -detach). */
static int tty_job_wanted(const struct kind_restore *r, const struct tty_state *t)
{
	return t && !r->detach && (t->r.flags & TTY_FOREGROUND) && pthaw_tty() >= 0 &&
	       tcgetpgrp(pt.fd) == getpgrp();
}

int tty_job_planned(const struct kind_restore *r)
{
	return kind_get(KIND_TTY) && tty_job_wanted(r, r->snap->kind[KIND_TTY]);
}

static void tty_job_atexit(void)
{
	tty_job_end();
}

static int tty_restore(struct kind_restore *r, const void *data)
{
	const struct tty_state *t = data;
	long ret;

	if (!tty_job_wanted(r, t))
		return 0;
	if (r->stage == KIND_STAGE_TASK) {
		/* Its own process group, as a shell makes one for a job (a
		 * session leader does not lead a session again: task.c),
		 * which pthaw can put in its terminal's foreground. */
		ret = pload_call(r->pl, SYS_setpgid, 0, 0, 0, 0, 0, 0, NULL, 0);
		return ret < 0 ? err_sys((int)-ret, "putting the process in a process group of its own") : 0;
	}
	/* KIND_STAGE_REGS: the process is whole, stopped, not yet going on:
	 * it must find its modes and its terminal in the foreground, or its
	 * first read would stop it (SIGTTIN). */
	if (tcgetattr(pt.fd, &pt.own) < 0)
		return err_sys(errno, "pthaw's terminal: reading its modes");
	termios_of_rec(&pt.job_modes, &t->r);
	pt.job = r->pid;
	atexit(tty_job_atexit);
	tty_job_cont();
	if (!pt.active)
		return err_sys(errno, "giving pthaw's terminal to the process");
	pt.was.ws_row = t->r.rows;
	pt.was.ws_col = t->r.cols;
	return 0;
}

/* Whether pid sleeps (in the call it was in at the capture, or back in
 * it), waiting up to 1 s.  Plain reads: this runs beside pthaw's main
 * thread, and err.h's message is not for two threads. */
static void tty_wait_sleeping(pid_t pid)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	for (int i = 0; i < 100; i++) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			return;
		buf[n] = '\0';
		p = strrchr(buf, ')');
		if (p && p[1] == ' ' && p[2] == 'S')
			return;
		nanosleep(&tick, NULL);
	}
}

/* The job learns the size of pthaw's terminal and repaints.  A SIGWINCH
 * alone is not enough: readline (bash, python3) redraws its prompt only
 * when the size changed, so the terminal takes the size the process had
 * (or one row less when that is the same), then its own again, each once
 * the process sleeps in its read, where a signal interrupts it (sent
 * before, the handler would run and the read begin again unaware). */
static void *tty_repaint(void *arg)
{
	struct timespec settle = { 0, 30 * 1000 * 1000 };
	pid_t pid = (pid_t)(long)arg;
	struct winsize now, first;

	if (ioctl(pt.fd, TIOCGWINSZ, &now) < 0)
		return NULL;
	first = now;
	if (pt.was.ws_row && pt.was.ws_col && (pt.was.ws_row != now.ws_row || pt.was.ws_col != now.ws_col)) {
		first.ws_row = pt.was.ws_row;
		first.ws_col = pt.was.ws_col;
	} else {
		first.ws_row = now.ws_row > 1 ? now.ws_row - 1 : now.ws_row + 1;
	}
	tty_wait_sleeping(pid);
	ioctl(pt.fd, TIOCSWINSZ, &first);
	nanosleep(&settle, NULL);
	tty_wait_sleeping(pid);
	ioctl(pt.fd, TIOCSWINSZ, &now);
	return NULL;
}

void tty_job_repaint(void)
{
	pthread_attr_t a;
	pthread_t t;

	if (!pt.active)
		return;
	/* A thread: the process may stop for pthaw (a remapped one is
	 * traced) while it waits, and pthaw must be in its wait loop. */
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &a, tty_repaint, (void *)(long)pt.job) != 0)
		kill(pt.job, SIGWINCH);
	pthread_attr_destroy(&a);
}

pid_t tty_job_pgrp(void)
{
	return pt.job;
}

/* pthaw may be in the background of its terminal here (the job has it):
 * changing the terminal from there sends SIGTTOU, held off as a shell
 * does. */
static void tty_set(const struct termios *modes, pid_t fg)
{
	sigset_t ttou, old;

	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, &old);
	tcsetpgrp(pt.fd, fg);
	tcsetattr(pt.fd, TCSADRAIN, modes);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

void tty_job_stop(void)
{
	if (!pt.active)
		return;
	tcgetattr(pt.fd, &pt.job_modes);
	tty_set(&pt.own, getpgrp());
	pt.active = 0;
}

void tty_job_cont(void)
{
	sigset_t ttou, old;

	if (!pt.job || pt.active)
		return;
	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, &old);
	pt.active = tcsetattr(pt.fd, TCSADRAIN, &pt.job_modes) == 0 && tcsetpgrp(pt.fd, pt.job) == 0;
	sigprocmask(SIG_SETMASK, &old, NULL);
}

void tty_job_end(void)
{
	if (pt.active)
		tty_set(&pt.own, getpgrp());
	pt.active = 0;
	pt.job = 0;
}

/* stty sane: what a terminal is like before a program takes it over
 * (the shell's line editing aside, which the shell sets itself). */
static void tty_sane(struct termios *t)
{
	static const struct { int i; cc_t c; } cc[] = {
		{ VINTR, 003 }, { VQUIT, 034 }, { VERASE, 0177 }, { VKILL, 025 }, { VEOF, 004 },
		{ VEOL, 0 }, { VEOL2, 0 }, { VSTART, 021 }, { VSTOP, 023 }, { VSUSP, 032 },
		{ VREPRINT, 022 }, { VWERASE, 027 }, { VLNEXT, 026 }, { VDISCARD, 017 },
		{ VMIN, 1 }, { VTIME, 0 },
	};

	t->c_cflag |= CREAD;
	t->c_iflag &= ~(tcflag_t)(IGNBRK | INLCR | IGNCR | IXOFF | IUCLC | IXANY);
	t->c_iflag |= BRKINT | ICRNL | IMAXBEL;
	t->c_oflag &= ~(tcflag_t)(OLCUC | OCRNL | OFILL | ONOCR | ONLRET | OFDEL | NLDLY | CRDLY |
				  TABDLY | BSDLY | VTDLY | FFDLY);
	t->c_oflag |= OPOST | ONLCR;
	t->c_lflag &= ~(tcflag_t)(ECHONL | NOFLSH | XCASE | TOSTOP | ECHOPRT | EXTPROC | FLUSHO);
	t->c_lflag |= ISIG | ICANON | IEXTEN | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE;
	for (size_t i = 0; i < sizeof(cc) / sizeof(cc[0]); i++)
		t->c_cc[cc[i].i] = cc[i].c;
}

/* pfrez, once the original's fate is known: when -halt ends it (held,
 * it runs no more), its terminal, which a full-screen program or a line
 * editor left raw and without echo, gets sane modes for what runs there
 * next (a shell sets its own over them). */
static void tty_settle(void *data, int ended)
{
	const struct tty_state *t = data;
	struct termios tio;

	if (!ended || t->fd < 0 || tcgetattr(t->fd, &tio) < 0)
		return;
	tty_sane(&tio);
	tcsetattr(t->fd, TCSANOW, &tio);
}

static void tty_print(FILE *f, const void *data)
{
	const struct rec_tty *r = &((const struct tty_state *)data)->r;

	fprintf(f, "Terminal: %u:%u, %ux%u, %s (group %u), iflag 0%o oflag 0%o cflag 0%o lflag 0%o%s%s\n",
		major(r->rdev), minor(r->rdev), r->cols, r->rows,
		r->flags & TTY_FOREGROUND ? "in its foreground" : "in the background", r->tpgid,
		r->iflag, r->oflag, r->cflag, r->lflag, r->lflag & ICANON ? "" : ", raw (-icanon)",
		r->lflag & ECHO ? "" : ", -echo");
}

static void tty_print_json(struct json *j, const void *data)
{
	const struct rec_tty *r = &((const struct tty_state *)data)->r;

	json_uint(j, "major", major(r->rdev));
	json_uint(j, "minor", minor(r->rdev));
	json_bool(j, "foreground", (r->flags & TTY_FOREGROUND) != 0);
	json_uint(j, "tpgid", r->tpgid);
	json_uint(j, "rows", r->rows);
	json_uint(j, "cols", r->cols);
	json_uint(j, "iflag", r->iflag);
	json_uint(j, "oflag", r->oflag);
	json_uint(j, "cflag", r->cflag);
	json_uint(j, "lflag", r->lflag);
	json_bool(j, "canonical", (r->lflag & ICANON) != 0);
	json_bool(j, "echo", (r->lflag & ECHO) != 0);
}

static void tty_free(void *data)
{
	struct tty_state *t = data;

	if (t && t->fd >= 0)
		close(t->fd);
	free(t);
}

const struct kind_ops kind_tty = {
	.name = "tty",
	.type = REC_TTY,
	.stages = KIND_AT(KIND_STAGE_TASK) | KIND_AT(KIND_STAGE_REGS),
	.capture = tty_capture,
	.write = tty_write,
	.take = tty_take,
	.check = tty_check,
	.restore = tty_restore,
	.print = tty_print,
	.print_json = tty_print_json,
	.free = tty_free,
	.settle = tty_settle,
};
