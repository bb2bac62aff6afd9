/*
 * store.h — jobd's job store: the database behind the daemon.
 *
 * The daemon sees jobs and groups, never SQL.  A backend (SQLite, or
 * PostgreSQL; see store_backend.h) does the SQL; this front runs the
 * threads and the batching the same way for every backend.
 *
 * Threads.  The *loop thread* is the thread that called store_open(): the
 * one running the event_base given there.  It alone may submit writes
 * (store_insert ... store_requeue), call store_flush, store_recover,
 * store_stats and store_close; every write callback runs on it.  One
 * *writer thread*, owned by the store, owns the write connection.  Reads
 * (store_get ... store_group_jobs) may be called from any thread, concurrently;
 * see "Reads" below.  Nothing here uses evthread: the writer thread never
 * touches the event_base.
 *
 * Writes and group commit.  A write function copies what it needs, queues
 * the operation and returns at once (0, or a negative errno and then its
 * callback is never called).  The writer takes everything queued (up to
 * opts.batch_max rows), runs it in ONE transaction and commits; a backlog
 * therefore becomes one big transaction, and an idle store commits a lone
 * write at once.  Completions come back through an eventfd watched on the
 * loop's event_base, and the loop thread calls each operation's callback
 * cb(arg, status) exactly once, in submission order (across every kind of
 * write):
 *   status 0          the transaction holding the write has committed (at
 *                     the durability of opts.sync);
 *   negative errno    it did not and never will: the write is not in the
 *                     database.  store_errmsg() says why, inside the
 *                     callback.  -EINVAL: the write broke a constraint (bad
 *                     JSON, a bad value); -ENOENT: no such job in a state
 *                     that allows the change (see each function); -ENOSPC,
 *                     -EIO, -EROFS, -EBUSY (locked past busy_timeout),
 *                     -EUCLEAN (corrupt), -ENOMEM, -ESTALE (the file
 *                     was deleted or replaced under jobd, which SQLite
 *                     would not notice): the whole transaction failed,
 *                     and every write in it gets the error.
 * A write that fails alone (-EINVAL, -ENOENT for a missing job, -EEXIST for
 * a slot or unique key already held: store_insert) does not
 * spoil the others in its transaction.  Writes are applied in submission
 * order, so a store_mark_started right after a store_insert of the same job
 * is fine without waiting for the insert's callback (pipelining).
 * The store logs the database failing (every error but -EINVAL and
 * -ENOENT) itself, once per run of failures: the first, each new errno,
 * and when writes succeed again.  cb may be NULL: then a write's own
 * failure (-EINVAL, -ENOENT) is logged (log_warnx) and nothing else.
 * Callbacks may submit further writes and read; they must not call
 * store_flush, store_recover or store_close.
 * arg is the caller's and must stay valid until cb has run.  A task that
 * awaits a write (cb records the status and co_wake()s it) must therefore
 * not leave with the write pending: wait inside co_shield_enter/exit (a
 * commit is short and always completes), or give the callback a heap
 * object it frees itself.
 *
 * Ids.  Job and group ids are handed out by the store on the loop thread,
 * in memory, at submission: store_insert returns the job's id at once, so
 * the daemon can answer and pipeline before the commit.  Ids only grow (a
 * job submitted later has a larger id, group members are consecutive) and
 * are never reused, even when rows are deleted.  The front takes them from
 * blocks the backend reserves (store_backend.h: reserve_ids), one call per
 * STORE_ID_BLOCK ids, so the backend owns where ids come from: SQLite
 * starts from max(highest id in the table, the high-water mark it commits
 * with each batch) + 1 at open and counts in memory (a reserved id that no
 * committed row used is used again after a restart, never twice by
 * committed rows); this assumes a single writer process, which store_open
 * enforces (a second jobd on the same file gets -EBUSY).  PostgreSQL
 * reserves each block with one committed UPDATE of its meta row, so ids
 * stay unique across connections; ids then have gaps after a restart.
 * An id whose insert failed is simply never used.
 *
 * Reads run on the caller's thread and return committed state only (a write
 * is visible from its commit, so at the latest when its callback gets 0:
 * anything answered from a read obeys "committed before told").  Each call
 * borrows a read connection from the store's pool (opened on first need,
 * kept until close), so reads on several threads never wait for each
 * other, and WAL lets them run while the writer writes: they never wait for
 * the writer.  They are synchronous and their cost is bounded by an index:
 * store_get, store_group_get and store_group_jobs are primary-key or index
 * lookups (microseconds); store_list reads at most limit rows, after at
 * most limit ids per matching (state, queue) pair from an index — the
 * daemon may call these on the loop thread.  A read may block on disk when the database
 * is larger than the page cache; a daemon worried about that moves reads to
 * the executor, which needs no change here.
 *
 * Errors: every function returns 0 or a negative errno; store_errmsg()
 * then holds a message naming the file and what failed.
 */
