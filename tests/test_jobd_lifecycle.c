/*
 * test_jobd_lifecycle.c — the real jobd and the contract's "Job
 * lifecycle": priorities, delayed jobs (run_at, delay, scheduled),
 * retries with backoff (attempts kept in job_attempts, history, timed_out
 * retried, permanent failures not), bad input for every new field,
 * max_pending, pause/resume kept across a restart, the retry op, prune
 * and retention, a restart in the middle of a backoff, runs after a crash
 * by the kind's rule, and a SIGKILL while the pruner deletes.
 *
 * Timing: nothing asserts an upper bound on when a job starts; delays are
 * checked from the job's own times (started_at >= run_at), and waits are
 * the harness's scaled timeouts.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tu_jobd.h"
#include "tu_pg.h"

#define LC_QUEUES                                                            \
	"[queue.default]\nworkers = 4\ncapacity = 100\n"                     \
	"[queue.solo]\nworkers = 1\ncapacity = 100\n"                        \
	"[queue.tight]\nworkers = 1\ncapacity = 10\nmax_pending = 2\n"

static struct tj_conn *
start(void)
{
	tj_start(TJ_DAEMON LC_QUEUES);
	return tj_connect();
}

/* ---- priorities ---------------------------------------------------------- */

/* One worker, paused while the jobs come in: on resume they start lowest
 * priority first, equal ones in submission order. */
START_TEST(test_priority_order)
{
	static const int prio[] = { 9, 5, 0, 5, 0, 7 };
	static const int want[] = { 2, 4, 1, 3, 5, 0 }; /* submission index */
	struct tj_conn *c = start();
	json_int_t id[6];
	double t[6];

	tj_assert_ok(tj_req(c, "{'op':'pause','queue':'solo'}"));
	for (int i = 0; i < 6; i++)
		id[i] = tj_submit(c, "'kind':'sleep','args':{'seconds':0},"
		    "'queue':'solo','priority':%d", prio[i]);
	ck_assert_int_eq(tj_int(tj_job(c, id[0]), "priority"), 9);
	ck_assert_str_eq(tj_str(tj_job(c, id[0]), "state"), "queued");
	tj_assert_ok(tj_req(c, "{'op':'resume','queue':'solo'}"));
	for (int i = 0; i < 6; i++)
		t[i] = tj_num(tj_wait(c, id[i], TJ_TIMEOUT), "started_at");
	for (int k = 1; k < 6; k++)
		ck_assert_msg(t[want[k - 1]] <= t[want[k]], "job %lld (prio "
		    "%d) started after job %lld (prio %d)",
		    (long long)id[want[k - 1]], prio[want[k - 1]],
		    (long long)id[want[k]], prio[want[k]]);
	/* The queue's default. */
	ck_assert_int_eq(tj_int(tj_job(c, tj_submit(c, "'kind':'sleep',"
	    "'args':{'seconds':0}")), "priority"), 5);
}
END_TEST

/* ---- delayed jobs -------------------------------------------------------- */

START_TEST(test_delay_and_run_at)
{
	struct tj_conn *c = start();
	json_int_t a, b, p;
	json_t *j, *s;
	double before = tu_wall();

	a = tj_submit(c, "'kind':'sleep','args':{'seconds':0},'delay':0.4");
	b = tj_submit(c, "'kind':'sleep','args':{'seconds':0},'run_at':%.3f",
	    before + 0.3);
	p = tj_submit(c, "'kind':'sleep','args':{'seconds':0},'run_at':%.3f",
	    before - 100);              /* past: at once */
	j = tj_job(c, a);
	ck_assert_str_eq(tj_str(j, "state"), "scheduled");
	ck_assert(tj_num(j, "run_at") >= before + 0.4);
	s = tj_req(c, "{'op':'stats'}");
	ck_assert_int_le(tj_int(s, "queues.default.scheduled"), 2);
	ck_assert(tj_at(s, "queues.default.paused") != NULL);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs WHERE state = "
	    "'scheduled' AND run_at IS NOT NULL AND id = %lld",
	    (long long)a), tj_str(tj_job(c, a), "state")[0] == 's');
	j = tj_wait(c, a, TJ_TIMEOUT);
	ck_assert_str_eq(tj_str(j, "state"), "succeeded");
	ck_assert(tj_num(j, "started_at") >= tj_num(j, "run_at"));
	j = tj_wait(c, b, TJ_TIMEOUT);
	ck_assert(tj_num(j, "run_at") >= before + 0.299);   /* as printed */
	ck_assert(tj_num(j, "started_at") >= tj_num(j, "run_at"));
	j = tj_wait(c, p, TJ_TIMEOUT);
	ck_assert_str_eq(tj_str(j, "state"), "succeeded");
	/* b (due first) started before a. */
	ck_assert(tj_num(tj_job(c, b), "started_at") <=
	    tj_num(tj_job(c, a), "started_at"));
}
END_TEST

