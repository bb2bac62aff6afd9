/*
 * test_client_life.c — lib/client's lifecycle calls against the real jobd
 * (test_client_api.c has them against a fake server, and the first
 * stage's calls against jobd): a submit with the lifecycle's fields
 * (priority, retries, retry policy, delay, unique_key and its duplicate),
 * jc_pause and jc_resume, jc_retry (and not_retryable), jc_prune,
 * jc_schedules, and jc_watch_next handing the events about no job's state
 * (a pause) as JC_EVENT_OTHER with the raw line.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jc.h"
#include "tu_jobd.h"

#define LIFE_CONF TJ_DAEMON                                                 \
	"[queue.default]\nworkers = 2\ncapacity = 100\ntimeout = 0\n"       \
	"[queue.small]\nworkers = 1\n"                                      \
	"[schedule.nightly]\ncron = 30 2 * * *\nkind = sleep\n"             \
	"args = {\"seconds\":0}\nqueue = small\n"

static struct jc_conn *
life_start(void)
{
	struct jc_conn *c;

	tj_start(LIFE_CONF);
	ck_assert_int_eq(jc_open(tj_path("jobd.sock"), &c), 0);
	return c;
}

static void
assert_jobd_err(struct jc_conn *c, int rc, enum jc_code code)
{
	const struct jc_error *e = jc_last_error(c);

	ck_assert_msg(rc == JC_EJOBD && e->code == code,
	    "rc %d, code %s (%s), expected %s", rc, e->name, e->message,
	    jc_code_name(code));
}

static json_int_t
num(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* Every lifecycle field of a submit reaches jobd and comes back in
 * {JOB}; a held unique_key answers the holder's id as a duplicate. */
START_TEST(test_submit_fields)
{
	struct jc_conn *c = life_start();
	struct jc_submit_opts o = JC_SUBMIT_INIT;
	json_t *args = json_pack("{s:i,s:s}", "seconds", 0, "fail", "boom");
	int64_t id, again;
	bool dup = true;
	json_t *job;

	o.priority = 2;
	o.retries = 1;
	o.retry_delay = 0.1;
	o.retry_max_delay = 5;
	o.retry_backoff = "fixed";
	o.delay = 0.2;
	o.unique_key = "life-1";
	o.name = "fields";
	ck_assert_int_eq(jc_submit(c, "sleep", args, &o, &id, &dup), 0);
	ck_assert(!dup);
	ck_assert_int_eq(jc_submit(c, "sleep", args, &o, &again, &dup), 0);
	ck_assert(dup);
	ck_assert_int_eq(again, id);
	ck_assert_int_eq(jc_wait(c, id, TJ_TIMEOUT, &job), 0);
	ck_assert_str_eq(json_string_value(json_object_get(job, "state")),
	    "failed");
	ck_assert_int_eq(num(job, "priority"), 2);
	ck_assert_int_eq(num(job, "retries"), 1);
	ck_assert_int_eq(num(job, "attempts"), 2);     /* one retry */
	ck_assert_str_eq(json_string_value(json_object_get(job,
	    "retry_backoff")), "fixed");
	ck_assert_str_eq(json_string_value(json_object_get(job,
	    "unique_key")), "life-1");
	ck_assert(json_number_value(json_object_get(job, "run_at")) > 0);
	json_decref(job);
	json_decref(args);
	jc_close(c);
}
END_TEST

/* pause, resume, retry, prune, schedules; a watcher sees the pause and
 * the resume as JC_EVENT_OTHER, in order with the jobs' events. */
START_TEST(test_lifecycle_calls)
{
	struct jc_conn *c = life_start(), *w;
	json_t *args = json_pack("{s:i,s:s}", "seconds", 0, "fail", "x");
	struct jc_submit_opts o = JC_SUBMIT_INIT;
	const char *const failed[] = { "failed", NULL };
	struct jc_event ev;
	json_t *job, *sch, *st;
	int64_t id, n = -1;

	ck_assert_int_eq(jc_open(tj_path("jobd.sock"), &w), 0);
	ck_assert_int_eq(jc_watch(w, "small", 0, 0), 0);
	ck_assert_int_eq(jc_pause(c, "small"), 0);
	ck_assert_int_eq(jc_stats(c, &st), 0);
	ck_assert(json_is_true(json_object_get(json_object_get(json_object_get(
	    st, "queues"), "small"), "paused")));
	json_decref(st);
	ck_assert_int_eq(jc_resume(c, "small"), 0);
	assert_jobd_err(c, jc_pause(c, "nope"), JC_E_UNKNOWN_QUEUE);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(jc_watch_next(w, TJ_TIMEOUT, &ev), 0);
		ck_assert_int_eq(ev.type, JC_EVENT_OTHER);
		ck_assert_str_eq(json_string_value(json_object_get(ev.raw,
		    "event")), "queue");
		ck_assert(json_is_boolean(json_object_get(ev.raw, "paused")));
		ck_assert(json_is_true(json_object_get(ev.raw, "paused")) ==
		    (i == 0));
		jc_event_clear(&ev);
	}

	o.queue = "small";
	ck_assert_int_eq(jc_submit(c, "sleep", args, &o, &id, NULL), 0);
	ck_assert_int_eq(jc_wait(c, id, TJ_TIMEOUT, &job), 0);
	json_decref(job);
	ck_assert_int_eq(jc_retry(c, id), 0);
	ck_assert_int_eq(jc_wait(c, id, TJ_TIMEOUT, &job), 0);
	ck_assert_int_eq(num(job, "attempts"), 2);
	json_decref(job);
	assert_jobd_err(c, jc_retry(c, 999999), JC_E_NOT_FOUND);
	ck_assert_int_eq(jc_prune(c, (double)time(NULL) + 60, failed, &n), 0);
	ck_assert_int_eq(n, 1);
	assert_jobd_err(c, jc_get(c, id, false, &job), JC_E_NOT_FOUND);
	assert_jobd_err(c, jc_retry(c, id), JC_E_NOT_FOUND);

	ck_assert_int_eq(jc_schedules(c, &sch), 0);
	ck_assert_int_eq(json_array_size(sch), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(sch,
	    0), "name")), "nightly");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(sch,
	    0), "cron")), "30 2 * * *");
	json_decref(sch);
	json_decref(args);
	jc_close(w);
	jc_close(c);
}
END_TEST

/* A succeeded job is not retryable. */
START_TEST(test_not_retryable)
{
	struct jc_conn *c = life_start();
	json_t *args = json_pack("{s:i}", "seconds", 0), *job;
	int64_t id;

	ck_assert_int_eq(jc_submit(c, "sleep", args, NULL, &id, NULL), 0);
	ck_assert_int_eq(jc_wait(c, id, TJ_TIMEOUT, &job), 0);
	json_decref(job);
	assert_jobd_err(c, jc_retry(c, id), JC_E_NOT_RETRYABLE);
	json_decref(args);
	jc_close(c);
}
END_TEST

static Suite *
client_life_suite(void)
{
	Suite *s = suite_create("client_life");
	TCase *tc = tj_tcase("life", 60);

	tcase_add_test(tc, test_submit_fields);
	tcase_add_test(tc, test_lifecycle_calls);
	tcase_add_test(tc, test_not_retryable);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(client_life_suite());
}
