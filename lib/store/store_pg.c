/*
 * store_pg.c — the PostgreSQL backend of the store (see store_backend.h):
 * connecting, the schema and its migrations, the ids, the transactions
 * and the ops table.  A batch of writes is in store_pg_write.c, errors,
 * rows and the reads in store_pg_read.c; the schema is documented beside
 * SQLite's in docs/SCHEMA.md.
 *
 * Connections: the writer thread's (every write, one transaction per
 * batch), the loop thread's (reserve_ids: one short autocommit UPDATE per
 * block of ids, so several daemons can share the database), and a pool
 * for the reads.  All plain libpq, blocking, on their own threads: the
 * writer thread is what keeps the daemon's loop from ever waiting on
 * PostgreSQL (docs/BENCH.md has why not libpq's async API on the loop).
 *
 * The schema versions are SQLite's (store_sqlite.c): the same tables and
 * columns, in PostgreSQL's types, and the same version numbers, so that a
 * version added to one is added to the other with the same names.  The
 * version is the meta row 'schema_version' (SQLite: PRAGMA user_version).
 * Migrations run under an advisory lock: daemons starting together on one
 * database migrate it once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_pg.h"

#define PG_LOCK_MIGRATE 0x6a6f6264     /* advisory lock key: "jobd" */

struct pg_migration {
	int version;
	const char *sql;
};

