/*
 * group.c — groups of jobs: submitting one (all or nothing), fail_fast,
 * and a member's end.  Owns struct egroup.
 *
 * A group is inserted first (one write, all or nothing) and its jobs then
 * enter their queues as room frees: a group larger than its queue could
 * otherwise never be recorded.  A member cancelled while it waits for
 * room (a cancel, fail_fast) has its put withdrawn and ends at once: room
 * held by other jobs may never free.  The group stays in memory until
 * its last member's end has committed and no code walks it (`holds`).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "idmap.h"
#include "log.h"

/* fail_fast: member id ended failed or timed_out; cancel the others. */
void
group_trip(struct egroup *g, int64_t id, enum store_state state,
    const char *error)
{
	char reason[PROTO_REASON_MAX];
	size_t i;

	g->tripped = true;
	snprintf(reason, sizeof(reason), "fail_fast: job %lld of group %lld "
	    "ended %s%s%.900s%s", (long long)id, (long long)g->id,
	    store_state_name(state), error != NULL ? " (" : "",
	    error != NULL ? error : "", error != NULL ? ")" : "");
	for (i = 0; i < g->n; i++)
		if (g->jobs[i] != NULL && g->jobs[i]->id != id)
			cancel_stop(g->jobs[i], reason);
}

void
group_free(struct egroup *g)
{
	if (g->id > 0 && idmap_get(g->e->groups, g->id) == g)
		idmap_del(g->e->groups, g->id);
	free(g->trip_error);
	free(g->jobs);
	free(g);
}

/* A member's end has committed (or failed to).  The group goes when its
 * last member has ended and its submitter is done with it. */
void
group_member_done(struct egroup *g, struct job *j, int status)
{
	if (j->id >= g->first && (size_t)(j->id - g->first) < g->n)
		g->jobs[j->id - g->first] = NULL;
	if (status < 0)
		g->failed_write = true;
	if (--g->live > 0)
		return;
	co_waitq_wake_all(&g->doneq, g->failed_write ? -EIO : 0);
	if (g->holds == 0)
		group_free(g);
}

/* ---- submitting ------------------------------------------------------------ */

static void
group_inserted(void *arg, int status)
{
	struct egroup *g = arg;
	struct eng_ack ack = { .id = g->first, .group = g->id, .n = g->n };
	size_t i;

	submit_completed(g->e);
	if (status == 0) {
		g->e->c.submitted += g->n;
		end_retry_soon(g->e);
	} else {
		g->e->c.store_errors++;
	}
	g->done(g->done_arg, status, &ack);
	g->holds++;
	for (i = 0; i < g->n; i++) {
		struct job *j = g->jobs[i];

		if (j == NULL)
			continue;
		if (status == 0) {
			log_debug("job %lld: %s (queue %s, group %lld)",
			    (long long)j->id, j->pooled ? "pooled" : "queued",
			    j->q->name, (long long)g->id);
			j->inserted = true;
			job_observe(j, j->has_deps ? STORE_WAITING :
			    j->delayed ? STORE_SCHEDULED : STORE_QUEUED);
			co_waitq_wake_all(&j->insertq, 0);
			if (j->pooled)          /* whoever claims it holds it */
				job_handoff(j);
		} else {
			job_lost(j);
		}
	}
	if (--g->holds == 0 && g->live == 0)
		group_free(g);
}

/* nowait: does every job fit its queue now? */
static int
group_fits(struct eng *e, struct equeue **qs, size_t n, struct proto_err *err)
{
	struct equeue *q;
	size_t i;
	int rc = 0;

	TAILQ_FOREACH(q, &e->queues, link)
		q->tmp = 0;
	for (i = 0; i < n; i++)
		qs[i]->tmp++;
	TAILQ_FOREACH(q, &e->queues, link)
		if (q->tmp > 0 && queue_len(q) + q->tmp >
		    (size_t)q->capacity) {
			proto_err_set(err, PROTO_QUEUE_FULL, "queue %s has no "
			    "room for %zu jobs (capacity %d, %zu queued)",
			    q->name, q->tmp, q->capacity, queue_len(q));
			rc = -EAGAIN;
			break;
		}
	return rc;
}

static struct egroup *
group_new(struct eng *e, const struct proto_submit_group *pg,
    struct equeue **qs, const struct kind **ks, const struct eng_who *who)
{
	struct egroup *g;
	size_t i;

