/*
 * test_jobd_http.c — `http` jobs through the real jobd (tu_jobd.h) against
 * the local server of tu_httpd.h: results and failures as the protocol and
 * the database show them, timeouts, cancels, fail_fast groups and stops
 * that close the request's connection (seen by the server), connection
 * reuse and the per-host limit (counted by the server), the output cap,
 * https verification, the config keys that turn http off, the
 * destination lists (http_allow, http_deny, also across a reload), the
 * cap on a trickling response (http_max_time) and IPv6 literals.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tu_httpd.h"
#include "tu_jobd.h"
#include "tu_pg.h"

static struct th_server *srv;

/* The server is on the loopback, which jobd denies unless allowed. */
#define HTTP_ALLOW "http_allow = 127.0.0.0/8 ::1\n"

/* jobd with [daemon] keys (the loopback not allowed unless they say so)
 * and one queue of workers, and the server. */
static struct tj_conn *
start_keys(bool tls, const char *daemon, int workers)
{
	srv = th_start(tls);
	tj_start(TJ_DAEMON "%s\n[queue.default]\nworkers = %d\n"
	    "capacity = 1000\ntimeout = 30\n", daemon, workers);
	return tj_connect();
}

/* The same with the loopback allowed and more [daemon] keys. */
static struct tj_conn *
start(bool tls, const char *daemon, int workers)
{
	char keys[256];

	snprintf(keys, sizeof(keys), "%s%s", HTTP_ALLOW, daemon);
	return start_keys(tls, keys, workers);
}

/* Stop jobd first: its connections end before the server's. */
static void
finish(void)
{
	tj_stop();
	th_stop(srv);
	srv = NULL;
}

static json_int_t
submit_get(struct tj_conn *c, const char *path, const char *more)
{
	return tj_submit(c, "'kind':'http','args':{'url':'%s'}%s",
	    th_url(srv, path), more);
}

/* ---- results ------------------------------------------------------------- */

START_TEST(test_results)
{
	struct tj_conn *c = start(false, "", 4);
	json_int_t ok, nf, err, moved, chunked;
	json_t *job;

	ok = submit_get(c, "/status/200", "");
	nf = submit_get(c, "/status/404", "");
	err = submit_get(c, "/status/500", "");
	moved = submit_get(c, "/redirect", "");
	chunked = submit_get(c, "/chunked/3", "");

	job = tj_wait(c, ok, 10);
	ck_assert_str_eq(tj_str(job, "state"), "succeeded");
	ck_assert_int_eq(tj_int(job, "result.status"), 200);
	ck_assert_str_eq(tj_str(job, "result.body"), "status 200\n");
	ck_assert_str_eq(tj_str(job, "result.headers.content-length"), "11");
	ck_assert(json_is_false(tj_at(job, "result.truncated")));
	ck_assert(tj_null(job, "error"));

	job = tj_wait(c, nf, 10);
	ck_assert_str_eq(tj_str(job, "state"), "failed");
	ck_assert_str_eq(tj_str(job, "error"), "HTTP 404 Not Found");
	ck_assert_int_eq(tj_int(job, "result.status"), 404);
	job = tj_wait(c, err, 10);
	ck_assert_str_eq(tj_str(job, "state"), "failed");
	ck_assert_str_eq(tj_str(job, "error"),
	    "HTTP 500 Internal Server Error");
	ck_assert_int_eq(tj_int(job, "result.status"), 500);

	job = tj_wait(c, moved, 10);
	ck_assert_str_eq(tj_str(job, "state"), "succeeded");
	ck_assert_int_eq(tj_int(job, "result.status"), 302);
	ck_assert_str_eq(tj_str(job, "result.headers.location"),
	    "/status/200");
	job = tj_wait(c, chunked, 10);
	ck_assert_str_eq(tj_str(job, "result.body"),
	    "chunk 0\nchunk 1\nchunk 2\n");
	/* The result is JSON in the database too. */
	ck_assert_int_eq(tj_sql_int(tu_pg_wanted() ?
	    "SELECT result->>'status' FROM jobs WHERE id = %lld" :
	    "SELECT json_extract(result, '$.status') FROM jobs WHERE id = "
	    "%lld", (long long)nf), 404);
	ck_assert_str_eq(tj_sql(tu_pg_wanted() ?
	    "SELECT result->'headers'->>'location' FROM jobs WHERE id = %lld" :
	    "SELECT json_extract(result, '$.headers.location') FROM jobs "
	    "WHERE id = %lld", (long long)moved), "/status/200");
	finish();
}
END_TEST

