/*
 * retry.c — the lifecycle's ops on one job or queue: retry (a failed,
 * timed_out or cancelled job back to queued under its own id; a scheduled
 * one now) and pause/resume (kept in the store's queue_pause, so a
 * restart keeps the queue paused).  Each answers only once its write has
 * committed ("committed before told"): eng_await.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "idmap.h"
#include "kind.h"
#include "log.h"
#include "watch.h"

static int
retry_refused(struct proto_err *err, int64_t id, const char *state)
{
	proto_err_set(err, PROTO_NOT_RETRYABLE, "job %lld is %s: only a "
	    "failed, timed_out, cancelled or scheduled job can be retried",
	    (long long)id, state);
	return -EBUSY;
}

/* A job the engine holds: only a scheduled one (not mid-write) moves. */
static int
retry_live(struct job *j, const struct eng_who *who, struct proto_err *err)
{
	if (user_may_touch(j->e, who, j->uid, j->id, "retry", err) < 0)
		return -EPERM;
	if (j->where != J_SCHEDULED || j->retrying || j->stop != STOP_NONE)
		return retry_refused(err, j->id, job_where_contract(j->where));
	log_info("job %lld: retried now (it was scheduled)", (long long)j->id);
	sched_now(j);
	return 0;
}

/* An ended job: revived in the store, then rebuilt in memory from its
 * row as recovery does, and into its queue (past capacity: recorded). */
static int
retry_revive(struct eng *e, struct store_job *sj, struct proto_err *err)
{
	struct equeue *q = queue_find(e, sj->queue);
	struct eng_await a;
	struct job *j;
	int rc;

	if (q == NULL || !q->configured || kind_find(sj->kind) == NULL) {
		proto_err_set(err, PROTO_UNKNOWN_QUEUE, "job %lld: its queue "
		    "%s or kind %s is no longer configured", (long long)sj->id,
		    sj->queue, sj->kind);
		return -EINVAL;
	}
	eng_await_init(&a);
	if ((rc = store_revive(e->st, sj->id, eng_await_cb, &a)) == 0)
		rc = eng_await(&a);
	if (rc == -ENOENT)
		return retry_refused(err, sj->id, "no longer ended");
	if (rc < 0) {
		proto_err_set(err, PROTO_STORAGE_ERROR, "%s", store_errmsg());
		return rc;
	}
	sj->retried = 0;
	sj->run_base = sj->attempts;
	sj->run_at = 0;
	sj->group_id = 0;               /* its group has settled */
	if ((j = recover_job(e, q, sj)) == NULL) {
		proto_err_set(err, PROTO_INTERNAL, "out of memory; the job is "
		    "queued and runs at the next start");
		return -ENOMEM;
	}
	log_info("job %lld: retried (queue %s, attempt %d next)",
	    (long long)j->id, q->name, j->attempts + 1);
	job_ready(j);
	(void)queue_force(q, j);
	queue_enter(j);
	return 0;
}

int
retry_op(struct eng *e, int64_t id, const struct eng_who *who,
    struct proto_err *err)
{
	struct job *j = idmap_get(e->jobs, id);
	struct store_job *sj;
	int rc;

	if (j == NULL)
		j = page_fetch(e, id);  /* scheduled, due past the window */
	if (j != NULL && user_may_see(e, who, j->uid))
		return retry_live(j, who, err);
	if (j != NULL)                  /* not this client's to see */
		rc = -ENOENT;
	else
		rc = store_get(e->st, id, &sj);
	if (rc == 0 && !eng_may_see(e, who, &sj->submitter)) {
		store_job_free(sj);
		rc = -ENOENT;
	}
	if (rc < 0) {
		if (rc == -ENOENT)
			proto_err_set(err, PROTO_NOT_FOUND, "no job %lld",
			    (long long)id);
		else
			proto_err_set(err, PROTO_STORAGE_ERROR, "%s",
			    store_errmsg());
		return rc;
	}
	if (sj->state != STORE_FAILED && sj->state != STORE_TIMED_OUT &&
	    sj->state != STORE_CANCELLED)
		rc = retry_refused(err, id, store_state_name(sj->state));
	else if (user_may_touch(e, who, sj->submitter.known ?
	    sj->submitter.uid : ENG_NOBODY, id, "retry", err) < 0)
		rc = -EPERM;
	else
		rc = retry_revive(e, sj, err);
	store_job_free(sj);
	return rc;
}

int
pause_op(struct eng *e, const char *name, bool paused, struct proto_err *err)
{
	struct equeue *q = queue_find(e, name);
	struct eng_await a;
	int rc;

	if (q == NULL || !q->configured) {
		proto_err_set(err, PROTO_UNKNOWN_QUEUE, "no queue named \"%s\"",
		    name);
		return -ENOENT;
	}
	eng_await_init(&a);
	if ((rc = store_set_paused(e->st, name, paused, eng_await_cb,
	    &a)) == 0)
		rc = eng_await(&a);
	if (rc < 0) {
		proto_err_set(err, PROTO_STORAGE_ERROR, "%s", store_errmsg());
		return rc;
	}
	if (q->paused != paused) {
		log_info("queue %s: %s", name, paused ? "paused" : "resumed");
		watch_publish_queue(e->hub, name, paused);
	}
	queue_pause(q, paused);
	return 0;
}

/* At start, before recovery puts jobs in: the queues paused before. */
int
pause_load(struct eng *e)
{
	struct equeue *q;
	char **names;
	size_t n;
	int rc;

	if ((rc = store_paused_queues(e->st, &names, &n)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if ((q = queue_find(e, names[i])) != NULL) {
			queue_pause(q, true);
			log_info("queue %s: paused (since before this start)",
			    q->name);
		}
		free(names[i]);
	}
	free(names);
	return 0;
}