	if ((g = calloc(1, sizeof(*g))) == NULL ||
	    (g->jobs = calloc(pg->njobs, sizeof(*g->jobs))) == NULL) {
		free(g);
		return NULL;
	}
	g->e = e;
	g->n = pg->njobs;
	g->mode = pg->mode == PROTO_GROUP_FAIL_FAST ? STORE_GROUP_FAIL_FAST :
	    STORE_GROUP_ALL;
	co_waitq_init(&g->doneq);
	for (i = 0; i < g->n; i++) {
		if ((g->jobs[i] = job_from(e, qs[i], ks[i],
		    &pg->jobs[i], who)) == NULL) {
			while (i-- > 0)
				job_free(g->jobs[i]);
			free(g->jobs);
			free(g);
			return NULL;
		}
		g->jobs[i]->g = g;
	}
	g->live = g->n;
	return g;
}

static void
group_discard(struct egroup *g)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		job_free(g->jobs[i]);
	free(g->jobs);
	free(g);
}

/* Track the group and its jobs under the ids the insert gave. */
static void
group_track(struct eng *e, struct egroup *g, const int64_t *ids)
{
	size_t i;

	for (i = 0; i < g->n; i++) {
		g->jobs[i]->id = ids[i];
		if (idmap_put(e->jobs, ids[i], g->jobs[i]) < 0)
			log_warnx("job %lld: not tracked: out of memory",
			    (long long)ids[i]);
	}
	g->first = ids[0];
	if (idmap_put(e->groups, g->id, g) < 0)
		log_warnx("group %lld: not tracked: out of memory",
		    (long long)g->id);
}

/* Several daemons: the members that would only wait here go to the pool
 * (pool.c), each queue keeping as many as it has workers free. */
static void
group_pool(struct eng *e, struct egroup *g,
    const struct proto_submit_group *pg, struct store_new_job *rows)
{
	struct equeue *q;

	TAILQ_FOREACH(q, &e->queues, link)
		q->tmp = 0;
	for (size_t i = 0; i < g->n; i++) {
		struct job *j = g->jobs[i];

		if (pool_wanted(e, j, &pg->jobs[i], j->q->tmp))
			rows[i].pooled = j->pooled = true;
		else
			j->q->tmp++;
	}
}

/* Insert the group in one write; ids are known at once. */
static int
group_insert(struct eng *e, struct egroup *g,
    const struct proto_submit_group *pg, const struct eng_who *who,
    struct proto_err *err)
{
	struct store_new_job *rows;
	char **texts;
	int64_t *ids;
	size_t i, n = g->n;
	int rc = -ENOMEM;

	rows = calloc(n, sizeof(*rows));
	texts = calloc(n, sizeof(*texts));
	ids = calloc(n, sizeof(*ids));
	for (i = 0; rows != NULL && texts != NULL && ids != NULL && i < n; i++)
		if ((pg->jobs[i].name != NULL && (g->jobs[i]->name =
		    strdup(pg->jobs[i].name)) == NULL) ||
		    job_row(g->jobs[i], &pg->jobs[i], who, &rows[i],
		    &texts[i]) < 0)
			break;
		else
			deps_row(&pg->jobs[i], &rows[i]);
	if (ids != NULL && i == n)
		group_pool(e, g, pg, rows);
	if (ids != NULL && i == n &&
	    (rc = store_insert_group_take(e->st, g->mode, rows, n, &g->id,
	    ids, group_inserted, g)) == 0) {
		e->ins_sent++;
		rows = NULL;            /* the write's now, not a copy */
	}
	if (rc < 0)
		proto_err_set(err, rc == -ESHUTDOWN ? PROTO_SHUTTING_DOWN :
		    rc == -ENOMEM ? PROTO_INTERNAL : PROTO_STORAGE_ERROR, "%s",
		    rc == -ENOMEM ? "out of memory" : store_errmsg());
	if (rc == 0)
		group_track(e, g, ids);
	for (i = 0; texts != NULL && i < n; i++)
		free(texts[i]);
	free(texts);
	free(rows);
	free(ids);
	return rc;
}

/* Put the group's jobs into their queues in order, waiting for room
 * unless nowait.  If this task is cancelled (its client left, or jobd
 * stops) the rest go in past capacity: they are recorded and must run. */
static void
group_enter(struct egroup *g, bool nowait)
{
	bool force = nowait;
	struct job *j;
	size_t i;
	int rc;

	for (i = 0; i < g->n; i++) {
		if ((j = g->jobs[i]) == NULL || j->where != J_NEW ||
		    j->pooled)
			continue;
		if (j->has_deps) {              /* the store releases it */
			deps_wait(j);
			continue;
		}
		if (j->delayed) {               /* not ready: no room needed */
			job_move(j, J_SCHEDULED);
			sched_add(j);
			continue;
		}
		job_move(j, J_PUTTING);
		rc = force ? -EAGAIN : queue_put(j->q, j, false);
		if (rc == -ECONNABORTED) {
			/* Cancelled while waiting for room (cancel_stop):
			 * it ends now, without taking any. */
			job_move(j, J_NEW);
			end_job(j, STORE_CANCELLED, NULL, NULL);
			continue;
		}
		if (rc < 0) {
			force = true;
			if (queue_force(j->q, j) < 0) {
				log_warnx("job %lld: cannot enter queue %s: "
				    "out of memory", (long long)j->id,
				    j->q->name);
				job_move(j, J_NEW);
				continue;
			}
		}
		queue_enter(j);
	}
}

