/*
 * test_proto.c — the wire protocol module (proto.h).
 *
 * Valid requests of every op parse into the right fields; hostile lines
 * (broken JSON, bad UTF-8, deep nesting, control bytes, wrong types, ...)
 * each get the right error code and a message that names the problem;
 * tags are echoed even from rejected requests; responses serialise to
 * exactly one line.  A fuzz loop mutates valid requests and checks that
 * every outcome is well-formed; an allocator seam makes jansson fail at
 * every allocation in turn.  Leaks are for ASan and valgrind to find.
 */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------- */

/* Parse a NUL-terminated line, expecting success. */
static void
parse_ok(const char *line, struct proto_req *req)
{
	struct proto_err err;
	int rc = proto_parse(line, strlen(line), req, &err);

	ck_assert_msg(rc == 0, "%.200s: rc %d: %s", line, rc, err.msg);
}

/* True if s is valid UTF-8, as jansson sees it. */
static bool
valid_utf8(const char *s)
{
	json_t *j = json_string(s);

	json_decref(j);
	return j != NULL;
}

/* Parse len bytes of line expecting failure with code and a message
 * containing want; also check the error response builds and dumps. */
static void
parse_fail(const char *line, size_t len, enum proto_code code, const char *want)
{
	struct proto_req req;
	struct proto_err err;
	json_t *resp;
	char *out;
	size_t outlen;
	int rc = proto_parse(line, len, &req, &err);

	ck_assert_msg(rc == -EINVAL, "%.80s: rc %d", line, rc);
	ck_assert_msg(err.code == code, "%.80s: code %s, want %s (%s)", line,
	    proto_code_name(err.code), proto_code_name(code), err.msg);
	ck_assert_msg(strstr(err.msg, want) != NULL,
	    "%.80s: message \"%s\" lacks \"%s\"", line, err.msg, want);
	ck_assert(valid_utf8(err.msg));
	resp = proto_error(&req, err.code, err.msg);
	ck_assert_ptr_nonnull(resp);
	ck_assert_int_eq(proto_dump(resp, &out, &outlen), 0);
	ck_assert_ptr_eq(memchr(out, '\n', outlen), out + outlen - 1);
	free(out);
	json_decref(resp);
	proto_req_clear(&req);
}

/* Dump resp and return the line (caller frees); asserts one line. */
static char *
dump(const json_t *resp)
{
	char *out;
	size_t len;

	ck_assert_int_eq(proto_dump(resp, &out, &len), 0);
	ck_assert_uint_eq(strlen(out), len);
	ck_assert_ptr_eq(memchr(out, '\n', len), out + len - 1);
	return out;
}

/* A string of n copies of c, malloc'd. */
static char *
repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	ck_assert_ptr_nonnull(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* ---- the error-code table -------------------------------------------------- */

START_TEST(test_code_table)
{
	static const char *const want[PROTO_NCODES] = { "bad_request",
		"line_too_long", "unknown_op", "unknown_kind", "unknown_queue",
		"not_found", "queue_full", "not_cancellable", "timeout",
		"shutting_down", "forbidden", "storage_error", "internal",
		"not_retryable" };

	for (int i = 0; i < PROTO_NCODES; i++) {
		ck_assert_str_eq(proto_code_name(i), want[i]);
		ck_assert_int_eq(proto_code_lookup(want[i]), i);
		ck_assert(strlen(proto_code_message(i)) > 0);
		for (int j = 0; j < i; j++)
			ck_assert_str_ne(proto_code_message(i),
			    proto_code_message(j));
	}
	ck_assert_str_eq(proto_code_name(PROTO_NCODES), "internal");
	ck_assert_str_eq(proto_code_name(-1), "internal");
	ck_assert_int_eq(proto_code_lookup("nope"), -ENOENT);
	ck_assert_str_eq(proto_op_name(PROTO_OP_SUBMIT_GROUP), "submit_group");
	ck_assert_ptr_null(proto_op_name(PROTO_NOPS));
}
END_TEST

/* ---- valid requests ---------------------------------------------------------- */

START_TEST(test_parse_ping_stats)
{
	struct proto_req req;

	parse_ok("{\"op\":\"ping\"}", &req);
	ck_assert_int_eq(req.op, PROTO_OP_PING);
	ck_assert_ptr_null(req.tag);
	proto_req_clear(&req);
	proto_req_clear(&req); /* twice is harmless */
	parse_ok("{\"op\":\"stats\",\"tag\":null}", &req);
	ck_assert_int_eq(req.op, PROTO_OP_STATS);
	ck_assert(json_is_null(req.tag)); /* a null tag is a tag */
	proto_req_clear(&req);
}
END_TEST

START_TEST(test_parse_submit_full)
{
	struct proto_req req;
	struct proto_submit *s = &req.u.submit;

	parse_ok(
	    "{\"op\":\"submit\",\"kind\":\"exec\",\"args\":{\"argv\":"
	    "[\"true\"]},\"queue\":\"fast\",\"timeout\":2.5,\"name\":\"lbl\","
	    "\"nowait\":true,\"max_attempts\":5,\"tag\":[1,2],"
	    "\"from_the_future\":{\"x\":1}}",
	    &req);
	ck_assert_int_eq(req.op, PROTO_OP_SUBMIT);
	ck_assert_str_eq(s->kind, "exec");
	ck_assert(json_is_array(json_object_get(s->args, "argv")));
	ck_assert_str_eq(s->queue, "fast");
	ck_assert_double_eq(s->timeout, 2.5);
	ck_assert_str_eq(s->name, "lbl");
	ck_assert(s->nowait);
	ck_assert_int_eq(s->max_attempts, 5);
	ck_assert_int_eq(json_array_size(req.tag), 2);
	proto_req_clear(&req);
}
END_TEST

START_TEST(test_parse_submit_defaults)
{
	struct proto_req req;
	struct proto_submit *s = &req.u.submit;

	parse_ok("{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":{}}", &req);
	ck_assert_str_eq(s->queue, "default");
	ck_assert_double_eq(s->timeout, PROTO_UNSET);
	ck_assert_ptr_null(s->name);
	ck_assert(!s->nowait);
	ck_assert_int_eq(s->max_attempts, 0);
	proto_req_clear(&req);

	/* null in an optional field means absent */
	parse_ok("{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":{},\"queue\":"
	         "null,\"timeout\":null,\"name\":null,\"nowait\":null,"
	         "\"max_attempts\":null}",
	    &req);
	ck_assert_str_eq(s->queue, "default");
	ck_assert_double_eq(s->timeout, PROTO_UNSET);
	ck_assert_ptr_null(s->name);
	proto_req_clear(&req);

	/* timeout 0 is "none", and -0 is 0 */
	parse_ok("{\"op\":\"submit\",\"kind\":\"k\",\"args\":{},\"timeout\":"
	         "-0.0}",
	    &req);
	ck_assert(s->timeout == 0 && !signbit(s->timeout));
	proto_req_clear(&req);
}
END_TEST

START_TEST(test_parse_submit_group)
{
	struct proto_req req;
	struct proto_submit_group *g = &req.u.group;

	parse_ok("{\"op\":\"submit_group\",\"jobs\":[{\"kind\":\"a\",\"args\":"
	         "{}},{\"kind\":\"b\",\"args\":{\"x\":1},\"queue\":\"q\"}]}",
	    &req);
	ck_assert_int_eq(req.op, PROTO_OP_SUBMIT_GROUP);
	ck_assert_int_eq(g->mode, PROTO_GROUP_ALL);
	ck_assert(!g->nowait);
	ck_assert_uint_eq(g->njobs, 2);
	ck_assert_str_eq(g->jobs[0].kind, "a");
	ck_assert_str_eq(g->jobs[0].queue, "default");
	ck_assert_str_eq(g->jobs[1].kind, "b");
	ck_assert_str_eq(g->jobs[1].queue, "q");
	proto_req_clear(&req);

	parse_ok("{\"op\":\"submit_group\",\"mode\":\"fail_fast\",\"nowait\":"
	         "true,\"jobs\":[{\"kind\":\"a\",\"args\":{}}]}",
	    &req);
	ck_assert_int_eq(g->mode, PROTO_GROUP_FAIL_FAST);
	ck_assert(g->nowait);
	ck_assert_uint_eq(g->njobs, 1);
	proto_req_clear(&req);
}
END_TEST

/* A submit_group line with n minimal jobs, malloc'd. */
static char *
group_line(size_t n)
{
	char *line = malloc(64 + n * 24), *p = line;

	ck_assert_ptr_nonnull(line);
	p += sprintf(p, "{\"op\":\"submit_group\",\"jobs\":[");
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s{\"kind\":\"k\",\"args\":{}}", i ? "," : "");
	strcpy(p, "]}");
	return line;
}

START_TEST(test_parse_group_bound)
{
	char *line = group_line(PROTO_GROUP_MAX + 1);
	struct proto_req req;

	parse_fail(line, strlen(line), PROTO_BAD_REQUEST,
	    "expected 1 to 10000 elements, got 10001");
	free(line);
	line = group_line(PROTO_GROUP_MAX);
	parse_ok(line, &req);
	ck_assert_uint_eq(req.u.group.njobs, PROTO_GROUP_MAX);
	ck_assert_str_eq(req.u.group.jobs[PROTO_GROUP_MAX - 1].kind, "k");
	proto_req_clear(&req);
	free(line);
}
END_TEST

/* Once parsed, a group's members stand alone: their strings are the
 * request's own, their args held by it, and their objects are gone from
 * the tree (a 10,000-job line's tree is most of its memory). */
START_TEST(test_parse_group_detached)
{
	struct proto_req req;
	struct proto_submit_group *g = &req.u.group;
	struct proto_err err;
	const char *bad;
	json_t *jobs;

	parse_ok("{\"op\":\"submit_group\",\"tag\":[1],\"jobs\":["
	         "{\"kind\":\"a\",\"args\":{\"x\":[1,2]},\"queue\":\"q\","
	         "\"name\":\"n0\",\"unique_key\":\"u0\"},"
	         "{\"kind\":\"b\",\"args\":{},\"after\":[{\"member\":0}]}]}",
	    &req);
	jobs = json_object_get(req.root, "jobs");
	ck_assert_ptr_nonnull(jobs);
	ck_assert_uint_eq(json_array_size(jobs), 0);
	ck_assert_ptr_nonnull(g->text);
	ck_assert_uint_eq(g->njobs, 2);
	ck_assert_str_eq(g->jobs[0].kind, "a");
	ck_assert_str_eq(g->jobs[0].queue, "q");
	ck_assert_str_eq(g->jobs[0].name, "n0");
	ck_assert_str_eq(g->jobs[0].unique_key, "u0");
	ck_assert_str_eq(g->jobs[1].kind, "b");
	ck_assert_str_eq(g->jobs[1].queue, "default");
	ck_assert_ptr_null(g->jobs[1].name);
	ck_assert_ptr_null(g->jobs[1].unique_key);
	ck_assert_uint_eq(g->jobs[1].nafter, 1);
	ck_assert(g->jobs[1].after[0] == -1);
	/* The args outlive the tree's members: the request holds them. */
	ck_assert_int_eq(g->jobs[0].args->refcount, 1);
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(
	    g->jobs[0].args, "x"), 1)), 2);
	ck_assert_uint_eq(json_object_size(g->jobs[1].args), 0);
	ck_assert_int_eq(json_integer_value(json_array_get(req.tag, 0)), 1);
	proto_req_clear(&req);

	/* A group refused part way keeps its tree; clearing it frees all
	 * (the valgrind level sees a leak or a double free). */
	bad = "{\"op\":\"submit_group\",\"jobs\":[{\"kind\":\"a\","
	    "\"args\":{\"y\":1}},{\"kind\":7,\"args\":{}}]}";
	ck_assert_int_eq(proto_parse(bad, strlen(bad), &req, &err), -EINVAL);
	ck_assert_ptr_null(g->text);
	proto_req_clear(&req);
}
END_TEST

