/*
 * test_sync.c — semaphores, locks, events and conditions (co_sync.h).
 *
 * The asyncio tutorial's programs translated to C, FIFO fairness, and
 * cancellation and timeouts at every await with the primitive checked for
 * consistency afterwards.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "co.h"
#include "co_sync.h"
#include "testutil.h"

#define SPAWN(fn, arg, tp) ck_assert_int_eq(co_spawn(tu_rt, (fn), (arg), (tp)), 0)

/* Join t and return its result. */
static int
join_rc(struct co_task *t)
{
	int r = -12345;

	ck_assert_int_eq(co_join(t, &r), 0);
	return r;
}

/* Yield until *counter reaches n (the spawned tasks are parked by then). */
static void
yield_until(const int *counter, int n)
{
	for (int i = 0; i < 1000 && *counter < n; i++)
		ck_assert_int_eq(co_yield(), 0);
	ck_assert_int_eq(*counter, n);
}

/* A worker's view of the shared state. */
struct shared {
	struct co_sem *sem;
	struct co_lock *lock;
	struct co_event *ev;
	struct co_cond *cond;
	int started;            /* workers that reached their await */
	int inside, max_inside;
	int done;
	int order[64];          /* ids in the order they got through */
	int norder;
	int value;              /* guarded state for conditions */
	double woke_at[64];
};

/* By convention the worker with id 1 waits with a 0.02 s timeout, the
 * others without one. */
struct worker {
	struct shared *sh;
	int id;
	int rc;
};

static double
worker_timeout(const struct worker *w)
{
	return w->id == 1 ? 0.02 : CO_FOREVER;
}

static void
enter(struct shared *sh)
{
	if (++sh->inside > sh->max_inside)
		sh->max_inside = sh->inside;
}

/* ---- semaphore ------------------------------------------------------------ */

/* asyncio tutorial: Semaphore(10) over 100 jobs of 0.01 s each. */
static int
sem_job(void *arg)
{
	struct shared *sh = arg;
	int rc;

	if ((rc = co_sem_acquire(sh->sem)) < 0)
		return rc;
	enter(sh);
	rc = co_sleep(0.01);
	sh->inside--;
	sh->done++;
	co_sem_release(sh->sem);
	return rc;
}

static int
sem_tutorial_main(void *arg)
{
	struct shared sh = { 0 };
	struct co_task *t[100];
	double t0 = co_now();

	(void)arg;
	sh.sem = co_sem_new(10);
	for (int i = 0; i < 100; i++)
		SPAWN(sem_job, &sh, &t[i]);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(join_rc(t[i]), 0);
	tu_assert_time(co_now() - t0, 0.15, 0.05);      /* >= 10 rounds */
	ck_assert_int_eq(sh.max_inside, 10);
	ck_assert_int_eq(sh.done, 100);
	ck_assert_uint_eq(co_sem_value(sh.sem), 10);
	co_sem_free(sh.sem);
	return 0;
}

START_TEST(test_sem_tutorial)
{
	ck_assert_int_eq(tu_run(sem_tutorial_main, NULL), 0);
}
END_TEST

static int
sem_try_main(void *arg)
{
	struct co_sem *s = co_sem_new(2);

	(void)arg;
	ck_assert_uint_eq(co_sem_value(s), 2);
	ck_assert(co_sem_try_acquire(s));
	ck_assert(co_sem_try_acquire(s));
	ck_assert(!co_sem_try_acquire(s));
	ck_assert_uint_eq(co_sem_value(s), 0);
	ck_assert_int_eq(co_sem_acquire_timeout(s, 0), -ETIMEDOUT);
	co_sem_release(s);
	ck_assert_uint_eq(co_sem_value(s), 1);
	ck_assert_int_eq(co_sem_acquire(s), 0);         /* no wait */
	co_sem_release(s);
	co_sem_release(s);
	co_sem_release(s);                              /* like asyncio: unbounded */
	ck_assert_uint_eq(co_sem_value(s), 3);
	ck_assert_uint_eq(co_sem_waiters(s), 0);
	co_sem_free(s);
	return 0;
}

START_TEST(test_sem_try)
{
	ck_assert_int_eq(tu_run(sem_try_main, NULL), 0);
}
END_TEST

/* Take a permit, record the order, hold it over a yield, give it back. */
static int
sem_fifo_worker(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	int rc;

	sh->started++;
	if ((rc = co_sem_acquire_timeout(sh->sem, worker_timeout(w))) < 0)
		return rc;
	sh->order[sh->norder++] = w->id;
	rc = co_yield();
	co_sem_release(sh->sem);
	return rc;
}

