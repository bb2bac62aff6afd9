/*
 * queue.c — the dispatcher: queues, their worker pools, and a worker's
 * part of a job (taking it, waiting for its insert, running its kind).
 *
 * Each configured queue keeps its ready (queued) jobs in a readyq: ten
 * FIFO lists, one per priority, so a worker always takes the lowest
 * priority first and equal ones in the order they became ready, in O(1).
 * `capacity` bounds the ready jobs: a submitter waits on roomq for a place
 * (backpressure).  A pool of worker coroutines (up to the queue's
 * `workers`, started when jobs are ready and ended after a while idle)
 * waits on workq and takes the next job itself, so a job that became ready
 * later with a lower priority still goes first.  A paused queue starts
 * nothing.  A worker never starts a job before its insert committed.
 * A job whose kind only waits is parked (park.c) and its worker goes back
 * for the next one; `workers` bounds the running jobs, parked ones
 * included (a worker holds a place while it has a job, placeq).
 * Owns struct equeue and struct worker; the job's state changes go
 * through job_move.  Scheduled jobs are sched.c's until they are ready.
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

/* At most this many workers of a queue are starting or waiting for their
 * job's insert at once.  A burst of n jobs then makes workers in waves,
 * each wave once the one before is busy running its jobs, rather than n
 * workers at once: where the jobs park (park.c), a few hundred workers
 * serve any number of them, and 10,000 stacks are never touched. */
#define STAFF_WAVE 256

/* A worker that parks job after job yields after this many, so that a
 * burst does not hold the loop. */
#define PARK_RUN 64

struct worker {
	struct equeue *q;
	struct co_task *task;
	struct job *job;                /* the one it has taken */
	bool idle;
	bool quit;                      /* set before the task first ran */
	LIST_ENTRY(worker) link;
};

static void queue_staff(struct equeue *q);

/* Room for one more job to run: q's `workers` bounds the jobs running,
 * parked ones included.  A worker takes its place as it takes a job and
 * holds it until that job ends or parks. */
static bool
queue_has_place(const struct equeue *q)
{
	return q->nparked + q->nholding < (size_t)q->workers;
}

/* A place came free: a worker waiting for one takes it, or a new one
 * starts if jobs are ready. */
static void
queue_place(struct equeue *q)
{
	if (!queue_has_place(q))
		return;
	if (!co_waitq_empty(&q->placeq))
		(void)co_waitq_wake_one(&q->placeq, 0);
	else
		queue_staff(q);
}

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
	if ((q->name = strdup(name)) == NULL) {
		free(q);
		return NULL;
	}
	readyq_init(&q->rq);
	co_waitq_init(&q->workq);
	co_waitq_init(&q->roomq);
	co_waitq_init(&q->placeq);
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

	if (cq->capacity > q->capacity)
		co_waitq_wake_all(&q->roomq, 0);        /* room for more */
	q->capacity = cq->capacity;
	q->priority = cq->priority;
	q->retries = cq->retries;
	q->backoff.delay = cq->retry_delay;
	q->backoff.max_delay = cq->retry_max_delay;
	q->backoff.mode = cq->retry_backoff == CONF_BACKOFF_FIXED ?
	    BACKOFF_FIXED : BACKOFF_EXPONENTIAL;
	q->max_pending = cq->max_pending;
	q->retain_ok = cq->retain_succeeded;
	q->retain_fail = cq->retain_failed;
	q->workers = cq->workers;
	q->timeout = cq->timeout;
	q->max_attempts = cq->max_attempts;
	q->limits.pids = cq->exec_pids_max;
	q->limits.memory = cq->exec_memory_max;
	q->limits.cpus = cq->exec_cpu_max;
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

/* Put j among q's ready jobs, past its capacity if need be (recovery, a
 * group whose submitter left, a scheduled job whose time came): these
 * jobs are recorded and must run.  Cannot fail (the node is j's). */
int
queue_force(struct equeue *q, struct job *j)
{
	readyq_push(&q->rq, &j->rnode, j->priority, j->id);
	return 0;
}

/* Put j among q's ready jobs once there is room (task, unless nowait):
 * 0, -EAGAIN (full, nowait), -ECONNABORTED (cancelled while it waited:
 * queue_withdraw), or the wait's -ECANCELED. */
