/* vma.c: the memory mappings of the process: address ranges, protection,
 * what backs them (anonymous memory, a file, the stack, the heap, the
 * kernel's own: vdso.c).  Made in pload before the pages arrive (writable
 * while they are written), with their protection put back after. */
#include "kind.h"
#include "err.h"
#include "json.h"
#include "pload_ctl.h"
#include "proc.h"
#include "reopen.h"
#include "shmem.h"
#include "snap.h"
#include "vdso.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Classifies one mapping; the refusals are the mappings a restore could
 * not give back as they were. */
static int capture_vma(struct kind_capture *c, const struct vma *v)
{
	struct rec_vma r = { .start = v->start, .end = v->end, .pgoff = v->pgoff, .prot = v->prot };
	char name[4200];
	struct stat sb;
	int rc;

	snprintf(name, sizeof(name), "%s", v->path);
	if (v->shared)
		r.flags |= VMA_SHARED;
	if (strcmp(name, "[vdso]") == 0) {
		uint32_t crc;

		r.flags |= VMA_VDSO;
		rc = vdso_crc(c->pid, v->start, v->end, &crc);
		if (rc)
			return rc;
		r.content_crc = crc;
	} else if (strcmp(name, "[vvar]") == 0) {
		r.flags |= VMA_VVAR;
	} else if (strcmp(name, "[vvar_vclock]") == 0) {
		r.flags |= VMA_VVAR_VCLOCK;
	} else if (strcmp(name, "[vsyscall]") == 0) {
		r.flags |= VMA_VSYSCALL;
	} else if (strcmp(name, "[stack]") == 0) {
		r.flags |= VMA_STACK;
	} else if (strcmp(name, "[heap]") == 0) {
		r.flags |= VMA_HEAP;
	} else if (name[0] == '[' && strncmp(name, "[anon:", 6) != 0) {
		return err_msg(ENOTSUP, "process %d: mapping %s at 0x%llx is not supported", c->pid,
			       name, (unsigned long long)v->start);
	} else if (name[0] == '/') {
		char mf[128];
		struct stat cur;
		int deleted = ends_with(name, " (deleted)");

		long id;

		snprintf(mf, sizeof(mf), "/proc/%d/map_files/%llx-%llx", c->pid,
			 (unsigned long long)v->start, (unsigned long long)v->end);
		if (stat(mf, &sb) < 0) {
			if (errno != EPERM)
				return err_sys(errno, "process %d: mapping %s", c->pid, name);
			/* map_files needs cap_checkpoint_restore: without it (a
			 * user's pfrez) the file under the mapping's name must
			 * be the very inode maps gives: then it is the file. */
			if (deleted || stat(name, &sb) < 0 || sb.st_ino != v->inode)
				return err_msg(EPERM, "process %d: mapping %s was deleted or replaced: capturing it reads /proc/%d/map_files, which needs cap_checkpoint_restore (or root)",
					       c->pid, name, c->pid);
		}
		/* A memory object (shmem.c, captured before): it is mapped
		 * from it, its pages are its contents. */
		if (v->shared && (id = shmem_find(c->snap, sb.st_dev, sb.st_ino)) >= 0) {
			r.flags |= VMA_SHMEM;
			r.shmem = (uint32_t)id;
			return snap_add_vma(c->snap, &r, name);
		}
		if (v->shared && (deleted || strncmp(name, "/memfd:", 7) == 0 ||
				  strncmp(name, "/SYSV", 5) == 0 || strncmp(name, "/dev/zero", 9) == 0))
			return err_msg(ENOTSUP, "process %d: shared memory mapping %s at 0x%llx is not supported yet",
				       c->pid, name, (unsigned long long)v->start);
		if (S_ISCHR(sb.st_mode) && !v->shared) {
			name[0] = '\0';		/* private /dev/zero: anonymous memory */
		} else if (!S_ISREG(sb.st_mode)) {
			return err_msg(ENOTSUP, "process %d: mapping of device %s is not supported", c->pid, name);
		} else {
			if (v->shared && (v->prot & PROT_WRITE))
				return err_msg(ENOTSUP, "process %d: shared writable mapping of %s is not supported yet",
					       c->pid, name);
			if (deleted)
				name[strlen(name) - 10] = '\0';
			r.flags |= VMA_FILE;
			r.file_size = (uint64_t)sb.st_size;
			r.mtime_sec = sb.st_mtim.tv_sec;
			r.mtime_nsec = (uint32_t)sb.st_mtim.tv_nsec;
			/* The file under that name now is not the one mapped:
			 * its pages must travel in the stream. */
			if (deleted || stat(name, &cur) < 0 || cur.st_ino != sb.st_ino || cur.st_dev != sb.st_dev) {
				if (v->shared)
					return err_msg(ENOTSUP, "process %d: shared mapping of %s, which was deleted or replaced",
						       c->pid, name);
				r.flags |= VMA_EMBED;
			} else if (c->self_contained && !v->shared) {
				r.flags |= VMA_EMBED;
			}
		}
	}
	return snap_add_vma(c->snap, &r, name);
}

