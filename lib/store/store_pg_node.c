/*
 * store_pg_node.c — several daemons on one PostgreSQL database: each is a
 * node (a row of nodes) holding a lease it renews, and every job row it
 * holds carries its node id and lease epoch.  The fenced writes
 * (store_pg_write.c's PG_MINE, store_pg_life.c) change a row only while
 * both still match, so a daemon whose lease lapsed (stopped, cut off, its
 * clock stalled) can no longer record anything for a job another daemon
 * has taken: the taker moved the row to its own (node, epoch) in the same
 * transaction that found the lease lapsed.
 *
 * Time is the database's (clock_timestamp()), never a daemon's own: a
 * lease lapses when the server says so, whatever the daemons' clocks.
 *
 * The heartbeat thread renews the lease every lease / 3 on a connection
 * of its own, so a backlog of writes (a batch waits behind the ones
 * before it) never lets a live daemon's lease lapse; if another daemon
 * took the lease, it takes the next epoch, which the writer adopts at its
 * next batch.  The node write (STORE_W_NODE), every lease / 3 from the
 * daemon, and the recovery at start (STORE_W_RECOVER) do the same, in the
 * writer's transaction: find the nodes that are dead: their lease lapsed,
 * or (same host and boot) their process is gone, which needs no wait;
 * bump their epochs; then take every row not ended whose (node, epoch)
 * is no live lease, per the crash rules (a running job was interrupted:
 * run again or failed, kind-aware), and hand them to the engine.
 * Node rows are locked SKIP LOCKED, so two daemons never take over the
 * same node at once, and job rows SKIP LOCKED: a row a stopped daemon's
 * transaction still locks is taken at a later round (the server ends that
 * session after the lease: idle_in_transaction_session_timeout).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "store_pg.h"

#define PG_NOW "extract(epoch FROM clock_timestamp())::float8"

static void
node_texts(struct store_backend *b)
{
	snprintf(b->node_s, sizeof(b->node_s), "%lld", (long long)b->node);
	snprintf(b->epoch_s, sizeof(b->epoch_s), "%lld", (long long)b->epoch);
}

/* The host's name and boot id: a node of this host and boot whose pid is
 * gone is dead at once. */
static void
node_whoami(struct store_backend *b)
{
	FILE *f;

	if (gethostname(b->host, sizeof(b->host)) < 0)
		snprintf(b->host, sizeof(b->host), "unknown");
	b->host[sizeof(b->host) - 1] = '\0';
	b->boot[0] = '\0';
	if ((f = fopen("/proc/sys/kernel/random/boot_id", "r")) != NULL) {
		if (fgets(b->boot, sizeof(b->boot), f) == NULL)
			b->boot[0] = '\0';
		b->boot[strcspn(b->boot, "\n")] = '\0';
		fclose(f);
	}
}

static void *node_heart(void *arg);
static void node_heart_stop(struct store_backend *b);

static int
node_heart_start(struct store_backend *b)
{
	int rc;

	if ((rc = store_thread(&b->hb, node_heart, b, "store_heart")) != 0)
		return store_seterr(-rc, "%s: heartbeat thread: %s", b->name,
		    strerror(rc));
	b->hb_started = true;
	return 0;
}

