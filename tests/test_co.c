/*
 * test_co.c — tasks, the scheduler, cancellation, deadlines (co.h).
 *
 * Includes the asyncio tutorial's first programs translated to C, with the
 * tutorial's delays scaled down, asserting what they print and how long
 * they take.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "co_io.h"

#include "co.h"
#include "co_sched.h"
#include "testutil.h"

static void flag_cb(evutil_socket_t, short, void *);

/* ---- basics ------------------------------------------------------------ */

static int
ret42(void *arg)
{
	(void)arg;
	return 42;
}

static int
spawn_join(void *arg)
{
	struct co_task *t;
	int r = 0;

	(void)arg;
	ck_assert_int_eq(co_spawn(tu_rt, ret42, NULL, &t), 0);
	ck_assert(!co_done(t));
	ck_assert_int_eq(co_join(t, &r), 0);
	return r;
}

START_TEST(test_spawn_join)
{
	ck_assert_int_eq(tu_run(spawn_join, NULL), 42);
}
END_TEST

static int
count_up(void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static int
detached(void *arg)
{
	int n = 0;

	(void)arg;
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(co_spawn(tu_rt, count_up, &n, NULL), 0);
	ck_assert_int_eq(n, 0);                 /* not run yet */
	ck_assert_int_eq(co_sleep(0.001), 0);
	return n;
}

START_TEST(test_detached_tasks_run_and_release)
{
	ck_assert_int_eq(tu_run(detached, NULL), 100);  /* teardown: no leak */
}
END_TEST

/* ---- tutorial: sequential vs concurrent --------------------------------- */

struct say_after {
	double delay;
	const char *what;
};

static int
say_after(void *arg)
{
	struct say_after *s = arg;
	int rc = co_sleep(s->delay);

	tu_say("%s\n", s->what);
	return rc;
}

static int
sequential(void *arg)
{
	struct say_after a = { 0.2, "hello" }, b = { 0.3, "world" };

	(void)arg;
	ck_assert_int_eq(say_after(&a), 0);
	ck_assert_int_eq(say_after(&b), 0);
	return 0;
}

static int
concurrent(void *arg)
{
	struct say_after a = { 0.2, "hello" }, b = { 0.3, "world" };
	struct co_task *ta, *tb;

	(void)arg;
	ck_assert_int_eq(co_spawn(tu_rt, say_after, &a, &ta), 0);
	ck_assert_int_eq(co_spawn(tu_rt, say_after, &b, &tb), 0);
	ck_assert_int_eq(co_join(ta, NULL), 0);
	ck_assert_int_eq(co_join(tb, NULL), 0);
	return 0;
}

START_TEST(test_tutorial_sequential_vs_concurrent)
{
	double t0;

	tu_out_reset();
	t0 = co_now();
	tu_run(sequential, NULL);
	tu_assert_time(co_now() - t0, 0.5, 0.02);
	ck_assert_str_eq(tu_out(), "hello\nworld\n");

	tu_out_reset();
	t0 = co_now();
	tu_run(concurrent, NULL);
	tu_assert_time(co_now() - t0, 0.3, 0.02);
	ck_assert_str_eq(tu_out(), "hello\nworld\n");
}
END_TEST

/* ---- tutorial: create_task workers finish out of order ------------------- */

static int
worker(void *arg)
{
	struct say_after *s = arg;

	if (co_sleep(s->delay) < 0)
		return -1;
	tu_say("%s ", s->what);
	return 0;
}

static int
workers(void *arg)
{
	double u = *(const double *)arg;
	struct say_after w[] = { { 3 * u, "A" }, { u, "B" }, { 2 * u, "C" } };
	struct co_task *t[3];

	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(co_spawn(tu_rt, worker, &w[i], &t[i]), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(co_join(t[i], NULL), 0);
	return 0;
}

START_TEST(test_tutorial_workers_out_of_order)
{
	double u = tu_tick(), t0 = co_now();

	tu_out_reset();
	tu_run(workers, &u);
	ck_assert_str_eq(tu_out(), "B C A ");
	tu_assert_time(co_now() - t0, 3 * u, u);
}
END_TEST

/* ---- tutorial: cancel with clean-up ------------------------------------ */

struct cleanup_probe {
	int sleep_rc;
	int cleanup_sleep_rc;
	int after_shield_rc;
	bool cleaned;
};

static int
cancellable(void *arg)
{
	struct cleanup_probe *p = arg;

	tu_say("cancel_me(): before sleep\n");
	p->sleep_rc = co_sleep(3600);
	if (p->sleep_rc == -ECANCELED) {
		tu_say("cancel_me(): cancel sleep\n");
		/* Clean-up that itself awaits: only possible in a shield. */
		co_shield_enter();
		p->cleanup_sleep_rc = co_sleep(0.01);
		co_shield_exit();
		p->after_shield_rc = co_sleep(0.01);
		p->cleaned = true;
	}
	tu_say("cancel_me(): after sleep\n");
	return p->sleep_rc;
}

static int
cancel_main(void *arg)
{
	struct co_task *t;
	int r = 0;
	double t0;

	ck_assert_int_eq(co_spawn(tu_rt, cancellable, arg, &t), 0);
	ck_assert_int_eq(co_sleep(0.05), 0);
	t0 = co_now();
	co_cancel(t);
	co_cancel(t);                           /* idempotent */
	ck_assert_int_eq(co_join(t, &r), 0);
	tu_assert_time(co_now() - t0, 0.01, 0.005);   /* just the clean-up */
	tu_say("main(): cancel_me is cancelled now\n");
	return r;
}

START_TEST(test_tutorial_cancel_with_cleanup)
{
	struct cleanup_probe p = { 0 };

	tu_out_reset();
	ck_assert_int_eq(tu_run(cancel_main, &p), -ECANCELED);
	ck_assert(p.cleaned);
	ck_assert_int_eq(p.cleanup_sleep_rc, 0);
	ck_assert_int_eq(p.after_shield_rc, -ECANCELED);   /* sticky */
	ck_assert_str_eq(tu_out(), "cancel_me(): before sleep\n"
	    "cancel_me(): cancel sleep\n"
	    "cancel_me(): after sleep\n"
	    "main(): cancel_me is cancelled now\n");
}
END_TEST

/* ---- cancellation details ---------------------------------------------- */

struct awaits {
	int rc[4];
};

static int
sticky(void *arg)
{
	struct awaits *a = arg;

	a->rc[0] = co_sleep(3600);
	a->rc[1] = co_yield();
	a->rc[2] = co_sleep(0);
	a->rc[3] = co_cancelled();
	return 0;
}

static int
sticky_main(void *arg)
{
	struct co_task *t;

	ck_assert_int_eq(co_spawn(tu_rt, sticky, arg, &t), 0);
	ck_assert_int_eq(co_yield(), 0);        /* let it park */
	co_cancel(t);
	return co_join(t, NULL);
}

START_TEST(test_cancel_is_sticky)
{
	struct awaits a;

	ck_assert_int_eq(tu_run(sticky_main, &a), 0);
	ck_assert_int_eq(a.rc[0], -ECANCELED);
	ck_assert_int_eq(a.rc[1], -ECANCELED);
	ck_assert_int_eq(a.rc[2], -ECANCELED);
	ck_assert_int_eq(a.rc[3], 1);
}
END_TEST

static int
first_await(void *arg)
{
	*(int *)arg = co_sleep(0);
	return 0;
}

static int
cancel_before_start(void *arg)
{
	struct co_task *t;

	ck_assert_int_eq(co_spawn(tu_rt, first_await, arg, &t), 0);
	co_cancel(t);
	return co_join(t, NULL);
}

START_TEST(test_cancel_before_start)
{
	int rc = 0;

	ck_assert_int_eq(tu_run(cancel_before_start, &rc), 0);
	ck_assert_int_eq(rc, -ECANCELED);
}
END_TEST

struct join_probe {
	struct co_task *parent, *child;
	int join_rc;
};

static int
sleeper(void *arg)
{
	return co_sleep(*(double *)arg);
}

static int
cancel_parent_soon(void *arg)
{
	struct join_probe *p = arg;

	(void)co_sleep(0.01);
	co_cancel(p->parent);
	return 0;
}

static int
join_cancelled(void *arg)
{
	struct join_probe *p = arg;
	double d = 0.05;
	int r = 1;

	p->parent = co_self();
	ck_assert_int_eq(co_spawn(tu_rt, sleeper, &d, &p->child), 0);
	ck_assert_int_eq(co_spawn(tu_rt, cancel_parent_soon, p, NULL), 0);
	p->join_rc = co_join(p->child, NULL);
	ck_assert(!co_done(p->child));          /* still joinable */
	ck_assert_int_eq(co_reap(p->child, &r), 0);
	return r;
}

START_TEST(test_join_interrupted_by_cancel)
{
	struct join_probe p = { 0 };

	/* The child was cancelled by co_reap. */
	ck_assert_int_eq(tu_run(join_cancelled, &p), -ECANCELED);
	ck_assert_int_eq(p.join_rc, -ECANCELED);
}
END_TEST

/* ---- timeouts ----------------------------------------------------------- */

struct slow {
	double delay;
	int rc;
};

static int
slow_op(void *arg)
{
	struct slow *s = arg;

	s->rc = co_sleep(s->delay);
	return s->rc == 0 ? 7 : s->rc;
}

static int
wait_for_main(void *arg)
{
	struct slow *s = arg;
	struct co_task *t;
	int r = 0, rc;

	ck_assert_int_eq(co_spawn(tu_rt, slow_op, s, &t), 0);
	rc = co_wait_for(t, 0.05, &r);
	return rc == 0 ? r : rc;
}

START_TEST(test_wait_for)
{
	struct slow fast = { 0.01, 1 }, slowop = { 3600, 1 };
	double t0 = co_now();

	ck_assert_int_eq(tu_run(wait_for_main, &fast), 7);
	tu_assert_time(co_now() - t0, 0.01, 0.005);
	t0 = co_now();
	ck_assert_int_eq(tu_run(wait_for_main, &slowop), -ETIMEDOUT);
	tu_assert_time(co_now() - t0, 0.05, 0.005);
	ck_assert_int_eq(slowop.rc, -ECANCELED);        /* it was cancelled */
}
END_TEST

struct scope_probe {
	int sleep_rc, again_rc, exit_rc, after_rc;
	int inner_exit, outer_exit;
	double elapsed;
};

static int
scope_main(void *arg)
{
	struct scope_probe *p = arg;
	struct co_scope s;
	double t0 = co_now();

	co_scope_enter(&s, 0.05);
	p->sleep_rc = co_sleep(3600);
	p->elapsed = co_now() - t0;
	p->again_rc = co_sleep(0);              /* expired scope stays so */
	p->exit_rc = co_scope_exit(&s);
	p->after_rc = co_sleep(0.001);          /* outside: fine again */
	return 0;
}

START_TEST(test_scope_timeout)
{
	struct scope_probe p;

	tu_run(scope_main, &p);
	ck_assert_int_eq(p.sleep_rc, -ETIMEDOUT);
	tu_assert_time(p.elapsed, 0.05, 0.005);
	ck_assert_int_eq(p.again_rc, -ETIMEDOUT);
	ck_assert_int_eq(p.exit_rc, -ETIMEDOUT);
	ck_assert_int_eq(p.after_rc, 0);
}
END_TEST

static int
scope_unexpired(void *arg)
{
	struct co_scope s;
	int rc;

	(void)arg;
	co_scope_enter(&s, 1.0);
	rc = co_sleep(0.01);
	ck_assert_int_eq(co_scope_exit(&s), 0);
	return rc;
}

START_TEST(test_scope_not_expired)
{
	ck_assert_int_eq(tu_run(scope_unexpired, NULL), 0);
}
END_TEST

static int
scope_nested(void *arg)
{
	struct scope_probe *p = arg;
	struct co_scope outer, inner;
	double t0 = co_now();

	co_scope_enter(&outer, 0.03);
	co_scope_enter(&inner, 10);
	p->sleep_rc = co_sleep(3600);
	p->elapsed = co_now() - t0;
	p->inner_exit = co_scope_exit(&inner);
	p->outer_exit = co_scope_exit(&outer);
	return 0;
}

START_TEST(test_scope_nested_outer_fires)
{
	struct scope_probe p;

	tu_run(scope_nested, &p);
	ck_assert_int_eq(p.sleep_rc, -ETIMEDOUT);
	tu_assert_time(p.elapsed, 0.03, 0.005);
	ck_assert_int_eq(p.inner_exit, 0);      /* not the inner's deadline */
	ck_assert_int_eq(p.outer_exit, -ETIMEDOUT);
}
END_TEST

static int
scope_short_sleep(void *arg)
{
	struct co_scope s;
	double t0 = co_now();
	int rc;

	(void)arg;
	/* The sleep ends before the deadline: 0, not -ETIMEDOUT. */
	co_scope_enter(&s, 0.05);
	rc = co_sleep(0.01);
	ck_assert_int_eq(co_scope_exit(&s), 0);
	tu_assert_time(co_now() - t0, 0.01, 0.005);
	return rc;
}

START_TEST(test_scope_sleep_shorter_than_deadline)
{
	ck_assert_int_eq(tu_run(scope_short_sleep, NULL), 0);
}
END_TEST

struct shield_probe {
	int expired_rc, cleanup_rc, inner_rc, inner_exit, after_rc, exit_rc;
};

/* After a scope expired, clean-up in a shield can still await, bounded only
 * by scopes it opens itself; after the shield the scope is expired again. */
static int
shield_scope(void *arg)
{
	struct shield_probe *p = arg;
	struct co_scope outer, inner;

	co_scope_enter(&outer, 0.01);
	p->expired_rc = co_sleep(3600);
	co_shield_enter();
	p->cleanup_rc = co_sleep(0.005);
	co_scope_enter(&inner, 0.005);
	p->inner_rc = co_sleep(3600);
	p->inner_exit = co_scope_exit(&inner);
	co_shield_exit();
	p->after_rc = co_sleep(0);
	p->exit_rc = co_scope_exit(&outer);
	return 0;
}

START_TEST(test_shield_holds_off_expired_scope)
{
	struct shield_probe p;
	double t0 = co_now();

	tu_run(shield_scope, &p);
	ck_assert_int_eq(p.expired_rc, -ETIMEDOUT);
	ck_assert_int_eq(p.cleanup_rc, 0);
	ck_assert_int_eq(p.inner_rc, -ETIMEDOUT);
	ck_assert_int_eq(p.inner_exit, -ETIMEDOUT);
	ck_assert_int_eq(p.after_rc, -ETIMEDOUT);
	ck_assert_int_eq(p.exit_rc, -ETIMEDOUT);
	tu_assert_time(co_now() - t0, 0.02, 0.01);
}
END_TEST

/* A scope entered inside an outer shield is held off by an inner shield. */
static int
nested_shields(void *arg)
{
	int *rc = arg;
	struct co_scope sc;

	co_shield_enter();
	co_scope_enter(&sc, 0.01);
	rc[0] = co_sleep(3600);                 /* the scope counts here */
	co_shield_enter();
	rc[1] = co_sleep(0.005);                /* ...but not in here */
	co_shield_exit();
	rc[2] = co_sleep(0);
	rc[3] = co_scope_exit(&sc);
	co_shield_exit();
	return 0;
}

START_TEST(test_nested_shield_holds_off_scope_of_outer)
{
	int rc[4];

	tu_run(nested_shields, rc);
	ck_assert_int_eq(rc[0], -ETIMEDOUT);
	ck_assert_int_eq(rc[1], 0);
	ck_assert_int_eq(rc[2], -ETIMEDOUT);
	ck_assert_int_eq(rc[3], -ETIMEDOUT);
}
END_TEST

struct race {
	int sv[2];
	int wait_rc, exit_rc;
	double entered;         /* when the scope began */
};

/* The scope's deadline: long enough that the write comes before it on a
 * loaded machine (it did not at 0.02 s under ASan beside a CPU hog). */
#define RACE_DEADLINE (0.1 * tu_slow())

static int
io_in_scope(void *arg)
{
	struct race *r = arg;
	struct co_scope sc;

	r->entered = co_now();
	co_scope_enter(&sc, RACE_DEADLINE);
	r->wait_rc = co_io_wait(r->sv[0], CO_IO_READ, CO_FOREVER);
	r->exit_rc = co_scope_exit(&sc);
	return 0;
}

/* The fd becomes readable and the scope's deadline passes while the loop
 * is busy; libevent then runs the I/O callback before the timer in the same
 * iteration.  The wait got what it waited for: the scope did not interrupt
 * anything and must not say it did. */
static int
handoff_vs_deadline(void *arg)
{
	struct race *r = arg;
	struct co_task *t;

	ck_assert_int_eq(co_spawn(tu_rt, io_in_scope, r, &t), 0);
	ck_assert_int_eq(co_sleep(0.01), 0);
	/* The order this test needs: the write before the deadline. */
	ck_assert_msg(co_now() < r->entered + RACE_DEADLINE, "woke %.3f s "
	    "after the scope began", co_now() - r->entered);
	ck_assert_int_eq(write(r->sv[1], "x", 1), 1);
	while (co_now() < r->entered + RACE_DEADLINE + 0.01)
		;                               /* hold the loop past it */
	ck_assert_int_eq(co_join(t, NULL), 0);
	return 0;
}

START_TEST(test_handoff_beats_deadline_in_same_iteration)
{
	struct race r;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, r.sv), 0);
	tu_run(handoff_vs_deadline, &r);
	ck_assert_int_eq(r.wait_rc, 0);
	ck_assert_int_eq(r.exit_rc, 0);
	close(r.sv[0]);
	close(r.sv[1]);
}
END_TEST