/* Scheduled jobs do not count against capacity, max_pending bounds them;
 * a scheduled job can be cancelled. */
START_TEST(test_max_pending_and_cancel)
{
	struct tj_conn *c = start();
	json_int_t a;

	a = tj_submit(c, "'kind':'sleep','args':{'seconds':0},"
	    "'queue':'tight','delay':1000");
	tj_submit(c, "'kind':'sleep','args':{'seconds':0},'queue':'tight',"
	    "'delay':1000");
	tj_assert_err(tj_req(c, "{'op':'submit','kind':'sleep','args':"
	    "{'seconds':0},'queue':'tight','delay':1000}"), "queue_full");
	ck_assert_int_eq(tj_int(tj_req(c, "{'op':'stats'}"),
	    "queues.tight.scheduled"), 2);
	tj_assert_ok(tj_req(c, "{'op':'cancel','id':%lld,'reason':'no'}",
	    (long long)a));
	ck_assert_str_eq(tj_str(tj_job(c, a), "state"), "cancelled");
	ck_assert_int_eq(tj_int(tj_req(c, "{'op':'stats'}"),
	    "queues.tight.scheduled"), 1);
	tj_submit(c, "'kind':'sleep','args':{'seconds':0},'queue':'tight',"
	    "'delay':1000");
}
END_TEST

/* ---- retries --------------------------------------------------------------- */

START_TEST(test_retries_and_history)
{
	struct tj_conn *c = start();
	json_int_t a, t;
	json_t *j;

	a = tj_submit(c, "'kind':'sleep','args':{'seconds':0,'fail':'boom'},"
	    "'retries':2,'retry_delay':0.05");
	j = tj_wait(c, a, TJ_TIMEOUT);
	ck_assert_str_eq(tj_str(j, "state"), "failed");
	ck_assert_str_eq(tj_str(j, "error"), "boom");
	ck_assert_int_eq(tj_int(j, "attempts"), 3);
	ck_assert_int_eq(tj_int(j, "retried"), 2);
	ck_assert_int_eq(tj_int(j, "retries"), 2);
	j = tj_req(c, "{'op':'get','id':%lld,'history':true}", (long long)a);
	ck_assert_uint_eq(json_array_size(tj_at(j, "job.history")), 3);
	for (int i = 0; i < 3; i++) {
		char p[64];

		snprintf(p, sizeof(p), "job.history.%d.attempt", i);
		ck_assert_int_eq(tj_int(j, p), i + 1);
		snprintf(p, sizeof(p), "job.history.%d.state", i);
		ck_assert_str_eq(tj_str(j, p), "failed");
	}
	ck_assert_ptr_null(tj_at(tj_job(c, a), "history"));
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM retries WHERE "
	    "job_id = %lld AND error = 'boom'", (long long)a), 3);
	/* timed_out is retried too, fixed backoff. */
	t = tj_submit(c, "'kind':'sleep','args':{'seconds':5},'timeout':0.05,"
	    "'retries':1,'retry_delay':0.05,'retry_backoff':'fixed'");
	j = tj_wait(c, t, TJ_TIMEOUT);
	ck_assert_str_eq(tj_str(j, "state"), "timed_out");
	ck_assert_int_eq(tj_int(j, "attempts"), 2);
	ck_assert_str_eq(tj_str(j, "retry_backoff"), "fixed");
	ck_assert_int_ge(tj_int(tj_req(c, "{'op':'stats'}"), "jobs.retried"),
	    3);
}
END_TEST

/* A parked sleep (park.c) that fails or times out goes through the same
 * retry decision as one on a worker; one that starts and ends in one
 * batch (its start merged into its end's write) keeps its attempt too.
 * solo has one worker, so a parked job holds its only place: the next
 * one runs after it, lowest priority first. */
