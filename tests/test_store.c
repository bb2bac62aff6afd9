/*
 * test_store.c — the job store through store.h only, run against one
 * backend (argv[1]: sqlite, or postgresql on a throwaway cluster):
 * round trips, lists, groups, group commit, callbacks, recovery (also
 * after a real SIGKILL), close, reads from other threads, and the backend
 * table itself.  What only SQLite has (the file, WAL, migrations, pragmas,
 * its failures) is in test_store_sqlite.c.
 *
 * Each test gets a fresh database (tu_store.c).  Callbacks are recorded in
 * order with the thread they ran on; ts_pump() runs the event loop until
 * enough have come back.  Every check reads back through the store.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "store.h"
#include "testutil.h"
#include "tu_pg.h"
#include "tu_store.h"

/* ---- the backend table -------------------------------------------------- */

/* The table names every backend once; one named but not built, and a name
 * not in it, are refused at open with a message, and nothing is created. */
START_TEST(test_backends)
{
	struct store_opts o = ts_opts();
	bool built, found = false;
	const char *name;

	for (size_t i = 0; (name = store_backend_name(i, &built)) != NULL;
	    i++) {
		for (size_t k = 0; k < i; k++)
			ck_assert_str_ne(store_backend_name(k, NULL), name);
		if (strcmp(name, ts_backend) == 0)
			found = built;
		if (built)
			continue;
		o.backend = name;
		ck_assert_int_eq(store_open(&ts_st, tu_base, &o), -ENOTSUP);
		ck_assert_ptr_null(ts_st);
		ts_assert_msg_has(name);
		ts_assert_msg_has("not built");
	}
	ck_assert_msg(found, "%s is not a built backend", ts_backend);
	o.backend = "nosuch";
	ck_assert_int_eq(store_open(&ts_st, tu_base, &o), -EINVAL);
	ck_assert_ptr_null(ts_st);
	ts_assert_msg_has("\"nosuch\"");
	ck_assert_int_eq(access(ts_path, F_OK), -1);
}
END_TEST

/* ---- writes and reads --------------------------------------------------- */

START_TEST(test_roundtrip_every_field)
{
	struct store_new_job n = ts_job_full();
	struct store_new_job bare = ts_job("default", "{}");
	struct store_job *j;
	int64_t a, b;

	ts_rec_reset();
	ts_open_default();
	a = ts_insert(&n, 1);
	b = ts_insert(&bare, 2);
	store_flush(ts_st);
	ts_all_ok(0, 2);
	j = ts_get(a);
	ck_assert_int_eq(j->id, a);
	ck_assert_str_eq(j->queue, "q1");
	ck_assert_str_eq(j->kind, "exec");
	ck_assert_str_eq(j->args, n.args);
	ck_assert_str_eq(j->name, "label");
	ck_assert_int_eq(j->state, STORE_QUEUED);
	ck_assert_int_eq(j->attempts, 0);
	ck_assert_int_eq(j->max_attempts, 5);
	ck_assert_double_eq(j->timeout, 2.5);
	ck_assert_double_eq(j->created_at, 1700000000.25);
	ck_assert(j->started_at == 0 && j->finished_at == 0);
	ck_assert(j->result == NULL && j->error == NULL);
	ck_assert(j->cancel_reason == NULL && j->group_id == 0);
	ck_assert(j->submitter.known && j->submitter.uid == 0 &&
	    j->submitter.gid == 0 && j->submitter.pid == 1);   /* root */
	store_job_free(j);

	j = ts_get(b);                     /* created_at 0: filled with now */
	ck_assert_ptr_null(j->name);
	ck_assert(!j->submitter.known);
	ck_assert(fabs(j->created_at - store_now()) < 5);
	store_job_free(j);

	ck_assert_int_eq(store_mark_started(ts_st, a, 1700000001.5, ts_rec, NULL), 0);
	ts_end(a, STORE_FAILED, "{\"exit_code\":1,\"stdout\":\"hi\\n\"}",
	    "exit code 1", "because");
	store_flush(ts_st);
	ts_all_ok(0, 4);
	j = ts_get(a);
	ck_assert_int_eq(j->state, STORE_FAILED);
	ck_assert_int_eq(j->attempts, 1);
	ck_assert_double_eq(j->started_at, 1700000001.5);
	ck_assert(j->finished_at > 0);
	ck_assert_str_eq(j->result, "{\"exit_code\":1,\"stdout\":\"hi\\n\"}");
	ck_assert_str_eq(j->error, "exit code 1");
	ck_assert_str_eq(j->cancel_reason, "because");
	store_job_free(j);
}
END_TEST