START_TEST(test_parse_get_wait_cancel_list)
{
	struct proto_req req;

	parse_ok("{\"op\":\"get\",\"id\":9223372036854775807}", &req);
	ck_assert_int_eq(req.u.get.id, INT64_MAX);
	proto_req_clear(&req);

	parse_ok("{\"op\":\"wait\",\"id\":3}", &req);
	ck_assert_int_eq(req.u.wait.id, 3);
	ck_assert_int_eq(req.u.wait.group, 0);
	ck_assert_double_eq(req.u.wait.timeout, PROTO_UNSET);
	proto_req_clear(&req);
	parse_ok("{\"op\":\"wait\",\"group\":4,\"timeout\":0,\"id\":null}",
	    &req);
	ck_assert_int_eq(req.u.wait.id, 0);
	ck_assert_int_eq(req.u.wait.group, 4);
	ck_assert_double_eq(req.u.wait.timeout, 0);
	proto_req_clear(&req);

	parse_ok("{\"op\":\"cancel\",\"id\":7,\"reason\":\"enough\"}", &req);
	ck_assert_int_eq(req.u.cancel.id, 7);
	ck_assert_str_eq(req.u.cancel.reason, "enough");
	proto_req_clear(&req);
	parse_ok("{\"op\":\"cancel\",\"group\":2}", &req);
	ck_assert_int_eq(req.u.cancel.group, 2);
	ck_assert_ptr_null(req.u.cancel.reason);
	proto_req_clear(&req);

	parse_ok("{\"op\":\"list\"}", &req);
	ck_assert_ptr_null(req.u.list.state);
	ck_assert_ptr_null(req.u.list.queue);
	ck_assert_int_eq(req.u.list.limit, PROTO_LIST_DEFAULT);
	proto_req_clear(&req);
	parse_ok("{\"op\":\"list\",\"state\":\"timed_out\",\"queue\":\"q\","
	         "\"limit\":10000}",
	    &req);
	ck_assert_ptr_eq(req.u.list.state, proto_state_names[4]);
	ck_assert_str_eq(req.u.list.queue, "q");
	ck_assert_int_eq(req.u.list.limit, 10000);
	proto_req_clear(&req);
}
END_TEST

/* Lines that are fine however odd they look. */
static const char *const accepted[] = {
	" {\"op\":\"ping\"} ",
	"\t{ \"op\" : \"ping\" }\r", /* a CRLF client */
	"\r\n{\"op\"\n:\"ping\"}\n",
	"{\"op\":\"p\\u0069ng\"}", /* escapes in values */
	"{\"op\":\"ping\",\"x\":\"\xe2\x80\xa8 \x7f \xf0\x9f\x98\x80\"}",
	"{\"op\":\"ping\",\"x\":\"\\ud83d\\ude00\"}", /* a surrogate pair */
	"{\"op\":\"ping\",\"x\":[1,{\"y\":null},-0,1e-400,-1.5E+3]}",
	"{\"op\":\"ping\",\"\":1}", /* an empty key */
	"{\"op\":\"submit\",\"kind\":\"\",\"args\":{},\"queue\":\"\"}",
};

START_TEST(test_parse_accepted)
{
	struct proto_req req;

	parse_ok(accepted[_i], &req);
	proto_req_clear(&req);
}
END_TEST

/* Nesting up to PROTO_DEPTH_MAX is fine, one more is not. */
START_TEST(test_depth_bound)
{
	char line[256];
	struct proto_req req;
	int n;

	for (int depth = PROTO_DEPTH_MAX; depth <= PROTO_DEPTH_MAX + 1;
	     depth++) {
		n = sprintf(line, "{\"op\":\"ping\",\"x\":");
		for (int i = 1; i < depth; i++)
			line[n++] = '[';
		for (int i = 1; i < depth; i++)
			line[n++] = ']';
		strcpy(line + n, "}");
		if (depth == PROTO_DEPTH_MAX) {
			parse_ok(line, &req);
			proto_req_clear(&req);
		} else {
			parse_fail(line, strlen(line), PROTO_BAD_REQUEST,
			    "nested deeper than 32 levels");
		}
	}
	/* brackets inside strings do not count */
	n = sprintf(line, "{\"op\":\"ping\",\"x\":\"");
	memset(line + n, '[', 100);
	strcpy(line + n + 100, "\\\"[\"}");
	parse_ok(line, &req);
	proto_req_clear(&req);
}
END_TEST

/* ---- hostile lines ------------------------------------------------------------ */

#define L(s) s, sizeof(s) - 1
#define SUB  "{\"op\":\"submit\",\"kind\":\"k\",\"args\":{}"
#define GRP  "{\"op\":\"submit_group\","