static const struct pg_migration pg_migrations[] = {
	{ 1,
	"CREATE TABLE groups ("
	"  id         bigint           PRIMARY KEY,"
	"  mode       text             NOT NULL CHECK ("
	"    mode IN ('all', 'fail_fast')),"
	"  size       integer          NOT NULL CHECK (size >= 1),"
	"  created_at double precision NOT NULL"
	");"
	"CREATE TABLE jobs ("
	"  id            bigint           PRIMARY KEY,"
	"  queue         text             NOT NULL,"
	"  kind          text             NOT NULL,"
	"  state         text             NOT NULL DEFAULT 'queued' CHECK ("
	"    state IN ('queued', 'running', 'succeeded', 'failed',"
	"    'timed_out', 'cancelled')),"
	"  args          json             NOT NULL,"
	"  name          text,"
	"  attempts      integer          NOT NULL DEFAULT 0"
	"    CHECK (attempts >= 0),"
	"  max_attempts  integer          NOT NULL DEFAULT 3"
	"    CHECK (max_attempts >= 1),"
	"  timeout       double precision NOT NULL DEFAULT 0"
	"    CHECK (timeout >= 0),"
	"  created_at    double precision NOT NULL,"
	"  started_at    double precision,"
	"  finished_at   double precision,"
	"  result        json,"
	"  error         text,"
	"  cancel_reason text,"
	"  group_id      bigint REFERENCES groups (id),"
	"  CHECK ((finished_at IS NOT NULL) ="
	"    (state NOT IN ('queued', 'running')))"
	");"
	/* id in the index: a filtered list reads newest-first from it. */
	"CREATE INDEX jobs_state_queue ON jobs (state, queue, id);"
	"CREATE INDEX jobs_group ON jobs (group_id) WHERE group_id IS NOT NULL;"
	"CREATE TABLE meta ("
	"  key   text   PRIMARY KEY,"
	"  value bigint NOT NULL"
	");"
	"INSERT INTO meta (key, value) VALUES"
	"  ('next_job_id', 1), ('next_group_id', 1), ('schema_version', 0);" },
	{ 2,
	"ALTER TABLE jobs ADD COLUMN submit_uid bigint;"
	"ALTER TABLE jobs ADD COLUMN submit_gid bigint;"
	"ALTER TABLE jobs ADD COLUMN submit_pid bigint;" },
	/* SQLite keys its index by (submit_uid, rowid): id said here. */
	{ 3,
	"CREATE INDEX jobs_submitter ON jobs (submit_uid, id) "
	"WHERE submit_uid IS NOT NULL;" },
	/* The lifecycle.  PostgreSQL changes a CHECK in place: no rebuild. */
	{ 4,
	"ALTER TABLE jobs DROP CONSTRAINT jobs_state_check,"
	"  DROP CONSTRAINT jobs_check,"
	"  ADD CONSTRAINT jobs_state_check CHECK (state IN ('queued',"
	"    'running', 'succeeded', 'failed', 'timed_out', 'cancelled',"
	"    'scheduled', 'waiting')),"
	"  ADD CONSTRAINT jobs_check CHECK ((finished_at IS NOT NULL) ="
	"    (state NOT IN ('queued', 'running', 'scheduled', 'waiting'))),"
	"  ADD COLUMN run_at double precision,"
	"  ADD COLUMN priority integer NOT NULL DEFAULT 5"
	"    CHECK (priority BETWEEN 0 AND 9),"
	"  ADD COLUMN retries integer NOT NULL DEFAULT 0"
	"    CHECK (retries BETWEEN 0 AND 100),"
	"  ADD COLUMN retry_delay double precision NOT NULL DEFAULT 1"
	"    CHECK (retry_delay > 0),"
	"  ADD COLUMN retry_max_delay double precision NOT NULL DEFAULT 3600"
	"    CHECK (retry_max_delay > 0),"
	"  ADD COLUMN retry_backoff text NOT NULL DEFAULT 'exponential'"
	"    CHECK (retry_backoff IN ('exponential', 'fixed')),"
	"  ADD COLUMN retried integer NOT NULL DEFAULT 0 CHECK (retried >= 0),"
	"  ADD COLUMN run_base integer NOT NULL DEFAULT 0"
	"    CHECK (run_base >= 0),"
	"  ADD COLUMN idempotent boolean;"
	"CREATE INDEX jobs_run_at ON jobs (run_at, id) WHERE state = 'scheduled';"
	"CREATE INDEX jobs_finished ON jobs (state, finished_at)"
	"  WHERE finished_at IS NOT NULL;"
	"CREATE TABLE job_attempts ("
	"  job_id      bigint           NOT NULL,"
	"  attempt     integer          NOT NULL,"
	"  started_at  double precision,"
	"  finished_at double precision NOT NULL,"
	"  state       text             NOT NULL,"
	"  error       text,"
	"  result      json,"
	"  PRIMARY KEY (job_id, attempt)"
	");"
	"CREATE TABLE queue_pause ("
	"  queue     text             PRIMARY KEY,"
	"  paused_at double precision NOT NULL"
	");"
	"CREATE VIEW job_durations AS"
	"  SELECT id, queue, kind, state, attempts,"
	"   started_at - created_at AS wait_seconds,"
	"   finished_at - started_at AS run_seconds,"
	"   finished_at - created_at AS total_seconds"
	"  FROM jobs WHERE finished_at IS NOT NULL;"
	"CREATE VIEW failures_by_queue AS"
	"  SELECT queue, state, count(*) AS jobs, max(finished_at) AS last_at"
	"  FROM jobs WHERE state IN ('failed', 'timed_out')"
	"  GROUP BY queue, state;"
	"CREATE VIEW retries AS"
	"  SELECT a.job_id, j.queue, j.kind, a.attempt, a.state, a.error,"
	"   a.started_at, a.finished_at, j.state AS job_state"
	"  FROM job_attempts a JOIN jobs j ON j.id = a.job_id;"
	"CREATE VIEW queue_lag AS"
	"  SELECT queue, count(*) AS queued,"
	"   min(coalesce(run_at, created_at)) AS oldest_ready_at,"
	"   extract(epoch FROM now())::double precision -"
	"   min(coalesce(run_at, created_at)) AS lag_seconds"
	"  FROM jobs WHERE state = 'queued' GROUP BY queue;" },
	/* Schedules, unique keys, dependencies: the UNIQUE indexes make a
	 * slot's job and a key's live job one, whatever the code does. */
	{ 5,
	"ALTER TABLE jobs ADD COLUMN schedule text,"
	"  ADD COLUMN slot double precision,"
	"  ADD COLUMN unique_key text CHECK (unique_key IS NULL OR"
	"    octet_length(unique_key) BETWEEN 1 AND 255),"
	"  ADD COLUMN on_dependency_failure text CHECK ("
	"    on_dependency_failure IN ('cancel', 'run'));"
	"CREATE UNIQUE INDEX jobs_slot ON jobs (schedule, slot)"
	"  WHERE schedule IS NOT NULL;"
	"CREATE UNIQUE INDEX jobs_unique_live ON jobs (unique_key)"
	"  WHERE unique_key IS NOT NULL AND finished_at IS NULL;"
	"CREATE INDEX jobs_unique ON jobs (unique_key, created_at)"
	"  WHERE unique_key IS NOT NULL;"
	"CREATE TABLE job_deps ("
	"  job_id     bigint NOT NULL REFERENCES jobs (id),"
	"  depends_on bigint NOT NULL,"
	"  PRIMARY KEY (job_id, depends_on)"
	");"
	"CREATE INDEX job_deps_on ON job_deps (depends_on, job_id);" },
	/* Dependencies in use (store_pg_deps.c), as SQLite's 6. */
	{ 6,
	"ALTER TABLE jobs ADD COLUMN deps_left integer NOT NULL DEFAULT 0"
	"  CHECK (deps_left >= 0);" },
	/* Several daemons (store_pg_node.c).  PostgreSQL only: 7 is a step
	 * SQLite does not have (it stops at 6, the dependencies').  Each
	 * row a daemon holds carries its node and lease epoch (fencing);
	 * the attempts keep who ran them.  jobs_node finds a node's rows
	 * when another takes them over; jobs_ready is the claim's index:
	 * only the rows no daemon holds, so it stays small and hot. */
	{ 7,
	"CREATE TABLE nodes ("
	"  id           bigserial        PRIMARY KEY,"
	"  host         text             NOT NULL,"
	"  pid          bigint           NOT NULL,"
	"  boot         text             NOT NULL DEFAULT '',"
	"  started_at   double precision NOT NULL,"
	"  heartbeat_at double precision NOT NULL,"
	"  lease        double precision NOT NULL CHECK (lease > 0),"
	"  epoch        bigint           NOT NULL DEFAULT 1"
	");"
	"ALTER TABLE jobs ADD COLUMN node bigint, ADD COLUMN epoch bigint;"
	"ALTER TABLE job_attempts ADD COLUMN node bigint,"
	"  ADD COLUMN epoch bigint;"
	"CREATE INDEX jobs_node ON jobs (node) WHERE node IS NOT NULL AND"
	"  finished_at IS NULL;"
	"CREATE INDEX jobs_ready ON jobs (queue, priority, id)"
	"  WHERE state = 'queued' AND node IS NULL;"
	/* A cancel asked at one daemon of a job another holds: the holder
	 * takes the row (DELETE ... RETURNING) and stops the job. */
	"CREATE TABLE job_cancels ("
	"  job_id       bigint           PRIMARY KEY,"
	"  reason       text,"
	"  requested_at double precision NOT NULL"
	");"
	/* A waiting job another daemon holds, released or cancelled by
	 * this one's end (store_pg_span.c): its holder takes the note. */
	"CREATE TABLE job_notes ("
	"  job_id bigint           PRIMARY KEY,"
	"  node   bigint           NOT NULL,"
	"  state  text             NOT NULL,"
	"  reason text,"
	"  at     double precision NOT NULL"
	");" },
};

