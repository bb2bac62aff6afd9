/*
 * park.c — running jobs that only wait, held without a worker.
 *
 * A kind whose run is a plain wait (sleep) says so with wait() and done()
 * (kind.h).  Its worker then "parks" the job: the job stays J_RUNNING and
 * counted as running, but no coroutine waits for it.  It sits in one heap
 * of deadlines (lib/sched/timerq.h, a node embedded in the job) under one
 * libevent timer, and the worker goes back for the next job.  A parked
 * job costs its struct job and nothing else: no stack page (4 KiB
 * resident at least, docs/PERF.md), no timer event of its own.
 *
 * The coroutine model is untouched: nothing moves a waiting coroutine's
 * stack, so pointers into one stay valid.  Parking only applies to code
 * that has nothing on a stack while it waits, which is why it is the
 * kind's choice, per kind, and why done() may not await.
 *
 * The heap's key is when the wait ends or the job's timeout comes,
 * whichever is first, so a timed-out sleep ends timed_out as it would on
 * a worker.  A cancel (cancel_stop) takes the job out of the heap and
 * ends it at once; so does the stop's last step (park_stop_all), with
 * STOP_SHUTDOWN, which puts it back to queued like a stopped worker's.
 * Loop thread only.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "engine_int.h"
#include "kind.h"
#include "log.h"
#include "timerq.h"

struct park {
	struct eng *e;
	struct timerq tq;
	struct event *ev;
	double armed;                   /* when ev fires; 0: not armed */
};

static void park_fire(evutil_socket_t fd, short what, void *arg);

static struct park *
park_state(struct eng *e)
{
	struct park *p;

	if (e->park != NULL)
		return e->park;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->e = e;
	timerq_init(&p->tq);
	if ((p->ev = evtimer_new(co_rt_base(e->rt), park_fire, p)) == NULL) {
		free(p);
		return NULL;
	}
	e->park = p;
	return p;
}

void
park_free(struct eng *e)
{
	struct park *p = e->park;

	if (p == NULL)
		return;
	event_free(p->ev);
	timerq_fini(&p->tq);
	free(p);
	e->park = NULL;
}

/* Arm the timer for the earliest deadline, if it is not armed for it. */
static void
park_arm(struct park *p)
{
	struct timerq_node *n = timerq_peek(&p->tq);
	struct timeval tv;
	double d;

	if (n == NULL) {
		if (p->armed != 0)
			event_del(p->ev);
		p->armed = 0;
		return;
	}
	if (p->armed == n->run_at)
		return;
	d = n->run_at - co_now();
	if (d < 0)
		d = 0;
	tv.tv_sec = (time_t)d;
	tv.tv_usec = (suseconds_t)((d - (double)tv.tv_sec) * 1e6);
	event_add(p->ev, &tv);
	p->armed = n->run_at;
}

/* Park j (J_RUNNING on this worker, its timeout counted from started, a
 * co_now() time) for seconds.  0: it is parked, and the worker is free.
 * -ENOMEM: not parked; the worker runs it as usual. */
int
park_job(struct job *j, double seconds, double started)
{
	struct park *p = park_state(j->e);
	double until = co_now() + seconds;
	double tmo = j->timeout > 0 ? started + j->timeout : INFINITY;

	if (p == NULL)
		return -ENOMEM;
	j->park_timeout = tmo <= until;
	if (timerq_insert(&p->tq, &j->park_node, j->park_timeout ? tmo : until,
	    j->id) < 0)
		return -ENOMEM;
	j->task = NULL;
	j->parked = true;
	j->q->nparked++;
	park_arm(p);
	return 0;
}

/* The wait of j is over (or its timeout came): end it as its worker
 * would have. */
static void
park_wake(struct job *j)
{
	struct kind_run run = { .job_id = j->id, .uid = j->uid,
	    .args = j->args, .limits = j->q->limits };
	int rc;

	if (j->park_timeout) {
		end_interrupted(j, -ETIMEDOUT, NULL);
		return;
	}
	kind_env_prepare(j->e->kenv, j->kind, &run);
	rc = j->kind->done(&run);
	queue_finish(j, rc, 0, &run);
}

static void
park_fire(evutil_socket_t fd, short what, void *arg)
{
	struct park *p = arg;
	struct timerq_node *n;
	double now = co_now();

	(void)fd;
	(void)what;
	p->armed = 0;
	while ((n = timerq_peek(&p->tq)) != NULL && n->run_at <= now) {
		(void)timerq_pop(&p->tq);
		park_wake(timerq_entry(n, struct job, park_node));
	}
	park_arm(p);
}

/* cancel_stop of a parked j: it ends now (cancelled, or requeued when
 * STOP_SHUTDOWN). */
void
park_stop(struct job *j)
{
	struct park *p = j->e->park;

	if (!j->parked || p == NULL)
		return;
	timerq_remove(&p->tq, &j->park_node);
	end_interrupted(j, -ECANCELED, NULL);
	park_arm(p);
}

/* The stop's last step: every parked job goes back to queued (while it
 * has attempts left), as a stopped worker's job does. */
void
park_stop_all(struct eng *e)
{
	struct park *p = e->park;
	struct timerq_node *n;
	struct job *j;

	if (p == NULL)
		return;
	while ((n = timerq_pop(&p->tq)) != NULL) {
		j = timerq_entry(n, struct job, park_node);
		if (j->stop == STOP_NONE)
			j->stop = STOP_SHUTDOWN;
		end_interrupted(j, -ECANCELED, NULL);
	}
	park_arm(p);
}
