/*
 * test_queue.c — the bounded FIFO queue (co_queue.h).
 *
 * The asyncio tutorial's producer/consumer and worker-pool programs, the
 * hand-offs, cancellation and timeouts at every await with no item lost or
 * duplicated, close, set_capacity, remove, and a randomized stress run.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "co.h"
#include "co_queue.h"
#include "testutil.h"

#define SPAWN(fn, arg, tp) ck_assert_int_eq(co_spawn(tu_rt, (fn), (arg), (tp)), 0)
#define ITEM(n) ((void *)(uintptr_t)(n))
#define NUM(p) ((int)(uintptr_t)(p))

static int
join_rc(struct co_task *t)
{
	int r = -12345;

	ck_assert_int_eq(co_join(t, &r), 0);
	return r;
}

/* Let the tasks just spawned run until they park. */
static void
settle(void)
{
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(co_yield(), 0);
}

/* One task doing one put or get. */
struct op {
	struct co_queue *q;
	int item;               /* to put, or what was got (-1: nothing) */
};

static int
put_task(void *arg)
{
	struct op *o = arg;

	return co_queue_put(o->q, ITEM(o->item));
}

static int
get_task(void *arg)
{
	struct op *o = arg;
	void *item = ITEM(-1);
	int rc = co_queue_get(o->q, &item);

	o->item = NUM(item);
	return rc;
}

/* Spawn n tasks doing fn on items first_item, first_item + 1, ...; they
 * are parked (or done) on return. */
static void
spawn_ops(co_fn fn, struct op *o, struct co_task **t, int n,
    struct co_queue *q, int first_item)
{
	for (int i = 0; i < n; i++) {
		o[i] = (struct op){ q, first_item + i };
		SPAWN(fn, &o[i], &t[i]);
	}
	settle();
}

/* Get everything left without waiting; check it is first..last. */
static void
drain_expect(struct co_queue *q, int first, int last)
{
	void *item;

	for (int i = first; i <= last; i++) {
		ck_assert_int_eq(co_queue_get_nowait(q, &item), 0);
		ck_assert_int_eq(NUM(item), i);
	}
	ck_assert_int_eq(co_queue_get_nowait(q, &item),
	    co_queue_closed(q) ? -EPIPE : -EAGAIN);
}

/* ---- the tutorial programs ------------------------------------------------ */

#define PC_ITEMS 20

struct pc {
	struct co_queue *q;
	size_t maxlen;
	int got[PC_ITEMS];
	int ngot;
	double t0, put_at[PC_ITEMS];
};

static void
pc_sample(struct pc *pc)
{
	if (co_queue_len(pc->q) > pc->maxlen)
		pc->maxlen = co_queue_len(pc->q);
}

static int
producer(void *arg)
{
	struct pc *pc = arg;
	int rc;

	for (int i = 1; i <= PC_ITEMS; i++) {
		if ((rc = co_queue_put(pc->q, ITEM(i))) < 0)
			return rc;
		pc->put_at[i - 1] = co_now() - pc->t0;
		pc_sample(pc);
	}
	return 0;
}

static int
consumer(void *arg)
{
	struct pc *pc = arg;
	void *item;
	int rc;

	if ((rc = co_sleep(0.05)) < 0)          /* let the queue fill */
		return rc;
	for (int i = 0; i < PC_ITEMS; i++) {
		pc_sample(pc);
		if ((rc = co_queue_get(pc->q, &item)) < 0)
			return rc;
		pc->got[pc->ngot++] = NUM(item);
		ck_assert_int_eq(co_queue_task_done(pc->q), 0);
		if ((rc = co_sleep(0.001)) < 0)
			return rc;
	}
	return 0;
}

static int
pc_main(void *arg)
{
	struct pc pc = { .q = co_queue_new(5) };
	struct co_task *p, *c;

	(void)arg;
	pc.t0 = co_now();
	SPAWN(producer, &pc, &p);
	SPAWN(consumer, &pc, &c);
	ck_assert_int_eq(join_rc(p), 0);
	ck_assert_int_eq(join_rc(c), 0);
	ck_assert_uint_eq(pc.maxlen, 5);
	for (int i = 0; i < PC_ITEMS; i++)
		ck_assert_int_eq(pc.got[i], i + 1);
	/* Five fit at once; the sixth waited for the consumer. */
	ck_assert(pc.put_at[4] < 0.04);
	ck_assert(pc.put_at[5] >= 0.05);
	ck_assert_int_eq(co_queue_join(pc.q), 0);
	co_queue_free(pc.q);
	return 0;
}

