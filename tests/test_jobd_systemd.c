/*
 * test_jobd_systemd.c — the real jobd started the way systemd starts it
 * (docs/SYSTEMD.md), with the test playing the service manager:
 *  - socket activation: jobd serves on a listening socket passed as fd 3
 *    (LISTEN_FDS, LISTEN_PID), never unlinks it, and a client that
 *    connected while jobd was down is served by the next jobd; a socket
 *    meant for another pid is ignored; a passed fd that is not a listening
 *    Unix stream socket is refused;
 *  - notifications: on a NOTIFY_SOCKET datagram socket, READY=1 (only once
 *    the socket accepts and the database exists), STATUS= lines that follow
 *    the jobs, WATCHDOG=1 at half of WATCHDOG_USEC, RELOADING=1 and READY=1
 *    around SIGHUP, STOPPING=1 at SIGTERM, in that order; no watchdog for
 *    another WATCHDOG_PID;
 *  - the journal: with JOURNAL_STREAM naming its stderr, every log line
 *    starts with its syslog priority; naming another file, it does not.
 * systemd-analyze verify of the units is tests/systemd-check.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tu_jobd.h"

#define NOTE_MAX        256             /* notifications kept per test */

/* ---- a listening socket, as jobd.socket makes it ----------------------- */

static int
listen_at(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ck_assert_msg(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    listen(fd, 16) == 0, "%s: %s", path, strerror(errno));
	return fd;
}

static bool
is_socket(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* ---- the notification socket --------------------------------------------- */

/* What the test, as the service manager, has received. */
struct notes {
	int fd;
	char env[128];                  /* NOTIFY_SOCKET=@... */
	char *msg[NOTE_MAX];            /* every datagram, in order */
	double at[NOTE_MAX];            /* when it was read */
	int n;
};

static void
notes_open(struct notes *ns)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static int seq;
	int len;

	memset(ns, 0, sizeof(*ns));
	ns->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(ns->fd, 0);
	/* Abstract: nothing to remove, and unique per test process. */
	len = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1,
	    "jobd-test-notify-%d-%d", (int)getpid(), seq++);
	ck_assert_int_eq(bind(ns->fd, (struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len)), 0);
	snprintf(ns->env, sizeof(ns->env), "NOTIFY_SOCKET=@%s",
	    sa.sun_path + 1);
}

static void
notes_close(struct notes *ns)
{
	for (int i = 0; i < ns->n; i++)
		free(ns->msg[i]);
	close(ns->fd);
}

/* The next notification within timeout s (kept in ns), or NULL. */
static const char *
note_next(struct notes *ns, double timeout)
{
	struct pollfd p = { .fd = ns->fd, .events = POLLIN };
	char buf[4096];
	ssize_t n;

	if (poll(&p, 1, (int)(timeout * 1000)) <= 0)
		return NULL;
	n = recv(ns->fd, buf, sizeof(buf) - 1, 0);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_int_lt(ns->n, NOTE_MAX);
	ns->at[ns->n] = tj_now();
	ns->msg[ns->n] = strdup(buf);
	return ns->msg[ns->n++];
}

/* Does msg have the line (exactly, or starting with it if prefix)? */
static bool
has_line(const char *msg, const char *line, bool prefix)
{
	size_t len = strlen(line);

	for (const char *p = msg; p != NULL; p = strchr(p, '\n')) {
		p += *p == '\n';
		if (strncmp(p, line, len) == 0 &&
		    (prefix || p[len] == '\0' || p[len] == '\n'))
			return true;
	}
	return false;
}

/* Read notifications until one has line (a prefix of one of its lines);
 * fails the test after timeout s. */
static const char *
note_until(struct notes *ns, const char *line, double timeout)
{
	double end = tj_now() + timeout;
	const char *m;

	while ((m = note_next(ns, end - tj_now())) != NULL)
		if (has_line(m, line, true))
			return m;
	ck_abort_msg("no %s within %.1f s (last: %s)", line, timeout,
	    ns->n > 0 ? ns->msg[ns->n - 1] : "nothing");
	return NULL;
}

