/* fd_tree.c: an open file description inherited across fork by several
 * processes of a tree (`prog > log 2>&1` and a child writing to the same
 * log: one offset).  The first process of the tree that has it (parents
 * come first) describes it as any of its files; in every later one its
 * file is FD_TREE with a treefile record naming that process and its
 * file, and pthaw takes the very description from that process with
 * pidfd_getfd(2): its offset, flags, queued bytes or socket state are
 * restored once, where they were described (treeshare.h). */
#include "err.h"
#include "fdkind.h"
#include "json.h"
#include "kind.h"
#include "snap.h"
#include "treeshare.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct treefiles {
	size_t n;
	struct rec_treefile t[];
};

/* Tried before every other fd kind: whatever it is, the earlier
 * process's record of it stands. */
static int tree_claim(const struct fd_info *d, struct rec_file *r)
{
	uint32_t owner, file;

	(void)r;
	return tshare_file_owner(d->pid, d->fd, d->sb, &owner, &file);
}

static int tree_capture(struct kind_capture *c, void **data)
{
	const struct snap *s = c->snap;
	struct treefiles *ts;
	size_t n = 0;
	int rc = tshare_refuse_shared(c->pid);

	if (rc)
		return rc;
	for (size_t i = 0; i < s->nfiles; i++)
		n += s->files[i].r.kind == FD_TREE;
	if (!n)
		return 0;
	if (!(ts = calloc(1, sizeof(*ts) + n * sizeof(ts->t[0]))))
		return err_sys(ENOMEM, "tree files");
	for (size_t i = 0; i < s->nfiles; i++) {
		uint32_t owner, file;

		if (s->files[i].r.kind != FD_TREE)
			continue;
		if (!tshare_claimed(c->pid, s->files[i].first_fd, &owner, &file)) {
			free(ts);
			return err_msg(EIO, "process %d: fd %d: which process of the tree it was taken from is lost",
				       c->pid, s->files[i].first_fd);
		}
		ts->t[ts->n++] = (struct rec_treefile){ .file = (uint32_t)i, .owner_pid = owner,
							.owner_file = file };
	}
	*data = ts;
	return 0;
}

static int tree_write(const void *data, struct rec_writer *w)
{
	const struct treefiles *ts = data;
	int rc = 0;

	for (size_t i = 0; !rc && i < ts->n; i++)
		rc = rec_write(w, REC_TREEFILE, &ts->t[i], sizeof(ts->t[i]), NULL, 0);
	return rc;
}

static int tree_take(void **data, const unsigned char *p, size_t len)
{
	struct treefiles *ts = *data;
	struct rec_treefile t;
	size_t n = ts ? ts->n : 0;

	if (len != sizeof(t))
		return err_msg(EBADMSG, "treefile record: %zu bytes, not %zu", len, sizeof(t));
	memcpy(&t, p, sizeof(t));
	if (t.pad || !t.owner_pid || t.owner_file >= SNAP_FD_MAX)
		return err_msg(EBADMSG, "treefile record: malformed");
	if (n >= SNAP_FD_MAX)
		return err_msg(EBADMSG, "treefile record: too many");
	ts = realloc(ts, sizeof(*ts) + (n + 1) * sizeof(t));
	if (!ts)
		return err_sys(ENOMEM, "tree files");
	*data = ts;
	ts->n = n + 1;
	ts->t[n] = t;
	return 0;
}

/* Each names a file of kind FD_TREE once, and a process other than this
 * one (pthaw checks, as it restores, that it is an earlier one). */
static int tree_verify(const struct snap *s, const void *data)
{
	const struct treefiles *ts = data;
	size_t n = 0;

	for (size_t i = 0; i < ts->n; i++) {
		if (ts->t[i].file >= s->nfiles || s->files[ts->t[i].file].r.kind != FD_TREE)
			return err_msg(EBADMSG, "treefile record: file %u is not a tree file", ts->t[i].file);
		if (ts->t[i].owner_pid == s->proc.pid)
			return err_msg(EBADMSG, "treefile record: file %u: taken from its own process",
				       ts->t[i].file);
		for (size_t j = 0; j < i; j++)
			if (ts->t[j].file == ts->t[i].file)
				return err_msg(EBADMSG, "treefile record: file %u twice", ts->t[i].file);
	}
	for (size_t i = 0; i < s->nfiles; i++)
		n += s->files[i].r.kind == FD_TREE;
	if (n != ts->n)
		return err_msg(EBADMSG, "treefile records: %zu for %zu tree files", ts->n, n);
	return 0;
}

static const struct rec_treefile *treefile_of(const struct snap *s, uint32_t id)
{
	const struct treefiles *ts = kind_get(KIND_TREEFILE) ? s->kind[KIND_TREEFILE] : NULL;

	for (size_t i = 0; ts && i < ts->n; i++)
		if (ts->t[i].file == id)
			return &ts->t[i];
	return NULL;
}

static int tree_file_verify(const struct snap *s, const struct snap_file *f)
{
	return treefile_of(s, f->r.id) ? 0 :
	       err_msg(EBADMSG, "file %u (fd %d): a tree file without its treefile record", f->r.id,
		       f->first_fd);
}

/* The owner was made before this process (the tree's order): its fd
 * for that file is where files.c put it. */
static long tree_open(struct kind_restore *r, const struct snap *s, const struct snap_file *f)
{
	const struct rec_treefile *t = treefile_of(s, f->r.id);
	const struct snap *o;
	char what[48];
	pid_t seen;

	snprintf(what, sizeof(what), "fd %d", f->first_fd);
	if (!t)
		return err_msg(EBADMSG, "%s: a tree file without its treefile record", what);
	o = tshare_restored(t->owner_pid, &seen);
	if (!o || o == s)
		return err_msg(EBADMSG, "%s: shared with process %u, which is not made before it in the tree",
			       what, t->owner_pid);
	if (t->owner_file >= o->nfiles || o->files[t->owner_file].r.kind == FD_TREE ||
	    o->files[t->owner_file].first_fd < 0)
		return err_msg(EBADMSG, "%s: shared with file %u of process %u, which it does not have", what,
			       t->owner_file, t->owner_pid);
	return tshare_take_fd(r, seen, o->files[t->owner_file].first_fd, what);
}

static void tree_print(FILE *out, const void *data)
{
	const struct treefiles *ts = data;

	for (size_t i = 0; i < ts->n; i++)
		fprintf(out, "file %u: the open file %u of process %u of the tree (inherited)\n", ts->t[i].file,
			ts->t[i].owner_file, ts->t[i].owner_pid);
}

static void tree_print_json(struct json *j, const void *data)
{
	const struct treefiles *ts = data;

	json_array_begin(j, "treefiles");
	for (size_t i = 0; i < ts->n; i++) {
		json_object_begin(j, NULL);
		json_uint(j, "file", ts->t[i].file);
		json_uint(j, "owner_pid", ts->t[i].owner_pid);
		json_uint(j, "owner_file", ts->t[i].owner_file);
		json_object_end(j);
	}
	json_array_end(j);
}

const struct fd_kind_ops fd_kind_tree = {
	.kind = FD_TREE,
	.name = "tree",
	.claim = tree_claim,
	.verify = tree_file_verify,
	.open = tree_open,
};

const struct kind_ops kind_treefile = {
	.name = "treefile",
	.type = REC_TREEFILE,
	.flags = KIND_MANY,
	.capture = tree_capture,
	.write = tree_write,
	.take = tree_take,
	.verify = tree_verify,
	.print = tree_print,
	.print_json = tree_print_json,
};
