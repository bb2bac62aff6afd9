/*
 * tz.h — civil dates, time zones through the C library, ISO-8601 times.
 *
 * Three layers, each usable alone:
 *
 *  - Civil date arithmetic (proleptic Gregorian, no zone): days since the
 *    epoch from a date and back, weekdays, month lengths.  Pure functions.
 *  - Wall time <-> instant in "the current zone" (what localtime_r and
 *    mktime use: TZ, or /etc/localtime).  A wall time inside a skipped
 *    hour (spring forward) maps to the instant right after the jump; one
 *    inside a repeated hour (fall back) maps to its first occurrence.  So
 *    the mapping never goes backwards, and each wall time has exactly one
 *    instant.
 *  - Running code in another IANA zone: tz_check validates a name against
 *    the system database (/usr/share/zoneinfo), tz_enter/tz_leave switch
 *    the process's zone for the span of a computation.
 *
 * Thread safety.  The C library keeps one zone per process, read from the
 * environment variable TZ: tz_enter changes it with setenv + tzset, which
 * every thread sees.  So tz_enter/tz_leave may only be called from the
 * loop thread, the scope must not yield (no coroutine switch inside it),
 * and no other thread may call localtime, mktime, strftime or getenv, or
 * read the environ array, meanwhile: setenv may move that array (when TZ
 * was unset) and unsetenv shifts it.  In jobd today: the exec kind copies
 * the environment on the loop thread, outside any scope, and hands its
 * own array to co_proc, so a child never sees a zone switched in; but a
 * co_proc_spawn with envp = NULL passes environ itself to a spawner
 * thread, and must not be used while schedules are computed.  Scopes do
 * not nest.  A scope is short (a cron_next call), but switching rereads
 * the zone file (~15 us): compute a schedule's next slot once per firing,
 * not in a tight loop.
 */
#ifndef JOBD_TZ_H
#define JOBD_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where the system keeps its zone files. */
#define TZ_DIR          "/usr/share/zoneinfo"
/* Longest zone name accepted (the longest in tzdata is ~32). */
#define TZ_NAME_MAX     128

/* A wall-clock time, all fields in their natural ranges: mon 1-12,
 * day 1-31, hour 0-23, min 0-59, sec 0-59. */
struct tz_wall {
	int year, mon, day, hour, min, sec;
};

/* Days from 1970-01-01 to y-m-d (negative before), any valid date. */
int64_t tz_days_from_civil(int y, int m, int d);

/* The date of a day number (the inverse of tz_days_from_civil). */
void tz_civil_from_days(int64_t days, int *y, int *m, int *d);

/* Day of the week of a day number: 0 = Sunday ... 6 = Saturday. */
int tz_weekday(int64_t days);

/* Days in month m (1-12) of year y; 0 for a bad month. */
int tz_days_in_month(int y, int m);

/* Seconds from the epoch to w read as UTC (no zone). */
int64_t tz_wall_utc(const struct tz_wall *w);

/* Is name a zone of the system database: a relative path of letters,
 * digits and "/_-+." without "." or ".." parts, naming a TZif file
 * under TZ_DIR?  0, or -EINVAL (a bad or unknown name: err says which). */
int tz_check(const char *name, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* A zone switched in by tz_enter, to be undone by tz_leave. */
struct tz_scope {
	char *saved;            /* TZ before, or NULL if it was unset */
	bool switched;
};

/* Make name (checked by tz_check) the process's zone until tz_leave;
 * NULL or "" keeps the current one (then tz_leave does nothing).  0,
 * -ENOMEM, or -EBUSY inside another scope.  See "Thread safety". */
int tz_enter(struct tz_scope *s, const char *name)
    __attribute__((warn_unused_result));

/* Restore the zone tz_enter found.  Safe on a scope that failed. */
void tz_leave(struct tz_scope *s);

/* The wall time of instant t in the current zone, and (if gmtoff is not
 * NULL) its offset east of UTC in seconds.  0, or -EOVERFLOW. */
int tz_to_wall(int64_t t, struct tz_wall *w, long *gmtoff);

/* The instant of wall time w in the current zone: in a skipped hour the
 * instant right after the jump, in a repeated hour the first one. */
int64_t tz_from_wall(const struct tz_wall *w);

/* Parse an ISO-8601 time: YYYY-MM-DD, or that with THH:MM or THH:MM:SS
 * (T, t or a space), then optionally Z or an offset +HH:MM, +HHMM, +HH
 * (or -).  Without Z or offset it is a wall time in the current zone.
 * 0 with *t, or -EINVAL with err saying what is wrong. */
int tz_parse_iso(const char *s, int64_t *t, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif /* JOBD_TZ_H */
