/*
 * test_jobd_crash.c — the real jobd stopped and killed: SIGKILL in the
 * middle of a burst of submits (every acknowledged job survives, every job
 * ends after the restart, interrupted ones run again), SIGTERM with running
 * and queued jobs (exit 0 within the grace, unfinished jobs back to queued,
 * all run after the restart), max_attempts used up by interruptions, ids
 * across restarts, a second jobd on the same socket, and the command line.
 *
 * Each test starts its own jobd on a fresh directory (tu_jobd.h) and
 * restarts it there.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tu_jobd.h"

#define CRASH_QUEUES                                                         \
	"[queue.default]\nworkers = 4\ncapacity = 100000\ntimeout = 0\n"     \
	"[queue.a]\nworkers = 1\ncapacity = 10\ntimeout = 0\n"

/* ---- SIGKILL during a burst ---------------------------------------------- */

/* The id in a submit answer line, which must be ok and carry tag. */
static json_int_t
answer_id(const char *line, size_t tag)
{
	json_t *a = json_loads(line, 0, NULL);
	json_int_t id;

	ck_assert_msg(a != NULL, "not JSON: %.200s", line);
	ck_assert_msg(json_is_true(json_object_get(a, "ok")) &&
	    json_integer_value(json_object_get(a, "tag")) == (json_int_t)tag,
	    "answer %zu: %.200s", tag, line);
	id = json_integer_value(json_object_get(a, "id"));
	json_decref(a);
	return id;
}

/* Pipeline n submits on c and SIGKILL jobd once `after` answers came;
 * collect the ids of every answer jobd sent (before its death: those
 * still in the socket count) into ids.  Returns how many there are. */
static size_t
burst_and_kill(struct tj_conn *c, size_t n, size_t after, json_int_t *ids)
{
	char *buf = malloc(n * 96), *line;
	size_t len = 0, off = 0, acked = 0;
	double end = tj_now() + 3 * TJ_TIMEOUT;

	ck_assert_ptr_nonnull(buf);
	for (size_t i = 0; i < n; i++)
		len += sprintf(buf + len, "{\"op\":\"submit\",\"kind\":\"sleep\","
		    "\"args\":{\"seconds\":0.001},\"tag\":%zu}\n", i);
	while (acked < after) {
		ck_assert_msg(tj_now() < end, "%zu answers of %zu", acked, n);
		if (off < len)
			off += tj_write_some(c, buf + off, len - off);
		while (acked < after && (line = tj_line(c, off < len ? 0 :
		    0.01)) != NULL) {
			ids[acked] = answer_id(line, acked);
			acked++;
		}
	}
	tj_kill();
	free(buf);
	while ((line = tj_line(c, TJ_TIMEOUT)) != NULL) {
		ids[acked] = answer_id(line, acked);
		acked++;
	}
	ck_assert(tj_eof(c));
	return acked;
}

/* Every one of the n ids is a job that has ended (pipelined gets). */
static void
check_ended(struct tj_conn *c, const json_int_t *ids, size_t n)
{
	char *buf = malloc(n * 48);
	size_t len = 0;
	const char *st;
	json_t *a;

	ck_assert_ptr_nonnull(buf);
	for (size_t i = 0; i < n; i++)
		len += sprintf(buf + len, "{\"op\":\"get\",\"id\":%lld}\n",
		    (long long)ids[i]);
	tj_write(c, buf, len);
	free(buf);
	for (size_t i = 0; i < n; i++) {
		a = tj_recv(c);
		ck_assert_msg(tj_code(a) == NULL, "acknowledged job %lld: %s",
		    (long long)ids[i], tj_dump(a));
		st = tj_str(a, "job.state");
		ck_assert_msg(strcmp(st, "queued") && strcmp(st, "running"),
		    "job %lld: %s", (long long)ids[i], tj_dump(a));
	}
}

