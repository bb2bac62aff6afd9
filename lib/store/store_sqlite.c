/*
 * store_sqlite.c — the SQLite backend of the store (see store_backend.h):
 * the write connection, the schema and its migrations, the ids, the writes
 * and the ops table.  The reads are in store_sqlite_read.c, what both use
 * (errors, statements, rows) in store_sqlite_util.c; the schema is
 * documented in docs/SCHEMA.md.
 *
 * The write connection is used by store_open's thread for the migrations
 * and then by the writer thread only; each read connection by one thread
 * at a time: so every connection is opened NOMUTEX.  Every statement is
 * prepared once (PREPARE_PERSISTENT).  Strings are bound SQLITE_STATIC:
 * the front keeps a write's memory alive until it completes.
 *
 * Things SQLite does not do for us: it keeps writing happily to a database
 * file that was deleted (or replaced) while open, so every transaction
 * first checks the path still names the file we opened; and nothing stops
 * two daemons from opening one file and handing out the same ids, so the
 * store holds an flock on it.  That lock fd must stay open until every
 * connection is closed: closing any fd of the file would drop SQLite's
 * POSIX locks on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "store_sqlite.h"

#define SQ_APP_ID 0x6a6f6264            /* PRAGMA application_id: "jobd" */
#define SQ_CHECKPOINT_FRAMES 1000      /* SQLite's own wal_autocheckpoint */
/* Free pages one prune write gives back to the file system: bounded, so
 * that a prune's transaction stays short (docs/BENCH.md). */
#define SQ_VACUUM_PAGES "1000"

/* ---- the schema: one entry per version, applied in order ---------------- */

struct sq_migration {
	int version;
	const char *sql;
};