START_TEST(test_request_delivered)
{
	struct tj_conn *c = start(false, "", 4);
	const char *body;
	json_int_t id;

	id = tj_submit(c, "'kind':'http','args':{'url':'%s','method':'PATCH',"
	    "'headers':{'X-Job':'yes','Content-Type':'application/json'},"
	    "'body':'{\\'a\\':1}'}", th_url(srv, "/echo?q=1"));
	body = tj_str(tj_wait(c, id, 10), "result.body");
	ck_assert_msg(strncmp(body, "PATCH /echo?q=1 HTTP/1.1\r\n", 26) == 0,
	    "%s", body);
	ck_assert_msg(strstr(body, "\r\nX-Job: yes\r\n") != NULL, "%s", body);
	ck_assert_msg(strstr(body, "\r\nContent-Type: application/json\r\n")
	    != NULL, "%s", body);
	ck_assert_msg(strstr(body, "\r\nContent-Length: 7\r\n") != NULL, "%s",
	    body);
	ck_assert_msg(strstr(body, "\r\n\r\n{\"a\":1}") != NULL, "%s", body);
	finish();
}
END_TEST

START_TEST(test_bad_args_refused)
{
	struct tj_conn *c = start(false, "", 4);
	json_t *a;

	a = tj_req(c, "{'op':'submit','kind':'http','args':{'url':"
	    "'ftp://x/'}}");
	tj_assert_err(a, "bad_request");
	ck_assert_msg(strstr(tj_str(a, "error.message"), "http://") != NULL,
	    "%s", tj_dump(a));
	tj_assert_err(tj_req(c, "{'op':'submit','kind':'http','args':{}}"),
	    "bad_request");
	tj_assert_err(tj_req(c, "{'op':'submit','kind':'http','args':{'url':"
	    "'http://h/','method':'BREW'}}"), "bad_request");
	a = tj_req(c, "{'op':'submit','kind':'http','args':{'url':'http://h/',"
	    "'headers':{'X':'a\\r\\nEvil: 1'}}}");
	tj_assert_err(a, "bad_request");
	ck_assert_msg(strstr(tj_str(a, "error.message"), "CR, LF") != NULL,
	    "%s", tj_dump(a));
	/* Nothing was stored. */
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs"), 0);
	finish();
}
END_TEST

START_TEST(test_turned_off)
{
	struct tj_conn *c = start(false, "allow_http = no", 4);
	json_t *a;

	a = tj_req(c, "{'op':'submit','kind':'http','args':{'url':'%s'}}",
	    th_url(srv, "/status/200"));
	tj_assert_err(a, "forbidden");
	ck_assert_msg(strstr(tj_str(a, "error.message"), "allow_http") != NULL,
	    "%s", tj_dump(a));
	finish();
}
END_TEST

START_TEST(test_connection_refused)
{
	struct tj_conn *c = start(false, "", 4);
	json_int_t id;
	char want[64];
	json_t *job;

	id = tj_submit(c, "'kind':'http','args':{'url':'http://127.0.0.1:%d/'}",
	    th_dead_port(srv));
	job = tj_wait(c, id, 10);
	ck_assert_str_eq(tj_str(job, "state"), "failed");
	snprintf(want, sizeof(want), "connect to 127.0.0.1:%d: Connection "
	    "refused", th_dead_port(srv));
	ck_assert_str_eq(tj_str(job, "error"), want);
	ck_assert(tj_null(job, "result"));
	finish();
}
END_TEST