START_TEST(test_sigkill_during_burst)
{
	enum { N = 20000, AFTER = 2000, LONG = 4 };
	json_int_t *ids = malloc(N * sizeof(*ids)), lng[LONG];
	struct tj_conn *c;
	long long ended;
	size_t acked;
	double killed;
	json_t *job;

	ck_assert_ptr_nonnull(ids);
	tj_start("sync = full\nshutdown_grace = 0.5\n" CRASH_QUEUES);
	c = tj_connect();
	for (int i = 0; i < LONG; i++)
		lng[i] = tj_submit(c, "'kind':'sleep','args':{'seconds':30}");
	for (int i = 0; i < LONG; i++)
		tj_wait_state(c, lng[i], "running", TJ_TIMEOUT);
	tj_wait_sql(LONG, "SELECT count(*) FROM jobs WHERE state = 'running'");

	acked = burst_and_kill(c, N, AFTER, ids);
	killed = tu_wall();
	tj_note("SIGKILL after %zu of %d submits were answered", acked, N);
	ck_assert_int_ge(acked, AFTER);
	tj_close(c);
	/* Every acknowledged job is in the file, before any restart. */
	ck_assert_int_ge(tj_sql_int("SELECT count(*) FROM jobs WHERE id "
	    "BETWEEN %lld AND %lld", (long long)ids[0],
	    (long long)ids[acked - 1]), acked);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs WHERE state = "
	    "'running' AND id <= %lld", (long long)lng[LONG - 1]), LONG);
	ended = tj_sql_int("SELECT count(*) FROM jobs WHERE finished_at IS "
	    "NOT NULL");

	tj_restart();
	c = tj_connect();
	/* The jobs running at the kill run again: attempts 2. */
	for (int i = 0; i < LONG; i++) {
		job = tj_wait_state(c, lng[i], "running", TJ_TIMEOUT);
		ck_assert_int_eq(tj_int(job, "attempts"), 2);
		tj_assert_ok(tj_req(c, "{'op':'cancel','id':%lld}",
		    (long long)lng[i]));
	}
	tj_wait_idle(c, 3 * TJ_TIMEOUT);
	check_ended(c, ids, acked);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs WHERE state IN "
	    "('queued', 'running')"), 0);
	/* What had ended before the kill was left alone. */
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs WHERE "
	    "finished_at < %.6f AND attempts = 1", killed), ended);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs WHERE attempts "
	    "> 2"), 0);
	free(ids);
}
END_TEST

/* ---- SIGTERM ------------------------------------------------------------- */