static const struct sq_migration sq_migrations[] = {
	{ 1,
	"CREATE TABLE groups ("
	"  id         INTEGER PRIMARY KEY,"
	"  mode       TEXT    NOT NULL CHECK ("
	"    mode = 'all' OR mode = 'fail_fast'),"
	"  size       INTEGER NOT NULL CHECK (size >= 1),"
	"  created_at REAL    NOT NULL"
	") STRICT;"
	"CREATE TABLE jobs ("
	"  id            INTEGER PRIMARY KEY,"
	"  queue         TEXT    NOT NULL,"
	"  kind          TEXT    NOT NULL,"
	"  state         TEXT    NOT NULL DEFAULT 'queued' CHECK ("
	"    state = 'queued' OR state = 'running' OR state = 'succeeded' OR"
	"    state = 'failed' OR state = 'timed_out' OR state = 'cancelled'),"
	"  args          TEXT    NOT NULL CHECK (json_valid(args)),"
	"  name          TEXT,"
	"  attempts      INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),"
	"  max_attempts  INTEGER NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),"
	"  timeout       REAL    NOT NULL DEFAULT 0 CHECK (timeout >= 0),"
	"  created_at    REAL    NOT NULL,"
	"  started_at    REAL,"
	"  finished_at   REAL,"
	"  result        TEXT    CHECK (result IS NULL OR json_valid(result)),"
	"  error         TEXT,"
	"  cancel_reason TEXT,"
	"  group_id      INTEGER REFERENCES groups (id),"
	"  CHECK ((finished_at IS NOT NULL) ="
	"    (state <> 'queued' AND state <> 'running'))"
	") STRICT;"
	"CREATE INDEX jobs_state_queue ON jobs (state, queue);"
	"CREATE INDEX jobs_group ON jobs (group_id) WHERE group_id IS NOT NULL;"
	"CREATE TABLE meta ("
	"  key   TEXT    PRIMARY KEY,"
	"  value INTEGER NOT NULL"
	") STRICT, WITHOUT ROWID;"
	"INSERT INTO meta (key, value) VALUES"
	"  ('next_job_id', 1), ('next_group_id', 1);" },
	/* Who submitted each job; NULL for the rows before. */
	{ 2,
	"ALTER TABLE jobs ADD COLUMN submit_uid INTEGER;"
	"ALTER TABLE jobs ADD COLUMN submit_gid INTEGER;"
	"ALTER TABLE jobs ADD COLUMN submit_pid INTEGER;" },
	/* A user's own jobs, newest first (visibility = own): no state in
	 * it, so only an insert writes it. */
	{ 3,
	"CREATE INDEX jobs_submitter ON jobs (submit_uid) "
	"WHERE submit_uid IS NOT NULL;" },
	/* The lifecycle (numbered 3 on its branch, 4 once main's
	 * jobs_submitter took 3): two more states, run_at, priority, the retry policy,
	 * every start kept in job_attempts, paused queues, the views.  SQLite
	 * cannot change a CHECK in place: the table is rebuilt and the rows
	 * copied (every column of v2 keeps its value). */
	{ 4,
	"DROP VIEW IF EXISTS job_durations; DROP VIEW IF EXISTS retries;"
	"DROP VIEW IF EXISTS failures_by_queue; DROP VIEW IF EXISTS queue_lag;"
	"CREATE TABLE jobs_v3 ("
	"  id            INTEGER PRIMARY KEY,"
	"  queue         TEXT    NOT NULL,"
	"  kind          TEXT    NOT NULL,"
	"  state         TEXT    NOT NULL DEFAULT 'queued' CHECK ("
	"    state = 'queued' OR state = 'running' OR state = 'succeeded' OR"
	"    state = 'failed' OR state = 'timed_out' OR state = 'cancelled' OR"
	"    state = 'scheduled' OR state = 'waiting'),"
	"  args          TEXT    NOT NULL CHECK (json_valid(args)),"
	"  name          TEXT,"
	"  attempts      INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),"
	"  max_attempts  INTEGER NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),"
	"  timeout       REAL    NOT NULL DEFAULT 0 CHECK (timeout >= 0),"
	"  created_at    REAL    NOT NULL,"
	"  started_at    REAL,"
	"  finished_at   REAL,"
	"  result        TEXT    CHECK (result IS NULL OR json_valid(result)),"
	"  error         TEXT,"
	"  cancel_reason TEXT,"
	"  group_id      INTEGER REFERENCES groups (id),"
	"  submit_uid    INTEGER,"
	"  submit_gid    INTEGER,"
	"  submit_pid    INTEGER,"
	"  run_at        REAL,"
	"  priority      INTEGER NOT NULL DEFAULT 5 CHECK ("
	"    priority >= 0 AND priority <= 9),"
	"  retries       INTEGER NOT NULL DEFAULT 0 CHECK ("
	"    retries >= 0 AND retries <= 100),"
	"  retry_delay   REAL    NOT NULL DEFAULT 1 CHECK (retry_delay > 0),"
	"  retry_max_delay REAL  NOT NULL DEFAULT 3600 CHECK ("
	"    retry_max_delay > 0),"
	"  retry_backoff TEXT    NOT NULL DEFAULT 'exponential' CHECK ("
	"    retry_backoff = 'exponential' OR retry_backoff = 'fixed'),"
	"  retried       INTEGER NOT NULL DEFAULT 0 CHECK (retried >= 0),"
	"  run_base      INTEGER NOT NULL DEFAULT 0 CHECK (run_base >= 0),"
	"  idempotent    INTEGER CHECK ("
	"    idempotent IS NULL OR idempotent = 0 OR idempotent = 1),"
	"  CHECK ((finished_at IS NOT NULL) ="
	"    (state <> 'queued' AND state <> 'running' AND"
	"     state <> 'scheduled' AND state <> 'waiting'))"
	") STRICT;"
	"INSERT INTO jobs_v3 (id, queue, kind, state, args, name, attempts,"
	"  max_attempts, timeout, created_at, started_at, finished_at, result,"
	"  error, cancel_reason, group_id, submit_uid, submit_gid, submit_pid)"
	" SELECT id, queue, kind, state, args, name, attempts, max_attempts,"
	"  timeout, created_at, started_at, finished_at, result, error,"
	"  cancel_reason, group_id, submit_uid, submit_gid, submit_pid"
	" FROM jobs ORDER BY id;"
	"DROP TABLE jobs;"
	"ALTER TABLE jobs_v3 RENAME TO jobs;"
	"CREATE INDEX jobs_state_queue ON jobs (state, queue);"
	"CREATE INDEX jobs_group ON jobs (group_id) WHERE group_id IS NOT NULL;"
	"CREATE INDEX jobs_submitter ON jobs (submit_uid) "
	"WHERE submit_uid IS NOT NULL;"
	"CREATE INDEX jobs_run_at ON jobs (run_at, id) WHERE state = 'scheduled';"
	"CREATE INDEX jobs_finished ON jobs (state, finished_at)"
	"  WHERE finished_at IS NOT NULL;"
	"CREATE INDEX IF NOT EXISTS jobs_submitter ON jobs (submit_uid) "
	"WHERE submit_uid IS NOT NULL;"
	"CREATE TABLE IF NOT EXISTS job_attempts ("
	"  job_id      INTEGER NOT NULL,"
	"  attempt     INTEGER NOT NULL,"
	"  started_at  REAL,"
	"  finished_at REAL    NOT NULL,"
	"  state       TEXT    NOT NULL,"
	"  error       TEXT,"
	"  result      TEXT,"
	"  PRIMARY KEY (job_id, attempt)"
	") STRICT, WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS queue_pause ("
	"  queue     TEXT PRIMARY KEY,"
	"  paused_at REAL NOT NULL"
	") STRICT, WITHOUT ROWID;"
	"CREATE VIEW job_durations AS"
	"  SELECT id, queue, kind, state, attempts,"
	"   started_at - created_at AS wait_seconds,"
	"   finished_at - started_at AS run_seconds,"
	"   finished_at - created_at AS total_seconds"
	"  FROM jobs WHERE finished_at IS NOT NULL;"
	"CREATE VIEW failures_by_queue AS"
	"  SELECT queue, state, count(*) AS jobs, max(finished_at) AS last_at"
	"  FROM jobs WHERE state = 'failed' OR state = 'timed_out'"
	"  GROUP BY queue, state;"
	"CREATE VIEW retries AS"
	"  SELECT a.job_id, j.queue, j.kind, a.attempt, a.state, a.error,"
	"   a.started_at, a.finished_at, j.state AS job_state"
	"  FROM job_attempts a JOIN jobs j ON j.id = a.job_id;"
	"CREATE VIEW queue_lag AS"
	"  SELECT queue, count(*) AS queued,"
	"   min(coalesce(run_at, created_at)) AS oldest_ready_at,"
	"   (julianday('now') - 2440587.5) * 86400.0 -"
	"   min(coalesce(run_at, created_at)) AS lag_seconds"
	"  FROM jobs WHERE state = 'queued' GROUP BY queue;" },
	/* Schedules, unique keys, dependencies (docs/SCHEMA.md).  The
	 * UNIQUE indexes are what makes a slot's job and a key's job one:
	 * a second insert breaks them whatever the code above does. */
	{ 5,
	"ALTER TABLE jobs ADD COLUMN schedule TEXT;"
	"ALTER TABLE jobs ADD COLUMN slot REAL;"
	"ALTER TABLE jobs ADD COLUMN unique_key TEXT CHECK (unique_key IS NULL"
	"  OR length(CAST(unique_key AS BLOB)) BETWEEN 1 AND 255);"
	"ALTER TABLE jobs ADD COLUMN on_dependency_failure TEXT CHECK ("
	"  on_dependency_failure IS NULL OR on_dependency_failure = 'cancel'"
	"  OR on_dependency_failure = 'run');"
	"CREATE UNIQUE INDEX jobs_slot ON jobs (schedule, slot)"
	"  WHERE schedule IS NOT NULL;"
	"CREATE UNIQUE INDEX jobs_unique_live ON jobs (unique_key)"
	"  WHERE unique_key IS NOT NULL AND finished_at IS NULL;"
	"CREATE INDEX jobs_unique ON jobs (unique_key, created_at)"
	"  WHERE unique_key IS NOT NULL;"
	"CREATE TABLE IF NOT EXISTS job_deps ("
	"  job_id     INTEGER NOT NULL REFERENCES jobs (id),"
	"  depends_on INTEGER NOT NULL,"
	"  PRIMARY KEY (job_id, depends_on)"
	") STRICT, WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS job_deps_on ON job_deps (depends_on, job_id);" },
	/* Dependencies in use (store_sqlite_deps.c): a waiting job's count
	 * of dependencies not yet ended, kept by each end. */
	{ 6,
	"ALTER TABLE jobs ADD COLUMN deps_left INTEGER NOT NULL DEFAULT 0"
	"  CHECK (deps_left >= 0);" },
};

/* Why the CHECKs use OR chains and there is a single (state, queue) index:
 * an IN list inside a CHECK builds a temporary table per row (it halved
 * the insert rate), and every index holding state costs five B-tree
 * writes per job (insert, start, end).  docs/SCHEMA.md has the numbers. */

#define SQ_NMIGRATIONS (sizeof(sq_migrations) / sizeof(sq_migrations[0]))
#define SQ_VERSION     (sq_migrations[SQ_NMIGRATIONS - 1].version)

/* ---- statements --------------------------------------------------------- */

