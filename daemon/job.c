/*
 * job.c — the job object in memory and its state machine (engine_int.h).
 *
 * Every change of a job's `where` goes through job_move, which checks it
 * against the table below: the code that moves a job says where to, and
 * this file says whether that can happen.  The table covers the contract's
 * states (docs/PROTOCOL.md); what each in-memory state is there:
 *
 *   in memory      contract      in memory      contract
 *   J_NEW          queued        J_RUNNING      running
 *   J_PUTTING      queued        J_ENDING       (its end: succeeded,
 *   J_INQ          queued                        failed, timed_out,
 *   J_TAKEN        queued                        cancelled)
 *   J_SCHEDULED    scheduled     J_WAITING      waiting
 *
 *   forward:   NEW ──▶ [PUTTING ──▶] INQ ──▶ TAKEN ──▶ RUNNING ──▶ ENDING
 *   ended:     NEW, INQ, TAKEN, RUNNING ──▶ ENDING (cancel, end, failure)
 *   backward:  PUTTING ──▶ NEW   (no memory to put it: out, a cancel ends it)
 *              TAKEN ──▶ INQ     (jobd stopping before it started)
 *              RUNNING ──▶ INQ   (stopped by a shutdown: requeued)
 *   stage two: RUNNING ──▶ SCHEDULED (retry), SCHEDULED ──▶ INQ,
 *              WAITING ──▶ INQ | SCHEDULED, both ──▶ ENDING (cancel)
 *
 * ENDING is left only by the free once the end committed.  PUTTING is
 * a group member's: a lone submit waits for room before it has an id.
 * SCHEDULED is sched.c's (run_at, retries), WAITING deps.c's
 * (dependencies).
 *
 * An illegal move is a bug in jobd: job_move ends the process (fatalx)
 * rather than carry on with a job whose state nobody can trust (it could
 * run twice, or never end in the database).  The database stays the
 * truth: the next start's recovery puts every unfinished job back.
 * job_try_move is the checking half, for tests and for code that may ask.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "idmap.h"
#include "kind.h"
#include "log.h"
#include "metrics.h"
#include "watch.h"

/* legal[from][to]: the moves a job may make, each with who makes it. */
static const bool legal[J_NWHERE][J_NWHERE] = {
	[J_NEW] = {
		[J_PUTTING] = true,     /* a group's submitter puts it */
		[J_INQ] = true,         /* a lone submit, or recovery, put it */
		[J_ENDING] = true,      /* cancelled before it was put; or
					 * recovery cannot run it */
		[J_SCHEDULED] = true,   /* submitted (or recovered) with a
					 * run_at ahead */
		[J_WAITING] = true,     /* submitted (or recovered) with
					 * dependencies not ended */
	},
	[J_PUTTING] = {
		[J_NEW] = true,         /* no memory to put it: try later;
					 * or cancelled while it waited for
					 * room (withdrawn): it ends */
		[J_INQ] = true,         /* the put is done */
	},
	[J_INQ] = {
		[J_TAKEN] = true,       /* a worker takes it */
		[J_ENDING] = true,      /* cancelled in its queue; or it
					 * could not go back to one */
	},
	[J_TAKEN] = {
		[J_INQ] = true,         /* jobd is stopping: stays queued */
		[J_RUNNING] = true,     /* its insert committed: it starts */
		[J_ENDING] = true,      /* cancelled before it started */
	},
	[J_RUNNING] = {
		[J_INQ] = true,         /* stopped by a shutdown: requeued */
		[J_ENDING] = true,      /* it ended, however */
		[J_SCHEDULED] = true,   /* stage two: failed, retried later */
	},
	[J_ENDING] = { false },     /* only its commit frees it */
	[J_SCHEDULED] = {
		[J_INQ] = true,         /* stage two: run_at has come */
		[J_ENDING] = true,      /* cancelled while scheduled */
	},
	[J_WAITING] = {
		[J_INQ] = true,         /* stage two: dependencies done */
		[J_SCHEDULED] = true,   /* ... and it has a run_at */
		[J_ENDING] = true,      /* cancelled, or a dependency failed */
	},
};

static const char *const names[J_NWHERE] = {
	[J_NEW] = "new", [J_PUTTING] = "putting", [J_INQ] = "in_queue",
	[J_TAKEN] = "taken", [J_RUNNING] = "running", [J_ENDING] = "ending",
	[J_SCHEDULED] = "scheduled", [J_WAITING] = "waiting",
};

/* The contract's state of each (J_ENDING: whichever end it has). */
static const char *const contract[J_NWHERE] = {
	[J_NEW] = "queued", [J_PUTTING] = "queued", [J_INQ] = "queued",
	[J_TAKEN] = "queued", [J_RUNNING] = "running", [J_ENDING] = "ended",
	[J_SCHEDULED] = "scheduled", [J_WAITING] = "waiting",
};

bool
job_move_legal(enum job_where from, enum job_where to)
{
	if ((unsigned)from >= J_NWHERE || (unsigned)to >= J_NWHERE)
		return false;
	return legal[from][to];
}