#define PG_NMIGRATIONS (sizeof(pg_migrations) / sizeof(pg_migrations[0]))
#define PG_VERSION     (pg_migrations[PG_NMIGRATIONS - 1].version)

/* The first column of sql's first row as an integer (*v = -1: no row). */
static int
pg_int(struct store_backend *b, PGconn *c, const char *sql, int64_t *v)
{
	PGresult *r = PQexec(c, sql);
	int rc = 0;

	*v = -1;
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = pg_fail(b, c, r, "read");
	else if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
		*v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return rc;
}

/* Refuse databases that are not ours or newer than this code. */
static int
pg_check_version(struct store_backend *b, int64_t *version)
{
	int64_t meta, tables;
	int rc;

	*version = 0;
	if ((rc = pg_int(b, b->wc, "SELECT count(*) FROM pg_tables WHERE "
	    "schemaname = current_schema()", &tables)) < 0 ||
	    (rc = pg_int(b, b->wc, "SELECT count(*) FROM pg_tables WHERE "
	    "schemaname = current_schema() AND tablename = 'meta'",
	    &meta)) < 0)
		return rc;
	if (tables == 0)
		return 0;
	if (meta == 1 && (rc = pg_int(b, b->wc, "SELECT value FROM meta "
	    "WHERE key = 'schema_version'", version)) < 0)
		return rc;
	if (meta != 1 || *version < 1)
		return store_seterr(-EBADMSG, "%s: not a jobd database (it has "
		    "tables but no jobd schema)", b->name);
	if (*version > PG_VERSION)
		return store_seterr(-ENOTSUP, "%s: schema version %lld is "
		    "newer than this jobd's (%d): run a newer jobd", b->name,
		    (long long)*version, PG_VERSION);
	return 0;
}