/* Check every job of pg; *qs and *ks (malloc'd) their queues and kinds. */
static int
group_check(struct eng *e, const struct proto_submit_group *pg,
    const struct eng_who *who, struct equeue **qs, const struct kind **ks,
    struct proto_err *err)
{
	size_t i;
	int rc;

	for (i = 0; i < pg->njobs; i++)
		if ((rc = submit_check(e, &pg->jobs[i], &qs[i], &ks[i],
		    err)) < 0 || (rc = deps_check(e, &pg->jobs[i], who,
		    err)) < 0) {
			proto_err_prefix(err, "jobs[%zu]: ", i);
			return rc;
		}
	if ((rc = user_limit(e, who, pg->njobs, err)) < 0)
		return rc;
	return pg->nowait ? group_fits(e, qs, pg->njobs, err) : 0;
}

/* eng_submit_group (engine.h). */
int
group_submit(struct eng *e, const struct proto_submit_group *pg,
    const struct eng_who *who, eng_done_fn done, void *arg,
    struct proto_err *err)
{
	struct equeue **qs = NULL;
	const struct kind **ks = NULL;
	struct egroup *g = NULL;
	int rc = -ENOMEM;

	if ((qs = calloc(pg->njobs, sizeof(*qs))) == NULL ||
	    (ks = calloc(pg->njobs, sizeof(*ks))) == NULL)
		goto oom;
	if ((rc = group_check(e, pg, who, qs, ks, err)) < 0)
		goto out;
	if ((g = group_new(e, pg, qs, ks, who)) == NULL)
		goto oom;
	g->done = done;
	g->done_arg = arg;
	if ((rc = group_insert(e, g, pg, who, err)) < 0) {
		group_discard(g);
		goto out;
	}
	g->holds++;
	group_enter(g, pg->nowait);
	if (--g->holds == 0 && g->live == 0)
		group_free(g);
	rc = 0;
	goto out;
oom:
	proto_err_set(err, PROTO_INTERNAL, "out of memory");
	rc = -ENOMEM;
out:
	free(qs);
	free(ks);
	return rc;
}

/* ---- recovery's part --------------------------------------------------------- */

/* fail_fast at recovery: a member failed before the crash; the trip is
 * done once every member is back (recover.c). */
static void
group_note_trip(struct eng *e, struct egroup *g, struct store_job **rows,
    size_t n)
{
	size_t i;

	for (i = 0; i < n && g->mode == STORE_GROUP_FAIL_FAST; i++)
		if ((rows[i]->state == STORE_FAILED ||
		    rows[i]->state == STORE_TIMED_OUT) && g->trip_id == 0) {
			g->trip_id = rows[i]->id;
			g->trip_state = rows[i]->state;
			g->trip_error = rows[i]->error != NULL ?
			    strdup(rows[i]->error) : NULL;
			SLIST_INSERT_HEAD(&e->trips, g, trip_link);
		}
}

/* The in-memory group of a recovered job, built from the store once. */
struct egroup *
group_load(struct eng *e, int64_t gid)
{
	struct store_group sg;
	struct store_job **rows = NULL;
	struct egroup *g;
	size_t n = 0;

	if ((g = idmap_get(e->groups, gid)) != NULL)
		return g;
	if (store_group_get(e->st, gid, &sg) < 0 ||
	    store_group_jobs(e->st, gid, &rows, &n) < 0 || n == 0 ||
	    (g = calloc(1, sizeof(*g))) == NULL ||
	    (g->jobs = calloc(n, sizeof(*g->jobs))) == NULL ||
	    idmap_put(e->groups, gid, g) < 0) {
		if (g != NULL)
			free(g->jobs);
		free(g);
		store_jobs_free(rows, n);
		return NULL;
	}
	g->e = e;
	g->id = gid;
	g->mode = sg.mode;
	g->n = n;
	g->first = rows[0]->id;
	co_waitq_init(&g->doneq);
	group_note_trip(e, g, rows, n);
	store_jobs_free(rows, n);
	return g;
}

static int
group_free_one(void *arg, int64_t id, void *val)
{
	struct egroup *g = val;

	(void)arg;
	(void)id;
	free(g->trip_error);
	free(g->jobs);
	free(g);
	return 0;
}

/* eng_free's part: the groups still in memory. */
void
group_free_all(struct eng *e)
{
	if (e->groups != NULL)
		idmap_each(e->groups, group_free_one, NULL);
}
