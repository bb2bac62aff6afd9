/*
 * co_theap.h — the runtime's timer heap: a binary min-heap of intrusive
 * nodes ordered by (deadline, insertion sequence).
 *
 * The sequence makes equal deadlines fire first-in first-out, as asyncio's
 * do in practice: three tasks that call co_sleep(0.1) in one pass wake in the
 * order they slept, whatever the clock's resolution.  The runtime keeps one
 * libevent timer armed for the heap's top instead of one event per task.
 */
#ifndef JOBD_CO_THEAP_H
#define JOBD_CO_THEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct co_tnode {
	double when;            /* absolute co_now() deadline */
	uint64_t seq;
	size_t idx;             /* position in the heap; SIZE_MAX: not in it */
};

struct co_theap {
	struct co_tnode **v;
	size_t n, cap;
	uint64_t seq;
};

void co_theap_init(struct co_theap *h);
void co_theap_free(struct co_theap *h);

/* Make room for n nodes, so pushes up to that size cannot fail.  0 or
 * -ENOMEM. */
int co_theap_reserve(struct co_theap *h, size_t n);

/* Insert node (not already in a heap) at when.  Room must be reserved. */
void co_theap_push(struct co_theap *h, struct co_tnode *node, double when);

/* Take node out; no-op if it is not in the heap. */
void co_theap_remove(struct co_theap *h, struct co_tnode *node);

/* Earliest node, or NULL when empty. */
static inline struct co_tnode *
co_theap_top(const struct co_theap *h)
{
	return h->n ? h->v[0] : NULL;
}

static inline bool
co_tnode_queued(const struct co_tnode *node)
{
	return node->idx != SIZE_MAX;
}

static inline void
co_tnode_init(struct co_tnode *node)
{
	node->idx = SIZE_MAX;
}

#endif /* JOBD_CO_THEAP_H */