static const char *const sq_wsql[W_N] = {
	[W_BEGIN] = "BEGIN IMMEDIATE",
	[W_COMMIT] = "COMMIT",
	[W_ROLLBACK] = "ROLLBACK",
	[W_SAVEPOINT] = "SAVEPOINT grp",
	[W_RELEASE] = "RELEASE grp",
	[W_UNDO] = "ROLLBACK TO grp",
	[W_INSERT] = "INSERT INTO jobs (id, queue, kind, args, name, "
	    "max_attempts, timeout, created_at, group_id, submit_uid, "
	    "submit_gid, submit_pid, state, run_at, priority, retries, "
	    "retry_delay, retry_max_delay, retry_backoff, idempotent, "
	    "schedule, slot, unique_key, deps_left, on_dependency_failure) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
	    "?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)",
	[W_DUP_KEY] = SQ_SQL_DUP_KEY,
	[W_DUP_SLOT] = SQ_SQL_DUP_SLOT,
	[W_GROUP] = "INSERT INTO groups (id, mode, size, created_at) "
	    "VALUES (?1, ?2, ?3, ?4)",
	[W_START] = "UPDATE jobs SET state = 'running', "
	    "attempts = attempts + 1, started_at = ?2 "
	    "WHERE id = ?1 AND state = 'queued'",
	[W_END] = "UPDATE jobs SET state = ?2, finished_at = ?3, result = ?4, "
	    "error = ?5, cancel_reason = ?6 "
	    "WHERE id = ?1 AND state IN ('queued', 'running', 'scheduled', "
	    "'waiting')",
	/* A start and its end in one batch, as one row write (store.c). */
	[W_RUN] = "UPDATE jobs SET state = ?2, finished_at = ?3, result = ?4, "
	    "error = ?5, cancel_reason = ?6, attempts = attempts + 1, "
	    "started_at = ?7 WHERE id = ?1 AND state = 'queued'",
	[W_REQUEUE] = "UPDATE jobs SET state = 'queued' "
	    "WHERE id = ?1 AND state = 'running'",
	[W_META] = "UPDATE meta SET value = ?2 WHERE key = ?1 AND value < ?2",
	[W_ACTIVE] = SQ_SQL_ACTIVE,
	[W_GET] = "SELECT " SQ_COLS " FROM jobs WHERE id = ?1",
	/* Before the UPDATE that ends a start: keep it (a no-op for a job
	 * that was not running). */
	[W_ATTEMPT] = "INSERT OR REPLACE INTO job_attempts (job_id, attempt, "
	    "started_at, finished_at, state, error, result) "
	    "SELECT id, attempts, started_at, ?2, ?3, ?4, ?5 FROM jobs "
	    "WHERE id = ?1 AND state = 'running' AND attempts > 0",
	/* W_ATTEMPT for W_RUN: the start is not in the row yet (?6). */
	[W_RUN_ATTEMPT] = "INSERT OR REPLACE INTO job_attempts (job_id, "
	    "attempt, started_at, finished_at, state, error, result) "
	    "SELECT id, attempts + 1, ?6, ?2, ?3, ?4, ?5 FROM jobs "
	    "WHERE id = ?1 AND state = 'queued'",
	[W_RETRY] = "UPDATE jobs SET state = 'scheduled', run_at = ?2, "
	    "retried = retried + 1, run_base = attempts, error = ?3, "
	    "result = ?4 WHERE id = ?1 AND state = 'running'",
	[W_READY] = "UPDATE jobs SET state = 'queued' "
	    "WHERE id = ?1 AND state = 'scheduled'",
	[W_REVIVE] = "UPDATE jobs SET state = 'queued', finished_at = NULL, "
	    "result = NULL, error = NULL, cancel_reason = NULL, retried = 0, "
	    "run_base = attempts, run_at = NULL WHERE id = ?1 AND state IN "
	    "('failed', 'timed_out', 'cancelled')",
	[W_PAUSE_ON] = "INSERT OR IGNORE INTO queue_pause (queue, paused_at) "
	    "VALUES (?1, ?2)",
	[W_PAUSE_OFF] = "DELETE FROM queue_pause WHERE queue = ?1",
	[W_PRUNE_IDS] = SQ_SQL_PRUNE_IDS,
	[W_PRUNE_ATT] = "DELETE FROM job_attempts WHERE job_id = ?1",
	[W_PRUNE_JOB] = "DELETE FROM jobs WHERE id = ?1",
	[W_VACUUM] = "PRAGMA incremental_vacuum(" SQ_VACUUM_PAGES ")",
};

/* ---- small helpers ------------------------------------------------------ */

static int
sq_exec(struct store_backend *b, const char *sql, const char *what)
{
	int rc = sqlite3_exec(b->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : sq_fail(b, b->db, rc, what);
}

/* The first column of sql's first row as an integer, into *v. */
static int
sq_int(struct store_backend *b, const char *sql, int64_t *v)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(b->db, sql, -1, &s, NULL);

	if (rc != SQLITE_OK)
		return sq_fail(b, b->db, rc, sql);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		*v = sqlite3_column_int64(s, 0);
		rc = SQLITE_OK;
	}
	rc = rc == SQLITE_OK ? 0 : sq_fail(b, b->db, rc, sql);
	sqlite3_finalize(s);
	return rc;
}





/* Bind a string, remembering the first failure in *brc. */
static void
sq_bind_text(sqlite3_stmt *s, int i, const char *v, int *brc)
{
	int rc = sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);

	if (*brc == SQLITE_OK)
		*brc = rc;
}

/* Bind the submitter to columns i .. i + 2: uid, gid, pid, or NULLs. */
static void
sq_bind_submitter(sqlite3_stmt *s, int i, const struct store_submitter *by)
{
	if (!by->known) {
		for (int k = 0; k < 3; k++)
			sqlite3_bind_null(s, i + k);
		return;
	}
	sqlite3_bind_int64(s, i, (int64_t)by->uid);
	sqlite3_bind_int64(s, i + 1, (int64_t)by->gid);
	sqlite3_bind_int64(s, i + 2, (int64_t)by->pid);
}

/* ---- open: connect, lock, configure, migrate ---------------------------- */

/* SQLite quietly opens a write-protected file read-only: refuse it here
 * rather than fail every write later.  And from now on name the file by
 * its absolute path, which read connections opened later and the check in
 * sq_begin need even if the process changes directory. */
static int
sq_writable(struct store_backend *b)
{
	const char *full = sqlite3_db_filename(b->db, "main");
	char *p;

	if (full != NULL && full[0] != '\0' && (p = strdup(full)) != NULL) {
		free(b->path);
		b->path = p;
	}
	if (sqlite3_db_readonly(b->db, "main") == 1)
		return store_seterr(-EROFS, "%s: the database file is "
		    "read-only (no write permission, or a read-only file "
		    "system)", b->path);
	return 0;
}

