/*
 * prune.c — retention and the prune op: ended jobs past their time are
 * deleted with their attempts, in batches of PRUNE_BATCH jobs, each batch
 * one store write (so one short transaction on the writer thread, which
 * also gives the freed pages back: store_prune).
 *
 * The pruner runs every prune_interval seconds: a round goes through
 * every queue twice (succeeded jobs past retain_succeeded, then failed,
 * timed_out and cancelled ones past retain_failed; a queue's own value
 * or the [daemon] one; 0 keeps forever), submitting the next batch from
 * the callback of the last one until a batch comes back short.  Nothing
 * is scanned: each batch is a range of the index on (state, finished_at).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "engine_int.h"
#include "log.h"
#include "watch.h"

/* Jobs one prune write deletes: small, so that a batch never holds the
 * writer for long: a submit that comes in waits for at most one batch,
 * 250 jobs and their attempts, a few ms (bench/bench_prune.c,
 * docs/BENCH.md "Pruning"). */
#define PRUNE_BATCH 250
/* The pruner's share of the writer: after a batch that took t, the next
 * one waits t as well (at most PRUNE_REST_MAX), so pruning a million
 * rows under a load of submits takes at most half of the writer's time
 * and the submits' commits are not queued behind batch after batch. */
#define PRUNE_REST_MAX 0.1

#define PRUNE_OK   (1u << STORE_SUCCEEDED)
#define PRUNE_FAIL ((1u << STORE_FAILED) | (1u << STORE_TIMED_OUT) | \
	(1u << STORE_CANCELLED))

struct prune_round {
	struct eng *e;
	struct equeue *q;               /* the queue being pruned */
	int phase;                      /* 0: succeeded, 1: the others */
	size_t deleted;                 /* by the last batch */
	size_t total;
	struct store_prune p;
	double sent;                    /* the batch's submit (co_now) */
	struct event *rest;             /* the pause before the next */
};

static void prune_next(struct prune_round *r);

static void
prune_arm(struct eng *e)
{
	struct timeval tv = { (time_t)e->prune_every,
		(suseconds_t)((e->prune_every - (time_t)e->prune_every) * 1e6) };

	if (!e->stopping)
		evtimer_add(e->prune_ev, &tv);
}

void
prune_configure(struct eng *e, const struct conf *c)
{
	const struct conf_daemon *d = conf_daemon(c);

	e->retain_ok = d->retain_succeeded;
	e->retain_fail = d->retain_failed;
	e->prune_every = d->prune_interval;
	if (!e->pruning)
		prune_arm(e);
}

/* The retention of q for phase, in seconds (0: forever). */
static double
prune_retain(const struct eng *e, const struct equeue *q, int phase)
{
	double own = phase == 0 ? q->retain_ok : q->retain_fail;

	return own >= 0 ? own : phase == 0 ? e->retain_ok : e->retain_fail;
}

static void
prune_end(struct prune_round *r)
{
	struct eng *e = r->e;

	if (r->total > 0)
		log_info("pruned %zu ended jobs past their retention",
		    r->total);
	e->pruning = false;
	if (r->rest != NULL)
		event_free(r->rest);
	free(r);
	prune_arm(e);
}

static void
prune_done(void *arg, int status)
{
	struct prune_round *r = arg;
	struct timeval tv;
	double took;

	if (status < 0 || r->e->stopping) {
		if (status < 0)
			log_warnx("pruning: %s", store_errmsg());
		prune_end(r);
		return;
	}
	r->total += r->deleted;
	watch_publish_pruned(r->e->hub, r->p.queue, r->deleted);
	if (r->deleted < r->p.limit && ++r->phase == 2) {
		r->phase = 0;
		r->q = TAILQ_NEXT(r->q, link);
	}
	took = co_now() - r->sent;
	if (took > PRUNE_REST_MAX)
		took = PRUNE_REST_MAX;
	if (r->deleted < r->p.limit || r->rest == NULL || took < 0.001) {
		prune_next(r);
		return;
	}
	tv.tv_sec = 0;
	tv.tv_usec = (suseconds_t)(took * 1e6);
	evtimer_add(r->rest, &tv);
}

static void
prune_rested(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	prune_next(arg);
}

/* Submit the next batch of the round, or end it. */
static void
prune_next(struct prune_round *r)
{
	double keep;
	int rc;

	for (; r->q != NULL; r->q = TAILQ_NEXT(r->q, link), r->phase = 0)
		for (; r->phase < 2; r->phase++) {
			if ((keep = prune_retain(r->e, r->q, r->phase)) <= 0)
				continue;
			r->p.before = store_now() - keep;
			r->p.states = r->phase == 0 ? PRUNE_OK : PRUNE_FAIL;
			r->p.queue = r->q->name;
			r->p.limit = PRUNE_BATCH;
			r->sent = co_now();
			if ((rc = store_prune(r->e->st, &r->p, &r->deleted,
			    prune_done, r)) == 0)
				return;
			if (rc != -ENOTSUP)     /* a backend without it */
				log_warnx("pruning: %s", store_errmsg());
			prune_end(r);
			return;
		}
	prune_end(r);
}

void
prune_cb(evutil_socket_t fd, short what, void *arg)
{
	struct eng *e = arg;
	struct prune_round *r;

	(void)fd;
	(void)what;
	if (e->pruning || e->stopping)
		return;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		prune_arm(e);
		return;
	}
	r->e = e;
	r->q = TAILQ_FIRST(&e->queues);
	/* No timer: no rests, the round goes on at once after each batch. */
	r->rest = evtimer_new(co_rt_base(e->rt), prune_rested, r);
	e->pruning = true;
	prune_next(r);
}

/* The prune op (task): every batch awaited, until one comes back short. */
int
prune_op(struct eng *e, const struct proto_prune *pp, size_t *deleted,
    struct proto_err *err)
{
	struct store_prune p = { .before = pp->before, .states = pp->states,
		.limit = PRUNE_BATCH };
	struct eng_await a;
	size_t n;
	int rc;

	*deleted = 0;
	do {
		eng_await_init(&a);
		if ((rc = store_prune(e->st, &p, &n, eng_await_cb, &a)) == 0)
			rc = eng_await(&a);
		if (rc < 0) {
			proto_err_set(err, PROTO_STORAGE_ERROR, "%s",
			    store_errmsg());
			return rc;
		}
		*deleted += n;
		watch_publish_pruned(e->hub, NULL, n);
	} while (n == PRUNE_BATCH);
	if (*deleted > 0)
		log_info("prune: deleted %zu ended jobs", *deleted);
	return 0;
}
