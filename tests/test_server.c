/*
 * test_server.c — the socket server (daemon/server.h) with a fake handler:
 * answers in request order whatever order they are given in, the line
 * bound, the bound on unwritten answers against a client that never
 * reads, max_connections, srv_listen on live, stale and foreign paths,
 * and srv_close_all with answers still to come.
 *
 * Server and clients run in the test's one loop: each client is a task
 * on a non-blocking socket.  The handler understands a few words:
 *   echo TEXT    answers TEXT at once
 *   later TEXT   keeps the reply; the test answers TEXT when it likes
 *   hold         keeps the reply (answered "held" on release)
 *   big          answers one line of BIG_LINE bytes
 *   sleep        awaits 10 s before answering (holds the connection)
 *   json         answers through reply_send, with a kept tag
 *   peer         answers the peer's pid and uid
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "co.h"
#include "co_io.h"
#include "log.h"
#include "server.h"
#include "testutil.h"

#define BIG_LINE        (64u * 1024)
#define HELD_MAX        (SRV_PENDING_MAX + 8192)

static char dir[64];
static char path[128];

/* ---- the fake handler ------------------------------------------------------ */

static struct fake {
	size_t calls;
	struct reply **held;            /* kept replies, in arrival order */
	char **text;                    /* what each is to answer */
	size_t nheld;
	size_t cancelled;               /* sleeps cut short */
	char *big;
} fk;

static void
answer(struct reply *r, const char *text)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "%s\n", text);

	reply_send_raw(r, buf, (size_t)n);
}

static void
hold(struct reply *r, const char *text)
{
	if (fk.nheld >= HELD_MAX)
		ck_abort_msg("more than %d replies held", HELD_MAX);
	fk.held[fk.nheld] = r;
	fk.text[fk.nheld] = text != NULL ? strdup(text) : NULL;
	fk.nheld++;
}

static void
handle(void *arg, const char *line, size_t len, struct reply *r)
{
	char buf[64];
	json_t *tag;

	/* Plain checks: Check's asserts cost a write(2) each, and some tests
	 * make 65,000 calls. */
	if (arg != &fk || strlen(line) != len || memchr(line, '\n', len))
		ck_abort_msg("handler: bad arguments");  /* NUL-terminated */
	fk.calls++;
	if (strncmp(line, "echo ", 5) == 0) {
		answer(r, line + 5);
	} else if (strncmp(line, "later ", 6) == 0) {
		hold(r, line + 6);
	} else if (strcmp(line, "hold") == 0) {
		hold(r, NULL);
	} else if (strcmp(line, "big") == 0) {
		reply_send_raw(r, fk.big, BIG_LINE);
	} else if (strcmp(line, "sleep") == 0) {
		if (co_sleep(10) == 0) {
			answer(r, "slept");
		} else {
			fk.cancelled++;
			answer(r, "cancelled");
		}
	} else if (strcmp(line, "json") == 0) {
		tag = json_string("t1");
		reply_keep_tag(r, tag);
		json_decref(tag);
		ck_assert_str_eq(json_string_value(reply_tag(r)), "t1");
		reply_send(r, json_pack("{s:b,s:O}", "ok", 1, "tag",
		    reply_tag(r)));
	} else if (strcmp(line, "peer") == 0) {
		ck_assert_ptr_nonnull(reply_peer(r));
		snprintf(buf, sizeof(buf), "%d %d", (int)reply_peer(r)->pid,
		    (int)reply_peer(r)->uid);
		answer(r, buf);
	} else {
		answer(r, "?");
	}
}

/* Answer held reply i (its text, or "held"). */
static void
release(size_t i)
{
	ck_assert_ptr_nonnull(fk.held[i]);
	answer(fk.held[i], fk.text[i] != NULL ? fk.text[i] : "held");
	fk.held[i] = NULL;
	free(fk.text[i]);
	fk.text[i] = NULL;
}

