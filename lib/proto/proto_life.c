/*
 * proto_life.c — the lifecycle's part of the protocol (proto.h): the
 * submit fields run_at, delay, priority, retries, retry_delay,
 * retry_max_delay, retry_backoff and idempotent, and the fields of the
 * ops pause, resume, retry and prune.  Each bad value is bad_request
 * naming the field and what it may be.
 */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "proto.h"

static const char *const backoffs[] = { "exponential", "fixed" };

static double
life_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* run_at or delay (not both), folded into s->run_at. */
static int
life_when(const json_t *o, struct proto_submit *s, struct proto_err *err)
{
	double at = -1, delay = -1;

	if (proto_field_number(o, "run_at", PROTO_OPTIONAL, 0,
	        PROTO_RUN_AT_MAX, &at, err) < 0 ||
	    proto_field_number(o, "delay", PROTO_OPTIONAL, 0, PROTO_DELAY_MAX,
	        &delay, err) < 0)
		return -EINVAL;
	if (at >= 0 && delay >= 0)
		return proto_bad(err, "give run_at or delay, not both");
	s->has_run_at = at >= 0 || delay >= 0;
	s->run_at = at >= 0 ? at : delay >= 0 ? life_now() + delay : 0;
	return 0;
}

/* A number > 0 (retry_delay, retry_max_delay) into *out. */
static int
life_positive(const json_t *o, const char *key, double *out,
    struct proto_err *err)
{
	double v = PROTO_UNSET;
	int rc;

	if ((rc = proto_field_number(o, key, PROTO_OPTIONAL, 0,
	    PROTO_DELAY_MAX, &v, err)) <= 0)
		return rc;
	if (!(v > 0))
		return proto_bad(err, "field \"%s\": expected a number of "
		    "seconds > 0 and <= %g, got %g", key, PROTO_DELAY_MAX, v);
	*out = v;
	return 1;
}

int
proto_submit_life_parse(const json_t *o, struct proto_submit *s,
    struct proto_err *err)
{
	int64_t prio = -1, retries = -1;
	bool idem = false;
	int rc;

	s->retry_delay = s->retry_max_delay = PROTO_UNSET;
	s->retry_backoff = -1;
	if (life_when(o, s, err) < 0 ||
	    proto_field_int(o, "priority", PROTO_OPTIONAL, 0, 9, &prio,
	        err) < 0 ||
	    proto_field_int(o, "retries", PROTO_OPTIONAL, 0, PROTO_RETRIES_MAX,
	        &retries, err) < 0 ||
	    life_positive(o, "retry_delay", &s->retry_delay, err) < 0 ||
	    life_positive(o, "retry_max_delay", &s->retry_max_delay, err) < 0 ||
	    proto_field_enum(o, "retry_backoff", PROTO_OPTIONAL, backoffs, 2,
	        &s->retry_backoff, err) < 0 ||
	    (rc = proto_field_bool(o, "idempotent", PROTO_OPTIONAL, &idem,
	        err)) < 0)
		return -EINVAL;
	s->priority = (int)prio;
	s->retries = (int)retries;
	s->idempotent = rc > 0 ? idem : -1;
	return 0;
}

int
proto_parse_pause(struct proto_req *req, struct proto_err *err)
{
	return proto_field_string(req->root, "queue", PROTO_REQUIRED,
	    PROTO_STR_MAX, &req->u.pause.queue, err) < 0 ? -EINVAL : 0;
}

int
proto_parse_retry(struct proto_req *req, struct proto_err *err)
{
	return proto_field_int(req->root, "id", PROTO_REQUIRED, 1, INT64_MAX,
	    &req->u.retry.id, err) < 0 ? -EINVAL : 0;
}

/* "states": an array of ended state names. */
static int
prune_states(const json_t *o, unsigned *mask, struct proto_err *err)
{
	json_t *a, *v;
	size_t i;
	int k;

	*mask = 0;
	if ((k = proto_field_array(o, "states", PROTO_OPTIONAL, 1,
	    PROTO_NSTATES, &a, err)) <= 0)
		return k;
	json_array_foreach(a, i, v) {
		for (k = 2; k < 6; k++)
			if (json_is_string(v) && strcmp(json_string_value(v),
			    proto_state_names[k]) == 0)
				break;
		if (k == 6)
			return proto_bad(err, "field \"states\": element %zu: "
			    "expected one of \"succeeded\", \"failed\", "
			    "\"timed_out\", \"cancelled\"", i);
		*mask |= 1u << k;
	}
	return 0;
}

int
proto_parse_prune(struct proto_req *req, struct proto_err *err)
{
	struct proto_prune *p = &req->u.prune;

	if (proto_field_number(req->root, "before", PROTO_REQUIRED, 0,
	        PROTO_RUN_AT_MAX, &p->before, err) < 0)
		return -EINVAL;
	return prune_states(req->root, &p->states, err);
}

int
proto_parse_history(const json_t *obj, bool *history, struct proto_err *err)
{
	*history = false;
	return proto_field_bool(obj, "history", PROTO_OPTIONAL, history,
	    err) < 0 ? -EINVAL : 0;
}
