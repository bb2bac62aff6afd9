/*
 * test_jobd_ops.c — the real jobd, every op of the wire protocol and every
 * error code it can give (docs/PROTOCOL.md, CONTRACT.md): ping, submit and
 * its defaults and errors, submit_group in both modes, get, wait (timeouts
 * and polls), cancel (queued, running, ended, groups), list (filters, order,
 * default limit), stats, unknown ops, job timeouts and failures, and
 * shutting_down during a stop.
 *
 * Each test starts its own jobd on a fresh directory (tu_jobd.h) with the
 * queues below, and talks to it over the socket.
 */
#include <math.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tu_jobd.h"

/* default: four workers; q2: a short queue timeout; solo: one worker, so
 * that a second job stays queued. */
#define OPS_QUEUES                                                           \
	"[queue.default]\nworkers = 4\ncapacity = 100\ntimeout = 300\n"      \
	"[queue.q2]\nworkers = 2\ncapacity = 50\ntimeout = 0.5\n"            \
	"[queue.solo]\nworkers = 1\ncapacity = 10\ntimeout = 0\n"

static struct tj_conn *
start(void)
{
	tj_start(TJ_DAEMON OPS_QUEUES);
	return tj_connect();
}

/* ---- ping and tags ------------------------------------------------------- */

START_TEST(test_ping_and_tags)
{
	struct tj_conn *c = start();
	json_t *a, *want;

	a = tj_req(c, "{'op':'ping'}");
	tj_assert_ok(a);
	ck_assert_str_eq(tj_str(a, "version"), JOBD_VERSION);
	ck_assert_ptr_null(tj_at(a, "tag"));

	a = tj_req(c, "{'op':'ping','tag':17}");
	ck_assert_int_eq(tj_int(a, "tag"), 17);
	a = tj_req(c, "{'tag':'x-1','op':'ping'}");
	ck_assert_str_eq(tj_str(a, "tag"), "x-1");
	a = tj_req(c, "{'op':'ping','tag':{'req':41,'from':['a',null,1.5]}}");
	want = json_loads("{\"req\":41,\"from\":[\"a\",null,1.5]}", 0, NULL);
	ck_assert_msg(json_equal(tj_at(a, "tag"), want), "tag %s",
	    tj_dump(a));
	json_decref(want);
	a = tj_req(c, "{'op':'ping','tag':null}");
	ck_assert(tj_null(a, "tag"));
	/* Errors echo the tag too. */
	a = tj_req(c, "{'op':'get','tag':'x1'}");
	tj_assert_err(a, "bad_request");
	ck_assert_str_eq(tj_str(a, "tag"), "x1");
	ck_assert_ptr_nonnull(tj_str(a, "error.message"));
}
END_TEST

/* ---- submit -------------------------------------------------------------- */

START_TEST(test_submit_defaults)
{
	struct tj_conn *c = start();
	double t0 = tu_wall();
	json_int_t id, id2;
	json_t *job;

	id = tj_submit(c, "'kind':'sleep','args':{'seconds':0.05}");
	ck_assert_int_ge(id, 1);
	job = tj_job(c, id);
	ck_assert_int_eq(tj_int(job, "id"), id);
	ck_assert_msg(!strcmp(tj_str(job, "state"), "queued") ||
	    !strcmp(tj_str(job, "state"), "running"), "%s", tj_dump(job));
	ck_assert(tj_null(job, "finished_at"));

	job = tj_wait(c, id, 5);
	ck_assert_str_eq(tj_str(job, "state"), "succeeded");
	ck_assert_str_eq(tj_str(job, "queue"), "default");
	ck_assert_str_eq(tj_str(job, "kind"), "sleep");
	ck_assert_double_eq(tj_num(job, "args.seconds"), 0.05);
	ck_assert_int_eq(json_object_size(tj_at(job, "args")), 1);
	ck_assert(tj_null(job, "name"));
	ck_assert_int_eq(tj_int(job, "attempts"), 1);
	ck_assert_int_eq(tj_int(job, "max_attempts"), 3);
	ck_assert_double_eq(tj_num(job, "timeout"), 300);  /* the queue's */
	ck_assert(tj_null(job, "error"));
	ck_assert(tj_null(job, "cancel_reason"));
	ck_assert(tj_null(job, "group"));
	ck_assert_double_eq_tol(tj_num(job, "result.slept"), 0.05, 1e-9);
	/* Times: real Unix seconds, in order, the sleep in between. */
	ck_assert_msg(fabs(tj_num(job, "created_at") - t0) < 5, "%s",
	    tj_dump(job));
	ck_assert(tj_num(job, "started_at") >= tj_num(job, "created_at"));
	tj_assert_time(tj_num(job, "finished_at") - tj_num(job, "started_at"),
	    0.05, 1.0);
	ck_assert_msg(tj_num(job, "created_at") != floor(tj_num(job,
	    "created_at")) || tj_num(job, "started_at") != floor(tj_num(job,
	    "started_at")), "times without fractions: %s", tj_dump(job));

	id2 = tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
	ck_assert_int_gt(id2, id);
}
END_TEST

START_TEST(test_submit_fields)
{
	struct tj_conn *c = start();
	json_int_t id;
	json_t *job;

	id = tj_submit(c, "'kind':'sleep','args':{'seconds':0},'queue':'q2',"
	    "'timeout':7.5,'name':'label \\u00e9','max_attempts':5,"
	    "'nowait':true,'future_field':[1]");
	job = tj_wait(c, id, 5);
	ck_assert_str_eq(tj_str(job, "state"), "succeeded");
	ck_assert_str_eq(tj_str(job, "queue"), "q2");
	ck_assert_double_eq(tj_num(job, "timeout"), 7.5);
	ck_assert_str_eq(tj_str(job, "name"), "label \xc3\xa9");
	ck_assert_int_eq(tj_int(job, "max_attempts"), 5);

	/* A queue's own default timeout; 0 = none; null = absent. */
	job = tj_job(c, tj_submit(c, "'kind':'sleep','args':{'seconds':0},"
	    "'queue':'q2'"));
	ck_assert_double_eq(tj_num(job, "timeout"), 0.5);
	job = tj_job(c, tj_submit(c, "'kind':'sleep','args':{'seconds':0},"
	    "'timeout':0"));
	ck_assert_double_eq(tj_num(job, "timeout"), 0);
	job = tj_job(c, tj_submit(c, "'kind':'sleep','args':{'seconds':0},"
	    "'timeout':null,'name':null,'queue':null"));
	ck_assert_double_eq(tj_num(job, "timeout"), 300);
	ck_assert_str_eq(tj_str(job, "queue"), "default");
	job = tj_job(c, tj_submit(c, "'kind':'sleep','args':{'seconds':0},"
	    "'queue':'solo'"));
	ck_assert_double_eq(tj_num(job, "timeout"), 0);
}
END_TEST

/* Each request (its fields after "op":"submit") and the error it gets;
 * every one carries a tag that must come back. */
