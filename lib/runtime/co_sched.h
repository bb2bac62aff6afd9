/*
 * co_sched.h — the scheduler's interface for building awaitables.
 *
 * Everything that suspends a task (sleep, semaphores, queues, fd waits,
 * child processes, the executor, jobd's own store waits) is built from two
 * calls: co_park() suspends the running task, co_wake() makes a parked task
 * ready again with a status.  Wakes are first-wins: a task woken by a
 * deadline or a cancel is no longer parked, so a later co_wake() on it
 * returns false and the waker must pick someone else.
 *
 * co_waitq is the FIFO list of parked tasks that most primitives need.
 */
#ifndef JOBD_CO_SCHED_H
#define JOBD_CO_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>

#include "co.h"

/* Suspend the running task until co_wake(), cancellation or a deadline.
 * deadline is absolute (co_now() time) or CO_FOREVER; when it passes the
 * task wakes with expiry_status (0 for a sleep, -ETIMEDOUT for a wait).  A
 * deadline scope that expires first wakes it with -ETIMEDOUT.
 * Returns at once, without suspending, with -ECANCELED if the task is
 * cancelled (and not shielded) or -ETIMEDOUT if a scope already expired. */
int co_park(double deadline, int expiry_status);

/* The absolute deadline timeout seconds from now, for co_park;
 * CO_FOREVER (any negative timeout) stays CO_FOREVER. */
double co_deadline(double timeout);

/* Make t ready with status (what its co_park returns).  Returns false, doing
 * nothing, if t is not parked.  Legal from libevent callbacks and tasks. */
bool co_wake(struct co_task *t, int status);

/* The runtime the running task belongs to, or NULL outside tasks. */
struct co_rt *co_current_rt(void);

/* Misuse that would corrupt the runtime (an await outside a task, scopes
 * that do not nest, a group freed under running children): checked in every
 * build, NDEBUG or not — log what and where, then abort(). */
#define CO_MUST(cond, what)                                             \
	do {                                                            \
		if (__builtin_expect(!(cond), 0))                       \
			co_misuse(__func__, (what));                    \
	} while (0)

void co_misuse(const char *func, const char *what) __attribute__((noreturn));

/* ---- wait queues ---------------------------------------------------------- */

struct co_waiter {
	struct co_task *task;
	void *data;                  /* for the waker, e.g. a hand-off slot */
	bool linked;
	TAILQ_ENTRY(co_waiter) link;
};

struct co_waitq {
	TAILQ_HEAD(, co_waiter) head;
};

void co_waitq_init(struct co_waitq *q);

/* Park the running task at the tail of q with data for the waker.  Returns
 * the waker's status, or -ECANCELED/-ETIMEDOUT (then the task has taken
 * itself off q). */
int co_waitq_wait(struct co_waitq *q, double deadline, void *data);

/* Wake the first task on q that is still parked, with status, and take it
 * off q.  Returns its waiter (valid until that task runs) or NULL. */
struct co_waiter *co_waitq_wake_one(struct co_waitq *q, int status);

/* Wake every task on q with status.  Returns how many were woken. */
size_t co_waitq_wake_all(struct co_waitq *q, int status);

/* True when no waiter is linked (woken-but-not-yet-run ones excluded). */
bool co_waitq_empty(const struct co_waitq *q);

#endif /* JOBD_CO_SCHED_H */
