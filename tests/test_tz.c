/*
 * test_tz.c — civil dates, zone names, wall time <-> instant across DST
 * transitions, zone scopes and the ISO-8601 parser (tz.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"
#include "tz.h"

/* Every day from 1600 to 2400 round-trips, and weekdays advance by one. */
START_TEST(test_civil_round_trip)
{
	int64_t d, lo = tz_days_from_civil(1600, 1, 1);
	int64_t hi = tz_days_from_civil(2400, 12, 31);
	int y, m, dd, wd = tz_weekday(lo);

	ck_assert_int_eq(tz_days_from_civil(1970, 1, 1), 0);
	ck_assert_int_eq(tz_days_from_civil(2000, 3, 1), 11017);
	ck_assert_int_eq(tz_weekday(0), 4);                     /* Thursday */
	ck_assert_int_eq(tz_weekday(-1), 3);
	ck_assert_int_eq(tz_weekday(tz_days_from_civil(2026, 12, 7)), 1);
	for (d = lo; d <= hi; d++) {
		tz_civil_from_days(d, &y, &m, &dd);
		if (tz_days_from_civil(y, m, dd) != d || dd < 1 ||
		    dd > tz_days_in_month(y, m) || tz_weekday(d) != wd)
			ck_abort_msg("day %lld: %d-%d-%d", (long long)d, y, m,
			    dd);
		wd = (wd + 1) % 7;
	}
}
END_TEST

START_TEST(test_days_in_month)
{
	ck_assert_int_eq(tz_days_in_month(2028, 2), 29);
	ck_assert_int_eq(tz_days_in_month(2100, 2), 28);
	ck_assert_int_eq(tz_days_in_month(2000, 2), 29);
	ck_assert_int_eq(tz_days_in_month(2027, 4), 30);
	ck_assert_int_eq(tz_days_in_month(2027, 12), 31);
	ck_assert_int_eq(tz_days_in_month(2027, 0), 0);
	ck_assert_int_eq(tz_days_in_month(2027, 13), 0);
}
END_TEST

