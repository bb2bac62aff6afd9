/*
 * test_engine.c — the engine (daemon/engine.h) driven directly, without
 * the socket: submits and their commit callbacks, backpressure, the error
 * codes, timeouts, cancellation, groups, waiting, graceful stop and
 * recovery on a reopened store, reloads, and the bound on workers.
 *
 * Each test gets a fresh directory with a config file (loaded with
 * conf_load, as jobd does) and a real SQLite store (sync normal).  Job
 * kind `sleep` does the work.  What a job ended as is read back from the
 * store, so every check is of what was committed.  Every test stops the
 * engine with eng_shutdown in its main task, so the fixture's leak check
 * (no task left) holds; the store is closed after the tasks have ended
 * and the engine freed after that.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "co.h"
#include "conf.h"
#include "engine.h"
#include "engine_int.h"           /* job_move's counts, J_* */
#include "log.h"
#include "proto.h"
#include "store.h"
#include "testutil.h"

static char dir[64];
static char dbpath[128];
static char confpath[128];
static struct store *st;
static struct eng *e;
static struct conf *cf, *cf2;

/* ---- fixture -------------------------------------------------------------- */

static void
setup(void)
{
	tu_setup();
	strcpy(dir, "/tmp/test_engine.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(dbpath, sizeof(dbpath), "%s/jobs.db", dir);
	snprintf(confpath, sizeof(confpath), "%s/jobd.conf", dir);
	st = NULL;
	e = NULL;
	cf = cf2 = NULL;
}

static void
rm(const char *name)
{
	char p[192];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	unlink(p);
}

static void
teardown(void)
{
	store_close(st);                /* commits what the stop wrote */
	eng_free(e);
	conf_free(cf);
	conf_free(cf2);
	rm("jobs.db");
	rm("jobs.db-wal");
	rm("jobs.db-shm");
	rm("jobd.conf");
	rmdir(dir);
	tu_teardown();
}

/* Load a config made of a [daemon] section and the given queue sections. */
static struct conf *
load_conf(const char *queues)
{
	char err[CONF_ERRLEN];
	struct conf *c = NULL;
	FILE *f;
	int rc;

	ck_assert_ptr_nonnull(f = fopen(confpath, "w"));
	fprintf(f, "[daemon]\nsocket = jobd.sock\ndatabase = jobs.db\n"
	    "sync = normal\n%s", queues);
	ck_assert_int_eq(fclose(f), 0);
	rc = conf_load(confpath, &c, err, sizeof(err));
	ck_assert_msg(rc == 0, "conf_load: %s", err);
	return c;
}

static void
open_store(void)
{
	struct store_opts o = { .path = dbpath, .sync = STORE_SYNC_NORMAL };
	int rc = store_open(&st, tu_base, &o);

	ck_assert_msg(rc == 0, "store_open: %d %s", rc, store_errmsg());
}

/* The moves job_move made, summed over the engines a test made (see
 * test_every_move): an engine's are added before it is freed. */
static uint64_t moves[J_NWHERE][J_NWHERE];

static void
tally(void)
{
	for (int f = 0; e != NULL && f < J_NWHERE; f++)
		for (int t = 0; t < J_NWHERE; t++)
			moves[f][t] += e->moves[f][t];
}

/* A config, a store and an engine configured with the config. */
static void
start(const char *queues)
{
	cf = load_conf(queues);
	open_store();
	ck_assert_ptr_nonnull(e = eng_new(tu_rt, st));
	ck_assert_int_eq(eng_configure(e, cf), 0);
}

/* jobd stopped and started again (outside any task): the store closed
 * and reopened, a new engine, not yet recovered. */
static void
restart(void)
{
	store_close(st);
	tally();
	eng_free(e);
	open_store();
	ck_assert_ptr_nonnull(e = eng_new(tu_rt, st));
	ck_assert_int_eq(eng_configure(e, cf), 0);
}

/* ---- submitting ------------------------------------------------------------ */

/* What a submit's done callback heard. */
struct ack {
	int calls;
	int status;
	struct eng_ack a;
	size_t visible;         /* of its jobs, already readable in the store */
};

static void
on_done(void *arg, int status, const struct eng_ack *a)
{
	struct ack *k = arg;
	struct store_job *sj;
	size_t i;

	k->calls++;
	k->status = status;
	k->a = *a;
	/* Committed before told: the rows are readable right now. */
	for (i = 0; status == 0 && i < a->n; i++)
		if (store_get(st, a->id + (int64_t)i, &sj) == 0) {
			k->visible++;
			store_job_free(sj);
		}
}

/* One sleep job; unset fields take the defaults. */
struct sub {
	const char *queue;      /* NULL: "default" */
	double secs;
	const char *fail;       /* the job fails with this error */
	double timeout;         /* 0: the queue's */
	int max_attempts;       /* 0: the queue's */
	bool nowait;
	const char *kind;       /* NULL: "sleep" */
	json_t *args;           /* NULL: {"seconds": secs, "fail": fail} */
	const struct eng_who *who; /* NULL: jobd's own; a group: x[0]'s */
};

static json_t *
sleep_args(const struct sub *x)
{
	if (x->args != NULL)
		return json_incref(x->args);
	if (x->fail != NULL)
		return json_pack("{s:f,s:s}", "seconds", x->secs, "fail",
		    x->fail);
	return json_pack("{s:f}", "seconds", x->secs);
}

static void
fill(struct proto_submit *s, const struct sub *x)
{
	memset(s, 0, sizeof(*s));
	s->kind = x->kind != NULL ? x->kind : "sleep";
	s->args = sleep_args(x);
	s->queue = x->queue != NULL ? x->queue : "default";
	s->timeout = x->timeout > 0 ? x->timeout : PROTO_UNSET;
	s->max_attempts = x->max_attempts;
	s->nowait = x->nowait;
	s->idempotent = -1;     /* absent, as proto_submit_parse leaves it */
	ck_assert_ptr_nonnull(s->args);
}

/* eng_submit (task); on an error done must not have been called. */
static int
submit(const struct sub *x, struct ack *k, struct proto_err *err)
{
	struct proto_submit s;
	int rc;

	fill(&s, x);
	memset(k, 0, sizeof(*k));
	rc = eng_submit(e, &s, x->who, on_done, k, err);
	json_decref(s.args);
	return rc;
}

#define WAIT_UNTIL(cond)                                                    \
	do {                                                                 \
		double end_ = co_now() + 5 * tu_slow();                      \
		while (!(cond)) {                                            \
			ck_assert_msg(co_now() < end_, "timed out: %s", #cond); \
			ck_assert_int_eq(co_sleep(0.001), 0);                \
		}                                                            \
	} while (0)

/* Submit and wait for the commit; the job's id. */
static int64_t
submit_ok(const struct sub *x)
{
	struct proto_err err;
	struct ack k;
	int rc = submit(x, &k, &err);

	ck_assert_msg(rc == 0, "eng_submit: %d %s", rc, err.msg);
	WAIT_UNTIL(k.calls > 0);
	ck_assert_int_eq(k.calls, 1);
	ck_assert_int_eq(k.status, 0);
	ck_assert_int_gt(k.a.id, 0);
	ck_assert_int_eq(k.a.group, 0);
	ck_assert_uint_eq(k.a.n, 1);
	ck_assert_uint_eq(k.visible, 1);
	return k.a.id;
}

#define SUBMIT(...)     submit_ok(&(struct sub){ __VA_ARGS__ })

/* A group of n jobs x[]; returns the rc, *k the ack. */
static int
submit_group(const struct sub *x, size_t n, bool fail_fast, bool nowait,
    struct ack *k, struct proto_err *err)
{
	struct proto_submit_group g = { .njobs = n, .nowait = nowait,
	    .mode = fail_fast ? PROTO_GROUP_FAIL_FAST : PROTO_GROUP_ALL };
	size_t i;
	int rc;

	ck_assert_ptr_nonnull(g.jobs = calloc(n, sizeof(*g.jobs)));
	for (i = 0; i < n; i++)
		fill(&g.jobs[i], &x[i]);
	memset(k, 0, sizeof(*k));
	rc = eng_submit_group(e, &g, x[0].who, on_done, k, err);
	for (i = 0; i < n; i++)
		json_decref(g.jobs[i].args);
	free(g.jobs);
	return rc;
}

/* The group's first job id once its insert committed; *gid its id. */
static int64_t
group_ok(const struct sub *x, size_t n, bool fail_fast, int64_t *gid)
{
	struct proto_err err;
	struct ack k;
	int rc = submit_group(x, n, fail_fast, false, &k, &err);

	ck_assert_msg(rc == 0, "eng_submit_group: %d %s", rc, err.msg);
	WAIT_UNTIL(k.calls > 0);
	ck_assert_int_eq(k.status, 0);
	ck_assert_int_gt(k.a.group, 0);
	ck_assert_uint_eq(k.a.n, n);
	ck_assert_uint_eq(k.visible, n);
	*gid = k.a.group;
	return k.a.id;
}

/* ---- reading back ---------------------------------------------------------- */

static struct store_job *
get(int64_t id)
{
	struct store_job *sj = NULL;

	ck_assert_int_eq(store_get(st, id, &sj), 0);
	return sj;
}

static void
expect(int64_t id, enum store_state state, int attempts)
{
	struct store_job *sj = get(id);

	ck_assert_msg(sj->state == state, "job %lld is %s, expected %s",
	    (long long)id, store_state_name(sj->state),
	    store_state_name(state));
	ck_assert_int_eq(sj->attempts, attempts);
	store_job_free(sj);
}

static void
wait_job(int64_t id)
{
	ck_assert_int_eq(eng_wait_job(e, id, 10 * tu_slow()), 0);
}

static struct eng_queue_info
qinfo(const char *name)
{
	struct eng_queue_info qi;
	size_t i;

	for (i = 0; eng_queue_info(e, i, &qi) == 0; i++)
		if (strcmp(qi.name, name) == 0)
			return qi;
	ck_abort_msg("no queue %s", name);
	return qi;
}

/* got in [lo, lo + slack * tu_slow() * tu_load()]: never early, late
 * within reason for how busy the machine is. */
#define ASSERT_TIME(got, lo, slack)                                          \
	do {                                                                 \
		double g_ = (got), l_ = (lo), s_ = (slack) * tu_slow() *     \
		    tu_load();                                               \
		ck_assert_msg(g_ >= l_ && g_ <= l_ + s_,                     \
		    "time %.4f s, expected %.4f s .. +%.4f", g_, l_, s_);    \
	} while (0)

/* ---- submit and run --------------------------------------------------------- */

static int
run_submit(void *arg)
{
	struct sub two[2] = { { .secs = 0 }, { .secs = 0 } };
	struct proto_err err;
	struct ack k[2];
	struct eng_counters c;
	struct store_job *sj;
	int64_t id;

	id = SUBMIT(.secs = 0.01);
	wait_job(id);
	sj = get(id);
	ck_assert_int_eq(sj->state, STORE_SUCCEEDED);
	ck_assert_int_eq(sj->attempts, 1);
	ck_assert_str_eq(sj->queue, "default");
	ck_assert_str_eq(sj->kind, "sleep");
	ck_assert_int_eq(sj->max_attempts, 3);          /* the queue's */
	ck_assert_ptr_nonnull(sj->result);
	ck_assert_ptr_nonnull(strstr(sj->result, "\"slept\""));
	ck_assert_ptr_null(sj->error);
	ck_assert(sj->started_at > 0 && sj->finished_at >= sj->started_at);
	store_job_free(sj);
	/* A job that fails says why. */
	id = SUBMIT(.secs = 0, .fail = "it broke", .max_attempts = 7);
	wait_job(id);
	sj = get(id);
	ck_assert_int_eq(sj->state, STORE_FAILED);
	ck_assert_str_eq(sj->error, "it broke");
	ck_assert_int_eq(sj->max_attempts, 7);
	store_job_free(sj);
	/* Acknowledged from the commit, not before: eng_settle_all waits for
	 * every insert sent so far. */
	ck_assert_int_eq(submit(&(struct sub){ .secs = 0 }, &k[0], &err), 0);
	ck_assert_int_eq(submit_group(two, 2, false, false, &k[1], &err), 0);
	ck_assert_int_eq(k[0].calls + k[1].calls, 0);
	ck_assert_int_eq(eng_settle_all(e), 0);
	ck_assert_int_eq(k[0].calls, 1);
	ck_assert_int_eq(k[1].calls, 1);
	ck_assert_uint_eq(k[0].visible + k[1].visible, 3);
	ck_assert_int_eq(eng_settle(e, k[0].a.id), 0);
	ck_assert_int_eq(eng_settle(e, 123456), 0);
	ck_assert_int_eq(eng_settle_all(e), 0);         /* nothing to wait for */
	ck_assert_int_eq(eng_wait_group(e, k[1].a.group, 5), 0);
	wait_job(k[0].a.id);
	eng_counters(e, &c);
	ck_assert_uint_eq(c.submitted, 5);
	ck_assert_uint_eq(c.ended[STORE_SUCCEEDED], 4);
	ck_assert_uint_eq(c.ended[STORE_FAILED], 1);
	ck_assert_uint_eq(c.live, 0);
	ck_assert_uint_eq(c.store_errors, 0);
	eng_shutdown(e, 0);
	ck_assert(eng_stopping(e));
	return 0;
}

START_TEST(test_submit_runs_after_commit)
{
	start("[queue.default]\nworkers = 2\ncapacity = 10\n");
	ck_assert_int_eq(tu_run(run_submit, NULL), 0);
}
END_TEST

/* ---- backpressure ---------------------------------------------------------- */

struct blocked {
	struct ack k;
	int rc;
	bool returned;
	double at;
};

static int
blocked_submit(void *arg)
{
	struct blocked *b = arg;
	struct proto_err err;

	b->rc = submit(&(struct sub){ .secs = 0.01 }, &b->k, &err);
	b->returned = true;
	b->at = co_now();
	return 0;
}

static int
run_backpressure(void *arg)
{
	static struct blocked b;
	struct co_task *t;
	struct proto_err err;
	struct ack k;
	int64_t a, ids[2];
	double t0;

	a = SUBMIT(.secs = 0.3);
	WAIT_UNTIL(qinfo("default").running == 1);
	t0 = co_now();
	ids[0] = SUBMIT(.secs = 0.01);
	ids[1] = SUBMIT(.secs = 0.01);
	ck_assert_uint_eq(qinfo("default").queued, 2);
	/* Full: a blocking submit waits ... */
	ck_assert_int_eq(co_spawn(tu_rt, blocked_submit, &b, &t), 0);
	ck_assert_int_eq(co_sleep(0.05), 0);
	ck_assert(!b.returned);
	ck_assert_uint_eq(qinfo("default").queued, 2);
	ck_assert_uint_eq(qinfo("default").running, 1);
	/* ... and a nowait one is refused at once, recording nothing. */
	ck_assert_int_eq(submit(&(struct sub){ .secs = 0, .nowait = true }, &k,
	    &err), -EAGAIN);
	ck_assert_int_eq(err.code, PROTO_QUEUE_FULL);
	ck_assert_int_eq(co_sleep(0.01), 0);
	ck_assert_int_eq(k.calls, 0);
	/* Room comes when the worker takes the next job, after a's end. */
	ck_assert_int_eq(co_join(t, NULL), 0);
	ck_assert_int_eq(b.rc, 0);
	ASSERT_TIME(b.at - t0, 0.3 - 0.01, 0.2);
	WAIT_UNTIL(b.k.calls > 0);
	ck_assert_int_eq(b.k.status, 0);
	wait_job(b.k.a.id);
	expect(a, STORE_SUCCEEDED, 1);
	expect(ids[0], STORE_SUCCEEDED, 1);
	expect(ids[1], STORE_SUCCEEDED, 1);
	expect(b.k.a.id, STORE_SUCCEEDED, 1);
	eng_shutdown(e, 0);
	return 0;
}

START_TEST(test_backpressure)
{
	start("[queue.default]\nworkers = 1\ncapacity = 2\n");
	ck_assert_int_eq(tu_run(run_backpressure, NULL), 0);
}
END_TEST

/* ---- refusals --------------------------------------------------------------- */

static void
refused(const struct sub *x, enum proto_code code, const char *msg_part)
{
	struct proto_err err = { 0 };
	struct ack k;

	ck_assert_int_lt(submit(x, &k, &err), 0);
	ck_assert_msg(err.code == code, "code %s, expected %s (%s)",
	    proto_code_name(err.code), proto_code_name(code), err.msg);
	ck_assert_msg(strstr(err.msg, msg_part) != NULL, "message \"%s\"",
	    err.msg);
	ck_assert_int_eq(k.calls, 0);
}

static int
run_refusals(void *arg)
{
	struct sub two[2] = { { .secs = 0 }, { .secs = 0, .kind = "nope" } };
	json_t *bad;
	struct eng_counters c;
	struct proto_err err;
	struct ack k;

	refused(&(struct sub){ .queue = "nosuch" }, PROTO_UNKNOWN_QUEUE,
	    "nosuch");
	refused(&(struct sub){ .kind = "nokind" }, PROTO_UNKNOWN_KIND,
	    "nokind");
	bad = json_pack("{s:s}", "seconds", "ten");
	refused(&(struct sub){ .args = bad }, PROTO_BAD_REQUEST, "seconds");
	json_decref(bad);
	bad = json_object();
	refused(&(struct sub){ .args = bad }, PROTO_BAD_REQUEST, "seconds");
	json_decref(bad);
	bad = json_pack("{s:i}", "seconds", -1);
	refused(&(struct sub){ .args = bad }, PROTO_BAD_REQUEST, "seconds");
	json_decref(bad);
	/* A group is all or nothing; the message names the member. */
	ck_assert_int_lt(submit_group(two, 2, false, false, &k, &err), 0);
	ck_assert_int_eq(err.code, PROTO_UNKNOWN_KIND);
	ck_assert_ptr_nonnull(strstr(err.msg, "jobs[1]"));
	/* Nothing was recorded. */
	ck_assert_int_eq(co_sleep(0.02), 0);
	ck_assert_int_eq(k.calls, 0);
	eng_counters(e, &c);
	ck_assert_uint_eq(c.submitted, 0);
	ck_assert_uint_eq(c.live, 0);
	/* Once stopping, every submit is refused. */
	eng_shutdown(e, 0);
	refused(&(struct sub){ .secs = 0 }, PROTO_SHUTTING_DOWN, "stopping");
	ck_assert_int_eq(submit_group(two, 1, false, false, &k, &err),
	    -ESHUTDOWN);
	ck_assert_int_eq(err.code, PROTO_SHUTTING_DOWN);
	return 0;
}

START_TEST(test_refusals)
{
	start("[queue.default]\n");
	ck_assert_int_eq(tu_run(run_refusals, NULL), 0);
}
END_TEST

/* ---- timeouts --------------------------------------------------------------- */

static int
run_timeout(void *arg)
{
	struct store_job *sj;
	int64_t a, b, c;
	double t0 = co_now();

	a = SUBMIT(.secs = 5, .timeout = 0.1);
	b = SUBMIT(.secs = 5, .queue = "quick");        /* the queue's: 0.1 */
	c = SUBMIT(.secs = 0.05, .queue = "quick");     /* ends in time */
	wait_job(a);
	wait_job(b);
	ASSERT_TIME(co_now() - t0, 0.1, 0.3);
	wait_job(c);
	sj = get(a);
	ck_assert_int_eq(sj->state, STORE_TIMED_OUT);
	ck_assert_str_eq(sj->error, "timed out after 0.1 s");
	ck_assert_int_eq(sj->attempts, 1);
	store_job_free(sj);
	sj = get(b);
	ck_assert_int_eq(sj->state, STORE_TIMED_OUT);
	ck_assert(sj->timeout == 0.1);
	store_job_free(sj);
	expect(c, STORE_SUCCEEDED, 1);
	eng_shutdown(e, 0);
	return 0;
}

START_TEST(test_timeout)
{
	start("[queue.default]\n[queue.quick]\ntimeout = 0.1\n");
	ck_assert_int_eq(tu_run(run_timeout, NULL), 0);
}
END_TEST

/* ---- cancel ----------------------------------------------------------------- */

static int
run_cancel(void *arg)
{
	struct store_job *sj;
	struct proto_err err;
	int64_t a, b, c;
	double t0;

	a = SUBMIT(.secs = 5);
	WAIT_UNTIL(qinfo("default").running == 1);
	b = SUBMIT(.secs = 5);
	c = SUBMIT(.secs = 5);
	/* Queued: never started. */
	ck_assert_int_eq(eng_cancel_job(e, b, NULL, "not needed", &err), 0);
	sj = get(b);
	ck_assert_int_eq(sj->state, STORE_CANCELLED);
	ck_assert_str_eq(sj->cancel_reason, "not needed");
	ck_assert_int_eq(sj->attempts, 0);
	ck_assert(sj->started_at == 0);
	ck_assert(sj->finished_at > 0);
	store_job_free(sj);
	ck_assert_uint_eq(qinfo("default").queued, 1);
	/* Running: stopped, and its end committed when the call returns. */
	t0 = co_now();
	ck_assert_int_eq(eng_cancel_job(e, a, NULL, "stop it", &err), 0);
	ck_assert(co_now() - t0 < 0.5 * tu_slow());
	sj = get(a);
	ck_assert_int_eq(sj->state, STORE_CANCELLED);
	ck_assert_str_eq(sj->cancel_reason, "stop it");
	ck_assert_int_eq(sj->attempts, 1);
	ck_assert(sj->started_at > 0);
	store_job_free(sj);
	/* The next one starts; cancelled without a reason, it gets one. */
	WAIT_UNTIL(qinfo("default").running == 1);
	ck_assert_int_eq(eng_cancel_job(e, c, NULL, NULL, &err), 0);
	sj = get(c);
	ck_assert_int_eq(sj->state, STORE_CANCELLED);
	ck_assert_str_eq(sj->cancel_reason, "cancelled");
	ck_assert_int_eq(sj->attempts, 1);
	store_job_free(sj);
	/* Ended or unknown: not the engine's any more. */
	ck_assert_int_eq(eng_cancel_job(e, a, NULL, NULL, &err), -ENOENT);
	ck_assert_int_eq(eng_cancel_job(e, 987654, NULL, NULL, &err), -ENOENT);
	a = SUBMIT(.secs = 0);
	wait_job(a);
	ck_assert_int_eq(eng_cancel_job(e, a, NULL, NULL, &err), -ENOENT);
	expect(a, STORE_SUCCEEDED, 1);
	eng_shutdown(e, 0);
	return 0;
}

START_TEST(test_cancel)
{
	start("[queue.default]\nworkers = 1\ncapacity = 10\n");
	ck_assert_int_eq(tu_run(run_cancel, NULL), 0);
}
END_TEST

/* ---- groups ----------------------------------------------------------------- */

static int
run_fail_fast(void *arg)
{
	struct sub x[4] = { { .secs = 0.05, .fail = "boom" }, { .secs = 5 },
	    { .secs = 5 }, { .secs = 5 } };
	char want[256];
	struct store_job *sj;
	int64_t first, gid, i;
	double t0 = co_now();

	first = group_ok(x, 4, true, &gid);
	ck_assert_int_eq(eng_wait_group(e, gid, 10 * tu_slow()), 0);
	ASSERT_TIME(co_now() - t0, 0.05, 0.3);
	sj = get(first);
	ck_assert_int_eq(sj->state, STORE_FAILED);
	ck_assert_str_eq(sj->error, "boom");
	ck_assert_int_eq(sj->group_id, gid);
	store_job_free(sj);
	snprintf(want, sizeof(want), "fail_fast: job %lld of group %lld "
	    "ended failed (boom)", (long long)first, (long long)gid);
	for (i = 1; i < 4; i++) {
		sj = get(first + i);
		ck_assert_int_eq(sj->state, STORE_CANCELLED);
		ck_assert_str_eq(sj->cancel_reason, want);
		ck_assert_int_eq(sj->group_id, gid);
		/* Two workers: job 1 was running, 2 and 3 never started. */
		ck_assert_int_eq(sj->attempts, i == 1 ? 1 : 0);
		store_job_free(sj);
	}
	eng_shutdown(e, 0);
	return 0;
}

START_TEST(test_group_fail_fast)
{
	start("[queue.default]\nworkers = 2\ncapacity = 10\n");
	ck_assert_int_eq(tu_run(run_fail_fast, NULL), 0);
}
END_TEST

static int
run_group_all(void *arg)
{
	struct sub x[4] = { { .secs = 0.01, .fail = "x" }, { .secs = 0.05 },
	    { .secs = 5, .timeout = 0.05 }, { .secs = 0.05 } };
	struct sub y[3] = { { .secs = 5 }, { .secs = 5 }, { .secs = 5 } };
	int64_t first, gid, *ids = NULL;
	struct proto_err err;
	size_t n = 0;

	first = group_ok(x, 4, false, &gid);
	ck_assert_int_eq(eng_wait_group(e, gid, 10 * tu_slow()), 0);
	expect(first, STORE_FAILED, 1);
	expect(first + 1, STORE_SUCCEEDED, 1);
	expect(first + 2, STORE_TIMED_OUT, 1);
	expect(first + 3, STORE_SUCCEEDED, 1);
	ck_assert_int_eq(eng_cancel_group(e, gid, NULL, NULL, &ids, &n, &err),
	    -ENOENT);
	/* Cancelling a group cancels every member still to end. */
	first = group_ok(y, 3, false, &gid);
	ck_assert_int_eq(eng_cancel_group(e, gid, NULL, "all of them", &ids, &n,
	    &err), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(ids[0], first);
	ck_assert_int_eq(ids[2], first + 2);
	free(ids);
	for (int i = 0; i < 3; i++) {
		struct store_job *sj = get(first + i);

		ck_assert_int_eq(sj->state, STORE_CANCELLED);
		ck_assert_str_eq(sj->cancel_reason, "all of them");
		store_job_free(sj);
	}
	ck_assert_int_eq(eng_wait_group(e, gid, 0), 0);
	eng_shutdown(e, 0);
	return 0;
}

START_TEST(test_group_all)
{
	start("[queue.default]\nworkers = 4\ncapacity = 10\n");
	ck_assert_int_eq(tu_run(run_group_all, NULL), 0);
}
END_TEST

/* Watch a queue's length while a big group enters it. */
static int
watch_queued(void *arg)
{
	size_t *most = arg;
	struct eng_queue_info qi;

	while (co_sleep(0.001) == 0) {
		qi = qinfo("default");
		if (qi.queued > *most)
			*most = qi.queued;
	}
	return 0;
}

static int
run_big_group(void *arg)
{
	struct sub x[8];
	struct proto_err err;
	struct co_task *w;
	struct ack k;
	size_t most = 0;
	int64_t first, gid;
	int i;

	for (i = 0; i < 8; i++)
		x[i] = (struct sub){ .secs = 0.01 };
	/* nowait: it must fit now, and 8 do not fit in 2. */
	ck_assert_int_eq(submit_group(x, 8, false, true, &k, &err), -EAGAIN);
	ck_assert_int_eq(err.code, PROTO_QUEUE_FULL);
	/* Blocking: recorded at once, entering as room frees. */
	ck_assert_int_eq(co_spawn(tu_rt, watch_queued, &most, &w), 0);
	first = group_ok(x, 8, false, &gid);
	ck_assert_int_eq(eng_wait_group(e, gid, 10 * tu_slow()), 0);
	for (i = 0; i < 8; i++)
		expect(first + i, STORE_SUCCEEDED, 1);
	ck_assert_int_eq(co_reap(w, NULL), 0);
	ck_assert_uint_le(most, 2);             /* never past capacity */
	ck_assert_int_eq(k.calls, 0);           /* the refused one */
	eng_shutdown(e, 0);
	return 0;
}

START_TEST(test_group_bigger_than_capacity)
{
	start("[queue.default]\nworkers = 1\ncapacity = 2\n");
	ck_assert_int_eq(tu_run(run_big_group, NULL), 0);
}
END_TEST

/* ---- waiting ---------------------------------------------------------------- */

static int
run_wait(void *arg)
{
	struct sub x[2] = { { .secs = 0.2 }, { .secs = 0.1 } };
	int64_t a, gid;
	double t0, t_sub;

	ck_assert_int_eq(eng_wait_job(e, 424242, 0), 0);       /* not held */
	ck_assert_int_eq(eng_wait_group(e, 424242, 0), 0);
	t_sub = co_now();
	a = SUBMIT(.secs = 0.3);
	t0 = co_now();
	ck_assert_int_eq(eng_wait_job(e, a, 0), -ETIMEDOUT);
	/* Did not wait: well before the 0.3 s job could have ended. */
	ck_assert(co_now() - t0 < 0.15);
	ck_assert_int_eq(eng_wait_job(e, a, 0.1), -ETIMEDOUT);
	ASSERT_TIME(co_now() - t0, 0.1, 0.1);
	ck_assert_int_eq(eng_wait_job(e, a, -1), 0);
	/* From before the submit: the job may start while its commit is
	 * awaited (by tens of ms on a loaded machine), never before it. */
	ASSERT_TIME(co_now() - t_sub, 0.3 - 0.005, 0.2);
	expect(a, STORE_SUCCEEDED, 1);                  /* ended, committed */
	ck_assert_int_eq(eng_wait_job(e, a, 0), 0);
	(void)group_ok(x, 2, false, &gid);
	t0 = co_now();
	ck_assert_int_eq(eng_wait_group(e, gid, 0), -ETIMEDOUT);
	ck_assert_int_eq(eng_wait_group(e, gid, 0.05), -ETIMEDOUT);
	ASSERT_TIME(co_now() - t0, 0.05, 0.1);
	ck_assert_int_eq(eng_wait_group(e, gid, 5), 0);
	ASSERT_TIME(co_now() - t0, 0.2 - 0.01, 0.2);
	ck_assert_int_eq(eng_wait_group(e, gid, 0), 0);
	eng_shutdown(e, 0);
	return 0;
}

START_TEST(test_wait)
{
	start("[queue.default]\nworkers = 4\n");
	ck_assert_int_eq(tu_run(run_wait, NULL), 0);
}
END_TEST

/* ---- shutdown and recovery -------------------------------------------------- */

static int64_t sd_short, sd_long, sd_q1, sd_q2;

static int
run_stop(void *arg)
{
	struct eng_counters c;
	/* Long enough that the short one is still running when the stop
	 * begins, on a loaded machine too (with 0.1 s, a late look saw the
	 * short one ended and a queued one started in its place). */
	double k = tu_slow() < 3 ? tu_slow() : 3, t0;

	sd_short = SUBMIT(.secs = 0.5 * k);
	sd_long = SUBMIT(.secs = 2.0 * k);
	sd_q1 = SUBMIT(.secs = 0.01);
	sd_q2 = SUBMIT(.secs = 0.01);
	WAIT_UNTIL(qinfo("default").running == 2);
	ck_assert_uint_eq(qinfo("default").queued, 2);
	expect(sd_q1, STORE_QUEUED, 0);
	t0 = co_now();
	eng_shutdown(e, 1.0 * k);
	/* It waited out the grace for the long one, then stopped it. */
	ASSERT_TIME(co_now() - t0, 1.0 * k - 0.01, 0.2);
	ck_assert(eng_stopping(e));
	store_flush(st);
	expect(sd_short, STORE_SUCCEEDED, 1);
	expect(sd_long, STORE_QUEUED, 1);
	expect(sd_q1, STORE_QUEUED, 0);
	expect(sd_q2, STORE_QUEUED, 0);
	eng_counters(e, &c);
	ck_assert_uint_eq(c.requeued, 1);
	ck_assert_uint_eq(qinfo("default").running, 0);
	return 0;
}

static int
run_recovered(void *arg)
{
	struct eng_counters c;
	struct store_job *sj;

	ck_assert_int_eq(eng_recover(e), 0);
	eng_counters(e, &c);
	ck_assert_uint_eq(c.live, 3);
	wait_job(sd_long);
	wait_job(sd_q1);
	wait_job(sd_q2);
	sj = get(sd_long);
	ck_assert_int_eq(sj->state, STORE_SUCCEEDED);
	ck_assert_int_eq(sj->attempts, 2);              /* one start per run */
	store_job_free(sj);
	expect(sd_q1, STORE_SUCCEEDED, 1);
	expect(sd_q2, STORE_SUCCEEDED, 1);
	expect(sd_short, STORE_SUCCEEDED, 1);
	eng_counters(e, &c);
	ck_assert_uint_eq(c.live, 0);
	eng_shutdown(e, 0);
	return 0;
}

START_TEST(test_shutdown_then_recover)
{
	start("[queue.default]\nworkers = 2\ncapacity = 10\n");
	ck_assert_int_eq(tu_run(run_stop, NULL), 0);
	restart();
	ck_assert_int_eq(tu_run(run_recovered, NULL), 0);
}
END_TEST

static int64_t ma_id;

/* Start the job (or let the recovered one start), stop with no grace. */
static int
run_stop_running(void *arg)
{
	if (arg != NULL)
		ma_id = SUBMIT(.secs = 5, .max_attempts = 2);
	else
		ck_assert_int_eq(eng_recover(e), 0);
	WAIT_UNTIL(qinfo("default").running == 1);
	eng_shutdown(e, 0);
	return 0;
}

static int
run_nothing_left(void *arg)
{
	struct eng_counters c;

	ck_assert_int_eq(eng_recover(e), 0);
	eng_counters(e, &c);
	ck_assert_uint_eq(c.live, 0);
	ck_assert_uint_eq(qinfo("default").queued, 0);
	eng_shutdown(e, 0);
	return 0;
}

START_TEST(test_max_attempts_exhausted)
{
	struct store_job *sj;

	start("[queue.default]\n");
	ck_assert_int_eq(tu_run(run_stop_running, "first"), 0);
	restart();
	expect(ma_id, STORE_QUEUED, 1);                 /* one start left */
	ck_assert_int_eq(tu_run(run_stop_running, NULL), 0);
	restart();
	sj = get(ma_id);
	ck_assert_int_eq(sj->state, STORE_FAILED);
	ck_assert_int_eq(sj->attempts, 2);
	ck_assert_ptr_nonnull(sj->error);
	ck_assert_str_eq(sj->error, "interrupted (jobd stopped) after 2 "
	    "attempts");
	ck_assert(sj->finished_at > 0);
	store_job_free(sj);
	ck_assert_int_eq(tu_run(run_nothing_left, NULL), 0);
}
END_TEST

/* ---- reload ------------------------------------------------------------------ */

static int
run_reload(void *arg)
{
	struct eng_queue_info qi;
	struct proto_err err;
	struct ack k;
	int64_t d[6], x[2];
	int i;

	for (i = 0; i < 6; i++)
		d[i] = SUBMIT(.secs = 0.2);
	x[0] = SUBMIT(.secs = 0.2, .queue = "extra");
	x[1] = SUBMIT(.secs = 0.2, .queue = "extra");
	WAIT_UNTIL(qinfo("default").running == 1 &&
	    qinfo("extra").running == 1);
	ck_assert_int_eq(eng_configure(e, cf2), 0);
	/* More workers: they start now, on the waiting jobs. */
	WAIT_UNTIL(qinfo("default").running == 3);
	qi = qinfo("default");
	ck_assert_int_eq(qi.workers, 3);
	ck_assert_int_eq(qi.capacity, 2);
	ck_assert_uint_eq(qi.queued, 3);
	ck_assert(qi.configured);
	/* Smaller capacity: past it now, so a nowait submit is refused. */
	ck_assert_int_eq(submit(&(struct sub){ .secs = 0, .nowait = true },
	    &k, &err), -EAGAIN);
	ck_assert_int_eq(err.code, PROTO_QUEUE_FULL);
	/* The removed queue takes nothing new but finishes its jobs. */
	refused(&(struct sub){ .secs = 0, .queue = "extra" },
	    PROTO_UNKNOWN_QUEUE, "extra");
	qi = qinfo("extra");
	ck_assert(!qi.configured);
	for (i = 0; i < 6; i++)
		wait_job(d[i]);
	wait_job(x[0]);
	wait_job(x[1]);
	for (i = 0; i < 6; i++)
		expect(d[i], STORE_SUCCEEDED, 1);
	expect(x[0], STORE_SUCCEEDED, 1);
	expect(x[1], STORE_SUCCEEDED, 1);
	ck_assert_int_eq(k.calls, 0);
	eng_shutdown(e, 0);
	return 0;
}

START_TEST(test_reload)
{
	start("[queue.default]\nworkers = 1\ncapacity = 10\n"
	    "[queue.extra]\nworkers = 1\ncapacity = 10\n");
	cf2 = load_conf("[queue.default]\nworkers = 3\ncapacity = 2\n");
	ck_assert_int_eq(tu_run(run_reload, NULL), 0);
}
END_TEST

/* ---- the worker bound -------------------------------------------------------- */

struct watch {
	size_t most;
	bool over;
	bool after_drop;        /* count only once running fell to 1 or less */
};

static int
watch_running(void *arg)
{
	struct watch *w = arg;
	struct eng_queue_info qi;

	while (co_sleep(0.001) == 0) {
		qi = qinfo("default");
		if (w->after_drop && qi.running > 1)
			continue;
		w->after_drop = false;
		if (qi.running > w->most)
			w->most = qi.running;
	}
	return 0;
}

static int
tasks_live(void)
{
	struct co_rt_stats s;

	co_rt_stats(tu_rt, &s);
	return (int)s.tasks_live;
}

#define NPOOL 20

static int
run_pool(void *arg)
{
	struct watch w = { 0 };
	struct co_task *t;
	struct store_job *sj[NPOOL];
	int64_t ids[NPOOL], one;
	int i, j, most = 0, n;
	double t0;

	/* Lazy: no worker before work, one for one job. */
	ck_assert_int_eq(tasks_live(), 1);
	one = SUBMIT(.secs = 0.05);
	WAIT_UNTIL(qinfo("default").running == 1);
	ck_assert_int_eq(tasks_live(), 2);
	wait_job(one);
	ck_assert_int_eq(co_spawn(tu_rt, watch_running, &w, &t), 0);
	t0 = co_now();
	for (i = 0; i < NPOOL; i++)
		ids[i] = SUBMIT(.secs = 0.05);
	for (i = 0; i < NPOOL; i++)
		wait_job(ids[i]);
	/* 20 jobs of 0.05 s on 3 workers: at least 7 rounds. */
	ASSERT_TIME(co_now() - t0, 7 * 0.05 - 0.01, 0.4);
	ck_assert_int_eq(co_reap(t, NULL), 0);
	ck_assert_uint_eq(w.most, 3);
	/* The store agrees: never more than 3 runs overlap. */
	for (i = 0; i < NPOOL; i++)
		sj[i] = get(ids[i]);
	for (i = 0; i < NPOOL; i++) {
		for (n = 0, j = 0; j < NPOOL; j++)
			n += sj[j]->started_at <= sj[i]->started_at &&
			    sj[j]->finished_at > sj[i]->started_at;
		most = n > most ? n : most;
	}
	ck_assert_int_eq(most, 3);
	for (i = 0; i < NPOOL; i++) {
		ck_assert_int_eq(sj[i]->state, STORE_SUCCEEDED);
		store_job_free(sj[i]);
	}
	ck_assert_int_le(tasks_live(), 1 + 3);         /* idle workers */
	eng_shutdown(e, 0);
	ck_assert_int_eq(tasks_live(), 1);              /* they are gone */
	return 0;
}

START_TEST(test_worker_bound)
{
	start("[queue.default]\nworkers = 3\ncapacity = 100\n");
	ck_assert_int_eq(tu_run(run_pool, NULL), 0);
}
END_TEST

/* Sleeping jobs are parked (daemon/park.c): 600 of them run at once, the
 * queue's bound, on far fewer workers (they start in waves of 256, and a
 * worker that parks its job takes the next); a cancel and a timeout reach
 * parked ones; the stop puts them back to queued. */
#define NPARK 600

static int
run_parked(void *arg)
{
	static struct sub x[NPARK];
	int64_t first, gid, tmo;
	struct proto_err err;
	int i;

	for (i = 0; i < NPARK; i++)
		x[i] = (struct sub){ .secs = 30 };
	first = group_ok(x, NPARK, false, &gid);
	tmo = SUBMIT(.secs = 30, .timeout = 0.05);
	WAIT_UNTIL(qinfo("default").running == NPARK + 1);
	ck_assert_int_le(tasks_live(), 1 + 2 * 256);
	wait_job(tmo);
	expect(tmo, STORE_TIMED_OUT, 1);
	ck_assert_int_eq(eng_cancel_job(e, first, NULL, NULL, &err), 0);
	wait_job(first);
	expect(first, STORE_CANCELLED, 1);
	ck_assert_uint_eq(qinfo("default").running, NPARK - 1);
	eng_shutdown(e, 0);
	ck_assert_int_eq(tasks_live(), 1);
	store_flush(st);
	expect(first + 1, STORE_QUEUED, 1);
	expect(first + NPARK - 1, STORE_QUEUED, 1);
	return 0;
}

START_TEST(test_parked_jobs)
{
	start("[queue.default]\nworkers = 1000\ncapacity = 1000\n"
	    "max_attempts = 3\n");
	ck_assert_int_eq(tu_run(run_parked, NULL), 0);
}
END_TEST

/* Fewer workers: busy ones finish their job and leave; from the first
 * round's end on, no more than the new bound run. */
static int
run_reload_fewer(void *arg)
{
	struct watch w = { 0 };
	struct co_task *t;
	int64_t ids[9];
	int i;

	for (i = 0; i < 9; i++)
		ids[i] = SUBMIT(.secs = 0.05);
	WAIT_UNTIL(qinfo("default").running == 3);
	ck_assert_int_eq(eng_configure(e, cf2), 0);
	ck_assert_int_eq(qinfo("default").workers, 1);
	/* Watching from now, counting once the busy three have left (not
	 * from their commits: on a loaded machine the other six had run
	 * before those came, and nothing was seen). */
	w.after_drop = true;
	ck_assert_int_eq(co_spawn(tu_rt, watch_running, &w, &t), 0);
	for (i = 0; i < 9; i++)
		wait_job(ids[i]);
	ck_assert_int_eq(co_reap(t, NULL), 0);
	ck_assert_uint_eq(w.most, 1);
	for (i = 0; i < 9; i++)
		expect(ids[i], STORE_SUCCEEDED, 1);
	eng_shutdown(e, 0);
	return 0;
}

START_TEST(test_reload_fewer_workers)
{
	start("[queue.default]\nworkers = 3\ncapacity = 20\n");
	cf2 = load_conf("[queue.default]\nworkers = 1\ncapacity = 20\n");
	ck_assert_int_eq(tu_run(run_reload_fewer, NULL), 0);
}
END_TEST

/* ---- more cancelling -------------------------------------------------------- */

struct grp {
	struct sub x[4];
	struct ack k;
	int rc;
	bool returned;
};

static int
group_submitter(void *arg)
{
	struct grp *g = arg;
	struct proto_err err;

	g->rc = submit_group(g->x, 4, false, false, &g->k, &err);
	g->returned = true;
	return 0;
}

/* A group bigger than its queue, cancelled while its submitter still
 * waits for room: members running, queued, being put and not yet put
 * all end cancelled, and the submitter gets out. */
static int
run_cancel_entering(void *arg)
{
	static struct grp g;
	struct proto_err err;
	struct co_task *t;
	int64_t *ids = NULL;
	size_t n = 0;
	int i;

	memset(&g, 0, sizeof(g));       /* run twice (test_every_move) */
	for (i = 0; i < 4; i++)
		g.x[i] = (struct sub){ .secs = 5 };
	ck_assert_int_eq(co_spawn(tu_rt, group_submitter, &g, &t), 0);
	WAIT_UNTIL(g.k.calls > 0 && qinfo("default").running == 1 &&
	    qinfo("default").queued == 1);
	ck_assert_int_eq(g.k.status, 0);
	ck_assert(!g.returned);                 /* job 2 waits for room */
	ck_assert_int_eq(eng_cancel_group(e, g.k.a.group, NULL, "enough", &ids,
	    &n, &err), 0);
	ck_assert_uint_eq(n, 4);
	free(ids);
	for (i = 0; i < 4; i++) {
		struct store_job *sj = get(g.k.a.id + i);

		ck_assert_int_eq(sj->state, STORE_CANCELLED);
		ck_assert_str_eq(sj->cancel_reason, "enough");
		ck_assert_int_eq(sj->attempts, i == 0 ? 1 : 0);
		store_job_free(sj);
	}
	ck_assert_int_eq(co_join(t, NULL), 0);
	ck_assert_int_eq(g.rc, 0);
	ck_assert_uint_eq(qinfo("default").queued, 0);
	eng_shutdown(e, 0);
	return 0;
}

START_TEST(test_cancel_group_while_entering)
{
	start("[queue.default]\nworkers = 1\ncapacity = 1\n");
	ck_assert_int_eq(tu_run(run_cancel_entering, NULL), 0);
}
END_TEST

static int
count_rows(void)
{
	struct store_job **rows = NULL;
	size_t n = 0;

	ck_assert_int_eq(store_list(st, NULL, &rows, &n), 0);
	store_jobs_free(rows, n);
	return (int)n;
}

/* A submitter cancelled while it waits for room (its client left)
 * records nothing. */
static int
run_submitter_leaves(void *arg)
{
	static struct blocked b;
	struct eng_counters c;
	struct co_task *t;
	int64_t a;

	a = SUBMIT(.secs = 0.2);
	WAIT_UNTIL(qinfo("default").running == 1);
	(void)SUBMIT(.secs = 0);
	ck_assert_int_eq(co_spawn(tu_rt, blocked_submit, &b, &t), 0);
	ck_assert_int_eq(co_sleep(0.02), 0);
	ck_assert(!b.returned);
	ck_assert_int_eq(co_reap(t, NULL), 0);
	ck_assert(b.returned);
	ck_assert_int_lt(b.rc, 0);
	wait_job(a);
	ck_assert_int_eq(co_sleep(0.02), 0);
	ck_assert_int_eq(b.k.calls, 0);
	ck_assert_int_eq(count_rows(), 2);
	eng_counters(e, &c);
	ck_assert_uint_eq(c.submitted, 2);
	eng_shutdown(e, 0);
	return 0;
}

START_TEST(test_submitter_leaves)
{
	start("[queue.default]\nworkers = 1\ncapacity = 1\n");
	ck_assert_int_eq(tu_run(run_submitter_leaves, NULL), 0);
}
END_TEST

/* A cancel that comes after the job ended but before its end committed
 * reports how it did end. */
static int
run_cancel_too_late(void *arg)
{
	struct proto_err err;
	struct eng_counters c;
	uint64_t ended;
	double deadline;
	int64_t a;
	int rc, late = 0, gone = 0, i;

	for (i = 0; i < 5; i++) {
		eng_counters(e, &c);
		ended = c.ended[STORE_SUCCEEDED];
		a = SUBMIT(.secs = 0.005);
		/* Until its end is decided in memory (counted before it is
		 * written), yielding: a sleep could outlast the commit too.
		 * (Watching `running` missed a job that ran and ended inside
		 * one poll on a loaded machine.) */
		deadline = co_now() + 5 * tu_slow();
		do {
			ck_assert_msg(co_now() < deadline, "job %lld never "
			    "ended", (long long)a);
			ck_assert_int_eq(co_yield(), 0);
			eng_counters(e, &c);
		} while (c.ended[STORE_SUCCEEDED] == ended);
		rc = eng_cancel_job(e, a, NULL, NULL, &err);
		if (rc == -EALREADY) {
			late++;
			ck_assert_int_eq(err.code, PROTO_NOT_CANCELLABLE);
			ck_assert_ptr_nonnull(strstr(err.msg, "succeeded"));
		} else {
			ck_assert_int_eq(rc, -ENOENT);
			gone++;
		}
		expect(a, STORE_SUCCEEDED, 1);
	}
	ck_assert_msg(late > 0, "the end always committed first (%d)", gone);
	eng_shutdown(e, 0);
	return 0;
}

START_TEST(test_cancel_after_end)
{
	start("[queue.default]\nworkers = 1\n");
	ck_assert_int_eq(tu_run(run_cancel_too_late, NULL), 0);
}
END_TEST

/* ---- recovery from what a crash left ---------------------------------------- */

static int nwrites;

static void
wrote(void *arg, int status)
{
	ck_assert_int_eq(status, 0);
	nwrites++;
}

static int64_t
row(const char *queue, const char *kind, const char *args, int max_attempts)
{
	struct store_new_job j = { .queue = queue, .kind = kind,
	    .args = args, .max_attempts = max_attempts };
	int64_t id = 0;

	ck_assert_int_eq(store_insert(st, &j, &id, wrote, NULL), 0);
	return id;
}

static void
started(int64_t id)
{
	ck_assert_int_eq(store_mark_started(st, id, 0, wrote, NULL), 0);
}

static void
failed(int64_t id, const char *error)
{
	struct store_end end = { .state = STORE_FAILED, .error = error };

	ck_assert_int_eq(store_mark_ended(st, id, &end, wrote, NULL), 0);
}

/* What a crashed jobd left: jobs queued, running, ended, in groups. */
static int64_t rq, rr, rlast, rgone, rkind, rg, rgfirst, rh, rhfirst;

static void
crash_rows(void)
{
	struct store_new_job gj[3] = {
		{ .queue = "default", .kind = "sleep",
		    .args = "{\"seconds\":5}", .max_attempts = 1 },
		{ .queue = "default", .kind = "sleep",
		    .args = "{\"seconds\":5}", .max_attempts = 3 },
		{ .queue = "default", .kind = "sleep",
		    .args = "{\"seconds\":5}", .max_attempts = 3 },
	};
	struct store_new_job hj[2] = {
		{ .queue = "default", .kind = "sleep",
		    .args = "{\"seconds\":0}", .max_attempts = 3 },
		{ .queue = "default", .kind = "sleep",
		    .args = "{\"seconds\":0.01}", .max_attempts = 3 },
	};
	int64_t ids[3];

	rq = row("default", "sleep", "{\"seconds\":0.01}", 3);
	rr = row("default", "sleep", "{\"seconds\":0.01}", 3);
	started(rr);                            /* was running: requeued */
	rlast = row("default", "sleep", "{\"seconds\":0.01}", 1);
	started(rlast);                         /* out of attempts: failed */
	rgone = row("gone", "sleep", "{\"seconds\":0}", 3);
	rkind = row("default", "retired", "{}", 3);
	/* fail_fast: member 0 dies with the crash, so 1 and 2 must not run */
	ck_assert_int_eq(store_insert_group(st, STORE_GROUP_FAIL_FAST, gj, 3,
	    &rg, ids, wrote, NULL), 0);
	rgfirst = ids[0];
	started(rgfirst);
	/* all: member 0 had failed, member 1 still runs */
	ck_assert_int_eq(store_insert_group(st, STORE_GROUP_ALL, hj, 2, &rh,
	    ids, wrote, NULL), 0);
	rhfirst = ids[0];
	started(rhfirst);
	failed(rhfirst, "earlier");
	store_flush(st);
	ck_assert_int_eq(nwrites, 12);
}

static void
expect_error(int64_t id, enum store_state state, const char *error,
    const char *reason)
{
	struct store_job *sj = get(id);

	ck_assert_msg(sj->state == state, "job %lld is %s", (long long)id,
	    store_state_name(sj->state));
	if (error != NULL) {
		ck_assert_ptr_nonnull(sj->error);
		ck_assert_str_eq(sj->error, error);
	}
	if (reason != NULL) {
		ck_assert_ptr_nonnull(sj->cancel_reason);
		ck_assert_str_eq(sj->cancel_reason, reason);
	}
	store_job_free(sj);
}

static int
run_recover_rows(void *arg)
{
	char want[256];

	ck_assert_int_eq(eng_recover(e), 0);
	wait_job(rq);
	wait_job(rr);
	ck_assert_int_eq(eng_wait_group(e, rg, 10 * tu_slow()), 0);
	ck_assert_int_eq(eng_wait_group(e, rh, 10 * tu_slow()), 0);
	expect(rq, STORE_SUCCEEDED, 1);
	expect(rr, STORE_SUCCEEDED, 2);
	expect_error(rlast, STORE_FAILED, "interrupted (jobd stopped or "
	    "crashed) after 1 attempt", NULL);
	expect_error(rgone, STORE_FAILED, "queue gone is no longer "
	    "configured", NULL);
	expect_error(rkind, STORE_FAILED, "kind retired is no longer known",
	    NULL);
	expect_error(rgfirst, STORE_FAILED, "interrupted (jobd stopped or "
	    "crashed) after 1 attempt", NULL);
	snprintf(want, sizeof(want), "fail_fast: job %lld of group %lld ended "
	    "failed (interrupted (jobd stopped or crashed) after 1 attempt)",
	    (long long)rgfirst, (long long)rg);
	expect_error(rgfirst + 1, STORE_CANCELLED, NULL, want);
	expect_error(rgfirst + 2, STORE_CANCELLED, NULL, want);
	expect(rgfirst + 1, STORE_CANCELLED, 0);
	expect_error(rhfirst, STORE_FAILED, "earlier", NULL);
	expect(rhfirst + 1, STORE_SUCCEEDED, 1);
	eng_shutdown(e, 0);
	return 0;
}

START_TEST(test_recover_after_crash)
{
	start("[queue.default]\nworkers = 4\n");
	crash_rows();
	restart();
	ck_assert_int_eq(tu_run(run_recover_rows, NULL), 0);
}
END_TEST

/* ---- stops with submitters waiting -------------------------------------------- */

/* A lone submit held by backpressure when jobd stops: the server cancels
 * it (closing its connection) and it records nothing. */
static int
run_stop_blocked_submit(void *arg)
{
	static struct blocked b;
	struct co_task *t;
	int64_t a, q;

	a = SUBMIT(.secs = 5);
	WAIT_UNTIL(qinfo("default").running == 1);
	q = SUBMIT(.secs = 0);
	ck_assert_int_eq(co_spawn(tu_rt, blocked_submit, &b, &t), 0);
	ck_assert_int_eq(co_sleep(0.02), 0);
	eng_shutdown(e, 0);
	ck_assert(!b.returned);
	ck_assert_int_eq(co_reap(t, NULL), 0);
	ck_assert_int_lt(b.rc, 0);
	ck_assert_int_eq(b.k.calls, 0);
	store_flush(st);
	ck_assert_int_eq(count_rows(), 2);
	expect(a, STORE_QUEUED, 1);
	expect(q, STORE_QUEUED, 0);
	return 0;
}

START_TEST(test_stop_with_blocked_submit)
{
	start("[queue.default]\nworkers = 1\ncapacity = 1\n");
	ck_assert_int_eq(tu_run(run_stop_blocked_submit, NULL), 0);
}
END_TEST

static int64_t g_first, g_gid;

/* A group still entering when jobd stops: it is recorded, so its
 * submitter, once cancelled, puts the rest in past capacity; all of it
 * is there at the next start. */
static int
run_stop_entering(void *arg)
{
	static struct grp g;
	struct co_task *t;
	int i;

	for (i = 0; i < 4; i++)
		g.x[i] = (struct sub){ .secs = 0.01 };
	g.x[0].secs = 5;
	ck_assert_int_eq(co_spawn(tu_rt, group_submitter, &g, &t), 0);
	WAIT_UNTIL(g.k.calls > 0 && qinfo("default").running == 1 &&
	    qinfo("default").queued == 1);
	g_first = g.k.a.id;
	g_gid = g.k.a.group;
	eng_shutdown(e, 0);
	ck_assert(!g.returned);
	ck_assert_int_eq(co_reap(t, NULL), 0);
	ck_assert_int_eq(g.rc, 0);
	ck_assert_uint_eq(qinfo("default").queued, 3);
	ck_assert_uint_eq(qinfo("default").running, 0);
	store_flush(st);
	expect(g.k.a.id, STORE_QUEUED, 1);
	for (i = 1; i < 4; i++)
		expect(g.k.a.id + i, STORE_QUEUED, 0);
	return 0;
}

static int
run_rest_of_group(void *arg)
{
	struct proto_err err;
	int64_t *ids = NULL;
	size_t n = 0;
	int i;

	ck_assert_int_eq(eng_recover(e), 0);
	WAIT_UNTIL(qinfo("default").running == 1);      /* member 0, again */
	ck_assert_int_eq(eng_cancel_group(e, g_gid, NULL, "later", &ids, &n,
	    &err), 0);
	free(ids);
	ck_assert_uint_eq(n, 4);
	expect(g_first, STORE_CANCELLED, 2);
	for (i = 1; i < 4; i++)
		expect(g_first + i, STORE_CANCELLED, 0);
	eng_shutdown(e, 0);
	return 0;
}

START_TEST(test_stop_while_group_enters)
{
	start("[queue.default]\nworkers = 1\ncapacity = 1\n");
	ck_assert_int_eq(tu_run(run_stop_entering, NULL), 0);
	restart();
	ck_assert_int_eq(tu_run(run_rest_of_group, NULL), 0);
}
END_TEST

/* ---- a full disk ------------------------------------------------------------- */

#define NFULL 300
#define NGFULL 16

/* Inserts fail once the database reaches its size cap: the submit hears
 * the error from its commit callback, the job never runs and no row is
 * left; the jobs that were recorded run.  Nothing leaks or hangs. */
static int
run_disk_full(void *arg)
{
	static struct ack k[NFULL], gk;
	struct sub gx[NGFULL];
	char pad[1100];
	struct eng_counters c;
	struct store_job *sj;
	struct proto_err err;
	json_t *args;
	int i, ok = 0, full = 0, rc;

	memset(pad, '0', 1000);
	pad[1000] = '\0';
	ck_assert_ptr_nonnull(args = json_pack("{s:i,s:s}", "seconds", 0,
	    "pad", pad));
	/* In small batches: a transaction fails whole, so one of all 300
	 * would simply fail. */
	for (i = 0; i < NFULL; i++) {
		ck_assert_int_eq(submit(&(struct sub){ .args = args }, &k[i],
		    &err), 0);
		if (i % 10 == 9)
			ck_assert_int_eq(eng_settle_all(e), 0);
	}
	json_decref(args);
	ck_assert_int_eq(eng_settle_all(e), 0);
	for (i = 0; i < NFULL; i++) {
		ck_assert_int_eq(k[i].calls, 1);
		if (k[i].status == 0) {
			ok++;
			continue;
		}
		full++;
		ck_assert_int_eq(k[i].status, -ENOSPC);
		ck_assert_int_eq(store_get(st, k[i].a.id, &sj), -ENOENT);
	}
	ck_assert_int_gt(ok, 0);
	ck_assert_int_gt(full, 0);
	/* The recorded ones end (their end may not fit either: -EIO). */
	for (i = 0; i < NFULL; i++)
		if (k[i].status == 0) {
			rc = eng_wait_job(e, k[i].a.id, 10 * tu_slow());
			ck_assert_msg(rc == 0 || rc == -EIO, "wait: %d", rc);
		}
	WAIT_UNTIL((eng_counters(e, &c), c.live == 0));
	/* A job whose insert failed is not held: nothing to wait for or
	 * cancel (a worker may have taken it before the insert failed). */
	for (i = 0; i < NFULL; i++)
		if (k[i].status != 0) {
			ck_assert_int_eq(eng_wait_job(e, k[i].a.id, 0), 0);
			ck_assert_int_eq(eng_cancel_job(e, k[i].a.id, NULL, NULL,
			    &err), -ENOENT);
		}
	ck_assert_uint_eq(c.submitted, (size_t)ok);
	ck_assert_uint_ge(c.store_errors, (size_t)full);
	ck_assert_uint_eq(qinfo("default").queued, 0);
	/* A group that does not fit either: all of it is forgotten.  Larger
	 * than a failed batch of ten inserts (writes go to the writer once a
	 * loop pass, so ten may have failed whole, leaving their room). */
	ck_assert_ptr_nonnull(args = json_pack("{s:i,s:s}", "seconds", 0,
	    "pad", pad));
	for (i = 0; i < NGFULL; i++)
		gx[i] = (struct sub){ .args = args };
	ck_assert_int_eq(submit_group(gx, NGFULL, true, false, &gk, &err), 0);
	json_decref(args);
	ck_assert_int_eq(eng_settle_all(e), 0);
	ck_assert_int_eq(gk.calls, 1);
	ck_assert_int_eq(gk.status, -ENOSPC);
	ck_assert_uint_eq(gk.visible, 0);
	for (i = 0; i < NGFULL; i++)
		ck_assert_int_eq(store_get(st, gk.a.id + i, &sj), -ENOENT);
	/* The workers that had taken members forget them when they run. */
	WAIT_UNTIL((eng_counters(e, &c), c.live == 0));
	ck_assert_int_eq(eng_wait_group(e, gk.a.group, 0), 0);  /* not held */
	eng_shutdown(e, 0);
	return 0;
}

START_TEST(test_disk_full)
{
	struct store_opts o = { .path = dbpath, .sync = STORE_SYNC_NORMAL,
	    .max_bytes = 128 * 1024 };

	cf = load_conf("[queue.default]\nworkers = 2\ncapacity = 1000\n");
	ck_assert_int_eq(store_open(&st, tu_base, &o), 0);
	ck_assert_ptr_nonnull(e = eng_new(tu_rt, st));
	ck_assert_int_eq(eng_configure(e, cf), 0);
	log_set_level(LOG_LVL_ERR);             /* every failed write warns */
	ck_assert_int_eq(tu_run(run_disk_full, NULL), 0);
}
END_TEST

/* Fewer workers while idle ones have just been handed jobs (not yet run
 * to take them): the ones told to leave give their job back, and every
 * job runs, one at a time. */
static int
run_reload_handed(void *arg)
{
	static struct ack k0[4], k[4];
	struct watch w = { 0 };
	struct proto_err err;
	struct co_task *t;
	int i;

	/* Four jobs queued at once, so four workers start (one at a time,
	 * a slow commit could let the first end before the second came). */
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(submit(&(struct sub){ .secs = 0.01 }, &k0[i],
		    &err), 0);
	for (i = 0; i < 4; i++) {
		WAIT_UNTIL(k0[i].calls > 0);
		ck_assert_int_eq(k0[i].status, 0);
		wait_job(k0[i].a.id);
	}
	ck_assert_int_eq(tasks_live(), 1 + 4);          /* four idle workers */
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(submit(&(struct sub){ .secs = 0.02 }, &k[i],
		    &err), 0);
	ck_assert_int_eq(eng_configure(e, cf2), 0);     /* no await before */
	ck_assert_int_eq(co_spawn(tu_rt, watch_running, &w, &t), 0);
	ck_assert_int_eq(eng_settle_all(e), 0);
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(k[i].status, 0);
		wait_job(k[i].a.id);
		expect(k[i].a.id, STORE_SUCCEEDED, 1);
	}
	ck_assert_int_eq(co_reap(t, NULL), 0);
	ck_assert_uint_eq(w.most, 1);
	ck_assert_int_eq(tasks_live(), 1 + 1);
	eng_shutdown(e, 0);
	return 0;
}

START_TEST(test_reload_while_jobs_handed)
{
	start("[queue.default]\nworkers = 4\ncapacity = 20\n");
	cf2 = load_conf("[queue.default]\nworkers = 1\ncapacity = 20\n");
	ck_assert_int_eq(tu_run(run_reload_handed, NULL), 0);
}
END_TEST

/* ---- who may do what -----------------------------------------------------*/

/* alice and bob are plain users; admin_group is "daemon" (gid 1), which
 * ops has as a supplementary group and wheel as its primary one. */
static const gid_t ops_groups[] = { 100, 1 };
static const struct eng_who alice = { .uid = 1001, .gid = 1001, .pid = 11 };
static const struct eng_who bob = { .uid = 1002, .gid = 1002, .pid = 12 };
static const struct eng_who ops = { .uid = 1003, .gid = 1003, .pid = 13,
	.groups = ops_groups, .ngroups = 2 };
static const struct eng_who wheel = { .uid = 1004, .gid = 1, .pid = 14 };
static const struct eng_who root = { .uid = 0, .gid = 0, .pid = 1 };

/* Cancel id as who; a refusal must be forbidden and say msg_part. */
static int
cancel_as(const struct eng_who *who, int64_t id, const char *msg_part)
{
	struct proto_err err;
	int rc = eng_cancel_job(e, id, who, "test", &err);

	if (rc == -EPERM) {
		ck_assert_int_eq(err.code, PROTO_FORBIDDEN);
		ck_assert_msg(msg_part != NULL && strstr(err.msg, msg_part) !=
		    NULL, "message \"%s\"", err.msg);
	}
	return rc;
}

static enum store_state
state_of(int64_t id)
{
	struct store_job *sj = get(id);
	enum store_state state = sj->state;

	store_job_free(sj);
	return state;
}

/* A cancel of another user's job is refused and changes nothing; its
 * submitter, root and admin_group (primary or supplementary) may. */
static int
run_cancel_rights(void *arg)
{
	struct sub two[2] = { { .secs = 5, .who = &bob },
	    { .secs = 5, .who = &bob } };
	int64_t a[5], b, n, gid, *ids = NULL;
	struct proto_err err;
	struct store_job *sj;
	size_t cnt = 0;
	int i;

	for (i = 0; i < 5; i++)
		a[i] = SUBMIT(.secs = 5, .who = &alice);
	b = SUBMIT(.secs = 5, .who = &bob);
	n = SUBMIT(.secs = 5);          /* jobd's own: nobody's */
	sj = get(a[0]);
	ck_assert(sj->submitter.known && sj->submitter.uid == 1001 &&
	    sj->submitter.gid == 1001 && sj->submitter.pid == 11);
	store_job_free(sj);
	sj = get(n);
	ck_assert(!sj->submitter.known);
	store_job_free(sj);
	ck_assert_int_eq(cancel_as(&bob, a[0], "belongs to user 1001"), -EPERM);
	ck_assert_int_eq(cancel_as(&alice, b, "belongs to user 1002"), -EPERM);
	ck_assert_int_eq(cancel_as(&alice, n, "no recorded submitter"),
	    -EPERM);
	ck_assert_int_eq(eng_wait_job(e, a[0], 0), -ETIMEDOUT);  /* alive */
	ck_assert_int_eq(cancel_as(&alice, a[0], NULL), 0);
	ck_assert_int_eq(cancel_as(&root, a[1], NULL), 0);
	ck_assert_int_eq(cancel_as(&ops, a[2], NULL), 0);
	ck_assert_int_eq(cancel_as(&wheel, a[3], NULL), 0);
	ck_assert_int_eq(cancel_as(&root, n, NULL), 0);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(state_of(a[i]), STORE_CANCELLED);
	/* A group: all of it or nothing. */
	group_ok(two, 2, false, &gid);
	ck_assert_int_eq(eng_cancel_group(e, gid, &alice, NULL, &ids, &cnt,
	    &err), -EPERM);
	ck_assert_int_eq(err.code, PROTO_FORBIDDEN);
	ck_assert_ptr_nonnull(strstr(err.msg, "group "));
	ck_assert_ptr_null(ids);
	ck_assert_int_eq(eng_wait_group(e, gid, 0), -ETIMEDOUT);
	ck_assert_int_eq(eng_cancel_group(e, gid, &bob, NULL, &ids, &cnt,
	    &err), 0);
	ck_assert_uint_eq(cnt, 2);
	free(ids);
	/* Reloaded without admin_group: only root is left. */
	ck_assert_int_eq(eng_configure(e, cf2), 0);
	ck_assert_int_eq(cancel_as(&ops, a[4], "only that user"), -EPERM);
	ck_assert_int_eq(cancel_as(&wheel, a[4], "only that user"), -EPERM);
	ck_assert_int_eq(cancel_as(&root, a[4], NULL), 0);
	ck_assert_int_eq(cancel_as(&bob, b, NULL), 0);
	eng_shutdown(e, 0);
	return 0;
}

/* visibility = all: every job is seen, so the refusal says why. */
START_TEST(test_cancel_rights)
{
	start("admin_group = daemon\nvisibility = all\n"
	    "[queue.default]\nworkers = 2\n");
	cf2 = load_conf("visibility = all\n[queue.default]\nworkers = 2\n");
	ck_assert_int_eq(tu_run(run_cancel_rights, NULL), 0);
}
END_TEST

/* visibility = own (the default): another user's job, or a group, is one
 * that does not exist (-ENOENT, nothing changes, err untouched); who may
 * see whose jobs follows root, admin_group and the submitter; a reload to
 * all lets the refusal say why again. */
static int
run_cancel_unseen(void *arg)
{
	struct sub two[2] = { { .secs = 5, .who = &bob },
	    { .secs = 5, .who = &bob } };
	struct store_submitter by_alice = { .known = true, .uid = 1001 },
	    nobody = { .known = false };
	int64_t a, n, gid, *ids = NULL;
	struct proto_err err = { .code = PROTO_NOT_FOUND };
	size_t cnt = 0;
	uid_t uid = 0;

	(void)arg;
	a = SUBMIT(.secs = 5, .who = &alice);
	n = SUBMIT(.secs = 5);          /* jobd's own: nobody's */
	ck_assert(eng_may_see(e, &alice, &by_alice));
	ck_assert(!eng_may_see(e, &bob, &by_alice));
	ck_assert(!eng_may_see(e, &bob, &nobody));
	ck_assert(eng_may_see(e, &root, &nobody));
	ck_assert(eng_may_see(e, &ops, &by_alice));     /* admin_group */
	ck_assert(eng_may_see(e, &wheel, &by_alice));
	ck_assert(eng_may_see(e, NULL, &nobody));       /* jobd itself */
	ck_assert(eng_sees_only(e, &bob, &uid) && uid == 1002);
	ck_assert(!eng_sees_only(e, &root, &uid));
	ck_assert(!eng_sees_only(e, &ops, &uid));
	ck_assert_int_eq(eng_cancel_job(e, a, &bob, "test", &err), -ENOENT);
	ck_assert_int_eq(eng_cancel_job(e, n, &bob, "test", &err), -ENOENT);
	ck_assert_int_eq(err.code, PROTO_NOT_FOUND);    /* not written */
	group_ok(two, 2, false, &gid);
	ck_assert_int_eq(eng_cancel_group(e, gid, &alice, NULL, &ids, &cnt,
	    &err), -ENOENT);
	ck_assert_ptr_null(ids);
	ck_assert_int_eq(eng_wait_job(e, a, 0), -ETIMEDOUT);   /* alive */
	ck_assert_int_eq(eng_wait_group(e, gid, 0), -ETIMEDOUT);
	ck_assert_int_eq(eng_configure(e, cf2), 0);     /* visibility = all */
	ck_assert(eng_may_see(e, &bob, &by_alice));
	ck_assert(!eng_sees_only(e, &bob, &uid));
	ck_assert_int_eq(cancel_as(&bob, a, "belongs to user 1001"), -EPERM);
	ck_assert_int_eq(cancel_as(&alice, a, NULL), 0);
	ck_assert_int_eq(cancel_as(&root, n, NULL), 0);
	ck_assert_int_eq(eng_cancel_group(e, gid, &bob, NULL, &ids, &cnt,
	    &err), 0);
	free(ids);
	eng_shutdown(e, 0);
	return 0;
}

START_TEST(test_cancel_unseen)
{
	if (geteuid() == 1001 || geteuid() == 1002) {
		/* jobd's own uid sees every job: the users would not differ. */
		fprintf(stderr, "test_cancel_unseen: not run as uid %u\n",
		    (unsigned)geteuid());
		return;
	}
	start("admin_group = daemon\n[queue.default]\nworkers = 2\n");
	cf2 = load_conf("admin_group = daemon\nvisibility = all\n"
	    "[queue.default]\nworkers = 2\n");
	ck_assert_int_eq(tu_run(run_cancel_unseen, NULL), 0);
}
END_TEST

#define LIMIT_MSG(uid, n) \
	"user " #uid " has " #n " jobs queued (max_queued_per_user = 2)"

/* max_queued_per_user = 2 counts each user's queued jobs: running ones
 * do not count, root and admin_group are exempt, a group must fit whole,
 * an end makes room, and a reload changes the limit. */
static int
run_user_limit(void *arg)
{
	struct sub two[2] = { { .secs = 5, .who = &bob },
	    { .secs = 5, .who = &bob } };
	struct proto_err err;
	struct ack k;
	int64_t q;
	int i;

	SUBMIT(.secs = 5, .who = &alice);
	WAIT_UNTIL(qinfo("default").running == 1);
	q = SUBMIT(.secs = 5, .who = &alice);
	SUBMIT(.secs = 5, .who = &alice);
	refused(&(struct sub){ .secs = 5, .who = &alice }, PROTO_QUEUE_FULL,
	    LIMIT_MSG(1001, 2));
	SUBMIT(.secs = 5, .who = &bob);
	for (i = 0; i < 3; i++) {
		SUBMIT(.secs = 5, .who = &ops);
		SUBMIT(.secs = 5, .who = &root);
	}
	ck_assert_int_eq(submit_group(two, 2, false, false, &k, &err),
	    -EAGAIN);
	ck_assert_int_eq(err.code, PROTO_QUEUE_FULL);
	ck_assert_str_eq(err.msg, "user 1002 has 1 jobs queued; 2 more would "
	    "pass max_queued_per_user = 2");
	ck_assert_int_eq(k.calls, 0);
	ck_assert_int_eq(cancel_as(&alice, q, NULL), 0);
	SUBMIT(.secs = 5, .who = &alice);
	refused(&(struct sub){ .secs = 5, .who = &alice }, PROTO_QUEUE_FULL,
	    LIMIT_MSG(1001, 2));
	ck_assert_int_eq(eng_configure(e, cf2), 0);     /* no limit */
	SUBMIT(.secs = 5, .who = &alice);
	group_ok(two, 2, false, &q);
	eng_shutdown(e, 0);             /* the running one: queued again */
	return 0;
}

/* After a restart the recovered jobs count: alice has 4 queued (one of
 * them may have started by now), bob 3. */
static int
run_user_limit_recovered(void *arg)
{
	ck_assert_int_eq(eng_recover(e), 0);
	refused(&(struct sub){ .secs = 5, .who = &alice }, PROTO_QUEUE_FULL,
	    "user 1001 has ");
	refused(&(struct sub){ .secs = 5, .who = &bob }, PROTO_QUEUE_FULL,
	    LIMIT_MSG(1002, 3));
	SUBMIT(.secs = 5, .who = &root);
	eng_shutdown(e, 0);
	return 0;
}

START_TEST(test_user_limit)
{
	start("max_queued_per_user = 2\nadmin_group = daemon\n"
	    "[queue.default]\nworkers = 1\ncapacity = 100\n");
	cf2 = load_conf("[queue.default]\nworkers = 1\ncapacity = 100\n");
	ck_assert_int_eq(tu_run(run_user_limit, NULL), 0);
	restart();
	ck_assert_int_eq(tu_run(run_user_limit_recovered, NULL), 0);
}
END_TEST

/* ---- every move of the state table ------------------------------------------ */

/* A job an idle worker took before its insert committed is cancelled
 * (it ends from J_TAKEN: the yield lets the woken worker take it), and
 * another is caught by the stop there (it goes back to J_INQ, still
 * queued in the database). */
/* A job cancelled, then one stopped, while its worker has taken it and
 * waits for its insert.  The writer is a thread: a commit that is fast
 * enough lets the worker start the job first, so the cancel is tried
 * until it lands on a taken job, and the stop's outcome is checked only
 * when it found one (test_every_move runs this until it has). */
static int
run_handed(void *arg)
{
	static struct ack k;
	struct proto_err err;
	int64_t a, id;

	a = SUBMIT(.secs = 0);
	wait_job(a);                    /* its worker now waits for more */
	for (id = a + 1; e->moves[J_TAKEN][J_ENDING] == 0; id++) {
		ck_assert_msg(id - a <= 50, "no cancel found a job taken");
		ck_assert_int_eq(submit(&(struct sub){ .secs = 0 }, &k, &err),
		    0);
		(void)co_yield();
		ck_assert_int_eq(eng_cancel_job(e, id, NULL, "now", &err) < 0 &&
		    err.code != PROTO_NOT_CANCELLABLE, 0);
		wait_job(id);
	}
	expect(id - 1, STORE_CANCELLED, 0);
	ck_assert_uint_eq(e->moves[J_TAKEN][J_ENDING], 1);
	ck_assert_int_eq(submit(&(struct sub){ .secs = 0 }, &k, &err), 0);
	(void)co_yield();
	eng_shutdown(e, 0);
	ck_assert_int_eq(eng_settle_all(e), 0);
	ck_assert_int_eq(k.status, 0);
	if (e->moves[J_TAKEN][J_INQ] == 1)
		expect(id, STORE_QUEUED, 0);
	return 0;
}

/* A fresh engine and database on queues, the last one's moves tallied. */
static void
fresh(const char *queues)
{
	store_close(st);
	tally();
	eng_free(e);
	conf_free(cf);
	rm("jobs.db");
	rm("jobs.db-wal");
	rm("jobs.db-shm");
	start(queues);
}

/* Every legal move of job.c's table that the engine makes today is made
 * by these runs (the real engine, not a job built by hand).  PUTTING ->
 * NEW needs a failed allocation and the stage-two states nothing enters
 * yet: test_job.c makes those moves on a bare job. */
START_TEST(test_every_move)
{
	start("[queue.default]\nworkers = 1\ncapacity = 10\n");
	ck_assert_int_eq(tu_run(run_handed, NULL), 0);
	for (int i = 0; e->moves[J_TAKEN][J_INQ] == 0; i++) {
		ck_assert_msg(i < 50, "no stop found a job taken");
		fresh("[queue.default]\nworkers = 1\ncapacity = 10\n");
		ck_assert_int_eq(tu_run(run_handed, NULL), 0);
	}
	fresh("[queue.default]\nworkers = 1\ncapacity = 1\n");
	ck_assert_int_eq(tu_run(run_cancel_entering, NULL), 0);
	fresh("[queue.default]\nworkers = 2\ncapacity = 10\n");
	ck_assert_int_eq(tu_run(run_stop, NULL), 0);
	restart();
	ck_assert_int_eq(tu_run(run_recovered, NULL), 0);
	tally();
	for (int f = 0; f < J_NWHERE; f++)
		for (int t = 0; t < J_NWHERE; t++) {
			bool today = f < J_SCHEDULED && t < J_SCHEDULED &&
			    !(f == J_PUTTING && t == J_NEW);

			if (!job_move_legal(f, t))
				ck_assert_uint_eq(moves[f][t], 0);
			else if (today)
				ck_assert_msg(moves[f][t] > 0, "no move from %s "
				    "to %s", job_where_name(f),
				    job_where_name(t));
		}
}
END_TEST

static Suite *
engine_suite(void)
{
	Suite *s = suite_create("engine");
	TCase *tc = tcase_create("engine");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_submit_runs_after_commit);
	tcase_add_test(tc, test_backpressure);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_group_fail_fast);
	tcase_add_test(tc, test_group_all);
	tcase_add_test(tc, test_group_bigger_than_capacity);
	tcase_add_test(tc, test_wait);
	tcase_add_test(tc, test_shutdown_then_recover);
	tcase_add_test(tc, test_max_attempts_exhausted);
	tcase_add_test(tc, test_reload);
	tcase_add_test(tc, test_worker_bound);
	tcase_add_test(tc, test_reload_fewer_workers);
	tcase_add_test(tc, test_cancel_group_while_entering);
	tcase_add_test(tc, test_submitter_leaves);
	tcase_add_test(tc, test_cancel_after_end);
	tcase_add_test(tc, test_recover_after_crash);
	tcase_add_test(tc, test_stop_with_blocked_submit);
	tcase_add_test(tc, test_stop_while_group_enters);
	tcase_add_test(tc, test_disk_full);
	tcase_add_test(tc, test_reload_while_jobs_handed);
	tcase_add_test(tc, test_parked_jobs);
	tcase_add_test(tc, test_cancel_rights);
	tcase_add_test(tc, test_cancel_unseen);
	tcase_add_test(tc, test_user_limit);
	tcase_add_test(tc, test_every_move);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	log_init("test_engine", LOG_LVL_WARNING);
	return tu_main(engine_suite());
}
