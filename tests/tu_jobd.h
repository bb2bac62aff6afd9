/*
 * tu_jobd.h — the integration-test harness: start the real jobd binary
 * ($JOBD_BUILD_DIR/jobd) on a temporary directory, talk JSON lines to it
 * over its socket, stop, kill and restart it, and look into its database
 * with the sqlite3 shell, as a user would.
 *
 * Each test has one temporary directory (config, socket, database and
 * jobd's stderr, kept across restarts) and at most one jobd running in it,
 * "the" jobd of the test.  The harness makes sure no jobd outlives its
 * test:
 *  - the checked teardown stops it (SIGTERM, then asserts exit status 0
 *    and no sanitizer report in its stderr), closes the test's
 *    connections, frees its answers and removes the directory;
 *  - in fork mode a failing test _exits without its teardown: jobd runs
 *    with PR_SET_PDEATHSIG = SIGKILL, so it dies with the test process,
 *    and the TCase's unchecked teardown (in the runner process) kills any
 *    straggler, prints the stderr of every jobd whose test did not reach
 *    its teardown, and removes the directories.
 *
 * Requests are printf formats, and in the text they produce every ' is
 * turned into " so that JSON reads well in C (write \u0027 for a real '):
 *	tj_req(c, "{'op':'get','id':%lld}", id);
 *
 * Every json_t and string the harness returns belongs to the harness and
 * lives until the test's teardown: tests never free them.  Every wait has
 * a timeout scaled by tu_slow(); running out of it fails the test.
 */
#ifndef JOBD_TU_JOBD_H
#define JOBD_TU_JOBD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <check.h>
#include <jansson.h>

#include "testutil.h"

/* The default wait of the harness for an answer, a start or a stop. */
#define TJ_TIMEOUT (10.0 * tu_slow())

/* [daemon] keys most tests want after the socket and database lines the
 * harness writes: fast commits, a short stop. */
#define TJ_DAEMON "sync = normal\nshutdown_grace = 1\nlog_level = info\n"

/* ---- fixtures and the daemon --------------------------------------------- */

/* A TCase with the harness's checked and unchecked fixtures and a timeout
 * of timeout seconds.  Add it to the suite as usual. */
TCase *tj_tcase(const char *name, double timeout);

/* Write the config (the [daemon] section's socket and database lines, then
 * conf, printf-style) and start jobd; returns once it answers ping.  Fails
 * the test if jobd exits or is not ready in time (printing its stderr). */
void tj_start(const char *conf, ...) __attribute__((format(printf, 1, 2)));

/* Write the config as tj_start does, without starting anything: for a
 * reload (SIGHUP) or a restart with another config. */
void tj_conf(const char *conf, ...) __attribute__((format(printf, 1, 2)));

/* Start jobd again on the same directory and config (after tj_stop,
 * tj_term or tj_kill). */
void tj_restart(void);

/* Send sig to jobd (it keeps running as far as the harness knows). */
void tj_signal(int sig);

/* Wait for jobd to exit (up to timeout seconds, then it is killed and the
 * test fails).  Returns its exit code, or 128 + the signal that killed it.
 * Fails the test if its stderr has a sanitizer report. */
int tj_wait_exit(double timeout);

/* tj_signal(SIGTERM) and tj_wait_exit(timeout); *elapsed (if not NULL) is
 * how long the exit took. */
int tj_term(double timeout, double *elapsed);

/* tj_term(TJ_TIMEOUT * 3) and assert exit status 0. */
void tj_stop(void);

/* SIGKILL jobd and reap it. */
void tj_kill(void);

/* Run $JOBD_BUILD_DIR/jobd with the arguments (NULL-terminated; "@conf"
 * stands for the test's config file), stderr to DIR/other.err, and wait up
 * to timeout s for its exit.  Returns its exit code or 128 + signal; kills
 * it and fails the test on timeout.  For a second instance, --check-config
 * and the like. */
int tj_run_jobd(double timeout, ...) __attribute__((sentinel));

/* The program name of the build ($JOBD_BUILD_DIR/name, or next to this
 * test program: tests/run's valgrind level does not set JOBD_BUILD_DIR);
 * fails the test if it is not there.  A static buffer, valid until the
 * next call. */