int
pg_node_register(struct store_backend *b)
{
	char pid[24], lease[32];
	const char *v[4] = { b->host, pid, b->boot, lease };
	PGresult *r;
	int rc = 0;

	node_whoami(b);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	snprintf(lease, sizeof(lease), "%.17g", b->lease);
	r = PQexecParams(b->wc, "INSERT INTO nodes (host, pid, boot, "
	    "started_at, heartbeat_at, lease) VALUES ($1, $2::bigint, $3, "
	    PG_NOW ", " PG_NOW ", $4::float8) RETURNING id, epoch", 4, NULL,
	    v, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		rc = pg_fail(b, b->wc, r, "register the node");
	else {
		b->node = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		b->epoch = b->epoch_next = strtoll(PQgetvalue(r, 0, 1), NULL,
		    10);
		node_texts(b);
	}
	PQclear(r);
	if (rc < 0 || (rc = pg_connect(b, &b->hc)) < 0)
		return rc;
	return node_heart_start(b);
}

int64_t
pg_node_id(struct store_backend *b)
{
	return b->node;
}

void
pg_node_leave(struct store_backend *b)
{
	const char *v[2] = { b->node_s, b->epoch_s };
	PGresult *r;

	node_heart_stop(b);
	if (b->hc != NULL)
		PQfinish(b->hc);
	b->hc = NULL;
	if (b->node == 0 || b->wc == NULL ||
	    PQstatus(b->wc) != CONNECTION_OK)
		return;
	pg_node_adopt(b);
	/* Rows not running go to whoever takes them next; running ones
	 * (the stop put back to queued all it could) then match no lease,
	 * so the next daemon to look takes them as after a crash. */
	r = PQexecParams(b->wc, "WITH x AS (UPDATE jobs SET node = NULL, "
	    "epoch = NULL WHERE node = $1::bigint AND epoch = $2::bigint AND "
	    "state IN ('queued', 'scheduled', 'waiting')) "
	    "DELETE FROM nodes WHERE id = $1::bigint AND epoch = $2::bigint",
	    2, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		log_warnx("%s: leaving: %s", b->name, PQresultErrorMessage(r));
	PQclear(r);
}

/* Renew this node's lease on the heartbeat's connection.  Its row gone
 * or its epoch moved on: another daemon took its rows; take the next
 * epoch (the rows held under the old one refuse this daemon's writes
 * from the writer's next batch on). */
static void
node_beat(struct store_backend *b, int64_t epoch)
{
	char node[24], ep[24], pid[24], lease[32];
	const char *v[6] = { node, ep, b->host, pid, b->boot, lease };
	PGresult *r;
	bool lost;

	if (PQstatus(b->hc) != CONNECTION_OK)
		PQreset(b->hc);
	snprintf(node, sizeof(node), "%lld", (long long)b->node);
	snprintf(ep, sizeof(ep), "%lld", (long long)epoch);
	snprintf(lease, sizeof(lease), "%.17g", b->lease);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	r = PQexecParams(b->hc, "UPDATE nodes SET heartbeat_at = " PG_NOW
	    " WHERE id = $1::bigint AND epoch = $2::bigint", 2, NULL, v, NULL,
	    NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		log_warnx("%s: renew the lease: %s", b->name,
		    PQresultErrorMessage(r));
		PQclear(r);
		return;
	}
	lost = strcmp(PQcmdTuples(r), "1") != 0;
	PQclear(r);
	if (!lost)
		return;
	r = PQexecParams(b->hc, "INSERT INTO nodes (id, host, pid, boot, "
	    "started_at, heartbeat_at, lease, epoch) VALUES ($1::bigint, $3, "
	    "$4::bigint, $5, " PG_NOW ", " PG_NOW ", $6::float8, "
	    "$2::bigint + 1) ON CONFLICT (id) DO UPDATE SET epoch = "
	    "greatest(nodes.epoch, EXCLUDED.epoch - 1) + 1, heartbeat_at = "
	    "EXCLUDED.heartbeat_at RETURNING epoch", 6, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		log_warnx("%s: renew the lease: %s", b->name,
		    PQresultErrorMessage(r));
		PQclear(r);
		return;
	}
	pthread_mutex_lock(&b->hmtx);
	b->epoch_next = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	b->lost = true;
	pthread_mutex_unlock(&b->hmtx);
	log_warnx("%s: this daemon's lease lapsed and another daemon took its "
	    "jobs: their ends are refused; epoch now %s", b->name,
	    PQgetvalue(r, 0, 0));
	PQclear(r);
}

static void *
node_heart(void *arg)
{
	struct store_backend *b = arg;
	struct timespec ts;
	int64_t epoch;
	double at;

	pthread_mutex_lock(&b->hmtx);
	while (!b->hb_stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		at = ts.tv_sec + ts.tv_nsec / 1e9 + b->lease / 3;
		ts.tv_sec = (time_t)at;
		ts.tv_nsec = (long)((at - (double)ts.tv_sec) * 1e9);
		while (!b->hb_stop && pthread_cond_timedwait(&b->hcond,
		    &b->hmtx, &ts) == 0)
			;
		if (b->hb_stop)
			break;
		epoch = b->epoch_next;
		pthread_mutex_unlock(&b->hmtx);
		node_beat(b, epoch);
		pthread_mutex_lock(&b->hmtx);
	}
	pthread_mutex_unlock(&b->hmtx);
	return NULL;
}

void
pg_node_adopt(struct store_backend *b)
{
	pthread_mutex_lock(&b->hmtx);
	if (b->epoch_next != b->epoch) {
		b->epoch = b->epoch_next;
		node_texts(b);
	}
	pthread_mutex_unlock(&b->hmtx);
}

static void
node_heart_stop(struct store_backend *b)
{
	if (!b->hb_started)
		return;
	pthread_mutex_lock(&b->hmtx);
	b->hb_stop = true;
	pthread_cond_signal(&b->hcond);
	pthread_mutex_unlock(&b->hmtx);
	pthread_join(b->hb, NULL);
	b->hb_started = false;
}

/* Is node row i of r (id, host, boot, pid, lapsed) dead? */
static bool
node_dead(const struct store_backend *b, const PGresult *r, int i)
{
	pid_t pid = (pid_t)strtol(PQgetvalue(r, i, 3), NULL, 10);

	if (*PQgetvalue(r, i, 4) == 't')
		return true;
	return b->boot[0] != '\0' && strcmp(PQgetvalue(r, i, 1), b->host) ==
	    0 && strcmp(PQgetvalue(r, i, 2), b->boot) == 0 &&
	    pid != getpid() && kill(pid, 0) < 0 && errno == ESRCH;
}

/* Bump the epoch of every dead node but this one (their rows then match
 * no live lease); *n of them.  Dead nodes are few: one statement each. */
static int
node_reap(struct store_backend *b, size_t *n)
{
	const char *v[2] = { b->node_s, NULL };
	PGresult *r;
	int rc;

	*n = 0;
	if ((rc = pg_wexec(b, "SELECT id, host, boot, pid, heartbeat_at + "
	    "lease < " PG_NOW " FROM nodes WHERE id <> $1::bigint FOR UPDATE "
	    "SKIP LOCKED", 1, v, "find dead nodes", &r)) < 0)
		return rc;
	for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
		if (!node_dead(b, r, i))
			continue;
		v[1] = PQgetvalue(r, i, 0);
		(*n)++;
		/* Its notes (store_pg_span.c) are stale: whoever takes its
		 * rows reads what they say.  Gone for good once nothing of
		 * theirs is left to take. */
		if ((rc = pg_wexec(b, "UPDATE nodes SET epoch = epoch + 1 "
		    "WHERE id = $1::bigint", 1, v + 1, "take over a node",
		    NULL)) == 0 &&
		    (rc = pg_wexec(b, "DELETE FROM job_notes WHERE node = "
		    "$1::bigint", 1, v + 1, "take over a node", NULL)) == 0)
			rc = pg_wexec(b, "DELETE FROM nodes n WHERE id = "
			    "$1::bigint AND NOT EXISTS (SELECT 1 FROM jobs WHERE "
			    "node = n.id AND finished_at IS NULL)", 1, v + 1,
			    "forget a node", NULL);
	}
	PQclear(r);
	return rc;
}

/* "{1,2,3}": the ids of res's rows not ended, malloc'ed (NULL: none, or
 * out of memory: *oom). */
static char *
node_ids(const struct store_recover_res *res, bool *oom)
{
	size_t cap = 2 + 21 * res->n, len = 0, k = 0;
	char *s;

	*oom = false;
	if ((s = malloc(cap)) == NULL) {
		*oom = true;
		return NULL;
	}
	s[len++] = '{';
	for (size_t i = 0; i < res->n; i++) {
		if (store_state_ended(res->jobs[i]->state))
			continue;
		len += (size_t)snprintf(s + len, cap - len, "%s%lld",
		    k++ > 0 ? "," : "", (long long)res->jobs[i]->id);
	}
	snprintf(s + len, cap - len, "}");
	if (k == 0) {
		free(s);
		return NULL;
	}
	return s;
}

/* The rows not ended that no live lease holds (none, or a node's old
 * epoch), but this node's own: locked, into res, and now this node's. */
static int
node_take(struct store_backend *b, const struct store_write *w)
{
	struct store_recover_res *res = w->u.recover.res;
	const char *v[3] = { b->node_s, b->epoch_s, NULL };
	PGresult *r;
	bool oom;
	int rc;

	/* Pooled rows (queued, held by none) are claimed (pg_claim), in
	 * the rounds; at start this daemon takes them all, as one daemon's
	 * recovery always did. */
	if ((rc = pg_wexec(b, "SELECT " PG_COLS " FROM jobs WHERE state IN "
	    "('queued', 'running', 'scheduled', 'waiting') AND ((node IS NULL "
	    "AND ($2::bigint = 0 OR state <> 'queued')) OR (node <> $1::bigint "
	    "AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = jobs.node AND "
	    "n.epoch = jobs.epoch))) ORDER BY id FOR UPDATE SKIP LOCKED", 2,
	    (const char *[]){ b->node_s, w->kind == STORE_W_RECOVER ? "0" :
	    "1" }, "take jobs over", &r)) < 0)
		return rc;
	rc = pg_collect(b, r, &res->jobs, &res->n);
	PQclear(r);
	for (size_t i = 0; rc == 0 && i < res->n; i++) {
		if (res->jobs[i]->state == STORE_RUNNING)
			rc = pg_rec_running(b, w, res, i);
		else
			res->rep.queued += res->jobs[i]->state == STORE_QUEUED;
	}
	if (rc < 0 || res->n == 0)
		return rc;
	if ((v[2] = node_ids(res, &oom)) == NULL)
		return oom ? store_seterr(-ENOMEM, "%s: out of memory",
		    b->name) : 0;
	rc = pg_wexec(b, "UPDATE jobs SET node = $1::bigint, epoch = "
	    "$2::bigint WHERE id = ANY($3::bigint[])", 3, v, "take jobs over",
	    NULL);
	free((char *)v[2]);
	for (size_t i = 0; rc == 0 && i < res->n; i++)
		if (!store_state_ended(res->jobs[i]->state))
			res->jobs[i]->node = b->node;
	return rc;
}

/* Recovery: the scheduled rows due past the horizon are this node's now
 * but stay out of memory (daemon/page.c reads them in as they near). */
static void
node_horizon(struct store_recover_res *res, double horizon)
{
	size_t k = 0;

	for (size_t i = 0; i < res->n; i++) {
		if (res->jobs[i]->state == STORE_SCHEDULED &&
		    res->jobs[i]->run_at > horizon)
			store_job_free(res->jobs[i]);
		else
			res->jobs[k++] = res->jobs[i];
	}
	res->n = k;
}

int
pg_node_apply(struct store_backend *b, const struct store_write *w)
{
	struct store_recover_res *res = w->u.recover.res;
	const char *v[1] = { b->node_s };
	PGresult *r;
	size_t dead;
	int rc;

	if ((rc = node_reap(b, &dead)) < 0 ||
	    (rc = pg_wexec(b, "SELECT count(*) FROM nodes WHERE id <> "
	    "$1::bigint AND heartbeat_at + lease >= " PG_NOW, 1, v,
	    "count the nodes", &r)) < 0)
		return rc;
	res->rep.peers = (size_t)strtoull(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	pthread_mutex_lock(&b->hmtx);
	res->rep.lease_lost = b->lost;
	b->lost = false;
	pthread_mutex_unlock(&b->hmtx);
	res->rep.nodes_dead = dead;
	if ((rc = node_take(b, w)) < 0)
		return rc;
	/* The waiting jobs judged again: the crash rules ended some jobs
	 * (failed) without an end's write, and their dependants follow. */
	if (w->kind == STORE_W_RECOVER || res->rep.failed > 0) {
		if ((rc = pgd_repair(b, w)) < 0)
			return rc;
		store_chg_patch(w, res);
	}
	if (w->kind == STORE_W_RECOVER)
		node_horizon(res, w->u.recover.horizon);
	return 0;
}

/* ---- cancels across daemons --------------------------------------------- */

/* A pooled row (queued, held by none) has nobody to stop it: cancelled
 * here, with what that does to its dependants; *done if it was one. */
static int
cancel_pooled(struct store_backend *b, const struct store_write *w,
    const char *sid, bool *done)
{
	char at[32];
	const char *v[3] = { sid, w->u.ask.reason, at };
	PGresult *r;
	int rc;

	snprintf(at, sizeof(at), "%.17g", store_now());
	if ((rc = pg_wexec(b, "UPDATE jobs SET state = 'cancelled', "
	    "finished_at = $3::float8, cancel_reason = coalesce($2, "
	    "'cancelled') WHERE id = $1::bigint AND state = 'queued' AND node "
	    "IS NULL RETURNING id", 3, v, "cancel a pooled job", &r)) < 0)
		return rc;
	*done = PQntuples(r) > 0;
	rc = pgd_cancelled(b, w, r, strtod(at, NULL));
	PQclear(r);
	return rc;
}

int
pg_cancel_ask(struct store_backend *b, const struct store_write *w,
    bool *alone)
{
	char sid[24];
	const char *v[2] = { sid, w->u.ask.reason };
	PGresult *r;
	bool done;
	int rc;

	snprintf(sid, sizeof(sid), "%lld", (long long)w->u.ask.id);
	if ((rc = cancel_pooled(b, w, sid, &done)) < 0 || done)
		return rc;
	if ((rc = pg_wexec(b, "INSERT INTO job_cancels (job_id, reason, "
	    "requested_at) SELECT id, $2, " PG_NOW " FROM jobs WHERE id = "
	    "$1::bigint AND finished_at IS NULL ON CONFLICT (job_id) DO "
	    "NOTHING RETURNING job_id", 2, v, "ask for a cancel", &r)) < 0) {
		*alone = rc == -EINVAL;
		return rc;
	}
	rc = 0;
	if (PQntuples(r) == 0 && strcmp(PQcmdTuples(r), "0") == 0) {
		/* Either ended, or asked already: the second is fine. */
		PQclear(r);
		if ((rc = pg_wexec(b, "SELECT 1 FROM job_cancels WHERE job_id = "
		    "$1::bigint", 1, v, "ask for a cancel", &r)) < 0)
			return rc;
		if (PQntuples(r) == 0) {
			*alone = true;
			rc = store_seterr(-ENOENT, "%s: cancel job %s: it has "
			    "ended", b->name, sid);
		}
	}
	PQclear(r);
	return rc;
}

/* Also drops the asks for jobs that have ended meanwhile; and takes the
 * notes (store_pg_span.c). */
int
pg_cancel_take(struct store_backend *b, const struct store_write *w)
{
	struct store_cancels *c = w->u.take.res;
	const char *v[1] = { b->node_s };
	PGresult *r;
	int rc, n;

	if ((rc = pg_wexec(b, "DELETE FROM job_cancels c USING jobs j WHERE "
	    "c.job_id = j.id AND (j.node = $1::bigint OR j.finished_at IS NOT "
	    "NULL) RETURNING c.job_id, c.reason, j.finished_at IS NULL", 1, v,
	    "take the cancels", &r)) < 0)
		return rc;
	n = PQntuples(r);
	if (n > 0 && ((c->ids = calloc((size_t)n, sizeof(*c->ids))) == NULL ||
	    (c->reasons = calloc((size_t)n, sizeof(*c->reasons))) == NULL)) {
		PQclear(r);
		return store_seterr(-ENOMEM, "%s: out of memory", b->name);
	}
	for (int i = 0; i < n; i++) {
		if (*PQgetvalue(r, i, 2) != 't')
			continue;
		c->ids[c->n] = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		if (!PQgetisnull(r, i, 1) && (c->reasons[c->n] =
		    strdup(PQgetvalue(r, i, 1))) == NULL) {
			PQclear(r);
			return store_seterr(-ENOMEM, "%s: out of memory",
			    b->name);
		}
		c->n++;
	}
	PQclear(r);
	return pgs_notes_take(b, c);
}

/* ---- claiming pooled jobs ----------------------------------------------- */

static int
claim_cmp(const void *a, const void *b)
{
	const struct store_job *x = *(struct store_job *const *)a;
	const struct store_job *y = *(struct store_job *const *)b;

	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Up to n pooled jobs of the queue, in the dispatcher's order, on the
 * small partial index jobs_ready; rows another daemon is claiming are
 * skipped, not waited for.  RETURNING has no order: sorted here. */
int
pg_claim(struct store_backend *b, const struct store_write *w)
{
	struct store_recover_res *res = w->u.recover.res;
	char n[24];
	const char *v[4] = { b->node_s, b->epoch_s, w->u.recover.queue, n };
	PGresult *r;
	int rc;

	snprintf(n, sizeof(n), "%zu", w->u.recover.n);
	if ((rc = pg_wexec(b, "UPDATE jobs SET node = $1::bigint, epoch = "
	    "$2::bigint WHERE id IN (SELECT id FROM jobs WHERE state = "
	    "'queued' AND node IS NULL AND queue = $3 ORDER BY priority, id "
	    "LIMIT $4::bigint FOR UPDATE SKIP LOCKED) RETURNING " PG_COLS, 4,
	    v, "claim jobs", &r)) < 0)
		return rc;
	rc = pg_collect(b, r, &res->jobs, &res->n);
	PQclear(r);
	if (rc == 0 && res->n > 1)
		qsort(res->jobs, res->n, sizeof(*res->jobs), claim_cmp);
	res->rep.queued = res->n;
	return rc;
}

/* ---- wake-ups: LISTEN jobd_ready ---------------------------------------- */

int
pg_wake_fd(struct store_backend *b)
{
	int rc;

	if (b->lc == NULL) {
		if ((rc = pg_connect(b, &b->lc)) < 0)
			return rc;
		if ((rc = pg_exec(b, b->lc, "LISTEN jobd_ready", "listen")) < 0 ||
		    PQsetnonblocking(b->lc, 1) != 0) {
			PQfinish(b->lc);
			b->lc = NULL;
			return rc < 0 ? rc : store_seterr(-EIO, "%s: listen: "
			    "cannot go non-blocking", b->name);
		}
	}
	return PQsocket(b->lc);
}

int
pg_wake_drain(struct store_backend *b, void (*cb)(void *arg,
    const char *queue), void *arg)
{
	PGnotify *n;

	if (b->lc == NULL)
		return -EBADF;
	if (PQconsumeInput(b->lc) == 0)
		return pg_fail(b, b->lc, NULL, "listen");
	while ((n = PQnotifies(b->lc)) != NULL) {
		cb(arg, n->extra);
		PQfreemem(n);
	}
	return 0;
}
