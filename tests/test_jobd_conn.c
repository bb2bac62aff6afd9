/*
 * test_jobd_conn.c — the real jobd and its connections: backpressure seen
 * from a second connection, pipelining, a client that never reads, garbage
 * lines, lines past max_line, max_connections, and the sqlite3 shell
 * reading the database while jobd writes.
 *
 * Each test starts its own jobd on a fresh directory (tu_jobd.h).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tu_jobd.h"
#include "tu_pg.h"

/* default: roomy; small: one worker and room for two queued jobs. */
#define CONN_QUEUES                                                          \
	"[queue.default]\nworkers = 4\ncapacity = 5000\ntimeout = 0\n"       \
	"[queue.small]\nworkers = 1\ncapacity = 2\ntimeout = 0\n"

/* ---- backpressure -------------------------------------------------------- */

/* Fill small: one job running, two queued.  Returns the queued ids. */
static void
fill_small(struct tj_conn *c, double first, json_int_t *q1, json_int_t *q2)
{
	json_int_t run;

	run = tj_submit(c, "'kind':'sleep','args':{'seconds':%g},"
	    "'queue':'small'", first);
	tj_wait_state(c, run, "running", TJ_TIMEOUT);
	*q1 = tj_submit(c, "'kind':'sleep','args':{'seconds':30},"
	    "'queue':'small'");
	*q2 = tj_submit(c, "'kind':'sleep','args':{'seconds':30},"
	    "'queue':'small'");
}

START_TEST(test_backpressure_cancel)
{
	struct tj_conn *a, *b;
	json_int_t q1, q2, other, held;
	json_t *ans;

	tj_start(TJ_DAEMON CONN_QUEUES);
	a = tj_connect();
	b = tj_connect();
	fill_small(b, 30, &q1, &q2);

	/* A blocking submit into the full queue: no answer, and nothing
	 * behind it on A is answered either. */
	tj_send(a, "{'op':'submit','kind':'sleep','args':{'seconds':30},"
	    "'queue':'small','tag':'held'}");
	tj_send(a, "{'op':'ping','tag':'after'}");
	ck_assert_ptr_null(tj_line(a, 0.5));
	ck_assert(!tj_eof(a));

	/* B is served meanwhile, and sees the queue full. */
	tj_assert_ok(tj_req(b, "{'op':'ping'}"));
	ans = tj_req(b, "{'op':'stats'}");
	ck_assert_int_eq(tj_int(ans, "queues.small.queued"), 2);
	ck_assert_int_eq(tj_int(ans, "queues.small.running"), 1);
	ans = tj_req(b, "{'op':'submit','kind':'sleep','args':{'seconds':0},"
	    "'queue':'small','nowait':true,'tag':'nw'}");
	tj_assert_err(ans, "queue_full");
	ck_assert_str_eq(tj_str(ans, "tag"), "nw");
	other = tj_submit(b, "'kind':'sleep','args':{'seconds':0}");
	ck_assert_ptr_null(tj_line(a, 0.1));

	/* Room: A's answers come, in order. */
	tj_assert_ok(tj_req(b, "{'op':'cancel','id':%lld}", (long long)q1));
	ans = tj_recv(a);
	tj_assert_ok(ans);
	ck_assert_str_eq(tj_str(ans, "tag"), "held");
	held = tj_int(ans, "id");
	ck_assert_int_gt(held, other);
	ans = tj_recv(a);
	tj_assert_ok(ans);
	ck_assert_str_eq(tj_str(ans, "tag"), "after");
	ck_assert_str_eq(tj_str(tj_job(b, held), "state"), "queued");
	ans = tj_req(b, "{'op':'stats'}");
	ck_assert_int_eq(tj_int(ans, "queues.small.queued"), 2);
	tj_assert_err(tj_req(b, "{'op':'submit','kind':'sleep','args':"
	    "{'seconds':0},'queue':'small','nowait':true}"), "queue_full");
	(void)q2;
}
END_TEST

/* The room can also come from a job ending: the held answer comes then,
 * not before. */
