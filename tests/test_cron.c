/*
 * test_cron.c — cron expressions (cron.h): the syntax and its errors, the
 * next slot over a table of cases (Feb 29, day-of-month with
 * day-of-week, both DST transitions in Europe/Berlin and
 * America/New_York, year rollover, steps, names, macros), expressions
 * that never fire, cron_prev and the catch-up list.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"
#include "testutil.h"
#include "tz.h"

/* The instant of an ISO time with an explicit zone suffix. */
static int64_t
at(const char *iso)
{
	char err[128];
	int64_t t;

	ck_assert_msg(tz_parse_iso(iso, &t, err, sizeof(err)) == 0, "%s",
	    err);
	return t;
}

/* t as YYYY-MM-DDTHH:MMZ, for failure messages. */
static const char *
utc(int64_t t, char *buf, size_t len)
{
	int64_t d = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
	int y, m, dd, s = (int)(t - d * 86400);

	tz_civil_from_days(d, &y, &m, &dd);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, dd,
	    s / 3600, s / 60 % 60, s % 60);
	return buf;
}

static struct cron *
parse(const char *expr)
{
	char err[CRON_ERR_MAX];
	struct cron *c;

	ck_assert_msg(cron_parse(expr, &c, err, sizeof(err)) == 0,
	    "\"%s\": %s", expr, err);
	return c;
}

