/*
 * co_sync.h — synchronisation between tasks (asyncio.Semaphore, Lock,
 * Event, Condition).
 *
 * All four are FIFO and hand off directly: when a waiter is released the
 * permit (or the lock) is given to the first task still waiting, so a task
 * arriving later cannot barge in ahead of it.  A waiter that is cancelled
 * or times out simply leaves the queue and the next one is served; nothing
 * is lost.
 *
 * Like asyncio, a call that does not need to wait succeeds even if the task
 * has been cancelled or its deadline scope has passed; cancellation and
 * deadlines interrupt only an actual wait (a cancelled task can still take a
 * free lock for its clean-up).  Awaits return 0, -ECANCELED or -ETIMEDOUT.
 *
 * Objects are heap-allocated and single-threaded (the runtime's thread).
 * Freeing an object while tasks are still waiting on it is a programming
 * error and aborts, as does misuse such as releasing a lock one does not
 * hold; these checks stay on in release builds.  Timeouts are seconds,
 * CO_FOREVER for none; deadline scopes apply to every wait as well.
 */
#ifndef JOBD_CO_SYNC_H
#define JOBD_CO_SYNC_H

#include <stdbool.h>
#include <stddef.h>

#include "co.h"

struct co_sem;
struct co_lock;
struct co_event;
struct co_cond;

/* ---- semaphore ------------------------------------------------------------ */

/* A semaphore holding n permits.  NULL on allocation failure. */
struct co_sem *co_sem_new(unsigned n);

/* Free s (NULL is fine).  No task may be waiting on it. */
void co_sem_free(struct co_sem *s);

/* Take a permit, waiting in FIFO order while there is none.  0 (the caller
 * holds a permit and must release it), -ECANCELED or -ETIMEDOUT (it holds
 * nothing).  The _timeout variant gives up after timeout seconds. */
__attribute__((warn_unused_result))
int co_sem_acquire(struct co_sem *s);
__attribute__((warn_unused_result))
int co_sem_acquire_timeout(struct co_sem *s, double timeout);

/* Take a permit if one is free, without waiting. */
bool co_sem_try_acquire(struct co_sem *s);

/* Return a permit: it goes to the first waiting task, if any.  Callable
 * from anywhere on the runtime's thread, including libevent callbacks. */
void co_sem_release(struct co_sem *s);

/* Free permits now. */
unsigned co_sem_value(const struct co_sem *s);

/* Tasks waiting in co_sem_acquire (one that was cancelled or timed out may
 * be counted until it resumes). */
size_t co_sem_waiters(const struct co_sem *s);

/* ---- lock ----------------------------------------------------------------- */

/* An unlocked mutex owned by the task that acquires it.  NULL on failure. */
struct co_lock *co_lock_new(void);

/* Free l (NULL is fine).  No task may be waiting on it. */
void co_lock_free(struct co_lock *l);

/* Acquire l for the running task, waiting in FIFO order.  0, -ECANCELED,
 * -ETIMEDOUT, or -EDEADLK if the caller already holds it (not recursive). */
__attribute__((warn_unused_result))
int co_lock_acquire(struct co_lock *l);
__attribute__((warn_unused_result))
int co_lock_acquire_timeout(struct co_lock *l, double timeout);

/* Acquire l if it is free, without waiting. */
bool co_lock_try_acquire(struct co_lock *l);

/* Release l; it passes to the first waiting task.  Only the owner may
 * release (aborts otherwise); a task must release its locks before it
 * ends, nothing does it for it. */
void co_lock_release(struct co_lock *l);

/* Is l held by some task? */
bool co_lock_locked(const struct co_lock *l);

/* ---- event ---------------------------------------------------------------- */

/* A clear event.  NULL on failure. */
struct co_event *co_event_new(void);

/* Free e (NULL is fine).  No task may be waiting on it. */
void co_event_free(struct co_event *e);

/* Wait until e is set: 0 at once if it already is, else when co_event_set
 * is called; -ECANCELED, -ETIMEDOUT after timeout seconds (CO_FOREVER). */
__attribute__((warn_unused_result))
int co_event_wait(struct co_event *e, double timeout);

/* Set e and wake every waiter.  Legal from libevent callbacks. */
void co_event_set(struct co_event *e);

/* Clear e: later waits block again. */
void co_event_clear(struct co_event *e);

bool co_event_is_set(const struct co_event *e);

/* ---- condition ------------------------------------------------------------ */

/* A condition variable over lock (borrowed: it must outlive c).  NULL on
 * failure. */
struct co_cond *co_cond_new(struct co_lock *lock);

/* Free c (NULL is fine).  No task may be waiting on it. */
void co_cond_free(struct co_cond *c);

/* The caller must hold the lock.  Release it, wait for a notify, and take
 * the lock again before returning — always, even when the wait was
 * cancelled or timed out (then -ECANCELED / -ETIMEDOUT is returned, with
 * the lock held).  Spurious returns do not happen, but another task may
 * have changed the state before the lock came back: re-check, or use
 * co_cond_wait_for. */
__attribute__((warn_unused_result))
int co_cond_wait(struct co_cond *c);
__attribute__((warn_unused_result))
int co_cond_wait_timeout(struct co_cond *c, double timeout);

/* A condition for co_cond_wait_for, evaluated with the lock held. */
typedef bool (*co_cond_pred)(void *arg);

/* Wait until pred(arg) is true (checked first, then after every wake-up).
 * 0 when it is, or the error that ended the wait; the lock is held on
 * return either way. */
__attribute__((warn_unused_result))
int co_cond_wait_for(struct co_cond *c, co_cond_pred pred, void *arg);

/* Wake up to n waiters (FIFO); the caller must hold the lock.  Returns how
 * many were woken. */
size_t co_cond_notify(struct co_cond *c, size_t n);

/* Wake every waiter; the caller must hold the lock. */
size_t co_cond_notify_all(struct co_cond *c);

#endif /* JOBD_CO_SYNC_H */
