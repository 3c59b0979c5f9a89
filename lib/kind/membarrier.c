/* membarrier.c: the membarrier(2) commands the process registered for.
 * A registration belongs to the mm: only the process can ask about it,
 * so pfrez asks from inside, and pload registers the same commands on
 * itself, whose mm becomes the process's. */
#include "kind.h"
#include "err.h"
#include "json.h"
#include "inject.h"
#include "pload_ctl.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#define MB_GET_REGISTRATIONS	(1 << 9)	/* MEMBARRIER_CMD_GET_REGISTRATIONS, Linux 6.3 */

#define MB_GLOBAL	MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED
#define MB_PRIVATE	MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED
#define MB_SYNC_CORE	MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE
#define MB_RSEQ		MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ
#define MB_ALL		(MB_GLOBAL | MB_PRIVATE | MB_SYNC_CORE | MB_RSEQ)

struct rec_membarrier {
	uint32_t registered;	/* MEMBARRIER_CMD_REGISTER_* bits (MB_ALL) */
	uint32_t pad;
} __attribute__((packed));

/* Each registration, and the command it lets the process run (which
 * fails with EPERM until then). */
static const struct {
	uint32_t reg, cmd;
	const char *name;
} mb_cmds[] = {
	{ MB_GLOBAL, MEMBARRIER_CMD_GLOBAL_EXPEDITED, "GLOBAL_EXPEDITED" },
	{ MB_PRIVATE, MEMBARRIER_CMD_PRIVATE_EXPEDITED, "PRIVATE_EXPEDITED" },
	{ MB_SYNC_CORE, MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, "PRIVATE_EXPEDITED_SYNC_CORE" },
	{ MB_RSEQ, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, "PRIVATE_EXPEDITED_RSEQ" },
};
#define MB_NCMDS (sizeof(mb_cmds) / sizeof(mb_cmds[0]))

static long mb_query(struct kind_capture *c, long cmd, int *err)
{
	long ret;

	*err = inject_query(c->inj, SYS_membarrier, (long[6]){ cmd, 0, 0 }, &ret);
	return ret;
}

/* Whether the private command cmd runs in the process: it does once the
 * process registered for it.  Running it is a barrier across the
 * process's own threads (stopped now) and nothing else. */
static int mb_runs(struct kind_capture *c, uint32_t cmd, int *rc)
{
	long ret = mb_query(c, cmd, rc);

	if (*rc || ret == 0)
		return !*rc;
	if (ret != -EPERM && ret != -EINVAL)
		*rc = err_sys((int)-ret, "process %d: membarrier probe 0x%x", c->pid, cmd);
	return 0;
}

static int membarrier_capture(struct kind_capture *c, void **data)
{
	struct rec_membarrier *m;
	long ret;
	int rc;

	ret = mb_query(c, MB_GET_REGISTRATIONS, &rc);
	if (rc)
		return rc;
	if (ret == -ENOSYS)
		return 0;	/* no membarrier: nothing registered */
	if (ret >= 0) {
		/* Registering SYNC_CORE or RSEQ marks the mm PRIVATE_EXPEDITED
		 * too (without making that command usable), and the answer
		 * cannot tell it from a registration of its own: the command
		 * itself does. */
		if ((ret & MB_PRIVATE) && (ret & (MB_SYNC_CORE | MB_RSEQ)) &&
		    !mb_runs(c, MEMBARRIER_CMD_PRIVATE_EXPEDITED, &rc))
			ret &= ~MB_PRIVATE;
		if (rc)
			return rc;
	} else if (ret == -EINVAL) {
		/* Before Linux 6.3: the private registrations show by their
		 * commands running; a GLOBAL_EXPEDITED registration changes
		 * nothing the process itself can observe, and is not seen. */
		ret = 0;
		for (size_t i = 1; i < MB_NCMDS && !rc; i++)
			if (mb_runs(c, mb_cmds[i].cmd, &rc))
				ret |= mb_cmds[i].reg;
		if (rc)
			return rc;
	} else {
		return err_sys((int)-ret, "process %d: reading its membarrier registrations", c->pid);
	}
	if (ret & ~(long)MB_ALL)
		return err_msg(ENOTSUP, "process %d: membarrier registrations 0x%lx are unknown", c->pid,
			       ret & ~(long)MB_ALL);
	if (!ret)
		return 0;
	m = calloc(1, sizeof(*m));
	if (!m)
		return err_sys(ENOMEM, "membarrier");
	m->registered = (uint32_t)ret;
	*data = m;
	return 0;
}

static int membarrier_write(const void *data, struct rec_writer *w)
{
	return rec_write(w, REC_MEMBARRIER, data, sizeof(struct rec_membarrier), NULL, 0);
}

static int membarrier_take(void **data, const unsigned char *p, size_t len)
{
	struct rec_membarrier m;

	if (len != sizeof(m))
		return err_msg(EBADMSG, "membarrier record: %zu bytes, want %zu", len, sizeof(m));
	memcpy(&m, p, sizeof(m));
	if (!m.registered || (m.registered & ~(uint32_t)MB_ALL) || m.pad)
		return err_msg(EBADMSG, "membarrier record: malformed (registrations 0x%x)", m.registered);
	*data = malloc(sizeof(m));
	if (!*data)
		return err_sys(ENOMEM, "membarrier");
	memcpy(*data, &m, sizeof(m));
	return 0;
}

static int membarrier_restore(struct kind_restore *r, const void *data)
{
	const struct rec_membarrier *m = data;

	for (size_t i = 0; i < MB_NCMDS; i++) {
		long ret;

		if (!(m->registered & mb_cmds[i].reg))
			continue;
		ret = pload_call(r->pl, SYS_membarrier, mb_cmds[i].reg, 0, 0, 0, 0, 0, NULL, 0);
		if (ret < 0)
			return err_sys((int)-ret, "registering for membarrier %s", mb_cmds[i].name);
	}
	return 0;
}

static void membarrier_print(FILE *f, const void *data)
{
	const struct rec_membarrier *m = data;

	fprintf(f, "Membarrier registrations:");
	for (size_t i = 0; i < MB_NCMDS; i++)
		if (m->registered & mb_cmds[i].reg)
			fprintf(f, " %s", mb_cmds[i].name);
	fprintf(f, "\n");
}

static void membarrier_print_json(struct json *j, const void *data)
{
	const struct rec_membarrier *m = data;

	json_array_begin(j, "registered");
	for (size_t i = 0; i < MB_NCMDS; i++)
		if (m->registered & mb_cmds[i].reg)
			json_str(j, NULL, mb_cmds[i].name);
	json_array_end(j);
}

const struct kind_ops kind_membarrier = {
	.name = "membarrier",
	.type = REC_MEMBARRIER,
	.flags = KIND_LATE,
	.stages = KIND_AT(KIND_STAGE_TASK),
	.capture = membarrier_capture,
	.write = membarrier_write,
	.take = membarrier_take,
	.restore = membarrier_restore,
	.print = membarrier_print,
	.print_json = membarrier_print_json,
};