static const struct next_case {
	const char *expr, *zone, *after, *want;
} next_cases[] = {
	/* Feb 29: the next leap year, and 2100 is not one. */
	{ "0 0 29 2 *", "Europe/Berlin", "2025-01-01T00:00Z",
	    "2028-02-29T00:00+01:00" },
	{ "0 0 29 2 *", "UTC", "2096-03-01T00:00Z", "2104-02-29T00:00Z" },
	/* Both day fields restricted: either matches (Jan 2 2026 is a
	 * Friday; the 13th, a Tuesday, comes before Friday the 16th). */
	{ "0 12 13 * fri", "UTC", "2026-01-01T00:00Z", "2026-01-02T12:00Z" },
	{ "0 12 13 * fri", "UTC", "2026-01-09T13:00Z", "2026-01-13T12:00Z" },
	/* Day-of-month '*': only the weekday counts. */
	{ "0 0 * * mon", "UTC", "2026-12-07T05:00Z", "2026-12-14T00:00Z" },
	/* Vixie: a field starting with '*' makes it "both must match":
	 * odd days that are Mondays (Dec 14 is even). */
	{ "0 0 */2 * mon", "UTC", "2026-12-01T00:00Z", "2026-12-07T00:00Z" },
	{ "0 0 */2 * mon", "UTC", "2026-12-07T00:00Z", "2026-12-21T00:00Z" },
	/* Berlin, spring forward 2027-03-28 02:00 CET -> 03:00 CEST: the
	 * skipped 02:30 fires once, at the jump. */
	{ "30 2 * * *", "Europe/Berlin", "2027-03-27T12:00Z",
	    "2027-03-28T03:00+02:00" },
	{ "30 2 * * *", "Europe/Berlin", "2027-03-28T03:00+02:00",
	    "2027-03-29T02:30+02:00" },
	/* Several slots in the skipped hour are one. */
	{ "*/15 * * * *", "Europe/Berlin", "2027-03-28T01:50+01:00",
	    "2027-03-28T03:00+02:00" },
	{ "*/15 * * * *", "Europe/Berlin", "2027-03-28T03:00+02:00",
	    "2027-03-28T03:15+02:00" },
	/* Berlin, fall back 2027-10-31 03:00 CEST -> 02:00 CET: 02:30
	 * fires at its first occurrence only. */
	{ "30 2 * * *", "Europe/Berlin", "2027-10-30T12:00Z",
	    "2027-10-31T02:30+02:00" },
	{ "30 2 * * *", "Europe/Berlin", "2027-10-31T02:30+02:00",
	    "2027-11-01T02:30+01:00" },
	/* New York, spring forward 2027-03-14 02:00 EST -> 03:00 EDT. */
	{ "30 2 * * *", "America/New_York", "2027-03-13T12:00Z",
	    "2027-03-14T03:00-04:00" },
	{ "0 3 * * *", "America/New_York", "2027-03-13T12:00Z",
	    "2027-03-14T03:00-04:00" },
	/* New York, fall back 2027-11-07 02:00 EDT -> 01:00 EST. */
	{ "30 1 * * *", "America/New_York", "2027-11-06T12:00Z",
	    "2027-11-07T01:30-04:00" },
	{ "30 1 * * *", "America/New_York", "2027-11-07T01:30-04:00",
	    "2027-11-08T01:30-05:00" },
	/* From inside the repeated hour (its second pass): next is 02:00. */
	{ "*/15 * * * *", "America/New_York", "2027-11-07T01:10-05:00",
	    "2027-11-07T02:00-05:00" },
	/* Year rollover. */
	{ "0 0 1 1 *", "UTC", "2026-12-31T23:59Z", "2027-01-01T00:00Z" },
	{ "59 23 31 12 *", "UTC", "2026-12-31T23:59Z", "2027-12-31T23:59Z" },
	{ "0 0 1 1 *", "Europe/Berlin", "2026-12-31T22:30Z",
	    "2027-01-01T00:00+01:00" },
	/* Steps and lists. */
	{ "10-50/20 * * * *", "UTC", "2026-01-01T00:30Z",
	    "2026-01-01T00:50Z" },
	{ "10-50/20 * * * *", "UTC", "2026-01-01T00:50Z",
	    "2026-01-01T01:10Z" },
	{ "1,15 */6 * * *", "UTC", "2026-01-01T06:15Z", "2026-01-01T12:01Z" },
	/* Names, any case; April-December skipped in one go. */
	{ "0 9 * jan-MAR Mon-fri", "UTC", "2026-03-31T10:00Z",
	    "2027-01-01T09:00Z" },
	{ "0 0 * * 7", "UTC", "2026-12-07T05:00Z", "2026-12-13T00:00Z" },
	{ "0 0 * * 5-7", "UTC", "2026-12-07T05:00Z", "2026-12-11T00:00Z" },
	/* Macros. */
	{ "@weekly", "UTC", "2026-12-07T05:00Z", "2026-12-13T00:00Z" },
	{ "@monthly", "UTC", "2026-12-07T05:00Z", "2027-01-01T00:00Z" },
	{ "@yearly", "UTC", "2026-12-07T05:00Z", "2027-01-01T00:00Z" },
	{ "@annually", "UTC", "2027-01-01T00:00Z", "2028-01-01T00:00Z" },
	{ "@daily", "Asia/Tokyo", "2026-12-07T05:00Z",
	    "2026-12-08T00:00+09:00" },
	{ "@midnight", "UTC", "2026-12-07T00:00Z", "2026-12-08T00:00Z" },
	{ "@hourly", "Asia/Kolkata", "2026-12-07T05:00Z",
	    "2026-12-07T11:00+05:30" },
	/* Strictly after: a slot equal to after is not returned. */
	{ "* * * * *", "UTC", "2026-12-07T05:00Z", "2026-12-07T05:01Z" },
	{ "* * * * *", "UTC", "2026-12-07T05:00:30Z", "2026-12-07T05:01Z" },
};

START_TEST(test_next_table)
{
	const struct next_case *k = &next_cases[_i];
	struct cron *c = parse(k->expr);
	char b1[40], b2[40];
	int64_t slot = 0, want = at(k->want);
	int r = cron_next(c, k->zone, at(k->after), &slot);

	ck_assert_msg(r == 0 && slot == want, "\"%s\" in %s after %s: %d, "
	    "%s, expected %s", k->expr, k->zone, k->after, r,
	    utc(slot, b1, sizeof(b1)), utc(want, b2, sizeof(b2)));
	cron_free(c);
}
END_TEST