#ifndef JOBD_STORE_H
#define JOBD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
struct store;

/* ---- states, group modes ------------------------------------------------ */

/* A job's state, as stored in jobs.state (see docs/SCHEMA.md). */
enum store_state {
	STORE_QUEUED,
	STORE_RUNNING,
	STORE_SUCCEEDED,
	STORE_FAILED,
	STORE_TIMED_OUT,
	STORE_CANCELLED,
	STORE_SCHEDULED,        /* waiting for its run_at (a delay, a retry) */
	STORE_WAITING,          /* waiting for its dependencies */
};
#define STORE_NSTATES    8
#define STORE_ANY_STATE  (-1)   /* store_filter: no state filter */

/* "queued", "running", ...; NULL for a value out of range. */
const char *store_state_name(int state);
/* 0 with *state set, or -EINVAL for an unknown name. */
int store_state_parse(const char *name, enum store_state *state);
/* succeeded, failed, timed_out, cancelled. */
bool store_state_ended(int state);

/* The retry policy's backoff, jobs.retry_backoff. */
enum store_backoff {
	STORE_BACKOFF_EXPONENTIAL,      /* "exponential" */
	STORE_BACKOFF_FIXED,            /* "fixed" */
};

/* jobs.idempotent: unset (NULL, the kind's rule), false (0), true (1). */
enum store_idem {
	STORE_IDEM_UNSET,
	STORE_IDEM_NO,
	STORE_IDEM_YES,
};

enum store_group_mode {
	STORE_GROUP_ALL,         /* "all" */
	STORE_GROUP_FAIL_FAST,   /* "fail_fast" */
};
const char *store_group_mode_name(int mode);
int store_group_mode_parse(const char *name, enum store_group_mode *mode);

/* Wall-clock time in Unix seconds, the unit of every *_at field. */
double store_now(void);

/* ---- opening and closing ------------------------------------------------ */

/* What a commit survives (SQLite maps it to PRAGMA synchronous in WAL mode;
 * PostgreSQL would map it to synchronous_commit on / off):
 *  FULL    the WAL is fsync'ed at every commit: a committed write survives a
 *          crash of jobd, of the OS, and a power loss.
 *  NORMAL  fsync only at checkpoints: a committed write survives a crash of
 *          jobd (SIGKILL included); an OS crash or power loss may lose the
 *          last transactions — never corrupt the file, never half of one. */
enum store_sync {
	STORE_SYNC_FULL,
	STORE_SYNC_NORMAL,
};

#define STORE_BUSY_TIMEOUT_DEFAULT 5000   /* ms a locked database is retried */
#define STORE_BATCH_DEFAULT        10000  /* rows per transaction */
#define STORE_BATCH_MAX            1000000

#define STORE_BACKEND_DEFAULT "sqlite"
#define STORE_LEASE_DEFAULT   30.0      /* seconds */

/* The backends store_opts.backend may name, for i = 0, 1, ... until NULL.
 * *built (if non-NULL) says whether this jobd has it (a backend named but
 * not built: store_open -ENOTSUP). */
const char *store_backend_name(size_t i, bool *built);

