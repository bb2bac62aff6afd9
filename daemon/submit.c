/*
 * submit.c — checking a submit and recording a lone job.
 *
 * A lone submit waits for room first and is inserted once it holds a
 * place in its queue, so a submit interrupted while it waits (jobd
 * stopping) leaves no row behind.  The submitter hears "accepted" only
 * from the insert's commit (submit_inserted).  group.c records groups the
 * other way round (inserted first), with the checks here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "idmap.h"
#include "kind.h"
#include "log.h"

/* Check one job's fields: its queue, its kind, the kind's args. */
int
submit_check(struct eng *e, const struct proto_submit *s, struct equeue **qp,
    const struct kind **kp, struct proto_err *err)
{
	struct equeue *q = queue_find(e, s->queue);

	if (q == NULL || !q->configured) {
		proto_err_set(err, PROTO_UNKNOWN_QUEUE, "no queue named \"%s\"",
		    s->queue);
		return -EINVAL;
	}
	if ((*kp = kind_find(s->kind)) == NULL) {
		proto_err_set(err, PROTO_UNKNOWN_KIND, "no job kind named "
		    "\"%s\"", s->kind);
		return -EINVAL;
	}
	if (kind_env_allowed(e->kenv, *kp, err) < 0)
		return -EPERM;
	if ((*kp)->check(s->args, err) < 0)
		return -EINVAL;
	*qp = q;
	return 0;
}

int
submit_stopping(struct proto_err *err)
{
	proto_err_set(err, PROTO_SHUTTING_DOWN, "jobd is stopping");
	return -ESHUTDOWN;
}

static int
submit_put_error(int rc, const struct equeue *q, struct proto_err *err)
{
	if (rc == -EAGAIN)
		proto_err_set(err, PROTO_QUEUE_FULL, "queue %s is at capacity "
		    "(%d)", q->name, q->capacity);
	else if (rc == -ENOSPC)
		proto_err_set(err, PROTO_QUEUE_FULL, "queue %s holds "
		    "max_pending (%d) scheduled and waiting jobs", q->name,
		    q->max_pending);
	else if (rc == -ECANCELED || rc == -EPIPE)
		proto_err_set(err, PROTO_SHUTTING_DOWN, "jobd is stopping");
	else
		proto_err_set(err, PROTO_INTERNAL, "queue %s: %s", q->name,
		    strerror(-rc));
	return rc;
}

/* An insert has completed: inserts complete in the order they were sent,
 * so "done >= n" means the first n have. */
void
submit_completed(struct eng *e)
{
	e->ins_done++;
	if (!co_waitq_empty(&e->settleq))
		co_waitq_wake_all(&e->settleq, 0);
}

static void
submit_inserted(void *arg, int status)
{
	struct job *j = arg;
	struct eng_ack ack = { .id = j->id, .n = 1 };
	eng_done_fn done = j->done;
	void *darg = j->done_arg;

	j->done = NULL;
	submit_completed(j->e);
	if (status == -EEXIST) {        /* its key or slot is held */
		ack.id = j->dup_id;
		ack.duplicate = true;
		log_debug("job %lld: a duplicate of job %lld, not made",
		    (long long)j->id, (long long)j->dup_id);
		j->e->c.duplicates++;
		job_duplicate(j, j->dup_id);
		done(darg, 0, &ack);
		job_lost(j);
		return;
	}
	if (status == 0) {
		log_debug("job %lld: queued (queue %s)", (long long)j->id,
		    j->q->name);
		j->inserted = true;
		j->e->c.submitted++;
		end_retry_soon(j->e);
		job_observe(j, j->has_deps ? STORE_WAITING : j->delayed ?
		    STORE_SCHEDULED : STORE_QUEUED);
		co_waitq_wake_all(&j->insertq, 0);
	} else {
		j->e->c.store_errors++;
	}
	done(darg, status, &ack);       /* store_errmsg() still valid */
	if (status < 0)
		job_lost(j);
	else if (j->delayed)
		page_settle(j);         /* due past the window: out it goes */
}

