/*
 * store_pg_read.c — what every part of the PostgreSQL backend uses (its
 * errors, connecting, job rows) and the reads (see store_pg.c for the
 * rest, store.h for who may call what).
 *
 * Reads run on the caller's thread.  Each borrows a connection from a pool
 * (a free list under rmtx; opened on first need, one per thread reading at
 * the same time, closed at close), so readers on different threads never
 * wait for each other; MVCC lets them run beside the writer.  Each read is
 * one statement in its own implicit transaction: nothing pins a snapshot.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

struct pg_reader {
	PGconn *c;
	struct pg_reader *next;
};

/* ---- errors ------------------------------------------------------------- */

int
pg_errno(const char *st)
{
	if (st == NULL || strlen(st) != 5)
		return -EIO;            /* no SQLSTATE: the connection */
	if (strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0)
		return -EINVAL;
	if (strcmp(st, "53100") == 0)
		return -ENOSPC;         /* disk_full */
	if (strcmp(st, "53200") == 0)
		return -ENOMEM;
	if (strcmp(st, "25006") == 0)
		return -EROFS;          /* read_only_sql_transaction */
	if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0 ||
	    strcmp(st, "55P03") == 0 || strcmp(st, "53300") == 0 ||
	    strcmp(st, "57014") == 0)
		return -EBUSY;          /* serialization, deadlock, lock */
	if (strncmp(st, "28", 2) == 0 || strcmp(st, "42501") == 0)
		return -EACCES;
	if (strcmp(st, "3D000") == 0)
		return -ENOENT;         /* no such database */
	if (strcmp(st, "XX001") == 0 || strcmp(st, "XX002") == 0)
		return -EUCLEAN;        /* data or index corrupted */
	return -EIO;
}

bool
pg_data_error(const PGresult *r)
{
	const char *st = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) :
	    NULL;

	return st != NULL && (strncmp(st, "22", 2) == 0 ||
	    strncmp(st, "23", 2) == 0);
}

int
pg_fail(const struct store_backend *b, PGconn *c, const PGresult *r,
    const char *what)
{
	const char *msg = r != NULL ? PQresultErrorMessage(r) : "";
	const char *st = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) :
	    NULL;
	char buf[512];
	size_t n;

	if (msg == NULL || *msg == '\0')
		msg = c != NULL ? PQerrorMessage(c) : "no connection";
	snprintf(buf, sizeof(buf), "%s", msg);
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return store_seterr(pg_errno(st), "%s: %s: %s", b->name, what, buf);
}

/* ---- connections -------------------------------------------------------- */

int
pg_exec(struct store_backend *b, PGconn *c, const char *sql, const char *what)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType s = PQresultStatus(r);
	int rc = 0;

	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
		rc = pg_fail(b, c, r, what);
	PQclear(r);
	return rc;
}

/* Every connection: the commit durability store_opts.sync asks for, the
 * lock wait busy_timeout allows, UTC, and no notices on stderr. */
static void
pg_quiet(void *arg, const PGresult *r)
{
	(void)arg;
	(void)r;
}

int
pg_connect(struct store_backend *b, PGconn **cp)
{
	char sql[256];
	PGconn *c;
	int rc;

	*cp = NULL;
	if ((c = PQconnectdb(b->conninfo)) == NULL)
		return store_seterr(-ENOMEM, "%s: out of memory", b->name);
	if (PQstatus(c) != CONNECTION_OK) {
		rc = pg_fail(b, c, NULL, "connect");
		if (strstr(store_errmsg(), "does not exist") != NULL)
			rc = -ENOENT;
		else if (strstr(store_errmsg(), "authentication") != NULL ||
		    strstr(store_errmsg(), "permission") != NULL)
			rc = -EACCES;
		store_seterr(rc, "%s", store_errmsg());
		PQfinish(c);
		return rc;
	}
	PQsetNoticeReceiver(c, pg_quiet, NULL);
	/* A daemon stopped (SIGSTOP) inside a transaction would hold its
	 * rows' locks past its lease: the server ends such a session then,
	 * so that another daemon can take the rows over. */
	snprintf(sql, sizeof(sql), "SET synchronous_commit = %s; "
	    "SET lock_timeout = %d; SET TimeZone = 'UTC'; "
	    "SET application_name = 'jobd'; "
	    "SET idle_in_transaction_session_timeout = %d",
	    b->sync == STORE_SYNC_FULL ? "on" : "off", b->busy_ms,
	    (int)(b->lease * 1000));
	if ((rc = pg_exec(b, c, sql, "configure")) < 0) {
		PQfinish(c);
		return rc;
	}
	*cp = c;
	return 0;
}

