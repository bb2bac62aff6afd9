/*
 * store_pg_life.c — the PostgreSQL backend's writes that go one at a time
 * (store_pg_write.c sends everything else as multi-row statements): the
 * look-up of the job holding a unique key or a schedule's slot, the
 * lifecycle's writes (retry, ready, revive, pause, prune) and recovery
 * with the kinds' rule.  They are rare beside inserts, starts and ends, so
 * each is a few plain statements; the SQL does what store_sqlite.c's
 * does, row for row (docs/SCHEMA.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

int
pg_wexec(struct store_backend *b, const char *sql, int n, const char *const *v,
    const char *what, PGresult **rp)
{
	PGresult *r = PQexecParams(b->wc, sql, n, NULL, v, NULL, NULL, 0);
	ExecStatusType s = PQresultStatus(r);
	int rc = 0;

	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
		rc = pg_fail(b, b->wc, r, what);
	if (rc == 0 && rp != NULL) {
		*rp = r;
		return 0;
	}
	PQclear(r);
	return rc;
}

/* An UPDATE that must change the one job id: else -ENOENT. */
static int
pg_one(struct store_backend *b, const char *sql, int n, const char *const *v,
    const char *what, const char *states, bool *alone)
{
	PGresult *r;
	int rc;

	if ((rc = pg_wexec(b, sql, n, v, what, &r)) < 0) {
		*alone = rc == -EINVAL;
		return rc;
	}
	if (strcmp(PQcmdTuples(r), "1") != 0) {
		*alone = true;
		rc = store_seterr(-ENOENT, "%s: %s %s: no job %s in state %s",
		    b->name, what, v[0], v[0], states);
	}
	PQclear(r);
	return rc;
}

/* ---- unique keys and slots ---------------------------------------------- */

static int
pg_dup_one(struct store_backend *b, const struct store_new_job *j)
{
	char a[32];
	const char *v[2] = { j->schedule != NULL ? j->schedule : j->unique_key,
		a };
	PGresult *r;
	int64_t id = 0;
	int rc;

	for (int k = 0; k < 2 && id == 0; k++) {
		if ((k == 0 ? j->schedule : j->unique_key) == NULL)
			continue;
		v[0] = k == 0 ? j->schedule : j->unique_key;
		if (k == 0)
			snprintf(a, sizeof(a), "%.17g", j->slot);
		else if (j->unique_for > 0)
			snprintf(a, sizeof(a), "%.17g",
			    j->created_at - j->unique_for);
		else
			snprintf(a, sizeof(a), "Infinity");
		rc = pg_wexec(b, k == 0 ? "SELECT id FROM jobs WHERE "
		    "schedule = $1 AND slot = $2::float8" :
		    "SELECT id FROM jobs WHERE unique_key = $1 AND "
		    "(finished_at IS NULL OR created_at >= $2::float8) "
		    "ORDER BY id DESC LIMIT 1", 2, v, "look up a unique job",
		    &r);
		if (rc < 0)
			return rc;
		if (PQntuples(r) > 0)
			id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
	}
	if (id == 0)
		return 0;
	*j->existing = id;
	return store_seterr(-EEXIST, "%s: job %lld already holds %s", b->name,
	    (long long)id, j->schedule != NULL ? "this schedule's slot" :
	    "this unique_key");
}

int
pg_dup(struct store_backend *b, const struct store_write *w)
{
	int rc = 0;

	if (w->kind == STORE_W_INSERT)
		return pg_dup_one(b, w->u.ins.job);
	for (size_t i = 0; rc == 0 && i < w->u.grp.n; i++)
		if (w->u.grp.jobs[i].schedule != NULL ||
		    w->u.grp.jobs[i].unique_key != NULL)
			rc = pg_dup_one(b, &w->u.grp.jobs[i]);
	return rc;
}

/* ---- the lifecycle's writes --------------------------------------------- */

/* Keep the start about to end (nothing for a job not running). */
static int
pg_attempt(struct store_backend *b, const char *sid, const char *state,
    const struct store_end *e)
{
	char fin[32];
	const char *v[5] = { sid, fin, state, e != NULL ? e->error : NULL,
		e != NULL ? e->result : NULL };

	snprintf(fin, sizeof(fin), "%.17g", e != NULL && e->finished_at > 0 ?
	    e->finished_at : store_now());
	return pg_wexec(b, "INSERT INTO job_attempts (job_id, attempt, "
	    "node, epoch, started_at, finished_at, state, error, result) "
	    "SELECT id, attempts, node, epoch, started_at, $2, $3, $4, "
	    "$5::json FROM jobs "
	    "WHERE id = $1 AND state = 'running' AND attempts > 0 "
	    "ON CONFLICT (job_id, attempt) DO UPDATE SET "
	    "started_at = EXCLUDED.started_at, "
	    "finished_at = EXCLUDED.finished_at, state = EXCLUDED.state, "
	    "error = EXCLUDED.error, result = EXCLUDED.result, "
	    "node = EXCLUDED.node, epoch = EXCLUDED.epoch", 5, v,
	    "keep the attempt", NULL);
}

