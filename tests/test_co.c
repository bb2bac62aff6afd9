/*
 * test_co.c — tasks, scheduling, cancellation, timeouts (co.h).
 */
#include <errno.h>

#include "co.h"
#include "testutil.h"

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
	ck_assert_int_eq(co_join(t, &r), 0);
	return r;
}

START_TEST(test_spawn_join)
{
	ck_assert_int_eq(tu_run(spawn_join, NULL), 42);
}
END_TEST

static Suite *
co_suite(void)
{
	Suite *s = suite_create("co");
	TCase *tc = tcase_create("tasks");

	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_add_test(tc, test_spawn_join);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(co_suite());
}
