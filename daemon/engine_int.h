/*
 * engine_int.h — what the engine's modules share; not for outside
 * daemon/engine*.c and the modules below (callers use engine.h).
 *
 * The engine is split by concern, one module (and prefix) each:
 *   job.c      job_     the job object and its state machine (job_move)
 *   queue.c    queue_   queues, the worker pool, taking and running jobs
 *   end.c      end_     a job's end: its write, retried while refused
 *   submit.c   submit_  checking and inserting a lone job
 *   group.c    group_   groups: submit, fail_fast, a member's end
 *   cancel.c   cancel_  stopping a job wherever it is; the cancel ops
 *   recover.c  recover_ crash recovery at start
 *   users.c    user_    per-user accounting and who may cancel what
 *   park.c     park_    running jobs that only wait, held without a worker
 *   deps.c     deps_    dependencies: waiting jobs, the store's verdicts
 *   engine.c   eng_     the public face (engine.h)
 */
#ifndef JOBD_ENGINE_INT_H
#define JOBD_ENGINE_INT_H

#include <sys/queue.h>

#include <event2/event.h>
#include <jansson.h>

#include "co.h"
#include "co_queue.h"
#include "backoff.h"
#include "co_sched.h"
#include "engine.h"
#include "readyq.h"
#include "kind.h"
#include "store.h"
#include "timerq.h"

struct met;
struct met_queue;
struct watch_hub;

struct idmap;
struct kind;
struct kind_env;
struct conf;
struct kind_run;
struct park;
struct page;
struct conf_queue;

/* Where a job is in memory (job.c has the table of legal moves and what
 * each means in the contract's states).  Freed is not a state: a job
 * leaves memory from J_ENDING once its end committed, or from NEW, INQ or
 * TAKEN when its insert failed (it never existed). */
enum job_where {
	J_NEW,          /* built, not (yet) in a queue */
	J_PUTTING,      /* a group's submitter is putting it in its queue */
	J_INQ,          /* in its queue (or handed to a worker not yet run) */
	J_TAKEN,        /* a worker has it, waiting for the insert */
	J_RUNNING,      /* its kind runs on a worker */
	J_ENDING,       /* ended; its end write not yet committed */
	J_SCHEDULED,    /* stage two: waiting for run_at or a retry */
	J_WAITING,      /* stage two: waiting for its dependencies */
	J_NWHERE
};
enum job_stop { STOP_NONE, STOP_CANCEL, STOP_SHUTDOWN };

struct equeue;
struct watch_cache;
struct egroup;

/* Small fields sit together: a padding hole costs every waiting job (a
 * burst of 100,000 parked sleeps holds 100,000 of these). */
struct job {
	struct eng *e;
	int64_t id;
	struct equeue *q;
	struct egroup *g;               /* NULL: not in a group */
	const struct kind *kind;
	json_t *args;
	double timeout;                 /* 0 = none */
	int attempts, max_attempts;
	uid_t uid;                      /* its submitter, or ENG_NOBODY */
	enum job_where where;           /* changed by job_move only */
	bool inserted, insert_failed;
	bool deferred;                  /* its end write failed; retried */
	bool parked;                    /* RUNNING without a worker (park.c) */
	bool park_timeout;              /* ... until its timeout, not its end */
	enum job_stop stop;
	enum store_state end_state;     /* once ENDING */
	json_t *end_result;             /* ENDING, not yet written: */
	char *end_text;                 /* (the result as JSON text, once */
	char *end_error;                /* written) what the end says */
	double end_at;                  /* when it ended (Unix time) */
	TAILQ_ENTRY(job) end_link;      /* on eng.ends until written */
	char *cancel_reason;            /* for STOP_CANCEL */
	struct co_task *task;           /* its worker, while RUNNING */
	struct timerq_node park_node;   /* parked: in the park heap */
	struct co_waitq insertq;        /* waiting for the insert's commit */
	struct co_waitq doneq;          /* waiting for the end's commit */
	eng_done_fn done;               /* the submitter's answer */
	void *done_arg;
	/* The lifecycle. */
	struct readyq_node rnode;       /* in q->rq while ready (queued) */
	struct timerq_node tnode;       /* in e->tq while scheduled */
	int priority;                   /* 0..9 */
	int retries, retried;           /* automatic retries: allowed, used */
	int run_base;                   /* attempts when this run began */
	struct backoff backoff;
	double run_at;                  /* not before; 0: none */
	bool delayed;                   /* submitted with run_at ahead */
	bool retrying;                  /* its retry write not yet sent */
	bool permanent;                 /* the kind said: do not retry */
	bool counted;                   /* in its user's queued count */
	int idempotent;                 /* -1 the kind's rule, 0, 1 */
	double retry_after;             /* the kind's Retry-After, or 0 */
	char *name;                     /* for events; NULL: none */
	struct watch_cache *wcache;     /* its events' parts (watch.h) */
	double created_at, started_at;  /* Unix times, as stored */
	double ready_at;                /* entered its queue (queue wait) */
	int64_t dup_id;                 /* insert -EEXIST: the holder */
	bool has_deps;                  /* submitted with an after list */
	bool pooled;                    /* a group member inserted pooled */
};