START_TEST(test_never)
{
	static const char *const never[] = { "0 0 30 2 *", "0 0 31 4,6,9,11 *",
		"0 0 31 feb *", "0 0 30-31 2 *" };
	size_t i;
	int64_t slot = 42;

	for (i = 0; i < sizeof(never) / sizeof(*never); i++) {
		struct cron *c = parse(never[i]);

		ck_assert_int_eq(cron_next(c, "UTC", at("2026-01-01T00:00Z"),
		    &slot), -ENOENT);
		ck_assert_int_eq(cron_prev(c, NULL, at("2026-01-01T00:00Z"),
		    &slot), -ENOENT);
		cron_free(c);
	}
	ck_assert_int_eq(slot, 42);
}
END_TEST

static const struct bad_case {
	const char *expr, *msg;
} bad_cases[] = {
	{ "* * * * * *", "6 fields, expected 5" },
	{ "1 2 3 4 5 6 7 8", "more than 6 fields" },
	{ "* * * *", "4 fields, expected 5" },
	{ "", "0 fields" },
	{ "   ", "0 fields" },
	{ "61 * * * *", "minute: 61 is out of range 0-59" },
	{ "* 24 * * *", "hour: 24 is out of range 0-23" },
	{ "* * 0 * *", "day-of-month: 0 is out of range 1-31" },
	{ "* * 32 * *", "day-of-month: 32 is out of range 1-31" },
	{ "* * * 13 *", "month: 13 is out of range 1-12" },
	{ "* * * * 8", "day-of-week: 8 is out of range 0-7" },
	{ "* 99999999999 * * *", "hour: 99999999999 is out of range" },
	{ "*/0 * * * *", "minute: bad step in \"*/0\"" },
	{ "*/ * * * *", "minute: bad step" },
	{ "*/x * * * *", "minute: bad step" },
	{ "* 5-1 * * *", "hour: range 5-1 is backwards" },
	{ "* * * foo *", "month: unknown name \"foo\" (use jan-dec)" },
	{ "* * * * funday", "day-of-week: unknown name \"funday\"" },
	{ "* * * * jan", "day-of-week: unknown name \"jan\"" },
	{ "mon * * * *", "minute: unknown name \"mon\" (numbers only)" },
	{ "1,,2 * * * *", "minute: empty list item" },
	{ "1, * * * *", "minute: empty list item" },
	{ "5/10 * * * *", "minute: a step needs * or a range" },
	{ "1-2-3 * * * *", "minute: unexpected \"-3\"" },
	{ "- * * * *", "minute: expected a number, got \"-\"" },
	{ "@often", "unknown \"@often\"" },
	{ "@reboot", "unknown \"@reboot\"" },
};

START_TEST(test_parse_errors)
{
	const struct bad_case *k = &bad_cases[_i];
	char err[CRON_ERR_MAX] = "";
	struct cron *c = (struct cron *)1;

	ck_assert_int_eq(cron_parse(k->expr, &c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, k->msg) != NULL, "\"%s\": \"%s\", expected "
	    "\"%s\"", k->expr, err, k->msg);
}
END_TEST

START_TEST(test_parse_limits)
{
	char err[CRON_ERR_MAX], big[CRON_EXPR_MAX + 10];
	struct cron *c;

	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "0 0 * * *", 9);
	ck_assert_int_eq(cron_parse(big, &c, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "longer than"));
	ck_assert_int_eq(cron_parse(NULL, &c, err, sizeof(err)), -EINVAL);
	/* Blanks and tabs around and between fields; names in ranges and
	 * with steps; upper case. */
	c = parse(" \t0\t0  * JAN-DEC/2 MON-FRI \t");
	cron_free(c);
	c = parse("@HOURLY");
	cron_free(c);
	c = parse("0-59/1000 * * * *");
	cron_free(c);
	cron_free(NULL);
}
END_TEST