static int
sem_fifo_main(void *arg)
{
	struct shared sh = { 0 };
	struct worker w[8];
	struct co_task *t[8];

	(void)arg;
	sh.sem = co_sem_new(1);
	ck_assert(co_sem_try_acquire(sh.sem));
	for (int i = 0; i < 8; i++) {
		w[i] = (struct worker){ &sh, i + 2, 0 };
		SPAWN(sem_fifo_worker, &w[i], &t[i]);
	}
	yield_until(&sh.started, 8);
	ck_assert_uint_eq(co_sem_waiters(sh.sem), 8);
	co_sem_release(sh.sem);
	/* Handed to worker 0, which has not run yet: no barging. */
	ck_assert_uint_eq(co_sem_value(sh.sem), 0);
	ck_assert(!co_sem_try_acquire(sh.sem));
	ck_assert_uint_eq(co_sem_waiters(sh.sem), 7);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(join_rc(t[i]), 0);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(sh.order[i], i + 2);
	ck_assert_uint_eq(co_sem_value(sh.sem), 1);
	co_sem_free(sh.sem);
	return 0;
}

START_TEST(test_sem_fifo)
{
	ck_assert_int_eq(tu_run(sem_fifo_main, NULL), 0);
}
END_TEST

/* A waiter that keeps its permit (main gives it back). */
static int
sem_holder(void *arg)
{
	struct worker *w = arg;
	int rc;

	w->sh->started++;
	rc = co_sem_acquire_timeout(w->sh->sem, worker_timeout(w));
	if (rc == 0)
		w->sh->order[w->sh->norder++] = w->id;
	return rc;
}

static int
sem_cancel_main(void *arg)
{
	struct shared sh = { 0 };
	struct worker w[4];
	struct co_task *t[4];

	(void)arg;
	sh.sem = co_sem_new(0);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ &sh, i * 2, 0 };  /* no timeouts */
		SPAWN(sem_holder, &w[i], &t[i]);
	}
	yield_until(&sh.started, 4);
	/* A cancelled waiter that has run leaves the queue. */
	co_cancel(t[0]);
	ck_assert_int_eq(join_rc(t[0]), -ECANCELED);
	ck_assert_uint_eq(co_sem_waiters(sh.sem), 3);
	/* Cancel and release at the same instant: the permit skips 1. */
	co_cancel(t[1]);
	co_sem_release(sh.sem);
	ck_assert_uint_eq(co_sem_value(sh.sem), 0);
	ck_assert_int_eq(join_rc(t[1]), -ECANCELED);
	ck_assert_int_eq(join_rc(t[2]), 0);
	ck_assert_int_eq(sh.norder, 1);
	ck_assert_int_eq(sh.order[0], 4);
	/* The next waiter is still served. */
	co_sem_release(sh.sem);
	ck_assert_int_eq(join_rc(t[3]), 0);
	ck_assert_uint_eq(co_sem_value(sh.sem), 0);
	ck_assert_uint_eq(co_sem_waiters(sh.sem), 0);
	co_sem_release(sh.sem);
	co_sem_release(sh.sem);
	ck_assert_uint_eq(co_sem_value(sh.sem), 2);     /* no permit lost */
	co_sem_free(sh.sem);
	return 0;
}

START_TEST(test_sem_cancel)
{
	ck_assert_int_eq(tu_run(sem_cancel_main, NULL), 0);
}
END_TEST

/* Granted, then cancelled before it ran: first wake wins, it has the
 * permit and returns 0. */
static int
sem_granted_main(void *arg)
{
	struct shared sh = { 0 };
	struct worker w = { &sh, 0, 0 };
	struct co_task *t;

	(void)arg;
	sh.sem = co_sem_new(0);
	SPAWN(sem_holder, &w, &t);
	yield_until(&sh.started, 1);
	co_sem_release(sh.sem);
	co_cancel(t);
	ck_assert_int_eq(join_rc(t), 0);
	ck_assert_uint_eq(co_sem_value(sh.sem), 0);     /* t holds it */
	co_sem_release(sh.sem);
	ck_assert_uint_eq(co_sem_value(sh.sem), 1);
	co_sem_free(sh.sem);
	return 0;
}

START_TEST(test_sem_granted_then_cancelled)
{
	ck_assert_int_eq(tu_run(sem_granted_main, NULL), 0);
}
END_TEST

static int
sem_timeout_main(void *arg)
{
	struct shared sh = { 0 };
	struct worker w[2] = { { &sh, 1, 0 }, { &sh, 2, 0 } };
	struct co_task *t[2];
	struct co_scope sc;
	double t0;

	(void)arg;
	sh.sem = co_sem_new(0);
	t0 = co_now();
	ck_assert_int_eq(co_sem_acquire_timeout(sh.sem, 0.05), -ETIMEDOUT);
	tu_assert_time(co_now() - t0, 0.06, 0.01);
	ck_assert_uint_eq(co_sem_waiters(sh.sem), 0);
	/* A deadline scope interrupts the plain acquire. */
	t0 = co_now();
	co_scope_enter(&sc, 0.03);
	ck_assert_int_eq(co_sem_acquire(sh.sem), -ETIMEDOUT);
	ck_assert_int_eq(co_scope_exit(&sc), -ETIMEDOUT);
	tu_assert_time(co_now() - t0, 0.04, 0.01);
	/* Waiter 1 times out; waiter 2 (no timeout) gets the later permit. */
	SPAWN(sem_holder, &w[0], &t[0]);
	SPAWN(sem_fifo_worker, &w[1], &t[1]);
	ck_assert_int_eq(co_sleep(0.04), 0);
	ck_assert_int_eq(join_rc(t[0]), -ETIMEDOUT);
	ck_assert_uint_eq(co_sem_waiters(sh.sem), 1);
	co_sem_release(sh.sem);
	ck_assert_int_eq(join_rc(t[1]), 0);
	ck_assert_int_eq(sh.norder, 1);
	ck_assert_int_eq(sh.order[0], 2);
	ck_assert_uint_eq(co_sem_value(sh.sem), 1);
	co_sem_free(sh.sem);
	return 0;
}