START_TEST(test_output_capped)
{
	struct tj_conn *c = start(false, "max_output = 1000", 4);
	json_int_t id;
	json_t *job;

	id = submit_get(c, "/bytes/20000000", "");
	job = tj_wait(c, id, 10);
	ck_assert_str_eq(tj_str(job, "state"), "succeeded");
	ck_assert_int_eq(strlen(tj_str(job, "result.body")), 1000);
	ck_assert(json_is_true(tj_at(job, "result.truncated")));
	/* The connection was closed at the cap, not read to its end. */
	ck_assert(th_wait_closed(srv, 1, TJ_TIMEOUT));
	finish();
}
END_TEST

/* ---- stopping a request -------------------------------------------------- */

START_TEST(test_timeout_closes)
{
	struct tj_conn *c = start(false, "", 4);
	json_int_t id;
	json_t *job;

	id = submit_get(c, "/hang", ",'timeout':0.5");
	job = tj_wait(c, id, 10);
	ck_assert_str_eq(tj_str(job, "state"), "timed_out");
	tj_assert_time(tj_num(job, "finished_at") - tj_num(job, "started_at"),
	    0.5, 1.0);
	ck_assert(th_wait_closed(srv, 1, TJ_TIMEOUT));
	/* The host is usable again, on a new connection. */
	id = submit_get(c, "/status/200", "");
	ck_assert_str_eq(tj_str(tj_wait(c, id, 10), "state"), "succeeded");
	finish();
}
END_TEST

START_TEST(test_cancel_closes)
{
	struct tj_conn *c = start(false, "", 4);
	struct th_stats st;
	json_int_t id;

	id = submit_get(c, "/hang", "");
	ck_assert(th_wait_requests(srv, 1, TJ_TIMEOUT));
	tj_assert_ok(tj_req(c, "{'op':'cancel','id':%lld,'reason':'enough'}",
	    (long long)id));
	ck_assert_str_eq(tj_str(tj_job(c, id), "state"), "cancelled");
	ck_assert(th_wait_closed(srv, 1, TJ_TIMEOUT));
	th_stats(srv, &st);
	ck_assert_int_eq(st.conns, 1);
	finish();
}
END_TEST

START_TEST(test_stop_requeues)
{
	struct tj_conn *c = start(false, "", 4);
	json_int_t id;

	/* SIGTERM with a request in flight: after shutdown_grace the job is
	 * stopped (its connection closed) and goes back to queued. */
	id = submit_get(c, "/hang", "");
	ck_assert(th_wait_requests(srv, 1, TJ_TIMEOUT));
	ck_assert_int_eq(tj_term(TJ_TIMEOUT * 3, NULL), 0);
	ck_assert(th_wait_closed(srv, 1, TJ_TIMEOUT));
	ck_assert_str_eq(tj_sql("SELECT state FROM jobs WHERE id = %lld",
	    (long long)id), "queued");
	th_stop(srv);
}
END_TEST

START_TEST(test_fail_fast_url_checks)
{
	struct tj_conn *c = start(false, "", 8);
	char reason[128];
	json_int_t g;
	json_t *a;

	/* README's example: a batch of URL checks, one of which is down. */
	a = tj_req(c, "{'op':'submit_group','mode':'fail_fast','jobs':["
	    "{'kind':'http','args':{'url':'%s'}},"
	    "{'kind':'http','args':{'url':'%s'}},"
	    "{'kind':'http','args':{'url':'%s'}}]}",
	    th_url(srv, "/hang"), th_url(srv, "/slow/300"),
	    th_url(srv, "/status/503"));
	tj_assert_ok(a);
	g = tj_int(a, "group");
	a = tj_req(c, "{'op':'wait','group':%lld,'timeout':10}", (long long)g);
	tj_assert_ok(a);
	ck_assert_str_eq(tj_str(a, "jobs.2.state"), "failed");
	ck_assert_str_eq(tj_str(a, "jobs.2.error"),
	    "HTTP 503 Service Unavailable");
	snprintf(reason, sizeof(reason), "fail_fast: job %lld of group %lld "
	    "ended failed (HTTP 503 Service Unavailable)",
	    (long long)tj_int(a, "jobs.2.id"), (long long)g);
	ck_assert_str_eq(tj_str(a, "jobs.0.state"), "cancelled");
	ck_assert_str_eq(tj_str(a, "jobs.0.cancel_reason"), reason);
	ck_assert_str_eq(tj_str(a, "jobs.1.state"), "cancelled");
	/* Both stopped requests closed their connections. */
	ck_assert(th_wait_closed(srv, 2, TJ_TIMEOUT));
	finish();
}
END_TEST

