/*
 * test_pool.c — the executor (co_pool.h): results, parallelism with a live
 * loop, FIFO order, cancellation and deadlines while queued or running, the
 * ownership of abandoned work, co_pool_free with work in flight, and the
 * eventfd wake-up coalescing under racing completions.
 *
 * Worker functions block on a "gate" (an atomic flag they poll) when a test
 * needs them held at a known point.  State the worker threads share with
 * the test is atomic; everything else is touched on the loop thread only.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "co.h"
#include "co_pool.h"
#include "testutil.h"

static struct co_pool *pool;

static atomic_int gate;                 /* fns wait while 0 */
static atomic_int started, returned;    /* fn calls begun / ended */
static atomic_int concurrent, peak;     /* fns inside now / at most */
static atomic_int order[64], norder;    /* start order of gated_order */

/* Loop-thread state for cleanups. */
static int cleanups, cleanups_null, cleanups_bad;
static pthread_t loop_thread;

static void
reset(void)
{
	atomic_store(&gate, 0);
	atomic_store(&started, 0);
	atomic_store(&returned, 0);
	atomic_store(&concurrent, 0);
	atomic_store(&peak, 0);
	atomic_store(&norder, 0);
	cleanups = cleanups_null = cleanups_bad = 0;
	loop_thread = pthread_self();
	pool = NULL;
}

static void
setup(void)
{
	tu_setup();
	reset();
}

/* Poll from a task until *v >= want, at most limit seconds. */
static void
await_count(atomic_int *v, int want, double limit)
{
	double end = co_now() + limit * tu_slow();

	while (atomic_load(v) < want) {
		ck_assert_msg(co_now() < end, "waited for %d, have %d", want,
		    atomic_load(v));
		ck_assert_int_eq(co_sleep(0.001), 0);
	}
}

static void
await_int(const int *v, int want, double limit)
{
	double end = co_now() + limit * tu_slow();

	while (*v < want) {
		ck_assert_msg(co_now() < end, "waited for %d, have %d", want,
		    *v);
		ck_assert_int_eq(co_sleep(0.001), 0);
	}
}

static void
wait_gate(void)
{
	while (atomic_load(&gate) == 0)
		usleep(200);
}

/* ---- worker functions ---------------------------------------------------- */

static void *
add_one(void *arg)
{
	return (void *)((intptr_t)arg + 1);
}

static void *
which_thread(void *arg)
{
	pthread_t *t = arg;

	*t = pthread_self();
	return t;
}

/* usleep(10 ms), tracking how many run at once. */
static void *
nap(void *arg)
{
	int now = atomic_fetch_add(&concurrent, 1) + 1, p = atomic_load(&peak);

	while (now > p && !atomic_compare_exchange_weak(&peak, &p, now))
		;
	usleep(10000);
	atomic_fetch_sub(&concurrent, 1);
	return arg;
}

/* Record the start order, then wait for the gate. */
static void *
gated_order(void *arg)
{
	atomic_store(&order[atomic_fetch_add(&norder, 1)], (int)(intptr_t)arg);
	wait_gate();
	return NULL;
}

/* A heap arg in, a heap result out: leaks unless cleanup frees both. */
static void *
gated_alloc(void *arg)
{
	int *r = malloc(sizeof(*r));

	atomic_fetch_add(&started, 1);
	wait_gate();
	*r = *(int *)arg * 10;
	atomic_fetch_add(&returned, 1);
	return r;
}

static void *
slow_alloc(void *arg)
{
	int *r = malloc(sizeof(*r));

	atomic_fetch_add(&started, 1);
	usleep(200 * 1000);
	*r = *(int *)arg * 10;
	atomic_fetch_add(&returned, 1);
	return r;
}

/* Cleanup for gated_alloc/slow_alloc: checks it runs on the loop thread,
 * after fn, with fn's result (or NULL if fn never started). */
