/*
 * test_jobd_obs.c — observability against the real jobd: the HTTP
 * listener (/metrics checked by promtool, which must be installed; the bad
 * requests: 404, 405, 431, clients that never read), a queue removed by a
 * reload leaving the page, /events, and the watch op (filters, order of a
 * job's events, a watcher that never reads during 100k job changes: jobd's
 * memory stays bounded, the jobs are unaffected, `dropped` is reported).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "tu_jobd.h"

/* The HTTP listener's clients have no uid: under the default visibility
 * (own) they see no job (test_events_hidden), so the rest sees all. */
#define OBS_OWN TJ_DAEMON "http_listen = 127.0.0.1:0\n"
#define OBS_DAEMON OBS_OWN "visibility = all\n"
#define OBS_QUEUES                                                          \
	"[queue.default]\nworkers = 8\ncapacity = 100000\ntimeout = 0\n"    \
	"[queue.other]\nworkers = 2\n"

/* A sanitizer's or valgrind's own memory (jobd under JOBD_TEST_WRAPPER)
 * is not jobd's: the bounds hold in the plain build. */
#ifdef JOBD_SANITIZE
#define RSS_BOUND(grown, kib)   ((void)(grown), (void)(kib), true)
#else
#define RSS_BOUND(grown, kib)   \
	((grown) < (kib) || getenv("JOBD_TEST_WRAPPER") != NULL)
#endif

/* ---- a tiny HTTP client -------------------------------------------------- */

/* The port jobd logged ("dashboard http://127.0.0.1:PORT/"). */
static int
http_port(void)
{
	const char *p = strstr(tj_log(), "dashboard http://127.0.0.1:");

	ck_assert_msg(p != NULL, "no listener in the log: %s", tj_log());
	return atoi(p + strlen("dashboard http://127.0.0.1:"));
}

static int
http_connect(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
		.sin_port = htons((uint16_t)http_port()) };
	int fd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Send req (a whole request) and read the answer to the end (the request
 * says Connection: close).  Returns the status; *bodyp (if not NULL) gets
 * the body, malloc'ed. */
static int
http_raw(const char *req, char **bodyp)
{
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap), *body;
	double end = tj_now() + TJ_TIMEOUT;
	int fd = http_connect(), status = 0;
	ssize_t n;

	ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		ck_assert_msg(tj_now() < end, "no answer to %s", req);
		if (poll(&p, 1, 100) <= 0)
			continue;
		if (len + 4096 > cap)
			buf = realloc(buf, cap *= 2);
		if ((n = read(fd, buf + len, cap - len - 1)) <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	sscanf(buf, "HTTP/1.%*d %d", &status);
	if (bodyp != NULL) {
		body = strstr(buf, "\r\n\r\n");
		*bodyp = strdup(body != NULL ? body + 4 : "");
	}
	free(buf);
	return status;
}

static int
http_get(const char *path, char **bodyp)
{
	char req[512];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n", path);
	return http_raw(req, bodyp);
}

/* The value of the sample line that starts with series (then a space). */
static double
sample(const char *page, const char *series)
{
	char want[512];
	const char *p;

	snprintf(want, sizeof(want), "\n%s ", series);
	p = strstr(page, want);
	ck_assert_msg(p != NULL, "no sample %s in:\n%s", series, page);
	return strtod(p + strlen(want), NULL);
}

/* promtool check metrics on page (its parser and its lint): 0 valid, 1
 * invalid.  No promtool is a failure, not a skip: .ci/deps installs it
 * (package prometheus). */
static int
promtool(const char *page)
{
	char path[] = "/tmp/jobd-metrics-XXXXXX", cmd[256];
	int fd, rc;

	ck_assert_msg(access("/usr/bin/promtool", X_OK) == 0,
	    "no /usr/bin/promtool: install the package prometheus "
	    "(.ci/deps does)");
	ck_assert_int_ge(fd = mkstemp(path), 0);
	ck_assert_int_eq(write(fd, page, strlen(page)), (ssize_t)strlen(page));
	close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s >&2", path);
	rc = system(cmd);
	unlink(path);
	return WIFEXITED(rc) && WEXITSTATUS(rc) == 0 ? 0 : 1;
}

/* ---- /metrics ------------------------------------------------------------ */

