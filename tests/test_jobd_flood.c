/*
 * test_jobd_flood.c — the real jobd against hostile and broken clients:
 * thousands of connections at once, slowloris clients, clients that never
 * read, clients that vanish mid-line or while a request is held, and
 * pipelined floods of 1 MiB lines.  Throughout, a well-behaved client is
 * served (its ping latency is measured) and jobd's memory stays bounded
 * (its VmRSS is measured).  The figures are printed for docs/RELIABILITY.md.
 *
 * Flood clients are raw non-blocking sockets driven by poll(2) from this
 * process, so one test holds thousands of them.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tu_jobd.h"

#define FLOOD_QUEUES                                                         \
	"[queue.default]\nworkers = 4\ncapacity = 100000\ntimeout = 0\n"     \
	"[queue.small]\nworkers = 1\ncapacity = 1\ntimeout = 0\n"

/* A raw non-blocking connection to jobd, or -1 (errno set). */
static int
raw_connect(void)
{
	int fd = tj_raw_connect();

	if (fd >= 0)
		fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* As many fds as the hard limit allows, for thousands of clients. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = rl.rlim_max;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

/* Under a sanitizer, jobd's RSS is mostly the sanitizer's (ASan keeps
 * freed memory in quarantine): memory bounds are asserted in normal builds
 * only. */
#ifdef JOBD_SANITIZE
#define RSS_BOUND(grown, kib)   ((void)(grown), (void)(kib), true)
#else
#define RSS_BOUND(grown, kib)   ((grown) < (kib))
#endif

/* The bound on the good client's ping during a flood: jobd must keep
 * answering it (a jobd that blocks on a flooding client never does), but
 * how fast is a speed figure, printed here and measured in bench/ (a
 * sanitizer build on 2 busy cores saw a median of 4 s): generous, well
 * below tj_req's own TJ_TIMEOUT (docs/RELIABILITY.md, "Timing in tests"). */
#define FLOOD_PING_BOUND (TJ_TIMEOUT / 2)

/* Ping on c: the round trip in seconds. */
static double
ping_time(struct tj_conn *c)
{
	double t0 = tj_now();

	tj_assert_ok(tj_req(c, "{'op':'ping'}"));
	return tj_now() - t0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The well-behaved client's pings during a flood. */
struct lat {
	double v[4096];
	size_t n;
};

static void
lat_add(struct lat *l, double t)
{
	if (l->n < sizeof(l->v) / sizeof(l->v[0]))
		l->v[l->n++] = t;
}

/* Print the median and worst ping under name with how much jobd's RSS
 * grew, and return the worst. */
static double
lat_report(struct lat *l, const char *name, long grown_kib)
{
	ck_assert_uint_gt(l->n, 0);
	qsort(l->v, l->n, sizeof(l->v[0]), cmp_double);
	printf("flood %-12s pings %4zu  p50 %7.2f ms  max %7.2f ms  jobd "
	    "RSS grew %6.1f MiB\n", name, l->n, l->v[l->n / 2] * 1e3,
	    l->v[l->n - 1] * 1e3, grown_kib / 1024.0);
	return l->v[l->n - 1];
}

/* Read what fd has without blocking; 1 at end of file, 0 otherwise. */
static int
drain(int fd, char *first, size_t firstlen)
{
	char buf[4096];
	ssize_t n;
	bool any = false;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (!any && first != NULL) {
			size_t k = (size_t)n < firstlen - 1 ? (size_t)n :
			    firstlen - 1;
			memcpy(first, buf, k);
			first[k] = '\0';
		}
		any = true;
	}
	return n == 0;
}

/* The median of 5 round trips of req on c, before a flood: what serving
 * one flooding client's request costs on this machine now (a sanitizer
 * build on busy cores costs many times an idle release build). */
static double
req_time(struct tj_conn *c, const char *req)
{
	struct lat l = { .n = 0 };
	double t0;

	for (int i = 0; i < 5; i++) {
		t0 = tj_now();
		tj_assert_ok(tj_req(c, req));
		lat_add(&l, tj_now() - t0);
	}
	qsort(l.v, l.n, sizeof(l.v[0]), cmp_double);
	return l.v[l.n / 2];
}

/* The end of a flood: report, check jobd grew less than bound_kib and kept
 * the good client's median ping low, close the flood and see it gone.
 * "Low" is FLOOD_PING_BOUND, or, if more, what serving each of the n
 * flooders one request (unit s each, measured before the flood) twice
 * over takes: a ping waits behind at most a round of them. */
static void
flood_end(struct lat *l, const char *name, long grown_kib, long bound_kib,
    double unit, struct tj_conn *good, const int *fds, int n)
{
	double bound = 2.0 * n * unit;

	if (bound < FLOOD_PING_BOUND)
		bound = FLOOD_PING_BOUND;
	lat_report(l, name, grown_kib);
	ck_assert_msg(RSS_BOUND(grown_kib, bound_kib), "jobd grew by %ld KiB",
	    grown_kib);
	ck_assert_msg(l->v[l->n / 2] < bound, "median ping %.2f s, bound %.2f "
	    "s (a request alone took %.4f s)", l->v[l->n / 2], bound, unit);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	tj_wait_connections(good, 1, TJ_TIMEOUT);
}

/* ---- thousands of connections at once ------------------------------------ */

START_TEST(test_thousands_of_connections)
{
	enum { MAXC = 500, N = 3000 };
	static int fds[N];
	struct tj_conn *good;
	struct lat lat = { .n = 0 };
	char first[256];
	int i, served = 0, refused = 0, other = 0;
	double worst;
	long rss0, rss;

	raise_nofile();
	/* One uid opens them all: no per-user share (when not root). */
	tj_start(TJ_DAEMON "max_connections = %d\nmax_connections_per_user = 0\n"
	    FLOOD_QUEUES, MAXC);
	good = tj_connect();
	rss0 = tj_rss_kb();
	/* Open them all at once; each that gets in sends a ping. */
	for (i = 0; i < N; i++) {
		ck_assert_msg((fds[i] = raw_connect()) >= 0, "connect %d: %s",
		    i, strerror(errno));
		(void)write(fds[i], "{\"op\":\"ping\"}\n", 14);
		if (i % 100 == 0)
			lat_add(&lat, ping_time(good));
	}
	/* Each gets one line: its pong, or too_many_connections and the
	 * end of the connection. */
	for (i = 0; i < N; i++) {
		struct pollfd p = { .fd = fds[i], .events = POLLIN };

		first[0] = '\0';
		ck_assert_int_eq(poll(&p, 1, (int)(TJ_TIMEOUT * 1000)), 1);
		(void)drain(fds[i], first, sizeof(first));
		if (strstr(first, "\"version\"") != NULL)
			served++;
		else if (strstr(first, "too_many_connections") != NULL)
			refused++;
		else
			other++;
		if (i % 100 == 0)
			lat_add(&lat, ping_time(good));
	}
	rss = tj_rss_kb();
	worst = lat_report(&lat, "connections", rss - rss0);
	ck_assert_int_eq(other, 0);
	ck_assert_int_eq(served, MAXC - 1);     /* good holds one slot */
	ck_assert_int_eq(refused, N - (MAXC - 1));
	ck_assert_double_lt(worst, FLOOD_PING_BOUND);
	for (i = 0; i < N; i++)
		close(fds[i]);
	tj_wait_connections(good, 1, TJ_TIMEOUT);
	/* Room again for new clients. */
	tj_assert_ok(tj_req(tj_connect(), "{'op':'ping'}"));
}
END_TEST

/* ---- slowloris ------------------------------------------------------------ */

START_TEST(test_slowloris)
{
	enum { N = 200 };
	static int fds[N];
	static const char req[] = "{\"op\":\"ping\",\"pad\":\"xxxxxxxxxxxxxxx\"}\n";
	struct tj_conn *good;
	struct lat lat = { .n = 0 };
	char first[256];
	int i, closed = 0;
	size_t k;
	long rss0, peak = 0;

	raise_nofile();
	tj_start(TJ_DAEMON "line_timeout = 1\n" FLOOD_QUEUES);
	good = tj_connect();
	rss0 = tj_rss_kb();
	for (i = 0; i < N; i++)
		ck_assert_int_ge(fds[i] = raw_connect(), 0);
	/* Every client trickles its request, a byte per 0.1 s each: none
	 * finishes its line within line_timeout. */
	for (k = 0; k < 15; k++) {
		for (i = 0; i < N; i++)
			(void)write(fds[i], req + k, 1);
		lat_add(&lat, ping_time(good));
		if (tj_rss_kb() > peak)
			peak = tj_rss_kb();
		usleep(100000);
	}
	/* 15 rounds of 0.1 s: every line_timeout (1 s) has passed. */
	/* Each was told why and closed. */
	for (i = 0; i < N; i++) {
		struct pollfd p = { .fd = fds[i], .events = POLLIN };

		first[0] = '\0';
		ck_assert_int_eq(poll(&p, 1, (int)(TJ_TIMEOUT * 1000)), 1);
		if (drain(fds[i], first, sizeof(first)) ||
		    poll(&p, 1, (int)(TJ_TIMEOUT * 1000)) == 1)
			closed++;
		ck_assert_msg(strstr(first, "line_timeout") != NULL,
		    "client %d got: %s", i, first);
		close(fds[i]);
	}
	ck_assert_int_eq(closed, N);
	lat_report(&lat, "slowloris", peak - rss0);
	tj_wait_connections(good, 1, TJ_TIMEOUT);
	/* A client that pauses between whole requests is not affected. */
	tj_assert_ok(tj_req(good, "{'op':'ping'}"));
	usleep(1500000);
	tj_assert_ok(tj_req(good, "{'op':'ping'}"));
}
END_TEST

/* ---- clients that never read ---------------------------------------------- */

START_TEST(test_never_read)
{
	enum { N = 50, CHUNK = 64 * 1024 };
	static int fds[N];
	struct tj_conn *good;
	struct lat lat = { .n = 0 };
	char name[251], *req;
	size_t len, off[N];
	long rss0, rss, peak = 0;
	double end, unit;
	int i;

	/* JOBD_FLOOD_CLIENT_MEMORY=64G shows what the bound is worth: the
	 * test then fails, jobd having grown by some 200 MiB. */
	const char *mem = getenv("JOBD_FLOOD_CLIENT_MEMORY");

	raise_nofile();
	tj_start(TJ_DAEMON "client_memory = %s\n" FLOOD_QUEUES,
	    mem != NULL ? mem : "16M");
	good = tj_connect();
	/* 100 jobs with long names make each list answer ~50 KB. */
	memset(name, 'n', 250);
	name[250] = '\0';
	for (i = 0; i < 100; i++)
		tj_submit(good, "'kind':'sleep','args':{'seconds':0},"
		    "'name':'%s'", name);
	tj_wait_idle(good, TJ_TIMEOUT);
	unit = req_time(good, "{'op':'list'}");
	rss0 = tj_rss_kb();
	/* A buffer of pipelined lists, written over and over. */
	ck_assert_ptr_nonnull(req = malloc(CHUNK));
	for (len = 0; len + 16 < CHUNK; len += 16)
		memcpy(req + len, "{\"op\":\"list\"}  \n", 16);
	for (i = 0; i < N; i++) {
		ck_assert_int_ge(fds[i] = raw_connect(), 0);
		off[i] = 0;
	}
	/* For 3 s, each client writes what jobd takes and reads nothing. */
	end = tj_now() + 3;
	while (tj_now() < end) {
		for (i = 0; i < N; i++) {
			ssize_t n = write(fds[i], req + off[i], len - off[i]);

			if (n > 0)
				off[i] = (off[i] + (size_t)n) % len;
		}
		lat_add(&lat, ping_time(good));
		if ((rss = tj_rss_kb()) > peak)
			peak = rss;
		usleep(20000);
	}
	/* 50 clients x 4 MiB would be 200 MiB; client_memory holds the
	 * answers to 16 MiB (plus what jobd was using anyway). */
	flood_end(&lat, "never-read", peak - rss0, 64 * 1024, unit, good, fds,
	    N);
	free(req);
}
END_TEST

/* ---- 1 MiB lines, pipelined ------------------------------------------------ */

/* A 1 MiB request line: a ping whose pad makes it 1 MiB. */
static char *
big_line(size_t *lenp)
{
	size_t len = 1024 * 1024 - 1;
	char *s = malloc(len + 1);
	int head;

	ck_assert_ptr_nonnull(s);
	head = snprintf(s, len, "{\"op\":\"ping\",\"pad\":\"");
	memset(s + head, 'p', len - (size_t)head - 3);
	memcpy(s + len - 3, "\"}\n", 3);
	*lenp = len;
	return s;
}

START_TEST(test_big_line_flood)
{
	enum { N = 64 };
	static int fds[N];
	struct tj_conn *good;
	struct lat lat = { .n = 0 };
	size_t len, off[N], sent = 0, answered = 0;
	char *line;
	long rss0, rss, peak = 0;
	double end;
	int i;

	raise_nofile();
	tj_start(TJ_DAEMON "max_line = 1M\nclient_memory = 32M\n"
	    FLOOD_QUEUES);
	good = tj_connect();
	rss0 = tj_rss_kb();
	line = big_line(&len);
	for (i = 0; i < N; i++) {
		ck_assert_int_ge(fds[i] = raw_connect(), 0);
		off[i] = 0;
	}
	/* For 3 s every client pipelines 1 MiB pings as fast as jobd takes
	 * them, and reads its answers. */
	end = tj_now() + 3;
	while (tj_now() < end) {
		for (i = 0; i < N; i++) {
			char buf[4096];
			ssize_t n = write(fds[i], line + off[i], len - off[i]);

			if (n > 0 && (off[i] += (size_t)n) == len) {
				off[i] = 0;
				sent++;
			}
			while ((n = read(fds[i], buf, sizeof(buf))) > 0)
				for (ssize_t k = 0; k < n; k++)
					answered += buf[k] == '\n';
		}
		lat_add(&lat, ping_time(good));
		if ((rss = tj_rss_kb()) > peak)
			peak = rss;
	}
	printf("flood 1MiB-lines: %zu lines sent, %zu answered in 3 s\n", sent,
	    answered);
	ck_assert_uint_gt(answered, 8);         /* the flood was served */
	/* 64 clients x (1 MiB line + 64 KiB) would be 68 MiB unbounded. */
	flood_end(&lat, "1MiB-lines", peak - rss0, 56 * 1024, 0, good, fds, N);
	free(line);
}
END_TEST

/* ---- clients that vanish --------------------------------------------------- */

START_TEST(test_vanish_mid_line)
{
	enum { N = 300 };
	struct tj_conn *good;
	int i, fd;

	tj_start(TJ_DAEMON FLOOD_QUEUES);
	good = tj_connect();
	for (i = 0; i < N; i++) {
		ck_assert_int_ge(fd = raw_connect(), 0);
		/* Half a submit, or a whole one and half of the next. */
		if (i % 2)
			(void)write(fd, "{\"op\":\"submit\",\"kind\":\"sl", 25);
		else
			(void)write(fd, "{\"op\":\"submit\",\"kind\":\"sleep\","
			    "\"args\":{\"seconds\":0}}\n{\"op\":\"sub", 62);
		close(fd);
	}
	tj_wait_connections(good, 1, TJ_TIMEOUT);
	tj_wait_idle(good, TJ_TIMEOUT);
	/* Only the whole lines were jobs; jobd is fine. */
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs"), N / 2);
	tj_assert_ok(tj_req(good, "{'op':'ping'}"));
}
END_TEST

/* A client that hangs up while its submit waits for room: the submit is
 * dropped (never answered, so never recorded) and its slot freed. */
START_TEST(test_hangup_while_held)
{
	struct tj_conn *a, *w, *good;
	json_int_t run, queued;

	tj_start(TJ_DAEMON FLOOD_QUEUES);
	good = tj_connect();
	run = tj_submit(good, "'kind':'sleep','args':{'seconds':30},"
	    "'queue':'small'");
	tj_wait_state(good, run, "running", TJ_TIMEOUT);
	queued = tj_submit(good, "'kind':'sleep','args':{'seconds':0},"
	    "'queue':'small'");
	/* a's submit is held (small is full); w waits for ever. */
	a = tj_connect();
	tj_send(a, "{'op':'submit','kind':'sleep','args':{'seconds':0},"
	    "'queue':'small','name':'held'}");
	w = tj_connect();
	tj_send(w, "{'op':'wait','id':%lld}", (long long)run);
	ck_assert_ptr_null(tj_line(a, 0.3));
	tj_wait_connections(good, 3, TJ_TIMEOUT);
	tj_close(a);
	tj_close(w);
	/* Both are noticed within a tick or two. */
	tj_wait_connections(good, 1, 3.0 * tu_slow());
	/* Room comes: the held submit does not take it. */
	tj_assert_ok(tj_req(good, "{'op':'cancel','id':%lld}", (long long)run));
	tj_wait(good, queued, TJ_TIMEOUT);
	tj_wait_idle(good, TJ_TIMEOUT);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs WHERE "
	    "name = 'held'"), 0);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs"), 2);
}
END_TEST

