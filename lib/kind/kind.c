/* kind.c: the table of kinds and the loops pfrez and pthaw run over it. */
#include "kind.h"
#include "err.h"
#include "json.h"

#include <errno.h>
#include <stdlib.h>

extern const struct kind_ops kind_prctl;
extern const struct kind_ops kind_caps;
extern const struct kind_ops kind_seccomp;
extern const struct kind_ops kind_locks;
extern const struct kind_ops kind_sched;
extern const struct kind_ops kind_membarrier;
extern const struct kind_ops kind_madvise;
extern const struct kind_ops kind_timers;

const struct kind_ops *const kind_table[KIND_NR] = {
	[KIND_PRCTL] = &kind_prctl,
	[KIND_CAPS] = &kind_caps,
	[KIND_SCHED] = &kind_sched,
	[KIND_MEMBARRIER] = &kind_membarrier,
	[KIND_MADVISE] = &kind_madvise,
	[KIND_TIMERS] = &kind_timers,
	[KIND_LOCKS] = &kind_locks,
	[KIND_SECCOMP] = &kind_seccomp,
};

int kinds_capture(struct kind_capture *c, void **data)
{
	for (int i = 0; i < KIND_NR; i++) {
		int rc = kind_table[i] && kind_table[i]->capture ? kind_table[i]->capture(c, &data[i]) : 0;

		if (rc)
			return rc;
	}
	return 0;
}

int kinds_write(void *const *data, struct rec_writer *w)
{
	for (int i = 0; i < KIND_NR; i++) {
		int rc = data[i] ? kind_table[i]->write(data[i], w) : 0;

		if (rc)
			return rc;
	}
	return 0;
}

int kinds_take(void **data, uint32_t type, const unsigned char *p, size_t len)
{
	for (int i = 0; i < KIND_NR; i++) {
		if (!kind_table[i] || kind_table[i]->type != type)
			continue;
		if (data[i])
			return err_msg(EBADMSG, "%s record: more than one", kind_table[i]->name);
		return kind_table[i]->take(&data[i], p, len);
	}
	return 1;
}

int kinds_restore(struct kind_restore *r, void *const *data, enum kind_stage stage)
{
	for (int i = 0; i < KIND_NR; i++) {
		int rc;

		if (!data[i] || kind_table[i]->stage != stage || !kind_table[i]->restore)
			continue;
		rc = kind_table[i]->restore(r, data[i]);
		if (rc)
			return rc;
	}
	return 0;
}

void kinds_print(FILE *f, void *const *data)
{
	for (int i = 0; i < KIND_NR; i++)
		if (data[i] && kind_table[i] && kind_table[i]->print)
			kind_table[i]->print(f, data[i]);
}

void kinds_print_json(struct json *j, void *const *data)
{
	json_object_begin(j, "kinds");
	for (int i = 0; i < KIND_NR; i++) {
		if (!data[i] || !kind_table[i] || !kind_table[i]->print_json)
			continue;
		json_object_begin(j, kind_table[i]->name);
		kind_table[i]->print_json(j, data[i]);
		json_object_end(j);
	}
	json_object_end(j);
	json_array_begin(j, "unprinted_kinds");
	for (int i = 0; i < KIND_NR; i++)
		if (data[i] && kind_table[i] && !kind_table[i]->print_json)
			json_str(j, NULL, kind_table[i]->name);
	json_array_end(j);
}

void kinds_free(void **data)
{
	for (int i = 0; i < KIND_NR; i++) {
		if (data[i] && kind_table[i] && kind_table[i]->free)
			kind_table[i]->free(data[i]);
		else
			free(data[i]);
		data[i] = NULL;
	}
}