const char *
job_where_name(enum job_where w)
{
	return (unsigned)w < J_NWHERE ? names[w] : "?";
}

const char *
job_where_contract(enum job_where w)
{
	return (unsigned)w < J_NWHERE ? contract[w] : "?";
}

/* 0 and j moved, or -EINVAL and j where it was. */
int
job_try_move(struct job *j, enum job_where to)
{
	if (!job_move_legal(j->where, to))
		return -EINVAL;
	if (j->e != NULL)
		j->e->moves[j->where][to]++;
	j->where = to;
	return 0;
}

void
job_move(struct job *j, enum job_where to)
{
	if (job_try_move(j, to) < 0)
		fatalx("job %lld: illegal move from %s to %s", (long long)j->id,
		    job_where_name(j->where), job_where_name(to));
}

struct job *
job_new(struct eng *e, struct equeue *q, const struct kind *k, json_t *args,
    double timeout, int max_attempts)
{
	struct job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->e = e;
	j->q = q;
	j->kind = k;
	j->args = json_incref(args);
	j->timeout = timeout;
	j->max_attempts = max_attempts;
	j->uid = ENG_NOBODY;
	j->where = J_NEW;
	j->priority = q != NULL ? q->priority : 5;
	j->retries = q != NULL ? q->retries : 0;
	j->backoff = q != NULL ? q->backoff : (struct backoff)BACKOFF_DEFAULT;
	j->idempotent = -1;
	j->created_at = j->ready_at = store_now();
	co_waitq_init(&j->insertq);
	co_waitq_init(&j->doneq);
	return j;
}

/* A job of who's, counted for who. */
struct job *
job_from(struct eng *e, struct equeue *q, const struct kind *k,
    const struct proto_submit *s, const struct eng_who *who)
{
	struct job *j;

	j = job_new(e, q, k, s->args, s->timeout == PROTO_UNSET ?
	    q->timeout : s->timeout, s->max_attempts > 0 ?
	    (int)s->max_attempts : q->max_attempts);
	if (j != NULL) {
		sched_configure(j, s);
		j->has_deps = s->nafter > 0;
	}
	if (j == NULL || who == NULL)
		return j;
	j->uid = who->uid;
	if (user_count(j) < 0) {
		job_free(j);
		return NULL;
	}
	return j;
}

/* What store_insert wants, for j as s submitted it; *textp (args as JSON
 * text, unless the lean parser wrote it: s->args_text) is the caller's to
 * free. */
int
job_row(const struct job *j, const struct proto_submit *s,
    const struct eng_who *who, struct store_new_job *row, char **textp)
{
	*textp = NULL;
	if (s->args_text == NULL &&
	    (*textp = proto_dumps(j->args, JSON_COMPACT)) == NULL)
		return -ENOMEM;
	memset(row, 0, sizeof(*row));
	row->queue = j->q->name;
	row->kind = j->kind->name;
	row->args = *textp != NULL ? *textp : s->args_text;
	row->name = s->name;
	row->created_at = j->created_at;
	row->timeout = j->timeout;
	row->max_attempts = j->max_attempts;
	row->priority = j->priority;
	row->retries = j->retries;
	row->retry_delay = j->backoff.delay;
	row->retry_max_delay = j->backoff.max_delay;
	row->retry_backoff = j->backoff.mode == BACKOFF_FIXED ?
	    STORE_BACKOFF_FIXED : STORE_BACKOFF_EXPONENTIAL;
	row->idempotent = j->idempotent < 0 ? STORE_IDEM_UNSET :
	    j->idempotent ? STORE_IDEM_YES : STORE_IDEM_NO;
	if (j->run_at > 0) {
		row->run_at = j->run_at;
		row->state = j->delayed ? STORE_SCHEDULED : STORE_QUEUED;
	}
	if (who != NULL && who->uid != ENG_NOBODY) {
		row->submitter.known = true;
		row->submitter.uid = who->uid;
		row->submitter.gid = who->gid;
		row->submitter.pid = who->pid;
	}
	return 0;
}

void
job_free(struct job *j)
{
	user_uncount(j);
	json_decref(j->args);
	json_decref(j->end_result);
	free(j->end_text);
	free(j->end_error);
	free(j->cancel_reason);
	free(j->name);
	watch_cache_free(j->wcache);
	free(j);
}

/* ---- events and counters ------------------------------------------------- */

/* Every committed state change of j passes here (a start once it is
 * sent: a pure kind does not wait for its commit): the counters
 * (metrics.h), then one event for the watchers (job_event).  Called from
 * the commit callbacks: submit_inserted, group_inserted, end_written,
 * end_requeued, and from queue_mark_started. */
