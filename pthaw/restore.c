/* restore.c: the order of a restore.  What each kind of state is and how
 * it comes back is its file's under lib/kind/; here: read the records up
 * to the pages, check this host can restore them all, start pload, the
 * kinds' first stage (the address space), the pages as they stream in,
 * and once the end record verified, the kinds stage by stage, pload's
 * exit and the registers last. */
#include "restore.h"
#include "crc32c.h"
#include "err.h"
#include "fdkind.h"
#include "inject.h"
#include "pagepipe.h"
#include "pages.h"
#include "proc.h"
#include "shmem.h"
#include "supervise.h"
#include "treeshare.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/prctl.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#define PCALL(r, nr, a0, a1, a2, a3, a4, a5) \
	pload_call(&(r)->pl, nr, (long)(a0), (long)(a1), (long)(a2), (long)(a3), (long)(a4), (long)(a5), NULL, 0)

/* The kinds' checks of what restoring them needs from this host, before
 * any page is read: made in pthaw, with the process's file credentials
 * (what they open is opened as the restore will, O_PATH: nothing read or
 * written), set for this thread only by the raw system calls (glibc's
 * setgroups would change every thread) and put back at the end.  With
 * out (pthaw -check), every problem is reported there and counted. */
static int check_here(struct restore *r, FILE *out)
{
	const struct snap *s = &r->snap;
	struct kind_check c = { .snap = s, .same_host = r->same_host, .out = out,
				.take_sockets = r->take_sockets,
				.userns = r->ns == PLOAD_NS_USER, .in_tree = r->in_tree };
	gid_t groups[256];
	int ngroups = getgroups(256, groups), switched = 0, rc;

	if (!creds_are_pthaws(s) && geteuid() == 0 && ngroups >= 0 &&
	    syscall(SYS_setgroups, s->creds.ngroups, s->groups) == 0) {
		syscall(SYS_setfsgid, s->creds.fsgid);
		syscall(SYS_setfsuid, s->creds.fsuid);
		switched = 1;
	}
	rc = kinds_check(&c, s->kind);
	if (switched) {
		syscall(SYS_setfsuid, geteuid());
		syscall(SYS_setfsgid, getegid());
		syscall(SYS_setgroups, ngroups, groups);
	}
	return rc;
}

/* A process of the tree other than the root, as the root's is set up. */
static struct restore *sub_new(const struct restore *r)
{
	struct restore *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	snap_init(&s->snap);
	s->remap = r->remap;
	s->detach = r->detach;
	s->hold = 1;
	s->rd = r->rd;
	s->loader = r->loader;
	s->same_host = r->same_host;
	s->take_sockets = r->take_sockets;
	s->check_only = r->check_only;
	s->ns = r->ns;
	s->in_tree = 1;
	s->pl.pid = -1;
	s->pl.req_fd = s->pl.rep_fd = -1;
	return s;
}

/* Entry i's records are all in: complete, and the process they describe
 * is the one the tree names there. */
static int tree_proc_done(struct restore *r, int i)
{
	const struct rec_pstree_proc *e = &r->tree.procs[i];
	const struct snap *s = i ? &r->sub[i]->snap : &r->snap;
	int rc = snap_check(s, 1);

	if (!rc && (s->proc.pid != e->pid || s->proc.ppid != e->ppid || s->proc.pgid != e->pgid ||
		    s->proc.sid != e->sid))
		rc = err_msg(EBADMSG, "process %u: its proc record (pid %u, parent %u, group %u, session %u) is not its pstree entry",
			     e->pid, s->proc.pid, s->proc.ppid, s->proc.pgid, s->proc.sid);
	if (!rc && (e->flags & PSTREE_FILES_SHARED) && (s->nfds || s->nfiles))
		rc = err_msg(EBADMSG, "process %u: it shares its parent's fd table, yet has %zu fds of its own",
			     e->pid, s->nfds);
	/* Its parent's records came before its own (the tree's order). */
	if (!rc && (e->flags & PSTREE_FS_SHARED)) {
		int par = pstree_find(&r->tree, e->ppid);
		const struct snap *ps = par == 0 ? &r->snap : par > 0 && r->sub[par] ? &r->sub[par]->snap : NULL;

		if (!ps || ps->proc.umask != s->proc.umask || !ps->cwd || !s->cwd || strcmp(ps->cwd, s->cwd))
			rc = err_msg(EBADMSG, "process %u: it shares its parent's working directory and umask, yet has its own",
				     e->pid);
	}
	return rc;
}

static int next_live(const struct restore *r, int i)
{
	for (i++; i < (int)r->tree.n; i++)
		if (r->tree.procs[i].state != PSTREE_ZOMBIE)
			return i;
	return -1;
}