START_TEST(test_sigterm_requeues)
{
	struct tj_conn *c;
	json_int_t quick, slow[2], queued[2];
	double took;
	json_t *job;

	tj_start("sync = normal\nshutdown_grace = 0.5\n"
	    "[queue.default]\nworkers = 2\ncapacity = 100\ntimeout = 0\n"
	    "[queue.a]\nworkers = 1\ncapacity = 10\ntimeout = 0\n");
	c = tj_connect();
	quick = tj_submit(c, "'kind':'sleep','args':{'seconds':0.3},"
	    "'queue':'a'");
	for (int i = 0; i < 2; i++)
		slow[i] = tj_submit(c, "'kind':'sleep','args':{'seconds':2}");
	for (int i = 0; i < 2; i++)
		queued[i] = tj_submit(c, "'kind':'sleep','args':"
		    "{'seconds':0.1}");
	tj_wait_state(c, quick, "running", TJ_TIMEOUT);
	tj_wait_state(c, slow[0], "running", TJ_TIMEOUT);
	tj_wait_state(c, slow[1], "running", TJ_TIMEOUT);
	ck_assert_str_eq(tj_str(tj_job(c, queued[1]), "state"), "queued");

	ck_assert_int_eq(tj_term(3 * TJ_TIMEOUT, &took), 0);
	tj_note("stop with a grace of 0.5 s took %.3f s", took);
	/* The grace was given in full (two jobs ran past it), not more. */
	tj_assert_time(took, 0.5, 1.5);
	tj_close(c);
	ck_assert_str_eq(tj_sql("SELECT state || ' ' || attempts FROM jobs "
	    "WHERE id = %lld", (long long)quick), "succeeded 1");
	for (int i = 0; i < 2; i++) {
		ck_assert_str_eq(tj_sql("SELECT state || ' ' || attempts || ' ' "
		    "|| " TJ_SQL_BOOL("started_at IS NOT NULL") " || "
		    TJ_SQL_BOOL("finished_at IS NULL") " FROM jobs WHERE id = "
		    "%lld", (long long)slow[i]), "queued 1 11");
		ck_assert_str_eq(tj_sql("SELECT state || ' ' || attempts || ' ' "
		    "|| " TJ_SQL_BOOL("started_at IS NULL") " FROM jobs WHERE "
		    "id = %lld",
		    (long long)queued[i]), "queued 0 1");
	}

	tj_restart();
	c = tj_connect();
	for (int i = 0; i < 2; i++) {
		job = tj_wait(c, slow[i], 10);
		ck_assert_str_eq(tj_str(job, "state"), "succeeded");
		ck_assert_int_eq(tj_int(job, "attempts"), 2);
		job = tj_wait(c, queued[i], 10);
		ck_assert_str_eq(tj_str(job, "state"), "succeeded");
		ck_assert_int_eq(tj_int(job, "attempts"), 1);
	}
	ck_assert_str_eq(tj_str(tj_job(c, quick), "state"), "succeeded");
}
END_TEST

/* With nothing running, a stop does not wait for the grace. */
START_TEST(test_sigterm_idle)
{
	struct tj_conn *c;
	double took;

	tj_start("sync = normal\nshutdown_grace = 5\n" CRASH_QUEUES);
	c = tj_connect();
	tj_wait(c, tj_submit(c, "'kind':'sleep','args':{'seconds':0}"), 5);
	ck_assert_int_eq(tj_term(3 * TJ_TIMEOUT, &took), 0);
	tj_assert_time(took, 0, 1.0);
	/* SIGINT stops it the same way. */
	tj_restart();
	tj_signal(SIGINT);
	ck_assert_int_eq(tj_wait_exit(TJ_TIMEOUT), 0);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs"), 1);
}
END_TEST

/* A stop while clients are held (a submit by backpressure, a wait on a
 * running job): jobd still exits 0 within the grace, and each client gets
 * an answer or the end of its connection, never a hang. */
START_TEST(test_sigterm_with_held_clients)
{
	struct tj_conn *b, *held, *waiter;
	json_int_t run;
	double took;
	char *line;

	tj_start("sync = normal\nshutdown_grace = 0.5\n"
	    "[queue.default]\nworkers = 1\ncapacity = 2\ntimeout = 0\n");
	b = tj_connect();
	run = tj_submit(b, "'kind':'sleep','args':{'seconds':30}");
	tj_wait_state(b, run, "running", TJ_TIMEOUT);
	tj_submit(b, "'kind':'sleep','args':{'seconds':30}");
	tj_submit(b, "'kind':'sleep','args':{'seconds':30}");
	held = tj_connect();
	tj_send(held, "{'op':'submit','kind':'sleep','args':{'seconds':0}}");
	waiter = tj_connect();
	tj_send(waiter, "{'op':'wait','id':%lld}", (long long)run);
	ck_assert_ptr_null(tj_line(held, 0.2));
	ck_assert_ptr_null(tj_line(waiter, 0));

	ck_assert_int_eq(tj_term(3 * TJ_TIMEOUT, &took), 0);
	tj_note("stop with held clients took %.3f s", took);
	tj_assert_time(took, 0.5, 1.5);
	line = tj_line(held, TJ_TIMEOUT);
	ck_assert_msg(line == NULL || strstr(line, "shutting_down"),
	    "held submit answered %s", line);
	ck_assert(tj_line(held, TJ_TIMEOUT) == NULL && tj_eof(held));
	line = tj_line(waiter, TJ_TIMEOUT);
	tj_note("the waiter got: %s", line ? line : "(end)");
	ck_assert(tj_line(waiter, TJ_TIMEOUT) == NULL && tj_eof(waiter));
	ck_assert_str_eq(tj_sql("SELECT state || ' ' || attempts FROM jobs "
	    "WHERE id = %lld", (long long)run), "queued 1");
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs"), 3);
}
END_TEST