START_TEST(test_sem_timeout)
{
	ck_assert_int_eq(tu_run(sem_timeout_main, NULL), 0);
}
END_TEST

/* 10,000 tasks on one semaphore of 50.  They queue in spawn order, so
 * FIFO hand-off means they get in exactly in that order.  Failures are
 * counted, not asserted one by one (each ck_assert writes to Check). */
#define CROWD TU_CROWD

static int
sem_crowd_job(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	int rc;

	if ((rc = co_sem_acquire(sh->sem)) < 0)
		return rc;
	enter(sh);
	sh->value += w->id != sh->done;         /* out of order */
	sh->done++;
	rc = co_yield();
	sh->inside--;
	co_sem_release(sh->sem);
	return rc;
}

static int
sem_crowd_main(void *arg)
{
	struct shared sh = { 0 };
	struct co_task **t = calloc(CROWD, sizeof(*t));
	struct worker *w = calloc(CROWD, sizeof(*w));
	int bad = 0, r;

	(void)arg;
	ck_assert(t != NULL && w != NULL);
	sh.sem = co_sem_new(50);
	for (int i = 0; i < CROWD; i++) {
		w[i] = (struct worker){ &sh, i, 0 };
		bad += co_spawn(tu_rt, sem_crowd_job, &w[i], &t[i]) != 0;
	}
	ck_assert_int_eq(bad, 0);
	for (int i = 0; i < CROWD; i++)
		bad += co_join(t[i], &r) != 0 || r != 0;
	ck_assert_int_eq(bad, 0);
	ck_assert_int_eq(sh.done, CROWD);
	ck_assert_int_eq(sh.value, 0);
	ck_assert_int_eq(sh.max_inside, 50);
	ck_assert_uint_eq(co_sem_value(sh.sem), 50);
	ck_assert_uint_eq(co_sem_waiters(sh.sem), 0);
	co_sem_free(sh.sem);
	free(w);
	free(t);
	return 0;
}

START_TEST(test_sem_10000)
{
	ck_assert_int_eq(tu_run(sem_crowd_main, NULL), 0);
}
END_TEST

/* Random timeouts and cancels around a semaphore of 3: never more than 3
 * inside, and every permit comes back. */
#define SS_TASKS 200

struct sem_stress_arg {
	struct shared *sh;
	unsigned seed;
	int timeouts;
};