static int
waits_forever(void *arg)
{
	*(int *)arg = co_park(CO_FOREVER, 0);
	return 0;
}

/* Clean-up that spawns a task while the runtime shuts down. */
static int
spawns_in_cleanup(void *arg)
{
	int rc = co_sleep(3600);

	co_shield_enter();
	if (co_spawn(tu_rt, waits_forever, arg, NULL) < 0)
		*(int *)arg = -ENOMEM;
	co_shield_exit();
	return rc;
}

START_TEST(test_shutdown_cancels_tasks_spawned_during_it)
{
	int helper_rc = 1;
	struct event *keepalive;

	/* Any other event keeps the loop from running dry, as in a daemon. */
	keepalive = event_new(tu_base, -1, EV_PERSIST, flag_cb, NULL);
	ck_assert_int_eq(co_spawn(tu_rt, spawns_in_cleanup, &helper_rc, NULL), 0);
	event_base_loop(tu_base, EVLOOP_NONBLOCK);
	event_add(keepalive, &(struct timeval){ 3600, 0 });
	co_rt_shutdown(tu_rt);
	ck_assert_int_eq(helper_rc, -ECANCELED);
	event_free(keepalive);
}
END_TEST

/* ---- scheduler ---------------------------------------------------------- */

static int
errno_keeper(void *arg)
{
	int mine = *(int *)arg;

	errno = mine;
	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(co_yield(), 0);
		ck_assert_int_eq(errno, mine);
		errno = mine;
	}
	return 0;
}

