/*
 * test_store.c — the job store (store.h) on SQLite: schema and migrations,
 * round trips, lists, groups, group commit, callbacks, recovery (also after
 * a real SIGKILL), the sqlite3 CLI reading during writes, failures that
 * must never be acknowledged, and close.
 *
 * Each test gets a fresh directory and database.  Callbacks are recorded
 * in order with the thread they ran on; pump() runs the event loop until
 * enough have come back.  The test peeks at the file with its own SQLite
 * connections, as a user with the sqlite3 shell would.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "testutil.h"

extern char **environ;

static char dir[64];
static char path[128];
static struct store *st;

/* ---- fixture ------------------------------------------------------------ */

static void
rm_db(const char *p)
{
	char buf[256];

	unlink(p);
	snprintf(buf, sizeof(buf), "%s-wal", p);
	unlink(buf);
	snprintf(buf, sizeof(buf), "%s-shm", p);
	unlink(buf);
}

static void
setup(void)
{
	tu_setup();
	strcpy(dir, "/tmp/test_store.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/jobs.db", dir);
	st = NULL;
}

static void
teardown(void)
{
	char other[160];

	snprintf(other, sizeof(other), "%s-wal", path);
	tu_immutable(other, false);
	tu_immutable(path, false);
	store_close(st);
	st = NULL;
	rm_db(path);
	snprintf(other, sizeof(other), "%s/other.db", dir);
	rm_db(other);
	rmdir(dir);
	tu_teardown();
}

/* ---- callbacks ---------------------------------------------------------- */

#define MAXCB 40000

static int ncb;
static int cb_status[MAXCB];
static intptr_t cb_tag[MAXCB];
static int cb_off_loop;                 /* callbacks on another thread */
static pthread_t loop_thread;

static void
rec(void *arg, int status)
{
	if (!pthread_equal(pthread_self(), loop_thread))
		cb_off_loop++;
	if (ncb < MAXCB) {
		cb_tag[ncb] = (intptr_t)arg;
		cb_status[ncb] = status;
	}
	ncb++;
}

static void
rec_reset(void)
{
	ncb = 0;
	cb_off_loop = 0;
	loop_thread = pthread_self();
}

