/*
 * queue.c — the dispatcher: queues, their worker pools, and a worker's
 * part of a job (taking it, waiting for its insert, running its kind).
 *
 * Each configured queue is a bounded co_queue; a pool of worker
 * coroutines (up to the queue's `workers`, started when jobs are waiting
 * and ended after a while idle) takes jobs from it.  A worker never
 * starts a job before its insert committed.  Owns struct equeue and
 * struct worker; the job's state changes go through job_move.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "co_sched.h"
#include "conf.h"
#include "engine_int.h"
#include "kind.h"
#include "log.h"
#include "metrics.h"

/* A worker with nothing to do for this long ends; the queue starts a new
 * one when work comes.  Idle workers would otherwise hold a stack each. */
#define WORKER_IDLE 10.0

struct worker {
	struct equeue *q;
	struct co_task *task;
	struct job *job;                /* the one it has taken */
	bool idle;
	bool quit;                      /* set before the task first ran */
	LIST_ENTRY(worker) link;
};

static void queue_staff(struct equeue *q);

/* ---- queues ------------------------------------------------------------- */

struct equeue *
queue_find(struct eng *e, const char *name)
{
	struct equeue *q;

	TAILQ_FOREACH(q, &e->queues, link)
		if (strcmp(q->name, name) == 0)
			return q;
	return NULL;
}

static struct equeue *
queue_new(struct eng *e, const char *name)
{
	struct equeue *q;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	if ((q->name = strdup(name)) == NULL ||
	    (q->cq = co_queue_new(0)) == NULL) {
		free(q->name);
		free(q);
		return NULL;
	}
	q->e = e;
	q->met = e->met != NULL ? met_queue(e->met, name) : NULL;
	LIST_INIT(&q->wlist);
	TAILQ_INSERT_TAIL(&e->queues, q, link);
	e->nqueues++;
	return q;
}

static int
queue_apply(struct equeue *q, const struct conf_queue *cq)
{
	struct worker *w;
	int excess;

	if (co_queue_set_capacity(q->cq, (size_t)cq->capacity) < 0)
		return -ENOMEM;
	q->capacity = cq->capacity;
	q->workers = cq->workers;
	q->timeout = cq->timeout;
	q->max_attempts = cq->max_attempts;
	q->configured = true;
	/* Fewer workers: idle ones leave now, busy ones after their job. */
	excess = q->nworkers - q->workers;
	LIST_FOREACH(w, &q->wlist, link) {
		if (excess <= 0)
			break;
		if (w->idle) {
			w->quit = true;
			if (w->task != NULL)
				co_cancel(w->task);
			excess--;
		}
	}
	queue_staff(q);
	return 0;
}

/* Apply one [queue.NAME] section, making the queue if it is new.  0 or
 * -ENOMEM. */
int
queue_configure(struct eng *e, const struct conf_queue *cq)
{
	struct equeue *q;

	if ((q = queue_find(e, cq->name)) == NULL &&
	    (q = queue_new(e, cq->name)) == NULL)
		return -ENOMEM;
	return queue_apply(q, cq);
}

/* Put j into its queue, past its capacity if need be (recovery, or a
 * group whose submitter left): these jobs are recorded and must run. */
int
queue_force(struct equeue *q, struct job *j)
{
	int rc;

	if (co_queue_put_nowait(q->cq, j) == 0)
		return 0;
	if ((rc = co_queue_set_capacity(q->cq, 0)) < 0)
		return rc;
	rc = co_queue_put_nowait(q->cq, j);
	(void)co_queue_set_capacity(q->cq, (size_t)q->capacity);
	return rc;
}

/* j is in its co_queue: see whether it was cancelled or lost while its put
 * waited, and start a worker for it. */