static int tree_take(struct restore *r, uint32_t type, const unsigned char *p, size_t len)
{
	uint32_t pid;
	int rc, i;

	if (type == REC_PSTREE) {
		if (r->tree.n || r->snap.meta_bytes)
			return err_msg(EBADMSG, "pstree record: not the first record");
		rc = pstree_take(&r->tree, p, len);
		if (rc)
			return rc;
		r->sub = calloc(r->tree.n, sizeof(*r->sub));
		r->cur_idx = -1;
		return r->sub ? 0 : err_sys(ENOMEM, "process tree");
	}
	if (!r->tree.n)
		return err_msg(EBADMSG, "pstree_begin record without a pstree record");
	rc = pstree_take_begin(p, len, &pid);
	if (rc)
		return rc;
	if (r->cur && (rc = tree_proc_done(r, r->cur_idx)))
		return rc;
	i = next_live(r, r->cur_idx);
	if (i < 0 || r->tree.procs[i].pid != pid)
		return err_msg(EBADMSG, "pstree_begin record: process %u where %s%d was expected", pid,
			       i < 0 ? "the end record, not " : "process ", i < 0 ? 0 : (int)r->tree.procs[i].pid);
	if (i && !r->sub[i] && !(r->sub[i] = sub_new(r)))
		return err_sys(ENOMEM, "process tree");
	r->cur_idx = i;
	r->cur = i ? r->sub[i] : r;
	return 0;
}

int restore_tree_done(struct restore *r)
{
	if (!r->tree.n)
		return 0;
	if (!r->cur)
		return err_msg(EBADMSG, "pstree record: no process follows it");
	if (next_live(r, r->cur_idx) >= 0)
		return err_msg(EBADMSG, "stream ended before process %u of the tree",
			       r->tree.procs[next_live(r, r->cur_idx)].pid);
	return tree_proc_done(r, r->cur_idx);
}

void restore_pages_seen(struct restore *r)
{
	(r->cur ? r->cur : r)->paged = 1;
}

int restore_take(struct restore *r, uint32_t type, const unsigned char *p, size_t len, int late)
{
	struct restore *cur = r->cur ? r->cur : r;
	int rc;

	if (type == REC_PSTREE || type == REC_PSTREE_BEGIN)
		return tree_take(r, type, p, len);
	if (r->tree.n && !r->cur)
		return err_msg(EBADMSG, "record of type %u before the first pstree_begin record", type);
	r->tree_meta += len;
	if (r->tree.n && r->tree_meta > PSTREE_META_MAX)
		return err_msg(E2BIG, "more than %u MiB of records besides the pages in the tree's processes (corrupt or hostile stream)",
			       PSTREE_META_MAX >> 20);
	/* Each process's records may follow its own pages only. */
	if (r->tree.n)
		late = cur->paged;
	/* Contents of memory objects: checked here (pthaw -debug, -check),
	 * written into them by stream_pages. */
	if (type == REC_FILEDATA) {
		cur->paged = 1;
		return shmem_data_put(NULL, &cur->snap, p, len);
	}
	rc = snap_take(&cur->snap, type, p, len, late);

	if (rc == 1 && (rc = rec_unknown(type)) == 0)
		fprintf(stderr, "pthaw: warning: skipping unknown optional record type 0x%x\n", type);
	return rc;
}

/* Takes the records up to the first pages record (or the end record)
 * and checks them: complete, consistent, and restorable here. */
int restore_read_meta(struct restore *r, uint32_t *type, const unsigned char **p, size_t *len)
{
	struct snap *s = &r->snap;
	int rc;

	for (;;) {
		rc = rec_read(r->rd, type, p, len);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return err_msg(EBADMSG, "stream ended early");
		if (*type == REC_PAGES || *type == REC_FILEDATA || *type == REC_END ||
		    (*type == REC_PSTREE_BEGIN && r->cur))
			break;
		rc = restore_take(r, *type, *p, *len, 0);
		if (rc < 0)
			return rc;
	}
	if (r->tree.n && !r->cur)
		return err_msg(EBADMSG, "pstree record: no process follows it");
	rc = snap_check(s, *type == REC_END || *type == REC_PSTREE_BEGIN);
	if (rc || r->check_only)
		return rc;	/* restore_check() reports every problem */
	return check_here(r, NULL);
}

/* The remapping filter goes in first, from inside the process (a filter
 * applies to the process that installs it), while pload still has
 * pthaw's capabilities: with CAP_SYS_ADMIN the kernel needs no
 * no_new_privs for it, so a pthaw run as root adds none.  Without it, no
 * filter goes in unless no_new_privs is set: then the remapped process
 * has it too (pthaw(1), -remap).  It lets pload's own calls through
 * (supervise.c), so the rest of the restore runs as without it. */