static const struct {
	const char *fields, *code;
} submit_errors[] = {
	{ "'kind':'nope','args':{}", "unknown_kind" },
	{ "'kind':'SLEEP','args':{'seconds':0}", "unknown_kind" },
	{ "'kind':'sleep','args':{'seconds':0},'queue':'nope'",
	  "unknown_queue" },
	{ "'args':{'seconds':0}", "bad_request" },
	{ "'kind':'sleep'", "bad_request" },
	{ "'kind':'sleep','args':null", "bad_request" },
	{ "'kind':null,'args':{'seconds':0}", "bad_request" },
	{ "'kind':'sleep','args':[1]", "bad_request" },
	{ "'kind':'sleep','args':'seconds=1'", "bad_request" },
	{ "'kind':5,'args':{'seconds':0}", "bad_request" },
	{ "'kind':'sleep','args':{}", "bad_request" },
	{ "'kind':'sleep','args':{'seconds':'1'}", "bad_request" },
	{ "'kind':'sleep','args':{'seconds':-1}", "bad_request" },
	{ "'kind':'sleep','args':{'seconds':1,'fail':5}", "bad_request" },
	{ "'kind':'sleep','args':{'seconds':0},'timeout':'1'", "bad_request" },
	{ "'kind':'sleep','args':{'seconds':0},'timeout':-1", "bad_request" },
	{ "'kind':'sleep','args':{'seconds':0},'timeout':1e10",
	  "bad_request" },
	{ "'kind':'sleep','args':{'seconds':0},'timeout':true",
	  "bad_request" },
	{ "'kind':'sleep','args':{'seconds':0},'nowait':'yes'",
	  "bad_request" },
	{ "'kind':'sleep','args':{'seconds':0},'nowait':1", "bad_request" },
	{ "'kind':'sleep','args':{'seconds':0},'name':5", "bad_request" },
	{ "'kind':'sleep','args':{'seconds':0},'queue':5", "bad_request" },
	{ "'kind':'sleep','args':{'seconds':0},'max_attempts':0",
	  "bad_request" },
	{ "'kind':'sleep','args':{'seconds':0},'max_attempts':1001",
	  "bad_request" },
	{ "'kind':'sleep','args':{'seconds':0},'max_attempts':2.0",
	  "bad_request" },
};

START_TEST(test_submit_errors)
{
	struct tj_conn *c = start();
	char name[300];
	json_t *a;

	for (size_t i = 0; i < sizeof(submit_errors) /
	    sizeof(submit_errors[0]); i++) {
		a = tj_req(c, "{'op':'submit',%s,'tag':%zu}",
		    submit_errors[i].fields, i);
		ck_assert_msg(tj_code(a) != NULL &&
		    strcmp(tj_code(a), submit_errors[i].code) == 0,
		    "{%s}: expected %s, got %s", submit_errors[i].fields,
		    submit_errors[i].code, tj_dump(a));
		ck_assert_int_eq(tj_int(a, "tag"), i);
		ck_assert_ptr_nonnull(tj_str(a, "error.message"));
	}
	/* name, kind and queue are at most 256 bytes. */
	memset(name, 'n', 257);
	name[257] = '\0';
	a = tj_req(c, "{'op':'submit','kind':'sleep','args':{'seconds':0},"
	    "'name':'%s','tag':'long'}", name);
	tj_assert_err(a, "bad_request");
	ck_assert_str_eq(tj_str(a, "tag"), "long");
	name[256] = '\0';
	tj_submit(c, "'kind':'sleep','args':{'seconds':0},'name':'%s'", name);

	/* Not JSON, not an object: no tag to echo, the connection stays. */
	a = tj_req(c, "{'op':'submit','kind':'sleep'");
	tj_assert_err(a, "bad_request");
	ck_assert_ptr_null(tj_at(a, "tag"));
	a = tj_req(c, "[{'op':'submit','kind':'sleep','args':{'seconds':0}}]");
	tj_assert_err(a, "bad_request");
	/* Nothing of the above made a job: the only job is the long name. */
	a = tj_req(c, "{'op':'list'}");
	ck_assert_int_eq(json_array_size(tj_at(a, "jobs")), 1);
	tj_assert_ok(tj_req(c, "{'op':'ping'}"));
}
END_TEST

/* ---- submit_group -------------------------------------------------------- */

START_TEST(test_group_all)
{
	struct tj_conn *c = start();
	json_int_t g, id0;
	json_t *a;

	a = tj_req(c, "{'op':'submit_group','mode':'all','tag':9,'jobs':["
	    "{'kind':'sleep','args':{'seconds':0.05}},"
	    "{'kind':'sleep','args':{'seconds':0.1,'fail':'boom'}},"
	    "{'kind':'sleep','args':{'seconds':0.3},'name':'third'}]}");
	tj_assert_ok(a);
	ck_assert_int_eq(tj_int(a, "tag"), 9);
	g = tj_int(a, "group");
	ck_assert_int_ge(g, 1);
	ck_assert_int_eq(json_array_size(tj_at(a, "ids")), 3);
	id0 = tj_int(a, "ids.0");
	ck_assert_int_eq(tj_int(a, "ids.1"), id0 + 1);
	ck_assert_int_eq(tj_int(a, "ids.2"), id0 + 2);

	a = tj_req(c, "{'op':'wait','group':%lld,'timeout':10}", (long long)g);
	tj_assert_ok(a);
	ck_assert_int_eq(json_array_size(tj_at(a, "jobs")), 3);
	for (int i = 0; i < 3; i++) {
		char p[32];

		snprintf(p, sizeof(p), "jobs.%d.id", i);
		ck_assert_int_eq(tj_int(a, p), id0 + i);
		snprintf(p, sizeof(p), "jobs.%d.group", i);
		ck_assert_int_eq(tj_int(a, p), g);
	}
	ck_assert_str_eq(tj_str(a, "jobs.0.state"), "succeeded");
	ck_assert_str_eq(tj_str(a, "jobs.1.state"), "failed");
	ck_assert_ptr_nonnull(strstr(tj_str(a, "jobs.1.error"), "boom"));
	/* mode all: the failure does not touch the others. */
	ck_assert_str_eq(tj_str(a, "jobs.2.state"), "succeeded");
	ck_assert_str_eq(tj_str(a, "jobs.2.name"), "third");
	ck_assert(tj_null(a, "jobs.2.cancel_reason"));

	/* mode defaults to all. */
	a = tj_req(c, "{'op':'submit_group','jobs':["
	    "{'kind':'sleep','args':{'seconds':0,'fail':'x'}},"
	    "{'kind':'sleep','args':{'seconds':0.2}}]}");
	tj_assert_ok(a);
	ck_assert_str_eq(tj_str(tj_wait(c, tj_int(a, "ids.1"), 10), "state"),
	    "succeeded");
}
END_TEST

START_TEST(test_group_fail_fast_running)
{
	struct tj_conn *c = start();
	json_int_t g, id0;
	char want[128];
	double t0 = tj_now();
	json_t *a;

	a = tj_req(c, "{'op':'submit_group','mode':'fail_fast','jobs':["
	    "{'kind':'sleep','args':{'seconds':0.2,'fail':'boom'}},"
	    "{'kind':'sleep','args':{'seconds':30}}]}");
	tj_assert_ok(a);
	g = tj_int(a, "group");
	id0 = tj_int(a, "ids.0");
	a = tj_req(c, "{'op':'wait','group':%lld,'timeout':10}", (long long)g);
	tj_assert_ok(a);
	tj_assert_time(tj_now() - t0, 0.2, 1.5);
	ck_assert_str_eq(tj_str(a, "jobs.0.state"), "failed");
	ck_assert_str_eq(tj_str(a, "jobs.0.error"), "boom");
	ck_assert_str_eq(tj_str(a, "jobs.1.state"), "cancelled");
	snprintf(want, sizeof(want), "fail_fast: job %lld of group %lld "
	    "ended failed (boom)", (long long)id0, (long long)g);
	ck_assert_str_eq(tj_str(a, "jobs.1.cancel_reason"), want);
	/* It was running, and was stopped (not left to its 30 s). */
	ck_assert(!tj_null(a, "jobs.1.started_at"));
	ck_assert_int_eq(tj_int(a, "jobs.1.attempts"), 1);
	ck_assert(tj_num(a, "jobs.1.finished_at") >=
	    tj_num(a, "jobs.0.finished_at"));
}
END_TEST

