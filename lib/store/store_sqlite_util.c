/*
 * store_sqlite_util.c — what both halves of the SQLite backend use:
 * errors (SQLite's codes to errnos and messages), connecting, preparing and
 * stepping statements, and reading job rows.  store_sqlite.c (the writes)
 * and store_sqlite_read.c (the reads) call into here and never into each
 * other's helpers, so the three files do not form a circle.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "store_sqlite.h"

/* ---- errors ------------------------------------------------------------- */

/* The OS error behind an I/O error, or 0.  sqlite3_system_errno reads
 * errno after SQLite has cleaned up (a failed commit rolls back first),
 * so it is often 0; then each open file's errno of its own last failure
 * tells: the WAL's, where commits write, or (main_first, for checkpoints)
 * the main file's. */
int
sq_os_errno(sqlite3 *db, bool main_first)
{
	sqlite3_file *wal = NULL;
	int sys = db != NULL ? sqlite3_system_errno(db) : 0, i;

	if (sys > 0 || db == NULL)
		return sys;
	if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER,
	    &wal) != SQLITE_OK || wal == NULL || wal->pMethods == NULL)
		wal = NULL;
	for (i = 0; i < 2 && sys <= 0; i++)
		if ((i == 0) == main_first)
			(void)sqlite3_file_control(db, "main",
			    SQLITE_FCNTL_LAST_ERRNO, &sys);
		else if (wal != NULL)
			wal->pMethods->xFileControl(wal,
			    SQLITE_FCNTL_LAST_ERRNO, &sys);
	return sys > 0 ? sys : 0;
}

static int
sq_errno(sqlite3 *db, int rc)
{
	int sys = (rc & 0xff) == SQLITE_IOERR || (rc & 0xff) ==
	    SQLITE_CANTOPEN ? sq_os_errno(db, false) : 0;

	switch (rc & 0xff) {
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_CORRUPT:
		return -EUCLEAN;
	case SQLITE_NOTADB:
		return -EBADMSG;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
		return -EINVAL;
	case SQLITE_TOOBIG:
		return -E2BIG;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
		return sys > 0 ? -sys : -EIO;
	default:
		return -EIO;
	}
}

/* Errors that undo one statement and leave the transaction open. */
bool
sq_local(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
	case SQLITE_TOOBIG:
		return true;
	default:
		return false;
	}
}

/* Record "PATH: what: SQLite's message (OS error)" and return the errno. */
int
sq_fail(const struct store_backend *b, sqlite3 *db, int rc, const char *what)
{
	int err = sq_errno(db, rc), sys = sq_os_errno(db, false);
	const char *msg = db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc);

	if (((rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_CANTOPEN) &&
	    sys > 0)
		return store_seterr(err, "%s: %s: %s (%s)", b->path, what, msg,
		    strerror(sys));
	if ((rc & 0xff) == SQLITE_BUSY)
		return store_seterr(err, "%s: %s: %s (another process holds "
		    "its write lock; waited %d ms)", b->path, what, msg,
		    b->busy_ms);
	return store_seterr(err, "%s: %s: %s", b->path, what, msg);
}

/* ---- connections and statements ---------------------------------------- */

int
sq_prepare(struct store_backend *b, sqlite3 *db, const char *const *sql,
    sqlite3_stmt **s, int n)
{
	int rc;

	for (int i = 0; i < n; i++) {
		rc = sqlite3_prepare_v3(db, sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &s[i], NULL);
		if (rc != SQLITE_OK)
			return sq_fail(b, db, rc, "prepare");
	}
	return 0;
}

void
sq_finalize(sqlite3_stmt **s, int n)
{
	for (int i = 0; i < n; i++)
		sqlite3_finalize(s[i]);
}

void
sq_disconnect(sqlite3 *db, const char *path)
{
	int rc = sqlite3_close(db);

	if (rc != SQLITE_OK)
		log_warnx("%s: close: %s", path, sqlite3_errstr(rc));
}

/* Make a missing database file 0600 before SQLite does (it would make it
 * 0644 less the umask); SQLite gives the -wal and -shm it makes later the
 * database file's mode.  Errors are left to sqlite3_open_v2 to report. */
static void
sq_precreate(const char *path)
{
	int fd;

	if (path[0] == ':' || strncmp(path, "file:", 5) == 0)
		return;         /* in memory, or a URI */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd >= 0)
		close(fd);
}

int
sq_connect(struct store_backend *b, sqlite3 **dbp, int flags)
{
	int rc;

	if (flags & SQLITE_OPEN_CREATE)
		sq_precreate(b->path);
	rc = sqlite3_open_v2(b->path, dbp, flags | SQLITE_OPEN_NOMUTEX |
	    SQLITE_OPEN_EXRESCODE, NULL);

	if (rc != SQLITE_OK) {
		rc = sq_fail(b, *dbp, rc, "open");
		sqlite3_close(*dbp);
		*dbp = NULL;
		return rc;
	}
	sqlite3_busy_timeout(*dbp, b->busy_ms);
	return 0;
}

/* Step a statement that returns no rows to its end and reset it.  what
 * and id name it in the message. */