static int install_filter(struct restore *r)
{
	struct sock_filter f[64];
	struct sock_fprog prog;
	unsigned char buf[sizeof(prog) + sizeof(f)];
	long ret;

	prog.len = (unsigned short)remap_filter(f, 64);
	prog.filter = (struct sock_filter *)(uintptr_t)(r->pl.hello.scratch + sizeof(prog));
	memcpy(buf, &prog, sizeof(prog));
	memcpy(buf + sizeof(prog), f, prog.len * sizeof(f[0]));
	ret = pload_call(&r->pl, SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, (long)r->pl.hello.scratch,
			 0, 0, 0, buf, sizeof(prog) + prog.len * sizeof(f[0]));
	if (ret == -EACCES) {
		PCALL(r, SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0);
		ret = pload_call(&r->pl, SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, (long)r->pl.hello.scratch,
				 0, 0, 0, buf, sizeof(prog) + prog.len * sizeof(f[0]));
	}
	if (ret < 0)
		return err_sys((int)-ret, "installing the PID remapping filter");
	return 0;
}

static int start_process(struct restore *r, struct kind_restore *kr);

/* A pages record: into a mapping userfaultfd serves (lazy.c), or
 * written into pload (pages.c). */
static int put_pages(struct restore *r, const unsigned char *p, size_t len)
{
	struct rec_pages h;
	const struct snap_vma *v;
	int rc = pages_decode(&r->snap, p, len, &h, &v);

	if (!rc)
		rc = lazy_put(&r->lz, &h, p + sizeof(h));
	if (rc == 1) {
		r->pages += h.npages;
		return 0;
	}
	if (rc == 0 && r->started)
		return err_msg(EBADMSG, "pages record: 0x%llx after the lazy mark is not in a private anonymous mapping",
			       (unsigned long long)h.addr);
	return rc ? rc : pages_put(r->pl.pid, &r->snap, p, len, &r->pages);
}

/* REC_LAZY: the state is complete; the process starts, and the pages
 * that follow fill in while it runs. */
static int lazy_mark(struct restore *r, struct kind_restore *kr, const unsigned char *p, size_t len)
{
	struct rec_lazy l;
	int rc;

	if (len != sizeof(l) || r->started)
		return err_msg(EBADMSG, "lazy record: malformed or repeated");
	memcpy(&l, p, sizeof(l));
	/* Without a userfaultfd, or when the header did not announce it
	 * (huge-page mappings were then not registered): a restore as from
	 * any stream. */
	if (!r->lz.on || !r->lazy_stream)
		return 0;
	r->lz.missing = l.pages;
	r->lz.starting = 1;
	rc = lazy_serve(&r->lz);
	if (!rc)
		rc = start_process(r, kr);
	r->lz.starting = 0;
	if (rc && r->lz.early_fault)
		rc = err_msg(EFAULT, "lazy restore: restoring the process touched its page at 0x%llx, which comes only after the lazy record (%s)",
			     (unsigned long long)r->lz.early_fault, err_last());
	if (!rc && r->verbose)
		fprintf(stderr, "pthaw: process %d running (%s; lazy: %llu pages to come)\n", r->pl.pid,
			r->remapped ? "PID remapped" : r->ns ? "its PID in a PID namespace of its own" : "same PID",
			(unsigned long long)l.pages);
	return rc;
}

/* Pages as they arrive (a later pass over the same address wins), and the
 * task state that may follow them (KIND_LATE), up to the end record, or
 * in a tree (pp given: its reader goes on for the next process) up to
 * the next process's begin record, left in *type, *p, *len.  top takes
 * the records (restore_take: the tree's), proc is the process built. */
static int stream_pages(struct restore *top, struct restore *proc, struct kind_restore *kr,
			struct page_pipe **pp, uint32_t *type, const unsigned char **p, size_t *len)
{
	struct page_pipe *own = NULL, **ppp = pp ? pp : &own;
	int rc = 0, ended = 0;

	/* The first record came with the metadata, in the reader's buffer. */
	for (;;) {
		if (*type == REC_END) {
			ended = 1;
		} else if (*type == REC_PSTREE_BEGIN && pp) {
			ended = 2;
			break;
		} else if (*type == REC_PAGES) {
			proc->paged = 1;
			rc = put_pages(proc, *p, *len);
			if (rc)
				break;
		} else if (*type == REC_LAZY) {
			rc = lazy_mark(proc, kr, *p, *len);
			if (rc)
				break;
		} else if (proc->started) {
			rc = err_msg(EBADMSG, "%s record after the lazy mark: only pages may follow it",
				     rec_type_name(*type));
			break;
		} else if (*type == REC_FILEDATA) {
			proc->paged = 1;
			rc = shmem_data_put(&proc->pl, &proc->snap, *p, *len);
			if (rc)
				break;
		} else if ((rc = restore_take(top, *type, *p, *len, 1)) < 0) {
			break;
		}
		if (top->progress)
			top->progress(top->progress_arg, top->rd->bytes);
		/* It runs meanwhile: its signals and trapped calls are
		 * not left waiting for the last page. */
		if (proc->started)
			supervise_poll(proc->pl.pid, (pid_t)proc->old_pid);
		if (!*ppp && (rc = page_pipe_start(ppp, top->rd)))
			break;
		/* After the end record, this read confirms the layers' own end
		 * (authentication, frames) and returns 0. */
		rc = page_pipe_next(*ppp, type, p, len);
		if (rc <= 0)
			break;
	}
	if (own)
		page_pipe_stop(own);
	if (rc == 0 && !ended)
		rc = err_msg(EBADMSG, "stream ended early");
	if (rc == 0 && ended == 1)
		*type = REC_END;
	return rc < 0 ? rc : 0;
}

