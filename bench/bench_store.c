/*
 * bench_store.c — the job store against bare SQLite, in the same run.
 *
 *   bench_store [N [DIR]]      N jobs (default 200000), files in DIR (/tmp)
 *
 * Store: N store_insert, then N store_mark_started, then N store_mark_ended
 * (sync=full); then again with each job's start and end submitted together,
 * as a short job's are (the writer merges them: store_merge.c), each phase submitted from the loop thread at once and
 * completed through the event loop — ids, copies, the writer thread, group
 * commit and callbacks included.  Bare: the same three statements on the
 * same schema (a file the store created), in explicit transactions of the
 * store's average batch size, on one thread.  Prints jobs/s for both and
 * the ratio (the daemon's goal: >= 0.6, and >= 100,000 jobs/s).
 */
#include <err.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "bench_util.h"
#include "store.h"

static struct bench_count cnt;  /* the store's completions */

static void
rm_db(const char *path)
{
	char buf[1100];

	unlink(path);
	snprintf(buf, sizeof(buf), "%s-wal", path);
	unlink(buf);
	snprintf(buf, sizeof(buf), "%s-shm", path);
	unlink(buf);
}

/* The store: returns seconds; *batch gets the average rows per commit. */
static double
run_store(const char *path, size_t n, bool paired, double *batch)
{
	struct store_opts o = { .path = path, .sync = STORE_SYNC_FULL };
	struct store_new_job j = { .queue = "default", .kind = "sleep",
		.args = "{\"seconds\":0.001}", .max_attempts = 3 };
	struct store_end e = { .state = STORE_SUCCEEDED,
		.result = "{\"slept\":0.001}" };
	struct event_base *base = event_base_new();
	struct store_stats st;
	struct store *s;
	int64_t id, first = 0;
	double t0;

	if (store_open(&s, base, &o) < 0)
		errx(1, "%s", store_errmsg());
	t0 = bench_now();
	for (size_t i = 0; i < n; i++) {
		if (store_insert(s, &j, &id, bench_store_done, &cnt) < 0)
			errx(1, "%s", store_errmsg());
		if (i == 0)
			first = id;
	}
	bench_store_wait(base, &cnt, n);
	for (size_t i = 0; i < n; i++) {
		if (store_mark_started(s, first + i, 0, bench_store_done,
		    &cnt) < 0)
			errx(1, "%s", store_errmsg());
		if (paired && store_mark_ended(s, first + i, &e, bench_store_done,
		    &cnt) < 0)
			errx(1, "%s", store_errmsg());
	}
	bench_store_wait(base, &cnt, 2 * n);
	for (size_t i = 0; !paired && i < n; i++)
		if (store_mark_ended(s, first + i, &e, bench_store_done,
		    &cnt) < 0)
			errx(1, "%s", store_errmsg());
	bench_store_wait(base, &cnt, 3 * n);
	t0 = bench_now() - t0;
	store_stats(s, &st);
	*batch = (double)(3 * n) / st.transactions;
	printf("store%s: %llu transactions, largest %zu rows, average %.0f, "
	    "%llu starts merged with their end\n", paired ? " (paired)" : "",
	    (unsigned long long)st.transactions, st.batch_largest, *batch,
	    (unsigned long long)st.merged);
	store_close(s);
	event_base_free(base);
	return t0;
}

/* One phase of the bare loop: n executions of s in batches of b.  bind
 * sets the parameters for job i. */
static void
bare_phase(sqlite3 *db, sqlite3_stmt *s, size_t n, size_t b,
    void (*bind)(sqlite3_stmt *, int64_t))
{
	for (size_t i = 0; i < n; i += b) {
		bench_sql(db, "BEGIN IMMEDIATE");
		for (size_t k = i; k < n && k < i + b; k++) {
			bind(s, (int64_t)k + 1);
			bench_sql_step(db, s);
		}
		bench_sql(db, "COMMIT");
	}
}

