/* kind.c: the table of kinds and the loops pfrez and pthaw run over it. */
#include "kind.h"
#include "err.h"
#include "json.h"

#include <errno.h>
#include <stdlib.h>

extern const struct kind_ops kind_task, kind_creds, kind_mm, kind_file, kind_fd, kind_tty, kind_rlimits,
	kind_vdso, kind_vma, kind_signals, kind_siginfo, kind_rseq, kind_thread, kind_prctl,
	kind_caps, kind_sched, kind_membarrier, kind_madvise, kind_timers, kind_locks, kind_seccomp, kind_inet;
extern const struct kind_ops kind_pipe, kind_eventfd, kind_timerfd, kind_signalfd, kind_epoll;
extern const struct kind_ops kind_shmem;
extern const struct kind_ops kind_treefile;
extern const struct kind_ops kind_unix, kind_inotify;

const struct kind_ops *const kind_table[KIND_NR] = {
	[KIND_TASK] = &kind_task,
	[KIND_CREDS] = &kind_creds,
	[KIND_MM] = &kind_mm,
	[KIND_FILE] = &kind_file,
	[KIND_FD] = &kind_fd,
	[KIND_TREEFILE] = &kind_treefile,
	[KIND_INET] = &kind_inet,
	[KIND_TTY] = &kind_tty,
	[KIND_UNIX] = &kind_unix,
	[KIND_INOTIFY] = &kind_inotify,
	[KIND_RLIMITS] = &kind_rlimits,
	[KIND_VDSO] = &kind_vdso,
	[KIND_SHMEM] = &kind_shmem,
	[KIND_VMA] = &kind_vma,
	[KIND_SIGNALS] = &kind_signals,
	[KIND_SIGINFO] = &kind_siginfo,
	[KIND_THREAD] = &kind_thread,
	[KIND_RSEQ] = &kind_rseq,
	[KIND_PRCTL] = &kind_prctl,
	[KIND_CAPS] = &kind_caps,
	[KIND_SCHED] = &kind_sched,
	[KIND_MEMBARRIER] = &kind_membarrier,
	[KIND_MADVISE] = &kind_madvise,
	[KIND_TIMERS] = &kind_timers,
	[KIND_LOCKS] = &kind_locks,
	[KIND_PIPE] = &kind_pipe,
	[KIND_EVENTFD] = &kind_eventfd,
	[KIND_TIMERFD] = &kind_timerfd,
	[KIND_SIGNALFD] = &kind_signalfd,
	[KIND_EPOLL] = &kind_epoll,
	[KIND_SECCOMP] = &kind_seccomp,
};

/* A build for tests/e2e/kind_drop.test leaves one kind out
 * (-DKIND_DROP=kind_NAME): that kind's test programs must then fail. */
const struct kind_ops *kind_get(int i)
{
#ifdef KIND_DROP
	if (kind_table[i] == &KIND_DROP)
		return NULL;
#endif
	return kind_table[i];
}

int kinds_capture(struct kind_capture *c, void **data, enum kind_phase phase)
{
	for (int i = 0; i < KIND_NR; i++) {
		const struct kind_ops *k = kind_get(i);
		enum kind_phase p = !k                      ? KINDS_MAIN
				    : (k->flags & KIND_FIRST) ? KINDS_FIRST
				    : (k->flags & KIND_LAST)  ? KINDS_LAST
							      : KINDS_MAIN;
		int rc = k && k->capture && p == phase ? k->capture(c, &data[i]) : 0;

		if (rc)
			return rc;
	}
	return 0;
}

int kinds_write(void *const *data, struct rec_writer *w)
{
	for (int i = 0; i < KIND_NR; i++) {
		int rc = kind_get(i) && data[i] && kind_get(i)->write ? kind_get(i)->write(data[i], w) : 0;

		if (rc)
			return rc;
	}
	return 0;
}

int kinds_write_part(void *const *data, struct rec_writer *w, int late)
{
	for (int i = 0; i < KIND_NR; i++) {
		const struct kind_ops *k = kind_get(i);
		int rc;

		if (!k || !data[i] || !k->write || !(k->flags & KIND_LATE) != !late)
			continue;
		rc = k->write(data[i], w);
		if (rc)
			return rc;
	}
	return 0;
}