int
sq_step(struct store_backend *b, sqlite3_stmt *s, bool *lost,
    const char *what, int64_t id)
{
	return sq_done(b, s, sqlite3_step(s), lost, what, id);
}

int
sq_done(struct store_backend *b, sqlite3_stmt *s, int rc, bool *lost,
    const char *what, int64_t id)
{
	char buf[96];
	int err;

	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return 0;
	}
	if (id > 0)
		snprintf(buf, sizeof(buf), "%s %lld", what, (long long)id);
	else
		snprintf(buf, sizeof(buf), "%s", what);
	err = sq_fail(b, sqlite3_db_handle(s), rc, buf);
	sqlite3_reset(s);
	*lost = !sq_local(rc);
	return err;
}

/* ---- rows --------------------------------------------------------------- */

/* The current row of a SQ_COLS statement as one allocation. */
static int
sq_row_job(const struct store_backend *b, sqlite3_stmt *s,
    struct store_job **jp)
{
	static const int tcol[] = { C_QUEUE, C_KIND, C_ARGS, C_NAME, C_RESULT,
		C_ERROR, C_REASON, C_SCHED, C_UKEY, C_AFTER };
	const char *t[STORE_JOB_NTEXT];
	size_t len[STORE_JOB_NTEXT];
	struct store_job *j;

	for (int i = 0; i < STORE_JOB_NTEXT; i++) {
		t[i] = (const char *)sqlite3_column_text(s, tcol[i]);
		len[i] = (size_t)sqlite3_column_bytes(s, tcol[i]);
	}
	if ((j = store_job_alloc(t, len)) == NULL)
		return store_seterr(-ENOMEM, "%s: out of memory", b->path);
	j->id = sqlite3_column_int64(s, C_ID);
	if (store_state_parse((const char *)sqlite3_column_text(s, C_STATE),
	    &j->state) < 0) {
		free(j);
		return store_seterr(-EUCLEAN, "%s: job has a bad state",
		    b->path);
	}
	j->attempts = sqlite3_column_int(s, C_ATTEMPTS);
	j->max_attempts = sqlite3_column_int(s, C_MAX);
	j->timeout = sqlite3_column_double(s, C_TIMEOUT);
	j->created_at = sqlite3_column_double(s, C_CREATED);
	j->started_at = sqlite3_column_double(s, C_STARTED);   /* NULL: 0 */
	j->finished_at = sqlite3_column_double(s, C_FINISHED);
	j->group_id = sqlite3_column_int64(s, C_GROUP);
	if (sqlite3_column_type(s, C_UID) != SQLITE_NULL) {
		j->submitter.known = true;
		j->submitter.uid = (uid_t)sqlite3_column_int64(s, C_UID);
		j->submitter.gid = (gid_t)sqlite3_column_int64(s, C_GID);
		j->submitter.pid = (pid_t)sqlite3_column_int64(s, C_PID);
	}
	j->run_at = sqlite3_column_double(s, C_RUN_AT);        /* NULL: 0 */
	j->priority = sqlite3_column_int(s, C_PRIO);
	j->retries = sqlite3_column_int(s, C_RETRIES);
	j->retried = sqlite3_column_int(s, C_RETRIED);
	j->run_base = sqlite3_column_int(s, C_RUN_BASE);
	j->retry_delay = sqlite3_column_double(s, C_RDELAY);
	j->retry_max_delay = sqlite3_column_double(s, C_RMAX);
	t[0] = (const char *)sqlite3_column_text(s, C_BACKOFF);
	j->retry_backoff = t[0] != NULL && strcmp((const char *)t[0],
	    "fixed") == 0 ? STORE_BACKOFF_FIXED : STORE_BACKOFF_EXPONENTIAL;
	j->idempotent = sqlite3_column_type(s, C_IDEM) == SQLITE_NULL ?
	    STORE_IDEM_UNSET : sqlite3_column_int(s, C_IDEM) ? STORE_IDEM_YES :
	    STORE_IDEM_NO;
	j->slot = sqlite3_column_double(s, C_SLOT);            /* NULL: 0 */
	*jp = j;
	return 0;
}

/* Every row of s (bound, not yet stepped) into a new array; s is reset.
 * On error nothing is returned. */
int
sq_collect(const struct store_backend *b, sqlite3 *db, sqlite3_stmt *s,
    struct store_job ***jobsp, size_t *np)
{
	struct store_job **jobs = NULL, **nj;
	size_t n = 0, cap = 0;
	int rc = SQLITE_DONE, err = 0;

	while (err == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			if ((nj = realloc(jobs, cap * sizeof(*jobs))) == NULL) {
				err = store_seterr(-ENOMEM, "%s: out of memory",
				    b->path);
				break;
			}
			jobs = nj;
		}
		if ((err = sq_row_job(b, s, &jobs[n])) == 0)
			n++;
	}
	if (err == 0 && rc != SQLITE_DONE)
		err = sq_fail(b, db, rc, "read");
	sqlite3_reset(s);
	if (err < 0) {
		store_jobs_free(jobs, n);
		return err;
	}
	*jobsp = jobs;
	*np = n;
	return 0;
}
