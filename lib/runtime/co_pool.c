/*
 * co_pool.c — the executor: a fixed set of worker threads running blocking
 * functions for tasks.
 *
 * A call's life: co_pool_run() puts an item on the FIFO work queue and parks
 * the task; a worker takes the item, runs fn, and pushes the item onto the
 * done list, writing the eventfd only when that list was empty; the loop
 * thread's event callback reads the eventfd, takes the whole done list and
 * wakes each item's task (or disposes of the item if its task gave up).  So
 * one eventfd write can deliver any number of results, and worker threads
 * never touch libevent or tasks.
 *
 * Locking.  One mutex, pool->mtx, protects everything a worker touches:
 * the work queue and done list (and so each item's link), item->state and
 * item->result, pool->stopping and the queued/running/completed/notifies
 * counters.
 * pool->cv (with mtx) wakes idle workers when the queue gains an item or
 * the pool stops.  Everything else — item->waiter/cleanup/delivered, the
 * spare list, the event, the outstanding/inside/abandoned/wakeups counters —
 * is touched only by the loop thread, so needs no lock.  item->fn and
 * item->arg are written before the item is queued (under mtx) and read-only
 * until it comes back (under mtx again), which orders both sides.
 *
 * Item memory: allocated by co_pool_run() (or taken from a small spare
 * list), freed only on the loop thread once no worker can reach it — by the
 * awaiting task, by the event callback for abandoned work, or by
 * co_pool_free().  The queue is bounded by the number of parked tasks (each
 * queued item has one), the abandoned running items by the thread count.
 *
 * No lost wake-ups: the callback reads the eventfd *before* taking the done
 * list.  A completion after the read either lands in the list it takes, or
 * finds the list empty and writes the eventfd again, which fires the
 * callback again (at worst once too often, finding nothing).
 *
 * The event is added only while work is outstanding, so an idle pool does
 * not keep the loop alive (nor hide a deadlock from co_rt_run()).
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/queue.h>
#include <unistd.h>

#include <event2/event.h>

#include "co.h"
#include "co_pool.h"
#include "co_sched.h"
#include "log.h"

/* Freed items kept for reuse; past this they go back to malloc. */
#define POOL_SPARE_MAX 64

enum item_state { I_QUEUED, I_RUNNING, I_DONE };

struct pool_item {
	co_pool_fn fn;                  /* set before queueing, then read-only */
	void *arg;
	enum item_state state;          /* under mtx */
	void *result;                   /* under mtx, set by the worker */
	TAILQ_ENTRY(pool_item) link;    /* queue/done (mtx) or spare (loop) */
	co_pool_cleanup cleanup;        /* loop thread only from here on */
	struct co_task *waiter;         /* NULL once abandoned */
	bool delivered;                 /* off the done list: loop owns it */
};

TAILQ_HEAD(item_list, pool_item);

struct co_pool {
	struct co_rt *rt;
	struct event *ev;               /* efd readable; added while armed */
	int efd;
	unsigned nthreads;              /* started so far */
	pthread_t *threads;

	pthread_mutex_t mtx;            /* see the top of the file */
	pthread_cond_t cv;              /* queue non-empty or stopping */
	struct item_list queue, done;
	bool stopping;                  /* written by the loop thread only */
	size_t queued, running;
	unsigned long long completed, notifies;

	struct item_list spare;         /* loop thread only below */
	size_t nspare;
	size_t outstanding;             /* queued, running or on done */
	size_t inside;                  /* tasks in co_pool_run() */
	bool armed;
	unsigned long long abandoned, wakeups;
};

/* ---- worker threads ------------------------------------------------------ */

/* Under mtx: hand a finished item to the loop.  Returns true when the done
 * list was empty, i.e. the caller must write the eventfd. */
static bool
finish_locked(struct co_pool *pool, struct pool_item *it, void *result)
{
	bool first = TAILQ_EMPTY(&pool->done);

	it->result = result;
	it->state = I_DONE;
	TAILQ_INSERT_TAIL(&pool->done, it, link);
	pool->running--;
	pool->completed++;
	if (first)
		pool->notifies++;
	return first;
}

static void
notify_loop(struct co_pool *pool)
{
	uint64_t one = 1;

	/* Only EAGAIN (a counter near 2^64) or EBADF could fail here; either
	 * would strand tasks forever, so do not limp on. */
	if (write(pool->efd, &one, sizeof(one)) != sizeof(one))
		fatal("co_pool: eventfd write");
}

