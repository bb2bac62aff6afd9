/*
 * engine.c — queues, workers and groups of the jobs in flight (engine.h).
 *
 * A job's life in memory:
 *
 *   NEW ──put──▶ INQ ──worker takes──▶ TAKEN ──insert committed──▶ RUNNING
 *                 │                      │                           │
 *                 └──────── cancel ──────┴──────── end ──────────────┴──▶ ENDING ──commit──▶ freed
 *
 * A lone submit waits for room first and is inserted once it holds a place
 * in its queue, so a submit interrupted while it waits (jobd stopping)
 * leaves no row behind.  A group is inserted first (all or nothing) and its jobs then
 * enter as room frees: a group larger than its queue could otherwise never
 * be recorded.  A worker never starts a job before its insert committed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "co.h"
#include "co_queue.h"
#include "co_sched.h"
#include "conf.h"
#include "engine.h"
#include "idmap.h"
#include "kind.h"
#include "log.h"
#include "metrics.h"
#include "store.h"
#include "watch.h"

/* A worker with nothing to do for this long ends; the queue starts a new
 * one when work comes.  Idle workers would otherwise hold a stack each. */
#define WORKER_IDLE 10.0

/* A job's end the database did not take is written again after
 * END_RETRY_MIN s, doubling up to END_RETRY_MAX s while it keeps failing. */
#define END_RETRY_MIN 0.25
#define END_RETRY_MAX 4.0

enum job_where { J_NEW, J_PUTTING, J_INQ, J_TAKEN, J_RUNNING, J_ENDING };
enum job_stop { STOP_NONE, STOP_CANCEL, STOP_SHUTDOWN };

struct equeue;
struct egroup;

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
	bool counted;                   /* in its user's queued count */
	enum job_where where;
	bool inserted, insert_failed;
	enum job_stop stop;
	enum store_state end_state;     /* once ENDING */
	json_t *end_result;             /* ENDING, not yet written: */
	char *end_text;                 /* (the result as JSON text, once */
	char *end_error;                /* written) what the end says */
	bool deferred;                  /* its end write failed; retried */
	double end_at;                  /* when it ended (Unix time) */
	TAILQ_ENTRY(job) end_link;      /* on eng.ends until written */
	char *cancel_reason;            /* for STOP_CANCEL */
	struct co_task *task;           /* its worker, while RUNNING */
	struct co_waitq insertq;        /* waiting for the insert's commit */
	struct co_waitq doneq;          /* waiting for the end's commit */
	eng_done_fn done;               /* the submitter's answer */
	void *done_arg;
	char *name;                     /* for events; NULL: none */
	double created_at, started_at;  /* Unix times, as stored */
	double ready_at;                /* entered its queue (queue wait) */
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

struct worker {
	struct equeue *q;
	struct co_task *task;
	struct job *job;                /* the one it has taken */
	bool idle;
	bool quit;                      /* set before the task first ran */
	LIST_ENTRY(worker) link;
};

struct equeue {
	struct eng *e;
	char *name;
	struct co_queue *cq;
	int workers, capacity, max_attempts;
	double timeout;
	bool configured;
	int nworkers;
	size_t pending;                 /* put and not yet taken or removed */
	size_t nwaiting;                /* workers inside co_queue_get */
	size_t nstarting;               /* workers spawned, not yet run */
	size_t running;
	size_t tmp;                     /* scratch: a group's demand */
	struct met_queue *met;          /* its counters; NULL: none */
	LIST_HEAD(, worker) wlist;
	TAILQ_ENTRY(equeue) link;
};

struct eng {
	struct co_rt *rt;
	struct store *st;
	struct kind_env *kenv;          /* the kinds' shared state */
	struct idmap *jobs, *groups;
	struct idmap *users;            /* uid + 1 -> struct euser */
	gid_t admin_gid;                /* admin_group; (gid_t)-1: none */
	int max_queued;                 /* max_queued_per_user; 0 = none */
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
	struct eng_counters c;
	struct met *met;                /* counters, histograms; or NULL */
	struct watch_hub *hub;          /* job events; or NULL */
};

static void job_end(struct job *j, enum store_state state, json_t *result,
    const char *error);
static void queue_staff(struct equeue *q);
static void job_entered(struct job *j);

/* ---- queues ------------------------------------------------------------- */

static struct equeue *
queue_find(struct eng *e, const char *name)
{
	struct equeue *q;

	TAILQ_FOREACH(q, &e->queues, link)
		if (strcmp(q->name, name) == 0)
			return q;
	return NULL;
}

static struct equeue *
queue_new(struct eng *e, const char *name)
{
	struct equeue *q;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	if ((q->name = strdup(name)) == NULL ||
	    (q->cq = co_queue_new(0)) == NULL) {
		free(q->name);
		free(q);
		return NULL;
	}
	q->e = e;
	q->met = e->met != NULL ? met_queue(e->met, name) : NULL;
	LIST_INIT(&q->wlist);
	TAILQ_INSERT_TAIL(&e->queues, q, link);
	e->nqueues++;
	return q;
}

static int
queue_apply(struct equeue *q, const struct conf_queue *cq)
{
	struct worker *w;
	int excess;

	if (co_queue_set_capacity(q->cq, (size_t)cq->capacity) < 0)
		return -ENOMEM;
	q->capacity = cq->capacity;
	q->workers = cq->workers;
	q->timeout = cq->timeout;
	q->max_attempts = cq->max_attempts;
	q->configured = true;
	/* Fewer workers: idle ones leave now, busy ones after their job. */
	excess = q->nworkers - q->workers;
	LIST_FOREACH(w, &q->wlist, link) {
		if (excess <= 0)
			break;
		if (w->idle) {
			w->quit = true;
			if (w->task != NULL)
				co_cancel(w->task);
			excess--;
		}
	}
	queue_staff(q);
	return 0;
}

/* The [daemon] settings the kinds read. */
static void
kinds_conf(const struct conf *c, struct kind_conf *kc)
{
	const struct conf_daemon *d = conf_daemon(c);
	long ncpu;

	kc->max_output = d->max_output;
	kc->kill_grace = d->kill_grace;
	kc->exec_concurrency = d->exec_concurrency;
	if (kc->exec_concurrency == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		kc->exec_concurrency = ncpu > 0 ? (int)ncpu : 1;
	}
	kc->http_per_host = d->http_per_host;
	kc->allow_exec = d->allow_exec;
	kc->allow_http = d->allow_http;
}

int
eng_configure(struct eng *e, const struct conf *c)
{
	const struct conf_queue *cq;
	struct kind_conf kc;
	struct equeue *q;
	size_t i;
	int rc;

	e->admin_gid = conf_daemon(c)->admin_group.gid;
	e->max_queued = conf_daemon(c)->max_queued_per_user;
	kinds_conf(c, &kc);
	if (e->kenv != NULL)
		kind_env_reconf(e->kenv, &kc);
	else if ((rc = kind_env_open(co_rt_base(e->rt), &kc, &e->kenv)) < 0)
		return rc;
	TAILQ_FOREACH(q, &e->queues, link)
		q->configured = false;
	for (i = 0; i < conf_queue_count(c); i++) {
		cq = conf_queue(c, i);
		if ((q = queue_find(e, cq->name)) == NULL &&
		    (q = queue_new(e, cq->name)) == NULL)
			return -ENOMEM;
		if (queue_apply(q, cq) < 0)
			return -ENOMEM;
	}
	TAILQ_FOREACH(q, &e->queues, link)
		if (!q->configured)
			log_info("queue %s: removed from the configuration; "
			    "its %zu queued jobs still run", q->name,
			    co_queue_len(q->cq));
	return 0;
}