static int
errno_main(void *arg)
{
	static int a = 1111, b = 2222;
	struct co_task *ta, *tb;

	(void)arg;
	ck_assert_int_eq(co_spawn(tu_rt, errno_keeper, &a, &ta), 0);
	ck_assert_int_eq(co_spawn(tu_rt, errno_keeper, &b, &tb), 0);
	errno = 3333;
	ck_assert_int_eq(co_join(ta, NULL), 0);
	ck_assert_int_eq(errno, 3333);
	ck_assert_int_eq(co_join(tb, NULL), 0);
	return 0;
}

START_TEST(test_errno_survives_switch)
{
	tu_run(errno_main, NULL);
}
END_TEST

struct starve {
	bool timer_fired, io_fired;
	long spins;
	int sv[2];
	struct event *tev, *iev;
};

static void
flag_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	if (arg != NULL)
		*(bool *)arg = true;
}

/* The events are added from inside the spinner, so they can fire only
 * while it yields: if co_yield() starved the loop, it would spin on. */
static int
spinner(void *arg)
{
	struct starve *s = arg;
	struct timeval tv = { 0, 10000 };

	ck_assert_int_eq(write(s->sv[1], "x", 1), 1);
	evtimer_add(s->tev, &tv);
	event_add(s->iev, NULL);
	while (!(s->timer_fired && s->io_fired)) {
		ck_assert_int_eq(co_yield(), 0);
		s->spins++;
	}
	return 0;
}

