/*
 * bench_util.c — see bench_util.h.
 */
#include <err.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "bench_util.h"
#include "store.h"

double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double
bench_median(const double *v, size_t n)
{
	double *s, m;

	if ((s = malloc(n * sizeof(*s))) == NULL)
		err(1, "malloc");
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), bench_cmp_double);
	m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	free(s);
	return m;
}

double
bench_percentile(const double *sorted, size_t n, double p)
{
	size_t k = (size_t)ceil(p * (double)n);

	return sorted[k > 0 ? k - 1 : 0];
}

void
bench_store_done(void *arg, int status)
{
	struct bench_count *c = arg;

	c->done++;
	if (status != 0)
		c->failed++;
}

void
bench_store_wait(struct event_base *base, const struct bench_count *c,
    size_t n)
{
	while (c->done < n)
		event_base_loop(base, EVLOOP_ONCE);
	if (c->failed > 0)
		errx(1, "%zu writes failed: %s", c->failed, store_errmsg());
}