/* Put j into its queue, past its capacity if need be (recovery, or a
 * group whose submitter left): these jobs are recorded and must run. */
static int
queue_force(struct equeue *q, struct job *j)
{
	int rc;

	if (co_queue_put_nowait(q->cq, j) == 0)
		return 0;
	if ((rc = co_queue_set_capacity(q->cq, 0)) < 0)
		return rc;
	rc = co_queue_put_nowait(q->cq, j);
	(void)co_queue_set_capacity(q->cq, (size_t)q->capacity);
	return rc;
}

/* ---- jobs ----------------------------------------------------------------- */

static void user_uncount(struct job *j);

static void
job_free(struct job *j)
{
	user_uncount(j);
	json_decref(j->args);
	json_decref(j->end_result);
	free(j->end_text);
	free(j->end_error);
	free(j->cancel_reason);
	free(j->name);
	free(j);
}

static void group_member_done(struct egroup *g, struct job *j, int status);

/* Forget a job whose insert failed: it never existed for anyone. */
static void
job_forget(struct job *j)
{
	if (j->id > 0 && idmap_get(j->e->jobs, j->id) == j)
		idmap_del(j->e->jobs, j->id);
	co_waitq_wake_all(&j->insertq, -EIO);
	co_waitq_wake_all(&j->doneq, -EIO);
	if (j->g != NULL)
		group_member_done(j->g, j, -EIO);
	job_free(j);
}

static struct job *
job_new(struct eng *e, struct equeue *q, const struct kind *k, json_t *args,
    double timeout, int max_attempts)
{
	struct job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->e = e;
	j->q = q;
	j->kind = k;
	j->args = json_incref(args);
	j->timeout = timeout;
	j->max_attempts = max_attempts;
	j->uid = ENG_NOBODY;
	j->created_at = j->ready_at = store_now();
	co_waitq_init(&j->insertq);
	co_waitq_init(&j->doneq);
	return j;
}

/* ---- events and counters ------------------------------------------------- */

/* Every state change of j passes here once it is committed (a start once
 * it is sent: a pure kind does not wait for it): the counters, then one
 * event for the watchers (watch.h). */
static void
job_observe(struct job *j, enum store_state state)
{
	/* A recovered job may have lost its queue or kind (it ends failed). */
	struct met_queue *mq = j->q != NULL ? j->q->met : NULL;
	struct watch_job wj;

	if (state == STORE_QUEUED && j->attempts == 0)
		met_submitted(mq, j->kind);
	else if (state == STORE_RUNNING)
		met_started(mq, j->started_at - j->ready_at);
	else if (store_state_ended(state))
		met_ended(mq, j->kind, state, j->started_at >= j->ready_at
		    && j->started_at > 0 ? j->end_at - j->started_at : -1);
	if (j->e->hub == NULL || watch_count(j->e->hub) == 0)
		return;
	wj = (struct watch_job){ .id = j->id, .group = j->g ? j->g->id : 0,
	    .queue = j->q != NULL ? j->q->name : "",
	    .kind = j->kind != NULL ? j->kind->name : "", .name = j->name,
	    .state = state, .args = j->args, .attempts = j->attempts,
	    .max_attempts = j->max_attempts, .timeout = j->timeout,
	    .created_at = j->created_at, .started_at = j->started_at };
	if (store_state_ended(state)) {
		wj.finished_at = j->end_at;
		wj.result = j->end_text;
		wj.error = j->end_error;
		if (state == STORE_CANCELLED)
			wj.cancel_reason = j->cancel_reason != NULL ?
			    j->cancel_reason : "cancelled";
	}
	watch_publish(j->e->hub, &wj);
}

void
eng_observe(struct eng *e, struct met *m, struct watch_hub *h)
{
	struct equeue *q;

	e->met = m;
	e->hub = h;
	TAILQ_FOREACH(q, &e->queues, link)
		q->met = m != NULL ? met_queue(m, q->name) : NULL;
}

/* The state a job that a cancel, timeout or stop interrupted ends in;
 * result is what the kind had so far (a stopped exec keeps its output). */
static void
job_interrupted(struct job *j, int rc, json_t *result)
{
	char msg[128];

	if (rc == -ETIMEDOUT) {
		snprintf(msg, sizeof(msg), "timed out after %g s", j->timeout);
		job_end(j, STORE_TIMED_OUT, result, msg);
	} else if (j->stop == STOP_SHUTDOWN) {
		job_end(j, STORE_QUEUED, result, NULL); /* requeue or fail */
	} else {
		job_end(j, STORE_CANCELLED, result, NULL);
	}
}

static void
job_started(void *arg, int status)
{
	struct job *j = arg;

	if (status < 0)
		log_warnx("job %lld: recording its start: %s", (long long)j->id,
		    store_errmsg());
	/* Writes complete in order: j's end, submitted after this, has not
	 * completed, so j is still here. */
	co_waitq_wake_all(&j->insertq, status < 0 ? status : 0);
}

/* Record the start.  A kind acting outside jobd (a process, a request)
 * waits for the commit, so `attempts` counts each of its runs even
 * across a crash and max_attempts bounds them; a pure one need not. */
static int
job_mark_started(struct job *j, struct kind_run *run)
{
	bool wait = !j->kind->pure;
	int rc;

	j->started_at = store_now();
	if (store_mark_started(j->e->st, j->id, j->started_at,
	    wait ? job_started : NULL, j) < 0) {
		kind_error(run, "cannot record the start: %s", store_errmsg());
		return -EIO;
	}
	job_observe(j, STORE_RUNNING);
	if (!wait)
		return 0;
	rc = co_waitq_wait(&j->insertq, CO_FOREVER, NULL);
	if (rc < 0 && rc != -ECANCELED && rc != -ETIMEDOUT)
		kind_error(run, "cannot record the start: %s", strerror(-rc));
	return rc;
}

/* Run the job's kind on this worker under the job's deadline. */
static void
job_run(struct job *j)
{
	struct kind_run run = { .job_id = j->id, .args = j->args };
	struct co_scope scope;
	int rc, expired;

	j->where = J_RUNNING;
	j->task = co_self();
	j->attempts++;
	user_uncount(j);
	j->q->running++;
	j->e->running++;
	log_debug("job %lld: running (queue %s, attempt %d)",
	    (long long)j->id, j->q->name, j->attempts);
	kind_env_prepare(j->e->kenv, j->kind, &run);
	co_scope_enter(&scope, j->timeout > 0 ? j->timeout : CO_FOREVER);
	if ((rc = job_mark_started(j, &run)) == 0)
		rc = j->kind->run(&run);
	expired = co_scope_exit(&scope);
	if (rc == 0) {
		job_end(j, STORE_SUCCEEDED, run.result, NULL);
	} else if (rc == -ECANCELED || (rc == -ETIMEDOUT && expired < 0)) {
		job_interrupted(j, expired < 0 ? -ETIMEDOUT : rc, run.result);
	} else {
		job_end(j, STORE_FAILED, run.result, run.error[0] != '\0' ?
		    run.error : strerror(-rc));
	}
}

