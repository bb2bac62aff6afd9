/*
 * pool.c — jobs shared by the daemons on one PostgreSQL database.
 *
 * A submit normally stays with the daemon that took it (its row is
 * inserted held by it: node, epoch; no claim to pay).  When this daemon
 * has other live daemons beside it and the job would only wait here (the
 * queue's ready jobs are already as many as its workers), the job is
 * inserted *pooled* instead, held by none, and forgotten here once its
 * insert commits: whichever daemon has a free worker first claims it
 * (store_claim: UPDATE ... WHERE id IN (SELECT ... ORDER BY priority, id
 * LIMIT n FOR UPDATE SKIP LOCKED) RETURNING, on the partial index
 * jobs_ready).  Every daemon claims, for each queue with room (workers
 * minus running and ready jobs), at most POOL_BATCH at a time: again
 * after POOL_BUSY while claims bring jobs, at once when a NOTIFY
 * jobd_ready names a queue with room (one per committed batch per queue,
 * store_pg_write.c), else after POOL_IDLE (the fallback poll).  Claimed rows enter the queue as
 * recovered ones do (recover_one).  A wait or cancel of a pooled job is
 * one of a job another daemon holds (nodes.c).  With SQLite, or a daemon
 * alone, nothing here runs and every submit is held.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "engine_int.h"
#include "idmap.h"
#include "log.h"

#define POOL_IDLE  1.0
#define POOL_BUSY  0.005
#define POOL_BATCH 256

struct epool {
	struct event *ev;
	struct event *wev;              /* LISTEN's fd readable; or NULL */
	size_t inflight;                /* claims being written */
	bool got;                       /* one of them brought jobs */
	size_t peers;                   /* other live daemons */
};

static void
pool_arm(struct eng *e, double after)
{
	struct timeval tv = { (time_t)after,
		(suseconds_t)((after - (time_t)after) * 1e6) };

	if (!e->stopping)
		evtimer_add(e->pool->ev, &tv);
}

/* How many more jobs q could start now. */
static size_t
pool_room(const struct equeue *q)
{
	/* nblocked: taken by a worker, waiting for its insert to commit. */
	size_t busy = q->running + readyq_count(&q->rq) + q->nblocked;

	if (!q->configured || q->paused || busy >= (size_t)q->workers)
		return 0;
	return (size_t)q->workers - busy;
}

static void
pool_claimed(void *arg, int status, struct store_job **jobs, size_t n,
    const struct store_recovery *rep)
{
	struct eng *e = arg;
	struct epool *p = e->pool;

	(void)rep;
	if (status < 0)
		log_warnx("claim: %s", store_errmsg());
	for (size_t i = 0; i < n; i++) {
		struct job *j = idmap_get(e->jobs, jobs[i]->id);

		/* Stopping: held by this daemon, given back at close.  In
		 * memory already: it waited here, and another daemon's end
		 * pooled it before its note came (deps.c). */
		if (e->stopping || e->final || j != NULL) {
			if (j != NULL && !e->stopping && !e->final)
				deps_reclaimed(j);
			store_job_free(jobs[i]);
		} else if (recover_one(e, jobs[i]) < 0)
			log_warnx("claim: out of memory");
	}
	free(jobs);
	if (n > 0 && !e->stopping && !e->final)
		recover_trips(e);       /* a member of a group tripped */
	p->got |= n > 0;
	if (--p->inflight == 0)
		pool_arm(e, p->got ? POOL_BUSY : POOL_IDLE);
}

static void
pool_cb(evutil_socket_t fd, short what, void *arg)
{
	struct eng *e = arg;
	struct epool *p = e->pool;
	struct equeue *q;
	size_t room;

	(void)fd;
	(void)what;
	if (e->stopping || p->inflight > 0)
		return;
	p->got = false;
	TAILQ_FOREACH(q, &e->queues, link) {
		if ((room = pool_room(q)) == 0)
			continue;
		if (store_claim(e->st, q->name, room < POOL_BATCH ? room :
		    POOL_BATCH, pool_claimed, e) < 0)
			log_warnx("claim: %s", store_errmsg());
		else
			p->inflight++;
	}
	if (p->inflight == 0)
		pool_arm(e, POOL_IDLE);
}