/* What an answer shows is committed: ended states told by wait and a
 * cancel's answer are in the file even after a SIGKILL right after. */
START_TEST(test_told_is_committed)
{
	enum { N = 300 };
	struct tj_conn *c;
	char *buf = malloc(N * 160);
	size_t len = 0;
	json_int_t run;
	json_t *a;

	ck_assert_ptr_nonnull(buf);
	tj_start(TJ_DAEMON CRASH_QUEUES);
	c = tj_connect();
	run = tj_submit(c, "'kind':'sleep','args':{'seconds':30}");
	tj_wait_state(c, run, "running", TJ_TIMEOUT);
	for (int i = 0; i < N; i++)
		len += sprintf(buf + len, "{\"op\":\"submit\",\"kind\":\"sleep\","
		    "\"args\":{\"seconds\":0}}\n");
	for (int i = 0; i < N; i++)
		len += sprintf(buf + len, "{\"op\":\"wait\",\"id\":%lld}\n",
		    (long long)run + 1 + i);
	len += sprintf(buf + len, "{\"op\":\"cancel\",\"id\":%lld}\n",
	    (long long)run);
	tj_write(c, buf, len);
	free(buf);
	for (int i = 0; i < 2 * N; i++)
		tj_assert_ok(tj_recv(c));
	a = tj_recv(c);
	tj_assert_ok(a);
	tj_kill();
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs WHERE state = "
	    "'succeeded'"), N);
	ck_assert_str_eq(tj_sql("SELECT state FROM jobs WHERE id = %lld",
	    (long long)run), "cancelled");
}
END_TEST

/* ---- max_attempts -------------------------------------------------------- */

START_TEST(test_attempts_used_up)
{
	struct tj_conn *c;
	json_int_t one, two, term;
	json_t *job;

	tj_start("sync = normal\nshutdown_grace = 0.2\n" CRASH_QUEUES);
	c = tj_connect();
	one = tj_submit(c, "'kind':'sleep','args':{'seconds':30},"
	    "'max_attempts':1");
	two = tj_submit(c, "'kind':'sleep','args':{'seconds':30},"
	    "'max_attempts':2");
	tj_wait_state(c, one, "running", TJ_TIMEOUT);
	tj_wait_state(c, two, "running", TJ_TIMEOUT);
	/* get shows a start before it is committed: wait for the file. */
	tj_wait_sql(2, "SELECT count(*) FROM jobs WHERE state = 'running'");
	tj_kill();
	tj_restart();
	c = tj_connect();
	job = tj_job(c, one);
	ck_assert_str_eq(tj_str(job, "state"), "failed");
	ck_assert_int_eq(tj_int(job, "attempts"), 1);
	ck_assert_msg(strstr(tj_str(job, "error"), "interrupted") != NULL,
	    "%s", tj_dump(job));
	ck_assert(!tj_null(job, "finished_at"));
	job = tj_wait_state(c, two, "running", TJ_TIMEOUT);
	ck_assert_int_eq(tj_int(job, "attempts"), 2);

	/* A stop uses an attempt up too: the job ends failed. */
	term = tj_submit(c, "'kind':'sleep','args':{'seconds':30},"
	    "'max_attempts':1,'queue':'a'");
	tj_wait_state(c, term, "running", TJ_TIMEOUT);
	tj_stop();
	ck_assert_str_eq(tj_sql("SELECT state FROM jobs WHERE id = %lld",
	    (long long)two), "failed");
	ck_assert_str_eq(tj_sql("SELECT state FROM jobs WHERE id = %lld",
	    (long long)term), "failed");
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs WHERE error "
	    "LIKE '%%interrupted%%'"), 3);
}
END_TEST