/* The last steps, under ptrace: the kinds of the last stage (rseq,
 * seccomp filters) by injection, pload unmapped, and at that call's exit
 * the kinds of the registers stage.  The filters go in here, with pload
 * parked, so that of pload's own calls only the munmap runs under them
 * (not its pipe reads and writes, nor the close and pause of the park);
 * with CAP_SYS_ADMIN pthaw even suspends them for it
 * (PTRACE_O_SUSPEND_SECCOMP, dropped again before the process runs).  The
 * filters may still forbid the seccomp() that installs the next one, as
 * they did the process's own. */
static int hand_over(struct restore *r, struct kind_restore *kr)
{
	const struct snap *s = &r->snap;
	struct user_regs_struct base;
	long a[6] = { (long)PLOAD_BASE, (long)PLOAD_SPAN, 0, 0, 0, 0 };
	long ret, opts;
	int rc;

	rc = pload_park(&r->pl);
	if (!rc)
		rc = ptrace_seize_stop(r->pl.pid);
	if (rc)
		return rc;
	opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL |
	       (r->remapped ? PTRACE_O_TRACESECCOMP | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
				PTRACE_O_TRACECLONE : 0);
	if (ptrace(PTRACE_SETOPTIONS, r->pl.pid, 0, opts | PTRACE_O_SUSPEND_SECCOMP) < 0)
		ptrace(PTRACE_SETOPTIONS, r->pl.pid, 0, opts);
	if (ptrace(PTRACE_GETREGS, r->pl.pid, 0, &base) < 0)
		return err_sys(errno, "ptrace getregs");
	/* The other threads, parked in pload since the files stage, are
	 * held the same way, with the same options: a remapped process's
	 * threads stop at the same filter and die with pthaw too. */
	rc = pload_threads_seize(&r->pl, opts);
	if (rc)
		return rc;
	r->pl.parked = 1;
	r->pl.parked_regs = base;
	rc = kinds_restore(kr, s->kind, KIND_STAGE_LAST);
	if (rc)
		return rc;
	rc = inject_syscall(r->pl.pid, r->pl.hello.gadget, &base, SYS_munmap, a, &ret);
	if (!rc && ret < 0)
		rc = err_sys((int)-ret, "unmapping the loader%s",
			     s->kind[KIND_SECCOMP] ? " (the process's seccomp filters may forbid munmap)" : "");
	if (!rc && ptrace(PTRACE_SETOPTIONS, r->pl.pid, 0, opts) < 0)
		rc = err_sys(errno, "ptrace setoptions");
	/* From here the process has no code of pload's left. */
	if (!rc)
		rc = kinds_restore(kr, s->kind, KIND_STAGE_REGS);
	if (rc)
		return rc;
	/* Held for a -halt hand-over: it stays in this ptrace stop, which
	 * only pthaw can end, and PTRACE_O_EXITKILL kills it if pthaw dies
	 * before pfrez committed. */
	if (r->hold || r->tree.n)
		return 0;
	return restore_release(r);
}

static int release_one(struct restore *r, int stopped)
{
	/* A remapped process stays traced: pthaw answers its PID calls.
	 * So does one started before its pages all arrived, until they
	 * did (PTRACE_O_EXITKILL: without pthaw it would read zeros where
	 * its pages were to come).  Its threads go first, all from the
	 * same ptrace stop as the main one, which has set their registers
	 * already. */
	int cont = r->remapped || r->started;
	int rc;

	if (r->started && r->hold)
		return 0;	/* it runs already: the hand-over commits it */
	if (r->started) {
		/* From here its faults are its own (lazy.h). */
		pthread_mutex_lock(&r->lz.mu);
		r->lz.starting = 0;
		pthread_mutex_unlock(&r->lz.mu);
	}
	rc = pload_threads_release(&r->pl, cont);
	if (!rc && ptrace(cont ? PTRACE_CONT : PTRACE_DETACH, r->pl.pid, 0, 0) < 0)
		rc = err_sys(errno, "starting the restored process (ptrace)");
	for (int i = 0; !rc && stopped && i < 2000; i++) {
		struct proc_stat st;

		if (proc_stat_read(r->pl.pid, &st) || st.state == 'T') {
			err_clear();
			break;
		}
		usleep(1000);
	}
	return rc;
}

/* A tree: every process goes on at once, those that were stopped in a
 * group stop again (the SIGSTOP, queued while each thread is still in
 * its ptrace stop, is taken when they are let go). */