/* One store per file: an flock, and the identity to check later. */
static int
sq_lock(struct store_backend *b)
{
	struct stat sb;

	if ((b->lockfd = open(b->path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(b->lockfd, &sb) < 0)
		return store_seterr(-errno, "%s: %s", b->path, strerror(errno));
	if (flock(b->lockfd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			return store_seterr(-EBUSY, "%s: in use by another "
			    "jobd store", b->path);
		return store_seterr(-errno, "%s: flock: %s", b->path,
		    strerror(errno));
	}
	b->dev = sb.st_dev;
	b->ino = sb.st_ino;
	return 0;
}

/* SQLite's automatic checkpoint, plus what it leaves out: saying that a
 * checkpoint failed (a full disk, a write-protected file).  Nothing is
 * lost then: commits go on into the WAL, which grows, and every commit
 * tries again.  Runs after a commit, so it must return SQLITE_OK. */
static int
sq_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct store_backend *b = arg;
	int rc, sys;

	if (frames < SQ_CHECKPOINT_FRAMES)
		return SQLITE_OK;
	rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE,
	    NULL, NULL);
	sys = rc != SQLITE_OK ? sq_os_errno(db, true) : 0;
	if (rc != SQLITE_OK && rc != SQLITE_BUSY && !b->ckpt_failing)
		log_warnx("%s: checkpoint failed: %s%s%s%s; commits go on into "
		    "the WAL, which grows until a checkpoint succeeds", b->path,
		    sqlite3_errstr(rc), sys > 0 ? " (" : "",
		    sys > 0 ? strerror(sys) : "", sys > 0 ? ")" : "");
	else if (rc == SQLITE_OK && b->ckpt_failing)
		log_info("%s: checkpoint succeeded again", b->path);
	if (rc != SQLITE_BUSY)
		b->ckpt_failing = rc != SQLITE_OK;
	return SQLITE_OK;
}

static int
sq_configure(struct store_backend *b, const struct store_opts *o)
{
	char sql[256];
	int64_t page;
	sqlite3_stmt *s;
	int rc;

	/* The first statement that reads the file: "not a database" here. */
	if ((rc = sqlite3_prepare_v2(b->db, "PRAGMA journal_mode = WAL", -1,
	    &s, NULL)) != SQLITE_OK)
		return sq_fail(b, b->db, rc, "read");
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(s, 0),
	    "wal") != 0)
		rc = store_seterr(-EROFS, "%s: cannot switch to WAL mode",
		    b->path);
	else
		rc = rc == SQLITE_ROW ? 0 :
		    sq_fail(b, b->db, rc, "read");
	sqlite3_finalize(s);
	if (rc < 0)
		return rc;
	sqlite3_wal_hook(b->db, sq_wal_hook, b);
	snprintf(sql, sizeof(sql), "PRAGMA synchronous = %s;"
	    "PRAGMA cache_size = -32768; PRAGMA journal_size_limit = 67108864",
	    o->sync == STORE_SYNC_FULL ? "FULL" : "NORMAL");
	if ((rc = sq_exec(b, sql, "configure")) < 0 || o->max_bytes == 0)
		return rc;
	if ((rc = sq_int(b, "PRAGMA page_size", &page)) < 0)
		return rc;
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %lld",
	    (long long)(o->max_bytes / page > 0 ? o->max_bytes / page : 1));
	return sq_exec(b, sql, "configure");
}

/* Refuse files that are not ours or newer than this code. */
static int
sq_check_version(struct store_backend *b, int64_t *version)
{
	int64_t app, tables;
	int rc;

	if ((rc = sq_int(b, "PRAGMA user_version", version)) < 0 ||
	    (rc = sq_int(b, "PRAGMA application_id", &app)) < 0 ||
	    (rc = sq_int(b, "SELECT count(*) FROM sqlite_schema", &tables)) < 0)
		return rc;
	if (app != 0 && app != SQ_APP_ID)
		return store_seterr(-EBADMSG, "%s: not a jobd database "
		    "(application_id 0x%llx)", b->path, (long long)app);
	if (app == 0 && tables > 0)
		return store_seterr(-EBADMSG, "%s: not a jobd database (it has "
		    "tables but no jobd schema)", b->path);
	if (*version > SQ_VERSION)
		return store_seterr(-ENOTSUP, "%s: schema version %lld is "
		    "newer than this jobd's (%d): run a newer jobd", b->path,
		    (long long)*version, SQ_VERSION);
	return 0;
}

