/*
 * bench_runtime.c — what the coroutine runtime costs.
 *
 * Prints, as medians over several rounds (these machines are noisy):
 *   - context switch round trip: the assembly switch, and swapcontext(3) in
 *     the same run as the baseline, with their ratio;
 *   - yield round trip through the scheduler (two tasks taking turns);
 *   - spawn + join of a trivial task, stacks from the pool;
 *   - resident memory per suspended coroutine, at 100,000 coroutines;
 *   - semaphore and queue hand-off between two tasks;
 *   - executor round trip (a trivial function on a pool thread and back).
 *
 * Usage: bench_runtime [-n coroutines] [-r rounds]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include <event2/event.h>

#include "bench_util.h"
#include "co.h"
#include "co_ctx.h"
#include "co_pool.h"
#include "co_queue.h"
#include "co_sched.h"
#include "co_sync.h"

#define ROUNDS_MAX 31

static int rounds = 7;

/* Run fn rounds times; each returns ns per operation; print the median. */
static double report_quiet(double (*fn)(long), long iters);

static double
report(const char *what, double (*fn)(long), long iters)
{
	double m = report_quiet(fn, iters);

	printf("%-44s %10.1f ns\n", what, m);
	return m;
}

/* The median of rounds runs of fn, unprinted. */
static double
report_quiet(double (*fn)(long), long iters)
{
	double v[ROUNDS_MAX];

	for (int i = 0; i < rounds; i++)
		v[i] = fn(iters);
	return bench_median(v, (size_t)rounds);
}

/* ---- raw context switches ------------------------------------------------ */

static struct co_ctx main_ctx, peer_ctx;
static ucontext_t main_uc, peer_uc;

static void
peer_entry(void *arg)
{
	(void)arg;
	for (;;)
		co_ctx_switch(&peer_ctx, &main_ctx);
}

static double
bench_ctx(long iters)
{
	double t0 = co_now();

	for (long i = 0; i < iters; i++)
		co_ctx_switch(&main_ctx, &peer_ctx);    /* there and back */
	return (co_now() - t0) * 1e9 / (double)iters;
}

static void
peer_uc_entry(void)
{
	for (;;)
		swapcontext(&peer_uc, &main_uc);
}

static double
bench_swapcontext(long iters)
{
	double t0 = co_now();

	for (long i = 0; i < iters; i++)
		swapcontext(&main_uc, &peer_uc);
	return (co_now() - t0) * 1e9 / (double)iters;
}

static void
switch_benchmarks(void)
{
	static char stack1[64 * 1024], stack2[64 * 1024];
	double asm_ns, uc_ns;

	co_ctx_make(&peer_ctx, stack1, sizeof(stack1), peer_entry, NULL);
	getcontext(&peer_uc);
	peer_uc.uc_stack.ss_sp = stack2;
	peer_uc.uc_stack.ss_size = sizeof(stack2);
	makecontext(&peer_uc, peer_uc_entry, 0);
	asm_ns = report("switch round trip (co_ctx_switch)", bench_ctx, 5000000);
	uc_ns = report("switch round trip (swapcontext baseline)",
	    bench_swapcontext, 500000);
	printf("%-44s %10.1fx\n", "  swapcontext / co_ctx_switch", uc_ns / asm_ns);
}

/* ---- through the scheduler ----------------------------------------------- */

static struct co_rt *rt;

static long yield_iters;

static int
yielder(void *arg)
{
	(void)arg;
	for (long i = 0; i < yield_iters; i++)
		if (co_yield() < 0)
			return -1;
	return 0;
}

/* Two tasks yielding to each other: each yield is one switch out and one
 * in, plus the runner's pass bookkeeping. */
static int
yield_main(void *arg)
{
	struct co_task *a, *b;

	(void)arg;
	if (co_spawn(rt, yielder, NULL, &a) < 0 || co_spawn(rt, yielder, NULL, &b) < 0)
		abort();
	if (co_join(a, NULL) < 0 || co_join(b, NULL) < 0)
		abort();
	return 0;
}

static double
run_main(co_fn fn, long iters, long per)
{
	double t0;
	int r;

	yield_iters = iters;
	t0 = co_now();
	if (co_rt_run(rt, fn, NULL, &r) < 0)
		abort();
	return (co_now() - t0) * 1e9 / (double)(iters * per);
}

static double
bench_yield(long iters)
{
	return run_main(yield_main, iters, 2);
}

static int
nothing(void *arg)
{
	(void)arg;
	return 0;
}

static int
spawn_join_main(void *arg)
{
	struct co_task *t;

	(void)arg;
	for (long i = 0; i < yield_iters; i++)
		if (co_spawn(rt, nothing, NULL, &t) < 0 || co_join(t, NULL) < 0)
			abort();
	return 0;
}

static double
bench_spawn_join(long iters)
{
	return run_main(spawn_join_main, iters, 1);
}

/* ---- hand-offs between two tasks ---------------------------------------- */

static struct co_sem *ping, *pong;

static int
sem_peer(void *arg)
{
	(void)arg;
	for (long i = 0; i < yield_iters; i++) {
		if (co_sem_acquire(ping) < 0)
			abort();
		co_sem_release(pong);
	}
	return 0;
}