START_TEST(test_group_fail_fast_queued_and_timeout)
{
	struct tj_conn *c = start();
	json_int_t g, id0;
	char want[128];
	json_t *a;

	/* One worker: the two others are still queued when the first
	 * fails, and never start. */
	a = tj_req(c, "{'op':'submit_group','mode':'fail_fast','jobs':["
	    "{'kind':'sleep','args':{'seconds':0.1,'fail':'x'},'queue':'solo'},"
	    "{'kind':'sleep','args':{'seconds':5},'queue':'solo'},"
	    "{'kind':'sleep','args':{'seconds':5},'queue':'solo'}]}");
	tj_assert_ok(a);
	g = tj_int(a, "group");
	id0 = tj_int(a, "ids.0");
	a = tj_req(c, "{'op':'wait','group':%lld,'timeout':10}", (long long)g);
	tj_assert_ok(a);
	snprintf(want, sizeof(want), "fail_fast: job %lld of group %lld "
	    "ended failed (x)", (long long)id0, (long long)g);
	for (int i = 1; i < 3; i++) {
		json_t *job = tj_at(a, i == 1 ? "jobs.1" : "jobs.2");

		ck_assert_str_eq(tj_str(job, "state"), "cancelled");
		ck_assert_str_eq(tj_str(job, "cancel_reason"), want);
		ck_assert(tj_null(job, "started_at"));
		ck_assert_int_eq(tj_int(job, "attempts"), 0);
	}

	/* timed_out trips it too. */
	a = tj_req(c, "{'op':'submit_group','mode':'fail_fast','jobs':["
	    "{'kind':'sleep','args':{'seconds':5},'timeout':0.1},"
	    "{'kind':'sleep','args':{'seconds':30}}]}");
	tj_assert_ok(a);
	g = tj_int(a, "group");
	id0 = tj_int(a, "ids.0");
	a = tj_req(c, "{'op':'wait','group':%lld,'timeout':10}", (long long)g);
	tj_assert_ok(a);
	ck_assert_str_eq(tj_str(a, "jobs.0.state"), "timed_out");
	ck_assert_str_eq(tj_str(a, "jobs.1.state"), "cancelled");
	snprintf(want, sizeof(want), "fail_fast: job %lld of group %lld "
	    "ended timed_out", (long long)id0, (long long)g);
	ck_assert_msg(strncmp(tj_str(a, "jobs.1.cancel_reason"), want,
	    strlen(want)) == 0, "reason: %s", tj_dump(a));
}
END_TEST

START_TEST(test_group_errors)
{
	struct tj_conn *c = start();
	char jobs[4096];
	size_t n = 0;
	json_t *a;

	tj_assert_err(tj_req(c, "{'op':'submit_group','jobs':[]}"),
	    "bad_request");
	tj_assert_err(tj_req(c, "{'op':'submit_group'}"), "bad_request");
	tj_assert_err(tj_req(c, "{'op':'submit_group','jobs':{}}"),
	    "bad_request");
	tj_assert_err(tj_req(c, "{'op':'submit_group','mode':'bogus','jobs':"
	    "[{'kind':'sleep','args':{'seconds':0}}]}"), "bad_request");
	a = tj_req(c, "{'op':'submit_group','jobs':["
	    "{'kind':'sleep','args':{'seconds':0}},"
	    "{'kind':'sleep','args':{'seconds':0},'timeout':'x'}],'tag':1}");
	tj_assert_err(a, "bad_request");
	ck_assert_int_eq(tj_int(a, "tag"), 1);
	ck_assert_msg(strstr(tj_str(a, "error.message"), "jobs[1]") != NULL,
	    "message does not name jobs[1]: %s", tj_dump(a));
	tj_assert_err(tj_req(c, "{'op':'submit_group','jobs':["
	    "{'kind':'sleep','args':{'seconds':0}},{'kind':'nope','args':{}}]}"),
	    "unknown_kind");
	tj_assert_err(tj_req(c, "{'op':'submit_group','jobs':["
	    "{'kind':'sleep','args':{'seconds':0},'queue':'nope'}]}"),
	    "unknown_queue");

	/* solo holds 10: a nowait group of 11 does not fit, and nothing of
	 * it is submitted; a blocking one is accepted whole. */
	for (int i = 0; i < 12; i++)
		n += snprintf(jobs + n, sizeof(jobs) - n, "%s{'kind':'sleep',"
		    "'args':{'seconds':0},'queue':'solo'}", i ? "," : "");
	a = tj_req(c, "{'op':'submit_group','nowait':true,'jobs':[%s]}", jobs);
	tj_assert_err(a, "queue_full");
	a = tj_req(c, "{'op':'list'}");
	tj_assert_ok(a);
	ck_assert_int_eq(json_array_size(tj_at(a, "jobs")), 0);
	a = tj_req(c, "{'op':'submit_group','jobs':[%s]}", jobs);
	tj_assert_ok(a);
	ck_assert_int_eq(json_array_size(tj_at(a, "ids")), 12);
	a = tj_req(c, "{'op':'wait','group':%lld,'timeout':10}",
	    (long long)tj_int(a, "group"));
	tj_assert_ok(a);
	for (size_t i = 0; i < 12; i++)
		ck_assert_str_eq(json_string_value(json_object_get(
		    json_array_get(tj_at(a, "jobs"), i), "state")), "succeeded");
}
END_TEST

/* ---- get and wait -------------------------------------------------------- */

START_TEST(test_get)
{
	struct tj_conn *c = start();
	json_t *a;

	a = tj_req(c, "{'op':'get','id':999999,'tag':'g'}");
	tj_assert_err(a, "not_found");
	ck_assert_str_eq(tj_str(a, "tag"), "g");
	tj_assert_err(tj_req(c, "{'op':'get','id':9223372036854775807}"),
	    "not_found");
	tj_assert_err(tj_req(c, "{'op':'get','id':0}"), "bad_request");
	tj_assert_err(tj_req(c, "{'op':'get','id':-1}"), "bad_request");
	tj_assert_err(tj_req(c, "{'op':'get','id':'1'}"), "bad_request");
	tj_assert_err(tj_req(c, "{'op':'get','id':1.0}"), "bad_request");
	tj_assert_err(tj_req(c, "{'op':'get','id':null}"), "bad_request");
	tj_assert_err(tj_req(c, "{'op':'get'}"), "bad_request");
	ck_assert_int_eq(tj_int(tj_job(c, tj_submit(c, "'kind':'sleep',"
	    "'args':{'seconds':0}")), "id"), 1);
}
END_TEST

