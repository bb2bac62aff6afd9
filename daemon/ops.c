/*
 * ops.c — the ops table and each op (ops.h, docs/PROTOCOL.md).
 *
 * Each op gets the parsed request and its reply, and answers it exactly
 * once: before returning, or (submit) from the engine's commit callback.
 * An op that awaits holds the connection's later requests, as the
 * protocol says of wait, cancel and backpressure.
 *
 * Visibility (engine.h: eng_may_see): every op that names a job or a
 * group answers one the client may not see exactly as one that does not
 * exist — the same code, the same message, before any wait — so that no
 * answer tells another user's job from a missing one.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <jansson.h>

#include "co_pool.h"
#include "co.h"
#include "co_sched.h"
#include "engine.h"
#include "log.h"
#include "ops_int.h"
#include "proto.h"
#include "schedules.h"
#include "server.h"
#include "watch.h"
#include "store.h"

typedef void (*op_fn)(struct ops_ctx *, struct proto_req *, struct reply *);

void
answer_error(struct reply *r, const struct proto_req *req,
    enum proto_code code, const char *msg)
{
	reply_send(r, proto_error(req, code, msg));
}

void
answer_err(struct reply *r, const struct proto_req *req,
    const struct proto_err *err)
{
	answer_error(r, req, err->code, err->msg);
}

/* An await interrupted because the connection is closing or jobd stops:
 * the answer will most likely never be read, but every reply is answered. */
static void
answer_interrupted(struct reply *r, const struct proto_req *req, int rc)
{
	if (rc == -ECANCELED)
		answer_error(r, req, PROTO_SHUTTING_DOWN, "jobd is stopping or "
		    "the connection is closing");
	else
		answer_error(r, req, PROTO_STORAGE_ERROR, "the job's end could "
		    "not be recorded in the database");
}

/* A read the store failed (a damaged page, an I/O error): the client is
 * told, and so is the log, at most once a second so that a client polling
 * a damaged job cannot flood it. */
/* A read failed with rc and msg (store_errmsg() of the thread it ran on). */
static void
answer_read_error(struct reply *r, const struct proto_req *req, int rc,
    const char *msg)
{
	static double logged;
	double now = store_now();

	if (rc != -ENOMEM && now - logged >= 1.0) {
		log_warnx("a read failed: %s", msg);
		logged = now;
	}
	answer_error(r, req, rc == -ENOMEM ? PROTO_INTERNAL :
	    PROTO_STORAGE_ERROR, rc == -ENOMEM ? "out of memory" : msg);
}

static void
answer_store_error(struct reply *r, const struct proto_req *req, int rc)
{
	answer_read_error(r, req, rc, store_errmsg());
}

/* ---- {JOB} ------------------------------------------------------------- */

static json_t *
json_text(const char *text)
{
	json_t *v;

	if (text == NULL)
		return json_null();
	if ((v = json_loads(text, JSON_DECODE_ANY, NULL)) == NULL)
		v = json_string(text);  /* not JSON after all: show it as is */
	return v;
}

static json_t *
str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

/* {"uid":U,"gid":G,"pid":P}, or null when nobody was recorded. */
static json_t *
submitter_json(const struct store_submitter *by)
{
	if (!by->known)
		return json_null();
	return json_pack("{s:I s:I s:I}", "uid", (json_int_t)by->uid,
	    "gid", (json_int_t)by->gid, "pid", (json_int_t)by->pid);
}

static json_t *job_json_base(const struct store_job *j);

/* A job row as the protocol shows it. */
json_t *
ops_job_json(const struct store_job *j)
{
	json_t *job = job_json_base(j);

	if (job != NULL && ops_job_life(job, j) < 0) {
		json_decref(job);
		return NULL;
	}
	return job;
}

