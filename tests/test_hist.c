/*
 * test_hist.c — fixed-bucket histograms (hist.h): bucket edges (a value on
 * a bound counts in that bucket), +Inf and NaN, sums, merging, quantiles.
 */
#include <math.h>

#include "hist.h"
#include "testutil.h"

static const double le[] = { 1, 2, 5 };

START_TEST(test_buckets)
{
	struct hist h;

	hist_init(&h, le, 3);
	hist_add(&h, 0.5);
	hist_add(&h, 1);        /* on the bound: le="1" */
	hist_add(&h, 1.5);
	hist_add(&h, 5);
	hist_add(&h, 7);
	hist_add(&h, NAN);      /* +Inf, not in the sum */
	ck_assert_uint_eq(h.count[0], 2);
	ck_assert_uint_eq(h.count[1], 1);
	ck_assert_uint_eq(h.count[2], 1);
	ck_assert_uint_eq(h.count[3], 2);
	ck_assert_uint_eq(h.total, 6);
	ck_assert_double_eq_tol(h.sum, 15, 1e-9);
}
END_TEST

START_TEST(test_merge_and_quantile)
{
	struct hist a, b;

	hist_init(&a, le, 3);
	hist_init(&b, le, 3);
	ck_assert_double_eq(hist_quantile(&a, 0.5), 0);
	for (int i = 0; i < 50; i++)
		hist_add(&a, 0.5);
	for (int i = 0; i < 50; i++)
		hist_add(&b, 4);
	hist_merge(&a, &b);
	ck_assert_uint_eq(a.total, 100);
	ck_assert(hist_quantile(&a, 0.25) <= 1);
	ck_assert(hist_quantile(&a, 0.99) > 2 && hist_quantile(&a, 0.99) <= 5);
	hist_add(&a, 100);
	hist_add(&a, 100);
	ck_assert_double_eq(hist_quantile(&a, 0.999), 5);    /* in +Inf */
}
END_TEST

START_TEST(test_daemon_sets_ascend)
{
	const double *sets[] = { hist_le_job, hist_le_commit, hist_le_rows };
	const size_t ns[] = { hist_le_job_n, hist_le_commit_n, hist_le_rows_n };

	for (size_t s = 0; s < 3; s++) {
		ck_assert(ns[s] >= 1 && ns[s] <= HIST_MAX);
		for (size_t i = 1; i < ns[s]; i++)
			ck_assert(sets[s][i] > sets[s][i - 1]);
	}
}
END_TEST

static Suite *
hist_suite(void)
{
	Suite *s = suite_create("hist");
	TCase *tc = tcase_create("hist");

	tcase_add_test(tc, test_buckets);
	tcase_add_test(tc, test_merge_and_quantile);
	tcase_add_test(tc, test_daemon_sets_ascend);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(hist_suite());
}