START_TEST(test_transitions_checked)
{
	struct store_job *j;
	int64_t id;

	ts_rec_reset();
	ts_open_default();
	id = ts_insert_q("default");
	ts_end(id, STORE_CANCELLED, NULL, NULL, "user");   /* queued -> ended */
	ts_start(id);                                      /* not queued */
	ts_end(id, STORE_SUCCEEDED, NULL, NULL, NULL);     /* already ended */
	ck_assert_int_eq(store_requeue(ts_st, id, ts_rec, NULL), 0);
	ck_assert_int_eq(store_mark_started(ts_st, 999, 0, ts_rec, NULL), 0);
	store_flush(ts_st);
	ck_assert_int_eq(ts_ncb, 6);
	ts_all_ok(0, 2);
	for (int i = 2; i < 6; i++)
		ck_assert_int_eq(ts_cb_status[i], -ENOENT);
	j = ts_get(id);
	ck_assert_int_eq(j->state, STORE_CANCELLED);
	ck_assert_str_eq(j->cancel_reason, "user");
	ck_assert_int_eq(j->attempts, 0);
	store_job_free(j);
}
END_TEST

/* A start and its job's end that reach the writer together are one row
 * write where the backend can (stats.merged), with the outcome of two:
 * each callback in order, the row as after both.  Where the merged write
 * fails (the job is not queued) each is applied on its own and fails or
 * not as it would alone. */
START_TEST(test_start_end_merged)
{
	const struct { int n; } probe = { 100 };
	struct store_stats s;
	struct store_job *j;
	int64_t ids[100], ended, running;

	ts_rec_reset();
	ts_open_default();
	for (int i = 0; i < probe.n; i++)
		ids[i] = ts_insert_q("default");
	ended = ts_insert_q("default");
	running = ts_insert_q("default");
	store_flush(ts_st);
	ts_end(ended, STORE_CANCELLED, NULL, NULL, "user");
	ts_start(running);
	store_flush(ts_st);
	ts_rec_reset();
	for (int i = 0; i < probe.n; i++) {
		ts_start(ids[i]);
		ts_end(ids[i], STORE_SUCCEEDED, "{}", NULL, NULL);
	}
	ts_start(ended);                /* not queued: both fail */
	ts_end(ended, STORE_SUCCEEDED, NULL, NULL, NULL);
	ts_start(running);              /* the start fails, the end not */
	ts_end(running, STORE_FAILED, NULL, "x", NULL);
	store_flush(ts_st);
	ck_assert_int_eq(ts_ncb, 2 * probe.n + 4);
	ts_all_ok(0, 2 * probe.n);
	ck_assert_int_eq(ts_cb_status[2 * probe.n], -ENOENT);
	ck_assert_int_eq(ts_cb_status[2 * probe.n + 1], -ENOENT);
	ck_assert_int_eq(ts_cb_status[2 * probe.n + 2], -ENOENT);
	ck_assert_int_eq(ts_cb_status[2 * probe.n + 3], 0);
	for (int i = 0; i < probe.n; i++) {
		j = ts_get(ids[i]);
		ck_assert_int_eq(j->state, STORE_SUCCEEDED);
		ck_assert_int_eq(j->attempts, 1);
		ck_assert(j->started_at > 0 && j->finished_at > 0);
		store_job_free(j);
	}
	j = ts_get(ended);
	ck_assert_int_eq(j->state, STORE_CANCELLED);
	ck_assert_int_eq(j->attempts, 0);
	store_job_free(j);
	j = ts_get(running);
	ck_assert_int_eq(j->state, STORE_FAILED);
	ck_assert_int_eq(j->attempts, 1);
	store_job_free(j);
	store_stats(ts_st, &s);
	if (strcmp(ts_backend, "sqlite") == 0)  /* it merges */
		ck_assert_uint_eq(s.merged, (uint64_t)probe.n);
}
END_TEST

START_TEST(test_bad_arguments_never_call_back)
{
	struct store_new_job j = ts_job(NULL, "{}");
	struct store_end e = { .state = STORE_RUNNING };
	struct store_filter f = { .state = STORE_ANY_STATE,
		.limit = STORE_LIST_MAX + 1 };
	struct store_job **jobs, *got;
	int64_t id = 0, ids[1];
	size_t n;

	ts_rec_reset();
	ts_open_default();
	ck_assert_int_eq(store_insert(ts_st, &j, &id, ts_rec, NULL), -EINVAL);
	j = ts_job("default", "{}");
	j.max_attempts = 0;
	ck_assert_int_eq(store_insert(ts_st, &j, &id, ts_rec, NULL), -EINVAL);
	j.max_attempts = 1;
	j.timeout = -1;
	ck_assert_int_eq(store_insert_group(ts_st, STORE_GROUP_ALL, &j, 1, &id,
	    ids, ts_rec, NULL), -EINVAL);
	ck_assert_int_eq(store_insert_group(ts_st, STORE_GROUP_ALL, &j, 0, &id,
	    ids, ts_rec, NULL), -EINVAL);
	ck_assert_int_eq(store_mark_ended(ts_st, 1, &e, ts_rec, NULL), -EINVAL);
	ck_assert_int_eq(store_list(ts_st, &f, &jobs, &n), -EINVAL);
	f.limit = 1;
	f.state = 17;
	ck_assert_int_eq(store_list(ts_st, &f, &jobs, &n), -EINVAL);
	ck_assert_int_eq(store_get(ts_st, 1, &got), -ENOENT);
	store_flush(ts_st);
	ck_assert_int_eq(ts_ncb, 0);
	ck_assert_int_eq(ts_insert_q("default"), 1);       /* no id was used */
	store_flush(ts_st);
}
END_TEST

