/* pstree.c: process trees: which processes a snapshot holds and where
 * each stands (parent, process group, session, state), in both directions.
 *
 * The model.  pfrez -pid=N holds N and all its descendants (pfrez/capture.c:
 * struct capture for N, c->sub[i] an allocated struct capture per other
 * live process in the table's order, each a whole single-process capture
 * as before, c->ptree the table below); every thread of every process is
 * seized and interrupted, the children lists read again until nothing new
 * appears, before any state is read.  The stream of a tree is
 *
 *	REC_PSTREE		the table: every process, the root first, each
 *				after its parent (struct rec_pstree_proc:
 *				pid, ppid, pgid, sid, state, a zombie's status)
 *	REC_PSTREE_BEGIN root	then the root's records, exactly those of a
 *	...			single-process stream, pages included
 *	REC_PSTREE_BEGIN pid	the next live process's, in the table's order
 *	...
 *	REC_END			once, for the whole stream
 *
 * A zombie is only its table entry.  A stream without REC_PSTREE is one
 * process, as before.  pthaw (pthaw/restore.c) keeps one struct restore
 * per process (r itself for the root, r->sub[i] for entry i, zombies'
 * included while they are made), each with its own snap and its own
 * pload; it makes the whole tree first, from the table (root pload
 * spawned, each other pload forked by its parent's with its PID:
 * PLOAD_OP_FORK; sessions and groups by pstree_place(); zombies exit with
 * their status: PLOAD_OP_EXIT), then restores each process as it streams
 * in (r->cur, restore_take), as a single process is, up to its registers,
 * held stopped; at the end all are let go together (restore_release),
 * the stopped ones stopped again.  A tree is never remapped: its PIDs are
 * its own, here or in a PID namespace of its own.
 *
 * A process made with CLONE_FILES (PSTREE_FILES_SHARED: it shares its
 * parent's fd table) has no fd table of its own in the stream: its
 * pload is made sharing its parent's pload's, which the parent's
 * records fill.  One made with CLONE_FS (PSTREE_FS_SHARED) is made
 * sharing its parent's working directory and umask, which both
 * restore, to the same.
 *
 * This is not a line of the table of kinds: the kinds are each process's;
 * the tree is the stream's. */
#include "pstree.h"
#include "err.h"
#include "json.h"
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int pstree_add(struct pstree *t, const struct rec_pstree_proc *p)
{
	if (t->n >= PSTREE_MAX)
		return err_msg(E2BIG, "more than %d processes in the tree", PSTREE_MAX);
	if (t->n == t->cap) {
		size_t c = t->cap ? t->cap * 2 : 16;
		struct rec_pstree_proc *n = realloc(t->procs, c * sizeof(*n));

		if (!n)
			return err_sys(ENOMEM, "process tree");
		t->procs = n;
		t->cap = c;
	}
	t->procs[t->n++] = *p;
	return 0;
}

int pstree_find(const struct pstree *t, uint32_t pid)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->procs[i].pid == pid)
			return (int)i;
	return -1;
}

size_t pstree_live(const struct pstree *t)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n; i++)
		n += t->procs[i].state != PSTREE_ZOMBIE;
	return n;
}

void pstree_free(struct pstree *t)
{
	free(t->procs);
	memset(t, 0, sizeof(*t));
}

static int add_pid(pid_t **v, size_t *n, size_t *cap, pid_t pid)
{
	for (size_t i = 0; i < *n; i++)
		if ((*v)[i] == pid)
			return 0;
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		pid_t *p = realloc(*v, c * sizeof(*p));

		if (!p)
			return err_sys(ENOMEM, "children list");
		*v = p;
		*cap = c;
	}
	(*v)[(*n)++] = pid;
	return 0;
}

/* A child is listed under the thread that made it (the kernel's
 * real_parent is a thread): every thread's list is read. */