START_TEST(test_yield_does_not_starve_io)
{
	struct starve s = { 0 };
	double t0 = co_now();

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, s.sv), 0);
	s.tev = evtimer_new(tu_base, flag_cb, &s.timer_fired);
	s.iev = event_new(tu_base, s.sv[0], EV_READ, flag_cb, &s.io_fired);
	tu_run(spinner, &s);
	ck_assert(s.spins >= 1);                /* it really was spinning */
	tu_assert_time(co_now() - t0, 0.01, 0.005);
	event_free(s.tev);
	event_free(s.iev);
	close(s.sv[0]);
	close(s.sv[1]);
}
END_TEST

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int
precise(void *arg)
{
	double d[21];

	(void)arg;
	for (int i = 0; i < 21; i++) {
		double t0 = co_now();

		ck_assert_int_eq(co_sleep(0.0005), 0);
		d[i] = co_now() - t0;
		ck_assert_msg(d[i] >= 0.0005, "woke early: %.6f", d[i]);
	}
	/* Sub-millisecond: the median 0.5 ms sleep ends within 0.5 ms of its
	 * deadline (the median, because a loaded CI machine may deschedule
	 * us for any single one). */
	qsort(d, 21, sizeof(d[0]), cmp_double);
	tu_assert_time(d[10], 0.0005, 0.0005);
	return 0;
}

