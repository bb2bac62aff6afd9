/*
 * deps.c — dependencies in the engine (`after`, `on_dependency_failure`;
 * engine_int.h): checking a submit's list, holding its job `waiting`, and
 * following what the store decided about it.
 *
 * The store is the judge.  A job with an after list is inserted waiting;
 * the store counts its dependencies not yet ended, and each end writes,
 * in the transaction that records it, what it does to the jobs waiting
 * for it: released (queued, or scheduled when their run_at is ahead) or,
 * under "cancel", cancelled with "dependency: job N ended failed", down
 * the whole chain.  Those changes come back once committed, through the
 * store's deps hook (deps_changes), and the waiting jobs here simply do
 * what the database already says: nothing is decided twice, so memory and
 * the database cannot disagree, and a crash finds the database right.
 * A waiting job is in memory (cancel, wait, stats find it) but takes no
 * room in its queue; with the scheduled ones it counts against the
 * queue's max_pending.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "idmap.h"
#include "log.h"

/* Job id of the after list must exist and be one who may `get`: else
 * not_found, as for a get (a hidden job answers as a missing one). */
static int
deps_one(struct eng *e, int64_t id, const struct eng_who *who,
    struct proto_err *err)
{
	struct store_job *sj;
	struct job *j;
	bool seen;
	int rc;

	if ((j = idmap_get(e->jobs, id)) != NULL)
		seen = user_may_see(e, who, j->uid);
	else if ((rc = store_get(e->st, id, &sj)) == 0) {
		seen = eng_may_see(e, who, &sj->submitter);
		store_job_free(sj);
	} else if (rc == -ENOENT)
		seen = false;
	else {
		proto_err_set(err, PROTO_STORAGE_ERROR, "%s", store_errmsg());
		return rc;
	}
	if (seen)
		return 0;
	proto_err_set(err, PROTO_NOT_FOUND, "field \"after\": no job %lld",
	    (long long)id);
	return -ENOENT;
}

int
deps_check(struct eng *e, const struct proto_submit *s,
    const struct eng_who *who, struct proto_err *err)
{
	int rc;

	for (size_t k = 0; k < s->nafter; k++)
		if (s->after[k] > 0 &&
		    (rc = deps_one(e, s->after[k], who, err)) < 0)
			return rc;
	return 0;
}

void
deps_row(const struct proto_submit *s, struct store_new_job *row)
{
	row->after = s->after;
	row->nafter = s->nafter;
	row->dep_run = s->dep_run;
}

/* Room for one more job not ready (scheduled or waiting) in q. */
int
deps_room(const struct equeue *q)
{
	return q->scheduled + q->waiting >= (size_t)q->max_pending ?
	    -ENOSPC : 0;
}

/* A new or recovered job with dependencies waits for them. */
void
deps_wait(struct job *j)
{
	job_move(j, J_WAITING);
	j->q->waiting++;
}

/* j leaves J_WAITING otherwise than by the store (a cancel, a lost
 * insert). */
void
deps_unwait(struct job *j)
{
	j->q->waiting--;
}

static void
deps_release(struct job *j, enum store_state state)
{
	deps_unwait(j);
	log_debug("job %lld: its dependencies ended: %s", (long long)j->id,
	    store_state_name(state));
	if (state == STORE_SCHEDULED) {
		job_move(j, J_SCHEDULED);
		j->delayed = true;
		sched_add(j);
	} else {
		j->ready_at = store_now();
		(void)queue_force(j->q, j);
		queue_enter(j);
	}
	job_observe(j, state);
}

/* Cancelled by the store in the end's transaction: already recorded. */
static void
deps_cancelled(struct job *j, const struct store_dep_change *c)
{
	struct eng *e = j->e;

	deps_unwait(j);
	free(j->cancel_reason);
	j->cancel_reason = c->reason != NULL ? strdup(c->reason) : NULL;
	j->stop = STOP_CANCEL;
	j->end_state = STORE_CANCELLED;
	j->end_at = c->at;
	job_move(j, J_ENDING);
	e->c.ended[STORE_CANCELLED]++;
	log_debug("job %lld: cancelled (%s)", (long long)j->id,
	    c->reason != NULL ? c->reason : "dependency");
	end_recorded(j);
}

/* Waiting jobs this daemon holds that another daemon's end released or
 * cancelled (job_notes, store_pg_span.c), taken with the cancels asked of
 * it (nodes.c): released to queued, the row is pooled and no longer this
 * daemon's; to scheduled, still its; cancelled, recorded. */
void
deps_moved(struct eng *e, const struct store_dep_change *c, size_t n)
{
	struct job *j;

	for (size_t i = 0; i < n; i++) {
		if ((j = idmap_get(e->jobs, c[i].id)) == NULL ||
		    j->where != J_WAITING)
			continue;
		if (c[i].state == STORE_CANCELLED) {
			deps_cancelled(j, &c[i]);
		} else if (c[i].state == STORE_SCHEDULED) {
			deps_release(j, c[i].state);
		} else {
			deps_unwait(j);
			log_debug("job %lld: its dependencies ended; pooled for "
			    "any daemon", (long long)j->id);
			job_observe(j, STORE_QUEUED);
			job_handoff(j);
		}
	}
}

struct deps_ids {
	int64_t *ids;
	size_t n;
};

static int
deps_lost_one(void *arg, int64_t id, void *val)
{
	struct deps_ids *l = arg;
	struct job *j = val;

	if (j->where == J_WAITING)
		l->ids[l->n++] = id;
	return 0;
}

/* This daemon's lease lapsed and another daemon took its rows (nodes.c),
 * the waiting ones among them: they are the taker's, and the notes about
 * them were dropped with this daemon's (store_pg_node.c). */
void
deps_lost(struct eng *e)
{
	struct deps_ids l = { NULL, 0 };
	struct job *j;

	if (idmap_count(e->jobs) == 0 ||
	    (l.ids = calloc(idmap_count(e->jobs), sizeof(*l.ids))) == NULL)
		return;
	(void)idmap_each(e->jobs, deps_lost_one, &l);
	for (size_t i = 0; i < l.n; i++) {
		if ((j = idmap_get(e->jobs, l.ids[i])) == NULL ||
		    j->where != J_WAITING)
			continue;
		deps_unwait(j);
		log_debug("job %lld: waiting, taken by another daemon",
		    (long long)j->id);
		job_handoff(j);
	}
	free(l.ids);
}

/* j, waiting here, was pooled by another daemon's end and claimed back by
 * this one before the note came: it simply runs here. */
void
deps_reclaimed(struct job *j)
{
	if (j->where == J_WAITING)
		deps_release(j, STORE_QUEUED);
}

/* The store's hook (store_deps_hook): waiting jobs it moved in a write
 * that has just committed.  A job not waiting here any more (cancelled
 * meanwhile: its own end write then finds it ended) is left alone. */
void
deps_changes(void *arg, const struct store_dep_change *c, size_t n)
{
	struct eng *e = arg;
	struct job *j;

	for (size_t i = 0; i < n; i++) {
		if ((j = idmap_get(e->jobs, c[i].id)) == NULL ||
		    j->where != J_WAITING)
			continue;
		if (c[i].state == STORE_CANCELLED)
			deps_cancelled(j, &c[i]);
		else
			deps_release(j, c[i].state);
	}
}