static void
bind_insert(sqlite3_stmt *s, int64_t id)
{
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, "default", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, "sleep", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, "{\"seconds\":0.001}", -1, SQLITE_STATIC);
	sqlite3_bind_null(s, 5);
	sqlite3_bind_int(s, 6, 3);
	sqlite3_bind_double(s, 7, 0);
	sqlite3_bind_double(s, 8, store_now());
	sqlite3_bind_null(s, 9);
}

static void
bind_start(sqlite3_stmt *s, int64_t id)
{
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_double(s, 2, store_now());
}

static void
bind_end(sqlite3_stmt *s, int64_t id)
{
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, "succeeded", -1, SQLITE_STATIC);
	sqlite3_bind_double(s, 3, store_now());
	sqlite3_bind_text(s, 4, "{\"slept\":0.001}", -1, SQLITE_STATIC);
	sqlite3_bind_null(s, 5);
	sqlite3_bind_null(s, 6);
}

static double
run_bare(const char *path, size_t n, size_t b)
{
	static const char *sql[3] = {
		"INSERT INTO jobs (id, queue, kind, args, name, max_attempts, "
		"timeout, created_at, group_id) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
		"UPDATE jobs SET state = 'running', attempts = attempts + 1, "
		"started_at = ?2 WHERE id = ?1 AND state = 'queued'",
		"UPDATE jobs SET state = ?2, finished_at = ?3, result = ?4, "
		"error = ?5, cancel_reason = ?6 "
		"WHERE id = ?1 AND state IN ('queued', 'running')",
	};
	void (*bind[3])(sqlite3_stmt *, int64_t) = { bind_insert, bind_start,
		bind_end };
	struct store_opts o = { .path = path };
	sqlite3_stmt *s[3];
	struct store *st;
	sqlite3 *db;
	double t0;

	if (store_open(&st, NULL, &o) < 0)      /* the schema */
		errx(1, "%s", store_errmsg());
	store_close(st);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		errx(1, "%s: %s", path, sqlite3_errmsg(db));
	bench_sql(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
	    "PRAGMA cache_size = -32768");
	for (int i = 0; i < 3; i++)
		if (sqlite3_prepare_v2(db, sql[i], -1, &s[i],
		    NULL) != SQLITE_OK)
			errx(1, "prepare: %s", sqlite3_errmsg(db));
	t0 = bench_now();
	for (int i = 0; i < 3; i++)
		bare_phase(db, s[i], n, b, bind[i]);
	t0 = bench_now() - t0;
	for (int i = 0; i < 3; i++)
		sqlite3_finalize(s[i]);
	sqlite3_close(db);
	return t0;
}

int
main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
	const char *dir = argc > 2 ? argv[2] : "/tmp";
	char path[1024];
	double ts, tp, tb, batch, pbatch;

	if (n == 0)
		errx(1, "usage: bench_store [N [DIR]]");
	snprintf(path, sizeof(path), "%s/bench_store.%d.db", dir, getpid());
	rm_db(path);
	ts = run_store(path, n, false, &batch);
	rm_db(path);
	cnt.done = 0;
	tp = run_store(path, n, true, &pbatch);
	rm_db(path);
	tb = run_bare(path, n, batch > 1 ? (size_t)batch : 1);
	rm_db(path);
	printf("%zu jobs (insert + started + ended each), sync=full\n", n);
	printf("store      %10.0f jobs/s  (%.3f s)\n", n / ts, ts);
	printf("bare       %10.0f jobs/s  (%.3f s, batches of %.0f)\n", n / tb,
	    tb, batch);
	printf("ratio      %10.2f  (store / bare)\n", tb / ts);
	printf("store, each start and end submitted together (a short job):\n"
	    "           %10.0f jobs/s  (%.3f s), ratio %.2f to bare\n", n / tp,
	    tp, tb / tp);
	return 0;
}