static void *
worker_main(void *arg)
{
	struct co_pool *pool = arg;
	struct pool_item *it;
	void *result;
	bool first;

	pthread_mutex_lock(&pool->mtx);
	for (;;) {
		while (TAILQ_EMPTY(&pool->queue) && !pool->stopping)
			pthread_cond_wait(&pool->cv, &pool->mtx);
		if ((it = TAILQ_FIRST(&pool->queue)) == NULL)
			break;                  /* stopping, queue drained */
		TAILQ_REMOVE(&pool->queue, it, link);
		it->state = I_RUNNING;
		pool->queued--;
		pool->running++;
		pthread_mutex_unlock(&pool->mtx);
		result = it->fn(it->arg);
		pthread_mutex_lock(&pool->mtx);
		first = finish_locked(pool, it, result);
		pthread_mutex_unlock(&pool->mtx);
		if (first)                      /* it may be freed by now */
			notify_loop(pool);
		pthread_mutex_lock(&pool->mtx);
	}
	pthread_mutex_unlock(&pool->mtx);
	return NULL;
}

/* Start n workers with every asynchronous signal blocked (they inherit the
 * mask), so SIGTERM, SIGCHLD and friends are only ever delivered to the
 * loop thread.  Fault signals stay unblocked: they are thread-directed
 * anyway, and a blocked SIGSEGV would bypass the sanitizers' reports. */
static int
start_threads(struct co_pool *pool, unsigned n)
{
	sigset_t all, old;
	int rc = 0;

	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	while (pool->nthreads < n) {
		rc = pthread_create(&pool->threads[pool->nthreads], NULL,
		    worker_main, pool);
		if (rc != 0)
			break;
		pthread_setname_np(pool->threads[pool->nthreads], "co_pool");
		pool->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -rc;
}

/* Let the workers finish the queue, then join them. */
static void
stop_threads(struct co_pool *pool)
{
	pthread_mutex_lock(&pool->mtx);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->cv);
	pthread_mutex_unlock(&pool->mtx);
	for (unsigned i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
	pool->nthreads = 0;
}

/* ---- items (loop thread) ------------------------------------------------- */

static struct pool_item *
item_get(struct co_pool *pool)
{
	struct pool_item *it;

	if ((it = TAILQ_FIRST(&pool->spare)) == NULL)
		return malloc(sizeof(*it));
	TAILQ_REMOVE(&pool->spare, it, link);
	pool->nspare--;
	return it;
}

static void
item_put(struct co_pool *pool, struct pool_item *it)
{
	if (pool->nspare >= POOL_SPARE_MAX) {
		free(it);
		return;
	}
	TAILQ_INSERT_HEAD(&pool->spare, it, link);
	pool->nspare++;
}

/* Abandoned work is over: give arg and result to cleanup, free the item. */
static void
item_dispose(struct co_pool *pool, struct pool_item *it, void *result)
{
	if (it->cleanup != NULL)
		it->cleanup(it->arg, result);
	item_put(pool, it);
}

/* ---- the way back (loop thread) ------------------------------------------ */

static void
disarm_if_idle(struct co_pool *pool)
{
	if (pool->outstanding > 0 || !pool->armed)
		return;
	event_del(pool->ev);
	pool->armed = false;
}

/* One item came off the done list.  If its task is still waiting, wake it;
 * the task reads the result and frees the item.  If co_wake() fails, a
 * cancel or deadline woke the task first: it will see `delivered` and
 * dispose of the item itself.  If the task gave up already, dispose now. */
static void
deliver(struct co_pool *pool, struct pool_item *it)
{
	pool->outstanding--;
	it->delivered = true;
	if (it->waiter == NULL)
		item_dispose(pool, it, it->result);
	else
		(void)co_wake(it->waiter, 0);
}

/* Take every finished item and deliver it.  Returns how many. */
static size_t
drain(struct co_pool *pool)
{
	struct item_list batch = TAILQ_HEAD_INITIALIZER(batch);
	struct pool_item *it;
	size_t n = 0;

	pthread_mutex_lock(&pool->mtx);
	TAILQ_CONCAT(&batch, &pool->done, link);
	pthread_mutex_unlock(&pool->mtx);
	while ((it = TAILQ_FIRST(&batch)) != NULL) {
		TAILQ_REMOVE(&batch, it, link);
		deliver(pool, it);
		n++;
	}
	disarm_if_idle(pool);
	return n;
}

static void
pool_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct co_pool *pool = arg;
	uint64_t n;

	(void)what;
	/* Reset the counter first: see "No lost wake-ups" at the top. */
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("co_pool: eventfd read");
	if (drain(pool) > 0)
		pool->wakeups++;
}

/* ---- the task side ------------------------------------------------------- */

/* Queue it for the workers.  0, or -ENOMEM if the event cannot be added
 * (then nothing was queued). */
static int
submit(struct co_pool *pool, struct pool_item *it)
{
	if (!pool->armed) {
		if (event_add(pool->ev, NULL) == -1)
			return -ENOMEM;
		pool->armed = true;
	}
	pool->outstanding++;
	pthread_mutex_lock(&pool->mtx);
	it->state = I_QUEUED;
	TAILQ_INSERT_TAIL(&pool->queue, it, link);
	pool->queued++;
	pthread_cond_signal(&pool->cv);
	pthread_mutex_unlock(&pool->mtx);
	return 0;
}

