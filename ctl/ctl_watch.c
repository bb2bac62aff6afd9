/*
 * ctl_watch.c — jobctl watch (see ctl_watch.h).
 *
 * One line per change: time of the change, id, queue, kind, the new state,
 * then what is worth a glance (the name, the error, the attempt).  Lines
 * are flushed as they come, so `jobctl watch | grep failed` is live.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ctl_call.h"
#include "ctl_show.h"
#include "ctl_watch.h"
#include "jc.h"

volatile int ctl_watch_stop;

static void
on_stop(int sig)
{
	(void)sig;
	ctl_watch_stop = 1;
}

/* SIGINT and SIGTERM end the watch (without SA_RESTART, so a read
 * returns) instead of killing jobctl mid-line. */
void
ctl_watch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int
ctl_watch_start(struct ctl *ctl, const char *queue, json_int_t id,
    json_int_t group)
{
	json_t *req = json_pack("{s:s}", "op", "watch"), *ans;
	int rc;

	if (req != NULL && queue != NULL)
		json_object_set_new(req, "queue", json_string(queue));
	if (req != NULL && id > 0)
		json_object_set_new(req, "id", json_integer(id));
	if (req != NULL && group > 0)
		json_object_set_new(req, "group", json_integer(group));
	if ((rc = ctl_call(ctl, req, &ans)) != CTL_CONTINUE)
		return rc;
	json_decref(ans);
	return CTL_CONTINUE;
}

/* "12:03:04.512" of epoch seconds t, local time. */
static void
clock_text(double t, char *buf, size_t len)
{
	time_t s = (time_t)t;
	struct tm tm;

	localtime_r(&s, &tm);
	snprintf(buf, len, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (int)((t - (double)s) * 1000));
}

/* When the change happened: the time its state was reached. */
static double
change_time(const json_t *job)
{
	const char *st = json_string_value(json_object_get(job, "state"));
	const char *key = st == NULL ? "created_at" :
	    strcmp(st, "queued") == 0 ? "created_at" :
	    strcmp(st, "running") == 0 ? "started_at" : "finished_at";
	json_t *v = json_object_get(job, key);

	return json_is_number(v) ? json_number_value(v) : ctl_now();
}

/* An event about no one job's state (PROTOCOL.md, watch), one line,
 * stamped now. */
static void
print_other(const json_t *ev, const char *e)
{
	const char *q = json_string_value(json_object_get(ev, "queue"));
	char when[32], *clean = ctl_clean(q != NULL ? q : "");

	if (e == NULL || clean == NULL) {
		free(clean);
		return;
	}
	clock_text(ctl_now(), when, sizeof(when));
	if (strcmp(e, "queue") == 0)
		printf("%s  queue %s %s\n", when, clean, json_is_true(
		    json_object_get(ev, "paused")) ? "paused" : "resumed");
	else if (strcmp(e, "pruned") == 0)
		printf("%s  %lld ended jobs pruned%s%s\n", when,
		    (long long)json_integer_value(json_object_get(ev,
		    "deleted")), q != NULL ? " from queue " : "", clean);
	else if (strcmp(e, "duplicate") == 0)
		printf("%s  %6lld  %-12s a duplicate submit: nothing made\n",
		    when, (long long)json_integer_value(json_object_get(ev,
		    "id")), clean);
	free(clean);
}

static void
print_event(const json_t *ev)
{
	const json_t *job = json_object_get(ev, "job");
	const char *e = json_string_value(json_object_get(ev, "event"));
	const char *name, *err, *reason;
	char when[32], *clean;

	if (e != NULL && strcmp(e, "dropped") == 0) {
		printf("-- %lld changes not shown: jobctl read too slowly\n",
		    (long long)json_integer_value(json_object_get(ev, "count")));
		return;
	}
	if (job == NULL) {
		print_other(ev, e);
		return;
	}
	clock_text(change_time(job), when, sizeof(when));
	printf("%s  %6lld  %-12s %-6s %-10s", when,
	    (long long)json_integer_value(json_object_get(job, "id")),
	    json_string_value(json_object_get(job, "queue")),
	    json_string_value(json_object_get(job, "kind")),
	    json_string_value(json_object_get(job, "state")));
	if ((name = json_string_value(json_object_get(job, "name"))) != NULL &&
	    (clean = ctl_clean(name)) != NULL) {
		printf(" %s", clean);
		free(clean);
	}
	if (json_integer_value(json_object_get(job, "attempts")) > 1)
		printf(" (attempt %lld)", (long long)json_integer_value(
		    json_object_get(job, "attempts")));
	err = json_string_value(json_object_get(job, "error"));
	reason = json_string_value(json_object_get(job, "cancel_reason"));
	if ((err != NULL || reason != NULL) &&
	    (clean = ctl_clean(err != NULL ? err : reason)) != NULL) {
		printf(": %s", clean);
		free(clean);
	}
	putchar('\n');
}

int
ctl_watch(struct ctl *ctl, const char *queue, json_int_t id,
    json_int_t group)
{
	json_t *ev;
	size_t len;
	char *line;
	int rc;

	ctl_watch_signals();
	if ((rc = ctl_watch_start(ctl, queue, id, group)) != CTL_CONTINUE)
		return rc;
	fflush(stdout);
	while (!ctl_watch_stop) {
		rc = jc_recv(ctl->conn, 0.5, &line, &len);
		if (rc == -ETIMEDOUT || rc == -EINTR)
			continue;
		if (rc < 0) {
			if (rc != -EPIPE)
				ctl_say("reading from jobd: %s", strerror(-rc));
			else
				ctl_say("jobd closed the connection");
			return CTL_CONNECT;
		}
		if (ctl->json) {
			printf("%s\n", line);
		} else if ((ev = json_loadb(line, len, 0, NULL)) != NULL) {
			print_event(ev);
			json_decref(ev);
		}
		fflush(stdout);
	}
	return CTL_OK;
}
