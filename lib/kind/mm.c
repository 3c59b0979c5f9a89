/* mm.c: the memory layout fields of the process (code, data, heap and
 * stack bounds, arguments and environment) and its auxiliary vector,
 * which /proc/PID/stat and /proc/PID/auxv show and the kernel takes back
 * with prctl(PR_SET_MM_MAP), together with the executable's file. */
#include "kind.h"
#include "err.h"
#include "inject.h"
#include "json.h"
#include "pload_ctl.h"
#include "prefetch.h"
#include "proc.h"
#include "reopen.h"
#include "snap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/prctl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#define AUXV_MAX 4096

static int mm_capture(struct kind_capture *c, void **data)
{
	struct snap *s = *data;
	struct proc_stat st;
	char path[64];
	size_t len;
	long ret;
	int rc;

	rc = proc_stat_read(c->pid, &st);
	if (rc)
		return rc;
	s->mm.start_code = st.start_code;
	s->mm.end_code = st.end_code;
	s->mm.start_data = st.start_data;
	s->mm.end_data = st.end_data;
	s->mm.start_brk = st.start_brk;
	s->mm.start_stack = st.start_stack;
	s->mm.arg_start = st.arg_start;
	s->mm.arg_end = st.arg_end;
	s->mm.env_start = st.env_start;
	s->mm.env_end = st.env_end;
	/* The current break only brk(0) tells. */
	rc = inject_query(c->inj, SYS_brk, (long[6]){ 0 }, &ret);
	if (rc)
		return rc;
	s->mm.brk = (uint64_t)ret;
	/* Now the madvise kind's smaps, read ahead (prefetch.h) when
	 * copy-on-write marks memory in this hold: reading it walks every
	 * page table under the mmap lock, which brk() takes for writing and
	 * would have waited for (KIND_LAST: taken after the memory is
	 * marked, the other walk, which it runs beside).  Read before the
	 * hold already, this adds nothing. */
	if (c->marking) {
		snprintf(path, sizeof(path), "/proc/%d/smaps", c->pid);
		proc_prefetch_add(c->pre, path);
	}
	snprintf(path, sizeof(path), "/proc/%d/auxv", c->pid);
	s->auxv = malloc(AUXV_MAX);
	if (!s->auxv)
		return err_sys(ENOMEM, "auxv");
	rc = proc_read_file(path, s->auxv, AUXV_MAX, &len);
	if (rc)
		return rc;
	s->mm.auxv_len = (uint32_t)(len & ~15ul);
	return 0;
}

static int mm_write(const void *data, struct rec_writer *w)
{
	const struct snap *s = data;

	return rec_write(w, REC_MM, &s->mm, sizeof(s->mm), s->auxv, s->mm.auxv_len);
}

static int mm_take(void **data, const unsigned char *p, size_t len)
{
	struct snap *s = *data;

	if (len < sizeof(s->mm))
		return err_msg(EBADMSG, "mm record: too short");
	memcpy(&s->mm, p, sizeof(s->mm));
	if (s->mm.auxv_len != len - sizeof(s->mm) || s->mm.auxv_len > AUXV_MAX || s->mm.auxv_len % 16)
		return err_msg(EBADMSG, "mm record: bad auxv length");
	s->auxv = malloc(s->mm.auxv_len + 1);
	if (!s->auxv)
		return err_sys(ENOMEM, "auxv");
	memcpy(s->auxv, p + sizeof(s->mm), s->mm.auxv_len);
	return 0;
}

/* The executable must be the same file, or /proc/PID/exe would lie; its
 * pages may have travelled (-self-contained): a missing or other file
 * only leaves /proc/PID/exe unset, with a warning. */
