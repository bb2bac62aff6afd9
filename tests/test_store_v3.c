/*
 * test_store_v3.c — schema 3 of the SQLite store: the migration of a real
 * schema-2 database (tests/fixtures/jobs-v2.db, made by jobd 0.2 before
 * this schema existed) without losing a row or a column's value; the
 * lifecycle writes (retry later, ready, revive, pause, prune) and the
 * attempts they keep; and that every query the dispatcher and the pruner
 * run is an index lookup (EXPLAIN QUERY PLAN, the statements themselves
 * from store_sqlite.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "store_sqlite.h"
#include "testutil.h"
#include "tu_store.h"

static void
copy_file(const char *from, const char *to)
{
	char buf[4096];
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	size_t n;

	ck_assert_msg(in != NULL, "%s", from);
	ck_assert_ptr_nonnull(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
	fclose(in);
	fclose(out);
}

static int
take_all(void *arg, struct store_job *j)
{
	int *n = arg;

	n[0]++;
	n[1] += j->interrupted;
	store_job_free(j);
	return 0;
}

/* Every row of the fixture comes through with its values, the new columns
 * at their defaults, the indexes and views exist, auto_vacuum is
 * incremental, and the jobs left running at the fixture's SIGKILL recover. */
START_TEST(test_migrate_v2_fixture)
{
	const char *src = getenv("JOBD_SOURCE_DIR");
	char fx[512];
	struct store_job *j;
	int n[2] = { 0, 0 };

	ck_assert_ptr_nonnull(src);
	snprintf(fx, sizeof(fx), "%s/tests/fixtures/jobs-v2.db", src);
	copy_file(fx, ts_path);
	ck_assert_int_eq(ts_db_int("PRAGMA user_version"), 2);
	ck_assert_int_eq(ts_db_int("SELECT count(*) FROM jobs"), 11);
	ts_open_default();
	ck_assert_int_eq(ts_db_int("PRAGMA user_version"), 6);
	ck_assert_int_eq(ts_db_int("PRAGMA auto_vacuum"), 2);
	ck_assert_int_eq(ts_db_int("SELECT count(*) FROM jobs"), 11);
	ck_assert_int_eq(ts_db_int("SELECT count(*) FROM jobs WHERE "
	    "state = 'succeeded'"), 6);
	ck_assert_int_eq(ts_db_int("SELECT count(*) FROM jobs WHERE priority = 5 "
	    "AND retries = 0 AND run_at IS NULL AND retried = 0"), 11);
	ck_assert_int_eq(ts_db_int("SELECT count(*) FROM jobs WHERE group_id = 1"),
	    2);
	ck_assert_int_eq(ts_db_int("SELECT count(*) FROM sqlite_schema WHERE name "
	    "IN ('jobs_state_queue', 'jobs_group', 'jobs_run_at', "
	    "'jobs_finished', 'job_attempts', 'queue_pause', 'job_durations', "
	    "'failures_by_queue', 'retries', 'queue_lag')"), 10);
	ck_assert_int_eq(ts_db_int("SELECT count(*) FROM failures_by_queue"), 1);
	j = ts_get(4);
	ck_assert_int_eq(j->state, STORE_FAILED);
	ck_assert_str_eq(j->error, "boom");
	ck_assert(j->submitter.known);
	store_job_free(j);
	j = ts_get(5);
	ck_assert_str_eq(j->queue, "other");
	ck_assert_str_eq(j->name, "named");
	store_job_free(j);
	ck_assert_int_eq(store_recover(ts_st, take_all, n, NULL), 0);
	ck_assert_int_eq(n[0], 3);      /* 7, 8, 11 were running */
	ck_assert_int_eq(n[1], 3);
	ck_assert_int_eq(ts_insert_q("default"), 12);   /* ids go on */
	store_flush(ts_st);
	ts_all_ok(0, 1);
}
END_TEST

/* The plan says "SEARCH ... USING ... INDEX" and never "SCAN jobs". */
static void
assert_indexed(const char *sql, const char *index)
{
	char plan[1024];

	ts_db_plan(sql, plan, sizeof(plan));
	ck_assert_msg(strstr(plan, index) != NULL && strstr(plan, "SCAN jobs")
	    == NULL, "%s\n  plan: %s", sql, plan);
}

START_TEST(test_query_plans)
{
	ts_open_default();
	assert_indexed(SQ_SQL_ACTIVE, "jobs_state_queue");
	assert_indexed(SQ_SQL_ACTIVE, "jobs_run_at");  /* the horizon */
	assert_indexed(SQ_SQL_DUE, "jobs_run_at");
	/* The window of scheduled jobs (daemon/page.c): a page, and the
	 * start's count of what stays out. */
	assert_indexed(SQ_SQL_PAGE, "jobs_run_at");
	assert_indexed(SQ_SQL_SCAN, "jobs_run_at");
	assert_indexed(SQ_SQL_PRUNE_IDS, "jobs_finished");
	assert_indexed(SQ_SQL_ATTEMPTS, "PRIMARY KEY");
	/* Schema 4: the unique key's holder, a slot's job, a schedule's
	 * last slot (schedules, unique submits). */
	assert_indexed(SQ_SQL_DUP_KEY, "jobs_unique");
	assert_indexed(SQ_SQL_DUP_SLOT, "jobs_slot");
	assert_indexed(SQ_SQL_LAST_SLOT, "jobs_slot");
}
END_TEST

static Suite *
store_v3_suite(void)
{
	Suite *s = suite_create("store_v3");
	TCase *tc = tcase_create("store_v3");

	tcase_add_checked_fixture(tc, ts_setup, ts_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_migrate_v2_fixture);
	tcase_add_test(tc, test_query_plans);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	log_init("test_store_v3", LOG_LVL_WARNING);
	ts_backend = "sqlite";
	return tu_main(store_v3_suite());
}
