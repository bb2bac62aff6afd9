/*
 * store_pg_deps.c — dependencies in the PostgreSQL backend (schema 6),
 * the same rules as store_sqlite_deps.c, row for row: an insert's edges
 * and its judgement, and what ends do to the jobs waiting for them, in
 * the transaction that records them.  PostgreSQL pays per round trip, so
 * the ends of a planned run (store_pg_write.c) are followed as one set:
 * one statement counts down every dependant of all of them (job_deps_on),
 * one releases those at zero, one cancels those a failure reaches; the
 * cancelled ones are the next set, until none is left.  A chain of 10,000
 * is 10,000 small statements in one transaction, never a commit each.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

/* A growing text buffer for array literals. */
struct pgd_buf {
	char *s;
	size_t len, cap;
	bool oom;
};

static void
buf_add(struct pgd_buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t need;
	int n;
	char *p;

	if (b->oom)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	need = b->len + (size_t)n + 1;
	if (need > b->cap) {
		size_t cap = b->cap == 0 ? 256 : b->cap;

		while (cap < need)
			cap *= 2;
		if ((p = realloc(b->s, cap)) == NULL) {
			b->oom = true;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void
buf_reset(struct pgd_buf *b)
{
	b->len = 0;
	buf_add(b, "{");
}

/* Close the literal; NULL (and an error) when out of memory. */
static const char *
buf_end(struct store_backend *be, struct pgd_buf *b)
{
	buf_add(b, "}");
	if (b->oom) {
		store_seterr(-ENOMEM, "%s: out of memory", be->name);
		return NULL;
	}
	return b->s;
}

/* Report the rows of r (id, state or cancel_reason) to w as changes;
 * those another daemon holds are handed over (store_pg_span.c). */
static int
pgd_report(struct store_backend *b, const struct store_write *w,
    const PGresult *r, bool cancelled, double at, struct pgd_buf *ids,
    size_t *nids)
{
	enum store_state st;
	int rc = 0;

	for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
		if (cancelled)
			st = STORE_CANCELLED;
		else if (strcmp(PQgetvalue(r, i, 1), "waiting") == 0)
			continue;
		else
			st = strcmp(PQgetvalue(r, i, 1), "scheduled") == 0 ?
			    STORE_SCHEDULED : STORE_QUEUED;
		rc = store_chg_add(w, strtoll(PQgetvalue(r, i, 0), NULL, 10),
		    st, cancelled ? at : 0, cancelled ? PQgetvalue(r, i, 1) :
		    NULL);
		if (ids != NULL)
			buf_add(ids, "%s%s", (*nids)++ ? "," : "",
			    PQgetvalue(r, i, 0));
	}
	return rc == 0 ? pgs_away(b, r) : rc;
}

/* The cancel closure of the ended set (ids, states): every waiting job
 * under "cancel" that a failure reaches, down every chain, in ONE
 * recursive statement; each names one dependency that ended otherwise
 * than succeeded (the smallest id).  Their ids are added to all. */
#define PGD_CANCELS "(SELECT j.state = 'waiting' AND "                   \
	"j.on_dependency_failure = 'cancel' FROM jobs j WHERE j.id = d.job_id)"
#define PGD_CLOSURE "WITH RECURSIVE e AS (SELECT * FROM "                   \
	"unnest($1::bigint[], $2::text[]) AS e (id, st)), c (id, src) AS ("  \
	"SELECT d.job_id, d.depends_on FROM e JOIN job_deps d ON "         \
	"d.depends_on = e.id WHERE e.st <> 'succeeded' AND " PGD_CANCELS    \
	" UNION SELECT d.job_id, d.depends_on FROM c JOIN job_deps d ON "   \
	"d.depends_on = c.id WHERE " PGD_CANCELS "), m AS (SELECT id, "     \
	"min(src) AS src FROM c GROUP BY id) SELECT m.id, "                 \
	"'dependency: job ' || m.src || ' ended ' || coalesce(e.st, "       \
	"'cancelled') FROM m LEFT JOIN e ON e.id = m.src"
/* The state tests below are written `(... ) IS TRUE` so that no plan
 * drives from jobs_state_queue: statistics taken while few jobs waited
 * make it look like one row, and a join driven from it walks every
 * waiting job once per row of the other side. */
#define PGD_CANCEL "UPDATE jobs j SET state = 'cancelled', finished_at = "  \
	"$3::float8, cancel_reason = u.r FROM unnest($1::bigint[], "         \
	"$2::text[]) AS u (id, r) WHERE j.id = u.id AND "                    \
	"(j.state = 'waiting') IS TRUE RETURNING j.id, j.cancel_reason"
/* The closure's recursive step must probe job_deps_on from each job it
 * reached: a hash or merge join rebuilt at every step of a 10,000-long
 * chain is quadratic, and the planner picks one when the statistics say
 * few jobs wait (a table analysed while they were cancelled).  So for
 * that statement alone, in this transaction only, neither is allowed. */
#define PGD_NESTED "SET LOCAL enable_hashjoin = off; "                     \
	"SET LOCAL enable_mergejoin = off; SET LOCAL enable_seqscan = off; " \
	"SET LOCAL enable_material = off; SET LOCAL jit = off"
#define PGD_UNNESTED "SET LOCAL enable_hashjoin TO DEFAULT; "              \
	"SET LOCAL enable_mergejoin TO DEFAULT; SET LOCAL enable_seqscan TO " \
	"DEFAULT; SET LOCAL enable_material TO DEFAULT; SET LOCAL jit TO "   \
	"DEFAULT"

/* Every waiting dependant of the jobs all (ended or just cancelled)
 * counted down by its edges from them; at zero, released. */
#define PGD_COUNTDOWN "WITH x AS (SELECT unnest($1::bigint[]) AS id), "   \
	"c AS (SELECT d.job_id AS id, count(*) AS n FROM job_deps d JOIN x " \
	"ON x.id = d.depends_on GROUP BY d.job_id) UPDATE jobs j SET "       \
	"deps_left = greatest(j.deps_left - c.n, 0), state = CASE WHEN "    \
	"j.deps_left - c.n > 0 THEN 'waiting' WHEN j.run_at > $2::float8 "  \
	"THEN 'scheduled' ELSE 'queued' END FROM c WHERE j.id = c.id AND "  \
	"(j.state = 'waiting') IS TRUE RETURNING j.id, j.state"

/* The cancel closure of the ended set v (ids, states, at): found, then
 * cancelled; their ids added to all. */
static int
pgd_closure(struct store_backend *b, const struct store_write *w,
    const char *const *v, double at, struct pgd_buf *all, size_t *nall)
{
	struct pgd_buf ids = { 0 }, why = { 0 };
	const char *u[3] = { NULL, NULL, v[2] };
	PGresult *r;
	int rc;

	if ((rc = pg_exec(b, b->wc, PGD_NESTED, "plan a cascade")) < 0 ||
	    (rc = pg_wexec(b, PGD_CLOSURE, 2, v, "find a cascade", &r)) < 0)
		return rc;
	buf_reset(&ids);
	buf_reset(&why);
	for (int i = 0; i < PQntuples(r); i++) {
		buf_add(&ids, "%s%s", i ? "," : "", PQgetvalue(r, i, 0));
		buf_add(&why, "%s\"%s\"", i ? "," : "", PQgetvalue(r, i, 1));
	}
	if (PQntuples(r) > 0) {
		u[0] = buf_end(b, &ids);
		u[1] = buf_end(b, &why);
	}
	PQclear(r);
	if ((rc = pg_exec(b, b->wc, PGD_UNNESTED, "plan a cascade")) == 0 &&
	    u[0] != NULL && u[1] != NULL &&
	    (rc = pg_wexec(b, PGD_CANCEL, 3, u, "cancel waiting jobs",
	    &r)) == 0) {
		rc = pgd_report(b, w, r, true, at, all, nall);
		PQclear(r);
	}
	if (rc == 0 && (ids.oom || why.oom))
		rc = store_seterr(-ENOMEM, "%s: out of memory", b->name);
	free(ids.s);
	free(why.s);
	return rc;
}

/* The jobs ids (with states) ended at `at`: what that does to the jobs
 * waiting for them, reported to w.  Two statements however long the
 * chains (one when none ended badly: bad false). */
static int
pgd_follow(struct store_backend *b, const struct store_write *w,
    struct pgd_buf *ids, size_t nids, struct pgd_buf *states, bool bad,
    double at)
{
	struct pgd_buf all = { 0 };
	char sat[32];
	const char *v[3];
	PGresult *r;
	size_t nall = 0;
	int rc = 0;

	snprintf(sat, sizeof(sat), "%.17g", at);
	buf_reset(&all);
	buf_add(&all, "%s", ids->s + 1);        /* the ids, without "{" */
	nall = nids;
	v[0] = buf_end(b, ids);
	v[1] = buf_end(b, states);
	v[2] = sat;
	if (v[0] == NULL || v[1] == NULL) {
		free(all.s);
		return -ENOMEM;
	}
	if (bad)
		rc = pgd_closure(b, w, v, at, &all, &nall);
	v[0] = buf_end(b, &all);
	v[1] = sat;
	if (rc == 0 && v[0] == NULL)
		rc = -ENOMEM;
	if (rc == 0 && (rc = pg_wexec(b, PGD_COUNTDOWN, 2, v,
	    "release waiting jobs", &r)) == 0) {
		rc = pgd_report(b, w, r, false, at, NULL, NULL);
		PQclear(r);
	}
	free(all.s);
	return rc;
}

static bool
pgd_failed(const struct store_backend *b, size_t i)
{
	for (size_t k = 0; k < b->nfail; k++)
		if (b->fail[k].i == i)
			return true;
	return false;
}

int
pgd_ended(struct store_backend *b, const struct store_write *const *w,
    const uint32_t *idx, size_t m)
{
	struct pgd_buf ids = { 0 }, states = { 0 };
	const struct store_write *last = NULL;
	const struct store_end *e;
	double at = 0;
	size_t n = 0;
	bool bad = false;
	int rc = 0;

	buf_reset(&ids);
	buf_reset(&states);
	for (size_t t = 0; t < m; t++) {
		if (pgd_failed(b, idx[t]))
			continue;
		e = &w[idx[t]]->u.end.end;
		buf_add(&ids, "%s%lld", n ? "," : "",
		    (long long)w[idx[t]]->u.end.id);
		buf_add(&states, "%s%s", n++ ? "," : "",
		    store_state_name(e->state));
		if (e->finished_at > at)
			at = e->finished_at;
		bad = bad || e->state != STORE_SUCCEEDED;
		last = w[idx[t]];
	}
	if (last != NULL)
		rc = pgd_follow(b, last, &ids, n, &states, bad, at > 0 ? at :
		    store_now());
	free(ids.s);
	free(states.s);
	return rc;
}

int
pgd_cancelled(struct store_backend *b, const struct store_write *w,
    const PGresult *r, double at)
{
	struct pgd_buf ids = { 0 }, states = { 0 };
	int rc, n = PQntuples(r);

	if (n == 0)
		return 0;
	buf_reset(&ids);
	buf_reset(&states);
	for (int i = 0; i < n; i++) {
		buf_add(&ids, "%s%s", i ? "," : "", PQgetvalue(r, i, 0));
		buf_add(&states, "%scancelled", i ? "," : "");
	}
	rc = pgd_follow(b, w, &ids, (size_t)n, &states, true, at);
	free(ids.s);
	free(states.s);
	return rc;
}

/* The waiting jobs ids (a literal) judged from their dependencies as they
 * are now (an insert, recovery): counted, then cancelled (and down their
 * chains) or released if that is due. */
static int
pgd_judge(struct store_backend *b, const struct store_write *w,
    const char *ids)
{
	struct pgd_buf cids = { 0 }, cst = { 0 };
	char sat[32];
	const char *v[2] = { ids, sat };
	double at = store_now();
	size_t nc = 0;
	PGresult *r;
	int rc;

	snprintf(sat, sizeof(sat), "%.17g", at);
	buf_reset(&cids);
	buf_reset(&cst);
	if ((rc = pg_wexec(b, "UPDATE jobs j SET deps_left = (SELECT count(*) "
	    "FROM job_deps d JOIN jobs p ON p.id = d.depends_on WHERE "
	    "d.job_id = j.id AND p.finished_at IS NULL) WHERE "
	    "j.id = ANY($1::bigint[]) AND (j.state = 'waiting') IS TRUE", 1,
	    v, "count dependencies", NULL)) < 0)
		goto out;
	if ((rc = pg_wexec(b, "WITH f AS (SELECT d.job_id AS id, min(p.id) AS "
	    "bad FROM job_deps d JOIN jobs p ON p.id = d.depends_on WHERE "
	    "d.job_id = ANY($1::bigint[]) AND p.finished_at IS NOT NULL AND "
	    "p.state <> 'succeeded' GROUP BY d.job_id) UPDATE jobs j SET "
	    "state = 'cancelled', finished_at = $2::float8, cancel_reason = "
	    "'dependency: job ' || f.bad || ' ended ' || p.state FROM f JOIN "
	    "jobs p ON p.id = f.bad WHERE j.id = f.id AND (j.state = "
	    "'waiting') IS TRUE AND j.on_dependency_failure = 'cancel' "
	    "RETURNING j.id, "
	    "j.cancel_reason", 2, v, "cancel waiting jobs", &r)) < 0)
		goto out;
	rc = pgd_report(b, w, r, true, at, &cids, &nc);
	PQclear(r);
	for (size_t i = 0; i < nc; i++)
		buf_add(&cst, "%scancelled", i ? "," : "");
	if (rc == 0 && (rc = pg_wexec(b, "UPDATE jobs j SET state = CASE WHEN "
	    "j.run_at > $2::float8 THEN 'scheduled' ELSE 'queued' END WHERE "
	    "j.id = ANY($1::bigint[]) AND (j.state = 'waiting') IS TRUE AND "
	    "j.deps_left = 0 RETURNING j.id, j.state", 2, v,
	    "release waiting jobs", &r)) == 0) {
		rc = pgd_report(b, w, r, false, at, NULL, NULL);
		PQclear(r);
	}
	if (rc == 0 && nc > 0)
		rc = pgd_follow(b, w, &cids, nc, &cst, true, at);
out:
	free(cids.s);
	free(cst.s);
	return rc;
}

int
pgd_link(struct store_backend *b, const struct store_write *w, bool *alone)
{
	const struct store_new_job *jobs = w->kind == STORE_W_INSERT ?
	    w->u.ins.job : w->u.grp.jobs;
	size_t n = w->kind == STORE_W_INSERT ? 1 : w->u.grp.n, ne = 0;
	int64_t first = w->kind == STORE_W_INSERT ? w->u.ins.id :
	    w->u.grp.first_id, id;
	struct pgd_buf job = { 0 }, dep = { 0 }, pol = { 0 }, who = { 0 };
	const char *v[4];
	PGresult *r;
	int rc;

	buf_reset(&job);
	buf_reset(&dep);
	buf_reset(&pol);
	buf_reset(&who);
	for (size_t i = 0; i < n; i++) {
		const struct store_new_job *j = &jobs[i];

		if (j->nafter == 0)
			continue;
		id = first + (int64_t)i;
		buf_add(&who, "%s%lld", who.len > 1 ? "," : "", (long long)id);
		buf_add(&pol, "%s%s", pol.len > 1 ? "," : "", j->dep_run ?
		    "run" : "cancel");
		for (size_t k = 0; k < j->nafter; k++) {
			buf_add(&job, "%s%lld", ne ? "," : "", (long long)id);
			buf_add(&dep, "%s%lld", ne++ ? "," : "",
			    (long long)(j->after[k] > 0 ? j->after[k] :
			    first - j->after[k] - 1));
		}
	}
	v[0] = buf_end(b, &job);
	v[1] = buf_end(b, &dep);
	v[2] = buf_end(b, &who);
	v[3] = buf_end(b, &pol);
	rc = v[0] && v[1] && v[2] && v[3] ? 0 : -ENOMEM;
	if (rc == 0 && (rc = pg_wexec(b, "SELECT d FROM unnest($1::bigint[]) "
	    "AS d WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE id = d) LIMIT 1",
	    1, v + 1, "look up dependencies", &r)) == 0) {
		if (PQntuples(r) > 0) {
			*alone = true;
			rc = store_seterr(-ENOENT, "%s: no job %s to depend on",
			    b->name, PQgetvalue(r, 0, 0));
		}
		PQclear(r);
	}
	if (rc == 0)
		rc = pg_wexec(b, "INSERT INTO job_deps (job_id, depends_on) "
		    "SELECT * FROM unnest($1::bigint[], $2::bigint[])", 2, v,
		    "insert dependencies", NULL);
	if (rc == 0)
		rc = pg_wexec(b, "UPDATE jobs j SET state = 'waiting', "
		    "on_dependency_failure = u.pol FROM unnest($1::bigint[], "
		    "$2::text[]) AS u (id, pol) WHERE j.id = u.id", 2, v + 2,
		    "make waiting jobs", NULL);
	if (rc == 0)
		rc = pgd_judge(b, w, v[2]);
	free(job.s);
	free(dep.s);
	free(pol.s);
	free(who.s);
	return rc;
}

bool
pgd_has(const struct store_write *w)
{
	if (w->kind == STORE_W_INSERT)
		return w->u.ins.job->nafter > 0;
	if (w->kind != STORE_W_GROUP)
		return false;
	for (size_t i = 0; i < w->u.grp.n; i++)
		if (w->u.grp.jobs[i].nafter > 0)
			return true;
	return false;
}

int
pgd_repair(struct store_backend *b, const struct store_write *w)
{
	struct pgd_buf ids = { 0 };
	const char *lit;
	PGresult *r;
	int rc;

	if ((rc = pg_wexec(b, "SELECT id FROM jobs WHERE state = 'waiting' "
	    "ORDER BY id", 0, NULL, "find the waiting jobs", &r)) < 0)
		return rc;
	buf_reset(&ids);
	for (int i = 0; i < PQntuples(r); i++)
		buf_add(&ids, "%s%s", i ? "," : "", PQgetvalue(r, i, 0));
	if (PQntuples(r) > 0)
		rc = (lit = buf_end(b, &ids)) != NULL ? pgd_judge(b, w, lit) :
		    -ENOMEM;
	PQclear(r);
	free(ids.s);
	return rc;
}
