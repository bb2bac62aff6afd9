/*
 * bench_sched.c — the scheduling structures at a million jobs.
 *
 *   bench_sched [-n jobs] [-r rounds]     defaults: 1000000 jobs, 5 rounds
 *
 * readyq: push n jobs (random priorities 0-9), then pop them all; then
 * push n and remove them in random order (cancels).  timerq: insert n
 * jobs with random run_at, pop all; insert n, remove in random order.
 * Then cron_next in a zone (each call switches TZ twice) and without one.
 * Prints the median of the rounds, per operation and per second.  The
 * nodes are in one array allocated up front: the structures themselves
 * allocate nothing per job (timerq grows its pointer array by doubling).
 */
#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cron.h"
#include "readyq.h"
#include "timerq.h"

#define ROUNDS_MAX      101

struct job {
	struct readyq_node rq;
	struct timerq_node tq;
	int prio;
	double run_at;
};

static struct job *jobs;
static size_t *perm;            /* a random order of 0..n-1 */
static size_t n = 1000000;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, int k)
{
	qsort(v, (size_t)k, sizeof(*v), cmp_double);
	return v[k / 2];
}

/* Seconds for one phase of one structure. */
static double
readyq_push_pop(double *pop_s)
{
	struct readyq q;
	double t0, t1;
	size_t i;

	readyq_init(&q);
	t0 = now();
	for (i = 0; i < n; i++)
		readyq_push(&q, &jobs[i].rq, jobs[i].prio, (int64_t)i + 1);
	t1 = now();
	while (readyq_pop(&q) != NULL)
		;
	*pop_s = now() - t1;
	return t1 - t0;
}

static double
readyq_cancel(void)
{
	struct readyq q;
	double t0;
	size_t i;

	readyq_init(&q);
	for (i = 0; i < n; i++)
		readyq_push(&q, &jobs[i].rq, jobs[i].prio, (int64_t)i + 1);
	t0 = now();
	for (i = 0; i < n; i++)
		readyq_remove(&q, &jobs[perm[i]].rq);
	return now() - t0;
}

static double
timerq_insert_pop(double *pop_s)
{
	struct timerq q;
	double t0, t1;
	size_t i;

	timerq_init(&q);
	t0 = now();
	for (i = 0; i < n; i++)
		if (timerq_insert(&q, &jobs[i].tq, jobs[i].run_at,
		    (int64_t)i + 1) != 0)
			errx(1, "timerq_insert");
	t1 = now();
	while (timerq_pop(&q) != NULL)
		;
	*pop_s = now() - t1;
	timerq_fini(&q);
	return t1 - t0;
}

static double
timerq_cancel(void)
{
	struct timerq q;
	double t0;
	size_t i;

	timerq_init(&q);
	if (timerq_reserve(&q, n) != 0)
		errx(1, "timerq_reserve");
	for (i = 0; i < n; i++)
		if (timerq_insert(&q, &jobs[i].tq, jobs[i].run_at,
		    (int64_t)i + 1) != 0)
			errx(1, "timerq_insert");
	t0 = now();
	for (i = 0; i < n; i++)
		timerq_remove(&q, &jobs[perm[i]].tq);
	timerq_fini(&q);
	return now() - t0;
}

/* Seconds per cron_next call over calls successive slots. */
static double
cron_calls(const char *expr, const char *zone, int calls)
{
	struct cron *c;
	char e[CRON_ERR_MAX];
	int64_t t = 1798761600, s;
	double t0;
	int i;

	if (cron_parse(expr, &c, e, sizeof(e)) != 0)
		errx(1, "%s: %s", expr, e);
	t0 = now();
	for (i = 0; i < calls; i++, t = s)
		if (cron_next(c, zone, t, &s) != 0)
			errx(1, "cron_next");
	t0 = now() - t0;
	cron_free(c);
	return t0 / calls;
}

static void
setup(void)
{
	size_t i, j, tmp;

	if ((jobs = calloc(n, sizeof(*jobs))) == NULL ||
	    (perm = malloc(n * sizeof(*perm))) == NULL)
		err(1, "calloc");
	srandom(1);
	for (i = 0; i < n; i++) {
		jobs[i].prio = (int)(random() % 10);
		jobs[i].run_at = 1.8e9 + (double)(random() % 86400000) / 1000;
		perm[i] = i;
	}
	for (i = n - 1; i > 0; i--) {
		j = (size_t)random() % (i + 1);
		tmp = perm[i];
		perm[i] = perm[j];
		perm[j] = tmp;
	}
}

static void
row(const char *what, double secs, size_t ops)
{
	printf("%-44s %8.1f ns/op %12.0f ops/s\n", what, secs / ops * 1e9,
	    ops / secs);
}

int
main(int argc, char **argv)
{
	double rp[ROUNDS_MAX], ro[ROUNDS_MAX], rc[ROUNDS_MAX];
	double ti[ROUNDS_MAX], to[ROUNDS_MAX], tc[ROUNDS_MAX];
	double cz[ROUNDS_MAX], cl[ROUNDS_MAX];
	int rounds = 5, ch, r;

	while ((ch = getopt(argc, argv, "n:r:")) != -1) {
		if (ch == 'n')
			n = strtoul(optarg, NULL, 10);
		else if (ch == 'r')
			rounds = atoi(optarg);
		else
			errx(2, "usage: bench_sched [-n jobs] [-r rounds]");
	}
	if (n < 1 || rounds < 1 || rounds > ROUNDS_MAX)
		errx(2, "bad -n or -r");
	setup();
	for (r = 0; r < rounds; r++) {
		rp[r] = readyq_push_pop(&ro[r]);
		rc[r] = readyq_cancel();
		ti[r] = timerq_insert_pop(&to[r]);
		tc[r] = timerq_cancel();
		cz[r] = cron_calls("*/5 * * * *", "Europe/Berlin", 2000);
		cl[r] = cron_calls("*/5 * * * *", NULL, 2000);
	}
	printf("%zu jobs, median of %d rounds\n", n, rounds);
	row("readyq push (10 priorities)", median(rp, rounds), n);
	row("readyq pop", median(ro, rounds), n);
	row("readyq remove, random order (cancel)", median(rc, rounds), n);
	row("timerq insert (random run_at)", median(ti, rounds), n);
	row("timerq pop", median(to, rounds), n);
	row("timerq remove, random order (cancel)", median(tc, rounds), n);
	row("cron_next */5, zone Europe/Berlin", median(cz, rounds), 1);
	row("cron_next */5, local zone (no switch)", median(cl, rounds), 1);
	free(jobs);
	free(perm);
	return 0;
}
