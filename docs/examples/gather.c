/*
 * gather.c — the asyncio tutorial's gather example, in C on libjobd.
 *
 * The Python original (docs.python.org, "Coroutines and Tasks"):
 *
 *	async def factorial(name, number):
 *	    f = 1
 *	    for i in range(2, number + 1):
 *	        print(f"Task {name}: Compute factorial({number}), currently i={i}...")
 *	        await asyncio.sleep(1)
 *	        f *= i
 *	    print(f"Task {name}: factorial({number}) = {f}")
 *	    return f
 *
 *	L = await asyncio.gather(factorial("A", 2), factorial("B", 3),
 *	                         factorial("C", 4))
 *	print(L)
 *
 * The three tasks run concurrently on one thread: each co_sleep() suspends
 * its task and lets the others run.  Sleeps are 0.1 s here, so the whole
 * program takes about 0.3 s.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "co.h"
#include "co_group.h"

#define NTASKS 3

struct factorial_arg {
	const char *name;
	int number;
};

static struct co_rt *rt;

/* One task: returns number! (small numbers only), or a negative errno if
 * the task was cancelled or a deadline passed while it slept. */
static int
factorial(void *arg)
{
	const struct factorial_arg *fa = arg;
	int f = 1, i, rc;

	for (i = 2; i <= fa->number; i++) {
		printf("Task %s: Compute factorial(%d), currently i=%d...\n",
		    fa->name, fa->number, i);
		if ((rc = co_sleep(0.1)) != 0)
			return rc;
		f *= i;
	}
	printf("Task %s: factorial(%d) = %d\n", fa->name, fa->number, f);
	return f;
}

/* The main task: run every factorial concurrently and collect the results
 * in submission order, whatever order the tasks end in. */
static int
gather_main(void *arg)
{
	static const struct factorial_arg args[NTASKS] = { { "A", 2 },
		{ "B", 3 }, { "C", 4 } };
	struct co_gather_item items[NTASKS];
	int i, rc;

	(void)arg;
	for (i = 0; i < NTASKS; i++)
		items[i] = (struct co_gather_item){ factorial, (void *)&args[i], 0 };
	if ((rc = co_gather(rt, items, NTASKS)) != 0)
		return rc;              /* we were cancelled: children were too */
	printf("[");
	for (i = 0; i < NTASKS; i++)
		printf("%s%d", i ? ", " : "", items[i].result);
	printf("]\n");
	for (i = 0; i < NTASKS; i++)
		if (items[i].result < 0)
			return items[i].result;
	return 0;
}

int
main(void)
{
	struct event_base *base;
	int rc, result = -1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((base = co_base_new()) == NULL) {
		fprintf(stderr, "gather: co_base_new failed\n");
		return 1;
	}
	if ((rt = co_rt_new(base, NULL)) == NULL) {
		fprintf(stderr, "gather: co_rt_new: %s\n", strerror(errno));
		event_base_free(base);
		return 1;
	}
	rc = co_rt_run(rt, gather_main, NULL, &result);
	if (rc == 0 && result != 0)
		rc = result;
	if (rc != 0)
		fprintf(stderr, "gather: %s\n", strerror(-rc));
	co_rt_free(rt);
	event_base_free(base);
	return rc == 0 ? 0 : 1;
}