START_TEST(test_metrics_page)
{
	struct tj_conn *c;
	char *page;
	json_int_t id;
	int rc;

	tj_start(OBS_DAEMON OBS_QUEUES);
	c = tj_connect();
	for (int i = 0; i < 5; i++)
		tj_wait(c, tj_submit(c, "'kind':'sleep','args':{'seconds':0}"),
		    TJ_TIMEOUT);
	/* Its args, name and error must stay off the page. */
	id = tj_submit(c, "'kind':'sleep','args':{'seconds':0,'fail':"
	    "'argsecret7'},'name':'namesecret7'");
	tj_wait(c, id, TJ_TIMEOUT);
	id = tj_submit(c, "'kind':'sleep','args':{'seconds':0},'queue':"
	    "'other'");
	tj_wait(c, id, TJ_TIMEOUT);
	ck_assert_int_eq(http_get("/metrics", &page), 200);
	ck_assert_double_eq(sample(page, "jobd_jobs_submitted_total{queue="
	    "\"default\",kind=\"sleep\"}"), 6);
	ck_assert_double_eq(sample(page, "jobd_jobs_ended_total{queue="
	    "\"default\",kind=\"sleep\",state=\"succeeded\"}"), 5);
	ck_assert_double_eq(sample(page, "jobd_jobs_ended_total{queue="
	    "\"default\",kind=\"sleep\",state=\"failed\"}"), 1);
	ck_assert_double_eq(sample(page, "jobd_jobs_ended_total{queue="
	    "\"other\",kind=\"sleep\",state=\"succeeded\"}"), 1);
	ck_assert_double_eq(sample(page, "jobd_job_duration_seconds_count{"
	    "queue=\"default\",kind=\"sleep\"}"), 6);
	ck_assert_double_eq(sample(page, "jobd_job_duration_seconds_bucket{"
	    "queue=\"default\",kind=\"sleep\",le=\"+Inf\"}"), 6);
	ck_assert_double_eq(sample(page, "jobd_queue_wait_seconds_count{"
	    "queue=\"default\"}"), 6);
	ck_assert_double_eq(sample(page, "jobd_queue_jobs{queue=\"default\","
	    "state=\"queued\"}"), 0);
	ck_assert_double_eq(sample(page, "jobd_queue_workers{queue="
	    "\"other\"}"), 2);
	ck_assert_double_eq(sample(page, "jobd_connections"), 1);
	ck_assert_double_eq(sample(page, "jobd_build_info{version=\""
	    JOBD_VERSION "\"}"), 1);
	ck_assert(sample(page, "jobd_store_commit_seconds_count") >= 1);
	ck_assert(sample(page, "jobd_store_commit_jobs_sum") >= 14);
	ck_assert(sample(page, "process_resident_memory_bytes") > 0);
	ck_assert(sample(page, "process_open_fds") > 0);
	ck_assert_msg(strstr(page, "secret7") == NULL, "a job's args, name "
	    "or error on /metrics:\n%s", page);
	rc = promtool(page);
	ck_assert_msg(rc == 0, "promtool check metrics failed on:\n%s", page);
	free(page);
}
END_TEST

/* A queue gone from the file (and drained) leaves the page; a new one
 * joins it. */
START_TEST(test_metrics_follow_reload)
{
	struct tj_conn *c;
	char *page;

	tj_start(OBS_DAEMON OBS_QUEUES "[queue.gone]\n");
	c = tj_connect();
	tj_wait(c, tj_submit(c, "'kind':'sleep','args':{'seconds':0},"
	    "'queue':'gone'"), TJ_TIMEOUT);
	ck_assert_int_eq(http_get("/metrics", &page), 200);
	ck_assert_ptr_nonnull(strstr(page, "queue=\"gone\""));
	free(page);
	tj_conf(OBS_DAEMON OBS_QUEUES "[queue.new]\n");
	tj_signal(SIGHUP);
	for (double end = tj_now() + TJ_TIMEOUT;; tj_sleep(0.02)) {
		ck_assert(tj_now() < end);
		ck_assert_int_eq(http_get("/metrics", &page), 200);
		if (strstr(page, "queue=\"new\"") != NULL)
			break;
		free(page);
	}
	ck_assert_ptr_null(strstr(page, "queue=\"gone\""));
	ck_assert_msg(promtool(page) == 0, "promtool check metrics failed "
	    "on:\n%s", page);
	free(page);
}
END_TEST

/* ---- bad requests --------------------------------------------------------- */