static int
sem_stress_job(void *arg)
{
	struct sem_stress_arg *a = arg;
	struct shared *sh = a->sh;
	int rc;

	for (int i = 0; i < 20; i++) {
		rc = co_sem_acquire_timeout(sh->sem,
		    (rand_r(&a->seed) % 4) * 0.0005);
		if (rc == -ETIMEDOUT) {
			a->timeouts++;
			continue;
		}
		if (rc < 0)
			return rc;
		enter(sh);
		ck_assert_int_le(sh->inside, 3);
		co_shield_enter();      /* hold it across a real wait */
		rc = co_sleep(0.0002 * (rand_r(&a->seed) % 3));
		co_shield_exit();
		sh->inside--;
		co_sem_release(sh->sem);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int
sem_stress_main(void *arg)
{
	struct shared sh = { 0 };
	static struct sem_stress_arg a[SS_TASKS];
	struct co_task *t[SS_TASKS];
	unsigned seed = 4242;
	int rc, cancelled = 0, timeouts = 0;

	(void)arg;
	sh.sem = co_sem_new(3);
	for (int i = 0; i < SS_TASKS; i++) {
		a[i] = (struct sem_stress_arg){ &sh, 31u * i + 1, 0 };
		SPAWN(sem_stress_job, &a[i], &t[i]);
	}
	for (int i = 0; i < 40; i++) {
		ck_assert_int_eq(co_sleep(0.0005), 0);
		co_cancel(t[rand_r(&seed) % SS_TASKS]);
	}
	for (int i = 0; i < SS_TASKS; i++) {
		rc = join_rc(t[i]);
		ck_assert(rc == 0 || rc == -ECANCELED);
		cancelled += rc == -ECANCELED;
		timeouts += a[i].timeouts;
	}
	ck_assert_int_gt(cancelled, 0);
	ck_assert_int_gt(timeouts, 0);
	ck_assert_int_eq(sh.max_inside, 3);
	ck_assert_uint_eq(co_sem_value(sh.sem), 3);
	ck_assert_uint_eq(co_sem_waiters(sh.sem), 0);
	co_sem_free(sh.sem);
	return 0;
}

START_TEST(test_sem_stress)
{
	ck_assert_int_eq(tu_run(sem_stress_main, NULL), 0);
}
END_TEST

static int
sem_free_busy_main(void *arg)
{
	struct shared sh = { 0 };
	struct worker w = { &sh, 0, 0 };
	struct co_task *t;

	(void)arg;
	sh.sem = co_sem_new(0);
	SPAWN(sem_holder, &w, &t);
	yield_until(&sh.started, 1);
	co_sem_free(sh.sem);                            /* aborts */
	return 0;
}

START_TEST(test_sem_free_busy_aborts)
{
	tu_run(sem_free_busy_main, NULL);
}
END_TEST

/* ---- lock ----------------------------------------------------------------- */

/* Read-modify-write across an await, ten times, under the lock. */
static int
lock_incr(void *arg)
{
	struct shared *sh = arg;
	int rc, v;

	for (int i = 0; i < 10; i++) {
		if ((rc = co_lock_acquire(sh->lock)) < 0)
			return rc;
		enter(sh);
		v = sh->value;
		rc = co_sleep(0.0001);
		sh->value = v + 1;
		sh->inside--;
		co_lock_release(sh->lock);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int
lock_mutex_main(void *arg)
{
	struct shared sh = { 0 };
	struct co_task *t[10];

	(void)arg;
	sh.lock = co_lock_new();
	for (int i = 0; i < 10; i++)
		SPAWN(lock_incr, &sh, &t[i]);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(join_rc(t[i]), 0);
	ck_assert_int_eq(sh.value, 100);                /* no lost update */
	ck_assert_int_eq(sh.max_inside, 1);
	ck_assert(!co_lock_locked(sh.lock));
	co_lock_free(sh.lock);
	return 0;
}

START_TEST(test_lock_mutex)
{
	ck_assert_int_eq(tu_run(lock_mutex_main, NULL), 0);
}
END_TEST

static int
lock_basic_main(void *arg)
{
	struct co_lock *l = co_lock_new();

	(void)arg;
	ck_assert(!co_lock_locked(l));
	ck_assert(co_lock_try_acquire(l));
	ck_assert(co_lock_locked(l));
	ck_assert(!co_lock_try_acquire(l));
	ck_assert_int_eq(co_lock_acquire(l), -EDEADLK);
	co_lock_release(l);
	ck_assert(!co_lock_locked(l));
	ck_assert_int_eq(co_lock_acquire(l), 0);
	co_lock_release(l);
	co_lock_free(l);
	return 0;
}

START_TEST(test_lock_basic)
{
	ck_assert_int_eq(tu_run(lock_basic_main, NULL), 0);
}
END_TEST

static int
lock_worker(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	int rc;

	sh->started++;
	if ((rc = co_lock_acquire_timeout(sh->lock, worker_timeout(w))) < 0)
		return rc;
	sh->order[sh->norder++] = w->id;
	rc = co_yield();
	co_lock_release(sh->lock);
	return rc;
}

static int
lock_fifo_main(void *arg)
{
	struct shared sh = { 0 };
	struct worker w[8];
	struct co_task *t[8];

	(void)arg;
	sh.lock = co_lock_new();
	ck_assert_int_eq(co_lock_acquire(sh.lock), 0);
	for (int i = 0; i < 8; i++) {
		w[i] = (struct worker){ &sh, i + 2, 0 };  /* no timeouts */
		SPAWN(lock_worker, &w[i], &t[i]);
	}
	yield_until(&sh.started, 8);
	co_lock_release(sh.lock);
	ck_assert(co_lock_locked(sh.lock));             /* handed on */
	ck_assert(!co_lock_try_acquire(sh.lock));       /* no barging */
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(join_rc(t[i]), 0);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(sh.order[i], i + 2);
	ck_assert(!co_lock_locked(sh.lock));
	co_lock_free(sh.lock);
	return 0;
}

START_TEST(test_lock_fifo)
{
	ck_assert_int_eq(tu_run(lock_fifo_main, NULL), 0);
}
END_TEST

static int
lock_cancel_main(void *arg)
{
	struct shared sh = { 0 };
	struct worker w[4];
	struct co_task *t[4];

	(void)arg;
	sh.lock = co_lock_new();
	ck_assert_int_eq(co_lock_acquire(sh.lock), 0);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ &sh, i, 0 };      /* 1 times out */
		SPAWN(lock_worker, &w[i], &t[i]);
	}
	yield_until(&sh.started, 4);
	co_cancel(t[0]);
	ck_assert_int_eq(co_sleep(0.04), 0);
	ck_assert_int_eq(join_rc(t[0]), -ECANCELED);
	ck_assert_int_eq(join_rc(t[1]), -ETIMEDOUT);
	/* Cancel and release at the same instant: the lock skips 2. */
	co_cancel(t[2]);
	co_lock_release(sh.lock);
	ck_assert(co_lock_locked(sh.lock));
	ck_assert_int_eq(join_rc(t[2]), -ECANCELED);
	ck_assert_int_eq(join_rc(t[3]), 0);
	ck_assert_int_eq(sh.norder, 1);
	ck_assert_int_eq(sh.order[0], 3);
	ck_assert(!co_lock_locked(sh.lock));
	ck_assert(co_lock_try_acquire(sh.lock));
	co_lock_release(sh.lock);
	co_lock_free(sh.lock);
	return 0;
}

START_TEST(test_lock_cancel_timeout)
{
	ck_assert_int_eq(tu_run(lock_cancel_main, NULL), 0);
}
END_TEST

static int
lock_release_other(void *arg)
{
	co_lock_release(arg);                           /* aborts */
	return 0;
}

static int
lock_nonowner_main(void *arg)
{
	struct co_lock *l = co_lock_new();
	struct co_task *t;

	(void)arg;
	ck_assert_int_eq(co_lock_acquire(l), 0);
	SPAWN(lock_release_other, l, &t);
	(void)join_rc(t);
	return 0;
}

START_TEST(test_lock_nonowner_aborts)
{
	tu_run(lock_nonowner_main, NULL);
}
END_TEST

static int
lock_unlocked_main(void *arg)
{
	(void)arg;
	co_lock_release(co_lock_new());                 /* aborts */
	return 0;
}

START_TEST(test_lock_release_unlocked_aborts)
{
	tu_run(lock_unlocked_main, NULL);
}
END_TEST

/* ---- event ---------------------------------------------------------------- */

static int
event_waiter(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	int rc;

	sh->started++;
	rc = co_event_wait(sh->ev, worker_timeout(w));
	sh->woke_at[w->id] = co_now();
	return rc;
}

static int
event_all_main(void *arg)
{
	struct shared sh = { 0 };
	struct worker w[5];
	struct co_task *t[5];
	double t0;

	(void)arg;
	sh.ev = co_event_new();
	ck_assert(!co_event_is_set(sh.ev));
	for (int i = 0; i < 5; i++) {
		w[i] = (struct worker){ &sh, i + 2, 0 };
		SPAWN(event_waiter, &w[i], &t[i]);
	}
	yield_until(&sh.started, 5);
	ck_assert_int_eq(co_sleep(0.03), 0);
	t0 = co_now();
	co_event_set(sh.ev);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(join_rc(t[i]), 0);
		tu_assert_time(sh.woke_at[i + 2] - t0, 0.005, 0.005);
	}
	ck_assert(co_event_is_set(sh.ev));
	ck_assert_int_eq(co_event_wait(sh.ev, 0), 0);   /* set: at once */
	ck_assert_int_eq(co_event_wait(sh.ev, CO_FOREVER), 0);
	co_event_clear(sh.ev);
	ck_assert(!co_event_is_set(sh.ev));
	t0 = co_now();
	ck_assert_int_eq(co_event_wait(sh.ev, 0.02), -ETIMEDOUT);
	tu_assert_time(co_now() - t0, 0.03, 0.01);
	co_event_free(sh.ev);
	return 0;
}

START_TEST(test_event_wakes_all)
{
	ck_assert_int_eq(tu_run(event_all_main, NULL), 0);
}
END_TEST

static int
event_cancel_main(void *arg)
{
	struct shared sh = { 0 };
	struct worker w[4];
	struct co_task *t[4];
	double t0 = co_now();

	(void)arg;
	sh.ev = co_event_new();
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ &sh, i, 0 };      /* 1 times out */
		SPAWN(event_waiter, &w[i], &t[i]);
	}
	yield_until(&sh.started, 4);
	co_cancel(t[0]);
	ck_assert_int_eq(join_rc(t[0]), -ECANCELED);
	ck_assert_int_eq(join_rc(t[1]), -ETIMEDOUT);
	tu_assert_time(sh.woke_at[1] - t0, 0.03, 0.01);
	co_cancel(t[2]);                /* same instant as the set: first wins */
	co_event_set(sh.ev);
	ck_assert_int_eq(join_rc(t[2]), -ECANCELED);
	ck_assert_int_eq(join_rc(t[3]), 0);
	co_event_free(sh.ev);
	return 0;
}

