/*
 * duration.h — durations as the configuration and jobctl write them.
 *
 * A duration is a non-negative decimal number of seconds, optionally with
 * one unit letter: 30, 30s, 1.5m, 15m, 12h, 7d.  What 0 means ("forever"
 * for retention, "at once" for a delay) is the caller's business.
 */
#ifndef JOBD_DURATION_H
#define JOBD_DURATION_H

#include <stddef.h>

/* The longest duration accepted: 100 years, far past any retention or
 * delay anyone means, and small enough that now + it, in milliseconds,
 * fits an int64_t with room to spare. */
#define DUR_MAX         (100.0 * 365 * 86400)

/* A good size for the err buffers below. */
#define DUR_ERR_MAX     128

/* Parse s into *secs.  0, or -EINVAL with err (no FILE:LINE: the caller
 * adds where the value came from) for an empty, negative, malformed or
 * too large value, or an unknown unit. */
int dur_parse(const char *s, double *secs, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Write secs for people: the two largest units, truncated ("45s", "3m",
 * "3m20s", "1h5m", "2d3h"), tenths under 10 s ("1.5s"), a '-' before a
 * negative one.  Returns what snprintf returns. */
int dur_format(double secs, char *buf, size_t len);

#endif /* JOBD_DURATION_H */
