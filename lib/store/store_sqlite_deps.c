/*
 * store_sqlite_deps.c — dependencies in the SQLite backend (schema 6):
 * the edges of an insert, and what a job's end does to the jobs waiting
 * for it, inside the transaction that records the end (store_backend.h,
 * docs/SCHEMA.md "Schema 6").
 *
 * jobs.deps_left counts a waiting job's dependencies not yet ended; an end
 * decrements it for each dependant found through job_deps_on (an index
 * probe, not a scan), so a job with 10,000 dependencies costs one row
 * write per end, not a recount.  A dependant of a job that ended otherwise
 * than succeeded is cancelled at once under on_dependency_failure =
 * cancel, and its own dependants in turn: the chain is walked with a stack
 * in this one transaction, however long.  Every job moved is reported to
 * the front (store_chg_add) for the daemon to follow in memory.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite.h"

static const char *const sqd_sql[D_N] = {
	[D_STATE] = "SELECT state FROM jobs WHERE id = ?1",
	[D_EDGE] = "INSERT INTO job_deps (job_id, depends_on) VALUES (?1, ?2)",
	[D_WAIT] = "UPDATE jobs SET state = 'waiting', deps_left = ?2, "
	    "on_dependency_failure = ?3 WHERE id = ?1",
	[D_DEPENDANTS] = SQ_SQL_DEPENDANTS,
	[D_DEC] = "UPDATE jobs SET deps_left = deps_left - 1 "
	    "WHERE id = ?1 AND state = 'waiting' AND deps_left > 0 "
	    "RETURNING deps_left, on_dependency_failure, run_at",
	[D_FIRE] = SQ_SQL_FIRE,
	[D_CANCEL] = "UPDATE jobs SET state = 'cancelled', finished_at = ?2, "
	    "cancel_reason = ?3 WHERE id = ?1 AND state = 'waiting'",
	[D_RELEASE] = "UPDATE jobs SET state = ?2 WHERE id = ?1 AND "
	    "state = 'waiting'",
	[D_DEPS_OF] = "SELECT p.id, p.state FROM job_deps d JOIN jobs p "
	    "ON p.id = d.depends_on WHERE d.job_id = ?1",
	[D_SELF] = "SELECT on_dependency_failure, run_at FROM jobs "
	    "WHERE id = ?1 AND state = 'waiting'",
	[D_LEFT] = "UPDATE jobs SET deps_left = ?2 WHERE id = ?1",
	[D_WAITING] = "SELECT id FROM jobs WHERE state = 'waiting' ORDER BY id",
	[D_PRUNE] = "DELETE FROM job_deps WHERE job_id = ?1",
};

int
sqd_prepare(struct store_backend *b)
{
	return sq_prepare(b, b->db, sqd_sql, b->ds, D_N);
}

void
sqd_finalize(struct store_backend *b)
{
	sq_finalize(b->ds, D_N);
}

/* A step that failed: the transaction is lost (never half a cascade). */
static int
sqd_fail(struct store_backend *b, sqlite3_stmt *s, int rc, const char *what,
    bool *lost)
{
	sqlite3_reset(s);
	*lost = true;
	return sq_fail(b, b->db, rc, what);
}

static bool
sqd_ended_name(const unsigned char *state, enum store_state *st)
{
	return state != NULL && store_state_parse((const char *)state,
	    st) == 0 && store_state_ended(*st);
}

/* Dependency k of new job id (its group's first id `first`). */
static int64_t
sqd_dep(const struct store_new_job *j, size_t k, int64_t first)
{
	return j->after[k] > 0 ? j->after[k] : first - j->after[k] - 1;
}

/* The dependencies of new job id as they are now into *d: how many have
 * not ended, the first that ended otherwise than succeeded.  One with no
 * row: -ENOENT (the caller undoes the insert). */
int
sqd_look(struct store_backend *b, int64_t id, int64_t first,
    const struct store_new_job *j, struct sqd_deps *d, bool *lost)
{
	sqlite3_stmt *q = b->ds[D_STATE];
	enum store_state st;
	int64_t dep;
	int rc;

	d->left = d->bad = 0;
	d->bstate = STORE_FAILED;
	for (size_t k = 0; k < j->nafter; k++) {
		dep = sqd_dep(j, k, first);
		sqlite3_bind_int64(q, 1, dep);
		rc = sqlite3_step(q);
		if (rc == SQLITE_DONE) {
			sqlite3_reset(q);
			return store_seterr(-ENOENT, "%s: job %lld: no job %lld "
			    "to depend on", b->path, (long long)id,
			    (long long)dep);
		}
		if (rc != SQLITE_ROW)
			return sqd_fail(b, q, rc, "look up a dependency", lost);
		if (!sqd_ended_name(sqlite3_column_text(q, 0), &st))
			d->left++;
		else if (st != STORE_SUCCEEDED && d->bad == 0) {
			d->bad = dep;
			d->bstate = st;
		}
		sqlite3_reset(q);
	}
	return 0;
}