START_TEST(test_backpressure_finish)
{
	struct tj_conn *a, *b;
	json_int_t q1, q2, first;
	json_t *ans, *job;
	double got;

	tj_start(TJ_DAEMON CONN_QUEUES);
	a = tj_connect();
	b = tj_connect();
	fill_small(b, 0.6, &q1, &q2);
	first = q1 - 1;
	tj_send(a, "{'op':'submit','kind':'sleep','args':{'seconds':0},"
	    "'queue':'small'}");
	ans = tj_recv(a);
	got = tu_wall();
	tj_assert_ok(ans);
	job = tj_wait(b, first, 5);
	ck_assert_str_eq(tj_str(job, "state"), "succeeded");
	tj_assert_time(got - tj_num(job, "started_at"), 0.6, 1.0);
	ck_assert_str_eq(tj_str(tj_job(b, q1), "state"), "running");
	(void)q2;
}
END_TEST

/* ---- pipelining ---------------------------------------------------------- */

START_TEST(test_pipeline_1000)
{
	enum { N = 1000 };
	struct tj_conn *c;
	char *buf = malloc(N * 100);
	json_int_t prev = 0, id;
	size_t len = 0;
	json_t *ans;

	ck_assert_ptr_nonnull(buf);
	tj_start(TJ_DAEMON CONN_QUEUES);
	c = tj_connect();
	for (int i = 0; i < N; i++)
		len += sprintf(buf + len, "{\"op\":\"submit\",\"kind\":\"sleep\","
		    "\"args\":{\"seconds\":0},\"tag\":%d}\n", i);
	tj_write(c, buf, len);
	free(buf);
	for (int i = 0; i < N; i++) {
		ans = tj_recv(c);
		tj_assert_ok(ans);
		ck_assert_int_eq(tj_int(ans, "tag"), i);
		id = tj_int(ans, "id");
		ck_assert_msg(id > prev, "answer %d: id %lld after %lld", i,
		    (long long)id, (long long)prev);
		prev = id;
	}
	tj_wait_idle(c, TJ_TIMEOUT);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs WHERE state = "
	    "'succeeded'"), N);
}
END_TEST

/* ---- a client that never reads ------------------------------------------- */

/* Ping on c; returns the round trip in seconds. */
static double
ping_time(struct tj_conn *c)
{
	double t0 = tj_now();

	tj_assert_ok(tj_req(c, "{'op':'ping'}"));
	return tj_now() - t0;
}

START_TEST(test_slow_reader)
{
	enum { BATCH = 100, MAX_REQ = 50000 };
	struct tj_conn *s, *b;
	char name[201], *req;
	long rss0, rss;
	size_t len, off = 0, sent = 0;
	double worst = 0, idle_since, last_ping, t;
	json_t *ans;

	tj_start(TJ_DAEMON "max_line = 64K\n" CONN_QUEUES);
	b = tj_connect();
	/* 100 jobs with long names: each list answer is ~30 KB. */
	memset(name, 'x', 200);
	name[200] = '\0';
	for (int i = 0; i < 100; i++)
		tj_submit(b, "'kind':'sleep','args':{'seconds':0},'name':'%s'",
		    name);
	tj_wait_idle(b, TJ_TIMEOUT);
	ans = tj_req(b, "{'op':'list'}");
	ck_assert_int_eq(json_array_size(tj_at(ans, "jobs")), 100);
	rss0 = tj_rss_kb();

	/* s pipelines lists (the answers would be 50,000 x 30 KB) and never
	 * reads; it stops when jobd has taken nothing for a second. */
	req = malloc(BATCH * 32);
	ck_assert_ptr_nonnull(req);
	len = 0;
	for (int i = 0; i < BATCH; i++)
		len += sprintf(req + len, "{\"op\":\"list\",\"limit\":100}\n");
	s = tj_connect();
	idle_since = last_ping = tj_now();
	while (sent < MAX_REQ && tj_now() - idle_since < 1.0) {
		size_t n = tj_write_some(s, req + off, len - off);

		if (n > 0) {
			idle_since = tj_now();
			off += n;
			if (off == len) {
				off = 0;
				sent += BATCH;
			}
		}
		if (tj_now() - last_ping > 0.05) {
			if ((t = ping_time(b)) > worst)
				worst = t;
			last_ping = tj_now();
		}
		if (n == 0)
			tj_sleep(0.01);
	}
	free(req);
	rss = tj_rss_kb();
	tj_note("slow reader: jobd took %zu requests, RSS %ld -> %ld KiB, "
	    "worst ping %.4f s", sent, rss0, rss, worst);
	ck_assert_msg(sent < MAX_REQ, "jobd took all %d requests of a client "
	    "that reads nothing (RSS %ld -> %ld KiB)", MAX_REQ, rss0, rss);
	for (int i = 0; i < 20; i++)
		if ((t = ping_time(b)) > worst)
			worst = t;
	ck_assert_msg(worst < TJ_TIMEOUT / 2, "ping took %.3f s while a "
	    "client did not read", worst);
	/* Under a sanitizer jobd's RSS is mostly ASan's quarantine (freed
	 * memory kept unused: with libpq's result per list it grew 100 MiB),
	 * so the bound holds in normal builds only, as in test_jobd_flood. */
#ifndef JOBD_SANITIZE
	ck_assert_msg(rss - rss0 < 64 * 1024 * (tu_slow() > 1 ? 2 : 1),
	    "RSS grew from %ld to %ld KiB for a client that reads nothing",
	    rss0, rss);
#endif

	/* The stuck client goes away; jobd goes on. */
	tj_close(s);
	ck_assert_double_lt(ping_time(b), TJ_TIMEOUT / 2);
	tj_submit(b, "'kind':'sleep','args':{'seconds':0}");
}
END_TEST