START_TEST(test_producer_consumer)
{
	ck_assert_int_eq(tu_run(pc_main, NULL), 0);
}
END_TEST

/* asyncio docs: three workers drain 20 sleeps; join; cancel the workers. */
static int
pool_worker(void *arg)
{
	struct co_queue *q = arg;
	void *item;
	int rc;

	for (;;) {
		if ((rc = co_queue_get(q, &item)) < 0)
			return rc;
		rc = co_sleep(NUM(item) / 1000.0);
		ck_assert_int_eq(co_queue_task_done(q), 0);
		if (rc < 0)
			return rc;
	}
}

static int
pool_main(void *arg)
{
	struct co_queue *q = co_queue_new(0);
	struct co_task *t[3];
	double t0 = co_now();

	(void)arg;
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(co_queue_put_nowait(q, ITEM(10)), 0);
	for (int i = 0; i < 3; i++)
		SPAWN(pool_worker, q, &t[i]);
	ck_assert_int_eq(co_queue_join(q), 0);
	tu_assert_time(co_now() - t0, 0.09, 0.02);      /* 7 rounds of 10 ms */
	ck_assert_uint_eq(co_queue_len(q), 0);
	for (int i = 0; i < 3; i++) {
		co_cancel(t[i]);
		ck_assert_int_eq(join_rc(t[i]), -ECANCELED);
	}
	co_queue_free(q);
	return 0;
}

START_TEST(test_worker_pool_join)
{
	ck_assert_int_eq(tu_run(pool_main, NULL), 0);
}
END_TEST

/* ---- basics ---------------------------------------------------------------- */

static int
nowait_main(void *arg)
{
	struct co_queue *q = co_queue_new(3);
	void *item = ITEM(77);

	(void)arg;
	ck_assert_uint_eq(co_queue_capacity(q), 3);
	ck_assert_int_eq(co_queue_get_nowait(q, &item), -EAGAIN);
	ck_assert_int_eq(NUM(item), 77);                /* untouched */
	ck_assert_int_eq(co_queue_put_nowait(q, NULL), 0);  /* NULL is an item */
	ck_assert_int_eq(co_queue_put_nowait(q, ITEM(2)), 0);
	ck_assert_int_eq(co_queue_put_nowait(q, ITEM(3)), 0);
	ck_assert_int_eq(co_queue_put_nowait(q, ITEM(4)), -EAGAIN);
	ck_assert_int_eq(co_queue_put_timeout(q, ITEM(4), 0), -ETIMEDOUT);
	ck_assert_uint_eq(co_queue_len(q), 3);
	ck_assert_int_eq(co_queue_get_nowait(q, &item), 0);
	ck_assert_ptr_null(item);
	drain_expect(q, 2, 3);
	ck_assert_int_eq(co_queue_task_done(q), 0);
	ck_assert_int_eq(co_queue_task_done(q), 0);
	ck_assert_int_eq(co_queue_task_done(q), 0);
	ck_assert_int_eq(co_queue_task_done(q), -EINVAL);   /* one too many */
	ck_assert_int_eq(co_queue_join(q), 0);
	co_queue_free(q);
	ck_assert_ptr_null(co_queue_new(CO_QUEUE_MAX + 1));
	ck_assert_int_eq(errno, EINVAL);
	return 0;
}

START_TEST(test_nowait)
{
	ck_assert_int_eq(tu_run(nowait_main, NULL), 0);
}
END_TEST

/* Counts failures instead of asserting per item: each ck_assert costs a
 * write to Check's channel, too slow for 500,000 operations. */