/* The edge rows of new job id. */
int
sqd_edges(struct store_backend *b, int64_t id, int64_t first,
    const struct store_new_job *j, bool *lost)
{
	sqlite3_stmt *e = b->ds[D_EDGE];
	int rc;

	for (size_t k = 0; k < j->nafter; k++) {
		sqlite3_bind_int64(e, 1, id);
		sqlite3_bind_int64(e, 2, sqd_dep(j, k, first));
		if ((rc = sq_step(b, e, lost, "insert a dependency of job",
		    id)) < 0)
			return rc;
	}
	return 0;
}

/* A group member's edges, and its state `waiting` with the count of
 * dependencies not ended (sqd_settle judges it once all are in). */
int
sqd_link(struct store_backend *b, int64_t id, int64_t first,
    const struct store_new_job *j, bool *lost)
{
	sqlite3_stmt *u = b->ds[D_WAIT];
	struct sqd_deps d;
	int rc;

	if ((rc = sqd_look(b, id, first, j, &d, lost)) < 0 ||
	    (rc = sqd_edges(b, id, first, j, lost)) < 0)
		return rc;
	sqlite3_bind_int64(u, 1, id);
	sqlite3_bind_int64(u, 2, d.left);
	sqlite3_bind_text(u, 3, j->dep_run ? "run" : "cancel", -1,
	    SQLITE_STATIC);
	return sq_step(b, u, lost, "make waiting job", id);
}

/* Waiting job id goes to queued (or scheduled, its run_at ahead of at). */
static int
sqd_release(struct store_backend *b, int64_t id, double run_at, double at,
    bool *lost)
{
	sqlite3_stmt *s = b->ds[D_RELEASE];
	enum store_state st = run_at > at ? STORE_SCHEDULED : STORE_QUEUED;
	int rc;

	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, store_state_name(st), -1, SQLITE_STATIC);
	if ((rc = sq_step(b, s, lost, "release waiting job", id)) < 0)
		return rc;
	if ((rc = store_chg_add(b->cur, id, st, 0, NULL)) < 0)
		*lost = true;
	return rc;
}

static int
sqd_cancel(struct store_backend *b, int64_t id, int64_t dep,
    enum store_state dstate, double at, bool *lost)
{
	sqlite3_stmt *s = b->ds[D_CANCEL];
	char reason[STORE_DEP_REASON_MAX];
	int rc;

	store_dep_reason(reason, sizeof(reason), dep, dstate);
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_double(s, 2, at);
	sqlite3_bind_text(s, 3, reason, -1, SQLITE_TRANSIENT);
	if ((rc = sq_step(b, s, lost, "cancel waiting job", id)) < 0)
		return rc;
	if ((rc = store_chg_add(b->cur, id, STORE_CANCELLED, at, reason)) < 0)
		*lost = true;
	return rc;
}

/* A stack of ended jobs whose dependants are still to be seen. */
struct sqd_stack {
	int64_t *id;
	enum store_state *state;
	size_t n, cap;
};

static int
sqd_push(struct sqd_stack *k, int64_t id, enum store_state state)
{
	size_t cap;
	void *p;

	if (k->n == k->cap) {
		cap = k->cap == 0 ? 16 : k->cap * 2;
		if ((p = realloc(k->id, cap * sizeof(*k->id))) == NULL)
			return -ENOMEM;
		k->id = p;
		if ((p = realloc(k->state, cap * sizeof(*k->state))) == NULL)
			return -ENOMEM;
		k->state = p;
		k->cap = cap;
	}
	k->id[k->n] = id;
	k->state[k->n++] = state;
	return 0;
}