/* Backend-neutral: each backend maps these onto its own knobs. */
struct store_opts {
	const char *backend;     /* a store_backend_name; NULL: "sqlite" */
	const char *path;        /* where the database is: the file (sqlite;
	                          * created if missing), a conninfo string
	                          * (postgresql) */
	enum store_sync sync;    /* default (0): FULL */
	int busy_timeout_ms;     /* 0: STORE_BUSY_TIMEOUT_DEFAULT */
	size_t batch_max;        /* 0: STORE_BATCH_DEFAULT; <= STORE_BATCH_MAX.
	                          * A group counts as its size + 1 and is never
	                          * split, so may exceed it. */
	double lease;            /* postgresql: seconds a daemon's lease
	                          * lasts (renewed at a third of it); 0:
	                          * STORE_LEASE_DEFAULT */
	int64_t max_bytes;       /* size cap of the database; 0 = none.
	                          * Writes past it fail with -ENOSPC.  A
	                          * backend with no such cap refuses a
	                          * non-zero one at open (-ENOTSUP). */
};

/* Open (creating if needed) the database at opts->path, apply pending
 * schema migrations in one transaction, and start the writer thread.  base
 * is the loop's event_base (the store adds one event to it); it may be NULL
 * for tools: completions are then delivered only by store_flush and
 * store_close.  On 0, *stp is the store.  Errors (store_errmsg says more):
 * -EINVAL bad opts (an unknown backend too), -ENOTSUP a backend not
 * built into this jobd, -ENOENT/-EACCES/-EROFS cannot open or write the file,
 * -EBADMSG not a database or not jobd's, -ENOTSUP the schema is newer than
 * this code, -EBUSY another process has it open as a store or it stays
 * locked, -EUCLEAN corrupt, -ENOMEM. */
__attribute__((warn_unused_result))
int store_open(struct store **stp, struct event_base *base,
    const struct store_opts *opts);

/* Commit every write submitted so far (blocking the loop thread meanwhile)
 * and call their callbacks, stop the writer thread, close every connection
 * and free the store.  Writes submitted from those callbacks fail with
 * -ESHUTDOWN.  No read may be running on another thread.  Call it before
 * freeing the event_base.  NULL is a no-op. */
void store_close(struct store *st);

/* The message for the last error a store call returned on the calling
 * thread, or for the failed write inside its callback: "PATH: what: why".
 * Valid until the next store call on this thread. */
const char *store_errmsg(void);

/* ---- writes (loop thread) ----------------------------------------------- */

/* Called once per write on the loop thread; see the top of this file. */
typedef void (*store_cb)(void *arg, int status);

/* Who submitted a job: the peer of the connection it came on
 * (SO_PEERCRED), columns submit_uid, submit_gid, submit_pid.  known false
 * (a zeroed struct): nobody is recorded and the columns are NULL — rows
 * from before schema version 2, jobs submitted without a connection. */
struct store_submitter {
	bool known;
	uid_t uid;
	gid_t gid;
	pid_t pid;               /* as jobd sees it; 0 if not visible to jobd */
};

