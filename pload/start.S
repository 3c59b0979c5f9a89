/* start.S: pload's entry point and the two instructions pthaw borrows. */
	.section .text.start, "ax"
	.globl _start
_start:
	xor	%ebp, %ebp
	mov	%rsp, %rdi		/* argc, argv, envp, auxv */
	and	$-16, %rsp
	call	pload_main
	hlt

/* pthaw runs system calls in a stopped pload by pointing rip here. */
	.globl pload_gadget
pload_gadget:
	syscall
	int3

/* void pload_run_on(void *stack_top, void (*fn)(void)): never returns */
	.globl pload_run_on
pload_run_on:
	mov	%rdi, %rsp
	xor	%ebp, %ebp
	call	*%rsi
	hlt

/* long pload_clone_parked(struct clone_args *args, unsigned long size):
 * clone3 for a new thread of pload's.  The new thread shares the caller's
 * stack pointer (no stack of its own is asked for), so it must never
 * touch the stack: it loops in pause() on registers alone, all signals
 * blocked (inherited), until pthaw replaces its registers. */
	.globl pload_clone_parked
pload_clone_parked:
	mov	$435, %eax		/* clone3 */
	syscall
	test	%rax, %rax
	jnz	2f
1:	mov	$34, %eax		/* pause */
	syscall
	jmp	1b
2:	ret

	.section .note.GNU-stack, "", @progbits
