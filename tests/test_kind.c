/*
 * test_kind.c — the kinds table and the `sleep` kind (kind.h, kind_sleep.h).
 */
#include <errno.h>
#include <string.h>

#include "co.h"
#include "kind.h"
#include "testutil.h"

START_TEST(test_table)
{
	size_t n = 0;

	ck_assert_ptr_nonnull(kind_find("sleep"));
	ck_assert_str_eq(kind_find("sleep")->name, "sleep");
	ck_assert_ptr_null(kind_find("nope"));
	ck_assert_ptr_null(kind_find(""));
	while (kind_at(n) != NULL) {
		ck_assert_ptr_eq(kind_find(kind_at(n)->name), kind_at(n));
		n++;
	}
	ck_assert_uint_ge(n, 1);
}
END_TEST

/* check(): args as text, expected return, and a piece of the message. */
static void
check_args(const char *text, int want, const char *msg)
{
	const struct kind *k = kind_find("sleep");
	struct proto_err err = { 0 };
	json_t *args = json_loads(text, 0, NULL);

	ck_assert_ptr_nonnull(args);
	ck_assert_int_eq(k->check(args, &err), want);
	if (msg != NULL) {
		ck_assert_int_eq(err.code, PROTO_BAD_REQUEST);
		ck_assert_msg(strstr(err.msg, msg) != NULL, "message: %s", err.msg);
	}
	json_decref(args);
}

START_TEST(test_sleep_check)
{
	check_args("{\"seconds\":0.5}", 0, NULL);
	check_args("{\"seconds\":0}", 0, NULL);
	check_args("{\"seconds\":1,\"fail\":\"boom\"}", 0, NULL);
	check_args("{\"seconds\":1,\"fail\":null}", 0, NULL);
	check_args("{}", -EINVAL, "args: ");
	check_args("{}", -EINVAL, "seconds");
	check_args("{\"seconds\":-1}", -EINVAL, "seconds");
	check_args("{\"seconds\":\"1\"}", -EINVAL, "seconds");
	check_args("{\"seconds\":1e9}", -EINVAL, "seconds");
	check_args("{\"seconds\":1,\"fail\":7}", -EINVAL, "fail");
}
END_TEST

struct job {
	const char *args;
	double timeout;         /* < 0: none */
	int rc;
	char error[KIND_ERROR_MAX];
	double slept;           /* from the result; -1 if none */
	double elapsed;
};

/* Run a sleep job the way a worker will: inside a deadline scope. */
static int
run_job(void *arg)
{
	struct job *j = arg;
	struct kind_run run = { 0 };
	struct co_scope sc;
	double t0 = co_now();
	json_t *args = json_loads(j->args, 0, NULL);

	ck_assert_ptr_nonnull(args);
	run.args = args;
	co_scope_enter(&sc, j->timeout);
	j->rc = kind_find("sleep")->run(&run);
	(void)co_scope_exit(&sc);
	j->elapsed = co_now() - t0;
	j->slept = -1;
	if (run.result != NULL)
		j->slept = json_real_value(json_object_get(run.result, "slept"));
	memcpy(j->error, run.error, sizeof(j->error));
	json_decref(run.result);
	json_decref(args);
	return 0;
}

START_TEST(test_sleep_succeeds)
{
	struct job j = { .args = "{\"seconds\":0.02}", .timeout = CO_FOREVER };

	tu_run(run_job, &j);
	ck_assert_int_eq(j.rc, 0);
	ck_assert(j.slept == 0.02);
	ck_assert_str_eq(j.error, "");
	tu_assert_time(j.elapsed, 0.02, 0.005);
}
END_TEST

START_TEST(test_sleep_fails_on_request)
{
	struct job j = { .args = "{\"seconds\":0.01,\"fail\":\"boom\"}", .timeout = CO_FOREVER };

	tu_run(run_job, &j);
	ck_assert_int_lt(j.rc, 0);
	ck_assert_int_ne(j.rc, -ECANCELED);
	ck_assert_int_ne(j.rc, -ETIMEDOUT);
	ck_assert_str_eq(j.error, "boom");
	ck_assert(j.slept == 0.01);             /* the result still says so */
	tu_assert_time(j.elapsed, 0.01, 0.005); /* after sleeping */
}
END_TEST

START_TEST(test_sleep_times_out)
{
	struct job j = { .args = "{\"seconds\":10}", .timeout = 0.02 };

	tu_run(run_job, &j);
	ck_assert_int_eq(j.rc, -ETIMEDOUT);
	ck_assert(j.slept == -1);
	tu_assert_time(j.elapsed, 0.02, 0.005);
}
END_TEST

static int
cancel_job(void *arg)
{
	struct job *j = arg;
	struct co_task *t;

	ck_assert_int_eq(co_spawn(tu_rt, run_job, j, &t), 0);
	ck_assert_int_eq(co_sleep(0.01), 0);
	co_cancel(t);
	return co_join(t, NULL);
}