/* A job to insert.  The store copies every string; the caller keeps them. */
struct store_new_job {
	const char *queue;       /* required */
	const char *kind;        /* required */
	const char *args;        /* required: JSON text (checked by the DB) */
	const char *name;        /* NULL: none */
	double timeout;          /* effective seconds, >= 0; 0 = none */
	int max_attempts;        /* >= 1: starts allowed across restarts */
	double created_at;       /* Unix seconds; 0: store_now() */
	struct store_submitter submitter; /* zeroed: not recorded */
	/* The lifecycle (schema 3).  Zeroed: queued at once, priority 0,
	 * no retries, the default retry delays. */
	enum store_state state;  /* STORE_QUEUED or STORE_SCHEDULED */
	double run_at;           /* not before (Unix s); 0: none.  Required
	                          * (> 0) with STORE_SCHEDULED */
	int priority;            /* 0 (first) .. 9 */
	int retries;             /* 0 .. 100 */
	double retry_delay;      /* > 0; 0: 1 s */
	double retry_max_delay;  /* > 0; 0: 3600 s */
	enum store_backoff retry_backoff;
	enum store_idem idempotent;
	/* Schema 4.  A job made by a schedule (schedule, slot: at most one
	 * job per pair), and a unique key: while a job with the key has not
	 * ended, or ended jobs with it were created less than unique_for
	 * seconds before this one, the insert completes with -EEXIST and
	 * *existing (caller's, valid until cb runs) gets that job's id. */
	const char *schedule;    /* NULL: none */
	double slot;             /* with schedule: the slot, epoch s */
	const char *unique_key;  /* NULL: none; 1..255 bytes */
	double unique_for;       /* >= 0 seconds */
	int64_t *existing;       /* required with schedule or unique_key */
	bool pooled;             /* postgresql: held by no daemon, for any
	                          * to claim (store_claim); else held by
	                          * this one */
	/* Schema 6: dependencies.  With nafter > 0 the job is stored
	 * `waiting` (state is then ignored) with an edge per entry, and
	 * the store judges it in the insert's transaction: every entry
	 * ended as its policy needs → queued (scheduled if run_at is
	 * ahead); one ended otherwise under cancel → cancelled.  Each is
	 * a job id (> 0), or in store_insert_group -(i + 1): the group's
	 * i-th job.  A job id with no row: the insert completes -ENOENT.
	 * What the store decides reaches store_deps_hook's fn. */
	const int64_t *after;    /* nafter entries, distinct */
	size_t nafter;           /* 0 .. STORE_AFTER_MAX */
	bool dep_run;            /* on_dependency_failure = run */
};
#define STORE_AFTER_MAX 10000

/* Insert one job, state queued, attempts 0.  *idp gets its id at once.
 * With a schedule or a unique key the insert may complete with -EEXIST
 * (see struct store_new_job): nothing was written, the id is unused.
 * Returns 0 (cb will be called), -EINVAL (missing field, bad value),
 * -ENOMEM or -ESHUTDOWN (cb will not be called, no id used). */
__attribute__((warn_unused_result))
int store_insert(struct store *st, const struct store_new_job *job,
    int64_t *idp, store_cb cb, void *arg);

/* Insert a group of n >= 1 jobs and its groups row, all or nothing, in one
 * transaction.  *gidp gets the group's id and ids[0..n-1] (caller's array)
 * the jobs' ids, consecutive, in the order of jobs[].  Returns like
 * store_insert; cb is called once for the whole group. */
__attribute__((warn_unused_result))
int store_insert_group(struct store *st, enum store_group_mode mode,
    const struct store_new_job *jobs, size_t n, int64_t *gidp, int64_t *ids,
    store_cb cb, void *arg);

/* The same with jobs malloc'd: on success the array is the store's (the
 * write's own rows, freed with it; only their strings and after lists are
 * copied, so a 10,000-job group is not held twice).  On failure it is
 * still the caller's. */
__attribute__((warn_unused_result))
int store_insert_group_take(struct store *st, enum store_group_mode mode,
    struct store_new_job *jobs, size_t n, int64_t *gidp, int64_t *ids,
    store_cb cb, void *arg);

/* queued -> running: attempts + 1, started_at (0: now).  A job not queued
 * completes with -ENOENT. */
__attribute__((warn_unused_result))
int store_mark_started(struct store *st, int64_t id, double started_at,
    store_cb cb, void *arg);

/* How a job ended.  Strings are copied; NULL stores NULL. */
struct store_end {
	enum store_state state;  /* one of the four ended states */
	double finished_at;      /* Unix seconds; 0: now */
	const char *result;      /* JSON text or NULL */
	const char *error;       /* text or NULL */
	const char *cancel_reason; /* text or NULL */
};

/* queued or running -> an ended state, setting finished_at, result, error
 * and cancel_reason (each replaced, NULL included).  A job already ended
 * completes with -ENOENT; a state that is not an ended one returns
 * -EINVAL at once. */
__attribute__((warn_unused_result))
int store_mark_ended(struct store *st, int64_t id, const struct store_end *end,
    store_cb cb, void *arg);

/* running -> queued, keeping attempts (a start was used) and started_at
 * (the last start): for jobs stopped at shutdown, to run again at the next
 * start.  Whether attempts are left is the caller's decision (it ends the
 * job failed instead).  A job not running completes with -ENOENT.  The
 * interrupted start is kept in job_attempts (state "interrupted"). */