int restore_release(struct restore *r)
{
	int rc = 0;

	for (size_t i = 0; i < r->tree.n; i++) {
		struct restore *p = i ? r->sub[i] : r;

		if (p && r->tree.procs[i].state == PSTREE_STOPPED)
			kill(p->pl.pid, SIGSTOP);
	}
	/* The stopped first, each seen stopped before the others run. */
	for (size_t i = 1; i < r->tree.n && !rc; i++)
		if (r->sub[i] && r->tree.procs[i].state == PSTREE_STOPPED)
			rc = release_one(r->sub[i], 1);
	for (size_t i = 1; i < r->tree.n && !rc; i++)
		if (r->sub[i] && r->tree.procs[i].state == PSTREE_LIVE)
			rc = release_one(r->sub[i], 0);
	if (!rc)
		rc = release_one(r, 0);
	if (rc)
		restore_discard(r);
	return rc;
}

void restore_discard(struct restore *r)
{
	for (size_t i = 1; i < r->tree.n; i++)
		if (r->sub[i])
			pload_kill(&r->sub[i]->pl);
	pload_kill(&r->pl);
}

/* pload inherits pthaw's RLIMIT_NOFILE, and its control pipes go just
 * above the highest fd of the snapshot (pload_ctl.c), so that limit must
 * let top (the highest number pload uses) exist: raise the soft limit up
 * to the hard one, and as root the hard one too (the kernel caps it at
 * fs.nr_open).  The process's own limits come back after its fds. */
static int fit_fds(int max, int top)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)top + 1;
	unsigned long long nr_open = 0;
	FILE *f;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return err_sys(errno, "getrlimit RLIMIT_NOFILE");
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		struct rlimit up = { need, rl.rlim_max };

		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
			up.rlim_max = need;
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			return 0;
		f = fopen("/proc/sys/fs/nr_open", "r");
		if (f && fscanf(f, "%llu", &nr_open) != 1)
			nr_open = 0;
		if (f)
			fclose(f);
		if (nr_open && need > nr_open)
			return err_msg(EMFILE, "fd %d is above fs.nr_open %llu of this host (with the %d pthaw needs above it)",
				       max, nr_open, top - max);
		if (max >= (int)rl.rlim_max)
			return err_msg(EMFILE, "fd %d is above the hard limit RLIMIT_NOFILE %llu of pthaw",
				       max, (unsigned long long)rl.rlim_max);
		return err_msg(EMFILE, "fd %d leaves no room under the hard limit RLIMIT_NOFILE %llu of pthaw for the %d it needs above it",
			       max, (unsigned long long)rl.rlim_max, top - max);
	}
	return 0;
}

static int max_fd(const struct snap *s)
{
	int m = 2;

	for (size_t i = 0; i < s->nfds; i++)
		if (s->fds[i].fd > m)
			m = s->fds[i].fd;
	return m;
}

/* The process whose fd table entry i's is: itself, or the first of its
 * ancestors that does not share its parent's (PSTREE_FILES_SHARED). */
static int files_owner(const struct pstree *t, int i)
{
	while (i > 0 && (t->procs[i].flags & PSTREE_FILES_SHARED))
		i = pstree_find(t, t->procs[i].ppid);
	return i;
}

/* One process, its pload made: the address space, its pages as they
 * stream in, then the kinds stage by stage up to its registers.  top
 * takes the records; pp, in a tree, reads on to the next process. */
static int restore_proc(struct restore *top, struct restore *r, struct kind_restore *kr,
			struct page_pipe **pp, uint32_t *type, const unsigned char **p, size_t *len)
{
	int rc = r->remapped ? install_filter(r) : 0;

	if (!rc)
		rc = kinds_restore(kr, r->snap.kind, KIND_STAGE_SPACE);
	/* Lazily, a process alone: a tree's processes are all held until
	 * the end record (pfrez refuses -lazy for one). */
	if (!rc && !top->tree.n)
		rc = lazy_open(&r->lz, &r->pl, &r->snap, r->lazy_stream);
	r->lz.ask = r->ask;
	r->lz.ask_arg = r->ask_arg;
	if (!rc)
		rc = stream_pages(top, r, kr, pp, type, p, len);
	lazy_close(&r->lz);
	if (!rc && r->started && !r->remapped) {
		pid_t tids[1 + r->pl.nthreads];

		tids[0] = r->pl.pid;
		for (size_t i = 0; i < r->pl.nthreads; i++)
			tids[1 + i] = r->pl.threads[i].tid;
		lazy_let_go(tids, 1 + r->pl.nthreads);
	}
	if (!rc && !r->started)
		rc = start_process(r, kr);
	return rc;
}

/* The state after the pages: the kinds stage by stage, the hand-over of
 * the registers; the process then runs (or is held, r->hold). */
