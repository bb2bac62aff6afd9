/*
 * test_backoff.c — retry delays (backoff.h): the exponential and fixed
 * series, the cap, no overflow at huge attempt numbers, jitter bounds
 * with a pinned and a real random source, Retry-After, and validation.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "backoff.h"
#include "testutil.h"

static double
fixed_u(void *arg)
{
	return *(double *)arg;
}

START_TEST(test_exponential)
{
	struct backoff b = BACKOFF_DEFAULT;
	int k;

	ck_assert_double_eq(backoff_base(&b, 1), 1);
	ck_assert_double_eq(backoff_base(&b, 2), 2);
	ck_assert_double_eq(backoff_base(&b, 3), 4);
	ck_assert_double_eq(backoff_base(&b, 12), 2048);
	ck_assert_double_eq(backoff_base(&b, 13), 3600);        /* capped */
	ck_assert_double_eq(backoff_base(&b, 0), 1);            /* as 1 */
	ck_assert_double_eq(backoff_base(&b, -5), 1);
	for (k = 13; k <= 100000; k = k < 200 ? k + 1 : k * 3)
		ck_assert_double_eq(backoff_base(&b, k), 3600);
	ck_assert_double_eq(backoff_base(&b, 2147483647), 3600);
	b.delay = 0.25;
	b.max_delay = 1e300;            /* no cap: still finite at k = 100 */
	ck_assert_double_eq(backoff_base(&b, 5), 4);
	ck_assert(isfinite(backoff_base(&b, 100)));
	ck_assert_double_eq(backoff_base(&b, 100), ldexp(0.25, 60));
}
END_TEST

START_TEST(test_fixed)
{
	struct backoff b = { 30, 3600, BACKOFF_FIXED };
	double one = 1;
	int k;

	for (k = 1; k <= 100; k++) {
		ck_assert_double_eq(backoff_base(&b, k), 30);
		ck_assert_double_eq(backoff_delay(&b, k, 0, fixed_u, &one), 30);
	}
	b.max_delay = 10;               /* the cap wins over the delay */
	ck_assert_double_eq(backoff_base(&b, 1), 10);
}
END_TEST

START_TEST(test_jitter_pinned)
{
	struct backoff b = { 10, 3600, BACKOFF_EXPONENTIAL };
	double u;

	u = 0;
	ck_assert_double_eq(backoff_delay(&b, 1, 0, fixed_u, &u), 5);
	ck_assert_double_eq(backoff_delay(&b, 3, 0, fixed_u, &u), 20);
	u = 1;
	ck_assert_double_eq(backoff_delay(&b, 3, 0, fixed_u, &u), 40);
	u = 0.5;
	ck_assert_double_eq(backoff_delay(&b, 1, 0, fixed_u, &u), 7.5);
	/* A source out of range is clamped, NaN means no jitter. */
	u = 7;
	ck_assert_double_eq(backoff_delay(&b, 1, 0, fixed_u, &u), 10);
	u = -1;
	ck_assert_double_eq(backoff_delay(&b, 1, 0, fixed_u, &u), 10);
	u = NAN;
	ck_assert_double_eq(backoff_delay(&b, 1, 0, fixed_u, &u), 10);
	/* At the cap the jitter still applies: [1800, 3600]. */
	u = 0;
	ck_assert_double_eq(backoff_delay(&b, 100, 0, fixed_u, &u), 1800);
}
END_TEST

/* The real source: every delay in [0.5, 1] * base, and both halves of
 * the range are reached (a source stuck at one end fails). */
START_TEST(test_jitter_random)
{
	struct backoff b = BACKOFF_DEFAULT;
	int i, k, low = 0, high = 0;

	for (i = 0; i < 20000; i++) {
		double base, d;

		k = 1 + i % 100;
		base = backoff_base(&b, k);
		d = backoff_delay(&b, k, 0, NULL, NULL);
		if (!(d >= 0.5 * base && d <= base))
			ck_abort_msg("k %d: %g not in [%g, %g]", k, d,
			    0.5 * base, base);
		if (d < 0.75 * base)
			low++;
		else
			high++;
	}
	ck_assert_int_gt(low, 5000);
	ck_assert_int_gt(high, 5000);
}
END_TEST

START_TEST(test_retry_after)
{
	struct backoff b = { 1, 600, BACKOFF_EXPONENTIAL };
	double one = 1;

	ck_assert_double_eq(backoff_delay(&b, 1, 120, fixed_u, &one), 120);
	ck_assert_double_eq(backoff_delay(&b, 1, 0.5, fixed_u, &one), 1);
	ck_assert_double_eq(backoff_delay(&b, 1, 86400, fixed_u, &one), 600);
	ck_assert_double_eq(backoff_delay(&b, 1, INFINITY, fixed_u, &one), 1);
	ck_assert_double_eq(backoff_delay(&b, 1, NAN, fixed_u, &one), 1);
	ck_assert_double_eq(backoff_delay(&b, 1, -3, fixed_u, &one), 1);
	ck_assert_double_eq(backoff_delay(&b, 10, 30, fixed_u, &one), 512);
}
END_TEST

START_TEST(test_check_and_names)
{
	struct backoff b = BACKOFF_DEFAULT;
	enum backoff_mode m = BACKOFF_EXPONENTIAL;
	char err[128];

	ck_assert_int_eq(backoff_check(&b, err, sizeof(err)), 0);
	b.delay = 0;
	ck_assert_int_eq(backoff_check(&b, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "retry_delay"));
	b.delay = NAN;
	ck_assert_int_eq(backoff_check(&b, err, sizeof(err)), -EINVAL);
	b.delay = 1;
	b.max_delay = INFINITY;
	ck_assert_int_eq(backoff_check(&b, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "retry_max_delay"));
	b.max_delay = 1;
	b.mode = (enum backoff_mode)7;
	ck_assert_int_eq(backoff_check(&b, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "retry_backoff"));
	ck_assert_int_eq(backoff_mode_parse("fixed", &m), 0);
	ck_assert_int_eq(m, BACKOFF_FIXED);
	ck_assert_str_eq(backoff_mode_name(m), "fixed");
	ck_assert_int_eq(backoff_mode_parse("exponential", &m), 0);
	ck_assert_int_eq(m, BACKOFF_EXPONENTIAL);
	ck_assert_str_eq(backoff_mode_name(m), "exponential");
	ck_assert_int_eq(backoff_mode_parse("Fixed", &m), -EINVAL);
	ck_assert_int_eq(backoff_mode_parse("", &m), -EINVAL);
	ck_assert_int_eq(backoff_mode_parse(NULL, &m), -EINVAL);
	ck_assert_int_eq(m, BACKOFF_EXPONENTIAL);
}
END_TEST

static Suite *
backoff_suite(void)
{
	Suite *s = suite_create("backoff");
	TCase *tc = tcase_create("backoff");

	tcase_add_test(tc, test_exponential);
	tcase_add_test(tc, test_fixed);
	tcase_add_test(tc, test_jitter_pinned);
	tcase_add_test(tc, test_jitter_random);
	tcase_add_test(tc, test_retry_after);
	tcase_add_test(tc, test_check_and_names);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(backoff_suite());
}
