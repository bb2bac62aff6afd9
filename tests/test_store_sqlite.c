/*
 * test_store_sqlite.c — what only the SQLite backend has: the file (its
 * schema and migrations, WAL, application_id, the flock), the sqlite3 shell
 * reading while the writer writes, group commit held up by a lock from
 * another connection, and the file's failures (locked, full, deleted,
 * read-only, corrupt) that must never be acknowledged.  The rest of the
 * store is checked for every backend by test_store.c.
 *
 * The test peeks at the file with its own SQLite connections, as a user
 * with the sqlite3 shell would (ts_db_int, db_str, db_exec).
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
#include "store_sqlite.h"       /* the SQL whose plans are checked */
#include "testutil.h"
#include "tu_store.h"

extern char **environ;

/* ---- peeking at the file ------------------------------------------------ */

static void
db_str(const char *sql, char *buf, size_t len)
{
	sqlite3 *db;
	sqlite3_stmt *s;

	buf[0] = '\0';
	ck_assert_int_eq(sqlite3_open(ts_path, &db), SQLITE_OK);
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

	ck_assert_int_eq(sqlite3_open(ts_path, &db), SQLITE_OK);
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

/* ---- schema and migrations ---------------------------------------------- */

START_TEST(test_migrate_fresh_and_reopen)
{
	int64_t id, objects;
	char mode[16];
	struct store_job *j;

	ts_rec_reset();
	ts_open_default();
	id = ts_insert_q("default");
	store_flush(ts_st);
	ck_assert_int_eq(ts_cb_status[0], 0);
	ck_assert_int_eq(ts_db_int("PRAGMA user_version"), 6);
	ck_assert_int_eq(ts_db_int("PRAGMA application_id"), 0x6a6f6264);
	db_str("PRAGMA journal_mode", mode, sizeof(mode));
	ck_assert_str_eq(mode, "wal");
	ck_assert_int_eq(ts_db_int("SELECT count(*) FROM sqlite_schema WHERE "
	    "name IN ('jobs', 'groups', 'meta', 'jobs_state_queue', "
	    "'jobs_group', 'jobs_submitter')"), 6);
	objects = ts_db_int("SELECT count(*) FROM sqlite_schema");
	ts_reopen();                       /* migrations again: nothing to do */
	ck_assert_int_eq(ts_db_int("PRAGMA user_version"), 6);
	ck_assert_int_eq(ts_db_int("SELECT count(*) FROM sqlite_schema"), objects);
	j = ts_get(id);
	ck_assert_str_eq(j->queue, "default");
	store_job_free(j);
	ck_assert_int_eq(ts_insert_q("default"), id + 1);
	store_flush(ts_st);
	ts_all_ok(0, 2);
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
 * (recovery, ends).  The version-1 file is made by undoing migrations 3
 * and 2 by hand on a fresh one: dropping the index and the columns leaves
 * the version-1 table. */
START_TEST(test_migrate_from_v1)
{
	struct store_new_job n = ts_job("default", "{}");
	char fresh[256], cols[256];
	struct store_job *j;
	int64_t a, b, c;
	int nrec = 0;

	ts_rec_reset();
	ts_open_default();
	jobs_columns(fresh, sizeof(fresh));
	a = ts_insert_q("default");
	b = ts_insert_q("default");
	ts_start(b);                       /* running when "v1 jobd" died */
	store_flush(ts_st);
	store_close(ts_st);
	ts_st = NULL;
	db_exec("DROP INDEX jobs_submitter;"
	    "ALTER TABLE jobs DROP COLUMN submit_uid;"
	    "ALTER TABLE jobs DROP COLUMN submit_gid;"
	    "ALTER TABLE jobs DROP COLUMN submit_pid;"
	    "PRAGMA user_version = 1");
	jobs_columns(cols, sizeof(cols));
	ck_assert_ptr_null(strstr(cols, "submit_"));

	ts_open_default();
	ck_assert_int_eq(ts_db_int("PRAGMA user_version"), 6);
	ck_assert_int_eq(ts_db_int("SELECT count(*) FROM sqlite_schema WHERE "
	    "name = 'jobs_submitter'"), 1);
	jobs_columns(cols, sizeof(cols));
	ck_assert_str_eq(cols, fresh);  /* as if created at version 4 */
	ck_assert_int_eq(ts_db_int("SELECT count(*) FROM jobs WHERE "
	    "submit_uid IS NULL AND submit_gid IS NULL AND submit_pid IS "
	    "NULL"), 2);
	ck_assert_int_eq(store_recover(ts_st, take_v1, &nrec, NULL), 0);
	ck_assert_int_eq(nrec, 2);
	j = ts_get(b);
	ck_assert_int_eq(j->state, STORE_QUEUED);
	ck_assert(!j->submitter.known);
	store_job_free(j);
	n.submitter = (struct store_submitter){ true, 1001, 1002, 4242 };
	ts_rec_reset();
	c = ts_insert(&n, 0);
	ts_end(a, STORE_CANCELLED, NULL, NULL, "old row");
	store_flush(ts_st);
	ck_assert_int_eq(ts_ncb, 2);
	ts_all_ok(0, 2);
	j = ts_get(c);
	ck_assert(j->submitter.known && j->submitter.uid == 1001 &&
	    j->submitter.gid == 1002 && j->submitter.pid == 4242);
	store_job_free(j);
	ck_assert_int_eq(ts_db_int("SELECT count(*) FROM jobs WHERE "
	    "submit_uid IS NULL"), 2);
}
END_TEST

/* ---- visibility: one user's jobs ----------------------------------------- */

/* The release after each end finds a job's waiting dependants through
 * job_deps_on, then each by its primary key: no scan, whatever the size
 * (the SQL is store_sqlite_deps.c's own, SQ_SQL_DEPENDANTS), and
 * releases each in one UPDATE by its key (SQ_SQL_FIRE).  So do the
 * pruner's test for a live dependant and recovery's repair. */
START_TEST(test_deps_plans)
{
	char plan[1024];

	ts_rec_reset();
	ts_open_default();
	ts_db_plan(SQ_SQL_DEPENDANTS, plan, sizeof(plan));
	ck_assert_msg(strstr(plan, "USING COVERING INDEX job_deps_on "
	    "(depends_on=?)") != NULL, "%s", plan);
	ck_assert_msg(strstr(plan, "USING INTEGER PRIMARY KEY (rowid=?)") !=
	    NULL, "%s", plan);
	ck_assert_msg(strstr(plan, "SCAN") == NULL, "%s", plan);
	ts_db_plan(SQ_SQL_PRUNE_IDS, plan, sizeof(plan));
	ck_assert_msg(strstr(plan, "job_deps_on") != NULL, "%s", plan);
	/* each released dependant: one UPDATE by its key */
	ts_db_plan(SQ_SQL_FIRE, plan, sizeof(plan));
	ck_assert_msg(strstr(plan, "USING INTEGER PRIMARY KEY (rowid=?)") !=
	    NULL, "%s", plan);
	ck_assert_msg(strstr(plan, "SCAN") == NULL, "%s", plan);
}
END_TEST

/* n jobs of uid (known false: none recorded) in queue; the first id. */
static int64_t
insert_as(bool known, uid_t uid, const char *queue, int n)
{
	struct store_new_job j = ts_job(queue, "{}");
	int64_t first = 0, id;

	j.submitter = (struct store_submitter){ known, uid, uid, 7 };
	for (int i = 0; i < n; i++)
		if ((id = ts_insert(&j, 0)) > 0 && first == 0)
			first = id;
	return first;
}

static size_t
list_of(uid_t uid, int state, const char *queue, size_t limit,
    int64_t before, int64_t *ids)
{
	struct store_filter f = { .state = state, .queue = queue,
	    .limit = limit, .before_id = before, .by_uid = true, .uid = uid };
	struct store_job **jobs;
	size_t n, i;

	ck_assert_int_eq(store_list(ts_st, &f, &jobs, &n), 0);
	for (i = 0; i < n; i++) {
		ck_assert(jobs[i]->submitter.known);
		ck_assert_uint_eq(jobs[i]->submitter.uid, uid);
		ck_assert(i == 0 || jobs[i]->id < jobs[i - 1]->id);
		ids[i] = jobs[i]->id;
	}
	store_jobs_free(jobs, n);
	return n;
}

/* list with by_uid returns that user's jobs only, newest first, with the
 * state, queue, limit and paging filters; its plan is a search of the
 * user's range of jobs_submitter read backwards (no scan of jobs, no
 * sort), and a group's read, which names its submitter, is index probes
 * only.  A user's list thus never reads another user's rows. */
START_TEST(test_list_own_jobs)
{
	struct store_new_job g[2] = { ts_job("a", "{}"), ts_job("a", "{}") };
	int64_t a, b, ids[16], gid, gids[2];
	struct store_group sg;
	char plan[1024];

	ts_rec_reset();
	ts_open_default();
	a = insert_as(true, 1001, "a", 3);      /* a .. a+2 */
	b = insert_as(true, 1002, "a", 2);
	insert_as(false, 0, "a", 2);            /* nobody's */
	insert_as(true, 1001, "b", 2);          /* b + 2, b + 3 */
	ts_start(a);
	ts_end(a + 1, STORE_CANCELLED, NULL, NULL, "x");
	g[0].submitter = g[1].submitter =
	    (struct store_submitter){ true, 1002, 1002, 8 };
	ck_assert_int_eq(store_insert_group(ts_st, STORE_GROUP_ALL, g, 2,
	    &gid, gids, ts_rec, NULL), 0);
	store_flush(ts_st);
	ts_all_ok(0, ts_ncb);

	ck_assert_uint_eq(list_of(1001, STORE_ANY_STATE, NULL, 0, 0, ids), 5);
	ck_assert_int_eq(ids[0], b + 5);
	ck_assert_int_eq(ids[4], a);
	ck_assert_uint_eq(list_of(1002, STORE_ANY_STATE, NULL, 0, 0, ids), 4);
	ck_assert_uint_eq(list_of(1003, STORE_ANY_STATE, NULL, 0, 0, ids), 0);
	ck_assert_uint_eq(list_of(1001, STORE_RUNNING, NULL, 0, 0, ids), 1);
	ck_assert_int_eq(ids[0], a);
	ck_assert_uint_eq(list_of(1001, STORE_QUEUED, "a", 0, 0, ids), 1);
	ck_assert_int_eq(ids[0], a + 2);
	ck_assert_uint_eq(list_of(1001, STORE_ANY_STATE, "b", 0, 0, ids), 2);
	ck_assert_uint_eq(list_of(1001, STORE_CANCELLED, "b", 0, 0, ids), 0);
	ck_assert_uint_eq(list_of(1001, STORE_ANY_STATE, NULL, 2, 0, ids), 2);
	ck_assert_int_eq(ids[1], b + 4);
	ck_assert_uint_eq(list_of(1001, STORE_ANY_STATE, NULL, 0, b + 4, ids),
	    3);
	ck_assert_int_eq(ids[0], a + 2);

	ts_db_plan(SQ_LIST_UID_SQL, plan, sizeof(plan));
	ck_assert_msg(strstr(plan, "SEARCH jobs USING INDEX jobs_submitter "
	    "(submit_uid=? AND rowid<?)") != NULL && strstr(plan, "SCAN") ==
	    NULL && strstr(plan, "TEMP B-TREE") == NULL, "plan: %s", plan);

	ck_assert_int_eq(store_group_get(ts_st, gid, &sg), 0);
	ck_assert(sg.submitter.known && sg.submitter.uid == 1002 &&
	    sg.submitter.pid == 8);
	ts_db_plan(SQ_GROUP_SQL, plan, sizeof(plan));
	ck_assert_msg(strstr(plan, "SCAN") == NULL && strstr(plan,
	    "jobs_group") != NULL && strstr(plan, "TEMP B-TREE") == NULL,
	    "plan: %s", plan);
}
END_TEST

START_TEST(test_newer_version_refused)
{
	ts_open_default();
	store_close(ts_st);
	ts_st = NULL;
	db_exec("PRAGMA user_version = 99");
	ck_assert_int_eq(store_open(&ts_st, tu_base, &(struct store_opts){
	    .path = ts_path }), -ENOTSUP);
	ck_assert_ptr_null(ts_st);
	ts_assert_msg_has(ts_path);
	ts_assert_msg_has("version 99");
	ck_assert_int_eq(ts_db_int("PRAGMA user_version"), 99);
}
END_TEST

START_TEST(test_not_a_database)
{
	struct store_opts o = { .path = ts_path };
	char missing[160];

	write_file(ts_path, "this is not an SQLite database, just text that is "
	    "long enough to fill a header.................................\n");
	ck_assert_int_eq(store_open(&ts_st, tu_base, &o), -EBADMSG);
	ts_assert_msg_has(ts_path);
	ts_assert_msg_has("not a database");
	ts_rm_db(ts_path);

	db_exec("CREATE TABLE t (x)");  /* someone else's database */
	ck_assert_int_eq(store_open(&ts_st, tu_base, &o), -EBADMSG);
	ts_assert_msg_has("not a jobd database");
	ck_assert_int_eq(ts_db_int("SELECT count(*) FROM sqlite_schema"), 1);
	ts_rm_db(ts_path);

	snprintf(missing, sizeof(missing), "%s/no/such/ts_dir.db", ts_dir);
	o.path = missing;
	ck_assert_int_eq(store_open(&ts_st, tu_base, &o), -ENOENT);
	ts_assert_msg_has(missing);
	o.path = NULL;
	ck_assert_int_eq(store_open(&ts_st, tu_base, &o), -EINVAL);
	ck_assert_ptr_null(ts_st);
}
END_TEST

START_TEST(test_one_store_per_file)
{
	struct store *other = NULL;

	ts_open_default();
	ck_assert_int_eq(store_open(&other, tu_base, &(struct store_opts){
	    .path = ts_path }), -EBUSY);
	ts_assert_msg_has("in use");
	ck_assert_ptr_null(other);
}
END_TEST

/* ---- group commit and callbacks ----------------------------------------- */

/* Hold the write lock from a connection of our own. */
static sqlite3 *
lock_db(void)
{
	sqlite3 *db;

	ck_assert_int_eq(sqlite3_open(ts_path, &db), SQLITE_OK);
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
	struct store_opts o = { .path = ts_path, .sync = STORE_SYNC_FULL,
		.busy_timeout_ms = 60000 };
	struct store_new_job j = ts_job("default", "{\"seconds\":1}");
	struct store_stats s;
	int64_t first = 0, id;
	sqlite3 *db;

	ts_rec_reset();
	ts_open_opts(&o);
	db = lock_db();
	for (int i = 0; i < 10000; i++) {
		id = ts_insert(&j, i);
		if (i == 0)
			first = id;
		ck_assert_int_eq(id, first + i);
	}
	unlock_db(db);
	ts_pump(10000);
	ts_all_ok(0, 10000);
	store_stats(ts_st, &s);
	ck_assert_uint_eq(s.submitted, 10000);
	ck_assert_uint_eq(s.committed, 10000);
	ck_assert_msg(s.transactions <= 3, "%llu transactions for 10000 "
	    "inserts", (unsigned long long)s.transactions);
	ck_assert_uint_ge(s.batch_largest, 5000);
	ck_assert_uint_eq(s.pending, 0);
	ck_assert_int_eq(ts_db_int("SELECT count(*) FROM jobs"), 10000);
}
END_TEST

/* The same without help: a burst still commits in far fewer
 * transactions than writes. */
/* ---- the sqlite3 shell while the writer writes -------------------------- */

/* Run `sqlite3 PATH sql` and return what it printed as a number. */
static long
cli_count(const char *sql)
{
	char *argv[] = { "sqlite3", ts_path, (char *)sql, NULL };
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
	struct store_opts o = { .path = ts_path, .sync = STORE_SYNC_FULL,
		.batch_max = 500 };
	struct store_new_job j = ts_job("default", "{\"seconds\":0}");
	struct store_stats s;
	long seen = 0, c;
	int busy = 0;

	ts_rec_reset();
	ts_open_opts(&o);
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < 4000; i++)
			ts_insert(&j, 0);
		store_stats(ts_st, &s);
		busy += s.pending > 0;
		c = cli_count("SELECT count(*) FROM jobs");
		ck_assert(c >= seen && c <= (round + 1) * 4000);
		seen = c;
	}
	ck_assert_int_gt(busy, 0);      /* the shell ran during writes */
	ts_pump(20000);
	ts_all_ok(0, 20000);
	ck_assert_int_eq(cli_count("SELECT count(*) FROM jobs"), 20000);
}
END_TEST

