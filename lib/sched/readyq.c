/*
 * readyq.c — ten FIFO lists, one per priority (see readyq.h).
 */
#include <string.h>

#include "readyq.h"

void
readyq_init(struct readyq *q)
{
	int p;

	memset(q, 0, sizeof(*q));
	for (p = 0; p < READYQ_PRIOS; p++)
		q->head[p].next = q->head[p].prev = &q->head[p];
}

void
readyq_push(struct readyq *q, struct readyq_node *n, int prio, int64_t id)
{
	struct readyq_node *h;

	if (prio < 0)
		prio = 0;
	if (prio >= READYQ_PRIOS)
		prio = READYQ_PRIOS - 1;
	h = &q->head[prio];
	n->prio = (uint8_t)prio;
	n->id = id;
	n->seq = q->next_seq++;
	n->queued = true;
	n->next = h;
	n->prev = h->prev;
	h->prev->next = n;
	h->prev = n;
	q->count[prio]++;
	q->total++;
	q->nonempty |= 1u << prio;
}

struct readyq_node *
readyq_peek(const struct readyq *q)
{
	if (q->nonempty == 0)
		return NULL;
	return q->head[__builtin_ctz(q->nonempty)].next;
}

void
readyq_remove(struct readyq *q, struct readyq_node *n)
{
	if (!n->queued)
		return;
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = NULL;
	n->queued = false;
	q->total--;
	if (--q->count[n->prio] == 0)
		q->nonempty &= ~(1u << n->prio);
}

struct readyq_node *
readyq_pop(struct readyq *q)
{
	struct readyq_node *n = readyq_peek(q);

	if (n != NULL)
		readyq_remove(q, n);
	return n;
}

bool
readyq_queued(const struct readyq_node *n)
{
	return n->queued;
}

size_t
readyq_count(const struct readyq *q)
{
	return q->total;
}

size_t
readyq_count_prio(const struct readyq *q, int prio)
{
	return prio >= 0 && prio < READYQ_PRIOS ? q->count[prio] : 0;
}

bool
readyq_before(const struct readyq_node *a, const struct readyq_node *b)
{
	if (a->prio != b->prio)
		return a->prio < b->prio;
	return a->seq < b->seq;
}

int
readyq_each(const struct readyq *q,
    int (*fn)(void *arg, struct readyq_node *n), void *arg)
{
	struct readyq_node *n;
	int p, r;

	for (p = 0; p < READYQ_PRIOS; p++)
		for (n = q->head[p].next; n != &q->head[p]; n = n->next)
			if ((r = fn(arg, n)) != 0)
				return r;
	return 0;
}