int pstree_children(pid_t pid, pid_t **out, size_t *n)
{
	char path[64], buf[65536];
	size_t cap = 0, len;
	pid_t *tids;
	size_t ntids;
	int rc = proc_list_tids(pid, &tids, &ntids);

	*out = NULL;
	*n = 0;
	if (rc)
		return rc;
	for (size_t i = 0; i < ntids && !rc; i++) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, tids[i]);
		if (proc_read_file(path, buf, sizeof(buf) - 1, &len))
			continue;	/* the thread ended: its children moved */
		buf[len] = '\0';
		for (char *p = buf, *end; *p && !rc; p = end) {
			long v = strtol(p, &end, 10);

			if (end == p)
				break;
			if (v > 0)
				rc = add_pid(out, n, &cap, (pid_t)v);
		}
	}
	err_clear();
	free(tids);
	if (rc) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

/* Fields 4-6 (ppid, pgrp, session) and 52 (exit_code), after the comm's
 * last ')': proc_stat_parse stops at 51. */
int pstree_read(pid_t pid, struct rec_pstree_proc *p)
{
	char buf[4096];
	const char *s, *c;
	unsigned long long f[53] = { 0 };
	int i;
	int rc = proc_read_text(pid, "stat", buf, sizeof(buf));

	if (rc)
		return rc;
	s = strrchr(buf, ')');
	if (!s || s[1] != ' ' || !s[2])
		return err_msg(EINVAL, "process %d: stat: cannot parse", pid);
	memset(p, 0, sizeof(*p));
	p->pid = (uint32_t)pid;
	/* The name, between the first "(" and the last ")": a zombie's
	 * comes back with it (pload ends under it). */
	if ((c = strchr(buf, '(')) && c < s)
		memcpy(p->comm, c + 1, (size_t)(s - c - 1) < sizeof(p->comm) - 1 ?
		       (size_t)(s - c - 1) : sizeof(p->comm) - 1);
	p->state = s[2] == 'Z' ? PSTREE_ZOMBIE : s[2] == 'T' ? PSTREE_STOPPED : PSTREE_LIVE;
	s += 3;
	for (i = 4; i <= 52 && *s; i++) {
		char *end;

		f[i] = strtoull(s, &end, 10);
		if (end == s && *s == '-')
			f[i] = (unsigned long long)strtoll(s, &end, 10);
		if (end == s)
			break;
		s = end;
	}
	p->ppid = (uint32_t)f[4];
	p->pgid = (uint32_t)f[5];
	p->sid = (uint32_t)f[6];
	/* exit_code is there since Linux 3.5; a zombie without it exited 0. */
	p->status = p->state == PSTREE_ZOMBIE && i > 52 ? (uint32_t)f[52] : 0;
	return 0;
}

void pstree_read_comm(pid_t pid, struct rec_pstree_proc *p)
{
	char buf[64];

	memset(p->comm, 0, sizeof(p->comm));
	if (proc_read_text(pid, "comm", buf, sizeof(buf))) {
		err_clear();
		return;
	}
	buf[strcspn(buf, "\n")] = '\0';
	memcpy(p->comm, buf, strnlen(buf, sizeof(p->comm) - 1));
}

int pstree_left_out(pid_t root, pid_t pid)
{
	pid_t a = getpid();

	/* pfrez's ancestors, from pfrez up to (not including) root. */
	for (int depth = 0; a > 1 && a != root && depth < 4096; depth++) {
		struct proc_stat st;

		if (a == pid)
			return 1;
		if (proc_stat_read(a, &st)) {
			err_clear();
			return 0;
		}
		a = st.ppid;
	}
	return 0;
}

int pstree_write(const struct pstree *t, struct rec_writer *w)
{
	struct rec_pstree h = { .nprocs = (uint32_t)t->n };

	return rec_write(w, REC_PSTREE, &h, sizeof(h), t->procs, t->n * sizeof(*t->procs));
}

int pstree_write_begin(struct rec_writer *w, uint32_t pid)
{
	struct rec_pstree_begin b = { .pid = pid };

	return rec_write(w, REC_PSTREE_BEGIN, &b, sizeof(b), NULL, 0);
}

