/* task.c: the process itself (the proc record): its PID and place among
 * processes (parent, process group, session, threads), command name,
 * executable, working directory, root and umask. */
#include "kind.h"
#include "err.h"
#include "fd_tty.h"
#include "files.h"
#include "json.h"
#include "pload_ctl.h"
#include "proc.h"
#include "reopen.h"
#include "snap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

/* The working directory and the root are reopened by name too. */
static int capture_dirs(struct snap *s, pid_t pid, char *buf, size_t len)
{
	struct stat sb, host;
	char path[64];
	int rc;

	snprintf(path, sizeof(path), "/proc/%d/root", pid);
	rc = proc_readlink(path, buf, len);
	if (rc)
		return rc;
	if (stat(path, &sb) < 0)
		return err_sys(errno, "process %d: its root directory", pid);
	file_ident(&s->proc.root, &sb);
	/* pthaw restores no chroot: the process must see the host's /. */
	if (strcmp(buf, "/") != 0 || stat("/", &host) < 0 || host.st_dev != sb.st_dev ||
	    host.st_ino != sb.st_ino)
		return err_msg(ENOTSUP, "process %d: its root directory is %s, not this system's /: chroots and other mount namespaces are not supported yet",
			       pid, buf);
	snprintf(path, sizeof(path), "/proc/%d/cwd", pid);
	rc = proc_readlink(path, buf, len);
	if (rc)
		return rc;
	if (stat(path, &sb) < 0)
		return err_sys(errno, "process %d: its working directory", pid);
	/* A removed directory cannot be entered again by any name. */
	if (sb.st_nlink == 0)
		return err_msg(ENOTSUP, "process %d: its working directory %s was removed: it cannot be restored",
			       pid, buf);
	file_ident(&s->proc.cwd, &sb);
	return file_reopenable(pid, "working directory", buf, &sb);
}

static int task_capture(struct kind_capture *c, void **data)
{
	struct snap *s = *data;
	char path[64], buf[4096], val[32];
	struct proc_stat st;
	struct stat sb;
	int rc, n;

	s->proc.pid = (uint32_t)c->pid;
	rc = proc_stat_read(c->pid, &st);
	if (!rc)
		rc = proc_status_field(c->pid, "NSpid", val, sizeof(val));
	if (rc)
		return rc;
	/* In a PID namespace of its own (pthaw -remap=ns, a container) the
	 * process knows itself by another PID than the one recorded here. */
	for (char *t = strchr(val, '\t'); t; t = strchr(t, '\t'))
		*t = ' ';
	if (strchr(val, ' '))
		return err_msg(ENOTSUP, "process %d runs in a PID namespace of its own (NSpid %s): capturing it again is not supported yet",
			       c->pid, val);
	s->proc.ppid = (uint32_t)st.ppid;
	s->proc.pgid = (uint32_t)st.pgrp;
	s->proc.sid = (uint32_t)st.session;
	n = proc_count_threads(c->pid);
	if (n < 0)
		return n;
	s->proc.nthreads = (uint32_t)n;
	rc = proc_read_text(c->pid, "comm", buf, sizeof(buf));
	if (rc)
		return rc;
	buf[strcspn(buf, "\n")] = '\0';
	s->comm = strdup(buf);
	snprintf(path, sizeof(path), "/proc/%d/exe", c->pid);
	rc = proc_readlink(path, buf, sizeof(buf));
	if (rc)
		return rc;
	s->exe = strdup(buf);
	if (stat(path, &sb) == 0)
		file_ident(&s->proc.exe, &sb);
	rc = capture_dirs(s, c->pid, buf, sizeof(buf));
	if (rc)
		return rc;
	s->cwd = strdup(buf);
	if (!s->comm || !s->exe || !s->cwd)
		return err_sys(ENOMEM, "process state");
	rc = proc_status_field(c->pid, "Umask", val, sizeof(val));
	if (rc)
		return rc;
	s->proc.umask = (uint32_t)strtoul(val, NULL, 8);
	return 0;
}

static int task_write(const void *data, struct rec_writer *w)
{
	const struct snap *s = data;
	unsigned char buf[sizeof(struct rec_proc) + 3 * 4096];
	struct rec_proc p = s->proc;
	size_t off = sizeof(p);

	/* Checked before the cast to the 16-bit fields, which would cut. */
	if (strlen(s->exe) > 4095 || strlen(s->cwd) > 4095 || strlen(s->comm) > SNAP_COMM_MAX)
		return err_msg(ENAMETOOLONG, "path too long");
	p.comm_len = (uint16_t)strlen(s->comm);
	p.exe_len = (uint16_t)strlen(s->exe);
	p.cwd_len = (uint16_t)strlen(s->cwd);
	memcpy(buf, &p, sizeof(p));
	memcpy(buf + off, s->comm, p.comm_len);
	off += p.comm_len;
	memcpy(buf + off, s->exe, p.exe_len);
	off += p.exe_len;
	memcpy(buf + off, s->cwd, p.cwd_len);
	off += p.cwd_len;
	return rec_write(w, REC_PROC, buf, off, NULL, 0);
}