/* Run the loop until n callbacks in all have come. */
static void
pump(int n)
{
	double end = co_now() + 10 * tu_slow();

	while (ncb < n) {
		ck_assert_msg(co_now() < end, "%d of %d callbacks", ncb, n);
		event_base_loop(tu_base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		if (ncb < n)
			usleep(200);
	}
}

/* ---- helpers ------------------------------------------------------------ */

static void
open_opts(const struct store_opts *o)
{
	int rc = store_open(&st, tu_base, o);

	ck_assert_msg(rc == 0, "store_open: %d %s", rc, store_errmsg());
}

static void
open_default(void)
{
	struct store_opts o = { .path = path, .sync = STORE_SYNC_NORMAL };

	open_opts(&o);
}

static void
reopen(void)
{
	store_close(st);
	st = NULL;
	open_default();
}

static struct store_new_job
job(const char *queue, const char *args)
{
	struct store_new_job j = { .queue = queue, .kind = "sleep",
		.args = args, .max_attempts = 3 };

	return j;
}

/* Insert a job; tag is what rec() records. */
static int64_t
insert(const struct store_new_job *j, intptr_t tag)
{
	int64_t id = 0;
	int rc = store_insert(st, j, &id, rec, (void *)tag);

	ck_assert_msg(rc == 0, "store_insert: %d %s", rc, store_errmsg());
	return id;
}

static int64_t
insert_q(const char *queue)
{
	struct store_new_job j = job(queue, "{}");

	return insert(&j, 0);
}

static void
start(int64_t id)
{
	ck_assert_int_eq(store_mark_started(st, id, 0, rec, (void *)id), 0);
}

static void
end(int64_t id, enum store_state s, const char *result, const char *error,
    const char *reason)
{
	struct store_end e = { .state = s, .result = result, .error = error,
		.cancel_reason = reason };

	ck_assert_int_eq(store_mark_ended(st, id, &e, rec, (void *)id), 0);
}

static struct store_job *
get(int64_t id)
{
	struct store_job *j = NULL;
	int rc = store_get(st, id, &j);

	ck_assert_msg(rc == 0, "store_get %lld: %d %s", (long long)id, rc,
	    store_errmsg());
	return j;
}

static void
all_ok(int from, int to)
{
	for (int i = from; i < to; i++)
		ck_assert_msg(cb_status[i] == 0, "callback %d: %d", i,
		    cb_status[i]);
}

/* The first column of the first row of sql, on a connection of our own. */
static int64_t
db_int(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int64_t v = -1;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK,
	    "%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static void
db_str(const char *sql, char *buf, size_t len)
{
	sqlite3 *db;
	sqlite3_stmt *s;

	buf[0] = '\0';
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		snprintf(buf, len, "%s", sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(db);
}

static void
db_exec(const char *sql)
{
	sqlite3 *db;
	char *err = NULL;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK,
	    "%s: %s", sql, err);
	sqlite3_close(db);
}

static void
write_file(const char *p, const char *data)
{
	FILE *f = fopen(p, "w");

	ck_assert_ptr_nonnull(f);
	fputs(data, f);
	fclose(f);
}

static void
assert_msg_has(const char *what)
{
	ck_assert_msg(strstr(store_errmsg(), what) != NULL,
	    "message \"%s\" lacks \"%s\"", store_errmsg(), what);
}

/* ---- schema and migrations ---------------------------------------------- */

START_TEST(test_migrate_fresh_and_reopen)
{
	int64_t id, objects;
	char mode[16];
	struct store_job *j;

	rec_reset();
	open_default();
	id = insert_q("default");
	store_flush(st);
	ck_assert_int_eq(cb_status[0], 0);
	ck_assert_int_eq(db_int("PRAGMA user_version"), 2);
	ck_assert_int_eq(db_int("PRAGMA application_id"), 0x6a6f6264);
	db_str("PRAGMA journal_mode", mode, sizeof(mode));
	ck_assert_str_eq(mode, "wal");
	ck_assert_int_eq(db_int("SELECT count(*) FROM sqlite_schema WHERE "
	    "name IN ('jobs', 'groups', 'meta', 'jobs_state_queue', "
	    "'jobs_group')"), 5);
	objects = db_int("SELECT count(*) FROM sqlite_schema");
	reopen();                       /* migrations again: nothing to do */
	ck_assert_int_eq(db_int("PRAGMA user_version"), 2);
	ck_assert_int_eq(db_int("SELECT count(*) FROM sqlite_schema"), objects);
	j = get(id);
	ck_assert_str_eq(j->queue, "default");
	store_job_free(j);
	ck_assert_int_eq(insert_q("default"), id + 1);
	store_flush(st);
	all_ok(0, 2);
}
END_TEST

/* The columns of jobs, in order. */
static void
jobs_columns(char *buf, size_t len)
{
	db_str("SELECT group_concat(name, ',') FROM (SELECT name FROM "
	    "pragma_table_info('jobs') ORDER BY cid)", buf, len);
}

/* store_recover's callback for rows of version 1: nobody submitted them. */
static int
take_v1(void *arg, struct store_job *j)
{
	ck_assert(!j->submitter.known);
	++*(int *)arg;
	store_job_free(j);
	return 0;
}

/* A database of schema version 1 (jobd 0.1.0) is migrated at open: the
 * submitter's columns appear, NULL in the old rows, and the rows work on
 * (recovery, ends).  The version-1 file is made by undoing migration 2 by
 * hand on a fresh one: dropping its columns leaves the version-1 table. */
START_TEST(test_migrate_from_v1)
{
	struct store_new_job n = job("default", "{}");
	char fresh[256], cols[256];
	struct store_job *j;
	int64_t a, b, c;
	int nrec = 0;

	rec_reset();
	open_default();
	jobs_columns(fresh, sizeof(fresh));
	a = insert_q("default");
	b = insert_q("default");
	start(b);                       /* running when "v1 jobd" died */
	store_flush(st);
	store_close(st);
	st = NULL;
	db_exec("ALTER TABLE jobs DROP COLUMN submit_uid;"
	    "ALTER TABLE jobs DROP COLUMN submit_gid;"
	    "ALTER TABLE jobs DROP COLUMN submit_pid;"
	    "PRAGMA user_version = 1");
	jobs_columns(cols, sizeof(cols));
	ck_assert_ptr_null(strstr(cols, "submit_"));

	open_default();
	ck_assert_int_eq(db_int("PRAGMA user_version"), 2);
	jobs_columns(cols, sizeof(cols));
	ck_assert_str_eq(cols, fresh);  /* as if created at version 2 */
	ck_assert_int_eq(db_int("SELECT count(*) FROM jobs WHERE "
	    "submit_uid IS NULL AND submit_gid IS NULL AND submit_pid IS "
	    "NULL"), 2);
	ck_assert_int_eq(store_recover(st, take_v1, &nrec, NULL), 0);
	ck_assert_int_eq(nrec, 2);
	j = get(b);
	ck_assert_int_eq(j->state, STORE_QUEUED);
	ck_assert(!j->submitter.known);
	store_job_free(j);
	n.submitter = (struct store_submitter){ true, 1001, 1002, 4242 };
	rec_reset();
	c = insert(&n, 0);
	end(a, STORE_CANCELLED, NULL, NULL, "old row");
	store_flush(st);
	ck_assert_int_eq(ncb, 2);
	all_ok(0, 2);
	j = get(c);
	ck_assert(j->submitter.known && j->submitter.uid == 1001 &&
	    j->submitter.gid == 1002 && j->submitter.pid == 4242);
	store_job_free(j);
	ck_assert_int_eq(db_int("SELECT count(*) FROM jobs WHERE "
	    "submit_uid IS NULL"), 2);
}
END_TEST

START_TEST(test_newer_version_refused)
{
	open_default();
	store_close(st);
	st = NULL;
	db_exec("PRAGMA user_version = 99");
	ck_assert_int_eq(store_open(&st, tu_base, &(struct store_opts){
	    .path = path }), -ENOTSUP);
	ck_assert_ptr_null(st);
	assert_msg_has(path);
	assert_msg_has("version 99");
	ck_assert_int_eq(db_int("PRAGMA user_version"), 99);
}
END_TEST

START_TEST(test_not_a_database)
{
	struct store_opts o = { .path = path };
	char missing[160];

	write_file(path, "this is not an SQLite database, just text that is "
	    "long enough to fill a header.................................\n");
	ck_assert_int_eq(store_open(&st, tu_base, &o), -EBADMSG);
	assert_msg_has(path);
	assert_msg_has("not a database");
	rm_db(path);

	db_exec("CREATE TABLE t (x)");  /* someone else's database */
	ck_assert_int_eq(store_open(&st, tu_base, &o), -EBADMSG);
	assert_msg_has("not a jobd database");
	ck_assert_int_eq(db_int("SELECT count(*) FROM sqlite_schema"), 1);
	rm_db(path);

	snprintf(missing, sizeof(missing), "%s/no/such/dir.db", dir);
	o.path = missing;
	ck_assert_int_eq(store_open(&st, tu_base, &o), -ENOENT);
	assert_msg_has(missing);
	o.path = NULL;
	ck_assert_int_eq(store_open(&st, tu_base, &o), -EINVAL);
	ck_assert_ptr_null(st);
}
END_TEST

START_TEST(test_one_store_per_file)
{
	struct store *other = NULL;

	open_default();
	ck_assert_int_eq(store_open(&other, tu_base, &(struct store_opts){
	    .path = path }), -EBUSY);
	assert_msg_has("in use");
	ck_assert_ptr_null(other);
}
END_TEST

/* ---- writes and reads --------------------------------------------------- */

START_TEST(test_roundtrip_every_field)
{
	struct store_new_job n = { .queue = "q1", .kind = "exec",
		.args = "{\"argv\":[\"echo\",\"hi\"],\"n\":2}", .name = "label",
		.timeout = 2.5, .max_attempts = 5,
		.created_at = 1700000000.25,
		.submitter = { true, 0, 0, 1 } };
	struct store_new_job bare = job("default", "{}");
	struct store_job *j;
	int64_t a, b;

	rec_reset();
	open_default();
	a = insert(&n, 1);
	b = insert(&bare, 2);
	store_flush(st);
	all_ok(0, 2);
	j = get(a);
	ck_assert_int_eq(j->id, a);
	ck_assert_str_eq(j->queue, "q1");
	ck_assert_str_eq(j->kind, "exec");
	ck_assert_str_eq(j->args, n.args);
	ck_assert_str_eq(j->name, "label");
	ck_assert_int_eq(j->state, STORE_QUEUED);
	ck_assert_int_eq(j->attempts, 0);
	ck_assert_int_eq(j->max_attempts, 5);
	ck_assert_double_eq(j->timeout, 2.5);
	ck_assert_double_eq(j->created_at, 1700000000.25);
	ck_assert(j->started_at == 0 && j->finished_at == 0);
	ck_assert(j->result == NULL && j->error == NULL);
	ck_assert(j->cancel_reason == NULL && j->group_id == 0);
	ck_assert(j->submitter.known && j->submitter.uid == 0 &&
	    j->submitter.gid == 0 && j->submitter.pid == 1);   /* root */
	store_job_free(j);

	j = get(b);                     /* created_at 0: filled with now */
	ck_assert_ptr_null(j->name);
	ck_assert(!j->submitter.known);
	ck_assert(fabs(j->created_at - store_now()) < 5);
	store_job_free(j);

	ck_assert_int_eq(store_mark_started(st, a, 1700000001.5, rec, NULL), 0);
	end(a, STORE_FAILED, "{\"exit_code\":1,\"stdout\":\"hi\\n\"}",
	    "exit code 1", "because");
	store_flush(st);
	all_ok(0, 4);
	j = get(a);
	ck_assert_int_eq(j->state, STORE_FAILED);
	ck_assert_int_eq(j->attempts, 1);
	ck_assert_double_eq(j->started_at, 1700000001.5);
	ck_assert(j->finished_at > 0);
	ck_assert_str_eq(j->result, "{\"exit_code\":1,\"stdout\":\"hi\\n\"}");
	ck_assert_str_eq(j->error, "exit code 1");
	ck_assert_str_eq(j->cancel_reason, "because");
	store_job_free(j);

	/* What a user with the sqlite3 shell sees. */
	ck_assert_int_eq(db_int("SELECT json_extract(args, '$.n') FROM jobs "
	    "WHERE name = 'label'"), 2);
	ck_assert_int_eq(db_int("SELECT json_extract(result, '$.exit_code') "
	    "FROM jobs WHERE name = 'label'"), 1);
	ck_assert_int_eq(db_int("SELECT count(*) FROM jobs WHERE "
	    "typeof(created_at) = 'real' AND typeof(args) = 'text' AND "
	    "typeof(started_at) = 'real' AND typeof(finished_at) = 'real'"), 1);
	ck_assert_int_eq(db_int("SELECT count(*) FROM jobs WHERE name IS NULL "
	    "AND started_at IS NULL AND finished_at IS NULL AND result IS NULL "
	    "AND error IS NULL AND cancel_reason IS NULL AND group_id IS NULL "
	    "AND submit_uid IS NULL AND submit_pid IS NULL"), 1);
	ck_assert_int_eq(db_int("SELECT count(*) FROM jobs WHERE "
	    "typeof(submit_uid) = 'integer' AND submit_uid = 0 AND "
	    "submit_gid = 0 AND submit_pid = 1"), 1);
}
END_TEST

START_TEST(test_transitions_checked)
{
	int64_t id;

	rec_reset();
	open_default();
	id = insert_q("default");
	end(id, STORE_CANCELLED, NULL, NULL, "user");   /* queued -> ended */
	start(id);                                      /* not queued */
	end(id, STORE_SUCCEEDED, NULL, NULL, NULL);     /* already ended */
	ck_assert_int_eq(store_requeue(st, id, rec, NULL), 0);
	ck_assert_int_eq(store_mark_started(st, 999, 0, rec, NULL), 0);
	store_flush(st);
	ck_assert_int_eq(ncb, 6);
	all_ok(0, 2);
	for (int i = 2; i < 6; i++)
		ck_assert_int_eq(cb_status[i], -ENOENT);
	ck_assert_int_eq(db_int("SELECT count(*) FROM jobs WHERE "
	    "state = 'cancelled' AND cancel_reason = 'user' AND attempts = 0"),
	    1);
}
END_TEST

START_TEST(test_bad_arguments_never_call_back)
{
	struct store_new_job j = job(NULL, "{}");
	struct store_end e = { .state = STORE_RUNNING };
	struct store_filter f = { .state = STORE_ANY_STATE,
		.limit = STORE_LIST_MAX + 1 };
	struct store_job **jobs, *got;
	int64_t id = 0, ids[1];
	size_t n;

	rec_reset();
	open_default();
	ck_assert_int_eq(store_insert(st, &j, &id, rec, NULL), -EINVAL);
	j = job("default", "{}");
	j.max_attempts = 0;
	ck_assert_int_eq(store_insert(st, &j, &id, rec, NULL), -EINVAL);
	j.max_attempts = 1;
	j.timeout = -1;
	ck_assert_int_eq(store_insert_group(st, STORE_GROUP_ALL, &j, 1, &id,
	    ids, rec, NULL), -EINVAL);
	ck_assert_int_eq(store_insert_group(st, STORE_GROUP_ALL, &j, 0, &id,
	    ids, rec, NULL), -EINVAL);
	ck_assert_int_eq(store_mark_ended(st, 1, &e, rec, NULL), -EINVAL);
	ck_assert_int_eq(store_list(st, &f, &jobs, &n), -EINVAL);
	f.limit = 1;
	f.state = 17;
	ck_assert_int_eq(store_list(st, &f, &jobs, &n), -EINVAL);
	ck_assert_int_eq(store_get(st, 1, &got), -ENOENT);
	store_flush(st);
	ck_assert_int_eq(ncb, 0);
	ck_assert_int_eq(insert_q("default"), 1);       /* no id was used */
	store_flush(st);
}
END_TEST

/* Ids listed by a filter, newest first. */
static void
assert_list(const struct store_filter *f, const int64_t *want, size_t nwant)
{
	struct store_job **jobs;
	size_t n;
	int rc = store_list(st, f, &jobs, &n);

	ck_assert_msg(rc == 0, "store_list: %d %s", rc, store_errmsg());
	ck_assert_uint_eq(n, nwant);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(jobs[i]->id, want[i]);
	store_jobs_free(jobs, n);
}

START_TEST(test_list_filters_order_limit)
{
	struct store_filter f = { .state = STORE_ANY_STATE };
	int64_t id[8];

	rec_reset();
	open_default();
	/* ids 1..8: queues a,b,a,b,c,a,b,a; 2,3 running; 4 succeeded;
	 * 5 failed; the rest queued. */
	const char *q[8] = { "a", "b", "a", "b", "c", "a", "b", "a" };
	for (int i = 0; i < 8; i++)
		id[i] = insert_q(q[i]);
	start(2), start(3), start(4), start(5);
	end(4, STORE_SUCCEEDED, "{}", NULL, NULL);
	end(5, STORE_FAILED, NULL, "boom", NULL);
	store_flush(st);
	all_ok(0, 14);
	ck_assert_int_eq(id[7], 8);

	assert_list(NULL, (int64_t[]){ 8, 7, 6, 5, 4, 3, 2, 1 }, 8);
	f.limit = 3;
	assert_list(&f, (int64_t[]){ 8, 7, 6 }, 3);
	f.before_id = 6;                                /* the next page */
	assert_list(&f, (int64_t[]){ 5, 4, 3 }, 3);
	f = (struct store_filter){ .state = STORE_QUEUED };
	assert_list(&f, (int64_t[]){ 8, 7, 6, 1 }, 4);
	f.state = STORE_RUNNING;
	assert_list(&f, (int64_t[]){ 3, 2 }, 2);
	f.limit = 1;
	assert_list(&f, (int64_t[]){ 3 }, 1);
	f = (struct store_filter){ .state = STORE_ANY_STATE, .queue = "a" };
	assert_list(&f, (int64_t[]){ 8, 6, 3, 1 }, 4);
	f.limit = 2;
	assert_list(&f, (int64_t[]){ 8, 6 }, 2);
	f.before_id = 6;
	assert_list(&f, (int64_t[]){ 3, 1 }, 2);
	f = (struct store_filter){ .state = STORE_QUEUED, .queue = "b" };
	assert_list(&f, (int64_t[]){ 7 }, 1);
	f.state = STORE_FAILED;
	f.queue = "c";
	assert_list(&f, (int64_t[]){ 5 }, 1);
	f.queue = "nope";
	assert_list(&f, NULL, 0);
	f = (struct store_filter){ .state = STORE_CANCELLED };
	assert_list(&f, NULL, 0);
}
END_TEST

START_TEST(test_counts)
{
	struct store_count *c;
	size_t n;

	rec_reset();
	open_default();
	for (int i = 0; i < 3; i++)
		insert_q("b");
	insert_q("a");
	insert_q("a");
	start(1), start(4);
	end(4, STORE_TIMED_OUT, NULL, "timeout", NULL);
	store_flush(st);
	all_ok(0, 8);
	ck_assert_int_eq(store_counts(st, &c, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert(strcmp(c[0].queue, "a") == 0 && c[0].state == STORE_QUEUED &&
	    c[0].n == 1);
	ck_assert(strcmp(c[1].queue, "a") == 0 &&
	    c[1].state == STORE_TIMED_OUT && c[1].n == 1);
	ck_assert(strcmp(c[2].queue, "b") == 0 && c[2].state == STORE_QUEUED &&
	    c[2].n == 2);
	ck_assert(strcmp(c[3].queue, "b") == 0 &&
	    c[3].state == STORE_RUNNING && c[3].n == 1);
	free(c);
}
END_TEST

START_TEST(test_group_all_or_nothing)
{
	struct store_new_job j[3] = { job("default", "{\"i\":0}"),
		job("default", "{\"i\":1}"), job("other", "{\"i\":2}") };
	struct store_job **jobs;
	struct store_group g;
	int64_t gid, ids[3], gid2, ids2[3], lone;
	size_t n;

	rec_reset();
	open_default();
	ck_assert_int_eq(store_insert_group(st, STORE_GROUP_FAIL_FAST, j, 3,
	    &gid, ids, rec, (void *)1), 0);
	ck_assert(ids[1] == ids[0] + 1 && ids[2] == ids[0] + 2);
	j[1].args = "{broken";                  /* the CHECK refuses it */
	ck_assert_int_eq(store_insert_group(st, STORE_GROUP_ALL, j, 3, &gid2,
	    ids2, rec, (void *)2), 0);
	ck_assert_int_eq(gid2, gid + 1);
	lone = insert_q("default");
	store_flush(st);
	ck_assert_int_eq(ncb, 3);
	ck_assert_int_eq(cb_status[0], 0);
	ck_assert_int_eq(cb_status[1], -EINVAL);
	ck_assert_int_eq(cb_status[2], 0);

	ck_assert_int_eq(store_group_get(st, gid, &g), 0);
	ck_assert(g.id == gid && g.mode == STORE_GROUP_FAIL_FAST &&
	    g.size == 3 && g.created_at > 0);
	ck_assert_int_eq(store_group_jobs(st, gid, &jobs, &n), 0);
	ck_assert_uint_eq(n, 3);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_int_eq(jobs[i]->id, ids[i]);
		ck_assert_int_eq(jobs[i]->group_id, gid);
	}
	ck_assert_str_eq(jobs[2]->args, "{\"i\":2}");
	store_jobs_free(jobs, n);

	/* Nothing of the refused group, and the insert after it is in. */
	ck_assert_int_eq(store_group_get(st, gid2, &g), -ENOENT);
	ck_assert_int_eq(store_group_jobs(st, gid2, &jobs, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(db_int("SELECT count(*) FROM jobs"), 4);
	store_job_free(get(lone));
}
END_TEST

/* ---- group commit and callbacks ----------------------------------------- */

/* Hold the write lock from a connection of our own. */
static sqlite3 *
lock_db(void)
{
	sqlite3 *db;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
	    SQLITE_OK);
	return db;
}

static void
unlock_db(sqlite3 *db)
{
	ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
}

/* 10,000 inserts submitted while the writer is held up (as by a backlog:
 * here by a lock, so that even valgrind's one-thread-at-a-time scheduling
 * cannot let it commit them one by one as they come). */
START_TEST(test_group_commit_batches)
{
	struct store_opts o = { .path = path, .sync = STORE_SYNC_FULL,
		.busy_timeout_ms = 60000 };
	struct store_new_job j = job("default", "{\"seconds\":1}");
	struct store_stats s;
	int64_t first = 0, id;
	sqlite3 *db;

	rec_reset();
	open_opts(&o);
	db = lock_db();
	for (int i = 0; i < 10000; i++) {
		id = insert(&j, i);
		if (i == 0)
			first = id;
		ck_assert_int_eq(id, first + i);
	}
	unlock_db(db);
	pump(10000);
	all_ok(0, 10000);
	store_stats(st, &s);
	ck_assert_uint_eq(s.submitted, 10000);
	ck_assert_uint_eq(s.committed, 10000);
	ck_assert_msg(s.transactions <= 3, "%llu transactions for 10000 "
	    "inserts", (unsigned long long)s.transactions);
	ck_assert_uint_ge(s.batch_largest, 5000);
	ck_assert_uint_eq(s.pending, 0);
	ck_assert_int_eq(db_int("SELECT count(*) FROM jobs"), 10000);
}
END_TEST

/* The same without help: a burst still commits in far fewer
 * transactions than writes. */
START_TEST(test_group_commit_natural)
{
	struct store_opts o = { .path = path, .sync = STORE_SYNC_FULL };
	struct store_new_job j = job("default", "{}");
	struct store_stats s;

	rec_reset();
	open_opts(&o);
	for (int i = 0; i < 10000; i++)
		insert(&j, i);
	pump(10000);
	all_ok(0, 10000);
	store_stats(st, &s);
	ck_assert_msg(s.transactions <= 1000, "%llu transactions for 10000 "
	    "inserts", (unsigned long long)s.transactions);
}
END_TEST

START_TEST(test_batch_max_respected)
{
	struct store_opts o = { .path = path, .sync = STORE_SYNC_NORMAL,
		.batch_max = 100 };
	struct store_stats s;

	rec_reset();
	open_opts(&o);
	for (int i = 0; i < 1000; i++)
		insert_q("default");
	pump(1000);
	all_ok(0, 1000);
	store_stats(st, &s);
	ck_assert_uint_le(s.batch_largest, 100);
	ck_assert_uint_ge(s.transactions, 10);
}
END_TEST

START_TEST(test_callbacks_on_loop_thread_in_order)
{
	struct store_new_job g[2] = { job("default", "{}"),
		job("default", "{}") };
	int64_t id, gid, ids[2];
	intptr_t tag = 0;

	rec_reset();
	open_default();
	for (int i = 0; i < 500; i++) {
		struct store_new_job j = job("default", "{}");
		struct store_end e = { .state = STORE_SUCCEEDED };

		ck_assert_int_eq(store_insert(st, &j, &id, rec,
		    (void *)tag++), 0);
		ck_assert_int_eq(store_mark_started(st, id, 0, rec,
		    (void *)tag++), 0);
		if (i % 2 == 0)
			ck_assert_int_eq(store_mark_ended(st, id, &e, rec,
			    (void *)tag++), 0);
		else
			ck_assert_int_eq(store_requeue(st, id, rec,
			    (void *)tag++), 0);
		/* fails alone, in the middle of the others */
		ck_assert_int_eq(store_mark_started(st, 1000000 + i, 0, rec,
		    (void *)tag++), 0);
		if (i % 50 == 0)
			ck_assert_int_eq(store_insert_group(st, STORE_GROUP_ALL,
			    g, 2, &gid, ids, rec, (void *)tag++), 0);
	}
	usleep(50000);                  /* the writer is done by now... */
	ck_assert_int_eq(ncb, 0);       /* ...but only the loop calls back */
	pump((int)tag);
	ck_assert_int_eq(ncb, tag);
	ck_assert_int_eq(cb_off_loop, 0);
	for (int i = 0; i < ncb; i++) {
		ck_assert_int_eq(cb_tag[i], i);
		ck_assert(cb_status[i] == 0 || cb_status[i] == -ENOENT);
	}
	ck_assert_int_eq(cb_status[3], -ENOENT);
	ck_assert_int_eq(db_int("SELECT count(*) FROM jobs WHERE "
	    "state = 'queued' AND attempts = 1"), 250);
}
END_TEST

/* ---- recovery ----------------------------------------------------------- */

#define MAXREC 1000

static struct store_job *recd[MAXREC];
static int nrecd;

static int
take(void *arg, struct store_job *j)
{
	int stop_at = (int)(intptr_t)arg;

	if (stop_at > 0 && nrecd == stop_at) {
		store_job_free(j);
		return -EINTR;
	}
	ck_assert_int_lt(nrecd, MAXREC);
	recd[nrecd++] = j;
	return 0;
}

static void
recd_free(void)
{
	for (int i = 0; i < nrecd; i++)
		store_job_free(recd[i]);
	nrecd = 0;
}

/* Jobs in every situation a crash leaves them: returns their ids. */
static void
crash_scene(int64_t id[5])
{
	struct store_new_job one = job("default", "{}");

	rec_reset();
	open_default();
	id[0] = insert_q("default");                    /* queued */
	id[1] = insert_q("default");                    /* running, 1 of 3 */
	start(id[1]);
	one.max_attempts = 1;
	id[2] = insert(&one, 0);                        /* running, 1 of 1 */
	start(id[2]);
	id[3] = insert_q("default");                    /* ended */
	start(id[3]);
	end(id[3], STORE_SUCCEEDED, "{}", NULL, NULL);
	one.max_attempts = 2;
	id[4] = insert(&one, 0);                        /* running, 2 of 2 */
	start(id[4]);
	ck_assert_int_eq(store_requeue(st, id[4], rec, NULL), 0);
	start(id[4]);
	store_flush(st);
	all_ok(0, ncb);
}

START_TEST(test_recovery)
{
	struct store_recovery rep;
	struct store_job *j;
	int64_t id[5];

	crash_scene(id);
	reopen();                       /* on disk, the same as a crash */
	nrecd = 0;
	ck_assert_int_eq(store_recover(st, take, NULL, &rep), 0);
	ck_assert(rep.queued == 1 && rep.requeued == 1 && rep.failed == 2);
	ck_assert_int_eq(nrecd, 4);
	ck_assert(recd[0]->id == id[0] && recd[0]->state == STORE_QUEUED);
	ck_assert(recd[1]->id == id[1] && recd[1]->state == STORE_QUEUED);
	ck_assert_int_eq(recd[1]->attempts, 1);
	ck_assert(recd[2]->id == id[2] && recd[2]->state == STORE_FAILED);
	ck_assert_str_eq(recd[2]->error,
	    "interrupted (jobd stopped or crashed) after 1 attempt");
	ck_assert(recd[2]->finished_at > 0);
	ck_assert(recd[3]->id == id[4] && recd[3]->state == STORE_FAILED);
	ck_assert_str_eq(recd[3]->error,
	    "interrupted (jobd stopped or crashed) after 2 attempts");
	recd_free();

	/* Committed: a fresh look at the file agrees. */
	reopen();
	j = get(id[2]);
	ck_assert_int_eq(j->state, STORE_FAILED);
	store_job_free(j);
	j = get(id[3]);
	ck_assert_int_eq(j->state, STORE_SUCCEEDED);
	store_job_free(j);
	ck_assert_int_eq(db_int("SELECT count(*) FROM jobs WHERE "
	    "state = 'running'"), 0);
	ck_assert_int_eq(store_recover(st, take, NULL, &rep), 0);
	ck_assert(rep.queued == 2 && rep.requeued == 0 && rep.failed == 0);
	recd_free();
	ck_assert_int_eq(store_recover(st, take, NULL, &rep), -EBUSY);
}
END_TEST

START_TEST(test_recovery_callback_stops)
{
	int64_t id[5];

	crash_scene(id);
	reopen();
	nrecd = 0;
	ck_assert_int_eq(store_recover(st, take, (void *)2, NULL), -EINTR);
	ck_assert_int_eq(nrecd, 2);     /* the rest were freed (valgrind) */
	recd_free();
	ck_assert_int_eq(db_int("SELECT count(*) FROM jobs WHERE "
	    "state = 'running'"), 0);   /* recovery itself committed */
}
END_TEST

/* A child acknowledges writes, then dies by SIGKILL with the store open. */
static void
crash_child(int fd)
{
	struct store_opts o = { .path = path, .sync = STORE_SYNC_NORMAL };
	struct store_new_job j = job("default", "{\"crash\":true}");
	struct store *s;
	int64_t id;
	int acked = 0;

	if (store_open(&s, NULL, &o) < 0)
		_exit(2);
	for (int i = 0; i < 500; i++)
		if (store_insert(s, &j, &id, rec, NULL) < 0 ||
		    (i < 100 && store_mark_started(s, id, 0, rec, NULL) < 0))
			_exit(3);
	store_flush(s);
	for (int i = 0; i < ncb; i++)
		acked += cb_status[i] == 0;
	if (write(fd, &acked, sizeof(acked)) != sizeof(acked))
		_exit(4);
	raise(SIGKILL);
}

START_TEST(test_acked_writes_survive_sigkill)
{
	struct store_recovery rep;
	int fds[2], acked = 0, status;
	pid_t pid;

	rec_reset();
	ck_assert_int_eq(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		close(fds[0]);
		crash_child(fds[1]);
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &acked, sizeof(acked)), sizeof(acked));
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	ck_assert_int_eq(acked, 600);
	open_default();
	nrecd = 0;
	ck_assert_int_eq(store_recover(st, take, NULL, &rep), 0);
	ck_assert(rep.queued == 400 && rep.requeued == 100 && rep.failed == 0);
	ck_assert_int_eq(nrecd, 500);
	for (int i = 0; i < nrecd; i++) {
		ck_assert_int_eq(recd[i]->id, i + 1);
		ck_assert_int_eq(recd[i]->attempts, i < 100 ? 1 : 0);
	}
	recd_free();
}
END_TEST

/* ---- the sqlite3 shell while the writer writes -------------------------- */

/* Run `sqlite3 PATH sql` and return what it printed as a number. */
static long
cli_count(const char *sql)
{
	char *argv[] = { "sqlite3", path, (char *)sql, NULL };
	posix_spawn_file_actions_t fa;
	char buf[64] = "";
	int fds[2], status;
	ssize_t n;
	pid_t pid;

	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	ck_assert_int_eq(posix_spawnp(&pid, "sqlite3", &fa, NULL, argv,
	    environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "sqlite3 failed (status %d)", status);
	ck_assert_int_gt(n, 0);
	return strtol(buf, NULL, 10);
}

START_TEST(test_cli_reads_while_writing)
{
	struct store_opts o = { .path = path, .sync = STORE_SYNC_FULL,
		.batch_max = 500 };
	struct store_new_job j = job("default", "{\"seconds\":0}");
	struct store_stats s;
	long seen = 0, c;
	int busy = 0;

	rec_reset();
	open_opts(&o);
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < 4000; i++)
			insert(&j, 0);
		store_stats(st, &s);
		busy += s.pending > 0;
		c = cli_count("SELECT count(*) FROM jobs");
		ck_assert(c >= seen && c <= (round + 1) * 4000);
		seen = c;
	}
	ck_assert_int_gt(busy, 0);      /* the shell ran during writes */
	pump(20000);
	all_ok(0, 20000);
	ck_assert_int_eq(cli_count("SELECT count(*) FROM jobs"), 20000);
}
END_TEST

/* ---- failures: never acknowledged --------------------------------------- */

START_TEST(test_check_violation_fails_alone)
{
	struct store_new_job ok = job("default", "{}");
	struct store_new_job bad = job("default", "{\"unterminated\":");
	struct store_stats s;
	int64_t a, b, c;
	struct store_job *j;
	sqlite3 *db;

	rec_reset();
	open_default();
	db = lock_db();
	insert_q("default");            /* the writer waits on the lock... */
	usleep(50000);
	a = insert(&ok, 1);             /* ...while these queue up behind */
	b = insert(&bad, 2);
	c = insert(&ok, 3);
	unlock_db(db);
	pump(4);
	ck_assert_int_eq(cb_status[1], 0);
	ck_assert_int_eq(cb_status[2], -EINVAL);
	ck_assert_int_eq(cb_status[3], 0);
	/* The writer, blocked, took the first write (and maybe more) alone;
	 * the rest waited: b shared a transaction with good writes. */
	store_stats(st, &s);
	ck_assert_uint_le(s.transactions, 2);
	ck_assert_uint_eq(s.rollbacks, 0);
	ck_assert_int_eq(store_get(st, b, &j), -ENOENT);
	store_job_free(get(a));
	store_job_free(get(c));
}
END_TEST

static int cb_during_close_rc = 1;

static void
submit_in_close(void *arg, int status)
{
	rec(arg, status);
	cb_during_close_rc = store_insert(st, arg, &(int64_t){ 0 }, rec, NULL);
}

START_TEST(test_check_violation_message)
{
	struct store_new_job bad = job("default", "not json");

	rec_reset();
	open_default();
	insert(&bad, 0);
	store_flush(st);
	ck_assert_int_eq(cb_status[0], -EINVAL);
	/* store_errmsg is the callback's; flush ran it on this thread */
	assert_msg_has(path);
	assert_msg_has("insert job 1");
	assert_msg_has("CHECK constraint failed");
}
END_TEST

START_TEST(test_locked_database)
{
	struct store_opts o = { .path = path, .sync = STORE_SYNC_NORMAL,
		.busy_timeout_ms = 100 };
	double t0;
	sqlite3 *db;

	rec_reset();
	open_opts(&o);
	db = lock_db();
	t0 = co_now();
	insert_q("default");
	pump(1);
	t0 = co_now() - t0;             /* the busy timeout, not less */
	ck_assert_msg(t0 >= 0.1 && t0 < 1.0 * tu_slow(), "waited %.3f s", t0);
	ck_assert_int_eq(cb_status[0], -EBUSY);
	assert_msg_has("locked");
	unlock_db(db);
	insert_q("default");
	pump(2);
	ck_assert_int_eq(cb_status[1], 0);
	ck_assert_int_eq(db_int("SELECT count(*) FROM jobs"), 1);
}
END_TEST

START_TEST(test_disk_full)
{
	struct store_opts o = { .path = path, .sync = STORE_SYNC_NORMAL,
		.max_bytes = 128 * 1024 };
	struct store_new_job j = job("default", NULL);
	char args[1100];
	struct store_job *got;
	struct store_stats s;
	int64_t id[300];
	int nfull = 0;

	snprintf(args, sizeof(args), "{\"pad\":\"%01000d\"}", 0);
	j.args = args;
	rec_reset();
	open_opts(&o);
	for (int i = 0; i < 300; i++)
		id[i] = insert(&j, i);
	pump(300);
	for (int i = 0; i < 300; i++) {
		if (cb_status[i] == 0) {
			store_job_free(get(id[i]));
			continue;
		}
		ck_assert_int_eq(cb_status[i], -ENOSPC);
		ck_assert_int_eq(store_get(st, id[i], &got), -ENOENT);
		nfull++;
	}
	ck_assert_int_gt(nfull, 0);
	store_stats(st, &s);
	ck_assert_uint_gt(s.rollbacks, 0);
	ck_assert_int_eq(db_int("SELECT count(*) FROM jobs"), 300 - nfull);
}
END_TEST

START_TEST(test_deleted_or_replaced_file)
{
	char other[160];

	rec_reset();
	open_default();
	insert_q("default");
	pump(1);
	ck_assert_int_eq(cb_status[0], 0);
	rm_db(path);
	insert_q("default");
	pump(2);
	ck_assert_int_eq(cb_status[1], -ESTALE);
	assert_msg_has("gone");

	snprintf(other, sizeof(other), "%s/other.db", dir);
	write_file(other, "");
	ck_assert_int_eq(rename(other, path), 0);
	insert_q("default");
	pump(3);
	ck_assert_int_eq(cb_status[2], -ESTALE);
	assert_msg_has("replaced");
}
END_TEST

START_TEST(test_read_only_file)
{
	char wal[160];
	int64_t id;

	rec_reset();
	open_default();
	id = insert_q("default");
	pump(1);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	if (!tu_immutable(wal, true)) {
		fprintf(stderr, "test_read_only_file: no immutable files here, "
		    "skipped\n");
		return;
	}
	/* made read-only under the writer: the commit fails, no ack */
	id = insert_q("default");
	pump(2);
	ck_assert_msg(cb_status[1] == -EIO || cb_status[1] == -EPERM,
	    "status %d: %s", cb_status[1], store_errmsg());
	assert_msg_has(path);
	ck_assert_int_eq(store_get(st, id, &(struct store_job *){ NULL }),
	    -ENOENT);
	ck_assert(tu_immutable(wal, false));
	insert_q("default");
	pump(3);
	ck_assert_int_eq(cb_status[2], 0);

	/* read-only at open: refused, not opened read-only */
	store_close(st);
	st = NULL;
	ck_assert(tu_immutable(path, true));
	ck_assert_int_eq(store_open(&st, tu_base, &(struct store_opts){
	    .path = path }), -EROFS);
	assert_msg_has("read-only");
	ck_assert(tu_immutable(path, false));
}
END_TEST

/* Overwrite the pages after the first two of a closed database. */
static void
scribble(void)
{
	char junk[4096];
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	memset(junk, 0xab, sizeof(junk));
	for (off_t off = 2 * 4096; off < 40 * 4096; off += sizeof(junk))
		ck_assert_int_eq(pwrite(fd, junk, sizeof(junk), off),
		    sizeof(junk));
	close(fd);
}

START_TEST(test_corrupt_file)
{
	struct store_new_job j = job("default", NULL);
	struct store_job **jobs;
	char args[300];
	size_t n;
	int rc;

	snprintf(args, sizeof(args), "{\"pad\":\"%0200d\"}", 0);
	j.args = args;
	rec_reset();
	open_default();
	for (int i = 0; i < 1000; i++)
		insert(&j, i);
	store_close(st);                /* checkpointed into the file */
	st = NULL;
	all_ok(0, 1000);
	scribble();
	rc = store_open(&st, tu_base, &(struct store_opts){ .path = path });
	if (rc == 0)                    /* the damage is further in */
		rc = store_list(st, NULL, &jobs, &n);
	ck_assert_msg(rc == -EUCLEAN, "%d: %s", rc, store_errmsg());
	assert_msg_has(path);
	assert_msg_has("malformed");
}
END_TEST

/* ---- close -------------------------------------------------------------- */

START_TEST(test_close_commits_pending)
{
	struct store_new_job j = job("default", "{}");
	int64_t last = 0;

	rec_reset();
	open_default();
	for (int i = 0; i < 1000; i++)
		last = insert(&j, i);
	start(last);
	ck_assert_int_eq(store_insert(st, &j, &last, submit_in_close, &j), 0);
	store_close(st);                /* no loop ran: close delivers */
	st = NULL;
	ck_assert_int_eq(ncb, 1002);
	all_ok(0, 1002);
	ck_assert_int_eq(cb_during_close_rc, -ESHUTDOWN);
	ck_assert_int_eq(db_int("SELECT count(*) FROM jobs"), 1001);
	ck_assert_int_eq(db_int("SELECT count(*) FROM jobs WHERE "
	    "state = 'running'"), 1);
}
END_TEST

START_TEST(test_ids_never_reused)
{
	rec_reset();
	open_default();
	for (int i = 0; i < 5; i++)
		insert_q("default");
	store_close(st);
	st = NULL;
	db_exec("DELETE FROM jobs WHERE id >= 4");
	open_default();
	ck_assert_int_eq(insert_q("default"), 6);
	store_flush(st);
	all_ok(0, 6);
}
END_TEST

/* ---- reads on other threads --------------------------------------------- */

static int64_t committed_max;           /* ids <= it are committed */

static void *
reader(void *arg)
{
	struct store_filter f = { .state = STORE_QUEUED, .limit = 10 };
	struct store_job **jobs, *j;
	size_t n;
	int64_t m;
	long errors = 0;

	(void)arg;
	for (int i = 0; i < 300; i++) {
		m = __atomic_load_n(&committed_max, __ATOMIC_ACQUIRE);
		if (m > 0) {
			errors += store_get(st, m, &j) != 0;
			store_job_free(j);
		}
		errors += store_list(st, &f, &jobs, &n) != 0;
		store_jobs_free(jobs, n);
	}
	return (void *)errors;
}

static void
note_committed(void *arg, int status)
{
	rec(arg, status);
	if (status == 0)
		__atomic_store_n(&committed_max, (int64_t)(intptr_t)arg,
		    __ATOMIC_RELEASE);
}

START_TEST(test_reads_from_threads)
{
	struct store_new_job j = job("default", "{}");
	pthread_t t[2];
	void *errors;
	int64_t id;

	rec_reset();
	open_default();
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, reader, NULL), 0);
	for (int i = 0; i < 3000; i++) {
		ck_assert_int_eq(store_insert(st, &j, &id, note_committed,
		    (void *)(intptr_t)(i + 1)), 0);
		if (i % 100 == 0)
			event_base_loop(tu_base, EVLOOP_NONBLOCK);
	}
	pump(3000);
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], &errors);
		ck_assert_int_eq((intptr_t)errors, 0);
	}
	all_ok(0, 3000);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_migrate_fresh_and_reopen);
	tcase_add_test(tc, test_migrate_from_v1);
	tcase_add_test(tc, test_newer_version_refused);
	tcase_add_test(tc, test_not_a_database);
	tcase_add_test(tc, test_one_store_per_file);
	tcase_add_test(tc, test_roundtrip_every_field);
	tcase_add_test(tc, test_transitions_checked);
	tcase_add_test(tc, test_bad_arguments_never_call_back);
	tcase_add_test(tc, test_list_filters_order_limit);
	tcase_add_test(tc, test_counts);
	tcase_add_test(tc, test_group_all_or_nothing);
	tcase_add_test(tc, test_group_commit_batches);
	tcase_add_test(tc, test_group_commit_natural);
	tcase_add_test(tc, test_batch_max_respected);
	tcase_add_test(tc, test_callbacks_on_loop_thread_in_order);
	tcase_add_test(tc, test_recovery);
	tcase_add_test(tc, test_recovery_callback_stops);
	tcase_add_test(tc, test_acked_writes_survive_sigkill);
	tcase_add_test(tc, test_cli_reads_while_writing);
	tcase_add_test(tc, test_check_violation_fails_alone);
	tcase_add_test(tc, test_check_violation_message);
	tcase_add_test(tc, test_locked_database);
	tcase_add_test(tc, test_disk_full);
	tcase_add_test(tc, test_deleted_or_replaced_file);
	tcase_add_test(tc, test_read_only_file);
	tcase_add_test(tc, test_corrupt_file);
	tcase_add_test(tc, test_close_commits_pending);
	tcase_add_test(tc, test_ids_never_reused);
	tcase_add_test(tc, test_reads_from_threads);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	log_init("test_store", LOG_LVL_WARNING);
	return tu_main(store_suite());
}
