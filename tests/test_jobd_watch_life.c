/*
 * test_jobd_watch_life.c — the watch op against the real jobd through the
 * lifecycle's changes: every state change of the contract's lifecycle
 * gives its event, in order (a retry's running -> scheduled -> queued, a
 * delayed job coming due, the retry op reviving an ended job or starting
 * a scheduled one now, a schedule's slot), and the events about no one
 * job's state: a pause and a resume, jobs pruned (the op and retention),
 * a duplicate submit (unique_key).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tu_jobd.h"

#define LIFE_QUEUES                                                         \
	"[queue.default]\nworkers = 4\ncapacity = 1000\ntimeout = 0\n"      \
	"[queue.other]\nworkers = 1\n"

/* The next event on w, parsed; the caller owns it. */
static json_t *
next_event(struct tj_conn *w)
{
	char *line = tj_line(w, TJ_TIMEOUT);
	json_t *ev;

	ck_assert_msg(line != NULL, "no event");
	ev = json_loads(line, 0, NULL);
	ck_assert_msg(ev != NULL && tj_str(ev, "event") != NULL,
	    "not an event: %s", line);
	return ev;
}

/* The next events on w are id's, in the states given (NULL ends the
 * list); returns the last one (the caller's). */
static json_t *
expect_states(struct tj_conn *w, json_int_t id, const char *const *states)
{
	json_t *ev = NULL;

	for (; *states != NULL; states++) {
		json_decref(ev);
		ev = next_event(w);
		ck_assert_msg(strcmp(tj_str(ev, "event"), "job") == 0 &&
		    tj_int(ev, "job.id") == id &&
		    strcmp(tj_str(ev, "job.state"), *states) == 0,
		    "wanted job %lld %s, got %s", (long long)id, *states,
		    tj_dump(ev));
	}
	return ev;
}

/* Nothing more on w for a moment. */
static void
expect_quiet(struct tj_conn *w)
{
	char *line = tj_line(w, 0.3);

	ck_assert_msg(line == NULL, "one event too many: %s", line);
}

/* A job that fails with a retry left: running -> scheduled (with the
 * failed attempt's error) -> queued when its time comes -> running ->
 * failed, its last. */
START_TEST(test_watch_retry)
{
	static const char *const first[] = { "queued", "running", "scheduled",
		NULL };
	static const char *const then[] = { "queued", "running", "failed",
		NULL };
	struct tj_conn *c = (tj_start(TJ_DAEMON LIFE_QUEUES), tj_connect());
	struct tj_conn *w = tj_connect();
	json_int_t id;
	json_t *ev;

	tj_assert_ok(tj_req(w, "{'op':'watch'}"));
	id = tj_submit(c, "'kind':'sleep','args':{'seconds':0,'fail':'boom'},"
	    "'retries':1,'retry_delay':0.2,'retry_backoff':'fixed'");
	ev = expect_states(w, id, first);
	ck_assert_str_eq(tj_str(ev, "job.error"), "boom");
	ck_assert_int_eq(tj_int(ev, "job.attempts"), 1);
	ck_assert_int_eq(tj_int(ev, "job.retries"), 1);
	ck_assert(tj_num(ev, "job.run_at") > tj_num(ev, "job.started_at"));
	json_decref(ev);
	ev = expect_states(w, id, then);
	ck_assert_int_eq(tj_int(ev, "job.attempts"), 2);
	json_decref(ev);
	tj_wait(c, id, TJ_TIMEOUT);
	expect_quiet(w);
}
END_TEST

