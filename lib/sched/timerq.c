/*
 * timerq.c — an intrusive binary min-heap on (run_at, id) (see timerq.h).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "timerq.h"

#define TIMERQ_MIN      64      /* slots at first growth */

/* A heap slot keeps a copy of its node's key: comparing slots then
 * reads only the array, not a node elsewhere in memory (at a million
 * nodes, a cache miss per level otherwise). */
struct timerq_slot {
	double run_at;
	int64_t id;
	struct timerq_node *node;
};

static bool
less(const struct timerq_slot *a, const struct timerq_slot *b)
{
	if (a->run_at != b->run_at)
		return a->run_at < b->run_at;
	return a->id < b->id;
}

static void
put(struct timerq *q, size_t i, const struct timerq_slot *s)
{
	q->heap[i] = *s;
	s->node->pos = i + 1;
}

static void
sift_up(struct timerq *q, size_t i)
{
	struct timerq_slot s = q->heap[i];

	while (i > 0 && less(&s, &q->heap[(i - 1) / 2])) {
		put(q, i, &q->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	put(q, i, &s);
}

static void
sift_down(struct timerq *q, size_t i)
{
	struct timerq_slot s = q->heap[i];
	size_t c;

	while ((c = 2 * i + 1) < q->count) {
		if (c + 1 < q->count && less(&q->heap[c + 1], &q->heap[c]))
			c++;
		if (!less(&q->heap[c], &s))
			break;
		put(q, i, &q->heap[c]);
		i = c;
	}
	put(q, i, &s);
}

/* Put the node of slot i where it belongs after its key changed. */
static void
resift(struct timerq *q, size_t i)
{
	if (i > 0 && less(&q->heap[i], &q->heap[(i - 1) / 2]))
		sift_up(q, i);
	else
		sift_down(q, i);
}

/* Is n in q? */
static bool
holds(const struct timerq *q, const struct timerq_node *n)
{
	return n->pos != 0 && n->pos <= q->count &&
	    q->heap[n->pos - 1].node == n;
}

void
timerq_init(struct timerq *q)
{
	q->heap = NULL;
	q->count = q->cap = 0;
}

void
timerq_fini(struct timerq *q)
{
	size_t i;

	for (i = 0; i < q->count; i++)
		q->heap[i].node->pos = 0;
	free(q->heap);
	timerq_init(q);
}

int
timerq_reserve(struct timerq *q, size_t n)
{
	struct timerq_slot *h;
	size_t cap = q->cap > 0 ? q->cap : TIMERQ_MIN;

	if (n <= q->cap)
		return 0;
	while (cap < n) {
		if (cap > SIZE_MAX / 2 / sizeof(*h))
			return -ENOMEM;
		cap *= 2;
	}
	if ((h = realloc(q->heap, cap * sizeof(*h))) == NULL)
		return -ENOMEM;
	q->heap = h;
	q->cap = cap;
	return 0;
}

int
timerq_insert(struct timerq *q, struct timerq_node *n, double run_at,
    int64_t id)
{
	int r;

	if (!isfinite(run_at) || n->pos != 0)
		return -EINVAL;
	if (q->count == SIZE_MAX ||
	    (r = timerq_reserve(q, q->count + 1)) != 0)
		return -ENOMEM;
	n->run_at = run_at;
	n->id = id;
	put(q, q->count++, &(struct timerq_slot){ run_at, id, n });
	sift_up(q, q->count - 1);
	return 0;
}

struct timerq_node *
timerq_peek(const struct timerq *q)
{
	return q->count > 0 ? q->heap[0].node : NULL;
}

void
timerq_remove(struct timerq *q, struct timerq_node *n)
{
	size_t i;

	if (!holds(q, n))
		return;
	i = n->pos - 1;
	n->pos = 0;
	if (i == --q->count)
		return;
	/* The last node fills the hole; it may belong above or below. */
	put(q, i, &q->heap[q->count]);
	resift(q, i);
}

struct timerq_node *
timerq_pop(struct timerq *q)
{
	struct timerq_node *n = timerq_peek(q);

	if (n != NULL)
		timerq_remove(q, n);
	return n;
}

int
timerq_update(struct timerq *q, struct timerq_node *n, double run_at)
{
	if (!isfinite(run_at) || !holds(q, n))
		return -EINVAL;
	n->run_at = run_at;
	q->heap[n->pos - 1].run_at = run_at;
	resift(q, n->pos - 1);
	return 0;
}

bool
timerq_queued(const struct timerq_node *n)
{
	return n->pos != 0;
}

size_t
timerq_count(const struct timerq *q)
{
	return q->count;
}

int
timerq_each(const struct timerq *q,
    int (*fn)(void *arg, struct timerq_node *n), void *arg)
{
	size_t i;
	int r;

	for (i = 0; i < q->count; i++)
		if ((r = fn(arg, q->heap[i].node)) != 0)
			return r;
	return 0;
}