static const struct {
	const char *line;
	size_t len;
	enum proto_code code;
	const char *want;
} hostile[] = {
	/* not an object, or not one value */
	{ L(""), PROTO_BAD_REQUEST, "empty line" },
	{ L(" \t \r"), PROTO_BAD_REQUEST, "empty line" },
	{ L("[]"), PROTO_BAD_REQUEST, "must be a JSON object, not an array" },
	{ L("[{\"op\":\"ping\"}]"), PROTO_BAD_REQUEST, "not an array" },
	{ L("1"), PROTO_BAD_REQUEST, "not an integer" },
	{ L("\"ping\""), PROTO_BAD_REQUEST, "not a string" },
	{ L("null"), PROTO_BAD_REQUEST, "not null" },
	{ L("true"), PROTO_BAD_REQUEST, "not a boolean" },
	{ L("{\"op\":\"pi"), PROTO_BAD_REQUEST, "invalid JSON" },
	{ L("{\"op\":\"ping\""), PROTO_BAD_REQUEST, "invalid JSON" },
	{ L("{\"op\":\"ping\",}"), PROTO_BAD_REQUEST, "invalid JSON" },
	{ L("{op:\"ping\"}"), PROTO_BAD_REQUEST, "invalid JSON" },
	{ L("{'op':'ping'}"), PROTO_BAD_REQUEST, "invalid JSON" },
	{ L("{\"op\":\"ping\"} x"), PROTO_BAD_REQUEST, "trailing data" },
	{ L("{\"op\":\"ping\"}{\"op\":\"ping\"}"), PROTO_BAD_REQUEST,
	    "trailing data" },
	{ L("{\"op\":\"ping\"}]"), PROTO_BAD_REQUEST, "trailing data" },
	{ L("{\"op\":\"ping\",\"op\":\"stats\"}"), PROTO_BAD_REQUEST,
	    "duplicate object key" },
	{ L("{\"op\":\"ping\",\"x\":{\"a\":1,\"a\":1}}"), PROTO_BAD_REQUEST,
	    "duplicate object key" },
	/* numbers */
	{ L("{\"op\":\"get\",\"id\":99999999999999999999}"), PROTO_BAD_REQUEST,
	    "too big integer" },
	{ L("{\"op\":\"get\",\"id\":-99999999999999999999}"), PROTO_BAD_REQUEST,
	    "too big negative integer" },
	{ L("{\"op\":\"wait\",\"id\":1,\"timeout\":1e400}"), PROTO_BAD_REQUEST,
	    "real number overflow" },
	{ L("{\"op\":\"get\",\"id\":-0}"), PROTO_BAD_REQUEST,
	    "field \"id\": 0 is out of range (1 to 9223372036854775807)" },
	{ L("{\"op\":\"wait\",\"id\":1,\"timeout\":NaN}"), PROTO_BAD_REQUEST,
	    "invalid token" },
	{ L("{\"op\":\"wait\",\"id\":1,\"timeout\":Infinity}"),
	    PROTO_BAD_REQUEST, "invalid token" },
	{ L("{\"op\":\"wait\",\"id\":1,\"timeout\":-Infinity}"),
	    PROTO_BAD_REQUEST, "invalid JSON" },
	{ L("{\"op\":\"wait\",\"id\":1,\"timeout\":-1}"), PROTO_BAD_REQUEST,
	    "field \"timeout\": -1 is out of range (0 to 1e+09)" },
	{ L("{\"op\":\"wait\",\"id\":1,\"timeout\":1e10}"), PROTO_BAD_REQUEST,
	    "out of range" },
	{ L("{\"op\":\"get\",\"id\":01}"), PROTO_BAD_REQUEST, "invalid JSON" },
	{ L("{\"op\":\"get\",\"id\":+1}"), PROTO_BAD_REQUEST, "invalid JSON" },
	{ L("{\"op\":\"get\",\"id\":0x10}"), PROTO_BAD_REQUEST,
	    "invalid JSON" },
	/* UTF-8 */
	{ L("{\"op\":\"ping\",\"x\":\"\xff\"}"), PROTO_BAD_REQUEST,
	    "unable to decode byte 0xff" },
	{ L("{\"op\":\"ping\",\"x\":\"\xc0\xaf\"}"), PROTO_BAD_REQUEST,
	    "unable to decode byte 0xc0" }, /* overlong '/' */
	{ L("{\"op\":\"ping\",\"x\":\"\xe0\x80\xaf\"}"), PROTO_BAD_REQUEST,
	    "unable to decode" }, /* overlong, 3 bytes */
	{ L("{\"op\":\"ping\",\"x\":\"\xf0\x80\x80\xaf\"}"), PROTO_BAD_REQUEST,
	    "unable to decode" }, /* overlong, 4 bytes */
	{ L("{\"op\":\"ping\",\"x\":\"\xed\xa0\x80\"}"), PROTO_BAD_REQUEST,
	    "unable to decode" }, /* UTF-8 surrogate */
	{ L("{\"op\":\"ping\",\"x\":\"\xf4\x90\x80\x80\"}"), PROTO_BAD_REQUEST,
	    "unable to decode" }, /* past U+10FFFF */
	{ L("{\"op\":\"ping\",\"x\":\"\xe2\x82\"}"), PROTO_BAD_REQUEST,
	    "unable to decode" }, /* cut short */
	{ L("{\"op\":\"ping\",\"x\":\"\x80\"}"), PROTO_BAD_REQUEST,
	    "unable to decode" }, /* lone continuation */
	{ L("{\"op\":\"ping\",\"\xff\":1}"), PROTO_BAD_REQUEST,
	    "unable to decode" }, /* in a key */
	{ L("{\"op\":\"ping\",\"x\":\"\\ud800\"}"), PROTO_BAD_REQUEST,
	    "invalid Unicode" },
	{ L("{\"op\":\"ping\",\"x\":\"\\udc00\"}"), PROTO_BAD_REQUEST,
	    "invalid Unicode" },
	{ L("{\"op\":\"ping\",\"x\":\"\\ud800\\u0041\"}"), PROTO_BAD_REQUEST,
	    "invalid Unicode" },
	{ L("\xef\xbb\xbf{\"op\":\"ping\"}"), PROTO_BAD_REQUEST,
	    "byte order mark" },
	{ L("\xc2\xa0{\"op\":\"ping\"}"), PROTO_BAD_REQUEST,
	    "invalid JSON" }, /* NBSP is no space */
	/* NUL and control bytes */
	{ L("{\"op\":\"ping\",\"x\":\"a\0b\"}"), PROTO_BAD_REQUEST,
	    "NUL byte at byte 20" },
	{ L("{\"op\":\"ping\"}\0"), PROTO_BAD_REQUEST, "NUL byte" },
	{ L("{\"op\":\"ping\",\"x\":\"a\\u0000b\"}"), PROTO_BAD_REQUEST,
	    "\\u0000 is not allowed" },
	{ L("{\"op\":\"ping\",\"\\u0000\":1}"), PROTO_BAD_REQUEST,
	    "NUL byte in object key" },
	{ L("{\"op\":\"ping\",\"x\":\"a\x01\"}"), PROTO_BAD_REQUEST,
	    "raw control character 0x01 at byte 20 (inside a string" },
	{ L("{\"op\":\"ping\",\"x\":\"a\tb\"}"), PROTO_BAD_REQUEST,
	    "raw control character 0x09" },
	{ L("{\"op\":\"ping\",\"x\":\"a\nb\"}"), PROTO_BAD_REQUEST,
	    "raw control character 0x0a" },
	{ L("\v{\"op\":\"ping\"}"), PROTO_BAD_REQUEST,
	    "raw control character 0x0b at byte 1" },
	{ L("{\"op\":\"ping\"}\f"), PROTO_BAD_REQUEST,
	    "raw control character 0x0c" },
	{ L("{\"op\":\x1b\"ping\"}"), PROTO_BAD_REQUEST,
	    "raw control character 0x1b" },
	/* op */
	{ L("{}"), PROTO_BAD_REQUEST, "missing field \"op\" (a string)" },
	{ L("{\"tag\":1}"), PROTO_BAD_REQUEST, "missing field \"op\"" },
	{ L("{\"op\":null}"), PROTO_BAD_REQUEST,
	    "field \"op\": expected a string, got null" },
	{ L("{\"op\":1}"), PROTO_BAD_REQUEST,
	    "field \"op\": expected a string, got an integer" },
	{ L("{\"op\":[\"ping\"]}"), PROTO_BAD_REQUEST, "got an array" },
	{ L("{\"op\":\"frobnicate\"}"), PROTO_UNKNOWN_OP,
	    "unknown op \"frobnicate\"" },
	{ L("{\"op\":\"PING\"}"), PROTO_UNKNOWN_OP, "unknown op" },
	{ L("{\"op\":\"\"}"), PROTO_UNKNOWN_OP, "unknown op \"\"" },
	{ L("{\"op\":\"ping \"}"), PROTO_UNKNOWN_OP, "unknown op" },
	/* get, wait, cancel, list */
	{ L("{\"op\":\"get\"}"), PROTO_BAD_REQUEST,
	    "missing field \"id\" (an integer)" },
	{ L("{\"op\":\"get\",\"id\":\"1\"}"), PROTO_BAD_REQUEST,
	    "field \"id\": expected an integer from 1 to 9223372036854775807, "
	    "got a string" },
	{ L("{\"op\":\"get\",\"id\":1.0}"), PROTO_BAD_REQUEST,
	    "got a real number" },
	{ L("{\"op\":\"get\",\"id\":1e3}"), PROTO_BAD_REQUEST,
	    "got a real number" },
	{ L("{\"op\":\"get\",\"id\":true}"), PROTO_BAD_REQUEST,
	    "got a boolean" },
	{ L("{\"op\":\"get\",\"id\":null}"), PROTO_BAD_REQUEST, "got null" },
	{ L("{\"op\":\"get\",\"id\":-5}"), PROTO_BAD_REQUEST, "out of range" },
	{ L("{\"op\":\"wait\",\"id\":1,\"group\":1}"), PROTO_BAD_REQUEST,
	    "exactly one of the fields \"id\" and \"group\"" },
	{ L("{\"op\":\"wait\"}"), PROTO_BAD_REQUEST, "exactly one of" },
	{ L("{\"op\":\"wait\",\"group\":\"g\"}"), PROTO_BAD_REQUEST,
	    "field \"group\": expected an integer" },
	{ L("{\"op\":\"wait\",\"id\":1,\"timeout\":\"5\"}"), PROTO_BAD_REQUEST,
	    "field \"timeout\": expected a number from 0 to 1e+09, got a "
	    "string" },
	{ L("{\"op\":\"cancel\",\"id\":1,\"reason\":5}"), PROTO_BAD_REQUEST,
	    "field \"reason\": expected a string, got an integer" },
	{ L("{\"op\":\"cancel\",\"group\":0}"), PROTO_BAD_REQUEST,
	    "out of range" },
	{ L("{\"op\":\"list\",\"state\":\"done\"}"), PROTO_BAD_REQUEST,
	    "field \"state\": expected one of queued, running, succeeded, "
	    "failed, timed_out, cancelled, scheduled, waiting, got \"done\"" },
	{ L("{\"op\":\"list\",\"state\":1}"), PROTO_BAD_REQUEST,
	    "expected a string" },
	{ L("{\"op\":\"list\",\"limit\":0}"), PROTO_BAD_REQUEST,
	    "field \"limit\": 0 is out of range (1 to 10000)" },
	{ L("{\"op\":\"list\",\"limit\":10001}"), PROTO_BAD_REQUEST,
	    "out of range" },
	{ L("{\"op\":\"list\",\"limit\":\"5\"}"), PROTO_BAD_REQUEST,
	    "expected an integer" },
	{ L("{\"op\":\"list\",\"queue\":[]}"), PROTO_BAD_REQUEST,
	    "field \"queue\": expected a string, got an array" },
	/* submit */
	{ L("{\"op\":\"submit\"}"), PROTO_BAD_REQUEST,
	    "missing field \"kind\" (a string)" },
	{ L("{\"op\":\"submit\",\"kind\":\"k\"}"), PROTO_BAD_REQUEST,
	    "missing field \"args\" (an object)" },
	{ L("{\"op\":\"submit\",\"kind\":5,\"args\":{}}"), PROTO_BAD_REQUEST,
	    "field \"kind\": expected a string, got an integer" },
	{ L("{\"op\":\"submit\",\"kind\":\"k\",\"args\":[]}"),
	    PROTO_BAD_REQUEST,
	    "field \"args\": expected an object, got an array" },
	{ L("{\"op\":\"submit\",\"kind\":\"k\",\"args\":\"{}\"}"),
	    PROTO_BAD_REQUEST, "got a string" },
	{ L("{\"op\":\"submit\",\"kind\":\"k\",\"args\":null}"),
	    PROTO_BAD_REQUEST, "got null" },
	{ L(SUB ",\"timeout\":\"10\"}"), PROTO_BAD_REQUEST,
	    "field \"timeout\": expected a number" },
	{ L(SUB ",\"timeout\":-0.5}"), PROTO_BAD_REQUEST, "out of range" },
	{ L(SUB ",\"nowait\":\"false\"}"), PROTO_BAD_REQUEST,
	    "field \"nowait\": expected true or false, got a string" },
	{ L(SUB ",\"nowait\":0}"), PROTO_BAD_REQUEST, "got an integer" },
	{ L(SUB ",\"max_attempts\":0}"), PROTO_BAD_REQUEST,
	    "field \"max_attempts\": 0 is out of range (1 to 1000)" },
	{ L(SUB ",\"max_attempts\":1.5}"), PROTO_BAD_REQUEST,
	    "got a real number" },
	{ L(SUB ",\"name\":5}"), PROTO_BAD_REQUEST,
	    "field \"name\": expected a string" },
	{ L(SUB ",\"queue\":{}}"), PROTO_BAD_REQUEST, "got an object" },
	/* submit_group */
	{ L(GRP "\"jobs\":[]}"), PROTO_BAD_REQUEST,
	    "field \"jobs\": expected 1 to 10000 elements, got 0" },
	{ L(GRP "\"jobs\":{}}"), PROTO_BAD_REQUEST,
	    "field \"jobs\": expected an array, got an object" },
	{ L("{\"op\":\"submit_group\"}"), PROTO_BAD_REQUEST,
	    "missing field \"jobs\"" },
	{ L(GRP "\"jobs\":[1]}"), PROTO_BAD_REQUEST,
	    "jobs[0]: expected an object, got an integer" },
	{ L(GRP "\"jobs\":[{\"kind\":\"a\",\"args\":{}},{\"args\":{}}]}"),
	    PROTO_BAD_REQUEST, "jobs[1]: missing field \"kind\"" },
	{ L(GRP "\"jobs\":[{\"kind\":\"a\",\"args\":{},\"timeout\":true}]}"),
	    PROTO_BAD_REQUEST,
	    "jobs[0]: field \"timeout\": expected a number" },
	{ L(GRP "\"mode\":\"any\",\"jobs\":[{\"kind\":\"a\",\"args\":{}}]}"),
	    PROTO_BAD_REQUEST,
	    "field \"mode\": expected one of all, fail_fast, got \"any\"" },
	{ L(GRP "\"nowait\":1,\"jobs\":[{\"kind\":\"a\",\"args\":{}}]}"),
	    PROTO_BAD_REQUEST, "field \"nowait\"" },
};