START_TEST(test_wait)
{
	struct tj_conn *c = start();
	json_int_t id, g;
	double t0;
	json_t *a;

	id = tj_submit(c, "'kind':'sleep','args':{'seconds':1}");
	t0 = tj_now();
	a = tj_req(c, "{'op':'wait','id':%lld,'timeout':0.2,'tag':3}",
	    (long long)id);
	tj_assert_err(a, "timeout");
	ck_assert_int_eq(tj_int(a, "tag"), 3);
	tj_assert_time(tj_now() - t0, 0.2, 0.5);
	/* timeout 0 polls. */
	t0 = tj_now();
	tj_assert_err(tj_req(c, "{'op':'wait','id':%lld,'timeout':0}",
	    (long long)id), "timeout");
	tj_assert_time(tj_now() - t0, 0, 0.2);
	/* The job was not affected; no timeout waits to its end. */
	a = tj_req(c, "{'op':'wait','id':%lld}", (long long)id);
	tj_assert_ok(a);
	ck_assert_str_eq(tj_str(a, "job.state"), "succeeded");
	/* On an ended job, even a poll answers with the job. */
	a = tj_req(c, "{'op':'wait','id':%lld,'timeout':0}", (long long)id);
	tj_assert_ok(a);
	ck_assert_str_eq(tj_str(a, "job.state"), "succeeded");

	a = tj_req(c, "{'op':'submit_group','jobs':["
	    "{'kind':'sleep','args':{'seconds':0}},"
	    "{'kind':'sleep','args':{'seconds':0.5}}]}");
	g = tj_int(a, "group");
	tj_assert_err(tj_req(c, "{'op':'wait','group':%lld,'timeout':0}",
	    (long long)g), "timeout");
	a = tj_req(c, "{'op':'wait','group':%lld}", (long long)g);
	tj_assert_ok(a);
	ck_assert_str_eq(tj_str(a, "jobs.1.state"), "succeeded");

	tj_assert_err(tj_req(c, "{'op':'wait','id':424242,'timeout':1}"),
	    "not_found");
	tj_assert_err(tj_req(c, "{'op':'wait','group':424242,'timeout':1}"),
	    "not_found");
	tj_assert_err(tj_req(c, "{'op':'wait','id':%lld,'group':%lld}",
	    (long long)id, (long long)g), "bad_request");
	tj_assert_err(tj_req(c, "{'op':'wait','timeout':1}"), "bad_request");
	tj_assert_err(tj_req(c, "{'op':'wait','id':%lld,'timeout':-1}",
	    (long long)id), "bad_request");
	tj_assert_err(tj_req(c, "{'op':'wait','id':%lld,'timeout':'1'}",
	    (long long)id), "bad_request");
}
END_TEST

/* A wait holds the answers behind it on its connection. */
START_TEST(test_wait_holds_later_answers)
{
	struct tj_conn *c = start();
	json_int_t id;
	json_t *a;

	id = tj_submit(c, "'kind':'sleep','args':{'seconds':0.4}");
	tj_send(c, "{'op':'wait','id':%lld,'tag':'w'}", (long long)id);
	tj_send(c, "{'op':'ping','tag':'p'}");
	ck_assert_ptr_null(tj_line(c, 0.2));
	a = tj_recv(c);
	ck_assert_str_eq(tj_str(a, "tag"), "w");
	ck_assert_str_eq(tj_str(a, "job.state"), "succeeded");
	ck_assert_str_eq(tj_str(tj_recv(c), "tag"), "p");
}
END_TEST

/* ---- cancel -------------------------------------------------------------- */

START_TEST(test_cancel_queued)
{
	struct tj_conn *c = start();
	json_int_t run, queued;
	json_t *a, *job;

	run = tj_submit(c, "'kind':'sleep','args':{'seconds':30},"
	    "'queue':'solo'");
	queued = tj_submit(c, "'kind':'sleep','args':{'seconds':0.1},"
	    "'queue':'solo'");
	tj_wait_state(c, run, "running", TJ_TIMEOUT);
	a = tj_req(c, "{'op':'cancel','id':%lld,'reason':'r1','tag':7}",
	    (long long)queued);
	tj_assert_ok(a);
	ck_assert_str_eq(tj_str(a, "state"), "cancelled");
	ck_assert_int_eq(tj_int(a, "tag"), 7);
	job = tj_job(c, queued);
	ck_assert_str_eq(tj_str(job, "state"), "cancelled");
	ck_assert_str_eq(tj_str(job, "cancel_reason"), "r1");
	ck_assert(tj_null(job, "started_at"));
	ck_assert(!tj_null(job, "finished_at"));
	ck_assert_int_eq(tj_int(job, "attempts"), 0);

	/* Free the worker: the cancelled job must still never start. */
	tj_assert_ok(tj_req(c, "{'op':'cancel','id':%lld}", (long long)run));
	tj_sleep(0.3);
	job = tj_job(c, queued);
	ck_assert_str_eq(tj_str(job, "state"), "cancelled");
	ck_assert(tj_null(job, "started_at"));
	tj_assert_err(tj_req(c, "{'op':'cancel','id':%lld}",
	    (long long)queued), "not_cancellable");
}
END_TEST

START_TEST(test_cancel_running)
{
	struct tj_conn *c = start();
	json_int_t id, done;
	double t0;
	json_t *a, *job;

	id = tj_submit(c, "'kind':'sleep','args':{'seconds':30}");
	tj_wait_state(c, id, "running", TJ_TIMEOUT);
	/* The cancel answers once the job has stopped: a get pipelined
	 * behind it sees it ended. */
	t0 = tj_now();
	tj_send(c, "{'op':'cancel','id':%lld,'reason':'stop it'}",
	    (long long)id);
	tj_send(c, "{'op':'get','id':%lld}", (long long)id);
	a = tj_recv(c);
	tj_assert_ok(a);
	ck_assert_str_eq(tj_str(a, "state"), "cancelled");
	tj_assert_time(tj_now() - t0, 0, 1.0);
	a = tj_recv(c);
	job = tj_at(a, "job");
	ck_assert_str_eq(tj_str(job, "state"), "cancelled");
	ck_assert_str_eq(tj_str(job, "cancel_reason"), "stop it");
	ck_assert(!tj_null(job, "started_at"));
	ck_assert(!tj_null(job, "finished_at"));
	ck_assert_int_eq(tj_int(job, "attempts"), 1);

	a = tj_req(c, "{'op':'cancel','id':%lld,'tag':1}", (long long)id);
	tj_assert_err(a, "not_cancellable");
	ck_assert_int_eq(tj_int(a, "tag"), 1);
	done = tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
	tj_wait(c, done, 5);
	tj_assert_err(tj_req(c, "{'op':'cancel','id':%lld}", (long long)done),
	    "not_cancellable");
	tj_assert_err(tj_req(c, "{'op':'cancel','id':424242}"), "not_found");
	tj_assert_err(tj_req(c, "{'op':'cancel','group':424242}"),
	    "not_found");
	tj_assert_err(tj_req(c, "{'op':'cancel'}"), "bad_request");
	tj_assert_err(tj_req(c, "{'op':'cancel','id':%lld,'group':1}",
	    (long long)done), "bad_request");
	tj_assert_err(tj_req(c, "{'op':'cancel','id':%lld,'reason':5}",
	    (long long)done), "bad_request");
}
END_TEST

START_TEST(test_cancel_group)
{
	struct tj_conn *c = start();
	json_int_t g, id0;
	json_t *a;

	a = tj_req(c, "{'op':'submit_group','jobs':["
	    "{'kind':'sleep','args':{'seconds':30}},"
	    "{'kind':'sleep','args':{'seconds':30}},"
	    "{'kind':'sleep','args':{'seconds':0}}]}");
	g = tj_int(a, "group");
	id0 = tj_int(a, "ids.0");
	tj_wait(c, id0 + 2, 5);
	tj_wait_state(c, id0 + 1, "running", TJ_TIMEOUT);
	a = tj_req(c, "{'op':'cancel','group':%lld,'reason':'all of it'}",
	    (long long)g);
	tj_assert_ok(a);
	ck_assert_str_eq(tj_str(a, "state"), "cancelled");
	/* The ids it cancelled: not the one that had ended. */
	ck_assert_int_eq(json_array_size(tj_at(a, "ids")), 2);
	ck_assert_int_eq(tj_int(a, "ids.0"), id0);
	ck_assert_int_eq(tj_int(a, "ids.1"), id0 + 1);
	a = tj_req(c, "{'op':'wait','group':%lld,'timeout':0}", (long long)g);
	tj_assert_ok(a);
	ck_assert_str_eq(tj_str(a, "jobs.0.state"), "cancelled");
	ck_assert_str_eq(tj_str(a, "jobs.0.cancel_reason"), "all of it");
	ck_assert_str_eq(tj_str(a, "jobs.1.state"), "cancelled");
	ck_assert_str_eq(tj_str(a, "jobs.2.state"), "succeeded");
	tj_assert_err(tj_req(c, "{'op':'cancel','group':%lld}", (long long)g),
	    "not_cancellable");
}
END_TEST