__attribute__((warn_unused_result))
int store_requeue(struct store *st, int64_t id, store_cb cb, void *arg);

/* Every write that ends a start (store_mark_ended of a running job,
 * store_requeue, store_retry_later) also keeps it: a job_attempts row
 * (attempt = the job's attempts then, its started_at, the end's time,
 * state, error and result). */

/* running -> scheduled for an automatic retry: run_at, retried + 1 (the
 * retries used), run_base = attempts (a new run begins: see
 * store_job.run_base), error and result those of the failed attempt
 * (end->state: failed or timed_out, kept in job_attempts).  A job not
 * running completes with -ENOENT. */
__attribute__((warn_unused_result))
int store_retry_later(struct store *st, int64_t id, const struct store_end *end,
    double run_at, store_cb cb, void *arg);

/* scheduled -> queued (its run_at has come, or a retry op said "now").
 * A job not scheduled completes with -ENOENT. */
__attribute__((warn_unused_result))
int store_mark_ready(struct store *st, int64_t id, store_cb cb, void *arg);

/* failed, timed_out or cancelled -> queued (the retry op): finished_at,
 * result, error and cancel_reason cleared, retried 0 and run_base =
 * attempts (a new run with the whole retry budget).  Another state
 * completes with -ENOENT. */
__attribute__((warn_unused_result))
int store_revive(struct store *st, int64_t id, store_cb cb, void *arg);

/* Record queue as paused (or not) across restarts (table queue_pause). */
__attribute__((warn_unused_result))
int store_set_paused(struct store *st, const char *queue, bool paused,
    store_cb cb, void *arg);

/* What one prune write deletes. */
struct store_prune {
	double before;           /* ended jobs with finished_at < before */
	unsigned states;         /* bit (1 << state) per ended state; 0: all */
	const char *queue;       /* NULL: every queue */
	size_t limit;            /* at most this many jobs (1 ..
	                          * STORE_PRUNE_MAX); their attempts go too */
};
#define STORE_PRUNE_MAX 10000

/* Delete up to p->limit ended jobs matching p, oldest finished first,
 * with their job_attempts rows, and give the freed pages back to the file
 * system (incremental vacuum).  *deleted (caller's, valid until cb runs)
 * gets the count once the write has been applied; a count below limit
 * means nothing more matched.  A job of a group whose other members have
 * not all ended is kept (its group is still live). */
__attribute__((warn_unused_result))
int store_prune(struct store *st, const struct store_prune *p,
    size_t *deleted, store_cb cb, void *arg);

/* ---- dependencies (loop thread) ----------------------------------------- */

/* A waiting job the store moved, in the transaction of the write that made
 * it so (a dependency's end, an insert, the recovery): to queued or
 * scheduled (released), or to cancelled with reason ("dependency: job N
 * ended failed") at time at.  A chain is followed down in that same
 * transaction. */
struct store_dep_change {
	int64_t id;
	enum store_state state;  /* QUEUED, SCHEDULED or CANCELLED */
	double at;               /* CANCELLED: its finished_at */
	char *reason;            /* CANCELLED: cancel_reason; else NULL */
};

/* fn is called on the loop thread with the changes a committed write made,
 * right after that write's own callback (so after an insert's callback
 * for the job it inserted).  The array is the store's, valid during the
 * call.  NULL: nobody is told. */
typedef void (*store_deps_fn)(void *arg, const struct store_dep_change *c,
    size_t n);
void store_deps_hook(struct store *st, store_deps_fn fn, void *arg);

/* Block until every write submitted so far has completed, and call their
 * callbacks (and any other pending ones) before returning.  Loop thread,
 * not from a callback.  For shutdown, tools and tests. */
void store_flush(struct store *st);

/* ---- recovery (loop thread, once, at start) ----------------------------- */

/* A row of jobs.  One allocation: the strings point inside it; free the
 * whole with store_job_free.  JSON columns are JSON text.  A NULL column is
 * a NULL pointer, a NULL time is 0, a NULL group is 0. */