/* The row's unique key or schedule slot, if s has one: the store then
 * tells a duplicate (-EEXIST) and puts the holder's id in j->dup_id. */
void
submit_unique(struct job *j, const struct proto_submit *s,
    struct store_new_job *row)
{
	row->unique_key = s->unique_key;
	row->unique_for = s->unique_for;
	row->schedule = s->schedule;
	row->slot = s->slot;
	if (s->unique_key != NULL || s->schedule != NULL)
		row->existing = &j->dup_id;
}

/* Send j's insert (pooled: held by no daemon, pool.c), cb(j) at its
 * commit. */
int
submit_send(struct eng *e, struct job *j, const struct proto_submit *s,
    const struct eng_who *who, bool pooled, store_cb cb)
{
	struct store_new_job row;
	char *text;
	int rc;

	if (s->name != NULL && (j->name = strdup(s->name)) == NULL)
		rc = -ENOMEM;
	else if ((rc = job_row(j, s, who, &row, &text)) == 0) {
		submit_unique(j, s, &row);
		row.pooled = pooled;
		deps_row(s, &row);
		rc = store_insert(e->st, &row, &j->id, cb, j);
		free(text);
		e->ins_sent += rc == 0;
	}
	return rc;
}

/* Record a job that holds its place in the queue. */
static int
submit_insert(struct eng *e, struct job *j, const struct proto_submit *s,
    const struct eng_who *who, struct proto_err *err)
{
	int rc = submit_send(e, j, s, who, false, submit_inserted);

	if (rc == 0 && (rc = idmap_put(e->jobs, j->id, j)) < 0)
		log_warnx("job %lld: not tracked: out of memory",
		    (long long)j->id);      /* runs; cancel will not find it */
	if (rc < 0 && j->id == 0) {
		proto_err_set(err, rc == -ESHUTDOWN ? PROTO_SHUTTING_DOWN :
		    PROTO_STORAGE_ERROR, "%s", store_errmsg());
		return rc;
	}
	return 0;
}

/* eng_submit (engine.h). */
int
submit_job(struct eng *e, const struct proto_submit *s,
    const struct eng_who *who, eng_done_fn done, void *arg,
    struct proto_err *err)
{
	const struct kind *k;
	struct equeue *q;
	struct job *j;
	int rc;

	if ((rc = submit_check(e, s, &q, &k, err)) < 0 ||
	    (rc = user_limit(e, who, 1, err)) < 0 ||
	    (rc = deps_check(e, s, who, err)) < 0)
		return rc;
	if ((j = job_from(e, q, k, s, who)) == NULL) {
		proto_err_set(err, PROTO_INTERNAL, "out of memory");
		return -ENOMEM;
	}
	j->done = done;
	j->done_arg = arg;
	if (pool_wanted(e, j, s, 0))    /* for any daemon: pool.c */
		return pool_submit(e, j, s, who, err);
	if (j->delayed || j->has_deps)  /* no room; max_pending bounds */
		rc = deps_room(q);
	else
		rc = queue_put(q, j, s->nowait);
	if (rc == 0 && e->stopping && (j->delayed || j->has_deps ||
	    queue_remove(j) == 0))
		rc = -ESHUTDOWN;        /* woke from backpressure too late */
	if (rc < 0) {
		job_free(j);
		return rc == -ESHUTDOWN ? submit_stopping(err) :
		    submit_put_error(rc, q, err);
	}
	if ((rc = submit_insert(e, j, s, who, err)) < 0) {
		j->insert_failed = true;
		if (!j->delayed && !j->has_deps)
			job_move(j, J_INQ);     /* ready: job_lost takes it */
		job_lost(j);
		return rc;
	}
	if (j->has_deps) {
		deps_wait(j);
	} else if (j->delayed) {
		job_move(j, J_SCHEDULED);
		sched_add(j);
	} else {
		queue_enter(j);
	}
	return 0;
}
