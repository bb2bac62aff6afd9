/*
 * ctl_sched.c — `jobctl schedules`: the schedules op's answer as a table,
 * one schedule a line, with its next run in local time and how far off
 * it is.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "ctl_show.h"
#include "duration.h"

/* "2027-01-01 03:00 (in 3h)", or "-" for none. */
static void
fmt_next(const json_t *v, double now, char *buf, size_t len)
{
	char when[64], in[32];

	if (!json_is_number(v)) {
		snprintf(buf, len, "-");
		return;
	}
	ctl_fmt_time(json_number_value(v), false, when, sizeof(when));
	dur_format(json_number_value(v) - now, in, sizeof(in));
	snprintf(buf, len, "%s (in %s)", when, in);
}

static const char *
str_or(const json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : dflt;
}

void
ctl_show_schedules(FILE *f, const json_t *answer, double now)
{
	const json_t *a = json_object_get(answer, "schedules"), *s;
	char next[128], last[64], job[32];
	size_t i;

	if (json_array_size(a) == 0) {
		fprintf(f, "no schedules ([schedule.NAME] in the config)\n");
		return;
	}
	fprintf(f, "%-20s %-16s %-16s %-10s %-32s %-20s %s\n", "NAME", "CRON",
	    "TIMEZONE", "QUEUE", "NEXT RUN", "LAST SLOT", "LAST JOB");
	json_array_foreach(a, i, s) {
		fmt_next(json_object_get(s, "next_run_at"), now, next,
		    sizeof(next));
		if (json_is_true(json_object_get(s, "paused")))
			snprintf(next, sizeof(next), "paused");
		if (json_is_number(json_object_get(s, "last_slot")))
			ctl_fmt_time(json_number_value(json_object_get(s,
			    "last_slot")), false, last, sizeof(last));
		else
			snprintf(last, sizeof(last), "-");
		if (json_is_integer(json_object_get(s, "last_job")))
			snprintf(job, sizeof(job), "%lld", (long long)
			    json_integer_value(json_object_get(s, "last_job")));
		else
			snprintf(job, sizeof(job), "-");
		fprintf(f, "%-20s %-16s %-16s %-10s %-32s %-20s %s\n",
		    str_or(s, "name", "?"), str_or(s, "cron", "?"),
		    str_or(s, "timezone", "local"), str_or(s, "queue", "?"),
		    next, last, job);
	}
}
