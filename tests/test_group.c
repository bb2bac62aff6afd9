/*
 * test_group.c — gather and task groups (co_group.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "co.h"
#include "co_group.h"
#include "testutil.h"

/* ---- tutorial: gather keeps submission order ---------------------------- */

struct factorial {
	const char *name;
	int number;
	long value;
};

static int
factorial(void *arg)
{
	struct factorial *f = arg;
	long v = 1;
	int rc;

	for (int i = 2; i <= f->number; i++) {
		tu_say("Task %s: Compute factorial(%d), currently i=%d...\n",
		    f->name, f->number, i);
		if ((rc = co_sleep(0.05)) < 0)
			return rc;
		v *= i;
	}
	tu_say("Task %s: factorial(%d) = %ld\n", f->name, f->number, v);
	f->value = v;
	return 0;
}

static int
gather_tutorial(void *arg)
{
	struct factorial f[] = { { "A", 2, 0 }, { "B", 3, 0 }, { "C", 4, 0 } };
	struct co_gather_item it[3];

	(void)arg;
	for (int i = 0; i < 3; i++)
		it[i] = (struct co_gather_item){ factorial, &f[i], -1 };
	ck_assert_int_eq(co_gather(tu_rt, it, 3), 0);
	tu_say("[%ld, %ld, %ld]\n", f[0].value, f[1].value, f[2].value);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(it[i].result, 0);
	return 0;
}

START_TEST(test_tutorial_gather)
{
	double t0 = co_now();

	tu_out_reset();
	tu_run(gather_tutorial, NULL);
	ck_assert_str_eq(tu_out(),
	    "Task A: Compute factorial(2), currently i=2...\n"
	    "Task B: Compute factorial(3), currently i=2...\n"
	    "Task C: Compute factorial(4), currently i=2...\n"
	    "Task A: factorial(2) = 2\n"
	    "Task B: Compute factorial(3), currently i=3...\n"
	    "Task C: Compute factorial(4), currently i=3...\n"
	    "Task B: factorial(3) = 6\n"
	    "Task C: Compute factorial(4), currently i=4...\n"
	    "Task C: factorial(4) = 24\n"
	    "[2, 6, 24]\n");
	tu_assert_time(co_now() - t0, 0.15, 0.02);      /* 3 steps, not 6 */
}
END_TEST

static int
ret_zero(void *arg)
{
	(void)arg;
	return 0;
}

/* ---- gather collects errors, in order ----------------------------------- */

struct step {
	double delay;
	int ret;
	int sleep_rc;
};

static int
step(void *arg)
{
	struct step *s = arg;

	s->sleep_rc = co_sleep(s->delay);
	return s->sleep_rc < 0 ? s->sleep_rc : s->ret;
}

static int
gather_errors(void *arg)
{
	struct step s[] = { { 0.03, 0, 1 }, { 0.01, -EIO, 1 }, { 0.02, 5, 1 } };
	struct co_gather_item it[3];

	(void)arg;
	for (int i = 0; i < 3; i++)
		it[i] = (struct co_gather_item){ step, &s[i], -1 };
	ck_assert_int_eq(co_gather(tu_rt, it, 3), 0);
	ck_assert_int_eq(it[0].result, 0);
	ck_assert_int_eq(it[1].result, -EIO);   /* failed, the others ran on */
	ck_assert_int_eq(it[2].result, 5);
	ck_assert_int_eq(s[0].sleep_rc, 0);
	return 0;
}

START_TEST(test_gather_collects_errors)
{
	double t0 = co_now();

	tu_run(gather_errors, NULL);
	tu_assert_time(co_now() - t0, 0.03, 0.01);
}
END_TEST

struct gather_cancel {
	struct co_task *gatherer;
	struct step s[2];
	int rc;
};

static int
gather_body(void *arg)
{
	struct gather_cancel *g = arg;
	struct co_gather_item it[2] = { { step, &g->s[0], -1 }, { step, &g->s[1], -1 } };

	g->rc = co_gather(tu_rt, it, 2);
	return it[0].result;
}

