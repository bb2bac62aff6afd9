/*
 * store_pg_write.c — the PostgreSQL backend's writes: a whole batch of
 * writes (store_backend.h: apply_batch) as a few multi-row statements.
 *
 * The batch is cut into runs of consecutive writes of one kind (inserts
 * and groups; starts; ends; requeues); each run is ONE statement whose
 * parameters are arrays, unnested on the server: INSERT ... SELECT FROM
 * unnest(...), UPDATE ... FROM unnest(...) RETURNING id.  So a backlog of
 * 10,000 writes is a handful of round trips, not 10,000.  Order holds:
 * runs go in submission order, and a run is cut where a job id repeats
 * (a start and its end in one batch are two runs).  A row the UPDATE did
 * not return was not in the state the write needs: that write alone gets
 * -ENOENT.  A run that fails on its data (bad JSON, a CHECK) is undone to
 * a savepoint and its writes are retried one by one, each under its own
 * savepoint, so that only the bad ones fail (-EINVAL); any other error
 * loses the transaction.
 *
 * Why not COPY: COPY has no RETURNING, and it fails whole on one bad row,
 * like the multi-row INSERT; unnest() keeps one prepared statement for any
 * run length and costs a parse of arrays the server does anyway.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

/* RUN_ONE: a write applied alone (store_pg_life.c), a barrier. */
enum pg_run { RUN_INS, RUN_START, RUN_END, RUN_REQUEUE, RUN_ONE };

/* The start an end or requeue ends, kept (as store_pg_life.c's). */
#define PG_KEEP_ATTEMPT "INSERT INTO job_attempts (job_id, attempt, "     \
	"node, epoch, started_at, finished_at, state, error, result) "      \
	"SELECT j.id, j.attempts, j.node, j.epoch, j.started_at, "
#define PG_KEEP_CONFLICT "ON CONFLICT (job_id, attempt) DO UPDATE SET "   \
	"started_at = EXCLUDED.started_at, finished_at = "                  \
	"EXCLUDED.finished_at, state = EXCLUDED.state, error = "            \
	"EXCLUDED.error, result = EXCLUDED.result, node = EXCLUDED.node, "  \
	"epoch = EXCLUDED.epoch"
/* Fencing (store_pg_node.c): a row changes only while this daemon holds
 * it under its current lease epoch; the two are the statement's last
 * parameters. */
#define PG_MINE(n, e) " AND j.node = $" n "::bigint AND j.epoch = $" e \
	"::bigint"

/* The insert's unnested columns, by position (the 24th says pooled). */
#define PG_U23 "c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, "  \
	"c14, c15, c16, c17, c18, c19, c20, c21, c22, c23"

