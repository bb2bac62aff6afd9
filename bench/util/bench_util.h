/*
 * bench_util.h — what every benchmark program in bench/ shares: the
 * clock, medians and percentiles of rounds, and the store's completion
 * counting.  Linked into every benchmark program (CMakeLists.txt).
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stddef.h>

struct event_base;

/* CLOCK_MONOTONIC in seconds. */
double bench_now(void);

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
