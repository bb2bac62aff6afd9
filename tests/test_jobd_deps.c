/*
 * test_jobd_deps.c — dependencies against the real jobd (the contract's
 * `after` and `on_dependency_failure`): a waiting job starts once its
 * dependencies have ended, a dependency that fails cancels the chain
 * below it (reason "dependency: job N ended failed") in one transaction,
 * "run" runs anyway, an ended dependency is judged at once, groups and
 * dependencies combine, cancel, max_pending, stats, watch events, prune,
 * a restart and a SIGKILL during a cascade (no waiting job left stuck);
 * the bad inputs; a dependency on another user's job only where that
 * user could `get` it (real users: needs root, else that case is
 * skipped, and says so).  Also run against PostgreSQL (test_jobd_deps_postgres).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tu_jobd.h"
#include "tu_users.h"

#define DEPS_CONF TJ_DAEMON "[queue.default]\nworkers = 8\n" \
	"capacity = 20000\ntimeout = 0\n"

static const char *
state_of(struct tj_conn *c, json_int_t id)
{
	return tj_str(tj_job(c, id), "state");
}

START_TEST(test_chain_in_order)
{
	struct tj_conn *c;
	json_int_t a, b, d;
	json_t *ja, *jb, *jd;

	tj_start(DEPS_CONF);
	c = tj_connect();
	a = tj_submit(c, "'kind':'sleep','args':{'seconds':0.3}");
	b = tj_submit(c, "'kind':'sleep','args':{'seconds':0},'after':[%lld]",
	    (long long)a);
	d = tj_submit(c, "'kind':'sleep','args':{'seconds':0},"
	    "'after':[%lld,%lld]", (long long)b, (long long)a);
	jb = tj_job(c, b);
	ck_assert_str_eq(tj_str(jb, "state"), "waiting");
	ck_assert_int_eq(tj_int(jb, "after.0"), a);
	jd = tj_job(c, d);
	ck_assert_uint_eq(json_array_size(tj_at(jd, "after")), 2);
	ck_assert(tj_null(tj_job(c, a), "after"));
	jd = tj_wait(c, d, TJ_TIMEOUT);
	ck_assert_str_eq(tj_str(jd, "state"), "succeeded");
	ja = tj_job(c, a);
	jb = tj_job(c, b);
	ck_assert(tj_num(jb, "started_at") >= tj_num(ja, "finished_at"));
	ck_assert(tj_num(jd, "started_at") >= tj_num(jb, "finished_at"));
	tj_close(c);
}
END_TEST

/* A timed-out root cancels its cancel-policy chain; "run" runs anyway;
 * the chain's cancels share the root's end time: one transaction.  The
 * queue is paused while the chain is submitted: on a busy machine the
 * root could time out before the last submit, which would then be judged
 * at its insert, at a later time. */
