/*
 * co_sync.c — semaphores, locks, events and conditions (see co_sync.h).
 *
 * Everything is a co_waitq plus a little state.  Releases hand off: the
 * releaser wakes the first waiter that is still parked with status 0 and
 * gives it the permit or the lock right there, so the waiter returns 0
 * without touching the object again.  Wakes are first-wins, so a waiter that
 * was cancelled or timed out at the same moment is skipped by
 * co_waitq_wake_one and the next one is served: a permit is never given to a
 * task that will report failure, and never lost.
 *
 * The hard case is co_cond_wait, which must hold the lock again when it
 * returns, even if it was cancelled or its deadline scope expired: the
 * re-acquire runs in a shield, which holds off both.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#include "co.h"
#include "co_sched.h"
#include "co_sync.h"
#include "log.h"

#define MUST(cond, what) CO_MUST(cond, what)

struct co_sem {
	unsigned value;                 /* free permits; > 0 only if no waiter */
	struct co_waitq waiters;
};

struct co_lock {
	struct co_task *owner;          /* NULL when unlocked */
	struct co_waitq waiters;        /* data: the task to become owner */
};

struct co_event {
	bool set;
	struct co_waitq waiters;
};

struct co_cond {
	struct co_lock *lock;           /* borrowed */
	struct co_waitq waiters;
};

static size_t
waitq_len(const struct co_waitq *q)
{
	const struct co_waiter *w;
	size_t n = 0;

	TAILQ_FOREACH(w, &q->head, link)
		n++;
	return n;
}

/* ---- semaphore ------------------------------------------------------------ */

struct co_sem *
co_sem_new(unsigned n)
{
	struct co_sem *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->value = n;
	co_waitq_init(&s->waiters);
	return s;
}

void
co_sem_free(struct co_sem *s)
{
	if (s == NULL)
		return;
	MUST(co_waitq_empty(&s->waiters), "tasks still waiting");
	free(s);
}

int
co_sem_acquire_timeout(struct co_sem *s, double timeout)
{
	if (s->value > 0) {
		s->value--;
		return 0;
	}
	/* 0 means co_sem_release handed us its permit. */
	return co_waitq_wait(&s->waiters, co_deadline(timeout), NULL);
}

int
co_sem_acquire(struct co_sem *s)
{
	return co_sem_acquire_timeout(s, CO_FOREVER);
}

bool
co_sem_try_acquire(struct co_sem *s)
{
	if (s->value == 0)
		return false;
	s->value--;
	return true;
}

void
co_sem_release(struct co_sem *s)
{
	if (co_waitq_wake_one(&s->waiters, 0) != NULL)
		return;                 /* the permit went to that waiter */
	MUST(s->value < UINT_MAX, "too many releases");
	s->value++;
}

unsigned
co_sem_value(const struct co_sem *s)
{
	return s->value;
}

size_t
co_sem_waiters(const struct co_sem *s)
{
	return waitq_len(&s->waiters);
}

/* ---- lock ----------------------------------------------------------------- */

struct co_lock *
co_lock_new(void)
{
	struct co_lock *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	co_waitq_init(&l->waiters);
	return l;
}

void
co_lock_free(struct co_lock *l)
{
	if (l == NULL)
		return;
	MUST(co_waitq_empty(&l->waiters), "tasks still waiting");
	free(l);
}

int
co_lock_acquire_timeout(struct co_lock *l, double timeout)
{
	struct co_task *self = co_self();

	MUST(self != NULL, "not in a task");
	if (l->owner == NULL) {
		l->owner = self;
		return 0;
	}
	if (l->owner == self)
		return -EDEADLK;
	/* 0 means co_lock_release made us the owner. */
	return co_waitq_wait(&l->waiters, co_deadline(timeout), self);
}

int
co_lock_acquire(struct co_lock *l)
{
	return co_lock_acquire_timeout(l, CO_FOREVER);
}

bool
co_lock_try_acquire(struct co_lock *l)
{
	MUST(co_self() != NULL, "not in a task");
	if (l->owner != NULL)
		return false;
	l->owner = co_self();
	return true;
}

void
co_lock_release(struct co_lock *l)
{
	struct co_waiter *w;

	MUST(l->owner != NULL && l->owner == co_self(),
	    "released by a task that does not hold it");
	w = co_waitq_wake_one(&l->waiters, 0);
	l->owner = w != NULL ? w->data : NULL;
}

bool
co_lock_locked(const struct co_lock *l)
{
	return l->owner != NULL;
}

/* ---- re-acquiring a lock whatever happens --------------------------------- */

/* Take l for the running task, even if it is cancelled or its deadline
 * scope has expired: the shield holds both off, and nothing else can wake
 * the wait but the hand-off. */
static void
lock_reacquire(struct co_lock *l)
{
	int rc;

	if (co_lock_try_acquire(l))
		return;
	co_shield_enter();
	rc = co_waitq_wait(&l->waiters, CO_FOREVER, co_self());
	co_shield_exit();
	MUST(rc == 0, "co_cond: shielded lock re-acquire was interrupted");
}

/* ---- event ---------------------------------------------------------------- */

struct co_event *
co_event_new(void)
{
	struct co_event *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	co_waitq_init(&e->waiters);
	return e;
}

void
co_event_free(struct co_event *e)
{
	if (e == NULL)
		return;
	MUST(co_waitq_empty(&e->waiters), "tasks still waiting");
	free(e);
}

int
co_event_wait(struct co_event *e, double timeout)
{
	if (e->set)
		return 0;
	return co_waitq_wait(&e->waiters, co_deadline(timeout), NULL);
}

void
co_event_set(struct co_event *e)
{
	e->set = true;
	co_waitq_wake_all(&e->waiters, 0);
}

void
co_event_clear(struct co_event *e)
{
	e->set = false;
}

bool
co_event_is_set(const struct co_event *e)
{
	return e->set;
}

/* ---- condition ------------------------------------------------------------ */

struct co_cond *
co_cond_new(struct co_lock *lock)
{
	struct co_cond *c;

	if (lock == NULL || (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->lock = lock;
	co_waitq_init(&c->waiters);
	return c;
}

void
co_cond_free(struct co_cond *c)
{
	if (c == NULL)
		return;
	MUST(co_waitq_empty(&c->waiters), "tasks still waiting");
	free(c);
}

int
co_cond_wait_timeout(struct co_cond *c, double timeout)
{
	struct co_lock *l = c->lock;    /* c may be freed once we are woken */
	int rc;

	MUST(l->owner != NULL && l->owner == co_self(), "lock not held");
	co_lock_release(l);
	rc = co_waitq_wait(&c->waiters, co_deadline(timeout), NULL);
	lock_reacquire(l);
	return rc;
}

int
co_cond_wait(struct co_cond *c)
{
	return co_cond_wait_timeout(c, CO_FOREVER);
}

int
co_cond_wait_for(struct co_cond *c, co_cond_pred pred, void *arg)
{
	int rc;

	while (!pred(arg)) {
		if ((rc = co_cond_wait(c)) < 0)
			return rc;
	}
	return 0;
}

size_t
co_cond_notify(struct co_cond *c, size_t n)
{
	size_t woken = 0;

	MUST(c->lock->owner != NULL && c->lock->owner == co_self(),
	    "lock not held");
	while (woken < n && co_waitq_wake_one(&c->waiters, 0) != NULL)
		woken++;
	return woken;
}

size_t
co_cond_notify_all(struct co_cond *c)
{
	return co_cond_notify(c, SIZE_MAX);
}