/* Ids listed by a filter, newest first. */
static void
assert_list(const struct store_filter *f, const int64_t *want, size_t nwant)
{
	struct store_job **jobs;
	size_t n;
	int rc = store_list(ts_st, f, &jobs, &n);

	ck_assert_msg(rc == 0, "store_list: %d %s", rc, store_errmsg());
	ck_assert_uint_eq(n, nwant);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(jobs[i]->id, want[i]);
	store_jobs_free(jobs, n);
}

START_TEST(test_list_filters_order_limit)
{
	struct store_filter f = { .state = STORE_ANY_STATE };
	int64_t id[8];

	ts_rec_reset();
	ts_open_default();
	/* ids 1..8: queues a,b,a,b,c,a,b,a; 2,3 running; 4 succeeded;
	 * 5 failed; the rest queued. */
	const char *q[8] = { "a", "b", "a", "b", "c", "a", "b", "a" };
	for (int i = 0; i < 8; i++)
		id[i] = ts_insert_q(q[i]);
	ts_start(2), ts_start(3), ts_start(4), ts_start(5);
	ts_end(4, STORE_SUCCEEDED, "{}", NULL, NULL);
	ts_end(5, STORE_FAILED, NULL, "boom", NULL);
	store_flush(ts_st);
	ts_all_ok(0, 14);
	ck_assert_int_eq(id[7], 8);

	assert_list(NULL, (int64_t[]){ 8, 7, 6, 5, 4, 3, 2, 1 }, 8);
	f.limit = 3;
	assert_list(&f, (int64_t[]){ 8, 7, 6 }, 3);
	f.before_id = 6;                                /* the next page */
	assert_list(&f, (int64_t[]){ 5, 4, 3 }, 3);
	f = (struct store_filter){ .state = STORE_QUEUED };
	assert_list(&f, (int64_t[]){ 8, 7, 6, 1 }, 4);
	f.state = STORE_RUNNING;
	assert_list(&f, (int64_t[]){ 3, 2 }, 2);
	f.limit = 1;
	assert_list(&f, (int64_t[]){ 3 }, 1);
	f = (struct store_filter){ .state = STORE_ANY_STATE, .queue = "a" };
	assert_list(&f, (int64_t[]){ 8, 6, 3, 1 }, 4);
	f.limit = 2;
	assert_list(&f, (int64_t[]){ 8, 6 }, 2);
	f.before_id = 6;
	assert_list(&f, (int64_t[]){ 3, 1 }, 2);
	f = (struct store_filter){ .state = STORE_QUEUED, .queue = "b" };
	assert_list(&f, (int64_t[]){ 7 }, 1);
	f.state = STORE_FAILED;
	f.queue = "c";
	assert_list(&f, (int64_t[]){ 5 }, 1);
	f.queue = "nope";
	assert_list(&f, NULL, 0);
	f = (struct store_filter){ .state = STORE_CANCELLED };
	assert_list(&f, NULL, 0);
}
END_TEST

/* Counting jobs per (queue, state) is a read every backend answers. */
START_TEST(test_states_per_queue)
{
	ts_rec_reset();
	ts_open_default();
	for (int i = 0; i < 3; i++)
		ts_insert_q("b");
	ts_insert_q("a");
	ts_insert_q("a");
	ts_start(1), ts_start(4);
	ts_end(4, STORE_TIMED_OUT, NULL, "timeout", NULL);
	store_flush(ts_st);
	ts_all_ok(0, 8);
	ck_assert_int_eq(ts_count(STORE_QUEUED, "a"), 1);
	ck_assert_int_eq(ts_count(STORE_TIMED_OUT, "a"), 1);
	ck_assert_int_eq(ts_count(STORE_QUEUED, "b"), 2);
	ck_assert_int_eq(ts_count(STORE_RUNNING, "b"), 1);
	ck_assert_int_eq(ts_count(STORE_RUNNING, "a"), 0);
	ck_assert_int_eq(ts_count(STORE_ANY_STATE, NULL), 5);
}
END_TEST