START_TEST(test_timers_sub_millisecond)
{
	tu_run(precise, NULL);
}
END_TEST

#define MANY TU_CROWD

static int
many_sleep(void *arg)
{
	int rc = co_sleep(0.1);

	if (rc == 0)
		(*(int *)arg)++;
	return rc;
}

static int
many_main(void *arg)
{
	static struct co_task *t[MANY];
	int done = 0, r;

	(void)arg;
	for (int i = 0; i < MANY; i++)
		ck_assert_int_eq(co_spawn(tu_rt, many_sleep, &done, &t[i]), 0);
	for (int i = 0; i < MANY; i++) {
		ck_assert_int_eq(co_join(t[i], &r), 0);
		ck_assert_int_eq(r, 0);
	}
	return done;
}

START_TEST(test_10000_concurrent_tasks)
{
	struct co_rt_stats st;
	double t0 = co_now();

	ck_assert_int_eq(tu_run(many_main, NULL), MANY);
	/* One at a time this would take MANY * 0.1 s (1000 s); concurrently
	 * about 0.1 s plus mapping the stacks, which valgrind on a busy
	 * machine stretches to ~15 s.  The bound is a tenth of the
	 * sequential time: it fails if the sleeps were serialised, never
	 * because the machine is slow (the speed is bench/'s). */
	ck_assert_msg(co_now() - t0 < MANY * 0.1 / 10, "%d sleeps of 0.1 s "
	    "took %.1f s: not concurrent", MANY, co_now() - t0);
	co_rt_stats(tu_rt, &st);
	ck_assert_uint_ge(st.stacks_total, MANY);
	ck_assert_uint_eq(st.stacks_free, st.stacks_total);
	ck_assert_uint_eq(st.tasks_running, 0);
}
END_TEST