static int
unbounded_main(void *arg)
{
	struct co_queue *q = co_queue_new(0);
	void *item;
	int bad = 0;

	(void)arg;
	for (int i = 0; i < 100000; i++)
		bad += co_queue_put_nowait(q, ITEM(i)) != 0;
	ck_assert_uint_eq(co_queue_len(q), 100000);
	for (int i = 0; i < 50000; i++) {   /* wrap the ring, then grow it */
		bad += co_queue_get_nowait(q, &item) != 0 || NUM(item) != i;
		bad += co_queue_put_nowait(q, ITEM(100000 + i)) != 0;
	}
	for (int i = 0; i < 100000; i++)
		bad += co_queue_put_nowait(q, ITEM(150000 + i)) != 0;
	for (int i = 50000; i < 250000; i++)
		bad += co_queue_get_nowait(q, &item) != 0 || NUM(item) != i;
	ck_assert_int_eq(bad, 0);
	ck_assert_int_eq(co_queue_get_nowait(q, &item), -EAGAIN);
	co_queue_free(q);
	return 0;
}

START_TEST(test_unbounded)
{
	ck_assert_int_eq(tu_run(unbounded_main, NULL), 0);
}
END_TEST

/* ---- hand-offs ------------------------------------------------------------- */

static int
handoff_getter_main(void *arg)
{
	struct co_queue *q = co_queue_new(2);
	struct op o[4];
	struct co_task *t[4];

	(void)arg;
	spawn_ops(get_task, o, t, 4, q, 0);
	for (int i = 1; i <= 4; i++) {
		ck_assert_int_eq(co_queue_put_nowait(q, ITEM(i)), 0);
		ck_assert_uint_eq(co_queue_len(q), 0);  /* straight to a getter */
	}
	ck_assert_int_eq(co_queue_put_nowait(q, ITEM(5)), 0);
	ck_assert_uint_eq(co_queue_len(q), 1);          /* no getter left */
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(join_rc(t[i]), 0);
		ck_assert_int_eq(o[i].item, i + 1);     /* FIFO getters */
	}
	drain_expect(q, 5, 5);
	co_queue_free(q);
	return 0;
}

START_TEST(test_handoff_to_getter)
{
	ck_assert_int_eq(tu_run(handoff_getter_main, NULL), 0);
}
END_TEST

static int
handoff_putter_main(void *arg)
{
	struct co_queue *q = co_queue_new(2);
	struct op o[4];
	struct co_task *t[4];
	void *item;

	(void)arg;
	ck_assert_int_eq(co_queue_put(q, ITEM(1)), 0);
	ck_assert_int_eq(co_queue_put(q, ITEM(2)), 0);
	spawn_ops(put_task, o, t, 4, q, 3);             /* items 3..6 wait */
	ck_assert_uint_eq(co_queue_len(q), 2);
	for (int i = 1; i <= 4; i++) {
		ck_assert_int_eq(co_queue_get(q, &item), 0);
		ck_assert_int_eq(NUM(item), i);
		ck_assert_uint_eq(co_queue_len(q), 2);  /* a putter moved in */
	}
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(join_rc(t[i]), 0);
	drain_expect(q, 5, 6);
	co_queue_free(q);
	return 0;
}

START_TEST(test_handoff_from_putter)
{
	ck_assert_int_eq(tu_run(handoff_putter_main, NULL), 0);
}
END_TEST

/* ---- cancellation and timeouts -------------------------------------------- */

static int
get_cancel_main(void *arg)
{
	struct co_queue *q = co_queue_new(4);
	struct op o[4];
	struct co_task *t[4];

	(void)arg;
	spawn_ops(get_task, o, t, 4, q, 0);
	co_cancel(t[0]);
	ck_assert_int_eq(join_rc(t[0]), -ECANCELED);
	ck_assert_int_eq(o[0].item, -1);
	/* Cancel and put at the same instant: 10 skips getter 1 for 2. */
	co_cancel(t[1]);
	ck_assert_int_eq(co_queue_put_nowait(q, ITEM(10)), 0);
	ck_assert_uint_eq(co_queue_len(q), 0);
	/* Handed to getter 3, then cancelled before it ran: first wins. */
	ck_assert_int_eq(co_queue_put_nowait(q, ITEM(11)), 0);
	co_cancel(t[3]);
	ck_assert_int_eq(join_rc(t[1]), -ECANCELED);
	ck_assert_int_eq(o[1].item, -1);
	ck_assert_int_eq(join_rc(t[2]), 0);
	ck_assert_int_eq(o[2].item, 10);
	ck_assert_int_eq(join_rc(t[3]), 0);
	ck_assert_int_eq(o[3].item, 11);
	/* No getter left: the next item is queued, not lost. */
	ck_assert_int_eq(co_queue_put_nowait(q, ITEM(12)), 0);
	drain_expect(q, 12, 12);
	co_queue_free(q);
	return 0;
}

