/*
 * co_queue.c — the bounded FIFO queue between tasks (see co_queue.h).
 *
 * Items live in a ring that grows on demand (by doubling, up to the
 * capacity or CO_QUEUE_MAX), so a queue with a large bound costs nothing
 * until it fills.  It never shrinks: a burst's memory stays until
 * co_queue_free, bounded by the capacity.
 *
 * Hand-offs keep FIFO order and never lose an item:
 *  - a getter waits only while the ring is empty, so a put that finds one
 *    hands the item straight into the getter's slot (waiter data);
 *  - a putter waits only while the ring is full, so a get (or remove) that
 *    makes room appends the first waiting putter's item (waiter data) at the
 *    tail and wakes it with 0.
 * Wakes are first-wins: co_waitq_wake_one skips a waiter that was cancelled
 * or timed out at the same moment, so an item is only ever handed to a task
 * that will return 0, and a putter's item is only taken from a task that
 * will return 0.  A woken waiter never touches the queue again.
 */
#include <errno.h>
#include <stdlib.h>

#include "co.h"
#include "co_queue.h"
#include "co_sched.h"
#include "log.h"

/* Misuse that would corrupt the queue: checked even with NDEBUG. */
#define MUST(cond, what) do {						\
	if (!(cond)) {							\
		log_warnx("%s: %s", __func__, (what));			\
		abort();						\
	}								\
} while (0)

/* First ring allocation, in items. */
#define RING_MIN 16

struct co_queue {
	void **ring;
	size_t alloc;                   /* slots in ring, <= CO_QUEUE_MAX */
	size_t head;                    /* slot of the first item */
	size_t len;                     /* items queued */
	size_t capacity;                /* 0 = unbounded */
	size_t unfinished;              /* put and not yet task_done/removed */
	bool closed;
	struct co_waitq getters;        /* data: void ** the getter's slot */
	struct co_waitq putters;        /* data: void ** the putter's item */
	struct co_waitq joiners;
};

/* ---- the ring ------------------------------------------------------------- */

static void **
ring_slot(const struct co_queue *q, size_t i)
{
	return &q->ring[(q->head + i) % q->alloc];
}

/* Make room for n items.  0 or -ENOMEM (also past CO_QUEUE_MAX). */
static int
ring_reserve(struct co_queue *q, size_t n)
{
	size_t alloc = q->alloc > 0 ? q->alloc : RING_MIN, i;
	void **ring;

	if (n <= q->alloc)
		return 0;
	if (n > CO_QUEUE_MAX)
		return -ENOMEM;
	while (alloc < n)
		alloc *= 2;
	if (alloc > CO_QUEUE_MAX)
		alloc = CO_QUEUE_MAX;
	if ((ring = reallocarray(NULL, alloc, sizeof(*ring))) == NULL)
		return -ENOMEM;
	for (i = 0; i < q->len; i++)
		ring[i] = *ring_slot(q, i);
	free(q->ring);
	q->ring = ring;
	q->alloc = alloc;
	q->head = 0;
	return 0;
}

/* Append; the caller made room. */
static void
ring_push(struct co_queue *q, void *item)
{
	q->len++;
	*ring_slot(q, q->len - 1) = item;
}

static void *
ring_pop(struct co_queue *q)
{
	void *item = q->ring[q->head];

	q->head = (q->head + 1) % q->alloc;
	q->len--;
	return item;
}

/* Take out the item at position i, keeping the others in order. */
static void
ring_delete(struct co_queue *q, size_t i)
{
	for (; i + 1 < q->len; i++)
		*ring_slot(q, i) = *ring_slot(q, i + 1);
	q->len--;
}

/* ---- queue ---------------------------------------------------------------- */

static bool
full(const struct co_queue *q)
{
	return q->capacity != 0 && q->len >= q->capacity;
}

static size_t
waitq_len(const struct co_waitq *wq)
{
	const struct co_waiter *w;
	size_t n = 0;

	TAILQ_FOREACH(w, &wq->head, link)
		n++;
	return n;
}

/* Move waiting putters' items in while there is room.  The ring already
 * has the slots: a get or remove just freed one, and set_capacity
 * reserves them first. */
static void
admit_putters(struct co_queue *q)
{
	struct co_waiter *w;

	while (!full(q) && q->len < q->alloc &&
	    (w = co_waitq_wake_one(&q->putters, 0)) != NULL) {
		ring_push(q, *(void **)w->data);
		q->unfinished++;
	}
}

/* One put item is accounted for. */
static void
mark_done(struct co_queue *q)
{
	if (--q->unfinished == 0)
		co_waitq_wake_all(&q->joiners, 0);
}

struct co_queue *
co_queue_new(size_t capacity)
{
	struct co_queue *q;

	if (capacity > CO_QUEUE_MAX) {
		errno = EINVAL;
		return NULL;
	}
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	q->capacity = capacity;
	co_waitq_init(&q->getters);
	co_waitq_init(&q->putters);
	co_waitq_init(&q->joiners);
	return q;
}

