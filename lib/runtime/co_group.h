/*
 * co_group.h — structured concurrency: task groups and gather.
 *
 * A group owns the tasks spawned into it and never lets its waiter return
 * before every one of them has ended.
 *   CO_GROUP_FAIL_FAST is asyncio.TaskGroup: the first child that returns
 *     non-zero makes the group cancel every other child; co_group_wait
 *     reports the first failure and every failure stays readable.
 *   CO_GROUP_ALL is asyncio.gather(..., return_exceptions=True): every
 *     child runs to its end whatever the others do.
 * If the waiter itself is cancelled (or its deadline scope expires) while
 * waiting, the group cancels its children, waits for all of them, and
 * returns -ECANCELED (-ETIMEDOUT).
 */
#ifndef JOBD_CO_GROUP_H
#define JOBD_CO_GROUP_H

#include <stdbool.h>
#include <stddef.h>

#include "co.h"

enum co_group_mode { CO_GROUP_ALL, CO_GROUP_FAIL_FAST };

struct co_group;

/* A new, empty group on rt.  NULL on -ENOMEM. */
struct co_group *co_group_new(struct co_rt *rt, enum co_group_mode mode);

/* Free a group.  Its waiter must have returned from co_group_wait (or no
 * child was ever spawned). */
void co_group_free(struct co_group *g);

/* Start fn(arg) as child number co_group_size() of g.  Returns 0, -ENOMEM,
 * or -ECANCELED if the group is already cancelling (fn never runs). */
__attribute__((warn_unused_result))
int co_group_spawn(struct co_group *g, co_fn fn, void *arg);

/* Wait until every child has ended.  Returns 0 if all returned 0; in
 * FAIL_FAST mode the first failing child's return value; in ALL mode the
 * first non-zero result in spawn order; -ECANCELED/-ETIMEDOUT if the wait was
 * interrupted (children then cancelled and awaited).  Call once, from a
 * task that is not a child of g. */
int co_group_wait(struct co_group *g);

/* Number of children spawned. */
size_t co_group_size(const struct co_group *g);

/* Child i (spawn order), after co_group_wait: its return value, and
 * whether the group cancelled it (a sibling failed or the wait was
 * interrupted).  A child the group cancelled is not a failure. */
int co_group_result(const struct co_group *g, size_t i, bool *cancelled);

/* Children that failed: returned non-zero, except -ECANCELED from a child
 * the group cancelled. */
size_t co_group_nfailed(const struct co_group *g);

/* ---- gather ---------------------------------------------------------------- */

struct co_gather_item {
	co_fn fn;
	void *arg;
	int result;     /* out: fn's return value, or -ENOMEM if never started */
};

/* Run every item concurrently and wait for all (CO_GROUP_ALL); results land
 * in items[i].result in submission order.  Returns 0 once all have ended,
 * or -ECANCELED/-ETIMEDOUT/-ENOMEM (children then cancelled and awaited;
 * their results are still filled in). */
int co_gather(struct co_rt *rt, struct co_gather_item *items, size_t n);

#endif /* JOBD_CO_GROUP_H */