static int start_process(struct restore *r, struct kind_restore *kr)
{
	/* Records that came after the pages complete the snapshot. */
	int rc = snap_check(&r->snap, 1);

	if (!rc)
		rc = kinds_restore(kr, r->snap.kind, KIND_STAGE_MM);
	if (!rc)
		rc = kinds_restore(kr, r->snap.kind, KIND_STAGE_FILES);
	/* pload's own: pthaw's death must not signal the process (prctl.c
	 * gives it its own parent-death signal). */
	if (!rc)
		rc = PCALL(r, SYS_prctl, PR_SET_PDEATHSIG, 0, 0, 0, 0, 0) < 0 ? -EPIPE : 0;
	if (!rc)
		rc = kinds_restore(kr, r->snap.kind, KIND_STAGE_TASK);
	/* What the credentials stage does, each thread must do too
	 * (thread.c makes the calls again in each, at the last stage). */
	r->pl.logging = 1;
	if (!rc)
		rc = kinds_restore(kr, r->snap.kind, KIND_STAGE_CREDS);
	r->pl.logging = 0;
	/* Threads whose tids were taken: pthaw answers for them. */
	for (size_t i = 0; !rc && i < r->pl.nthreads; i++)
		if (r->pl.threads[i].tid != r->pl.threads[i].old &&
		    supervise_map_tid(r->pl.threads[i].tid, r->pl.threads[i].old))
			rc = err_sys(ENOMEM, "tid map");
	if (!rc && r->lz.on && !r->started) {
		/* Started now, before the rest of its pages. */
		r->started = 1;
		if (r->hold) {
			int hold = r->hold;

			r->hold = 0;
			rc = hand_over(r, kr);
			r->hold = hold;
			return rc;
		}
	}
	if (!rc)
		rc = hand_over(r, kr);
	return rc;
}

static struct pload *tree_pload(struct restore *r, uint32_t pid)
{
	int i = pstree_find(&r->tree, pid);

	return i <= 0 ? &r->pl : &r->sub[i]->pl;
}

/*
 * The tree's processes, before any is restored: each pload made by its
 * parent's with its PID (PLOAD_OP_FORK), parents first, so that every
 * link is the kernel's own.  A session leader makes its session right
 * away and a group leader its group, so that its children inherit them;
 * joining a group led by another comes once all are made; zombies then
 * end with their status, and their parents forget the SIGCHLD it sent
 * (pload blocks every signal; the process's own pending signals come
 * with it).
 */
static int build_tree(struct restore *r, struct kind_restore *kr)
{
	const struct pstree *t = &r->tree;
	int rc = task_lead(kr);

	for (size_t i = 1; i < t->n && !rc; i++) {
		const struct rec_pstree_proc *e = &t->procs[i];
		enum pstree_place place = pstree_place(t, i);
		long ret = 0;

		if (!r->sub[i] && !(r->sub[i] = sub_new(r)))
			return err_sys(ENOMEM, "process tree");
		/* Its parent's fd table, shared: its pload's pipes go above
		 * the root's (every pload's until restore_next moves them),
		 * and above the root's fds.  Its parent's working directory
		 * and umask, shared: both processes restore them, the same. */
		if (e->flags)
			rc = pload_fork_sharing(tree_pload(r, e->ppid), &r->sub[i]->pl, (pid_t)e->pid,
						e->flags & PSTREE_FILES_SHARED ? r->fd_base : 0,
						(e->flags & PSTREE_FS_SHARED) != 0);
		else
			rc = pload_fork(tree_pload(r, e->ppid), &r->sub[i]->pl, (pid_t)e->pid);
		if (rc == -EEXIST)
			rc = err_msg(EBUSY, "PID %u of the tree is in use here, and a tree is restored with its PIDs%s",
				     e->pid, r->ns ? "" : " (-remap=ns restores it in a PID namespace of its own)");
		if (rc)
			break;
		if (place == PSTREE_SETSID)
			ret = pload_call(&r->sub[i]->pl, SYS_setsid, 0, 0, 0, 0, 0, 0, NULL, 0);
		else if (place == PSTREE_LEAD)
			ret = pload_call(&r->sub[i]->pl, SYS_setpgid, 0, 0, 0, 0, 0, 0, NULL, 0);
		if (ret < 0)
			rc = err_sys((int)-ret, "process %u: making its %s", e->pid,
				     place == PSTREE_SETSID ? "session" : "process group");
	}
	for (size_t i = 1; i < t->n && !rc; i++) {
		long ret;

		if (pstree_place(t, i) != PSTREE_JOIN)
			continue;
		ret = pload_call(&r->sub[i]->pl, SYS_setpgid, 0, t->procs[i].pgid, 0, 0, 0, 0, NULL, 0);
		if (ret < 0)
			rc = err_sys((int)-ret, "process %u: joining process group %u", t->procs[i].pid,
				     t->procs[i].pgid);
	}
	for (size_t i = 1; i < t->n && !rc; i++)
		if (t->procs[i].state == PSTREE_ZOMBIE)
			rc = pload_exit(&r->sub[i]->pl, t->procs[i].status, t->procs[i].comm);
	for (size_t i = 1; i < t->n && !rc; i++) {
		struct { uint64_t set; int64_t ts[2]; } w = { 1ull << (SIGCHLD - 1), { 0, 0 } };
		struct pload *pl = tree_pload(r, t->procs[i].ppid);

		if (t->procs[i].state == PSTREE_ZOMBIE)
			pload_call(pl, SYS_rt_sigtimedwait, (long)pl->hello.scratch, 0,
				   (long)pl->hello.scratch + 8, 8, 0, 0, &w, sizeof(w));
	}
	return rc;
}

