/*
 * test_client_co.c — the client library on the coroutine runtime
 * (jc_co.h) against the real jobd: a task's call parks the task, not the
 * loop (another task on the same loop gets to cancel the job the first
 * one is waiting for); a cancelled task's call and a deadline scope's end
 * the call with -ECANCELED and -ETIMEDOUT; jc_co_open's errors; and an
 * attached connection used outside any task still works (poll).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "co.h"
#include "jc_co.h"
#include "testutil.h"
#include "tu_jobd.h"

#define CO_QUEUES "[queue.default]\nworkers = 4\ncapacity = 100\ntimeout = 0\n"

/* Submit a sleep job on c: its id. */
static int64_t
co_job(struct jc_conn *c, double seconds)
{
	json_t *args = json_pack("{s:f}", "seconds", seconds);
	int64_t id = 0;

	ck_assert_int_eq(jc_submit(c, "sleep", args, NULL, &id, NULL), 0);
	json_decref(args);
	return id;
}

/* What the two tasks of test_wait_parks share. */
struct pair {
	int64_t id;        /* the job the waiter waits for */
	int waiting;       /* the waiter has sent its wait */
	int cancel_rc;     /* the canceller's jc_cancel */
	int wait_rc;       /* the waiter's jc_wait */
	char state[32];    /* the state the wait answered */
	char order[8];     /* "c" when the cancel answers, "w" the wait */
};

static void
order_add(struct pair *p, char ch)
{
	size_t n = strlen(p->order);

	if (n + 1 < sizeof(p->order))
		p->order[n] = ch;
}

/* Submit a 30 s job and wait for it: only another task can end it. */
static int
waiter(void *arg)
{
	struct pair *p = arg;
	struct jc_conn *c;
	json_t *job;
	int rc;

	if ((rc = jc_co_open(tj_path("jobd.sock"), TJ_TIMEOUT, &c)) < 0)
		return rc;
	p->id = co_job(c, 30);
	p->waiting = 1;
	/* The timeout only keeps a broken test from hanging. */
	p->wait_rc = jc_wait(c, p->id, TJ_TIMEOUT, &job);
	order_add(p, 'w');
	if (p->wait_rc == 0) {
		snprintf(p->state, sizeof(p->state), "%s",
		    json_string_value(json_object_get(job, "state")));
		json_decref(job);
	}
	jc_close(c);
	return 0;
}

/* Once the waiter waits, cancel its job on a connection of our own. */
static int
canceller(void *arg)
{
	struct pair *p = arg;
	struct jc_conn *c;
	int rc;

	while (!p->waiting)
		if ((rc = co_sleep(0.001)) < 0)
			return rc;
	if ((rc = jc_co_open(NULL, TJ_TIMEOUT, &c)) < 0)
		return rc;
	p->cancel_rc = jc_cancel(c, p->id, "from the other task");
	order_add(p, 'c');
	jc_close(c);
	return 0;
}

static int
pair_main(void *arg)
{
	struct co_task *w, *k;
	int rw = -1, rk = -1;

	ck_assert_int_eq(co_spawn(tu_rt, waiter, arg, &w), 0);
	ck_assert_int_eq(co_spawn(tu_rt, canceller, arg, &k), 0);
	ck_assert_int_eq(co_join(w, &rw), 0);
	ck_assert_int_eq(co_join(k, &rk), 0);
	ck_assert_int_eq(rw, 0);
	ck_assert_int_eq(rk, 0);
	return 0;
}

/* With a blocking wait the canceller would never run until the wait's
 * timeout: the wait would answer timeout first. */
START_TEST(test_wait_parks)
{
	struct pair p = { 0 };

	tj_start(TJ_DAEMON CO_QUEUES);
	setenv("JOBD_SOCKET", tj_path("jobd.sock"), 1);
	ck_assert_int_eq(tu_run(pair_main, &p), 0);
	ck_assert_int_eq(p.cancel_rc, 0);
	ck_assert_msg(p.wait_rc == 0, "wait: %d", p.wait_rc);
	ck_assert_str_eq(p.state, "cancelled");
	/* The cancel answers once the job has stopped, and the wait too:
	 * both ends reached, in either order. */
	ck_assert_uint_eq(strlen(p.order), 2);
}
END_TEST