struct store_job {
	int64_t id;
	int64_t group_id;        /* 0: not in a group */
	enum store_state state;
	char *queue;
	char *kind;
	char *args;              /* JSON */
	char *name;              /* or NULL */
	int attempts;            /* starts so far */
	int max_attempts;
	double timeout;          /* seconds, 0 = none */
	double created_at;
	double started_at;       /* of the last start; 0 = never started */
	double finished_at;      /* 0 = not ended */
	char *result;            /* JSON or NULL */
	char *error;             /* or NULL */
	char *cancel_reason;     /* or NULL */
	struct store_submitter submitter; /* known false: NULL columns */
	double run_at;           /* 0: none */
	int priority;
	int retries;             /* allowed automatic retries */
	int retried;             /* used */
	int run_base;            /* attempts when the current run began: the
	                          * starts of one run (attempts - run_base)
	                          * are what max_attempts bounds */
	double retry_delay, retry_max_delay;
	enum store_backoff retry_backoff;
	enum store_idem idempotent;
	bool interrupted;        /* store_recover: it was running */
	char *schedule;          /* or NULL */
	double slot;             /* 0: none */
	char *unique_key;        /* or NULL */
	int64_t node;            /* postgresql: the daemon (nodes.id) that
	                          * holds or last ran it; 0: none */
	char *after;             /* schema 6: its dependencies, ids in id
	                          * order with commas ("12,13"); or NULL */
};

void store_job_free(struct store_job *job);
/* Free n rows and the array (as returned by the list functions). */
void store_jobs_free(struct store_job **jobs, size_t n);

struct store_recovery {
	size_t queued;           /* were queued, stay queued */
	size_t requeued;         /* were running, attempts left: now queued */
	size_t failed;           /* were running, out of attempts or not to
	                          * be run again: failed */
	size_t refused;          /* of those, the ones the rule refused */
	size_t nodes_dead;       /* postgresql: daemons found dead */
	size_t peers;            /* postgresql: other daemons alive */
	bool lease_lost;         /* postgresql: another daemon took this
	                          * one's jobs (its lease had lapsed) */
};

/* The rule store_recover applies to each job it finds running with
 * attempts left: true runs it again (back to queued); false, with error
 * filled (the whole text), ends it failed with that error in the same
 * transaction, so a second crash cannot start it either.  Called on the
 * store's writer thread: must be pure and thread-safe. */
#define STORE_RERUN_ERROR_MAX 256
typedef bool (*store_rerun_fn)(void *arg, const struct store_job *job,
    char *error, size_t len);

/* Set the rule (NULL: every such job runs again) for store_recover. */
void store_recover_rule(struct store *st, store_rerun_fn fn, void *arg);

/* Set the horizon for store_recover (0, the default: none): a scheduled
 * job with run_at past it is left out of the rows handed back (it stays
 * scheduled; store_sched_scan lists those, store_sched_page reads them
 * when their time nears).  So a start with a million jobs
 * scheduled for later does not build a million rows in memory. */
void store_recover_horizon(struct store *st, double horizon);

/* Takes ownership of job (free it with store_job_free).  Return 0 to go on,
 * or a negative errno to stop: store_recover then frees the rest and
 * returns that value. */
typedef int (*store_recover_cb)(void *arg, struct store_job *job);

/* Crash recovery.  Call once, right after store_open and before any write.
 * In one transaction: every job queued stays queued; every job running
 * (jobd died or stopped under it) goes back to queued if attempts <
 * max_attempts, else to failed with finished_at now and error
 * "interrupted (jobd stopped or crashed) after N attempts".  Once that has
 * committed, cb is called on this thread for every one of those jobs, in id
 * order, with its new state — queued ones for the daemon to enqueue again
 * (past capacity), failed ones so it can settle their groups.  *rep (if
 * non-NULL) gets the counts.  Returns 0, cb's error, -EBUSY if a write was
 * already submitted, or the transaction's error (nothing changed). */
__attribute__((warn_unused_result))
int store_recover(struct store *st, store_recover_cb cb, void *arg,
    struct store_recovery *rep);

/* ---- several daemons on one database (postgresql) ----------------------- */