/* The waiting dependants of job id into *v (malloc'd), *n of them. */
static int
sqd_dependants(struct store_backend *b, int64_t id, int64_t **v, size_t *n,
    bool *lost)
{
	sqlite3_stmt *s = b->ds[D_DEPENDANTS];
	size_t cap = 0;
	int64_t *p;
	int rc;

	*v = NULL;
	*n = 0;
	sqlite3_bind_int64(s, 1, id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			if ((p = realloc(*v, cap * sizeof(*p))) == NULL) {
				sqlite3_reset(s);
				*lost = true;
				return store_seterr(-ENOMEM, "%s: out of memory",
				    b->path);
			}
			*v = p;
		}
		(*v)[(*n)++] = sqlite3_column_int64(s, 0);
	}
	if (rc != SQLITE_DONE)
		return sqd_fail(b, s, rc, "find the dependants of a job", lost);
	sqlite3_reset(s);
	return 0;
}

/* Dependant w of a job that ended pstate at `at`, if that was the last
 * it waited for and it may run: released in one statement (a tree's
 * every edge), *fired.  Else the count-down below. */
static int
sqd_fire(struct store_backend *b, int64_t w, enum store_state pstate,
    double at, bool *fired, bool *lost)
{
	sqlite3_stmt *s = b->ds[D_FIRE];
	enum store_state st = STORE_QUEUED;
	const unsigned char *name;
	int rc;

	*fired = false;
	sqlite3_bind_int64(s, 1, w);
	sqlite3_bind_int(s, 2, pstate == STORE_SUCCEEDED);
	sqlite3_bind_double(s, 3, at);
	if ((rc = sqlite3_step(s)) == SQLITE_DONE) {
		sqlite3_reset(s);
		return 0;
	}
	if (rc != SQLITE_ROW)
		return sqd_fail(b, s, rc, "release a waiting job", lost);
	name = sqlite3_column_text(s, 0);
	if (name != NULL)
		(void)store_state_parse((const char *)name, &st);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		;
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return sqd_fail(b, s, rc, "release a waiting job", lost);
	*fired = true;
	if ((rc = store_chg_add(b->cur, w, st, 0, NULL)) < 0)
		*lost = true;
	return rc;
}

/* One dependant w of p (which ended pstate at `at`): one fewer to wait
 * for; cancelled (pushed, for its own dependants) or released. */
static int
sqd_one(struct store_backend *b, struct sqd_stack *k, int64_t w, int64_t p,
    enum store_state pstate, double at, bool *lost)
{
	sqlite3_stmt *s = b->ds[D_DEC];
	const unsigned char *pol;
	int64_t left;
	double run_at;
	bool run;
	int rc;

	if ((rc = sqd_fire(b, w, pstate, at, &run, lost)) < 0 || run)
		return rc;
	sqlite3_bind_int64(s, 1, w);
	if ((rc = sqlite3_step(s)) == SQLITE_DONE) {
		sqlite3_reset(s);
		return 0;               /* not waiting after all */
	}
	if (rc != SQLITE_ROW)
		return sqd_fail(b, s, rc, "count down a waiting job", lost);
	left = sqlite3_column_int64(s, 0);
	pol = sqlite3_column_text(s, 1);
	run = pol != NULL && strcmp((const char *)pol, "run") == 0;
	run_at = sqlite3_column_type(s, 2) == SQLITE_NULL ? 0 :
	    sqlite3_column_double(s, 2);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		;
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return sqd_fail(b, s, rc, "count down a waiting job", lost);
	if (pstate != STORE_SUCCEEDED && !run) {
		if ((rc = sqd_cancel(b, w, p, pstate, at, lost)) < 0)
			return rc;
		if (sqd_push(k, w, STORE_CANCELLED) < 0) {
			*lost = true;
			return store_seterr(-ENOMEM, "%s: out of memory",
			    b->path);
		}
		return 0;
	}
	return left == 0 ? sqd_release(b, w, run_at, at, lost) : 0;
}

int
sqd_ended(struct store_backend *b, int64_t id, enum store_state state,
    double at, bool *lost)
{
	struct sqd_stack k = { 0 };
	int64_t *v, p;
	enum store_state pst;
	size_t n;
	int rc;

	if (at <= 0)
		at = store_now();
	if ((rc = sqd_push(&k, id, state)) < 0) {
		*lost = true;
		return store_seterr(rc, "%s: out of memory", b->path);
	}
	while (rc == 0 && k.n > 0) {
		p = k.id[--k.n];
		pst = k.state[k.n];
		if ((rc = sqd_dependants(b, p, &v, &n, lost)) < 0)
			break;
		for (size_t i = 0; rc == 0 && i < n; i++)
			rc = sqd_one(b, &k, v[i], p, pst, at, lost);
		free(v);
	}
	free(k.id);
	free(k.state);
	return rc;
}