/* Take it back off the queue if no worker has started it yet. */
static bool
unqueue(struct co_pool *pool, struct pool_item *it)
{
	bool queued;

	pthread_mutex_lock(&pool->mtx);
	if ((queued = it->state == I_QUEUED)) {
		TAILQ_REMOVE(&pool->queue, it, link);
		pool->queued--;
	}
	pthread_mutex_unlock(&pool->mtx);
	return queued;
}

/* The awaiting task gave up (cancel or deadline); the pool owns it now. */
static void
abandon(struct co_pool *pool, struct pool_item *it)
{
	pool->abandoned++;
	if (it->delivered) {                    /* fn returned: clean up now */
		item_dispose(pool, it, it->result);
	} else if (unqueue(pool, it)) {         /* fn never started */
		pool->outstanding--;
		disarm_if_idle(pool);
		item_dispose(pool, it, NULL);
	} else {                /* running or done: deliver() cleans up */
		it->waiter = NULL;
	}
}

int
co_pool_run(struct co_pool *pool, co_pool_fn fn, void *arg,
    co_pool_cleanup cleanup, void **result)
{
	struct pool_item *it;
	int rc;

	assert(co_current_rt() == pool->rt && "co_pool_run outside its runtime");
	if (pool->stopping)
		return -ESHUTDOWN;
	if ((it = item_get(pool)) == NULL)
		return -ENOMEM;
	it->fn = fn;
	it->arg = arg;
	it->cleanup = cleanup;
	it->waiter = co_self();
	it->delivered = false;
	if ((rc = submit(pool, it)) < 0) {
		item_put(pool, it);
		return rc;
	}
	pool->inside++;
	do                      /* only deliver() wakes us with 0 */
		rc = co_park(CO_FOREVER, 0);
	while (rc == 0 && !it->delivered);
	pool->inside--;
	if (rc < 0) {
		abandon(pool, it);
		return rc;
	}
	if (result != NULL)
		*result = it->result;
	item_put(pool, it);
	return 0;
}

/* ---- life cycle ---------------------------------------------------------- */

/* Safe on a half-built pool (threads, ev, efd may be missing). */
static void
pool_destroy(struct co_pool *pool)
{
	struct pool_item *it;

	stop_threads(pool);
	(void)drain(pool);              /* every item left is abandoned */
	assert(pool->outstanding == 0);
	while ((it = TAILQ_FIRST(&pool->spare)) != NULL) {
		TAILQ_REMOVE(&pool->spare, it, link);
		free(it);
	}
	if (pool->ev != NULL)
		event_free(pool->ev);
	if (pool->efd != -1)
		close(pool->efd);
	pthread_cond_destroy(&pool->cv);
	pthread_mutex_destroy(&pool->mtx);
	free(pool->threads);
	free(pool);
}

struct co_pool *
co_pool_new(struct co_rt *rt, unsigned nthreads)
{
	struct co_pool *pool;
	int rc = -ENOMEM;

	if (nthreads == 0)
		nthreads = CO_POOL_THREADS_DEFAULT;
	if (nthreads > CO_POOL_THREADS_MAX) {
		errno = EINVAL;
		return NULL;
	}
	if ((pool = calloc(1, sizeof(*pool))) == NULL)
		return NULL;
	pool->rt = rt;
	pool->efd = -1;
	pthread_mutex_init(&pool->mtx, NULL);
	pthread_cond_init(&pool->cv, NULL);
	TAILQ_INIT(&pool->queue);
	TAILQ_INIT(&pool->done);
	TAILQ_INIT(&pool->spare);
	if ((pool->threads = calloc(nthreads, sizeof(pthread_t))) == NULL)
		goto fail;
	if ((pool->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		rc = -errno;
		goto fail;
	}
	pool->ev = event_new(co_rt_base(rt), pool->efd, EV_READ | EV_PERSIST,
	    pool_event_cb, pool);
	if (pool->ev == NULL || (rc = start_threads(pool, nthreads)) < 0)
		goto fail;
	return pool;
fail:
	pool_destroy(pool);
	errno = -rc;
	return NULL;
}

void
co_pool_free(struct co_pool *pool)
{
	if (pool == NULL)
		return;
	/* Such a task would touch the pool (and its item) after the free. */
	if (pool->inside > 0)
		fatalx("co_pool_free: %zu task(s) still in co_pool_run",
		    pool->inside);
	pool_destroy(pool);
}

void
co_pool_stats(struct co_pool *pool, struct co_pool_stats *st)
{
	pthread_mutex_lock(&pool->mtx);
	st->queued = pool->queued;
	st->running = pool->running;
	st->completed = pool->completed;
	st->notifies = pool->notifies;
	pthread_mutex_unlock(&pool->mtx);
	st->threads = pool->nthreads;
	st->abandoned = pool->abandoned;
	st->wakeups = pool->wakeups;
}