/* Jobs recovered at start enter their queue even past its capacity (here
 * the config shrank it); a job of a queue no longer configured ends with
 * an error saying so. */
START_TEST(test_recovery_past_capacity)
{
	struct tj_conn *c;
	json_int_t run, gone, q[6];
	json_t *a, *job;

	tj_start(TJ_DAEMON "[queue.solo]\nworkers = 1\ncapacity = 10\n"
	    "timeout = 0\n[queue.gone]\nworkers = 1\ncapacity = 10\n");
	c = tj_connect();
	run = tj_submit(c, "'kind':'sleep','args':{'seconds':30},"
	    "'queue':'solo'");
	for (int i = 0; i < 6; i++)
		q[i] = tj_submit(c, "'kind':'sleep','args':{'seconds':0.01},"
		    "'queue':'solo'");
	gone = tj_submit(c, "'kind':'sleep','args':{'seconds':30},"
	    "'queue':'gone'");
	tj_wait_state(c, run, "running", TJ_TIMEOUT);
	tj_wait_state(c, gone, "running", TJ_TIMEOUT);
	tj_wait_sql(2, "SELECT count(*) FROM jobs WHERE state = 'running'");
	tj_kill();

	tj_conf(TJ_DAEMON "[queue.solo]\nworkers = 1\ncapacity = 2\n"
	    "timeout = 0\n");
	tj_restart();
	c = tj_connect();
	job = tj_wait_state(c, run, "running", TJ_TIMEOUT);
	ck_assert_int_eq(tj_int(job, "attempts"), 2);
	a = tj_req(c, "{'op':'stats'}");
	ck_assert_int_eq(tj_int(a, "queues.solo.queued"), 6);
	ck_assert_int_eq(tj_int(a, "queues.solo.capacity"), 2);
	tj_assert_err(tj_req(c, "{'op':'submit','kind':'sleep','args':"
	    "{'seconds':0},'queue':'solo','nowait':true}"), "queue_full");
	job = tj_job(c, gone);
	ck_assert_str_eq(tj_str(job, "state"), "failed");
	ck_assert_msg(strstr(tj_str(job, "error"), "gone") != NULL, "%s",
	    tj_dump(job));
	tj_assert_err(tj_req(c, "{'op':'submit','kind':'sleep','args':"
	    "{'seconds':0},'queue':'gone'}"), "unknown_queue");
	tj_assert_ok(tj_req(c, "{'op':'cancel','id':%lld}", (long long)run));
	for (int i = 0; i < 6; i++)
		ck_assert_str_eq(tj_str(tj_wait(c, q[i], 10), "state"),
		    "succeeded");
}
END_TEST

/* ---- restarts ------------------------------------------------------------ */

