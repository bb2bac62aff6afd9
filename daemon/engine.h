/*
 * engine.h — the jobs jobd is working on: queues, workers, groups.
 *
 * The engine is asyncio's producer/consumer pattern with a database under
 * it.  Each configured queue is a bounded co_queue; a pool of worker
 * coroutines (up to the queue's `workers`, started when jobs are waiting
 * and ended after a while idle) takes jobs from it and runs each one's kind
 * under a deadline scope for the job's timeout.  Cancelling a running job
 * cancels its worker (a cancelled worker ends after recording the job and
 * a fresh one takes its place).  Every change of a job's state is a store
 * write; submitters hear "accepted" and waiters hear "ended" only from the
 * write's commit callback ("committed before told").
 *
 * Only jobs that have not ended live in memory (a map by id); ended jobs
 * are read back from the store.  All calls run on the loop thread; the
 * ones marked "task" await and must run in a task.
 */
#ifndef JOBD_ENGINE_H
#define JOBD_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto.h"

struct co_rt;
struct conf;
struct eng;
struct store;
struct store_submitter;

/* Every submit's outcome, from the commit callback of its insert.  status
 * 0: the job (group) is in the database with these ids; otherwise the
 * store's error (store_errmsg() says why, inside the callback) and nothing
 * was recorded.  A group's job ids are first_id .. first_id + n - 1. */
struct eng_ack {
	int64_t id;             /* the job's id, or a group's first job */
	int64_t group;          /* 0 for a lone job */
	size_t n;               /* jobs: 1, or the group's size */
	/* A lone job's unique_key (or schedule slot) was held: nothing was
	 * made, id is the job that holds it, and status is 0. */
	bool duplicate;
};
typedef void (*eng_done_fn)(void *arg, int status, const struct eng_ack *ack);

/* Who asks: the peer of the request's connection (SO_PEERCRED and
 * SO_PEERGROUPS).  The engine records the submitter of each job, refuses
 * a cancel of another user's job, and counts each user's queued jobs
 * against max_queued_per_user; root (uid 0) and members of admin_group
 * (primary or supplementary) may cancel anyone's jobs and have no limit.
 * Where a call takes a who, NULL means jobd itself (tests, tools): nothing
 * is recorded, no limit applies and any job may be cancelled.  uid
 * ENG_NOBODY is a peer jobd could not identify: it owns no job. */
struct eng_who {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	const gid_t *groups;    /* supplementary groups; borrowed */
	size_t ngroups;
};
#define ENG_NOBODY ((uid_t)-1)

/* Visibility (docs/SECURITY.md).  With [daemon] visibility = own, who
 * sees only the jobs its uid submitted; root, members of admin_group,
 * jobd's own uid and jobd itself (who NULL) see every job, as everyone
 * does with visibility = all.  A job who may not see is, for who, a job
 * that does not exist: the ops answer not_found, with the same message.
 * eng_may_see: may who see a job submitted by by (by->known false: no
 * submitter recorded; only those who see all see it)?
 * eng_sees_only: true with *uidp = the uid whose jobs alone who sees (a
 * list filters by it); false when who sees every job. */
bool eng_may_see(const struct eng *e, const struct eng_who *who,
    const struct store_submitter *by);
bool eng_sees_only(const struct eng *e, const struct eng_who *who,
    uid_t *uidp);

/* A new engine for the jobs in st, running tasks on rt.  NULL (ENOMEM). */
struct eng *eng_new(struct co_rt *rt, struct store *st);

/* How exec jobs are contained (exec_iso.h); borrowed, outlives e.  Call
 * before the first eng_configure; without it, process groups only. */
struct exec_iso;
void eng_isolate(struct eng *e, struct exec_iso *iso);
struct met;
struct watch_hub;

/* Count into m (metrics.h) and publish every job change to h (watch.h);
 * either may be NULL (off).  Call before the first eng_configure; both
 * must outlive the engine. */
void eng_observe(struct eng *e, struct met *m, struct watch_hub *h);

/* Apply c's queues, the kinds' settings, admin_group, visibility and
 * max_queued_per_user: at start and on every reload (docs/CONFIG.md says
 * what changes live).  c need not outlive the call.  0 or -ENOMEM (then some
 * queues may have been applied; the rest keep their old settings). */
int eng_configure(struct eng *e, const struct conf *c);

/* Crash recovery, once, after the first eng_configure and before serving:
 * jobs left queued or running by the last run enter their queues again
 * (past capacity); jobs of queues no longer configured end failed.
 * 0 or a store error. */
int eng_recover(struct eng *e);

/* Submit one job for who (task).  Waits while its queue is full unless
 * s->nowait.  On 0, done(arg, ...) is called exactly once, from the
 * insert's commit.  On a negative errno done is never called and err says
 * why (the code is the wire code: unknown_queue, unknown_kind,
 * bad_request, forbidden, queue_full — the queue's capacity with nowait,
 * or who's max_queued_per_user at once — shutting_down, internal). */
int eng_submit(struct eng *e, const struct proto_submit *s,
    const struct eng_who *who, eng_done_fn done, void *arg,
    struct proto_err *err);