static void
pool_woken(void *arg, const char *queue)
{
	struct eng *e = arg;
	struct equeue *q = queue_find(e, queue);

	if (q == NULL || pool_room(q) == 0)
		return;
	if (e->pool->inflight > 0)
		e->pool->got = true;    /* again right after these */
	else
		pool_arm(e, 0);
}

/* Pooled jobs were committed somewhere (NOTIFY jobd_ready, 'QUEUE'). */
static void
pool_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct eng *e = arg;

	(void)fd;
	(void)what;
	if (store_wake_drain(e->st, pool_woken, e) < 0) {
		log_warnx("claim wake-ups stop (polling every %g s): %s",
		    POOL_IDLE, store_errmsg());
		event_del(e->pool->wev);
	}
}

int
pool_start(struct eng *e)
{
	struct epool *p;
	int fd;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -ENOMEM;
	if ((p->ev = evtimer_new(co_rt_base(e->rt), pool_cb, e)) == NULL) {
		free(p);
		return -ENOMEM;
	}
	e->pool = p;
	if ((fd = store_wake_fd(e->st)) < 0)
		log_warnx("claim wake-ups: %s (polling every %g s)",
		    store_errmsg(), POOL_IDLE);
	else if ((p->wev = event_new(co_rt_base(e->rt), fd, EV_READ |
	    EV_PERSIST, pool_wake_cb, e)) == NULL || event_add(p->wev,
	    NULL) < 0)
		return -ENOMEM;
	pool_arm(e, 0);
	return 0;
}

void
pool_free(struct eng *e)
{
	if (e->pool == NULL)
		return;
	if (e->pool->wev != NULL)
		event_free(e->pool->wev);
	event_free(e->pool->ev);
	free(e->pool);
	e->pool = NULL;
}

void
pool_peers(struct eng *e, size_t n)
{
	if (e->pool != NULL)
		e->pool->peers = n;
}

/* Should j go to the pool: other daemons live, and it would only wait
 * here, behind the ready jobs and the `ahead` ones of its group that stay
 * (group.c)?  Not with a time, dependencies or a key of its own. */
bool
pool_wanted(const struct eng *e, const struct job *j,
    const struct proto_submit *s, size_t ahead)
{
	return e->pool != NULL && e->pool->peers > 0 && !e->stopping &&
	    !j->delayed && !j->has_deps && s->unique_key == NULL &&
	    s->schedule == NULL &&
	    readyq_count(&j->q->rq) + ahead >= (size_t)j->q->workers;
}

static void
pool_inserted(void *arg, int status)
{
	struct job *j = arg;
	struct eng_ack ack = { .id = j->id, .n = 1 };
	struct eng *e = j->e;

	submit_completed(e);
	if (status == 0) {
		j->inserted = true;
		e->c.submitted++;
		job_observe(j, STORE_QUEUED);
		log_debug("job %lld: pooled (queue %s)", (long long)j->id,
		    j->q->name);
	} else {
		e->c.store_errors++;
	}
	j->done(j->done_arg, status, &ack);
	job_forget(j);                  /* whoever claims it holds it */
}

/* Insert j pooled; it is never in this daemon's queue. */
int
pool_submit(struct eng *e, struct job *j, const struct proto_submit *s,
    const struct eng_who *who, struct proto_err *err)
{
	int rc = submit_send(e, j, s, who, true, pool_inserted);

	if (rc < 0) {
		proto_err_set(err, rc == -ESHUTDOWN ? PROTO_SHUTTING_DOWN :
		    PROTO_STORAGE_ERROR, "%s", store_errmsg());
		job_free(j);
		return rc;
	}
	if (idmap_put(e->jobs, j->id, j) < 0)   /* for settle only */
		log_warnx("job %lld: not tracked: out of memory",
		    (long long)j->id);
	return 0;
}