int kinds_take(void **data, unsigned *nrec, uint32_t type, const unsigned char *p, size_t len,
	       int late)
{
	for (int i = 0; i < KIND_NR; i++) {
		const struct kind_ops *k = kind_get(i);
		int rc;

		if (!k || !k->type || k->type != type)
			continue;
		if (nrec[i] && !(k->flags & KIND_MANY))
			return err_msg(EBADMSG, "%s record: more than one", k->name);
		if (late && !(k->flags & KIND_LATE))
			return err_msg(EBADMSG, "%s record after the pages", k->name);
		rc = k->take(&data[i], p, len);
		if (!rc)
			nrec[i]++;
		return rc;
	}
	return 1;
}

int kinds_verify(const struct snap *s, void *const *data, const unsigned *nrec, int final)
{
	for (int i = 0; i < KIND_NR; i++) {
		const struct kind_ops *k = kind_get(i);
		int rc;

		if (!k || (!final && (k->flags & KIND_LATE)))
			continue;
		if ((k->flags & KIND_REQUIRED) && !nrec[i])
			return err_msg(EBADMSG, "incomplete snapshot: %s record missing%s", k->name,
				       final ? "" : " before the pages");
		rc = data[i] && k->verify ? k->verify(s, data[i]) : 0;
		if (rc)
			return rc;
	}
	return 0;
}

int kinds_check(struct kind_check *c, void *const *data)
{
	for (int i = 0; i < KIND_NR; i++) {
		int rc = kind_get(i) && data[i] && kind_get(i)->check ? kind_get(i)->check(c, data[i]) : 0;

		if (rc && !c->out)
			return rc;
	}
	return c->problems;
}

int kind_problem(struct kind_check *c, int rc)
{
	if (c->out) {
		fprintf(c->out, "%s\n", err_last());
		err_clear();
		c->problems++;
	}
	return rc;
}

int kinds_restore(struct kind_restore *r, void *const *data, enum kind_stage stage)
{
	r->stage = stage;
	for (int i = 0; i < KIND_NR; i++) {
		const struct kind_ops *k = kind_get(i);
		int rc;

		if (!k || !data[i] || !(k->stages & KIND_AT(stage)) || !k->restore)
			continue;
		rc = k->restore(r, data[i]);
		if (rc)
			return rc;
	}
	return 0;
}

void kinds_print(FILE *f, void *const *data)
{
	for (int i = 0; i < KIND_NR; i++)
		if (data[i] && kind_get(i) && kind_get(i)->print)
			kind_get(i)->print(f, data[i]);
}

void kinds_print_json(struct json *j, void *const *data)
{
	for (int i = 0; i < KIND_NR; i++)
		if (data[i] && kind_get(i) && (kind_get(i)->flags & KIND_IN_SNAP) && kind_get(i)->print_json)
			kind_get(i)->print_json(j, data[i]);
	json_object_begin(j, "kinds");
	for (int i = 0; i < KIND_NR; i++) {
		if (!data[i] || !kind_get(i) || (kind_get(i)->flags & KIND_IN_SNAP) || !kind_get(i)->print_json)
			continue;
		json_object_begin(j, kind_get(i)->name);
		kind_get(i)->print_json(j, data[i]);
		json_object_end(j);
	}
	json_object_end(j);
}

void kinds_settle(void *const *data, int ended)
{
	for (int i = 0; i < KIND_NR; i++)
		if (data[i] && kind_get(i) && kind_get(i)->settle)
			kind_get(i)->settle(data[i], ended);
}

void kinds_free(void **data)
{
	for (int i = 0; i < KIND_NR; i++) {
		if (kind_table[i] && (kind_table[i]->flags & KIND_IN_SNAP))
			;	/* the snap itself */
		else if (data[i] && kind_table[i] && kind_table[i]->free)
			kind_table[i]->free(data[i]);
		else
			free(data[i]);
		data[i] = NULL;
	}
}
