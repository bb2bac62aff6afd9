/*
 * store_backend.h — what a store backend implements (for store.c and the
 * backends only; the daemon includes store.h).
 *
 * The front (store.c) owns the threads, the queue of writes, the batching,
 * handing out ids and the callbacks.  A backend owns the connections, the
 * SQL and where ids come from: it reserves blocks of ids, applies one write
 * at a time inside a transaction the front opened, and answers reads.
 * store.c picks the backend by name from its table (store_opts.backend).
 * Threads, as the front calls a backend:
 *   open, close                     the loop thread, writer not running;
 *   reserve_ids                     the loop thread, writer running;
 *   begin, apply(_batch), commit,   the writer thread only;
 *   rollback
 *   the reads                       any thread, concurrently.
 * Errors: negative errno, and store_seterr() with "PATH: what: why" on the
 * calling thread (the front copies it into the failed write).
 */
#ifndef JOBD_STORE_BACKEND_H
#define JOBD_STORE_BACKEND_H

#include <pthread.h>

#include "store.h"

struct store_backend;

enum store_wkind {
	STORE_W_INSERT,
	STORE_W_GROUP,
	STORE_W_START,
	STORE_W_END,
	STORE_W_REQUEUE,
	STORE_W_RECOVER,
	STORE_W_RETRY,          /* running -> scheduled */
	STORE_W_READY,          /* scheduled -> queued */
	STORE_W_REVIVE,         /* an ended job -> queued */
	STORE_W_PAUSE,
	STORE_W_PRUNE,
	STORE_W_NODE,           /* a lease renewed, dead nodes' jobs taken */
	STORE_W_CANCEL_ASK,     /* a cancel for the daemon holding a job */
	STORE_W_CANCEL_TAKE,    /* the cancels asked of this daemon */
	STORE_W_CLAIM,          /* pooled jobs taken by this daemon */
};

/* What store_recover's write hands back. */
struct store_recover_res {
	int status;
	struct store_job **jobs;     /* the active jobs after recovery */
	size_t n;
	struct store_recovery rep;
};

/* One write, as a backend sees it: what to write, nothing of the front's
 * queue bookkeeping (its link, callback, status, batching weight live in
 * store.c's struct store_req around it).  The strings stay valid until the
 * write completes, so a backend may bind them without a copy. */
struct store_chg;

struct store_write {
	enum store_wkind kind;
	/* Where the backend reports the waiting jobs this write released or
	 * cancelled (store_chg_add); the front delivers them after the
	 * write's callback if the transaction commits. */
	struct store_chg *chg;
	union {
		struct {
			int64_t id;
			/* After the write's own struct (store.c), so that
			 * the union is a start's or an end's size, not an
			 * insert's: one of each per job. */
			const struct store_new_job *job;
		} ins;
		struct {
			int64_t gid;
			int64_t first_id;    /* jobs get first_id + i */
			enum store_group_mode mode;
			double created_at;
			size_t n;
			const struct store_new_job *jobs;
		} grp;
		struct {
			int64_t id;
			double at;
		} start;
		struct {
			int64_t id;
			struct store_end end;
			/* Not 0: the job's start, merged into its end
			 * (store.c; only for a backend with
			 * merges_start): one row write that also does
			 * what the start's would have. */
			double started_at;
		} end;
		struct {
			int64_t id;
		} requeue;
		struct {                /* RECOVER, NODE and CLAIM */
			double now;
			struct store_recover_res *res;  /* the backend fills it */
			double horizon;         /* store_recover_horizon */
			const char *queue;      /* CLAIM */
			size_t n;               /* CLAIM */
			store_rerun_fn rerun;   /* NULL: always */
			void *rerun_arg;
		} recover;
		struct {
			int64_t id;
			struct store_end end;   /* the failed attempt */
			double run_at;
		} retry;
		struct {
			int64_t id;             /* READY and REVIVE */
		} ready;
		struct {
			const char *queue;
			bool paused;
			double at;
		} pause;
		struct {
			struct store_prune p;
			size_t *deleted;        /* the backend fills it */
		} prune;
		struct {
			int64_t id;
			const char *reason;     /* or NULL */
		} ask;
		struct {
			struct store_cancels *res;      /* the backend fills */
		} take;
	} u;
};

/* The two id sequences a backend keeps. */
enum store_idkind {
	STORE_ID_JOB,
	STORE_ID_GROUP,
};

struct store_ops {
	const char *name;

	/* Connect (and create, migrate) as opts says.  Called with opts
	 * validated and defaults filled in; the backend maps the neutral
	 * options onto its own knobs (SQLite: PRAGMA synchronous, busy
	 * timeout, max_page_count). */
	int (*open)(const struct store_opts *opts, struct store_backend **bp);
	/* Finalize, close, free.  NULL-safe. */
	void (*close)(struct store_backend *b);

	/* Reserve n >= 1 consecutive unused ids of kind; *first gets the
	 * first.  The loop thread, while the writer may be applying: it must
	 * not touch the writer's connection.  Ids reserved are never handed
	 * out again in this run; the front asks for STORE_ID_BLOCK at a time
	 * (or a group's size), so a backend may do a round trip here
	 * (PostgreSQL: nextval on a sequence INCREMENT BY the block).
	 * SQLite counts in memory from what open found. */
	int (*reserve_ids)(struct store_backend *b, enum store_idkind kind,
	    int64_t n, int64_t *first);