START_TEST(test_event_cancel_timeout)
{
	ck_assert_int_eq(tu_run(event_cancel_main, NULL), 0);
}
END_TEST

/* ---- condition ------------------------------------------------------------ */

/* Wait on the condition; on return the lock must be ours: prove it by
 * being alone inside across an await, then releasing (which aborts for a
 * non-owner). */
static int
cond_waiter(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	int rc, rc2;

	ck_assert_int_eq(co_lock_acquire(sh->lock), 0);
	sh->started++;
	rc = co_cond_wait_timeout(sh->cond, worker_timeout(w));
	ck_assert(co_lock_locked(sh->lock));
	sh->woke_at[w->id] = co_now();
	if (rc == 0)
		sh->order[sh->norder++] = w->id;
	enter(sh);
	co_shield_enter();
	rc2 = co_yield();
	co_shield_exit();
	sh->inside--;
	co_lock_release(sh->lock);
	return rc < 0 ? rc : rc2;
}

static void
cond_setup(struct shared *sh)
{
	memset(sh, 0, sizeof(*sh));
	sh->lock = co_lock_new();
	sh->cond = co_cond_new(sh->lock);
	ck_assert_ptr_nonnull(sh->cond);
}

static void
cond_teardown(struct shared *sh)
{
	ck_assert(!co_lock_locked(sh->lock));
	co_cond_free(sh->cond);
	co_lock_free(sh->lock);
}