struct egroup {
	struct eng *e;
	int64_t id, first;
	enum store_group_mode mode;
	size_t n, live;                 /* jobs; of which not ended */
	struct job **jobs;              /* n; NULL once ended */
	bool tripped;                   /* fail_fast has fired */
	int holds;                      /* code iterating it: keep it */
	bool failed_write;              /* a member's end was not recorded */
	int64_t trip_id;                /* recovery: a member that failed */
	enum store_state trip_state;
	char *trip_error;
	SLIST_ENTRY(egroup) trip_link;
	struct co_waitq doneq;
	eng_done_fn done;
	void *done_arg;
};

struct worker;

struct equeue {
	struct eng *e;
	char *name;
	struct readyq rq;               /* the ready (queued) jobs */
	struct co_waitq workq;          /* idle workers waiting for one */
	struct co_waitq roomq;          /* submitters waiting for room */
	int workers, capacity, max_attempts;
	double timeout;
	struct kind_limits limits;      /* exec_*_max */
	bool configured;
	bool paused;                    /* starts nothing (queue_pause) */
	int priority, retries, max_pending;
	struct backoff backoff;
	double retain_ok, retain_fail;  /* -1: the daemon's; 0: forever */
	size_t scheduled;               /* jobs SCHEDULED in memory */
	size_t waiting;                 /* jobs WAITING (deps.c) */
	int nworkers;
	size_t nwaiting;                /* workers waiting on workq */
	size_t nstarting;               /* workers spawned, not yet run */
	size_t running;
	size_t nparked;                 /* of them, parked (park.c) */
	size_t nholding;                /* workers with a place (queue.c) */
	struct co_waitq placeq;         /* workers waiting for a place */
	size_t nblocked;                /* workers waiting for an insert */
	size_t tmp;                     /* scratch: a group's demand */
	struct met_queue *met;          /* its counters; NULL: none */
	LIST_HEAD(, worker) wlist;
	TAILQ_ENTRY(equeue) link;
};

struct eng {
	struct co_rt *rt;
	struct store *st;
	struct kind_env *kenv;          /* the kinds' shared state */
	struct exec_iso *iso;           /* borrowed (eng_isolate) */
	struct idmap *jobs, *groups;
	struct idmap *users;            /* uid + 1 -> struct euser */
	gid_t admin_gid;                /* admin_group; (gid_t)-1: none */
	int max_queued;                 /* max_queued_per_user; 0 = none */
	bool see_all;                   /* visibility = all */
	uid_t self_uid;                 /* jobd's own (effective) uid */
	TAILQ_HEAD(, equeue) queues;
	size_t nqueues;
	bool stopping;
	size_t running, nworkers;
	struct co_waitq idleq;          /* shutdown: no job running */
	struct co_waitq goneq;          /* shutdown: no worker left */
	SLIST_HEAD(, egroup) trips;     /* recovery: groups to trip */
	uint64_t ins_sent, ins_done;    /* inserts submitted, completed */
	TAILQ_HEAD(, job) ends;         /* ended, end write not yet sent */
	struct event *ends_ev;          /* writes them from the loop */
	TAILQ_HEAD(, job) retry;        /* end not taken: written again */
	struct event *retry_ev;         /* ... when this fires */
	double retry_delay;             /* its current delay, 0 at first */
	size_t ndeferred;               /* jobs with a deferred end */
	bool final;                     /* the stop's last writes are out */
	struct co_waitq settleq;        /* eng_settle_all */
	struct park *park;              /* park.c's, made at the first park */
	struct eng_counters c;
	uint64_t moves[J_NWHERE][J_NWHERE]; /* job_move's, by from and to */
	struct timerq tq;               /* scheduled jobs in memory */
	struct page *page;              /* the rest: page.c */
	struct event *tq_ev;            /* fires at the earliest one */
	double tq_armed;                /* when tq_ev is set for; 0: not */
	struct event *prune_ev;         /* the pruner's next round */
	double prune_every;             /* prune_interval */
	double retain_ok, retain_fail;  /* [daemon] retention */
	bool pruning;                   /* a round is under way */
	struct met *met;                /* counters, histograms; or NULL */
	struct watch_hub *hub;          /* job events; or NULL */
	struct enodes *nodes;           /* nodes.c; NULL: one daemon */
	struct epool *pool;             /* pool.c; NULL: no shared jobs */
	double lease;                   /* [daemon] lease, seconds */
};