static int vma_capture(struct kind_capture *c, void **data)
{
	struct vma *maps;
	size_t n;
	int rc = maps_read(c->pid, &maps, &n);

	(void)data;
	if (rc)
		return rc;
	for (size_t i = 0; !rc && i < n; i++)
		rc = capture_vma(c, &maps[i]);
	maps_free(maps, n);
	return rc;
}

static int vma_write(const void *data, struct rec_writer *w)
{
	const struct snap *s = data;
	int rc = 0;

	for (size_t i = 0; !rc && i < s->nvmas; i++)
		rc = rec_write(w, REC_VMA, &s->vmas[i].r, sizeof(s->vmas[i].r), s->vmas[i].name,
			       s->vmas[i].r.name_len);
	return rc;
}

static int vma_take(void **data, const unsigned char *p, size_t len)
{
	struct snap *s = *data;
	struct rec_vma r;
	size_t off = sizeof(r);
	char *name;
	int rc;

	if (len < sizeof(r))
		return err_msg(EBADMSG, "vma record: too short");
	memcpy(&r, p, sizeof(r));
	if (r.name_len >= SNAP_PATH_MAX)
		return err_msg(EBADMSG, "vma record: name too long");
	name = snap_take_str(p, len, &off, r.name_len);
	if (!name || off != len || r.start >= r.end || (r.start | r.end) % REC_PAGE_SIZE || (r.prot & ~7u) ||
	    ((r.flags & VMA_SHMEM) ? (r.flags & (VMA_FILE | VMA_SPECIAL)) || !(r.flags & VMA_SHARED) : r.shmem))
		return free(name), err_msg(EBADMSG, "vma record: malformed");
	if (s->nvmas && !(s->vmas[s->nvmas - 1].r.end <= r.start))
		return free(name), err_msg(EBADMSG, "vma record: mappings out of order or overlapping");
	rc = snap_add_vma(s, &r, name);
	free(name);
	return rc < 0 ? err_wrap(rc == -ENOMEM ? rc : -EBADMSG, "vma record") : rc;
}

static int vma_verify(const struct snap *s, const void *data)
{
	(void)data;
	if (!s->nvmas)
		return err_msg(EBADMSG, "incomplete snapshot: no mappings");
	return shmem_refs_check(s);
}

/* Before any page: the mappings must leave pload's range free, and the
 * files they map must be those mapped (their pages come from them). */