/* ---- failures: never acknowledged --------------------------------------- */

START_TEST(test_check_violation_fails_alone)
{
	struct store_new_job ok = ts_job("default", "{}");
	struct store_new_job bad = ts_job("default", "{\"unterminated\":");
	struct store_stats s;
	int64_t a, b, c;
	struct store_job *j;
	sqlite3 *db;

	ts_rec_reset();
	ts_open_default();
	db = lock_db();
	ts_insert_q("default");            /* the writer waits on the lock... */
	usleep(50000);
	a = ts_insert(&ok, 1);             /* ...while these queue up behind */
	b = ts_insert(&bad, 2);
	c = ts_insert(&ok, 3);
	unlock_db(db);
	ts_pump(4);
	ck_assert_int_eq(ts_cb_status[1], 0);
	ck_assert_int_eq(ts_cb_status[2], -EINVAL);
	ck_assert_int_eq(ts_cb_status[3], 0);
	/* The writer, blocked, took the first write (and maybe more) alone;
	 * the rest waited: b shared a transaction with good writes. */
	store_stats(ts_st, &s);
	ck_assert_uint_le(s.transactions, 2);
	ck_assert_uint_eq(s.rollbacks, 0);
	ck_assert_int_eq(store_get(ts_st, b, &j), -ENOENT);
	store_job_free(ts_get(a));
	store_job_free(ts_get(c));
}
END_TEST

