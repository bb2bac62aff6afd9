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
	"cancel_reason, group_id, submit_uid, submit_gid, submit_pid, "      \
	"run_at, priority, retries, retried, run_base, retry_delay, "        \
	"retry_max_delay, retry_backoff, idempotent, schedule, slot, "      \
	"unique_key, (SELECT group_concat(depends_on) FROM job_deps "        \
	"WHERE job_deps.job_id = jobs.id)"
enum {
	C_ID, C_QUEUE, C_KIND, C_STATE, C_ARGS, C_NAME, C_ATTEMPTS, C_MAX,
	C_TIMEOUT, C_CREATED, C_STARTED, C_FINISHED, C_RESULT, C_ERROR,
	C_REASON, C_GROUP, C_UID, C_GID, C_PID, C_RUN_AT, C_PRIO, C_RETRIES,
	C_RETRIED, C_RUN_BASE, C_RDELAY, C_RMAX, C_BACKOFF, C_IDEM,
	C_SCHED, C_SLOT, C_UKEY, C_AFTER,
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
/* The queries the dispatcher and the pruner run, here so that a test can
 * check with EXPLAIN QUERY PLAN that each is an index lookup
 * (tests/test_store_sqlite.c):
 *  SQ_SQL_ACTIVE     recovery: every job not ended (jobs_state_queue) but
 *                    the scheduled ones due after ?1 (jobs_run_at);
 *  SQ_SQL_DUE        the scheduled jobs due next, keyset-paged on
 *                    (run_at, id) (jobs_run_at);
 *  SQ_SQL_PAGE       the same, whole rows, up to ?3 (daemon/page.c);
 *  SQ_SQL_SCAN       the scheduled jobs due after ?1 (jobs_run_at);
 *  SQ_SQL_PRUNE_IDS  the oldest ended jobs of one state finished before
 *                    ?1 (jobs_finished), skipping live groups' members;
 *  SQ_SQL_ATTEMPTS   one job's starts (job_attempts' primary key). */
#define SQ_SQL_ACTIVE "SELECT " SQ_COLS " FROM jobs WHERE state IN "      \
	"('queued', 'running', 'waiting') UNION ALL "                        \
	"SELECT " SQ_COLS " FROM jobs INDEXED BY jobs_run_at "               \
	"WHERE state = 'scheduled' AND run_at <= ?1 ORDER BY id"
#define SQ_SQL_PAGE "SELECT " SQ_COLS " FROM jobs INDEXED BY jobs_run_at " \
	"WHERE state = 'scheduled' AND run_at >= ?1 AND "                    \
	"(run_at > ?1 OR id > ?2) AND run_at <= ?3 "                         \
	"ORDER BY run_at, id LIMIT ?4"
#define SQ_SQL_SCAN "SELECT id, group_id, queue, submit_uid, submit_gid, " \
	"submit_pid FROM jobs INDEXED BY jobs_run_at "                       \
	"WHERE state = 'scheduled' AND run_at > ?1"
#define SQ_SQL_DUE "SELECT id, run_at FROM jobs INDEXED BY jobs_run_at WHERE state = 'scheduled' " \
	"AND run_at >= ?1 AND (run_at > ?1 OR id > ?2) "                     \
	"ORDER BY run_at, id LIMIT ?3"
#define SQ_SQL_PRUNE_IDS "SELECT id FROM jobs INDEXED BY jobs_finished "  \
	"WHERE state = ?1 AND "                                              \
	"finished_at < ?2 AND (?3 IS NULL OR queue = ?3) AND "              \
	"(group_id IS NULL OR NOT EXISTS (SELECT 1 FROM jobs g WHERE "      \
	"g.group_id = jobs.group_id AND g.finished_at IS NULL)) AND "       \
	"NOT EXISTS (SELECT 1 FROM job_deps d JOIN jobs w ON "              \
	"w.id = d.job_id WHERE d.depends_on = jobs.id AND "                 \
	"w.finished_at IS NULL) "                                            \
	"ORDER BY finished_at LIMIT ?4"
/* Schema 4: the job that holds a unique key (not ended, or created at or
 * after ?2; jobs_unique), and the job of a schedule's slot (jobs_slot). */
#define SQ_SQL_DUP_KEY "SELECT id FROM jobs INDEXED BY jobs_unique "      \
	"WHERE unique_key = ?1 AND (finished_at IS NULL OR created_at >= ?2) " \
	"ORDER BY id DESC LIMIT 1"
#define SQ_SQL_DUP_SLOT "SELECT id FROM jobs INDEXED BY jobs_slot "       \
	"WHERE schedule = ?1 AND slot = ?2"
#define SQ_SQL_LAST_SLOT "SELECT slot, id FROM jobs INDEXED BY jobs_slot " \
	"WHERE schedule = ?1 ORDER BY slot DESC LIMIT 1"
#define SQ_SQL_ATTEMPTS "SELECT attempt, started_at, finished_at, state, "  \
	"error, result FROM job_attempts WHERE job_id = ?1 ORDER BY attempt"

/* The write connection's statements (SQL in store_sqlite.c). */
enum {
	W_BEGIN, W_COMMIT, W_ROLLBACK, W_SAVEPOINT, W_RELEASE, W_UNDO,
	W_INSERT, W_GROUP, W_START, W_END, W_RUN, W_REQUEUE, W_META, W_ACTIVE,
	W_GET, W_ATTEMPT, W_RUN_ATTEMPT, W_RETRY, W_READY, W_REVIVE,
	W_PAUSE_ON, W_PAUSE_OFF, W_PRUNE_IDS, W_PRUNE_ATT, W_PRUNE_JOB,
	W_VACUUM, W_DUP_KEY, W_DUP_SLOT,
	W_N
};

/* Schema 6: a job's waiting dependants, through job_deps_on (checked
 * with EXPLAIN QUERY PLAN: the release after each end must not scan). */
#define SQ_SQL_DEPENDANTS "SELECT d.job_id FROM job_deps d JOIN jobs j "   \
	"ON j.id = d.job_id WHERE d.depends_on = ?1 AND j.state = 'waiting'"
/* A dependant whose last dependency ended (?2: succeeded) released in
 * the one statement, by its primary key. */
#define SQ_SQL_FIRE "UPDATE jobs SET deps_left = 0, state = CASE WHEN "   \
	"run_at > ?3 THEN 'scheduled' ELSE 'queued' END WHERE id = ?1 AND " \
	"state = 'waiting' AND deps_left = 1 AND (?2 OR "                   \
	"on_dependency_failure = 'run') RETURNING state"
/* The dependency statements (store_sqlite_deps.c). */
enum {
	D_STATE, D_EDGE, D_WAIT, D_DEPENDANTS, D_FIRE, D_DEC, D_CANCEL,
	D_RELEASE,
	D_DEPS_OF, D_SELF, D_LEFT, D_WAITING, D_PRUNE,
	D_N
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
	sqlite3_stmt *ds[D_N];          /* store_sqlite_deps.c's */
	const struct store_write *cur;  /* the write being applied */
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
/* The same for a statement the caller stepped (rc: what it returned). */
int sq_done(struct store_backend *b, sqlite3_stmt *s, int rc, bool *lost,
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

/* store_sqlite_deps.c (called by store_sqlite.c on the writer thread) */
int sqd_prepare(struct store_backend *b);
void sqd_finalize(struct store_backend *b);
/* A new job's dependencies as they are now (sqd_look). */
struct sqd_deps {
	int64_t left;                   /* not ended */
	int64_t bad;                    /* first ended not succeeded, or 0 */
	enum store_state bstate;        /* how it ended */
};
/* The dependencies of new job id into *d; -ENOENT for a missing one. */
int sqd_look(struct store_backend *b, int64_t id, int64_t first,
    const struct store_new_job *j, struct sqd_deps *d, bool *lost);
/* The edge rows of new job id. */
int sqd_edges(struct store_backend *b, int64_t id, int64_t first,
    const struct store_new_job *j, bool *lost);
/* Lone new job id, inserted waiting for d->left: cancelled or released at
 * once if that is due. */
int sqd_judge(struct store_backend *b, int64_t id,
    const struct store_new_job *j, const struct sqd_deps *d, bool *lost);
/* Edges of new group member id, state waiting; -ENOENT for a missing
 * one. */
int sqd_link(struct store_backend *b, int64_t id, int64_t first,
    const struct store_new_job *j, bool *lost);
/* Waiting job id judged from its dependencies now. */
int sqd_settle(struct store_backend *b, int64_t id, bool *lost);
/* Job id ended state at `at`: its dependants released or cancelled, down
 * the chain. */
int sqd_ended(struct store_backend *b, int64_t id, enum store_state state,
    double at, bool *lost);
/* Recovery: every waiting job settled. */
int sqd_repair(struct store_backend *b, bool *lost);
/* A pruned job's edges. */
int sqd_prune(struct store_backend *b, int64_t id, bool *lost);
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
int sq_attempts(struct store_backend *b, int64_t id,
    struct store_attempt ***ap, size_t *np);
int sq_paused(struct store_backend *b, char ***namesp, size_t *np);
int sq_sched_page(struct store_backend *b, double after_at,
    int64_t after_id, double until, size_t limit, struct store_job ***jobsp,
    size_t *np);
int sq_sched_scan(struct store_backend *b, double after, store_sched_fn fn,
    void *arg);
int sq_slot_last(struct store_backend *b, const char *schedule,
    double *slot, int64_t *id);

#endif /* JOBD_STORE_SQLITE_H */