START_TEST(test_hostile)
{
	parse_fail(hostile[_i].line, hostile[_i].len, hostile[_i].code,
	    hostile[_i].want);
}
END_TEST

/* 100,000 '[' must not reach jansson's recursion: the prescan stops it. */
START_TEST(test_deep_nesting)
{
	size_t n = 100000;
	char *s = repeat('[', n);

	parse_fail(s, n, PROTO_BAD_REQUEST,
	    "nested deeper than 32 levels at byte 33");
	memset(s, '{', n);
	parse_fail(s, n, PROTO_BAD_REQUEST, "nested deeper");
	/* {"a":{"a":...}} */
	free(s);
	s = malloc(n * 6 + 1);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * 5, "{\"a\":", 5);
	parse_fail(s, n * 5, PROTO_BAD_REQUEST, "nested deeper");
	free(s);
}
END_TEST

/* Very long strings: fine in a field nobody reads, refused where bounded,
 * and a long unknown op is quoted only in part. */
START_TEST(test_long_strings)
{
	size_t n = 2 << 20;
	char *big = repeat('x', n), *line = malloc(n + 100);
	struct proto_req req;
	struct proto_err err;

	sprintf(line, "{\"op\":\"ping\",\"blob\":\"%s\"}", big);
	parse_ok(line, &req);
	proto_req_clear(&req);
	sprintf(line, "{\"op\":\"%s\"}", big);
	parse_fail(line, strlen(line), PROTO_BAD_REQUEST,
	    "field \"op\": longer than 256 bytes");
	sprintf(line, "{\"op\":\"submit\",\"kind\":\"%.257s\",\"args\":{}}",
	    big);
	parse_fail(line, strlen(line), PROTO_BAD_REQUEST,
	    "field \"kind\": longer than 256 bytes");
	sprintf(line, "{\"op\":\"submit\",\"kind\":\"%.256s\",\"args\":{}}",
	    big);
	parse_ok(line, &req);
	proto_req_clear(&req);
	sprintf(line, "{\"op\":\"cancel\",\"id\":1,\"reason\":\"%.1025s\"}",
	    big);
	parse_fail(line, strlen(line), PROTO_BAD_REQUEST,
	    "field \"reason\": longer than 1024 bytes");
	sprintf(line, "{\"op\":\"%.200s\"}", big);
	ck_assert_int_eq(proto_parse(line, strlen(line), &req, &err), -EINVAL);
	ck_assert_int_eq(err.code, PROTO_UNKNOWN_OP);
	ck_assert_uint_lt(strlen(err.msg), 100);
	proto_req_clear(&req);
	free(big);
	free(line);
}
END_TEST

/* A multi-byte character cut by the quote bound leaves valid UTF-8. */
START_TEST(test_message_utf8)
{
	char line[512] = "{\"op\":\"";
	struct proto_req req;
	struct proto_err err;

	for (int i = 0; i < 60; i++)
		strcat(line, "\xc3\xa9"); /* é: 2 bytes */
	strcat(line, "\"}");
	ck_assert_int_eq(proto_parse(line, strlen(line), &req, &err), -EINVAL);
	ck_assert_int_eq(err.code, PROTO_UNKNOWN_OP);
	ck_assert(valid_utf8(err.msg));
	proto_req_clear(&req);

	proto_err_set(&err, PROTO_INTERNAL, "bad \xff byte, cut \xe2\x82");
	ck_assert_str_eq(err.msg, "bad ? byte, cut ??");
	proto_err_prefix(&err, "ctx %d: ", 3);
	ck_assert_str_eq(err.msg, "ctx 3: bad ? byte, cut ??");
	ck_assert_int_eq(err.code, PROTO_INTERNAL);
}
END_TEST

/* ---- tags ---------------------------------------------------------------------- */

/* The tag of a rejected request, echoed in its error response. */
static char *
error_line(const char *line)
{
	struct proto_req req;
	struct proto_err err;
	json_t *resp;
	char *out;

	ck_assert_int_lt(proto_parse(line, strlen(line), &req, &err), 0);
	resp = proto_error(&req, err.code, err.msg);
	proto_req_clear(&req); /* the response keeps its own ref */
	out = dump(resp);
	json_decref(resp);
	return out;
}

START_TEST(test_tag_echoed_on_errors)
{
	static const struct {
		const char *line, *tag;
	} cases[] = {
		{ "{\"tag\":7}", "7" },
		{ "{\"op\":\"nope\",\"tag\":\"t\"}", "\"t\"" },
		{ "{\"tag\":{\"a\":[1]},\"op\":\"get\",\"id\":\"x\"}",
		    "{\"a\":[1]}" },
		{ "{\"tag\":null,\"op\":5}", "null" },
		{ "{\"tag\":1,\"op\":\"ping\",\"op\":\"ping\"}", "1" },
		{ "{\"tag\":2,\"op\":\"ping\"} trailing", "2" },
		{ "{\"tag\":3}{\"tag\":4}", "3" },
		{ "{\"op\":\"submit_group\",\"jobs\":[{}],\"tag\":[true]}",
		    "[true]" },
	};
	char want[256], *out;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		out = error_line(cases[i].line);
		snprintf(want, sizeof(want),
		    ",\"tag\":%s,\"error\":", cases[i].tag);
		ck_assert_msg(strstr(out, want) != NULL, "%s -> %s",
		    cases[i].line, out);
		free(out);
	}
	/* no object, no tag */
	out = error_line("[{\"tag\":1}]");
	ck_assert_ptr_null(strstr(out, "tag"));
	free(out);
	out = error_line("{\"tag\":1,\"x\":[");
	ck_assert_ptr_null(strstr(out, "tag"));
	free(out);
}
END_TEST