/* Expressions that say the same thing fire at the same instants. */
START_TEST(test_equivalent)
{
	static const char *const pairs[][2] = {
		{ "@daily", "0 0 * * *" }, { "@weekly", "0 0 * * sun" },
		{ "0 0 * * 0", "0 0 * * 7" },
		{ "*/20 * * * *", "0,20,40 * * * *" },
		{ "0 0 * * mon-fri", "0 0 * * 1-5" },
		{ "0 0 1 jan,jul *", "0 0 1 1,7 *" },
		{ "0 0 * * */2", "0 0 * * 0,2,4,6" },
	};
	const char *z = "Europe/Berlin";
	int64_t t0 = at("2026-01-01T00:00Z"), a, b, ta, tb;
	size_t i;
	int n;

	for (i = 0; i < sizeof(pairs) / sizeof(*pairs); i++) {
		struct cron *x = parse(pairs[i][0]), *y = parse(pairs[i][1]);

		for (ta = tb = t0, n = 0; n < 50; n++, ta = a, tb = b) {
			ck_assert_int_eq(cron_next(x, z, ta, &a), 0);
			ck_assert_int_eq(cron_next(y, z, tb, &b), 0);
			ck_assert_msg(a == b, "%s vs %s: slot %d", pairs[i][0],
			    pairs[i][1], n);
		}
		cron_free(x);
		cron_free(y);
	}
}
END_TEST

/* NULL zone: the process's own (TZ), untouched afterwards. */
START_TEST(test_local_zone)
{
	struct cron *c = parse("0 9 * * *");
	int64_t slot;

	ck_assert_int_eq(setenv("TZ", "America/New_York", 1), 0);
	tzset();
	ck_assert_int_eq(cron_next(c, NULL, at("2026-12-07T00:00Z"), &slot),
	    0);
	ck_assert_int_eq(slot, at("2026-12-07T09:00-05:00"));
	ck_assert_int_eq(cron_next(c, "Europe/Berlin", at("2026-12-07T00:00Z"),
	    &slot), 0);
	ck_assert_int_eq(slot, at("2026-12-07T09:00+01:00"));
	ck_assert_str_eq(getenv("TZ"), "America/New_York");
	ck_assert_int_eq(cron_next(c, NULL, at("2026-12-07T00:00Z"), &slot),
	    0);
	ck_assert_int_eq(slot, at("2026-12-07T09:00-05:00"));
	cron_free(c);
}
END_TEST

START_TEST(test_prev)
{
	struct cron *c = parse("30 2 * * *");
	int64_t s;

	ck_assert_int_eq(cron_prev(c, "Europe/Berlin",
	    at("2027-03-28T12:00Z"), &s), 0);
	ck_assert_int_eq(s, at("2027-03-28T03:00+02:00"));
	/* At or before: the slot itself counts. */
	ck_assert_int_eq(cron_prev(c, "Europe/Berlin", s, &s), 0);
	ck_assert_int_eq(s, at("2027-03-28T03:00+02:00"));
	ck_assert_int_eq(cron_prev(c, "Europe/Berlin", s - 1, &s), 0);
	ck_assert_int_eq(s, at("2027-03-27T02:30+01:00"));
	/* Fall back: 02:30 twice on the clock, once as a slot. */
	ck_assert_int_eq(cron_prev(c, "Europe/Berlin",
	    at("2027-10-31T02:45+01:00"), &s), 0);
	ck_assert_int_eq(s, at("2027-10-31T02:30+02:00"));
	cron_free(c);
}
END_TEST