int pstree_take(struct pstree *t, const unsigned char *p, size_t len)
{
	struct rec_pstree h;

	if (t->n)
		return err_msg(EBADMSG, "pstree record: more than one");
	if (len < sizeof(h))
		return err_msg(EBADMSG, "pstree record: too short");
	memcpy(&h, p, sizeof(h));
	if (h.pad || h.nprocs < 2 || h.nprocs > PSTREE_MAX ||
	    len != sizeof(h) + (size_t)h.nprocs * sizeof(struct rec_pstree_proc))
		return err_msg(EBADMSG, "pstree record: malformed (%u processes in %zu bytes)", h.nprocs, len);
	for (uint32_t i = 0; i < h.nprocs; i++) {
		struct rec_pstree_proc e;
		int rc;

		memcpy(&e, p + sizeof(h) + i * sizeof(e), sizeof(e));
		rc = pstree_add(t, &e);
		if (rc)
			return rc;
	}
	return pstree_verify(t);
}

int pstree_take_begin(const unsigned char *p, size_t len, uint32_t *pid)
{
	struct rec_pstree_begin b;

	if (len != sizeof(b))
		return err_msg(EBADMSG, "pstree_begin record: %zu bytes, not %zu", len, sizeof(b));
	memcpy(&b, p, sizeof(b));
	if (!b.pid || b.pad)
		return err_msg(EBADMSG, "pstree_begin record: malformed");
	*pid = b.pid;
	return 0;
}

/* Whether pgid is led by a process of the tree in session sid. */
static int led_in_tree(const struct pstree *t, uint32_t pgid, uint32_t sid)
{
	int q = pstree_find(t, pgid);

	return q >= 0 && t->procs[q].pgid == pgid && t->procs[q].sid == sid;
}

enum pstree_place pstree_place(const struct pstree *t, size_t i)
{
	const struct rec_pstree_proc *p = &t->procs[i];
	int par = i ? pstree_find(t, p->ppid) : -1;

	if (!i)
		return PSTREE_INHERIT;	/* the root: as a single process (task.c) */
	if (p->sid == p->pid)
		return PSTREE_SETSID;
	if (p->pgid == p->pid)
		return PSTREE_LEAD;
	if (par >= 0 && t->procs[par].pgid == p->pgid && !led_in_tree(t, p->pgid, p->sid))
		return PSTREE_INHERIT;
	return PSTREE_JOIN;
}

int pstree_verify(const struct pstree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct rec_pstree_proc *p = &t->procs[i];
		int par = pstree_find(t, p->ppid);

		if (!p->pid || p->pad[0] || p->pad[1] || p->state > PSTREE_ZOMBIE ||
		    p->comm[sizeof(p->comm) - 1] ||
		    (p->state != PSTREE_ZOMBIE && p->status) ||
		    (p->flags & ~(PSTREE_FILES_SHARED | PSTREE_FS_SHARED)))
			return err_msg(EBADMSG, "pstree record: process %u: malformed", p->pid);
		/* A zombie has no fd table; the root's parent is not made. */
		if (p->flags && (!i || p->state == PSTREE_ZOMBIE))
			return err_msg(EBADMSG, "pstree record: process %u shares its parent's %s as %s", p->pid,
				       p->flags & PSTREE_FILES_SHARED ? "fd table" : "working directory",
				       i ? "a zombie" : "the root");
		if (pstree_find(t, p->pid) != (int)i)
			return err_msg(EBADMSG, "pstree record: process %u twice", p->pid);
		if (!i && (par >= 0 || p->state == PSTREE_ZOMBIE))
			return err_msg(EBADMSG, "pstree record: the root %u has its parent in the tree or is a zombie",
				       p->pid);
		if (!i)
			continue;
		if (par < 0 || par >= (int)i)
			return err_msg(EBADMSG, "pstree record: process %u comes before its parent %u or has none in the tree",
				       p->pid, p->ppid);
		if (t->procs[par].state == PSTREE_ZOMBIE)
			return err_msg(EBADMSG, "pstree record: process %u has a zombie parent %u", p->pid, p->ppid);
		/* A session is inherited, or made by its leader: one that is
		 * neither the process's own nor its parent's was left by a
		 * parent that made a new one after the fork. */
		if (p->sid != p->pid && p->sid != t->procs[par].sid)
			return err_msg(ENOTSUP, "process %u is in session %u, neither its own nor its parent's (%u): it cannot be made again",
				       p->pid, p->sid, t->procs[par].sid);
		if (p->pgid == p->pid || pstree_place(t, i) == PSTREE_INHERIT)
			continue;
		/* setpgid() joins a group of the same session whose leader
		 * is there: one of the tree's. */
		if (!led_in_tree(t, p->pgid, p->sid))
			return err_msg(ENOTSUP, "process %u is in process group %u, whose leader is not in the tree: the group cannot be made again",
				       p->pid, p->pgid);
	}
	return 0;
}