const char *tj_bin(const char *name);

/* The running jobd's pid, or -1. */
pid_t tj_pid(void);

/* DIR/name, for a file in the test's directory. */
const char *tj_path(const char *name);

/* Everything jobd wrote to stderr so far (every start of the test). */
const char *tj_log(void);

/* jobd's resident set (VmRSS), in KiB. */
long tj_rss_kb(void);

/* ---- starting jobd as a service manager would ---------------------------- */

/* How the next tj_start or tj_restart runs jobd (then back to normal). */
struct tj_spawn {
	/* Extra environment entries "NAME=VALUE", NULL-terminated, or NULL;
	 * the value "@pid" becomes jobd's pid (e.g. WATCHDOG_PID=@pid).  Set
	 * after the listen_fd variables, so they can override those.  Must
	 * stay valid until the start. */
	const char *const *env;
	/* > 0: passed to jobd as fd 3 with LISTEN_FDS=1 and LISTEN_PID set
	 * to jobd's pid (socket activation).  The test keeps its copy and
	 * closes it. */
	int listen_fd;
	/* Return as soon as jobd is started, without waiting for it to
	 * answer ping (for a test that watches readiness itself, or a start
	 * that must fail: then tj_wait_exit). */
	bool nowait;
};
void tj_spawn_next(const struct tj_spawn *sp);

/* ---- connections --------------------------------------------------------- */

struct tj_conn;

/* Connect to jobd's socket.  Closed at teardown if the test does not. */
struct tj_conn *tj_connect(void);

/* The whole of a file, NUL-terminated (malloc'ed: the caller frees it),
 * or NULL if it cannot be opened; *lenp (if not NULL) is its length. */
char *tj_slurp(const char *path, size_t *lenp);

/* Poll stats on c until jobd counts n connections (c's own included);
 * fails the test after timeout s. */
void tj_wait_connections(struct tj_conn *c, long n, double timeout);

/* A plain blocking socket connected to jobd, the caller's to close, or -1
 * (errno set): for tests driving many clients themselves with poll(2). */
int tj_raw_connect(void);

/* A connection on fd, already connected to jobd (e.g. by another user:
 * tu_connect_as); the harness takes the fd and closes it at teardown if
 * the test does not. */
struct tj_conn *tj_adopt(int fd);

/* Close c (NULL is fine). */
void tj_close(struct tj_conn *c);

