/* sigframe.c: builds an x86_64 rt_sigframe (arch/x86/kernel/signal_64.c
 * and fpu/signal.c are the other side) holding a process's own state. */
#include "arch/x86_64/sigframe.h"
#include "err.h"

#include <cpuid.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

const unsigned char sigframe_syscall_ret[3] = { 0x0f, 0x05, 0xc3 };
const unsigned char sigframe_restorer_long[9] = { 0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05 };
const unsigned char sigframe_restorer_short[7] = { 0xb8, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05 };

/* The kernel's uapi layouts (asm/sigcontext.h, asm/ucontext.h), spelled
 * out here: glibc's own ucontext_t is a different, larger structure. */
struct frame_mcontext {
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
	uint16_t cs, gs, fs, ss;
	uint64_t err, trapno, oldmask, cr2;
	uint64_t fpstate;
	uint64_t reserved1[8];
};

struct frame_ucontext {
	uint64_t uc_flags;
	uint64_t uc_link;
	uint64_t ss_sp;
	int32_t ss_flags, ss_pad;
	uint64_t ss_size;
	struct frame_mcontext mc;
	uint64_t uc_sigmask;
};

struct rt_sigframe {
	uint64_t pretcode;
	struct frame_ucontext uc;
	unsigned char info[SIGFRAME_SCRATCH_SIZE];
};

_Static_assert(sizeof(struct frame_mcontext) == 256, "struct sigcontext is 256 bytes");
_Static_assert(sizeof(struct rt_sigframe) == 440, "struct rt_sigframe is 440 bytes");

/* In uc_link, which rt_sigreturn never reads (a frame of the kernel's
 * has 0): marks a frame of ours. */
#define FRAME_TAG		0x656d6172667a6670ull	/* "pfzframe" */

#define UC_FP_XSTATE		0x1
#define UC_SIGCONTEXT_SS	0x2
#define UC_STRICT_RESTORE_SS	0x4

/* struct _fpx_sw_bytes, in the FXSAVE area's software-reserved bytes. */
#define FPX_SW_OFFSET		464
#define FP_XSTATE_MAGIC1	0x46505853u
#define FP_XSTATE_MAGIC2	0x46505845u
#define XSAVE_HDR_OFFSET	512
#define XSAVE_MIN_SIZE		(512 + 64)
#define XFEATURE_XTILEDATA	18

struct fpx_sw_bytes {
	uint32_t magic1;
	uint32_t extended_size;
	uint64_t xfeatures;
	uint32_t xstate_size;
	uint32_t padding[7];
};

static uint64_t xcr0(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
		return 0;
	__asm__ volatile("xgetbv" : "=a"(a), "=d"(d) : "c"(0));
	return (uint64_t)d << 32 | a;
}

/* The non-compacted (user) XSAVE size of the features in mask: where the
 * highest one ends (CPUID leaf 0xd gives each feature's size and offset),
 * as the kernel computes a task's fpstate->user_size. */
static uint32_t xsave_size(uint64_t mask)
{
	uint32_t size = XSAVE_MIN_SIZE;

	for (unsigned i = 2; i < 64; i++) {
		unsigned a, b, c, d;

		if (!(mask >> i & 1) || !__get_cpuid_count(0xd, i, &a, &b, &c, &d))
			continue;
		if (b + a > size)
			size = b + a;
	}
	return size;
}

static void put32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

/* The frame up to its siginfo: registers, mask, where the FPU state is. */
static void frame_head(struct rt_sigframe *f, const struct user_regs_struct *r, uint64_t sigmask,
		       uint64_t fpstate, uint64_t pretcode)
{
	memset(f, 0, sizeof(*f));
	f->pretcode = pretcode;
	f->uc.uc_flags = UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
	f->uc.uc_link = FRAME_TAG;
	/* rt_sigreturn hands uc_stack to sigaltstack() and ignores every
	 * error but EFAULT: an invalid mode (3: both SS_ONSTACK and
	 * SS_DISABLE) leaves the process's alternate stack as it is. */
	f->uc.ss_flags = 3;
	f->uc.mc.r8 = r->r8;
	f->uc.mc.r9 = r->r9;
	f->uc.mc.r10 = r->r10;
	f->uc.mc.r11 = r->r11;
	f->uc.mc.r12 = r->r12;
	f->uc.mc.r13 = r->r13;
	f->uc.mc.r14 = r->r14;
	f->uc.mc.r15 = r->r15;
	f->uc.mc.rdi = r->rdi;
	f->uc.mc.rsi = r->rsi;
	f->uc.mc.rbp = r->rbp;
	f->uc.mc.rbx = r->rbx;
	f->uc.mc.rdx = r->rdx;
	f->uc.mc.rax = r->rax;
	f->uc.mc.rcx = r->rcx;
	f->uc.mc.rsp = r->rsp;
	f->uc.mc.rip = r->rip;
	f->uc.mc.eflags = r->eflags;
	f->uc.mc.cs = (uint16_t)r->cs;
	f->uc.mc.ss = (uint16_t)r->ss;
	f->uc.mc.fpstate = fpstate;
	f->uc.uc_sigmask = sigmask;
}

void sigframe_chain(const struct user_regs_struct *r, uint64_t sigmask, uint64_t fpstate,
		    uint64_t pretcode, void *buf)
{
	struct rt_sigframe f;

	frame_head(&f, r, sigmask, fpstate, pretcode);
	memcpy(buf, &f, sizeof(f));
}