/* Prepared on the writer's connection: name, SQL, parameters. */
static const struct {
	const char *name;
	const char *sql;
	int nparams;                    /* arrays, then: */
	bool own;                       /* + node and epoch */
} pg_wsql[] = {
#define S_GROUPS  0
	{ "jobd_groups", "INSERT INTO groups (id, mode, size, created_at) "
	    "SELECT * FROM unnest($1::bigint[], $2::text[], $3::int[], "
	    "$4::float8[])", 4, false },
#define S_JOBS    1
	{ "jobd_jobs", "INSERT INTO jobs (id, queue, kind, args, name, "
	    "max_attempts, timeout, created_at, group_id, submit_uid, "
	    "submit_gid, submit_pid, state, run_at, priority, retries, "
	    "retry_delay, retry_max_delay, retry_backoff, idempotent, "
	    "schedule, slot, unique_key, node, epoch) SELECT " PG_U23 ", "
	    "CASE WHEN u.pooled THEN NULL ELSE $25::bigint END, "
	    "CASE WHEN u.pooled THEN NULL ELSE $26::bigint END "
	    "FROM unnest($1::bigint[], "
	    "$2::text[], $3::text[], $4::json[], $5::text[], $6::int[], "
	    "$7::float8[], $8::float8[], $9::bigint[], $10::bigint[], "
	    "$11::bigint[], $12::bigint[], $13::text[], $14::float8[], "
	    "$15::int[], $16::int[], $17::float8[], $18::float8[], "
	    "$19::text[], $20::boolean[], $21::text[], $22::float8[], "
	    "$23::text[], $24::boolean[]) AS u (" PG_U23 ", pooled)", 24,
	    true },
#define S_START   2
	{ "jobd_start", "UPDATE jobs j SET state = 'running', "
	    "attempts = j.attempts + 1, started_at = u.at "
	    "FROM unnest($1::bigint[], $2::float8[]) AS u (id, at) "
	    "WHERE j.id = u.id AND j.state = 'queued'" PG_MINE("3", "4")
	    " RETURNING j.id", 2, true },
#define S_END     3
	/* The CTE keeps the start being ended (job_attempts): both parts
	 * see the rows as they were before the statement. */
	{ "jobd_end", "WITH u AS (SELECT * FROM unnest($1::bigint[], "
	    "$2::text[], $3::float8[], $4::json[], $5::text[], $6::text[]) AS "
	    "u (id, state, fin, result, error, reason)), a AS ("
	    PG_KEEP_ATTEMPT "u.fin, u.state, u.error, u.result FROM jobs j "
	    "JOIN u ON j.id = u.id WHERE j.state = 'running' AND "
	    "j.attempts > 0" PG_MINE("7", "8") " " PG_KEEP_CONFLICT ") "
	    "UPDATE jobs j SET state = u.state, "
	    "finished_at = u.fin, result = u.result, error = u.error, "
	    "cancel_reason = u.reason FROM u WHERE j.id = u.id AND j.state IN "
	    "('queued', 'running', 'scheduled', 'waiting')" PG_MINE("7", "8")
	    " RETURNING j.id", 6, true },
#define S_REQUEUE 4
	{ "jobd_requeue", "WITH u AS (SELECT * FROM unnest($1::bigint[]) AS "
	    "u (id)), a AS (" PG_KEEP_ATTEMPT "extract(epoch FROM "
	    "clock_timestamp())::float8, 'interrupted', NULL, NULL FROM jobs j "
	    "JOIN u ON j.id = u.id WHERE j.state = 'running' AND "
	    "j.attempts > 0" PG_MINE("2", "3") " " PG_KEEP_CONFLICT ") "
	    "UPDATE jobs j SET state = 'queued' FROM u "
	    "WHERE j.id = u.id AND j.state = 'running'" PG_MINE("2", "3")
	    " RETURNING j.id", 1, true },
};
#define PG_NWSQL (sizeof(pg_wsql) / sizeof(pg_wsql[0]))

int
pg_prepare_writes(struct store_backend *b)
{
	PGresult *r;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < PG_NWSQL; i++) {
		r = PQprepare(b->wc, pg_wsql[i].name, pg_wsql[i].sql,
		    pg_wsql[i].nparams + (pg_wsql[i].own ? 2 : 0), NULL);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			rc = pg_fail(b, b->wc, r, "prepare");
		PQclear(r);
	}
	return rc;
}

static void fails_clear(struct store_backend *b);

/* ---- array literals ----------------------------------------------------- */

static void
arr_put(struct pg_arr *a, const char *s, size_t n)
{
	size_t want = a->len + n + 2;
	char *p;

	if (a->oom)
		return;
	if (want > a->cap) {
		size_t cap = a->cap ? a->cap : 256;

		while (cap < want)
			cap *= 2;
		if ((p = realloc(a->s, cap)) == NULL) {
			a->oom = true;
			return;
		}
		a->s = p;
		a->cap = cap;
	}
	memcpy(a->s + a->len, s, n);
	a->len += n;
	a->s[a->len] = '\0';
}

static void
arr_reset(struct pg_arr *a)
{
	a->len = 0;
	a->n = 0;
	a->oom = false;
	arr_put(a, "{", 1);
}

static void
arr_sep(struct pg_arr *a)
{
	if (a->n++ > 0)
		arr_put(a, ",", 1);
}