/* Bring the schema to PG_VERSION in one transaction, one daemon at a
 * time; and the id counters past every row (a database restored or
 * filled by hand). */
static int
pg_migrate(struct store_backend *b)
{
	char sql[256], what[64];
	int64_t v;
	int rc;

	snprintf(sql, sizeof(sql), "BEGIN; SELECT pg_advisory_xact_lock(%d)",
	    PG_LOCK_MIGRATE);
	if ((rc = pg_exec(b, b->wc, sql, "cannot lock")) < 0)
		return rc;
	if ((rc = pg_check_version(b, &v)) < 0)
		goto out;
	for (size_t i = 0; i < PG_NMIGRATIONS; i++) {
		if (pg_migrations[i].version <= v)
			continue;
		snprintf(what, sizeof(what), "migration to schema version %d",
		    pg_migrations[i].version);
		if ((rc = pg_exec(b, b->wc, pg_migrations[i].sql, what)) < 0)
			goto out;
	}
	snprintf(sql, sizeof(sql), "UPDATE meta SET value = %d WHERE key = "
	    "'schema_version'", PG_VERSION);
	if (v < PG_VERSION && (rc = pg_exec(b, b->wc, sql,
	    "set the version")) < 0)
		goto out;
	if ((rc = pg_exec(b, b->wc, "UPDATE meta SET value = greatest(value, "
	    "(SELECT coalesce(max(id), 0) + 1 FROM jobs)) WHERE key = "
	    "'next_job_id'; UPDATE meta SET value = greatest(value, "
	    "(SELECT coalesce(max(id), 0) + 1 FROM groups)) WHERE key = "
	    "'next_group_id'", "id counters")) < 0)
		goto out;
	if ((rc = pg_exec(b, b->wc, "COMMIT", "commit the migrations")) == 0 &&
	    v < PG_VERSION)
		log_info("%s: schema migrated from version %lld to %d", b->name,
		    (long long)v, PG_VERSION);
out:
	if (rc < 0)
		(void)pg_exec(b, b->wc, "ROLLBACK", "rollback");
	return rc;
}

static void
pg_close(struct store_backend *b)
{
	if (b == NULL)
		return;
	pg_readers_close(b);
	pg_node_leave(b);
	if (b->wc != NULL)
		PQfinish(b->wc);
	if (b->ic != NULL)
		PQfinish(b->ic);
	if (b->lc != NULL)
		PQfinish(b->lc);
	pg_scratch_free(b);
	pthread_mutex_destroy(&b->rmtx);
	pthread_mutex_destroy(&b->hmtx);
	pthread_cond_destroy(&b->hcond);
	free(b->conninfo);
	free(b->name);
	free(b);
}

/* "postgresql DB on HOST" for messages: never the password. */
static int
pg_name(struct store_backend *b)
{
	const char *host = PQhost(b->wc);
	char buf[512];

	snprintf(buf, sizeof(buf), "postgresql %s on %s", PQdb(b->wc),
	    host != NULL && *host != '\0' ? host : "localhost");
	free(b->name);
	if ((b->name = strdup(buf)) == NULL)
		return store_seterr(-ENOMEM, "store: out of memory");
	return 0;
}