/* ---- garbage ------------------------------------------------------------- */

#define L(s) { s, sizeof(s) - 1 }

/* Lines that are not a request jobd can take: each gets one bad_request
 * answer, and the connection goes on. */
static const struct {
	const char	*line;
	size_t		 len;
} garbage[] = {
	L("\x00\x01\x02\xff\xfe binary \x7f"),
	L("{\"op\":\"ping\",\"x\":\"a\x00z\"}"),
	L("{\"op\":\"ping\",\"x\":\"\\u0000\"}"),
	L("{\"op\":\"ping\",\"x\":\"\xc3\x28\"}"),
	L("{\"op\":\"ping\",\"x\":\"\xc0\xaf\"}"),
	L("{\"op\":\"ping\",\"x\":\"\xed\xa0\x80\"}"),
	L("{\"op\":\"ping\",\"x\":\"\xf4\x90\x80\x80\"}"),
	L("{\"op\":\"ping\",\"x\":\"\xff\"}"),
	L("\xef\xbb\xbf{\"op\":\"ping\"}"),
	L("{\"op\":\"ping\",\"x\":\"\\ud800\"}"),
	L("{\"op\":\"ping\",\"x\":\"\\udc00\\ud800\"}"),
	L("{\"op\":\"ping\",\"x\":\"a\tb\"}"),
	L("{\"op\":\"ping\",\"x\":\"\x1b[1m\"}"),
	L("{\"op\":\"ping\"}\f"),
	L("{\"op\":\"get\",\"id\":1e400}"),
	L("{\"op\":\"get\",\"id\":99999999999999999999}"),
	L("{\"op\":\"ping\",\"x\":9223372036854775808}"),
	L("{\"op\":\"ping\",\"x\":-9223372036854775809}"),
	L("{\"op\":\"get\",\"id\":NaN}"),
	L("{\"op\":\"get\",\"id\":Infinity}"),
	L("{\"op\":\"get\",\"id\":0x10}"),
	L("{\"op\":\"get\",\"id\":01}"),
	L("}{"),
	L("{\"op\":\"ping\"}{\"op\":\"ping\"}"),
	L("{\"op\":\"ping\"} x"),
	L(""),
	L("   "),
	L("\r"),
	L("{\"op\":\"ping\""),
	L("{\"op\":\"ping\",}"),
	L("{op:\"ping\"}"),
	L("{'op':'ping'}"),
	L("[\"ping\"]"),
	L("\"ping\""),
	L("null"),
	L("42"),
	L("{\"op\":\"ping\",\"x\":{\"a\":1,\"a\":2}}"),
};

/* Append an object nested depth levels deep in all to b (the request is
 * level 1): {"op":"ping","x":[[...]]}. */
static size_t
nested(char *b, int depth)
{
	size_t n = sprintf(b, "{\"op\":\"ping\",\"x\":");

	for (int i = 1; i < depth; i++)
		b[n++] = '[';
	for (int i = 1; i < depth; i++)
		b[n++] = ']';
	n += sprintf(b + n, "}\n");
	return n;
}

