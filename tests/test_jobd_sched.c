/*
 * test_jobd_sched.c — [schedule.NAME] against the real jobd: the
 * schedules op, catch_up latest / all / none after a downtime, paused,
 * overlap = skip, one job per (schedule, slot) across SIGKILLs right
 * after the catch-up's submits, a bad SIGHUP keeping the running set, and
 * a slot made by the timer at its minute.
 *
 * A downtime is made by writing a schedule's earlier job straight into
 * the stopped jobd's database (sqlite3), an hour back.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tu_jobd.h"

#define EVERY "cron = * * * * *\nkind = sleep\nargs = {\"seconds\":0}\n"
#define SCHED_CONF TJ_DAEMON \
	"[queue.default]\nworkers = 4\ncapacity = 1000\ntimeout = 0\n" \
	"[queue.hold]\nworkers = 1\n" \
	"[schedule.a]\n" EVERY \
	"[schedule.b]\n" EVERY "catch_up = all\n" \
	"[schedule.c]\n" EVERY "catch_up = none\n" \
	"[schedule.d]\n" EVERY "paused = yes\n" \
	"[schedule.e]\n" EVERY "queue = hold\n" \
	"[schedule.f]\n" EVERY "queue = hold\noverlap = allow\n"

/* A job of schedule name at slot, in state (and queue). */
static void
seed(int id, const char *name, const char *queue, const char *state,
    long long slot)
{
	char sql[512];
	bool ended = strcmp(state, "queued") != 0;

	snprintf(sql, sizeof(sql), "INSERT INTO jobs (id, queue, kind, state, "
	    "args, created_at, finished_at, schedule, slot) VALUES (%d, '%s', "
	    "'sleep', '%s', '{\"seconds\":0}', %lld, %s, '%s', %lld)", id,
	    queue, state, slot, ended ? "1" : "NULL", name, slot);
	tj_sql_write("%s", sql);
}

/* The schedule named name in a schedules answer. */
static json_t *
sched_of(json_t *ans, const char *name)
{
	json_t *a = json_object_get(ans, "schedules"), *v;
	size_t i;

	json_array_foreach(a, i, v)
		if (strcmp(json_string_value(json_object_get(v, "name")),
		    name) == 0)
			return v;
	ck_abort_msg("no schedule %s in %s", name, tj_dump(ans));
	return NULL;
}

static long long
count_of(const char *name)
{
	return tj_sql_int("SELECT count(*) FROM jobs WHERE schedule = '%s'",
	    name);
}

/* Start, stop, seed an hour back, restart: the catch-up. */
static long long
downtime(void)
{
	long long t0 = ((long long)time(NULL) / 60) * 60 - 3600;

	tj_start(SCHED_CONF);
	tj_stop();
	tj_sql_write("INSERT INTO queue_pause (queue, paused_at) VALUES "
	    "('hold', 1)");
	seed(100, "a", "default", "succeeded", t0);
	seed(101, "b", "default", "succeeded", t0);
	seed(102, "c", "default", "succeeded", t0);
	seed(103, "d", "default", "succeeded", t0);
	seed(104, "e", "hold", "queued", t0);
	seed(105, "f", "hold", "queued", t0);
	tj_restart();
	return t0;
}

START_TEST(test_catch_up_policies)
{
	long long t0 = downtime(), latest;
	struct tj_conn *c = tj_connect();
	json_t *ans, *a, *d;

	tj_wait_sql(2, "SELECT count(*) FROM jobs WHERE schedule = 'a'");
	latest = tj_sql_int("SELECT CAST(max(slot) AS INTEGER) FROM jobs WHERE schedule = 'a'");
	ck_assert_int_gt(latest, t0 + 3500);
	ck_assert_int_eq(latest % 60, 0);
	/* all: every minute since; the same newest slot */
	tj_wait_sql((latest - t0) / 60 + 1, "SELECT count(*) FROM jobs WHERE "
	    "schedule = 'b'");
	ck_assert_int_eq(tj_sql_int("SELECT CAST(max(slot) AS INTEGER) FROM jobs WHERE "
	    "schedule = 'b'"), latest);
	/* e's last job waits in a paused queue: overlap = skip made none;
	 * f allows overlap: it made its one. */
	tj_wait_sql(2, "SELECT count(*) FROM jobs WHERE schedule = 'f'");
	ans = tj_req(c, "{'op':'schedules'}");
	tj_assert_ok(ans);
	ck_assert_int_eq(count_of("c"), 1);
	ck_assert_int_eq(count_of("d"), 1);
	ck_assert_int_eq(count_of("e"), 1);
	a = sched_of(ans, "a");
	ck_assert_str_eq(tj_str(a, "cron"), "* * * * *");
	ck_assert_str_eq(tj_str(a, "queue"), "default");
	ck_assert(tj_null(a, "timezone"));
	ck_assert_int_eq((long long)tj_num(a, "last_slot"), latest);
	ck_assert_int_eq(tj_int(a, "last_job"), tj_sql_int("SELECT id FROM "
	    "jobs WHERE schedule = 'a' AND slot = %lld", latest));
	ck_assert_int_ge((long long)tj_num(a, "next_run_at"), latest + 60);
	ck_assert(!json_is_true(json_object_get(a, "paused")));
	d = sched_of(ans, "d");
	ck_assert(json_is_true(json_object_get(d, "paused")));
	ck_assert(tj_null(d, "next_run_at"));
	/* The job shows where it came from. */
	a = tj_job(c, tj_int(a, "last_job"));
	ck_assert_str_eq(tj_str(a, "schedule"), "a");
	ck_assert_int_eq((long long)tj_num(a, "slot"), latest);
	ck_assert_str_eq(tj_str(tj_wait(c, tj_int(a, "id"), TJ_TIMEOUT),
	    "state"), "succeeded");
	tj_close(c);
}
END_TEST