START_TEST(test_catch_up)
{
	struct cron *c = parse("@hourly");
	int64_t slots[CRON_CATCH_UP_MAX];
	size_t n = 99;
	bool more;

	ck_assert_int_eq(cron_catch_up(c, "UTC", at("2026-01-01T00:00Z"),
	    at("2026-01-01T05:30Z"), 100, slots, &n, &more), 0);
	ck_assert_uint_eq(n, 5);
	ck_assert(!more);
	ck_assert_int_eq(slots[0], at("2026-01-01T01:00Z"));
	ck_assert_int_eq(slots[4], at("2026-01-01T05:00Z"));
	/* latest: the newest only. */
	ck_assert_int_eq(cron_catch_up(c, "UTC", at("2026-01-01T00:00Z"),
	    at("2026-01-01T05:30Z"), 1, slots, &n, &more), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert(more);
	ck_assert_int_eq(slots[0], at("2026-01-01T05:00Z"));
	/* Nothing missed, or now before last. */
	ck_assert_int_eq(cron_catch_up(c, "UTC", at("2026-01-01T05:00Z"),
	    at("2026-01-01T05:59Z"), 100, slots, &n, NULL), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(cron_catch_up(c, "UTC", at("2026-01-02T00:00Z"),
	    at("2026-01-01T00:00Z"), 100, slots, &n, &more), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert(!more);
	/* The repeated hour in Berlin is one slot: 01:00 and 02:00 CEST,
	 * then 03:00 and 04:00 CET. */
	ck_assert_int_eq(cron_catch_up(c, "Europe/Berlin",
	    at("2027-10-30T22:00Z"), at("2027-10-31T03:00Z"), 100, slots, &n,
	    &more), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(slots[0], at("2027-10-30T23:00Z"));
	ck_assert_int_eq(slots[1], at("2027-10-31T00:00Z"));
	ck_assert_int_eq(slots[2], at("2027-10-31T02:00Z"));
	ck_assert_int_eq(slots[3], at("2027-10-31T03:00Z"));
	cron_free(c);
}
END_TEST

/* A year down with an every-minute schedule: at most 100, the newest,
 * found without walking the year. */
START_TEST(test_catch_up_bounded)
{
	struct cron *c = parse("* * * * *");
	int64_t slots[CRON_CATCH_UP_MAX + 5], now = at("2027-01-01T00:00:30Z");
	size_t n, i;
	bool more;

	ck_assert_int_eq(cron_catch_up(c, "UTC", at("2026-01-01T00:00Z"), now,
	    500, slots, &n, &more), 0);
	ck_assert_uint_eq(n, CRON_CATCH_UP_MAX);
	ck_assert(more);
	ck_assert_int_eq(slots[n - 1], at("2027-01-01T00:00Z"));
	for (i = 1; i < n; i++)
		ck_assert_int_eq(slots[i] - slots[i - 1], 60);
	cron_free(c);
}
END_TEST

/* Walking every slot of a year in two zones: strictly increasing, each
 * one a slot (cron_prev agrees), and the DST days have one fewer or the
 * same number of daily slots. */
START_TEST(test_walk_year)
{
	static const char *const zones[] = { "Europe/Berlin",
		"America/New_York", "Australia/Lord_Howe" };
	struct cron *c = parse("30 1,2 * * *");
	int64_t t, s, p, end = at("2028-01-01T00:00Z");
	size_t z;
	int n;

	for (z = 0; z < sizeof(zones) / sizeof(*zones); z++) {
		t = at("2027-01-01T00:00Z");
		for (n = 0; t < end; n++, t = s) {
			ck_assert_int_eq(cron_next(c, zones[z], t, &s), 0);
			ck_assert_int_gt(s, t);
			ck_assert_int_eq(cron_prev(c, zones[z], s, &p), 0);
			ck_assert_int_eq(p, s);
		}
		/* 365 days, two a day; a skipped 02:30 and its 03:00 jump
		 * stay two slots (01:30 before); nothing doubles. */
		ck_assert_msg(n >= 729 && n <= 731, "%s: %d", zones[z], n);
	}
	cron_free(c);
}
END_TEST

static Suite *
cron_suite(void)
{
	Suite *s = suite_create("cron");
	TCase *tc = tcase_create("cron");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_next_table, 0,
	    sizeof(next_cases) / sizeof(*next_cases));
	tcase_add_test(tc, test_never);
	tcase_add_loop_test(tc, test_parse_errors, 0,
	    sizeof(bad_cases) / sizeof(*bad_cases));
	tcase_add_test(tc, test_parse_limits);
	tcase_add_test(tc, test_equivalent);
	tcase_add_test(tc, test_local_zone);
	tcase_add_test(tc, test_prev);
	tcase_add_test(tc, test_catch_up);
	tcase_add_test(tc, test_catch_up_bounded);
	tcase_add_test(tc, test_walk_year);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(cron_suite());
}
