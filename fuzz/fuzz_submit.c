/*
 * fuzz_submit.c — fuzz target fuzz_submit_one (fuzz.h): the lean submit
 * parser against the full one.
 *
 * proto_parse tries the lean parser (proto_fast.c) first and the full one
 * (jansson, the reference) for every line the lean one does not take.  So
 * the property is one-sided and exact: whenever the lean parser takes a
 * line, the full parser accepts it as a submit with an equal request —
 * every field of struct proto_submit byte for byte (the strings and JSON
 * values compared by content; run_at within a second when it came from a
 * delay, which reads the clock), the same tag, and args' text, when the
 * lean parser wrote it, the very bytes proto_dumps writes of the full
 * parser's args (what the store keeps).  A line it does not take leaves
 * the request zeroed.  Which lines the lean parser takes is its own
 * business; tests/test_proto.c checks that the common ones are.
 */
#include <math.h>

#include "fuzz.h"
#include "proto.h"

static bool
same_str(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/* The two submits: strings and values by content, then every other byte
 * of the struct (so a field added later is compared too). */
static void
fs_same(const struct proto_submit *fast, const struct proto_submit *full,
    bool delayed)
{
	struct proto_submit a = *fast, b = *full;
	char *text;

	FUZZ_CHECK(same_str(a.kind, b.kind));
	FUZZ_CHECK(same_str(a.queue, b.queue));
	FUZZ_CHECK(same_str(a.name, b.name));
	FUZZ_CHECK(same_str(a.unique_key, b.unique_key));
	FUZZ_CHECK(same_str(a.schedule, b.schedule));
	FUZZ_CHECK(json_is_object(a.args) && fuzz_same(a.args, b.args));
	FUZZ_CHECK(b.args_text == NULL);
	if (a.args_text != NULL) {
		FUZZ_CHECK(proto_dumps_jansson(b.args, JSON_COMPACT, &text) ==
		    0 && strcmp(text, a.args_text) == 0);
		free(text);
	}
	if (delayed) {
		FUZZ_CHECK(fabs(a.run_at - b.run_at) < 1.0);
		a.run_at = b.run_at;
	}
	a.kind = b.kind = a.queue = b.queue = a.name = b.name = NULL;
	a.unique_key = b.unique_key = a.schedule = b.schedule = NULL;
	a.args_text = b.args_text = NULL;
	a.args = b.args = NULL;
	FUZZ_CHECK(memcmp(&a, &b, sizeof(a)) == 0);
}

/* Is the request all zero, as a line the lean parser refused leaves it? */
static bool
zeroed(const struct proto_req *req)
{
	static const struct proto_req zero;

	return memcmp(req, &zero, offsetof(struct proto_req, lean.small)) == 0;
}

int
fuzz_submit_one(const uint8_t *data, size_t size)
{
	struct proto_req fast, full;
	struct proto_err err;
	bool took;
	int rc;

	took = proto_fast_submit((const char *)data, size, &fast);
	rc = proto_parse_full((const char *)data, size, &full, &err);
	if (!took) {
		FUZZ_CHECK(zeroed(&fast));
	} else {
		FUZZ_CHECK(rc == 0 && full.op == PROTO_OP_SUBMIT);
		FUZZ_CHECK(fast.op == PROTO_OP_SUBMIT && fast.root == NULL);
		FUZZ_CHECK(fast.tag == NULL ? full.tag == NULL :
		    fuzz_same(fast.tag, full.tag));
		fs_same(&fast.u.submit, &full.u.submit,
		    json_object_get(full.root, "delay") != NULL &&
		    !json_is_null(json_object_get(full.root, "delay")));
	}
	proto_req_clear(&fast);
	proto_req_clear(&full);
	return 0;
}