START_TEST(test_get_cancel)
{
	ck_assert_int_eq(tu_run(get_cancel_main, NULL), 0);
}
END_TEST

static int
get_timeout_main(void *arg)
{
	struct co_queue *q = co_queue_new(4);
	struct co_scope sc;
	void *item = ITEM(77);
	double t0 = co_now();

	(void)arg;
	ck_assert_int_eq(co_queue_get_timeout(q, &item, 0.03), -ETIMEDOUT);
	tu_assert_time(co_now() - t0, 0.04, 0.01);
	t0 = co_now();
	co_scope_enter(&sc, 0.02);
	ck_assert_int_eq(co_queue_get(q, &item), -ETIMEDOUT);
	ck_assert_int_eq(co_scope_exit(&sc), -ETIMEDOUT);
	tu_assert_time(co_now() - t0, 0.03, 0.01);
	ck_assert_int_eq(NUM(item), 77);
	/* No getter is left behind to swallow the next item. */
	ck_assert_int_eq(co_queue_put_nowait(q, ITEM(1)), 0);
	ck_assert_uint_eq(co_queue_len(q), 1);
	drain_expect(q, 1, 1);
	co_queue_free(q);
	return 0;
}

START_TEST(test_get_timeout)
{
	ck_assert_int_eq(tu_run(get_timeout_main, NULL), 0);
}
END_TEST

static int
put_cancel_main(void *arg)
{
	struct co_queue *q = co_queue_new(1);
	struct op o[3];
	struct co_task *t[3];
	void *item;

	(void)arg;
	ck_assert_int_eq(co_queue_put(q, ITEM(1)), 0);
	spawn_ops(put_task, o, t, 3, q, 2);             /* 2, 3, 4 wait */
	co_cancel(t[0]);
	ck_assert_int_eq(join_rc(t[0]), -ECANCELED);
	/* Cancel and get at the same instant: 3 is skipped, 4 moves in. */
	co_cancel(t[1]);
	ck_assert_int_eq(co_queue_get_nowait(q, &item), 0);
	ck_assert_int_eq(NUM(item), 1);
	ck_assert_int_eq(join_rc(t[1]), -ECANCELED);
	ck_assert_int_eq(join_rc(t[2]), 0);
	drain_expect(q, 4, 4);
	/* Exactly two items were put: two task_done, not three. */
	ck_assert_int_eq(co_queue_task_done(q), 0);
	ck_assert_int_eq(co_queue_task_done(q), 0);
	ck_assert_int_eq(co_queue_task_done(q), -EINVAL);
	co_queue_free(q);
	return 0;
}

START_TEST(test_put_cancel)
{
	ck_assert_int_eq(tu_run(put_cancel_main, NULL), 0);
}
END_TEST

/* A withdrawn put returns -ECONNABORTED at once and puts nothing; the
 * others keep their order; an item nobody waits to put is -ENOENT, as is
 * one already in the queue. */