START_TEST(test_http_bad_requests)
{
	char req[16384], *body;
	size_t n;

	tj_start(OBS_DAEMON OBS_QUEUES);
	ck_assert_int_eq(http_get("/nope", NULL), 404);
	ck_assert_int_eq(http_get("/metrics/x", NULL), 404);
	ck_assert_int_eq(http_raw("POST /metrics HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: 3\r\nConnection: close\r\n\r\nabc", NULL), 405);
	ck_assert_int_eq(http_raw("DELETE / HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n", NULL), 405);
	ck_assert_int_eq(http_raw("HEAD / HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n", NULL), 405);
	n = (size_t)snprintf(req, sizeof(req), "GET /metrics HTTP/1.1\r\n"
	    "Host: x\r\nConnection: close\r\nX-Big: ");
	memset(req + n, 'a', 10000);
	strcpy(req + n + 10000, "\r\n\r\n");
	ck_assert_int_eq(http_raw(req, NULL), 431);
	ck_assert_int_eq(http_get("/api/job?id=99", NULL), 404);
	ck_assert_int_eq(http_get("/api/job?id=x", NULL), 400);
	ck_assert_int_eq(http_get("/", &body), 200);
	ck_assert_ptr_nonnull(strstr(body, "<html"));
	free(body);
	ck_assert_int_eq(http_get("/metrics", NULL), 200);  /* still serving */
}
END_TEST

/* Clients that send requests and never read their answers hold at most
 * what the kernel buffers plus one answer each, and go after the
 * timeout; others are served meanwhile. */
START_TEST(test_http_never_read)
{
	char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	int fds[20];
	long before, grown;
	size_t i, k;

	tj_start(OBS_DAEMON OBS_QUEUES);
	ck_assert_int_eq(http_get("/metrics", NULL), 200);
	before = tj_rss_kb();
	for (i = 0; i < 20; i++) {
		fds[i] = http_connect();
		fcntl(fds[i], F_SETFL, O_NONBLOCK);
		for (k = 0; k < 5000; k++)
			if (write(fds[i], req, sizeof(req) - 1) < 0)
				break;
	}
	tj_sleep(0.5);
	ck_assert_int_eq(http_get("/metrics", NULL), 200);
	grown = tj_rss_kb() - before;
	fprintf(stderr, "20 HTTP clients never reading: jobd grew %ld KiB\n",
	    grown);
	ck_assert_msg(RSS_BOUND(grown, 32 * 1024), "jobd grew %ld KiB", grown);
	for (i = 0; i < 20; i++)
		close(fds[i]);
}
END_TEST

/* ---- /events -------------------------------------------------------------- */

START_TEST(test_events_stream)
{
	char req[] = "GET /events HTTP/1.1\r\nHost: x\r\n\r\n", buf[65536] = "";
	struct tj_conn *c;
	size_t len = 0;
	json_int_t id;
	int fd;

	tj_start(OBS_DAEMON OBS_QUEUES);
	c = tj_connect();
	fd = http_connect();
	ck_assert_int_eq(write(fd, req, sizeof(req) - 1),
	    (ssize_t)sizeof(req) - 1);
	tj_sleep(0.2);
	id = tj_submit(c, "'kind':'sleep','args':{'seconds':0},'name':'sse'");
	tj_wait(c, id, TJ_TIMEOUT);
	for (double end = tj_now() + TJ_TIMEOUT; !strstr(buf,
	    "\"state\":\"succeeded\"");) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		ck_assert_msg(tj_now() < end, "no events: %s", buf);
		if (poll(&p, 1, 100) <= 0)
			continue;
		ck_assert_int_gt(n = read(fd, buf + len, sizeof(buf) - len - 1),
		    0);
		len += (size_t)n;
		buf[len] = '\0';
	}
	ck_assert_ptr_nonnull(strstr(buf, "text/event-stream"));
	ck_assert_ptr_nonnull(strstr(buf, "data: {\"event\":\"job\""));
	ck_assert_ptr_nonnull(strstr(buf, "\"name\":\"sse\""));
	ck_assert_msg(strstr(buf, "event: notice") == NULL, "%s", buf);
	ck_assert(strstr(buf, "\"state\":\"queued\"") <
	    strstr(buf, "\"state\":\"running\""));
	close(fd);
}
END_TEST

/* visibility = own: an /events client (no uid) gets the stats ticks but
 * no job event, and /api/job and /api/failures show no job. */
