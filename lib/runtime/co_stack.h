/*
 * co_stack.h — the pool of coroutine stacks.
 *
 * Stacks are slots carved out of large mappings ("arenas"), each slot with a
 * 64 KiB guard region below it, transparent huge pages off (a 2 MiB page per 64 KiB
 * stack would defeat the point), and registered with valgrind while in use.
 * On kernels with MADV_GUARD_INSTALL (6.13+) a guard page costs no VMA, so an
 * arena of any number of stacks is one map entry; elsewhere each guard is an
 * mprotect()ed page and costs two map entries per stack, which is what
 * vm.max_map_count limits (see docs/RUNTIME.md).
 *
 * A task touching its guard page gets a clear "stack overflow" report on
 * stderr from a SIGSEGV handler on an alternate signal stack, then the
 * default action (a core dump) — never silent corruption.
 */
#ifndef JOBD_CO_STACK_H
#define JOBD_CO_STACK_H

#include <stdbool.h>
#include <stddef.h>

struct co_stack_pool;

struct co_stack {
	void *base;          /* lowest usable byte (just above the guard page) */
	size_t size;         /* usable bytes */
	size_t guard;        /* guard bytes just below base */
	unsigned vg_id;      /* valgrind stack id */
};

struct co_stack_pool_stats {
	size_t total, free, arenas;
	bool guard_madvise;
};

/* A pool of stacks of stack_size usable bytes (rounded up to pages), keeping
 * at most keep free stacks resident (the rest have their pages dropped).
 * Returns NULL with errno set. */
struct co_stack_pool *co_stack_pool_new(size_t stack_size, size_t keep);

/* Unmap everything.  Stacks still handed out become invalid. */
void co_stack_pool_free(struct co_stack_pool *p);

/* Take a stack from the pool (mapping a new arena when empty).  Returns 0 or
 * -ENOMEM (with one log line naming vm.max_map_count when that is why). */
__attribute__((warn_unused_result))
int co_stack_get(struct co_stack_pool *p, struct co_stack *st);

/* Give a stack back.  No frame on it may be live. */
void co_stack_put(struct co_stack_pool *p, const struct co_stack *st);

void co_stack_pool_stats(const struct co_stack_pool *p, struct co_stack_pool_stats *st);

/* Install the overflow reporter: a process-wide SIGSEGV/SIGBUS handler
 * (once) and an alternate signal stack for the calling thread.  Returns 0 or
 * a negative errno. */
int co_stack_reporter_init(void);

/* Tell the reporter which stack is running on this thread (NULL: none). */
void co_stack_set_running(const struct co_stack *st);

#endif /* JOBD_CO_STACK_H */