void
co_queue_free(struct co_queue *q)
{
	if (q == NULL)
		return;
	MUST(co_waitq_empty(&q->getters) && co_waitq_empty(&q->putters) &&
	    co_waitq_empty(&q->joiners), "tasks still waiting");
	free(q->ring);
	free(q);
}

int
co_queue_put_nowait(struct co_queue *q, void *item)
{
	struct co_waiter *w;
	int rc;

	if (q->closed)
		return -EPIPE;
	if ((w = co_waitq_wake_one(&q->getters, 0)) != NULL) {
		*(void **)w->data = item;       /* the ring is empty */
		q->unfinished++;
		return 0;
	}
	if (full(q))
		return -EAGAIN;
	if ((rc = ring_reserve(q, q->len + 1)) < 0)
		return rc;
	ring_push(q, item);
	q->unfinished++;
	return 0;
}

int
co_queue_put_timeout(struct co_queue *q, void *item, double timeout)
{
	int rc = co_queue_put_nowait(q, item);

	if (rc != -EAGAIN)
		return rc;
	/* 0: a getter admitted the item; -EPIPE: closed meanwhile. */
	return co_waitq_wait(&q->putters, co_deadline(timeout), &item);
}

int
co_queue_put(struct co_queue *q, void *item)
{
	return co_queue_put_timeout(q, item, CO_FOREVER);
}

int
co_queue_get_nowait(struct co_queue *q, void **itemp)
{
	if (q->len == 0)
		return q->closed ? -EPIPE : -EAGAIN;
	*itemp = ring_pop(q);
	admit_putters(q);
	return 0;
}

int
co_queue_get_timeout(struct co_queue *q, void **itemp, double timeout)
{
	void *slot = NULL;
	int rc = co_queue_get_nowait(q, itemp);

	if (rc != -EAGAIN)
		return rc;
	/* 0: a putter filled slot; -EPIPE: closed while empty. */
	if ((rc = co_waitq_wait(&q->getters, co_deadline(timeout), &slot)) == 0)
		*itemp = slot;
	return rc;
}

int
co_queue_get(struct co_queue *q, void **itemp)
{
	return co_queue_get_timeout(q, itemp, CO_FOREVER);
}

int
co_queue_remove(struct co_queue *q, void *item)
{
	size_t i;

	for (i = 0; i < q->len; i++)
		if (*ring_slot(q, i) == item)
			break;
	if (i == q->len)
		return -ENOENT;
	ring_delete(q, i);
	mark_done(q);
	admit_putters(q);
	return 0;
}

int
co_queue_withdraw(struct co_queue *q, void *item)
{
	struct co_waiter *w;

	TAILQ_FOREACH(w, &q->putters.head, link) {
		if (*(void **)w->data != item)
			continue;
		/* Off the list either way: a putter that co_wake finds no
		 * longer parked (cancelled, timed out) has put nothing. */
		TAILQ_REMOVE(&q->putters.head, w, link);
		w->linked = false;
		(void)co_wake(w->task, -ECONNABORTED);
		return 0;
	}
	return -ENOENT;
}

void
co_queue_close(struct co_queue *q)
{
	q->closed = true;
	co_waitq_wake_all(&q->putters, -EPIPE);
	if (q->len == 0)
		co_waitq_wake_all(&q->getters, -EPIPE);
}

bool
co_queue_closed(const struct co_queue *q)
{
	return q->closed;
}

int
co_queue_task_done(struct co_queue *q)
{
	if (q->unfinished == 0)
		return -EINVAL;
	mark_done(q);
	return 0;
}

int
co_queue_join_timeout(struct co_queue *q, double timeout)
{
	if (q->unfinished == 0)
		return 0;
	return co_waitq_wait(&q->joiners, co_deadline(timeout), NULL);
}

int
co_queue_join(struct co_queue *q)
{
	return co_queue_join_timeout(q, CO_FOREVER);
}

size_t
co_queue_len(const struct co_queue *q)
{
	return q->len;
}

size_t
co_queue_capacity(const struct co_queue *q)
{
	return q->capacity;
}

int
co_queue_set_capacity(struct co_queue *q, size_t capacity)
{
	size_t want;
	int rc;

	if (capacity > CO_QUEUE_MAX)
		return -EINVAL;
	/* Room for every putter the new bound admits, before admitting. */
	want = q->len + waitq_len(&q->putters);
	if (capacity != 0 && want > capacity)
		want = capacity;
	if (want > CO_QUEUE_MAX)
		want = CO_QUEUE_MAX;
	if ((rc = ring_reserve(q, want)) < 0)
		return rc;
	q->capacity = capacity;
	admit_putters(q);
	return 0;
}
