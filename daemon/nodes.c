/*
 * nodes.c — this daemon among several on one PostgreSQL database
 * (store_nodes): every lease / 3 a node round (store_node_tick) renews
 * its lease and takes over the jobs of daemons found dead; the rows it
 * took come back here and go into memory as after a crash
 * (recover_one).  A round that says the lease was lost (this daemon was
 * stopped or cut off past its lease, and another took its jobs) stops
 * every job running here: their rows are another daemon's now, so their
 * ends would be refused anyway (fencing, store_pg_node.c), and running
 * them on would run them twice; the jobs waiting here are the taker's
 * too (deps_lost).  Every NODE_CANCEL_POLL s it takes the
 * cancels other daemons asked of the jobs it holds (job_cancels) and
 * follows the queues paused or resumed elsewhere (queue_pause); a wait or
 * cancel here of a job another daemon holds reads the row until it ends.
 * With SQLite nothing here runs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "conf.h"
#include "co.h"
#include "engine_int.h"
#include "idmap.h"
#include "log.h"

/* Cancels asked of this daemon by others are taken this often: a job
 * running here stops within about this long of a cancel elsewhere. */
#define NODE_CANCEL_POLL 0.3
/* A wait or cancel of a job another daemon holds reads its row this
 * often, from the first interval doubling up to the last. */
#define NODE_WAIT_MIN 0.02
#define NODE_WAIT_MAX 0.25

struct enodes {
	struct event *ev;
	double every;                   /* lease / 3 */
	bool busy;                      /* a round is being written */
	struct event *cev;              /* the cancels' poll */
	bool cbusy;
};

void
node_configure(struct eng *e, const struct conf *c)
{
	double lease = conf_daemon(c)->lease;

	/* The lease is the store's from its open: a reload keeps it. */
	if (e->nodes == NULL && lease > 0)
		e->lease = lease;
}

static void
node_arm_in(struct eng *e, double after)
{
	struct timeval tv = { (time_t)after,
		(suseconds_t)((after - (time_t)after) * 1e6) };

	if (!e->stopping)
		evtimer_add(e->nodes->ev, &tv);
}

static void
node_arm(struct eng *e)
{
	node_arm_in(e, e->nodes->every);
}

static int
node_stop_one(void *arg, int64_t id, void *val)
{
	struct job *j = val;

	(void)id;
	(void)arg;
	if (j->where == J_RUNNING)
		cancel_stop(j, "this daemon's lease lapsed: another daemon "
		    "took the job");
	return 0;
}

static void
node_done(void *arg, int status, struct store_job **jobs, size_t n,
    const struct store_recovery *rep)
{
	struct eng *e = arg;
	size_t i;

	e->nodes->busy = false;
	if (status < 0)
		log_warnx("node round: %s", store_errmsg());
	if (status == 0 && rep->lease_lost) {
		(void)idmap_each(e->jobs, node_stop_one, NULL);
		deps_lost(e);
	}
	if (status == 0)
		pool_peers(e, rep->peers);
	for (i = 0; i < n; i++) {
		if (e->stopping || e->final) {
			store_job_free(jobs[i]);
			continue;
		}
		if (recover_one(e, jobs[i]) < 0)
			log_warnx("job %lld: taken over, but out of memory",
			    (long long)jobs[i]->id);
	}
	free(jobs);
	if (!e->stopping && !e->final)
		recover_trips(e);
	if (rep != NULL && rep->queued + rep->requeued + rep->failed > 0)
		log_info("took over %zu queued jobs, %zu interrupted ones run "
		    "again, %zu ended failed (%zu dead daemons)", rep->queued,
		    rep->requeued, rep->failed, rep->nodes_dead);
	node_arm(e);
}

static void
node_cb(evutil_socket_t fd, short what, void *arg)
{
	struct eng *e = arg;

	(void)fd;
	(void)what;
	if (e->stopping || e->nodes->busy)
		return;
	if (store_node_tick(e->st, node_done, e) < 0) {
		log_warnx("node round: %s", store_errmsg());
		node_arm(e);
		return;
	}
	e->nodes->busy = true;
}

static void
node_carm(struct eng *e)
{
	struct timeval tv = { 0, (suseconds_t)(NODE_CANCEL_POLL * 1e6) };

	if (!e->stopping)
		evtimer_add(e->nodes->cev, &tv);
}

