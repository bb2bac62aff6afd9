/*
 * end.c — a job's end: recording it, writing it to the store, and writing
 * it again while the database refuses it.
 *
 * end_job moves the job to J_ENDING and queues its end write; the writes
 * go out from a libevent callback (end_flush); their commit (end_written)
 * wakes the job's waiters and frees it ("committed before told").  An end
 * the database did not take stays in memory and is written again, after
 * a growing delay, until it does or jobd stops.  A shutdown's stop is not
 * an end: the job goes back to queued (end_requeued) while it has
 * attempts left.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "idmap.h"
#include "kind.h"
#include "log.h"

/* A job's end the database did not take is written again after
 * END_RETRY_MIN s, doubling up to END_RETRY_MAX s while it keeps failing. */
#define END_RETRY_MIN 0.25
#define END_RETRY_MAX 4.0

/* The end of j did not make it to the database (full, locked, read-only,
 * gone): keep it in memory, where its waiters go on waiting, and write it
 * again later, so that no job stays running in the database once the
 * fault clears.  Not for a damaged database (-EUCLEAN: trying again does
 * not help) or a write refused on its own, nor after the stop's last try. */
static bool
end_defer(struct job *j, int status)
{
	struct eng *e = j->e;
	struct timeval tv;

	if (e->final || status == -ENOENT || status == -EINVAL ||
	    status == -EUCLEAN)
		return false;
	e->c.store_errors++;
	if (!j->deferred) {
		j->deferred = true;
		if (e->ndeferred++ == 0)
			log_warnx("job %lld: its end (%s) is kept in memory and "
			    "written again until the database takes it",
			    (long long)j->id, store_state_name(j->end_state));
	}
	if (TAILQ_EMPTY(&e->retry)) {
		e->retry_delay = e->retry_delay == 0 ? END_RETRY_MIN :
		    e->retry_delay * 2 > END_RETRY_MAX ? END_RETRY_MAX :
		    e->retry_delay * 2;
		tv.tv_sec = (time_t)e->retry_delay;
		tv.tv_usec = (suseconds_t)((e->retry_delay - tv.tv_sec) * 1e6);
		event_add(e->retry_ev, &tv);
	}
	TAILQ_INSERT_TAIL(&e->retry, j, end_link);
	return true;
}

/* A write has just committed: the database works again, so write the
 * deferred ends now rather than when their timer says. */
void
end_retry_soon(struct eng *e)
{
	e->retry_delay = 0;
	if (!TAILQ_EMPTY(&e->retry) && !e->final) {
		event_del(e->retry_ev);
		event_active(e->retry_ev, EV_TIMEOUT, 0);
	}
}

/* A deferred end is settled, written or given up. */
static void
end_settled(struct job *j, int status)
{
	struct eng *e = j->e;

	if (status == 0)
		end_retry_soon(e);
	if (!j->deferred)
		return;
	if (--e->ndeferred == 0 && status == 0)
		log_info("job %lld: its end is recorded, the last of those kept "
		    "in memory", (long long)j->id);
}

/* The end write's commit (or failure): tell the waiters, free the job. */
static void
end_written(void *arg, int status)
{
	struct job *j = arg;
	struct eng *e = j->e;

	if (status < 0 && end_defer(j, status))
		return;
	if (status < 0) {
		e->c.store_errors++;
		log_warnx("job %lld: its end (%s) was not recorded: %s%s",
		    (long long)j->id, store_state_name(j->end_state),
		    store_errmsg(), e->final ? "; the database still shows "
		    "it unfinished, and the next start recovers it as "
		    "interrupted" : "");
	}
	end_settled(j, status);
	if (status == 0) {
		end_recorded(j);
		return;
	}
	idmap_del(e->jobs, j->id);
	co_waitq_wake_all(&j->doneq, -EIO);
	if (j->g != NULL)
		group_member_done(j->g, j, status);
	job_free(j);
}

/* j's end (J_ENDING) is in the database: tell its waiters, free it.  Also
 * for a job the store ended itself (a dependency's cancel, deps.c). */
void
end_recorded(struct job *j)
{
	job_observe(j, j->end_state);
	idmap_del(j->e->jobs, j->id);
	co_waitq_wake_all(&j->doneq, (int)j->end_state);
	if (j->g != NULL)
		group_member_done(j->g, j, 0);
	job_free(j);
}

static void
end_requeued(void *arg, int status)
{
	struct job *j = arg;

	if (status < 0) {
		j->e->c.store_errors++;
		log_warnx("job %lld: not requeued: %s", (long long)j->id,
		    store_errmsg());
	} else {
		j->ready_at = store_now();
		job_observe(j, STORE_QUEUED);
	}
	job_move(j, J_INQ);     /* in the database; memory is done */
}

/* Send the end writes of the jobs that ended since the last call.  It runs
 * from a libevent callback on the loop's own stack, not on the workers':
 * formatting a result (printf of a double) is deep, and doing it on each
 * worker's stack would cost every sleeping job a second stack page. */
