/*
 * test_jobd_rerun.c — the contract's "Runs after a crash" against the real
 * jobd: jobs running at a SIGKILL are run again only where their kind says
 * it is safe (sleep, exec, http GET/HEAD/OPTIONS/PUT/DELETE), and end
 * failed with the contract's error otherwise (http POST and PATCH), in the
 * recovery's own transaction; a server that counts requests shows a POST
 * was never sent twice.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "tu_httpd.h"
#include "tu_jobd.h"

#define RERUN_CONF TJ_DAEMON "http_allow = 127.0.0.0/8\n" \
	"[queue.default]\nworkers = 16\ncapacity = 100\ntimeout = 0\n"

static json_int_t
submit_http(struct tj_conn *c, struct th_server *srv, const char *method)
{
	return tj_submit(c, "'kind':'http','args':{'url':'%s','method':'%s'}",
	    th_url(srv, "/hang"), method);
}

START_TEST(test_rerun_by_kind)
{
	static const char *const safe[] = { "GET", "HEAD", "OPTIONS", "PUT",
	    "DELETE" };
	static const char *const unsafe[] = { "POST", "PATCH" };
	struct th_server *srv = th_start(false);
	json_int_t ids_safe[5], ids_unsafe[2], ex, sl;
	struct tj_conn *c;
	struct th_stats st;
	json_t *job;
	char want[160];

	tj_start(RERUN_CONF);
	c = tj_connect();
	for (int i = 0; i < 5; i++)
		ids_safe[i] = submit_http(c, srv, safe[i]);
	for (int i = 0; i < 2; i++)
		ids_unsafe[i] = submit_http(c, srv, unsafe[i]);
	ex = tj_submit(c, "'kind':'exec','args':{'argv':['sleep','30']}");
	sl = tj_submit(c, "'kind':'sleep','args':{'seconds':30}");
	ck_assert(th_wait_requests(srv, 7, TJ_TIMEOUT));
	tj_wait_sql(9, "SELECT count(*) FROM jobs WHERE state = 'running'");
	tj_kill();
	tj_close(c);

	tj_restart();
	c = tj_connect();
	for (int i = 0; i < 2; i++) {
		job = tj_job(c, ids_unsafe[i]);
		ck_assert_str_eq(tj_str(job, "state"), "failed");
		snprintf(want, sizeof(want), "interrupted by a crash or stop; "
		    "not run again: %s is not idempotent", unsafe[i]);
		ck_assert_str_eq(tj_str(job, "error"), want);
		ck_assert_int_eq(tj_int(job, "attempts"), 1);
	}
	for (int i = 0; i < 5; i++) {
		job = tj_wait_state(c, ids_safe[i], "running", TJ_TIMEOUT);
		ck_assert_int_eq(tj_int(job, "attempts"), 2);
	}
	ck_assert_int_eq(tj_int(tj_wait_state(c, ex, "running", TJ_TIMEOUT),
	    "attempts"), 2);
	ck_assert_int_eq(tj_int(tj_wait_state(c, sl, "running", TJ_TIMEOUT),
	    "attempts"), 2);
	/* The five safe ones were sent again, the two others never. */
	ck_assert(th_wait_requests(srv, 12, TJ_TIMEOUT));
	tj_sleep(0.2);
	th_stats(srv, &st);
	ck_assert_int_eq(st.requests, 12);
	ck_assert_msg(strstr(tj_log(), "2 of them not safe to run again") !=
	    NULL, "%s", tj_log());
	tj_close(c);
	tj_kill();
	th_stop(srv);
}
END_TEST

/* Attempts left do not matter: a POST a crash cut is never sent twice,
 * and the decision is committed by the recovery itself (the row is
 * failed, not queued, so a second crash could not send it either). */