START_TEST(test_failure_cascades)
{
	struct tj_conn *c;
	json_int_t a, b, d, r, e;
	char want[64];
	json_t *j;

	tj_start(DEPS_CONF);
	c = tj_connect();
	tj_assert_ok(tj_req(c, "{'op':'pause','queue':'default'}"));
	a = tj_submit(c, "'kind':'sleep','args':{'seconds':5},'timeout':0.2");
	b = tj_submit(c, "'kind':'sleep','args':{'seconds':0},'after':[%lld]",
	    (long long)a);
	d = tj_submit(c, "'kind':'sleep','args':{'seconds':0},'after':[%lld],"
	    "'on_dependency_failure':'cancel'", (long long)b);
	r = tj_submit(c, "'kind':'sleep','args':{'seconds':0},'after':[%lld],"
	    "'on_dependency_failure':'run'", (long long)a);
	e = tj_submit(c, "'kind':'sleep','args':{'seconds':0},'after':[%lld]",
	    (long long)r);
	tj_assert_ok(tj_req(c, "{'op':'resume','queue':'default'}"));
	ck_assert_str_eq(tj_str(tj_wait(c, a, TJ_TIMEOUT), "state"),
	    "timed_out");
	j = tj_wait(c, b, TJ_TIMEOUT);
	ck_assert_str_eq(tj_str(j, "state"), "cancelled");
	snprintf(want, sizeof(want), "dependency: job %lld ended timed_out",
	    (long long)a);
	ck_assert_str_eq(tj_str(j, "cancel_reason"), want);
	j = tj_wait(c, d, TJ_TIMEOUT);
	snprintf(want, sizeof(want), "dependency: job %lld ended cancelled",
	    (long long)b);
	ck_assert_str_eq(tj_str(j, "cancel_reason"), want);
	ck_assert_int_eq(tj_int(j, "attempts"), 0);
	ck_assert_str_eq(tj_str(tj_wait(c, r, TJ_TIMEOUT), "state"),
	    "succeeded");
	ck_assert_str_eq(tj_str(tj_wait(c, e, TJ_TIMEOUT), "state"),
	    "succeeded");
	ck_assert_int_eq(tj_sql_int("SELECT count(DISTINCT finished_at) FROM "
	    "jobs WHERE id IN (%lld, %lld, %lld)", (long long)a, (long long)b,
	    (long long)d), 1);
	tj_close(c);
}
END_TEST

/* A dependency that has ended already is judged at the submit. */
START_TEST(test_ended_dependency)
{
	struct tj_conn *c;
	json_int_t ok, bad, b1, b2, b3;

	tj_start(DEPS_CONF);
	c = tj_connect();
	ok = tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
	bad = tj_submit(c, "'kind':'sleep','args':{'seconds':60}");
	tj_assert_ok(tj_req(c, "{'op':'cancel','id':%lld}", (long long)bad));
	tj_wait(c, ok, TJ_TIMEOUT);
	b1 = tj_submit(c, "'kind':'sleep','args':{'seconds':0},'after':[%lld]",
	    (long long)ok);
	b2 = tj_submit(c, "'kind':'sleep','args':{'seconds':0},"
	    "'after':[%lld,%lld]", (long long)ok, (long long)bad);
	b3 = tj_submit(c, "'kind':'sleep','args':{'seconds':0},"
	    "'after':[%lld],'on_dependency_failure':'run'", (long long)bad);
	ck_assert_str_eq(tj_str(tj_wait(c, b1, TJ_TIMEOUT), "state"),
	    "succeeded");
	ck_assert_str_eq(tj_str(tj_wait(c, b2, TJ_TIMEOUT), "state"),
	    "cancelled");
	ck_assert_str_eq(tj_str(tj_wait(c, b3, TJ_TIMEOUT), "state"),
	    "succeeded");
	tj_close(c);
}
END_TEST

START_TEST(test_bad_input)
{
	struct tj_conn *c;
	json_int_t a;
	char *big;
	size_t n = 0;
	json_t *r;

	tj_start(DEPS_CONF);
	c = tj_connect();
	a = tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
#define BAD(fields) tj_assert_err(tj_req(c, "{'op':'submit','kind':'sleep'," \
	"'args':{'seconds':0}," fields "}"), "bad_request")
	BAD("'after':5");
	BAD("'after':'1'");
	BAD("'after':[0]");
	BAD("'after':[-3]");
	BAD("'after':[1.5]");
	BAD("'after':[{'member':0}]");          /* a lone submit */
	BAD("'on_dependency_failure':'maybe'");
	r = tj_req(c, "{'op':'submit','kind':'sleep','args':{'seconds':0},"
	    "'after':[%lld,%lld]}", (long long)a, (long long)a);
	tj_assert_err(r, "bad_request");
	ck_assert_ptr_nonnull(strstr(tj_str(r, "error.message"), "twice"));
	tj_assert_err(tj_req(c, "{'op':'submit','kind':'sleep','args':"
	    "{'seconds':0},'after':[%lld]}", (long long)a + 1000), "not_found");
	/* 10,001 entries. */
	big = malloc(200000);
	n += (size_t)sprintf(big, "{\"op\":\"submit\",\"kind\":\"sleep\","
	    "\"args\":{\"seconds\":0},\"after\":[");
	for (int i = 1; i <= 10001; i++)
		n += (size_t)sprintf(big + n, "%s%d", i > 1 ? "," : "", i);
	sprintf(big + n, "]}");
	r = tj_req(c, "%s", big);
	tj_assert_err(r, "bad_request");
	ck_assert_ptr_nonnull(strstr(tj_str(r, "error.message"), "10001"));
	free(big);
	/* Groups: out of range, itself, a cycle. */