/* ---- the pool ------------------------------------------------------------ */

/* n GETs of path as one group; returns once all ended (asserted ok). */
static void
group_of(struct tj_conn *c, int n, const char *path)
{
	char *req = NULL, *p;
	size_t len, size;
	FILE *f = open_memstream(&req, &size);
	json_t *a;

	ck_assert_ptr_nonnull(f);
	fprintf(f, "{'op':'submit_group','jobs':[");
	for (int i = 0; i < n; i++)
		fprintf(f, "%s{'kind':'http','args':{'url':'%s'}}", i ? "," :
		    "", th_url(srv, path));
	fprintf(f, "]}");
	fclose(f);
	for (p = req, len = strlen(req); p < req + len; p++)
		if (*p == '\'')
			*p = '"';
	tj_write(c, req, len);
	tj_write(c, "\n", 1);
	free(req);
	a = tj_recv(c);
	tj_assert_ok(a);
	a = tj_req(c, "{'op':'wait','group':%lld,'timeout':30}",
	    (long long)tj_int(a, "group"));
	tj_assert_ok(a);
	for (int i = 0; i < n; i++)
		ck_assert_msg(strcmp(json_string_value(json_object_get(
		    json_array_get(json_object_get(a, "jobs"), (size_t)i),
		    "state")), "succeeded") == 0, "%s", tj_dump(a));
}

START_TEST(test_connections_reused)
{
	struct tj_conn *c = start(false, "http_per_host = 2", 8);
	struct th_stats st;

	group_of(c, 100, "/status/200");
	th_stats(srv, &st);
	ck_assert_int_eq(st.requests, 100);
	ck_assert_int_ge(st.conns, 1);
	ck_assert_int_le(st.conns, 2);
	ck_assert_int_le(st.max_inflight, 2);
	/* Still the same connections a moment later. */
	group_of(c, 10, "/chunked/2");
	th_stats(srv, &st);
	ck_assert_int_le(st.conns, 2);
	ck_assert_int_eq(st.closed, 0);
	finish();
}
END_TEST

START_TEST(test_per_host_limit)
{
	struct tj_conn *c = start(false, "http_per_host = 2", 8);
	struct th_stats st;
	double t0 = tj_now();

	/* 20 requests of 100 ms on 8 workers, 2 at a time: 10 rounds. */
	group_of(c, 20, "/slow/100");
	tj_assert_time(tj_now() - t0, 1.0, 1.5);
	th_stats(srv, &st);
	ck_assert_int_eq(st.max_inflight, 2);
	ck_assert_int_eq(st.conns, 2);
	ck_assert_int_eq(st.requests, 20);
	finish();
}
END_TEST

/* ---- https --------------------------------------------------------------- */

START_TEST(test_https)
{
	struct tj_conn *c;
	json_int_t id;
	json_t *job;

	/* jobd trusts the server's certificate (SSL_CERT_FILE, read at
	 * the first https job): localhost verifies, 127.0.0.1 does not. */
	srv = th_start(true);
	setenv("SSL_CERT_FILE", th_cert_file(srv), 1);
	tj_start(TJ_DAEMON HTTP_ALLOW "[queue.default]\nworkers = 4\n"
	    "capacity = 10\n"
	    "timeout = 30\n");
	unsetenv("SSL_CERT_FILE");
	c = tj_connect();
	id = tj_submit(c, "'kind':'http','args':{'url':'https://localhost:%d"
	    "/status/200'}", th_port(srv));
	job = tj_wait(c, id, 10);
	ck_assert_str_eq(tj_str(job, "state"), "succeeded");
	ck_assert_str_eq(tj_str(job, "result.body"), "status 200\n");
	id = tj_submit(c, "'kind':'http','args':{'url':'https://127.0.0.1:%d"
	    "/status/200'}", th_port(srv));
	job = tj_wait(c, id, 10);
	ck_assert_str_eq(tj_str(job, "state"), "failed");
	ck_assert_msg(strstr(tj_str(job, "error"), "certificate verify failed")
	    != NULL, "%s", tj_dump(job));
	finish();
}
END_TEST

