/*
 * test_store_deps.c — dependencies through the store's API (store.h,
 * store_deps.c and each backend's deps file): an insert with an after
 * list is waiting and judged at once, an end releases or cancels its
 * dependants in the same transaction (down a chain of 10,000 in one
 * commit), the changes reach the hook once committed, a missing
 * dependency fails the insert alone, recovery repairs a waiting job whose
 * dependencies all ended, prune keeps a job a waiting one depends on.
 * Run per backend: test_store_deps [sqlite|postgresql].
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "testutil.h"
#include "tu_store.h"

/* What the hook was told, in order. */
#define MAXCHG 20000
static struct {
	int64_t id;
	enum store_state state;
	char reason[64];
} chg[MAXCHG];
static size_t nchg;

static void
hook(void *arg, const struct store_dep_change *c, size_t n)
{
	(void)arg;
	for (size_t i = 0; i < n && nchg < MAXCHG; i++, nchg++) {
		chg[nchg].id = c[i].id;
		chg[nchg].state = c[i].state;
		snprintf(chg[nchg].reason, sizeof(chg[nchg].reason), "%s",
		    c[i].reason != NULL ? c[i].reason : "");
	}
}

static void
open_with_hook(void)
{
	ts_rec_reset();
	nchg = 0;
	ts_open_default();
	store_deps_hook(ts_st, hook, NULL);
}

static int64_t
insert_after(const int64_t *after, size_t n, bool run)
{
	struct store_new_job j = ts_job("q", "{}");

	j.after = after;
	j.nafter = n;
	j.dep_run = run;
	return ts_insert(&j, 0);
}

static enum store_state
state_of(int64_t id)
{
	struct store_job *j = ts_get(id);
	enum store_state s = j->state;

	store_job_free(j);
	return s;
}

START_TEST(test_release_and_cascade)
{
	int64_t a, b, c, d, e, dep[2];
	struct store_job *j;

	open_with_hook();
	a = ts_insert_q("q");
	b = insert_after(&a, 1, false);
	c = insert_after(&b, 1, false);
	d = insert_after(&a, 1, true);          /* runs whatever a does */
	dep[0] = a;
	dep[1] = d;
	e = insert_after(dep, 2, false);
	store_flush(ts_st);
	ts_all_ok(0, ts_ncb);
	ck_assert_uint_eq(nchg, 0);
	ck_assert_int_eq(state_of(b), STORE_WAITING);
	j = ts_get(e);
	ck_assert_str_eq(j->after, a < d ? "1,4" : "4,1");
	store_job_free(j);

	ts_start(a);
	ts_end(a, STORE_FAILED, NULL, "boom", NULL);
	store_flush(ts_st);
	ts_all_ok(0, ts_ncb);
	/* b, c cancelled down the chain; d released; e cancelled (a). */
	ck_assert_int_eq(state_of(b), STORE_CANCELLED);
	ck_assert_int_eq(state_of(c), STORE_CANCELLED);
	ck_assert_int_eq(state_of(d), STORE_QUEUED);
	ck_assert_int_eq(state_of(e), STORE_CANCELLED);
	j = ts_get(c);
	ck_assert_str_eq(j->cancel_reason, "dependency: job 2 ended cancelled");
	store_job_free(j);
	j = ts_get(b);
	ck_assert_str_eq(j->cancel_reason, "dependency: job 1 ended failed");
	ck_assert(j->finished_at > 0);
	store_job_free(j);
	ck_assert_uint_eq(nchg, 4);
	for (size_t i = 0; i < nchg; i++)
		ck_assert(chg[i].state == (chg[i].id == d ? STORE_QUEUED :
		    STORE_CANCELLED));
}
END_TEST

/* A dependency ended already: judged in the insert's transaction. */
START_TEST(test_judged_at_insert)
{
	int64_t ok, bad, x, y, z, dep[2];

	open_with_hook();
	ok = ts_insert_q("q");
	bad = ts_insert_q("q");
	ts_end(ok, STORE_SUCCEEDED, NULL, NULL, NULL);
	ts_end(bad, STORE_CANCELLED, NULL, NULL, "x");
	x = insert_after(&ok, 1, false);
	dep[0] = ok;
	dep[1] = bad;
	y = insert_after(dep, 2, false);
	z = insert_after(&bad, 1, true);
	store_flush(ts_st);
	ts_all_ok(0, ts_ncb);
	ck_assert_int_eq(state_of(x), STORE_QUEUED);
	ck_assert_int_eq(state_of(y), STORE_CANCELLED);
	ck_assert_int_eq(state_of(z), STORE_QUEUED);
	ck_assert_uint_eq(nchg, 3);
}
END_TEST