	/* Start a transaction (and check the database is still there). */
	int (*begin)(struct store_backend *b);
	/* Apply w inside it.  On error, *lost says the transaction is gone
	 * (the front rolls back and fails the whole batch); else only w
	 * failed and changed nothing. */
	int (*apply)(struct store_backend *b, const struct store_write *w,
	    bool *lost);
	/* Or, instead of apply (which is then NULL): apply the n writes of
	 * a batch, in order, inside the transaction, as the backend likes
	 * (PostgreSQL: a few multi-row statements).  For each write that
	 * fails alone, call failed(ctx, i, err) with store_seterr() set.
	 * Returns 0, or a negative errno when the transaction is lost (the
	 * front rolls back and fails the whole batch). */
	int (*apply_batch)(struct store_backend *b,
	    const struct store_write *const *w, size_t n,
	    void (*failed)(void *ctx, size_t i, int err), void *ctx);
	int (*commit)(struct store_backend *b);
	/* Roll back whatever is open; never fails. */
	void (*rollback)(struct store_backend *b);
	/* apply() takes an end with its start merged in (u.end.started_at):
	 * the front then writes a start and an end of one job in one batch
	 * as one write, the start itself completing with the end. */
	bool merges_start;
	/* Several daemons share the database: STORE_W_NODE writes, rows
	 * held by node and epoch (store.h: store_nodes). */
	bool nodes;
	int64_t (*node_id)(struct store_backend *b);    /* set at open */
	/* The loop thread's: the fd that turns readable when pooled jobs
	 * were committed (LISTEN), and what came (store_wake_fd). */
	int (*wake_fd)(struct store_backend *b);
	int (*wake_drain)(struct store_backend *b,
	    void (*cb)(void *arg, const char *queue), void *arg);

	int (*get)(struct store_backend *b, int64_t id, struct store_job **jp);
	int (*list)(struct store_backend *b, const struct store_filter *f,
	    struct store_job ***jobsp, size_t *np);
	int (*group_get)(struct store_backend *b, int64_t gid,
	    struct store_group *g);
	int (*group_jobs)(struct store_backend *b, int64_t gid,
	    struct store_job ***jobsp, size_t *np);
	int (*attempts)(struct store_backend *b, int64_t id,
	    struct store_attempt ***ap, size_t *np);
	int (*paused)(struct store_backend *b, char ***namesp, size_t *np);
	int (*slot_last)(struct store_backend *b, const char *schedule,
	    double *slot, int64_t *id);
	/* store_sched_page, store_sched_scan (arguments checked). */
	int (*sched_page)(struct store_backend *b, double after_at,
	    int64_t after_id, double until, size_t limit,
	    struct store_job ***jobsp, size_t *np);
	int (*sched_scan)(struct store_backend *b, double after,
	    store_sched_fn fn, void *arg);
};

/* Ids the front reserves per reserve_ids call (a group larger asks for
 * its size). */
#define STORE_ID_BLOCK 1024

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;

/* Start a store thread fn(arg) named name, with every signal but the
 * faults blocked (signals go to the loop thread).  0 or pthread's error. */
int store_thread(pthread_t *t, void *(*fn)(void *), void *arg,
    const char *name);

/* Set the calling thread's store_errmsg().  Returns err, so a backend can
 * write `return store_seterr(-EIO, "%s: ...", path)`. */
int store_seterr(int err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A job row in one allocation (what store_job_free frees): its nine
 * strings t[i] of len[i] bytes (NULL: a NULL column) copied after it, in
 * the order queue, kind, args, name, result, error, cancel_reason,
 * schedule, unique_key, after; every other field zero.  NULL when out of memory. */
#define STORE_JOB_NTEXT 10
struct store_job *store_job_alloc(const char *const t[STORE_JOB_NTEXT],
    const size_t len[STORE_JOB_NTEXT]);

/* The error text of a recovered job that was running with no attempts
 * left; into buf (64 bytes is enough). */
void store_interrupted_msg(char *buf, size_t len, int attempts);

/* The changes of one write (store_deps.c): a growing array. */
struct store_chg {
	struct store_dep_change *v;
	size_t n, cap;
};
/* Report that w moved waiting job id to state (reason: CANCELLED's, copied).
 * 0 or -ENOMEM (the backend fails its transaction: a change it cannot
 * report would leave memory and the database apart). */
int store_chg_add(const struct store_write *w, int64_t id,
    enum store_state state, double at, const char *reason);
void store_chg_clear(struct store_chg *c);
/* Recovery: the rows res hands back (in id order) take the states the
 * changes w reported gave them. */
void store_chg_patch(const struct store_write *w,
    struct store_recover_res *res);
/* "dependency: job N ended STATE" into buf. */
void store_dep_reason(char *buf, size_t len, int64_t id,
    enum store_state state);
#define STORE_DEP_REASON_MAX 64

#endif /* JOBD_STORE_BACKEND_H */