static int
withdraw_main(void *arg)
{
	struct co_queue *q = co_queue_new(1);
	struct op o[3];
	struct co_task *t[3];
	void *item;

	(void)arg;
	ck_assert_int_eq(co_queue_put(q, ITEM(1)), 0);
	spawn_ops(put_task, o, t, 3, q, 2);             /* 2, 3, 4 wait */
	ck_assert_int_eq(co_queue_withdraw(q, ITEM(3)), 0);
	ck_assert_int_eq(join_rc(t[1]), -ECONNABORTED);
	ck_assert(!co_done(t[0]) && !co_done(t[2]));
	ck_assert_int_eq(co_queue_withdraw(q, ITEM(3)), -ENOENT);
	ck_assert_int_eq(co_queue_withdraw(q, ITEM(1)), -ENOENT);
	ck_assert_int_eq(co_queue_withdraw(q, ITEM(9)), -ENOENT);
	for (int i = 1; i <= 2; i++) {  /* each get lets the next in */
		ck_assert_int_eq(co_queue_get_nowait(q, &item), 0);
		ck_assert_int_eq(NUM(item), i);
	}
	ck_assert_int_eq(join_rc(t[0]), 0);
	ck_assert_int_eq(join_rc(t[2]), 0);
	drain_expect(q, 4, 4);
	co_queue_free(q);
	return 0;
}

START_TEST(test_withdraw)
{
	ck_assert_int_eq(tu_run(withdraw_main, NULL), 0);
}
END_TEST

static int
put_timeout_main(void *arg)
{
	struct co_queue *q = co_queue_new(1);
	struct co_scope sc;
	double t0;

	(void)arg;
	ck_assert_int_eq(co_queue_put(q, ITEM(1)), 0);
	t0 = co_now();
	ck_assert_int_eq(co_queue_put_timeout(q, ITEM(2), 0.03), -ETIMEDOUT);
	tu_assert_time(co_now() - t0, 0.04, 0.01);
	t0 = co_now();
	co_scope_enter(&sc, 0.02);
	ck_assert_int_eq(co_queue_put(q, ITEM(3)), -ETIMEDOUT);
	ck_assert_int_eq(co_scope_exit(&sc), -ETIMEDOUT);
	tu_assert_time(co_now() - t0, 0.03, 0.01);
	ck_assert_uint_eq(co_queue_len(q), 1);
	drain_expect(q, 1, 1);
	/* No putter is left to sneak an item in. */
	ck_assert_uint_eq(co_queue_len(q), 0);
	co_queue_free(q);
	return 0;
}

START_TEST(test_put_timeout)
{
	ck_assert_int_eq(tu_run(put_timeout_main, NULL), 0);
}
END_TEST

struct joiner {
	struct co_queue *q;
	double timeout;
};

static int
join_task(void *arg)
{
	struct joiner *j = arg;

	return co_queue_join_timeout(j->q, j->timeout);
}

static int
join_main(void *arg)
{
	struct co_queue *q = co_queue_new(0);
	struct joiner j[3] = { { q, CO_FOREVER }, { q, 0.02 }, { q, CO_FOREVER } };
	struct co_task *t[3];
	void *item;

	(void)arg;
	ck_assert_int_eq(co_queue_join(q), 0);          /* nothing put */
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(co_queue_put_nowait(q, ITEM(i)), 0);
	for (int i = 0; i < 3; i++)
		SPAWN(join_task, &j[i], &t[i]);
	settle();
	co_cancel(t[2]);
	ck_assert_int_eq(join_rc(t[2]), -ECANCELED);
	ck_assert_int_eq(join_rc(t[1]), -ETIMEDOUT);
	for (int i = 0; i < 3; i++) {
		ck_assert(!co_done(t[0]));
		ck_assert_int_eq(co_queue_get_nowait(q, &item), 0);
		ck_assert_int_eq(co_queue_task_done(q), 0);
		settle();
	}
	ck_assert(co_done(t[0]));
	ck_assert_int_eq(join_rc(t[0]), 0);
	co_queue_free(q);
	return 0;
}

START_TEST(test_join)
{
	ck_assert_int_eq(tu_run(join_main, NULL), 0);
}
END_TEST

/* ---- close, capacity, remove ---------------------------------------------- */