/* Notifications from index from on with line (a prefix). */
static int
note_count(const struct notes *ns, int from, const char *line)
{
	int k = 0;

	for (int i = from; i < ns->n; i++)
		k += has_line(ns->msg[i], line, true);
	return k;
}

static unsigned long long
monotonic_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000;
}

/* ---- socket activation ----------------------------------------------------- */

START_TEST(test_socket_activation)
{
	int lfd = listen_at(tj_path("jobd.sock"));
	struct tj_spawn sp = { .listen_fd = lfd };
	struct tj_conn *c;
	json_int_t id;

	tj_spawn_next(&sp);
	tj_start(TJ_DAEMON);
	ck_assert_ptr_nonnull(strstr(tj_log(), "(from the service manager)"));
	c = tj_connect();
	id = tj_submit(c, "'kind':'sleep','args':{'seconds':0.01}");
	ck_assert_str_eq(tj_str(tj_wait(c, id, TJ_TIMEOUT), "state"),
	    "succeeded");
	tj_close(c);
	tj_stop();

	/* The file is the manager's: still there, still listening (on the
	 * test's copy), so a client that connects now waits in the backlog
	 * and the next jobd answers it. */
	ck_assert(is_socket(tj_path("jobd.sock")));
	c = tj_connect();
	tj_send(c, "{'op':'get','id':%lld}", (long long)id);
	tj_spawn_next(&sp);
	tj_restart();
	ck_assert_str_eq(tj_str(tj_recv(c), "job.state"), "succeeded");
	tj_close(c);
	tj_stop();
	ck_assert(is_socket(tj_path("jobd.sock")));
	close(lfd);
}
END_TEST

/* A socket for another process (LISTEN_PID not jobd's) is not jobd's:
 * jobd makes its own at `socket`, and removes that one at exit. */
START_TEST(test_activation_other_pid)
{
	int lfd = listen_at(tj_path("other.sock"));
	const char *env[] = { "LISTEN_PID=1", NULL };
	struct tj_spawn sp = { .listen_fd = lfd, .env = env };

	tj_spawn_next(&sp);
	tj_start(TJ_DAEMON);
	ck_assert_ptr_null(strstr(tj_log(), "service manager"));
	tj_stop();
	ck_assert(!is_socket(tj_path("jobd.sock")));
	ck_assert(is_socket(tj_path("other.sock")));
	close(lfd);
}
END_TEST

/* A passed fd that is not a listening Unix stream socket, or more fds
 * than jobd takes: jobd refuses to start, and makes no socket. */
START_TEST(test_activation_refused)
{
	const char *two[] = { "LISTEN_FDS=2", NULL };
	struct tj_spawn sp = { .nowait = true };
	int pair[2], lfd;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    pair), 0);
	sp.listen_fd = pair[0];
	tj_spawn_next(&sp);
	tj_start(TJ_DAEMON);
	ck_assert_int_eq(tj_wait_exit(TJ_TIMEOUT), 1);
	ck_assert_ptr_nonnull(strstr(tj_log(),
	    "not a listening Unix stream socket"));
	ck_assert(!is_socket(tj_path("jobd.sock")));
	close(pair[0]);
	close(pair[1]);

	lfd = listen_at(tj_path("other.sock"));
	sp.listen_fd = lfd;
	sp.env = two;
	tj_spawn_next(&sp);
	tj_restart();
	ck_assert_int_eq(tj_wait_exit(TJ_TIMEOUT), 1);
	ck_assert_ptr_nonnull(strstr(tj_log(), "socket activation: "));
	ck_assert(!is_socket(tj_path("jobd.sock")));
	close(lfd);
}
END_TEST

/* ---- notifications --------------------------------------------------------- */

/* READY=1 first, and only once jobd serves. */
static void
notify_ready(struct notes *ns)
{
	const char *m = note_next(ns, 2 * TJ_TIMEOUT);
	struct tj_conn *c;

	ck_assert_msg(m != NULL, "no notification at all: %s", tj_log());
	ck_assert_msg(has_line(m, "READY=1", false), "first: %s", m);
	/* No retry: the socket accepts now, the schema is there. */
	c = tj_connect();
	tj_assert_ok(tj_req(c, "{'op':'ping'}"));
	tj_close(c);
	ck_assert_int_eq(tj_sql_int("select count(*) from jobs"), 0);
	ck_assert_msg(has_line(m, "STATUS=0 running, 0 queued, ", true) &&
	    strstr(m, " default 0+0/2") != NULL, "status: %s", m);
}