START_TEST(test_check_names)
{
	static const char *const good[] = { "UTC", "Europe/Berlin",
		"America/New_York", "America/Argentina/Buenos_Aires",
		"Etc/GMT+5", "Asia/Kolkata" };
	static const char *const bad[] = { "", "/etc/passwd", "../etc/passwd",
		"Europe/../../etc/passwd", "Europe//Berlin", "./UTC",
		"Europe/Berlin/", "Europe/Berlin\n", "Mars/Olympus",
		"Europe/berlin ", "Europe", "zone.tab" };
	char err[128], longname[TZ_NAME_MAX + 2];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(*good); i++)
		ck_assert_msg(tz_check(good[i], err, sizeof(err)) == 0,
		    "%s: %s", good[i], err);
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		err[0] = '\0';
		ck_assert_msg(tz_check(bad[i], err, sizeof(err)) == -EINVAL,
		    "accepted \"%s\"", bad[i]);
		ck_assert_msg(strstr(err, "time zone") != NULL, "%s", err);
	}
	ck_assert_int_eq(tz_check(NULL, err, sizeof(err)), -EINVAL);
	memset(longname, 'A', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(tz_check(longname, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(tz_check("Mars/Olympus", err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "unknown time zone \"Mars/Olympus\" (not in "
	    "/usr/share/zoneinfo)");
}
END_TEST

static int64_t
wall_in(const char *zone, int y, int mo, int d, int h, int mi)
{
	struct tz_wall w = { y, mo, d, h, mi, 0 };
	struct tz_scope s;
	int64_t t;

	ck_assert_int_eq(tz_enter(&s, zone), 0);
	t = tz_from_wall(&w);
	tz_leave(&s);
	return t;
}

/* Instants written as UTC walls. */
static int64_t
utc(int y, int mo, int d, int h, int mi)
{
	struct tz_wall w = { y, mo, d, h, mi, 0 };

	return tz_wall_utc(&w);
}

START_TEST(test_from_wall_dst)
{
	/* Berlin: ordinary, skipped (-> the jump, 01:00Z), repeated (->
	 * first, CEST), after. */
	ck_assert_int_eq(wall_in("Europe/Berlin", 2027, 3, 28, 1, 30),
	    utc(2027, 3, 28, 0, 30));
	ck_assert_int_eq(wall_in("Europe/Berlin", 2027, 3, 28, 2, 0),
	    utc(2027, 3, 28, 1, 0));
	ck_assert_int_eq(wall_in("Europe/Berlin", 2027, 3, 28, 2, 59),
	    utc(2027, 3, 28, 1, 0));
	ck_assert_int_eq(wall_in("Europe/Berlin", 2027, 3, 28, 3, 0),
	    utc(2027, 3, 28, 1, 0));
	ck_assert_int_eq(wall_in("Europe/Berlin", 2027, 10, 31, 2, 30),
	    utc(2027, 10, 31, 0, 30));
	ck_assert_int_eq(wall_in("Europe/Berlin", 2027, 10, 31, 3, 0),
	    utc(2027, 10, 31, 2, 0));
	/* New York. */
	ck_assert_int_eq(wall_in("America/New_York", 2027, 3, 14, 2, 30),
	    utc(2027, 3, 14, 7, 0));
	ck_assert_int_eq(wall_in("America/New_York", 2027, 11, 7, 1, 30),
	    utc(2027, 11, 7, 5, 30));
	ck_assert_int_eq(wall_in("America/New_York", 2027, 11, 7, 2, 0),
	    utc(2027, 11, 7, 7, 0));
	/* Lord Howe: a half-hour shift. */
	ck_assert_int_eq(wall_in("Australia/Lord_Howe", 2027, 10, 3, 2, 15),
	    utc(2027, 10, 2, 15, 30));
	ck_assert_int_eq(wall_in("UTC", 2027, 6, 1, 12, 0),
	    utc(2027, 6, 1, 12, 0));
}
END_TEST

/* Over a year, every 7 minutes: to_wall then from_wall gives back the
 * instant, except in the repeated hour, where it gives the first one. */
START_TEST(test_wall_round_trip)
{
	struct tz_scope s;
	struct tz_wall w;
	int64_t t, back, start = utc(2027, 1, 1, 0, 0);
	int repeats = 0;

	ck_assert_int_eq(tz_enter(&s, "Europe/Berlin"), 0);
	for (t = start; t < start + 366 * 86400; t += 7 * 60) {
		ck_assert_int_eq(tz_to_wall(t, &w, NULL), 0);
		back = tz_from_wall(&w);
		if (back != t) {
			if (back != t - 3600)
				ck_abort_msg("%lld -> %lld", (long long)t,
				    (long long)back);
			repeats++;
		}
	}
	tz_leave(&s);
	ck_assert_int_gt(repeats, 0);
	ck_assert_int_le(repeats, 60 / 7 + 1);
}
END_TEST

START_TEST(test_scope)
{
	struct tz_scope s, s2;
	struct tz_wall w;
	long off;

	ck_assert_int_eq(unsetenv("TZ"), 0);
	ck_assert_int_eq(tz_enter(&s, "Asia/Tokyo"), 0);
	ck_assert_str_eq(getenv("TZ"), "Asia/Tokyo");
	ck_assert_int_eq(tz_to_wall(0, &w, &off), 0);
	ck_assert_int_eq(off, 9 * 3600);
	ck_assert_int_eq(w.hour, 9);
	ck_assert_int_eq(tz_enter(&s2, "UTC"), -EBUSY);         /* no nesting */
	tz_leave(&s2);                                  /* a failed one */
	tz_leave(&s);
	ck_assert_ptr_null(getenv("TZ"));
	/* Restores a set TZ too; NULL and "" change nothing. */
	ck_assert_int_eq(setenv("TZ", "America/New_York", 1), 0);
	ck_assert_int_eq(tz_enter(&s, "Europe/Berlin"), 0);
	tz_leave(&s);
	ck_assert_str_eq(getenv("TZ"), "America/New_York");
	ck_assert_int_eq(tz_enter(&s, NULL), 0);
	ck_assert_int_eq(tz_enter(&s2, ""), 0);
	tz_leave(&s2);
	tz_leave(&s);
	ck_assert_int_eq(tz_to_wall(0, &w, &off), 0);
	ck_assert_int_eq(off, -5 * 3600);
}
END_TEST

static const struct iso_case {
	const char *s;
	int64_t want;           /* from 1970 in UTC */
} iso_cases[] = {
	{ "2027-01-01T09:00Z", 1798794000 },
	{ "2027-01-01T09:00:30Z", 1798794030 },
	{ "2027-01-01t09:00z", 1798794000 },
	{ "2027-01-01 09:00Z", 1798794000 },
	{ "2027-01-01T10:00+01:00", 1798794000 },
	{ "2027-01-01T10:00+0100", 1798794000 },
	{ "2027-01-01T10:00+01", 1798794000 },
	{ "2027-01-01T04:00-05:00", 1798794000 },
	{ "2027-01-01T14:30+05:30", 1798794000 },
	{ "2027-01-01Z", 1798761600 },
	{ "2028-02-29T00:00Z", 1835395200 },
	{ "1970-01-01T00:00Z", 0 },
};

START_TEST(test_iso)
{
	const struct iso_case *k = &iso_cases[_i];
	char err[128] = "";
	int64_t t = -1;

	ck_assert_msg(tz_parse_iso(k->s, &t, err, sizeof(err)) == 0, "%s: %s",
	    k->s, err);
	ck_assert_int_eq(t, k->want);
}
END_TEST

START_TEST(test_iso_local)
{
	char err[128];
	int64_t t;

	ck_assert_int_eq(setenv("TZ", "Europe/Berlin", 1), 0);
	tzset();
	ck_assert_int_eq(tz_parse_iso("2027-01-01T09:00", &t, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(t, 1798790400);                /* 08:00Z */
	ck_assert_int_eq(tz_parse_iso("2027-07-01T09:00", &t, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(t, utc(2027, 7, 1, 7, 0));
	ck_assert_int_eq(tz_parse_iso("2027-01-01", &t, err, sizeof(err)), 0);
	ck_assert_int_eq(t, utc(2026, 12, 31, 23, 0));
	/* In the skipped hour: the jump. */
	ck_assert_int_eq(tz_parse_iso("2027-03-28T02:30", &t, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(t, utc(2027, 3, 28, 1, 0));
}
END_TEST

static const struct iso_bad {
	const char *s, *msg;
} iso_bad[] = {
	{ "", "expected YYYY-MM-DD" },
	{ "tomorrow", "expected YYYY-MM-DD" },
	{ "2027-1-01T09:00", "expected" },
	{ "2027-01-01T9:00", "expected" },
	{ "2027-01-01T09", "expected" },
	{ "2027-01-01T09:00:0", "expected" },
	{ "2027-01-01T09:00 ", "expected" },
	{ "2027-01-01T09:00Zjunk", "expected" },
	{ "2027-01-01T09:00+1", "expected" },
	{ "2027-01-01T09:00+24:00", "expected" },
	{ "2027-01-01T09:00+01:60", "expected" },
	{ "2027-13-01T09:00", "month out of range" },
	{ "2027-00-01T09:00", "month out of range" },
	{ "2027-02-29T09:00", "no such day" },
	{ "2027-04-31", "no such day" },
	{ "2027-01-01T24:00", "hour out of range" },
	{ "2027-01-01T23:60", "minute out of range" },
	{ "2027-01-01T23:59:60", "second out of range" },
	{ "1969-12-31T23:59Z", "year before 1970" },
};

START_TEST(test_iso_errors)
{
	const struct iso_bad *k = &iso_bad[_i];
	char err[160] = "";
	int64_t t = 7;

	ck_assert_int_eq(tz_parse_iso(k->s, &t, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(t, 7);
	ck_assert_msg(strstr(err, k->msg) != NULL && strstr(err, k->s) != NULL,
	    "\"%s\": %s", k->s, err);
	ck_assert_int_eq(tz_parse_iso(NULL, &t, err, sizeof(err)), -EINVAL);
}
END_TEST

static Suite *
tz_suite(void)
{
	Suite *s = suite_create("tz");
	TCase *tc = tcase_create("tz");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_civil_round_trip);
	tcase_add_test(tc, test_days_in_month);
	tcase_add_test(tc, test_check_names);
	tcase_add_test(tc, test_from_wall_dst);
	tcase_add_test(tc, test_wall_round_trip);
	tcase_add_test(tc, test_scope);
	tcase_add_loop_test(tc, test_iso, 0,
	    sizeof(iso_cases) / sizeof(*iso_cases));
	tcase_add_test(tc, test_iso_local);
	tcase_add_loop_test(tc, test_iso_errors, 0,
	    sizeof(iso_bad) / sizeof(*iso_bad));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(tz_suite());
}