static void
free_both(void *arg, void *result)
{
	cleanups++;
	if (!pthread_equal(pthread_self(), loop_thread))
		cleanups_bad++;
	if (result == NULL)
		cleanups_null++;
	else if (*(int *)result != *(int *)arg * 10)
		cleanups_bad++;
	free(arg);
	free(result);
}

static int *
new_int(int v)
{
	int *p = malloc(sizeof(*p));

	*p = v;
	return p;
}

/* A task running one heap job; returns co_pool_run's status. */
static int
run_alloc(void *arg)
{
	void *res = NULL;
	int rc = co_pool_run(pool, gated_alloc, arg, free_both, &res);

	if (rc == 0)
		free_both(arg, res);    /* ours again: same checks */
	return rc;
}

/* ---- result -------------------------------------------------------------- */

static int
result_main(void *arg)
{
	struct co_pool_stats st;
	pthread_t t;
	void *res = NULL;

	(void)arg;
	ck_assert_int_eq(co_pool_run(pool, add_one, (void *)41, NULL, &res), 0);
	ck_assert_int_eq((intptr_t)res, 42);
	ck_assert_int_eq(co_pool_run(pool, which_thread, &t, NULL, &res), 0);
	ck_assert_ptr_eq(res, &t);
	ck_assert_msg(!pthread_equal(t, pthread_self()), "fn ran on the loop");
	ck_assert_int_eq(co_pool_run(pool, add_one, NULL, NULL, NULL), 0);
	co_pool_stats(pool, &st);
	ck_assert_uint_eq(st.threads, 2);
	ck_assert_uint_eq(st.completed, 3);
	ck_assert_uint_eq(st.queued + st.running + st.abandoned, 0);
	return 0;
}

START_TEST(test_result)
{
	ck_assert_ptr_nonnull(pool = co_pool_new(tu_rt, 2));
	ck_assert_int_eq(tu_run(result_main, NULL), 0);
	/* An idle pool keeps no event added: the loop could exit. */
	ck_assert_int_eq(event_base_loop(tu_base, EVLOOP_NONBLOCK), 1);
	co_pool_free(pool);
}
END_TEST

/* ---- creation, signal mask ----------------------------------------------- */

static void *
mask_of_thread(void *arg)
{
	sigset_t *set = arg;

	pthread_sigmask(SIG_BLOCK, NULL, set);
	return NULL;
}

static int
mask_main(void *arg)
{
	sigset_t set;

	(void)arg;
	ck_assert_int_eq(co_pool_run(pool, mask_of_thread, &set, NULL, NULL), 0);
	ck_assert(sigismember(&set, SIGTERM));
	ck_assert(sigismember(&set, SIGCHLD));
	ck_assert(sigismember(&set, SIGHUP));
	ck_assert(!sigismember(&set, SIGSEGV));
	return 0;
}

START_TEST(test_new_and_signals)
{
	struct co_pool_stats st;
	sigset_t before, after;

	pthread_sigmask(SIG_BLOCK, NULL, &before);
	errno = 0;
	ck_assert_ptr_null(co_pool_new(tu_rt, CO_POOL_THREADS_MAX + 1));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_nonnull(pool = co_pool_new(tu_rt, 0));
	co_pool_stats(pool, &st);
	ck_assert_uint_eq(st.threads, CO_POOL_THREADS_DEFAULT);
	pthread_sigmask(SIG_BLOCK, NULL, &after);
	ck_assert(!sigismember(&before, SIGTERM));
	ck_assert(!sigismember(&after, SIGTERM));      /* mask restored */
	ck_assert_int_eq(tu_run(mask_main, NULL), 0);
	co_pool_free(pool);
	co_pool_free(NULL);
}
END_TEST

/* ---- many tasks, many jobs, a live loop ---------------------------------- */

/* Few and long enough that the nap, not the loop's cost per job (large
 * under TSan), sets the time, so the serial baseline stays the slower. */
#define NAPS 40

struct ticker {
	int ticks;
	double max_gap;
	bool stop;
};

