/*
 * jc_call.c — the client's calls: one request, its answer, and what the
 * answer holds (see jc.h).
 *
 * Errors are kept in the connection (jc_last_error), one per call, like
 * libpq's PQerrorMessage: a call's signature stays short and a pipelined
 * reader looks at each answer's error right after reading it.  Codes map
 * to an enum through one table, names as the contract spells them; the
 * client keeps its own table (it does not link the daemon's protocol
 * module) and test_client_api checks the two agree.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jc_int.h"

/* The wire names, indexed by enum jc_code. */
static const char *const code_names[] = {
	[JC_E_NONE] = "",
	[JC_E_BAD_REQUEST] = "bad_request",
	[JC_E_LINE_TOO_LONG] = "line_too_long",
	[JC_E_UNKNOWN_OP] = "unknown_op",
	[JC_E_UNKNOWN_KIND] = "unknown_kind",
	[JC_E_UNKNOWN_QUEUE] = "unknown_queue",
	[JC_E_NOT_FOUND] = "not_found",
	[JC_E_QUEUE_FULL] = "queue_full",
	[JC_E_NOT_CANCELLABLE] = "not_cancellable",
	[JC_E_TIMEOUT] = "timeout",
	[JC_E_SHUTTING_DOWN] = "shutting_down",
	[JC_E_FORBIDDEN] = "forbidden",
	[JC_E_NOT_RETRYABLE] = "not_retryable",
	[JC_E_STORAGE_ERROR] = "storage_error",
	[JC_E_INTERNAL] = "internal",
	[JC_E_TOO_MANY_CONNECTIONS] = "too_many_connections",
	[JC_E_OTHER] = "",
};

enum jc_code
jc_code_lookup(const char *name)
{
	for (int i = JC_E_NONE + 1; i < JC_E_OTHER; i++)
		if (name != NULL && strcmp(name, code_names[i]) == 0)
			return i;
	return JC_E_OTHER;
}

const char *
jc_code_name(enum jc_code code)
{
	return code >= JC_E_NONE && code <= JC_E_OTHER ? code_names[code] : "";
}

const struct jc_error *
jc_last_error(const struct jc_conn *c)
{
	return &c->error;
}

void
jc_set_timeout(struct jc_conn *c, double timeout)
{
	c->timeout = timeout;
}

void
jc_on_answer(struct jc_conn *c, jc_line_fn fn, void *arg)
{
	c->on_answer = fn;
	c->on_answer_arg = arg;
}

/* Record a local error (no answer) and return rc. */
static int __attribute__((format(printf, 3, 4)))
fail(struct jc_conn *c, int rc, const char *fmt, ...)
{
	va_list ap;

	c->error.code = JC_E_NONE;
	c->error.name[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(c->error.message, sizeof(c->error.message), fmt, ap);
	va_end(ap);
	return rc;
}

/* Record why no answer came: rc from jc_recv or jc_send. */
static int
fail_io(struct jc_conn *c, int rc, double timeout)
{
	switch (rc) {
	case -EPIPE:
	case -ECONNRESET:
		return fail(c, rc, "jobd closed the connection without "
		    "answering");
	case -EBADMSG:
		return fail(c, rc, "jobd closed the connection in the middle "
		    "of an answer");
	case -EMSGSIZE:
		return fail(c, rc, "jobd's answer is longer than %zu bytes",
		    c->max);
	case -ETIMEDOUT:
		return fail(c, rc, "no answer from jobd within %g s", timeout);
	default:
		return fail(c, rc, "%s", strerror(-rc));
	}
}

/* Record an error answer's code and message; JC_EJOBD. */
static int
fail_answer(struct jc_conn *c, const json_t *ans)
{
	const json_t *e = json_object_get(ans, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));

	c->error.code = jc_code_lookup(code);
	snprintf(c->error.name, sizeof(c->error.name), "%s", code ? code :
	    "error");
	snprintf(c->error.message, sizeof(c->error.message), "%s", msg ? msg :
	    "(no message)");
	return JC_EJOBD;
}

