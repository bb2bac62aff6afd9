/*
 * backoff.c — retry delays with exponential backoff and jitter (see
 * backoff.h).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"

/* Past 2^60 every delay in seconds is far above any cap: stop doubling
 * there, so ldexp never sees a huge exponent. */
#define BACKOFF_MAX_DOUBLINGS 60

static const char *const mode_names[] = {
	[BACKOFF_EXPONENTIAL] = "exponential",
	[BACKOFF_FIXED] = "fixed",
};

int
backoff_mode_parse(const char *s, enum backoff_mode *mode)
{
	size_t i;

	for (i = 0; s != NULL && i < sizeof(mode_names) / sizeof(*mode_names);
	    i++)
		if (strcmp(s, mode_names[i]) == 0) {
			*mode = (enum backoff_mode)i;
			return 0;
		}
	return -EINVAL;
}

const char *
backoff_mode_name(enum backoff_mode mode)
{
	return mode == BACKOFF_FIXED ? "fixed" : "exponential";
}

int
backoff_check(const struct backoff *b, char *err, size_t errlen)
{
	if (!isfinite(b->delay) || b->delay <= 0) {
		snprintf(err, errlen, "retry_delay must be a number > 0");
		return -EINVAL;
	}
	if (!isfinite(b->max_delay) || b->max_delay <= 0) {
		snprintf(err, errlen, "retry_max_delay must be a number > 0");
		return -EINVAL;
	}
	if (b->mode != BACKOFF_EXPONENTIAL && b->mode != BACKOFF_FIXED) {
		snprintf(err, errlen, "retry_backoff must be \"exponential\" "
		    "or \"fixed\"");
		return -EINVAL;
	}
	return 0;
}

double
backoff_base(const struct backoff *b, int k)
{
	int doublings = k <= 1 ? 0 : k - 1;
	double d;

	if (b->mode == BACKOFF_FIXED)
		doublings = 0;
	if (doublings > BACKOFF_MAX_DOUBLINGS)
		doublings = BACKOFF_MAX_DOUBLINGS;
	d = ldexp(b->delay, doublings);
	if (!(d <= b->max_delay))       /* also NaN */
		d = b->max_delay;
	return d > 0 ? d : 0;
}

double
backoff_delay(const struct backoff *b, int k, double retry_after,
    backoff_rand_fn rnd, void *arg)
{
	double u = (rnd != NULL ? rnd : backoff_rand)(arg);
	double d;

	if (!(u >= 0))                  /* a broken source: no jitter */
		u = 1;
	if (u > 1)
		u = 1;
	d = backoff_base(b, k) * (0.5 + 0.5 * u);
	if (isfinite(retry_after) && retry_after > d)
		d = retry_after;
	if (d > b->max_delay)
		d = b->max_delay;
	return d;
}

double
backoff_rand(void *arg)
{
	(void)arg;
	return arc4random() / (double)UINT32_MAX;
}
