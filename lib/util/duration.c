/*
 * duration.c — parse and format durations (see duration.h).
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"

/* How much of a bad value a message repeats. */
#define DUR_ECHO_MAX    40

static const struct unit {
	char letter;
	double secs;
} units[] = {
	{ 'd', 86400 }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 },
};

static const struct unit *
unit_of(char c)
{
	size_t i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (units[i].letter == c)
			return &units[i];
	return NULL;
}

/* Length of the number at s: digits, optionally '.' and digits.  strtod
 * alone would also take spaces, signs, hex, "inf" and "nan". */
static size_t
number_len(const char *s)
{
	size_t n = strspn(s, "0123456789");

	if (n > 0 && s[n] == '.' && s[n + 1] >= '0' && s[n + 1] <= '9')
		n += 1 + strspn(s + n + 1, "0123456789");
	return n;
}

static int
bad(char *err, size_t errlen, const char *s, const char *why)
{
	snprintf(err, errlen, "bad duration \"%.*s%s\": %s", DUR_ECHO_MAX, s,
	    strlen(s) > DUR_ECHO_MAX ? "..." : "", why);
	return -EINVAL;
}

int
dur_parse(const char *s, double *secs, char *err, size_t errlen)
{
	const struct unit *u = &units[3];
	size_t n;
	double v;

	if (s == NULL || *s == '\0')
		return bad(err, errlen, "", "empty");
	if (*s == '-')
		return bad(err, errlen, s, "negative");
	if ((n = number_len(s)) == 0)
		return bad(err, errlen, s, "expected a number of seconds, or "
		    "one with s, m, h or d (30s, 15m, 12h, 7d)");
	if (s[n] != '\0') {
		if ((u = unit_of(s[n])) == NULL) {
			snprintf(err, errlen, "bad duration \"%.*s\": unknown "
			    "unit \"%c\" (use s, m, h or d)", DUR_ECHO_MAX, s,
			    s[n]);
			return -EINVAL;
		}
		if (s[n + 1] != '\0')
			return bad(err, errlen, s, "junk after the unit");
	}
	v = strtod(s, NULL) * u->secs;
	if (!isfinite(v) || v > DUR_MAX)
		return bad(err, errlen, s, "too large (at most 100 years)");
	*secs = v;
	return 0;
}

int
dur_format(double secs, char *buf, size_t len)
{
	const char *sign = secs < 0 ? "-" : "";
	double a = fabs(secs);
	long long r, q1, q2;
	size_t i;

	if (!isfinite(secs))
		return snprintf(buf, len, "%s", isnan(secs) ? "?" : "forever");
	if (a < 10 && a != floor(a))
		return snprintf(buf, len, "%s%.1fs", sign, floor(a * 10) / 10);
	r = a > 9e15 ? 9000000000000000LL : (long long)a;
	for (i = 0; i < 3; i++)
		if (r >= units[i].secs)
			break;
	q1 = r / (long long)units[i].secs;
	if (i == 3)
		return snprintf(buf, len, "%s%llds", sign, q1);
	q2 = (r % (long long)units[i].secs) / (long long)units[i + 1].secs;
	if (q2 == 0)
		return snprintf(buf, len, "%s%lld%c", sign, q1,
		    units[i].letter);
	return snprintf(buf, len, "%s%lld%c%lld%c", sign, q1, units[i].letter,
	    q2, units[i + 1].letter);
}
