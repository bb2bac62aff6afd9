/*
 * page.c — the window of scheduled jobs: only those due soonest are in
 * memory (in the engine's timer heap, sched.c); the rest are rows only,
 * read in from the index jobs_run_at as their time nears.
 *
 * Why: max_pending allows a million scheduled jobs per queue, most due
 * hours ahead; a job in memory costs about a kilobyte (its struct, its
 * args' tree, its idmap entry), so holding them all grows jobd by a GB.
 *
 * The window is a key, the edge (edge_at, edge_id): every scheduled job
 * with (run_at, id) <= edge is in memory; those after it may be rows only
 * ("paged out").  Memory may hold jobs past the edge too ("kept"): group
 * members (a group's bookkeeping needs every member), retries (their row
 * turns scheduled only when the retry's write commits), and jobs someone
 * waits on or has touched (page_fetch).  Paging in skips ids already in
 * memory, so a kept job is never built twice.
 *
 *  - A new scheduled job past the edge leaves memory once its insert has
 *    committed (page_settle; before that its row may not be visible to a
 *    page read, which would then step over it): if by then the edge has
 *    moved past it, it goes into the heap instead.
 *  - One libevent timer, the window's edge: when it fires (edge_at less
 *    the margin) the next page is read: rows after the edge due within
 *    sched_window, sched_window_jobs / 4 (at most 256) of them.  A short
 *    page moves the edge to now + sched_window; a full one to its last
 *    row (keyset paging: ties on run_at are neither lost nor read twice)
 *    and the next page follows as soon as the heap has room (about
 *    sched_window_jobs), or at the edge's time at the latest.  No poll,
 *    no scan: the work is per page, not per second.
 *  - At start, store_recover leaves out the scheduled jobs due past the
 *    horizon (the first edge); page_recover counts them for max_pending,
 *    stats and their users from one pass over the index (no rows built).
 *  - Counters (q->scheduled, the users' counts) include paged-out jobs:
 *    a job keeps its counts when it leaves memory and does not count
 *    again when it comes back.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "engine_int.h"
#include "idmap.h"
#include "kind.h"
#include "log.h"

#define PAGE_ROWS_MAX   256     /* rows per page read (a few ms) */
#define PAGE_MARGIN     1.0     /* s: read a full page's next this early */
#define PAGE_RETRY      1.0     /* s: after a failed read */

struct page {
	struct eng *e;
	double window;          /* [daemon] sched_window */
	size_t max;             /* sched_window_jobs */
	size_t rows;            /* per page read */
	bool started;           /* page_recover has run */
	double edge_at;         /* every scheduled job up to (edge_at, */
	int64_t edge_id;        /* edge_id) is in memory */
	bool full;              /* the last page was cut: rows follow */
	struct event *ev;       /* the edge's timer */
	size_t out;             /* jobs that left memory (for the log) */
	size_t in;              /* rows read in */
};

static void page_cb(evutil_socket_t fd, short what, void *arg);

struct page *
page_new(struct eng *e)
{
	struct page *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->e = e;
	p->window = 10;
	p->max = 4096;
	p->rows = PAGE_ROWS_MAX;
	p->edge_at = store_now() + p->window;
	p->edge_id = INT64_MAX;
	if ((p->ev = evtimer_new(co_rt_base(e->rt), page_cb, p)) == NULL) {
		free(p);
		return NULL;
	}
	return p;
}

/* The window's size from [daemon] (at start and on SIGHUP: the edge
 * moves on from where it is). */
void
page_configure(struct eng *e, const struct conf *c)
{
	const struct conf_daemon *d = conf_daemon(c);
	struct page *p = e->page;

	p->window = d->sched_window;
	p->max = (size_t)d->sched_window_jobs;
	p->rows = p->max / 4 < PAGE_ROWS_MAX ? p->max / 4 : PAGE_ROWS_MAX;
	if (!p->started)
		p->edge_at = store_now() + p->window;
}

void
page_free(struct page *p)
{
	if (p == NULL)
		return;
	event_free(p->ev);
	free(p);
}

/* The first edge: store_recover leaves out what is due after it. */
double
page_horizon(struct eng *e)
{
	return e->page->edge_at;
}

static bool
page_within(const struct page *p, double run_at, int64_t id)
{
	return run_at < p->edge_at || (run_at == p->edge_at &&
	    id <= p->edge_id);
}

/* The edge's timer, d seconds from now (0: at the next loop turn). */
static void
page_arm(struct page *p, double d)
{
	struct timeval tv;

	if (d < 0)
		d = 0;
	tv.tv_sec = (time_t)d;
	tv.tv_usec = (suseconds_t)((d - (double)tv.tv_sec) * 1e6);
	evtimer_add(p->ev, &tv);
}

/* j (J_SCHEDULED, inserted, counted) leaves memory: its counts stay. */
static void
page_out(struct job *j)
{
	j->e->page->out++;
	user_detach(j);
	job_forget(j);
}

/* Must j stay in memory whatever its run_at? */
static bool
page_kept(const struct job *j)
{
	return j->g != NULL || j->stop != STOP_NONE ||
	    !co_waitq_empty(&j->doneq) || j->e->stopping;
}

/* sched_add's question for a scheduled job: into the heap (true), or not
 * yet (false: a new job due past the edge, which page_settle takes out of
 * memory once its insert has committed)?  A job already in the store
 * (recovered, or a waiting one whose dependencies ended) stays: sched_add's
 * caller may still hold it, and there are no more of them than jobs that
 * were in memory anyway. */