static int
close_main(void *arg)
{
	struct co_queue *q = co_queue_new(2);
	struct op o[2], g[2];
	struct co_task *t[2], *tg[2];
	void *item;

	(void)arg;
	ck_assert_int_eq(co_queue_put(q, ITEM(1)), 0);
	ck_assert_int_eq(co_queue_put(q, ITEM(2)), 0);
	spawn_ops(put_task, o, t, 2, q, 3);
	co_queue_close(q);
	co_queue_close(q);                              /* idempotent */
	ck_assert(co_queue_closed(q));
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(join_rc(t[i]), -EPIPE);
	ck_assert_int_eq(co_queue_put_nowait(q, ITEM(9)), -EPIPE);
	ck_assert_int_eq(co_queue_put(q, ITEM(9)), -EPIPE);
	ck_assert_int_eq(co_queue_get(q, &item), 0);    /* still delivered */
	ck_assert_int_eq(NUM(item), 1);
	ck_assert_int_eq(co_queue_get(q, &item), 0);
	ck_assert_int_eq(NUM(item), 2);
	ck_assert_int_eq(co_queue_get(q, &item), -EPIPE);
	ck_assert_int_eq(co_queue_get_nowait(q, &item), -EPIPE);
	co_queue_free(q);
	/* Waiting getters are woken with -EPIPE. */
	q = co_queue_new(2);
	spawn_ops(get_task, g, tg, 2, q, 0);
	co_queue_close(q);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(join_rc(tg[i]), -EPIPE);
		ck_assert_int_eq(g[i].item, -1);
	}
	co_queue_free(q);
	return 0;
}

START_TEST(test_close)
{
	ck_assert_int_eq(tu_run(close_main, NULL), 0);
}
END_TEST

static int
capacity_main(void *arg)
{
	struct co_queue *q = co_queue_new(2);
	struct op o[5];
	struct co_task *t[5];
	void *item;

	(void)arg;
	ck_assert_int_eq(co_queue_put(q, ITEM(1)), 0);
	ck_assert_int_eq(co_queue_put(q, ITEM(2)), 0);
	spawn_ops(put_task, o, t, 4, q, 3);             /* 3..6 wait */
	ck_assert_int_eq(co_queue_set_capacity(q, 4), 0);
	ck_assert_uint_eq(co_queue_capacity(q), 4);
	ck_assert_uint_eq(co_queue_len(q), 4);          /* 3, 4 admitted */
	ck_assert_int_eq(join_rc(t[0]), 0);
	ck_assert_int_eq(join_rc(t[1]), 0);
	settle();
	ck_assert(!co_done(t[2]) && !co_done(t[3]));
	ck_assert_int_eq(co_queue_set_capacity(q, 0), 0);       /* unbounded */
	ck_assert_uint_eq(co_queue_len(q), 6);
	ck_assert_int_eq(join_rc(t[2]), 0);
	ck_assert_int_eq(join_rc(t[3]), 0);
	/* Shrink below the length: items stay, puts wait until it drains. */
	ck_assert_int_eq(co_queue_set_capacity(q, 2), 0);
	ck_assert_uint_eq(co_queue_len(q), 6);
	ck_assert_int_eq(co_queue_put_nowait(q, ITEM(7)), -EAGAIN);
	spawn_ops(put_task, &o[4], &t[4], 1, q, 7);
	for (int i = 1; i <= 4; i++) {
		ck_assert_int_eq(co_queue_get(q, &item), 0);
		ck_assert_int_eq(NUM(item), i);
	}
	settle();
	ck_assert(!co_done(t[4]));                      /* len 2: still full */
	ck_assert_int_eq(co_queue_get(q, &item), 0);
	ck_assert_int_eq(NUM(item), 5);
	ck_assert_uint_eq(co_queue_len(q), 2);          /* 6, 7 */
	ck_assert_int_eq(join_rc(t[4]), 0);
	drain_expect(q, 6, 7);
	ck_assert_int_eq(co_queue_set_capacity(q, CO_QUEUE_MAX + 1), -EINVAL);
	ck_assert_uint_eq(co_queue_capacity(q), 2);
	co_queue_free(q);
	return 0;
}

START_TEST(test_set_capacity)
{
	ck_assert_int_eq(tu_run(capacity_main, NULL), 0);
}
END_TEST