static void
node_cancels(void *arg, int status, struct store_cancels *c)
{
	struct eng *e = arg;
	struct job *j;

	e->nodes->cbusy = false;
	for (size_t i = 0; status == 0 && i < c->n; i++) {
		if ((j = idmap_get(e->jobs, c->ids[i])) != NULL &&
		    j->where != J_ENDING && !e->stopping)
			cancel_stop(j, c->reasons[i]);
	}
	if (status == 0 && !e->stopping)
		deps_moved(e, c->moved, c->nmoved);
	store_cancels_free(c);
	node_carm(e);
}

/* Pause is global: the queues paused or resumed at other daemons
 * (queue_pause rows) follow here, at each poll. */
static void
node_pauses(struct eng *e)
{
	struct equeue *q;
	char **names;
	size_t n, i;
	bool paused;

	if (store_paused_queues(e->st, &names, &n) < 0)
		return;
	TAILQ_FOREACH(q, &e->queues, link) {
		for (paused = false, i = 0; i < n && !paused; i++)
			paused = strcmp(names[i], q->name) == 0;
		if (q->configured && q->paused != paused) {
			log_info("queue %s: %s (at another daemon)", q->name,
			    paused ? "paused" : "resumed");
			queue_pause(q, paused);
		}
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void
node_ccb(evutil_socket_t fd, short what, void *arg)
{
	struct eng *e = arg;

	(void)fd;
	(void)what;
	if (e->stopping || e->nodes->cbusy)
		return;
	node_pauses(e);
	if (store_cancels_take(e->st, node_cancels, e) < 0) {
		node_carm(e);
		return;
	}
	e->nodes->cbusy = true;
}

/* One pause of a poll with `left` seconds to its deadline: -ETIMEDOUT
 * if none is left, else a sleep of *step (at most left), which doubles up
 * to NODE_WAIT_MAX. */
static int
node_backoff(double left, double *step)
{
	int rc;

	if (left <= 0)
		return -ETIMEDOUT;
	if ((rc = co_sleep(left < *step ? left : *step)) < 0)
		return rc;
	*step = *step * 2 > NODE_WAIT_MAX ? NODE_WAIT_MAX : *step * 2;
	return 0;
}

/* Wait for job id, held by another daemon, to end: its row read at
 * growing intervals.  0 once it has ended (or is gone), -ETIMEDOUT,
 * -ECANCELED. */
int
node_wait_remote(struct eng *e, int64_t id, double timeout)
{
	double end = co_deadline(timeout), step = NODE_WAIT_MIN, left;
	struct store_job *sj;
	struct job *j;
	bool ended;
	int rc;

	for (;;) {
		if ((rc = store_get(e->st, id, &sj)) == -ENOENT)
			return 0;
		if (rc < 0)
			return rc;
		ended = store_state_ended(sj->state);
		store_job_free(sj);
		if (ended)
			return 0;
		left = end == CO_FOREVER ? step : end - co_now();
		if ((j = idmap_get(e->jobs, id)) != NULL)    /* taken over */
			return eng_wait_on(&j->doneq, end == CO_FOREVER ?
			    CO_FOREVER : left > 0 ? left : 0);
		if ((rc = node_backoff(left, &step)) < 0)
			return rc;
	}
}

/* Does group gid have a member not ended (its rows)?  *left 1 or 0. */
static int
node_group_left(struct eng *e, int64_t gid, bool *left)
{
	struct store_job **rows;
	size_t n;
	int rc;

	*left = false;
	if ((rc = store_group_jobs(e->st, gid, &rows, &n)) < 0)
		return rc == -ENOENT ? 0 : rc;
	for (size_t i = 0; i < n; i++)
		*left = *left || !store_state_ended(rows[i]->state);
	store_jobs_free(rows, n);
	return 0;
}

/* Wait for every member of group gid, wherever it runs, to end: as
 * node_wait_remote, on the group's rows. */
int
node_wait_group(struct eng *e, int64_t gid, double timeout)
{
	double end = co_deadline(timeout), step = NODE_WAIT_MIN, left;
	bool more;
	int rc;

	for (;;) {
		if ((rc = node_group_left(e, gid, &more)) < 0 || !more)
			return rc;
		left = end == CO_FOREVER ? step : end - co_now();
		if ((rc = node_backoff(left, &step)) < 0)
			return rc;
	}
}

/* Ask the holder of job id, not held here, to cancel it (job_cancels; a
 * pooled row the store cancels at once).  -ENOENT: ended, not there, or
 * not who's to see. */
static int
node_ask(struct eng *e, int64_t id, const struct eng_who *who,
    const char *reason, struct proto_err *err)
{
	struct store_job *sj;
	struct eng_await a;
	uid_t uid;
	int rc;

	if ((rc = store_get(e->st, id, &sj)) < 0)
		return rc == -ENOENT ? -ENOENT : rc;
	uid = sj->submitter.known ? sj->submitter.uid : ENG_NOBODY;
	rc = store_state_ended(sj->state) ? -ENOENT : 0;
	store_job_free(sj);
	if (rc < 0 || !user_may_see(e, who, uid))
		return -ENOENT;
	if ((rc = user_may_touch(e, who, uid, id, "cancel", err)) < 0)
		return rc;
	eng_await_init(&a);
	if ((rc = store_cancel_ask(e->st, id, reason, eng_await_cb, &a)) < 0)
		return rc;
	return eng_await(&a);
}

/* Job id, asked to cancel, has ended: 0 if cancelled, else -EALREADY. */
static int
node_asked(struct eng *e, int64_t id, struct proto_err *err)
{
	struct store_job *sj;
	int rc;

	if ((rc = node_wait_remote(e, id, CO_FOREVER)) < 0 ||
	    (rc = store_get(e->st, id, &sj)) < 0)
		return rc;
	rc = sj->state == STORE_CANCELLED ? 0 : -EALREADY;
	if (rc < 0)
		proto_err_set(err, PROTO_NOT_CANCELLABLE, "job %lld ended %s "
		    "before it could be cancelled", (long long)id,
		    store_state_name(sj->state));
	store_job_free(sj);
	return rc;
}

/* cancel_one for a job this daemon does not hold: asked of its holder,
 * then waited for.  -ENOENT: ended or not there. */
int
node_cancel_remote(struct eng *e, int64_t id, const struct eng_who *who,
    const char *reason, struct proto_err *err)
{
	int rc;

	if ((rc = node_ask(e, id, who, reason, err)) < 0)
		return rc;
	return node_asked(e, id, err);
}

/* cancel_members for the members of group gid not held here (pooled, or
 * another daemon's): all asked, then each waited for; those cancelled
 * appended to *idsp.  -ENOENT if none, here or there, was. */
int
node_cancel_group(struct eng *e, int64_t gid, const struct eng_who *who,
    const char *reason, int64_t **idsp, size_t *np, struct proto_err *err)
{
	struct store_job **rows;
	int64_t *ids;
	size_t n, k = 0, m = 0;
	int rc;

	if ((rc = store_group_jobs(e->st, gid, &rows, &n)) < 0)
		return rc == -ENOENT && *np > 0 ? 0 : rc;
	if (n == 0 || (ids = realloc(*idsp, (*np + n) *
	    sizeof(*ids))) == NULL) {
		store_jobs_free(rows, n);
		return n == 0 ? (*np > 0 ? 0 : -ENOENT) : -ENOMEM;
	}
	*idsp = ids;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (store_state_ended(rows[i]->state) ||
		    idmap_get(e->jobs, rows[i]->id) != NULL)
			continue;
		if ((rc = node_ask(e, rows[i]->id, who, reason, err)) == 0)
			ids[*np + k++] = rows[i]->id;
		else if (rc == -ENOENT)
			rc = 0;
	}
	store_jobs_free(rows, n);
	for (size_t i = 0; rc == 0 && i < k; i++) {
		/* Ended otherwise meanwhile: not among the cancelled. */
		if ((rc = node_asked(e, ids[*np + i], err)) == 0)
			ids[*np + m++] = ids[*np + i];
		else if (rc == -EALREADY)
			rc = 0;
	}
	*np += m;
	if (rc == 0 && *np == 0)
		rc = -ENOENT;
	return rc;
}

int
node_start(struct eng *e)
{
	struct enodes *n;

	if (!store_nodes(e->st) || e->nodes != NULL)
		return 0;
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return -ENOMEM;
	n->every = (e->lease > 0 ? e->lease : STORE_LEASE_DEFAULT) / 3;
	n->ev = evtimer_new(co_rt_base(e->rt), node_cb, e);
	n->cev = evtimer_new(co_rt_base(e->rt), node_ccb, e);
	e->nodes = n;
	if (n->ev == NULL || n->cev == NULL || pool_start(e) < 0) {
		node_free(e);
		return -ENOMEM;
	}
	node_arm_in(e, 0);              /* the first round at once: peers */
	node_carm(e);
	return 0;
}

void
node_free(struct eng *e)
{
	pool_free(e);
	if (e->nodes == NULL)
		return;
	if (e->nodes->ev != NULL)
		event_free(e->nodes->ev);
	if (e->nodes->cev != NULL)
		event_free(e->nodes->cev);
	free(e->nodes);
	e->nodes = NULL;
}