int
jc_req_send(struct jc_conn *c, const json_t *req)
{
	char *text;
	int rc;

	if (req == NULL)
		return fail(c, errno == ENOMEM ? -ENOMEM : -EINVAL,
		    "cannot make the request: %s", strerror(errno ? errno :
		    EINVAL));
	if ((text = jc_json_text(req)) == NULL)
		return fail(c, -ENOMEM, "out of memory");
	rc = jc_send(c, text, strlen(text), c->timeout);
	free(text);
	return rc < 0 ? fail_io(c, rc, c->timeout) : fail(c, 0, "%s", "");
}

int
jc_submit_send(struct jc_conn *c, const char *kind, const json_t *args,
    const struct jc_submit_opts *o)
{
	json_t *req = jc_req_submit(kind, args, o);
	int rc = jc_req_send(c, req);

	json_decref(req);
	return rc;
}

/* A line as an answer: 0 (ok), JC_EJOBD or -EPROTO; *ans owned unless
 * -EPROTO. */
static int
answer_parse(struct jc_conn *c, const char *line, size_t len, json_t **ans)
{
	json_error_t je;

	*ans = json_loadb(line, len, 0, &je);
	if (*ans == NULL || !json_is_boolean(json_object_get(*ans, "ok"))) {
		fail(c, -EPROTO, "not a jobd answer: %s", *ans == NULL ?
		    je.text : "no \"ok\" field");
		json_decref(*ans);
		*ans = NULL;
		return -EPROTO;
	}
	if (json_is_true(json_object_get(*ans, "ok")))
		return fail(c, 0, "%s", "");
	return fail_answer(c, *ans);
}

/* The next line within timeout, shown to on_answer: 0 or jc_recv's
 * error (recorded). */
static int
line_recv(struct jc_conn *c, double timeout, char **line, size_t *len)
{
	int rc;

	if ((rc = jc_recv(c, timeout, line, len)) < 0)
		return fail_io(c, rc, timeout);
	if (c->on_answer != NULL)
		c->on_answer(*line, *len, c->on_answer_arg);
	return 0;
}

static int
answer_within(struct jc_conn *c, double timeout, json_t **ans)
{
	char *line;
	size_t len;
	int rc;

	*ans = NULL;
	if ((rc = line_recv(c, timeout, &line, &len)) < 0)
		return rc;
	return answer_parse(c, line, len, ans);
}

int
jc_answer_recv(struct jc_conn *c, json_t **ans)
{
	return answer_within(c, c->timeout, ans);
}

/* Send req and read its answer within timeout.  A send that finds the
 * connection closed still reads: jobd may have said why first. */
static int
request_within(struct jc_conn *c, const json_t *req, double timeout,
    json_t **ans)
{
	int rc;

	*ans = NULL;
	rc = jc_req_send(c, req);
	if (rc < 0 && rc != -EPIPE && rc != -ECONNRESET)
		return rc;
	return answer_within(c, timeout, ans);
}

int
jc_request(struct jc_conn *c, const json_t *req, json_t **ans)
{
	return request_within(c, req, c->timeout, ans);
}

/* Run a built request (req stolen): 0 with *ans (owned), else the error
 * with *ans NULL (an error answer is freed: its code and message are in
 * c->error). */
static int
call(struct jc_conn *c, json_t *req, double timeout, json_t **ans)
{
	int rc = request_within(c, req, timeout, ans);

	json_decref(req);
	if (rc != 0) {
		json_decref(*ans);
		*ans = NULL;
	}
	return rc;
}

/* An ok answer without what the call needs. */
static int
missing(struct jc_conn *c, json_t *ans, const char *what)
{
	json_decref(ans);
	return fail(c, -EPROTO, "not a jobd answer: no %s", what);
}

/* Take ans's member key of type want (a new reference into *out, if out
 * is not NULL); free ans. */
static int
take(struct jc_conn *c, json_t *ans, const char *key, json_type want,
    json_t **out)
{
	json_t *v = json_object_get(ans, key);

	if (v == NULL || json_typeof(v) != want)
		return missing(c, ans, key);
	if (out != NULL)
		*out = json_incref(v);
	json_decref(ans);
	return 0;
}