/* The worker's part: wait for the insert, then run it unless stopped. */
static void
job_take(struct job *j)
{
	j->where = J_TAKEN;
	/* job_lost wakes us with -EIO: that is the insert failing (forget
	 * the job below), not this worker being stopped. */
	while (!j->inserted && !j->insert_failed)
		if (co_waitq_wait(&j->insertq, CO_FOREVER, NULL) < 0 &&
		    !j->insert_failed) {
			j->where = J_INQ;       /* shutdown: stays queued */
			return;
		}
	if (j->insert_failed) {
		job_forget(j);
		return;
	}
	if (j->stop == STOP_CANCEL)
		job_end(j, STORE_CANCELLED, NULL, NULL);
	else if (j->e->stopping)
		j->where = J_INQ;               /* stays queued for next start */
	else
		job_run(j);
}

/* ---- users: who may do what ---------------------------------------------- */

/* A user's jobs counted against max_queued_per_user: each from its submit
 * (or recovery) until it starts or ends.  In e->users under uid + 1
 * (idmap keys are > 0) while the count is not 0. */
struct euser {
	size_t queued;
};

/* Root, or a member of admin_group by primary or supplementary group. */
static bool
who_admin(const struct eng *e, const struct eng_who *who)
{
	size_t i;

	if (who->uid == 0)
		return true;
	if (e->admin_gid == (gid_t)-1)
		return false;
	if (who->gid == e->admin_gid)
		return true;
	for (i = 0; i < who->ngroups; i++)
		if (who->groups[i] == e->admin_gid)
			return true;
	return false;
}

/* Count j for its submitter.  0 or -ENOMEM. */
static int
user_count(struct job *j)
{
	int64_t key = (int64_t)j->uid + 1;
	struct euser *u;

	if (j->uid == ENG_NOBODY)
		return 0;
	if ((u = idmap_get(j->e->users, key)) == NULL) {
		if ((u = calloc(1, sizeof(*u))) == NULL)
			return -ENOMEM;
		if (idmap_put(j->e->users, key, u) < 0) {
			free(u);
			return -ENOMEM;
		}
	}
	u->queued++;
	j->counted = true;
	return 0;
}

/* j has left queued (started, ended or gone): it counts no more. */
static void
user_uncount(struct job *j)
{
	int64_t key = (int64_t)j->uid + 1;
	struct euser *u;

	if (!j->counted)
		return;
	j->counted = false;
	if ((u = idmap_get(j->e->users, key)) != NULL && --u->queued == 0)
		free(idmap_del(j->e->users, key));
}

/* Refuse n more queued jobs of who past max_queued_per_user (-EAGAIN). */
static int
user_limit(const struct eng *e, const struct eng_who *who, size_t n,
    struct proto_err *err)
{
	const struct euser *u;
	size_t have;

	if (who == NULL || e->max_queued == 0 || who_admin(e, who))
		return 0;
	u = idmap_get(e->users, (int64_t)who->uid + 1);
	have = u != NULL ? u->queued : 0;
	if (have + n <= (size_t)e->max_queued)
		return 0;
	if (n == 1)
		proto_err_set(err, PROTO_QUEUE_FULL, "user %u has %zu jobs "
		    "queued (max_queued_per_user = %d)", (unsigned)who->uid,
		    have, e->max_queued);
	else
		proto_err_set(err, PROTO_QUEUE_FULL, "user %u has %zu jobs "
		    "queued; %zu more would pass max_queued_per_user = %d",
		    (unsigned)who->uid, have, n, e->max_queued);
	return -EAGAIN;
}

/* May who cancel j?  Its submitter, root, admin_group and jobd itself
 * may; -EPERM with err set otherwise. */
static int
user_may_cancel(const struct eng *e, const struct eng_who *who,
    const struct job *j, struct proto_err *err)
{
	if (who == NULL || who_admin(e, who) ||
	    (j->uid != ENG_NOBODY && j->uid == who->uid))
		return 0;
	if (j->uid == ENG_NOBODY)
		proto_err_set(err, PROTO_FORBIDDEN, "job %lld has no recorded "
		    "submitter: only root or a member of admin_group may "
		    "cancel it", (long long)j->id);
	else
		proto_err_set(err, PROTO_FORBIDDEN, "job %lld belongs to user "
		    "%u: only that user, root or a member of admin_group may "
		    "cancel it", (long long)j->id, (unsigned)j->uid);
	return -EPERM;
}

/* ---- groups ------------------------------------------------------------- */

static void cancel_job(struct job *j, const char *reason);

/* fail_fast: member id ended failed or timed_out; cancel the others. */
static void
group_trip(struct egroup *g, int64_t id, enum store_state state,
    const char *error)
{
	char reason[PROTO_REASON_MAX];
	size_t i;

	g->tripped = true;
	snprintf(reason, sizeof(reason), "fail_fast: job %lld of group %lld "
	    "ended %s%s%.900s%s", (long long)id, (long long)g->id,
	    store_state_name(state), error != NULL ? " (" : "",
	    error != NULL ? error : "", error != NULL ? ")" : "");
	for (i = 0; i < g->n; i++)
		if (g->jobs[i] != NULL && g->jobs[i]->id != id)
			cancel_job(g->jobs[i], reason);
}

static void
group_free(struct egroup *g)
{
	if (g->id > 0 && idmap_get(g->e->groups, g->id) == g)
		idmap_del(g->e->groups, g->id);
	free(g->trip_error);
	free(g->jobs);
	free(g);
}

/* A member's end has committed (or failed to).  The group goes when its
 * last member has ended and its submitter is done with it. */
static void
group_member_done(struct egroup *g, struct job *j, int status)
{
	if (j->id >= g->first && (size_t)(j->id - g->first) < g->n)
		g->jobs[j->id - g->first] = NULL;
	if (status < 0)
		g->failed_write = true;
	if (--g->live > 0)
		return;
	co_waitq_wake_all(&g->doneq, g->failed_write ? -EIO : 0);
	if (g->holds == 0)
		group_free(g);
}

/* ---- ending ------------------------------------------------------------- */

/* The end of j did not make it to the database (full, locked, read-only,
 * gone): keep it in memory, where its waiters go on waiting, and write it
 * again later, so that no job stays running in the database once the
 * fault clears.  Not for a damaged database (-EUCLEAN: trying again does
 * not help) or a write refused on its own, nor after the stop's last try. */
static bool
end_defer(struct job *j, int status)
{
	struct eng *e = j->e;
	struct timeval tv;

	if (e->final || status == -ENOENT || status == -EINVAL ||
	    status == -EUCLEAN)
		return false;
	e->c.store_errors++;
	if (!j->deferred) {
		j->deferred = true;
		if (e->ndeferred++ == 0)
			log_warnx("job %lld: its end (%s) is kept in memory and "
			    "written again until the database takes it",
			    (long long)j->id, store_state_name(j->end_state));
	}
	if (TAILQ_EMPTY(&e->retry)) {
		e->retry_delay = e->retry_delay == 0 ? END_RETRY_MIN :
		    e->retry_delay * 2 > END_RETRY_MAX ? END_RETRY_MAX :
		    e->retry_delay * 2;
		tv.tv_sec = (time_t)e->retry_delay;
		tv.tv_usec = (suseconds_t)((e->retry_delay - tv.tv_sec) * 1e6);
		event_add(e->retry_ev, &tv);
	}
	TAILQ_INSERT_TAIL(&e->retry, j, end_link);
	return true;
}

/* A write has just committed: the database works again, so write the
 * deferred ends now rather than when their timer says. */
static void
retry_soon(struct eng *e)
{
	e->retry_delay = 0;
	if (!TAILQ_EMPTY(&e->retry) && !e->final) {
		event_del(e->retry_ev);
		event_active(e->retry_ev, EV_TIMEOUT, 0);
	}
}