/* A delayed job: scheduled, queued when due, running, succeeded. */
START_TEST(test_watch_due)
{
	static const char *const all[] = { "scheduled", "queued", "running",
		"succeeded", NULL };
	struct tj_conn *c = (tj_start(TJ_DAEMON LIFE_QUEUES), tj_connect());
	struct tj_conn *w = tj_connect();
	json_int_t id;

	tj_assert_ok(tj_req(w, "{'op':'watch','queue':'other'}"));
	id = tj_submit(c, "'kind':'sleep','args':{'seconds':0},'delay':0.3,"
	    "'queue':'other','priority':2");
	json_t *ev = expect_states(w, id, all);
	ck_assert_int_eq(tj_int(ev, "job.priority"), 2);
	ck_assert(tj_num(ev, "job.run_at") > 0);
	json_decref(ev);
	expect_quiet(w);
}
END_TEST

/* The retry op: an ended job revived (queued, running, its end again),
 * a scheduled one started now (queued at once, not at its run_at). */
START_TEST(test_watch_retry_op)
{
	static const char *const failed[] = { "queued", "running", "failed",
		NULL };
	static const char *const delayed[] = { "scheduled", NULL };
	static const char *const now[] = { "queued", "running", "succeeded",
		NULL };
	struct tj_conn *c = (tj_start(TJ_DAEMON LIFE_QUEUES), tj_connect());
	struct tj_conn *w = tj_connect();
	json_int_t id, later;

	tj_assert_ok(tj_req(w, "{'op':'watch'}"));
	id = tj_submit(c, "'kind':'sleep','args':{'seconds':0,'fail':'boom'}");
	json_decref(expect_states(w, id, failed));
	tj_wait(c, id, TJ_TIMEOUT);
	tj_assert_ok(tj_req(c, "{'op':'retry','id':%lld}", (long long)id));
	json_t *ev = expect_states(w, id, failed);
	ck_assert_int_eq(tj_int(ev, "job.attempts"), 2);
	json_decref(ev);

	later = tj_submit(c, "'kind':'sleep','args':{'seconds':0},"
	    "'delay':3600");
	json_decref(expect_states(w, later, delayed));
	tj_assert_ok(tj_req(c, "{'op':'retry','id':%lld}", (long long)later));
	json_decref(expect_states(w, later, now));
	expect_quiet(w);
}
END_TEST

/* A pause and a resume: one queue event each, to the watchers of that
 * queue or of all, not to one watching a job. */
START_TEST(test_watch_pause)
{
	struct tj_conn *c = (tj_start(TJ_DAEMON LIFE_QUEUES), tj_connect());
	struct tj_conn *all = tj_connect(), *oth = tj_connect();
	struct tj_conn *one = tj_connect();
	json_t *ev;

	tj_assert_ok(tj_req(all, "{'op':'watch'}"));
	tj_assert_ok(tj_req(oth, "{'op':'watch','queue':'default'}"));
	tj_assert_ok(tj_req(one, "{'op':'watch','id':1}"));
	tj_assert_ok(tj_req(c, "{'op':'pause','queue':'other'}"));
	tj_assert_ok(tj_req(c, "{'op':'pause','queue':'other'}")); /* no change */
	tj_assert_ok(tj_req(c, "{'op':'resume','queue':'other'}"));
	ev = next_event(all);
	ck_assert_str_eq(tj_str(ev, "event"), "queue");
	ck_assert_str_eq(tj_str(ev, "queue"), "other");
	ck_assert(json_is_true(tj_at(ev, "paused")));
	json_decref(ev);
	ev = next_event(all);
	ck_assert_str_eq(tj_str(ev, "event"), "queue");
	ck_assert(json_is_false(tj_at(ev, "paused")));
	json_decref(ev);
	expect_quiet(all);
	expect_quiet(oth);
	expect_quiet(one);
}
END_TEST

/* The prune op, then retention: a pruned event per batch that deleted
 * some, after the jobs' own events. */
