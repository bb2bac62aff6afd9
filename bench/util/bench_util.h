/*
 * bench_util.h — what every benchmark program in bench/ shares: the
 * clock, starting and stopping jobd, direct SQLite writes, medians and
 * percentiles of rounds, and the store's completion counting.  Linked into every benchmark program (CMakeLists.txt).
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stddef.h>
#include <sys/types.h>

#include <sqlite3.h>

struct event_base;
struct jc_conn;

/* CLOCK_MONOTONIC in seconds. */
double bench_now(void);

/* Start the jobd at path on the config file conf, its stderr to
 * /dev/null, killed if this process dies (PR_SET_PDEATHSIG). */
pid_t bench_jobd_exec(const char *path, const char *conf);

/* Connect to the jobd at sock, retrying every millisecond until it
 * answers a ping (exits after timeout seconds); the open connection,
 * *took (if not NULL) the seconds it took. */
struct jc_conn *bench_jobd_ready(const char *sock, double timeout,
    double *took);

/* SIGTERM to the jobd pid; exits unless it exits 0. */
void bench_jobd_stop(pid_t pid);

/* sqlite3_exec of sql on db, and one step of s to SQLITE_DONE then its
 * reset: the process exits naming the statement and SQLite's error if it
 * fails (a bench's own direct writes: fills, bare loops). */
void bench_sql(sqlite3 *db, const char *sql);
void bench_sql_step(sqlite3 *db, sqlite3_stmt *s);

/* qsort's comparison of two doubles. */
int bench_cmp_double(const void *a, const void *b);

/* The median of v[0..n-1] (n >= 1); v is left as it was. */
double bench_median(const double *v, size_t n);

/* The nearest-rank percentile of sorted v[0..n-1], p in (0, 1]. */
double bench_percentile(const double *sorted, size_t n, double p);

/* Store completions: bench_store_done is store.h's callback, its arg a
 * struct bench_count that it counts each completion and failure in;
 * bench_store_wait runs base until c->done reaches n, and exits naming
 * the store's error if any failed. */
struct bench_count {
	size_t done, failed;
};

void bench_store_done(void *arg, int status);
void bench_store_wait(struct event_base *base, const struct bench_count *c,
    size_t n);

#endif