int
queue_put(struct equeue *q, struct job *j, bool nowait)
{
	int rc;

	while (readyq_count(&q->rq) >= (size_t)q->capacity) {
		if (j->stop == STOP_CANCEL)
			return -ECONNABORTED;
		if (nowait)
			return -EAGAIN;
		if ((rc = co_waitq_wait(&q->roomq, CO_FOREVER, NULL)) < 0)
			return rc;
		if (j->stop == STOP_CANCEL)
			return -ECONNABORTED;
	}
	return queue_force(q, j);
}

/* j (cancelled) may be waiting in queue_put for room that never comes:
 * wake the waiters; j's gives up, the others look again. */
void
queue_withdraw(struct job *j)
{
	co_waitq_wake_all(&j->q->roomq, 0);
}

/* A ready job left: one waiting submitter may have its place. */
static void
queue_room(struct equeue *q)
{
	if (!co_waitq_empty(&q->roomq))
		(void)co_waitq_wake_one(&q->roomq, 0);
}

/* Take j out of its queue's ready jobs (a cancel): 0, or -ENOENT when it
 * is not there (a worker has it). */
int
queue_remove(struct job *j)
{
	if (!readyq_queued(&j->rnode))
		return -ENOENT;
	readyq_remove(&j->q->rq, &j->rnode);
	queue_room(j->q);
	return 0;
}

/* Ready jobs of q: what capacity bounds and stats shows as queued. */
size_t
queue_len(const struct equeue *q)
{
	return readyq_count(&q->rq);
}

/* The next job a worker of q may start, or NULL (none, or paused). */
static struct job *
queue_next(struct equeue *q)
{
	struct readyq_node *n;

	if (q->paused || (n = readyq_pop(&q->rq)) == NULL)
		return NULL;
	queue_room(q);
	return readyq_entry(n, struct job, rnode);
}

/* Pause or resume q.  Running jobs go on; a resumed queue's workers
 * wake up for its ready jobs. */
void
queue_pause(struct equeue *q, bool paused)
{
	q->paused = paused;
	if (paused)
		return;
	co_waitq_wake_all(&q->workq, 0);
	queue_staff(q);
}

/* j is among its queue's ready jobs: see whether it was cancelled or lost
 * while its put waited, and wake or start a worker for it. */