/* ---- responses ------------------------------------------------------------------ */

START_TEST(test_response_format)
{
	struct proto_req req;
	json_t *r;
	char *out;

	parse_ok("{\"op\":\"submit\",\"kind\":\"k\",\"args\":{},\"tag\":"
	         "\"abc\"}",
	    &req);
	r = proto_ok(&req);
	ck_assert_int_eq(json_object_set_new(r, "id", json_integer(42)), 0);
	proto_req_clear(&req);
	out = dump(r);
	ck_assert_str_eq(out, "{\"ok\":true,\"tag\":\"abc\",\"id\":42}\n");
	free(out);
	json_decref(r);

	r = proto_ok(NULL);
	out = dump(r);
	ck_assert_str_eq(out, "{\"ok\":true}\n");
	free(out);
	json_decref(r);

	r = proto_error(NULL, PROTO_QUEUE_FULL, NULL);
	out = dump(r);
	ck_assert_str_eq(out,
	    "{\"ok\":false,\"error\":{\"code\":\"queue_full\","
	    "\"message\":\"the queue is at capacity\"}}\n");
	free(out);
	json_decref(r);

	r = proto_error(NULL, PROTO_STORAGE_ERROR, "disk \xff full");
	out = dump(r);
	ck_assert_ptr_nonnull(strstr(out, "\"message\":\"disk ? full\""));
	free(out);
	json_decref(r);

	/* the constant for when nothing can be built is itself valid */
	r = json_loads(PROTO_OOM_LINE, 0, NULL);
	ck_assert_str_eq(json_string_value(
	                     json_object_get(json_object_get(r, "error"),
	                         "code")),
	    "internal");
	json_decref(r);
}
END_TEST

/* Whatever the strings hold, a response is one line. */
START_TEST(test_response_one_line)
{
	json_t *r = proto_ok(NULL), *back;
	const char *nasty = "a\nb\rc\r\nd\x01\x1f\x7f\xe2\x80\xa8\xe2\x80\xa9"
	                    "\"\\/";
	char *out;

	json_object_set_new(r, "s", json_string(nasty));
	json_object_set_new(r, "k\nk",
	    json_pack("[s,{s:s}]", nasty, "x\n", "\n"));
	out = dump(r);
	back = json_loads(out, 0, NULL);
	ck_assert_ptr_nonnull(back);
	ck_assert(json_equal(back, r));
	free(out);
	json_decref(back);
	json_decref(r);
}
END_TEST

START_TEST(test_dump_rejects)
{
	char *out = (char *)1;
	size_t len = 9;
	json_t *a = json_array();

	ck_assert_int_eq(proto_dump(NULL, &out, &len), -EINVAL);
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(proto_dump(a, &out, &len), -EINVAL);
	json_decref(a);
}
END_TEST

START_TEST(test_time)
{
	json_t *t, *r;
	char *out;

	ck_assert(json_is_null(proto_time(0)));
	ck_assert(json_is_null(proto_time(-1)));
	ck_assert(json_is_null(proto_time(NAN)));
	ck_assert(json_is_null(proto_time(INFINITY)));
	t = proto_time(1712345678.25);
	ck_assert(json_is_real(t));
	r = proto_ok(NULL);
	json_object_set_new(r, "created_at", t);
	json_object_set_new(r, "started_at", proto_time(0));
	json_object_set_new(r, "at", proto_time(1712345678.123456));
	out = dump(r);
	ck_assert_ptr_nonnull(
	    strstr(out, "\"created_at\":1712345678.25,\"started_at\":null,"));
	json_decref(r);
	/* full precision: the value read back is the value written */
	r = json_loads(out, 0, NULL);
	ck_assert(
	    json_real_value(json_object_get(r, "at")) == 1712345678.123456);
	json_decref(r);
	free(out);
}
END_TEST

/* ---- field helpers directly ------------------------------------------------------ */

START_TEST(test_field_helpers)
{
	json_t *o = json_pack("{s:i, s:f, s:s, s:b, s:o, s:[i,i], s:n}", "i", 5,
	    "f", 0.5, "s", "str", "b", 1, "o", json_object(), "a", 1, 2, "n");
	struct proto_err err;
	int64_t i = -1;
	double d = -1;
	const char *s = NULL;
	bool b = false;
	json_t *v = NULL;
	int e = -1;
	static const char *const names[] = { "x", "str" };

	ck_assert_int_eq(proto_field_int(o, "i", PROTO_REQUIRED, 1, 5, &i,
	                     &err),
	    1);
	ck_assert_int_eq(i, 5);
	ck_assert_int_eq(proto_field_int(o, "i", PROTO_REQUIRED, 1, 4, &i,
	                     &err),
	    -EINVAL);
	ck_assert_int_eq(proto_field_int(o, "zz", PROTO_OPTIONAL, 1, 4, &i,
	                     &err),
	    0);
	ck_assert_int_eq(i, 5); /* untouched */
	ck_assert_int_eq(proto_field_int(o, "n", PROTO_OPTIONAL, 1, 4, &i,
	                     &err),
	    0); /* null = absent */
	ck_assert_int_eq(proto_field_number(o, "i", PROTO_REQUIRED, 0, 10, &d,
	                     &err),
	    1); /* an integer is a number */
	ck_assert_double_eq(d, 5);
	ck_assert_int_eq(proto_field_number(o, "f", PROTO_REQUIRED, 0, 10, &d,
	                     &err),
	    1);
	ck_assert_double_eq(d, 0.5);
	ck_assert_int_eq(proto_field_string(o, "s", PROTO_REQUIRED, 3, &s,
	                     &err),
	    1);
	ck_assert_str_eq(s, "str");
	ck_assert_int_eq(proto_field_string(o, "s", PROTO_REQUIRED, 2, &s,
	                     &err),
	    -EINVAL);
	ck_assert_int_eq(proto_field_enum(o, "s", PROTO_REQUIRED, names, 2, &e,
	                     &err),
	    1);
	ck_assert_int_eq(e, 1);
	ck_assert_int_eq(proto_field_bool(o, "b", PROTO_REQUIRED, &b, &err), 1);
	ck_assert(b);
	ck_assert_int_eq(proto_field_object(o, "o", PROTO_REQUIRED, &v, &err),
	    1);
	ck_assert(json_is_object(v));
	ck_assert_int_eq(proto_field_array(o, "a", PROTO_REQUIRED, 2, 2, &v,
	                     &err),
	    1);
	ck_assert_int_eq(proto_field_array(o, "a", PROTO_REQUIRED, 3, 9, &v,
	                     &err),
	    -EINVAL);
	ck_assert_str_eq(err.msg,
	    "field \"a\": expected 3 to 9 elements, got 2");
	ck_assert_int_eq(proto_field_object(o, "missing", PROTO_REQUIRED, &v,
	                     &err),
	    -EINVAL);
	ck_assert_str_eq(err.msg, "missing field \"missing\" (an object)");
	ck_assert_int_eq(err.code, PROTO_BAD_REQUEST);

	/* values built in C (not parsed) can hold NUL; refused */
	json_object_set_new(o, "nul", json_stringn("a\0b", 3));
	ck_assert_int_eq(proto_field_string(o, "nul", PROTO_REQUIRED, 10, &s,
	                     &err),
	    -EINVAL);
	ck_assert_str_eq(err.msg, "field \"nul\": contains a NUL character");
	json_decref(o);
}
END_TEST

START_TEST(test_submit_parse_direct)
{
	json_t *o = json_pack("{s:s, s:{s:i}, s:i}", "kind", "sleep", "args",
	    "seconds", 1, "timeout", 3);
	struct proto_submit s;
	struct proto_err err;

	ck_assert_int_eq(proto_submit_parse(o, &s, &err), 0);
	ck_assert_str_eq(s.kind, "sleep");
	ck_assert_double_eq(s.timeout, 3);
	json_decref(o);
}
END_TEST

/* ---- the examples in docs/PROTOCOL.md ---------------------------------------- */

/* docs/PROTOCOL.md, found from this file's own path. */
static FILE *
open_protocol_doc(void)
{
	char path[4096];
	const char *slash = strrchr(__FILE__, '/');
	int n = slash ? (int)(slash - __FILE__) : 1;

	snprintf(path, sizeof(path), "%.*s/../docs/PROTOCOL.md", n,
	    slash ? __FILE__ : ".");
	return fopen(path, "r");
}

/* Check one "> request" line against the "< answer" line after it: the
 * answer is one JSON object with "ok"; if the answer is an error that
 * proto itself decides (bad_request, unknown_op), proto_parse gives that
 * code, otherwise proto_parse accepts the request; a tag is echoed. */