START_TEST(test_https_self_signed_fails)
{
	struct tj_conn *c = start(true, "", 4);
	json_int_t id;
	json_t *job;

	id = tj_submit(c, "'kind':'http','args':{'url':"
	    "'https://localhost:%d/'}", th_port(srv));
	job = tj_wait(c, id, 10);
	ck_assert_str_eq(tj_str(job, "state"), "failed");
	ck_assert_msg(strstr(tj_str(job, "error"), "certificate verify failed:"
	    " self-signed certificate") != NULL, "%s", tj_dump(job));
	finish();
}
END_TEST

/* ---- where jobs may go: http_allow, http_deny ----------------------------- */

/* With the loopback closed (http_loopback = no) and no http_allow, no
 * spelling of this host, its link or the metadata service is reached:
 * each job fails naming the address and the key, and the server never
 * sees a connection. */
START_TEST(test_destination_denied)
{
	static const char *const urls[] = {
		"http://localhost:%d/", "http://[::ffff:127.0.0.1]:%d/",
		"http://0.0.0.0:%d/", "http://[::]:%d/", "http://[::1]:%d/",
		"http://127.1.2.3:%d/", "http://169.254.169.254:%d/",
		"http://[fd00:ec2::254]:%d/", "http://[fe80::1]:%d/",
	};
	struct tj_conn *c;
	struct th_stats st;
	char want[200];
	json_int_t id;
	json_t *job;

	c = start_keys(false, "http_loopback = no", 4);
	job = tj_wait(c, submit_get(c, "/status/200", ""), 10);
	ck_assert_str_eq(tj_str(job, "state"), "failed");
	snprintf(want, sizeof(want), "destination 127.0.0.1 of 127.0.0.1:%d "
	    "is denied: loopback (127.0.0.0/8) address; list it in http_allow "
	    "to reach it", th_port(srv));
	ck_assert_str_eq(tj_str(job, "error"), want);
	ck_assert(tj_null(job, "result"));
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		snprintf(want, sizeof(want), urls[i], th_port(srv));
		id = tj_submit(c, "'kind':'http','args':{'url':'%s'}", want);
		job = tj_wait(c, id, 10);
		ck_assert_str_eq(tj_str(job, "state"), "failed");
		ck_assert_msg(strstr(tj_str(job, "error"), "is denied: ") &&
		    strstr(tj_str(job, "error"), "http_allow"), "%s: %s",
		    want, tj_str(job, "error"));
	}
	th_stats(srv, &st);
	ck_assert_int_eq(st.conns, 0);
	finish();
}
END_TEST

/* http_loopback = auto (the default) follows allow_exec: where clients
 * may run programs, which reach the loopback anyway, http jobs reach it
 * too; where they may not, the loopback is closed to http as well.  The
 * link-local and metadata blocks stay closed either way. */
START_TEST(test_loopback_follows_exec)
{
	struct tj_conn *c;
	struct th_stats st;
	char url[64];
	json_t *job;

	c = start_keys(false, "", 4);
	job = tj_wait(c, submit_get(c, "/status/200", ""), 10);
	ck_assert_str_eq(tj_str(job, "state"), "succeeded");
	snprintf(url, sizeof(url), "http://169.254.169.254:%d/", th_port(srv));
	job = tj_wait(c, tj_submit(c, "'kind':'http','args':{'url':'%s'}",
	    url), 10);
	ck_assert_str_eq(tj_str(job, "state"), "failed");
	ck_assert_msg(strstr(tj_str(job, "error"), "cloud metadata"), "%s",
	    tj_str(job, "error"));
	th_stats(srv, &st);
	ck_assert_int_eq(st.requests, 1);
	finish();

	c = start_keys(false, "allow_exec = no", 4);
	job = tj_wait(c, submit_get(c, "/status/200", ""), 10);
	ck_assert_str_eq(tj_str(job, "state"), "failed");
	ck_assert_msg(strstr(tj_str(job, "error"), "is denied: loopback"),
	    "%s", tj_str(job, "error"));
	th_stats(srv, &st);
	ck_assert_int_eq(st.conns, 0);
	finish();

	c = start_keys(false, "allow_exec = no\nhttp_loopback = yes", 4);
	job = tj_wait(c, submit_get(c, "/status/200", ""), 10);
	ck_assert_str_eq(tj_str(job, "state"), "succeeded");
	finish();
}
END_TEST