/* ---- job.c ---- */
bool job_move_legal(enum job_where from, enum job_where to);
const char *job_where_name(enum job_where w);
const char *job_where_contract(enum job_where w);
int job_try_move(struct job *j, enum job_where to)
    __attribute__((warn_unused_result));
void job_move(struct job *j, enum job_where to);
struct job *job_new(struct eng *e, struct equeue *q, const struct kind *k,
    json_t *args, double timeout, int max_attempts);
struct job *job_from(struct eng *e, struct equeue *q, const struct kind *k,
    const struct proto_submit *s, const struct eng_who *who);
int job_row(const struct job *j, const struct proto_submit *s,
    const struct eng_who *who, struct store_new_job *row, char **textp);
void job_free(struct job *j);
void job_observe(struct job *j, enum store_state state);
void job_event(struct job *j, enum store_state state);
void job_ready(struct job *j);
void job_duplicate(struct job *j, int64_t existing);
void job_forget(struct job *j);
void job_handoff(struct job *j);
void job_lost(struct job *j);

/* ---- queue.c ---- */
struct equeue *queue_find(struct eng *e, const char *name);
int queue_configure(struct eng *e, const struct conf_queue *cq);
int queue_force(struct equeue *q, struct job *j);
int queue_put(struct equeue *q, struct job *j, bool nowait);
int queue_remove(struct job *j);
void queue_withdraw(struct job *j);
size_t queue_len(const struct equeue *q);
void queue_pause(struct equeue *q, bool paused);
void queue_enter(struct job *j);
void queue_left(struct job *j);
void queue_stop_workers(struct eng *e, bool busy_too);
void queue_finish(struct job *j, int rc, int expired, struct kind_run *run);
void queue_free_all(struct eng *e);

/* ---- end.c ---- */
void end_job(struct job *j, enum store_state state, json_t *result,
    const char *error);
void end_interrupted(struct job *j, int rc, json_t *result);
void end_retry_soon(struct eng *e);
void end_flush(struct eng *e);
void end_cb(evutil_socket_t fd, short what, void *arg);
void end_retry_cb(evutil_socket_t fd, short what, void *arg);
void end_final(struct eng *e);
void end_recorded(struct job *j);

/* ---- submit.c ---- */
int submit_check(struct eng *e, const struct proto_submit *s,
    struct equeue **qp, const struct kind **kp, struct proto_err *err);
int submit_job(struct eng *e, const struct proto_submit *s,
    const struct eng_who *who, eng_done_fn done, void *arg,
    struct proto_err *err);
void submit_completed(struct eng *e);
int submit_send(struct eng *e, struct job *j, const struct proto_submit *s,
    const struct eng_who *who, bool pooled, store_cb cb);
void submit_unique(struct job *j, const struct proto_submit *s,
    struct store_new_job *row);
int submit_stopping(struct proto_err *err);

/* ---- group.c ---- */
int group_submit(struct eng *e, const struct proto_submit_group *pg,
    const struct eng_who *who, eng_done_fn done, void *arg,
    struct proto_err *err);
struct egroup *group_load(struct eng *e, int64_t gid);
void group_trip(struct egroup *g, int64_t id, enum store_state state,
    const char *error);
void group_member_done(struct egroup *g, struct job *j, int status);
void group_free(struct egroup *g);
void group_free_all(struct eng *e);

/* ---- cancel.c ---- */
void cancel_stop(struct job *j, const char *reason);
int cancel_one(struct eng *e, int64_t id, const struct eng_who *who,
    const char *reason, struct proto_err *err);
int cancel_members(struct eng *e, int64_t gid, const struct eng_who *who,
    const char *reason, int64_t **idsp, size_t *np, struct proto_err *err);

/* ---- sched.c ---- */
void sched_add(struct job *j);
void sched_put(struct job *j);
void sched_remove(struct job *j);
void sched_cb(evutil_socket_t fd, short what, void *arg);
void sched_now(struct job *j);
bool sched_retry(struct job *j, enum store_state state);
void sched_flush(struct job *j);
void sched_configure(struct job *j, const struct proto_submit *s);

