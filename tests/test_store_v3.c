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

static int64_t
db_int(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int64_t v = -1;

	ck_assert_int_eq(sqlite3_open(ts_path, &db), SQLITE_OK);
	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK,
	    "%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

/* The query plan of sql, its lines joined by '|'. */
static void
db_plan(const char *sql, char *buf, size_t len)
{
	char q[2048];
	sqlite3 *db;
	sqlite3_stmt *s;
	size_t off = 0;

	snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql);
	ck_assert_int_eq(sqlite3_open(ts_path, &db), SQLITE_OK);
	ck_assert_msg(sqlite3_prepare_v2(db, q, -1, &s, NULL) == SQLITE_OK,
	    "%s: %s", q, sqlite3_errmsg(db));
	buf[0] = '\0';
	while (sqlite3_step(s) == SQLITE_ROW && off < len)
		off += (size_t)snprintf(buf + off, len - off, "%s|",
		    sqlite3_column_text(s, 3));
	sqlite3_finalize(s);
	sqlite3_close(db);
}

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
	ck_assert_int_eq(db_int("PRAGMA user_version"), 2);
	ck_assert_int_eq(db_int("SELECT count(*) FROM jobs"), 11);
	ts_open_default();
	ck_assert_int_eq(db_int("PRAGMA user_version"), 5);
	ck_assert_int_eq(db_int("PRAGMA auto_vacuum"), 2);
	ck_assert_int_eq(db_int("SELECT count(*) FROM jobs"), 11);
	ck_assert_int_eq(db_int("SELECT count(*) FROM jobs WHERE "
	    "state = 'succeeded'"), 6);
	ck_assert_int_eq(db_int("SELECT count(*) FROM jobs WHERE priority = 5 "
	    "AND retries = 0 AND run_at IS NULL AND retried = 0"), 11);
	ck_assert_int_eq(db_int("SELECT count(*) FROM jobs WHERE group_id = 1"),
	    2);
	ck_assert_int_eq(db_int("SELECT count(*) FROM sqlite_schema WHERE name "
	    "IN ('jobs_state_queue', 'jobs_group', 'jobs_run_at', "
	    "'jobs_finished', 'job_attempts', 'queue_pause', 'job_durations', "
	    "'failures_by_queue', 'retries', 'queue_lag')"), 10);
	ck_assert_int_eq(db_int("SELECT count(*) FROM failures_by_queue"), 1);
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

	db_plan(sql, plan, sizeof(plan));
	ck_assert_msg(strstr(plan, index) != NULL && strstr(plan, "SCAN jobs")
	    == NULL, "%s\n  plan: %s", sql, plan);
}

START_TEST(test_query_plans)
{
	ts_open_default();
	assert_indexed(SQ_SQL_ACTIVE, "jobs_state_queue");
	assert_indexed(SQ_SQL_DUE, "jobs_run_at");
	assert_indexed(SQ_SQL_PRUNE_IDS, "jobs_finished");
	assert_indexed(SQ_SQL_ATTEMPTS, "PRIMARY KEY");
	/* Schema 4: the unique key's holder, a slot's job, a schedule's
	 * last slot (schedules, unique submits). */
	assert_indexed(SQ_SQL_DUP_KEY, "jobs_unique");
	assert_indexed(SQ_SQL_DUP_SLOT, "jobs_slot");
	assert_indexed(SQ_SQL_LAST_SLOT, "jobs_slot");
}
END_TEST

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
	ck_assert_int_eq(db_int("SELECT count(*) FROM job_attempts"), 5);
	p.before = store_now() + 1;
	p.states = 1u << STORE_SUCCEEDED;
	ck_assert_int_eq(store_prune(ts_st, &p, &deleted, ts_rec, NULL), 0);
	store_flush(ts_st);
	ck_assert_uint_eq(deleted, 3);
	ck_assert_int_eq(store_prune(ts_st, &p, &deleted, ts_rec, NULL), 0);
	store_flush(ts_st);
	ck_assert_uint_eq(deleted, 1);  /* the group's member is kept */
	ts_all_ok(0, ts_ncb);
	ck_assert_int_eq(db_int("SELECT count(*) FROM jobs"), 4);
	ck_assert_int_eq(db_int("SELECT count(*) FROM job_attempts"), 1);
	p.states = 0;
	ck_assert_int_eq(store_prune(ts_st, &p, &deleted, ts_rec, NULL), 0);
	store_flush(ts_st);
	ck_assert_uint_eq(deleted, 1);  /* the failed one */
	ck_assert_int_eq(db_int("SELECT count(*) FROM jobs WHERE id = 6"), 1);
	ck_assert_int_eq(live, 6);
	p.limit = 0;
	ck_assert_int_eq(store_prune(ts_st, &p, &deleted, ts_rec, NULL),
	    -EINVAL);
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
	tcase_add_test(tc, test_retry_later_and_attempts);
	tcase_add_test(tc, test_revive_and_pause);
	tcase_add_test(tc, test_prune);
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