static int
ticker_main(void *arg)
{
	struct ticker *tk = arg;
	double last = co_now(), now;

	while (!tk->stop) {
		if (co_sleep(0.002) < 0)
			break;
		now = co_now();
		if (now - last > tk->max_gap)
			tk->max_gap = now - last;
		last = now;
		tk->ticks++;
	}
	return 0;
}

static int
nap_task(void *arg)
{
	void *res = NULL;
	int rc = co_pool_run(pool, nap, arg, NULL, &res);

	return rc < 0 ? rc : (int)(intptr_t)res;
}

/* Run NAPS naps through pool from NAPS tasks; the seconds it took. */
static double
naps(void)
{
	struct co_task *tasks[NAPS];
	double t0 = co_now();
	int i, r;

	for (i = 0; i < NAPS; i++)
		ck_assert_int_eq(co_spawn(tu_rt, nap_task, (void *)(intptr_t)i,
		    &tasks[i]), 0);
	for (i = 0; i < NAPS; i++) {
		ck_assert_int_eq(co_join(tasks[i], &r), 0);
		ck_assert_int_eq(r, i);
	}
	return co_now() - t0;
}

/* The baseline: the same naps on a pool of one thread, in the same test
 * (so on the same machine, as loaded as it is now). */
static int
serial_main(void *arg)
{
	*(double *)arg = naps();
	return 0;
}

static int
concurrent_main(void *arg)
{
	struct co_task *tick;
	struct ticker tk = { 0, 0, false };
	double serial = *(double *)arg, el;

	ck_assert_int_eq(co_spawn(tu_rt, ticker_main, &tk, &tick), 0);
	el = naps();
	tk.stop = true;
	ck_assert_int_eq(co_join(tick, NULL), 0);
	printf("%d naps: %.3f s on 4 threads, %.3f s on 1\n", NAPS, el, serial);
	/* 40 x 10 ms on 4 threads: 0.1 s at best (earlier is a bug); one
	 * thread needs at least 0.4.  Four threads ran at once (peak), and
	 * they bought time: at worst half the serial time of the same naps
	 * measured just before (4 threads would give a quarter), so a loaded
	 * machine slows both alike (docs/RELIABILITY.md, "Timing in tests"). */
	ck_assert_msg(el >= 0.1, "%d naps took %.3f s", NAPS, el);
	ck_assert_msg(serial >= 0.4, "%d serial naps took %.3f s", NAPS,
	    serial);
	ck_assert_int_eq(atomic_load(&peak), 4);
	ck_assert_msg(el < serial / 2, "%d naps took %.3f s, serially %.3f s",
	    NAPS, el, serial);
	/* The loop stayed free: the 2 ms ticker kept ticking (a count, not a
	 * rate) and never stopped for half of the run, as a loop blocked in
	 * the naps would. */
	ck_assert_msg(tk.ticks >= 4, "%d ticks in %.3f s", tk.ticks, el);
	ck_assert_msg(tk.max_gap < el / 2, "loop stalled for %.4f s of %.3f s",
	    tk.max_gap, el);
	return 0;
}

START_TEST(test_concurrent)
{
	double serial;

	ck_assert_ptr_nonnull(pool = co_pool_new(tu_rt, 1));
	ck_assert_int_eq(tu_run(serial_main, &serial), 0);
	co_pool_free(pool);
	atomic_store(&peak, 0);
	ck_assert_ptr_nonnull(pool = co_pool_new(tu_rt, 4));
	ck_assert_int_eq(tu_run(concurrent_main, &serial), 0);
	co_pool_free(pool);
}
END_TEST

/* ---- FIFO ---------------------------------------------------------------- */

#define FIFO_N 20

static int
order_task(void *arg)
{
	return co_pool_run(pool, gated_order, arg, NULL, NULL);
}

