/*
 * test_jobd_page.c — the window of scheduled jobs (daemon/page.c)
 * against the real jobd: with a window of 1 s and 16 jobs, jobs due past
 * it live in the database only and are read in a page at a time; they
 * start in (run_at, id) order, never before their run_at; a paged-out job
 * can be read, waited on, cancelled and retried; max_pending and stats
 * count it; a restart (SIGTERM, and SIGKILL with jobs in the window)
 * leaves the far ones in the database, counts them and runs them all.
 *
 * Timing: no upper bound on a start; order comes from the jobs' own
 * started_at, and each start is checked against its run_at.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tu_jobd.h"

#define PG_CONF TJ_DAEMON "sched_window = 1\nsched_window_jobs = 16\n"     \
	"[queue.default]\nworkers = 4\ncapacity = 1000\n"                    \
	"[queue.solo]\nworkers = 1\ncapacity = 1000\n"                       \
	"[queue.tight]\nworkers = 1\ncapacity = 10\nmax_pending = 2\n"

#define NJOBS 60

struct pj {
	json_int_t id;
	double run_at, started;
};

/* (run_at, id) order. */
static int
pj_cmp(const void *a, const void *b)
{
	const struct pj *x = a, *y = b;

	if (x->run_at != y->run_at)
		return x->run_at < y->run_at ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* NJOBS jobs on solo, due from t0 on in steps of 0.1 s, in pairs with the
 * same run_at, submitted in a shuffled order. */
static void
submit_spread(struct tj_conn *c, double t0, struct pj *jobs)
{
	for (int i = 0; i < NJOBS; i++) {
		int k = (i * 37) % NJOBS;       /* 37 is prime to 60 */

		jobs[i].run_at = t0 + (k / 2) * 0.1;
		jobs[i].id = tj_submit(c, "'kind':'sleep','args':"
		    "{'seconds':0},'queue':'solo','run_at':%.6f",
		    jobs[i].run_at);
	}
}

/* Every job ended succeeded, started at or after its run_at, and the
 * starts came in (run_at, id) order (one worker: in the order they were
 * made ready). */
static void
check_order(struct tj_conn *c, struct pj *jobs)
{
	json_t *j;

	for (int i = 0; i < NJOBS; i++) {
		j = tj_wait(c, jobs[i].id, TJ_TIMEOUT + 10);
		ck_assert_str_eq(tj_str(j, "state"), "succeeded");
		jobs[i].started = tj_num(j, "started_at");
		ck_assert_msg(jobs[i].started >= jobs[i].run_at - 0.001,
		    "job %lld started %.4f s before its run_at",
		    (long long)jobs[i].id, jobs[i].run_at - jobs[i].started);
		ck_assert_double_eq_tol(tj_num(j, "run_at"), jobs[i].run_at,
		    1e-3);
	}
	qsort(jobs, NJOBS, sizeof(*jobs), pj_cmp);
	for (int i = 1; i < NJOBS; i++)
		ck_assert_msg(jobs[i].started >= jobs[i - 1].started,
		    "job %lld (run_at %.3f) started before job %lld "
		    "(run_at %.3f)", (long long)jobs[i].id, jobs[i].run_at,
		    (long long)jobs[i - 1].id, jobs[i - 1].run_at);
}

/* Jobs far past the window and denser than it holds start in order. */
START_TEST(test_paged_jobs_start_in_order)
{
	struct pj jobs[NJOBS];
	struct tj_conn *c;

	tj_start(PG_CONF);
	c = tj_connect();
	submit_spread(c, tu_wall() + 3 * tu_slow(), jobs);
	ck_assert_int_eq(tj_int(tj_req(c, "{'op':'stats'}"),
	    "queues.solo.scheduled"), NJOBS);
	check_order(c, jobs);
	ck_assert_int_eq(tj_int(tj_req(c, "{'op':'stats'}"),
	    "queues.solo.scheduled"), 0);
	tj_close(c);
}
END_TEST

/* A job due in an hour: get shows it; cancel ends it; another is
 * retried (starts now); max_pending counts paged-out jobs; a wait on one
 * due in a few seconds waits for its end. */
START_TEST(test_paged_job_ops)
{
	struct tj_conn *c;
	json_int_t a, b, w;
	json_t *j;
	double t;

	tj_start(PG_CONF);
	c = tj_connect();
	a = tj_submit(c, "'kind':'sleep','args':{'seconds':0},'delay':3600");
	b = tj_submit(c, "'kind':'sleep','args':{'seconds':0},'delay':3600");
	tj_sleep(0.3);                  /* inserted: out of memory now */
	j = tj_job(c, a);
	ck_assert_str_eq(tj_str(j, "state"), "scheduled");
	tj_assert_ok(tj_req(c, "{'op':'cancel','id':%lld}", (long long)a));
	ck_assert_str_eq(tj_str(tj_job(c, a), "state"), "cancelled");
	tj_assert_ok(tj_req(c, "{'op':'retry','id':%lld}", (long long)b));
	ck_assert_str_eq(tj_str(tj_wait(c, b, TJ_TIMEOUT), "state"),
	    "succeeded");
	ck_assert_int_eq(tj_int(tj_job(c, b), "attempts"), 1);
	/* max_pending = 2 on tight, both paged out */
	tj_submit(c, "'kind':'sleep','args':{'seconds':0},'queue':'tight',"
	    "'delay':3600");
	tj_submit(c, "'kind':'sleep','args':{'seconds':0},'queue':'tight',"
	    "'delay':3600");
	tj_sleep(0.3);
	tj_assert_err(tj_req(c, "{'op':'submit','kind':'sleep','args':"
	    "{'seconds':0},'queue':'tight','delay':3600}"), "queue_full");
	ck_assert_int_eq(tj_int(tj_req(c, "{'op':'stats'}"),
	    "queues.tight.scheduled"), 2);
	/* wait on a paged-out job: its end, not its row as it is now */
	t = tu_wall();
	w = tj_submit(c, "'kind':'sleep','args':{'seconds':0},'delay':%g",
	    3 * tu_slow());
	tj_sleep(0.3);
	j = tj_wait(c, w, TJ_TIMEOUT + 10);
	ck_assert_str_eq(tj_str(j, "state"), "succeeded");
	ck_assert(tj_num(j, "started_at") >= t + 3 * tu_slow() - 0.001);
	tj_close(c);
}
END_TEST

/* Stop with every job still paged out, start again: the log says how many
 * stay in the database, stats counts them, a cancel finds one, the rest
 * start in order; a SIGKILL in the middle of their window changes none
 * of that. */
START_TEST(test_paged_across_restarts)
{
	struct pj jobs[NJOBS];
	struct tj_conn *c;
	json_int_t far[3];
	json_t *s;

	tj_start(PG_CONF);
	c = tj_connect();
	submit_spread(c, tu_wall() + 6 * tu_slow(), jobs);
	for (int i = 0; i < 3; i++)
		far[i] = tj_submit(c, "'kind':'sleep','args':{'seconds':0},"
		    "'queue':'solo','delay':3600");
	tj_close(c);
	tj_stop();
	tj_restart();
	ck_assert_ptr_nonnull(strstr(tj_log(), "stay in the database"));
	c = tj_connect();
	s = tj_req(c, "{'op':'stats'}");
	ck_assert_int_eq(tj_int(s, "queues.solo.scheduled"), NJOBS + 3);
	tj_assert_ok(tj_req(c, "{'op':'cancel','id':%lld}",
	    (long long)far[0]));
	/* Kill once some have run, before all have. */
	tj_wait_state(c, jobs[0].id, "succeeded", TJ_TIMEOUT + 10);
	tj_close(c);
	tj_kill();
	tj_restart();
	c = tj_connect();
	check_order(c, jobs);
	s = tj_req(c, "{'op':'stats'}");
	ck_assert_int_eq(tj_int(s, "queues.solo.scheduled"), 2);
	ck_assert_str_eq(tj_str(tj_job(c, far[0]), "state"), "cancelled");
	ck_assert_str_eq(tj_str(tj_job(c, far[1]), "state"), "scheduled");
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs WHERE state = "
	    "'scheduled'"), 2);
	tj_close(c);
}
END_TEST

static Suite *
jobd_page_suite(void)
{
	Suite *s = suite_create("jobd_page");
	TCase *tc = tj_tcase("page", 120);

	tcase_add_test(tc, test_paged_jobs_start_in_order);
	tcase_add_test(tc, test_paged_job_ops);
	tcase_add_test(tc, test_paged_across_restarts);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(jobd_page_suite());
}