/* STATUS= follows a running job (checked about once a second). */
static void
notify_status(struct notes *ns)
{
	struct tj_conn *c = tj_connect();
	json_int_t id;
	const char *m;

	id = tj_submit(c, "'kind':'sleep','args':{'seconds':1.3}");
	m = note_until(ns, "STATUS=1 running, 0 queued, 1 connected;",
	    3 * tu_slow());
	ck_assert_msg(strstr(m, " default 1+0/2") != NULL, "status: %s", m);
	ck_assert_str_eq(tj_str(tj_wait(c, id, TJ_TIMEOUT), "state"),
	    "succeeded");
	tj_close(c);
}

/* RELOADING=1 (with MONOTONIC_USEC= of the moment) then READY=1.
 * Returns the MONOTONIC_USEC, in seconds. */
static double
notify_reload(struct notes *ns)
{
	unsigned long long t0 = monotonic_usec(), t, t1;
	const char *m, *mono;

	tj_signal(SIGHUP);
	m = note_until(ns, "RELOADING=1", TJ_TIMEOUT);
	t1 = monotonic_usec();
	ck_assert_msg((mono = strstr(m, "MONOTONIC_USEC=")) != NULL, "%s", m);
	t = strtoull(mono + strlen("MONOTONIC_USEC="), NULL, 10);
	ck_assert_msg(t >= t0 && t <= t1, "MONOTONIC_USEC %llu not in "
	    "[%llu, %llu]", t, t0, t1);
	note_until(ns, "READY=1", TJ_TIMEOUT);
	return t / 1e6;
}

START_TEST(test_notify)
{
	struct notes ns;
	const char *env[] = { NULL, "WATCHDOG_USEC=200000", "WATCHDOG_PID=@pid",
		NULL };
	struct tj_spawn sp = { .env = env, .nowait = true };
	double t_ready, span;
	int dogs, lo, hi, first_stop;

	notes_open(&ns);
	env[0] = ns.env;
	tj_spawn_next(&sp);
	tj_start(TJ_DAEMON "[queue.default]\nworkers = 2\n");
	notify_ready(&ns);
	t_ready = ns.at[0];
	notify_status(&ns);
	span = notify_reload(&ns) - t_ready;

	/* The watchdog: every 0.1 s (half of 0.2 s) from READY=1 to the
	 * reload (which jobd timed itself; READY=1 was read a moment after
	 * it was sent, so span is on the short side).  Fewer than one per
	 * 0.15 s would be pinging too late; more than one per 0.1 s too
	 * often. */
	dogs = note_count(&ns, 0, "WATCHDOG=1");
	lo = (int)(span / 0.15);
	hi = (int)((span + 0.2 * tu_slow()) / 0.1) + 2;
	tj_note("%d WATCHDOG=1 in %.3f s", dogs, span);
	ck_assert_msg(dogs >= lo && dogs <= hi, "%d WATCHDOG=1 in %.2f s, "
	    "expected %d to %d", dogs, span, lo, hi);
	ck_assert_int_eq(note_count(&ns, 1, "READY=1"), 1);  /* the reload */

	tj_signal(SIGTERM);
	note_until(&ns, "STOPPING=1", TJ_TIMEOUT);
	first_stop = ns.n;
	ck_assert_int_eq(tj_wait_exit(TJ_TIMEOUT), 0);
	while (note_next(&ns, 0.05) != NULL)
		;
	ck_assert_int_eq(note_count(&ns, first_stop, "READY=1"), 0);
	ck_assert_int_eq(note_count(&ns, 0, "STOPPING=1"), 1);
	notes_close(&ns);
}
END_TEST

