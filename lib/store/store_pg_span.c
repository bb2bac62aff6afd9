/*
 * store_pg_span.c — several daemons on one database: what one daemon's
 * transaction decides about jobs another daemon holds.  The store is the
 * judge of dependencies (store_pg_deps.c) and of fail_fast's reach, in
 * the transaction that records an end; the jobs it moves may be held,
 * in memory, by another daemon, which must learn of it:
 *
 *  - A waiting job held elsewhere that an end releases goes to the pool
 *    (node and epoch NULL: any daemon with room claims it, woken by the
 *    batch's NOTIFY jobd_ready); released to scheduled it stays its
 *    holder's (its timer is there); cancelled, it has ended.  In each
 *    case a row of job_notes tells the holder, which takes its notes with
 *    the cancels asked of it (pg_cancel_take, every 0.3 s) and forgets,
 *    moves or ends the job in memory as the row already says.
 *  - A fail_fast member that ends failed or timed_out: its group's pooled
 *    members (queued, held by none) are cancelled at once, here, with
 *    their dependants; those other daemons hold are asked to cancel
 *    (job_cancels, as a cancel op elsewhere).  The members this daemon
 *    holds are its engine's to stop (daemon/group.c).
 *
 * Nothing here runs unless the statements before it changed rows: a batch
 * without dependants or failed group members pays nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

#define PGS_NOW "extract(epoch FROM clock_timestamp())::float8"

/* "{1,2,3}": the first column of r's rows, malloc'ed (NULL: no memory). */
char *
pgs_ids(const PGresult *r)
{
	size_t n = (size_t)PQntuples(r), cap = 3 + 21 * n, len = 1;
	char *s;

	if ((s = malloc(cap)) == NULL)
		return NULL;
	s[0] = '{';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s%.20s",
		    i > 0 ? "," : "", PQgetvalue(r, (int)i, 0));
	snprintf(s + len, cap - len, "}");
	return s;
}

/* The jobs ids (an array literal) another daemon holds, or none: a note
 * each for the holder; the queued ones pooled, their queues woken. */
#define PGS_AWAY "WITH m AS (SELECT id, node, state, cancel_reason, "        \
	"finished_at, queue FROM jobs WHERE id = ANY($1::bigint[]) AND "     \
	"state <> 'waiting' AND (node IS NULL OR node <> $2::bigint)), n AS (INSERT INTO job_notes " \
	"(job_id, node, state, reason, at) SELECT id, node, state, "          \
	"cancel_reason, coalesce(finished_at, 0) FROM m WHERE node IS NOT "   \
	"NULL ON CONFLICT (job_id) DO UPDATE SET node = EXCLUDED.node, "      \
	"state = EXCLUDED.state, reason = EXCLUDED.reason, at = EXCLUDED.at" \
	"), p AS (UPDATE jobs j SET node = NULL, epoch = NULL FROM m WHERE "  \
	"j.id = m.id AND m.state = 'queued') SELECT pg_notify('jobd_ready', " \
	"q) FROM (SELECT DISTINCT queue AS q FROM m WHERE state = 'queued') " \
	"AS x"

int
pgs_away(struct store_backend *b, const PGresult *r)
{
	const char *v[2] = { NULL, b->node_s };
	char *ids;
	int rc;

	if (PQntuples(r) == 0)
		return 0;
	if ((ids = pgs_ids(r)) == NULL)
		return store_seterr(-ENOMEM, "%s: out of memory", b->name);
	v[0] = ids;
	rc = pg_wexec(b, PGS_AWAY, 2, v, "hand waiting jobs over", NULL);
	free(ids);
	return rc;
}

/* The fail_fast members that just ended failed or timed_out among ids,
 * with the reason the engine gives (group_trip). */
#define PGS_TRIPPED "t AS (SELECT DISTINCT ON (e.group_id) e.id, "          \
	"e.group_id, 'fail_fast: job ' || e.id || ' of group ' || "        \
	"e.group_id || ' ended ' || e.state || coalesce(' (' || "           \
	"left(e.error, 900) || ')', '') AS why FROM jobs e JOIN groups g ON " \
	"g.id = e.group_id WHERE e.id = ANY($1::bigint[]) AND g.mode = "    \
	"'fail_fast' AND e.state IN ('failed', 'timed_out') ORDER BY "      \
	"e.group_id, e.id)"