static void
check_example(const char *request, const char *answer)
{
	json_t *resp = json_loads(answer, 0, NULL), *error;
	const char *code = NULL;
	struct proto_req req;
	struct proto_err err;
	int rc;

	ck_assert_msg(json_is_object(resp), "not an object: %s", answer);
	ck_assert_msg(json_is_boolean(json_object_get(resp, "ok")), "%s",
	    answer);
	if ((error = json_object_get(resp, "error")) != NULL)
		code = json_string_value(json_object_get(error, "code"));
	ck_assert_msg(json_is_true(json_object_get(resp, "ok")) ||
	        proto_code_lookup(code ? code : "") >= 0,
	    "%s", answer);
	rc = proto_parse(request, strlen(request), &req, &err);
	if (code != NULL &&
	    (strcmp(code, "bad_request") == 0 ||
	        strcmp(code, "unknown_op") == 0)) {
		ck_assert_msg(rc < 0 &&
		        strcmp(proto_code_name(err.code), code) == 0,
		    "%s: want %s", request, code);
		ck_assert_str_eq(err.msg,
		    json_string_value(json_object_get(error, "message")));
	} else {
		ck_assert_msg(rc == 0, "%s: %s", request, err.msg);
	}
	ck_assert(json_equal(req.tag, json_object_get(resp, "tag")) ||
	    (req.tag == NULL && json_object_get(resp, "tag") == NULL));
	proto_req_clear(&req);
	json_decref(resp);
}

START_TEST(test_doc_examples)
{
	FILE *f = open_protocol_doc();
	char line[8192], request[8192] = "";
	int npairs = 0;

	ck_assert_msg(f != NULL, "docs/PROTOCOL.md not found from %s",
	    __FILE__);
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "> ", 2) == 0) {
			ck_assert_msg(request[0] == '\0', "two requests: %s",
			    line);
			strcpy(request, line + 2);
		} else if (strncmp(line, "< ", 2) == 0) {
			ck_assert_msg(request[0] != '\0', "no request: %s",
			    line);
			check_example(request, line + 2);
			request[0] = '\0';
			npairs++;
		}
	}
	fclose(f);
	ck_assert_int_ge(npairs, 15);
}
END_TEST

/* ---- fuzz -------------------------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t
rng(void)
{
	uint64_t x = rng_state; /* xorshift64* */

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 2685821657736338717ULL;
}

static const char *const seeds[] = {
	"{\"op\":\"ping\",\"tag\":1}",
	"{\"op\":\"stats\"}",
	"{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":{\"seconds\":0.5},"
	"\"queue\":\"default\",\"timeout\":10,\"name\":\"n\",\"nowait\":false,"
	"\"tag\":{\"k\":[1,\"x\"]}}",
	"{\"op\":\"submit\",\"kind\":\"exec\",\"args\":{\"argv\":[\"echo\","
	"\"h\\u00e9\\n\"],\"env\":{\"A\":\"1\"}},\"max_attempts\":2}",
	"{\"op\":\"submit_group\",\"mode\":\"fail_fast\",\"jobs\":[{\"kind\":"
	"\"sleep\",\"args\":{}},{\"kind\":\"http\",\"args\":{\"url\":"
	"\"http://x/\"}}],\"tag\":\"g\"}",
	"{\"op\":\"get\",\"id\":12345}",
	"{\"op\":\"wait\",\"group\":3,\"timeout\":1.5,\"tag\":null}",
	"{\"op\":\"cancel\",\"id\":9,\"reason\":\"caf\xc3\xa9\"}",
	"{\"op\":\"list\",\"state\":\"running\",\"queue\":\"q\",\"limit\":5}",
};

/* Mutate buf (len bytes, room for cap) in place; returns the new length. */
static size_t
mutate(char *buf, size_t len, size_t cap)
{
	static const char interesting[] = "{}[]\",:\\0-e.\x00\x01\n\xc3\xe2"
	                                  "\xed\xff\x80 ";
	size_t pos = len ? rng() % len : 0;

	switch (rng() % 6) {
	case 0: /* flip a bit */
		if (len)
			buf[pos] ^= (char)(1u << (rng() % 8));
		break;
	case 1: /* an interesting byte */
		if (len)
			buf[pos] =
			    interesting[rng() % (sizeof(interesting) - 1)];
		break;
	case 2: /* insert a random byte */
		if (len < cap) {
			memmove(buf + pos + 1, buf + pos, len - pos);
			buf[pos] = (char)rng();
			len++;
		}
		break;
	case 3: /* delete a byte */
		if (len) {
			memmove(buf + pos, buf + pos + 1, len - pos - 1);
			len--;
		}
		break;
	case 4: /* truncate */
		len = pos;
		break;
	default: /* duplicate a span */
		for (size_t n = rng() % 16; n > 0 && len < cap && pos < len;
		     n--, pos++)
			buf[len++] = buf[pos];
		break;
	}
	return len;
}

/* One fuzzed line: whatever happens, the outcome is well-formed. */
static void
fuzz_one(const char *line, size_t len, int *nok)
{
	struct proto_req req;
	struct proto_err err;
	json_t *resp, *back;
	char *out;
	size_t outlen;
	int rc = proto_parse(line, len, &req, &err);

	ck_assert(rc == 0 || rc == -EINVAL);
	if (rc == 0) {
		ck_assert((unsigned)req.op < PROTO_NOPS);
		(*nok)++;
		resp = proto_ok(&req);
	} else {
		ck_assert(err.code == PROTO_BAD_REQUEST ||
		    err.code == PROTO_UNKNOWN_OP);
		ck_assert(err.msg[0] != '\0' && valid_utf8(err.msg));
		resp = proto_error(&req, err.code, err.msg);
	}
	ck_assert_ptr_nonnull(resp);
	ck_assert_int_eq(proto_dump(resp, &out, &outlen), 0);
	ck_assert_ptr_eq(memchr(out, '\n', outlen), out + outlen - 1);
	back = json_loads(out, 0, NULL);
	ck_assert_ptr_nonnull(back);
	if (req.tag != NULL)
		ck_assert(json_equal(json_object_get(back, "tag"), req.tag));
	json_decref(back);
	json_decref(resp);
	free(out);
	proto_req_clear(&req);
}

START_TEST(test_fuzz)
{
	enum { CAP = 512 };
	char buf[CAP];
	long iters = (long)(50000 / tu_slow());
	size_t len;
	int nok = 0;

	rng_state = 0x9e3779b97f4a7c15ULL;
	for (long i = 0; i < iters; i++) {
		const char *seed =
		    seeds[rng() % (sizeof(seeds) / sizeof(*seeds))];

		len = strlen(seed);
		memcpy(buf, seed, len);
		for (int m = 1 + (int)(rng() % 4); m > 0; m--)
			len = mutate(buf, len, CAP);
		fuzz_one(buf, len, &nok);
	}
	/* the mutations are mild enough that some still parse */
	ck_assert_int_gt(nok, 0);
	ck_assert_int_lt(nok, iters);
}
END_TEST

/* ---- allocation failures ---------------------------------------------------------- */

static long alloc_left; /* allocations until failure; <0: never */

static void *
failing_malloc(size_t n)
{
	if (alloc_left == 0)
		return NULL;
	if (alloc_left > 0)
		alloc_left--;
	return malloc(n);
}

/* jansson fails its k-th allocation, for every k until a run succeeds:
 * each failure is -ENOMEM/internal — or a bad_request, as jansson reports
 * an allocation failure in mid-parse as a syntax error — and nothing
 * leaks or crashes. */
START_TEST(test_alloc_failures)
{
	const char *line = seeds[4];
	struct proto_req req;
	struct proto_err err;
	json_t *resp;
	char *out;
	size_t outlen;
	int rc = -1, nomem = 0, nbad = 0;

	json_set_alloc_funcs(failing_malloc, free);
	for (long k = 0; rc != 0 && k < 10000; k++) {
		alloc_left = k;
		rc = proto_parse(line, strlen(line), &req, &err);
		ck_assert(rc == 0 || rc == -ENOMEM || rc == -EINVAL);
		if (rc == -ENOMEM)
			ck_assert_int_eq(err.code, PROTO_INTERNAL);
		nomem += rc == -ENOMEM;
		nbad += rc == -EINVAL;
		if (rc == 0) {
			resp = proto_ok(&req);
		} else {
			resp = proto_error(&req, err.code, err.msg);
		}
		if (resp != NULL && proto_dump(resp, &out, &outlen) == 0)
			free(out);
		json_decref(resp);
		proto_req_clear(&req);
	}
	alloc_left = -1;
	json_set_alloc_funcs(malloc, free);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_gt(nomem, 0);
	ck_assert_int_gt(nbad, 0);
}
END_TEST

/* ---- reals: the shortest text that reads back the same -------------------- */

START_TEST(test_real_shortest)
{
	static const struct {
		double d;
		const char *text;
	} cases[] = {
		{ 0.1, "0.1" }, { 0.3, "0.3" }, { 0.1 + 0.2, "0.30000000000000004" },
		{ 1.0, "1.0" }, { -2.0, "-2.0" }, { 0.0, "0.0" }, { -0.0, "-0.0" },
		{ 1e22, "1e22" }, { 1e-7, "1e-7" }, { 1.5e300, "1.5e300" },
		{ 123456789012345680.0, "1.2345678901234568e17" },
		{ 1796622536.2958341, "1796622536.295834" },
		{ 2.2250738585072014e-308, "2.2250738585072014e-308" },
		{ 1.7976931348623157e308, "1.7976931348623157e308" },
		{ 5e-324, NULL },       /* subnormal: exact, not shortest */
	};
	char buf[40];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_gt(proto_real_text(cases[i].d, buf, sizeof(buf)),
		    0);
		ck_assert_msg(strtod(buf, NULL) == cases[i].d &&
		    signbit(strtod(buf, NULL)) == signbit(cases[i].d),
		    "%s does not read back", buf);
		if (cases[i].text != NULL)
			ck_assert_str_eq(buf, cases[i].text);
		if (cases[i].text != NULL) {
			ck_assert_int_gt(proto_real_spell(cases[i].d, buf,
			    sizeof(buf)), 0);
			ck_assert_str_eq(buf, cases[i].text);
		}
	}
	ck_assert_int_eq(proto_real_text(0.1 + 0.2, buf, 8), -ENOSPC);
	ck_assert_int_eq(proto_real_spell(0.1 + 0.2, buf, 8), -ENOSPC);
	/* Times and durations (the exact-integer way): as short as the
	 * snprintf way, and read back. */
	for (int i = 0; i < 200000; i++) {
		double d = i % 4 == 0 ? 1796622536.0 + i / 7.0 :
		    i % 4 == 1 ? (double)i / 1000 + 1 : i % 4 == 2 ?
		    1e15 - i * 0.37 : 1 + i * 1e-9;
		char want[40];

		if (i % 2)
			d = -d;
		ck_assert_int_gt(proto_real_text(d, want, sizeof(want)), 0);
		ck_assert_int_gt(proto_real_spell(d, buf, sizeof(buf)), 0);
		ck_assert_msg(strtod(buf, NULL) == d && strlen(buf) ==
		    strlen(want), "%.17g: %s vs %s", d, buf, want);
	}
}
END_TEST