static int
cond_notify_main(void *arg)
{
	struct shared sh;
	struct worker w[3];
	struct co_task *t[3];

	(void)arg;
	cond_setup(&sh);
	for (int i = 0; i < 3; i++) {
		w[i] = (struct worker){ &sh, i + 2, 0 };
		SPAWN(cond_waiter, &w[i], &t[i]);
	}
	yield_until(&sh.started, 3);
	ck_assert_int_eq(co_lock_acquire(sh.lock), 0);
	ck_assert_uint_eq(co_cond_notify(sh.cond, 1), 1);
	ck_assert_int_eq(co_sleep(0.01), 0);    /* it needs the lock first */
	ck_assert_int_eq(sh.norder, 0);
	co_lock_release(sh.lock);
	ck_assert_int_eq(join_rc(t[0]), 0);
	ck_assert_int_eq(sh.norder, 1);
	ck_assert_int_eq(co_sleep(0.01), 0);
	ck_assert_int_eq(sh.norder, 1);         /* the others still wait */
	ck_assert_int_eq(co_lock_acquire(sh.lock), 0);
	ck_assert_uint_eq(co_cond_notify(sh.cond, 5), 2);
	ck_assert_uint_eq(co_cond_notify(sh.cond, 1), 0);
	co_lock_release(sh.lock);
	ck_assert_int_eq(join_rc(t[1]), 0);
	ck_assert_int_eq(join_rc(t[2]), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(sh.order[i], i + 2);
	ck_assert_int_eq(sh.max_inside, 1);
	cond_teardown(&sh);
	return 0;
}

START_TEST(test_cond_notify)
{
	ck_assert_int_eq(tu_run(cond_notify_main, NULL), 0);
}
END_TEST

static int
cond_notify_all_main(void *arg)
{
	struct shared sh;
	struct worker w[6];
	struct co_task *t[6];

	(void)arg;
	cond_setup(&sh);
	for (int i = 0; i < 6; i++) {
		w[i] = (struct worker){ &sh, i + 2, 0 };
		SPAWN(cond_waiter, &w[i], &t[i]);
	}
	yield_until(&sh.started, 6);
	ck_assert_int_eq(co_lock_acquire(sh.lock), 0);
	ck_assert_uint_eq(co_cond_notify_all(sh.cond), 6);
	co_lock_release(sh.lock);
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(join_rc(t[i]), 0);
	ck_assert_int_eq(sh.norder, 6);
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(sh.order[i], i + 2);
	ck_assert_int_eq(sh.max_inside, 1);     /* one at a time: lock held */
	cond_teardown(&sh);
	return 0;
}

START_TEST(test_cond_notify_all)
{
	ck_assert_int_eq(tu_run(cond_notify_all_main, NULL), 0);
}
END_TEST

struct threshold {
	struct shared *sh;
	int at;
	int saw;
};

static bool
reached(void *arg)
{
	struct threshold *th = arg;

	return th->sh->value >= th->at;
}

static int
cond_wait_for_worker(void *arg)
{
	struct threshold *th = arg;
	struct shared *sh = th->sh;
	int rc;

	ck_assert_int_eq(co_lock_acquire(sh->lock), 0);
	sh->started++;
	rc = co_cond_wait_for(sh->cond, reached, th);
	th->saw = sh->value;
	sh->order[sh->norder++] = th->at;
	co_lock_release(sh->lock);
	return rc;
}

static int
cond_wait_for_main(void *arg)
{
	struct shared sh;
	struct threshold th[4];
	struct co_task *t[4];
	struct co_scope sc;

	(void)arg;
	cond_setup(&sh);
	for (int i = 0; i < 4; i++) {
		th[i] = (struct threshold){ &sh, 3 - i, -1 };   /* 3, 2, 1, 0 */
		SPAWN(cond_wait_for_worker, &th[i], &t[i]);
	}
	yield_until(&sh.started, 4);
	ck_assert_int_eq(sh.norder, 1);         /* 0 was true at once */
	for (int v = 1; v <= 3; v++) {
		ck_assert_int_eq(co_lock_acquire(sh.lock), 0);
		sh.value = v;
		co_cond_notify_all(sh.cond);
		co_lock_release(sh.lock);
		ck_assert_int_eq(co_sleep(0.005), 0);
		ck_assert_int_eq(sh.norder, v + 1);
	}
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(join_rc(t[i]), 0);
		ck_assert_int_eq(th[i].saw, th[i].at);
		ck_assert_int_eq(sh.order[i], i);
	}
	/* A predicate that never holds, bounded by a scope: lock held. */
	th[0].at = 100;
	co_scope_enter(&sc, 0.02);
	ck_assert_int_eq(co_lock_acquire(sh.lock), 0);
	ck_assert_int_eq(co_cond_wait_for(sh.cond, reached, &th[0]),
	    -ETIMEDOUT);
	ck_assert_int_eq(co_scope_exit(&sc), -ETIMEDOUT);
	co_lock_release(sh.lock);                       /* aborts if not ours */
	cond_teardown(&sh);
	return 0;
}