struct waitone {
	struct jc_conn *c;
	int64_t id;
	double scope;      /* > 0: wait inside a deadline scope this long */
	int rc;
	char msg[JC_MSG_MAX];
};

static int
wait_one(void *arg)
{
	struct waitone *w = arg;
	struct co_scope s;
	json_t *job = NULL;

	if (w->scope > 0)
		co_scope_enter(&s, w->scope);
	w->rc = jc_wait(w->c, w->id, JC_FOREVER, &job);
	if (w->scope > 0)
		(void)co_scope_exit(&s);
	snprintf(w->msg, sizeof(w->msg), "%s", jc_last_error(w->c)->message);
	json_decref(job);
	return w->rc;
}

/* Spawn wait_one; cancel it once it is parked (unless it has a scope). */
static int
one_main(void *arg)
{
	struct waitone *w = arg;
	struct co_task *t;
	int r = 0;

	ck_assert_int_eq(co_spawn(tu_rt, wait_one, w, &t), 0);
	if (w->scope <= 0) {
		ck_assert_int_eq(co_sleep(0.05), 0);
		ck_assert(!co_done(t));
		co_cancel(t);
	}
	ck_assert_int_eq(co_join(t, &r), 0);
	return r;
}

/* A task cancelled in a call: -ECANCELED; one whose deadline passes:
 * -ETIMEDOUT.  The job runs on (the connection is best closed). */
START_TEST(test_cancel_and_deadline)
{
	struct waitone w = { 0 };
	struct jc_conn *c;
	json_t *job;

	tj_start(TJ_DAEMON CO_QUEUES);
	ck_assert_int_eq(jc_open(tj_path("jobd.sock"), &w.c), 0);
	jc_co_attach(w.c);
	/* Outside a task an attached connection still waits (poll). */
	w.id = co_job(w.c, 30);
	ck_assert_int_eq(tu_run(one_main, &w), -ECANCELED);
	ck_assert_int_eq(w.rc, -ECANCELED);
	ck_assert_msg(w.msg[0] != '\0', "no message");
	jc_close(w.c);

	ck_assert_int_eq(jc_open(tj_path("jobd.sock"), &w.c), 0);
	jc_co_attach(w.c);
	w.scope = 0.05;
	ck_assert_int_eq(tu_run(one_main, &w), -ETIMEDOUT);
	ck_assert_int_eq(w.rc, -ETIMEDOUT);
	jc_close(w.c);

	ck_assert_int_eq(jc_open(tj_path("jobd.sock"), &c), 0);
	ck_assert_int_eq(jc_get(c, w.id, false, &job), 0);
	ck_assert_str_eq(json_string_value(json_object_get(job, "state")),
	    "running");
	json_decref(job);
	jc_close(c);
}
END_TEST

static int
open_errors(void *arg)
{
	struct jc_conn *c = (struct jc_conn *)1;

	ck_assert_int_eq(jc_co_open(tj_path("none.sock"), TJ_TIMEOUT, &c),
	    -ENOENT);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(jc_co_open("", TJ_TIMEOUT, &c), -ENAMETOOLONG);
	ck_assert_int_eq(jc_co_open(tj_path("jobd.sock"), TJ_TIMEOUT, &c),
	    -ECONNREFUSED);
	return 0;
}

/* jc_co_open: no socket, an empty path, a socket nobody listens on. */
START_TEST(test_open_errors)
{
	struct jc_conn *c;

	tj_start(TJ_DAEMON CO_QUEUES);
	tj_kill();
	ck_assert_int_eq(tu_run(open_errors, NULL), 0);
	tj_restart();
	ck_assert_int_eq(jc_open(tj_path("jobd.sock"), &c), 0);
	ck_assert_int_eq(jc_ping(c, NULL), 0);
	jc_close(c);
}
END_TEST

static Suite *
client_co_suite(void)
{
	Suite *s = suite_create("client_co");
	TCase *tc = tj_tcase("co", 60);

	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_add_test(tc, test_wait_parks);
	tcase_add_test(tc, test_cancel_and_deadline);
	tcase_add_test(tc, test_open_errors);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(client_co_suite());
}