static void
queue_admit(struct job *j)
{
	j->q->pending++;
	if ((j->stop == STOP_CANCEL || j->insert_failed) &&
	    co_queue_remove(j->q->cq, j) == 0) {
		j->q->pending--;
		if (j->insert_failed)
			job_forget(j);
		else
			end_job(j, STORE_CANCELLED, NULL, NULL);
		return;
	}
	queue_staff(j->q);
}

/* A job its submitter (or recovery) has just put in its queue. */
void
queue_enter(struct job *j)
{
	job_move(j, J_INQ);
	queue_admit(j);
}

/* j stops running (ended, or stopped): the counts shutdown waits on. */
void
queue_left(struct job *j)
{
	if (j->where != J_RUNNING)
		return;
	j->task = NULL;
	j->q->running--;
	if (--j->e->running == 0)
		co_waitq_wake_all(&j->e->idleq, 0);
}

/* ---- a worker's part of a job ---------------------------------------------- */

static void
queue_started(void *arg, int status)
{
	struct job *j = arg;

	if (status < 0)
		log_warnx("job %lld: recording its start: %s", (long long)j->id,
		    store_errmsg());
	/* Writes complete in order: j's end, submitted after this, has not
	 * completed, so j is still here. */
	co_waitq_wake_all(&j->insertq, status < 0 ? status : 0);
}

/* Record the start.  A kind acting outside jobd (a process, a request)
 * waits for the commit, so `attempts` counts each of its runs even
 * across a crash and max_attempts bounds them; a pure one need not. */
static int
queue_mark_started(struct job *j, struct kind_run *run)
{
	bool wait = !j->kind->pure;
	int rc;

	j->started_at = store_now();
	if (store_mark_started(j->e->st, j->id, j->started_at,
	    wait ? queue_started : NULL, j) < 0) {
		kind_error(run, "cannot record the start: %s", store_errmsg());
		return -EIO;
	}
	job_observe(j, STORE_RUNNING);
	if (!wait)
		return 0;
	rc = co_waitq_wait(&j->insertq, CO_FOREVER, NULL);
	if (rc < 0 && rc != -ECANCELED && rc != -ETIMEDOUT)
		kind_error(run, "cannot record the start: %s", strerror(-rc));
	return rc;
}

/* Run the job's kind on this worker under the job's deadline. */
static void
queue_run(struct job *j)
{
	struct kind_run run = { .job_id = j->id, .args = j->args };
	struct co_scope scope;
	int rc, expired;

	job_move(j, J_RUNNING);
	j->task = co_self();
	j->attempts++;
	user_uncount(j);
	j->q->running++;
	j->e->running++;
	log_debug("job %lld: running (queue %s, attempt %d)",
	    (long long)j->id, j->q->name, j->attempts);
	kind_env_prepare(j->e->kenv, j->kind, &run);
	co_scope_enter(&scope, j->timeout > 0 ? j->timeout : CO_FOREVER);
	if ((rc = queue_mark_started(j, &run)) == 0)
		rc = j->kind->run(&run);
	expired = co_scope_exit(&scope);
	if (rc == 0) {
		end_job(j, STORE_SUCCEEDED, run.result, NULL);
	} else if (rc == -ECANCELED || (rc == -ETIMEDOUT && expired < 0)) {
		end_interrupted(j, expired < 0 ? -ETIMEDOUT : rc, run.result);
	} else {
		end_job(j, STORE_FAILED, run.result, run.error[0] != '\0' ?
		    run.error : strerror(-rc));
	}
}

/* The worker's part: wait for the insert, then run it unless stopped. */
static void
queue_take(struct job *j)
{
	job_move(j, J_TAKEN);
	/* job_lost wakes us with -EIO: that is the insert failing (forget
	 * the job below), not this worker being stopped. */
	while (!j->inserted && !j->insert_failed)
		if (co_waitq_wait(&j->insertq, CO_FOREVER, NULL) < 0 &&
		    !j->insert_failed) {
			job_move(j, J_INQ);     /* shutdown: stays queued */
			return;
		}
	if (j->insert_failed) {
		job_forget(j);
		return;
	}
	if (j->stop == STOP_CANCEL)
		end_job(j, STORE_CANCELLED, NULL, NULL);
	else if (j->e->stopping)
		job_move(j, J_INQ);             /* stays queued for next start */
	else
		queue_run(j);
}