static int vma_check(struct kind_check *c, const void *data)
{
	const struct snap *s = data;
	int rc = 0;

	for (size_t i = 0; i < s->nvmas; i++) {
		const struct snap_vma *v = &s->vmas[i];
		struct rec_ident id;
		struct reopen o;
		struct stat sb;

		if (v->r.start < PLOAD_BASE + PLOAD_SPAN && v->r.end > PLOAD_BASE)
			rc = kind_problem(c, err_msg(EADDRINUSE, "the snapshot has a mapping at 0x%llx-0x%llx, inside the range pload needs (0x%llx-0x%llx): cannot restore it",
						     (unsigned long long)v->r.start, (unsigned long long)v->r.end,
						     PLOAD_BASE, PLOAD_BASE + PLOAD_SPAN));
		else if (!(v->r.flags & VMA_FILE) || (v->r.flags & VMA_EMBED))
			continue;
		else if (c->out) {
			/* pthaw -check: opened as restore would open it */
			reopen_vma(v, &id, &o);
			if (reopen(NULL, c->same_host, &o))
				rc = kind_problem(c, -ESTALE);
		} else if (stat(v->name, &sb) < 0) {
			rc = err_sys(errno, "%s (mapped by the process; capture with -self-contained to carry it)",
				     v->name);
		} else if ((uint64_t)sb.st_size != v->r.file_size || sb.st_mtim.tv_sec != v->r.mtime_sec ||
			   (uint32_t)sb.st_mtim.tv_nsec != v->r.mtime_nsec) {
			rc = err_msg(ESTALE, "%s changed since the snapshot was taken (size or mtime differ); capture with -self-contained",
				     v->name);
		}
		if (rc && !c->out)
			return rc;
	}
	return rc;
}

/* At KIND_STAGE_SPACE, each mapping at its address, writable to be
 * filled (r->added_write remembers which were not); at KIND_STAGE_MM,
 * once the pages are in, their own protection. */
static int map_all(struct kind_restore *r, const struct snap *s)
{
	for (size_t i = 0; i < s->nvmas; i++) {
		const struct snap_vma *v = &s->vmas[i];
		uint32_t fl = v->r.flags, prot = v->r.prot;
		uint64_t len = v->r.end - v->r.start;
		long ret, fd = -1;
		int mflags = MAP_FIXED;

		if (fl & VMA_SPECIAL)
			continue;
		if (!(fl & VMA_SHARED) && !(prot & PROT_WRITE)) {
			prot |= PROT_WRITE;	/* to fill it; taken back at the end */
			r->added_write[i] = 1;
		}
		if (fl & VMA_SHMEM) {
			int dest = 0;
			long sid = shmem_sysv_id(s, v->r.shmem, &dest);

			/* A SysV segment is attached again (shm_nattch counts
			 * it, /proc/PID/maps names it as it was). */
			if (sid >= 0) {
				ret = pload_call(r->pl, SYS_shmat, sid, (long)v->r.start,
						 SHM_REMAP | (prot & PROT_WRITE ? 0 : SHM_RDONLY) |
						 (prot & PROT_EXEC ? SHM_EXEC : 0), 0, 0, 0, NULL, 0);
				if (ret != (long)v->r.start)
					return err_sys(ret < 0 && ret > -4096 ? (int)-ret : EFAULT,
						       "loader: attaching SysV shared memory segment at 0x%llx",
						       (unsigned long long)v->r.start);
				/* Marked for deletion: again, once attached
				 * (Linux lets the rest of the tree attach it
				 * still, by its id). */
				if (dest)
					pload_call(r->pl, SYS_shmctl, sid, IPC_RMID, 0, 0, 0, 0, NULL, 0);
				continue;
			}
			if (sid != -ENODATA)
				return (int)sid;
			fd = shmem_map_fd(r, s, v->r.shmem, prot);
			if (fd < 0)
				return (int)fd;
			mflags |= MAP_SHARED;
		} else if ((fl & VMA_FILE) && !(fl & VMA_EMBED)) {
			struct rec_ident id;
			struct reopen o;

			reopen_vma(v, &id, &o);
			fd = reopen(r->pl, r->same_host, &o);
			if (fd < 0)
				return (int)fd;
			mflags |= (fl & VMA_SHARED) ? MAP_SHARED : MAP_PRIVATE;
		} else {
			mflags |= MAP_PRIVATE | MAP_ANONYMOUS;
			if (fl & VMA_STACK)
				mflags |= MAP_GROWSDOWN;
		}
		ret = pload_call(r->pl, SYS_mmap, (long)v->r.start, (long)len, prot, mflags, fd,
				 fd >= 0 ? (long)v->r.pgoff : 0, NULL, 0);
		if (fd >= 0)
			pload_call(r->pl, SYS_close, fd, 0, 0, 0, 0, 0, NULL, 0);
		if (ret != (long)v->r.start)
			return err_sys(ret < 0 ? (int)-ret : EFAULT, "loader: mapping %s at 0x%llx",
				       v->name[0] ? v->name : "anonymous memory", (unsigned long long)v->r.start);
	}
	return 0;
}