/* The next process of a tree: its begin record is in *type: its records
 * up to its pages, checked as the root's were, then restored. */
static int restore_next(struct restore *r, struct page_pipe **pp, uint32_t *type,
			const unsigned char **p, size_t *len)
{
	struct restore *sub;
	struct kind_restore kr;
	int rc = restore_take(r, *type, *p, *len, 0);

	sub = r->cur;
	while (!rc) {
		rc = page_pipe_next(*pp, type, p, len);
		if (rc == 0)
			rc = err_msg(EBADMSG, "stream ended early");
		if (rc < 0)
			break;
		rc = 0;
		if (*type == REC_PAGES || *type == REC_FILEDATA || *type == REC_END ||
		    *type == REC_PSTREE_BEGIN)
			break;
		rc = restore_take(r, *type, *p, *len, 0);
	}
	if (!rc)
		rc = snap_check(&sub->snap, *type == REC_END || *type == REC_PSTREE_BEGIN);
	if (!rc)
		rc = check_here(sub, NULL);
	if (rc)
		return rc;
	/* Its threads get their tids back, or the tree is refused: no
	 * process of a tree is remapped. */
	for (size_t i = 1; i < sub->snap.nthreads; i++)
		if (r->ns == PLOAD_NS_NONE &&
		    (kill((pid_t)sub->snap.threads[i].r.tid, 0) == 0 || errno == EPERM))
			return err_msg(EBUSY, "process %u: the tid %u of a thread is in use here, and a tree is restored with its tids%s",
				       sub->snap.proc.pid, sub->snap.threads[i].r.tid,
				       r->ns ? "" : " (-remap=ns restores it in a PID namespace of its own)");
	/* Its pipes above its own fds: the fd table of its parent's was the
	 * measure when it was made.  So are those of the processes that
	 * share its fd table (made after it, restored after it, their
	 * pipes from fd_base up): its fds would replace them. */
	if (max_fd(&sub->snap) >= r->fd_base) {
		/* Above its pipes too (at fd_base and the next). */
		int base = max_fd(&sub->snap) + 1 > r->fd_base + 2 ? max_fd(&sub->snap) + 1 : r->fd_base + 2;
		int n = 1;

		for (size_t j = r->cur_idx + 1; j < r->tree.n; j++)
			n += r->sub[j] && files_owner(&r->tree, (int)j) == r->cur_idx;
		rc = fit_fds(base - 1, base + 2 * n);
		if (!rc)
			rc = pload_move(&sub->pl, base);
		for (size_t j = r->cur_idx + 1; !rc && j < r->tree.n; j++)
			if (r->sub[j] && r->tree.procs[j].state != PSTREE_ZOMBIE &&
			    files_owner(&r->tree, (int)j) == r->cur_idx)
				rc = pload_move(&r->sub[j]->pl, base);
		if (rc)
			return rc;
	}
	sub->old_pid = sub->snap.proc.pid;
	sub->added_write = calloc(sub->snap.nvmas ? sub->snap.nvmas : 1, 1);
	if (!sub->added_write)
		return err_sys(ENOMEM, "vma list");
	kr = (struct kind_restore){ .pl = &sub->pl, .pid = sub->pl.pid, .self_pid = sub->pl.self,
				    .old_pid = sub->old_pid, .detach = r->detach,
				    .same_host = r->same_host, .snap = &sub->snap,
				    .take_sockets = r->take_sockets, .tree = 1,
				    .files_shared = (r->tree.procs[r->cur_idx].flags & PSTREE_FILES_SHARED) != 0,
				    .added_write = sub->added_write };
	rc = tshare_restore_add(sub->old_pid, sub->pl.self, &sub->snap);
	return rc ? rc : restore_proc(r, sub, &kr, pp, type, p, len);
}