/* SIGKILL right after the catch-up's submits, three times: never two
 * jobs for one slot, and the newest slot has its job in the end. */
START_TEST(test_one_job_per_slot_across_kills)
{
	long long latest;

	(void)downtime();
	for (int i = 0; i < 3; i++) {
		tj_kill();
		tj_restart();
	}
	tj_wait_sql(2, "SELECT count(*) FROM jobs WHERE schedule = 'a'");
	latest = tj_sql_int("SELECT CAST(max(slot) AS INTEGER) FROM jobs WHERE schedule = 'a'");
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM (SELECT schedule, "
	    "slot FROM jobs WHERE schedule IS NOT NULL GROUP BY schedule, slot "
	    "HAVING count(*) > 1) AS d"), 0);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs WHERE "
	    "schedule = 'a' AND slot = %lld", latest), 1);
	tj_wait_sql(0, "SELECT count(*) FROM jobs WHERE queue = 'default' AND "
	    "state <> 'succeeded'");
}
END_TEST

/* A bad reload keeps the schedules; a good one adds and removes. */
START_TEST(test_reload)
{
	struct tj_conn *c;
	json_t *ans;

	tj_start(TJ_DAEMON "[schedule.one]\n" EVERY);
	c = tj_connect();
	tj_conf(TJ_DAEMON "[schedule.one]\n" EVERY "[schedule.two]\n"
	    "cron = 61 * * * *\nkind = sleep\n");
	tj_signal(SIGHUP);
	tj_sleep(0.3);
	ck_assert_msg(strstr(tj_log(), "reload refused") != NULL, "%s",
	    tj_log());
	ck_assert_msg(strstr(tj_log(), "cron: ") != NULL, "%s", tj_log());
	ans = tj_req(c, "{'op':'schedules'}");
	ck_assert_uint_eq(json_array_size(json_object_get(ans, "schedules")),
	    1);
	tj_conf(TJ_DAEMON "[schedule.two]\ncron = 0 3 * * *\n"
	    "timezone = Europe/Berlin\nkind = sleep\nargs = {\"seconds\":0}\n");
	tj_signal(SIGHUP);
	tj_sleep(0.3);
	ans = tj_req(c, "{'op':'schedules'}");
	ck_assert_uint_eq(json_array_size(json_object_get(ans, "schedules")),
	    1);
	ck_assert_str_eq(tj_str(sched_of(ans, "two"), "timezone"),
	    "Europe/Berlin");
	tj_close(c);
}
END_TEST

/* The timer: the next minute's slot gets its job, at its time. */
START_TEST(test_timer_makes_the_slot)
{
	struct tj_conn *c;
	json_t *ans;
	long long next;
	double made;

	tj_start(TJ_DAEMON "[schedule.m]\n" EVERY);
	c = tj_connect();
	ans = tj_req(c, "{'op':'schedules'}");
	next = (long long)tj_num(sched_of(ans, "m"), "next_run_at");
	ck_assert_int_eq(next % 60, 0);
	ck_assert_int_le(next - (long long)time(NULL), 60);
	tj_note("waiting for the slot at %lld (%lld s)", next,
	    next - (long long)time(NULL));
	while (count_of("m") == 0 && time(NULL) < next + 10)
		tj_sleep(0.25);
	ck_assert_int_eq(count_of("m"), 1);
	ck_assert_int_eq(tj_sql_int("SELECT CAST(slot AS INTEGER) FROM jobs WHERE schedule = "
	    "'m'"), next);
	made = atof(tj_sql("SELECT created_at FROM jobs WHERE schedule = "
	    "'m'"));
	ck_assert_msg(made >= next && made < next + 5, "made at %f", made);
	tj_close(c);
}
END_TEST

static Suite *
jobd_sched_suite(void)
{
	Suite *s = suite_create("jobd_sched");
	TCase *tc = tj_tcase("sched", 120);

	tcase_add_test(tc, test_catch_up_policies);
	tcase_add_test(tc, test_one_job_per_slot_across_kills);
	tcase_add_test(tc, test_reload);
	tcase_add_test(tc, test_timer_makes_the_slot);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(jobd_sched_suite());
}
