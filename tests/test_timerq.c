/*
 * test_timerq.c — the timer heap (timerq.h): (run_at, id) order with
 * ties, peek, remove and update anywhere, what it refuses, reserve, and
 * a long random run checked against a plain array.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "testutil.h"
#include "timerq.h"

struct job {
	int64_t id;
	struct timerq_node tq;
};

#define JOB(n)  timerq_entry(n, struct job, tq)

START_TEST(test_order_and_ties)
{
	static const double at[] = { 50, 10, 30, 10, 20, 10 };
	static const int64_t ids[] = { 1, 9, 3, 4, 5, 2 };
	static const int64_t want[] = { 2, 4, 9, 5, 3, 1 };
	struct job j[6];
	struct timerq q;
	size_t i;

	timerq_init(&q);
	ck_assert_ptr_null(timerq_peek(&q));
	ck_assert_ptr_null(timerq_pop(&q));
	for (i = 0; i < 6; i++) {
		j[i].tq = (struct timerq_node){ 0 };
		ck_assert_int_eq(timerq_insert(&q, &j[i].tq, at[i], ids[i]),
		    0);
		ck_assert(timerq_queued(&j[i].tq));
	}
	ck_assert_uint_eq(timerq_count(&q), 6);
	for (i = 0; i < 6; i++) {
		struct timerq_node *n = timerq_peek(&q);

		ck_assert_ptr_eq(timerq_pop(&q), n);
		ck_assert_int_eq(n->id, want[i]);
		ck_assert_int_eq(JOB(n)->tq.id, want[i]);
		ck_assert(!timerq_queued(n));
	}
	ck_assert_uint_eq(timerq_count(&q), 0);
	timerq_fini(&q);
}
END_TEST

START_TEST(test_refuses)
{
	struct timerq q, other;
	struct timerq_node a = { 0 }, b = { 0 };

	timerq_init(&q);
	timerq_init(&other);
	ck_assert_int_eq(timerq_insert(&q, &a, NAN, 1), -EINVAL);
	ck_assert_int_eq(timerq_insert(&q, &a, INFINITY, 1), -EINVAL);
	ck_assert_int_eq(timerq_insert(&q, &a, 5, 1), 0);
	ck_assert_int_eq(timerq_insert(&q, &a, 6, 1), -EINVAL);  /* twice */
	ck_assert_int_eq(timerq_update(&q, &a, NAN), -EINVAL);
	ck_assert_int_eq(timerq_update(&q, &b, 1), -EINVAL);     /* not in */
	ck_assert_int_eq(timerq_update(&other, &a, 1), -EINVAL); /* elsewhere */
	timerq_remove(&q, &b);                                   /* no-op */
	timerq_remove(&other, &a);                               /* no-op */
	ck_assert_uint_eq(timerq_count(&q), 1);
	ck_assert_int_eq(timerq_reserve(&q, 1000), 0);
	ck_assert_int_eq(timerq_reserve(&q, SIZE_MAX / 2), -ENOMEM);
	ck_assert_uint_eq(timerq_count(&q), 1);
	timerq_fini(&q);                /* marks a as in no heap */
	ck_assert(!timerq_queued(&a));
	timerq_fini(&q);
	timerq_fini(&other);
}
END_TEST

START_TEST(test_update_and_remove)
{
	struct job j[5];
	struct timerq q;
	int i;

	timerq_init(&q);
	for (i = 0; i < 5; i++) {
		j[i].tq = (struct timerq_node){ 0 };
		ck_assert_int_eq(timerq_insert(&q, &j[i].tq, 100 + i, i + 1),
		    0);
	}
	ck_assert_int_eq(timerq_update(&q, &j[4].tq, 1), 0);    /* forward */
	ck_assert_ptr_eq(timerq_peek(&q), &j[4].tq);
	ck_assert_int_eq(timerq_update(&q, &j[4].tq, 1000), 0); /* back */
	ck_assert_ptr_eq(timerq_peek(&q), &j[0].tq);
	timerq_remove(&q, &j[0].tq);                            /* the top */
	timerq_remove(&q, &j[2].tq);                            /* inside */
	ck_assert_int_eq(timerq_pop(&q)->id, 2);
	ck_assert_int_eq(timerq_pop(&q)->id, 4);
	ck_assert_int_eq(timerq_pop(&q)->id, 5);
	ck_assert_ptr_null(timerq_pop(&q));
	timerq_fini(&q);
}
END_TEST

static int
count_each(void *arg, struct timerq_node *n)
{
	(*(int *)arg)++;
	return n->id == 3 ? 9 : 0;
}

START_TEST(test_each)
{
	struct timerq_node n[4] = { { 0 } };
	struct timerq q;
	int seen = 0, i;

	timerq_init(&q);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(timerq_insert(&q, &n[i], i, i + 10), 0);
	ck_assert_int_eq(timerq_each(&q, count_each, &seen), 0);
	ck_assert_int_eq(seen, 3);
	ck_assert_int_eq(timerq_insert(&q, &n[3], 7, 3), 0);
	ck_assert_int_eq(timerq_each(&q, count_each, &seen), 9);
	timerq_fini(&q);
}
END_TEST

/* Random inserts, pops, removes and updates against an array; run_at
 * from a small set, so ties are common. */
START_TEST(test_random_against_array)
{
	enum { N = 1500, OPS = 300000 };
	static struct job j[N];
	static bool in[N];
	struct timerq q;
	size_t live = 0, i;
	int op;

	srandom(11);
	timerq_init(&q);
	for (i = 0; i < N; i++) {
		j[i].id = (int64_t)(random() % 1000000);
		j[i].tq = (struct timerq_node){ 0 };
	}
	for (op = 0; op < OPS; op++) {
		size_t k = (size_t)random() % N, best = N;
		int what = (int)(random() % 4);
		double t = (double)(random() % 50);

		if (what == 0 && !in[k]) {
			if (timerq_insert(&q, &j[k].tq, t, j[k].id))
				ck_abort_msg("insert");
			in[k] = true;
			live++;
		} else if (what == 1 && in[k]) {
			timerq_remove(&q, &j[k].tq);
			in[k] = false;
			live--;
		} else if (what == 2 && in[k]) {
			if (timerq_update(&q, &j[k].tq, t) != 0)
				ck_abort_msg("update");
		} else if (what == 3) {
			struct timerq_node *n = timerq_pop(&q);

			for (i = 0; i < N; i++)
				if (in[i] && (best == N ||
				    j[i].tq.run_at < j[best].tq.run_at ||
				    (j[i].tq.run_at == j[best].tq.run_at &&
				    j[i].id < j[best].id)))
					best = i;
			if (best == N ? n != NULL :
			    n == NULL || n->run_at != j[best].tq.run_at ||
			    n->id != j[best].id)
				ck_abort_msg("op %d: popped the wrong job", op);
			if (n != NULL) {
				in[JOB(n) - j] = false;
				live--;
			}
		}
		if (timerq_count(&q) != live)
			ck_abort_msg("op %d: count", op);
	}
	timerq_fini(&q);
}
END_TEST

static Suite *
timerq_suite(void)
{
	Suite *s = suite_create("timerq");
	TCase *tc = tcase_create("timerq");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_order_and_ties);
	tcase_add_test(tc, test_refuses);
	tcase_add_test(tc, test_update_and_remove);
	tcase_add_test(tc, test_each);
	tcase_add_test(tc, test_random_against_array);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(timerq_suite());
}