/* ---- fixture -------------------------------------------------------------- */

static void
setup(void)
{
	tu_setup();
	strcpy(dir, "/tmp/test_server.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	memset(&fk, 0, sizeof(fk));
	ck_assert_ptr_nonnull(fk.held = calloc(HELD_MAX, sizeof(*fk.held)));
	ck_assert_ptr_nonnull(fk.text = calloc(HELD_MAX, sizeof(*fk.text)));
	ck_assert_ptr_nonnull(fk.big = malloc(BIG_LINE));
	memset(fk.big, 'b', BIG_LINE - 1);
	fk.big[BIG_LINE - 1] = '\n';
}

static void
teardown(void)
{
	size_t i;

	for (i = 0; i < fk.nheld; i++)
		free(fk.text[i]);
	free(fk.held);
	free(fk.text);
	free(fk.big);
	unlink(path);
	rmdir(dir);
	tu_teardown();
}

/* A server on path with these limits, accepting. */
static struct srv *
server(size_t max_line, int max_connections)
{
	struct srv_limits lim = { .max_line = max_line,
	    .max_connections = max_connections };
	const char *what = NULL;
	struct srv *s;
	int fd = srv_listen(path, 0600, (gid_t)-1, &what);

	ck_assert_msg(fd >= 0, "srv_listen: %s: %s", what, strerror(-fd));
	ck_assert_ptr_nonnull(s = srv_new(tu_rt, fd, &lim, handle, &fk));
	ck_assert_int_eq(srv_start(s), 0);
	return s;
}

/* Stop the server the way jobd does (task). */
static void
server_down(struct srv *s)
{
	size_t i;

	srv_stop_accepting(s);
	srv_close_all(s);
	ck_assert_uint_eq(srv_connections(s), 0);
	srv_free(s);
	/* Replies kept past their connection can still be answered. */
	for (i = 0; i < fk.nheld; i++)
		if (fk.held[i] != NULL)
			release(i);
}

#define WAIT_UNTIL(cond)                                                    \
	do {                                                                 \
		double end_ = co_now() + 5 * tu_slow();                      \
		while (!(cond)) {                                            \
			ck_assert_msg(co_now() < end_, "timed out: %s", #cond); \
			ck_assert_int_eq(co_sleep(0.001), 0);                \
		}                                                            \
	} while (0)

/* ---- clients --------------------------------------------------------------- */

struct client {
	int fd;
	char buf[8192];
	size_t len;
	bool eof;
};

static void
cl_open(struct client *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(c, 0, sizeof(*c));
	strcpy(sa.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(c->fd, 0);
	ck_assert_int_eq(co_connect(c->fd, (struct sockaddr *)&sa, sizeof(sa),
	    5), 0);
}

static void
cl_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static void
cl_send(struct client *c, const char *s)
{
	size_t n = strlen(s);

	ck_assert_int_eq(co_write_all(c->fd, s, n, 5), (ssize_t)n);
}

static size_t
lines_in(const struct client *c)
{
	size_t i, n = 0;

	for (i = 0; i < c->len; i++)
		n += c->buf[i] == '\n';
	return n;
}

/* Read until n lines have come (or end of file); 0, -ETIMEDOUT, -errno. */
static int
cl_read(struct client *c, size_t n, double timeout)
{
	double end = co_now() + timeout;
	ssize_t got;

	while (lines_in(c) < n && !c->eof) {
		ck_assert_uint_lt(c->len, sizeof(c->buf) - 1);
		got = co_read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 -
		    c->len, end - co_now() > 0 ? end - co_now() : 0);
		if (got < 0)
			return (int)got;
		if (got == 0)
			c->eof = true;
		c->len += (size_t)got;
		c->buf[c->len] = '\0';
	}
	return 0;
}

/* The next line read, without its '\n' (consumed from the buffer). */
static char *
cl_line(struct client *c, char *out, size_t outlen)
{
	char *nl;
	size_t n;

	ck_assert_int_eq(cl_read(c, 1, 5 * tu_slow()), 0);
	ck_assert_msg((nl = memchr(c->buf, '\n', c->len)) != NULL,
	    "no line before end of file (got \"%.*s\")", (int)c->len, c->buf);
	n = (size_t)(nl - c->buf);
	ck_assert_uint_lt(n, outlen);
	memcpy(out, c->buf, n);
	out[n] = '\0';
	c->len -= n + 1;
	memmove(c->buf, nl + 1, c->len);
	c->buf[c->len] = '\0';
	return out;
}

static void
expect_line(struct client *c, const char *want)
{
	char got[1024];

	ck_assert_str_eq(cl_line(c, got, sizeof(got)), want);
}

/* The server closed: end of file, nothing more. */
static void
expect_eof(struct client *c)
{
	ck_assert_int_eq(cl_read(c, 1000000, 5 * tu_slow()), 0);
	ck_assert(c->eof);
	ck_assert_uint_eq(c->len, 0);
}

/* The next line is an error object with this code. */
static void
expect_error(struct client *c, const char *code)
{
	char line[1024];
	json_t *j, *err;

	cl_line(c, line, sizeof(line));
	ck_assert_ptr_nonnull(j = json_loads(line, 0, NULL));
	ck_assert(json_is_false(json_object_get(j, "ok")));
	err = json_object_get(j, "error");
	ck_assert_str_eq(json_string_value(json_object_get(err, "code")), code);
	ck_assert(json_is_string(json_object_get(err, "message")));
	json_decref(j);
}

/* ---- order ----------------------------------------------------------------- */

static int
run_order(void *arg)
{
	struct srv *s = server(1024, 10);
	struct client c;
	char line[256];

	cl_open(&c);
	cl_send(&c, "later A\necho B\nlater C\necho D\n");
	WAIT_UNTIL(fk.calls == 4);
	ck_assert_uint_eq(fk.nheld, 2);
	/* B and D are ready, but A comes first. */
	ck_assert_int_eq(cl_read(&c, 1, 0.05), -ETIMEDOUT);
	ck_assert_uint_eq(c.len, 0);
	release(1);                             /* C */
	ck_assert_int_eq(cl_read(&c, 1, 0.05), -ETIMEDOUT);
	ck_assert_uint_eq(c.len, 0);
	release(0);                             /* A: all four go */
	ck_assert_int_eq(cl_read(&c, 4, 5 * tu_slow()), 0);
	ck_assert_str_eq(c.buf, "A\nB\nC\nD\n");
	c.len = 0;
	/* Answers given later by another task keep their place too. */
	cl_send(&c, "json\nlater E\npeer\n");
	WAIT_UNTIL(fk.calls == 7);
	expect_line(&c, "{\"ok\":true,\"tag\":\"t1\"}");
	ck_assert_int_eq(cl_read(&c, 1, 0.05), -ETIMEDOUT);
	release(2);
	expect_line(&c, "E");
	snprintf(line, sizeof(line), "%d %d", (int)getpid(), (int)getuid());
	expect_line(&c, line);
	cl_close(&c);
	WAIT_UNTIL(srv_connections(s) == 0);
	server_down(s);
	return 0;
}

START_TEST(test_answers_in_request_order)
{
	ck_assert_int_eq(tu_run(run_order, NULL), 0);
}
END_TEST

/* A handler that awaits holds the connection's later requests; an
 * answer given by a timer task later still comes out in order. */
struct delayed {
	size_t i;
	double after;
};

static int
answer_later(void *arg)
{
	struct delayed *d = arg;

	if (co_sleep(d->after) == 0)
		release(d->i);
	return 0;
}

static int
run_many_out_of_order(void *arg)
{
	enum { N = 50 };
	static struct delayed d[N];
	struct co_task *t[N];
	struct srv *s = server(1024, 10);
	struct client c;
	char want[16];
	int i;

	cl_open(&c);
	for (i = 0; i < N; i++) {
		snprintf(want, sizeof(want), "later %d\n", i);
		cl_send(&c, want);
	}
	WAIT_UNTIL(fk.calls == N);
	/* Answered in reverse, one task each, the first one last. */
	for (i = 0; i < N; i++) {
		d[i] = (struct delayed){ .i = (size_t)i,
		    .after = 0.001 * (N - i) };
		ck_assert_int_eq(co_spawn(tu_rt, answer_later, &d[i], &t[i]),
		    0);
	}
	for (i = 0; i < N; i++) {
		snprintf(want, sizeof(want), "%d", i);
		expect_line(&c, want);
	}
	for (i = 0; i < N; i++)
		ck_assert_int_eq(co_join(t[i], NULL), 0);
	cl_close(&c);
	server_down(s);
	return 0;
}

START_TEST(test_many_answers_out_of_order)
{
	ck_assert_int_eq(tu_run(run_many_out_of_order, NULL), 0);
}
END_TEST

/* ---- line bound ------------------------------------------------------------- */

static int
run_line_too_long(void *arg)
{
	struct srv *s = server(16, 10);
	struct client c;

	cl_open(&c);
	/* Exactly max_line bytes is fine; one more is not, and nothing after
	 * it is handled. */
	cl_send(&c, "echo 0123456789a\necho 0123456789ab\necho after\n");
	expect_line(&c, "0123456789a");
	expect_error(&c, "line_too_long");
	expect_eof(&c);
	ck_assert_uint_eq(fk.calls, 1);
	cl_close(&c);
	WAIT_UNTIL(srv_connections(s) == 0);
	server_down(s);
	return 0;
}

START_TEST(test_line_too_long)
{
	ck_assert_int_eq(tu_run(run_line_too_long, NULL), 0);
}
END_TEST

static int
run_partial_too_long(void *arg)
{
	struct srv *s = server(16, 10);
	struct client c;

	cl_open(&c);
	cl_send(&c, "echo ok\n");
	expect_line(&c, "ok");
	/* No newline yet, but already past max_line: no need to wait. */
	cl_send(&c, "echo 0123456789abcdef0123456789");
	expect_error(&c, "line_too_long");
	expect_eof(&c);
	ck_assert_uint_eq(fk.calls, 1);
	cl_close(&c);
	WAIT_UNTIL(srv_connections(s) == 0);
	server_down(s);
	return 0;
}

START_TEST(test_partial_line_too_long)
{
	ck_assert_int_eq(tu_run(run_partial_too_long, NULL), 0);
}
END_TEST

/* ---- clients that never read ------------------------------------------------ */

/* Wait until the handler count has not moved for a while; returns it. */
static size_t
calls_settled(void)
{
	size_t last;

	do {
		last = fk.calls;
		ck_assert_int_eq(co_sleep(0.1), 0);
	} while (fk.calls != last);
	return last;
}

static int
run_never_reads(void *arg)
{
	enum { N = 1000 };
	struct srv *s = server(1024, 10);
	struct client hog, other;
	size_t stopped;
	char *req;
	int i;
	double t0;

	/* N requests whose answers are 64 KiB each: 64 MiB of answers. */
	ck_assert_ptr_nonnull(req = malloc(4 * N + 1));
	for (i = 0; i < N; i++)
		memcpy(req + 4 * i, "big\n", 4);
	req[4 * N] = '\0';
	cl_open(&hog);
	cl_send(&hog, req);
	free(req);
	stopped = calls_settled();
	/* Stopped once SRV_OUT_MAX bytes waited (plus what the kernel took). */
	ck_assert_uint_ge(stopped, SRV_OUT_MAX / BIG_LINE);
	ck_assert_uint_lt(stopped, N / 4);
	ck_assert_int_eq(co_sleep(0.2), 0);
	ck_assert_uint_eq(fk.calls, stopped);
	/* Another client is served meanwhile. */
	t0 = co_now();
	cl_open(&other);
	cl_send(&other, "echo hi\n");
	expect_line(&other, "hi");
	ck_assert(co_now() - t0 < 0.5 * tu_slow());
	ck_assert_uint_eq(fk.calls, stopped + 1);
	/* The hog goes away: its connection ends (the write fails). */
	cl_close(&hog);
	WAIT_UNTIL(srv_connections(s) == 1);
	cl_send(&other, "echo still\n");
	expect_line(&other, "still");
	cl_close(&other);
	server_down(s);
	return 0;
}

START_TEST(test_client_that_never_reads)
{
	ck_assert_int_eq(tu_run(run_never_reads, NULL), 0);
}
END_TEST

/* Answers still to come count too: at SRV_PENDING_MAX of them the
 * connection is not read further until some are written. */
static int
run_pending_bound(void *arg)
{
	enum { N = SRV_PENDING_MAX + 1000 };
	struct srv *s = server(1024, 10);
	struct client c;
	char *req;
	int i;

	ck_assert_ptr_nonnull(req = malloc(5 * N + 1));
	for (i = 0; i < N; i++)
		memcpy(req + 5 * i, "hold\n", 5);
	req[5 * N] = '\0';
	cl_open(&c);
	cl_send(&c, req);
	free(req);
	ck_assert_uint_eq(calls_settled(), SRV_PENDING_MAX);
	/* Ten answered (and read): ten more are handled. */
	for (i = 0; i < 10; i++)
		release((size_t)i);
	ck_assert_int_eq(cl_read(&c, 10, 5 * tu_slow()), 0);
	ck_assert_uint_eq(calls_settled(), SRV_PENDING_MAX + 10);
	/* Gone, with the reader waiting for room and the writer for the
	 * head answer: noticed at the next write. */
	cl_close(&c);
	release(10);
	WAIT_UNTIL(srv_connections(s) == 0);
	server_down(s);
	return 0;
}

START_TEST(test_pending_answers_bound)
{
	ck_assert_int_eq(tu_run(run_pending_bound, NULL), 0);
}
END_TEST

/* ---- connections ------------------------------------------------------------ */

static int
run_max_connections(void *arg)
{
	struct srv *s = server(1024, 2);
	struct client a, b, c;

	cl_open(&a);
	cl_send(&a, "echo a\n");
	expect_line(&a, "a");
	cl_open(&b);
	cl_send(&b, "echo b\n");
	expect_line(&b, "b");
	ck_assert_uint_eq(srv_connections(s), 2);
	cl_open(&c);                            /* the kernel accepts it ... */
	expect_error(&c, "too_many_connections");
	expect_eof(&c);                         /* ... jobd does not */
	cl_close(&c);
	ck_assert_uint_eq(fk.calls, 2);
	/* One leaves: there is room again. */
	cl_close(&a);
	WAIT_UNTIL(srv_connections(s) == 1);
	cl_open(&c);
	cl_send(&c, "echo c\n");
	expect_line(&c, "c");
	cl_close(&b);
	cl_close(&c);
	server_down(s);
	return 0;
}

START_TEST(test_max_connections)
{
	ck_assert_int_eq(tu_run(run_max_connections, NULL), 0);
}
END_TEST

/* srv_close_all ends every connection: idle ones, one whose handler is
 * awaiting, and one with answers still to come (kept past it). */
static int
run_close_all(void *arg)
{
	struct srv *s = server(1024, 10);
	struct client idle, busy, waiting;
	double t0;

	cl_open(&idle);
	cl_send(&idle, "echo x\n");
	expect_line(&idle, "x");
	cl_open(&busy);
	cl_send(&busy, "sleep\necho never\n");
	cl_open(&waiting);
	cl_send(&waiting, "later y\necho z\n");
	WAIT_UNTIL(fk.calls == 4 && srv_connections(s) == 3);
	t0 = co_now();
	srv_stop_accepting(s);
	srv_close_all(s);
	ck_assert(co_now() - t0 < 1.5 * tu_slow());
	ck_assert_uint_eq(srv_connections(s), 0);
	ck_assert_uint_eq(fk.cancelled, 1);
	/* The awaiting handler answered; its answer went out before close. */
	expect_eof(&idle);
	expect_line(&busy, "cancelled");
	expect_eof(&busy);
	expect_eof(&waiting);                   /* z waited behind y */
	cl_close(&idle);
	cl_close(&busy);
	cl_close(&waiting);
	ck_assert_uint_eq(fk.calls, 4);
	server_down(s);                         /* answers y to nobody */
	return 0;
}

START_TEST(test_close_all)
{
	ck_assert_int_eq(tu_run(run_close_all, NULL), 0);
}
END_TEST

/* ---- srv_listen ------------------------------------------------------------- */

START_TEST(test_listen_live_path_refused)
{
	const char *what = NULL;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat sb;
	int fd, fd2, c;

	fd = srv_listen(path, 0640, (gid_t)-1, &what);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert(S_ISSOCK(sb.st_mode));
	ck_assert_int_eq(sb.st_mode & 0777, 0640);
	fd2 = srv_listen(path, 0600, (gid_t)-1, &what);
	ck_assert_int_eq(fd2, -EADDRINUSE);
	ck_assert_ptr_nonnull(strstr(what, "listening"));
	/* The live one is untouched: still reachable at its path. */
	strcpy(sa.sun_path, path);
	ck_assert_int_ge(c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), 0);
	ck_assert_int_eq(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(c);
	close(fd);
}
END_TEST

START_TEST(test_listen_replaces_stale_socket)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *what = NULL;
	int fd;

	/* A socket file whose process is gone: bound, never listened. */
	strcpy(sa.sun_path, path);
	ck_assert_int_ge(fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0),
	    0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	ck_assert_int_eq(access(path, F_OK), 0);
	fd = srv_listen(path, 0600, (gid_t)-1, &what);
	ck_assert_msg(fd >= 0, "%s: %s", what, strerror(-fd));
	close(fd);
}
END_TEST

START_TEST(test_listen_refuses_other_files)
{
	const char *what = NULL;
	char longp[200];
	struct stat sb;
	int fd;

	ck_assert_int_ge(fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600),
	    0);
	ck_assert_int_eq(write(fd, "data", 4), 4);
	close(fd);
	ck_assert_int_eq(srv_listen(path, 0600, (gid_t)-1, &what), -EEXIST);
	ck_assert_ptr_nonnull(strstr(what, "not a socket"));
	ck_assert_int_eq(stat(path, &sb), 0);   /* left alone */
	ck_assert(S_ISREG(sb.st_mode));
	ck_assert_int_eq(sb.st_size, 4);
	memset(longp, 'x', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	ck_assert_int_eq(srv_listen(longp, 0600, (gid_t)-1, &what),
	    -ENAMETOOLONG);
}
END_TEST

static Suite *
server_suite(void)
{
	Suite *s = suite_create("server");
	TCase *tc = tcase_create("server");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_answers_in_request_order);
	tcase_add_test(tc, test_many_answers_out_of_order);
	tcase_add_test(tc, test_line_too_long);
	tcase_add_test(tc, test_partial_line_too_long);
	tcase_add_test(tc, test_client_that_never_reads);
	tcase_add_test(tc, test_pending_answers_bound);
	tcase_add_test(tc, test_max_connections);
	tcase_add_test(tc, test_close_all);
	tcase_add_test(tc, test_listen_live_path_refused);
	tcase_add_test(tc, test_listen_replaces_stale_socket);
	tcase_add_test(tc, test_listen_refuses_other_files);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	log_init("test_server", LOG_LVL_WARNING);
	return tu_main(server_suite());
}