#define GBAD(jobs) tj_assert_err(tj_req(c, "{'op':'submit_group','jobs':[" \
	jobs "]}"), "bad_request")
	GBAD("{'kind':'sleep','args':{'seconds':0},'after':[{'member':1}]}");
	GBAD("{'kind':'sleep','args':{'seconds':0},'after':[{'member':0}]}");
	GBAD("{'kind':'sleep','args':{'seconds':0},'after':[{'member':2}]},"
	    "{'kind':'sleep','args':{'seconds':0},'after':[{'member':0}]},"
	    "{'kind':'sleep','args':{'seconds':0},'after':[{'member':1}]}");
	GBAD("{'kind':'sleep','args':{'seconds':0},'after':[{'member':'x'}]}");
	r = tj_req(c, "{'op':'submit_group','jobs':[{'kind':'sleep','args':"
	    "{'seconds':0},'after':[%lld]}]}", (long long)a + 1000);
	tj_assert_err(r, "not_found");
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs"), 1);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM job_deps"), 0);
	tj_close(c);
}
END_TEST

/* A fail_fast group depends on a job, and a job on a group member; a
 * member waits for another member. */
START_TEST(test_groups)
{
	struct tj_conn *c;
	json_int_t root, g, m0, m1, after_m1;
	json_t *r;

	tj_start(DEPS_CONF);
	c = tj_connect();
	root = tj_submit(c, "'kind':'sleep','args':{'seconds':0.2}");
	r = tj_req(c, "{'op':'submit_group','mode':'fail_fast','jobs':["
	    "{'kind':'sleep','args':{'seconds':0.1},'after':[%lld]},"
	    "{'kind':'sleep','args':{'seconds':0},'after':[{'member':0}]}]}",
	    (long long)root);
	tj_assert_ok(r);
	g = tj_int(r, "group");
	m0 = tj_int(r, "ids.0");
	m1 = tj_int(r, "ids.1");
	ck_assert_int_eq(tj_int(tj_job(c, m1), "after.0"), m0);
	after_m1 = tj_submit(c, "'kind':'sleep','args':{'seconds':0},"
	    "'after':[%lld]", (long long)m1);
	ck_assert_str_eq(state_of(c, m0), "waiting");
	tj_assert_ok(tj_req(c, "{'op':'wait','group':%lld}", (long long)g));
	ck_assert_str_eq(state_of(c, m1), "succeeded");
	ck_assert_str_eq(tj_str(tj_wait(c, after_m1, TJ_TIMEOUT), "state"),
	    "succeeded");
	ck_assert(tj_num(tj_job(c, m1), "started_at") >=
	    tj_num(tj_job(c, m0), "finished_at"));

	/* fail_fast: a member fails, its waiting sibling is cancelled. */
	root = tj_submit(c, "'kind':'sleep','args':{'seconds':60}");
	r = tj_req(c, "{'op':'submit_group','mode':'fail_fast','jobs':["
	    "{'kind':'sleep','args':{'seconds':5},'timeout':0.1},"
	    "{'kind':'sleep','args':{'seconds':0},'after':[%lld]}]}",
	    (long long)root);
	tj_assert_ok(r);
	tj_req(c, "{'op':'wait','group':%lld}", (long long)tj_int(r, "group"));
	ck_assert_str_eq(state_of(c, tj_int(r, "ids.1")), "cancelled");
	ck_assert_ptr_nonnull(strstr(tj_str(tj_job(c, tj_int(r, "ids.1")),
	    "cancel_reason"), "fail_fast"));
	tj_assert_ok(tj_req(c, "{'op':'cancel','id':%lld}", (long long)root));
	tj_close(c);
}
END_TEST