START_TEST(test_parked_retries)
{
	struct tj_conn *c = start();
	json_int_t a, t, z, lo, hi;
	json_t *j;

	a = tj_submit(c, "'kind':'sleep','args':{'seconds':0.05,'fail':'boom'},"
	    "'queue':'solo','retries':1,'retry_delay':0.05");
	t = tj_submit(c, "'kind':'sleep','args':{'seconds':5},'timeout':0.05,"
	    "'queue':'solo','retries':1,'retry_delay':0.05");
	j = tj_wait(c, a, TJ_TIMEOUT);
	ck_assert_str_eq(tj_str(j, "state"), "failed");
	ck_assert_str_eq(tj_str(j, "error"), "boom");
	ck_assert_int_eq(tj_int(j, "attempts"), 2);
	ck_assert_int_eq(tj_int(j, "retried"), 1);
	j = tj_wait(c, t, TJ_TIMEOUT);
	ck_assert_str_eq(tj_str(j, "state"), "timed_out");
	ck_assert_int_eq(tj_int(j, "attempts"), 2);
	j = tj_req(c, "{'op':'get','id':%lld,'history':true}", (long long)t);
	ck_assert_uint_eq(json_array_size(tj_at(j, "job.history")), 2);
	ck_assert_str_eq(tj_str(j, "job.history.1.state"), "timed_out");

	/* A parked job keeps solo's one place: a pause, two jobs, the
	 * lower priority runs first once the parked one ended. */
	z = tj_submit(c, "'kind':'sleep','args':{'seconds':0.3},'queue':'solo'");
	tj_wait_state(c, z, "running", TJ_TIMEOUT);
	tj_assert_ok(tj_req(c, "{'op':'pause','queue':'solo'}"));
	hi = tj_submit(c, "'kind':'sleep','args':{'seconds':0},'queue':'solo',"
	    "'priority':7");
	lo = tj_submit(c, "'kind':'sleep','args':{'seconds':0},'queue':'solo',"
	    "'priority':1");
	tj_assert_ok(tj_req(c, "{'op':'resume','queue':'solo'}"));
	tj_wait(c, hi, TJ_TIMEOUT);
	tj_wait(c, lo, TJ_TIMEOUT);
	ck_assert_str_eq(tj_str(tj_job(c, z), "state"), "succeeded");
	ck_assert_double_ge(tj_num(tj_job(c, hi), "started_at"),
	    tj_num(tj_job(c, lo), "started_at"));
	ck_assert_double_ge(tj_num(tj_job(c, lo), "started_at"),
	    tj_num(tj_job(c, z), "finished_at"));
	/* Each ended job has one attempt row per run, with its start. */
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM job_attempts WHERE "
	    "job_id IN (%lld, %lld, %lld) AND state = 'succeeded' AND "
	    "started_at > 0 AND attempt = 1", (long long)z, (long long)hi,
	    (long long)lo), 3);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM job_attempts"),
	    tj_sql_int("SELECT sum(attempts) FROM jobs"));
}
END_TEST

/* An exec whose program cannot start fails for good: no retry. */
START_TEST(test_permanent_not_retried)
{
	struct tj_conn *c = start();
	json_int_t a;
	json_t *j;

	a = tj_submit(c, "'kind':'exec','args':{'argv':['/nonexistent/prog']},"
	    "'retries':3,'retry_delay':0.01");
	j = tj_wait(c, a, TJ_TIMEOUT);
	ck_assert_str_eq(tj_str(j, "state"), "failed");
	ck_assert_int_eq(tj_int(j, "attempts"), 1);
	ck_assert_int_eq(tj_int(j, "retried"), 0);
}
END_TEST

/* ---- bad input --------------------------------------------------------------- */

static void
bad(struct tj_conn *c, const char *fields, const char *words)
{
	json_t *a = tj_req(c, "{'op':'submit','kind':'sleep','args':{},%s}",
	    fields);

	tj_assert_err(a, "bad_request");
	ck_assert_msg(strstr(tj_str(a, "error.message"), words) != NULL,
	    "%s: message \"%s\" lacks \"%s\"", fields,
	    tj_str(a, "error.message"), words);
}