/* Every real of an answer, in a tag, args or a result, comes back as it
 * went in; strings that look like numbers are left alone. */
START_TEST(test_dump_reals_round_trip)
{
	json_t *v = json_pack("{s:f,s:[f,f,I,s],s:{s:f,s:s}}", "tag",
	    0.1 + 0.2, "a", 0.1, 1e-300, (json_int_t)12345678901234,
	    "1.50000000000000001\"2.5", "o", "x1.5", 2.0 / 3, "s",
	    "0.30000000000000004 \\\" 7.10");
	json_t *back;
	char *text, *line, want[40], spelt[40];
	size_t len;
	uint64_t r = 88172645463325252ull;

	ck_assert_ptr_nonnull(v);
	ck_assert_ptr_nonnull(text = proto_dumps(v, JSON_COMPACT));
	ck_assert_str_eq(text, "{\"tag\":0.30000000000000004,\"a\":[0.1,"
	    "1e-300,12345678901234,\"1.50000000000000001\\\"2.5\"],\"o\":"
	    "{\"x1.5\":0.6666666666666666,\"s\":\"0.30000000000000004 "
	    "\\\\\\\" 7.10\"}}");
	ck_assert_int_eq(proto_dump(v, &line, &len), 0);
	ck_assert_uint_eq(len, strlen(text) + 1);
	ck_assert_int_eq(memcmp(line, text, len - 1), 0);
	free(line);
	free(text);
	json_decref(v);
	/* Integers of 16 digits and more stay integers, to the last digit
	 * (the fuzz level found INT64_MIN turned into a real). */
	v = json_pack("[I,I,I]", (json_int_t)INT64_MIN, (json_int_t)INT64_MAX,
	    (json_int_t)1234567890123456789);
	ck_assert_ptr_nonnull(text = proto_dumps(v, JSON_COMPACT));
	ck_assert_str_eq(text, "[-9223372036854775808,9223372036854775807,"
	    "1234567890123456789]");
	free(text);
	json_decref(v);
	/* Random bit patterns: each reads back to the same double. */
	for (int i = 0; i < 20000; i++) {
		double d;

		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		memcpy(&d, &r, sizeof(d));
		if (!isfinite(d))
			continue;
		v = json_pack("{s:f}", "x", d);
		text = proto_dumps(v, JSON_COMPACT);
		back = json_loads(text, 0, NULL);
		ck_assert_msg(back != NULL && json_real_value(json_object_get(
		    back, "x")) == d, "%s", text);
		/* The same digits as the snprintf way (15, 16, 17). */
		ck_assert_int_gt(proto_real_text(d, want, sizeof(want)), 0);
		ck_assert_msg(strlen(text) == strlen(want) + 6, "%s vs %s",
		    text, want);
		/* proto_real_spell: proto_dumps' digits, which may differ
		 * from snprintf's in the last place, not in length. */
		ck_assert_int_gt(proto_real_spell(d, spelt, sizeof(spelt)), 0);
		ck_assert_msg(strtod(spelt, NULL) == d &&
		    strlen(spelt) == strlen(want), "%s vs %s", spelt, want);
		ck_assert_ptr_nonnull(strstr(text, spelt));
		json_decref(back);
		json_decref(v);
		free(text);
	}
}
END_TEST

/* jobd's own compact writer writes every value as jansson's printer (and
 * the respelling) does: random reals of every magnitude, whole ones,
 * -0.0, strings with controls, NUL, UTF-8, deep and wide nesting. */
START_TEST(test_dump_own_writer)
{
	static const char *const strs[] = { "", "plain", "q\"b\\s/t", "\x01\x1f\x7f",
	    "caf\xc3\xa9 \xf0\x9f\x98\x80", "\t\n\r\b\f" };
	json_t *root = json_object(), *a = json_array(), *deep = json_array();
	char *own, *ref, key[16];
	uint64_t bits;
	double d;

	srandom(15);
	for (int i = 0; i < 4000; i++) {
		bits = (uint64_t)random() << 33 ^ (uint64_t)random() << 11 ^
		    (uint64_t)random();
		memcpy(&d, &bits, sizeof(d));
		if (!isfinite(d))
			d = (double)(int64_t)(bits >> 20) / 8;
		if (i % 5 == 0)
			d = (double)((int64_t)(bits >> 14) - (1LL << 49));
		json_array_append_new(a, json_real(d));
		json_array_append_new(a, json_integer((json_int_t)bits));
	}
	json_array_append_new(a, json_real(-0.0));
	json_array_append_new(a, json_real(1e15));
	json_array_append_new(a, json_real(0.30000000000000004));
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		snprintf(key, sizeof(key), "k%s%zu", strs[i], i);
		json_object_set_new(root, key, json_string(strs[i]));
	}
	json_object_set_new(root, "nul", json_stringn("a\0b", 3));
	json_object_set_new(root, "t", json_true());
	json_object_set_new(root, "n", json_null());
	json_object_set_new(root, "a", a);
	for (int i = 0; i < 100; i++)   /* past the own writer's depth */
		deep = json_pack("[o]", deep);
	json_object_set_new(root, "deep", deep);
	own = proto_dumps(root, JSON_COMPACT);
	ck_assert_int_eq(proto_dumps_jansson(root, JSON_COMPACT, &ref), 0);
	ck_assert_ptr_nonnull(own);
	ck_assert_str_eq(own, ref);
	free(own);
	free(ref);
	json_object_del(root, "deep");
	own = proto_dumps(root, JSON_COMPACT);
	ck_assert_int_eq(proto_dumps_jansson(root, JSON_COMPACT, &ref), 0);
	ck_assert_str_eq(own, ref);
	free(own);
	free(ref);
	json_decref(root);
}
END_TEST

/* proto_dumps writes a short text into a stack buffer and hands back an
 * exact malloc (a job keeps its args' and its result's text for its
 * life); a text past that buffer moves to the heap whole, compact or not. */
START_TEST(test_dumps_sizes)
{
	char s[1200], *own, *ref;
	json_t *o;
	size_t n;

	for (n = 0; n < sizeof(s) - 1; n += n < 300 ? 1 : 37) {
		memset(s, 'a' + (int)(n % 26), n);
		s[n] = '\0';
		o = json_pack("{s:s,s:i}", "s", s, "i", (int)n);
		ck_assert_ptr_nonnull(o);
		for (int pretty = 0; pretty < 2; pretty++) {
			size_t flags = pretty ? JSON_INDENT(2) : JSON_COMPACT;

			own = proto_dumps(o, flags);
			ck_assert_ptr_nonnull(own);
			ck_assert_int_eq(proto_dumps_jansson(o, flags, &ref), 0);
			ck_assert_str_eq(own, ref);
			/* Exact: no 256-byte floor for a short text. */
			if (strlen(own) < 100)
				ck_assert_uint_lt(malloc_usable_size(own), 128);
			free(own);
			free(ref);
		}
		json_decref(o);
	}
	ck_assert_ptr_null(proto_dumps(NULL, JSON_COMPACT));
}
END_TEST

