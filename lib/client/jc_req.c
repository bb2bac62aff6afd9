/*
 * jc_req.c — the client's requests as JSON objects (see jc.h).
 *
 * Pure functions: no connection, no I/O.  Each builder puts the op first
 * and then its fields in the contract's order, so the same call always
 * makes the same line (jobctl's tests compare lines byte for byte).
 * Values are checked only as far as JSON needs (a string must be UTF-8);
 * whether a queue exists or a priority is in range is jobd's to say, so
 * the rules live in one place.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "jc.h"

/* Build-up of one object: the first failure sticks, later sets are
 * skipped, and the end says which errno it was. */
struct obj {
	json_t *o;
	int err; /* 0, EINVAL or ENOMEM */
};

static void
obj_set(struct obj *b, const char *key, json_t *v, int why)
{
	if (b->err != 0 || b->o == NULL) {
		json_decref(v);
		return;
	}
	if (v == NULL) {
		b->err = why;
		return;
	}
	if (json_object_set_new(b->o, key, v) < 0)
		b->err = ENOMEM;
}

/* A string field; NULL s: not sent.  json_string refuses bad UTF-8. */
static void
obj_str(struct obj *b, const char *key, const char *s)
{
	if (s != NULL)
		obj_set(b, key, json_string(s), EINVAL);
}

static void
obj_int(struct obj *b, const char *key, int64_t n, bool given)
{
	if (given)
		obj_set(b, key, json_integer(n), ENOMEM);
}

static void
obj_num(struct obj *b, const char *key, double t)
{
	if (!isnan(t))
		obj_set(b, key, jc_json_num(t), ENOMEM);
}

static void
obj_bool(struct obj *b, const char *key, int v)
{
	if (v != JC_UNSET_INT)
		obj_set(b, key, json_boolean(v), ENOMEM);
}

/* A NULL-terminated list of strings as an array; NULL: not sent. */
static void
obj_strs(struct obj *b, const char *key, const char *const *v)
{
	json_t *a;

	if (v == NULL)
		return;
	if ((a = json_array()) == NULL) {
		obj_set(b, key, NULL, ENOMEM);
		return;
	}
	for (; *v != NULL; v++)
		if (json_array_append_new(a, json_string(*v)) < 0) {
			json_decref(a);
			obj_set(b, key, NULL, EINVAL);
			return;
		}
	obj_set(b, key, a, ENOMEM);
}

/* A new object with "op"; b->err ENOMEM if it cannot be made. */
static struct obj
obj_op(const char *op)
{
	struct obj b = { .o = json_object() };

	if (b.o == NULL)
		b.err = ENOMEM;
	else if (op != NULL)
		obj_str(&b, "op", op);
	return b;
}

/* The object, or NULL with errno set. */
static json_t *
obj_end(struct obj *b)
{
	if (b->err == 0)
		return b->o;
	json_decref(b->o);
	errno = b->err;
	return NULL;
}

void
jc_submit_opts_init(struct jc_submit_opts *o)
{
	*o = (struct jc_submit_opts)JC_SUBMIT_INIT;
}

/* after: ids as integers, JC_MEMBER(i) as {"member":i}. */
static void
obj_after(struct obj *b, const int64_t *after, size_t n)
{
	json_t *a, *v;

	if (after == NULL || n == 0)
		return;
	if ((a = json_array()) == NULL) {
		obj_set(b, "after", NULL, ENOMEM);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		v = after[i] > 0 ? json_integer(after[i]) : after[i] < 0 ?
		    json_pack("{s:I}", "member", (json_int_t)(-after[i] - 1)) :
		    NULL;
		if (json_array_append_new(a, v) < 0) {
			json_decref(a);
			obj_set(b, "after", NULL, after[i] == 0 ? EINVAL :
			    ENOMEM);
			return;
		}
	}
	obj_set(b, "after", a, ENOMEM);
}

/* A job's fields after kind and args, in the contract's order, then the
 * extra ones (which do not replace a field set above). */
static void
obj_opts(struct obj *b, const struct jc_submit_opts *o)
{
	const char *key;
	json_t *v;

	obj_str(b, "queue", o->queue);
	obj_num(b, "timeout", o->timeout);
	obj_str(b, "name", o->name);
	obj_int(b, "max_attempts", o->max_attempts, o->max_attempts !=
	    JC_UNSET_INT);
	obj_bool(b, "nowait", o->nowait);
	obj_num(b, "run_at", o->run_at);
	obj_num(b, "delay", o->delay);
	obj_int(b, "priority", o->priority, o->priority != JC_UNSET_INT);
	obj_int(b, "retries", o->retries, o->retries != JC_UNSET_INT);
	obj_num(b, "retry_delay", o->retry_delay);
	obj_num(b, "retry_max_delay", o->retry_max_delay);
	obj_str(b, "retry_backoff", o->retry_backoff);
	obj_after(b, o->after, o->nafter);
	obj_str(b, "on_dependency_failure", o->on_dependency_failure);
	obj_str(b, "unique_key", o->unique_key);
	obj_num(b, "unique_for", o->unique_for);
	obj_bool(b, "idempotent", o->idempotent);
	if (o->extra != NULL && !json_is_object(o->extra) && b->err == 0)
		b->err = EINVAL;
	if (json_is_object(o->extra))
		json_object_foreach((json_t *)o->extra, key, v)
			if (b->err == 0 && json_object_get(b->o, key) == NULL)
				obj_set(b, key, json_incref(v), ENOMEM);
}

