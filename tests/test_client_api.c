/*
 * test_client_api.c — lib/client's calls (jc.h, jc_submit ... jc_watch)
 * against the real jobd: every call and every error code jobd sends, and
 * what the library says when there is no answer (refused, killed
 * mid-call, a line past jobd's max_line, a local timeout).  Then the same
 * calls against a fake server on a socketpair, for what jobd never sends
 * (a reply that is not an answer, an answer cut short or past the bound)
 * and for the ops jobd does not have yet (pause ... watch): the exact
 * request line and the parse of the contract's answer.  Last, the example
 * docs/CLIENT.md shows (docs/examples/client.c), run against jobd.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jc.h"
#include "proto.h"
#include "tu_jobd.h"

#define API_QUEUES                                                           \
	"[queue.default]\nworkers = 4\ncapacity = 1000\ntimeout = 0\n"       \
	"[queue.small]\nworkers = 1\ncapacity = 1\ntimeout = 0\n"

/* Start jobd and connect to it. */
static struct jc_conn *
api_start(const char *daemon_keys)
{
	struct jc_conn *c;

	tj_start(TJ_DAEMON "%s" API_QUEUES, daemon_keys);
	ck_assert_int_eq(jc_open(tj_path("jobd.sock"), &c), 0);
	return c;
}

/* Assert rc is JC_EJOBD with the error code and a message. */
static void
assert_jobd_err(struct jc_conn *c, int rc, enum jc_code code)
{
	const struct jc_error *e = jc_last_error(c);

	ck_assert_msg(rc == JC_EJOBD && e->code == code,
	    "rc %d, code %s (%s), expected %s", rc, e->name, e->message,
	    jc_code_name(code));
	ck_assert_str_eq(e->name, jc_code_name(code));
	ck_assert_msg(e->message[0] != '\0', "no message for %s", e->name);
}

/* Assert rc is the local error err, with a message and no code. */
static void
assert_local_err(struct jc_conn *c, int rc, int err)
{
	const struct jc_error *e = jc_last_error(c);

	ck_assert_msg(rc == err, "rc %d (%s), expected %d", rc, e->message,
	    err);
	ck_assert_int_eq(e->code, JC_E_NONE);
	ck_assert_str_eq(e->name, "");
	ck_assert_msg(e->message[0] != '\0', "no message for %d", rc);
}

/* A sleep job on queue (NULL: default), submitted by the library. */
static int64_t
api_sleep(struct jc_conn *c, const char *queue, double seconds)
{
	struct jc_submit_opts o = JC_SUBMIT_INIT;
	json_t *args = json_pack("{s:f}", "seconds", seconds);
	int64_t id = 0;

	o.queue = queue;
	ck_assert_int_eq(jc_submit(c, "sleep", args, &o, &id, NULL), 0);
	json_decref(args);
	ck_assert_int_gt(id, 0);
	return id;
}

/* {"seconds":0}, borrowed (kept until the test process ends). */
static json_t *
zero(void)
{
	static json_t *args;

	if (args == NULL)
		args = json_pack("{s:f}", "seconds", 0.0);
	return args;
}

static const char *
job_str(const json_t *job, const char *key)
{
	return json_string_value(json_object_get(job, key));
}

/* ---- every call against jobd -------------------------------------------- */

/* ping, submit with the stage-one fields, get, wait: the fields arrive
 * and come back in {JOB}. */
START_TEST(test_submit_get_wait)
{
	struct jc_submit_opts o = JC_SUBMIT_INIT;
	struct jc_conn *c = api_start("");
	json_t *args, *job, *extra;
	bool dup = true;
	char *version;
	int64_t id;

	ck_assert_int_eq(jc_ping(c, &version), 0);
	ck_assert_str_eq(version, JOBD_VERSION);
	free(version);
	ck_assert_int_eq(jc_ping(c, NULL), 0);
	ck_assert_int_eq(jc_last_error(c)->code, JC_E_NONE);
	ck_assert_str_eq(jc_last_error(c)->message, "");

	args = json_pack("{s:f}", "seconds", 0.0);
	extra = json_pack("{s:i}", "x_later_field", 1); /* jobd ignores it */
	o.queue = "default";
	o.name = "first";
	o.timeout = 7.5;
	o.max_attempts = 2;
	o.nowait = 1;
	o.extra = extra;
	ck_assert_int_eq(jc_submit(c, "sleep", args, &o, &id, &dup), 0);
	ck_assert_int_gt(id, 0);
	ck_assert(!dup);
	ck_assert_int_eq(jc_get(c, id, false, &job), 0);
	ck_assert_str_eq(job_str(job, "name"), "first");
	ck_assert_str_eq(job_str(job, "queue"), "default");
	ck_assert_str_eq(job_str(job, "kind"), "sleep");
	ck_assert(json_equal(json_object_get(job, "args"), args));
	ck_assert(json_real_value(json_object_get(job, "timeout")) == 7.5);
	json_decref(job);
	ck_assert_int_eq(jc_wait(c, id, JC_FOREVER, &job), 0);
	ck_assert_str_eq(job_str(job, "state"), "succeeded");
	ck_assert_int_eq(json_integer_value(json_object_get(job, "id")), id);
	ck_assert_ptr_nonnull(json_object_get(json_object_get(job, "result"),
	    "slept"));
	json_decref(job);
	/* history: asked for, the job still comes whole. */
	ck_assert_int_eq(jc_get(c, id, true, &job), 0);
	ck_assert_str_eq(job_str(job, "state"), "succeeded");
	json_decref(job);
	/* No options; and a poll (timeout 0) of an ended job answers. */
	ck_assert_int_eq(jc_submit(c, "sleep", zero(), NULL, &id, NULL), 0);
	ck_assert_int_eq(jc_wait(c, id, TJ_TIMEOUT, &job), 0);
	json_decref(job);
	ck_assert_int_eq(jc_wait(c, id, 0, &job), 0);
	ck_assert_str_eq(job_str(job, "state"), "succeeded");
	json_decref(job);
	json_decref(args);
	json_decref(extra);
	jc_close(c);
}
END_TEST

