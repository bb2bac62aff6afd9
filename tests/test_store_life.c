/*
 * test_store_life.c — the lifecycle's writes and reads through store.h,
 * run against one backend (argv[1]: sqlite, or postgresql on a throwaway
 * cluster, as test_store): a retry later with its attempts kept, ready,
 * revive, pause, prune.  Counts are read back through the store.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "testutil.h"
#include "tu_pg.h"
#include "tu_store.h"

/* Every job of the store (ids 1 .. 100 are enough here). */
static int
count_jobs(void)
{
	struct store_filter f = { .state = STORE_ANY_STATE, .before_id = 1000,
		.limit = 100 };
	struct store_job **jobs;
	size_t n;

	ck_assert_int_eq(store_list(ts_st, &f, &jobs, &n), 0);
	store_jobs_free(jobs, n);
	return (int)n;
}

/* Every start kept, of the jobs with ids 1 .. 100. */
static int
count_attempts(void)
{
	struct store_attempt **a;
	size_t n;
	int total = 0;

	for (int64_t id = 1; id <= 100; id++) {
		ck_assert_int_eq(store_attempts(ts_st, id, &a, &n), 0);
		store_attempts_free(a, n);
		total += (int)n;
	}
	return total;
}

/* A failed start kept in job_attempts, the job scheduled with run_at,
 * then ready, run again, ended: two attempts, in order. */