static int
fifo_main(void *arg)
{
	struct co_task *tasks[FIFO_N];
	struct co_pool_stats st;
	int i, r;

	(void)arg;
	for (i = 0; i < FIFO_N; i++)
		ck_assert_int_eq(co_spawn(tu_rt, order_task,
		    (void *)(intptr_t)i, &tasks[i]), 0);
	await_count(&norder, 1, 2);     /* job 0 holds the only thread */
	co_pool_stats(pool, &st);
	ck_assert_uint_eq(st.running, 1);
	ck_assert_uint_eq(st.queued, FIFO_N - 1);
	atomic_store(&gate, 1);
	for (i = 0; i < FIFO_N; i++) {
		ck_assert_int_eq(co_join(tasks[i], &r), 0);
		ck_assert_int_eq(r, 0);
	}
	ck_assert_int_eq(atomic_load(&norder), FIFO_N);
	for (i = 0; i < FIFO_N; i++)
		ck_assert_int_eq(atomic_load(&order[i]), i);
	return 0;
}

START_TEST(test_fifo)
{
	ck_assert_ptr_nonnull(pool = co_pool_new(tu_rt, 1));
	ck_assert_int_eq(tu_run(fifo_main, NULL), 0);
	co_pool_free(pool);
}
END_TEST

/* ---- cancel while fn runs ------------------------------------------------ */

static int
cancel_running_main(void *arg)
{
	struct co_pool_stats st;
	struct co_task *t;
	double t0;
	int r;

	(void)arg;
	ck_assert_int_eq(co_spawn(tu_rt, run_alloc, new_int(7), &t), 0);
	await_count(&started, 1, 2);
	t0 = co_now();
	co_cancel(t);
	ck_assert_int_eq(co_join(t, &r), 0);
	ck_assert_int_eq(r, -ECANCELED);
	tu_assert_time(co_now() - t0, 0, 0.02);         /* not after fn */
	ck_assert_int_eq(cleanups, 0);                  /* fn still runs */
	ck_assert_int_eq(atomic_load(&returned), 0);
	co_pool_stats(pool, &st);
	ck_assert_uint_eq(st.abandoned, 1);
	ck_assert_uint_eq(st.running, 1);
	atomic_store(&gate, 1);
	await_int(&cleanups, 1, 2);
	ck_assert_int_eq(atomic_load(&returned), 1);
	ck_assert_int_eq(co_sleep(0.02), 0);
	ck_assert_int_eq(cleanups, 1);                  /* exactly once */
	ck_assert_int_eq(cleanups_null, 0);             /* with fn's result */
	ck_assert_int_eq(cleanups_bad, 0);
	return 0;
}

START_TEST(test_cancel_running)
{
	ck_assert_ptr_nonnull(pool = co_pool_new(tu_rt, 2));
	ck_assert_int_eq(tu_run(cancel_running_main, NULL), 0);
	co_pool_free(pool);
	ck_assert_int_eq(cleanups, 1);
}
END_TEST

/* ---- cancel and completion in the same loop iteration -------------------- */

/* The race the hand-off must survive: a cancel wakes the task, then the
 * pool's callback delivers its result before the task has run (co_wake
 * fails).  To stage it, the cancel comes from the callback of an eventfd
 * made readable before the job completes: epoll reports ready fds in the
 * order they became ready, and libevent runs them in that order, both ahead
 * of the runner that resumes the task. */
static void
cancel_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t n;

	(void)what;
	ck_assert_int_eq(read(fd, &n, sizeof(n)), sizeof(n));
	co_cancel(arg);
}