START_TEST(test_sleep_cancelled)
{
	struct job j = { .args = "{\"seconds\":10}", .timeout = CO_FOREVER };

	tu_run(cancel_job, &j);
	ck_assert_int_eq(j.rc, -ECANCELED);
	tu_assert_time(j.elapsed, 0.01, 0.005);
}
END_TEST

START_TEST(test_sleep_run_rechecks_args)
{
	struct job j = { .args = "{\"seconds\":\"x\"}", .timeout = CO_FOREVER };

	tu_run(run_job, &j);
	ck_assert_int_eq(j.rc, -EINVAL);
	ck_assert_msg(strstr(j.error, "seconds") != NULL, "%s", j.error);
}
END_TEST

/* kind_rerun for kind name, args as text, the submit's idempotent. */
static bool
rerun(const char *name, const char *text, enum kind_idem idem, char *why)
{
	json_t *args = json_loads(text, 0, NULL);
	bool ok;

	ck_assert_ptr_nonnull(args);
	ok = kind_rerun(kind_find(name), args, idem, why, KIND_WHY_MAX);
	json_decref(args);
	return ok;
}

/* The contract's "Runs after a crash", kind by kind. */
START_TEST(test_rerun_rules)
{
	static const struct {
		const char *kind, *args;
		enum kind_idem idem;
		bool ok;
		const char *why;
	} cases[] = {
		{ "sleep", "{\"seconds\":1}", KIND_IDEM_UNSET, true, "" },
		{ "sleep", "{\"seconds\":1}", KIND_IDEM_YES, true, "" },
		{ "exec", "{\"argv\":[\"true\"]}", KIND_IDEM_UNSET, true, "" },
		{ "exec", "{\"argv\":[\"true\"]}", KIND_IDEM_NO, false,
		    "submitted with \"idempotent\": false" },
		{ "http", "{\"url\":\"http://127.0.0.1/\"}", KIND_IDEM_UNSET,
		    true, "" },
		{ "http", "{\"url\":\"http://x/\",\"method\":\"HEAD\"}",
		    KIND_IDEM_UNSET, true, "" },
		{ "http", "{\"url\":\"http://x/\",\"method\":\"OPTIONS\"}",
		    KIND_IDEM_UNSET, true, "" },
		{ "http", "{\"url\":\"http://x/\",\"method\":\"PUT\"}",
		    KIND_IDEM_UNSET, true, "" },
		{ "http", "{\"url\":\"http://x/\",\"method\":\"DELETE\"}",
		    KIND_IDEM_UNSET, true, "" },
		{ "http", "{\"url\":\"http://x/\",\"method\":\"POST\"}",
		    KIND_IDEM_UNSET, false, "POST is not idempotent" },
		{ "http", "{\"url\":\"http://x/\",\"method\":\"PATCH\"}",
		    KIND_IDEM_UNSET, false, "PATCH is not idempotent" },
		{ "http", "{\"url\":\"http://x/\",\"method\":\"TRACE\"}",
		    KIND_IDEM_UNSET, false, "TRACE is not idempotent" },
		{ "http", "{\"url\":\"http://x/\",\"method\":\"POST\"}",
		    KIND_IDEM_YES, true, "" },
		{ "http", "{\"url\":\"http://x/\",\"method\":\"PATCH\"}",
		    KIND_IDEM_YES, true, "" },
		{ "http", "{\"url\":\"http://x/\"}", KIND_IDEM_NO, false,
		    "submitted with \"idempotent\": false" },
	};
	char why[KIND_WHY_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool ok = rerun(cases[i].kind, cases[i].args, cases[i].idem,
		    why);

		ck_assert_msg(ok == cases[i].ok, "case %zu", i);
		ck_assert_str_eq(why, cases[i].why);
	}
}
END_TEST

START_TEST(test_rerun_unknown_and_text)
{
	char buf[256];

	/* No kind, no args: recovery ends such jobs for its own reason. */
	ck_assert(kind_rerun(NULL, NULL, KIND_IDEM_UNSET, buf, sizeof(buf)));
	ck_assert(!kind_rerun(NULL, NULL, KIND_IDEM_NO, buf, sizeof(buf)));
	kind_rerun_error(buf, sizeof(buf), "POST is not idempotent");
	ck_assert_str_eq(buf, "interrupted by a crash or stop; not run "
	    "again: POST is not idempotent");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("kind");
	TCase *tc = tcase_create("kind");

	tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_sleep_check);
	tcase_add_test(tc, test_sleep_succeeds);
	tcase_add_test(tc, test_sleep_fails_on_request);
	tcase_add_test(tc, test_sleep_times_out);
	tcase_add_test(tc, test_sleep_cancelled);
	tcase_add_test(tc, test_sleep_run_rechecks_args);
	tcase_add_test(tc, test_rerun_rules);
	tcase_add_test(tc, test_rerun_unknown_and_text);
	suite_add_tcase(s, tc);
	return tu_main(s);
}