/* ---- list ---------------------------------------------------------------- */

/* The ids of a list answer, newest first, into ids; returns how many. */
static size_t
list_ids(json_t *a, json_int_t *ids, size_t max)
{
	json_t *jobs = tj_at(a, "jobs");
	size_t n = json_array_size(jobs);

	tj_assert_ok(a);
	ck_assert_msg(json_is_array(jobs), "%s", tj_dump(a));
	for (size_t i = 0; i < n && i < max; i++) {
		ids[i] = json_integer_value(json_object_get(
		    json_array_get(jobs, i), "id"));
		if (i > 0)
			ck_assert_msg(ids[i] < ids[i - 1], "not newest first: "
			    "%s", tj_dump(a));
	}
	return n;
}

START_TEST(test_list)
{
	struct tj_conn *c = start();
	json_int_t ok[5], run, queued, ids[200];
	json_t *a;

	for (int i = 0; i < 5; i++)
		ok[i] = tj_submit(c, "'kind':'sleep','args':{'seconds':0},"
		    "'name':'n%d'", i);
	tj_wait(c, ok[4], 5);
	tj_wait_idle(c, TJ_TIMEOUT);
	run = tj_submit(c, "'kind':'sleep','args':{'seconds':30},"
	    "'queue':'solo'");
	queued = tj_submit(c, "'kind':'sleep','args':{'seconds':30},"
	    "'queue':'solo'");
	tj_wait_state(c, run, "running", TJ_TIMEOUT);

	ck_assert_int_eq(list_ids(tj_req(c, "{'op':'list'}"), ids, 200), 7);
	ck_assert_int_eq(ids[0], queued);
	ck_assert_int_eq(ids[6], ok[0]);
	ck_assert_int_eq(list_ids(tj_req(c, "{'op':'list','queue':'solo'}"),
	    ids, 200), 2);
	ck_assert_int_eq(ids[0], queued);
	ck_assert_int_eq(list_ids(tj_req(c, "{'op':'list','state':'queued'}"),
	    ids, 200), 1);
	ck_assert_int_eq(ids[0], queued);
	ck_assert_int_eq(list_ids(tj_req(c,
	    "{'op':'list','state':'running','queue':'solo'}"), ids, 200), 1);
	ck_assert_int_eq(ids[0], run);
	a = tj_req(c, "{'op':'list','state':'succeeded','limit':2,'tag':2}");
	ck_assert_int_eq(tj_int(a, "tag"), 2);
	ck_assert_int_eq(list_ids(a, ids, 200), 2);
	ck_assert_int_eq(ids[0], ok[4]);
	ck_assert_int_eq(ids[1], ok[3]);
	ck_assert_str_eq(tj_str(a, "jobs.0.name"), "n4");
	ck_assert_int_eq(list_ids(tj_req(c, "{'op':'list','state':'failed'}"),
	    ids, 200), 0);
	ck_assert_int_eq(list_ids(tj_req(c,
	    "{'op':'list','state':null,'queue':null,'limit':null}"), ids,
	    200), 7);

	tj_assert_err(tj_req(c, "{'op':'list','state':'done'}"),
	    "bad_request");
	tj_assert_err(tj_req(c, "{'op':'list','limit':0}"), "bad_request");
	tj_assert_err(tj_req(c, "{'op':'list','limit':10001}"), "bad_request");
	tj_assert_err(tj_req(c, "{'op':'list','limit':'5'}"), "bad_request");
	tj_assert_err(tj_req(c, "{'op':'list','queue':5}"), "bad_request");
}
END_TEST

START_TEST(test_list_default_limit)
{
	struct tj_conn *c = start();
	char *jobs = malloc(150 * 64);
	json_int_t ids[200], last;
	size_t n = 0;
	json_t *a;

	ck_assert_ptr_nonnull(jobs);
	for (int i = 0; i < 150; i++)
		n += sprintf(jobs + n, "%s{'kind':'sleep','args':{'seconds':0}}",
		    i ? "," : "");
	a = tj_req(c, "{'op':'submit_group','jobs':[%s]}", jobs);
	free(jobs);
	tj_assert_ok(a);
	last = tj_int(a, "ids.149");
	ck_assert_int_eq(list_ids(tj_req(c, "{'op':'list'}"), ids, 200), 100);
	ck_assert_int_eq(ids[0], last);
	ck_assert_int_eq(ids[99], last - 99);
	ck_assert_int_eq(list_ids(tj_req(c, "{'op':'list','limit':150}"), ids,
	    200), 150);
	ck_assert_int_eq(ids[149], last - 149);
}
END_TEST

/* Big lists are made on the reads threads (docs/PERF.md): clients that
 * leave while theirs is made abandon it (freed when it ends, nothing
 * leaks: the sanitizer and valgrind levels check jobd's exit); lists on
 * two connections at once and a ping between them all answer; a wait on
 * the group answers every member, tag and all. */
START_TEST(test_list_off_loop)
{
	struct tj_conn *c = start(), *a, *b, *gone;
	size_t cap = 2000 * 48, n = 0;
	char *jobs = malloc(cap);
	json_int_t gid, ids[2000];
	json_t *r;

	ck_assert_ptr_nonnull(jobs);
	for (int i = 0; i < 2000; i++)
		n += (size_t)snprintf(jobs + n, cap - n,
		    "%s{'kind':'sleep','args':{'seconds':0}}", i ? "," : "");
	r = tj_req(c, "{'op':'submit_group','jobs':[%s]}", jobs);
	free(jobs);
	tj_assert_ok(r);
	gid = tj_int(r, "group");
	for (int i = 0; i < 10; i++) {
		gone = tj_connect();
		tj_send(gone, "{'op':'list','limit':10000}");
		tj_close(gone);
	}
	a = tj_connect();
	b = tj_connect();
	tj_send(a, "{'op':'list','limit':10000,'tag':'a'}");
	tj_send(b, "{'op':'list','limit':10000,'tag':'b'}");
	tj_assert_ok(tj_req(c, "{'op':'ping'}"));
	r = tj_recv(a);
	ck_assert_str_eq(tj_str(r, "tag"), "a");
	ck_assert_int_eq(list_ids(r, ids, 2000), 2000);
	r = tj_recv(b);
	ck_assert_str_eq(tj_str(r, "tag"), "b");
	ck_assert_int_eq(list_ids(r, ids, 2000), 2000);
	r = tj_req(c, "{'op':'wait','group':%lld,'timeout':30,'tag':7}",
	    (long long)gid);
	tj_assert_ok(r);
	ck_assert_int_eq(tj_int(r, "tag"), 7);
	ck_assert_uint_eq(json_array_size(tj_at(r, "jobs")), 2000);
	ck_assert_int_eq(tj_int(r, "jobs.0.id"), ids[1999]);   /* oldest */
	ck_assert_str_eq(tj_str(r, "jobs.1999.state"), "succeeded");
	tj_close(a);
	tj_close(b);
}
END_TEST

/* ---- stats --------------------------------------------------------------- */

