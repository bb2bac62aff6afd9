/*
 * engine.c — the engine's public face (engine.h): making and configuring
 * it, the submit, wait, settle and cancel calls, stats, graceful stop
 * and freeing.  The work is done by the modules engine_int.h lists (the
 * job's state machine in job.c, the dispatcher in queue.c, ends in end.c,
 * groups, cancellation, recovery and users each in its own); this file
 * holds struct eng together and passes each call to the one that owns it.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "co_sched.h"
#include "conf.h"
#include "engine_int.h"
#include "idmap.h"
#include "kind.h"
#include "log.h"
#include "metrics.h"

/* ---- configuring -------------------------------------------------------- */

/* The [daemon] settings the kinds read. */
static void
eng_kinds_conf(const struct eng *e, const struct conf *c,
    struct kind_conf *kc)
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
	kc->run_as_submitter = d->run_as == CONF_RUN_AS_SUBMITTER ||
	    (d->run_as == CONF_RUN_AS_AUTO && geteuid() == 0);
	kc->http_allow = d->http_reach;
	kc->http_deny = d->http_deny;
	kc->http_max_time = d->http_max_time;
	kc->iso = e->iso;
}

void
eng_isolate(struct eng *e, struct exec_iso *iso)
{
	e->iso = iso;
}

int
eng_configure(struct eng *e, const struct conf *c)
{
	struct kind_conf kc;
	struct equeue *q;
	size_t i;
	int rc;

	e->admin_gid = conf_daemon(c)->admin_group.gid;
	e->max_queued = conf_daemon(c)->max_queued_per_user;
	e->see_all = conf_daemon(c)->visibility == CONF_VIS_ALL;
	eng_kinds_conf(e, c, &kc);
	if (e->kenv != NULL)
		kind_env_reconf(e->kenv, &kc);
	else if ((rc = kind_env_open(co_rt_base(e->rt), &kc, &e->kenv)) < 0)
		return rc;
	TAILQ_FOREACH(q, &e->queues, link)
		q->configured = false;
	for (i = 0; i < conf_queue_count(c); i++)
		if (queue_configure(e, conf_queue(c, i)) < 0)
			return -ENOMEM;
	prune_configure(e, c);
	page_configure(e, c);
	node_configure(e, c);
	TAILQ_FOREACH(q, &e->queues, link)
		if (!q->configured)
			log_info("queue %s: removed from the configuration; "
			    "its %zu queued jobs still run", q->name,
			    queue_len(q));
	return 0;
}

int
eng_recover(struct eng *e)
{
	int rc;

	if ((rc = pause_load(e)) < 0 || (rc = recover_run(e)) < 0)
		return rc;
	return node_start(e);
}

/* ---- submitting, waiting, cancelling ------------------------------------- */

int
eng_submit(struct eng *e, const struct proto_submit *s,
    const struct eng_who *who, eng_done_fn done, void *arg,
    struct proto_err *err)
{
	if (e->stopping)
		return submit_stopping(err);
	return submit_job(e, s, who, done, arg, err);
}

int
eng_submit_group(struct eng *e, const struct proto_submit_group *pg,
    const struct eng_who *who, eng_done_fn done, void *arg,
    struct proto_err *err)
{
	if (e->stopping)
		return submit_stopping(err);
	return group_submit(e, pg, who, done, arg, err);
}

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

/* Wait on a job's or a group's doneq: 0 once it ended, or the wait's
 * error (a job's waiters are woken with its state, which is 0 here). */
int
eng_wait_on(struct co_waitq *q, double timeout)
{
	int rc;

	if (timeout == 0)
		return -ETIMEDOUT;
	rc = co_waitq_wait(q, co_deadline(timeout), NULL);
	return rc > 0 ? 0 : rc;
}

void
eng_await_init(struct eng_await *a)
{
	co_waitq_init(&a->q);
	a->done = false;
	a->status = 0;
}

void
eng_await_cb(void *arg, int status)
{
	struct eng_await *a = arg;

	a->done = true;
	a->status = status;
	co_waitq_wake_all(&a->q, 0);
}

int
eng_await(struct eng_await *a)
{
	co_shield_enter();
	while (!a->done)
		(void)co_waitq_wait(&a->q, CO_FOREVER, NULL);
	co_shield_exit();
	return a->status;
}

/* ---- the lifecycle's ops (retry.c, prune.c) ------------------------------ */

int
eng_pause(struct eng *e, const char *queue, bool paused,
    const struct eng_who *who, struct proto_err *err)
{
	if (user_need_admin(e, who, paused ? "pause a queue" :
	    "resume a queue", err) < 0)
		return -EPERM;
	return pause_op(e, queue, paused, err);
}

int
eng_retry(struct eng *e, int64_t id, const struct eng_who *who,
    struct proto_err *err)
{
	if (e->stopping)
		return submit_stopping(err);
	return retry_op(e, id, who, err);
}

int
eng_prune(struct eng *e, const struct proto_prune *p,
    const struct eng_who *who, size_t *deleted, struct proto_err *err)
{
	if (user_need_admin(e, who, "prune jobs", err) < 0)
		return -EPERM;
	return prune_op(e, p, deleted, err);
}