/* A client that half-closes (sends, shuts its writing side, then reads)
 * is not taken for gone: its held wait is answered. */
START_TEST(test_half_close_still_answered)
{
	struct tj_conn *a, *good;
	json_int_t id;
	json_t *ans;

	tj_start(TJ_DAEMON FLOOD_QUEUES);
	good = tj_connect();
	id = tj_submit(good, "'kind':'sleep','args':{'seconds':2.5}");
	a = tj_connect();
	tj_send(a, "{'op':'wait','id':%lld}", (long long)id);
	tj_shutdown_write(a);
	ans = tj_recv(a);
	tj_assert_ok(ans);
	ck_assert_str_eq(tj_str(ans, "job.state"), "succeeded");
}
END_TEST

static Suite *
jobd_flood_suite(void)
{
	Suite *s = suite_create("jobd_flood");
	TCase *tc = tj_tcase("flood", 120);

	tcase_add_test(tc, test_thousands_of_connections);
	tcase_add_test(tc, test_slowloris);
	tcase_add_test(tc, test_never_read);
	tcase_add_test(tc, test_big_line_flood);
	tcase_add_test(tc, test_vanish_mid_line);
	tcase_add_test(tc, test_hangup_while_held);
	tcase_add_test(tc, test_half_close_still_answered);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(jobd_flood_suite());
}