START_TEST(test_garbage_lines)
{
	enum { NG = sizeof(garbage) / sizeof(garbage[0]), DEEP = 100000 };
	struct tj_conn *c;
	char *buf = malloc(2 * DEEP + 16384);
	size_t len = 0;
	json_t *a;

	ck_assert_ptr_nonnull(buf);
	tj_start(TJ_DAEMON CONN_QUEUES);
	c = tj_connect();
	/* Every garbage line, each followed by a ping, in one write. */
	for (int i = 0; i < NG; i++) {
		memcpy(buf + len, garbage[i].line, garbage[i].len);
		len += garbage[i].len;
		len += sprintf(buf + len, "\n{\"op\":\"ping\",\"tag\":%d}\n", i);
	}
	tj_write(c, buf, len);
	for (int i = 0; i < NG; i++) {
		a = tj_recv(c);
		ck_assert_msg(tj_code(a) && !strcmp(tj_code(a), "bad_request"),
		    "garbage line %d: %s", i, tj_dump(a));
		a = tj_recv(c);
		tj_assert_ok(a);
		ck_assert_msg(json_integer_value(tj_at(a, "tag")) == i,
		    "garbage line %d got more or fewer than one answer", i);
	}

	/* Tags still come back from an object with a duplicate key or
	 * garbage after it. */
	a = tj_req(c, "{'op':'get','id':1,'id':2,'tag':'d'}");
	tj_assert_err(a, "bad_request");
	ck_assert_str_eq(tj_str(a, "tag"), "d");
	a = tj_req(c, "{'op':'ping','tag':5} x");
	tj_assert_err(a, "bad_request");
	ck_assert_int_eq(tj_int(a, "tag"), 5);
	/* CR before LF is whitespace. */
	a = tj_req(c, "{'op':'ping','tag':'crlf'}\r");
	tj_assert_ok(a);
	ck_assert_str_eq(tj_str(a, "tag"), "crlf");

	/* Nesting: 32 levels are fine, 33 are not, 100,000 neither (and
	 * do not crash it). */
	len = nested(buf, 32);
	tj_write(c, buf, len);
	tj_assert_ok(tj_recv(c));
	len = nested(buf, 33);
	tj_write(c, buf, len);
	tj_assert_err(tj_recv(c), "bad_request");
	len = nested(buf, DEEP);
	tj_write(c, buf, len);
	tj_assert_err(tj_recv(c), "bad_request");
	memset(buf, '[', DEEP);
	buf[DEEP] = '\n';
	tj_write(c, buf, DEEP + 1);
	tj_assert_err(tj_recv(c), "bad_request");
	memset(buf, '{', DEEP);
	tj_write(c, buf, DEEP + 1);
	tj_assert_err(tj_recv(c), "bad_request");
	free(buf);
	tj_assert_ok(tj_req(c, "{'op':'ping'}"));
}
END_TEST

/* A line past max_line: line_too_long, then jobd closes the connection;
 * with or without its newline, and however long it goes on. */
START_TEST(test_line_too_long)
{
	enum { BIG = 8 * 1024 * 1024 };
	struct tj_conn *c;
	char *buf = malloc(BIG);
	size_t n;
	json_t *a;

	ck_assert_ptr_nonnull(buf);
	tj_start(TJ_DAEMON "max_line = 4K\n" CONN_QUEUES);
	/* Up to the limit (4096 bytes before the '\n') is fine. */
	c = tj_connect();
	n = sprintf(buf, "{\"op\":\"ping\",\"pad\":\"");
	memset(buf + n, 'a', 4094 - n);
	n = 4094;
	n += sprintf(buf + n, "\"}\n");
	tj_write(c, buf, n);
	tj_assert_ok(tj_recv(c));
	buf[4094] = 'a';                /* one more byte: 4097 */
	buf[4095] = '"';
	buf[4096] = '}';
	buf[4097] = '\n';
	tj_write(c, buf, 4098);
	tj_assert_err(tj_recv(c), "line_too_long");
	ck_assert(tj_closed(c, TJ_TIMEOUT));

	for (int round = 0; round < 3; round++) {
		size_t len = round == 2 ? BIG : 5000;

		n = sprintf(buf, "{\"op\":\"ping\",\"pad\":\"");
		memset(buf + n, 'a', len - n);
		if (round == 0)
			buf[len - 1] = '\n';
		c = tj_connect();
		tj_write(c, buf, len);
		a = tj_recv(c);
		tj_assert_err(a, "line_too_long");
		ck_assert_msg(tj_closed(c, TJ_TIMEOUT), "round %d: still open",
		    round);
		tj_close(c);
	}
	free(buf);
	c = tj_connect();
	tj_assert_ok(tj_req(c, "{'op':'ping'}"));
}
END_TEST