/* WATCHDOG_PID names another process: the watchdog is not jobd's. */
START_TEST(test_watchdog_other_pid)
{
	struct notes ns;
	const char *env[] = { NULL, "WATCHDOG_USEC=100000", "WATCHDOG_PID=1",
		NULL };
	struct tj_spawn sp = { .env = env, .nowait = true };

	notes_open(&ns);
	env[0] = ns.env;
	tj_spawn_next(&sp);
	tj_start(TJ_DAEMON);
	note_until(&ns, "READY=1", 2 * TJ_TIMEOUT);
	while (note_next(&ns, 0.3) != NULL)
		;
	ck_assert_int_eq(note_count(&ns, 0, "WATCHDOG=1"), 0);
	tj_stop();
	notes_close(&ns);
}
END_TEST

/* ---- the journal ----------------------------------------------------------- */

/* Start jobd with JOURNAL_STREAM naming dev:ino of DIR/name. */
static void
start_journal(const char *name, const char *conf)
{
	static char env0[64];
	static const char *env[] = { env0, NULL };
	struct tj_spawn sp = { .env = env };
	struct stat st;
	int fd;

	fd = open(tj_path(name), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	close(fd);
	snprintf(env0, sizeof(env0), "JOURNAL_STREAM=%llu:%llu",
	    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	tj_spawn_next(&sp);
	if (conf != NULL)
		tj_start("%s", conf);
	else
		tj_restart();
}

/* Every line of text starts with "<N>", N a level jobd logs at. */
static void
assert_prefixed(const char *text)
{
	for (const char *p = text; p != NULL && *p != '\0';
	    p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		ck_assert_msg(p[0] == '<' && p[1] >= '3' && p[1] <= '7' &&
		    p[2] == '>', "line without a priority: %.*s",
		    (int)strcspn(p, "\n"), p);
		ck_assert_msg(strncmp(p + 3, "jobd: ", 6) != 0,
		    "name in a journal line: %.*s", (int)strcspn(p, "\n"), p);
	}
}

START_TEST(test_journal_stream)
{
	const char *log, *second;
	struct tj_conn *c;
	json_int_t ok, bad;

	start_journal("jobd.err", "sync = normal\nshutdown_grace = 1\n"
	    "log_level = debug\n");
	c = tj_connect();
	ok = tj_submit(c, "'kind':'sleep','args':{'seconds':0.01}");
	bad = tj_submit(c, "'kind':'sleep','args':{'seconds':0.01,"
	    "'fail':'boom'}");
	tj_wait(c, ok, TJ_TIMEOUT);
	tj_wait(c, bad, TJ_TIMEOUT);
	tj_close(c);
	tj_stop();
	log = tj_log();
	assert_prefixed(log);
	ck_assert_ptr_nonnull(strstr(log, "\n<6>jobd " JOBD_VERSION " ready"));
	/* Job state changes at debug, a failure at info. */
	ck_assert_ptr_nonnull(strstr(log, "<7>job 1: running"));
	ck_assert_ptr_nonnull(strstr(log, "<7>job 1: succeeded\n"));
	ck_assert_ptr_nonnull(strstr(log, "<6>job 2: failed: boom\n"));

	/* JOURNAL_STREAM naming another file: plain lines. */
	start_journal("elsewhere", NULL);
	tj_stop();
	second = strstr(tj_log(), "==== tu_jobd: restart ====\n");
	ck_assert_ptr_nonnull(second);
	second += strlen("==== tu_jobd: restart ====\n");
	ck_assert_msg(strncmp(second, "jobd: ", 6) == 0, "%s", second);
	ck_assert_ptr_null(strstr(second, "\n<"));
}
END_TEST

static Suite *
jobd_systemd_suite(void)
{
	Suite *s = suite_create("jobd_systemd");
	TCase *tc = tj_tcase("systemd", 30);

	tcase_add_test(tc, test_socket_activation);
	tcase_add_test(tc, test_activation_other_pid);
	tcase_add_test(tc, test_activation_refused);
	tcase_add_test(tc, test_notify);
	tcase_add_test(tc, test_watchdog_other_pid);
	tcase_add_test(tc, test_journal_stream);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(jobd_systemd_suite());
}