int sigframe_build(const struct user_regs_struct *r, uint64_t sigmask,
		   const void *xsave, size_t xlen, uint64_t pretcode,
		   struct sigframe_image *img)
{
	uint64_t features = xcr0(), xstate_bv, sp, area_end;
	uint64_t tile = 1ull << XFEATURE_XTILEDATA;
	uint32_t dflt, full, size;
	struct fpx_sw_bytes sw = { 0 };
	struct rt_sigframe f;

	memset(img, 0, sizeof(*img));
	if (!features)
		return err_msg(ENOTSUP, "the CPU has no XSAVE: cannot build a signal frame");
	if (xlen < XSAVE_MIN_SIZE)
		return err_msg(EINVAL, "extended state of %zu bytes is too short for a signal frame", xlen);
	memcpy(&xstate_bv, (const unsigned char *)xsave + XSAVE_HDR_OFFSET, sizeof(xstate_bv));

	/*
	 * rt_sigreturn takes the XSAVE image only if its software bytes match
	 * the task's own fpstate->user_size: older kernels want xstate_size <=
	 * user_size and FP_XSTATE_MAGIC2 at fpstate + xstate_size, newer ones
	 * (6.16 on) look for MAGIC2 at fpstate + user_size whatever the frame
	 * says.  Otherwise they silently restore x87/SSE only, losing the
	 * upper halves of the AVX registers.  user_size is the default size
	 * (without the dynamic AMX tile data) unless the task has used AMX,
	 * which it may have done and then released: MAGIC2 goes at both ends
	 * then, and the tile data (not in xfeatures) is put in its init state,
	 * as it is already.
	 */
	dflt = xsave_size(features & ~tile);
	full = xsave_size(features);
	if (xstate_bv & tile) {
		size = full;
	} else {
		size = dflt;
		features &= ~tile;
	}
	if (xlen < size)
		return err_msg(EINVAL, "extended state of %zu bytes, but the CPU's takes %u", xlen, size);

	/* Where the kernel would put a signal frame now: below the red zone,
	 * the XSAVE area 64-byte aligned, then the frame, so that rsp + 8 is
	 * 16-byte aligned once `ret` has popped pretcode. */
	sp = r->rsp - SIGFRAME_REDZONE;
	img->fpstate = (sp - full - sizeof(uint32_t)) & ~63ull;
	img->addr = ((img->fpstate - sizeof(f)) & ~15ull) - 8;
	img->scratch = img->addr + offsetof(struct rt_sigframe, info);
	area_end = img->fpstate + full + sizeof(uint32_t);
	if (img->addr > r->rsp)
		return err_msg(EINVAL, "stack pointer 0x%llx too low for a signal frame",
			       (unsigned long long)r->rsp);
	img->len = (size_t)(area_end - img->addr);
	img->buf = calloc(1, img->len);
	if (!img->buf)
		return err_sys(ENOMEM, "signal frame");

	frame_head(&f, r, sigmask, img->fpstate, pretcode);
	memcpy(img->buf, &f, sizeof(f));

	/* The XSAVE image as ptrace gave it (standard format, xcomp_bv 0),
	 * with software bytes that describe this frame, not the regset. */
	{
		unsigned char *x = img->buf + (img->fpstate - img->addr);

		memcpy(x, xsave, size);
		sw.magic1 = FP_XSTATE_MAGIC1;
		sw.extended_size = size + (uint32_t)sizeof(uint32_t);
		sw.xfeatures = features;
		sw.xstate_size = size;
		memcpy(x + FPX_SW_OFFSET, &sw, sizeof(sw));
		put32(x + size, FP_XSTATE_MAGIC2);
		if (full != size)
			put32(x + full, FP_XSTATE_MAGIC2);
	}
	return 0;
}

void sigframe_free(struct sigframe_image *img)
{
	free(img->buf);
	img->buf = NULL;
}

int sigframe_parse(const void *head, uint64_t pretcode, struct user_regs_struct *r,
		   uint64_t *sigmask)
{
	struct rt_sigframe f;

	_Static_assert(sizeof(f) == SIGFRAME_HEAD_SIZE, "the frame's head");
	memcpy(&f, head, sizeof(f));
	if (f.pretcode != pretcode || f.uc.uc_link != FRAME_TAG ||
	    f.uc.uc_flags != (UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS))
		return 0;
	r->r8 = f.uc.mc.r8;
	r->r9 = f.uc.mc.r9;
	r->r10 = f.uc.mc.r10;
	r->r11 = f.uc.mc.r11;
	r->r12 = f.uc.mc.r12;
	r->r13 = f.uc.mc.r13;
	r->r14 = f.uc.mc.r14;
	r->r15 = f.uc.mc.r15;
	r->rdi = f.uc.mc.rdi;
	r->rsi = f.uc.mc.rsi;
	r->rbp = f.uc.mc.rbp;
	r->rbx = f.uc.mc.rbx;
	r->rdx = f.uc.mc.rdx;
	r->rax = f.uc.mc.rax;
	r->rcx = f.uc.mc.rcx;
	r->rsp = f.uc.mc.rsp;
	r->rip = f.uc.mc.rip;
	r->eflags = f.uc.mc.eflags;
	r->cs = f.uc.mc.cs;
	r->ss = f.uc.mc.ss;
	/* rt_sigreturn leaves the thread outside any system call. */
	r->orig_rax = (unsigned long long)-1;
	*sigmask = f.uc.uc_sigmask;
	return 1;
}
