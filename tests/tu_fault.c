/*
 * tu_fault.c — see tu_fault.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tu_fault.h"

char *
tf_slurp(const char *name, size_t *lenp)
{
	return tj_slurp(tj_path(name), lenp);
}

void
tf_stderr_has(const char *needle)
{
	char *s = tf_slurp("other.err", NULL);

	ck_assert_msg(s != NULL && strstr(s, needle) != NULL,
	    "jobd's stderr lacks \"%s\":\n%s", needle, s);
	free(s);
}

void
tf_log_has(const char *needle)
{
	double end = tj_now() + TJ_TIMEOUT;

	while (strstr(tj_log(), needle) == NULL) {
		ck_assert_msg(tj_now() < end, "jobd's log lacks \"%s\":\n%s",
		    needle, tj_log());
		tj_sleep(0.02);
	}
}

json_t *
tf_try_submit(struct tj_conn *c, double seconds)
{
	return tj_req(c, "{'op':'submit','kind':'sleep','args':{'seconds':%g}}",
	    seconds);
}

void
tf_assert_storage_error(json_t *a, const char *n1, const char *n2)
{
	const char *msg;

	tj_assert_err(a, "storage_error");
	msg = tj_str(a, "error.message");
	ck_assert_ptr_nonnull(msg);
	ck_assert_msg(strstr(msg, n1) != NULL && (n2 == NULL ||
	    strstr(msg, n2) != NULL), "message \"%s\" lacks \"%s\"/\"%s\"",
	    msg, n1, n2 != NULL ? n2 : "");
}

static json_int_t
running_now(struct tj_conn *c)
{
	return tj_int(tj_req(c, "{'op':'stats'}"), "queues.default.running");
}

json_int_t
tf_start_running(struct tj_conn *c)
{
	json_int_t id;

	id = tj_submit(c, "'kind':'sleep','args':{'seconds':%g}", TF_RUN_S);
	tj_wait_state(c, id, "running", TJ_TIMEOUT);
	return id;
}

void
tf_assert_end_held(struct tj_conn *c, json_int_t id)
{
	double end = tj_now() + TJ_TIMEOUT;

	while (running_now(c) > 0) {
		ck_assert_msg(tj_now() < end, "job %lld still running",
		    (long long)id);
		tj_sleep(0.02);
	}
	ck_assert_str_eq(tj_sql("SELECT state FROM jobs WHERE id = %lld",
	    (long long)id), "running");
	ck_assert_str_eq(tj_str(tj_job(c, id), "state"), "running");
	tj_assert_err(tj_req(c, "{'op':'wait','id':%lld,'timeout':0.2}",
	    (long long)id), "timeout");
}

void
tf_assert_end_written(struct tj_conn *c, json_int_t id)
{
	json_t *job = tj_wait(c, id, TJ_TIMEOUT);

	ck_assert_str_eq(tj_str(job, "state"), "succeeded");
	ck_assert(fabs(tj_num(job, "result.slept") - TF_RUN_S) < 0.001);
	ck_assert_str_eq(tj_sql("SELECT state FROM jobs WHERE id = %lld",
	    (long long)id), "succeeded");
	tf_log_has("the last of those kept in memory");
}