/* ---- max_connections ----------------------------------------------------- */

START_TEST(test_max_connections)
{
	struct tj_conn *c[3], *extra;
	json_t *a;

	tj_start(TJ_DAEMON "max_connections = 3\n" CONN_QUEUES);
	c[0] = tj_connect();
	tj_wait_connections(c[0], 1, TJ_TIMEOUT);
	for (int i = 1; i < 3; i++) {
		c[i] = tj_connect();
		tj_assert_ok(tj_req(c[i], "{'op':'ping'}"));
	}
	extra = tj_connect();
	a = tj_recv(extra);
	tj_assert_err(a, "too_many_connections");
	ck_assert(tj_closed(extra, TJ_TIMEOUT));
	tj_close(extra);
	for (int i = 0; i < 3; i++)
		tj_assert_ok(tj_req(c[i], "{'op':'ping'}"));

	/* A place frees up: the next client gets in. */
	tj_close(c[2]);
	tj_wait_connections(c[0], 2, TJ_TIMEOUT);
	c[2] = tj_connect();
	tj_assert_ok(tj_req(c[2], "{'op':'ping'}"));
	tj_submit(c[2], "'kind':'sleep','args':{'seconds':0}");
}
END_TEST

/* ---- the sqlite3 shell while jobd writes --------------------------------- */

START_TEST(test_sqlite3_reads_during_burst)
{
	enum { ROUNDS = 6, PER = 500 };
	struct tj_conn *c;
	char *buf = malloc(PER * 100);
	long long seen = 0, n;
	const char *out;
	size_t len;

	ck_assert_ptr_nonnull(buf);
	tj_start(TJ_DAEMON CONN_QUEUES);
	c = tj_connect();
	ck_assert_str_eq(tj_sql("PRAGMA journal_mode"), "wal");
	for (int r = 0; r < ROUNDS; r++) {
		len = 0;
		for (int i = 0; i < PER; i++)
			len += sprintf(buf + len, "{\"op\":\"submit\",\"kind\":"
			    "\"sleep\",\"args\":{\"seconds\":0.001}}\n");
		tj_write(c, buf, len);
		/* Read while jobd inserts, starts and ends these. */
		out = tj_sql("SELECT count(*) || ' ' || ifnull(sum("
		    "json_extract(args, '$.seconds') = 0.001), 0) FROM jobs");
		ck_assert_int_eq(sscanf(out, "%lld", &n), 1);
		ck_assert_msg(n >= seen, "count went from %lld to %lld", seen,
		    n);
		ck_assert_msg(strchr(out, ' ') && atoll(strchr(out, ' ')) == n,
		    "%s", out);
		seen = n;
		for (int i = 0; i < PER; i++)
			tj_assert_ok(tj_recv(c));
		ck_assert_int_ge(tj_sql_int("SELECT count(*) FROM jobs"),
		    (long long)(r + 1) * PER);
	}
	free(buf);
	tj_wait_idle(c, TJ_TIMEOUT);
	ck_assert_str_eq(tj_sql("SELECT state, count(*) FROM jobs GROUP BY "
	    "state"), "succeeded|3000");
	ck_assert_str_eq(tj_sql("PRAGMA journal_mode"), "wal");
}
END_TEST

/* ---- how requests arrive ------------------------------------------------- */

/* Requests split anywhere across writes, one byte at a time included,
 * are still one request each. */
START_TEST(test_split_writes)
{
	const char *two = "{\"op\":\"ping\",\"tag\":1}\n{\"op\":\"ping\","
	    "\"tag\":2}\n";
	struct tj_conn *c;

	tj_start(TJ_DAEMON CONN_QUEUES);
	c = tj_connect();
	for (const char *p = two; *p != '\0'; p++) {
		tj_write(c, p, 1);
		tj_sleep(0.002);
	}
	ck_assert_int_eq(tj_int(tj_recv(c), "tag"), 1);
	ck_assert_int_eq(tj_int(tj_recv(c), "tag"), 2);
	tj_write(c, two, 15);
	ck_assert_ptr_null(tj_line(c, 0.1));
	tj_write(c, two + 15, strlen(two) - 15);
	ck_assert_int_eq(tj_int(tj_recv(c), "tag"), 1);
	ck_assert_int_eq(tj_int(tj_recv(c), "tag"), 2);
}
END_TEST