/* A deferred end is settled, written or given up. */
static void
end_settled(struct job *j, int status)
{
	struct eng *e = j->e;

	if (status == 0)
		retry_soon(e);
	if (!j->deferred)
		return;
	if (--e->ndeferred == 0 && status == 0)
		log_info("job %lld: its end is recorded, the last of those kept "
		    "in memory", (long long)j->id);
}

static void
job_ended(void *arg, int status)
{
	struct job *j = arg;
	struct eng *e = j->e;

	if (status < 0 && end_defer(j, status))
		return;
	if (status < 0) {
		e->c.store_errors++;
		log_warnx("job %lld: its end (%s) was not recorded: %s%s",
		    (long long)j->id, store_state_name(j->end_state),
		    store_errmsg(), e->final ? "; the database still shows "
		    "it unfinished, and the next start recovers it as "
		    "interrupted" : "");
	}
	end_settled(j, status);
	if (status == 0)
		job_observe(j, j->end_state);
	idmap_del(e->jobs, j->id);
	co_waitq_wake_all(&j->doneq, status < 0 ? -EIO : (int)j->end_state);
	if (j->g != NULL)
		group_member_done(j->g, j, status);
	job_free(j);
}

static void
job_requeued(void *arg, int status)
{
	struct job *j = arg;

	if (status < 0) {
		j->e->c.store_errors++;
		log_warnx("job %lld: not requeued: %s", (long long)j->id,
		    store_errmsg());
	} else {
		j->ready_at = store_now();
		job_observe(j, STORE_QUEUED);
	}
	j->where = J_INQ;               /* in the database; memory is done */
}

static void
job_not_running(struct job *j)
{
	if (j->where != J_RUNNING)
		return;
	j->task = NULL;
	j->q->running--;
	if (--j->e->running == 0)
		co_waitq_wake_all(&j->e->idleq, 0);
}

/* Send the end writes of the jobs that ended since the last call.  It runs
 * from a libevent callback on the loop's own stack, not on the workers':
 * formatting a result (printf of a double) is deep, and doing it on each
 * worker's stack would cost every sleeping job a second stack page. */
static void
ends_flush(struct eng *e)
{
	struct store_end end;
	struct job *j;
	int rc;

	while ((j = TAILQ_FIRST(&e->ends)) != NULL) {
		TAILQ_REMOVE(&e->ends, j, end_link);
		if (j->end_result != NULL) {
			j->end_text = json_dumps(j->end_result, JSON_COMPACT |
			    JSON_REAL_PRECISION(16));
			json_decref(j->end_result);
			j->end_result = NULL;
		}
		memset(&end, 0, sizeof(end));
		end.state = j->end_state;
		end.finished_at = j->end_at;
		end.result = j->end_text;
		end.error = j->end_error;
		if (j->end_state == STORE_CANCELLED)
			end.cancel_reason = j->cancel_reason != NULL ?
			    j->cancel_reason : "cancelled";
		if ((rc = store_mark_ended(e->st, j->id, &end, job_ended,
		    j)) < 0)
			job_ended(j, rc);
	}
}

/* Write the deferred ends again (see end_defer). */
static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct eng *e = arg;

	(void)fd;
	(void)what;
	TAILQ_CONCAT(&e->ends, &e->retry, end_link);
	ends_flush(e);
}

static void
ends_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	ends_flush(arg);
}

/* Record j's end (result's reference is taken).  STORE_QUEUED means
 * "stopped by a shutdown": back to queued while attempts remain, else
 * failed. */
static void
job_end(struct job *j, enum store_state state, json_t *result,
    const char *error)
{
	struct eng *e = j->e;
	char msg[96];

	job_not_running(j);
	user_uncount(j);
	if (state == STORE_QUEUED && j->attempts < j->max_attempts) {
		log_debug("job %lld: queued again (jobd stopping)",
		    (long long)j->id);
		json_decref(result);
		e->c.requeued++;
		if (store_requeue(e->st, j->id, job_requeued, j) < 0)
			job_requeued(j, -EIO);
		return;
	}
	if (state == STORE_QUEUED) {
		snprintf(msg, sizeof(msg), "interrupted (jobd stopped) after "
		    "%d attempt%s", j->attempts, j->attempts == 1 ? "" : "s");
		state = STORE_FAILED;
		error = msg;
	}
	j->where = J_ENDING;
	j->end_state = state;
	j->end_at = store_now();        /* not when the write goes out */
	j->end_result = result;
	j->end_error = error != NULL ? strdup(error) : NULL;
	e->c.ended[state]++;
	/* Log policy (docs/SYSTEMD.md): every state change at debug, a job
	 * that failed or timed out at info. */
	if (state == STORE_FAILED || state == STORE_TIMED_OUT)
		log_info("job %lld: %s%s%s", (long long)j->id,
		    store_state_name(state), error ? ": " : "",
		    error ? error : "");
	else
		log_debug("job %lld: %s", (long long)j->id,
		    store_state_name(state));
	if (TAILQ_EMPTY(&e->ends))
		event_active(e->ends_ev, 0, 0);
	TAILQ_INSERT_TAIL(&e->ends, j, end_link);
	if (j->g != NULL && j->g->mode == STORE_GROUP_FAIL_FAST &&
	    !j->g->tripped && (state == STORE_FAILED ||
	    state == STORE_TIMED_OUT))
		group_trip(j->g, j->id, state, error);
}

/* Stop j, wherever it is, with reason; returns at once.  Its end comes
 * through job_end like any other. */
static void
cancel_job(struct job *j, const char *reason)
{
	if (j->where == J_ENDING || j->stop == STOP_CANCEL)
		return;
	j->stop = STOP_CANCEL;
	free(j->cancel_reason);
	j->cancel_reason = strdup(reason != NULL ? reason : "cancelled");
	switch (j->where) {
	case J_PUTTING:         /* its submitter checks once it is in */
		break;
	case J_NEW:             /* its group's submitter has not put it yet */
		job_end(j, STORE_CANCELLED, NULL, NULL);
		break;
	case J_INQ:
		if (co_queue_remove(j->q->cq, j) == 0) {
			j->q->pending--;
			job_end(j, STORE_CANCELLED, NULL, NULL);
		}
		/* else handed to a worker that has yet to run: it checks */
		break;
	case J_TAKEN:           /* the worker checks after the insert */
		break;
	case J_RUNNING:
		co_cancel(j->task);
		break;
	case J_ENDING:
		break;
	}
}

/* ---- workers -------------------------------------------------------------- */

/* A reload told this idle worker to leave (cancelling it) just as a job
 * was handed to it: the job goes back for another worker, as the cancel
 * would make it end cancelled (or lost) here. */
static void
worker_give_back(struct equeue *q, struct job *j)
{
	if (queue_force(q, j) < 0) {
		log_warnx("job %lld: cannot go back to queue %s: out of "
		    "memory", (long long)j->id, q->name);
		job_end(j, STORE_FAILED, NULL, "out of memory");
		return;
	}
	job_entered(j);
}

static int
worker_main(void *arg)
{
	struct worker *w = arg;
	struct equeue *q = w->q;
	struct eng *e = q->e;
	void *item;
	int rc;

	w->task = co_self();
	q->nstarting--;
	while (!w->quit && !e->stopping && q->nworkers <= q->workers) {
		w->idle = true;
		q->nwaiting++;
		rc = co_queue_get_timeout(q->cq, &item, WORKER_IDLE);
		q->nwaiting--;
		w->idle = false;
		if (rc < 0)
			break;
		q->pending--;
		if (w->quit && !e->stopping) {
			worker_give_back(q, item);
			break;
		}
		w->job = item;
		job_take(item);
		w->job = NULL;
		if (co_cancelled())     /* sticky: this task is spent */
			break;
	}
	LIST_REMOVE(w, link);
	free(w);
	q->nworkers--;
	if (--e->nworkers == 0)
		co_waitq_wake_all(&e->goneq, 0);
	queue_staff(q);
	return 0;
}