START_TEST(test_cond_wait_for)
{
	ck_assert_int_eq(tu_run(cond_wait_for_main, NULL), 0);
}
END_TEST

/* Cancelled while the lock is held elsewhere: returns -ECANCELED only once
 * it has the lock back. */
static int
cond_cancel_main(void *arg)
{
	struct shared sh;
	struct worker w[3];
	struct co_task *t[3];
	double released;

	(void)arg;
	cond_setup(&sh);
	for (int i = 0; i < 3; i++) {
		w[i] = (struct worker){ &sh, i * 2, 0 };  /* ids 0, 2, 4 */
		SPAWN(cond_waiter, &w[i], &t[i]);
	}
	yield_until(&sh.started, 3);
	ck_assert_int_eq(co_lock_acquire(sh.lock), 0);
	co_cancel(t[0]);
	ck_assert_int_eq(co_sleep(0.03), 0);
	ck_assert(!co_done(t[0]));              /* waiting for the lock */
	/* Cancel and notify at the same instant: the notify skips 2. */
	co_cancel(t[1]);
	ck_assert_uint_eq(co_cond_notify(sh.cond, 1), 1);
	released = co_now();
	co_lock_release(sh.lock);
	ck_assert_int_eq(join_rc(t[0]), -ECANCELED);
	ck_assert(sh.woke_at[0] >= released);
	ck_assert_int_eq(join_rc(t[1]), -ECANCELED);
	ck_assert_int_eq(join_rc(t[2]), 0);
	ck_assert_int_eq(sh.norder, 1);
	ck_assert_int_eq(sh.order[0], 4);
	ck_assert_int_eq(sh.max_inside, 1);
	cond_teardown(&sh);
	return 0;
}

START_TEST(test_cond_cancel)
{
	ck_assert_int_eq(tu_run(cond_cancel_main, NULL), 0);
}
END_TEST

static int
cond_timeout_main(void *arg)
{
	struct shared sh;
	struct worker w[2];
	struct co_task *t[2];
	double t0 = co_now();

	(void)arg;
	cond_setup(&sh);
	for (int i = 0; i < 2; i++) {
		w[i] = (struct worker){ &sh, i + 1, 0 };  /* 1 times out */
		SPAWN(cond_waiter, &w[i], &t[i]);
	}
	yield_until(&sh.started, 2);
	ck_assert_int_eq(join_rc(t[0]), -ETIMEDOUT);
	tu_assert_time(sh.woke_at[1] - t0, 0.03, 0.01);
	/* The notify goes to the waiter that is left. */
	ck_assert_int_eq(co_lock_acquire(sh.lock), 0);
	ck_assert_uint_eq(co_cond_notify(sh.cond, 1), 1);
	co_lock_release(sh.lock);
	ck_assert_int_eq(join_rc(t[1]), 0);
	ck_assert_int_eq(sh.order[0], 2);
	cond_teardown(&sh);
	return 0;
}

START_TEST(test_cond_timeout)
{
	ck_assert_int_eq(tu_run(cond_timeout_main, NULL), 0);
}
END_TEST

/* The hard case: the waiter's deadline scope expires while another task
 * holds the lock for a long time.  It cannot park any more, yet it must
 * return holding the lock — after the holder lets go, not before. */
struct holder {
	struct shared *sh;
	double hold;
	double released;
};

static int
lock_holder(void *arg)
{
	struct holder *h = arg;
	int rc;

	if ((rc = co_lock_acquire(h->sh->lock)) < 0)
		return rc;
	h->sh->started++;
	rc = co_sleep(h->hold);
	h->released = co_now();
	co_lock_release(h->sh->lock);
	return rc;
}

