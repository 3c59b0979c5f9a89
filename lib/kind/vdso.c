/* vdso.c: the kernel's own mappings, [vdso] and [vvar] ([vvar_vclock]).
 * They carry no pages in the stream: the code the process calls into
 * must be this kernel's, byte for byte, so pthaw moves pload's own vdso
 * and vvar to the addresses the process had them at.  Their vma records
 * (vma.c) say where, and the vdso's record its CRC. */
#include "kind.h"
#include "crc32c.h"
#include "err.h"
#include "pload_ctl.h"
#include "proc.h"
#include "snap.h"
#include "vdso.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

int vdso_crc(pid_t pid, uint64_t start, uint64_t end, uint32_t *crc)
{
	unsigned char *buf = malloc(end - start);
	struct iovec l = { buf, end - start }, r = { (void *)start, end - start };

	if (!buf || process_vm_readv(pid, &l, 1, &r, 1, 0) != (ssize_t)(end - start)) {
		free(buf);
		return err_msg(EIO, "process %d: cannot read its vdso", pid);
	}
	*crc = crc32c(0, buf, end - start);
	free(buf);
	return 0;
}

static uint32_t special_kind(const char *name)
{
	if (strcmp(name, "[vdso]") == 0)
		return VMA_VDSO;
	if (strcmp(name, "[vvar]") == 0)
		return VMA_VVAR;
	if (strcmp(name, "[vvar_vclock]") == 0)
		return VMA_VVAR_VCLOCK;
	if (strcmp(name, "[vsyscall]") == 0)
		return VMA_VSYSCALL;
	return 0;
}

/* The vdso the snapshot's code calls into must be the one this kernel
 * provides: pthaw's own, byte for byte. */
static int same_vdso(const struct snap_vma *v)
{
	struct vma *m;
	size_t n;
	int rc = maps_read(getpid(), &m, &n);

	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(m[i].path, "[vdso]") != 0)
			continue;
		if (m[i].end - m[i].start != v->r.end - v->r.start ||
		    crc32c(0, (const void *)m[i].start, m[i].end - m[i].start) != v->r.content_crc)
			rc = err_msg(ENOEXEC, "the snapshot was taken under another kernel (its vdso differs from this one's): not supported yet");
		maps_free(m, n);
		return rc;
	}
	maps_free(m, n);
	return err_msg(ENOEXEC, "this system has no vdso");
}

static int vdso_check(struct kind_check *c, const void *data)
{
	const struct snap *s = data;

	for (size_t i = 0; i < s->nvmas; i++)
		if ((s->vmas[i].r.flags & VMA_VDSO) && same_vdso(&s->vmas[i]))
			return kind_problem(c, -ENOEXEC);
	return 0;
}

struct special {
	uint64_t start, end;
	uint32_t kind;
};

/* Clears pload's address space down to its own range, and moves the
 * kernel's special mappings to where the snapshot had them. */
static int vdso_restore(struct kind_restore *r, const void *data)
{
	const struct snap *s = data;
	struct special sp[8];
	size_t nsp = 0, n;
	struct vma *m;
	uint64_t low = ~0ull;
	long ret;
	int rc = maps_read(r->pl->pid, &m, &n);

	if (rc)
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		uint32_t kind = special_kind(m[i].path);

		if ((m[i].start < PLOAD_BASE + PLOAD_SPAN && m[i].end > PLOAD_BASE) || kind == VMA_VSYSCALL)
			continue;
		if (kind) {
			if (nsp < 8)
				sp[nsp++] = (struct special){ m[i].start, m[i].end, kind };
			if (m[i].start < low)
				low = m[i].start;
			continue;
		}
		ret = pload_call(r->pl, SYS_munmap, (long)m[i].start, (long)(m[i].end - m[i].start), 0, 0, 0, 0,
				 NULL, 0);
		if (ret < 0)
			rc = err_sys((int)-ret, "loader: munmap 0x%llx", (unsigned long long)m[i].start);
	}
	maps_free(m, n);
	if (rc)
		return rc;
	/* Park first: a target address may be where another special is. */
	for (size_t i = 0; i < nsp; i++) {
		uint64_t to = PLOAD_PARK + (sp[i].start - low), len = sp[i].end - sp[i].start;

		ret = pload_call(r->pl, SYS_mremap, (long)sp[i].start, (long)len, (long)len,
				 MREMAP_MAYMOVE | MREMAP_FIXED, (long)to, 0, NULL, 0);
		if (ret != (long)to)
			return err_sys((int)-ret, "loader: moving its vdso/vvar aside");
		sp[i].end = to + len;
		sp[i].start = to;
	}
	for (size_t i = 0; i < s->nvmas; i++) {
		const struct snap_vma *v = &s->vmas[i];
		uint32_t kind = v->r.flags & (VMA_VDSO | VMA_VVAR | VMA_VVAR_VCLOCK);
		uint64_t len;
		size_t j;

		/* That the vdso is this kernel's vdso_check made sure, before
		 * any page was read. */
		if (!kind)
			continue;
		for (j = 0; j < nsp && sp[j].kind != kind; j++)
			;
		if (j == nsp || sp[j].end - sp[j].start != v->r.end - v->r.start)
			return err_msg(ENOEXEC, "the snapshot's %s does not match this kernel's: taken under another kernel?",
				       v->name);
		len = sp[j].end - sp[j].start;
		ret = pload_call(r->pl, SYS_mremap, (long)sp[j].start, (long)len, (long)len,
				 MREMAP_MAYMOVE | MREMAP_FIXED, (long)v->r.start, 0, NULL, 0);
		if (ret != (long)v->r.start)
			return err_sys((int)-ret, "loader: moving %s to 0x%llx", v->name,
				       (unsigned long long)v->r.start);
		sp[j].kind = 0;
	}
	/* Specials the snapshot did not have (another kernel's layout)
	 * would be left in pload's range and vanish with it. */
	return 0;
}

/* No record of its own: it acts on the vma records.  Its data is the
 * snap, so the loops call it. */
const struct kind_ops kind_vdso = {
	.name = "vdso",
	.flags = KIND_IN_SNAP,
	.stages = KIND_AT(KIND_STAGE_SPACE),
	.check = vdso_check,
	.restore = vdso_restore,
};
