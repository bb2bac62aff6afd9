/*
 * co.h — stackful coroutines on one libevent event_base (asyncio, in C).
 *
 * A runtime (struct co_rt) is bound to one event_base and one thread.  Tasks
 * are coroutines with their own stacks; they run only from the runtime's
 * runner, never inside libevent callbacks, and never run the event loop
 * themselves.  libevent callbacks (timers, I/O, signals) only *wake* tasks.
 *
 * Every await returns an int: 0 on success, -ECANCELED when the task was
 * cancelled, -ETIMEDOUT when a deadline passed, or another negative errno.
 * Awaits may only be called from inside a task (co_self() != NULL).
 *
 * Cancellation is cooperative and sticky: once co_cancel(t) is called, t's
 * current await and every later one return -ECANCELED, except inside a
 * shield (co_shield_enter), which lets clean-up code await.
 *
 * Deadlines: co_scope_enter/co_scope_exit bracket a region like
 * `async with asyncio.timeout(s)`: every await inside returns -ETIMEDOUT
 * once the deadline has passed, and co_scope_exit reports whether it did.
 */
#ifndef JOBD_CO_H
#define JOBD_CO_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct co_rt;
struct co_task;

/* A task body.  Its return value (0 or a negative errno, by convention) is
 * what co_join() hands back. */
typedef int (*co_fn)(void *arg);

/* "No deadline" for every timeout argument in seconds. */
#define CO_FOREVER (-1.0)

struct co_rt_opts {
	size_t stack_size;   /* usable bytes per stack; 0 = CO_STACK_DEFAULT */
	size_t stack_keep;   /* free stacks kept resident; 0 = 256 */
	int pass_budget;     /* max resumes per runner pass; 0 = 512 */
};

/* 64 KiB, or 256 KiB in sanitizer builds (ASan frames are much larger). */
#ifdef JOBD_SANITIZE
#define CO_STACK_DEFAULT (256u * 1024)
#else
#define CO_STACK_DEFAULT (64u * 1024)
#endif

/* An event_base set up the way the runtime wants it: precise (timerfd)
 * timers and no time cache, so sub-millisecond sleeps are honoured.
 * Returns NULL on failure. */
struct event_base *co_base_new(void);

/* Create a runtime on base (the caller keeps owning base).  opts may be NULL.
 * Installs the stack-overflow reporter.  Returns NULL with errno set. */
struct co_rt *co_rt_new(struct event_base *base, const struct co_rt_opts *opts);

/* Free a runtime.  Every task must have ended (see co_rt_shutdown) and been
 * joined or detached; otherwise returns -EBUSY and frees nothing. */
int co_rt_free(struct co_rt *rt);

/* Spawn fn(arg) as a task and run the event loop until it ends; *result gets
 * its return value.  Returns 0, -ENOMEM, or -EDEADLK if the loop ran out of
 * events with the task still suspended (it is then cancelled and, if it
 * ends, released).  For programs and tests. */
int co_rt_run(struct co_rt *rt, co_fn fn, void *arg, int *result);

/* Cancel every live task and run the loop until all have ended; tasks
 * spawned from then on (by clean-up code) start cancelled.  Detached tasks
 * are released; joinable ones wait for their co_join.  The runtime stays
 * in that state: for the end of a program. */
void co_rt_shutdown(struct co_rt *rt);

struct event_base *co_rt_base(struct co_rt *rt);

/* Counters for tests, leak checks and stats. */
struct co_rt_stats {
	size_t tasks_live;        /* spawned and not yet released */
	size_t tasks_running;     /* not yet ended */
	size_t stacks_total;      /* stack slots mapped */
	size_t stacks_free;       /* of which in the pool */
	size_t arenas;            /* mappings holding the slots */
	unsigned long long switches;
	unsigned long long passes;
	bool guard_madvise;       /* guard pages cost no VMA (MADV_GUARD_INSTALL) */
};
void co_rt_stats(struct co_rt *rt, struct co_rt_stats *st);

/* ---- tasks ---------------------------------------------------------------- */