/* A string element, quoted; NULL is SQL NULL. */
static void
arr_text(struct pg_arr *a, const char *v)
{
	const char *p, *q;

	arr_sep(a);
	if (v == NULL) {
		arr_put(a, "NULL", 4);
		return;
	}
	arr_put(a, "\"", 1);
	for (p = v; (q = strpbrk(p, "\"\\")) != NULL; p = q + 1) {
		arr_put(a, p, (size_t)(q - p));
		arr_put(a, "\\", 1);
		arr_put(a, q, 1);
	}
	arr_put(a, p, strlen(p));
	arr_put(a, "\"", 1);
}

static void
arr_i8(struct pg_arr *a, long long v)
{
	char buf[24];

	arr_sep(a);
	arr_put(a, buf, (size_t)snprintf(buf, sizeof(buf), "%lld", v));
}

/* 0 or less is NULL: ids and group ids start at 1. */
static void
arr_id_or_null(struct pg_arr *a, long long v)
{
	if (v > 0) {
		arr_i8(a, v);
		return;
	}
	arr_sep(a);
	arr_put(a, "NULL", 4);
}

static void
arr_f8(struct pg_arr *a, double v)
{
	char buf[32];

	arr_sep(a);
	arr_put(a, buf, (size_t)snprintf(buf, sizeof(buf), "%.17g", v));
}

static void
arr_f8_or_null(struct pg_arr *a, bool null, double v)
{
	if (!null) {
		arr_f8(a, v);
		return;
	}
	arr_sep(a);
	arr_put(a, "NULL", 4);
}

static const char *
arr_end(struct pg_arr *a)
{
	arr_put(a, "}", 1);
	return a->s;
}

void
pg_scratch_free(struct store_backend *b)
{
	for (size_t i = 0; i < sizeof(b->col) / sizeof(b->col[0]); i++)
		free(b->col[i].s);
	free(b->ids);
	free(b->idx);
	free(b->steps);
	free(b->hkey);
	free(b->hval);
	fails_clear(b);
	free(b->fail);
}

/* ---- writes failing alone ----------------------------------------------- */

/* Failures are kept until the batch is through: a batch may be applied
 * twice (see pg_apply_batch), and each write is told once. */
static void
note_fail(struct store_backend *b, size_t i, int err)
{
	struct pg_wfail *f;

	if (b->nfail == b->fail_cap) {
		size_t cap = b->fail_cap ? 2 * b->fail_cap : 16;

		if ((f = realloc(b->fail, cap * sizeof(*f))) == NULL) {
			b->fail_oom = true;
			return;
		}
		b->fail = f;
		b->fail_cap = cap;
	}
	f = &b->fail[b->nfail];
	if ((f->msg = strdup(store_errmsg())) == NULL) {
		b->fail_oom = true;
		return;
	}
	f->i = i;
	f->err = err;
	b->nfail++;
}

static void
fails_clear(struct store_backend *b)
{
	for (size_t i = 0; i < b->nfail; i++)
		free(b->fail[i].msg);
	b->nfail = 0;
	b->fail_oom = false;
}

static int
id_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* ---- runs --------------------------------------------------------------- */

/* Does an insert or group need the look-up of a unique key or slot? */
static bool
ins_unique(const struct store_write *w)
{
	if (w->kind == STORE_W_INSERT)
		return w->u.ins.job->schedule != NULL ||
		    w->u.ins.job->unique_key != NULL;
	for (size_t i = 0; i < w->u.grp.n; i++)
		if (w->u.grp.jobs[i].schedule != NULL ||
		    w->u.grp.jobs[i].unique_key != NULL)
			return true;
	return false;
}

static enum pg_run
run_of(const struct store_write *w)
{
	switch (w->kind) {
	case STORE_W_INSERT:
	case STORE_W_GROUP:
		return ins_unique(w) || pgd_has(w) ? RUN_ONE : RUN_INS;
	case STORE_W_START:
		return RUN_START;
	case STORE_W_END:
		return RUN_END;
	case STORE_W_REQUEUE:
		return RUN_REQUEUE;
	case STORE_W_RECOVER:
	case STORE_W_NODE:
	case STORE_W_CANCEL_ASK:
	case STORE_W_CANCEL_TAKE:
	case STORE_W_CLAIM:
	case STORE_W_RETRY:
	case STORE_W_READY:
	case STORE_W_REVIVE:
	case STORE_W_PAUSE:
	case STORE_W_PRUNE:
		break;
	}
	return RUN_ONE;
}