/* Does the backend share its database with other daemons (nodes, leases,
 * fencing: store_pg_node.c)?  SQLite: false, and nothing below is used. */
bool store_nodes(const struct store *st);
/* This daemon's node (nodes.id, the rows' node it holds); 0: SQLite. */
int64_t store_node_id(const struct store *st);

/* What a node round found: the rows it took over (the callee takes
 * them: store_job_free each, free the array), in id order, with their
 * new state as store_recover gives them; rep's counts, nodes_dead and
 * lease_lost.  status < 0: nothing was taken (jobs NULL). */
typedef void (*store_node_cb)(void *arg, int status, struct store_job **jobs,
    size_t n, const struct store_recovery *rep);

/* A node round, as a write (every lease / 3): renew this daemon's lease,
 * and take over the jobs of the daemons whose lease lapsed (or whose
 * process is gone, on this host), by store_recover's rules and rule.
 * -ENOTSUP without store_nodes. */
int store_node_tick(struct store *st, store_node_cb cb, void *arg);

/* Claim up to n queued jobs of queue that no daemon holds (pooled),
 * in the dispatcher's order (priority, then id), FOR UPDATE SKIP LOCKED:
 * cb gets them held by this daemon, as store_node_cb's rows (queued). */
int store_claim(struct store *st, const char *queue, size_t n,
    store_node_cb cb, void *arg);

/* Wake-ups for pooled jobs (LISTEN jobd_ready): an fd for the loop to
 * watch for reading (-ENOTSUP without store_nodes, or the connection's
 * error), and, once it is readable, every queue named since, each once
 * per committed batch that pooled jobs of it. */
int store_wake_fd(struct store *st);
int store_wake_drain(struct store *st, void (*cb)(void *arg,
    const char *queue), void *arg);

/* Ask the daemon holding job id to cancel it (a row of job_cancels; the
 * holder takes it at its next store_cancels_take).  cb gets 0, -ENOENT
 * when the job has ended or is not there, or the transaction's error.
 * reason may be NULL. */
int store_cancel_ask(struct store *st, int64_t id, const char *reason,
    store_cb cb, void *arg);

/* The cancels asked of this daemon, taken (deleted) as they are given. */
struct store_cancels {
	size_t n;
	int64_t *ids;
	char **reasons;         /* each malloc'ed or NULL */
	/* Waiting jobs this daemon holds that another daemon's write
	 * released or cancelled (state QUEUED: now pooled, no longer this
	 * daemon's; SCHEDULED: still its; CANCELLED: ended). */
	size_t nmoved;
	struct store_dep_change *moved;
};
void store_cancels_free(struct store_cancels *c);
/* cb(arg, status, c): c is the callee's (store_cancels_free), NULL when
 * status < 0. */
typedef void (*store_cancels_cb)(void *arg, int status,
    struct store_cancels *c);
int store_cancels_take(struct store *st, store_cancels_cb cb, void *arg);

/* ---- reads (any thread) ------------------------------------------------- */

/* ---- the window of scheduled jobs (daemon/page.c) ----------------------- */

/* Scheduled jobs after (after_at, after_id) in (run_at, id) order, with
 * run_at <= until, at most limit (1..STORE_LIST_MAX) of them: keyset
 * paging on the index jobs_run_at, so ties on run_at are neither lost nor
 * read twice.  Rows as store_list returns them. */
__attribute__((warn_unused_result))
int store_sched_page(struct store *st, double after_at, int64_t after_id,
    double until, size_t limit, struct store_job ***jobsp, size_t *np);

/* What store_sched_scan hands over of one scheduled row (valid during the
 * call only). */
struct store_sched_row {
	int64_t id;
	int64_t group_id;        /* 0: none */
	const char *queue;
	struct store_submitter submitter;
};
typedef int (*store_sched_fn)(void *arg, const struct store_sched_row *r);

/* Call fn for every scheduled job with run_at > after (any order), until
 * it returns non-zero (then returned).  At start, to count the jobs that
 * store_recover's horizon left out: one pass over jobs_run_at's range. */