static int
remove_main(void *arg)
{
	struct co_queue *q = co_queue_new(3);
	struct op o[1];
	struct co_task *t[1];

	(void)arg;
	for (int i = 1; i <= 3; i++)
		ck_assert_int_eq(co_queue_put(q, ITEM(i)), 0);
	spawn_ops(put_task, o, t, 1, q, 4);             /* 4 waits */
	ck_assert_int_eq(co_queue_remove(q, ITEM(4)), -ENOENT); /* not queued */
	ck_assert_int_eq(co_queue_remove(q, ITEM(2)), 0);
	ck_assert_uint_eq(co_queue_len(q), 3);          /* 4 moved in */
	ck_assert_int_eq(join_rc(t[0]), 0);
	ck_assert_int_eq(co_queue_remove(q, ITEM(2)), -ENOENT);
	ck_assert_int_eq(co_queue_remove(q, ITEM(4)), 0);       /* the tail */
	ck_assert_int_eq(co_queue_remove(q, ITEM(1)), 0);       /* the head */
	ck_assert_int_eq(co_queue_put(q, ITEM(4)), 0);
	drain_expect(q, 3, 4);
	/* Five put, three removed: two task_done settle the join. */
	ck_assert_int_eq(co_queue_task_done(q), 0);
	ck_assert_int_eq(co_queue_task_done(q), 0);
	ck_assert_int_eq(co_queue_task_done(q), -EINVAL);
	co_queue_free(q);
	return 0;
}

/* Remove from the middle of a ring that has wrapped around. */
static int
remove_wrapped_main(void *arg)
{
	struct co_queue *q = co_queue_new(16);
	void *item;

	(void)arg;
	for (int i = 1; i <= 16; i++)
		ck_assert_int_eq(co_queue_put(q, ITEM(i)), 0);
	for (int i = 1; i <= 12; i++)
		ck_assert_int_eq(co_queue_get(q, &item), 0);
	for (int i = 17; i <= 24; i++)                  /* slots 0..7 */
		ck_assert_int_eq(co_queue_put(q, ITEM(i)), 0);
	ck_assert_int_eq(co_queue_remove(q, ITEM(15)), 0);
	ck_assert_int_eq(co_queue_remove(q, ITEM(18)), 0);
	for (int i = 13; i <= 24; i++) {
		if (i == 15 || i == 18)
			continue;
		ck_assert_int_eq(co_queue_get_nowait(q, &item), 0);
		ck_assert_int_eq(NUM(item), i);
	}
	ck_assert_uint_eq(co_queue_len(q), 0);
	co_queue_free(q);
	return 0;
}

START_TEST(test_remove_wrapped)
{
	ck_assert_int_eq(tu_run(remove_wrapped_main, NULL), 0);
}
END_TEST

START_TEST(test_remove)
{
	ck_assert_int_eq(tu_run(remove_main, NULL), 0);
}
END_TEST

/* ---- stress: no item lost or duplicated ------------------------------------ */

#define SP 6                    /* producers */
#define SC 6                    /* consumers */
#define SK 200                  /* items per producer */

struct stress {
	struct co_queue *q;
	unsigned char put_ok[SP * SK];
	unsigned char got[SP * SK];
};

struct stress_arg {
	struct stress *st;
	int id;
	unsigned seed;
};

/* 0, 0.5, 1 or 1.5 ms: 0 times out on the spot when it must wait. */
static double
rand_timeout(unsigned *seed)
{
	return (rand_r(seed) % 4) * 0.0005;
}

static int
stress_producer(void *arg)
{
	struct stress_arg *a = arg;
	int rc, item;

	for (int k = 0; k < SK; k++) {
		item = a->id * SK + k;
		rc = co_queue_put_timeout(a->st->q, ITEM(item),
		    rand_timeout(&a->seed));
		if (rc == -ECANCELED)
			return rc;
		ck_assert_msg(rc == 0 || rc == -ETIMEDOUT, "put: %d", rc);
		a->st->put_ok[item] = rc == 0;
		if (rand_r(&a->seed) % 8 == 0 && (rc = co_yield()) < 0)
			return rc;
	}
	return 0;
}

static void
stress_got(struct stress *st, void *item)
{
	ck_assert(NUM(item) >= 0 && NUM(item) < SP * SK);
	st->got[NUM(item)]++;
	ck_assert_int_eq(co_queue_task_done(st->q), 0);
}