static void
queue_admit(struct job *j)
{
	if ((j->stop == STOP_CANCEL || j->insert_failed) &&
	    queue_remove(j) == 0) {
		if (j->insert_failed)
			job_forget(j);
		else
			end_job(j, STORE_CANCELLED, NULL, NULL);
		return;
	}
	if (!co_waitq_empty(&j->q->workq) && !j->q->paused)
		(void)co_waitq_wake_one(&j->q->workq, 0);
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
	if (j->parked) {                /* its place is free for another */
		j->parked = false;
		j->q->nparked--;
		queue_place(j->q);
	}
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

/* End j after its kind's run (or done()) returned rc; expired is
 * co_scope_exit's word on its deadline.  end_job makes the retry
 * decision, for a parked job as for one on a worker. */
void
queue_finish(struct job *j, int rc, int expired, struct kind_run *run)
{
	j->permanent = run->permanent;
	j->retry_after = run->retry_after;
	if (rc == 0) {
		end_job(j, STORE_SUCCEEDED, run->result, NULL);
	} else if (rc == -ECANCELED || (rc == -ETIMEDOUT && expired < 0)) {
		end_interrupted(j, expired < 0 ? -ETIMEDOUT : rc, run->result);
	} else {
		end_job(j, STORE_FAILED, run->result, run->error[0] != '\0' ?
		    run->error : strerror(-rc));
	}
}

/* A kind that only waits: park j (park.c) if its wait is longer than
 * nothing.  1: parked, the worker is free; 0: run it here. */
static int
queue_park(struct job *j, struct kind_run *run, double started)
{
	double seconds;

	if (j->kind->wait == NULL || j->stop != STOP_NONE)
		return 0;
	if (j->kind->wait(run, &seconds) < 0 || seconds <= 0)
		return 0;               /* run() says what is wrong */
	return park_job(j, seconds, started) == 0;
}

/* Run the job's kind on this worker under the job's deadline.  Returns
 * whether it parked instead. */
static bool
queue_run(struct job *j)
{
	struct kind_run run = { .job_id = j->id, .uid = j->uid,
	    .args = j->args, .limits = j->q->limits };
	struct co_scope scope;
	double started = co_now();
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
	if ((rc = queue_mark_started(j, &run)) == 0) {
		if (queue_park(j, &run, started)) {
			(void)co_scope_exit(&scope);
			return true;
		}
		queue_staff(j->q);      /* busy now: the next wave may start */
		rc = j->kind->run(&run);
	}
	expired = co_scope_exit(&scope);
	queue_finish(j, rc, expired, &run);
	return false;
}

/* Wait for j's insert: 0 once it committed, -EIO if it failed, or
 * -ECANCELED if the worker was stopped first. */
static int
queue_wait_insert(struct job *j)
{
	int rc = 0;

	j->q->nblocked++;
	/* job_lost wakes us with -EIO: that is the insert failing, not this
	 * worker being stopped. */
	while (!j->inserted && !j->insert_failed)
		if (co_waitq_wait(&j->insertq, CO_FOREVER, NULL) < 0 &&
		    !j->insert_failed) {
			rc = -ECANCELED;
			break;
		}
	j->q->nblocked--;
	return rc < 0 ? rc : j->insert_failed ? -EIO : 0;
}

/* The worker's part: wait for the insert, then run it unless stopped.
 * Returns whether it parked. */
static bool
queue_take(struct job *j)
{
	int rc;

	job_move(j, J_TAKEN);
	if (!j->inserted && (rc = queue_wait_insert(j)) < 0) {
		if (rc == -EIO)
			job_forget(j);
		else
			job_move(j, J_INQ);     /* shutdown: stays queued */
		return false;
	}
	if (j->insert_failed)
		job_forget(j);
	else if (j->stop == STOP_CANCEL)
		end_job(j, STORE_CANCELLED, NULL, NULL);
	else if (j->e->stopping)
		job_move(j, J_INQ);             /* stays queued for next start */
	else
		return queue_run(j);
	return false;
}

/* ---- workers -------------------------------------------------------------- */

/* Wait on workq for a job to come (0), up to WORKER_IDLE (-ETIMEDOUT). */
static int
queue_idle(struct worker *w)
{
	struct equeue *q = w->q;
	int rc;

	w->idle = true;
	q->nwaiting++;
	rc = co_waitq_wait(&q->workq, co_deadline(WORKER_IDLE), NULL);
	q->nwaiting--;
	w->idle = false;
	return rc;
}

/* Wait on placeq for a running job to end or park, up to WORKER_IDLE. */
static int
queue_wait_place(struct worker *w)
{
	struct equeue *q = w->q;
	int rc;

	w->idle = true;
	rc = co_waitq_wait(&q->placeq, co_deadline(WORKER_IDLE), NULL);
	w->idle = false;
	return rc;
}

static int
queue_worker(void *arg)
{
	struct worker *w = arg;
	struct equeue *q = w->q;
	struct eng *e = q->e;
	struct job *j;
	int parks = 0;
	bool parked;

	w->task = co_self();
	q->nstarting--;
	while (!w->quit && !e->stopping && q->nworkers <= q->workers) {
		if (!queue_has_place(q)) {      /* parked jobs fill it */
			if (queue_wait_place(w) < 0)
				break;
			continue;
		}
		if ((j = queue_next(q)) == NULL) {
			if (queue_idle(w) < 0)
				break;
			continue;
		}
		q->nholding++;
		w->job = j;
		parked = queue_take(j);
		w->job = NULL;
		q->nholding--;
		if (!parked)
			parks = 0;
		else if (++parks % PARK_RUN == 0)
			(void)co_yield();       /* a cancel: seen below */
		if (co_cancelled())     /* sticky: this task is spent */
			break;
	}
	LIST_REMOVE(w, link);
	free(w);
	q->nworkers--;
	if (--e->nworkers == 0)
		co_waitq_wake_all(&e->goneq, 0);
	queue_place(q);
	return 0;
}

/* Start workers while more jobs are ready than workers are about to take
 * them, up to the queue's bound.  A worker woken for a job stays counted
 * in nwaiting until it runs and takes one, so it is not staffed twice. */
static void
queue_staff(struct equeue *q)
{
	struct worker *w;

	if (q->e->stopping || q->paused)
		return;
	while (q->nworkers < q->workers && queue_has_place(q) &&
	    readyq_count(&q->rq) > q->nwaiting + q->nstarting &&
	    q->nstarting + q->nblocked < STAFF_WAVE) {
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

	if (busy_too)
		park_stop_all(e);
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

	while ((q = TAILQ_FIRST(&e->queues)) != NULL) {
		TAILQ_REMOVE(&e->queues, q, link);
		free(q->name);
		free(q);
	}
}
