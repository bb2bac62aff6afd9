/*
 * ops_life.c — the lifecycle's ops (docs/PROTOCOL.md): pause, resume,
 * retry and prune, and the lifecycle's part of {JOB} (run_at, priority,
 * retries, the next issue's fields as null, history).  Each op asks the
 * engine, which answers once its write has committed.
 */
#include <errno.h>
#include <stdlib.h>

#include "log.h"
#include "ops_int.h"
#include "server.h"

void
op_pause(struct ops_ctx *ctx, struct proto_req *req, struct reply *r)
{
	bool paused = req->op == PROTO_OP_PAUSE;
	struct proto_err err;
	struct eng_who who;
	json_t *resp;

	if (eng_pause(ctx->eng, req->u.pause.queue, paused, who_of(r, &who),
	    &err) < 0) {
		answer_err(r, req, &err);
		return;
	}
	resp = ok_with(req, "queue", json_string(req->u.pause.queue));
	if (resp != NULL && json_object_set_new(resp, "paused",
	    json_boolean(paused)) < 0) {
		json_decref(resp);
		resp = NULL;
	}
	reply_send(r, resp);
}

void
op_retry(struct ops_ctx *ctx, struct proto_req *req, struct reply *r)
{
	struct proto_err err;
	struct eng_who who;
	json_t *resp;

	if (eng_retry(ctx->eng, req->u.retry.id, who_of(r, &who), &err) < 0) {
		answer_err(r, req, &err);
		return;
	}
	resp = ok_with(req, "id", json_integer(req->u.retry.id));
	if (resp != NULL && json_object_set_new(resp, "state",
	    json_string("queued")) < 0) {
		json_decref(resp);
		resp = NULL;
	}
	reply_send(r, resp);
}

void
op_prune(struct ops_ctx *ctx, struct proto_req *req, struct reply *r)
{
	struct proto_err err;
	struct eng_who who;
	size_t n;

	if (eng_prune(ctx->eng, &req->u.prune, who_of(r, &who), &n,
	    &err) < 0)
		answer_err(r, req, &err);
	else
		reply_send(r, ok_with(req, "deleted", json_integer(
		    (json_int_t)n)));
}

static json_t *
life_time(double t)
{
	return t > 0 ? json_real(t) : json_null();
}

/* The after list ("12,13" as the store reads it) as an array, or null. */
static json_t *
life_after(const char *s)
{
	json_t *a;
	char *end;
	long long v;

	if (s == NULL || (a = json_array()) == NULL)
		return json_null();
	while (*s != '\0') {
		v = strtoll(s, &end, 10);
		if (end == s)
			break;
		json_array_append_new(a, json_integer(v));
		s = *end == ',' ? end + 1 : end;
	}
	return a;
}

int
ops_job_life(json_t *job, const struct store_job *j)
{
	json_t *f = json_pack("{s:o s:i s:i s:i s:f s:f s:s s:o s:o s:o s:o}",
	    "run_at", life_time(j->run_at),
	    "priority", j->priority,
	    "retries", j->retries,
	    "retried", j->retried,
	    "retry_delay", j->retry_delay,
	    "retry_max_delay", j->retry_max_delay,
	    "retry_backoff", j->retry_backoff == STORE_BACKOFF_FIXED ?
	    "fixed" : "exponential",
	    "after", life_after(j->after), "unique_key",
	    j->unique_key != NULL ?
	    json_string(j->unique_key) : json_null(), "schedule",
	    j->schedule != NULL ? json_string(j->schedule) : json_null(),
	    "slot", j->schedule != NULL ? json_real(j->slot) : json_null());

	if (f == NULL || json_object_update_new(job, f) < 0)
		return -ENOMEM;
	return 0;
}

static json_t *
attempt_json(const struct store_attempt *a)
{
	json_t *res = a->result != NULL ? json_loads(a->result,
	    JSON_DECODE_ANY, NULL) : json_null();

	return json_pack("{s:i s:o s:f s:s s:o s:o}", "attempt", a->attempt,
	    "started_at", life_time(a->started_at), "finished_at",
	    a->finished_at, "state", a->state, "error", a->error != NULL ?
	    json_string(a->error) : json_null(), "result", res != NULL ? res :
	    json_string(a->result));
}

int
ops_job_history(struct store *st, json_t *job, int64_t id)
{
	struct store_attempt **a;
	json_t *h;
	size_t n;
	int rc;

	if ((rc = store_attempts(st, id, &a, &n)) < 0)
		return rc;
	if ((h = json_array()) == NULL) {
		store_attempts_free(a, n);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(h, attempt_json(a[i])) < 0)
			rc = -ENOMEM;
	store_attempts_free(a, n);
	if (rc < 0 || json_object_set_new(job, "history", h) < 0) {
		json_decref(h);
		return -ENOMEM;
	}
	return 0;
}