START_TEST(test_events_hidden)
{
	char req[] = "GET /events HTTP/1.1\r\nHost: x\r\n\r\n", buf[65536] = "";
	char path[64], *body;
	struct tj_conn *c;
	size_t len = 0;
	json_int_t id, bad;
	int fd, ticks = 0;

	tj_start(OBS_OWN OBS_QUEUES);
	c = tj_connect();
	fd = http_connect();
	ck_assert_int_eq(write(fd, req, sizeof(req) - 1),
	    (ssize_t)sizeof(req) - 1);
	tj_sleep(0.2);
	id = tj_submit(c, "'kind':'sleep','args':{'seconds':0},'name':'sse'");
	bad = tj_submit(c, "'kind':'exec','args':{'argv':['false']}");
	tj_wait(c, id, TJ_TIMEOUT);
	tj_wait(c, bad, TJ_TIMEOUT);
	/* Two stats ticks after both ended: their events would be in. */
	for (double end = tj_now() + TJ_TIMEOUT; ticks < 2;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		ck_assert_msg(tj_now() < end, "no stats events: %s", buf);
		if (poll(&p, 1, 100) <= 0)
			continue;
		ck_assert_int_gt(n = read(fd, buf + len, sizeof(buf) - len - 1),
		    0);
		len += (size_t)n;
		buf[len] = '\0';
		ticks = 0;
		for (char *q = buf; (q = strstr(q, "event: stats")) != NULL; q++)
			ticks++;
	}
	ck_assert_msg(strstr(buf, "\"event\":\"job\"") == NULL,
	    "a job event for a client with no uid: %s", buf);
	/* It is told why first: a comment, then a notice event, with what
	 * to set; both before the first stats tick. */
	char *body0 = strstr(buf, "\r\n\r\n"), *note, *data;
	json_t *n;

	ck_assert_ptr_nonnull(body0);
	note = strstr(body0, "event: notice\ndata: ");
	ck_assert_msg(note != NULL && note < strstr(buf, "event: stats"),
	    "no notice before the stats: %s", buf);
	ck_assert_msg(strstr(body0, ": visibility = own: ") != NULL &&
	    strstr(body0, ": visibility = own: ") < note, "no comment: %s", buf);
	data = note + strlen("event: notice\ndata: ");
	ck_assert_ptr_nonnull(n = json_loadb(data, (size_t)(strchr(data, '\n') -
	    data), 0, NULL));
	ck_assert_str_eq(tj_str(n, "event"), "hidden");
	ck_assert_ptr_nonnull(strstr(tj_str(n, "fix"), "visibility = all"));
	ck_assert_ptr_nonnull(strstr(tj_str(n, "fix"), "jobctl watch"));
	json_decref(n);
	close(fd);
	snprintf(path, sizeof(path), "/api/job?id=%lld", (long long)id);
	ck_assert_int_eq(http_get(path, NULL), 404);
	ck_assert_int_eq(http_get("/api/failures", &body), 200);
	ck_assert_msg(strstr(body, "\"id\"") == NULL, "failures: %s", body);
	free(body);
}
END_TEST

/* ---- watch ----------------------------------------------------------------- */

/* The next event on w, parsed (valid until the next call; the line is
 * the harness's). */
static json_t *
event(struct tj_conn *w)
{
	static json_t *last;
	char *line = tj_line(w, TJ_TIMEOUT);
	json_t *ev;

	ck_assert_msg(line != NULL, "no event");
	ev = json_loads(line, 0, NULL);
	ck_assert_msg(ev != NULL && tj_str(ev, "event") != NULL,
	    "not an event: %s", line);
	json_decref(last);      /* the previous one: callers keep one */
	last = ev;
	return ev;
}

START_TEST(test_watch_filters_and_order)
{
	struct tj_conn *c, *all, *q, *one;
	json_int_t a, b;
	json_t *ev;

	tj_start(TJ_DAEMON OBS_QUEUES);
	c = tj_connect();
	all = tj_connect();
	q = tj_connect();
	one = tj_connect();
	tj_assert_ok(tj_req(all, "{'op':'watch'}"));
	tj_assert_ok(tj_req(q, "{'op':'watch','queue':'other'}"));
	tj_assert_err(tj_req(c, "{'op':'watch','id':'x'}"), "bad_request");
	a = tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
	tj_wait(c, a, TJ_TIMEOUT);
	tj_send(one, "{'op':'watch','id':%lld}", (long long)a + 1);
	tj_assert_ok(tj_recv(one));
	b = tj_submit(c, "'kind':'sleep','args':{'seconds':0,'fail':'boom'},"
	    "'queue':'other'");
	tj_wait(c, b, TJ_TIMEOUT);

	const char *order[] = { "queued", "running", "succeeded" };
	for (int i = 0; i < 3; i++) {
		ev = event(all);
		ck_assert_str_eq(tj_str(ev, "event"), "job");
		ck_assert_int_eq(tj_int(ev, "job.id"), a);
		ck_assert_str_eq(tj_str(ev, "job.state"), order[i]);
	}
	ck_assert_str_eq(tj_str(ev, "job.queue"), "default");
	ck_assert(tj_num(ev, "job.finished_at") > 0);
	const char *order2[] = { "queued", "running", "failed" };
	for (int i = 0; i < 3; i++) {
		ev = event(q);
		ck_assert_int_eq(tj_int(ev, "job.id"), b);
		ck_assert_str_eq(tj_str(ev, "job.state"), order2[i]);
		ev = event(one);
		ck_assert_int_eq(tj_int(ev, "job.id"), b);
		ev = event(all);
		ck_assert_int_eq(tj_int(ev, "job.id"), b);
	}
	ck_assert_str_eq(tj_str(ev, "job.error"), "boom");
	ck_assert_ptr_null(tj_line(one, 0.2));
	/* The other ops on the watchers' connections wait: a watch holds
	 * its connection; others are served. */
	tj_assert_ok(tj_req(c, "{'op':'ping'}"));
}
END_TEST