START_TEST(test_stats)
{
	struct tj_conn *c = start(), *c2;
	json_int_t id, run;
	json_t *a;

	a = tj_req(c, "{'op':'stats','tag':'s'}");
	tj_assert_ok(a);
	ck_assert_str_eq(tj_str(a, "tag"), "s");
	ck_assert_int_eq(json_object_size(tj_at(a, "queues")), 3);
	ck_assert_int_eq(tj_int(a, "queues.default.workers"), 4);
	ck_assert_int_eq(tj_int(a, "queues.default.capacity"), 100);
	ck_assert_int_eq(tj_int(a, "queues.solo.workers"), 1);
	ck_assert_int_eq(tj_int(a, "queues.solo.capacity"), 10);
	ck_assert_int_eq(tj_int(a, "queues.q2.queued"), 0);
	ck_assert_int_eq(tj_int(a, "queues.q2.running"), 0);
	ck_assert_int_eq(tj_int(a, "jobs.submitted"), 0);
	ck_assert_int_eq(tj_int(a, "jobs.succeeded"), 0);
	ck_assert(tj_num(a, "uptime") >= 0);
	ck_assert_int_ge(tj_int(a, "connections"), 1);

	tj_wait(c, tj_submit(c, "'kind':'sleep','args':{'seconds':0}"), 5);
	tj_wait(c, tj_submit(c, "'kind':'sleep','args':{'seconds':0,"
	    "'fail':'f'}"), 5);
	tj_wait(c, tj_submit(c, "'kind':'sleep','args':{'seconds':5},"
	    "'timeout':0.05"), 5);
	id = tj_submit(c, "'kind':'sleep','args':{'seconds':30}");
	tj_wait_state(c, id, "running", TJ_TIMEOUT);
	tj_assert_ok(tj_req(c, "{'op':'cancel','id':%lld}", (long long)id));
	run = tj_submit(c, "'kind':'sleep','args':{'seconds':30},"
	    "'queue':'solo'");
	tj_submit(c, "'kind':'sleep','args':{'seconds':30},'queue':'solo'");
	tj_wait_state(c, run, "running", TJ_TIMEOUT);

	a = tj_req(c, "{'op':'stats'}");
	ck_assert_int_eq(tj_int(a, "jobs.submitted"), 6);
	ck_assert_int_eq(tj_int(a, "jobs.succeeded"), 1);
	ck_assert_int_eq(tj_int(a, "jobs.failed"), 1);
	ck_assert_int_eq(tj_int(a, "jobs.timed_out"), 1);
	ck_assert_int_eq(tj_int(a, "jobs.cancelled"), 1);
	ck_assert_int_eq(tj_int(a, "queues.solo.running"), 1);
	ck_assert_int_eq(tj_int(a, "queues.solo.queued"), 1);
	ck_assert_int_eq(tj_int(a, "queues.default.running"), 0);
	ck_assert_int_eq(tj_int(a, "queues.default.queued"), 0);

	/* connections counts this one and a second (the harness's own
	 * readiness probe has closed; jobd may take a moment to see it). */
	c2 = tj_connect();
	tj_assert_ok(tj_req(c2, "{'op':'ping'}"));
	tj_wait_connections(c, 2, TJ_TIMEOUT);
}
END_TEST

/* ---- unknown ops --------------------------------------------------------- */

START_TEST(test_unknown_op)
{
	struct tj_conn *c = start();
	json_t *a;

	a = tj_req(c, "{'op':'nope','tag':1}");
	tj_assert_err(a, "unknown_op");
	ck_assert_int_eq(tj_int(a, "tag"), 1);
	tj_assert_err(tj_req(c, "{'op':'PING'}"), "unknown_op");
	tj_assert_err(tj_req(c, "{'op':''}"), "unknown_op");
	a = tj_req(c, "{'tag':2}");
	tj_assert_err(a, "bad_request");
	ck_assert_int_eq(tj_int(a, "tag"), 2);
	tj_assert_err(tj_req(c, "{'op':5}"), "bad_request");
	tj_assert_err(tj_req(c, "{'op':null}"), "bad_request");
	tj_assert_err(tj_req(c, "{'op':['ping']}"), "bad_request");
	tj_assert_ok(tj_req(c, "{'op':'ping'}"));
}
END_TEST

/* ---- job ends: timed_out, failed ----------------------------------------- */

START_TEST(test_job_timeout)
{
	struct tj_conn *c = start();
	json_int_t id, q2;
	json_t *job;

	id = tj_submit(c, "'kind':'sleep','args':{'seconds':5},'timeout':0.3");
	q2 = tj_submit(c, "'kind':'sleep','args':{'seconds':5},'queue':'q2'");
	job = tj_wait(c, id, 10);
	ck_assert_str_eq(tj_str(job, "state"), "timed_out");
	ck_assert_msg(tj_str(job, "error") != NULL, "%s", tj_dump(job));
	ck_assert(tj_null(job, "cancel_reason"));
	ck_assert_int_eq(tj_int(job, "attempts"), 1);
	tj_assert_time(tj_num(job, "finished_at") - tj_num(job, "started_at"),
	    0.3, 1.0);
	/* The queue's timeout (0.5) applies without one of its own. */
	job = tj_wait(c, q2, 10);
	ck_assert_str_eq(tj_str(job, "state"), "timed_out");
	ck_assert_double_eq(tj_num(job, "timeout"), 0.5);
	tj_assert_time(tj_num(job, "finished_at") - tj_num(job, "started_at"),
	    0.5, 1.0);
}
END_TEST

START_TEST(test_job_fails)
{
	struct tj_conn *c = start();
	json_t *job;

	job = tj_wait(c, tj_submit(c, "'kind':'sleep','args':{'seconds':0.1,"
	    "'fail':'boom'}"), 10);
	ck_assert_str_eq(tj_str(job, "state"), "failed");
	ck_assert_str_eq(tj_str(job, "error"), "boom");
	ck_assert(tj_null(job, "cancel_reason"));
	ck_assert_int_eq(tj_int(job, "attempts"), 1);
	/* It fails after sleeping. */
	tj_assert_time(tj_num(job, "finished_at") - tj_num(job, "started_at"),
	    0.1, 1.0);
}
END_TEST

/* ---- shutting_down ------------------------------------------------------- */

/* During a stop (SIGTERM, while a job runs out its grace), submits on an
 * open connection are refused with shutting_down; jobd then exits 0. */
START_TEST(test_shutting_down)
{
	struct tj_conn *c, *c2;
	json_int_t run;
	double end;
	const char *code;
	json_t *a;

	tj_start("sync = normal\nshutdown_grace = 2\n" OPS_QUEUES);
	c = tj_connect();
	c2 = tj_connect();
	run = tj_submit(c, "'kind':'sleep','args':{'seconds':30}");
	tj_wait_state(c, run, "running", TJ_TIMEOUT);
	tj_assert_ok(tj_req(c2, "{'op':'ping'}"));
	tj_signal(SIGTERM);
	end = tj_now() + 1.5;
	do {
		a = tj_req(c2, "{'op':'submit','kind':'sleep','args':"
		    "{'seconds':0},'tag':'t'}");
		code = tj_code(a);
		ck_assert_msg(code == NULL || strcmp(code, "shutting_down") == 0,
		    "%s", tj_dump(a));
		ck_assert_msg(tj_now() < end, "no shutting_down within 1.5 s");
	} while (code == NULL);
	ck_assert_str_eq(tj_str(a, "tag"), "t");
	tj_assert_err(tj_req(c2, "{'op':'submit_group','jobs':[{'kind':'sleep',"
	    "'args':{'seconds':0}}]}"), "shutting_down");
	ck_assert_int_eq(tj_wait_exit(2 + TJ_TIMEOUT), 0);
	ck_assert_str_eq(tj_sql("SELECT state || ' ' || attempts FROM jobs "
	    "WHERE id = %lld", (long long)run), "queued 1");
}
END_TEST

/* ---- order on one connection --------------------------------------------- */