/* A client that sends its requests and closes its sending side (what
 * `socat` and `nc -N` do at the end of their input) still gets every
 * answer, a held one included, and then the end of the connection. */
START_TEST(test_half_close)
{
	struct tj_conn *c, *b;
	json_int_t id;
	json_t *a;

	tj_start(TJ_DAEMON CONN_QUEUES);
	b = tj_connect();
	id = tj_submit(b, "'kind':'sleep','args':{'seconds':0.3}");
	c = tj_connect();
	tj_send(c, "{'op':'ping','tag':1}");
	tj_send(c, "{'op':'wait','id':%lld,'tag':2}", (long long)id);
	tj_send(c, "{'op':'submit','kind':'sleep','args':{'seconds':0},"
	    "'tag':3}");
	tj_shutdown_write(c);
	ck_assert_int_eq(tj_int(tj_recv(c), "tag"), 1);
	a = tj_recv(c);
	ck_assert_int_eq(tj_int(a, "tag"), 2);
	ck_assert_str_eq(tj_str(a, "job.state"), "succeeded");
	a = tj_recv(c);
	tj_assert_ok(a);
	ck_assert_int_eq(tj_int(a, "tag"), 3);
	ck_assert(tj_closed(c, TJ_TIMEOUT));
	/* That submit happened. */
	ck_assert_str_eq(tj_str(tj_wait(b, tj_int(a, "id"), 5), "state"),
	    "succeeded");
}
END_TEST

/* Cancel every job that has not ended. */
static void
cancel_all(struct tj_conn *c)
{
	json_t *a, *job;
	size_t i;

	for (int round = 0; round < 10; round++) {
		a = tj_req(c, "{'op':'list','limit':10000}");
		json_array_foreach(tj_at(a, "jobs"), i, job) {
			const char *st = tj_str(job, "state");

			if (!strcmp(st, "queued") || !strcmp(st, "running"))
				tj_req(c, "{'op':'cancel','id':%lld}",
				    (long long)tj_int(job, "id"));
		}
	}
}

/* Clients that go away in the middle of things: a held submit, a wait, a
 * cancel of a running job, half a line.  jobd goes on (and the teardown
 * checks it still stops cleanly). */
START_TEST(test_disconnects)
{
	struct tj_conn *b, *x;
	json_int_t q1, q2, run;
	json_t *a;

	tj_start(TJ_DAEMON CONN_QUEUES);
	b = tj_connect();
	fill_small(b, 30, &q1, &q2);
	run = q1 - 1;
	x = tj_connect();
	tj_send(x, "{'op':'submit','kind':'sleep','args':{'seconds':30},"
	    "'queue':'small'}");
	ck_assert_ptr_null(tj_line(x, 0.2));
	tj_close(x);
	x = tj_connect();
	tj_send(x, "{'op':'wait','id':%lld}", (long long)run);
	tj_sleep(0.05);
	tj_close(x);
	x = tj_connect();
	tj_write(x, "{\"op\":\"pi", 10);
	tj_sleep(0.05);
	tj_close(x);
	x = tj_connect();
	tj_send(x, "{'op':'cancel','id':%lld}", (long long)run);
	tj_close(x);

	tj_wait_state(b, run, "cancelled", TJ_TIMEOUT);
	/* The held submit may have gone in when room came, or not at all;
	 * the queue never goes past its capacity either way. */
	a = tj_req(b, "{'op':'stats'}");
	ck_assert_int_le(tj_int(a, "queues.small.queued"), 2);
	ck_assert_int_le(json_array_size(tj_at(tj_req(b, "{'op':'list',"
	    "'queue':'small'}"), "jobs")), 4);
	cancel_all(b);
	tj_wait_idle(b, TJ_TIMEOUT);
	tj_assert_ok(tj_req(b, "{'op':'ping'}"));
}
END_TEST

/* ---- max_connections_per_user -------------------------------------------- */

/* One line from a raw connection (NUL-terminated, '\n' kept), "" at EOF
 * or after TJ_TIMEOUT. */
