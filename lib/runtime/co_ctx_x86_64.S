/*
 * co_ctx_x86_64.S — context switch for x86-64 (System V ABI).
 *
 * Saved frame, from the saved stack pointer upwards:
 *   0: MXCSR (4 bytes) and x87 control word (2 bytes, padded)
 *   8: r15, r14, r13, r12, rbx, rbp, then the return address.
 * co_ctx_make (co_ctx.c) builds the same frame for a new context, with the
 * entry function in r12, its argument in r13, and co_ctx_trampoline as the
 * return address.
 */
	.text
	.globl	co_ctx_switch
	.type	co_ctx_switch, @function
	.p2align 4
co_ctx_switch:				/* rdi = from, rsi = to */
	.cfi_startproc
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$8, %rsp
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movq	%rsp, (%rdi)
	movq	(%rsi), %rsp
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.cfi_endproc
	.size	co_ctx_switch, .-co_ctx_switch

/* First code a new context runs: call entry(arg).  entry never returns. */
	.globl	co_ctx_trampoline
	.hidden	co_ctx_trampoline
	.type	co_ctx_trampoline, @function
	.p2align 4
co_ctx_trampoline:
	.cfi_startproc
	.cfi_undefined rip		/* outermost frame for debuggers */
	movq	%r13, %rdi
	callq	*%r12
	ud2
	.cfi_endproc
	.size	co_ctx_trampoline, .-co_ctx_trampoline

	.section .note.GNU-stack,"",@progbits