START_TEST(test_watch_prune)
{
	static const char *const ok[] = { "queued", "running", "succeeded",
		NULL };
	struct tj_conn *c, *w;
	json_int_t a, b;
	json_t *ev;

	tj_start(TJ_DAEMON "prune_interval = 1\n" LIFE_QUEUES
	    "retain_succeeded = 1\n");
	c = tj_connect();
	w = tj_connect();
	tj_assert_ok(tj_req(w, "{'op':'watch'}"));
	a = tj_submit(c, "'kind':'sleep','args':{'seconds':0}");
	json_decref(expect_states(w, a, ok));
	/* default keeps its jobs (7 d): the op takes a. */
	tj_assert_ok(tj_req(c, "{'op':'prune','before':%lld}",
	    (long long)time(NULL) + 60));
	ev = next_event(w);
	ck_assert_msg(strcmp(tj_str(ev, "event"), "pruned") == 0, "%s",
	    tj_dump(ev));
	ck_assert(tj_null(ev, "queue"));
	ck_assert_int_eq(tj_int(ev, "deleted"), 1);
	json_decref(ev);
	/* other keeps succeeded jobs 1 s; the pruner looks every second. */
	b = tj_submit(c, "'kind':'sleep','args':{'seconds':0},'queue':'other'");
	json_decref(expect_states(w, b, ok));
	ev = next_event(w);
	ck_assert_msg(strcmp(tj_str(ev, "event"), "pruned") == 0, "%s",
	    tj_dump(ev));
	ck_assert_str_eq(tj_str(ev, "queue"), "other");
	ck_assert_int_eq(tj_int(ev, "deleted"), 1);
	json_decref(ev);
	tj_assert_err(tj_req(c, "{'op':'get','id':%lld}", (long long)b),
	    "not_found");
}
END_TEST

/* A submit whose unique_key is held makes nothing: a duplicate event
 * naming the holder, to a watcher of the holder's id too. */
START_TEST(test_watch_duplicate)
{
	static const char *const held[] = { "queued", "running", NULL };
	struct tj_conn *c = (tj_start(TJ_DAEMON LIFE_QUEUES), tj_connect());
	struct tj_conn *w = tj_connect(), *one = tj_connect();
	json_int_t id;
	json_t *ans, *ev;

	tj_assert_ok(tj_req(w, "{'op':'watch'}"));
	id = tj_submit(c, "'kind':'sleep','args':{'seconds':3600},"
	    "'unique_key':'k1','name':'first'");
	json_decref(expect_states(w, id, held));
	tj_send(one, "{'op':'watch','id':%lld}", (long long)id);
	tj_assert_ok(tj_recv(one));
	ans = tj_req(c, "{'op':'submit','kind':'sleep','args':{'seconds':0},"
	    "'unique_key':'k1','name':'second'}");
	tj_assert_ok(ans);
	ck_assert(json_is_true(tj_at(ans, "duplicate")));
	ck_assert_int_eq(tj_int(ans, "id"), id);
	for (int i = 0; i < 2; i++) {
		ev = next_event(i == 0 ? w : one);
		ck_assert_msg(strcmp(tj_str(ev, "event"), "duplicate") == 0,
		    "%s", tj_dump(ev));
		ck_assert_int_eq(tj_int(ev, "id"), id);
		ck_assert_str_eq(tj_str(ev, "queue"), "default");
		ck_assert_str_eq(tj_str(ev, "name"), "second");
		json_decref(ev);
	}
	expect_quiet(w);
	tj_assert_ok(tj_req(c, "{'op':'cancel','id':%lld}", (long long)id));
	ev = next_event(w);
	ck_assert_str_eq(tj_str(ev, "job.state"), "cancelled");
	json_decref(ev);
}
END_TEST

/* A schedule's slot makes its job: queued, running, succeeded.  Slots
 * are whole minutes, so this waits for the next one (up to a minute). */