/* One spec of a group: sleep 0, or a failing one. */
static json_t *
spec(bool fail, double seconds)
{
	json_t *args = fail ? json_pack("{s:f,s:s}", "seconds", seconds, "fail",
	    "boom") : json_pack("{s:f}", "seconds", seconds);
	json_t *s = jc_job_spec("sleep", args, NULL);

	json_decref(args);
	ck_assert_ptr_nonnull(s);
	return s;
}

/* submit_group, wait_group (submission order), list (newest first,
 * filters), stats. */
START_TEST(test_group_list_stats)
{
	struct jc_list_opts lo = { .limit = 2 };
	struct jc_conn *c = api_start("");
	json_t *jobs = json_array(), *ids, *all, *stats;
	int64_t group;

	json_array_append_new(jobs, spec(false, 0));
	json_array_append_new(jobs, spec(true, 0));
	json_array_append_new(jobs, spec(false, 0));
	ck_assert_int_eq(jc_submit_group(c, jobs, "all", false, &group, &ids),
	    0);
	ck_assert_int_gt(group, 0);
	ck_assert_uint_eq(json_array_size(ids), 3);
	ck_assert_int_eq(jc_wait_group(c, group, JC_FOREVER, &all), 0);
	ck_assert_uint_eq(json_array_size(all), 3);
	for (size_t i = 0; i < 3; i++) {
		json_t *j = json_array_get(all, i);

		ck_assert(json_equal(json_object_get(j, "id"),
		    json_array_get(ids, i)));
		ck_assert_str_eq(job_str(j, "state"), i == 1 ? "failed" :
		    "succeeded");
		ck_assert_int_eq(json_integer_value(json_object_get(j,
		    "group")), group);
	}
	json_decref(all);

	ck_assert_int_eq(jc_list(c, &lo, &all), 0);
	ck_assert_uint_eq(json_array_size(all), 2);
	ck_assert(json_equal(json_object_get(json_array_get(all, 0), "id"),
	    json_array_get(ids, 2)));
	ck_assert(json_equal(json_object_get(json_array_get(all, 1), "id"),
	    json_array_get(ids, 1)));
	json_decref(all);
	lo = (struct jc_list_opts){ .state = "failed", .queue = "default" };
	ck_assert_int_eq(jc_list(c, &lo, &all), 0);
	ck_assert_uint_eq(json_array_size(all), 1);
	ck_assert(json_equal(json_object_get(json_array_get(all, 0), "id"),
	    json_array_get(ids, 1)));
	json_decref(all);
	ck_assert_int_eq(jc_list(c, NULL, &all), 0);
	ck_assert_uint_eq(json_array_size(all), 3);
	json_decref(all);

	ck_assert_int_eq(jc_stats(c, &stats), 0);
	ck_assert_int_eq(json_integer_value(tj_at(stats,
	    "queues.default.workers")), 4);
	ck_assert_int_eq(json_integer_value(tj_at(stats,
	    "queues.small.capacity")), 1);
	ck_assert(json_is_true(json_object_get(stats, "ok")));
	json_decref(stats);
	json_decref(ids);
	json_decref(jobs);
	jc_close(c);
}
END_TEST

/* cancel and cancel_group: answered once stopped, with the reason. */
START_TEST(test_cancel)
{
	struct jc_conn *c = api_start("");
	json_t *jobs = json_array(), *ids, *job, *all;
	int64_t id, group;

	id = api_sleep(c, NULL, 30);
	ck_assert_int_eq(jc_cancel(c, id, "changed my mind"), 0);
	ck_assert_int_eq(jc_get(c, id, false, &job), 0);
	ck_assert_str_eq(job_str(job, "state"), "cancelled");
	ck_assert_str_eq(job_str(job, "cancel_reason"), "changed my mind");
	json_decref(job);
	/* Cancelled again: it has ended. */
	assert_jobd_err(c, jc_cancel(c, id, NULL), JC_E_NOT_CANCELLABLE);

	json_array_append_new(jobs, spec(false, 30));
	json_array_append_new(jobs, spec(false, 30));
	ck_assert_int_eq(jc_submit_group(c, jobs, NULL, false, &group, NULL),
	    0);
	ck_assert_int_eq(jc_cancel_group(c, group, NULL, &ids), 0);
	ck_assert_uint_eq(json_array_size(ids), 2);
	ck_assert_int_eq(jc_wait_group(c, group, 0, &all), 0);
	for (size_t i = 0; i < 2; i++)
		ck_assert_str_eq(job_str(json_array_get(all, i), "state"),
		    "cancelled");
	json_decref(all);
	json_decref(ids);
	assert_jobd_err(c, jc_cancel_group(c, group, NULL, NULL),
	    JC_E_NOT_CANCELLABLE);
	json_decref(jobs);
	jc_close(c);
}
END_TEST