static int
cancel_at_delivery_main(void *arg)
{
	struct co_pool_stats st;
	struct co_task *t;
	struct event *ev;
	uint64_t one = 1;
	double end;
	int efd = *(int *)arg, r;

	ck_assert_int_eq(co_spawn(tu_rt, run_alloc, new_int(5), &t), 0);
	await_count(&started, 1, 2);
	ev = event_new(tu_base, efd, EV_READ, cancel_cb, t);
	ck_assert_int_eq(event_add(ev, NULL), 0);
	/* From here until co_join the loop thread does not yield. */
	ck_assert_int_eq(write(efd, &one, sizeof(one)), sizeof(one));
	atomic_store(&gate, 1);
	end = co_now() + 5 * tu_slow();
	do {
		usleep(1000);
		co_pool_stats(pool, &st);
	} while (st.completed < 1 && co_now() < end);
	ck_assert_uint_eq(st.completed, 1);
	ck_assert_int_eq(co_join(t, &r), 0);
	ck_assert_int_eq(r, -ECANCELED);
	/* The task found its result delivered and cleaned up itself. */
	ck_assert_int_eq(cleanups, 1);
	ck_assert_int_eq(cleanups_null + cleanups_bad, 0);
	event_free(ev);
	co_pool_stats(pool, &st);
	ck_assert_uint_eq(st.abandoned, 1);
	ck_assert_uint_eq(st.wakeups, 1);
	return 0;
}

START_TEST(test_cancel_at_delivery)
{
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	ck_assert_int_ge(efd, 0);
	ck_assert_ptr_nonnull(pool = co_pool_new(tu_rt, 1));
	ck_assert_int_eq(tu_run(cancel_at_delivery_main, &efd), 0);
	co_pool_free(pool);
	ck_assert_int_eq(cleanups, 1);
	close(efd);
}
END_TEST

/* ---- cancel while queued ------------------------------------------------- */

static int
cancel_queued_main(void *arg)
{
	struct co_pool_stats st;
	struct co_task *a, *b;
	int r;

	(void)arg;
	ck_assert_int_eq(co_spawn(tu_rt, run_alloc, new_int(1), &a), 0);
	await_count(&started, 1, 2);            /* a holds the only thread */
	ck_assert_int_eq(co_spawn(tu_rt, run_alloc, new_int(2), &b), 0);
	ck_assert_int_eq(co_yield(), 0);        /* b submits and parks */
	co_pool_stats(pool, &st);
	ck_assert_uint_eq(st.queued, 1);
	co_cancel(b);
	ck_assert_int_eq(co_join(b, &r), 0);
	ck_assert_int_eq(r, -ECANCELED);
	ck_assert_int_eq(cleanups, 1);          /* at once, with NULL */
	ck_assert_int_eq(cleanups_null, 1);
	co_pool_stats(pool, &st);
	ck_assert_uint_eq(st.queued, 0);
	atomic_store(&gate, 1);
	ck_assert_int_eq(co_join(a, &r), 0);
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(cleanups, 2);          /* a's own, via run_alloc */
	ck_assert_int_eq(co_sleep(0.02), 0);
	ck_assert_int_eq(atomic_load(&started), 1);     /* b's fn never ran */
	ck_assert_int_eq(cleanups_bad, 0);
	return 0;
}

START_TEST(test_cancel_queued)
{
	ck_assert_ptr_nonnull(pool = co_pool_new(tu_rt, 1));
	ck_assert_int_eq(tu_run(cancel_queued_main, NULL), 0);
	co_pool_free(pool);
	ck_assert_int_eq(atomic_load(&started), 1);
	ck_assert_int_eq(cleanups, 2);
}
END_TEST

/* ---- a deadline scope ---------------------------------------------------- */

static int
scope_main(void *arg)
{
	struct co_scope s;
	void *res = NULL;
	double t0 = co_now();
	int rc;

	(void)arg;
	co_scope_enter(&s, 0.05);
	rc = co_pool_run(pool, slow_alloc, new_int(3), free_both, &res);
	ck_assert_int_eq(co_scope_exit(&s), -ETIMEDOUT);
	ck_assert_int_eq(rc, -ETIMEDOUT);
	ck_assert_ptr_null(res);
	tu_assert_time(co_now() - t0, 0.05, 0.02);
	/* fn sleeps on for 0.2 s from after t0: its cleanup cannot have run
	 * before then (a loaded machine may give the loop back later). */
	if (co_now() - t0 < 0.2)
		ck_assert_int_eq(cleanups, 0);
	await_int(&cleanups, 1, 1);
	ck_assert_int_eq(cleanups_null + cleanups_bad, 0);
	return 0;
}

