/*
 * timerq.h — scheduled jobs by due time: a binary min-heap on
 * (run_at, id).
 *
 * Design: a window, not every scheduled job.  jobd may hold up to
 * max_pending (10^6) scheduled jobs per queue, most of them due hours or
 * days ahead; keeping them all in memory costs a node each and buys
 * nothing.  The store keeps every scheduled job with an index on
 * (run_at, id).  The daemon keeps in this heap only the jobs due before a
 * horizon H (e.g. now + 10 minutes, and at most a few thousand jobs):
 *
 *  - a job scheduled with run_at < H goes into the heap; one further out
 *    stays only in the store;
 *  - the loop timer is armed for timerq_peek()'s run_at; due jobs are
 *    popped in (run_at, id) order and made ready in that order;
 *  - when now approaches H (or the heap empties), the daemon pages the
 *    next window from the index: rows with (run_at, id) > (H, last id)
 *    ORDER BY run_at, id LIMIT L, and sets H to the last row's run_at if
 *    the page was full (keyset paging, so ties at H are neither lost nor
 *    loaded twice), else to now + window;
 *  - a cancelled or retried ("start now") job leaves the heap with
 *    timerq_remove, or moves with timerq_update.
 *
 * Intrusive: the caller embeds a struct timerq_node; the heap is an array
 * of (key, pointer) slots that grows by doubling (no allocation per job,
 * amortised O(1)), and each node knows its slot, so insert, remove, update and pop
 * are O(log n), peek O(1).  A zeroed node is "in no heap".  Loop thread
 * only.
 */
#ifndef JOBD_TIMERQ_H
#define JOBD_TIMERQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Embedded in the caller's struct; the fields are the heap's. */
struct timerq_node {
	double run_at;          /* epoch s */
	int64_t id;
	size_t pos;             /* 1 + index in the heap; 0: not in one */
};

struct timerq_slot;

struct timerq {
	struct timerq_slot *heap;       /* private: (key, node) pairs */
	size_t count, cap;
};

#define timerq_entry(node, type, member)                                    \
	((type *)(void *)((char *)(node) - offsetof(type, member)))

/* An empty heap; timerq_fini frees its array. */
void timerq_init(struct timerq *q);
void timerq_fini(struct timerq *q);

/* Make room for n nodes, so the next inserts up to n cannot fail.  0 or
 * -ENOMEM. */
int timerq_reserve(struct timerq *q, size_t n)
    __attribute__((warn_unused_result));

/* Add n (not in a heap) due at run_at (finite) with id.  0, -EINVAL (a
 * NaN or infinite run_at, n already in a heap), -ENOMEM (q unchanged). */
int timerq_insert(struct timerq *q, struct timerq_node *n, double run_at,
    int64_t id) __attribute__((warn_unused_result));

/* The earliest node (stays in), or NULL if empty. */
struct timerq_node *timerq_peek(const struct timerq *q);

/* Remove and return the earliest node, or NULL if empty. */
struct timerq_node *timerq_pop(struct timerq *q);

/* Remove n (a no-op if it is in no heap). */
void timerq_remove(struct timerq *q, struct timerq_node *n);

/* Move n (in q) to a new run_at (finite; else -EINVAL).  0. */
int timerq_update(struct timerq *q, struct timerq_node *n, double run_at)
    __attribute__((warn_unused_result));

/* Is n in a heap? */
bool timerq_queued(const struct timerq_node *n);

/* Number of nodes. */
size_t timerq_count(const struct timerq *q);

/* Visit every node, in no particular order, until fn returns non-zero
 * (then returned).  fn must not change the heap. */
int timerq_each(const struct timerq *q,
    int (*fn)(void *arg, struct timerq_node *n), void *arg);

#endif /* JOBD_TIMERQ_H */