static int
cancel_gather(void *arg)
{
	struct gather_cancel *g = arg;
	int r = 0;

	ck_assert_int_eq(co_spawn(tu_rt, gather_body, g, &g->gatherer), 0);
	ck_assert_int_eq(co_sleep(0.01), 0);
	co_cancel(g->gatherer);
	ck_assert_int_eq(co_join(g->gatherer, &r), 0);
	return r;
}

static int
own_deadline(void *arg)
{
	struct co_scope sc;
	int rc;

	(void)arg;
	co_scope_enter(&sc, 0.01);
	rc = co_sleep(3600);
	(void)co_scope_exit(&sc);
	return rc;
}

static int
gather_child_timeout(void *arg)
{
	struct co_gather_item it[2] = { { own_deadline, NULL, 1 }, { ret_zero, NULL, 1 } };

	(void)arg;
	ck_assert_int_eq(co_gather(tu_rt, it, 2), 0);   /* gather was fine */
	ck_assert_int_eq(it[0].result, -ETIMEDOUT);     /* the child was not */
	ck_assert_int_eq(it[1].result, 0);
	return 0;
}

START_TEST(test_gather_child_timeout_is_not_gathers)
{
	tu_run(gather_child_timeout, NULL);
}
END_TEST

START_TEST(test_gather_cancelled_cancels_children)
{
	struct gather_cancel g = { .s = { { 3600, 0, 1 }, { 3600, 0, 1 } } };
	double t0 = co_now();

	ck_assert_int_eq(tu_run(cancel_gather, &g), -ECANCELED);
	ck_assert_int_eq(g.rc, -ECANCELED);
	ck_assert_int_eq(g.s[0].sleep_rc, -ECANCELED);
	ck_assert_int_eq(g.s[1].sleep_rc, -ECANCELED);
	tu_assert_time(co_now() - t0, 0.01, 0.01);
}
END_TEST

/* ---- TaskGroup ------------------------------------------------------------ */

static int
group_fail_fast(void *arg)
{
	struct step *s = arg;                   /* [0] fails, [1] long */
	struct co_group *g = co_group_new(tu_rt, CO_GROUP_FAIL_FAST);
	bool cancelled;
	int rc;

	ck_assert_ptr_nonnull(g);
	ck_assert_int_eq(co_group_spawn(g, step, &s[0]), 0);
	ck_assert_int_eq(co_group_spawn(g, step, &s[1]), 0);
	rc = co_group_wait(g);
	ck_assert_int_eq(co_group_size(g), 2);
	ck_assert_int_eq(co_group_result(g, 0, &cancelled), -EIO);
	ck_assert(!cancelled);
	ck_assert_int_eq(co_group_result(g, 1, &cancelled), -ECANCELED);
	ck_assert(cancelled);
	ck_assert_int_eq(co_group_nfailed(g), 1);
	co_group_free(g);
	return rc;
}

START_TEST(test_taskgroup_failure_cancels_sibling)
{
	struct step s[] = { { 0.02, -EIO, 1 }, { 3600, 0, 1 } };
	double t0 = co_now();

	ck_assert_int_eq(tu_run(group_fail_fast, s), -EIO);
	ck_assert_int_eq(s[1].sleep_rc, -ECANCELED);
	tu_assert_time(co_now() - t0, 0.02, 0.01);
}
END_TEST

struct respawn {
	struct co_group *g;
	struct step spare;
	int spawn_rc;
};

/* Cancelled by its group, tries to add a sibling: refused. */
static int
respawner(void *arg)
{
	struct respawn *r = arg;
	int rc = co_sleep(3600);

	r->spawn_rc = co_group_spawn(r->g, step, &r->spare);
	return rc;
}

static int
group_refuses_spawn_when_cancelling(void *arg)
{
	struct respawn *r = arg;
	struct step failing = { 0.01, -EIO, 1 };
	int rc;

	r->g = co_group_new(tu_rt, CO_GROUP_FAIL_FAST);
	ck_assert_int_eq(co_group_spawn(r->g, respawner, r), 0);
	ck_assert_int_eq(co_group_spawn(r->g, step, &failing), 0);
	rc = co_group_wait(r->g);
	ck_assert_int_eq(co_group_size(r->g), 2);       /* nothing added */
	co_group_free(r->g);
	return rc;
}

