/*
 * store_pg.h — shared by the three files of the PostgreSQL backend:
 * store_pg.c (connecting, the schema and its migrations, ids, transactions,
 * the ops table), store_pg_write.c (a batch of writes as a few multi-row
 * statements), store_pg_life.c (the writes that go one at a time: unique
 * look-ups, retries, pauses, pruning, recovery) and store_pg_read.c
 * (errors, rows, the read connections, the reads).  Calls go store_pg.c ->
 * store_pg_write.c -> store_pg_life.c -> store_pg_read.c, never back.  Nothing else includes it; the rest of jobd sees store.h.
 */
#ifndef JOBD_STORE_PG_H
#define JOBD_STORE_PG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store_backend.h"

/* jobs columns in the order pg_row_job reads them: the same as SQLite's. */
#define PG_COLS "id, queue, kind, state, args, name, attempts, max_attempts, " \
	"timeout, created_at, started_at, finished_at, result, error, "      \
	"cancel_reason, group_id, submit_uid, submit_gid, submit_pid, "      \
	"run_at, priority, retries, retried, run_base, retry_delay, "        \
	"retry_max_delay, retry_backoff, idempotent, schedule, slot, "      \
	"unique_key, node, (SELECT string_agg(depends_on::text, ',' "        \
	"ORDER BY depends_on) FROM job_deps WHERE job_deps.job_id = "       \
	"jobs.id)"

/* A PostgreSQL array literal being built: '{"a","b",NULL}'. */
struct pg_arr {
	char *s;
	size_t len, cap;
	size_t n;                       /* elements */
	bool oom;
};

struct pg_reader;
struct pg_step;

/* A write of the batch being applied that failed alone. */
struct pg_wfail {
	size_t i;
	int err;
	char *msg;
};

struct store_backend {
	char *conninfo;                 /* as configured */
	char *name;                     /* for messages: "postgresql DB" */
	enum store_sync sync;
	int busy_ms;
	PGconn *wc;                     /* the writer's connection */
	PGconn *ic;                     /* the loop thread's: reserve_ids */
	bool txn_pending;               /* begin seen, BEGIN not yet sent */
	struct pg_arr col[24];          /* the writer's scratch arrays */
	int64_t *ids;                   /* the writer's scratch: a run's ids */
	size_t ids_cap;
	struct pg_step *steps;          /* the writer's: the batch's plan */
	size_t steps_cap;
	uint32_t *idx;                  /* the writer's: one statement's */
	size_t idx_cap;                 /* writes */
	int64_t *hkey;                  /* the writer's: job id -> level */
	uint32_t *hval;
	size_t hcap;
	struct pg_wfail *fail;          /* the writer's: this batch's */
	size_t nfail, fail_cap;
	bool fail_oom;
	pthread_mutex_t rmtx;
	struct pg_reader *idle;         /* read connections not in use */
	/* This daemon as a node (store_pg_node.c): its nodes row, the lease
	 * epoch every row it owns carries (the writer thread's, once open
	 * is done), the lease in seconds; the id and epoch as text, the
	 * parameters of the fenced writes. */
	int64_t node;
	int64_t epoch;
	double lease;
	char node_s[24], epoch_s[24];
	char host[256];
	char boot[40];
	/* The heartbeat thread's (store_pg_node.c): its connection; the
	 * epoch it took after losing the lease, which the writer adopts at
	 * its next batch (pg_node_adopt), and that it did. */
	PGconn *hc;
	pthread_t hb;
	bool hb_started, hb_stop;
	pthread_mutex_t hmtx;
	pthread_cond_t hcond;
	int64_t epoch_next;
	bool lost;
	PGconn *lc;                     /* the loop's: LISTEN jobd_ready */
};

/* What apply_batch reports a write failing alone through. */
typedef void (*pg_failed_fn)(void *ctx, size_t i, int err);

/* ---- store_pg_read.c ---------------------------------------------------- */

/* Record "NAME: what: PostgreSQL's message" for result r (or c's error
 * when r is NULL) and return the errno its SQLSTATE maps to. */
int pg_fail(const struct store_backend *b, PGconn *c, const PGresult *r,
    const char *what);
/* The errno SQLSTATE state maps to (NULL: the connection's trouble). */
int pg_errno(const char *state);
/* Did r's statement fail on the data (a constraint, bad JSON), leaving
 * everything else intact (after a ROLLBACK TO)? */
bool pg_data_error(const PGresult *r);
/* Open a connection with the session settings every one gets. */
int pg_connect(struct store_backend *b, PGconn **cp);
/* Run sql (no parameters) and expect no error; on one, fail it. */
int pg_exec(struct store_backend *b, PGconn *c, const char *sql,
    const char *what);
/* The rows of r (a PG_COLS result) as jobs. */
int pg_collect(const struct store_backend *b, const PGresult *r,
    struct store_job ***jobsp, size_t *np);

void pg_readers_close(struct store_backend *b);
int pg_get(struct store_backend *b, int64_t id, struct store_job **jp);
int pg_list(struct store_backend *b, const struct store_filter *f,
    struct store_job ***jobsp, size_t *np);
int pg_group_get(struct store_backend *b, int64_t gid, struct store_group *g);
int pg_group_jobs(struct store_backend *b, int64_t gid,
    struct store_job ***jobsp, size_t *np);

int pg_attempts(struct store_backend *b, int64_t id,
    struct store_attempt ***ap, size_t *np);