static int mm_restore(struct kind_restore *r, const void *data)
{
	const struct snap *s = data;
	struct prctl_mm_map map;
	unsigned char buf[sizeof(map) + AUXV_MAX];
	long exe_fd, ret;

	exe_fd = reopen(r->pl, r->same_host, &(struct reopen){ "executable", s->exe, &s->proc.exe,
							       O_RDONLY | O_CLOEXEC, 1, 1 });
	if (exe_fd < 0)
		fprintf(stderr, "pthaw: warning: %s; /proc/PID/exe will not name it\n", err_last());
	memset(&map, 0, sizeof(map));
	map.start_code = s->mm.start_code;
	map.end_code = s->mm.end_code;
	map.start_data = s->mm.start_data;
	map.end_data = s->mm.end_data;
	map.start_brk = s->mm.start_brk;
	map.brk = s->mm.brk;
	map.start_stack = s->mm.start_stack;
	map.arg_start = s->mm.arg_start;
	map.arg_end = s->mm.arg_end;
	map.env_start = s->mm.env_start;
	map.env_end = s->mm.env_end;
	map.auxv = (__u64 *)(uintptr_t)(r->pl->hello.scratch + sizeof(map));
	map.auxv_size = s->mm.auxv_len;
	map.exe_fd = exe_fd >= 0 ? (uint32_t)exe_fd : (uint32_t)-1;
	memcpy(buf, &map, sizeof(map));
	memcpy(buf + sizeof(map), s->auxv, s->mm.auxv_len);
	ret = pload_call(r->pl, SYS_prctl, PR_SET_MM, PR_SET_MM_MAP, (long)r->pl->hello.scratch,
			 sizeof(map), 0, 0, buf, sizeof(map) + s->mm.auxv_len);
	if (exe_fd >= 0)
		pload_call(r->pl, SYS_close, exe_fd, 0, 0, 0, 0, 0, NULL, 0);
	if (ret < 0)
		return err_sys((int)-ret, "loader: restoring the memory layout fields (prctl PR_SET_MM_MAP)");
	return 0;
}

/* pthaw -check: a missing executable only leaves /proc/PID/exe unset. */
static int mm_check(struct kind_check *c, const void *data)
{
	const struct snap *s = data;

	if (c->out && reopen(NULL, c->same_host, &(struct reopen){ "executable", s->exe, &s->proc.exe,
								  O_RDONLY, 1, 1 })) {
		fprintf(c->out, "warning: %s; /proc/PID/exe will not name it\n", err_last());
		err_clear();
	}
	return 0;
}

static void mm_print(FILE *f, const void *data)
{
	const struct snap *s = data;

	fprintf(f, "Memory: brk 0x%llx (from 0x%llx), stack 0x%llx\n",
		(unsigned long long)s->mm.brk, (unsigned long long)s->mm.start_brk,
		(unsigned long long)s->mm.start_stack);
}

static void mm_print_json(struct json *j, const void *data)
{
	const struct snap *s = data;
	const struct rec_mm *m = &s->mm;

	json_object_begin(j, "mm");
	json_hex(j, "start_code", m->start_code);
	json_hex(j, "end_code", m->end_code);
	json_hex(j, "start_data", m->start_data);
	json_hex(j, "end_data", m->end_data);
	json_hex(j, "start_brk", m->start_brk);
	json_hex(j, "brk", m->brk);
	json_hex(j, "start_stack", m->start_stack);
	json_hex(j, "arg_start", m->arg_start);
	json_hex(j, "arg_end", m->arg_end);
	json_hex(j, "env_start", m->env_start);
	json_hex(j, "env_end", m->env_end);
	json_array_begin(j, "auxv");
	for (uint32_t i = 0; i + 16 <= m->auxv_len; i += 16) {
		uint64_t av[2];

		memcpy(av, s->auxv + i, sizeof(av));
		json_object_begin(j, NULL);
		json_uint(j, "type", av[0]);
		json_hex(j, "value", av[1]);
		json_object_end(j);
	}
	json_array_end(j);
	json_object_end(j);
}

const struct kind_ops kind_mm = {
	.name = "mm",
	.type = REC_MM,
	.flags = KIND_REQUIRED | KIND_IN_SNAP | KIND_LATE,
	.stages = KIND_AT(KIND_STAGE_MM),
	.capture = mm_capture,
	.write = mm_write,
	.take = mm_take,
	.check = mm_check,
	.restore = mm_restore,
	.print = mm_print,
	.print_json = mm_print_json,
};
