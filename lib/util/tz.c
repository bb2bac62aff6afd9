/*
 * tz.c — civil dates, zones through the C library, ISO-8601 (see tz.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tz.h"

#define DAY             86400

/* Howard Hinnant's days_from_civil: exact over the whole int range. */
int64_t
tz_days_from_civil(int y, int m, int d)
{
	int64_t yy = (int64_t)y - (m <= 2);
	int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoe = yy - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

void
tz_civil_from_days(int64_t days, int *y, int *m, int *d)
{
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;

	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

int
tz_weekday(int64_t days)
{
	int r = (int)((days + 4) % 7);  /* 1970-01-01 was a Thursday */

	return r < 0 ? r + 7 : r;
}

int
tz_days_in_month(int y, int m)
{
	static const int len[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	if (m < 1 || m > 12)
		return 0;
	return len[m - 1] + (m == 2 && leap);
}

int64_t
tz_wall_utc(const struct tz_wall *w)
{
	return tz_days_from_civil(w->year, w->mon, w->day) * DAY +
	    w->hour * 3600 + w->min * 60 + w->sec;
}

/* A name safe to append to TZ_DIR: no absolute path, no "." or ".."
 * part, no empty part, only the characters tzdata names use. */
static bool
name_safe(const char *name)
{
	const char *p, *part = name;
	size_t n = strlen(name);

	if (n == 0 || n > TZ_NAME_MAX)
		return false;
	for (p = name;; p++) {
		if (*p == '/' || *p == '\0') {
			size_t len = (size_t)(p - part);

			if (len == 0 || (len == 1 && part[0] == '.') ||
			    (len == 2 && part[0] == '.' && part[1] == '.'))
				return false;
			if (*p == '\0')
				return true;
			part = p + 1;
		} else if (!((*p >= 'A' && *p <= 'Z') ||
		    (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    strchr("_-+.", *p) != NULL))
			return false;
	}
}

/* Is path a regular file starting with the TZif magic? */
static bool
is_tzif(const char *path)
{
	char magic[4];
	struct stat st;
	int fd;
	bool ok;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK))
	    < 0) {
		/* tzdata makes some names symbolic links (e.g. UTC). */
		if (errno != ELOOP ||
		    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
			return false;
	}
	ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    read(fd, magic, 4) == 4 && memcmp(magic, "TZif", 4) == 0;
	close(fd);
	return ok;
}

int
tz_check(const char *name, char *err, size_t errlen)
{
	char path[sizeof(TZ_DIR) + TZ_NAME_MAX + 1];

	if (name == NULL || !name_safe(name)) {
		snprintf(err, errlen, "bad time zone name \"%.64s\" (expected "
		    "an IANA name like Europe/Berlin)", name ? name : "");
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "%s/%s", TZ_DIR, name);
	if (!is_tzif(path)) {
		snprintf(err, errlen, "unknown time zone \"%s\" (not in %s)",
		    name, TZ_DIR);
		return -EINVAL;
	}
	return 0;
}

static int tz_depth;            /* scopes open: 0 or 1 (loop thread only) */

int
tz_enter(struct tz_scope *s, const char *name)
{
	const char *old;

	s->saved = NULL;
	s->switched = false;
	if (name == NULL || *name == '\0')
		return 0;
	if (tz_depth > 0)
		return -EBUSY;
	if ((old = getenv("TZ")) != NULL && (s->saved = strdup(old)) == NULL)
		return -ENOMEM;
	if (setenv("TZ", name, 1) != 0) {
		free(s->saved);
		s->saved = NULL;
		return -ENOMEM;
	}
	tzset();
	s->switched = true;
	tz_depth++;
	return 0;
}

void
tz_leave(struct tz_scope *s)
{
	if (!s->switched)
		return;
	if (s->saved != NULL)
		(void)setenv("TZ", s->saved, 1);
	else
		(void)unsetenv("TZ");
	tzset();
	free(s->saved);
	s->saved = NULL;
	s->switched = false;
	tz_depth--;
}

int
tz_to_wall(int64_t t, struct tz_wall *w, long *gmtoff)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if ((int64_t)tt != t || localtime_r(&tt, &tm) == NULL)
		return -EOVERFLOW;
	w->year = tm.tm_year + 1900;
	w->mon = tm.tm_mon + 1;
	w->day = tm.tm_mday;
	w->hour = tm.tm_hour;
	w->min = tm.tm_min;
	w->sec = tm.tm_sec;
	if (gmtoff != NULL)
		*gmtoff = tm.tm_gmtoff;
	return 0;
}

/* The zone's offset at instant t (0 if localtime_r fails). */
static long
offset_at(int64_t t)
{
	struct tz_wall w;
	long off = 0;

	(void)tz_to_wall(t, &w, &off);
	return off;
}

/*
 * mktime's answers in a gap or an overlap depend on tm_isdst guesses, so
 * work from offsets instead.  The instant of wall time lw is lw - off for
 * an offset off in force then; the offsets a day before and a day after
 * cover every transition near lw (zones change at most once in two days).
 * Both candidates valid: an overlap, take the earlier.  Neither: a gap,
 * find the jump between them by bisection.
 */
int64_t
tz_from_wall(const struct tz_wall *w)
{
	int64_t lw = tz_wall_utc(w);
	int64_t a = lw - offset_at(lw - DAY), b = lw - offset_at(lw + DAY);
	bool a_ok = a + offset_at(a) == lw, b_ok = b + offset_at(b) == lw;
	int64_t lo, hi;
	long off_hi;

	if (a_ok && b_ok)
		return a < b ? a : b;
	if (a_ok || b_ok)
		return a_ok ? a : b;
	lo = a < b ? a : b;
	hi = a < b ? b : a;
	off_hi = offset_at(hi);
	if (offset_at(lo) == off_hi)
		return lo;              /* no single jump: best effort */
	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;

		if (offset_at(mid) == off_hi)
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}

/* Read exactly n digits at *p into *v; advance *p. */
static bool
digits(const char **p, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return true;
}

/* The zone suffix at p: "" (local), Z, +HH, +HHMM, +HH:MM.  0 and
 * *local/off, or -EINVAL. */
static int
parse_offset(const char *p, bool *local, long *off)
{
	int sign, hh, mm = 0;

	*local = *p == '\0';
	*off = 0;
	if (*local)
		return 0;
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
		return 0;
	if (*p != '+' && *p != '-')
		return -EINVAL;
	sign = *p++ == '-' ? -1 : 1;
	if (!digits(&p, 2, &hh))
		return -EINVAL;
	if (*p == ':')
		p++;
	if (*p != '\0' && !digits(&p, 2, &mm))
		return -EINVAL;
	if (*p != '\0' || hh > 23 || mm > 59)
		return -EINVAL;
	*off = sign * (hh * 3600L + mm * 60L);
	return 0;
}

/* The date and optional time at *p into w; advance *p. */
static int
parse_date_time(const char **p, struct tz_wall *w)
{
	const char *s = *p;

	memset(w, 0, sizeof(*w));
	if (!digits(&s, 4, &w->year) || *s++ != '-' ||
	    !digits(&s, 2, &w->mon) || *s++ != '-' || !digits(&s, 2, &w->day))
		return -EINVAL;
	if (*s == 'T' || *s == 't' || *s == ' ') {
		s++;
		if (!digits(&s, 2, &w->hour) || *s++ != ':' ||
		    !digits(&s, 2, &w->min))
			return -EINVAL;
		if (*s == ':' && (s++, !digits(&s, 2, &w->sec)))
			return -EINVAL;
	}
	*p = s;
	return 0;
}

static const char *
wall_range_error(const struct tz_wall *w)
{
	if (w->year < 1970)
		return "year before 1970";
	if (w->mon < 1 || w->mon > 12)
		return "month out of range 01-12";
	if (w->day < 1 || w->day > tz_days_in_month(w->year, w->mon))
		return "no such day in that month";
	if (w->hour > 23)
		return "hour out of range 00-23";
	if (w->min > 59)
		return "minute out of range 00-59";
	if (w->sec > 59)
		return "second out of range 00-59";
	return NULL;
}

int
tz_parse_iso(const char *s, int64_t *t, char *err, size_t errlen)
{
	const char *p = s, *why;
	struct tz_wall w;
	bool local;
	long off;

	if (s == NULL || parse_date_time(&p, &w) != 0 ||
	    parse_offset(p, &local, &off) != 0) {
		snprintf(err, errlen, "bad time \"%.64s\": expected "
		    "YYYY-MM-DDTHH:MM[:SS], optionally with Z or +HH:MM",
		    s ? s : "");
		return -EINVAL;
	}
	if ((why = wall_range_error(&w)) != NULL) {
		snprintf(err, errlen, "bad time \"%.64s\": %s", s, why);
		return -EINVAL;
	}
	*t = local ? tz_from_wall(&w) : tz_wall_utc(&w) - off;
	return 0;
}