START_TEST(test_locked_database)
{
	struct store_opts o = { .path = ts_path, .sync = STORE_SYNC_NORMAL,
		.busy_timeout_ms = 100 };
	double t0;
	sqlite3 *db;

	ts_rec_reset();
	ts_open_opts(&o);
	db = lock_db();
	t0 = co_now();
	ts_insert_q("default");
	ts_pump(1);
	t0 = co_now() - t0;             /* the busy timeout, not less */
	ck_assert_msg(t0 >= 0.1 && t0 < 1.0 * tu_slow(), "waited %.3f s", t0);
	ck_assert_int_eq(ts_cb_status[0], -EBUSY);
	ts_assert_msg_has("locked");
	unlock_db(db);
	ts_insert_q("default");
	ts_pump(2);
	ck_assert_int_eq(ts_cb_status[1], 0);
	ck_assert_int_eq(ts_db_int("SELECT count(*) FROM jobs"), 1);
}
END_TEST

START_TEST(test_disk_full)
{
	struct store_opts o = { .path = ts_path, .sync = STORE_SYNC_NORMAL,
		.max_bytes = 128 * 1024 };
	struct store_new_job j = ts_job("default", NULL);
	char args[1100];
	struct store_job *got;
	struct store_stats s;
	int64_t id[300];
	int nfull = 0;

	snprintf(args, sizeof(args), "{\"pad\":\"%01000d\"}", 0);
	j.args = args;
	ts_rec_reset();
	ts_open_opts(&o);
	for (int i = 0; i < 300; i++)
		id[i] = ts_insert(&j, i);
	ts_pump(300);
	for (int i = 0; i < 300; i++) {
		if (ts_cb_status[i] == 0) {
			store_job_free(ts_get(id[i]));
			continue;
		}
		ck_assert_int_eq(ts_cb_status[i], -ENOSPC);
		ck_assert_int_eq(store_get(ts_st, id[i], &got), -ENOENT);
		nfull++;
	}
	ck_assert_int_gt(nfull, 0);
	store_stats(ts_st, &s);
	ck_assert_uint_gt(s.rollbacks, 0);
	ck_assert_int_eq(ts_db_int("SELECT count(*) FROM jobs"), 300 - nfull);
}
END_TEST