static int vma_restore(struct kind_restore *r, const void *data)
{
	const struct snap *s = data;

	if (r->stage == KIND_STAGE_SPACE)
		return map_all(r, s);
	for (size_t i = 0; i < s->nvmas; i++) {
		const struct rec_vma *v = &s->vmas[i].r;
		long ret;

		if (!r->added_write[i])
			continue;
		ret = pload_call(r->pl, SYS_mprotect, (long)v->start, (long)(v->end - v->start), v->prot,
				 0, 0, 0, NULL, 0);
		if (ret < 0)
			return err_sys((int)-ret, "loader: mprotect 0x%llx", (unsigned long long)v->start);
	}
	return 0;
}

static void vma_print(FILE *f, const void *data)
{
	static char e1[4 * SNAP_PATH_MAX + 1];
	const struct snap *s = data;

	fprintf(f, "Mappings:\n");
	for (size_t i = 0; i < s->nvmas; i++) {
		const struct rec_vma *v = &s->vmas[i].r;

		fprintf(f, "  %3zu %012llx-%012llx %c%c%c%c %08llx %-28s hash %08x\n", i,
			(unsigned long long)v->start, (unsigned long long)v->end,
			v->prot & PROT_READ ? 'r' : '-', v->prot & PROT_WRITE ? 'w' : '-',
			v->prot & PROT_EXEC ? 'x' : '-', v->flags & VMA_SHARED ? 's' : 'p',
			(unsigned long long)v->pgoff, snap_esc(e1, sizeof(e1), s->vmas[i].name),
			v->content_crc);
		if (v->flags & VMA_SHMEM)
			fprintf(f, "      memory object %u\n", v->shmem);
	}
}

static void vma_print_json(struct json *j, const void *data)
{
	static const char *flag_names[] = {
		"shared", "file", "embed", "stack", "heap", "vdso", "vvar", "vvar_vclock", "vsyscall",
		"shmem",
	};
	const struct snap *s = data;

	json_array_begin(j, "vmas");
	for (size_t i = 0; i < s->nvmas; i++) {
		const struct rec_vma *v = &s->vmas[i].r;
		char prot[4] = {
			v->prot & PROT_READ ? 'r' : '-', v->prot & PROT_WRITE ? 'w' : '-',
			v->prot & PROT_EXEC ? 'x' : '-', '\0',
		};

		json_object_begin(j, NULL);
		json_hex(j, "start", v->start);
		json_hex(j, "end", v->end);
		json_str(j, "prot", prot);
		json_hex(j, "pgoff", v->pgoff);
		json_array_begin(j, "flags");
		for (size_t b = 0; b < sizeof(flag_names) / sizeof(flag_names[0]); b++)
			if (v->flags & (1u << b))
				json_str(j, NULL, flag_names[b]);
		json_array_end(j);
		json_str(j, "name", s->vmas[i].name);
		if (v->flags & VMA_FILE) {
			json_uint(j, "file_size", v->file_size);
			json_int(j, "mtime_sec", v->mtime_sec);
			json_uint(j, "mtime_nsec", v->mtime_nsec);
		}
		if (v->flags & VMA_SHMEM)
			json_uint(j, "shmem", v->shmem);
		json_hex(j, "content_crc", v->content_crc);
		json_object_end(j);
	}
	json_array_end(j);
}

const struct kind_ops kind_vma = {
	.name = "vma",
	.type = REC_VMA,
	.flags = KIND_MANY | KIND_REQUIRED | KIND_IN_SNAP,
	.stages = KIND_AT(KIND_STAGE_SPACE) | KIND_AT(KIND_STAGE_MM),
	.capture = vma_capture,
	.write = vma_write,
	.take = vma_take,
	.verify = vma_verify,
	.check = vma_check,
	.restore = vma_restore,
	.print = vma_print,
	.print_json = vma_print_json,
};