/* Cancel a waiting job; its own dependants follow; stats count waiting;
 * max_pending bounds waiting with scheduled. */
START_TEST(test_cancel_waiting_and_bounds)
{
	struct tj_conn *c;
	json_int_t a, b, d;
	char want[64];
	json_t *j;

	tj_start(TJ_DAEMON "[queue.default]\nworkers = 2\ncapacity = 100\n"
	    "max_pending = 3\n");
	c = tj_connect();
	a = tj_submit(c, "'kind':'sleep','args':{'seconds':60}");
	b = tj_submit(c, "'kind':'sleep','args':{'seconds':0},'after':[%lld]",
	    (long long)a);
	d = tj_submit(c, "'kind':'sleep','args':{'seconds':0},'after':[%lld]",
	    (long long)b);
	tj_submit(c, "'kind':'sleep','args':{'seconds':0},'delay':600");
	j = tj_req(c, "{'op':'stats'}");
	ck_assert_int_eq(tj_int(j, "queues.default.waiting"), 2);
	tj_assert_err(tj_req(c, "{'op':'submit','kind':'sleep','args':"
	    "{'seconds':0},'after':[%lld]}", (long long)a), "queue_full");
	tj_assert_ok(tj_req(c, "{'op':'cancel','id':%lld}", (long long)b));
	j = tj_wait(c, d, TJ_TIMEOUT);
	snprintf(want, sizeof(want), "dependency: job %lld ended cancelled",
	    (long long)b);
	ck_assert_str_eq(tj_str(j, "cancel_reason"), want);
	ck_assert_str_eq(state_of(c, a), "running");
	j = tj_req(c, "{'op':'stats'}");
	ck_assert_int_eq(tj_int(j, "queues.default.waiting"), 0);
	tj_close(c);
}
END_TEST

/* A job with a run_at ahead goes scheduled when released. */
START_TEST(test_release_to_scheduled)
{
	struct tj_conn *c;
	json_int_t a, b;

	tj_start(DEPS_CONF);
	c = tj_connect();
	a = tj_submit(c, "'kind':'sleep','args':{'seconds':0.1}");
	b = tj_submit(c, "'kind':'sleep','args':{'seconds':0},'delay':3600,"
	    "'after':[%lld]", (long long)a);
	ck_assert_str_eq(state_of(c, b), "waiting");
	tj_wait(c, a, TJ_TIMEOUT);
	tj_wait_state(c, b, "scheduled", TJ_TIMEOUT);
	tj_close(c);
}
END_TEST

/* The next event on w (the harness keeps the line; the parse is kept
 * until the next call). */
static json_t *
next_event(struct tj_conn *w)
{
	static json_t *last;
	char *line = tj_line(w, TJ_TIMEOUT);

	ck_assert_msg(line != NULL, "no event");
	json_decref(last);
	last = json_loads(line, 0, NULL);
	ck_assert_ptr_nonnull(last);
	return last;
}