/* The dependencies of job id: how many have not ended, and the first
 * that ended otherwise than succeeded (*bad 0: none). */
static int
sqd_count(struct store_backend *b, int64_t id, int64_t *left, int64_t *bad,
    enum store_state *bstate, bool *lost)
{
	sqlite3_stmt *s = b->ds[D_DEPS_OF];
	enum store_state st;
	int rc;

	*left = *bad = 0;
	sqlite3_bind_int64(s, 1, id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (!sqd_ended_name(sqlite3_column_text(s, 1), &st))
			(*left)++;
		else if (st != STORE_SUCCEEDED && *bad == 0) {
			*bad = sqlite3_column_int64(s, 0);
			*bstate = st;
		}
	}
	if (rc != SQLITE_DONE)
		return sqd_fail(b, s, rc, "count the dependencies of a job",
		    lost);
	sqlite3_reset(s);
	return 0;
}

/* Judge waiting job id from its dependencies as they are now (an insert,
 * recovery): its count set right, then cancelled (and down its chain) or
 * released if that is due. */
int
sqd_settle(struct store_backend *b, int64_t id, bool *lost)
{
	sqlite3_stmt *s = b->ds[D_SELF], *u = b->ds[D_LEFT];
	enum store_state bstate = STORE_FAILED;
	int64_t left, bad;
	double run_at, at = store_now();
	bool run;
	int rc;

	sqlite3_bind_int64(s, 1, id);
	if ((rc = sqlite3_step(s)) == SQLITE_DONE) {
		sqlite3_reset(s);
		return 0;
	}
	if (rc != SQLITE_ROW)
		return sqd_fail(b, s, rc, "read a waiting job", lost);
	run = sqlite3_column_text(s, 0) != NULL && strcmp((const char *)
	    sqlite3_column_text(s, 0), "run") == 0;
	run_at = sqlite3_column_type(s, 1) == SQLITE_NULL ? 0 :
	    sqlite3_column_double(s, 1);
	sqlite3_reset(s);
	if ((rc = sqd_count(b, id, &left, &bad, &bstate, lost)) < 0)
		return rc;
	sqlite3_bind_int64(u, 1, id);
	sqlite3_bind_int64(u, 2, left);
	if ((rc = sq_step(b, u, lost, "count the dependencies of job",
	    id)) < 0)
		return rc;
	if (bad != 0 && !run) {
		if ((rc = sqd_cancel(b, id, bad, bstate, at, lost)) < 0)
			return rc;
		return sqd_ended(b, id, STORE_CANCELLED, at, lost);
	}
	return left == 0 ? sqd_release(b, id, run_at, at, lost) : 0;
}

int
sqd_judge(struct store_backend *b, int64_t id, const struct store_new_job *j,
    const struct sqd_deps *d, bool *lost)
{
	double at = store_now();

	/* new: no job can depend on it yet, so no chain to follow */
	if (d->bad != 0 && !j->dep_run)
		return sqd_cancel(b, id, d->bad, d->bstate, at, lost);
	return d->left == 0 ? sqd_release(b, id, j->run_at, at, lost) : 0;
}

/* Recovery: every waiting job judged again, so that none whose
 * dependencies have all ended stays waiting (a crash cannot leave one,
 * the ends and their releases commit together; this also mends a file an
 * older jobd or a hand wrote). */
int
sqd_repair(struct store_backend *b, bool *lost)
{
	sqlite3_stmt *s = b->ds[D_WAITING];
	int64_t *v = NULL, *p;
	size_t n = 0, cap = 0;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			if ((p = realloc(v, cap * sizeof(*p))) == NULL) {
				free(v);
				sqlite3_reset(s);
				*lost = true;
				return store_seterr(-ENOMEM, "%s: out of memory",
				    b->path);
			}
			v = p;
		}
		v[n++] = sqlite3_column_int64(s, 0);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		free(v);
		*lost = true;
		return sq_fail(b, b->db, rc, "find the waiting jobs");
	}
	rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = sqd_settle(b, v[i], lost);
	free(v);
	return rc;
}

int
sqd_prune(struct store_backend *b, int64_t id, bool *lost)
{
	sqlite3_bind_int64(b->ds[D_PRUNE], 1, id);
	return sq_step(b, b->ds[D_PRUNE], lost, "prune dependencies of job",
	    id);
}