/* The job id an update write touches. */
static int64_t
upd_id(const struct store_write *w)
{
	switch (w->kind) {
	case STORE_W_START:
		return w->u.start.id;
	case STORE_W_END:
		return w->u.end.id;
	case STORE_W_REQUEUE:
		return w->u.requeue.id;
	default:
		return 0;
	}
}

static int
ids_room(struct store_backend *b, size_t n)
{
	int64_t *p;

	if (n <= b->ids_cap)
		return 0;
	if ((p = realloc(b->ids, n * sizeof(*p))) == NULL)
		return store_seterr(-ENOMEM, "%s: out of memory", b->name);
	b->ids = p;
	b->ids_cap = n;
	return 0;
}

/* ---- planning: which writes go into one statement ------------------------ */

/* A write's place in the plan: its level (1 + the level of the last
 * earlier write of the batch to the same job; 0 if none) and its kind.
 * Writes of one level touch distinct jobs, so they commute: each (level,
 * kind) becomes one statement, levels in order.  A daemon's steady load
 * (insert, start and end of many jobs in one batch) is then three
 * statements per batch, not three per job. */
struct pg_step {
	uint32_t key;                   /* level * 4 + kind */
	uint32_t i;                     /* the write's index */
};

static int
step_cmp(const void *a, const void *b)
{
	const struct pg_step *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* The level table: job id -> level, open addressing, ids are > 0. */
static uint32_t *
lvl_slot(struct store_backend *b, int64_t id, bool *found)
{
	size_t mask = b->hcap - 1, h = ((uint64_t)id * 0x9e3779b97f4a7c15ULL) >>
	    17;

	for (h &= mask; b->hkey[h] != 0 && b->hkey[h] != id; h = (h + 1) & mask)
		;
	*found = b->hkey[h] == id;
	b->hkey[h] = id;
	return &b->hval[h];
}

static int
lvl_reset(struct store_backend *b, size_t rows)
{
	size_t cap = 64;

	while (cap < 2 * rows)
		cap *= 2;
	if (cap > b->hcap) {
		free(b->hkey);
		free(b->hval);
		b->hkey = calloc(cap, sizeof(*b->hkey));
		b->hval = calloc(cap, sizeof(*b->hval));
		b->hcap = b->hkey != NULL && b->hval != NULL ? cap : 0;
		if (b->hcap == 0)
			return store_seterr(-ENOMEM, "%s: out of memory",
			    b->name);
	} else {
		memset(b->hkey, 0, b->hcap * sizeof(*b->hkey));
	}
	return 0;
}

/* Plan w[from..to) (no recovery among them) into b->steps, sorted. */
static int
plan(struct store_backend *b, const struct store_write *const *w, size_t from,
    size_t to)
{
	size_t rows = 0, n = to - from;
	struct pg_step *p;
	uint32_t *v, lvl;
	bool found;
	int rc;

	for (size_t i = from; i < to; i++)
		rows += w[i]->kind == STORE_W_GROUP ? w[i]->u.grp.n : 1;
	if ((rc = lvl_reset(b, rows)) < 0)
		return rc;
	if (n > b->steps_cap) {
		if ((p = realloc(b->steps, n * sizeof(*p))) == NULL)
			return store_seterr(-ENOMEM, "%s: out of memory",
			    b->name);
		b->steps = p;
		b->steps_cap = n;
	}
	for (size_t i = from; i < to; i++) {
		lvl = 0;
		if (w[i]->kind == STORE_W_INSERT) {
			*lvl_slot(b, w[i]->u.ins.id, &found) = 0;
		} else if (w[i]->kind == STORE_W_GROUP) {
			for (size_t k = 0; k < w[i]->u.grp.n; k++)
				*lvl_slot(b, w[i]->u.grp.first_id + (int64_t)k,
				    &found) = 0;
		} else {
			v = lvl_slot(b, upd_id(w[i]), &found);
			lvl = found ? *v + 1 : 0;
			*v = lvl;
		}
		b->steps[i - from].key = lvl * 4 + (uint32_t)run_of(w[i]);
		b->steps[i - from].i = (uint32_t)i;
	}
	qsort(b->steps, n, sizeof(*b->steps), step_cmp);
	return 0;
}

static void
ins_job(struct store_backend *b, int64_t id, int64_t gid,
    const struct store_new_job *j)
{
	struct pg_arr *c = b->col;

	arr_i8(&c[0], id);
	arr_text(&c[1], j->queue);
	arr_text(&c[2], j->kind);
	arr_text(&c[3], j->args);
	arr_text(&c[4], j->name);
	arr_i8(&c[5], j->max_attempts);
	arr_f8(&c[6], j->timeout);
	arr_f8(&c[7], j->created_at);
	arr_id_or_null(&c[8], gid);
	if (j->submitter.known) {
		arr_i8(&c[9], (long long)j->submitter.uid);
		arr_i8(&c[10], (long long)j->submitter.gid);
		arr_i8(&c[11], (long long)j->submitter.pid);
	} else {
		for (int k = 9; k < 12; k++)
			arr_id_or_null(&c[k], 0);
	}
	arr_text(&c[12], store_state_name(j->state));
	arr_f8_or_null(&c[13], j->run_at <= 0, j->run_at);
	arr_i8(&c[14], j->priority);
	arr_i8(&c[15], j->retries);
	arr_f8(&c[16], j->retry_delay > 0 ? j->retry_delay : 1);
	arr_f8(&c[17], j->retry_max_delay > 0 ? j->retry_max_delay : 3600);
	arr_text(&c[18], j->retry_backoff == STORE_BACKOFF_FIXED ? "fixed" :
	    "exponential");
	arr_text(&c[19], j->idempotent == STORE_IDEM_UNSET ? NULL :
	    j->idempotent == STORE_IDEM_YES ? "t" : "f");
	arr_text(&c[20], j->schedule);
	arr_f8_or_null(&c[21], j->schedule == NULL, j->slot);
	arr_text(&c[22], j->unique_key);
	arr_text(&c[23], j->pooled ? "t" : "f");
}

/* Execute prepared statement s with the first nparams scratch arrays. */
static PGresult *
run_exec(struct store_backend *b, int s)
{
	const char *v[27];
	int n = pg_wsql[s].nparams;

	for (int i = 0; i < n; i++) {
		if (b->col[i].oom)
			return NULL;
		v[i] = arr_end(&b->col[i]);
	}
	if (pg_wsql[s].own) {
		v[n++] = b->node_s;
		v[n++] = b->epoch_s;
	}
	return PQexecPrepared(b->wc, pg_wsql[s].name, n, v, NULL, NULL, 0);
}

static void
cols_reset(struct store_backend *b, int n)
{
	for (int i = 0; i < n; i++)
		arr_reset(&b->col[i]);
}

/* One statement's outcome: 0, or its error (*data: on the data alone). */
static int
run_check(struct store_backend *b, PGresult *r, ExecStatusType want,
    const char *what, bool *data)
{
	*data = false;
	if (r == NULL)
		return store_seterr(-ENOMEM, "%s: out of memory", b->name);
	if (PQresultStatus(r) == want)
		return 0;
	*data = pg_data_error(r);
	return pg_fail(b, b->wc, r, what);
}

/* One NOTIFY jobd_ready per queue that got pooled jobs (store_claim):
 * never one per row (the notify queue is one lock for every committer),
 * and PostgreSQL folds the same (channel, payload) of one transaction
 * into one, so a batch wakes each listener once per queue. */
static int
run_notify(struct store_backend *b, const struct store_write *const *w,
    const uint32_t *idx, size_t m)
{
	const char *seen[16], *v[1];
	size_t nseen = 0, k;
	PGresult *r;
	int rc;

	cols_reset(b, 1);
	for (size_t t = 0; t < m; t++) {
		const struct store_write *x = w[idx[t]];
		bool grp = x->kind == STORE_W_GROUP;
		size_t nj = grp ? x->u.grp.n : 1;

		for (size_t i = 0; i < nj; i++) {
			const struct store_new_job *j = grp ?
			    &x->u.grp.jobs[i] : x->u.ins.job;

			if (!j->pooled)
				continue;
			for (k = 0; k < nseen && strcmp(seen[k], j->queue) != 0;
			    k++)
				;
			if (k < nseen)
				continue;
			if (nseen < sizeof(seen) / sizeof(seen[0]))
				seen[nseen++] = j->queue;
			arr_text(&b->col[0], j->queue);
		}
	}
	if (b->col[0].n == 0)
		return 0;
	if (b->col[0].oom)
		return store_seterr(-ENOMEM, "%s: out of memory", b->name);
	v[0] = arr_end(&b->col[0]);
	r = PQexecParams(b->wc, "SELECT pg_notify('jobd_ready', q) FROM "
	    "unnest($1::text[]) AS q", 1, NULL, v, NULL, NULL, 0);
	rc = PQresultStatus(r) == PGRES_TUPLES_OK ? 0 :
	    pg_fail(b, b->wc, r, "notify");
	PQclear(r);
	return rc;
}

/* Insert the groups and jobs of the m writes w[idx[..]]: the groups
 * first (the jobs reference them). */
static int
run_ins(struct store_backend *b, const struct store_write *const *w,
    const uint32_t *idx, size_t m, bool *data)
{
	const struct store_write *x;
	bool groups = false;
	PGresult *r;
	int rc;

	cols_reset(b, 4);
	for (size_t t = 0; t < m; t++) {
		if ((x = w[idx[t]])->kind != STORE_W_GROUP)
			continue;
		groups = true;
		arr_i8(&b->col[0], x->u.grp.gid);
		arr_text(&b->col[1], store_group_mode_name(x->u.grp.mode));
		arr_i8(&b->col[2], (long long)x->u.grp.n);
		arr_f8(&b->col[3], x->u.grp.created_at);
	}
	if (groups) {
		r = run_exec(b, S_GROUPS);
		rc = run_check(b, r, PGRES_COMMAND_OK, "insert groups", data);
		PQclear(r);
		if (rc < 0)
			return rc;
	}
	cols_reset(b, 24);
	for (size_t t = 0; t < m; t++) {
		x = w[idx[t]];
		if (x->kind == STORE_W_INSERT) {
			ins_job(b, x->u.ins.id, 0, x->u.ins.job);
			continue;
		}
		for (size_t k = 0; k < x->u.grp.n; k++)
			ins_job(b, x->u.grp.first_id + (int64_t)k, x->u.grp.gid,
			    &x->u.grp.jobs[k]);
	}
	r = run_exec(b, S_JOBS);
	rc = run_check(b, r, PGRES_COMMAND_OK, "insert jobs", data);
	PQclear(r);
	return rc < 0 ? rc : run_notify(b, w, idx, m);
}

/* Update the jobs of the m writes w[idx[..]] (distinct jobs); the writes
 * whose row the statement did not return fail alone with -ENOENT. */
static int
run_upd(struct store_backend *b, enum pg_run k,
    const struct store_write *const *w, const uint32_t *idx, size_t m,
    bool *data)
{
	static const char *const what[] = { [RUN_START] = "start job",
		[RUN_END] = "end job", [RUN_REQUEUE] = "requeue job" };
	static const char *const need[] = {
		[RUN_START] = "queued, held by this daemon",
		[RUN_END] = "queued, running, scheduled or waiting, held by "
		    "this daemon",
		[RUN_REQUEUE] = "running, held by this daemon" };
	int s = k == RUN_START ? S_START : k == RUN_END ? S_END : S_REQUEUE;
	const struct store_end *e;
	PGresult *r;
	size_t n;
	int rc;

	cols_reset(b, pg_wsql[s].nparams);
	for (size_t t = 0; t < m; t++) {
		size_t i = idx[t];

		arr_i8(&b->col[0], upd_id(w[i]));
		if (k == RUN_START) {
			arr_f8(&b->col[1], w[i]->u.start.at);
		} else if (k == RUN_END) {
			e = &w[i]->u.end.end;
			arr_text(&b->col[1], store_state_name(e->state));
			arr_f8(&b->col[2], e->finished_at);
			arr_text(&b->col[3], e->result);
			arr_text(&b->col[4], e->error);
			arr_text(&b->col[5], e->cancel_reason);
		}
	}
	r = run_exec(b, s);
	if ((rc = run_check(b, r, PGRES_TUPLES_OK, what[k], data)) < 0) {
		PQclear(r);
		return rc;
	}
	/* Every row came back: the common case.  Else find the missing
	 * ones among the returned ids, sorted (b->ids is free again). */
	if ((n = (size_t)PQntuples(r)) < m) {
		if ((rc = ids_room(b, n + 1)) < 0) {
			PQclear(r);
			return rc;
		}
		for (size_t t = 0; t < n; t++)
			b->ids[t] = strtoll(PQgetvalue(r, (int)t, 0), NULL, 10);
		qsort(b->ids, n, sizeof(*b->ids), id_cmp);
		for (size_t t = 0; t < m; t++) {
			size_t i = idx[t];
			int64_t id = upd_id(w[i]);

			if (n > 0 && bsearch(&id, b->ids, n, sizeof(*b->ids),
			    id_cmp) != NULL)
				continue;
			note_fail(b, i, store_seterr(-ENOENT, "%s: %s %lld: no "
			    "job %lld in state %s", b->name, what[k],
			    (long long)id, (long long)id, need[k]));
		}
	}
	PQclear(r);
	return 0;
}

/* ---- a batch ------------------------------------------------------------ */

int
pg_txn_start(struct store_backend *b)
{
	if (!b->txn_pending)
		return 0;
	b->txn_pending = false;
	return pg_exec(b, b->wc, "BEGIN", "begin");
}

/* One statement for the m writes w[idx[..]] of kind k. */
static int
run_kind(struct store_backend *b, enum pg_run k,
    const struct store_write *const *w, const uint32_t *idx, size_t m,
    bool *data)
{
	int rc = k == RUN_INS ? run_ins(b, w, idx, m, data) :
	    run_upd(b, k, w, idx, m, data);

	if (rc == 0 && k == RUN_END)
		rc = pgd_ended(b, w, idx, m);
	if (rc == 0 && k == RUN_END)
		rc = pgs_trip(b, w, idx, m);
	return rc;
}

/* The writes w[from..to) (no recovery), planned: one statement per
 * (level, kind). */
static int
pass_fast(struct store_backend *b, const struct store_write *const *w,
    size_t from, size_t to, bool *data)
{
	size_t n = to - from, j;
	int rc;

	if ((rc = plan(b, w, from, to)) < 0)
		return rc;
	for (size_t i = 0; i < n; i = j) {
		uint32_t key = b->steps[i].key;

		for (j = i; j < n && b->steps[j].key == key; j++)
			;
		for (size_t t = i; t < j; t++)
			b->idx[t - i] = b->steps[t].i;
		if ((rc = run_kind(b, (enum pg_run)(key % 4), w, b->idx, j - i,
		    data)) < 0)
			return rc;
	}
	return 0;
}

/* Careful: each write alone, in order, those that can fail on their data
 * under a savepoint, so that one that does fails alone. */
static int
pass_careful(struct store_backend *b, const struct store_write *const *w,
    size_t from, size_t to, bool *data)
{
	enum pg_run k;
	uint32_t one;
	int rc = 0;

	for (size_t i = from; rc == 0 && i < to; i++) {
		k = run_of(w[i]);
		one = (uint32_t)i;
		if (k != RUN_INS && k != RUN_END) {
			rc = run_kind(b, k, w, &one, 1, data);
			continue;
		}
		if ((rc = pg_exec(b, b->wc, "SAVEPOINT w", "savepoint")) < 0)
			return rc;
		rc = run_kind(b, k, w, &one, 1, data);
		if (rc < 0 && *data) {
			note_fail(b, i, rc);
			rc = pg_exec(b, b->wc, "ROLLBACK TO w", "rollback to");
		}
		if (rc == 0)
			rc = pg_exec(b, b->wc, "RELEASE w", "release");
	}
	*data = false;
	return rc;
}

/* A write that goes alone (store_pg_life.c), under a savepoint when it
 * can fail alone: a unique insert (the holder's -EEXIST), a retry, ready
 * or revive of a job not in the state (-ENOENT), bad JSON.  Recovery and
 * pruning fail whole. */
static int
one_write(struct store_backend *b, const struct store_write *const *w,
    size_t i, bool *data)
{
	bool sp = w[i]->kind != STORE_W_RECOVER && w[i]->kind != STORE_W_PRUNE &&
	    w[i]->kind != STORE_W_NODE && w[i]->kind != STORE_W_CANCEL_TAKE &&
	    w[i]->kind != STORE_W_CLAIM;
	bool ins = w[i]->kind == STORE_W_INSERT || w[i]->kind == STORE_W_GROUP;
	uint32_t one = (uint32_t)i;
	bool alone = false;
	int rc;

	if (sp && (rc = pg_exec(b, b->wc, "SAVEPOINT w", "savepoint")) < 0)
		return rc;
	if (ins) {
		if ((rc = pg_dup(b, w[i])) == -EEXIST)
			alone = true;
		else if (rc == 0 && (rc = run_ins(b, w, &one, 1, data)) < 0)
			alone = *data;
		else if (rc == 0 && pgd_has(w[i]))
			rc = pgd_link(b, w[i], &alone);
	} else {
		rc = pg_life_apply(b, w[i], &alone);
	}
	*data = false;
	if (!sp)
		return rc;
	if (rc < 0 && alone) {
		note_fail(b, i, rc);
		rc = pg_exec(b, b->wc, "ROLLBACK TO w", "rollback to");
	}
	if (rc == 0)
		rc = pg_exec(b, b->wc, "RELEASE w", "release");
	return rc;
}

/* The batch, cut at each write that goes alone (a barrier: recovery reads
 * every job, and the others are rare). */
static int
batch_pass(struct store_backend *b, const struct store_write *const *w,
    size_t n, bool careful, bool *data)
{
	size_t from = 0, to;
	int rc;

	*data = false;
	if ((rc = pg_txn_start(b)) < 0)
		return rc;
	while (from < n) {
		if (run_of(w[from]) == RUN_ONE) {
			if ((rc = one_write(b, w, from, data)) < 0)
				return rc;
			from++;
			continue;
		}
		for (to = from; to < n && run_of(w[to]) != RUN_ONE; to++)
			;
		rc = careful ? pass_careful(b, w, from, to, data) :
		    pass_fast(b, w, from, to, data);
		if (rc < 0)
			return rc;
		from = to;
	}
	return 0;
}

/* Apply the batch fast (one statement per level and kind, no savepoints: a
 * subtransaction per run would cost an XID each and, past 64 in one
 * transaction, overflow every backend's snapshot cache).  If a run fails
 * on its data, roll back and apply the whole batch again carefully. */
int
pg_apply_batch(struct store_backend *b, const struct store_write *const *w,
    size_t n, pg_failed_fn failed, void *ctx)
{
	bool data;
	int rc;

	fails_clear(b);
	if (n > b->idx_cap) {
		uint32_t *p = realloc(b->idx, n * sizeof(*p));

		if (p == NULL)
			return store_seterr(-ENOMEM, "%s: out of memory",
			    b->name);
		b->idx = p;
		b->idx_cap = n;
	}
	rc = batch_pass(b, w, n, false, &data);
	if (rc < 0 && data) {
		fails_clear(b);
		for (size_t i = 0; i < n; i++)  /* rolled back with it */
			if (w[i]->chg != NULL)
				store_chg_clear(w[i]->chg);
		if ((rc = pg_exec(b, b->wc, "ROLLBACK", "rollback")) == 0) {
			b->txn_pending = true;
			rc = batch_pass(b, w, n, true, &data);
		}
	}
	if (rc == 0 && b->fail_oom)
		rc = store_seterr(-ENOMEM, "%s: out of memory", b->name);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < b->nfail; i++) {
		store_seterr(b->fail[i].err, "%s", b->fail[i].msg);
		failed(ctx, b->fail[i].i, b->fail[i].err);
	}
	fails_clear(b);
	return 0;
}