static int
pg_retry(struct store_backend *b, const struct store_write *w, bool *alone)
{
	const struct store_end *e = &w->u.retry.end;
	char sid[24], at[32];
	const char *v[6] = { sid, at, e->error, e->result, b->node_s,
		b->epoch_s };
	int rc;

	snprintf(sid, sizeof(sid), "%lld", (long long)w->u.retry.id);
	snprintf(at, sizeof(at), "%.17g", w->u.retry.run_at);
	if ((rc = pg_attempt(b, sid, store_state_name(e->state), e)) < 0) {
		*alone = rc == -EINVAL;
		return rc;
	}
	return pg_one(b, "UPDATE jobs SET state = 'scheduled', run_at = $2, "
	    "retried = retried + 1, run_base = attempts, error = $3, "
	    "result = $4::json WHERE id = $1 AND state = 'running' AND "
	    "node = $5::bigint AND epoch = $6::bigint", 6, v,
	    "retry job", "running, held by this daemon", alone);
}

static int
pg_ready(struct store_backend *b, const struct store_write *w, bool *alone)
{
	char sid[24];
	const char *v[3] = { sid, b->node_s, b->epoch_s };

	snprintf(sid, sizeof(sid), "%lld", (long long)w->u.ready.id);
	if (w->kind == STORE_W_READY)
		return pg_one(b, "UPDATE jobs SET state = 'queued' WHERE "
		    "id = $1 AND state = 'scheduled' AND node = $2::bigint AND "
		    "epoch = $3::bigint", 3, v, "ready job",
		    "scheduled, held by this daemon", alone);
	/* The retry op takes the job into this daemon's memory. */
	return pg_one(b, "UPDATE jobs SET state = 'queued', finished_at = NULL, "
	    "result = NULL, error = NULL, cancel_reason = NULL, retried = 0, "
	    "run_base = attempts, run_at = NULL, node = $2::bigint, "
	    "epoch = $3::bigint WHERE id = $1 AND state IN "
	    "('failed', 'timed_out', 'cancelled')", 3, v, "retry job",
	    "failed, timed_out or cancelled", alone);
}

static int
pg_pause(struct store_backend *b, const struct store_write *w)
{
	char at[32];
	const char *v[2] = { w->u.pause.queue, at };

	snprintf(at, sizeof(at), "%.17g", w->u.pause.at);
	if (w->u.pause.paused)
		return pg_wexec(b, "INSERT INTO queue_pause (queue, paused_at) "
		    "VALUES ($1, $2) ON CONFLICT DO NOTHING", 2, v,
		    "pause queue", NULL);
	return pg_wexec(b, "DELETE FROM queue_pause WHERE queue = $1", 1, v,
	    "pause queue", NULL);
}

/* Up to limit ended jobs, oldest first, state by state (jobs_finished),
 * with their attempts; a member of a group not all ended stays. */
static int
pg_prune(struct store_backend *b, const struct store_write *w)
{
	const struct store_prune *p = &w->u.prune.p;
	char before[32], lim[24];
	const char *v[4] = { NULL, before, p->queue, lim };
	size_t left = p->limit, n = 0, got;
	PGresult *r;
	int rc = 0;

	/* One daemon prunes at a time (advisory key 0x6a6f6266, "jobf"):
	 * another one's round deletes the same rows, and this one would
	 * only wait on their locks. */
	*w->u.prune.deleted = 0;
	if ((rc = pg_wexec(b, "SELECT pg_try_advisory_xact_lock(1785684582)",
	    0, NULL, "lock the pruner", &r)) < 0)
		return rc;
	got = *PQgetvalue(r, 0, 0) == 't';
	PQclear(r);
	if (!got)
		return 0;
	snprintf(before, sizeof(before), "%.17g", p->before);
	for (int st = STORE_SUCCEEDED; rc == 0 && st <= STORE_CANCELLED &&
	    left > 0; st++) {
		if (p->states != 0 && !(p->states & (1u << st)))
			continue;
		v[0] = store_state_name(st);
		snprintf(lim, sizeof(lim), "%zu", left);
		if ((rc = pg_wexec(b, "WITH d AS (SELECT id FROM jobs WHERE "
		    "state = $1 AND finished_at IS NOT NULL AND "
		    "finished_at < $2::float8 AND ($3::text IS NULL OR "
		    "queue = $3) AND (group_id IS NULL OR NOT EXISTS (SELECT 1 "
		    "FROM jobs g WHERE g.group_id = jobs.group_id AND "
		    "g.finished_at IS NULL)) AND NOT EXISTS (SELECT 1 FROM "
		    "job_deps dd JOIN jobs wj ON wj.id = dd.job_id WHERE "
		    "dd.depends_on = jobs.id AND wj.finished_at IS NULL) "
		    "ORDER BY finished_at LIMIT $4::bigint), "
		    "a AS (DELETE FROM job_attempts WHERE job_id IN "
		    "(SELECT id FROM d)), "
		    "x AS (DELETE FROM job_deps WHERE job_id IN "
		    "(SELECT id FROM d)) "
		    "DELETE FROM jobs WHERE id IN (SELECT id FROM d)", 4, v,
		    "prune", &r)) < 0)
			break;
		got = strtoull(PQcmdTuples(r), NULL, 10);
		PQclear(r);
		left -= got < left ? got : left;
		n += got;
	}
	*w->u.prune.deleted = rc == 0 ? n : 0;
	return rc;
}