START_TEST(test_watch_slot)
{
	struct tj_conn *w;
	json_t *ev;
	json_int_t id;

	tj_start(TJ_DAEMON LIFE_QUEUES "[schedule.tick]\ncron = * * * * *\n"
	    "kind = sleep\nargs = {\"seconds\":0}\ncatch_up = none\n");
	w = tj_connect();
	tj_assert_ok(tj_req(w, "{'op':'watch'}"));
	for (;;) {      /* a slot's job; the catch-up's may come first */
		char *line = tj_line(w, 70 * tu_slow());

		ck_assert_msg(line != NULL, "no slot's job in 70 s");
		ck_assert_ptr_nonnull(ev = json_loads(line, 0, NULL));
		if (strcmp(tj_str(ev, "job.state"), "queued") == 0)
			break;
		json_decref(ev);
	}
	id = tj_int(ev, "job.id");
	json_decref(ev);
	static const char *const rest[] = { "running", "succeeded", NULL };
	json_decref(expect_states(w, id, rest));
	tj_wait_sql(1, "SELECT count(*) FROM jobs WHERE id = %lld AND "
	    "schedule = 'tick' AND slot IS NOT NULL", (long long)id);
}
END_TEST

/* jobctl watch prints one line per event, the ones about no job too, and
 * ends on SIGINT with status 0. */
START_TEST(test_jobctl_watch)
{
	struct tj_conn *c = (tj_start(TJ_DAEMON LIFE_QUEUES), tj_connect());
	const char *out = NULL;
	char path[4096];
	json_int_t id;
	pid_t pid;
	int st;

	snprintf(path, sizeof(path), "%s", tj_path("watch.out"));
	if ((pid = fork()) == 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fd, 1);
		execl(tj_bin("jobctl"), "jobctl", "-s", tj_path("jobd.sock"),
		    "watch", "--queue", "other", (char *)NULL);
		_exit(127);
	}
	ck_assert_int_gt(pid, 0);
	tj_wait_connections(c, 2, TJ_TIMEOUT);
	tj_sleep(0.2);          /* its watch request is in */
	tj_assert_ok(tj_req(c, "{'op':'pause','queue':'other'}"));
	tj_assert_ok(tj_req(c, "{'op':'resume','queue':'other'}"));
	id = tj_submit(c, "'kind':'sleep','args':{'seconds':0,'fail':'boom'},"
	    "'queue':'other','name':'w1','retries':1,'retry_delay':0.1");
	tj_wait(c, id, TJ_TIMEOUT);
	for (double end = tj_now() + TJ_TIMEOUT;; tj_sleep(0.05)) {
		free((char *)out);
		out = tj_slurp(path, NULL);
		if (out != NULL && strstr(out, "failed") != NULL &&
		    strstr(out, "(attempt 2)") != NULL)
			break;
		ck_assert_msg(tj_now() < end, "jobctl watch printed: %s", out);
	}
	kill(pid, SIGINT);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	ck_assert_ptr_nonnull(strstr(out, "queue other paused\n"));
	ck_assert_ptr_nonnull(strstr(out, "queue other resumed\n"));
	ck_assert(strstr(out, " queued ") < strstr(out, " running "));
	ck_assert(strstr(out, " running ") < strstr(out, " scheduled "));
	ck_assert_ptr_nonnull(strstr(out, "scheduled  w1: boom\n"));
	ck_assert_ptr_nonnull(strstr(out, "failed     w1 (attempt 2): boom\n"));
	free((char *)out);
}
END_TEST

static Suite *
jobd_watch_life_suite(void)
{
	Suite *s = suite_create("jobd_watch_life");
	TCase *tc = tj_tcase("events", 120);

	tcase_add_test(tc, test_watch_retry);
	tcase_add_test(tc, test_watch_due);
	tcase_add_test(tc, test_watch_retry_op);
	tcase_add_test(tc, test_watch_pause);
	tcase_add_test(tc, test_watch_prune);
	tcase_add_test(tc, test_watch_duplicate);
	tcase_add_test(tc, test_watch_slot);
	tcase_add_test(tc, test_jobctl_watch);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(jobd_watch_life_suite());
}