/* ans's positive integer key into *n; ans is kept. */
static int
positive(const json_t *ans, const char *key, int64_t *n)
{
	const json_t *v = json_object_get(ans, key);

	if (!json_is_integer(v) || json_integer_value(v) < 1)
		return -EPROTO;
	*n = json_integer_value(v);
	return 0;
}

int
jc_ping(struct jc_conn *c, char **version)
{
	const char *v;
	json_t *ans;
	int rc;

	if ((rc = call(c, jc_req_ping(), c->timeout, &ans)) != 0)
		return rc;
	v = json_string_value(json_object_get(ans, "version"));
	if (version != NULL && (*version = v ? strdup(v) : NULL) == NULL &&
	    v != NULL)
		rc = fail(c, -ENOMEM, "out of memory");
	json_decref(ans);
	return rc;
}

int
jc_submit(struct jc_conn *c, const char *kind, const json_t *args,
    const struct jc_submit_opts *o, int64_t *id, bool *duplicate)
{
	json_t *ans;
	int rc;

	if ((rc = call(c, jc_req_submit(kind, args, o), c->timeout, &ans)) !=
	    0)
		return rc;
	if (positive(ans, "id", id) < 0)
		return missing(c, ans, "job id");
	if (duplicate != NULL)
		*duplicate = json_is_true(json_object_get(ans, "duplicate"));
	json_decref(ans);
	return 0;
}

int
jc_submit_group(struct jc_conn *c, const json_t *jobs, const char *mode,
    bool nowait, int64_t *group, json_t **ids)
{
	json_t *ans;
	int rc;

	if ((rc = call(c, jc_req_submit_group(jobs, mode, nowait), c->timeout,
	    &ans)) != 0)
		return rc;
	if (positive(ans, "group", group) < 0)
		return missing(c, ans, "group id");
	return take(c, ans, "ids", JSON_ARRAY, ids);
}

int
jc_get(struct jc_conn *c, int64_t id, bool history, json_t **job)
{
	json_t *ans;
	int rc;

	if ((rc = call(c, jc_req_get(id, history), c->timeout, &ans)) != 0)
		return rc;
	return take(c, ans, "job", JSON_OBJECT, job);
}

/* A wait's answer may take its own timeout on top of the call's. */
static double
wait_timeout(const struct jc_conn *c, double timeout)
{
	return c->timeout < 0 || timeout < 0 ? JC_FOREVER : c->timeout +
	    timeout;
}

int
jc_wait(struct jc_conn *c, int64_t id, double timeout, json_t **job)
{
	json_t *ans;
	int rc;

	if ((rc = call(c, jc_req_wait(id, 0, timeout), wait_timeout(c,
	    timeout), &ans)) != 0)
		return rc;
	return take(c, ans, "job", JSON_OBJECT, job);
}

int
jc_wait_group(struct jc_conn *c, int64_t group, double timeout,
    json_t **jobs)
{
	json_t *ans;
	int rc;

	if ((rc = call(c, jc_req_wait(0, group, timeout), wait_timeout(c,
	    timeout), &ans)) != 0)
		return rc;
	return take(c, ans, "jobs", JSON_ARRAY, jobs);
}

/* A call whose ok answer carries nothing the caller needs. */
static int
call_ok(struct jc_conn *c, json_t *req)
{
	json_t *ans;
	int rc;

	if ((rc = call(c, req, c->timeout, &ans)) == 0)
		json_decref(ans);
	return rc;
}

int
jc_cancel(struct jc_conn *c, int64_t id, const char *reason)
{
	return call_ok(c, jc_req_cancel(id, 0, reason));
}

int
jc_cancel_group(struct jc_conn *c, int64_t group, const char *reason,
    json_t **ids)
{
	json_t *ans;
	int rc;

	if ((rc = call(c, jc_req_cancel(0, group, reason), c->timeout, &ans))
	    != 0)
		return rc;
	return take(c, ans, "ids", JSON_ARRAY, ids);
}