void
job_observe(struct job *j, enum store_state state)
{
	/* A recovered job may have lost its queue or kind (it ends failed). */
	struct met_queue *mq = j->q != NULL ? j->q->met : NULL;

	/* Submitted: once, when the insert commits (a job with
	 * dependencies as waiting; its release is no second submit). */
	if (j->attempts == 0 && (state == STORE_WAITING ||
	    ((state == STORE_QUEUED || state == STORE_SCHEDULED) &&
	    !j->has_deps)))
		met_submitted(mq, j->kind);
	else if (state == STORE_RUNNING)
		met_started(mq, j->started_at - j->ready_at);
	else if (store_state_ended(state))
		met_ended(mq, j->kind, state, j->started_at >= j->ready_at &&
		    j->started_at > 0 ? j->end_at - j->started_at : -1);
	job_event(j, state);
}

/* j as its events show it, in state. */
static void
job_watch(struct job *j, enum store_state state, struct watch_job *wj)
{
	*wj = (struct watch_job){ .id = j->id, .group = j->g ? j->g->id : 0,
	    .queue = j->q != NULL ? j->q->name : "",
	    .kind = j->kind != NULL ? j->kind->name : "", .name = j->name,
	    .state = state, .args = j->args, .attempts = j->attempts,
	    .max_attempts = j->max_attempts, .timeout = j->timeout,
	    .created_at = j->created_at, .started_at = j->started_at,
	    .run_at = j->run_at, .priority = j->priority,
	    .retries = j->retries, .cache = &j->wcache,
	    .uid = j->uid };
	if (store_state_ended(state)) {
		wj->finished_at = j->end_at;
		wj->result = j->end_text;
		wj->error = j->end_error;
		if (state == STORE_CANCELLED)
			wj->cancel_reason = j->cancel_reason != NULL ?
			    j->cancel_reason : "cancelled";
	} else if (state == STORE_SCHEDULED && j->retrying) {
		wj->result = j->end_text;       /* the attempt that failed, */
		wj->error = j->end_error;       /* as the row keeps them */
	}
}

/* j's change to state, for the watchers only: the changes the counters do
 * not count (a retry's running -> scheduled, a due job's scheduled ->
 * queued, a revived one) come here straight, when their write is sent,
 * so that they stay in order with the start that may follow at once. */
void
job_event(struct job *j, enum store_state state)
{
	struct watch_job wj;

	if (j->e->hub == NULL || watch_count(j->e->hub) == 0)
		return;
	job_watch(j, state, &wj);
	watch_publish(j->e->hub, &wj);
}

/* j is queued again (its run_at came, a retry op): its queue wait begins
 * now, and the watchers are told. */
void
job_ready(struct job *j)
{
	j->ready_at = store_now();
	job_event(j, STORE_QUEUED);
}

/* A submit of j found its unique key or slot held by job existing. */
void
job_duplicate(struct job *j, int64_t existing)
{
	struct watch_job wj;

	if (j->e->hub == NULL || watch_count(j->e->hub) == 0)
		return;
	job_watch(j, STORE_QUEUED, &wj);
	watch_publish_duplicate(j->e->hub, &wj, existing);
}

/* Forget a job whose insert failed: it never existed for anyone. */
void
job_forget(struct job *j)
{
	if (j->id > 0 && idmap_get(j->e->jobs, j->id) == j)
		idmap_del(j->e->jobs, j->id);
	co_waitq_wake_all(&j->insertq, -EIO);
	co_waitq_wake_all(&j->doneq, -EIO);
	if (j->g != NULL)
		group_member_done(j->g, j, -EIO);
	job_free(j);
}

/* j (not in a queue, not running) is another daemon's now: pooled, for
 * whichever claims it.  Its waiters here follow its row (-EXDEV:
 * eng_wait_job); its group here counts it as gone, not failed. */
void
job_handoff(struct job *j)
{
	if (j->id > 0 && idmap_get(j->e->jobs, j->id) == j)
		idmap_del(j->e->jobs, j->id);
	co_waitq_wake_all(&j->insertq, 0);
	co_waitq_wake_all(&j->doneq, -EXDEV);
	if (j->g != NULL)
		group_member_done(j->g, j, 0);
	job_free(j);
}

/* The insert of a job or group failed: undo j in memory, wherever it is. */
void
job_lost(struct job *j)
{
	j->insert_failed = true;
	switch (j->where) {
	case J_NEW:
		job_forget(j);
		break;
	case J_INQ:
		if (queue_remove(j) == 0)
			job_forget(j);
		/* else a worker has it and forgets it */
		break;
	case J_SCHEDULED:       /* a delayed job whose insert failed */
		sched_remove(j);
		job_forget(j);
		break;
	case J_TAKEN:
		co_waitq_wake_all(&j->insertq, -EIO);
		break;
	case J_WAITING:         /* its insert failed (a dependency gone) */
		deps_unwait(j);
		job_forget(j);
		break;
	case J_PUTTING:         /* its submitter checks once it is in */
	case J_RUNNING:         /* cannot be: workers wait for the insert */
	case J_ENDING:          /* cancelled meanwhile: its end fails too */
	case J_NWHERE:
		break;
	}
}
