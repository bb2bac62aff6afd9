/*
 * test_readyq.c — the ready queue (readyq.h): priority order, FIFO within
 * a priority, removal from anywhere, counts, iteration, and a long random
 * run checked against a plain array.
 */
#include <stdint.h>
#include <stdlib.h>

#include "readyq.h"
#include "testutil.h"

struct job {
	int64_t id;
	int prio;
	struct readyq_node rq;
};

#define JOB(n)  readyq_entry(n, struct job, rq)
#define J(i, p) { .id = (i), .prio = (p) }

START_TEST(test_order)
{
	struct job j[8] = { J(1, 5), J(2, 5), J(3, 0), J(4, 9), J(5, 0),
		J(6, 5), J(7, -3), J(8, 42) };
	static const int64_t want[] = { 3, 5, 7, 1, 2, 6, 4, 8 };
	struct readyq q;
	size_t i;

	readyq_init(&q);
	ck_assert_ptr_null(readyq_peek(&q));
	ck_assert_ptr_null(readyq_pop(&q));
	for (i = 0; i < 8; i++)
		readyq_push(&q, &j[i].rq, j[i].prio, j[i].id);
	ck_assert_uint_eq(readyq_count(&q), 8);
	ck_assert_uint_eq(readyq_count_prio(&q, 0), 3);         /* -3 -> 0 */
	ck_assert_uint_eq(readyq_count_prio(&q, 5), 3);
	ck_assert_uint_eq(readyq_count_prio(&q, 9), 2);         /* 42 -> 9 */
	ck_assert_uint_eq(readyq_count_prio(&q, 10), 0);
	ck_assert_uint_eq(readyq_count_prio(&q, -1), 0);
	ck_assert(readyq_before(&j[2].rq, &j[0].rq));
	ck_assert(readyq_before(&j[0].rq, &j[1].rq));
	ck_assert(!readyq_before(&j[1].rq, &j[0].rq));
	for (i = 0; i < 8; i++) {
		struct readyq_node *n = readyq_peek(&q);

		ck_assert_ptr_eq(readyq_pop(&q), n);
		ck_assert_int_eq(JOB(n)->id, want[i]);
		ck_assert(!readyq_queued(n));
	}
	ck_assert_uint_eq(readyq_count(&q), 0);
	ck_assert_ptr_null(readyq_pop(&q));
}
END_TEST

START_TEST(test_remove)
{
	struct job j[5] = { J(1, 3), J(2, 3), J(3, 3), J(4, 1), J(5, 7) };
	struct readyq q;
	size_t i;

	readyq_init(&q);
	for (i = 0; i < 5; i++)
		readyq_push(&q, &j[i].rq, j[i].prio, j[i].id);
	readyq_remove(&q, &j[1].rq);            /* middle of a list */
	readyq_remove(&q, &j[3].rq);            /* the only one of its prio */
	readyq_remove(&q, &j[3].rq);            /* again: a no-op */
	ck_assert_uint_eq(readyq_count(&q), 3);
	ck_assert_uint_eq(readyq_count_prio(&q, 1), 0);
	ck_assert_int_eq(JOB(readyq_pop(&q))->id, 1);
	ck_assert_int_eq(JOB(readyq_pop(&q))->id, 3);
	/* Back in after a removal: at the end of its priority. */
	readyq_push(&q, &j[1].rq, 7, 2);
	ck_assert_int_eq(JOB(readyq_pop(&q))->id, 5);
	ck_assert_int_eq(JOB(readyq_pop(&q))->id, 2);
	ck_assert_ptr_null(readyq_pop(&q));
}
END_TEST

static int
collect(void *arg, struct readyq_node *n)
{
	int64_t **p = arg;

	*(*p)++ = JOB(n)->id;
	return JOB(n)->id == 99 ? 7 : 0;
}

START_TEST(test_each)
{
	struct job j[4] = { J(10, 2), J(11, 1), J(12, 2), J(99, 0) };
	int64_t got[4], *p = got;
	struct readyq q;
	size_t i;

	readyq_init(&q);
	ck_assert_int_eq(readyq_each(&q, collect, &p), 0);
	ck_assert_ptr_eq(p, got);
	for (i = 0; i < 3; i++)
		readyq_push(&q, &j[i].rq, j[i].prio, j[i].id);
	ck_assert_int_eq(readyq_each(&q, collect, &p), 0);
	ck_assert_int_eq(p - got, 3);
	ck_assert_int_eq(got[0], 11);
	ck_assert_int_eq(got[1], 10);
	ck_assert_int_eq(got[2], 12);
	readyq_push(&q, &j[3].rq, 0, 99);       /* first, and stops */
	p = got;
	ck_assert_int_eq(readyq_each(&q, collect, &p), 7);
	ck_assert_int_eq(p - got, 1);
}
END_TEST

/* Random pushes, pops and removes against an array of (prio, order). */
START_TEST(test_random_against_array)
{
	enum { N = 1500, OPS = 300000 };
	static struct job j[N];
	static uint64_t order[N];       /* 0: not queued */
	struct readyq q;
	uint64_t clock = 0;
	size_t live = 0, i;
	int op;

	srandom(7);
	readyq_init(&q);
	for (i = 0; i < N; i++)
		j[i].id = (int64_t)i + 1;
	for (op = 0; op < OPS; op++) {
		size_t k = (size_t)random() % N, best = N;
		int what = (int)(random() % 3);

		if (what == 0 && order[k] == 0) {
			j[k].prio = (int)(random() % 10);
			readyq_push(&q, &j[k].rq, j[k].prio, j[k].id);
			order[k] = ++clock;
			live++;
		} else if (what == 1 && order[k] != 0) {
			readyq_remove(&q, &j[k].rq);
			order[k] = 0;
			live--;
		} else if (what == 2) {
			struct readyq_node *n = readyq_pop(&q);

			for (i = 0; i < N; i++)
				if (order[i] != 0 && (best == N ||
				    j[i].prio < j[best].prio ||
				    (j[i].prio == j[best].prio &&
				    order[i] < order[best])))
					best = i;
			if (best == N ? n != NULL : n != &j[best].rq)
				ck_abort_msg("op %d: popped the wrong job", op);
			if (best != N) {
				order[best] = 0;
				live--;
			}
		}
		if (readyq_count(&q) != live)
			ck_abort_msg("op %d: count %zu, expected %zu", op,
			    readyq_count(&q), live);
	}
}
END_TEST

static Suite *
readyq_suite(void)
{
	Suite *s = suite_create("readyq");
	TCase *tc = tcase_create("readyq");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_order);
	tcase_add_test(tc, test_remove);
	tcase_add_test(tc, test_each);
	tcase_add_test(tc, test_random_against_array);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(readyq_suite());
}