START_TEST(test_retry_later_and_attempts)
{
	struct store_end e = { .state = STORE_FAILED, .error = "boom" };
	struct store_attempt **a;
	struct store_job *j;
	size_t n;
	int64_t id;

	ts_rec_reset();
	ts_open_default();
	id = ts_insert_q("default");
	ts_start(id);
	ck_assert_int_eq(store_retry_later(ts_st, id, &e, 2e9, ts_rec,
	    (void *)3), 0);
	store_flush(ts_st);
	ts_all_ok(0, ts_ncb);
	j = ts_get(id);
	ck_assert_int_eq(j->state, STORE_SCHEDULED);
	ck_assert(j->run_at == 2e9);
	ck_assert_int_eq(j->retried, 1);
	ck_assert_int_eq(j->run_base, 1);
	store_job_free(j);
	ck_assert_int_eq(store_mark_ready(ts_st, id, ts_rec, NULL), 0);
	ts_start(id);
	ts_end(id, STORE_SUCCEEDED, "{\"x\":1}", NULL, NULL);
	store_flush(ts_st);
	ts_all_ok(0, ts_ncb);
	ck_assert_int_eq(store_attempts(ts_st, id, &a, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(a[0]->attempt, 1);
	ck_assert_str_eq(a[0]->state, "failed");
	ck_assert_str_eq(a[0]->error, "boom");
	ck_assert_int_eq(a[1]->attempt, 2);
	ck_assert_str_eq(a[1]->state, "succeeded");
	ck_assert_str_eq(a[1]->result, "{\"x\":1}");
	ck_assert(a[1]->started_at > 0 && a[1]->finished_at >= a[1]->started_at);
	store_attempts_free(a, n);
	/* Not scheduled any more: ready is refused alone. */
	ck_assert_int_eq(store_mark_ready(ts_st, id, ts_rec, NULL), 0);
	store_flush(ts_st);
	ck_assert_int_eq(ts_cb_status[ts_ncb - 1], -ENOENT);
}
END_TEST

START_TEST(test_revive_and_pause)
{
	struct store_job *j;
	char **names;
	size_t n;
	int64_t id;

	ts_rec_reset();
	ts_open_default();
	id = ts_insert_q("default");
	ts_end(id, STORE_CANCELLED, NULL, NULL, "stop");
	ck_assert_int_eq(store_revive(ts_st, id, ts_rec, NULL), 0);
	ck_assert_int_eq(store_set_paused(ts_st, "q1", true, ts_rec, NULL), 0);
	ck_assert_int_eq(store_set_paused(ts_st, "q2", true, ts_rec, NULL), 0);
	ck_assert_int_eq(store_set_paused(ts_st, "q2", false, ts_rec, NULL), 0);
	store_flush(ts_st);
	ts_all_ok(0, ts_ncb);
	j = ts_get(id);
	ck_assert_int_eq(j->state, STORE_QUEUED);
	ck_assert(j->finished_at == 0 && j->cancel_reason == NULL);
	store_job_free(j);
	ts_reopen();
	ck_assert_int_eq(store_paused_queues(ts_st, &names, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(names[0], "q1");
	free(names[0]);
	free(names);
	/* A queued job is not revived. */
	ck_assert_int_eq(store_revive(ts_st, id, ts_rec, NULL), 0);
	store_flush(ts_st);
	ck_assert_int_eq(ts_cb_status[ts_ncb - 1], -ENOENT);
}
END_TEST

/* Prune deletes only ended jobs of the states asked, finished before the
 * time, in batches of at most limit, with their attempts; a live group's
 * ended member stays. */
START_TEST(test_prune)
{
	struct store_prune p = { .before = 0, .limit = 3 };
	struct store_new_job g[2] = { ts_job("default", "{}"),
		ts_job("default", "{}") };
	int64_t ids[2], gid, live;
	size_t deleted = 99;

	ts_rec_reset();
	ts_open_default();
	for (int i = 0; i < 5; i++) {
		int64_t id = ts_insert_q("default");

		ts_start(id);
		ts_end(id, i == 4 ? STORE_FAILED : STORE_SUCCEEDED, NULL,
		    NULL, NULL);
	}
	live = ts_insert_q("default");
	ck_assert_int_eq(store_insert_group(ts_st, STORE_GROUP_ALL, g, 2, &gid,
	    ids, ts_rec, NULL), 0);
	ts_end(ids[0], STORE_SUCCEEDED, NULL, NULL, NULL);
	store_flush(ts_st);
	ts_all_ok(0, ts_ncb);
	ck_assert_int_eq(count_attempts(), 5);
	p.before = store_now() + 1;
	p.states = 1u << STORE_SUCCEEDED;
	ck_assert_int_eq(store_prune(ts_st, &p, &deleted, ts_rec, NULL), 0);
	store_flush(ts_st);
	ck_assert_uint_eq(deleted, 3);
	ck_assert_int_eq(store_prune(ts_st, &p, &deleted, ts_rec, NULL), 0);
	store_flush(ts_st);
	ck_assert_uint_eq(deleted, 1);  /* the group's member is kept */
	ts_all_ok(0, ts_ncb);
	ck_assert_int_eq(count_jobs(), 4);
	ck_assert_int_eq(count_attempts(), 1);
	p.states = 0;
	ck_assert_int_eq(store_prune(ts_st, &p, &deleted, ts_rec, NULL), 0);
	store_flush(ts_st);
	ck_assert_uint_eq(deleted, 1);  /* the failed one */
	store_job_free(ts_get(6));      /* there still */
	ck_assert_int_eq(live, 6);
	p.limit = 0;
	ck_assert_int_eq(store_prune(ts_st, &p, &deleted, ts_rec, NULL),
	    -EINVAL);
}
END_TEST

static Suite *
store_life_suite(const char *backend)
{
	Suite *s = suite_create(backend);
	TCase *tc = tcase_create(backend);

	tcase_add_checked_fixture(tc, ts_setup, ts_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_retry_later_and_attempts);
	tcase_add_test(tc, test_revive_and_pause);
	tcase_add_test(tc, test_prune);
	suite_add_tcase(s, tc);
	return s;
}

/* argv[1] the backend, default sqlite (ctest: test_store_life and
 * test_store_life_postgres). */
int
main(int argc, char **argv)
{
	return ts_main(argc, argv, "test_store_life", store_life_suite);
}
