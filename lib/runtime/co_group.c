/*
 * co_group.c — task groups and gather (see co_group.h).
 *
 * Each child runs inside child_main, which records its result and tells the
 * group; a failure in FAIL_FAST mode cancels the siblings from there, so the
 * cancellation happens as soon as the failure does, not when the waiter next
 * runs.  Children are joinable tasks that co_group_wait reaps in the end.
 */
#include <errno.h>
#include <stdlib.h>

#include "co_group.h"
#include "co_sched.h"

struct co_child {
	struct co_group *group;
	struct co_task *task;
	co_fn fn;
	void *arg;
	int result;
	bool done;
	bool cancelled;          /* cancelled by the group */
};

struct co_group {
	struct co_rt *rt;
	enum co_group_mode mode;
	struct co_child **child;
	size_t n, cap, ndone;
	bool aborting;           /* cancelling every child */
	bool waited;             /* co_group_wait was called */
	bool returned;           /* ... and has returned: g is finished */
	bool interrupted;        /* the waiter was cancelled or timed out */
	int first_error;
	struct co_waitq waiter;
};

struct co_group *
co_group_new(struct co_rt *rt, enum co_group_mode mode)
{
	struct co_group *g = calloc(1, sizeof(*g));

	if (g == NULL)
		return NULL;
	g->rt = rt;
	g->mode = mode;
	co_waitq_init(&g->waiter);
	return g;
}

void
co_group_free(struct co_group *g)
{
	if (g == NULL)
		return;
	CO_MUST(g->n == 0 || g->returned, "co_group_free before co_group_wait");
	for (size_t i = 0; i < g->n; i++)
		free(g->child[i]);
	free(g->child);
	free(g);
}

/* Cancel every child still running. */
static void
group_abort(struct co_group *g)
{
	g->aborting = true;
	for (size_t i = 0; i < g->n; i++) {
		struct co_child *c = g->child[i];

		if (!c->done) {
			c->cancelled = true;
			co_cancel(c->task);
		}
	}
}

/* A failure is a non-zero result, except the -ECANCELED of a child that the
 * group itself cancelled (asyncio.TaskGroup ignores those CancelledErrors). */
static bool
child_failed(const struct co_child *c)
{
	return c->result != 0 && !(c->cancelled && c->result == -ECANCELED);
}

static int
child_main(void *arg)
{
	struct co_child *c = arg;
	struct co_group *g = c->group;

	c->result = c->fn(c->arg);
	c->done = true;
	g->ndone++;
	if (child_failed(c)) {
		if (g->first_error == 0)
			g->first_error = c->result;
		if (g->mode == CO_GROUP_FAIL_FAST && !g->aborting)
			group_abort(g);
	}
	co_waitq_wake_one(&g->waiter, 0);
	return c->result;
}

int
co_group_spawn(struct co_group *g, co_fn fn, void *arg)
{
	struct co_child *c, **v;
	int rc;

	CO_MUST(!g->returned, "co_group_spawn after co_group_wait returned");
	if (g->aborting)
		return -ECANCELED;
	if (g->n == g->cap) {
		size_t ncap = g->cap ? g->cap * 2 : 8;

		if ((v = realloc(g->child, ncap * sizeof(*v))) == NULL)
			return -ENOMEM;
		g->child = v;
		g->cap = ncap;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -ENOMEM;
	c->group = g;
	c->fn = fn;
	c->arg = arg;
	if ((rc = co_spawn(g->rt, child_main, c, &c->task)) < 0) {
		free(c);
		return rc;
	}
	g->child[g->n++] = c;
	return 0;
}

int
co_group_wait(struct co_group *g)
{
	int rc = 0;

	CO_MUST(!g->waited, "co_group_wait called twice");
	g->waited = true;
	while (g->ndone < g->n) {
		if ((rc = co_waitq_wait(&g->waiter, CO_FOREVER, NULL)) < 0) {
			g->interrupted = true;
			group_abort(g);
			break;
		}
	}
	/* Every child has ended or is cancelled: wait for all, whatever
	 * happens to us meanwhile. */
	for (size_t i = 0; i < g->n; i++)
		(void)co_reap(g->child[i]->task, NULL);
	g->returned = true;
	if (rc < 0)
		return rc;
	if (g->mode == CO_GROUP_ALL)            /* first in spawn order */
		for (size_t i = 0; i < g->n; i++)
			if (child_failed(g->child[i]))
				return g->child[i]->result;
	return g->first_error;
}

size_t
co_group_size(const struct co_group *g)
{
	return g->n;
}

int
co_group_result(const struct co_group *g, size_t i, bool *cancelled)
{
	CO_MUST(i < g->n, "no such child");
	if (cancelled != NULL)
		*cancelled = g->child[i]->cancelled;
	return g->child[i]->result;
}

size_t
co_group_nfailed(const struct co_group *g)
{
	size_t n = 0;

	for (size_t i = 0; i < g->n; i++)
		if (child_failed(g->child[i]))
			n++;
	return n;
}

int
co_gather(struct co_rt *rt, struct co_gather_item *items, size_t n)
{
	struct co_group *g = co_group_new(rt, CO_GROUP_ALL);
	size_t started = 0;
	int rc = 0;

	if (g == NULL) {
		for (size_t i = 0; i < n; i++)
			items[i].result = -ENOMEM;
		return -ENOMEM;
	}
	for (; started < n; started++)
		if ((rc = co_group_spawn(g, items[started].fn, items[started].arg)) < 0)
			break;
	if (rc < 0)
		group_abort(g);         /* all or nothing: stop what started */
	int wrc = co_group_wait(g);
	for (size_t i = 0; i < n; i++)
		items[i].result = i < started ? co_group_result(g, i, NULL) : -ENOMEM;
	/* A child's own -ETIMEDOUT is its result, not gather's: only the
	 * waiter's interruption is reported. */
	if (rc == 0 && g->interrupted)
		rc = wrc;
	co_group_free(g);
	return rc;
}