/* The watch stream shows waiting -> queued -> ... and a cascade cancel. */
START_TEST(test_watch_events)
{
	struct tj_conn *c, *w;
	json_int_t a, b, d;
	const char *want[] = { "waiting", "queued", "running", "succeeded" };
	int k = 0, cancelled = 0;
	json_t *ev = NULL;

	tj_start(DEPS_CONF);
	c = tj_connect();
	w = tj_connect();
	tj_assert_ok(tj_req(w, "{'op':'watch'}"));
	a = tj_submit(c, "'kind':'sleep','args':{'seconds':0.2}");
	b = tj_submit(c, "'kind':'sleep','args':{'seconds':0},'after':[%lld]",
	    (long long)a);
	tj_wait(c, b, TJ_TIMEOUT);
	while (k < 4) {
		ev = next_event(w);
		if (tj_int(ev, "job.id") != b)
			continue;
		ck_assert_str_eq(tj_str(ev, "job.state"), want[k]);
		k++;
	}
	a = tj_submit(c, "'kind':'sleep','args':{'seconds':60}");
	d = tj_submit(c, "'kind':'sleep','args':{'seconds':0},'after':[%lld]",
	    (long long)a);
	tj_assert_ok(tj_req(c, "{'op':'cancel','id':%lld}", (long long)a));
	while (!cancelled) {
		ev = next_event(w);
		if (tj_int(ev, "job.id") == d &&
		    strcmp(tj_str(ev, "job.state"), "cancelled") == 0)
			cancelled = 1;
	}
	ck_assert_ptr_nonnull(strstr(tj_str(ev, "job.cancel_reason"),
	    "dependency: job"));
	tj_close(w);
	tj_close(c);
}
END_TEST

/* prune keeps a job a waiting one depends on, until that one ends. */
START_TEST(test_prune_keeps_dependencies)
{
	struct tj_conn *c;
	json_int_t a, x, b;
	json_t *r;

	tj_start(DEPS_CONF);
	c = tj_connect();
	a = tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
	x = tj_submit(c, "'kind':'sleep','args':{'seconds':60}");
	b = tj_submit(c, "'kind':'sleep','args':{'seconds':0},"
	    "'after':[%lld,%lld]", (long long)a, (long long)x);
	tj_wait(c, a, TJ_TIMEOUT);
	r = tj_req(c, "{'op':'prune','before':%lld}", (long long)time(NULL) +
	    10);
	tj_assert_ok(r);
	ck_assert_int_eq(tj_int(r, "deleted"), 0);
	ck_assert_str_eq(state_of(c, a), "succeeded");
	tj_assert_ok(tj_req(c, "{'op':'cancel','id':%lld}", (long long)x));
	tj_wait(c, b, TJ_TIMEOUT);
	r = tj_req(c, "{'op':'prune','before':%lld}", (long long)time(NULL) +
	    10);
	ck_assert_int_eq(tj_int(r, "deleted"), 3);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM job_deps"), 0);
	tj_close(c);
}
END_TEST

/* Waiting jobs come back after a stop, and run once their dependency
 * ends in the next run. */
START_TEST(test_restart_keeps_waiting)
{
	struct tj_conn *c;
	json_int_t a, b;

	tj_start(DEPS_CONF);
	c = tj_connect();
	a = tj_submit(c, "'kind':'sleep','args':{'seconds':1}");
	b = tj_submit(c, "'kind':'sleep','args':{'seconds':0},'after':[%lld]",
	    (long long)a);
	tj_wait_state(c, a, "running", TJ_TIMEOUT);
	tj_close(c);
	tj_kill();
	tj_restart();
	c = tj_connect();
	ck_assert_str_eq(state_of(c, b), "waiting");
	ck_assert_str_eq(tj_str(tj_wait(c, b, TJ_TIMEOUT), "state"),
	    "succeeded");
	tj_close(c);
}
END_TEST

/* A chain of 10,000 waits below a root that times out; jobd is SIGKILLed
 * around the cascade, then restarted: every member ends cancelled, in
 * one transaction (one finished_at), and none stays waiting. */
