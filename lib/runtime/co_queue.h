/*
 * co_queue.h — a FIFO queue of pointers between tasks (asyncio.Queue).
 *
 * Bounded or not; put waits while the queue is full, get while it is
 * empty.  Items are opaque void * (NULL is a valid item); the queue never
 * frees them.  Waiting putters and getters are served in FIFO order and
 * items come out in the order they went in, including items handed from a
 * putter straight to a waiting getter.  A waiter that is cancelled or times
 * out leaves without having put or got anything; no item is lost or
 * duplicated.
 *
 * As in co_sync.h, calls that need not wait succeed even if the task is
 * cancelled; cancellation and deadlines interrupt only an actual wait.
 * Awaits return 0, -ECANCELED, -ETIMEDOUT, or -EPIPE once the queue is
 * closed; a put also -ECONNABORTED once withdrawn (co_queue_withdraw).  Timeouts are seconds, CO_FOREVER for none.  Freeing a queue with
 * tasks waiting on it is a programming error and aborts.
 */
#ifndef JOBD_CO_QUEUE_H
#define JOBD_CO_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

#include "co.h"

struct co_queue;

/* Hard ceiling on the number of queued items, bounded or not: 16 Mi
 * pointers (128 MiB).  Beyond it a put fails with -ENOMEM, as it does when
 * the ring cannot grow. */
#define CO_QUEUE_MAX ((size_t)1 << 24)

/* A queue holding at most capacity items (0 = unbounded, up to
 * CO_QUEUE_MAX).  NULL with errno ENOMEM, or EINVAL if capacity is above
 * CO_QUEUE_MAX. */
struct co_queue *co_queue_new(size_t capacity);

/* Free q (NULL is fine) but not the items still in it.  No task may be
 * waiting on it. */
void co_queue_free(struct co_queue *q);

/* Append item, waiting while the queue is full.  0 once it is queued (or
 * handed to a waiting getter); -EPIPE if the queue is or gets closed,
 * -ENOMEM, -ECANCELED, -ETIMEDOUT: then it was not queued and stays the
 * caller's. */
__attribute__((warn_unused_result))
int co_queue_put(struct co_queue *q, void *item);
__attribute__((warn_unused_result))
int co_queue_put_timeout(struct co_queue *q, void *item, double timeout);

/* Append item if there is room: 0, -EAGAIN when full, -EPIPE, -ENOMEM.
 * Legal outside tasks. */
__attribute__((warn_unused_result))
int co_queue_put_nowait(struct co_queue *q, void *item);

/* Take the first item into *itemp, waiting while the queue is empty.  0,
 * -EPIPE once the queue is closed and empty, -ECANCELED, -ETIMEDOUT (then
 * nothing was taken and *itemp is untouched). */
__attribute__((warn_unused_result))
int co_queue_get(struct co_queue *q, void **itemp);
__attribute__((warn_unused_result))
int co_queue_get_timeout(struct co_queue *q, void **itemp, double timeout);

/* Take the first item if there is one: 0, -EAGAIN when empty, -EPIPE when
 * closed and empty.  Legal outside tasks. */
__attribute__((warn_unused_result))
int co_queue_get_nowait(struct co_queue *q, void **itemp);

/* Take out the first queued item equal to item (e.g. a cancelled job).  It
 * counts as done for co_queue_join, and a waiting putter takes its place.
 * 0 or -ENOENT (an item a putter is still waiting to put is not queued).
 * Legal outside tasks. */
int co_queue_remove(struct co_queue *q, void *item);

/* Withdraw a put still waiting for room: the putter waiting to put item
 * (the first, if several) returns -ECONNABORTED at once, having put
 * nothing (e.g. a job cancelled while its submitter waits for room; a
 * putter cancelled or timed out at the same moment returns that
 * instead, and has not put it either).  0, or -ENOENT if no putter waits
 * with item.  Legal outside tasks. */
int co_queue_withdraw(struct co_queue *q, void *item);

/* Close q: later puts fail with -EPIPE and so do waiting ones; getters
 * still receive the remaining items, then -EPIPE.  Idempotent. */
void co_queue_close(struct co_queue *q);

bool co_queue_closed(const struct co_queue *q);

/* Mark one item got earlier as processed.  0, or -EINVAL if called more
 * times than items were put. */
int co_queue_task_done(struct co_queue *q);

/* Wait until every item put has been marked done (co_queue_task_done) or
 * removed.  0, -ECANCELED, -ETIMEDOUT. */
__attribute__((warn_unused_result))
int co_queue_join(struct co_queue *q);
__attribute__((warn_unused_result))
int co_queue_join_timeout(struct co_queue *q, double timeout);

/* Items queued now (not counting ones already handed to getters). */
size_t co_queue_len(const struct co_queue *q);

/* The bound (0 = unbounded). */
size_t co_queue_capacity(const struct co_queue *q);

/* Change the bound live (0 = unbounded).  Growing admits waiting putters
 * in order; shrinking below the current length keeps every item and only
 * makes puts wait until it drains.  0, -EINVAL above CO_QUEUE_MAX, or
 * -ENOMEM (then nothing changed). */
int co_queue_set_capacity(struct co_queue *q, size_t capacity);

#endif /* JOBD_CO_QUEUE_H */