int
eng_wait_job(struct eng *e, int64_t id, double timeout)
{
	struct job *j = idmap_get(e->jobs, id);
	double end = co_deadline(timeout);
	int rc;

	if (j == NULL)
		j = page_fetch(e, id);  /* scheduled, due past the window */
	if (j == NULL && e->nodes != NULL)     /* another daemon may hold it */
		return node_wait_remote(e, id, timeout);
	if (j == NULL)
		return 0;
	rc = eng_wait_on(&j->doneq, timeout);
	if (rc != -EXDEV)
		return rc;
	/* Handed over to the pool (job_handoff): its row from now on. */
	return node_wait_remote(e, id, end == CO_FOREVER ? CO_FOREVER :
	    end > co_now() ? end - co_now() : 0);
}

int
eng_wait_group(struct eng *e, int64_t gid, double timeout)
{
	struct egroup *g = idmap_get(e->groups, gid);
	double end = co_deadline(timeout);
	int rc;

	if (g != NULL && g->live > 0 &&
	    (rc = eng_wait_on(&g->doneq, timeout)) < 0)
		return rc;
	if (e->nodes == NULL)
		return 0;
	/* Members pooled or held by other daemons: their rows. */
	return node_wait_group(e, gid, end == CO_FOREVER ? CO_FOREVER :
	    end > co_now() ? end - co_now() : 0);
}

int
eng_cancel_job(struct eng *e, int64_t id, const struct eng_who *who,
    const char *reason, struct proto_err *err)
{
	return cancel_one(e, id, who, reason, err);
}

int
eng_cancel_group(struct eng *e, int64_t gid, const struct eng_who *who,
    const char *reason, int64_t **idsp, size_t *np, struct proto_err *err)
{
	return cancel_members(e, gid, who, reason, idsp, np, err);
}

/* ---- stats --------------------------------------------------------------- */

int
eng_queue_info(const struct eng *e, size_t i, struct eng_queue_info *qi)
{
	const struct equeue *q;

	TAILQ_FOREACH(q, &e->queues, link)
		if (i-- == 0) {
			qi->name = q->name;
			qi->queued = queue_len(q);
			qi->scheduled = q->scheduled;
			qi->waiting = q->waiting;
			qi->paused = q->paused;
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

/* ---- observing ------------------------------------------------------------- */

void
eng_observe(struct eng *e, struct met *m, struct watch_hub *h)
{
	struct equeue *q;

	e->met = m;
	e->hub = h;
	TAILQ_FOREACH(q, &e->queues, link)
		q->met = m != NULL ? met_queue(m, q->name) : NULL;
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
	e->self_uid = geteuid();
	TAILQ_INIT(&e->retry);
	timerq_init(&e->tq);
	if (st != NULL)
		store_deps_hook(st, deps_changes, e);
	if ((e->page = page_new(e)) == NULL ||
	    (e->jobs = idmap_new()) == NULL ||
	    (e->groups = idmap_new()) == NULL ||
	    (e->users = idmap_new()) == NULL ||
	    (e->ends_ev = event_new(co_rt_base(rt), -1, 0, end_cb, e)) ==
	    NULL ||
	    (e->retry_ev = evtimer_new(co_rt_base(rt), end_retry_cb, e)) ==
	    NULL ||
	    (e->tq_ev = evtimer_new(co_rt_base(rt), sched_cb, e)) == NULL ||
	    (e->prune_ev = evtimer_new(co_rt_base(rt), prune_cb, e)) ==
	    NULL) {
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

void
eng_shutdown(struct eng *e, double grace)
{
	double deadline = co_now() + grace;

	e->stopping = true;
	event_del(e->prune_ev);
	queue_stop_workers(e, false);
	co_shield_enter();              /* the stop finishes whatever comes */
	while (e->running > 0 && co_now() < deadline)
		(void)co_waitq_wait(&e->idleq, deadline, NULL);
	if (e->running > 0)
		log_info("stopping %zu running jobs; each runs again at the "
		    "next start while it has attempts left", e->running);
	queue_stop_workers(e, true);
	while (e->nworkers > 0)
		(void)co_waitq_wait(&e->goneq, CO_FOREVER, NULL);
	co_shield_exit();
	end_final(e);
}

static int
eng_free_job(void *arg, int64_t id, void *val)
{
	(void)arg;
	(void)id;
	job_free(val);
	return 0;
}

void
eng_free(struct eng *e)
{
	if (e == NULL)
		return;
	queue_free_all(e);
	park_free(e);
	node_free(e);
	if (e->ends_ev != NULL)
		event_free(e->ends_ev);
	if (e->retry_ev != NULL)
		event_free(e->retry_ev);
	if (e->tq_ev != NULL)
		event_free(e->tq_ev);
	if (e->prune_ev != NULL)
		event_free(e->prune_ev);
	timerq_fini(&e->tq);
	page_free(e->page);
	kind_env_close(e->kenv);
	if (e->jobs != NULL)
		idmap_each(e->jobs, eng_free_job, NULL);
	group_free_all(e);
	user_free_all(e);
	idmap_free(e->jobs);
	idmap_free(e->groups);
	idmap_free(e->users);
	free(e);
}