START_TEST(test_kill_during_cascade)
{
	enum { N = 10000 };
	struct tj_conn *c;
	json_int_t root;
	char *req;
	size_t n = 0;
	json_t *r;

	tj_start(DEPS_CONF);
	c = tj_connect();
	root = tj_submit(c, "'kind':'sleep','args':{'seconds':5},"
	    "'timeout':%f", 0.5 + 0.1 * (_i % 3));
	req = malloc(N * 96);
	n += (size_t)sprintf(req, "{\"op\":\"submit_group\",\"jobs\":[");
	for (int i = 0; i < N; i++) {
		n += (size_t)sprintf(req + n, "%s{\"kind\":\"sleep\",\"args\":"
		    "{\"seconds\":0},\"after\":[", i > 0 ? "," : "");
		if (i == 0)
			n += (size_t)sprintf(req + n, "%lld]}", (long long)root);
		else
			n += (size_t)sprintf(req + n, "{\"member\":%d}]}", i - 1);
	}
	sprintf(req + n, "]}");
	r = tj_req(c, "%s", req);
	free(req);
	tj_assert_ok(r);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs WHERE state = "
	    "'waiting'"), N);
	/* Kill about when the root times out. */
	usleep((useconds_t)((0.45 + 0.1 * (_i % 3)) * 1e6 +
	    (double)(_i * 37 % 100) * 1000));
	tj_close(c);
	tj_kill();
	tj_restart();
	c = tj_connect();
	r = tj_wait(c, root, TJ_TIMEOUT * 2);
	tj_wait(c, root + N, TJ_TIMEOUT * 2);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs WHERE state = "
	    "'waiting'"), 0);
	if (strcmp(tj_str(r, "state"), "timed_out") == 0) {
		ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs WHERE "
		    "state = 'cancelled' AND cancel_reason LIKE "
		    "'dependency: job %%'"), N);
		ck_assert_int_eq(tj_sql_int("SELECT count(DISTINCT finished_at) "
		    "FROM jobs WHERE id > %lld", (long long)root), 1);
	}
	tj_close(c);
}
END_TEST

/* ---- another user's jobs (real users, tu_users.h) ------------------------ */

static struct tu_user alice, bob;
static char sock_group[32], setup_err[256];

static void
users_setup(void)
{
	tu_group_add(sock_group, sizeof(sock_group), "jddg", setup_err,
	    sizeof(setup_err));
	tu_user_add(&alice, "jdd1", sock_group, setup_err, sizeof(setup_err));
	tu_user_add(&bob, "jdd2", sock_group, setup_err, sizeof(setup_err));
}

static void
users_teardown(void)
{
	tu_user_del(&alice);
	tu_user_del(&bob);
	tu_group_del(sock_group);
}

#define XU_CONF TJ_DAEMON "socket_mode = 0660\nsocket_group = %s\n%s" \
	"[queue.default]\nworkers = 8\ncapacity = 100\ntimeout = 0\n"

/* A sleep 0 job of c's after [id]. */
static json_int_t
after_one(struct tj_conn *c, json_int_t id)
{
	return tj_submit(c, "'kind':'sleep','args':{'seconds':0},'after':"
	    "[%lld]", (long long)id);
}

/* Bob's after [id] is refused exactly as for a job that does not exist,
 * alone and in a group, and leaves no row. */
static void
assert_after_hidden(struct tj_conn *b, json_int_t id)
{
	char want[64];
	json_t *r;

	snprintf(want, sizeof(want), "field \"after\": no job %lld",
	    (long long)id);
	r = tj_req(b, "{'op':'submit','kind':'sleep','args':{'seconds':0},"
	    "'after':[%lld]}", (long long)id);
	tj_assert_err(r, "not_found");
	ck_assert_str_eq(tj_str(r, "error.message"), want);
	r = tj_req(b, "{'op':'submit_group','jobs':[{'kind':'sleep','args':"
	    "{'seconds':0}},{'kind':'sleep','args':{'seconds':0},'after':"
	    "[{'member':0},%lld]}]}", (long long)id);
	tj_assert_err(r, "not_found");
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs WHERE "
	    "submit_uid = %lld", (long long)bob.uid), 0);
}

/* visibility = own: alice's jobs, running or ended, are not bob's to
 * depend on (not_found, as a get answers); his own, and root's on
 * anyone's, are.  After a reload to visibility = all they are his too,
 * and her job's end decides his waiting job. */