START_TEST(test_bad_fields)
{
	struct tj_conn *c = start();

	bad(c, "'priority':10", "priority");
	bad(c, "'priority':-1", "0 to 9");
	bad(c, "'priority':1.5", "priority");
	bad(c, "'retries':-1", "retries");
	bad(c, "'retries':101", "0 to 100");
	bad(c, "'run_at':'tomorrow'", "run_at");
	bad(c, "'delay':-1", "delay");
	bad(c, "'delay':1,'run_at':2000000000", "not both");
	bad(c, "'retry_backoff':'linear'", "exponential, fixed");
	bad(c, "'retry_delay':0", "retry_delay");
	bad(c, "'retry_max_delay':-5", "retry_max_delay");
	bad(c, "'idempotent':'yes'", "idempotent");
	/* JSON has no NaN: the line itself is refused. */
	tj_assert_err(tj_req(c, "{'op':'submit','kind':'sleep','args':{},"
	    "'delay':NaN}"), "bad_request");
	/* The same checks in a group's member. */
	tj_assert_err(tj_req(c, "{'op':'submit_group','jobs':[{'kind':'sleep',"
	    "'args':{},'priority':12}]}"), "bad_request");
	tj_assert_err(tj_req(c, "{'op':'pause'}"), "bad_request");
	tj_assert_err(tj_req(c, "{'op':'pause','queue':'nope'}"),
	    "unknown_queue");
	tj_assert_err(tj_req(c, "{'op':'prune'}"), "bad_request");
	tj_assert_err(tj_req(c, "{'op':'prune','before':1,'states':"
	    "['queued']}"), "bad_request");
	tj_assert_err(tj_req(c, "{'op':'retry','id':0}"), "bad_request");
	tj_assert_err(tj_req(c, "{'op':'retry','id':999}"), "not_found");
}
END_TEST

START_TEST(test_bad_duration_config)
{
	char *out;

	tj_conf(TJ_DAEMON "retain_failed = 7x\n");
	ck_assert_int_eq(tj_run_jobd(TJ_TIMEOUT, "--check-config", "-c",
	    "@conf", (char *)NULL), 1);
	out = tj_slurp(tj_path("other.err"), NULL);
	/* FILE:LINE: message (the postgresql run's [daemon] has one more
	 * line: store =). */
	ck_assert_msg(strstr(out, tu_pg_wanted() ? "jobd.conf:8: retain_failed: "
	    "bad duration \"7x\"" : "jobd.conf:7: retain_failed: bad duration "
	    "\"7x\"") != NULL, "%s", out);
	free(out);
}
END_TEST

/* ---- pause, resume, retry ------------------------------------------------------ */

START_TEST(test_pause_kept_across_restart)
{
	struct tj_conn *c = start();
	json_int_t a;
	json_t *r;

	r = tj_req(c, "{'op':'pause','queue':'default'}");
	ck_assert(json_is_true(tj_at(r, "paused")));
	ck_assert_str_eq(tj_str(r, "queue"), "default");
	a = tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
	tj_stop();
	tj_restart();
	c = tj_connect();
	ck_assert(json_is_true(tj_at(tj_req(c, "{'op':'stats'}"),
	    "queues.default.paused")));
	usleep(300 * 1000);             /* time to (wrongly) start it */
	ck_assert_str_eq(tj_str(tj_job(c, a), "state"), "queued");
	r = tj_req(c, "{'op':'resume','queue':'default'}");
	ck_assert(json_is_false(tj_at(r, "paused")));
	ck_assert_str_eq(tj_str(tj_wait(c, a, TJ_TIMEOUT), "state"),
	    "succeeded");
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM queue_pause"), 0);
}
END_TEST

START_TEST(test_retry_op)
{
	struct tj_conn *c = start();
	json_int_t a, s, d;
	json_t *j;
	char arg[512];

	snprintf(arg, sizeof(arg), "%s", tj_path("flag"));
	a = tj_submit(c, "'kind':'exec','args':{'argv':['test','-e','%s']}",
	    arg);
	ck_assert_str_eq(tj_str(tj_wait(c, a, TJ_TIMEOUT), "state"), "failed");
	fclose(fopen(arg, "w"));
	j = tj_req(c, "{'op':'retry','id':%lld}", (long long)a);
	tj_assert_ok(j);
	ck_assert_str_eq(tj_str(j, "state"), "queued");
	j = tj_wait(c, a, TJ_TIMEOUT);
	ck_assert_str_eq(tj_str(j, "state"), "succeeded");
	ck_assert_int_eq(tj_int(j, "attempts"), 2);
	ck_assert(tj_null(j, "error"));
	tj_assert_err(tj_req(c, "{'op':'retry','id':%lld}", (long long)a),
	    "not_retryable");
	/* A scheduled job starts now. */
	s = tj_submit(c, "'kind':'sleep','args':{'seconds':0},'delay':1000");
	tj_assert_ok(tj_req(c, "{'op':'retry','id':%lld}", (long long)s));
	ck_assert_str_eq(tj_str(tj_wait(c, s, TJ_TIMEOUT), "state"),
	    "succeeded");
	/* A cancelled one goes back too; a running one is not retryable. */
	d = tj_submit(c, "'kind':'sleep','args':{'seconds':30}");
	tj_wait_state(c, d, "running", TJ_TIMEOUT);
	tj_assert_err(tj_req(c, "{'op':'retry','id':%lld}", (long long)d),
	    "not_retryable");
	tj_assert_ok(tj_req(c, "{'op':'cancel','id':%lld}", (long long)d));
	tj_assert_ok(tj_req(c, "{'op':'retry','id':%lld}", (long long)d));
	tj_wait_state(c, d, "running", TJ_TIMEOUT);
	ck_assert(tj_null(tj_job(c, d), "cancel_reason"));
	tj_assert_ok(tj_req(c, "{'op':'cancel','id':%lld}", (long long)d));
}
END_TEST