int
pgs_trip(struct store_backend *b, const struct store_write *const *w,
    const uint32_t *idx, size_t m)
{
	const struct store_end *e;
	size_t n = 0, cap = 3 + 21 * m, len = 1;
	char at[32], *ids;
	const char *v[2];
	PGresult *r;
	int rc;

	if ((ids = malloc(cap)) == NULL)
		return store_seterr(-ENOMEM, "%s: out of memory", b->name);
	ids[0] = '{';
	for (size_t t = 0; t < m; t++) {
		e = &w[idx[t]]->u.end.end;
		if (e->state == STORE_FAILED || e->state == STORE_TIMED_OUT)
			len += (size_t)snprintf(ids + len, cap - len, "%s%lld",
			    n++ > 0 ? "," : "", (long long)w[idx[t]]->u.end.id);
	}
	snprintf(ids + len, cap - len, "}");
	if (n == 0) {
		free(ids);
		return 0;
	}
	snprintf(at, sizeof(at), "%.17g", store_now());
	v[0] = ids;
	v[1] = at;
	/* Pooled members: nobody runs them, so cancelled here, with what
	 * that does to their dependants. */
	rc = pg_wexec(b, "WITH " PGS_TRIPPED " UPDATE jobs m SET state = "
	    "'cancelled', finished_at = $2::float8, cancel_reason = t.why "
	    "FROM t WHERE m.group_id = t.group_id AND m.id <> t.id AND "
	    "m.node IS NULL AND m.state = 'queued' RETURNING m.id", 2, v,
	    "fail_fast elsewhere", &r);
	if (rc == 0) {
		rc = pgd_cancelled(b, w[idx[0]], r, strtod(at, NULL));
		PQclear(r);
	}
	/* Members other daemons hold: asked, as a cancel there is. */
	v[1] = b->node_s;
	if (rc == 0)
		rc = pg_wexec(b, "WITH " PGS_TRIPPED " INSERT INTO job_cancels "
		    "(job_id, reason, requested_at) SELECT m.id, t.why, " PGS_NOW
		    " FROM t JOIN jobs m ON m.group_id = t.group_id AND m.id <> "
		    "t.id WHERE m.finished_at IS NULL AND m.node IS NOT NULL AND "
		    "m.node <> $2::bigint ON CONFLICT (job_id) DO NOTHING", 2, v,
		    "fail_fast elsewhere", NULL);
	free(ids);
	return rc;
}

/* The notes for this daemon (PGS_AWAY's), taken into c. */
int
pgs_notes_take(struct store_backend *b, struct store_cancels *c)
{
	const char *v[1] = { b->node_s };
	struct store_dep_change *d;
	PGresult *r;
	int rc, n;

	if ((rc = pg_wexec(b, "DELETE FROM job_notes WHERE node = $1::bigint "
	    "RETURNING job_id, state, reason, at", 1, v, "take the notes",
	    &r)) < 0)
		return rc;
	if ((n = PQntuples(r)) > 0 &&
	    (c->moved = calloc((size_t)n, sizeof(*c->moved))) == NULL) {
		PQclear(r);
		return store_seterr(-ENOMEM, "%s: out of memory", b->name);
	}
	for (int i = 0; i < n; i++) {
		d = &c->moved[c->nmoved];
		d->id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		if (store_state_parse(PQgetvalue(r, i, 1), &d->state) < 0)
			continue;
		d->at = strtod(PQgetvalue(r, i, 3), NULL);
		if (!PQgetisnull(r, i, 2) && (d->reason =
		    strdup(PQgetvalue(r, i, 2))) == NULL) {
			PQclear(r);
			return store_seterr(-ENOMEM, "%s: out of memory",
			    b->name);
		}
		c->nmoved++;
	}
	PQclear(r);
	return 0;
}