/* kind, args and the options into b. */
static void
obj_job(struct obj *b, const char *kind, const json_t *args,
    const struct jc_submit_opts *o)
{
	static const struct jc_submit_opts none = JC_SUBMIT_INIT;

	if (kind == NULL || (args != NULL && !json_is_object(args))) {
		if (b->err == 0)
			b->err = EINVAL;
		return;
	}
	obj_str(b, "kind", kind);
	obj_set(b, "args", args != NULL ? json_deep_copy(args) :
	    json_object(), ENOMEM);
	obj_opts(b, o != NULL ? o : &none);
}

json_t *
jc_req_submit(const char *kind, const json_t *args,
    const struct jc_submit_opts *o)
{
	struct obj b = obj_op("submit");

	obj_job(&b, kind, args, o);
	return obj_end(&b);
}

json_t *
jc_job_spec(const char *kind, const json_t *args,
    const struct jc_submit_opts *o)
{
	struct obj b = obj_op(NULL);

	obj_job(&b, kind, args, o);
	return obj_end(&b);
}

json_t *
jc_req_submit_group(const json_t *jobs, const char *mode, bool nowait)
{
	struct obj b = obj_op("submit_group");

	if (!json_is_array(jobs))
		b.err = b.err ? b.err : EINVAL;
	obj_str(&b, "mode", mode);
	obj_bool(&b, "nowait", nowait ? 1 : JC_UNSET_INT);
	if (b.err == 0)
		obj_set(&b, "jobs", json_deep_copy(jobs), ENOMEM);
	return obj_end(&b);
}

json_t *
jc_req_ping(void)
{
	struct obj b = obj_op("ping");

	return obj_end(&b);
}

json_t *
jc_req_get(int64_t id, bool history)
{
	struct obj b = obj_op("get");

	obj_int(&b, "id", id, true);
	obj_bool(&b, "history", history ? 1 : JC_UNSET_INT);
	return obj_end(&b);
}

/* "id" or "group": the one that is given. */
static void
obj_target(struct obj *b, int64_t id, int64_t group)
{
	if ((id != 0) == (group != 0) && b->err == 0)
		b->err = EINVAL;
	obj_int(b, id != 0 ? "id" : "group", id != 0 ? id : group, true);
}

json_t *
jc_req_wait(int64_t id, int64_t group, double timeout)
{
	struct obj b = obj_op("wait");

	obj_target(&b, id, group);
	obj_num(&b, "timeout", timeout < 0 ? JC_UNSET : timeout);
	return obj_end(&b);
}

json_t *
jc_req_cancel(int64_t id, int64_t group, const char *reason)
{
	struct obj b = obj_op("cancel");

	obj_target(&b, id, group);
	obj_str(&b, "reason", reason);
	return obj_end(&b);
}

json_t *
jc_req_list(const struct jc_list_opts *o)
{
	static const struct jc_list_opts none;
	struct obj b = obj_op("list");

	o = o != NULL ? o : &none;
	obj_str(&b, "state", o->state);
	obj_strs(&b, "states", o->states);
	obj_str(&b, "queue", o->queue);
	obj_str(&b, "schedule", o->schedule);
	obj_str(&b, "unique_key", o->unique_key);
	obj_int(&b, "limit", o->limit, o->limit != 0);
	return obj_end(&b);
}

json_t *
jc_req_stats(void)
{
	struct obj b = obj_op("stats");

	return obj_end(&b);
}

json_t *
jc_req_pause(const char *queue, bool pause)
{
	struct obj b = obj_op(pause ? "pause" : "resume");

	if (queue == NULL)
		b.err = b.err ? b.err : EINVAL;
	obj_str(&b, "queue", queue);
	return obj_end(&b);
}

json_t *
jc_req_retry(int64_t id)
{
	struct obj b = obj_op("retry");

	obj_int(&b, "id", id, true);
	return obj_end(&b);
}

json_t *
jc_req_prune(double before, const char *const *states)
{
	struct obj b = obj_op("prune");

	if (isnan(before))
		b.err = b.err ? b.err : EINVAL;
	obj_num(&b, "before", before);
	obj_strs(&b, "states", states);
	return obj_end(&b);
}

json_t *
jc_req_schedules(void)
{
	struct obj b = obj_op("schedules");

	return obj_end(&b);
}

json_t *
jc_req_watch(const char *queue, int64_t id, int64_t group)
{
	struct obj b = obj_op("watch");

	obj_str(&b, "queue", queue);
	obj_int(&b, "id", id, id != 0);
	obj_int(&b, "group", group, group != 0);
	return obj_end(&b);
}