/* ---- prune and retention --------------------------------------------------------- */

START_TEST(test_prune_op)
{
	struct tj_conn *c = start();
	json_int_t ok1, ok2, bad1, live;
	json_t *r;

	ok1 = tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
	ok2 = tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
	bad1 = tj_submit(c, "'kind':'sleep','args':{'seconds':0,'fail':'x'}");
	live = tj_submit(c, "'kind':'sleep','args':{'seconds':0},"
	    "'delay':1000");
	tj_wait(c, ok1, TJ_TIMEOUT);
	tj_wait(c, ok2, TJ_TIMEOUT);
	tj_wait(c, bad1, TJ_TIMEOUT);
	r = tj_req(c, "{'op':'prune','before':%.3f,'states':['succeeded']}",
	    tu_wall() + 1);
	ck_assert_int_eq(tj_int(r, "deleted"), 2);
	tj_assert_err(tj_req(c, "{'op':'get','id':%lld}", (long long)ok1),
	    "not_found");
	ck_assert_str_eq(tj_str(tj_job(c, bad1), "state"), "failed");
	r = tj_req(c, "{'op':'prune','before':%.3f}", tu_wall() + 1);
	ck_assert_int_eq(tj_int(r, "deleted"), 1);
	ck_assert_str_eq(tj_str(tj_job(c, live), "state"), "scheduled");
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM job_attempts"), 0);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs"), 1);
	/* Nothing before 1970. */
	ck_assert_int_eq(tj_int(tj_req(c, "{'op':'prune','before':0}"),
	    "deleted"), 0);
}
END_TEST

/* retain_succeeded = 1 s, failed kept forever (this queue's own 0). */
START_TEST(test_retention)
{
	struct tj_conn *c;
	json_int_t a, b, f;

	tj_start(TJ_DAEMON "retain_succeeded = 1s\nprune_interval = 1\n"
	    "[queue.default]\nretain_failed = 0\n");
	c = tj_connect();
	a = tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
	b = tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
	f = tj_submit(c, "'kind':'sleep','args':{'seconds':0,'fail':'x'}");
	tj_wait(c, a, TJ_TIMEOUT);
	tj_wait(c, b, TJ_TIMEOUT);
	tj_wait(c, f, TJ_TIMEOUT);
	tj_wait_sql(0, "SELECT count(*) FROM jobs WHERE state = 'succeeded'");
	ck_assert_str_eq(tj_str(tj_job(c, f), "state"), "failed");
	if (!tu_pg_wanted())            /* SQLite gives pages back */
		ck_assert_int_eq(tj_sql_int("PRAGMA auto_vacuum"), 2);
	ck_assert_ptr_nonnull(strstr(tj_log(), "pruned 2 ended jobs"));
}
END_TEST

/* ---- restarts and crashes ---------------------------------------------------------- */

/* Stopped in the middle of its backoff, a job still waits for its run_at
 * after the restart, then runs its retry. */
START_TEST(test_restart_mid_backoff)
{
	struct tj_conn *c = start();
	json_int_t a;
	json_t *j;
	double run_at;

	a = tj_submit(c, "'kind':'sleep','args':{'seconds':0,'fail':'x'},"
	    "'retries':1,'retry_delay':3");
	j = tj_wait_state(c, a, "scheduled", TJ_TIMEOUT);
	run_at = tj_num(j, "run_at");
	ck_assert_int_eq(tj_int(j, "attempts"), 1);
	tj_stop();
	tj_restart();
	c = tj_connect();
	j = tj_job(c, a);
	ck_assert_str_eq(tj_str(j, "state"), "scheduled");
	ck_assert(tj_num(j, "run_at") == run_at);
	j = tj_wait(c, a, TJ_TIMEOUT + 3);
	ck_assert_int_eq(tj_int(j, "attempts"), 2);
	ck_assert(tj_num(j, "started_at") >= run_at);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM job_attempts WHERE "
	    "job_id = %lld", (long long)a), 2);
}
END_TEST

