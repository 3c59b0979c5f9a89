/* test_sigframe.c: the rt_sigframe pfrez writes below a process's stack
 * pointer has the kernel's layout, alignment and FPU markers.  (That
 * rt_sigreturn really restores from it is shown end to end by
 * tests/e2e/killpoints.test.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86_64/sigframe.h"

static uint64_t u64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t u32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void build(uint64_t xstate_bv, struct sigframe_image *img, unsigned char **xsave)
{
	struct user_regs_struct r;
	size_t xlen = 1 << 16;

	memset(&r, 0, sizeof(r));
	r.rsp = 0x7ffd00010008;
	r.rip = 0x401234;
	r.rax = 0xfffffffffffffffc;
	r.r15 = 0x1515;
	r.eflags = 0x246;
	r.cs = 0x33;
	r.ss = 0x2b;
	*xsave = calloc(1, xlen);
	assert_non_null(*xsave);
	memset(*xsave, 0xab, 512);
	memcpy(*xsave + 512, &xstate_bv, sizeof(xstate_bv));
	assert_int_equal(sigframe_build(&r, 0xa00, *xsave, xlen, 0x7f0000001000, img), 0);
}

static void layout(void **state)
{
	struct sigframe_image img;
	unsigned char *x, *f, *fp;
	uint32_t size;

	(void)state;
	build(3, &img, &x);
	f = img.buf;
	/* After `ret` pops pretcode, rsp is 16-byte aligned, as at a
	 * handler's entry; the XSAVE area is 64-byte aligned. */
	assert_int_equal((img.addr + 8) % 16, 0);
	assert_int_equal(img.fpstate % 64, 0);
	assert_true(img.fpstate >= img.addr + 440);
	assert_true(img.addr + img.len <= 0x7ffd00010008 - 128);
	assert_int_equal(img.scratch, img.addr + 8 + 304);
	assert_int_equal(u64(f), 0x7f0000001000);			/* pretcode */
	assert_int_equal(u64(f + 8), 0x7);				/* uc_flags */
	assert_int_equal(u32(f + 8 + 16 + 8), 3);			/* uc_stack.ss_flags */
	assert_int_equal(u64(f + 48 + 7 * 8), 0x1515);			/* r15 */
	assert_int_equal(u64(f + 48 + 15 * 8), 0x7ffd00010008);	/* rsp */
	assert_int_equal(u64(f + 48 + 16 * 8), 0x401234);		/* rip */
	assert_int_equal(u64(f + 48 + 13 * 8), 0xfffffffffffffffc);	/* rax */
	assert_int_equal(f[48 + 144], 0x33);				/* cs */
	assert_int_equal(f[48 + 150], 0x2b);				/* ss */
	assert_int_equal(u64(f + 48 + 184), img.fpstate);		/* fpstate */
	assert_int_equal(u64(f + 8 + 296), 0xa00);			/* uc_sigmask */
	fp = f + (img.fpstate - img.addr);
	assert_int_equal(fp[0], 0xab);
	assert_int_equal(u32(fp + 464), 0x46505853);			/* magic1 */
	size = u32(fp + 464 + 16);
	assert_true(size >= 576);
	assert_int_equal(u32(fp + 464 + 4), size + 4);			/* extended_size */
	assert_int_equal(u32(fp + size), 0x46505845);			/* magic2 */
	assert_false(u64(fp + 464 + 8) & (1ull << 18));			/* no AMX tiles */
	sigframe_free(&img);
	free(x);
}

/* inject_unwind returns through a frame left behind only when it is one
 * of ours: sigframe_parse gives back what sigframe_build was given, and
 * refuses another return address or a frame without the tag (the
 * kernel's own leave uc_link 0). */
static void parse(void **state)
{
	struct user_regs_struct r;
	struct sigframe_image img;
	unsigned char *x, *f;
	uint64_t mask = 0;

	(void)state;
	build(3, &img, &x);
	f = img.buf;
	memset(&r, 0, sizeof(r));
	r.fs_base = 0xf5;
	r.orig_rax = 13;
	assert_int_equal(sigframe_parse(f, 0x7f0000001000, &r, &mask), 1);
	assert_int_equal(mask, 0xa00);
	assert_int_equal(r.rsp, 0x7ffd00010008);
	assert_int_equal(r.rip, 0x401234);
	assert_int_equal(r.rax, 0xfffffffffffffffc);
	assert_int_equal(r.r15, 0x1515);
	assert_int_equal(r.eflags, 0x246);
	assert_int_equal(r.cs, 0x33);
	assert_int_equal(r.ss, 0x2b);
	assert_int_equal(r.orig_rax, (unsigned long long)-1);	/* outside any call */
	assert_int_equal(r.fs_base, 0xf5);			/* not in a frame: kept */
	assert_int_equal(sigframe_parse(f, 0x7f0000002000, &r, &mask), 0);
	memset(f + 16, 0, 8);					/* uc_link */
	assert_int_equal(sigframe_parse(f, 0x7f0000001000, &r, &mask), 0);
	sigframe_free(&img);
	free(x);
}

/* A frame of inject_batch()'s chain: the head of sigframe_build()'s
 * (so that inject_unwind() knows it too), its FPU state read from the
 * XSAVE area given, which it does not hold. */
static void chain(void **state)
{
	struct user_regs_struct r, got;
	struct sigframe_image img;
	unsigned char *x, head[SIGFRAME_HEAD_SIZE];
	uint64_t mask = 0;

	(void)state;
	build(3, &img, &x);
	memset(&r, 0, sizeof(r));
	r.rsp = 0x7ffd00008008;
	r.rip = 0x402000;
	r.rax = 13;
	r.rdi = 10;
	r.rdx = 0x7ffd00007000;
	r.cs = 0x33;
	r.ss = 0x2b;
	sigframe_chain(&r, ~0ull, img.fpstate, 0x7f0000001000, head);
	memset(&got, 0, sizeof(got));
	assert_int_equal(sigframe_parse(head, 0x7f0000001000, &got, &mask), 1);
	assert_int_equal(mask, ~0ull);
	assert_int_equal(got.rsp, 0x7ffd00008008);
	assert_int_equal(got.rip, 0x402000);
	assert_int_equal(got.rax, 13);
	assert_int_equal(got.rdi, 10);
	assert_int_equal(got.rdx, 0x7ffd00007000);
	/* uc_mcontext.fpstate: ucontext at 8, sigcontext at 8 + 40, fpstate
	 * its 24th word; the same as the full frame's. */
	assert_int_equal(u64(head + 8 + 40 + 23 * 8), img.fpstate);
	assert_int_equal(u64(head + 8 + 40 + 23 * 8), u64(img.buf + 8 + 40 + 23 * 8));
	sigframe_free(&img);
	free(x);
}

static void too_short(void **state)
{
	struct user_regs_struct r;
	struct sigframe_image img;
	unsigned char x[512] = { 0 };

	(void)state;
	memset(&r, 0, sizeof(r));
	r.rsp = 0x7ffd00010000;
	assert_int_equal(sigframe_build(&r, 0, x, sizeof(x), 0x1000, &img), -22);
	assert_null(img.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(layout),
		cmocka_unit_test(parse),
		cmocka_unit_test(chain),
		cmocka_unit_test(too_short),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