pid_t restore_run(struct restore *r, uint32_t type, const unsigned char *p, size_t len)
{
	struct pload_spawn_opts o = {
		.path = r->loader,
		.exec_fd = r->loader_fd,
		.want_pid = r->remap == REMAP_ALWAYS ? 0 : (pid_t)r->snap.proc.pid,
		.first_free_fd = max_fd(&r->snap) + 1,
		.stdin_is_stream = r->stdin_is_stream && files_has_fd(&r->snap, 0),
		.ns = r->ns,
	};
	struct page_pipe *pp = NULL;
	struct kind_restore kr;
	int rc;

	r->old_pid = r->snap.proc.pid;
	r->fd_base = o.first_free_fd;
	r->added_write = calloc(r->snap.nvmas ? r->snap.nvmas : 1, 1);
	if (!r->added_write)
		return err_sys(ENOMEM, "vma list");
	/* pload_ctl.c's child dups its pipes from first_free_fd + 2 up. */
	rc = fit_fds(o.first_free_fd - 1, o.first_free_fd + 3);
	if (!rc)
		rc = pload_spawn(&r->pl, &o);
	if (rc)
		return rc;
	r->remapped = !r->pl.got_pid;
	/* A thread whose tid is taken here is remapped as the PID is: the
	 * filter must be in before pload makes the threads (they inherit
	 * it).  One taken meanwhile is refused by name (thread.c). */
	for (size_t i = 1; i < r->snap.nthreads && !r->remapped; i++)
		if (kill((pid_t)r->snap.threads[i].r.tid, 0) == 0 || errno == EPERM)
			r->remapped = 2;
	/* The seccomp remapping answers for one process's PIDs: a tree
	 * keeps its own, here or in a PID namespace of its own, where
	 * -remap=auto takes it when its root's PID is taken here (a clone
	 * beside the original, or -halt over a pipe, whose original ends
	 * only once the stream is written). */
	if (r->remapped && r->tree.n && r->remap == REMAP_AUTO && r->ns == PLOAD_NS_NONE &&
	    pidns_privileged()) {
		pload_kill(&r->pl);
		r->ns = o.ns = PLOAD_NS_PID;
		rc = pload_spawn(&r->pl, &o);
		if (rc)
			return rc;
		r->remapped = !r->pl.got_pid;
	}
	if (r->remapped && r->tree.n) {
		pload_kill(&r->pl);
		return err_msg(EBUSY, "%s %u is in use here, and a process tree is restored with its PIDs: restore it with -remap=ns (a PID namespace of its own)%s",
			       r->remapped == 2 ? "a thread's tid of process" : "PID", r->old_pid,
			       r->remap == REMAP_AUTO ? "" : ", not -remap=always or never");
	}
	kr = (struct kind_restore){ .pl = &r->pl, .pid = r->pl.pid, .self_pid = r->pl.self,
				    .old_pid = r->old_pid,
				    .detach = r->detach, .same_host = r->same_host, .snap = &r->snap,
				    .take_sockets = r->take_sockets, .tree = r->tree.n > 0,
				    .added_write = r->added_write, .remapped = r->remapped };
	if (r->remapped && (r->remap == REMAP_NEVER || r->detach)) {
		pload_kill(&r->pl);
		if (r->remapped == 2)
			return err_msg(EBUSY, "a thread's tid is in use, so the restored thread cannot keep it%s",
				       r->detach ? " without pthaw (drop -detach)" : " (-remap=never)");
		return err_msg(EBUSY, "PID %u is in use, so the restored process cannot keep it%s",
			       r->old_pid, r->detach ? " without pthaw (drop -detach)" : " (-remap=never)");
	}
	rc = r->tree.n ? build_tree(r, &kr) : 0;
	/* What its processes share, the later ones take from the earlier
	 * (treeshare.h). */
	if (!rc && r->tree.n)
		rc = tshare_restore_add(r->old_pid, r->pl.self, &r->snap);
	if (!rc)
		rc = restore_proc(r, r, &kr, r->tree.n ? &pp : NULL, &type, &p, &len);
	while (!rc && r->tree.n && type == REC_PSTREE_BEGIN)
		rc = restore_next(r, &pp, &type, &p, &len);
	if (r->tree.n && fd_unix_tree_end(!rc) && !rc)
		rc = -EBADMSG;
	tshare_restore_end();
	if (pp)
		page_pipe_stop(pp);
	if (!rc)
		rc = restore_tree_done(r);
	/* All held, all let go together. */
	if (!rc && r->tree.n && !r->hold)
		rc = restore_release(r);
	if (rc) {
		restore_discard(r);
		return rc;
	}
	return r->pl.pid;
}

/* pthaw -check: what restore_run would need from this host, every problem
 * on its own line. */
int restore_check(struct restore *r, FILE *out)
{
	return check_here(r, out);
}

void restore_free(struct restore *r)
{
	lazy_close(&r->lz);
	for (size_t i = 1; r->sub && i < r->tree.n; i++) {
		if (!r->sub[i])
			continue;
		restore_free(r->sub[i]);
		free(r->sub[i]);
	}
	free(r->sub);
	r->sub = NULL;
	pstree_free(&r->tree);
	pload_free(&r->pl);
	free(r->added_write);
	snap_free(&r->snap);
}
