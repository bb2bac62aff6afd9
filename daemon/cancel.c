/*
 * cancel.c — stopping a job wherever it is (cancel_stop), and the cancel
 * operations of engine.h for a job and for a group.
 *
 * A cancel never ends a job itself but where that is safe at once (not
 * yet put, or still in its queue); otherwise it marks the job and the
 * code holding it (its submitter, its worker) ends it through end_job.
 * Who may cancel what is users.c's to say.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "idmap.h"

/* Stop j, wherever it is, with reason; returns at once.  Its end comes
 * through end_job like any other. */
void
cancel_stop(struct job *j, const char *reason)
{
	if (j->where == J_ENDING || j->stop == STOP_CANCEL)
		return;
	j->stop = STOP_CANCEL;
	free(j->cancel_reason);
	j->cancel_reason = strdup(reason != NULL ? reason : "cancelled");
	switch (j->where) {
	case J_NEW:             /* its group's submitter has not put it yet */
		end_job(j, STORE_CANCELLED, NULL, NULL);
		break;
	case J_INQ:
		if (queue_remove(j) == 0)
			end_job(j, STORE_CANCELLED, NULL, NULL);
		/* else taken by a worker that has yet to move it: it checks */
		break;
	case J_SCHEDULED:
		if (j->retrying)        /* end_flush ends it once written */
			break;
		sched_remove(j);
		end_job(j, STORE_CANCELLED, NULL, NULL);
		break;
	case J_RUNNING:
		if (j->parked)
			park_stop(j);
		else
			co_cancel(j->task);
		break;
	case J_PUTTING:
		/* Its group's submitter waits for room for it, which may
		 * never come: withdrawn, it ends it at once (group.c).  If
		 * the put is done already the submitter checks it in. */
		queue_withdraw(j);
		break;
	case J_WAITING:         /* its dependants hear of it from the store */
		deps_unwait(j);
		end_job(j, STORE_CANCELLED, NULL, NULL);
		break;
	case J_TAKEN:           /* the worker checks after the insert */
	case J_ENDING:
	case J_NWHERE:
		break;
	}
}

/* eng_cancel_job (engine.h). */
int
cancel_one(struct eng *e, int64_t id, const struct eng_who *who,
    const char *reason, struct proto_err *err)
{
	struct job *j = idmap_get(e->jobs, id);
	int rc;

	if (j == NULL)
		j = page_fetch(e, id);  /* scheduled, due past the window */
	if (j == NULL && e->nodes != NULL)     /* another daemon may hold it */
		return node_cancel_remote(e, id, who, reason, err);
	if (j == NULL || !user_may_see(e, who, j->uid))
		return -ENOENT;
	if ((rc = user_may_cancel(e, who, j, err)) < 0)
		return rc;
	cancel_stop(j, reason);
	rc = co_waitq_wait(&j->doneq, CO_FOREVER, NULL);        /* j may go */
	if (rc < 0 || rc == STORE_CANCELLED)
		return rc < 0 ? rc : 0;
	proto_err_set(err, PROTO_NOT_CANCELLABLE, "job %lld ended %s before "
	    "it could be cancelled", (long long)id, store_state_name(rc));
	return -EALREADY;
}

/* The ids of g's jobs not ended into ids (g->n of room); 0 and *np,
 * -ENOENT if who may not see one of them, or -EPERM if who may not cancel
 * one (all or none: a group another user shares is not cut in half). */
static int
cancel_collect(struct eng *e, struct egroup *g, const struct eng_who *who,
    int64_t *ids, size_t *np, struct proto_err *err)
{
	size_t i, n = 0;

	for (i = 0; i < g->n; i++) {
		if (g->jobs[i] == NULL || g->jobs[i]->where == J_ENDING)
			continue;
		if (!user_may_see(e, who, g->jobs[i]->uid))
			return -ENOENT;
		if (user_may_cancel(e, who, g->jobs[i], err) < 0) {
			proto_err_prefix(err, "group %lld: ", (long long)g->id);
			return -EPERM;
		}
		ids[n++] = g->jobs[i]->id;
	}
	*np = n;
	return 0;
}

/* The members of g this daemon holds, stopped and waited for. */
static int
cancel_here(struct eng *e, struct egroup *g, const struct eng_who *who,
    const char *reason, int64_t **idsp, size_t *np, struct proto_err *err)
{
	int64_t *ids, gid = g->id;
	size_t i, n = 0;
	int rc;

	if ((ids = calloc(g->n, sizeof(*ids))) == NULL)
		return -ENOMEM;
	if ((rc = cancel_collect(e, g, who, ids, &n, err)) == 0 && n == 0)
		rc = -ENOENT;
	if (rc < 0) {
		free(ids);
		return rc;
	}
	for (i = 0; i < n; i++) {
		struct job *j = idmap_get(e->jobs, ids[i]);

		if (j != NULL)
			cancel_stop(j, reason);
	}
	*idsp = ids;
	*np = n;
	if ((g = idmap_get(e->groups, gid)) == NULL || g->live == 0)
		return 0;
	return eng_wait_on(&g->doneq, CO_FOREVER);
}

/* eng_cancel_group (engine.h).  Several daemons: then the members pooled
 * or held by other daemons (nodes.c). */
int
cancel_members(struct eng *e, int64_t gid, const struct eng_who *who,
    const char *reason, int64_t **idsp, size_t *np, struct proto_err *err)
{
	struct egroup *g = idmap_get(e->groups, gid);
	int rc = -ENOENT;

	*idsp = NULL;
	*np = 0;
	if (g != NULL && g->live > 0 &&
	    (rc = cancel_here(e, g, who, reason, idsp, np, err)) < 0 &&
	    rc != -ENOENT)
		return rc;
	if (e->nodes == NULL ||
	    (rc = node_cancel_group(e, gid, who, reason, idsp, np, err)) == 0)
		return rc;
	if (rc == -EPERM || rc == -ENOENT) {    /* answered without ids */
		free(*idsp);
		*idsp = NULL;
		*np = 0;
	}
	return rc;
}