int
jc_list(struct jc_conn *c, const struct jc_list_opts *o, json_t **jobs)
{
	json_t *ans;
	int rc;

	if ((rc = call(c, jc_req_list(o), c->timeout, &ans)) != 0)
		return rc;
	return take(c, ans, "jobs", JSON_ARRAY, jobs);
}

int
jc_stats(struct jc_conn *c, json_t **stats)
{
	json_t *ans;
	int rc;

	if ((rc = call(c, jc_req_stats(), c->timeout, &ans)) != 0)
		return rc;
	if (!json_is_object(json_object_get(ans, "queues")))
		return missing(c, ans, "queues");
	*stats = ans;
	return 0;
}

int
jc_pause(struct jc_conn *c, const char *queue)
{
	return call_ok(c, jc_req_pause(queue, true));
}

int
jc_resume(struct jc_conn *c, const char *queue)
{
	return call_ok(c, jc_req_pause(queue, false));
}

int
jc_retry(struct jc_conn *c, int64_t id)
{
	return call_ok(c, jc_req_retry(id));
}

int
jc_prune(struct jc_conn *c, double before, const char *const *states,
    int64_t *deleted)
{
	json_t *ans, *n;
	int rc;

	if ((rc = call(c, jc_req_prune(before, states), c->timeout, &ans)) !=
	    0)
		return rc;
	if (!json_is_integer(n = json_object_get(ans, "deleted")))
		return missing(c, ans, "deleted count");
	if (deleted != NULL)
		*deleted = json_integer_value(n);
	json_decref(ans);
	return 0;
}

int
jc_schedules(struct jc_conn *c, json_t **schedules)
{
	json_t *ans;
	int rc;

	if ((rc = call(c, jc_req_schedules(), c->timeout, &ans)) != 0)
		return rc;
	return take(c, ans, "schedules", JSON_ARRAY, schedules);
}

/* ---- watch ---------------------------------------------------------------- */

int
jc_watch(struct jc_conn *c, const char *queue, int64_t id, int64_t group)
{
	return call_ok(c, jc_req_watch(queue, id, group));
}

/* The event object o (owned) into ev. */
static int
event_parse(struct jc_conn *c, json_t *o, struct jc_event *ev)
{
	const char *type = json_string_value(json_object_get(o, "event"));
	json_t *v;

	if (type == NULL) {
		json_decref(o);
		return fail(c, -EPROTO, "not a watch event: no \"event\" "
		    "field");
	}
	*ev = (struct jc_event){ .type = JC_EVENT_OTHER, .raw = o };
	if (strcmp(type, "job") == 0 &&
	    json_is_object(v = json_object_get(o, "job"))) {
		ev->type = JC_EVENT_JOB;
		ev->job = v;
	} else if (strcmp(type, "dropped") == 0 &&
	    json_is_integer(v = json_object_get(o, "count"))) {
		ev->type = JC_EVENT_DROPPED;
		ev->dropped = json_integer_value(v);
	}
	return fail(c, 0, "%s", "");
}

int
jc_watch_next(struct jc_conn *c, double timeout, struct jc_event *ev)
{
	json_error_t je;
	char *line;
	size_t len;
	json_t *o;
	int rc;

	*ev = (struct jc_event){ 0 };
	if ((rc = line_recv(c, timeout, &line, &len)) < 0)
		return rc;
	/* Not inside json_is_object(): the macro evaluates it twice. */
	o = json_loadb(line, len, 0, &je);
	if (!json_is_object(o)) {
		json_decref(o);
		return fail(c, -EPROTO, "not a watch event: %s", o == NULL ?
		    je.text : "not an object");
	}
	/* jobd may still end the stream with an error (a stop). */
	if (json_is_false(json_object_get(o, "ok"))) {
		rc = fail_answer(c, o);
		json_decref(o);
		return rc;
	}
	return event_parse(c, o, ev);
}

void
jc_event_clear(struct jc_event *ev)
{
	json_decref(ev->raw);
	*ev = (struct jc_event){ 0 };
}