/* A job submitted with a delay is first seen scheduled, not queued. */
START_TEST(test_watch_scheduled)
{
	struct tj_conn *c, *w;
	json_int_t id;
	json_t *ev;

	tj_start(TJ_DAEMON OBS_QUEUES);
	c = tj_connect();
	w = tj_connect();
	tj_assert_ok(tj_req(w, "{'op':'watch'}"));
	id = tj_submit(c, "'kind':'sleep','args':{'seconds':0},'delay':1000");
	ev = event(w);
	ck_assert_int_eq(tj_int(ev, "job.id"), id);
	ck_assert_str_eq(tj_str(ev, "job.state"), "scheduled");
}
END_TEST

/* A watcher that never reads while 35,000 jobs make 105,000 changes:
 * jobd's memory stays bounded, every job ends, and once the watcher reads
 * it is told how many events it missed. */
START_TEST(test_watch_never_read)
{
	struct tj_conn *c, *w;
	json_int_t last = 0;
	long before, grown;
	json_t *ans;
	char *line;
	bool dropped = false;
	int n = 35000;

	tj_start(TJ_DAEMON OBS_QUEUES);
	c = tj_connect();
	w = tj_connect();
	tj_assert_ok(tj_req(w, "{'op':'watch'}"));
	before = tj_rss_kb();
	/* In rounds of 1000, each run to its end, so that what grows is the
	 * watcher's, not 35,000 jobs queued at once (~1.5 KiB each). */
	for (int r = 0; r < n / 1000; r++) {
		for (int i = 0; i < 1000; i++)
			tj_send(c, "{'op':'submit','kind':'sleep','args':"
			    "{'seconds':0}}");
		for (int i = 0; i < 1000; i++) {
			ans = tj_recv(c);
			tj_assert_ok(ans);
			last = tj_int(ans, "id");
		}
		tj_wait(c, last, TJ_TIMEOUT * 6);
	}
	grown = tj_rss_kb() - before;
	ans = tj_req(c, "{'op':'stats'}");
	ck_assert_int_eq(tj_int(ans, "jobs.succeeded"), n);
	fprintf(stderr, "a watcher never reading through %d job changes: jobd "
	    "grew %ld KiB\n", 3 * n, grown);
	ck_assert_msg(RSS_BOUND(grown, 24 * 1024), "jobd grew %ld KiB", grown);
	for (double end = tj_now() + TJ_TIMEOUT * 6; !dropped;) {
		ck_assert(tj_now() < end);
		if ((line = tj_line(w, TJ_TIMEOUT)) == NULL)
			break;
		if (strstr(line, "\"event\":\"dropped\"") != NULL) {
			json_t *d = json_loads(line, 0, NULL);

			ck_assert_int_gt(tj_int(d, "count"), 0);
			json_decref(d);
			dropped = true;
		}
	}
	ck_assert_msg(dropped, "no dropped event");
}
END_TEST

static Suite *
jobd_obs_suite(void)
{
	Suite *s = suite_create("jobd_obs");
	TCase *tc = tj_tcase("obs", 240);

	tcase_add_test(tc, test_metrics_page);
	tcase_add_test(tc, test_metrics_follow_reload);
	tcase_add_test(tc, test_http_bad_requests);
	tcase_add_test(tc, test_http_never_read);
	tcase_add_test(tc, test_events_stream);
	tcase_add_test(tc, test_events_hidden);
	tcase_add_test(tc, test_watch_filters_and_order);
	tcase_add_test(tc, test_watch_scheduled);
	tcase_add_test(tc, test_watch_never_read);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(jobd_obs_suite());
}