/* ---- page.c ---- */
struct page *page_new(struct eng *e);
void page_configure(struct eng *e, const struct conf *c);
void page_free(struct page *p);
double page_horizon(struct eng *e);
int page_recover(struct eng *e);
bool page_keep(struct job *j);
void page_settle(struct job *j);
void page_drained(struct eng *e);
struct job *page_fetch(struct eng *e, int64_t id);

/* ---- prune.c ---- */
void prune_configure(struct eng *e, const struct conf *c);
void prune_cb(evutil_socket_t fd, short what, void *arg);
int prune_op(struct eng *e, const struct proto_prune *p, size_t *deleted,
    struct proto_err *err);

/* ---- retry.c ---- */
int retry_op(struct eng *e, int64_t id, const struct eng_who *who,
    struct proto_err *err);
int pause_op(struct eng *e, const char *queue, bool paused,
    struct proto_err *err);
int pause_load(struct eng *e);

/* ---- recover.c ---- */
int recover_run(struct eng *e);
int recover_one(void *arg, struct store_job *sj);
void recover_trips(struct eng *e);
int recover_fetch(struct eng *e, int64_t id);
struct job *recover_job(struct eng *e, struct equeue *q,
    const struct store_job *sj);

/* ---- nodes.c ---- */
void node_configure(struct eng *e, const struct conf *c);
int node_start(struct eng *e);
void node_free(struct eng *e);
int node_wait_remote(struct eng *e, int64_t id, double timeout);
int node_wait_group(struct eng *e, int64_t gid, double timeout);
int node_cancel_remote(struct eng *e, int64_t id, const struct eng_who *who,
    const char *reason, struct proto_err *err);
int node_cancel_group(struct eng *e, int64_t gid, const struct eng_who *who,
    const char *reason, int64_t **idsp, size_t *np, struct proto_err *err);

/* ---- pool.c ---- */
int pool_start(struct eng *e);
void pool_free(struct eng *e);
void pool_peers(struct eng *e, size_t n);
bool pool_wanted(const struct eng *e, const struct job *j,
    const struct proto_submit *s, size_t ahead);
int pool_submit(struct eng *e, struct job *j, const struct proto_submit *s,
    const struct eng_who *who, struct proto_err *err);

/* ---- users.c ---- */
int user_hold(struct eng *e, uid_t uid);
int user_count(struct job *j);
void user_detach(struct job *j);
void user_attach(struct job *j);
void user_uncount(struct job *j);
int user_limit(const struct eng *e, const struct eng_who *who, size_t n,
    struct proto_err *err);
int user_may_cancel(const struct eng *e, const struct eng_who *who,
    const struct job *j, struct proto_err *err);
int user_may_touch(const struct eng *e, const struct eng_who *who, uid_t uid,
    int64_t id, const char *verb, struct proto_err *err);
int user_need_admin(const struct eng *e, const struct eng_who *who,
    const char *what, struct proto_err *err);
bool user_may_see(const struct eng *e, const struct eng_who *who, uid_t uid);
void user_free_all(struct eng *e);

/* ---- deps.c ---- */
int deps_check(struct eng *e, const struct proto_submit *s,
    const struct eng_who *who, struct proto_err *err);
void deps_row(const struct proto_submit *s, struct store_new_job *row);
int deps_room(const struct equeue *q);
void deps_wait(struct job *j);
void deps_unwait(struct job *j);
void deps_changes(void *arg, const struct store_dep_change *c, size_t n);
void deps_moved(struct eng *e, const struct store_dep_change *c, size_t n);
void deps_reclaimed(struct job *j);
void deps_lost(struct eng *e);

/* ---- park.c ---- */
int park_job(struct job *j, double seconds, double started);
void park_stop(struct job *j);
void park_stop_all(struct eng *e);
void park_free(struct eng *e);

/* ---- engine.c ---- */
int eng_wait_on(struct co_waitq *q, double timeout);

/* Awaiting one store write from a task: init, pass eng_await_cb with a
 * to the write, then eng_await (shielded: a commit always comes, and the
 * callback's arg must outlive it) returns the write's status. */
struct eng_await {
	struct co_waitq q;
	bool done;
	int status;
};
void eng_await_init(struct eng_await *a);
void eng_await_cb(void *arg, int status);
int eng_await(struct eng_await *a);

#endif /* JOBD_ENGINE_INT_H */