bool
page_keep(struct job *j)
{
	struct page *p = j->e->page;

	return p == NULL || j->inserted || page_kept(j) ||
	    page_within(p, j->run_at, j->id);
}

/* The insert of j has committed: if page_keep left it out, out it goes
 * now, or into the heap if the edge has come past it meanwhile. */
void
page_settle(struct job *j)
{
	if (j->where != J_SCHEDULED || timerq_queued(&j->tnode) ||
	    j->retrying)
		return;
	if (page_kept(j) || page_within(j->e->page, j->run_at, j->id))
		sched_put(j);
	else
		page_out(j);
}

/* The job of row sj, paged in: built as recovery builds it, already
 * counted.  NULL if it could not be (the row stays for the next start). */
static struct job *
page_build(struct eng *e, struct store_job *sj)
{
	struct equeue *q = queue_find(e, sj->queue);
	struct job *j;

	if ((j = recover_job(e, q, sj)) == NULL) {
		log_warnx("job %lld: no memory to page it in",
		    (long long)sj->id);
		return NULL;
	}
	user_attach(j);
	job_move(j, J_SCHEDULED);
	e->page->in++;
	if (q == NULL || !q->configured || j->kind == NULL ||
	    j->args == NULL) {
		if (q != NULL)
			q->scheduled--;
		end_job(j, STORE_FAILED, NULL, q == NULL || !q->configured ?
		    "its queue is no longer configured" :
		    "its kind is no longer known, or its args are not JSON");
		return NULL;
	}
	sched_put(j);
	return j;
}

/* Read the page after the edge; move the edge; arm the timer. */
static void
page_fill(struct page *p)
{
	struct eng *e = p->e;
	double now = store_now(), until = now + p->window;
	size_t have = timerq_count(&e->tq), limit = p->rows, n = 0;
	struct store_job **rows = NULL;
	int rc;

	if (e->stopping)
		return;
	if (have + p->rows > p->max && p->full &&
	    p->edge_at - PAGE_MARGIN > now) {
		page_arm(p, p->edge_at - PAGE_MARGIN - now);
		return;                 /* room first, or the edge's time */
	}
	if ((rc = store_sched_page(e->st, p->edge_at, p->edge_id, until,
	    limit, &rows, &n)) < 0) {
		log_warnx("reading the scheduled jobs due next: %s",
		    store_errmsg());
		page_arm(p, PAGE_RETRY);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (idmap_get(e->jobs, rows[i]->id) == NULL)
			(void)page_build(e, rows[i]);
		if (i + 1 == n) {
			p->edge_at = rows[i]->run_at;
			p->edge_id = rows[i]->id;
		}
	}
	store_jobs_free(rows, n);
	if ((p->full = n == limit)) {
		page_arm(p, have + n + p->rows <= p->max ? 0 :
		    p->edge_at - PAGE_MARGIN - now);
	} else {
		p->edge_at = until;
		p->edge_id = INT64_MAX;
		page_arm(p, p->window / 2);
	}
}

static void
page_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	page_fill(arg);
}

/* sched_cb has made jobs ready: a full window with room again reads on
 * at once rather than at its edge's time. */
void
page_drained(struct eng *e)
{
	struct page *p = e->page;

	if (p != NULL && p->full && !e->stopping &&
	    timerq_count(&e->tq) + p->rows <= p->max)
		page_arm(p, 0);
}

/* Job id if it is a paged-out scheduled job: read in and kept (a cancel,
 * retry or wait needs it in memory).  NULL otherwise. */
struct job *
page_fetch(struct eng *e, int64_t id)
{
	struct store_job *sj;
	struct job *j = NULL;

	if (e->page == NULL || store_get(e->st, id, &sj) < 0)
		return NULL;
	/* Several daemons: only a row this one holds (another's is in its
	 * window, a pooled one is claimed first). */
	if (sj->state == STORE_SCHEDULED && sj->group_id == 0 &&
	    (!store_nodes(e->st) || sj->node == store_node_id(e->st)) &&
	    idmap_get(e->jobs, id) == NULL)
		j = page_build(e, sj);
	store_job_free(sj);
	return j;
}

/* A paged-out row at start: counted as its job would be (sched_add,
 * user_count). */
static int
page_count(void *arg, const struct store_sched_row *r)
{
	struct eng *e = arg;
	struct equeue *q;

	if (r->group_id != 0)   /* a group needs all of its members */
		return recover_fetch(e, r->id);
	if ((q = queue_find(e, r->queue)) != NULL)
		q->scheduled++;
	e->page->out++;
	if (r->submitter.known && r->submitter.uid != ENG_NOBODY)
		return user_hold(e, r->submitter.uid);
	return 0;
}

/* recover_run's part, after store_recover: the scheduled jobs it left
 * out, counted; then the first page's timer. */
int
page_recover(struct eng *e)
{
	struct page *p = e->page;
	int rc;

	if ((rc = store_sched_scan(e->st, p->edge_at, page_count, e)) < 0)
		return rc;
	if (p->out > 0)
		log_info("%zu scheduled jobs due after the next %g s stay in "
		    "the database until their time nears", p->out, p->window);
	p->started = true;
	page_arm(p, p->edge_at - p->window / 2 - store_now());
	return 0;
}
