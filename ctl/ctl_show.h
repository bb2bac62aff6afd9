/*
 * ctl_show.h — jobctl's human-readable output: a job as "key: value"
 * lines, jobs as a table, stats as a table and counters.
 *
 * Everything here prints what jobd answered; none of it is parsed by
 * programs (they use --json).  Strings from jobd (names, errors, results)
 * are printed with control characters escaped (\n, \x1b, \u0085), so a job
 * can neither break the layout nor drive the terminal.  Fields this
 * version does not know are still shown, as JSON, after the known ones.
 */
#ifndef JOBD_CTL_SHOW_H
#define JOBD_CTL_SHOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/* A copy of s (owned by the caller) with control characters escaped: C0
 * and DEL as \n, \t, \r or \xNN, C1 (U+0080..U+009F) as \u00NN. */
char *ctl_clean(const char *s);

/* Epoch seconds t in local time, "2026-01-01T01:00:00.125+01:00" when iso,
 * else "2026-01-01 01:00:00".  Writes at most len bytes, NUL included. */
void ctl_fmt_time(double t, bool iso, char *buf, size_t len);

/* One job (a {JOB} object) as aligned "key: value" lines: times as local
 * ISO dates, durations in seconds, args and result as compact JSON.  now
 * (epoch seconds) dates the duration of a running job. */
void ctl_show_job(FILE *f, const json_t *job, double now);

/* Jobs (an array of {JOB}) as a table with a header line: id, queue,
 * kind, state, attempts, created, duration and a name/error summary.  The
 * summary is cut to fit width columns (0: never cut).  "no jobs" when the
 * array is empty. */
void ctl_show_jobs(FILE *f, const json_t *jobs, double now, int width);

/* One line counting jobs by state: "3 jobs: 2 succeeded, 1 failed". */
void ctl_show_tally(FILE *f, const json_t *jobs);

/* A stats answer: a table with one row per queue, then the other
 * counters as aligned "key: value" lines. */
void ctl_show_stats(FILE *f, const json_t *answer);

/* The schedules op's answer as a table (ctl_sched.c): name, cron, zone,
 * queue, next run (local time, and how far from now), last slot, last
 * job. */
void ctl_show_schedules(FILE *f, const json_t *answer, double now);

#endif /* JOBD_CTL_SHOW_H */
