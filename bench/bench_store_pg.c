/*
 * bench_store_pg.c — the store on PostgreSQL (or SQLite), through store.h.
 *
 *   bench_store_pg BACKEND PATH [N [WINDOW]]
 *      e.g. bench_store_pg postgresql "host=/tmp/pg dbname=b user=jobd"
 *           bench_store_pg sqlite /tmp/b.db
 *
 * The database must be empty or jobd's.  Two runs, sync=full then normal:
 *  bulk:     N inserts, then N starts, then N ends, each phase submitted at
 *            once (the store's group commit at its best: big batches);
 *  pipeline: each job's insert, start and end submitted back to back,
 *            at most WINDOW (1,000) jobs in flight: a daemon's pattern
 *            under a steady load of no-op jobs.
 * Prints jobs/s (three writes each), transactions and rows per commit:
 * where the time goes is the round trips per batch (docs/BENCH.md).
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "bench_util.h"
#include "store.h"

static struct bench_count cnt;  /* the store's completions */

static const struct store_new_job job = { .queue = "default", .kind = "sleep",
	.args = "{\"seconds\":0}", .max_attempts = 3 };
static const struct store_end end = { .state = STORE_SUCCEEDED,
	.result = "{\"slept\":0}" };

static void
bulk(struct store *s, struct event_base *base, size_t n)
{
	int64_t id, first = 0;
	size_t base_done = cnt.done;

	for (size_t i = 0; i < n; i++) {
		if (store_insert(s, &job, &id, bench_store_done, &cnt) < 0)
			errx(1, "%s", store_errmsg());
		if (i == 0)
			first = id;
	}
	bench_store_wait(base, &cnt, base_done + n);
	for (size_t i = 0; i < n; i++)
		if (store_mark_started(s, first + (int64_t)i, 0,
		    bench_store_done, &cnt) < 0)
			errx(1, "%s", store_errmsg());
	bench_store_wait(base, &cnt, base_done + 2 * n);
	for (size_t i = 0; i < n; i++)
		if (store_mark_ended(s, first + (int64_t)i, &end,
		    bench_store_done, &cnt) < 0)
			errx(1, "%s", store_errmsg());
	bench_store_wait(base, &cnt, base_done + 3 * n);
}

static void
pipeline(struct store *s, struct event_base *base, size_t n, size_t window)
{
	size_t base_done = cnt.done;
	int64_t id;

	for (size_t i = 0; i < n; i++) {
		while (3 * i - (cnt.done - base_done) > 3 * window)
			event_base_loop(base, EVLOOP_ONCE);
		if (store_insert(s, &job, &id, bench_store_done, &cnt) < 0 ||
		    store_mark_started(s, id, 0, bench_store_done, &cnt) < 0 ||
		    store_mark_ended(s, id, &end, bench_store_done, &cnt) < 0)
			errx(1, "%s", store_errmsg());
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	bench_store_wait(base, &cnt, base_done + 3 * n);
}

static void
run(const char *backend, const char *path, enum store_sync sync, size_t n,
    size_t window)
{
	struct store_opts o = { .backend = backend, .path = path,
		.sync = sync };
	struct event_base *base = event_base_new();
	struct store_stats a, b;
	struct store *s;
	double t;

	if (store_open(&s, base, &o) < 0)
		errx(1, "%s", store_errmsg());
	for (int mode = 0; mode < 2; mode++) {
		store_stats(s, &a);
		t = bench_now();
		if (mode == 0)
			bulk(s, base, n);
		else
			pipeline(s, base, n, window);
		t = bench_now() - t;
		store_stats(s, &b);
		printf("%-10s sync=%-6s %-8s %8.0f jobs/s  %6llu commits, "
		    "%5.0f writes/commit\n", backend,
		    sync == STORE_SYNC_FULL ? "full" : "normal",
		    mode == 0 ? "bulk" : "pipeline", n / t,
		    (unsigned long long)(b.transactions - a.transactions),
		    (double)(b.committed - a.committed) /
		    (double)(b.transactions - a.transactions));
	}
	store_close(s);
	event_base_free(base);
}

int
main(int argc, char **argv)
{
	size_t n = argc > 3 ? strtoul(argv[3], NULL, 10) : 100000;
	size_t window = argc > 4 ? strtoul(argv[4], NULL, 10) : 1000;

	if (argc < 3 || n == 0 || window == 0)
		errx(2, "usage: bench_store_pg BACKEND PATH [N [WINDOW]]");
	run(argv[1], argv[2], STORE_SYNC_FULL, n, window);
	run(argv[1], argv[2], STORE_SYNC_NORMAL, n, window);
	return 0;
}