START_TEST(test_cancelling_group_takes_no_new_child)
{
	struct respawn r = { .spawn_rc = 1 };

	ck_assert_int_eq(tu_run(group_refuses_spawn_when_cancelling, &r), -EIO);
	ck_assert_int_eq(r.spawn_rc, -ECANCELED);
}
END_TEST

/* Fails after a shielded stretch the group cannot interrupt. */
static int
stubborn(void *arg)
{
	struct step *s = arg;

	co_shield_enter();
	s->sleep_rc = co_sleep(s->delay);
	co_shield_exit();
	return s->ret;
}

static int
group_all_failures(void *arg)
{
	struct step *s = arg;
	struct co_group *g = co_group_new(tu_rt, CO_GROUP_FAIL_FAST);
	int rc;

	ck_assert_int_eq(co_group_spawn(g, step, &s[0]), 0);
	ck_assert_int_eq(co_group_spawn(g, stubborn, &s[1]), 0);
	rc = co_group_wait(g);
	ck_assert_int_eq(co_group_nfailed(g), 2);       /* both reported */
	ck_assert_int_eq(co_group_result(g, 1, NULL), -EPERM);
	co_group_free(g);
	return rc;
}

START_TEST(test_taskgroup_waits_for_every_child_and_reports_all)
{
	struct step s[] = { { 0.01, -EIO, 1 }, { 0.05, -EPERM, 1 } };
	double t0 = co_now();

	ck_assert_int_eq(tu_run(group_all_failures, s), -EIO);  /* the first */
	/* Never returns before every child has ended. */
	tu_assert_time(co_now() - t0, 0.05, 0.01);
	ck_assert_int_eq(s[1].sleep_rc, 0);
}
END_TEST

static int
group_mode_all(void *arg)
{
	struct step *s = arg;
	struct co_group *g = co_group_new(tu_rt, CO_GROUP_ALL);
	int rc;

	ck_assert_int_eq(co_group_spawn(g, step, &s[0]), 0);
	ck_assert_int_eq(co_group_spawn(g, step, &s[1]), 0);
	ck_assert_int_eq(co_group_spawn(g, step, &s[2]), 0);
	rc = co_group_wait(g);
	ck_assert_int_eq(co_group_nfailed(g), 2);
	co_group_free(g);
	return rc;
}

START_TEST(test_group_all_runs_everything)
{
	/* The first failure in spawn order is reported: -EPERM, though
	 * -EIO happened first. */
	struct step s[] = { { 0.02, -EPERM, 1 }, { 0.01, -EIO, 1 }, { 0.03, 0, 1 } };

	ck_assert_int_eq(tu_run(group_mode_all, s), -EPERM);
	ck_assert_int_eq(s[2].sleep_rc, 0);     /* not cancelled */
}
END_TEST

/* ---- nesting and deadlines ------------------------------------------------ */

struct nested {
	struct step inner[2];
	int inner_rc;
};

static int
inner_group(void *arg)
{
	struct nested *n = arg;
	struct co_group *g = co_group_new(tu_rt, CO_GROUP_FAIL_FAST);

	ck_assert_int_eq(co_group_spawn(g, step, &n->inner[0]), 0);
	ck_assert_int_eq(co_group_spawn(g, step, &n->inner[1]), 0);
	n->inner_rc = co_group_wait(g);
	co_group_free(g);
	return n->inner_rc;
}

static int
outer_group(void *arg)
{
	struct nested *n = arg;
	struct step failing = { 0.02, -EIO, 1 };
	struct co_group *g = co_group_new(tu_rt, CO_GROUP_FAIL_FAST);
	bool cancelled;
	int rc;

	ck_assert_int_eq(co_group_spawn(g, inner_group, n), 0);
	ck_assert_int_eq(co_group_spawn(g, step, &failing), 0);
	rc = co_group_wait(g);
	ck_assert_int_eq(co_group_result(g, 0, &cancelled), -ECANCELED);
	ck_assert(cancelled);
	co_group_free(g);
	return rc;
}