/* Start workers while more jobs wait than workers are about to take them,
 * up to the queue's bound.  Counting jobs put but not yet taken (rather
 * than co_queue_len) includes the ones handed straight to a waiting
 * worker that has not run yet. */
static void
queue_staff(struct equeue *q)
{
	struct worker *w;

	if (q->e->stopping)
		return;
	while (q->nworkers < q->workers &&
	    q->pending > q->nwaiting + q->nstarting) {
		if ((w = calloc(1, sizeof(*w))) == NULL ||
		    co_spawn(q->e->rt, worker_main, w, NULL) < 0) {
			free(w);
			log_warnx("queue %s: cannot start a worker: out of "
			    "memory", q->name);
			return;
		}
		w->q = q;
		LIST_INSERT_HEAD(&q->wlist, w, link);
		q->nworkers++;
		q->nstarting++;
		q->e->nworkers++;
	}
}

/* ---- submitting ------------------------------------------------------------ */

/* The insert of a job or group failed: undo j in memory, wherever it is. */
static void
job_lost(struct job *j)
{
	j->insert_failed = true;
	switch (j->where) {
	case J_NEW:
		job_forget(j);
		break;
	case J_INQ:
		if (co_queue_remove(j->q->cq, j) == 0) {
			j->q->pending--;
			job_forget(j);
		}       /* else a worker has it and forgets it */
		break;
	case J_TAKEN:
		co_waitq_wake_all(&j->insertq, -EIO);
		break;
	case J_PUTTING:         /* its submitter checks once it is in */
	case J_RUNNING:         /* cannot be: workers wait for the insert */
	case J_ENDING:          /* cancelled meanwhile: its end fails too */
		break;
	}
}

/* An insert has completed: inserts complete in the order they were sent,
 * so "done >= n" means the first n have. */
static void
insert_completed(struct eng *e)
{
	e->ins_done++;
	if (!co_waitq_empty(&e->settleq))
		co_waitq_wake_all(&e->settleq, 0);
}

static void
job_inserted(void *arg, int status)
{
	struct job *j = arg;
	struct eng_ack ack = { .id = j->id, .n = 1 };
	eng_done_fn done = j->done;
	void *darg = j->done_arg;

	j->done = NULL;
	insert_completed(j->e);
	if (status == 0) {
		log_debug("job %lld: queued (queue %s)", (long long)j->id,
		    j->q->name);
		j->inserted = true;
		j->e->c.submitted++;
		retry_soon(j->e);
		job_observe(j, STORE_QUEUED);
		co_waitq_wake_all(&j->insertq, 0);
	} else {
		j->e->c.store_errors++;
	}
	done(darg, status, &ack);       /* store_errmsg() still valid */
	if (status < 0)
		job_lost(j);
}

static void
group_inserted(void *arg, int status)
{
	struct egroup *g = arg;
	struct eng_ack ack = { .id = g->first, .group = g->id, .n = g->n };
	size_t i;

	insert_completed(g->e);
	if (status == 0) {
		g->e->c.submitted += g->n;
		retry_soon(g->e);
	} else {
		g->e->c.store_errors++;
	}
	g->done(g->done_arg, status, &ack);
	g->holds++;
	for (i = 0; i < g->n; i++) {
		struct job *j = g->jobs[i];

		if (j == NULL)
			continue;
		if (status == 0) {
			log_debug("job %lld: queued (queue %s, group %lld)",
			    (long long)j->id, j->q->name, (long long)g->id);
			j->inserted = true;
			job_observe(j, STORE_QUEUED);
			co_waitq_wake_all(&j->insertq, 0);
		} else {
			job_lost(j);
		}
	}
	if (--g->holds == 0 && g->live == 0)
		group_free(g);
}

/* A job the submitter has just put: see whether it was cancelled or lost
 * while its put waited, and start a worker for it. */
static void
job_entered(struct job *j)
{
	j->where = J_INQ;
	j->q->pending++;
	if ((j->stop == STOP_CANCEL || j->insert_failed) &&
	    co_queue_remove(j->q->cq, j) == 0) {
		j->q->pending--;
		if (j->insert_failed)
			job_forget(j);
		else
			job_end(j, STORE_CANCELLED, NULL, NULL);
		return;
	}
	queue_staff(j->q);
}

/* Check one job's fields: its queue, its kind, the kind's args. */
static int
submit_check(struct eng *e, const struct proto_submit *s, struct equeue **qp,
    const struct kind **kp, struct proto_err *err)
{
	struct equeue *q = queue_find(e, s->queue);

	if (q == NULL || !q->configured) {
		proto_err_set(err, PROTO_UNKNOWN_QUEUE, "no queue named \"%s\"",
		    s->queue);
		return -EINVAL;
	}
	if ((*kp = kind_find(s->kind)) == NULL) {
		proto_err_set(err, PROTO_UNKNOWN_KIND, "no job kind named "
		    "\"%s\"", s->kind);
		return -EINVAL;
	}
	if (kind_env_allowed(e->kenv, *kp, err) < 0)
		return -EPERM;
	if ((*kp)->check(s->args, err) < 0)
		return -EINVAL;
	*qp = q;
	return 0;
}

/* A job of who's, counted for who. */
static struct job *
job_from(struct eng *e, struct equeue *q, const struct kind *k,
    const struct proto_submit *s, const struct eng_who *who)
{
	struct job *j;

	j = job_new(e, q, k, s->args, s->timeout == PROTO_UNSET ?
	    q->timeout : s->timeout, s->max_attempts > 0 ?
	    (int)s->max_attempts : q->max_attempts);
	if (j == NULL || who == NULL)
		return j;
	j->uid = who->uid;
	if (user_count(j) < 0) {
		job_free(j);
		return NULL;
	}
	return j;
}

/* What store_insert wants; *textp (args as JSON text) is the caller's to
 * free. */
static int
job_row(const struct job *j, const char *name, const struct eng_who *who,
    struct store_new_job *row, char **textp)
{
	if ((*textp = json_dumps(j->args, JSON_COMPACT |
	    JSON_REAL_PRECISION(16))) == NULL)
		return -ENOMEM;
	memset(row, 0, sizeof(*row));
	row->queue = j->q->name;
	row->kind = j->kind->name;
	row->args = *textp;
	row->name = name;
	row->created_at = j->created_at;
	row->timeout = j->timeout;
	row->max_attempts = j->max_attempts;
	if (who != NULL && who->uid != ENG_NOBODY) {
		row->submitter.known = true;
		row->submitter.uid = who->uid;
		row->submitter.gid = who->gid;
		row->submitter.pid = who->pid;
	}
	return 0;
}

static int
put_error(int rc, const struct equeue *q, struct proto_err *err)
{
	if (rc == -EAGAIN)
		proto_err_set(err, PROTO_QUEUE_FULL, "queue %s is at capacity "
		    "(%d)", q->name, q->capacity);
	else if (rc == -ECANCELED || rc == -EPIPE)
		proto_err_set(err, PROTO_SHUTTING_DOWN, "jobd is stopping");
	else
		proto_err_set(err, PROTO_INTERNAL, "queue %s: %s", q->name,
		    strerror(-rc));
	return rc;
}