/* Requests take effect in arrival order even when pipelined behind a
 * submit whose commit is still in flight: a get, wait and cancel written
 * in the same write(2) as the submit see its job (a fresh database gives
 * ids 1, 2, ...). */
START_TEST(test_pipelined_order)
{
	struct tj_conn *c = start();
	const char *burst =
	    "{'op':'submit','kind':'sleep','args':{'seconds':0.2},'tag':'s1'}\n"
	    "{'op':'get','id':1,'tag':'g1'}\n"
	    "{'op':'submit','kind':'sleep','args':{'seconds':30},'tag':'s2'}\n"
	    "{'op':'cancel','id':2,'reason':'r','tag':'c2'}\n"
	    "{'op':'wait','id':1,'tag':'w1'}\n"
	    "{'op':'list','tag':'l'}\n";
	char *b = strdup(burst);
	size_t n;
	json_t *a;

	for (char *p = b; *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	tj_write(c, b, strlen(b));
	free(b);
	a = tj_recv(c);
	ck_assert_str_eq(tj_str(a, "tag"), "s1");
	ck_assert_int_eq(tj_int(a, "id"), 1);
	a = tj_recv(c);
	ck_assert_str_eq(tj_str(a, "tag"), "g1");
	tj_assert_ok(a);
	ck_assert_int_eq(tj_int(a, "job.id"), 1);
	a = tj_recv(c);
	ck_assert_str_eq(tj_str(a, "tag"), "s2");
	ck_assert_int_eq(tj_int(a, "id"), 2);
	a = tj_recv(c);
	ck_assert_str_eq(tj_str(a, "tag"), "c2");
	tj_assert_ok(a);
	a = tj_recv(c);
	ck_assert_str_eq(tj_str(a, "tag"), "w1");
	ck_assert_str_eq(tj_str(a, "job.state"), "succeeded");
	a = tj_recv(c);
	ck_assert_str_eq(tj_str(a, "tag"), "l");
	ck_assert_str_eq(tj_str(a, "jobs.0.state"), "cancelled");
	ck_assert_str_eq(tj_str(a, "jobs.1.state"), "succeeded");

	/* A list right behind submits (no wait between) sees them all:
	 * the two above and 90 more (within default's capacity). */
	b = malloc(90 * 80);
	ck_assert_ptr_nonnull(b);
	n = 0;
	for (int i = 0; i < 90; i++)
		n += sprintf(b + n, "{\"op\":\"submit\",\"kind\":\"sleep\","
		    "\"args\":{\"seconds\":30}}\n");
	n += sprintf(b + n, "{\"op\":\"list\",\"limit\":1000}\n");
	tj_write(c, b, n);
	free(b);
	for (int i = 0; i < 90; i++)
		tj_assert_ok(tj_recv(c));
	a = tj_recv(c);
	ck_assert_int_eq(json_array_size(tj_at(a, "jobs")), 92);
}
END_TEST

/* Several clients wait on one job; a third cancels it: every wait
 * answers with the cancelled job. */
START_TEST(test_many_waiters)
{
	struct tj_conn *c = start(), *w[3];
	json_int_t id;
	json_t *a;

	id = tj_submit(c, "'kind':'sleep','args':{'seconds':30}");
	tj_wait_state(c, id, "running", TJ_TIMEOUT);
	for (int i = 0; i < 3; i++) {
		w[i] = tj_connect();
		tj_send(w[i], "{'op':'wait','id':%lld,'tag':%d}", (long long)id,
		    i);
	}
	tj_sleep(0.1);
	for (int i = 0; i < 3; i++)
		ck_assert_ptr_null(tj_line(w[i], 0));
	tj_assert_ok(tj_req(c, "{'op':'cancel','id':%lld,'reason':'bye'}",
	    (long long)id));
	for (int i = 0; i < 3; i++) {
		a = tj_recv(w[i]);
		tj_assert_ok(a);
		ck_assert_int_eq(tj_int(a, "tag"), i);
		ck_assert_str_eq(tj_str(a, "job.state"), "cancelled");
		ck_assert_str_eq(tj_str(a, "job.cancel_reason"), "bye");
	}
}
END_TEST

/* A member cancelled by a user does not trip fail_fast. */
START_TEST(test_fail_fast_not_tripped_by_cancel)
{
	struct tj_conn *c = start();
	json_int_t id0;
	json_t *a;

	a = tj_req(c, "{'op':'submit_group','mode':'fail_fast','jobs':["
	    "{'kind':'sleep','args':{'seconds':30}},"
	    "{'kind':'sleep','args':{'seconds':0.4}}]}");
	tj_assert_ok(a);
	id0 = tj_int(a, "ids.0");
	tj_wait_state(c, id0, "running", TJ_TIMEOUT);
	tj_assert_ok(tj_req(c, "{'op':'cancel','id':%lld}", (long long)id0));
	a = tj_req(c, "{'op':'wait','group':%lld,'timeout':10}",
	    (long long)tj_int(a, "group"));
	tj_assert_ok(a);
	ck_assert_str_eq(tj_str(a, "jobs.0.state"), "cancelled");
	ck_assert_str_eq(tj_str(a, "jobs.1.state"), "succeeded");
}
END_TEST

/* A blocking group bigger than its queue's capacity: accepted, its jobs
 * enter as room frees, and a group cancel reaches the ones that have not
 * entered yet too. */
START_TEST(test_big_group_cancel)
{
	struct tj_conn *c = start(), *gc = tj_connect();
	char jobs[2048];
	size_t n = 0;
	json_int_t g;
	double t0;
	json_t *a;

	/* The group is submitted on its own connection: jobd may hold that
	 * connection's later requests until the group's last jobs have
	 * entered the queue (backpressure; see FINDINGS.md). */
	for (int i = 0; i < 15; i++)
		n += snprintf(jobs + n, sizeof(jobs) - n, "%s{'kind':'sleep',"
		    "'args':{'seconds':30},'queue':'solo'}", i ? "," : "");
	a = tj_req(gc, "{'op':'submit_group','jobs':[%s]}", jobs);
	tj_assert_ok(a);
	g = tj_int(a, "group");
	tj_send(gc, "{'op':'ping','tag':'after'}");
	tj_wait_state(c, tj_int(a, "ids.0"), "running", TJ_TIMEOUT);
	ck_assert_str_eq(tj_str(tj_job(c, tj_int(a, "ids.14")), "state"),
	    "queued");
	t0 = tj_now();
	a = tj_req(c, "{'op':'cancel','group':%lld}", (long long)g);
	tj_assert_ok(a);
	ck_assert_int_eq(json_array_size(tj_at(a, "ids")), 15);
	a = tj_req(c, "{'op':'wait','group':%lld,'timeout':5}", (long long)g);
	tj_assert_ok(a);
	tj_assert_time(tj_now() - t0, 0, 1.0);
	for (size_t i = 0; i < 15; i++) {
		json_t *job = json_array_get(tj_at(a, "jobs"), i);

		ck_assert_str_eq(tj_str(job, "state"), "cancelled");
		if (i > 0)
			ck_assert(tj_null(job, "started_at"));
	}
	a = tj_req(c, "{'op':'stats'}");
	ck_assert_int_eq(tj_int(a, "queues.solo.queued"), 0);
	ck_assert_int_eq(tj_int(a, "queues.solo.running"), 0);
	/* The group's connection goes on; so does the queue. */
	ck_assert_str_eq(tj_str(tj_recv(gc), "tag"), "after");
	tj_wait(c, tj_submit(c, "'kind':'sleep','args':{'seconds':0},"
	    "'queue':'solo'"), 5);
}
END_TEST

/* Fill queue solo with other jobs: one running (its id is returned), ten
 * queued, which is its capacity. */
static json_int_t
fill_solo(struct tj_conn *c)
{
	json_int_t first = 0, id;

	for (int i = 0; i < 11; i++) {
		id = tj_submit(c, "'kind':'sleep','args':{'seconds':600},"
		    "'queue':'solo','nowait':true");
		if (i == 0)
			first = id;
	}
	tj_wait_state(c, first, "running", TJ_TIMEOUT);
	return first;
}

/* A group whose jobs wait for room in a queue full of other jobs: its
 * cancel is answered at once (it used to wait until room freed, here
 * never), its jobs end cancelled without ever taking room, and the
 * group's connection, held while they waited, goes on. */
START_TEST(test_cancel_group_waiting_for_room)
{
	struct tj_conn *c = start(), *gc = tj_connect();
	json_int_t g, first;
	json_t *a;

	first = fill_solo(c);
	a = tj_req(gc, "{'op':'submit_group','jobs':["
	    "{'kind':'sleep','args':{'seconds':0},'queue':'solo'},"
	    "{'kind':'sleep','args':{'seconds':0},'queue':'solo'},"
	    "{'kind':'sleep','args':{'seconds':0},'queue':'solo'}]}");
	tj_assert_ok(a);                /* recorded; its jobs wait for room */
	g = tj_int(a, "group");
	tj_send(gc, "{'op':'ping','tag':'after'}");
	a = tj_req(c, "{'op':'cancel','group':%lld,'reason':'no room'}",
	    (long long)g);
	tj_assert_ok(a);
	ck_assert_int_eq(json_array_size(tj_at(a, "ids")), 3);
	a = tj_req(c, "{'op':'wait','group':%lld,'timeout':0}", (long long)g);
	tj_assert_ok(a);
	for (size_t i = 0; i < 3; i++) {
		json_t *job = json_array_get(tj_at(a, "jobs"), i);

		ck_assert_str_eq(tj_str(job, "state"), "cancelled");
		ck_assert_str_eq(tj_str(job, "cancel_reason"), "no room");
		ck_assert(tj_null(job, "started_at"));
	}
	a = tj_req(c, "{'op':'stats'}");
	ck_assert_int_eq(tj_int(a, "queues.solo.queued"), 10);
	ck_assert_int_eq(tj_int(a, "queues.solo.running"), 1);
	ck_assert_str_eq(tj_str(tj_recv(gc), "tag"), "after");
	/* The queue is as it was: a job cancelled makes room for one more. */
	tj_assert_ok(tj_req(c, "{'op':'cancel','id':%lld}",
	    (long long)first + 1));
	tj_submit(c, "'kind':'sleep','args':{'seconds':0},'queue':'solo',"
	    "'nowait':true");
	tj_assert_err(tj_req(c, "{'op':'submit','kind':'sleep','args':"
	    "{'seconds':0},'queue':'solo','nowait':true}"), "queue_full");
}
END_TEST

/* fail_fast trips while a member waits for room in a full queue: that
 * member ends cancelled at once too, and the group's wait is answered. */
START_TEST(test_fail_fast_member_waiting_for_room)
{
	struct tj_conn *c = start(), *gc = tj_connect();
	json_t *a;

	fill_solo(c);
	a = tj_req(gc, "{'op':'submit_group','mode':'fail_fast','jobs':["
	    "{'kind':'sleep','args':{'seconds':0.2,'fail':'boom'}},"
	    "{'kind':'sleep','args':{'seconds':0},'queue':'solo'}]}");
	tj_assert_ok(a);
	a = tj_req(c, "{'op':'wait','group':%lld,'timeout':%g}",
	    (long long)tj_int(a, "group"), TJ_TIMEOUT / 2);
	tj_assert_ok(a);
	ck_assert_str_eq(tj_str(a, "jobs.0.state"), "failed");
	ck_assert_str_eq(tj_str(a, "jobs.1.state"), "cancelled");
	ck_assert_ptr_nonnull(strstr(tj_str(a, "jobs.1.cancel_reason"),
	    "fail_fast: job"));
	ck_assert_int_eq(tj_int(tj_req(c, "{'op':'stats'}"),
	    "queues.solo.queued"), 10);
}
END_TEST

/* Bounds at their edges: the largest timeouts are taken. */
START_TEST(test_bounds)
{
	struct tj_conn *c = start();
	json_int_t id;
	char reason[1026];

	id = tj_submit(c, "'kind':'sleep','args':{'seconds':0},"
	    "'timeout':1e9,'max_attempts':1000");
	ck_assert_double_eq(tj_num(tj_wait(c, id, 5), "timeout"), 1e9);
	tj_assert_ok(tj_req(c, "{'op':'wait','id':%lld,'timeout':1e9}",
	    (long long)id));
	tj_assert_err(tj_req(c, "{'op':'wait','id':%lld,'timeout':1000000001}",
	    (long long)id), "bad_request");
	tj_assert_err(tj_req(c, "{'op':'submit','kind':'sleep','args':"
	    "{'seconds':0},'timeout':1000000001}"), "bad_request");
	/* The longest sleep, stopped with the longest reason. */
	id = tj_submit(c, "'kind':'sleep','args':{'seconds':31536000}");
	tj_wait_state(c, id, "running", TJ_TIMEOUT);
	memset(reason, 'r', 1025);
	reason[1025] = '\0';
	tj_assert_err(tj_req(c, "{'op':'cancel','id':%lld,'reason':'%s'}",
	    (long long)id, reason), "bad_request");
	reason[1024] = '\0';
	tj_assert_ok(tj_req(c, "{'op':'cancel','id':%lld,'reason':'%s'}",
	    (long long)id, reason));
	ck_assert_str_eq(tj_str(tj_job(c, id), "cancel_reason"), reason);
	tj_assert_ok(tj_req(c, "{'op':'list','limit':10000}"));
	tj_assert_err(tj_req(c, "{'op':'get','id':9223372036854775808}"),
	    "bad_request");
}
END_TEST

static Suite *
jobd_ops_suite(void)
{
	Suite *s = suite_create("jobd_ops");
	TCase *tc = tj_tcase("ops", 30);

	tcase_add_test(tc, test_ping_and_tags);
	tcase_add_test(tc, test_submit_defaults);
	tcase_add_test(tc, test_submit_fields);
	tcase_add_test(tc, test_submit_errors);
	tcase_add_test(tc, test_group_all);
	tcase_add_test(tc, test_group_fail_fast_running);
	tcase_add_test(tc, test_group_fail_fast_queued_and_timeout);
	tcase_add_test(tc, test_group_errors);
	tcase_add_test(tc, test_get);
	tcase_add_test(tc, test_wait);
	tcase_add_test(tc, test_wait_holds_later_answers);
	tcase_add_test(tc, test_cancel_queued);
	tcase_add_test(tc, test_cancel_running);
	tcase_add_test(tc, test_cancel_group);
	tcase_add_test(tc, test_cancel_group_waiting_for_room);
	tcase_add_test(tc, test_fail_fast_member_waiting_for_room);
	tcase_add_test(tc, test_list);
	tcase_add_test(tc, test_list_default_limit);
	tcase_add_test(tc, test_list_off_loop);
	tcase_add_test(tc, test_stats);
	tcase_add_test(tc, test_unknown_op);
	tcase_add_test(tc, test_job_timeout);
	tcase_add_test(tc, test_job_fails);
	tcase_add_test(tc, test_shutting_down);
	tcase_add_test(tc, test_pipelined_order);
	tcase_add_test(tc, test_many_waiters);
	tcase_add_test(tc, test_fail_fast_not_tripped_by_cancel);
	tcase_add_test(tc, test_big_group_cancel);
	tcase_add_test(tc, test_bounds);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(jobd_ops_suite());
}
