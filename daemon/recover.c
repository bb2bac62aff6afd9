/*
 * recover.c — crash recovery, once at start: the jobs the last run left
 * queued or running go back into their queues (past capacity: they are
 * recorded and must run), with their groups; jobs whose queue or kind is
 * gone end failed; a fail_fast group a member of which failed before the
 * crash is tripped once every member is back.  The store does the rows
 * (store_recover); this file rebuilds memory from them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "idmap.h"
#include "kind.h"
#include "log.h"

/* Why the recovered j cannot go back into q (msg, empty if it can): its
 * queue or kind is gone.  A job running at the crash that is not safe to
 * run again was ended by the store already (recover_rerun). */
static void
recover_check(struct job *j, struct equeue *q, const struct store_job *sj,
    char *msg, size_t len)
{
	msg[0] = '\0';
	if (q == NULL || !q->configured)
		snprintf(msg, len, "queue %.64s is no longer configured",
		    sj->queue);
	else if (j->kind == NULL)
		snprintf(msg, len, "kind %.64s is no longer known", sj->kind);
	else if (j->args == NULL)
		snprintf(msg, len, "its args are not valid JSON");
}

/* The lifecycle's fields of the row. */
static void
recover_life(struct job *j, const struct store_job *sj)
{
	j->priority = sj->priority;
	j->retries = sj->retries;
	j->retried = sj->retried;
	j->run_base = sj->run_base;
	j->backoff.delay = sj->retry_delay;
	j->backoff.max_delay = sj->retry_max_delay;
	j->backoff.mode = sj->retry_backoff == STORE_BACKOFF_FIXED ?
	    BACKOFF_FIXED : BACKOFF_EXPONENTIAL;
	j->run_at = sj->run_at;
	j->idempotent = sj->idempotent == STORE_IDEM_UNSET ? -1 :
	    sj->idempotent == STORE_IDEM_YES;
}

/* j joins its group g (NULL: none), as its member by id. */
static void
recover_join(struct job *j, struct egroup *g)
{
	if (g == NULL || j->id < g->first || j->id - g->first >= (int64_t)g->n)
		return;
	j->g = g;
	g->jobs[j->id - g->first] = j;
	g->live++;
}

/* The job in memory for row sj (tracked, counted for its user), or NULL
 * (ENOMEM).  Also the retry op's. */
struct job *
recover_job(struct eng *e, struct equeue *q, const struct store_job *sj)
{
	json_t *args = json_loads(sj->args, JSON_DECODE_ANY, NULL);
	struct job *j;

	j = job_new(e, q, kind_find(sj->kind), args, sj->timeout,
	    sj->max_attempts);
	json_decref(args);
	if (j != NULL && sj->submitter.known)
		j->uid = sj->submitter.uid;     /* recovered jobs count too */
	if (j == NULL || user_count(j) < 0 ||
	    idmap_put(e->jobs, sj->id, j) < 0) {
		if (j != NULL)
			job_free(j);
		return NULL;
	}
	j->id = sj->id;
	j->attempts = sj->attempts;
	j->inserted = true;
	recover_life(j, sj);
	j->created_at = sj->created_at;
	j->started_at = sj->started_at;
	j->name = sj->name != NULL ? strdup(sj->name) : NULL; /* NULL: none */
	return j;
}

/* Row sj (taken: freed here) back into memory: its queue, its timer, or
 * its end; at start and when a node takes another's jobs (nodes.c). */
int
recover_one(void *arg, struct store_job *sj)
{
	struct eng *e = arg;
	struct equeue *q = queue_find(e, sj->queue);
	struct egroup *g = NULL;
	char msg[160];
	struct job *j;

	if (sj->group_id != 0 && (g = group_load(e, sj->group_id)) == NULL)
		log_warnx("group %lld: cannot load it: %s",
		    (long long)sj->group_id, store_errmsg());
	if (sj->state != STORE_QUEUED && sj->state != STORE_SCHEDULED &&
	    sj->state != STORE_WAITING) {
		store_job_free(sj);     /* ended by the recovery */
		return 0;
	}
	if ((j = recover_job(e, q, sj)) == NULL) {
		store_job_free(sj);
		return -ENOMEM;
	}
	recover_join(j, g);
	recover_check(j, q, sj, msg, sizeof(msg));
	if (msg[0] != '\0') {
		end_job(j, STORE_FAILED, NULL, msg);
	} else if (sj->state == STORE_WAITING) {
		j->has_deps = true;             /* the store releases it */
		deps_wait(j);
	} else if (sj->state == STORE_SCHEDULED) {
		job_move(j, J_SCHEDULED);       /* its run_at, even if past */
		sched_add(j);
	} else {
		(void)queue_force(q, j);
		queue_enter(j);
	}
	store_job_free(sj);
	return 0;
}

/* A scheduled job the horizon left out that must be in memory all the
 * same (a group's member: page.c), recovered as the others were. */
int
recover_fetch(struct eng *e, int64_t id)
{
	struct store_job *sj;
	int rc;

	if ((rc = store_get(e->st, id, &sj)) < 0)
		return rc == -ENOENT ? 0 : rc;
	return recover_one(e, sj);
}

/* The store's rule for a job a crash interrupted (store_rerun_fn): the
 * kind's, or what the submit said (idempotent).  On the store's writer
 * thread: kind_rerun and the args' parse touch nothing shared. */
static bool
recover_rerun(void *arg, const struct store_job *sj, char *error, size_t len)
{
	static const enum kind_idem idem[] = {
		[STORE_IDEM_UNSET] = KIND_IDEM_UNSET,
		[STORE_IDEM_NO] = KIND_IDEM_NO,
		[STORE_IDEM_YES] = KIND_IDEM_YES,
	};
	json_t *args = json_loads(sj->args, JSON_DECODE_ANY, NULL);
	char why[KIND_WHY_MAX];
	bool ok;

	(void)arg;
	ok = kind_rerun(kind_find(sj->kind), args, idem[sj->idempotent], why,
	    sizeof(why));
	json_decref(args);
	if (!ok)
		kind_rerun_error(error, len, why);
	return ok;
}

/* Trip the fail_fast groups recovered with a member failed. */
void
recover_trips(struct eng *e)
{
	struct egroup *g;

	while ((g = SLIST_FIRST(&e->trips)) != NULL) {
		SLIST_REMOVE_HEAD(&e->trips, trip_link);
		g->tripped = true;
		g->holds++;
		group_trip(g, g->trip_id, g->trip_state, g->trip_error);
		if (--g->holds == 0 && g->live == 0)
			group_free(g);
	}
}

/* eng_recover (engine.h). */
int
recover_run(struct eng *e)
{
	struct store_recovery rep;
	int rc;

	store_recover_rule(e->st, recover_rerun, NULL);
	store_recover_horizon(e->st, page_horizon(e));
	if ((rc = store_recover(e->st, recover_one, e, &rep)) < 0 ||
	    (rc = page_recover(e)) < 0)
		return rc;
	recover_trips(e);
	if (rep.queued + rep.requeued + rep.failed > 0)
		log_info("recovered %zu queued jobs, %zu interrupted ones run "
		    "again, %zu ended failed (%zu of them not safe to run "
		    "again)", rep.queued, rep.requeued, rep.failed,
		    rep.refused);
	return 0;
}
