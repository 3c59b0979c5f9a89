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

	.section .note.GNU-stack, "", @progbits