static int
stuck(void *arg)
{
	(void)arg;
	return co_park(CO_FOREVER, 0);          /* nothing will wake it */
}

START_TEST(test_deadlock_detected)
{
	int r = 0;

	ck_assert_int_eq(co_rt_run(tu_rt, stuck, NULL, &r), -EDEADLK);
	ck_assert_int_eq(r, -ECANCELED);        /* cancelled so it unwound */
}
END_TEST

static int
never_joined(void *arg)
{
	(void)arg;
	return co_sleep(0.001);
}

START_TEST(test_rt_free_refuses_live_tasks)
{
	struct co_task *t;

	ck_assert_int_eq(co_spawn(tu_rt, never_joined, NULL, &t), 0);
	ck_assert_int_eq(co_rt_free(tu_rt), -EBUSY);
	co_detach(t);
	co_rt_shutdown(tu_rt);                  /* teardown checks the rest */
}
END_TEST

/* ---- stack overflow ------------------------------------------------------ */

/* Unbounded on purpose; the limit keeps the compiler from proving it. */
static volatile int recurse_limit = 1 << 30;

static int __attribute__((noinline))
recurse(int depth)
{
	volatile char pad[512];

	pad[0] = (char)depth;
	if (depth >= recurse_limit)
		return 0;
	return recurse(depth + 1) + pad[0];
}

/* Like glibc's big frames: 24 KiB, no stack-clash probes, so the first
 * write lands far below the frame's top — past a one-page guard. */