static int task_take(void **data, const unsigned char *p, size_t len)
{
	struct snap *s = *data;
	size_t off = sizeof(s->proc);

	if (len < sizeof(s->proc))
		return err_msg(EBADMSG, "proc record: too short");
	memcpy(&s->proc, p, sizeof(s->proc));
	if (s->proc.comm_len > SNAP_COMM_MAX || s->proc.exe_len >= SNAP_PATH_MAX ||
	    s->proc.cwd_len >= SNAP_PATH_MAX)
		return err_msg(EBADMSG, "proc record: name too long");
	if (!s->proc.pid || !s->proc.nthreads || s->proc.nthreads > SNAP_THREADS_MAX || s->proc.pad)
		return err_msg(EBADMSG, "proc record: malformed");
	s->comm = snap_take_str(p, len, &off, s->proc.comm_len);
	s->exe = s->comm ? snap_take_str(p, len, &off, s->proc.exe_len) : NULL;
	s->cwd = s->exe ? snap_take_str(p, len, &off, s->proc.cwd_len) : NULL;
	if (!s->cwd || off != len) {
		free(s->comm);
		free(s->exe);
		free(s->cwd);
		s->comm = s->exe = s->cwd = NULL;
		return err_msg(EBADMSG, "proc record: bad strings");
	}
	return 0;
}

/* Before any page: the working directory must be there. */
static int task_check(struct kind_check *c, const void *data)
{
	const struct snap *s = data;
	int rc = 0;

	/* The working directory, opened as the restore will open it. */
	if (reopen(NULL, c->same_host, &(struct reopen){ "working directory", s->cwd, &s->proc.cwd,
							 O_PATH | O_DIRECTORY | O_CLOEXEC, 1, 0 }))
		rc = kind_problem(c, -ESTALE);
	return rc;
}

/* The working directory, the umask and the command name.  A process that
 * led its process group or session leads one again (pload is pthaw's
 * child, in pthaw's group and session, and leads neither); any other
 * stays in pthaw's, as a job of its shell: its old group and session are
 * other processes', which are not restored with it. */
static int task_restore(struct kind_restore *r, const void *data)
{
	const struct snap *s = data;
	long ret;

	ret = reopen(r->pl, r->same_host, &(struct reopen){ "working directory", s->cwd, &s->proc.cwd,
							    O_PATH | O_DIRECTORY | O_CLOEXEC, 1, 0 });
	if (ret < 0)
		return (int)ret;
	ret = pload_call(r->pl, SYS_fchdir, ret, 0, 0, 0, 0, 0, NULL, 0) ?:
	      pload_call(r->pl, SYS_close, ret, 0, 0, 0, 0, 0, NULL, 0);
	if (ret < 0)
		return err_sys((int)-ret, "working directory %s", s->cwd);
	pload_call(r->pl, SYS_umask, s->proc.umask, 0, 0, 0, 0, 0, NULL, 0);
	pload_call(r->pl, SYS_prctl, PR_SET_NAME, (long)r->pl->hello.scratch, 0, 0, 0, 0, s->comm,
		   strlen(s->comm) + 1);
	return r->tree ? 0 : task_lead(r);
}

int task_lead(struct kind_restore *r)
{
	const struct snap *s = r->snap;
	long ret = 0;

	/* A job of pthaw's terminal is in pthaw's session (fd_tty.c): a
	 * session of its own would have no terminal. */
	if (s->proc.sid == s->proc.pid && !tty_job_planned(r))
		ret = pload_call(r->pl, SYS_setsid, 0, 0, 0, 0, 0, 0, NULL, 0);
	else if (s->proc.pgid == s->proc.pid || (r->tree && tty_job_planned(r)))
		ret = pload_call(r->pl, SYS_setpgid, 0, 0, 0, 0, 0, 0, NULL, 0);
	if (ret < 0)
		return err_sys((int)-ret, "making the process lead its %s again",
			       s->proc.sid == s->proc.pid && !tty_job_planned(r) ? "session" : "process group");
	return 0;
}

static void task_print(FILE *f, const void *data)
{
	static char e1[4 * SNAP_PATH_MAX + 1], e2[4 * SNAP_PATH_MAX + 1], e3[4 * SNAP_PATH_MAX + 1];
	const struct snap *s = data;

	if (!s->comm)
		return;
	fprintf(f, "Process: %s (pid %u, parent %u, process group %u, session %u, %u thread%s)\nExecutable: %s\nWorking directory: %s\nUmask: %04o\n",
		snap_esc(e1, sizeof(e1), s->comm), s->proc.pid, s->proc.ppid, s->proc.pgid, s->proc.sid,
		s->proc.nthreads, s->proc.nthreads == 1 ? "" : "s", snap_esc(e2, sizeof(e2), s->exe),
		snap_esc(e3, sizeof(e3), s->cwd), s->proc.umask);
	snap_print_ident(f, "  executable", &s->proc.exe);
	snap_print_ident(f, "  working directory", &s->proc.cwd);
}

static void task_print_json(struct json *j, const void *data)
{
	const struct snap *s = data;

	if (!s->comm)
		return;
	json_object_begin(j, "process");
	json_uint(j, "pid", s->proc.pid);
	json_uint(j, "ppid", s->proc.ppid);
	json_uint(j, "pgid", s->proc.pgid);
	json_uint(j, "sid", s->proc.sid);
	json_uint(j, "nthreads", s->proc.nthreads);
	json_str(j, "comm", s->comm);
	json_str(j, "exe", s->exe);
	json_str(j, "cwd", s->cwd);
	json_uint(j, "umask", s->proc.umask);
	snap_ident_json(j, "exe_ident", &s->proc.exe);
	snap_ident_json(j, "cwd_ident", &s->proc.cwd);
	snap_ident_json(j, "root_ident", &s->proc.root);
	json_object_end(j);
}

const struct kind_ops kind_task = {
	.name = "proc",
	.type = REC_PROC,
	.flags = KIND_REQUIRED | KIND_IN_SNAP,
	.stages = KIND_AT(KIND_STAGE_MM),
	.capture = task_capture,
	.write = task_write,
	.take = task_take,
	.check = task_check,
	.restore = task_restore,
	.print = task_print,
	.print_json = task_print_json,
};
