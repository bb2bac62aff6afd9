/*
 * co_ctx.c — building the first frame of a new context.
 *
 * The assembly switch (co_ctx_*.S) pops a saved frame; a new context gets a
 * hand-made one whose "return address" is co_ctx_trampoline.  The ucontext
 * build uses makecontext/swapcontext instead.
 */
#include <stdint.h>
#include <string.h>

#include "co_ctx.h"

#ifdef CO_CTX_UCONTEXT

static void
ctx_uc_entry(unsigned int hi, unsigned int lo, unsigned int fhi, unsigned int flo)
{
	void *arg = (void *)(((uintptr_t)hi << 32) | lo);
	void (*entry)(void *) = (void (*)(void *))(((uintptr_t)fhi << 32) | flo);

	entry(arg);
}

void
co_ctx_make(struct co_ctx *ctx, void *stack, size_t size,
    void (*entry)(void *), void *arg)
{
	uintptr_t a = (uintptr_t)arg, f = (uintptr_t)entry;

	getcontext(&ctx->uc);
	ctx->uc.uc_stack.ss_sp = stack;
	ctx->uc.uc_stack.ss_size = size;
	ctx->uc.uc_link = NULL;
	/* makecontext passes ints: split the pointers in halves. */
	makecontext(&ctx->uc, (void (*)(void))ctx_uc_entry, 4,
	    (unsigned int)(a >> 32), (unsigned int)a,
	    (unsigned int)(f >> 32), (unsigned int)f);
}

void
co_ctx_switch(struct co_ctx *from, struct co_ctx *to)
{
	swapcontext(&from->uc, &to->uc);
}

#else /* assembly switch */

void co_ctx_trampoline(void);

void
co_ctx_make(struct co_ctx *ctx, void *stack, size_t size,
    void (*entry)(void *), void *arg)
{
	/* Top of stack, 16-byte aligned, with 16 bytes left zero so that a
	 * debugger's backtrace ends cleanly. */
	uintptr_t top = ((uintptr_t)stack + size) & ~(uintptr_t)15;
	uintptr_t *sp = (uintptr_t *)(top - 16);

	sp[0] = sp[1] = 0;
#if defined(__x86_64__)
	/* After the switch's final `ret` the stack pointer is `top - 16`,
	 * 16-byte aligned, as the trampoline's call requires. */
	*--sp = (uintptr_t)co_ctx_trampoline;   /* return address */
	*--sp = 0;                              /* rbp */
	*--sp = 0;                              /* rbx */
	*--sp = (uintptr_t)entry;               /* r12 */
	*--sp = (uintptr_t)arg;                 /* r13 */
	*--sp = 0;                              /* r14 */
	*--sp = 0;                              /* r15 */
	*--sp = (uintptr_t)0x037f << 32 | 0x1f80; /* default fcw | mxcsr */
#elif defined(__aarch64__)
	sp -= 176 / sizeof(*sp);
	memset(sp, 0, 176);
	sp[0] = (uintptr_t)entry;               /* x19 */
	sp[1] = (uintptr_t)arg;                 /* x20 */
	sp[11] = (uintptr_t)co_ctx_trampoline;  /* x30 (lr) */
#else
#error "no assembly context switch for this CPU: build with JOBD_UCONTEXT=ON"
#endif
	ctx->sp = sp;
}

#endif