START_TEST(test_scope_timeout)
{
	ck_assert_ptr_nonnull(pool = co_pool_new(tu_rt, 1));
	ck_assert_int_eq(tu_run(scope_main, NULL), 0);
	co_pool_free(pool);
	ck_assert_int_eq(cleanups, 1);
}
END_TEST

/* ---- co_pool_free with abandoned work in flight -------------------------- */

#define FREE_N 6

static int
free_inflight_main(void *arg)
{
	struct co_task *tasks[FREE_N];
	int i, r;

	(void)arg;
	for (i = 0; i < FREE_N; i++)
		ck_assert_int_eq(co_spawn(tu_rt, run_alloc, new_int(i),
		    &tasks[i]), 0);
	await_count(&started, 2, 2);            /* 2 running, 4 queued */
	for (i = 0; i < FREE_N; i++) {
		ck_assert_int_eq(co_reap(tasks[i], &r), 0);
		ck_assert_int_eq(r, -ECANCELED);
	}
	ck_assert_int_eq(cleanups, FREE_N - 2); /* the queued ones */
	ck_assert_int_eq(cleanups_null, FREE_N - 2);
	atomic_store(&gate, 1);                 /* the rest is co_pool_free's */
	return 0;
}

START_TEST(test_free_inflight)
{
	struct co_pool_stats st;

	ck_assert_ptr_nonnull(pool = co_pool_new(tu_rt, 2));
	ck_assert_int_eq(tu_run(free_inflight_main, NULL), 0);
	co_pool_stats(pool, &st);
	ck_assert_uint_eq(st.abandoned, FREE_N);
	co_pool_free(pool);                     /* joins, then cleans up */
	ck_assert_int_eq(atomic_load(&returned), 2);
	ck_assert_int_eq(cleanups, FREE_N);
	ck_assert_int_eq(cleanups_null, FREE_N - 2);
	ck_assert_int_eq(cleanups_bad, 0);
}
END_TEST

/* ---- 10,000 small jobs --------------------------------------------------- */

#define SMALL_TASKS 100
#define SMALL_EACH 100

static int
small_task(void *arg)
{
	intptr_t base = (intptr_t)arg * SMALL_EACH;
	void *res;
	int rc;

	for (intptr_t i = 0; i < SMALL_EACH; i++) {
		if ((rc = co_pool_run(pool, add_one, (void *)(base + i), NULL,
		    &res)) < 0)
			return rc;
		if ((intptr_t)res != base + i + 1)
			return -EBADMSG;
	}
	return 0;
}

static int
small_main(void *arg)
{
	struct co_task *tasks[SMALL_TASKS];
	struct co_pool_stats st;
	int i, r;

	(void)arg;
	for (i = 0; i < SMALL_TASKS; i++)
		ck_assert_int_eq(co_spawn(tu_rt, small_task, (void *)(intptr_t)i,
		    &tasks[i]), 0);
	for (i = 0; i < SMALL_TASKS; i++) {
		ck_assert_int_eq(co_join(tasks[i], &r), 0);
		ck_assert_int_eq(r, 0);
	}
	co_pool_stats(pool, &st);
	ck_assert_uint_eq(st.completed, SMALL_TASKS * SMALL_EACH);
	ck_assert_uint_eq(st.abandoned, 0);
	ck_assert_uint_le(st.wakeups, st.notifies);
	return 0;
}

START_TEST(test_many_small)
{
	ck_assert_ptr_nonnull(pool = co_pool_new(tu_rt, 4));
	ck_assert_int_eq(tu_run(small_main, NULL), 0);
	co_pool_free(pool);
}
END_TEST

/* ---- eventfd coalescing -------------------------------------------------- */

#define BATCH 64

static int
gated_task(void *arg)
{
	void *res = NULL;
	int rc = co_pool_run(pool, gated_order, arg, NULL, &res);

	return rc;
}