const char *pstree_state_name(unsigned state)
{
	switch (state) {
	case PSTREE_LIVE:
		return "live";
	case PSTREE_STOPPED:
		return "stopped";
	case PSTREE_ZOMBIE:
		return "zombie";
	}
	return "?";
}

static void print_status(FILE *f, uint32_t st)
{
	if (st & 0x7f)
		fprintf(f, ", killed by signal %u%s", st & 0x7f, st & 0x80 ? " (core dumped)" : "");
	else
		fprintf(f, ", exit status %u", (st >> 8) & 0xff);
}

void pstree_print(FILE *f, const struct pstree *t)
{
	if (!t->n)
		return;
	fprintf(f, "Process tree: %zu processes (%zu live)\n", t->n, pstree_live(t));
	for (size_t i = 0; i < t->n; i++) {
		const struct rec_pstree_proc *p = &t->procs[i];
		char comm[4 * sizeof(p->comm) + 1];
		int depth = 0;

		for (int a = pstree_find(t, p->ppid); a >= 0 && depth < 64; a = pstree_find(t, t->procs[a].ppid))
			depth++;
		err_escape(comm, sizeof(comm), p->comm, strnlen(p->comm, sizeof(p->comm)));
		fprintf(f, "  %*spid %u (%s), parent %u, process group %u, session %u, %s", 2 * depth, "",
			p->pid, comm, p->ppid, p->pgid, p->sid, pstree_state_name(p->state));
		if (p->state == PSTREE_ZOMBIE)
			print_status(f, p->status);
		if (p->flags & PSTREE_FILES_SHARED)
			fprintf(f, ", shares its parent's fd table (CLONE_FILES)");
		if (p->flags & PSTREE_FS_SHARED)
			fprintf(f, ", shares its parent's working directory and umask (CLONE_FS)");
		fprintf(f, "\n");
	}
}

void pstree_print_json(struct json *j, const struct pstree *t)
{
	json_array_begin(j, "tree");
	for (size_t i = 0; i < t->n; i++) {
		const struct rec_pstree_proc *p = &t->procs[i];

		json_object_begin(j, NULL);
		json_uint(j, "pid", p->pid);
		json_strn(j, "comm", p->comm, strnlen(p->comm, sizeof(p->comm)));
		json_uint(j, "ppid", p->ppid);
		json_uint(j, "pgid", p->pgid);
		json_uint(j, "sid", p->sid);
		json_str(j, "state", pstree_state_name(p->state));
		if (p->state == PSTREE_ZOMBIE)
			json_uint(j, "status", p->status);
		json_bool(j, "files_shared", (p->flags & PSTREE_FILES_SHARED) != 0);
		json_bool(j, "fs_shared", (p->flags & PSTREE_FS_SHARED) != 0);
		json_object_end(j);
	}
	json_array_end(j);
}