/* http_deny closes what http_allow opened; a reload that takes the
 * loopback away applies to the kept-alive connection too. */
START_TEST(test_deny_and_reload)
{
	struct tj_conn *c;
	struct th_stats st;
	char want[200];
	json_int_t id;
	json_t *job;

	c = start_keys(false, "http_allow = 127.0.0.0/8\nhttp_deny = 127.0.0.2",
	    4);
	job = tj_wait(c, submit_get(c, "/status/200", ""), 10);
	ck_assert_str_eq(tj_str(job, "state"), "succeeded");
	id = tj_submit(c, "'kind':'http','args':{'url':'http://127.0.0.2:%d/'}",
	    th_port(srv));
	job = tj_wait(c, id, 10);
	snprintf(want, sizeof(want), "destination 127.0.0.2 of 127.0.0.2:%d "
	    "is denied by http_deny (127.0.0.2)", th_port(srv));
	ck_assert_str_eq(tj_str(job, "error"), want);

	tj_conf(TJ_DAEMON "http_loopback = no\n"
	    "[queue.default]\nworkers = 4\ntimeout = 30\n");
	tj_signal(SIGHUP);
	for (double end = tj_now() + TJ_TIMEOUT; !strstr(tj_log(),
	    "reloaded"); tj_sleep(0.01))
		ck_assert_msg(tj_now() < end, "no reload logged: %s", tj_log());
	job = tj_wait(c, submit_get(c, "/status/200", ""), 10);
	ck_assert_str_eq(tj_str(job, "state"), "failed");
	ck_assert_msg(strstr(tj_str(job, "error"), "is denied: loopback"),
	    "%s", tj_str(job, "error"));
	th_stats(srv, &st);
	ck_assert_int_eq(st.conns, 1);          /* the idle one, not reused */
	ck_assert_int_eq(st.requests, 1);
	finish();
}
END_TEST

/* A job without a timeout against a server that sends a byte every half
 * second (never silent for HTTP_IO_TIMEOUT) ends at http_max_time. */
START_TEST(test_trickle_capped)
{
	struct tj_conn *c = start(false, "http_max_time = 1.5", 4);
	char want[128];
	json_int_t id;
	json_t *job;

	id = submit_get(c, "/trickle/500", ",'timeout':0");
	job = tj_wait(c, id, 30);
	ck_assert_str_eq(tj_str(job, "state"), "failed");
	snprintf(want, sizeof(want), "127.0.0.1:%d: no whole response within "
	    "1.5 s (http_max_time)", th_port(srv));
	ck_assert_str_eq(tj_str(job, "error"), want);
	ck_assert_double_eq(tj_num(job, "timeout"), 0);
	ck_assert(th_wait_closed(srv, 1, TJ_TIMEOUT));
	finish();
}
END_TEST

/* http://[::1]:PORT/ needs no lookup: it works on a host whose only other
 * IPv6 addresses are ULA or link-local (AI_ADDRCONFIG would refuse it). */
START_TEST(test_ipv6_literal)
{
	struct tj_conn *c;
	json_t *job;

	if ((srv = th_start6(false)) == NULL) {
		fprintf(stderr, "\n*** test_ipv6_literal: SKIPPED: this host "
		    "has no ::1 (cannot bind [::1]); IPv6 literals NOT "
		    "TESTED ***\n\n");
		return;
	}
	tj_start(TJ_DAEMON HTTP_ALLOW "[queue.default]\nworkers = 2\n"
	    "timeout = 30\n");
	c = tj_connect();
	ck_assert_ptr_nonnull(strstr(th_url(srv, "/"), "[::1]"));
	job = tj_wait(c, submit_get(c, "/status/200", ""), 10);
	ck_assert_msg(strcmp(tj_str(job, "state"), "succeeded") == 0, "%s",
	    tj_dump(job));
	ck_assert_str_eq(tj_str(job, "result.body"), "status 200\n");
	finish();
}
END_TEST