/* Bring the schema to SQ_VERSION in one transaction. */
static int
sq_migrate(struct store_backend *b)
{
	char sql[128], what[64];
	int64_t v;
	int rc;

	if ((rc = sq_exec(b, "BEGIN IMMEDIATE", "cannot lock")) < 0)
		return rc;
	if ((rc = sq_check_version(b, &v)) < 0)
		goto out;
	for (size_t i = 0; i < SQ_NMIGRATIONS; i++) {
		if (sq_migrations[i].version <= v)
			continue;
		snprintf(what, sizeof(what), "migration to schema version %d",
		    sq_migrations[i].version);
		if ((rc = sq_exec(b, sq_migrations[i].sql, what)) < 0)
			goto out;
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d;"
	    "PRAGMA application_id = %d", SQ_VERSION, SQ_APP_ID);
	if (v < SQ_VERSION && (rc = sq_exec(b, sql, "set the version")) < 0)
		goto out;
	if ((rc = sq_exec(b, "COMMIT", "commit the migrations")) == 0 &&
	    v < SQ_VERSION)
		log_info("%s: schema migrated from version %lld to %d", b->path,
		    (long long)v, SQ_VERSION);
out:
	if (rc < 0 && !sqlite3_get_autocommit(b->db))
		sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* Retention gives pages back through incremental vacuum, which needs
 * auto_vacuum = INCREMENTAL.  SQLite applies that setting to an existing
 * file only by a VACUUM (which rewrites it: once, at the first start of a
 * jobd with schema 3, and at once for a new, empty file). */
static int
sq_auto_vacuum(struct store_backend *b)
{
	int64_t mode;
	int rc;

	if ((rc = sq_int(b, "PRAGMA auto_vacuum", &mode)) < 0 || mode == 2)
		return rc;
	log_info("%s: switching to auto_vacuum = incremental (a VACUUM, "
	    "once)", b->path);
	return sq_exec(b, "PRAGMA auto_vacuum = INCREMENTAL; VACUUM",
	    "switch to incremental vacuum");
}

/* The first unused ids: past both the rows and the committed marks. */
static int
sq_high_water(struct store_backend *b, int64_t *next_job, int64_t *next_grp)
{
	int rc;

	rc = sq_int(b, "SELECT max(coalesce((SELECT max(id) FROM jobs), 0) + 1,"
	    " coalesce((SELECT value FROM meta WHERE key = 'next_job_id'), 1))",
	    next_job);
	if (rc == 0)
		rc = sq_int(b, "SELECT max(coalesce((SELECT max(id) FROM "
		    "groups), 0) + 1, coalesce((SELECT value FROM meta "
		    "WHERE key = 'next_group_id'), 1))", next_grp);
	return rc;
}

static void
sq_close(struct store_backend *b)
{
	if (b == NULL)
		return;
	sq_readers_close(b);
	sq_finalize(b->s, W_N);
	sqd_finalize(b);
	if (b->db != NULL)
		sq_disconnect(b->db, b->path);
	if (b->lockfd >= 0)
		close(b->lockfd);       /* last: see the top of the file */
	pthread_mutex_destroy(&b->rmtx);
	free(b->path);
	free(b);
}

static int
sq_open(const struct store_opts *o, struct store_backend **bp)
{
	struct store_backend *b;
	int rc;

	*bp = NULL;
	/* SQLite's allocation statistics take a global mutex per malloc and
	 * nothing reads them.  Possible only before SQLite initialises: a
	 * later open in the same process just keeps the setting. */
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return store_seterr(-ENOMEM, "store: out of memory");
	b->lockfd = -1;
	b->busy_ms = o->busy_timeout_ms;
	pthread_mutex_init(&b->rmtx, NULL);
	if ((b->path = strdup(o->path)) == NULL) {
		rc = store_seterr(-ENOMEM, "store: out of memory");
		goto out;
	}
	if ((rc = sq_connect(b, &b->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE)) < 0 ||
	    (rc = sq_writable(b)) < 0 ||
	    (rc = sq_lock(b)) < 0 ||
	    (rc = sq_configure(b, o)) < 0 ||
	    (rc = sq_migrate(b)) < 0 ||
	    (rc = sq_auto_vacuum(b)) < 0 ||
	    (rc = sq_prepare(b, b->db, sq_wsql, b->s, W_N)) < 0 ||
	    (rc = sqd_prepare(b)) < 0 ||
	    (rc = sq_high_water(b, &b->next_id[STORE_ID_JOB],
	    &b->next_id[STORE_ID_GROUP])) < 0)
		goto out;
	*bp = b;
	b = NULL;
out:
	sq_close(b);
	return rc;
}

/* Ids come from memory: open read the first unused ones, and this jobd is
 * the file's only writer (the flock).  Only the loop thread calls this, so
 * the counters need no lock; the high-water marks the writer commits come
 * from the rows themselves (sq_insert_job), not from here. */
static int
sq_reserve_ids(struct store_backend *b, enum store_idkind kind, int64_t n,
    int64_t *first)
{
	if (n < 1 || b->next_id[kind] > INT64_MAX - n)
		return store_seterr(-EOVERFLOW, "%s: out of %s ids", b->path,
		    kind == STORE_ID_JOB ? "job" : "group");
	*first = b->next_id[kind];
	b->next_id[kind] += n;
	return 0;
}

/* ---- writes (writer thread) --------------------------------------------- */


/* Step an UPDATE that must change exactly the one job id. */
static int
sq_step_one(struct store_backend *b, sqlite3_stmt *s, bool *lost,
    const char *what, int64_t id, const char *states)
{
	int rc = sq_step(b, s, lost, what, id);

	if (rc == 0 && sqlite3_changes(b->db) != 1)
		rc = store_seterr(-ENOENT, "%s: %s %lld: no job %lld in state "
		    "%s", b->path, what, (long long)id, (long long)id, states);
	return rc;
}

static int
sq_begin(struct store_backend *b)
{
	struct stat sb;
	bool lost;

	/* -ESTALE for a deleted file too: -ENOENT means "no such job". */
	if (stat(b->path, &sb) < 0)
		return store_seterr(errno == ENOENT ? -ESTALE : -errno,
		    "%s: the database file is gone (%s); not writing to a "
		    "deleted file", b->path, strerror(errno));
	if (sb.st_dev != b->dev || sb.st_ino != b->ino)
		return store_seterr(-ESTALE, "%s: the database file was "
		    "replaced while in use; not writing", b->path);
	return sq_step(b, b->s[W_BEGIN], &lost, "begin", 0);
}

/* The id of the job that already holds j's slot or unique key into
 * *j->existing and -EEXIST; 0 if none.  The writer is the only one, and
 * this runs in its transaction, so nothing can come between this look
 * and the insert; the UNIQUE indexes stand behind it anyway. */
static int
sq_dup(struct store_backend *b, const struct store_new_job *j, bool *lost)
{
	sqlite3_stmt *s;
	int64_t id = 0;
	int rc = SQLITE_DONE;

	for (int k = 0; k < 2 && id == 0; k++) {
		if ((k == 0 ? j->schedule : j->unique_key) == NULL)
			continue;
		s = b->s[k == 0 ? W_DUP_SLOT : W_DUP_KEY];
		sqlite3_bind_text(s, 1, k == 0 ? j->schedule : j->unique_key,
		    -1, SQLITE_STATIC);
		sqlite3_bind_double(s, 2, k == 0 ? j->slot : j->unique_for > 0 ?
		    j->created_at - j->unique_for : INFINITY);
		if ((rc = sqlite3_step(s)) == SQLITE_ROW)
			id = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			*lost = !sq_local(rc);
			return sq_fail(b, b->db, rc, "look up a unique job");
		}
	}
	if (id == 0)
		return 0;
	*j->existing = id;
	return store_seterr(-EEXIST, "%s: job %lld already holds %s", b->path,
	    (long long)id, j->schedule != NULL ? "this schedule's slot" :
	    "this unique_key");
}

/* Job id (group gid, or 0); d: a lone job's dependencies (sqd_look),
 * which it waits for (a group's are linked after all its rows). */