__attribute__((warn_unused_result))
int store_sched_scan(struct store *st, double after, store_sched_fn fn,
    void *arg);

/* 0 with *jobp (free with store_job_free), -ENOENT, or an error. */
__attribute__((warn_unused_result))
int store_get(struct store *st, int64_t id, struct store_job **jobp);

#define STORE_LIST_DEFAULT 100
#define STORE_LIST_MAX     10000    /* rows per store_list call */

struct store_filter {
	int state;               /* an enum store_state or STORE_ANY_STATE */
	const char *queue;       /* NULL: any */
	int64_t before_id;       /* > 0: only ids below it (paging); 0: none */
	size_t limit;            /* 0: STORE_LIST_DEFAULT; <= STORE_LIST_MAX */
	bool by_uid;             /* only jobs submitted by uid (visibility) */
	uid_t uid;
};

/* Jobs matching f (NULL: no filter), newest (highest id) first.  *jobsp is
 * an array of *np rows (NULL when 0); free with store_jobs_free.
 * -EINVAL for a bad state or a limit past STORE_LIST_MAX.  With by_uid
 * the rows come from the user's own index range, newest first (state and
 * queue are checked on each of that user's rows): other users' jobs are
 * never read, whatever their number. */
__attribute__((warn_unused_result))
int store_list(struct store *st, const struct store_filter *f,
    struct store_job ***jobsp, size_t *np);

struct store_group {
	int64_t id;
	enum store_group_mode mode;
	int size;                /* jobs in the group */
	double created_at;
	struct store_submitter submitter; /* of its first job (a group comes
	                          * on one connection: every member has the
	                          * same); known false if none recorded */
};

/* 0 with *g filled, -ENOENT, or an error. */
__attribute__((warn_unused_result))
int store_group_get(struct store *st, int64_t gid, struct store_group *g);

/* The group's jobs in submission (id) order, as store_list returns them;
 * 0 rows (not an error) for an unknown group. */
__attribute__((warn_unused_result))
int store_group_jobs(struct store *st, int64_t gid, struct store_job ***jobsp,
    size_t *np);

/* One start of a job, as job_attempts keeps it.  One allocation each
 * (strings inside); free the array with store_attempts_free. */
struct store_attempt {
	int attempt;             /* 1, 2, ... */
	double started_at;       /* 0: unknown */
	double finished_at;
	char *state;             /* an ended state's name, or "interrupted" */
	char *error;             /* or NULL */
	char *result;            /* JSON or NULL */
};

/* The starts of job id that have ended, in order (0 rows for a job
 * never started or unknown).  An index range on (job_id, attempt). */
__attribute__((warn_unused_result))
int store_attempts(struct store *st, int64_t id, struct store_attempt ***ap,
    size_t *np);
void store_attempts_free(struct store_attempt **a, size_t n);

/* The newest slot that schedule made a job for and that job's id, or 0
 * and 0 when it made none: an index lookup on (schedule, slot). */
__attribute__((warn_unused_result))
int store_slot_last(struct store *st, const char *schedule, double *slot,
    int64_t *id);

/* The queues recorded as paused: *namesp (free each and the array) of
 * *np names. */
__attribute__((warn_unused_result))
int store_paused_queues(struct store *st, char ***namesp, size_t *np);

/* ---- stats (loop thread) ------------------------------------------------ */

struct store_stats {
	uint64_t submitted;      /* writes accepted */
	uint64_t committed;      /* completed with 0 */
	uint64_t failed;         /* completed with an error */
	uint64_t transactions;   /* committed transactions */
	uint64_t rollbacks;      /* transactions that failed whole */
	size_t pending;          /* submitted, not yet completed */
	size_t batch_largest;    /* most rows in one transaction */
	uint64_t merged;         /* starts written with their job's end, as
				  * one row write (both count as committed) */
};

void store_stats(struct store *st, struct store_stats *s);

struct hist;

/* Copies of the transaction histograms (hist.h): seconds from begin to
 * commit, and rows, of every transaction the writer ran. */
void store_commit_hists(struct store *st, struct hist *seconds,
    struct hist *rows);

#endif /* JOBD_STORE_H */