/* ---- workers -------------------------------------------------------------- */

/* A reload told this idle worker to leave (cancelling it) just as a job
 * was handed to it: the job goes back for another worker, as the cancel
 * would make it end cancelled (or lost) here.  It stays J_INQ. */
static void
queue_give_back(struct equeue *q, struct job *j)
{
	if (queue_force(q, j) < 0) {
		log_warnx("job %lld: cannot go back to queue %s: out of "
		    "memory", (long long)j->id, q->name);
		end_job(j, STORE_FAILED, NULL, "out of memory");
		return;
	}
	queue_admit(j);
}

static int
queue_worker(void *arg)
{
	struct worker *w = arg;
	struct equeue *q = w->q;
	struct eng *e = q->e;
	void *item;
	int rc;

	w->task = co_self();
	q->nstarting--;
	while (!w->quit && !e->stopping && q->nworkers <= q->workers) {
		w->idle = true;
		q->nwaiting++;
		rc = co_queue_get_timeout(q->cq, &item, WORKER_IDLE);
		q->nwaiting--;
		w->idle = false;
		if (rc < 0)
			break;
		q->pending--;
		if (w->quit && !e->stopping) {
			queue_give_back(q, item);
			break;
		}
		w->job = item;
		queue_take(item);
		w->job = NULL;
		if (co_cancelled())     /* sticky: this task is spent */
			break;
	}
	LIST_REMOVE(w, link);
	free(w);
	q->nworkers--;
	if (--e->nworkers == 0)
		co_waitq_wake_all(&e->goneq, 0);
	queue_staff(q);
	return 0;
}

/* Start workers while more jobs wait than workers are about to take them,
 * up to the queue's bound.  Counting jobs put but not yet taken (rather
 * than co_queue_len) includes the ones handed straight to a waiting
 * worker that has not run yet. */
static void
queue_staff(struct equeue *q)
{
	struct worker *w;

	if (q->e->stopping)
		return;
	while (q->nworkers < q->workers &&
	    q->pending > q->nwaiting + q->nstarting) {
		if ((w = calloc(1, sizeof(*w))) == NULL ||
		    co_spawn(q->e->rt, queue_worker, w, NULL) < 0) {
			free(w);
			log_warnx("queue %s: cannot start a worker: out of "
			    "memory", q->name);
			return;
		}
		w->q = q;
		LIST_INSERT_HEAD(&q->wlist, w, link);
		q->nworkers++;
		q->nstarting++;
		q->e->nworkers++;
	}
}

/* Cancel the workers: all of them, or only the idle ones.  A running job
 * so stopped is marked STOP_SHUTDOWN: it goes back to queued. */
void
queue_stop_workers(struct eng *e, bool busy_too)
{
	struct equeue *q;
	struct worker *w;

	TAILQ_FOREACH(q, &e->queues, link)
		LIST_FOREACH(w, &q->wlist, link) {
			if (!w->idle && !busy_too)
				continue;
			if (w->job != NULL && w->job->where == J_RUNNING &&
			    w->job->stop == STOP_NONE)
				w->job->stop = STOP_SHUTDOWN;
			w->quit = true;
			if (w->task != NULL)
				co_cancel(w->task);
		}
}

/* Free the queues (after the workers ended); their jobs are in e->jobs. */
void
queue_free_all(struct eng *e)
{
	struct equeue *q;
	void *item;

	while ((q = TAILQ_FIRST(&e->queues)) != NULL) {
		TAILQ_REMOVE(&e->queues, q, link);
		while (co_queue_get_nowait(q->cq, &item) == 0)
			;
		co_queue_free(q->cq);
		free(q->name);
		free(q);
	}
}