static int
stress_consumer(void *arg)
{
	struct stress_arg *a = arg;
	void *item;
	int rc;

	for (;;) {
		rc = co_queue_get_timeout(a->st->q, &item,
		    rand_timeout(&a->seed));
		if (rc == -EPIPE)
			return 0;
		if (rc == -ECANCELED)
			return rc;
		if (rc == -ETIMEDOUT)
			continue;
		ck_assert_int_eq(rc, 0);
		stress_got(a->st, item);
		if (rand_r(&a->seed) % 4 == 0 && (rc = co_sleep(0.0003)) < 0)
			return rc;
	}
}

static int
stress_main(void *arg)
{
	static struct stress st;
	struct stress_arg a[SP + SC];
	struct co_task *t[SP + SC];
	unsigned seed = 12345;
	void *item;
	int rc, nput = 0;

	(void)arg;
	memset(&st, 0, sizeof(st));
	st.q = co_queue_new(4);
	for (int i = 0; i < SP + SC; i++) {
		a[i] = (struct stress_arg){ &st, i < SP ? i : i - SP, 77u * i };
		SPAWN(i < SP ? stress_producer : stress_consumer, &a[i], &t[i]);
	}
	for (int i = 0; i < 8; i++) {           /* cancel some of each */
		ck_assert_int_eq(co_sleep(0.002), 0);
		co_cancel(t[rand_r(&seed) % (SP + SC)]);
	}
	for (int i = 0; i < SP; i++) {
		rc = join_rc(t[i]);
		ck_assert(rc == 0 || rc == -ECANCELED);
	}
	co_queue_close(st.q);
	for (int i = SP; i < SP + SC; i++) {
		rc = join_rc(t[i]);
		ck_assert(rc == 0 || rc == -ECANCELED);
	}
	while (co_queue_get_nowait(st.q, &item) == 0)
		stress_got(&st, item);
	for (int i = 0; i < SP * SK; i++)
		ck_assert_msg(st.got[i] == st.put_ok[i],
		    "item %d: put %d, got %d", i, st.put_ok[i], st.got[i]);
	ck_assert_int_eq(co_queue_task_done(st.q), -EINVAL);
	/* Not vacuous: some puts got through, some timed out. */
	for (int i = 0; i < SP * SK; i++)
		nput += st.put_ok[i];
	ck_assert(nput > 0 && nput < SP * SK);
	co_queue_free(st.q);
	return 0;
}

START_TEST(test_stress_no_loss)
{
	ck_assert_int_eq(tu_run(stress_main, NULL), 0);
}
END_TEST

static int
free_busy_main(void *arg)
{
	struct co_queue *q = co_queue_new(1);
	struct op o[1];
	struct co_task *t[1];

	(void)arg;
	spawn_ops(get_task, o, t, 1, q, 0);
	co_queue_free(q);                               /* aborts */
	return 0;
}

START_TEST(test_free_busy_aborts)
{
	tu_run(free_busy_main, NULL);
}
END_TEST

static Suite *
queue_suite(void)
{
	Suite *s = suite_create("queue");
	TCase *tc = tcase_create("queue");

	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_producer_consumer);
	tcase_add_test(tc, test_worker_pool_join);
	tcase_add_test(tc, test_nowait);
	tcase_add_test(tc, test_unbounded);
	tcase_add_test(tc, test_handoff_to_getter);
	tcase_add_test(tc, test_handoff_from_putter);
	tcase_add_test(tc, test_get_cancel);
	tcase_add_test(tc, test_get_timeout);
	tcase_add_test(tc, test_put_cancel);
	tcase_add_test(tc, test_put_timeout);
	tcase_add_test(tc, test_withdraw);
	tcase_add_test(tc, test_join);
	tcase_add_test(tc, test_close);
	tcase_add_test(tc, test_set_capacity);
	tcase_add_test(tc, test_remove);
	tcase_add_test(tc, test_remove_wrapped);
	tcase_add_test(tc, test_stress_no_loss);
	if (tu_forking())
		tcase_add_test_raise_signal(tc, test_free_busy_aborts,
		    SIGABRT);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(queue_suite());
}