START_TEST(test_group_all_or_nothing)
{
	struct store_new_job j[3] = { ts_job("default", "{\"i\":0}"),
		ts_job("default", "{\"i\":1}"), ts_job("other", "{\"i\":2}") };
	struct store_job **jobs;
	struct store_group g;
	int64_t gid, ids[3], gid2, ids2[3], lone;
	size_t n;

	ts_rec_reset();
	ts_open_default();
	ck_assert_int_eq(store_insert_group(ts_st, STORE_GROUP_FAIL_FAST, j, 3,
	    &gid, ids, ts_rec, (void *)1), 0);
	ck_assert(ids[1] == ids[0] + 1 && ids[2] == ids[0] + 2);
	j[1].args = "{broken";                  /* the CHECK refuses it */
	ck_assert_int_eq(store_insert_group(ts_st, STORE_GROUP_ALL, j, 3, &gid2,
	    ids2, ts_rec, (void *)2), 0);
	ck_assert_int_eq(gid2, gid + 1);
	lone = ts_insert_q("default");
	store_flush(ts_st);
	ck_assert_int_eq(ts_ncb, 3);
	ck_assert_int_eq(ts_cb_status[0], 0);
	ck_assert_int_eq(ts_cb_status[1], -EINVAL);
	ck_assert_int_eq(ts_cb_status[2], 0);

	ck_assert_int_eq(store_group_get(ts_st, gid, &g), 0);
	ck_assert(g.id == gid && g.mode == STORE_GROUP_FAIL_FAST &&
	    g.size == 3 && g.created_at > 0);
	ck_assert_int_eq(store_group_jobs(ts_st, gid, &jobs, &n), 0);
	ck_assert_uint_eq(n, 3);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_int_eq(jobs[i]->id, ids[i]);
		ck_assert_int_eq(jobs[i]->group_id, gid);
	}
	ck_assert_str_eq(jobs[2]->args, "{\"i\":2}");
	store_jobs_free(jobs, n);

	/* Nothing of the refused group, and the insert after it is in. */
	ck_assert_int_eq(store_group_get(ts_st, gid2, &g), -ENOENT);
	ck_assert_int_eq(store_group_jobs(ts_st, gid2, &jobs, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(ts_count(STORE_ANY_STATE, NULL), 4);
	store_job_free(ts_get(lone));
}
END_TEST

/* store_insert_group_take: the rows array becomes the write's (freed with
 * it: the valgrind level sees a leak or a double free), their strings are
 * copied (the caller's may go at once); refused, the array stays the
 * caller's. */
START_TEST(test_group_take)
{
	struct store_new_job *j = calloc(3, sizeof(*j));
	struct store_job **jobs;
	char args[3][16], name[] = "first";
	int64_t gid, ids[3];
	size_t n;

	ck_assert_ptr_nonnull(j);
	ts_rec_reset();
	ts_open_default();
	for (int i = 0; i < 3; i++) {
		snprintf(args[i], sizeof(args[i]), "{\"i\":%d}", i);
		j[i] = ts_job(i == 2 ? "other" : "default", args[i]);
	}
	j[0].name = name;
	ck_assert_int_eq(store_insert_group_take(ts_st, (enum store_group_mode)99,
	    j, 3, &gid, ids, ts_rec, (void *)1), -EINVAL);
	ck_assert_int_eq(store_insert_group_take(ts_st, STORE_GROUP_ALL, j, 3,
	    &gid, ids, ts_rec, (void *)1), 0);
	memset(args, 'x', sizeof(args));       /* copied: ours again */
	memset(name, 'y', sizeof(name) - 1);
	store_flush(ts_st);
	ck_assert_int_eq(ts_ncb, 1);
	ck_assert_int_eq(ts_cb_status[0], 0);
	ck_assert_int_eq(store_group_jobs(ts_st, gid, &jobs, &n), 0);
	ck_assert_uint_eq(n, 3);
	for (size_t i = 0; i < 3; i++)
		ck_assert_int_eq(jobs[i]->id, ids[i]);
	ck_assert_str_eq(jobs[0]->args, "{\"i\":0}");
	ck_assert_str_eq(jobs[0]->name, "first");
	ck_assert_str_eq(jobs[2]->args, "{\"i\":2}");
	ck_assert_str_eq(jobs[2]->queue, "other");
	store_jobs_free(jobs, n);
}
END_TEST

/* ---- group commit and callbacks ----------------------------------------- */

/* A burst commits in far fewer transactions than writes. */
START_TEST(test_group_commit_natural)
{
	struct store_opts o = ts_opts();
	struct store_new_job j = ts_job("default", "{}");
	struct store_stats s;

	ts_rec_reset();
	ts_open_opts(&o);
	for (int i = 0; i < 10000; i++)
		ts_insert(&j, i);
	ts_pump(10000);
	ts_all_ok(0, 10000);
	store_stats(ts_st, &s);
	ck_assert_msg(s.transactions <= 1000, "%llu transactions for 10000 "
	    "inserts", (unsigned long long)s.transactions);
}
END_TEST

START_TEST(test_batch_max_respected)
{
	struct store_opts o = ts_opts();
	struct store_stats s;

	o.batch_max = 100;
	ts_rec_reset();
	ts_open_opts(&o);
	for (int i = 0; i < 1000; i++)
		ts_insert_q("default");
	ts_pump(1000);
	ts_all_ok(0, 1000);
	store_stats(ts_st, &s);
	ck_assert_uint_le(s.batch_largest, 100);
	ck_assert_uint_ge(s.transactions, 10);
}
END_TEST

/* Jobs in state with this many attempts (fewer than STORE_LIST_MAX). */
static int64_t
count_attempts(int state, int attempts)
{
	struct store_filter f = { .state = state, .limit = STORE_LIST_MAX };
	struct store_job **jobs;
	size_t n;
	int64_t c = 0;

	ck_assert_int_eq(store_list(ts_st, &f, &jobs, &n), 0);
	ck_assert_uint_lt(n, STORE_LIST_MAX);
	for (size_t i = 0; i < n; i++)
		c += jobs[i]->attempts == attempts;
	store_jobs_free(jobs, n);
	return c;
}

START_TEST(test_callbacks_on_loop_thread_in_order)
{
	struct store_new_job g[2] = { ts_job("default", "{}"),
		ts_job("default", "{}") };
	int64_t id, gid, ids[2];
	intptr_t tag = 0;

	ts_rec_reset();
	ts_open_default();
	for (int i = 0; i < 500; i++) {
		struct store_new_job j = ts_job("default", "{}");
		struct store_end e = { .state = STORE_SUCCEEDED };

		ck_assert_int_eq(store_insert(ts_st, &j, &id, ts_rec,
		    (void *)tag++), 0);
		ck_assert_int_eq(store_mark_started(ts_st, id, 0, ts_rec,
		    (void *)tag++), 0);
		if (i % 2 == 0)
			ck_assert_int_eq(store_mark_ended(ts_st, id, &e, ts_rec,
			    (void *)tag++), 0);
		else
			ck_assert_int_eq(store_requeue(ts_st, id, ts_rec,
			    (void *)tag++), 0);
		/* fails alone, in the middle of the others */
		ck_assert_int_eq(store_mark_started(ts_st, 1000000 + i, 0, ts_rec,
		    (void *)tag++), 0);
		if (i % 50 == 0)
			ck_assert_int_eq(store_insert_group(ts_st, STORE_GROUP_ALL,
			    g, 2, &gid, ids, ts_rec, (void *)tag++), 0);
	}
	usleep(50000);                  /* the writer is done by now... */
	ck_assert_int_eq(ts_ncb, 0);       /* ...but only the loop calls back */
	ts_pump((int)tag);
	ck_assert_int_eq(ts_ncb, tag);
	ck_assert_int_eq(ts_cb_off_loop, 0);
	for (int i = 0; i < ts_ncb; i++) {
		ck_assert_int_eq(ts_cb_tag[i], i);
		ck_assert(ts_cb_status[i] == 0 || ts_cb_status[i] == -ENOENT);
	}
	ck_assert_int_eq(ts_cb_status[3], -ENOENT);
	ck_assert_int_eq(count_attempts(STORE_QUEUED, 1), 250);
}
END_TEST

/* ---- recovery ----------------------------------------------------------- */

#define MAXREC 1000

static struct store_job *recd[MAXREC];
static int nrecd;

static int
take(void *arg, struct store_job *j)
{
	int stop_at = (int)(intptr_t)arg;

	if (stop_at > 0 && nrecd == stop_at) {
		store_job_free(j);
		return -EINTR;
	}
	ck_assert_int_lt(nrecd, MAXREC);
	recd[nrecd++] = j;
	return 0;
}

static void
recd_free(void)
{
	for (int i = 0; i < nrecd; i++)
		store_job_free(recd[i]);
	nrecd = 0;
}

/* Jobs in every situation a crash leaves them: returns their ids. */
static void
crash_scene(int64_t id[5])
{
	struct store_new_job one = ts_job("default", "{}");

	ts_rec_reset();
	ts_open_default();
	id[0] = ts_insert_q("default");                    /* queued */
	id[1] = ts_insert_q("default");                    /* running, 1 of 3 */
	ts_start(id[1]);
	one.max_attempts = 1;
	id[2] = ts_insert(&one, 0);                        /* running, 1 of 1 */
	ts_start(id[2]);
	id[3] = ts_insert_q("default");                    /* ended */
	ts_start(id[3]);
	ts_end(id[3], STORE_SUCCEEDED, "{}", NULL, NULL);
	one.max_attempts = 2;
	id[4] = ts_insert(&one, 0);                        /* running, 2 of 2 */
	ts_start(id[4]);
	ck_assert_int_eq(store_requeue(ts_st, id[4], ts_rec, NULL), 0);
	ts_start(id[4]);
	store_flush(ts_st);
	ts_all_ok(0, ts_ncb);
}

/* Insert j and flush: its callback's status. */
static int
insert_status(struct store_new_job *j)
{
	int n = ts_ncb;

	(void)ts_insert(j, 7);
	store_flush(ts_st);
	ck_assert_int_eq(ts_ncb, n + 1);
	return ts_cb_status[n];
}

/* unique_key: one job not ended per key; unique_for counts ended ones
 * created recently; the existing id comes back. */
START_TEST(test_unique_key)
{
	struct store_new_job j = ts_job("default", "{}");
	struct store_job *row;
	int64_t existing = 0, a;

	ts_rec_reset();
	ts_open_default();
	j.unique_key = "k1";
	j.existing = &existing;
	ck_assert_int_eq(insert_status(&j), 0);
	ck_assert_int_eq(ts_count(STORE_ANY_STATE, NULL), 1);
	ck_assert_int_eq(insert_status(&j), -EEXIST);
	ck_assert_int_gt(existing, 0);
	ck_assert_int_eq(ts_count(STORE_ANY_STATE, NULL), 1);
	row = ts_get(existing);
	ck_assert_str_eq(row->unique_key, "k1");
	store_job_free(row);
	/* Ended: a new one may take the key, unless unique_for covers it. */
	ts_end(existing, STORE_SUCCEEDED, NULL, NULL, NULL);
	store_flush(ts_st);
	j.unique_for = 3600;
	a = existing;
	existing = 0;
	ck_assert_int_eq(insert_status(&j), -EEXIST);
	ck_assert_int_eq(existing, a);
	j.unique_for = 0;
	ck_assert_int_eq(insert_status(&j), 0);
	ck_assert_int_eq(ts_count(STORE_ANY_STATE, NULL), 2);
	/* Another key is another job; no key at all is never a duplicate. */
	j.unique_key = "k2";
	ck_assert_int_eq(insert_status(&j), 0);
	j.unique_key = NULL;
	ck_assert_int_eq(insert_status(&j), 0);
	ck_assert_int_eq(insert_status(&j), 0);
	/* Bounds. */
	j.unique_key = "";
	ck_assert_int_eq(store_insert(ts_st, &j, &a, ts_rec, NULL), -EINVAL);
	j.unique_key = "k3";
	j.existing = NULL;
	ck_assert_int_eq(store_insert(ts_st, &j, &a, ts_rec, NULL), -EINVAL);
}
END_TEST

/* One job per (schedule, slot), whatever inserts it twice. */
START_TEST(test_schedule_slot)
{
	struct store_new_job j = ts_job("default", "{}");
	struct store_job *row;
	int64_t existing = 0;

	ts_rec_reset();
	ts_open_default();
	j.schedule = "nightly";
	j.slot = 1800000000;
	j.existing = &existing;
	ck_assert_int_eq(insert_status(&j), 0);
	ck_assert_int_eq(ts_count(STORE_ANY_STATE, NULL), 1);
	ck_assert_int_eq(insert_status(&j), -EEXIST);
	row = ts_get(existing);
	ck_assert_str_eq(row->schedule, "nightly");
	ck_assert(row->slot == 1800000000);
	store_job_free(row);
	j.slot += 60;
	ck_assert_int_eq(insert_status(&j), 0);
	j.schedule = "other";
	ck_assert_int_eq(insert_status(&j), 0);
	ck_assert_int_eq(ts_count(STORE_ANY_STATE, NULL), 3);
	/* Kept across a reopen: the index, not memory, decides. */
	ts_reopen();
	j.schedule = "nightly";
	ck_assert_int_eq(insert_status(&j), -EEXIST);
}
END_TEST

/* The rule (store_recover_rule): refuses the job whose kind is "post". */
static bool
no_post(void *arg, const struct store_job *j, char *error, size_t len)
{
	(*(int *)arg)++;
	if (strcmp(j->kind, "post") != 0)
		return true;
	snprintf(error, len, "not run again: %s", j->kind);
	return false;
}

START_TEST(test_recovery_rule)
{
	struct store_new_job post = ts_job("default", "{}");
	struct store_recovery rep;
	struct store_job *j;
	int64_t id[5], p;
	int calls = 0;

	crash_scene(id);
	post.kind = "post";
	p = ts_insert(&post, 0);
	ts_start(p);
	store_flush(ts_st);
	ts_reopen();
	nrecd = 0;
	store_recover_rule(ts_st, no_post, &calls);
	ck_assert_int_eq(store_recover(ts_st, take, NULL, &rep), 0);
	/* Asked only of running jobs with attempts left: id[1] and p. */
	ck_assert_int_eq(calls, 2);
	ck_assert(rep.requeued == 1 && rep.failed == 3 && rep.refused == 1);
	ck_assert(recd[nrecd - 1]->id == p &&
	    recd[nrecd - 1]->state == STORE_FAILED);
	ck_assert_str_eq(recd[nrecd - 1]->error, "not run again: post");
	recd_free();
	ts_reopen();                    /* committed with the recovery */
	j = ts_get(p);
	ck_assert_int_eq(j->state, STORE_FAILED);
	ck_assert_int_eq(j->attempts, 1);
	store_job_free(j);
}
END_TEST

START_TEST(test_recovery)
{
	struct store_recovery rep;
	struct store_job *j;
	int64_t id[5];

	crash_scene(id);
	ts_reopen();                       /* on disk, the same as a crash */
	nrecd = 0;
	ck_assert_int_eq(store_recover(ts_st, take, NULL, &rep), 0);
	ck_assert(rep.queued == 1 && rep.requeued == 1 && rep.failed == 2);
	ck_assert_int_eq(nrecd, 4);
	ck_assert(recd[0]->id == id[0] && recd[0]->state == STORE_QUEUED);
	ck_assert(recd[1]->id == id[1] && recd[1]->state == STORE_QUEUED);
	ck_assert_int_eq(recd[1]->attempts, 1);
	ck_assert(recd[2]->id == id[2] && recd[2]->state == STORE_FAILED);
	ck_assert_str_eq(recd[2]->error,
	    "interrupted (jobd stopped or crashed) after 1 attempt");
	ck_assert(recd[2]->finished_at > 0);
	ck_assert(recd[3]->id == id[4] && recd[3]->state == STORE_FAILED);
	ck_assert_str_eq(recd[3]->error,
	    "interrupted (jobd stopped or crashed) after 2 attempts");
	recd_free();

	/* Committed: a fresh look at the file agrees. */
	ts_reopen();
	j = ts_get(id[2]);
	ck_assert_int_eq(j->state, STORE_FAILED);
	store_job_free(j);
	j = ts_get(id[3]);
	ck_assert_int_eq(j->state, STORE_SUCCEEDED);
	store_job_free(j);
	ck_assert_int_eq(ts_count(STORE_RUNNING, NULL), 0);
	ck_assert_int_eq(store_recover(ts_st, take, NULL, &rep), 0);
	ck_assert(rep.queued == 2 && rep.requeued == 0 && rep.failed == 0);
	recd_free();
	ck_assert_int_eq(store_recover(ts_st, take, NULL, &rep), -EBUSY);
}
END_TEST

START_TEST(test_recovery_callback_stops)
{
	int64_t id[5];

	crash_scene(id);
	ts_reopen();
	nrecd = 0;
	ck_assert_int_eq(store_recover(ts_st, take, (void *)2, NULL), -EINTR);
	ck_assert_int_eq(nrecd, 2);     /* the rest were freed (valgrind) */
	recd_free();
	/* recovery itself committed */
	ck_assert_int_eq(ts_count(STORE_RUNNING, NULL), 0);
}
END_TEST

/* A child acknowledges writes, then dies by SIGKILL with the store open. */
static void
crash_child(int fd)
{
	struct store_opts o = ts_opts();
	struct store_new_job j = ts_job("default", "{\"crash\":true}");
	struct store *s;
	int64_t id;
	int acked = 0;

	if (store_open(&s, NULL, &o) < 0)
		_exit(2);
	for (int i = 0; i < 500; i++)
		if (store_insert(s, &j, &id, ts_rec, NULL) < 0 ||
		    (i < 100 && store_mark_started(s, id, 0, ts_rec, NULL) < 0))
			_exit(3);
	store_flush(s);
	for (int i = 0; i < ts_ncb; i++)
		acked += ts_cb_status[i] == 0;
	if (write(fd, &acked, sizeof(acked)) != sizeof(acked))
		_exit(4);
	raise(SIGKILL);
}

START_TEST(test_acked_writes_survive_sigkill)
{
	struct store_recovery rep;
	int fds[2], acked = 0, status;
	pid_t pid;

	ts_rec_reset();
	ck_assert_int_eq(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		close(fds[0]);
		crash_child(fds[1]);
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &acked, sizeof(acked)), sizeof(acked));
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	ck_assert_int_eq(acked, 600);
	ts_open_default();
	nrecd = 0;
	ck_assert_int_eq(store_recover(ts_st, take, NULL, &rep), 0);
	ck_assert(rep.queued == 400 && rep.requeued == 100 && rep.failed == 0);
	ck_assert_int_eq(nrecd, 500);
	for (int i = 0; i < nrecd; i++) {
		ck_assert_int_eq(recd[i]->id, i + 1);
		ck_assert_int_eq(recd[i]->attempts, i < 100 ? 1 : 0);
	}
	recd_free();
}
END_TEST

