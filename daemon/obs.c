/*
 * obs.c — the counters, the hub and the listener, wired to the daemon
 * (see obs.h).  The pages' data comes from memory (the engine's queues,
 * the counters) except a job's detail and the recent failures, which are
 * index-bounded store reads.
 */
#include <errno.h>
#include <stdlib.h>

#include <jansson.h>

#include "engine.h"
#include "hist.h"
#include "metrics.h"
#include "obs.h"
#include "ops.h"
#include "server.h"
#include "store.h"
#include "watch.h"
#include "web.h"

struct obs {
	struct met *met;
	struct watch_hub *hub;
	struct web *web;
	const struct ops_ctx *ctx;
	struct web_src src;
};

/* ---- the pages' sources -------------------------------------------------- */

static int
src_metrics(void *arg, struct met_buf *b)
{
	struct obs *o = arg;
	struct eng_queue_info qi;
	struct met_qstate *qs = NULL, *p;
	struct met_view v = { 0 };
	struct hist cs, cr;
	size_t i, n = 0;
	int rc;

	for (i = 0; eng_queue_info(o->ctx->eng, i, &qi) == 0; i++) {
		/* A queue a reload removed is shown until it drains. */
		if (!qi.configured && qi.queued == 0 && qi.running == 0)
			continue;
		if ((p = realloc(qs, (n + 1) * sizeof(*qs))) == NULL) {
			free(qs);
			return -ENOMEM;
		}
		qs = p;
		qs[n++] = (struct met_qstate){ .name = qi.name,
		    .queued = qi.queued, .running = qi.running,
		    .workers = qi.workers };
	}
	store_commit_hists(o->ctx->st, &cs, &cr);
	v.queues = qs;
	v.nqueues = n;
	v.connections = o->ctx->srv != NULL ? srv_connections(o->ctx->srv) : 0;
	v.watchers = watch_count(o->hub);
	v.watch_dropped = watch_dropped(o->hub);
	v.commit_seconds = &cs;
	v.commit_jobs = &cr;
	v.start_time = o->ctx->started;
	rc = met_write(o->met, &v, b);
	free(qs);
	return rc;
}

static json_t *
src_stats(void *arg)
{
	struct obs *o = arg;

	return ops_stats_json(o->ctx, NULL);
}

/* An HTTP client is nobody (engine.h): no uid, no admin.  Under
 * visibility = own it sees no job, as a socket peer jobd cannot name. */
static bool
src_jobs_hidden(void *arg)
{
	struct obs *o = arg;
	const struct eng_who anon = { .uid = ENG_NOBODY, .gid = (gid_t)-1 };
	uid_t uid;

	return eng_sees_only(o->ctx->eng, &anon, &uid);
}

static json_t *
src_job(void *arg, int64_t id, int *status)
{
	struct obs *o = arg;
	struct store_job *j;
	json_t *v;
	int rc;

	if (src_jobs_hidden(o)) {
		*status = 404;
		return NULL;
	}
	if ((rc = store_get(o->ctx->st, id, &j)) < 0) {
		*status = rc == -ENOENT ? 404 : 500;
		return NULL;
	}
	v = ops_job_json(j);
	store_job_free(j);
	*status = v != NULL ? 200 : 500;
	return v;
}

/* Append up to n rows of state st to a. */
static int
failures_of(struct obs *o, int st, size_t n, json_t *a)
{
	struct store_filter f = { .state = st, .limit = n };
	struct store_job **jobs;
	size_t i, got;
	int rc;

	if ((rc = store_list(o->ctx->st, &f, &jobs, &got)) < 0)
		return rc;
	for (i = 0; i < got; i++)
		json_array_append_new(a, ops_job_json(jobs[i]));
	store_jobs_free(jobs, got);
	return 0;
}

static int
newest_first(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a,
	    "id"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b,
	    "id"));

	return x < y ? 1 : x > y ? -1 : 0;
}

/* {"jobs":[...]}: the newest n jobs that ended failed or timed out. */
static json_t *
src_failures(void *arg, size_t n)
{
	struct obs *o = arg;
	json_t *all = json_array(), *out = json_array(), **v;
	size_t i, k;

	if (all == NULL || out == NULL || n == 0 || src_jobs_hidden(o) ||
	    failures_of(o, STORE_FAILED, n, all) < 0 ||
	    failures_of(o, STORE_TIMED_OUT, n, all) < 0)
		goto done;
	k = json_array_size(all);
	if ((v = calloc(k ? k : 1, sizeof(*v))) == NULL)
		goto done;
	for (i = 0; i < k; i++)
		v[i] = json_array_get(all, i);
	qsort(v, k, sizeof(*v), newest_first);
	for (i = 0; i < k && i < n; i++)
		json_array_append(out, v[i]);
	free(v);
done:
	json_decref(all);
	return out != NULL ? json_pack("{s:o}", "jobs", out) : NULL;
}

/* ---- life ---------------------------------------------------------------- */

struct obs *
obs_new(void)
{
	struct obs *o;

	if ((o = calloc(1, sizeof(*o))) == NULL)
		return NULL;
	if ((o->met = met_new()) == NULL || (o->hub = watch_hub_new()) ==
	    NULL) {
		obs_free(o);
		return NULL;
	}
	o->src = (struct web_src){ .metrics = src_metrics, .stats = src_stats,
	    .job = src_job, .failures = src_failures,
	    .jobs_hidden = src_jobs_hidden, .arg = o };
	return o;
}

int
obs_listen(struct obs *o, struct event_base *base, const char *addr,
    const struct ops_ctx *ctx, const char **what)
{
	o->ctx = ctx;
	return web_open(base, addr, &o->src, o->hub, &o->web, what);
}

struct met *
obs_met(const struct obs *o)
{
	return o->met;
}

struct watch_hub *
obs_hub(const struct obs *o)
{
	return o->hub;
}

int
obs_port(const struct obs *o)
{
	return o->web != NULL ? web_port(o->web) : -1;
}

void
obs_close(struct obs *o)
{
	if (o == NULL)
		return;
	web_close(o->web);
	o->web = NULL;
}

void
obs_free(struct obs *o)
{
	if (o == NULL)
		return;
	obs_close(o);
	watch_hub_free(o->hub);
	met_free(o->met);
	free(o);
}