static int
sq_insert_job(struct store_backend *b, int64_t id, int64_t gid,
    const struct store_new_job *j, const struct sqd_deps *d, bool *lost)
{
	sqlite3_stmt *s = b->s[W_INSERT];
	int brc = SQLITE_OK, rc;

	sqlite3_bind_int64(s, 1, id);
	sq_bind_text(s, 2, j->queue, &brc);
	sq_bind_text(s, 3, j->kind, &brc);
	sq_bind_text(s, 4, j->args, &brc);
	sq_bind_text(s, 5, j->name, &brc);
	sqlite3_bind_int(s, 6, j->max_attempts);
	sqlite3_bind_double(s, 7, j->timeout);
	sqlite3_bind_double(s, 8, j->created_at);
	if (gid > 0)
		sqlite3_bind_int64(s, 9, gid);
	else
		sqlite3_bind_null(s, 9);
	sq_bind_submitter(s, 10, &j->submitter);
	sq_bind_text(s, 13, store_state_name(d != NULL ? STORE_WAITING :
	    j->state), &brc);
	sqlite3_bind_int64(s, 24, d != NULL ? d->left : 0);
	if (d != NULL)
		sqlite3_bind_text(s, 25, j->dep_run ? "run" : "cancel", -1,
		    SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 25);
	if (j->run_at > 0)
		sqlite3_bind_double(s, 14, j->run_at);
	else
		sqlite3_bind_null(s, 14);
	sqlite3_bind_int(s, 15, j->priority);
	sqlite3_bind_int(s, 16, j->retries);
	sqlite3_bind_double(s, 17, j->retry_delay > 0 ? j->retry_delay : 1);
	sqlite3_bind_double(s, 18, j->retry_max_delay > 0 ?
	    j->retry_max_delay : 3600);
	sq_bind_text(s, 19, j->retry_backoff == STORE_BACKOFF_FIXED ? "fixed" :
	    "exponential", &brc);
	if (j->idempotent == STORE_IDEM_UNSET)
		sqlite3_bind_null(s, 20);
	else
		sqlite3_bind_int(s, 20, j->idempotent == STORE_IDEM_YES);
	sq_bind_text(s, 21, j->schedule, &brc);
	if (j->schedule != NULL)
		sqlite3_bind_double(s, 22, j->slot);
	else
		sqlite3_bind_null(s, 22);
	sq_bind_text(s, 23, j->unique_key, &brc);
	/* A key alone is held only by a live job, which the UNIQUE live
	 * index finds as the insert's own probe: the look-up is for a
	 * refused insert only.  A window (ended jobs) or a slot: first. */
	if (brc == SQLITE_OK && (j->schedule != NULL || j->unique_for > 0) &&
	    (rc = sq_dup(b, j, lost)) != 0)
		return rc;
	if (brc != SQLITE_OK) {
		*lost = !sq_local(brc);
		return sq_fail(b, b->db, brc, "insert job");
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_CONSTRAINT_UNIQUE && j->unique_key != NULL) {
		sqlite3_reset(s);
		if ((rc = sq_dup(b, j, lost)) != 0)
			return rc;
		rc = sqlite3_step(s);   /* not the key: say what it was */
	}
	if ((rc = sq_done(b, s, rc, lost, "insert job", id)) == 0 &&
	    id > b->txn_job_hw)
		b->txn_job_hw = id;
	return rc;
}