struct seen {
	int lines;
	char last[256];
};

static void
on_line(const char *line, size_t len, void *arg)
{
	struct seen *s = arg;

	s->lines++;
	snprintf(s->last, sizeof(s->last), "%.*s", (int)len, line);
}

/* 300 submits pipelined with tags, then read: ids rise, tags come back
 * in order; calls mix in after the answers are read.  jc_on_answer sees
 * every line as it came. */
START_TEST(test_pipelined_submits)
{
	enum { N = 300 };
	struct jc_conn *c = api_start("");
	struct seen seen = { 0 };
	int64_t prev = 0, id;
	json_t *req, *ans;

	jc_on_answer(c, on_line, &seen);
	for (int i = 0; i < N; i++) {
		req = jc_req_submit("sleep", zero(), NULL);
		json_object_set_new(req, "tag", json_integer(i));
		ck_assert_int_eq(jc_req_send(c, req), 0);
		json_decref(req);
	}
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(jc_answer_recv(c, &ans), 0);
		ck_assert_int_eq(json_integer_value(json_object_get(ans, "tag")),
		    i);
		id = json_integer_value(json_object_get(ans, "id"));
		ck_assert_int_gt(id, prev);
		prev = id;
		json_decref(ans);
	}
	ck_assert_int_eq(seen.lines, N);
	ck_assert_ptr_nonnull(strstr(seen.last, "\"tag\":299"));
	ck_assert_int_eq(jc_submit_send(c, "sleep", zero(), NULL), 0);
	ck_assert_int_eq(jc_answer_recv(c, &ans), 0);
	json_decref(ans);
	ck_assert_int_eq(jc_ping(c, NULL), 0);
	ck_assert_int_eq(seen.lines, N + 2);
	/* An error answer read by jc_answer_recv is handed out too. */
	req = json_pack("{s:s,s:s}", "op", "get", "tag", "t");
	ck_assert_int_eq(jc_request(c, req, &ans), JC_EJOBD);
	ck_assert_str_eq(json_string_value(json_object_get(ans, "tag")), "t");
	ck_assert_int_eq(jc_last_error(c)->code, JC_E_BAD_REQUEST);
	json_decref(ans);
	json_decref(req);
	jc_on_answer(c, NULL, NULL);
	jc_close(c);
}
END_TEST

/* ---- jobd's error codes ------------------------------------------------- */

/* The codes jobd sends on one connection, which stays usable after each. */
START_TEST(test_error_codes)
{
	struct jc_submit_opts o = JC_SUBMIT_INIT;
	struct jc_conn *c = api_start("");
	json_t *req, *ans, *job;
	int64_t id, run;

	o.timeout = -1;
	assert_jobd_err(c, jc_submit(c, "sleep", zero(), &o, &id, NULL),
	    JC_E_BAD_REQUEST);
	ck_assert_ptr_nonnull(strstr(jc_last_error(c)->message, "timeout"));
	req = json_pack("{s:s}", "op", "no_such_op");
	assert_jobd_err(c, jc_request(c, req, &ans), JC_E_UNKNOWN_OP);
	json_decref(ans);
	json_decref(req);
	assert_jobd_err(c, jc_submit(c, "no_such_kind", NULL, NULL, &id, NULL),
	    JC_E_UNKNOWN_KIND);
	o = (struct jc_submit_opts)JC_SUBMIT_INIT;
	o.queue = "no_such_queue";
	assert_jobd_err(c, jc_submit(c, "sleep", zero(), &o, &id, NULL),
	    JC_E_UNKNOWN_QUEUE);
	assert_jobd_err(c, jc_get(c, 999999, false, &job), JC_E_NOT_FOUND);
	assert_jobd_err(c, jc_wait(c, 999999, 0, &job), JC_E_NOT_FOUND);
	assert_jobd_err(c, jc_cancel(c, 999999, NULL), JC_E_NOT_FOUND);
	assert_jobd_err(c, jc_wait_group(c, 999999, 0, &job), JC_E_NOT_FOUND);

	/* timeout: a poll and a short wait of a running job. */
	run = api_sleep(c, NULL, 30);
	assert_jobd_err(c, jc_wait(c, run, 0, &job), JC_E_TIMEOUT);
	assert_jobd_err(c, jc_wait(c, run, 0.05, &job), JC_E_TIMEOUT);
	ck_assert_int_eq(jc_cancel(c, run, NULL), 0);

	/* queue_full: small has one worker and room for one queued job. */
	run = api_sleep(c, "small", 30);
	tj_wait_state(tj_connect(), run, "running", TJ_TIMEOUT);
	api_sleep(c, "small", 30);
	o = (struct jc_submit_opts)JC_SUBMIT_INIT;
	o.queue = "small";
	o.nowait = 1;
	assert_jobd_err(c, jc_submit(c, "sleep", zero(), &o, &id, NULL),
	    JC_E_QUEUE_FULL);
	ck_assert_int_eq(jc_ping(c, NULL), 0);
	/* Outputs are untouched by a failed call. */
	id = 42;
	job = NULL;
	assert_jobd_err(c, jc_submit(c, "sleep", zero(), &o, &id, NULL),
	    JC_E_QUEUE_FULL);
	ck_assert_int_eq(id, 42);
	assert_jobd_err(c, jc_get(c, 999999, false, &job), JC_E_NOT_FOUND);
	ck_assert_ptr_null(job);
	jc_close(c);
}
END_TEST

