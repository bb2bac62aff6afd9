/*
 * store_merge.c — a job's start and end in one batch become one write.
 *
 * A short job (a no-op, a failed exec) often starts and ends within one
 * group commit: the writer would UPDATE its row twice in a transaction,
 * and the start's UPDATE is about a third of the SQLite time per job.
 * Merged, the end's UPDATE also sets what the start would have (state
 * running was never visible to anyone: nothing reads between the two
 * inside one transaction), so the database ends in the same state.
 *
 * Only a start and its job's end with no other write of that job in
 * between merge (a requeue, a retry, a second run, a recovery keep them
 * apart).  The end's write also keeps the attempt (job_attempts) as the
 * start's and the end's would have (W_RUN_ATTEMPT in store_sqlite.c).
 * The insert is never in the same batch as the start: a worker does not
 * start a job before its insert committed (docs/SCHEMA.md, "Durability").
 * store.c applies the start on its own again if the merged write fails on
 * its own, so a merge never changes an outcome.
 *
 * Writer thread, per batch: one table of the batch's starts by job id,
 * open addressing, sized to twice their number.
 */
#include <stdint.h>
#include <stdlib.h>

#include "store_front.h"

struct slot {
	int64_t id;                     /* 0: empty (ids are >= 1) */
	struct store_req *start;        /* NULL: not mergeable any more */
};

struct table {
	struct slot *s;
	size_t mask;
};

static struct slot *
find(struct table *t, int64_t id, bool add)
{
	size_t i = (size_t)((uint64_t)id * 0x9e3779b97f4a7c15ull) & t->mask;

	while (t->s[i].id != 0 && t->s[i].id != id)
		i = (i + 1) & t->mask;
	if (t->s[i].id == 0 && !add)
		return NULL;
	t->s[i].id = id;
	return &t->s[i];
}

/* Another write of job id: its start, if any, stays alone. */
static void
touch(struct table *t, int64_t id)
{
	struct slot *sl = find(t, id, false);

	if (sl != NULL)
		sl->start = NULL;
}

static void
clear(struct table *t)
{
	for (size_t i = 0; i <= t->mask; i++)
		t->s[i].start = NULL;
}

static size_t
merge_with(struct table *t, struct wlist *batch)
{
	struct store_req *r;
	struct slot *sl;
	size_t n = 0;

	STAILQ_FOREACH(r, batch, link) {
		switch (r->w.kind) {
		case STORE_W_START:
			sl = find(t, r->w.u.start.id, true);
			sl->start = r;
			break;
		case STORE_W_END:
			sl = find(t, r->w.u.end.id, false);
			if (sl == NULL || sl->start == NULL)
				break;
			r->start = sl->start;
			r->start->absorbed = true;
			r->w.u.end.started_at = r->start->w.u.start.at;
			sl->start = NULL;
			n++;
			break;
		case STORE_W_INSERT:
			touch(t, r->w.u.ins.id);
			break;
		case STORE_W_GROUP:
			for (size_t i = 0; i < r->w.u.grp.n; i++)
				touch(t, r->w.u.grp.first_id + (int64_t)i);
			break;
		case STORE_W_REQUEUE:
			touch(t, r->w.u.requeue.id);
			break;
		case STORE_W_RETRY:
			touch(t, r->w.u.retry.id);
			break;
		case STORE_W_READY:
		case STORE_W_REVIVE:
			touch(t, r->w.u.ready.id);
			break;
		case STORE_W_PAUSE:
			break;
		default:                /* recover, prune: rows of any job */
			clear(t);
			break;
		}
	}
	return n;
}

size_t
store_merge(struct wlist *batch)
{
	struct store_req *r;
	struct table t;
	size_t starts = 0, ends = 0, cap = 16, n;

	STAILQ_FOREACH(r, batch, link) {
		starts += r->w.kind == STORE_W_START;
		ends += r->w.kind == STORE_W_END;
	}
	if (starts == 0 || ends == 0)
		return 0;
	while (cap < 2 * starts)
		cap *= 2;
	if ((t.s = calloc(cap, sizeof(*t.s))) == NULL)
		return 0;
	t.mask = cap - 1;
	n = merge_with(&t, batch);
	free(t.s);
	return n;
}