START_TEST(test_post_not_resent_with_attempts_left)
{
	struct th_server *srv = th_start(false);
	struct tj_conn *c;
	struct th_stats st;
	json_int_t id;

	tj_start(RERUN_CONF);
	c = tj_connect();
	id = tj_submit(c, "'kind':'http','args':{'url':'%s','method':'POST'},"
	    "'max_attempts':100", th_url(srv, "/hang"));
	ck_assert(th_wait_requests(srv, 1, TJ_TIMEOUT));
	tj_wait_sql(1, "SELECT count(*) FROM jobs WHERE state = 'running'");
	tj_kill();
	tj_close(c);
	tj_restart();
	c = tj_connect();
	ck_assert_str_eq(tj_str(tj_job(c, id), "state"), "failed");
	tj_sleep(0.2);
	th_stats(srv, &st);
	ck_assert_int_eq(st.requests, 1);
	/* The decision was committed with the recovery: the row is ended. */
	ck_assert_str_eq(tj_sql("SELECT state FROM jobs WHERE id = %lld",
	    (long long)id), "failed");
	tj_close(c);
	th_stop(srv);
}
END_TEST

/* The submit field overrides the kind's rule either way. */
START_TEST(test_idempotent_overrides)
{
	struct th_server *srv = th_start(false);
	struct tj_conn *c;
	json_int_t post, ex;
	json_t *job;

	tj_start(RERUN_CONF);
	c = tj_connect();
	post = tj_submit(c, "'kind':'http','args':{'url':'%s','method':'POST'},"
	    "'idempotent':true", th_url(srv, "/hang"));
	ex = tj_submit(c, "'kind':'exec','args':{'argv':['sleep','30']},"
	    "'idempotent':false");
	ck_assert(th_wait_requests(srv, 1, TJ_TIMEOUT));
	tj_wait_sql(2, "SELECT count(*) FROM jobs WHERE state = 'running'");
	tj_kill();
	tj_close(c);
	tj_restart();
	c = tj_connect();
	job = tj_wait_state(c, post, "running", TJ_TIMEOUT);
	ck_assert_int_eq(tj_int(job, "attempts"), 2);
	job = tj_job(c, ex);
	ck_assert_str_eq(tj_str(job, "state"), "failed");
	ck_assert_str_eq(tj_str(job, "error"), "interrupted by a crash or "
	    "stop; not run again: submitted with \"idempotent\": false");
	ck_assert(th_wait_requests(srv, 2, TJ_TIMEOUT));
	tj_close(c);
	tj_kill();
	th_stop(srv);
}
END_TEST

/* A stop (SIGTERM) follows the same rule: the running GET goes back to
 * queued for the next start, the running POST ends failed now. */
START_TEST(test_stop_follows_the_rule)
{
	struct th_server *srv = th_start(false);
	struct tj_conn *c;
	json_int_t get, post;

	tj_start("sync = normal\nshutdown_grace = 0.2\nhttp_allow = 127.0.0.0/8\n"
	    "[queue.default]\nworkers = 4\ncapacity = 100\ntimeout = 0\n");
	c = tj_connect();
	get = submit_http(c, srv, "GET");
	post = submit_http(c, srv, "POST");
	ck_assert(th_wait_requests(srv, 2, TJ_TIMEOUT));
	tj_wait_sql(2, "SELECT count(*) FROM jobs WHERE state = 'running'");
	tj_close(c);
	tj_stop();
	ck_assert_str_eq(tj_sql("SELECT state FROM jobs WHERE id = %lld",
	    (long long)get), "queued");
	ck_assert_str_eq(tj_sql("SELECT state || ': ' || error FROM jobs "
	    "WHERE id = %lld", (long long)post), "failed: interrupted by a "
	    "crash or stop; not run again: POST is not idempotent");
	th_stop(srv);
}
END_TEST

static Suite *
jobd_rerun_suite(void)
{
	Suite *s = suite_create("jobd_rerun");
	TCase *tc = tj_tcase("rerun", 60);

	tcase_add_test(tc, test_rerun_by_kind);
	tcase_add_test(tc, test_post_not_resent_with_attempts_left);
	tcase_add_test(tc, test_idempotent_overrides);
	tcase_add_test(tc, test_stop_follows_the_rule);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(jobd_rerun_suite());
}