/* proto_line writes what proto_dump writes of the same object, or 0. */
START_TEST(test_proto_line)
{
	json_t *tags[] = { NULL, json_integer(-17), json_string("job-7 x"),
	    json_string("a\"b"), json_string("caf\xc3\xa9"), json_real(1.5),
	    json_pack("[i]", 1) };
	char buf[128], *out;
	size_t n, len;
	json_t *o;

	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		n = proto_line(buf, sizeof(buf), "{\"ok\":true,\"id\":42",
		    tags[i], "}");
		o = json_pack("{s:b s:I}", "ok", 1, "id", (json_int_t)42);
		if (tags[i] != NULL)
			json_object_set(o, "tag", tags[i]);
		ck_assert_int_eq(proto_dump(o, &out, &len), 0);
		if (i < 3) {
			ck_assert_uint_eq(n, len);
			ck_assert(memcmp(buf, out, n) == 0);
		} else {
			ck_assert_uint_eq(n, 0);        /* not a plain tag */
		}
		free(out);
		json_decref(o);
		json_decref(tags[i]);
	}
	ck_assert_uint_eq(proto_line(buf, 10, "{\"ok\":true,\"id\":42", NULL,
	    "}"), 0);
}
END_TEST

/* ---- the lean submit parser (proto_fast.c) ---------------------------- */

/* Lines the lean parser must take, and what args' text it writes (NULL:
 * none, args hold a real). */
static const struct {
	const char *line, *args_text;
} lean_lines[] = {
	{ "{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":{\"seconds\":0}}",
	    "{\"seconds\":0}" },
	{ "{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":{\"seconds\":0},"
	    "\"tag\":17}", "{\"seconds\":0}" },
	{ " { \"op\" : \"submit\" , \"kind\" : \"exec\" , \"args\" : "
	    "{ \"argv\" : [ \"sh\" , \"-c\" , \"a\\\"b\\\\c\\/d\\te\\n\" ] ,"
	    " \"env\" : { } , \"x\" : [ -0 , true , null , [ ] ] } } ",
	    "{\"argv\":[\"sh\",\"-c\",\"a\\\"b\\\\c/d\\te\\n\"],\"env\":{},"
	    "\"x\":[0,true,null,[]]}" },
	{ "{\"kind\":\"sleep\",\"args\":{\"seconds\":2},\"queue\":\"q\","
	    "\"name\":\"n\\/1\",\"timeout\":-0.0,\"max_attempts\":3,"
	    "\"nowait\":true,\"op\":\"submit\"}", "{\"seconds\":2}" },
	{ "{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":{\"seconds\":0.25}}",
	    NULL },
	{ "{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":{},\"priority\":3,"
	    "\"retries\":2,\"retry_delay\":0.5,\"retry_backoff\":\"fixed\","
	    "\"idempotent\":false,\"delay\":30,\"unique_key\":\"k\","
	    "\"unique_for\":60,\"tag\":{\"a\":[1.5]}}", "{}" },
	{ "{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":{},\"queue\":null,"
	    "\"name\":null,\"timeout\":null,\"max_attempts\":null,"
	    "\"nowait\":null,\"tag\":null,\"priority\":null}", "{}" },
};

/* Lines it must leave to the full parser: unknown fields, duplicates,
 * \u, non-ASCII, other ops, and every error. */
static const char *const lean_declined[] = {
	"{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":{},\"after\":[1]}",
	"{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":{\"a\":1,\"a\":2}}",
	"{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":{},\"kind\":\"x\"}",
	"{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":{},\"delay\":1,"
	    "\"delay\":2}",
	"{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":{\"a\":\"\\u00e9\"}}",
	"{\"op\":\"submit\",\"kind\":\"sl\xc3\xa9\",\"args\":{}}",
	"{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":{}} x",
	"{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":{\"s\":01}}",
	"{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":{},\"priority\":10}",
	"{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":{},\"max_attempts\":2.0}",
	"{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":{},\"delay\":1,"
	    "\"run_at\":2}",
	"{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":{},\"unique_for\":6}",
	"{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":null}",
	"{\"op\":\"submit\",\"kind\":\"sleep\"}",
	"{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":{},\"timeout\":1e999}",
	"{\"op\":\"submit_group\",\"jobs\":[{\"kind\":\"sleep\",\"args\":{}}]}",
	"{\"op\":\"ping\",\"tag\":\"submit\"}",
};

START_TEST(test_fast_takes)
{
	struct proto_req fast, full;
	struct proto_err err;
	const char *line = lean_lines[_i].line, *want = lean_lines[_i].args_text;
	struct proto_submit *a = &fast.u.submit, *b = &full.u.submit;
	char *text;

	ck_assert_msg(proto_fast_submit(line, strlen(line), &fast), "%s", line);
	ck_assert_int_eq(proto_parse_full(line, strlen(line), &full, &err), 0);
	ck_assert_ptr_null(fast.root);
	ck_assert_str_eq(a->kind, b->kind);
	ck_assert_str_eq(a->queue, b->queue);
	ck_assert(a->name == NULL ? b->name == NULL : strcmp(a->name, b->name)
	    == 0);
	ck_assert(json_equal(a->args, b->args));
	ck_assert(fast.tag == NULL ? full.tag == NULL :
	    json_equal(fast.tag, full.tag));
	ck_assert(a->timeout == b->timeout && !signbit(a->timeout) ==
	    !signbit(b->timeout));
	ck_assert(a->max_attempts == b->max_attempts && a->nowait == b->nowait);
	ck_assert(a->priority == b->priority && a->retries == b->retries &&
	    a->retry_delay == b->retry_delay && a->idempotent == b->idempotent &&
	    a->retry_backoff == b->retry_backoff);
	ck_assert(a->has_run_at == b->has_run_at && fabs(a->run_at - b->run_at)
	    < 1.0);
	ck_assert(a->unique_key == NULL ? b->unique_key == NULL :
	    strcmp(a->unique_key, b->unique_key) == 0);
	ck_assert(a->unique_for == b->unique_for);
	if (want == NULL) {
		ck_assert_ptr_null(a->args_text);
	} else {
		ck_assert_str_eq(a->args_text, want);
		text = proto_dumps(b->args, JSON_COMPACT);
		ck_assert_str_eq(a->args_text, text);
		free(text);
	}
	/* proto_parse takes the same way. */
	proto_req_clear(&full);
	ck_assert_int_eq(proto_parse(line, strlen(line), &full, &err), 0);
	ck_assert_ptr_null(full.root);
	proto_req_clear(&full);
	proto_req_clear(&fast);
}
END_TEST

START_TEST(test_fast_declines)
{
	const char *line = lean_declined[_i];
	struct proto_req req;
	struct proto_err e1, e2;
	int r1, r2;

	ck_assert_msg(!proto_fast_submit(line, strlen(line), &req), "%s", line);
	ck_assert_ptr_null(req.root);
	ck_assert_ptr_null(req.lean.args);
	ck_assert_ptr_null(req.lean.text);
	/* The full parser answers: proto_parse says what it says. */
	memset(&e1, 0, sizeof(e1));
	memset(&e2, 0, sizeof(e2));
	r1 = proto_parse(line, strlen(line), &req, &e1);
	proto_req_clear(&req);
	r2 = proto_parse_full(line, strlen(line), &req, &e2);
	proto_req_clear(&req);
	ck_assert_int_eq(r1, r2);
	ck_assert_int_eq(e1.code, e2.code);
	ck_assert_str_eq(e1.msg, e2.msg);
}
END_TEST

static Suite *
proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("parse");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_code_table);
	tcase_add_test(tc, test_parse_ping_stats);
	tcase_add_test(tc, test_parse_submit_full);
	tcase_add_test(tc, test_parse_submit_defaults);
	tcase_add_test(tc, test_parse_submit_group);
	tcase_add_test(tc, test_parse_group_bound);
	tcase_add_test(tc, test_parse_group_detached);
	tcase_add_test(tc, test_parse_get_wait_cancel_list);
	tcase_add_loop_test(tc, test_parse_accepted, 0,
	    sizeof(accepted) / sizeof(accepted[0]));
	tcase_add_test(tc, test_depth_bound);
	tcase_add_test(tc, test_submit_parse_direct);
	tcase_add_test(tc, test_field_helpers);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_hostile, 0,
	    sizeof(hostile) / sizeof(hostile[0]));
	tcase_add_test(tc, test_deep_nesting);
	tcase_add_test(tc, test_long_strings);
	tcase_add_test(tc, test_message_utf8);
	tcase_add_test(tc, test_fuzz);
	tcase_add_test(tc, test_alloc_failures);
	suite_add_tcase(s, tc);

	tc = tcase_create("respond");
	tcase_set_timeout(tc, 60);      /* test_real_shortest: 200k reals */
	tcase_add_test(tc, test_tag_echoed_on_errors);
	tcase_add_test(tc, test_response_format);
	tcase_add_test(tc, test_response_one_line);
	tcase_add_test(tc, test_dump_rejects);
	tcase_add_test(tc, test_time);
	tcase_add_test(tc, test_real_shortest);
	tcase_add_test(tc, test_dump_reals_round_trip);
	tcase_add_test(tc, test_doc_examples);
	tcase_add_test(tc, test_dump_own_writer);
	tcase_add_test(tc, test_dumps_sizes);
	tcase_add_test(tc, test_proto_line);
	tcase_add_loop_test(tc, test_fast_takes, 0,
	    sizeof(lean_lines) / sizeof(lean_lines[0]));
	tcase_add_loop_test(tc, test_fast_declines, 0,
	    sizeof(lean_declined) / sizeof(lean_declined[0]));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(proto_suite());
}
