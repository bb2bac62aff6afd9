/*
 * readyq.h — a queue's ready jobs in the order they start.
 *
 * The contract: lower priority (0-9) first; equal priorities in the order
 * they became ready, then by id.  Ten FIFO lists, one per priority, and a
 * bit mask of the non-empty ones: push, pop, peek and remove are O(1), no
 * comparisons.  A job becomes ready when it is pushed, so the FIFO order
 * *is* the ready order; the "then by id" tie is the caller's to keep where
 * many jobs become ready at one instant: push them in id order (the timer
 * queue pops equal run_at in id order; recovery loads rows ORDER BY
 * priority, ready order, id).
 *
 * Intrusive: the caller embeds a struct readyq_node in its job and gets
 * the job back with readyq_entry, so pushing allocates nothing and cannot
 * fail.  A node is in at most one readyq at a time; a zeroed node is "in
 * none".  Not thread-safe (loop thread only, like the jobs it holds).
 */
#ifndef JOBD_READYQ_H
#define JOBD_READYQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define READYQ_PRIOS    10      /* priorities 0 (first) .. 9 */

/* Embedded in the caller's struct; the fields are the queue's. */
struct readyq_node {
	struct readyq_node *next, *prev;
	uint64_t seq;           /* push order, for readyq_before */
	int64_t id;
	uint8_t prio;
	bool queued;
};

struct readyq {
	struct readyq_node head[READYQ_PRIOS];  /* circular list sentinels */
	size_t count[READYQ_PRIOS];
	size_t total;
	uint64_t next_seq;
	unsigned nonempty;      /* bit p: list p has nodes */
};

/* The struct that embeds node as member. */
#define readyq_entry(node, type, member)                                    \
	((type *)(void *)((char *)(node) - offsetof(type, member)))

/* An empty queue.  There is nothing to free; the lists point into q, so
 * an initialised queue must not be copied or moved. */
void readyq_init(struct readyq *q);

/* Append n (not in a queue) at priority prio (clamped to 0-9) with id. */
void readyq_push(struct readyq *q, struct readyq_node *n, int prio,
    int64_t id);

/* The next node to run (stays queued), or NULL if empty. */
struct readyq_node *readyq_peek(const struct readyq *q);

/* Remove and return the next node, or NULL if empty. */
struct readyq_node *readyq_pop(struct readyq *q);

/* Remove n wherever it is (a cancel).  A node not queued is a no-op. */
void readyq_remove(struct readyq *q, struct readyq_node *n);

/* Is n in a queue? */
bool readyq_queued(const struct readyq_node *n);

/* Jobs queued in all, and at priority prio (0 for a bad one). */
size_t readyq_count(const struct readyq *q);
size_t readyq_count_prio(const struct readyq *q, int prio);

/* Does a run before b (both queued in the same queue)? */
bool readyq_before(const struct readyq_node *a, const struct readyq_node *b);

/* Visit the nodes in run order until fn returns non-zero, which is then
 * returned.  fn must not push or pop; it may not remove either. */
int readyq_each(const struct readyq *q,
    int (*fn)(void *arg, struct readyq_node *n), void *arg);

#endif /* JOBD_READYQ_H */