/* One round: release wakes the peer (a hand-off), the acquire parks us
 * until the peer's release hands the permit back.  Two hand-offs. */
static int
sem_main(void *arg)
{
	struct co_task *t;

	(void)arg;
	ping = co_sem_new(0);
	pong = co_sem_new(0);
	if (ping == NULL || pong == NULL || co_spawn(rt, sem_peer, NULL, &t) < 0)
		abort();
	for (long i = 0; i < yield_iters; i++) {
		co_sem_release(ping);
		if (co_sem_acquire(pong) < 0)
			abort();
	}
	if (co_join(t, NULL) < 0)
		abort();
	co_sem_free(ping);
	co_sem_free(pong);
	return 0;
}

static double
bench_sem(long iters)
{
	return run_main(sem_main, iters, 2);
}

static struct co_queue *handq;

static int
consumer(void *arg)
{
	void *item;

	(void)arg;
	for (long i = 0; i < yield_iters; i++)
		if (co_queue_get(handq, &item) < 0)
			abort();
	return 0;
}

/* Producer and consumer through a queue of capacity 1: every item goes
 * from one task to the other. */
static int
queue_main(void *arg)
{
	struct co_task *t;

	(void)arg;
	if ((handq = co_queue_new(1)) == NULL || co_spawn(rt, consumer, NULL, &t) < 0)
		abort();
	for (long i = 0; i < yield_iters; i++)
		if (co_queue_put(handq, (void *)(i + 1)) < 0)
			abort();
	if (co_join(t, NULL) < 0)
		abort();
	co_queue_free(handq);
	return 0;
}

static double
bench_queue(long iters)
{
	return run_main(queue_main, iters, 1);
}

/* ---- executor ------------------------------------------------------------ */

static void *
identity(void *arg)
{
	return arg;
}

/* One task, one blocking call after another: each goes to a pool thread
 * and its result comes back through the eventfd to the loop. */
static int
pool_main(void *arg)
{
	struct co_pool *pool = co_pool_new(rt, 1);
	void *res;

	(void)arg;
	if (pool == NULL)
		abort();
	for (long i = 0; i < yield_iters; i++)
		if (co_pool_run(pool, identity, NULL, NULL, &res) < 0)
			abort();
	co_pool_free(pool);
	return 0;
}

static double
bench_pool(long iters)
{
	return run_main(pool_main, iters, 1) / 1000.0;
}

/* ---- memory per suspended coroutine ---------------------------------------- */

static long
rss_kib(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f == NULL || fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = 0;
	if (f != NULL)
		fclose(f);
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static int
map_count(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0, c;

	if (f == NULL)
		return -1;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static int
parked(void *arg)
{
	(void)arg;
	return co_park(CO_FOREVER, 0);          /* until cancelled */
}

static long ncoros = 100000;

static int
memory_main(void *arg)
{
	struct co_task **t = calloc((size_t)ncoros, sizeof(*t));
	struct co_rt_stats st;
	long before, after;
	int maps;

	(void)arg;
	if (t == NULL)
		abort();
	before = rss_kib();
	for (long i = 0; i < ncoros; i++) {
		int rc = co_spawn(rt, parked, NULL, &t[i]);

		if (rc < 0) {
			printf("spawn %ld failed: %s\n", i, strerror(-rc));
			ncoros = i;
			break;
		}
	}
	(void)co_sleep(0.01);                   /* let every one of them park */
	after = rss_kib();
	maps = map_count();
	co_rt_stats(rt, &st);
	printf("%-44s %10.2f KiB\n", "resident memory per suspended coroutine",
	    (double)(after - before) / (double)ncoros);
	printf("  %ld coroutines, %ld KiB RSS added, %zu stacks in %zu arenas, "
	    "%d map entries, guard pages via %s\n", ncoros, after - before,
	    st.stacks_total, st.arenas, maps,
	    st.guard_madvise ? "MADV_GUARD_INSTALL" : "mprotect");
	for (long i = 0; i < ncoros; i++)
		(void)co_reap(t[i], NULL);
	free(t);
	return 0;
}

/* ---- main ------------------------------------------------------------------- */

static void
usage(void)
{
	fprintf(stderr, "usage: bench_runtime [-n coroutines] [-r rounds]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct event_base *base;
	int c, r;

	while ((c = getopt(argc, argv, "n:r:")) != -1) {
		switch (c) {
		case 'n':
			ncoros = atol(optarg);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (ncoros < 1 || rounds < 1 || rounds > ROUNDS_MAX)
		usage();
	if ((base = co_base_new()) == NULL || (rt = co_rt_new(base, NULL)) == NULL)
		return 1;
	printf("bench_runtime: medians of %d rounds\n", rounds);
	switch_benchmarks();
	report("yield round trip per task (scheduler)", bench_yield, 200000);
	report("spawn + join (stack from the pool)", bench_spawn_join, 200000);
	report("semaphore hand-off (release -> waiter)", bench_sem, 200000);
	report("queue hand-off per item (capacity 1)", bench_queue, 200000);
	printf("%-44s %10.2f us\n", "executor round trip (1 thread)",
	    report_quiet(bench_pool, 20000));
	if (co_rt_run(rt, memory_main, NULL, &r) < 0)
		return 1;
	co_rt_free(rt);
	event_base_free(base);
	return 0;
}
