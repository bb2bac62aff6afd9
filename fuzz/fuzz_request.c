/*
 * fuzz_request.c — fuzz target fuzz_request_one (fuzz.h): one request line through everything
 * that judges it before the daemon acts on it.
 *
 * The input is a line as the server hands it to the ops (any bytes, no
 * '\n' needed).  proto_parse either accepts it, and then every field of the
 * op must be within its documented bounds, or refuses it with bad_request
 * or unknown_op and a message that is valid UTF-8.  Either way the answer
 * (with the tag echoed) dumps to exactly one line that reads back as the
 * same object.  Each job of a submit or submit_group goes through the
 * check() of every kind in the table (kind_at), not only its own, so a new
 * kind is fuzzed as soon as it is in the table; args a kind accepts must
 * still be accepted after the store's round trip (dumped as the engine
 * stores them, parsed back as recovery does).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>

#include "fuzz.h"
#include "kind.h"
#include "proto.h"

/* A message a client may see: terminated inside its buffer, not empty,
 * valid UTF-8. */
static void
fr_message(const struct proto_err *err)
{
	FUZZ_CHECK(memchr(err->msg, '\0', sizeof(err->msg)) != NULL);
	FUZZ_CHECK(err->msg[0] != '\0');
	FUZZ_CHECK(fuzz_utf8(err->msg));
}

/* resp (consumed) dumps to exactly one line that reads back as itself. */
static void
fr_answer(json_t *resp)
{
	json_t *back;
	char *out;
	size_t len;

	FUZZ_CHECK(resp != NULL);
	FUZZ_CHECK(proto_dump(resp, &out, &len) == 0);
	FUZZ_CHECK(len >= 2 && memchr(out, '\n', len) == out + len - 1);
	back = json_loadb(out, len - 1, JSON_REJECT_DUPLICATES, NULL);
	FUZZ_CHECK(fuzz_same(back, resp));
	json_decref(back);
	json_decref(resp);
	free(out);
}

static void
fr_timeout(double t)
{
	FUZZ_CHECK(t == PROTO_UNSET ||
	    (t >= 0 && t <= PROTO_TIMEOUT_MAX && !signbit(t)));
}

/* Args a kind accepted, stored and recovered: the engine writes them with
 * proto_dumps and recovery reads them back with json_loads: the same
 * values, reals to the last bit. */
static void
fr_stored(const struct kind *k, const json_t *args)
{
	struct proto_err err;
	char *text;
	json_t *back;

	text = proto_dumps(args, JSON_COMPACT);
	FUZZ_CHECK(text != NULL);
	back = json_loads(text, 0, NULL);
	FUZZ_CHECK(json_is_object(back));
	FUZZ_CHECK(json_equal(back, args));
	FUZZ_CHECK(k->check(back, &err) == 0);
	json_decref(back);
	free(text);
}

/* One job's fields, and its args through every kind's check. */
static void
fr_job(const struct proto_submit *s)
{
	const struct kind *k;
	struct proto_err err;
	int rc;

	FUZZ_CHECK(s->kind != NULL && strlen(s->kind) <= PROTO_STR_MAX);
	FUZZ_CHECK(s->queue != NULL && strlen(s->queue) <= PROTO_STR_MAX);
	FUZZ_CHECK(s->name == NULL || strlen(s->name) <= PROTO_STR_MAX);
	FUZZ_CHECK(json_is_object(s->args));
	fr_timeout(s->timeout);
	FUZZ_CHECK(s->max_attempts >= 0 &&
	    s->max_attempts <= PROTO_ATTEMPTS_MAX);
	for (size_t i = 0; (k = kind_at(i)) != NULL; i++) {
		memset(&err, 0, sizeof(err));
		rc = k->check(s->args, &err);
		FUZZ_CHECK(rc == 0 || rc == -EINVAL);
		if (rc == 0) {
			fr_stored(k, s->args);
			continue;
		}
		FUZZ_CHECK(err.code == PROTO_BAD_REQUEST);
		fr_message(&err);
	}
}

/* wait and cancel: exactly one of id and group. */
static void
fr_target(int64_t id, int64_t group)
{
	FUZZ_CHECK((id >= 1 && group == 0) || (id == 0 && group >= 1));
}

/* An accepted request: every field within its bounds. */
static void
fr_accepted(const struct proto_req *req)
{
	const struct proto_submit_group *g = &req->u.group;
	const struct proto_list *l = &req->u.list;

	FUZZ_CHECK(proto_op_name(req->op) != NULL);
	switch (req->op) {
	case PROTO_OP_SUBMIT:
		fr_job(&req->u.submit);
		break;
	case PROTO_OP_SUBMIT_GROUP:
		FUZZ_CHECK(g->njobs >= 1 && g->njobs <= PROTO_GROUP_MAX);
		FUZZ_CHECK(g->mode == PROTO_GROUP_ALL ||
		    g->mode == PROTO_GROUP_FAIL_FAST);
		for (size_t i = 0; i < g->njobs; i++)
			fr_job(&g->jobs[i]);
		break;
	case PROTO_OP_GET:
		FUZZ_CHECK(req->u.get.id >= 1);
		break;
	case PROTO_OP_WAIT:
		fr_target(req->u.wait.id, req->u.wait.group);
		fr_timeout(req->u.wait.timeout);
		break;
	case PROTO_OP_CANCEL:
		fr_target(req->u.cancel.id, req->u.cancel.group);
		FUZZ_CHECK(req->u.cancel.reason == NULL ||
		    strlen(req->u.cancel.reason) <= PROTO_REASON_MAX);
		break;
	case PROTO_OP_LIST:
		FUZZ_CHECK(l->limit >= 1 && l->limit <= PROTO_LIST_MAX);
		FUZZ_CHECK(l->queue == NULL ||
		    strlen(l->queue) <= PROTO_STR_MAX);
		break;
	default:
		break;
	}
}

int
fuzz_request_one(const uint8_t *data, size_t size)
{
	struct proto_req req;
	struct proto_err err;
	int rc;

	memset(&err, 0, sizeof(err));
	rc = proto_parse((const char *)data, size, &req, &err);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
	/* The tag comes from the request object, whatever else was wrong;
	 * a submit the lean parser read has no object (fuzz_submit). */
	FUZZ_CHECK(req.tag == NULL || (req.root == NULL ?
	    req.tag == req.lean.tag : req.tag == json_object_get(req.root,
	    "tag")));
	if (rc == 0) {
		FUZZ_CHECK(req.root == NULL ? req.op == PROTO_OP_SUBMIT :
		    json_is_object(req.root));
		fr_accepted(&req);
		fr_answer(proto_ok(&req));
	} else {
		FUZZ_CHECK(rc == -ENOMEM ? err.code == PROTO_INTERNAL :
		    err.code == PROTO_BAD_REQUEST ||
		    err.code == PROTO_UNKNOWN_OP);
		fr_message(&err);
		fr_answer(proto_error(&req, err.code, err.msg));
	}
	proto_req_clear(&req);
	return 0;
}
