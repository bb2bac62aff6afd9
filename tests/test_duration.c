/*
 * test_duration.c — durations (duration.h): the forms the contract
 * allows, every kind of bad value with its message, and the format back.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "duration.h"
#include "testutil.h"

static const struct good {
	const char *s;
	double secs;
} good[] = {
	{ "0", 0 }, { "30", 30 }, { "30s", 30 }, { "15m", 900 },
	{ "12h", 43200 }, { "7d", 604800 }, { "1.5m", 90 }, { "0.25", 0.25 },
	{ "007s", 7 }, { "0d", 0 }, { "36500d", 36500.0 * 86400 },
	{ "3153600000", 3153600000.0 },
};

START_TEST(test_good)
{
	char err[DUR_ERR_MAX] = "";
	double v = -1;

	ck_assert_msg(dur_parse(good[_i].s, &v, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_double_eq(v, good[_i].secs);
}
END_TEST

static const struct bad {
	const char *s, *msg;
} bad[] = {
	{ "7x", "bad duration \"7x\": unknown unit \"x\" (use s, m, h or d)" },
	{ "", "bad duration \"\": empty" },
	{ "-5", "negative" },
	{ "-5s", "negative" },
	{ "5sx", "junk after the unit" },
	{ "5 s", "unknown unit \" \"" },
	{ " 5", "expected a number" },
	{ "s", "expected a number" },
	{ "nan", "expected a number" },
	{ "inf", "expected a number" },
	{ "+5", "expected a number" },
	{ ".5", "expected a number" },
	{ "0x10", "unknown unit \"x\"" },
	{ "1e3", "unknown unit \"e\"" },
	{ "5M", "unknown unit \"M\"" },
	{ "36501d", "too large" },
	{ "99999999999999999999999999999999999999999999", "too large" },
};

START_TEST(test_bad)
{
	char err[DUR_ERR_MAX] = "";
	double v = 42;

	ck_assert_int_eq(dur_parse(bad[_i].s, &v, err, sizeof(err)), -EINVAL);
	ck_assert_double_eq(v, 42);
	ck_assert_msg(strstr(err, bad[_i].msg) != NULL, "\"%s\": %s",
	    bad[_i].s, err);
}
END_TEST

START_TEST(test_null_and_huge)
{
	char err[DUR_ERR_MAX], big[400];
	double v;

	ck_assert_int_eq(dur_parse(NULL, &v, err, sizeof(err)), -EINVAL);
	memset(big, '9', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(dur_parse(big, &v, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "too large"));
	/* A message longer than the buffer is cut, not overrun. */
	ck_assert_int_eq(dur_parse("7x", &v, err, 8), -EINVAL);
	ck_assert_str_eq(err, "bad dur");
}
END_TEST

static const struct fmt {
	double secs;
	const char *want;
} fmt[] = {
	{ 0, "0s" }, { 45, "45s" }, { 59.9, "59s" }, { 1.5, "1.5s" },
	{ 0.04, "0.0s" }, { 180, "3m" }, { 200, "3m20s" }, { 3600, "1h" },
	{ 3930, "1h5m" }, { 3959, "1h5m" }, { 86400, "1d" },
	{ 2 * 86400 + 3 * 3600 + 59, "2d3h" }, { 604800, "7d" },
	{ -180, "-3m" }, { -1.5, "-1.5s" }, { 1e300, "104166666666d16h" },
	{ INFINITY, "forever" }, { NAN, "?" },
};

START_TEST(test_format)
{
	char buf[32];

	dur_format(fmt[_i].secs, buf, sizeof(buf));
	ck_assert_str_eq(buf, fmt[_i].want);
}
END_TEST

/* What dur_format writes (without tenths) dur_parse reads back as at
 * most the original. */
START_TEST(test_round_trip)
{
	static const double v[] = { 1, 59, 60, 61, 3599, 3600, 86399, 86400,
		90061, 604800 };
	char buf[32], err[DUR_ERR_MAX];
	double back;
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(*v); i++) {
		dur_format(v[i], buf, sizeof(buf));
		if (strcspn(buf, "dhms") + 1 < strlen(buf))
			continue;       /* two units: not one duration */
		ck_assert_int_eq(dur_parse(buf, &back, err, sizeof(err)), 0);
		ck_assert(back <= v[i]);
	}
}
END_TEST

static Suite *
duration_suite(void)
{
	Suite *s = suite_create("duration");
	TCase *tc = tcase_create("duration");

	tcase_add_loop_test(tc, test_good, 0, sizeof(good) / sizeof(*good));
	tcase_add_loop_test(tc, test_bad, 0, sizeof(bad) / sizeof(*bad));
	tcase_add_test(tc, test_null_and_huge);
	tcase_add_loop_test(tc, test_format, 0, sizeof(fmt) / sizeof(*fmt));
	tcase_add_test(tc, test_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(duration_suite());
}
