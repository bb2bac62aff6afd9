/*
 * co_theap.c — see co_theap.h.  Textbook sift-up/sift-down over an array of
 * node pointers, each node remembering its index for O(log n) removal.
 */
#include <errno.h>
#include <stdlib.h>

#include "co_theap.h"

void
co_theap_init(struct co_theap *h)
{
	h->v = NULL;
	h->n = h->cap = 0;
	h->seq = 0;
}

void
co_theap_free(struct co_theap *h)
{
	free(h->v);
	co_theap_init(h);
}

int
co_theap_reserve(struct co_theap *h, size_t n)
{
	struct co_tnode **v;
	size_t cap = h->cap ? h->cap : 64;

	if (n <= h->cap)
		return 0;
	while (cap < n)
		cap *= 2;
	if ((v = realloc(h->v, cap * sizeof(*v))) == NULL)
		return -ENOMEM;
	h->v = v;
	h->cap = cap;
	return 0;
}

static bool
before(const struct co_tnode *a, const struct co_tnode *b)
{
	return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void
place(struct co_theap *h, struct co_tnode *node, size_t i)
{
	h->v[i] = node;
	node->idx = i;
}

static void
sift_up(struct co_theap *h, struct co_tnode *node, size_t i)
{
	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!before(node, h->v[parent]))
			break;
		place(h, h->v[parent], i);
		i = parent;
	}
	place(h, node, i);
}

static void
sift_down(struct co_theap *h, struct co_tnode *node, size_t i)
{
	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && before(h->v[c + 1], h->v[c]))
			c++;
		if (!before(h->v[c], node))
			break;
		place(h, h->v[c], i);
		i = c;
	}
	place(h, node, i);
}

void
co_theap_push(struct co_theap *h, struct co_tnode *node, double when)
{
	node->when = when;
	node->seq = h->seq++;
	sift_up(h, node, h->n++);
}

void
co_theap_remove(struct co_theap *h, struct co_tnode *node)
{
	size_t i = node->idx;
	struct co_tnode *last;

	if (i == SIZE_MAX)
		return;
	node->idx = SIZE_MAX;
	last = h->v[--h->n];
	if (last == node)
		return;
	/* Put the last node in the hole and restore order either way. */
	if (i > 0 && before(last, h->v[(i - 1) / 2]))
		sift_up(h, last, i);
	else
		sift_down(h, last, i);
}