/* Hold the loop thread (deliberately blocking it) while every gated job
 * completes: the first completion writes the eventfd, the other 63 see a
 * non-empty done list and do not, and one callback delivers all 64. */
static int
batch_main(void *arg)
{
	struct co_task *tasks[BATCH];
	struct co_pool_stats st0, st;
	double end;
	int i, r;

	(void)arg;
	for (i = 0; i < BATCH; i++)
		ck_assert_int_eq(co_spawn(tu_rt, gated_task, (void *)(intptr_t)0,
		    &tasks[i]), 0);
	await_count(&norder, 4, 2);
	co_pool_stats(pool, &st0);
	ck_assert_uint_eq(st0.completed, 0);
	atomic_store(&gate, 1);
	end = co_now() + 5 * tu_slow();
	do {
		usleep(1000);
		co_pool_stats(pool, &st);
	} while (st.completed < BATCH && co_now() < end);
	ck_assert_uint_eq(st.completed, BATCH);
	ck_assert_uint_eq(st.notifies - st0.notifies, 1);
	for (i = 0; i < BATCH; i++) {
		ck_assert_int_eq(co_join(tasks[i], &r), 0);
		ck_assert_int_eq(r, 0);
	}
	co_pool_stats(pool, &st);
	ck_assert_uint_eq(st.wakeups - st0.wakeups, 1);
	return 0;
}

START_TEST(test_coalesce_batch)
{
	ck_assert_ptr_nonnull(pool = co_pool_new(tu_rt, 4));
	ck_assert_int_eq(tu_run(batch_main, NULL), 0);
	co_pool_free(pool);
}
END_TEST

/* Many tiny jobs from many tasks: completions race with the drain all the
 * time.  A lost wake-up leaves a task parked forever, which the scope turns
 * into -ETIMEDOUT instead of a hang. */
#define RACE_TASKS 32

static int
race_main(void *arg)
{
	struct co_task *tasks[RACE_TASKS];
	struct co_pool_stats st;
	struct co_scope s;
	int i, r;

	(void)arg;
	for (i = 0; i < RACE_TASKS; i++)
		ck_assert_int_eq(co_spawn(tu_rt, small_task, (void *)(intptr_t)i,
		    &tasks[i]), 0);
	co_scope_enter(&s, 20 * tu_slow());
	for (i = 0; i < RACE_TASKS; i++) {
		ck_assert_int_eq(co_join(tasks[i], &r), 0);
		ck_assert_int_eq(r, 0);
	}
	ck_assert_int_eq(co_scope_exit(&s), 0);
	co_pool_stats(pool, &st);
	ck_assert_uint_eq(st.completed, RACE_TASKS * SMALL_EACH);
	ck_assert_uint_le(st.notifies, st.completed);
	ck_assert_uint_le(st.wakeups, st.notifies);
	return 0;
}

START_TEST(test_coalesce_race)
{
	for (int round = 0; round < 3; round++) {
		ck_assert_ptr_nonnull(pool = co_pool_new(tu_rt, 8));
		ck_assert_int_eq(tu_run(race_main, NULL), 0);
		co_pool_free(pool);
	}
}
END_TEST

static Suite *
pool_suite(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("pool");

	tcase_add_checked_fixture(tc, setup, tu_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_result);
	tcase_add_test(tc, test_new_and_signals);
	tcase_add_test(tc, test_concurrent);
	tcase_add_test(tc, test_fifo);
	tcase_add_test(tc, test_cancel_running);
	tcase_add_test(tc, test_cancel_at_delivery);
	tcase_add_test(tc, test_cancel_queued);
	tcase_add_test(tc, test_scope_timeout);
	tcase_add_test(tc, test_free_inflight);
	tcase_add_test(tc, test_many_small);
	tcase_add_test(tc, test_coalesce_batch);
	tcase_add_test(tc, test_coalesce_race);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(pool_suite());
}
