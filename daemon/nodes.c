/*
 * nodes.c — this daemon among several on one PostgreSQL database
 * (store_nodes): every lease / 3 a node round (store_node_tick) renews
 * its lease and takes over the jobs of daemons found dead; the rows it
 * took come back here and go into memory as after a crash
 * (recover_one).  A round that says the lease was lost (this daemon was
 * stopped or cut off past its lease, and another took its jobs) stops
 * every job running here: their rows are another daemon's now, so their
 * ends would be refused anyway (fencing, store_pg_node.c), and running
 * them on would run them twice.  With SQLite nothing here runs.
 */
#include <errno.h>
#include <stdlib.h>

#include <event2/event.h>

#include "conf.h"
#include "engine_int.h"
#include "idmap.h"
#include "log.h"

struct enodes {
	struct event *ev;
	double every;                   /* lease / 3 */
	bool busy;                      /* a round is being written */
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
node_arm(struct eng *e)
{
	struct enodes *n = e->nodes;
	struct timeval tv = { (time_t)n->every,
		(suseconds_t)((n->every - (time_t)n->every) * 1e6) };

	if (!e->stopping)
		evtimer_add(n->ev, &tv);
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
	if (status == 0 && rep->lease_lost)
		(void)idmap_each(e->jobs, node_stop_one, NULL);
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

int
node_start(struct eng *e)
{
	struct enodes *n;

	if (!store_nodes(e->st) || e->nodes != NULL)
		return 0;
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return -ENOMEM;
	n->every = (e->lease > 0 ? e->lease : STORE_LEASE_DEFAULT) / 3;
	if ((n->ev = evtimer_new(co_rt_base(e->rt), node_cb, e)) == NULL) {
		free(n);
		return -ENOMEM;
	}
	e->nodes = n;
	node_arm(e);
	return 0;
}

void
node_free(struct eng *e)
{
	if (e->nodes == NULL)
		return;
	event_free(e->nodes->ev);
	free(e->nodes);
	e->nodes = NULL;
}