/* The group row and its jobs, all or nothing (a savepoint). */
static int
sq_insert_group(struct store_backend *b, const struct store_write *w, bool *lost)
{
	sqlite3_stmt *s = b->s[W_GROUP];
	int rc;

	if ((rc = sq_step(b, b->s[W_SAVEPOINT], lost, "savepoint", 0)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, w->u.grp.gid);
	sqlite3_bind_text(s, 2, store_group_mode_name(w->u.grp.mode), -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (int64_t)w->u.grp.n);
	sqlite3_bind_double(s, 4, w->u.grp.created_at);
	rc = sq_step(b, s, lost, "insert group", w->u.grp.gid);
	for (size_t i = 0; rc == 0 && i < w->u.grp.n; i++)
		rc = sq_insert_job(b, w->u.grp.first_id + (int64_t)i,
		    w->u.grp.gid, &w->u.grp.jobs[i], NULL, lost);
	for (size_t i = 0; rc == 0 && i < w->u.grp.n; i++)
		if (w->u.grp.jobs[i].nafter > 0)
			rc = sqd_link(b, w->u.grp.first_id + (int64_t)i,
			    w->u.grp.first_id, &w->u.grp.jobs[i], lost);
	for (size_t i = 0; rc == 0 && i < w->u.grp.n; i++)
		if (w->u.grp.jobs[i].nafter > 0)
			rc = sqd_settle(b, w->u.grp.first_id + (int64_t)i,
			    lost);
	if (rc == 0) {
		if (w->u.grp.gid > b->txn_group_hw)
			b->txn_group_hw = w->u.grp.gid;
		return sq_step(b, b->s[W_RELEASE], lost, "release", 0);
	}
	if (*lost)
		return rc;
	/* One job was refused: undo the others, keep its message. */
	if (sqlite3_step(b->s[W_UNDO]) != SQLITE_DONE ||
	    sqlite3_step(b->s[W_RELEASE]) != SQLITE_DONE)
		*lost = true;
	sqlite3_reset(b->s[W_UNDO]);
	sqlite3_reset(b->s[W_RELEASE]);
	return rc;
}

static int
sq_start(struct store_backend *b, int64_t id, double at, bool *lost)
{
	sqlite3_stmt *s = b->s[W_START];

	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_double(s, 2, at);
	return sq_step_one(b, s, lost, "start job", id, "queued");
}

/* Keep the start a write is about to end (see W_ATTEMPT); started_at
 * not 0: a start merged into the end (W_RUN_ATTEMPT). */
static int
sq_attempt(struct store_backend *b, int64_t id, const char *state,
    const struct store_end *e, double started_at, bool *lost)
{
	sqlite3_stmt *s = b->s[started_at != 0 ? W_RUN_ATTEMPT : W_ATTEMPT];
	int brc = SQLITE_OK;

	sqlite3_bind_int64(s, 1, id);
	if (started_at != 0)
		sqlite3_bind_double(s, 6, started_at);
	sqlite3_bind_double(s, 2, e != NULL && e->finished_at > 0 ?
	    e->finished_at : store_now());
	sq_bind_text(s, 3, state, &brc);
	sq_bind_text(s, 4, e != NULL ? e->error : NULL, &brc);
	sq_bind_text(s, 5, e != NULL ? e->result : NULL, &brc);
	if (brc != SQLITE_OK) {
		*lost = !sq_local(brc);
		return sq_fail(b, b->db, brc, "keep the attempt");
	}
	return sq_step(b, s, lost, "keep the attempt of job", id);
}

/* An end; with its start too when started_at is not 0 (store.c merged
 * the two). */
static int
sq_end(struct store_backend *b, int64_t id, const struct store_end *e,
    double started_at, bool *lost)
{
	sqlite3_stmt *s = b->s[started_at != 0 ? W_RUN : W_END];
	int brc = SQLITE_OK, rc;

	if ((rc = sq_attempt(b, id, store_state_name(e->state), e, started_at,
	    lost)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, id);
	if (started_at != 0)
		sqlite3_bind_double(s, 7, started_at);
	sq_bind_text(s, 2, store_state_name(e->state), &brc);
	sqlite3_bind_double(s, 3, e->finished_at);
	sq_bind_text(s, 4, e->result, &brc);
	sq_bind_text(s, 5, e->error, &brc);
	sq_bind_text(s, 6, e->cancel_reason, &brc);
	if (brc != SQLITE_OK) {
		*lost = !sq_local(brc);
		return sq_fail(b, b->db, brc, "end job");
	}
	if ((rc = sq_step_one(b, s, lost, "end job", id, started_at != 0 ?
	    "queued" : "queued, running, scheduled or waiting")) < 0)
		return rc;
	return sqd_ended(b, id, e->state, e->finished_at, lost);
}

/* A lone job with dependencies: its row and edges together or neither
 * (a dependency gone by now fails it alone: -ENOENT).  The dependencies
 * are looked at first, so the row goes in waiting with its count: one
 * write of it, not an insert and two updates. */
static int
sq_insert_deps(struct store_backend *b, const struct store_write *w,
    bool *lost)
{
	const struct store_new_job *j = w->u.ins.job;
	int64_t id = w->u.ins.id;
	struct sqd_deps d;
	int rc;

	if ((rc = sqd_look(b, id, 0, j, &d, lost)) < 0)
		return rc;
	if ((rc = sq_step(b, b->s[W_SAVEPOINT], lost, "savepoint", 0)) < 0)
		return rc;
	if ((rc = sq_insert_job(b, id, 0, j, &d, lost)) == 0 &&
	    (rc = sqd_edges(b, id, 0, j, lost)) == 0 &&
	    (rc = sqd_judge(b, id, j, &d, lost)) == 0)
		return sq_step(b, b->s[W_RELEASE], lost, "release", 0);
	if (*lost)
		return rc;
	if (sqlite3_step(b->s[W_UNDO]) != SQLITE_DONE ||
	    sqlite3_step(b->s[W_RELEASE]) != SQLITE_DONE)
		*lost = true;
	sqlite3_reset(b->s[W_UNDO]);
	sqlite3_reset(b->s[W_RELEASE]);
	return rc;
}

static int
sq_requeue(struct store_backend *b, int64_t id, bool *lost)
{
	int rc;

	if ((rc = sq_attempt(b, id, "interrupted", NULL, 0, lost)) < 0)
		return rc;
	sqlite3_bind_int64(b->s[W_REQUEUE], 1, id);
	return sq_step_one(b, b->s[W_REQUEUE], lost, "requeue job", id,
	    "running");
}

static int
sq_retry(struct store_backend *b, const struct store_write *w, bool *lost)
{
	sqlite3_stmt *s = b->s[W_RETRY];
	const struct store_end *e = &w->u.retry.end;
	int64_t id = w->u.retry.id;
	int brc = SQLITE_OK, rc;

	if ((rc = sq_attempt(b, id, store_state_name(e->state), e, 0,
	    lost)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_double(s, 2, w->u.retry.run_at);
	sq_bind_text(s, 3, e->error, &brc);
	sq_bind_text(s, 4, e->result, &brc);
	if (brc != SQLITE_OK) {
		*lost = !sq_local(brc);
		return sq_fail(b, b->db, brc, "retry job");
	}
	return sq_step_one(b, s, lost, "retry job", id, "running");
}

static int
sq_pause(struct store_backend *b, const struct store_write *w, bool *lost)
{
	sqlite3_stmt *s = b->s[w->u.pause.paused ? W_PAUSE_ON : W_PAUSE_OFF];

	sqlite3_bind_text(s, 1, w->u.pause.queue, -1, SQLITE_STATIC);
	if (w->u.pause.paused)
		sqlite3_bind_double(s, 2, w->u.pause.at);
	return sq_step(b, s, lost, "pause queue", 0);
}

/* The ids of up to limit jobs of one state to prune, into ids[]. */
static int
sq_prune_ids(struct store_backend *b, const struct store_prune *p, int state,
    int64_t *ids, size_t limit, size_t *n)
{
	sqlite3_stmt *s = b->s[W_PRUNE_IDS];
	int rc;

	sqlite3_bind_text(s, 1, store_state_name(state), -1, SQLITE_STATIC);
	sqlite3_bind_double(s, 2, p->before);
	if (p->queue != NULL)
		sqlite3_bind_text(s, 3, p->queue, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 3);
	sqlite3_bind_int64(s, 4, (int64_t)limit);
	*n = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < limit)
		ids[(*n)++] = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 :
	    sq_fail(b, b->db, rc, "prune: find jobs");
}

static int
sq_prune_one(struct store_backend *b, int64_t id, bool *lost)
{
	int rc;

	sqlite3_bind_int64(b->s[W_PRUNE_ATT], 1, id);
	if ((rc = sq_step(b, b->s[W_PRUNE_ATT], lost, "prune attempts of job",
	    id)) < 0 || (rc = sqd_prune(b, id, lost)) < 0)
		return rc;
	sqlite3_bind_int64(b->s[W_PRUNE_JOB], 1, id);
	return sq_step(b, b->s[W_PRUNE_JOB], lost, "prune job", id);
}

/* Give up to SQ_VACUUM_PAGES free pages back (the pragma answers a row
 * per step until done). */
static int
sq_vacuum(struct store_backend *b)
{
	sqlite3_stmt *s = b->s[W_VACUUM];
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		;
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : sq_fail(b, b->db, rc,
	    "incremental vacuum");
}

/* Up to limit ended jobs, state by state, then give the pages back.
 * Every failure loses the transaction: never half a prune. */
static int
sq_prune(struct store_backend *b, const struct store_write *w, bool *lost)
{
	const struct store_prune *p = &w->u.prune.p;
	size_t left = p->limit, n = 0, got;
	int64_t *ids;
	int rc = 0;

	if ((ids = calloc(p->limit, sizeof(*ids))) == NULL)
		return store_seterr(-ENOMEM, "%s: out of memory", b->path);
	for (int st = STORE_SUCCEEDED; rc == 0 && st <= STORE_CANCELLED &&
	    left > 0; st++) {
		if (p->states != 0 && !(p->states & (1u << st)))
			continue;
		if ((rc = sq_prune_ids(b, p, st, ids, left, &got)) < 0)
			break;
		for (size_t i = 0; rc == 0 && i < got; i++)
			rc = sq_prune_one(b, ids[i], lost);
		left -= got;
		n += got;
	}
	free(ids);
	if (rc == 0 && n > 0)
		rc = sq_vacuum(b);
	*lost = rc < 0;
	*w->u.prune.deleted = rc == 0 ? n : 0;
	return rc;
}

/* A running job with no attempts left: failed, and re-read for its error. */
static int
sq_recover_fail(struct store_backend *b, struct store_job **jp, double now,
    const char *msg, bool *lost)
{
	struct store_end e = { .state = STORE_FAILED, .finished_at = now };
	sqlite3_stmt *s = b->s[W_GET];
	struct store_job **jobs = NULL;
	size_t n = 0;
	int rc;

	e.error = msg;
	if ((rc = sq_end(b, (*jp)->id, &e, 0, lost)) < 0)
		return rc;
	sqlite3_bind_int64(s, 1, (*jp)->id);
	if ((rc = sq_collect(b, b->db, s, &jobs, &n)) < 0 || n != 1) {
		store_jobs_free(jobs, n);
		return rc < 0 ? rc : store_seterr(-EIO, "%s: recovery lost job "
		    "%lld", b->path, (long long)(*jp)->id);
	}
	store_job_free(*jp);
	*jp = jobs[0];
	free(jobs);
	return 0;
}

static int
sq_recover_all(struct store_backend *b, const struct store_write *w, bool *lost)
{
	struct store_recover_res *res = w->u.recover.res;
	char msg[STORE_RERUN_ERROR_MAX];
	struct store_job *j;
	bool again;
	int rc;

	sqlite3_bind_double(b->s[W_ACTIVE], 1, w->u.recover.horizon);
	if ((rc = sq_collect(b, b->db, b->s[W_ACTIVE], &res->jobs,
	    &res->n)) < 0)
		return rc;
	for (size_t i = 0; i < res->n; i++) {
		j = res->jobs[i];
		if (j->state != STORE_RUNNING) {
			res->rep.queued += j->state == STORE_QUEUED;
			continue;
		}
		j->interrupted = true;
		again = j->attempts - j->run_base < j->max_attempts;
		if (!again)
			store_interrupted_msg(msg, sizeof(msg), j->attempts);
		else if (w->u.recover.rerun != NULL &&
		    !w->u.recover.rerun(w->u.recover.rerun_arg, j, msg,
		    sizeof(msg))) {
			again = false;
			res->rep.refused++;
		}
		if (again) {
			if ((rc = sq_requeue(b, j->id, lost)) < 0)
				return rc;
			j->state = STORE_QUEUED;
			res->rep.requeued++;
		} else {
			rc = sq_recover_fail(b, &res->jobs[i],
			    w->u.recover.now, msg, lost);
			if (rc < 0)
				return rc;
			res->jobs[i]->interrupted = true;
			res->rep.failed++;
		}
	}
	return 0;
}

/* Any failure spoils the whole recovery: never commit half of it. */
static int
sq_recover(struct store_backend *b, const struct store_write *w, bool *lost)
{
	int rc = sq_recover_all(b, w, lost);

	if (rc == 0 && (rc = sqd_repair(b, lost)) == 0)
		store_chg_patch(w, w->u.recover.res);
	*lost = rc < 0;
	return rc;
}

static int
sq_apply(struct store_backend *b, const struct store_write *w, bool *lost)
{
	b->cur = w;
	switch (w->kind) {
	case STORE_W_INSERT:
		if (w->u.ins.job->nafter > 0)
			return sq_insert_deps(b, w, lost);
		return sq_insert_job(b, w->u.ins.id, 0, w->u.ins.job, NULL,
		    lost);
	case STORE_W_GROUP:
		return sq_insert_group(b, w, lost);
	case STORE_W_START:
		return sq_start(b, w->u.start.id, w->u.start.at, lost);
	case STORE_W_END:
		return sq_end(b, w->u.end.id, &w->u.end.end,
		    w->u.end.started_at, lost);
	case STORE_W_REQUEUE:
		return sq_requeue(b, w->u.requeue.id, lost);
	case STORE_W_RECOVER:
		return sq_recover(b, w, lost);
	case STORE_W_RETRY:
		return sq_retry(b, w, lost);
	case STORE_W_READY:
		sqlite3_bind_int64(b->s[W_READY], 1, w->u.ready.id);
		return sq_step_one(b, b->s[W_READY], lost, "ready job",
		    w->u.ready.id, "scheduled");
	case STORE_W_REVIVE:
		sqlite3_bind_int64(b->s[W_REVIVE], 1, w->u.ready.id);
		return sq_step_one(b, b->s[W_REVIVE], lost, "retry job",
		    w->u.ready.id, "failed, timed_out or cancelled");
	case STORE_W_PAUSE:
		return sq_pause(b, w, lost);
	case STORE_W_PRUNE:
		return sq_prune(b, w, lost);
	case STORE_W_NODE:              /* one daemon per file: no nodes */
	case STORE_W_CANCEL_ASK:
	case STORE_W_CANCEL_TAKE:
	case STORE_W_CLAIM:
		break;
	}
	return store_seterr(-EINVAL, "%s: unknown write %d", b->path, w->kind);
}

/* Commit the ids' high-water marks with the rows they cover. */
static int
sq_mark(struct store_backend *b, const char *key, int64_t next, bool *lost)
{
	sqlite3_stmt *s = b->s[W_META];

	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, next);
	return sq_step(b, s, lost, "update meta", 0);
}

static int
sq_commit(struct store_backend *b)
{
	bool lost;
	int rc = 0;

	if (b->txn_job_hw > 0)
		rc = sq_mark(b, "next_job_id", b->txn_job_hw + 1, &lost);
	if (rc == 0 && b->txn_group_hw > 0)
		rc = sq_mark(b, "next_group_id", b->txn_group_hw + 1, &lost);
	if (rc == 0)
		rc = sq_step(b, b->s[W_COMMIT], &lost, "commit", 0);
	if (rc == 0)
		b->txn_job_hw = b->txn_group_hw = 0;
	return rc;
}

static void
sq_rollback(struct store_backend *b)
{
	if (!sqlite3_get_autocommit(b->db)) {
		sqlite3_step(b->s[W_ROLLBACK]);
		sqlite3_reset(b->s[W_ROLLBACK]);
	}
	b->txn_job_hw = b->txn_group_hw = 0;
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.reserve_ids = sq_reserve_ids,
	.begin = sq_begin,
	.apply = sq_apply,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.merges_start = true,
	.get = sq_get,
	.list = sq_list,
	.group_get = sq_group_get,
	.group_jobs = sq_group_jobs,
	.attempts = sq_attempts,
	.paused = sq_paused,
	.slot_last = sq_slot_last,
	.sched_page = sq_sched_page,
	.sched_scan = sq_sched_scan,
};
