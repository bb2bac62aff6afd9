/*
 * co_pool.h — the executor: blocking functions on a pool of threads
 * (asyncio's run_in_executor).
 *
 * A task hands a blocking function (an fsync, a SQLite commit, a DNS lookup)
 * to co_pool_run() and awaits its result; the loop keeps running other tasks
 * meanwhile.  Functions run FIFO on a fixed set of worker threads started by
 * co_pool_new().  Worker threads never touch the event_base or any task:
 * results come back to the loop thread through one eventfd.  Worker threads
 * block every signal, so signals stay with the loop thread.
 *
 * Ownership of arg: co_pool_run() hands arg to fn on a worker thread.
 *  - It returns 0: fn(arg) ran, *result is its return value, and arg is the
 *    caller's again.
 *  - It returns -ENOMEM or -ESHUTDOWN: the work was never submitted; fn is
 *    not run, cleanup is not called, arg stays the caller's.
 *  - It returns -ECANCELED or -ETIMEDOUT: the work is *abandoned* and arg
 *    (and fn's result) belong to the pool from then on.  If fn never
 *    started, it never will: cleanup(arg, NULL) is called before
 *    co_pool_run() returns.  Otherwise cleanup(arg, result) is called on the
 *    loop thread once fn has returned — possibly before co_pool_run()
 *    returns, if fn had already finished.  Exactly one call either way.
 * cleanup may be NULL (nothing to free).  It runs on the loop thread, from
 * a task or from a libevent callback, and must neither block nor await.
 */
#ifndef JOBD_CO_POOL_H
#define JOBD_CO_POOL_H

#include <stddef.h>

struct co_rt;
struct co_pool;

/* A blocking function run on a worker thread.  It must not touch the
 * runtime, tasks or the event_base. */
typedef void *(*co_pool_fn)(void *arg);

/* Called on the loop thread for abandoned work; see the top of this file. */
typedef void (*co_pool_cleanup)(void *arg, void *result);

/* Default and ceiling for co_pool_new's nthreads. */
#define CO_POOL_THREADS_DEFAULT 4
#define CO_POOL_THREADS_MAX     256

/* Create a pool on rt with nthreads worker threads (0: the default),
 * started at once.  Call from the loop thread.  Returns NULL with errno set
 * (EINVAL past CO_POOL_THREADS_MAX, ENOMEM, or pthread_create's error). */
struct co_pool *co_pool_new(struct co_rt *rt, unsigned nthreads);

/* Stop accepting work, let queued and running work finish (blocking the
 * caller meanwhile), call cleanup for abandoned work, join the threads and
 * free everything.  Must be called on the loop thread while no task is
 * inside co_pool_run() — not even one woken but not yet resumed — so after
 * every task using the pool has returned from it (co_reap() ensures that).
 * NULL is a no-op. */
void co_pool_free(struct co_pool *pool);

/* Await fn(arg) on a worker thread.  Returns 0 with *result (if non-NULL)
 * set to fn's return value, -ECANCELED or -ETIMEDOUT (the task's
 * cancellation and deadline scopes apply as to any await; arg is then the
 * pool's), -ENOMEM or -ESHUTDOWN (arg stays the caller's).  Only from a task
 * of the pool's runtime. */
__attribute__((warn_unused_result))
int co_pool_run(struct co_pool *pool, co_pool_fn fn, void *arg,
    co_pool_cleanup cleanup, void **result);

struct co_pool_stats {
	unsigned threads;               /* worker threads */
	size_t queued;                  /* submitted, waiting for a thread */
	size_t running;                 /* in fn on a thread now */
	unsigned long long completed;   /* fn calls that returned, ever */
	unsigned long long abandoned;   /* co_pool_run calls given up, ever */
	unsigned long long notifies;    /* eventfd writes by the workers */
	unsigned long long wakeups;     /* eventfd callbacks that found work */
};

/* A consistent snapshot of the counters.  Loop thread only. */
void co_pool_stats(struct co_pool *pool, struct co_pool_stats *st);

#endif /* JOBD_CO_POOL_H */