static int
cond_scope_main(void *arg)
{
	struct shared sh;
	struct holder h = { &sh, 0.08, 0 };
	struct co_task *t;
	struct co_scope sc;
	double t0;
	int rc;

	(void)arg;
	cond_setup(&sh);
	ck_assert_int_eq(co_lock_acquire(sh.lock), 0);
	SPAWN(lock_holder, &h, &t);
	t0 = co_now();
	co_scope_enter(&sc, 0.03);
	rc = co_cond_wait(sh.cond);     /* the holder takes the lock now */
	ck_assert_int_eq(co_scope_exit(&sc), -ETIMEDOUT);
	ck_assert_int_eq(rc, -ETIMEDOUT);
	ck_assert(h.released > 0 && co_now() >= h.released);
	tu_assert_time(co_now() - t0, 0.09, 0.01);
	ck_assert(co_lock_locked(sh.lock));
	ck_assert_int_eq(co_lock_acquire(sh.lock), -EDEADLK);   /* ours */
	co_lock_release(sh.lock);
	ck_assert_int_eq(join_rc(t), 0);
	cond_teardown(&sh);
	return 0;
}

START_TEST(test_cond_scope_expired_reacquire)
{
	ck_assert_int_eq(tu_run(cond_scope_main, NULL), 0);
}
END_TEST

/* Cancelled and past its scope at once, with a queue of lock waiters:
 * it gets the lock back in its turn. */
static int
cond_cancel_scope_task(void *arg)
{
	struct shared *sh = arg;
	struct co_scope sc;
	int rc;

	ck_assert_int_eq(co_lock_acquire(sh->lock), 0);
	co_scope_enter(&sc, 0.02);
	rc = co_cond_wait(sh->cond);
	(void)co_scope_exit(&sc);
	sh->order[sh->norder++] = 99;
	co_lock_release(sh->lock);
	return rc;
}

static int
cond_cancel_scope_main(void *arg)
{
	struct shared sh;
	struct holder h[2] = { { &sh, 0.05, 0 }, { &sh, 0.01, 0 } };
	struct co_task *t, *th[2];
	int rc;

	(void)arg;
	cond_setup(&sh);
	SPAWN(cond_cancel_scope_task, &sh, &t);
	ck_assert_int_eq(co_yield(), 0);                /* t waits on cond */
	SPAWN(lock_holder, &h[0], &th[0]);
	yield_until(&sh.started, 1);
	SPAWN(lock_holder, &h[1], &th[1]);              /* queued on lock */
	ck_assert_int_eq(co_sleep(0.03), 0);            /* t's scope is out */
	co_cancel(t);
	rc = join_rc(t);
	ck_assert(rc == -ETIMEDOUT || rc == -ECANCELED);
	ck_assert_int_eq(join_rc(th[0]), 0);
	ck_assert_int_eq(join_rc(th[1]), 0);
	ck_assert_int_eq(sh.norder, 1);
	ck_assert(!co_lock_locked(sh.lock));
	cond_teardown(&sh);
	return 0;
}

START_TEST(test_cond_cancel_scope)
{
	ck_assert_int_eq(tu_run(cond_cancel_scope_main, NULL), 0);
}
END_TEST

static int
cond_nolock_main(void *arg)
{
	struct co_lock *l = co_lock_new();
	struct co_cond *c = co_cond_new(l);

	(void)arg;
	return co_cond_wait(c);                         /* aborts */
}

START_TEST(test_cond_wait_unlocked_aborts)
{
	tu_run(cond_nolock_main, NULL);
}
END_TEST

static Suite *
sync_suite(void)
{
	Suite *s = suite_create("sync");
	TCase *tc = tcase_create("sync");

	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_sem_tutorial);
	tcase_add_test(tc, test_sem_try);
	tcase_add_test(tc, test_sem_fifo);
	tcase_add_test(tc, test_sem_cancel);
	tcase_add_test(tc, test_sem_granted_then_cancelled);
	tcase_add_test(tc, test_sem_timeout);
	tcase_add_test(tc, test_sem_10000);
	tcase_add_test(tc, test_sem_stress);
	tcase_add_test(tc, test_lock_mutex);
	tcase_add_test(tc, test_lock_basic);
	tcase_add_test(tc, test_lock_fifo);
	tcase_add_test(tc, test_lock_cancel_timeout);
	tcase_add_test(tc, test_event_wakes_all);
	tcase_add_test(tc, test_event_cancel_timeout);
	tcase_add_test(tc, test_cond_notify);
	tcase_add_test(tc, test_cond_notify_all);
	tcase_add_test(tc, test_cond_wait_for);
	tcase_add_test(tc, test_cond_cancel);
	tcase_add_test(tc, test_cond_timeout);
	tcase_add_test(tc, test_cond_scope_expired_reacquire);
	tcase_add_test(tc, test_cond_cancel_scope);
	/* Misuse aborts; only testable when each test has its own process. */
	if (tu_forking()) {
		tcase_add_test_raise_signal(tc, test_sem_free_busy_aborts,
		    SIGABRT);
		tcase_add_test_raise_signal(tc, test_lock_nonowner_aborts,
		    SIGABRT);
		tcase_add_test_raise_signal(tc,
		    test_lock_release_unlocked_aborts, SIGABRT);
		tcase_add_test_raise_signal(tc,
		    test_cond_wait_unlocked_aborts, SIGABRT);
	}
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(sync_suite());
}
