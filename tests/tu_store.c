/*
 * tu_store.c — the store suites' fixture (see tu_store.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "testutil.h"
#include "tu_pg.h"
#include "tu_store.h"

const char *ts_backend = STORE_BACKEND_DEFAULT;
char ts_dir[64];
char ts_path[128];
struct store *ts_st;

int ts_ncb;
int ts_cb_status[TS_MAXCB];
intptr_t ts_cb_tag[TS_MAXCB];
int ts_cb_off_loop;
static pthread_t ts_loop_thread;

/* ---- fixture ------------------------------------------------------------ */

void
ts_rm_db(const char *p)
{
	char buf[256];

	unlink(p);
	snprintf(buf, sizeof(buf), "%s-wal", p);
	unlink(buf);
	snprintf(buf, sizeof(buf), "%s-shm", p);
	unlink(buf);
}

void
ts_setup(void)
{
	tu_setup();
	strcpy(ts_dir, "/tmp/test_store.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(ts_dir));
	snprintf(ts_path, sizeof(ts_path), "%s/jobs.db", ts_dir);
	/* PostgreSQL: a fresh database of the suite's cluster (main started
	 * it: ts_backend_init). */
	if (strcmp(ts_backend, "postgresql") == 0)
		tu_pg_newdb(ts_path, sizeof(ts_path));
	ts_st = NULL;
}

void
ts_teardown(void)
{
	char other[160];

	snprintf(other, sizeof(other), "%s-wal", ts_path);
	tu_immutable(other, false);
	tu_immutable(ts_path, false);
	store_close(ts_st);
	ts_st = NULL;
	ts_rm_db(ts_path);
	snprintf(other, sizeof(other), "%s/other.db", ts_dir);
	ts_rm_db(other);
	rmdir(ts_dir);
	tu_teardown();
}

int
ts_backend_init(const char *backend)
{
	ts_backend = backend;
	if (strcmp(backend, "postgresql") == 0 && tu_pg_start() < 0) {
		fprintf(stderr, "the postgresql store cannot be tested: "
		    "PostgreSQL did not start (above)\n");
		return -1;
	}
	return 0;
}

int
ts_main(int argc, char **argv, const char *prog,
    Suite *(*suite)(const char *backend))
{
	const char *name = argc > 1 ? argv[1] : STORE_BACKEND_DEFAULT;
	bool built = false;
	const char *b;
	int rc;

	log_init(prog, LOG_LVL_WARNING);
	for (size_t i = 0; (b = store_backend_name(i, NULL)) != NULL; i++)
		if (strcmp(b, name) == 0)
			(void)store_backend_name(i, &built);
	if (!built) {
		fprintf(stderr, "%s: no built backend \"%s\"\n", prog, name);
		return EXIT_FAILURE;
	}
	if (ts_backend_init(name) < 0)
		return EXIT_FAILURE;
	rc = tu_main(suite(name));
	tu_pg_stop();
	return rc;
}

/* ---- callbacks ---------------------------------------------------------- */

void
ts_rec(void *arg, int status)
{
	if (!pthread_equal(pthread_self(), ts_loop_thread))
		ts_cb_off_loop++;
	if (ts_ncb < TS_MAXCB) {
		ts_cb_tag[ts_ncb] = (intptr_t)arg;
		ts_cb_status[ts_ncb] = status;
	}
	ts_ncb++;
}

void
ts_rec_reset(void)
{
	ts_ncb = 0;
	ts_cb_off_loop = 0;
	ts_loop_thread = pthread_self();
}

void
ts_pump(int n)
{
	double end = co_now() + 10 * tu_slow();

	while (ts_ncb < n) {
		ck_assert_msg(co_now() < end, "%d of %d callbacks", ts_ncb, n);
		event_base_loop(tu_base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		if (ts_ncb < n)
			usleep(200);
	}
}

/* ---- opening ------------------------------------------------------------ */

struct store_opts
ts_opts(void)
{
	struct store_opts o = { .backend = ts_backend, .path = ts_path,
		.sync = STORE_SYNC_NORMAL };

	return o;
}

void
ts_open_opts(const struct store_opts *o)
{
	int rc = store_open(&ts_st, tu_base, o);

	ck_assert_msg(rc == 0, "store_open: %d %s", rc, store_errmsg());
}

void
ts_open_default(void)
{
	struct store_opts o = ts_opts();

	ts_open_opts(&o);
}

void
ts_reopen(void)
{
	store_close(ts_st);
	ts_st = NULL;
	ts_open_default();
}

/* ---- writes and reads --------------------------------------------------- */

struct store_new_job
ts_job(const char *queue, const char *args)
{
	struct store_new_job j = { .queue = queue, .kind = "sleep",
		.args = args, .max_attempts = 3 };

	return j;
}

struct store_new_job
ts_job_full(void)
{
	struct store_new_job j = { .queue = "q1", .kind = "exec",
		.args = "{\"argv\":[\"echo\",\"hi\"],\"n\":2}",
		.name = "label", .timeout = 2.5, .max_attempts = 5,
		.created_at = 1700000000.25,
		.submitter = { true, 0, 0, 1 } };    /* root, pid 1 */

	return j;
}

int64_t
ts_insert(const struct store_new_job *j, intptr_t tag)
{
	int64_t id = 0;
	int rc = store_insert(ts_st, j, &id, ts_rec, (void *)tag);

	ck_assert_msg(rc == 0, "store_insert: %d %s", rc, store_errmsg());
	return id;
}

int64_t
ts_insert_q(const char *queue)
{
	struct store_new_job j = ts_job(queue, "{}");

	return ts_insert(&j, 0);
}

void
ts_start(int64_t id)
{
	ck_assert_int_eq(store_mark_started(ts_st, id, 0, ts_rec, (void *)id),
	    0);
}

void
ts_end(int64_t id, enum store_state s, const char *result, const char *error,
    const char *reason)
{
	struct store_end e = { .state = s, .result = result, .error = error,
		.cancel_reason = reason };

	ck_assert_int_eq(store_mark_ended(ts_st, id, &e, ts_rec, (void *)id),
	    0);
}

struct store_job *
ts_get(int64_t id)
{
	struct store_job *j = NULL;
	int rc = store_get(ts_st, id, &j);

	ck_assert_msg(rc == 0, "store_get %lld: %d %s", (long long)id, rc,
	    store_errmsg());
	return j;
}

void
ts_all_ok(int from, int to)
{
	for (int i = from; i < to; i++)
		ck_assert_msg(ts_cb_status[i] == 0, "callback %d: %d", i,
		    ts_cb_status[i]);
}

void
ts_assert_msg_has(const char *what)
{
	ck_assert_msg(strstr(store_errmsg(), what) != NULL,
	    "message \"%s\" lacks \"%s\"", store_errmsg(), what);
}

int64_t
ts_count(int state, const char *queue)
{
	struct store_filter f = { .state = state, .queue = queue,
		.limit = STORE_LIST_MAX };
	struct store_job **jobs;
	size_t n;
	int64_t total = 0;
	int rc;

	do {
		rc = store_list(ts_st, &f, &jobs, &n);
		ck_assert_msg(rc == 0, "store_list: %d %s", rc,
		    store_errmsg());
		total += (int64_t)n;
		if (n > 0)
			f.before_id = jobs[n - 1]->id;
		store_jobs_free(jobs, n);
	} while (n == STORE_LIST_MAX);
	return total;
}

int64_t
ts_db_int(const char *sql)
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

void
ts_db_plan(const char *sql, char *buf, size_t len)
{
	char q[2048];
	sqlite3 *db;
	sqlite3_stmt *s;
	size_t off = 0;

	snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql);
	buf[0] = '\0';
	ck_assert_int_eq(sqlite3_open(ts_path, &db), SQLITE_OK);
	ck_assert_msg(sqlite3_prepare_v2(db, q, -1, &s, NULL) == SQLITE_OK,
	    "%s: %s", q, sqlite3_errmsg(db));
	while (sqlite3_step(s) == SQLITE_ROW && off < len)
		off += (size_t)snprintf(buf + off, len - off, "%s%s",
		    off > 0 ? "; " : "", sqlite3_column_text(s, 3));
	sqlite3_finalize(s);
	sqlite3_close(db);
}