void
end_flush(struct eng *e)
{
	struct store_end end;
	struct job *j;
	int rc;

	while ((j = TAILQ_FIRST(&e->ends)) != NULL) {
		TAILQ_REMOVE(&e->ends, j, end_link);
		if (j->end_result != NULL) {
			j->end_text = proto_dumps(j->end_result,
			    JSON_COMPACT);
			json_decref(j->end_result);
			j->end_result = NULL;
		}
		if (j->retrying) {              /* failed, retried later */
			sched_flush(j);
			continue;
		}
		memset(&end, 0, sizeof(end));
		end.state = j->end_state;
		end.finished_at = j->end_at;
		end.result = j->end_text;
		end.error = j->end_error;
		if (j->end_state == STORE_CANCELLED)
			end.cancel_reason = j->cancel_reason != NULL ?
			    j->cancel_reason : "cancelled";
		if ((rc = store_mark_ended(e->st, j->id, &end, end_written,
		    j)) < 0)
			end_written(j, rc);
	}
}

/* Write the deferred ends again (see end_defer). */
void
end_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct eng *e = arg;

	(void)fd;
	(void)what;
	TAILQ_CONCAT(&e->ends, &e->retry, end_link);
	end_flush(e);
}

void
end_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	end_flush(arg);
}

/* The stop's last try for deferred ends; a failure now is given up (the
 * next start's recovery deals with the job). */
void
end_final(struct eng *e)
{
	e->final = true;
	event_del(e->retry_ev);
	TAILQ_CONCAT(&e->ends, &e->retry, end_link);
	end_flush(e);                   /* before the store closes */
}

/* Log policy (docs/SYSTEMD.md): every state change at debug, a job that
 * failed or timed out at info. */
static void
end_log(const struct job *j, enum store_state state, const char *error)
{
	if (state == STORE_FAILED || state == STORE_TIMED_OUT)
		log_info("job %lld: %s%s%s", (long long)j->id,
		    store_state_name(state), error ? ": " : "",
		    error ? error : "");
	else
		log_debug("job %lld: %s", (long long)j->id,
		    store_state_name(state));
}

/* Whether j, stopped by a shutdown while running, may run again at the
 * next start: the same rule as after a crash (kind_rerun), else msg. */
static bool
end_rerun_ok(const struct job *j, char *msg, size_t len)
{
	static const enum kind_idem idem[] = { KIND_IDEM_UNSET, KIND_IDEM_NO,
	    KIND_IDEM_YES };
	char why[KIND_WHY_MAX];

	if (kind_rerun(j->kind, j->args, idem[j->idempotent + 1], why,
	    sizeof(why)))
		return true;
	kind_rerun_error(msg, len, why);
	return false;
}

/* Record j's end (result's reference is taken).  STORE_QUEUED means
 * "stopped by a shutdown": back to queued while attempts remain and its
 * kind's rule allows a second run, else failed. */
void
end_job(struct job *j, enum store_state state, json_t *result,
    const char *error)
{
	struct eng *e = j->e;
	char msg[160];

	queue_left(j);
	user_uncount(j);
	if (state == STORE_QUEUED && !end_rerun_ok(j, msg, sizeof(msg))) {
		state = STORE_FAILED;
		error = msg;
	} else if (state == STORE_QUEUED && j->attempts - j->run_base <
	    j->max_attempts) {
		log_debug("job %lld: queued again (jobd stopping)",
		    (long long)j->id);
		json_decref(result);
		e->c.requeued++;
		if (store_requeue(e->st, j->id, end_requeued, j) < 0)
			end_requeued(j, -EIO);
		return;
	}
	if (state == STORE_QUEUED) {
		snprintf(msg, sizeof(msg), "interrupted (jobd stopped) after "
		    "%d attempt%s", j->attempts, j->attempts == 1 ? "" : "s");
		state = STORE_FAILED;
		error = msg;
	}
	j->end_state = state;
	j->end_at = store_now();        /* not when the write goes out */
	j->end_result = result;
	j->end_error = error != NULL ? strdup(error) : NULL;
	if (j->where == J_RUNNING && sched_retry(j, state)) {
		job_move(j, J_SCHEDULED);
		e->c.retried++;
		end_log(j, state, error);
		if (TAILQ_EMPTY(&e->ends))
			event_active(e->ends_ev, 0, 0);
		TAILQ_INSERT_TAIL(&e->ends, j, end_link);
		return;
	}
	job_move(j, J_ENDING);
	e->c.ended[state]++;
	end_log(j, state, error);
	if (TAILQ_EMPTY(&e->ends))
		event_active(e->ends_ev, 0, 0);
	TAILQ_INSERT_TAIL(&e->ends, j, end_link);
	if (j->g != NULL && j->g->mode == STORE_GROUP_FAIL_FAST &&
	    !j->g->tripped && (state == STORE_FAILED ||
	    state == STORE_TIMED_OUT))
		group_trip(j->g, j->id, state, error);
}

/* The state a job that a cancel, timeout or stop interrupted ends in;
 * result is what the kind had so far (a stopped exec keeps its output). */
void
end_interrupted(struct job *j, int rc, json_t *result)
{
	char msg[128];

	if (rc == -ETIMEDOUT) {
		snprintf(msg, sizeof(msg), "timed out after %g s", j->timeout);
		end_job(j, STORE_TIMED_OUT, result, msg);
	} else if (j->stop == STOP_SHUTDOWN) {
		end_job(j, STORE_QUEUED, result, NULL); /* requeue or fail */
	} else {
		end_job(j, STORE_CANCELLED, result, NULL);
	}
}
