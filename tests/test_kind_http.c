/*
 * test_kind_http.c — the `http` kind in-process (kind_http.h, http_pool.h):
 * check() on every kind of bad args, then runs against the local server of
 * tu_httpd.h the way a worker runs them (in a task, under a deadline
 * scope), with the kind's state opened on the test's loop.  What the tests
 * assert about connections is counted on the server's side of the wire.
 *
 * test_jobd_http.c does the same through the real jobd; this file is the
 * one that valgrind sees the kind's code in.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "co.h"
#include "http_pool.h"
#include "kind.h"
#include "kind_http.h"
#include "netacl.h"
#include "testutil.h"
#include "tu_httpd.h"

static struct kind_env *env;
static struct th_server *srv;

struct job {
	char args[2048];
	double timeout;         /* CO_FOREVER: none */
	int rc;
	json_t *result;
	char error[KIND_ERROR_MAX];
	bool permanent;
	double elapsed;
};

static struct netacl *loopback;        /* http_allow of the env */

#define JOBS_MAX 128
static struct job *jobs[JOBS_MAX];
static size_t njobs;

/* ---- fixture ------------------------------------------------------------- */

/* The kinds' state on the test's loop. */
static struct kind_conf
env_conf(int per_host, size_t max_output, const struct netacl *allow,
    double max_time)
{
	struct kind_conf kc = {
		.max_output = max_output, .kill_grace = 1,
		.exec_concurrency = 1, .http_per_host = per_host,
		.allow_exec = true, .allow_http = true,
		.http_allow = allow, .http_max_time = max_time,
	};

	return kc;
}

static void
open_env(int per_host, size_t max_output)
{
	struct kind_conf kc;
	char msg[256];

	/* The server is on the loopback, denied unless allowed. */
	netacl_free(loopback);
	ck_assert_int_eq(netacl_parse("127.0.0.0/8 ::1", &loopback, msg,
	    sizeof(msg)), 0);
	kc = env_conf(per_host, max_output, loopback, 600);
	ck_assert_int_eq(kind_env_open(tu_base, &kc, &env), 0);
}

/* A server (https with tls), and the kinds' state. */
static void
start(bool tls, int per_host, size_t max_output)
{
	srv = th_start(tls);
	open_env(per_host, max_output);
}

static void
setup(void)
{
	tu_setup();
}

static void
teardown(void)
{
	kind_env_close(env);
	env = NULL;
	netacl_free(loopback);
	loopback = NULL;
	if (srv != NULL)
		th_stop(srv);
	srv = NULL;
	while (njobs > 0) {
		json_decref(jobs[--njobs]->result);
		free(jobs[njobs]);
	}
	tu_teardown();
}

static struct http_pool *
pool(void)
{
	struct kind_run run = { 0 };

	kind_env_prepare(env, &kind_http, &run);
	return run.state;
}

/* ---- jobs ---------------------------------------------------------------- */