int pg_paused(struct store_backend *b, char ***namesp, size_t *np);
int pg_slot_last(struct store_backend *b, const char *schedule, double *slot,
    int64_t *id);
int pg_sched_page(struct store_backend *b, double after_at,
    int64_t after_id, double until, size_t limit, struct store_job ***jobsp,
    size_t *np);
int pg_sched_scan(struct store_backend *b, double after, store_sched_fn fn,
    void *arg);

/* ---- store_pg_life.c ---------------------------------------------------- */

/* One statement on the writer's connection with text parameters; *rp
 * gets its result (the caller clears it) if rp is not NULL. */
int pg_wexec(struct store_backend *b, const char *sql, int n,
    const char *const *v, const char *what, PGresult **rp);
/* The job already holding the slot or unique key of a job of w (an insert
 * or a group) into its existing and -EEXIST; 0 if none. */
int pg_dup(struct store_backend *b, const struct store_write *w);
/* Apply w (retry, ready, revive, pause, prune, recover) alone.  On error
 * *alone says only w failed (nothing else of the transaction is lost). */
int pg_life_apply(struct store_backend *b, const struct store_write *w,
    bool *alone);

/* ---- store_pg_deps.c ---------------------------------------------------- */

/* Does insert or group w have a job with dependencies (it goes alone)? */
bool pgd_has(const struct store_write *w);
/* After w's rows: the edges, state waiting, each judged at once.  A
 * dependency with no row: -ENOENT with *alone. */
int pgd_link(struct store_backend *b, const struct store_write *w,
    bool *alone);
/* The ends w[idx[..m]] just applied (but those that failed alone): their
 * dependants released or cancelled, down every chain. */
int pgd_ended(struct store_backend *b, const struct store_write *const *w,
    const uint32_t *idx, size_t m);
/* Recovery: every waiting job judged again (changes reported to w). */
int pgd_repair(struct store_backend *b, const struct store_write *w);
/* The jobs of r's first column, just cancelled at `at` by this write:
 * what that does to their dependants. */
int pgd_cancelled(struct store_backend *b, const struct store_write *w,
    const PGresult *r, double at);

/* ---- store_pg_span.c ---------------------------------------------------- */

/* "{1,2}": r's first column as an array literal, malloc'ed (NULL: ENOMEM). */
char *pgs_ids(const PGresult *r);
/* The jobs of r's first column, just released or cancelled by this
 * daemon's write: those another daemon holds noted for it, the queued
 * ones among them pooled. */
int pgs_away(struct store_backend *b, const PGresult *r);
/* The ends w[idx[..m]] just applied: fail_fast reaching other daemons. */
int pgs_trip(struct store_backend *b, const struct store_write *const *w,
    const uint32_t *idx, size_t m);
/* This daemon's notes (pgs_away's), taken into c->moved. */
int pgs_notes_take(struct store_backend *b, struct store_cancels *c);

/* ---- store_pg_node.c ---------------------------------------------------- */

/* Register this daemon in nodes (b->wc, autocommit), at open, and start
 * the heartbeat thread, which renews the lease every lease / 3 on its own
 * connection: a backlog of writes never delays it. */
int pg_node_register(struct store_backend *b);
/* store_ops.node_id: b->node, constant from the register on. */
int64_t pg_node_id(struct store_backend *b);
/* The writer, at each batch: take up the epoch the heartbeat took. */
void pg_node_adopt(struct store_backend *b);
/* Leave: its rows not running given up to any daemon, its row deleted
 * (at close, the writer stopped). */
void pg_node_leave(struct store_backend *b);
/* The node write (STORE_W_NODE) and recovery (STORE_W_RECOVER): renew
 * the lease (taking a new epoch when another daemon took this one's
 * jobs), then take the jobs of dead nodes and of none, per the crash
 * rules, into res.  At recovery every dead node of this host counts. */
int pg_node_apply(struct store_backend *b, const struct store_write *w);
/* A cancel asked of the job's holder (-ENOENT alone: it has ended). */
int pg_cancel_ask(struct store_backend *b, const struct store_write *w,
    bool *alone);
/* store_ops.wake_fd, wake_drain (store.h: store_wake_fd). */
int pg_wake_fd(struct store_backend *b);
int pg_wake_drain(struct store_backend *b,
    void (*cb)(void *arg, const char *queue), void *arg);
/* Pooled queued jobs of a queue, claimed by this node. */
int pg_claim(struct store_backend *b, const struct store_write *w);
/* The cancels asked of the jobs this node holds, taken. */
int pg_cancel_take(struct store_backend *b, const struct store_write *w);
/* The crash rules for the running job jobs[i] (store_pg_life.c). */
int pg_rec_running(struct store_backend *b, const struct store_write *w,
    struct store_recover_res *res, size_t i);

/* ---- store_pg_write.c --------------------------------------------------- */

/* Prepare the writer's statements on b->wc. */
int pg_prepare_writes(struct store_backend *b);
/* store_ops.apply_batch: see store_backend.h. */
int pg_apply_batch(struct store_backend *b, const struct store_write *const *w,
    size_t n, pg_failed_fn failed, void *ctx);
/* Send the deferred BEGIN, if any (store_pg.c's begin defers it). */
int pg_txn_start(struct store_backend *b);
void pg_scratch_free(struct store_backend *b);

#endif /* JOBD_STORE_PG_H */