/* ---- close -------------------------------------------------------------- */

static int cb_during_close_rc = 1;

static void
submit_in_close(void *arg, int status)
{
	ts_rec(arg, status);
	cb_during_close_rc = store_insert(ts_st, arg, &(int64_t){ 0 }, ts_rec, NULL);
}

START_TEST(test_close_commits_pending)
{
	struct store_new_job j = ts_job("default", "{}");
	int64_t last = 0;

	ts_rec_reset();
	ts_open_default();
	for (int i = 0; i < 1000; i++)
		last = ts_insert(&j, i);
	ts_start(last);
	ck_assert_int_eq(store_insert(ts_st, &j, &last, submit_in_close, &j), 0);
	store_close(ts_st);                /* no loop ran: close delivers */
	ts_st = NULL;
	ck_assert_int_eq(ts_ncb, 1002);
	ts_all_ok(0, 1002);
	ck_assert_int_eq(cb_during_close_rc, -ESHUTDOWN);
	ts_open_default();
	ck_assert_int_eq(ts_count(STORE_ANY_STATE, NULL), 1001);
	ck_assert_int_eq(ts_count(STORE_RUNNING, NULL), 1);
}
END_TEST

/* ---- reads on other threads --------------------------------------------- */

static int64_t committed_max;           /* ids <= it are committed */

