/*
 * co_ctx.h — the machine context switch under the coroutines.
 *
 * A context is one saved stack pointer: co_ctx_switch pushes the callee-saved
 * registers (and the FP control words) on the current stack, stores the stack
 * pointer in *from, loads to's and pops.  Everything caller-saved is already
 * saved by the C call itself, which is why the switch is a handful of
 * instructions.  The ucontext build (CO_CTX_UCONTEXT) swaps whole ucontexts
 * instead: portable, and a few hundred times slower (a sigprocmask syscall).
 */
#ifndef JOBD_CO_CTX_H
#define JOBD_CO_CTX_H

#include <stddef.h>

#ifdef CO_CTX_UCONTEXT
#include <ucontext.h>
struct co_ctx {
	ucontext_t uc;
};
#else
struct co_ctx {
	void *sp;
};
#endif

/* Prepare ctx to run entry(arg) on the stack [stack, stack + size) the first
 * time it is switched to.  entry must never return. */
void co_ctx_make(struct co_ctx *ctx, void *stack, size_t size,
    void (*entry)(void *), void *arg);

/* Save the running context in from and resume to. */
void co_ctx_switch(struct co_ctx *from, struct co_ctx *to);

#endif /* JOBD_CO_CTX_H */