/* ---- rows --------------------------------------------------------------- */

enum {
	C_ID, C_QUEUE, C_KIND, C_STATE, C_ARGS, C_NAME, C_ATTEMPTS, C_MAX,
	C_TIMEOUT, C_CREATED, C_STARTED, C_FINISHED, C_RESULT, C_ERROR,
	C_REASON, C_GROUP, C_UID, C_GID, C_PID, C_RUN_AT, C_PRIO, C_RETRIES,
	C_RETRIED, C_RUN_BASE, C_RDELAY, C_RMAX, C_BACKOFF, C_IDEM,
	C_SCHED, C_SLOT, C_UKEY, C_NODE, C_AFTER,
};

static double
pg_f8(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 :
	    strtod(PQgetvalue(r, row, col), NULL);
}

static long long
pg_i8(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 :
	    strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* One row as a job, in one allocation like SQLite's (store_job_free). */
static int
pg_row_job(const struct store_backend *b, const PGresult *r, int row,
    struct store_job **jp)
{
	static const int tcol[] = { C_QUEUE, C_KIND, C_ARGS, C_NAME, C_RESULT,
		C_ERROR, C_REASON, C_SCHED, C_UKEY, C_AFTER };
	const char *t[STORE_JOB_NTEXT];
	size_t len[STORE_JOB_NTEXT];
	struct store_job *j;

	for (int i = 0; i < STORE_JOB_NTEXT; i++) {
		t[i] = PQgetisnull(r, row, tcol[i]) ? NULL :
		    PQgetvalue(r, row, tcol[i]);
		len[i] = (size_t)PQgetlength(r, row, tcol[i]);
	}
	if ((j = store_job_alloc(t, len)) == NULL)
		return store_seterr(-ENOMEM, "%s: out of memory", b->name);
	j->id = pg_i8(r, row, C_ID);
	if (store_state_parse(PQgetvalue(r, row, C_STATE), &j->state) < 0) {
		free(j);
		return store_seterr(-EUCLEAN, "%s: job has a bad state",
		    b->name);
	}
	j->attempts = (int)pg_i8(r, row, C_ATTEMPTS);
	j->max_attempts = (int)pg_i8(r, row, C_MAX);
	j->timeout = pg_f8(r, row, C_TIMEOUT);
	j->created_at = pg_f8(r, row, C_CREATED);
	j->started_at = pg_f8(r, row, C_STARTED);
	j->finished_at = pg_f8(r, row, C_FINISHED);
	j->group_id = pg_i8(r, row, C_GROUP);
	if (!PQgetisnull(r, row, C_UID)) {
		j->submitter.known = true;
		j->submitter.uid = (uid_t)pg_i8(r, row, C_UID);
		j->submitter.gid = (gid_t)pg_i8(r, row, C_GID);
		j->submitter.pid = (pid_t)pg_i8(r, row, C_PID);
	}
	j->run_at = pg_f8(r, row, C_RUN_AT);               /* NULL: 0 */
	j->priority = (int)pg_i8(r, row, C_PRIO);
	j->retries = (int)pg_i8(r, row, C_RETRIES);
	j->retried = (int)pg_i8(r, row, C_RETRIED);
	j->run_base = (int)pg_i8(r, row, C_RUN_BASE);
	j->retry_delay = pg_f8(r, row, C_RDELAY);
	j->retry_max_delay = pg_f8(r, row, C_RMAX);
	j->retry_backoff = strcmp(PQgetvalue(r, row, C_BACKOFF), "fixed") == 0 ?
	    STORE_BACKOFF_FIXED : STORE_BACKOFF_EXPONENTIAL;
	j->idempotent = PQgetisnull(r, row, C_IDEM) ? STORE_IDEM_UNSET :
	    *PQgetvalue(r, row, C_IDEM) == 't' ? STORE_IDEM_YES : STORE_IDEM_NO;
	j->slot = pg_f8(r, row, C_SLOT);                   /* NULL: 0 */
	j->node = pg_i8(r, row, C_NODE);                   /* NULL: 0 */
	*jp = j;
	return 0;
}

int
pg_collect(const struct store_backend *b, const PGresult *r,
    struct store_job ***jobsp, size_t *np)
{
	int n = PQntuples(r), rc = 0, i;
	struct store_job **jobs;

	*jobsp = NULL;
	*np = 0;
	if (n == 0)
		return 0;
	if ((jobs = calloc((size_t)n, sizeof(*jobs))) == NULL)
		return store_seterr(-ENOMEM, "%s: out of memory", b->name);
	for (i = 0; i < n && rc == 0; i++)
		rc = pg_row_job(b, r, i, &jobs[i]);
	if (rc < 0) {
		store_jobs_free(jobs, (size_t)i - 1);
		return rc;
	}
	*jobsp = jobs;
	*np = (size_t)n;
	return 0;
}

/* ---- the read pool ------------------------------------------------------ */

void
pg_readers_close(struct store_backend *b)
{
	struct pg_reader *r;

	while ((r = b->idle) != NULL) {
		b->idle = r->next;
		PQfinish(r->c);
		free(r);
	}
}

static int
pg_reader_get(struct store_backend *b, struct pg_reader **rp)
{
	struct pg_reader *r;
	int rc;

	pthread_mutex_lock(&b->rmtx);
	if ((r = b->idle) != NULL)
		b->idle = r->next;
	pthread_mutex_unlock(&b->rmtx);
	/* A connection the server dropped: try once to get it back. */
	if (r != NULL && PQstatus(r->c) != CONNECTION_OK)
		PQreset(r->c);
	if ((*rp = r) != NULL)
		return 0;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return store_seterr(-ENOMEM, "%s: out of memory", b->name);
	if ((rc = pg_connect(b, &r->c)) < 0) {
		free(r);
		return rc;
	}
	*rp = r;
	return 0;
}

static void
pg_reader_put(struct store_backend *b, struct pg_reader *r)
{
	pthread_mutex_lock(&b->rmtx);
	r->next = b->idle;
	b->idle = r;
	pthread_mutex_unlock(&b->rmtx);
}

/* Run a PG_COLS query with text parameters and return its rows. */
static int
pg_read_jobs(struct store_backend *b, const char *sql, int n,
    const char *const *v, struct store_job ***jobsp, size_t *np)
{
	struct pg_reader *rd;
	PGresult *r;
	int rc;

	if ((rc = pg_reader_get(b, &rd)) < 0)
		return rc;
	r = PQexecParams(rd->c, sql, n, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = pg_fail(b, rd->c, r, "read jobs");
	else
		rc = pg_collect(b, r, jobsp, np);
	PQclear(r);
	pg_reader_put(b, rd);
	return rc;
}

int
pg_get(struct store_backend *b, int64_t id, struct store_job **jp)
{
	struct store_job **jobs;
	char sid[24];
	const char *v[] = { sid };
	size_t n;
	int rc;

	snprintf(sid, sizeof(sid), "%lld", (long long)id);
	if ((rc = pg_read_jobs(b, "SELECT " PG_COLS " FROM jobs WHERE id = $1",
	    1, v, &jobs, &n)) < 0)
		return rc;
	if (n == 0)
		return store_seterr(-ENOENT, "%s: no job %lld", b->name,
		    (long long)id);
	*jp = jobs[0];
	free(jobs);
	return 0;
}

/* Newest first below before_id; a NULL parameter is no filter.  With a
 * state the (state, queue, id) index answers it, else the primary key. */
int
pg_list(struct store_backend *b, const struct store_filter *f,
    struct store_job ***jobsp, size_t *np)
{
	char before[24], lim[24], uid[24];
	const char *v[5] = { store_state_name(f->state), f->queue, before, lim,
		f->by_uid ? uid : NULL };

	snprintf(before, sizeof(before), "%lld", (long long)f->before_id);
	snprintf(lim, sizeof(lim), "%zu", f->limit);
	snprintf(uid, sizeof(uid), "%lld", (long long)f->uid);
	/* One user's jobs: that user's range of jobs_submitter. */
	if (f->by_uid)
		return pg_read_jobs(b, "SELECT " PG_COLS " FROM jobs "
		    "WHERE submit_uid = $5::bigint AND "
		    "($1::text IS NULL OR state = $1) AND "
		    "($2::text IS NULL OR queue = $2) AND id < $3::bigint "
		    "ORDER BY id DESC LIMIT $4::bigint", 5, v, jobsp, np);
	return pg_read_jobs(b, "SELECT " PG_COLS " FROM jobs "
	    "WHERE ($1::text IS NULL OR state = $1) AND "
	    "($2::text IS NULL OR queue = $2) AND id < $3::bigint "
	    "ORDER BY id DESC LIMIT $4::bigint", 4, v, jobsp, np);
}

int
pg_group_jobs(struct store_backend *b, int64_t gid, struct store_job ***jobsp,
    size_t *np)
{
	char sid[24];
	const char *v[] = { sid };

	snprintf(sid, sizeof(sid), "%lld", (long long)gid);
	return pg_read_jobs(b, "SELECT " PG_COLS " FROM jobs "
	    "WHERE group_id = $1 ORDER BY id", 1, v, jobsp, np);
}

int
pg_group_get(struct store_backend *b, int64_t gid, struct store_group *g)
{
	struct pg_reader *rd;
	char sid[24];
	const char *v[] = { sid };
	PGresult *r;
	int rc;

	snprintf(sid, sizeof(sid), "%lld", (long long)gid);
	if ((rc = pg_reader_get(b, &rd)) < 0)
		return rc;
	/* With the submitter of its first job, as SQLite's SQ_GROUP_SQL. */
	r = PQexecParams(rd->c, "SELECT g.id, g.mode, g.size, g.created_at, "
	    "j.submit_uid, j.submit_gid, j.submit_pid FROM groups g "
	    "LEFT JOIN jobs j ON j.id = (SELECT min(id) FROM jobs "
	    "WHERE group_id = g.id) WHERE g.id = $1", 1, NULL, v, NULL, NULL,
	    0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = pg_fail(b, rd->c, r, "read group");
	} else if (PQntuples(r) == 0) {
		rc = store_seterr(-ENOENT, "%s: no group %lld", b->name,
		    (long long)gid);
	} else {
		g->id = pg_i8(r, 0, 0);
		if (store_group_mode_parse(PQgetvalue(r, 0, 1), &g->mode) < 0)
			g->mode = STORE_GROUP_ALL;
		g->size = (int)pg_i8(r, 0, 2);
		g->created_at = pg_f8(r, 0, 3);
		memset(&g->submitter, 0, sizeof(g->submitter));
		if (!PQgetisnull(r, 0, 4)) {
			g->submitter.known = true;
			g->submitter.uid = (uid_t)pg_i8(r, 0, 4);
			g->submitter.gid = (gid_t)pg_i8(r, 0, 5);
			g->submitter.pid = (pid_t)pg_i8(r, 0, 6);
		}
	}
	PQclear(r);
	pg_reader_put(b, rd);
	return rc;
}

/* Run a query with text parameters on a pooled connection: *rp gets the
 * rows (the caller clears it). */
static int
pg_read(struct store_backend *b, const char *sql, int n, const char *const *v,
    const char *what, PGresult **rp)
{
	struct pg_reader *rd;
	PGresult *r;
	int rc;

	*rp = NULL;
	if ((rc = pg_reader_get(b, &rd)) < 0)
		return rc;
	r = PQexecParams(rd->c, sql, n, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = pg_fail(b, rd->c, r, what);
		PQclear(r);
	} else {
		*rp = r;
	}
	pg_reader_put(b, rd);
	return rc;
}

/* A copy of column col of r's row, after *p (NULL for NULL). */
static char *
pg_copy(const PGresult *r, int row, int col, char **p)
{
	char *s = *p;
	size_t n = (size_t)PQgetlength(r, row, col);

	if (PQgetisnull(r, row, col))
		return NULL;
	memcpy(s, PQgetvalue(r, row, col), n);
	s[n] = '\0';
	*p += n + 1;
	return s;
}

int
pg_attempts(struct store_backend *b, int64_t id, struct store_attempt ***ap,
    size_t *np)
{
	struct store_attempt **a = NULL, *x;
	char sid[24], *p;
	const char *v[] = { sid };
	PGresult *r;
	size_t total;
	int rc, n, i;

	snprintf(sid, sizeof(sid), "%lld", (long long)id);
	if ((rc = pg_read(b, "SELECT attempt, started_at, finished_at, state, "
	    "error, result FROM job_attempts WHERE job_id = $1 "
	    "ORDER BY attempt", 1, v, "read attempts", &r)) < 0)
		return rc;
	if ((n = PQntuples(r)) > 0 &&
	    (a = calloc((size_t)n, sizeof(*a))) == NULL)
		rc = store_seterr(-ENOMEM, "%s: out of memory", b->name);
	for (i = 0; rc == 0 && i < n; i++) {
		total = 0;
		for (int c = 3; c <= 5; c++)
			total += (size_t)PQgetlength(r, i, c) + 1;
		if ((x = a[i] = calloc(1, sizeof(*x) + total)) == NULL) {
			rc = store_seterr(-ENOMEM, "%s: out of memory",
			    b->name);
			break;
		}
		p = (char *)(x + 1);
		x->attempt = (int)pg_i8(r, i, 0);
		x->started_at = pg_f8(r, i, 1);
		x->finished_at = pg_f8(r, i, 2);
		x->state = pg_copy(r, i, 3, &p);
		x->error = pg_copy(r, i, 4, &p);
		x->result = pg_copy(r, i, 5, &p);
	}
	PQclear(r);
	if (rc < 0) {
		store_attempts_free(a, (size_t)i);
		return rc;
	}
	*ap = a;
	*np = (size_t)n;
	return 0;
}

int
pg_paused(struct store_backend *b, char ***namesp, size_t *np)
{
	char **names = NULL;
	PGresult *r;
	int rc, n, i;

	if ((rc = pg_read(b, "SELECT queue FROM queue_pause ORDER BY queue", 0,
	    NULL, "read paused queues", &r)) < 0)
		return rc;
	if ((n = PQntuples(r)) > 0 &&
	    (names = calloc((size_t)n, sizeof(*names))) == NULL)
		rc = store_seterr(-ENOMEM, "%s: out of memory", b->name);
	for (i = 0; rc == 0 && i < n; i++)
		if ((names[i] = strdup(PQgetvalue(r, i, 0))) == NULL)
			rc = store_seterr(-ENOMEM, "%s: out of memory",
			    b->name);
	PQclear(r);
	if (rc < 0) {
		for (int k = 0; k < i; k++)
			free(names[k]);
		free(names);
		return rc;
	}
	*namesp = names;
	*np = (size_t)n;
	return 0;
}

/* A schedule's newest slot and its job (0 and 0: none), from jobs_slot. */
int
pg_slot_last(struct store_backend *b, const char *schedule, double *slot,
    int64_t *id)
{
	const char *v[] = { schedule };
	PGresult *r;
	int rc;

	*slot = 0;
	*id = 0;
	if ((rc = pg_read(b, "SELECT slot, id FROM jobs WHERE schedule = $1 "
	    "ORDER BY slot DESC LIMIT 1", 1, v, "read a schedule's last slot",
	    &r)) < 0)
		return rc;
	if (PQntuples(r) > 0) {
		*slot = pg_f8(r, 0, 0);
		*id = pg_i8(r, 0, 1);
	}
	PQclear(r);
	return 0;
}

/* The scheduled jobs after (after_at, after_id), keyset-paged on
 * jobs_run_at (store_sched_page): this daemon's only (another daemon's
 * rows are its own window's). */
int
pg_sched_page(struct store_backend *b, double after_at, int64_t after_id,
    double until, size_t limit, struct store_job ***jobsp, size_t *np)
{
	char at[32], id[24], un[32], lim[24], node[24];
	const char *v[] = { at, id, un, lim, node };

	snprintf(node, sizeof(node), "%lld", (long long)b->node);
	snprintf(at, sizeof(at), "%.17g", after_at);
	snprintf(id, sizeof(id), "%lld", (long long)after_id);
	snprintf(un, sizeof(un), "%.17g", until);
	snprintf(lim, sizeof(lim), "%zu", limit);
	return pg_read_jobs(b, "SELECT " PG_COLS " FROM jobs "
	    "WHERE state = 'scheduled' AND (run_at, id) > ($1::float8, "
	    "$2::bigint) AND run_at <= $3::float8 AND node = $5::bigint "
	    "ORDER BY run_at, id LIMIT $4::bigint", 5, v, jobsp, np);
}

/* Every scheduled job of this daemon due after after (store_sched_scan). */
int
pg_sched_scan(struct store_backend *b, double after, store_sched_fn fn,
    void *arg)
{
	struct store_sched_row row;
	char at[32], node[24];
	const char *v[] = { at, node };
	PGresult *r;
	int rc, n;

	snprintf(at, sizeof(at), "%.17g", after);
	snprintf(node, sizeof(node), "%lld", (long long)b->node);
	if ((rc = pg_read(b, "SELECT id, group_id, queue, submit_uid, "
	    "submit_gid, submit_pid FROM jobs WHERE state = 'scheduled' AND "
	    "run_at > $1::float8 AND node = $2::bigint", 2, v,
	    "read scheduled jobs", &r)) < 0)
		return rc;
	n = PQntuples(r);
	for (int i = 0; rc == 0 && i < n; i++) {
		memset(&row, 0, sizeof(row));
		row.id = pg_i8(r, i, 0);
		row.group_id = PQgetisnull(r, i, 1) ? 0 : pg_i8(r, i, 1);
		row.queue = PQgetvalue(r, i, 2);
		if (!PQgetisnull(r, i, 3)) {
			row.submitter.known = true;
			row.submitter.uid = (uid_t)pg_i8(r, i, 3);
			row.submitter.gid = (gid_t)pg_i8(r, i, 4);
			row.submitter.pid = (pid_t)pg_i8(r, i, 5);
		}
		rc = fn(arg, &row);
	}
	PQclear(r);
	return rc;
}