static void *
reader(void *arg)
{
	struct store_filter f = { .state = STORE_QUEUED, .limit = 10 };
	struct store_job **jobs, *j;
	size_t n;
	int64_t m;
	long errors = 0;

	(void)arg;
	for (int i = 0; i < 300; i++) {
		m = __atomic_load_n(&committed_max, __ATOMIC_ACQUIRE);
		if (m > 0) {
			errors += store_get(ts_st, m, &j) != 0;
			store_job_free(j);
		}
		errors += store_list(ts_st, &f, &jobs, &n) != 0;
		store_jobs_free(jobs, n);
	}
	return (void *)errors;
}

static void
note_committed(void *arg, int status)
{
	ts_rec(arg, status);
	if (status == 0)
		__atomic_store_n(&committed_max, (int64_t)(intptr_t)arg,
		    __ATOMIC_RELEASE);
}

/* One store per database: a second open fails -EBUSY and changes
 * nothing; once the first is closed, it opens.  PostgreSQL takes
 * several daemons: the second opens and reads the first one's rows. */
START_TEST(test_second_store_busy)
{
	struct store_opts o = ts_opts();
	struct store *other = NULL;
	int64_t id;

	ts_rec_reset();
	ts_open_default();
	id = ts_insert_q("default");
	store_flush(ts_st);
	if (strcmp(ts_backend, "postgresql") == 0) {
		struct store_job *j = NULL;

		ck_assert_int_eq(store_open(&other, NULL, &o), 0);
		ck_assert_int_eq(store_get(other, id, &j), 0);
		ck_assert_int_eq(j->state, STORE_QUEUED);
		ck_assert(j->node > 0);
		store_job_free(j);
		store_close(other);
		return;
	}
	ck_assert_int_eq(store_open(&other, NULL, &o), -EBUSY);
	ck_assert_ptr_null(other);
	ts_assert_msg_has("in use by another jobd store");
	store_close(ts_st);
	ts_st = NULL;
	ck_assert_int_eq(store_open(&other, NULL, &o), 0);
	ts_st = other;
	store_job_free(ts_get(id));
}
END_TEST