/* What the library refuses to send: nothing goes out, the connection
 * stays in step. */
START_TEST(test_local_einval)
{
	struct jc_conn *c = api_start("");
	json_t *notobj = json_integer(1), *job;
	struct jc_submit_opts o = JC_SUBMIT_INIT;
	int64_t id;

	assert_local_err(c, jc_submit(c, NULL, NULL, NULL, &id, NULL),
	    -EINVAL);
	assert_local_err(c, jc_submit(c, "sle\xffp", NULL, NULL, &id, NULL),
	    -EINVAL);
	assert_local_err(c, jc_submit(c, "sleep", notobj, NULL, &id, NULL),
	    -EINVAL);
	o.name = "bad \xc3";
	assert_local_err(c, jc_submit(c, "sleep", NULL, &o, &id, NULL),
	    -EINVAL);
	o = (struct jc_submit_opts)JC_SUBMIT_INIT;
	o.extra = notobj;
	assert_local_err(c, jc_submit(c, "sleep", NULL, &o, &id, NULL),
	    -EINVAL);
	assert_local_err(c, jc_submit_group(c, notobj, NULL, false, &id, NULL),
	    -EINVAL);
	assert_local_err(c, jc_wait(c, 0, 1, &job), -EINVAL);
	assert_local_err(c, jc_pause(c, NULL), -EINVAL);
	/* Still one answer per request. */
	ck_assert_int_eq(jc_submit(c, "sleep", zero(), NULL, &id, NULL), 0);
	ck_assert_int_eq(jc_ping(c, NULL), 0);
	json_decref(notobj);
	jc_close(c);
}
END_TEST

/* A request past jobd's max_line: line_too_long, then jobd has closed the
 * connection and every later call says so. */