START_TEST(test_deleted_or_replaced_file)
{
	char other[160];

	ts_rec_reset();
	ts_open_default();
	ts_insert_q("default");
	ts_pump(1);
	ck_assert_int_eq(ts_cb_status[0], 0);
	ts_rm_db(ts_path);
	ts_insert_q("default");
	ts_pump(2);
	ck_assert_int_eq(ts_cb_status[1], -ESTALE);
	ts_assert_msg_has("gone");

	snprintf(other, sizeof(other), "%s/other.db", ts_dir);
	write_file(other, "");
	ck_assert_int_eq(rename(other, ts_path), 0);
	ts_insert_q("default");
	ts_pump(3);
	ck_assert_int_eq(ts_cb_status[2], -ESTALE);
	ts_assert_msg_has("replaced");
}
END_TEST

START_TEST(test_read_only_file)
{
	char wal[160];
	int64_t id;

	ts_rec_reset();
	ts_open_default();
	id = ts_insert_q("default");
	ts_pump(1);
	snprintf(wal, sizeof(wal), "%s-wal", ts_path);
	if (!tu_immutable(wal, true)) {
		fprintf(stderr, "test_read_only_file: no immutable files here, "
		    "skipped\n");
		return;
	}
	/* made read-only under the writer: the commit fails, no ack */
	id = ts_insert_q("default");
	ts_pump(2);
	ck_assert_msg(ts_cb_status[1] == -EIO || ts_cb_status[1] == -EPERM,
	    "status %d: %s", ts_cb_status[1], store_errmsg());
	ts_assert_msg_has(ts_path);
	ck_assert_int_eq(store_get(ts_st, id, &(struct store_job *){ NULL }),
	    -ENOENT);
	ck_assert(tu_immutable(wal, false));
	ts_insert_q("default");
	ts_pump(3);
	ck_assert_int_eq(ts_cb_status[2], 0);

	/* read-only at open: refused, not opened read-only */
	store_close(ts_st);
	ts_st = NULL;
	ck_assert(tu_immutable(ts_path, true));
	ck_assert_int_eq(store_open(&ts_st, tu_base, &(struct store_opts){
	    .path = ts_path }), -EROFS);
	ts_assert_msg_has("read-only");
	ck_assert(tu_immutable(ts_path, false));
}
END_TEST