/* Send one line: the formatted request and '\n'. */
void tj_send(struct tj_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Write all len bytes as they are.  Answers that arrive meanwhile are
 * buffered, so a long pipeline cannot deadlock on a full socket. */
void tj_write(struct tj_conn *c, const void *buf, size_t len);

/* Close c's sending side (shutdown SHUT_WR): jobd sees the end of the
 * requests; the answers can still be read. */
void tj_shutdown_write(struct tj_conn *c);

/* Write what the socket takes now, without waiting or reading: returns the
 * bytes written (0 when the socket is full). */
size_t tj_write_some(struct tj_conn *c, const void *buf, size_t len);

/* The next line (without its '\n'), or NULL if none came within timeout
 * seconds or the connection was closed (then tj_eof is true). */
char *tj_line(struct tj_conn *c, double timeout);

/* Has c seen the end of the connection? */
bool tj_eof(const struct tj_conn *c);

/* Is the connection closed by jobd within timeout s, with no line before
 * the end?  (A line that arrives instead fails the test.) */
bool tj_closed(struct tj_conn *c, double timeout);

/* The next answer, parsed; fails the test unless it is a JSON object on
 * one line within TJ_TIMEOUT. */
json_t *tj_recv(struct tj_conn *c);

/* tj_send then tj_recv. */
json_t *tj_req(struct tj_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- answers ------------------------------------------------------------- */

/* The value at a dotted path ("job.state", "jobs.0.id"), or NULL. */
json_t *tj_at(json_t *v, const char *path);

/* The string at path, or NULL when it is absent or not a string. */
const char *tj_str(json_t *v, const char *path);

/* The integer at path; fails the test if it is not an integer. */
json_int_t tj_int(json_t *v, const char *path);

/* The number at path; fails the test if it is not a number. */
double tj_num(json_t *v, const char *path);

/* Is the value at path null?  Fails the test if it is absent. */
bool tj_null(json_t *v, const char *path);

/* An answer's error code, or NULL when it is ok:true. */
const char *tj_code(json_t *answer);

/* v as compact JSON text, for messages. */
const char *tj_dump(json_t *v);

/* Assert an answer is ok, or an error with that code (a is evaluated
 * once: it may be a tj_recv). */
#define tj_assert_ok(a)                                                     \
	do {                                                                 \
		json_t *a_ = (a);                                            \
		ck_assert_msg(tj_code(a_) == NULL, "expected ok, got %s",     \
		    tj_dump(a_));                                            \
	} while (0)

#define tj_assert_err(a, code)                                              \
	do {                                                                 \
		json_t *a_ = (a);                                            \
		const char *c_ = tj_code(a_);                                \
		ck_assert_msg(c_ != NULL && strcmp(c_, (code)) == 0,          \
		    "expected error %s, got %s", (code), tj_dump(a_));       \
	} while (0)

/* ---- jobs ---------------------------------------------------------------- */

/* Submit: fields is the inside of the request object after "op" (e.g.
 * "'kind':'sleep','args':{'seconds':1}"), printf-style.  Asserts ok and
 * returns the id. */
json_int_t tj_submit(struct tj_conn *c, const char *fields, ...)
    __attribute__((format(printf, 2, 3)));

/* get: the job object (asserted ok). */
json_t *tj_job(struct tj_conn *c, json_int_t id);

/* wait with a timeout: the ended job (asserted ok). */
json_t *tj_wait(struct tj_conn *c, json_int_t id, double timeout);

/* Poll get until the job is in state (fails after timeout s). */
json_t *tj_wait_state(struct tj_conn *c, json_int_t id, const char *state,
    double timeout);

/* Poll stats until no queue has a job queued or running, then the
 * database until no row is queued or running either: stats counts from
 * memory, and an end is committed a moment after it is counted. */
void tj_wait_idle(struct tj_conn *c, double timeout);

/* ---- the database through the sqlite3 shell ------------------------------ */

/* Run sqlite3 -readonly on the database with the query (printf-style; no
 * quote turning here: SQL needs its own);
 * returns its output without the last newline.  Fails the test if sqlite3
 * exits non-zero or writes to stderr. */
const char *tj_sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* tj_sql runs on PostgreSQL instead under JOBD_TEST_STORE=postgresql
 * (tu_pg.h), with the same output format: queries the suites share with
 * the *_postgres runs keep to SQL both speak.  A condition as 1 or 0 in
 * both (PostgreSQL would print a boolean as t or f): */
#define TJ_SQL_BOOL(cond) "(CASE WHEN " cond " THEN 1 ELSE 0 END)"

/* Write to the database (jobd stopped): the sqlite3 shell, or the test's
 * PostgreSQL database under JOBD_TEST_STORE=postgresql; SQL both speak.
 * Fails the test on an error. */
void tj_sql_write(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* tj_sql for a query with one integer answer. */
long long tj_sql_int(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Poll tj_sql_int(query) until it answers want (fails after TJ_TIMEOUT).
 * For what the database has not necessarily caught up with yet, such as
 * a start that get already shows. */
void tj_wait_sql(long long want, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Assert min <= got <= min + margin * tu_slow() * tu_load() (seconds):
 * never early (but for a millisecond of clock rounding), late within an
 * honest margin for how busy the machine is. */
#define tj_assert_time(got, min, margin)                                    \
	do {                                                                 \
		double g_ = (got), m_ = (min);                               \
		double h_ = m_ + (margin) * tu_slow() * tu_load();          \
		ck_assert_msg(g_ >= m_ - 0.001 && g_ <= h_,                   \
		    "time %.4f s, expected %.4f to %.4f s", g_, m_, h_);     \
	} while (0)

/* Print a figure of the test to stderr when JOBD_TEST_VERBOSE is set (for
 * looking at margins; never needed to pass). */
void tj_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- time ---------------------------------------------------------------- */

/* Monotonic seconds. */
double tj_now(void);

/* Sleep s seconds. */
void tj_sleep(double s);

#endif