START_TEST(test_line_too_long)
{
	struct jc_conn *c = api_start("max_line = 4K\n");
	char pad[8192];
	json_t *args;
	int64_t id;
	int rc;

	memset(pad, 'a', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	args = json_pack("{s:f,s:s}", "seconds", 0.0, "pad", pad);
	assert_jobd_err(c, jc_submit(c, "sleep", args, NULL, &id, NULL),
	    JC_E_LINE_TOO_LONG);
	rc = jc_ping(c, NULL);
	ck_assert_msg(rc == -EPIPE || rc == -ECONNRESET, "ping: %d", rc);
	assert_local_err(c, rc, rc);
	json_decref(args);
	jc_close(c);
}
END_TEST

/* Past max_connections jobd says too_many_connections and closes: the
 * call reads why even though its send found the connection closed. */
START_TEST(test_too_many_connections)
{
	struct jc_conn *c = api_start("max_connections = 2\n"), *c2, *extra;

	ck_assert_int_eq(jc_ping(c, NULL), 0);
	ck_assert_int_eq(jc_open(tj_path("jobd.sock"), &c2), 0);
	ck_assert_int_eq(jc_ping(c2, NULL), 0);
	ck_assert_int_eq(jc_open(tj_path("jobd.sock"), &extra), 0);
	assert_jobd_err(extra, jc_ping(extra, NULL),
	    JC_E_TOO_MANY_CONNECTIONS);
	jc_close(extra);
	jc_close(c2);
	jc_close(c);
}
END_TEST

/* During a stop, submits are refused with shutting_down. */
START_TEST(test_shutting_down)
{
	struct jc_conn *c = api_start("");
	double end;
	int64_t run, id;
	int rc;

	run = api_sleep(c, NULL, 30);
	tj_wait_state(tj_connect(), run, "running", TJ_TIMEOUT);
	tj_signal(SIGTERM);
	end = tj_now() + TJ_TIMEOUT;
	while ((rc = jc_submit(c, "sleep", zero(), NULL, &id, NULL)) == 0)
		ck_assert_msg(tj_now() < end, "no shutting_down");
	assert_jobd_err(c, rc, JC_E_SHUTTING_DOWN);
	ck_assert_int_eq(tj_wait_exit(TJ_TIMEOUT), 0);
	jc_close(c);
}
END_TEST

/* No jobd: no socket, or a socket nobody listens on (jobd was killed). */
START_TEST(test_refused)
{
	struct jc_conn *c = api_start("");

	jc_close(c);
	tj_kill();
	ck_assert_int_eq(jc_open(tj_path("jobd.sock"), &c), -ECONNREFUSED);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(jc_open(tj_path("nothing.sock"), &c), -ENOENT);
	ck_assert_ptr_null(c);
	tj_restart();
}
END_TEST

/* jobd dies while a call waits for its answer: the call ends, with the
 * error, instead of waiting for ever. */
START_TEST(test_killed_mid_call)
{
	struct jc_conn *c = api_start("");
	json_t *req, *ans;
	int64_t run;
	int rc;

	run = api_sleep(c, NULL, 30);
	req = jc_req_wait(run, 0, -1);
	ck_assert_int_eq(jc_req_send(c, req), 0);
	json_decref(req);
	tj_kill();
	rc = jc_answer_recv(c, &ans);
	ck_assert_msg(rc == -EPIPE || rc == -ECONNRESET, "rc %d", rc);
	assert_local_err(c, rc, rc);
	ck_assert_ptr_null(ans);
	jc_close(c);
	tj_restart();
}
END_TEST

/* A call's own timeout: a submit held by backpressure gives up locally
 * with -ETIMEDOUT; jobd's answer, when it comes, is the next one read. */
START_TEST(test_local_timeout)
{
	struct jc_submit_opts o = JC_SUBMIT_INIT;
	struct jc_conn *c = api_start(""), *c2;
	int64_t run, held;
	json_t *ans;

	run = api_sleep(c, "small", 30);
	tj_wait_state(tj_connect(), run, "running", TJ_TIMEOUT);
	api_sleep(c, "small", 30);
	o.queue = "small";
	jc_set_timeout(c, 0.1);
	assert_local_err(c, jc_submit(c, "sleep", zero(), &o, &held, NULL),
	    -ETIMEDOUT);
	ck_assert_ptr_nonnull(strstr(jc_last_error(c)->message, "0.1 s"));
	/* Room frees (a cancel on another connection: c's next answer is
	 * the held submit's): it is answered after all. */
	ck_assert_int_eq(jc_open(tj_path("jobd.sock"), &c2), 0);
	ck_assert_int_eq(jc_cancel(c2, run, NULL), 0);
	jc_close(c2);
	jc_set_timeout(c, TJ_TIMEOUT);
	ck_assert_int_eq(jc_answer_recv(c, &ans), 0);
	ck_assert_int_gt(json_integer_value(json_object_get(ans, "id")), run);
	json_decref(ans);
	jc_close(c);
}
END_TEST

/* The client's table of codes knows every code jobd's protocol has, by
 * the same name. */
START_TEST(test_code_table)
{
	for (int i = 0; i < PROTO_NCODES; i++) {
		const char *name = proto_code_name(i);
		enum jc_code code = jc_code_lookup(name);

		ck_assert_msg(code != JC_E_OTHER && code != JC_E_NONE,
		    "jc does not know %s", name);
		ck_assert_str_eq(jc_code_name(code), name);
	}
	for (int i = JC_E_NONE + 1; i < JC_E_OTHER; i++)
		ck_assert_int_eq(jc_code_lookup(jc_code_name(i)), i);
	ck_assert_int_eq(jc_code_lookup("brand_new"), JC_E_OTHER);
	ck_assert_int_eq(jc_code_lookup(""), JC_E_OTHER);
	ck_assert_int_eq(jc_code_lookup(NULL), JC_E_OTHER);
	ck_assert_str_eq(jc_code_name(JC_E_OTHER), "");
	ck_assert_str_eq(jc_code_name(999), "");
}
END_TEST

/* ---- a fake server ------------------------------------------------------ */

/* The client on one end of a socketpair, the test on the other: it writes
 * the answers before the call (the socket holds them) and reads what the
 * call sent after it. */
struct fake {
	struct jc_conn *c;
	int fd;
};

static void
fake_open(struct fake *f)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
	ck_assert_int_eq(jc_fdopen(sv[0], &f->c), 0);
	f->fd = sv[1];
	ck_assert_int_eq(fcntl(f->fd, F_SETFL, O_NONBLOCK), 0);
	jc_set_timeout(f->c, TJ_TIMEOUT);
}

static void
fake_close(struct fake *f)
{
	jc_close(f->c);
	if (f->fd >= 0)
		close(f->fd);
}