START_TEST(test_cross_user)
{
	struct tj_conn *root, *a, *b;
	json_int_t live, done, mine, d1, d2, d3, d4;
	double end;

	ck_assert_msg(setup_err[0] == '\0', "%s", setup_err);
	tj_start(XU_CONF, sock_group, "");
	tu_open_dirs(tj_path("jobd.sock"));
	root = tj_connect();
	a = tj_adopt(tu_connect_as(&alice, tj_path("jobd.sock")));
	b = tj_adopt(tu_connect_as(&bob, tj_path("jobd.sock")));
	live = tj_submit(a, "'kind':'sleep','args':{'seconds':60}");
	done = tj_submit(a, "'kind':'sleep','args':{'seconds':0}");
	tj_wait(a, done, TJ_TIMEOUT);
	assert_after_hidden(b, live);
	assert_after_hidden(b, done);
	assert_after_hidden(b, done + 1000);

	mine = tj_submit(b, "'kind':'sleep','args':{'seconds':0}");
	d1 = after_one(b, mine);
	d2 = after_one(root, done);
	ck_assert_str_eq(tj_str(tj_wait(b, d1, TJ_TIMEOUT), "state"),
	    "succeeded");
	ck_assert_str_eq(tj_str(tj_wait(root, d2, TJ_TIMEOUT), "state"),
	    "succeeded");

	tj_conf(XU_CONF, sock_group, "visibility = all\n");
	tj_signal(SIGHUP);
	end = tj_now() + TJ_TIMEOUT;
	while (tj_code(tj_req(b, "{'op':'get','id':%lld}", (long long)live)) !=
	    NULL) {
		ck_assert_msg(tj_now() < end, "the reload did not apply");
		tj_sleep(0.05);
	}
	d3 = after_one(b, done);
	d4 = after_one(b, live);
	ck_assert_str_eq(tj_str(tj_wait(b, d3, TJ_TIMEOUT), "state"),
	    "succeeded");
	ck_assert_str_eq(tj_str(tj_job(b, d4), "state"), "waiting");
	tj_assert_ok(tj_req(a, "{'op':'cancel','id':%lld}", (long long)live));
	ck_assert_str_eq(tj_str(tj_wait(b, d4, TJ_TIMEOUT), "state"),
	    "cancelled");
	ck_assert_ptr_nonnull(strstr(tj_str(tj_job(b, d4), "cancel_reason"),
	    "ended cancelled"));
	tj_close(b);
	tj_close(a);
	tj_close(root);
}
END_TEST

static Suite *
jobd_deps_suite(void)
{
	Suite *s = suite_create("jobd_deps");
	TCase *tc = tj_tcase("deps", 120), *tu;

	tcase_add_test(tc, test_chain_in_order);
	tcase_add_test(tc, test_failure_cascades);
	tcase_add_test(tc, test_ended_dependency);
	tcase_add_test(tc, test_bad_input);
	tcase_add_test(tc, test_groups);
	tcase_add_test(tc, test_cancel_waiting_and_bounds);
	tcase_add_test(tc, test_release_to_scheduled);
	tcase_add_test(tc, test_watch_events);
	tcase_add_test(tc, test_prune_keeps_dependencies);
	tcase_add_test(tc, test_restart_keeps_waiting);
	tcase_add_loop_test(tc, test_kill_during_cascade, 0, 3);
	suite_add_tcase(s, tc);
	if (!tu_users_possible()) {
		printf("test_jobd_deps: cross_user skipped: making test users "
		    "needs root and %s\n", TU_USERADD);
		return s;
	}
	tu = tj_tcase("cross_user", 60);
	tcase_add_unchecked_fixture(tu, users_setup, users_teardown);
	tcase_add_test(tu, test_cross_user);
	suite_add_tcase(s, tu);
	return s;
}

int
main(void)
{
	return tu_main(jobd_deps_suite());
}