/* ---- recovery ----------------------------------------------------------- */

/* A running job not to run again: failed, and re-read for its row. */
static int
rec_fail(struct store_backend *b, struct store_job **jp, double now,
    const char *msg)
{
	struct store_end e = { .state = STORE_FAILED, .finished_at = now,
		.error = msg };
	char sid[24], fin[32];
	const char *v[3] = { sid, fin, msg };
	struct store_job **one;
	PGresult *r;
	size_t k;
	int rc;

	snprintf(sid, sizeof(sid), "%lld", (long long)(*jp)->id);
	snprintf(fin, sizeof(fin), "%.17g", now);
	if ((rc = pg_attempt(b, sid, "failed", &e)) < 0 ||
	    (rc = pg_wexec(b, "UPDATE jobs SET state = 'failed', "
	    "finished_at = $2, result = NULL, error = $3, cancel_reason = NULL "
	    "WHERE id = $1", 3, v, "end job", NULL)) < 0 ||
	    (rc = pg_wexec(b, "SELECT " PG_COLS " FROM jobs WHERE id = $1", 1,
	    v, "recover", &r)) < 0)
		return rc;
	rc = pg_collect(b, r, &one, &k);
	PQclear(r);
	if (rc < 0)
		return rc;
	if (k != 1) {
		store_jobs_free(one, k);
		return store_seterr(-EIO, "%s: recovery lost job %s", b->name,
		    sid);
	}
	store_job_free(*jp);
	*jp = one[0];
	(*jp)->interrupted = true;
	free(one);
	return 0;
}

/* A running job to run again: its start kept as interrupted, queued. */
static int
rec_requeue(struct store_backend *b, struct store_job *j)
{
	char sid[24];
	const char *v[1] = { sid };
	int rc;

	snprintf(sid, sizeof(sid), "%lld", (long long)j->id);
	if ((rc = pg_attempt(b, sid, "interrupted", NULL)) < 0)
		return rc;
	j->state = STORE_QUEUED;
	return pg_wexec(b, "UPDATE jobs SET state = 'queued' WHERE id = $1",
	    1, v, "requeue job", NULL);
}

/* The crash rules for jobs[i] of res, running on a daemon that is gone
 * (or on this one before its restart): requeued (its start kept as
 * interrupted) or, out of attempts or not safe to run again (the
 * kinds' rule), failed. */
int
pg_rec_running(struct store_backend *b, const struct store_write *w,
    struct store_recover_res *res, size_t i)
{
	char msg[STORE_RERUN_ERROR_MAX];
	struct store_job *j = res->jobs[i];
	bool again;

	j->interrupted = true;
	again = j->attempts - j->run_base < j->max_attempts;
	if (!again)
		store_interrupted_msg(msg, sizeof(msg), j->attempts);
	else if (w->u.recover.rerun != NULL &&
	    !w->u.recover.rerun(w->u.recover.rerun_arg, j, msg, sizeof(msg))) {
		again = false;
		res->rep.refused++;
	}
	if (again) {
		res->rep.requeued++;
		return rec_requeue(b, j);
	}
	res->rep.failed++;
	return rec_fail(b, &res->jobs[i], w->u.recover.now, msg);
}

int
pg_life_apply(struct store_backend *b, const struct store_write *w,
    bool *alone)
{
	*alone = false;
	switch (w->kind) {
	case STORE_W_RETRY:
		return pg_retry(b, w, alone);
	case STORE_W_READY:
	case STORE_W_REVIVE:
		return pg_ready(b, w, alone);
	case STORE_W_PAUSE:
		return pg_pause(b, w);
	case STORE_W_PRUNE:
		return pg_prune(b, w);
	case STORE_W_RECOVER:
	case STORE_W_NODE:
		return pg_node_apply(b, w);
	case STORE_W_CANCEL_ASK:
		return pg_cancel_ask(b, w, alone);
	case STORE_W_CANCEL_TAKE:
		return pg_cancel_take(b, w);
	case STORE_W_CLAIM:
		return pg_claim(b, w);
	default:
		break;
	}
	*alone = true;
	return store_seterr(-EINVAL, "%s: write %d is not one of these",
	    b->name, w->kind);
}