static void
fake_say(struct fake *f, const char *s)
{
	ck_assert_int_eq(write(f->fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* Everything the client sent since the last look (a static buffer). */
static const char *
fake_heard(struct fake *f)
{
	static char buf[4096];
	ssize_t n = read(f->fd, buf, sizeof(buf) - 1);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* Replies that are not answers: -EPROTO, and the connection goes on. */
START_TEST(test_bad_replies)
{
	struct fake f;
	json_t *v;
	int64_t id;

	fake_open(&f);
	fake_say(&f, "not json\n");
	assert_local_err(f.c, jc_ping(f.c, NULL), -EPROTO);
	fake_say(&f, "{\"hello\":1}\n");
	assert_local_err(f.c, jc_ping(f.c, NULL), -EPROTO);
	fake_say(&f, "[true]\n");
	assert_local_err(f.c, jc_ping(f.c, NULL), -EPROTO);
	/* ok, but without what the call hands out. */
	fake_say(&f, "{\"ok\":true}\n");
	assert_local_err(f.c, jc_submit(f.c, "sleep", NULL, NULL, &id, NULL),
	    -EPROTO);
	fake_say(&f, "{\"ok\":true,\"id\":0}\n");
	assert_local_err(f.c, jc_submit(f.c, "sleep", NULL, NULL, &id, NULL),
	    -EPROTO);
	fake_say(&f, "{\"ok\":true,\"job\":[]}\n");
	assert_local_err(f.c, jc_get(f.c, 1, false, &v), -EPROTO);
	fake_say(&f, "{\"ok\":true,\"queues\":1}\n");
	assert_local_err(f.c, jc_stats(f.c, &v), -EPROTO);
	fake_say(&f, "{\"ok\":true,\"group\":3}\n");
	v = json_array();
	assert_local_err(f.c, jc_submit_group(f.c, v, NULL, false, &id, NULL),
	    -EPROTO);
	json_decref(v);
	/* An error answer without a code or a message still says so. */
	fake_say(&f, "{\"ok\":false}\n");
	ck_assert_int_eq(jc_ping(f.c, NULL), JC_EJOBD);
	ck_assert_int_eq(jc_last_error(f.c)->code, JC_E_OTHER);
	ck_assert_str_eq(jc_last_error(f.c)->name, "error");
	/* A code this library does not know keeps its name. */
	fake_say(&f, "{\"ok\":false,\"error\":{\"code\":\"brand_new\","
	    "\"message\":\"later\"}}\n");
	ck_assert_int_eq(jc_ping(f.c, NULL), JC_EJOBD);
	ck_assert_int_eq(jc_last_error(f.c)->code, JC_E_OTHER);
	ck_assert_str_eq(jc_last_error(f.c)->name, "brand_new");
	ck_assert_str_eq(jc_last_error(f.c)->message, "later");
	/* And after all that the answers are still in step. */
	fake_heard(&f);
	fake_say(&f, "{\"ok\":true,\"id\":9,\"duplicate\":true}\n");
	{
		bool dup = false;

		ck_assert_int_eq(jc_submit(f.c, "sleep", NULL, NULL, &id, &dup),
		    0);
		ck_assert_int_eq(id, 9);
		ck_assert(dup);
	}
	fake_close(&f);
}
END_TEST

/* No answer: the server closes before one, in the middle of one, sends
 * one past the bound, or sends nothing within the call's timeout. */
START_TEST(test_no_answer)
{
	struct fake f;
	char *line;
	size_t len;

	fake_open(&f);
	shutdown(f.fd, SHUT_WR);
	assert_local_err(f.c, jc_ping(f.c, NULL), -EPIPE);
	ck_assert_ptr_nonnull(strstr(jc_last_error(f.c)->message, "closed"));
	fake_close(&f);

	fake_open(&f);
	fake_say(&f, "{\"ok\":tr");
	shutdown(f.fd, SHUT_WR);
	assert_local_err(f.c, jc_ping(f.c, NULL), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(jc_last_error(f.c)->message, "middle"));
	assert_local_err(f.c, jc_ping(f.c, NULL), -EBADMSG);
	fake_close(&f);

	fake_open(&f);
	jc_set_line_max(f.c, 32);
	fake_say(&f, "{\"ok\":true,\"version\":\"0123456789abcdef\"}\n");
	assert_local_err(f.c, jc_ping(f.c, NULL), -EMSGSIZE);
	ck_assert_ptr_nonnull(strstr(jc_last_error(f.c)->message, "32"));
	fake_close(&f);

	/* The peer is gone altogether: the send fails, and so the call. */
	fake_open(&f);
	close(f.fd);
	f.fd = -1;
	assert_local_err(f.c, jc_ping(f.c, NULL), -EPIPE);
	fake_close(&f);

	fake_open(&f);
	jc_set_timeout(f.c, 0.05);
	assert_local_err(f.c, jc_ping(f.c, NULL), -ETIMEDOUT);
	/* A wait's own timeout adds to the call's. */
	assert_local_err(f.c, jc_wait(f.c, 1, 0.05, NULL), -ETIMEDOUT);
	ck_assert_ptr_nonnull(strstr(jc_last_error(f.c)->message, "0.1 s"));
	/* The late answer is the next line read. */
	fake_say(&f, "late\n");
	ck_assert_int_eq(jc_recv(f.c, TJ_TIMEOUT, &line, &len), 0);
	ck_assert_str_eq(line, "late");
	fake_close(&f);
}
END_TEST

/* The requests, byte for byte: op first, then the contract's order. */
START_TEST(test_request_lines)
{
	static const int64_t after[] = { 12, JC_MEMBER(0) };
	static const char *const states[] = { "failed", "cancelled", NULL };
	struct jc_submit_opts o = JC_SUBMIT_INIT;
	struct jc_list_opts lo = { .state = "queued", .states = states,
		.queue = "q", .schedule = "s", .unique_key = "u", .limit = 5 };
	json_t *args = json_pack("{s:f}", "seconds", 0.5), *r;
	char *text;

	o.queue = "q";
	o.name = "n";
	o.timeout = 30;
	o.max_attempts = 3;
	o.nowait = 0;
	o.run_at = 1800000000.25;
	o.delay = 0.3;
	o.priority = 0;
	o.retries = 2;
	o.retry_delay = 1;
	o.retry_max_delay = 60;
	o.retry_backoff = "fixed";
	o.after = after;
	o.nafter = 2;
	o.on_dependency_failure = "run";
	o.unique_key = "k";
	o.unique_for = 3600;
	o.idempotent = 1;
	r = jc_req_submit("sleep", args, &o);
	text = jc_json_text(r);
	ck_assert_str_eq(text, "{\"op\":\"submit\",\"kind\":\"sleep\","
	    "\"args\":{\"seconds\":0.5},\"queue\":\"q\",\"timeout\":30,"
	    "\"name\":\"n\",\"max_attempts\":3,\"nowait\":false,"
	    "\"run_at\":1800000000.25,\"delay\":0.3,\"priority\":0,"
	    "\"retries\":2,\"retry_delay\":1,\"retry_max_delay\":60,"
	    "\"retry_backoff\":\"fixed\",\"after\":[12,{\"member\":0}],"
	    "\"on_dependency_failure\":\"run\",\"unique_key\":\"k\","
	    "\"unique_for\":3600,\"idempotent\":true}");
	free(text);
	json_decref(r);
	/* An after entry of 0 is no job. */
	o.after = (const int64_t[]){ 0 };
	o.nafter = 1;
	ck_assert_ptr_null(jc_req_submit("sleep", args, &o));
	ck_assert_int_eq(errno, EINVAL);

	r = jc_req_list(&lo);
	text = jc_json_text(r);
	ck_assert_str_eq(text, "{\"op\":\"list\",\"state\":\"queued\","
	    "\"states\":[\"failed\",\"cancelled\"],\"queue\":\"q\","
	    "\"schedule\":\"s\",\"unique_key\":\"u\",\"limit\":5}");
	free(text);
	json_decref(r);
	r = jc_req_wait(0, 7, 2.5);
	text = jc_json_text(r);
	ck_assert_str_eq(text, "{\"op\":\"wait\",\"group\":7,\"timeout\":2.5}");
	free(text);
	json_decref(r);
	ck_assert_ptr_null(jc_req_wait(1, 7, 1));
	ck_assert_ptr_null(jc_req_cancel(0, 0, NULL));
	ck_assert_ptr_null(jc_req_prune(JC_UNSET, NULL));
	json_decref(args);
}
END_TEST

/* Call on the fake server with answer ready; what it sent must be want. */
#define FAKE_CALL(f, answer, call, want)                                     \
	do {                                                                 \
		fake_say((f), answer "\n");                                  \
		ck_assert_int_eq((call), 0);                                 \
		ck_assert_str_eq(fake_heard(f), want "\n");                  \
	} while (0)

/* The stage-two ops (jobd does not have them yet): the request each call
 * sends, and what it takes from the contract's answer. */
START_TEST(test_stage_two_calls)
{
	static const char *const states[] = { "failed", NULL };
	struct fake f;
	int64_t n = -1;
	json_t *v;

	fake_open(&f);
	FAKE_CALL(&f, "{\"ok\":true,\"queue\":\"q\",\"paused\":true}",
	    jc_pause(f.c, "q"), "{\"op\":\"pause\",\"queue\":\"q\"}");
	FAKE_CALL(&f, "{\"ok\":true,\"queue\":\"q\",\"paused\":false}",
	    jc_resume(f.c, "q"), "{\"op\":\"resume\",\"queue\":\"q\"}");
	FAKE_CALL(&f, "{\"ok\":true}", jc_retry(f.c, 12),
	    "{\"op\":\"retry\",\"id\":12}");
	FAKE_CALL(&f, "{\"ok\":true,\"deleted\":4}", jc_prune(f.c, 1700000000,
	    states, &n), "{\"op\":\"prune\",\"before\":1700000000,"
	    "\"states\":[\"failed\"]}");
	ck_assert_int_eq(n, 4);
	FAKE_CALL(&f, "{\"ok\":true,\"schedules\":[{\"name\":\"nightly\"}]}",
	    jc_schedules(f.c, &v), "{\"op\":\"schedules\"}");
	ck_assert_str_eq(job_str(json_array_get(v, 0), "name"), "nightly");
	json_decref(v);
	fake_say(&f, "{\"ok\":false,\"error\":{\"code\":\"not_retryable\","
	    "\"message\":\"job 12 is running\"}}\n");
	assert_jobd_err(f.c, jc_retry(f.c, 12), JC_E_NOT_RETRYABLE);
	fake_say(&f, "{\"ok\":false,\"error\":{\"code\":\"forbidden\","
	    "\"message\":\"root only\"}}\n");
	assert_jobd_err(f.c, jc_pause(f.c, "q"), JC_E_FORBIDDEN);
	fake_say(&f, "{\"ok\":true}\n");
	assert_local_err(f.c, jc_prune(f.c, 1, NULL, NULL), -EPROTO);
	fake_close(&f);
}
END_TEST

/* watch: the ok, then events of each type, then jobd's end of the
 * stream; a line that is no event is -EPROTO. */
START_TEST(test_watch)
{
	struct jc_event ev;
	struct fake f;

	fake_open(&f);
	FAKE_CALL(&f, "{\"ok\":true}", jc_watch(f.c, "q", 0, 3),
	    "{\"op\":\"watch\",\"queue\":\"q\",\"group\":3}");
	fake_say(&f, "{\"event\":\"job\",\"job\":{\"id\":5,\"state\":\"running\"}}\n"
	    "{\"event\":\"dropped\",\"count\":17}\n"
	    "{\"event\":\"later\",\"x\":1}\n"
	    "{\"x\":1}\n"
	    "{\"ok\":false,\"error\":{\"code\":\"shutting_down\","
	    "\"message\":\"bye\"}}\n");
	ck_assert_int_eq(jc_watch_next(f.c, TJ_TIMEOUT, &ev), 0);
	ck_assert_int_eq(ev.type, JC_EVENT_JOB);
	ck_assert_str_eq(job_str(ev.job, "state"), "running");
	jc_event_clear(&ev);
	ck_assert_ptr_null(ev.raw);
	ck_assert_int_eq(jc_watch_next(f.c, TJ_TIMEOUT, &ev), 0);
	ck_assert_int_eq(ev.type, JC_EVENT_DROPPED);
	ck_assert_int_eq(ev.dropped, 17);
	jc_event_clear(&ev);
	ck_assert_int_eq(jc_watch_next(f.c, TJ_TIMEOUT, &ev), 0);
	ck_assert_int_eq(ev.type, JC_EVENT_OTHER);
	ck_assert_str_eq(job_str(ev.raw, "event"), "later");
	jc_event_clear(&ev);
	assert_local_err(f.c, jc_watch_next(f.c, TJ_TIMEOUT, &ev), -EPROTO);
	ck_assert_ptr_null(ev.raw);
	assert_jobd_err(f.c, jc_watch_next(f.c, TJ_TIMEOUT, &ev),
	    JC_E_SHUTTING_DOWN);
	assert_local_err(f.c, jc_watch_next(f.c, 0.01, &ev), -ETIMEDOUT);
	shutdown(f.fd, SHUT_WR);
	assert_local_err(f.c, jc_watch_next(f.c, TJ_TIMEOUT, &ev), -EPIPE);
	fake_close(&f);
}
END_TEST

/* ---- the example -------------------------------------------------------- */

/* docs/examples/client.c against jobd: it exits 0 and prints what the
 * docs say it prints; without a jobd it says why and exits 77. */
static int
run_example(const char *sock, char *out, size_t outlen)
{
	const char *bin = tj_bin("example_client");
	int p[2], st;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	ck_assert_int_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		setenv("JOBD_SOCKET", sock, 1);
		execl(bin, bin, (char *)NULL);
		_exit(127);
	}
	ck_assert_int_gt(pid, 0);
	close(p[1]);
	while (got < outlen - 1 && (n = read(p[0], out + got, outlen - 1 -
	    got)) > 0)
		got += n;
	out[got] = '\0';
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

START_TEST(test_example)
{
	char out[4096];

	ck_assert_int_eq(run_example(tj_path("none.sock"), out, sizeof(out)),
	    77);
	ck_assert_ptr_nonnull(strstr(out, "no such socket"));
	jc_close(api_start(""));
	ck_assert_msg(run_example(tj_path("jobd.sock"), out, sizeof(out)) == 0,
	    "example: %s", out);
	ck_assert_msg(strstr(out, "job 1 succeeded: {\"slept\":0.1}") != NULL &&
	    strstr(out, "group 1: succeeded failed succeeded") != NULL &&
	    strstr(out, "not_found: ") != NULL, "example printed:\n%s", out);
}
END_TEST

static Suite *
client_api_suite(void)
{
	Suite *s = suite_create("client_api");
	TCase *tc = tj_tcase("calls", 60), *tf = tj_tcase("fake", 60);

	tcase_add_test(tc, test_submit_get_wait);
	tcase_add_test(tc, test_group_list_stats);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_pipelined_submits);
	tcase_add_test(tc, test_error_codes);
	tcase_add_test(tc, test_local_einval);
	tcase_add_test(tc, test_line_too_long);
	tcase_add_test(tc, test_too_many_connections);
	tcase_add_test(tc, test_shutting_down);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_killed_mid_call);
	tcase_add_test(tc, test_local_timeout);
	tcase_add_test(tc, test_example);
	suite_add_tcase(s, tc);
	tcase_add_test(tf, test_code_table);
	tcase_add_test(tf, test_bad_replies);
	tcase_add_test(tf, test_no_answer);
	tcase_add_test(tf, test_request_lines);
	tcase_add_test(tf, test_stage_two_calls);
	tcase_add_test(tf, test_watch);
	suite_add_tcase(s, tf);
	return s;
}

int
main(void)
{
	return tu_main(client_api_suite());
}
