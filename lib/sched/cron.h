/*
 * cron.h — cron expressions and the instants they fire at.
 *
 * Syntax (docs/SCHEDULES.md): five fields "minute hour day-of-month month
 * day-of-week", each a list of numbers, ranges (1-5), steps (* /10 without
 * the space, 10-50/20), month names (jan-dec) and day names (sun-sat,
 * case-insensitive; 7 is Sunday too); or one of @hourly, @daily,
 * @midnight, @weekly, @monthly, @yearly, @annually.  Day-of-month and
 * day-of-week combine as in Vixie cron: if either field starts with '*',
 * a day must match both (so only the other one counts); if both are
 * restricted, a day matching either fires.
 *
 * Slots are wall-clock times in a zone (an IANA name checked by tz_check,
 * or NULL for the daemon's local time), turned into instants by
 * tz_from_wall: a slot inside a skipped hour fires once, right after the
 * jump; a slot inside a repeated hour fires once, at its first
 * occurrence.  Several slots in one skipped hour become that one instant.
 * The search skips whole months, days and hours that cannot match, and
 * gives up after CRON_SEARCH_YEARS (an expression like "0 0 30 2 *" never
 * fires: -ENOENT, at once).
 *
 * cron_next, cron_prev and cron_catch_up switch the process's zone with
 * tz_enter for their duration: loop thread only (see tz.h).
 */
#ifndef JOBD_CRON_H
#define JOBD_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest expression accepted. */
#define CRON_EXPR_MAX   256
/* How far ahead (or back) a slot is searched for.  Feb 29 that is a given
 * weekday can be 40 years apart (2072, 2112); 100 leaves room. */
#define CRON_SEARCH_YEARS 100
/* The most slots cron_catch_up lists (the contract's catch_up = all). */
#define CRON_CATCH_UP_MAX 100
/* A good size for the err buffers below. */
#define CRON_ERR_MAX    160

struct cron;

/* Parse expr into *out (free with cron_free).  0; -EINVAL with err
 * saying which field and why (no FILE:LINE: the caller adds it); or
 * -ENOMEM. */
int cron_parse(const char *expr, struct cron **out, char *err,
    size_t errlen) __attribute__((warn_unused_result));

/* Free c.  NULL is a no-op. */
void cron_free(struct cron *c);

/* The first slot strictly after instant after (epoch s) in zone, into
 * *slot.  0; -ENOENT if there is none within CRON_SEARCH_YEARS; -EBUSY
 * inside a tz scope; -ENOMEM; -EOVERFLOW for an absurd after. */
int cron_next(const struct cron *c, const char *zone, int64_t after,
    int64_t *slot) __attribute__((warn_unused_result));

/* The last slot at or before instant before.  Same returns. */
int cron_prev(const struct cron *c, const char *zone, int64_t before,
    int64_t *slot) __attribute__((warn_unused_result));

/* The slots in (last, now], at most max (<= CRON_CATCH_UP_MAX; larger is
 * cut to it): the newest ones, oldest first, into slots[], their number
 * into *n, and into *more (if not NULL) whether older ones were left out.
 * max = 1 gives catch_up = latest.  0 or a negative errno as cron_next
 * (none in the range is 0 with *n = 0). */
int cron_catch_up(const struct cron *c, const char *zone, int64_t last,
    int64_t now, size_t max, int64_t *slots, size_t *n, bool *more)
    __attribute__((warn_unused_result));

#endif /* JOBD_CRON_H */