/* ---- Retry-After -------------------------------------------------------- */

/* Seconds from attempt 1's end to attempt 2's start of job id. */
static double
retry_gap(struct tj_conn *c, json_int_t id)
{
	json_t *j = tj_req(c, "{'op':'get','id':%lld,'history':true}",
	    (long long)id);

	ck_assert_uint_eq(json_array_size(tj_at(j, "job.history")), 2);
	ck_assert_str_eq(tj_str(j, "job.history.0.state"), "failed");
	return tj_num(j, "job.history.1.started_at") -
	    tj_num(j, "job.history.0.finished_at");
}

/* A 503 with Retry-After: 2 delays the retry at least 2 s, over a
 * retry_delay of 0.05 s; Retry-After: 30 is still capped by
 * retry_max_delay (0.5 s); without the header the retry_delay holds. */
START_TEST(test_retry_after_honoured)
{
	struct tj_conn *c = start(false, "", 4);
	json_int_t a, b, d;
	double gap;

	a = submit_get(c, "/retry-after/2", ",'retries':1,'retry_delay':0.05");
	b = submit_get(c, "/retry-after/30", ",'retries':1,'retry_delay':0.05,"
	    "'retry_max_delay':0.5");
	d = submit_get(c, "/status/503", ",'retries':1,'retry_delay':0.05");
	ck_assert_str_eq(tj_str(tj_wait(c, a, TJ_TIMEOUT), "state"),
	    "failed");
	ck_assert_str_eq(tj_str(tj_wait(c, b, TJ_TIMEOUT), "state"),
	    "failed");
	ck_assert_str_eq(tj_str(tj_wait(c, d, TJ_TIMEOUT), "state"),
	    "failed");
	gap = retry_gap(c, a);
	tj_note("Retry-After 2: retried after %.3f s", gap);
	ck_assert_msg(gap >= 2.0 - 0.01, "retried after %.3f s", gap);
	gap = retry_gap(c, b);
	tj_note("Retry-After 30, max 0.5: retried after %.3f s", gap);
	ck_assert_msg(gap < 29, "retried after %.3f s: not capped", gap);
	gap = retry_gap(c, d);
	ck_assert_msg(gap < 1.9, "no Retry-After: retried after %.3f s", gap);
	ck_assert_int_eq(tj_int(tj_job(c, a), "attempts"), 2);
	tj_close(c);
	finish();
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("jobd_http");
	TCase *tc = tj_tcase("http", 30);

	unsetenv("SSL_CERT_FILE");
	tcase_add_test(tc, test_results);
	tcase_add_test(tc, test_request_delivered);
	tcase_add_test(tc, test_bad_args_refused);
	tcase_add_test(tc, test_turned_off);
	tcase_add_test(tc, test_connection_refused);
	tcase_add_test(tc, test_output_capped);
	tcase_add_test(tc, test_timeout_closes);
	tcase_add_test(tc, test_cancel_closes);
	tcase_add_test(tc, test_stop_requeues);
	tcase_add_test(tc, test_fail_fast_url_checks);
	tcase_add_test(tc, test_connections_reused);
	tcase_add_test(tc, test_per_host_limit);
	tcase_add_test(tc, test_https);
	tcase_add_test(tc, test_https_self_signed_fails);
	tcase_add_test(tc, test_destination_denied);
	tcase_add_test(tc, test_deny_and_reload);
	tcase_add_test(tc, test_loopback_follows_exec);
	tcase_add_test(tc, test_trickle_capped);
	tcase_add_test(tc, test_ipv6_literal);
	tcase_add_test(tc, test_retry_after_honoured);
	suite_add_tcase(s, tc);
	return tu_main(s);
}
