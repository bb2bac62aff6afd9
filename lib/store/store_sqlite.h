/*
 * store_sqlite.h — shared by the three files of the SQLite backend:
 * store_sqlite.c (the write connection, the schema, the writes, the ops
 * table), store_sqlite_read.c (the read connections, the reads) and
 * store_sqlite_util.c (errors, statements, rows: what both use).  Calls go
 * store_sqlite.c -> store_sqlite_read.c -> store_sqlite_util.c, never
 * back.  Nothing else includes it; the rest of jobd sees store.h.
 */
#ifndef JOBD_STORE_SQLITE_H
#define JOBD_STORE_SQLITE_H

#include <pthread.h>
#include <sys/types.h>

#include <sqlite3.h>

#include "store_backend.h"

/* jobs columns in the order sq_row_job reads them. */
#define SQ_COLS "id, queue, kind, state, args, name, attempts, max_attempts, " \
	"timeout, created_at, started_at, finished_at, result, error, "      \
	"cancel_reason, group_id, submit_uid, submit_gid, submit_pid"
enum {
	C_ID, C_QUEUE, C_KIND, C_STATE, C_ARGS, C_NAME, C_ATTEMPTS, C_MAX,
	C_TIMEOUT, C_CREATED, C_STARTED, C_FINISHED, C_RESULT, C_ERROR,
	C_REASON, C_GROUP, C_UID, C_GID, C_PID,
};

/* Two reads whose plans test_store_sqlite checks with EXPLAIN QUERY PLAN,
 * here so that it explains exactly what runs.  A group and the submitter
 * of its first job: two primary-key lookups and one probe of jobs_group.
 * One user's jobs, newest first: the state and queue tests cannot use
 * jobs_state_queue (the IS NULL arms), so the plan is that user's range
 * of jobs_submitter, read backwards, never another user's rows. */
#define SQ_GROUP_SQL "SELECT g.id, g.mode, g.size, g.created_at, "       \
	"j.submit_uid, j.submit_gid, j.submit_pid FROM groups g "          \
	"LEFT JOIN jobs j ON j.id = (SELECT min(id) FROM jobs "            \
	"WHERE group_id = g.id) WHERE g.id = ?1"
#define SQ_LIST_UID_SQL "SELECT " SQ_COLS " FROM jobs "                  \
	"WHERE submit_uid = ?1 AND id < ?2 AND (?3 IS NULL OR state = ?3) "  \
	"AND (?4 IS NULL OR queue = ?4) ORDER BY id DESC LIMIT ?5"

/* The write connection's statements (SQL in store_sqlite.c). */
enum {
	W_BEGIN, W_COMMIT, W_ROLLBACK, W_SAVEPOINT, W_RELEASE, W_UNDO,
	W_INSERT, W_GROUP, W_START, W_END, W_REQUEUE, W_META, W_ACTIVE, W_GET,
	W_N
};

struct sq_reader;

struct store_backend {
	char *path;
	int busy_ms;
	int lockfd;                     /* flock'ed; see the top */
	dev_t dev;                      /* the file we opened */
	ino_t ino;
	sqlite3 *db;                    /* the write connection */
	sqlite3_stmt *s[W_N];
	int64_t next_id[2];             /* by enum store_idkind; loop thread */
	int64_t txn_job_hw;             /* highest ids inserted in the open */
	int64_t txn_group_hw;           /* transaction, 0 if none */
	bool ckpt_failing;              /* the last checkpoint failed */
	pthread_mutex_t rmtx;
	struct sq_reader *idle;         /* read connections not in use */
};

/* store_sqlite_util.c */

/* Record "PATH: what: SQLite's message (OS error)" and return the errno. */
int sq_fail(const struct store_backend *b, sqlite3 *db, int rc,
    const char *what);
/* The OS errno behind db's last I/O error, or 0; main_first: look at the
 * main file before the WAL (checkpoints write the main file). */
int sq_os_errno(sqlite3 *db, bool main_first);
/* rc undid one statement and left the transaction open. */
bool sq_local(int rc);
/* Step a statement that returns no rows to its end and reset it.  On an
 * error, *lost says whether the transaction is gone. */
int sq_step(struct store_backend *b, sqlite3_stmt *s, bool *lost,
    const char *what, int64_t id);
int sq_connect(struct store_backend *b, sqlite3 **dbp, int flags);
int sq_prepare(struct store_backend *b, sqlite3 *db, const char *const *sql,
    sqlite3_stmt **s, int n);
void sq_finalize(sqlite3_stmt **s, int n);
void sq_disconnect(sqlite3 *db, const char *path);
/* Every row of s (bound, not yet stepped) into a new array of jobs; s is
 * reset.  On error nothing is returned. */
int sq_collect(const struct store_backend *b, sqlite3 *db, sqlite3_stmt *s,
    struct store_job ***jobsp, size_t *np);

/* store_sqlite_read.c */

/* Close the idle read connections (all of them, at close). */
void sq_readers_close(struct store_backend *b);

int sq_get(struct store_backend *b, int64_t id, struct store_job **jp);
int sq_list(struct store_backend *b, const struct store_filter *f,
    struct store_job ***jobsp, size_t *np);
int sq_group_get(struct store_backend *b, int64_t gid,
    struct store_group *g);
int sq_group_jobs(struct store_backend *b, int64_t gid,
    struct store_job ***jobsp, size_t *np);

#endif /* JOBD_STORE_SQLITE_H */