START_TEST(test_restart_keeps_jobs_and_ids)
{
	struct tj_conn *c;
	json_int_t id[3], next;
	json_t *job;

	tj_start(TJ_DAEMON CRASH_QUEUES);
	c = tj_connect();
	id[0] = tj_submit(c, "'kind':'sleep','args':{'seconds':0},"
	    "'name':'kept'");
	id[1] = tj_submit(c, "'kind':'sleep','args':{'seconds':0,"
	    "'fail':'no'}");
	id[2] = tj_submit(c, "'kind':'sleep','args':{'seconds':30},"
	    "'queue':'a'");
	tj_wait(c, id[1], 5);
	tj_stop();
	tj_restart();
	c = tj_connect();
	job = tj_wait(c, id[0], 5);
	ck_assert_str_eq(tj_str(job, "name"), "kept");
	ck_assert_str_eq(tj_str(job, "state"), "succeeded");
	ck_assert_str_eq(tj_str(tj_job(c, id[1]), "error"), "no");
	ck_assert_str_eq(tj_str(tj_wait_state(c, id[2], "running",
	    TJ_TIMEOUT), "queue"), "a");
	next = tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
	ck_assert_int_gt(next, id[2]);
	/* After a kill too: the stale socket is replaced. */
	tj_kill();
	tj_restart();
	c = tj_connect();
	ck_assert_int_gt(tj_submit(c, "'kind':'sleep','args':{'seconds':0}"),
	    next);
}
END_TEST

/* A second jobd on the same config refuses to start, and leaves the
 * first one reachable. */
START_TEST(test_second_instance)
{
	struct tj_conn *c;
	int code;

	tj_start(TJ_DAEMON CRASH_QUEUES);
	c = tj_connect();
	tj_submit(c, "'kind':'sleep','args':{'seconds':30}");
	code = tj_run_jobd(TJ_TIMEOUT, "-c", "@conf", NULL);
	ck_assert_msg(code != 0 && code < 128, "second jobd: exit %d", code);
	tj_assert_ok(tj_req(c, "{'op':'ping'}"));
	tj_close(c);
	c = tj_connect();
	tj_assert_ok(tj_req(c, "{'op':'ping'}"));
	tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
}
END_TEST

/* The command line: --version, --check-config. */
START_TEST(test_command_line)
{
	FILE *f;
	char *out;

	tj_start(TJ_DAEMON CRASH_QUEUES);
	tj_stop();
	ck_assert_int_eq(tj_run_jobd(TJ_TIMEOUT, "--version", NULL), 0);
	ck_assert_int_eq(tj_run_jobd(TJ_TIMEOUT, "--check-config", "-c",
	    "@conf", NULL), 0);
	ck_assert_ptr_nonnull(f = fopen(tj_path("bad.conf"), "w"));
	fprintf(f, "[daemon]\nsocket = x.sock\n[queue.default]\n"
	    "workers = lots\n");
	fclose(f);
	ck_assert_int_eq(tj_run_jobd(TJ_TIMEOUT, "--check-config", "-c",
	    tj_path("bad.conf"), NULL), 1);
	ck_assert_int_eq(tj_run_jobd(TJ_TIMEOUT, "-c", tj_path("bad.conf"),
	    NULL), 1);
	f = fopen(tj_path("other.err"), "r");
	ck_assert_ptr_nonnull(f);
	out = calloc(1, 65536);
	ck_assert_ptr_nonnull(out);
	ck_assert_int_gt(fread(out, 1, 65535, f), 0);
	fclose(f);
	ck_assert_msg(strstr(out, "jobd " JOBD_VERSION "\n") != NULL, "%s",
	    out);
	ck_assert_msg(strstr(out, "bad.conf:4: ") != NULL, "%s", out);
	free(out);
}
END_TEST

static Suite *
jobd_crash_suite(void)
{
	Suite *s = suite_create("jobd_crash");
	TCase *tc = tj_tcase("crash", 60);

	tcase_add_test(tc, test_sigkill_during_burst);
	tcase_add_test(tc, test_sigterm_requeues);
	tcase_add_test(tc, test_sigterm_idle);
	tcase_add_test(tc, test_sigterm_with_held_clients);
	tcase_add_test(tc, test_told_is_committed);
	tcase_add_test(tc, test_attempts_used_up);
	tcase_add_test(tc, test_recovery_past_capacity);
	tcase_add_test(tc, test_restart_keeps_jobs_and_ids);
	tcase_add_test(tc, test_second_instance);
	tcase_add_test(tc, test_command_line);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(jobd_crash_suite());
}