START_TEST(test_nested_groups_cancel_down)
{
	struct nested n = { .inner = { { 3600, 0, 1 }, { 3600, 0, 1 } } };
	double t0 = co_now();

	ck_assert_int_eq(tu_run(outer_group, &n), -EIO);
	ck_assert_int_eq(n.inner_rc, -ECANCELED);
	ck_assert_int_eq(n.inner[0].sleep_rc, -ECANCELED);
	ck_assert_int_eq(n.inner[1].sleep_rc, -ECANCELED);
	tu_assert_time(co_now() - t0, 0.02, 0.01);
}
END_TEST

static int
deadline_over_group(void *arg)
{
	struct step *s = arg;
	struct co_group *g = co_group_new(tu_rt, CO_GROUP_FAIL_FAST);
	struct co_scope sc;
	int rc;

	co_scope_enter(&sc, 0.03);
	ck_assert_int_eq(co_group_spawn(g, step, &s[0]), 0);
	ck_assert_int_eq(co_group_spawn(g, step, &s[1]), 0);
	rc = co_group_wait(g);
	ck_assert_int_eq(co_scope_exit(&sc), -ETIMEDOUT);
	co_group_free(g);
	return rc;
}

START_TEST(test_deadline_scope_around_group)
{
	struct step s[] = { { 0.01, 0, 1 }, { 3600, 0, 1 } };
	double t0 = co_now();

	ck_assert_int_eq(tu_run(deadline_over_group, s), -ETIMEDOUT);
	ck_assert_int_eq(s[0].sleep_rc, 0);
	ck_assert_int_eq(s[1].sleep_rc, -ECANCELED);
	tu_assert_time(co_now() - t0, 0.03, 0.01);
}
END_TEST

/* A child with its own deadline: its timeout is a failure that trips the
 * group. */
static int
child_with_deadline(void *arg)
{
	struct step *s = arg;
	struct co_scope sc;

	co_scope_enter(&sc, 0.02);
	s->sleep_rc = co_sleep(s->delay);
	return co_scope_exit(&sc);
}

static int
deadline_in_child(void *arg)
{
	struct step *s = arg;
	struct co_group *g = co_group_new(tu_rt, CO_GROUP_FAIL_FAST);
	int rc;

	ck_assert_int_eq(co_group_spawn(g, child_with_deadline, &s[0]), 0);
	ck_assert_int_eq(co_group_spawn(g, step, &s[1]), 0);
	rc = co_group_wait(g);
	co_group_free(g);
	return rc;
}

START_TEST(test_deadline_inside_group_child)
{
	struct step s[] = { { 3600, 0, 1 }, { 3600, 0, 1 } };
	double t0 = co_now();

	ck_assert_int_eq(tu_run(deadline_in_child, s), -ETIMEDOUT);
	ck_assert_int_eq(s[0].sleep_rc, -ETIMEDOUT);
	ck_assert_int_eq(s[1].sleep_rc, -ECANCELED);
	tu_assert_time(co_now() - t0, 0.02, 0.01);
}
END_TEST

static int
empty_group(void *arg)
{
	struct co_group *g = co_group_new(tu_rt, CO_GROUP_FAIL_FAST);
	int rc;

	(void)arg;
	rc = co_group_wait(g);
	co_group_free(g);
	return rc;
}

START_TEST(test_empty_group)
{
	ck_assert_int_eq(tu_run(empty_group, NULL), 0);
}
END_TEST

static Suite *
group_suite(void)
{
	Suite *s = suite_create("group");
	TCase *tc = tcase_create("group");

	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_add_test(tc, test_tutorial_gather);
	tcase_add_test(tc, test_gather_collects_errors);
	tcase_add_test(tc, test_gather_cancelled_cancels_children);
	tcase_add_test(tc, test_gather_child_timeout_is_not_gathers);
	tcase_add_test(tc, test_taskgroup_failure_cancels_sibling);
	tcase_add_test(tc, test_taskgroup_waits_for_every_child_and_reports_all);
	tcase_add_test(tc, test_cancelling_group_takes_no_new_child);
	tcase_add_test(tc, test_group_all_runs_everything);
	tcase_add_test(tc, test_nested_groups_cancel_down);
	tcase_add_test(tc, test_deadline_scope_around_group);
	tcase_add_test(tc, test_deadline_inside_group_child);
	tcase_add_test(tc, test_empty_group);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(group_suite());
}