/* Start fn(arg) as a new task; it first runs on the next runner pass.
 * With taskp, the task is joinable and *taskp must later be joined or
 * detached; with taskp NULL it is detached.  Returns 0 or -ENOMEM. */
__attribute__((warn_unused_result))
int co_spawn(struct co_rt *rt, co_fn fn, void *arg, struct co_task **taskp);

/* Wait for t to end.  On 0, *result (if non-NULL) is t's return value and t
 * is released (the handle is dead).  On -ECANCELED/-ETIMEDOUT the wait was
 * interrupted and t is still joinable. */
__attribute__((warn_unused_result))
int co_join(struct co_task *t, int *result);

/* Give up the handle: t is released when it ends.  Also legal from outside
 * a task. */
void co_detach(struct co_task *t);

/* Request cancellation of t (sticky; idempotent).  Legal from anywhere on the
 * runtime's thread, including libevent callbacks and t itself. */
void co_cancel(struct co_task *t);

/* Has t ended?  (t not yet joined.) */
bool co_done(const struct co_task *t);

/* The running task, or NULL outside any task. */
struct co_task *co_self(void);

/* Has the running task been asked to cancel? */
bool co_cancelled(void);

/* Would an await fail right now?  Returns -ECANCELED (cancelled, outside a
 * shield), -ETIMEDOUT (a deadline scope that counts has expired), else 0 —
 * without suspending.  For loops whose steps may never block (a copy that
 * always finds its fd ready must still notice a cancel). */
int co_check(void);

/* Let every other ready task and pending I/O run, then continue.  Returns 0
 * or -ECANCELED. */
int co_yield(void);

/* Suspend for seconds (>= 0).  0, -ECANCELED, or -ETIMEDOUT (a scope's
 * deadline came first). */
int co_sleep(double seconds);

/* Cancel t and wait for its end whatever happens to the caller: its own
 * cancellation and deadlines do not interrupt this wait (structured
 * concurrency: a parent never leaves a child behind).  t is released;
 * *result (if non-NULL) gets its return value.  Always returns 0. */
int co_reap(struct co_task *t, int *result);

/* Run t to its end with a deadline, like asyncio.wait_for: if t has not
 * ended within timeout seconds it is cancelled and awaited, and -ETIMEDOUT is
 * returned.  Either way t is released.  If the caller itself is cancelled, t
 * is cancelled and awaited too and -ECANCELED is returned. */
__attribute__((warn_unused_result))
int co_wait_for(struct co_task *t, double timeout, int *result);

/* Monotonic clock in seconds; the time base of every deadline. */
double co_now(void);

/* ---- deadline scopes (asyncio.timeout) ------------------------------------- */

/* Lives on the caller's stack; fields are private. */
struct co_scope {
	double deadline;
	struct co_scope *outer;
	bool expired;
};

/* Enter a scope that expires timeout seconds from now (CO_FOREVER: never).
 * Scopes nest; the earliest deadline wins.  Must be called in a task. */
void co_scope_enter(struct co_scope *s, double timeout);

/* Leave the innermost scope s.  Returns -ETIMEDOUT if s's own deadline
 * interrupted an await inside it, else 0. */
int co_scope_exit(struct co_scope *s);

/* ---- shields (asyncio.shield, for clean-up) ------------------------------- */

/* Inside a shield, neither cancellation nor any deadline scope entered
 * before the shield interrupts awaits, so a cancelled or timed-out task can
 * await its clean-up (terminate a child and wait for it, hand back a lock).
 * Explicit timeouts and scopes entered inside the shield still apply, which
 * is how clean-up bounds itself.  Shields nest.  The cancel request and the
 * expired scopes stay recorded: awaits after the shield fail again.  Each
 * shield level holds off the scopes entered before it, so clean-up nested in
 * clean-up is protected too (at most 16 levels).  Scopes and shields must
 * nest: a scope entered before a shield cannot be exited inside it.
 */
void co_shield_enter(void);
void co_shield_exit(void);

#endif /* JOBD_CO_H */