static int
stopping_error(struct proto_err *err)
{
	proto_err_set(err, PROTO_SHUTTING_DOWN, "jobd is stopping");
	return -ESHUTDOWN;
}

/* Record a job that holds its place in the queue. */
static int
submit_insert(struct eng *e, struct job *j, const char *name,
    const struct eng_who *who, struct proto_err *err)
{
	struct store_new_job row;
	char *text;
	int rc;

	if (name != NULL && (j->name = strdup(name)) == NULL)
		rc = -ENOMEM;
	else if ((rc = job_row(j, name, who, &row, &text)) == 0) {
		rc = store_insert(e->st, &row, &j->id, job_inserted, j);
		free(text);
		e->ins_sent += rc == 0;
	}
	if (rc == 0 && (rc = idmap_put(e->jobs, j->id, j)) < 0)
		log_warnx("job %lld: not tracked: out of memory",
		    (long long)j->id);      /* runs; cancel will not find it */
	if (rc < 0 && j->id == 0) {
		proto_err_set(err, rc == -ESHUTDOWN ? PROTO_SHUTTING_DOWN :
		    PROTO_STORAGE_ERROR, "%s", store_errmsg());
		return rc;
	}
	return 0;
}

int
eng_submit(struct eng *e, const struct proto_submit *s,
    const struct eng_who *who, eng_done_fn done, void *arg,
    struct proto_err *err)
{
	const struct kind *k;
	struct equeue *q;
	struct job *j;
	int rc;

	if (e->stopping)
		return stopping_error(err);
	if ((rc = submit_check(e, s, &q, &k, err)) < 0 ||
	    (rc = user_limit(e, who, 1, err)) < 0)
		return rc;
	if ((j = job_from(e, q, k, s, who)) == NULL) {
		proto_err_set(err, PROTO_INTERNAL, "out of memory");
		return -ENOMEM;
	}
	j->done = done;
	j->done_arg = arg;
	rc = s->nowait ? co_queue_put_nowait(q->cq, j) : co_queue_put(q->cq, j);
	if (rc == 0 && e->stopping && co_queue_remove(q->cq, j) == 0)
		rc = -ESHUTDOWN;        /* woke from backpressure too late */
	if (rc < 0) {
		job_free(j);
		return rc == -ESHUTDOWN ? stopping_error(err) :
		    put_error(rc, q, err);
	}
	if ((rc = submit_insert(e, j, s->name, who, err)) < 0) {
		j->insert_failed = true;
		j->where = J_INQ;
		j->q->pending++;
		job_lost(j);
		return rc;
	}
	job_entered(j);
	return 0;
}

/* ---- groups: submitting -------------------------------------------------- */

/* nowait: does every job fit its queue now? */
static int
group_fits(struct eng *e, struct equeue **qs, size_t n, struct proto_err *err)
{
	struct equeue *q;
	size_t i;
	int rc = 0;

	TAILQ_FOREACH(q, &e->queues, link)
		q->tmp = 0;
	for (i = 0; i < n; i++)
		qs[i]->tmp++;
	TAILQ_FOREACH(q, &e->queues, link)
		if (q->tmp > 0 && co_queue_len(q->cq) + q->tmp >
		    (size_t)q->capacity) {
			proto_err_set(err, PROTO_QUEUE_FULL, "queue %s has no "
			    "room for %zu jobs (capacity %d, %zu queued)",
			    q->name, q->tmp, q->capacity,
			    co_queue_len(q->cq));
			rc = -EAGAIN;
			break;
		}
	return rc;
}

static struct egroup *
group_new(struct eng *e, const struct proto_submit_group *pg,
    struct equeue **qs, const struct kind **ks, const struct eng_who *who)
{
	struct egroup *g;
	size_t i;

	if ((g = calloc(1, sizeof(*g))) == NULL ||
	    (g->jobs = calloc(pg->njobs, sizeof(*g->jobs))) == NULL) {
		free(g);
		return NULL;
	}
	g->e = e;
	g->n = pg->njobs;
	g->mode = pg->mode == PROTO_GROUP_FAIL_FAST ? STORE_GROUP_FAIL_FAST :
	    STORE_GROUP_ALL;
	co_waitq_init(&g->doneq);
	for (i = 0; i < g->n; i++) {
		if ((g->jobs[i] = job_from(e, qs[i], ks[i],
		    &pg->jobs[i], who)) == NULL) {
			while (i-- > 0)
				job_free(g->jobs[i]);
			free(g->jobs);
			free(g);
			return NULL;
		}
		g->jobs[i]->g = g;
	}
	g->live = g->n;
	return g;
}

static void
group_discard(struct egroup *g)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		job_free(g->jobs[i]);
	free(g->jobs);
	free(g);
}

/* Insert the group in one write; ids are known at once. */
static int
group_insert(struct eng *e, struct egroup *g,
    const struct proto_submit_group *pg, const struct eng_who *who,
    struct proto_err *err)
{
	struct store_new_job *rows;
	char **texts;
	int64_t *ids;
	size_t i, n = g->n;
	int rc = -ENOMEM;

	rows = calloc(n, sizeof(*rows));
	texts = calloc(n, sizeof(*texts));
	ids = calloc(n, sizeof(*ids));
	for (i = 0; rows != NULL && texts != NULL && ids != NULL && i < n; i++)
		if ((pg->jobs[i].name != NULL && (g->jobs[i]->name =
		    strdup(pg->jobs[i].name)) == NULL) ||
		    job_row(g->jobs[i], pg->jobs[i].name, who, &rows[i],
		    &texts[i]) < 0)
			break;
	if (ids != NULL && i == n &&
	    (rc = store_insert_group(e->st, g->mode, rows, n, &g->id, ids,
	    group_inserted, g)) == 0)
		e->ins_sent++;
	if (rc < 0)
		proto_err_set(err, rc == -ESHUTDOWN ? PROTO_SHUTTING_DOWN :
		    rc == -ENOMEM ? PROTO_INTERNAL : PROTO_STORAGE_ERROR, "%s",
		    rc == -ENOMEM ? "out of memory" : store_errmsg());
	for (i = 0; rc == 0 && i < n; i++) {
		g->jobs[i]->id = ids[i];
		if (idmap_put(e->jobs, ids[i], g->jobs[i]) < 0)
			log_warnx("job %lld: not tracked: out of memory",
			    (long long)ids[i]);
	}
	if (rc == 0) {
		g->first = ids[0];
		if (idmap_put(e->groups, g->id, g) < 0)
			log_warnx("group %lld: not tracked: out of memory",
			    (long long)g->id);
	}
	for (i = 0; texts != NULL && i < n; i++)
		free(texts[i]);
	free(texts);
	free(rows);
	free(ids);
	return rc;
}

/* Put the group's jobs into their queues in order, waiting for room
 * unless nowait.  If this task is cancelled (its client left, or jobd
 * stops) the rest go in past capacity: they are recorded and must run. */
static void
group_enter(struct egroup *g, bool nowait)
{
	bool force = nowait;
	struct job *j;
	size_t i;
	int rc;

	for (i = 0; i < g->n; i++) {
		if ((j = g->jobs[i]) == NULL || j->where != J_NEW)
			continue;
		j->where = J_PUTTING;
		rc = force ? -EAGAIN : co_queue_put(j->q->cq, j);
		if (rc < 0) {
			force = true;
			if (queue_force(j->q, j) < 0) {
				log_warnx("job %lld: cannot enter queue %s: "
				    "out of memory", (long long)j->id,
				    j->q->name);
				j->where = J_NEW;
				continue;
			}
		}
		job_entered(j);
	}
}