static void
raw_line(int fd, char *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t n = 0;
	ssize_t k;

	buf[0] = '\0';
	while (n + 1 < len && memchr(buf, '\n', n) == NULL &&
	    poll(&p, 1, (int)(TJ_TIMEOUT * 1000)) == 1 &&
	    (k = read(fd, buf + n, len - 1 - n)) > 0) {
		n += (size_t)k;
		buf[n] = '\0';
	}
}

/* A raw connection that answers ping, or -1 with the refusal in buf.
 * A refused connection may be closed by jobd before the ping is
 * written (EPIPE, ECONNRESET): its refusal line is still there to read. */
static int
raw_ping(char *buf, size_t len)
{
	int fd = tj_raw_connect();
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	n = write(fd, "{\"op\":\"ping\"}\n", 14);
	ck_assert_msg(n == 14 || (n == -1 && (errno == EPIPE ||
	    errno == ECONNRESET)), "write: %zd: %s", n, strerror(errno));
	raw_line(fd, buf, len);
	if (strstr(buf, "\"ok\":true") != NULL)
		return fd;
	close(fd);
	return -1;
}

/* The test's own uid, or (as root, who is exempt) uid 65534 through
 * seteuid: connections are counted with the credentials of connect(). */
static void
become_user(bool root)
{
	if (root) {
		ck_assert_int_eq(setegid(65534), 0);
		ck_assert_int_eq(seteuid(65534), 0);
	}
}

static void
become_root(bool root)
{
	if (root) {
		ck_assert_int_eq(seteuid(0), 0);
		ck_assert_int_eq(setegid(0), 0);
	}
}

/* One uid gets max_connections_per_user connections and a refusal that
 * names the limit; root is not limited; a closed one frees a place. */
START_TEST(test_max_connections_per_user)
{
	enum { LIMIT = 3 };
	bool root = geteuid() == 0;
	int fds[LIMIT], more[LIMIT + 2], fd = -1;
	char line[512], want[128];
	char *dir = strdup(tj_path("")), *slash;

	tj_start(TJ_DAEMON "max_connections_per_user = %d\nsocket_mode = 0666\n"
	    CONN_QUEUES, LIMIT);
	if (root) {     /* uid 65534 must reach the socket */
		ck_assert_int_eq(chmod(dir, 0711), 0);
		if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
			*slash = '\0';
			if ((slash = strrchr(dir, '/')) != NULL)
				*slash = '\0';
			ck_assert_int_eq(chmod(dir, 0711), 0);
		}
	}
	free(dir);
	become_user(root);
	for (int i = 0; i < LIMIT; i++)
		ck_assert_msg((fds[i] = raw_ping(line, sizeof(line))) >= 0,
		    "connection %d refused: %s", i, line);
	ck_assert_int_eq(raw_ping(line, sizeof(line)), -1);
	snprintf(want, sizeof(want), "uid %u has %d connections to jobd "
	    "already (max_connections_per_user)", (unsigned)geteuid(), LIMIT);
	ck_assert_msg(strstr(line, "too_many_connections") != NULL &&
	    strstr(line, want) != NULL, "%s", line);
	become_root(root);
	if (root)       /* exempt, and not counted */
		for (int i = 0; i < LIMIT + 2; i++)
			ck_assert_int_ge(more[i] = raw_ping(line, sizeof(line)),
			    0);
	close(fds[0]);
	become_user(root);
	/* jobd notices the close on its own time. */
	for (double end = tj_now() + TJ_TIMEOUT; fd < 0; tj_sleep(0.01)) {
		ck_assert_msg(tj_now() < end, "no place freed: %s", line);
		fd = raw_ping(line, sizeof(line));
	}
	become_root(root);
	close(fd);
	for (int i = 1; i < LIMIT; i++)
		close(fds[i]);
	for (int i = 0; root && i < LIMIT + 2; i++)
		close(more[i]);
}
END_TEST

/* A real in a tag and in args comes back as it went in, not rounded to
 * 16 digits, and so it is stored. */