START_TEST(test_missing_dependency)
{
	struct store_new_job g[2] = { ts_job("q", "{}"), ts_job("q", "{}") };
	int64_t a, missing, gid, ids[2], m0 = -1;

	open_with_hook();
	a = ts_insert_q("q");
	missing = a + 100;
	insert_after(&missing, 1, false);
	store_flush(ts_st);
	ck_assert_int_eq(ts_cb_status[0], 0);
	ck_assert_int_eq(ts_cb_status[1], -ENOENT);
	ck_assert_int_eq(ts_count(STORE_ANY_STATE, NULL), 1);
	/* A group: one member after the other, the first after a missing
	 * job: nothing of it is written. */
	g[0].after = &missing;
	g[0].nafter = 1;
	g[1].after = &m0;
	g[1].nafter = 1;
	ck_assert_int_eq(store_insert_group(ts_st, STORE_GROUP_ALL, g, 2,
	    &gid, ids, ts_rec, NULL), 0);
	store_flush(ts_st);
	ck_assert_int_eq(ts_cb_status[2], -ENOENT);
	ck_assert_int_eq(ts_count(STORE_ANY_STATE, NULL), 1);
	/* The member reference resolves to the group's first job. */
	g[0].after = &a;
	ck_assert_int_eq(store_insert_group(ts_st, STORE_GROUP_ALL, g, 2,
	    &gid, ids, ts_rec, NULL), 0);
	store_flush(ts_st);
	ts_all_ok(3, ts_ncb);
	ck_assert_int_eq(state_of(ids[1]), STORE_WAITING);
	ts_end(a, STORE_SUCCEEDED, NULL, NULL, NULL);
	store_flush(ts_st);
	ck_assert_int_eq(state_of(ids[0]), STORE_QUEUED);
	ck_assert_int_eq(state_of(ids[1]), STORE_WAITING);
	ts_end(ids[0], STORE_SUCCEEDED, NULL, NULL, NULL);
	store_flush(ts_st);
	ck_assert_int_eq(state_of(ids[1]), STORE_QUEUED);
}
END_TEST

/* A chain of 10,000 below one job: its end cancels all of them in the
 * transaction that records it. */
START_TEST(test_chain_one_commit)
{
	enum { N = 10000 };
	struct store_new_job *g = calloc(N, sizeof(*g));
	int64_t *refs = calloc(N, sizeof(*refs)), *ids = calloc(N,
	    sizeof(*ids)), root, gid;
	struct store_stats s0, s1;

	open_with_hook();
	root = ts_insert_q("q");
	for (int i = 0; i < N; i++) {
		g[i] = ts_job("q", "{}");
		refs[i] = i == 0 ? root : -(int64_t)i;  /* member i - 1 */
		g[i].after = &refs[i];
		g[i].nafter = 1;
	}
	ck_assert_int_eq(store_insert_group(ts_st, STORE_GROUP_ALL, g, N,
	    &gid, ids, ts_rec, NULL), 0);
	store_flush(ts_st);
	ts_all_ok(0, ts_ncb);
	ck_assert_int_eq(ts_count(STORE_WAITING, NULL), N);
	store_stats(ts_st, &s0);
	ts_end(root, STORE_TIMED_OUT, NULL, NULL, NULL);
	store_flush(ts_st);
	store_stats(ts_st, &s1);
	ck_assert_uint_eq(s1.transactions - s0.transactions, 1);
	ck_assert_int_eq(ts_count(STORE_WAITING, NULL), 0);
	ck_assert_int_eq(ts_count(STORE_CANCELLED, NULL), N);
	ck_assert_uint_eq(nchg, N);
	free(g);
	free(refs);
	free(ids);
}
END_TEST

/* Recovery brings waiting jobs back as waiting, and prune keeps a job
 * a waiting one depends on. */
static int nwaiting;

static int
count_waiting(void *arg, struct store_job *j)
{
	(void)arg;
	nwaiting += j->state == STORE_WAITING;
	store_job_free(j);
	return 0;
}

START_TEST(test_recover_and_prune)
{
	struct store_prune p = { .limit = 100 };
	int64_t a, x, b, dep[2];
	size_t deleted;

	open_with_hook();
	a = ts_insert_q("q");
	x = ts_insert_q("q");
	dep[0] = a;
	dep[1] = x;
	b = insert_after(dep, 2, false);
	ts_end(a, STORE_SUCCEEDED, NULL, NULL, NULL);
	store_flush(ts_st);
	ts_reopen();
	store_deps_hook(ts_st, hook, NULL);
	nwaiting = 0;
	ck_assert_int_eq(store_recover(ts_st, count_waiting, NULL, NULL), 0);
	ck_assert_int_eq(nwaiting, 1);
	p.before = store_now() + 10;
	ck_assert_int_eq(store_prune(ts_st, &p, &deleted, ts_rec, NULL), 0);
	store_flush(ts_st);
	ck_assert_uint_eq(deleted, 0);          /* b waits for a's row */
	ts_end(x, STORE_FAILED, NULL, NULL, NULL);
	store_flush(ts_st);
	ck_assert_int_eq(state_of(b), STORE_CANCELLED);
	ck_assert_int_eq(store_prune(ts_st, &p, &deleted, ts_rec, NULL), 0);
	store_flush(ts_st);
	ck_assert_uint_eq(deleted, 3);
}
END_TEST

static Suite *
store_deps_suite(const char *backend)
{
	Suite *s = suite_create(backend);
	TCase *tc = tcase_create(backend);

	tcase_add_checked_fixture(tc, ts_setup, ts_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_release_and_cascade);
	tcase_add_test(tc, test_judged_at_insert);
	tcase_add_test(tc, test_missing_dependency);
	tcase_add_test(tc, test_chain_one_commit);
	tcase_add_test(tc, test_recover_and_prune);
	suite_add_tcase(s, tc);
	return s;
}

/* argv[1] the backend, default sqlite (ctest: test_store_deps and
 * test_store_deps_postgres). */
int
main(int argc, char **argv)
{
	return ts_main(argc, argv, "test_store_deps", store_deps_suite);
}