int
eng_submit_group(struct eng *e, const struct proto_submit_group *pg,
    const struct eng_who *who, eng_done_fn done, void *arg,
    struct proto_err *err)
{
	struct equeue **qs = NULL;
	const struct kind **ks = NULL;
	struct egroup *g = NULL;
	size_t i;
	int rc = -ENOMEM;

	if (e->stopping)
		return stopping_error(err);
	if ((qs = calloc(pg->njobs, sizeof(*qs))) == NULL ||
	    (ks = calloc(pg->njobs, sizeof(*ks))) == NULL)
		goto oom;
	for (i = 0; i < pg->njobs; i++)
		if ((rc = submit_check(e, &pg->jobs[i], &qs[i], &ks[i],
		    err)) < 0) {
			proto_err_prefix(err, "jobs[%zu]: ", i);
			goto out;
		}
	if ((rc = user_limit(e, who, pg->njobs, err)) < 0 ||
	    (pg->nowait && (rc = group_fits(e, qs, pg->njobs, err)) < 0))
		goto out;
	if ((g = group_new(e, pg, qs, ks, who)) == NULL)
		goto oom;
	g->done = done;
	g->done_arg = arg;
	if ((rc = group_insert(e, g, pg, who, err)) < 0) {
		group_discard(g);
		goto out;
	}
	g->holds++;
	group_enter(g, pg->nowait);
	if (--g->holds == 0 && g->live == 0)
		group_free(g);
	rc = 0;
	goto out;
oom:
	proto_err_set(err, PROTO_INTERNAL, "out of memory");
	rc = -ENOMEM;
out:
	free(qs);
	free(ks);
	return rc;
}

/* ---- waiting and cancelling ---------------------------------------------- */

int
eng_settle(struct eng *e, int64_t id)
{
	struct job *j;
	int rc;

	while ((j = idmap_get(e->jobs, id)) != NULL && !j->inserted &&
	    !j->insert_failed)
		if ((rc = co_waitq_wait(&j->insertq, CO_FOREVER, NULL)) ==
		    -ECANCELED)
			return rc;
	return 0;
}

int
eng_settle_all(struct eng *e)
{
	uint64_t target = e->ins_sent;
	int rc;

	while (e->ins_done < target)
		if ((rc = co_waitq_wait(&e->settleq, CO_FOREVER, NULL)) ==
		    -ECANCELED)
			return rc;
	return 0;
}

static int
wait_on(struct co_waitq *q, double timeout)
{
	int rc;

	if (timeout == 0)
		return -ETIMEDOUT;
	rc = co_waitq_wait(q, co_deadline(timeout), NULL);
	return rc > 0 ? 0 : rc;         /* a job's waiters get its state */
}

int
eng_wait_job(struct eng *e, int64_t id, double timeout)
{
	struct job *j = idmap_get(e->jobs, id);

	return j == NULL ? 0 : wait_on(&j->doneq, timeout);
}

int
eng_wait_group(struct eng *e, int64_t gid, double timeout)
{
	struct egroup *g = idmap_get(e->groups, gid);

	return g == NULL || g->live == 0 ? 0 : wait_on(&g->doneq, timeout);
}

int
eng_cancel_job(struct eng *e, int64_t id, const struct eng_who *who,
    const char *reason, struct proto_err *err)
{
	struct job *j = idmap_get(e->jobs, id);
	int rc;

	if (j == NULL)
		return -ENOENT;
	if ((rc = user_may_cancel(e, who, j, err)) < 0)
		return rc;
	cancel_job(j, reason);
	rc = co_waitq_wait(&j->doneq, CO_FOREVER, NULL);        /* j may go */
	if (rc < 0 || rc == STORE_CANCELLED)
		return rc < 0 ? rc : 0;
	proto_err_set(err, PROTO_NOT_CANCELLABLE, "job %lld ended %s before "
	    "it could be cancelled", (long long)id, store_state_name(rc));
	return -EALREADY;
}

int
eng_cancel_group(struct eng *e, int64_t gid, const struct eng_who *who,
    const char *reason, int64_t **idsp, size_t *np, struct proto_err *err)
{
	struct egroup *g = idmap_get(e->groups, gid);
	int64_t *ids;
	size_t i, n = 0;

	if (g == NULL || g->live == 0)
		return -ENOENT;
	if ((ids = calloc(g->n, sizeof(*ids))) == NULL)
		return -ENOMEM;
	/* All or none: a group another user shares is not cut in half. */
	for (i = 0; i < g->n; i++) {
		if (g->jobs[i] == NULL || g->jobs[i]->where == J_ENDING)
			continue;
		if (user_may_cancel(e, who, g->jobs[i], err) < 0) {
			proto_err_prefix(err, "group %lld: ", (long long)gid);
			free(ids);
			return -EPERM;
		}
		ids[n++] = g->jobs[i]->id;
	}
	if (n == 0) {
		free(ids);
		return -ENOENT;
	}
	for (i = 0; i < n; i++) {
		struct job *j = idmap_get(e->jobs, ids[i]);

		if (j != NULL)
			cancel_job(j, reason);
	}
	*idsp = ids;
	*np = n;
	if ((g = idmap_get(e->groups, gid)) == NULL || g->live == 0)
		return 0;
	return wait_on(&g->doneq, CO_FOREVER);
}

/* ---- recovery ------------------------------------------------------------ */

/* The in-memory group of a recovered job, built from the store once. */
static struct egroup *
group_load(struct eng *e, int64_t gid)
{
	struct store_group sg;
	struct store_job **rows = NULL;
	struct egroup *g;
	size_t i, n = 0;

	if ((g = idmap_get(e->groups, gid)) != NULL)
		return g;
	if (store_group_get(e->st, gid, &sg) < 0 ||
	    store_group_jobs(e->st, gid, &rows, &n) < 0 || n == 0 ||
	    (g = calloc(1, sizeof(*g))) == NULL ||
	    (g->jobs = calloc(n, sizeof(*g->jobs))) == NULL ||
	    idmap_put(e->groups, gid, g) < 0) {
		if (g != NULL)
			free(g->jobs);
		free(g);
		store_jobs_free(rows, n);
		return NULL;
	}
	g->e = e;
	g->id = gid;
	g->mode = sg.mode;
	g->n = n;
	g->first = rows[0]->id;
	co_waitq_init(&g->doneq);
	for (i = 0; i < n && g->mode == STORE_GROUP_FAIL_FAST; i++)
		if ((rows[i]->state == STORE_FAILED ||
		    rows[i]->state == STORE_TIMED_OUT) && g->trip_id == 0) {
			g->trip_id = rows[i]->id;
			g->trip_state = rows[i]->state;
			g->trip_error = rows[i]->error != NULL ?
			    strdup(rows[i]->error) : NULL;
			SLIST_INSERT_HEAD(&e->trips, g, trip_link);
		}
	store_jobs_free(rows, n);
	return g;
}