/* A job whose args are fmt, printf-style, with every ' turned into ". */
static struct job * __attribute__((format(printf, 1, 2)))
job(const char *fmt, ...)
{
	struct job *j = calloc(1, sizeof(*j));
	va_list ap;

	ck_assert_ptr_nonnull(j);
	ck_assert_uint_lt(njobs, JOBS_MAX);
	jobs[njobs++] = j;
	va_start(ap, fmt);
	vsnprintf(j->args, sizeof(j->args), fmt, ap);
	va_end(ap);
	for (char *p = j->args; *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	j->timeout = CO_FOREVER;
	return j;
}

/* A GET of path on the server. */
static struct job *
get(const char *path)
{
	return job("{'url':'%s'}", th_url(srv, path));
}

/* Run j the way a worker does: in a task, inside a deadline scope. */
static int
run_job(void *arg)
{
	struct job *j = arg;
	struct kind_run run = { 0 };
	struct co_scope sc;
	double t0 = co_now();
	json_t *args = json_loads(j->args, 0, NULL);

	ck_assert_msg(args != NULL, "bad args %s", j->args);
	run.args = args;
	kind_env_prepare(env, &kind_http, &run);
	co_scope_enter(&sc, j->timeout);
	j->rc = kind_http.run(&run);
	(void)co_scope_exit(&sc);
	j->elapsed = co_now() - t0;
	j->result = run.result;
	j->permanent = run.permanent;
	memcpy(j->error, run.error, sizeof(j->error));
	json_decref(args);
	return 0;
}

static struct job *
run1(struct job *j)
{
	tu_run(run_job, j);
	return j;
}

static const char *
res_str(const struct job *j, const char *key)
{
	ck_assert_msg(j->result != NULL, "no result (%d: %s)", j->rc,
	    j->error);
	return json_string_value(json_object_get(j->result, key));
}

static json_int_t
res_status(const struct job *j)
{
	ck_assert_msg(j->result != NULL, "no result (%d: %s)", j->rc,
	    j->error);
	return json_integer_value(json_object_get(j->result, "status"));
}

static bool
res_truncated(const struct job *j)
{
	return json_is_true(json_object_get(j->result, "truncated"));
}

static const char *
res_header(const struct job *j, const char *name)
{
	return json_string_value(json_object_get(json_object_get(j->result,
	    "headers"), name));
}

#define assert_ok(j)                                                         \
	ck_assert_msg((j)->rc == 0, "rc %d: %s", (j)->rc, (j)->error)

#define assert_error(j, text)                                                \
	ck_assert_msg(strstr((j)->error, (text)) != NULL, "error \"%s\", "    \
	    "expected \"%s\"", (j)->error, (text))

/* Several jobs at once, each in its own task; returns when all ended. */
struct batch {
	struct job **j;
	size_t n;
};

static int
run_batch(void *arg)
{
	struct batch *b = arg;
	struct co_task *t[JOBS_MAX];

	for (size_t i = 0; i < b->n; i++)
		ck_assert_int_eq(co_spawn(tu_rt, run_job, b->j[i], &t[i]), 0);
	for (size_t i = 0; i < b->n; i++)
		ck_assert_int_eq(co_join(t[i], NULL), 0);
	return 0;
}

/* ---- check() ------------------------------------------------------------- */

static void
check_args(const char *text, int want, const char *msg)
{
	struct proto_err err = { 0 };
	json_t *args = json_loads(text, 0, NULL);

	ck_assert_msg(args != NULL, "bad JSON %s", text);
	ck_assert_msg(kind_http.check(args, &err) == want, "%s: %s", text,
	    err.msg);
	if (msg != NULL) {
		ck_assert_int_eq(err.code, PROTO_BAD_REQUEST);
		ck_assert_msg(strstr(err.msg, msg) != NULL, "%s: message %s",
		    text, err.msg);
		ck_assert_msg(strncmp(err.msg, "args: ", 6) == 0, "%s",
		    err.msg);
	}
	json_decref(args);
}

START_TEST(test_check)
{
	ck_assert_ptr_eq(kind_find("http"), &kind_http);
	check_args("{\"url\":\"http://example.com/\"}", 0, NULL);
	check_args("{\"url\":\"https://example.com:8443/a/b?c=d#frag\"}", 0,
	    NULL);
	check_args("{\"url\":\"http://[::1]:8080/\",\"method\":\"PUT\","
	    "\"headers\":{\"X-A\":\"b\",\"Host\":\"h\"},\"body\":\"x\"}", 0,
	    NULL);
	check_args("{\"url\":\"HTTP://example.com\",\"method\":null}", 0, NULL);
	check_args("{}", -EINVAL, "\"url\"");
	check_args("{\"url\":7}", -EINVAL, "\"url\"");
	check_args("{\"url\":\"ftp://example.com/\"}", -EINVAL,
	    "http:// or https://");
	check_args("{\"url\":\"example.com/x\"}", -EINVAL, "http://");
	check_args("{\"url\":\"http://exa mple.com/\"}", -EINVAL,
	    "not a valid URL");
	check_args("{\"url\":\"http:///path\"}", -EINVAL, "no host");
	check_args("{\"url\":\"http://h:0/\"}", -EINVAL, "port");
	check_args("{\"url\":\"http://h:70000/\"}", -EINVAL, "url");
	check_args("{\"url\":\"http://u:p@h/\"}", -EINVAL, "Authorization");
	check_args("{\"url\":\"http://h/\",\"method\":\"GE T\"}", -EINVAL,
	    "not an HTTP method");
	check_args("{\"url\":\"http://h/\",\"method\":\"\"}", -EINVAL,
	    "not an HTTP method");
	check_args("{\"url\":\"http://h/\",\"method\":\"BREW\"}", -EINVAL,
	    "not supported");
	check_args("{\"url\":\"http://h/\",\"method\":\"get\"}", -EINVAL,
	    "case-sensitive");
	check_args("{\"url\":\"http://h/\",\"method\":\"CONNECT\"}", -EINVAL,
	    "not supported");
	check_args("{\"url\":\"http://h/\",\"headers\":[]}", -EINVAL,
	    "\"headers\"");
	check_args("{\"url\":\"http://h/\",\"headers\":{\"X\":1}}", -EINVAL,
	    "\"X\"");
	check_args("{\"url\":\"http://h/\",\"headers\":{\"X\":"
	    "\"a\\r\\nB: c\"}}", -EINVAL, "CR, LF");
	check_args("{\"url\":\"http://h/\",\"headers\":{\"X\":\"a\\nb\"}}",
	    -EINVAL, "CR, LF");
	check_args("{\"url\":\"http://h/\",\"headers\":{\"X Y\":\"a\"}}",
	    -EINVAL, "not a header name");
	check_args("{\"url\":\"http://h/\",\"headers\":{\"A:\":\"a\"}}",
	    -EINVAL, "not a header name");
	check_args("{\"url\":\"http://h/\",\"headers\":{\"content-length\":"
	    "\"3\"}}", -EINVAL, "jobd sets Content-Length");
	check_args("{\"url\":\"http://h/\",\"headers\":{\"Transfer-Encoding\":"
	    "\"chunked\"}}", -EINVAL, "Transfer-Encoding");
	check_args("{\"url\":\"http://h/\",\"body\":5}", -EINVAL, "\"body\"");
	check_args("{\"url\":\"http://h/\",\"header\":{}}", -EINVAL,
	    "unknown field \"header\"");
}
END_TEST

START_TEST(test_run_rechecks_args)
{
	struct job *j;

	start(false, 2, 1 << 20);
	j = run1(job("{'url':'gopher://h/'}"));
	ck_assert_int_eq(j->rc, -EINVAL);
	assert_error(j, "http:// or https://");
	ck_assert_ptr_null(j->result);
}
END_TEST

/* ---- responses ----------------------------------------------------------- */

START_TEST(test_get_200)
{
	struct job *j;

	start(false, 2, 1 << 20);
	j = run1(get("/status/200"));
	assert_ok(j);
	ck_assert_int_eq(res_status(j), 200);
	ck_assert_str_eq(res_str(j, "body"), "status 200\n");
	ck_assert(!res_truncated(j));
	ck_assert_str_eq(res_header(j, "content-length"), "11");
	ck_assert_str_eq(j->error, "");
}
END_TEST

START_TEST(test_4xx_5xx_fail)
{
	struct job *j;

	start(false, 2, 1 << 20);
	j = run1(get("/status/404"));
	ck_assert_int_eq(j->rc, -EIO);
	ck_assert_str_eq(j->error, "HTTP 404 Not Found");
	ck_assert_int_eq(res_status(j), 404);          /* the result stays */
	ck_assert_str_eq(res_str(j, "body"), "status 404\n");
	j = run1(get("/status/500"));
	ck_assert_int_eq(j->rc, -EIO);
	ck_assert_str_eq(j->error, "HTTP 500 Internal Server Error");
	ck_assert_int_eq(res_status(j), 500);
	j = run1(get("/status/418"));
	ck_assert_str_eq(j->error, "HTTP 418 I'm a teapot");
	j = run1(get("/status/399"));
	assert_ok(j);
	ck_assert_int_eq(res_status(j), 399);
}
END_TEST

START_TEST(test_redirect_not_followed)
{
	struct th_stats st;
	struct job *j;

	start(false, 2, 1 << 20);
	j = run1(get("/redirect"));
	assert_ok(j);
	ck_assert_int_eq(res_status(j), 302);
	ck_assert_str_eq(res_header(j, "location"), "/status/200");
	ck_assert_str_eq(res_str(j, "body"), "moved\n");
	th_stats(srv, &st);
	ck_assert_int_eq(st.requests, 1);
}
END_TEST

START_TEST(test_chunked)
{
	struct job *j;

	start(false, 2, 1 << 20);
	j = run1(get("/chunked/5"));
	assert_ok(j);
	ck_assert_str_eq(res_str(j, "body"),
	    "chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n");
	ck_assert(!res_truncated(j));
	ck_assert_str_eq(res_header(j, "transfer-encoding"), "chunked");
}
END_TEST

START_TEST(test_large_body_truncated)
{
	struct th_stats st;
	struct job *j;

	start(false, 2, 1000);
	/* 50 MB: read to its end, it would take a while. */
	j = run1(get("/bytes/50000000"));
	assert_ok(j);
	ck_assert_int_eq(strlen(res_str(j, "body")), 1000);
	ck_assert(strncmp(res_str(j, "body"), "abcdefghijklmnopqrstuvwxyzab",
	    28) == 0);
	ck_assert(res_truncated(j));
	/* The connection was closed at the cap, not read to the end. */
	ck_assert(th_wait_closed(srv, 1, 5 * tu_slow()));
	tu_assert_time(j->elapsed, 0, 1.0);
	/* Just under the cap, and at it: not truncated. */
	j = run1(get("/bytes/999"));
	ck_assert(!res_truncated(j));
	ck_assert_int_eq(strlen(res_str(j, "body")), 999);
	j = run1(get("/bytes/1000"));
	ck_assert(!res_truncated(j));
	th_stats(srv, &st);
	ck_assert_int_eq(st.conns, 2);                  /* kept alive */
}
END_TEST

START_TEST(test_zero_cap)
{
	struct job *j;

	start(false, 2, 0);
	j = run1(get("/status/200"));
	assert_ok(j);
	ck_assert_str_eq(res_str(j, "body"), "");
	ck_assert(res_truncated(j));
	j = run1(get("/status/204"));
	ck_assert(!res_truncated(j));
}
END_TEST

START_TEST(test_binary_body)
{
	struct job *j;

	start(false, 2, 1 << 20);
	j = run1(get("/binary"));
	assert_ok(j);
	/* ff, fe, NUL and a cut-off e2 82 each become one U+FFFD. */
	ck_assert_str_eq(res_str(j, "body"), "ok\xef\xbf\xbd\xef\xbf\xbd"
	    "\xef\xbf\xbd" "A\xc3\xa9\xef\xbf\xbd");
	ck_assert_int_eq(json_string_length(json_object_get(j->result,
	    "body")), strlen(res_str(j, "body")));
}
END_TEST

START_TEST(test_truncated_utf8)
{
	struct job *j;

	/* A body of "é" (c3 a9) pairs cut after 3 bytes: the half pair at
	 * the cut is dropped, not replaced. */
	start(false, 2, 3);
	j = run1(job("{'url':'%s','method':'POST','body':'\xc3\xa9\xc3\xa9'}",
	    th_url(srv, "/echo")));
	assert_ok(j);
	ck_assert(res_truncated(j));
	ck_assert_str_eq(res_str(j, "body"), "POS");
}
END_TEST

START_TEST(test_response_headers)
{
	struct job *j;

	start(false, 2, 1 << 20);
	j = run1(get("/headers"));
	assert_ok(j);
	ck_assert_str_eq(res_header(j, "x-one"), "1");
	ck_assert_str_eq(res_header(j, "x-multi"), "a, b");
	ck_assert_str_eq(res_header(j, "x-latin"), "caf\xef\xbf\xbd");
	ck_assert_ptr_null(res_header(j, "X-One"));
}
END_TEST

START_TEST(test_request_delivered)
{
	const char *body;
	char want[128];
	struct job *j;

	start(false, 2, 1 << 20);
	j = run1(job("{'url':'%s','method':'POST','headers':{'X-Test':'v 1',"
	    "'Authorization':'Bearer t'},'body':'hello\\nworld'}",
	    th_url(srv, "/echo?a=1&b=2")));
	assert_ok(j);
	body = res_str(j, "body");
	ck_assert_msg(strncmp(body, "POST /echo?a=1&b=2 HTTP/1.1\r\n", 29)
	    == 0, "%s", body);
	ck_assert_msg(strstr(body, "\r\nX-Test: v 1\r\n") != NULL, "%s", body);
	ck_assert_msg(strstr(body, "\r\nAuthorization: Bearer t\r\n") != NULL,
	    "%s", body);
	ck_assert_msg(strstr(body, "\r\nContent-Length: 11\r\n") != NULL,
	    "%s", body);
	snprintf(want, sizeof(want), "\r\nHost: 127.0.0.1:%d\r\n",
	    th_port(srv));
	ck_assert_msg(strstr(body, want) != NULL, "%s", body);
	ck_assert_msg(strstr(body, "\r\nUser-Agent: jobd/") != NULL, "%s",
	    body);
	ck_assert_msg(strstr(body, "\r\n\r\nhello\nworld") != NULL &&
	    strlen(strstr(body, "\r\n\r\n")) == 4 + 11, "%s", body);

	/* A Host and a User-Agent of the job's own replace jobd's. */
	j = run1(job("{'url':'%s','method':'DELETE','headers':{'host':'x.test',"
	    "'user-agent':'me'}}", th_url(srv, "/echo")));
	body = res_str(j, "body");
	ck_assert_msg(strncmp(body, "DELETE /echo HTTP/1.1\r\n", 23) == 0, "%s",
	    body);
	ck_assert_msg(strstr(body, "\r\nhost: x.test\r\n") != NULL, "%s", body);
	ck_assert_msg(strstr(body, "Host: 127") == NULL, "%s", body);
	ck_assert_msg(strstr(body, "jobd/") == NULL, "%s", body);
	ck_assert_msg(strstr(body, "Content-Length") == NULL, "%s", body);

	/* HEAD: no body comes back, and the connection stays usable. */
	j = run1(job("{'url':'%s','method':'HEAD'}",
	    th_url(srv, "/status/200")));
	assert_ok(j);
	ck_assert_str_eq(res_str(j, "body"), "");
	ck_assert_str_eq(res_header(j, "content-length"), "11");
	assert_ok(run1(get("/status/200")));
	j = run1(job("{'url':'%s','method':'PUT'}", th_url(srv, "/echo")));
	ck_assert_msg(strstr(res_str(j, "body"), "Content-Length: 0\r\n"),
	    "%s", res_str(j, "body"));
}
END_TEST

/* ---- failures ------------------------------------------------------------ */

START_TEST(test_connection_refused)
{
	char want[64];
	struct job *j;

	start(false, 2, 1 << 20);
	j = run1(job("{'url':'http://127.0.0.1:%d/'}", th_dead_port(srv)));
	ck_assert_int_eq(j->rc, -EIO);
	snprintf(want, sizeof(want), "connect to 127.0.0.1:%d: Connection "
	    "refused", th_dead_port(srv));
	ck_assert_str_eq(j->error, want);
	ck_assert_ptr_null(j->result);
	/* By name (from /etc/hosts), the message names both. */
	j = run1(job("{'url':'http://localhost:%d/'}", th_dead_port(srv)));
	snprintf(want, sizeof(want), "connect to localhost:%d (127.0.0.1:%d)",
	    th_dead_port(srv), th_dead_port(srv));
	assert_error(j, want);
	assert_error(j, "Connection refused");
}
END_TEST

START_TEST(test_name_not_resolved)
{
	struct job *j;

	start(false, 2, 1 << 20);
	j = run1(job("{'url':'http://nonexistent.invalid/'}"));
	ck_assert_int_eq(j->rc, -EHOSTUNREACH);
	ck_assert_msg(strncmp(j->error, "resolve nonexistent.invalid: ", 29)
	    == 0, "%s", j->error);
}
END_TEST

START_TEST(test_timeout_closes)
{
	struct http_pool_stats ps;
	struct job *j;

	start(false, 2, 1 << 20);
	j = get("/hang");
	j->timeout = 0.2;
	run1(j);
	ck_assert_int_eq(j->rc, -ETIMEDOUT);
	tu_assert_time(j->elapsed, 0.2, 0.1);
	ck_assert(th_wait_closed(srv, 1, 5 * tu_slow()));
	http_pool_stats(pool(), &ps);
	ck_assert_uint_eq(ps.idle, 0);          /* not kept */
	ck_assert_uint_eq(ps.hosts, 0);
	/* The next request opens a new connection, and works. */
	assert_ok(run1(get("/status/200")));
}
END_TEST

static int
cancel_in_flight(void *arg)
{
	struct job *j = arg;
	struct th_stats st;
	struct co_task *t;

	ck_assert_int_eq(co_spawn(tu_rt, run_job, j, &t), 0);
	do {                    /* until the server has the request */
		ck_assert_int_eq(co_sleep(0.005), 0);
		th_stats(srv, &st);
	} while (st.requests < 1);
	co_cancel(t);
	return co_join(t, NULL);
}

START_TEST(test_cancel_closes)
{
	struct job *j;

	start(false, 2, 1 << 20);
	j = get("/hang");
	tu_run(cancel_in_flight, j);
	ck_assert_int_eq(j->rc, -ECANCELED);
	ck_assert(th_wait_closed(srv, 1, 5 * tu_slow()));
	assert_ok(run1(get("/status/200")));
}
END_TEST

static int
cancel_lookup(void *arg)
{
	struct job *j = arg;
	struct co_task *t;

	ck_assert_int_eq(co_spawn(tu_rt, run_job, j, &t), 0);
	ck_assert_int_eq(co_yield(), 0);        /* it sends the query */
	co_cancel(t);
	return co_join(t, NULL);
}

START_TEST(test_cancel_during_lookup)
{
	struct job *j;

	/* A name the resolver has to ask about: cancelled while it does
	 * (if the answer beats the cancel, the job fails instead). */
	start(false, 2, 1 << 20);
	j = job("{'url':'http://cancelled.invalid/'}");
	tu_run(cancel_lookup, j);
	ck_assert_msg(j->rc == -ECANCELED || j->rc == -EHOSTUNREACH, "%d %s",
	    j->rc, j->error);
}
END_TEST

START_TEST(test_server_closes)
{
	struct th_stats st;
	struct job *j;

	start(false, 2, 1 << 20);
	/* "Connection: close": the next request needs a new connection. */
	assert_ok(run1(get("/close")));
	assert_ok(run1(get("/status/200")));
	th_stats(srv, &st);
	ck_assert_int_eq(st.conns, 2);
	/* A body that ends with the connection (on the kept one): the
	 * same. */
	j = run1(get("/nolength"));
	assert_ok(j);
	ck_assert_str_eq(res_str(j, "body"), "until the end");
	assert_ok(run1(get("/status/200")));
	th_stats(srv, &st);
	ck_assert_int_eq(st.conns, 3);
	ck_assert_int_eq(st.requests, 4);
	/* Closed without a word right after a keep-alive answer, over and
	 * over: each next request still works (the close is seen, or the
	 * request is sent again once on a new connection). */
	for (int i = 0; i < 10; i++) {
		j = run1(get("/drop"));
		assert_ok(j);
		ck_assert_str_eq(res_str(j, "body"), "dropped\n");
	}
	th_stats(srv, &st);
	ck_assert_int_eq(st.requests, 14);      /* no request was lost */
	ck_assert_int_ge(st.conns, 12);
}
END_TEST

START_TEST(test_post_not_resent)
{
	struct th_stats st;
	struct job *j;
	int failed = 0;

	/* A POST is never sent twice: when the server drops a kept-alive
	 * connection just as it is used, the POST fails instead. */
	start(false, 2, 1 << 20);
	for (int i = 0; i < 10; i++) {
		j = run1(job("{'url':'%s','method':'POST','body':'x'}",
		    th_url(srv, "/drop")));
		if (j->rc != 0) {
			assert_error(j, "connection closed before a response");
			failed++;
		}
	}
	th_stats(srv, &st);
	ck_assert_int_eq(st.requests, 10 - failed);
}
END_TEST

/* ---- the pool ------------------------------------------------------------ */

static int
sequential(void *arg)
{
	struct job **js = arg;

	for (int i = 0; i < 100; i++)
		run_job(js[i]);
	return 0;
}

START_TEST(test_connection_reused)
{
	struct http_pool_stats ps;
	struct th_stats st;
	struct job *js[100];

	start(false, 2, 1 << 20);
	for (int i = 0; i < 100; i++)
		js[i] = get(i % 2 ? "/status/200" : "/chunked/2");
	tu_run(sequential, js);
	for (int i = 0; i < 100; i++)
		assert_ok(js[i]);
	th_stats(srv, &st);
	ck_assert_int_eq(st.requests, 100);
	ck_assert_int_eq(st.conns, 1);
	http_pool_stats(pool(), &ps);
	ck_assert_uint_eq(ps.opened, 1);
	ck_assert_uint_eq(ps.reused, 99);
	ck_assert_uint_eq(ps.idle, 1);
	ck_assert_uint_eq(ps.hosts, 1);
}
END_TEST

START_TEST(test_per_host_limit)
{
	struct http_pool_stats ps;
	struct th_stats st;
	struct job *js[20];
	struct batch b = { js, 20 };
	double t0;

	/* 20 requests of 50 ms at once, 2 per host: never more than 2 in
	 * flight or connected, 10 rounds of 50 ms. */
	start(false, 2, 1 << 20);
	for (int i = 0; i < 20; i++)
		js[i] = get("/slow/50");
	t0 = co_now();
	tu_run(run_batch, &b);
	tu_assert_time(co_now() - t0, 0.5, 0.3);
	for (int i = 0; i < 20; i++)
		assert_ok(js[i]);
	th_stats(srv, &st);
	ck_assert_int_eq(st.max_inflight, 2);
	ck_assert_int_eq(st.conns, 2);
	http_pool_stats(pool(), &ps);
	ck_assert_uint_eq(ps.idle, 2);
	/* Another host (localhost, not 127.0.0.1) has permits of its own:
	 * more than 2 in flight at once (4, unless a slow machine spreads
	 * them out). */
	js[0] = job("{'url':'http://localhost:%d/slow/200'}", th_port(srv));
	js[1] = job("{'url':'http://localhost:%d/slow/200'}", th_port(srv));
	js[2] = get("/slow/200");
	js[3] = get("/slow/200");
	th_reset_max(srv);
	b.n = 4;
	tu_run(run_batch, &b);
	th_stats(srv, &st);
	ck_assert_int_gt(st.max_inflight, 2);
	ck_assert_int_le(st.max_inflight, 4);
	http_pool_stats(pool(), &ps);
	ck_assert_uint_eq(ps.hosts, 2);
}
END_TEST

/* ---- https --------------------------------------------------------------- */

START_TEST(test_https_unverified_fails)
{
	struct th_stats st;
	struct job *j;

	/* The system's CAs do not know the server's self-signed one. */
	unsetenv("SSL_CERT_FILE");
	start(true, 2, 1 << 20);
	j = run1(job("{'url':'https://localhost:%d/status/200'}",
	    th_port(srv)));
	ck_assert_int_eq(j->rc, -EIO);
	assert_error(j, "TLS handshake with localhost:");
	assert_error(j, "certificate verify failed: self-signed certificate");
	ck_assert_ptr_null(j->result);
	th_stats(srv, &st);
	ck_assert_int_eq(st.requests, 0);
}
END_TEST

START_TEST(test_https_verified)
{
	struct th_stats st;
	struct job *j;

	/* Trusting the server's certificate, for "localhost" only (the
	 * TLS context reads SSL_CERT_FILE when the kind is opened). */
	srv = th_start(true);
	setenv("SSL_CERT_FILE", th_cert_file(srv), 1);
	open_env(2, 1 << 20);
	for (int i = 0; i < 3; i++) {
		j = run1(job("{'url':'https://localhost:%d/chunked/3'}",
		    th_port(srv)));
		assert_ok(j);
		ck_assert_str_eq(res_str(j, "body"),
		    "chunk 0\nchunk 1\nchunk 2\n");
	}
	th_stats(srv, &st);
	ck_assert_int_eq(st.conns, 1);                  /* kept alive */
	/* The certificate names localhost, not 127.0.0.1. */
	j = run1(job("{'url':'https://127.0.0.1:%d/status/200'}",
	    th_port(srv)));
	ck_assert_int_eq(j->rc, -EIO);
	assert_error(j, "certificate verify failed: IP address mismatch");
	/* Plain HTTP to the TLS port is answered with nothing useful. */
	j = run1(job("{'url':'http://localhost:%d/'}", th_port(srv)));
	ck_assert_int_eq(j->rc, -EIO);
	unsetenv("SSL_CERT_FILE");
}
END_TEST

static size_t
idle_now(void)
{
	struct http_pool_stats ps;

	http_pool_stats(pool(), &ps);
	return ps.idle;
}

/* ---- where a job may connect, and for how long ---------------------------- */

/* The loopback is denied until allowed; a denial is permanent, names the
 * address and the key, and opens no connection; a reconf applies to the
 * idle connection as well as to new ones. */
START_TEST(test_destination_policy)
{
	struct kind_conf kc;
	struct th_stats st;
	struct job *j;
	char want[200];

	srv = th_start(false);
	open_env(2, 1 << 20);
	kc = env_conf(2, 1 << 20, NULL, 600);
	kind_env_reconf(env, &kc);
	j = run1(get("/status/200"));
	ck_assert_int_eq(j->rc, -EACCES);
	ck_assert(j->permanent);
	snprintf(want, sizeof(want), "destination 127.0.0.1 of 127.0.0.1:%d "
	    "is denied: loopback (127.0.0.0/8) address; list it in http_allow "
	    "to reach it", th_port(srv));
	ck_assert_str_eq(j->error, want);
	ck_assert_ptr_null(j->result);
	th_stats(srv, &st);
	ck_assert_int_eq(st.conns, 0);

	kc = env_conf(2, 1 << 20, loopback, 600);
	kind_env_reconf(env, &kc);
	j = run1(get("/status/200"));
	assert_ok(j);
	ck_assert(!j->permanent);
	ck_assert_uint_eq(idle_now(), 1);
	kc = env_conf(2, 1 << 20, NULL, 600);
	kind_env_reconf(env, &kc);
	j = run1(get("/status/200"));
	ck_assert_int_eq(j->rc, -EACCES);
	th_stats(srv, &st);
	ck_assert_int_eq(st.requests, 1);
	ck_assert_uint_eq(idle_now(), 0);
}
END_TEST

/* No timeout, a byte every 300 ms: http_max_time ends it, as a failure
 * (not a timeout of the job), and closes the connection. */
START_TEST(test_max_time_cap)
{
	struct kind_conf kc;
	struct job *j;

	srv = th_start(false);
	open_env(2, 1 << 20);
	kc = env_conf(2, 1 << 20, loopback, 1);
	kind_env_reconf(env, &kc);
	j = run1(get("/trickle/300"));
	ck_assert_int_eq(j->rc, -EIO);
	ck_assert(!j->permanent);
	ck_assert_msg(strstr(j->error, ": no whole response within 1 s "
	    "(http_max_time)") != NULL, "%s", j->error);
	ck_assert_double_ge(j->elapsed, 0.9);
	ck_assert_double_lt(j->elapsed, 10 * tu_slow());
	ck_assert(th_wait_closed(srv, 1, 10 * tu_slow()));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("kind_http");
	TCase *tc = tcase_create("kind_http");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_run_rechecks_args);
	tcase_add_test(tc, test_get_200);
	tcase_add_test(tc, test_4xx_5xx_fail);
	tcase_add_test(tc, test_redirect_not_followed);
	tcase_add_test(tc, test_chunked);
	tcase_add_test(tc, test_large_body_truncated);
	tcase_add_test(tc, test_zero_cap);
	tcase_add_test(tc, test_binary_body);
	tcase_add_test(tc, test_truncated_utf8);
	tcase_add_test(tc, test_response_headers);
	tcase_add_test(tc, test_request_delivered);
	tcase_add_test(tc, test_connection_refused);
	tcase_add_test(tc, test_name_not_resolved);
	tcase_add_test(tc, test_timeout_closes);
	tcase_add_test(tc, test_cancel_closes);
	tcase_add_test(tc, test_cancel_during_lookup);
	tcase_add_test(tc, test_server_closes);
	tcase_add_test(tc, test_post_not_resent);
	tcase_add_test(tc, test_connection_reused);
	tcase_add_test(tc, test_per_host_limit);
	tcase_add_test(tc, test_https_unverified_fails);
	tcase_add_test(tc, test_https_verified);
	tcase_add_test(tc, test_destination_policy);
	tcase_add_test(tc, test_max_time_cap);
	suite_add_tcase(s, tc);
	return tu_main(s);
}
