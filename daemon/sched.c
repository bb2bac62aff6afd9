/*
 * sched.c — scheduled jobs: delayed ones (run_at, delay) and failed ones
 * waiting for a retry (engine_int.h).
 *
 * One timer heap for the engine (lib/sched/timerq: run_at, then id) and
 * one libevent timer armed for its earliest job, so jobd wakes exactly
 * when the next job is due: no polling, no scan.  When it fires, every
 * job due becomes ready in (run_at, id) order: its row goes scheduled ->
 * queued (store_mark_ready) and it joins its queue's ready jobs past
 * capacity (it is recorded and must run; capacity bounds queued jobs a
 * submitter adds, not the ones time releases).  A failed job with retries
 * left comes here from end_job (sched_retry): its delay is the backoff
 * (lib/sched/backoff: exponential or fixed, capped, jittered, raised by
 * a Retry-After), and its write goes out with the ends (sched_flush).
 * The heap holds a window of the scheduled jobs, those due soonest; the
 * rest are only rows until page.c reads them in as their time nears.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "log.h"

/* Due jobs made ready per timer callback; the rest follow at once in the
 * next one, so that a burst does not hold the loop. */
#define SCHED_BATCH 10000

/* Arm the timer for the earliest job (or disarm it). */
static void
sched_arm(struct eng *e)
{
	struct timerq_node *n = timerq_peek(&e->tq);
	struct timeval tv;
	double d;

	if (n == NULL) {
		if (e->tq_armed != 0)
			event_del(e->tq_ev);
		e->tq_armed = 0;
		return;
	}
	if (e->tq_armed == n->run_at)
		return;
	d = n->run_at - store_now();
	if (d < 0)
		d = 0;
	tv.tv_sec = (time_t)d;
	tv.tv_usec = (suseconds_t)((d - (double)tv.tv_sec) * 1e6);
	event_add(e->tq_ev, &tv);
	e->tq_armed = n->run_at;
}

/* j's run_at came (or a retry op said now): ready, in its queue. */
static void
sched_ready(struct job *j)
{
	j->q->scheduled--;
	if (store_mark_ready(j->e->st, j->id, NULL, NULL) < 0)
		log_warnx("job %lld: recording it ready: %s", (long long)j->id,
		    store_errmsg());
	log_debug("job %lld: ready (queue %s)", (long long)j->id, j->q->name);
	job_ready(j);
	(void)queue_force(j->q, j);
	queue_enter(j);
}

/* Into the heap; out of memory, it becomes ready now rather than never.
 * (page.c's: a job due past the window leaves memory instead.) */
void
sched_put(struct job *j)
{
	if (timerq_insert(&j->e->tq, &j->tnode, j->run_at, j->id) < 0) {
		log_warnx("job %lld: no memory to schedule it: it runs now",
		    (long long)j->id);
		sched_ready(j);
		return;
	}
	sched_arm(j->e);
}

/* A J_SCHEDULED job (submitted, or recovered, with a run_at ahead). */
void
sched_add(struct job *j)
{
	j->q->scheduled++;
	if (page_keep(j))
		sched_put(j);
}

/* j leaves J_SCHEDULED otherwise than by its time (a cancel, a lost
 * insert, a retry op). */
void
sched_remove(struct job *j)
{
	if (timerq_queued(&j->tnode)) {
		timerq_remove(&j->e->tq, &j->tnode);
		sched_arm(j->e);
	}
	j->q->scheduled--;
}

/* The retry op on a scheduled job: it starts now. */
void
sched_now(struct job *j)
{
	sched_remove(j);
	j->q->scheduled++;              /* sched_ready counts it out */
	sched_ready(j);
}

void
sched_cb(evutil_socket_t fd, short what, void *arg)
{
	struct eng *e = arg;
	struct timerq_node *n;
	double now = store_now();
	int k = 0;

	(void)fd;
	(void)what;
	e->tq_armed = 0;
	while (k++ < SCHED_BATCH && (n = timerq_peek(&e->tq)) != NULL &&
	    n->run_at <= now) {
		(void)timerq_pop(&e->tq);
		sched_ready(timerq_entry(n, struct job, tnode));
	}
	sched_arm(e);
	page_drained(e);
}

/* end_job's question: does j, ending in state, get a retry?  If so it
 * is set up for one (run_at, counts) and the caller moves it to
 * J_SCHEDULED; its write goes out with the ends (sched_flush). */
bool
sched_retry(struct job *j, enum store_state state)
{
	double delay;

	if ((state != STORE_FAILED && state != STORE_TIMED_OUT) ||
	    j->permanent || j->retried >= j->retries ||
	    j->stop == STOP_CANCEL)
		return false;
	delay = backoff_delay(&j->backoff, j->retried + 1, j->retry_after,
	    NULL, NULL);
	j->retried++;
	j->run_base = j->attempts;
	j->run_at = store_now() + delay;
	j->retrying = true;
	j->q->scheduled++;
	log_info("job %lld: retry %d of %d in %.3f s", (long long)j->id,
	    j->retried, j->retries, delay);
	return true;
}

/* end_flush's part for a job going to its retry: the write (running ->
 * scheduled, the attempt kept), then the heap, or its end if it was
 * cancelled meanwhile (cancel_stop leaves that to us). */
void
sched_flush(struct job *j)
{
	struct store_end end = { .state = j->end_state,
		.finished_at = j->end_at, .result = j->end_text,
		.error = j->end_error };

	if (store_retry_later(j->e->st, j->id, &end, j->run_at, NULL,
	    NULL) < 0)
		log_warnx("job %lld: recording its retry: %s",
		    (long long)j->id, store_errmsg());
	job_event(j, STORE_SCHEDULED);
	j->retrying = false;
	free(j->end_text);
	free(j->end_error);
	j->end_text = j->end_error = NULL;
	j->permanent = false;
	j->retry_after = 0;
	if (j->stop == STOP_CANCEL) {
		j->q->scheduled--;
		end_job(j, STORE_CANCELLED, NULL, NULL);
		return;
	}
	sched_put(j);           /* a retry stays in memory (page.c) */
}

/* A submit's lifecycle fields over the queue's defaults (job_from). */
void
sched_configure(struct job *j, const struct proto_submit *s)
{
	if (s->priority >= 0)
		j->priority = s->priority;
	if (s->retries >= 0)
		j->retries = s->retries;
	if (s->retry_delay > 0)
		j->backoff.delay = s->retry_delay;
	if (s->retry_max_delay > 0)
		j->backoff.max_delay = s->retry_max_delay;
	if (s->retry_backoff >= 0)
		j->backoff.mode = s->retry_backoff == 1 ? BACKOFF_FIXED :
		    BACKOFF_EXPONENTIAL;
	j->idempotent = s->idempotent;
	if (s->has_run_at) {
		j->run_at = s->run_at;
		j->delayed = s->run_at > store_now();
	}
}