/* Submit a group (task), all or nothing; see eng_submit.  With g->nowait
 * every job must fit its queue now; without, the group is recorded at
 * once and its jobs enter their queues as room frees (this call returns
 * once they all have).  The whole group must fit who's limit. */
int eng_submit_group(struct eng *e, const struct proto_submit_group *g,
    const struct eng_who *who, eng_done_fn done, void *arg,
    struct proto_err *err);

/* Wait until job id's insert has committed (task): a request after a
 * submit on one connection must see the job.  0 at once for ids the engine
 * does not hold; -ECANCELED. */
int eng_settle(struct eng *e, int64_t id);

/* Wait until every insert submitted so far has completed (task): a list
 * after submits on one connection must show those jobs.  0 or -ECANCELED. */
int eng_settle_all(struct eng *e);

/* Wait until job id (or every job of group gid) has ended and its end is
 * committed (task).  timeout in seconds, negative for none.  0 (also when
 * the engine does not hold it: then it ended earlier or never existed —
 * the store knows which), -ETIMEDOUT, -ECANCELED, -EIO (the end could not
 * be recorded). */
int eng_wait_job(struct eng *e, int64_t id, double timeout);
int eng_wait_group(struct eng *e, int64_t gid, double timeout);

/* Cancel job id for who with reason (NULL: a default) and wait until it
 * has stopped and its end is committed (task).  0: it ended cancelled.
 * -ENOENT: the engine does not hold it (ended or unknown: ask the store),
 * or who may not see it (the store's answer must then say the same).
 * -EPERM: who sees it but may not cancel it (visibility = all; err says
 * why; nothing was done).
 * -EALREADY: it ended otherwise while being cancelled (err says how).
 * -EIO: its end could not be recorded.  -ECANCELED. */
int eng_cancel_job(struct eng *e, int64_t id, const struct eng_who *who,
    const char *reason, struct proto_err *err);

/* Cancel every job of group gid that has not ended, for who, and wait
 * for them (task).  On 0, *idsp (malloc'd, caller frees) holds the *np
 * ids it cancelled, n >= 1.  -ENOENT: the engine holds no job of the
 * group, or who may not see one of them.  -EPERM: a job not ended is not
 * who's to cancel (visibility = all); then none is cancelled (err says
 * why).  -ENOMEM, -EIO, -ECANCELED. */
int eng_cancel_group(struct eng *e, int64_t gid, const struct eng_who *who,
    const char *reason, int64_t **idsp, size_t *np, struct proto_err *err);

/* Pause (or resume) queue for who (task): root or admin_group only
 * (-EPERM, forbidden).  Answers once it is recorded (kept across
 * restarts).  -ENOENT unknown_queue; a store error. */
int eng_pause(struct eng *e, const char *queue, bool paused,
    const struct eng_who *who, struct proto_err *err);

/* The retry op (task): a failed, timed_out or cancelled job goes back to
 * queued (same id, attempts go on), a scheduled one is ready now.  0;
 * else err says: not_found, not_retryable, forbidden (not who's job),
 * unknown_queue, shutting_down, storage_error. */
int eng_retry(struct eng *e, int64_t id, const struct eng_who *who,
    struct proto_err *err);

/* The prune op (task): delete ended jobs finished before p->before (of
 * p->states, 0: every ended state) with their attempts, in batches;
 * *deleted gets the count.  Root or admin_group only. */
int eng_prune(struct eng *e, const struct proto_prune *p,
    const struct eng_who *who, size_t *deleted, struct proto_err *err);

/* One queue as stats shows it. */
struct eng_queue_info {
	const char *name;       /* valid until the next eng_configure */
	size_t queued;          /* waiting in the queue */
	size_t running;
	int workers;            /* the configured bound */
	int capacity;
	bool configured;        /* false: removed by a reload, still draining */
	size_t scheduled;       /* waiting for their run_at */
	size_t waiting;         /* waiting for dependencies (none yet) */
	bool paused;
};

/* Queue i (0 <= i), or -ENOENT past the last. */
int eng_queue_info(const struct eng *e, size_t i, struct eng_queue_info *qi);

/* Counters since start. */
struct eng_counters {
	uint64_t submitted;     /* jobs accepted (committed) */
	uint64_t ended[6];      /* by enum store_state (the ended ones) */
	uint64_t requeued;      /* stopped by a shutdown, back to queued */
	uint64_t retried;       /* ended failed/timed_out, retried later */
	uint64_t store_errors;  /* writes that failed */
	uint64_t duplicates;    /* submits answered with a holder (unique) */
	size_t live;            /* jobs in memory (not ended) */
};
void eng_counters(const struct eng *e, struct eng_counters *c);

/* Graceful stop (task): refuse submits from now on (shutting_down), stop
 * starting jobs, give running ones grace seconds to end, then cancel the
 * rest back to queued (or failed, out of attempts), and return once every
 * worker has ended.  The store writes it made still need a store_flush. */
void eng_shutdown(struct eng *e, double grace);

/* Has eng_shutdown begun? */
bool eng_stopping(const struct eng *e);

/* Free the engine and the jobs still in memory (queued ones stay queued
 * in the database).  Call after eng_shutdown and store_flush/close.
 * NULL is a no-op. */
void eng_free(struct eng *e);

#endif /* JOBD_ENGINE_H */