START_TEST(test_reals_round_trip)
{
	struct tj_conn *c;
	json_int_t id;
	json_t *a;
	char *line;

	tj_start(TJ_DAEMON CONN_QUEUES);
	c = tj_connect();
	tj_send(c, "{'op':'submit','kind':'sleep','args':{'seconds':"
	    "0.30000000000000004},'tag':0.30000000000000004}");
	line = tj_line(c, TJ_TIMEOUT);
	ck_assert_msg(strstr(line, "\"tag\":0.30000000000000004") != NULL,
	    "%s", line);
	ck_assert_ptr_nonnull(a = json_loads(line, 0, NULL));
	id = tj_int(a, "id");
	json_decref(a);
	tj_wait(c, id, 10);
	tj_send(c, "{'op':'get','id':%lld,'tag':0.1}", (long long)id);
	line = tj_line(c, TJ_TIMEOUT);
	ck_assert_msg(strstr(line, "\"seconds\":0.30000000000000004") &&
	    (strstr(line, "\"tag\":0.1,") || strstr(line, "\"tag\":0.1}")) &&
	    strstr(line,
	    "\"slept\":0.30000000000000004"), "%s", line);
	ck_assert_str_eq(tj_sql("SELECT args FROM jobs WHERE id = %lld",
	    (long long)id), "{\"seconds\":0.30000000000000004}");
}
END_TEST

/* ---- reload -------------------------------------------------------------- */

/* SIGHUP: a bigger capacity lets a held submit in, a new queue appears;
 * a bad file is refused and the running config kept. */
START_TEST(test_sighup_reload)
{
	struct tj_conn *a, *b;
	json_int_t q1, q2;
	json_t *ans;

	tj_start(TJ_DAEMON CONN_QUEUES);
	a = tj_connect();
	b = tj_connect();
	fill_small(b, 30, &q1, &q2);
	tj_send(a, "{'op':'submit','kind':'sleep','args':{'seconds':0},"
	    "'queue':'small','tag':'held'}");
	ck_assert_ptr_null(tj_line(a, 0.2));

	tj_conf(TJ_DAEMON CONN_QUEUES "[queue.extra]\nworkers = 2\n");
	ck_assert_ptr_nonnull(strstr(tj_log(), "ready"));
	tj_conf(TJ_DAEMON
	    "[queue.default]\nworkers = 4\ncapacity = 5000\ntimeout = 0\n"
	    "[queue.small]\nworkers = 1\ncapacity = 3\ntimeout = 0\n"
	    "[queue.extra]\nworkers = 2\n");
	tj_signal(SIGHUP);
	ans = tj_recv(a);
	tj_assert_ok(ans);
	ck_assert_str_eq(tj_str(ans, "tag"), "held");
	ans = tj_req(b, "{'op':'stats'}");
	ck_assert_int_eq(tj_int(ans, "queues.small.capacity"), 3);
	ck_assert_int_eq(tj_int(ans, "queues.extra.workers"), 2);
	tj_wait(b, tj_submit(b, "'kind':'sleep','args':{'seconds':0},"
	    "'queue':'extra'"), 5);

	tj_conf(TJ_DAEMON CONN_QUEUES "workers = many\n");
	tj_signal(SIGHUP);
	ans = tj_req(b, "{'op':'stats'}");
	for (double end = tj_now() + TJ_TIMEOUT; !strstr(tj_log(),
	    "jobd.conf:"); tj_sleep(0.01))
		ck_assert_msg(tj_now() < end, "no error logged: %s", tj_log());
	ans = tj_req(b, "{'op':'stats'}");
	ck_assert_int_eq(tj_int(ans, "queues.small.capacity"), 3);
	ck_assert_ptr_nonnull(tj_at(ans, "queues.extra"));
	tj_assert_ok(tj_req(a, "{'op':'ping'}"));
}
END_TEST

static Suite *
jobd_conn_suite(void)
{
	Suite *s = suite_create("jobd_conn");
	TCase *tc = tj_tcase("conn", 60);

	tcase_add_test(tc, test_backpressure_cancel);
	tcase_add_test(tc, test_backpressure_finish);
	tcase_add_test(tc, test_pipeline_1000);
	tcase_add_test(tc, test_slow_reader);
	tcase_add_test(tc, test_garbage_lines);
	tcase_add_test(tc, test_line_too_long);
	tcase_add_test(tc, test_max_connections);
	if (!tu_pg_wanted())    /* the sqlite3 shell on the file */
		tcase_add_test(tc, test_sqlite3_reads_during_burst);
	tcase_add_test(tc, test_split_writes);
	tcase_add_test(tc, test_half_close);
	tcase_add_test(tc, test_disconnects);
	tcase_add_test(tc, test_sighup_reload);
	tcase_add_test(tc, test_max_connections_per_user);
	tcase_add_test(tc, test_reals_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(jobd_conn_suite());
}