/* Found running after a SIGKILL: sleep and exec run again, an exec
 * submitted idempotent:false ends failed saying why. */
START_TEST(test_crash_rules)
{
	struct tj_conn *c = start();
	json_int_t s, x, n;
	json_t *j;

	s = tj_submit(c, "'kind':'sleep','args':{'seconds':30}");
	x = tj_submit(c, "'kind':'exec','args':{'argv':['sleep','30']}");
	n = tj_submit(c, "'kind':'exec','args':{'argv':['sleep','30']},"
	    "'idempotent':false");
	tj_wait_state(c, s, "running", TJ_TIMEOUT);
	tj_wait_state(c, x, "running", TJ_TIMEOUT);
	tj_wait_state(c, n, "running", TJ_TIMEOUT);
	tj_kill();
	tj_restart();
	c = tj_connect();
	tj_wait_state(c, s, "running", TJ_TIMEOUT);
	tj_wait_state(c, x, "running", TJ_TIMEOUT);
	j = tj_wait(c, n, TJ_TIMEOUT);
	ck_assert_str_eq(tj_str(j, "state"), "failed");
	ck_assert_ptr_nonnull(strstr(tj_str(j, "error"), "not run again"));
	ck_assert_ptr_nonnull(strstr(tj_str(j, "error"), "idempotent"));
	tj_assert_ok(tj_req(c, "{'op':'cancel','id':%lld}", (long long)s));
	tj_assert_ok(tj_req(c, "{'op':'cancel','id':%lld}", (long long)x));
}
END_TEST

/* A SIGKILL while a prune runs loses nothing but whole pruned batches:
 * every job not ended is there, and the ended ones missing are a multiple
 * of the batch (PRUNE_BATCH in daemon/prune.c: 250). */
START_TEST(test_kill_while_pruning)
{
	struct tj_conn *c = start();
	long long ended, left;

	tj_submit(c, "'kind':'sleep','args':{'seconds':0},'delay':1000");
	tj_stop();
	tj_sql_write("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT "
	    "i + 1 FROM n WHERE i < 5000) INSERT INTO jobs (id, queue, kind, "
	    "state, args, attempts, created_at, started_at, finished_at) "
	    "SELECT 100 + i, 'default', 'sleep', 'succeeded', '{}', 1, 1000, "
	    "1000, 1000 + i FROM n");
	ended = tj_sql_int("SELECT count(*) FROM jobs WHERE state = "
	    "'succeeded'");
	ck_assert_int_eq(ended, 5000);
	tj_restart();
	c = tj_connect();
	tj_send(c, "{'op':'prune','before':%.3f}", tu_wall());
	usleep(2000);
	tj_kill();
	left = tj_sql_int("SELECT count(*) FROM jobs WHERE state = "
	    "'succeeded'");
	ck_assert_msg((ended - left) % 250 == 0, "%lld of %lld left", left,
	    ended);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs WHERE state = "
	    "'scheduled'"), 1);
	tj_restart();
	c = tj_connect();
	ck_assert_int_eq(tj_int(tj_req(c, "{'op':'prune','before':%.3f}",
	    tu_wall()), "deleted"), left);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs"), 1);
}
END_TEST

static Suite *
jobd_lifecycle_suite(void)
{
	Suite *s = suite_create("jobd_lifecycle");
	TCase *tc = tj_tcase("lifecycle", 60);

	tcase_add_test(tc, test_priority_order);
	tcase_add_test(tc, test_delay_and_run_at);
	tcase_add_test(tc, test_max_pending_and_cancel);
	tcase_add_test(tc, test_retries_and_history);
	tcase_add_test(tc, test_permanent_not_retried);
	tcase_add_test(tc, test_parked_retries);
	tcase_add_test(tc, test_bad_fields);
	tcase_add_test(tc, test_bad_duration_config);
	tcase_add_test(tc, test_pause_kept_across_restart);
	tcase_add_test(tc, test_retry_op);
	tcase_add_test(tc, test_prune_op);
	tcase_add_test(tc, test_retention);
	tcase_add_test(tc, test_restart_mid_backoff);
	tcase_add_test(tc, test_crash_rules);
	tcase_add_test(tc, test_kill_while_pruning);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(jobd_lifecycle_suite());
}