static json_t *
job_json_base(const struct store_job *j)
{
	return json_pack("{s:I s:s s:s s:s s:o s:o s:i s:i s:f s:o s:o s:o "
	    "s:o s:o s:o s:o s:o s:o}",
	    "id", (json_int_t)j->id,
	    "queue", j->queue,
	    "kind", j->kind,
	    "state", store_state_name(j->state),
	    "args", json_text(j->args),
	    "name", str_or_null(j->name),
	    "attempts", j->attempts,
	    "max_attempts", j->max_attempts,
	    "timeout", j->timeout,
	    "created_at", proto_time(j->created_at),
	    "started_at", proto_time(j->started_at),
	    "finished_at", proto_time(j->finished_at),
	    "result", json_text(j->result),
	    "error", str_or_null(j->error),
	    "cancel_reason", str_or_null(j->cancel_reason),
	    "group", j->group_id != 0 ? json_integer(j->group_id) :
	    json_null(),
	    "submitted_by", submitter_json(&j->submitter),
	    "node", j->node != 0 ? json_integer(j->node) : json_null());
}

static json_t *
jobs_json(struct store_job **jobs, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		if (json_array_append_new(a, ops_job_json(jobs[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* {"ok":true,key:val} with req's tag; val's reference is taken. */
json_t *
ok_with(const struct proto_req *req, const char *key, json_t *val)
{
	json_t *resp = proto_ok(req);

	if (val == NULL || resp == NULL ||
	    json_object_set_new(resp, key, val) < 0) {
		json_decref(resp);
		return NULL;
	}
	return resp;
}

/* ---- ping, stats ---------------------------------------------------------- */

static void
op_ping(struct ops_ctx *ctx, struct proto_req *req, struct reply *r)
{
	char line[128];
	size_t n;

	(void)ctx;
	/* proto_ok puts the tag before the version. */
	if ((n = proto_line(line, sizeof(line), "{\"ok\":true", req->tag,
	    ",\"version\":\"" JOBD_VERSION "\"}")) > 0)
		reply_send_raw(r, line, n);
	else
		reply_send(r, ok_with(req, "version",
		    json_string(JOBD_VERSION)));
}

static json_t *
stats_queues(const struct eng *e)
{
	struct eng_queue_info qi;
	json_t *qs = json_object();
	size_t i;

	for (i = 0; qs != NULL && eng_queue_info(e, i, &qi) == 0; i++)
		if (json_object_set_new(qs, qi.name, json_pack("{s:I s:I s:i "
		    "s:i s:b s:b s:I s:I}", "queued", (json_int_t)qi.queued,
		    "running", (json_int_t)qi.running, "workers", qi.workers,
		    "capacity", qi.capacity, "configured", qi.configured,
		    "paused", qi.paused, "scheduled", (json_int_t)qi.scheduled,
		    "waiting", (json_int_t)qi.waiting)) < 0) {
			json_decref(qs);
			return NULL;
		}
	return qs;
}

/* The cron schedules of the config, each with its next and last slot. */
static void
op_schedules(struct ops_ctx *ctx, struct proto_req *req, struct reply *r)
{
	json_t *a = ctx->sch != NULL ? sch_list(ctx->sch) : json_array();

	reply_send(r, a != NULL ? ok_with(req, "schedules", a) : NULL);
}

json_t *
ops_stats_json(const struct ops_ctx *ctx, const struct proto_req *req)
{
	struct eng_counters c;
	struct store_stats ss;
	json_t *resp;

	eng_counters(ctx->eng, &c);
	store_stats(ctx->st, &ss);
	resp = ok_with(req, "queues", stats_queues(ctx->eng));
	if (resp != NULL && json_object_update_new(resp, json_pack("{s:{s:I "
	    "s:I s:I s:I s:I s:I s:I s:I} s:{s:I s:I s:I s:I} s:I s:f s:s}",
	    "jobs", "submitted", (json_int_t)c.submitted,
	    "retried", (json_int_t)c.retried,
	    "succeeded", (json_int_t)c.ended[STORE_SUCCEEDED],
	    "failed", (json_int_t)c.ended[STORE_FAILED],
	    "timed_out", (json_int_t)c.ended[STORE_TIMED_OUT],
	    "cancelled", (json_int_t)c.ended[STORE_CANCELLED],
	    "requeued", (json_int_t)c.requeued,
	    "live", (json_int_t)c.live,
	    "store", "transactions", (json_int_t)ss.transactions,
	    "pending", (json_int_t)ss.pending,
	    "largest_batch", (json_int_t)ss.batch_largest,
	    "errors", (json_int_t)(ss.failed + c.store_errors),
	    "connections", (json_int_t)(ctx->srv != NULL ?
	    srv_connections(ctx->srv) : 0),
	    "uptime", store_now() - ctx->started,
	    "version", JOBD_VERSION)) < 0) {
		json_decref(resp);
		resp = NULL;
	}
	return resp;
}

static void
op_stats(struct ops_ctx *ctx, struct proto_req *req, struct reply *r)
{
	reply_send(r, ops_stats_json(ctx, req));
}

/* ---- who asks ------------------------------------------------------------ */

/* The engine's view of r's peer, borrowing from the connection: valid
 * while the op runs in its task.  A peer the server cannot name is
 * nobody (owns no job, is no admin), never jobd itself. */
const struct eng_who *
who_of(struct reply *r, struct eng_who *who)
{
	const struct srv_peer *p = reply_peer(r);

	memset(who, 0, sizeof(*who));
	who->uid = ENG_NOBODY;
	who->gid = (gid_t)-1;
	if (p != NULL) {
		who->uid = p->uid;
		who->gid = p->gid;
		who->pid = p->pid;
		who->groups = p->groups;
		who->ngroups = p->ngroups;
	}
	return who;
}

/* ---- submit ------------------------------------------------------------ */

/* The engine's commit callback: the answer, given once committed. */
static void
submit_done(void *arg, int status, const struct eng_ack *ack)
{
	struct reply *r = arg;
	json_t *resp, *ids;
	char head[64], line[128];
	size_t i;

	if (status == 0 && ack->group == 0) {   /* the hot answer */
		snprintf(head, sizeof(head), "{\"ok\":true,\"id\":%lld%s",
		    (long long)ack->id, ack->duplicate ?
		    ",\"duplicate\":true" : "");
		if ((i = proto_line(line, sizeof(line), head, reply_tag(r),
		    "}")) > 0) {
			reply_send_raw(r, line, i);
			return;
		}
	}
	if (status < 0) {
		/* -EEXIST: a group member's unique_key is held (a group is
		 * all or nothing); the message names the holder. */
		resp = proto_error(NULL, status == -ENOMEM ? PROTO_INTERNAL :
		    status == -EEXIST ? PROTO_BAD_REQUEST :
		    status == -ENOENT ? PROTO_NOT_FOUND :
		    PROTO_STORAGE_ERROR, store_errmsg());
	} else if (ack->group == 0) {
		resp = json_pack("{s:b s:I}", "ok", 1, "id",
		    (json_int_t)ack->id);
		if (resp != NULL && ack->duplicate)
			json_object_set_new(resp, "duplicate", json_true());
	} else {
		ids = json_array();
		for (i = 0; ids != NULL && i < ack->n; i++)
			if (json_array_append_new(ids, json_integer(ack->id +
			    (json_int_t)i)) < 0)
				break;
		resp = json_pack("{s:b s:I s:o}", "ok", 1, "group",
		    (json_int_t)ack->group, "ids", ids);
	}
	if (resp != NULL && reply_tag(r) != NULL)
		json_object_set(resp, "tag", reply_tag(r));
	reply_send(r, resp);
}

static void
op_submit(struct ops_ctx *ctx, struct proto_req *req, struct reply *r)
{
	struct proto_err err;
	struct eng_who who;
	int rc;

	reply_keep_tag(r, req->tag);
	rc = eng_submit(ctx->eng, &req->u.submit, who_of(r, &who),
	    submit_done, r, &err);
	if (rc < 0)
		answer_err(r, req, &err);
}

static void
op_submit_group(struct ops_ctx *ctx, struct proto_req *req, struct reply *r)
{
	struct proto_err err;
	struct eng_who who;
	int rc;

	reply_keep_tag(r, req->tag);
	rc = eng_submit_group(ctx->eng, &req->u.group, who_of(r, &who),
	    submit_done, r, &err);
	if (rc < 0)
		answer_err(r, req, &err);
}

/* ---- get, list ------------------------------------------------------------ */

/* The one answer for a job that is not there, or not who's to see. */
static void
answer_no_job(struct reply *r, const struct proto_req *req, int64_t id)
{
	char msg[64];

	snprintf(msg, sizeof(msg), "no job %lld", (long long)id);
	answer_error(r, req, PROTO_NOT_FOUND, msg);
}

static void
answer_no_group(struct reply *r, const struct proto_req *req, int64_t gid)
{
	char msg[64];

	snprintf(msg, sizeof(msg), "no group %lld", (long long)gid);
	answer_error(r, req, PROTO_NOT_FOUND, msg);
}

/* Job id from the store if who may see it, or NULL once the answer
 * (not_found, or the store's error) is given. */
static struct store_job *
lookup_job(struct ops_ctx *ctx, struct proto_req *req, struct reply *r,
    int64_t id, const struct eng_who *who)
{
	struct store_job *j;
	int rc;

	if ((rc = store_get(ctx->st, id, &j)) < 0 && rc != -ENOENT) {
		answer_store_error(r, req, rc);
		return NULL;
	}
	if (rc == 0 && !eng_may_see(ctx->eng, who, &j->submitter)) {
		store_job_free(j);
		rc = -ENOENT;
	}
	if (rc == -ENOENT) {
		answer_no_job(r, req, id);
		return NULL;
	}
	return j;
}

/* Group gid from the store if who may see it: 0, or a negative errno
 * once the answer is given. */
static int
lookup_group(struct ops_ctx *ctx, struct proto_req *req, struct reply *r,
    int64_t gid, const struct eng_who *who, struct store_group *g)
{
	int rc;

	if ((rc = store_group_get(ctx->st, gid, g)) < 0 && rc != -ENOENT) {
		answer_store_error(r, req, rc);
		return rc;
	}
	if (rc == 0 && !eng_may_see(ctx->eng, who, &g->submitter))
		rc = -ENOENT;
	if (rc == -ENOENT)
		answer_no_group(r, req, gid);
	return rc;
}

static void
answer_job(struct ops_ctx *ctx, struct proto_req *req, struct reply *r,
    int64_t id, const struct eng_who *who)
{
	struct store_job *j;

	json_t *job;
	int rc;

	if ((j = lookup_job(ctx, req, r, id, who)) == NULL)
		return;
	job = ops_job_json(j);
	store_job_free(j);
	if (job != NULL && req->op == PROTO_OP_GET && req->u.get.history &&
	    (rc = ops_job_history(ctx->st, job, id)) < 0) {
		json_decref(job);
		answer_store_error(r, req, rc);
		return;
	}
	reply_send(r, ok_with(req, "job", job));
}

static void
op_get(struct ops_ctx *ctx, struct proto_req *req, struct reply *r)
{
	struct eng_who who;
	int rc;

	if ((rc = eng_settle(ctx->eng, req->u.get.id)) < 0)
		answer_interrupted(r, req, rc);
	else
		answer_job(ctx, req, r, req->u.get.id, who_of(r, &who));
}

/* A list (or a group's members, for a wait on it) is read, built and
 * serialised on the reads pool, one of the
 * executor's threads (the store's reads are for any thread), so that a
 * list of 10,000 rows never holds the loop: the others' requests go on
 * while it is made, and only its line comes back.  Past LIST_TRIM rows the
 * thread gives the freed memory back to the system (malloc_trim), so one
 * big answer does not leave jobd that much bigger. */
#define LIST_TRIM 1000

struct list_work {
	struct store *st;
	struct store_filter f;
	int64_t gid;                    /* not 0: the group's jobs instead */
	char *queue;                    /* f.queue's copy */
	json_t *resp;                   /* {"ok":true} with the tag */
	int rc;
	char *line;
	size_t len;
	char msg[256];                  /* the read's error */
	bool here;                      /* run on the loop thread */
};

static void
list_work_free(struct list_work *w)
{
	json_decref(w->resp);
	free(w->queue);
	free(w->line);
	free(w);
}

/* The reads pool's threads yield to the loop thread and the writer when
 * the cores are busy (nice 10, this thread only): a big list then costs
 * the others' latency nothing but its share of memory bandwidth. */
static void
list_nice(void)
{
	static __thread bool done;

	if (!done && setpriority(PRIO_PROCESS, (id_t)gettid(), 10) == 0)
		done = true;
}

static void *
list_run(void *arg)
{
	struct list_work *w = arg;
	struct store_job **jobs = NULL;
	size_t n = 0;
	json_t *a;

	if (!w->here)
		list_nice();

	w->rc = w->gid != 0 ? store_group_jobs(w->st, w->gid, &jobs, &n) :
	    store_list(w->st, &w->f, &jobs, &n);
	if (w->rc < 0) {
		snprintf(w->msg, sizeof(w->msg), "%s", store_errmsg());
		return NULL;
	}
	a = jobs_json(jobs, n);
	store_jobs_free(jobs, n);
	if (a == NULL || json_object_set_new(w->resp, "jobs", a) < 0 ||
	    proto_dump(w->resp, &w->line, &w->len) < 0)
		w->rc = -ENOMEM;
	json_decref(w->resp);           /* the rows' tree, freed here */
	w->resp = NULL;
#if !defined(JOBD_SANITIZE) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__SANITIZE_THREAD__)
	/* Not under a sanitizer: its allocator is not glibc's, and glibc's
	 * malloc_trim on an arena it never set up crashes (ASan: SEGV). */
	if (n >= LIST_TRIM)
		(void)malloc_trim(0);
#endif
	return NULL;
}

/* The list's task was cancelled (its client left) while it ran. */
static void
list_abandoned(void *arg, void *result)
{
	(void)result;
	list_work_free(arg);
}

/* Answer req with {"jobs": [...]}: the rows f selects, or group gid's. */
static void
list_answer(struct ops_ctx *ctx, struct proto_req *req, struct reply *r,
    const struct store_filter *f, int64_t gid)
{
	struct list_work *w;
	int rc;

	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (f != NULL && f->queue != NULL &&
	    (w->queue = strdup(f->queue)) == NULL) ||
	    (w->resp = proto_ok(req)) == NULL) {
		if (w != NULL)
			list_work_free(w);
		answer_error(r, req, PROTO_INTERNAL, "out of memory");
		return;
	}
	w->st = ctx->st;
	w->gid = gid;
	if (f != NULL)
		w->f = *f;
	w->f.queue = w->queue;
	w->here = ctx->reads == NULL;
	if (w->here)
		(void)list_run(w);
	else if ((rc = co_pool_run(ctx->reads, list_run, w, list_abandoned,
	    NULL)) < 0) {
		if (rc == -ECANCELED || rc == -ETIMEDOUT) {
			answer_interrupted(r, req, rc);  /* w is the pool's */
			return;
		}
		w->here = true;         /* no thread for it: here */
		(void)list_run(w);
	}
	if (w->rc < 0) {
		answer_read_error(r, req, w->rc, w->msg);
	} else {
		reply_send_line(r, w->line, w->len);
		w->line = NULL;
	}
	list_work_free(w);
}

static void
op_list(struct ops_ctx *ctx, struct proto_req *req, struct reply *r)
{
	struct store_filter f = { .state = STORE_ANY_STATE,
	    .queue = req->u.list.queue, .limit = (size_t)req->u.list.limit };
	enum store_state st;
	struct eng_who who;
	int rc;

	f.by_uid = eng_sees_only(ctx->eng, who_of(r, &who), &f.uid);
	if (req->u.list.state != NULL) {
		if (store_state_parse(req->u.list.state, &st) < 0) {
			answer_error(r, req, PROTO_BAD_REQUEST, "field "
			    "\"state\": unknown state");
			return;
		}
		f.state = (int)st;
	}
	if ((rc = eng_settle_all(ctx->eng)) < 0) {
		answer_interrupted(r, req, rc);
		return;
	}
	list_answer(ctx, req, r, &f, 0);
}

/* ---- wait ------------------------------------------------------------- */

static void
wait_group(struct ops_ctx *ctx, struct proto_req *req, struct reply *r)
{
	int64_t gid = req->u.wait.group;
	struct store_group g;
	struct eng_who who;
	char msg[64];
	int rc;

	/* Before the wait: another user's group must not time out. */
	if (lookup_group(ctx, req, r, gid, who_of(r, &who), &g) < 0)
		return;
	rc = eng_wait_group(ctx->eng, gid, req->u.wait.timeout);
	if (rc == -ETIMEDOUT) {
		snprintf(msg, sizeof(msg), "group %lld has not ended",
		    (long long)gid);
		answer_error(r, req, PROTO_TIMEOUT, msg);
		return;
	}
	if (rc < 0) {
		answer_interrupted(r, req, rc);
		return;
	}
	list_answer(ctx, req, r, NULL, gid);    /* off the loop */
}

static void
op_wait(struct ops_ctx *ctx, struct proto_req *req, struct reply *r)
{
	int64_t id = req->u.wait.id;
	struct store_job *j;
	struct eng_who who;
	char msg[64];
	int rc;

	if (req->u.wait.group != 0) {
		wait_group(ctx, req, r);
		return;
	}
	/* Before the wait: another user's job must not time out. */
	if ((rc = eng_settle(ctx->eng, id)) < 0) {
		answer_interrupted(r, req, rc);
		return;
	}
	if ((j = lookup_job(ctx, req, r, id, who_of(r, &who))) == NULL)
		return;
	store_job_free(j);
	rc = eng_wait_job(ctx->eng, id, req->u.wait.timeout);
	if (rc == -ETIMEDOUT) {
		snprintf(msg, sizeof(msg), "job %lld has not ended",
		    (long long)id);
		answer_error(r, req, PROTO_TIMEOUT, msg);
	} else if (rc < 0) {
		answer_interrupted(r, req, rc);
	} else {
		answer_job(ctx, req, r, id, &who);
	}
}

/* ---- cancel ------------------------------------------------------------ */

/* The engine does not hold the job: it has ended, or never was. */
static void
cancel_gone(struct ops_ctx *ctx, struct proto_req *req, struct reply *r,
    int64_t id, const struct eng_who *who)
{
	struct store_job *j;
	char msg[96];

	if ((j = lookup_job(ctx, req, r, id, who)) == NULL)
		return;
	snprintf(msg, sizeof(msg), "job %lld has ended (%s)", (long long)id,
	    store_state_name(j->state));
	store_job_free(j);
	answer_error(r, req, PROTO_NOT_CANCELLABLE, msg);
}

static void
cancel_group(struct ops_ctx *ctx, struct proto_req *req, struct reply *r)
{
	int64_t gid = req->u.cancel.group, *ids = NULL;
	struct store_group g;
	struct proto_err err;
	struct eng_who who;
	json_t *resp, *a;
	char msg[96];
	size_t i, n = 0;
	int rc;

	rc = eng_cancel_group(ctx->eng, gid, who_of(r, &who),
	    req->u.cancel.reason, &ids, &n, &err);
	if (rc == -EPERM) {
		answer_err(r, req, &err);
		return;
	}
	if (rc == -ENOENT) {
		/* Not in memory, or not who's to see: unknown, ended, or a
		 * read that failed (that is a storage error, not "ended"). */
		if (lookup_group(ctx, req, r, gid, &who, &g) < 0)
			return;
		snprintf(msg, sizeof(msg), "every job of group %lld has ended",
		    (long long)gid);
		answer_error(r, req, PROTO_NOT_CANCELLABLE, msg);
		return;
	}
	if (rc < 0 && ids == NULL) {
		answer_interrupted(r, req, rc == -ENOMEM ? -EIO : rc);
		return;
	}
	a = json_array();
	for (i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, json_integer(ids[i]));
	free(ids);
	if (rc < 0) {
		json_decref(a);
		answer_interrupted(r, req, rc);
		return;
	}
	resp = ok_with(req, "ids", a);
	if (resp != NULL)
		json_object_set_new(resp, "state", json_string("cancelled"));
	reply_send(r, resp);
}

static void
op_cancel(struct ops_ctx *ctx, struct proto_req *req, struct reply *r)
{
	struct proto_err err;
	struct eng_who who;
	int rc;

	if (req->u.cancel.group != 0) {
		cancel_group(ctx, req, r);
		return;
	}
	rc = eng_cancel_job(ctx->eng, req->u.cancel.id, who_of(r, &who),
	    req->u.cancel.reason, &err);
	if (rc == -ENOENT)
		cancel_gone(ctx, req, r, req->u.cancel.id, &who);
	else if (rc == -EALREADY || rc == -EPERM)
		answer_err(r, req, &err);
	else if (rc < 0)
		answer_interrupted(r, req, rc);
	else
		reply_send(r, ok_with(req, "state", json_string("cancelled")));
}

/* ---- watch ------------------------------------------------------------- */

/* A watcher's buffer, and the answers it may have unwritten on its
 * connection before it stops taking events: together the most a watcher
 * that never reads costs (beyond them events are dropped, and counted). */
#define WATCH_BUF    (256u * 1024)
#define WATCH_UNSENT (256u * 1024)
/* After an event wakes the stream, wait this long for more before
 * writing: one write per batch, not per event (a busy jobd makes tens of
 * thousands a second), for at most this much more latency. */
#define WATCH_COALESCE 0.01

struct watch_op {
	struct co_waitq wq;     /* the op's task, for events */
	struct reply *next;     /* the reply the next events go into */
};

static void
watch_wake(void *arg)
{
	struct watch_op *wo = arg;

	co_waitq_wake_all(&wo->wq, 0);
}

/* Stream events until the client goes or jobd stops: each batch of
 * lines is one more reply on the connection, sent once the earlier ones
 * are mostly written, so a slow reader fills its watcher (and then loses
 * events) rather than jobd's memory. */
static void
watch_stream(struct watcher *w, struct watch_op *wo)
{
	struct reply *more;
	char *buf;
	size_t len;

	for (;;) {
		if (watch_pending(w) == 0 &&
		    co_waitq_wait(&wo->wq, CO_FOREVER, NULL) < 0)
			break;
		if (watch_pending(w) == 0)
			continue;
		if (co_sleep(WATCH_COALESCE) < 0 ||
		    reply_wait_drained(wo->next, WATCH_UNSENT) < 0 ||
		    (more = reply_again(wo->next)) == NULL)
			break;
		/* The watcher's buffer becomes the reply: no copy. */
		if ((len = watch_take_buf(w, &buf)) > 0)
			reply_send_line(wo->next, buf, len);
		else
			reply_send_raw(wo->next, "", 0);
		wo->next = more;
	}
	reply_send_raw(wo->next, "", 0);        /* the last, empty, slot */
}

static void
op_watch(struct ops_ctx *ctx, struct proto_req *req, struct reply *r)
{
	struct watch_filter f = { .queue = req->u.watch.queue,
		.id = req->u.watch.id, .group = req->u.watch.group };
	struct watch_op wo = { .next = NULL };
	struct eng_who who;
	struct watcher *w;

	/* The rule of get and list, fixed when the watch begins: under
	 * visibility = own, only the events of the peer's own jobs. */
	f.own = eng_sees_only(ctx->eng, who_of(r, &who), &f.uid);
	co_waitq_init(&wo.wq);
	if (ctx->hub == NULL || (w = watch_add(ctx->hub, &f, WATCH_BUF,
	    watch_wake, &wo)) == NULL) {
		answer_error(r, req, PROTO_INTERNAL, "out of memory");
		return;
	}
	if ((wo.next = reply_again(r)) == NULL) {
		watch_remove(w);
		answer_error(r, req, PROTO_INTERNAL, "out of memory");
		return;
	}
	reply_send(r, proto_ok(req));
	watch_stream(w, &wo);
	watch_remove(w);
}

/* ---- dispatch ------------------------------------------------------------ */

static const op_fn op_table[PROTO_NOPS] = {
	[PROTO_OP_PING] = op_ping,
	[PROTO_OP_SUBMIT] = op_submit,
	[PROTO_OP_SUBMIT_GROUP] = op_submit_group,
	[PROTO_OP_GET] = op_get,
	[PROTO_OP_WAIT] = op_wait,
	[PROTO_OP_CANCEL] = op_cancel,
	[PROTO_OP_LIST] = op_list,
	[PROTO_OP_STATS] = op_stats,
	[PROTO_OP_PAUSE] = op_pause,
	[PROTO_OP_RESUME] = op_pause,
	[PROTO_OP_RETRY] = op_retry,
	[PROTO_OP_PRUNE] = op_prune,
	[PROTO_OP_WATCH] = op_watch,
	[PROTO_OP_SCHEDULES] = op_schedules,
};

void
ops_handle(void *arg, const char *line, size_t len, struct reply *r)
{
	struct ops_ctx *ctx = arg;
	struct proto_req req;
	struct proto_err err;

	memset(&req, 0, sizeof(req));
	if (proto_parse(line, len, &req, &err) < 0)
		answer_err(r, &req, &err);
	else if (req.op >= PROTO_NOPS || op_table[req.op] == NULL)
		answer_error(r, &req, PROTO_UNKNOWN_OP, NULL);
	else
		op_table[req.op](ctx, &req, r);
	proto_req_clear(&req);
}