START_TEST(test_reads_from_threads)
{
	struct store_new_job j = ts_job("default", "{}");
	pthread_t t[2];
	void *errors;
	int64_t id;

	ts_rec_reset();
	ts_open_default();
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, reader, NULL), 0);
	for (int i = 0; i < 3000; i++) {
		ck_assert_int_eq(store_insert(ts_st, &j, &id, note_committed,
		    (void *)(intptr_t)(i + 1)), 0);
		if (i % 100 == 0)
			event_base_loop(tu_base, EVLOOP_NONBLOCK);
	}
	ts_pump(3000);
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], &errors);
		ck_assert_int_eq((intptr_t)errors, 0);
	}
	ts_all_ok(0, 3000);
}
END_TEST


static Suite *
store_suite(const char *backend)
{
	Suite *s = suite_create(backend);
	TCase *tc = tcase_create(backend);

	tcase_add_checked_fixture(tc, ts_setup, ts_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_backends);
	tcase_add_test(tc, test_group_take);
	tcase_add_test(tc, test_recovery_rule);
	tcase_add_test(tc, test_unique_key);
	tcase_add_test(tc, test_schedule_slot);
	tcase_add_test(tc, test_roundtrip_every_field);
	tcase_add_test(tc, test_transitions_checked);
	tcase_add_test(tc, test_start_end_merged);
	tcase_add_test(tc, test_bad_arguments_never_call_back);
	tcase_add_test(tc, test_list_filters_order_limit);
	tcase_add_test(tc, test_states_per_queue);
	tcase_add_test(tc, test_group_all_or_nothing);
	tcase_add_test(tc, test_group_commit_natural);
	tcase_add_test(tc, test_batch_max_respected);
	tcase_add_test(tc, test_callbacks_on_loop_thread_in_order);
	tcase_add_test(tc, test_recovery);
	tcase_add_test(tc, test_recovery_callback_stops);
	tcase_add_test(tc, test_acked_writes_survive_sigkill);
	tcase_add_test(tc, test_close_commits_pending);
	tcase_add_test(tc, test_reads_from_threads);
	tcase_add_test(tc, test_second_store_busy);
	suite_add_tcase(s, tc);
	return s;
}

/* The whole suite against one backend: argv[1], default sqlite (ctest
 * runs it as test_store and as test_store_postgres; see CMakeLists.txt).
 * ts_backend is read in the forked test processes. */
int
main(int argc, char **argv)
{
	return ts_main(argc, argv, "test_store", store_suite);
}