static int
pg_open(const struct store_opts *o, struct store_backend **bp)
{
	struct store_backend *b;
	int rc;

	*bp = NULL;
	if (o->max_bytes != 0)
		return store_seterr(-ENOTSUP, "postgresql: no size cap "
		    "(max_bytes): PostgreSQL's own quotas apply");
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return store_seterr(-ENOMEM, "store: out of memory");
	b->sync = o->sync;
	b->busy_ms = o->busy_timeout_ms;
	b->lease = o->lease > 0 ? o->lease : STORE_LEASE_DEFAULT;
	pthread_mutex_init(&b->rmtx, NULL);
	pthread_mutex_init(&b->hmtx, NULL);
	pthread_cond_init(&b->hcond, NULL);
	if ((b->conninfo = strdup(o->path)) == NULL ||
	    (b->name = strdup("postgresql")) == NULL) {
		rc = store_seterr(-ENOMEM, "store: out of memory");
		goto out;
	}
	if ((rc = pg_connect(b, &b->wc)) < 0 ||
	    (rc = pg_name(b)) < 0 ||
	    (rc = pg_connect(b, &b->ic)) < 0 ||
	    (rc = pg_migrate(b)) < 0 ||
	    (rc = pg_node_register(b)) < 0 ||
	    (rc = pg_prepare_writes(b)) < 0)
		goto out;
	*bp = b;
	b = NULL;
out:
	pg_close(b);
	return rc;
}

/* A block of ids, committed at once on the loop thread's connection, so
 * no other daemon gets it: ids are unique across daemons, and grow within
 * one; between daemons they interleave by blocks. */
static int
pg_reserve_ids(struct store_backend *b, enum store_idkind kind, int64_t n,
    int64_t *first)
{
	char sn[24];
	const char *v[2] = { kind == STORE_ID_JOB ? "next_job_id" :
		"next_group_id", sn };
	PGresult *r;
	int rc = 0;

	if (n < 1)
		return store_seterr(-EINVAL, "%s: reserve %lld ids", b->name,
		    (long long)n);
	if (PQstatus(b->ic) != CONNECTION_OK)
		PQreset(b->ic);
	snprintf(sn, sizeof(sn), "%lld", (long long)n);
	r = PQexecParams(b->ic, "UPDATE meta SET value = value + $2::bigint "
	    "WHERE key = $1 RETURNING value - $2::bigint", 2, NULL, v, NULL,
	    NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = pg_fail(b, b->ic, r, "reserve ids");
	else if (PQntuples(r) != 1)
		rc = store_seterr(-EBADMSG, "%s: meta has no %s row", b->name,
		    v[0]);
	else
		*first = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return rc;
}

/* The BEGIN goes out with the batch's first statement's round trip
 * (pg_txn_start): an idle store's lone write costs three round trips. */
static int
pg_begin(struct store_backend *b)
{
	if (PQstatus(b->wc) != CONNECTION_OK) {
		PQreset(b->wc);
		if (PQstatus(b->wc) != CONNECTION_OK)
			return pg_fail(b, b->wc, NULL, "reconnect");
		if (pg_prepare_writes(b) < 0)
			return -EIO;
		log_info("%s: connected again", b->name);
	}
	pg_node_adopt(b);
	b->txn_pending = true;
	return 0;
}

static int
pg_commit(struct store_backend *b)
{
	PGresult *r;
	int rc = 0;

	if (b->txn_pending) {           /* an empty batch */
		b->txn_pending = false;
		return 0;
	}
	r = PQexec(b->wc, "COMMIT");
	/* COMMIT of a failed transaction "succeeds" as ROLLBACK. */
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = pg_fail(b, b->wc, r, "commit");
	else if (strcmp(PQcmdStatus(r), "COMMIT") != 0)
		rc = store_seterr(-EIO, "%s: commit: rolled back", b->name);
	PQclear(r);
	return rc;
}

static void
pg_rollback(struct store_backend *b)
{
	b->txn_pending = false;
	if (PQstatus(b->wc) == CONNECTION_OK &&
	    PQtransactionStatus(b->wc) != PQTRANS_IDLE)
		(void)pg_exec(b, b->wc, "ROLLBACK", "rollback");
}

const struct store_ops store_pg_ops = {
	.name = "postgresql",
	.open = pg_open,
	.close = pg_close,
	.reserve_ids = pg_reserve_ids,
	.begin = pg_begin,
	.apply_batch = pg_apply_batch,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.get = pg_get,
	.list = pg_list,
	.group_get = pg_group_get,
	.group_jobs = pg_group_jobs,
	.attempts = pg_attempts,
	.paused = pg_paused,
	.slot_last = pg_slot_last,
	.sched_page = pg_sched_page,
	.sched_scan = pg_sched_scan,
	.nodes = true,
	.node_id = pg_node_id,
	.wake_fd = pg_wake_fd,
	.wake_drain = pg_wake_drain,
};