/* Overwrite the pages after the first two of a closed database. */
static void
scribble(void)
{
	char junk[4096];
	int fd = open(ts_path, O_WRONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	memset(junk, 0xab, sizeof(junk));
	for (off_t off = 2 * 4096; off < 40 * 4096; off += sizeof(junk))
		ck_assert_int_eq(pwrite(fd, junk, sizeof(junk), off),
		    sizeof(junk));
	close(fd);
}

START_TEST(test_corrupt_file)
{
	struct store_new_job j = ts_job("default", NULL);
	struct store_job **jobs;
	char args[300];
	size_t n;
	int rc;

	snprintf(args, sizeof(args), "{\"pad\":\"%0200d\"}", 0);
	j.args = args;
	ts_rec_reset();
	ts_open_default();
	for (int i = 0; i < 1000; i++)
		ts_insert(&j, i);
	store_close(ts_st);                /* checkpointed into the file */
	ts_st = NULL;
	ts_all_ok(0, 1000);
	scribble();
	rc = store_open(&ts_st, tu_base, &(struct store_opts){ .path = ts_path });
	if (rc == 0)                    /* the damage is further in */
		rc = store_list(ts_st, NULL, &jobs, &n);
	ck_assert_msg(rc == -EUCLEAN, "%d: %s", rc, store_errmsg());
	ts_assert_msg_has(ts_path);
	ts_assert_msg_has("malformed");
}
END_TEST

/* ---- ids ---------------------------------------------------------------- */

START_TEST(test_ids_never_reused)
{
	ts_rec_reset();
	ts_open_default();
	for (int i = 0; i < 5; i++)
		ts_insert_q("default");
	store_close(ts_st);
	ts_st = NULL;
	db_exec("DELETE FROM jobs WHERE id >= 4");
	ts_open_default();
	ck_assert_int_eq(ts_insert_q("default"), 6);
	store_flush(ts_st);
	ts_all_ok(0, 6);
}
END_TEST

/* Ids come in blocks (STORE_ID_BLOCK) from the backend; SQLite's blocks
 * follow each other, so ids stay consecutive across blocks and past a group
 * larger than one, and a reopen goes on after the last committed row. */
START_TEST(test_ids_consecutive_across_blocks)
{
	enum { N1 = 1000, NG = 2500, N2 = 100 };
	static struct store_new_job jobs[NG];
	static int64_t ids[NG];
	int64_t gid, id;

	ts_rec_reset();
	ts_open_default();
	for (int i = 0; i < N1; i++)
		ck_assert_int_eq(ts_insert_q("default"), i + 1);
	for (int i = 0; i < NG; i++)
		jobs[i] = ts_job("default", "{}");
	ck_assert_int_eq(store_insert_group(ts_st, STORE_GROUP_ALL, jobs, NG,
	    &gid, ids, ts_rec, NULL), 0);
	ck_assert_int_eq(gid, 1);
	for (int i = 0; i < NG; i++)
		ck_assert_int_eq(ids[i], N1 + 1 + i);
	for (int i = 0; i < N2; i++)
		ck_assert_int_eq(ts_insert_q("default"), N1 + NG + 1 + i);
	store_flush(ts_st);
	ts_all_ok(0, N1 + 1 + N2);
	ck_assert_int_eq(ts_db_int("SELECT max(id) FROM jobs"), N1 + NG + N2);
	ts_reopen();
	id = ts_insert_q("default");
	ck_assert_int_eq(id, N1 + NG + N2 + 1);
	ck_assert_int_eq(store_insert_group(ts_st, STORE_GROUP_ALL, jobs, 1,
	    &gid, ids, ts_rec, NULL), 0);
	ck_assert_int_eq(gid, 2);
	ck_assert_int_eq(ids[0], id + 1);
	store_flush(ts_st);
}
END_TEST

/* ---- what the sqlite3 shell sees ---------------------------------------- */

/* The columns a user reads with the sqlite3 shell: JSON queryable, the
 * types SCHEMA.md gives, NULL where nothing was given. */
START_TEST(test_columns_as_the_shell_sees_them)
{
	struct store_new_job n = ts_job_full();
	struct store_new_job bare = ts_job("default", "{}");
	int64_t a;

	ts_rec_reset();
	ts_open_default();
	a = ts_insert(&n, 1);
	ts_insert(&bare, 2);
	ck_assert_int_eq(store_mark_started(ts_st, a, 1700000001.5, ts_rec,
	    NULL), 0);
	ts_end(a, STORE_FAILED, "{\"exit_code\":1,\"stdout\":\"hi\\n\"}",
	    "exit code 1", "because");
	store_flush(ts_st);
	ts_all_ok(0, 4);
	ck_assert_int_eq(ts_db_int("SELECT json_extract(args, '$.n') FROM jobs "
	    "WHERE name = 'label'"), 2);
	ck_assert_int_eq(ts_db_int("SELECT json_extract(result, '$.exit_code') "
	    "FROM jobs WHERE name = 'label'"), 1);
	ck_assert_int_eq(ts_db_int("SELECT count(*) FROM jobs WHERE "
	    "typeof(created_at) = 'real' AND typeof(args) = 'text' AND "
	    "typeof(started_at) = 'real' AND typeof(finished_at) = 'real'"), 1);
	ck_assert_int_eq(ts_db_int("SELECT count(*) FROM jobs WHERE name IS NULL "
	    "AND started_at IS NULL AND finished_at IS NULL AND result IS NULL "
	    "AND error IS NULL AND cancel_reason IS NULL AND group_id IS NULL "
	    "AND submit_uid IS NULL AND submit_pid IS NULL"), 1);
	ck_assert_int_eq(ts_db_int("SELECT count(*) FROM jobs WHERE "
	    "typeof(submit_uid) = 'integer' AND submit_uid = 0 AND "
	    "submit_gid = 0 AND submit_pid = 1"), 1);
}
END_TEST

/* SQLite's own words reach the callback's store_errmsg. */
START_TEST(test_check_violation_message)
{
	struct store_new_job bad = ts_job("default", "not json");

	ts_rec_reset();
	ts_open_default();
	ts_insert(&bad, 0);
	store_flush(ts_st);
	ck_assert_int_eq(ts_cb_status[0], -EINVAL);
	/* store_errmsg is the callback's; flush ran it on this thread */
	ts_assert_msg_has(ts_path);
	ts_assert_msg_has("insert job 1");
	ts_assert_msg_has("CHECK constraint failed");
}
END_TEST

static Suite *
store_sqlite_suite(void)
{
	Suite *s = suite_create("store_sqlite");
	TCase *tc = tcase_create("store_sqlite");

	tcase_add_checked_fixture(tc, ts_setup, ts_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_migrate_fresh_and_reopen);
	tcase_add_test(tc, test_migrate_from_v1);
	tcase_add_test(tc, test_list_own_jobs);
	tcase_add_test(tc, test_newer_version_refused);
	tcase_add_test(tc, test_not_a_database);
	tcase_add_test(tc, test_one_store_per_file);
	tcase_add_test(tc, test_group_commit_batches);
	tcase_add_test(tc, test_cli_reads_while_writing);
	tcase_add_test(tc, test_check_violation_fails_alone);
	tcase_add_test(tc, test_locked_database);
	tcase_add_test(tc, test_disk_full);
	tcase_add_test(tc, test_deleted_or_replaced_file);
	tcase_add_test(tc, test_read_only_file);
	tcase_add_test(tc, test_corrupt_file);
	tcase_add_test(tc, test_ids_never_reused);
	tcase_add_test(tc, test_ids_consecutive_across_blocks);
	tcase_add_test(tc, test_columns_as_the_shell_sees_them);
	tcase_add_test(tc, test_check_violation_message);
	tcase_add_test(tc, test_deps_plans);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	log_init("test_store_sqlite", LOG_LVL_WARNING);
	ts_backend = "sqlite";
	return tu_main(store_sqlite_suite());
}