static int __attribute__((noinline, optimize("no-stack-clash-protection")))
recurse_big(int depth)
{
	volatile char pad[24 * 1024];

	pad[0] = (char)depth;
	if (depth >= recurse_limit)
		return 0;
	return recurse_big(depth + 1) + pad[0];
}

static int
overflow(void *arg)
{
	return arg != NULL ? recurse_big(0) : recurse(0);
}

/* _i == 0: guard pages as the kernel gives them (MADV_GUARD_INSTALL on
 * 6.13+); _i == 1: the mprotect fallback of older kernels, forced; _i == 2:
 * frames of 24 KiB that a one-page guard would let jump into the next
 * stack down. */
START_TEST(test_stack_overflow_reported)
{
	int pfd[2], status;
	char buf[512] = "";
	ssize_t n, len = 0;
	pid_t pid;

	ck_assert_int_eq(pipe(pfd), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		dup2(pfd[1], STDERR_FILENO);
		close(pfd[0]);
		if (_i == 1) {
			struct co_rt *rt;
			int r;

			setenv("JOBD_STACK_GUARD", "mprotect", 1);
			rt = co_rt_new(tu_base, NULL);
			co_rt_run(rt, overflow, NULL, &r);
		} else {
			tu_run(overflow, _i == 2 ? "big" : NULL);
		}
		_exit(0);                       /* not reached */
	}
	close(pfd[1]);
	while ((n = read(pfd[0], buf + len, sizeof(buf) - 1 - (size_t)len)) > 0)
		len += n;
	close(pfd[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
	    "child status %#x", status);
	ck_assert_msg(strstr(buf, "coroutine stack overflow") != NULL,
	    "stderr was: %s", buf);
}
END_TEST

/* A SIGSEGV sent with raise(), not a fault: the reporter must pass it on
 * to the default action at once, not swallow it. */
START_TEST(test_sent_sigsegv_not_swallowed)
{
	int status;
	pid_t pid = fork();

	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		raise(SIGSEGV);
		_exit(0);                       /* swallowed: the bug */
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	/* The previous handler decides what happens: the default action, or
	 * under ASan its own report and exit(1).  Never survival. */
	ck_assert_msg(!(WIFEXITED(status) && WEXITSTATUS(status) == 0),
	    "SIGSEGV was swallowed");
#ifndef JOBD_SANITIZE
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
	    "child status %#x", status);
#endif
}
END_TEST

static Suite *
co_suite(void)
{
	Suite *s = suite_create("co");
	TCase *tc = tcase_create("tasks");

	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_spawn_join);
	tcase_add_test(tc, test_detached_tasks_run_and_release);
	tcase_add_test(tc, test_tutorial_sequential_vs_concurrent);
	tcase_add_test(tc, test_tutorial_workers_out_of_order);
	tcase_add_test(tc, test_tutorial_cancel_with_cleanup);
	tcase_add_test(tc, test_cancel_is_sticky);
	tcase_add_test(tc, test_cancel_before_start);
	tcase_add_test(tc, test_join_interrupted_by_cancel);
	tcase_add_test(tc, test_wait_for);
	tcase_add_test(tc, test_scope_timeout);
	tcase_add_test(tc, test_scope_not_expired);
	tcase_add_test(tc, test_scope_nested_outer_fires);
	tcase_add_test(tc, test_scope_sleep_shorter_than_deadline);
	tcase_add_test(tc, test_shield_holds_off_expired_scope);
	tcase_add_test(tc, test_nested_shield_holds_off_scope_of_outer);
	tcase_add_test(tc, test_handoff_beats_deadline_in_same_iteration);
	tcase_add_test(tc, test_shutdown_cancels_tasks_spawned_during_it);
	tcase_add_test(tc, test_errno_survives_switch);
	tcase_add_test(tc, test_yield_does_not_starve_io);
	tcase_add_test(tc, test_timers_sub_millisecond);
	tcase_add_test(tc, test_10000_concurrent_tasks);
	tcase_add_test(tc, test_deadlock_detected);
	tcase_add_test(tc, test_rt_free_refuses_live_tasks);
	tcase_add_loop_test(tc, test_stack_overflow_reported, 0, 3);
	tcase_add_test(tc, test_sent_sigsegv_not_swallowed);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(co_suite());
}