static int
recover_one(void *arg, struct store_job *sj)
{
	struct eng *e = arg;
	struct equeue *q = queue_find(e, sj->queue);
	const struct kind *k = kind_find(sj->kind);
	struct egroup *g = NULL;
	json_t *args;
	char msg[160];
	struct job *j;

	if (sj->group_id != 0 && (g = group_load(e, sj->group_id)) == NULL)
		log_warnx("group %lld: cannot load it: %s",
		    (long long)sj->group_id, store_errmsg());
	if (sj->state != STORE_QUEUED) {        /* ended by the recovery */
		store_job_free(sj);
		return 0;
	}
	args = json_loads(sj->args, JSON_DECODE_ANY, NULL);
	j = job_new(e, q, k, args, sj->timeout, sj->max_attempts);
	json_decref(args);
	if (j != NULL && sj->submitter.known)
		j->uid = sj->submitter.uid;     /* recovered jobs count too */
	if (j == NULL || user_count(j) < 0 ||
	    idmap_put(e->jobs, sj->id, j) < 0) {
		if (j != NULL)
			job_free(j);
		store_job_free(sj);
		return -ENOMEM;
	}
	j->id = sj->id;
	j->attempts = sj->attempts;
	j->inserted = true;
	j->created_at = sj->created_at;
	j->started_at = sj->started_at;
	j->name = sj->name != NULL ? strdup(sj->name) : NULL; /* NULL: none */
	if (g != NULL && sj->id >= g->first && sj->id - g->first < (int64_t)g->n) {
		j->g = g;
		g->jobs[sj->id - g->first] = j;
		g->live++;
	}
	msg[0] = '\0';
	if (q == NULL || !q->configured)
		snprintf(msg, sizeof(msg), "queue %.64s is no longer "
		    "configured", sj->queue);
	else if (k == NULL)
		snprintf(msg, sizeof(msg), "kind %.64s is no longer known",
		    sj->kind);
	else if (j->args == NULL)
		snprintf(msg, sizeof(msg), "its args are not valid JSON");
	else if (queue_force(q, j) < 0)
		snprintf(msg, sizeof(msg), "out of memory at recovery");
	store_job_free(sj);
	if (msg[0] != '\0')
		job_end(j, STORE_FAILED, NULL, msg);
	else
		job_entered(j);
	return 0;
}

int
eng_recover(struct eng *e)
{
	struct store_recovery rep;
	struct egroup *g;
	int rc;

	if ((rc = store_recover(e->st, recover_one, e, &rep)) < 0)
		return rc;
	while ((g = SLIST_FIRST(&e->trips)) != NULL) {
		SLIST_REMOVE_HEAD(&e->trips, trip_link);
		g->tripped = true;
		g->holds++;
		group_trip(g, g->trip_id, g->trip_state, g->trip_error);
		if (--g->holds == 0 && g->live == 0)
			group_free(g);
	}
	if (rep.queued + rep.requeued + rep.failed > 0)
		log_info("recovered %zu queued jobs, %zu interrupted ones run "
		    "again, %zu out of attempts ended failed", rep.queued,
		    rep.requeued, rep.failed);
	return 0;
}

/* ---- stats --------------------------------------------------------------- */

int
eng_queue_info(const struct eng *e, size_t i, struct eng_queue_info *qi)
{
	const struct equeue *q;

	TAILQ_FOREACH(q, &e->queues, link)
		if (i-- == 0) {
			qi->name = q->name;
			qi->queued = co_queue_len(q->cq);
			qi->running = q->running;
			qi->workers = q->workers;
			qi->capacity = q->capacity;
			qi->configured = q->configured;
			return 0;
		}
	return -ENOENT;
}

void
eng_counters(const struct eng *e, struct eng_counters *c)
{
	*c = e->c;
	c->live = idmap_count(e->jobs);
}

/* ---- life ------------------------------------------------------------------ */

struct eng *
eng_new(struct co_rt *rt, struct store *st)
{
	struct eng *e;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->rt = rt;
	e->st = st;
	TAILQ_INIT(&e->queues);
	SLIST_INIT(&e->trips);
	co_waitq_init(&e->idleq);
	co_waitq_init(&e->goneq);
	co_waitq_init(&e->settleq);
	TAILQ_INIT(&e->ends);
	e->admin_gid = (gid_t)-1;
	TAILQ_INIT(&e->retry);
	if ((e->jobs = idmap_new()) == NULL ||
	    (e->groups = idmap_new()) == NULL ||
	    (e->users = idmap_new()) == NULL ||
	    (e->ends_ev = event_new(co_rt_base(rt), -1, 0, ends_cb, e)) ==
	    NULL ||
	    (e->retry_ev = evtimer_new(co_rt_base(rt), retry_cb, e)) == NULL) {
		eng_free(e);
		return NULL;
	}
	return e;
}

bool
eng_stopping(const struct eng *e)
{
	return e->stopping;
}

/* Cancel the workers: all of them, or only the idle ones. */
static void
workers_stop(struct eng *e, bool busy_too)
{
	struct equeue *q;
	struct worker *w;

	TAILQ_FOREACH(q, &e->queues, link)
		LIST_FOREACH(w, &q->wlist, link) {
			if (!w->idle && !busy_too)
				continue;
			if (w->job != NULL && w->job->where == J_RUNNING &&
			    w->job->stop == STOP_NONE)
				w->job->stop = STOP_SHUTDOWN;
			w->quit = true;
			if (w->task != NULL)
				co_cancel(w->task);
		}
}

void
eng_shutdown(struct eng *e, double grace)
{
	double deadline = co_now() + grace;

	e->stopping = true;
	workers_stop(e, false);
	co_shield_enter();              /* the stop finishes whatever comes */
	while (e->running > 0 && co_now() < deadline)
		(void)co_waitq_wait(&e->idleq, deadline, NULL);
	if (e->running > 0)
		log_info("stopping %zu running jobs; each runs again at the "
		    "next start while it has attempts left", e->running);
	workers_stop(e, true);
	while (e->nworkers > 0)
		(void)co_waitq_wait(&e->goneq, CO_FOREVER, NULL);
	co_shield_exit();
	/* The last try for deferred ends; a failure now is given up (the
	 * next start's recovery deals with the job). */
	e->final = true;
	event_del(e->retry_ev);
	TAILQ_CONCAT(&e->ends, &e->retry, end_link);
	ends_flush(e);                  /* before the store closes */
}

static int
free_job(void *arg, int64_t id, void *val)
{
	(void)arg;
	(void)id;
	job_free(val);
	return 0;
}

static int
free_group(void *arg, int64_t id, void *val)
{
	struct egroup *g = val;

	(void)arg;
	(void)id;
	free(g->trip_error);
	free(g->jobs);
	free(g);
	return 0;
}

static int
free_user(void *arg, int64_t id, void *val)
{
	(void)arg;
	(void)id;
	free(val);
	return 0;
}

void
eng_free(struct eng *e)
{
	struct equeue *q;
	void *item;

	if (e == NULL)
		return;
	while ((q = TAILQ_FIRST(&e->queues)) != NULL) {
		TAILQ_REMOVE(&e->queues, q, link);
		while (co_queue_get_nowait(q->cq, &item) == 0)
			;               /* the jobs are in e->jobs */
		co_queue_free(q->cq);
		free(q->name);
		free(q);
	}
	if (e->ends_ev != NULL)
		event_free(e->ends_ev);
	if (e->retry_ev != NULL)
		event_free(e->retry_ev);
	kind_env_close(e->kenv);
	if (e->jobs != NULL)
		idmap_each(e->jobs, free_job, NULL);
	if (e->groups != NULL)
		idmap_each(e->groups, free_group, NULL);
	if (e->users != NULL)   /* empty: the jobs took their counts along */
		idmap_each(e->users, free_user, NULL);
	idmap_free(e->jobs);
	idmap_free(e->groups);
	idmap_free(e->users);
	free(e);
}
